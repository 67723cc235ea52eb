// SPDX-License-Identifier: GPL-2.0

//! Virtual memory areas (`struct vm_area_struct`).
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h).
//!
//! A VMA is a range of the virtual address space of a process. What may be done with it depends
//! on the lock held, so there is one type per situation:
//!
//! - [`VmaRef`]: a VMA the caller may read, because it holds the mmap lock or the VMA's own
//!   read lock (proven by the guard the reference comes from).
//! - [`VmaMixedMap`]: a [`VmaRef`] with `VM_MIXEDMAP` set, into which pages can be inserted.
//! - [`VmaNew`]: the VMA a file's `mmap` hook is setting up. The mmap lock is held for writing
//!   and the VMA is not visible to anybody else yet, so its flags can be changed.

use super::MmWithUser;
use crate::{
    bindings,
    error::{code::*, to_result, Result},
    page::Page,
    types::Opaque,
};
use core::ops::Deref;

/// The type of VMA flags (`vm_flags_t`).
#[allow(non_camel_case_types)]
pub type vm_flags_t = bindings::vm_flags_t;

/// VMA flags (`VM_*`).
pub mod flags {
    use super::vm_flags_t;
    use crate::bindings;

    /// No flags.
    pub const NONE: vm_flags_t = bindings::VM_NONE as vm_flags_t;
    /// The mapping is readable.
    pub const READ: vm_flags_t = bindings::VM_READ as vm_flags_t;
    /// The mapping is writable.
    pub const WRITE: vm_flags_t = bindings::VM_WRITE as vm_flags_t;
    /// The mapping is executable.
    pub const EXEC: vm_flags_t = bindings::VM_EXEC as vm_flags_t;
    /// The mapping is shared (`MAP_SHARED`).
    pub const SHARED: vm_flags_t = bindings::VM_SHARED as vm_flags_t;
    /// `mprotect` may add [`READ`].
    pub const MAYREAD: vm_flags_t = bindings::VM_MAYREAD as vm_flags_t;
    /// `mprotect` may add [`WRITE`].
    pub const MAYWRITE: vm_flags_t = bindings::VM_MAYWRITE as vm_flags_t;
    /// `mprotect` may add [`EXEC`].
    pub const MAYEXEC: vm_flags_t = bindings::VM_MAYEXEC as vm_flags_t;
    /// `mprotect` may add [`SHARED`].
    pub const MAYSHARE: vm_flags_t = bindings::VM_MAYSHARE as vm_flags_t;
    /// The mapping contains raw PFNs without `struct page`.
    pub const PFNMAP: vm_flags_t = bindings::VM_PFNMAP as vm_flags_t;
    /// The mapping is locked in memory (`mlock`).
    pub const LOCKED: vm_flags_t = bindings::VM_LOCKED as vm_flags_t;
    /// The mapping is an I/O mapping: `get_user_pages()` refuses it, core dumps skip it, and
    /// user space cannot clear [`DONTCOPY`] with `MADV_DOFORK`.
    pub const IO: vm_flags_t = bindings::VM_IO as vm_flags_t;
    /// The mapping is not copied into the child on `fork`, until user space clears the flag with
    /// `madvise(MADV_DOFORK)` (refused if [`IO`] is set).
    pub const DONTCOPY: vm_flags_t = bindings::VM_DONTCOPY as vm_flags_t;
    /// The mapping cannot be grown with `mremap`.
    pub const DONTEXPAND: vm_flags_t = bindings::VM_DONTEXPAND as vm_flags_t;
    /// The mapping is not included in core dumps, until user space clears the flag with
    /// `madvise(MADV_DODUMP)` (refused if one of [`IO`], [`DONTEXPAND`], [`PFNMAP`] or
    /// [`MIXEDMAP`] is set).
    pub const DONTDUMP: vm_flags_t = bindings::VM_DONTDUMP as vm_flags_t;
    /// The mapping may contain both `struct page` pages and raw PFNs (`vm_insert_page`).
    pub const MIXEDMAP: vm_flags_t = bindings::VM_MIXEDMAP as vm_flags_t;
}

