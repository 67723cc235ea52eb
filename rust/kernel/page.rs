// SPDX-License-Identifier: GPL-2.0

//! Kernel page allocation and management.
//!
//! C headers: [`include/linux/gfp.h`](srctree/include/linux/gfp.h),
//! [`include/linux/highmem.h`](srctree/include/linux/highmem.h)
//!
//! This module provides:
//!
//! - [`Pages<ORDER>`], an owned allocation of `2^ORDER` physically contiguous pages, freed on
//!   drop, and [`Page`], its order-0 case;
//! - [`BorrowedPage`], a page that someone else (usually C code) owns, lent for `'a`; it
//!   derefs to [`Page`];
//! - [`page_align`] and the [`PAGE_SIZE`], [`PAGE_SHIFT`] and [`PAGE_MASK`] constants.
//!
//! # Accessing the contents
//!
//! Pages may live in high memory, so their contents are accessed through a temporary mapping
//! created with `kmap_local_page()` for the duration of each access and released before the
//! access returns. Every sub-page of a higher-order allocation is mapped on its own, and the
//! mappings are released in the reverse order of their creation, as `kunmap_local()` requires:
//! this is enforced by the internal API, which only hands the mapping to a closure.
//!
//! Every access takes a byte offset and a length, and returns [`EINVAL`] without touching the
//! page if `offset + len` overflows or goes past the end of the allocation. Accesses that span
//! several sub-pages proceed one sub-page at a time.
//!
//! There are two sets of accessors:
//!
//! - The `unsafe` raw accessors (`read_raw`, `write_raw`, `fill_zero_raw`,
//!   `copy_from_user_slice_raw`, `copy_to_user_slice_raw`), available on [`Pages`] and, through
//!   `Deref`, on [`BorrowedPage`]. Their callers promise that the concurrent accesses to the
//!   page that they cannot see are compatible with the access, as detailed in each `# Safety`
//!   section.
//! - The safe accessors of [`Pages`], which take `&mut self`: see [`Pages`] for what this proves
//!   and why user space may access the pages meanwhile.
//!
//! # Pages shared with user space
//!
//! A page inserted into a user mapping (e.g. with `vm_insert_page()`) may be read and written
//! by user space at any time. Such accesses are not data races in the sense of Rust's memory
//! model: user space is outside the Rust abstract machine, exactly as for the user memory behind
//! a [`UserSlice`](crate::uaccess::UserSlice). What the kernel must not do is let the compiler
//! assume that such memory stays unchanged, which it may for memory under a Rust reference
//! (`&[u8]` may not change while it exists, `&mut [u8]` may not be accessed by anyone else). So
//! an access that may run while user space uses the page copies with raw pointers
//! (`memcpy()`/`memset()`) into or from memory that only the kernel uses, and the kernel then
//! works on its own copy; the bytes read are a mix of old and new values, each a valid `u8`.
//!
//! Raw pointers do not make a race with *kernel* code defined: a raw copy racing with a write
//! by another kernel thread is a data race, and undefined behaviour, like any other. Ruling
//! that out is what `&mut self` (safe accessors) or the caller (raw accessors) does.
//!
//! # Contents never written
//!
//! A page allocated without `__GFP_ZERO` and not yet written holds whatever the memory held
//! before, possibly data of another user. This is not uninitialised memory in Rust's sense:
//! the page allocator is C code handing out memory that the Rust abstract machine did not
//! create, so every byte has some value, and reading it is defined (it is how [`Pages::read_into`]
//! can be safe). The values are unspecified, though, and copying them to user space leaks
//! kernel data: zero (`__GFP_ZERO`, [`Pages::fill_zero`]) or write every byte that user space
//! can see. No accessor requires the bytes to have been written.
//!
//! See also `Documentation/rust/page.rst`.

use crate::{
    alloc::{AllocError, Flags},
    bindings,
    error::code::*,
    error::Result,
    uaccess::{UserSliceReader, UserSliceWriter},
};
use core::{
    marker::PhantomData,
    mem::{ManuallyDrop, MaybeUninit},
    ops::Deref,
    ptr::{self, NonNull},
};

/// A bitwise shift for the page size.
///
/// # Examples
///
/// ```
/// use kernel::page::{PAGE_SHIFT, PAGE_SIZE};
///
/// assert_eq!(1usize << PAGE_SHIFT, PAGE_SIZE);
/// ```
pub const PAGE_SHIFT: usize = bindings::PAGE_SHIFT as usize;

/// The number of bytes in a page.
///
/// # Examples
///
/// ```
/// use kernel::page::PAGE_SIZE;
///
/// assert!(PAGE_SIZE.is_power_of_two());
/// assert!(PAGE_SIZE >= 4096);
/// ```
pub const PAGE_SIZE: usize = bindings::PAGE_SIZE;

/// A bitmask that gives the page containing a given address.
///
/// # Examples
///
/// ```
/// use kernel::page::{PAGE_MASK, PAGE_SIZE};
///
/// assert_eq!(PAGE_MASK, !(PAGE_SIZE - 1));
/// assert_eq!((3 * PAGE_SIZE + 17) & PAGE_MASK, 3 * PAGE_SIZE);
/// ```
pub const PAGE_MASK: usize = !(PAGE_SIZE - 1);

/// Rounds `addr` up to the next multiple of [`PAGE_SIZE`].
///
/// Returns [`None`] if the result does not fit in a `usize`.
///
/// # Examples
///
/// ```
/// use kernel::page::{page_align, PAGE_SIZE};
///
/// assert_eq!(page_align(0), Some(0));
/// assert_eq!(page_align(1), Some(PAGE_SIZE));
/// assert_eq!(page_align(PAGE_SIZE), Some(PAGE_SIZE));
/// assert_eq!(page_align(PAGE_SIZE + 1), Some(2 * PAGE_SIZE));
/// assert_eq!(page_align(usize::MAX - PAGE_SIZE + 1), Some(usize::MAX - PAGE_SIZE + 1));
/// assert_eq!(page_align(usize::MAX - PAGE_SIZE + 2), None);
/// assert_eq!(page_align(usize::MAX), None);
/// ```
#[inline]
pub const fn page_align(addr: usize) -> Option<usize> {
    match addr.checked_add(PAGE_SIZE - 1) {
        Some(sum) => Some(sum & PAGE_MASK),
        None => None,
    }
}

/// Size of the on-stack bounce buffer of the safe user-copy accessors of [`Pages`].
const BOUNCE_SIZE: usize = 256;

/// Checks that `offset..offset + len` lies within `size` bytes.
///
/// Returns [`EINVAL`] if the end overflows or is past `size`.
#[inline]
fn check_range(size: usize, offset: usize, len: usize) -> Result {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(EINVAL),
    }
}

