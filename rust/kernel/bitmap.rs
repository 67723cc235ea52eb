// SPDX-License-Identifier: GPL-2.0

//! Bitmaps.
//!
//! C header: [`include/linux/bitmap.h`](srctree/include/linux/bitmap.h)
//!
//! A bitmap is a fixed number of bits stored in an array of `unsigned long` words, with the same
//! layout as in C: bit `n` is bit `n % BITS_PER_LONG` of word `n / BITS_PER_LONG`. This module
//! provides:
//!
//! - [`Bitmap`], the bits of a bitmap stored elsewhere, used through references: a `&Bitmap` for
//!   reads, searches and atomic bit operations, a `&mut Bitmap` for non-atomic modifications as
//!   well, since `&mut` proves that nobody else accesses the bitmap;
//! - [`BitmapVec`], an owned bitmap that stores up to a chosen number of words inline and
//!   allocates larger ones; it dereferences to [`Bitmap`].
//!
//! References to bitmaps owned by C code are created with the unsafe [`Bitmap::from_raw`] and
//! [`Bitmap::from_raw_mut`].
//!
//! # Conventions
//!
//! - **Out-of-range arguments.** An operation on one bit or on a range of bits returns
//!   [`ERANGE`] if the bit or the range is not inside the bitmap, and [`EINVAL`] if a range
//!   starts after its end; the bitmap is unchanged in both cases. A search accepts any start
//!   position and returns [`None`] if there is no matching bit at or after it, in particular
//!   if the start is at or past the end. No operation panics.
//! - **Differing lengths.** The bitwise operations between two bitmaps ([`Bitmap::and`],
//!   [`Bitmap::or`], [`Bitmap::xor`] and [`Bitmap::andnot`]) return [`EINVAL`] if the lengths
//!   differ, leaving the destination unchanged. [`Bitmap::copy_and_extend`] copies the common
//!   prefix and zeroes the rest. Bitmaps of different lengths are never equal.
//! - **Tail bits.** The bits of the last word past the length are never observable: reads ignore
//!   them, and the operations that write whole words clear them.
//! - **Concurrency.** Every access to the words is atomic: reads are relaxed loads, like C's
//!   `test_bit()`, and the atomic bit operations (`&self` methods such as
//!   [`Bitmap::set_bit_atomic`]) call C's `set_bit()`, `clear_bit()`, `test_and_set_bit()` and
//!   `test_and_clear_bit()`, so their ordering is exactly the one of
//!   `Documentation/atomic_bitops.txt` on every architecture, and sanitizers see them as the C
//!   ones. Hence a `&Bitmap` may be used while other threads or C code modify the bitmap with
//!   atomic bit operations (a result may then be stale by the time it is used). Non-atomic
//!   modifications take `&mut self`, that is, exclusive access; they are done with relaxed loads
//!   and stores, which compile to plain memory accesses.
//!
//! # Examples
//!
//! ```
//! use kernel::bitmap::{Bitmap, BitmapVec};
//!
//! fn reserve(bits: &mut Bitmap) -> Result {
//!     bits.set_range(10..20)?;
//!     bits.clear_bit(15)
//! }
//!
//! // 100 bits fit in two words, so this does not allocate.
//! let mut map: BitmapVec<2> = BitmapVec::new(100, GFP_KERNEL)?;
//! reserve(&mut map)?;
//! assert_eq!(map.set_bit(100), Err(ERANGE));
//! assert_eq!(map.weight(), 9);
//! assert_eq!(map.next_zero_bit(10), Some(15));
//! assert_eq!(map.last_bit(), Some(19));
//! # Ok::<(), Error>(())
//! ```

use crate::{
    alloc::{AllocError, Flags, KVVec},
    bindings,
    error::{
        code::{EINVAL, ERANGE},
        Result,
    },
    ffi::{c_long, c_ulong},
};
use core::{
    cell::UnsafeCell,
    cmp::{min, Ordering as CmpOrdering},
    fmt,
    iter::FusedIterator,
    mem::{align_of, size_of},
    ops::{Deref, DerefMut, Range},
    ptr::NonNull,
    sync::atomic::{AtomicUsize, Ordering},
};

// Bitmaps access C `unsigned long` words as `AtomicUsize`.
crate::static_assert!(size_of::<AtomicUsize>() == size_of::<c_ulong>());
crate::static_assert!(align_of::<AtomicUsize>() == align_of::<c_ulong>());

/// The number of bits in a bitmap word (C's `BITS_PER_LONG`).
///
/// # Examples
///
/// ```
/// use kernel::bitmap::BITS_PER_LONG;
///
/// assert_eq!(BITS_PER_LONG, 8 * core::mem::size_of::<kernel::ffi::c_ulong>());
/// ```
pub const BITS_PER_LONG: usize = usize::BITS as usize;

/// Returns the number of words needed to store `nbits` bits (C's `BITS_TO_LONGS()`).
///
/// # Examples
///
/// ```
/// use kernel::bitmap::{bits_to_longs, BITS_PER_LONG};
///
/// assert_eq!(bits_to_longs(0), 0);
/// assert_eq!(bits_to_longs(1), 1);
/// assert_eq!(bits_to_longs(BITS_PER_LONG), 1);
/// assert_eq!(bits_to_longs(BITS_PER_LONG + 1), 2);
/// assert_eq!(bits_to_longs(usize::MAX), usize::MAX / BITS_PER_LONG + 1);
/// ```
#[inline]
pub const fn bits_to_longs(nbits: usize) -> usize {
    nbits.div_ceil(BITS_PER_LONG)
}

/// Reports, once per call site, a condition that the type invariants of this module or of
/// [`crate::id_pool`] rule out, and evaluates to it.
///
/// Like C's `WARN_ON_ONCE()`: if `$cond` is true, the first time at this call site it prints a
/// `WARNING:` with a backtrace (and taints the kernel), as it means a bug in these modules or
/// memory corruption. The caller then goes on with a safe fallback, such as treating a bitmap
/// word as full or an id as unavailable. It is never used for the arguments of callers, which
/// get an error instead: valid or invalid input does not reach it.
macro_rules! warn_on_once {
    ($cond:expr) => {{
        let cond: bool = $cond;
        if cond {
            static WARNED: ::core::sync::atomic::AtomicBool =
                ::core::sync::atomic::AtomicBool::new(false);
            if !WARNED.swap(true, ::core::sync::atomic::Ordering::Relaxed) {
                $crate::bitmap::warn_broken_invariant();
            }
        }
        cond
    }};
}
pub(crate) use warn_on_once;

/// Prints the warning of [`warn_on_once!`], naming the Rust source location of its caller.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn warn_broken_invariant() {
    let location = core::panic::Location::caller();
    let file = location.file();
    // SAFETY: `file` is valid for reads of `file.len()` bytes during the call; the C function
    // prints at most that many bytes of it (`%.*s`), so it needs no NUL terminator.
    unsafe { bindings::bitmap_warn_invariant(file.as_ptr().cast(), file.len(), location.line()) };
}

/// Returns the mask of the bits of the last word of an `nbits`-bit bitmap that are inside it.
#[inline]
const fn last_word_mask(nbits: usize) -> usize {
    match nbits % BITS_PER_LONG {
        0 => usize::MAX,
        rem => !(usize::MAX << rem),
    }
}

/// Returns the index of the most significant set bit of `word`, which must not be zero.
#[inline]
fn msb(word: usize) -> usize {
    BITS_PER_LONG - 1 - word.leading_zeros() as usize
}

/// Loads `word`, inverted if `ZEROS` is true so that the bits searched for are set.
#[inline(always)]
fn load_searched<const ZEROS: bool>(word: &AtomicUsize) -> usize {
    let value = word.load(Ordering::Relaxed);
    if ZEROS {
        !value
    } else {
        value
    }
}

