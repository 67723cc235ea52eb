// SPDX-License-Identifier: GPL-2.0

//! Debugfs: directories and read-only text files that show a driver's state.
//!
//! A [`Dir`] is a directory in debugfs, and a [`File`] a read-only file in one, whose text a
//! `show` callback writes with [`seq_print!`] each time the file is read. The file holds the data
//! that its callback reads (any `Send + Sync + 'static` value: an [`Arc`] shared with the driver,
//! a `&'static` reference, or the data itself), so the data lives at least as long as the file
//! can be read: the type system proves it, with no lifetime for the driver to get right.
//!
//! Debugfs is for debugging: as in C, a directory or file that cannot be created (debugfs is
//! disabled, a name exists already) is not an error. The handle is then inert, and files and
//! directories created in an inert directory are inert too. Only the memory of the handles can
//! fail to be allocated.
//!
//! Dropping a [`File`] removes the file, after waiting for the `show` callbacks in progress;
//! later reads of a file that was open then fail with `EIO`. A directory is removed when its
//! [`Dir`] handle, its subdirectories and its files have all been dropped. Removing may sleep, so
//! these handles must be dropped in process context.
//!
//! C header: [`include/linux/debugfs.h`](srctree/include/linux/debugfs.h).
//!
//! [`seq_print!`]: crate::seq_print

use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings,
    error::Result,
    ffi::{c_int, c_void},
    seq_file::SeqFile,
    str::CStr,
    sync::Arc,
};
use core::{mem::MaybeUninit, ops::Deref, ptr};

#[cfg(CONFIG_KUNIT)]
pub mod kunit;

/// A debugfs dentry that this entry removes when dropped, after its files and subdirectories.
///
/// # Invariants
///
/// `dentry` is NULL, an error pointer, or a debugfs dentry that only this entry removes. When
/// `parent` is `Some`, the dentry is in the parent's directory, which is then not removed before
/// this entry.
struct Entry {
    dentry: *mut bindings::dentry,
    // Dropped after `Drop::drop` removed `dentry`: the parent directory goes after its contents.
    _parent: Option<Arc<Entry>>,
}

// SAFETY: An `Entry` only calls `debugfs_remove` on its dentry, which any thread may do.
unsafe impl Send for Entry {}

// SAFETY: A shared `Entry` gives no access to its dentry except its address.
unsafe impl Sync for Entry {}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, the dentry is NULL or an error pointer (which
        // `debugfs_remove` ignores), or a debugfs dentry that only this entry removes.
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}

/// A directory in debugfs.
///
/// The directory is removed when this handle and every [`File`] and subdirectory created in it
/// have been dropped.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, debugfs::Dir};
///
/// let dir = Dir::new(c_str!("rust_debugfs_dir_doctest"))?;
/// let sub = dir.subdir(c_str!("sub"))?;
/// // The parent stays while the subdirectory exists.
/// drop(dir);
/// let file = sub.read_only_file(c_str!("answer"), 42u32, |v, m| {
///     kernel::seq_print!(m, "{v}\n");
///     Ok(())
/// })?;
/// # #[cfg(CONFIG_DEBUG_FS)]
/// assert_eq!(&kernel::debugfs::kunit::read(&file)?[..], b"42\n");
/// # Ok::<(), Error>(())
/// ```
pub struct Dir(Arc<Entry>);

