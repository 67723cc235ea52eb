//! Boot: an initramfs with busybox, our modules and test programs, booted under QEMU.
//!
//! The console (first serial port) is captured for the report scanner; the VM's `/init` writes
//! its KTAP results to the second serial port, so test results never mix with kernel messages.

use crate::cmd;
use crate::layout::Layout;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How QEMU runs the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualisation. Hangs at boot on some machines, so it is only used once a probe
    /// has seen a kernel boot with it.
    Kvm,
    /// Software emulation: slow, always works.
    Tcg,
}

impl Accel {
    /// The `-accel` argument.
    pub fn name(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// What the VM's `/init` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Load modules, run test programs, unload, scan for leaks; results as KTAP.
    Test,
    /// Run the demo script.
    Run,
    /// Load and unload each module; the modules print their measurements.
    Bench,
    /// Load binder-lite and run binder-bench's cases one by one under `perf record`.
    Profile,
    /// As `Test`, with the long budgets of the fuzzer and of the module cycles.
    Stress,
}

/// Files to put into an initramfs.
pub struct Contents {
    /// Kernel modules, loaded in this order.
    pub modules: Vec<PathBuf>,
    /// Test programs, run in this order.
    pub tests: Vec<PathBuf>,
    /// Programs the tests start (in `/bin`, which is on `PATH`).
    pub helpers: Vec<PathBuf>,
    /// Other files: (absolute path in the guest, file on the host); their directories are
    /// created.
    pub files: Vec<(String, PathBuf)>,
}

/// A finished VM run.
pub struct VmRun {
    /// Everything the kernel and `/init` printed on the console.
    pub console: String,
    /// What `/init` wrote to the results port (KTAP).
    pub results: String,
    /// Whether the run was killed at its time limit.
    pub timed_out: bool,
}

/// The busybox binary of Debian's busybox-static.
const BUSYBOX: &str = "/bin/busybox";

/// Writes the `gen_init_cpio` description of the initramfs.
fn cpio_spec(layout: &Layout, contents: &Contents) -> String {
    let mut spec = String::new();
    for dir in [
        "/bin", "/dev", "/proc", "/sys", "/tmp", "/modules", "/tests",
    ] {
        let _ = writeln!(spec, "dir {dir} 0755 0 0");
    }
    let mut dirs: Vec<&str> = Vec::new();
    for (guest, _) in &contents.files {
        let mut at = 0;
        while let Some(slash) = guest[at + 1..].find('/') {
            at += 1 + slash;
            let dir = &guest[..at];
            if !dirs.contains(&dir) {
                dirs.push(dir);
                let _ = writeln!(spec, "dir {dir} 0755 0 0");
            }
        }
    }
    for (guest, host) in &contents.files {
        let _ = writeln!(spec, "file {guest} {} 0755 0 0", host.display());
    }
    let _ = writeln!(spec, "nod /dev/console 0600 0 0 c 5 1");
    let _ = writeln!(spec, "file /bin/busybox {BUSYBOX} 0755 0 0");
    let _ = writeln!(spec, "slink /bin/sh busybox 0777 0 0");
    let vm = layout.repo.join("vm");
    let _ = writeln!(spec, "file /init {} 0755 0 0", vm.join("init").display());
    let _ = writeln!(spec, "file /demo {} 0755 0 0", vm.join("demo").display());
    for m in &contents.modules {
        let name = m.file_name().unwrap_or_default().to_string_lossy();
        let _ = writeln!(spec, "file /modules/{name} {} 0644 0 0", m.display());
    }
    for t in &contents.tests {
        let name = t.file_name().unwrap_or_default().to_string_lossy();
        let _ = writeln!(spec, "file /tests/{name} {} 0755 0 0", t.display());
    }
    for h in &contents.helpers {
        let name = h.file_name().unwrap_or_default().to_string_lossy();
        let _ = writeln!(spec, "file /bin/{name} {} 0755 0 0", h.display());
    }
    spec
}

/// Packs an initramfs with the kernel's own `usr/gen_init_cpio` from the build directory.
pub fn initramfs(
    layout: &Layout,
    build_dir: &Path,
    contents: &Contents,
) -> Result<PathBuf, String> {
    let work = layout.vm_work();
    fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let spec = work.join("initramfs.spec");
    fs::write(&spec, cpio_spec(layout, contents)).map_err(|e| e.to_string())?;
    let gen = build_dir.join("usr/gen_init_cpio");
    if !gen.is_file() {
        return Err(format!(
            "{} is missing: is CONFIG_BLK_DEV_INITRD set?",
            gen.display()
        ));
    }
    let out = work.join("initramfs.cpio");
    let mut c = Command::new(&gen);
    c.arg(&spec);
    let data = c
        .output()
        .map_err(|e| format!("cannot run {}: {e}", gen.display()))?;
    if !data.status.success() {
        return Err(format!(
            "gen_init_cpio failed: {}",
            String::from_utf8_lossy(&data.stderr)
        ));
    }
    fs::write(&out, data.stdout).map_err(|e| e.to_string())?;
    Ok(out)
}

fn qemu(
    kernel: &Path,
    initrd: Option<&Path>,
    append: &str,
    accel: Accel,
    results: &Path,
) -> Command {
    let mut c = Command::new("qemu-system-x86_64");
    c.args([
        "-nodefaults",
        "-nographic",
        "-no-reboot",
        "-m",
        "2048",
        "-smp",
        "2",
    ])
    .args(["-accel", accel.name()]);
    if Path::new("/usr/share/qemu/qboot.rom").is_file() {
        c.args(["-bios", "qboot.rom"]);
    }
    c.arg("-kernel").arg(kernel);
    if let Some(initrd) = initrd {
        c.arg("-initrd").arg(initrd);
    }
    c.args(["-append", append])
        .args(["-serial", "stdio"])
        .arg("-serial")
        .arg(format!("file:{}", results.display()));
    c
}

/// Boots `kernel` with `initrd`, giving up after `limit`.
pub fn run(
    layout: &Layout,
    kernel: &Path,
    initrd: &Path,
    mode: Mode,
    accel: Accel,
    limit: Duration,
    log: &Path,
) -> Result<VmRun, String> {
    let results = layout.vm_work().join("results.ktap");
    let _ = fs::remove_file(&results);
    let append = match mode {
        Mode::Test => "console=ttyS0 panic=-1 wb.mode=test",
        Mode::Run => "console=ttyS0 panic=-1 wb.mode=run",
        Mode::Bench => "console=ttyS0 panic=-1 wb.mode=bench kunit.enable=0",
        // One CPU: with two, a vCPU that the host deschedules while it holds a lock leaves the
        // other spinning, and on a loaded host most samples land in that spinning.
        Mode::Profile => "console=ttyS0 panic=-1 wb.mode=profile kunit.enable=0 maxcpus=1",
        // No KASLR: the fuzzer maps KCOV's PCs to /proc/kallsyms's symbols.
        Mode::Stress => "console=ttyS0 panic=-1 wb.mode=stress kunit.enable=0 nokaslr",
    };
    // A benchmark shows its progress and result lines while it runs.
    let echo = |line: &str| {
        let line = line.trim_end();
        let at = line
            .find("binder-bench: ")
            .or_else(|| line.find("wb: bench"))
            .or_else(|| {
                line.find("wb: profile")
                    .filter(|_| !line.contains(" flat: "))
            })
            .filter(|_| !line.contains(" children: "))?;
        matches!(mode, Mode::Bench | Mode::Profile).then(|| format!("  vm: {}", &line[at..]))
    };
    let outcome = cmd::run_echoing(
        qemu(kernel, Some(initrd), append, accel, &results),
        log,
        Some(limit),
        &|| None,
        &echo,
    )?;
    Ok(VmRun {
        console: outcome.output,
        results: fs::read_to_string(&results)
            .unwrap_or_default()
            .replace('\r', ""),
        timed_out: outcome.timed_out,
    })
}

/// Chooses the accelerator: `WB_ACCEL=kvm|tcg` if set; otherwise KVM only if `/dev/kvm` is
/// usable and a probe boot of `kernel` printed its banner within 20 seconds. The verdict is
/// cached per machine, so the probe costs its time once.
pub fn choose_accel(layout: &Layout, kernel: &Path) -> Accel {
    let (accel, why) = accel_and_reason(layout, kernel);
    println!("  QEMU: -accel {} ({why})", accel.name());
    accel
}

/// The accelerator and why it was chosen, in words for the report.
fn accel_and_reason(layout: &Layout, kernel: &Path) -> (Accel, String) {
    match std::env::var("WB_ACCEL").as_deref() {
        Ok("kvm") => return (Accel::Kvm, "WB_ACCEL=kvm".into()),
        Ok("tcg") => return (Accel::Tcg, "WB_ACCEL=tcg".into()),
        _ => {}
    }
    let usable = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !usable {
        return (Accel::Tcg, "/dev/kvm is missing or not usable".into());
    }
    let verdict_file = layout.cache.join("accel-verdict");
    let cached = |accel: Accel| {
        let what = match accel {
            Accel::Kvm => "a probe boot with KVM succeeded on this machine",
            Accel::Tcg => "a probe boot with KVM printed nothing within 20 s on this machine",
        };
        format!(
            "{what}; verdict cached in {}, delete it to probe again",
            verdict_file.display()
        )
    };
    if let Ok(v) = fs::read_to_string(&verdict_file) {
        let accel = if v.trim() == "kvm" {
            Accel::Kvm
        } else {
            Accel::Tcg
        };
        return (accel, cached(accel));
    }
    let _ = fs::create_dir_all(layout.vm_work());
    let results = layout.vm_work().join("probe.out");
    let probe = qemu(
        kernel,
        None,
        "console=ttyS0 panic=-1 kunit.enable=0",
        Accel::Kvm,
        &results,
    );
    let log = layout.logs().join("kvm-probe.log");
    println!("  probing KVM with a boot of at most 20 s (once per machine)");
    let booted = cmd::run_logged(probe, &log, Some(Duration::from_secs(20)))
        .map(|o| o.output.contains("Linux version"))
        .unwrap_or(false);
    let accel = if booted { Accel::Kvm } else { Accel::Tcg };
    let _ = fs::write(&verdict_file, accel.name());
    (accel, cached(accel))
}
