//! The checks. Each opens its own files of the device, so each is a new binder process; each
//! spawned thread is a new binder thread.

use crate::client::become_manager;
use crate::proto::{self, *};
use crate::{Check, Record};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};
use vmtest::fd::Fd;

/// A larger mapping than the C binder uses.
const MAP_8M: usize = 8 << 20;

/// How long a read must stay in the driver to count as waiting.
const WAITING: Duration = Duration::from_millis(500);

/// Filler of read buffers, to see which words the driver wrote.
const FILL: u32 = 0xaaaa_aaaa;

extern "C" fn on_signal(_: libc::c_int) {}

/// Installs a handler for `SIGUSR1`, which the checks send to interrupt a waiting read.
pub fn install_signal_handler() {
    // SAFETY: an all-zero `sigaction` is a valid value; the handler does nothing, which is
    // async-signal-safe; no `SA_RESTART`, so a waiting call returns.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut());
    }
}

/// What a `BINDER_WRITE_READ` call in a thread of its own gave.
struct Timed {
    /// The results of the ioctls made before the call.
    prelude: Vec<String>,
    /// The call was still in the driver after [`WAITING`].
    waited: bool,
    returned: Returned,
    read: Vec<u32>,
}

/// A `BINDER_WRITE_READ` call made in a new thread (a new binder thread) by [`call_in_thread`].
struct ThreadCall<'a> {
    /// ioctls issued first, each with a pointer to a zero `i32`.
    prelude: &'a [libc::c_ulong],
    write: &'a [u32],
    read_words: usize,
    read_consumed: u64,
}

/// Issues `call` in a new thread. A call still in the driver after [`WAITING`] is interrupted
/// with `SIGUSR1` until it returns.
fn call_in_thread(fd: &Fd, call: ThreadCall<'_>) -> Timed {
    let done = AtomicBool::new(false);
    let tid = AtomicU64::new(0);
    let started = AtomicBool::new(false);
    thread::scope(|s| {
        let worker = s.spawn(|| {
            // SAFETY: `pthread_self` has no preconditions.
            tid.store(unsafe { libc::pthread_self() } as u64, Ordering::SeqCst);
            let prelude = call
                .prelude
                .iter()
                .map(|&request| outcome(fd.ioctl(request, &mut 0i32)))
                .collect();
            let mut read = vec![FILL; call.read_words];
            started.store(true, Ordering::SeqCst);
            let returned = Call {
                write: call.write,
                read: &mut read,
                read_consumed: call.read_consumed,
            }
            .issue(fd);
            done.store(true, Ordering::SeqCst);
            (prelude, returned, read)
        });
        while !started.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
        }
        thread::sleep(WAITING);
        let waited = !done.load(Ordering::SeqCst);
        interrupt_until_finished(&worker, &tid);
        let (prelude, returned, read) = worker.join().expect("the calling thread panicked");
        Timed {
            prelude,
            waited,
            returned,
            read,
        }
    })
}

/// Sends `SIGUSR1` to the thread `tid` of `worker` until it has finished.
fn interrupt_until_finished<T>(worker: &thread::ScopedJoinHandle<'_, T>, tid: &AtomicU64) {
    while !worker.is_finished() {
        let tid = tid.load(Ordering::SeqCst) as libc::pthread_t;
        // SAFETY: the thread is alive until it is joined, after this; the signal has a handler.
        unsafe { libc::pthread_kill(tid, libc::SIGUSR1) };
        thread::sleep(Duration::from_millis(50));
    }
}

/// A new thread's first call: `write`, then a read of `read_words` words.
fn first_call<'a>(write: &'a [u32], read_words: usize) -> ThreadCall<'a> {
    ThreadCall {
        prelude: &[],
        write,
        read_words,
        read_consumed: 0,
    }
}

/// Runs `f` in a child process and returns its exit status. `f` must only make system calls:
/// the child of a process with threads may not allocate.
fn in_child(f: impl FnOnce() -> i32) -> Result<i32, String> {
    // SAFETY: the child only runs `f`, which makes system calls, and `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: errno {}", vmtest::fd::errno()));
    }
    if pid == 0 {
        let code = f();
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: `pid` is our child and `status` is valid for writes.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        return Err(format!("waitpid: errno {}", vmtest::fd::errno()));
    }
    if !libc::WIFEXITED(status) {
        return Err(format!("child ended with status {status:#x}"));
    }
    Ok(libc::WEXITSTATUS(status))
}

