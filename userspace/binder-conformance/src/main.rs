//! Conformance checks of binder-lite: the same checks run against `/dev/binder-lite` and against
//! a C binder device on binderfs, and must see the same return values and errnos.
//!
//! Each check asserts the C binder's answers (read from `drivers/android/binder.c`) and records
//! what it saw. For each check the KTAP output has one line per device (`c_<check>`,
//! `lite_<check>`) and one line that compares the two records (`same_<check>`). Checks of the
//! binder-lite module itself (unloading, reloading) follow, as `lite_<check>` lines.

mod checks;
mod lifecycle;
mod proto;

use proto::{BinderfsDevice, BINDER_CTL_ADD};
use vmtest::fd::Fd;
use vmtest::ktap::Ktap;

/// The binder-lite device.
const LITE: &str = "/dev/binder-lite";
/// The binderfs instance the VM's `/init` mounts.
const BINDERFS: &str = "/dev/binderfs";
/// The C binder device this program adds on binderfs.
const C_DEVICE: &str = "binder-conformance";

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
}

/// A check: runs against the device at the path, records and asserts.
pub type Check = fn(&str, &mut Record) -> Result<(), String>;

/// Adds the C binder device on binderfs (or finds it from an earlier run); returns its path.
fn c_device() -> Result<String, String> {
    let path = format!("{BINDERFS}/{C_DEVICE}");
    if std::path::Path::new(&path).exists() {
        return Ok(path);
    }
    let control = Fd::open(&format!("{BINDERFS}/binder-control"))?;
    let mut dev = BinderfsDevice {
        name: [0; 256],
        major: 0,
        minor: 0,
    };
    dev.name[..C_DEVICE.len()].copy_from_slice(C_DEVICE.as_bytes());
    control
        .ioctl(BINDER_CTL_ADD, &mut dev)
        .map_err(|e| format!("BINDER_CTL_ADD {C_DEVICE}: errno {e}"))?;
    Ok(path)
}

fn main() {
    checks::install_signal_handler();
    let c_path = c_device();
    let mut ktap = Ktap::new(3 * checks::CHECKS.len() + lifecycle::CHECKS.len());
    for (name, check) in checks::CHECKS {
        let mut c_record = Record::default();
        let c_result = match &c_path {
            Ok(path) => check(path, &mut c_record),
            Err(e) => Err(e.clone()),
        };
        let mut lite_record = Record::default();
        let lite_result = check(LITE, &mut lite_record);
        ktap.result(&format!("c_{name}"), c_result);
        ktap.result(&format!("lite_{name}"), lite_result);
        let same = if c_record.0.is_empty() {
            Err("nothing was recorded".into())
        } else if c_record.0 == lite_record.0 {
            Ok(())
        } else {
            Err(format!(
                "C binder saw {:?}, binder-lite saw {:?}",
                c_record.0, lite_record.0
            ))
        };
        ktap.result(&format!("same_{name}"), same);
    }
    for (name, check) in lifecycle::CHECKS {
        ktap.result(&format!("lite_{name}"), check());
    }
    std::process::exit(ktap.exit_code());
}