/// Runs `f` with `page` mapped into the kernel address space, then unmaps it.
///
/// `f` receives a pointer to the start of the mapping, which is valid for [`PAGE_SIZE`] bytes
/// while `f` runs, and only on the current thread (the mapping is CPU/task local). The usual
/// rules for raw pointers apply: accesses must not race with other kernel code (user space is
/// outside the Rust abstract machine, see "Pages shared with user space" in the module
/// documentation); every byte has a value, see "Contents never written". If several threads
/// map the same page at the same time, they may get different addresses for the same memory;
/// accesses through them still race with each other.
///
/// # Safety
///
/// `page` must point to a valid `struct page` that stays allocated while this function runs.
unsafe fn with_page_mapped<T>(page: *mut bindings::page, f: impl FnOnce(*mut u8) -> T) -> T {
    // SAFETY: The caller guarantees that `page` is a valid page.
    let mapped_addr = unsafe { bindings::kmap_local_page(page) };

    let res = f(mapped_addr.cast());

    // SAFETY: `mapped_addr` was returned by `kmap_local_page` above and is unmapped exactly once.
    // `kunmap_local` must be called in the reverse order of `kmap_local_page`: the mapping is
    // only handed to the closure, so every mapping created by `f` through this function has
    // already been released. Any other call to `kmap_local_page` that `f` might make is inside an
    // `unsafe` block that is responsible for releasing its mapping before returning.
    unsafe { bindings::kunmap_local(mapped_addr) };

    res
}

/// Runs `f` on the range `offset..offset + len` of the `size` bytes starting at `first`, one
/// sub-page at a time.
///
/// Returns [`EINVAL`] without calling `f` if the range is not within `size` bytes. Otherwise,
/// for every sub-page that the range intersects, in increasing address order, maps the sub-page
/// and calls `f(ptr, done, chunk)`: `ptr` points into the mapping and is valid for `chunk` bytes,
/// `done` is the number of bytes of the range handled by the previous calls. Stops at the first
/// error returned by `f`. `f` is never called with `chunk == 0`.
///
/// # Safety
///
/// `first` must point to the first `struct page` of `size / PAGE_SIZE` consecutive valid
/// `struct page`s (a buddy allocation of at most `MAX_PAGE_ORDER`, whose `struct page`s are
/// contiguous) that stay allocated while this function runs, and `size` must be a multiple of
/// [`PAGE_SIZE`].
unsafe fn with_pointer_into_pages(
    first: *mut bindings::page,
    size: usize,
    offset: usize,
    len: usize,
    mut f: impl FnMut(*mut u8, usize, usize) -> Result,
) -> Result {
    check_range(size, offset, len)?;

    let mut done = 0;
    while done < len {
        // No overflow: `offset + done < offset + len <= size`.
        let pos = offset + done;
        let index = pos >> PAGE_SHIFT;
        let in_page = pos & !PAGE_MASK;
        let chunk = core::cmp::min(PAGE_SIZE - in_page, len - done);

        // SAFETY: `pos < size`, so `index < size / PAGE_SIZE` and, by the safety requirements,
        // `first.add(index)` is a valid `struct page` of the same allocation.
        let page = unsafe { first.add(index) };
        let g = |addr: *mut u8| {
            // SAFETY: `in_page < PAGE_SIZE`, so the result is within the mapping, and it is
            // valid for `PAGE_SIZE - in_page >= chunk` bytes.
            f(unsafe { addr.add(in_page) }, done, chunk)
        };
        // SAFETY: `page` is valid and stays allocated while this function runs.
        unsafe { with_page_mapped(page, g) }?;

        done += chunk;
    }
    Ok(())
}

/// Copies from the page range described by `first`, `size`, `offset` and `len` into `dst`.
///
/// # Safety
///
/// The requirements of [`with_pointer_into_pages`] on `first` and `size`, `dst` valid for
/// writing `len` bytes and not overlapping the range read, and those of [`Pages::read_raw`] on
/// concurrent accesses.
unsafe fn read_raw_pages(
    first: *mut bindings::page,
    size: usize,
    dst: *mut u8,
    offset: usize,
    len: usize,
) -> Result {
    let f = |src: *mut u8, done: usize, chunk: usize| {
        // SAFETY: `src` is valid for reading `chunk` bytes, `done + chunk <= len` and the
        // caller guarantees that `dst` is valid for writing `len` bytes, so `dst + done` is
        // valid for writing `chunk` bytes. The caller guarantees that `dst` does not overlap
        // the range read, and the absence of data races.
        unsafe { ptr::copy_nonoverlapping(src, dst.add(done), chunk) };
        Ok(())
    };
    // SAFETY: The caller guarantees the requirements on `first` and `size`.
    unsafe { with_pointer_into_pages(first, size, offset, len, f) }
}

/// Copies from `src` into the page range described by `first`, `size`, `offset` and `len`.
///
/// # Safety
///
/// The requirements of [`with_pointer_into_pages`] on `first` and `size`, `src` valid for
/// reading `len` bytes and not overlapping the range written, and those of
/// [`Pages::write_raw`] on concurrent accesses.
unsafe fn write_raw_pages(
    first: *mut bindings::page,
    size: usize,
    src: *const u8,
    offset: usize,
    len: usize,
) -> Result {
    let f = |dst: *mut u8, done: usize, chunk: usize| {
        // SAFETY: `dst` is valid for writing `chunk` bytes, `done + chunk <= len` and the
        // caller guarantees that `src` is valid for reading `len` bytes. The caller
        // guarantees that `src` does not overlap the range written, and the absence of data
        // races.
        unsafe { ptr::copy_nonoverlapping(src.add(done), dst, chunk) };
        Ok(())
    };
    // SAFETY: The caller guarantees the requirements on `first` and `size`.
    unsafe { with_pointer_into_pages(first, size, offset, len, f) }
}

/// Zeroes the page range described by `first`, `size`, `offset` and `len`.
///
/// # Safety
///
/// The requirements of [`with_pointer_into_pages`] on `first` and `size`, and those of
/// [`Pages::fill_zero_raw`] on concurrent accesses.
unsafe fn fill_zero_raw_pages(
    first: *mut bindings::page,
    size: usize,
    offset: usize,
    len: usize,
) -> Result {
    let f = |dst: *mut u8, _done: usize, chunk: usize| {
        // SAFETY: `dst` is valid for writing `chunk` bytes. The caller guarantees the absence
        // of data races.
        unsafe { ptr::write_bytes(dst, 0u8, chunk) };
        Ok(())
    };
    // SAFETY: The caller guarantees the requirements on `first` and `size`.
    unsafe { with_pointer_into_pages(first, size, offset, len, f) }
}

/// Copies from `reader` into the page range described by `first`, `size`, `offset` and `len`.
///
/// # Safety
///
/// The requirements of [`with_pointer_into_pages`] on `first` and `size`, and those of
/// [`Pages::copy_from_user_slice_raw`] on concurrent accesses.
unsafe fn copy_from_user_raw_pages(
    first: *mut bindings::page,
    size: usize,
    reader: &mut UserSliceReader,
    offset: usize,
    len: usize,
) -> Result {
    let f = |dst: *mut u8, _done: usize, chunk: usize| {
        // SAFETY: `dst` is valid for writing `chunk` bytes, and the caller guarantees that
        // nothing else, user space included, accesses them during this call, so a unique
        // reference to them is allowed. `MaybeUninit<u8>` has the layout of `u8` and no
        // validity requirement.
        let out = unsafe { core::slice::from_raw_parts_mut(dst.cast::<MaybeUninit<u8>>(), chunk) };
        reader.read_raw(out)
    };
    // SAFETY: The caller guarantees the requirements on `first` and `size`.
    unsafe { with_pointer_into_pages(first, size, offset, len, f) }
}

