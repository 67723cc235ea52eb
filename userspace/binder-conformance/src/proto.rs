//! The binder protocol of `include/uapi/linux/android/binder.h`, as user space issues it.

use vmtest::fd::{errno, ioc, Fd, IOC_NONE, IOC_READWRITE, IOC_WRITE};

/// `_IO(kind, nr)`.
const fn io(kind: u8, nr: u8) -> u32 {
    ioc(IOC_NONE, kind, nr, 0) as u32
}

pub const BINDER_WRITE_READ: libc::c_ulong = ioc(IOC_READWRITE, b'b', 1, 48);
pub const BINDER_SET_IDLE_TIMEOUT: libc::c_ulong = ioc(IOC_WRITE, b'b', 3, 8);
pub const BINDER_SET_MAX_THREADS: libc::c_ulong = ioc(IOC_WRITE, b'b', 5, 4);
pub const BINDER_SET_CONTEXT_MGR: libc::c_ulong = ioc(IOC_WRITE, b'b', 7, 4);
pub const BINDER_THREAD_EXIT: libc::c_ulong = ioc(IOC_WRITE, b'b', 8, 4);
pub const BINDER_VERSION: libc::c_ulong = ioc(IOC_READWRITE, b'b', 9, 4);
pub const BINDER_GET_NODE_INFO_FOR_REF: libc::c_ulong = ioc(IOC_READWRITE, b'b', 12, 24);
pub const BINDER_SET_CONTEXT_MGR_EXT: libc::c_ulong = ioc(IOC_WRITE, b'b', 13, 24);
pub const BINDER_ENABLE_ONEWAY_SPAM_DETECTION: libc::c_ulong = ioc(IOC_WRITE, b'b', 16, 4);
pub const BINDER_GET_EXTENDED_ERROR: libc::c_ulong = ioc(IOC_READWRITE, b'b', 17, 12);
/// `_IOWR('b', 1, struct binderfs_device)` of `include/uapi/linux/android/binderfs.h`.
pub const BINDER_CTL_ADD: libc::c_ulong = ioc(IOC_READWRITE, b'b', 1, 264);

/// The size of mapping libbinder and rsbinder make: 1 MiB - 2 pages.
pub const MAP_1M: usize = (1 << 20) - 2 * 4096;

/// The protocol version of 64-bit binder.
pub const PROTOCOL_VERSION: i32 = 8;

pub const BR_OK: u32 = io(b'r', 1);
pub const BR_NOOP: u32 = io(b'r', 12);
pub const BR_SPAWN_LOOPER: u32 = io(b'r', 13);
/// `_IOW('c', 10, struct binder_pri_desc)`: refused by the C binder.
pub const BC_ATTEMPT_ACQUIRE: u32 = ioc(IOC_WRITE, b'c', 10, 8) as u32;
pub const BC_REGISTER_LOOPER: u32 = io(b'c', 11);
pub const BC_ENTER_LOOPER: u32 = io(b'c', 12);
pub const BC_EXIT_LOOPER: u32 = io(b'c', 13);

/// `struct binder_write_read`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteRead {
    pub write_size: u64,
    pub write_consumed: u64,
    pub write_buffer: u64,
    pub read_size: u64,
    pub read_consumed: u64,
    pub read_buffer: u64,
}

/// `struct flat_binder_object`, here only the argument of `BINDER_SET_CONTEXT_MGR_EXT`.
#[repr(C)]
#[derive(Default)]
pub struct FlatBinderObject {
    pub kind: u32,
    pub flags: u32,
    pub binder: u64,
    pub cookie: u64,
}

/// `struct binderfs_device`.
#[repr(C)]
pub struct BinderfsDevice {
    pub name: [u8; 256],
    pub major: u32,
    pub minor: u32,
}

/// The name of an errno the checks expect, for readable records.
pub fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EPERM => "EPERM",
        libc::EINTR => "EINTR",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

/// `ok` or the errno's name.
pub fn outcome(r: Result<(), i32>) -> String {
    match r {
        Ok(()) => "ok".into(),
        Err(e) => errno_name(e),
    }
}

/// One `BINDER_WRITE_READ` call: the commands of `write` and a read buffer of `read.len()`
/// words, with `read_consumed` starting at `read_consumed`.
pub struct Call<'a> {
    pub write: &'a [u32],
    pub read: &'a mut [u32],
    pub read_consumed: u64,
}

/// What a `BINDER_WRITE_READ` call returned and wrote back.
#[derive(Debug)]
pub struct Returned {
    pub result: Result<(), i32>,
    pub bwr: WriteRead,
}

impl Call<'_> {
    /// Issues the call on `fd`.
    pub fn issue(self, fd: &Fd) -> Returned {
        let mut bwr = WriteRead {
            write_size: std::mem::size_of_val(self.write) as u64,
            write_consumed: 0,
            write_buffer: self.write.as_ptr() as u64,
            read_size: std::mem::size_of_val(self.read) as u64,
            read_consumed: self.read_consumed,
            read_buffer: self.read.as_mut_ptr() as u64,
        };
        let result = fd.ioctl(BINDER_WRITE_READ, &mut bwr);
        Returned { result, bwr }
    }
}

/// Opens the binder device at `path`.
pub fn open(path: &str) -> Result<Fd, String> {
    Fd::open(path)
}

/// Maps `len` bytes of `fd` with `prot` and `flags`; returns the address or the errno.
pub fn mmap(fd: &Fd, len: usize, prot: i32, flags: i32) -> Result<usize, i32> {
    // SAFETY: a new mapping at an address the kernel chooses does not touch existing memory.
    let addr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd.raw(), 0) };
    if addr == libc::MAP_FAILED {
        return Err(errno());
    }
    Ok(addr as usize)
}

/// Unmaps a mapping made by [`mmap`].
pub fn munmap(addr: usize, len: usize) -> Result<(), i32> {
    // SAFETY: the range is a mapping of a binder device that no Rust reference points into.
    if unsafe { libc::munmap(addr as *mut libc::c_void, len) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// `mprotect` of a mapping made by [`mmap`].
pub fn mprotect(addr: usize, len: usize, prot: i32) -> Result<(), i32> {
    // SAFETY: the range is a mapping of a binder device that no Rust reference points into.
    if unsafe { libc::mprotect(addr as *mut libc::c_void, len, prot) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Whether `addr` is mapped in this process (`mincore`), without touching it.
pub fn mincore(addr: usize, len: usize) -> Result<(), i32> {
    let mut vec = [0u8; 4];
    // SAFETY: `vec` has room for the 4 pages the checks ask about at most.
    if unsafe {
        libc::mincore(
            addr as *mut libc::c_void,
            len.min(4 * 4096),
            vec.as_mut_ptr(),
        )
    } < 0
    {
        return Err(errno());
    }
    Ok(())
}
