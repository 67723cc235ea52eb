//! Scanner for kernel reports (KASAN, lockdep, WARN, Oops, ...) in a console
//! log.
//!
//! A report headline must start at column 0 of the message text (after the
//! printk timestamp); indented lines such as KTAP output are never headlines.
//! Each report yields one [`Finding`], however many headline-like lines it
//! contains.

use super::ktap::strip_timestamp;

/// Class of a kernel report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportKind {
    /// `BUG: KASAN: ...`
    Kasan,
    /// `UBSAN: ...`
    Ubsan,
    /// Lockdep and RCU-lockdep splats.
    Lockdep,
    /// Sleeping or scheduling in atomic context, invalid wait context.
    AtomicSleep,
    /// `kernel BUG at ...` and other `BUG:` lines.
    KernelBug,
    /// `WARNING:` (WARN_ON and friends).
    Warning,
    /// Oops, general protection fault, unhandled page fault.
    Oops,
    /// `Kernel panic - not syncing`.
    Panic,
    /// kmemleak: one finding per unreferenced object.
    Kmemleak,
    /// `INFO: task ... blocked for more than N seconds.`
    HungTask,
    /// RCU CPU stall warnings.
    RcuStall,
}

impl ReportKind {
    /// Short human-readable name.
    pub fn name(&self) -> &'static str {
        match self {
            ReportKind::Kasan => "KASAN",
            ReportKind::Ubsan => "UBSAN",
            ReportKind::Lockdep => "lockdep",
            ReportKind::AtomicSleep => "sleep in atomic",
            ReportKind::KernelBug => "BUG",
            ReportKind::Warning => "WARNING",
            ReportKind::Oops => "Oops",
            ReportKind::Panic => "panic",
            ReportKind::Kmemleak => "kmemleak",
            ReportKind::HungTask => "hung task",
            ReportKind::RcuStall => "RCU stall",
        }
    }
}

/// One kernel report found in a console log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Class of the report.
    pub kind: ReportKind,
    /// 1-based line number of the headline.
    pub line: usize,
    /// The headline, timestamp stripped.
    pub headline: String,
    /// Up to [`CONTEXT_LINES`] non-empty lines following the headline.
    pub context: Vec<String>,
}

/// Maximum number of context lines kept per finding.
pub const CONTEXT_LINES: usize = 15;
/// A report whose end marker never shows up is considered over after this many lines.
const MAX_REPORT_LINES: usize = 200;

/// Scans a console log for kernel reports.
pub fn scan(log: &str) -> Vec<Finding> {
    let lines: Vec<&str> = log.lines().map(strip_timestamp).collect();
    let mut findings = Vec::new();
    let mut open: Option<Open> = None;
    for (i, &message) in lines.iter().enumerate() {
        if open.is_some_and(|o| i - o.start > MAX_REPORT_LINES) {
            open = None;
        }
        let Some(headline) = classify(message) else {
            if open.is_some_and(|o| ends_report(o.kind, message)) {
                open = None;
            }
            continue;
        };
        let kind = headline.kind;
        if let Some(o) = open.as_mut() {
            // "Oops: ..." right after "BUG: unable to handle ..." or
            // "kernel BUG at ..." belongs to the same report.
            if headline.oops_line && !o.oops_seen && is_oops_family(o.kind) {
                o.oops_seen = true;
                continue;
            }
            // Another report of the same class, a panic or a leaked object is
            // a new finding; anything else is part of the open report.
            if o.kind != kind && !matches!(kind, ReportKind::Panic | ReportKind::Kmemleak) {
                continue;
            }
        }
        if kind != ReportKind::Kmemleak {
            open = Some(Open {
                kind,
                start: i,
                oops_seen: headline.oops_line,
            });
        }
        findings.push(Finding {
            kind,
            line: i + 1,
            headline: message.trim_end().to_string(),
            context: context(&lines[i + 1..]),
        });
    }
    // The leak summary only matters when the objects themselves were not dumped.
    let summary = |f: &Finding| f.kind == ReportKind::Kmemleak && is_leak_summary(&f.headline);
    if findings
        .iter()
        .any(|f| f.kind == ReportKind::Kmemleak && !summary(f))
    {
        findings.retain(|f| !summary(f));
    }
    findings
}

