//! binder-fuzz: drives binder devices with seeded random sequences of ioctls and mmaps built
//! from the UAPI, and checks that every call returns a result or an errno the driver may give,
//! and (differential mode) that binder-lite answers as the C binder does for every feature it
//! implements. The boot test's kernel turns memory and locking bugs into reports, which fail
//! the boot stage; this program reports what it can see itself, as KTAP.
//!
//! Every sequence is a function of its seed: a failure prints the seed and the sequence,
//! shrunk to the calls that still fail, and `binder-fuzz --replay SEED --mode MODE` runs that
//! sequence again, printing every call and both drivers' answers.

mod chaos;
mod coverage;
mod death;
mod diff;
mod exec;
mod fault;
mod handles;
mod ops;
mod procs;
mod rng;
mod shm;
mod uapi;

use diff::{Mode, Stats};
use std::time::{Duration, Instant};
use vmtest::fd::Fd;
use vmtest::ktap::Ktap;

/// The binder-lite device.
const LITE: &str = "/dev/binder-lite";
/// The binderfs instance the VM's `/init` mounts.
const BINDERFS: &str = "/dev/binderfs";
/// The C binder device this program adds on binderfs.
const C_DEVICE: &str = "binder-fuzz";

/// Adds the C binder device on binderfs (or finds it); returns its path.
fn c_device() -> Result<String, String> {
    let path = format!("{BINDERFS}/{C_DEVICE}");
    if std::path::Path::new(&path).exists() {
        return Ok(path);
    }
    let control = Fd::open(&format!("{BINDERFS}/binder-control"))?;
    let mut dev = [0u8; 264];
    dev[..C_DEVICE.len()].copy_from_slice(C_DEVICE.as_bytes());
    control
        .ioctl(uapi::BINDER_CTL_ADD, &mut dev)
        .map_err(|e| format!("BINDER_CTL_ADD {C_DEVICE}: errno {e}"))?;
    Ok(path)
}

/// How long a call may wait in a driver before the watchdog interrupts it: a read with no
/// work waits, on both drivers, until a signal comes.
const WAIT: Duration = Duration::from_millis(5);

/// How much a run does.
struct Budget {
    /// Calls of the sequence phases (differential and binder-lite alone), in total.
    calls: u64,
    /// Wall-clock limit of each sequence phase.
    phase_limit: Duration,
    chaos: chaos::Budget,
    /// Time of each coverage mode (random, then guided), where the kernel has KCOV.
    coverage: Duration,
    /// Time of calls with failing allocations, where the kernel can inject them.
    faults: Duration,
    /// Rounds of the death test (one kill each) on binder-lite; a tenth on the C binder.
    deaths: u64,
    handles: handles::Budget,
}

impl Budget {
    /// The short budget of `make test`.
    fn test() -> Budget {
        Budget {
            calls: 12_000,
            phase_limit: Duration::from_secs(40),
            // A kill every 0.6 s: with one every 0.3 s, the exits and starts took most of the
            // VM's time (9,630 calls in 15 s, measured 2026-12-01).
            chaos: chaos::Budget {
                processes: 4,
                threads: 3,
                duration: Duration::from_secs(30),
                kills: 50,
            },
            coverage: Duration::from_secs(20),
            faults: Duration::from_secs(20),
            deaths: 50,
            handles: handles::Budget {
                processes: 4,
                threads: 3,
                duration: Duration::from_secs(16),
                round: Duration::from_secs(4),
                nodes: 64,
                keep_percent: [80, 10],
            },
        }
    }

    /// The long budget of `make stress`: with the processes' calls, well over a million.
    fn stress() -> Budget {
        Budget {
            calls: 200_000,
            phase_limit: Duration::from_secs(400),
            // Each kill costs the VM about 0.4 s of its CPUs (the process's exit and its
            // successor's start under KASAN, lockdep and kmemleak, TCG; measured 2026-12-01:
            // a kill every 0.6 s made the calls 2.8 times slower than one every 6 s), so the
            // 1,000 kills are spread over 20 minutes, leaving the calls two thirds of it.
            chaos: chaos::Budget {
                processes: 8,
                threads: 4,
                duration: Duration::from_secs(1200),
                kills: 1000,
            },
            coverage: Duration::from_secs(120),
            faults: Duration::from_secs(120),
            deaths: 1000,
            handles: handles::Budget {
                processes: 8,
                threads: 4,
                duration: Duration::from_secs(240),
                round: Duration::from_secs(8),
                nodes: 64,
                keep_percent: [80, 10],
            },
        }
    }
}

