//! Benchmarks: the bench kernel's sample modules print one line per measurement,
//!
//! `bench: suite=<suite> impl=<impl> pattern=<pattern> n=<n> ns_per_op=<ns>`,
//!
//! plus `suite=memory` lines (`bytes=`, `in_use=`) and `suite=check` lines (`in_use=`,
//! `idsum=`), which this module collects into a table, a JSON file, and the ratios the project
//! tracks. All numbers of one report come from one boot: absolute times under TCG mean little,
//! ratios do.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One timing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// What is measured, e.g. `id_alloc` or `find_bit`.
    pub suite: String,
    /// The implementation, e.g. `idpool_spinlock` or `ida`.
    pub implementation: String,
    /// The access pattern or data, e.g. `grow`, `churn`, `random`.
    pub pattern: String,
    /// Size: live ids, or bits.
    pub n: u64,
    /// Nanoseconds per operation.
    pub ns_per_op: f64,
    /// For two threads at once: the percentage of the round during which both ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlap: Option<u64>,
}

/// The memory of one allocator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Memory {
    /// The implementation.
    pub implementation: String,
    /// The pattern whose allocator this is (`empty` for a new one).
    pub pattern: String,
    /// Nominal number of ids in use of the case.
    pub n: u64,
    /// Ids in use when measured.
    pub in_use: u64,
    /// Bytes of the structure and of its allocations.
    pub bytes: u64,
    /// `bytes / in_use`, if any id is in use.
    pub bytes_per_id: Option<f64>,
}

/// The ids left in use by a deterministic pattern, which every implementation must agree on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// The implementation.
    pub implementation: String,
    /// The pattern.
    pub pattern: String,
    /// Nominal number of ids in use of the case.
    pub n: u64,
    /// The number of steps of the pattern that ran.
    pub steps: u64,
    /// Ids in use at the end.
    pub in_use: u64,
    /// Their sum modulo 2^32.
    pub idsum: u64,
}

/// The `key=value` fields of a `bench:` line, if `line` is one.
fn fields(line: &str) -> Option<BTreeMap<&str, &str>> {
    let rest = &line[line.find("bench: suite=")? + "bench: ".len()..];
    Some(
        rest.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .collect(),
    )
}

fn number(fields: &BTreeMap<&str, &str>, key: &str) -> Option<u64> {
    fields.get(key)?.parse().ok()
}

/// Parses the timing lines of a console log; other lines are ignored.
pub fn parse(console: &str) -> Vec<Sample> {
    console
        .lines()
        .filter_map(|line| {
            let f = fields(line)?;
            Some(Sample {
                suite: f.get("suite")?.to_string(),
                implementation: f.get("impl")?.to_string(),
                pattern: f.get("pattern")?.to_string(),
                n: number(&f, "n")?,
                ns_per_op: f.get("ns_per_op")?.parse().ok()?,
                overlap: number(&f, "overlap"),
            })
        })
        .collect()
}

/// Parses the `suite=memory` lines of a console log.
pub fn parse_memory(console: &str) -> Vec<Memory> {
    console
        .lines()
        .filter_map(|line| {
            let f = fields(line)?;
            if f.get("suite") != Some(&"memory") {
                return None;
            }
            let in_use = number(&f, "in_use")?;
            let bytes = number(&f, "bytes")?;
            Some(Memory {
                implementation: f.get("impl")?.to_string(),
                pattern: f.get("pattern")?.to_string(),
                n: number(&f, "n")?,
                in_use,
                bytes,
                bytes_per_id: (in_use > 0).then(|| bytes as f64 / in_use as f64),
            })
        })
        .collect()
}

/// Parses the `suite=check` lines of a console log.
pub fn parse_checks(console: &str) -> Vec<Check> {
    console
        .lines()
        .filter_map(|line| {
            let f = fields(line)?;
            if f.get("suite") != Some(&"check") {
                return None;
            }
            Some(Check {
                implementation: f.get("impl")?.to_string(),
                pattern: f.get("pattern")?.to_string(),
                n: number(&f, "n")?,
                steps: number(&f, "steps")?,
                in_use: number(&f, "in_use")?,
                idsum: number(&f, "idsum")?,
            })
        })
        .collect()
}

