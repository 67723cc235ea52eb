//! The per-patch build check (`make series-check`): `git bisect` must work through the series,
//! so the tree after every patch must build, without a warning in our files.
//!
//! Each prefix of the series is checked out in its own work tree (`<cache>/bisect-src`, a
//! `git worktree` of the source repository, so the tree `make test` builds is never touched)
//! and built incrementally in its own `O=` directory (`<cache>/build-bisect`) with a small
//! configuration (`kconfig/bisect.config`: no KASAN, lockdep or kmemleak, no doctests). Git
//! rewrites only the files a patch changes, so each step rebuilds what that patch affects.
//!
//! Each step also runs rustfmt on the Rust files the patch changes. What one step builds:
//! `make samples/rust/`, which first builds the whole `rust/` directory
//! (kbuild's `prepare` does: bindings, C helpers, the `kernel` crate with clippy) and then the
//! Rust samples' objects. It does not link vmlinux, run modpost, or run the doctests (`make
//! test` does all of that for the whole series), and compiles the doctests only when asked
//! (`make series-check DOCTESTS=1`). Patches that only change Documentation/
//! or MAINTAINERS are not built (nothing they change is compiled).

use crate::build::diagnostics_in;
use crate::cmd;
use crate::layout::Layout;
use crate::report::Tally;
use crate::series::{Identity, Series};
use crate::setup::Toolchain;
use crate::tree::git_out;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

fn jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Whether a patch changes nothing that kbuild compiles.
fn docs_only(paths: &[String]) -> bool {
    paths
        .iter()
        .all(|p| p.starts_with("Documentation/") || p == "MAINTAINERS")
}

/// Builds every prefix of the series; one check per patch. With `doctests`, each step also
/// compiles the KUnit doctests of the kernel crate (`CONFIG_RUST_KERNEL_DOCTESTS`, in a build
/// directory of its own), which takes about twice as long.
pub fn run(
    layout: &Layout,
    tc: &Toolchain,
    series: &Series,
    doctests: bool,
) -> Result<Tally, String> {
    let src = layout.src();
    let tree = layout.cache.join("bisect-src");
    let build = layout.cache.join(if doctests {
        "build-bisect-doctests"
    } else {
        "build-bisect"
    });
    let logs = layout.logs();
    series.check_new_files(&src, "base")?;
    let who = Identity::of_repo(&layout.repo);
    let commits = series.commit(&src, &layout.repo, &layout.cache.join("bisect.index"), &who)?;
    if !crate::edit::is_worktree(&tree) {
        println!("  checking out a work tree of its own: {}", tree.display());
        crate::tree::add_worktree(&src, &tree, &["--detach"], "base")?;
    }
    fs::create_dir_all(&build).map_err(|e| format!("{}: {e}", build.display()))?;
    let mut fragment = fs::read_to_string(layout.repo.join("kconfig/bisect.config"))
        .map_err(|e| format!("kconfig/bisect.config: {e}"))?;
    if doctests {
        fragment.push_str("CONFIG_RUST_KERNEL_DOCTESTS=y\n");
    }
    let mut tally = Tally::default();
    let total = commits.len();
    for (i, commit) in commits.iter().enumerate() {
        let subject = git_out(&src, &["log", "-1", "--format=%s", commit])?;
        let changed: Vec<String> = git_out(
            &src,
            &["diff", "--name-only", &format!("{commit}^"), commit],
        )?
        .lines()
        .map(str::to_string)
        .collect();
        if docs_only(&changed) {
            println!(
                "  [{:>2}/{total}] {subject}: documentation only, not built",
                i + 1
            );
            tally.passed += 1;
            continue;
        }
        let started = Instant::now();
        git_out(&tree, &["checkout", "-q", "-f", "--detach", commit])?;
        git_out(&tree, &["clean", "-q", "-f", "-d", "-x"])?;
        // The configuration is made again for each patch: a sample's symbol only exists from
        // the patch that adds its Kconfig entry on, and olddefconfig drops unknown symbols.
        fs::write(build.join(".config"), &fragment).map_err(|e| e.to_string())?;
        let log = logs.join(format!("series-check-{:02}.log", i + 1));
        let make = |targets: &[&str]| {
            let mut m = tc.command("make");
            m.current_dir(&tree)
                .args(["ARCH=x86_64", "LLVM=1", "CLIPPY=1"])
                .arg(format!("O={}", build.display()))
                .arg(format!("-j{}", jobs()))
                .args(targets);
            m
        };
        let config = cmd::run_logged(make(&["olddefconfig"]), &log, None)?;
        let outcome = if config.success {
            cmd::run_logged(
                make(&["samples/rust/"]),
                &logs.join(format!("series-check-{:02}.build.log", i + 1)),
                Some(Duration::from_secs(60 * 60)),
            )?
        } else {
            config
        };
        let ours = series_paths_until(series, i, &layout.repo);
        let mut diagnostics = diagnostics_in(&outcome.output, &tree, &ours);
        diagnostics.extend(unformatted(tc, &tree, &changed, &log)?);
        let secs = started.elapsed().as_secs();
        let verdict = if !outcome.success {
            "FAILED".to_string()
        } else if !diagnostics.is_empty() {
            format!("{} warnings", diagnostics.len())
        } else {
            "ok".to_string()
        };
        println!(
            "  [{:>2}/{total}] {subject}: {verdict} ({}m{:02}s)",
            i + 1,
            secs / 60,
            secs % 60
        );
        let mut problems = diagnostics
            .iter()
            .map(|d| format!("patch {} ({subject}): {d}", i + 1))
            .collect::<Vec<_>>();
        if !outcome.success {
            problems.push(format!(
                "patch {} ({subject}) does not build (logs: {}):\n{}",
                i + 1,
                logs.join(format!("series-check-{:02}*.log", i + 1))
                    .display(),
                cmd::tail(&outcome.output, 30)
            ));
        }
        if problems.is_empty() {
            tally.passed += 1;
        } else {
            tally.failed += 1;
            tally.problems.extend(problems);
        }
    }
    Ok(tally)
}

