// SPDX-License-Identifier: GPL-2.0

//! Module parameters whose value is one of a fixed list of names.
//!
//! C header: [`include/linux/moduleparam.h`](srctree/include/linux/moduleparam.h)
//!
//! The `module!` macro of this kernel declares no parameters.
//! [`module_param_choice!`](crate::module_param_choice) declares one the way C's
//! `module_param_cb()` does: a `struct kernel_param` in the `__param` section,
//! which the module loader (or, for built-in code, the boot command line) sets with
//! `name=value`, and the `parm` and `parmtype` modinfo strings that `modinfo` shows. The
//! parameter appears as `/sys/module/<module>/parameters/<name>` with the permissions it is
//! declared with; if those let root write it, a write there sets it too.
//!
//! Only one kind of parameter is provided, [`Choice`]: a value out of a list of names, such as
//! a driver's choice of algorithm. Its value is an index stored atomically, so a driver may read
//! it at any time, also while root writes it.

use crate::{
    bindings,
    error::{code::EINVAL, Result},
    ffi::{c_char, c_int},
    page::PAGE_SIZE,
    str::CStr,
};
use core::sync::atomic::{AtomicUsize, Ordering};

/// A module parameter whose value is one of a fixed list of names; the first is the default.
///
/// Declare it with [`module_param_choice!`](crate::module_param_choice), which also registers
/// it.
///
/// # Invariants
///
/// `index` is 0 (the default) or `1 + ` the position of the value in `others`.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, module_param::Choice};
///
/// static MODE: Choice = Choice::new(c_str!("fast"), &[c_str!("careful")]);
/// assert_eq!(MODE.value().as_bytes(), b"fast");
/// MODE.set(b"careful")?;
/// assert_eq!(MODE.index(), 1);
/// # Ok::<(), Error>(())
/// ```
pub struct Choice {
    default: &'static CStr,
    others: &'static [&'static CStr],
    index: AtomicUsize,
}

impl Choice {
    /// A parameter that can take the value `default`, which it has now, or one of `others`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, module_param::Choice};
    ///
    /// static LEVEL: Choice = Choice::new(c_str!("low"), &[c_str!("high")]);
    /// assert_eq!(LEVEL.index(), 0);
    /// static ONLY: Choice = Choice::new(c_str!("on"), &[]);
    /// assert_eq!(ONLY.value().as_bytes(), b"on");
    /// ```
    pub const fn new(default: &'static CStr, others: &'static [&'static CStr]) -> Self {
        // INVARIANT: the index is 0, the default.
        Choice {
            default,
            others,
            index: AtomicUsize::new(0),
        }
    }

    /// The position of the current value: 0 for the default, `1 + i` for the `i`-th of the
    /// others.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, module_param::Choice};
    ///
    /// static LEVEL: Choice = Choice::new(c_str!("low"), &[c_str!("medium"), c_str!("high")]);
    /// LEVEL.set(b"high")?;
    /// assert_eq!(LEVEL.index(), 2);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn index(&self) -> usize {
        self.index.load(Ordering::Relaxed)
    }

    /// The current value.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, module_param::Choice};
    ///
    /// static LEVEL: Choice = Choice::new(c_str!("low"), &[c_str!("high")]);
    /// assert_eq!(LEVEL.value().as_bytes(), b"low");
    /// ```
    pub fn value(&self) -> &'static CStr {
        match self.index() {
            0 => self.default,
            // By the type invariants the position is in bounds.
            i => self.others.get(i - 1).copied().unwrap_or(self.default),
        }
    }

    /// Sets the value named `name` (one trailing newline, as a write to sysfs has, is ignored).
    /// `EINVAL` and no change for a name that is not one of the values.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, module_param::Choice};
    ///
    /// static LEVEL: Choice = Choice::new(c_str!("low"), &[c_str!("high")]);
    /// assert_eq!(LEVEL.set(b"high\n"), Ok(()));
    /// assert_eq!(LEVEL.set(b"medium"), Err(EINVAL));
    /// assert_eq!(LEVEL.set(b"high\n\n"), Err(EINVAL));
    /// assert_eq!(LEVEL.value().as_bytes(), b"high");
    /// assert_eq!(LEVEL.set(b"low"), Ok(()));
    /// assert_eq!(LEVEL.index(), 0);
    /// ```
    pub fn set(&self, name: &[u8]) -> Result {
        let name = name.strip_suffix(b"\n").unwrap_or(name);
        let index = if self.default.as_bytes() == name {
            0
        } else {
            1 + self
                .others
                .iter()
                .position(|v| v.as_bytes() == name)
                .ok_or(EINVAL)?
        };
        // INVARIANT: 0 for the default, or `1 +` a position that `position` found in `others`.
        self.index.store(index, Ordering::Relaxed);
        Ok(())
    }
}

