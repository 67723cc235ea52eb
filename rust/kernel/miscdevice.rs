// SPDX-License-Identifier: GPL-2.0

//! Miscellaneous devices.
//!
//! A misc device is a character device with major number 10 and a dynamically allocated minor
//! number, registered with [`MiscDeviceRegistration`]. Its file operations come from a type that
//! implements [`MiscDevice`].
//!
//! C header: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h)

use crate::{
    bindings,
    error::{to_result, Error, Result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_long, c_uint, c_ulong},
    init::PinInit,
    mm::virt::VmaNew,
    prelude::*,
    str::CStr,
    types::{ForeignOwnable, Opaque},
    ThisModule,
};
use core::{marker::PhantomData, mem::MaybeUninit};

/// The operations of a misc device, called for each file opened on it.
///
/// [`MiscDevice::open`] creates the private data of a file, which the other operations borrow
/// and [`MiscDevice::release`] gets back when the last reference to the file goes away. Only the
/// operations an implementation provides are set in the `file_operations` of the device: the
/// others behave as in C when the operation is missing (for example, `mmap` fails with
/// `ENODEV`).
///
/// # Examples
///
/// ```
/// use kernel::miscdevice::{MiscDevice, MiscDeviceRegistration};
/// use kernel::prelude::*;
///
/// struct Counter;
///
/// #[vtable]
/// impl MiscDevice for Counter {
///     type Ptr = KBox<Self>;
///
///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
///         Ok(KBox::new(Counter, GFP_KERNEL)?)
///     }
/// }
///
/// assert!(<Counter as MiscDevice>::HAS_OPEN);
/// assert!(!<Counter as MiscDevice>::HAS_MMAP);
/// assert!(!<Counter as MiscDevice>::HAS_IOCTL);
/// # Ok::<(), Error>(())
/// ```
#[vtable]
pub trait MiscDevice: Sized {
    /// The private data of an open file, created by [`MiscDevice::open`].
    type Ptr: ForeignOwnable + Send + Sync;