/// The Rust files among `changed` that rustfmt (with the tree's `.rustfmt.toml`) would change.
fn unformatted(
    tc: &Toolchain,
    tree: &Path,
    changed: &[String],
    log: &Path,
) -> Result<Vec<String>, String> {
    let files: Vec<&String> = changed
        .iter()
        .filter(|f| f.ends_with(".rs") && tree.join(f).is_file())
        .collect();
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut rustfmt = tc.command("rustfmt");
    rustfmt
        .current_dir(tree)
        .args([
            "--check",
            "--edition",
            "2021",
            "--config-path",
            ".rustfmt.toml",
        ])
        .args(&files);
    let outcome = cmd::run_logged(rustfmt, &log.with_extension("rustfmt.log"), None)?;
    if outcome.success {
        return Ok(Vec::new());
    }
    Ok(outcome
        .output
        .lines()
        .filter_map(|l| l.strip_prefix("Diff in "))
        .map(|l| format!("rustfmt: {}", l.trim_end_matches(':')))
        .collect::<Vec<_>>())
    .map(|mut v| {
        if v.is_empty() {
            v.push("rustfmt --check failed".to_string());
        }
        v.dedup();
        v
    })
}

/// Our paths as of patch `i` (its files and the targets of its diffs and of earlier ones).
fn series_paths_until(series: &Series, i: usize, repo: &Path) -> Vec<String> {
    let mut paths = Vec::new();
    for patch in &series.patches[..=i] {
        paths.extend(patch.files.iter().cloned());
        for d in &patch.diffs {
            paths.extend(crate::series::diff_targets(
                &fs::read_to_string(repo.join(d)).unwrap_or_default(),
            ));
        }
    }
    // A file a later patch completes is ours from its first version on.
    for patch in &series.patches[i + 1..] {
        paths.extend(patch.files.iter().cloned());
    }
    paths.sort();
    paths.dedup();
    paths
}
