//! Set-up: makes sure the machine has what the other steps need, installing what it can.
//!
//! On a fresh Debian 12 machine, as root, this installs the apt packages, `rust-src` and a
//! pinned `bindgen-cli`. Anything it cannot install ends the run with one message naming the
//! package and the command to run.

use crate::cmd;
use crate::layout::Layout;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian packages the harness needs, with the command each one provides (for messages).
const APT_PACKAGES: &[&str] = &[
    "clang",
    "lld",
    "llvm",
    "libclang-dev",
    "bc",
    "flex",
    "bison",
    "libelf-dev",
    "libssl-dev",
    "qemu-system-x86",
    "busybox-static",
    "cpio",
    "python3",
    "perl",
    "git",
    "xz-utils",
    "make",
];

/// The `bindgen-cli` version we install when none is present; 6.12 needs at least 0.65.1.
const BINDGEN_VERSION: &str = "0.73.2";
const BINDGEN_MIN: (u32, u32, u32) = (0, 65, 1);

/// The Debian package of the base source.
pub const BASE_PACKAGE: &str = "linux-source-6.12";

/// The file naming the exact base package version (repository-relative).
pub const BASE_VERSION_FILE: &str = "series/base-version";

/// Where Debian's `linux-source-6.12` puts the source tarball.
pub const BASE_TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";

/// What the later steps need to know about the tools.
pub struct Toolchain {
    /// `PATH` with cargo's and the fallback compiler's directories in front.
    pub path: OsString,
    /// The Debian version of the base package, e.g. `6.12.117-1`.
    pub base_package_version: String,
}

impl Toolchain {
    /// A command that finds our tools on its `PATH`.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PATH", &self.path);
        cmd
    }
}

/// Checks and installs everything; returns the toolchain or a message saying what to do.
pub fn ensure(layout: &Layout) -> Result<Toolchain, String> {
    std::fs::create_dir_all(layout.logs())
        .map_err(|e| format!("cannot create {}: {e}", layout.logs().display()))?;
    ensure_apt_packages(layout)?;

    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".cargo/bin"));
    }
    let fallback_rust = Path::new("/usr/lib/rust-web/bin");
    if fallback_rust.is_dir() && which("rustup", &path_with(&dirs)).is_none() {
        dirs.push(fallback_rust.to_path_buf());
    }
    let path = path_with(&dirs);
    let toolchain = Toolchain {
        path,
        base_package_version: package_version(BASE_PACKAGE)?,
    };
    ensure_rust_src(&toolchain, layout)?;
    ensure_bindgen(&toolchain, layout)?;
    Ok(toolchain)
}

fn path_with(dirs: &[PathBuf]) -> OsString {
    let current = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    let mut all: Vec<PathBuf> = dirs.to_vec();
    all.extend(std::env::split_paths(&current));
    std::env::join_paths(all).unwrap_or(current)
}

fn which(program: &str, path: &OsString) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    cmd::output_of(Command::new("id").arg("-u")).is_ok_and(|s| s.trim() == "0")
}

fn package_version(package: &str) -> Result<String, String> {
    let mut q = Command::new("dpkg-query");
    q.args(["-W", "-f=${Version}", package]);
    cmd::output_of(&mut q).map(|s| s.trim().to_string())
}

fn package_installed(package: &str) -> bool {
    let mut q = Command::new("dpkg-query");
    q.args(["-W", "-f=${Status}", package]);
    cmd::output_of(&mut q).is_ok_and(|s| s.ends_with("installed") && !s.contains("not-installed"))
}