/// The bits of a bitmap, stored in memory it does not own.
///
/// It is only used behind a reference: a `&Bitmap` gives access to the [`len`](Bitmap::len)
/// bits of a bitmap for reading and searching, and for atomic modifications
/// ([`set_bit_atomic`](Bitmap::set_bit_atomic) and others), and may be used by several threads
/// at once; a `&mut Bitmap` also allows non-atomic modifications
/// ([`set_bit`](Bitmap::set_bit) and others).
///
/// References are obtained from a [`BitmapVec`], which dereferences to a [`Bitmap`], or from a
/// C bitmap ([`Bitmap::from_raw`] and [`Bitmap::from_raw_mut`]).
///
/// A reference to a [`Bitmap`] is the address of its first word with its length in bits as
/// metadata: [`Bitmap`] is a slice of zero-sized elements, one per bit, so the reference itself
/// covers no memory, and the words are accessed through its address. As the elements are
/// [`UnsafeCell`]s, a shared reference does not tell the compiler that the words cannot change.
///
/// # Invariants
///
/// For as long as a reference to a [`Bitmap`] is usable, its address is non-null, aligned for
/// `unsigned long`, and that of [`bits_to_longs`]`(len)` consecutive `unsigned long` words of a
/// single allocation, valid for reads and writes; while the reference is shared, others access
/// the words only with reads and atomic operations, and while it is exclusive (`&mut`), nobody
/// else accesses them. The bits past `len` in the last word are never modified through it except
/// by the operations that write whole words, which clear them.
///
/// # Examples
///
/// ```
/// use kernel::bitmap::{Bitmap, BitmapVec};
///
/// fn count_busy(busy: &Bitmap) -> usize {
///     busy.weight()
/// }
///
/// let map: BitmapVec = BitmapVec::new(10, GFP_KERNEL)?;
/// map.set_bit_atomic(3)?;
/// assert_eq!(count_busy(&map), 1);
/// # Ok::<(), Error>(())
/// ```
pub struct Bitmap {
    bits: [UnsafeCell<()>],
}

// SAFETY: Through a shared reference, the words are only read with atomic loads and modified
// with atomic bit operations, so a `&Bitmap` may be used by several threads at once.
unsafe impl Sync for Bitmap {}

