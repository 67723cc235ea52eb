// SPDX-License-Identifier: GPL-2.0

//! Guards for the locks that protect the VMAs of an address space.
//!
//! C header: [`include/linux/mmap_lock.h`](srctree/include/linux/mmap_lock.h).
//!
//! - [`MmapReadGuard`] (an [`MmapGuard`] in mode [`Read`]): the mmap lock held for reading.
//!   VMAs can be looked up and read, and pages can be inserted into or zapped from them; the
//!   VMA tree cannot change.
//! - [`MmapWriteGuard`] (an [`MmapGuard`] in mode [`Write`]): the mmap lock held for writing.
//!   Everything the read lock allows, and nobody else can look at the VMAs.
//! - [`VmaReadGuard`]: the read lock of a single VMA (`CONFIG_PER_VMA_LOCK`), taken without
//!   the mmap lock. Only that VMA can be used.
//!
//! All guards release their lock when dropped and are not [`Send`]: the locks must be released
//! by the task that took them.

use super::{virt::VmaRef, MmWithUser, VmaIter};
use crate::bindings;
use core::marker::PhantomData;

impl MmWithUser {
    /// Takes the mmap lock for reading, sleeping until it is available.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::with_current_mm;
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     let guard = mm.mmap_read_lock();
    ///     // Other readers may come in, writers may not.
    ///     assert!(mm.mmap_read_trylock().is_some());
    ///     drop(guard);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mmap_read_lock(&self) -> MmapReadGuard<'_> {
        // SAFETY: By the type invariant, the mm is valid.
        unsafe { bindings::mmap_read_lock(self.as_raw()) };
        // SAFETY: We just took the mmap lock for reading.
        unsafe { MmapGuard::new(self) }
    }

    /// Tries to take the mmap lock for reading without sleeping.
    ///
    /// Returns `None` if the lock is contended (e.g. held for writing).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::with_current_mm;
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     let writer = mm.mmap_write_lock();
    ///     assert!(mm.mmap_read_trylock().is_none());
    ///     drop(writer);
    ///     assert!(mm.mmap_read_trylock().is_some());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mmap_read_trylock(&self) -> Option<MmapReadGuard<'_>> {
        // SAFETY: By the type invariant, the mm is valid.
        if unsafe { bindings::mmap_read_trylock(self.as_raw()) } {
            // SAFETY: We just took the mmap lock for reading.
            Some(unsafe { MmapGuard::new(self) })
        } else {
            None
        }
    }

    /// Takes the mmap lock for writing, sleeping until it is available.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::with_current_mm;
    ///
    /// let addr = kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    ///     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     let guard = mm.mmap_write_lock();
    ///     assert_eq!(guard.vma_lookup(addr).map(|vma| vma.start()), Some(addr));
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mmap_write_lock(&self) -> MmapWriteGuard<'_> {
        // SAFETY: By the type invariant, the mm is valid.
        unsafe { bindings::mmap_write_lock(self.as_raw()) };
        // SAFETY: We just took the mmap lock for writing.
        unsafe { MmapGuard::new(self) }
    }
}

/// How the mmap lock is held by an [`MmapGuard`]: [`Read`] or [`Write`].
///
/// The mode only decides how the lock is released; what a guard allows is the same for both
/// modes and implemented once, on [`MmapGuard`].
///
/// This trait is sealed: only [`Read`] and [`Write`] implement it.
///
/// # Examples
///
/// ```
/// use kernel::mm::lock::{MmapGuard, MmapLockMode, Read, Write};
///
/// // Code that only looks at VMAs takes a guard of either mode.
/// fn is_mapped<M: MmapLockMode>(guard: &MmapGuard<'_, M>, addr: usize) -> bool {
///     guard.vma_lookup(addr).is_some()
/// }
///
/// let addr = kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
///     kernel::mm::kunit::MAP_PRIVATE)?;
/// kernel::mm::with_current_mm(|mm| {
///     let mm = mm.unwrap();
///     let read: MmapGuard<'_, Read> = mm.mmap_read_lock();
///     assert!(is_mapped(&read, addr));
///     assert!(!is_mapped(&read, 0));
///     drop(read);
///     let write: MmapGuard<'_, Write> = mm.mmap_write_lock();
///     assert!(is_mapped(&write, addr));
/// });
/// # Ok::<(), Error>(())
/// ```
pub trait MmapLockMode: private::Sealed {
    /// Releases the mmap lock of `mm`, held in this mode.
    ///
    /// # Safety
    ///
    /// The caller must hold the mmap lock of `mm` in this mode, and must not use the lock
    /// afterwards.
    #[doc(hidden)]
    unsafe fn unlock(mm: &MmWithUser);
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Read {}
    impl Sealed for super::Write {}
}