/// Installs the packages the harness needs that are missing, and exactly the pinned version of
/// the base package (upgrading or downgrading it), in one `apt-get install`.
fn ensure_apt_packages(layout: &Layout) -> Result<(), String> {
    let file = layout.repo.join(BASE_VERSION_FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let base = pinned_base_version(&text)
        .ok_or_else(|| format!("{BASE_VERSION_FILE} names no version"))?;
    let mut missing: Vec<String> = APT_PACKAGES
        .iter()
        .filter(|p| !package_installed(p))
        .map(ToString::to_string)
        .collect();
    let base_ok = package_installed(BASE_PACKAGE) && package_version(BASE_PACKAGE)? == base;
    if !base_ok {
        missing.push(format!("{BASE_PACKAGE}={base}"));
    }
    if missing.is_empty() {
        return Ok(());
    }
    let wanted = missing.join(" ");
    let advice = format!("apt-get update && apt-get install -y --allow-downgrades {wanted}");
    if !is_root() || !Path::new("/usr/bin/apt-get").exists() {
        return Err(format!(
            "missing packages: {wanted} (the base version is pinned in {BASE_VERSION_FILE})\n  \
             install them with: sudo sh -c '{advice}'"
        ));
    }
    println!("  installing {wanted}");
    let log = layout.logs().join("setup-apt.log");
    let update = apt_get(["update"]);
    let mut install = apt_install(&missing);
    install.arg("--allow-downgrades");
    for step in [update, install] {
        let outcome = cmd::run_logged(step, &log, None)?;
        if !outcome.success {
            return Err(format!(
                "could not install {wanted} (log: {})\n{}\n  run by hand: {advice}\n  \
                 (`apt-cache policy {BASE_PACKAGE}` lists the base versions apt offers)",
                log.display(),
                cmd::tail(&outcome.output, 10)
            ));
        }
    }
    Ok(())
}

/// `apt-get ARGS`, without questions.
fn apt_get<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(args: I) -> Command {
    let mut apt = Command::new("apt-get");
    apt.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    apt
}

/// `apt-get install` of `packages`, without questions or recommended packages.
fn apt_install<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(packages: I) -> Command {
    let mut install = apt_get(["install", "-y", "--no-install-recommends"]);
    install.args(packages);
    install
}

/// `perf` (Debian's `linux-perf`), for `make bench PROFILE=1`: installs it if missing.
pub fn ensure_perf(layout: &Layout) -> Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    if let Some(perf) = which("perf", &path) {
        return Ok(perf);
    }
    let advice = "apt-get update && apt-get install -y linux-perf";
    if !is_root() || !Path::new("/usr/bin/apt-get").exists() {
        return Err(format!(
            "perf is missing: install it with: sudo sh -c '{advice}'"
        ));
    }
    println!("  installing linux-perf");
    let log = layout.logs().join("setup-apt.log");
    for step in [apt_get(["update"]), apt_install(["linux-perf"])] {
        let outcome = cmd::run_logged(step, &log, None)?;
        if !outcome.success {
            return Err(format!(
                "could not install linux-perf (log: {})\n  run by hand: {advice}",
                log.display()
            ));
        }
    }
    which("perf", &path).ok_or_else(|| "linux-perf is installed but perf is not on PATH".into())
}