#[derive(Debug, Clone, Copy)]
struct Open {
    kind: ReportKind,
    start: usize,
    oops_seen: bool,
}

#[derive(Debug, Clone, Copy)]
struct Headline {
    kind: ReportKind,
    /// The "Oops: ..." line proper, which may follow a "BUG:" headline.
    oops_line: bool,
}

fn is_oops_family(kind: ReportKind) -> bool {
    matches!(kind, ReportKind::Oops | ReportKind::KernelBug)
}

/// Whether `message` ends an open report of `kind`.
fn ends_report(kind: ReportKind, message: &str) -> bool {
    if message.starts_with("---[ end ") {
        return true;
    }
    match kind {
        ReportKind::Kasan => message.starts_with("=========="),
        ReportKind::Lockdep
        | ReportKind::AtomicSleep
        | ReportKind::HungTask
        | ReportKind::RcuStall => message.trim() == "</TASK>",
        _ => false,
    }
}

fn context(rest: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for &line in rest {
        if out.len() == CONTEXT_LINES
            || line.starts_with("---[ end ")
            || line.starts_with("==========")
            || classify(line).is_some_and(|h| !h.oops_line)
        {
            break;
        }
        if !line.trim().is_empty() {
            out.push(line.trim_end().to_string());
        }
    }
    out
}

/// Lockdep headlines, after `WARNING: `, `BUG: ` or `INFO: `.
const LOCKDEP: &[&str] = &[
    "possible circular locking dependency detected",
    "possible recursive locking detected",
    "inconsistent lock state",
    "bad unlock balance detected",
    "suspicious RCU usage",
    "lock held when returning to user space",
    "held lock freed",
    "possible irq lock inversion dependency detected",
    "HARDIRQ-safe -> HARDIRQ-unsafe lock order detected",
    "SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
    "Nested lock was not taken",
    "bad contention detected",
    "trying to register non-static key",
];

/// Sleep-in-atomic headlines, after `BUG: `.
const ATOMIC_SLEEP: &[&str] = &[
    "sleeping function called from invalid context",
    "scheduling while atomic",
    "workqueue leaked lock or atomic",
    "Invalid wait context",
];

fn is_lockdep(rest: &str) -> bool {
    LOCKDEP.iter().any(|p| rest.starts_with(p))
        || rest.contains("still has locks held")
        || (rest.starts_with("MAX_LOCK") && rest.contains("too low"))
}

fn is_leak_summary(message: &str) -> bool {
    let rest = message.strip_prefix("kmemleak: ").unwrap_or(message);
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].starts_with(" new suspected memory leak")
}

