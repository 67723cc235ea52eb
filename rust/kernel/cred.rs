// SPDX-License-Identifier: GPL-2.0

//! Credentials and user ids.
//!
//! A [`Kuid`] is a user id as the kernel keeps it, the same in every user namespace; user space
//! sees it mapped into its own user namespace. A [`Credential`] is a reference-counted set of
//! ids and rights that a task or an open file carries.
//!
//! C headers: [`include/linux/cred.h`](srctree/include/linux/cred.h) and
//! [`include/linux/uidgid.h`](srctree/include/linux/uidgid.h).

use crate::{
    bindings,
    types::{AlwaysRefCounted, Opaque},
};
use core::{cmp::Ordering, fmt, ptr::NonNull};

/// A user id as the kernel sees it (C's `kuid_t`).
///
/// Two `Kuid`s are compared directly, whatever the user namespace of the tasks they come from.
/// To tell a user id to user space, map it into the user namespace of the task that receives it,
/// with [`Kuid::into_uid_in_current_ns`] when that task is the current one.
///
/// # Examples
///
/// ```
/// use kernel::cred::Kuid;
///
/// // KUnit tests run in a kernel thread, as root of the initial user namespace.
/// let euid = Kuid::current_euid();
/// assert!(euid == current!().euid());
/// assert_eq!(euid.into_uid_in_current_ns(), 0);
///
/// let user = Kuid::from_raw(kernel::bindings::kuid_t { val: 1000 });
/// assert!(user != euid);
/// assert!(euid < user);
/// assert_eq!(user.into_uid_in_current_ns(), 1000);
/// assert_eq!(user.into_raw().val, 1000);
/// ```
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct Kuid {
    kuid: bindings::kuid_t,
}

impl Kuid {
    /// Returns the effective user id of the current task (C's `current_euid()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::cred::Kuid;
    ///
    /// assert!(Kuid::current_euid() == current!().get_cred().euid());
    /// ```
    #[inline]
    pub fn current_euid() -> Kuid {
        // SAFETY: `current_euid()` only reads the credentials of the current task, which are
        // valid while it runs.
        Kuid::from_raw(unsafe { bindings::current_euid() })
    }

    /// Creates a `Kuid` from a C `kuid_t`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, cred::Kuid};
    ///
    /// let kuid = Kuid::from_raw(bindings::kuid_t { val: 7 });
    /// assert_eq!(kuid.into_raw().val, 7);
    /// ```
    #[inline]
    pub fn from_raw(kuid: bindings::kuid_t) -> Self {
        Self { kuid }
    }

    /// Returns the C `kuid_t` of this user id.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::cred::Kuid;
    ///
    /// let raw = Kuid::current_euid().into_raw();
    /// assert!(Kuid::from_raw(raw) == Kuid::current_euid());
    /// ```
    #[inline]
    pub fn into_raw(self) -> bindings::kuid_t {
        self.kuid
    }

    /// Returns this user id as the current task's user namespace shows it (C's
    /// `from_kuid(current_user_ns(), kuid)`).
    ///
    /// A user id that has no mapping in that namespace gives `(uid_t)-1`, as in C.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, cred::Kuid};
    ///
    /// // The current task is in the initial user namespace, where every id maps to itself.
    /// let kuid = Kuid::from_raw(bindings::kuid_t { val: 4242 });
    /// assert_eq!(kuid.into_uid_in_current_ns(), 4242);
    /// ```
    #[inline]
    pub fn into_uid_in_current_ns(self) -> bindings::uid_t {
        // SAFETY: The current task's user namespace is valid while it runs, and `from_kuid`
        // accepts any `kuid_t`.
        unsafe { bindings::from_kuid(bindings::current_user_ns(), self.kuid) }
    }
}

impl PartialEq for Kuid {
    #[inline]
    fn eq(&self, other: &Kuid) -> bool {
        // C's `uid_eq()` compares the values.
        self.kuid.val == other.kuid.val
    }
}

impl Eq for Kuid {}

