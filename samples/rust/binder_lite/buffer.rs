// SPDX-License-Identifier: GPL-2.0

//! The buffer area of a binder process: its mapping, its buffers and their pages.
//!
//! A process maps up to 4 MiB of its file read-only (the checks are the driver's, in `mmap`);
//! the transactions it receives are copied into buffers of that area, and user space reads them
//! there. [`BufferArea`] does what `binder_alloc.c` does for the C binder:
//!
//! - a best-fit allocator of ranges (`allocator.rs`), with the C binder's sizes and answers;
//! - pages allocated when a buffer first covers them, with our [`Page`], and inserted into the
//!   receiver's mapping with [`VmaMixedMap::vm_insert_page`];
//! - copies from the *sender's* user memory (the current task's) straight into the receiver's
//!   pages, and reads and writes of values in place, for the translation of objects.
//!
//! # Pages are kept until release
//!
//! A page stays installed once a buffer has covered it, also after every buffer on it is freed;
//! all of them are freed when the process's file is released. The C binder does the same, except
//! that it puts unused pages on an LRU list that a shrinker reclaims under memory pressure; we
//! have no shrinker abstraction, and zapping pages on every free would cost a page allocation
//! and an mmap lock per transaction. So a process holds at most the pages of its area (4 MiB),
//! as a C binder process does when memory is not short.
//!
//! # Locking
//!
//! - `inner` (a spinlock) protects the allocator, the mapping and the page table. Nothing
//!   allocates, sleeps or copies from user space while it is held; the mmap handler takes it
//!   (with the mmap lock held), and nothing takes the mmap lock while holding it.
//! - `install` (a mutex) serialises the installation of pages: it is held around the receiver's
//!   mmap read lock, never taken by the mmap handler, and never held across a user copy, so
//!   lockdep sees no chain from one mmap lock to another.
//! - The copies run with no lock held. Only the holder of a [`Buffer`] accesses its bytes
//!   ([`Buffer`] is neither `Clone` nor `Sync`), user space may not free it while the kernel may
//!   access it, and the pages stay allocated while an access is in progress (`accessors`),
//!   even if the process is released meanwhile: the last access then frees them.

use crate::allocator::{RangeAllocator, RangeStats, ReserveNodes, Reserved, UserFreeError};
use core::{cell::Cell, marker::PhantomData, mem::MaybeUninit, ptr::NonNull};
use kernel::{
    bindings,
    mm::{
        virt::{flags, vm_flags_t, VmaMixedMap, VmaNew, VmaRef},
        Mm, MmWithUser,
    },
    new_mutex, new_spinlock,
    page::{BorrowedPage, Page, PAGE_SIZE},
    prelude::*,
    sync::{Mutex, SpinLock},
    types::{ARef, AsBytes, FromBytes},
    uaccess::{UserPtr, UserSlice},
};

/// The largest part of a mapping that holds buffers, as in the C binder (`SZ_4M`).
pub(crate) const MAX_AREA_SIZE: usize = 4 << 20;

/// How many pages [`BufferArea::access`] looks up under one lock.
const PAGES_PER_LOOKUP: usize = 16;

/// The alignment of the sizes of data and offsets, as in the C binder (`sizeof(void *)`).
const ALIGN: usize = core::mem::size_of::<usize>();

/// The VMA flags that tell the buffer mapping from another one at the same addresses: the
/// driver's `mmap` sets `VM_MIXEDMAP` and clears `VM_MAYWRITE`, and neither `mprotect`,
/// `madvise` nor `mlock` changes these.
const VMA_IDENTITY_FLAGS: vm_flags_t = flags::MIXEDMAP
    | flags::MAYWRITE
    | flags::WRITE
    | flags::SHARED
    | flags::MAYSHARE
    | flags::PFNMAP
    | flags::IO;

/// Rounds `size` up to [`ALIGN`]; `None` on overflow.
fn align(size: usize) -> Option<usize> {
    Some(size.checked_add(ALIGN - 1)? & !(ALIGN - 1))
}

