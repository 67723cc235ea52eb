//! KUnit: runs the built test kernel with the kernel's own `kunit.py exec` and judges its
//! output with our KTAP parser and console scanner.

use crate::boot::Accel;
use crate::cmd;
use crate::layout::{Layout, Profile};
use crate::parse::{console, ktap};
use crate::report::Tally;
use crate::setup::Toolchain;
use std::path::Path;
use std::time::Duration;

/// Counts the doctests rustdoc will extract from a Rust file: fenced code blocks in `///` or
/// `//!` comments, except `ignore`, `no_run`, `compile_fail` and non-Rust blocks.
pub fn count_doctests(source: &str) -> usize {
    let mut count = 0;
    let mut in_block = false;
    for line in source.lines() {
        let t = line.trim_start();
        let Some(doc) = t.strip_prefix("///").or_else(|| t.strip_prefix("//!")) else {
            continue;
        };
        let Some(info) = doc.trim().strip_prefix("```") else {
            continue;
        };
        if in_block {
            in_block = false;
            continue;
        }
        in_block = true;
        let runs = info
            .split(',')
            .map(str::trim)
            .all(|attr| matches!(attr, "" | "rust" | "should_panic" | "edition2021"));
        if runs {
            count += 1;
        }
    }
    count
}

/// The KUnit case-name prefix of the doctests of `path` (relative to the kernel tree), which
/// `scripts/rustdoc_test_gen.rs` derives from the path below `rust/kernel/`.
pub fn doctest_prefix(path: &str) -> Option<String> {
    let rel = path.strip_prefix("rust/kernel/")?;
    Some(format!(
        "rust_doctest_kernel_{}_",
        rel.replace(['/', '.'], "_")
    ))
}

fn leaf_names(tests: &[ktap::TestCase], out: &mut Vec<String>) {
    for t in tests {
        if t.subtests.is_empty() {
            out.push(t.name.clone());
        } else {
            leaf_names(&t.subtests, out);
        }
    }
}

/// Judges a KUnit console log: every test passed, none missing, no kernel report, and each of
/// `expected` (name prefix, count) present with exactly that many cases.
pub fn judge(log: &str, expected: &[(String, usize)], tally: &mut Tally) {
    let docs = ktap::parse(log);
    if docs.is_empty() {
        tally.fail("no KTAP output: the kernel did not run its tests");
    }
    let mut names = Vec::new();
    for doc in &docs {
        tally.add_ktap(doc);
        leaf_names(&doc.tests, &mut names);
    }
    for (prefix, want) in expected {
        let got = names
            .iter()
            .filter(|n| n.starts_with(prefix.as_str()))
            .count();
        if got != *want {
            tally.fail(format!(
                "expected {want} cases named {prefix}*, found {got}"
            ));
        }
    }
    for finding in console::scan(log) {
        tally.fail(describe_finding(&finding));
    }
}

/// One problem line (plus context) for a kernel report.
pub fn describe_finding(f: &console::Finding) -> String {
    let mut s = format!(
        "kernel report ({}) at console line {}: {}",
        f.kind.name(),
        f.line,
        f.headline
    );
    for l in f.context.iter().take(12) {
        s.push_str("\n      ");
        s.push_str(l);
    }
    s
}

/// Runs the test kernel's KUnit tests and judges them.
pub fn run(
    layout: &Layout,
    tc: &Toolchain,
    accel: Accel,
    expected: &[(String, usize)],
    log: &Path,
) -> Result<Tally, String> {
    let mut kunit = tc.command("python3");
    kunit
        .current_dir(layout.src())
        .arg("tools/testing/kunit/kunit.py")
        .args(["exec", "--arch=x86_64", "--raw_output=all", "--timeout=900"])
        .arg(format!(
            "--build_dir={}",
            layout.build_dir(Profile::Test).display()
        ))
        .arg(format!("--qemu_args=-accel {} -smp 2", accel.name()));
    let outcome = cmd::run_logged(kunit, log, Some(Duration::from_secs(1000)))?;
    let mut tally = Tally::default();
    judge(&outcome.output, expected, &mut tally);
    if outcome.timed_out {
        tally.fail(format!(
            "KUnit run timed out; last console lines:\n{}",
            cmd::tail(&outcome.output, 50)
        ));
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_doctests_that_run() {
        let src = "\
/// ```
/// let a = 1;
/// ```
/// ```ignore
/// nope
/// ```
//! ```rust
//! ok
//! ```
/// ```text
/// not rust
/// ```
fn f() {}
";
        assert_eq!(count_doctests(src), 2);
    }

    /// A real 6.12.117 KUnit run (KASAN, lockdep) in which a base doctest hit a GPF.
    const REAL_GPF: &str = include_str!("../testdata/ktap/real-6.12-kunit-gpf.log");

    #[test]
    fn judges_a_real_run_with_a_crashing_doctest() {
        let mut tally = Tally::default();
        judge(
            REAL_GPF,
            &[("rust_doctest_kernel_task_rs_".to_string(), 3)],
            &mut tally,
        );
        assert_eq!(tally.passed, 114);
        assert!(tally.failed >= 2, "{:?}", tally.problems);
        assert!(tally
            .problems
            .iter()
            .any(|p| p.contains("rust_doctest_kernel_task_rs_1")));
        assert!(tally
            .problems
            .iter()
            .any(|p| p.starts_with("kernel report (Oops)")));
    }

    #[test]
    fn a_failed_assertion_is_reported_with_its_location() {
        let log = include_str!("../testdata/ktap/real-6.12-kunit-doctest-fail.log");
        let mut tally = Tally::default();
        judge(
            log,
            &[("rust_doctest_kernel_bitmap_rs_".to_string(), 53)],
            &mut tally,
        );
        assert_eq!(
            (tally.passed, tally.failed),
            (167, 1),
            "{:?}",
            tally.problems
        );
        let problem = &tally.problems[0];
        assert!(
            problem.starts_with("rust_doctests_kernel.rust_doctest_kernel_bitmap_rs_32: not ok")
        );
        assert!(
            problem.contains("ASSERTION FAILED at rust/kernel/bitmap.rs:55"),
            "{problem}"
        );
    }

    #[test]
    fn a_missing_doctest_file_is_a_failure() {
        let mut tally = Tally::default();
        judge(
            REAL_GPF,
            &[("rust_doctest_kernel_bitmap_rs_".to_string(), 4)],
            &mut tally,
        );
        assert!(tally
            .problems
            .iter()
            .any(|p| p == "expected 4 cases named rust_doctest_kernel_bitmap_rs_*, found 0"));
    }

    #[test]
    fn doctest_prefix_follows_rustdoc_test_gen() {
        assert_eq!(
            doctest_prefix("rust/kernel/mm/virt.rs").as_deref(),
            Some("rust_doctest_kernel_mm_virt_rs_")
        );
        assert_eq!(doctest_prefix("samples/rust/x.rs"), None);
    }
}
