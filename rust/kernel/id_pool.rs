// SPDX-License-Identifier: GPL-2.0

//! An allocator of small integer ids.
//!
//! An [`IdPool`] hands out the lowest unused id at or after a given start, for instance the
//! handles of a process in a driver. It is a bitmap of the ids in use plus a hierarchy of summary
//! bitmaps, so that finding an unused id takes a few word operations whatever the number of ids
//! in use and their pattern.
//!
//! # Capacity and resizing
//!
//! A pool has a capacity: the ids it can hand out are those below it. A new pool starts at its
//! inline capacity, [`IdPool::INLINE_CAPACITY`], and uses no memory besides itself until it grows
//! past it. It grows by doubling, up to a maximum chosen at creation ([`MAX_CAPACITY`] by
//! default, see [`IdPool::with_max`]), and shrinks as the C binder driver's `dbitmap` does: by
//! half when every id in use is below a quarter of the capacity, and back to the inline capacity
//! when no id is in use.
//!
//! The pool does not lock: it is usually a field of a structure protected by a lock. As a resize
//! allocates memory, which may sleep, it is done in three steps, so that the allocation happens
//! without the lock:
//!
//! 1. *request*, with the lock held: [`IdPool::grow_request`] or [`IdPool::shrink_request`]
//!    returns a [`ReallocRequest`] with the current and the new capacities;
//! 2. *allocate*, without the lock: [`ReallocRequest::realloc`] returns a [`PoolResizer`] holding
//!    the new bitmaps;
//! 3. *commit*, with the lock held again: [`IdPool::grow`] or [`IdPool::shrink`] moves the ids into
//!    the new bitmaps. It cannot fail and does not allocate.
//!
//! While the lock was released, another thread may have resized the pool, or acquired or released
//! ids. The commit checks that the resize is still valid and wanted, and does nothing otherwise:
//! the loser of such a race has allocated memory for nothing, which is freed with the resizer.
//! No id in use is ever lost and the pool never shrinks below an id in use.
//!
//! A committed resizer holds the previous bitmaps. As freeing memory from `vmalloc()` may sleep,
//! drop resizers only after releasing the lock if it is a spinlock.
//!
//! [`alloc_id_locked`] and [`release_id_locked`] do all of this for a pool protected by a
//! [`Mutex`](crate::sync::Mutex) or a [`SpinLock`](crate::sync::SpinLock).
//!
//! # Complexity
//!
//! Level 0 of the hierarchy is the bitmap of the ids in use. Each bit of level `k + 1` tells
//! whether a word of level `k` is full (all ones); bits past the capacity count as in use. The
//! last level fits in one word. With `n` the capacity, there are about `log64(n)` levels: 4 for
//! a million ids, 6 at [`MAX_CAPACITY`] on 64-bit architectures.
//!
//! - Finding an unused id goes up from the word of `start` until a level has a non-full word at
//!   or after the position of `start`, then down to the first zero bit: `O(log64(n))` word
//!   operations, for any pattern of ids in use.
//! - Acquiring and releasing an id update one bit per level at most: `O(log64(n))`, and only
//!   the bitmap of the ids unless the word of the id becomes full or stops being full.
//! - [`IdPool::capacity`], [`IdPool::used`], [`IdPool::grow_request`] and
//!   [`IdPool::shrink_request`] are `O(1)`: the pool counts the ids in use at or above a quarter
//!   of its capacity.
//! - A resize commit rebuilds the hierarchy: `O(n / 64)` word operations.
//!
//! # Examples
//!
//! ```
//! use kernel::id_pool::IdPool;
//!
//! let mut pool: IdPool = IdPool::new();
//! assert_eq!(pool.capacity(), IdPool::<1>::INLINE_CAPACITY);
//!
//! // The lowest unused id is 0; id 0 is reserved, so start at 1.
//! let a = pool.find_unused_id(1).ok_or(ENOSPC)?.acquire();
//! let b = pool.find_unused_id(1).ok_or(ENOSPC)?.acquire();
//! assert_eq!((a, b), (1, 2));
//! pool.release_id(a)?;
//! assert_eq!(pool.find_unused_id(1).map(|id| id.as_usize()), Some(1));
//! assert_eq!(pool.used(), 1);
//!
//! // Ids past the capacity need a larger pool.
//! assert!(pool.find_unused_id(pool.capacity()).is_none());
//! let mut resizer = pool.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
//! assert!(pool.grow(&mut resizer));
//! assert_eq!(pool.capacity(), 2 * IdPool::<1>::INLINE_CAPACITY);
//! # Ok::<(), Error>(())
//! ```
//!
//! The handshake written out, for a pool in a [`SpinLock`](crate::sync::SpinLock) (this is what
//! [`alloc_id_locked`] does):
//!
//! ```
//! use kernel::id_pool::IdPool;
//! use kernel::sync::{new_spinlock, SpinLock};
//!
//! fn alloc_id(lock: &SpinLock<IdPool>, start: usize) -> Result<usize> {
//!     // Memory to free once the lock is released.
//!     let mut leftover = None;
//!     let mut pool = lock.lock();
//!     let result = loop {
//!         if let Some(unused) = pool.find_unused_id(start) {
//!             break Ok(unused.acquire());
//!         }
//!         let Some(request) = pool.grow_request() else {
//!             break Err(ENOSPC);
//!         };
//!         drop(pool);
//!         drop(leftover.take());
//!         let resizer = request.realloc(GFP_KERNEL);
//!         pool = lock.lock();
//!         let Ok(mut resizer) = resizer else {
//!             break Err(ENOMEM);
//!         };
//!         // Does nothing if another thread grew the pool in the meantime.
//!         pool.grow(&mut resizer);
//!         leftover = Some(resizer);
//!     };
//!     drop(pool);
//!     drop(leftover);
//!     result
//! }
//!
//! kernel::stack_pin_init!(let lock = new_spinlock!(IdPool::new()));
//! for expected in 0..100 {
//!     assert_eq!(alloc_id(&lock, 0), Ok(expected));
//! }
//! assert_eq!(alloc_id(&lock, 1000), Ok(1000));
//! assert_eq!(lock.lock().capacity(), 1024);
//! # assert_eq!(lock.lock().used(), 101);
//! # assert!(lock.lock().is_consistent());
//! ```

use crate::{
    alloc::{AllocError, Flags},
    bitmap::{bits_to_longs, warn_on_once, Bitmap, BitmapVec, BITS_PER_LONG},
    error::{
        code::{EINVAL, ENOMEM, ENOSPC},
        Result,
    },
    sync::lock::{Backend, Guard},
};
use core::{
    cmp::{max, min},
    fmt,
    marker::PhantomData,
    mem::swap,
};

/// The largest capacity of a pool, and its default maximum.
///
/// Every id is below `2^31`, so it fits in a C `int` or a `u32`, like the ids of the C IDA. A
/// pool of this capacity uses 256 MiB for its bitmap: the allocation of such a bitmap may well
/// fail first, see [`IdPool::with_max`] to choose a lower maximum.
///
/// # Examples
///
/// ```
/// use kernel::id_pool::{IdPool, MAX_CAPACITY};
///
/// let pool: IdPool = IdPool::new();
/// assert_eq!(pool.max_capacity(), MAX_CAPACITY);
/// assert!(u32::try_from(MAX_CAPACITY - 1).is_ok());
/// ```
pub const MAX_CAPACITY: usize = 1 << 31;

/// The base-2 logarithm of [`BITS_PER_LONG`]: a word of a summary level stands for
/// `1 << WORD_SHIFT` words of the level below it.
const WORD_SHIFT: u32 = BITS_PER_LONG.trailing_zeros();

/// Returns the number of summary levels of a pool of capacity `capacity`.
const fn summary_depth(capacity: usize) -> usize {
    let mut words = bits_to_longs(capacity);
    let mut depth = 0;
    while words > 1 {
        words = bits_to_longs(words);
        depth += 1;
    }
    depth
}

/// Where the levels of a pool of a given capacity are.
///
/// Level 0 is the bitmap of the ids: [`bits_to_longs`]`(capacity)` words. Level `k + 1` has one
/// bit per word of level `k`, and levels are added until one fits in a word. The summary levels,
/// from level 1 up, are stored one after the other in one bitmap. Every level is a whole number
/// of words, and the bits of a level past its end (past the capacity for level 0) are set, as if
/// in use.
///
/// It is computed from the capacity by the operations that need it, rather than stored in the
/// pool, which would make every pool more than a dozen words larger.
///
/// # Invariants
///
/// `depth == summary_depth(capacity)`.
#[derive(Clone, Copy)]
struct Layout {
    capacity: usize,
    depth: usize,
}

impl Layout {
    /// Computes the layout of a pool of capacity `capacity`.
    #[inline]
    fn new(capacity: usize) -> Self {
        // INVARIANT: `depth` is computed by `summary_depth`.
        Self {
            capacity,
            depth: summary_depth(capacity),
        }
    }

    /// Returns the number of words of level `level`, which is at most the depth.
    ///
    /// Each level divides the number of words of the level below by [`BITS_PER_LONG`], rounding
    /// up; rounding up at each step gives the same as dividing the capacity once by
    /// `BITS_PER_LONG` to the power `level + 1`, rounding up.
    #[inline]
    fn words(&self, level: usize) -> usize {
        // Callers pass levels up to the depth.
        warn_on_once!(level > self.depth);
        let shift = u32::try_from(level + 1)
            .unwrap_or(u32::MAX)
            .saturating_mul(WORD_SHIFT);
        match 1usize.checked_shl(shift) {
            Some(unit) => (self.capacity >> shift) + usize::from(self.capacity & (unit - 1) != 0),
            // The capacity is below `2^usize::BITS`.
            None => usize::from(self.capacity != 0),
        }
    }

    /// Returns the index of the first word of summary level `level` in the summary bitmap: the
    /// number of words of the summary levels below it. `level` is at most the depth plus one.
    #[inline]
    fn start(&self, level: usize) -> usize {
        (1..level).map(|below| self.words(below)).sum()
    }

