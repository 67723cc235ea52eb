// SPDX-License-Identifier: GPL-2.0

//! Benchmark of id allocators and of bitmap searches.
//!
//! Loading this module runs every measurement from its init function, then prints `bench: done`;
//! it takes 10 to 20 seconds in QEMU without KVM, far less on hardware. Nothing runs after the
//! load: unload it with `rmmod rust_id_pool_bench`. Do not load it on a production system.
//!
//! # Output
//!
//! Each measurement is one line, printed with `pr_info!` (so prefixed with the module name):
//!
//! ```text
//! bench: suite=<suite> impl=<impl> pattern=<pattern> n=<n> ns_per_op=<ns>
//! ```
//!
//! `ns_per_op` is a wall-clock time in nanoseconds (`ktime_get()`, `CLOCK_MONOTONIC`), with one
//! decimal; lower is better. Absolute times depend on the machine, and are many times higher
//! under emulation: compare lines of one load, as ratios. A failed case is reported with
//! `pr_err!` and makes the load fail.
//!
//! ## `suite=id_alloc`: allocating ids
//!
//! Every implementation takes one spinlock per acquire and per release, as the C IDA does, so
//! that the comparison is like for like:
//!
//! - `impl=idpool_spinlock`: [`kernel::id_pool::IdPool`] in a [`kernel::sync::SpinLock`], through
//!   [`kernel::id_pool::alloc_id_locked`] and [`kernel::id_pool::release_id_locked`] (which also
//!   checks whether to shrink), as a driver without a lock of its own around the pool would use
//!   it;
//! - `impl=ida`: the C IDA (`ida_alloc_range()` and `ida_free()`), which takes its own spinlock
//!   with `xa_lock_irqsave()` (it also disables interrupts, which `SpinLock` does not);
//! - `impl=flat_scan_spinlock`: what the C binder's `drivers/android/dbitmap.h` does: one flat
//!   bitmap in a [`kernel::sync::SpinLock`], doubled when full (allocating with the lock
//!   released), searched from the start with C's `_find_next_zero_bit()`, called directly as
//!   `find_next_zero_bit()` calls it, with non-atomic bit updates under the lock.
//!
//! Each pattern runs on its own allocator, filled (not timed) before the first round; `n` ids are
//! in use. `ns_per_op` is the time of one acquire + release pair:
//!
//! - `pattern=grow` (append): ids `1..=n` in use; acquire the lowest unused id at or after 1,
//!   which is `n + 1`, then release it.
//! - `pattern=churn` (one hole refilled): ids `1..=n` in use; release a pseudo-random id
//!   (xorshift with a fixed seed, the same sequence for every implementation), then acquire the
//!   lowest unused id, which is the hole just made.
//! - `pattern=holes` (10 % random holes): ids `1..=n + n / 9` with `n / 9` pseudo-random ones
//!   unused; acquire the lowest unused ids from 1, which fills the lowest holes in order, then
//!   release them, as many as fit in a round (or all the holes, again and again).
//! - `pattern=binder` (random release + lowest-unused acquire, binder's handle pattern): ids
//!   `1..=n` in use at first; each step releases a pseudo-random id in use or acquires the lowest
//!   unused id, with probability 1/2 each, so that the number of ids in use wanders around `n`
//!   (kept within 10 % of it) and the holes are wherever the releases made them. The sequence of
//!   steps is the same for every implementation, and the state carries over from round to round.
//! - `pattern=binder_2cpu`: the `binder` steps on two CPUs at once on one allocator: each CPU
//!   acquires and releases its own ids (half of them each at first). The time is that of both
//!   CPUs together (the wall-clock time of the round over its number of pairs), so a perfect
//!   speed-up would halve it; the line also gives `overlap`, the percentage of the round during
//!   which both CPUs ran. Only rounds in which both CPUs ran for at least 90 % of the time count
//!   (unless none did). The steps of the two CPUs interleave differently in each run.
//!
//! `n` is 1000, 64000 and 1000000. Each pattern runs 15 rounds and the fastest round is
//! reported, which filters out interruptions and the first execution of the code. So that a slow
//! period of the machine affects all cases alike, the rounds run in 3 sweeps over `n`: in each
//! sweep, all implementations run 5 rounds for one `n`, interleaved, before the next `n`. A round
//! is 10000 pairs (`binder`: 10000 steps, so about 5000 pairs), but `flat_scan_spinlock`, whose
//! searches take `O(n)`, runs 2000 at `n=64000` and 200 at `n=1000000`.
//!
//! ## `suite=memory`: bytes per id
//!
//! After the rounds, each allocator whose memory is known exactly prints
//!
//! ```text
//! bench: suite=memory impl=<impl> pattern=<pattern> n=<n> in_use=<ids> bytes=<bytes>
//! ```
//!
//! `bytes` is the size of the structure (with its lock) plus the sizes of its allocations, as
//! requested from the allocator (not rounded up to its size classes). `pattern=dense` is the
//! allocator of `pattern=grow` and `pattern=churn`; `pattern=empty` is a new allocator. The IDA
//! is not listed: its memory is in `xarray` nodes and bitmaps that it does not count.
//!
//! Then, so that the results can be checked to come from the same steps,
//!
//! ```text
//! bench: suite=check impl=<impl> pattern=binder n=<n> steps=<steps> in_use=<ids> idsum=<sum>
//! ```
//!
//! gives the number of ids in use after the `steps` steps of `pattern=binder` and their sum
//! modulo `2^32`: they are the same for every implementation that ran as many steps.
//!
//! ## `suite=find_bit`: searching a bitmap
//!
//! Times full walks of a bitmap of `n` = 2^20 bits, one search per found bit, with the searches
//! of [`kernel::bitmap::Bitmap`] and with C's `_find_next_bit()` and `_find_next_zero_bit()`,
//! called directly through the bindings as a driver would (`find_next_bit()` is an inline
//! function that calls them), as `lib/find_bit_benchmark.c` does. `ns_per_op` is the time of a
//! walk divided by the number of bits found.
//!
//! - `pattern=random`: each bit is set with probability 1/2;
//! - `pattern=sparse`: one bit in 4096 is set for `impl=rust_next_set` and
//!   `impl=c_find_next_bit`, one bit in 4096 is clear for `impl=rust_next_zero` and
//!   `impl=c_find_next_zero_bit`.
//!
//! Each walk runs 5 times, alternating the Rust and the C walk and which one goes first, and the
//! fastest run of each is reported. The Rust searches are inlined into the walk; each C search is
//! a call. On random data a search ends in the word where it starts, so the ratio mostly measures
//! the cost of that call.
//!
//! ## Reading the results
//!
//! - `idpool_spinlock` at `n=1000000` ÷ at `n=1000`, per pattern: how well the pool scales (1.0
//!   is a constant cost per operation);
//! - `ida` or `flat_scan_spinlock` ÷ `idpool_spinlock` at one `n` and pattern: how much faster
//!   the pool is than each alternative, each taking one lock per operation;
//! - `rust_next_set` ÷ `c_find_next_bit` and `rust_next_zero` ÷ `c_find_next_zero_bit` for one
//!   pattern: the cost of the Rust search relative to C's (below 1.0 means faster).

