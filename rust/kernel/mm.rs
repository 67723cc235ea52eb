// SPDX-License-Identifier: GPL-2.0

//! Memory management: address spaces (`struct mm_struct`).
//!
//! C header: [`include/linux/mm_types.h`](srctree/include/linux/mm_types.h) and
//! [`include/linux/sched/mm.h`](srctree/include/linux/sched/mm.h).
//!
//! An `mm_struct` has two reference counts, and this module has one type for each:
//!
//! - [`Mm`] holds an `mm_count` reference (`mmgrab`/`mmdrop`). It keeps the `struct mm_struct`
//!   allocated, but **not** the address space: once the last `mm_users` reference is gone, the
//!   VMAs and page tables are torn down even though the struct stays around. Use it to remember
//!   "which mm" (e.g. to compare pointers) or to try to revive it with [`Mm::mmget_not_zero`].
//! - [`MmWithUser`] holds an `mm_users` reference (`mmget`/`mmput`). It keeps the address space
//!   alive, so the mmap lock can be taken and VMAs and page tables can be used. It derefs to
//!   [`Mm`].
//! - [`MmWithUserAsync`] is an [`MmWithUser`] whose last reference is dropped with
//!   `mmput_async`, so it can be dropped in atomic context.
//!
//! The current task's address space can be borrowed without touching any reference count with
//! [`with_current_mm`] (in process context). Dropping the last reference of either kind may
//! sleep. See `Documentation/rust/mm.rst` for an overview.

use crate::{
    bindings,
    types::{ARef, AlwaysRefCounted, Opaque},
};
use core::{ops::Deref, ptr::NonNull};

// `kunit_vm_mmap` is in vmlinux only when KUnit is built in.
#[cfg(CONFIG_KUNIT = "y")]
pub mod kunit;
pub mod lock;
// `mmput_async` only exists with an MMU.
#[cfg(CONFIG_MMU)]
pub mod mmput_async;
pub mod virt;
pub mod vma_iter;

pub use lock::{MmapGuard, MmapReadGuard, MmapWriteGuard, VmaReadGuard};
#[cfg(CONFIG_MMU)]
pub use mmput_async::MmWithUserAsync;
pub use vma_iter::VmaIter;

/// A reference to a `struct mm_struct` that keeps the struct allocated (an `mm_count`
/// reference), but not its address space.
///
/// `ARef<Mm>` is the owned, reference-counted form (`mmgrab`/`mmdrop`). An `Mm` cannot be used
/// to look at VMAs or page tables, because they may already have been torn down; upgrade it
/// with [`Mm::mmget_not_zero`] first.
///
/// Dropping an `ARef<Mm>` may sleep: when it gives back the last `mm_count` reference, `mmdrop`
/// frees the `mm_struct` with `__mmdrop`, which may sleep (on `PREEMPT_RT` it takes locks that
/// sleep; the scheduler defers its own last `mmdrop` there for that reason). Do not drop what
/// may be the last reference in atomic context (under a spinlock, in an RCU read-side critical
/// section, with interrupts disabled): drop it after unlocking, or keep it in an object that
/// is freed from process context.
///
/// # Invariants
///
/// The `mm_struct` is valid and its `mm_count` is non-zero for as long as the `Mm` is
/// accessible.
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit::mm_count, with_current_mm, Mm};
/// use kernel::types::ARef;
///
/// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
/// #     kernel::mm::kunit::MAP_PRIVATE)?;
/// let grabbed: ARef<Mm> = with_current_mm(|mm| mm.unwrap().mmgrab());
/// let count = mm_count(&grabbed);
/// let second = grabbed.clone();
/// assert_eq!(mm_count(&grabbed), count + 1);
/// drop(second);
/// assert_eq!(mm_count(&grabbed), count);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct Mm {
    mm: Opaque<bindings::mm_struct>,
}

// SAFETY: `mmgrab`/`mmdrop` may be called from any thread, and an `Mm` only gives access to
// operations that are safe to call from any thread.
unsafe impl Send for Mm {}
// SAFETY: All methods on `&Mm` are safe to call concurrently from several threads.
unsafe impl Sync for Mm {}

