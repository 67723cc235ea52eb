//! binder-bench: binder transactions timed on binder-lite and on a C binder device in one boot.
//!
//! Three cases, each run against every available target (see [`TARGETS`]):
//!
//! 1. `handles`: the server is the context manager; the client sends transactions that each
//!    carry a new `BINDER_TYPE_BINDER`; the server takes a strong reference on each handle it
//!    receives and keeps it, so its handle count grows by one per transaction. Round-trip
//!    latency per range of handle count. A target whose next range would pass the time limit
//!    is stopped, and the program says where.
//! 2. `payload`: synchronous round trips with 0 B to 1 MiB of data, and one-way throughput.
//! 3. `clients`: 1, 2 and 4 client processes calling one server that has 2 looper threads.
//!
//! Cases 2 and 3 run in rounds, each round visiting the targets in a rotated order, so that a
//! drift of the machine hits every target alike. Every result is a line
//! `binder-bench: case=... target=... key=value...` on standard output, which the harness
//! parses. Without arguments the program runs a short smoke version (the boot test runs it);
//! `--full` runs the benchmark. It exits non-zero if a transaction fails or a handle is not
//! the one expected (the lowest free one ≥ 1, on every target).
//!
//! `--profile handles TARGET N` and `--profile payload TARGET BYTES SECONDS` run one case on one
//! target only (N handles; round trips of BYTES for SECONDS), for `make bench PROFILE=1`, which
//! runs each under `perf record` in the guest.
//!
//! The processes: this program re-executes itself as `serve` (a binder server) and `client`
//! (a client of case 3); the main process is the client of cases 1 and 2.

mod roles;
mod stats;

use roles::{Client, Server};
use stats::Latencies;
use std::time::{Duration, Instant};
use vmtest::binder;
use vmtest::uapi::{FlatBinderObject, TransactionData};

/// The binderfs instance the VM's `/init` mounts.
const BINDERFS: &str = "/dev/binderfs";
/// The C binder device this program adds on it.
const C_DEVICE: &str = "binder-bench";
/// The binder-lite device.
const LITE: &str = "/dev/binder-lite";
/// binder-lite's allocator parameter: read when a process opens the device.
const ALLOCATOR_PARAM: &str = "/sys/module/rust_binder_lite/parameters/allocator";
/// The size of every mapping: the most the C binder maps, so that 1 MiB fits.
pub const MAP_LEN: usize = 4 << 20;

/// Where a target's device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Device {
    /// A C binder device on binderfs.
    C,
    /// `/dev/binder-lite`, with this handle allocator.
    Lite(&'static str),
}

/// A driver to measure.
struct Target {
    /// The name in results: `c`, `idpool`, `rbtree_scan`.
    name: &'static str,
    device: Device,
    /// Whether the driver carries what the cases need (transactions, references).
    available: bool,
    /// The quadratic baseline of case 1, which gets [`Config::baseline_limit`].
    baseline: bool,
}

/// The targets, in the order each round starts with.
const TARGETS: &[Target] = &[
    Target {
        name: "c",
        device: Device::C,
        available: true,
        baseline: false,
    },
    Target {
        name: "idpool",
        device: Device::Lite("idpool"),
        available: true,
        baseline: false,
    },
    Target {
        name: "rbtree_scan",
        device: Device::Lite("rbtree_scan"),
        available: true,
        baseline: true,
    },
];

/// The sizes and counts of one run.
struct Config {
    /// Case 1: transactions (= handles in the end) and the width of a reported range.
    handles: u32,
    range: u32,
    /// Case 1: the time limit of one target.
    handles_limit: Duration,
    /// Case 1: the time limit of the baseline, whose round trips grow with the handles: long
    /// enough for the ranges that show its growth.
    baseline_limit: Duration,
    /// Case 2: (payload bytes, round trips per round).
    payloads: &'static [(usize, u32)],
    /// Case 2: (payload bytes, one-way transactions per round).
    oneway: &'static [(usize, u32)],
    /// Cases 2 and 3: rounds.
    rounds: usize,
    /// Case 3: client processes, and how long each measurement lasts.
    clients: &'static [u32],
    client_time: Duration,
}

