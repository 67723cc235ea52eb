//! Sequences of calls run on binder-lite and on a C binder device side by side; for the
//! features binder-lite implements, both must answer the same.

use crate::exec::{errno_allowed, Outcome};
use crate::ops::{self, Feature, Op, SLOTS};
use crate::procs::Procs;
use crate::rng::Rng;
use std::time::Duration;

/// What binder-lite implements: the differential mode compares the drivers on calls that use
/// only these features. Extend it as binder-lite grows.
pub const SUPPORTED: &[Feature] = &[
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
    Feature::WriteRead,
    Feature::Looper,
    Feature::UnknownCommand,
    Feature::Transaction,
    Feature::OneWay,
    Feature::Reply,
    Feature::BinderObjects,
    Feature::FreeBuffer,
    Feature::RefCounts,
    Feature::RefDone,
    Feature::Death,
];

/// Sequences that once found a difference, with their mode (`--mode`): each runs in every
/// differential run, and must agree. The sequence of a seed depends on [`SUPPORTED`] (the
/// restricted mode draws only supported calls): these were found with the list above.
pub const REGRESSIONS: &[(u64, &str, &str)] = &[
    (
        0x31d1f36f2c562e7c,
        "restricted",
        "commands ran while a faulted read left the thread's error set",
    ),
    (
        0x1a21c659012a2df7,
        "restricted",
        "BC_RELEASE ran while the thread's error was unread",
    ),
    (
        0x2d51281a8544fce3,
        "restricted",
        "BC_ENTER_LOOPER ran after a failed BC_REPLY's unread error",
    ),
    (
        0x4e0f797c981b1921,
        "any",
        "a bad size to a process whose mapping is gone gave BR_FAILED_REPLY, not BR_DEAD_REPLY",
    ),
];

/// A known difference: what, why, and which calls it concerns.
pub type Known = (&'static str, &'static str, fn(&Op) -> bool);

/// Calls on which the two devices differ for a reason outside the drivers. The comparison
/// stops before such a call, as the devices' states differ after it.
pub const KNOWN: &[Known] = &[(
    "mmap with PROT_EXEC",
    "binderfs is mounted noexec (SB_I_NOEXEC) and devtmpfs is not: the mm refuses PROT_EXEC \
     on the C device with EPERM before its driver sees the call",
    |op| matches!(op, Op::Mmap { prot, .. } if prot & libc::PROT_EXEC != 0),
)];

/// Features added to [`SUPPORTED`] from the command line (`--also Transaction,Reply`), to
/// compare a driver in progress before the list grows.
pub static ALSO: std::sync::OnceLock<Vec<Feature>> = std::sync::OnceLock::new();

/// Whether binder-lite has `feature` (in [`SUPPORTED`] or added with `--also`).
pub fn supports(feature: Feature) -> bool {
    SUPPORTED.contains(&feature) || ALSO.get().is_some_and(|a| a.contains(&feature))
}

fn supported(op: &Op) -> bool {
    let also = ALSO.get().map_or(&[][..], Vec::as_slice);
    ops::features(op)
        .iter()
        .all(|f| SUPPORTED.contains(f) || also.contains(f))
        && !KNOWN.iter().any(|k| (k.2)(op))
}

/// How a sequence is made and run.
#[derive(Clone, Copy)]
pub struct Mode {
    /// Only calls whose features are all in [`SUPPORTED`] (else any call).
    pub restricted: bool,
    /// Also run on the C binder and compare.
    pub compare: bool,
    /// Calls after the preamble.
    pub length: usize,
}

/// The calls of the sequence of `seed`.
pub fn sequence(seed: u64, mode: Mode) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    let mut seq = ops::preamble();
    while seq.len() < mode.length + ops::preamble().len() {
        let mut op = ops::op(&mut rng, SLOTS);
        for _ in 0..50 {
            if !mode.restricted || supported(&op) {
                break;
            }
            op = ops::op(&mut rng, SLOTS);
        }
        if !mode.restricted || supported(&op) {
            seq.push(op);
        }
    }
    seq
}

/// A failure of one sequence.
#[derive(Debug)]
pub struct Failure {
    /// The index of the failing call.
    pub index: usize,
    pub what: String,
}

/// Counts of a run.
#[derive(Default, Debug)]
pub struct Stats {
    pub calls: u64,
    pub compared: u64,
    /// Time spent in binder-lite's calls, by kind of call: (kind, calls, time).
    pub time: Vec<(String, u64, Duration)>,
}

impl Stats {
    fn add_time(&mut self, op: &Op, took: Duration) {
        let kind = match op {
            Op::Ioctl { request, .. } => crate::uapi::ioctl_name(*request),
            Op::WriteRead(w) if w.read_size > 0 => "BINDER_WRITE_READ with read".to_string(),
            Op::WriteRead(_) => "BINDER_WRITE_READ".to_string(),
            other => format!("{other:?}")
                .split([' ', '('])
                .next()
                .unwrap_or("")
                .to_string(),
        };
        match self.time.iter_mut().find(|(k, ..)| *k == kind) {
            Some(entry) => {
                entry.1 += 1;
                entry.2 += took;
            }
            None => self.time.push((kind, 1, took)),
        }
    }

