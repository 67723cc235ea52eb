// SPDX-License-Identifier: GPL-2.0

//! Guards for the locks that protect the VMAs of an address space.
//!
//! C header: [`include/linux/mmap_lock.h`](srctree/include/linux/mmap_lock.h).
//!
//! - [`MmapReadGuard`]: the mmap lock held for reading. VMAs can be looked up and read, and
//!   pages can be inserted into or zapped from them; the VMA tree cannot change.
//! - [`MmapWriteGuard`]: the mmap lock held for writing. Everything the read lock allows, and
//!   nobody else can look at the VMAs.
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
        // INVARIANT: We just took the mmap lock for reading.
        MmapReadGuard {
            mm: self,
            _not_send: PhantomData,
        }
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
            // INVARIANT: We just took the mmap lock for reading.
            Some(MmapReadGuard {
                mm: self,
                _not_send: PhantomData,
            })
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
        // INVARIANT: We just took the mmap lock for writing.
        MmapWriteGuard {
            mm: self,
            _not_send: PhantomData,
        }
    }
}

/// Looks up the VMA containing `addr`.
///
/// # Safety
///
/// The caller must hold the mmap lock of `mm` (read or write) for the lifetime `'a`.
unsafe fn vma_lookup<'a>(mm: &MmWithUser, addr: usize) -> Option<&'a VmaRef> {
    // SAFETY: The mm is valid, and the caller holds its mmap lock.
    let vma = unsafe { bindings::vma_lookup(mm.as_raw(), addr) };
    if vma.is_null() {
        None
    } else {
        // SAFETY: `vma` is a VMA of `mm`, which cannot be freed or changed while the caller
        // holds the mmap lock, which it does for `'a`.
        Some(unsafe { VmaRef::from_raw(vma) })
    }
}

/// The mmap lock of an mm, held for reading.
///
/// While it is held, the set of VMAs of the mm cannot change, so VMAs can be looked up and
/// used (see [`VmaRef`]). The lock is released when the guard is dropped.
///
/// # Invariants
///
/// The mmap lock of `mm` is held for reading by the task owning the guard.
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
pub struct MmapReadGuard<'a> {
    mm: &'a MmWithUser,
    /// The lock must be released by the task that took it.
    _not_send: PhantomData<*mut ()>,
}

impl<'a> MmapReadGuard<'a> {
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
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_eq!(guard.vma_lookup(addr).map(|vma| vma.start()), Some(addr));
    ///     // Page zero is never mapped.
    ///     assert!(guard.vma_lookup(0).is_none());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn vma_lookup(&self, addr: usize) -> Option<&VmaRef> {
        // SAFETY: By the type invariant, the mmap lock is held for as long as `self` is
        // borrowed.
        unsafe { vma_lookup(self.mm, addr) }
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
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mm(&self) -> &'a MmWithUser {
        self.mm
    }
}

impl Drop for MmapReadGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariant, we hold the mmap lock for reading.
        unsafe { bindings::mmap_read_unlock(self.mm.as_raw()) };
    }
}

/// The mmap lock of an mm, held for writing.
///
/// Nobody else can look at or change the VMAs of the mm while it is held. The lock is released
/// when the guard is dropped.
///
/// # Invariants
///
/// The mmap lock of `mm` is held for writing by the task owning the guard.
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
pub struct MmapWriteGuard<'a> {
    mm: &'a MmWithUser,
    /// The lock must be released by the task that took it.
    _not_send: PhantomData<*mut ()>,
}

impl<'a> MmapWriteGuard<'a> {
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
    ///     let guard = mm.unwrap().mmap_write_lock();
    ///     assert_eq!(guard.vma_lookup(addr).map(|vma| vma.end()), Some(addr + 4096));
    ///     assert!(guard.vma_lookup(0).is_none());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn vma_lookup(&self, addr: usize) -> Option<&VmaRef> {
        // SAFETY: By the type invariant, the mmap lock is held for as long as `self` is
        // borrowed.
        unsafe { vma_lookup(self.mm, addr) }
    }

    /// Returns an iterator over the VMAs of the mm, in address order.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::with_current_mm;
    ///
    /// let addr = kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    ///     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_write_lock();
    ///     assert_eq!(guard.vmas().filter(|vma| vma.start() == addr).count(), 1);
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
    ///     assert_eq!(mm.mmap_write_lock().mm().as_raw(), mm.as_raw());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mm(&self) -> &'a MmWithUser {
        self.mm
    }
}

impl Drop for MmapWriteGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariant, we hold the mmap lock for writing.
        unsafe { bindings::mmap_write_unlock(self.mm.as_raw()) };
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