    /// Called when a file of the device is opened; returns the private data of the file.
    ///
    /// `misc` is the registration of the opened device; it may only be used during the call.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::miscdevice::{
    ///     MiscDevice, MiscDeviceFileOps, MiscDeviceOptions, MiscDeviceRegistration,
    /// };
    /// use kernel::prelude::*;
    /// use kernel::sync::Arc;
    /// # // Modules have a `THIS_MODULE`; doctests are built in, where it is NULL.
    /// # static THIS_MODULE: ThisModule =
    /// #     // SAFETY: Built-in code has no module, so NULL is the right `THIS_MODULE`.
    /// #     unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
    ///
    /// // The file operations live in the module that implements the device.
    /// static FOPS: MiscDeviceFileOps<Shared> = MiscDeviceFileOps::new(&THIS_MODULE);
    ///
    /// struct Shared {
    ///     minor: i32,
    /// }
    ///
    /// #[vtable]
    /// impl MiscDevice for Shared {
    ///     type Ptr = Arc<Self>;
    ///
    ///     fn open(misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Self>> {
    ///         Ok(Arc::new(Shared { minor: misc.minor() }, GFP_KERNEL)?)
    ///     }
    /// }
    ///
    /// let reg = KBox::pin_init(
    ///     MiscDeviceRegistration::register(
    ///         &FOPS,
    ///         MiscDeviceOptions {
    ///             name: kernel::c_str!("rust-doctest-open"),
    ///         },
    ///     ),
    ///     GFP_KERNEL,
    /// )?;
    /// let data = Shared::open(&reg)?;
    /// assert_eq!(data.minor, reg.minor());
    /// # Ok::<(), Error>(())
    /// ```
    fn open(misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr>;

    /// Called when the last reference to an open file goes away; the private data is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering};
    /// use kernel::miscdevice::{MiscDevice, MiscDeviceRegistration};
    /// use kernel::prelude::*;
    ///
    /// static RELEASED: AtomicUsize = AtomicUsize::new(0);
    ///
    /// struct Device;
    ///
    /// #[vtable]
    /// impl MiscDevice for Device {
    ///     type Ptr = KBox<Self>;
    ///
    ///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
    ///         Ok(KBox::new(Device, GFP_KERNEL)?)
    ///     }
    ///
    ///     fn release(device: KBox<Self>) {
    ///         RELEASED.fetch_add(1, Ordering::Relaxed);
    ///         drop(device);
    ///     }
    /// }
    ///
    /// Device::release(KBox::new(Device, GFP_KERNEL)?);
    /// assert_eq!(RELEASED.load(Ordering::Relaxed), 1);
    /// # Ok::<(), Error>(())
    /// ```
    fn release(device: Self::Ptr) {
        drop(device);
    }

    /// Handles an `ioctl` system call on an open file.
    ///
    /// `cmd` and `arg` are the arguments of the system call; the returned value becomes its
    /// result. Without this operation, `ioctl` fails with `ENOTTY`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::miscdevice::{MiscDevice, MiscDeviceRegistration};
    /// use kernel::prelude::*;
    ///
    /// const GET_ANSWER: u32 = kernel::ioctl::_IO(b'A' as u32, 1);
    ///
    /// struct Device;
    ///
    /// #[vtable]
    /// impl MiscDevice for Device {
    ///     type Ptr = KBox<Self>;
    ///
    ///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
    ///         Ok(KBox::new(Device, GFP_KERNEL)?)
    ///     }
    ///
    ///     fn ioctl(_device: &Device, cmd: u32, _arg: usize) -> Result<isize> {
    ///         match cmd {
    ///             GET_ANSWER => Ok(42),
    ///             _ => Err(ENOTTY),
    ///         }
    ///     }
    /// }
    ///
    /// assert!(<Device as MiscDevice>::HAS_IOCTL);
    /// assert_eq!(Device::ioctl(&Device, GET_ANSWER, 0), Ok(42));
    /// assert_eq!(Device::ioctl(&Device, GET_ANSWER + 1, 0), Err(ENOTTY));
    /// ```
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        crate::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles an `ioctl` system call of a 32-bit process on a 64-bit kernel.
    ///
    /// Pointers in `arg` are 32-bit user addresses. Without this operation, such calls fail with
    /// `ENOTTY`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::miscdevice::{MiscDevice, MiscDeviceRegistration};
    /// use kernel::prelude::*;
    ///
    /// struct Device;
    ///
    /// #[vtable]
    /// impl MiscDevice for Device {
    ///     type Ptr = KBox<Self>;
    ///
    ///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
    ///         Ok(KBox::new(Device, GFP_KERNEL)?)
    ///     }
    ///
    ///     fn compat_ioctl(_device: &Device, cmd: u32, _arg: usize) -> Result<isize> {
    ///         Ok(cmd as isize)
    ///     }
    /// }
    ///
    /// assert!(<Device as MiscDevice>::HAS_COMPAT_IOCTL);
    /// assert!(!<Device as MiscDevice>::HAS_IOCTL);
    /// assert_eq!(Device::compat_ioctl(&Device, 7, 0), Ok(7));
    /// ```
    fn compat_ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        crate::build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Sets up a new mapping of an open file in the `mmap` system call.
    ///
    /// Without this operation, `mmap` fails with `ENODEV`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::miscdevice::{MiscDevice, MiscDeviceRegistration};
    /// use kernel::mm::virt::VmaNew;
    /// use kernel::prelude::*;
    ///
    /// struct ReadOnly;
    ///
    /// #[vtable]
    /// impl MiscDevice for ReadOnly {
    ///     type Ptr = KBox<Self>;
    ///
    ///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
    ///         Ok(KBox::new(ReadOnly, GFP_KERNEL)?)
    ///     }
    ///
    ///     fn mmap(_device: &ReadOnly, vma: &VmaNew) -> Result {
    ///         vma.try_clear_maywrite()
    ///     }
    /// }
    ///
    /// assert!(<ReadOnly as MiscDevice>::HAS_MMAP);
    /// ```
    fn mmap(_device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>, _vma: &VmaNew) -> Result {
        crate::build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// A registered misc device whose file operations come from `T`.
///
/// The device gets a dynamic minor number when it is registered and is unregistered when this
/// is dropped. Files that are still open keep working: their operations use the private data
/// created by [`MiscDevice::open`], not the registration.
///
/// # Invariants
///
/// `inner` was registered with `misc_register`, is linked into the list of misc devices and has
/// `fops` pointing to a `'static` [`MiscDeviceFileOps<T>`], until `misc_deregister` is called in
/// `drop`.
///
/// # Examples
///
/// ```
/// use kernel::c_str;
/// use kernel::miscdevice::{
///     MiscDevice, MiscDeviceFileOps, MiscDeviceOptions, MiscDeviceRegistration,
/// };
/// use kernel::prelude::*;
/// # // Modules have a `THIS_MODULE`; doctests are built in, where it is NULL.
/// # static THIS_MODULE: ThisModule =
/// #     // SAFETY: Built-in code has no module, so NULL is the right `THIS_MODULE`.
/// #     unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
///
/// // The file operations live in the module that implements the device.
/// static FOPS: MiscDeviceFileOps<Device> = MiscDeviceFileOps::new(&THIS_MODULE);
///
/// struct Device;
///
/// #[vtable]
/// impl MiscDevice for Device {
///     type Ptr = KBox<Self>;
///
///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
///         Ok(KBox::new(Device, GFP_KERNEL)?)
///     }
/// }
///
/// let first = KBox::pin_init(
///     MiscDeviceRegistration::register(
///         &FOPS,
///         MiscDeviceOptions {
///             name: c_str!("rust-doctest-misc"),
///         },
///     ),
///     GFP_KERNEL,
/// )?;
/// let minor = first.minor();
/// // Dynamic minors are allocated above `MISC_DYNAMIC_MINOR` (255).
/// assert!(minor > 255);
/// let second = KBox::pin_init(
///     MiscDeviceRegistration::register(
///         &FOPS,
///         MiscDeviceOptions {
///             name: c_str!("rust-doctest-misc2"),
///         },
///     ),
///     GFP_KERNEL,
/// )?;
/// assert_ne!(second.minor(), minor);
///
/// // Unregistering frees the name and the minor.
/// drop(first);
/// let again = KBox::pin_init(
///     MiscDeviceRegistration::register(
///         &FOPS,
///         MiscDeviceOptions {
///             name: c_str!("rust-doctest-misc"),
///         },
///     ),
///     GFP_KERNEL,
/// )?;
/// assert_eq!(again.minor(), minor);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
#[pin_data(PinnedDrop)]
pub struct MiscDeviceRegistration<T> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: The registration only holds a registered `struct miscdevice`, which the C side lets
// any thread unregister; `T` is only a marker.
unsafe impl<T> Send for MiscDeviceRegistration<T> {}

// SAFETY: The only operation on a shared registration is reading its minor, which does not
// change while it is registered.
unsafe impl<T> Sync for MiscDeviceRegistration<T> {}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers a misc device with the options `opts`, whose files use the operations `fops`.
    ///
    /// The node of the device becomes `/dev/<name>`. Fails with the error of `misc_register`,
    /// for example `EBUSY` when the name is taken or no minor is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::c_str;
    /// use kernel::miscdevice::{
    ///     MiscDevice, MiscDeviceFileOps, MiscDeviceOptions, MiscDeviceRegistration,
    /// };
    /// use kernel::prelude::*;
    /// # // Modules have a `THIS_MODULE`; doctests are built in, where it is NULL.
    /// # static THIS_MODULE: ThisModule =
    /// #     // SAFETY: Built-in code has no module, so NULL is the right `THIS_MODULE`.
    /// #     unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
    ///
    /// // The file operations live in the module that implements the device.
    /// static FOPS: MiscDeviceFileOps<Device> = MiscDeviceFileOps::new(&THIS_MODULE);
    ///
    /// struct Device;
    ///
    /// #[vtable]
    /// impl MiscDevice for Device {
    ///     type Ptr = KBox<Self>;
    ///
    ///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
    ///         Ok(KBox::new(Device, GFP_KERNEL)?)
    ///     }
    /// }
    ///
    /// let reg = KBox::pin_init(
    ///     MiscDeviceRegistration::register(
    ///         &FOPS,
    ///         MiscDeviceOptions {
    ///             name: c_str!("rust-doctest-register"),
    ///         },
    ///     ),
    ///     GFP_KERNEL,
    /// )?;
    /// assert!(reg.minor() > 255);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn register(
        fops: &'static MiscDeviceFileOps<T>,
        opts: MiscDeviceOptions,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Self::init_inner(fops, opts.name),
            _t: PhantomData,
        })
    }

    fn init_inner(
        fops: &'static MiscDeviceFileOps<T>,
        name: &'static CStr,
    ) -> impl PinInit<Opaque<bindings::miscdevice>, Error> {
        let init = move |slot: *mut Opaque<bindings::miscdevice>| {
            let misc = Opaque::raw_get(slot);
            // SAFETY: `slot` is valid for writes and pinned, so `misc` stays where it is while
            // it is registered. `name` and `fops` live forever. Every other field is allowed to
            // be zero.
            unsafe {
                misc.write(bindings::miscdevice {
                    minor: bindings::MISC_DYNAMIC_MINOR as c_int,
                    name: name.as_char_ptr(),
                    fops: &fops.fops,
                    ..MaybeUninit::zeroed().assume_init()
                })
            };
            // SAFETY: `misc` is initialised as `misc_register` needs. On failure it is left
            // unregistered, and the pin-init contract lets the caller reuse the memory.
            // INVARIANT: On success the device is registered with `fops`.
            to_result(unsafe { bindings::misc_register(misc) })
        };
        // SAFETY: `init` initialises `*slot` completely on success and registers it only in
        // place, never moving it; on failure nothing needs dropping.
        unsafe { crate::init::pin_init_from_closure(init) }
    }

    /// Returns the minor number of the device.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::c_str;
    /// use kernel::miscdevice::{
    ///     MiscDevice, MiscDeviceFileOps, MiscDeviceOptions, MiscDeviceRegistration,
    /// };
    /// use kernel::prelude::*;
    /// # // Modules have a `THIS_MODULE`; doctests are built in, where it is NULL.
    /// # static THIS_MODULE: ThisModule =
    /// #     // SAFETY: Built-in code has no module, so NULL is the right `THIS_MODULE`.
    /// #     unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
    ///
    /// // The file operations live in the module that implements the device.
    /// static FOPS: MiscDeviceFileOps<Device> = MiscDeviceFileOps::new(&THIS_MODULE);
    ///
    /// struct Device;
    ///
    /// #[vtable]
    /// impl MiscDevice for Device {
    ///     type Ptr = KBox<Self>;
    ///
    ///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
    ///         Ok(KBox::new(Device, GFP_KERNEL)?)
    ///     }
    /// }
    ///
    /// let a = KBox::pin_init(
    ///     MiscDeviceRegistration::register(
    ///         &FOPS,
    ///         MiscDeviceOptions {
    ///             name: c_str!("rust-doctest-minor-a"),
    ///         },
    ///     ),
    ///     GFP_KERNEL,
    /// )?;
    /// let b = KBox::pin_init(
    ///     MiscDeviceRegistration::register(
    ///         &FOPS,
    ///         MiscDeviceOptions {
    ///             name: c_str!("rust-doctest-minor-b"),
    ///         },
    ///     ),
    ///     GFP_KERNEL,
    /// )?;
    /// assert_ne!(a.minor(), b.minor());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn minor(&self) -> i32 {
        // SAFETY: By the type invariants the device is registered, and `misc_register` does
        // not change the minor afterwards.
        unsafe { (*self.inner.get()).minor }
    }

    /// Returns the raw `struct miscdevice` of the registration.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::c_str;
    /// use kernel::miscdevice::{
    ///     MiscDevice, MiscDeviceFileOps, MiscDeviceOptions, MiscDeviceRegistration,
    /// };
    /// use kernel::prelude::*;
    /// # // Modules have a `THIS_MODULE`; doctests are built in, where it is NULL.
    /// # static THIS_MODULE: ThisModule =
    /// #     // SAFETY: Built-in code has no module, so NULL is the right `THIS_MODULE`.
    /// #     unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
    ///
    /// // The file operations live in the module that implements the device.
    /// static FOPS: MiscDeviceFileOps<Device> = MiscDeviceFileOps::new(&THIS_MODULE);
    ///
    /// struct Device;
    ///
    /// #[vtable]
    /// impl MiscDevice for Device {
    ///     type Ptr = KBox<Self>;
    ///
    ///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
    ///         Ok(KBox::new(Device, GFP_KERNEL)?)
    ///     }
    /// }
    ///
    /// let reg = KBox::pin_init(
    ///     MiscDeviceRegistration::register(
    ///         &FOPS,
    ///         MiscDeviceOptions {
    ///             name: c_str!("rust-doctest-raw"),
    ///         },
    ///     ),
    ///     GFP_KERNEL,
    /// )?;
    /// // SAFETY: The device is registered, so its `this_device` is valid.
    /// let devt = unsafe { (*(*reg.as_raw()).this_device).devt };
    /// assert_eq!(devt, (10 << 20) | reg.minor() as u32);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn as_raw(&self) -> *mut bindings::miscdevice {
        self.inner.get()
    }
}