/// The `set` operation of a [`Choice`] parameter, called by the module loader, the boot
/// command line parser and sysfs.
///
/// # Safety
///
/// `kp` points to a `kernel_param` made by [`KernelParam::choice`]; `val` is null or a
/// NUL-terminated string that lives for the call.
unsafe extern "C" fn choice_set(val: *const c_char, kp: *const bindings::kernel_param) -> c_int {
    if val.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: By the safety requirements `kp` was made by `KernelParam::choice`, whose `arg`
    // is a `&'static Choice`.
    let choice = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<Choice>() };
    // SAFETY: By the safety requirements `val` is a NUL-terminated string that lives for the
    // call.
    let val = unsafe { CStr::from_char_ptr(val) };
    match choice.set(val.as_bytes()) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// The `get` operation of a [`Choice`] parameter: writes the value and a newline, as sysfs
/// shows it.
///
/// # Safety
///
/// `kp` points to a `kernel_param` made by [`KernelParam::choice`]; `buffer` is valid for
/// writes of `PAGE_SIZE` bytes.
unsafe extern "C" fn choice_get(buffer: *mut c_char, kp: *const bindings::kernel_param) -> c_int {
    // SAFETY: By the safety requirements `kp` was made by `KernelParam::choice`, whose `arg`
    // is a `&'static Choice`.
    let choice = unsafe { &*(*kp).__bindgen_anon_1.arg.cast::<Choice>() };
    let value = choice.value().as_bytes();
    let len = value.len().min(PAGE_SIZE - 2);
    // SAFETY: `buffer` has `PAGE_SIZE` bytes and `len + 2 <= PAGE_SIZE`; `value` is a string
    // of ours that does not overlap the buffer.
    unsafe {
        let buffer = buffer.cast::<u8>();
        core::ptr::copy_nonoverlapping(value.as_ptr(), buffer, len);
        *buffer.add(len) = b'\n';
        *buffer.add(len + 1) = 0;
    }
    // `len + 1 < PAGE_SIZE`, which fits a `c_int`.
    (len + 1) as c_int
}

/// The operations of every [`Choice`] parameter.
const CHOICE_OPS: bindings::kernel_param_ops = bindings::kernel_param_ops {
    flags: 0,
    set: Some(choice_set),
    get: Some(choice_get),
    free: None,
};

/// A `struct kernel_param`: what [`module_param_choice!`](crate::module_param_choice) places
/// in the `__param` section.
///
/// # Invariants
///
/// Made by [`KernelParam::choice`]: its name is a NUL-terminated string and its `arg` a
/// `Choice`, both `'static`, and its operations are those of a [`Choice`].
#[repr(transparent)]
pub struct KernelParam(bindings::kernel_param);

// SAFETY: By the type invariants, the pointers in a `KernelParam` are to `'static` data that is
// only read (its name and operations) or is `Sync` (the `Choice`), or to the module it is in.
unsafe impl Sync for KernelParam {}

impl KernelParam {
    /// The parameter `name` (as C spells it: `module.name` for built-in code), setting `choice`
    /// and shown in sysfs with `permissions`.
    ///
    /// # Safety
    ///
    /// `name` is NUL-terminated. `module` is null for built-in code, or the module the returned
    /// value is a `static` of.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, module_param::{Choice, KernelParam}};
    ///
    /// static LEVEL: Choice = Choice::new(c_str!("low"), &[c_str!("high")]);
    /// // SAFETY: the name ends with a NUL; null stands for built-in code, which this is.
    /// static PARAM: KernelParam = unsafe {
    ///     KernelParam::choice(b"example.level\0", core::ptr::null_mut(), 0o444, &LEVEL)
    /// };
    /// assert_eq!(PARAM.permissions(), 0o444);
    /// ```
    pub const unsafe fn choice(
        name: &'static [u8],
        module: *mut bindings::module,
        permissions: u16,
        choice: &'static Choice,
    ) -> Self {
        // INVARIANT: the name and `choice` are `'static`, the name NUL-terminated by the safety
        // requirements; the operations are those of a `Choice`.
        KernelParam(bindings::kernel_param {
            name: name.as_ptr().cast(),
            mod_: module,
            ops: &CHOICE_OPS,
            perm: permissions,
            // `module_param_cb()`'s level: set with the others, before the module's init.
            level: -1,
            flags: 0,
            __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                arg: (choice as *const Choice).cast_mut().cast(),
            },
        })
    }

    /// The sysfs permissions.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, module_param::{Choice, KernelParam}};
    ///
    /// static LEVEL: Choice = Choice::new(c_str!("low"), &[]);
    /// // SAFETY: the name ends with a NUL; null stands for built-in code, which this is.
    /// static PARAM: KernelParam = unsafe {
    ///     KernelParam::choice(b"example.level\0", core::ptr::null_mut(), 0o644, &LEVEL)
    /// };
    /// assert_eq!(PARAM.permissions(), 0o644);
    /// ```
    pub fn permissions(&self) -> u16 {
        self.0.perm
    }
}