impl Dir {
    /// Creates a directory at the top of debugfs.
    ///
    /// Fails only when the handle cannot be allocated; see the [module documentation](self).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, debugfs::Dir};
    ///
    /// let dir = Dir::new(c_str!("rust_debugfs_new_doctest"))?;
    /// drop(dir);
    /// // Removed, so the name can be used again.
    /// let dir = Dir::new(c_str!("rust_debugfs_new_doctest"))?;
    /// let file = dir.read_only_file(c_str!("x"), (), |(), m| {
    ///     kernel::seq_print!(m, "x");
    ///     Ok(())
    /// })?;
    /// # #[cfg(CONFIG_DEBUG_FS)]
    /// assert_eq!(&kernel::debugfs::kunit::read(&file)?[..], b"x");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(name: &CStr) -> Result<Dir> {
        Self::create(name, None)
    }

    /// Creates a directory in this one.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, debugfs::Dir};
    ///
    /// let dir = Dir::new(c_str!("rust_debugfs_subdir_doctest"))?;
    /// let a = dir.subdir(c_str!("a"))?;
    /// let b = a.subdir(c_str!("b"))?;
    /// let file = b.read_only_file(c_str!("depth"), 2u8, |v, m| {
    ///     kernel::seq_print!(m, "{v}");
    ///     Ok(())
    /// })?;
    /// drop((dir, a, b));
    /// // The file keeps its directories.
    /// # #[cfg(CONFIG_DEBUG_FS)]
    /// assert_eq!(&kernel::debugfs::kunit::read(&file)?[..], b"2");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn subdir(&self, name: &CStr) -> Result<Dir> {
        Self::create(name, Some(self.0.clone()))
    }

    fn create(name: &CStr, parent: Option<Arc<Entry>>) -> Result<Dir> {
        let parent_dentry = parent.as_ref().map_or(ptr::null_mut(), |p| p.dentry);
        // SAFETY: `name` is a valid C string, and by the invariant of `Entry` the parent dentry
        // is NULL (the debugfs root), an error pointer (which makes the result that error) or a
        // directory that is not removed while `parent` exists.
        let dentry = unsafe { bindings::debugfs_create_dir(name.as_char_ptr(), parent_dentry) };
        // INVARIANT: The new dentry is in the directory of `parent`, and only the entry removes
        // it. If allocating fails, dropping the entry removes it again.
        let entry = Entry {
            dentry,
            _parent: parent,
        };
        Ok(Dir(Arc::new(entry, GFP_KERNEL)?))
    }

    /// Creates a read-only file in this directory, which shows `data` with `show`.
    ///
    /// Each read from the start of the file calls `show`, which writes the text with
    /// [`seq_print!`]. It may be called again for one read, when the text did not fit in the
    /// buffer, and it may run on several threads at once: it should only read `data` (with the
    /// locks that `data` needs). An error it returns is the result of the read.
    ///
    /// The file holds `data` until it is dropped, and dereferences to it.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::sync::atomic::{AtomicU32, Ordering};
    /// use kernel::{c_str, debugfs::Dir, seq_print, sync::Arc};
    ///
    /// let dir = Dir::new(c_str!("rust_debugfs_file_doctest"))?;
    /// let counter = Arc::new(AtomicU32::new(1), GFP_KERNEL)?;
    /// let file = dir.read_only_file(c_str!("counter"), counter.clone(), |c, m| {
    ///     seq_print!(m, "counter: {}\n", c.load(Ordering::Relaxed));
    ///     Ok(())
    /// })?;
    /// counter.store(7, Ordering::Relaxed);
    /// assert_eq!(file.load(Ordering::Relaxed), 7);
    /// # #[cfg(CONFIG_DEBUG_FS)]
    /// assert_eq!(&kernel::debugfs::kunit::read(&file)?[..], b"counter: 7\n");
    ///
    /// // An error of `show` is the error of the read.
    /// let failing = dir.read_only_file(c_str!("failing"), (), |(), _| Err(EDOM))?;
    /// # #[cfg(CONFIG_DEBUG_FS)]
    /// assert_eq!(kernel::debugfs::kunit::read(&failing).err(), Some(EDOM));
    ///
    /// // Text longer than a page: the seq file retries with a bigger buffer.
    /// let long = dir.read_only_file(c_str!("long"), 1000u32, |n, m| {
    ///     for i in 0..*n {
    ///         seq_print!(m, "line {i:5}\n");
    ///     }
    ///     Ok(())
    /// })?;
    /// # #[cfg(CONFIG_DEBUG_FS)]
    /// # {
    /// let text = kernel::debugfs::kunit::read(&long)?;
    /// assert_eq!(text.len(), 1000 * 11);
    /// assert_eq!(&text[text.len() - 11..], b"line   999\n");
    /// # }
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// [`seq_print!`]: crate::seq_print
    pub fn read_only_file<T: Send + Sync + 'static>(
        &self,
        name: &CStr,
        data: T,
        show: fn(&T, &SeqFile) -> Result,
    ) -> Result<File<T>> {
        let record = KBox::new(
            Record {
                call: call_show::<T>,
                show,
                data,
            },
            GFP_KERNEL,
        )?;
        let record_ptr: *const Record<T> = &*record;
        // SAFETY: `name` is a valid C string; by the invariant of `Entry`, `self.0.dentry` is an
        // error pointer (which makes the result that error) or a directory that is not removed
        // while the file's entry holds `self.0`. `record_ptr` is a `Record<T>` whose `call`
        // matches its type, valid until the file is removed (see `File`); `SHOW_FOPS` is static.
        let dentry = unsafe {
            bindings::debugfs_create_file(
                name.as_char_ptr(),
                0o444,
                self.0.dentry,
                record_ptr.cast_mut().cast(),
                &SHOW_FOPS.0,
            )
        };
        // INVARIANT: The new dentry is in this directory and only the entry removes it; it is
        // dropped before the record.
        Ok(File {
            _entry: Entry {
                dentry,
                _parent: Some(self.0.clone()),
            },
            record,
        })
    }
}