/// Copies the page range described by `first`, `size`, `offset` and `len` into `writer`.
///
/// # Safety
///
/// The requirements of [`with_pointer_into_pages`] on `first` and `size`, and those of
/// [`Pages::copy_to_user_slice_raw`] on concurrent accesses.
unsafe fn copy_to_user_raw_pages(
    first: *mut bindings::page,
    size: usize,
    writer: &mut UserSliceWriter,
    offset: usize,
    len: usize,
) -> Result {
    let f = |src: *mut u8, _done: usize, chunk: usize| {
        // SAFETY: `src` is valid for reading `chunk` bytes, and the caller guarantees that
        // nothing, user space included, writes to them during this call, so a shared reference
        // to them is allowed. Page memory always holds valid `u8`s (see "Contents never
        // written" in the module documentation).
        let data = unsafe { core::slice::from_raw_parts(src.cast_const(), chunk) };
        writer.write_slice(data)
    };
    // SAFETY: The caller guarantees the requirements on `first` and `size`.
    unsafe { with_pointer_into_pages(first, size, offset, len, f) }
}

/// An owned allocation of `2^ORDER` physically contiguous pages.
///
/// The pages are allocated with `alloc_pages()` or `alloc_pages_node()` and freed with
/// `__free_pages()` when this object is dropped. [`Page`] is the order-0 case. Orders above
/// `MAX_PAGE_ORDER` are rejected at compile time when an allocation function is instantiated.
///
/// The allocation is not a compound page unless the caller passes `__GFP_COMP`: only the first
/// `struct page` holds a reference count, so the sub-pages must not be handed to code that takes
/// references on individual pages.
///
/// # Exclusive access
///
/// The safe accessors ([`Pages::read_into`], [`Pages::write_from`], [`Pages::fill_zero`],
/// [`Pages::copy_from_user_slice`] and [`Pages::copy_to_user_slice`]) take `&mut self`. Since
/// this object owns the pages, `&mut self` proves that no other Rust code accesses them through
/// this object or through a [`BorrowedPage`] lent by it, and any other kernel code that got the
/// pointer from [`Pages::as_ptr`] had to promise, in an `unsafe` block, not to race with the
/// owner: no other kernel thread accesses the pages during the call, so there is no data race.
///
/// It does **not** prove that user space leaves the pages alone: a page inserted into a user
/// mapping (for example with `vm_insert_page()`) may be read or written by user space at any
/// time, also during the call. That is not a data race either, because user space is outside
/// the Rust abstract machine (as for the memory behind a
/// [`UserSlice`](crate::uaccess::UserSlice)), and the safe accessors never let the compiler
/// assume that the page memory stays unchanged: they never create a Rust reference to it, and
/// copy with raw pointers from or to memory that only the kernel uses (the caller's slice, or a
/// small bounce buffer on the stack for the user copies). If user space writes concurrently,
/// the bytes read are a mix of old and new values, each a valid `u8`. See the module
/// documentation, which also explains why the bytes of pages never written are valid to read
/// (but must not be shown to user space).
///
/// # Invariants
///
/// `page` points to the first of `2^ORDER` consecutive valid `struct page`s, and
/// `ORDER <= MAX_PAGE_ORDER`. Either this object owns them as an allocation of order `ORDER`,
/// which it frees on drop; or it is the [`Page`] inside a [`BorrowedPage`], which never drops it
/// and never gives it out mutably, and the page stays allocated for the lifetime of the
/// [`BorrowedPage`].
///
/// # Examples
///
/// ```
/// use kernel::page::{Pages, PAGE_SIZE};
///
/// // Four pages; write a pattern that crosses the boundary between the first two.
/// let mut pages = Pages::<2>::alloc(GFP_KERNEL)?;
/// assert_eq!(Pages::<2>::SIZE, 4 * PAGE_SIZE);
/// let data = [0x5au8; 64];
/// pages.write_from(&data, PAGE_SIZE - 32)?;
/// let mut back = [0u8; 64];
/// pages.read_into(&mut back, PAGE_SIZE - 32)?;
/// assert_eq!(back, data);
/// # Ok::<(), Error>(())
/// ```
pub struct Pages<const ORDER: u32 = 0> {
    page: NonNull<bindings::page>,
}

/// An owned order-0 page.
///
/// # Examples
///
/// ```
/// use kernel::page::{Page, PAGE_SIZE};
///
/// let mut page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
/// assert_eq!(Page::SIZE, PAGE_SIZE);
/// let mut buf = [1u8; 8];
/// page.read_into(&mut buf, PAGE_SIZE - 8)?;
/// assert_eq!(buf, [0u8; 8]);
/// # Ok::<(), Error>(())
/// ```
pub type Page = Pages<0>;

// SAFETY: Pages have no logic that relies on them staying on a given thread, so moving them across
// threads is safe.
unsafe impl<const ORDER: u32> Send for Pages<ORDER> {}

// SAFETY: The methods taking `&self` either do not access the page contents or are `unsafe` and
// require their callers to rule out data races, so sharing references across threads is safe.
unsafe impl<const ORDER: u32> Sync for Pages<ORDER> {}

impl Page {
    /// Allocates a new page.
    ///
    /// # Examples
    ///
    /// Allocate memory for a page.
    ///
    /// ```
    /// use kernel::page::Page;
    ///
    /// let page = Page::alloc_page(GFP_KERNEL)?;
    /// assert!(!page.as_ptr().is_null());
    /// # Ok::<(), kernel::alloc::AllocError>(())
    /// ```
    ///
    /// Allocate memory for a page and zero its contents.
    ///
    /// ```
    /// use kernel::page::{Page, PAGE_SIZE};
    ///
    /// let mut page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
    /// let mut buf = [0xffu8; 16];
    /// page.read_into(&mut buf, PAGE_SIZE / 2)?;
    /// assert_eq!(buf, [0u8; 16]);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn alloc_page(flags: Flags) -> Result<Self, AllocError> {
        Self::alloc(flags)
    }
}

impl<const ORDER: u32> Pages<ORDER> {
    /// `ORDER`, checked against `MAX_PAGE_ORDER` at compile time.
    ///
    /// The allocation functions pass this to C, so instantiating one of them with an invalid order
    /// fails to compile.
    const CHECKED_ORDER: u32 = {
        assert!(
            ORDER <= bindings::MAX_PAGE_ORDER,
            "page order above MAX_PAGE_ORDER"
        );
        ORDER
    };

    /// The number of pages in this allocation, `2^ORDER`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Page, Pages};
    ///
    /// assert_eq!(Page::NR_PAGES, 1);
    /// assert_eq!(Pages::<3>::NR_PAGES, 8);
    /// ```
    pub const NR_PAGES: usize = 1 << ORDER;

    /// The size of this allocation in bytes, `PAGE_SIZE << ORDER`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Page, Pages, PAGE_SIZE};
    ///
    /// assert_eq!(Page::SIZE, PAGE_SIZE);
    /// assert_eq!(Pages::<1>::SIZE, 2 * PAGE_SIZE);
    /// ```
    pub const SIZE: usize = PAGE_SIZE << ORDER;

