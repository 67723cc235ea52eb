//! The numbers of the binder UAPI (`include/uapi/linux/android/binder.h` and `binderfs.h`):
//! ioctl requests, command and return words, object types and flags, for every program that
//! speaks binder (the structures are in [`crate::uapi`]); and a small
//! binder client on raw ioctls, lean enough to time the driver with.

use crate::fd::{errno, ioc, Fd, IOC_NONE, IOC_READ, IOC_READWRITE, IOC_WRITE};
use crate::uapi::*;

/// `_IO(kind, nr)`.
const fn io(kind: u8, nr: u8) -> u32 {
    ioc(IOC_NONE, kind, nr, 0) as u32
}

pub const BINDER_WRITE_READ: libc::c_ulong = ioc(IOC_READWRITE, b'b', 1, 48);
pub const BINDER_SET_IDLE_TIMEOUT: libc::c_ulong = ioc(IOC_WRITE, b'b', 3, 8);
pub const BINDER_SET_MAX_THREADS: libc::c_ulong = ioc(IOC_WRITE, b'b', 5, 4);
pub const BINDER_SET_IDLE_PRIORITY: libc::c_ulong = ioc(IOC_WRITE, b'b', 6, 4);
pub const BINDER_SET_CONTEXT_MGR: libc::c_ulong = ioc(IOC_WRITE, b'b', 7, 4);
pub const BINDER_THREAD_EXIT: libc::c_ulong = ioc(IOC_WRITE, b'b', 8, 4);
pub const BINDER_VERSION: libc::c_ulong = ioc(IOC_READWRITE, b'b', 9, 4);
pub const BINDER_GET_NODE_DEBUG_INFO: libc::c_ulong = ioc(IOC_READWRITE, b'b', 11, 24);
pub const BINDER_GET_NODE_INFO_FOR_REF: libc::c_ulong = ioc(IOC_READWRITE, b'b', 12, 24);
pub const BINDER_SET_CONTEXT_MGR_EXT: libc::c_ulong = ioc(IOC_WRITE, b'b', 13, 24);
pub const BINDER_ENABLE_ONEWAY_SPAM_DETECTION: libc::c_ulong = ioc(IOC_WRITE, b'b', 16, 4);
pub const BINDER_GET_EXTENDED_ERROR: libc::c_ulong = ioc(IOC_READWRITE, b'b', 17, 12);
pub const BINDER_FREEZE: libc::c_ulong = ioc(IOC_WRITE, b'b', 14, 12);
pub const BINDER_GET_FROZEN_INFO: libc::c_ulong = ioc(IOC_READWRITE, b'b', 15, 12);
/// `_IOWR('b', 1, struct binderfs_device)` of `include/uapi/linux/android/binderfs.h`.
pub const BINDER_CTL_ADD: libc::c_ulong = ioc(IOC_READWRITE, b'b', 1, 264);

/// The size of mapping libbinder and rsbinder make: 1 MiB - 2 pages.
pub const MAP_1M: usize = (1 << 20) - 2 * 4096;

/// The protocol version of 64-bit binder.
pub const PROTOCOL_VERSION: i32 = 8;

/// `_IOR(kind, nr, size)` as a 32-bit binder return code.
const fn ior(kind: u8, nr: u8, size: u32) -> u32 {
    ioc(IOC_READ, kind, nr, size) as u32
}

/// `_IOW(kind, nr, size)` as a 32-bit binder command code.
const fn iow(kind: u8, nr: u8, size: u32) -> u32 {
    ioc(IOC_WRITE, kind, nr, size) as u32
}

/// `struct binder_transaction_data` on 64-bit.
pub const TXN_SIZE: u32 = 64;
/// `struct binder_transaction_data_sg`.
pub const TXN_SG_SIZE: u32 = 72;
/// `struct flat_binder_object`.
pub const FLAT_SIZE: u32 = 24;
/// `struct binder_ptr_cookie`.
const PTR_COOKIE_SIZE: u32 = 16;
/// `struct binder_handle_cookie` (packed).
const HANDLE_COOKIE_SIZE: u32 = 12;

