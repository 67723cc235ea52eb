//! Checks of the Rust misc device sample, `/dev/rust-misc-mmap` (samples/rust/rust_misc_mmap.rs).

use crate::fd::{errno, ioc, Fd, IOC_NONE, IOC_READ, IOC_WRITE};
use std::io;

const DEVICE: &str = "/dev/rust-misc-mmap";

/// `_IOW('R', 1, u32)`: fills page `i` of the buffer with the byte `pattern + i`.
const RUST_MISC_MMAP_FILL: libc::c_ulong = ioc(IOC_WRITE, b'R', 1, 4);
/// `_IOR('R', 2, u64)`: the size of the buffer in bytes.
const RUST_MISC_MMAP_GET_SIZE: libc::c_ulong = ioc(IOC_READ, b'R', 2, 8);
/// `_IO('R', 99)`: a command the device does not know.
const RUST_MISC_MMAP_BAD: libc::c_ulong = ioc(IOC_NONE, b'R', 99, 0);
/// Pages in the buffer of each open file.
const NUM_PAGES: usize = 4;

fn page_size() -> usize {
    // SAFETY: `sysconf` has no memory-safety preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}

/// The device, opened read-write so that only the driver can keep a shared mapping from
/// becoming writable.
struct Device(Fd);

impl Device {
    fn open() -> Result<Device, String> {
        Fd::open(DEVICE).map(Device)
    }

    /// Issues `request` with a pointer to `arg`; returns the errno on failure.
    fn ioctl<T>(&self, request: libc::c_ulong, arg: &mut T) -> Result<(), i32> {
        self.0.ioctl(request, arg)
    }

    fn fill(&self, pattern: u32) -> Result<(), String> {
        let mut pattern = pattern;
        self.ioctl(RUST_MISC_MMAP_FILL, &mut pattern)
            .map_err(|e| format!("fill ioctl: errno {e}"))
    }

    /// Maps `len` bytes at `offset`; returns the errno on failure.
    fn mmap(&self, len: usize, prot: libc::c_int, offset: libc::off_t) -> Result<Mapping, i32> {
        // SAFETY: A new mapping at an address the kernel chooses touches no existing memory.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                self.0.raw(),
                offset,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(errno());
        }
        Ok(Mapping { addr, len })
    }
}