const FULL: Config = Config {
    handles: 100_000,
    range: 10_000,
    handles_limit: Duration::from_secs(180),
    baseline_limit: Duration::from_secs(420),
    payloads: &[(0, 1000), (4096, 1000), (65536, 300), (1 << 20, 20)],
    oneway: &[(0, 2000), (4096, 2000), (65536, 304)],
    rounds: 3,
    clients: &[1, 2, 4],
    client_time: Duration::from_secs(2),
};

const SMOKE: Config = Config {
    handles: 300,
    range: 100,
    handles_limit: Duration::from_secs(30),
    baseline_limit: Duration::from_secs(30),
    payloads: &[(0, 20), (4096, 20), (65536, 5), (1 << 20, 2)],
    oneway: &[(0, 48), (65536, 24)],
    rounds: 1,
    clients: &[1, 2],
    client_time: Duration::from_millis(200),
};

/// Prints one result or progress line.
macro_rules! say {
    ($($arg:tt)*) => {{
        println!("binder-bench: {}", format!($($arg)*));
    }};
}

impl Target {
    /// The device path, after selecting binder-lite's allocator for the processes that open
    /// it from now on.
    fn prepare(&self) -> Result<String, String> {
        match self.device {
            Device::C => binder::binderfs_device(BINDERFS, C_DEVICE),
            Device::Lite(allocator) => {
                select_allocator(allocator)?;
                Ok(LITE.to_string())
            }
        }
    }
}

/// Sets binder-lite's allocator parameter and checks that it took.
fn select_allocator(allocator: &str) -> Result<(), String> {
    std::fs::write(ALLOCATOR_PARAM, allocator)
        .map_err(|e| format!("writing {allocator} to {ALLOCATOR_PARAM}: {e}"))?;
    let now = std::fs::read_to_string(ALLOCATOR_PARAM)
        .map_err(|e| format!("reading {ALLOCATOR_PARAM}: {e}"))?;
    if now.trim() != allocator {
        return Err(format!(
            "{ALLOCATOR_PARAM} reads {now:?} after writing {allocator}"
        ));
    }
    Ok(())
}

/// One target of case 1: its server, its client, and how far it got.
struct HandleRun<'a> {
    target: &'a Target,
    server: Server,
    client: Client,
    /// Transactions made so far, = handles in the server.
    next: u32,
    /// Time spent in this target's transactions so far (its share of the time limit).
    spent: Duration,
    /// That time for the last full range.
    last_range: Option<Duration>,
    /// The round trips of the current range.
    lat: Latencies,
    stopped: bool,
}

impl HandleRun<'_> {
    /// Makes `count` round trips, or fewer if the target reaches its time limit.
    fn transactions(&mut self, count: u32, cfg: &Config) -> Result<(), String> {
        let offsets = [0u64];
        for _ in 0..count {
            if self.spent > self.limit(cfg) {
                self.stop(cfg, "time_limit".to_string());
                return Ok(());
            }
            let i = self.next;
            // A distinct, aligned pointer and cookie per object: each is a new node.
            let object = FlatBinderObject {
                kind: binder::BINDER_TYPE_BINDER,
                flags: binder::FLAT_BINDER_FLAG_ACCEPTS_FDS,
                binder: u64::from(i + 1) << 4,
                cookie: u64::from(i + 1),
            };
            let tr = TransactionData {
                code: 1,
                flags: binder::TF_ACCEPT_FDS,
                data_size: std::mem::size_of::<FlatBinderObject>() as u64,
                offsets_size: 8,
                buffer: &object as *const FlatBinderObject as u64,
                offsets: offsets.as_ptr() as u64,
                ..Default::default()
            };
            let t0 = Instant::now();
            let reply = self.client.call(&tr)?;
            let took = t0.elapsed();
            self.lat.push(took);
            self.spent += took;
            let handle = self.client.reply_u32(&reply);
            self.client.free(&reply);
            if handle != Some(i + 1) {
                return Err(format!(
                    "{}: transaction {i}: the server got handle {handle:?}, expected {}",
                    self.target.name,
                    i + 1
                ));
            }
            self.next += 1;
        }
        Ok(())
    }

    /// The time limit of this target's round trips.
    fn limit(&self, cfg: &Config) -> Duration {
        if self.target.baseline {
            cfg.baseline_limit
        } else {
            cfg.handles_limit
        }
    }

    fn stop(&mut self, cfg: &Config, reason: String) {
        say!(
            "stopped case=handles target={} at={} elapsed_s={:.1} limit_s={} reason={reason}",
            self.target.name,
            self.next,
            self.spent.as_secs_f64(),
            self.limit(cfg).as_secs()
        );
        self.stopped = true;
    }
}