pub const BR_ERROR: u32 = ior(b'r', 0, 4);
pub const BR_OK: u32 = io(b'r', 1);
pub const BR_TRANSACTION_SEC_CTX: u32 = ior(b'r', 2, TXN_SIZE + 8);
pub const BR_TRANSACTION: u32 = ior(b'r', 2, TXN_SIZE);
pub const BR_REPLY: u32 = ior(b'r', 3, TXN_SIZE);
pub const BR_DEAD_REPLY: u32 = io(b'r', 5);
pub const BR_TRANSACTION_COMPLETE: u32 = io(b'r', 6);
pub const BR_INCREFS: u32 = ior(b'r', 7, PTR_COOKIE_SIZE);
pub const BR_ACQUIRE: u32 = ior(b'r', 8, PTR_COOKIE_SIZE);
pub const BR_RELEASE: u32 = ior(b'r', 9, PTR_COOKIE_SIZE);
pub const BR_DECREFS: u32 = ior(b'r', 10, PTR_COOKIE_SIZE);
pub const BR_NOOP: u32 = io(b'r', 12);
pub const BR_SPAWN_LOOPER: u32 = io(b'r', 13);
pub const BR_FINISHED: u32 = io(b'r', 14);
pub const BR_DEAD_BINDER: u32 = ior(b'r', 15, 8);
pub const BR_CLEAR_DEATH_NOTIFICATION_DONE: u32 = ior(b'r', 16, 8);
pub const BR_FAILED_REPLY: u32 = io(b'r', 17);
pub const BR_FROZEN_REPLY: u32 = io(b'r', 18);
pub const BR_ONEWAY_SPAM_SUSPECT: u32 = io(b'r', 19);
pub const BR_TRANSACTION_PENDING_FROZEN: u32 = io(b'r', 20);
pub const BR_FROZEN_BINDER: u32 = ior(b'r', 21, 16);
pub const BR_CLEAR_FREEZE_NOTIFICATION_DONE: u32 = ior(b'r', 22, 8);

pub const BC_TRANSACTION: u32 = iow(b'c', 0, TXN_SIZE);
pub const BC_REPLY: u32 = iow(b'c', 1, TXN_SIZE);
/// Refused by the C binder.
pub const BC_ACQUIRE_RESULT: u32 = iow(b'c', 2, 4);
pub const BC_FREE_BUFFER: u32 = iow(b'c', 3, 8);
pub const BC_INCREFS: u32 = iow(b'c', 4, 4);
pub const BC_ACQUIRE: u32 = iow(b'c', 5, 4);
pub const BC_RELEASE: u32 = iow(b'c', 6, 4);
pub const BC_DECREFS: u32 = iow(b'c', 7, 4);
pub const BC_INCREFS_DONE: u32 = iow(b'c', 8, PTR_COOKIE_SIZE);
pub const BC_ACQUIRE_DONE: u32 = iow(b'c', 9, PTR_COOKIE_SIZE);
/// `_IOW('c', 10, struct binder_pri_desc)`: refused by the C binder.
pub const BC_ATTEMPT_ACQUIRE: u32 = iow(b'c', 10, 8);
pub const BC_REGISTER_LOOPER: u32 = io(b'c', 11);
pub const BC_ENTER_LOOPER: u32 = io(b'c', 12);
pub const BC_EXIT_LOOPER: u32 = io(b'c', 13);
pub const BC_REQUEST_DEATH_NOTIFICATION: u32 = iow(b'c', 14, HANDLE_COOKIE_SIZE);
pub const BC_CLEAR_DEATH_NOTIFICATION: u32 = iow(b'c', 15, HANDLE_COOKIE_SIZE);
pub const BC_DEAD_BINDER_DONE: u32 = iow(b'c', 16, 8);
pub const BC_TRANSACTION_SG: u32 = iow(b'c', 17, TXN_SG_SIZE);
pub const BC_REPLY_SG: u32 = iow(b'c', 18, TXN_SG_SIZE);
pub const BC_REQUEST_FREEZE_NOTIFICATION: u32 = iow(b'c', 19, HANDLE_COOKIE_SIZE);
pub const BC_CLEAR_FREEZE_NOTIFICATION: u32 = iow(b'c', 20, HANDLE_COOKIE_SIZE);
pub const BC_FREEZE_NOTIFICATION_DONE: u32 = iow(b'c', 21, 8);

/// `B_PACK_CHARS(c1, c2, c3, B_TYPE_LARGE)`: the type of a flattened object.
const fn object_type(c1: u8, c2: u8, c3: u8) -> u32 {
    (c1 as u32) << 24 | (c2 as u32) << 16 | (c3 as u32) << 8 | 0x85
}

pub const BINDER_TYPE_BINDER: u32 = object_type(b's', b'b', b'*');
pub const BINDER_TYPE_WEAK_BINDER: u32 = object_type(b'w', b'b', b'*');
pub const BINDER_TYPE_HANDLE: u32 = object_type(b's', b'h', b'*');
pub const BINDER_TYPE_WEAK_HANDLE: u32 = object_type(b'w', b'h', b'*');
pub const BINDER_TYPE_FD: u32 = object_type(b'f', b'd', b'*');
pub const BINDER_TYPE_FDA: u32 = object_type(b'f', b'd', b'a');
pub const BINDER_TYPE_PTR: u32 = object_type(b'p', b't', b'*');

