//! A small binder client library on raw ioctls: a device with its buffer area mapped, a command
//! writer, a return reader, parcels with objects and offsets, timed reads, and child processes.
//!
//! Each [`Binder`] is one binder process (one open file of the device), so one program can be
//! several binder processes at once; each thread that calls into a [`Binder`] is one of its
//! binder threads. [`Child`] runs a binder process in a forked process, for checks in which a
//! process dies.

use crate::proto::{self, *};
use std::marker::PhantomData;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use vmtest::fd::{errno, Fd};

/// How long a read waits for a return the check expects before the check fails.
pub const PATIENCE: Duration = Duration::from_secs(5);
/// How long a read waits to see that nothing comes.
pub const QUIET: Duration = Duration::from_millis(300);
/// The size of the read buffer: room for several returns and a transaction.
const READ_BYTES: usize = 1024;

/// An open binder device with its buffer area mapped (read-only, as libbinder maps it).
pub struct Binder {
    fd: Fd,
    map: usize,
    len: usize,
}

impl Binder {
    /// Opens the device at `path` and maps [`MAP_1M`] of it.
    pub fn open(path: &str) -> Result<Binder, String> {
        let fd = proto::open(path)?;
        let flags = libc::MAP_PRIVATE | libc::MAP_NORESERVE;
        let map = proto::mmap(&fd, MAP_1M, libc::PROT_READ, flags)
            .map_err(|e| format!("mmap {path}: {}", errno_name(e)))?;
        Ok(Binder {
            fd,
            map,
            len: MAP_1M,
        })
    }

    /// Opens the device at `path` without mapping a buffer area: transactions to this
    /// process cannot be delivered.
    pub fn open_unmapped(path: &str) -> Result<Binder, String> {
        Ok(Binder {
            fd: proto::open(path)?,
            map: 0,
            len: 0,
        })
    }

    /// An ioctl with an argument, on the device's file.
    pub fn fd_ioctl<T>(&self, request: libc::c_ulong, arg: &mut T) -> Result<(), i32> {
        self.fd.ioctl(request, arg)
    }

    /// The size of the buffer area.
    pub fn area_size(&self) -> usize {
        self.len
    }

    /// Makes this process the context manager, waiting up to 3 s for an earlier one (of a
    /// check that has just ended) to be released.
    pub fn become_manager(&self) -> Result<(), String> {
        become_manager(&self.fd).map_err(|e| format!("BINDER_SET_CONTEXT_MGR: {}", errno_name(e)))
    }

    /// `BINDER_GET_NODE_INFO_FOR_REF`: the strong and weak counts of the node behind `handle`.
    pub fn node_info(&self, handle: u32) -> Result<(u32, u32), i32> {
        let mut info = [handle, 0, 0, 0, 0, 0u32];
        self.fd.ioctl(BINDER_GET_NODE_INFO_FOR_REF, &mut info)?;
        Ok((info[1], info[2]))
    }

    /// `BINDER_GET_EXTENDED_ERROR` of the calling thread: the command and the errno parameter
    /// (the id differs between devices and is left out).
    pub fn extended_error(&self) -> Result<(u32, i32), i32> {
        let mut ee = [0u32; 3];
        self.fd.ioctl(BINDER_GET_EXTENDED_ERROR, &mut ee)?;
        Ok((ee[1], ee[2] as i32))
    }

    /// One `BINDER_WRITE_READ`: runs `cmds`, then reads if `read` is given, interrupting the
    /// read after that long.
    pub fn write_read(&self, cmds: &Commands<'_>, read: Option<Duration>) -> Io {
        let mut buf = vec![0u8; if read.is_some() { READ_BYTES } else { 0 }];
        let mut bwr = WriteRead {
            write_size: cmds.bytes.len() as u64,
            write_consumed: 0,
            write_buffer: cmds.bytes.as_ptr() as u64,
            read_size: buf.len() as u64,
            read_consumed: 0,
            read_buffer: buf.as_mut_ptr() as u64,
        };
        let result = {
            let _watchdog = read.map(Watchdog::new);
            self.fd.ioctl(BINDER_WRITE_READ, &mut bwr)
        };
        let len = (bwr.read_consumed as usize).min(buf.len());
        Io {
            result,
            write_consumed: bwr.write_consumed,
            returns: self.parse(&buf[..len]),
        }
    }

    /// One `BINDER_WRITE_READ` of `cmds` with a read buffer that may point anywhere (the
    /// driver checks it): `read_size` bytes at `read_buffer`, `read_consumed` of them used.
    /// Returns the result and the consumed counts.
    pub fn write_read_at(
        &self,
        cmds: &Commands<'_>,
        read_buffer: u64,
        read_size: u64,
        read_consumed: u64,
    ) -> (Result<(), i32>, u64, u64) {
        let mut bwr = WriteRead {
            write_size: cmds.bytes.len() as u64,
            write_consumed: 0,
            write_buffer: cmds.bytes.as_ptr() as u64,
            read_size,
            read_consumed,
            read_buffer,
        };
        let result = self.fd.ioctl(BINDER_WRITE_READ, &mut bwr);
        (result, bwr.write_consumed, bwr.read_consumed)
    }

    /// Unmaps the buffer area; the file stays open. Transactions to this process then fail.
    pub fn unmap(&mut self) -> Result<(), String> {
        if self.len > 0 {
            proto::munmap(self.map, self.len).map_err(|e| format!("munmap: {}", errno_name(e)))?;
            self.len = 0;
        }
        Ok(())
    }

    /// Runs `cmds` without reading; fails on an error.
    pub fn write(&self, cmds: &Commands<'_>) -> Result<(), String> {
        let io = self.write_read(cmds, None);
        io.result
            .map_err(|e| format!("BINDER_WRITE_READ (write): {}", errno_name(e)))
    }

