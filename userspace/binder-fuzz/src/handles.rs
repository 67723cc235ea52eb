//! Concurrency stress of handles. One process, the context manager, receives nodes from all
//! the others: each client process has threads that send it transactions carrying some of
//! their nodes (`BINDER_TYPE_BINDER`, each followed in the data by the node's identity). The
//! manager's threads receive them as handles, keep some (`BC_ACQUIRE`, with a death
//! notification), release kept ones (`BC_CLEAR_DEATH_NOTIFICATION`, `BC_RELEASE`), free the
//! buffers and reply, all at once, so that the manager's handle pool grows and shrinks while
//! its threads race; the parent kills a client in every round (the manager gets
//! `BR_DEAD_BINDER` for the nodes it watches) and starts a new one.
//!
//! The manager keeps a [`Book`] of what user space holds: for each handle, the node it names
//! and how many counts user space has on it. Every handle received is checked against it:
//! a handle that names another node while user space still holds it was handed out twice;
//! a node that comes with another handle while user space still holds one has two. At the end
//! of each round, when no call is in flight, the book is compared with the manager's entry in
//! binder-lite's debugfs `state`: the handles of the driver's references must be exactly the
//! handles user space holds (one more is lost: user space gave it back, the driver kept it),
//! and the pool must count as many ids in use as there are references. Every other round the
//! manager gives back every handle, and the driver must then hold none and its pool be back at
//! its first capacity.

use crate::rng::Rng;
use crate::shm::{Shm, Zeroed};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use vmtest::binder::*;
use vmtest::fd::errno;
use vmtest::lite_state::{self, Handles};
use vmtest::uapi::{FlatBinderObject, TransactionData};

/// What user space holds on one handle: the node it names, the buffers received with it and
/// not freed yet, and the counts taken with `BC_ACQUIRE`.
#[derive(Debug, Clone, Copy)]
struct Held {
    node: u64,
    buffers: u32,
    keeps: u32,
}

/// What user space holds, handle by handle. Counts are taken off before the call that gives
/// them back to the driver, so that the driver can never reuse a handle that the book still
/// has; the calls that change counts are made with the book locked, in its order.
#[derive(Default, Debug)]
pub struct Book {
    by_handle: BTreeMap<u32, Held>,
    by_node: HashMap<u64, u32>,
}

impl Book {
    /// A received buffer names `node` as `handle` (and holds a count on it until freed).
    pub fn receive(&mut self, handle: u32, node: u64) -> Result<(), String> {
        if let Some(held) = self.by_handle.get_mut(&handle) {
            if held.node != node {
                return Err(format!(
                    "handle {handle} handed out twice: it names node {node:#x} while user space \
                     still holds it for node {:#x} ({} buffers, {} counts)",
                    held.node, held.buffers, held.keeps
                ));
            }
            held.buffers += 1;
            return Ok(());
        }
        if let Some(other) = self.by_node.get(&node) {
            return Err(format!(
                "node {node:#x} came as handle {handle} while user space still holds it as \
                 handle {other}"
            ));
        }
        self.by_handle.insert(
            handle,
            Held {
                node,
                buffers: 1,
                keeps: 0,
            },
        );
        self.by_node.insert(node, handle);
        Ok(())
    }

    /// Takes a count on `handle` (`BC_ACQUIRE`); true if it is the first (the caller asks for
    /// a death notification).
    pub fn keep(&mut self, handle: u32) -> bool {
        match self.by_handle.get_mut(&handle) {
            Some(held) => {
                held.keeps += 1;
                held.keeps == 1
            }
            None => false,
        }
    }

    /// Gives a count of `handle` back (`BC_RELEASE`); true if it was the last (the caller
    /// clears the death notification first).
    pub fn unkeep(&mut self, handle: u32) -> bool {
        let Some(held) = self.by_handle.get_mut(&handle) else {
            return false;
        };
        held.keeps = held.keeps.saturating_sub(1);
        let last = held.keeps == 0;
        self.forget_if_unused(handle);
        last
    }

