// SPDX-License-Identifier: GPL-2.0

//! An address space reference that can be dropped in atomic context.
//!
//! C header: [`include/linux/sched/mm.h`](srctree/include/linux/sched/mm.h).

use super::{Mm, MmWithUser};
use crate::{
    bindings,
    types::{ARef, AlwaysRefCounted},
};
use core::{ops::Deref, ptr::NonNull};

/// An `mm_users` reference whose release uses `mmput_async`.
///
/// Dropping the last `mm_users` reference tears the address space down, which sleeps. `mmput`
/// does that right away, so an [`ARef<MmWithUser>`] must not be dropped in atomic context
/// (under a spinlock, in an RCU read-side section, with interrupts disabled). `mmput_async`
/// defers the teardown to a workqueue and never sleeps. Use `ARef<MmWithUserAsync>` for
/// references that may be released while holding a spinlock, e.g. when an object owning one is
/// removed from a list under a spinlock and freed there. It derefs to [`MmWithUser`] and is
/// created from an `ARef<MmWithUser>` ([`MmWithUser::into_mmput_async`] or `From`).
///
/// # Invariants
///
/// The `mm_struct` is valid and its `mm_users` is non-zero for as long as the `MmWithUserAsync`
/// is accessible.
///
/// # Examples
///
/// ```
/// use kernel::mm::{kunit::mm_users, with_current_mm, MmWithUserAsync};
/// use kernel::sync::{new_spinlock, Arc};
/// use kernel::types::ARef;
///
/// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
/// #     kernel::mm::kunit::MAP_PRIVATE)?;
/// let user = with_current_mm(|mm| mm.unwrap().mmget());
/// let users = mm_users(&user);
/// let extra: ARef<MmWithUserAsync> = user.clone().into();
/// assert_eq!(mm_users(&user), users + 1);
///
/// let slot = Arc::pin_init(new_spinlock!(Some(extra)), GFP_KERNEL)?;
/// // Dropping it under a spinlock is fine.
/// *slot.lock() = None;
/// assert_eq!(mm_users(&user), users);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct MmWithUserAsync {
    mm: MmWithUser,
}

// SAFETY: `mmget`/`mmput_async` may be called from any thread, and an `MmWithUserAsync` only
// gives access to operations that are safe to call from any thread.
unsafe impl Send for MmWithUserAsync {}
// SAFETY: All methods on `&MmWithUserAsync` are safe to call concurrently from several threads.
unsafe impl Sync for MmWithUserAsync {}

// SAFETY: By the type invariant, `mm_users` is non-zero, so `mmget` may take another
// reference; `mmput_async` releases one, and the address space is torn down only when the last
// one is gone.
unsafe impl AlwaysRefCounted for MmWithUserAsync {
    fn inc_ref(&self) {
        // SAFETY: By the type invariant, the mm is valid and `mm_users` is non-zero.
        unsafe { bindings::mmget(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns one `mm_users` reference, which is given back here.
        unsafe { bindings::mmput_async(obj.cast::<bindings::mm_struct>().as_ptr()) };
    }
}

impl Deref for MmWithUserAsync {
    type Target = MmWithUser;

    #[inline]
    fn deref(&self) -> &MmWithUser {
        &self.mm
    }
}

impl From<ARef<MmWithUser>> for ARef<MmWithUserAsync> {
    /// Converts the reference without touching the reference count.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit::mm_users, with_current_mm, MmWithUserAsync};
    /// use kernel::types::ARef;
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// with_current_mm(|mm| {
    ///     let mm = mm.unwrap();
    ///     let users = mm_users(mm);
    ///     let sync = mm.mmget();
    ///     let asynch = ARef::<MmWithUserAsync>::from(sync);
    ///     assert_eq!(mm_users(mm), users + 1);
    ///     assert_eq!(asynch.as_raw(), mm.as_raw());
    ///     drop(asynch);
    ///     assert_eq!(mm_users(mm), users);
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    fn from(mm: ARef<MmWithUser>) -> Self {
        let ptr = ARef::into_raw(mm);
        // INVARIANT: The `mm_users` reference owned by `mm` is handed over, so it stays
        // non-zero while the new `ARef` exists.
        // SAFETY: `MmWithUserAsync` is a transparent wrapper of `MmWithUser`, and we own the
        // reference `ptr` came with.
        unsafe { ARef::from_raw(ptr.cast()) }
    }
}

impl MmWithUser {
    /// Converts an `mm_users` reference into one that is released with `mmput_async`, without
    /// touching the reference count.
    ///
    /// This is the same as `ARef::<MmWithUserAsync>::from(me)`, under the name upstream Linux
    /// uses.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{kunit::mm_users, with_current_mm, MmWithUser};
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// let user = with_current_mm(|mm| mm.unwrap().mmget());
    /// let users = mm_users(&user);
    /// let asynch = MmWithUser::into_mmput_async(user.clone());
    /// assert_eq!(mm_users(&user), users + 1);
    /// assert_eq!(asynch.as_raw(), user.as_raw());
    /// drop(asynch);
    /// assert_eq!(mm_users(&user), users);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn into_mmput_async(me: ARef<MmWithUser>) -> ARef<MmWithUserAsync> {
        ARef::from(me)
    }
}

impl MmWithUserAsync {
    /// Returns the `mm_count` view of this mm.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::mm::{with_current_mm, MmWithUserAsync};
    /// use kernel::types::ARef;
    ///
    /// # kernel::mm::kunit::vm_mmap(None, 4096, kernel::mm::kunit::PROT_READ,
    /// #     kernel::mm::kunit::MAP_PRIVATE)?;
    /// let mm: ARef<MmWithUserAsync> = with_current_mm(|mm| mm.unwrap().mmget()).into();
    /// let grabbed = mm.as_mm().mmgrab();
    /// assert_eq!(grabbed.as_raw(), mm.as_raw());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn as_mm(&self) -> &Mm {
        &self.mm
    }
}
