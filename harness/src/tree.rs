//! The kernel source tree: the pristine base in a cached git repository, with our series on top.
//!
//! The base tarball is unpacked once and committed as the tag `base`. Each run builds the series
//! as commits on top of `base` in a private index (the work tree is not touched while doing so),
//! then checks the result out with `git checkout -f` and removes untracked files. Git rewrites
//! only the files whose content changed, so an edit to one `.rs` file leaves every other mtime
//! alone and the kernel build stays incremental, while a stale file from an earlier run (a
//! dropped overlay file, a hand edit in the cache) can never reach a build.

use crate::cmd;
use crate::layout::Layout;
use crate::series::{Identity, Series};
use crate::setup::{Toolchain, BASE_TARBALL};
use std::fs;
use std::path::Path;
use std::process::Command;

/// The base kernel the overlay is applied to.
pub struct Base {
    /// Kernel version from the base Makefile, e.g. `6.12.117`.
    pub version: String,
    /// Debian package version, e.g. `6.12.117-1`.
    pub package: String,
}

impl Base {
    /// One line for reports.
    pub fn describe(&self) -> String {
        format!(
            "Linux {} (Debian linux-source-6.12 {})",
            self.version, self.package
        )
    }
}

/// A `git` command on the repository at `dir`, with settings that keep it predictable.
pub fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .args([
            "-c",
            "core.autocrlf=false",
            "-c",
            "advice.detachedHead=false",
        ])
        .args([
            "-c",
            "user.name=binder-lite workbench",
            "-c",
            "user.email=wb@localhost",
        ]);
    c
}

/// Runs a git command and returns its trimmed output.
pub fn git_out(dir: &Path, args: &[&str]) -> Result<String, String> {
    let mut c = git(dir);
    c.args(args);
    cmd::output_of(&mut c).map(|s| s.trim().to_string())
}

/// Replaces `dir` with a new work tree of the repository `src` checked out at `rev`;
/// `options` go to `git worktree add` (`--detach`, or `-f -B <branch>`).
pub fn add_worktree(src: &Path, dir: &Path, options: &[&str], rev: &str) -> Result<(), String> {
    let _ = fs::remove_dir_all(dir);
    let _ = git_out(src, &["worktree", "prune"]);
    let dir = dir.to_string_lossy();
    let mut args = vec!["worktree", "add", "-q"];
    args.extend_from_slice(options);
    args.extend([dir.as_ref(), rev]);
    git_out(src, &args).map(drop)
}

fn base_id(toolchain: &Toolchain) -> Result<String, String> {
    let meta = fs::metadata(BASE_TARBALL).map_err(|e| format!("{BASE_TARBALL}: {e}"))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    Ok(format!(
        "{} {} {}",
        toolchain.base_package_version,
        meta.len(),
        mtime
    ))
}

/// The kernel version of a source tree, from its top Makefile (e.g. `6.12.117`).
pub fn read_version(src: &Path) -> Result<String, String> {
    let makefile = fs::read_to_string(src.join("Makefile"))
        .map_err(|e| format!("cannot read the base Makefile: {e}"))?;
    let field = |name: &str| {
        makefile
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim_start().strip_prefix('='))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    Ok(format!(
        "{}.{}.{}{}",
        field("VERSION"),
        field("PATCHLEVEL"),
        field("SUBLEVEL"),
        field("EXTRAVERSION")
    ))
}

/// Makes sure the cached base repository matches the installed base package, creating it
/// (unpack, commit, tag `base`) when it does not.
pub fn ensure_base(layout: &Layout, toolchain: &Toolchain) -> Result<Base, String> {
    let src = layout.src();
    let id = base_id(toolchain)?;
    let marker = src.join(".git/wb-base-id");
    let current = fs::read_to_string(&marker).unwrap_or_default();
    if current.trim() != id || git_out(&src, &["rev-parse", "-q", "--verify", "base"]).is_err() {
        println!("  unpacking {BASE_TARBALL} into {}", src.display());
        let unpack = layout.cache.join("unpack.tmp");
        let _ = fs::remove_dir_all(&unpack);
        let _ = fs::remove_dir_all(&src);
        let _ = fs::remove_dir_all(layout.am_check());
        fs::create_dir_all(&unpack).map_err(|e| e.to_string())?;
        let mut tar = Command::new("tar");
        tar.arg("-xf").arg(BASE_TARBALL).arg("-C").arg(&unpack);
        cmd::output_of(&mut tar)?;
        fs::rename(unpack.join("linux-source-6.12"), &src)
            .map_err(|e| format!("unexpected tarball layout: {e}"))?;
        let _ = fs::remove_dir_all(&unpack);
        let version = read_version(&src)?;
        git_out(&src, &["init", "-q", "-b", "overlay"])?;
        git_out(&src, &["config", "feature.manyFiles", "true"])?;
        git_out(&src, &["add", "-f", "-A", "."])?;
        git_out(
            &src,
            &[
                "commit",
                "-q",
                "-m",
                &format!(
                    "Linux {version} (Debian linux-source-6.12 {})",
                    toolchain.base_package_version
                ),
            ],
        )?;
        git_out(&src, &["tag", "-f", "base"])?;
        fs::write(&marker, &id).map_err(|e| e.to_string())?;
    }
    Ok(Base {
        version: read_version(&src)?,
        package: toolchain.base_package_version.clone(),
    })
}

/// Builds our series on top of `base` and checks it out as the source tree to build.
///
/// Returns the commit ids of the series, in order.
pub fn apply_overlay(
    layout: &Layout,
    series: &Series,
    who: &Identity,
) -> Result<Vec<String>, String> {
    let src = layout.src();
    series.check_new_files(&src, "base")?;
    let commits = series.commit(&src, &layout.repo, &layout.cache.join("overlay.index"), who)?;
    let head = commits.last().map_or("base", String::as_str);
    git_out(&src, &["checkout", "-q", "-f", "--detach", head])?;
    git_out(&src, &["clean", "-q", "-f", "-d", "-x"])?;
    Ok(commits)
}