use core::{
    cmp::{max, min},
    mem::{size_of, swap},
    ops::Range,
    ptr::addr_of_mut,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    bindings,
    bitmap::{bits_to_longs, Bitmap, BitmapVec, BITS_PER_LONG},
    c_str,
    error::to_result,
    ffi::{c_uint, c_ulong},
    id_pool::{alloc_id_locked, release_id_locked, IdPool},
    prelude::*,
    sync::{new_mutex, new_spinlock, Arc, Mutex, SpinLock},
    time::Ktime,
    types::Opaque,
    workqueue,
};

module! {
    type: IdPoolBench,
    name: "rust_id_pool_bench",
    author: "Rust for Linux Contributors",
    description: "Benchmark of IdPool, the IDA and bitmap searches",
    license: "GPL",
}

/// The numbers of ids in use of suite `id_alloc`.
const ID_COUNTS: [usize; 3] = [1_000, 64_000, 1_000_000];

/// The most timed operations of a round of suite `id_alloc`.
const MAX_OPS: usize = 10_000;

/// The number of rounds of each case of suite `id_alloc`, of which the fastest is reported.
const ID_ROUNDS: usize = 15;

/// The number of sweeps over the values of `n` of suite `id_alloc`, which divides `ID_ROUNDS`.
const ID_SWEEPS: usize = 3;

/// The seed of the pseudo-random ids released by `pattern=churn`.
const CHURN_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// The seed of the pseudo-random holes of `pattern=holes`.
const HOLES_SEED: u64 = 0xd1b5_4a32_d192_ed03;

/// The seeds of the steps of `pattern=binder` and of the two CPUs of `pattern=binder_2cpu`.
const BINDER_SEEDS: [u64; 3] = [
    0x2545_f491_4f6c_dd1d,
    0x5851_f42d_4c95_7f2d,
    0x1405_7b7e_f767_814f,
];

/// The percentage of a round of `pattern=binder_2cpu` during which both CPUs must run for the
/// round to count.
const MIN_OVERLAP: u64 = 90;

/// The length of the bitmaps of suite `find_bit`.
const FIND_BITS: usize = 1 << 20;

/// One bit in `SPARSE_GAP` is set (or clear) in the sparse bitmaps of suite `find_bit`.
const SPARSE_GAP: usize = 4096;

/// The number of runs of each walk of suite `find_bit`, of which the fastest is reported.
const FIND_RUNS: usize = 5;

/// The seed of the random bitmaps of suite `find_bit`.
const FIND_SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// A xorshift64 pseudo-random generator: fast and reproducible.
struct XorShift(u64);

impl XorShift {
    /// Returns the next pseudo-random number. The seed must not be zero.
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Returns a pseudo-random number in `0..bound`, or zero if `bound` is zero.
    fn below(&mut self, bound: usize) -> usize {
        // The remainder is below `bound`, so it fits in a `usize`.
        self.next_u64().checked_rem(bound as u64).unwrap_or(0) as usize
    }
}

/// Returns the nanoseconds from `start` to `end`.
fn span_ns(start: Ktime, end: Ktime) -> u64 {
    u64::try_from((end - start).to_ns()).unwrap_or(0)
}

/// Returns the nanoseconds elapsed since `start`.
fn elapsed_ns(start: Ktime) -> u64 {
    span_ns(start, Ktime::ktime_get())
}