impl Bitmap {
    /// Returns a shared reference to the C bitmap of `nbits` bits at `ptr`.
    ///
    /// Through it, the words are read with atomic loads and modified only with atomic bit
    /// operations, which never modify bits at or past `nbits`.
    ///
    /// # Safety
    ///
    /// If `nbits` is zero, `ptr` is not used and may be anything, null included. Otherwise, for
    /// the whole lifetime `'a`:
    ///
    /// - `ptr` must be non-null, aligned for `unsigned long` and point to
    ///   [`bits_to_longs`]`(nbits)` consecutive `unsigned long` words of a single allocation,
    ///   valid for reads and writes; in particular, the memory must not be freed;
    /// - others (other threads, interrupt handlers, C code) may access those words concurrently
    ///   only with reads and with atomic operations such as `set_bit()`, `clear_bit()` or
    ///   `test_and_set_bit()`; they must not modify them with non-atomic writes such as
    ///   `__set_bit()`, `bitmap_zero()` or plain stores.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::Bitmap;
    ///
    /// let mut words: [kernel::ffi::c_ulong; 2] = [0b1010, 1];
    /// // SAFETY: `words` has two aligned words, which are only used through `map` while it
    /// // exists.
    /// let map = unsafe { Bitmap::from_raw(words.as_mut_ptr(), 70) };
    /// assert_eq!(map.len(), 70);
    /// assert_eq!(map.test_bit(1), Ok(true));
    /// assert_eq!(map.test_bit(2), Ok(false));
    /// assert_eq!(map.next_bit(4), Some(64));
    ///
    /// // The bits of the last word past the end are ignored, whatever their value.
    /// let mut words: [kernel::ffi::c_ulong; 1] = [!0];
    /// // SAFETY: `words` has one aligned word, which is only used through `map` while it exists.
    /// let map = unsafe { Bitmap::from_raw(words.as_mut_ptr(), 10) };
    /// assert_eq!(map.weight(), 10);
    /// assert_eq!(map.word(0), Some(0x3ff));
    /// assert_eq!(map.last_bit(), Some(9));
    /// assert_eq!(map.next_bit(10), None);
    /// assert_eq!(map.first_zero_bit(), None);
    /// assert_eq!(map.iter_zero_bits().next(), None);
    /// assert_eq!(map.iter_set_bits().count(), 10);
    /// assert_eq!(map.test_bit(10), Err(ERANGE));
    /// assert_eq!(map.set_bit_atomic(10), Err(ERANGE));
    ///
    /// // SAFETY: The pointer is not used when the length is zero.
    /// let empty = unsafe { Bitmap::from_raw(core::ptr::null(), 0) };
    /// assert_eq!(empty.len(), 0);
    /// assert_eq!(empty.first_bit(), None);
    /// ```
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *const c_ulong, nbits: usize) -> &'a Bitmap {
        let bits = Self::slice_ptr(ptr.cast_mut(), nbits);
        // SAFETY: `bits` is non-null, and a `Bitmap` has no size and an alignment of one, so the
        // reference covers no memory and is valid for any lifetime.
        // INVARIANT: If `nbits` is zero, there are no words. Otherwise, by the safety
        // requirements, `ptr` has the address and the words the properties of the type
        // invariants, for `'a`, and others access them only with reads and atomic operations.
        unsafe { &*bits }
    }

    /// Returns an exclusive reference to the C bitmap of `nbits` bits at `ptr`.
    ///
    /// The operations that write whole words ([`fill`](Bitmap::fill), [`zero`](Bitmap::zero),
    /// [`complement`](Bitmap::complement), [`copy_and_extend`](Bitmap::copy_and_extend) and
    /// the bitwise operations) clear the bits of the last word at or past `nbits`; C's
    /// `bitmap_fill()` and `bitmap_complement()` set them instead, as they write whole words.
    ///
    /// # Safety
    ///
    /// If `nbits` is zero, `ptr` is not used and may be anything, null included. Otherwise, for
    /// the whole lifetime `'a`:
    ///
    /// - `ptr` must be non-null, aligned for `unsigned long` and point to
    ///   [`bits_to_longs`]`(nbits)` consecutive `unsigned long` words of a single allocation,
    ///   valid for reads and writes; in particular, the memory must not be freed;
    /// - nobody else (other threads, interrupt handlers, C code) may access those words in any
    ///   way, atomically or not, for reading or writing.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::Bitmap;
    ///
    /// let mut words: [kernel::ffi::c_ulong; 1] = [0];
    /// {
    ///     // SAFETY: `words` has one aligned word, which is only used through `map` while it
    ///     // exists.
    ///     let map = unsafe { Bitmap::from_raw_mut(words.as_mut_ptr(), 10) };
    ///     map.fill();
    ///     assert_eq!(map.set_bit(10), Err(ERANGE));
    /// }
    /// assert_eq!(words[0], 0x3ff);
    /// ```
    #[inline]
    pub unsafe fn from_raw_mut<'a>(ptr: *mut c_ulong, nbits: usize) -> &'a mut Bitmap {
        let bits = Self::slice_ptr(ptr, nbits);
        // SAFETY: `bits` is non-null, and a `Bitmap` has no size and an alignment of one, so the
        // reference covers no memory and is valid for any lifetime; it is unique as the type
        // invariants require nobody else to access the words it stands for.
        // INVARIANT: If `nbits` is zero, there are no words. Otherwise, by the safety
        // requirements, `ptr` has the address and the words the properties of the type
        // invariants, for `'a`, and nobody else accesses them.
        unsafe { &mut *bits }
    }

    /// Returns a pointer to a [`Bitmap`] of `nbits` bits at address `ptr`, or at a dangling,
    /// aligned address if `nbits` is zero.
    #[inline]
    fn slice_ptr(ptr: *mut c_ulong, nbits: usize) -> *mut Bitmap {
        let ptr = if nbits == 0 {
            NonNull::<c_ulong>::dangling().as_ptr()
        } else {
            ptr
        };
        let bits = core::ptr::slice_from_raw_parts_mut(ptr.cast::<UnsafeCell<()>>(), nbits);
        // `Bitmap` is a slice with a header of no fields: the pointer keeps its address and
        // length.
        bits as *mut Bitmap
    }

    /// Returns the words of the bitmap.
    #[inline]
    fn words(&self) -> &[AtomicUsize] {
        // SAFETY: By the type invariants, the address of `self` is that of
        // `bits_to_longs(self.len())` words of one allocation, aligned for `unsigned long` and
        // thus for `AtomicUsize` (checked by `static_assert!` above, as is the size), valid for
        // reads and writes while `self` is borrowed. Others access them only with reads and
        // atomic operations, which is what `&[AtomicUsize]` permits, as all accesses through it
        // are atomic.
        unsafe { core::slice::from_raw_parts(self.as_ptr().cast(), bits_to_longs(self.len())) }
    }

    /// Returns the length of the bitmap, in bits.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let map: BitmapVec = BitmapVec::new(42, GFP_KERNEL)?;
    /// assert_eq!(map.len(), 42);
    /// # Ok::<(), Error>(())
    /// ```
    // No `is_empty()`: for a bitmap it would read as C's `bitmap_empty()` (no bit set), which is
    // `is_zero()` here; a zero length is `len() == 0`.
    #[allow(clippy::len_without_is_empty)]
    #[inline]
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    /// Returns whether no bit is set (C's `bitmap_empty()`).
    ///
    /// A bitmap of length zero has no bit set. (It is not called `is_empty()`, which for Rust
    /// collections means a length of zero.)
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec<2> = BitmapVec::new(100, GFP_KERNEL)?;
    /// assert!(map.is_zero());
    /// map.set_bit(99)?;
    /// assert!(!map.is_zero());
    /// map.clear_bit(99)?;
    /// assert!(map.is_zero());
    ///
    /// let empty: BitmapVec = BitmapVec::new(0, GFP_KERNEL)?;
    /// assert!(empty.is_zero());
    /// # // The bits past the end do not count.
    /// # let mut words: [kernel::ffi::c_ulong; 1] = [!0 << 10];
    /// # // SAFETY: `words` has one aligned word, which is only used through `map` while it exists.
    /// # let map = unsafe { kernel::bitmap::Bitmap::from_raw(words.as_mut_ptr(), 10) };
    /// # assert!(map.is_zero());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn is_zero(&self) -> bool {
        self.first_bit().is_none()
    }

    /// Returns a pointer to the first word, for passing the bitmap to C functions.
    ///
    /// The pointer is valid for reads of [`bits_to_longs`]`(self.len())` words while `self` is
    /// borrowed; it is dangling if the length is zero. The C code must follow the access rules of
    /// [`Bitmap::from_raw`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, bitmap::BitmapVec};
    ///
    /// let map: BitmapVec = BitmapVec::new(40, GFP_KERNEL)?;
    /// map.set_bit_atomic(33)?;
    /// // SAFETY: `as_ptr()` points to the words of the 40-bit bitmap, which C only reads here.
    /// let found = unsafe { bindings::find_next_bit(map.as_ptr(), 40, 0) };
    /// assert_eq!(found, 33);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn as_ptr(&self) -> *const c_ulong {
        (self as *const Self).cast()
    }

    /// Returns the word holding bit `index` and the position of the bit in it.
    ///
    /// Returns [`ERANGE`] if `index` is not less than the length.
    #[inline]
    fn locate(&self, index: usize) -> Result<(&AtomicUsize, usize)> {
        if index >= self.len() {
            return Err(ERANGE);
        }
        // By the type invariant, there is such a word because `index < self.len()`.
        let Some(word) = self.words().get(index / BITS_PER_LONG) else {
            warn_on_once!(true);
            return Err(ERANGE);
        };
        Ok((word, index % BITS_PER_LONG))
    }

    /// Returns the value of bit `index`.
    ///
    /// Returns [`ERANGE`] if `index` is not less than the length. The read is atomic but unordered
    /// (a relaxed load, like C's `test_bit()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec = BitmapVec::new(8, GFP_KERNEL)?;
    /// map.set_bit(7)?;
    /// assert_eq!(map.test_bit(7), Ok(true));
    /// assert_eq!(map.test_bit(6), Ok(false));
    /// assert_eq!(map.test_bit(8), Err(ERANGE));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn test_bit(&self, index: usize) -> Result<bool> {
        let (word, bit) = self.locate(index)?;
        Ok(word.load(Ordering::Relaxed) & (1 << bit) != 0)
    }

    /// Returns word `index` of the bitmap, or [`None`] if there is no such word.
    ///
    /// Bit `i` of the result is bit `index * BITS_PER_LONG + i` of the bitmap; the bits past the
    /// end of the bitmap are zero. This allows processing a bitmap a word at a time, e.g. to keep
    /// a summary of which words are full.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let mut map: BitmapVec = BitmapVec::new(BITS_PER_LONG + 3, GFP_KERNEL)?;
    /// map.fill();
    /// map.clear_bit(1)?;
    /// assert_eq!(map.word(0), Some(!0b10));
    /// assert_eq!(map.word(1), Some(0b111));
    /// assert_eq!(map.word(2), None);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn word(&self, index: usize) -> Option<usize> {
        let value = self.words().get(index)?.load(Ordering::Relaxed);
        if index + 1 == self.words().len() {
            Some(value & last_word_mask(self.len()))
        } else {
            Some(value)
        }
    }

    /// Returns the position of the lowest bit of `found`, the non-zero result of a search in word
    /// `index`, or [`None`] if it is past the end of the bitmap.
    #[inline(always)]
    fn found_bit(&self, index: usize, found: usize) -> Option<usize> {
        // `index < bits_to_longs(nbits)`, so this is at most
        // `bits_to_longs(nbits) * BITS_PER_LONG - 1 <= usize::MAX` and cannot overflow; wrapping
        // operations avoid overflow checks on the hot path of searches.
        let bit = index
            .wrapping_mul(BITS_PER_LONG)
            .wrapping_add(found.trailing_zeros() as usize);
        // A bit found in the tail of the last word is past the end.
        (bit < self.len()).then_some(bit)
    }

    /// Returns the first bit at or after `start` that is set, or zero if `ZEROS` is true.
    ///
    /// Only the word holding `start` is checked here, which is inlined into the callers as
    /// searches often end there; [`Bitmap::scan`] checks the following words.
    #[inline]
    fn find_next<const ZEROS: bool>(&self, start: usize) -> Option<usize> {
        if start >= self.len() {
            return None;
        }
        let index = start / BITS_PER_LONG;
        // By the type invariant, there is such a word because `start < self.len()`, hence also
        // a (possibly empty) suffix of the words after it.
        let words = self.words();
        let (Some(word), Some(rest)) = (words.get(index), words.get(index + 1..)) else {
            warn_on_once!(true);
            return None;
        };
        let found = load_searched::<ZEROS>(word) & (usize::MAX << (start % BITS_PER_LONG));
        if found != 0 {
            return self.found_bit(index, found);
        }
        self.scan::<ZEROS>(rest)
    }

    /// Returns the first bit that is set, or zero if `ZEROS` is true, in `words`, which is a
    /// suffix of `self.words()`.
    #[inline(never)]
    fn scan<const ZEROS: bool>(&self, mut words: &[AtomicUsize]) -> Option<usize> {
        // Two words per iteration: this halves the number of branches when scanning sparse
        // bitmaps. The index of a word is only computed once something is found, from the number
        // of words left; `words` is a non-empty suffix of `self.words()` there, so the wrapping
        // operations below do not wrap (they avoid overflow checks).
        while let [low, high, tail @ ..] = words {
            let (low, high) = (load_searched::<ZEROS>(low), load_searched::<ZEROS>(high));
            if low | high != 0 {
                let index = self.words().len().wrapping_sub(words.len());
                return if low != 0 {
                    self.found_bit(index, low)
                } else {
                    self.found_bit(index.wrapping_add(1), high)
                };
            }
            words = tail;
        }
        match words {
            [last] => match load_searched::<ZEROS>(last) {
                0 => None,
                found => self.found_bit(self.words().len().wrapping_sub(1), found),
            },
            _ => None,
        }
    }

    /// Returns the first set bit at or after `start`, or [`None`] if there is none.
    ///
    /// Like C's `find_next_bit()`, but any `start` is accepted: the result is [`None`] when
    /// `start` is not less than the length.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec<2> = BitmapVec::new(100, GFP_KERNEL)?;
    /// map.set_bit(5)?;
    /// map.set_bit(70)?;
    /// let bits = &*map;
    /// assert_eq!(bits.next_bit(0), Some(5));
    /// assert_eq!(bits.next_bit(5), Some(5));
    /// assert_eq!(bits.next_bit(6), Some(70));
    /// assert_eq!(bits.next_bit(71), None);
    /// assert_eq!(bits.next_bit(100), None);
    /// assert_eq!(bits.next_bit(usize::MAX), None);
    /// # use kernel::bindings;
    /// # // Cross-check against a naive scan and against C's `find_next_bit()` and
    /// # // `find_next_zero_bit()` on random bitmaps of several densities.
    /// # let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    /// # let mut rand = move || {
    /// #     seed ^= seed << 13;
    /// #     seed ^= seed >> 7;
    /// #     seed ^= seed << 17;
    /// #     seed as usize
    /// # };
    /// # for len in [1, 63, 64, 65, 129, 700] {
    /// #     // A bit is set with probability `1 / one_in`: dense, random and sparse bitmaps.
    /// #     for one_in in [1, 2, 64] {
    /// #         let mut map: BitmapVec = BitmapVec::new(len, GFP_KERNEL)?;
    /// #         for _ in 0..1000 {
    /// #             map.assign_bit(rand() % len, rand() % one_in == 0)?;
    /// #             let bits = &*map;
    /// #             let start = rand() % (len + 2);
    /// #             let set = (start..len).find(|&i| bits.test_bit(i) == Ok(true));
    /// #             let zero = (start..len).find(|&i| bits.test_bit(i) == Ok(false));
    /// #             assert_eq!(bits.next_bit(start), set);
    /// #             assert_eq!(bits.next_zero_bit(start), zero);
    /// #             // SAFETY: `as_ptr()` points to the words of the `len`-bit bitmap.
    /// #             let c_set = unsafe { bindings::find_next_bit(bits.as_ptr(), len, start) };
    /// #             // SAFETY: As above.
    /// #             let c_zero =
    /// #                 unsafe { bindings::find_next_zero_bit(bits.as_ptr(), len, start) };
    /// #             assert_eq!(set.unwrap_or(len), c_set.min(len));
    /// #             assert_eq!(zero.unwrap_or(len), c_zero.min(len));
    /// #         }
    /// #     }
    /// # }
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn next_bit(&self, start: usize) -> Option<usize> {
        self.find_next::<false>(start)
    }

    /// Returns the first zero bit at or after `start`, or [`None`] if there is none.
    ///
    /// Like C's `find_next_zero_bit()`, but any `start` is accepted: the result is [`None`] when
    /// `start` is not less than the length.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// // Find the lowest free ID at or after 2.
    /// let mut ids: BitmapVec = BitmapVec::new(2 * BITS_PER_LONG, GFP_KERNEL)?;
    /// ids.set_range(0..BITS_PER_LONG + 1)?;
    /// assert_eq!(ids.next_zero_bit(2), Some(BITS_PER_LONG + 1));
    /// ids.fill();
    /// assert_eq!(ids.next_zero_bit(2), None);
    /// ids.clear_bit(0)?;
    /// assert_eq!(ids.next_zero_bit(0), Some(0));
    /// assert_eq!(ids.next_zero_bit(1), None);
    /// assert_eq!(ids.next_zero_bit(2 * BITS_PER_LONG), None);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn next_zero_bit(&self, start: usize) -> Option<usize> {
        self.find_next::<true>(start)
    }

    /// Returns the first set bit, or [`None`] if no bit is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec = BitmapVec::new(30, GFP_KERNEL)?;
    /// assert_eq!(map.first_bit(), None);
    /// map.set_range(12..14)?;
    /// assert_eq!(map.first_bit(), Some(12));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn first_bit(&self) -> Option<usize> {
        self.next_bit(0)
    }

    /// Returns the first zero bit, or [`None`] if all bits are set.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec = BitmapVec::new(30, GFP_KERNEL)?;
    /// map.set_range(0..3)?;
    /// assert_eq!(map.first_zero_bit(), Some(3));
    /// map.fill();
    /// assert_eq!(map.first_zero_bit(), None);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn first_zero_bit(&self) -> Option<usize> {
        self.next_zero_bit(0)
    }

    /// Returns the last set bit, or [`None`] if no bit is set.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let mut map: BitmapVec<3> = BitmapVec::new(2 * BITS_PER_LONG + 1, GFP_KERNEL)?;
    /// assert_eq!(map.last_bit(), None);
    /// map.set_bit(3)?;
    /// assert_eq!(map.last_bit(), Some(3));
    /// map.set_bit(2 * BITS_PER_LONG)?;
    /// assert_eq!(map.last_bit(), Some(2 * BITS_PER_LONG));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn last_bit(&self) -> Option<usize> {
        let (last, rest) = self.words().split_last()?;
        let top = last.load(Ordering::Relaxed) & last_word_mask(self.len());
        if top != 0 {
            return Some(rest.len() * BITS_PER_LONG + msb(top));
        }
        rest.iter().enumerate().rev().find_map(|(i, word)| {
            let value = word.load(Ordering::Relaxed);
            (value != 0).then(|| i * BITS_PER_LONG + msb(value))
        })
    }

    /// Returns the number of set bits (C's `bitmap_weight()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let mut map: BitmapVec = BitmapVec::new(3 * BITS_PER_LONG - 1, GFP_KERNEL)?;
    /// assert_eq!(map.weight(), 0);
    /// map.set_range(BITS_PER_LONG - 1..BITS_PER_LONG + 2)?;
    /// assert_eq!(map.weight(), 3);
    /// map.fill();
    /// assert_eq!(map.weight(), 3 * BITS_PER_LONG - 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn weight(&self) -> usize {
        let Some((last, rest)) = self.words().split_last() else {
            return 0;
        };
        let top = last.load(Ordering::Relaxed) & last_word_mask(self.len());
        rest.iter()
            .map(|word| word.load(Ordering::Relaxed).count_ones() as usize)
            .sum::<usize>()
            + top.count_ones() as usize
    }

    /// Returns an iterator over the indexes of the set bits, in increasing order.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let mut map: BitmapVec = BitmapVec::new(2 * BITS_PER_LONG, GFP_KERNEL)?;
    /// map.set_bit(0)?;
    /// map.set_bit(BITS_PER_LONG)?;
    /// map.set_bit(2 * BITS_PER_LONG - 1)?;
    /// let mut iter = map.iter_set_bits();
    /// assert_eq!(iter.next(), Some(0));
    /// assert_eq!(iter.next(), Some(BITS_PER_LONG));
    /// assert_eq!(iter.next(), Some(2 * BITS_PER_LONG - 1));
    /// assert_eq!(iter.next(), None);
    /// assert_eq!(iter.next(), None);
    /// assert_eq!(map.iter_set_bits().sum::<usize>(), 3 * BITS_PER_LONG - 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn iter_set_bits(&self) -> BitIter<'_> {
        BitIter {
            bitmap: self,
            next: 0,
            zeros: false,
        }
    }

    /// Returns an iterator over the indexes of the zero bits, in increasing order.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec = BitmapVec::new(5, GFP_KERNEL)?;
    /// map.fill();
    /// map.clear_bit(1)?;
    /// map.clear_bit(4)?;
    /// let mut iter = map.iter_zero_bits();
    /// assert_eq!(iter.next(), Some(1));
    /// assert_eq!(iter.next(), Some(4));
    /// // The zero bits past the end of the word are not part of the bitmap.
    /// assert_eq!(iter.next(), None);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn iter_zero_bits(&self) -> BitIter<'_> {
        BitIter {
            bitmap: self,
            next: 0,
            zeros: true,
        }
    }

    /// Atomically sets bit `index` (C's `set_bit()`).
    ///
    /// Returns [`ERANGE`] if `index` is not less than the length.
    ///
    /// As described in `Documentation/atomic_bitops.txt`, this operation is unordered: it implies
    /// no memory barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let map: BitmapVec = BitmapVec::new(10, GFP_KERNEL)?;
    /// let bits = &*map;
    /// bits.set_bit_atomic(9)?;
    /// assert_eq!(bits.test_bit(9), Ok(true));
    /// assert_eq!(bits.set_bit_atomic(10), Err(ERANGE));
    /// assert_eq!(bits.weight(), 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn set_bit_atomic(&self, index: usize) -> Result {
        let (word, bit) = self.locate(index)?;
        // SAFETY: `word` is a live, aligned `unsigned long` (`AtomicUsize` has the same layout)
        // that others access only atomically, so it may be modified with an atomic operation.
        // `bit < BITS_PER_LONG`, so only that word is modified.
        unsafe { bindings::set_bit(bit as c_long, word.as_ptr()) };
        Ok(())
    }

    /// Atomically clears bit `index` (C's `clear_bit()`).
    ///
    /// Returns [`ERANGE`] if `index` is not less than the length.
    ///
    /// As described in `Documentation/atomic_bitops.txt`, this operation is unordered: it implies
    /// no memory barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec = BitmapVec::new(10, GFP_KERNEL)?;
    /// map.fill();
    /// let bits = &*map;
    /// bits.clear_bit_atomic(0)?;
    /// assert_eq!(bits.test_bit(0), Ok(false));
    /// assert_eq!(bits.clear_bit_atomic(10), Err(ERANGE));
    /// assert_eq!(bits.weight(), 9);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn clear_bit_atomic(&self, index: usize) -> Result {
        let (word, bit) = self.locate(index)?;
        // SAFETY: `word` is a live, aligned `unsigned long` (`AtomicUsize` has the same layout)
        // that others access only atomically, so it may be modified with an atomic operation.
        // `bit < BITS_PER_LONG`, so only that word is modified.
        unsafe { bindings::clear_bit(bit as c_long, word.as_ptr()) };
        Ok(())
    }

    /// Atomically sets bit `index` and returns its previous value (C's `test_and_set_bit()`).
    ///
    /// Returns [`ERANGE`] if `index` is not less than the length.
    ///
    /// As described in `Documentation/atomic_bitops.txt`, this operation is fully ordered: it
    /// behaves as if a full memory barrier (`smp_mb()`) were executed before and after it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// // Claim slot 3: only the first claim succeeds.
    /// let slots: BitmapVec = BitmapVec::new(4, GFP_KERNEL)?;
    /// assert_eq!(slots.test_and_set_bit_atomic(3), Ok(false));
    /// assert_eq!(slots.test_and_set_bit_atomic(3), Ok(true));
    /// assert_eq!(slots.test_and_set_bit_atomic(4), Err(ERANGE));
    /// assert_eq!(slots.weight(), 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn test_and_set_bit_atomic(&self, index: usize) -> Result<bool> {
        let (word, bit) = self.locate(index)?;
        // SAFETY: `word` is a live, aligned `unsigned long` (`AtomicUsize` has the same layout)
        // that others access only atomically, so it may be modified with an atomic operation.
        // `bit < BITS_PER_LONG`, so only that word is modified.
        Ok(unsafe { bindings::test_and_set_bit(bit as c_long, word.as_ptr()) })
    }

    /// Atomically clears bit `index` and returns its previous value (C's `test_and_clear_bit()`).
    ///
    /// Returns [`ERANGE`] if `index` is not less than the length.
    ///
    /// As described in `Documentation/atomic_bitops.txt`, this operation is fully ordered: it
    /// behaves as if a full memory barrier (`smp_mb()`) were executed before and after it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let pending: BitmapVec = BitmapVec::new(4, GFP_KERNEL)?;
    /// pending.set_bit_atomic(2)?;
    /// assert_eq!(pending.test_and_clear_bit_atomic(2), Ok(true));
    /// assert_eq!(pending.test_and_clear_bit_atomic(2), Ok(false));
    /// assert_eq!(pending.test_and_clear_bit_atomic(4), Err(ERANGE));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn test_and_clear_bit_atomic(&self, index: usize) -> Result<bool> {
        let (word, bit) = self.locate(index)?;
        // SAFETY: `word` is a live, aligned `unsigned long` (`AtomicUsize` has the same layout)
        // that others access only atomically, so it may be modified with an atomic operation.
        // `bit < BITS_PER_LONG`, so only that word is modified.
        Ok(unsafe { bindings::test_and_clear_bit(bit as c_long, word.as_ptr()) })
    }
}

