// SPDX-License-Identifier: GPL-2.0

//! Rust misc device sample that maps kernel pages read-only into userspace.
//!
//! Each open of `/dev/rust-misc-mmap` gets its own buffer of [`NUM_PAGES`] zeroed pages.
//! [`RUST_MISC_MMAP_FILL`] fills page `i` with the byte `pattern + i`,
//! [`RUST_MISC_MMAP_GET_SIZE`] returns the size of the buffer, and `mmap` maps the buffer
//! read-only and shared: writable mappings fail with `EPERM` (and so does a later
//! `mprotect(PROT_WRITE)`), private mappings, mappings larger than the buffer and mappings at a
//! non-zero offset fail with `EINVAL`.

use core::mem::size_of;
use kernel::{
    c_str,
    ioctl::{_IOR, _IOW},
    miscdevice::{MiscDevice, MiscDeviceFileOps, MiscDeviceOptions, MiscDeviceRegistration},
    mm::virt::{flags, VmaNew},
    new_mutex,
    page::{Page, PAGE_SIZE},
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex},
    uaccess::UserSlice,
};

module! {
    type: RustMiscMmapModule,
    name: "rust_misc_mmap",
    author: "Rust for Linux Contributors",
    description: "Rust misc device with a read-only mmap",
    license: "GPL",
}

/// Number of pages in the buffer of each open file.
const NUM_PAGES: usize = 4;

/// Fills page `i` of the buffer with the byte `pattern + i` (a `u32`, of which the low byte is
/// used).
const RUST_MISC_MMAP_FILL: u32 = _IOW::<u32>('R' as u32, 1);

/// Writes the size of the buffer in bytes (a `u64`) to the argument.
const RUST_MISC_MMAP_GET_SIZE: u32 = _IOR::<u64>('R' as u32, 2);

/// The file operations of `/dev/rust-misc-mmap`: a `static` of this module, which owns them.
static FOPS: MiscDeviceFileOps<RustMiscMmap> = MiscDeviceFileOps::new(&THIS_MODULE);

struct RustMiscMmapModule {
    _misc: Pin<KBox<MiscDeviceRegistration<RustMiscMmap>>>,
}

impl kernel::Module for RustMiscMmapModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let misc = KBox::pin_init(
            MiscDeviceRegistration::register(
                &FOPS,
                MiscDeviceOptions {
                    name: c_str!("rust-misc-mmap"),
                },
            ),
            GFP_KERNEL,
        )?;
        pr_info!("registered /dev/rust-misc-mmap, minor {}\n", misc.minor());
        Ok(RustMiscMmapModule { _misc: misc })
    }
}

/// The buffer of one open file.
#[pin_data]
struct RustMiscMmap {
    /// The pages of the buffer; the list never changes after `open`.
    pages: KVec<Page>,
    /// Serialises writes to the pages; holds the last pattern.
    #[pin]
    pattern: Mutex<u8>,
}

impl RustMiscMmap {
    fn fill(&self, pattern: u8) -> Result {
        let mut guard = self.pattern.lock();
        for (i, page) in self.pages.iter().enumerate() {
            let chunk = [pattern.wrapping_add(i as u8); 64];
            for offset in (0..PAGE_SIZE).step_by(chunk.len()) {
                // SAFETY: `chunk` is valid for reads of `chunk.len()` bytes and does not overlap
                // the page. Writers of the page hold `pattern`'s lock, so no other kernel thread
                // accesses it concurrently; userspace may read it through a mapping, which only
                // sees bytes that are either old or new.
                unsafe { page.write_raw(chunk.as_ptr(), offset, chunk.len())? };
            }
        }
        *guard = pattern;
        Ok(())
    }
}

#[vtable]
impl MiscDevice for RustMiscMmap {
    type Ptr = Arc<Self>;

    fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Self>> {
        let mut pages = KVec::with_capacity(NUM_PAGES, GFP_KERNEL)?;
        for _ in 0..NUM_PAGES {
            // Zeroed, so userspace never sees old kernel data.
            pages.push(Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?, GFP_KERNEL)?;
        }
        Arc::pin_init(
            try_pin_init!(RustMiscMmap {
                pages,
                pattern <- new_mutex!(0),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(device: ArcBorrow<'_, Self>, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            RUST_MISC_MMAP_FILL => {
                let pattern: u32 = UserSlice::new(arg, size_of::<u32>()).reader().read()?;
                device.fill(pattern as u8)?;
                Ok(0)
            }
            RUST_MISC_MMAP_GET_SIZE => {
                let size = (device.pages.len() * PAGE_SIZE) as u64;
                UserSlice::new(arg, size_of::<u64>())
                    .writer()
                    .write(&size)?;
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }

    fn mmap(device: ArcBorrow<'_, Self>, vma: &VmaNew) -> Result {
        // Refuse writable mappings, and make sure `mprotect` cannot make this one writable.
        vma.try_clear_maywrite()?;
        if vma.flags() & flags::MAYSHARE == 0 || vma.pgoff() != 0 {
            return Err(EINVAL);
        }
        let len = vma.end() - vma.start();
        if len > device.pages.len() * PAGE_SIZE {
            return Err(EINVAL);
        }
        vma.set_dontcopy();
        vma.set_dontexpand();
        let vma = vma.set_mixedmap();
        let pages = device.pages.iter().take(len.div_ceil(PAGE_SIZE));
        for (i, page) in pages.enumerate() {
            vma.vm_insert_page(vma.start() + i * PAGE_SIZE, page)?;
        }
        Ok(())
    }
}
