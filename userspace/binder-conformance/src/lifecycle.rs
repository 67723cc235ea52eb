//! Checks of the binder-lite module itself, which have no C binder counterpart: it cannot be
//! unloaded while a file is open or a process waits in a read, a process killed while it
//! waits goes away, and the module loads and unloads repeatedly.

use crate::proto::{self, BINDER_VERSION, MAP_1M};
use std::ffi::CString;
use vmtest::fd::{errno, Fd};

/// The module that implements `/dev/binder-lite`.
const MODULE: &str = "rust_binder_lite";
/// Where the VM's initramfs keeps it.
const MODULE_FILE: &str = "/modules/rust_binder_lite.ko";
/// Load and unload cycles; `BINDER_LITE_CYCLES` in the environment sets another number
/// (`make stress` runs 100).
fn cycles() -> usize {
    std::env::var("BINDER_LITE_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

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

/// The state letter of `/proc/PID/stat` ('S' for a task sleeping interruptibly).
fn task_state(pid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Waits up to five seconds for the child `pid` to end; returns its wait status.
fn reap(pid: libc::pid_t) -> Option<i32> {
    for _ in 0..500 {
        let mut status = 0;
        // SAFETY: `pid` is our child and `status` is valid for writes.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            return Some(status);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

/// The body of the child of [`rmmod_is_refused_while_a_read_waits`]: opens the device and
/// waits in a read, forever. Only system calls, no allocation: the parent may have threads.
fn wait_in_a_read() -> ! {
    // SAFETY: the path is a NUL-terminated string; the descriptor is only used here.
    let fd = unsafe { libc::open(c"/dev/binder-lite".as_ptr(), libc::O_RDWR) };
    let mut version = 0i32;
    let mut read = [0u32; 8];
    let mut bwr = proto::WriteRead {
        read_size: std::mem::size_of_val(&read) as u64,
        read_buffer: read.as_mut_ptr() as u64,
        ..Default::default()
    };
    loop {
        // SAFETY: `version`, `bwr` and the read buffer it names are valid for the kernel to
        // write. The first call makes the thread known, so the reads after it wait for work.
        unsafe {
            libc::ioctl(fd, BINDER_VERSION, &mut version);
            bwr.read_consumed = 0;
            libc::ioctl(fd, proto::BINDER_WRITE_READ, &mut bwr);
        }
    }
}

fn rmmod_is_refused_while_a_read_waits() -> Result<(), String> {
    // SAFETY: the child only makes system calls (`wait_in_a_read`) and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: errno {}", errno()));
    }
    if pid == 0 {
        wait_in_a_read();
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let state = task_state(pid);
    let refused = unload();
    // SAFETY: `pid` is our child, not reaped yet.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let status = reap(pid).ok_or("the reader is still there 5 s after SIGKILL")?;
    if state != Some('S') {
        return Err(format!("the reader was not waiting: state {state:?}"));
    }
    if refused != Err(libc::EWOULDBLOCK) {
        return Err(format!(
            "rmmod while a read waits: {refused:?}, expected EWOULDBLOCK"
        ));
    }
    if !libc::WIFSIGNALED(status) || libc::WTERMSIG(status) != libc::SIGKILL {
        return Err(format!(
            "the reader ended with status {status:#x}, not by SIGKILL"
        ));
    }
    // The killed reader's file is closed: the module unloads and loads again.
    unload().map_err(|e| format!("rmmod after the reader died: errno {e}"))?;
    load()
}

fn module_reloads_repeatedly() -> Result<(), String> {
    for cycle in 0..cycles() {
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
    (
        "rmmod_is_refused_while_a_read_waits",
        rmmod_is_refused_while_a_read_waits,
    ),
    ("module_reloads_repeatedly", module_reloads_repeatedly),
];
