//! Checks of the binder-lite module itself, which have no C binder counterpart: it cannot be
//! unloaded while a file is open or a process waits in a read, a process killed while it
//! waits goes away, the module loads and unloads repeatedly, and its debugfs `state` file
//! counts what each process holds.

use crate::client::{Binder, Commands};
use crate::proto::{self, BC_DECREFS, BINDER_VERSION, MAP_1M};
use std::ffi::CString;
use vmtest::fd::{errno, Fd};
use vmtest::lite_state::{self, Handles, STATE};

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

/// The entries of the processes (open files) of this process in the `state` file.
fn own_state() -> Result<Vec<Vec<String>>, String> {
    lite_state::entries_of(std::process::id())
}

/// Checks that the line of `lines` that starts like `want` (up to its first `:`) is `want`.
fn expect_line(lines: &[String], want: &str, who: &str) -> Result<(), String> {
    let key = want.split(':').next().unwrap_or(want);
    match lines.iter().find(|l| l.split(':').next() == Some(key)) {
        Some(line) if line == want => Ok(()),
        Some(line) => Err(format!("{who}: {line:?}, expected {want:?}")),
        None => Err(format!("{who}: no {key} line in {lines:?}")),
    }
}

/// Checks the `handles` line of `lines`: the ids in use are `ids`, and as many as it says,
/// within a capacity that holds them.
fn expect_handles(lines: &[String], ids: &[u32], who: &str) -> Result<(), String> {
    let h = Handles::of(lines).map_err(|e| format!("{who}: {e}"))?;
    if h.listed != ids || h.used != ids.len() || h.capacity < h.used {
        return Err(format!("{who}: {h:?}, expected the handles {ids:?}"));
    }
    Ok(())
}

/// The `state` file may stay open across an unload: the module's data goes with the module,
/// and the open file answers `EIO` (debugfs's answer for a removed file) until it is closed.
/// A read of freed data would be a KASAN report, which fails the boot test.
fn debugfs_state_open_across_unload() -> Result<(), String> {
    use std::io::Read;
    let mut file = std::fs::File::open(STATE).map_err(|e| format!("{STATE}: {e}"))?;
    let mut head = [0u8; 8];
    file.read_exact(&mut head)
        .map_err(|e| format!("reading {STATE}: {e}"))?;
    if &head != b"binder-l" {
        return Err(format!("{STATE} begins with {head:?}"));
    }
    let unloaded = unload();
    let after = file.read(&mut head).map_err(|e| e.raw_os_error());
    let gone = !std::path::Path::new(STATE).exists();
    drop(file);
    if unloaded.is_ok() {
        load()?;
    }
    unloaded.map_err(|e| format!("rmmod with {STATE} open: errno {e}"))?;
    if after != Err(Some(libc::EIO)) {
        return Err(format!(
            "a read of the open {STATE} after rmmod: {after:?}, expected EIO"
        ));
    }
    if !gone {
        return Err(format!("{STATE} is still there after rmmod"));
    }
    if !std::path::Path::new(STATE).exists() {
        return Err(format!("{STATE} is not there again after insmod"));
    }
    Ok(())
}

fn debugfs_state_counts() -> Result<(), String> {
    let manager = Binder::open(crate::LITE)?;
    manager.become_manager()?;
    let client = Binder::open(crate::LITE)?;
    client.write(&Commands::new().increfs(0).acquire(0))?;
    let procs = own_state()?;
    let [m, c] = &procs[..] else {
        return Err(format!(
            "{} entries for this process, expected 2",
            procs.len()
        ));
    };
    let area = format!("buffers: area {MAP_1M} bytes, 0 bytes in 0 buffers, {MAP_1M} bytes free");
    expect_line(m, "nodes: 1", "manager")?;
    expect_line(m, "refs: 0 (0 strong, 0 weak)", "manager")?;
    expect_handles(m, &[], "manager")?;
    expect_line(m, &area, "manager")?;
    expect_line(m, "pages: 0", "manager")?;
    expect_line(c, "nodes: 0", "client")?;
    expect_line(c, "refs: 1 (1 strong, 1 weak)", "client")?;
    expect_handles(c, &[0], "client")?;
    expect_line(c, &area, "client")?;

    // Dropping both counts frees the reference and its handle.
    client.write(&Commands::new().release(0).word(BC_DECREFS).word(0))?;
    let procs = own_state()?;
    let c = procs.get(1).ok_or("the client's entry went away")?;
    expect_line(c, "refs: 0 (0 strong, 0 weak)", "client after release")?;
    expect_handles(c, &[], "client after release")?;

    // A closed file's process leaves the file.
    drop(client);
    let procs = own_state()?;
    if procs.len() != 1 {
        return Err(format!(
            "{} entries after closing the client, expected 1",
            procs.len()
        ));
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
    // After the reloads: each load recreates the file, which unloading must have removed.
    (
        "debugfs_state_open_across_unload",
        debugfs_state_open_across_unload,
    ),
    ("debugfs_state_counts", debugfs_state_counts),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_text_is_split_by_process() {
        let text = "binder-lite state\nproc 7 (id 1)\n  nodes: 1\nproc 8 (id 2)\n  nodes: 0\n";
        let procs = lite_state::parse_state(text);
        assert_eq!(procs.len(), 2);
        assert_eq!(procs[0], ("7".to_string(), vec!["nodes: 1".to_string()]));
        assert_eq!(procs[1].0, "8");
        assert!(expect_line(&procs[1].1, "nodes: 0", "p").is_ok());
        assert!(expect_line(&procs[1].1, "nodes: 1", "p").is_err());
        assert!(expect_line(&procs[1].1, "refs: 0", "p").is_err());
    }

    #[test]
    fn handles_lines_are_checked() {
        let lines = ["handles: capacity 64, 2 in use: 0 3".to_string()];
        assert!(expect_handles(&lines, &[0, 3], "p").is_ok());
        assert!(expect_handles(&lines, &[0], "p").is_err());
        let wrong_count = ["handles: capacity 64, 1 in use: 0 3".to_string()];
        assert!(expect_handles(&wrong_count, &[0, 3], "p").is_err());
        let none = ["handles: capacity 64, 0 in use:".to_string()];
        assert!(expect_handles(&none, &[], "p").is_ok());
    }
}
