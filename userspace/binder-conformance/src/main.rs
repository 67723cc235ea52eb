//! Conformance checks of binder-lite: the same checks run against `/dev/binder-lite` and against
//! a C binder device on binderfs, and must see the same return values and errnos.
//!
//! Each check asserts the C binder's answers (read from `drivers/android/binder.c`) and records
//! what it saw. For each check the KTAP output has one line per device (`c_<check>`,
//! `lite_<check>`) and one line that compares the two records (`same_<check>`). Checks of the
//! binder-lite module itself (unloading, reloading) follow, as `lite_<check>` lines.

mod checks;
mod client;
mod lifecycle;
mod proto;
mod transactions;
mod unsupported;

use proto::{BinderfsDevice, BINDER_CTL_ADD};
use std::time::{Duration, Instant};
use vmtest::fd::{errno, Fd};
use vmtest::ktap::Ktap;

/// The binder-lite device.
const LITE: &str = "/dev/binder-lite";
/// The binderfs instance the VM's `/init` mounts.
const BINDERFS: &str = "/dev/binderfs";
/// The C binder device this program adds on binderfs.
const C_DEVICE: &str = "binder-conformance";
/// A second one, for `--against-c`.
const C_DEVICE_2: &str = "binder-conformance-2";

/// Features of the binder protocol that checks need, as [`LITE_LACKS`] names them.
pub mod feature {
    /// `BC_TRANSACTION`, `BC_REPLY`, one-way transactions, `BC_FREE_BUFFER`, buffers.
    pub const TRANSACTIONS: &str = "transactions";
    /// Binder and handle objects translated in transactions, `BC_INCREFS`/`BC_ACQUIRE`/
    /// `BC_RELEASE`/`BC_DECREFS`, `BR_INCREFS`/`BR_ACQUIRE`/`BR_RELEASE`/`BR_DECREFS`, node
    /// counts.
    pub const NODES_AND_REFS: &str = "nodes and refs";
    /// Death notifications and dead replies when a process goes away.
    pub const DEATH: &str = "death notifications";
}

/// The binder-lite features that are not on main yet. A check that needs one still runs
/// against the C binder (`c_<check>`); its `lite_<check>` and `same_<check>` lines report SKIP.
/// A feature leaves this list when it lands, and its checks must then pass on binder-lite.
pub const LITE_LACKS: &[&str] = &[];

/// The longest a check may take on one device; a check that hangs in the driver fails.
const CHECK_LIMIT: Duration = Duration::from_secs(20);
/// The longest all checks together may take, well inside the boot test's limit; the checks
/// after it fail without running.
const BUDGET: Duration = Duration::from_secs(330);

/// What a check saw, one line per observation, compared between the devices.
#[derive(Default)]
pub struct Record(Vec<String>);

impl Record {
    /// Records that `what` gave `seen`, and fails unless it is `expected`.
    pub fn expect<T: PartialEq + std::fmt::Debug>(
        &mut self,
        what: &str,
        seen: T,
        expected: T,
    ) -> Result<(), String> {
        self.0.push(format!("{what}: {seen:?}"));
        if seen != expected {
            return Err(format!("{what}: got {seen:?}, expected {expected:?}"));
        }
        Ok(())
    }

    /// Records that `what` gave `seen`, which only the comparison of the devices checks.
    pub fn note<T: std::fmt::Debug>(&mut self, what: &str, seen: T) {
        self.0.push(format!("{what}: {seen:?}"));
    }
}

/// A check: runs against the device at the path, records and asserts.
pub type Check = fn(&str, &mut Record) -> Result<(), String>;