    /// Returns the length in bits of the bitmap of the ids, level 0.
    fn ids_bits(&self) -> usize {
        self.words(0) * BITS_PER_LONG
    }

    /// Returns the length in bits of the bitmap of the summary levels.
    fn summary_bits(&self) -> usize {
        self.start(self.depth + 1) * BITS_PER_LONG
    }
}

/// Read access to the levels of a pool: its two bitmaps and its layout.
///
/// It is made once per operation, so that the storage of each bitmap is looked up once.
#[derive(Clone, Copy)]
struct Levels<'a> {
    ids: &'a Bitmap,
    summary: &'a Bitmap,
    layout: Layout,
}

impl Levels<'_> {
    /// Returns word `index` of level `level`, with every bit set if there is no such word.
    ///
    /// A search going up may ask for the word past the last one of a summary level, which counts
    /// as full. Level 0 is only read at the word of an id below the capacity, or at a word that a
    /// summary level shows is not full, so it always has the word.
    #[inline]
    fn word(&self, level: usize, index: usize) -> usize {
        let word = if level == 0 {
            let word = self.ids.word(index);
            warn_on_once!(word.is_none());
            word
        } else if index < self.layout.words(level) {
            self.summary.word(self.layout.start(level) + index)
        } else {
            None
        };
        word.unwrap_or(usize::MAX)
    }
}

/// Write access to the levels of a pool: its two bitmaps, borrowed exclusively, and its layout.
struct LevelsMut<'a> {
    ids: &'a mut Bitmap,
    summary: &'a mut Bitmap,
    layout: Layout,
}

impl LevelsMut<'_> {
    /// Sets bit `bit` of level `level` to `value` and returns the word that held it, before the
    /// change.
    ///
    /// The bit must be inside the level, which it is by the type invariants of [`IdPool`] when
    /// its methods call it; were it not, this would report it, leave the bitmaps unchanged and
    /// return a word with every bit set.
    #[inline]
    fn assign(&mut self, level: usize, bit: usize, value: bool) -> usize {
        let index = bit / BITS_PER_LONG;
        let (map, pos) = if level == 0 {
            (&mut self.ids, bit)
        } else if index < self.layout.words(level) {
            let first = self.layout.start(level);
            (&mut self.summary, first * BITS_PER_LONG + bit)
        } else {
            warn_on_once!(true);
            return usize::MAX;
        };
        match map.assign_bit_in_word(pos, value) {
            Ok(old) => old,
            Err(_) => {
                warn_on_once!(true);
                usize::MAX
            }
        }
    }

    /// Records in the summary levels that word `index` of level 0 has just become full, if
    /// `full`, or has just stopped being full.
    fn summarize(&mut self, index: usize, full: bool) {
        let mut level = 1;
        let mut bit = index;
        while level <= self.layout.depth {
            let old = self.assign(level, bit, full);
            // Go up only while a word of this level has just become full, or stopped being full.
            let changed = if full {
                old != usize::MAX && old | (1 << (bit % BITS_PER_LONG)) == usize::MAX
            } else {
                old == usize::MAX
            };
            if !changed {
                break;
            }
            level += 1;
            bit /= BITS_PER_LONG;
        }
    }
}

/// Creates an inline bitmap of up to `nbits` zero bits, fewer if they do not fit.
///
/// The bitmaps of a pool at its initial capacity always fit, so [`IdPool::with_max`] needs no
/// allocation and cannot fail.
fn new_inline<const INLINE_WORDS: usize>(nbits: usize) -> BitmapVec<INLINE_WORDS> {
    let nbits = min(nbits, BitmapVec::<INLINE_WORDS>::INLINE_BITS);
    // `new_inline` returns `None` only for lengths past `INLINE_BITS`, so the default (an empty
    // inline bitmap) is never used.
    let map = BitmapVec::new_inline(nbits);
    warn_on_once!(map.is_none());
    map.unwrap_or_default()
}

/// Returns the number of set bits of `map` from bit `start` to bit `end` excluded, which is at
/// most the length of `map`.
fn count_range(map: &Bitmap, start: usize, end: usize) -> usize {
    let mut count = 0;
    let mut pos = start;
    while pos < end {
        let index = pos / BITS_PER_LONG;
        let word = map.word(index);
        warn_on_once!(word.is_none());
        let mut word = word.unwrap_or(0) & (usize::MAX << (pos % BITS_PER_LONG));
        let next = (index + 1) * BITS_PER_LONG;
        if end < next {
            word &= !(usize::MAX << (end % BITS_PER_LONG));
        }
        count += word.count_ones() as usize;
        pos = next;
    }
    count
}

