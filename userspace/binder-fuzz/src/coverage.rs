//! Coverage-guided fuzzing with KCOV (kernels with `CONFIG_KCOV`, such as `make stress`'s):
//! sequences that reach new code of binder-lite or of the kernel crate are kept and mutated,
//! as syzkaller does. The same time of purely random sequences gives the comparison.

use crate::diff::{self, Mode};
use crate::exec::{self, World};
use crate::ops::{self, Op, SLOTS};
use crate::rng::Rng;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use vmtest::fd::errno;

/// The KCOV control file.
pub const KCOV: &str = "/sys/kernel/debug/kcov";
/// Entries of the coverage buffer.
const COVER: usize = 1 << 18;
const KCOV_INIT_TRACE: libc::c_ulong = vmtest::fd::ioc(vmtest::fd::IOC_READ, b'c', 1, 8);
const KCOV_ENABLE: libc::c_ulong = vmtest::fd::ioc(vmtest::fd::IOC_NONE, b'c', 100, 0);
const KCOV_TRACE_PC: libc::c_ulong = 0;

/// The code we count: which kernel text symbol each PC falls in, and whose it is.
pub struct Code {
    /// Start addresses of text symbols, sorted, with their owner: 1 = binder-lite,
    /// 2 = the kernel crate, 0 = anything else.
    symbols: Vec<(u64, u8)>,
}

impl Code {
    /// Reads `/proc/kallsyms` (addresses are real: the stress kernel boots with `nokaslr`,
    /// and this program runs as root).
    pub fn load() -> Result<Code, String> {
        let text = std::fs::read_to_string("/proc/kallsyms").map_err(|e| e.to_string())?;
        let mut symbols = Vec::new();
        for line in text.lines() {
            let mut f = line.split_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if !matches!(kind, "t" | "T") {
                continue;
            }
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            let owner = match f.next() {
                Some("[rust_binder_lite]") => 1,
                None if name.contains("_6kernel") => 2,
                _ => 0,
            };
            symbols.push((addr, owner));
        }
        symbols.sort_unstable();
        if !symbols.iter().any(|s| s.1 == 1 && s.0 != 0) {
            return Err("no binder-lite text in /proc/kallsyms".into());
        }
        Ok(Code { symbols })
    }

    /// Whose code `pc` is (see [`Code::symbols`]).
    fn owner(&self, pc: u64) -> u8 {
        match self.symbols.partition_point(|s| s.0 <= pc) {
            0 => 0,
            i => self.symbols[i - 1].1,
        }
    }
}

const KCOV_DISABLE: libc::c_ulong = vmtest::fd::ioc(vmtest::fd::IOC_NONE, b'c', 101, 0);

/// A KCOV handle of the calling thread.
struct Kcov {
    fd: vmtest::fd::Fd,
    area: *mut u64,
}

impl Kcov {
    fn open() -> Result<Kcov, String> {
        let fd = vmtest::fd::Fd::open(KCOV)?;
        // SAFETY: KCOV_INIT_TRACE takes the number of entries by value.
        if unsafe { libc::ioctl(fd.raw(), KCOV_INIT_TRACE, COVER) } < 0 {
            return Err(format!("KCOV_INIT_TRACE: errno {}", errno()));
        }
        // SAFETY: maps the coverage buffer KCOV just made, at an address the kernel chooses.
        let area = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                COVER * 8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.raw(),
                0,
            )
        };
        if area == libc::MAP_FAILED {
            return Err(format!("mmap of kcov: errno {}", errno()));
        }
        // SAFETY: KCOV_ENABLE takes the mode by value; from now on this thread is traced.
        if unsafe { libc::ioctl(fd.raw(), KCOV_ENABLE, KCOV_TRACE_PC) } < 0 {
            return Err(format!("KCOV_ENABLE: errno {}", errno()));
        }
        Ok(Kcov {
            fd,
            area: area.cast(),
        })
    }

    fn reset(&self) {
        // SAFETY: the first entry of the mapped buffer is the count, written by the kernel on
        // this thread only, which is here in user space.
        unsafe { std::ptr::write_volatile(self.area, 0) };
    }

    /// Adds the PCs traced since the last reset that are ours to `seen`; returns how many
    /// were new.
    fn collect(&self, code: &Code, seen: &mut HashSet<u64>) -> usize {
        // SAFETY: as in `reset`; the entries after the count are in the mapping.
        let n = unsafe { std::ptr::read_volatile(self.area) } as usize;
        let mut new = 0;
        for i in 1..=n.min(COVER - 1) {
            // SAFETY: `i` is inside the mapped buffer.
            let pc = unsafe { std::ptr::read_volatile(self.area.add(i)) };
            if code.owner(pc) != 0 && seen.insert(pc) {
                new += 1;
            }
        }
        new
    }
}