/// A read-only debugfs file, made by [`Dir::read_only_file`], which holds the data it shows.
///
/// Dropping it removes the file, waiting for the `show` callbacks in progress, then drops the
/// data. It dereferences to the data.
///
/// # Invariants
///
/// The dentry of `_entry` (if it is a dentry) has `record` as its private data; `_entry` is
/// declared first, so the file is removed before `record` is dropped.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, debugfs::{Dir, File}, seq_print};
///
/// struct Stats {
///     _dir: Dir,
///     file: File<[u32; 2]>,
/// }
///
/// let dir = Dir::new(c_str!("rust_debugfs_struct_doctest"))?;
/// let file = dir.read_only_file(c_str!("pair"), [3u32, 4], |p, m| {
///     seq_print!(m, "{} {}\n", p[0], p[1]);
///     Ok(())
/// })?;
/// let stats = Stats { _dir: dir, file };
/// assert_eq!(stats.file[1], 4);
/// # #[cfg(CONFIG_DEBUG_FS)]
/// assert_eq!(&kernel::debugfs::kunit::read(&stats.file)?[..], b"3 4\n");
/// # Ok::<(), Error>(())
/// ```
pub struct File<T: Send + Sync + 'static> {
    _entry: Entry,
    record: KBox<Record<T>>,
}

impl<T: Send + Sync + 'static> Deref for File<T> {
    type Target = T;

    /// Returns the data that the file shows.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, debugfs::Dir};
    ///
    /// let dir = Dir::new(c_str!("rust_debugfs_deref_doctest"))?;
    /// let file = dir.read_only_file(c_str!("v"), KVec::from_elem(5u8, 3, GFP_KERNEL)?, |v, m| {
    ///     kernel::seq_print!(m, "{}", v.len());
    ///     Ok(())
    /// })?;
    /// assert_eq!(&file[..], &[5, 5, 5]);
    /// # Ok::<(), Error>(())
    /// ```
    fn deref(&self) -> &T {
        &self.record.data
    }
}

/// How the `show` of a file is called: a non-generic function gets the `call` of the record that
/// is the private data of the seq file (the first field, whatever `T` is) and calls it with the
/// record.
type CallShow = unsafe fn(*const c_void, &SeqFile) -> Result;

/// What a debugfs file made by [`Dir::read_only_file`] has as its private data.
#[repr(C)]
struct Record<T> {
    /// `call_show::<T>`; the first field, at the same offset for every `T`.
    call: CallShow,
    show: fn(&T, &SeqFile) -> Result,
    data: T,
}

/// Calls the `show` of a record with its data.
///
/// # Safety
///
/// `record` must point to a valid `Record<T>`.
unsafe fn call_show<T>(record: *const c_void, m: &SeqFile) -> Result {
    // SAFETY: The caller guarantees that `record` points to a valid `Record<T>`.
    let record = unsafe { &*record.cast::<Record<T>>() };
    (record.show)(&record.data, m)
}

/// The `open` of every file made by [`Dir::read_only_file`].
///
/// # Safety
///
/// `inode` and `file` must be valid, and the private data of `inode` must be a [`Record`] that
/// stays valid while the file is open and its operations run (debugfs removes the file, waiting
/// for the operations in progress, before the record is dropped).
unsafe extern "C" fn show_open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: The caller guarantees that `inode` is valid.
    let record = unsafe { (*inode).i_private };
    // SAFETY: The caller guarantees that `file` is valid; `single_open` stores `record` as the
    // private data of a new seq file, which `single_release` frees.
    unsafe { bindings::single_open(file, Some(show_seq), record) }
}

/// The `show` of the seq files of [`show_open`].
///
/// # Safety
///
/// `m` must be a valid seq file made by [`show_open`], while its debugfs file exists.
unsafe extern "C" fn show_seq(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: The caller guarantees that `m` is a valid seq file.
    let record = unsafe { (*m).private }.cast_const();
    // SAFETY: `show_open` made the private data of `m` a `Record<T>`, valid while the debugfs
    // file exists, which begins with its `call` at the same offset for every `T`.
    let call = unsafe { *record.cast::<CallShow>() };
    // SAFETY: The seq file is filled by this thread during this call.
    let seq = unsafe { SeqFile::from_raw(m) };
    // SAFETY: `call` is `call_show::<T>` of the `Record<T>` at `record`.
    match unsafe { call(record, seq) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The `file_operations` of every file made by [`Dir::read_only_file`]: a seq file filled once
/// per read from the start (`single_open`).
///
/// It is in the kernel crate (not generic), so nothing of a module is used after the module
/// dropped its files: the `release` of a file that stays open is C code.
struct ShowFileOps(bindings::file_operations);

// SAFETY: The table is never written to, and its functions may be called from any thread.
unsafe impl Sync for ShowFileOps {}

static SHOW_FOPS: ShowFileOps = ShowFileOps(bindings::file_operations {
    open: Some(show_open),
    read: Some(bindings::seq_read),
    llseek: Some(bindings::seq_lseek),
    release: Some(bindings::single_release),
    // SAFETY: Every other field of `file_operations` may be zero (no operation, no owner).
    ..unsafe { MaybeUninit::zeroed().assume_init() }
});