/// Returns `total_ns / ops` in tenths of nanoseconds, rounded to nearest.
fn tenths_per_op(total_ns: u64, ops: usize) -> u64 {
    let ops = ops as u64;
    total_ns
        .saturating_mul(10)
        .saturating_add(ops / 2)
        .checked_div(ops)
        .unwrap_or(0)
}

/// Prints the result of a measurement: `total_ns` nanoseconds for `ops` operations.
fn report(suite: &str, name: &str, pattern: &str, n: usize, total_ns: u64, ops: usize) {
    let tenths = tenths_per_op(total_ns, ops);
    pr_info!(
        "bench: suite={} impl={} pattern={} n={} ns_per_op={}.{}\n",
        suite,
        name,
        pattern,
        n,
        tenths / 10,
        tenths % 10
    );
}

/// An allocator of ids, handing out the lowest unused id at or after a start.
///
/// It takes a lock of its own for each operation, so it is shared by reference.
trait IdAllocator: Send + Sync + Sized + 'static {
    /// The name of the implementation in the output.
    const NAME: &'static str;

    /// Returns the number of timed operations per round with `n` ids in use, at most `MAX_OPS`.
    fn ops(n: usize) -> usize;

    /// Creates an allocator with no id in use.
    fn new() -> Result<Self>;

    /// Acquires the lowest unused id at or after `start`.
    fn acquire(&self, start: usize) -> Result<usize>;

    /// Releases `id`, which is in use.
    fn release(&self, id: usize) -> Result;

    /// Returns the bytes of the allocator and of its allocations, if known exactly.
    fn memory(&self) -> Option<usize>;

    /// Acquires ids `1..=n` in an empty allocator.
    ///
    /// The ids below the one acquired are in use, so starting the search there finds the same id
    /// as starting at 1, without walking over them where that costs `O(n)`.
    fn fill(&self, n: usize) -> Result {
        for expected in 1..=n {
            if self.acquire(expected)? != expected {
                return Err(EINVAL);
            }
        }
        Ok(())
    }
}

/// Returns the bytes that a bitmap of `words` words allocates, if it keeps `inline` words inline.
fn bitmap_heap_bytes(words: usize, inline: usize) -> usize {
    if words > inline {
        words * size_of::<usize>()
    } else {
        0
    }
}

/// The Rust [`IdPool`] in a [`SpinLock`], taken for each operation, as the IDA takes its own.
struct LockedPool(Pin<KBox<SpinLock<IdPool>>>);

impl IdAllocator for LockedPool {
    const NAME: &'static str = "idpool_spinlock";

    fn ops(_n: usize) -> usize {
        MAX_OPS
    }

    fn new() -> Result<Self> {
        Ok(Self(KBox::pin_init(
            new_spinlock!(IdPool::new(), "LockedPool"),
            GFP_KERNEL,
        )?))
    }

    fn acquire(&self, start: usize) -> Result<usize> {
        alloc_id_locked(&mut self.0.lock(), |pool| pool, start, GFP_KERNEL)
    }

    fn release(&self, id: usize) -> Result {
        release_id_locked(&mut self.0.lock(), |pool| pool, id, GFP_KERNEL)
    }

    fn memory(&self) -> Option<usize> {
        let pool = self.0.lock();
        // The pool's bitmaps, as its documentation describes them: one bit per id, rounded up to
        // whole words, then summary levels of one bit per word of the level below, until a level
        // fits in a word. Each bitmap keeps one word inline (`IdPool<1>`).
        let mut words = bits_to_longs(pool.capacity());
        let ids = words;
        let mut summary = 0;
        while words > 1 {
            words = bits_to_longs(words);
            summary += words;
        }
        Some(
            size_of::<SpinLock<IdPool>>()
                + bitmap_heap_bytes(ids, 1)
                + bitmap_heap_bytes(summary, 1),
        )
    }
}

/// A `lock_class_key` for the spinlocks of the IDAs, in static memory as lockdep requires.
struct StaticLockClassKey(Opaque<bindings::lock_class_key>);

// SAFETY: The key is only handed to C by pointer, where lockdep synchronises its own accesses;
// Rust code never reads or writes it.
unsafe impl Sync for StaticLockClassKey {}

/// The lock class of the spinlocks of the IDAs, like the one `ida_init()` declares.
static IDA_LOCK_KEY: StaticLockClassKey = StaticLockClassKey(Opaque::uninit());

/// C's `IDA_INIT_FLAGS`, the flags of the `xarray` of an IDA.
///
/// `include/linux/idr.h` defines it as `XA_FLAGS_LOCK_IRQ | XA_FLAGS_ALLOC`, and
/// `include/linux/xarray.h` defines:
///
/// - `XA_FLAGS_LOCK_IRQ` as `XA_LOCK_IRQ`, of `enum xa_lock_type`;
/// - `XA_FLAGS_ALLOC` as `XA_FLAGS_TRACK_FREE | XA_FLAGS_MARK(XA_FREE_MARK)`;
/// - `XA_FLAGS_TRACK_FREE` as `4U`;
/// - `XA_FLAGS_MARK(mark)` as `(1U << __GFP_BITS_SHIFT) << mark`, and `XA_FREE_MARK` as
///   `XA_MARK_0`, that is 0.
///
/// `__GFP_BITS_SHIFT` is `___GFP_LAST_BIT` of `enum` in `include/linux/gfp_types.h`, which depends
/// on the configuration. Bindgen does not expand these macros (they contain casts), but it does
/// expose both `enum` constants.
const IDA_INIT_FLAGS: bindings::gfp_t =
    bindings::xa_lock_type_XA_LOCK_IRQ | 4 | (1 << bindings::___GFP_LAST_BIT);

