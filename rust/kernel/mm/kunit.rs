// SPDX-License-Identifier: GPL-2.0

//! KUnit-only support for tests that use real user memory.
//!
//! C header: [`include/kunit/test.h`](srctree/include/kunit/test.h).
//!
//! [`vm_mmap`] creates a mapping in the address space of the thread running the current KUnit
//! test (giving it one first, if needed), and [`TestFileMapping`] is a file whose `mmap` hook
//! is a Rust function, to test code that works on a [`VmaNew`] or a [`VmaMixedMap`]. Mappings
//! are torn down with the test thread's address space at the end of the test.
//!
//! [`VmaMixedMap`]: super::virt::VmaMixedMap

use super::{virt::VmaNew, Mm};
use crate::{
    bindings, c_str,
    error::{code::*, from_err_ptr, Error, Result},
    ffi::{c_int, c_void},
};
use core::{marker::PhantomData, ptr::NonNull};

/// Pages may not be accessed.
pub const PROT_NONE: usize = bindings::PROT_NONE as usize;
/// Pages may be read.
pub const PROT_READ: usize = bindings::PROT_READ as usize;
/// Pages may be written.
pub const PROT_WRITE: usize = bindings::PROT_WRITE as usize;
/// Pages may be executed.
pub const PROT_EXEC: usize = bindings::PROT_EXEC as usize;
/// Changes are shared with other mappings of the same file.
pub const MAP_SHARED: usize = bindings::MAP_SHARED as usize;
/// Changes are private (copy-on-write).
pub const MAP_PRIVATE: usize = bindings::MAP_PRIVATE as usize;

/// Returns the `mm_users` count of `mm` (for checking that references are balanced).
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit::{self, mm_users}, with_current_mm};
///
/// kunit::vm_mmap(None, 4096, kunit::PROT_READ, kunit::MAP_PRIVATE)?;
/// with_current_mm(|mm| {
///     let mm = mm.unwrap();
///     let before = mm_users(mm);
///     assert!(before >= 1);
///     let user = mm.mmget();
///     assert_eq!(mm_users(mm), before + 1);
///     drop(user);
///     assert_eq!(mm_users(mm), before);
/// });
/// # Ok::<(), Error>(())
/// ```
pub fn mm_users(mm: &Mm) -> i32 {
    // SAFETY: By the type invariant of `Mm`, the mm is valid; the counter is read once, like
    // `atomic_read`.
    unsafe { core::ptr::addr_of!((*mm.as_raw()).__bindgen_anon_1.mm_users.counter).read_volatile() }
}

/// Returns the `mm_count` count of `mm` (for checking that references are balanced).
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit::{self, mm_count}, with_current_mm};
///
/// kunit::vm_mmap(None, 4096, kunit::PROT_READ, kunit::MAP_PRIVATE)?;
/// with_current_mm(|mm| {
///     let mm = mm.unwrap();
///     let before = mm_count(mm);
///     assert!(before >= 1);
///     let grabbed = mm.mmgrab();
///     assert_eq!(mm_count(mm), before + 1);
///     drop(grabbed);
///     assert_eq!(mm_count(mm), before);
/// });
/// # Ok::<(), Error>(())
/// ```
pub fn mm_count(mm: &Mm) -> i32 {
    // SAFETY: By the type invariant of `Mm`, the mm is valid; the counter is read once, like
    // `atomic_read`.
    unsafe {
        core::ptr::addr_of!(
            (*mm.as_raw())
                .__bindgen_anon_1
                .__bindgen_anon_1
                .mm_count
                .counter
        )
        .read_volatile()
    }
}

