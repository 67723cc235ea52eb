//! An owned file descriptor and the ioctl encoding the checks share.

use std::ffi::CString;
use std::io;

/// `_IOC(dir, kind, nr, size)` of `include/uapi/asm-generic/ioctl.h`.
pub const fn ioc(dir: u32, kind: u8, nr: u8, size: u32) -> libc::c_ulong {
    ((dir << 30) | (size << 16) | ((kind as u32) << 8) | nr as u32) as libc::c_ulong
}

/// `_IOC_NONE`: no argument.
pub const IOC_NONE: u32 = 0;
/// `_IOC_WRITE`: user space writes the argument (`_IOW`).
pub const IOC_WRITE: u32 = 1;
/// `_IOC_READ`: user space reads the argument (`_IOR`).
pub const IOC_READ: u32 = 2;
/// Both directions (`_IOWR`).
pub const IOC_READWRITE: u32 = IOC_READ | IOC_WRITE;

/// The errno of the last failed call of this thread.
pub fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// An open file descriptor, closed on drop.
pub struct Fd(libc::c_int);

impl Fd {
    /// Opens `path` read-write.
    pub fn open(path: &str) -> Result<Fd, String> {
        Fd::open_flags(path, libc::O_RDWR)
    }

    /// Opens `path` read-only (a module file for `finit_module`, which refuses writers).
    pub fn open_read_only(path: &str) -> Result<Fd, String> {
        Fd::open_flags(path, libc::O_RDONLY)
    }

    fn open_flags(path: &str, flags: libc::c_int) -> Result<Fd, String> {
        let c = CString::new(path).map_err(|e| e.to_string())?;
        // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
        let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!("open {path}: {}", io::Error::last_os_error()));
        }
        Ok(Fd(fd))
    }

    /// Takes ownership of an open descriptor.
    pub fn from_raw(fd: libc::c_int) -> Fd {
        Fd(fd)
    }

    /// The raw descriptor, for calls this type does not wrap.
    pub fn raw(&self) -> libc::c_int {
        self.0
    }

    /// Issues `request` with a pointer to `arg`; returns the errno on failure.
    pub fn ioctl<T>(&self, request: libc::c_ulong, arg: &mut T) -> Result<(), i32> {
        // SAFETY: `arg` is a valid, exclusive pointer to a `T`, and every request the checks
        // use encodes at most `size_of::<T>()` as its argument size.
        let r = unsafe { libc::ioctl(self.0, request, arg as *mut T) };
        if r < 0 {
            return Err(errno());
        }
        Ok(())
    }

    /// Issues `request` with a NULL argument, as a caller with a bad pointer does; returns the
    /// errno on failure.
    pub fn ioctl_null(&self, request: libc::c_ulong) -> Result<(), i32> {
        // SAFETY: a NULL argument gives the kernel no memory of ours to read or write.
        let r = unsafe { libc::ioctl(self.0, request, std::ptr::null_mut::<libc::c_void>()) };
        if r < 0 {
            return Err(errno());
        }
        Ok(())
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor and nobody uses it after drop.
        unsafe { libc::close(self.0) };
    }
}