// SAFETY: By the type invariant, `mm_count` is non-zero, so `mmgrab` may take another
// reference; `mmdrop` releases one, and the struct is freed only when the last one is gone.
unsafe impl AlwaysRefCounted for Mm {
    fn inc_ref(&self) {
        // SAFETY: By the type invariant, the mm is valid and `mm_count` is non-zero.
        unsafe { bindings::mmgrab(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns one `mm_count` reference, which is given back here.
        unsafe { bindings::mmdrop(obj.cast::<bindings::mm_struct>().as_ptr()) };
    }
}

impl Mm {
    /// Creates an `&Mm` from a raw `struct mm_struct` pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `mm_struct` whose `mm_count` stays non-zero for the lifetime
    /// `'a`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{with_current_mm, Mm};
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     // SAFETY: `mm` is borrowed for the whole closure, so `mm_count` stays non-zero.
    ///     let again = unsafe { Mm::from_raw(mm.as_raw()) };
    ///     assert_eq!(again.as_raw(), mm.as_raw());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn from_raw<'a>(ptr: *const bindings::mm_struct) -> &'a Mm {
        // INVARIANT: The caller guarantees that `mm_count` stays non-zero for `'a`.
        // SAFETY: `Mm` is a transparent wrapper of `mm_struct`, and the caller guarantees the
        // type invariant for `'a`.
        unsafe { &*ptr.cast::<Mm>() }
    }

    /// Returns the raw `struct mm_struct` pointer.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::with_current_mm;
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// // SAFETY: `get_current()` returns the running task, and its `mm` field is only changed
    /// // by the task itself.
    /// let raw = unsafe { (*kernel::bindings::get_current()).mm };
    /// assert!(!raw.is_null());
    /// assert_eq!(with_current_mm(|mm| mm.map(|mm| mm.as_raw())), Some(raw));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::mm_struct {
        self.mm.get()
    }

    /// Takes a new `mm_count` reference (`mmgrab`).
    ///
    /// This is the same as `ARef::from(self)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit::mm_count, with_current_mm};
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     let before = mm_count(mm);
    ///     let grabbed = mm.mmgrab();
    ///     assert_eq!(mm_count(mm), before + 1);
    ///     assert_eq!(grabbed.as_raw(), mm.as_raw());
    ///     drop(grabbed);
    ///     assert_eq!(mm_count(mm), before);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mmgrab(&self) -> ARef<Mm> {
        ARef::from(self)
    }

    /// Tries to take an `mm_users` reference, keeping the address space alive.
    ///
    /// Returns `None` if the address space is already gone (`mm_users` dropped to zero), as
    /// happens once the owning process has exited.
    ///
    /// # Examples
    ///
    /// A dead mm cannot be revived:
    ///
    /// ```
    /// use kernel::mm::{kunit::mm_users, Mm, MmWithUser};
    /// use kernel::types::ARef;
    /// use core::ptr::NonNull;
    ///
    /// // SAFETY: `mm_alloc` has no preconditions.
    /// let raw = NonNull::new(unsafe { kernel::bindings::mm_alloc() }).ok_or(ENOMEM)?;
    /// // SAFETY: `mm_alloc` returned an mm with `mm_users == 1` and `mm_count == 1`; the
    /// // `mm_users` reference is handed over to the `ARef` (the `mm_count` one is owned by
    /// // the users together, as in C).
    /// let user: ARef<MmWithUser> = unsafe { ARef::from_raw(raw.cast()) };
    /// let mm: ARef<Mm> = user.mmgrab();
    ///
    /// let another = mm.mmget_not_zero().expect("the mm is alive");
    /// assert_eq!(mm_users(&mm), 2);
    /// drop(another);
    ///
    /// drop(user);
    /// assert_eq!(mm_users(&mm), 0);
    /// assert!(mm.mmget_not_zero().is_none());
    /// drop(mm);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mmget_not_zero(&self) -> Option<ARef<MmWithUser>> {
        // SAFETY: By the type invariant, the mm is valid.
        if unsafe { bindings::mmget_not_zero(self.as_raw()) } {
            // INVARIANT: `mmget_not_zero` succeeded, so `mm_users` is non-zero until the
            // reference we now own is given back.
            // SAFETY: We own one `mm_users` reference, which is handed over to the `ARef`.
            Some(unsafe { ARef::from_raw(NonNull::from(self).cast()) })
        } else {
            None
        }
    }
}

/// A reference to a `struct mm_struct` whose address space is alive (an `mm_users` reference).
///
/// `ARef<MmWithUser>` is the owned, reference-counted form (`mmget`/`mmput`). While it exists,
/// the VMAs and page tables of the mm are not torn down, so the mmap lock can be taken to look
/// at them. It derefs to [`Mm`].
///
/// The last `mmput` may sleep (it tears the address space down). Use [`MmWithUserAsync`] if the
/// reference may be dropped in atomic context.
///
/// # Invariants
///
/// The `mm_struct` is valid and its `mm_users` is non-zero for as long as the `MmWithUser` is
/// accessible.
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit::mm_users, with_current_mm, MmWithUser};
/// use kernel::types::ARef;
///
/// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
/// #     kernel::mm::kunit::MAP_PRIVATE)?;
/// let user: ARef<MmWithUser> = with_current_mm(|mm| mm.unwrap().mmget());
/// let users = mm_users(&user);
/// let second = user.clone();
/// assert_eq!(mm_users(&user), users + 1);
/// drop(second);
/// assert_eq!(mm_users(&user), users);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct MmWithUser {
    mm: Mm,
}

// SAFETY: `mmget`/`mmput` may be called from any thread, and an `MmWithUser` only gives access
// to operations that are safe to call from any thread.
unsafe impl Send for MmWithUser {}
// SAFETY: All methods on `&MmWithUser` are safe to call concurrently from several threads.
unsafe impl Sync for MmWithUser {}