/// An allocator of ids: small integers, handed out lowest first.
///
/// The pool stores up to [`INLINE_CAPACITY`](IdPool::INLINE_CAPACITY) ids, that is
/// `INLINE_WORDS` words, without allocating memory. It grows and shrinks as described in the
/// [module documentation](self), which also gives the cost of each operation.
///
/// # Invariants
///
/// - `min(INLINE_CAPACITY, max) <= capacity <= max <= MAX_CAPACITY`. Below, `layout` is
///   `Layout::new(capacity)`.
/// - `ids` has `layout.ids_bits()` bits: bit `i` is set if id `i` is in use or `i` is at or past
///   the capacity.
/// - `summary` has `layout.summary_bits()` bits and holds the summary levels of `layout`: bit `j`
///   of level `k >= 1` is set if and only if `j` is at or past the number of words of level
///   `k - 1` or word `j` of level `k - 1` is full (all ones).
/// - `used` is the number of ids in use, and `high` the number of those at or above
///   `capacity / 4`.
///
/// # Examples
///
/// ```
/// use kernel::id_pool::IdPool;
///
/// // 256 ids inline, at most 1000.
/// let mut pool = IdPool::<4>::with_max(1000);
/// assert_eq!(pool.capacity(), 256);
/// for expected in 0..256 {
///     assert_eq!(pool.find_unused_id(0).ok_or(ENOSPC)?.acquire(), expected);
/// }
/// assert!(pool.find_unused_id(0).is_none());
/// assert_eq!(pool.used(), 256);
/// assert!(pool.is_inline());
/// # assert!(pool.is_consistent());
/// # Ok::<(), Error>(())
/// ```
///
/// Besides its two bitmaps, a pool takes four words: its capacity and maximum capacity, and the
/// numbers of ids in use overall and in the upper three quarters. The layout of the levels is
/// computed from the capacity when needed. On a 64-bit architecture, an `IdPool<1>`, which holds
/// 64 ids without allocating memory, takes 96 bytes.
///
/// ```
/// use core::mem::size_of;
/// use kernel::bitmap::BitmapVec;
/// use kernel::id_pool::IdPool;
///
/// let bitmaps = 2 * size_of::<BitmapVec<1>>();
/// assert!(size_of::<IdPool<1>>() <= bitmaps + 4 * size_of::<usize>());
/// ```
///
/// A pool of a few levels: finding an id goes up past full words, then down.
///
/// ```
/// use kernel::id_pool::{alloc_id_locked, IdPool};
/// use kernel::sync::new_mutex;
///
/// kernel::stack_pin_init!(let lock = new_mutex!(IdPool::<1>::new()));
/// let mut pool = lock.lock();
/// // Ids 262144 to 266239 fill a word of level 1, so one bit of level 2 is set.
/// let base = 64 * 64 * 64;
/// for expected in base..base + 64 * 64 {
///     assert_eq!(alloc_id_locked(&mut pool, |pool| pool, base, GFP_KERNEL), Ok(expected));
/// }
/// assert_eq!(pool.capacity(), 512 * 1024);
/// assert_eq!(pool.find_unused_id(base).map(|id| id.as_usize()), Some(base + 64 * 64));
/// assert_eq!(pool.find_unused_id(base - 1).map(|id| id.as_usize()), Some(base - 1));
/// pool.release_id(base + 1000)?;
/// assert_eq!(pool.find_unused_id(base + 3).map(|id| id.as_usize()), Some(base + 1000));
/// assert_eq!(pool.find_unused_id(base + 1001).map(|id| id.as_usize()), Some(base + 64 * 64));
/// # assert!(pool.is_consistent());
/// # pool.find_unused_id(base + 1000).ok_or(ENOSPC)?.acquire();
/// # assert!(pool.is_consistent());
/// # assert_eq!(pool.find_unused_id(0).map(|id| id.as_usize()), Some(0));
/// # assert!(pool.find_unused_id(512 * 1024).is_none());
/// # assert_eq!(pool.used(), 64 * 64);
/// # Ok::<(), Error>(())
/// ```
///
/// Random operations checked against a simple model, on pools of up to three summary levels
/// (`2^19` ids) whose maximum capacities are not multiples of the word size: bursts of acquires
/// and of releases from random starts, and resizers committed in random order, some after the
/// pool changed:
///
/// ```
/// use core::cmp::{max, min};
/// use kernel::bitmap::BITS_PER_LONG as W;
/// use kernel::id_pool::{Grow, IdPool, PoolResizer, ReallocRequest, Shrink};
/// use kernel::time::Ktime;
///
/// struct XorShift(u64);
///
/// impl XorShift {
///     fn next(&mut self) -> usize {
///         self.0 ^= self.0 << 13;
///         self.0 ^= self.0 >> 7;
///         self.0 ^= self.0 << 17;
///         self.0 as usize
///     }
///
///     // A number below `n`, which is not zero.
///     fn below(&mut self, n: usize) -> usize {
///         self.next() % n
///     }
/// }
///
/// // The model: one bit per id in use, in plain words searched one at a time.
/// struct Model {
///     words: KVec<u64>,
///     used: usize,
/// }
///
/// impl Model {
///     fn get(&self, id: usize) -> bool {
///         (self.words[id / 64] >> (id % 64)) & 1 != 0
///     }
///
///     fn flip(&mut self, id: usize) {
///         self.words[id / 64] ^= 1 << (id % 64);
///         if self.get(id) {
///             self.used += 1;
///         } else {
///             self.used -= 1;
///         }
///     }
///
///     // The first id of `start..end` that is in use if `used`, unused otherwise.
///     fn next(&self, used: bool, start: usize, end: usize) -> Option<usize> {
///         let mut id = start;
///         while id < end {
///             let word = if used { self.words[id / 64] } else { !self.words[id / 64] };
///             let word = word >> (id % 64);
///             if word != 0 {
///                 let found = id + word.trailing_zeros() as usize;
///                 return (found < end).then_some(found);
///             }
///             id = (id / 64 + 1) * 64;
///         }
///         None
///     }
///
///     // The capacity `shrink_request()` should ask for, as documented.
///     fn shrink_target(&self, capacity: usize, floor: usize) -> Option<usize> {
///         if capacity <= floor {
///             None
///         } else if self.used == 0 {
///             Some(floor)
///         } else if self.next(true, capacity / 4, capacity).is_none() {
///             Some(max(capacity / 2, floor))
///         } else {
///             None
///         }
///     }
///
///     // Whether a search from `start` goes up to summary level 3: the ids from `start` to the
///     // end of its word, then to the end of the word of level 1 after it, then to the end of the
///     // word of level 2 after that, are in use or past the capacity.
///     fn climbs_to_level_3(&self, start: usize, capacity: usize) -> bool {
///         let end0 = (start / W + 1) * W;
///         let end1 = (end0 / (W * W) + 1) * (W * W);
///         let end2 = (end1 / (W * W * W) + 1) * (W * W * W);
///         capacity > W * W * W
///             && start < capacity
///             && self.next(false, start, min(end2, capacity)).is_none()
///     }
/// }
///
/// // A resizer kept for later, with its old and new capacities.
/// enum Pending<const N: usize> {
///     Grow(PoolResizer<Grow, N>, usize),
///     Shrink(PoolResizer<Shrink, N>, usize, usize),
/// }
///
/// struct Test<const N: usize> {
///     pool: IdPool<N>,
///     model: Model,
///     max: usize,
///     floor: usize,
///     pending: [Option<Pending<N>>; 4],
///     rng: XorShift,
///     last: usize,
///     // Searches that went up to level 3, commits found stale, the largest capacity.
///     deep: usize,
///     stale: usize,
///     largest: usize,
/// }
///
/// impl<const N: usize> Test<N> {
///     fn grow_request(&mut self) -> Option<ReallocRequest<Grow, N>> {
///         let capacity = self.pool.capacity();
///         let request = self.pool.grow_request();
///         let new = min(max(2 * capacity, W), self.max);
///         let expected = (capacity < self.max).then_some((capacity, new));
///         assert_eq!(request.map(|r| (r.old_capacity(), r.new_capacity())), expected);
///         request
///     }
///
///     // Commits `pending`, which applies only if the resize is still valid.
///     fn commit(&mut self, pending: Pending<N>) {
///         let capacity = self.pool.capacity();
///         let (applied, new) = match pending {
///             Pending::Grow(mut resizer, new) => {
///                 let applied = self.pool.grow(&mut resizer);
///                 assert_eq!(applied, new > capacity);
///                 // A resizer that was committed is spent.
///                 assert!(!self.pool.grow(&mut resizer));
///                 (applied, new)
///             }
///             Pending::Shrink(mut resizer, old, new) => {
///                 let applied = self.pool.shrink(&mut resizer);
///                 let wanted = self.model.shrink_target(capacity, self.floor);
///                 assert_eq!(applied, old == capacity && wanted == Some(new));
///                 assert!(!self.pool.shrink(&mut resizer));
///                 (applied, new)
///             }
///         };
///         if !applied {
///             self.stale += 1;
///         }
///         assert_eq!(self.pool.capacity(), if applied { new } else { capacity });
///         assert_eq!(self.pool.is_inline(), self.pool.capacity() <= self.floor);
///         assert!(self.pool.is_consistent());
///     }
///
///     // Keeps `pending` in a random slot, committing the resizer that was there.
///     fn keep(&mut self, pending: Pending<N>) {
///         let slot = self.rng.below(self.pending.len());
///         if let Some(previous) = self.pending[slot].replace(pending) {
///             self.commit(previous);
///         }
///     }
///
///     // Acquires `count` ids, each the lowest unused one at or after `start`, growing the pool
///     // when it has none. If `whims`, it may stop early: drop a reservation, or keep a resizer
///     // for later.
///     fn acquire(&mut self, start: usize, count: usize, whims: bool) -> Result {
///         let mut from = start;
///         let mut acquired = 0;
///         while acquired < count {
///             let capacity = self.pool.capacity();
///             // Every id from `start` to `from` is in use.
///             let expected = self.model.next(false, from, capacity);
///             if from == start && self.model.climbs_to_level_3(start, capacity) {
///                 self.deep += 1;
///             }
///             let unused = self.pool.find_unused_id(start);
///             assert_eq!(unused.as_ref().map(|id| id.as_usize()), expected);
///             if let Some(unused) = unused {
///                 if whims && self.rng.below(32) == 0 {
///                     return Ok(());
///                 }
///                 let id = unused.acquire();
///                 self.model.flip(id);
///                 self.last = id;
///                 from = id + 1;
///                 acquired += 1;
///             } else {
///                 let Some(request) = self.grow_request() else {
///                     return Ok(());
///                 };
///                 let mut resizer = request.realloc(GFP_KERNEL)?;
///                 if whims && self.rng.below(8) == 0 {
///                     self.keep(Pending::Grow(resizer, request.new_capacity()));
///                     return Ok(());
///                 }
///                 assert!(self.pool.grow(&mut resizer));
///             }
///         }
///         Ok(())
///     }
///
///     // Releases `count` ids in use from a random one on, or one random id.
///     fn release(&mut self, count: usize) {
///         let capacity = self.pool.capacity();
///         if count == 1 && self.rng.below(8) == 0 {
///             // Maybe not in use, or past the capacity.
///             let id = self.rng.below(capacity + 3);
///             if id < capacity && self.model.get(id) {
///                 assert_eq!(self.pool.release_id(id), Ok(()));
///                 self.model.flip(id);
///             } else {
///                 assert_eq!(self.pool.release_id(id), Err(EINVAL));
///             }
///             return;
///         }
///         let from = if self.rng.below(2) == 0 {
///             min(self.last.saturating_sub(self.rng.below(4 * W)), capacity)
///         } else {
///             self.rng.below(capacity + 1)
///         };
///         let mut next = self.model.next(true, from, capacity);
///         next = next.or_else(|| self.model.next(true, 0, from));
///         for _ in 0..count {
///             let Some(id) = next else {
///                 break;
///             };
///             assert_eq!(self.pool.release_id(id), Ok(()));
///             self.model.flip(id);
///             next = self.model.next(true, id + 1, capacity);
///         }
///     }
///
///     // Asks for a grow or a shrink, allocates, and commits now or keeps the resizer for later.
///     fn resize(&mut self) -> Result {
///         let capacity = self.pool.capacity();
///         if self.rng.below(2) == 0 {
///             if let Some(request) = self.grow_request() {
///                 let resizer = request.realloc(GFP_KERNEL)?;
///                 self.keep(Pending::Grow(resizer, request.new_capacity()));
///             }
///             return Ok(());
///         }
///         let request = self.pool.shrink_request();
///         let expected = self.model.shrink_target(capacity, self.floor);
///         assert_eq!(request.map(|r| r.new_capacity()), expected);
///         if let Some(request) = request {
///             assert_eq!(request.old_capacity(), capacity);
///             let resizer = request.realloc(GFP_KERNEL)?;
///             let pending = Pending::Shrink(resizer, capacity, request.new_capacity());
///             if self.rng.below(2) == 0 {
///                 self.commit(pending);
///             } else {
///                 self.keep(pending);
///             }
///         }
///         Ok(())
///     }
///
///     // A start for a search: often near the last id acquired, or just below the end of a word
///     // of level 0, 1 or 2, up to which the pool may be full.
///     fn start(&mut self) -> usize {
///         let capacity = self.pool.capacity();
///         match self.rng.below(8) {
///             0 => 0,
///             1 => self.last,
///             2 => self.last.saturating_sub(self.rng.below(W)),
///             3 | 4 => {
///                 let span = W.pow(1 + self.rng.below(3) as u32);
///                 let end = (self.rng.below(capacity + 1) / span + 1) * span;
///                 end.saturating_sub(1 + self.rng.below(2 * span / W))
///             }
///             5 | 6 => self.rng.below(capacity + 1),
///             _ => self.rng.below(2 * capacity + 8),
///         }
///     }
///
///     // A burst of up to `W * 128` ids, one time in eight.
///     fn count(&mut self) -> usize {
///         if self.rng.below(8) == 0 {
///             let most = W << self.rng.below(8);
///             1 + self.rng.below(most)
///         } else {
///             1
///         }
///     }
/// }
///
/// // Returns the number of searches that went up to level 3, the number of stale commits, and the
/// // largest capacity.
/// fn check<const N: usize>(max_ids: usize, seed: u64, ops: usize) -> Result<[usize; 3]> {
///     // In a box: with large inline bitmaps, the pool and the resizers are large.
///     let test = Test {
///         pool: IdPool::<N>::with_max(max_ids),
///         model: Model {
///             words: KVec::from_elem(0, max_ids.div_ceil(64), GFP_KERNEL)?,
///             used: 0,
///         },
///         max: max_ids,
///         floor: min(IdPool::<N>::INLINE_CAPACITY, max_ids),
///         pending: [None, None, None, None],
///         rng: XorShift(seed),
///         last: 0,
///         deep: 0,
///         stale: 0,
///         largest: 0,
///     };
///     let mut t = KBox::new(test, GFP_KERNEL)?;
///     let cube = W * W * W;
///     if max_ids > cube + W {
///         // Ids from just below the end of the first word of level 2 to just past it, then id 0:
///         // a search from inside the first ids goes up to level 3, and down to the first unused
///         // id past them.
///         t.acquire(cube - 2 * W * W, 2 * W * W + W, false)?;
///         t.acquire(0, 1, false)?;
///         t.acquire(cube - 2 * W * W + 5, 1, false)?;
///         assert_eq!((t.deep, t.last), (1, cube + W));
///         assert!(t.pool.is_consistent());
///     }
///     for op in 0..ops {
///         let capacity = t.pool.capacity();
///         // Phases that mostly acquire alternate with phases that mostly release.
///         let acquiring = (op / 250) % 2 == 0;
///         let kind = t.rng.below(16);
///         if kind < 2 {
///             t.resize()?;
///         } else if kind < 3 {
///             let slots = t.pending.len();
///             let slot = t.rng.below(slots);
///             if let Some(pending) = t.pending[slot].take() {
///                 t.commit(pending);
///             }
///         } else if (kind < 12) == acquiring {
///             let (start, count) = (t.start(), t.count());
///             t.acquire(start, count, true)?;
///         } else {
///             let count = t.count();
///             t.release(count);
///         }
///         assert_eq!(t.pool.used(), t.model.used);
///         if capacity <= 4096 || op % 32 == 0 {
///             assert!(t.pool.is_consistent());
///         }
///         t.largest = max(t.largest, t.pool.capacity());
///     }
///     for slot in 0..t.pending.len() {
///         if let Some(pending) = t.pending[slot].take() {
///             t.commit(pending);
///         }
///     }
///     Ok([t.deep, t.stale, t.largest])
/// }
///
/// // Three levels, and maximum capacities that are not multiples of the word size.
/// let begin = Ktime::ktime_get();
/// let [deep, stale, largest] = check::<1>((1 << 19) - 37, 1, 3000)?;
/// let ms = (Ktime::ktime_get() - begin).to_ms();
/// pr_info!("id_pool: {deep} searches up to level 3, {stale} stale commits, {ms} ms\n");
/// assert!(largest > W * W * W && deep > 0 && stale > 0);
/// let [_, stale, largest] = check::<2>(70_001, 2, 2000)?;
/// assert!(largest > W * W && stale > 0);
/// let [_, stale, largest] = check::<65>(5000, 4, 1000)?;
/// assert!(largest == 5000 && stale > 0);
/// let [_, stale, largest] = check::<0>(1000, 3, 1500)?;
/// assert!(largest == 1000 && stale > 0);
/// let [_, stale, largest] = check::<1>(100, 5, 1000)?;
/// assert!(largest == 100 && stale > 0);
/// # Ok::<(), Error>(())
/// ```
///
/// Several threads sharing a pool, which grows and shrinks while they race:
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering};
/// use kernel::bitmap::BitmapVec;
/// use kernel::id_pool::{alloc_id_locked, release_id_locked, IdPool};
/// use kernel::sync::{new_condvar, new_mutex, new_spinlock, Arc, CondVar, Mutex, SpinLock};
/// use kernel::workqueue;
///
/// const THREADS: usize = 4;
/// const ROUNDS: usize = 6;
/// const BURST: usize = 200;
/// const MAX: usize = 4096;
///
/// #[pin_data]
/// struct Shared {
///     #[pin]
///     pool: SpinLock<IdPool>,
///     // The ids held by the threads, to check that none is handed out twice.
///     held: BitmapVec,
///     // Grows and shrinks that a thread found stale at commit time.
///     stale: AtomicUsize,
///     failed: AtomicUsize,
///     #[pin]
///     done: Mutex<usize>,
///     #[pin]
///     done_changed: CondVar,
/// }
///
/// // Sleeps a little, so that other threads run even on a uniprocessor.
/// fn nap(shared: &Shared) {
///     shared.done_changed.wait_interruptible_timeout(&mut shared.done.lock(), 1);
/// }
///
/// // The handshake by hand, napping without the lock and counting stale commits.
/// fn alloc_by_hand(shared: &Shared, start: usize) -> Result<usize> {
///     let mut leftover = None;
///     let mut pool = shared.pool.lock();
///     let result = loop {
///         if let Some(unused) = pool.find_unused_id(start) {
///             break Ok(unused.acquire());
///         }
///         let Some(request) = pool.grow_request() else {
///             break Err(ENOSPC);
///         };
///         drop(pool);
///         drop(leftover.take());
///         nap(shared);
///         let resizer = request.realloc(GFP_KERNEL);
///         pool = shared.pool.lock();
///         let Ok(mut resizer) = resizer else {
///             break Err(ENOMEM);
///         };
///         if !pool.grow(&mut resizer) {
///             shared.stale.fetch_add(1, Ordering::Relaxed);
///         }
///         leftover = Some(resizer);
///     };
///     drop(pool);
///     drop(leftover);
///     result
/// }
///
/// fn release_by_hand(shared: &Shared, id: usize) -> Result {
///     let mut pool = shared.pool.lock();
///     pool.release_id(id)?;
///     if let Some(request) = pool.shrink_request() {
///         drop(pool);
///         nap(shared);
///         // Shrinking is optional: ignore allocation failures.
///         if let Ok(mut resizer) = request.realloc(GFP_KERNEL) {
///             if !shared.pool.lock().shrink(&mut resizer) {
///                 shared.stale.fetch_add(1, Ordering::Relaxed);
///             }
///         }
///     }
///     Ok(())
/// }
///
/// fn run(shared: &Shared, mut seed: u64, by_hand: bool) -> Result {
///     for _ in 0..ROUNDS {
///         let mut mine = KVec::with_capacity(BURST, GFP_KERNEL)?;
///         for _ in 0..BURST {
///             seed ^= seed << 13;
///             seed ^= seed >> 7;
///             seed ^= seed << 17;
///             let start = (seed % 256) as usize;
///             let id = if by_hand {
///                 alloc_by_hand(shared, start)?
///             } else {
///                 alloc_id_locked(&mut shared.pool.lock(), |pool| pool, start, GFP_KERNEL)?
///             };
///             if id < start || shared.held.test_and_set_bit_atomic(id)? {
///                 return Err(EINVAL);
///             }
///             mine.push(id, GFP_KERNEL)?;
///         }
///         for &id in mine.iter() {
///             if !shared.held.test_and_clear_bit_atomic(id)? {
///                 return Err(EINVAL);
///             }
///             if by_hand {
///                 release_by_hand(shared, id)?;
///             } else {
///                 release_id_locked(&mut shared.pool.lock(), |pool| pool, id, GFP_KERNEL)?;
///             }
///         }
///     }
///     Ok(())
/// }
///
/// // Runs the threads on a new pool; returns the number of stale commits.
/// fn race() -> Result<usize> {
///     let held_ids = BitmapVec::new(MAX, GFP_KERNEL)?;
///     let shared = Arc::pin_init(
///         pin_init!(Shared {
///             pool <- new_spinlock!(IdPool::with_max(MAX)),
///             held: held_ids,
///             stale: AtomicUsize::new(0),
///             failed: AtomicUsize::new(0),
///             done <- new_mutex!(0),
///             done_changed <- new_condvar!(),
///         }),
///         GFP_KERNEL,
///     )?;
///     let mut started = 0;
///     for i in 0..THREADS {
///         let shared = shared.clone();
///         let spawned = workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
///             let seed = 0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i as u64 + 1);
///             if run(&shared, seed, i % 2 == 1).is_err() {
///                 shared.failed.fetch_add(1, Ordering::Relaxed);
///             }
///             *shared.done.lock() += 1;
///             shared.done_changed.notify_all();
///         });
///         if spawned.is_ok() {
///             started += 1;
///         }
///     }
///     let mut done = shared.done.lock();
///     while *done < started {
///         shared.done_changed.wait(&mut done);
///     }
///     drop(done);
///     assert_eq!(started, THREADS);
///     assert_eq!(shared.failed.load(Ordering::Relaxed), 0);
///     assert_eq!(shared.held.weight(), 0);
///     let pool = shared.pool.lock();
///     assert_eq!(pool.used(), 0);
///     assert_eq!(pool.capacity(), IdPool::<1>::INLINE_CAPACITY);
///     assert!(pool.is_inline());
///     assert!(pool.is_consistent());
///     Ok(shared.stale.load(Ordering::Relaxed))
/// }
///
/// // A stale commit happens only if another thread changed the pool between the request and
/// // the commit of a thread: it proves that the threads raced. Scheduling decides whether they
/// // do, so try again a few times.
/// let mut stale = 0;
/// for attempt in 1..=5 {
///     stale = race()?;
///     pr_info!("id_pool: attempt {}: {} stale resizes\n", attempt, stale);
///     if stale > 0 {
///         break;
///     }
/// }
/// assert!(stale > 0);
/// # Ok::<(), Error>(())
/// ```
pub struct IdPool<const INLINE_WORDS: usize = 1> {
    ids: BitmapVec<INLINE_WORDS>,
    summary: BitmapVec<INLINE_WORDS>,
    capacity: usize,
    max: usize,
    used: usize,
    high: usize,
}