pub const FLAT_BINDER_FLAG_ACCEPTS_FDS: u32 = 0x100;
pub const FLAT_BINDER_FLAG_TXN_SECURITY_CTX: u32 = 0x1000;

pub const TF_ONE_WAY: u32 = 0x01;
pub const TF_ACCEPT_FDS: u32 = 0x10;

/// The size of the payload that follows a command or return word (`_IOC_SIZE`).
pub fn payload_size(word: u32) -> usize {
    ((word >> 16) & 0x3fff) as usize
}

// The structures, and a small binder client on raw ioctls, lean enough to time the driver
// with: a command writer, a parser of the returns the driver writes (no copies), and an open,
// mapped device.

/// `sizeof(struct binder_transaction_data)`.
const TR_SIZE: usize = TransactionData::SIZE;

/// Plain old data of the UAPI: no padding, every bit pattern valid.
///
/// # Safety
///
/// Only for `repr(C)` types made of integers without padding.
pub unsafe trait Pod: Copy + Default {}

// SAFETY: six `u64`s.
unsafe impl Pod for WriteRead {}
// SAFETY: `u64`s and `u32`s in pairs, 64 bytes, no padding.
unsafe impl Pod for TransactionData {}
// SAFETY: two `u32`s and two `u64`s, no padding.
unsafe impl Pod for FlatBinderObject {}
// SAFETY: two `u64`s.
unsafe impl Pod for PtrCookie {}
// SAFETY: an integer without padding.
unsafe impl Pod for u32 {}
// SAFETY: an integer without padding.
unsafe impl Pod for u64 {}

/// The bytes of `value`.
pub fn bytes_of<T: Pod>(value: &T) -> &[u8] {
    // SAFETY: `T: Pod` has no padding, so all its bytes are initialised.
    unsafe {
        std::slice::from_raw_parts((value as *const T).cast::<u8>(), std::mem::size_of::<T>())
    }
}

/// Reads a `T` at `offset` of `bytes`, if it fits.
pub fn read_at<T: Pod>(bytes: &[u8], offset: usize) -> Option<T> {
    let end = offset.checked_add(std::mem::size_of::<T>())?;
    let src = bytes.get(offset..end)?;
    let mut value = T::default();
    // SAFETY: `src` has `size_of::<T>()` bytes and any bit pattern is a valid `T: Pod`.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), (&mut value as *mut T).cast::<u8>(), src.len())
    };
    Some(value)
}

/// The commands of one `BINDER_WRITE_READ` call.
#[derive(Default)]
pub struct Commands(Vec<u8>);

impl Commands {
    /// A command without argument.
    pub fn code(&mut self, code: u32) -> &mut Self {
        self.0.extend_from_slice(&code.to_ne_bytes());
        self
    }

    /// A command with its argument.
    pub fn with<T: Pod>(&mut self, code: u32, arg: &T) -> &mut Self {
        self.code(code);
        self.0.extend_from_slice(bytes_of(arg));
        self
    }

    /// Whether there is no command.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Forgets every command.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The encoded commands.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// One return of the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Return {
    Noop,
    Ok,
    TransactionComplete,
    Transaction(TransactionData),
    Reply(TransactionData),
    Increfs(PtrCookie),
    Acquire(PtrCookie),
    Release(PtrCookie),
    Decrefs(PtrCookie),
    SpawnLooper,
    DeadReply,
    FailedReply,
    DeadBinder(u64),
    ClearDeathNotificationDone(u64),
    Error(i32),
    /// A code this client does not know; parsing stops there.
    Unknown(u32),
}