/// A VMA that the caller may read.
///
/// The caller holds the mmap lock of the VMA's mm (read or write) or the VMA's own read lock;
/// this is proven by where the reference comes from (e.g. [`MmapGuard::vma_lookup`]), and
/// the reference cannot outlive that lock.
///
/// [`MmapGuard::vma_lookup`]: super::MmapGuard::vma_lookup
///
/// # Invariants
///
/// For as long as the `VmaRef` is accessible, the VMA is valid and the caller holds its mm's
/// mmap lock or the VMA's read lock; the mm has a non-zero `mm_users`.
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit, virt::flags, with_current_mm};
///
/// let addr = kunit::vm_mmap(None, 2 * 4096, kunit::PROT_READ, kunit::MAP_PRIVATE)?;
/// with_current_mm(|mm| {
///     let guard = mm.unwrap().mmap_read_lock();
///     let vma = guard.vma_lookup(addr).unwrap();
///     assert_eq!(vma.end() - vma.start(), 2 * 4096);
///     assert_ne!(vma.flags() & flags::READ, 0);
///     assert_eq!(vma.flags() & flags::WRITE, 0);
/// });
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct VmaRef {
    vma: Opaque<bindings::vm_area_struct>,
}

impl VmaRef {
    /// Creates a `&VmaRef` from a raw VMA pointer.
    ///
    /// # Safety
    ///
    /// `vma` must be a valid VMA, and the caller must hold its mm's mmap lock or the VMA's read
    /// lock for the lifetime `'a`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::VmaRef, with_current_mm};
    ///
    /// let addr = kunit::vm_mmap(None, 4096, kunit::PROT_READ, kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     let vma = guard.vma_lookup(addr).unwrap();
    ///     // SAFETY: The mmap read lock is held while `raw` is used.
    ///     let raw = unsafe { VmaRef::from_raw(vma.as_ptr()) };
    ///     assert_eq!(raw.start(), addr);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // INVARIANT: The caller guarantees that the VMA is valid and locked for `'a`.
        // SAFETY: `VmaRef` is a transparent wrapper of `vm_area_struct`, and the caller
        // guarantees the type invariant for `'a`.
        unsafe { &*vma.cast::<Self>() }
    }

    /// Returns the raw VMA pointer.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, with_current_mm};
    ///
    /// let addr = kunit::vm_mmap(None, 4096, kunit::PROT_READ, kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     let vma = guard.vma_lookup(addr).unwrap();
    ///     // SAFETY: The mmap read lock is held.
    ///     assert_eq!(unsafe { (*vma.as_ptr()).vm_mm }, guard.mm().as_raw());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::vm_area_struct {
        self.vma.get()
    }

    /// Returns the mm this VMA belongs to.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, with_current_mm};
    ///
    /// let addr = kunit::vm_mmap(None, 4096, kunit::PROT_READ, kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     let guard = mm.mmap_read_lock();
    ///     assert_eq!(guard.vma_lookup(addr).unwrap().mm().as_raw(), mm.as_raw());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn mm(&self) -> &MmWithUser {
        // SAFETY: By the type invariant, the VMA is valid and `vm_mm` never changes.
        let mm = unsafe { (*self.as_ptr()).vm_mm };
        // SAFETY: By the type invariant, the mm's `mm_users` is non-zero while `self` is
        // accessible.
        unsafe { MmWithUser::from_raw(mm) }
    }

    /// Returns the flags of the VMA (see [`flags`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::flags, with_current_mm};
    ///
    /// let addr = kunit::vm_mmap(None, 4096, kunit::PROT_READ | kunit::PROT_WRITE,
    ///     kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     let f = guard.vma_lookup(addr).unwrap().flags();
    ///     assert_eq!(f & (flags::READ | flags::WRITE), flags::READ | flags::WRITE);
    ///     assert_eq!(f & flags::SHARED, 0);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn flags(&self) -> vm_flags_t {
        // SAFETY: By the type invariant, the VMA is valid and we hold a lock that keeps its
        // flags from changing; both union members are the same `vm_flags_t`.
        unsafe { (*self.as_ptr()).__bindgen_anon_2.vm_flags }
    }

    /// Returns the start address of the VMA (inclusive).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, with_current_mm};
    ///
    /// let addr = kunit::vm_mmap(None, 4096, kunit::PROT_READ, kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_eq!(guard.vma_lookup(addr + 100).unwrap().start(), addr);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn start(&self) -> usize {
        // SAFETY: By the type invariant, the VMA is valid and we hold a lock that keeps its
        // bounds from changing.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.vm_start }
    }

    /// Returns the end address of the VMA (exclusive).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, with_current_mm};
    ///
    /// let addr = kunit::vm_mmap(None, 4096, kunit::PROT_READ, kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_eq!(guard.vma_lookup(addr).unwrap().end(), addr + 4096);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn end(&self) -> usize {
        // SAFETY: By the type invariant, the VMA is valid and we hold a lock that keeps its
        // bounds from changing.
        unsafe { (*self.as_ptr()).__bindgen_anon_1.__bindgen_anon_1.vm_end }
    }

    /// Returns the offset of the VMA in its file, in pages (`vm_pgoff`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, with_current_mm};
    ///
    /// let file = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
    /// let addr = file.mmap_at(4096, kunit::PROT_READ, kunit::MAP_SHARED, 3 * 4096)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_eq!(guard.vma_lookup(addr).unwrap().pgoff(), 3);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn pgoff(&self) -> usize {
        // SAFETY: By the type invariant, the VMA is valid and we hold a lock that keeps it from
        // changing.
        unsafe { (*self.as_ptr()).vm_pgoff }
    }

    /// Unmaps the pages in `[address, address + size)` from this VMA.
    ///
    /// Unlike the C function, which silently clamps or ignores a range outside the VMA, this
    /// returns `EINVAL` if the range is not inside `[start(), end())` or `address + size`
    /// overflows. An empty range inside the VMA is not an error.
    ///
    /// The VMA stays; touching the range afterwards faults the pages in again (or fails, for a
    /// mapping without a fault handler).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, with_current_mm};
    /// use kernel::uaccess::UserSlice;
    ///
    /// let addr = kunit::vm_mmap(None, 2 * 4096, kunit::PROT_READ | kunit::PROT_WRITE,
    ///     kunit::MAP_PRIVATE)?;
    /// UserSlice::new(addr, 4).writer().write_slice(&[1, 2, 3, 4])?;
    /// with_current_mm(|mm| -> Result {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     let vma = guard.vma_lookup(addr).unwrap();
    ///     assert_eq!(vma.zap_page_range_single(addr + 4096, 2 * 4096), Err(EINVAL));
    ///     assert_eq!(vma.zap_page_range_single(addr - 4096, 4096), Err(EINVAL));
    ///     assert_eq!(vma.zap_page_range_single(addr, usize::MAX), Err(EINVAL));
    ///     vma.zap_page_range_single(addr, 4096)
    /// })?;
    /// // Private anonymous memory comes back zero-filled.
    /// let mut buf = [0xffu8; 4];
    /// UserSlice::new(addr, 4).reader().read_slice(&mut buf)?;
    /// assert_eq!(buf, [0; 4]);
    /// # Ok::<(), Error>(())
    /// ```
    #[cfg(CONFIG_MMU)]
    pub fn zap_page_range_single(&self, address: usize, size: usize) -> Result {
        let end = address.checked_add(size).ok_or(EINVAL)?;
        if address < self.start() || end > self.end() {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariant, the VMA is valid and we hold its mm's mmap lock or its
        // read lock, which is enough to zap pages; the range is inside the VMA.
        unsafe {
            bindings::zap_page_range_single(self.as_ptr(), address, size, core::ptr::null_mut())
        };
        Ok(())
    }

    /// Returns this VMA as a [`VmaMixedMap`] if `VM_MIXEDMAP` is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, with_current_mm};
    ///
    /// let anon = kunit::vm_mmap(None, 4096, kunit::PROT_READ, kunit::MAP_PRIVATE)?;
    /// let file = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
    /// let mixed = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert!(guard.vma_lookup(anon).unwrap().as_mixedmap_vma().is_none());
    ///     assert!(guard.vma_lookup(mixed).unwrap().as_mixedmap_vma().is_some());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn as_mixedmap_vma(&self) -> Option<&VmaMixedMap> {
        if self.flags() & flags::MIXEDMAP != 0 {
            // INVARIANT: `VM_MIXEDMAP` is set, and it is never cleared while the VMA exists.
            // SAFETY: `VmaMixedMap` is a transparent wrapper of `VmaRef`.
            Some(unsafe { &*core::ptr::from_ref(self).cast::<VmaMixedMap>() })
        } else {
            None
        }
    }
}