/// The mmap lock is held for reading: others may read it too, nobody may write it.
///
/// # Examples
///
/// ```
/// use kernel::mm::{lock::Read, MmapGuard, MmapReadGuard};
///
/// fn takes(_: MmapGuard<'_, Read>) {}
/// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
/// #     kernel::mm::kunit::MAP_PRIVATE)?;
/// kernel::mm::with_current_mm(|mm| {
///     let guard: MmapReadGuard<'_> = mm.unwrap().mmap_read_lock();
///     takes(guard);
/// });
/// # Ok::<(), Error>(())
/// ```
pub enum Read {}

/// The mmap lock is held for writing: nobody else holds it.
///
/// # Examples
///
/// ```
/// use kernel::mm::{lock::Write, MmapGuard, MmapWriteGuard};
///
/// fn takes(_: MmapGuard<'_, Write>) {}
/// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
/// #     kernel::mm::kunit::MAP_PRIVATE)?;
/// kernel::mm::with_current_mm(|mm| {
///     let guard: MmapWriteGuard<'_> = mm.unwrap().mmap_write_lock();
///     takes(guard);
/// });
/// # Ok::<(), Error>(())
/// ```
pub enum Write {}

impl MmapLockMode for Read {
    #[inline]
    unsafe fn unlock(mm: &MmWithUser) {
        // SAFETY: The caller holds the mmap lock of `mm` for reading.
        unsafe { bindings::mmap_read_unlock(mm.as_raw()) };
    }
}

impl MmapLockMode for Write {
    #[inline]
    unsafe fn unlock(mm: &MmWithUser) {
        // SAFETY: The caller holds the mmap lock of `mm` for writing.
        unsafe { bindings::mmap_write_unlock(mm.as_raw()) };
    }
}

/// The mmap lock of an mm, held for reading.
///
/// While it is held, the set of VMAs of the mm cannot change, so VMAs can be looked up and
/// used (see [`VmaRef`]). The lock is released when the guard is dropped.
///
/// # Examples
///
/// ```
/// use kernel::mm::with_current_mm;
///
/// let addr = kernel::mm::kunit::vm_mmap(None, 3 * 4096, kernel::mm::kunit::PROT_READ,
///     kernel::mm::kunit::MAP_PRIVATE)?;
/// with_current_mm(|mm| {
///     let guard = mm.unwrap().mmap_read_lock();
///     let vma = guard.vma_lookup(addr + 4096).expect("inside the mapping");
///     assert_eq!((vma.start(), vma.end()), (addr, addr + 3 * 4096));
/// });
/// # Ok::<(), Error>(())
/// ```
pub type MmapReadGuard<'a> = MmapGuard<'a, Read>;

/// The mmap lock of an mm, held for writing.
///
/// Nobody else can look at or change the VMAs of the mm while it is held. The lock is released
/// when the guard is dropped.
///
/// # Examples
///
/// ```
/// use kernel::mm::with_current_mm;
///
/// let addr = kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
///     kernel::mm::kunit::MAP_PRIVATE)?;
/// with_current_mm(|mm| {
///     let mm = mm.unwrap();
///     let guard = mm.mmap_write_lock();
///     assert!(guard.vmas().any(|vma| vma.start() == addr));
///     assert!(mm.mmap_read_trylock().is_none());
/// });
/// # Ok::<(), Error>(())
/// ```
pub type MmapWriteGuard<'a> = MmapGuard<'a, Write>;