    /// A buffer that named `handle` is freed (`BC_FREE_BUFFER`).
    pub fn free(&mut self, handle: u32) {
        if let Some(held) = self.by_handle.get_mut(&handle) {
            held.buffers = held.buffers.saturating_sub(1);
        }
        self.forget_if_unused(handle);
    }

    fn forget_if_unused(&mut self, handle: u32) {
        if let Some(held) = self.by_handle.get(&handle) {
            if held.buffers == 0 && held.keeps == 0 {
                self.by_node.remove(&held.node);
                self.by_handle.remove(&handle);
            }
        }
    }

    /// The handles with counts taken by `BC_ACQUIRE`, and their counts.
    pub fn kept(&self) -> Vec<(u32, u32)> {
        self.by_handle
            .iter()
            .filter(|(_, held)| held.keeps > 0)
            .map(|(h, held)| (*h, held.keeps))
            .collect()
    }

    /// The number of handles user space holds.
    pub fn len(&self) -> usize {
        self.by_handle.len()
    }

    /// Compares the book with the driver's entry of the process: its number of references and
    /// its `handles` line.
    pub fn check(&self, refs: usize, handles: &Handles) -> Result<(), String> {
        let mine: Vec<u32> = self.by_handle.keys().copied().collect();
        if handles.listed != mine {
            let lost: Vec<u32> = handles
                .listed
                .iter()
                .filter(|h| !self.by_handle.contains_key(h))
                .copied()
                .collect();
            let missing: Vec<u32> = mine
                .iter()
                .filter(|h| !handles.listed.contains(h))
                .copied()
                .collect();
            return Err(format!(
                "the driver's handles differ from user space's: it has {lost:?}, which user \
                 space gave back (lost), and lacks {missing:?}, which user space holds \
                 ({} listed, {} held)",
                handles.listed.len(),
                mine.len()
            ));
        }
        if handles.used != handles.listed.len() || refs != handles.listed.len() {
            return Err(format!(
                "the handle pool counts {} ids in use, the driver has {refs} references with \
                 {} handles: an id handed out twice or lost",
                handles.used,
                handles.listed.len()
            ));
        }
        if let Some(&top) = handles.listed.last() {
            if top as usize >= handles.capacity {
                return Err(format!(
                    "handle {top} is beyond the pool's capacity {}",
                    handles.capacity
                ));
            }
        }
        Ok(())
    }
}

/// The budget of a run.
#[derive(Clone, Copy)]
pub struct Budget {
    /// Processes: the manager and `processes - 1` clients.
    pub processes: usize,
    pub threads: usize,
    pub duration: Duration,
    /// The length of a round (a kill, then a comparison with the driver's state).
    pub round: Duration,
    /// Nodes of each client.
    pub nodes: u64,
    /// The share of received handles the manager keeps, in percent, in the first (growing)
    /// and the second (shrinking) half of each round.
    pub keep_percent: [u64; 2],
}

impl Budget {
    /// The same run with few nodes, all shared by a client's threads, and none kept: the
    /// last reference of a node goes after almost every transaction while the client's other
    /// threads send it again. The handle pool does not grow in it.
    pub fn shared_nodes(&self) -> Budget {
        Budget {
            nodes: 4,
            keep_percent: [0, 0],
            ..*self
        }
    }
}

/// What a run did.
#[derive(Default, Debug)]
pub struct Report {
    pub rounds: u64,
    pub transactions: u64,
    pub handles: u64,
    pub released: u64,
    pub kills: u64,
    pub dead_binders: u64,
    pub checks: u64,
    pub first_capacity: u64,
    pub max_capacity: u64,
    /// Times the capacity was seen smaller than at the last look while clients were calling.
    pub shrinks_under_load: u64,
    pub failures: Vec<String>,
}