    /// Reads once, waiting at most `wait`; `Ok` with no returns if nothing came.
    pub fn read(&self, wait: Duration) -> Result<Vec<Ret>, String> {
        let io = self.write_read(&Commands::new(), Some(wait));
        match io.result {
            Ok(()) | Err(libc::EINTR) => Ok(io.returns),
            Err(e) => Err(format!("BINDER_WRITE_READ (read): {}", errno_name(e))),
        }
    }

    /// Reads as a looper thread that is already known to the driver, so that the read waits
    /// for work (the first read of a new thread returns at once), for at most `wait`.
    pub fn idle_read(&self, wait: Duration) -> Result<Vec<Ret>, String> {
        self.write(&Commands::new().enter_looper())?;
        self.read(wait)
    }

    /// Runs `cmds`, then reads until a return for which `until` holds; returns everything read.
    /// Fails after [`PATIENCE`].
    pub fn wait_for(
        &self,
        cmds: &Commands<'_>,
        what: &str,
        until: impl Fn(&Ret) -> bool,
    ) -> Result<Vec<Ret>, String> {
        let deadline = Instant::now() + PATIENCE;
        let mut io = self.write_read(cmds, Some(PATIENCE));
        let mut seen = Vec::new();
        let mut first = true;
        loop {
            match io.result {
                Ok(()) | Err(libc::EINTR) => {}
                Err(e) => {
                    return Err(format!(
                        "BINDER_WRITE_READ waiting for {what}: {} after {:?}",
                        errno_name(e),
                        describe_all(&seen)
                    ))
                }
            }
            if first && io.write_consumed < cmds.bytes.len() as u64 {
                return Err(format!(
                    "waiting for {what}: {} of {} command bytes consumed",
                    io.write_consumed,
                    cmds.bytes.len()
                ));
            }
            first = false;
            let done = io.returns.iter().any(&until);
            seen.append(&mut io.returns);
            if done {
                return Ok(seen);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!(
                    "no {what} within {PATIENCE:?}; saw {:?}",
                    describe_all(&seen)
                ));
            }
            io = self.write_read(&Commands::new(), Some(left));
        }
    }

    /// Sends a transaction and reads until its outcome: the reply (or the completion of a
    /// one-way transaction), or a failure. A reply's buffer is freed.
    pub fn call(
        &self,
        handle: u32,
        code: u32,
        flags: u32,
        parcel: &Parcel,
    ) -> Result<Vec<Ret>, String> {
        let rets = self.call_keep(handle, code, flags, parcel)?;
        self.free_replies(&rets)?;
        Ok(rets)
    }

    /// [`Binder::call`] without freeing the reply's buffer.
    pub fn call_keep(
        &self,
        handle: u32,
        code: u32,
        flags: u32,
        parcel: &Parcel,
    ) -> Result<Vec<Ret>, String> {
        let cmds = Commands::new().transaction(handle, code, flags, parcel);
        self.send(&cmds, flags & TF_ONE_WAY != 0)
    }

    /// Runs `cmds`, which end in a transaction, and reads until its outcome.
    pub fn send(&self, cmds: &Commands<'_>, one_way: bool) -> Result<Vec<Ret>, String> {
        self.wait_for(cmds, "the transaction's outcome", |r| r.ends_call(one_way))
    }

    /// Sends a synchronous transaction and reads until its outcome, serving with `serve` the
    /// transactions that reach this thread meanwhile (calls back into it, nested in the one it
    /// waits for). Returns everything read, the nested transactions included; frees the reply.
    pub fn call_serving(
        &self,
        handle: u32,
        code: u32,
        parcel: &Parcel,
        serve: &mut dyn FnMut(&Txn) -> Result<Parcel, String>,
    ) -> Result<Vec<Ret>, String> {
        let until = |r: &Ret| matches!(r, Ret::Transaction(_)) || r.ends_call(false);
        let cmds = Commands::new().transaction(handle, code, 0, parcel);
        let mut rets = self.wait_for(&cmds, "the reply or a nested call", until)?;
        let mut seen = Vec::new();
        loop {
            let nested = rets.iter().find_map(|r| match r {
                Ret::Transaction(t) => Some(t.clone()),
                _ => None,
            });
            seen.append(&mut rets);
            let Some(t) = nested else {
                break;
            };
            let reply = serve(&t)?;
            let cmds = Commands::new().free_buffer(t.data.buffer).reply(0, &reply);
            rets = self.wait_for(&cmds, "the reply or a nested call", until)?;
        }
        self.free_replies(&seen)?;
        Ok(seen)
    }

    /// Frees the buffers of the replies among `rets`.
    pub fn free_replies(&self, rets: &[Ret]) -> Result<(), String> {
        let mut cmds = Commands::new();
        for r in rets {
            if let Ret::Reply(t) = r {
                cmds = cmds.free_buffer(t.data.buffer);
            }
        }
        self.write(&cmds)
    }

    /// Waits for a transaction, then replies with what `handle` returns (nothing for a one-way
    /// transaction) after freeing its buffer. Returns the transaction and everything read.
    pub fn serve_one(
        &self,
        handle: impl FnOnce(&Txn) -> Result<Parcel, String>,
    ) -> Result<(Txn, Vec<Ret>), String> {
        let cmds = Commands::new().enter_looper();
        let rets = self.wait_for(&cmds, "BR_TRANSACTION", |r| {
            matches!(r, Ret::Transaction(_))
        })?;
        let txn = rets
            .iter()
            .find_map(|r| match r {
                Ret::Transaction(t) => Some(t.clone()),
                _ => None,
            })
            .ok_or("no transaction")?;
        let reply = handle(&txn)?;
        let cmds = Commands::new().free_buffer(txn.data.buffer);
        if txn.data.flags & TF_ONE_WAY != 0 {
            self.write(&cmds)?;
        } else {
            let cmds = cmds.reply(0, &reply);
            self.wait_for(&cmds, "the reply's BR_TRANSACTION_COMPLETE", |r| {
                matches!(
                    r,
                    Ret::TransactionComplete | Ret::FailedReply | Ret::DeadReply
                )
            })?;
        }
        Ok((txn, rets))
    }

    /// Acknowledges the `BR_INCREFS` and `BR_ACQUIRE` among `rets`, as libbinder does.
    pub fn ack_node_work(&self, rets: &[Ret]) -> Result<(), String> {
        let mut cmds = Commands::new();
        for r in rets {
            match *r {
                Ret::Increfs(p, c) => cmds = cmds.increfs_done(p, c),
                Ret::Acquire(p, c) => cmds = cmds.acquire_done(p, c),
                _ => {}
            }
        }
        self.write(&cmds)
    }

    /// The returns in `bytes`, with the data and offsets of transactions copied out of the
    /// buffer area.
    fn parse(&self, bytes: &[u8]) -> Vec<Ret> {
        parse(bytes, &|d| self.txn(d))
    }

    /// A received transaction with its data and offsets, if they lie in the buffer area.
    fn txn(&self, data: TransactionData) -> Txn {
        // SAFETY: the area is our read-only mapping of the buffer area, which lives as long
        // as `self`; the driver does not change a buffer it has given us.
        unsafe { txn_in(data, self.map, self.len) }
    }
}