/// A VMA with `VM_MIXEDMAP` set, into which pages can be inserted.
///
/// `vm_insert_page` is only offered here: on a VMA without `VM_MIXEDMAP`, the C function would
/// set the flag (which needs the mmap write lock) or `BUG()` on a `VM_PFNMAP` VMA.
///
/// # Invariants
///
/// In addition to the invariants of [`VmaRef`], `VM_MIXEDMAP` is set.
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit, virt::flags, with_current_mm};
///
/// let file = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
/// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
/// with_current_mm(|mm| {
///     let guard = mm.unwrap().mmap_read_lock();
///     let vma = guard.vma_lookup(addr).unwrap().as_mixedmap_vma().unwrap();
///     assert_ne!(vma.flags() & flags::MIXEDMAP, 0);
/// });
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct VmaMixedMap {
    vma: VmaRef,
}

impl Deref for VmaMixedMap {
    type Target = VmaRef;

    #[inline]
    fn deref(&self) -> &VmaRef {
        &self.vma
    }
}

impl VmaMixedMap {
    /// Maps `page` at `address` in this VMA.
    ///
    /// The mapping takes its own reference on the page, so `page` may be dropped afterwards.
    /// Returns `EFAULT` if `address` is outside the VMA, `EBUSY` if a page is already mapped
    /// there, `EINVAL` for a page that cannot be mapped (e.g. one without a reference count of
    /// its own, like the sub-pages after the first of a higher-order allocation made without
    /// `__GFP_COMP`), or `ENOMEM`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, with_current_mm};
    /// use kernel::page::{Page, Pages, PAGE_SIZE};
    /// use kernel::uaccess::UserSlice;
    ///
    /// let file = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
    /// let addr = file.mmap(2 * PAGE_SIZE, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// let page = Page::alloc_page(GFP_KERNEL)?;
    /// let pattern = [0x5au8; 16];
    /// // SAFETY: `pattern` is valid for reading 16 bytes.
    /// unsafe { page.write_raw(pattern.as_ptr(), 100, pattern.len())? };
    ///
    /// with_current_mm(|mm| -> Result {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     let vma = guard.vma_lookup(addr).unwrap().as_mixedmap_vma().unwrap();
    ///     vma.vm_insert_page(addr + PAGE_SIZE, &page)?;
    ///     assert_eq!(vma.vm_insert_page(addr + PAGE_SIZE, &page), Err(EBUSY));
    ///     assert_eq!(vma.vm_insert_page(addr + 2 * PAGE_SIZE, &page), Err(EFAULT));
    ///     // The second sub-page of a non-compound allocation has no reference count.
    ///     let pages = Pages::<1>::alloc(GFP_KERNEL | __GFP_ZERO)?;
    ///     let second = pages.page(1).ok_or(EINVAL)?;
    ///     assert_eq!(vma.vm_insert_page(addr, &second), Err(EINVAL));
    ///     Ok(())
    /// })?;
    /// drop(page);
    ///
    /// let mut buf = [0u8; 16];
    /// UserSlice::new(addr + PAGE_SIZE + 100, 16).reader().read_slice(&mut buf)?;
    /// assert_eq!(buf, pattern);
    /// // The first page was never inserted and the mapping has no fault handler.
    /// assert_eq!(UserSlice::new(addr, 16).reader().read_slice(&mut buf), Err(EFAULT));
    ///
    /// with_current_mm(|mm| -> Result {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     let vma = guard.vma_lookup(addr).unwrap();
    ///     assert_eq!(vma.zap_page_range_single(addr, 3 * PAGE_SIZE), Err(EINVAL));
    ///     vma.zap_page_range_single(addr, 2 * PAGE_SIZE)
    /// })?;
    /// // The page is gone.
    /// let read = UserSlice::new(addr + PAGE_SIZE + 100, 16).reader().read_slice(&mut buf);
    /// assert_eq!(read, Err(EFAULT));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn vm_insert_page(&self, address: usize, page: &Page) -> Result {
        // SAFETY: By the type invariant, the VMA is valid, we hold a lock that allows inserting
        // pages, and `VM_MIXEDMAP` is set, so `vm_insert_page` does not touch the flags. The
        // page is valid; the mapping takes its own reference.
        to_result(unsafe { bindings::vm_insert_page(self.as_ptr(), address, page.as_ptr()) })
    }
}