/// The phases of a round, in `Control::phase`.
const RUN: u64 = 0;
const DRAIN: u64 = 1;

/// Requests to the manager's control thread, in `Control::request` (with a serial number in
/// the high bits).
const CHECK: u64 = 1;
const EMPTY: u64 = 2;

/// The most client threads.
const MAX_CLIENT_THREADS: usize = 256;

/// What the parent and the children share (in a shared anonymous mapping).
#[repr(C)]
struct Control {
    phase: AtomicU64,
    /// Percent of the handles received that the manager keeps, and of its kept handles that
    /// it releases at each transaction: the parent raises the first to grow the pool, the
    /// second to shrink it.
    keep_percent: AtomicU64,
    release_percent: AtomicU64,
    ready: AtomicU64,
    request: AtomicU64,
    done: AtomicU64,
    transactions: AtomicU64,
    handles: AtomicU64,
    released: AtomicU64,
    dead_binders: AtomicU64,
    checks: AtomicU64,
    first_capacity: AtomicU64,
    max_capacity: AtomicU64,
    shrinks_under_load: AtomicU64,
    /// Whether each client thread is in a call.
    busy: [AtomicU64; MAX_CLIENT_THREADS],
}

// SAFETY: atomics only, all zero at first.
unsafe impl Zeroed for Control {}

/// Prints a finding and ends the child process with status 1.
fn finding(who: &str, what: &str) -> ! {
    println!("# fuzz_handles_under_contention: {who}: {what}");
    // SAFETY: ends the process at once.
    unsafe { libc::_exit(1) }
}

/// The node identities follow the objects in a transaction's data.
fn node_id(generation: u64, n: u64) -> u64 {
    (generation << 16) | n
}

/// The client's pointer for node `n`.
fn node_ptr(n: u64) -> u64 {
    0x1000_0000 + n * 64
}

