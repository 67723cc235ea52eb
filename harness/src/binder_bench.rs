//! The binder benchmark (`userspace/binder-bench`): its result lines,
//!
//! `binder-bench: case=<case> target=<target> key=value...`,
//!
//! collected into tables, the ratios the project tracks (PF1–PF3, PF9, PF10 of issue 11), a
//! JSON value and SVG plots. Every figure of one report comes from one boot; only ratios
//! within it are compared.

use crate::bench::Ratio;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// The C binder, the reference of every ratio.
const C: &str = "c";
/// binder-lite with the ID pool (its default).
const IDPOOL: &str = "idpool";
/// binder-lite walking its handle tree for the first gap.
const SCAN: &str = "rbtree_scan";

/// Latency of one range of case 1 or one payload size of case 2, in microseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub target: String,
    /// Case 1: the handle count at the start and end of the range; case 2: the payload size
    /// in bytes (both fields).
    pub from: u64,
    pub to: u64,
    pub n: u64,
    pub avg_us: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// A throughput: one-way transactions of one size, or round trips of a number of clients.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Throughput {
    pub target: String,
    /// Payload bytes (one-way) or client processes.
    pub x: u64,
    pub n: u64,
    pub tx_per_s: f64,
}

/// A target of case 1 stopped before its last range.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stop {
    pub target: String,
    /// Handles in the server when it stopped.
    pub at: u64,
    pub reason: String,
}

/// Everything the program reported in one boot.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Results {
    /// The targets the program knows, and whether each was measured.
    pub targets: Vec<(String, bool)>,
    pub handles: Vec<Latency>,
    pub stops: Vec<Stop>,
    pub payload: Vec<Latency>,
    pub oneway: Vec<Throughput>,
    pub clients: Vec<Throughput>,
    /// `error` lines: a failed transaction or a wrong handle.
    pub errors: Vec<String>,
    /// Whether the program said `done`.
    pub done: bool,
}

