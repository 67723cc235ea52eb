//! binder-lite's calls with allocations failing (kernels with `CONFIG_FAULT_INJECTION`,
//! `CONFIG_FAILSLAB`, `CONFIG_FAIL_PAGE_ALLOC`, such as `make stress`'s): before each ioctl,
//! `/proc/thread-self/fail-nth` makes one allocation of that call fail, as syzkaller does.
//! Every call must still end in a result or an errno, with no leak and no report.

use crate::diff::{self, Mode};
use crate::exec::{self, errno_allowed, World};
use crate::rng::Rng;
use std::time::{Duration, Instant};

/// Where the failure points are configured.
const FAILSLAB: &str = "/sys/kernel/debug/failslab";
const FAIL_PAGE_ALLOC: &str = "/sys/kernel/debug/fail_page_alloc";

/// Whether the kernel can inject allocation failures.
pub fn available() -> bool {
    std::path::Path::new(FAILSLAB).is_dir() && std::path::Path::new(FAIL_PAGE_ALLOC).is_dir()
}

fn set(dir: &str, file: &str, value: &str) -> Result<(), String> {
    std::fs::write(format!("{dir}/{file}"), value).map_err(|e| format!("{dir}/{file}: {e}"))
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub calls: u64,
    pub injected: u64,
    /// Calls that ended in `ENOMEM` or returned `BR_FAILED_REPLY`.
    pub failed_cleanly: u64,
}

/// Runs sequences of any calls on binder-lite for `time`, each ioctl with one allocation
/// failing.
pub fn run(seed: u64, time: Duration) -> Result<Report, String> {
    for dir in [FAILSLAB, FAIL_PAGE_ALLOC] {
        // Only fail-nth injects: probability 0; sleeping allocations may fail too.
        set(dir, "probability", "0")?;
        set(dir, "times", "-1")?;
        set(dir, "verbose", "0")?;
        set(dir, "ignore-gfp-wait", "N")?;
    }
    let file = vmtest::fd::Fd::open("/proc/thread-self/fail-nth")?;
    let mut world = World::new(crate::LITE, exec::slots(), 0, false);
    let mut rng = Rng::new(seed);
    let mode = Mode {
        restricted: false,
        compare: false,
        length: 30,
    };
    let mut report = Report::default();
    let start = Instant::now();
    while start.elapsed() < time {
        let mut seq = diff::sequence(rng.fork(), mode);
        // The manager is a server in another process (`death::Server`).
        seq.retain(|op| !matches!(op, crate::ops::Op::BecomeManager(_)));
        for op in &seq {
            world.fail_nth = Some((file.raw(), 1 + rng.below(20) as u32));
            let out = world.run(op);
            world.fail_nth = None;
            if let Some(e) = out.errno.filter(|e| !errno_allowed(*e)) {
                world.close_all();
                return Err(format!(
                    "{} with a failing allocation gave errno {e}: {}",
                    crate::ops::describe(op),
                    out.text
                ));
            }
            if out.errno == Some(libc::ENOMEM) || out.text.contains("BR_FAILED_REPLY") {
                report.failed_cleanly += 1;
            }
        }
        world.close_all();
        report.calls += world.calls;
        world.calls = 0;
    }
    report.injected = world.injected;
    Ok(report)
}
