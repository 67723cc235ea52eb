// SPDX-License-Identifier: GPL-2.0

//! A loadable module that uses every public function and trait of our abstractions.
//!
//! It is built outside the kernel tree (`make M=`), as a driver author's module is, so that
//! modpost proves each function links from a module: a kernel crate function that is inlined
//! or generic is compiled into the module, and every C symbol it calls must then be exported.
//! Loading it proves the same at run time. The harness checks that every `pub fn` and
//! `pub trait` of our kernel files is named here.
//!
//! Functions are referenced as function pointers so that generic ones are instantiated here;
//! only a few are called, at load time, where that needs no setup.

use core::hint::black_box;
use kernel::{
    bitmap::{self, Bitmap, BitmapVec},
    c_str,
    cred::{Credential, Kuid},
    debugfs::{self, Dir},
    id_pool::{self, Grow, IdPool, PoolResizer, ReallocRequest, Shrink, UnusedId},
    miscdevice::{MiscDevice, MiscDeviceFileOps, MiscDeviceOptions, MiscDeviceRegistration},
    mm::{
        self,
        lock::{MmapLockMode, Read, Write},
        virt::{VmaMixedMap, VmaNew, VmaRef},
        Mm, MmWithUser, MmWithUserAsync, MmapGuard, MmapReadGuard, MmapWriteGuard,
    },
    module_param::{self, Choice, KernelParam},
    page::{self, BorrowedPage, Page, Pages},
    pid_namespace::PidNamespace,
    prelude::*,
    seq_file::SeqFile,
    sync::lock::{spinlock::SpinLockBackend, Guard},
    task::Task,
    types::ARef,
};

module! {
    type: AllExports,
    name: "rust_all_exports",
    author: "Rust for Linux Contributors",
    description: "Uses every public function of our abstractions",
    license: "GPL",
}

/// Keeps a function pointer alive, so that the function is compiled into (or linked from) this
/// module.
fn keep<T>(f: T) {
    black_box(f);
}

fn bitmaps() {
    keep(bitmap::bits_to_longs as fn(_) -> _);

    keep(Bitmap::from_raw as unsafe fn(_, _) -> _);
    keep(Bitmap::from_raw_mut as unsafe fn(_, _) -> _);
    keep(Bitmap::len as fn(_) -> _);
    keep(Bitmap::is_zero as fn(_) -> _);
    keep(Bitmap::as_ptr as fn(_) -> _);
    keep(Bitmap::test_bit as fn(_, _) -> _);
    keep(Bitmap::word as fn(_, _) -> _);
    keep(Bitmap::next_bit as fn(_, _) -> _);
    keep(Bitmap::next_zero_bit as fn(_, _) -> _);
    keep(Bitmap::first_bit as fn(_) -> _);
    keep(Bitmap::first_zero_bit as fn(_) -> _);
    keep(Bitmap::last_bit as fn(_) -> _);
    keep(Bitmap::weight as fn(_) -> _);
    keep(Bitmap::iter_set_bits as fn(_) -> _);
    keep(Bitmap::iter_zero_bits as fn(_) -> _);
    keep(Bitmap::set_bit_atomic as fn(_, _) -> _);
    keep(Bitmap::clear_bit_atomic as fn(_, _) -> _);
    keep(Bitmap::test_and_set_bit_atomic as fn(_, _) -> _);
    keep(Bitmap::test_and_clear_bit_atomic as fn(_, _) -> _);

    keep(Bitmap::as_mut_ptr as fn(_) -> _);
    keep(Bitmap::set_bit as fn(_, _) -> _);
    keep(Bitmap::clear_bit as fn(_, _) -> _);
    keep(Bitmap::assign_bit as fn(_, _, _) -> _);
    keep(Bitmap::assign_bit_in_word as fn(_, _, _) -> _);
    keep(Bitmap::set_range as fn(_, _) -> _);
    keep(Bitmap::clear_range as fn(_, _) -> _);
    keep(Bitmap::fill as fn(_));
    keep(Bitmap::zero as fn(_));
    keep(Bitmap::complement as fn(_));
    keep(Bitmap::copy_and_extend as fn(_, _));
    keep(Bitmap::and as fn(_, _) -> _);
    keep(Bitmap::or as fn(_, _) -> _);
    keep(Bitmap::xor as fn(_, _) -> _);
    keep(Bitmap::andnot as fn(_, _) -> _);

    keep(BitmapVec::<2>::new as fn(_, _) -> _);
    keep(BitmapVec::<2>::new_inline as fn(_) -> _);
    keep(BitmapVec::<2>::clone_resized as fn(_, _, _) -> _);
    keep(BitmapVec::<2>::is_inline as fn(_) -> _);
    keep(<BitmapVec<2> as core::ops::Deref>::deref as fn(_) -> _);
    keep(<BitmapVec<2> as core::ops::DerefMut>::deref_mut as fn(_) -> _);
    keep(core::ptr::drop_in_place::<BitmapVec<2>> as unsafe fn(_));
}