/// Maps `len` bytes in the current KUnit test thread's address space (`kunit_vm_mmap`).
///
/// If the thread has no address space yet, it gets one (then [`super::with_current_mm`] sees
/// it). `file` is the file to map, or `None` for anonymous memory. Returns the address of the
/// mapping, `EINVAL` outside a KUnit test, or the error of `mmap` (e.g. the one returned by
/// the file's `mmap` hook).
///
/// # Examples
///
/// ```
/// use kernel::mm::kunit;
/// use kernel::uaccess::UserSlice;
///
/// let addr = kunit::vm_mmap(None, 4096, kunit::PROT_READ | kunit::PROT_WRITE,
///     kunit::MAP_PRIVATE)?;
/// UserSlice::new(addr, 3).writer().write_slice(b"abc")?;
/// let mut buf = [0u8; 3];
/// UserSlice::new(addr, 3).reader().read_slice(&mut buf)?;
/// assert_eq!(&buf, b"abc");
/// assert_eq!(kunit::vm_mmap(None, 0, kunit::PROT_READ, kunit::MAP_PRIVATE), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
pub fn vm_mmap(
    file: Option<&TestFileMapping>,
    len: usize,
    prot: usize,
    flags: usize,
) -> Result<usize> {
    vm_mmap_raw(file, len, prot, flags, 0)
}

fn vm_mmap_raw(
    file: Option<&TestFileMapping>,
    len: usize,
    prot: usize,
    flags: usize,
    offset: usize,
) -> Result<usize> {
    // SAFETY: `kunit_get_current_test` has no preconditions.
    let test = unsafe { bindings::kunit_get_current_test() };
    if test.is_null() {
        return Err(EINVAL);
    }
    let file = file.map_or(core::ptr::null_mut(), |f| f.file.as_ptr());
    // SAFETY: `test` is the running test, and we are running in its thread; `file` is NULL or a
    // file we hold a reference to.
    let addr = unsafe { bindings::kunit_vm_mmap(test, file, 0, len, prot, flags, offset) };
    // `vm_mmap` returns a negative errno cast to an address on failure, and `kunit_vm_mmap`
    // passes it on; it returns 0 if it could not set up the mapping at all.
    if addr == 0 {
        Err(ENOMEM)
    } else if addr >= (-(bindings::MAX_ERRNO as isize)) as usize {
        Err(Error::from_errno(addr as isize as c_int))
    } else {
        Ok(addr)
    }
}

/// The `mmap` hook of a [`TestFileMapping`].
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit, virt::VmaNew};
///
/// struct Refuse;
/// impl kunit::TestMmapHook for Refuse {
///     fn mmap(_vma: &VmaNew) -> Result {
///         Err(ENODEV)
///     }
/// }
///
/// let file = kunit::TestFileMapping::new::<Refuse>()?;
/// assert_eq!(file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED), Err(ENODEV));
/// # Ok::<(), Error>(())
/// ```
pub trait TestMmapHook {
    /// Called from `mmap` with the new VMA; an error makes `mmap` fail with it.
    fn mmap(vma: &VmaNew) -> Result;
}

/// An [`TestMmapHook`] that makes the mapping a mixed map (`VM_MIXEDMAP`) that cannot be grown
/// (`VM_DONTEXPAND`), as a driver inserting its own pages does.
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit, virt::flags, with_current_mm};
///
/// let file = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
/// let addr = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
/// with_current_mm(|mm| {
///     let guard = mm.unwrap().mmap_read_lock();
///     let want = flags::MIXEDMAP | flags::DONTEXPAND;
///     assert_eq!(guard.vma_lookup(addr).unwrap().flags() & want, want);
/// });
/// # Ok::<(), Error>(())
/// ```
pub struct MixedMapHook;

impl TestMmapHook for MixedMapHook {
    fn mmap(vma: &VmaNew) -> Result {
        vma.set_dontexpand();
        vma.set_mixedmap();
        Ok(())
    }
}