/// An errno as a child's exit status (0 for success).
fn exit_code<T>(r: Result<T, i32>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e,
    }
}

fn version(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let mut version = -1i32;
    let r = fd.ioctl(BINDER_VERSION, &mut version);
    rec.expect("BINDER_VERSION", outcome(r), "ok".into())?;
    rec.expect("protocol version", version, PROTOCOL_VERSION)?;
    let r = fd.ioctl_null(BINDER_VERSION);
    rec.expect("BINDER_VERSION(NULL)", outcome(r), "EINVAL".into())
}

fn unknown_ioctls(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let r = fd.ioctl_null(vmtest::fd::ioc(vmtest::fd::IOC_NONE, b'b', 99, 0));
    rec.expect("_IO('b', 99)", outcome(r), "EINVAL".into())?;
    let mut timeout = 0i64;
    let r = fd.ioctl(BINDER_SET_IDLE_TIMEOUT, &mut timeout);
    rec.expect("BINDER_SET_IDLE_TIMEOUT", outcome(r), "EINVAL".into())?;
    let mut wide = 0i64;
    let r = fd.ioctl(
        vmtest::fd::ioc(vmtest::fd::IOC_READWRITE, b'b', 9, 8),
        &mut wide,
    );
    rec.expect("BINDER_VERSION of 8 bytes", outcome(r), "EINVAL".into())?;
    rec.expect("no byte written", wide, 0)
}

fn set_max_threads(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let mut max = 4u32;
    let r = fd.ioctl(BINDER_SET_MAX_THREADS, &mut max);
    rec.expect("BINDER_SET_MAX_THREADS(4)", outcome(r), "ok".into())?;
    let r = fd.ioctl_null(BINDER_SET_MAX_THREADS);
    rec.expect("BINDER_SET_MAX_THREADS(NULL)", outcome(r), "EINVAL".into())
}

fn oneway_spam_detection(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let mut enable = 1u32;
    let r = fd.ioctl(BINDER_ENABLE_ONEWAY_SPAM_DETECTION, &mut enable);
    rec.expect("enable", outcome(r), "ok".into())?;
    let r = fd.ioctl_null(BINDER_ENABLE_ONEWAY_SPAM_DETECTION);
    rec.expect("NULL argument", outcome(r), "EFAULT".into())
}

fn context_manager_is_exclusive(path: &str, rec: &mut Record) -> Result<(), String> {
    let manager = proto::open(path)?;
    let other = proto::open(path)?;
    let mut zero = 0i32;
    let r = become_manager(&manager);
    rec.expect("first BINDER_SET_CONTEXT_MGR", outcome(r), "ok".into())?;
    let r = manager.ioctl(BINDER_SET_CONTEXT_MGR, &mut zero);
    rec.expect("again by the manager", outcome(r), "EBUSY".into())?;
    let r = other.ioctl(BINDER_SET_CONTEXT_MGR, &mut zero);
    rec.expect("by another process", outcome(r), "EBUSY".into())?;
    let mut object = FlatBinderObject::default();
    let r = other.ioctl(BINDER_SET_CONTEXT_MGR_EXT, &mut object);
    rec.expect("_EXT by another process", outcome(r), "EBUSY".into())?;
    let r = other.ioctl_null(BINDER_SET_CONTEXT_MGR_EXT);
    rec.expect("_EXT(NULL) by another process", outcome(r), "EINVAL".into())?;
    drop(manager);
    // The C binder releases a process from a work queue: give it time.
    let deadline = Instant::now() + Duration::from_secs(3);
    let r = loop {
        let r = other.ioctl(BINDER_SET_CONTEXT_MGR_EXT, &mut object);
        if r != Err(libc::EBUSY) || Instant::now() > deadline {
            break r;
        }
        thread::sleep(Duration::from_millis(20));
    };
    rec.expect("_EXT after the manager closed", outcome(r), "ok".into())
}