impl<const INLINE_WORDS: usize> IdPool<INLINE_WORDS> {
    /// The number of ids that the pool holds without allocating memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BITS_PER_LONG;
    /// use kernel::id_pool::IdPool;
    ///
    /// assert_eq!(IdPool::<1>::INLINE_CAPACITY, BITS_PER_LONG);
    /// assert_eq!(IdPool::<3>::INLINE_CAPACITY, 3 * BITS_PER_LONG);
    /// ```
    pub const INLINE_CAPACITY: usize = INLINE_WORDS * BITS_PER_LONG;

    /// Creates an empty pool whose maximum capacity is [`MAX_CAPACITY`].
    ///
    /// Its capacity is [`INLINE_CAPACITY`](IdPool::INLINE_CAPACITY); it does not allocate.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let pool: IdPool = IdPool::new();
    /// assert_eq!(pool.capacity(), IdPool::<1>::INLINE_CAPACITY);
    /// assert_eq!(pool.used(), 0);
    /// assert!(pool.is_inline());
    ///
    /// // A pool with no inline capacity starts empty, and must grow before handing out ids.
    /// let mut pool = IdPool::<0>::new();
    /// assert_eq!(pool.capacity(), 0);
    /// assert!(pool.find_unused_id(0).is_none());
    /// # assert!(pool.shrink_request().is_none());
    /// # assert_eq!(pool.release_id(0), Err(EINVAL));
    /// # assert!(pool.is_consistent());
    /// let mut resizer = pool.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
    /// assert!(pool.grow(&mut resizer));
    /// assert_eq!(pool.capacity(), kernel::bitmap::BITS_PER_LONG);
    /// assert_eq!(pool.find_unused_id(0).ok_or(ENOSPC)?.acquire(), 0);
    /// # assert!(pool.is_consistent());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new() -> Self {
        Self::with_max(MAX_CAPACITY)
    }

    /// Creates an empty pool that never grows past `max` ids.
    ///
    /// A `max` above [`MAX_CAPACITY`] is lowered to it. The pool starts at its inline capacity,
    /// or at `max` if that is lower, and does not allocate.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::with_max(100);
    /// let mut resizer = pool.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
    /// assert!(pool.grow(&mut resizer));
    /// assert_eq!(pool.capacity(), 100);
    /// assert!(pool.grow_request().is_none());
    ///
    /// assert_eq!(IdPool::<2>::with_max(10).capacity(), 10);
    /// assert_eq!(IdPool::<1>::with_max(usize::MAX).max_capacity(), kernel::id_pool::MAX_CAPACITY);
    /// # let mut pool = IdPool::<1>::with_max(0);
    /// # assert_eq!(pool.capacity(), 0);
    /// # assert!(pool.grow_request().is_none());
    /// # assert!(pool.find_unused_id(0).is_none());
    /// # assert!(pool.is_consistent());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_max(max: usize) -> Self {
        let max = min(max, MAX_CAPACITY);
        let layout = Layout::new(min(Self::INLINE_CAPACITY, max));
        let mut pool = Self {
            ids: new_inline(layout.ids_bits()),
            summary: new_inline(layout.summary_bits()),
            capacity: layout.capacity,
            max,
            used: 0,
            high: 0,
        };
        // INVARIANT: There are `bits_to_longs(capacity) <= INLINE_WORDS` words of ids. A summary
        // level has at most half as many words as the level below it, so there are fewer
        // summary words than words of ids: nothing was clamped. With no id in use, only the bits
        // past the end of each level must be set.
        let ids = &mut pool.ids;
        warn_on_once!(ids.set_range(layout.capacity..layout.ids_bits()).is_err());
        let summary = &mut pool.summary;
        for level in 1..=layout.depth {
            let start = layout.start(level) * BITS_PER_LONG;
            let end = start + layout.words(level) * BITS_PER_LONG;
            let past_end = start + layout.words(level - 1)..end;
            warn_on_once!(summary.set_range(past_end).is_err());
        }
        pool
    }

    /// Creates an empty pool whose capacity is at least `num_ids`, and whose maximum capacity is
    /// [`MAX_CAPACITY`].
    ///
    /// The capacity is `num_ids` rounded up to a multiple of [`BITS_PER_LONG`], but at least the
    /// inline capacity and at most [`MAX_CAPACITY`]; it takes one allocation with `flags` if it
    /// is larger than the inline capacity. The pool shrinks as any other when ids are released
    /// (see [`shrink_request`](IdPool::shrink_request)).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::with_capacity(1000, GFP_KERNEL)?;
    /// assert_eq!(pool.capacity(), 1024);
    /// assert_eq!(pool.acquire_next_id(900), Some(900));
    /// assert_eq!(IdPool::<1>::with_capacity(10, GFP_KERNEL)?.capacity(), 64);
    /// # assert!(pool.is_consistent());
    /// # let pool = IdPool::<2>::with_capacity(129, GFP_KERNEL)?;
    /// # assert_eq!((pool.capacity(), pool.max_capacity()), (192, kernel::id_pool::MAX_CAPACITY));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_capacity(num_ids: usize, flags: Flags) -> Result<Self, AllocError> {
        let mut pool = Self::new();
        let target = min(num_ids, MAX_CAPACITY).div_ceil(BITS_PER_LONG) * BITS_PER_LONG;
        if target > pool.capacity {
            let request = ReallocRequest::<Grow, INLINE_WORDS>::new(pool.capacity, target);
            let mut resizer = request.realloc(flags)?;
            // Applies: the new capacity is larger, and not past the maximum.
            pool.grow(&mut resizer);
        }
        Ok(pool)
    }

    /// Returns the number of ids the pool can hold now: ids are below it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// let capacity = pool.capacity();
    /// assert!(pool.find_unused_id(capacity - 1).is_some());
    /// assert!(pool.find_unused_id(capacity).is_none());
    /// ```
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Returns the capacity past which the pool does not grow.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// assert_eq!(IdPool::<1>::with_max(1000).max_capacity(), 1000);
    /// ```
    #[inline]
    pub fn max_capacity(&self) -> usize {
        self.max
    }

    /// Returns the number of ids in use.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// pool.find_unused_id(5).ok_or(ENOSPC)?.acquire();
    /// assert_eq!(pool.used(), 1);
    /// // Finding an id without acquiring it leaves it unused.
    /// assert_eq!(pool.find_unused_id(0).map(|id| id.as_usize()), Some(0));
    /// assert_eq!(pool.used(), 1);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn used(&self) -> usize {
        self.used
    }

    /// Returns whether the pool holds no allocated memory.
    ///
    /// This is the case of a pool at its inline capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// assert!(pool.is_inline());
    /// let mut resizer = pool.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
    /// assert!(pool.grow(&mut resizer));
    /// assert!(!pool.is_inline());
    /// // The pool is empty: it may shrink back to its inline capacity.
    /// let mut resizer = pool.shrink_request().ok_or(EINVAL)?.realloc(GFP_KERNEL)?;
    /// assert!(pool.shrink(&mut resizer));
    /// assert!(pool.is_inline());
    /// # // A pool larger than one summary word is inline too.
    /// # let mut large = IdPool::<65>::new();
    /// # for expected in 0..65 * 64 {
    /// #     assert_eq!(large.find_unused_id(0).ok_or(ENOSPC)?.acquire(), expected);
    /// # }
    /// # assert!(large.find_unused_id(0).is_none());
    /// # assert!(large.is_inline());
    /// # assert!(large.is_consistent());
    /// # large.release_id(4000)?;
    /// # assert_eq!(large.find_unused_id(1).map(|id| id.as_usize()), Some(4000));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn is_inline(&self) -> bool {
        self.ids.is_inline() && self.summary.is_inline()
    }

    /// Returns read access to the levels, for a whole operation.
    #[inline]
    fn levels(&self) -> Levels<'_> {
        Levels {
            ids: &self.ids,
            summary: &self.summary,
            layout: Layout::new(self.capacity),
        }
    }

    /// Returns write access to the levels, for a whole operation.
    #[inline]
    fn levels_mut(&mut self) -> LevelsMut<'_> {
        LevelsMut {
            ids: &mut self.ids,
            summary: &mut self.summary,
            layout: Layout::new(self.capacity),
        }
    }

    /// Returns the lowest unused id at or after `start`, if any below the capacity.
    fn find_from(&self, start: usize) -> Option<usize> {
        let levels = self.levels();
        let layout = levels.layout;
        if start >= layout.capacity {
            return None;
        }
        // Go up until a level has a non-full word at or after the position of `start`. At level
        // 0, `pos` is `start`; at level `k > 0`, it is the index of the first word of level
        // `k - 1` not checked yet, the one after the word that was found full.
        let mut level = 0;
        let mut pos = start;
        let (mut index, mut word) = loop {
            let index = pos / BITS_PER_LONG;
            // The bits below `pos` count as set.
            let word = levels.word(level, index) | !(usize::MAX << (pos % BITS_PER_LONG));
            if word != usize::MAX {
                break (index, word);
            }
            if level >= layout.depth {
                return None;
            }
            level += 1;
            pos = index + 1;
        };
        // Go down, taking the first zero bit at each level: it marks a non-full word below.
        loop {
            let bit = index * BITS_PER_LONG + word.trailing_ones() as usize;
            if level == 0 {
                return (bit < layout.capacity).then_some(bit);
            }
            level -= 1;
            index = bit;
            word = levels.word(level, index);
            // The zero bit of the level above says that this word is not full.
            if warn_on_once!(word == usize::MAX) {
                return None;
            }
        }
    }

    /// Marks the unused id `id`, which is below the capacity, as in use.
    fn mark_used(&mut self, id: usize) {
        let mut levels = self.levels_mut();
        let old = levels.assign(0, id, true);
        // The caller passes an unused id.
        warn_on_once!(old & (1 << (id % BITS_PER_LONG)) != 0);
        if old | (1 << (id % BITS_PER_LONG)) == usize::MAX && old != usize::MAX {
            levels.summarize(id / BITS_PER_LONG, true);
        }
        // INVARIANT: One more id is in use, counted in `high` if it is high. If the word of `id`
        // has just become full, the summary levels now count it as full.
        self.used += 1;
        if id >= self.capacity / 4 {
            self.high += 1;
        }
    }

    /// Finds the lowest unused id at or after `start`.
    ///
    /// Returns [`None`] if every id from `start` up to the capacity is in use, in particular if
    /// `start` is at or past the capacity: the caller may then grow the pool (see
    /// [`grow_request`](IdPool::grow_request)) and try again.
    ///
    /// The id is only marked in use by [`UnusedId::acquire`]. Until then, the reservation
    /// borrows the pool, so the caller may do fallible work, such as inserting the id in another
    /// data structure, and drop the reservation on failure, leaving the id unused.
    ///
    /// This takes `O(log64(capacity))` word operations.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// for _ in 0..4 {
    ///     pool.find_unused_id(0).ok_or(ENOSPC)?.acquire();
    /// }
    /// pool.release_id(1)?;
    /// assert_eq!(pool.find_unused_id(0).map(|id| id.as_usize()), Some(1));
    /// assert_eq!(pool.find_unused_id(2).map(|id| id.as_usize()), Some(4));
    /// assert!(pool.find_unused_id(usize::MAX).is_none());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn find_unused_id(&mut self, start: usize) -> Option<UnusedId<'_, INLINE_WORDS>> {
        let id = self.find_from(start)?;
        // INVARIANT: The search returns an unused id below the capacity.
        Some(UnusedId { pool: self, id })
    }

    /// Acquires the lowest unused id at or after `offset`, and returns it.
    ///
    /// This is [`find_unused_id`](IdPool::find_unused_id) then [`UnusedId::acquire`], for callers
    /// that have nothing to do in between. Returns [`None`] if every id from `offset` up to the
    /// capacity is in use: the caller may then grow the pool and try again.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// assert_eq!(pool.acquire_next_id(62), Some(62));
    /// assert_eq!(pool.acquire_next_id(62), Some(63));
    /// assert_eq!(pool.acquire_next_id(62), None);
    /// assert_eq!(pool.used(), 2);
    /// ```
    #[inline]
    pub fn acquire_next_id(&mut self, offset: usize) -> Option<usize> {
        self.find_unused_id(offset).map(UnusedId::acquire)
    }

    /// Marks id `id` as unused.
    ///
    /// Returns [`EINVAL`] if `id` is not in use, in particular if it is at or past the capacity
    /// or was already released; the pool is then unchanged. This takes `O(log64(capacity))` word
    /// operations.
    ///
    /// The pool may then be shrunk, see [`shrink_request`](IdPool::shrink_request).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// let id = pool.find_unused_id(0).ok_or(ENOSPC)?.acquire();
    /// assert_eq!(pool.release_id(id), Ok(()));
    /// assert_eq!(pool.release_id(id), Err(EINVAL));
    /// assert_eq!(pool.release_id(pool.capacity()), Err(EINVAL));
    /// assert_eq!(pool.used(), 0);
    /// # // A full pool of three levels: releases from two words, then searches from below,
    /// # // between and past them.
    /// # let mut pool = IdPool::<1>::new();
    /// # while pool.capacity() < 2 * 64 * 64 {
    /// #     let mut resizer = pool.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
    /// #     assert!(pool.grow(&mut resizer));
    /// # }
    /// # for expected in 0..pool.capacity() {
    /// #     assert_eq!(pool.find_unused_id(0).ok_or(ENOSPC)?.acquire(), expected);
    /// # }
    /// # let find = |pool: &mut IdPool, start| pool.find_unused_id(start).map(|id| id.as_usize());
    /// # pool.release_id(5000)?;
    /// # pool.release_id(100)?;
    /// # assert!(pool.is_consistent());
    /// # assert_eq!(find(&mut pool, 0), Some(100));
    /// # assert_eq!(find(&mut pool, 101), Some(5000));
    /// # assert_eq!(find(&mut pool, 5001), None);
    /// # assert_eq!(pool.find_unused_id(0).ok_or(ENOSPC)?.acquire(), 100);
    /// # assert_eq!(pool.find_unused_id(0).ok_or(ENOSPC)?.acquire(), 5000);
    /// # assert_eq!(find(&mut pool, 0), None);
    /// # assert!(pool.is_consistent());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn release_id(&mut self, id: usize) -> Result {
        if id >= self.capacity {
            return Err(EINVAL);
        }
        let mut levels = self.levels_mut();
        // One read-modify-write of level 0 tells both whether `id` was in use and whether its
        // word was full. Clearing a bit that is clear leaves the word as it was.
        let old = levels.assign(0, id, false);
        if old & (1 << (id % BITS_PER_LONG)) == 0 {
            return Err(EINVAL);
        }
        if old == usize::MAX {
            // INVARIANT: The word of `id` is no longer full: the summary levels now say so.
            levels.summarize(id / BITS_PER_LONG, false);
        }
        // INVARIANT: One fewer id is in use. The counters are not zero as `id` was in use.
        self.used -= 1;
        if id >= self.capacity / 4 {
            self.high -= 1;
        }
        Ok(())
    }

    /// Returns the capacity below which the pool does not shrink.
    fn floor(&self) -> usize {
        min(Self::INLINE_CAPACITY, self.max)
    }

    /// Asks to double the capacity of the pool.
    ///
    /// Returns [`None`] if the pool is at its maximum capacity: the caller should then fail with
    /// `ENOSPC`. Otherwise, the new capacity is twice the current one (or one word for an empty
    /// pool), but at most the maximum capacity. This takes `O(1)` time.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let pool = IdPool::<1>::with_max(100);
    /// let request = pool.grow_request().ok_or(ENOSPC)?;
    /// assert_eq!(request.old_capacity(), 64);
    /// assert_eq!(request.new_capacity(), 100);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn grow_request(&self) -> Option<ReallocRequest<Grow, INLINE_WORDS>> {
        let capacity = self.capacity;
        if capacity >= self.max {
            return None;
        }
        let target = min(max(capacity.saturating_mul(2), BITS_PER_LONG), self.max);
        Some(ReallocRequest::new(capacity, target))
    }

    /// Asks to shrink the pool, if it should.
    ///
    /// The pool shrinks to its inline capacity (or maximum capacity if lower) if no id is in use,
    /// and to half its capacity (but not below the inline one) if every id in use is below a
    /// quarter of its capacity. Otherwise, or if the pool is at its inline capacity already, this
    /// returns [`None`]. This takes `O(1)` time.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// for _ in 0..3 {
    ///     let mut resizer = pool.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
    ///     pool.grow(&mut resizer);
    /// }
    /// assert_eq!(pool.capacity(), 512);
    ///
    /// let id = pool.find_unused_id(128).ok_or(ENOSPC)?.acquire();
    /// assert!(pool.shrink_request().is_none());
    /// pool.release_id(id)?;
    /// pool.find_unused_id(127).ok_or(ENOSPC)?.acquire();
    /// let request = pool.shrink_request().ok_or(EINVAL)?;
    /// assert_eq!((request.old_capacity(), request.new_capacity()), (512, 256));
    ///
    /// pool.release_id(127)?;
    /// let request = pool.shrink_request().ok_or(EINVAL)?;
    /// assert_eq!(request.new_capacity(), 64);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn shrink_request(&self) -> Option<ReallocRequest<Shrink, INLINE_WORDS>> {
        let capacity = self.capacity;
        let floor = self.floor();
        if capacity <= floor {
            return None;
        }
        let target = if self.used == 0 {
            floor
        } else if self.high == 0 {
            max(capacity / 2, floor)
        } else {
            return None;
        };
        Some(ReallocRequest::new(capacity, target))
    }

    /// Moves the ids into the bitmaps of `resizer`, and its bitmaps into the pool.
    ///
    /// Every id in use must be below the new capacity and the resizer not spent.
    fn install<K>(&mut self, resizer: &mut PoolResizer<K, INLINE_WORDS>) {
        let old = Layout::new(self.capacity);
        let new = Layout::new(resizer.request.new);
        let ids = &mut resizer.ids;
        ids.copy_and_extend(&self.ids);
        let len = ids.len();
        // Clear the bits past the old capacity, then set those past the new one. The ranges are
        // inside the bitmap.
        let cleared = ids.clear_range(min(min(old.capacity, new.capacity), len)..len);
        let set = ids.set_range(min(new.capacity, len)..len);
        warn_on_once!(cleared.is_err() || set.is_err());
        let ids = &resizer.ids;
        let summary = &mut resizer.summary;
        summary.zero();
        for level in 1..=new.depth {
            let base = new.start(level) * BITS_PER_LONG;
            let below = new.words(level - 1);
            let below_start = new.start(level - 1);
            for index in 0..below {
                let word = if level == 1 {
                    ids.word(index)
                } else {
                    summary.word(below_start + index)
                };
                // The bits are inside the summary bitmap of the layout.
                if word == Some(usize::MAX) {
                    warn_on_once!(summary.set_bit(base + index).is_err());
                }
            }
            let past_end = summary.set_range(base + below..base + new.words(level) * BITS_PER_LONG);
            warn_on_once!(past_end.is_err());
        }
        let high = count_range(ids, new.capacity / 4, new.capacity);
        swap(&mut self.ids, &mut resizer.ids);
        swap(&mut self.summary, &mut resizer.summary);
        // INVARIANT: The bitmaps now have the layout of the new capacity, with the same ids in
        // use, which are below it, and the summary levels rebuilt from them; `used` is
        // unchanged and `high` recounted. The new capacity is between the floor and the
        // maximum, as checked by the callers.
        self.capacity = new.capacity;
        self.high = high;
        // INVARIANT: The resizer holds the previous bitmaps of the pool now: it is spent.
        resizer.spent = true;
    }

    /// Commits a grow: moves the ids into the larger bitmaps of `resizer`.
    ///
    /// The resizer comes from [`grow_request`](IdPool::grow_request): a resizer from
    /// [`shrink_request`](IdPool::shrink_request) is a [`PoolResizer<Shrink>`], another type,
    /// which this does not accept.
    ///
    /// It does nothing and returns `false` if the resize is no longer valid: if the pool has
    /// reached the new capacity of the resizer in the meantime (another thread grew it), if the
    /// new capacity is past the maximum capacity of the pool, or if the resizer was committed
    /// already. Otherwise it returns `true`, and the resizer then holds the previous bitmaps of
    /// the pool.
    ///
    /// It cannot fail and does not allocate. It takes `O(capacity / 64)` word operations. Either
    /// way, the resizer holds memory to free: if the pool is protected by a spinlock, drop the
    /// resizer after releasing it, as freeing memory from `vmalloc()` may sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// let id = pool.find_unused_id(63).ok_or(ENOSPC)?.acquire();
    /// let first = pool.grow_request().ok_or(ENOSPC)?;
    /// let second = pool.grow_request().ok_or(ENOSPC)?;
    /// let mut first = first.realloc(GFP_KERNEL)?;
    /// let mut second = second.realloc(GFP_KERNEL)?;
    ///
    /// assert!(pool.grow(&mut first));
    /// // The second request was for the same capacity: it is stale.
    /// assert!(!pool.grow(&mut second));
    /// // A committed resizer cannot be committed again.
    /// assert!(!pool.grow(&mut first));
    /// assert_eq!(pool.capacity(), 128);
    /// assert_eq!(pool.release_id(id), Ok(()));
    /// # assert!(pool.is_consistent());
    /// # // A resizer past the maximum of the pool, from another pool, is refused.
    /// # let mut small = IdPool::<1>::with_max(100);
    /// # let mut resizer = IdPool::<1>::new().grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
    /// # assert!(!small.grow(&mut resizer));
    /// # assert_eq!(small.capacity(), 64);
    /// # assert!(small.is_consistent());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn grow(&mut self, resizer: &mut PoolResizer<Grow, INLINE_WORDS>) -> bool {
        let target = resizer.request.new;
        if resizer.spent || target <= self.capacity || target > self.max {
            return false;
        }
        self.install(resizer);
        true
    }

    /// Commits a shrink: moves the ids into the smaller bitmaps of `resizer`.
    ///
    /// The resizer comes from [`shrink_request`](IdPool::shrink_request): a resizer from
    /// [`grow_request`](IdPool::grow_request) is a [`PoolResizer<Grow>`], another type, which
    /// this does not accept.
    ///
    /// It does nothing and returns `false` if the resize is no longer what
    /// [`shrink_request`](IdPool::shrink_request) would ask now: if the capacity changed in the
    /// meantime (another thread resized the pool), if ids were acquired or released so that the
    /// pool should not shrink or should shrink to another capacity, or if the resizer was
    /// committed already. Hence it never drops an id in use. Otherwise it returns `true`, and
    /// the resizer then holds the previous bitmaps of the pool.
    ///
    /// It cannot fail and does not allocate. It takes `O(capacity / 64)` word operations. Either
    /// way, the resizer holds memory to free: if the pool is protected by a spinlock, drop the
    /// resizer after releasing it, as freeing memory from `vmalloc()` may sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// let mut resizer = pool.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
    /// assert!(pool.grow(&mut resizer));
    /// let request = pool.shrink_request().ok_or(EINVAL)?;
    /// let mut resizer = request.realloc(GFP_KERNEL)?;
    ///
    /// // An id is acquired before the commit: the pool is no longer empty, so the commit
    /// // does nothing.
    /// let id = pool.find_unused_id(100).ok_or(ENOSPC)?.acquire();
    /// assert!(!pool.shrink(&mut resizer));
    /// assert_eq!(pool.capacity(), 128);
    ///
    /// pool.release_id(id)?;
    /// let mut resizer = pool.shrink_request().ok_or(EINVAL)?.realloc(GFP_KERNEL)?;
    /// assert!(pool.shrink(&mut resizer));
    /// assert_eq!(pool.capacity(), 64);
    /// assert!(pool.is_inline());
    /// # assert!(!pool.shrink(&mut resizer));
    /// # assert!(pool.is_consistent());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn shrink(&mut self, resizer: &mut PoolResizer<Shrink, INLINE_WORDS>) -> bool {
        if resizer.spent || self.shrink_request() != Some(resizer.request) {
            return false;
        }
        self.install(resizer);
        true
    }

    /// Checks the internal consistency of the pool.
    ///
    /// Returns whether the bitmaps, the summary levels and the counters agree. The pool keeps
    /// them consistent, so this returns `true`, unless its memory was corrupted. It takes
    /// `O(capacity / 64)` word operations: it is meant for tests and debugging.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<2>::new();
    /// pool.find_unused_id(3).ok_or(ENOSPC)?.acquire();
    /// assert!(pool.is_consistent());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn is_consistent(&self) -> bool {
        let capacity = self.capacity;
        let layout = Layout::new(capacity);
        let ids = &self.ids;
        let summary = &self.summary;
        if capacity < self.floor()
            || capacity > self.max
            || self.max > MAX_CAPACITY
            || ids.len() != layout.ids_bits()
            || summary.len() != layout.summary_bits()
            || ids.next_zero_bit(capacity).is_some()
            || count_range(ids, 0, capacity) != self.used
            || count_range(ids, capacity / 4, capacity) != self.high
        {
            return false;
        }
        let levels = self.levels();
        for level in 1..=layout.depth {
            let below = layout.words(level - 1);
            for bit in 0..layout.words(level) * BITS_PER_LONG {
                let expected = bit >= below || levels.word(level - 1, bit) == usize::MAX;
                let word = levels.word(level, bit / BITS_PER_LONG);
                if (word >> (bit % BITS_PER_LONG)) & 1 != usize::from(expected) {
                    return false;
                }
            }
        }
        true
    }
}

