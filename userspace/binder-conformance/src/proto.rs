//! The binder protocol of `include/uapi/linux/android/binder.h`, as user space issues it.

use vmtest::fd::{errno, Fd};

pub use vmtest::binder::*;
pub use vmtest::uapi::*;

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
        libc::ENOSPC => "ENOSPC",
        libc::ESRCH => "ESRCH",
        libc::EPROTO => "EPROTO",
        libc::ENOENT => "ENOENT",
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
