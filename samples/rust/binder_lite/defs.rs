// SPDX-License-Identifier: GPL-2.0

//! The binder UAPI as binder-lite uses it.
//!
//! The command and return codes, flags and object types come from the bindings of
//! `include/uapi/linux/android/binder.h`. The structures that cross the user boundary are
//! restated here as `repr(C)` structures of plain integers, with the unions of the header
//! flattened into their widest member, so that they can be read and written with
//! [`FromBytes`] and [`AsBytes`]; their sizes and field offsets are checked against the bindings
//! at build time.

use core::mem::{offset_of, size_of};
use kernel::{
    types::{AsBytes, FromBytes},
    uapi,
};

macro_rules! codes {
    ($($name:ident = $value:path;)*) => {
        $(
            #[doc = concat!("`", stringify!($name), "` of `binder.h`.")]
            pub(crate) const $name: u32 = $value;
        )*
    };
}

codes! {
    BR_ERROR = uapi::binder_driver_return_protocol_BR_ERROR;
    BR_OK = uapi::binder_driver_return_protocol_BR_OK;
    BR_TRANSACTION = uapi::binder_driver_return_protocol_BR_TRANSACTION;
    BR_REPLY = uapi::binder_driver_return_protocol_BR_REPLY;
    BR_DEAD_REPLY = uapi::binder_driver_return_protocol_BR_DEAD_REPLY;
    BR_TRANSACTION_COMPLETE = uapi::binder_driver_return_protocol_BR_TRANSACTION_COMPLETE;
    BR_INCREFS = uapi::binder_driver_return_protocol_BR_INCREFS;
    BR_ACQUIRE = uapi::binder_driver_return_protocol_BR_ACQUIRE;
    BR_RELEASE = uapi::binder_driver_return_protocol_BR_RELEASE;
    BR_DECREFS = uapi::binder_driver_return_protocol_BR_DECREFS;
    BR_NOOP = uapi::binder_driver_return_protocol_BR_NOOP;
    BR_SPAWN_LOOPER = uapi::binder_driver_return_protocol_BR_SPAWN_LOOPER;
    BR_DEAD_BINDER = uapi::binder_driver_return_protocol_BR_DEAD_BINDER;
    BR_CLEAR_DEATH_NOTIFICATION_DONE =
        uapi::binder_driver_return_protocol_BR_CLEAR_DEATH_NOTIFICATION_DONE;
    BR_FAILED_REPLY = uapi::binder_driver_return_protocol_BR_FAILED_REPLY;
    BC_TRANSACTION = uapi::binder_driver_command_protocol_BC_TRANSACTION;
    BC_REPLY = uapi::binder_driver_command_protocol_BC_REPLY;
    BC_FREE_BUFFER = uapi::binder_driver_command_protocol_BC_FREE_BUFFER;
    BC_INCREFS = uapi::binder_driver_command_protocol_BC_INCREFS;
    BC_ACQUIRE = uapi::binder_driver_command_protocol_BC_ACQUIRE;
    BC_RELEASE = uapi::binder_driver_command_protocol_BC_RELEASE;
    BC_DECREFS = uapi::binder_driver_command_protocol_BC_DECREFS;
    BC_INCREFS_DONE = uapi::binder_driver_command_protocol_BC_INCREFS_DONE;
    BC_ACQUIRE_DONE = uapi::binder_driver_command_protocol_BC_ACQUIRE_DONE;
    BC_REGISTER_LOOPER = uapi::binder_driver_command_protocol_BC_REGISTER_LOOPER;
    BC_ENTER_LOOPER = uapi::binder_driver_command_protocol_BC_ENTER_LOOPER;
    BC_EXIT_LOOPER = uapi::binder_driver_command_protocol_BC_EXIT_LOOPER;
    BC_REQUEST_DEATH_NOTIFICATION =
        uapi::binder_driver_command_protocol_BC_REQUEST_DEATH_NOTIFICATION;
    BC_CLEAR_DEATH_NOTIFICATION = uapi::binder_driver_command_protocol_BC_CLEAR_DEATH_NOTIFICATION;
    BC_DEAD_BINDER_DONE = uapi::binder_driver_command_protocol_BC_DEAD_BINDER_DONE;
    BC_TRANSACTION_SG = uapi::binder_driver_command_protocol_BC_TRANSACTION_SG;
    BC_REPLY_SG = uapi::binder_driver_command_protocol_BC_REPLY_SG;
    TF_ONE_WAY = uapi::transaction_flags_TF_ONE_WAY;
    TF_ACCEPT_FDS = uapi::transaction_flags_TF_ACCEPT_FDS;
    FLAT_BINDER_FLAG_ACCEPTS_FDS = uapi::FLAT_BINDER_FLAG_ACCEPTS_FDS;
    FLAT_BINDER_FLAG_TXN_SECURITY_CTX = uapi::FLAT_BINDER_FLAG_TXN_SECURITY_CTX;
    BINDER_TYPE_BINDER = uapi::BINDER_TYPE_BINDER;
    BINDER_TYPE_WEAK_BINDER = uapi::BINDER_TYPE_WEAK_BINDER;
    BINDER_TYPE_HANDLE = uapi::BINDER_TYPE_HANDLE;
    BINDER_TYPE_WEAK_HANDLE = uapi::BINDER_TYPE_WEAK_HANDLE;
    BINDER_TYPE_FD = uapi::BINDER_TYPE_FD;
    BINDER_TYPE_FDA = uapi::BINDER_TYPE_FDA;
    BINDER_TYPE_PTR = uapi::BINDER_TYPE_PTR;
}

