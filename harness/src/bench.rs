//! Benchmarks: the bench kernel's sample modules print one line per measurement,
//!
//! `bench: suite=<suite> impl=<impl> pattern=<pattern> n=<n> ns_per_op=<ns>`,
//!
//! which this module collects into a table, a JSON file, and the ratios the project tracks.
//! All numbers of one report come from one boot: absolute times under TCG mean little, ratios do.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One measurement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// What is measured, e.g. `id_alloc` or `find_bit`.
    pub suite: String,
    /// The implementation, e.g. `idpool` or `ida`.
    pub implementation: String,
    /// The access pattern or data, e.g. `grow`, `churn`, `random`.
    pub pattern: String,
    /// Size: live ids, or bits.
    pub n: u64,
    /// Nanoseconds per operation.
    pub ns_per_op: f64,
}

/// Parses the `bench:` lines of a console log; other lines are ignored.
pub fn parse(console: &str) -> Vec<Sample> {
    console
        .lines()
        .filter_map(|line| {
            let rest = &line[line.find("bench: suite=")? + "bench: ".len()..];
            let fields: BTreeMap<&str, &str> = rest
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .collect();
            Some(Sample {
                suite: fields.get("suite")?.to_string(),
                implementation: fields.get("impl")?.to_string(),
                pattern: fields.get("pattern")?.to_string(),
                n: fields.get("n")?.parse().ok()?,
                ns_per_op: fields.get("ns_per_op")?.parse().ok()?,
            })
        })
        .collect()
}

/// A ratio the project tracks, with its target.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    /// What is compared.
    pub name: String,
    /// The measured ratio, if both sides were measured.
    pub value: Option<f64>,
    /// The target, as text (e.g. `<= 1.5`).
    pub target: &'static str,
    /// Whether the value meets the target.
    pub met: bool,
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

/// The tracked ratios: IdPool's cost at 1M over 1k, IdPool against IDA and the flat scan at
/// 1M, and our bitmap search against C's.
pub fn ratios(samples: &[Sample]) -> Vec<Ratio> {
    let mut out = Vec::new();
    let mut push =
        |name: String, value: Option<f64>, target: &'static str, limit: f64, at_most: bool| {
            let met = value.is_some_and(|v| if at_most { v <= limit } else { v >= limit });
            out.push(Ratio {
                name,
                value,
                target,
                met,
            });
        };
    let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?).filter(|r| r.is_finite());
    for pattern in ["grow", "churn"] {
        let at = |impl_: &str, n| find(samples, "id_alloc", impl_, pattern, n);
        push(
            format!("idpool {pattern}: 1M / 1k"),
            div(at("idpool", 1_000_000), at("idpool", 1_000)),
            "<= 1.5",
            1.5,
            true,
        );
        push(
            format!("{pattern} at 1M: ida / idpool"),
            div(at("ida", 1_000_000), at("idpool", 1_000_000)),
            ">= 3",
            3.0,
            false,
        );
        push(
            format!("{pattern} at 1M: flat_scan / idpool"),
            div(at("flat_scan", 1_000_000), at("idpool", 1_000_000)),
            ">= 10",
            10.0,
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

/// The human-readable report: every sample, then the ratios.
pub fn table(samples: &[Sample], ratios: &[Ratio]) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<10} {:<22} {:<8} {:>9} {:>12}",
        "suite", "impl", "pattern", "n", "ns/op"
    );
    for s in samples {
        let _ = writeln!(
            t,
            "{:<10} {:<22} {:<8} {:>9} {:>12.1}",
            s.suite, s.implementation, s.pattern, s.n, s.ns_per_op
        );
    }
    let _ = writeln!(t);
    let _ = writeln!(t, "{:<44} {:>8}  {:<8}", "ratio", "value", "target");
    for r in ratios {
        let value = r.value.map_or("-".to_string(), |v| format!("{v:.2}"));
        let verdict = if r.met { "met" } else { "MISSED" };
        let _ = writeln!(t, "{:<44} {:>8}  {:<8} {verdict}", r.name, value, r.target);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[    5.1] rust_id_pool_bench: bench: suite=id_alloc impl=idpool pattern=grow n=1000 ns_per_op=40.0
bench: suite=id_alloc impl=idpool pattern=grow n=1000000 ns_per_op=50.0
bench: suite=id_alloc impl=ida pattern=grow n=1000000 ns_per_op=400.0
bench: suite=id_alloc impl=flat_scan pattern=grow n=1000000 ns_per_op=450.0
bench: suite=find_bit impl=rust_next_set pattern=random n=1048576 ns_per_op=3.0
bench: suite=find_bit impl=c_find_next_bit pattern=random n=1048576 ns_per_op=4.0
bench: suite=find_bit impl=rust_next_set pattern=random n=oops ns_per_op=3.0
random noise line
";

    #[test]
    fn parses_bench_lines_and_skips_malformed_ones() {
        let samples = parse(LOG);
        assert_eq!(samples.len(), 6);
        assert_eq!(samples[0].implementation, "idpool");
        assert_eq!(samples[0].n, 1000);
        assert_eq!(samples[2].ns_per_op, 400.0);
    }

    #[test]
    fn computes_ratios_against_targets() {
        let ratios = ratios(&parse(LOG));
        let get = |name: &str| ratios.iter().find(|r| r.name == name).unwrap();
        let growth = get("idpool grow: 1M / 1k");
        assert_eq!(growth.value, Some(1.25));
        assert!(growth.met);
        assert!(get("grow at 1M: ida / idpool").met);
        let flat = get("grow at 1M: flat_scan / idpool");
        assert_eq!(flat.value, Some(9.0));
        assert!(!flat.met);
        assert_eq!(get("idpool churn: 1M / 1k").value, None);
        assert!(!get("idpool churn: 1M / 1k").met);
        assert_eq!(
            get("random rust_next_set / c_find_next_bit").value,
            Some(0.75)
        );
    }
}