impl<const INLINE_WORDS: usize> Default for IdPool<INLINE_WORDS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const INLINE_WORDS: usize> fmt::Debug for IdPool<INLINE_WORDS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdPool")
            .field("capacity", &self.capacity)
            .field("max_capacity", &self.max)
            .field("used", &self.used)
            .finish()
    }
}

/// An unused id of a pool, found by [`IdPool::find_unused_id`].
///
/// [`acquire`](UnusedId::acquire) marks it in use. Dropping it leaves it unused. While it exists,
/// it borrows the pool mutably, so the id stays unused.
///
/// # Invariants
///
/// `id` is below the capacity of `pool` and not in use.
///
/// # Examples
///
/// ```
/// use kernel::id_pool::IdPool;
///
/// let mut pool = IdPool::<1>::new();
/// let unused = pool.find_unused_id(0).ok_or(ENOSPC)?;
/// // Do fallible work with `unused.as_usize()`, then:
/// let id = unused.acquire();
/// assert_eq!(id, 0);
/// # Ok::<(), Error>(())
/// ```
pub struct UnusedId<'pool, const INLINE_WORDS: usize = 1> {
    pool: &'pool mut IdPool<INLINE_WORDS>,
    id: usize,
}

impl<const INLINE_WORDS: usize> UnusedId<'_, INLINE_WORDS> {
    /// Returns the id.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// assert_eq!(pool.find_unused_id(7).map(|id| id.as_usize()), Some(7));
    /// ```
    #[inline]
    pub fn as_usize(&self) -> usize {
        self.id
    }

    /// Returns the id as a `u32`.
    ///
    /// Every id fits, as it is below [`MAX_CAPACITY`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// assert_eq!(pool.find_unused_id(7).map(|id| id.as_u32()), Some(7u32));
    /// ```
    #[inline]
    pub fn as_u32(&self) -> u32 {
        // No truncation: by the type invariants, the id is below the capacity of the pool,
        // which is at most `MAX_CAPACITY`, that is `2^31`.
        self.id as u32
    }

    /// Marks the id as in use, and returns it.
    ///
    /// This takes `O(log64(capacity))` word operations.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// let id = pool.find_unused_id(3).ok_or(ENOSPC)?.acquire();
    /// assert_eq!(id, 3);
    /// assert_eq!(pool.find_unused_id(3).map(|id| id.as_usize()), Some(4));
    /// assert_eq!(pool.used(), 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn acquire(self) -> usize {
        // By the type invariants, the id is unused and below the capacity.
        self.pool.mark_used(self.id);
        self.id
    }
}

