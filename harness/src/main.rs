//! The workbench harness: lays our overlay over a pristine Linux 6.12 base, builds it, runs
//! KUnit and a QEMU boot test, and exports the overlay as a patch series.
//!
//! Split like kunit_tool: `setup` (tools), `tree` + `series` (configuration of the source),
//! `build`, `boot`, `parse`, `report`; `kunit`, `hostcheck` and `patches` are the stages.

mod bench;
mod binder_bench;
mod bisect;
mod boot;
mod build;
mod cmd;
mod edit;
mod exports;
mod hostcheck;
mod kunit;
mod layout;
mod parse;
mod patches;
mod perf_profile;
mod report;
mod series;
mod setup;
mod tree;

use layout::{Layout, Profile};
use report::{Report, Tally};
use series::{Identity, Series};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: harness <test|run|bench|patches|series-*>
  test [STAGE...]
           host checks, kernel build (clippy), rustdoc, KUnit, boot test, builds with the
           minimum toolchain and with KUnit as a module, patch series check; with stage names
           (host build rustdoc kunit boot min-toolchain kunit-module patches), only those
  run      build if needed, boot QEMU, load the sample driver and run its demo
  bench    build the bench kernel, run the benchmark modules and binder-bench in one boot,
           report ratios, write out/bench/ (JSON, tables, SVG plots, the console log)
  bench --profile
           instead, run binder-bench's handle case and 1 MiB round trips on the C binder and
           binder-lite, each under `perf record -a -g` in the guest; out/bench/profile.txt
  bench-report CONSOLE [DIR]
           the same report from a bench boot's console log kept earlier
  stress   build the stress kernel (KCOV, fault injection), run the fuzzer's and the module
           cycles' long budgets in one boot
  patches  export the overlay as a git format-patch series into out/patches
  exports  list the public items of rust/kernel/ that the all-exports module does not name
  series-edit [--force]
           a git work tree of the base with one commit per patch, to edit with git
  series-regen
           write series/ (and the overlay's new files) back from that work tree
  series-rebase VERSION
           rebase that work tree onto another linux-source-6.12 version, reporting conflicts
  series-check [--doctests]
           build each prefix of the series (own work tree and build dir), no warning allowed;
           with --doctests, compile the KUnit doctests of each prefix too";

/// The stages of `harness test`, in the order they run.
const STAGES: [&str; 8] = [
    "host",
    "build",
    "rustdoc",
    "kunit",
    "boot",
    "min-toolchain",
    "kunit-module",
    "patches",
];

/// What every command needs: tools, paths, the base and the series applied to it.
struct Workbench {
    layout: Layout,
    tc: setup::Toolchain,
    base: tree::Base,
    series: Series,
    commits: Vec<String>,
}

impl Workbench {
    fn prepare() -> Result<Workbench, String> {
        let layout = Layout::discover();
        println!("setup: checking tools (cache: {})", layout.cache.display());
        let tc = setup::ensure(&layout)?;
        let base = tree::ensure_base(&layout, &tc)?;
        let series = Series::load(&layout.repo)?;
        let who = Identity::of_repo(&layout.repo);
        let commits = tree::apply_overlay(&layout, &series, &who)?;
        Ok(Workbench {
            layout,
            tc,
            base,
            series,
            commits,
        })
    }

    fn head(&self) -> &str {
        self.commits.last().map_or("base", String::as_str)
    }

    fn log(&self, name: &str) -> PathBuf {
        self.layout.logs().join(name)
    }

    /// Our kernel-tree paths (new files and base files we change).
    fn ours(&self) -> Vec<String> {
        self.series.touched_paths(&self.layout.repo)
    }

    /// Our Rust files in the kernel tree: the new ones and those of the base the series changes
    /// (except `lib.rs`, where it only declares modules).
    fn our_rust_files(&self) -> Vec<String> {
        self.ours()
            .into_iter()
            .filter(|f| f.ends_with(".rs") && f != "rust/kernel/lib.rs")
            .collect()
    }

    /// The files of the base that the series changes, among [`Workbench::our_rust_files`].
    fn changed_base_rust_files(&self) -> Vec<String> {
        let new: Vec<&String> = self.series.patches.iter().flat_map(|p| &p.files).collect();
        self.our_rust_files()
            .into_iter()
            .filter(|f| f.starts_with("rust/kernel/") && !new.contains(&f))
            .collect()
    }

    /// Doctest cases KUnit must report: (name prefix, count) per Rust file of ours in the crate.
    fn expected_doctests(&self) -> Vec<(String, usize)> {
        self.our_rust_files()
            .iter()
            .filter_map(|f| {
                let prefix = kunit::doctest_prefix(f)?;
                let source = fs::read_to_string(self.layout.src().join(f)).ok()?;
                Some((prefix, kunit::count_doctests(&source)))
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    fn build_kernel(&self, profile: Profile) -> Result<Tally, String> {
        let min = match profile {
            Profile::MinToolchain => {
                let min = setup::ensure_min_toolchain(&self.tc, &self.layout)?;
                println!("  building with {}", min.describe());
                Some(min)
            }
            _ => None,
        };
        let log = self.log(&format!("build-{}.log", profile.name()));
        let outcome = build::kernel(&self.layout, &self.tc, profile, min.as_ref(), &log)?;
        let mut tally = Tally::default();
        tally.check(
            outcome.success,
            format!(
                "kernel build failed (log: {})\n{}",
                log.display(),
                cmd::tail(&outcome.output, 40)
            ),
        );
        let ours = self.ours();
        for d in build::diagnostics_in(&outcome.output, &self.layout.src(), &ours) {
            tally.fail(format!("build/clippy: {d}"));
        }
        let generated = self
            .layout
            .build_dir(profile)
            .join(build::DOCTESTS_GENERATED);
        if let Ok(generated) = fs::read_to_string(generated) {
            for d in build::doctest_diagnostics_in(&outcome.output, &generated, &ours) {
                tally.fail(format!("build/clippy: {d}"));
            }
        }
        if !outcome.success {
            return Ok(tally);
        }
        if matches!(profile, Profile::Test | Profile::Bench) {
            tally.check_result(self.bindgen_layout(profile));
        }
        if !matches!(profile, Profile::Bench | Profile::Stress) {
            tally.check_result(self.build_all_exports(profile, min.as_ref()));
        }
        Ok(tally)
    }

    /// Checks that bindgen lays out the C types as clang does (see `build::bindgen_layout`).
    fn bindgen_layout(&self, profile: Profile) -> Result<(), String> {
        let allowed = fs::read_to_string(self.layout.repo.join("kconfig/bindgen-layout.allow"))
            .unwrap_or_default();
        let allowed: Vec<&str> = allowed
            .lines()
            .map(|l| l.split('#').next().unwrap_or_default().trim())
            .filter(|l| !l.is_empty())
            .collect();
        let mismatches: Vec<String> = build::bindgen_layout(&self.layout, &self.tc, profile)?
            .into_iter()
            .filter(|m| !allowed.contains(&m.as_str()))
            .collect();
        if mismatches.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "bindgen layout differs from C (Rust would read wrong offsets): {mismatches:?}"
            ))
        }
    }

    /// Builds the all-exports module against the kernel of `profile`: modpost fails it if a
    /// public function of ours cannot be used from a module; any warning in it fails too.
    fn build_all_exports(
        &self,
        profile: Profile,
        min: Option<&setup::MinToolchain>,
    ) -> Result<(), String> {
        let log = self.log(&format!("all-exports-{}.log", profile.name()));
        let (outcome, ko) = build::external_module(
            &self.layout,
            &self.tc,
            profile,
            min,
            exports::MODULE_DIR,
            &log,
        )?;
        let source = ko.with_extension("rs").display().to_string();
        let warnings = build::diagnostics_in(&outcome.output, &self.layout.src(), &[source]);
        if outcome.success && ko.is_file() && warnings.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the all-exports module does not build cleanly for {} (log: {}): {warnings:?}\n{}",
                profile.name(),
                log.display(),
                cmd::tail(&outcome.output, 20)
            ))
        }
    }

    /// The sample modules of this build, from kbuild's `modules.order` (a `.ko` left over from an
    /// earlier configuration is not in it): the benchmarks (`*_bench`) for `benchmarks`, the
    /// others otherwise.
    fn modules(&self, profile: Profile, benchmarks: bool) -> Vec<PathBuf> {
        let dir = self.layout.build_dir(profile);
        let order = fs::read_to_string(dir.join("modules.order")).unwrap_or_default();
        order
            .lines()
            .map(str::trim)
            .filter(|m| m.starts_with("samples/rust/"))
            .filter(|m| m.ends_with("_bench.o") == benchmarks)
            .map(|m| dir.join(m).with_extension("ko"))
            .chain(self.all_exports_module(profile).filter(|_| !benchmarks))
            .collect()
    }

    /// The all-exports module built for `profile`, if it was.
    fn all_exports_module(&self, profile: Profile) -> Option<PathBuf> {
        let ko = self
            .layout
            .external_build(profile, "rust_all_exports")
            .join("rust_all_exports.ko");
        ko.is_file().then_some(ko)
    }

    fn boot(
        &self,
        profile: Profile,
        mode: boot::Mode,
        accel: boot::Accel,
        log: &Path,
    ) -> Result<boot::VmRun, String> {
        let contents = match mode {
            // The benchmark modules, then binder-lite for the binder benchmark, which
            // /init runs after them.
            boot::Mode::Bench | boot::Mode::Profile => boot::Contents {
                modules: self
                    .modules(profile, true)
                    .into_iter()
                    .filter(|_| mode == boot::Mode::Bench)
                    .chain(
                        self.modules(profile, false)
                            .into_iter()
                            .filter(|m| m.ends_with("rust_binder_lite.ko")),
                    )
                    .collect(),
                tests: build::userspace(&self.layout, &self.tc, &self.log("userspace.log"))?
                    .tests
                    .into_iter()
                    .filter(|t| t.ends_with("binder-bench"))
                    .collect(),
                helpers: Vec::new(),
                files: if mode == boot::Mode::Profile {
                    perf_profile::perf_files(&setup::ensure_perf(&self.layout)?)?
                } else {
                    Vec::new()
                },
            },
            boot::Mode::Test | boot::Mode::Run | boot::Mode::Stress => {
                let programs =
                    build::userspace(&self.layout, &self.tc, &self.log("userspace.log"))?;
                boot::Contents {
                    modules: self.modules(profile, false),
                    tests: programs.tests,
                    helpers: programs.helpers,
                    files: Vec::new(),
                }
            }
        };
        let build_dir = self.layout.build_dir(profile);
        let initrd = boot::initramfs(&self.layout, &build_dir, &contents)?;
        let kernel = build::bzimage(&self.layout, profile);
        // `make bench` must end within 30 minutes, the kernel build included.
        let limit = match mode {
            boot::Mode::Stress => Duration::from_secs(90 * 60),
            boot::Mode::Bench | boot::Mode::Profile => Duration::from_secs(25 * 60),
            _ => Duration::from_secs(600),
        };
        boot::run(&self.layout, &kernel, &initrd, mode, accel, limit, log)
    }

    fn boot_test(&self, accel: boot::Accel) -> Result<Tally, String> {
        self.boot_and_check(Profile::Test, boot::Mode::Test, accel, "boot-test.log")
    }

    /// Boots `profile` in `mode` (test or stress) and checks the KTAP results and the console.
    fn boot_and_check(
        &self,
        profile: Profile,
        mode: boot::Mode,
        accel: boot::Accel,
        log_name: &str,
    ) -> Result<Tally, String> {
        let log = self.log(log_name);
        let vm = self.boot(profile, mode, accel, &log)?;
        let mut tally = Tally::default();
        let docs = parse::ktap::parse(&vm.results);
        if docs.len() != 1 {
            tally.fail(format!(
                "expected one KTAP document from /init, found {}",
                docs.len()
            ));
        }
        for doc in &docs {
            tally.add_ktap(doc);
        }
        // The test boot also re-ran the KUnit tests, so the final leak scan covers them too.
        if mode == boot::Mode::Test {
            let rerun = parse::ktap::parse(&vm.console);
            tally.check(
                !rerun.is_empty() && rerun.iter().all(|d| d.complete && d.counts().failed == 0),
                "the KUnit re-run in the boot test did not pass",
            );
        } else {
            // The figures of the run: the fuzzer's and the checks' summary lines.
            for line in vm.results.lines() {
                let line = line.trim_start();
                if line.starts_with("# ") || line.starts_with("not ok") {
                    println!("  {line}");
                }
            }
        }
        for finding in parse::console::scan(&vm.console) {
            tally.fail(kunit::describe_finding(&finding));
        }
        // The smoke run of the binder benchmark: every available target, every case, and
        // results the report can be made of.
        let binder = binder_bench::Results::from_console(&vm.console);
        let problems = binder.problems();
        tally.check(
            problems.is_empty(),
            format!("binder-bench smoke run: {problems:?}"),
        );
        if problems.is_empty() {
            let dir = self.layout.vm_work().join("binder-bench-smoke");
            let plotted = fs::create_dir_all(&dir)
                .map_err(|e| e.to_string())
                .and_then(|()| binder.plot(&dir));
            tally.check(
                plotted.is_ok() && !binder.table().is_empty(),
                format!("binder-bench smoke report: {plotted:?}"),
            );
        }
        if vm.timed_out {
            tally.fail(format!(
                "boot test timed out (log: {}); last console lines:\n{}",
                log.display(),
                cmd::tail(&vm.console, 50)
            ));
        }
        Ok(tally)
    }

    fn patches(&self) -> Result<Tally, String> {
        let files = patches::export(&self.layout, self.head())?;
        patches::check(&self.layout, self.head(), &files)
    }
}