/// The largest id of an IDA: `INT_MAX`, as for `ida_alloc_min()`.
const IDA_MAX: c_uint = i32::MAX.unsigned_abs();

/// The C IDA.
///
/// # Invariants
///
/// The boxed `struct ida` is initialised as by `ida_init()`; it is only accessed by the C IDA
/// functions, which lock it, and never moves as it is boxed.
struct Ida(KBox<Opaque<bindings::ida>>);

// SAFETY: The IDA functions take the IDA's spinlock, so they may be called from any thread, on
// several at once.
unsafe impl Send for Ida {}

// SAFETY: As above: every access to the IDA goes through the IDA functions, which lock it.
unsafe impl Sync for Ida {}

impl IdAllocator for Ida {
    const NAME: &'static str = "ida";

    fn ops(_n: usize) -> usize {
        MAX_OPS
    }

    fn new() -> Result<Self> {
        // `ida_init()` is `xa_init_flags(&ida->xa, IDA_INIT_FLAGS)`, an inline function that
        // initialises the spinlock, sets the flags and sets the head to null. `default()` is all
        // zero bytes: a null head.
        let mut ida = bindings::ida::default();
        ida.xa.xa_flags = IDA_INIT_FLAGS;
        let ida = KBox::new(Opaque::new(ida), GFP_KERNEL)?;
        // SAFETY: The boxed IDA is valid and not shared yet, so its spinlock is not in use. The
        // name is a NUL-terminated string and the key is a `lock_class_key`, both in static
        // memory so they outlive the lock, as `spin_lock_init()` would provide.
        unsafe {
            bindings::__spin_lock_init(
                addr_of_mut!((*ida.get()).xa.xa_lock),
                c_str!("rust_id_pool_bench_ida").as_char_ptr(),
                IDA_LOCK_KEY.0.get(),
            )
        };
        // INVARIANT: The IDA is now initialised as `ida_init()` does, and boxed.
        Ok(Self(ida))
    }

    fn acquire(&self, start: usize) -> Result<usize> {
        let min = c_uint::try_from(start)?;
        // SAFETY: By the type invariants, `self.0` is an initialised IDA, which the IDA functions
        // lock. `GFP_KERNEL` is fine in process context, where the module's init and the work
        // items of `pattern=binder_2cpu` run.
        let id =
            unsafe { bindings::ida_alloc_range(self.0.get(), min, IDA_MAX, bindings::GFP_KERNEL) };
        to_result(id)?;
        Ok(usize::try_from(id)?)
    }

    fn release(&self, id: usize) -> Result {
        let id = c_uint::try_from(id)?;
        // SAFETY: By the type invariants, `self.0` is an initialised IDA, and the callers only
        // release ids in use.
        unsafe { bindings::ida_free(self.0.get(), id) };
        Ok(())
    }

    fn memory(&self) -> Option<usize> {
        None
    }
}

impl Drop for Ida {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `self.0` is an initialised IDA, not used after this.
        unsafe { bindings::ida_destroy(self.0.get()) };
    }
}

/// A flat bitmap in a [`SpinLock`], searched from the start, as `drivers/android/dbitmap.h` does.
struct FlatScan(Pin<KBox<SpinLock<BitmapVec>>>);

impl IdAllocator for FlatScan {
    const NAME: &'static str = "flat_scan_spinlock";

    fn ops(n: usize) -> usize {
        match n {
            0..=10_000 => MAX_OPS,
            10_001..=100_000 => 2000,
            _ => 200,
        }
    }

    fn new() -> Result<Self> {
        // `NBITS_MIN` of `dbitmap.h`: one word.
        Ok(Self(KBox::pin_init(
            new_spinlock!(BitmapVec::new(BITS_PER_LONG, GFP_KERNEL)?, "FlatScan"),
            GFP_KERNEL,
        )?))
    }

    fn acquire(&self, start: usize) -> Result<usize> {
        // The bitmap replaced by a grow, or one allocated for nothing: freed without the lock, as
        // freeing memory from `vmalloc()` may sleep.
        let mut leftover = None;
        let mut map = self.0.lock();
        let result = loop {
            let view: &Bitmap = &map;
            let nbits = view.len();
            // SAFETY: `view.as_ptr()` points to the `bits_to_longs(nbits)` words of the bitmap,
            // valid while `view` borrows it, which C only reads; the lock keeps writers out.
            let bit = unsafe {
                bindings::_find_next_zero_bit(view.as_ptr(), nbits as c_ulong, start as c_ulong)
            } as usize;
            if bit < nbits {
                break map.set_bit(bit).map(|()| bit);
            }
            // `dbitmap_grow_nbits()`: double the bitmap, allocating without the lock.
            let doubled = max(nbits.checked_mul(2).ok_or(ENOSPC)?, BITS_PER_LONG);
            drop(map);
            drop(leftover.take());
            let mut bigger = BitmapVec::new(doubled, GFP_KERNEL)?;
            map = self.0.lock();
            // Another thread may have grown it in the meantime.
            if map.len() < doubled {
                bigger.copy_and_extend(&map);
                swap(&mut *map, &mut bigger);
            }
            leftover = Some(bigger);
        };
        drop(map);
        drop(leftover);
        result
    }

