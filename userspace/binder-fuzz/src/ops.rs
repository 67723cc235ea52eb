//! The calls the fuzzer makes, generated from a seed, and the binder features each one uses.
//!
//! An [`Op`] names everything symbolically (file slots, "the last buffer received"), so that
//! the same sequence runs on any device and after any of its other calls were removed.

use crate::rng::Rng;
use crate::uapi::*;

/// Files a sequence can have open at once: each open file is a binder process.
pub const SLOTS: u8 = 4;

/// A user pointer passed to the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ptr {
    /// The call's own memory (the argument or payload, or the read buffer).
    Own,
    /// `NULL`.
    Null,
    /// A kernel address.
    Kernel,
    /// A user address that is not mapped.
    Unmapped,
    /// Inside the slot's binder mapping (read-only for user space), at this offset.
    Map(u8, u32),
    /// The call's memory placed so that it ends this many bytes before an inaccessible page.
    AtGuard(u16),
    /// The call's memory shifted by one byte.
    Misaligned,
}

/// The features of binder a call uses. The differential mode compares the two drivers only on
/// calls whose features binder-lite implements ([`crate::diff::SUPPORTED`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Feature {
    Open,
    Close,
    Mmap,
    Version,
    MaxThreads,
    ContextMgr,
    ThreadExit,
    NodeInfoForRef,
    ExtendedError,
    SpamDetection,
    UnknownIoctl,
    NodeDebugInfo,
    Freeze,
    WriteRead,
    Looper,
    UnknownCommand,
    Transaction,
    OneWay,
    Reply,
    BinderObjects,
    FdObjects,
    ScatterGather,
    FreeBuffer,
    RefCounts,
    RefDone,
    Death,
    FreezeNotification,
}

/// Every feature, for `--also`.
pub const ALL: &[Feature] = &[
    Feature::Open,
    Feature::Close,
    Feature::Mmap,
    Feature::Version,
    Feature::MaxThreads,
    Feature::ContextMgr,
    Feature::ThreadExit,
    Feature::NodeInfoForRef,
    Feature::ExtendedError,
    Feature::SpamDetection,
    Feature::UnknownIoctl,
    Feature::NodeDebugInfo,
    Feature::Freeze,
    Feature::WriteRead,
    Feature::Looper,
    Feature::UnknownCommand,
    Feature::Transaction,
    Feature::OneWay,
    Feature::Reply,
    Feature::BinderObjects,
    Feature::FdObjects,
    Feature::ScatterGather,
    Feature::FreeBuffer,
    Feature::RefCounts,
    Feature::RefDone,
    Feature::Death,
    Feature::FreezeNotification,
];

/// A buffer given back with `BC_FREE_BUFFER`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufRef {
    /// The n-th last buffer this slot received (0 = the last one).
    Received(u8),
    /// This offset in the slot's mapping.
    MapOffset(u32),
    /// Any address.
    Addr(u64),
}

/// A node named in `BC_INCREFS_DONE` / `BC_ACQUIRE_DONE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRef {
    /// The node of the last `BR_INCREFS`/`BR_ACQUIRE` this slot read.
    LastAsked,
    /// A pointer and cookie.
    Value(u64, u64),
}

/// `BC_TRANSACTION`, `BC_REPLY` and their `_SG` forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Txn {
    pub word: u32,
    pub handle: u32,
    pub code: u32,
    pub flags: u32,
    pub data: Vec<u8>,
    pub offsets: Vec<u64>,
    pub data_ptr: Ptr,
    pub offsets_ptr: Ptr,
    /// `data_size` if not the length of `data`.
    pub data_size: Option<u64>,
    /// `offsets_size` if not 8 × the number of offsets.
    pub offsets_size: Option<u64>,
    /// `buffers_size` of the `_SG` forms.
    pub buffers_size: u64,
}