/// Two bitmaps are equal if they have the same length and the same bits.
///
/// # Examples
///
/// ```
/// use kernel::bitmap::{Bitmap, BitmapVec};
///
/// let mut a: BitmapVec = BitmapVec::new(10, GFP_KERNEL)?;
/// let mut b: BitmapVec<4> = BitmapVec::new(10, GFP_KERNEL)?;
/// a.set_bit(3)?;
/// assert!(*a != *b);
/// b.set_bit(3)?;
/// assert_eq!(*a, *b);
/// assert!(a == b);
///
/// // The bits past the end are ignored.
/// let mut words: [kernel::ffi::c_ulong; 1] = [!0 << 10 | 1 << 3];
/// // SAFETY: `words` has one aligned word, which is only used through `c` while it exists.
/// let c = unsafe { Bitmap::from_raw(words.as_mut_ptr(), 10) };
/// assert_eq!(c, &*a);
///
/// // Bitmaps of different lengths are not equal.
/// let d: BitmapVec = BitmapVec::new(11, GFP_KERNEL)?;
/// b.clear_bit(3)?;
/// assert!(*d != *b);
/// # Ok::<(), Error>(())
/// ```
impl PartialEq for Bitmap {
    fn eq(&self, other: &Bitmap) -> bool {
        self.len() == other.len() && (0..self.words().len()).all(|i| self.word(i) == other.word(i))
    }
}