fn node_info_for_ref(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let mut info = [0u32; 6];
    let r = fd.ioctl(BINDER_GET_NODE_INFO_FOR_REF, &mut info);
    rec.expect("not the manager", outcome(r), "EPERM".into())?;
    let r = fd.ioctl_null(BINDER_GET_NODE_INFO_FOR_REF);
    rec.expect("NULL", outcome(r), "EFAULT".into())?;
    let mut info = [0, 0, 0, 1, 0, 0u32];
    let r = fd.ioctl(BINDER_GET_NODE_INFO_FOR_REF, &mut info);
    rec.expect("reserved field set", outcome(r), "EINVAL".into())?;
    let r = become_manager(&fd);
    rec.expect("BINDER_SET_CONTEXT_MGR", outcome(r), "ok".into())?;
    for handle in [0, 1, 5] {
        let mut info = [handle, 0, 0, 0, 0, 0u32];
        let r = fd.ioctl(BINDER_GET_NODE_INFO_FOR_REF, &mut info);
        rec.expect(&format!("handle {handle}"), outcome(r), "EINVAL".into())?;
        rec.expect("unchanged", info, [handle, 0, 0, 0, 0, 0])?;
    }
    Ok(())
}

fn extended_error(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let mut error = [9u32; 3];
    let r = fd.ioctl(BINDER_GET_EXTENDED_ERROR, &mut error);
    rec.expect("BINDER_GET_EXTENDED_ERROR", outcome(r), "ok".into())?;
    rec.expect("error", error, [0, BR_OK, 0])?;
    let r = fd.ioctl_null(BINDER_GET_EXTENDED_ERROR);
    rec.expect("NULL", outcome(r), "EFAULT".into())
}

fn thread_exit(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let r = fd.ioctl_null(BINDER_THREAD_EXIT);
    rec.expect("BINDER_THREAD_EXIT", outcome(r), "ok".into())?;
    let r = fd.ioctl_null(BINDER_THREAD_EXIT);
    rec.expect("BINDER_THREAD_EXIT again", outcome(r), "ok".into())
}

fn write_read_bad_pointers(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let r = fd.ioctl_null(BINDER_WRITE_READ);
    rec.expect("BINDER_WRITE_READ(NULL)", outcome(r), "EFAULT".into())?;
    let mut bwr = WriteRead {
        write_size: 4,
        ..WriteRead::default()
    };
    let r = fd.ioctl(BINDER_WRITE_READ, &mut bwr);
    rec.expect("write buffer NULL", outcome(r), "EFAULT".into())?;
    let mut bwr = WriteRead {
        read_size: 4,
        ..WriteRead::default()
    };
    let r = fd.ioctl(BINDER_WRITE_READ, &mut bwr);
    rec.expect("read buffer NULL", outcome(r), "EFAULT".into())?;
    rec.expect("read_consumed", bwr.read_consumed, 0)?;
    // Nothing left to run: write_consumed beyond write_size.
    let mut bwr = WriteRead {
        write_size: 4,
        write_consumed: 8,
        ..WriteRead::default()
    };
    let r = fd.ioctl(BINDER_WRITE_READ, &mut bwr);
    rec.expect("write_consumed past the end", outcome(r), "ok".into())?;
    rec.expect("write_consumed", bwr.write_consumed, 8)
}

fn looper_commands(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let ret = Call {
        write: &[BC_ENTER_LOOPER, BC_EXIT_LOOPER],
        read: &mut [],
        read_consumed: 0,
    }
    .issue(&fd);
    rec.expect("enter and exit", outcome(ret.result), "ok".into())?;
    rec.expect("write_consumed", ret.bwr.write_consumed, 8)?;
    // Registering without a BR_SPAWN_LOOPER request, after entering, is a user error that
    // the C binder only logs.
    let ret = Call {
        write: &[BC_REGISTER_LOOPER],
        read: &mut [],
        read_consumed: 0,
    }
    .issue(&fd);
    rec.expect("register unasked", outcome(ret.result), "ok".into())?;
    rec.expect("write_consumed", ret.bwr.write_consumed, 4)
}