#[pinned_drop]
impl<T> PinnedDrop for MiscDeviceRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants the device is registered. After this call no new file
        // can be opened on it, and `misc_open` (which holds `misc_mtx`, as `misc_deregister`
        // does) is not using it any more.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// The options of a misc device registration.
///
/// # Examples
///
/// ```
/// use kernel::c_str;
/// use kernel::miscdevice::MiscDeviceOptions;
///
/// let opts = MiscDeviceOptions {
///     name: c_str!("rust-misc-example"),
/// };
/// assert_eq!(opts.name.as_bytes(), b"rust-misc-example");
/// ```
#[derive(Clone, Copy)]
pub struct MiscDeviceOptions {
    /// The name of the device: its node is `/dev/<name>`.
    pub name: &'static CStr,
}

/// The `file_operations` of the misc devices implemented by `T`, owned by a module.
///
/// Open files keep using their file operations after the device is unregistered, until their
/// last reference is gone, so the operations (the table and the functions it points to) must
/// stay in memory as long as a file is open. The table lives in a `static` of the module that
/// implements the device, built with [`MiscDeviceFileOps::new`] from that module's
/// `THIS_MODULE`: it becomes the `owner` of the operations, so the module cannot be unloaded
/// while a file of the device is open or mapped. Because the `static` is written in the
/// implementing module, the table and the functions it points to are compiled into that module,
/// whatever module later registers a device with it.
///
/// # Invariants
///
/// `fops.owner` is the module that contains `self` and the code of the functions `fops` points
/// to (or NULL for built-in code), and `fops` holds the operations of `FileOps<T>`.
///
/// # Examples
///
/// ```
/// use kernel::miscdevice::{
///     MiscDevice, MiscDeviceFileOps, MiscDeviceOptions, MiscDeviceRegistration,
/// };
/// use kernel::prelude::*;
/// # // Modules have a `THIS_MODULE`; doctests are built in, where it is NULL.
/// # static THIS_MODULE: ThisModule =
/// #     // SAFETY: Built-in code has no module, so NULL is the right `THIS_MODULE`.
/// #     unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
///
/// struct Device;
///
/// #[vtable]
/// impl MiscDevice for Device {
///     type Ptr = KBox<Self>;
///
///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
///         Ok(KBox::new(Device, GFP_KERNEL)?)
///     }
/// }
///
/// static FOPS: MiscDeviceFileOps<Device> = MiscDeviceFileOps::new(&THIS_MODULE);
///
/// let reg = KBox::pin_init(
///     MiscDeviceRegistration::register(
///         &FOPS,
///         MiscDeviceOptions {
///             name: kernel::c_str!("rust-doctest-fops"),
///         },
///     ),
///     GFP_KERNEL,
/// )?;
/// // SAFETY: The device is registered, so its `fops` is valid.
/// assert_eq!(unsafe { (*reg.as_raw()).fops }, FOPS.as_raw());
/// # Ok::<(), Error>(())
/// ```
pub struct MiscDeviceFileOps<T> {
    fops: bindings::file_operations,
    _t: PhantomData<T>,
}