/// Case 1 on targets that can run at once: each server is the context manager of its device,
/// so no two of them share a device. Their round trips are interleaved in chunks, so that a
/// drift of the machine hits them alike; each target has the time limit for itself.
fn handles(targets: &[&Target], cfg: &Config) -> Result<(), String> {
    let mut runs = Vec::new();
    for &target in targets {
        // binder-lite's allocator is read at open: the server and client open before the next
        // target selects another (which is never on the same device).
        let path = target.prepare()?;
        let server = Server::spawn(&path, 1, "handles")?;
        let client = Client::open(&path)?;
        runs.push(HandleRun {
            target,
            server,
            client,
            next: 0,
            spent: Duration::ZERO,
            last_range: None,
            lat: Latencies::default(),
            stopped: false,
        });
    }
    let chunk = (cfg.range / 20).max(1);
    let mut from = 0;
    while from < cfg.handles && runs.iter().any(|r| !r.stopped) {
        let to = (from + cfg.range).min(cfg.handles);
        for run in runs.iter_mut().filter(|r| !r.stopped) {
            // The next range costs at least what the last one did (more, if it grows).
            if let Some(last) = run.last_range {
                let estimate = last.mul_f64(f64::from(to - from) / f64::from(cfg.range));
                if run.spent + estimate > run.limit(cfg) {
                    run.stop(
                        cfg,
                        format!("next_range_estimated_{:.0}s", estimate.as_secs_f64()),
                    );
                }
            }
            run.lat = Latencies::with_capacity((to - from) as usize);
        }
        let ran: Vec<bool> = runs.iter().map(|r| !r.stopped).collect();
        let spent_before: Vec<Duration> = runs.iter().map(|r| r.spent).collect();
        let mut at = from;
        let mut turn = 0;
        while at < to {
            let count = chunk.min(to - at);
            let n = runs.len();
            for k in 0..n {
                let run = &mut runs[(turn + k) % n];
                if !run.stopped {
                    run.transactions(count, cfg)?;
                }
            }
            at += count;
            turn += 1;
        }
        for (k, run) in runs.iter_mut().enumerate().filter(|(k, _)| ran[*k]) {
            let s = run.lat.summary();
            say!(
                "case=handles target={} from={from} to={} n={} avg_us={:.1} p50_us={:.1} \
                 p99_us={:.1} elapsed_s={:.1}",
                run.target.name,
                run.next,
                s.n,
                s.avg_us,
                s.p50_us,
                s.p99_us,
                run.spent.as_secs_f64()
            );
            run.last_range = Some(run.spent - spent_before[k]);
        }
        from = to;
    }
    for run in runs {
        drop(run.client);
        run.server.stop()?;
    }
    Ok(())
}

/// Whether two targets are on the same device (so cannot both have their context manager).
fn same_device(a: &Target, b: &Target) -> bool {
    matches!(
        (a.device, b.device),
        (Device::C, Device::C) | (Device::Lite(_), Device::Lite(_))
    )
}

/// A synchronous request carrying `data` (code 2), which the server echoes.
fn echo_request(data: &[u8]) -> TransactionData {
    TransactionData {
        code: 2,
        flags: binder::TF_ACCEPT_FDS,
        data_size: data.len() as u64,
        buffer: data.as_ptr() as u64,
        ..Default::default()
    }
}

/// One round trip of `tr`, timed into `lat`; the reply is freed with the next call.
fn timed_call(
    client: &mut Client,
    tr: &TransactionData,
    lat: &mut Latencies,
) -> Result<(), String> {
    let t0 = Instant::now();
    let reply = client.call(tr)?;
    lat.push(t0.elapsed());
    client.free(&reply);
    Ok(())
}

/// Prints the round trips of `size` bytes on `target`, after `prefix`.
fn say_payload(prefix: &str, target: &Target, size: usize, lat: &Latencies) {
    let s = lat.summary();
    say!(
        "{prefix}case=payload target={} size={size} n={} avg_us={:.1} p50_us={:.1} p99_us={:.1}",
        target.name,
        s.n,
        s.avg_us,
        s.p50_us,
        s.p99_us
    );
}