/// The VMA a file's `mmap` hook is setting up.
///
/// The mmap lock is held for writing and the VMA is not yet visible to anybody else, so its
/// flags may be changed. It derefs to [`VmaRef`].
///
/// # Invariants
///
/// In addition to the invariants of [`VmaRef`], the VMA is being set up by an `mmap` hook and
/// the mmap lock of its mm is held for writing.
///
/// # Examples
///
/// An `mmap` hook (here installed with the KUnit helper [`TestFileMapping`]):
///
/// ```
/// use kernel::mm::{kunit, virt::{flags, VmaNew}, with_current_mm};
///
/// struct Hook;
/// impl kunit::TestMmapHook for Hook {
///     fn mmap(vma: &VmaNew) -> Result {
///         vma.try_clear_maywrite()?;
///         vma.set_dontcopy();
///         vma.set_mixedmap();
///         Ok(())
///     }
/// }
///
/// let file = kunit::TestFileMapping::new::<Hook>()?;
/// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
/// with_current_mm(|mm| {
///     let guard = mm.unwrap().mmap_read_lock();
///     let f = guard.vma_lookup(addr).unwrap().flags();
///     assert_eq!(f & (flags::DONTCOPY | flags::MIXEDMAP), flags::DONTCOPY | flags::MIXEDMAP);
///     assert_eq!(f & flags::MAYWRITE, 0);
/// });
/// // The hook refuses writable mappings.
/// assert_eq!(file.mmap(4096, kunit::PROT_READ | kunit::PROT_WRITE, kunit::MAP_SHARED),
///     Err(EPERM));
/// # Ok::<(), Error>(())
/// ```
///
/// [`TestFileMapping`]: super::kunit::TestFileMapping
#[repr(transparent)]
pub struct VmaNew {
    vma: VmaRef,
}