    fn release(&self, id: usize) -> Result {
        self.0.lock().clear_bit(id)
    }

    fn memory(&self) -> Option<usize> {
        let words = bits_to_longs(self.0.lock().len());
        Some(size_of::<SpinLock<BitmapVec>>() + bitmap_heap_bytes(words, 1))
    }
}

/// Returns the ids that `pattern=churn` releases with `n` ids in use: enough for `ID_ROUNDS`
/// rounds of `MAX_OPS` operations.
fn churn_victims(n: usize) -> Result<KVVec<usize>> {
    let count = ID_ROUNDS * MAX_OPS;
    let mut rng = XorShift(CHURN_SEED);
    let mut victims = KVVec::with_capacity(count, GFP_KERNEL)?;
    for _ in 0..count {
        victims.push(rng.below(n) + 1, GFP_KERNEL)?;
    }
    Ok(victims)
}

/// Returns the holes of `pattern=holes` with `n` ids in use, in increasing order: `n / 9`
/// distinct pseudo-random ids in `1..=n + n / 9`.
fn holes(n: usize) -> Result<KVVec<usize>> {
    let count = n / 9;
    let last = n + count;
    let chosen: BitmapVec = BitmapVec::new(last + 1, GFP_KERNEL)?;
    let mut rng = XorShift(HOLES_SEED);
    let mut picked = 0;
    while picked < count {
        if !chosen.test_and_set_bit_atomic(rng.below(last) + 1)? {
            picked += 1;
        }
    }
    let mut holes = KVVec::with_capacity(count, GFP_KERNEL)?;
    for id in chosen.iter_set_bits() {
        holes.push(id, GFP_KERNEL)?;
    }
    Ok(holes)
}

/// The ids in use by one thread of `pattern=binder`, and the sequence of its steps.
struct BinderIds {
    /// The ids in use, in `ids[..len]`, in no particular order.
    ids: KVVec<u32>,
    len: usize,
    /// The number of ids in use stays within `low..=high`.
    low: usize,
    high: usize,
    rng: XorShift,
}

impl BinderIds {
    /// Creates the set of the ids `first, first + step, ...` up to `last`, whose number will
    /// wander within 10 % of `target`.
    fn new(first: usize, step: usize, last: usize, target: usize, seed: u64) -> Result<Self> {
        let high = target + target / 10;
        let mut ids = KVVec::from_elem(0u32, high + 1, GFP_KERNEL)?;
        let mut len = 0;
        for id in (first..=last).step_by(step) {
            *ids.get_mut(len).ok_or(EINVAL)? = u32::try_from(id)?;
            len += 1;
        }
        Ok(Self {
            ids,
            len,
            low: target - target / 10,
            high,
            rng: XorShift(seed),
        })
    }

    /// Releases a pseudo-random id in use or acquires the lowest unused id, one chance in two,
    /// keeping the number of ids in use within bounds.
    fn step<A: IdAllocator>(&mut self, allocator: &A) -> Result {
        let choice = self.rng.next_u64();
        let release = if self.len <= self.low {
            false
        } else if self.len >= self.high {
            true
        } else {
            choice & 1 != 0
        };
        if release {
            let index = self.rng.below(self.len);
            let last = *self.ids.get(self.len - 1).ok_or(EINVAL)?;
            let slot = self.ids.get_mut(index).ok_or(EINVAL)?;
            let id = *slot;
            *slot = last;
            self.len -= 1;
            allocator.release(id as usize)
        } else {
            let id = u32::try_from(allocator.acquire(1)?)?;
            *self.ids.get_mut(self.len).ok_or(EINVAL)? = id;
            self.len += 1;
            Ok(())
        }
    }

    /// Runs `steps` steps; returns the times before and after.
    fn run<A: IdAllocator>(&mut self, allocator: &A, steps: usize) -> Result<(Ktime, Ktime)> {
        let start = Ktime::ktime_get();
        for _ in 0..steps {
            self.step(allocator)?;
        }
        Ok((start, Ktime::ktime_get()))
    }

    /// Returns the sum of the ids in use, modulo `2^32`.
    fn sum(&self) -> u32 {
        self.ids
            .iter()
            .take(self.len)
            .fold(0u32, |sum, &id| sum.wrapping_add(id))
    }
}

/// The times before and after the steps of a thread of `pattern=binder_2cpu`, once it ran them.
type Times = Option<Result<(Ktime, Ktime)>>;

/// An allocator shared by two threads for `pattern=binder_2cpu`, with the state of the second.
#[pin_data]
struct TwoCpus<A: IdAllocator> {
    ids: A,
    /// The ids of the second thread, locked by it while it runs, and the times it ran.
    #[pin]
    second: Mutex<(BinderIds, Times)>,
    /// Set by the second thread when it is ready to start.
    ready: AtomicBool,
    /// Set by the first thread to start the second.
    go: AtomicBool,
}