fn test(stages: Vec<String>) -> Result<bool, String> {
    if let Some(unknown) = stages.iter().find(|s| !STAGES.contains(&s.as_str())) {
        return Err(format!(
            "unknown stage {unknown}; the stages are: {}",
            STAGES.join(" ")
        ));
    }
    let wb = Workbench::prepare()?;
    let mut report = Report::new(&wb.base.describe()).only(stages);
    // The stages that boot or document the test kernel need it built.
    let needs_build = ["rustdoc", "kunit", "boot"]
        .iter()
        .any(|s| report.selected(s));
    report.stage("host", || {
        hostcheck::run(
            &wb.layout,
            &wb.tc,
            &wb.our_rust_files(),
            &wb.changed_base_rust_files(),
        )
    });
    let built = if report.selected("build") {
        report.stage("build", || wb.build_kernel(Profile::Test))
    } else if needs_build {
        wb.build_kernel(Profile::Test).is_ok_and(|t| t.failed == 0)
    } else {
        false
    };
    if built {
        report.stage("rustdoc", || {
            let log = wb.log("rustdoc.log");
            let outcome = build::rustdoc(&wb.layout, &wb.tc, Profile::Test, &log)?;
            let mut tally = Tally::default();
            tally.check(
                outcome.success,
                format!("make rustdoc failed (log: {})", log.display()),
            );
            for d in build::diagnostics_in(&outcome.output, &wb.layout.src(), &wb.ours()) {
                tally.fail(format!("rustdoc: {d}"));
            }
            Ok(tally)
        });
        let accel = boot::choose_accel(&wb.layout, &build::bzimage(&wb.layout, Profile::Test));
        report.stage("kunit", || {
            kunit::run(
                &wb.layout,
                &wb.tc,
                accel,
                &wb.expected_doctests(),
                &wb.log("kunit.log"),
            )
        });
        report.stage("boot", || wb.boot_test(accel));
    } else {
        for stage in ["rustdoc", "kunit", "boot"] {
            if report.selected(stage) {
                report.skip(stage, "the kernel did not build");
            }
        }
    }
    // Built, not booted: the oldest toolchain the base supports, and KUnit as a module.
    report.stage("min-toolchain", || wb.build_kernel(Profile::MinToolchain));
    report.stage("kunit-module", || wb.build_kernel(Profile::KunitModule));
    report.stage("patches", || wb.patches());
    Ok(report.finish())
}