/// A check with the binder-lite features it needs (see [`LITE_LACKS`]).
pub type Entry = (&'static str, &'static [&'static str], Check);

/// Adds a C binder device on binderfs (or finds it from an earlier run); returns its path.
fn c_device(name: &str) -> Result<String, String> {
    let path = format!("{BINDERFS}/{name}");
    if std::path::Path::new(&path).exists() {
        return Ok(path);
    }
    let control = Fd::open(&format!("{BINDERFS}/binder-control"))?;
    let mut dev = BinderfsDevice {
        name: [0; 256],
        major: 0,
        minor: 0,
    };
    dev.name[..name.len()].copy_from_slice(name.as_bytes());
    control
        .ioctl(BINDER_CTL_ADD, &mut dev)
        .map_err(|e| format!("BINDER_CTL_ADD {name}: errno {e}"))?;
    Ok(path)
}

/// Runs `f` in a child process, so that a check that hangs in a driver, or crashes, fails
/// alone: after `limit` the child is killed. Returns the outcome and what was recorded.
fn isolated(
    limit: Duration,
    f: impl FnOnce(&mut Record) -> Result<(), String>,
) -> (Result<(), String>, Record) {
    let (read, write) = match client::Pipe::new() {
        Ok(p) => p,
        Err(e) => return (Err(e), Record::default()),
    };
    // SAFETY: this program has one thread when it runs a check, so the child's copy of it is
    // consistent; the child runs the check and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return (Err(format!("fork: errno {}", errno())), Record::default());
    }
    if pid == 0 {
        drop(read);
        let mut record = Record::default();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut record)))
            .unwrap_or_else(|_| Err("the check panicked".into()));
        let mut out = String::new();
        for line in &record.0 {
            out.push_str(&format!("R {}\n", line.replace('\n', " ")));
        }
        match result {
            Ok(()) => out.push_str("OK\n"),
            Err(e) => out.push_str(&format!("ERR {}\n", e.replace('\n', " "))),
        }
        let _ = write.write_all(out.as_bytes());
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    drop(write);
    let output = read.read_to_end(limit);
    let mut status = 0;
    let reaped = if output.is_err() {
        // SAFETY: `pid` is our child; it has not been reaped.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        // A child stuck in the driver may not die: do not wait for it long.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            // SAFETY: `pid` is our child and `status` is valid for writes.
            let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
            if r != 0 || Instant::now() > deadline {
                break r == pid;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    } else {
        // SAFETY: as above; the child has closed its pipe, so it is ending.
        unsafe { libc::waitpid(pid, &mut status, 0) == pid }
    };
    let output = match output {
        Ok(o) => o,
        Err(e) => {
            let why = format!(
                "{e} (killed: {})",
                if reaped { "yes" } else { "still stuck" }
            );
            return (Err(why), Record::default());
        }
    };
    let mut record = Record::default();
    let mut result = Err(format!(
        "the check's process ended without a result (status {status:#x})"
    ));
    for line in String::from_utf8_lossy(&output).lines() {
        if let Some(r) = line.strip_prefix("R ") {
            record.0.push(r.to_string());
        } else if line == "OK" {
            result = Ok(());
        } else if let Some(e) = line.strip_prefix("ERR ") {
            result = Err(e.to_string());
        }
    }
    (result, record)
}

/// The features among `needs` that are in `lacks`, for a SKIP reason.
fn lacking(needs: &[&str], lacks: &[&str]) -> Option<String> {
    let missing: Vec<&str> = needs
        .iter()
        .copied()
        .filter(|n| lacks.contains(n))
        .collect();
    (!missing.is_empty()).then(|| format!("binder-lite lacks {}", missing.join(", ")))
}