impl Deref for VmaNew {
    type Target = VmaRef;

    #[inline]
    fn deref(&self) -> &VmaRef {
        &self.vma
    }
}

impl VmaNew {
    /// Creates a `&VmaNew` from the VMA passed to an `mmap` hook.
    ///
    /// # Safety
    ///
    /// `vma` must be the VMA passed to a `file_operations::mmap` hook, and `'a` must end before
    /// the hook returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bindings;
    /// use kernel::mm::virt::VmaNew;
    ///
    /// /// The `mmap` hook of a file.
    /// ///
    /// /// # Safety
    /// ///
    /// /// Must only be called by the kernel as the `mmap` hook of a file.
    /// unsafe extern "C" fn my_mmap(
    ///     _file: *mut bindings::file,
    ///     vma: *mut bindings::vm_area_struct,
    /// ) -> kernel::ffi::c_int {
    ///     // SAFETY: `vma` is the VMA passed to this `mmap` hook and is only used here.
    ///     let vma = unsafe { VmaNew::from_raw(vma) };
    ///     vma.set_dontexpand();
    ///     0
    /// }
    ///
    /// let fops = bindings::file_operations {
    ///     mmap: Some(my_mmap),
    ///     // SAFETY: All-zero is a valid `file_operations` (no hooks).
    ///     ..unsafe { core::mem::zeroed() }
    /// };
    /// assert!(fops.mmap.is_some());
    /// ```
    #[inline]
    pub unsafe fn from_raw<'a>(vma: *mut bindings::vm_area_struct) -> &'a Self {
        // INVARIANT: An `mmap` hook runs with the mmap write lock held on a VMA nobody else can
        // see yet, and the caller guarantees that `'a` ends before the hook returns.
        // SAFETY: `VmaNew` is a transparent wrapper of `vm_area_struct`, valid for `'a`.
        unsafe { &*vma.cast::<Self>() }
    }

