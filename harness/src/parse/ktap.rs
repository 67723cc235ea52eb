//! Parser for KTAP (v1) and TAP 14 output as printed by KUnit into a kernel
//! console log.
//!
//! The parser is line based and forgiving: kernel timestamps are stripped,
//! lines that do not look like KTAP are ignored wherever they appear, and a
//! log that ends in the middle of a suite still yields every result seen so
//! far, with the unreported tests marked [`Status::Missing`].

use std::mem;

/// Outcome of one test case or suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `ok` (also `ok ... # TODO`).
    Pass,
    /// `not ok`.
    Fail,
    /// `# SKIP` directive, or `not ok ... # TODO` (an expected failure).
    Skip,
    /// Announced by a plan or a subtest header but never reported.
    Missing,
}

/// One test case; a suite is a test case with subtests.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    /// Description from the result line (or the `# Subtest:` header).
    pub name: String,
    /// Reported outcome.
    pub status: Status,
    /// Results of the nested document, if any.
    pub subtests: Vec<TestCase>,
    /// Diagnostic lines (without the leading `#`) printed before the result.
    /// For a [`Status::Missing`] case the last entry says why it is missing.
    pub diagnostics: Vec<String>,
}

/// One top-level KTAP document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Number of tests announced by the top-level plan.
    pub plan: Option<usize>,
    /// Top-level results (usually one per KUnit suite).
    pub tests: Vec<TestCase>,
    /// False when results are missing or a suite was left open.
    pub complete: bool,
    /// Human-readable descriptions of everything odd about the document.
    pub problems: Vec<String>,
}

/// Leaf test counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Leaves reported `ok`.
    pub passed: usize,
    /// Leaves reported `not ok` or missing, plus failing suites without failing leaves.
    pub failed: usize,
    /// Skipped leaves.
    pub skipped: usize,
}

impl Counts {
    /// Adds `other` to `self`.
    pub fn add(&mut self, other: Counts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
    }
}

impl Document {
    /// Counts leaf test cases; see [`Counts`] for what counts as a failure.
    pub fn counts(&self) -> Counts {
        self.tally().0
    }

    /// One line per failure counted by [`Document::counts`], e.g.
    /// `suite.case: not ok` or `suite.case: missing (log truncated)`.
    pub fn failures(&self) -> Vec<String> {
        self.tally().1
    }

    fn tally(&self) -> (Counts, Vec<String>) {
        let mut counts = Counts::default();
        let mut failures = Vec::new();
        for test in &self.tests {
            let mut suite = Counts::default();
            walk(test, "", &mut suite, &mut failures);
            counts.add(suite);
        }
        if !self.complete && !self.tests.iter().any(has_missing) {
            counts.failed += 1;
            failures.push(format!(
                "KTAP document incomplete: {}",
                self.problems.join("; ")
            ));
        }
        (counts, failures)
    }
}

fn walk(test: &TestCase, prefix: &str, counts: &mut Counts, failures: &mut Vec<String>) {
    let path = if prefix.is_empty() {
        test.name.clone()
    } else {
        format!("{prefix}.{}", test.name)
    };
    let failed_before = counts.failed;
    for sub in &test.subtests {
        walk(sub, &path, counts, failures);
    }
    let leaf = test.subtests.is_empty();
    match test.status {
        Status::Pass if leaf => counts.passed += 1,
        Status::Skip if leaf => counts.skipped += 1,
        Status::Fail | Status::Missing if leaf || counts.failed == failed_before => {
            counts.failed += 1;
            failures.push(match test.status {
                Status::Fail => {
                    // The diagnostics say why, e.g. "ASSERTION FAILED at rust/kernel/x.rs:55".
                    let mut line = format!("{path}: not ok");
                    for d in test.diagnostics.iter().rev().take(4).rev() {
                        line.push_str("\n      # ");
                        line.push_str(d);
                    }
                    line
                }
                _ => {
                    let why = test
                        .diagnostics
                        .last()
                        .map_or("not reported", String::as_str);
                    format!("{path}: missing ({why})")
                }
            });
        }
        _ => {}
    }
}