/// `BINDER_LOOPER_STATE_REGISTERED`: the thread sent `BC_REGISTER_LOOPER`.
pub(crate) const LOOPER_REGISTERED: u32 = 0x01;
/// `BINDER_LOOPER_STATE_ENTERED`: the thread sent `BC_ENTER_LOOPER`.
pub(crate) const LOOPER_ENTERED: u32 = 0x02;
/// `BINDER_LOOPER_STATE_EXITED`: the thread sent `BC_EXIT_LOOPER`.
pub(crate) const LOOPER_EXITED: u32 = 0x04;
/// `BINDER_LOOPER_STATE_INVALID`: the thread sent looper commands in a wrong order.
pub(crate) const LOOPER_INVALID: u32 = 0x08;

/// The protocol version of 64-bit binder, as `BINDER_VERSION` reports it.
pub(crate) const PROTOCOL_VERSION: i32 = uapi::BINDER_CURRENT_PROTOCOL_VERSION as i32;

/// The size of `struct binder_object`, the union of every object type: what the C binder reads
/// at an offset before it knows the type (the largest type, `struct binder_buffer_object`).
pub(crate) const MAX_OBJECT_SIZE: usize = size_of::<uapi::binder_buffer_object>();

/// The room a read buffer must have left for one more piece of work, as in C: a command and
/// `struct binder_transaction_data_secctx`.
pub(crate) const READ_ROOM: usize =
    size_of::<u32>() + size_of::<uapi::binder_transaction_data_secctx>();

/// `struct binder_write_read`, the argument of `BINDER_WRITE_READ`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct WriteRead {
    pub(crate) write_size: u64,
    pub(crate) write_consumed: u64,
    pub(crate) write_buffer: u64,
    pub(crate) read_size: u64,
    pub(crate) read_consumed: u64,
    pub(crate) read_buffer: u64,
}

/// `struct binder_transaction_data`, with `target` (a handle or a pointer) and `data` (two
/// pointers) flattened.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct TransactionData {
    /// `target.handle` in its first four bytes, or `target.ptr`.
    pub(crate) target: u64,
    pub(crate) cookie: u64,
    pub(crate) code: u32,
    pub(crate) flags: u32,
    pub(crate) sender_pid: i32,
    pub(crate) sender_euid: u32,
    pub(crate) data_size: u64,
    pub(crate) offsets_size: u64,
    /// `data.ptr.buffer`.
    pub(crate) buffer: u64,
    /// `data.ptr.offsets`.
    pub(crate) offsets: u64,
}