/// A buffer of a [`BufferArea`], from [`BufferArea::reserve`].
///
/// Only the holder of a `Buffer` reads or writes its bytes: it is not `Clone`, and not `Sync`,
/// so all the references to it are on one thread.
pub(crate) struct Buffer {
    range: Reserved,
    /// The size of the range: the data and the offsets, each aligned to 8, at least 8.
    size: usize,
    /// The address of the buffer in the receiver's mapping.
    user_address: u64,
    _not_sync: PhantomData<Cell<()>>,
}

/// Pages of an area, looked up under its lock [`PAGES_PER_LOOKUP`] at a time by
/// [`BufferArea::access`].
struct PageBatch {
    /// The index of the first page looked up.
    first: usize,
    /// How many were looked up.
    count: usize,
    /// The pages (`None` for a slot without a page).
    raw: [Option<NonNull<bindings::page>>; PAGES_PER_LOOKUP],
}

impl PageBatch {
    /// A batch of no pages.
    fn new() -> Self {
        PageBatch {
            first: 0,
            count: 0,
            raw: [None; PAGES_PER_LOOKUP],
        }
    }

    /// Looks up, in `pages` (the area's, locked), the pages of `[start, start + len)` from the
    /// one that holds `at`, at most [`PAGES_PER_LOOKUP`] of them. `len` is not 0.
    fn fill(&mut self, pages: &[Option<Page>], start: usize, len: usize, at: usize) {
        // No overflow: the range is inside the area, whose size is at most 4 MiB.
        let last = (start + len - 1) / PAGE_SIZE;
        self.first = at / PAGE_SIZE;
        self.count = (last + 1).saturating_sub(self.first).min(PAGES_PER_LOOKUP);
        for (k, raw) in self.raw.iter_mut().take(self.count).enumerate() {
            *raw = pages
                .get(self.first + k)
                .and_then(|slot| slot.as_ref())
                .map(Page::as_ptr)
                .and_then(NonNull::new);
        }
    }

    /// Whether page `index` was looked up.
    fn has(&self, index: usize) -> bool {
        (self.first..self.first + self.count).contains(&index)
    }

    /// Page `index`, if it was looked up and is there.
    fn get(&self, index: usize) -> Option<NonNull<bindings::page>> {
        if self.has(index) {
            self.raw[index - self.first]
        } else {
            None
        }
    }
}

/// The counts of a [`BufferArea`], for the observable state of a process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BufferStats {
    /// The size of the area (0 before `mmap`).
    pub(crate) size: usize,
    /// The counts of its allocator.
    pub(crate) ranges: RangeStats,
    /// Pages installed.
    pub(crate) pages: usize,
}

/// The VMA of an area, as `mmap` recorded it.
#[derive(Clone, Copy)]
struct Mapping {
    /// The first address of the VMA and of the area.
    start: usize,
    /// The end of the VMA (the area may be shorter, see [`MAX_AREA_SIZE`]).
    vma_end: usize,
    /// `VMA_IDENTITY_FLAGS` of the VMA.
    identity: vm_flags_t,
}

impl Mapping {
    /// Whether `vma` is the VMA that `mmap` set up for the area.
    ///
    /// It checks the bounds and the flags that our `mmap` sets, which user space cannot change.
    /// It cannot tell our VMA from another VMA of a driver that sets the same flags, mapped by
    /// the same process at exactly the same addresses after it unmapped ours (e.g. the area of
    /// another binder-lite file of the process): the abstractions give no access to `vm_file`.
    /// Pages inserted there would be the process's own buffers in the wrong mapping, visible to
    /// no one else; the mapping holds its own references to them, so nothing is freed early.
    fn matches(&self, vma: &VmaRef) -> bool {
        vma.start() == self.start
            && vma.end() == self.vma_end
            && vma.flags() & VMA_IDENTITY_FLAGS == self.identity
    }
}

/// The state of an area.
enum State<T> {
    /// No `mmap` yet.
    Unmapped,
    /// Mapped: buffers may be reserved. `mm` is the receiver's (`mm_count`, not its users).
    Mapped {
        mapping: Mapping,
        mm: ARef<Mm>,
        allocator: RangeAllocator<T>,
    },
    /// The process was released: nothing more is reserved or mapped.
    Released,
}