// SAFETY: The table is never written after it is built, and the functions it points to may be
// called from any thread.
unsafe impl<T> Sync for MiscDeviceFileOps<T> {}

impl<T: MiscDevice> MiscDeviceFileOps<T> {
    /// Builds the file operations of `T`, owned by `owner`.
    ///
    /// Call it in the initialiser of a `static` of the module that implements `T`, with that
    /// module's `THIS_MODULE` (see the type's documentation).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::miscdevice::{MiscDevice, MiscDeviceFileOps, MiscDeviceRegistration};
    /// use kernel::mm::virt::VmaNew;
    /// use kernel::prelude::*;
    /// # // Modules have a `THIS_MODULE`; doctests are built in, where it is NULL.
    /// # static THIS_MODULE: ThisModule =
    /// #     // SAFETY: Built-in code has no module, so NULL is the right `THIS_MODULE`.
    /// #     unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
    ///
    /// struct Device;
    ///
    /// #[vtable]
    /// impl MiscDevice for Device {
    ///     type Ptr = KBox<Self>;
    ///
    ///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
    ///         Ok(KBox::new(Device, GFP_KERNEL)?)
    ///     }
    ///
    ///     fn mmap(_device: &Device, _vma: &VmaNew) -> Result {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// static FOPS: MiscDeviceFileOps<Device> = MiscDeviceFileOps::new(&THIS_MODULE);
    ///
    /// // SAFETY: `FOPS` is a valid `file_operations` for as long as the program runs.
    /// assert!(unsafe { (*FOPS.as_raw()).mmap }.is_some());
    /// ```
    pub const fn new(owner: &'static ThisModule) -> Self {
        // INVARIANT: `owner` is the caller's `THIS_MODULE`, and the table is built here, in the
        // initialiser of a `static` of the caller's crate: the functions it points to are
        // instantiated in that crate too.
        Self {
            fops: bindings::file_operations {
                owner: owner.as_ptr(),
                open: Some(FileOps::<T>::open),
                release: Some(FileOps::<T>::release),
                unlocked_ioctl: if T::HAS_IOCTL {
                    Some(FileOps::<T>::ioctl)
                } else {
                    None
                },
                compat_ioctl: if T::HAS_COMPAT_IOCTL {
                    Some(FileOps::<T>::compat_ioctl)
                } else {
                    None
                },
                mmap: if T::HAS_MMAP {
                    Some(FileOps::<T>::mmap)
                } else {
                    None
                },
                // SAFETY: Every other field of `file_operations` may be zero (no operation).
                ..unsafe { MaybeUninit::zeroed().assume_init() }
            },
            _t: PhantomData,
        }
    }