fn has_missing(test: &TestCase) -> bool {
    test.status == Status::Missing || test.subtests.iter().any(has_missing)
}

/// Parses every KTAP document found in `log`. Never panics.
pub fn parse(log: &str) -> Vec<Document> {
    let mut parser = Parser::default();
    for line in log.lines() {
        parser.line(line);
    }
    parser.finish_document(TRUNCATED);
    parser.docs
}

/// Strips a printk timestamp (`[    1.234567] `, optionally followed by a
/// caller id such as `[    T1]`) and trailing carriage returns from a line.
pub fn strip_timestamp(line: &str) -> &str {
    let line = line.trim_end_matches('\r');
    let Some(rest) = strip_bracket(line, is_time) else {
        return line;
    };
    let rest = strip_bracket(rest, is_caller_id).unwrap_or(rest);
    rest.strip_prefix(' ').unwrap_or(rest)
}

fn strip_bracket(s: &str, valid: fn(&str) -> bool) -> Option<&str> {
    let inner = s.strip_prefix('[')?;
    let end = inner.find(']')?;
    valid(inner[..end].trim_start()).then(|| &inner[end + 1..])
}

fn is_time(s: &str) -> bool {
    let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    s.split_once('.')
        .is_some_and(|(secs, frac)| all_digits(secs) && all_digits(frac))
}

