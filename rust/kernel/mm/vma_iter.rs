// SPDX-License-Identifier: GPL-2.0

//! Iteration over the VMAs of an address space.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h).

use super::{virt::VmaRef, MmWithUser};
use crate::bindings;
use core::{marker::PhantomData, mem::MaybeUninit};

/// An iterator over the VMAs of an mm, in address order.
///
/// It is created by [`MmapGuard::vmas`] (of a read or a write guard) and borrows the guard, so
/// the VMAs it yields can be used for as long as the lock is held.
///
/// The C iterator state (`struct vma_iterator`, a `struct ma_state`) only points into the maple
/// tree of the mm, never into itself, so the iterator may be moved freely.
///
/// [`MmapGuard::vmas`]: super::MmapGuard::vmas
///
/// # Invariants
///
/// `vmi` is an initialised iterator over the VMAs of an mm whose mmap lock is held for `'a`.
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit, with_current_mm};
///
/// let addr = kunit::vm_mmap(None, 4 * 4096, kunit::PROT_READ, kunit::MAP_PRIVATE)?;
/// let (count, total) = with_current_mm(|mm| {
///     let guard = mm.unwrap().mmap_read_lock();
///     let vmas = guard.vmas();
///     // The iterator may be moved.
///     let moved = vmas;
///     moved.fold((0, 0), |(n, len), vma| (n + 1, len + vma.end() - vma.start()))
/// });
/// assert!(count >= 1);
/// assert!(total >= 4 * 4096);
/// # let _ = addr;
/// # Ok::<(), Error>(())
/// ```
pub struct VmaIter<'a> {
    vmi: bindings::vma_iterator,
    _lock: PhantomData<&'a VmaRef>,
}

impl<'a> VmaIter<'a> {
    /// Creates an iterator over the VMAs of `mm` that end after `addr`.
    ///
    /// # Safety
    ///
    /// The caller must hold the mmap lock of `mm` for the lifetime `'a`.
    pub(crate) unsafe fn new(mm: &'a MmWithUser, addr: usize) -> Self {
        let mut vmi = MaybeUninit::<bindings::vma_iterator>::uninit();
        // SAFETY: `vma_iter_init` initialises all of `*vmi`; the mm is valid.
        unsafe { bindings::vma_iter_init(vmi.as_mut_ptr(), mm.as_raw(), addr) };
        // INVARIANT: `vmi` was just initialised for `mm`, whose lock the caller holds for `'a`.
        Self {
            // SAFETY: `vma_iter_init` initialised it.
            vmi: unsafe { vmi.assume_init() },
            _lock: PhantomData,
        }
    }
}

impl<'a> Iterator for VmaIter<'a> {
    type Item = &'a VmaRef;

    fn next(&mut self) -> Option<&'a VmaRef> {
        // SAFETY: By the type invariant, `vmi` is initialised and the mmap lock is held.
        let vma = unsafe { bindings::vma_next(&mut self.vmi) };
        if vma.is_null() {
            None
        } else {
            // SAFETY: `vma` is a VMA of the mm, whose mmap lock is held for `'a`.
            Some(unsafe { VmaRef::from_raw(vma) })
        }
    }
}