/// Parses the returns in `bytes` (the part of the read buffer the driver filled).
pub fn parse_returns(bytes: &[u8]) -> Vec<Return> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(code) = read_at::<u32>(bytes, at) {
        at += 4;
        let arg = |at: &mut usize, size: usize| {
            let start = *at;
            *at += size;
            start
        };
        let r = match code {
            BR_NOOP => Return::Noop,
            BR_OK => Return::Ok,
            BR_TRANSACTION_COMPLETE => Return::TransactionComplete,
            BR_SPAWN_LOOPER => Return::SpawnLooper,
            BR_DEAD_REPLY => Return::DeadReply,
            BR_FAILED_REPLY => Return::FailedReply,
            BR_TRANSACTION | BR_REPLY => {
                let Some(tr) = read_at(bytes, arg(&mut at, TR_SIZE)) else {
                    break;
                };
                if code == BR_TRANSACTION {
                    Return::Transaction(tr)
                } else {
                    Return::Reply(tr)
                }
            }
            BR_INCREFS | BR_ACQUIRE | BR_RELEASE | BR_DECREFS => {
                let Some(pc) = read_at(bytes, arg(&mut at, 16)) else {
                    break;
                };
                match code {
                    BR_INCREFS => Return::Increfs(pc),
                    BR_ACQUIRE => Return::Acquire(pc),
                    BR_RELEASE => Return::Release(pc),
                    _ => Return::Decrefs(pc),
                }
            }
            BR_DEAD_BINDER | BR_CLEAR_DEATH_NOTIFICATION_DONE => {
                let Some(cookie) = read_at(bytes, arg(&mut at, 8)) else {
                    break;
                };
                if code == BR_DEAD_BINDER {
                    Return::DeadBinder(cookie)
                } else {
                    Return::ClearDeathNotificationDone(cookie)
                }
            }
            BR_ERROR => {
                let Some(e) = read_at::<u32>(bytes, arg(&mut at, 4)) else {
                    break;
                };
                Return::Error(e as i32)
            }
            other => {
                out.push(Return::Unknown(other));
                break;
            }
        };
        out.push(r);
    }
    out
}

/// An open binder device with its buffer area mapped read-only, as libbinder maps it.
pub struct Binder {
    fd: Fd,
    map: usize,
    map_len: usize,
}