impl Drop for Binder {
    fn drop(&mut self) {
        if self.len > 0 {
            let _ = proto::munmap(self.map, self.len);
        }
    }
}

/// The returns in `bytes`; `txn` completes a transaction's structure.
fn parse(bytes: &[u8], txn: &dyn Fn(TransactionData) -> Txn) -> Vec<Ret> {
    let mut rets = Vec::new();
    let mut at = 0;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let dword = |at: usize| -> Option<u64> {
        Some(u64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    while let Some(cmd) = word(at) {
        at += 4;
        let ptr_cookie = || Some((dword(at)?, dword(at + 8)?));
        let (ret, len) = match cmd {
            BR_NOOP => (Some(Ret::Noop), 0),
            BR_OK => (Some(Ret::Ok), 0),
            BR_ERROR => (word(at).map(|e| Ret::Error(e as i32)), 4),
            BR_TRANSACTION_COMPLETE => (Some(Ret::TransactionComplete), 0),
            BR_DEAD_REPLY => (Some(Ret::DeadReply), 0),
            BR_FAILED_REPLY => (Some(Ret::FailedReply), 0),
            BR_FROZEN_REPLY => (Some(Ret::FrozenReply), 0),
            BR_SPAWN_LOOPER => (Some(Ret::SpawnLooper), 0),
            BR_FINISHED => (Some(Ret::Finished), 0),
            BR_ONEWAY_SPAM_SUSPECT => (Some(Ret::OnewaySpamSuspect), 0),
            BR_TRANSACTION_PENDING_FROZEN => (Some(Ret::TransactionPendingFrozen), 0),
            BR_TRANSACTION | BR_REPLY | BR_TRANSACTION_SEC_CTX => {
                let txn = bytes
                    .get(at..)
                    .and_then(TransactionData::from_bytes)
                    .map(txn);
                let ret = txn.map(|t| match cmd {
                    BR_TRANSACTION => Ret::Transaction(t),
                    BR_REPLY => Ret::Reply(t),
                    _ => Ret::TransactionSecCtx(t),
                });
                let extra = if cmd == BR_TRANSACTION_SEC_CTX { 8 } else { 0 };
                (ret, TransactionData::SIZE + extra)
            }
            BR_INCREFS => (ptr_cookie().map(|(p, c)| Ret::Increfs(p, c)), 16),
            BR_ACQUIRE => (ptr_cookie().map(|(p, c)| Ret::Acquire(p, c)), 16),
            BR_RELEASE => (ptr_cookie().map(|(p, c)| Ret::Release(p, c)), 16),
            BR_DECREFS => (ptr_cookie().map(|(p, c)| Ret::Decrefs(p, c)), 16),
            BR_DEAD_BINDER => (dword(at).map(Ret::DeadBinder), 8),
            BR_CLEAR_DEATH_NOTIFICATION_DONE => (dword(at).map(Ret::ClearDeathDone), 8),
            BR_FROZEN_BINDER => (
                ptr_cookie().map(|(c, f)| Ret::FrozenBinder(c, f as u32)),
                16,
            ),
            BR_CLEAR_FREEZE_NOTIFICATION_DONE => (dword(at).map(Ret::ClearFreezeDone), 8),
            other => (Some(Ret::Unknown(other)), usize::MAX),
        };
        match ret {
            Some(Ret::Noop) => {}
            Some(r) => rets.push(r),
            None => rets.push(Ret::Truncated(cmd)),
        }
        if len == usize::MAX {
            break;
        }
        at += len;
    }
    rets
}

/// A received transaction with its data and offsets copied out of the area of `len` bytes at
/// `map`, if they lie in it.
///
/// # Safety
///
/// The area must be readable memory that nobody writes for the duration of the call.
unsafe fn txn_in(data: TransactionData, map: usize, len: usize) -> Txn {
    let range = |start: u64, size: u64| -> Option<&[u8]> {
        let start = usize::try_from(start).ok()?;
        let size = usize::try_from(size).ok()?;
        let end = start.checked_add(size)?;
        if start < map || end > map + len {
            return None;
        }
        // SAFETY: the range lies in the area, which the caller guarantees readable and
        // unchanged.
        Some(unsafe { std::slice::from_raw_parts(start as *const u8, size) })
    };
    let bytes = range(data.buffer, data.data_size);
    let offsets = range(data.offsets, data.offsets_size);
    Txn {
        data,
        in_area: bytes.is_some() && offsets.is_some(),
        bytes: bytes.map(<[u8]>::to_vec).unwrap_or_default(),
        offsets: offsets
            .map(|o| {
                o.chunks_exact(8)
                    .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Makes `fd` the context manager, waiting up to 3 s for the C binder to release an earlier
/// one (it releases a process from a work queue).
pub fn become_manager(fd: &Fd) -> Result<(), i32> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let r = fd.ioctl(BINDER_SET_CONTEXT_MGR, &mut 0i32);
        if r != Err(libc::EBUSY) || Instant::now() > deadline {
            return r;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// What one `BINDER_WRITE_READ` gave.
pub struct Io {
    pub result: Result<(), i32>,
    pub write_consumed: u64,
    /// The returns read, without `BR_NOOP`.
    pub returns: Vec<Ret>,
}

/// A received `BR_TRANSACTION` or `BR_REPLY`.
#[derive(Clone, Debug, PartialEq)]
pub struct Txn {
    pub data: TransactionData,
    /// The data and the offsets lie in the receiver's buffer area.
    pub in_area: bool,
    /// The data, copied out of the buffer area.
    pub bytes: Vec<u8>,
    /// The offsets of the objects in the data.
    pub offsets: Vec<u64>,
}

impl Txn {
    /// The object at `offset` of the data.
    pub fn object_at(&self, offset: u64) -> Option<FlatBinderObject> {
        FlatBinderObject::from_bytes(self.bytes.get(usize::try_from(offset).ok()?..)?)
    }

    /// The objects, in the order of the offsets.
    pub fn objects(&self) -> Vec<FlatBinderObject> {
        self.offsets
            .iter()
            .filter_map(|&o| self.object_at(o))
            .collect()
    }

    /// What must be equal on both devices: code, flags, the target's pointer and cookie, who
    /// sent it, the data (in full up to 64 bytes, else its size and a checksum), the offsets
    /// and objects. Not the addresses, which differ.
    pub fn describe(&self) -> String {
        let d = &self.data;
        // SAFETY: `getpid` has no preconditions.
        let me = unsafe { libc::getpid() };
        let sender = match d.sender_pid {
            0 => "none",
            p if p == me => "this process",
            _ => "another process",
        };
        let data = if self.bytes.len() <= 64 {
            format!("{:02x?}", self.bytes)
        } else {
            format!(
                "{} bytes, checksum {:#x}",
                self.bytes.len(),
                checksum(&self.bytes)
            )
        };
        let layout = d.offsets == d.buffer + ((d.data_size + 7) & !7);
        format!(
            "code {} flags {:#x} target {:#x} cookie {:#x} sender {sender} euid {} \
             data_size {} offsets_size {} data {data} offsets {:?} objects {:?} \
             in area {} offsets after data {layout}",
            d.code,
            d.flags,
            d.target,
            d.cookie,
            d.sender_euid,
            d.data_size,
            d.offsets_size,
            self.offsets,
            self.objects()
                .iter()
                .map(|o| format!(
                    "{} flags {:#x} binder {:#x} cookie {:#x}",
                    o.kind_name(),
                    o.flags,
                    o.binder,
                    o.cookie
                ))
                .collect::<Vec<_>>(),
            self.in_area,
        )
    }
}

/// A checksum of payload bytes (FNV-1a).
pub fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// One return of the driver.
#[derive(Clone, Debug, PartialEq)]
pub enum Ret {
    Noop,
    Ok,
    Error(i32),
    TransactionComplete,
    DeadReply,
    FailedReply,
    FrozenReply,
    SpawnLooper,
    Finished,
    OnewaySpamSuspect,
    TransactionPendingFrozen,
    Transaction(Txn),
    TransactionSecCtx(Txn),
    Reply(Txn),
    Increfs(u64, u64),
    Acquire(u64, u64),
    Release(u64, u64),
    Decrefs(u64, u64),
    DeadBinder(u64),
    ClearDeathDone(u64),
    FrozenBinder(u64, u32),
    ClearFreezeDone(u64),
    /// A return code this library does not know; the rest of the buffer is not parsed.
    Unknown(u32),
    /// A return whose payload did not fit in what the driver wrote.
    Truncated(u32),
}

impl Ret {
    /// Whether this ends a call: its reply or a failure (for a one-way call, its completion).
    pub fn ends_call(&self, one_way: bool) -> bool {
        match self {
            Ret::TransactionComplete => one_way,
            Ret::Reply(_) => !one_way,
            Ret::DeadReply
            | Ret::FailedReply
            | Ret::FrozenReply
            | Ret::Error(_)
            | Ret::Unknown(_)
            | Ret::Truncated(_) => true,
            _ => false,
        }
    }

    /// The return as a record: equal on both devices when they behave the same.
    pub fn describe(&self) -> String {
        match self {
            Ret::Transaction(t) => format!("BR_TRANSACTION {}", t.describe()),
            Ret::TransactionSecCtx(t) => format!("BR_TRANSACTION_SEC_CTX {}", t.describe()),
            Ret::Reply(t) => format!("BR_REPLY {}", t.describe()),
            Ret::Increfs(p, c) => format!("BR_INCREFS {p:#x} {c:#x}"),
            Ret::Acquire(p, c) => format!("BR_ACQUIRE {p:#x} {c:#x}"),
            Ret::Release(p, c) => format!("BR_RELEASE {p:#x} {c:#x}"),
            Ret::Decrefs(p, c) => format!("BR_DECREFS {p:#x} {c:#x}"),
            Ret::DeadBinder(c) => format!("BR_DEAD_BINDER {c:#x}"),
            Ret::ClearDeathDone(c) => format!("BR_CLEAR_DEATH_NOTIFICATION_DONE {c:#x}"),
            Ret::Error(e) => format!("BR_ERROR {e}"),
            Ret::Unknown(c) => format!("unknown return {c:#x}"),
            Ret::Truncated(c) => format!("truncated return {c:#x}"),
            Ret::FrozenBinder(c, f) => format!("BR_FROZEN_BINDER {c:#x} {f}"),
            Ret::ClearFreezeDone(c) => format!("BR_CLEAR_FREEZE_NOTIFICATION_DONE {c:#x}"),
            Ret::Noop => "BR_NOOP".into(),
            Ret::Ok => "BR_OK".into(),
            Ret::TransactionComplete => "BR_TRANSACTION_COMPLETE".into(),
            Ret::DeadReply => "BR_DEAD_REPLY".into(),
            Ret::FailedReply => "BR_FAILED_REPLY".into(),
            Ret::FrozenReply => "BR_FROZEN_REPLY".into(),
            Ret::SpawnLooper => "BR_SPAWN_LOOPER".into(),
            Ret::Finished => "BR_FINISHED".into(),
            Ret::OnewaySpamSuspect => "BR_ONEWAY_SPAM_SUSPECT".into(),
            Ret::TransactionPendingFrozen => "BR_TRANSACTION_PENDING_FROZEN".into(),
        }
    }

    /// The name of the return, without its payload.
    pub fn name(&self) -> String {
        let d = self.describe();
        d.split_whitespace().next().unwrap_or_default().to_string()
    }
}

/// The returns as a record.
pub fn describe_all(rets: &[Ret]) -> Vec<String> {
    rets.iter().map(Ret::describe).collect()
}

/// The names of the returns, without payloads.
pub fn names(rets: &[Ret]) -> Vec<String> {
    rets.iter().map(Ret::name).collect()
}

/// The first transaction (or reply) among `rets`.
pub fn first_txn(rets: &[Ret]) -> Option<&Txn> {
    rets.iter().find_map(|r| match r {
        Ret::Transaction(t) | Ret::Reply(t) | Ret::TransactionSecCtx(t) => Some(t),
        _ => None,
    })
}

/// The data of a transaction and its objects' offsets.
#[derive(Clone, Debug, Default)]
pub struct Parcel {
    pub data: Vec<u8>,
    pub offsets: Vec<u64>,
}

impl Parcel {
    /// A parcel of plain bytes.
    pub fn bytes(b: &[u8]) -> Parcel {
        Parcel {
            data: b.to_vec(),
            offsets: Vec::new(),
        }
    }

    /// A parcel of one object.
    pub fn object(o: FlatBinderObject) -> Parcel {
        let mut p = Parcel::default();
        p.push_object(o);
        p
    }

    /// Appends plain bytes.
    pub fn push_bytes(&mut self, b: &[u8]) -> &mut Self {
        self.data.extend_from_slice(b);
        self
    }

    /// Appends an object at the next 4-byte boundary and records its offset.
    pub fn push_object(&mut self, o: FlatBinderObject) -> &mut Self {
        while !self.data.len().is_multiple_of(4) {
            self.data.push(0);
        }
        self.offsets.push(self.data.len() as u64);
        self.data.extend_from_slice(&o.to_bytes());
        self
    }

    /// The `binder_transaction_data` for this parcel: it points into the parcel.
    pub fn txn(&self, handle: u32, code: u32, flags: u32) -> TransactionData {
        TransactionData {
            target: handle.into(),
            cookie: 0,
            code,
            flags,
            sender_pid: 0,
            sender_euid: 0,
            data_size: self.data.len() as u64,
            offsets_size: 8 * self.offsets.len() as u64,
            buffer: self.data.as_ptr() as u64,
            offsets: self.offsets.as_ptr() as u64,
        }
    }
}

/// Commands for the write half of `BINDER_WRITE_READ`. It borrows the parcels of its
/// transactions, whose data the driver reads when the commands run.
#[derive(Default)]
pub struct Commands<'a> {
    bytes: Vec<u8>,
    parcels: PhantomData<&'a Parcel>,
}

impl<'a> Commands<'a> {
    /// No commands.
    pub fn new() -> Self {
        Commands::default()
    }

    /// A 32-bit word: a command or an argument.
    pub fn word(mut self, w: u32) -> Self {
        self.bytes.extend_from_slice(&w.to_ne_bytes());
        self
    }

    /// A 64-bit argument.
    pub fn dword(mut self, w: u64) -> Self {
        self.bytes.extend_from_slice(&w.to_ne_bytes());
        self
    }

    /// Raw bytes.
    pub fn raw(mut self, b: &[u8]) -> Self {
        self.bytes.extend_from_slice(b);
        self
    }

    /// The commands of `other`, appended.
    pub fn raw_from(self, other: &Commands<'_>) -> Self {
        let bytes = other.bytes.clone();
        self.raw(&bytes)
    }

    /// The length of the commands in bytes.
    pub fn byte_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// `cmd` with a transaction structure that may point anywhere (the caller's business).
    pub fn transaction_data(self, cmd: u32, t: TransactionData) -> Self {
        self.word(cmd).raw(&t.to_bytes())
    }

    /// `BC_TRANSACTION` of `parcel` to `handle`.
    pub fn transaction(self, handle: u32, code: u32, flags: u32, parcel: &'a Parcel) -> Self {
        self.transaction_data(BC_TRANSACTION, parcel.txn(handle, code, flags))
    }

    /// `BC_REPLY` with `parcel`.
    pub fn reply(self, flags: u32, parcel: &'a Parcel) -> Self {
        self.transaction_data(BC_REPLY, parcel.txn(0, 0, flags))
    }

    pub fn free_buffer(self, address: u64) -> Self {
        self.word(BC_FREE_BUFFER).dword(address)
    }

    pub fn increfs(self, handle: u32) -> Self {
        self.word(BC_INCREFS).word(handle)
    }

    pub fn acquire(self, handle: u32) -> Self {
        self.word(BC_ACQUIRE).word(handle)
    }

    pub fn release(self, handle: u32) -> Self {
        self.word(BC_RELEASE).word(handle)
    }

    pub fn increfs_done(self, ptr: u64, cookie: u64) -> Self {
        self.word(BC_INCREFS_DONE).dword(ptr).dword(cookie)
    }

    pub fn acquire_done(self, ptr: u64, cookie: u64) -> Self {
        self.word(BC_ACQUIRE_DONE).dword(ptr).dword(cookie)
    }

    pub fn enter_looper(self) -> Self {
        self.word(BC_ENTER_LOOPER)
    }

    pub fn request_death(self, handle: u32, cookie: u64) -> Self {
        self.word(BC_REQUEST_DEATH_NOTIFICATION)
            .word(handle)
            .dword(cookie)
    }

    pub fn clear_death(self, handle: u32, cookie: u64) -> Self {
        self.word(BC_CLEAR_DEATH_NOTIFICATION)
            .word(handle)
            .dword(cookie)
    }

    pub fn dead_binder_done(self, cookie: u64) -> Self {
        self.word(BC_DEAD_BINDER_DONE).dword(cookie)
    }
}

/// Interrupts the calling thread with `SIGUSR1` once a time has passed, until it is dropped.
struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watchdog {
    fn new(after: Duration) -> Watchdog {
        // SAFETY: `pthread_self` has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            let mut wait = after;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                // SAFETY: the thread `me` lives until it has joined this thread (in `drop`);
                // SIGUSR1 has a handler that does nothing.
                unsafe { libc::pthread_kill(me, libc::SIGUSR1) };
                wait = Duration::from_millis(50);
            }
        });
        Watchdog {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A pipe end that carries 32-bit messages between the processes of a check.
pub struct Pipe(Fd);

impl Pipe {
    /// A pipe: (read end, write end).
    pub fn new() -> Result<(Pipe, Pipe), String> {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(format!("pipe: errno {}", errno()));
        }
        Ok((Pipe(Fd::from_raw(fds[0])), Pipe(Fd::from_raw(fds[1]))))
    }

    /// Sends `v`.
    pub fn send(&self, v: u32) -> Result<(), String> {
        let b = v.to_ne_bytes();
        // SAFETY: `b` is valid for reads of its length.
        let n = unsafe { libc::write(self.0.raw(), b.as_ptr().cast(), b.len()) };
        if n != 4 {
            return Err(format!("pipe write: errno {}", errno()));
        }
        Ok(())
    }

    /// Writes all of `bytes`.
    pub fn write_all(&self, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            // SAFETY: `bytes` is valid for reads of its length.
            let n = unsafe { libc::write(self.0.raw(), bytes.as_ptr().cast(), bytes.len()) };
            if n <= 0 {
                return Err(format!("pipe write: errno {}", errno()));
            }
            bytes = &bytes[n as usize..];
        }
        Ok(())
    }

    /// Reads until the other end is closed, for at most `limit`.
    pub fn read_to_end(&self, limit: Duration) -> Result<Vec<u8>, String> {
        let deadline = Instant::now() + limit;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("timed out after {limit:?}"));
            }
            let mut pfd = libc::pollfd {
                fd: self.0.raw(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32 + 1) };
            if r < 0 && errno() != libc::EINTR {
                return Err(format!("poll: errno {}", errno()));
            }
            if r <= 0 {
                continue;
            }
            let mut b = [0u8; 4096];
            // SAFETY: `b` is valid for writes of its length.
            let n = unsafe { libc::read(self.0.raw(), b.as_mut_ptr().cast(), b.len()) };
            match n {
                0 => return Ok(out),
                n if n > 0 => out.extend_from_slice(&b[..n as usize]),
                _ if errno() == libc::EINTR => {}
                _ => return Err(format!("read: errno {}", errno())),
            }
        }
    }

    /// Receives a message, waiting at most [`PATIENCE`].
    pub fn recv(&self) -> Result<u32, String> {
        let mut pfd = libc::pollfd {
            fd: self.0.raw(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, PATIENCE.as_millis() as i32) };
        if r <= 0 {
            return Err("no message from the other process".into());
        }
        let mut b = [0u8; 4];
        // SAFETY: `b` is valid for writes of its length.
        let n = unsafe { libc::read(self.0.raw(), b.as_mut_ptr().cast(), b.len()) };
        if n != 4 {
            return Err("the other process closed its pipe".into());
        }
        Ok(u32::from_ne_bytes(b))
    }
}

/// A child process of a check; killed and reaped on drop.
pub struct Child {
    pid: libc::pid_t,
    reaped: bool,
    /// Messages to the child.
    pub to: Pipe,
    /// Messages from the child.
    pub from: Pipe,
}

impl Child {
    /// Forks a child that runs `f` with its pipe ends (from the parent, to the parent) and
    /// exits with what `f` returns. The caller must have no other threads: the child may
    /// allocate and start threads.
    pub fn fork(f: impl FnOnce(&Pipe, &Pipe) -> i32) -> Result<Child, String> {
        let (to_read, to_write) = Pipe::new()?;
        let (from_read, from_write) = Pipe::new()?;
        // SAFETY: the caller has no other threads, so the child's copy of the process is
        // consistent; it runs `f` and `_exit`s.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(format!("fork: errno {}", errno()));
        }
        if pid == 0 {
            drop(to_write);
            drop(from_read);
            let code =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&to_read, &from_write)))
                    .unwrap_or(101);
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        Ok(Child {
            pid,
            reaped: false,
            to: to_write,
            from: from_read,
        })
    }

    /// Kills the child with `SIGKILL` and reaps it.
    pub fn kill(&mut self) -> Result<(), String> {
        // SAFETY: `pid` is our unreaped child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        self.wait().map(drop)
    }

    /// Waits up to [`PATIENCE`] for the child to end; its exit status (or 128 + signal).
    pub fn wait(&mut self) -> Result<i32, String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut status = 0;
            // SAFETY: `pid` is our child and `status` is valid for writes.
            let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if r == self.pid {
                self.reaped = true;
                if libc::WIFEXITED(status) {
                    return Ok(libc::WEXITSTATUS(status));
                }
                return Ok(128 + libc::WTERMSIG(status));
            }
            if r < 0 {
                return Err(format!("waitpid: errno {}", errno()));
            }
            if Instant::now() > deadline {
                return Err("the child process did not end".into());
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.kill();
        }
    }
}