fn unknown_commands(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    for (name, cmd) in [
        ("0x12345678", 0x1234_5678),
        ("BC_ATTEMPT_ACQUIRE", BC_ATTEMPT_ACQUIRE),
        ("BC_ACQUIRE_RESULT", BC_ACQUIRE_RESULT),
    ] {
        let ret = Call {
            write: &[BC_ENTER_LOOPER, cmd, BC_EXIT_LOOPER],
            read: &mut [],
            read_consumed: 8,
        }
        .issue(&fd);
        rec.expect(name, outcome(ret.result), "EINVAL".into())?;
        rec.expect("write_consumed", ret.bwr.write_consumed, 4)?;
        rec.expect("read_consumed", ret.bwr.read_consumed, 0)?;
    }
    Ok(())
}

fn first_read_of_a_thread_returns_noop(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let t = call_in_thread(&fd, first_call(&[BC_ENTER_LOOPER], 4));
    rec.expect("waited", t.waited, false)?;
    rec.expect("result", outcome(t.returned.result), "ok".into())?;
    rec.expect("read_consumed", t.returned.bwr.read_consumed, 4)?;
    rec.expect("words", t.read, vec![BR_NOOP, FILL, FILL, FILL])?;
    // With read_consumed already 4, nothing is written, not even BR_NOOP.
    let t = call_in_thread(
        &fd,
        ThreadCall {
            read_consumed: 4,
            ..first_call(&[], 4)
        },
    );
    rec.expect("waited", t.waited, false)?;
    rec.expect("result", outcome(t.returned.result), "ok".into())?;
    rec.expect("read_consumed", t.returned.bwr.read_consumed, 4)?;
    rec.expect("words", t.read, vec![FILL; 4])
}

fn read_waits_until_a_signal(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    for write in [&[BC_ENTER_LOOPER][..], &[]] {
        // After a first call, the thread's reads wait for work, looper or not.
        let t = call_in_thread(
            &fd,
            ThreadCall {
                prelude: &[BINDER_VERSION],
                ..first_call(write, 4)
            },
        );
        rec.expect("commands", write.len(), write.len())?;
        rec.expect("waited", t.waited, true)?;
        rec.expect("result", outcome(t.returned.result), "EINTR".into())?;
        rec.expect("read_consumed", t.returned.bwr.read_consumed, 0)?;
        let written = 4 * write.len() as u64;
        rec.expect("write_consumed", t.returned.bwr.write_consumed, written)?;
    }
    Ok(())
}

fn thread_exit_makes_a_new_thread(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    // The thread is known to the driver after BINDER_VERSION, so its read would wait; after
    // BINDER_THREAD_EXIT its next call is the first of a new thread, which returns.
    let t = call_in_thread(
        &fd,
        ThreadCall {
            prelude: &[BINDER_VERSION, BINDER_THREAD_EXIT],
            ..first_call(&[BC_ENTER_LOOPER], 2)
        },
    );
    rec.expect(
        "prelude",
        t.prelude,
        vec!["ok".to_string(), "ok".to_string()],
    )?;
    rec.expect("waited", t.waited, false)?;
    rec.expect("result", outcome(t.returned.result), "ok".into())?;
    rec.expect("words", t.read, vec![BR_NOOP, FILL])
}

fn spawn_looper_requests(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let mut max = 1u32;
    fd.ioctl(BINDER_SET_MAX_THREADS, &mut max)
        .map_err(|e| format!("BINDER_SET_MAX_THREADS: errno {e}"))?;
    // A looper returns while no thread waits: the driver asks for one more thread.
    let t = call_in_thread(&fd, first_call(&[BC_ENTER_LOOPER], 2));
    rec.expect("first looper", t.read, vec![BR_SPAWN_LOOPER, FILL])?;
    rec.expect("read_consumed", t.returned.bwr.read_consumed, 4)?;
    // One request is pending: no second one.
    let t = call_in_thread(&fd, first_call(&[BC_ENTER_LOOPER], 2));
    rec.expect("second looper", t.read, vec![BR_NOOP, FILL])?;
    // The requested thread registers: the maximum of 1 is reached.
    let t = call_in_thread(&fd, first_call(&[BC_REGISTER_LOOPER], 2));
    rec.expect("registered looper", t.read, vec![BR_NOOP, FILL])?;
    // A thread that is no looper is never asked.
    let mut max = 2u32;
    fd.ioctl(BINDER_SET_MAX_THREADS, &mut max)
        .map_err(|e| format!("BINDER_SET_MAX_THREADS: errno {e}"))?;
    let t = call_in_thread(&fd, first_call(&[], 2));
    rec.expect("not a looper", t.read, vec![BR_NOOP, FILL])?;
    // Below the new maximum, a looper is asked again.
    let t = call_in_thread(&fd, first_call(&[BC_ENTER_LOOPER], 2));
    rec.expect(
        "looper below the new maximum",
        t.read,
        vec![BR_SPAWN_LOOPER, FILL],
    )?;
    rec.expect("waited", t.waited, false)
}