    /// Allocates `2^ORDER` contiguous pages with the given GFP flags.
    ///
    /// May sleep unless `flags` forbid it. Fails to compile if `ORDER > MAX_PAGE_ORDER`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Pages, PAGE_SIZE};
    ///
    /// let mut pages = Pages::<1>::alloc(GFP_KERNEL | __GFP_ZERO)?;
    /// let mut buf = [0xffu8; 4];
    /// pages.read_into(&mut buf, 2 * PAGE_SIZE - 4)?;
    /// assert_eq!(buf, [0u8; 4]);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn alloc(flags: Flags) -> Result<Self, AllocError> {
        // SAFETY: Depending on the value of `flags`, this call may sleep. Other than that, it is
        // always safe to call this function; `ORDER <= MAX_PAGE_ORDER`, so it does not warn.
        let page = unsafe { bindings::alloc_pages(flags.as_raw(), Self::CHECKED_ORDER) };
        let page = NonNull::new(page).ok_or(AllocError)?;
        // INVARIANT: We just successfully allocated pages of order `ORDER <= MAX_PAGE_ORDER`, so
        // we now have ownership of them. We transfer that ownership to the new object.
        Ok(Self { page })
    }

    /// Allocates `2^ORDER` contiguous pages with the given GFP flags, preferably on NUMA node
    /// `nid`.
    ///
    /// `nid` is either `NUMA_NO_NODE` (-1, any node, starting with the nearest one) or the id of
    /// an online node. Unless `flags` contain `__GFP_THISNODE`, the allocation may fall back to
    /// other nodes. Returns [`EINVAL`] for any other `nid` and [`ENOMEM`] if the allocation
    /// fails. Fails to compile if `ORDER > MAX_PAGE_ORDER`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, page::{Page, Pages}};
    ///
    /// let page = Page::alloc_node(GFP_KERNEL, 0)?;
    /// assert!(!page.as_ptr().is_null());
    /// let pages = Pages::<2>::alloc_node(GFP_KERNEL, bindings::NUMA_NO_NODE)?;
    /// assert!(!pages.as_ptr().is_null());
    ///
    /// assert_eq!(Page::alloc_node(GFP_KERNEL, -2).err(), Some(EINVAL));
    /// assert_eq!(Page::alloc_node(GFP_KERNEL, i32::MAX).err(), Some(EINVAL));
    /// assert_eq!(
    ///     Page::alloc_node(GFP_KERNEL, bindings::MAX_NUMNODES as i32).err(),
    ///     Some(EINVAL)
    /// );
    /// # Ok::<(), Error>(())
    /// ```
    pub fn alloc_node(flags: Flags, nid: i32) -> Result<Self> {
        if nid != bindings::NUMA_NO_NODE {
            if nid < 0 || nid as u32 >= bindings::MAX_NUMNODES {
                return Err(EINVAL);
            }
            // SAFETY: `0 <= nid < MAX_NUMNODES`, so `nid` is within the node masks.
            if !unsafe { bindings::node_online(nid) } {
                return Err(EINVAL);
            }
        }

        // SAFETY: `nid` is `NUMA_NO_NODE` or an online node below `MAX_NUMNODES`, and
        // `ORDER <= MAX_PAGE_ORDER`, so this call does not warn. Depending on the value of
        // `flags`, it may sleep.
        let page = unsafe { bindings::alloc_pages_node(nid, flags.as_raw(), Self::CHECKED_ORDER) };
        let page = NonNull::new(page).ok_or(ENOMEM)?;
        // INVARIANT: We just successfully allocated pages of order `ORDER <= MAX_PAGE_ORDER`, so
        // we now have ownership of them. We transfer that ownership to the new object.
        Ok(Self { page })
    }

    /// Returns a raw pointer to the first page.
    ///
    /// The pointer is valid while `self` is alive. Accesses to the contents through it must not
    /// race with the accesses of the owner (see the `# Safety` sections of the raw accessors).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::Pages;
    ///
    /// let pages = Pages::<1>::alloc(GFP_KERNEL)?;
    /// assert!(!pages.as_ptr().is_null());
    /// assert_eq!(pages.page(0).map(|p| p.as_ptr()), Some(pages.as_ptr()));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::page {
        self.page.as_ptr()
    }

    /// Returns the sub-page `index` of this allocation, or [`None`] if `index >= NR_PAGES`.
    ///
    /// The [`BorrowedPage`] derefs to [`Page`], so it has the raw accessors and can be passed
    /// to functions that take a `&Page`. Unless the pages were allocated with `__GFP_COMP`, only
    /// the first sub-page has a reference count: code that takes a reference on a page refuses
    /// the others, as `vm_insert_page()` does (with `EINVAL`), or must not be given them.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Pages, PAGE_SIZE};
    ///
    /// let mut pages = Pages::<1>::alloc(GFP_KERNEL | __GFP_ZERO)?;
    /// pages.write_from(&[7u8; 4], PAGE_SIZE)?;
    /// let second = pages.page(1).ok_or(EINVAL)?;
    /// let mut buf = [0u8; 4];
    /// // SAFETY: `buf` is valid for writing 4 bytes and nothing else accesses the page.
    /// unsafe { second.read_raw(buf.as_mut_ptr(), 0, 4)? };
    /// assert_eq!(buf, [7u8; 4]);
    /// assert!(pages.page(2).is_none());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn page(&self, index: usize) -> Option<BorrowedPage<'_>> {
        if index >= Self::NR_PAGES {
            return None;
        }
        // SAFETY: By the type invariants, `self.page` is the first of `NR_PAGES` consecutive
        // valid `struct page`s, and `index < NR_PAGES`, so the result is one of them and is not
        // null.
        let page = unsafe { NonNull::new_unchecked(self.page.as_ptr().add(index)) };
        // SAFETY: By the type invariants, `page` stays allocated while `self` is accessible,
        // which it is for the lifetime of the returned value. The raw accessors are `unsafe` and
        // their callers must rule out races with the owner.
        Some(unsafe { BorrowedPage::from_raw(page) })
    }

    /// Maps the pages and reads from them into the given buffer.
    ///
    /// Returns [`EINVAL`] if `offset + len` overflows or is larger than [`Self::SIZE`].
    ///
    /// # Safety
    ///
    /// * `dst` must be valid for writing `len` bytes and must not overlap the range read.
    /// * No kernel code (Rust or C) may write to `offset..offset + len` of these pages while this
    ///   call runs; concurrent reads are allowed. User space may access the pages through a user
    ///   mapping meanwhile (see "Pages shared with user space" in the module documentation): the
    ///   bytes read are then unspecified.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Pages, PAGE_SIZE};
    ///
    /// let mut pages = Pages::<1>::alloc(GFP_KERNEL)?;
    /// pages.write_from(&[1, 2, 3, 4], PAGE_SIZE - 2)?;
    /// let mut buf = [0u8; 4];
    /// // SAFETY: `buf` is valid for writing 4 bytes and nothing else accesses the pages.
    /// unsafe { pages.read_raw(buf.as_mut_ptr(), PAGE_SIZE - 2, 4)? };
    /// assert_eq!(buf, [1, 2, 3, 4]);
    /// // SAFETY: Out of bounds, nothing is accessed.
    /// let res = unsafe { pages.read_raw(buf.as_mut_ptr(), 2 * PAGE_SIZE - 2, 4) };
    /// assert_eq!(res, Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn read_raw(&self, dst: *mut u8, offset: usize, len: usize) -> Result {
        // SAFETY: By the type invariants, `self.page` is the first of the `SIZE / PAGE_SIZE`
        // contiguous pages owned by `self`. The caller guarantees the rest.
        unsafe { read_raw_pages(self.as_ptr(), Self::SIZE, dst, offset, len) }
    }

    /// Maps the pages and writes into them from the given buffer.
    ///
    /// Returns [`EINVAL`] if `offset + len` overflows or is larger than [`Self::SIZE`].
    ///
    /// # Safety
    ///
    /// * `src` must be valid for reading `len` bytes and must not overlap the range written.
    /// * No kernel code (Rust or C) may read or write `offset..offset + len` of these pages while
    ///   this call runs. User space may access the pages through a user mapping meanwhile (see
    ///   "Pages shared with user space" in the module documentation): what it reads or leaves
    ///   in the pages is then unspecified.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Pages, PAGE_SIZE};
    ///
    /// let mut pages = Pages::<1>::alloc(GFP_KERNEL)?;
    /// let data = [9u8; 32];
    /// // SAFETY: `data` is valid for reading 32 bytes and nothing else accesses the pages.
    /// unsafe { pages.write_raw(data.as_ptr(), PAGE_SIZE - 16, 32)? };
    /// let mut buf = [0u8; 32];
    /// pages.read_into(&mut buf, PAGE_SIZE - 16)?;
    /// assert_eq!(buf, data);
    /// // SAFETY: The range overflows, nothing is accessed.
    /// let res = unsafe { pages.write_raw(data.as_ptr(), usize::MAX, 32) };
    /// assert_eq!(res, Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn write_raw(&self, src: *const u8, offset: usize, len: usize) -> Result {
        // SAFETY: By the type invariants, `self.page` is the first of the `SIZE / PAGE_SIZE`
        // contiguous pages owned by `self`. The caller guarantees the rest.
        unsafe { write_raw_pages(self.as_ptr(), Self::SIZE, src, offset, len) }
    }

    /// Maps the pages and zeroes the given range.
    ///
    /// Returns [`EINVAL`] if `offset + len` overflows or is larger than [`Self::SIZE`].
    ///
    /// # Safety
    ///
    /// No kernel code (Rust or C) may read or write `offset..offset + len` of these pages while
    /// this call runs. User space may access the pages through a user mapping meanwhile (see
    /// "Pages shared with user space" in the module documentation): what it reads or leaves in
    /// them is then unspecified.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Pages, PAGE_SIZE};
    ///
    /// let mut pages = Pages::<1>::alloc(GFP_KERNEL)?;
    /// pages.write_from(&[0xaau8; 8], PAGE_SIZE - 4)?;
    /// // SAFETY: Nothing else accesses the pages.
    /// unsafe { pages.fill_zero_raw(PAGE_SIZE - 2, 4)? };
    /// let mut buf = [0u8; 8];
    /// pages.read_into(&mut buf, PAGE_SIZE - 4)?;
    /// assert_eq!(buf, [0xaa, 0xaa, 0, 0, 0, 0, 0xaa, 0xaa]);
    /// // SAFETY: Out of bounds, nothing is accessed.
    /// assert_eq!(unsafe { pages.fill_zero_raw(2 * PAGE_SIZE, 1) }, Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn fill_zero_raw(&self, offset: usize, len: usize) -> Result {
        // SAFETY: By the type invariants, `self.page` is the first of the `SIZE / PAGE_SIZE`
        // contiguous pages owned by `self`. The caller guarantees the rest.
        unsafe { fill_zero_raw_pages(self.as_ptr(), Self::SIZE, offset, len) }
    }

    /// Copies data from user space into these pages.
    ///
    /// Returns [`EINVAL`] without reading from `reader` if `offset + len` overflows or is larger
    /// than [`Self::SIZE`], and [`EFAULT`] if the user memory cannot be read or `reader` has less
    /// than `len` bytes left (the pages may then be partially written). Data races on the user
    /// memory are allowed, like for the other [`UserSliceReader`] methods.
    ///
    /// # Safety
    ///
    /// Nothing else, user space through a user mapping of these pages included, may read or
    /// write `offset..offset + len` of these pages while this call runs: the data is copied
    /// directly into the pages through a unique Rust reference (`&mut [MaybeUninit<u8>]`), which
    /// the compiler may assume nobody else accesses. Use [`Pages::copy_from_user_slice`] if user
    /// space may access the pages.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Pages, PAGE_SIZE};
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::bindings;
    /// # fn user_buf(len: usize) -> Result<usize> {
    /// #     // SAFETY: Doctests run in the KUnit test's kthread; the mapping is torn down at the
    /// #     // end of the test.
    /// #     let addr = unsafe {
    /// #         bindings::kunit_vm_mmap(
    /// #             bindings::kunit_get_current_test(),
    /// #             core::ptr::null_mut(),
    /// #             0,
    /// #             len as _,
    /// #             (bindings::PROT_READ | bindings::PROT_WRITE) as _,
    /// #             (bindings::MAP_ANONYMOUS | bindings::MAP_PRIVATE) as _,
    /// #             0,
    /// #         )
    /// #     } as usize;
    /// #     if addr == 0 || addr > usize::MAX - bindings::MAX_ERRNO as usize {
    /// #         return Err(ENOMEM);
    /// #     }
    /// #     Ok(addr)
    /// # }
    ///
    /// let user = user_buf(64)?;
    /// let pattern: [u8; 64] = core::array::from_fn(|i| i as u8);
    /// UserSlice::new(user, 64).writer().write_slice(&pattern)?;
    ///
    /// let pages = Pages::<1>::alloc(GFP_KERNEL)?;
    /// let mut reader = UserSlice::new(user, 64).reader();
    /// // SAFETY: Nothing else accesses the pages.
    /// unsafe { pages.copy_from_user_slice_raw(&mut reader, PAGE_SIZE - 32, 64)? };
    /// assert!(reader.is_empty());
    /// let mut back = [0u8; 64];
    /// // SAFETY: `back` is valid for writing 64 bytes and nothing else accesses the pages.
    /// unsafe { pages.read_raw(back.as_mut_ptr(), PAGE_SIZE - 32, 64)? };
    /// assert_eq!(back, pattern);
    ///
    /// let mut reader = UserSlice::new(user, 64).reader();
    /// // SAFETY: Out of bounds, nothing is accessed.
    /// let res = unsafe { pages.copy_from_user_slice_raw(&mut reader, 2 * PAGE_SIZE - 8, 64) };
    /// assert_eq!(res, Err(EINVAL));
    /// assert_eq!(reader.len(), 64);
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn copy_from_user_slice_raw(
        &self,
        reader: &mut UserSliceReader,
        offset: usize,
        len: usize,
    ) -> Result {
        // SAFETY: By the type invariants, `self.page` is the first of the `SIZE / PAGE_SIZE`
        // contiguous pages owned by `self`. The caller guarantees the rest.
        unsafe { copy_from_user_raw_pages(self.as_ptr(), Self::SIZE, reader, offset, len) }
    }

    /// Copies data from these pages to user space.
    ///
    /// Returns [`EINVAL`] without writing to `writer` if `offset + len` overflows or is larger
    /// than [`Self::SIZE`], and [`EFAULT`] if the user memory cannot be written or `writer` has
    /// less than `len` bytes left (part of the data may then have been written).
    ///
    /// Bytes that were never written are copied as they are (see "Contents never written" in the
    /// module documentation): reading them is defined, but they may be stale kernel data.
    ///
    /// # Safety
    ///
    /// Nothing, user space through a user mapping of these pages included, may write to
    /// `offset..offset + len` of these pages while this call runs (concurrent reads are
    /// allowed): the data is copied through a shared Rust reference (`&[u8]`), which the compiler
    /// may assume does not change. Use [`Pages::copy_to_user_slice`] if user space may write to
    /// the pages.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Pages, PAGE_SIZE};
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::bindings;
    /// # fn user_buf(len: usize) -> Result<usize> {
    /// #     // SAFETY: Doctests run in the KUnit test's kthread; the mapping is torn down at the
    /// #     // end of the test.
    /// #     let addr = unsafe {
    /// #         bindings::kunit_vm_mmap(
    /// #             bindings::kunit_get_current_test(),
    /// #             core::ptr::null_mut(),
    /// #             0,
    /// #             len as _,
    /// #             (bindings::PROT_READ | bindings::PROT_WRITE) as _,
    /// #             (bindings::MAP_ANONYMOUS | bindings::MAP_PRIVATE) as _,
    /// #             0,
    /// #         )
    /// #     } as usize;
    /// #     if addr == 0 || addr > usize::MAX - bindings::MAX_ERRNO as usize {
    /// #         return Err(ENOMEM);
    /// #     }
    /// #     Ok(addr)
    /// # }
    ///
    /// let mut pages = Pages::<1>::alloc(GFP_KERNEL)?;
    /// let pattern: [u8; 48] = core::array::from_fn(|i| 200 - i as u8);
    /// pages.write_from(&pattern, PAGE_SIZE - 20)?;
    ///
    /// let user = user_buf(48)?;
    /// let mut writer = UserSlice::new(user, 48).writer();
    /// // SAFETY: Nothing else accesses the pages.
    /// unsafe { pages.copy_to_user_slice_raw(&mut writer, PAGE_SIZE - 20, 48)? };
    /// assert!(writer.is_empty());
    /// let mut back = [0u8; 48];
    /// UserSlice::new(user, 48).reader().read_slice(&mut back)?;
    /// assert_eq!(back, pattern);
    ///
    /// let mut writer = UserSlice::new(user, 48).writer();
    /// // SAFETY: The range overflows, nothing is accessed.
    /// let res = unsafe { pages.copy_to_user_slice_raw(&mut writer, usize::MAX - 1, 48) };
    /// assert_eq!(res, Err(EINVAL));
    /// assert_eq!(writer.len(), 48);
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn copy_to_user_slice_raw(
        &self,
        writer: &mut UserSliceWriter,
        offset: usize,
        len: usize,
    ) -> Result {
        // SAFETY: By the type invariants, `self.page` is the first of the `SIZE / PAGE_SIZE`
        // contiguous pages owned by `self`. The caller guarantees the rest.
        unsafe { copy_to_user_raw_pages(self.as_ptr(), Self::SIZE, writer, offset, len) }
    }

    /// Reads `dst.len()` bytes at `offset` of these pages into `dst`.
    ///
    /// Returns [`EINVAL`] if `offset + dst.len()` overflows or is larger than [`Self::SIZE`].
    /// Bytes that were never written (no `__GFP_ZERO`) are unspecified but valid, see "Contents
    /// never written" in the module documentation; so are bytes that user space writes through a
    /// user mapping during the call.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Pages, PAGE_SIZE};
    ///
    /// let mut pages = Pages::<2>::alloc(GFP_KERNEL)?;
    /// let pattern: [u8; 100] = core::array::from_fn(|i| (i * 3) as u8);
    /// pages.write_from(&pattern, 3 * PAGE_SIZE - 50)?;
    /// let mut back = [0u8; 100];
    /// pages.read_into(&mut back, 3 * PAGE_SIZE - 50)?;
    /// assert_eq!(back, pattern);
    ///
    /// assert_eq!(pages.read_into(&mut back, 4 * PAGE_SIZE - 99), Err(EINVAL));
    /// pages.read_into(&mut back, 4 * PAGE_SIZE - 100)?;
    /// pages.read_into(&mut [], 4 * PAGE_SIZE)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read_into(&mut self, dst: &mut [u8], offset: usize) -> Result {
        // SAFETY: `dst` is valid for writing `dst.len()` bytes and is not in the pages since it
        // is a Rust reference that does not borrow `self`. `&mut self` rules out concurrent
        // accesses by kernel code, see "Exclusive access" on `Pages`; user space may access the
        // pages, which `read_raw` allows.
        unsafe { self.read_raw(dst.as_mut_ptr(), offset, dst.len()) }
    }

    /// Writes `src` at `offset` of these pages.
    ///
    /// Returns [`EINVAL`] if `offset + src.len()` overflows or is larger than [`Self::SIZE`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Page, PAGE_SIZE};
    ///
    /// let mut page = Page::alloc_page(GFP_KERNEL)?;
    /// page.write_from(b"hello", 10)?;
    /// let mut buf = [0u8; 5];
    /// page.read_into(&mut buf, 10)?;
    /// assert_eq!(&buf, b"hello");
    /// assert_eq!(page.write_from(b"hello", PAGE_SIZE - 4), Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn write_from(&mut self, src: &[u8], offset: usize) -> Result {
        // SAFETY: `src` is valid for reading `src.len()` bytes and is not in the pages since it
        // is a Rust reference that does not borrow `self`. `&mut self` rules out concurrent
        // accesses by kernel code, see "Exclusive access" on `Pages`; user space may access the
        // pages, which `write_raw` allows.
        unsafe { self.write_raw(src.as_ptr(), offset, src.len()) }
    }

    /// Zeroes `len` bytes at `offset` of these pages.
    ///
    /// Returns [`EINVAL`] if `offset + len` overflows or is larger than [`Self::SIZE`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Pages, PAGE_SIZE};
    ///
    /// let mut pages = Pages::<1>::alloc(GFP_KERNEL)?;
    /// pages.fill_zero(0, 2 * PAGE_SIZE)?;
    /// let mut buf = [1u8; 8];
    /// pages.read_into(&mut buf, PAGE_SIZE - 4)?;
    /// assert_eq!(buf, [0u8; 8]);
    /// assert_eq!(pages.fill_zero(1, usize::MAX), Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn fill_zero(&mut self, offset: usize, len: usize) -> Result {
        // SAFETY: `&mut self` rules out concurrent accesses by kernel code, see "Exclusive
        // access" on `Pages`; user space may access the pages, which `fill_zero_raw` allows.
        unsafe { self.fill_zero_raw(offset, len) }
    }

    /// Copies `len` bytes from user space to `offset` of these pages.
    ///
    /// Returns [`EINVAL`] without reading from `reader` if `offset + len` overflows or is larger
    /// than [`Self::SIZE`], and [`EFAULT`] if the user memory cannot be read or `reader` has less
    /// than `len` bytes left (the pages may then be partially written).
    ///
    /// The data goes through a small bounce buffer on the stack and the pages are only accessed
    /// with raw pointers, so this is defined even if user space accesses the pages through a user
    /// mapping at the same time (see "Exclusive access" on [`Pages`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Page, Pages, PAGE_SIZE};
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::bindings;
    /// # fn user_buf(len: usize) -> Result<usize> {
    /// #     // SAFETY: Doctests run in the KUnit test's kthread; the mapping is torn down at the
    /// #     // end of the test.
    /// #     let addr = unsafe {
    /// #         bindings::kunit_vm_mmap(
    /// #             bindings::kunit_get_current_test(),
    /// #             core::ptr::null_mut(),
    /// #             0,
    /// #             len as _,
    /// #             (bindings::PROT_READ | bindings::PROT_WRITE) as _,
    /// #             (bindings::MAP_ANONYMOUS | bindings::MAP_PRIVATE) as _,
    /// #             0,
    /// #         )
    /// #     } as usize;
    /// #     if addr == 0 || addr > usize::MAX - bindings::MAX_ERRNO as usize {
    /// #         return Err(ENOMEM);
    /// #     }
    /// #     Ok(addr)
    /// # }
    ///
    /// // Fill one user page and one page past it with a pattern.
    /// const LEN: usize = PAGE_SIZE + 300;
    /// let user = user_buf(LEN)?;
    /// let mut writer = UserSlice::new(user, LEN).writer();
    /// for i in 0..LEN {
    ///     writer.write_slice(&[(i % 251) as u8])?;
    /// }
    ///
    /// // Order 1: the copy crosses the boundary between the two sub-pages.
    /// let mut pages = Pages::<1>::alloc(GFP_KERNEL)?;
    /// let mut reader = UserSlice::new(user, LEN).reader();
    /// pages.copy_from_user_slice(&mut reader, 100, LEN)?;
    /// assert!(reader.is_empty());
    /// let mut byte = [0u8; 1];
    /// for i in (0..LEN).step_by(7) {
    ///     pages.read_into(&mut byte, 100 + i)?;
    ///     assert_eq!(byte[0], (i % 251) as u8);
    /// }
    ///
    /// // Order 0.
    /// let mut page = Page::alloc_page(GFP_KERNEL)?;
    /// let mut reader = UserSlice::new(user, LEN).reader();
    /// page.copy_from_user_slice(&mut reader, 0, PAGE_SIZE)?;
    /// assert_eq!(reader.len(), 300);
    /// page.read_into(&mut byte, PAGE_SIZE - 1)?;
    /// assert_eq!(byte[0], ((PAGE_SIZE - 1) % 251) as u8);
    ///
    /// // Out of bounds: nothing is consumed from the reader.
    /// let mut reader = UserSlice::new(user, LEN).reader();
    /// assert_eq!(page.copy_from_user_slice(&mut reader, 1, PAGE_SIZE), Err(EINVAL));
    /// assert_eq!(reader.len(), LEN);
    /// // Past the end of the reader.
    /// let mut reader = UserSlice::new(user, 8).reader();
    /// assert_eq!(page.copy_from_user_slice(&mut reader, 0, 16), Err(EFAULT));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn copy_from_user_slice(
        &mut self,
        reader: &mut UserSliceReader,
        offset: usize,
        len: usize,
    ) -> Result {
        check_range(Self::SIZE, offset, len)?;

        let mut buf = [0u8; BOUNCE_SIZE];
        let mut done = 0;
        while done < len {
            let chunk = core::cmp::min(BOUNCE_SIZE, len - done);
            reader.read_slice(&mut buf[..chunk])?;
            // No overflow: `offset + done < offset + len <= SIZE`.
            self.write_from(&buf[..chunk], offset + done)?;
            done += chunk;
        }
        Ok(())
    }

    /// Copies `len` bytes at `offset` of these pages to user space.
    ///
    /// Returns [`EINVAL`] without writing to `writer` if `offset + len` overflows or is larger
    /// than [`Self::SIZE`], and [`EFAULT`] if the user memory cannot be written or `writer` has
    /// less than `len` bytes left (part of the data may then have been written).
    ///
    /// The data goes through a small bounce buffer on the stack and the pages are only accessed
    /// with raw pointers, so this is defined even if user space accesses the pages through a user
    /// mapping at the same time (see "Exclusive access" on [`Pages`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::page::{Page, Pages, PAGE_SIZE};
    /// use kernel::uaccess::UserSlice;
    /// # use kernel::bindings;
    /// # fn user_buf(len: usize) -> Result<usize> {
    /// #     // SAFETY: Doctests run in the KUnit test's kthread; the mapping is torn down at the
    /// #     // end of the test.
    /// #     let addr = unsafe {
    /// #         bindings::kunit_vm_mmap(
    /// #             bindings::kunit_get_current_test(),
    /// #             core::ptr::null_mut(),
    /// #             0,
    /// #             len as _,
    /// #             (bindings::PROT_READ | bindings::PROT_WRITE) as _,
    /// #             (bindings::MAP_ANONYMOUS | bindings::MAP_PRIVATE) as _,
    /// #             0,
    /// #         )
    /// #     } as usize;
    /// #     if addr == 0 || addr > usize::MAX - bindings::MAX_ERRNO as usize {
    /// #         return Err(ENOMEM);
    /// #     }
    /// #     Ok(addr)
    /// # }
    ///
    /// const LEN: usize = PAGE_SIZE + 300;
    /// let src = user_buf(LEN)?;
    /// let dst = user_buf(LEN)?;
    /// let mut writer = UserSlice::new(src, LEN).writer();
    /// for i in 0..LEN {
    ///     writer.write_slice(&[(i % 253) as u8])?;
    /// }
    ///
    /// // Round trip through an order-1 allocation, across its sub-page boundary.
    /// let mut pages = Pages::<1>::alloc(GFP_KERNEL)?;
    /// pages.copy_from_user_slice(&mut UserSlice::new(src, LEN).reader(), 200, LEN)?;
    /// let mut writer = UserSlice::new(dst, LEN).writer();
    /// pages.copy_to_user_slice(&mut writer, 200, LEN)?;
    /// assert!(writer.is_empty());
    /// let mut reader = UserSlice::new(dst, LEN).reader();
    /// let mut byte = [0u8; 1];
    /// for i in 0..LEN {
    ///     reader.read_slice(&mut byte)?;
    ///     assert_eq!(byte[0], (i % 253) as u8);
    /// }
    ///
    /// // Order 0: user -> page -> other user memory.
    /// let mut page = Page::alloc_page(GFP_KERNEL)?;
    /// page.copy_from_user_slice(&mut UserSlice::new(src, LEN).reader(), 0, PAGE_SIZE)?;
    /// page.copy_to_user_slice(&mut UserSlice::new(dst, LEN).writer(), 0, PAGE_SIZE)?;
    /// let mut reader = UserSlice::new(dst, PAGE_SIZE).reader();
    /// for i in 0..PAGE_SIZE {
    ///     reader.read_slice(&mut byte)?;
    ///     assert_eq!(byte[0], (i % 253) as u8);
    /// }
    ///
    /// page.write_from(&[0x11, 0x22, 0x33], PAGE_SIZE - 3)?;
    /// page.copy_to_user_slice(&mut UserSlice::new(dst, 3).writer(), PAGE_SIZE - 3, 3)?;
    /// let mut three = [0u8; 3];
    /// UserSlice::new(dst, 3).reader().read_slice(&mut three)?;
    /// assert_eq!(three, [0x11, 0x22, 0x33]);
    ///
    /// let mut writer = UserSlice::new(dst, LEN).writer();
    /// assert_eq!(page.copy_to_user_slice(&mut writer, PAGE_SIZE - 2, 3), Err(EINVAL));
    /// assert_eq!(page.copy_to_user_slice(&mut writer, usize::MAX, 2), Err(EINVAL));
    /// assert_eq!(writer.len(), LEN);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn copy_to_user_slice(
        &mut self,
        writer: &mut UserSliceWriter,
        offset: usize,
        len: usize,
    ) -> Result {
        check_range(Self::SIZE, offset, len)?;

        let mut buf = [0u8; BOUNCE_SIZE];
        let mut done = 0;
        while done < len {
            let chunk = core::cmp::min(BOUNCE_SIZE, len - done);
            // No overflow: `offset + done < offset + len <= SIZE`.
            self.read_into(&mut buf[..chunk], offset + done)?;
            writer.write_slice(&buf[..chunk])?;
            done += chunk;
        }
        Ok(())
    }
}

