//! Build: the kernel (through kunit.py, so KUnit's own config handling applies), its rustdoc,
//! and the statically linked userspace programs that run inside the VM.

use crate::cmd::{self, Outcome};
use crate::layout::{Layout, Profile};
use crate::setup::Toolchain;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Number of parallel make jobs: every core of the machine.
fn jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Builds the kernel and its modules for `profile` in its `O=` directory.
///
/// The test profile builds with `CLIPPY=1`, so clippy's lints appear in the build log.
pub fn kernel(
    layout: &Layout,
    tc: &Toolchain,
    profile: Profile,
    log: &Path,
) -> Result<Outcome, String> {
    let mut kunit = tc.command("python3");
    kunit
        .current_dir(layout.src())
        .arg("tools/testing/kunit/kunit.py")
        .args(["build", "--arch=x86_64", "--make_options", "LLVM=1"])
        .args(if profile == Profile::Test {
            &["--make_options", "CLIPPY=1"][..]
        } else {
            &[][..]
        })
        .arg(format!("--jobs={}", jobs()))
        .arg(format!(
            "--build_dir={}",
            layout.build_dir(profile).display()
        ))
        .arg(format!(
            "--kunitconfig={}",
            layout.kconfig(profile).display()
        ));
    cmd::run_logged(kunit, log, Some(Duration::from_secs(80 * 60)))
}

/// Runs `make rustdoc` in the build directory of `profile`.
pub fn rustdoc(
    layout: &Layout,
    tc: &Toolchain,
    profile: Profile,
    log: &Path,
) -> Result<Outcome, String> {
    let mut make = tc.command("make");
    make.current_dir(layout.src())
        .args(["ARCH=x86_64", "LLVM=1"])
        .arg(format!("O={}", layout.build_dir(profile).display()))
        .arg(format!("-j{}", jobs()))
        .arg("rustdoc");
    cmd::run_logged(make, log, Some(Duration::from_secs(30 * 60)))
}

/// The kernel image of a profile.
pub fn bzimage(layout: &Layout, profile: Profile) -> PathBuf {
    layout.build_dir(profile).join("arch/x86/boot/bzImage")
}

/// Diagnostics (warnings and errors of rustc, clippy, rustdoc and clang) whose location is one
/// of `ours` (kernel-tree relative paths). `src` is the absolute source tree prefix to strip.
pub fn diagnostics_in(output: &str, src: &Path, ours: &[String]) -> Vec<String> {
    let src = format!("{}/", src.display());
    let normalize = |path: &str| -> String {
        let mut p = path.trim().strip_prefix(&src).unwrap_or(path.trim());
        while let Some(rest) = p.strip_prefix("../") {
            p = rest;
        }
        p.strip_prefix("./").unwrap_or(p).to_string()
    };
    let is_ours = |path: &str| ours.iter().any(|o| *o == normalize(path));
    let lines: Vec<&str> = output.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let is_rust_headline = line.starts_with("warning") || line.starts_with("error");
        if is_rust_headline && !line.starts_with("warning: unused manifest key") {
            // rustc style: the location follows on a ` --> path:line:col` line.
            let location = lines[i + 1..]
                .iter()
                .take(4)
                .find_map(|l| l.trim_start().strip_prefix("--> "));
            if let Some(loc) = location {
                let path = loc.split(':').next().unwrap_or_default();
                if is_ours(path) {
                    found.push(format!("{}: {}", normalize(loc), line.trim()));
                }
            }
        } else if line.contains(": warning: ") || line.contains(": error: ") {
            // clang style: `path:line:col: warning: message`.
            let path = line.split(':').next().unwrap_or_default();
            if is_ours(path) {
                found.push(line.trim().to_string());
            }
        }
    }
    found
}

/// Builds the userspace programs (workspace members under `userspace/`) as static binaries and
/// returns their paths.
pub fn userspace(layout: &Layout, tc: &Toolchain, log: &Path) -> Result<Vec<PathBuf>, String> {
    const TARGET: &str = "x86_64-unknown-linux-gnu";
    let mut cargo = tc.command("cargo");
    cargo
        .current_dir(&layout.repo)
        .args(["build", "--release", "--target", TARGET])
        .args(["-p", "vm-selftest"])
        .env(
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS",
            "-C target-feature=+crt-static",
        );
    let outcome = cmd::run_logged(cargo, log, None)?;
    if !outcome.success {
        return Err(format!(
            "building the userspace programs failed (log: {})\n{}",
            log.display(),
            cmd::tail(&outcome.output, 20)
        ));
    }
    let dir = layout.repo.join("target").join(TARGET).join("release");
    Ok(vec![dir.join("vm-selftest")])
}

#[cfg(test)]
mod tests {
    use super::diagnostics_in;
    use std::path::Path;

    #[test]
    fn finds_rustc_and_clang_diagnostics_in_our_files_only() {
        let log = "\
warning: unused variable: `x`
  --> /cache/src/rust/kernel/bitmap.rs:10:9
   |
warning: this is in the base
  --> ../rust/kernel/sync.rs:3:1
error[E0308]: mismatched types
 --> ../rust/kernel/id_pool.rs:7:5
../rust/helpers/bitmap.c:4:2: warning: unused variable 'y' [-Wunused-variable]
../rust/helpers/page.c:4:2: warning: base helper
  CC      kernel/fork.o
";
        let ours = vec![
            "rust/kernel/bitmap.rs".to_string(),
            "rust/kernel/id_pool.rs".to_string(),
            "rust/helpers/bitmap.c".to_string(),
        ];
        let found = diagnostics_in(log, Path::new("/cache/src"), &ours);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("rust/kernel/bitmap.rs:10:9: warning: unused variable"));
        assert!(found[1].contains("error[E0308]"));
        assert!(found[2].contains("bitmap.c:4:2"));
    }
}
