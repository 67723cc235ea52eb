//! The processes of a measurement: the server (`binder-bench serve ...`), the clients of case 3
//! (`binder-bench client ...`), and the client the main process is in cases 1 and 2.

use crate::MAP_LEN;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};
use vmtest::binder::{self, Binder, Commands, Return};
use vmtest::uapi::{FlatBinderObject, TransactionData};

/// The server acknowledges one-way transactions in groups of this many, on its stdout.
pub const ACK_EVERY: usize = 8;

/// How long a new server waits for the previous context manager to go away.
const MANAGER_PATIENCE: Duration = Duration::from_secs(20);

/// The read buffer of a `BINDER_WRITE_READ`.
const READ_SIZE: usize = 4096;

/// A client: a binder process of its own (its own open of the device).
pub struct Client {
    binder: Binder,
    pending: Commands,
    read: Vec<u8>,
}

impl Client {
    pub fn open(path: &str) -> Result<Client, String> {
        Ok(Client {
            binder: Binder::open(path, MAP_LEN)?,
            pending: Commands::default(),
            read: vec![0; READ_SIZE],
        })
    }

    /// Writes the pending commands, reads, and handles the returns that need an answer;
    /// returns the reply, or whether a transaction completed.
    fn exchange(&mut self) -> Result<(Option<TransactionData>, bool), String> {
        let n = self
            .binder
            .write_read(self.pending.bytes(), &mut self.read)
            .map_err(|e| format!("BINDER_WRITE_READ: errno {e}"))?;
        self.pending.clear();
        let mut reply = None;
        let mut complete = false;
        for r in binder::parse_returns(&self.read[..n]) {
            match r {
                Return::Reply(tr) => reply = Some(tr),
                Return::TransactionComplete => complete = true,
                // The driver takes references on our nodes: acknowledge, as libbinder does.
                Return::Increfs(pc) => {
                    self.pending.with(binder::BC_INCREFS_DONE, &pc);
                }
                Return::Acquire(pc) => {
                    self.pending.with(binder::BC_ACQUIRE_DONE, &pc);
                }
                Return::Noop | Return::Release(_) | Return::Decrefs(_) => {}
                other => return Err(format!("unexpected return {other:?}")),
            }
        }
        Ok((reply, complete))
    }

    /// A synchronous transaction: returns the reply, which the caller frees with [`free`].
    ///
    /// [`free`]: Client::free
    pub fn call(&mut self, tr: &TransactionData) -> Result<TransactionData, String> {
        self.pending.with(binder::BC_TRANSACTION, tr);
        loop {
            if let (Some(reply), _) = self.exchange()? {
                return Ok(reply);
            }
        }
    }

    /// A one-way transaction: returns when the driver has taken it.
    pub fn send_oneway(&mut self, tr: &TransactionData) -> Result<(), String> {
        self.pending.with(binder::BC_TRANSACTION, tr);
        loop {
            if self.exchange()?.1 {
                return Ok(());
            }
        }
    }

    /// The first four bytes of a reply's data.
    pub fn reply_u32(&self, reply: &TransactionData) -> Option<u32> {
        if reply.data_size < 4 {
            return None;
        }
        let data = self.binder.data(reply.buffer, 4)?;
        binder::read_at::<u32>(data, 0)
    }

    /// Frees a reply's buffer with the next call.
    pub fn free(&mut self, reply: &TransactionData) {
        self.pending.with(binder::BC_FREE_BUFFER, &reply.buffer);
    }
}

/// A server process.
pub struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
    acks: u32,
}

impl Server {
    /// Starts `binder-bench serve PATH THREADS MODE` and waits until it serves.
    pub fn spawn(path: &str, threads: u32, mode: &str) -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .args(["serve", path, &threads.to_string(), mode])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning the server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no server stdout")?;
        let mut server = Server {
            child,
            stdout: BufReader::new(stdout),
            acks: 0,
        };
        let mut line = String::new();
        server
            .stdout
            .read_line(&mut line)
            .map_err(|e| format!("reading the server: {e}"))?;
        if line.trim() != "ready" {
            let _ = server.stop();
            return Err(format!("the server on {path} did not start: {line:?}"));
        }
        Ok(server)
    }

    /// Forgets earlier acknowledgements.
    pub fn reset_acks(&mut self) {
        self.acks = 0;
    }

    /// One-way transactions acknowledged since [`reset_acks`](Server::reset_acks).
    pub fn acked(&self) -> u32 {
        self.acks * ACK_EVERY as u32
    }

    /// Waits for the next acknowledgement.
    pub fn wait_ack(&mut self) -> Result<(), String> {
        let mut byte = [0u8];
        self.stdout
            .read_exact(&mut byte)
            .map_err(|e| format!("waiting for the server's acknowledgement: {e}"))?;
        if byte[0] != b'a' {
            return Err(format!("the server said {:?}", byte[0] as char));
        }
        self.acks += 1;
        Ok(())
    }

    /// Ends the server (it waits in the driver until killed), checks that it was serving, and
    /// waits until the driver has torn its processes down (see [`settle`]).
    pub fn stop(mut self) -> Result<(), String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(format!("the server had ended: {status}"));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        settle()
    }
}