/// The kind of a [`ReallocRequest`] and of its [`PoolResizer`] made by
/// [`IdPool::grow_request`]: only [`IdPool::grow`] commits them.
///
/// It is a type with no value, used as a type parameter only. A resizer of the other kind,
/// [`Shrink`], is a different type, which [`IdPool::grow`] does not accept: mixing them up does
/// not compile.
///
/// # Examples
///
/// ```
/// use kernel::id_pool::{Grow, IdPool, PoolResizer};
///
/// let mut pool = IdPool::<1>::new();
/// let mut resizer: PoolResizer<Grow> = pool.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
/// assert!(pool.grow(&mut resizer));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grow {}

/// The kind of a [`ReallocRequest`] and of its [`PoolResizer`] made by
/// [`IdPool::shrink_request`]: only [`IdPool::shrink`] commits them.
///
/// It is a type with no value, used as a type parameter only, like [`Grow`].
///
/// # Examples
///
/// ```
/// use kernel::id_pool::{IdPool, PoolResizer, Shrink};
/// # use kernel::id_pool::Grow;
///
/// let mut pool = IdPool::<1>::new();
/// let mut resizer = pool.grow_request().ok_or(ENOSPC)?.realloc(GFP_KERNEL)?;
/// assert!(pool.grow(&mut resizer));
/// let mut resizer: PoolResizer<Shrink> =
///     pool.shrink_request().ok_or(EINVAL)?.realloc(GFP_KERNEL)?;
/// assert!(pool.shrink(&mut resizer));
/// # // The two kinds are different types, so `grow()` cannot take a shrink resizer.
/// # use core::any::TypeId;
/// # assert!(TypeId::of::<PoolResizer<Grow>>() != TypeId::of::<PoolResizer<Shrink>>());
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shrink {}

