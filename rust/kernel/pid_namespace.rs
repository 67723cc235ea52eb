// SPDX-License-Identifier: GPL-2.0

//! Pid namespaces.
//!
//! A task has one pid (and one thread group id) in each pid namespace that it is visible in: the
//! namespace it was created in and each ancestor of it. Ids told to user space must be those of
//! the namespace of the task that reads them.
//!
//! C headers: [`include/linux/pid_namespace.h`](srctree/include/linux/pid_namespace.h) and
//! [`include/linux/pid.h`](srctree/include/linux/pid.h).

use crate::{
    bindings,
    types::{AlwaysRefCounted, Opaque},
};
use core::ptr::NonNull;

/// Wraps the kernel's `struct pid_namespace`.
///
/// # Invariants
///
/// Instances are valid pid namespaces created by the C portion of the kernel, and always
/// reference counted: a call to `get_pid_ns` keeps them alive until the matching call to
/// `put_pid_ns`.
///
/// # Examples
///
/// ```
/// use kernel::{pid_namespace::PidNamespace, types::ARef};
///
/// let ns: ARef<PidNamespace> = current!().get_pid_ns().ok_or(ESRCH)?;
/// let task = current!();
/// assert_eq!(task.tgid_nr_ns(Some(&ns)), task.tgid_nr_ns(None));
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct PidNamespace(Opaque<bindings::pid_namespace>);

// SAFETY: A `PidNamespace` is only reached through a reference or an `ARef`, and its reference
// count may be dropped from any thread.
unsafe impl Send for PidNamespace {}

// SAFETY: The methods of `PidNamespace` only read fields that do not change after creation, or
// call C functions that synchronise themselves, so references may be used from several threads
// at once.
unsafe impl Sync for PidNamespace {}

impl PidNamespace {
    /// Creates a reference to a [`PidNamespace`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// The caller must ensure that `ptr` is valid and remains valid for the lifetime of the
    /// returned [`PidNamespace`] reference.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pid_namespace::PidNamespace;
    ///
    /// let ns = current!().get_pid_ns().ok_or(ESRCH)?;
    /// // SAFETY: `ns` keeps the namespace alive while `borrowed` is used.
    /// let borrowed = unsafe { PidNamespace::from_ptr(ns.as_ptr()) };
    /// assert!(core::ptr::eq(borrowed, &*ns));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub unsafe fn from_ptr<'a>(ptr: *const bindings::pid_namespace) -> &'a PidNamespace {
        // SAFETY: The safety requirements guarantee the validity of the dereference, while the
        // `PidNamespace` type being transparent makes the cast ok.
        unsafe { &*ptr.cast() }
    }

    /// Returns a raw pointer to the `struct pid_namespace`.
    ///
    /// # Examples
    ///
    /// ```
    /// let ns = current!().get_pid_ns().ok_or(ESRCH)?;
    /// assert!(!ns.as_ptr().is_null());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::pid_namespace {
        self.0.get()
    }
}

// SAFETY: The type invariants guarantee that `PidNamespace` is always reference counted.
unsafe impl AlwaysRefCounted for PidNamespace {
    #[inline]
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference means that the reference count is nonzero.
        unsafe { bindings::get_pid_ns(self.as_ptr()) };
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<PidNamespace>) {
        // SAFETY: The safety requirements guarantee that the reference count is nonzero. The
        // `PidNamespace` type being transparent makes the cast ok.
        unsafe { bindings::put_pid_ns(obj.cast().as_ptr()) };
    }
}