/// The requests a [`Broker`] serves (transaction codes to handle 0).
pub mod broker {
    /// Keeps a strong reference to the node of the object sent (and a weak one for a weak
    /// object); replies with the broker's handle (u32) and the node's counts as text.
    pub const ADD: u32 = 1;
    /// Replies with a strong handle object of the broker's handle in the request (u32).
    pub const GET: u32 = 2;
    /// Replies with `BINDER_GET_NODE_INFO_FOR_REF` of the handle in the request, as text.
    pub const INFO: u32 = 3;
    /// Runs the reference commands in the request (pairs of u32 command, handle); replies
    /// with the outcome and `write_consumed` as text.
    pub const REFS: u32 = 4;
    /// Calls the handle in the request with a handle object of it; replies with what it saw.
    pub const SEND_BACK: u32 = 5;
}

/// A context manager in a child process, through which the binder processes of a check find
/// each other's nodes, and which makes the requests only a context manager may make.
///
/// It has to be another process: the C binder refuses transactions to the context manager
/// from the process (thread group) that owns it, whichever of its files they come from.
pub struct Broker {
    _child: Child,
}

impl Broker {
    /// Forks the broker and waits until it is the context manager.
    pub fn start(path: &str) -> Result<Broker, String> {
        let path = path.to_string();
        let child = Child::fork(move |_, to_parent| match run_broker(&path, to_parent) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("broker: {e}");
                1
            }
        })?;
        match child.from.recv()? {
            1 => Ok(Broker { _child: child }),
            _ => Err("the broker did not become the context manager".into()),
        }
    }

    /// `from` sends `object` (one of its nodes) to the broker, which keeps a reference.
    /// Returns the broker's handle, its text, and what `from` read (the node work for the
    /// object acknowledged).
    pub fn publish(
        &self,
        from: &Binder,
        object: FlatBinderObject,
    ) -> Result<(u32, String, Vec<Ret>), String> {
        let rets = from.call_keep(0, broker::ADD, 0, &Parcel::object(object))?;
        from.ack_node_work(&rets)?;
        from.free_replies(&rets)?;
        let reply = first_txn(&rets).ok_or_else(|| format!("ADD: {:?}", describe_all(&rets)))?;
        let handle = reply
            .bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_ne_bytes)
            .ok_or("ADD: short reply")?;
        let text = String::from_utf8_lossy(&reply.bytes[4..]).into_owned();
        Ok((handle, text, rets))
    }

    /// `from` asks for the broker's `handle`; it keeps a strong reference to the node.
    /// Returns `from`'s handle.
    pub fn lookup(&self, from: &Binder, handle: u32) -> Result<u32, String> {
        let rets = from.call_keep(0, broker::GET, 0, &Parcel::bytes(&handle.to_ne_bytes()))?;
        let reply = first_txn(&rets).ok_or_else(|| format!("GET: {:?}", describe_all(&rets)))?;
        let object = reply.objects().into_iter().next().ok_or("GET: no object")?;
        let mine = object.binder as u32;
        from.write(&Commands::new().acquire(mine))?;
        from.free_replies(&rets)?;
        Ok(mine)
    }

    /// `from` makes a request of the broker; returns its text reply.
    pub fn ask(&self, from: &Binder, code: u32, words: &[u32]) -> Result<String, String> {
        let mut p = Parcel::default();
        for w in words {
            p.push_bytes(&w.to_ne_bytes());
        }
        let rets = from.call(0, code, 0, &p)?;
        let reply =
            first_txn(&rets).ok_or_else(|| format!("request {code}: {:?}", describe_all(&rets)))?;
        Ok(String::from_utf8_lossy(&reply.bytes).into_owned())
    }
}

