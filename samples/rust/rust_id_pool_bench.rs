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
//! Each case fills ids `1..=n` (not timed), so that `n` ids are in use, then times operations
//! that each release one id and acquire the lowest unused id at or after 1, the way binder
//! allocates handles. The number of ids in use stays `n`. `ns_per_op` is the time of one
//! acquire + release pair.
//!
//! - `pattern=grow`: acquire the lowest unused id, which is `n + 1`, then release it: the cost
//!   of allocating past the ids in use, as when a process only gains handles.
//! - `pattern=churn`: release a pseudo-random id in use (xorshift with a fixed seed, the same
//!   sequence for every implementation), then acquire the lowest unused id, which is the hole just
//!   made, anywhere in `1..=n`.
//!
//! The implementations:
//!
//! - `impl=idpool`: [`kernel::id_pool::IdPool`], grown directly (no lock) when full;
//! - `impl=idpool_spinlock`: the same pool in a [`kernel::sync::SpinLock`], taken for each
//!   acquire and each release, through [`kernel::id_pool::alloc_id_locked`] and
//!   [`kernel::id_pool::release_id_locked`] (which also checks whether to shrink), as a driver
//!   without a lock of its own around the pool would use it;
//! - `impl=ida`: the C IDA (`ida_alloc_range()` and `ida_free()`), which takes its own spinlock;
//! - `impl=flat_scan`: what the C binder's `drivers/android/dbitmap.h` does: one flat bitmap,
//!   doubled when full, searched with C's `find_next_zero_bit()` from the start, with atomic
//!   `set_bit()`/`clear_bit()`;
//! - `impl=rbtree_gap`: what the Rust binder did before: a red-black tree of the ids in use,
//!   walked in order from the smallest id until the first gap. A freed node is reused for the
//!   next insertion, so the time is that of the walk and of the tree updates, not of `kmalloc()`.
//!
//! `n` is 1000, 10000, 100000 and 1000000. The allocators of all cases are filled first, then
//! each pattern runs 15 rounds and the fastest round is reported, which filters out interruptions
//! and the first execution of the code. So that a slow period of the machine affects all cases
//! alike, the rounds are run in 3 sweeps over `n`: in each sweep, all implementations run 5
//! rounds for one `n`, interleaved, before the next `n`. The number of timed operations per round
//! is:
//!
//! | impl         | n = 1000 | 10000  | 100000 | 1000000     |
//! |--------------|----------|--------|--------|-------------|
//! | `idpool`     | 10000    | 10000  | 10000  | 10000       |
//! | `idpool_spinlock` | 10000 | 10000 | 10000 | 10000       |
//! | `ida`        | 10000    | 10000  | 10000  | 10000       |
//! | `flat_scan`  | 10000    | 10000  | 2000   | 200         |
//! | `rbtree_gap` | 500      | 50     | 20     | not run     |
//!
//! `rbtree_gap` takes `O(n)` per operation: it does not run at 1000000 ids.
//!
//! ## `suite=find_bit`: searching a bitmap
//!
//! Times full walks of a bitmap of `n` = 2^20 bits, one search per found bit, with the searches
//! of [`kernel::bitmap::Bitmap`] and with C's `find_next_bit()` and `find_next_zero_bit()`, as
//! `lib/find_bit_benchmark.c` does. `ns_per_op` is the time of a walk divided by the number of
//! bits found.
//!
//! - `pattern=random`: each bit is set with probability 1/2;
//! - `pattern=sparse`: one bit in 4096 is set for `impl=rust_next_set` and
//!   `impl=c_find_next_bit`, one bit in 4096 is clear for `impl=rust_next_zero` and
//!   `impl=c_find_next_zero_bit`.
//!
//! Each walk runs 5 times, alternating the Rust and the C walk and which one goes first, and the
//! fastest run of each is reported.
//!
//! ## Reading the results
//!
//! - `idpool` at `n=1000000` ÷ `idpool` at `n=1000`, per pattern: how well the pool scales (1.0
//!   is a constant cost per operation);
//! - `ida`, `flat_scan` or `rbtree_gap` ÷ `idpool` at one `n` and pattern: how much faster the
//!   pool is than each alternative;
//! - `rust_next_set` ÷ `c_find_next_bit` and `rust_next_zero` ÷ `c_find_next_zero_bit` for one
//!   pattern: the cost of the Rust search relative to C's (below 1.0 means faster). The C
//!   functions are called through the out-of-line `rust/helpers/bitmap.c` wrappers, which add a
//!   call per search.