/// The phases of sequences: KTAP name, mode, share of the calls.
const PHASES: [(&str, Mode, u64); 3] = [
    (
        "fuzz_differential_supported_features",
        Mode {
            restricted: true,
            compare: true,
            length: 30,
        },
        40,
    ),
    (
        "fuzz_differential_any_call",
        Mode {
            restricted: false,
            compare: true,
            length: 30,
        },
        20,
    ),
    (
        "fuzz_lite_any_call",
        Mode {
            restricted: false,
            compare: false,
            length: 60,
        },
        40,
    ),
];

/// The concurrency stress of handles (see [`handles`]).
fn handles_phase(seed: u64, budget: &handles::Budget) -> Result<(), String> {
    let r = handles_run(HANDLES, seed, budget)?;
    if r.max_capacity <= r.first_capacity {
        return Err(format!(
            "the pool never grew past its first capacity {}",
            r.first_capacity
        ));
    }
    Ok(())
}

/// The handle checker with [`handles::Budget::shared_nodes`]: on the driver before
/// `c16e9db`, it found the race of a node's lookup with its last reference in one of two
/// 240 s runs, which the first phase's pattern showed once in many runs.
fn shared_nodes_phase(seed: u64, budget: &handles::Budget) -> Result<(), String> {
    handles_run(SHARED_NODES, seed, &budget.shared_nodes()).map(|_| ())
}

const HANDLES: &str = "fuzz_handles_under_contention";
const SHARED_NODES: &str = "fuzz_shared_nodes_under_contention";

/// Runs the handle checker as the KTAP test `name`, prints its figures and returns its report
/// if it found nothing wrong.
fn handles_run(name: &str, seed: u64, budget: &handles::Budget) -> Result<handles::Report, String> {
    let start = Instant::now();
    let r = handles::run(LITE, seed, budget);
    println!(
        "# {name}: {} processes x {} threads, {} nodes each, {} rounds, {} \
         transactions, {} handles received, {} given back, {} kills, {} BR_DEAD_BINDER, {} \
         comparisons with the driver; pool capacity {} -> {} (shrank {} times under load), \
         {:.1} s",
        budget.processes,
        budget.threads,
        budget.nodes,
        r.rounds,
        r.transactions,
        r.handles,
        r.released,
        r.kills,
        r.dead_binders,
        r.checks,
        r.first_capacity,
        r.max_capacity,
        r.shrinks_under_load,
        start.elapsed().as_secs_f64()
    );
    if !r.failures.is_empty() {
        return Err(r.failures.join("; "));
    }
    if r.rounds == 0 || r.checks == 0 {
        return Err(format!("nothing was compared: {r:?}"));
    }
    Ok(r)
}

fn mode_named(name: &str) -> Option<Mode> {
    let i = ["restricted", "any", "lite"]
        .iter()
        .position(|m| *m == name)?;
    Some(PHASES[i].1)
}

/// The seed of the `n`-th sequence of a phase.
fn sequence_seed(base: u64, phase: usize, n: u64) -> u64 {
    let mut r = rng::Rng::new(base ^ ((phase as u64) << 56) ^ n);
    r.next()
}

