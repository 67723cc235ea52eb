//! The numbers of the binder UAPI (`include/uapi/linux/android/binder.h` and `binderfs.h`):
//! ioctl requests, command and return words, object types and flags, for every program that
//! speaks binder.

use crate::fd::{ioc, IOC_NONE, IOC_READ, IOC_READWRITE, IOC_WRITE};

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

#[cfg(test)]
mod tests {
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