fn classify(message: &str) -> Option<Headline> {
    use ReportKind::*;
    let plain = |kind| {
        Some(Headline {
            kind,
            oops_line: false,
        })
    };
    // Some lockdep headlines are framed: "[ BUG: Invalid wait context ]".
    let m = message.trim_end();
    let m = m
        .strip_prefix("[ ")
        .map_or(m, |m| m.strip_suffix(" ]").unwrap_or(m));
    let m = m.strip_prefix("watchdog: ").unwrap_or(m);

    if let Some(rest) = m.strip_prefix("BUG: ") {
        return plain(if rest.starts_with("KASAN: ") {
            Kasan
        } else if is_lockdep(rest) {
            Lockdep
        } else if ATOMIC_SLEEP.iter().any(|p| rest.starts_with(p)) {
            AtomicSleep
        } else if rest.starts_with("unable to handle")
            || rest.starts_with("kernel NULL pointer dereference")
        {
            Oops
        } else {
            KernelBug
        });
    }
    if let Some(rest) = m.strip_prefix("WARNING: ") {
        return plain(if is_lockdep(rest) { Lockdep } else { Warning });
    }
    let rcu_stall = |rest: &str| rest.starts_with("rcu_") && rest.contains("stall");
    if let Some(rest) = m.strip_prefix("INFO: ") {
        if is_lockdep(rest) {
            return plain(Lockdep);
        }
        if rest.starts_with("task ") && rest.contains(" blocked for more than ") {
            return plain(HungTask);
        }
        return if rcu_stall(rest) {
            plain(RcuStall)
        } else {
            None
        };
    }
    if m.strip_prefix("rcu: INFO: ").is_some_and(rcu_stall) {
        return plain(RcuStall);
    }
    if m.starts_with("Oops: ")
        || m.starts_with("Oops - ")
        || m.starts_with("Internal error: Oops")
        || m.starts_with("general protection fault")
    {
        return Some(Headline {
            kind: Oops,
            oops_line: true,
        });
    }
    let leak = m.strip_prefix("kmemleak: ").unwrap_or(m);
    if leak.starts_with("unreferenced object 0x") || is_leak_summary(leak) {
        return plain(Kmemleak);
    }
    if m.starts_with("UBSAN: ") {
        plain(Ubsan)
    } else if m.starts_with("kernel BUG at ") || m.starts_with("Watchdog detected hard LOCKUP") {
        plain(KernelBug)
    } else if m.starts_with("Unable to handle kernel ") {
        plain(Oops)
    } else if m.starts_with("Kernel panic - not syncing") {
        plain(Panic)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::ReportKind::*;
    use super::*;

    fn kinds_and_lines(log: &str) -> Vec<(ReportKind, usize)> {
        scan(log).iter().map(|f| (f.kind, f.line)).collect()
    }

    fn kinds(log: &str) -> Vec<ReportKind> {
        scan(log).iter().map(|f| f.kind).collect()
    }

    #[test]
    fn recorded_samples() {
        let cases: &[(&str, &[(ReportKind, usize)])] = &[
            (include_str!("../../testdata/console/clean-boot.log"), &[]),
            (
                include_str!("../../testdata/console/kasan-slab-oob.log"),
                &[(Kasan, 55)],
            ),
            (
                include_str!("../../testdata/console/lockdep-circular.log"),
                &[(Lockdep, 53)],
            ),
            (
                include_str!("../../testdata/console/warn-on.log"),
                &[(Warning, 53), (Warning, 103)],
            ),
            (
                include_str!("../../testdata/console/kmemleak.log"),
                &[(Kmemleak, 54), (Kmemleak, 71)],
            ),
            (
                include_str!("../../testdata/console/sleep-in-atomic.log"),
                &[(AtomicSleep, 52)],
            ),
            (
                include_str!("../../testdata/console/hung-task.log"),
                &[(HungTask, 52), (HungTask, 69)],
            ),
            (
                include_str!("../../testdata/console/oops-null-deref.log"),
                &[(Oops, 53), (Panic, 100)],
            ),
            (
                include_str!("../../testdata/console/ubsan-array-index.log"),
                &[(Ubsan, 53)],
            ),
            (
                include_str!("../../testdata/console/rcu-stall.log"),
                &[(RcuStall, 53)],
            ),
            (
                include_str!("../../testdata/ktap/kunit-rust-doctests-truncated.log"),
                &[(Oops, 118), (Panic, 158)],
            ),
            (
                include_str!("../../testdata/ktap/kunit-noise-interleaved.log"),
                &[],
            ),
            // Recorded from our own test kernel (6.12.117, KASAN + lockdep + kmemleak).
            (
                include_str!("../../testdata/console/real-kasan-oob-module.log"),
                &[(Kasan, 9)],
            ),
            (
                include_str!("../../testdata/console/real-lockdep-atomic-warn-kmemleak.log"),
                &[
                    (Lockdep, 4),
                    (AtomicSleep, 93),
                    (Warning, 132),
                    (Warning, 177),
                    (Warning, 245),
                    (Kmemleak, 295),
                ],
            ),
            (
                include_str!("../../testdata/ktap/real-6.12-kunit-gpf.log"),
                &[(Oops, 415)],
            ),
        ];
        for (i, (log, expected)) in cases.iter().enumerate() {
            assert_eq!(kinds_and_lines(log), *expected, "sample {i}");
        }
    }

    #[test]
    fn finding_fields() {
        let findings = scan(include_str!("../../testdata/console/kasan-slab-oob.log"));
        let f = &findings[0];
        assert_eq!(
            f.headline,
            "BUG: KASAN: slab-out-of-bounds in buggy_init+0x5b/0x80 [buggy]"
        );
        assert_eq!(f.context.len(), CONTEXT_LINES);
        assert_eq!(
            f.context[0],
            "Write of size 1 at addr ffff888004f3a473 by task insmod/157"
        );
        assert!(f.context[1].starts_with("CPU: 1 UID: 0 PID: 157 Comm: insmod"));

        // Context stops at the next report and keeps the Oops line of this one.
        let log = "BUG: unable to handle page fault for address: ffffffffc0000000\n\
                   #PF: supervisor write access in kernel mode\n\
                   Oops: 0002 [#1] PREEMPT SMP\nKernel panic - not syncing: Fatal exception\n";
        let findings = scan(log);
        assert_eq!(findings.len(), 2);
        assert_eq!(findings[0].kind, Oops);
        assert_eq!(findings[0].context.len(), 2);
        assert_eq!(findings[1].line, 4);
        assert!(findings[1].context.is_empty());
    }

    #[test]
    fn classifies_headlines() {
        let cases = [
            ("BUG: KASAN: use-after-free in foo+0x1/0x2", Kasan),
            ("UBSAN: shift-out-of-bounds in lib/x.c:1:2", Ubsan),
            ("WARNING: possible recursive locking detected", Lockdep),
            ("WARNING: inconsistent lock state", Lockdep),
            ("WARNING: bad unlock balance detected!", Lockdep),
            ("WARNING: suspicious RCU usage", Lockdep),
            ("WARNING: lock held when returning to user space!", Lockdep),
            ("WARNING: held lock freed!", Lockdep),
            ("BUG: held lock freed!", Lockdep),
            ("INFO: possible irq lock inversion dependency detected", Lockdep),
            ("WARNING: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected", Lockdep),
            ("WARNING: kworker/0:1/12 still has locks held!", Lockdep),
            ("BUG: MAX_LOCKDEP_ENTRIES too low!", Lockdep),
            ("INFO: trying to register non-static key.", Lockdep),
            ("BUG: scheduling while atomic: swapper/0/1/0x00000002", AtomicSleep),
            ("BUG: workqueue leaked lock or atomic: kworker/0:1/0x00000000/12", AtomicSleep),
            ("[ BUG: Invalid wait context ]", AtomicSleep),
            ("kernel BUG at mm/slub.c:435!", KernelBug),
            ("BUG: Bad page state in process swapper/0  pfn:0x1234", KernelBug),
            ("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [swapper/0:1]", KernelBug),
            ("WARNING: CPU: 1 PID: 42 at fs/x.c:10 f+0x1/0x2", Warning),
            ("WARNING: at some/other/form", Warning),
            ("Oops: general protection fault, probably for non-canonical address 0xdffffc0000000000: 0000 [#1] PREEMPT SMP KASAN NOPTI", Oops),
            ("general protection fault, probably for non-canonical address 0x1: 0000 [#1] SMP", Oops),
            ("Oops - BUG: 0 [#1] SMP ARM", Oops),
            ("Internal error: Oops: 0000000096000004 [#1] PREEMPT SMP", Oops),
            ("Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000", Oops),
            ("BUG: unable to handle page fault for address: ffffc90000a00000", Oops),
            ("Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)", Panic),
            ("kmemleak: unreferenced object 0xffff888003a1c200 (size 64):", Kmemleak),
            ("kmemleak: 3 new suspected memory leaks (see /sys/kernel/debug/kmemleak)", Kmemleak),
            ("INFO: task kworker/u4:0:11 blocked for more than 245 seconds.", HungTask),
            ("rcu: INFO: rcu_sched self-detected stall on CPU", RcuStall),
            ("INFO: rcu_preempt detected expedited stalls on CPUs/tasks: {", RcuStall),
        ];
        for (line, kind) in cases {
            let log = format!("[   12.345678] {line}\n");
            assert_eq!(kinds(&log), [kind], "{line}");
        }
    }

    #[test]
    fn ignores_benign_lines() {
        let benign = [
            "kmemleak: Kernel memory leak detector initialized (mem pool available: 15703)",
            "kmemleak: Automatic memory scanning thread started",
            "kasan: KernelAddressSanitizer initialized (generic)",
            "Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar",
            "... MAX_LOCKDEP_KEYS:        8192",
            "    # test_warn: ok",
            "    # example: BUG: inside KTAP",
            "    not ok 3 test_oops",
            "Unknown kernel command line parameters \"foo\", will be passed to user space.",
            "rcu: Hierarchical RCU implementation.",
            "rcu: RCU grace-period kthread stack dump:",
            "myprog: WARNING is just a word here",
            "Spectre V2 : WARNING: Unprivileged eBPF is enabled with eIBRS on",
            " WARNING: indented",
            "KASAN: null-ptr-deref in range [0x0000000000000000-0x0000000000000007]",
            "traps: a.out[12] general protection fault ip:401136 sp:7ffd error:0",
            "INFO: lockdep is turned off.",
            "Disabling lock debugging due to kernel taint",
            "---[ end Kernel panic - not syncing: Fatal exception ]---",
            "BUG:no-space",
            "Kernel command line: console=ttyS0 oops=panic",
        ];
        for line in benign {
            assert!(
                scan(&format!("[    0.100000] {line}\n")).is_empty(),
                "{line}"
            );
        }
    }

    #[test]
    fn one_finding_per_report() {
        // kernel BUG followed by its Oops line.
        let log = "------------[ cut here ]------------\nkernel BUG at lib/list_debug.c:59!\n\
                   Oops: invalid opcode: 0000 [#1] PREEMPT SMP NOPTI\nCall Trace:\n\
                   \x20<TASK>\n </TASK>\n---[ end trace 0000000000000000 ]---\n";
        assert_eq!(kinds_and_lines(log), [(KernelBug, 2)]);

        // A WARNING inside a lockdep report is part of it; after </TASK> it is not.
        let log = "WARNING: possible circular locking dependency detected\n\
                   WARNING: CPU: 0 PID: 1 at kernel/locking/lockdep.c:1 f\nCall Trace:\n <TASK>\n\
                   \x20</TASK>\nWARNING: CPU: 0 PID: 1 at a.c:1 g\n";
        assert_eq!(kinds_and_lines(log), [(Lockdep, 1), (Warning, 6)]);

        // A second report of the same class is a new finding, as is a panic.
        let log = "BUG: KASAN: double-free in f\nBUG: KASAN: use-after-free in g\n\
                   Kernel panic - not syncing: KASAN: panic_on_warn set ...\n";
        assert_eq!(kinds(log), [Kasan, Kasan, Panic]);

        // A second Oops inside an Oops report ("[#2]") is new.
        let log = "Oops: 0000 [#1] SMP\nRIP: x\nOops: 0000 [#2] SMP\n";
        assert_eq!(kinds_and_lines(log), [(Oops, 1), (Oops, 3)]);

        // The leak summary counts only if no object was dumped.
        let summary = "kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n";
        assert_eq!(kinds(summary), [Kmemleak]);
        let log = format!("{summary}unreferenced object 0xffff888000000000 (size 8):\n");
        assert_eq!(kinds_and_lines(&log), [(Kmemleak, 2)]);
    }

    #[test]
    fn unterminated_report_expires() {
        let mut log = String::from("WARNING: CPU: 0 PID: 1 at a.c:1 f\n");
        log.push_str(&"noise\n".repeat(MAX_REPORT_LINES + 1));
        log.push_str("BUG: scheduling while atomic: x/1/0x2\n");
        assert_eq!(
            kinds_and_lines(&log),
            [(Warning, 1), (AtomicSleep, MAX_REPORT_LINES + 3)]
        );
    }

    #[test]
    fn timestamps_caller_ids_and_crlf() {
        let log = "[    1.000000][    T1] random: crng init done\r\n\
                   [    1.000001][    T1] UBSAN: shift-out-of-bounds in a.c:1:2\r\n\
                   [    1.000002][    T1] shift exponent 64 is too large\r\n";
        let findings = scan(log);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].line, 2);
        assert_eq!(
            findings[0].headline,
            "UBSAN: shift-out-of-bounds in a.c:1:2"
        );
        assert_eq!(findings[0].context, ["shift exponent 64 is too large"]);
    }

    #[test]
    fn kind_names() {
        assert_eq!(Kasan.name(), "KASAN");
        assert_eq!(Ubsan.name(), "UBSAN");
        assert_eq!(Lockdep.name(), "lockdep");
        assert_eq!(Warning.name(), "WARNING");
        assert_eq!(Kmemleak.name(), "kmemleak");
    }
}
