//! Runs calls on a device and describes what each returned, in words that do not depend on
//! where things are mapped, so that two drivers can be compared.

use crate::ops::*;
use crate::uapi::*;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vmtest::fd::errno;

/// Size of the scratch area (read buffers, ioctl arguments) and of the write area.
const AREA: usize = 64 << 10;
/// Filler of read buffers.
const FILL: u8 = 0xa5;

/// Inaccessible memory after the arena and after every binder mapping: the driver writes up
/// to `read_consumed` bytes past the start of a read buffer, which may itself start a little
/// past a guard page or up to [`MAX_MAP_OFFSET`] into a mapping of one page. Without it, the
/// driver would write, as the fuzzer asked, into whatever memory of ours follows, and the
/// process could die of its own corruption (the likely cause of a child that died of SIGSEGV
/// in one `make test`).
const TAIL: usize = (MAX_MAP_OFFSET + MAX_READ_CONSUMED as usize + 4095) & !4095;

/// Memory of one calling thread: a scratch area, a write area, then [`TAIL`] inaccessible
/// bytes.
pub struct Arena {
    base: usize,
}

impl Arena {
    /// Maps a new arena.
    pub fn new() -> Arena {
        let len = 2 * AREA + TAIL;
        // SAFETY: a new anonymous mapping at an address the kernel chooses touches no memory
        // of ours.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(base != libc::MAP_FAILED, "cannot map the arena");
        let base = base as usize;
        // SAFETY: the tail is part of the mapping just made, which only this arena uses.
        let r = unsafe { libc::mprotect((base + 2 * AREA) as *mut _, TAIL, libc::PROT_NONE) };
        assert!(r == 0, "cannot protect the tail");
        Arena { base }
    }

    fn scratch(&self) -> usize {
        self.base
    }

    fn write_area(&self) -> usize {
        self.base + AREA
    }

    fn guard(&self) -> usize {
        self.base + 2 * AREA
    }

    /// Copies `bytes` to `addr`, which is inside the arena with room for them.
    fn put(&self, addr: usize, bytes: &[u8]) {
        assert!(addr >= self.base && addr + bytes.len() <= self.guard());
        // SAFETY: the range is inside the arena's writable part (checked above), which no Rust
        // reference points into.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
    }

    /// Zeroes the scratch and write areas, so that what a call leaves there cannot reach the
    /// next one (the two drivers' worlds have arenas of their own, with different histories).
    fn clear(&self) {
        // SAFETY: the two areas are the arena's writable part, which no reference points into.
        unsafe { std::ptr::write_bytes(self.base as *mut u8, 0, 2 * AREA) };
    }

    /// Reads `len` bytes at `addr` inside the arena.
    fn get(&self, addr: usize, len: usize) -> Vec<u8> {
        let len = len.min(self.guard().saturating_sub(addr));
        if addr < self.base || len == 0 {
            return Vec::new();
        }
        let mut out = vec![0u8; len];
        // SAFETY: as in `put`, for reading.
        unsafe { std::ptr::copy_nonoverlapping(addr as *const u8, out.as_mut_ptr(), len) };
        out
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the arena's mapping is ours and nothing points into it any more.
        unsafe { libc::munmap(self.base as *mut _, 2 * AREA + TAIL) };
    }
}

/// Reserves `len` bytes of inaccessible memory at an address the kernel chooses; returns the
/// address or the errno.
fn reserve(len: usize) -> Result<usize, i32> {
    // SAFETY: a new inaccessible mapping at an address the kernel chooses touches no memory of
    // ours.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(errno())
    } else {
        Ok(p as usize)
    }
}

/// An address range that stays mapped without access: "unmapped" user pointers point here.
fn unmapped() -> usize {
    static ADDR: AtomicU64 = AtomicU64::new(0);
    let a = ADDR.load(Ordering::Relaxed);
    if a != 0 {
        return a as usize;
    }
    let p = reserve(1 << 20).expect("cannot reserve the unmapped range");
    ADDR.store(p as u64, Ordering::Relaxed);
    p
}