impl Drop for Kcov {
    fn drop(&mut self) {
        // SAFETY: stops tracing this thread and unmaps the buffer, which nothing uses any more.
        unsafe {
            libc::ioctl(self.fd.raw(), KCOV_DISABLE, 0);
            libc::munmap(self.area.cast(), COVER * 8);
        }
    }
}

/// What one mode reached.
#[derive(Debug, Default)]
pub struct Reached {
    pub calls: u64,
    pub driver: usize,
    pub kernel_crate: usize,
    pub corpus: usize,
}

fn mutate(rng: &mut Rng, corpus: &[Vec<Op>]) -> Vec<Op> {
    let mut seq = corpus[rng.below(corpus.len() as u64) as usize].clone();
    for _ in 0..=rng.below(3) {
        let at = ops::preamble().len() + rng.below(seq.len().max(6) as u64 - 5) as usize;
        let at = at.min(seq.len());
        match rng.below(4) {
            0 if at < seq.len() => seq[at] = ops::op(rng, SLOTS),
            1 if at < seq.len() && seq.len() > 6 => {
                seq.remove(at);
            }
            2 => {
                let other = &corpus[rng.below(corpus.len() as u64) as usize];
                let from = rng.below(other.len() as u64) as usize;
                let take = rng.below(4) as usize + 1;
                for (i, op) in other.iter().skip(from).take(take).enumerate() {
                    seq.insert((at + i).min(seq.len()), op.clone());
                }
            }
            _ => seq.insert(at, ops::op(rng, SLOTS)),
        }
    }
    seq.truncate(80);
    seq
}

/// Runs sequences on binder-lite for `time`, keeping those that reach new code if `guided`.
pub fn run(code: &Code, seed: u64, time: Duration, guided: bool) -> Result<Reached, String> {
    let kcov = Kcov::open()?;
    let mut world = World::new(crate::LITE, exec::slots(), 0, false);
    let mut rng = Rng::new(seed);
    let mut seen = HashSet::new();
    let mut corpus: Vec<Vec<Op>> = Vec::new();
    let mode = Mode {
        restricted: false,
        compare: false,
        length: 20,
    };
    let start = Instant::now();
    let mut reached = Reached::default();
    while start.elapsed() < time {
        let seq = if !guided || corpus.is_empty() || rng.chance(10) {
            // The manager is a server in another process (`death::Server`).
            let mut seq = diff::sequence(rng.fork(), mode);
            seq.retain(|op| !matches!(op, Op::BecomeManager(_)));
            seq
        } else {
            mutate(&mut rng, &corpus)
        };
        let mut new = 0;
        for op in &seq {
            kcov.reset();
            world.run(op);
            new += kcov.collect(code, &mut seen);
        }
        reached.calls += world.calls;
        world.calls = 0;
        kcov.reset();
        world.close_all();
        new += kcov.collect(code, &mut seen);
        if guided && new > 0 {
            corpus.push(seq);
        }
    }
    reached.driver = seen.iter().filter(|pc| code.owner(**pc) == 1).count();
    reached.kernel_crate = seen.iter().filter(|pc| code.owner(**pc) == 2).count();
    reached.corpus = corpus.len();
    Ok(reached)
}
