// SPDX-License-Identifier: GPL-2.0

//! The client: looks the echo service up and calls it, one step after another. Each step prints
//! one line for the driver: `ok STEP [what it saw]` or `fail STEP why`.

use crate::{checksum, payload, BnEchoCallback, IEcho, IEchoCallback, MAX_THREADS, SERVICE_NAME};
use rsbinder::{
    hub, BinderResult, DeathRecipient, Interface, ProcessState, StatusCode, Strong, WIBinder,
};
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// The payload sizes of the synchronous and one-way calls, up to 64 KiB.
const SIZES: &[usize] = &[0, 1, 3, 4096, 4097, 16384, 65536];

/// How long the client waits for one-way answers and for the death notification.
const WAIT: Duration = Duration::from_secs(30);

/// What the service sent back through the callback binder.
#[derive(Default)]
struct Received {
    /// The one-way answers, in the order they arrived.
    echoes: Vec<(i32, Vec<u8>)>,
    /// The threads that ran the synchronous callbacks.
    call_threads: Vec<ThreadId>,
    /// Whether the death recipient ran.
    died: bool,
}

/// What the callback binder and the death recipient share with the client's steps.
#[derive(Default)]
struct Shared {
    received: Mutex<Received>,
    changed: Condvar,
}

impl Shared {
    /// Records a change under the lock and wakes the waiting step.
    fn update(&self, f: impl FnOnce(&mut Received)) {
        let mut received = self.received.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut received);
        self.changed.notify_all();
    }

    /// Waits up to [`WAIT`] until `done` holds; returns whether it did.
    fn wait_until(&self, done: impl Fn(&Received) -> bool) -> bool {
        let received = self.received.lock().unwrap_or_else(|e| e.into_inner());
        let (received, _) = self
            .changed
            .wait_timeout_while(received, WAIT, |r| !done(r))
            .unwrap_or_else(|e| e.into_inner());
        done(&received)
    }
}

/// The callback binder the client passes to the service.
struct Callback(Arc<Shared>);

impl Interface for Callback {}

impl IEchoCallback for Callback {
    fn onEcho(&self, seq: i32, data: &[u8]) -> BinderResult<()> {
        self.0.update(|r| r.echoes.push((seq, data.to_vec())));
        Ok(())
    }

    fn onCall(&self, data: &[u8]) -> BinderResult<i32> {
        let thread = std::thread::current().id();
        self.0.update(|r| r.call_threads.push(thread));
        Ok(checksum(data))
    }
}

/// The death recipient linked to the echo service.
struct Obituary(Arc<Shared>);

impl DeathRecipient for Obituary {
    fn binder_died(&self, _who: &WIBinder) {
        self.0.update(|r| r.died = true);
    }
}

/// Everything the steps use.
struct Client {
    /// The handle of `echo`.
    handle: Option<u32>,
    echo: Strong<dyn IEcho>,
    callback: Strong<dyn IEchoCallback>,
    shared: Arc<Shared>,
}

/// A step's outcome: what it saw, or why it failed.
type Outcome = Result<String, String>;

/// Prints a step's outcome for the driver.
fn report(step: &str, outcome: &Outcome) {
    match outcome {
        Ok(saw) => report_line(&format!("ok {step} {saw}")),
        Err(why) => report_line(&format!("fail {step} {why}")),
    }
}

/// The handle of a proxy, `None` for a local binder.
fn handle_of(echo: &Strong<dyn IEcho>) -> Option<u32> {
    echo.as_binder().as_proxy().map(|proxy| proxy.handle())
}

fn lookup() -> Result<Client, String> {
    let echo = match hub::try_get_interface::<dyn IEcho>(SERVICE_NAME) {
        Ok(Some(echo)) => echo,
        Ok(None) => return Err(format!("{SERVICE_NAME} is not registered")),
        Err(e) => return Err(format!("getService({SERVICE_NAME}): {e:?}")),
    };
    let shared = Arc::new(Shared::default());
    let callback = BnEchoCallback::new_binder(Callback(shared.clone()));
    Ok(Client {
        handle: handle_of(&echo),
        echo,
        callback,
        shared,
    })
}

