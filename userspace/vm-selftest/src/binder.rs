//! Checks of the binder devices the VM mounts at `/dev/binderfs`.

use std::ffi::CString;
use std::io;

const BINDERFS: &str = "/dev/binderfs";

/// `_IOWR('b', 9, struct binder_version)` from `include/uapi/linux/android/binder.h`.
const BINDER_VERSION: libc::c_ulong = ioc_readwrite(b'b', 9, 4);
/// `_IOWR('b', 1, struct binderfs_device)` from `include/uapi/linux/android/binderfs.h`.
const BINDER_CTL_ADD: libc::c_ulong = ioc_readwrite(b'b', 1, 264);
/// The protocol version of 64-bit binder.
const BINDER_CURRENT_PROTOCOL_VERSION: i32 = 8;

const fn ioc_readwrite(kind: u8, nr: u8, size: u32) -> libc::c_ulong {
    ((3 << 30) | (size << 16) | ((kind as u32) << 8) | nr as u32) as libc::c_ulong
}

/// `struct binderfs_device`.
#[repr(C)]
struct BinderfsDevice {
    name: [u8; 256],
    major: u32,
    minor: u32,
}

/// An open file descriptor, closed on drop.
struct Fd(libc::c_int);

impl Fd {
    fn open(path: &str) -> Result<Fd, String> {
        let c = CString::new(path).map_err(|e| e.to_string())?;
        // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!("open {path}: {}", io::Error::last_os_error()));
        }
        Ok(Fd(fd))
    }

    /// Issues `request` with `arg` pointing at a value of the size the request encodes.
    fn ioctl<T>(&self, request: libc::c_ulong, arg: &mut T) -> Result<(), String> {
        // SAFETY: `arg` is a valid, exclusive pointer to a `T`, and every request used in this
        // file encodes `size_of::<T>()` as its argument size.
        let r = unsafe { libc::ioctl(self.0, request, arg as *mut T) };
        if r < 0 {
            return Err(format!(
                "ioctl {request:#x}: {}",
                io::Error::last_os_error()
            ));
        }
        Ok(())
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor and nobody uses it after drop.
        unsafe { libc::close(self.0) };
    }
}

fn c_binder_reports_protocol_version() -> Result<(), String> {
    let fd = Fd::open(&format!("{BINDERFS}/binder"))?;
    let mut version: i32 = -1;
    fd.ioctl(BINDER_VERSION, &mut version)?;
    if version != BINDER_CURRENT_PROTOCOL_VERSION {
        return Err(format!(
            "protocol version {version}, expected {BINDER_CURRENT_PROTOCOL_VERSION}"
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
    control.ioctl(BINDER_CTL_ADD, &mut dev)?;
    if dev.major == 0 {
        return Err("BINDER_CTL_ADD returned major 0".into());
    }
    Fd::open(&format!("{BINDERFS}/wb-selftest")).map(drop)?;
    // The same name again must be refused.
    match control.ioctl(BINDER_CTL_ADD, &mut dev) {
        Err(e) if e.contains("File exists") => Ok(()),
        Err(e) => Err(format!("second add: unexpected error {e}")),
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
