//! Death tests: a server (the context manager) and a client that calls it synchronously in a
//! loop, one of them killed with SIGKILL at a random point of the calls, round after round.
//! When the server dies, the client must get `BR_DEAD_REPLY` for its call and `BR_DEAD_BINDER`
//! for its death notification; when the client dies, the server goes on. No process may stay
//! stuck, and every file is released at the end.

use crate::rng::Rng;
use crate::shm::{Shm, Zeroed};
use crate::uapi::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use vmtest::fd::errno;

/// Counters a round's children share with the parent.
#[repr(C)]
struct Shared {
    server_ready: AtomicU64,
    replies: AtomicU64,
    dead_replies: AtomicU64,
    failed_replies: AtomicU64,
    dead_binders: AtomicU64,
    served: AtomicU64,
}

// SAFETY: atomics only, all zero at first.
unsafe impl Zeroed for Shared {}

/// What the rounds did.
#[derive(Debug, Default)]
pub struct Report {
    pub rounds: u64,
    pub kills: u64,
    pub servers_killed: u64,
    pub replies: u64,
    pub dead_replies: u64,
    pub dead_binders: u64,
}

/// One `BINDER_WRITE_READ`; returns the words read.
fn write_read(fd: i32, write: &[u8], read: &mut [u8]) -> Result<usize, i32> {
    let mut bwr = [
        write.len() as u64,
        0,
        write.as_ptr() as u64,
        read.len() as u64,
        0,
        read.as_mut_ptr() as u64,
    ];
    // SAFETY: `bwr` names our two buffers with their lengths.
    if unsafe { libc::ioctl(fd, BINDER_WRITE_READ, bwr.as_mut_ptr()) } < 0 {
        return Err(errno());
    }
    Ok(bwr[4] as usize)
}

fn open_mapped(path: &str) -> Result<i32, i32> {
    let c = std::ffi::CString::new(path).map_err(|_| libc::EINVAL)?;
    // SAFETY: `c` is a NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: a new read-only mapping of the device at an address the kernel chooses.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            MAP_1M,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_NORESERVE,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(errno());
    }
    Ok(fd)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | (u64::from(u32_at(b, at + 4)) << 32)
}

fn tr(handle: u32, code: u32, data: &[u8]) -> Vec<u8> {
    let mut t = Vec::with_capacity(TXN_SIZE as usize);
    t.extend_from_slice(&u64::from(handle).to_ne_bytes());
    t.extend_from_slice(&0u64.to_ne_bytes());
    t.extend_from_slice(&code.to_ne_bytes());
    t.extend_from_slice(&0u32.to_ne_bytes());
    t.extend_from_slice(&[0; 8]);
    t.extend_from_slice(&(data.len() as u64).to_ne_bytes());
    t.extend_from_slice(&0u64.to_ne_bytes());
    t.extend_from_slice(&(data.as_ptr() as u64).to_ne_bytes());
    t.extend_from_slice(&0u64.to_ne_bytes());
    t
}

/// The server: becomes the context manager and answers every call, after a short random delay.
fn server(path: &str, shared: &Shared, seed: u64) -> ! {
    let mut rng = Rng::new(seed);
    let Ok(fd) = open_mapped(path) else {
        // SAFETY: ends the child.
        unsafe { libc::_exit(2) }
    };
    loop {
        // SAFETY: a valid `i32` for the kernel to read.
        let r = unsafe { libc::ioctl(fd, crate::uapi::BINDER_SET_CONTEXT_MGR, &mut 0i32) };
        if r == 0 {
            break;
        }
        // The last server's release may still run (the C binder releases from a work queue).
        std::thread::sleep(Duration::from_millis(2));
    }
    shared.server_ready.store(1, Ordering::SeqCst);
    let mut write = BC_ENTER_LOOPER.to_ne_bytes().to_vec();
    let mut read = vec![0u8; 4096];
    loop {
        let Ok(n) = write_read(fd, &write, &mut read) else {
            write.clear();
            continue;
        };
        write.clear();
        let mut at = 0;
        while at + 4 <= n {
            let word = u32_at(&read, at);
            at += 4;
            if word == BR_TRANSACTION {
                let buffer = u64_at(&read, at + 48);
                std::thread::sleep(Duration::from_micros(rng.below(3000)));
                write.extend_from_slice(&BC_FREE_BUFFER.to_ne_bytes());
                write.extend_from_slice(&buffer.to_ne_bytes());
                write.extend_from_slice(&BC_REPLY.to_ne_bytes());
                write.extend_from_slice(&tr(0, 0, &[]));
                shared.served.fetch_add(1, Ordering::SeqCst);
            }
            at += payload_size(word);
        }
    }
}

