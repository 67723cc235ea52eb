//! Checks of the binder devices the VM mounts at `/dev/binderfs`.

use crate::fd::Fd;
use vmtest::binder::{BINDER_CTL_ADD, BINDER_VERSION, PROTOCOL_VERSION};

const BINDERFS: &str = "/dev/binderfs";

/// `struct binderfs_device`.
#[repr(C)]
struct BinderfsDevice {
    name: [u8; 256],
    major: u32,
    minor: u32,
}

fn c_binder_reports_protocol_version() -> Result<(), String> {
    let fd = Fd::open(&format!("{BINDERFS}/binder"))?;
    let mut version: i32 = -1;
    fd.ioctl(BINDER_VERSION, &mut version)
        .map_err(|e| format!("BINDER_VERSION: errno {e}"))?;
    if version != PROTOCOL_VERSION {
        return Err(format!(
            "protocol version {version}, expected {PROTOCOL_VERSION}"
        ));
    }
    Ok(())
}

fn binder_control_adds_a_device() -> Result<(), String> {
    let control = Fd::open(&format!("{BINDERFS}/binder-control"))?;
    let mut dev = BinderfsDevice {
        name: [0; 256],
        major: 0,
        minor: 0,
    };
    let name = b"wb-selftest";
    dev.name[..name.len()].copy_from_slice(name);
    control
        .ioctl(BINDER_CTL_ADD, &mut dev)
        .map_err(|e| format!("BINDER_CTL_ADD: errno {e}"))?;
    if dev.major == 0 {
        return Err("BINDER_CTL_ADD returned major 0".into());
    }
    Fd::open(&format!("{BINDERFS}/wb-selftest")).map(drop)?;
    // The same name again must be refused.
    match control.ioctl(BINDER_CTL_ADD, &mut dev) {
        Err(libc::EEXIST) => Ok(()),
        Err(e) => Err(format!("second add: errno {e}, expected EEXIST")),
        Ok(()) => Err("second add with the same name succeeded".into()),
    }
}

/// A test: `Err` carries the reason it failed.
pub type Test = fn() -> Result<(), String>;

/// The tests of this module, in order.
pub const TESTS: &[(&str, Test)] = &[
    (
        "c_binder_reports_protocol_version",
        c_binder_reports_protocol_version,
    ),
    ("binder_control_adds_a_device", binder_control_adds_a_device),
];