/// Maps `len` bytes of `fd` followed by [`TAIL`] inaccessible bytes; returns the mapping's
/// address or the errno.
///
/// It reserves both, gives the start of the reservation back and maps the file there with
/// `MAP_FIXED_NOREPLACE`. Not `MAP_FIXED` over the reservation: when the driver's `mmap`
/// refuses the mapping (`EPERM` for a writable one, `EBUSY` for a second one), the kernel has
/// already removed what it was to replace and leaves a hole, which another thread's stack or
/// arena can take before the reservation is given back, and giving it back then unmaps their
/// memory (fuzzer children died of SIGSEGV in `make stress` that way).
fn map_with_tail(fd: i32, len: usize, prot: i32, flags: i32) -> Result<usize, i32> {
    let total = len.checked_add(TAIL).ok_or(libc::ENOMEM)?;
    if len == 0 {
        // SAFETY: a mapping at an address the kernel chooses (the kernel refuses a length of 0).
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, fd, 0) };
        return if p == libc::MAP_FAILED {
            Err(errno())
        } else {
            Ok(p as usize)
        };
    }
    loop {
        let reserved = reserve(total)?;
        let tail = reserved + len;
        // SAFETY: the start of the reservation just made, which nothing else uses.
        unsafe { libc::munmap(reserved as *mut _, len) };
        // SAFETY: maps the file where nothing is mapped: `MAP_FIXED_NOREPLACE` fails rather
        // than replace anything.
        let p = unsafe {
            libc::mmap(
                reserved as *mut _,
                len,
                prot,
                flags | libc::MAP_FIXED_NOREPLACE,
                fd,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            return Ok(p as usize);
        }
        let e = errno();
        // SAFETY: the tail is still ours: nothing of this program maps over memory it did not
        // map itself.
        unsafe { libc::munmap(tail as *mut _, TAIL) };
        if e != libc::EEXIST {
            return Err(e);
        }
        // Another thread mapped something in the hole meanwhile: again, elsewhere.
    }
}

/// A kernel address.
const KERNEL: usize = 0xffff_ffff_8100_0000;

/// A file slot: an open file of the device and its mapping.
#[derive(Default)]
pub struct Slot {
    fd: Option<i32>,
    map: Option<(usize, usize)>,
    /// Buffer addresses received in `BR_TRANSACTION` / `BR_REPLY`, the last one last.
    received: Vec<u64>,
    /// The node of the last `BR_INCREFS` / `BR_ACQUIRE`.
    last_asked: (u64, u64),
}

/// What the threads of a process share: its slots.
pub type Slots = Arc<Mutex<Vec<Slot>>>;

/// New empty slots.
pub fn slots() -> Slots {
    Arc::new(Mutex::new((0..SLOTS).map(|_| Slot::default()).collect()))
}

/// The calling threads of this process, for the watchdog: (thread id, start of the current
/// call in microseconds since [`epoch`], 0 when none).
static WATCH: [(AtomicU64, AtomicU64); 64] = {
    #[allow(clippy::declare_interior_mutable_const)]
    const Z: (AtomicU64, AtomicU64) = (AtomicU64::new(0), AtomicU64::new(0));
    [Z; 64]
};

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_us() -> u64 {
    epoch().elapsed().as_micros() as u64 + 1
}

extern "C" fn on_signal(_: libc::c_int) {}

/// Installs the do-nothing `SIGUSR1` handler (without `SA_RESTART`) and starts the watchdog
/// thread, which interrupts a call that waits in the driver for more than `after`, again and
/// again until it returns. Call once per process.
pub fn start_watchdog(after: Duration) {
    // SAFETY: an all-zero `sigaction` is valid; the handler does nothing (async-signal-safe).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut());
    }
    let _ = epoch();
    let after = after.as_micros() as u64;
    std::thread::spawn(move || loop {
        let nap = Duration::from_micros(after / 2 + 500);
        let before = Instant::now();
        std::thread::sleep(nap);
        STALLED_US.fetch_add(stall(before.elapsed(), nap), Ordering::Relaxed);
        let now = now_us();
        for (tid, start) in &WATCH {
            let s = start.load(Ordering::SeqCst);
            let t = tid.load(Ordering::SeqCst);
            if s != 0 && t != 0 && now.saturating_sub(s) > after {
                // SAFETY: signals a thread of this process; a thread that exited makes this
                // fail with ESRCH, nothing else.
                unsafe {
                    libc::syscall(
                        libc::SYS_tgkill,
                        libc::getpid(),
                        t as libc::pid_t,
                        libc::SIGUSR1,
                    )
                };
            }
        }
    });
}

