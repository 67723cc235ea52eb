//! Report: a progress line per stage, the failures that matter, and the closing summary line.

use std::time::{Duration, Instant};

/// The result of one stage.
pub struct Stage {
    /// Stage name, e.g. `kunit`.
    pub name: &'static str,
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed (including tests that could not run).
    pub failed: usize,
    /// What went wrong, one line each (shown in the summary).
    pub problems: Vec<String>,
    /// Wall time of the stage.
    pub elapsed: Duration,
}

/// Collects stage results and prints them as they finish.
pub struct Report {
    stages: Vec<Stage>,
    started: Instant,
    /// The stages to run; `None` runs them all.
    only: Option<Vec<String>>,
}

/// What a stage body returns: counts and problems; the report adds name and time.
#[derive(Default)]
pub struct Tally {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// One line per failure or kernel report.
    pub problems: Vec<String>,
}

impl Tally {
    /// Records one check.
    pub fn check(&mut self, ok: bool, what: impl Into<String>) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            self.problems.push(what.into());
        }
    }

    /// Records one check whose failure carries its own message.
    pub fn check_result(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.passed += 1,
            Err(e) => self.fail(e),
        }
    }

    /// Records the results of a KTAP document: its leaf counts, failures and problems.
    pub fn add_ktap(&mut self, doc: &crate::parse::ktap::Document) {
        let counts = doc.counts();
        self.passed += counts.passed;
        self.failed += counts.failed;
        self.problems.extend(doc.failures());
        self.problems.extend(doc.problems.iter().cloned());
    }

    /// Records a failure that is not a test of its own (e.g. a kernel report during a test).
    pub fn fail(&mut self, what: impl Into<String>) {
        self.check(false, what);
    }
}

impl Report {
    /// Starts the report with the base description (printed in every report).
    pub fn new(base: &str) -> Report {
        println!("base: {base}");
        Report {
            stages: Vec::new(),
            started: Instant::now(),
            only: None,
        }
    }

    /// Runs only the named stages (for quicker iterations); the others print one line each and
    /// count neither as passed nor as failed. The summary says that the run was partial.
    pub fn only(mut self, stages: Vec<String>) -> Report {
        if !stages.is_empty() {
            println!("only the stages: {}", stages.join(" "));
            self.only = Some(stages);
        }
        self
    }

    /// Whether `name` is one of the stages to run.
    pub fn selected(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|s| s == name))
    }

    /// Runs one stage: prints a start line, runs `body`, prints the outcome with elapsed time.
    /// A stage whose body fails to run at all counts as one failed test.
    pub fn stage(
        &mut self,
        name: &'static str,
        body: impl FnOnce() -> Result<Tally, String>,
    ) -> bool {
        if !self.selected(name) {
            println!(
                "[{:>6.1}s] {name}: not selected",
                self.started.elapsed().as_secs_f64()
            );
            return false;
        }
        println!(
            "[{:>6.1}s] {name} ...",
            self.started.elapsed().as_secs_f64()
        );
        let start = Instant::now();
        let tally = body().unwrap_or_else(|e| Tally {
            passed: 0,
            failed: 1,
            problems: vec![e],
        });
        let stage = Stage {
            name,
            passed: tally.passed,
            failed: tally.failed,
            problems: tally.problems,
            elapsed: start.elapsed(),
        };
        println!(
            "[{:>6.1}s] {name}: {} passed, {} failed ({:.1}s)",
            self.started.elapsed().as_secs_f64(),
            stage.passed,
            stage.failed,
            stage.elapsed.as_secs_f64()
        );
        for p in stage.problems.iter().take(30) {
            for line in p.lines() {
                println!("    {line}");
            }
        }
        if stage.problems.len() > 30 {
            println!("    ... and {} more", stage.problems.len() - 30);
        }
        let ok = stage.failed == 0;
        self.stages.push(stage);
        ok
    }

    /// Counts a stage that could not run because an earlier one failed.
    pub fn skip(&mut self, name: &'static str, why: &str) {
        println!(
            "[{:>6.1}s] {name}: not run ({why})",
            self.started.elapsed().as_secs_f64()
        );
        self.stages.push(Stage {
            name,
            passed: 0,
            failed: 1,
            problems: vec![format!("not run: {why}")],
            elapsed: Duration::ZERO,
        });
    }

    /// Prints the per-stage table and the closing `N passed, N failed` line; returns whether
    /// everything passed.
    pub fn finish(self) -> bool {
        let passed: usize = self.stages.iter().map(|s| s.passed).sum();
        let failed: usize = self.stages.iter().map(|s| s.failed).sum();
        println!();
        println!(
            "{:<12} {:>7} {:>7} {:>9}",
            "stage", "passed", "failed", "time"
        );
        for s in &self.stages {
            println!(
                "{:<12} {:>7} {:>7} {:>8.1}s",
                s.name,
                s.passed,
                s.failed,
                s.elapsed.as_secs_f64()
            );
        }
        println!("total time {:.1}s", self.started.elapsed().as_secs_f64());
        if let Some(only) = &self.only {
            println!("partial run: only {}", only.join(" "));
        }
        println!("{passed} passed, {failed} failed");
        failed == 0 && passed > 0
    }
}