fn run() -> Result<bool, String> {
    let wb = Workbench::prepare()?;
    println!("base: {}", wb.base.describe());
    println!(
        "building the test kernel (incremental; log: {})",
        wb.log("build-test.log").display()
    );
    let build = wb.build_kernel(Profile::Test)?;
    if build.failed > 0 {
        return Err(build.problems.join("\n"));
    }
    let accel = boot::choose_accel(&wb.layout, &build::bzimage(&wb.layout, Profile::Test));
    println!("booting QEMU (-accel {}) and running vm/demo", accel.name());
    let log = wb.log("run.log");
    let vm = wb.boot(Profile::Test, boot::Mode::Run, accel, &log)?;
    for line in vm.console.lines() {
        if let Some(i) = line
            .find("wb-demo:")
            .or_else(|| line.find("wb: demo exited"))
        {
            println!("{}", &line[i..]);
        }
    }
    let findings = parse::console::scan(&vm.console);
    for f in &findings {
        println!("{}", kunit::describe_finding(f));
    }
    let ok = vm.console.contains("wb: demo exited with status 0")
        && findings.is_empty()
        && !vm.timed_out;
    println!("full console log: {}", log.display());
    Ok(ok)
}

/// `make bench`, or with `--profile` (`make bench PROFILE=1`) a boot that profiles
/// binder-bench's cases with `perf` instead, written to `out/bench/profile.txt`.
fn bench(with_perf: bool) -> Result<bool, String> {
    let wb = Workbench::prepare()?;
    println!("base: {}", wb.base.describe());
    let log = wb.log("build-bench.log");
    println!("building the bench kernel (log: {})", log.display());
    let build = wb.build_kernel(Profile::Bench)?;
    if build.failed > 0 {
        return Err(build.problems.join("\n"));
    }
    let kernel = build::bzimage(&wb.layout, Profile::Bench);
    let accel = boot::choose_accel(&wb.layout, &kernel);
    println!(
        "booting the bench kernel (-accel {}) with the benchmark modules",
        accel.name()
    );
    if with_perf {
        let log = wb.log("bench-profile.log");
        let vm = wb.boot(Profile::Bench, boot::Mode::Profile, accel, &log)?;
        let dir = wb.layout.out().join("bench");
        let report = perf_profile::report(&vm.console);
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        fs::write(dir.join("profile.txt"), &report).map_err(|e| e.to_string())?;
        println!("{}", perf_profile::summary(&report));
        println!(
            "profile: {} (console log: {})",
            dir.join("profile.txt").display(),
            log.display()
        );
        return Ok(!vm.timed_out && vm.console.contains("wb: profile done"));
    }
    let log = wb.log("bench.log");
    let vm = wb.boot(Profile::Bench, boot::Mode::Bench, accel, &log)?;
    if vm.timed_out {
        println!("PROBLEM: the bench boot hit its time limit");
    }
    let dir = wb.layout.out().join("bench");
    let clean = bench_report(&vm.console, &dir, &wb.base.describe(), accel.name())?;
    println!("console log: {}", log.display());
    Ok(clean && !vm.timed_out)
}