/// How long the watchdog found this process not running at all, in microseconds: the sum of
/// its naps' delays beyond [`STALL`]. A loaded host stops the whole VM for seconds at times (the
/// guest's clocksource watchdog reports it); a call is not slow for what happens meanwhile.
static STALLED_US: AtomicU64 = AtomicU64::new(0);

/// A nap late by more than this was a stall.
const STALL: Duration = Duration::from_millis(100);

/// The stall in a nap of `planned` that took `took`, in microseconds.
fn stall(took: Duration, planned: Duration) -> u64 {
    let late = took.saturating_sub(planned);
    if late > STALL {
        late.as_micros() as u64
    } else {
        0
    }
}

/// The stalls the watchdog has seen so far (see [`STALLED_US`]); 0 without a watchdog.
pub fn stalled() -> Duration {
    Duration::from_micros(STALLED_US.load(Ordering::Relaxed))
}

/// A calling thread's entry in the watchdog table.
struct Watched(usize);

impl Watched {
    fn register(index: usize) -> Watched {
        // SAFETY: `gettid` has no preconditions.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as u64;
        WATCH[index].0.store(tid, Ordering::SeqCst);
        Watched(index)
    }

    fn call<T>(&self, f: impl FnOnce() -> T) -> (T, Duration) {
        let start = now_us();
        WATCH[self.0].1.store(start, Ordering::SeqCst);
        let r = f();
        WATCH[self.0].1.store(0, Ordering::SeqCst);
        (r, Duration::from_micros(now_us().saturating_sub(start)))
    }
}

/// The outcome of one call: a description compared between drivers, and its errno.
pub struct Outcome {
    pub text: String,
    pub errno: Option<i32>,
    /// The call was skipped (its slot had no file); nothing reached a driver.
    pub skipped: bool,
    /// How long the call took.
    pub took: Duration,
}

/// Runs calls on one device.
pub struct World {
    path: String,
    pub slots: Slots,
    arena: Arena,
    watched: Watched,
    /// Replace unmapped ranges with an inaccessible mapping (when other threads may still use
    /// their addresses).
    reserve_unmapped: bool,
    /// Calls that reached the driver.
    pub calls: u64,
    /// Fault injection: `/proc/thread-self/fail-nth` and the allocation (counted from 1) of
    /// each ioctl to fail.
    pub fail_nth: Option<(i32, u32)>,
    /// Ioctls in which a fault was injected.
    pub injected: u64,
}

fn name(e: i32) -> String {
    let n = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ENOTTY => "ENOTTY",
        libc::ENOSPC => "ENOSPC",
        libc::EOVERFLOW => "EOVERFLOW",
        _ => return format!("errno {e}"),
    };
    n.to_string()
}

