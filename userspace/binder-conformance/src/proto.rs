//! The binder protocol of `include/uapi/linux/android/binder.h`, as user space issues it.

use vmtest::fd::{errno, Fd};

pub use vmtest::binder::*;

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

/// `struct flat_binder_object`: a binder or a handle in a transaction, and the argument of
/// `BINDER_SET_CONTEXT_MGR_EXT`. `binder` is also the handle (in its low 32 bits).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlatBinderObject {
    pub kind: u32,
    pub flags: u32,
    pub binder: u64,
    pub cookie: u64,
}

impl FlatBinderObject {
    /// The size of the object in a transaction's data.
    pub const SIZE: usize = 24;

    /// A local binder object (`BINDER_TYPE_BINDER` or `_WEAK_BINDER`).
    pub fn binder(strong: bool, ptr: u64, cookie: u64) -> Self {
        let kind = if strong {
            BINDER_TYPE_BINDER
        } else {
            BINDER_TYPE_WEAK_BINDER
        };
        FlatBinderObject {
            kind,
            flags: FLAT_BINDER_FLAG_ACCEPTS_FDS,
            binder: ptr,
            cookie,
        }
    }

    /// A reference object (`BINDER_TYPE_HANDLE` or `_WEAK_HANDLE`).
    pub fn handle(strong: bool, handle: u32) -> Self {
        let kind = if strong {
            BINDER_TYPE_HANDLE
        } else {
            BINDER_TYPE_WEAK_HANDLE
        };
        FlatBinderObject {
            kind,
            flags: FLAT_BINDER_FLAG_ACCEPTS_FDS,
            binder: handle.into(),
            cookie: 0,
        }
    }

    /// The object's bytes, as it is laid out in a transaction.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::SIZE);
        v.extend_from_slice(&self.kind.to_ne_bytes());
        v.extend_from_slice(&self.flags.to_ne_bytes());
        v.extend_from_slice(&self.binder.to_ne_bytes());
        v.extend_from_slice(&self.cookie.to_ne_bytes());
        v
    }

    /// The object at the start of `b`, if `b` is long enough.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        Some(FlatBinderObject {
            kind: u32::from_ne_bytes(b.get(0..4)?.try_into().ok()?),
            flags: u32::from_ne_bytes(b.get(4..8)?.try_into().ok()?),
            binder: u64::from_ne_bytes(b.get(8..16)?.try_into().ok()?),
            cookie: u64::from_ne_bytes(b.get(16..24)?.try_into().ok()?),
        })
    }

    /// The name of the object's type, for records.
    pub fn kind_name(&self) -> String {
        match self.kind {
            BINDER_TYPE_BINDER => "BINDER".into(),
            BINDER_TYPE_WEAK_BINDER => "WEAK_BINDER".into(),
            BINDER_TYPE_HANDLE => "HANDLE".into(),
            BINDER_TYPE_WEAK_HANDLE => "WEAK_HANDLE".into(),
            other => format!("{other:#x}"),
        }
    }
}

/// `struct binder_transaction_data` as user space writes it after `BC_TRANSACTION`/`BC_REPLY`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransactionData {
    /// The handle (in the low 32 bits) or, received, the node's pointer.
    pub target: u64,
    pub cookie: u64,
    pub code: u32,
    pub flags: u32,
    pub sender_pid: i32,
    pub sender_euid: u32,
    pub data_size: u64,
    pub offsets_size: u64,
    pub buffer: u64,
    pub offsets: u64,
}

impl TransactionData {
    /// The size of the structure.
    pub const SIZE: usize = TXN_SIZE as usize;

    /// The structure's bytes.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut v = Vec::with_capacity(Self::SIZE);
        v.extend_from_slice(&self.target.to_ne_bytes());
        v.extend_from_slice(&self.cookie.to_ne_bytes());
        v.extend_from_slice(&self.code.to_ne_bytes());
        v.extend_from_slice(&self.flags.to_ne_bytes());
        v.extend_from_slice(&self.sender_pid.to_ne_bytes());
        v.extend_from_slice(&self.sender_euid.to_ne_bytes());
        v.extend_from_slice(&self.data_size.to_ne_bytes());
        v.extend_from_slice(&self.offsets_size.to_ne_bytes());
        v.extend_from_slice(&self.buffer.to_ne_bytes());
        v.extend_from_slice(&self.offsets.to_ne_bytes());
        v
    }

    /// The structure at the start of `b`, if `b` is long enough.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let u32_at = |o: usize| -> Option<u32> {
            Some(u32::from_ne_bytes(b.get(o..o + 4)?.try_into().ok()?))
        };
        let u64_at = |o: usize| -> Option<u64> {
            Some(u64::from_ne_bytes(b.get(o..o + 8)?.try_into().ok()?))
        };
        Some(TransactionData {
            target: u64_at(0)?,
            cookie: u64_at(8)?,
            code: u32_at(16)?,
            flags: u32_at(20)?,
            sender_pid: u32_at(24)? as i32,
            sender_euid: u32_at(28)?,
            data_size: u64_at(32)?,
            offsets_size: u64_at(40)?,
            buffer: u64_at(48)?,
            offsets: u64_at(56)?,
        })
    }
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