/// Formats the length and the set bits of a bitmap.
fn fmt_bitmap(name: &str, bitmap: &Bitmap, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    /// Formats the set bits of a bitmap as a set.
    struct SetBits<'a>(&'a Bitmap);

    impl fmt::Debug for SetBits<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_set().entries(self.0.iter_set_bits()).finish()
        }
    }

    f.debug_struct(name)
        .field("len", &bitmap.len())
        .field("set", &SetBits(bitmap))
        .finish()
}

impl fmt::Debug for Bitmap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_bitmap("Bitmap", self, f)
    }
}

/// An iterator over the indexes of the set bits, or of the zero bits, of a bitmap.
///
/// It is returned by [`Bitmap::iter_set_bits`] and [`Bitmap::iter_zero_bits`]. Each step
/// searches from the bit after the last one returned, so it sees the modifications made
/// concurrently by atomic bit operations past that bit.
///
/// # Examples
///
/// ```
/// use kernel::bitmap::BitmapVec;
///
/// let mut map: BitmapVec = BitmapVec::new(6, GFP_KERNEL)?;
/// map.set_range(1..3)?;
/// let mut set = KVec::new();
/// for bit in map.iter_set_bits() {
///     set.push(bit, GFP_KERNEL)?;
/// }
/// assert_eq!(set.as_slice(), &[1, 2]);
/// assert_eq!(map.iter_zero_bits().count(), 4);
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct BitIter<'a> {
    bitmap: &'a Bitmap,
    next: usize,
    zeros: bool,
}

impl Iterator for BitIter<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let bit = if self.zeros {
            self.bitmap.next_zero_bit(self.next)
        } else {
            self.bitmap.next_bit(self.next)
        }?;
        // No overflow: `bit < self.bitmap.len() <= usize::MAX`.
        self.next = bit + 1;
        Some(bit)
    }
}

impl FusedIterator for BitIter<'_> {}

