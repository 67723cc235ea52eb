//! The binder UAPI of `include/uapi/linux/android/binder.h`, as numbers and byte layouts.

use vmtest::fd::{ioc, IOC_NONE, IOC_READ, IOC_READWRITE, IOC_WRITE};

const fn iow(kind: u8, nr: u8, size: u32) -> u32 {
    ioc(IOC_WRITE, kind, nr, size) as u32
}
const fn ior(kind: u8, nr: u8, size: u32) -> u32 {
    ioc(IOC_READ, kind, nr, size) as u32
}
const fn io(kind: u8, nr: u8) -> u32 {
    ioc(IOC_NONE, kind, nr, 0) as u32
}
const fn iowr(kind: u8, nr: u8, size: u32) -> libc::c_ulong {
    ioc(IOC_READWRITE, kind, nr, size)
}

/// `struct binder_transaction_data` on 64-bit.
pub const TR_SIZE: usize = 64;
/// `struct flat_binder_object`.
pub const FLAT_SIZE: usize = 24;

pub const BINDER_WRITE_READ: libc::c_ulong = iowr(b'b', 1, 48);
pub const BINDER_SET_IDLE_TIMEOUT: libc::c_ulong = iow(b'b', 3, 8) as libc::c_ulong;
pub const BINDER_SET_MAX_THREADS: libc::c_ulong = iow(b'b', 5, 4) as libc::c_ulong;
pub const BINDER_SET_IDLE_PRIORITY: libc::c_ulong = iow(b'b', 6, 4) as libc::c_ulong;
pub const BINDER_SET_CONTEXT_MGR: libc::c_ulong = iow(b'b', 7, 4) as libc::c_ulong;
pub const BINDER_THREAD_EXIT: libc::c_ulong = iow(b'b', 8, 4) as libc::c_ulong;
pub const BINDER_VERSION: libc::c_ulong = iowr(b'b', 9, 4);
pub const BINDER_GET_NODE_DEBUG_INFO: libc::c_ulong = iowr(b'b', 11, 24);
pub const BINDER_GET_NODE_INFO_FOR_REF: libc::c_ulong = iowr(b'b', 12, 24);
pub const BINDER_SET_CONTEXT_MGR_EXT: libc::c_ulong = iow(b'b', 13, 24) as libc::c_ulong;
pub const BINDER_FREEZE: libc::c_ulong = iow(b'b', 14, 12) as libc::c_ulong;
pub const BINDER_GET_FROZEN_INFO: libc::c_ulong = iowr(b'b', 15, 12);
pub const BINDER_ENABLE_ONEWAY_SPAM_DETECTION: libc::c_ulong = iow(b'b', 16, 4) as libc::c_ulong;
pub const BINDER_GET_EXTENDED_ERROR: libc::c_ulong = iowr(b'b', 17, 12);
/// `_IOWR('b', 1, struct binderfs_device)` of `binderfs.h`.
pub const BINDER_CTL_ADD: libc::c_ulong = iowr(b'b', 1, 264);

pub const BC_TRANSACTION: u32 = iow(b'c', 0, TR_SIZE as u32);
pub const BC_REPLY: u32 = iow(b'c', 1, TR_SIZE as u32);
pub const BC_ACQUIRE_RESULT: u32 = iow(b'c', 2, 4);
pub const BC_FREE_BUFFER: u32 = iow(b'c', 3, 8);
pub const BC_INCREFS: u32 = iow(b'c', 4, 4);
pub const BC_ACQUIRE: u32 = iow(b'c', 5, 4);
pub const BC_RELEASE: u32 = iow(b'c', 6, 4);
pub const BC_DECREFS: u32 = iow(b'c', 7, 4);
pub const BC_INCREFS_DONE: u32 = iow(b'c', 8, 16);
pub const BC_ACQUIRE_DONE: u32 = iow(b'c', 9, 16);
pub const BC_ATTEMPT_ACQUIRE: u32 = iow(b'c', 10, 8);
pub const BC_REGISTER_LOOPER: u32 = io(b'c', 11);
pub const BC_ENTER_LOOPER: u32 = io(b'c', 12);
pub const BC_EXIT_LOOPER: u32 = io(b'c', 13);
pub const BC_REQUEST_DEATH_NOTIFICATION: u32 = iow(b'c', 14, 12);
pub const BC_CLEAR_DEATH_NOTIFICATION: u32 = iow(b'c', 15, 12);
pub const BC_DEAD_BINDER_DONE: u32 = iow(b'c', 16, 8);
pub const BC_TRANSACTION_SG: u32 = iow(b'c', 17, TR_SIZE as u32 + 8);
pub const BC_REPLY_SG: u32 = iow(b'c', 18, TR_SIZE as u32 + 8);
pub const BC_REQUEST_FREEZE_NOTIFICATION: u32 = iow(b'c', 19, 12);
pub const BC_CLEAR_FREEZE_NOTIFICATION: u32 = iow(b'c', 20, 12);
pub const BC_FREEZE_NOTIFICATION_DONE: u32 = iow(b'c', 21, 8);