/// The broker's process: becomes the context manager and serves requests until killed.
fn run_broker(path: &str, to_parent: &Pipe) -> Result<(), String> {
    let b = Binder::open(path)?;
    b.become_manager()?;
    to_parent.send(1)?;
    b.write(&Commands::new().enter_looper())?;
    loop {
        let rets = b.read(Duration::from_secs(3600))?;
        b.ack_node_work(&rets)?;
        for r in &rets {
            if let Ret::Transaction(t) = r {
                let reply = broker_serve(&b, t);
                let cmds = Commands::new().free_buffer(t.data.buffer);
                if t.data.flags & TF_ONE_WAY != 0 {
                    b.write(&cmds)?;
                } else {
                    let cmds = cmds.reply(0, &reply);
                    b.wait_for(&cmds, "BR_TRANSACTION_COMPLETE", |r| {
                        matches!(r, Ret::TransactionComplete | Ret::FailedReply)
                    })?;
                }
            }
        }
    }
}

/// The broker's answer to one request.
fn broker_serve(b: &Binder, t: &Txn) -> Parcel {
    let word = |i: usize| -> u32 {
        t.bytes
            .get(4 * i..4 * i + 4)
            .and_then(|w| w.try_into().ok())
            .map_or(u32::MAX, u32::from_ne_bytes)
    };
    let info = |h: u32| format!("{:?}", b.node_info(h).map_err(errno_name));
    let text = |s: String| Parcel::bytes(s.as_bytes());
    match t.data.code {
        broker::ADD => {
            let mut handle = u32::MAX;
            let mut cmds = Commands::new();
            let mut counts = Vec::new();
            for o in t.objects() {
                let h = o.binder as u32;
                if o.kind == BINDER_TYPE_HANDLE {
                    counts.push(info(h));
                    cmds = cmds.acquire(h);
                } else {
                    cmds = cmds.increfs(h);
                }
                handle = handle.min(h);
            }
            let outcome = b.write(&cmds).err().unwrap_or_default();
            let mut p = Parcel::bytes(&handle.to_ne_bytes());
            p.push_bytes(format!("counts {counts:?}{outcome}").as_bytes());
            p
        }
        broker::GET => Parcel::object(FlatBinderObject::handle(true, word(0))),
        broker::INFO => text(info(word(0))),
        broker::REFS => {
            let mut cmds = Commands::new();
            for i in 0..t.bytes.len() / 4 {
                cmds = cmds.word(word(i));
            }
            let io = b.write_read(&cmds, None);
            text(format!("{} {}", outcome(io.result), io.write_consumed))
        }
        broker::SEND_BACK => {
            let h = word(0);
            let p = Parcel::object(FlatBinderObject::handle(true, h));
            let mut serve = |n: &Txn| Ok(broker_serve(b, n));
            match b.call_serving(h, 9, &p, &mut serve) {
                Ok(rets) => text(format!("{:?}", names(&rets))),
                Err(e) => text(e),
            }
        }
        other => text(format!("unknown request {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parcels_align_objects_and_record_offsets() {
        let mut p = Parcel::bytes(b"abcde");
        p.push_object(FlatBinderObject::handle(false, 3));
        assert_eq!(p.offsets, [8]);
        assert_eq!(p.data.len(), 32);
        let o = FlatBinderObject::from_bytes(&p.data[8..]).expect("an object");
        assert_eq!(
            (o.kind, o.binder, o.cookie),
            (BINDER_TYPE_WEAK_HANDLE, 3, 0)
        );
        let t = p.txn(7, 9, TF_ONE_WAY);
        assert_eq!(
            (t.target, t.code, t.flags, t.data_size, t.offsets_size),
            (7, 9, 1, 32, 8)
        );
        assert_eq!(TransactionData::from_bytes(&t.to_bytes()), Some(t));
    }

    #[test]
    fn commands_are_laid_out_as_the_driver_reads_them() {
        let c = Commands::new().request_death(5, 0x1122).free_buffer(0x3344);
        let mut want = BC_REQUEST_DEATH_NOTIFICATION.to_ne_bytes().to_vec();
        want.extend_from_slice(&5u32.to_ne_bytes());
        want.extend_from_slice(&0x1122u64.to_ne_bytes());
        want.extend_from_slice(&BC_FREE_BUFFER.to_ne_bytes());
        want.extend_from_slice(&0x3344u64.to_ne_bytes());
        assert_eq!(c.bytes, want);
    }

    #[test]
    fn returns_are_parsed_up_to_an_unknown_one() {
        let mut b = Vec::new();
        for w in [BR_NOOP, BR_INCREFS] {
            b.extend_from_slice(&w.to_ne_bytes());
        }
        b.extend_from_slice(&0xa0u64.to_ne_bytes());
        b.extend_from_slice(&0xc0u64.to_ne_bytes());
        b.extend_from_slice(&BR_TRANSACTION_COMPLETE.to_ne_bytes());
        b.extend_from_slice(&BR_DEAD_BINDER.to_ne_bytes());
        b.extend_from_slice(&0xd1u64.to_ne_bytes());
        b.extend_from_slice(&0x1234u32.to_ne_bytes());
        b.extend_from_slice(&BR_NOOP.to_ne_bytes());
        let no_txn = |_| panic!("no transaction here");
        let rets = parse(&b, &no_txn);
        assert_eq!(
            describe_all(&rets),
            [
                "BR_INCREFS 0xa0 0xc0",
                "BR_TRANSACTION_COMPLETE",
                "BR_DEAD_BINDER 0xd1",
                "unknown return 0x1234"
            ]
        );
        // A return cut short by the end of what the driver wrote.
        let cut = &b[..12];
        assert_eq!(parse(cut, &no_txn), [Ret::Truncated(BR_INCREFS)]);
    }

    #[test]
    fn transactions_outside_the_area_keep_no_bytes() {
        let area = [7u8; 64];
        let map = area.as_ptr() as usize;
        let inside = TransactionData {
            data_size: 8,
            offsets_size: 8,
            buffer: map as u64,
            offsets: map as u64 + 8,
            ..TransactionData::default()
        };
        // SAFETY: `area` is readable and nobody writes it.
        let t = unsafe { txn_in(inside, map, area.len()) };
        assert!(t.in_area);
        assert_eq!(t.bytes, [7; 8]);
        assert_eq!(t.offsets, [0x0707_0707_0707_0707]);
        let outside = TransactionData {
            buffer: map as u64 + 60,
            ..inside
        };
        // SAFETY: as above.
        let t = unsafe { txn_in(outside, map, area.len()) };
        assert!(!t.in_area);
        assert!(t.bytes.is_empty());
    }
}