    /// Sets `flags` on the VMA.
    ///
    /// # Safety
    ///
    /// Setting `flags` must not break the invariants of the VMA or of Rust types derived from
    /// it.
    #[inline]
    unsafe fn set_flags(&self, flags: vm_flags_t) {
        // SAFETY: By the type invariant, the mmap write lock is held, as `vm_flags_set` needs.
        unsafe { bindings::vm_flags_set(self.as_ptr(), flags) };
    }

    /// Sets `VM_MIXEDMAP`, so pages can be inserted with [`VmaMixedMap::vm_insert_page`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::{flags, VmaNew}, with_current_mm};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         let mixed = vma.set_mixedmap();
    ///         assert_ne!(mixed.flags() & flags::MIXEDMAP, 0);
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert!(guard.vma_lookup(addr).unwrap().as_mixedmap_vma().is_some());
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn set_mixedmap(&self) -> &VmaMixedMap {
        // SAFETY: `VM_MIXEDMAP` only makes the VMA a mixed map; no Rust type relies on it being
        // clear.
        unsafe { self.set_flags(flags::MIXEDMAP) };
        // INVARIANT: `VM_MIXEDMAP` is now set, and it is never cleared while the VMA exists.
        // SAFETY: `VmaMixedMap` is a transparent wrapper of `VmaRef`.
        unsafe { &*core::ptr::from_ref(&self.vma).cast::<VmaMixedMap>() }
    }

