//! Build: the kernel (through kunit.py, so KUnit's own config handling applies), its rustdoc,
//! and the statically linked userspace programs that run inside the VM.

use crate::cmd::{self, Outcome};
use crate::layout::{Layout, Profile};
use crate::setup::{MinToolchain, Toolchain};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `KRUSTFLAGS` of the stress kernel: sanitizer coverage of every edge, through
/// `__sanitizer_cov_trace_pc`, which KCOV implements.
const KCOV_RUSTFLAGS: &str = "KRUSTFLAGS=-Cpasses=sancov-module \
     -Cllvm-args=-sanitizer-coverage-level=3 -Cllvm-args=-sanitizer-coverage-trace-pc";

/// Number of parallel make jobs: every core of the machine.
fn jobs() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Builds the kernel and its modules for `profile` in its `O=` directory.
///
/// Every profile builds with `CLIPPY=1`, so clippy's lints appear in the build log. With `min`,
/// rustc, clippy and bindgen are the base's minimum versions.
pub fn kernel(
    layout: &Layout,
    tc: &Toolchain,
    profile: Profile,
    min: Option<&MinToolchain>,
    log: &Path,
) -> Result<Outcome, String> {
    let mut kunit = tc.command("python3");
    if let Some(min) = min {
        min.apply(&mut kunit);
    }
    kunit
        .current_dir(layout.src())
        .arg("tools/testing/kunit/kunit.py")
        .args(["build", "--arch=x86_64", "--make_options", "LLVM=1"])
        .args(["--make_options", "CLIPPY=1"])
        .arg(format!("--jobs={}", jobs()))
        .arg(format!(
            "--build_dir={}",
            layout.build_dir(profile).display()
        ))
        .arg(format!(
            "--kunitconfig={}",
            layout.kconfig(profile).display()
        ));
    if profile == Profile::Stress {
        // KCOV of 6.12 instruments C only; these are the flags that instrument Rust code the
        // same way (as later kernels do with CONFIG_KCOV), so that the fuzzer sees binder-lite.
        kunit.args(["--make_options", KCOV_RUSTFLAGS]);
    }
    let dir = layout.build_dir(profile);
    let count_file = dir.join(".wb-object-count");
    let expected: Option<usize> = std::fs::read_to_string(&count_file)
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let start = std::time::SystemTime::now();
    let status = || {
        let (present, fresh) = count_objects(&dir, start);
        Some(format!(
            "build-{}: {present}/{} objects, {fresh} rebuilt",
            profile.name(),
            objects_expected(expected, profile)
        ))
    };
    let outcome = cmd::run_with_progress(kunit, log, Some(Duration::from_secs(80 * 60)), &status)?;
    if outcome.success {
        let (present, _) = count_objects(&dir, start);
        let _ = std::fs::write(&count_file, present.to_string());
    }
    Ok(outcome)
}

/// The number of objects a build of `profile` is expected to have: that of its last build, or
/// before the first (a cold build), about what it had on 6.12.117 (measured 2026-12-01; `.o`
/// files, modules' included), marked as approximate.
fn objects_expected(last_build: Option<usize>, profile: Profile) -> String {
    if let Some(n) = last_build {
        return n.to_string();
    }
    let typical = match profile {
        Profile::Test => 1285,
        Profile::Bench => 1231,
        Profile::MinToolchain | Profile::KunitModule => 1195,
        Profile::Stress => 1282,
    };
    format!("~{typical}")
}

/// Counts the object files under `dir`: all of them, and those written since `since`.
fn count_objects(dir: &Path, since: std::time::SystemTime) -> (usize, usize) {
    let (mut present, mut fresh) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "o") {
                present += 1;
                let modified = entry.metadata().and_then(|m| m.modified());
                if modified.is_ok_and(|t| t >= since) {
                    fresh += 1;
                }
            }
        }
    }
    (present, fresh)
}