impl<A: IdAllocator> TwoCpus<A> {
    /// The second thread: waits for `go`, runs `steps` steps, and records the times.
    ///
    /// The first thread sets `go` as soon as it sees `ready`.
    fn run_second(&self, steps: usize) {
        let mut second = self.second.lock();
        self.ready.store(true, Ordering::Release);
        while !self.go.load(Ordering::Acquire) {
            core::hint::spin_loop();
        }
        let (ids, times) = &mut *second;
        *times = Some(ids.run(&self.ids, steps));
    }
}

/// The state of the patterns of allocator `A` with `n` ids in use.
struct Case<A: IdAllocator> {
    n: usize,
    /// The number of operations per round.
    ops: usize,
    /// Ids `1..=n` in use, for `pattern=grow` and `pattern=churn`.
    dense: A,
    /// The ids of `pattern=holes` in use.
    holey: A,
    /// The ids of `pattern=binder`, and the steps.
    binder: A,
    binder_ids: BinderIds,
    /// `pattern=binder_2cpu`, and the ids and steps of the first thread.
    two: Arc<TwoCpus<A>>,
    first: BinderIds,
    /// The time of the fastest round of each pattern, in nanoseconds, and the overlap of the
    /// fastest round of `pattern=binder_2cpu`, in percent.
    grow: u64,
    churn: u64,
    holes: u64,
    binder_ns: u64,
    two_ns: u64,
    overlap: u64,
}