pub const BR_ERROR: u32 = ior(b'r', 0, 4);
pub const BR_OK: u32 = io(b'r', 1);
pub const BR_TRANSACTION_SEC_CTX: u32 = ior(b'r', 2, TR_SIZE as u32 + 8);
pub const BR_TRANSACTION: u32 = ior(b'r', 2, TR_SIZE as u32);
pub const BR_REPLY: u32 = ior(b'r', 3, TR_SIZE as u32);
pub const BR_DEAD_REPLY: u32 = io(b'r', 5);
pub const BR_TRANSACTION_COMPLETE: u32 = io(b'r', 6);
pub const BR_INCREFS: u32 = ior(b'r', 7, 16);
pub const BR_ACQUIRE: u32 = ior(b'r', 8, 16);
pub const BR_RELEASE: u32 = ior(b'r', 9, 16);
pub const BR_DECREFS: u32 = ior(b'r', 10, 16);
pub const BR_NOOP: u32 = io(b'r', 12);
pub const BR_SPAWN_LOOPER: u32 = io(b'r', 13);
pub const BR_DEAD_BINDER: u32 = ior(b'r', 15, 8);
pub const BR_CLEAR_DEATH_NOTIFICATION_DONE: u32 = ior(b'r', 16, 8);
pub const BR_FAILED_REPLY: u32 = io(b'r', 17);
pub const BR_FROZEN_REPLY: u32 = io(b'r', 18);
pub const BR_ONEWAY_SPAM_SUSPECT: u32 = io(b'r', 19);

const fn pack(a: u8, b: u8, c: u8) -> u32 {
    ((a as u32) << 24) | ((b as u32) << 16) | ((c as u32) << 8) | 0x85
}
pub const TYPE_BINDER: u32 = pack(b's', b'b', b'*');
pub const TYPE_WEAK_BINDER: u32 = pack(b'w', b'b', b'*');
pub const TYPE_HANDLE: u32 = pack(b's', b'h', b'*');
pub const TYPE_WEAK_HANDLE: u32 = pack(b'w', b'h', b'*');
pub const TYPE_FD: u32 = pack(b'f', b'd', b'*');
pub const TYPE_FDA: u32 = pack(b'f', b'd', b'a');
pub const TYPE_PTR: u32 = pack(b'p', b't', b'*');

pub const FLAT_BINDER_FLAG_ACCEPTS_FDS: u32 = 0x100;
pub const TF_ONE_WAY: u32 = 0x01;
pub const TF_ACCEPT_FDS: u32 = 0x10;

/// The size of mapping libbinder and rsbinder make: 1 MiB - 2 pages.
pub const MAP_1M: usize = (1 << 20) - 2 * 4096;