/// Non-atomic modifications: they take `&mut self`, so nobody else accesses the bitmap while they
/// run.
impl Bitmap {
    /// Returns a pointer to the first word, for passing the bitmap to C functions that modify it.
    ///
    /// The pointer is valid for reads and writes of [`bits_to_longs`]`(self.len())` words while
    /// `self` is borrowed; it is dangling if the length is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, bitmap::BitmapVec};
    ///
    /// let mut map: BitmapVec = BitmapVec::new(20, GFP_KERNEL)?;
    /// // SAFETY: The pointer is valid for the word of the bitmap; `bit < 20`.
    /// unsafe { bindings::set_bit(17, map.as_mut_ptr()) };
    /// assert_eq!(map.first_bit(), Some(17));
    /// # let mut empty: BitmapVec<0> = BitmapVec::new(0, GFP_KERNEL)?;
    /// # assert!(!empty.as_mut_ptr().is_null());
    /// # empty.fill();
    /// # assert_eq!((empty.len(), empty.weight(), empty.set_bit(0)), (0, 0, Err(ERANGE)));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn as_mut_ptr(&mut self) -> *mut c_ulong {
        (self as *mut Self).cast()
    }

    /// Sets bit `index` (C's `__set_bit()`).
    ///
    /// Returns [`ERANGE`] if `index` is not less than the length.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec = BitmapVec::new(10, GFP_KERNEL)?;
    /// map.set_bit(4)?;
    /// assert_eq!(map.test_bit(4), Ok(true));
    /// assert_eq!(map.set_bit(10), Err(ERANGE));
    /// assert_eq!(map.weight(), 1);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn set_bit(&mut self, index: usize) -> Result {
        self.assign_bit(index, true)
    }

    /// Clears bit `index` (C's `__clear_bit()`).
    ///
    /// Returns [`ERANGE`] if `index` is not less than the length.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec = BitmapVec::new(10, GFP_KERNEL)?;
    /// map.fill();
    /// map.clear_bit(4)?;
    /// assert_eq!(map.test_bit(4), Ok(false));
    /// assert_eq!(map.clear_bit(10), Err(ERANGE));
    /// assert_eq!(map.weight(), 9);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn clear_bit(&mut self, index: usize) -> Result {
        self.assign_bit(index, false)
    }

    /// Sets bit `index` to `value` (C's `__assign_bit()`).
    ///
    /// Returns [`ERANGE`] if `index` is not less than the length.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec = BitmapVec::new(10, GFP_KERNEL)?;
    /// let bits = &mut *map;
    /// bits.assign_bit(3, true)?;
    /// assert_eq!(bits.test_bit(3), Ok(true));
    /// bits.assign_bit(3, false)?;
    /// assert_eq!(bits.test_bit(3), Ok(false));
    /// assert_eq!(bits.assign_bit(10, true), Err(ERANGE));
    /// assert_eq!(bits.weight(), 0);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn assign_bit(&mut self, index: usize, value: bool) -> Result {
        self.assign_bit_in_word(index, value).map(|_| ())
    }

    /// Sets bit `index` to `value` and returns the word that held it, as it was before.
    ///
    /// This is [`Bitmap::assign_bit`] and [`Bitmap::word`] in one read-modify-write of the
    /// word: a structure that keeps a summary of its words (e.g. one bit per full word) learns
    /// from the old word whether the change made the word full or not full any more. Bits past
    /// the length read as zero. Returns [`ERANGE`] if `index` is not less than the length.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let mut map: BitmapVec = BitmapVec::new(BITS_PER_LONG + 3, GFP_KERNEL)?;
    /// let bits = &mut *map;
    /// bits.set_range(0..BITS_PER_LONG - 1)?;
    /// // The old word tells that setting the last zero bit makes the word full.
    /// let old = bits.assign_bit_in_word(BITS_PER_LONG - 1, true)?;
    /// assert_eq!(old, usize::MAX >> 1);
    /// assert_eq!(bits.word(0), Some(usize::MAX));
    /// assert_eq!(bits.assign_bit_in_word(BITS_PER_LONG + 2, true), Ok(0));
    /// assert_eq!(bits.assign_bit_in_word(BITS_PER_LONG + 2, false), Ok(0b100));
    /// assert_eq!(bits.assign_bit_in_word(BITS_PER_LONG + 3, true), Err(ERANGE));
    /// assert_eq!(bits.word(1), Some(0));
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn assign_bit_in_word(&mut self, index: usize, value: bool) -> Result<usize> {
        let (word, bit) = self.locate(index)?;
        let old = word.load(Ordering::Relaxed);
        let new = if value {
            old | (1 << bit)
        } else {
            old & !(1 << bit)
        };
        word.store(new, Ordering::Relaxed);
        // Hide the tail bits of the last word, as `Bitmap::word` does.
        if index / BITS_PER_LONG + 1 == self.words().len() {
            Ok(old & last_word_mask(self.len()))
        } else {
            Ok(old)
        }
    }

    /// Sets or clears the bits of `range`.
    fn assign_range(&mut self, range: Range<usize>, value: bool) -> Result {
        if range.start > range.end {
            return Err(EINVAL);
        }
        if range.end > self.len() {
            return Err(ERANGE);
        }
        if range.is_empty() {
            return Ok(());
        }
        let first = range.start / BITS_PER_LONG;
        let last = (range.end - 1) / BITS_PER_LONG;
        let head = usize::MAX << (range.start % BITS_PER_LONG);
        let tail = last_word_mask(range.end);
        let words = self.words().iter().enumerate();
        for (i, word) in words.take(last + 1).skip(first) {
            let mut mask = usize::MAX;
            if i == first {
                mask &= head;
            }
            if i == last {
                mask &= tail;
            }
            let old = word.load(Ordering::Relaxed);
            let new = if value { old | mask } else { old & !mask };
            word.store(new, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Sets the bits of `range` (C's `bitmap_set()`).
    ///
    /// Returns [`EINVAL`] if the range starts after its end and [`ERANGE`] if it ends past the
    /// length; the bitmap is then unchanged. An empty range inside the bitmap is accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let mut map: BitmapVec = BitmapVec::new(3 * BITS_PER_LONG, GFP_KERNEL)?;
    /// let bits = &mut *map;
    /// bits.set_range(BITS_PER_LONG - 2..2 * BITS_PER_LONG + 2)?;
    /// assert_eq!(bits.weight(), BITS_PER_LONG + 4);
    /// assert_eq!(bits.first_bit(), Some(BITS_PER_LONG - 2));
    /// assert_eq!(bits.last_bit(), Some(2 * BITS_PER_LONG + 1));
    /// bits.set_range(5..5)?;
    /// assert_eq!(bits.set_range(0..3 * BITS_PER_LONG + 1), Err(ERANGE));
    /// let (start, end) = (6, 5);
    /// assert_eq!(bits.set_range(start..end), Err(EINVAL));
    /// assert_eq!(bits.weight(), BITS_PER_LONG + 4);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn set_range(&mut self, range: Range<usize>) -> Result {
        self.assign_range(range, true)
    }

    /// Clears the bits of `range` (C's `bitmap_clear()`).
    ///
    /// Returns [`EINVAL`] if the range starts after its end and [`ERANGE`] if it ends past the
    /// length; the bitmap is then unchanged. An empty range inside the bitmap is accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let mut map: BitmapVec = BitmapVec::new(2 * BITS_PER_LONG + 5, GFP_KERNEL)?;
    /// let bits = &mut *map;
    /// bits.fill();
    /// bits.clear_range(1..2 * BITS_PER_LONG + 4)?;
    /// assert_eq!(bits.iter_set_bits().nth(1), Some(2 * BITS_PER_LONG + 4));
    /// assert_eq!(bits.weight(), 2);
    /// assert_eq!(bits.clear_range(0..2 * BITS_PER_LONG + 6), Err(ERANGE));
    /// assert_eq!(bits.weight(), 2);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn clear_range(&mut self, range: Range<usize>) -> Result {
        self.assign_range(range, false)
    }

    /// Replaces every word by `f(index, word)`, then clears the tail bits.
    fn map_words(&mut self, mut f: impl FnMut(usize, usize) -> usize) {
        let tail = last_word_mask(self.len());
        let last = self.words().len().wrapping_sub(1);
        for (i, word) in self.words().iter().enumerate() {
            let mut new = f(i, word.load(Ordering::Relaxed));
            if i == last {
                new &= tail;
            }
            word.store(new, Ordering::Relaxed);
        }
    }

    /// Sets all the bits (C's `bitmap_fill()`).
    ///
    /// Unlike C's `bitmap_fill()`, which sets every bit of the last word, it leaves the bits of
    /// the last word past the length clear.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let mut map: BitmapVec = BitmapVec::new(BITS_PER_LONG + 1, GFP_KERNEL)?;
    /// map.fill();
    /// assert_eq!(map.weight(), BITS_PER_LONG + 1);
    /// assert_eq!(map.first_zero_bit(), None);
    /// assert_eq!(map.word(1), Some(1));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn fill(&mut self) {
        self.map_words(|_, _| usize::MAX);
    }

    /// Clears all the bits (C's `bitmap_zero()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec = BitmapVec::new(7, GFP_KERNEL)?;
    /// map.set_bit(6)?;
    /// map.zero();
    /// assert_eq!(map.first_bit(), None);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn zero(&mut self) {
        self.map_words(|_, _| 0);
    }

    /// Inverts all the bits (C's `bitmap_complement()` in place).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut map: BitmapVec = BitmapVec::new(5, GFP_KERNEL)?;
    /// map.set_bit(1)?;
    /// map.complement();
    /// assert_eq!(map.word(0), Some(0b11101));
    /// assert_eq!(map.weight(), 4);
    /// assert_eq!(map.next_bit(5), None);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn complement(&mut self) {
        self.map_words(|_, word| !word);
    }

    /// Copies `src` into this bitmap, which may be longer or shorter.
    ///
    /// The first `min(self.len(), src.len())` bits are copied from `src` and the remaining bits
    /// of this bitmap are cleared. This is how a bitmap is grown or shrunk into a new one.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let mut small: BitmapVec = BitmapVec::new(10, GFP_KERNEL)?;
    /// small.set_range(7..10)?;
    ///
    /// // Extend: the new bits are zero.
    /// let mut big: BitmapVec = BitmapVec::new(3 * BITS_PER_LONG, GFP_KERNEL)?;
    /// big.fill();
    /// big.copy_and_extend(&small);
    /// assert_eq!(big.weight(), 3);
    /// assert_eq!(big.last_bit(), Some(9));
    ///
    /// // Shrink: bits 8 and 9 are dropped.
    /// let mut tiny: BitmapVec = BitmapVec::new(8, GFP_KERNEL)?;
    /// tiny.copy_and_extend(&big);
    /// assert_eq!(tiny.word(0), Some(0x80));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn copy_and_extend(&mut self, src: &Bitmap) {
        let common = min(self.len(), src.len());
        let full_words = common / BITS_PER_LONG;
        let partial = last_word_mask(common);
        // `src` has a word `i` for every `i <= full_words` that is read below, as
        // `common <= src.len()`.
        let src_word = |i| match src.word(i) {
            Some(word) => word,
            None => {
                warn_on_once!(true);
                0
            }
        };
        self.map_words(|i, _| match i.cmp(&full_words) {
            CmpOrdering::Less => src_word(i),
            CmpOrdering::Equal if common % BITS_PER_LONG != 0 => src_word(i) & partial,
            _ => 0,
        });
    }

    /// Replaces every word `w` at index `i` by `op(w, other.word(i))`.
    ///
    /// Returns [`EINVAL`] if the lengths differ.
    fn combine(&mut self, other: &Bitmap, op: impl Fn(usize, usize) -> usize) -> Result {
        if self.len() != other.len() {
            return Err(EINVAL);
        }
        // The lengths are equal, so `other` has a word `i` for every word `i` of this bitmap.
        self.map_words(|i, word| match other.word(i) {
            Some(other) => op(word, other),
            None => {
                warn_on_once!(true);
                word
            }
        });
        Ok(())
    }

    /// Clears the bits that are not set in `other` (C's `bitmap_and()` in place).
    ///
    /// Returns [`EINVAL`] if the lengths differ; this bitmap is then unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut a: BitmapVec = BitmapVec::new(4, GFP_KERNEL)?;
    /// let mut b: BitmapVec = BitmapVec::new(4, GFP_KERNEL)?;
    /// a.set_range(0..2)?;
    /// b.set_range(1..3)?;
    /// a.and(&b)?;
    /// assert_eq!(a.word(0), Some(0b0010));
    ///
    /// let c: BitmapVec = BitmapVec::new(5, GFP_KERNEL)?;
    /// assert_eq!(a.and(&c), Err(EINVAL));
    /// assert_eq!(a.word(0), Some(0b0010));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn and(&mut self, other: &Bitmap) -> Result {
        self.combine(other, |a, b| a & b)
    }

    /// Sets the bits that are set in `other` (C's `bitmap_or()` in place).
    ///
    /// Returns [`EINVAL`] if the lengths differ; this bitmap is then unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut a: BitmapVec = BitmapVec::new(4, GFP_KERNEL)?;
    /// let mut b: BitmapVec = BitmapVec::new(4, GFP_KERNEL)?;
    /// a.set_range(0..2)?;
    /// b.set_range(1..3)?;
    /// a.or(&b)?;
    /// assert_eq!(a.word(0), Some(0b0111));
    ///
    /// let c: BitmapVec = BitmapVec::new(3, GFP_KERNEL)?;
    /// assert_eq!(a.or(&c), Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn or(&mut self, other: &Bitmap) -> Result {
        self.combine(other, |a, b| a | b)
    }

    /// Inverts the bits that are set in `other` (C's `bitmap_xor()` in place).
    ///
    /// Returns [`EINVAL`] if the lengths differ; this bitmap is then unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut a: BitmapVec = BitmapVec::new(4, GFP_KERNEL)?;
    /// let mut b: BitmapVec = BitmapVec::new(4, GFP_KERNEL)?;
    /// a.set_range(0..2)?;
    /// b.set_range(1..3)?;
    /// a.xor(&b)?;
    /// assert_eq!(a.word(0), Some(0b0101));
    ///
    /// let c: BitmapVec = BitmapVec::new(0, GFP_KERNEL)?;
    /// assert_eq!(a.xor(&c), Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn xor(&mut self, other: &Bitmap) -> Result {
        self.combine(other, |a, b| a ^ b)
    }

    /// Clears the bits that are set in `other` (C's `bitmap_andnot()` in place).
    ///
    /// Returns [`EINVAL`] if the lengths differ; this bitmap is then unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// let mut a: BitmapVec = BitmapVec::new(4, GFP_KERNEL)?;
    /// let mut b: BitmapVec = BitmapVec::new(4, GFP_KERNEL)?;
    /// a.set_range(0..2)?;
    /// b.set_range(1..3)?;
    /// a.andnot(&b)?;
    /// assert_eq!(a.word(0), Some(0b0001));
    ///
    /// let c: BitmapVec = BitmapVec::new(65, GFP_KERNEL)?;
    /// assert_eq!(a.andnot(&c), Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn andnot(&mut self, other: &Bitmap) -> Result {
        self.combine(other, |a, b| a & !b)
    }
}