/// The `file_operations::mmap` hook calling `H::mmap`.
///
/// # Safety
///
/// Must only be called by the kernel as the `mmap` hook of a file.
unsafe extern "C" fn mmap_hook<H: TestMmapHook>(
    _file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: We are the `mmap` hook and `vma` is the VMA passed to it; the reference does not
    // outlive this call.
    let vma = unsafe { VmaNew::from_raw(vma) };
    match H::mmap(vma) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

struct Fops<H>(PhantomData<H>);

impl<H: TestMmapHook> Fops<H> {
    const FOPS: bindings::file_operations = bindings::file_operations {
        mmap: Some(mmap_hook::<H>),
        // SAFETY: All-zero is a valid `file_operations`: no owner and no other hooks.
        ..unsafe { core::mem::MaybeUninit::zeroed().assume_init() }
    };
}

/// An anonymous-inode file whose `mmap` hook is `H::mmap` for a [`TestMmapHook`] `H`.
///
/// The file is opened read-write, so shared writable mappings are allowed (unless the hook
/// refuses them). A mapping keeps its own reference to the file, so the `TestFileMapping` may
/// be dropped while mappings exist.
///
/// # Invariants
///
/// `file` is a file created by `anon_inode_getfile` with `Fops::<H>::FOPS` for some `H`, and we
/// own a reference to it.
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit, with_current_mm};
///
/// let file = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
/// let addr = file.mmap(2 * 4096, kunit::PROT_READ | kunit::PROT_WRITE, kunit::MAP_SHARED)?;
/// drop(file);
/// with_current_mm(|mm| {
///     let guard = mm.unwrap().mmap_read_lock();
///     let vma = guard.vma_lookup(addr).unwrap();
///     assert_eq!(vma.end() - vma.start(), 2 * 4096);
///     // SAFETY: The mmap read lock is held.
///     assert!(!unsafe { (*vma.as_ptr()).vm_file }.is_null());
/// });
/// # Ok::<(), Error>(())
/// ```
pub struct TestFileMapping {
    file: NonNull<bindings::file>,
}

impl TestFileMapping {
    /// Creates a file whose `mmap` hook is `H::mmap`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::kunit;
    ///
    /// let file = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
    /// assert!(!file.as_ptr().is_null());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new<H: TestMmapHook>() -> Result<Self> {
        let fops: &'static bindings::file_operations = &Fops::<H>::FOPS;
        // SAFETY: The name is a NUL-terminated string, `fops` lives forever and has no owner
        // module; no private data is used.
        let file = from_err_ptr(unsafe {
            bindings::anon_inode_getfile(
                c_str!("rust-mm-kunit").as_char_ptr(),
                fops,
                core::ptr::null_mut::<c_void>(),
                bindings::O_RDWR as c_int,
            )
        })?;
        // INVARIANT: `anon_inode_getfile` returned a new file with `fops`, and we own its
        // reference.
        Ok(Self {
            file: NonNull::new(file).ok_or(ENOMEM)?,
        })
    }

    /// Returns the raw `struct file` pointer.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::kunit;
    ///
    /// let a = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
    /// let b = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
    /// assert_ne!(a.as_ptr(), b.as_ptr());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn as_ptr(&self) -> *mut bindings::file {
        self.file.as_ptr()
    }

    /// Maps `len` bytes of the file at offset 0 into the test thread's address space.
    ///
    /// See [`vm_mmap`] for the return value.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::kunit;
    ///
    /// let file = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
    /// let a = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// let b = file.mmap(4096, kunit::PROT_READ, kunit::MAP_SHARED)?;
    /// assert_ne!(a, b);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn mmap(&self, len: usize, prot: usize, flags: usize) -> Result<usize> {
        vm_mmap_raw(Some(self), len, prot, flags, 0)
    }

    /// Maps `len` bytes of the file at byte offset `offset` (a multiple of the page size).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::kunit;
    ///
    /// let file = kunit::TestFileMapping::new::<kunit::MixedMapHook>()?;
    /// assert!(file.mmap_at(4096, kunit::PROT_READ, kunit::MAP_SHARED, 8192).is_ok());
    /// assert_eq!(file.mmap_at(4096, kunit::PROT_READ, kunit::MAP_SHARED, 100), Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn mmap_at(&self, len: usize, prot: usize, flags: usize, offset: usize) -> Result<usize> {
        vm_mmap_raw(Some(self), len, prot, flags, offset)
    }
}

impl Drop for TestFileMapping {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, we own a reference to the file.
        unsafe { bindings::fput(self.file.as_ptr()) };
    }
}