fn client(path: &str, generation: u64, slot: usize, budget: &Budget, c: &Control) -> ! {
    let binder = match Binder::open(path, 128 * 1024) {
        Ok(b) => b,
        Err(e) => finding("client", &e),
    };
    let base = slot * budget.threads;
    for t in 0..budget.threads {
        c.busy[base + t].store(0, Ordering::SeqCst);
    }
    let binder = &binder;
    std::thread::scope(|s| {
        for t in 0..budget.threads {
            s.spawn(move || {
                let busy = &c.busy[base + t];
                let mut rng = Rng::new(generation.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ t as u64);
                let mut cmds = Commands::default();
                let mut read = vec![0u8; 1024];
                loop {
                    busy.store(1, Ordering::SeqCst);
                    if c.phase.load(Ordering::SeqCst) != RUN {
                        busy.store(0, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                    let k = 1 + rng.below(4) as usize;
                    let nodes: Vec<u64> = (0..k).map(|_| rng.below(budget.nodes)).collect();
                    let mut data = Vec::with_capacity(k * 32);
                    for &n in &nodes {
                        data.extend(FlatBinderObject::binder(true, node_ptr(n), n).to_bytes());
                    }
                    for &n in &nodes {
                        data.extend_from_slice(&node_id(generation, n).to_ne_bytes());
                    }
                    let offsets: Vec<u64> = (0..k as u64).map(|i| i * 24).collect();
                    let tr = TransactionData {
                        target: 0,
                        code: 1,
                        data_size: data.len() as u64,
                        offsets_size: 8 * k as u64,
                        buffer: data.as_ptr() as u64,
                        offsets: offsets.as_ptr() as u64,
                        ..Default::default()
                    };
                    cmds.with(BC_TRANSACTION, &tr);
                    let mut replied = false;
                    while !replied {
                        let n = match binder.write_read(cmds.bytes(), &mut read) {
                            Ok(n) => n,
                            Err(e) => finding("client", &format!("BINDER_WRITE_READ: errno {e}")),
                        };
                        cmds.clear();
                        for r in parse_returns(&read[..n]) {
                            match r {
                                Return::Reply(tr) => {
                                    cmds.with(BC_FREE_BUFFER, &tr.buffer);
                                    replied = true;
                                }
                                Return::Increfs(pc) => {
                                    cmds.with(BC_INCREFS_DONE, &pc);
                                }
                                Return::Acquire(pc) => {
                                    cmds.with(BC_ACQUIRE_DONE, &pc);
                                }
                                Return::Noop
                                | Return::TransactionComplete
                                | Return::Release(_)
                                | Return::Decrefs(_) => {}
                                other => finding("client", &format!("unexpected {other:?}")),
                            }
                        }
                    }
                    c.transactions.fetch_add(1, Ordering::Relaxed);
                    busy.store(0, Ordering::SeqCst);
                }
            });
        }
    });
    // SAFETY: the threads never return; this is not reached.
    unsafe { libc::_exit(0) }
}

/// A handle-and-cookie command (`BC_REQUEST_DEATH_NOTIFICATION` and the like).
fn handle_cookie(cmds: &mut Commands, code: u32, handle: u32, cookie: u64) {
    cmds.code(code).with(handle, &cookie);
}

/// One looper thread of the manager.
fn manager_thread(binder: &Binder, book: &Mutex<Book>, c: &Control, seed: u64) -> ! {
    let mut rng = Rng::new(seed);
    let mut cmds = Commands::default();
    cmds.code(BC_ENTER_LOOPER);
    let mut read = vec![0u8; 4096];
    loop {
        let n = match binder.write_read(cmds.bytes(), &mut read) {
            Ok(n) => n,
            Err(e) => finding("manager", &format!("BINDER_WRITE_READ: errno {e}")),
        };
        cmds.clear();
        for r in parse_returns(&read[..n]) {
            match r {
                Return::Transaction(tr) => serve(binder, book, c, &mut rng, &tr, &mut cmds),
                Return::DeadBinder(cookie) => {
                    c.dead_binders.fetch_add(1, Ordering::Relaxed);
                    cmds.with(BC_DEAD_BINDER_DONE, &cookie);
                }
                Return::Increfs(pc) => {
                    cmds.with(BC_INCREFS_DONE, &pc);
                }
                Return::Acquire(pc) => {
                    cmds.with(BC_ACQUIRE_DONE, &pc);
                }
                // A reply to a client that was killed meanwhile.
                Return::DeadReply | Return::FailedReply => {}
                Return::Noop
                | Return::TransactionComplete
                | Return::SpawnLooper
                | Return::ClearDeathNotificationDone(_)
                | Return::Release(_)
                | Return::Decrefs(_) => {}
                other => finding("manager", &format!("unexpected {other:?}")),
            }
        }
    }
}

/// Handles one transaction of a client: checks its handles against the book, keeps and
/// releases some, frees the buffer and replies (the commands go out with the next call).
fn serve(
    binder: &Binder,
    book: &Mutex<Book>,
    c: &Control,
    rng: &mut Rng,
    tr: &TransactionData,
    cmds: &mut Commands,
) {
    let k = (tr.offsets_size / 8) as usize;
    let data = binder.data(tr.buffer, tr.data_size).unwrap_or_default();
    let offsets = binder.data(tr.offsets, tr.offsets_size).unwrap_or_default();
    if data.len() != k * 32 {
        finding(
            "manager",
            &format!("a transaction of {k} objects has {} bytes", data.len()),
        );
    }
    let mut received = Vec::with_capacity(k);
    for i in 0..k {
        let at = read_at::<u64>(offsets, i * 8).unwrap_or(u64::MAX) as usize;
        let object = data.get(at..).and_then(FlatBinderObject::from_bytes);
        let node = read_at::<u64>(data, k * 24 + i * 8).unwrap_or(0);
        match object {
            Some(o) if o.kind == BINDER_TYPE_HANDLE => received.push((o.binder as u32, node)),
            other => finding(
                "manager",
                &format!("node {node:#x} arrived as {other:?}, not as a handle"),
            ),
        }
    }
    let keep = c.keep_percent.load(Ordering::Relaxed);
    let release = c.release_percent.load(Ordering::Relaxed);
    // The commands that change counts go out with the book locked, in the book's order: made
    // by two threads in another order, a release could drop a reference that the other thread
    // is about to take a count on.
    let mut counts = Commands::default();
    let mut book = book.lock().unwrap_or_else(|e| e.into_inner());
    for &(handle, node) in &received {
        c.handles.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = book.receive(handle, node) {
            finding("manager", &e);
        }
        if rng.chance(keep) {
            if book.keep(handle) {
                handle_cookie(&mut counts, BC_REQUEST_DEATH_NOTIFICATION, handle, node);
            }
            counts.with(BC_ACQUIRE, &handle);
        }
    }
    for (handle, _) in book.kept() {
        if rng.chance(release) {
            release_one(&mut book, c, handle, &mut counts);
        }
    }
    for &(handle, _) in &received {
        book.free(handle);
    }
    counts.with(BC_FREE_BUFFER, &tr.buffer);
    if let Err(e) = binder.write_read(counts.bytes(), &mut []) {
        finding(
            "manager",
            &format!("BINDER_WRITE_READ of counts: errno {e}"),
        );
    }
    drop(book);
    let reply = TransactionData::default();
    cmds.with(BC_REPLY, &reply);
}

/// Gives one count of `handle` back: the book first, then the commands.
fn release_one(book: &mut Book, c: &Control, handle: u32, cmds: &mut Commands) {
    let node = book.by_handle.get(&handle).map(|h| h.node).unwrap_or(0);
    if book.unkeep(handle) {
        handle_cookie(cmds, BC_CLEAR_DEATH_NOTIFICATION, handle, node);
    }
    if !book.by_handle.contains_key(&handle) {
        c.released.fetch_add(1, Ordering::Relaxed);
    }
    cmds.with(BC_RELEASE, &handle);
}

/// The manager's entry in the `state` file: its references and its `handles` line.
fn own_entry() -> Result<(usize, Handles), String> {
    let entries = lite_state::entries_of(std::process::id())?;
    let [lines] = &entries[..] else {
        return Err(format!(
            "{} entries of the manager in the state file",
            entries.len()
        ));
    };
    Ok((lite_state::refs_of(lines)?, Handles::of(lines)?))
}

/// Compares the book with the driver until they agree (a transaction of a killed client may
/// still be on its way to a thread), for up to 10 s.
fn compare(book: &Mutex<Book>, empty_capacity: Option<usize>) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let result = {
            let book = book.lock().unwrap_or_else(|e| e.into_inner());
            own_entry().and_then(|(refs, handles)| {
                book.check(refs, &handles)?;
                match empty_capacity {
                    Some(first) if book.len() == 0 && handles.capacity != first => Err(format!(
                        "no handle in use, but the pool's capacity is {}, not {first}",
                        handles.capacity
                    )),
                    _ => Ok(()),
                }
            })
        };
        if result.is_ok() || Instant::now() > deadline {
            return result;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn manager(path: &str, seed: u64, budget: &Budget, c: &Control) -> ! {
    let binder = match Binder::open(path, MAP_1M) {
        Ok(b) => b,
        Err(e) => finding("manager", &e),
    };
    if let Err(e) = binder.become_context_manager(Duration::from_secs(10)) {
        finding("manager", &e);
    }
    let first = match own_entry() {
        Ok((_, h)) => h.capacity,
        Err(e) => finding("manager", &e),
    };
    c.first_capacity.store(first as u64, Ordering::SeqCst);
    c.max_capacity.store(first as u64, Ordering::SeqCst);
    let book = Mutex::new(Book::default());
    let mut rng = Rng::new(seed);
    let (binder, book) = (&binder, &book);
    std::thread::scope(|s| {
        for _ in 0..budget.threads {
            let seed = rng.fork();
            s.spawn(move || manager_thread(binder, book, c, seed));
        }
        c.ready.store(1, Ordering::SeqCst);
        // The control thread: answers the parent's requests, and watches the pool's capacity.
        let mut last = first;
        let mut answered = 0;
        loop {
            let request = c.request.load(Ordering::SeqCst);
            if request != answered {
                if request & 0xff == EMPTY {
                    let mut cmds = Commands::default();
                    let mut b = book.lock().unwrap_or_else(|e| e.into_inner());
                    for (handle, keeps) in b.kept() {
                        for _ in 0..keeps {
                            release_one(&mut b, c, handle, &mut cmds);
                        }
                    }
                    if let Err(e) = binder.write_read(cmds.bytes(), &mut []) {
                        finding("manager", &format!("releasing every handle: errno {e}"));
                    }
                    drop(b);
                }
                let empty = (request & 0xff == EMPTY).then_some(first);
                if let Err(e) = compare(book, empty) {
                    finding("manager", &e);
                }
                c.checks.fetch_add(1, Ordering::Relaxed);
                answered = request;
                c.done.store(request, Ordering::SeqCst);
            }
            if c.phase.load(Ordering::SeqCst) == RUN {
                if let Ok((_, h)) = own_entry() {
                    c.max_capacity
                        .fetch_max(h.capacity as u64, Ordering::Relaxed);
                    if h.capacity < last {
                        c.shrinks_under_load.fetch_add(1, Ordering::Relaxed);
                    }
                    last = h.capacity;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    // SAFETY: the threads never return; this is not reached.
    unsafe { libc::_exit(0) }
}

fn fork(body: impl FnOnce()) -> Result<i32, String> {
    // SAFETY: the caller has no other thread, so the child may run anything; it never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: errno {}", errno()));
    }
    if pid == 0 {
        body();
        // SAFETY: ends the child (the bodies never return).
        unsafe { libc::_exit(0) }
    }
    Ok(pid)
}

/// Whether the child `pid` ended (and its status), without waiting.
fn ended(pid: i32) -> Option<i32> {
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is valid for writes.
    (unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid).then_some(status)
}

/// Kills the child `pid` and waits up to 20 s for it to go.
fn kill(pid: i32) -> Result<(), String> {
    // SAFETY: `pid` is our child, not yet reaped.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while ended(pid).is_none() {
        if Instant::now() > deadline {
            return Err(format!("process {pid} still there 20 s after SIGKILL"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// Whether the child `pid` ended (and its status, as `waitpid` gives it), leaving it for
/// [`kill`] to reap.
fn ended_unreaped(pid: i32) -> Option<i32> {
    // SAFETY: an all-zero `siginfo_t` is a valid value of the plain C struct.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
    // SAFETY: `pid` is our child; `info` is valid for writes.
    let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
    // SAFETY: `waitid` filled `info` in for a child (or left it zeroed if none changed state).
    let (from, status) = unsafe { (info.si_pid(), info.si_status()) };
    if r != 0 || from == 0 {
        return None;
    }
    Some(if info.si_code == libc::CLD_EXITED {
        status << 8
    } else {
        status
    })
}

/// Waits up to `limit` for `f`, while the manager lives; false if it did not happen.
fn wait(manager: i32, limit: Duration, f: impl Fn() -> bool) -> Result<bool, String> {
    let deadline = Instant::now() + limit;
    while !f() {
        // Not reaped here: the caller kills and reaps every child at the end.
        if let Some(status) = ended_unreaped(manager) {
            return Err(format!("the manager ended (status {status:#x})"));
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(true)
}

/// Runs the stress on the device at `path`. The caller must have no other thread.
pub fn run(path: &str, seed: u64, budget: &Budget) -> Report {
    let mut report = Report::default();
    let clients = budget.processes.saturating_sub(1).max(1);
    if clients * budget.threads > MAX_CLIENT_THREADS {
        report.failures.push("too many client threads".into());
        return report;
    }
    let c = match Shm::<Control>::new() {
        Ok(c) => c,
        Err(e) => {
            report.failures.push(e);
            return report;
        }
    };
    let c = &*c;
    let mut rng = Rng::new(seed);
    let mut children: Vec<i32> = Vec::new();
    let result = (|| -> Result<(), String> {
        let m_seed = rng.fork();
        let manager_pid = fork(|| manager(path, m_seed, budget, c))?;
        if !wait(manager_pid, Duration::from_secs(20), || {
            c.ready.load(Ordering::SeqCst) == 1
        })? {
            children.push(manager_pid);
            return Err("the manager did not start within 20 s".into());
        }
        let mut generation = 1;
        for slot in 0..clients {
            generation += 1;
            let g = generation;
            children.push(fork(|| client(path, g, slot, budget, c))?);
        }
        children.push(manager_pid);
        let start = Instant::now();
        let mut serial = 0u64;
        while start.elapsed() < budget.duration {
            // Grow: keep most handles, release few; then shrink: the other way round. A
            // client is killed at a random point of the round, and another started in its
            // place.
            let round_start = Instant::now();
            c.keep_percent
                .store(budget.keep_percent[0], Ordering::SeqCst);
            c.release_percent.store(2, Ordering::SeqCst);
            c.phase.store(RUN, Ordering::SeqCst);
            let kill_at = Duration::from_micros(rng.below(budget.round.as_micros() as u64 + 1));
            let mut events = [(kill_at, true), (budget.round / 2, false)];
            events.sort();
            for (at, kill_one) in events {
                let left = (round_start + at).saturating_duration_since(Instant::now());
                wait(manager_pid, left, || false)?;
                if !kill_one {
                    c.keep_percent
                        .store(budget.keep_percent[1], Ordering::SeqCst);
                    c.release_percent.store(30, Ordering::SeqCst);
                    continue;
                }
                let slot = rng.below(clients as u64) as usize;
                let pid = children[slot];
                if let Some(status) = ended(pid) {
                    return Err(format!("client {pid} ended by itself (status {status:#x})"));
                }
                kill(pid)?;
                report.kills += 1;
                // The killed client's threads may have died in a call.
                for b in &c.busy[slot * budget.threads..(slot + 1) * budget.threads] {
                    b.store(0, Ordering::SeqCst);
                }
                generation += 1;
                let g = generation;
                children[slot] = fork(|| client(path, g, slot, budget, c))?;
            }
            let left = (round_start + budget.round).saturating_duration_since(Instant::now());
            wait(manager_pid, left, || false)?;
            c.phase.store(DRAIN, Ordering::SeqCst);
            let idle = || {
                c.busy[..clients * budget.threads]
                    .iter()
                    .all(|b| b.load(Ordering::SeqCst) == 0)
            };
            if !wait(manager_pid, Duration::from_secs(20), idle)? {
                return Err("a client was still in a call 20 s after the round".into());
            }
            for (i, &pid) in children[..clients].iter().enumerate() {
                if let Some(status) = ended(pid) {
                    return Err(format!("client {i} ended by itself (status {status:#x})"));
                }
            }
            serial += 1;
            let kind = if report.rounds % 2 == 1 { EMPTY } else { CHECK };
            let request = (serial << 8) | kind;
            c.request.store(request, Ordering::SeqCst);
            if !wait(manager_pid, Duration::from_secs(60), || {
                c.done.load(Ordering::SeqCst) == request
            })? {
                return Err("the manager did not compare its handles within 60 s".into());
            }
            report.rounds += 1;
        }
        // At the end, the manager gives every handle back.
        serial += 1;
        let request = (serial << 8) | EMPTY;
        c.request.store(request, Ordering::SeqCst);
        if !wait(manager_pid, Duration::from_secs(60), || {
            c.done.load(Ordering::SeqCst) == request
        })? {
            return Err("the manager did not give its handles back within 60 s".into());
        }
        Ok(())
    })();
    if let Err(e) = result {
        report.failures.push(e);
    }
    for pid in children {
        if let Err(e) = kill(pid) {
            report.failures.push(e);
        }
    }
    report.transactions = c.transactions.load(Ordering::SeqCst);
    report.handles = c.handles.load(Ordering::SeqCst);
    report.released = c.released.load(Ordering::SeqCst);
    report.dead_binders = c.dead_binders.load(Ordering::SeqCst);
    report.checks = c.checks.load(Ordering::SeqCst);
    report.first_capacity = c.first_capacity.load(Ordering::SeqCst);
    report.max_capacity = c.max_capacity.load(Ordering::SeqCst);
    report.shrinks_under_load = c.shrinks_under_load.load(Ordering::SeqCst);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handles(capacity: usize, used: usize, listed: &[u32]) -> Handles {
        Handles {
            capacity,
            used,
            listed: listed.to_vec(),
        }
    }

    #[test]
    fn a_manager_seen_ended_is_still_killed_and_reaped() {
        // SAFETY: the child only calls `_exit`, which is async-signal-safe.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: ends the child.
            unsafe { libc::_exit(1) };
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = ended_unreaped(pid) {
                break status;
            }
            assert!(Instant::now() < deadline, "the child did not end");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(status, 0x100);
        // Still ours to reap: the final kill finds it gone instead of waiting 20 s for it.
        assert_eq!(ended(pid), Some(0x100));
    }

    #[test]
    fn a_handle_handed_out_twice_is_caught() {
        let mut book = Book::default();
        assert!(book.receive(1, 0xa).is_ok());
        assert!(book.keep(1));
        book.free(1);
        // Node 0xb gets handle 1 while user space still holds it for node 0xa.
        let e = book.receive(1, 0xb).unwrap_err();
        assert!(e.contains("handed out twice"), "{e}");
        // A node that comes with a second handle.
        let e = book.receive(2, 0xa).unwrap_err();
        assert!(
            e.contains("while user space still holds it as handle 1"),
            "{e}"
        );
        // Once user space gave it back, the handle may name another node.
        assert!(book.unkeep(1));
        assert_eq!(book.len(), 0);
        assert!(book.receive(1, 0xb).is_ok());
    }

    #[test]
    fn counts_go_before_the_handle() {
        let mut book = Book::default();
        book.receive(3, 0xc).unwrap();
        book.receive(3, 0xc).unwrap();
        assert!(book.keep(3));
        assert!(!book.keep(3));
        book.free(3);
        book.free(3);
        assert!(!book.unkeep(3));
        assert_eq!(book.kept(), vec![(3, 1)]);
        assert!(book.unkeep(3));
        assert_eq!(book.len(), 0);
    }

    #[test]
    fn the_driver_state_is_compared() {
        let mut book = Book::default();
        book.receive(1, 0xa).unwrap();
        book.receive(2, 0xb).unwrap();
        assert!(book.check(2, &handles(64, 2, &[1, 2])).is_ok());
        // A handle the driver kept after user space gave it back: lost.
        let e = book.check(3, &handles(64, 3, &[1, 2, 5])).unwrap_err();
        assert!(e.contains("it has [5]"), "{e}");
        // A handle user space holds that the driver dropped.
        assert!(book.check(1, &handles(64, 1, &[1])).is_err());
        // The pool counts an id no reference has, or one id for two references.
        assert!(book.check(2, &handles(64, 3, &[1, 2])).is_err());
        assert!(book.check(2, &handles(64, 1, &[1, 2])).is_err());
        assert!(book.check(3, &handles(64, 2, &[1, 2])).is_err());
        // A handle beyond the pool's capacity.
        assert!(book.check(2, &handles(2, 2, &[1, 2])).is_err());
    }
}