// SAFETY: By the type invariant, `mm_users` is non-zero, so `mmget` may take another
// reference; `mmput` releases one, and the address space is torn down only when the last one
// is gone.
unsafe impl AlwaysRefCounted for MmWithUser {
    fn inc_ref(&self) {
        // SAFETY: By the type invariant, the mm is valid and `mm_users` is non-zero.
        unsafe { bindings::mmget(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns one `mm_users` reference, which is given back here.
        unsafe { bindings::mmput(obj.cast::<bindings::mm_struct>().as_ptr()) };
    }
}

impl Deref for MmWithUser {
    type Target = Mm;

    #[inline]
    fn deref(&self) -> &Mm {
        &self.mm
    }
}

impl MmWithUser {
    /// Creates an `&MmWithUser` from a raw `struct mm_struct` pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `mm_struct` whose `mm_users` stays non-zero for the lifetime
    /// `'a`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{with_current_mm, MmWithUser};
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     // SAFETY: `mm` is borrowed for the whole closure, so `mm_users` stays non-zero.
    ///     let again = unsafe { MmWithUser::from_raw(mm.as_raw()) };
    ///     assert_eq!(again.as_raw(), mm.as_raw());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn from_raw<'a>(ptr: *const bindings::mm_struct) -> &'a MmWithUser {
        // INVARIANT: The caller guarantees that `mm_users` stays non-zero for `'a`.
        // SAFETY: `MmWithUser` is a transparent wrapper of `mm_struct`, and the caller
        // guarantees the type invariant for `'a`.
        unsafe { &*ptr.cast::<MmWithUser>() }
    }

    /// Takes a new `mm_users` reference (`mmget`).
    ///
    /// This is the same as `ARef::from(self)`. A driver that wants to touch the memory of
    /// another process later (e.g. from a workqueue or another process's syscall) must keep such
    /// a reference: without it, the address space may be torn down at any time.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit::mm_users, with_current_mm};
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// let user = with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     let before = mm_users(mm);
    ///     let user = mm.mmget();
    ///     assert_eq!(mm_users(mm), before + 1);
    ///     user
    /// });
    /// // The reference outlives the borrow of the current mm.
    /// assert!(user.mmap_read_trylock().is_some());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mmget(&self) -> ARef<MmWithUser> {
        ARef::from(self)
    }
}

/// Calls `f` with the address space of the current task, borrowed without touching any
/// reference count.
///
/// `f` gets `None` if the current task has no address space (a kernel thread that has not
/// adopted one with `kthread_use_mm`).
///
/// Call it from process context only (a system call, a file operation, a work item of a kernel
/// thread that adopted an mm). In interrupt context, the current task is whichever task was
/// interrupted: its address space has nothing to do with the work at hand, and `f` could not
/// take the mmap lock anyway, since that sleeps.
///
/// No reference count is needed: a task's `mm` holds an `mm_users` reference, and the pointer
/// is only changed by the task itself (`exec`, `exit`, `kthread_use_mm`, `kthread_unuse_mm`),
/// which cannot happen while it is running `f`. For a kernel thread that adopted an mm with
/// `kthread_use_mm`, the caller of `kthread_use_mm` must keep an `mm_users` reference until
/// `kthread_unuse_mm`. Those C functions are only reachable through `unsafe` code, which must
/// not call them from inside `f`. The borrow is bounded by the closure, so it cannot be kept
/// after `f` returns (e.g. stored in a struct or used from another task later): take a
/// reference with [`Mm::mmgrab`] or [`MmWithUser::mmget`] for that.
///
/// Later upstream kernels spell this `current!().mm()`; see
/// `Documentation/rust/upstream-compat.rst` for why this series keeps a closure on 6.12.
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit::mm_users, with_current_mm};
///
/// let addr = kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
///     kernel::mm::kunit::MAP_PRIVATE)?;
/// let found = with_current_mm(|mm| {
///     let mm = mm.expect("kunit_vm_mmap gave the test thread an mm");
///     let users = mm_users(mm);
///     let guard = mm.mmap_read_lock();
///     let vma = guard.vma_lookup(addr).expect("the mapping exists");
///     assert_eq!(vma.mm().as_raw(), mm.as_raw());
///     // Borrowing took no reference.
///     assert_eq!(mm_users(mm), users);
///     vma.start()
/// });
/// assert_eq!(found, addr);
/// # Ok::<(), Error>(())
/// ```
pub fn with_current_mm<R>(f: impl FnOnce(Option<&MmWithUser>) -> R) -> R {
    // SAFETY: `get_current` returns the running task, which stays valid while it runs; its
    // `mm` field is only written by the task itself.
    let mm = unsafe { (*bindings::get_current()).mm };
    if mm.is_null() {
        return f(None);
    }
    // SAFETY: The current task's `mm` is valid and has a non-zero `mm_users` (see above) until
    // the task changes it, which it cannot do while running `f`; the higher-ranked lifetime of
    // `f`'s argument keeps the borrow inside this call.
    f(Some(unsafe { MmWithUser::from_raw(mm) }))
}