/// One command of a write buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cmd {
    Txn(Txn),
    FreeBuffer(BufRef),
    /// `BC_INCREFS`, `BC_ACQUIRE`, `BC_RELEASE`, `BC_DECREFS` on a handle.
    Ref(u32, u32),
    /// `BC_INCREFS_DONE`, `BC_ACQUIRE_DONE`.
    RefDone(u32, NodeRef),
    /// `BC_ENTER_LOOPER`, `BC_REGISTER_LOOPER`, `BC_EXIT_LOOPER`.
    Looper(u32),
    /// `BC_REQUEST_DEATH_NOTIFICATION`, `BC_CLEAR_DEATH_NOTIFICATION` (handle, cookie).
    Death(u32, u32, u64),
    DeadBinderDone(u64),
    /// Any command word with any payload.
    Raw(u32, Vec<u8>),
}

/// A `BINDER_WRITE_READ` call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteRead {
    pub slot: u8,
    pub cmds: Vec<Cmd>,
    /// Bytes cut from the end of the serialized commands.
    pub truncate: u16,
    pub write_ptr: Ptr,
    /// `write_size` if not the length of the serialized commands.
    pub write_size: Option<u64>,
    pub write_consumed: u64,
    pub read_size: u64,
    pub read_ptr: Ptr,
    pub read_consumed: u64,
}

/// One call of a sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Open(u8),
    Close(u8),
    Mmap {
        slot: u8,
        len: usize,
        prot: i32,
        flags: i32,
    },
    Munmap(u8),
    Mprotect(u8, i32),
    /// `BINDER_SET_CONTEXT_MGR`, retried while the device still has a manager being released.
    BecomeManager(u8),
    /// An ioctl with a 24-byte argument (copied to the call's memory when `ptr` is `Own`).
    Ioctl {
        slot: u8,
        request: libc::c_ulong,
        arg: [u32; 6],
        ptr: Ptr,
    },
    WriteRead(WriteRead),
}

fn slot_of(op: &Op) -> u8 {
    match op {
        Op::Open(s) | Op::Close(s) | Op::Munmap(s) | Op::Mprotect(s, _) | Op::BecomeManager(s) => {
            *s
        }
        Op::Mmap { slot, .. } | Op::Ioctl { slot, .. } => *slot,
        Op::WriteRead(w) => w.slot,
    }
}

impl Op {
    /// The file slot the call uses.
    pub fn slot(&self) -> u8 {
        slot_of(self)
    }
}

/// The features of one command word and its payload as the driver would parse it.
pub fn cmd_features(cmd: &Cmd) -> Vec<Feature> {
    match cmd {
        Cmd::Txn(t) => {
            let mut f = vec![match t.word {
                BC_REPLY | BC_REPLY_SG => Feature::Reply,
                _ => Feature::Transaction,
            }];
            if matches!(t.word, BC_TRANSACTION_SG | BC_REPLY_SG) {
                f.push(Feature::ScatterGather);
            }
            if t.flags & TF_ONE_WAY != 0 {
                f.push(Feature::OneWay);
            }
            if !t.offsets.is_empty() || t.offsets_size.is_some_and(|s| s != 0) {
                f.push(Feature::BinderObjects);
            }
            for pair in t.data.chunks(4) {
                if pair.len() == 4 {
                    let word = u32::from_ne_bytes([pair[0], pair[1], pair[2], pair[3]]);
                    if matches!(word, BINDER_TYPE_FD | BINDER_TYPE_FDA | BINDER_TYPE_PTR) {
                        f.push(Feature::FdObjects);
                    }
                }
            }
            f
        }
        Cmd::FreeBuffer(_) => vec![Feature::FreeBuffer],
        Cmd::Ref(..) => vec![Feature::RefCounts],
        Cmd::RefDone(..) => vec![Feature::RefDone],
        Cmd::Looper(_) => vec![Feature::Looper],
        Cmd::Death(..) | Cmd::DeadBinderDone(_) => vec![Feature::Death],
        Cmd::Raw(word, _) => vec![word_feature(*word)],
    }
}