impl PartialOrd for Kuid {
    #[inline]
    fn partial_cmp(&self, other: &Kuid) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kuid {
    /// Orders user ids by value, as C's `uid_lt()` and `uid_gt()` do.
    #[inline]
    fn cmp(&self, other: &Kuid) -> Ordering {
        self.kuid.val.cmp(&other.kuid.val)
    }
}

impl fmt::Debug for Kuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kuid({})", self.kuid.val)
    }
}

/// Wraps the kernel's `struct cred`, the ids and rights of a task or an open file.
///
/// Credentials do not change once they are shared: a task that changes its ids installs a new
/// `struct cred`.
///
/// # Invariants
///
/// Instances are valid credentials created by the C portion of the kernel, and always reference
/// counted: a call to `get_cred` keeps them alive until the matching call to `put_cred`.
///
/// # Examples
///
/// ```
/// use kernel::{cred::{Credential, Kuid}, types::ARef};
///
/// let cred: ARef<Credential> = current!().get_cred();
/// assert!(cred.euid() == Kuid::current_euid());
/// let copy = cred.clone();
/// assert!(core::ptr::eq(copy.as_ptr(), cred.as_ptr()));
/// ```
#[repr(transparent)]
pub struct Credential(Opaque<bindings::cred>);

// SAFETY: A `Credential` is only reached through a reference or an `ARef`, and its reference
// count may be dropped from any thread (`put_cred` frees it through RCU).
unsafe impl Send for Credential {}

// SAFETY: The fields of a shared `struct cred` do not change, and its reference count is atomic,
// so references may be used from several threads at once.
unsafe impl Sync for Credential {}

impl Credential {
    /// Creates a reference to a [`Credential`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// The caller must ensure that `ptr` is valid and remains valid for the lifetime of the
    /// returned [`Credential`] reference.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::cred::Credential;
    ///
    /// let cred = current!().get_cred();
    /// // SAFETY: `cred` keeps the credentials alive while `borrowed` is used.
    /// let borrowed = unsafe { Credential::from_ptr(cred.as_ptr()) };
    /// assert!(borrowed.euid() == cred.euid());
    /// ```
    #[inline]
    pub unsafe fn from_ptr<'a>(ptr: *const bindings::cred) -> &'a Credential {
        // SAFETY: The safety requirements guarantee the validity of the dereference, while the
        // `Credential` type being transparent makes the cast ok.
        unsafe { &*ptr.cast() }
    }

    /// Returns a raw pointer to the `struct cred`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cred = current!().get_cred();
    /// assert!(!cred.as_ptr().is_null());
    /// ```
    #[inline]
    pub fn as_ptr(&self) -> *const bindings::cred {
        self.0.get()
    }

    /// Returns the effective user id of these credentials.
    ///
    /// # Examples
    ///
    /// ```
    /// let cred = current!().get_cred();
    /// assert!(cred.euid() == current!().euid());
    /// ```
    #[inline]
    pub fn euid(&self) -> Kuid {
        // SAFETY: By the type invariant, `self.0` is a valid `struct cred`, whose fields do not
        // change while it is shared.
        Kuid::from_raw(unsafe { (*self.0.get()).euid })
    }

    /// Returns the real user id of these credentials.
    ///
    /// # Examples
    ///
    /// ```
    /// let cred = current!().get_cred();
    /// assert!(cred.uid() == current!().uid());
    /// ```
    #[inline]
    pub fn uid(&self) -> Kuid {
        // SAFETY: By the type invariant, `self.0` is a valid `struct cred`, whose fields do not
        // change while it is shared.
        Kuid::from_raw(unsafe { (*self.0.get()).uid })
    }
}

// SAFETY: The type invariants guarantee that `Credential` is always reference counted.
unsafe impl AlwaysRefCounted for Credential {
    #[inline]
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference means that the reference count is nonzero.
        unsafe { bindings::get_cred(self.0.get()) };
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Credential>) {
        // SAFETY: The safety requirements guarantee that the reference count is nonzero. The
        // `Credential` type being transparent makes the cast ok.
        unsafe { bindings::put_cred(obj.cast().as_ptr()) };
    }
}
