// SPDX-License-Identifier: GPL-2.0

//! KUnit-only support for tests of debugfs files.
//!
//! [`read`] gives the text that a read of a file returns, by running the file's `show` callback
//! into a seq file as a read does, with a buffer that grows until the text fits. It does not go
//! through the VFS: in this kernel, debugfs's files have no `read_iter`, which `kernel_read()`
//! needs, so only user space reads them through the VFS.
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h).

use super::{CallShow, File, Record};
use crate::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings,
    error::{code::*, from_err_ptr, Result},
    ffi::c_void,
    page::PAGE_SIZE,
    seq_file::SeqFile,
};

/// Returns the text that a read of `file` from the start returns.
///
/// Fails with `ENOENT` for a file that was not created (debugfs disabled, the name taken), and
/// with the error of the `show` callback otherwise.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, debugfs::{kunit, Dir}, seq_print};
///
/// let dir = Dir::new(c_str!("rust_debugfs_kunit_doctest"))?;
/// let file = dir.read_only_file(c_str!("hello"), "hello", |s, m| {
///     seq_print!(m, "{s}, world\n");
///     Ok(())
/// })?;
/// # #[cfg(CONFIG_DEBUG_FS)]
/// # {
/// assert_eq!(&kunit::read(&file)?[..], b"hello, world\n");
/// // The same name again: the second file is not created.
/// let again = dir.read_only_file(c_str!("hello"), "again", |s, m| {
///     seq_print!(m, "{s}");
///     Ok(())
/// })?;
/// assert_eq!(kunit::read(&again).err(), Some(ENOENT));
/// assert_eq!(&kunit::read(&file)?[..], b"hello, world\n");
/// # }
/// # Ok::<(), Error>(())
/// ```
pub fn read<T: Send + Sync + 'static>(file: &File<T>) -> Result<KVec<u8>> {
    let dentry = file._entry.dentry;
    if dentry.is_null() || from_err_ptr(dentry).is_err() {
        return Err(ENOENT);
    }
    let record: *const Record<T> = &*file.record;
    // SAFETY: `record` is the `Record<T>` of `file`, valid while `file` is borrowed, and its
    // `call` is `call_show::<T>`.
    unsafe { read_record(record.cast(), file.record.call) }
}

/// Runs `call` on `record` into a seq file, with a buffer of a page first and twice as big after
/// each overflow, as `seq_read` does; returns the text.
///
/// Not generic, so that it is compiled in the kernel crate, once.
///
/// # Safety
///
/// `record` must point to a valid [`Record`] for the duration of the call, and `call` must be the
/// `call` of that record.
unsafe fn read_record(record: *const c_void, call: CallShow) -> Result<KVec<u8>> {
    let mut size = PAGE_SIZE;
    loop {
        let mut buf = KVec::<u8>::with_capacity(size, GFP_KERNEL)?;
        // SAFETY: An all-zero `struct seq_file` is a valid seq file with no buffer.
        let mut raw: bindings::seq_file = unsafe { core::mem::zeroed() };
        raw.buf = buf.spare_capacity_mut().as_mut_ptr().cast();
        raw.size = size;
        // SAFETY: `raw` and the buffer it points to outlive `m`, and only this thread uses them.
        let m = unsafe { SeqFile::from_raw(&mut raw) };
        // SAFETY: The caller guarantees that `record` is valid and that `call` is its `call`.
        unsafe { call(record, m) }?;
        if raw.count < raw.size {
            // SAFETY: The seq file wrote `raw.count` bytes, fewer than the capacity, at the start
            // of the buffer.
            unsafe { buf.set_len(raw.count) };
            return Ok(buf);
        }
        // Overflowed: the text did not fit.
        size = size.checked_mul(2).ok_or(ENOMEM)?;
    }
}
