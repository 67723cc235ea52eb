//! The structures of the binder UAPI (`include/uapi/linux/android/binder.h`, 64-bit, and
//! `binderfs.h`) as user space passes them; their numbers are in [`crate::binder`].

use crate::binder::*;

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

/// `struct binder_ptr_cookie`: the argument of `BR_INCREFS`, `BC_INCREFS_DONE` and the like.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PtrCookie {
    pub ptr: u64,
    pub cookie: u64,
}