fn main() {
    checks::install_signal_handler();
    let c_path = c_device(C_DEVICE);
    // `--against-c`: compare the C binder with a second C binder device instead of
    // binder-lite, with every feature: checks that the checks record only what must be equal.
    let against_c = std::env::args().any(|a| a == "--against-c");
    // `--all-features`: run every check on binder-lite, whatever LITE_LACKS says (to try a
    // branch that adds a feature).
    let all_features = std::env::args().any(|a| a == "--all-features");
    let (other, lacks) = if against_c {
        (c_device(C_DEVICE_2).unwrap_or_else(|e| e), &[][..])
    } else if all_features {
        (LITE.to_string(), &[][..])
    } else {
        (LITE.to_string(), LITE_LACKS)
    };
    // `--records`: print what the checks recorded on the C binder, as diagnostics.
    let print_records = std::env::args().any(|a| a == "--records");
    let entries: Vec<Entry> = checks::CHECKS
        .iter()
        .map(|&(name, check)| (name, &[][..], check))
        .chain(transactions::CHECKS.iter().copied())
        .chain(unsupported::CHECKS.iter().copied())
        .collect();
    let mut ktap = Ktap::new(3 * entries.len() + lifecycle::CHECKS.len());
    let start = Instant::now();
    let limit = || {
        let left = BUDGET.saturating_sub(start.elapsed());
        (!left.is_zero()).then_some(left.min(CHECK_LIMIT))
    };
    let out_of_time =
        || Err::<(), String>(format!("not run: the checks took more than {BUDGET:?}"));
    for (name, needs, check) in entries {
        let (c_result, c_record) = match (&c_path, limit()) {
            (Ok(path), Some(limit)) => isolated(limit, |rec| check(path, rec)),
            (Err(e), _) => (Err(e.clone()), Record::default()),
            (_, None) => (out_of_time(), Record::default()),
        };
        if print_records {
            for line in &c_record.0 {
                println!("# c_{name}: {line}");
            }
        }
        ktap.result(&format!("c_{name}"), c_result);
        if let Some(why) = lacking(needs, lacks) {
            ktap.skip(&format!("lite_{name}"), &why);
            ktap.skip(&format!("same_{name}"), &why);
            continue;
        }
        let (lite_result, lite_record) = match limit() {
            Some(limit) => isolated(limit, |rec| check(&other, rec)),
            None => (out_of_time(), Record::default()),
        };
        ktap.result(&format!("lite_{name}"), lite_result);
        let same = if c_record.0.is_empty() {
            Err("nothing was recorded".into())
        } else if c_record.0 == lite_record.0 {
            Ok(())
        } else {
            Err(differences(&c_record.0, &lite_record.0))
        };
        ktap.result(&format!("same_{name}"), same);
    }
    for (name, check) in lifecycle::CHECKS {
        let result = match limit() {
            Some(_) => isolated(Duration::from_secs(60), |_| check()).0,
            None => out_of_time(),
        };
        ktap.result(&format!("lite_{name}"), result);
    }
    std::process::exit(ktap.exit_code());
}

/// Where two records differ, readably.
fn differences(c: &[String], lite: &[String]) -> String {
    let mut out = Vec::new();
    for i in 0..c.len().max(lite.len()) {
        let (a, b) = (c.get(i), lite.get(i));
        if a != b {
            out.push(format!(
                "[{i}] C binder saw {}, binder-lite saw {}",
                a.map_or("nothing", String::as_str),
                b.map_or("nothing", String::as_str)
            ));
        }
    }
    let more = out.len().saturating_sub(3);
    out.truncate(3);
    if more > 0 {
        out.push(format!("and {more} more"));
    }
    out.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lacking_features_name_the_skip_reason() {
        assert_eq!(lacking(&[], LITE_LACKS), None);
        assert_eq!(
            lacking(&["a", "b", "c"], &["c", "a"]),
            Some("binder-lite lacks a, c".into())
        );
        assert_eq!(lacking(&["a"], &[]), None);
    }

    #[test]
    fn differences_show_where_records_differ() {
        let c = ["x: 1".to_string(), "y: 2".into()];
        let lite = ["x: 1".to_string(), "y: 3".into(), "z: 4".into()];
        assert_eq!(
            differences(&c, &lite),
            "[1] C binder saw y: 2, binder-lite saw y: 3; [2] C binder saw nothing, binder-lite saw z: 4"
        );
    }

    #[test]
    fn a_hanging_check_fails_after_its_limit() {
        let (result, _) = isolated(Duration::from_millis(300), |_| {
            std::thread::sleep(Duration::from_secs(30));
            Ok(())
        });
        assert!(result.is_err_and(|e| e.starts_with("timed out")));
        let (result, record) = isolated(Duration::from_secs(10), |rec| {
            rec.note("seen", 5);
            Err("line one\nline two".into())
        });
        assert_eq!(result, Err("line one line two".into()));
        assert_eq!(record.0, ["seen: 5"]);
    }
}