/// The part of an area that its spinlock protects.
struct Inner<T> {
    state: State<T>,
    /// One entry per page of the area; filled when a buffer first covers the page.
    pages: KVec<Option<Page>>,
    /// The number of pages in `pages`.
    installed: usize,
    /// Accesses to the pages in progress, with the lock dropped; `pages` is not freed while
    /// there is one.
    accessors: usize,
}

/// The buffer area of one process: its mapping, its allocator, its pages.
///
/// `T` is what the driver attaches to each buffer (e.g. the transaction or the target node).
#[pin_data]
pub(crate) struct BufferArea<T> {
    #[pin]
    inner: SpinLock<Inner<T>>,
    /// Held while pages are installed, see "Locking" in the module documentation.
    #[pin]
    install: Mutex<()>,
}

impl<T> BufferArea<T> {
    /// An area without a mapping yet (a process that has not called `mmap`).
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            inner <- new_spinlock!(
                Inner {
                    state: State::Unmapped,
                    pages: KVec::new(),
                    installed: 0,
                    accessors: 0,
                },
                "binder_lite::BufferArea::inner"
            ),
            install <- new_mutex!((), "binder_lite::BufferArea::install"),
        })
    }

    /// From the mmap handler, after the process's own checks: records the mapping (its start,
    /// and a size of `min(len, 4 MiB)`) and the mm (`mmgrab`, not a users count).
    ///
    /// `EPERM` for a mapping that is or may become writable, `EBUSY` if the area is mapped
    /// already (or released), `ENOMEM`. Takes only the spinlock,
    /// see "Locking" in the module documentation.
    pub(crate) fn map(&self, vma: &VmaNew) -> Result {
        // The copies rely on user space never writing to the pages (see `copy_from_user`); the
        // driver refused writable mappings and cleared `VM_MAYWRITE` already.
        if vma.flags() & (flags::WRITE | flags::MAYWRITE) != 0 {
            return Err(EPERM);
        }
        if !matches!(self.inner.lock().state, State::Unmapped) {
            return Err(EBUSY);
        }
        let size = (vma.end() - vma.start()).min(MAX_AREA_SIZE);
        let npages = size / PAGE_SIZE;
        let mut pages = KVec::with_capacity(npages, GFP_KERNEL)?;
        for _ in 0..npages {
            pages.push(None, GFP_KERNEL)?;
        }
        let allocator = RangeAllocator::new(size)?;
        let mapping = Mapping {
            start: vma.start(),
            vma_end: vma.end(),
            identity: vma.flags() & VMA_IDENTITY_FLAGS,
        };
        let mm = vma.mm().mmgrab();
        let mut inner = self.inner.lock();
        if !matches!(inner.state, State::Unmapped) {
            drop(inner);
            return Err(EBUSY);
        }
        inner.state = State::Mapped {
            mapping,
            mm,
            allocator,
        };
        // The empty vector that is replaced does not own memory.
        inner.pages = pages;
        Ok(())
    }

    /// Reserves a buffer as `binder_alloc_new_buf()` does and installs its pages.
    ///
    /// The size is the data and the offsets, each aligned to 8, at least 8; one-way buffers
    /// together use at most half of the area. Errors, as in C: `ESRCH` when not mapped (or no
    /// longer: the mapping was unmapped or the process's address space is gone), `EINVAL` if
    /// the size overflows, `ENOSPC` when no free range is large enough, `ENOMEM`. Call it with
    /// no lock held: it allocates and takes the receiver's mmap lock. `data` is dropped on
    /// failure.
    pub(crate) fn reserve(
        &self,
        data_size: usize,
        offsets_size: usize,
        is_oneway: bool,
        data: T,
    ) -> Result<Buffer> {
        // The tree nodes that earlier frees left over, if there are.
        let spare = match &mut self.inner.lock().state {
            State::Mapped { allocator, .. } => allocator.take_spare_nodes(),
            _ => return Err(ESRCH),
        };
        // C checks that the mapping is there before anything else; we check it only when the
        // reservation fails (else installing the pages checks it), and answer as C would.
        let size = align(data_size)
            .zip(align(offsets_size))
            .and_then(|(data, offsets)| data.checked_add(offsets))
            .ok_or_else(|| self.error_unless_unmapped(EINVAL))?
            .max(ALIGN);
        let nodes = match spare {
            Some(nodes) => nodes,
            None => ReserveNodes::new().map_err(|e| self.error_unless_unmapped(e))?,
        };
        let result = match &mut self.inner.lock().state {
            State::Mapped {
                mapping, allocator, ..
            } => allocator
                .reserve(size, is_oneway, data, nodes)
                .map(|range| (range, mapping.start)),
            _ => Err((ESRCH, data)),
        };
        // `data` is dropped here on failure, with the lock released (the allocator keeps the
        // nodes).
        let (range, start) = result.map_err(|(e, data)| {
            drop(data);
            self.error_unless_unmapped(e)
        })?;
        let buffer = Buffer {
            range,
            size,
            // No overflow: the range is inside the mapping.
            user_address: (start + range.offset) as u64,
            _not_sync: PhantomData,
        };
        if let Err(e) = self.install_pages(range.offset, size) {
            drop(self.free(buffer));
            return Err(e);
        }
        Ok(buffer)
    }

    /// Whether the mapping that `mmap` set up is still there (C's `binder_alloc_get_vma()`):
    /// neither unmapped nor replaced, and the process's address space not gone. Takes the
    /// process's mmap read lock: call it with no lock held.
    pub(crate) fn is_mapped(&self) -> bool {
        let (mapping, mm) = match &self.inner.lock().state {
            State::Mapped { mapping, mm, .. } => (*mapping, mm.clone()),
            _ => return false,
        };
        // Declared before the lock guard, so that the last `mmput` runs after the unlock; an
        // asynchronous one (see `install_pages`).
        let Some(mm) = mm.mmget_not_zero().map(MmWithUser::into_mmput_async) else {
            return false;
        };
        let mmap = mm.mmap_read_lock();
        mmap.vma_lookup(mapping.start)
            .is_some_and(|vma| mapping.matches(vma))
    }

    /// `error`, or `ESRCH` if the mapping is gone: C answers that first.
    fn error_unless_unmapped(&self, error: Error) -> Error {
        if error == ESRCH || self.is_mapped() {
            error
        } else {
            ESRCH
        }
    }

    /// Installs the pages that cover `[offset, offset + size)` of the area and are not
    /// installed yet; checks that the mapping is still there.
    ///
    /// When every page is installed already (the usual case: pages stay until release), as
    /// in C, it neither takes the `install` mutex nor the mmap lock: the check of the mapping
    /// takes only the VMA's own lock, where the kernel has per-VMA locks and it is free.
    fn install_pages(&self, offset: usize, size: usize) -> Result {
        let first = offset / PAGE_SIZE;
        // No overflow: the range is inside the area, whose size is at most 4 MiB.
        let end = (offset + size).div_ceil(PAGE_SIZE);
        let (mapping, mm, installed) = {
            let inner = self.inner.lock();
            match &inner.state {
                State::Mapped { mapping, mm, .. } => (
                    *mapping,
                    mm.clone(),
                    inner
                        .pages
                        .get(first..end)
                        .is_some_and(|slots| slots.iter().all(Option::is_some)),
                ),
                _ => return Err(ESRCH),
            }
        };
        // As in C: a process whose address space is gone gets `ESRCH`. Declared before the
        // locks, so that the last `mmput` (if the process exited meanwhile) runs without them.
        // That `mmput` is asynchronous, as C's (`mmput_async`): done here, it would close the
        // process's file from this thread's task work, which runs only when this thread
        // returns to user space. A sender that then waits for its reply would never see the
        // dead process released: no `BR_DEAD_REPLY`, no `BR_DEAD_BINDER` for anyone.
        let mm = mm
            .mmget_not_zero()
            .map(MmWithUser::into_mmput_async)
            .ok_or(ESRCH)?;
        if installed {
            if let Some(vma) = mm.lock_vma_under_rcu(mapping.start) {
                // The VMA that contains the area's start: ours unless it was replaced.
                return if mapping.matches(&vma) {
                    Ok(())
                } else {
                    Err(ESRCH)
                };
            }
        }
        let _install = self.install.lock();
        let mmap = mm.mmap_read_lock();
        // The C binder forgets its VMA when it is closed and then answers `ESRCH`.
        let start = mapping.start;
        let vma = mmap
            .vma_lookup(start)
            .filter(|vma| mapping.matches(vma))
            .and_then(VmaRef::as_mixedmap_vma)
            .ok_or(ESRCH)?;
        for index in first..end {
            self.install_page(vma, start, index)?;
        }
        Ok(())
    }

    /// Installs page `index` of the area in `vma`, unless it is installed already.
    fn install_page(&self, vma: &VmaMixedMap, start: usize, index: usize) -> Result {
        {
            let inner = self.inner.lock();
            if !matches!(inner.state, State::Mapped { .. }) {
                return Err(ESRCH);
            }
            if inner.pages.get(index).ok_or(EINVAL)?.is_some() {
                return Ok(());
            }
        }
        // Zeroed: the previous contents of the page must not reach user space.
        let page = Page::alloc_page(GFP_KERNEL | __GFP_HIGHMEM | __GFP_ZERO)?;
        // As in C, a page that cannot be inserted gives `ENOMEM`.
        vma.vm_insert_page(start + index * PAGE_SIZE, &page)
            .map_err(|_| ENOMEM)?;
        let mut inner = self.inner.lock();
        let mapped = matches!(inner.state, State::Mapped { .. });
        let unused = match inner.pages.get_mut(index) {
            Some(slot @ None) if mapped => {
                *slot = Some(page);
                None
            }
            _ => Some(page),
        };
        if unused.is_none() {
            inner.installed += 1;
        }
        drop(inner);
        // Released meanwhile: the mapping holds its own reference, ours goes.
        drop(unused);
        Ok(())
    }

    /// Copies `len` bytes of the current task's user memory at `src` (the sender's) into the
    /// buffer at `offset`, straight into the receiver's pages (no kernel copy).
    ///
    /// `EINVAL` if the range is outside the buffer, or the buffer may no longer be accessed
    /// (freed, released, or user space may free it); `EFAULT` if the user memory cannot be read
    /// (part of the range may then have been written).
    pub(crate) fn copy_from_user(
        &self,
        buffer: &Buffer,
        offset: usize,
        src: UserPtr,
        len: usize,
    ) -> Result {
        let mut reader = UserSlice::new(src, len).reader();
        self.access(buffer, offset, len, |page, in_page, chunk, _done| {
            // SAFETY: No kernel code accesses these bytes meanwhile, see `access`. User space
            // can only read them, which `copy_from_user_slice_raw` allows: the pages are only
            // inserted in a VMA without `VM_WRITE` and `VM_MAYWRITE` (`install_pages` checks
            // it; a copy made by `fork` keeps these flags), so neither `mprotect` nor a forced
            // write (`/proc/<pid>/mem`, ptrace) reaches them.
            unsafe { page.copy_from_user_slice_raw(&mut reader, in_page, chunk) }
        })
    }

    /// Reads a value at `offset` of the buffer (object translation in place).
    ///
    /// `EINVAL` as for [`BufferArea::copy_from_user`].
    pub(crate) fn read<V: FromBytes>(&self, buffer: &Buffer, offset: usize) -> Result<V> {
        let mut value = MaybeUninit::<V>::uninit();
        let dst = value.as_mut_ptr().cast::<u8>();
        self.access(
            buffer,
            offset,
            core::mem::size_of::<V>(),
            |page, in_page, chunk, done| {
                // SAFETY: `dst + done` is valid for writing `chunk` bytes, since
                // `done + chunk <= size_of::<V>()`, and is not in the pages. No kernel code
                // accesses the bytes read meanwhile, see `access`; user space may, which
                // `read_raw` allows.
                unsafe { page.read_raw(dst.add(done), in_page, chunk) }
            },
        )?;
        // SAFETY: `access` returned `Ok`, so all `size_of::<V>()` bytes were written, from page
        // memory, whose bytes are all initialised; every bit pattern is a valid `V`.
        Ok(unsafe { value.assume_init() })
    }

    /// Writes `value` at `offset` of the buffer (object translation in place).
    ///
    /// `EINVAL` as for [`BufferArea::copy_from_user`].
    pub(crate) fn write<V: AsBytes>(&self, buffer: &Buffer, offset: usize, value: &V) -> Result {
        let src = core::ptr::from_ref(value).cast::<u8>();
        self.access(
            buffer,
            offset,
            core::mem::size_of::<V>(),
            |page, in_page, chunk, done| {
                // SAFETY: `src + done` is valid for reading `chunk` bytes, since
                // `done + chunk <= size_of::<V>()`, and they are initialised (`V: AsBytes`) and
                // not in the pages. No kernel code accesses the bytes written meanwhile, see
                // `access`; user space may, which `write_raw` allows.
                unsafe { page.write_raw(src.add(done), in_page, chunk) }
            },
        )
    }

    /// Calls `f(page, offset in page, length, bytes done before)` for each page of
    /// `[offset, offset + len)` of `buffer`, with no lock held.
    ///
    /// While `f` runs, no other kernel code accesses these bytes: they belong to `buffer`, which
    /// is in use and not freeable by user space (checked here), and only its holder accesses
    /// them, on one thread (`Buffer` is not `Sync`); it cannot be freed meanwhile (that takes
    /// the `Buffer` by value, or user space after `set_user_may_free(&buffer)`, which the holder
    /// is not running), and a release meanwhile leaves the pages to this access.
    fn access(
        &self,
        buffer: &Buffer,
        offset: usize,
        len: usize,
        mut f: impl FnMut(&Page, usize, usize, usize) -> Result,
    ) -> Result {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if end > buffer.size {
            return Err(EINVAL);
        }
        let start = buffer.range.offset + offset;
        let mut batch = PageBatch::new();
        {
            let mut inner = self.inner.lock();
            let owned = match &inner.state {
                State::Mapped { allocator, .. } => allocator.kernel_owned_size(buffer.range),
                _ => None,
            };
            if owned != Some(buffer.size) {
                return Err(EINVAL);
            }
            if len == 0 {
                return Ok(());
            }
            inner.accessors += 1;
            // The first pages, in the same lock hold.
            batch.fill(&inner.pages, start, len, start);
        }
        let result = self.access_pages(start, len, &mut batch, &mut f);
        let pages = {
            let mut inner = self.inner.lock();
            inner.accessors -= 1;
            if inner.accessors == 0 && matches!(inner.state, State::Released) {
                inner.installed = 0;
                core::mem::take(&mut inner.pages)
            } else {
                KVec::new()
            }
        };
        // Freed with the lock released.
        drop(pages);
        result
    }

    /// The loop of [`BufferArea::access`]: `start` is an offset in the area, `batch` the pages
    /// looked up so far.
    ///
    /// It looks the pages up [`PAGES_PER_LOOKUP`] at a time, each time under the lock, so that
    /// a large buffer costs a lock per batch of pages rather than per page.
    fn access_pages(
        &self,
        start: usize,
        len: usize,
        batch: &mut PageBatch,
        f: &mut impl FnMut(&Page, usize, usize, usize) -> Result,
    ) -> Result {
        let mut done = 0;
        while done < len {
            let at = start + done;
            if !batch.has(at / PAGE_SIZE) {
                batch.fill(&self.inner.lock().pages, start, len, at);
            }
            let in_page = at % PAGE_SIZE;
            let chunk = (PAGE_SIZE - in_page).min(len - done);
            let Some(raw) = batch.get(at / PAGE_SIZE) else {
                // `reserve` installed every page of the buffer before returning it.
                pr_err!("binder-lite: a page of a buffer in use is not installed\n");
                return Err(EFAULT);
            };
            // SAFETY: The page is in `pages`, which is not freed while `accessors` counts this
            // access (see `access`), and `page` does not outlive it; a page in `pages` is not
            // replaced (its slot is only filled when empty), so the pointer looked up earlier
            // under the lock is still the page of this slot.
            let page = unsafe { BorrowedPage::from_raw(raw) };
            f(&page, in_page, chunk, done)?;
            done += chunk;
        }
        Ok(())
    }

    /// The address user space sees for the buffer's data (`BR_TRANSACTION`'s
    /// `data.ptr.buffer`); the offsets follow the data, aligned to 8.
    pub(crate) fn user_address(&self, buffer: &Buffer) -> u64 {
        buffer.user_address
    }

    /// `BC_FREE_BUFFER`: frees the buffer whose data is at the user address `address`, if user
    /// space may free it now, and returns its `T`. The range is free once this returns: `T`
    /// must own whatever the buffer's objects hold.
    ///
    /// The C binder's answers: a buffer it never allocated, one freed already or an address
    /// inside a buffer is no match (here `ENOENT`); a buffer not delivered yet, or being freed,
    /// is refused (`EPERM`). The C binder logs both as user errors and goes on with the next
    /// command, the caller should too.
    pub(crate) fn free_by_user_address(&self, address: u64) -> Result<T> {
        let mut inner = self.inner.lock();
        let State::Mapped {
            mapping, allocator, ..
        } = &mut inner.state
        else {
            return Err(ENOENT);
        };
        let offset = usize::try_from(address)
            .ok()
            .and_then(|address| address.checked_sub(mapping.start))
            .ok_or(ENOENT)?;
        allocator.free_by_user(offset).map_err(|e| match e {
            UserFreeError::NoMatch => ENOENT,
            UserFreeError::NotAllowed => EPERM,
        })
    }

    /// Frees a buffer the kernel owns (a failed transaction, process teardown) and returns its
    /// `T`; `None` if it was freed already (by user space, or by [`BufferArea::release`]).
    pub(crate) fn free(&self, buffer: Buffer) -> Option<T> {
        match &mut self.inner.lock().state {
            State::Mapped { allocator, .. } => allocator.free(buffer.range),
            _ => None,
        }
    }

    /// Lets user space free the buffer (when it is delivered). The kernel may no longer read
    /// or write it.
    pub(crate) fn set_user_may_free(&self, buffer: &Buffer) {
        if let State::Mapped { allocator, .. } = &mut self.inner.lock().state {
            allocator.set_user_may_free(buffer.range);
        }
    }

    /// Counts for the observable state: bytes in use, free bytes, buffers, pages installed.
    pub(crate) fn stats(&self) -> BufferStats {
        let inner = self.inner.lock();
        match &inner.state {
            State::Mapped { allocator, .. } => {
                let ranges = allocator.stats();
                BufferStats {
                    size: ranges.used_bytes + ranges.free_bytes,
                    ranges,
                    pages: inner.installed,
                }
            }
            _ => BufferStats {
                pages: inner.installed,
                ..BufferStats::default()
            },
        }
    }

    /// At release: frees every buffer and page, and returns the `T`s for the driver to tear
    /// down. Nothing can be reserved afterwards (`ESRCH`). If the vector of `T`s cannot be
    /// allocated, they are dropped here instead.
    pub(crate) fn release(&self) -> KVec<T> {
        let (state, pages) = {
            let mut inner = self.inner.lock();
            let state = core::mem::replace(&mut inner.state, State::Released);
            let pages = if inner.accessors == 0 {
                inner.installed = 0;
                core::mem::take(&mut inner.pages)
            } else {
                // The last access frees them.
                KVec::new()
            };
            (state, pages)
        };
        drop(pages);
        let State::Mapped { mm, allocator, .. } = state else {
            return KVec::new();
        };
        // The mm is dropped (`mmdrop`, which may sleep) with no lock held.
        drop(mm);
        let count = allocator.stats().used_ranges;
        let mut data = KVec::with_capacity(count, GFP_KERNEL).unwrap_or_else(|_| KVec::new());
        for item in allocator.into_used() {
            // Cannot fail when the capacity was allocated; otherwise `item` is dropped.
            let _ = data.push(item, GFP_NOWAIT | __GFP_NOWARN);
        }
        data
    }
}