/// Returns a problem for each pattern, size and number of steps whose implementations disagree
/// on the ids left in use.
pub fn disagreements(checks: &[Check]) -> Vec<String> {
    let mut by_case: BTreeMap<(&str, u64, u64), Vec<&Check>> = BTreeMap::new();
    for c in checks {
        by_case
            .entry((&c.pattern, c.n, c.steps))
            .or_default()
            .push(c);
    }
    by_case
        .into_iter()
        .filter(|(_, cs)| {
            cs.iter()
                .any(|c| (c.in_use, c.idsum) != (cs[0].in_use, cs[0].idsum))
        })
        .map(|((pattern, n, steps), cs)| {
            let what: Vec<String> = cs
                .iter()
                .map(|c| format!("{} in_use={} idsum={}", c.implementation, c.in_use, c.idsum))
                .collect();
            format!(
                "{pattern} n={n} steps={steps}: the implementations left different ids in use: {}",
                what.join(", ")
            )
        })
        .collect()
}

/// A ratio of two timings, with its target if the project tracks it.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    /// What is compared.
    pub name: String,
    /// The measured ratio, if both sides were measured.
    pub value: Option<f64>,
    /// The target, as text (e.g. `<= 1.5`); empty for a ratio given for information.
    pub target: &'static str,
    /// Whether the value meets the target.
    pub met: bool,
}

impl Ratio {
    /// A tracked ratio, met when `value` is at most `limit` (`at_most`) or at least `limit`.
    pub fn tracked(
        name: String,
        value: Option<f64>,
        target: &'static str,
        limit: f64,
        at_most: bool,
    ) -> Ratio {
        let met = value.is_some_and(|v| if at_most { v <= limit } else { v >= limit });
        Ratio {
            name,
            value,
            target,
            met,
        }
    }
}

fn find(
    samples: &[Sample],
    suite: &str,
    implementation: &str,
    pattern: &str,
    n: u64,
) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.suite == suite
                && s.implementation == implementation
                && s.pattern == pattern
                && s.n == n
        })
        .map(|s| s.ns_per_op)
}

fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?).filter(|r| r.is_finite())
}

/// The ID pool, behind a spinlock taken per operation as the IDA takes its own.
const POOL: &str = "idpool_spinlock";

/// The flat bitmap of the C binder, behind a spinlock taken per operation.
const FLAT: &str = "flat_scan_spinlock";

/// The patterns of suite `id_alloc`.
const PATTERNS: [&str; 5] = ["grow", "churn", "holes", "binder", "binder_2cpu"];

/// The tracked ratios, each comparing implementations that take one lock per operation: the
/// pool's cost at 1M ids over 1k, the IDA against the pool at 1M, for every pattern; and our
/// bitmap searches against C's.
pub fn ratios(samples: &[Sample]) -> Vec<Ratio> {
    let mut out = Vec::new();
    let mut push =
        |name: String, value: Option<f64>, target: &'static str, limit: f64, at_most: bool| {
            out.push(Ratio::tracked(name, value, target, limit, at_most));
        };
    for pattern in PATTERNS {
        let at = |impl_: &str, n| find(samples, "id_alloc", impl_, pattern, n);
        push(
            format!("{POOL} {pattern}: 1M / 1k"),
            div(at(POOL, 1_000_000), at(POOL, 1_000)),
            "<= 1.5",
            1.5,
            true,
        );
        push(
            format!("{pattern} at 1M: ida / {POOL}"),
            div(at("ida", 1_000_000), at(POOL, 1_000_000)),
            ">= 1.5",
            1.5,
            false,
        );
    }
    let mut searches: Vec<(String, u64)> = samples
        .iter()
        .filter(|s| s.suite == "find_bit")
        .map(|s| (s.pattern.clone(), s.n))
        .collect();
    searches.sort();
    searches.dedup();
    for (pattern, n) in searches {
        for (ours, theirs) in [
            ("rust_next_set", "c_find_next_bit"),
            ("rust_next_zero", "c_find_next_zero_bit"),
        ] {
            let value = div(
                find(samples, "find_bit", ours, &pattern, n),
                find(samples, "find_bit", theirs, &pattern, n),
            );
            if value.is_some() {
                push(
                    format!("{pattern} {ours} / {theirs}"),
                    value,
                    "<= 1.00",
                    1.0,
                    true,
                );
            }
        }
    }
    out
}