/// The feature of a bare command word.
pub fn word_feature(word: u32) -> Feature {
    match word {
        BC_TRANSACTION => Feature::Transaction,
        BC_REPLY => Feature::Reply,
        BC_TRANSACTION_SG | BC_REPLY_SG => Feature::ScatterGather,
        BC_FREE_BUFFER => Feature::FreeBuffer,
        BC_INCREFS | BC_ACQUIRE | BC_RELEASE | BC_DECREFS => Feature::RefCounts,
        BC_INCREFS_DONE | BC_ACQUIRE_DONE => Feature::RefDone,
        BC_ENTER_LOOPER | BC_REGISTER_LOOPER | BC_EXIT_LOOPER => Feature::Looper,
        BC_REQUEST_DEATH_NOTIFICATION | BC_CLEAR_DEATH_NOTIFICATION | BC_DEAD_BINDER_DONE => {
            Feature::Death
        }
        BC_REQUEST_FREEZE_NOTIFICATION
        | BC_CLEAR_FREEZE_NOTIFICATION
        | BC_FREEZE_NOTIFICATION_DONE => Feature::FreezeNotification,
        _ => Feature::UnknownCommand,
    }
}

/// The features a call uses.
pub fn features(op: &Op) -> Vec<Feature> {
    match op {
        Op::Open(_) => vec![Feature::Open],
        Op::Close(_) => vec![Feature::Close],
        Op::Mmap { .. } | Op::Munmap(_) | Op::Mprotect(..) => vec![Feature::Mmap],
        Op::BecomeManager(_) => vec![Feature::ContextMgr],
        Op::Ioctl { request, .. } => vec![match *request {
            BINDER_VERSION => Feature::Version,
            BINDER_SET_MAX_THREADS => Feature::MaxThreads,
            BINDER_SET_CONTEXT_MGR | BINDER_SET_CONTEXT_MGR_EXT => Feature::ContextMgr,
            BINDER_THREAD_EXIT => Feature::ThreadExit,
            BINDER_GET_NODE_INFO_FOR_REF => Feature::NodeInfoForRef,
            BINDER_GET_EXTENDED_ERROR => Feature::ExtendedError,
            BINDER_ENABLE_ONEWAY_SPAM_DETECTION => Feature::SpamDetection,
            BINDER_GET_NODE_DEBUG_INFO => Feature::NodeDebugInfo,
            BINDER_FREEZE | BINDER_GET_FROZEN_INFO => Feature::Freeze,
            BINDER_WRITE_READ => Feature::WriteRead,
            _ => Feature::UnknownIoctl,
        }],
        Op::WriteRead(w) => {
            let mut f = vec![Feature::WriteRead];
            for cmd in &w.cmds {
                f.extend(cmd_features(cmd));
            }
            f
        }
    }
}

/// Node pointers (and cookies) the generated objects use: a few, so that nodes are reused.
const NODES: [u64; 4] = [0x1000, 0x2000, 0x3000, 0x4000];
/// Handles the generated calls name: those a driver hands out first, and some it never does.
const HANDLES: [u32; 7] = [0, 1, 1, 2, 3, 7, 0xffff_ffff];

/// The largest offset of a [`Ptr::Map`] into its mapping.
pub const MAX_MAP_OFFSET: usize = 2 * 4096;
/// The largest `read_consumed` of a generated call: the driver writes that far past the start
/// of the read buffer.
pub const MAX_READ_CONSUMED: u64 = 4104;
/// The largest cut of a [`Ptr::AtGuard`].
pub const MAX_GUARD_CUT: u16 = 31;

fn ptr(rng: &mut Rng, slot: u8) -> Ptr {
    if rng.chance(85) {
        return Ptr::Own;
    }
    match rng.below(6) {
        0 => Ptr::Null,
        1 => Ptr::Kernel,
        2 => Ptr::Unmapped,
        3 => Ptr::Map(slot, (rng.below(3) as usize * MAX_MAP_OFFSET / 2) as u32),
        4 => Ptr::AtGuard(rng.below(u64::from(MAX_GUARD_CUT) + 1) as u16),
        _ => Ptr::Misaligned,
    }
}

fn size_override(rng: &mut Rng, exact: u64) -> Option<u64> {
    if rng.chance(85) {
        return None;
    }
    Some(match rng.below(6) {
        0 => 0,
        1 => exact.saturating_sub(rng.below(8) + 1),
        2 => exact + rng.below(16) + 1,
        3 => u64::MAX - rng.below(8),
        4 => 1 << (rng.below(30) + 20),
        _ => (exact as i64).wrapping_neg() as u64,
    })
}