/// The `key=value` fields after `binder-bench: ` (and the first word, if it is not one).
fn fields(line: &str) -> Option<(&str, BTreeMap<&str, &str>)> {
    let rest = &line[line.rfind("binder-bench: ")? + "binder-bench: ".len()..];
    let (first, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let map = tail
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    Some((first, map))
}

fn num<T: std::str::FromStr>(f: &BTreeMap<&str, &str>, key: &str) -> Option<T> {
    f.get(key)?.parse().ok()
}

impl Results {
    /// Collects the results from a console log; other lines are ignored.
    pub fn from_console(console: &str) -> Results {
        let mut r = Results::default();
        for line in console.lines() {
            let Some((first, f)) = fields(line) else {
                continue;
            };
            if first == "error" {
                let at = line.find("error ").map_or(0, |i| i + "error ".len());
                r.errors.push(line[at..].trim().to_string());
                continue;
            }
            if first == "done" {
                r.done = true;
                continue;
            }
            let target = f.get("target").map(|t| t.to_string());
            let latency = |from: &str, to: &str| {
                Some(Latency {
                    target: target.clone()?,
                    from: num(&f, from)?,
                    to: num(&f, to)?,
                    n: num(&f, "n")?,
                    avg_us: num(&f, "avg_us")?,
                    p50_us: num(&f, "p50_us")?,
                    p99_us: num(&f, "p99_us")?,
                })
            };
            let throughput = |x: &str| {
                Some(Throughput {
                    target: target.clone()?,
                    x: num(&f, x)?,
                    n: num(&f, "n")?,
                    tx_per_s: num(&f, "tx_per_s")?,
                })
            };
            match first {
                "target" => {
                    if let (Some(name), Some(avail)) = (f.get("name"), f.get("available")) {
                        r.targets.push((name.to_string(), *avail == "true"));
                    }
                }
                "stopped" => {
                    if let (Some(target), Some(at)) = (target.clone(), num(&f, "at")) {
                        let reason = f.get("reason").unwrap_or(&"").to_string();
                        r.stops.push(Stop { target, at, reason });
                    }
                }
                _ => {}
            }
            // Result lines start with `case=`.
            let Some(case) = first.strip_prefix("case=") else {
                continue;
            };
            match case {
                "handles" => r.handles.extend(latency("from", "to")),
                "payload" => r.payload.extend(latency("size", "size")),
                "oneway" => r.oneway.extend(throughput("size")),
                "clients" => r.clients.extend(throughput("clients")),
                _ => {}
            }
        }
        r
    }

    /// The targets that were measured.
    pub fn measured(&self) -> Vec<&str> {
        self.targets
            .iter()
            .filter(|(_, a)| *a)
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// What is missing or wrong: errors, no `done`, a measured target without results of a
    /// case.
    pub fn problems(&self) -> Vec<String> {
        let mut p: Vec<String> = self
            .errors
            .iter()
            .map(|e| format!("binder-bench: {e}"))
            .collect();
        if !self.done {
            p.push("binder-bench did not finish".into());
        }
        if self.measured().is_empty() {
            p.push("binder-bench measured no target".into());
        }
        for t in self.measured() {
            let has = |v: &[Latency]| v.iter().any(|l| l.target == t && l.n > 0);
            let has_t = |v: &[Throughput]| v.iter().any(|l| l.target == t && l.n > 0);
            for (case, ok) in [
                ("handles", has(&self.handles)),
                ("payload", has(&self.payload)),
                ("oneway", has_t(&self.oneway)),
                ("clients", has_t(&self.clients)),
            ] {
                if !ok {
                    p.push(format!("binder-bench: no {case} result for target {t}"));
                }
            }
        }
        p
    }

    fn ranges(&self, target: &str) -> Vec<&Latency> {
        self.handles.iter().filter(|l| l.target == target).collect()
    }

    /// Full ranges only: a range cut by the time limit is not compared.
    fn full_ranges(&self, target: &str) -> Vec<&Latency> {
        let width = self.handles.first().map_or(0, |l| l.to - l.from);
        self.ranges(target)
            .into_iter()
            .filter(|l| l.to - l.from == width && l.n == width)
            .collect()
    }

    /// The tracked ratios of issue 11 that the measured targets allow.
    pub fn ratios(&self) -> Vec<Ratio> {
        let mut out = Vec::new();
        let mut push = |name: String, value: Option<f64>, target: &'static str, at_most: bool| {
            let limit: f64 = target
                .trim_start_matches(['<', '>', '=', ' '])
                .parse()
                .unwrap_or(f64::NAN);
            out.push(Ratio::tracked(name, value, target, limit, at_most));
        };
        let growth = |t: &str| {
            let r = self.full_ranges(t);
            let (first, last) = (r.first()?, r.last()?);
            (r.len() > 1).then(|| (last.p50_us / first.p50_us, first.from, last.to))
        };
        if let Some((g, _, to)) = growth(IDPOOL) {
            push(
                format!("PF1 idpool: range ending {to} / first range (p50)"),
                Some(g),
                "<= 1.10",
                true,
            );
        }
        let c_ranges = self.full_ranges(C);
        for l in self.full_ranges(IDPOOL) {
            if let Some(c) = c_ranges.iter().find(|c| c.from == l.from) {
                push(
                    format!("PF2 idpool / c, handles {}-{} (p50)", l.from, l.to),
                    Some(l.p50_us / c.p50_us),
                    "<= 1.00",
                    true,
                );
            }
        }
        if let Some((g, _, to)) = growth(SCAN) {
            push(
                format!("PF3 rbtree_scan: range ending {to} / first range (p50)"),
                Some(g),
                ">= 5",
                false,
            );
        }
        for l in self.payload.iter().filter(|l| l.target == IDPOOL) {
            if let Some(c) = self
                .payload
                .iter()
                .find(|c| c.target == C && c.from == l.from)
            {
                push(
                    format!("PF9 idpool / c, round trip of {} (p50)", size_name(l.from)),
                    Some(l.p50_us / c.p50_us),
                    "<= 1.00",
                    true,
                );
            }
        }
        for l in self.clients.iter().filter(|l| l.target == IDPOOL) {
            if let Some(c) = self.clients.iter().find(|c| c.target == C && c.x == l.x) {
                push(
                    format!("PF10 idpool / c, throughput of {} client(s)", l.x),
                    Some(l.tx_per_s / c.tx_per_s),
                    ">= 1.00",
                    false,
                );
            }
        }
        out
    }

    /// Ratios given for information: one-way throughput of binder-lite over the C binder's,
    /// and the two allocators of binder-lite against each other at the first range.
    pub fn info_ratios(&self) -> Vec<Ratio> {
        let mut out = Vec::new();
        for l in self.oneway.iter().filter(|l| l.target == IDPOOL) {
            if let Some(c) = self.oneway.iter().find(|c| c.target == C && c.x == l.x) {
                out.push(Ratio {
                    name: format!("idpool / c, one-way throughput of {}", size_name(l.x)),
                    value: Some(l.tx_per_s / c.tx_per_s),
                    target: "",
                    met: true,
                });
            }
        }
        for t in [IDPOOL, SCAN] {
            let (Some(first), Some(c)) = (
                self.handles.iter().find(|l| l.target == t),
                self.handles.iter().find(|l| l.target == C),
            ) else {
                continue;
            };
            out.push(Ratio {
                name: format!("{t} / c, first range of handles (p50)"),
                value: Some(first.p50_us / c.p50_us),
                target: "",
                met: true,
            });
        }
        out
    }

    /// The human-readable tables: case 1 like the seed's table, then cases 2 and 3, the stops
    /// and the ratios.
    pub fn table(&self) -> String {
        let targets = self.measured();
        let mut t = String::new();
        let _ = writeln!(
            t,
            "binder case 1: round trip (µs, avg / p50 / p99) by handles in the server"
        );
        let _ = write!(t, "{:<14}", "handles");
        for target in &targets {
            let _ = write!(t, " {:>26}", target);
        }
        let _ = writeln!(t);
        let mut starts: Vec<(u64, u64)> = self.handles.iter().map(|l| (l.from, l.to)).collect();
        starts.sort_unstable();
        starts.dedup_by_key(|s| s.0);
        for (from, _) in starts {
            let to = self
                .handles
                .iter()
                .filter(|l| l.from == from)
                .map(|l| l.to)
                .max()
                .unwrap_or(from);
            let _ = write!(t, "{:<14}", format!("{from}-{to}"));
            for target in &targets {
                let cell = self
                    .handles
                    .iter()
                    .find(|l| l.target == *target && l.from == from)
                    .map_or("-".to_string(), |l| {
                        let partial = if l.to < to { "*" } else { "" };
                        format!(
                            "{:.0} / {:.0} / {:.0}{partial}",
                            l.avg_us, l.p50_us, l.p99_us
                        )
                    });
                let _ = write!(t, " {cell:>26}");
            }
            let _ = writeln!(t);
        }
        for s in &self.stops {
            let _ = writeln!(
                t,
                "  {} stopped at {} handles: {} (* = range cut short)",
                s.target, s.at, s.reason
            );
        }
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "binder case 2: round trip (µs, avg / p50 / p99) by payload"
        );
        let _ = write!(t, "{:<14}", "payload");
        for target in &targets {
            let _ = write!(t, " {:>26}", target);
        }
        let _ = writeln!(t);
        let mut sizes: Vec<u64> = self.payload.iter().map(|l| l.from).collect();
        sizes.sort_unstable();
        sizes.dedup();
        for size in sizes {
            let _ = write!(t, "{:<14}", size_name(size));
            for target in &targets {
                let cell = self
                    .payload
                    .iter()
                    .find(|l| l.target == *target && l.from == size)
                    .map_or("-".to_string(), |l| {
                        format!("{:.0} / {:.0} / {:.0}", l.avg_us, l.p50_us, l.p99_us)
                    });
                let _ = write!(t, " {cell:>26}");
            }
            let _ = writeln!(t);
        }
        for (title, rows, what) in [
            (
                "binder case 2: one-way transactions per second by payload",
                &self.oneway,
                "payload",
            ),
            (
                "binder case 3: round trips per second by client processes (server: 2 loopers)",
                &self.clients,
                "clients",
            ),
        ] {
            let _ = writeln!(t);
            let _ = writeln!(t, "{title}");
            let _ = write!(t, "{what:<14}");
            for target in &targets {
                let _ = write!(t, " {:>12}", target);
            }
            let _ = writeln!(t);
            let mut xs: Vec<u64> = rows.iter().map(|l| l.x).collect();
            xs.sort_unstable();
            xs.dedup();
            for x in xs {
                let label = if what == "payload" {
                    size_name(x)
                } else {
                    x.to_string()
                };
                let _ = write!(t, "{label:<14}");
                for target in &targets {
                    let cell = rows
                        .iter()
                        .find(|l| l.target == *target && l.x == x)
                        .map_or("-".to_string(), |l| format!("{:.0}", l.tx_per_s));
                    let _ = write!(t, " {cell:>12}");
                }
                let _ = writeln!(t);
            }
        }
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "{:<56} {:>8}  {:<8}",
            "binder tracked ratio", "value", "target"
        );
        for r in self.ratios() {
            let value = r.value.map_or("-".to_string(), |v| format!("{v:.2}"));
            let verdict = if r.met { "met" } else { "MISSED" };
            let _ = writeln!(t, "{:<56} {:>8}  {:<8} {verdict}", r.name, value, r.target);
        }
        let absent: Vec<&str> = self
            .targets
            .iter()
            .filter(|(_, a)| !*a)
            .map(|(n, _)| n.as_str())
            .collect();
        if !absent.is_empty() {
            let _ = writeln!(
                t,
                "(not measured, so their ratios are absent: {})",
                absent.join(", ")
            );
        }
        let _ = writeln!(t);
        let _ = writeln!(t, "{:<56} {:>8}", "binder, for information", "value");
        for r in self.info_ratios() {
            let value = r.value.map_or("-".to_string(), |v| format!("{v:.2}"));
            let _ = writeln!(t, "{:<56} {:>8}", r.name, value);
        }
        t
    }

    /// The machine-readable results, with the ratios.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "results": self,
            "ratios": self.ratios(),
            "info_ratios": self.info_ratios(),
        })
    }

    /// Writes `handles.svg`, `payload.svg` and `clients.svg` into `dir`.
    pub fn plot(&self, dir: &Path) -> Result<Vec<std::path::PathBuf>, String> {
        let targets = self.measured();
        let series = |pick: &dyn Fn(&str) -> Vec<(f64, f64)>| -> Vec<(String, Vec<(f64, f64)>)> {
            targets
                .iter()
                .map(|t| (t.to_string(), pick(t)))
                .filter(|(_, p)| !p.is_empty())
                .collect()
        };
        let handles = series(&|t| {
            self.ranges(t)
                .iter()
                .map(|l| ((l.from + l.to) as f64 / 2.0, l.p50_us))
                .collect()
        });
        let payload = series(&|t| {
            self.payload
                .iter()
                .filter(|l| l.target == t)
                .map(|l| (l.from.max(1) as f64, l.p50_us))
                .collect()
        });
        let clients = series(&|t| {
            self.clients
                .iter()
                .filter(|l| l.target == t)
                .map(|l| (l.x as f64, l.tx_per_s))
                .collect()
        });
        let mut written = Vec::new();
        for (file, title, x_label, y_label, log_x, log_y, data) in [
            (
                "handles.svg",
                "Round trip vs handles in the server (each transaction adds one)",
                "handles in the server (middle of the range)",
                "median round trip (µs, log)",
                false,
                true,
                &handles,
            ),
            (
                "payload.svg",
                "Synchronous round trip vs payload (0 B drawn at 1 B)",
                "payload (bytes, log)",
                "median round trip (µs, log)",
                true,
                true,
                &payload,
            ),
            (
                "clients.svg",
                "Throughput vs client processes (server with 2 looper threads)",
                "client processes",
                "round trips per second",
                false,
                false,
                &clients,
            ),
        ] {
            if data.is_empty() {
                continue;
            }
            let path = dir.join(file);
            plot::lines(&path, title, x_label, y_label, log_x, log_y, data)?;
            written.push(path);
        }
        Ok(written)
    }
}