/// Runs one phase of sequences; returns the counts and the failures (already printed).
fn phase(
    index: usize,
    c_path: Option<&str>,
    base: u64,
    calls: u64,
    limit: Duration,
) -> (Stats, Vec<String>) {
    let (name, mode, _) = PHASES[index];
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    let c_path = c_path.filter(|_| mode.compare);
    let mut procs = match procs::Procs::start(LITE, c_path) {
        Ok(p) => p,
        Err(e) => return (stats, vec![e]),
    };
    let start = Instant::now();
    let mut n = 0;
    while stats.calls < calls && start.elapsed() < limit && failures.len() < 3 {
        let seed = sequence_seed(base, index, n);
        n += 1;
        let seq = diff::sequence(seed, mode);
        let all: Vec<usize> = (0..seq.len()).collect();
        let Err(failure) = diff::run(&mut procs, seed, mode, &seq, &all, &mut stats, false) else {
            continue;
        };
        let (min, f) = diff::minimize(&mut procs, seed, mode, &seq, failure);
        // A failure that does not come back is timing (the C binder releases asynchronously).
        let again = diff::run(
            &mut procs,
            seed,
            mode,
            &seq,
            &min,
            &mut Stats::default(),
            false,
        );
        let mode_name = ["restricted", "any", "lite"][index];
        println!(
            "# {name}: sequence seed {seed:#x}{}: shrunk to {} calls:",
            if again.is_ok() {
                " (did not fail again: timing?)"
            } else {
                ""
            },
            min.len()
        );
        for i in &min {
            println!("#   {i}: {}", ops::describe(&seq[*i]));
        }
        println!("#   call {} gave:", f.index);
        for line in f.what.lines() {
            println!("#     {line}");
        }
        println!("#   replay: binder-fuzz --replay {seed:#x} --mode {mode_name}");
        if again.is_err() {
            failures.push(format!("sequence seed {seed:#x}"));
        }
    }
    let slowest = stats.slowest();
    println!(
        "# {name}: {n} sequences, {} calls, {} compared, {:.1} s (binder-lite's slowest: {slowest})",
        stats.calls,
        stats.compared,
        start.elapsed().as_secs_f64(),
    );
    (stats, failures)
}

/// Runs the sequences of [`diff::REGRESSIONS`] on both drivers; every one must agree.
fn regression_phase(c_path: Option<&str>) -> Result<(), String> {
    let c_path = c_path.ok_or("no C binder device to compare with")?;
    let mut failures = Vec::new();
    let mut stats = Stats::default();
    let mut procs = procs::Procs::start(LITE, Some(c_path))?;
    for &(seed, mode_name, what) in diff::REGRESSIONS {
        let mode = mode_named(mode_name).ok_or("unknown mode")?;
        let seq = diff::sequence(seed, mode);
        let all: Vec<usize> = (0..seq.len()).collect();
        // As in the phases, a difference must come back to count (the C binder releases a
        // process asynchronously).
        let r = diff::run(&mut procs, seed, mode, &seq, &all, &mut stats, false)
            .or_else(|_| diff::run(&mut procs, seed, mode, &seq, &all, &mut stats, false));
        if let Err(f) = r {
            println!(
                "# fuzz_regression_seeds: {seed:#x} ({what}): call {}:",
                f.index
            );
            println!("#   {}", ops::describe(&seq[f.index]));
            for line in f.what.lines() {
                println!("#     {line}");
            }
            println!("#   replay: binder-fuzz --replay {seed:#x} --mode {mode_name}");
            failures.push(format!("{seed:#x}"));
        }
    }
    println!(
        "# fuzz_regression_seeds: {} sequences, {} calls compared, {} differ",
        diff::REGRESSIONS.len(),
        stats.compared,
        failures.len()
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("sequences {} differ", failures.join(", ")))
    }
}

/// The death test: on the C binder (a tenth of the rounds, which checks the test itself) and,
/// once binder-lite has transactions, on binder-lite.
fn death_phase(c_path: Option<&str>, seed: u64, rounds: u64) -> Result<(), String> {
    let lite_ready = diff::supports(ops::Feature::Transaction);
    let mut devices = vec![];
    if let Some(c) = c_path {
        devices.push(("C binder", c, rounds.div_ceil(10)));
    }
    if lite_ready {
        devices.push(("binder-lite", LITE, rounds));
    } else {
        println!("# fuzz_death_kill_server_or_client: binder-lite has no transactions yet: C only");
    }
    for (name, path, rounds) in devices {
        let start = Instant::now();
        let r = death::run(path, seed, rounds).map_err(|e| format!("{name}: {e}"))?;
        println!(
            "# fuzz_death_kill_server_or_client: {name}: {} rounds, {} kills ({} of the \
             server), {} replies, {} BR_DEAD_REPLY, {} BR_DEAD_BINDER, {:.1} s",
            r.rounds,
            r.kills,
            r.servers_killed,
            r.replies,
            r.dead_replies,
            r.dead_binders,
            start.elapsed().as_secs_f64()
        );
    }
    if lite_ready {
        chaos::files_released()?;
    }
    Ok(())
}