fn list() -> Outcome {
    let names = hub::try_list_services(hub::DUMP_FLAG_PRIORITY_ALL)
        .map_err(|e| format!("listServices: {e:?}"))?;
    for wanted in ["manager", SERVICE_NAME] {
        if !names.iter().any(|n| n == wanted) {
            return Err(format!("listServices: {names:?} lacks {wanted}"));
        }
    }
    Ok(format!("the service manager lists {names:?}"))
}

fn echo_sync(c: &Client) -> Outcome {
    for (i, &size) in SIZES.iter().enumerate() {
        let data = payload(size, i as u8);
        let back = c
            .echo
            .echo(&data)
            .map_err(|e| format!("echo of {size} bytes: {e:?}"))?;
        if back != data {
            return Err(format!(
                "echo of {size} bytes came back as {} different bytes",
                back.len()
            ));
        }
    }
    Ok(format!("{} calls of {SIZES:?} bytes echoed", SIZES.len()))
}

fn echo_oneway(c: &Client) -> Outcome {
    for (seq, &size) in SIZES.iter().enumerate() {
        c.echo
            .echoOneway(seq as i32, &payload(size, seq as u8 + 100), &c.callback)
            .map_err(|e| format!("one-way call {seq} of {size} bytes: {e:?}"))?;
    }
    if !c.shared.wait_until(|r| r.echoes.len() >= SIZES.len()) {
        let n = c.shared.received.lock().map_or(0, |r| r.echoes.len());
        return Err(format!(
            "{n} of {} one-way answers within {WAIT:?}",
            SIZES.len()
        ));
    }
    let received = c.shared.received.lock().unwrap_or_else(|e| e.into_inner());
    for (i, (seq, data)) in received.echoes.iter().enumerate() {
        if *seq != i as i32 {
            let order: Vec<i32> = received.echoes.iter().map(|e| e.0).collect();
            return Err(format!("one-way answers out of order: {order:?}"));
        }
        if *data != payload(SIZES[i], i as u8 + 100) {
            return Err(format!("one-way answer {i} has other data"));
        }
    }
    Ok(format!(
        "{} one-way calls answered one-way, in order",
        SIZES.len()
    ))
}

fn callback(c: &Client) -> Outcome {
    let data = payload(65536, 7);
    let answer = c
        .echo
        .callBack(&c.callback, &data)
        .map_err(|e| format!("callBack: {e:?}"))?;
    if answer != checksum(&data) {
        return Err(format!(
            "callBack answered {answer}, the callback computes {}",
            checksum(&data)
        ));
    }
    let received = c.shared.received.lock().unwrap_or_else(|e| e.into_inner());
    // The service called back while this thread waited for its reply: binder delivers such a
    // nested call to the waiting thread, not to another thread of the process.
    let me = std::thread::current().id();
    match received.call_threads.as_slice() {
        [thread] if *thread == me => {
            Ok("the service's call back ran on the thread waiting for the reply".into())
        }
        [_] => Err("the service's call back ran on another thread than the waiting one".into()),
        other => Err(format!("{} call backs, expected 1", other.len())),
    }
}

fn death(c: &Client) -> Outcome {
    let obituary = Arc::new(Obituary(c.shared.clone()));
    c.echo
        .as_binder()
        .link_to_death_arc(&obituary)
        .map_err(|e| format!("linkToDeath: {e:?}"))?;
    let pid = c.echo.pid().map_err(|e| format!("pid: {e:?}"))?;
    let start = Instant::now();
    // SAFETY: kill() has no memory-safety requirements.
    if unsafe { libc::kill(pid, libc::SIGKILL) } != 0 {
        return Err(format!("kill {pid}: {}", std::io::Error::last_os_error()));
    }
    if !c.shared.wait_until(|r| r.died) {
        return Err(format!(
            "no death notification within {WAIT:?} of killing the service (pid {pid})"
        ));
    }
    let after = start.elapsed();
    match c.echo.echo(&[1]) {
        Err(e) if e.transaction_error() == StatusCode::DeadObject => Ok(format!(
            "killed the service (pid {pid}); its death notice came after {} ms; a call then \
             fails with DeadObject",
            after.as_millis()
        )),
        other => Err(format!(
            "a call to the dead service gave {other:?}, expected DeadObject"
        )),
    }
}