fn handle(rng: &mut Rng) -> u32 {
    if rng.chance(90) {
        rng.pick(&HANDLES)
    } else {
        rng.next() as u32
    }
}

fn object(rng: &mut Rng, out: &mut Vec<u8>) {
    let kind = match rng.below(20) {
        0..=4 => BINDER_TYPE_BINDER,
        5..=7 => BINDER_TYPE_WEAK_BINDER,
        8..=12 => BINDER_TYPE_HANDLE,
        13..=14 => BINDER_TYPE_WEAK_HANDLE,
        15 => BINDER_TYPE_FD,
        16 => BINDER_TYPE_FDA,
        17 => BINDER_TYPE_PTR,
        _ => rng.next() as u32,
    };
    let flags = if rng.chance(50) {
        FLAT_BINDER_FLAG_ACCEPTS_FDS | 0x7f
    } else {
        rng.next() as u32 & 0x1fff
    };
    let (binder, cookie) = match kind {
        BINDER_TYPE_HANDLE | BINDER_TYPE_WEAK_HANDLE => (u64::from(handle(rng)), 0),
        // An fd the fuzzer never opens, so that no file of ours travels.
        BINDER_TYPE_FD => (900, 0),
        BINDER_TYPE_FDA | BINDER_TYPE_PTR => (0, 0),
        _ => {
            let node = rng.pick(&NODES);
            (node, node + 1)
        }
    };
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&binder.to_ne_bytes());
    out.extend_from_slice(&cookie.to_ne_bytes());
}

fn txn(rng: &mut Rng, slot: u8) -> Txn {
    let word = match rng.below(20) {
        0..=11 => BC_TRANSACTION,
        12..=17 => BC_REPLY,
        18 => BC_TRANSACTION_SG,
        _ => BC_REPLY_SG,
    };
    let mut data = Vec::new();
    let mut offsets = Vec::new();
    for _ in 0..rng.below(4) {
        if rng.chance(50) {
            offsets.push(data.len() as u64);
            object(rng, &mut data);
        } else {
            let n = rng.pick(&[0usize, 4, 8, 12, 3, 64, 300]);
            data.extend((0..n).map(|_| rng.next() as u8));
        }
    }
    if rng.chance(15) {
        // Offsets that overlap, are unaligned, point past the data or wrap.
        let at = offsets.len().saturating_sub(1);
        let base = offsets.get(at).copied().unwrap_or(0);
        let bad = match rng.below(5) {
            0 => base + 8,
            1 => base + 1,
            2 => data.len() as u64,
            3 => data.len().saturating_sub(FLAT_SIZE as usize - 4) as u64,
            _ => u64::MAX - 7,
        };
        offsets.insert(rng.below(offsets.len() as u64 + 1) as usize, bad);
    }
    let data_len = data.len() as u64;
    let (any_code, any_size) = (rng.next() as u32, rng.next());
    let offsets_len = 8 * offsets.len() as u64;
    Txn {
        word,
        handle: handle(rng),
        code: rng.pick(&[0, 1, 0x5f4e5446, any_code]),
        flags: match rng.below(8) {
            0..=3 => 0,
            4 => TF_ONE_WAY,
            5 => TF_ACCEPT_FDS,
            6 => TF_ONE_WAY | TF_ACCEPT_FDS,
            _ => rng.next() as u32 & 0xff,
        },
        data,
        offsets,
        data_ptr: ptr(rng, slot),
        offsets_ptr: ptr(rng, slot),
        data_size: size_override(rng, data_len),
        offsets_size: size_override(rng, offsets_len),
        buffers_size: rng.pick(&[0, 8, 64, any_size]),
    }
}