fn is_caller_id(s: &str) -> bool {
    s.strip_prefix(['T', 'C'])
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

const TRUNCATED: &str = "log truncated";
const NOT_REPORTED: &str = "not reported";
/// Plans above this are treated as garbage rather than allocating placeholders.
const MAX_PLAN: usize = 100_000;
/// Deeper nesting is ignored, which keeps the recursive helpers safe.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Line<'a> {
    Version,
    Plan(usize),
    Result {
        number: usize,
        status: Status,
        name: &'a str,
    },
    Subtest(&'a str),
    Diagnostic(&'a str),
    BailOut(&'a str),
}

/// Recognises one KTAP line with indentation and timestamp already removed.
fn classify(text: &str) -> Option<Line<'_>> {
    if text.starts_with("KTAP version ") || text.starts_with("TAP version ") {
        return Some(Line::Version);
    }
    if let Some(rest) = text.strip_prefix("1..") {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let tail = rest[end..].trim_start();
        if end > 0 && (tail.is_empty() || tail.starts_with('#')) {
            return rest[..end].parse().ok().map(Line::Plan);
        }
        return None;
    }
    if let Some(rest) = text.strip_prefix("ok ") {
        return parse_result(rest, true);
    }
    if let Some(rest) = text.strip_prefix("not ok ") {
        return parse_result(rest, false);
    }
    if let Some(rest) = text.strip_prefix("Bail out!") {
        return Some(Line::BailOut(rest.trim()));
    }
    let comment = text.strip_prefix('#')?.trim();
    Some(match comment.strip_prefix("Subtest:") {
        Some(name) => Line::Subtest(name.trim()),
        None => Line::Diagnostic(comment),
    })
}

fn parse_result(rest: &str, ok: bool) -> Option<Line<'_>> {
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let number = rest[..end].parse().ok()?;
    let rest = &rest[end..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None;
    }
    let rest = rest.trim();
    let rest = rest.strip_prefix("- ").unwrap_or(rest);
    let mut status = if ok { Status::Pass } else { Status::Fail };
    let mut name = rest;
    if let Some((desc, directive)) = split_directive(rest) {
        let directive = directive.to_ascii_uppercase();
        if directive.starts_with("SKIP") {
            (status, name) = (Status::Skip, desc);
        } else if directive.starts_with("TODO") {
            (status, name) = (if ok { Status::Pass } else { Status::Skip }, desc);
        }
    }
    Some(Line::Result {
        number,
        status,
        name,
    })
}

/// Splits `desc # directive` at the first `#` that starts a word (so `\#` does not).
fn split_directive(s: &str) -> Option<(&str, &str)> {
    let mut prev = ' ';
    for (i, c) in s.char_indices() {
        if c == '#' && prev.is_whitespace() {
            return Some((s[..i].trim_end(), s[i + 1..].trim()));
        }
        prev = c;
    }
    None
}

/// One (possibly nested) document that is still open.
#[derive(Debug, Default)]
struct Frame {
    indent: usize,
    /// Name from a `# Subtest:` header inside this document.
    name: Option<String>,
    has_version: bool,
    plan: Option<usize>,
    tests: Vec<TestCase>,
    /// Diagnostics waiting for the next result line.
    diagnostics: Vec<String>,
    /// A closed nested document waiting for its result line here.
    awaiting: Option<TestCase>,
    /// TAP 14 style `# Subtest:` at this indent, naming the next child.
    child_name: Option<String>,
}

impl Frame {
    fn is_fresh(&self) -> bool {
        self.plan.is_none() && self.tests.is_empty() && self.awaiting.is_none()
    }
}

#[derive(Default)]
struct Parser {
    docs: Vec<Document>,
    /// Open documents; `stack[0]` is the top-level one.
    stack: Vec<Frame>,
    complete: bool,
    problems: Vec<String>,
}

impl Parser {
    fn line(&mut self, raw: &str) {
        let message = strip_timestamp(raw);
        let text = message.trim_start_matches(' ');
        let indent = message.len() - text.len();
        let Some(line) = classify(text.trim_end()) else {
            return;
        };
        if line == Line::Version && self.stack.first().is_none_or(|r| indent <= r.indent) {
            self.finish_document(TRUNCATED);
            self.complete = true;
            self.stack.push(Frame {
                indent,
                has_version: true,
                ..Frame::default()
            });
            return;
        }
        if self.stack.first().is_none_or(|root| indent < root.indent) {
            return;
        }
        match line {
            // Diagnostics never change the structure: KUnit prints test
            // logs at a fixed indent even inside parameterised subtests.
            Line::Diagnostic(text) => {
                if let Some(frame) = self.stack.iter_mut().rfind(|f| f.indent == indent) {
                    if !frame.is_fresh() {
                        frame.diagnostics.push(text.to_string());
                    }
                }
            }
            Line::BailOut(reason) => self.problems.push(format!("bail out: {reason}")),
            _ => self.structural(indent, line),
        }
    }

    fn structural(&mut self, indent: usize, line: Line<'_>) {
        let Some(top) = self.stack.last() else {
            return;
        };
        if indent > top.indent {
            if self.stack.len() >= MAX_DEPTH {
                return;
            }
            self.open_child(indent);
        } else if indent < top.indent {
            if !self.stack.iter().any(|f| f.indent == indent) {
                return;
            }
            while self.stack.last().is_some_and(|f| f.indent > indent) {
                self.close_top(NOT_REPORTED);
            }
        }
        match line {
            Line::Version => {
                let top = self.top();
                if top.is_fresh() && !top.has_version {
                    top.has_version = true;
                } else {
                    // A sibling document starts although the previous one
                    // never got its result line.
                    self.close_top(NOT_REPORTED);
                    self.open_child(indent);
                    self.top().has_version = true;
                }
            }
            Line::Subtest(name) => {
                let nested = self.stack.len() > 1;
                let top = self.top();
                if nested && top.name.is_none() && top.is_fresh() {
                    top.name = Some(name.to_string());
                } else {
                    top.child_name = Some(name.to_string());
                }
            }
            Line::Plan(n) if n > MAX_PLAN => {
                let path = self.path();
                self.problems
                    .push(format!("{path}: implausible plan 1..{n}"));
            }
            Line::Plan(n) => {
                if self.top().plan.replace(n).is_some() {
                    let path = self.path();
                    self.problems.push(format!("{path}: duplicate plan"));
                }
            }
            Line::Result {
                number,
                status,
                name,
            } => self.result(number, status, name),
            Line::Diagnostic(_) | Line::BailOut(_) => {}
        }
    }

    fn result(&mut self, number: usize, status: Status, name: &str) {
        let expected = self.top().tests.len() + 1;
        if number != expected {
            let path = self.path();
            self.problems
                .push(format!("{path}: test number {number}, expected {expected}"));
        }
        let top = self.top();
        let mut test = top
            .awaiting
            .take()
            .unwrap_or_else(|| missing(String::new()));
        if !name.is_empty() || test.name.is_empty() {
            test.name = name.to_string();
        }
        test.status = status;
        test.diagnostics = mem::take(&mut top.diagnostics);
        top.tests.push(test);
    }

    fn top(&mut self) -> &mut Frame {
        self.stack.last_mut().expect("a document is open")
    }

    /// Dotted path of the innermost open document, for problem messages.
    fn path(&self) -> String {
        let names: Vec<&str> = self.stack[1..]
            .iter()
            .map(|f| f.name.as_deref().unwrap_or("?"))
            .collect();
        if names.is_empty() {
            "top level".to_string()
        } else {
            names.join(".")
        }
    }

    fn open_child(&mut self, indent: usize) {
        self.flush_awaiting(NOT_REPORTED);
        let name = self.top().child_name.take();
        self.stack.push(Frame {
            indent,
            name,
            ..Frame::default()
        });
    }

    /// Records a nested document that never got its result line.
    fn flush_awaiting(&mut self, why: &str) {
        let Some(mut test) = self.top().awaiting.take() else {
            return;
        };
        if test.name.is_empty() {
            test.name = format!("#{}", self.top().tests.len() + 1);
        }
        let path = match self.stack.len() {
            1 => test.name.clone(),
            _ => format!("{}.{}", self.path(), test.name),
        };
        self.problems
            .push(format!("{path}: no result line ({why})"));
        self.complete = false;
        test.diagnostics.push(why.to_string());
        self.top().tests.push(test);
    }

    /// Checks the innermost document against its plan and closes it.
    fn close_top(&mut self, why: &str) {
        self.flush_awaiting(why);
        self.check_plan(why);
        if self.stack.len() < 2 {
            return;
        }
        let frame = self.stack.pop().expect("checked above");
        let mut suite = missing(frame.name.unwrap_or_default());
        suite.subtests = frame.tests;
        self.flush_awaiting(why);
        self.top().awaiting = Some(suite);
    }

    fn check_plan(&mut self, why: &str) {
        let path = self.path();
        let nested = self.stack.len() > 1;
        let top = self.top();
        let got = top.tests.len();
        match top.plan {
            None if nested => {}
            None => {
                self.problems.push(format!("{path}: missing plan"));
                self.complete = false;
            }
            Some(n) if n > got => {
                for k in got + 1..=n {
                    let mut test = missing(format!("#{k}"));
                    test.diagnostics.push(why.to_string());
                    top.tests.push(test);
                }
                self.problems
                    .push(format!("{path}: expected {n} tests, got {got}"));
                self.complete = false;
            }
            Some(n) if n < got => {
                self.problems
                    .push(format!("{path}: expected {n} tests, got {got}"));
            }
            Some(_) => {}
        }
    }

    fn finish_document(&mut self, why: &str) {
        if self.stack.is_empty() {
            return;
        }
        while self.stack.len() > 1 {
            self.close_top(why);
        }
        self.close_top(why);
        let root = self.stack.pop().expect("root frame");
        self.docs.push(Document {
            plan: root.plan,
            tests: root.tests,
            complete: self.complete,
            problems: mem::take(&mut self.problems),
        });
    }
}

fn missing(name: String) -> TestCase {
    TestCase {
        name,
        status: Status::Missing,
        subtests: Vec::new(),
        diagnostics: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASS: &str = include_str!("../../testdata/ktap/kunit-rust-doctests-pass.log");
    const FAIL: &str = include_str!("../../testdata/ktap/kunit-rust-doctests-fail.log");
    const TRUNCATED_LOG: &str =
        include_str!("../../testdata/ktap/kunit-rust-doctests-truncated.log");
    const NOISE: &str = include_str!("../../testdata/ktap/kunit-noise-interleaved.log");
    const SKIP: &str = include_str!("../../testdata/ktap/kunit-skip.log");

    fn only(log: &str) -> Document {
        let mut docs = parse(log);
        assert_eq!(docs.len(), 1, "{docs:#?}");
        docs.remove(0)
    }

    fn counts(passed: usize, failed: usize, skipped: usize) -> Counts {
        Counts {
            passed,
            failed,
            skipped,
        }
    }

    #[test]
    fn strips_timestamps_and_caller_ids() {
        assert_eq!(strip_timestamp("[    1.234567] ok 1 x"), "ok 1 x");
        assert_eq!(strip_timestamp("[    1.234567]     ok 1 x\r"), "    ok 1 x");
        assert_eq!(strip_timestamp("[    0.000000][    T0] Linux"), "Linux");
        assert_eq!(strip_timestamp("[12345.5][  C1]  x"), " x");
        assert_eq!(
            strip_timestamp("[vda] not a timestamp"),
            "[vda] not a timestamp"
        );
        assert_eq!(strip_timestamp("[    1.2"), "[    1.2");
    }

    #[test]
    fn rust_doctests_pass() {
        let doc = only(PASS);
        assert!(doc.complete, "{:?}", doc.problems);
        assert!(doc.problems.is_empty(), "{:?}", doc.problems);
        assert_eq!(doc.plan, Some(1));
        let suite = &doc.tests[0];
        assert_eq!(suite.name, "rust_doctests_kernel");
        assert_eq!(suite.status, Status::Pass);
        assert_eq!(suite.subtests.len(), 115);
        assert_eq!(
            suite.subtests[0].name,
            "rust_doctest_kernel_alloc_kbox_rs_0"
        );
        assert_eq!(
            suite.subtests[0].diagnostics,
            ["rust_doctest_kernel_alloc_kbox_rs_0.location: rust/kernel/alloc/kbox.rs:101"]
        );
        assert_eq!(
            suite.subtests[114].name,
            "rust_doctest_kernel_workqueue_rs_3"
        );
        assert!(suite.diagnostics[0].starts_with("rust_doctests_kernel: pass:115"));
        assert_eq!(doc.counts(), counts(115, 0, 0));
        assert!(doc.failures().is_empty());
    }

    #[test]
    fn rust_doctests_fail() {
        let doc = only(FAIL);
        assert!(
            doc.complete && doc.problems.is_empty(),
            "{:?}",
            doc.problems
        );
        assert_eq!(doc.tests[0].status, Status::Fail);
        assert_eq!(doc.counts(), counts(113, 2, 0));
        let firsts: Vec<String> = doc
            .failures()
            .iter()
            .map(|f| f.lines().next().unwrap_or_default().to_string())
            .collect();
        assert_eq!(
            firsts,
            [
                "rust_doctests_kernel.rust_doctest_kernel_str_rs_5: not ok",
                "rust_doctests_kernel.rust_doctest_kernel_sync_arc_rs_2: not ok",
            ]
        );
        assert!(doc.failures()[0].ends_with("ASSERTION FAILED at rust/kernel/str.rs:299"));
        let failed = &doc.tests[0].subtests[71];
        assert_eq!(failed.status, Status::Fail);
        assert!(failed.diagnostics[1].contains("ASSERTION FAILED at rust/kernel/str.rs:299"));
    }

    #[test]
    fn rust_doctests_truncated_by_crash() {
        let doc = only(TRUNCATED_LOG);
        assert!(!doc.complete);
        let suite = &doc.tests[0];
        assert_eq!(suite.status, Status::Missing);
        assert_eq!(suite.subtests.len(), 115);
        assert_eq!(suite.subtests[39].status, Status::Pass);
        assert_eq!(suite.subtests[40].status, Status::Missing);
        assert_eq!(doc.counts(), counts(40, 75, 0));
        let failures = doc.failures();
        assert_eq!(failures.len(), 75);
        assert_eq!(
            failures[0],
            "rust_doctests_kernel.#41: missing (log truncated)"
        );
        assert!(doc
            .problems
            .contains(&"rust_doctests_kernel: expected 115 tests, got 40".to_string()));
        assert!(doc
            .problems
            .contains(&"rust_doctests_kernel: no result line (log truncated)".to_string()));
    }

    #[test]
    fn noise_and_parameterised_tests() {
        let doc = only(NOISE);
        assert!(
            doc.complete && doc.problems.is_empty(),
            "{:?}",
            doc.problems
        );
        assert_eq!(doc.plan, Some(2));
        let names: Vec<&str> = doc.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["example", "rust_doctests_kernel"]);
        let params = &doc.tests[0].subtests[7];
        assert_eq!(params.name, "example_params_test");
        assert_eq!(params.subtests.len(), 4);
        assert_eq!(params.subtests[0].name, "example value 3");
        assert_eq!(params.subtests[3].status, Status::Skip);
        assert_eq!(doc.tests[0].subtests[1].status, Status::Skip);
        assert_eq!(doc.tests[1].subtests.len(), 20);
        assert_eq!(doc.counts(), counts(29, 0, 3));
    }

    #[test]
    fn skipped_suites() {
        let doc = only(SKIP);
        assert!(doc.complete, "{:?}", doc.problems);
        assert_eq!(doc.tests[1].name, "kunit_fault");
        assert_eq!(doc.tests[1].status, Status::Skip);
        assert_eq!(doc.counts(), counts(2, 0, 2));
    }

    #[test]
    fn tap14_directives_and_several_documents() {
        let log = "TAP version 14\n1..4\nok 1 - first\nnot ok 2 - second # TODO not yet\n\
                   ok 3 - third # skip no hw\nok 4 - has # in name\n\
                   noise\nKTAP version 1\n1..1\nnot ok 1 broken\n";
        let docs = parse(log);
        assert_eq!(docs.len(), 2);
        let names: Vec<&str> = docs[0].tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["first", "second", "third", "has # in name"]);
        assert_eq!(docs[0].counts(), counts(2, 0, 2));
        assert_eq!(docs[1].failures(), ["broken: not ok"]);
    }

    #[test]
    fn tap14_subtest_header_at_parent_indent() {
        let log =
            "TAP version 14\n1..1\n# Subtest: inner\n    1..2\n    ok 1 a\n    ok 2 b\nok 1\n";
        let doc = only(log);
        assert!(doc.complete, "{:?}", doc.problems);
        assert_eq!(doc.tests[0].name, "inner");
        assert_eq!(doc.counts(), counts(2, 0, 0));
    }

    #[test]
    fn failing_suite_with_passing_leaves_counts_once() {
        let log = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..1\n\
                   \x20   ok 1 a\nnot ok 1 s\n";
        let doc = only(log);
        assert!(doc.complete);
        assert_eq!(doc.counts(), counts(1, 1, 0));
        assert_eq!(doc.failures(), ["s: not ok"]);
    }

    #[test]
    fn short_plan_in_closed_suite() {
        let log = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..3\n\
                   \x20   ok 1 a\n    ok 2 b\nok 1 s\n";
        let doc = only(log);
        assert!(!doc.complete);
        assert_eq!(doc.tests[0].status, Status::Pass);
        assert_eq!(doc.problems, ["s: expected 3 tests, got 2"]);
        assert_eq!(doc.counts(), counts(2, 1, 0));
        assert_eq!(doc.failures(), ["s.#3: missing (not reported)"]);
    }

    #[test]
    fn numbering_and_plan_problems() {
        let doc = only("KTAP version 1\n1..3\nok 1 a\nok 3 b\nok 2 c\n");
        assert!(doc.complete);
        assert_eq!(
            doc.problems,
            [
                "top level: test number 3, expected 2",
                "top level: test number 2, expected 3"
            ]
        );

        let doc = only("KTAP version 1\nok 1 a\n");
        assert!(!doc.complete);
        assert_eq!(doc.problems, ["top level: missing plan"]);
        assert_eq!(doc.counts(), counts(1, 1, 0));
        assert_eq!(doc.failures().len(), 1);

        let doc = only("KTAP version 1\n1..1\nok 1 a\nok 2 b\n");
        assert!(doc.complete);
        assert_eq!(doc.problems, ["top level: expected 1 tests, got 2"]);
    }

    #[test]
    fn suite_left_open_without_shortfall() {
        let log = "KTAP version 1\n1..2\n    KTAP version 1\n    # Subtest: s\n    1..1\n\
                   \x20   ok 1 a\n# s: pass:1 fail:0 skip:0 total:1\n";
        let doc = only(log);
        assert!(!doc.complete);
        assert_eq!(doc.tests[0].status, Status::Missing);
        assert_eq!(doc.tests[0].name, "s");
        assert_eq!(doc.counts(), counts(1, 2, 0));
        assert_eq!(
            doc.failures(),
            ["s: missing (log truncated)", "#2: missing (log truncated)"]
        );
    }

    #[test]
    fn lost_suite_result_line_between_siblings() {
        let log = "KTAP version 1\n1..2\n    KTAP version 1\n    # Subtest: s1\n    1..1\n\
                   \x20   ok 1 a\n    KTAP version 1\n    # Subtest: s2\n    1..1\n\
                   \x20   not ok 1 b\nnot ok 2 s2\n";
        let doc = only(log);
        assert!(!doc.complete);
        assert_eq!(doc.tests.len(), 2);
        assert_eq!(doc.tests[0].name, "s1");
        assert_eq!(doc.tests[0].status, Status::Missing);
        assert_eq!(doc.tests[1].name, "s2");
        assert_eq!(doc.counts(), counts(1, 2, 0));
        assert_eq!(doc.problems, ["s1: no result line (not reported)"]);
    }

    #[test]
    fn second_boot_truncates_first_document() {
        let log = "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..2\n\
                   \x20   ok 1 a\nKTAP version 1\n1..1\nok 1 t\n";
        let docs = parse(log);
        assert_eq!(docs.len(), 2);
        assert!(!docs[0].complete);
        assert_eq!(docs[0].counts(), counts(1, 1, 0));
        assert!(docs[1].complete);
    }

    #[test]
    fn ignores_logs_without_ktap() {
        assert!(parse("").is_empty());
        assert!(parse("ok 1 foo\n1..2\n# hello\n").is_empty());
        let doc = only("KTAP version 1\n");
        assert!(!doc.complete);
        assert_eq!(doc.counts(), counts(0, 1, 0));
    }

    #[test]
    fn garbage_never_panics() {
        const PIECES: &[&str] = &[
            "KTAP version 1",
            "TAP version 14",
            "1..3",
            "1..99999999999999999999999",
            "1..200000",
            "ok 1 a",
            "ok",
            "not ok 2 b # SKIP",
            "ok 18446744073709551616 x",
            "# Subtest: s",
            "# diag",
            "Bail out! no",
            "[    1.000000] ",
            "[  1.5][T1]",
            "[",
            "ok 3 é # TODO ü",
            "#",
            "not ok",
            "1..",
            "    ",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let mut log = String::new();
            for _ in 0..next() % 60 {
                log.push_str(&" ".repeat((next() % 5 * 4 + next() % 2) as usize));
                let piece = PIECES[(next() % PIECES.len() as u64) as usize];
                let cut = (next() % (piece.len() as u64 + 1)) as usize;
                log.push_str(piece.get(..cut).unwrap_or(piece));
                log.push('\n');
            }
            for doc in parse(&log) {
                let c = doc.counts();
                assert_eq!(c.failed, doc.failures().len(), "{log}");
                assert!(doc.complete || c.failed > 0, "{log}");
            }
        }
        // Deep nesting is bounded.
        let deep: String = (0..200)
            .map(|i| format!("{}KTAP version 1\n", " ".repeat(i)))
            .collect();
        assert_eq!(parse(&deep).len(), 1);
        for doc in parse(&format!("{PASS}{FAIL}")) {
            assert!(doc.complete);
        }
    }
}