    /// Returns the raw `struct file_operations`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::miscdevice::{MiscDevice, MiscDeviceFileOps, MiscDeviceRegistration};
    /// use kernel::prelude::*;
    /// # // Modules have a `THIS_MODULE`; doctests are built in, where it is NULL.
    /// # static THIS_MODULE: ThisModule =
    /// #     // SAFETY: Built-in code has no module, so NULL is the right `THIS_MODULE`.
    /// #     unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };
    ///
    /// struct Device;
    ///
    /// #[vtable]
    /// impl MiscDevice for Device {
    ///     type Ptr = KBox<Self>;
    ///
    ///     fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
    ///         Ok(KBox::new(Device, GFP_KERNEL)?)
    ///     }
    /// }
    ///
    /// static FOPS: MiscDeviceFileOps<Device> = MiscDeviceFileOps::new(&THIS_MODULE);
    ///
    /// // SAFETY: `FOPS` is a valid `file_operations` for as long as the program runs.
    /// let raw = unsafe { &*FOPS.as_raw() };
    /// assert_eq!(raw.owner, THIS_MODULE.as_ptr());
    /// // Only the operations `Device` implements are set.
    /// assert!(raw.open.is_some() && raw.release.is_some());
    /// assert!(raw.unlocked_ioctl.is_none() && raw.mmap.is_none());
    /// ```
    pub fn as_raw(&self) -> *const bindings::file_operations {
        &self.fops
    }
}