fn cmd(rng: &mut Rng, slot: u8) -> Cmd {
    match rng.below(100) {
        0..=29 => Cmd::Txn(txn(rng, slot)),
        30..=37 => Cmd::FreeBuffer(match rng.below(10) {
            0..=6 => BufRef::Received(rng.below(3) as u8),
            7 | 8 => BufRef::MapOffset(rng.pick(&[0, 8, 4096, 1 << 20]) as u32),
            _ => BufRef::Addr(rng.next()),
        }),
        38..=51 => Cmd::Ref(
            rng.pick(&[BC_INCREFS, BC_ACQUIRE, BC_RELEASE, BC_DECREFS]),
            handle(rng),
        ),
        52..=59 => Cmd::RefDone(
            rng.pick(&[BC_INCREFS_DONE, BC_ACQUIRE_DONE]),
            if rng.chance(70) {
                NodeRef::LastAsked
            } else {
                let node = rng.pick(&NODES);
                NodeRef::Value(node, node + rng.below(2))
            },
        ),
        60..=73 => Cmd::Looper(rng.pick(&[BC_ENTER_LOOPER, BC_REGISTER_LOOPER, BC_EXIT_LOOPER])),
        74..=83 => Cmd::Death(
            rng.pick(&[BC_REQUEST_DEATH_NOTIFICATION, BC_CLEAR_DEATH_NOTIFICATION]),
            handle(rng),
            rng.pick(&[0u64, 1, 2]),
        ),
        84..=87 => Cmd::DeadBinderDone(rng.pick(&[0u64, 1, 2, 3])),
        _ => {
            let word = match rng.below(4) {
                0 => rng.next() as u32,
                // A known command with a payload of its own size but random content.
                1 => rng.pick(&[
                    BC_TRANSACTION,
                    BC_REPLY,
                    BC_FREE_BUFFER,
                    BC_ACQUIRE_RESULT,
                    BC_ATTEMPT_ACQUIRE,
                    BC_REQUEST_FREEZE_NOTIFICATION,
                    BC_CLEAR_FREEZE_NOTIFICATION,
                    BC_FREEZE_NOTIFICATION_DONE,
                    BC_TRANSACTION_SG,
                ]),
                // A command number of 'c' with a wrong size.
                2 => (rng.next() as u32 & 0xc03f_00ff) | 0x6300 | ((rng.below(24) as u32) << 16),
                _ => 0x4000_6300 | rng.below(32) as u32,
            };
            let len = payload_size(word).min(256);
            Cmd::Raw(word, (0..len).map(|_| rng.next() as u8).collect())
        }
    }
}

fn write_read(rng: &mut Rng, slot: u8) -> WriteRead {
    let cmds = (0..rng.pick(&[0u64, 1, 1, 1, 2, 3]))
        .map(|_| cmd(rng, slot))
        .collect();
    let reads = rng.chance(35);
    WriteRead {
        slot,
        cmds,
        truncate: if rng.chance(8) {
            rng.below(12) as u16 + 1
        } else {
            0
        },
        write_ptr: ptr(rng, slot),
        write_size: size_override(rng, 0).filter(|_| rng.chance(50)),
        write_consumed: if rng.chance(5) {
            rng.pick(&[4, 8, u64::MAX])
        } else {
            0
        },
        read_size: if reads {
            rng.pick(&[4, 8, 64, 256, 256, 1024, 3, 1 << 30])
        } else {
            0
        },
        read_ptr: ptr(rng, slot),
        // Small: the driver writes at read_buffer + read_consumed, which must stay in our arena.
        read_consumed: if rng.chance(5) {
            rng.pick(&[4, 8, MAX_READ_CONSUMED])
        } else {
            0
        },
    }
}