fn id_pools() {
    keep(IdPool::<1>::new as fn() -> _);
    keep(IdPool::<1>::with_max as fn(_) -> _);
    keep(IdPool::<1>::with_capacity as fn(_, _) -> _);
    keep(IdPool::<1>::capacity as fn(_) -> _);
    keep(IdPool::<1>::max_capacity as fn(_) -> _);
    keep(IdPool::<1>::used as fn(_) -> _);
    keep(IdPool::<1>::is_inline as fn(_) -> _);
    keep(IdPool::<1>::find_unused_id as fn(_, _) -> _);
    keep(IdPool::<1>::acquire_next_id as fn(_, _) -> _);
    keep(IdPool::<1>::release_id as fn(_, _) -> _);
    keep(IdPool::<1>::grow_request as fn(_) -> _);
    keep(IdPool::<1>::shrink_request as fn(_) -> _);
    keep(IdPool::<1>::grow as fn(_, _) -> _);
    keep(IdPool::<1>::shrink as fn(_, _) -> _);
    keep(IdPool::<1>::is_consistent as fn(_) -> _);
    keep(UnusedId::<'_, 1>::as_usize as fn(_) -> _);
    keep(UnusedId::<'_, 1>::as_u32 as fn(_) -> _);
    keep(UnusedId::<'_, 1>::acquire as fn(_) -> _);
    keep(ReallocRequest::<Grow, 1>::old_capacity as fn(_) -> _);
    keep(ReallocRequest::<Grow, 1>::new_capacity as fn(_) -> _);
    keep(ReallocRequest::<Grow, 1>::realloc as fn(_, _) -> _);
    keep(ReallocRequest::<Shrink, 1>::realloc as fn(_, _) -> _);
    keep(core::ptr::drop_in_place::<IdPool<1>> as unsafe fn(_));
    keep(core::ptr::drop_in_place::<PoolResizer<Grow, 1>> as unsafe fn(_));
    keep(core::ptr::drop_in_place::<PoolResizer<Shrink, 1>> as unsafe fn(_));
    keep(
        id_pool::alloc_id_locked::<IdPool<1>, SpinLockBackend, 1>
            as fn(
                &mut Guard<'_, IdPool<1>, SpinLockBackend>,
                fn(&mut IdPool<1>) -> &mut IdPool<1>,
                _,
                _,
            ) -> _,
    );
    keep(
        id_pool::release_id_locked::<IdPool<1>, SpinLockBackend, 1>
            as fn(
                &mut Guard<'_, IdPool<1>, SpinLockBackend>,
                fn(&mut IdPool<1>) -> &mut IdPool<1>,
                _,
                _,
            ) -> _,
    );
}

fn pages() {
    keep(page::page_align as fn(_) -> _);
    keep(Page::alloc_page as fn(_) -> _);
    keep(Pages::<2>::alloc as fn(_) -> _);
    keep(Pages::<2>::alloc_node as fn(_, _) -> _);
    keep(Pages::<2>::as_ptr as fn(_) -> _);
    keep(Pages::<2>::page as fn(_, _) -> _);
    keep(Pages::<2>::read_raw as unsafe fn(_, _, _, _) -> _);
    keep(Pages::<2>::write_raw as unsafe fn(_, _, _, _) -> _);
    keep(Pages::<2>::fill_zero_raw as unsafe fn(_, _, _) -> _);
    keep(Pages::<2>::copy_from_user_slice_raw as unsafe fn(_, _, _, _) -> _);
    keep(Pages::<2>::copy_to_user_slice_raw as unsafe fn(_, _, _, _) -> _);
    keep(Pages::<2>::read_into as fn(_, _, _) -> _);
    keep(Pages::<2>::write_from as fn(_, _, _) -> _);
    keep(Pages::<2>::fill_zero as fn(_, _, _) -> _);
    keep(Pages::<2>::copy_from_user_slice as fn(_, _, _, _) -> _);
    keep(Pages::<2>::copy_to_user_slice as fn(_, _, _, _) -> _);
    keep(core::ptr::drop_in_place::<Pages<2>> as unsafe fn(_));
    keep(BorrowedPage::from_raw as unsafe fn(_) -> _);
    keep(<BorrowedPage<'_> as core::ops::Deref>::deref as fn(_) -> _);
}

fn mms() {
    keep(Mm::from_raw as unsafe fn(_) -> _);
    keep(Mm::as_raw as fn(_) -> _);
    keep(Mm::mmgrab as fn(_) -> _);
    keep(Mm::mmget_not_zero as fn(_) -> _);
    keep(core::ptr::drop_in_place::<ARef<Mm>> as unsafe fn(_));
    keep(MmWithUser::from_raw as unsafe fn(_) -> _);
    keep(MmWithUser::mmget as fn(_) -> _);
    keep(core::ptr::drop_in_place::<ARef<MmWithUser>> as unsafe fn(_));
    keep(MmWithUserAsync::as_mm as fn(_) -> _);
    keep(MmWithUser::into_mmput_async as fn(_) -> _);
    keep(<ARef<MmWithUserAsync> as From<ARef<MmWithUser>>>::from as fn(_) -> _);
    keep(core::ptr::drop_in_place::<ARef<MmWithUserAsync>> as unsafe fn(_));
    keep(mm::with_current_mm::<usize> as fn(fn(Option<&MmWithUser>) -> usize) -> _);

    keep(MmWithUser::mmap_read_lock as fn(_) -> _);
    keep(MmWithUser::mmap_read_trylock as fn(_) -> _);
    keep(MmWithUser::mmap_write_lock as fn(_) -> _);
    keep_mmap_guard::<Read>();
    keep_mmap_guard::<Write>();
    keep(core::ptr::drop_in_place::<MmapReadGuard<'_>> as unsafe fn(_));
    keep(core::ptr::drop_in_place::<MmapWriteGuard<'_>> as unsafe fn(_));
    keep(<mm::VmaIter<'_> as Iterator>::next as fn(_) -> _);
    keep(MmWithUser::lock_vma_under_rcu as fn(_, _) -> _);
    keep(core::ptr::drop_in_place::<mm::VmaReadGuard<'_>> as unsafe fn(_));

    keep(VmaRef::from_raw as unsafe fn(_) -> _);
    keep(VmaRef::as_ptr as fn(_) -> _);
    keep(VmaRef::mm as fn(_) -> _);
    keep(VmaRef::flags as fn(_) -> _);
    keep(VmaRef::start as fn(_) -> _);
    keep(VmaRef::end as fn(_) -> _);
    keep(VmaRef::pgoff as fn(_) -> _);
    keep(VmaRef::zap_page_range_single as fn(_, _, _) -> _);
    keep(VmaRef::as_mixedmap_vma as fn(_) -> _);
    keep(VmaMixedMap::vm_insert_page as fn(_, _, _) -> _);
    keep(VmaNew::from_raw as unsafe fn(_) -> _);
    keep(VmaNew::set_mixedmap as fn(_) -> _);
    keep(VmaNew::set_dontcopy as fn(_));
    keep(VmaNew::set_dontexpand as fn(_));
    keep(VmaNew::set_io as fn(_));
    keep(VmaNew::set_dontdump as fn(_));
    keep(VmaNew::try_clear_mayread as fn(_) -> _);
    keep(VmaNew::try_clear_maywrite as fn(_) -> _);
    keep(VmaNew::try_clear_mayexec as fn(_) -> _);
    keep(VmaNew::readable as fn(_) -> _);
    keep(VmaNew::writable as fn(_) -> _);
    keep(VmaNew::executable as fn(_) -> _);
}

/// The mmap lock guard's methods, for one lock mode.
fn keep_mmap_guard<M: MmapLockMode>() {
    keep(MmapGuard::<M>::vma_lookup as fn(_, _) -> _);
    keep(MmapGuard::<M>::vmas as fn(_) -> _);
    keep(MmapGuard::<M>::mm as fn(_) -> _);
}

fn tasks() {
    keep(Kuid::current_euid as fn() -> _);
    keep(Kuid::from_raw as fn(_) -> _);
    keep(Kuid::into_raw as fn(_) -> _);
    keep(Kuid::into_uid_in_current_ns as fn(_) -> _);
    keep(Credential::from_ptr as unsafe fn(_) -> _);
    keep(Credential::as_ptr as fn(_) -> _);
    keep(Credential::euid as fn(_) -> _);
    keep(Credential::uid as fn(_) -> _);
    keep(PidNamespace::from_ptr as unsafe fn(_) -> _);
    keep(PidNamespace::as_ptr as fn(_) -> _);
    keep(Task::current as unsafe fn() -> _);
    keep(Task::group_leader as fn(_) -> _);
    keep(Task::pid as fn(_) -> _);
    keep(Task::signal_pending as fn(_) -> _);
    keep(Task::wake_up as fn(_));
    keep(Task::uid as fn(_) -> _);
    keep(Task::euid as fn(_) -> _);
    keep(Task::get_cred as fn(_) -> _);
    keep(Task::tgid_nr_ns as fn(_, _) -> _);
    keep(Task::get_pid_ns as fn(_) -> _);
}

fn debugfs_files() {
    keep(SeqFile::from_raw as unsafe fn(_) -> _);
    keep(SeqFile::call_printf as fn(_, _));
    keep(Dir::new as fn(_) -> _);
    keep(Dir::subdir as fn(_, _) -> _);
    keep(Dir::read_only_file::<u32> as fn(_, _, _, _) -> _);
    #[cfg(CONFIG_KUNIT)]
    keep(debugfs::kunit::read::<u32> as fn(_) -> _);
}

#[cfg(CONFIG_KUNIT = "y")]
fn kunit_helpers() {
    use kernel::mm::kunit::{self, MixedMapHook, TestFileMapping, TestMmapHook};

    struct Refuse;
    impl TestMmapHook for Refuse {
        fn mmap(_vma: &VmaNew) -> Result {
            Err(ENODEV)
        }
    }

    keep(kunit::mm_users as fn(_) -> _);
    keep(kunit::mm_count as fn(_) -> _);
    keep(kunit::vm_mmap as fn(_, _, _, _) -> _);
    keep(TestFileMapping::new::<MixedMapHook> as fn() -> _);
    keep(TestFileMapping::new::<Refuse> as fn() -> _);
    keep(TestFileMapping::as_ptr as fn(_) -> _);
    keep(TestFileMapping::mmap as fn(_, _, _, _) -> _);
    keep(TestFileMapping::mmap_at as fn(_, _, _, _, _) -> _);
    keep(core::ptr::drop_in_place::<TestFileMapping> as unsafe fn(_));
}

/// A misc device with every operation, so that all of `MiscDevice`'s glue is built here.
struct Device;

#[vtable]
impl MiscDevice for Device {
    type Ptr = KBox<Self>;

    fn open(_misc: &MiscDeviceRegistration<Self>) -> Result<KBox<Self>> {
        Ok(KBox::new(Device, GFP_KERNEL)?)
    }

    fn release(device: KBox<Self>) {
        drop(device);
    }

    fn ioctl(_device: &Device, _cmd: u32, _arg: usize) -> Result<isize> {
        Err(ENOTTY)
    }

    fn compat_ioctl(_device: &Device, _cmd: u32, _arg: usize) -> Result<isize> {
        Err(ENOTTY)
    }

    fn mmap(_device: &Device, vma: &VmaNew) -> Result {
        vma.try_clear_maywrite()
    }
}

static FOPS: MiscDeviceFileOps<Device> = MiscDeviceFileOps::new(&THIS_MODULE);

struct AllExports {
    _misc: Pin<KBox<MiscDeviceRegistration<Device>>>,
}

kernel::module_param_choice! {
    /// A parameter of this module, so that the macro is built for a loadable module, whose
    /// loader then takes its `__param` section.
    static MODE {
        name: "mode",
        values: ["all", "none"],
        permissions: 0o444,
        description: "unused: shows that a module can declare parameters",
    }
}

fn module_params() {
    keep(Choice::new as fn(_, _) -> _);
    keep(Choice::index as fn(_) -> _);
    keep(Choice::value as fn(_) -> _);
    keep(Choice::set as fn(_, _) -> _);
    keep(KernelParam::choice as unsafe fn(_, _, _, _) -> _);
    keep(KernelParam::permissions as fn(_) -> _);
    keep(module_param::valid_permissions as fn(_) -> _);
    keep(module_param::concat_cstr_len as fn(_) -> _);
    keep(module_param::concat_cstr::<8> as fn(_) -> _);
}

impl kernel::Module for AllExports {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        bitmaps();
        id_pools();
        pages();
        mms();
        tasks();
        module_params();
        debugfs_files();
        #[cfg(CONFIG_KUNIT = "y")]
        kunit_helpers();
        keep(MiscDeviceFileOps::<Device>::as_raw as fn(_) -> _);
        keep(MiscDeviceRegistration::<Device>::minor as fn(_) -> _);
        keep(MiscDeviceRegistration::<Device>::as_raw as fn(_) -> _);

        // A few calls that need no setup, so that loading does more than resolve symbols.
        if MODE.value().as_bytes() != b"all" {
            return Err(EINVAL);
        }
        let mut ids = IdPool::<1>::new();
        let id = ids.find_unused_id(1).ok_or(ENOSPC)?.acquire();
        ids.release_id(id)?;
        let mut bits = BitmapVec::<1>::new(100, GFP_KERNEL)?;
        bits.set_bit(42)?;
        if bits.next_bit(0) != Some(42) {
            return Err(EINVAL);
        }
        let cred: ARef<Credential> = current!().get_cred();
        if cred.euid() != Kuid::current_euid() {
            return Err(EINVAL);
        }
        let mut page = Page::alloc_page(GFP_KERNEL)?;
        page.write_from(b"exports", 0)?;
        let misc = KBox::pin_init(
            MiscDeviceRegistration::register(
                &FOPS,
                MiscDeviceOptions {
                    name: c_str!("rust-all-exports"),
                },
            ),
            GFP_KERNEL,
        )?;
        Ok(AllExports { _misc: misc })
    }
}