/// A mapping, unmapped on drop.
struct Mapping {
    addr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is readable, `len` bytes long and lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.addr.cast::<u8>(), self.len) }
    }

    fn unmap(mut self) -> Result<(), String> {
        let len = std::mem::take(&mut self.len);
        // SAFETY: we own the mapping and nothing refers to it any more.
        let r = unsafe { libc::munmap(self.addr, len) };
        if r < 0 {
            return Err(format!("munmap: {}", io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: we own the mapping and nothing refers to it any more.
            unsafe { libc::munmap(self.addr, self.len) };
        }
    }
}

/// Expects `outcome` to be the error `want`.
fn expect_errno<T>(what: &str, outcome: Result<T, i32>, want: i32) -> Result<(), String> {
    match outcome {
        Err(e) if e == want => Ok(()),
        Err(e) => Err(format!("{what}: errno {e}, expected {want}")),
        Ok(_) => Err(format!("{what} succeeded, expected errno {want}")),
    }
}

fn buffer_size(dev: &Device) -> Result<usize, String> {
    let mut size: u64 = 0;
    dev.ioctl(RUST_MISC_MMAP_GET_SIZE, &mut size)
        .map_err(|e| format!("size ioctl: errno {e}"))?;
    usize::try_from(size).map_err(|e| e.to_string())
}

fn misc_mmap_reads_the_pattern() -> Result<(), String> {
    let dev = Device::open()?;
    let size = buffer_size(&dev)?;
    if size != NUM_PAGES * page_size() {
        return Err(format!(
            "buffer size {size}, expected {}",
            NUM_PAGES * page_size()
        ));
    }
    let map = dev
        .mmap(size, libc::PROT_READ, 0)
        .map_err(|e| format!("read-only mmap: errno {e}"))?;
    if let Some(i) = map.bytes().iter().position(|&b| b != 0) {
        return Err(format!("byte {i} of a new buffer is not zero"));
    }
    // The mapping shows the pages themselves, so a fill after mmap is visible through it.
    for pattern in [0x5au32, 0xa5, 0x1ff] {
        dev.fill(pattern)?;
        for (i, &b) in map.bytes().iter().enumerate() {
            let want = (pattern as u8).wrapping_add((i / page_size()) as u8);
            if b != want {
                return Err(format!(
                    "pattern {pattern:#x}: byte {i} is {b:#x}, expected {want:#x}"
                ));
            }
        }
    }
    map.unmap()?;
    drop(dev);
    Ok(())
}

fn misc_writable_mmap_is_refused() -> Result<(), String> {
    let dev = Device::open()?;
    expect_errno(
        "writable shared mmap",
        dev.mmap(page_size(), libc::PROT_READ | libc::PROT_WRITE, 0),
        libc::EPERM,
    )
}

fn misc_mprotect_write_is_refused() -> Result<(), String> {
    let dev = Device::open()?;
    let map = dev
        .mmap(page_size(), libc::PROT_READ, 0)
        .map_err(|e| format!("read-only mmap: errno {e}"))?;
    // SAFETY: `map` is our own mapping; nothing else uses it.
    let r = unsafe { libc::mprotect(map.addr, map.len, libc::PROT_READ | libc::PROT_WRITE) };
    let outcome = if r < 0 { Err(errno()) } else { Ok(()) };
    expect_errno("mprotect(PROT_WRITE)", outcome, libc::EACCES)?;
    map.unmap()
}

fn misc_oversized_mmap_is_refused() -> Result<(), String> {
    let dev = Device::open()?;
    expect_errno(
        "mmap larger than the buffer",
        dev.mmap((NUM_PAGES + 1) * page_size(), libc::PROT_READ, 0),
        libc::EINVAL,
    )
}

fn misc_offset_mmap_is_refused() -> Result<(), String> {
    let dev = Device::open()?;
    let offset = libc::off_t::try_from(page_size()).map_err(|e| e.to_string())?;
    expect_errno(
        "mmap at a non-zero offset",
        dev.mmap(page_size(), libc::PROT_READ, offset),
        libc::EINVAL,
    )
}

fn misc_unknown_ioctl_is_enotty() -> Result<(), String> {
    let dev = Device::open()?;
    let mut unused: u64 = 0;
    expect_errno(
        "unknown ioctl",
        dev.ioctl(RUST_MISC_MMAP_BAD, &mut unused),
        libc::ENOTTY,
    )
}

/// The module that implements the device.
const MODULE: &str = "rust_misc_mmap";

/// The module's reference count, from sysfs.
fn module_refcount() -> Result<u32, String> {
    let path = format!("/sys/module/{MODULE}/refcnt");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    text.trim().parse().map_err(|e| format!("{path}: {e}"))
}

/// Tries to unload the module without waiting; returns the errno on failure.
fn try_unload() -> Result<(), i32> {
    let name = std::ffi::CString::new(MODULE).map_err(|_| libc::EINVAL)?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let r = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Expects the module to be pinned (one reference, unload refused) while `what` holds it.
fn expect_pinned(what: &str) -> Result<(), String> {
    let count = module_refcount()?;
    if count != 1 {
        return Err(format!("{what}: module refcount {count}, expected 1"));
    }
    expect_errno(
        &format!("rmmod {MODULE} with {what}"),
        try_unload(),
        libc::EWOULDBLOCK,
    )
}

/// The file operations are owned by the module: it cannot be unloaded while a file of the
/// device is open, or while a mapping (which holds the file) exists after the file is closed.
fn misc_rmmod_refused_while_open_or_mapped() -> Result<(), String> {
    let before = module_refcount()?;
    if before != 0 {
        return Err(format!("module refcount {before} with no file open"));
    }
    let dev = Device::open()?;
    expect_pinned("a file open")?;
    let map = dev
        .mmap(page_size(), libc::PROT_READ, 0)
        .map_err(|e| format!("read-only mmap: errno {e}"))?;
    drop(dev);
    expect_pinned("the file closed but mapped")?;
    map.unmap()?;
    let after = module_refcount()?;
    if after != 0 {
        return Err(format!("module refcount {after} after the last unmap"));
    }
    Ok(())
}

/// A test: `Err` carries the reason it failed.
pub type Test = fn() -> Result<(), String>;

/// The tests of this module, in order.
pub const TESTS: &[(&str, Test)] = &[
    ("misc_mmap_reads_the_pattern", misc_mmap_reads_the_pattern),
    (
        "misc_writable_mmap_is_refused",
        misc_writable_mmap_is_refused,
    ),
    (
        "misc_mprotect_write_is_refused",
        misc_mprotect_write_is_refused,
    ),
    (
        "misc_oversized_mmap_is_refused",
        misc_oversized_mmap_is_refused,
    ),
    ("misc_offset_mmap_is_refused", misc_offset_mmap_is_refused),
    ("misc_unknown_ioctl_is_enotty", misc_unknown_ioctl_is_enotty),
    (
        "misc_rmmod_refused_while_open_or_mapped",
        misc_rmmod_refused_while_open_or_mapped,
    ),
];