fn no_spawn_request_while_a_thread_waits(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let mut max = 4u32;
    fd.ioctl(BINDER_SET_MAX_THREADS, &mut max)
        .map_err(|e| format!("BINDER_SET_MAX_THREADS: errno {e}"))?;
    let stop = AtomicBool::new(false);
    let tid = AtomicU64::new(0);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            // SAFETY: `pthread_self` has no preconditions.
            tid.store(unsafe { libc::pthread_self() } as u64, Ordering::SeqCst);
            let _ = fd.ioctl(BINDER_VERSION, &mut 0i32);
            let mut read = [FILL; 2];
            let mut returned;
            loop {
                returned = Call {
                    write: &[BC_ENTER_LOOPER],
                    read: &mut read,
                    read_consumed: 0,
                }
                .issue(&fd);
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            returned
        });
        thread::sleep(WAITING);
        let t = call_in_thread(&fd, first_call(&[BC_ENTER_LOOPER], 2));
        stop.store(true, Ordering::SeqCst);
        interrupt_until_finished(&waiter, &tid);
        let waited = waiter.join().expect("the waiting thread panicked");
        rec.expect("looper while another waits", t.read, vec![BR_NOOP, FILL])?;
        rec.expect("waiting thread", outcome(waited.result), "EINTR".into())
    })
}

fn mmap_writable_is_refused(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    let r = mmap(&fd, MAP_1M, rw, libc::MAP_SHARED).map(drop);
    rec.expect("shared writable", outcome(r), "EPERM".into())?;
    let r = mmap(&fd, MAP_1M, rw, libc::MAP_PRIVATE).map(drop);
    rec.expect("private writable", outcome(r), "EPERM".into())?;
    // The refused mappings did not use up the one mapping of the file.
    let flags = libc::MAP_PRIVATE | libc::MAP_NORESERVE;
    let addr = mmap(&fd, MAP_1M, libc::PROT_READ, flags);
    rec.expect("read-only", outcome(addr.map(drop)), "ok".into())?;
    munmap(addr.unwrap_or_default(), MAP_1M).map_err(|e| format!("munmap: errno {e}"))
}

fn mmap_private_read_only(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let flags = libc::MAP_PRIVATE | libc::MAP_NORESERVE;
    let addr = mmap(&fd, MAP_1M, libc::PROT_READ, flags);
    rec.expect("mmap", outcome(addr.map(drop)), "ok".into())?;
    let addr = addr.unwrap_or_default();
    let r = mprotect(addr, MAP_1M, libc::PROT_READ | libc::PROT_WRITE);
    rec.expect("mprotect writable", outcome(r), "EACCES".into())?;
    let r = mprotect(addr, MAP_1M, libc::PROT_READ);
    rec.expect("mprotect read-only", outcome(r), "ok".into())?;
    let second = mmap(&fd, MAP_1M, libc::PROT_READ, flags);
    rec.expect("second mmap", outcome(second.map(drop)), "EBUSY".into())?;
    let r = munmap(addr, MAP_1M);
    rec.expect("munmap", outcome(r), "ok".into())?;
    let again = mmap(&fd, MAP_1M, libc::PROT_READ, flags);
    rec.expect(
        "mmap after munmap",
        outcome(again.map(drop)),
        "EBUSY".into(),
    )
}

fn mmap_shared_read_only(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let addr = mmap(&fd, MAP_1M, libc::PROT_READ, libc::MAP_SHARED);
    rec.expect("mmap", outcome(addr.map(drop)), "ok".into())?;
    munmap(addr.unwrap_or_default(), MAP_1M).map_err(|e| format!("munmap: errno {e}"))
}