/// The mmap lock of an mm, held in mode `M` ([`Read`] or [`Write`]).
///
/// Usually named by its aliases [`MmapReadGuard`] and [`MmapWriteGuard`]. Whatever the mode,
/// the set of VMAs cannot change while the guard lives, so both modes allow the same lookups;
/// the lock is released in its mode when the guard is dropped.
///
/// # Invariants
///
/// The mmap lock of `mm` is held in mode `M` by the task owning the guard.
///
/// # Examples
///
/// ```
/// use kernel::mm::with_current_mm;
///
/// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
/// #     kernel::mm::kunit::MAP_PRIVATE)?;
/// with_current_mm(|mm| {
///     let mm = mm.unwrap();
///     let reader = mm.mmap_read_lock();
///     // Readers share the lock.
///     assert!(mm.mmap_read_trylock().is_some());
///     // Dropping the guard releases the lock: a writer gets it.
///     drop(reader);
///     let writer = mm.mmap_write_lock();
///     assert!(mm.mmap_read_trylock().is_none());
///     drop(writer);
///     assert!(mm.mmap_read_trylock().is_some());
/// });
/// # Ok::<(), Error>(())
/// ```
pub struct MmapGuard<'a, M: MmapLockMode> {
    mm: &'a MmWithUser,
    _mode: PhantomData<M>,
    /// The lock must be released by the task that took it.
    _not_send: PhantomData<*mut ()>,
}

impl<'a, M: MmapLockMode> MmapGuard<'a, M> {
    /// Creates the guard of a lock the caller took.
    ///
    /// # Safety
    ///
    /// The caller must hold the mmap lock of `mm` in mode `M`, and hands its release over to
    /// the guard.
    #[inline]
    unsafe fn new(mm: &'a MmWithUser) -> Self {
        // INVARIANT: The caller holds the mmap lock of `mm` in mode `M`.
        Self {
            mm,
            _mode: PhantomData,
            _not_send: PhantomData,
        }
    }

    /// Returns the VMA containing `addr`, or `None` if `addr` is not mapped.
    ///
    /// The VMA can be used for as long as the guard is held.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::with_current_mm;
    ///
    /// let addr = kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    ///     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     let guard = mm.mmap_read_lock();
    ///     assert_eq!(guard.vma_lookup(addr).map(|vma| vma.start()), Some(addr));
    ///     // Page zero is never mapped.
    ///     assert!(guard.vma_lookup(0).is_none());
    ///     drop(guard);
    ///     let guard = mm.mmap_write_lock();
    ///     assert_eq!(guard.vma_lookup(addr).map(|vma| vma.end()), Some(addr + 4096));
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn vma_lookup(&self, addr: usize) -> Option<&VmaRef> {
        // SAFETY: By the type invariant, the mm is valid and its mmap lock is held.
        let vma = unsafe { bindings::vma_lookup(self.mm.as_raw(), addr) };
        if vma.is_null() {
            None
        } else {
            // SAFETY: `vma` is a VMA of the mm, which cannot be freed or changed while its
            // mmap lock is held, which it is for as long as `self` is borrowed (type
            // invariant).
            Some(unsafe { VmaRef::from_raw(vma) })
        }
    }

    /// Returns an iterator over the VMAs of the mm, in address order.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::with_current_mm;
    ///
    /// let a = kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    ///     kernel::mm::kunit::MAP_PRIVATE)?;
    /// let b = kernel::mm::kunit::vm_mmap(None, 2 * 4096, kernel::mm::kunit::PROT_NONE,
    ///     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert!(guard.vmas().any(|vma| vma.start() == a && vma.end() == a + 4096));
    ///     assert!(guard.vmas().any(|vma| vma.start() == b && vma.end() == b + 2 * 4096));
    ///     // In address order.
    ///     let mut prev = 0;
    ///     for vma in guard.vmas() {
    ///         assert!(vma.start() >= prev);
    ///         prev = vma.end();
    ///     }
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn vmas(&self) -> VmaIter<'_> {
        // SAFETY: By the type invariant, the mmap lock is held for as long as `self` is
        // borrowed.
        unsafe { VmaIter::new(self.mm, 0) }
    }

    /// Returns the mm whose lock is held.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::with_current_mm;
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     assert_eq!(mm.mmap_read_lock().mm().as_raw(), mm.as_raw());
    ///     assert_eq!(mm.mmap_write_lock().mm().as_raw(), mm.as_raw());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mm(&self) -> &'a MmWithUser {
        self.mm
    }
}

impl<M: MmapLockMode> Drop for MmapGuard<'_, M> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariant, we hold the mmap lock in mode `M`, and the guard is
        // gone after this.
        unsafe { M::unlock(self.mm) };
    }
}

pub use per_vma::VmaReadGuard;

mod per_vma {
    use super::super::{virt::VmaRef, MmWithUser};
    use crate::bindings;
    use core::{marker::PhantomData, ops::Deref, ptr::NonNull};