    /// Sets `VM_DONTCOPY`: the mapping is not inherited by a child on `fork`.
    ///
    /// This is a default, not a guarantee: user space may clear the flag later with
    /// `madvise(MADV_DOFORK)`, unless `VM_IO` is set too ([`VmaNew::set_io`]). A driver whose
    /// correctness depends on the mapping never being shared with a child must set both, or
    /// cope with the child's mapping (e.g. by recording the mm in its `mmap` hook and checking
    /// it later).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bindings;
    /// use kernel::mm::{kunit, virt::{flags, vm_flags_t, VmaNew}, with_current_mm};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         vma.set_dontcopy();
    ///         Ok(())
    ///     }
    /// }
    ///
    /// struct IoHook;
    /// impl kunit::TestMmapHook for IoHook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         vma.set_dontcopy();
    ///         vma.set_io();
    ///         Ok(())
    ///     }
    /// }
    ///
    /// /// Does what `madvise(addr, 4096, MADV_DOFORK)` does in user space; returns its result
    /// /// and the flags of the VMA afterwards.
    /// fn dofork(addr: usize) -> (i32, vm_flags_t) {
    ///     with_current_mm(|mm| {
    ///         let mm = mm.unwrap();
    ///         // SAFETY: `mm` is alive while borrowed; `do_madvise` takes its mmap lock, which
    ///         // we do not hold.
    ///         let ret = unsafe {
    ///             bindings::do_madvise(mm.as_raw(), addr as _, 4096, bindings::MADV_DOFORK as _)
    ///         };
    ///         let guard = mm.mmap_read_lock();
    ///         (ret, guard.vma_lookup(addr).unwrap().flags())
    ///     })
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_ne!(guard.vma_lookup(addr).unwrap().flags() & flags::DONTCOPY, 0);
    /// });
    /// // User space can undo it...
    /// let (ret, f) = dofork(addr);
    /// assert_eq!(ret, 0);
    /// assert_eq!(f & flags::DONTCOPY, 0);
    ///
    /// // ...unless `VM_IO` is set too.
    /// let file = kunit::TestFileMapping::new::<IoHook>()?;
    /// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// let (ret, f) = dofork(addr);
    /// assert_eq!(ret, EINVAL.to_errno());
    /// assert_ne!(f & flags::DONTCOPY, 0);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn set_dontcopy(&self) {
        // SAFETY: `VM_DONTCOPY` only affects `fork`.
        unsafe { self.set_flags(flags::DONTCOPY) };
    }

    /// Sets `VM_IO`: the mapping is treated as memory-mapped I/O.
    ///
    /// `get_user_pages()` refuses the mapping (so `O_DIRECT` and other pinning users of it
    /// fail), core dumps skip it, and user space can no longer clear `VM_DONTCOPY` with
    /// `madvise(MADV_DOFORK)` nor `VM_DONTDUMP` with `MADV_DODUMP`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::{flags, VmaNew}, with_current_mm};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         vma.set_io();
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_ne!(guard.vma_lookup(addr).unwrap().flags() & flags::IO, 0);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn set_io(&self) {
        // SAFETY: `VM_IO` only restricts what the core mm does with the pages (no pinning, no
        // core dump, no `MADV_DOFORK`); no Rust type relies on it being clear.
        unsafe { self.set_flags(flags::IO) };
    }

    /// Sets `VM_DONTDUMP`: the mapping is left out of core dumps.
    ///
    /// User space may clear the flag with `madvise(MADV_DODUMP)`, unless one of `VM_IO`,
    /// `VM_DONTEXPAND`, `VM_PFNMAP` or `VM_MIXEDMAP` is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::{flags, VmaNew}, with_current_mm};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         vma.set_dontdump();
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_ne!(guard.vma_lookup(addr).unwrap().flags() & flags::DONTDUMP, 0);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn set_dontdump(&self) {
        // SAFETY: `VM_DONTDUMP` only affects core dumps.
        unsafe { self.set_flags(flags::DONTDUMP) };
    }

    /// Sets `VM_DONTEXPAND`: the mapping cannot be grown with `mremap`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::{flags, VmaNew}, with_current_mm};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         vma.set_dontexpand();
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_ne!(guard.vma_lookup(addr).unwrap().flags() & flags::DONTEXPAND, 0);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn set_dontexpand(&self) {
        // SAFETY: `VM_DONTEXPAND` only affects `mremap`.
        unsafe { self.set_flags(flags::DONTEXPAND) };
    }

    /// Clears the `may` flag (`VM_MAY*`) unless the mapping already has `prot` (`VM_READ`,
    /// `VM_WRITE` or `VM_EXEC`), in which case it returns `EPERM`.
    #[inline]
    fn try_clear_may(&self, may: vm_flags_t, prot: vm_flags_t) -> Result {
        if self.flags() & prot != 0 {
            return Err(EPERM);
        }
        // SAFETY: By the type invariant, the mmap write lock is held, as `vm_flags_clear`
        // needs; no Rust type relies on a `VM_MAY*` flag being set.
        unsafe { bindings::vm_flags_clear(self.as_ptr(), may) };
        Ok(())
    }

    /// Clears `VM_MAYREAD`, so `mprotect` cannot make the mapping readable later.
    ///
    /// Returns `EPERM` (what `mmap` then returns) if the mapping is already readable.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::{flags, VmaNew}, with_current_mm};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         // `mmap` sets all of `VM_MAY*` by default.
    ///         assert_ne!(vma.flags() & flags::MAYREAD, 0);
    ///         vma.try_clear_mayread()
    ///     }
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// let addr = file.mmap(4096, kunit::PROT_NONE, kunit::MAP_SHARED)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_eq!(guard.vma_lookup(addr).unwrap().flags() & flags::MAYREAD, 0);
    /// });
    /// assert_eq!(file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED), Err(EPERM));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn try_clear_mayread(&self) -> Result {
        self.try_clear_may(flags::MAYREAD, flags::READ)
    }

    /// Clears `VM_MAYWRITE`, so `mprotect` cannot make the mapping writable later.
    ///
    /// Returns `EPERM` (what `mmap` then returns) if the mapping is already writable.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::{flags, VmaNew}, with_current_mm};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         vma.try_clear_maywrite()?;
    ///         assert!(!vma.writable());
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_eq!(guard.vma_lookup(addr).unwrap().flags() & flags::MAYWRITE, 0);
    /// });
    /// let res = file.mmap(4096, kunit::PROT_READ | kunit::PROT_WRITE, kunit::MAP_SHARED);
    /// assert_eq!(res, Err(EPERM));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn try_clear_maywrite(&self) -> Result {
        self.try_clear_may(flags::MAYWRITE, flags::WRITE)
    }

    /// Clears `VM_MAYEXEC`, so `mprotect` cannot make the mapping executable later.
    ///
    /// Returns `EPERM` (what `mmap` then returns) if the mapping is already executable.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::{flags, VmaNew}, with_current_mm};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         // `mmap` sets all of `VM_MAY*` by default.
    ///         assert_ne!(vma.flags() & flags::MAYEXEC, 0);
    ///         vma.try_clear_mayexec()
    ///     }
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// with_current_mm(|mm| {
    ///     let guard = mm.unwrap().mmap_read_lock();
    ///     assert_eq!(guard.vma_lookup(addr).unwrap().flags() & flags::MAYEXEC, 0);
    /// });
    /// let res = file.mmap(4096, kunit::PROT_READ | kunit::PROT_EXEC, kunit::MAP_SHARED);
    /// assert_eq!(res, Err(EPERM));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn try_clear_mayexec(&self) -> Result {
        self.try_clear_may(flags::MAYEXEC, flags::EXEC)
    }

    /// Returns whether the mapping is readable (`VM_READ`, from `PROT_READ`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::VmaNew};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         if vma.readable() { Ok(()) } else { Err(EACCES) }
    ///     }
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// assert!(file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED).is_ok());
    /// assert_eq!(file.mmap(4096, kunit::PROT_NONE, kunit::MAP_SHARED), Err(EACCES));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn readable(&self) -> bool {
        self.flags() & flags::READ != 0
    }

    /// Returns whether the mapping is writable (`VM_WRITE`, from `PROT_WRITE`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::VmaNew};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         if vma.writable() { Err(EROFS) } else { Ok(()) }
    ///     }
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// assert!(file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED).is_ok());
    /// let res = file.mmap(4096, kunit::PROT_READ | kunit::PROT_WRITE, kunit::MAP_SHARED);
    /// assert_eq!(res, Err(EROFS));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn writable(&self) -> bool {
        self.flags() & flags::WRITE != 0
    }

    /// Returns whether the mapping is executable (`VM_EXEC`, from `PROT_EXEC`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit, virt::VmaNew};
    ///
    /// struct Hook;
    /// impl kunit::TestMmapHook for Hook {
    ///     fn mmap(vma: &VmaNew) -> Result {
    ///         if vma.executable() { Err(ENOEXEC) } else { Ok(()) }
    ///     }
    /// }
    ///
    /// let file = kunit::TestFileMapping::new::<Hook>()?;
    /// assert!(file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED).is_ok());
    /// let res = file.mmap(4096, kunit::PROT_READ | kunit::PROT_EXEC, kunit::MAP_SHARED);
    /// assert_eq!(res, Err(ENOEXEC));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn executable(&self) -> bool {
        self.flags() & flags::EXEC != 0
    }
}