fn mmap_larger_than_4m(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let addr = mmap(&fd, MAP_8M, libc::PROT_READ, libc::MAP_PRIVATE);
    rec.expect("mmap of 8 MiB", outcome(addr.map(drop)), "ok".into())?;
    munmap(addr.unwrap_or_default(), MAP_8M).map_err(|e| format!("munmap: errno {e}"))
}

fn mmap_is_not_copied_on_fork(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let addr = mmap(&fd, MAP_1M, libc::PROT_READ, libc::MAP_PRIVATE);
    rec.expect("mmap", outcome(addr.map(drop)), "ok".into())?;
    let addr = addr.unwrap_or_default();
    rec.expect(
        "mapped in the parent",
        outcome(mincore(addr, MAP_1M)),
        "ok".into(),
    )?;
    let child = in_child(|| exit_code(mincore(addr, MAP_1M)))?;
    rec.expect(
        "mapped in the child",
        proto::errno_name(child),
        "ENOMEM".into(),
    )?;
    munmap(addr, MAP_1M).map_err(|e| format!("munmap: errno {e}"))
}

fn mmap_by_another_process_is_refused(path: &str, rec: &mut Record) -> Result<(), String> {
    let fd = proto::open(path)?;
    let child = in_child(|| exit_code(mmap(&fd, MAP_1M, libc::PROT_READ, libc::MAP_PRIVATE)))?;
    rec.expect("mmap in a child", proto::errno_name(child), "EINVAL".into())?;
    // The opener still may.
    let addr = mmap(&fd, MAP_1M, libc::PROT_READ, libc::MAP_PRIVATE);
    rec.expect("mmap in the opener", outcome(addr.map(drop)), "ok".into())?;
    munmap(addr.unwrap_or_default(), MAP_1M).map_err(|e| format!("munmap: errno {e}"))
}

fn open_and_release_repeatedly(path: &str, rec: &mut Record) -> Result<(), String> {
    let mut failures = 0;
    for _ in 0..50 {
        let fd = proto::open(path)?;
        let mut version = 0i32;
        if fd.ioctl(BINDER_VERSION, &mut version).is_err() {
            failures += 1;
        }
        match mmap(&fd, MAP_1M, libc::PROT_READ, libc::MAP_PRIVATE) {
            // Unmapped after the file is closed: the mapping holds the file until then.
            Ok(addr) => {
                drop(fd);
                if munmap(addr, MAP_1M).is_err() {
                    failures += 1;
                }
            }
            Err(_) => failures += 1,
        }
    }
    rec.expect("failed calls in 50 opens", failures, 0)
}

/// The checks, in order.
pub const CHECKS: &[(&str, Check)] = &[
    ("version", version),
    ("unknown_ioctls", unknown_ioctls),
    ("set_max_threads", set_max_threads),
    ("oneway_spam_detection", oneway_spam_detection),
    ("context_manager_is_exclusive", context_manager_is_exclusive),
    ("node_info_for_ref", node_info_for_ref),
    ("extended_error", extended_error),
    ("thread_exit", thread_exit),
    ("write_read_bad_pointers", write_read_bad_pointers),
    ("looper_commands", looper_commands),
    ("unknown_commands", unknown_commands),
    (
        "first_read_of_a_thread_returns_noop",
        first_read_of_a_thread_returns_noop,
    ),
    ("read_waits_until_a_signal", read_waits_until_a_signal),
    (
        "thread_exit_makes_a_new_thread",
        thread_exit_makes_a_new_thread,
    ),
    ("spawn_looper_requests", spawn_looper_requests),
    (
        "no_spawn_request_while_a_thread_waits",
        no_spawn_request_while_a_thread_waits,
    ),
    ("mmap_writable_is_refused", mmap_writable_is_refused),
    ("mmap_private_read_only", mmap_private_read_only),
    ("mmap_shared_read_only", mmap_shared_read_only),
    ("mmap_larger_than_4m", mmap_larger_than_4m),
    ("mmap_is_not_copied_on_fork", mmap_is_not_copied_on_fork),
    (
        "mmap_by_another_process_is_refused",
        mmap_by_another_process_is_refused,
    ),
    ("open_and_release_repeatedly", open_and_release_repeatedly),
];