/// Errnos a binder call may give for bad input. Anything else (ERESTARTSYS leaking out, EIO,
/// ...) is a finding.
pub fn errno_allowed(e: i32) -> bool {
    matches!(
        e,
        libc::EPERM
            | libc::ENOENT
            | libc::ESRCH
            | libc::EINTR
            | libc::EBADF
            | libc::EAGAIN
            | libc::ENOMEM
            | libc::EACCES
            | libc::EFAULT
            | libc::EBUSY
            | libc::ENODEV
            | libc::EINVAL
            | libc::ENOTTY
            | libc::ENOSPC
            | libc::EOVERFLOW
    )
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

/// Reads our own memory at `addr` with `process_vm_readv`, which fails instead of faulting
/// where the driver installed no page.
fn read_own(addr: u64, len: usize) -> Option<Vec<u8>> {
    let mut out = vec![0u8; len];
    let local = libc::iovec {
        iov_base: out.as_mut_ptr().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut _,
        iov_len: len,
    };
    // SAFETY: `local` is our buffer of `len` bytes; the remote side is only read by the kernel,
    // which checks it.
    let r = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    (r == len as isize).then_some(out)
}

impl World {
    /// A world on the device at `path`; `index` is the calling thread's watchdog entry.
    pub fn new(path: &str, slots: Slots, index: usize, reserve_unmapped: bool) -> World {
        World {
            path: path.to_string(),
            slots,
            arena: Arena::new(),
            watched: Watched::register(index),
            reserve_unmapped,
            calls: 0,
            fail_nth: None,
            injected: 0,
        }
    }

    fn fd(&self, slot: u8) -> Option<i32> {
        self.slots.lock().unwrap()[slot as usize].fd
    }

    fn map(&self, slot: u8) -> Option<(usize, usize)> {
        self.slots.lock().unwrap()[slot as usize].map
    }

    /// The address of `ptr`, for memory of the call that is at `own` and `len` bytes long
    /// (already copied there).
    fn address(&self, ptr: Ptr, own: usize, len: usize) -> u64 {
        (match ptr {
            Ptr::Own => own,
            Ptr::Null => 0,
            Ptr::Kernel => KERNEL,
            Ptr::Unmapped => unmapped(),
            Ptr::Map(slot, off) => self
                .map(slot)
                .map_or(unmapped(), |(base, _)| base + off as usize),
            Ptr::AtGuard(cut) => {
                let keep = len.saturating_sub(cut as usize);
                let start = self.arena.guard() - keep;
                let bytes = self.arena.get(own, keep);
                self.arena.put(start, &bytes);
                start
            }
            Ptr::Misaligned => {
                let bytes = self.arena.get(own, len);
                self.arena.put(own + 1, &bytes);
                own + 1
            }
        }) as u64
    }

    /// Closes every file and mapping of the slots.
    pub fn close_all(&mut self) {
        for slot in 0..SLOTS {
            self.unmap(slot);
            if let Some(fd) = self.slots.lock().unwrap()[slot as usize].fd.take() {
                // SAFETY: the descriptor was ours and the slot no longer names it.
                unsafe { libc::close(fd) };
            }
        }
    }

    fn unmap(&mut self, slot: u8) -> Option<i32> {
        let (addr, len) = self.slots.lock().unwrap()[slot as usize].map.take()?;
        // SAFETY: the range is a binder mapping that this slot made, followed by its tail; no
        // Rust reference points into them. With `reserve_unmapped`, an inaccessible mapping
        // takes the mapping's place, so that addresses other threads still hold do not reach
        // new memory.
        let r = unsafe {
            if self.reserve_unmapped {
                let p = libc::mmap(
                    addr as *mut _,
                    len,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                    -1,
                    0,
                );
                if p == libc::MAP_FAILED {
                    -1
                } else {
                    0
                }
            } else {
                libc::munmap(addr as *mut _, len + TAIL)
            }
        };
        Some(if r < 0 { errno() } else { 0 })
    }

    /// Runs `op`.
    pub fn run(&mut self, op: &Op) -> Outcome {
        self.arena.clear();
        let slot = op.slot();
        let fd = self.fd(slot);
        let skipped = |what: &str| Outcome {
            text: what.to_string(),
            errno: None,
            skipped: true,
            took: Duration::ZERO,
        };
        let mut text = String::new();
        let mut errno_seen = None;
        let mut result = |r: Result<(), i32>, text: &mut String| match r {
            Ok(()) => text.push_str("ok"),
            Err(e) => {
                errno_seen = Some(e);
                text.push_str(&name(e));
            }
        };
        let start = Instant::now();
        match op {
            Op::Open(_) => {
                if fd.is_some() {
                    return skipped("open already");
                }
                match vmtest::fd::Fd::open(&self.path) {
                    Ok(f) => {
                        let raw = f.raw();
                        std::mem::forget(f);
                        self.slots.lock().unwrap()[slot as usize].fd = Some(raw);
                        text.push_str("ok");
                    }
                    Err(e) => return skipped(&e),
                }
            }
            Op::Close(_) => {
                let Some(fd) = self.slots.lock().unwrap()[slot as usize].fd.take() else {
                    return skipped("no file");
                };
                self.slots.lock().unwrap()[slot as usize].received.clear();
                // SAFETY: the descriptor is ours and the slot no longer names it.
                let r = unsafe { libc::close(fd) };
                result(if r < 0 { Err(errno()) } else { Ok(()) }, &mut text);
            }
            Op::Mmap {
                len, prot, flags, ..
            } => {
                let Some(fd) = fd else {
                    return skipped("no file");
                };
                match map_with_tail(fd, *len, *prot, *flags) {
                    Err(e) => result(Err(e), &mut text),
                    Ok(p) => {
                        let mut slots = self.slots.lock().unwrap();
                        let s = &mut slots[slot as usize];
                        if s.map.is_none() {
                            s.map = Some((p, *len));
                        } else {
                            drop(slots);
                            // SAFETY: the mapping and its tail were just made and are unknown
                            // to anyone else.
                            unsafe { libc::munmap(p as *mut _, *len + TAIL) };
                        }
                        text.push_str("ok");
                    }
                }
            }
            Op::Munmap(_) => match self.unmap(slot) {
                None => return skipped("no mapping"),
                Some(0) => text.push_str("ok"),
                Some(e) => result(Err(e), &mut text),
            },
            Op::Mprotect(_, prot) => {
                let Some((addr, len)) = self.map(slot) else {
                    return skipped("no mapping");
                };
                // SAFETY: the range is the slot's binder mapping, which no reference points into.
                let r = unsafe { libc::mprotect(addr as *mut _, len, *prot) };
                result(if r < 0 { Err(errno()) } else { Ok(()) }, &mut text);
            }
            Op::BecomeManager(_) => {
                let Some(fd) = fd else {
                    return skipped("no file");
                };
                let deadline = Instant::now() + Duration::from_secs(3);
                let r = loop {
                    let mut zero = 0i32;
                    // SAFETY: `zero` is a valid `i32` for the kernel to read.
                    let r = unsafe { libc::ioctl(fd, BINDER_SET_CONTEXT_MGR, &mut zero) };
                    let r = if r < 0 { Err(errno()) } else { Ok(()) };
                    if r != Err(libc::EBUSY) || Instant::now() > deadline {
                        break r;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                };
                result(r, &mut text);
            }
            Op::Ioctl {
                request, arg, ptr, ..
            } => {
                let Some(fd) = fd else {
                    return skipped("no file");
                };
                let own = self.arena.scratch();
                let bytes: Vec<u8> = arg.iter().flat_map(|a| a.to_ne_bytes()).collect();
                self.arena.put(own, &bytes);
                let addr = self.address(*ptr, own, bytes.len());
                let fail = self.fail_nth;
                let (r, _) = self.watched.call(|| {
                    arm(fail);
                    // SAFETY: the argument is either in our arena, with room for the largest
                    // binder argument, or an address that faults in the kernel.
                    unsafe { libc::ioctl(fd, *request, addr) }
                });
                self.injected += u64::from(disarm(fail));
                result(if r < 0 { Err(errno()) } else { Ok(()) }, &mut text);
                if r >= 0 && *ptr == Ptr::Own {
                    let mut out = self.arena.get(own, 24);
                    if *request == BINDER_GET_EXTENDED_ERROR {
                        // The id is a debug id, numbered differently by each driver.
                        out[..4].fill(0);
                    }
                    let _ = write!(text, " arg={:x?}", out);
                }
            }
            Op::WriteRead(w) => {
                let Some(fd) = fd else {
                    return skipped("no file");
                };
                text = self.write_read(fd, w, &mut errno_seen);
            }
        }
        self.calls += 1;
        Outcome {
            text,
            errno: errno_seen,
            skipped: false,
            took: start.elapsed(),
        }
    }

    /// Serializes the commands into the write area; returns their bytes' length.
    fn serialize(&self, w: &WriteRead) -> usize {
        let area = self.arena.write_area();
        let mut stream = Vec::new();
        // Transaction payloads go after the commands, at the end of the write area.
        let mut payload_at = area + AREA / 2;
        for cmd in &w.cmds {
            match cmd {
                Cmd::Txn(t) => {
                    stream.extend_from_slice(&t.word.to_ne_bytes());
                    let data = payload_at;
                    self.arena.put(data, &t.data);
                    payload_at += (t.data.len() + 16) & !7;
                    let offs: Vec<u8> = t.offsets.iter().flat_map(|o| o.to_ne_bytes()).collect();
                    let offsets = payload_at;
                    self.arena.put(offsets, &offs);
                    payload_at += offs.len() + 16;
                    let data = self.address(t.data_ptr, data, t.data.len().max(1));
                    let offsets = self.address(t.offsets_ptr, offsets, offs.len().max(1));
                    let mut tr = Vec::with_capacity(TXN_SIZE as usize + 8);
                    tr.extend_from_slice(&u64::from(t.handle).to_ne_bytes());
                    tr.extend_from_slice(&0u64.to_ne_bytes());
                    tr.extend_from_slice(&t.code.to_ne_bytes());
                    tr.extend_from_slice(&t.flags.to_ne_bytes());
                    tr.extend_from_slice(&[0; 8]);
                    let size = t.data_size.unwrap_or(t.data.len() as u64);
                    tr.extend_from_slice(&size.to_ne_bytes());
                    let osize = t.offsets_size.unwrap_or(offs.len() as u64);
                    tr.extend_from_slice(&osize.to_ne_bytes());
                    tr.extend_from_slice(&data.to_ne_bytes());
                    tr.extend_from_slice(&offsets.to_ne_bytes());
                    if matches!(t.word, BC_TRANSACTION_SG | BC_REPLY_SG) {
                        tr.extend_from_slice(&t.buffers_size.to_ne_bytes());
                    }
                    stream.extend_from_slice(&tr);
                }
                Cmd::FreeBuffer(b) => {
                    stream.extend_from_slice(&BC_FREE_BUFFER.to_ne_bytes());
                    let slots = self.slots.lock().unwrap();
                    let s = &slots[w.slot as usize];
                    let addr = match b {
                        BufRef::Received(n) => s
                            .received
                            .iter()
                            .rev()
                            .nth(*n as usize)
                            .copied()
                            .unwrap_or(0),
                        BufRef::MapOffset(off) => {
                            s.map.map_or(0, |(base, _)| (base + *off as usize) as u64)
                        }
                        BufRef::Addr(a) => *a,
                    };
                    stream.extend_from_slice(&addr.to_ne_bytes());
                }
                Cmd::Ref(word, handle) => {
                    stream.extend_from_slice(&word.to_ne_bytes());
                    stream.extend_from_slice(&handle.to_ne_bytes());
                }
                Cmd::RefDone(word, node) => {
                    let (ptr, cookie) = match node {
                        NodeRef::LastAsked => {
                            self.slots.lock().unwrap()[w.slot as usize].last_asked
                        }
                        NodeRef::Value(p, c) => (*p, *c),
                    };
                    stream.extend_from_slice(&word.to_ne_bytes());
                    stream.extend_from_slice(&ptr.to_ne_bytes());
                    stream.extend_from_slice(&cookie.to_ne_bytes());
                }
                Cmd::Looper(word) => stream.extend_from_slice(&word.to_ne_bytes()),
                Cmd::Death(word, handle, cookie) => {
                    stream.extend_from_slice(&word.to_ne_bytes());
                    stream.extend_from_slice(&handle.to_ne_bytes());
                    stream.extend_from_slice(&cookie.to_ne_bytes());
                }
                Cmd::DeadBinderDone(cookie) => {
                    stream.extend_from_slice(&BC_DEAD_BINDER_DONE.to_ne_bytes());
                    stream.extend_from_slice(&cookie.to_ne_bytes());
                }
                Cmd::Raw(word, payload) => {
                    stream.extend_from_slice(&word.to_ne_bytes());
                    stream.extend_from_slice(payload);
                }
            }
        }
        let keep = stream.len().saturating_sub(w.truncate as usize);
        stream.truncate(keep.min(AREA / 2 - 8));
        self.arena.put(area, &stream);
        stream.len()
    }

    /// Fills the read buffer of `w` in the scratch area; returns the address the driver gets.
    fn read_buffer(&self, w: &WriteRead) -> u64 {
        let read_own = self.arena.scratch();
        let read_len = (w.read_size as usize).min(AREA);
        self.arena.put(read_own, &vec![FILL; read_len]);
        if w.read_ptr == Ptr::Own {
            read_own as u64
        } else if let Ptr::AtGuard(cut) = w.read_ptr {
            (self.arena.guard() - read_len + cut as usize) as u64
        } else {
            self.address(w.read_ptr, read_own, read_len.max(1))
        }
    }

    fn write_read(&mut self, fd: i32, w: &WriteRead, errno_seen: &mut Option<i32>) -> String {
        let len = self.serialize(w);
        let write_buffer = self.address(w.write_ptr, self.arena.write_area(), len.max(1));
        let read_buffer = self.read_buffer(w);
        let mut bwr = [
            w.write_size.unwrap_or(len as u64),
            w.write_consumed,
            write_buffer,
            w.read_size,
            w.read_consumed,
            read_buffer,
        ];
        // A read buffer of ours must not reach past the scratch area and its neighbour, the
        // write area, then the guard page: cap the size the driver sees (the generator keeps
        // `read_consumed` small).
        if matches!(w.read_ptr, Ptr::Own | Ptr::Misaligned) && w.read_size > (2 * AREA - 8) as u64 {
            bwr[3] = (2 * AREA - 8) as u64;
        }
        let fail = self.fail_nth;
        let (r, _) = self.watched.call(|| {
            arm(fail);
            // SAFETY: `bwr` is a valid `binder_write_read`; its read buffer is in our arena,
            // which ends with an inaccessible page, or faults in the kernel.
            unsafe { libc::ioctl(fd, BINDER_WRITE_READ, bwr.as_mut_ptr()) }
        });
        self.injected += u64::from(disarm(fail));
        let mut text = String::new();
        if r < 0 {
            let e = errno();
            *errno_seen = Some(e);
            text.push_str(&name(e));
        } else {
            text.push_str("ok");
        }
        let _ = write!(text, " wc={} rc={}", bwr[1], bwr[4]);
        if bwr[5] == read_buffer
            && matches!(w.read_ptr, Ptr::Own | Ptr::AtGuard(_) | Ptr::Misaligned)
        {
            let from = w.read_consumed.min(bwr[4]) as usize;
            let to = (bwr[4] as usize).min(from + 2 * AREA);
            let off = read_buffer as usize - self.arena.scratch();
            let bytes = self.arena.get(self.arena.scratch() + off + from, to - from);
            text.push_str(" [");
            self.returns(w.slot, &bytes, &mut text);
            text.push(']');
        }
        text
    }

    /// Describes the returned words and records received buffers and asked nodes.
    fn returns(&self, slot: u8, b: &[u8], text: &mut String) {
        let base = self.map(slot).map_or(0, |(a, _)| a as u64);
        let mut at = 0;
        while at + 4 <= b.len() {
            let word = u32_at(b, at);
            at += 4;
            let size = payload_size(word);
            let p = &b[at.min(b.len())..(at + size).min(b.len())];
            at += size;
            let _ = write!(text, "{} ", br_name(word));
            match word {
                BR_TRANSACTION | BR_REPLY | BR_TRANSACTION_SEC_CTX => {
                    let (ptr, cookie, code, flags) =
                        (u64_at(p, 0), u64_at(p, 8), u32_at(p, 16), u32_at(p, 20));
                    let (pid, size, osize) = (u32_at(p, 24), u64_at(p, 32), u64_at(p, 40));
                    let (buf, offs) = (u64_at(p, 48), u64_at(p, 56));
                    let _ = write!(
                        text,
                        "{{ptr={ptr:#x} cookie={cookie:#x} code={code:#x} flags={flags:#x} \
                         sender={} size={size} osize={osize} at={:#x} offs_at={:#x}",
                        pid != 0,
                        buf.wrapping_sub(base),
                        offs.wrapping_sub(base)
                    );
                    if let Some(data) = read_own(buf, (size as usize).min(512)) {
                        let _ = write!(text, " data={}", hex(&data));
                    }
                    if let Some(o) = read_own(offs, (osize as usize).min(256)) {
                        let _ = write!(text, " offs={}", hex(&o));
                    }
                    text.push_str("} ");
                    self.slots.lock().unwrap()[slot as usize].received.push(buf);
                }
                BR_INCREFS | BR_ACQUIRE | BR_RELEASE | BR_DECREFS => {
                    let node = (u64_at(p, 0), u64_at(p, 8));
                    let _ = write!(text, "{{{:#x},{:#x}}} ", node.0, node.1);
                    if matches!(word, BR_INCREFS | BR_ACQUIRE) {
                        self.slots.lock().unwrap()[slot as usize].last_asked = node;
                    }
                }
                BR_ERROR => {
                    let _ = write!(text, "{} ", u32_at(p, 0) as i32);
                }
                BR_DEAD_BINDER | BR_CLEAR_DEATH_NOTIFICATION_DONE => {
                    let _ = write!(text, "{:#x} ", u64_at(p, 0));
                }
                _ => {}
            }
        }
    }
}

/// Makes the `n`-th fault-injection point of this thread's next system call fail.
fn arm(fail: Option<(i32, u32)>) {
    if let Some((fd, n)) = fail {
        let text = [b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
        // SAFETY: writes two bytes of a local array to an open file.
        unsafe { libc::pwrite(fd, text.as_ptr().cast(), 2, 0) };
    }
}

/// Whether the armed fault was injected (`fail-nth` reads 0 then); disarms it.
fn disarm(fail: Option<(i32, u32)>) -> bool {
    let Some((fd, _)) = fail else { return false };
    let mut text = [0u8; 16];
    // SAFETY: reads into and writes from local arrays, with their lengths.
    unsafe {
        let n = libc::pread(fd, text.as_mut_ptr().cast(), text.len(), 0);
        libc::pwrite(fd, b"0".as_ptr().cast(), 1, 0);
        n > 0 && text[0] == b'0'
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the driver may be given `addr` to write at: in the arena (whose writable part
    /// ends with the tail, where a driver's writes stop), in a mapping or its tail, or where
    /// any write faults.
    fn may_write_at(world: &World, addr: u64, maps: &[(usize, usize)]) -> bool {
        let a = addr as usize;
        let in_range = |start: usize, len: usize| a >= start && a < start + len;
        in_range(world.arena.scratch(), 2 * AREA + TAIL)
            || maps.iter().any(|&(p, len)| in_range(p, len + TAIL))
            || in_range(unmapped(), 1 << 20)
            || !(65536..0xffff_8000_0000_0000).contains(&a)
    }

    #[test]
    fn driver_writes_stay_in_memory_that_is_ours_or_faults() {
        let zero = vmtest::fd::Fd::open("/dev/zero").unwrap();
        let mut world = World::new("/dev/null", slots(), 0, true);
        // Every slot mapped over one page, the smallest mapping the generator makes.
        let maps: Vec<(usize, usize)> = (0..SLOTS)
            .map(|_| {
                let p = map_with_tail(zero.raw(), 4096, libc::PROT_READ, libc::MAP_PRIVATE);
                (p.unwrap(), 4096)
            })
            .collect();
        for (slot, map) in world.slots.lock().unwrap().iter_mut().zip(&maps) {
            slot.map = Some(*map);
        }
        let mut rng = crate::rng::Rng::new(7);
        let mut checked = [0u32; 2];
        for _ in 0..200_000 {
            match crate::ops::op(&mut rng, SLOTS) {
                Op::WriteRead(w) => {
                    let start = world.read_buffer(&w) + w.read_consumed;
                    assert!(
                        may_write_at(&world, start, &maps),
                        "{w:?}: writes at {start:#x}"
                    );
                    checked[0] += 1;
                }
                Op::Ioctl { ptr, .. } => {
                    let own = world.arena.scratch();
                    let addr = world.address(ptr, own, 24);
                    assert!(may_write_at(&world, addr, &maps), "{ptr:?}: at {addr:#x}");
                    checked[1] += 1;
                }
                _ => {}
            }
        }
        assert!(checked.iter().all(|&n| n > 1000), "{checked:?}");
        world.close_all();
    }

    #[test]
    fn a_mapping_is_followed_by_its_tail() {
        let zero = vmtest::fd::Fd::open("/dev/zero").unwrap();
        for len in [4096, 3 * 4096] {
            let p = map_with_tail(zero.raw(), len, libc::PROT_READ, libc::MAP_PRIVATE).unwrap();
            assert!(read_own((p + len - 8) as u64, 8).is_some());
            assert!(read_own((p + len) as u64, 1).is_none());
            assert!(read_own((p + len + TAIL - 1) as u64, 1).is_none());
            // SAFETY: the mapping and its tail were made above and nothing points into them.
            assert_eq!(unsafe { libc::munmap(p as *mut _, len + TAIL) }, 0);
        }
        let flags = libc::MAP_PRIVATE;
        assert_eq!(
            map_with_tail(zero.raw(), 0, libc::PROT_READ, flags),
            Err(libc::EINVAL)
        );
        let null = vmtest::fd::Fd::open("/dev/null").unwrap();
        assert_eq!(
            map_with_tail(null.raw(), 4096, libc::PROT_READ, flags),
            Err(libc::ENODEV)
        );
    }

    #[test]
    fn only_late_naps_are_stalls() {
        let nap = Duration::from_millis(3);
        assert_eq!(stall(Duration::from_millis(50), nap), 0);
        assert_eq!(stall(Duration::from_millis(1), nap), 0);
        assert_eq!(stall(Duration::from_millis(9003), nap), 9_000_000);
    }
}
