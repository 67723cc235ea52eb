//! Host checks: the harness's and the userspace programs' own tests and lints, and rustfmt of
//! our kernel Rust files with the base tree's `.rustfmt.toml`.

use crate::cmd;
use crate::layout::Layout;
use crate::report::Tally;
use crate::setup::Toolchain;

/// Sums the `test result: ok. N passed; M failed; ...` lines of `cargo test` output.
pub fn cargo_test_counts(output: &str) -> (usize, usize) {
    let number_before = |line: &str, word: &str| -> usize {
        line.split(';')
            .find_map(|part| {
                let part = part.trim().trim_start_matches("test result: ok.");
                let part = part.trim_start_matches("test result: FAILED.").trim();
                part.strip_suffix(word)?.trim().parse().ok()
            })
            .unwrap_or(0)
    };
    output
        .lines()
        .filter(|l| l.starts_with("test result:"))
        .fold((0, 0), |(p, f), l| {
            (
                p + number_before(l, "passed"),
                f + number_before(l, "failed"),
            )
        })
}

/// Runs the host checks; `kernel_rust_files` are our Rust files in the source tree (new ones
/// and the base's that the series changes), relative to it; `changed_base_files` the latter,
/// which the all-exports check reads from the source tree.
pub fn run(
    layout: &Layout,
    tc: &Toolchain,
    kernel_rust_files: &[String],
    changed_base_files: &[String],
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let logs = layout.logs();

    let mut test = tc.command("cargo");
    test.current_dir(&layout.repo)
        .args(["test", "--workspace", "--quiet"]);
    let log = logs.join("host-cargo-test.log");
    let outcome = cmd::run_logged(test, &log, None)?;
    let (passed, failed) = cargo_test_counts(&outcome.output);
    tally.passed += passed;
    tally.failed += failed;
    if !outcome.success {
        tally.fail(format!(
            "cargo test failed (log: {})\n{}",
            log.display(),
            cmd::tail(&outcome.output, 20)
        ));
    }

    // The main workspace, then the rsbinder one (its dependencies are checked once, cold).
    let rsbinder = ["--manifest-path", crate::build::RSBINDER_MANIFEST];
    for (name, workspace) in [("", &[][..]), ("-rsbinder", &rsbinder[..])] {
        let mut fmt = tc.command("cargo");
        fmt.current_dir(&layout.repo)
            .arg("fmt")
            .args(workspace)
            .args(["--all", "--check"]);
        let log = logs.join(format!("host-cargo-fmt{name}.log"));
        let outcome = cmd::run_logged(fmt, &log, None)?;
        tally.check(
            outcome.success,
            format!(
                "cargo fmt --check: not formatted\n{}",
                cmd::tail(&outcome.output, 20)
            ),
        );

        let mut clippy = tc.command("cargo");
        clippy
            .current_dir(&layout.repo)
            .arg("clippy")
            .args(workspace)
            .arg("--target-dir")
            .arg(layout.repo.join("target"))
            .args(["--workspace", "--all-targets", "--quiet", "--"])
            .args(["-D", "warnings"]);
        let log = logs.join(format!("host-cargo-clippy{name}.log"));
        let outcome = cmd::run_logged(clippy, &log, None)?;
        tally.check(
            outcome.success,
            format!("cargo clippy: warnings\n{}", cmd::tail(&outcome.output, 20)),
        );
    }

    let src = layout.src();
    let base_files: Vec<_> = changed_base_files.iter().map(|f| src.join(f)).collect();
    let unnamed = crate::exports::unnamed_items(&layout.repo, &base_files)?;
    tally.check(
        unnamed.is_empty(),
        format!(
            "{} does not name these public items of rust/kernel/, so nothing proves that a \
             module can use them; add each, e.g. `keep(Type::method as fn(_) -> _)`: {}",
            crate::exports::MODULE_SOURCE,
            unnamed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );

    let config = layout.src().join(".rustfmt.toml");
    let mut files: Vec<_> = kernel_rust_files.iter().map(|f| src.join(f)).collect();
    files.push(layout.repo.join(crate::exports::MODULE_SOURCE));
    for file in &files {
        let mut rustfmt = tc.command("rustfmt");
        rustfmt
            .current_dir(&layout.repo)
            .args(["--check", "--edition", "2021", "--config-path"])
            .arg(&config)
            .arg(file);
        let outcome = cmd::run_logged(rustfmt, &logs.join("host-rustfmt.log"), None)?;
        tally.check(
            outcome.success,
            format!(
                "rustfmt: {} is not formatted\n{}",
                file.display(),
                cmd::tail(&outcome.output, 15)
            ),
        );
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::cargo_test_counts;

    #[test]
    fn sums_cargo_test_result_lines() {
        let out = "running 3 tests\n\
                   test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured\n\
                   test result: FAILED. 5 passed; 2 failed; 1 ignored; 0 measured\n";
        assert_eq!(cargo_test_counts(out), (8, 2));
        assert_eq!(cargo_test_counts("error: could not compile"), (0, 0));
    }
}