/// The name of a `BC_` command word, or its hexadecimal value.
pub fn bc_name(word: u32) -> String {
    let name = match word {
        BC_TRANSACTION => "BC_TRANSACTION",
        BC_REPLY => "BC_REPLY",
        BC_ACQUIRE_RESULT => "BC_ACQUIRE_RESULT",
        BC_FREE_BUFFER => "BC_FREE_BUFFER",
        BC_INCREFS => "BC_INCREFS",
        BC_ACQUIRE => "BC_ACQUIRE",
        BC_RELEASE => "BC_RELEASE",
        BC_DECREFS => "BC_DECREFS",
        BC_INCREFS_DONE => "BC_INCREFS_DONE",
        BC_ACQUIRE_DONE => "BC_ACQUIRE_DONE",
        BC_ATTEMPT_ACQUIRE => "BC_ATTEMPT_ACQUIRE",
        BC_REGISTER_LOOPER => "BC_REGISTER_LOOPER",
        BC_ENTER_LOOPER => "BC_ENTER_LOOPER",
        BC_EXIT_LOOPER => "BC_EXIT_LOOPER",
        BC_REQUEST_DEATH_NOTIFICATION => "BC_REQUEST_DEATH_NOTIFICATION",
        BC_CLEAR_DEATH_NOTIFICATION => "BC_CLEAR_DEATH_NOTIFICATION",
        BC_DEAD_BINDER_DONE => "BC_DEAD_BINDER_DONE",
        BC_TRANSACTION_SG => "BC_TRANSACTION_SG",
        BC_REPLY_SG => "BC_REPLY_SG",
        BC_REQUEST_FREEZE_NOTIFICATION => "BC_REQUEST_FREEZE_NOTIFICATION",
        BC_CLEAR_FREEZE_NOTIFICATION => "BC_CLEAR_FREEZE_NOTIFICATION",
        BC_FREEZE_NOTIFICATION_DONE => "BC_FREEZE_NOTIFICATION_DONE",
        _ => return format!("{word:#x}"),
    };
    name.to_string()
}

/// The name of a `BR_` return word, or its hexadecimal value.
pub fn br_name(word: u32) -> String {
    let name = match word {
        BR_ERROR => "BR_ERROR",
        BR_OK => "BR_OK",
        BR_TRANSACTION_SEC_CTX => "BR_TRANSACTION_SEC_CTX",
        BR_TRANSACTION => "BR_TRANSACTION",
        BR_REPLY => "BR_REPLY",
        BR_DEAD_REPLY => "BR_DEAD_REPLY",
        BR_TRANSACTION_COMPLETE => "BR_TRANSACTION_COMPLETE",
        BR_INCREFS => "BR_INCREFS",
        BR_ACQUIRE => "BR_ACQUIRE",
        BR_RELEASE => "BR_RELEASE",
        BR_DECREFS => "BR_DECREFS",
        BR_NOOP => "BR_NOOP",
        BR_SPAWN_LOOPER => "BR_SPAWN_LOOPER",
        BR_DEAD_BINDER => "BR_DEAD_BINDER",
        BR_CLEAR_DEATH_NOTIFICATION_DONE => "BR_CLEAR_DEATH_NOTIFICATION_DONE",
        BR_FAILED_REPLY => "BR_FAILED_REPLY",
        BR_FROZEN_REPLY => "BR_FROZEN_REPLY",
        BR_ONEWAY_SPAM_SUSPECT => "BR_ONEWAY_SPAM_SUSPECT",
        _ => return format!("{word:#x}"),
    };
    name.to_string()
}

/// The name of an ioctl request, or its hexadecimal value.
pub fn ioctl_name(request: libc::c_ulong) -> String {
    let name = match request {
        BINDER_WRITE_READ => "BINDER_WRITE_READ",
        BINDER_SET_IDLE_TIMEOUT => "BINDER_SET_IDLE_TIMEOUT",
        BINDER_SET_MAX_THREADS => "BINDER_SET_MAX_THREADS",
        BINDER_SET_IDLE_PRIORITY => "BINDER_SET_IDLE_PRIORITY",
        BINDER_SET_CONTEXT_MGR => "BINDER_SET_CONTEXT_MGR",
        BINDER_THREAD_EXIT => "BINDER_THREAD_EXIT",
        BINDER_VERSION => "BINDER_VERSION",
        BINDER_GET_NODE_DEBUG_INFO => "BINDER_GET_NODE_DEBUG_INFO",
        BINDER_GET_NODE_INFO_FOR_REF => "BINDER_GET_NODE_INFO_FOR_REF",
        BINDER_SET_CONTEXT_MGR_EXT => "BINDER_SET_CONTEXT_MGR_EXT",
        BINDER_FREEZE => "BINDER_FREEZE",
        BINDER_GET_FROZEN_INFO => "BINDER_GET_FROZEN_INFO",
        BINDER_ENABLE_ONEWAY_SPAM_DETECTION => "BINDER_ENABLE_ONEWAY_SPAM_DETECTION",
        BINDER_GET_EXTENDED_ERROR => "BINDER_GET_EXTENDED_ERROR",
        _ => return format!("{request:#x}"),
    };
    name.to_string()
}

/// The size of the payload that follows a command or return word (`_IOC_SIZE`).
pub fn payload_size(word: u32) -> usize {
    ((word >> 16) & 0x3fff) as usize
}