/// Makes the report of one bench boot from its console: prints the tables, writes
/// `results.json`, `results.txt`, `console.log` and the plots into `dir`. Returns whether the
/// run was clean (no kernel report, every benchmark finished, implementations agreed).
fn bench_report(console: &str, dir: &Path, base: &str, accel: &str) -> Result<bool, String> {
    let results = bench::Results::from_console(console);
    let binder = binder_bench::Results::from_console(console);
    let findings = parse::console::scan(console);
    for f in &findings {
        println!("{}", kunit::describe_finding(f));
    }
    if results.samples.is_empty() {
        return Err("no benchmark results in the console log".to_string());
    }
    let table = format!("{}\n{}", results.table(), binder.table());
    print!("{table}");
    let mut problems = results.problems();
    if !console.contains("bench: done") {
        problems.push("a benchmark module did not finish".to_string());
        println!("PROBLEM: a benchmark module did not finish");
    }
    for p in binder.problems() {
        println!("PROBLEM: {p}");
        problems.push(p);
    }
    fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for svg in binder.plot(dir)? {
        println!("plot: {}", svg.display());
    }
    let mut json = results.json(base, accel);
    json["binder"] = binder.json();
    let pretty = serde_json::to_string_pretty(&json).map_err(|e| e.to_string())?;
    fs::write(dir.join("results.json"), pretty).map_err(|e| e.to_string())?;
    fs::write(dir.join("results.txt"), &table).map_err(|e| e.to_string())?;
    fs::write(dir.join("console.log"), console).map_err(|e| e.to_string())?;
    println!("results: {}", dir.join("results.json").display());
    Ok(findings.is_empty() && problems.is_empty())
}

