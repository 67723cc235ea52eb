//! The processes a differential sequence runs in: one per file slot, so that each binder
//! process of the sequence is a process of its own, as binder expects (the C binder refuses a
//! call to the context manager from the manager's own process, whichever file it uses).
//!
//! Each child builds the same sequence from the seed and runs the calls of its slot when the
//! parent names them, on binder-lite and (when comparing) on the C binder, and sends back
//! what they returned.

use crate::exec::{self, Outcome, World};
use crate::ops::SLOTS;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;
use std::time::Duration;
use vmtest::fd::errno;

struct Child {
    pid: i32,
    to: File,
    from: BufReader<File>,
}

/// The children of a phase.
pub struct Procs {
    children: Vec<Child>,
}

fn pipe() -> Result<(File, File), String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(format!("pipe: errno {}", errno()));
    }
    // SAFETY: both descriptors are new and owned by nothing else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

fn encode(o: &Outcome) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        u8::from(o.skipped),
        o.errno.unwrap_or(0),
        o.took.as_micros(),
        o.text.replace(['\t', '\n'], " ")
    )
}

fn decode<'a>(f: &mut impl Iterator<Item = &'a str>) -> Outcome {
    let skipped = f.next() == Some("1");
    let errno = f.next().and_then(|e| e.parse().ok()).filter(|e| *e != 0);
    let took = Duration::from_micros(f.next().and_then(|t| t.parse().ok()).unwrap_or(0));
    Outcome {
        skipped,
        errno,
        took,
        text: f.next().unwrap_or("").to_string(),
    }
}

fn child(lite: &str, c: Option<&str>, from: File, mut to: File) -> ! {
    exec::start_watchdog(crate::WAIT);
    let mut lw = World::new(lite, exec::slots(), 0, false);
    let mut cw = c.map(|p| World::new(p, exec::slots(), 0, false));
    let mut seq = Vec::new();
    for line in BufReader::new(from).lines() {
        let Ok(line) = line else { break };
        let f: Vec<&str> = line.split(' ').collect();
        let reply = match f[0] {
            "S" => {
                let seed = f[1].parse().unwrap_or(0);
                let mode = crate::diff::Mode {
                    restricted: f[2] == "1",
                    compare: false,
                    length: f[3].parse().unwrap_or(0),
                };
                seq = crate::diff::sequence(seed, mode);
                continue;
            }
            "O" => {
                let op = &seq[f[1].parse::<usize>().unwrap_or(0)];
                let c_out = match cw.as_mut() {
                    Some(w) if f[2] == "1" => format!("1\t{}", encode(&w.run(op))),
                    _ => "0\t0\t0\t0\t".to_string(),
                };
                format!("{c_out}\t{}", encode(&lw.run(op)))
            }
            _ => {
                lw.close_all();
                let mut calls = std::mem::take(&mut lw.calls);
                if let Some(w) = cw.as_mut() {
                    w.close_all();
                    calls += std::mem::take(&mut w.calls);
                }
                calls.to_string()
            }
        };
        if writeln!(to, "{reply}").is_err() {
            break;
        }
    }
    // SAFETY: ends the child without running the parent's destructors.
    unsafe { libc::_exit(0) }
}

impl Procs {
    /// Forks one child per slot. The caller must have no other thread (the children allocate).
    pub fn start(lite: &str, c: Option<&str>) -> Result<Procs, String> {
        let mut children = Vec::new();
        for _ in 0..SLOTS {
            let (from_parent, to_child) = pipe()?;
            let (from_child, to_parent) = pipe()?;
            // SAFETY: the caller has no other thread, so the child may run anything; it never
            // returns.
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                return Err(format!("fork: errno {}", errno()));
            }
            if pid == 0 {
                drop(to_child);
                drop(from_child);
                child(lite, c, from_parent, to_parent);
            }
            children.push(Child {
                pid,
                to: to_child,
                from: BufReader::new(from_child),
            });
        }
        Ok(Procs { children })
    }

    fn ask(&mut self, slot: u8, line: &str) -> String {
        let child = &mut self.children[slot as usize];
        let mut reply = String::new();
        if writeln!(child.to, "{line}").is_ok() {
            let _ = child.from.read_line(&mut reply);
        }
        if reply.is_empty() {
            return "0\t0\t0\t0\t\t0\t-1\t0\tthe child of this slot died".to_string();
        }
        reply.trim_end_matches('\n').to_string()
    }

    /// Every child builds the sequence of `seed`.
    pub fn begin(&mut self, seed: u64, mode: crate::diff::Mode) {
        for child in &mut self.children {
            let _ = writeln!(
                child.to,
                "S {seed} {} {}",
                u8::from(mode.restricted),
                mode.length
            );
        }
    }

    /// Runs call `index` in the child of `slot`: on the C binder too if `with_c`.
    pub fn run(&mut self, index: usize, slot: u8, with_c: bool) -> (Option<Outcome>, Outcome) {
        let reply = self.ask(slot, &format!("O {index} {}", u8::from(with_c)));
        let mut f = reply.split('\t');
        let has_c = f.next() == Some("1");
        let c = decode(&mut f);
        let lite = decode(&mut f);
        (has_c.then_some(c), lite)
    }

    /// Closes every file of every child; returns the number of calls they made.
    pub fn end(&mut self) -> u64 {
        (0..SLOTS)
            .map(|s| self.ask(s, "E").parse::<u64>().unwrap_or(0))
            .sum()
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for child in self.children.drain(..) {
            let mut status = 0;
            // SAFETY: `pid` is our child, not reaped yet. (Its pipe does not close: the
            // children forked after it hold the write end too.)
            unsafe {
                libc::kill(child.pid, libc::SIGKILL);
                libc::waitpid(child.pid, &mut status, 0);
            }
        }
    }
}