/// `0 B`, `4 KiB`, `64 KiB`, `1 MiB`.
pub fn size_name(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// Line plots with `plotters`, as SVG.
mod plot {
    use plotters::prelude::*;
    use std::path::Path;

    type Series = (String, Vec<(f64, f64)>);

    fn bounds(data: &[Series], axis: fn(&(f64, f64)) -> f64, log: bool) -> (f64, f64) {
        let values = data.iter().flat_map(|(_, p)| p.iter().map(axis));
        let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if log {
            (lo.max(1e-3) / 1.5, hi.max(1e-3) * 1.5)
        } else {
            (0.0, hi * 1.1 + f64::EPSILON)
        }
    }

    /// Draws one line per series into an SVG file.
    pub fn lines(
        path: &Path,
        title: &str,
        x_label: &str,
        y_label: &str,
        log_x: bool,
        log_y: bool,
        data: &[Series],
    ) -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| format!("plot {}: {e}", path.display());
        let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let (x0, x1) = bounds(data, |p| p.0, log_x);
        let (y0, y1) = bounds(data, |p| p.1, log_y);
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70);
        // The four combinations of linear and logarithmic axes are four chart types.
        macro_rules! draw {
            ($x:expr, $y:expr) => {{
                let mut chart = builder.build_cartesian_2d($x, $y).map_err(|e| err(&e))?;
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .y_desc(y_label)
                    .draw()
                    .map_err(|e| err(&e))?;
                for (i, (name, points)) in data.iter().enumerate() {
                    let color = Palette99::pick(i).to_rgba();
                    chart
                        .draw_series(LineSeries::new(
                            points.iter().copied(),
                            color.stroke_width(2),
                        ))
                        .map_err(|e| err(&e))?
                        .label(name.as_str())
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                    chart
                        .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                        .map_err(|e| err(&e))?;
                }
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .position(SeriesLabelPosition::UpperLeft)
                    .draw()
                    .map_err(|e| err(&e))?;
            }};
        }
        match (log_x, log_y) {
            (false, false) => draw!(x0..x1, y0..y1),
            (false, true) => draw!(x0..x1, (y0..y1).log_scale()),
            (true, false) => draw!((x0..x1).log_scale(), y0..y1),
            (true, true) => draw!((x0..x1).log_scale(), (y0..y1).log_scale()),
        }
        root.present().map_err(|e| err(&e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[ 1.0] wb: binder-bench: binder-bench: target name=c device=C available=true
binder-bench: target name=idpool device=Lite(\"idpool\") available=true
binder-bench: target name=rbtree_scan device=Lite(\"rbtree_scan\") available=true
binder-bench: case=handles target=c from=0 to=100 n=100 avg_us=100.0 p50_us=90.0 p99_us=200.0 elapsed_s=1.0
binder-bench: case=handles target=c from=100 to=200 n=100 avg_us=110.0 p50_us=95.0 p99_us=210.0 elapsed_s=2.0
binder-bench: case=handles target=idpool from=0 to=100 n=100 avg_us=90.0 p50_us=80.0 p99_us=150.0 elapsed_s=1.0
binder-bench: case=handles target=idpool from=100 to=200 n=100 avg_us=117.0 p50_us=104.0 p99_us=150.0 elapsed_s=2.0
binder-bench: case=handles target=rbtree_scan from=0 to=100 n=100 avg_us=100.0 p50_us=80.0 p99_us=150.0 elapsed_s=1.0
binder-bench: case=handles target=rbtree_scan from=100 to=150 n=50 avg_us=900.0 p50_us=80.0 p99_us=150.0 elapsed_s=9.0
binder-bench: stopped case=handles target=rbtree_scan at=150 elapsed_s=9.0 limit_s=9 reason=time_limit
binder-bench: progress case=payload round=1 target=c seconds=1.0
binder-bench: case=payload target=c size=0 n=20 avg_us=50.0 p50_us=50.0 p99_us=60.0
binder-bench: case=payload target=idpool size=0 n=20 avg_us=45.0 p50_us=40.0 p99_us=60.0
binder-bench: case=payload target=idpool size=oops n=20 avg_us=45.0 p50_us=40.0 p99_us=60.0
binder-bench: case=oneway target=c size=4096 n=48 tx_per_s=1000
binder-bench: case=oneway target=idpool size=4096 n=48 tx_per_s=1500
binder-bench: case=clients target=c clients=2 n=100 seconds=1.0 tx_per_s=2000
binder-bench: case=clients target=idpool clients=2 n=100 seconds=1.0 tx_per_s=1800
binder-bench: done seconds=30.0
";

    #[test]
    fn parses_every_kind_of_line_and_skips_malformed_ones() {
        let r = Results::from_console(LOG);
        assert_eq!(r.measured(), vec!["c", "idpool", "rbtree_scan"]);
        assert_eq!(r.handles.len(), 6);
        assert_eq!(r.handles[1].from, 100);
        assert_eq!(r.handles[1].avg_us, 110.0);
        assert_eq!(r.payload.len(), 2);
        assert_eq!(r.oneway[1].tx_per_s, 1500.0);
        assert_eq!(r.clients[0].x, 2);
        assert_eq!(r.stops.len(), 1);
        assert_eq!(r.stops[0].at, 150);
        assert!(r.done);
        assert!(r.errors.is_empty());
        // The rbtree_scan target has no payload, one-way or clients results.
        assert_eq!(r.problems().len(), 3, "{:?}", r.problems());
    }

    #[test]
    fn computes_the_tracked_ratios_from_full_ranges_only() {
        let r = Results::from_console(LOG);
        let ratios = r.ratios();
        let get = |prefix: &str| {
            ratios
                .iter()
                .find(|x| x.name.starts_with(prefix))
                .unwrap_or_else(|| panic!("{prefix} missing in {ratios:?}"))
        };
        let pf1 = get("PF1");
        assert_eq!(pf1.value, Some(1.3));
        assert!(!pf1.met);
        let pf2: Vec<_> = ratios
            .iter()
            .filter(|x| x.name.starts_with("PF2"))
            .collect();
        assert_eq!(pf2.len(), 2);
        assert_eq!(pf2[0].value, Some(80.0 / 90.0));
        assert!(pf2[0].met);
        assert!(!pf2[1].met);
        // The cut range of rbtree_scan does not count: one full range, no growth ratio.
        assert!(ratios.iter().all(|x| !x.name.starts_with("PF3")));
        assert_eq!(get("PF9").value, Some(0.8));
        assert!(get("PF9").met);
        assert_eq!(get("PF10").value, Some(0.9));
        assert!(!get("PF10").met);
    }

    #[test]
    fn reports_errors_and_a_missing_end() {
        let r = Results::from_console(
            "binder-bench: target name=c device=C available=true\n\
             binder-bench: error c: transaction 3: the server got handle Some(9), expected 4\n",
        );
        let p = r.problems();
        assert!(p[0].contains("expected 4"), "{p:?}");
        assert!(p.iter().any(|x| x.contains("did not finish")));
        assert!(p
            .iter()
            .any(|x| x.contains("no handles result for target c")));
    }

    #[test]
    fn writes_svg_plots() {
        let dir = std::env::temp_dir().join(format!("binder-bench-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let written = Results::from_console(LOG).plot(&dir).unwrap();
        assert_eq!(written.len(), 3);
        let svg = std::fs::read_to_string(dir.join("handles.svg")).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(80)]);
        assert!(svg.contains("rbtree_scan"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_sizes() {
        assert_eq!(size_name(0), "0 B");
        assert_eq!(size_name(4096), "4 KiB");
        assert_eq!(size_name(1 << 20), "1 MiB");
        assert_eq!(size_name(100), "100 B");
    }
}