impl<const ORDER: u32> Drop for Pages<ORDER> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, a `Pages` that is dropped owns its pages (the one
        // inside a `BorrowedPage` is in a `ManuallyDrop`), which were allocated with order
        // `ORDER`, and can free them.
        unsafe { bindings::__free_pages(self.page.as_ptr(), ORDER) };
    }
}

/// A page that someone else owns (usually C code), lent for the lifetime `'a`.
///
/// It derefs to [`Page`], so it has the `unsafe` raw accessors ([`Pages::read_raw`] and the
/// others) and can be passed where a `&Page` is expected (e.g. to `vm_insert_page()`). It has no
/// safe accessor: those take `&mut Page`, which a `BorrowedPage` never gives out, since the
/// owner may access the page at the same time. Dropping it does not free the page.
///
/// [`Pages::page`] lends the sub-pages of an owned allocation this way.
///
/// # Invariants
///
/// `page` is a [`Page`] in the borrowed state of its type invariants: it is never dropped or
/// given out mutably, and the page stays allocated for `'a`.
///
/// # Examples
///
/// ```
/// use core::ptr::NonNull;
/// use kernel::page::{BorrowedPage, Page, PAGE_SIZE};
/// use kernel::uaccess::UserSlice;
/// # use kernel::bindings;
/// # fn user_buf(len: usize) -> Result<usize> {
/// #     // SAFETY: Doctests run in the KUnit test's kthread; the mapping is torn down at the
/// #     // end of the test.
/// #     let addr = unsafe {
/// #         bindings::kunit_vm_mmap(
/// #             bindings::kunit_get_current_test(),
/// #             core::ptr::null_mut(),
/// #             0,
/// #             len as _,
/// #             (bindings::PROT_READ | bindings::PROT_WRITE) as _,
/// #             (bindings::MAP_ANONYMOUS | bindings::MAP_PRIVATE) as _,
/// #             0,
/// #         )
/// #     } as usize;
/// #     if addr == 0 || addr > usize::MAX - bindings::MAX_ERRNO as usize {
/// #         return Err(ENOMEM);
/// #     }
/// #     Ok(addr)
/// # }
///
/// let owner = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
/// let raw = NonNull::new(owner.as_ptr()).ok_or(EINVAL)?;
/// // SAFETY: `owner` outlives `borrowed`.
/// let borrowed = unsafe { BorrowedPage::from_raw(raw) };
/// assert_eq!(borrowed.as_ptr(), owner.as_ptr());
///
/// // The raw accessors of `Page`, at order 0, through the borrowed page. In this example
/// // nothing else accesses the page, as their safety requirements demand.
/// let data = *b"borrowed";
/// // SAFETY: `data` is valid for reading 8 bytes; nothing else accesses the page.
/// unsafe { borrowed.write_raw(data.as_ptr(), PAGE_SIZE - 8, data.len())? };
/// let mut back = [0u8; 8];
/// // SAFETY: `back` is valid for writing 8 bytes; nothing else accesses the page.
/// unsafe { owner.read_raw(back.as_mut_ptr(), PAGE_SIZE - 8, back.len())? };
/// assert_eq!(back, data);
/// // SAFETY: Nothing else accesses the page.
/// unsafe { borrowed.fill_zero_raw(PAGE_SIZE - 6, 4)? };
/// // SAFETY: As above.
/// unsafe { borrowed.read_raw(back.as_mut_ptr(), PAGE_SIZE - 8, back.len())? };
/// assert_eq!(&back, b"bo\0\0\0\0ed");
/// // SAFETY: Out of bounds, nothing is accessed.
/// let res = unsafe { borrowed.read_raw(back.as_mut_ptr(), PAGE_SIZE - 7, back.len()) };
/// assert_eq!(res, Err(EINVAL));
///
/// // To and from user memory.
/// let user = user_buf(32)?;
/// UserSlice::new(user, 16).writer().write_slice(b"0123456789abcdef")?;
/// let mut reader = UserSlice::new(user, 16).reader();
/// // SAFETY: Nothing else accesses the page.
/// unsafe { borrowed.copy_from_user_slice_raw(&mut reader, 100, 16)? };
/// let mut writer = UserSlice::new(user + 16, 16).writer();
/// // SAFETY: Nothing else accesses the page.
/// unsafe { borrowed.copy_to_user_slice_raw(&mut writer, 100, 16)? };
/// let mut buf = [0u8; 16];
/// UserSlice::new(user + 16, 16).reader().read_slice(&mut buf)?;
/// assert_eq!(&buf, b"0123456789abcdef");
/// let mut writer = UserSlice::new(user, 16).writer();
/// // SAFETY: Out of bounds, nothing is accessed.
/// let res = unsafe { borrowed.copy_to_user_slice_raw(&mut writer, PAGE_SIZE - 15, 16) };
/// assert_eq!(res, Err(EINVAL));
/// assert_eq!(writer.len(), 16);
/// # Ok::<(), Error>(())
/// ```
pub struct BorrowedPage<'a> {
    page: ManuallyDrop<Page>,
    _lender: PhantomData<&'a Page>,
}