/// Ratios given for information, without a target: the flat scan against the pool at 1M ids,
/// and two CPUs against one on the binder pattern at 1M ids.
pub fn info_ratios(samples: &[Sample]) -> Vec<Ratio> {
    let mut out = Vec::new();
    let at = |impl_: &str, pattern: &str| find(samples, "id_alloc", impl_, pattern, 1_000_000);
    for pattern in PATTERNS {
        out.push(Ratio {
            name: format!("{pattern} at 1M: {FLAT} / {POOL}"),
            value: div(at(FLAT, pattern), at(POOL, pattern)),
            target: "",
            met: true,
        });
    }
    for implementation in [POOL, "ida", FLAT] {
        out.push(Ratio {
            name: format!("{implementation} at 1M: binder_2cpu / binder"),
            value: div(
                at(implementation, "binder_2cpu"),
                at(implementation, "binder"),
            ),
            target: "",
            met: true,
        });
    }
    out
}

/// Everything one boot of the benchmarks reported.
pub struct Results {
    /// The timings.
    pub samples: Vec<Sample>,
    /// The memory of the allocators.
    pub memory: Vec<Memory>,
    /// The ids left in use by deterministic patterns.
    pub checks: Vec<Check>,
    /// The tracked ratios.
    pub ratios: Vec<Ratio>,
    /// The ratios given for information.
    pub info: Vec<Ratio>,
}

impl Results {
    /// Collects the results from a console log.
    pub fn from_console(console: &str) -> Results {
        let samples = parse(console);
        Results {
            memory: parse_memory(console),
            checks: parse_checks(console),
            ratios: ratios(&samples),
            info: info_ratios(&samples),
            samples,
        }
    }

    /// What went wrong, besides missed targets: implementations that disagree.
    pub fn problems(&self) -> Vec<String> {
        disagreements(&self.checks)
    }

    /// The machine-readable results.
    pub fn json(&self, base: &str, accel: &str) -> serde_json::Value {
        serde_json::json!({
            "base": base,
            "accel": accel,
            "samples": self.samples,
            "memory": self.memory,
            "checks": self.checks,
            "ratios": self.ratios,
            "info_ratios": self.info,
        })
    }

