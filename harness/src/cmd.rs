//! Running external commands: logged, optionally time-limited, never silently.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// What became of a command.
#[derive(Debug)]
pub struct Outcome {
    /// Whether it exited with status 0 within its time limit.
    pub success: bool,
    /// Whether it was killed because it ran past its time limit.
    pub timed_out: bool,
    /// Its standard output and standard error, interleaved in arrival order.
    pub output: String,
}

/// Renders a command line for logs and error messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Runs `cmd`, capturing its output and copying it line by line to `log`.
///
/// With a `limit`, the command (and its process group) is killed once the limit is reached.
pub fn run_logged(cmd: Command, log: &Path, limit: Option<Duration>) -> Result<Outcome, String> {
    run_with_progress(cmd, log, limit, &|| None)
}

/// Shows how a long command is getting on: on a terminal, one line rewritten in place at most
/// every two seconds; otherwise (a CI log) a new line every thirty seconds.
struct ProgressLine<'a> {
    status: &'a dyn Fn() -> Option<String>,
    tty: bool,
    start: Instant,
    last: Instant,
    shown: bool,
}

impl ProgressLine<'_> {
    fn tick(&mut self) {
        let every = Duration::from_secs(if self.tty { 2 } else { 30 });
        if self.last.elapsed() < every {
            return;
        }
        self.last = Instant::now();
        let Some(status) = (self.status)() else {
            return;
        };
        let elapsed = self.start.elapsed().as_secs();
        let line = format!("  {status}, {}m{:02}s", elapsed / 60, elapsed % 60);
        let mut out = std::io::stdout();
        if self.tty {
            let _ = write!(out, "\r{line}\x1b[K");
        } else {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
        self.shown = true;
    }

    fn finish(&mut self) {
        if self.tty && self.shown {
            let _ = write!(std::io::stdout(), "\r\x1b[K");
            let _ = std::io::stdout().flush();
        }
    }
}

/// [`run_logged`], printing what `status` says about the command while it runs.
pub fn run_with_progress(
    cmd: Command,
    log: &Path,
    limit: Option<Duration>,
    status: &dyn Fn() -> Option<String>,
) -> Result<Outcome, String> {
    run_echoing(cmd, log, limit, status, &|_| None)
}

/// [`run_with_progress`], also printing at once what `echo` makes of each output line.
pub fn run_echoing(
    mut cmd: Command,
    log: &Path,
    limit: Option<Duration>,
    status: &dyn Fn() -> Option<String>,
    echo: &dyn Fn(&str) -> Option<String>,
) -> Result<Outcome, String> {
    use std::io::IsTerminal;
    use std::os::unix::process::CommandExt;

    let mut log_file =
        File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let _ = writeln!(log_file, "$ {}", describe(&cmd));
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", describe(&cmd)))?;

    let (tx, rx) = mpsc::channel::<String>();
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|stream| {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut buf = Vec::new();
            while matches!(reader.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
                buf.clear();
            }
        })
    })
    .collect();
    drop(tx);

    let start = Instant::now();
    let mut progress = ProgressLine {
        status,
        tty: std::io::stdout().is_terminal(),
        start,
        last: start,
        shown: false,
    };
    let mut output = String::new();
    let mut timed_out = false;
    loop {
        let wait = match limit {
            Some(limit) => match limit.checked_sub(start.elapsed()) {
                Some(left) => left,
                None => {
                    timed_out = true;
                    break;
                }
            },
            None => Duration::from_secs(3600),
        };
        progress.tick();
        match rx.recv_timeout(wait.min(Duration::from_millis(500))) {
            Ok(line) => {
                if let Some(shown) = echo(&line) {
                    println!("{shown}");
                }
                let _ = log_file.write_all(line.as_bytes());
                output.push_str(&line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    progress.finish();
    if timed_out {
        // The child leads its own process group: take QEMU or make's children down with it.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.kill();
        let _ = writeln!(
            log_file,
            "\n*** killed after {:?}",
            limit.unwrap_or_default()
        );
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {}: {e}", describe(&cmd)))?;
    for reader in readers {
        let _ = reader.join();
    }
    // Lines that arrived between the last poll and the end of the readers.
    for line in rx.try_iter() {
        let _ = log_file.write_all(line.as_bytes());
        output.push_str(&line);
    }
    Ok(Outcome {
        success: status.success() && !timed_out,
        timed_out,
        output,
    })
}

/// Runs `cmd` to completion and returns its standard output, or an error naming the command.
pub fn output_of(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", describe(cmd)))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed: {}",
            describe(cmd),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
