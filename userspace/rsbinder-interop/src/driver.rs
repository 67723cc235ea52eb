// SPDX-License-Identifier: GPL-2.0

//! The test: for each device, starts `rsb_hub`, the echo service and the client, and reports
//! each step as one KTAP line.

use crate::client;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use vmtest::ktap::Ktap;

/// The service manager of rsbinder-tools, where the initramfs keeps it.
const HUB: &str = "/bin/rsb_hub";
/// The binderfs instance the VM mounts.
const BINDERFS: &str = "/dev/binderfs";
/// The C binder device this program adds on binderfs.
const C_DEVICE: &str = "rsbinder";
/// The binder-lite device.
const LITE: &str = "/dev/binder-lite";

/// The steps binder-lite cannot do yet: from the first of them on, the lite side is not run
/// and its lines say `# SKIP` with [`LITE_PENDING_WHY`]. The C side always runs every step.
/// Shorten the list as binder-lite grows.
const LITE_PENDING: &[&str] = &[];
/// Why the steps of [`LITE_PENDING`] are skipped.
const LITE_PENDING_WHY: &str = "binder-lite's transactions are not yet tried with rsbinder";

/// How long the driver waits for the hub to serve, the service to register and the client to
/// report its next step (the VM runs under TCG, which is slow).
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The steps of one device, in order, each needing those before it: the hub serving, the
/// service registered, then the client's.
fn steps() -> Vec<&'static str> {
    let mut steps = vec!["hub", "register"];
    steps.extend_from_slice(client::STEPS);
    steps
}

/// One of the devices the stack runs on.
struct Device {
    /// `c` or `lite`, in the KTAP names.
    tag: &'static str,
    /// The path of the device node.
    path: String,
    /// What `rsb_hub --device` takes: a name under [`BINDERFS`].
    hub_name: String,
}

/// Who wrote a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Hub,
    Service,
    /// The service started again after the client killed the first one.
    Restarted,
    Client,
}

/// What the reader threads send.
enum Event {
    /// A line of the standard output or error of a process.
    Line(Who, String),
    /// One of the two streams of a process ended.
    End(Who),
}

/// The processes of one device, and everything they printed. Drop kills what still runs.
struct Session {
    tx: Sender<Event>,
    rx: Receiver<Event>,
    children: Vec<(Who, Child)>,
    /// Streams ended, per process.
    ended: Vec<Who>,
    /// Every line, for the diagnostics of a failure.
    transcript: Vec<String>,
    /// What the driver showed of the processes at the end, from [`Session::snapshot`].
    state: Vec<String>,
}

impl Session {
    fn new() -> Session {
        let (tx, rx) = mpsc::channel();
        Session {
            tx,
            rx,
            children: Vec::new(),
            ended: Vec::new(),
            transcript: Vec::new(),
            state: Vec::new(),
        }
    }