/// A request to resize an [`IdPool`]: a [`ReallocRequest<Grow>`] from [`IdPool::grow_request`]
/// or a [`ReallocRequest<Shrink>`] from [`IdPool::shrink_request`].
///
/// It records the capacity of the pool when it was made and the new capacity. It does not
/// borrow the pool: release the lock protecting the pool, allocate the new bitmaps with
/// [`realloc`](ReallocRequest::realloc), and commit them with the lock held again, with
/// [`IdPool::grow`] or [`IdPool::shrink`] according to the kind `K`.
///
/// # Examples
///
/// ```
/// use kernel::id_pool::IdPool;
///
/// let pool = IdPool::<1>::new();
/// let request = pool.grow_request().ok_or(ENOSPC)?;
/// assert_eq!(request.old_capacity(), 64);
/// assert_eq!(request.new_capacity(), 128);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReallocRequest<K, const INLINE_WORDS: usize = 1> {
    old: usize,
    new: usize,
    _kind: PhantomData<K>,
    _pool: PhantomData<[(); INLINE_WORDS]>,
}

impl<K, const INLINE_WORDS: usize> ReallocRequest<K, INLINE_WORDS> {
    fn new(old: usize, new: usize) -> Self {
        Self {
            old,
            new,
            _kind: PhantomData,
            _pool: PhantomData,
        }
    }