impl Binder {
    /// Opens `path`, checks the protocol version and maps `map_len` bytes.
    pub fn open(path: &str, map_len: usize) -> Result<Binder, String> {
        let fd = Fd::open(path)?;
        let mut version = 0i32;
        fd.ioctl(BINDER_VERSION, &mut version)
            .map_err(|e| format!("{path}: BINDER_VERSION: errno {e}"))?;
        if version != PROTOCOL_VERSION {
            return Err(format!("{path}: protocol version {version}"));
        }
        // SAFETY: a new mapping at an address the kernel chooses does not touch our memory.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_NORESERVE,
                fd.raw(),
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(format!(
                "{path}: mmap of {map_len} bytes: errno {}",
                errno()
            ));
        }
        Ok(Binder {
            fd,
            map: addr as usize,
            map_len,
        })
    }

    /// The file descriptor.
    pub fn fd(&self) -> &Fd {
        &self.fd
    }

    /// Becomes the context manager, retrying for up to `patience` while the previous one is
    /// still being torn down (`EBUSY`).
    pub fn become_context_manager(&self, patience: std::time::Duration) -> Result<(), String> {
        let start = std::time::Instant::now();
        loop {
            match self.fd.ioctl(BINDER_SET_CONTEXT_MGR, &mut 0i32) {
                Ok(()) => return Ok(()),
                Err(libc::EBUSY) if start.elapsed() < patience => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => return Err(format!("BINDER_SET_CONTEXT_MGR: errno {e}")),
            }
        }
    }

    /// One `BINDER_WRITE_READ`: writes `write`, then reads into `read` (if not empty); retried
    /// on `EINTR` with what was not consumed. Returns the number of bytes read.
    pub fn write_read(&self, write: &[u8], read: &mut [u8]) -> Result<usize, i32> {
        let mut bwr = WriteRead {
            write_size: write.len() as u64,
            write_consumed: 0,
            write_buffer: write.as_ptr() as u64,
            read_size: read.len() as u64,
            read_consumed: 0,
            read_buffer: read.as_mut_ptr() as u64,
        };
        loop {
            match self.fd.ioctl(BINDER_WRITE_READ, &mut bwr) {
                Ok(()) => return Ok(bwr.read_consumed as usize),
                Err(libc::EINTR) if bwr.read_consumed == 0 => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// `len` bytes of the buffer area at the user address `ptr`, if they are inside it.
    pub fn data(&self, ptr: u64, len: u64) -> Option<&[u8]> {
        let start = (ptr as usize).checked_sub(self.map)?;
        let end = start.checked_add(len as usize)?;
        if end > self.map_len {
            return None;
        }
        // SAFETY: the range is inside our read-only mapping, which lives as long as `self`;
        // the driver writes a buffer before handing it to us and not again until we free it.
        Some(unsafe { std::slice::from_raw_parts((self.map + start) as *const u8, end - start) })
    }
}

impl Drop for Binder {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and no reference into it outlives `self`.
        unsafe { libc::munmap(self.map as *mut libc::c_void, self.map_len) };
    }
}

/// Adds the binder device `name` on the binderfs mounted at `binderfs` (or finds it from an
/// earlier run); returns its path.
pub fn binderfs_device(binderfs: &str, name: &str) -> Result<String, String> {
    let path = format!("{binderfs}/{name}");
    if std::path::Path::new(&path).exists() {
        return Ok(path);
    }
    let control = Fd::open(&format!("{binderfs}/binder-control"))?;
    let mut dev = BinderfsDevice {
        name: [0; 256],
        major: 0,
        minor: 0,
    };
    if name.len() >= dev.name.len() {
        return Err(format!("binderfs device name too long: {name}"));
    }
    dev.name[..name.len()].copy_from_slice(name.as_bytes());
    control
        .ioctl(BINDER_CTL_ADD, &mut dev)
        .map_err(|e| format!("BINDER_CTL_ADD {name}: errno {e}"))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_uapi_header() {
        // Values of the 64-bit UAPI, as the C compiler computes them.
        assert_eq!(BC_TRANSACTION, 0x4040_6300);
        assert_eq!(BC_REPLY, 0x4040_6301);
        assert_eq!(BC_FREE_BUFFER, 0x4008_6303);
        assert_eq!(BC_ACQUIRE, 0x4004_6305);
        assert_eq!(BC_INCREFS_DONE, 0x4010_6308);
        assert_eq!(BC_ENTER_LOOPER, 0x630c);
        assert_eq!(BR_TRANSACTION, 0x8040_7202);
        assert_eq!(BR_REPLY, 0x8040_7203);
        assert_eq!(BR_ACQUIRE, 0x8010_7208);
        assert_eq!(BR_NOOP, 0x720c);
        assert_eq!(BINDER_WRITE_READ, 0xc030_6201);
        assert_eq!(BINDER_TYPE_BINDER, 0x7362_2a85);
        assert_eq!(BINDER_TYPE_HANDLE, 0x7368_2a85);
    }

    #[test]
    fn parses_returns_and_stops_at_a_truncated_one() {
        let tr = TransactionData {
            target: 7,
            data_size: 4,
            ..Default::default()
        };
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&BR_NOOP.to_ne_bytes());
        bytes.extend_from_slice(&BR_TRANSACTION_COMPLETE.to_ne_bytes());
        bytes.extend_from_slice(&BR_REPLY.to_ne_bytes());
        bytes.extend_from_slice(bytes_of(&tr));
        bytes.extend_from_slice(&BR_ACQUIRE.to_ne_bytes());
        bytes.extend_from_slice(&[0; 8]);
        assert_eq!(
            parse_returns(&bytes),
            vec![Return::Noop, Return::TransactionComplete, Return::Reply(tr)]
        );
    }

    #[test]
    fn commands_encode_code_then_argument() {
        let mut c = Commands::default();
        c.code(BC_ENTER_LOOPER).with(BC_ACQUIRE, &5u32);
        assert_eq!(c.bytes().len(), 12);
        assert_eq!(read_at::<u32>(c.bytes(), 4), Some(BC_ACQUIRE));
        assert_eq!(read_at::<u32>(c.bytes(), 8), Some(5));
        assert_eq!(read_at::<u32>(c.bytes(), 10), None);
    }
}

#[cfg(test)]
mod number_tests {
    use super::*;

    #[test]
    fn numbers_are_those_of_the_kernel_headers() {
        // _IOWR('b', 1, 48), _IOW('b', 13, 24), _IOW('c', 0, 64), _IOW('c', 17, 72),
        // _IOW('c', 14, 12), _IO('r', 17), _IOR('r', 2, 64), B_PACK_CHARS(...).
        assert_eq!(BINDER_WRITE_READ, 0xc030_6201);
        assert_eq!(BINDER_SET_CONTEXT_MGR_EXT, 0x4018_620d);
        assert_eq!(BC_TRANSACTION, 0x4040_6300);
        assert_eq!(BC_TRANSACTION_SG, 0x4048_6311);
        assert_eq!(BC_REQUEST_DEATH_NOTIFICATION, 0x400c_630e);
        assert_eq!(BR_FAILED_REPLY, 29201);
        assert_eq!(BR_TRANSACTION, 0x8040_7202);
        assert_eq!(BINDER_TYPE_BINDER, 0x7362_2a85);
        assert_eq!(BINDER_TYPE_FDA, 0x6664_6185);
        assert_eq!(payload_size(BC_TRANSACTION), TXN_SIZE as usize);
    }
}