/// Asks the driver to start the service again, and waits until it has registered.
fn restart_service() -> Result<(), String> {
    report_line("restart service");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| format!("reading the driver's answer: {e}"))?;
    match answer.trim() {
        "registered" => Ok(()),
        other => Err(format!("the service did not restart: {other}")),
    }
}

/// Prints a line for the driver.
fn report_line(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

/// Returns the outcome, and the client of the restarted service, which the client keeps until
/// it exits.
fn handle_reuse(dead: Client) -> (Outcome, Option<Client>) {
    let old = dead.handle;
    // Dropping the last proxy of the dead service releases its handle.
    drop(dead);
    if let Err(e) = restart_service() {
        return (Err(e), None);
    }
    let new = match lookup() {
        Ok(new) => new,
        Err(e) => return (Err(e), None),
    };
    let data = payload(65536, 9);
    let outcome = match (new.echo.echo(&data), old, new.handle) {
        (Ok(back), _, _) if back != data => {
            Err("the restarted service echoed other data".to_string())
        }
        (Err(e), _, _) => Err(format!("echo by the restarted service: {e:?}")),
        (Ok(_), Some(old), Some(now)) if old == now => Ok(format!(
            "the restarted service is handle {now} again: the dead one's handle was released \
             and reused"
        )),
        (Ok(_), old, now) => Err(format!(
            "the restarted service is handle {now:?}, the dead one was {old:?}: the lowest \
             free handle was not reused"
        )),
    };
    (outcome, Some(new))
}

/// The client's steps, in order.
pub const STEPS: &[&str] = &[
    "lookup",
    "list",
    "echo_sync",
    "echo_oneway",
    "callback",
    "death",
    "handle_reuse",
];

/// Runs the steps up to `last` on `device`; returns 0 when every one passed.
pub fn run(device: &str, last: &str) -> i32 {
    let Some(count) = STEPS.iter().position(|s| *s == last).map(|i| i + 1) else {
        eprintln!("client: unknown step {last}");
        return 2;
    };
    if let Err(e) = ProcessState::init(device, MAX_THREADS) {
        report("lookup", &Err(format!("ProcessState::init({device}): {e}")));
        return 1;
    }
    // Without a thread pool, one-way answers and death notifications would never be read.
    ProcessState::start_thread_pool();
    let client = match lookup() {
        Ok(client) => {
            let handle = client
                .handle
                .map_or("a local binder".into(), |h| format!("handle {h}"));
            report("lookup", &Ok(format!("the echo service is {handle}")));
            client
        }
        Err(why) => {
            report("lookup", &Err(why));
            return 1;
        }
    };
    let mut failed = false;
    let mut client = Some(client);
    for step in &STEPS[1..count] {
        let Some(c) = client.as_ref() else { break };
        let outcome = match *step {
            "list" => list(),
            "echo_sync" => echo_sync(c),
            "echo_oneway" => echo_oneway(c),
            "callback" => callback(c),
            "death" => death(c),
            _ => match client.take() {
                Some(dead) => {
                    let (outcome, restarted) = handle_reuse(dead);
                    client = restarted;
                    outcome
                }
                None => Err("no client".into()),
            },
        };
        failed |= outcome.is_err();
        report(step, &outcome);
    }
    // Stay, with every handle held, while the driver reads the driver's state of the processes.
    report_line("done");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    i32::from(failed)
}