/// Whether `permissions` suit a module parameter, as C's `VERIFY_OCTAL_PERMISSIONS()` checks
/// them: nothing beyond `0o777`, not writable by others, and neither group nor others may do
/// more than the owner.
///
/// # Examples
///
/// ```
/// use kernel::module_param::valid_permissions;
///
/// assert!(valid_permissions(0o444));
/// assert!(valid_permissions(0o644));
/// assert!(!valid_permissions(0o666));
/// assert!(!valid_permissions(0o1644));
/// assert!(!valid_permissions(0o464));
/// ```
pub const fn valid_permissions(permissions: u16) -> bool {
    let (user, group, other) = (
        (permissions >> 6) & 7,
        (permissions >> 3) & 7,
        permissions & 7,
    );
    permissions <= 0o777 && other & 0o2 == 0 && user >= group && group >= other
}

/// The length of the C string that [`concat_cstr`] makes of `parts`, its NUL included.
///
/// # Examples
///
/// ```
/// use kernel::module_param::concat_cstr_len;
///
/// assert_eq!(concat_cstr_len(&[b"mod\0", b".", b"name"]), 9);
/// ```
pub const fn concat_cstr_len(parts: &[&[u8]]) -> usize {
    let mut len = 1;
    let mut i = 0;
    while i < parts.len() {
        let part = parts[i];
        let mut j = 0;
        while j < part.len() && part[j] != 0 {
            j += 1;
        }
        len += j;
        i += 1;
    }
    len
}

/// The C string of `parts` one after the other, each up to its first NUL if it has one, in an
/// array of `N` bytes (the rest zero). For the names and modinfo strings that
/// [`module_param_choice!`](crate::module_param_choice) builds at compile time; `N` is
/// [`concat_cstr_len`] of the parts.
///
/// # Examples
///
/// ```
/// use kernel::module_param::concat_cstr;
///
/// assert_eq!(concat_cstr::<9>(&[b"mod\0", b".", b"name"]), *b"mod.name\0");
/// ```
pub const fn concat_cstr<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    let mut i = 0;
    while i < parts.len() {
        let part = parts[i];
        let mut j = 0;
        // The last byte stays the NUL.
        while j < part.len() && part[j] != 0 && at + 1 < N {
            out[at] = part[j];
            at += 1;
            j += 1;
        }
        i += 1;
    }
    out
}

