//! `make bench PROFILE=1`: `perf` in the bench guest.
//!
//! The guest has no PMU under TCG, so `/init` samples with the `cpu-clock` software event
//! (an hrtimer; the bench kernel has no high-resolution timers, so it fires at the tick,
//! 250 Hz per CPU) while binder-bench runs one case on one target, and prints `perf report`'s
//! views as `wb: profile NAME flat: ...` and `wb: profile NAME children: ...` lines. Debian's
//! `perf` is dynamically linked: it goes into the initramfs with the libraries `ldd` names.
//! Kernel Rust symbols come out of `/proc/kallsyms` mangled; the report demangles them.
//!
//! The guest runs with one CPU (`maxcpus=1`): with two, on a loaded host, 60-65 % of the
//! samples of either driver were in `queued_spin_lock_slowpath` (a vCPU spinning while the
//! host had descheduled the vCPU holding the lock), which says nothing about the drivers.

use crate::cmd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files `perf` needs in the guest: itself as `/usr/bin/perf`, and its shared libraries
/// and loader at the paths `ldd` gives.
pub fn perf_files(perf: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let ldd = cmd::output_of(Command::new("ldd").arg(perf))?;
    let mut files = vec![("/usr/bin/perf".to_string(), perf.to_path_buf())];
    for path in libraries(&ldd) {
        files.push((path.to_string(), PathBuf::from(path)));
    }
    Ok(files)
}

/// The absolute paths of `ldd`'s output: `name => /path (0x...)` and `/path (0x...)`.
fn libraries(ldd: &str) -> Vec<&str> {
    ldd.lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then_some(path)
        })
        .collect()
}

/// Demangles the Rust symbols (`_R...`) of a line, keeping its spacing.
fn demangle_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("_R") {
        let at_word = start == 0 || rest.as_bytes()[start - 1].is_ascii_whitespace();
        let end = rest[start..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |e| start + e);
        out.push_str(&rest[..start]);
        let word = &rest[start..end];
        match rustc_demangle::try_demangle(word) {
            Ok(d) if at_word => out.push_str(&format!("{d:#}")),
            _ => out.push_str(word),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The profile lines of a console log (`wb: profile ...`, without the prefix), demangled.
pub fn report(console: &str) -> String {
    let mut out = String::new();
    for line in console.lines() {
        if let Some(at) = line.find("wb: profile ") {
            let line = line[at + "wb: profile ".len()..].trim_end();
            out.push_str(&demangle_line(line));
            out.push('\n');
        }
    }
    out
}

/// The first `top` symbols of each flat view of a report.
pub fn summary(report: &str) -> String {
    let mut out = String::new();
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for line in report.lines() {
        let Some((name, row)) = line.split_once(" flat: ") else {
            continue;
        };
        if !row.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let count = match counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => c,
            None => {
                counts.push((name, 0));
                out.push_str(&format!("profile {name}, top symbols (self):\n"));
                &mut counts.last_mut().expect("just pushed").1
            }
        };
        *count += 1;
        if *count <= 25 {
            out.push_str(&format!("  {}\n", row.trim()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_paths() {
        let ldd = "\tlinux-vdso.so.1 (0x00007f)\n\
                   \tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x00007f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            libraries(ldd),
            [
                "/lib/x86_64-linux-gnu/libm.so.6",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
    }

    #[test]
    fn demangles_rust_symbols_only() {
        let line = "  12.50%  [k] _RNvCs1234_7mycrate3foo  memcpy";
        assert_eq!(demangle_line(line), "  12.50%  [k] mycrate::foo  memcpy");
        assert_eq!(demangle_line("a_Rb _Rnot"), "a_Rb _Rnot");
    }

    #[test]
    fn summary_lists_top_rows_per_profile() {
        let report = "handles-c flat: # Samples: 10\n\
                      handles-c flat:     50.00%  [k] a\n\
                      handles-c flat:     40.00%  [k] b\n\
                      payload-c flat:     90.00%  [k] c\n\
                      payload-c children:     90.00%  [k] c\n";
        assert_eq!(
            summary(report),
            "profile handles-c, top symbols (self):\n  50.00%  [k] a\n  40.00%  [k] b\n\
             profile payload-c, top symbols (self):\n  90.00%  [k] c\n"
        );
    }
}