impl<'a> BorrowedPage<'a> {
    /// Creates a borrowed page from a raw `struct page` pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct page` that stays allocated (its owner holds it) for
    /// the lifetime `'a` of the result.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::ptr::NonNull;
    /// use kernel::page::{BorrowedPage, Page};
    ///
    /// let page = Page::alloc_page(GFP_KERNEL)?;
    /// let raw = NonNull::new(page.as_ptr()).ok_or(EINVAL)?;
    /// // SAFETY: `page` outlives the borrowed page.
    /// let borrowed = unsafe { BorrowedPage::from_raw(raw) };
    /// assert_eq!(borrowed.as_ptr(), page.as_ptr());
    /// drop(borrowed);
    /// // Dropping the borrowed page did not free it.
    /// let mut buf = [0u8; 1];
    /// // SAFETY: `buf` is valid for writing 1 byte; nothing else accesses the page.
    /// unsafe { page.read_raw(buf.as_mut_ptr(), 0, 1)? };
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub unsafe fn from_raw(ptr: NonNull<bindings::page>) -> Self {
        // INVARIANT: The `Page` is wrapped in `ManuallyDrop` and only lent out as `&Page`, and
        // the caller guarantees that the page stays allocated for `'a`; a single `struct page`
        // is `2^0` consecutive valid `struct page`s.
        Self {
            page: ManuallyDrop::new(Page { page: ptr }),
            _lender: PhantomData,
        }
    }
}

impl Deref for BorrowedPage<'_> {
    type Target = Page;

    #[inline]
    fn deref(&self) -> &Page {
        &self.page
    }
}