/// The file operations of the devices whose operations come from `T`.
struct FileOps<T>(PhantomData<T>);

impl<T: MiscDevice> FileOps<T> {
    /// # Safety
    ///
    /// Only called by `misc_open` as the `open` operation of a device registered by a
    /// [`MiscDeviceRegistration<T>`], with valid `inode` and `file`.
    unsafe extern "C" fn open(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `misc_open` stored the `struct miscdevice` of the opened device in
        // `private_data` before calling us.
        let misc = unsafe { (*file).private_data }.cast::<MiscDeviceRegistration<T>>();
        // SAFETY: The device was registered by a `MiscDeviceRegistration<T>`, which is
        // `repr(transparent)` over its `struct miscdevice`, so `misc` points to it. It stays
        // valid until we return: `misc_open` holds `misc_mtx` while calling us, and the
        // registration is only freed after `misc_deregister`, which takes `misc_mtx` first.
        let misc = unsafe { &*misc };
        match T::open(misc) {
            Ok(data) => {
                // SAFETY: `file` is valid and we are its only user during `open`.
                // INVARIANT: `private_data` now holds the result of `into_foreign`, which
                // `release` gets back once; the other operations only borrow it in between.
                unsafe { (*file).private_data = data.into_foreign().cast_mut() };
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Only called as the `release` operation of a file whose `open` succeeded, once.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `open` succeeded, so `private_data` came from `into_foreign`. This is the last
        // operation on the file, so no borrow of it is left.
        let data = unsafe { <T::Ptr as ForeignOwnable>::from_foreign((*file).private_data) };
        T::release(data);
        0
    }

    /// Converts what an ioctl handler returned to the value of the `ioctl` file operations.
    fn ioctl_return(result: Result<isize>) -> c_long {
        match result {
            Ok(ret) => ret as c_long,
            Err(e) => e.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// Only called as the `unlocked_ioctl` operation of a file whose `open` succeeded and that is
    /// not released yet.
    unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: `open` succeeded, so `private_data` came from `into_foreign`, and `release`
        // cannot run before this call returns, so the borrow stays valid.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        Self::ioctl_return(T::ioctl(device, cmd, arg))
    }

    /// # Safety
    ///
    /// Only called as the `compat_ioctl` operation of a file whose `open` succeeded and that is
    /// not released yet.
    unsafe extern "C" fn compat_ioctl(
        file: *mut bindings::file,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: As in `ioctl`.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        Self::ioctl_return(T::compat_ioctl(device, cmd, arg))
    }

    /// # Safety
    ///
    /// Only called as the `mmap` operation of a file whose `open` succeeded and that is not
    /// released yet, with a new `vma` set up under the mmap write lock.
    unsafe extern "C" fn mmap(
        file: *mut bindings::file,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: As in `ioctl`.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        // SAFETY: The `mmap` file operation is called with a new area and the mmap write lock
        // held until it returns.
        let vma = unsafe { VmaNew::from_raw(vma) };
        match T::mmap(device, vma) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        }
    }
}