/// Case 2, one round on one target: synchronous round trips per payload size, then one-way
/// throughput.
fn payload_round(
    target: &Target,
    cfg: &Config,
    sync: &mut [Latencies],
    oneway: &mut [(u32, Duration)],
) -> Result<(), String> {
    let path = target.prepare()?;
    let mut server = Server::spawn(&path, 1, "echo")?;
    let mut client = Client::open(&path)?;
    for (k, &(size, count)) in cfg.payloads.iter().enumerate() {
        let data = vec![0x5au8; size];
        let tr = echo_request(&data);
        // Warm up: the first transactions fault in the buffer pages.
        let mut warm_up = Latencies::default();
        for _ in 0..3 {
            timed_call(&mut client, &tr, &mut warm_up)?;
        }
        for _ in 0..count {
            timed_call(&mut client, &tr, &mut sync[k])?;
        }
    }
    for (k, &(size, count)) in cfg.oneway.iter().enumerate() {
        let data = vec![0xa5u8; size];
        let tr = TransactionData {
            code: 3,
            flags: binder::TF_ONE_WAY | binder::TF_ACCEPT_FDS,
            data_size: size as u64,
            buffer: data.as_ptr() as u64,
            ..Default::default()
        };
        // At most this many one-way transactions in flight: well within the half of the
        // buffer area that one-way transactions may use, on every target.
        let window = (64usize)
            .min((1 << 20) / (size + 64))
            .max(2 * roles::ACK_EVERY) as u32;
        if !count.is_multiple_of(roles::ACK_EVERY as u32) {
            return Err(format!(
                "one-way count {count} is not a multiple of the acknowledgement"
            ));
        }
        server.reset_acks();
        let t0 = Instant::now();
        let mut sent = 0u32;
        while sent < count {
            while sent >= server.acked() + window {
                server.wait_ack()?;
            }
            client.send_oneway(&tr)?;
            sent += 1;
        }
        while server.acked() < count {
            server.wait_ack()?;
        }
        oneway[k].0 += count;
        oneway[k].1 += t0.elapsed();
    }
    drop(client);
    server.stop()
}