/// The idle and total CPU time of the machine so far, from `/proc/stat`.
fn cpu_times() -> Result<(u64, u64), String> {
    let stat = std::fs::read_to_string("/proc/stat").map_err(|e| format!("/proc/stat: {e}"))?;
    let line = stat.lines().next().unwrap_or_default();
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Ok((idle, v.iter().sum()))
}

/// Waits until the machine is idle (over 90 % idle for 100 ms, at most a minute): a driver
/// tears a closed process down in a worker after `close`, and a process with 100,000
/// references takes a while; the next measurement must not share the CPUs with it.
pub fn settle() -> Result<(), String> {
    let start = Instant::now();
    let (mut idle, mut total) = cpu_times()?;
    while start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
        let (i, t) = cpu_times()?;
        let busy = t.saturating_sub(total);
        if busy > 0 && (i.saturating_sub(idle)) * 10 >= busy * 9 {
            return Ok(());
        }
        (idle, total) = (i, t);
    }
    Err("the machine did not become idle within a minute after a server ended".into())
}

/// `binder-bench serve PATH THREADS MODE`: the context manager of PATH with THREADS looper
/// threads. MODE `handles`: keeps a strong reference on every handle it receives and replies
/// with the handle; `echo`: replies empty, counts one-way transactions and acknowledges them
/// every [`ACK_EVERY`] with a byte `a` on stdout.
pub fn serve(args: &[String]) -> Result<(), String> {
    let [path, threads, mode] = args else {
        return Err("usage: serve PATH THREADS MODE".into());
    };
    let threads: u32 = threads.parse().map_err(|_| "bad THREADS")?;
    let keep_handles = match mode.as_str() {
        "handles" => true,
        "echo" => false,
        _ => return Err(format!("unknown mode {mode}")),
    };
    let binder = Binder::open(path, MAP_LEN)?;
    binder.become_context_manager(MANAGER_PATIENCE)?;
    let oneway = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let workers: Vec<_> = (1..threads)
            .map(|_| s.spawn(|| looper(&binder, keep_handles, &oneway)))
            .collect();
        println!("ready");
        let _ = std::io::stdout().flush();
        let mine = looper(&binder, keep_handles, &oneway);
        for w in workers {
            w.join().map_err(|_| "a looper thread panicked")??;
        }
        mine
    })
}

/// One looper thread of the server.
fn looper(
    binder: &Binder,
    keep_handles: bool,
    oneway: &std::sync::atomic::AtomicUsize,
) -> Result<(), String> {
    let mut write = Commands::default();
    write.code(binder::BC_ENTER_LOOPER);
    let mut read = vec![0u8; READ_SIZE];
    // Reply data must stay put until the write is consumed: one slot per transaction that
    // fits in the read buffer.
    let mut reply_data = [0u32; READ_SIZE / 64];
    loop {
        let n = binder
            .write_read(write.bytes(), &mut read)
            .map_err(|e| format!("server BINDER_WRITE_READ: errno {e}"))?;
        write.clear();
        let mut replies = 0;
        for r in binder::parse_returns(&read[..n]) {
            match r {
                Return::Transaction(tr) => {
                    let mut handle = None;
                    if keep_handles {
                        handle = take_handle(binder, &tr, &mut write)?;
                    }
                    write.with(binder::BC_FREE_BUFFER, &tr.buffer);
                    if tr.flags & binder::TF_ONE_WAY != 0 {
                        let seen = oneway.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        if seen.is_multiple_of(ACK_EVERY) {
                            let mut out = std::io::stdout().lock();
                            let _ = out.write_all(b"a");
                            let _ = out.flush();
                        }
                        continue;
                    }
                    let mut reply = TransactionData::default();
                    if let Some(h) = handle {
                        reply_data[replies] = h;
                        reply.data_size = 4;
                        reply.buffer = &reply_data[replies] as *const u32 as u64;
                    }
                    replies += 1;
                    write.with(binder::BC_REPLY, &reply);
                }
                Return::Noop
                | Return::TransactionComplete
                | Return::SpawnLooper
                | Return::Increfs(_)
                | Return::Acquire(_)
                | Return::Release(_)
                | Return::Decrefs(_) => {}
                other => return Err(format!("server: unexpected return {other:?}")),
            }
        }
    }
}