/// The client: takes a reference to the manager, asks for its death notification, then calls
/// it in a loop.
fn client(path: &str, shared: &Shared) -> ! {
    let Ok(fd) = open_mapped(path) else {
        // SAFETY: ends the child.
        unsafe { libc::_exit(2) }
    };
    // Death notifications are process work: a looper thread receives them.
    let shared_addr = shared as *const Shared as usize;
    std::thread::spawn(move || {
        // SAFETY: `Shared` lives in a shared mapping that outlives this process.
        let shared = unsafe { &*(shared_addr as *const Shared) };
        let mut write = BC_ENTER_LOOPER.to_ne_bytes().to_vec();
        let mut read = vec![0u8; 1024];
        loop {
            let n = write_read(fd, &write, &mut read).unwrap_or(0);
            write.clear();
            let mut at = 0;
            while at + 4 <= n {
                let word = u32_at(&read, at);
                at += 4;
                if word == BR_DEAD_BINDER {
                    write.extend_from_slice(&BC_DEAD_BINDER_DONE.to_ne_bytes());
                    write.extend_from_slice(&u64_at(&read, at).to_ne_bytes());
                    shared.dead_binders.fetch_add(1, Ordering::SeqCst);
                }
                at += payload_size(word);
            }
        }
    });
    let payload = [7u8; 8];
    // A reference to the manager's node (handle 0) first, as libbinder takes one: the death
    // notification is asked on it.
    let mut write = Vec::new();
    for cmd in [BC_INCREFS, BC_ACQUIRE] {
        write.extend_from_slice(&cmd.to_ne_bytes());
        write.extend_from_slice(&0u32.to_ne_bytes());
    }
    write.extend_from_slice(&BC_REQUEST_DEATH_NOTIFICATION.to_ne_bytes());
    write.extend_from_slice(&0u32.to_ne_bytes());
    write.extend_from_slice(&0x77u64.to_ne_bytes());
    let mut read = vec![0u8; 4096];
    loop {
        write.extend_from_slice(&BC_TRANSACTION.to_ne_bytes());
        write.extend_from_slice(&tr(0, 1, &payload));
        let mut done = false;
        while !done {
            let Ok(n) = write_read(fd, &write, &mut read) else {
                write.clear();
                continue;
            };
            write.clear();
            let mut at = 0;
            while at + 4 <= n {
                let word = u32_at(&read, at);
                at += 4;
                match word {
                    BR_REPLY => {
                        write.extend_from_slice(&BC_FREE_BUFFER.to_ne_bytes());
                        write.extend_from_slice(&u64_at(&read, at + 48).to_ne_bytes());
                        shared.replies.fetch_add(1, Ordering::SeqCst);
                        done = true;
                    }
                    BR_DEAD_REPLY => {
                        shared.dead_replies.fetch_add(1, Ordering::SeqCst);
                        done = true;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    BR_FAILED_REPLY => {
                        shared.failed_replies.fetch_add(1, Ordering::SeqCst);
                        done = true;
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    BR_DEAD_BINDER => {
                        let cookie = u64_at(&read, at);
                        write.extend_from_slice(&BC_DEAD_BINDER_DONE.to_ne_bytes());
                        write.extend_from_slice(&cookie.to_ne_bytes());
                        shared.dead_binders.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {}
                }
                at += payload_size(word);
            }
        }
    }
}

fn spawn(body: impl FnOnce() -> i32) -> Result<i32, String> {
    // SAFETY: the caller has no other thread; the child runs `body`, which never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: errno {}", errno()));
    }
    if pid == 0 {
        let code = body();
        // SAFETY: ends the child.
        unsafe { libc::_exit(code) };
    }
    Ok(pid)
}

fn kill_and_reap(pid: i32, who: &str) -> Result<(), String> {
    // SAFETY: `pid` is our child, not yet reaped.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut status = 0;
        // SAFETY: as above; `status` is valid for writes.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("the {who} is still there 10 s after SIGKILL"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits up to `limit` for `f` to hold.
fn wait_for(limit: Duration, f: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !f() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// Runs `rounds` rounds on the device at `path`. The caller must have no other thread.
pub fn run(path: &str, seed: u64, rounds: u64) -> Result<Report, String> {
    let shared = Shm::<Shared>::new()?;
    let shared = &*shared;
    let mut rng = Rng::new(seed);
    let mut report = Report::default();
    let result = (|| {
        for round in 0..rounds {
            for c in [
                &shared.server_ready,
                &shared.replies,
                &shared.dead_replies,
                &shared.failed_replies,
                &shared.dead_binders,
                &shared.served,
            ] {
                c.store(0, Ordering::SeqCst);
            }
            let s_seed = rng.fork();
            let server_pid = spawn(|| server(path, shared, s_seed))?;
            if !wait_for(Duration::from_secs(10), || {
                shared.server_ready.load(Ordering::SeqCst) == 1
            }) {
                kill_and_reap(server_pid, "server")?;
                return Err(format!(
                    "round {round}: the server never became the manager"
                ));
            }
            let client_pid = spawn(|| client(path, shared))?;
            // Let some calls go through, then kill at a random point of one.
            wait_for(Duration::from_secs(5), || {
                shared.replies.load(Ordering::SeqCst) > round % 3
            });
            std::thread::sleep(Duration::from_micros(rng.below(4000)));
            report.kills += 1;
            if rng.chance(60) {
                report.servers_killed += 1;
                kill_and_reap(server_pid, "server")?;
                let got = wait_for(Duration::from_secs(10), || {
                    shared.dead_replies.load(Ordering::SeqCst) > 0
                        && shared.dead_binders.load(Ordering::SeqCst) > 0
                });
                let (dr, db) = (
                    shared.dead_replies.load(Ordering::SeqCst),
                    shared.dead_binders.load(Ordering::SeqCst),
                );
                kill_and_reap(client_pid, "client")?;
                if !got {
                    return Err(format!(
                        "round {round} (seed {s_seed:#x}): the server was killed; within 10 s \
                         the client got {dr} BR_DEAD_REPLY and {db} BR_DEAD_BINDER, \
                         expected at least one of each"
                    ));
                }
            } else {
                kill_and_reap(client_pid, "client")?;
                // The server goes on: a new client is served.
                let served = shared.served.load(Ordering::SeqCst);
                let client_pid = spawn(|| client(path, shared))?;
                let ok = wait_for(Duration::from_secs(10), || {
                    shared.served.load(Ordering::SeqCst) > served
                });
                kill_and_reap(client_pid, "client")?;
                kill_and_reap(server_pid, "server")?;
                if !ok {
                    return Err(format!(
                        "round {round} (seed {s_seed:#x}): after its client was killed, the \
                         server served no other client within 10 s"
                    ));
                }
            }
            report.rounds += 1;
            report.replies += shared.replies.load(Ordering::SeqCst);
            report.dead_replies += shared.dead_replies.load(Ordering::SeqCst);
            report.dead_binders += shared.dead_binders.load(Ordering::SeqCst);
        }
        Ok(())
    })();
    result.map(|()| report)
}

/// A server (context manager answering every call) in a child process, for fuzzing phases
/// whose own process cannot be the manager of its calls.
pub struct Server {
    pid: i32,
    /// What the server shares with this process; unmapped after the server is gone.
    _shared: Shm<Shared>,
}

impl Server {
    /// Starts a server on `path`.
    pub fn start(path: &str, seed: u64) -> Result<Server, String> {
        let shared = Shm::<Shared>::new()?;
        let s = &*shared;
        let pid = spawn(|| server(path, s, seed))?;
        let server = Server {
            pid,
            _shared: shared,
        };
        let ready = &server._shared.server_ready;
        if !wait_for(Duration::from_secs(10), || {
            ready.load(Ordering::SeqCst) == 1
        }) {
            let _ = server.stop();
            return Err("the server never became the context manager".into());
        }
        Ok(server)
    }

    /// Kills the server and reaps it.
    pub fn stop(self) -> Result<(), String> {
        kill_and_reap(self.pid, "server")
    }
}