    /// Returns the capacity of the pool when the request was made.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let pool = IdPool::<2>::new();
    /// assert_eq!(pool.grow_request().map(|r| r.old_capacity()), Some(pool.capacity()));
    /// ```
    #[inline]
    pub fn old_capacity(&self) -> usize {
        self.old
    }

    /// Returns the capacity asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let pool = IdPool::<2>::new();
    /// assert_eq!(pool.grow_request().map(|r| r.new_capacity()), Some(2 * pool.capacity()));
    /// ```
    #[inline]
    pub fn new_capacity(&self) -> usize {
        self.new
    }

    /// Allocates the bitmaps of a pool of the new capacity.
    ///
    /// Call it without holding the lock protecting the pool if `flags` may sleep. Bitmaps that
    /// fit in the inline capacity are not allocated: shrinking a pool back to its inline
    /// capacity does not fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::id_pool::IdPool;
    ///
    /// let mut pool = IdPool::<1>::new();
    /// let request = pool.grow_request().ok_or(ENOSPC)?;
    /// let mut resizer = request.realloc(GFP_KERNEL)?;
    /// assert!(pool.grow(&mut resizer));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn realloc(self, flags: Flags) -> Result<PoolResizer<K, INLINE_WORDS>, AllocError> {
        let layout = Layout::new(self.new);
        let ids = BitmapVec::new(layout.ids_bits(), flags)?;
        let summary = BitmapVec::new(layout.summary_bits(), flags)?;
        // INVARIANT: The bitmaps have the sizes given by the layout of the new capacity.
        Ok(PoolResizer {
            request: self,
            ids,
            summary,
            spent: false,
        })
    }
}

/// The bitmaps of a resized [`IdPool`], from [`ReallocRequest::realloc`].
///
/// Commit it with [`IdPool::grow`] if its kind `K` is [`Grow`], with [`IdPool::shrink`] if it
/// is [`Shrink`]. After a commit that was applied, it holds the previous bitmaps of the pool;
/// either way, dropping it frees its memory, which may sleep: drop it without holding a
/// spinlock.
///
/// # Invariants
///
/// If `spent` is `false`, `ids` has `layout.ids_bits()` bits and `summary` has
/// `layout.summary_bits()` bits, where `layout` is `Layout::new(request.new)`.
///
/// # Examples
///
/// ```
/// use kernel::id_pool::{Grow, IdPool, PoolResizer};
///
/// fn grow_twice(pool: &mut IdPool) -> Result {
///     for _ in 0..2 {
///         let request = pool.grow_request().ok_or(ENOSPC)?;
///         let mut resizer: PoolResizer<Grow> = request.realloc(GFP_KERNEL)?;
///         pool.grow(&mut resizer);
///     }
///     Ok(())
/// }
///
/// let mut pool = IdPool::new();
/// grow_twice(&mut pool)?;
/// assert_eq!(pool.capacity(), 256);
/// # Ok::<(), Error>(())
/// ```
pub struct PoolResizer<K, const INLINE_WORDS: usize = 1> {
    request: ReallocRequest<K, INLINE_WORDS>,
    ids: BitmapVec<INLINE_WORDS>,
    summary: BitmapVec<INLINE_WORDS>,
    spent: bool,
}

impl<K, const INLINE_WORDS: usize> PoolResizer<K, INLINE_WORDS> {
    /// Returns whether the resizer holds allocated memory.
    fn holds_memory(&self) -> bool {
        !(self.ids.is_inline() && self.summary.is_inline())
    }
}

/// Drops `leftover` with the lock of `guard` released if it holds memory.
fn drop_unlocked<T: ?Sized, B: Backend, K, const INLINE_WORDS: usize>(
    guard: &mut Guard<'_, T, B>,
    leftover: Option<PoolResizer<K, INLINE_WORDS>>,
) {
    if leftover.as_ref().is_some_and(PoolResizer::holds_memory) {
        guard.do_unlocked(|| drop(leftover));
    }
}

/// Acquires the lowest unused id at or after `start` in a pool protected by a lock, growing the
/// pool as needed.
///
/// `pool` returns the pool from the data protected by the lock of `guard`. When the pool must
/// grow, this releases the lock while allocating with `flags`, then takes it again and tries
/// again, until an id is found.
///
/// Returns the id, now in use, or:
///
/// - [`ENOSPC`] if there is no unused id at or after `start` below the maximum capacity of the
///   pool;
/// - [`ENOMEM`] if the pool had to grow but the allocation failed.
///
/// # Examples
///
/// ```
/// use kernel::id_pool::{alloc_id_locked, release_id_locked, IdPool};
/// use kernel::sync::{new_mutex, Mutex};
///
/// struct Handles {
///     ids: IdPool,
///     count: usize,
/// }
///
/// kernel::stack_pin_init!(let handles = new_mutex!(Handles { ids: IdPool::new(), count: 0 }));
/// let mut guard = handles.lock();
/// for expected in 1..200 {
///     let id = alloc_id_locked(&mut guard, |h| &mut h.ids, 1, GFP_KERNEL)?;
///     assert_eq!(id, expected);
///     guard.count += 1;
/// }
/// assert_eq!(guard.ids.capacity(), 256);
/// assert_eq!(alloc_id_locked(&mut guard, |h| &mut h.ids, 1000, GFP_KERNEL), Ok(1000));
/// for id in 1..200 {
///     release_id_locked(&mut guard, |h| &mut h.ids, id, GFP_KERNEL)?;
/// }
/// assert_eq!(guard.ids.capacity(), 1024);
/// release_id_locked(&mut guard, |h| &mut h.ids, 1000, GFP_KERNEL)?;
/// assert_eq!(guard.ids.capacity(), 64);
/// # assert_eq!(guard.count, 199);
/// # assert!(guard.ids.is_inline());
/// # Ok::<(), Error>(())
/// ```
///
/// At the maximum capacity:
///
/// ```
/// use kernel::id_pool::{alloc_id_locked, IdPool};
/// use kernel::sync::new_spinlock;
///
/// kernel::stack_pin_init!(let ids = new_spinlock!(IdPool::<1>::with_max(100)));
/// let mut guard = ids.lock();
/// assert_eq!(alloc_id_locked(&mut guard, |ids| ids, 99, GFP_KERNEL), Ok(99));
/// assert_eq!(alloc_id_locked(&mut guard, |ids| ids, 99, GFP_KERNEL), Err(ENOSPC));
/// assert_eq!(alloc_id_locked(&mut guard, |ids| ids, 100, GFP_KERNEL), Err(ENOSPC));
/// assert_eq!(alloc_id_locked(&mut guard, |ids| ids, usize::MAX, GFP_KERNEL), Err(ENOSPC));
/// assert_eq!(alloc_id_locked(&mut guard, |ids| ids, 0, GFP_KERNEL), Ok(0));
/// # assert_eq!(guard.used(), 2);
/// # assert!(guard.is_consistent());
/// ```
pub fn alloc_id_locked<T: ?Sized, B: Backend, const INLINE_WORDS: usize>(
    guard: &mut Guard<'_, T, B>,
    pool: impl Fn(&mut T) -> &mut IdPool<INLINE_WORDS>,
    start: usize,
    flags: Flags,
) -> Result<usize> {
    if start >= pool(&mut **guard).max_capacity() {
        return Err(ENOSPC);
    }
    // The previous bitmaps of the pool after a grow, or a stale resizer.
    let mut leftover = None;
    let result = loop {
        let ids = pool(&mut **guard);
        if let Some(unused) = ids.find_unused_id(start) {
            break Ok(unused.acquire());
        }
        let Some(request) = ids.grow_request() else {
            break Err(ENOSPC);
        };
        let resizer = guard.do_unlocked(|| {
            drop(leftover.take());
            request.realloc(flags)
        });
        match resizer {
            Ok(mut resizer) => {
                // Another thread may have grown the pool in the meantime; then this does
                // nothing, and the search starts again in the larger pool.
                pool(&mut **guard).grow(&mut resizer);
                leftover = Some(resizer);
            }
            Err(AllocError) => break Err(ENOMEM),
        }
    };
    drop_unlocked(guard, leftover);
    result
}

/// Releases id `id` of a pool protected by a lock, and shrinks the pool if it should.
///
/// `pool` returns the pool from the data protected by the lock of `guard`. If the pool should
/// shrink, this releases the lock while allocating with `flags`, then takes it again. As
/// shrinking is optional, it is not done if the allocation fails.
///
/// Returns [`EINVAL`] if `id` is not in use; the pool is then unchanged.
///
/// # Examples
///
/// ```
/// use kernel::id_pool::{alloc_id_locked, release_id_locked, IdPool};
/// use kernel::sync::new_spinlock;
///
/// kernel::stack_pin_init!(let ids = new_spinlock!(IdPool::<1>::new()));
/// let mut guard = ids.lock();
/// let id = alloc_id_locked(&mut guard, |ids| ids, 300, GFP_KERNEL)?;
/// assert_eq!(guard.capacity(), 512);
/// release_id_locked(&mut guard, |ids| ids, id, GFP_KERNEL)?;
/// assert_eq!(guard.capacity(), 64);
/// assert_eq!(release_id_locked(&mut guard, |ids| ids, id, GFP_KERNEL), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
pub fn release_id_locked<T: ?Sized, B: Backend, const INLINE_WORDS: usize>(
    guard: &mut Guard<'_, T, B>,
    pool: impl Fn(&mut T) -> &mut IdPool<INLINE_WORDS>,
    id: usize,
    flags: Flags,
) -> Result {
    let ids = pool(&mut **guard);
    ids.release_id(id)?;
    let Some(request) = ids.shrink_request() else {
        return Ok(());
    };
    if let Ok(mut resizer) = guard.do_unlocked(|| request.realloc(flags)) {
        // Another thread may have resized the pool or acquired ids in the meantime; then this
        // does nothing.
        pool(&mut **guard).shrink(&mut resizer);
        drop_unlocked(guard, Some(resizer));
    }
    Ok(())
}