impl<A: IdAllocator> Case<A> {
    /// Creates and fills the allocators.
    fn new(n: usize, holes: &[usize]) -> Result<Self> {
        let dense = A::new()?;
        dense.fill(n)?;
        let holey = A::new()?;
        holey.fill(n + holes.len())?;
        for &id in holes {
            holey.release(id)?;
        }
        let binder = A::new()?;
        binder.fill(n)?;
        let shared = A::new()?;
        shared.fill(n)?;
        let half = n / 2;
        let second = BinderIds::new(2, 2, n, half, BINDER_SEEDS[2])?;
        let two = Arc::pin_init(
            pin_init!(TwoCpus::<A> {
                ids: shared,
                second <- new_mutex!((second, None)),
                ready: AtomicBool::new(false),
                go: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        Ok(Self {
            n,
            ops: A::ops(n),
            dense,
            holey,
            binder,
            binder_ids: BinderIds::new(1, 1, n, n, BINDER_SEEDS[0])?,
            two,
            first: BinderIds::new(1, 2, n, n - half, BINDER_SEEDS[1])?,
            grow: u64::MAX,
            churn: u64::MAX,
            holes: u64::MAX,
            binder_ns: u64::MAX,
            two_ns: u64::MAX,
            overlap: 0,
        })
    }

    /// Times a round of `pattern=grow`.
    fn grow_round(&mut self) -> Result {
        let next = self.n + 1;
        let start = Ktime::ktime_get();
        for _ in 0..self.ops {
            let id = self.dense.acquire(1)?;
            if id != next {
                return Err(EINVAL);
            }
            self.dense.release(id)?;
        }
        self.grow = min(self.grow, elapsed_ns(start));
        Ok(())
    }

    /// Times a round of `pattern=churn`, releasing the ids of `victims`.
    fn churn_round(&mut self, victims: &[usize]) -> Result {
        let start = Ktime::ktime_get();
        for &victim in victims {
            self.dense.release(victim)?;
            if self.dense.acquire(1)? != victim {
                return Err(EINVAL);
            }
        }
        self.churn = min(self.churn, elapsed_ns(start));
        Ok(())
    }

    /// Times a round of `pattern=holes`: `holes` are the unused ids, in increasing order.
    fn holes_round(&mut self, holes: &[usize]) -> Result {
        let start = Ktime::ktime_get();
        let mut done = 0;
        while done < self.ops {
            let batch = holes
                .get(..min(self.ops - done, holes.len()))
                .ok_or(EINVAL)?;
            if batch.is_empty() {
                return Err(EINVAL);
            }
            for &hole in batch {
                if self.holey.acquire(1)? != hole {
                    return Err(EINVAL);
                }
            }
            for &hole in batch {
                self.holey.release(hole)?;
            }
            done += batch.len();
        }
        self.holes = min(self.holes, elapsed_ns(start));
        Ok(())
    }

    /// Times a round of `pattern=binder`.
    fn binder_round(&mut self) -> Result {
        let (start, end) = self.binder_ids.run(&self.binder, self.ops)?;
        self.binder_ns = min(self.binder_ns, span_ns(start, end));
        Ok(())
    }

    /// Times a round of `pattern=binder_2cpu`: this thread and a work item run half of the steps
    /// each.
    fn two_round(&mut self) -> Result {
        let two = &self.two;
        two.ready.store(false, Ordering::Relaxed);
        two.go.store(false, Ordering::Relaxed);
        let steps = self.ops / 2;
        let shared = two.clone();
        workqueue::system_unbound().try_spawn(GFP_KERNEL, move || shared.run_second(steps))?;
        // Sleep while waiting, so that the work item may run on this CPU if it must. There is no
        // time limit: the work item is queued and uses this module's code, so it must have run
        // before the module may fail to load (and be freed). A hang is caught by the harness.
        while !two.ready.load(Ordering::Acquire) {
            // SAFETY: `msleep()` may be called from process context, where this runs.
            unsafe { bindings::msleep(1) };
        }
        two.go.store(true, Ordering::Release);
        let mine = self.first.run(&two.ids, self.ops - steps);
        // The second thread holds the lock until it is done.
        let theirs = two.second.lock().1.take().ok_or(EINVAL)?;
        let ((start, end), (their_start, their_end)) = (mine?, theirs?);
        let (start, end) = (start.to_ns(), end.to_ns());
        let (their_start, their_end) = (their_start.to_ns(), their_end.to_ns());
        let total = max(end, their_end) - min(start, their_start);
        let both = max(min(end, their_end) - max(start, their_start), 0);
        let total = u64::try_from(total).unwrap_or(0);
        let both = u64::try_from(both).unwrap_or(0);
        let overlap = both.saturating_mul(100).checked_div(total).unwrap_or(0);
        // A round in which one CPU mostly ran alone does not measure two CPUs at once.
        let together = overlap >= MIN_OVERLAP;
        let best_together = self.overlap >= MIN_OVERLAP;
        if (together && !best_together) || (together == best_together && total < self.two_ns) {
            self.two_ns = total;
            self.overlap = overlap;
        }
        Ok(())
    }
}

/// Prints the memory of `allocator`, used by `pattern` with `in_use` ids in use, if it is known.
fn report_memory<A: IdAllocator>(allocator: &A, pattern: &str, n: usize, in_use: usize) {
    if let Some(bytes) = allocator.memory() {
        pr_info!(
            "bench: suite=memory impl={} pattern={} n={} in_use={} bytes={}\n",
            A::NAME,
            pattern,
            n,
            in_use,
            bytes
        );
    }
}

/// The rounds of a [`Case`], whatever its allocator.
trait Rounds {
    /// Times round `round` of every pattern; `victims` are the ids for `pattern=churn` and
    /// `holes` the unused ids of `pattern=holes`.
    fn round(&mut self, round: usize, victims: &[usize], holes: &[usize]) -> Result;

    /// Prints the fastest rounds and the memory used.
    fn report(&self);
}

impl<A: IdAllocator> Rounds for Case<A> {
    fn round(&mut self, round: usize, victims: &[usize], holes: &[usize]) -> Result {
        // Each round releases different ids.
        let victims = victims
            .get(round * self.ops..(round + 1) * self.ops)
            .ok_or(EINVAL)?;
        self.grow_round()
            .and_then(|()| self.churn_round(victims))
            .and_then(|()| self.holes_round(holes))
            .and_then(|()| self.binder_round())
            .and_then(|()| self.two_round())
            .inspect_err(|e| pr_err!("id_alloc: {}, n={}: {:?}\n", A::NAME, self.n, e))
    }

    fn report(&self) {
        let (n, ops) = (self.n, self.ops);
        report("id_alloc", A::NAME, "grow", n, self.grow, ops);
        report("id_alloc", A::NAME, "churn", n, self.churn, ops);
        report("id_alloc", A::NAME, "holes", n, self.holes, ops);
        // A step is half of a pair on average.
        report("id_alloc", A::NAME, "binder", n, self.binder_ns, ops / 2);
        let tenths = tenths_per_op(self.two_ns, ops / 2);
        pr_info!(
            "bench: suite=id_alloc impl={} pattern=binder_2cpu n={} ns_per_op={}.{} overlap={}\n",
            A::NAME,
            n,
            tenths / 10,
            tenths % 10,
            self.overlap
        );
        report_memory(&self.dense, "dense", n, n);
        report_memory(&self.holey, "holes", n, n);
        report_memory(&self.binder, "binder", n, self.binder_ids.len);
        // The same steps leave the same ids in use, whatever the implementation.
        pr_info!(
            "bench: suite=check impl={} pattern=binder n={} steps={} in_use={} idsum={}\n",
            A::NAME,
            n,
            ID_ROUNDS * ops,
            self.binder_ids.len,
            self.binder_ids.sum()
        );
    }
}

/// The cases of suite `id_alloc` with `n` ids in use.
struct Cases {
    /// The ids released by `pattern=churn`, for all the rounds.
    victims: KVVec<usize>,
    /// The unused ids of `pattern=holes`.
    holes: KVVec<usize>,
    pool: Case<LockedPool>,
    ida: Case<Ida>,
    flat: Case<FlatScan>,
}

impl Cases {
    /// Creates the allocators.
    fn new(n: usize) -> Result<Self> {
        let holes = holes(n)?;
        Ok(Self {
            victims: churn_victims(n)?,
            pool: Case::new(n, &holes)?,
            ida: Case::new(n, &holes)?,
            flat: Case::new(n, &holes)?,
            holes,
        })
    }

    /// Times rounds `rounds` of every implementation, interleaved.
    fn run(&mut self, rounds: Range<usize>) -> Result {
        let mut cases: [&mut dyn Rounds; 3] = [&mut self.pool, &mut self.ida, &mut self.flat];
        for round in rounds {
            for case in cases.iter_mut() {
                case.round(round, &self.victims, &self.holes)?;
            }
        }
        Ok(())
    }

    /// Prints the fastest rounds of every implementation.
    fn report(&self) {
        self.pool.report();
        self.ida.report();
        self.flat.report();
    }
}

/// Runs suite `id_alloc`.
///
/// The rounds of the implementations are interleaved, so that a slow period of the machine
/// affects them all alike, and the rounds of each `n` are split in `ID_SWEEPS` sweeps over the
/// values of `n`, so that a slow period does not affect all the rounds of one `n` either.
fn bench_id_alloc() -> Result {
    report_memory(&LockedPool::new()?, "empty", 0, 0);
    report_memory(&FlatScan::new()?, "empty", 0, 0);
    let mut all = KVec::with_capacity(ID_COUNTS.len(), GFP_KERNEL)?;
    for n in ID_COUNTS {
        all.push(Cases::new(n)?, GFP_KERNEL)?;
    }
    let per_sweep = ID_ROUNDS / ID_SWEEPS;
    for sweep in 0..ID_SWEEPS {
        for cases in all.iter_mut() {
            cases.run(sweep * per_sweep..(sweep + 1) * per_sweep)?;
        }
    }
    for cases in all.iter() {
        cases.report();
    }
    Ok(())
}

/// Walks `map` with the Rust searches, for the set bits or the zero bits; returns the count.
fn walk_rust(map: &Bitmap, zeros: bool) -> usize {
    let mut found = 0;
    let mut pos = 0;
    if zeros {
        while let Some(bit) = map.next_zero_bit(pos) {
            found += 1;
            pos = bit + 1;
        }
    } else {
        while let Some(bit) = map.next_bit(pos) {
            found += 1;
            pos = bit + 1;
        }
    }
    found
}

/// Walks `map` with the C searches, for the set bits or the zero bits; returns the count.
fn walk_c(map: &Bitmap, zeros: bool) -> usize {
    let addr = map.as_ptr();
    let nbits = map.len();
    let size = nbits as c_ulong;
    let mut found = 0;
    let mut pos = 0;
    loop {
        let bit = if zeros {
            // SAFETY: `addr` points to the `bits_to_longs(nbits)` words of the bitmap, valid
            // while `map` borrows it, which C only reads.
            unsafe { bindings::_find_next_zero_bit(addr, size, pos as c_ulong) }
        } else {
            // SAFETY: As above.
            unsafe { bindings::_find_next_bit(addr, size, pos as c_ulong) }
        } as usize;
        if bit >= nbits {
            break;
        }
        found += 1;
        pos = bit + 1;
    }
    found
}

/// Times the walks of `map` in Rust and in C, and prints the fastest of each.
fn bench_walks(pattern: &str, map: &Bitmap, zeros: bool) -> Result {
    let (rust_name, c_name) = if zeros {
        ("rust_next_zero", "c_find_next_zero_bit")
    } else {
        ("rust_next_set", "c_find_next_bit")
    };
    let mut best_rust = u64::MAX;
    let mut best_c = u64::MAX;
    let mut found = 0;
    for run in 0..FIND_RUNS {
        let mut rust_found = 0;
        let mut c_found = 0;
        // Alternate which walk goes first.
        for rust_turn in [run % 2 == 0, run % 2 != 0] {
            let start = Ktime::ktime_get();
            if rust_turn {
                rust_found = walk_rust(map, zeros);
                best_rust = min(best_rust, elapsed_ns(start));
            } else {
                c_found = walk_c(map, zeros);
                best_c = min(best_c, elapsed_ns(start));
            }
        }
        if rust_found != c_found {
            pr_err!(
                "find_bit: {} found {} bits, {} found {}\n",
                rust_name,
                rust_found,
                c_name,
                c_found
            );
            return Err(EINVAL);
        }
        found = rust_found;
    }
    report("find_bit", rust_name, pattern, map.len(), best_rust, found);
    report("find_bit", c_name, pattern, map.len(), best_c, found);
    Ok(())
}

/// Runs suite `find_bit`.
fn bench_find_bit() -> Result {
    let mut rng = XorShift(FIND_SEED);

    let mut random: BitmapVec = BitmapVec::new(FIND_BITS, GFP_KERNEL)?;
    let bits = &mut *random;
    let mut word = 0;
    for bit in 0..FIND_BITS {
        if bit % 64 == 0 {
            word = rng.next_u64();
        }
        if (word >> (bit % 64)) & 1 != 0 {
            bits.set_bit(bit)?;
        }
    }

    let mut sparse: BitmapVec = BitmapVec::new(FIND_BITS, GFP_KERNEL)?;
    let bits = &mut *sparse;
    for block in (0..FIND_BITS).step_by(SPARSE_GAP) {
        bits.set_bit(block + rng.below(SPARSE_GAP))?;
    }
    let mut dense = sparse.clone_resized(FIND_BITS, GFP_KERNEL)?;
    dense.complement();

    bench_walks("random", &random, false)?;
    bench_walks("random", &random, true)?;
    bench_walks("sparse", &sparse, false)?;
    bench_walks("sparse", &dense, true)?;
    Ok(())
}

struct IdPoolBench;

impl kernel::Module for IdPoolBench {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let start = Ktime::ktime_get();
        bench_id_alloc()
            .and_then(|()| bench_find_bit())
            .inspect_err(|e| pr_err!("failed: {:?}\n", e))?;
        pr_info!("ran in {} ms\n", elapsed_ns(start) / 1_000_000);
        pr_info!("bench: done\n");
        Ok(Self)
    }
}