/// Declares a module parameter whose value is one of a list of names, the first being the
/// default: a `static` [`Choice`](crate::module_param::Choice), registered in the `__param`
/// section with `parm` and `parmtype` (`charp`) modinfo strings, as C's `module_param_cb()`
/// and `MODULE_PARM_DESC()` do. `name=value` on `insmod`'s command line sets it (an unknown
/// value fails the load with `EINVAL`); for built-in code, `module.name=value` on the kernel
/// command line, where `module` is the crate's `module!` name.
///
/// `permissions` are those of `/sys/module/<module>/parameters/<name>`, checked at compile
/// time as C checks them (see
/// [`valid_permissions`](crate::module_param::valid_permissions)); `0` leaves the parameter
/// out of sysfs.
///
/// # Examples
///
/// ```
/// use kernel::{bindings, c_str, page::PAGE_SIZE, str::CStr};
///
/// kernel::module_param_choice! {
///     /// How this example finds a free slot.
///     static EXAMPLE_FINDER {
///         name: "example_finder",
///         values: ["bitmap", "scan"],
///         permissions: 0o644,
///         description: "how the example finds a free slot",
///     }
/// }
///
/// assert_eq!(EXAMPLE_FINDER.value().as_bytes(), b"bitmap");
///
/// // The parameter is in the `__param` section, under the name C gives a built-in module's
/// // parameter (the module of the doctests is `rust_doctests_kernel`).
/// let name = c_str!("rust_doctests_kernel.example_finder");
/// // SAFETY: the linker puts every built-in `kernel_param` between these two symbols.
/// // (Taking the address of an extern static needs `unsafe` before Rust 1.82.)
/// #[allow(unused_unsafe)]
/// let (start, stop) = unsafe {
///     (
///         core::ptr::addr_of!(bindings::__start___param).cast::<bindings::kernel_param>(),
///         core::ptr::addr_of!(bindings::__stop___param).cast::<bindings::kernel_param>(),
///     )
/// };
/// // SAFETY: both point into the one `__param` section, `stop` not before `start`.
/// let count = unsafe { stop.offset_from(start) } as usize;
/// // SAFETY: the section holds `count` parameters that live as long as the kernel.
/// let params = unsafe { core::slice::from_raw_parts(start, count) };
/// let param = params
///     .iter()
///     // SAFETY: every parameter's name is a NUL-terminated string that lives as long as the
///     // kernel.
///     .find(|p| unsafe { CStr::from_char_ptr(p.name) }.as_bytes() == name.as_bytes())
///     .ok_or(ENOENT)?;
/// assert_eq!(param.perm, 0o644);
///
/// // The kernel's own parser sets it through its operations, as `insmod` would...
/// let mut args = *b"rust_doctests_kernel.example_finder=scan\0";
/// // SAFETY: `args` is a writable NUL-terminated string and `param` one valid parameter.
/// let rest = unsafe {
///     bindings::parse_args(
///         c_str!("example").as_char_ptr(),
///         args.as_mut_ptr().cast(),
///         param,
///         1,
///         i16::MIN,
///         i16::MAX,
///         core::ptr::null_mut(),
///         None,
///     )
/// };
/// assert!(rest.is_null());
/// assert_eq!(EXAMPLE_FINDER.value().as_bytes(), b"scan");
///
/// // ...and its `get` operation shows it as sysfs does.
/// // SAFETY: a parameter's operations live as long as the kernel.
/// let get = unsafe { (*param.ops).get }.ok_or(EINVAL)?;
/// let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
/// // SAFETY: `page` has `PAGE_SIZE` bytes; `param` is the parameter the operation belongs to.
/// let len = unsafe { get(page.as_mut_ptr().cast(), param) };
/// assert_eq!(&page[..len as usize], b"scan\n");
/// # Ok::<(), Error>(())
/// ```
// `crate::__LOG_PREFIX` is the module name that `module!` defines in the caller's crate.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! module_param_choice {
    (
        $(#[$attr:meta])*
        $vis:vis static $id:ident {
            name: $name:literal,
            values: [$default:literal $(, $value:literal)* $(,)?],
            permissions: $permissions:expr,
            description: $description:literal $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis static $id: $crate::module_param::Choice =
            $crate::module_param::Choice::new(
                $crate::c_str!($default),
                &[$($crate::c_str!($value)),*],
            );

        const _: () = {
            use $crate::module_param::{concat_cstr, concat_cstr_len};

            const _: () = ::core::assert!(
                $crate::module_param::valid_permissions($permissions),
                "module parameter permissions as C's VERIFY_OCTAL_PERMISSIONS() refuses them"
            );
            // Built-in code prefixes its parameter names and modinfo strings with `module.`.
            const PREFIX: &[u8] = if ::core::cfg!(MODULE) { b"" } else { crate::__LOG_PREFIX };
            const DOT: &[u8] = if ::core::cfg!(MODULE) { b"" } else { b"." };
            const NAME: &[&[u8]] = &[PREFIX, DOT, $name.as_bytes()];
            static PARAM_NAME: [u8; concat_cstr_len(NAME)] = concat_cstr(NAME);

            const PARM: &[&[u8]] = &[
                PREFIX,
                DOT,
                b"parm=",
                ::core::concat!($name, ":", $description).as_bytes(),
            ];
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM_INFO: [u8; concat_cstr_len(PARM)] = concat_cstr(PARM);
            const PARMTYPE: &[&[u8]] =
                &[PREFIX, DOT, b"parmtype=", ::core::concat!($name, ":charp").as_bytes()];
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE_INFO: [u8; concat_cstr_len(PARMTYPE)] = concat_cstr(PARMTYPE);

            #[cfg(MODULE)]
            extern "C" {
                static __this_module: $crate::types::Opaque<$crate::bindings::module>;
            }
            #[cfg(MODULE)]
            #[link_section = "__param"]
            #[used(compiler)]
            // SAFETY: `PARAM_NAME` ends with a NUL; `__this_module` is the module this static
            // is in.
            static PARAM: $crate::module_param::KernelParam = unsafe {
                $crate::module_param::KernelParam::choice(
                    &PARAM_NAME,
                    __this_module.get(),
                    $permissions,
                    &$id,
                )
            };
            #[cfg(not(MODULE))]
            #[link_section = "__param"]
            #[used(compiler)]
            // SAFETY: `PARAM_NAME` ends with a NUL; null stands for built-in code, which this
            // is.
            static PARAM: $crate::module_param::KernelParam = unsafe {
                $crate::module_param::KernelParam::choice(
                    &PARAM_NAME,
                    ::core::ptr::null_mut(),
                    $permissions,
                    &$id,
                )
            };
        };
    };
}