/// Random, then coverage-guided sequences for the same time; both must reach binder-lite.
fn coverage_phase(seed: u64, time: Duration) -> Result<(), String> {
    let code = coverage::Code::load()?;
    let random = coverage::run(&code, seed, time, false)?;
    let guided = coverage::run(&code, seed, time, true)?;
    println!(
        "# fuzz_coverage_guided: {:.0} s each: random {} calls, {} binder-lite PCs, {} kernel \
         crate PCs; guided {} calls, {} binder-lite PCs, {} kernel crate PCs, corpus of {}",
        time.as_secs_f64(),
        random.calls,
        random.driver,
        random.kernel_crate,
        guided.calls,
        guided.driver,
        guided.kernel_crate,
        guided.corpus
    );
    if random.driver == 0 || guided.driver == 0 {
        return Err("KCOV saw no binder-lite code (is Rust code instrumented?)".into());
    }
    Ok(())
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn number(s: &str) -> Option<u64> {
    s.strip_prefix("0x")
        .map_or_else(|| s.parse().ok(), |h| u64::from_str_radix(h, 16).ok())
}

fn replay(args: &[String], seed: u64) -> i32 {
    let mode = arg(args, "--mode")
        .and_then(|m| mode_named(&m))
        .unwrap_or(PHASES[0].1);
    let c_path = c_device();
    let c = c_path.as_deref().ok().filter(|_| mode.compare);
    let mut procs = match procs::Procs::start(LITE, c) {
        Ok(p) => p,
        Err(e) => {
            println!("# {e}");
            return 1;
        }
    };
    let seq = diff::sequence(seed, mode);
    let all: Vec<usize> = (0..seq.len()).collect();
    let r = diff::run(
        &mut procs,
        seed,
        mode,
        &seq,
        &all,
        &mut Stats::default(),
        true,
    );
    println!("# {r:?}");
    i32::from(r.is_err())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(also) = arg(&args, "--also") {
        let all = ops::ALL;
        let names: Vec<ops::Feature> = all
            .iter()
            .copied()
            .filter(|f| also.split(',').any(|a| a == "all" || a == format!("{f:?}")))
            .collect();
        let _ = diff::ALSO.set(names);
    }
    if let Some(seed) = arg(&args, "--replay").and_then(|s| number(&s)) {
        std::process::exit(replay(&args, seed));
    }
    let stress = args.iter().any(|a| a == "--stress")
        || std::env::var("BINDER_FUZZ_BUDGET").is_ok_and(|b| b == "stress");
    let mut budget = if stress {
        Budget::stress()
    } else {
        Budget::test()
    };
    if let Some(n) = arg(&args, "--calls").and_then(|s| number(&s)) {
        budget.calls = n;
    }
    if let Some(n) = arg(&args, "--chaos-secs").and_then(|s| number(&s)) {
        budget.chaos.duration = Duration::from_secs(n);
    }
    if let Some(n) = arg(&args, "--kills").and_then(|s| number(&s)) {
        budget.chaos.kills = n;
    }
    // A fixed seed by default, so that `make test` runs the same calls every time.
    let seed = arg(&args, "--seed")
        .and_then(|s| number(&s))
        .unwrap_or(0x5eed);
    let kcov = std::path::Path::new(coverage::KCOV).exists();
    let faults = fault::available();
    let mut ktap = Ktap::new(PHASES.len() + 6 + usize::from(kcov) + usize::from(faults));
    println!("# seed {seed:#x}");
    if let Some(n) = arg(&args, "--handles-secs").and_then(|s| number(&s)) {
        budget.handles.duration = Duration::from_secs(n);
    }
    // `--only handles` (both handle phases) or `--only processes`: that phase alone.
    let only = arg(&args, "--only");
    if only.as_deref() == Some("handles") {
        let mut ktap = Ktap::new(2);
        ktap.result(HANDLES, handles_phase(seed, &budget.handles));
        ktap.result(SHARED_NODES, shared_nodes_phase(seed, &budget.handles));
        std::process::exit(ktap.exit_code());
    }

    // Processes first: the parent must have no thread when it forks.
    let start = Instant::now();
    let report = chaos::run(LITE, seed, &budget.chaos);
    println!(
        "# fuzz_processes_threads_kills: {} processes x {} threads, {} calls, {} kills, \
         {} processes, {:.1} s (a killed process took {:.2} s on average to go, {:.2} s at \
         most; a fork {:.3} s)",
        budget.chaos.processes,
        budget.chaos.threads,
        report.calls,
        report.kills,
        report.spawned,
        start.elapsed().as_secs_f64(),
        report.reap_total.as_secs_f64() / report.reaped.max(1) as f64,
        report.reap_slowest.as_secs_f64(),
        report.fork_total.as_secs_f64() / report.spawned.max(1) as f64
    );
    let chaos_result = if !report.failures.is_empty() {
        Err(report.failures.join("; "))
    } else if report.calls == 0 || report.kills == 0 {
        Err(format!("nothing happened: {report:?}"))
    } else if report.kills < budget.chaos.kills {
        Err(format!(
            "{} of the {} kills planned",
            report.kills, budget.chaos.kills
        ))
    } else {
        Ok(())
    };
    ktap.result("fuzz_processes_threads_kills", chaos_result);
    if only.as_deref() == Some("processes") {
        std::process::exit(ktap.exit_code());
    }
    ktap.result(HANDLES, handles_phase(seed, &budget.handles));
    ktap.result(SHARED_NODES, shared_nodes_phase(seed, &budget.handles));

    let c_path = c_device();
    if let Err(e) = &c_path {
        println!("# no C binder device: {e}");
    }
    ktap.result(
        "fuzz_death_kill_server_or_client",
        death_phase(c_path.as_deref().ok(), seed, budget.deaths),
    );
    ktap.result(
        "fuzz_regression_seeds",
        regression_phase(c_path.as_deref().ok()),
    );
    let mut total = 0;
    for (i, (name, mode, share)) in PHASES.iter().enumerate() {
        let calls = budget.calls * share / 100;
        let (stats, failures) = phase(i, c_path.as_deref().ok(), seed, calls, budget.phase_limit);
        total += stats.calls;
        let result = if mode.compare && c_path.is_err() {
            Err("no C binder device to compare with".to_string())
        } else if !failures.is_empty() {
            Err(failures.join("; "))
        } else if mode.compare && stats.compared == 0 {
            Err("nothing was compared".to_string())
        } else {
            Ok(())
        };
        ktap.result(name, result);
    }
    // The children of the sequences are gone: so must be their files.
    if let Err(e) = chaos::files_released() {
        println!("# after the sequences: {e}");
        ktap.result("fuzz_files_released", Err(e));
    } else {
        ktap.result("fuzz_files_released", Ok(()));
    }
    // The coverage and fault phases run in this process: a server in another one is the
    // context manager, so that their calls to handle 0 reach a process that answers.
    let server = if kcov || faults {
        match death::Server::start(LITE, seed) {
            Ok(s) => Some(s),
            Err(e) => {
                println!("# no server for the coverage and fault phases: {e}");
                None
            }
        }
    } else {
        None
    };
    // The calls of this process from here on wait in a driver at times.
    exec::start_watchdog(WAIT);
    if kcov {
        ktap.result(
            "fuzz_coverage_guided",
            coverage_phase(seed, budget.coverage),
        );
    }
    if faults {
        let start = Instant::now();
        let r = fault::run(seed, budget.faults).and_then(|r| {
            println!(
                "# fuzz_allocation_failures: {} calls, {} with a failed allocation, {} ended \
                 in ENOMEM or BR_FAILED_REPLY, {:.1} s",
                r.calls,
                r.injected,
                r.failed_cleanly,
                start.elapsed().as_secs_f64()
            );
            total += r.calls;
            if r.injected == 0 {
                return Err("no allocation failed".to_string());
            }
            Ok(())
        });
        ktap.result("fuzz_allocation_failures", r);
    }
    if let Some(server) = server {
        if let Err(e) = server.stop() {
            println!("# {e}");
        }
    }
    println!(
        "# calls: {} in sequences, {} by processes; {} kills",
        total, report.calls, report.kills
    );
    std::process::exit(ktap.exit_code());
}