/// The words of a [`BitmapVec`].
enum Storage<const INLINE_WORDS: usize> {
    Inline([AtomicUsize; INLINE_WORDS]),
    Heap(KVVec<AtomicUsize>),
}

/// An owned bitmap, stored inline when small and allocated otherwise.
///
/// A bitmap of up to [`INLINE_BITS`](BitmapVec::INLINE_BITS) bits, that is `INLINE_WORDS`
/// words, is stored in the [`BitmapVec`] itself and needs no allocation. A longer one is
/// allocated with `kvmalloc()` and the flags given to [`new`](BitmapVec::new). By default,
/// one word is stored inline; a larger `INLINE_WORDS` avoids allocations for larger bitmaps at the
/// cost of a larger [`BitmapVec`].
///
/// It dereferences to [`Bitmap`], which has the operations on the bits: through `&self` for
/// reads, searches and atomic operations, and through `&mut self` for non-atomic modifications.
///
/// Dropping a bitmap that is not inline (see [`is_inline`](BitmapVec::is_inline)) frees its
/// memory with `kvfree()`, which may sleep when the memory came from `vmalloc()`, as
/// `kvmalloc()` falls back to it for large sizes. Such a bitmap must therefore not be dropped in
/// atomic context, e.g. while holding a [`SpinLock`](crate::sync::SpinLock): move it out and drop
/// it after releasing the lock. Dropping an inline bitmap never sleeps.
///
/// # Invariants
///
/// - If `storage` is `Storage::Inline`, then `bits_to_longs(nbits) <= INLINE_WORDS`.
/// - If `storage` is `Storage::Heap`, then the vector has exactly `bits_to_longs(nbits)`
///   elements.
///
/// # Examples
///
/// ```
/// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
///
/// let mut map: BitmapVec = BitmapVec::new(BITS_PER_LONG, GFP_KERNEL)?;
/// assert!(map.is_inline());
/// map.set_bit(BITS_PER_LONG - 1)?;
///
/// // Grow it twofold.
/// map = map.clone_resized(2 * map.len(), GFP_KERNEL)?;
/// assert!(!map.is_inline());
/// assert_eq!(map.last_bit(), Some(BITS_PER_LONG - 1));
/// # // At and just past the inline capacity, for several inline sizes.
/// # for len in [0, 1, BITS_PER_LONG, BITS_PER_LONG + 1] {
/// #     let map: BitmapVec = BitmapVec::new(len, GFP_KERNEL)?;
/// #     assert_eq!(map.is_inline(), len <= BitmapVec::<1>::INLINE_BITS);
/// # }
/// # for len in [0, 2 * BITS_PER_LONG, 2 * BITS_PER_LONG + 1] {
/// #     let mut map: BitmapVec<2> = BitmapVec::new(len, GFP_KERNEL)?;
/// #     assert_eq!(map.is_inline(), len <= 2 * BITS_PER_LONG);
/// #     assert_eq!(map.len(), len);
/// #     map.fill();
/// #     assert_eq!(map.weight(), len);
/// #     assert_eq!(map.last_bit(), len.checked_sub(1));
/// #     assert_eq!(map.first_zero_bit(), None);
/// #     map.complement();
/// #     assert_eq!(map.weight(), 0);
/// #     assert_eq!(map.set_bit_atomic(len), Err(ERANGE));
/// # }
/// # let map: BitmapVec<0> = BitmapVec::new(1, GFP_KERNEL)?;
/// # assert!(!map.is_inline());
/// # let map: BitmapVec<0> = BitmapVec::new(0, GFP_KERNEL)?;
/// # assert!(map.is_inline());
/// # Ok::<(), Error>(())
/// ```
pub struct BitmapVec<const INLINE_WORDS: usize = 1> {
    storage: Storage<INLINE_WORDS>,
    nbits: usize,
}

impl<const INLINE_WORDS: usize> BitmapVec<INLINE_WORDS> {
    /// The largest length, in bits, that is stored inline.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// assert_eq!(BitmapVec::<1>::INLINE_BITS, BITS_PER_LONG);
    /// assert_eq!(BitmapVec::<4>::INLINE_BITS, 4 * BITS_PER_LONG);
    /// ```
    pub const INLINE_BITS: usize = INLINE_WORDS * BITS_PER_LONG;