/// Case 2 on every target, interleaved in rounds.
fn payload(targets: &[&Target], cfg: &Config) -> Result<(), String> {
    let mut sync: Vec<Vec<Latencies>> = targets
        .iter()
        .map(|_| cfg.payloads.iter().map(|_| Latencies::default()).collect())
        .collect();
    let mut oneway: Vec<Vec<(u32, Duration)>> = targets
        .iter()
        .map(|_| vec![(0, Duration::ZERO); cfg.oneway.len()])
        .collect();
    for round in 0..cfg.rounds {
        for k in 0..targets.len() {
            let t = (round + k) % targets.len();
            let t0 = Instant::now();
            payload_round(targets[t], cfg, &mut sync[t], &mut oneway[t])?;
            say!(
                "progress case=payload round={} target={} seconds={:.1}",
                round + 1,
                targets[t].name,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    for (t, target) in targets.iter().enumerate() {
        for (k, &(size, _)) in cfg.payloads.iter().enumerate() {
            say_payload("", target, size, &sync[t][k]);
        }
        for (k, &(size, _)) in cfg.oneway.iter().enumerate() {
            let (n, time) = oneway[t][k];
            say!(
                "case=oneway target={} size={size} n={n} tx_per_s={:.0}",
                target.name,
                f64::from(n) / time.as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Case 3 on every target, interleaved in rounds.
fn clients(targets: &[&Target], cfg: &Config) -> Result<(), String> {
    // Per target and client count: transactions, and the time of the slowest client.
    let mut totals = vec![vec![(0u64, Duration::ZERO); cfg.clients.len()]; targets.len()];
    for round in 0..cfg.rounds {
        for k in 0..targets.len() {
            let t = (round + k) % targets.len();
            let path = targets[t].prepare()?;
            let server = Server::spawn(&path, 2, "echo")?;
            for (c, &n) in cfg.clients.iter().enumerate() {
                let (count, time) = roles::run_clients(&path, n, cfg.client_time)?;
                totals[t][c].0 += count;
                totals[t][c].1 += time;
                say!(
                    "progress case=clients round={} target={} clients={n} tx_per_s={:.0}",
                    round + 1,
                    targets[t].name,
                    count as f64 / time.as_secs_f64()
                );
            }
            server.stop()?;
        }
    }
    for (t, target) in targets.iter().enumerate() {
        for (c, &n) in cfg.clients.iter().enumerate() {
            let (count, time) = totals[t][c];
            say!(
                "case=clients target={} clients={n} n={count} seconds={:.2} tx_per_s={:.0}",
                target.name,
                time.as_secs_f64(),
                count as f64 / time.as_secs_f64()
            );
        }
    }
    Ok(())
}

fn run(cfg: &Config) -> Result<(), String> {
    let targets: Vec<&Target> = TARGETS.iter().filter(|t| t.available).collect();
    for t in TARGETS {
        say!(
            "target name={} device={:?} available={}",
            t.name,
            t.device,
            t.available
        );
    }
    let start = Instant::now();
    // Case 1 in groups of targets on different devices (the C binder with binder-lite's
    // first allocator, then binder-lite's other allocator), each group interleaved.
    let mut groups: Vec<Vec<&Target>> = Vec::new();
    for &t in &targets {
        match groups
            .iter_mut()
            .find(|g| g.iter().all(|o| !same_device(o, t)))
        {
            Some(g) => g.push(t),
            None => groups.push(vec![t]),
        }
    }
    for group in &groups {
        let names: Vec<&str> = group.iter().map(|t| t.name).collect();
        say!("progress case=handles targets={} starting", names.join(","));
        handles(group, cfg)?;
    }
    say!("progress case=payload starting");
    payload(&targets, cfg)?;
    say!("progress case=clients starting");
    clients(&targets, cfg)?;
    // Leave binder-lite as the boot test loads it.
    if targets.iter().any(|t| matches!(t.device, Device::Lite(_))) {
        select_allocator("idpool")?;
    }
    say!("done seconds={:.1}", start.elapsed().as_secs_f64());
    Ok(())
}

/// `--profile handles TARGET N` or `--profile payload TARGET BYTES SECONDS`: one case on one
/// target, to be profiled.
fn profile(args: &[String]) -> Result<(), String> {
    let usage =
        || "usage: --profile handles TARGET N | --profile payload TARGET BYTES SECONDS".to_string();
    let number = |k: usize| -> Result<u64, String> {
        args.get(k).and_then(|a| a.parse().ok()).ok_or_else(usage)
    };
    let target = args
        .get(1)
        .and_then(|name| TARGETS.iter().find(|t| t.name == name.as_str()))
        .ok_or_else(usage)?;
    match args.first().map(String::as_str) {
        Some("handles") => {
            let count = u32::try_from(number(2)?).map_err(|_| usage())?;
            let cfg = Config {
                handles: count,
                range: FULL.range.min(count.max(1)),
                ..FULL
            };
            handles(&[target], &cfg)
        }
        Some("payload") => {
            let size = usize::try_from(number(2)?).map_err(|_| usage())?;
            let time = Duration::from_secs(number(3)?);
            let path = target.prepare()?;
            let server = Server::spawn(&path, 1, "echo")?;
            let mut client = Client::open(&path)?;
            let data = vec![0x5au8; size];
            let tr = echo_request(&data);
            let mut lat = Latencies::default();
            let start = Instant::now();
            while start.elapsed() < time {
                timed_call(&mut client, &tr, &mut lat)?;
            }
            // Not a result line of the benchmark: the harness does not take it for one.
            say_payload("profile ", target, size, &lat);
            drop(client);
            server.stop()
        }
        _ => Err(usage()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("serve") => roles::serve(&args[2..]),
        Some("client") => roles::client(&args[2..]),
        Some("--full") => run(&FULL),
        Some("--profile") => profile(&args[2..]),
        None | Some("--smoke") => run(&SMOKE),
        Some(other) => Err(format!("unknown argument {other}; use --full or --smoke")),
    };
    if let Err(e) = result {
        // A server's stdout is a pipe its parent reads acknowledgements from.
        if args.get(1).map(String::as_str) == Some("serve") {
            eprintln!("binder-bench: error in the server: {e}");
        }
        say!("error {e}");
        std::process::exit(1);
    }
}