/// `make stress`: the stress kernel, booted once with the long budgets.
fn stress() -> Result<bool, String> {
    let wb = Workbench::prepare()?;
    let mut report = Report::new(&wb.base.describe());
    println!(
        "building the stress kernel (the first build is cold, ~20 min or more; log: {})",
        wb.log("build-stress.log").display()
    );
    let built = report.stage("build", || wb.build_kernel(Profile::Stress));
    if built {
        let accel = boot::choose_accel(&wb.layout, &build::bzimage(&wb.layout, Profile::Stress));
        report.stage("stress", || {
            wb.boot_and_check(Profile::Stress, boot::Mode::Stress, accel, "stress.log")
        });
    } else {
        report.skip("stress", "the kernel did not build");
    }
    Ok(report.finish())
}

/// `harness bench-report CONSOLE [DIR]`: the report of a bench boot's console log kept earlier
/// (`out/bench/console.log`), into DIR (default `out/bench-report`).
fn bench_report_of_log(args: &[String]) -> Result<bool, String> {
    let Some(log) = args.first() else {
        return Err("usage: harness bench-report CONSOLE_LOG [DIR]".to_string());
    };
    let console = fs::read_to_string(log).map_err(|e| format!("{log}: {e}"))?;
    let layout = Layout::discover();
    let dir = args
        .get(1)
        .map_or_else(|| layout.out().join("bench-report"), PathBuf::from);
    bench_report(&console, &dir, "from a console log", "unknown")
}

