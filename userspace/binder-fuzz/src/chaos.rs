//! Several processes, each with several threads, make random calls on binder-lite at once,
//! while the parent kills them with SIGKILL at random points and starts new ones.
//!
//! The kills follow a schedule: kill `k` comes at a random point of the `k`-th slice of the
//! duration, whatever the earlier ones cost. A killed process is replaced at once and reaped
//! when it is gone, while the next kills go on: under TCG, a process of several threads takes
//! seconds to exit while the others keep the CPUs busy (measured in `make stress`: 1.5 s on
//! average, up to 5.4 s), which a round that waited for it made its own cost.

use crate::exec::{self, errno_allowed, World};
use crate::ops::{self, SLOTS};
use crate::rng::Rng;
use crate::shm::Shm;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use vmtest::fd::errno;

/// The budget of a run.
pub struct Budget {
    pub processes: usize,
    pub threads: usize,
    pub duration: Duration,
    /// Kills to make, spread over the duration.
    pub kills: u64,
}

/// What a run did.
#[derive(Default, Debug)]
pub struct Report {
    pub calls: u64,
    pub kills: u64,
    pub spawned: u64,
    pub failures: Vec<String>,
    /// From each kill to the reaping of the process (the time its exit took).
    pub reaped: u64,
    pub reap_total: Duration,
    pub reap_slowest: Duration,
    /// Time the parent spent forking new processes.
    pub fork_total: Duration,
}