/// Builds the out-of-tree module at `module_dir` (repository-relative) against the kernel of
/// `profile`, as a driver author builds theirs (`make M=`), with `CLIPPY=1`. The sources are
/// copied into the cache first, so the build products stay out of the repository. Returns the
/// outcome and the path of the `.ko`.
pub fn external_module(
    layout: &Layout,
    tc: &Toolchain,
    profile: Profile,
    min: Option<&MinToolchain>,
    module_dir: &str,
    log: &Path,
) -> Result<(Outcome, PathBuf), String> {
    let source = layout.repo.join(module_dir);
    let name = source
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("bad module directory {module_dir}"))?
        .to_string();
    let dir = layout.external_build(profile, &name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let entries = std::fs::read_dir(&source).map_err(|e| format!("{module_dir}: {e}"))?;
    for entry in entries.flatten() {
        let from = entry.path();
        let to = dir.join(entry.file_name());
        let new = std::fs::read(&from).map_err(|e| format!("{}: {e}", from.display()))?;
        // Rewrite only what changed, so that make rebuilds only when needed.
        if std::fs::read(&to).ok().as_deref() != Some(new.as_slice()) {
            std::fs::write(&to, new).map_err(|e| format!("{}: {e}", to.display()))?;
        }
    }
    let mut make = tc.command("make");
    if let Some(min) = min {
        min.apply(&mut make);
    }
    make.current_dir(layout.src())
        .args(["ARCH=x86_64", "LLVM=1", "CLIPPY=1"])
        .arg(format!("O={}", layout.build_dir(profile).display()))
        .arg(format!("M={}", dir.display()))
        .arg(format!("-j{}", jobs()))
        .arg("modules");
    let outcome = cmd::run_logged(make, log, Some(Duration::from_secs(20 * 60)))?;
    Ok((outcome, dir.join(format!("{name}.ko"))))
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

/// The generated file of the kernel crate's doctests, relative to the build directory.
pub const DOCTESTS_GENERATED: &str = "rust/doctests_kernel_generated.rs";

/// Diagnostics located in the generated doctests (`generated`, the content of
/// [`DOCTESTS_GENERATED`]) whose doctest comes from one of `ours`: each is reported at its
/// doctest's `path:line`, which the generated test prints as its KTAP `location`.
pub fn doctest_diagnostics_in(output: &str, generated: &str, ours: &[String]) -> Vec<String> {
    let generated: Vec<&str> = generated.lines().collect();
    let origin = |line: usize| -> Option<&str> {
        generated
            .get(..line)?
            .iter()
            .rev()
            .find_map(|l| l.split(".location: ").nth(1))
            .and_then(|rest| rest.split('\\').next())
    };
    let lines: Vec<&str> = output.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if !(line.starts_with("warning") || line.starts_with("error")) {
            continue;
        }
        let location = lines[i + 1..]
            .iter()
            .take(4)
            .find_map(|l| l.trim_start().strip_prefix("--> "));
        let Some(loc) = location else { continue };
        let mut parts = loc.split(':');
        if !parts
            .next()
            .is_some_and(|p| p.ends_with(DOCTESTS_GENERATED))
        {
            continue;
        }
        let Some(source) = parts.next().and_then(|n| n.parse().ok()).and_then(origin) else {
            continue;
        };
        let path = source.split(':').next().unwrap_or_default();
        if ours.iter().any(|o| o == path) {
            found.push(format!("{source}: doctest: {}", line.trim()));
        }
    }
    found
}

/// Type aliases the generated bindings expect from the kernel crate (`ffi`) and from the types
/// the kernel's bindgen invocation blocklists.
const LAYOUT_PRELUDE: &str = "#![allow(warnings)]
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;
mod ffi {
    pub type c_char = i8;
    pub type c_schar = i8;
    pub type c_uchar = u8;
    pub type c_short = i16;
    pub type c_ushort = u16;
    pub type c_int = i32;
    pub type c_uint = u32;
    pub type c_long = i64;
    pub type c_ulong = u64;
    pub type c_longlong = i64;
    pub type c_ulonglong = u64;
    pub use core::ffi::c_void;
}
";

/// Checks that rustc lays out the generated bindings as clang lays out the C types.
///
/// The kernel runs bindgen with `--no-layout-tests`; this reruns the exact command of the
/// build with the layout tests on, compiles them for the host and runs them. A mismatch means
/// Rust code reads C structures at wrong offsets (as `task_struct` with `SCHEDSTATS=n`).
/// Returns the failed assertions (e.g. `Offset of field: task_struct::stats`).
pub fn bindgen_layout(
    layout: &Layout,
    tc: &Toolchain,
    profile: Profile,
) -> Result<Vec<String>, String> {
    let build_dir = layout.build_dir(profile);
    let cmd_file = build_dir.join("rust/bindings/.bindings_generated.rs.cmd");
    let saved =
        std::fs::read_to_string(&cmd_file).map_err(|e| format!("{}: {e}", cmd_file.display()))?;
    let command = saved
        .lines()
        .find_map(|l| l.split_once(" := ").map(|(_, c)| c.to_string()))
        .ok_or_else(|| format!("{}: no command", cmd_file.display()))?;
    let work = layout.cache.join("layout");
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let generated = work.join("bindings_layout.rs");
    let command = command
        .replace(" --no-layout-tests", "")
        .replace("-Wp,-MMD,rust/bindings/.bindings_generated.rs.d", "")
        .replace(
            "-o rust/bindings/bindings_generated.rs",
            &format!("-o {}", generated.display()),
        );
    let log = layout.logs().join("bindgen-layout.log");
    let mut bindgen = tc.command("sh");
    bindgen.current_dir(&build_dir).arg("-c").arg(&command);
    let outcome = cmd::run_logged(bindgen, &log, None)?;
    if !outcome.success {
        return Err(format!(
            "bindgen with layout tests failed (log: {})",
            log.display()
        ));
    }
    let source = work.join("layout_tests.rs");
    let body = std::fs::read_to_string(&generated).map_err(|e| e.to_string())?;
    std::fs::write(&source, format!("{LAYOUT_PRELUDE}{body}")).map_err(|e| e.to_string())?;
    let binary = work.join("layout_tests");
    let mut rustc = tc.command("rustc");
    rustc
        .args(["--test", "--edition", "2021", "-C", "opt-level=0", "-o"])
        .arg(&binary)
        .arg(&source);
    let outcome = cmd::run_logged(rustc, &log, None)?;
    if !outcome.success {
        return Err(format!(
            "compiling the layout tests failed (log: {})",
            log.display()
        ));
    }
    let outcome = cmd::run_logged(std::process::Command::new(&binary), &log, None)?;
    let mut failures: Vec<String> = outcome
        .output
        .lines()
        .filter_map(|l| {
            l.split_once("` failed: ")
                .map(|(_, what)| what.trim().to_string())
        })
        .collect();
    failures.sort();
    failures.dedup();
    if !outcome.success && failures.is_empty() {
        return Err(format!(
            "the layout tests failed to run (log: {})",
            log.display()
        ));
    }
    Ok(failures)
}