    /// Starts `command` as `who`, reading its standard output and error; its standard input
    /// is a pipe for [`Session::tell`].
    fn spawn(&mut self, who: Who, mut command: Command) -> Result<(), String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {who:?}: {e}"))?;
        if let Some(out) = child.stdout.take() {
            self.forward(who, out);
        }
        if let Some(err) = child.stderr.take() {
            self.forward(who, err);
        }
        self.children.push((who, child));
        Ok(())
    }

    fn forward(&self, who: Who, stream: impl Read + Send + 'static) {
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                if tx.send(Event::Line(who, line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(Event::End(who));
        });
    }

    /// Waits up to [`STEP_TIMEOUT`] for a line of `who` that `wanted` accepts, and returns it.
    fn wait_for(&mut self, who: Who, wanted: impl Fn(&str) -> bool) -> Result<String, String> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Event::Line(from, line)) => {
                    self.transcript.push(format!("{from:?}: {line}"));
                    if from == who && wanted(&line) {
                        return Ok(line);
                    }
                }
                Ok(Event::End(from)) => {
                    self.ended.push(from);
                    if from == who && self.ended.iter().filter(|w| **w == who).count() == 2 {
                        return Err(format!("{who:?} exited ({})", self.status(who)));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{who:?} said nothing more within {STEP_TIMEOUT:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => return Err("no process left".into()),
            }
        }
    }

    /// Writes `line` to the standard input of `who`.
    fn tell(&mut self, who: Who, line: &str) -> Result<(), String> {
        let stdin = self
            .children
            .iter_mut()
            .find(|(w, _)| *w == who)
            .and_then(|(_, child)| child.stdin.as_mut())
            .ok_or_else(|| format!("{who:?} has no standard input"))?;
        writeln!(stdin, "{line}").map_err(|e| format!("writing to {who:?}: {e}"))
    }

    /// Starts the echo service on `device` as `who`; returns once it has registered.
    fn start_service(&mut self, who: Who, device: &str) -> Result<(), String> {
        let mut service = Command::new(own_path());
        service.args(["service", device]);
        self.spawn(who, service)?;
        self.wait_for(who, |l| l == "registered")?;
        Ok(())
    }

    /// Records what the binder driver shows of each process still running, as debugfs has it.
    fn snapshot(&mut self, device: &Device) {
        for (who, child) in &mut self.children {
            if !matches!(child.try_wait(), Ok(None)) {
                continue;
            }
            let pid = child.id();
            let state = if device.tag == "c" {
                c_binder_state(pid)
            } else {
                lite_state(pid)
            };
            let state = state.unwrap_or_else(|e| format!("no state: {e}"));
            self.state.push(format!("{who:?} (pid {pid}): {state}"));
        }
    }

    /// The exit status of `who`, once its streams have ended.
    fn status(&mut self, who: Who) -> String {
        let Some((_, child)) = self.children.iter_mut().find(|(w, _)| *w == who) else {
            return "not started".into();
        };
        match child.wait() {
            Ok(status) => status.to_string(),
            Err(e) => e.to_string(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// This program, which the driver starts again as the service and as the client.
fn own_path() -> std::path::PathBuf {
    std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into())
}

/// The result of one step: what it saw, or why it failed; `None` when it was not run.
type Outcome = Option<Result<String, String>>;

/// Runs the first `count` steps on `device` with the processes of `session`; returns each
/// step's outcome.
fn run_device(device: &Device, count: usize, session: &mut Session) -> Vec<Outcome> {
    let steps = steps();
    let mut outcomes: Vec<Outcome> = vec![None; steps.len()];
    if count == 0 {
        return outcomes;
    }

    // rsb_hub logs, at level info, when it holds handle 0.
    let mut hub = Command::new(HUB);
    hub.args(["--device", &device.hub_name, "--insecure-allow-all"])
        .env("RUST_LOG", "info");
    outcomes[0] = Some(
        session
            .spawn(Who::Hub, hub)
            .and_then(|()| session.wait_for(Who::Hub, |l| l.contains("serving on")))
            .map(|_| format!("rsb_hub is the context manager of {}", device.path)),
    );
    if count == 1 || outcomes[0].as_ref().is_some_and(|o| o.is_err()) {
        return outcomes;
    }

    outcomes[1] = Some(
        session
            .start_service(Who::Service, &device.path)
            .map(|()| "the echo service registered with rsb_hub".into()),
    );
    if count == 2 || outcomes[1].as_ref().is_some_and(|o| o.is_err()) {
        return outcomes;
    }

    let mut client = Command::new(own_path());
    client.args(["client", &device.path, steps[count - 1]]);
    if let Err(e) = session.spawn(Who::Client, client) {
        outcomes[2] = Some(Err(e));
        return outcomes;
    }
    while outcomes[..count].iter().any(Option::is_none) {
        let line = session.wait_for(Who::Client, |l| {
            l.starts_with("ok ") || l.starts_with("fail ") || l == "restart service"
        });
        let Ok(line) = line else {
            let why = line.unwrap_err();
            if let Some(next) = outcomes.iter_mut().find(|o| o.is_none()) {
                *next = Some(Err(why));
            }
            break;
        };
        if line == "restart service" {
            let answer = match session.start_service(Who::Restarted, &device.path) {
                Ok(()) => "registered".to_string(),
                Err(e) => e,
            };
            if let Err(e) = session.tell(Who::Client, &answer) {
                session.transcript.push(e);
            }
            continue;
        }
        let (verdict, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let (step, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let Some(i) = steps.iter().position(|s| *s == step) else {
            continue;
        };
        outcomes[i] = Some(if verdict == "ok" {
            Ok(text.to_string())
        } else {
            Err(text.to_string())
        });
    }
    // The client waits, holding its handles, while the driver reads the processes' state.
    if session.wait_for(Who::Client, |l| l == "done").is_ok() {
        session.snapshot(device);
        let _ = session.tell(Who::Client, "exit");
    }
    outcomes
}

/// Counts what the C binder's debugfs file of process `pid` lists: threads, nodes, refs with
/// their handles, buffers.
fn c_binder_state(pid: u32) -> Result<String, String> {
    let path = format!("/sys/kernel/debug/binder/proc/{pid}");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let count = |what: &str| text.lines().filter(|l| l.starts_with(what)).count();
    // `  ref 12: desc 1 node 5 s 1 w 1 d ...`: desc is the handle.
    let handles: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  ref "))
        .filter_map(|l| l.split(" desc ").nth(1)?.split(' ').next())
        .collect();
    Ok(format!(
        "{} threads, {} nodes, {} refs (handles {}), {} buffers",
        count("  thread "),
        count("  node "),
        handles.len(),
        handles.join(", "),
        count("  buffer ")
    ))
}

/// binder-lite's debugfs file: the state of each process that has it open.
const LITE_STATE: &str = "/sys/kernel/debug/binder-lite/state";

/// What binder-lite's `state` file shows of process `pid`: the lines of its entry (nodes, refs,
/// handles, buffers, pages), joined with `; `.
fn lite_state(pid: u32) -> Result<String, String> {
    let text = std::fs::read_to_string(LITE_STATE).map_err(|e| format!("{LITE_STATE}: {e}"))?;
    lite_entry(&text, pid).ok_or_else(|| format!("no entry for pid {pid} in {LITE_STATE}"))
}

/// The entry of process `pid` in the text of binder-lite's `state` file: the lines after
/// `proc PID (id N)` up to the next `proc` line, trimmed and joined with `; `.
fn lite_entry(text: &str, pid: u32) -> Option<String> {
    let head = format!("proc {pid} ");
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&head));
    lines.next()?;
    let entry: Vec<&str> = lines
        .take_while(|l| !l.starts_with("proc "))
        .map(str::trim)
        .collect();
    Some(entry.join("; "))
}

/// Adds the C binder device on binderfs, or finds it from an earlier run; returns its path.
fn c_device() -> Result<String, String> {
    let path = format!("{BINDERFS}/{C_DEVICE}");
    if !Path::new(&path).exists() {
        let control = Path::new(BINDERFS).join("binder-control");
        rsbinder::binderfs::add_device(&control, C_DEVICE)
            .map_err(|e| format!("adding {path} through {}: {e}", control.display()))?;
    }
    Ok(path)
}

/// Runs the stack on the C device, then on binder-lite; prints KTAP. Returns the exit status.
pub fn run() -> i32 {
    let steps = steps();
    let lite_count = steps
        .iter()
        .position(|s| LITE_PENDING.contains(s))
        .unwrap_or(steps.len());
    let c_path = c_device();
    let devices = [
        Device {
            tag: "c",
            path: c_path.clone().unwrap_or_default(),
            hub_name: C_DEVICE.into(),
        },
        // rsb_hub opens `/dev/binderfs/NAME`; `..` leads it from there to binder-lite.
        Device {
            tag: "lite",
            path: LITE.into(),
            hub_name: format!("..{}", LITE.trim_start_matches("/dev")),
        },
    ];
    let mut ktap = Ktap::new(devices.len() * steps.len());
    println!(
        "# rsbinder 0.12 from crates.io: rsb_hub as the context manager, an echo service and \
         a client, on each device in turn"
    );
    for device in &devices {
        let start = Instant::now();
        let count = if device.tag == "lite" {
            lite_count
        } else {
            steps.len()
        };
        if count < steps.len() {
            println!(
                "# rsb_{}: pending, {LITE_PENDING_WHY}: the steps from {} on are not run",
                device.tag, steps[count]
            );
        }
        let (outcomes, transcript) = match (&c_path, device.tag) {
            (Err(e), "c") => {
                let mut outcomes = vec![None; steps.len()];
                outcomes[0] = Some(Err(e.clone()));
                (outcomes, Vec::new())
            }
            _ => {
                let mut session = Session::new();
                let outcomes = run_device(device, count, &mut session);
                for line in &session.state {
                    println!("# rsb_{} state: {line}", device.tag);
                }
                (outcomes, std::mem::take(&mut session.transcript))
            }
        };
        println!(
            "# rsb_{}: {} steps run on {} in {:.1} s",
            device.tag,
            count,
            device.path,
            start.elapsed().as_secs_f64()
        );
        let mut first_failure = None;
        for (i, (step, outcome)) in steps.iter().zip(&outcomes).enumerate() {
            let name = format!("rsb_{}_{step}", device.tag);
            match outcome {
                Some(Ok(saw)) => {
                    if !saw.is_empty() {
                        println!("# {name}: {saw}");
                    }
                    ktap.result(&name, Ok(()));
                }
                Some(Err(why)) => {
                    first_failure.get_or_insert(*step);
                    ktap.result(&name, Err(why.clone()));
                }
                None if i >= count => ktap.skip(&name, LITE_PENDING_WHY),
                None => {
                    let after = first_failure.unwrap_or("an earlier step");
                    ktap.result(&name, Err(format!("not reached: {after} failed")));
                }
            }
        }
        if first_failure.is_some() {
            for line in &transcript {
                println!("# {}: {line}", device.tag);
            }
        }
    }
    ktap.exit_code()
}

#[cfg(test)]
mod tests {
    use super::lite_entry;

    #[test]
    fn lite_entry_is_the_lines_of_one_process() {
        let text = "binder-lite state\nproc 7 (id 1)\n  nodes: 1\n  pages: 0\n\
                    proc 71 (id 2)\n  nodes: 0\n";
        assert_eq!(lite_entry(text, 7).as_deref(), Some("nodes: 1; pages: 0"));
        assert_eq!(lite_entry(text, 71).as_deref(), Some("nodes: 0"));
        assert_eq!(lite_entry(text, 1), None);
    }
}