/// `struct binder_transaction_data_sg`: a transaction and the size of its extra buffers.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct TransactionDataSg {
    pub(crate) transaction: TransactionData,
    pub(crate) buffers_size: u64,
}

/// `struct flat_binder_object`, with the `binder`/`handle` union flattened.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct FlatBinderObject {
    /// `hdr.type`.
    pub(crate) kind: u32,
    pub(crate) flags: u32,
    /// `binder`, or `handle` in its first four bytes.
    pub(crate) binder: u64,
    pub(crate) cookie: u64,
}

/// `struct binder_node_info_for_ref`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct NodeInfoForRef {
    pub(crate) handle: u32,
    pub(crate) strong_count: u32,
    pub(crate) weak_count: u32,
    pub(crate) reserved: [u32; 3],
}

/// `struct binder_extended_error`: the last failed transaction of a thread.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct ExtendedError {
    pub(crate) id: u32,
    pub(crate) command: u32,
    pub(crate) param: i32,
}

/// The first word of a flattened union field: a handle.
pub(crate) fn handle_of(word: u64) -> u32 {
    let b = word.to_ne_bytes();
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

/// A flattened union field holding `handle` and zeroes, as C writes a handle after zeroing
/// the pointer.
pub(crate) fn word_of_handle(handle: u32) -> u64 {
    let h = handle.to_ne_bytes();
    u64::from_ne_bytes([h[0], h[1], h[2], h[3], 0, 0, 0, 0])
}

/// Implements [`FromBytes`] and [`AsBytes`] for structures of integers without padding.
macro_rules! plain {
    ($($t:ty),*) => {
        $(
            // SAFETY: The structure is `repr(C)` and made of integers (and arrays of them) only,
            // without padding (the assertions below compare its size with the bindings'): every
            // bit pattern is a valid value.
            unsafe impl FromBytes for $t {}
            // SAFETY: As above, every byte of a value is an initialised byte of an integer, and
            // there is no interior mutability.
            unsafe impl AsBytes for $t {}
        )*
    };
}

plain!(
    WriteRead,
    TransactionData,
    TransactionDataSg,
    FlatBinderObject,
    NodeInfoForRef,
    ExtendedError
);

macro_rules! same_layout {
    ($ours:ty, $theirs:ty, $($field:ident = $cfield:ident),*) => {
        const _: () = {
            assert!(size_of::<$ours>() == size_of::<$theirs>());
            $(assert!(offset_of!($ours, $field) == offset_of!($theirs, $cfield));)*
        };
    };
}

same_layout!(
    WriteRead,
    uapi::binder_write_read,
    write_size = write_size,
    write_consumed = write_consumed,
    write_buffer = write_buffer,
    read_size = read_size,
    read_consumed = read_consumed,
    read_buffer = read_buffer
);
same_layout!(
    TransactionData,
    uapi::binder_transaction_data,
    target = target,
    cookie = cookie,
    code = code,
    flags = flags,
    sender_pid = sender_pid,
    sender_euid = sender_euid,
    data_size = data_size,
    offsets_size = offsets_size,
    buffer = data
);
same_layout!(
    TransactionDataSg,
    uapi::binder_transaction_data_sg,
    transaction = transaction_data,
    buffers_size = buffers_size
);
same_layout!(
    FlatBinderObject,
    uapi::flat_binder_object,
    kind = hdr,
    flags = flags,
    cookie = cookie
);
same_layout!(
    NodeInfoForRef,
    uapi::binder_node_info_for_ref,
    handle = handle,
    strong_count = strong_count,
    weak_count = weak_count,
    reserved = reserved1
);
same_layout!(
    ExtendedError,
    uapi::binder_extended_error,
    id = id,
    command = command,
    param = param
);
