//! Memory that forked children share with the parent: counters and flags in a shared
//! anonymous mapping.

use std::ops::Deref;
use vmtest::fd::errno;

/// Values whose all-zero bytes are valid: what a new anonymous mapping holds.
///
/// # Safety
///
/// Only for types for which all-zero bytes are a valid value (atomics, integers, arrays and
/// `repr(C)` structures of them).
pub unsafe trait Zeroed {}

// SAFETY: an all-zero `AtomicU64` is 0.
unsafe impl Zeroed for std::sync::atomic::AtomicU64 {}
// SAFETY: an array of zeroed values is a zeroed array.
unsafe impl<T: Zeroed, const N: usize> Zeroed for [T; N] {}

/// `len` values of `T` in a shared anonymous mapping, zeroed; unmapped when dropped. The
/// children forked while it exists see the same memory.
///
/// # Invariants
///
/// `ptr` is the start of a shared mapping of `len` values of `T`, which lives as long as `self`.
pub struct Shm<T: Zeroed> {
    ptr: *mut T,
    len: usize,
}

impl<T: Zeroed> Shm<T> {
    /// A new mapping of one `T`.
    pub fn new() -> Result<Shm<T>, String> {
        Shm::array(1)
    }

    /// A new mapping of `len` values of `T` (`len` > 0).
    pub fn array(len: usize) -> Result<Shm<T>, String> {
        let bytes = std::mem::size_of::<T>() * len.max(1);
        // SAFETY: a new shared anonymous mapping at an address the kernel chooses.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(format!("mmap of {bytes} shared bytes: errno {}", errno()));
        }
        Ok(Shm {
            ptr: p.cast(),
            len: len.max(1),
        })
    }

    /// The `i`-th value.
    pub fn get(&self, i: usize) -> &T {
        assert!(i < self.len);
        // SAFETY: `i` is within the mapping (type invariant), whose zeroed bytes are a valid
        // `T` (`T: Zeroed`); it lives as long as `self`.
        unsafe { &*self.ptr.add(i) }
    }
}

impl<T: Zeroed> Deref for Shm<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.get(0)
    }
}

impl<T: Zeroed> Drop for Shm<T> {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours (type invariant) and no reference into it outlives `self`.
        unsafe { libc::munmap(self.ptr.cast(), std::mem::size_of::<T>() * self.len) };
    }
}