    impl MmWithUser {
        /// Takes the read lock of the VMA containing `addr`, without the mmap lock.
        ///
        /// Returns `None` if no VMA contains `addr`, or if the VMA cannot be read-locked right
        /// now: a holder of the mmap write lock has write-locked it to modify it (until it
        /// releases the mmap lock), its lock is contended, or it changed or went away while
        /// being locked. Callers fall back to [`MmWithUser::mmap_read_lock`] then. The kind of
        /// VMA does not matter: an anonymous VMA that was never written to (and so has no
        /// `anon_vma` yet) is locked like any other.
        ///
        /// Without `CONFIG_PER_VMA_LOCK` (no SMP, or an architecture without per-VMA locks),
        /// this always returns `None`, so that callers need no `cfg` of their own.
        ///
        /// # Examples
        ///
        /// ```
        /// use kernel::mm::{kunit, with_current_mm};
        ///
        /// let addr = kunit::vm_mmap(None, 4096, kunit::PROT_READ | kunit::PROT_WRITE,
        ///     kunit::MAP_PRIVATE)?;
        /// // The memory was never touched: the VMA has no `anon_vma`, and can be locked anyway.
        /// with_current_mm(|mm| {
        ///     let mm = mm.unwrap();
        ///     if cfg!(CONFIG_PER_VMA_LOCK) {
        ///         let vma = mm.lock_vma_under_rcu(addr).expect("an untouched anonymous VMA");
        ///         assert_eq!(vma.start(), addr);
        ///         // SAFETY: The VMA's read lock is held.
        ///         assert!(unsafe { (*vma.as_ptr()).anon_vma }.is_null());
        ///     } else {
        ///         assert!(mm.lock_vma_under_rcu(addr).is_none());
        ///     }
        ///     assert!(mm.lock_vma_under_rcu(0).is_none());
        /// });
        /// # Ok::<(), Error>(())
        /// ```
        // Not `#[inline]`: `lock_vma_under_rcu()` is not exported to modules, so the call must
        // stay in the kernel crate, which is built into vmlinux.
        pub fn lock_vma_under_rcu(&self, addr: usize) -> Option<VmaReadGuard<'_>> {
            #[cfg(CONFIG_PER_VMA_LOCK)]
            {
                // SAFETY: By the type invariant, the mm is valid.
                let vma = unsafe { bindings::lock_vma_under_rcu(self.as_raw(), addr) };
                // INVARIANT: A non-NULL result is a VMA of this mm whose read lock we now hold.
                NonNull::new(vma).map(|vma| VmaReadGuard {
                    vma,
                    _mm: PhantomData,
                    _not_send: PhantomData,
                })
            }
            #[cfg(not(CONFIG_PER_VMA_LOCK))]
            {
                // There are no per-VMA locks: callers take the mmap lock instead.
                let _ = addr;
                None
            }
        }
    }

    /// The read lock of a single VMA (the per-VMA lock).
    ///
    /// It derefs to the locked [`VmaRef`]; the lock is released (`vma_end_read`) when the guard
    /// is dropped. Without `CONFIG_PER_VMA_LOCK`, no guard is ever created.
    ///
    /// # Invariants
    ///
    /// `vma` is a VMA of the borrowed mm, and its read lock is held by the task owning the
    /// guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, with_current_mm};
    ///
    /// let addr = kunit::vm_mmap(None, 2 * 4096, kunit::PROT_READ | kunit::PROT_WRITE,
    ///     kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().lock_vma_under_rcu(addr + 4096);
    ///     if cfg!(CONFIG_PER_VMA_LOCK) {
    ///         assert_eq!(guard.expect("locked").end(), addr + 2 * 4096);
    ///     } else {
    ///         assert!(guard.is_none());
    ///     }
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    pub struct VmaReadGuard<'a> {
        vma: NonNull<bindings::vm_area_struct>,
        _mm: PhantomData<&'a MmWithUser>,
        /// The lock must be released by the task that took it.
        _not_send: PhantomData<*mut ()>,
    }

    impl Deref for VmaReadGuard<'_> {
        type Target = VmaRef;

        #[inline]
        fn deref(&self) -> &VmaRef {
            // SAFETY: By the type invariant, we hold the VMA's read lock while `self` lives.
            unsafe { VmaRef::from_raw(self.vma.as_ptr()) }
        }
    }

    impl Drop for VmaReadGuard<'_> {
        #[inline]
        fn drop(&mut self) {
            // SAFETY: By the type invariant, we hold the VMA's read lock.
            unsafe { bindings::vma_end_read(self.vma.as_ptr()) };
        }
    }
}