/// One random call on one of `slots` slots.
pub fn op(rng: &mut Rng, slots: u8) -> Op {
    let slot = rng.below(u64::from(slots)) as u8;
    match rng.below(100) {
        0..=3 => Op::Open(slot),
        4 => Op::Close(slot),
        5..=7 => Op::Mmap {
            slot,
            len: rng.pick(&[MAP_1M, MAP_1M, 4096, 0, 4 << 20, 8 << 20, 1 << 40]),
            prot: rng.pick(&[
                libc::PROT_READ,
                libc::PROT_READ,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::PROT_NONE,
            ]),
            flags: rng.pick(&[
                libc::MAP_PRIVATE | libc::MAP_NORESERVE,
                libc::MAP_SHARED,
                libc::MAP_PRIVATE,
            ]),
        },
        8 => Op::Munmap(slot),
        9 => Op::Mprotect(
            slot,
            rng.pick(&[
                libc::PROT_READ | libc::PROT_WRITE,
                libc::PROT_NONE,
                libc::PROT_READ,
            ]),
        ),
        10..=24 => {
            let request = match rng.below(16) {
                0 => BINDER_VERSION,
                1 => BINDER_SET_MAX_THREADS,
                2 => BINDER_SET_CONTEXT_MGR,
                3 => BINDER_SET_CONTEXT_MGR_EXT,
                4..=6 => BINDER_THREAD_EXIT,
                7 => BINDER_GET_NODE_INFO_FOR_REF,
                8 => BINDER_GET_EXTENDED_ERROR,
                9 => BINDER_ENABLE_ONEWAY_SPAM_DETECTION,
                10 => BINDER_GET_NODE_DEBUG_INFO,
                11 => BINDER_GET_FROZEN_INFO,
                12 => BINDER_SET_IDLE_TIMEOUT,
                13 => BINDER_SET_IDLE_PRIORITY,
                14 => vmtest::fd::ioc(vmtest::fd::IOC_READWRITE, b'b', rng.below(32) as u8, 4),
                _ => rng.next() as u32 as libc::c_ulong,
            };
            let mut arg = [0u32; 6];
            for a in arg.iter_mut() {
                *a = match rng.below(4) {
                    0 | 1 => 0,
                    2 => rng.below(4) as u32,
                    _ => rng.next() as u32,
                };
            }
            if request == BINDER_SET_CONTEXT_MGR_EXT && rng.chance(70) {
                arg = [BINDER_TYPE_BINDER, FLAT_BINDER_FLAG_ACCEPTS_FDS, 0, 0, 0, 0];
            }
            // Never BINDER_FREEZE: it may wait for as long as its argument says.
            Op::Ioctl {
                slot,
                request,
                arg,
                ptr: ptr(rng, slot),
            }
        }
        _ => Op::WriteRead(write_read(rng, slot)),
    }
}

/// The calls every differential sequence starts with: two processes, the first the context
/// manager, both mapped as libbinder maps.
pub fn preamble() -> Vec<Op> {
    let map = |slot| Op::Mmap {
        slot,
        len: MAP_1M,
        prot: libc::PROT_READ,
        flags: libc::MAP_PRIVATE | libc::MAP_NORESERVE,
    };
    vec![
        Op::Open(0),
        Op::BecomeManager(0),
        map(0),
        Op::Open(1),
        map(1),
    ]
}

/// `op` as a call, with the names of the UAPI for requests and command words.
pub fn describe(op: &Op) -> String {
    match op {
        Op::Ioctl {
            slot,
            request,
            arg,
            ptr,
        } => {
            format!(
                "ioctl(slot {slot}, {}, {ptr:?} -> {arg:x?})",
                ioctl_name(*request)
            )
        }
        Op::WriteRead(w) => {
            let cmds: Vec<String> = w
                .cmds
                .iter()
                .map(|c| match c {
                    Cmd::Txn(t) => format!("{} {t:x?}", bc_name(t.word)),
                    Cmd::Ref(word, h) => format!("{} {h:#x}", bc_name(*word)),
                    Cmd::RefDone(word, n) => format!("{} {n:x?}", bc_name(*word)),
                    Cmd::Looper(word) => bc_name(*word),
                    Cmd::Death(word, h, c) => format!("{} {h:#x} cookie {c:#x}", bc_name(*word)),
                    Cmd::Raw(word, p) => format!("{} payload {p:x?}", bc_name(*word)),
                    other => format!("{other:x?}"),
                })
                .collect();
            format!(
                "ioctl(slot {}, BINDER_WRITE_READ, write [{}] truncated by {} at {:?} size {:?}                  consumed {}, read {} bytes at {:?} consumed {})",
                w.slot,
                cmds.join(", "),
                w.truncate,
                w.write_ptr,
                w.write_size,
                w.write_consumed,
                w.read_size,
                w.read_ptr,
                w.read_consumed
            )
        }
        other => format!("{other:?}"),
    }
}