/// The workspace of the rsbinder programs, apart from the main one so that rsbinder and its
/// dependencies stay out of the host checks' `cargo test --workspace`; its `Cargo.lock` pins
/// them.
pub const RSBINDER_MANIFEST: &str = "userspace/rsbinder-interop/Cargo.toml";

/// The programs of the test VM.
pub struct Programs {
    /// What `/init` runs as tests (in `/tests`).
    pub tests: Vec<PathBuf>,
    /// What the tests start (in `/bin`): `rsb_hub`, rsbinder's service manager.
    pub helpers: Vec<PathBuf>,
}

/// Builds the userspace programs as static binaries and returns their paths: the main
/// workspace's members under `userspace/`, and the rsbinder workspace ([`RSBINDER_MANIFEST`])
/// with `rsb_hub`, which `cargo build -p` builds from the rsbinder-tools that its lock file
/// pins. Both build into the repository's `target/`.
pub fn userspace(layout: &Layout, tc: &Toolchain, log: &Path) -> Result<Programs, String> {
    const TARGET: &str = "x86_64-unknown-linux-gnu";
    let target_dir = layout.repo.join("target");
    let main = [
        "-p",
        "vm-selftest",
        "-p",
        "binder-conformance",
        "-p",
        "binder-fuzz",
        "-p",
        "binder-bench",
    ];
    let rsbinder = [
        "--locked",
        "--manifest-path",
        RSBINDER_MANIFEST,
        "-p",
        "rsbinder-interop",
        "--bin",
        "rsbinder-interop",
        "-p",
        "rsbinder-tools",
        "--bin",
        "rsb_hub",
    ];
    for args in [&main[..], &rsbinder[..]] {
        let mut cargo = tc.command("cargo");
        cargo
            .current_dir(&layout.repo)
            .args(["build", "--release", "--target", TARGET, "--target-dir"])
            .arg(&target_dir)
            .args(args)
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
    }
    let dir = target_dir.join(TARGET).join("release");
    Ok(Programs {
        tests: vec![
            dir.join("binder-bench"),
            dir.join("vm-selftest"),
            dir.join("binder-conformance"),
            dir.join("binder-fuzz"),
            dir.join("rsbinder-interop"),
        ],
        helpers: vec![dir.join("rsb_hub")],
    })
}

#[cfg(test)]
mod tests {
    use super::{diagnostics_in, doctest_diagnostics_in, objects_expected};
    use crate::layout::Profile;
    use std::path::Path;

    #[test]
    fn a_cold_build_shows_progress_against_a_typical_count() {
        assert_eq!(objects_expected(Some(1290), Profile::Test), "1290");
        assert_eq!(objects_expected(None, Profile::Test), "~1285");
        assert_eq!(objects_expected(None, Profile::KunitModule), "~1195");
    }

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

    #[test]
    fn finds_doctest_diagnostics_at_their_doctest() {
        let generated = "\
pub extern \"C\" fn rust_doctest_kernel_bitmap_rs_0(t: *mut kunit) {
    kernel::kunit::info(format_args!(\"    # rust_doctest_kernel_bitmap_rs_0.location: rust/kernel/bitmap.rs:42\\n\"));
    drop(x);
}
pub extern \"C\" fn rust_doctest_kernel_sync_rs_0(t: *mut kunit) {
    kernel::kunit::info(format_args!(\"    # rust_doctest_kernel_sync_rs_0.location: rust/kernel/sync.rs:7\\n\"));
    drop(y);
}
";
        let log = "\
warning: call to `std::mem::drop` with a value that does not implement `Drop`
     --> rust/doctests_kernel_generated.rs:3:1
warning: call to `std::mem::drop` with a value that does not implement `Drop`
     --> rust/doctests_kernel_generated.rs:7:1
warning: unused variable: `z`
  --> ../rust/kernel/bitmap.rs:10:9
";
        let ours = vec!["rust/kernel/bitmap.rs".to_string()];
        let found = doctest_diagnostics_in(log, generated, &ours);
        assert_eq!(
            found,
            vec!["rust/kernel/bitmap.rs:42: doctest: warning: call to `std::mem::drop` with a value that does not implement `Drop`"]
        );
    }
}
