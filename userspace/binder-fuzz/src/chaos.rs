//! Several processes, each with several threads, make random calls on binder-lite at once,
//! while the parent kills them with SIGKILL at random points and starts new ones.

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

/// Waits up to `limit` for the child `pid`; returns its wait status.
fn reap(pid: i32, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        let mut status = 0;
        // SAFETY: `pid` is our child; `status` is valid for writes.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
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
    let mut children: Vec<(i32, u64)> = Vec::new();
    for i in 0..budget.processes {
        let s = rng.fork();
        match spawn(path, s, budget.threads, counters.get(i)) {
            Ok(pid) => children.push((pid, s)),
            Err(e) => report.failures.push(e),
        }
        report.spawned += 1;
    }
    let start = Instant::now();
    let gap = budget.duration.as_micros() as u64 / budget.kills.max(1);
    // Killing and reaping takes time too: up to three times the duration to make the kills.
    while report.kills < budget.kills
        && start.elapsed() < 3 * budget.duration
        && !children.is_empty()
    {
        std::thread::sleep(Duration::from_micros(1000 + rng.below(gap.max(1))));
        let i = rng.below(children.len() as u64) as usize;
        let (pid, child_seed) = children[i];
        // A child that ended by itself reported a finding.
        if let Some(status) = reap(pid, Duration::ZERO) {
            report.failures.push(format!(
                "child seed {child_seed:#x} ended by itself (status {status:#x})"
            ));
        } else {
            // SAFETY: `pid` is our child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            report.kills += 1;
            if reap(pid, Duration::from_secs(20)).is_none() {
                report.failures.push(format!(
                    "child seed {child_seed:#x} still there 20 s after SIGKILL: stuck in the kernel"
                ));
                children.remove(i);
                continue;
            }
        }
        let s = rng.fork();
        match spawn(path, s, budget.threads, counters.get(i)) {
            Ok(pid) => children[i] = (pid, s),
            Err(e) => {
                report.failures.push(e);
                children.remove(i);
            }
        }
        report.spawned += 1;
    }
    for (pid, child_seed) in children {
        if let Some(status) = reap(pid, Duration::ZERO) {
            report.failures.push(format!(
                "child seed {child_seed:#x} ended by itself (status {status:#x})"
            ));
            continue;
        }
        // SAFETY: `pid` is our child, not yet reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        if reap(pid, Duration::from_secs(20)).is_none() {
            report.failures.push(format!(
                "child seed {child_seed:#x} still there 20 s after SIGKILL: stuck in the kernel"
            ));
        }
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