    /// The kinds of call that took the most time, as text.
    pub fn slowest(&mut self) -> String {
        self.time.sort_by_key(|e| std::cmp::Reverse(e.2));
        self.time
            .iter()
            .take(4)
            .map(|(k, n, t)| format!("{k}: {n} calls, {:.1} s", t.as_secs_f64()))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Runs the calls `indices` of the sequence `seq` of `seed` in the children `procs`.
pub fn run(
    procs: &mut Procs,
    seed: u64,
    mode: Mode,
    seq: &[Op],
    indices: &[usize],
    stats: &mut Stats,
    log: bool,
) -> Result<(), Failure> {
    let mut tainted = false;
    let mut manager_unstable = false;
    procs.begin(seed, mode);
    let result = (|| {
        for &index in indices {
            let op = &seq[index];
            let comparable = !tainted && supported(op);
            let (c_out, l_out) = procs.run(index, op.slot(), mode.compare && !tainted);
            stats.add_time(op, l_out.took);
            if log {
                println!("# {index}: {}", ops::describe(op));
                if let Some(o) = &c_out {
                    println!("#    c:    {}", o.text);
                }
                println!("#    lite: {}", l_out.text);
            }
            check_lite(&l_out).map_err(|what| Failure { index, what })?;
            if let Some(c_out) = &c_out {
                let unstable = manager_unstable && ops::features(op).contains(&Feature::ContextMgr);
                if comparable && !unstable && (!c_out.skipped || !l_out.skipped) {
                    stats.compared += 1;
                    if c_out.text != l_out.text {
                        return Err(Failure {
                            index,
                            what: format!("C binder: {}\nbinder-lite: {}", c_out.text, l_out.text),
                        });
                    }
                }
            }
            if !supported(op) {
                tainted = true;
            }
            if matches!(op, Op::Close(_) | Op::Munmap(_)) {
                // The C binder releases a process from a work queue: let it finish.
                manager_unstable = true;
                if mode.compare && !tainted {
                    std::thread::sleep(Duration::from_millis(15));
                }
            }
        }
        Ok(())
    })();
    stats.calls += procs.end();
    result
}

/// A finding on binder-lite alone: an errno no binder call should give, or a call that did
/// not return in time (the watchdog interrupts waits every few milliseconds).
fn check_lite(o: &Outcome) -> Result<(), String> {
    if let Some(e) = o.errno {
        if !errno_allowed(e) {
            return Err(format!("binder-lite returned errno {e}: {}", o.text));
        }
    }
    if o.took > Duration::from_secs(10) {
        return Err(format!("a call took {:?}: {}", o.took, o.text));
    }
    Ok(())
}

/// Removes calls from the sequence while it still fails; returns the indices of the
/// shortest failing sequence found and its failure.
pub fn minimize(
    procs: &mut Procs,
    seed: u64,
    mode: Mode,
    seq: &[Op],
    failure: Failure,
) -> (Vec<usize>, Failure) {
    let mut best: Vec<usize> = (0..=failure.index).collect();
    let mut best_failure = failure;
    let mut stats = Stats::default();
    let mut j = best.len().saturating_sub(1);
    while j > 0 {
        j -= 1;
        let mut candidate = best.clone();
        candidate.remove(j);
        if let Err(f) = run(procs, seed, mode, seq, &candidate, &mut stats, false) {
            candidate.retain(|i| *i <= f.index);
            best = candidate;
            best_failure = f;
            j = j.min(best.len().saturating_sub(1));
        }
    }
    (best, best_failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESTRICTED: Mode = Mode {
        restricted: true,
        compare: true,
        length: 200,
    };

    #[test]
    fn a_seed_gives_one_sequence() {
        assert_eq!(sequence(7, RESTRICTED), sequence(7, RESTRICTED));
        assert_ne!(sequence(7, RESTRICTED), sequence(8, RESTRICTED));
        assert_eq!(sequence(7, RESTRICTED).len(), 200 + ops::preamble().len());
    }

    #[test]
    fn restricted_sequences_use_supported_features_only() {
        for seed in 0..20 {
            for op in sequence(seed, RESTRICTED) {
                assert!(supported(&op), "{op:?} uses {:?}", ops::features(&op));
            }
        }
        let any = Mode {
            restricted: false,
            ..RESTRICTED
        };
        // Unrestricted sequences do reach beyond binder-lite's features.
        assert!((0..20).any(|s| sequence(s, any).iter().any(|op| !supported(op))));
    }

    #[test]
    fn known_differences_are_not_compared() {
        let map = |prot| Op::Mmap {
            slot: 0,
            len: crate::uapi::MAP_1M,
            prot,
            flags: libc::MAP_PRIVATE,
        };
        assert!(!supported(&map(libc::PROT_READ | libc::PROT_EXEC)));
        assert!(supported(&map(libc::PROT_READ)));
    }
}