/// The body of a child: `threads` threads making calls on the device with shared files,
/// forever (until killed). Exits 1 after printing a finding.
fn child(path: &str, seed: u64, threads: usize, counter: &AtomicU64) -> ! {
    exec::start_watchdog(crate::WAIT);
    let slots = exec::slots();
    std::thread::scope(|s| {
        for t in 0..threads {
            let slots = slots.clone();
            s.spawn(move || {
                let mut world = World::new(path, slots, t, true);
                let mut rng = Rng::new(seed ^ (t as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
                let mut recent: Vec<String> = Vec::new();
                loop {
                    let op = ops::op(&mut rng, SLOTS);
                    let stalled_before = exec::stalled();
                    let out = world.run(&op);
                    // Time the whole process (or VM) did not run is not the call's.
                    let stalled = exec::stalled().saturating_sub(stalled_before);
                    let took = out.took.saturating_sub(stalled);
                    if !out.skipped {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    recent.push(format!("{} -> {}", ops::describe(&op), out.text));
                    if recent.len() > 8 {
                        recent.remove(0);
                    }
                    let bad = out.errno.filter(|e| !errno_allowed(*e));
                    if bad.is_some() || took > Duration::from_secs(10) {
                        println!(
                            "# chaos: seed {seed:#x} thread {t}: finding (the last call took \
                             {:.1} s, {:.1} s of it stalled); last calls:",
                            out.took.as_secs_f64(),
                            stalled.as_secs_f64()
                        );
                        for r in &recent {
                            println!("#   {r}");
                        }
                        // SAFETY: ends the process at once, as a finding.
                        unsafe { libc::_exit(1) };
                    }
                }
            });
        }
    });
    // SAFETY: the threads never return; this is not reached.
    unsafe { libc::_exit(0) }
}

fn spawn(path: &str, seed: u64, threads: usize, counter: &AtomicU64) -> Result<i32, String> {
    // SAFETY: the parent has no other thread (the chaos run comes first), so the child may do
    // anything; it never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: errno {}", errno()));
    }
    if pid == 0 {
        child(path, seed, threads, counter);
    }
    Ok(pid)
}

/// The wait status of the child `pid` if it ended, without waiting.
fn ended(pid: i32) -> Option<i32> {
    let mut status = 0;
    // SAFETY: `pid` is our child; `status` is valid for writes.
    (unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid).then_some(status)
}

/// How long a killed process may take to go before it counts as stuck in the kernel.
const STUCK: Duration = Duration::from_secs(20);

/// A killed process not reaped yet.
struct Dying {
    pid: i32,
    seed: u64,
    killed: Instant,
}

/// Reaps the killed processes that are gone; reports those gone for longer than [`STUCK`].
fn reap_dying(dying: &mut Vec<Dying>, report: &mut Report) {
    dying.retain(|d| {
        if ended(d.pid).is_some() {
            let took = d.killed.elapsed();
            report.reaped += 1;
            report.reap_total += took;
            report.reap_slowest = report.reap_slowest.max(took);
            return false;
        }
        if d.killed.elapsed() > STUCK {
            report.failures.push(format!(
                "child seed {:#x} still there {} s after SIGKILL: stuck in the kernel",
                d.seed,
                STUCK.as_secs()
            ));
            return false;
        }
        true
    });
}

fn timed_spawn(
    path: &str,
    seed: u64,
    budget: &Budget,
    counter: &AtomicU64,
    report: &mut Report,
) -> Option<i32> {
    let start = Instant::now();
    let r = spawn(path, seed, budget.threads, counter);
    report.fork_total += start.elapsed();
    report.spawned += 1;
    r.map_err(|e| report.failures.push(e)).ok()
}

/// Runs the processes for the budget's duration, killing one at random points.
pub fn run(path: &str, seed: u64, budget: &Budget) -> Report {
    let mut rng = Rng::new(seed);
    let mut report = Report::default();
    // Call counters shared with the children, one per process slot.
    let counters = match Shm::<AtomicU64>::array(budget.processes) {
        Ok(c) => c,
        Err(e) => {
            report.failures.push(e);
            return report;
        }
    };
    // The process of each slot, with its seed.
    let mut children: Vec<Option<(i32, u64)>> = Vec::new();
    for i in 0..budget.processes {
        let s = rng.fork();
        let pid = timed_spawn(path, s, budget, counters.get(i), &mut report);
        children.push(pid.map(|p| (p, s)));
    }
    let mut dying: Vec<Dying> = Vec::new();
    let start = Instant::now();
    let slice = budget.duration.as_micros() as u64 / budget.kills.max(1);
    let mut next_kill = start + Duration::from_micros(rng.below(slice.max(1)));
    // Up to three times the duration to make the kills, should the machine be slower still.
    while report.kills < budget.kills && start.elapsed() < 3 * budget.duration {
        reap_dying(&mut dying, &mut report);
        let now = Instant::now();
        // At most half as many processes exiting as calling: a late schedule catches up
        // without piling up exits.
        if now < next_kill || dying.len() >= budget.processes.div_ceil(2) {
            let wait = next_kill.saturating_duration_since(now);
            std::thread::sleep(wait.clamp(Duration::from_millis(1), Duration::from_millis(5)));
            continue;
        }
        let live: Vec<usize> = (0..children.len())
            .filter(|&i| children[i].is_some())
            .collect();
        if live.is_empty() {
            break;
        }
        let i = live[rng.below(live.len() as u64) as usize];
        let Some((pid, child_seed)) = children[i] else {
            continue;
        };
        // A child that ended by itself reported a finding.
        if let Some(status) = ended(pid) {
            report.failures.push(format!(
                "child seed {child_seed:#x} ended by itself (status {status:#x})"
            ));
        } else {
            // SAFETY: `pid` is our child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            report.kills += 1;
            dying.push(Dying {
                pid,
                seed: child_seed,
                killed: Instant::now(),
            });
            let k = report.kills;
            next_kill = start + Duration::from_micros(k * slice + rng.below(slice.max(1)));
        }
        let s = rng.fork();
        children[i] = timed_spawn(path, s, budget, counters.get(i), &mut report).map(|p| (p, s));
    }
    for (pid, child_seed) in children.into_iter().flatten() {
        if let Some(status) = ended(pid) {
            report.failures.push(format!(
                "child seed {child_seed:#x} ended by itself (status {status:#x})"
            ));
            continue;
        }
        // SAFETY: `pid` is our child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        dying.push(Dying {
            pid,
            seed: child_seed,
            killed: Instant::now(),
        });
    }
    while !dying.is_empty() {
        reap_dying(&mut dying, &mut report);
        std::thread::sleep(Duration::from_millis(5));
    }
    if let Err(e) = files_released() {
        report.failures.push(e);
    }
    report.calls = (0..budget.processes)
        .map(|i| counters.get(i).load(Ordering::Relaxed))
        .sum();
    report
}

/// Checks that every file of binder-lite was released once its processes are gone: the
/// module's reference count (one per open file or mapping) returns to zero.
pub fn files_released() -> Result<(), String> {
    const REFCNT: &str = "/sys/module/rust_binder_lite/refcnt";
    let mut count = String::new();
    for _ in 0..500 {
        count = std::fs::read_to_string(REFCNT).map_err(|e| format!("{REFCNT}: {e}"))?;
        if count.trim() == "0" {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!(
        "binder-lite still has {} files or mappings 5 s after every process ended",
        count.trim()
    ))
}