    /// Creates a bitmap of `nbits` bits, all zero.
    ///
    /// It allocates memory with `flags` only if `nbits` is larger than
    /// [`INLINE_BITS`](BitmapVec::INLINE_BITS). A length of zero is valid.
    ///
    /// As generic parameters of a path in an expression are inferred rather than defaulted,
    /// the type is usually spelt out, e.g. `let map: BitmapVec = BitmapVec::new(...)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// // Never allocates, so `flags` do not matter.
    /// let small = BitmapVec::<4>::new(200, GFP_NOWAIT)?;
    /// assert!(small.is_inline());
    /// assert_eq!(small.weight(), 0);
    ///
    /// let large = BitmapVec::<4>::new(10_000, GFP_KERNEL)?;
    /// assert!(!large.is_inline());
    /// assert_eq!(large.first_bit(), None);
    /// assert_eq!(large.len(), 10_000);
    ///
    /// assert!(BitmapVec::<1>::new(usize::MAX, GFP_KERNEL | __GFP_NOWARN).is_err());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(nbits: usize, flags: Flags) -> Result<Self, AllocError> {
        if let Some(map) = Self::new_inline(nbits) {
            return Ok(map);
        }
        let nwords = bits_to_longs(nbits);
        let mut words = KVVec::with_capacity(nwords, flags)?;
        for _ in 0..nwords {
            words.push(AtomicUsize::new(0), flags)?;
        }
        // INVARIANT: The vector has `nwords` elements.
        Ok(Self {
            storage: Storage::Heap(words),
            nbits,
        })
    }

    /// Creates an inline bitmap of `nbits` bits, all zero, without allocating.
    ///
    /// Returns [`None`] if `nbits` is larger than [`INLINE_BITS`](BitmapVec::INLINE_BITS).
    /// Unlike [`new`](BitmapVec::new), it cannot fail otherwise, so it suits infallible
    /// constructors and atomic context. A length of zero is valid.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::BitmapVec;
    ///
    /// type Map = BitmapVec<2>;
    ///
    /// let full = Map::new_inline(Map::INLINE_BITS).ok_or(ENOMEM)?;
    /// assert!(full.is_inline());
    /// assert_eq!(full.len(), Map::INLINE_BITS);
    /// assert_eq!(full.weight(), 0);
    /// assert_eq!(full.first_zero_bit(), Some(0));
    ///
    /// assert!(Map::new_inline(Map::INLINE_BITS + 1).is_none());
    ///
    /// let empty = Map::new_inline(0).ok_or(ENOMEM)?;
    /// assert!(empty.is_inline());
    /// assert_eq!(empty.len(), 0);
    /// assert_eq!(empty.first_zero_bit(), None);
    ///
    /// let mut small = BitmapVec::<1>::new_inline(10).ok_or(ENOMEM)?;
    /// small.set_bit(9)?;
    /// assert_eq!(small.last_bit(), Some(9));
    /// assert_eq!(small.set_bit_atomic(10), Err(ERANGE));
    /// # assert!(BitmapVec::<1>::new_inline(usize::MAX).is_none());
    /// # assert!(BitmapVec::<0>::new_inline(0).is_some_and(|map| map.is_inline()));
    /// # assert!(BitmapVec::<0>::new_inline(1).is_none());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new_inline(nbits: usize) -> Option<Self> {
        if bits_to_longs(nbits) > INLINE_WORDS {
            return None;
        }
        // INVARIANT: `bits_to_longs(nbits) <= INLINE_WORDS`.
        Some(Self {
            storage: Storage::Inline(core::array::from_fn(|_| AtomicUsize::new(0))),
            nbits,
        })
    }

    /// Creates a copy of this bitmap with a length of `nbits` bits.
    ///
    /// As with [`Bitmap::copy_and_extend`], the common prefix is copied and the other bits are
    /// zero. It allocates memory with `flags` only if `nbits` is larger than
    /// [`INLINE_BITS`](BitmapVec::INLINE_BITS).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let mut map: BitmapVec = BitmapVec::new(3 * BITS_PER_LONG, GFP_KERNEL)?;
    /// map.set_bit(3)?;
    /// map.set_bit(2 * BITS_PER_LONG)?;
    ///
    /// let shrunk = map.clone_resized(BITS_PER_LONG, GFP_KERNEL)?;
    /// assert!(shrunk.is_inline());
    /// assert_eq!(shrunk.iter_set_bits().count(), 1);
    ///
    /// let grown = shrunk.clone_resized(4 * BITS_PER_LONG, GFP_KERNEL)?;
    /// assert_eq!(grown.last_bit(), Some(3));
    /// assert_eq!(grown.len(), 4 * BITS_PER_LONG);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn clone_resized(&self, nbits: usize, flags: Flags) -> Result<Self, AllocError> {
        let mut new = Self::new(nbits, flags)?;
        new.copy_and_extend(self);
        Ok(new)
    }

    /// Returns whether the bits are stored inline, i.e., without an allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bitmap::{BitmapVec, BITS_PER_LONG};
    ///
    /// let map: BitmapVec<2> = BitmapVec::new(2 * BITS_PER_LONG, GFP_KERNEL)?;
    /// assert!(map.is_inline());
    /// let map: BitmapVec<2> = BitmapVec::new(2 * BITS_PER_LONG + 1, GFP_KERNEL)?;
    /// assert!(!map.is_inline());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn is_inline(&self) -> bool {
        matches!(self.storage, Storage::Inline(_))
    }
}

/// Gives the operations of a shared [`Bitmap`]: reads, searches and atomic operations.
///
/// # Examples
///
/// ```
/// use kernel::bitmap::{Bitmap, BitmapVec};
///
/// fn first_free(map: &Bitmap) -> Option<usize> {
///     map.first_zero_bit()
/// }
///
/// let map: BitmapVec = BitmapVec::new(3, GFP_KERNEL)?;
/// map.set_bit_atomic(0)?;
/// assert_eq!(first_free(&map), Some(1));
/// # let inline: BitmapVec<2> = BitmapVec::new(128, GFP_KERNEL)?;
/// # let heap: BitmapVec<2> = BitmapVec::new(129, GFP_KERNEL)?;
/// # assert_eq!((inline.len(), heap.len()), (128, 129));
/// # assert!(!heap.as_ptr().is_null() && !inline.as_ptr().is_null());
/// # Ok::<(), Error>(())
/// ```
impl<const INLINE_WORDS: usize> Deref for BitmapVec<INLINE_WORDS> {
    type Target = Bitmap;

    #[inline]
    fn deref(&self) -> &Bitmap {
        let words = match &self.storage {
            Storage::Inline(words) => words.as_ptr(),
            Storage::Heap(words) => words.as_ptr(),
        };
        // SAFETY: By the type invariants, `words` points to at least `bits_to_longs(self.nbits)`
        // aligned words, owned by `self`, so valid for reads and writes while it is borrowed;
        // since it is shared, they are only accessed through shared references to its
        // `Bitmap`, with reads and atomic operations.
        unsafe { Bitmap::from_raw(words.cast(), self.nbits) }
    }
}

/// Gives the operations of an exclusive [`Bitmap`]: also non-atomic modifications.
///
/// # Examples
///
/// ```
/// use kernel::bitmap::{Bitmap, BitmapVec};
///
/// fn reserve_low(map: &mut Bitmap) -> Result {
///     map.set_range(0..4)
/// }
///
/// let mut map: BitmapVec = BitmapVec::new(3, GFP_KERNEL)?;
/// assert_eq!(reserve_low(&mut map), Err(ERANGE));
/// assert!(map.is_zero());
/// let mut map: BitmapVec<0> = BitmapVec::new(100, GFP_KERNEL)?;
/// reserve_low(&mut map)?;
/// assert_eq!(map.weight(), 4);
/// # Ok::<(), Error>(())
/// ```
impl<const INLINE_WORDS: usize> DerefMut for BitmapVec<INLINE_WORDS> {
    #[inline]
    fn deref_mut(&mut self) -> &mut Bitmap {
        let words = match &mut self.storage {
            Storage::Inline(words) => words.as_mut_ptr(),
            Storage::Heap(words) => words.as_mut_ptr(),
        };
        // SAFETY: By the type invariants, `words` points to at least `bits_to_longs(self.nbits)`
        // aligned words, owned by `self`, so valid for reads and writes while it is borrowed;
        // since it is borrowed exclusively, nobody else accesses them.
        unsafe { Bitmap::from_raw_mut(words.cast(), self.nbits) }
    }
}

/// Creates an empty inline bitmap, of length zero.
///
/// # Examples
///
/// ```
/// use kernel::bitmap::BitmapVec;
///
/// let map: BitmapVec<2> = BitmapVec::default();
/// assert_eq!(map.len(), 0);
/// assert!(map.is_inline());
/// assert_eq!(BitmapVec::<1>::new_inline(3).unwrap_or_default().len(), 3);
/// assert_eq!(BitmapVec::<1>::new_inline(65_536).unwrap_or_default().len(), 0);
/// ```
impl<const INLINE_WORDS: usize> Default for BitmapVec<INLINE_WORDS> {
    fn default() -> Self {
        // INVARIANT: `bits_to_longs(0) == 0 <= INLINE_WORDS`.
        Self {
            storage: Storage::Inline(core::array::from_fn(|_| AtomicUsize::new(0))),
            nbits: 0,
        }
    }
}

impl<const N: usize, const M: usize> PartialEq<BitmapVec<M>> for BitmapVec<N> {
    fn eq(&self, other: &BitmapVec<M>) -> bool {
        **self == **other
    }
}

impl<const INLINE_WORDS: usize> fmt::Debug for BitmapVec<INLINE_WORDS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_bitmap("BitmapVec", self, f)
    }
}