fn export_patches() -> Result<bool, String> {
    let wb = Workbench::prepare()?;
    let files = patches::export(&wb.layout, wb.head())?;
    for f in &files {
        println!("{}", f.display());
    }
    let who = Identity::of_repo(&wb.layout.repo);
    if who.placeholder {
        println!("note: git user.name/user.email are not set; Signed-off-by is a placeholder");
    }
    println!(
        "{} patches against {} in {}",
        files.len(),
        wb.base.describe(),
        wb.layout.out().join("patches").display()
    );
    Ok(true)
}

/// The per-patch build check. It leaves the tree that `make test` builds alone (it has a work
/// tree and a build directory of its own), so it needs no lock against other runs.
fn series_check() -> Result<bool, String> {
    let layout = Layout::discover();
    let tc = setup::ensure(&layout)?;
    let base = tree::ensure_base(&layout, &tc)?;
    let series = Series::load(&layout.repo)?;
    let mut report = Report::new(&base.describe());
    let doctests = std::env::args().any(|a| a == "--doctests");
    report.stage("series-check", || {
        bisect::run(&layout, &tc, &series, doctests)
    });
    Ok(report.finish())
}

/// Lists what the all-exports module does not name. The base files the series changes are
/// read from the source tree as the last run left it.
fn unnamed_exports() -> Result<bool, String> {
    let layout = Layout::discover();
    let series = Series::load(&layout.repo)?;
    let new: Vec<&String> = series.patches.iter().flat_map(|p| &p.files).collect();
    let changed: Vec<PathBuf> = series
        .touched_paths(&layout.repo)
        .into_iter()
        .filter(|f| f.starts_with("rust/kernel/") && f.ends_with(".rs"))
        .filter(|f| f != "rust/kernel/lib.rs" && !new.contains(&f))
        .map(|f| layout.src().join(f))
        .collect();
    let unnamed = exports::unnamed_items(&layout.repo, &changed)?;
    for item in &unnamed {
        println!("{item}");
    }
    Ok(unnamed.is_empty())
}

fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    let result = match command.as_str() {
        "test" => test(std::env::args().skip(2).collect()),
        "run" => run(),
        "bench" => bench(std::env::args().any(|a| a == "--profile")),
        "stress" => stress(),
        "bench-report" => bench_report_of_log(&std::env::args().skip(2).collect::<Vec<_>>()),
        "patches" => export_patches(),
        "exports" => unnamed_exports(),
        "series-edit" => edit::edit(
            &Layout::discover(),
            std::env::args().any(|a| a == "--force"),
        ),
        "series-regen" => edit::regen(&Layout::discover()),
        "series-rebase" => match std::env::args().nth(2).filter(|v| !v.is_empty()) {
            Some(version) => edit::rebase(&Layout::discover(), &version),
            None => Err(
                "usage: make series-rebase BASE=VERSION (a linux-source-6.12 \
                 version, see `apt-cache policy linux-source-6.12`)"
                    .to_string(),
            ),
        },
        "series-check" => series_check(),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