use core::{
    cmp::{max, min},
    ops::Range,
};
use kernel::{
    bindings,
    bitmap::{Bitmap, BitmapVec, BITS_PER_LONG},
    c_str,
    error::to_result,
    ffi::{c_uint, c_ulong},
    id_pool::{alloc_id_locked, release_id_locked, IdPool},
    prelude::*,
    rbtree::{RBTree, RBTreeNodeReservation},
    sync::{new_spinlock, SpinLock},
    time::Ktime,
    types::Opaque,
};

module! {
    type: IdPoolBench,
    name: "rust_id_pool_bench",
    author: "Rust for Linux Contributors",
    description: "Benchmark of IdPool, the IDA and bitmap searches",
    license: "GPL",
}

/// The numbers of ids in use of suite `id_alloc`.
const ID_COUNTS: [usize; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// The most timed operations of a round of suite `id_alloc`.
const MAX_OPS: usize = 10_000;

/// The number of rounds of each case of suite `id_alloc`, of which the fastest is reported.
const ID_ROUNDS: usize = 15;

/// The number of sweeps over the values of `n` of suite `id_alloc`, which divides `ID_ROUNDS`.
const ID_SWEEPS: usize = 3;

/// The seed of the pseudo-random ids released by `pattern=churn`.
const CHURN_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

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

/// Returns the nanoseconds elapsed since `start`.
fn elapsed_ns(start: Ktime) -> u64 {
    u64::try_from((Ktime::ktime_get() - start).to_ns()).unwrap_or(0)
}

/// Prints the result of a measurement: `total_ns` nanoseconds for `ops` operations.
fn report(suite: &str, name: &str, pattern: &str, n: usize, total_ns: u64, ops: usize) {
    // Tenths of nanoseconds per operation, rounded to nearest.
    let ops = ops as u64;
    let tenths = total_ns
        .saturating_mul(10)
        .saturating_add(ops / 2)
        .checked_div(ops)
        .unwrap_or(0);
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
trait IdAllocator: Sized {
    /// The name of the implementation in the output.
    const NAME: &'static str;

    /// Returns the number of timed operations per round with `n` ids in use, at most `MAX_OPS`;
    /// zero to skip `n`.
    fn ops(n: usize) -> usize;

    /// Creates an allocator with no id in use.
    fn new() -> Result<Self>;

    /// Acquires the lowest unused id at or after `start`.
    fn acquire(&mut self, start: usize) -> Result<usize>;

    /// Releases `id`, which is in use.
    fn release(&mut self, id: usize) -> Result;

    /// Acquires ids `1..=n` in an empty allocator.
    ///
    /// The ids below the one acquired are in use, so starting the search there finds the same id
    /// as starting at 1, without walking over them where that costs `O(n)`.
    fn fill(&mut self, n: usize) -> Result {
        for expected in 1..=n {
            if self.acquire(expected)? != expected {
                return Err(EINVAL);
            }
        }
        Ok(())
    }
}

/// The Rust [`IdPool`].
struct PoolIds(IdPool);

impl IdAllocator for PoolIds {
    const NAME: &'static str = "idpool";

    fn ops(_n: usize) -> usize {
        MAX_OPS
    }

    fn new() -> Result<Self> {
        Ok(Self(IdPool::new()))
    }

    fn acquire(&mut self, start: usize) -> Result<usize> {
        loop {
            if let Some(unused) = self.0.find_unused_id(start) {
                return Ok(unused.acquire());
            }
            // No lock to release: grow in place.
            let mut resizer = self.0.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
            if !self.0.grow(&mut resizer) {
                return Err(ENOSPC);
            }
        }
    }

    fn release(&mut self, id: usize) -> Result {
        self.0.release_id(id)
    }
}

/// The Rust [`IdPool`] in a [`SpinLock`], taken for each operation, as the IDA takes its own.
struct LockedPoolIds(Pin<KBox<SpinLock<IdPool>>>);

impl IdAllocator for LockedPoolIds {
    const NAME: &'static str = "idpool_spinlock";

    fn ops(_n: usize) -> usize {
        MAX_OPS
    }

    fn new() -> Result<Self> {
        Ok(Self(KBox::pin_init(
            new_spinlock!(IdPool::new(), "LockedPoolIds"),
            GFP_KERNEL,
        )?))
    }

    fn acquire(&mut self, start: usize) -> Result<usize> {
        alloc_id_locked(&mut self.0.lock(), |pool| pool, start, GFP_KERNEL)
    }

    fn release(&mut self, id: usize) -> Result {
        release_id_locked(&mut self.0.lock(), |pool| pool, id, GFP_KERNEL)
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
/// functions, through `&mut self`, and never moves as it is boxed.
struct Ida(KBox<bindings::ida>);

impl IdAllocator for Ida {
    const NAME: &'static str = "ida";

    fn ops(_n: usize) -> usize {
        MAX_OPS
    }

    fn new() -> Result<Self> {
        // `ida_init()` is `xa_init_flags(&ida->xa, IDA_INIT_FLAGS)`, an inline function that
        // initialises the spinlock, sets the flags and sets the head to null. `default()` is all
        // zero bytes: a null head.
        let mut ida = KBox::new(bindings::ida::default(), GFP_KERNEL)?;
        ida.xa.xa_flags = IDA_INIT_FLAGS;
        // SAFETY: `ida.xa.xa_lock` is a valid `spinlock_t`, not in use by anyone yet. The name is
        // a NUL-terminated string and the key is a `lock_class_key`, both in static memory so
        // they outlive the lock, as `spin_lock_init()` would provide.
        unsafe {
            bindings::__spin_lock_init(
                &mut ida.xa.xa_lock,
                c_str!("rust_id_pool_bench_ida").as_char_ptr(),
                IDA_LOCK_KEY.0.get(),
            )
        };
        // INVARIANT: The IDA is now initialised as `ida_init()` does.
        Ok(Self(ida))
    }

    fn acquire(&mut self, start: usize) -> Result<usize> {
        let min = c_uint::try_from(start)?;
        // SAFETY: By the type invariants, `self.0` is an initialised IDA; it is borrowed
        // exclusively, and the IDA functions lock it anyway. `GFP_KERNEL` is fine in process
        // context, where the module's init runs.
        let id =
            unsafe { bindings::ida_alloc_range(&mut *self.0, min, IDA_MAX, bindings::GFP_KERNEL) };
        to_result(id)?;
        Ok(usize::try_from(id)?)
    }

    fn release(&mut self, id: usize) -> Result {
        let id = c_uint::try_from(id)?;
        // SAFETY: By the type invariants, `self.0` is an initialised IDA, and the callers only
        // release ids in use.
        unsafe { bindings::ida_free(&mut *self.0, id) };
        Ok(())
    }
}

impl Drop for Ida {
    fn drop(&mut self) {
        // SAFETY: By the type invariants, `self.0` is an initialised IDA, not used after this.
        unsafe { bindings::ida_destroy(&mut *self.0) };
    }
}

/// A flat bitmap searched from the start, as `drivers/android/dbitmap.h` does.
struct FlatScan(BitmapVec);

impl IdAllocator for FlatScan {
    const NAME: &'static str = "flat_scan";

    fn ops(n: usize) -> usize {
        match n {
            0..=10_000 => MAX_OPS,
            10_001..=100_000 => 2000,
            _ => 200,
        }
    }

    fn new() -> Result<Self> {
        // `NBITS_MIN` of `dbitmap.h`.
        Ok(Self(BitmapVec::new(BITS_PER_LONG, GFP_KERNEL)?))
    }

    fn acquire(&mut self, start: usize) -> Result<usize> {
        loop {
            let map = &*self.0;
            let nbits = map.len();
            // SAFETY: `map.as_ptr()` points to the `bits_to_longs(nbits)` words of the bitmap,
            // valid while `map` borrows it, which C only reads.
            let bit = unsafe {
                bindings::find_next_zero_bit(map.as_ptr(), nbits as c_ulong, start as c_ulong)
            } as usize;
            if bit < nbits {
                map.set_bit_atomic(bit)?;
                return Ok(bit);
            }
            // `dbitmap_grow_nbits()`: double the bitmap.
            let doubled = max(nbits.checked_mul(2).ok_or(ENOSPC)?, BITS_PER_LONG);
            self.0 = self.0.clone_resized(doubled, GFP_KERNEL)?;
        }
    }

    fn release(&mut self, id: usize) -> Result {
        self.0.clear_bit_atomic(id)
    }
}

/// A red-black tree of the ids in use, searched for the first gap in order.
struct RbTreeGap {
    tree: RBTree<u32, ()>,
    /// The node of the last id released, for the next id acquired.
    spare: Option<RBTreeNodeReservation<u32, ()>>,
}

impl IdAllocator for RbTreeGap {
    const NAME: &'static str = "rbtree_gap";

    fn ops(n: usize) -> usize {
        match n {
            0..=1_000 => 500,
            1_001..=10_000 => 50,
            10_001..=100_000 => 20,
            _ => 0,
        }
    }

    fn new() -> Result<Self> {
        Ok(Self {
            tree: RBTree::new(),
            spare: None,
        })
    }

    fn acquire(&mut self, start: usize) -> Result<usize> {
        let mut target = u32::try_from(start)?;
        for &key in self.tree.keys() {
            if key > target {
                break;
            }
            if key == target {
                target = target.checked_add(1).ok_or(ENOSPC)?;
            }
        }
        let node = match self.spare.take() {
            Some(node) => node,
            None => RBTreeNodeReservation::new(GFP_KERNEL)?,
        };
        if self.tree.insert(node.into_node(target, ())).is_some() {
            // Unreachable: the walk found an id not in the tree.
            return Err(EINVAL);
        }
        Ok(usize::try_from(target)?)
    }

    fn release(&mut self, id: usize) -> Result {
        let node = self.tree.remove_node(&u32::try_from(id)?).ok_or(EINVAL)?;
        self.spare = Some(node.into_reservation());
        Ok(())
    }

    fn fill(&mut self, n: usize) -> Result {
        // Walking from the smallest id for each of the `n` ids would take `O(n^2)`.
        for id in 1..=n {
            self.tree
                .try_create_and_insert(u32::try_from(id)?, (), GFP_KERNEL)?;
        }
        Ok(())
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

/// The measurements of allocator `A` with `n` ids in use.
struct Case<A: IdAllocator> {
    ids: A,
    n: usize,
    /// The number of operations per round.
    ops: usize,
    /// The time of the fastest round of `pattern=grow`, in nanoseconds.
    grow: u64,
    /// The time of the fastest round of `pattern=churn`, in nanoseconds.
    churn: u64,
}

impl<A: IdAllocator> Case<A> {
    /// Creates an allocator with ids `1..=n` in use, or [`None`] if `A` skips `n`.
    fn new(n: usize) -> Result<Option<Self>> {
        let ops = A::ops(n);
        if ops == 0 {
            return Ok(None);
        }
        let mut ids = A::new()?;
        ids.fill(n)?;
        Ok(Some(Self {
            ids,
            n,
            ops,
            grow: u64::MAX,
            churn: u64::MAX,
        }))
    }

    /// Times a round of `pattern=grow`.
    fn grow_round(&mut self) -> Result {
        let next = self.n + 1;
        let start = Ktime::ktime_get();
        for _ in 0..self.ops {
            let id = self.ids.acquire(1)?;
            if id != next {
                return Err(EINVAL);
            }
            self.ids.release(id)?;
        }
        self.grow = min(self.grow, elapsed_ns(start));
        Ok(())
    }

    /// Times a round of `pattern=churn`, releasing the ids of `victims`.
    fn churn_round(&mut self, victims: &[usize]) -> Result {
        let start = Ktime::ktime_get();
        for &victim in victims {
            self.ids.release(victim)?;
            if self.ids.acquire(1)? != victim {
                return Err(EINVAL);
            }
        }
        self.churn = min(self.churn, elapsed_ns(start));
        Ok(())
    }
}

/// The rounds of a [`Case`], whatever its allocator.
trait Rounds {
    /// Times round `round` of both patterns; `victims` are the ids for `pattern=churn`.
    fn round(&mut self, round: usize, victims: &[usize]) -> Result;

    /// Prints the fastest rounds.
    fn report(&self);
}

impl<A: IdAllocator> Rounds for Case<A> {
    fn round(&mut self, round: usize, victims: &[usize]) -> Result {
        // Each round releases different ids.
        let victims = victims
            .get(round * self.ops..(round + 1) * self.ops)
            .ok_or(EINVAL)?;
        self.grow_round()
            .and_then(|()| self.churn_round(victims))
            .inspect_err(|e| pr_err!("id_alloc: {}, n={}: {:?}\n", A::NAME, self.n, e))
    }

    fn report(&self) {
        report("id_alloc", A::NAME, "grow", self.n, self.grow, self.ops);
        report("id_alloc", A::NAME, "churn", self.n, self.churn, self.ops);
    }
}

impl<T: Rounds> Rounds for Option<T> {
    fn round(&mut self, round: usize, victims: &[usize]) -> Result {
        self.as_mut()
            .map_or(Ok(()), |case| case.round(round, victims))
    }

    fn report(&self) {
        if let Some(case) = self {
            case.report();
        }
    }
}

/// The cases of suite `id_alloc` with `n` ids in use.
struct Cases {
    /// The ids released by `pattern=churn`, for all the rounds.
    victims: KVVec<usize>,
    pool: Option<Case<PoolIds>>,
    locked_pool: Option<Case<LockedPoolIds>>,
    ida: Option<Case<Ida>>,
    flat: Option<Case<FlatScan>>,
    rbtree: Option<Case<RbTreeGap>>,
}

impl Cases {
    /// Creates the allocators, with ids `1..=n` in use.
    fn new(n: usize) -> Result<Self> {
        Ok(Self {
            victims: churn_victims(n)?,
            pool: Case::new(n)?,
            locked_pool: Case::new(n)?,
            ida: Case::new(n)?,
            flat: Case::new(n)?,
            rbtree: Case::new(n)?,
        })
    }

    /// Times rounds `rounds` of every implementation, interleaved.
    fn run(&mut self, rounds: Range<usize>) -> Result {
        let mut cases: [&mut dyn Rounds; 5] = [
            &mut self.pool,
            &mut self.locked_pool,
            &mut self.ida,
            &mut self.flat,
            &mut self.rbtree,
        ];
        for round in rounds {
            for case in cases.iter_mut() {
                case.round(round, &self.victims)?;
            }
        }
        Ok(())
    }

    /// Prints the fastest rounds of every implementation.
    fn report(&self) {
        self.pool.report();
        self.locked_pool.report();
        self.ida.report();
        self.flat.report();
        self.rbtree.report();
    }
}

/// Runs suite `id_alloc`.
///
/// The rounds of the implementations are interleaved, so that a slow period of the machine
/// affects them all alike, and the rounds of each `n` are split in `ID_SWEEPS` sweeps over the
/// values of `n`, so that a slow period does not affect all the rounds of one `n` either.
fn bench_id_alloc() -> Result {
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
    if zeros {
        loop {
            // SAFETY: `addr` points to the `bits_to_longs(nbits)` words of the bitmap, valid
            // while `map` borrows it, which C only reads.
            let bit = unsafe { bindings::find_next_zero_bit(addr, size, pos as c_ulong) } as usize;
            if bit >= nbits {
                break;
            }
            found += 1;
            pos = bit + 1;
        }
    } else {
        loop {
            // SAFETY: `addr` points to the `bits_to_longs(nbits)` words of the bitmap, valid
            // while `map` borrows it, which C only reads.
            let bit = unsafe { bindings::find_next_bit(addr, size, pos as c_ulong) } as usize;
            if bit >= nbits {
                break;
            }
            found += 1;
            pos = bit + 1;
        }
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
