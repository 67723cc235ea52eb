// SPDX-License-Identifier: GPL-2.0

//! Seq files: text that a file shows, written piece by piece with [`seq_print!`].
//!
//! A seq file is the buffer behind a read-only text file (in debugfs, procfs, ...): the `show`
//! callback of the file writes into it each time the file is read from the start. When the text
//! does not fit, the C code throws it away and calls `show` again with a bigger buffer, so a
//! `show` callback must write the same text when called again and have no other effect.
//!
//! C header: [`include/linux/seq_file.h`](srctree/include/linux/seq_file.h).
//!
//! [`seq_print!`]: crate::seq_print

use crate::{bindings, c_str, types::Opaque};
use core::{fmt, marker::PhantomData};

/// A borrowed `struct seq_file`, the buffer that a `show` callback writes into.
///
/// Used through [`seq_print!`], in the `show` callback of a file (such as a file of the
/// `debugfs` module).
///
/// # Invariants
///
/// `inner` is a valid `struct seq_file` that the current thread may write to while the reference
/// exists: a seq file is filled by one thread at a time, so `SeqFile` is neither `Send` nor
/// `Sync`.
///
/// # Examples
///
/// ```
/// use kernel::{seq_file::SeqFile, seq_print};
///
/// // A `show` callback, here called on a seq file made by hand.
/// fn show(value: &u32, m: &SeqFile) -> Result {
///     seq_print!(m, "value: {}\n", value);
///     Ok(())
/// }
///
/// let mut buf = [0u8; 32];
/// // SAFETY: An all-zero `struct seq_file` is a valid seq file with no buffer.
/// let mut raw: kernel::bindings::seq_file = unsafe { core::mem::zeroed() };
/// raw.buf = buf.as_mut_ptr().cast();
/// raw.size = buf.len();
/// // SAFETY: `raw` and the buffer it points to outlive the reference, and only this thread
/// // uses them.
/// show(&42, unsafe { SeqFile::from_raw(&mut raw) })?;
/// assert_eq!(&buf[..raw.count], b"value: 42\n");
/// # Ok::<(), Error>(())
/// ```
///
/// [`seq_print!`]: crate::seq_print
#[repr(transparent)]
pub struct SeqFile {
    inner: Opaque<bindings::seq_file>,
    _not_send_sync: PhantomData<*mut ()>,
}

impl SeqFile {
    /// Creates a [`SeqFile`] reference from a pointer to a `struct seq_file`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct seq_file` that only the current thread writes to, for
    /// the lifetime `'a`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, seq_file::SeqFile, seq_print};
    ///
    /// let mut buf = [0u8; 16];
    /// // SAFETY: An all-zero `struct seq_file` is a valid seq file with no buffer.
    /// let mut raw: bindings::seq_file = unsafe { core::mem::zeroed() };
    /// raw.buf = buf.as_mut_ptr().cast();
    /// raw.size = buf.len();
    /// // SAFETY: `raw` and the buffer it points to outlive `m`, and only this thread uses them.
    /// let m = unsafe { SeqFile::from_raw(&mut raw) };
    /// seq_print!(m, "{}-{}", 1, "two");
    /// assert_eq!(raw.count, 5);
    /// assert_eq!(&buf[..5], b"1-two");
    /// ```
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::seq_file) -> &'a SeqFile {
        // INVARIANT: The safety requirements give the invariant for `'a`.
        // SAFETY: The safety requirements guarantee that the pointer is valid for `'a`, and
        // `SeqFile` is a transparent wrapper of `struct seq_file`.
        unsafe { &*ptr.cast() }
    }

    /// Writes formatted text to the seq file; [`seq_print!`] calls it.
    ///
    /// Text that does not fit makes the seq file overflow, after which it takes no more text; the
    /// C code then calls the `show` callback again with a bigger buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, seq_file::SeqFile};
    ///
    /// let mut buf = [0u8; 4];
    /// // SAFETY: An all-zero `struct seq_file` is a valid seq file with no buffer.
    /// let mut raw: bindings::seq_file = unsafe { core::mem::zeroed() };
    /// raw.buf = buf.as_mut_ptr().cast();
    /// raw.size = buf.len();
    /// // SAFETY: `raw` and the buffer it points to outlive `m`, and only this thread uses them.
    /// let m = unsafe { SeqFile::from_raw(&mut raw) };
    /// m.call_printf(format_args!("{}", 123456));
    /// // Overflowed: the count is the size of the buffer, which tells the C code to retry.
    /// assert_eq!(raw.count, raw.size);
    /// ```
    ///
    /// [`seq_print!`]: crate::seq_print
    #[inline]
    pub fn call_printf(&self, args: fmt::Arguments<'_>) {
        // SAFETY: By the type invariant, `self.inner` is a valid seq file that this thread may
        // write to. `%pA` takes a pointer to a `fmt::Arguments`, which is valid for the call.
        unsafe {
            bindings::seq_printf(
                self.inner.get(),
                c_str!("%pA").as_char_ptr(),
                &args as *const fmt::Arguments<'_> as *const crate::ffi::c_void,
            )
        };
    }
}

/// Writes formatted text to a [`SeqFile`], with the syntax of [`format_args!`].
///
/// # Examples
///
/// ```
/// use kernel::{seq_file::SeqFile, seq_print};
///
/// fn show(names: &[&str], m: &SeqFile) {
///     for (i, name) in names.iter().enumerate() {
///         seq_print!(m, "{i}: {name}\n");
///     }
/// }
/// # let mut buf = [0u8; 32];
/// # // SAFETY: An all-zero `struct seq_file` is a valid seq file with no buffer.
/// # let mut raw: kernel::bindings::seq_file = unsafe { core::mem::zeroed() };
/// # raw.buf = buf.as_mut_ptr().cast();
/// # raw.size = buf.len();
/// # // SAFETY: `raw` and the buffer it points to outlive the reference.
/// # show(&["a", "bc"], unsafe { SeqFile::from_raw(&mut raw) });
/// # assert_eq!(&buf[..raw.count], b"0: a\n1: bc\n");
/// ```
///
/// [`SeqFile`]: crate::seq_file::SeqFile
#[macro_export]
macro_rules! seq_print {
    ($m:expr, $($arg:tt)+) => (
        $crate::seq_file::SeqFile::call_printf($m, ::core::format_args!($($arg)+))
    );
}
