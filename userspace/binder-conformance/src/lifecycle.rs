//! Checks of the binder-lite module itself, which have no C binder counterpart: it cannot be
//! unloaded while a file is open, and it loads and unloads repeatedly.

use crate::proto::{self, BINDER_VERSION, MAP_1M};
use std::ffi::CString;
use vmtest::fd::{errno, Fd};

/// The module that implements `/dev/binder-lite`.
const MODULE: &str = "rust_binder_lite";
/// Where the VM's initramfs keeps it.
const MODULE_FILE: &str = "/modules/rust_binder_lite.ko";
/// Load and unload cycles.
const CYCLES: usize = 20;

/// Unloads the module without waiting; returns the errno on failure.
fn unload() -> Result<(), i32> {
    let name = CString::new(MODULE).map_err(|_| libc::EINVAL)?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let r = unsafe { libc::syscall(libc::SYS_delete_module, name.as_ptr(), libc::O_NONBLOCK) };
    if r < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Loads the module from its file.
fn load() -> Result<(), String> {
    let file = Fd::open_read_only(MODULE_FILE)?;
    let params = CString::default();
    // SAFETY: `file` is an open descriptor and `params` a valid empty string for the call.
    let r = unsafe { libc::syscall(libc::SYS_finit_module, file.raw(), params.as_ptr(), 0) };
    if r < 0 {
        return Err(format!("finit_module {MODULE_FILE}: errno {}", errno()));
    }
    Ok(())
}

/// Opens the device, checks the version and maps it; everything is closed on return.
fn use_device() -> Result<(), String> {
    let fd = proto::open(crate::LITE)?;
    let mut version = 0i32;
    fd.ioctl(BINDER_VERSION, &mut version)
        .map_err(|e| format!("BINDER_VERSION: errno {e}"))?;
    let addr = proto::mmap(&fd, MAP_1M, libc::PROT_READ, libc::MAP_PRIVATE)
        .map_err(|e| format!("mmap: errno {e}"))?;
    proto::munmap(addr, MAP_1M).map_err(|e| format!("munmap: errno {e}"))
}

fn rmmod_is_refused_while_a_file_is_open() -> Result<(), String> {
    let fd = proto::open(crate::LITE)?;
    let addr = proto::mmap(&fd, MAP_1M, libc::PROT_READ, libc::MAP_PRIVATE)
        .map_err(|e| format!("mmap: errno {e}"))?;
    match unload() {
        Err(libc::EWOULDBLOCK) => {}
        other => {
            return Err(format!(
                "rmmod with a file open: {other:?}, expected EWOULDBLOCK"
            ))
        }
    }
    // The mapping holds the file after it is closed.
    drop(fd);
    match unload() {
        Err(libc::EWOULDBLOCK) => {}
        other => {
            return Err(format!(
                "rmmod with a mapping: {other:?}, expected EWOULDBLOCK"
            ))
        }
    }
    proto::munmap(addr, MAP_1M).map_err(|e| format!("munmap: errno {e}"))
}

fn module_reloads_repeatedly() -> Result<(), String> {
    for cycle in 0..CYCLES {
        unload().map_err(|e| format!("cycle {cycle}: rmmod: errno {e}"))?;
        load().map_err(|e| format!("cycle {cycle}: {e}"))?;
        use_device().map_err(|e| format!("cycle {cycle}: {e}"))?;
    }
    Ok(())
}

/// A check of binder-lite alone.
pub type Check = fn() -> Result<(), String>;

/// The checks, in order; each leaves the module loaded.
pub const CHECKS: &[(&str, Check)] = &[
    (
        "rmmod_is_refused_while_a_file_is_open",
        rmmod_is_refused_while_a_file_is_open,
    ),
    ("module_reloads_repeatedly", module_reloads_repeatedly),
];