    /// The human-readable report: every timing, the memory, the tracked ratios, then the others.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "{:<10} {:<22} {:<12} {:>9} {:>12} {:>8}",
            "suite", "impl", "pattern", "n", "ns/op", "overlap"
        );
        for s in &self.samples {
            let overlap = s.overlap.map_or(String::new(), |o| format!("{o}%"));
            let _ = writeln!(
                t,
                "{:<10} {:<22} {:<12} {:>9} {:>12.1} {:>8}",
                s.suite, s.implementation, s.pattern, s.n, s.ns_per_op, overlap
            );
        }
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "{:<22} {:<12} {:>9} {:>9} {:>10} {:>9}",
            "memory", "pattern", "n", "in use", "bytes", "bytes/id"
        );
        for m in &self.memory {
            let per_id = m
                .bytes_per_id
                .map_or("-".to_string(), |b| format!("{b:.3}"));
            let _ = writeln!(
                t,
                "{:<22} {:<12} {:>9} {:>9} {:>10} {:>9}",
                m.implementation, m.pattern, m.n, m.in_use, m.bytes, per_id
            );
        }
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "{:<48} {:>8}  {:<8}",
            "tracked ratio (each side one lock per op)", "value", "target"
        );
        for r in &self.ratios {
            let value = r.value.map_or("-".to_string(), |v| format!("{v:.2}"));
            let verdict = if r.met { "met" } else { "MISSED" };
            let _ = writeln!(t, "{:<48} {:>8}  {:<8} {verdict}", r.name, value, r.target);
        }
        let _ = writeln!(t);
        let _ = writeln!(t, "{:<48} {:>8}", "for information, not tracked", "value");
        for r in &self.info {
            let value = r.value.map_or("-".to_string(), |v| format!("{v:.2}"));
            let _ = writeln!(t, "{:<48} {:>8}", r.name, value);
        }
        for p in self.problems() {
            let _ = writeln!(t, "PROBLEM: {p}");
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[    5.1] rust_id_pool_bench: bench: suite=id_alloc impl=idpool_spinlock pattern=grow n=1000 ns_per_op=40.0
bench: suite=id_alloc impl=idpool_spinlock pattern=grow n=1000000 ns_per_op=50.0
bench: suite=id_alloc impl=ida pattern=grow n=1000000 ns_per_op=70.0
bench: suite=id_alloc impl=flat_scan_spinlock pattern=grow n=1000000 ns_per_op=450.0
bench: suite=id_alloc impl=idpool_spinlock pattern=binder n=1000000 ns_per_op=60.0
bench: suite=id_alloc impl=idpool_spinlock pattern=binder_2cpu n=1000000 ns_per_op=90.0 overlap=97
bench: suite=find_bit impl=rust_next_set pattern=random n=1048576 ns_per_op=3.0
bench: suite=find_bit impl=c_find_next_bit pattern=random n=1048576 ns_per_op=4.0
bench: suite=find_bit impl=rust_next_set pattern=random n=oops ns_per_op=3.0
bench: suite=memory impl=idpool_spinlock pattern=dense n=1000 in_use=1000 bytes=536
bench: suite=memory impl=idpool_spinlock pattern=empty n=0 in_use=0 bytes=264
bench: suite=check impl=idpool_spinlock pattern=binder n=1000 steps=50 in_use=990 idsum=123
bench: suite=check impl=ida pattern=binder n=1000 steps=50 in_use=990 idsum=123
bench: suite=check impl=flat_scan_spinlock pattern=binder n=1000 steps=20 in_use=980 idsum=99
bench: suite=check impl=idpool_spinlock pattern=binder n=64000 steps=50 in_use=64010 idsum=7
bench: suite=check impl=ida pattern=binder n=64000 steps=50 in_use=64010 idsum=8
random noise line
";

    #[test]
    fn parses_bench_lines_and_skips_malformed_ones() {
        let samples = parse(LOG);
        assert_eq!(samples.len(), 8);
        assert_eq!(samples[0].implementation, "idpool_spinlock");
        assert_eq!(samples[0].n, 1000);
        assert_eq!(samples[2].ns_per_op, 70.0);
        assert_eq!(samples[0].overlap, None);
        assert_eq!(samples[5].overlap, Some(97));
    }

    #[test]
    fn computes_tracked_ratios_against_targets() {
        let ratios = ratios(&parse(LOG));
        let get = |name: &str| ratios.iter().find(|r| r.name == name).unwrap();
        let growth = get("idpool_spinlock grow: 1M / 1k");
        assert_eq!(growth.value, Some(1.25));
        assert!(growth.met);
        let ida = get("grow at 1M: ida / idpool_spinlock");
        assert_eq!(ida.value, Some(1.4));
        assert!(!ida.met);
        assert_eq!(get("idpool_spinlock churn: 1M / 1k").value, None);
        assert!(!get("idpool_spinlock churn: 1M / 1k").met);
        assert_eq!(
            get("random rust_next_set / c_find_next_bit").value,
            Some(0.75)
        );
        // Unlocked or flat-scan comparisons are not tracked.
        assert!(ratios.iter().all(|r| !r.name.contains("flat_scan")));
    }

    #[test]
    fn gives_other_ratios_for_information() {
        let info = info_ratios(&parse(LOG));
        let get = |name: &str| info.iter().find(|r| r.name == name).unwrap();
        assert_eq!(
            get("grow at 1M: flat_scan_spinlock / idpool_spinlock").value,
            Some(9.0)
        );
        assert_eq!(
            get("idpool_spinlock at 1M: binder_2cpu / binder").value,
            Some(1.5)
        );
        assert!(info.iter().all(|r| r.target.is_empty()));
    }

    #[test]
    fn parses_memory_and_flags_disagreeing_implementations() {
        let memory = parse_memory(LOG);
        assert_eq!(memory.len(), 2);
        assert_eq!(memory[0].bytes_per_id, Some(0.536));
        assert_eq!(memory[1].bytes_per_id, None);
        let problems = disagreements(&parse_checks(LOG));
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("binder n=64000 steps=50"),
            "{problems:?}"
        );
    }
}