/// The base package version named in [`BASE_VERSION_FILE`]: its first line that is not empty
/// or a `#` comment.
pub fn pinned_base_version(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

fn ensure_rust_src(tc: &Toolchain, layout: &Layout) -> Result<(), String> {
    let has_src = || {
        cmd::output_of(tc.command("rustc").args(["--print", "sysroot"]))
            .map(|root| {
                Path::new(root.trim())
                    .join("lib/rustlib/src/rust/library/core/src/lib.rs")
                    .is_file()
            })
            .unwrap_or(false)
    };
    if has_src() {
        return Ok(());
    }
    let log = layout.logs().join("setup-rust-src.log");
    if which("rustup", &tc.path).is_some() {
        println!("  installing rust-src with rustup");
        let mut add = tc.command("rustup");
        add.args(["component", "add", "rust-src"]);
        cmd::run_logged(add, &log, None)?;
    } else if is_root() {
        println!("  no rustup: installing Debian's rustc-web and rust-web-src");
        cmd::run_logged(apt_install(["rustc-web", "rust-web-src"]), &log, None)?;
    }
    if has_src() {
        Ok(())
    } else {
        Err(
            "the Rust standard library source is missing\n  install it with: \
             rustup component add rust-src   (or: apt-get install rustc-web rust-web-src)"
                .to_string(),
        )
    }
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let v = text
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

fn ensure_bindgen(tc: &Toolchain, layout: &Layout) -> Result<(), String> {
    let current = cmd::output_of(tc.command("bindgen").arg("--version"))
        .ok()
        .and_then(|v| parse_version(&v));
    if current.is_some_and(|v| v >= BINDGEN_MIN) {
        return Ok(());
    }
    println!("  installing bindgen-cli {BINDGEN_VERSION} (cargo install --locked, ~2 min)");
    let log = layout.logs().join("setup-bindgen.log");
    let mut install = tc.command("cargo");
    install.args([
        "install",
        "--locked",
        "bindgen-cli",
        "--version",
        BINDGEN_VERSION,
    ]);
    let outcome = cmd::run_logged(install, &log, None)?;
    if !outcome.success {
        return Err(format!(
            "could not install bindgen-cli (log: {})\n  run by hand: cargo install --locked \
             bindgen-cli --version {BINDGEN_VERSION}",
            log.display()
        ));
    }
    Ok(())
}

/// The oldest rustc and bindgen the base supports (its `scripts/min-tool-version.sh`),
/// installed next to the current ones: rustc with rustup, bindgen in the cache.
pub struct MinToolchain {
    /// The rustc version, e.g. `1.78.0`: a rustup toolchain name.
    pub rustc: String,
    /// The bindgen version, e.g. `0.65.1`.
    pub bindgen: String,
    /// `PATH` with this bindgen in front of the one of the current toolchain.
    path: OsString,
}

impl MinToolchain {
    /// Makes `cmd` (and the `make` it runs) use this rustc and bindgen.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("RUSTUP_TOOLCHAIN", &self.rustc)
            .env("PATH", &self.path);
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        format!("rustc {} + bindgen {}", self.rustc, self.bindgen)
    }
}

/// Reads the minimum version of `tool` from the base tree at `src`.
fn min_tool_version(tc: &Toolchain, src: &Path, tool: &str) -> Result<String, String> {
    let mut sh = tc.command("sh");
    sh.current_dir(src)
        .args(["scripts/min-tool-version.sh", tool]);
    cmd::output_of(&mut sh)
        .map(|v| v.trim().to_string())
        .map_err(|e| format!("scripts/min-tool-version.sh {tool}: {e}"))
}

/// Installs (once) and returns the base's minimum rustc and bindgen.
pub fn ensure_min_toolchain(tc: &Toolchain, layout: &Layout) -> Result<MinToolchain, String> {
    let rustc = min_tool_version(tc, &layout.src(), "rustc")?;
    let bindgen = min_tool_version(tc, &layout.src(), "bindgen")?;
    let log = layout.logs().join("setup-min-toolchain.log");
    if which("rustup", &tc.path).is_none() {
        return Err(format!(
            "building with rustc {rustc} needs rustup (https://rustup.rs); \
             Debian's rustc-web cannot provide an older compiler"
        ));
    }
    let sysroot = cmd::output_of(
        tc.command("rustc")
            .env("RUSTUP_TOOLCHAIN", &rustc)
            .args(["--print", "sysroot"]),
    );
    let has_src = sysroot.is_ok_and(|root| {
        Path::new(root.trim())
            .join("lib/rustlib/src/rust/library/core/src/lib.rs")
            .is_file()
    });
    if !has_src {
        println!("  installing rustc {rustc} with rust-src, rustfmt and clippy (rustup)");
        let mut install = tc.command("rustup");
        install.args(["toolchain", "install", &rustc, "--profile", "minimal"]);
        install.args(["-c", "rust-src", "-c", "rustfmt", "-c", "clippy"]);
        let outcome = cmd::run_logged(install, &log, None)?;
        if !outcome.success {
            return Err(format!(
                "could not install rustc {rustc} (log: {})\n  run by hand: rustup toolchain \
                 install {rustc} -c rust-src -c rustfmt -c clippy",
                log.display()
            ));
        }
    }
    let root = layout.tools().join(format!("bindgen-{bindgen}"));
    let bin = root.join("bin");
    let installed = cmd::output_of(Command::new(bin.join("bindgen")).arg("--version"))
        .ok()
        .and_then(|v| parse_version(&v));
    if installed != parse_version(&format!("bindgen {bindgen}")) {
        println!(
            "  installing bindgen-cli {bindgen} into {} (~1 min)",
            root.display()
        );
        let mut install = tc.command("cargo");
        install
            .args(["install", "--locked", "bindgen-cli", "--version", &bindgen])
            .arg("--root")
            .arg(&root);
        let outcome = cmd::run_logged(install, &log, None)?;
        if !outcome.success {
            return Err(format!(
                "could not install bindgen-cli {bindgen} (log: {})",
                log.display()
            ));
        }
    }
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&tc.path));
    let path = std::env::join_paths(dirs).map_err(|e| e.to_string())?;
    Ok(MinToolchain {
        rustc,
        bindgen,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn reads_the_pinned_base_version() {
        let text = "# comment\n\n  6.12.117-1~deb12u1  \n6.12.115\n";
        assert_eq!(super::pinned_base_version(text), Some("6.12.117-1~deb12u1"));
        assert_eq!(super::pinned_base_version("# only a comment\n"), None);
    }

    #[test]
    fn bindgen_versions_compare() {
        assert_eq!(parse_version("bindgen 0.73.2"), Some((0, 73, 2)));
        assert!(parse_version("bindgen 0.65.1").unwrap() >= super::BINDGEN_MIN);
        assert!(parse_version("bindgen 0.60.0").unwrap() < super::BINDGEN_MIN);
        assert_eq!(parse_version("bindgen"), None);
    }
}