/// Takes a strong reference on the handle the transaction carries; returns the handle.
fn take_handle(
    binder: &Binder,
    tr: &TransactionData,
    write: &mut Commands,
) -> Result<Option<u32>, String> {
    let Some(offsets) = binder.data(tr.offsets, tr.offsets_size) else {
        return Err(format!("offsets outside the mapping: {tr:?}"));
    };
    let mut handle = None;
    for k in 0..offsets.len() / 8 {
        let offset = binder::read_at::<u64>(offsets, 8 * k).unwrap_or(u64::MAX);
        let object = binder
            .data(tr.buffer.wrapping_add(offset), 24)
            .and_then(|b| binder::read_at::<FlatBinderObject>(b, 0))
            .ok_or_else(|| format!("object at offset {offset} outside the mapping"))?;
        if object.kind != binder::BINDER_TYPE_HANDLE {
            return Err(format!("the server got object {object:?}"));
        }
        write.with(binder::BC_ACQUIRE, &(object.binder as u32));
        handle = Some(object.binder as u32);
    }
    Ok(handle)
}

/// `binder-bench client PATH MILLIS`: says `ready`, waits for a line on stdin, then makes
/// empty round trips to the context manager for MILLIS; says `done COUNT NANOSECONDS`.
pub fn client(args: &[String]) -> Result<(), String> {
    let [path, millis] = args else {
        return Err("usage: client PATH MILLIS".into());
    };
    let duration = Duration::from_millis(millis.parse().map_err(|_| "bad MILLIS")?);
    let mut client = Client::open(path)?;
    let tr = TransactionData {
        code: 4,
        flags: binder::TF_ACCEPT_FDS,
        ..Default::default()
    };
    // One round trip first, so that the measurement does not include the first contact.
    let reply = client.call(&tr)?;
    client.free(&reply);
    println!("ready");
    let _ = std::io::stdout().flush();
    let mut go = String::new();
    std::io::stdin()
        .read_line(&mut go)
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < duration {
        let reply = client.call(&tr)?;
        client.free(&reply);
        count += 1;
    }
    println!("done {count} {}", start.elapsed().as_nanos());
    Ok(())
}

/// Runs `n` client processes at once on `path` for `duration`; returns the round trips they
/// made and the longest time one of them took.
pub fn run_clients(path: &str, n: u32, duration: Duration) -> Result<(u64, Duration), String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut children: Vec<(Child, ChildStdin, BufReader<ChildStdout>)> = Vec::new();
    for _ in 0..n {
        let mut child = Command::new(&exe)
            .args(["client", path, &duration.as_millis().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawning a client: {e}"))?;
        let stdin = child.stdin.take().ok_or("no client stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no client stdout")?);
        children.push((child, stdin, stdout));
    }
    for (_, _, stdout) in &mut children {
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        if line.trim() != "ready" {
            return Err(format!("a client did not start: {line:?}"));
        }
    }
    for (_, stdin, _) in &mut children {
        stdin.write_all(b"go\n").map_err(|e| e.to_string())?;
    }
    let mut total = 0;
    let mut longest = Duration::ZERO;
    for (mut child, _, mut stdout) in children {
        let mut line = String::new();
        stdout.read_line(&mut line).map_err(|e| e.to_string())?;
        let _ = child.wait();
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (Some(&"done"), Some(count), Some(nanos)) = (parts.first(), parts.get(1), parts.get(2))
        else {
            return Err(format!("a client failed: {line:?}"));
        };
        total += count.parse::<u64>().map_err(|e| e.to_string())?;
        let nanos: u64 = nanos
            .parse()
            .map_err(|e: std::num::ParseIntError| e.to_string())?;
        longest = longest.max(Duration::from_nanos(nanos));
    }
    Ok((total, longest))
}
