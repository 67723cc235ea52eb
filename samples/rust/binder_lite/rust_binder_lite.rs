// SPDX-License-Identifier: GPL-2.0

//! binder-lite: a subset of the binder IPC protocol, on the kernel crate's abstractions.
//!
//! `/dev/binder-lite` is a misc device with one binder context (one context manager). Each open
//! of it is a binder process; each task that calls into it is a binder thread of that process.
//! Where binder-lite implements a request, it answers as the C binder of the same kernel does
//! (`drivers/android/binder.c`), down to the errno; see `Documentation/rust/binder-lite.rst`
//! for what is implemented so far and what every other request gets.
//!
//! Implemented: the `BINDER_VERSION`, `BINDER_SET_MAX_THREADS`, `BINDER_SET_CONTEXT_MGR`,
//! `BINDER_SET_CONTEXT_MGR_EXT`, `BINDER_ENABLE_ONEWAY_SPAM_DETECTION`, `BINDER_THREAD_EXIT` and
//! `BINDER_WRITE_READ` ioctls, and `BINDER_GET_NODE_INFO_FOR_REF` and
//! `BINDER_GET_EXTENDED_ERROR` as far as they go without transactions and references; the
//! looper commands `BC_ENTER_LOOPER`, `BC_REGISTER_LOOPER` and `BC_EXIT_LOOPER`; a read side
//! that returns `BR_NOOP` (or `BR_SPAWN_LOOPER`) and otherwise waits, interruptibly, for work;
//! and the read-only `mmap` of the buffer area.

use buffer::BufferArea;
use core::{
    mem::size_of,
    ptr,
    sync::atomic::{AtomicU64, Ordering},
};
use kernel::{
    c_str, current,
    miscdevice::{MiscDevice, MiscDeviceFileOps, MiscDeviceOptions, MiscDeviceRegistration},
    mm::{virt::VmaNew, with_current_mm, Mm},
    new_condvar, new_mutex, new_spinlock,
    prelude::*,
    rbtree::{RBTree, RBTreeNode},
    sync::{Arc, ArcBorrow, CondVar, Mutex, SpinLock},
    task::Task,
    types::{ARef, AsBytes, FromBytes},
    uaccess::UserSlice,
    uapi,
};

// Only `map` and `release` of the buffer API are called until transactions use the rest.
#[allow(dead_code)]
mod allocator;
#[allow(dead_code)]
mod buffer;

module! {
    type: BinderLiteModule,
    name: "rust_binder_lite",
    author: "Rust for Linux Contributors",
    description: "A subset of the binder IPC protocol on Rust abstractions",
    license: "GPL",
}

/// `BINDER_LOOPER_STATE_REGISTERED`: the thread sent `BC_REGISTER_LOOPER`.
const LOOPER_REGISTERED: u32 = 0x01;
/// `BINDER_LOOPER_STATE_ENTERED`: the thread sent `BC_ENTER_LOOPER`.
const LOOPER_ENTERED: u32 = 0x02;
/// `BINDER_LOOPER_STATE_EXITED`: the thread sent `BC_EXIT_LOOPER`.
const LOOPER_EXITED: u32 = 0x04;
/// `BINDER_LOOPER_STATE_INVALID`: the thread sent looper commands in a wrong order.
const LOOPER_INVALID: u32 = 0x08;

/// The protocol version of 64-bit binder, as `BINDER_VERSION` reports it.
const PROTOCOL_VERSION: i32 = uapi::BINDER_CURRENT_PROTOCOL_VERSION as i32;

const BR_OK: u32 = uapi::binder_driver_return_protocol_BR_OK;
const BR_NOOP: u32 = uapi::binder_driver_return_protocol_BR_NOOP;
const BR_SPAWN_LOOPER: u32 = uapi::binder_driver_return_protocol_BR_SPAWN_LOOPER;
const BC_ENTER_LOOPER: u32 = uapi::binder_driver_command_protocol_BC_ENTER_LOOPER;
const BC_REGISTER_LOOPER: u32 = uapi::binder_driver_command_protocol_BC_REGISTER_LOOPER;
const BC_EXIT_LOOPER: u32 = uapi::binder_driver_command_protocol_BC_EXIT_LOOPER;

/// `struct binder_write_read`, the argument of `BINDER_WRITE_READ`.
#[repr(transparent)]
struct BinderWriteRead(uapi::binder_write_read);

// SAFETY: `binder_write_read` is six `u64`s: it has no padding, and every bit pattern is a valid
// value.
unsafe impl FromBytes for BinderWriteRead {}

// SAFETY: `binder_write_read` is six `u64`s: it has no padding, so every byte is initialised, and
// no interior mutability.
unsafe impl AsBytes for BinderWriteRead {}

/// The file operations of `/dev/binder-lite`: a `static` of this module, which owns them.
static FOPS: MiscDeviceFileOps<Process> = MiscDeviceFileOps::new(&THIS_MODULE);

struct BinderLiteModule {
    _device: Pin<KBox<Device>>,
}

impl kernel::Module for BinderLiteModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let context = Context::new()?;
        let device = KBox::pin_init(
            try_pin_init!(Device {
                context,
                misc <- MiscDeviceRegistration::register(
                    &FOPS,
                    MiscDeviceOptions {
                        name: c_str!("binder-lite"),
                    },
                ),
            }),
            GFP_KERNEL,
        )?;
        pr_info!(
            "registered /dev/binder-lite, minor {}\n",
            device.misc.minor()
        );
        Ok(BinderLiteModule { _device: device })
    }
}

/// The device: its misc registration and the one context its files share.
#[pin_data]
struct Device {
    context: Arc<Context>,
    /// The only registration of [`Process`] files; `open` finds the device from it.
    #[pin]
    misc: MiscDeviceRegistration<Process>,
}

/// A binder context: the context manager of a device and the state all its processes share.
#[pin_data]
struct Context {
    /// The id of the process that is the context manager, if any.
    #[pin]
    manager: Mutex<Option<u64>>,
    /// The id of the next process opened on this context.
    next_process_id: AtomicU64,
}

impl Context {
    fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Context {
                manager <- new_mutex!(None, "binder_lite::Context::manager"),
                next_process_id: AtomicU64::new(1),
            }),
            GFP_KERNEL,
        )
    }

    /// Makes `process` the context manager: `EBUSY` if there is one already, as in C.
    fn set_manager(&self, process: u64) -> Result {
        let mut manager = self.manager.lock();
        if manager.is_some() {
            return Err(EBUSY);
        }
        *manager = Some(process);
        Ok(())
    }

    /// Whether `process` is the context manager.
    fn is_manager(&self, process: u64) -> bool {
        *self.manager.lock() == Some(process)
    }

    /// Forgets `process` as context manager, if it is one.
    fn clear_manager(&self, process: u64) {
        let mut manager = self.manager.lock();
        if *manager == Some(process) {
            *manager = None;
        }
    }
}

/// A binder thread: a task that called into a process.
#[pin_data]
struct Thread {
    /// The id of the task (`current->pid`).
    pid: i32,
    /// Where the thread waits for work; woken on new work and by signals.
    #[pin]
    wait: CondVar,
}

/// The state of a thread that the process's lock protects.
struct ThreadState {
    thread: Arc<Thread>,
    /// `LOOPER_*` flags.
    looper: u32,
    /// A read of this thread returns without waiting for work (`looper_need_return` in C): set
    /// for a new thread, cleared at the end of each of its ioctls.
    need_return: bool,
}

/// The state of a process that its spinlock protects.
struct ProcessInner {
    /// The threads of the process, by task id.
    threads: RBTree<i32, ThreadState>,
    /// The number of threads user space may start on `BR_SPAWN_LOOPER` requests.
    max_threads: u32,
    /// `BR_SPAWN_LOOPER` requests not answered by a `BC_REGISTER_LOOPER` yet.
    requested_threads: u32,
    /// Threads started by `BC_REGISTER_LOOPER` after a request.
    requested_threads_started: u32,
    /// The threads waiting for work of the process.
    waiting_threads: usize,
}

/// What the process attaches to each buffer of its area; transactions will.
type BufferData = ();

/// A binder process: one open file of `/dev/binder-lite`.
#[pin_data]
struct Process {
    /// Unique within the context.
    id: u64,
    context: Arc<Context>,
    /// The group leader of the task that opened the file; only it may `mmap` the file.
    leader: ARef<Task>,
    /// The address space of the task that opened the file (its `mm_count`, not its users).
    mm: ARef<Mm>,
    #[pin]
    inner: SpinLock<ProcessInner>,
    /// The buffer area, where the transactions the process receives are copied.
    #[pin]
    buffers: BufferArea<BufferData>,
}

impl Process {
    fn new(context: Arc<Context>) -> Result<Arc<Self>> {
        let mm = with_current_mm(|mm| mm.map(|mm| mm.mmgrab())).ok_or(EINVAL)?;
        let leader = ARef::from(current!().group_leader());
        let id = context.next_process_id.fetch_add(1, Ordering::Relaxed);
        Arc::pin_init(
            pin_init!(Process {
                id,
                context,
                leader,
                mm,
                inner <- new_spinlock!(
                    ProcessInner {
                        threads: RBTree::new(),
                        max_threads: 0,
                        requested_threads: 0,
                        requested_threads_started: 0,
                        waiting_threads: 0,
                    },
                    "binder_lite::Process::inner"
                ),
                buffers <- BufferArea::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// Returns the thread of the current task, created on its first call.
    fn get_thread(&self) -> Result<Arc<Thread>> {
        let pid = current!().pid();
        if let Some(state) = self.inner.lock().threads.get(&pid) {
            return Ok(state.thread.clone());
        }
        // Allocate with the lock dropped. Only this task adds a thread with its pid, so none
        // appears meanwhile.
        let thread = Arc::pin_init(
            pin_init!(Thread {
                pid,
                wait <- new_condvar!("binder_lite::Thread::wait"),
            }),
            GFP_KERNEL,
        )?;
        let state = ThreadState {
            thread: thread.clone(),
            looper: 0,
            need_return: true,
        };
        let node = RBTreeNode::new(pid, state, GFP_KERNEL)?;
        let old = self.inner.lock().threads.insert(node);
        // Freed outside the lock; there is none, see above.
        drop(old);
        Ok(thread)
    }

    /// Ends an ioctl of `thread`: its next read may wait again (C clears `looper_need_return`).
    fn end_ioctl(&self, thread: &Thread) {
        if let Some(state) = self.inner.lock().threads.get_mut(&thread.pid) {
            state.need_return = false;
        }
    }

    /// `BINDER_THREAD_EXIT`: forgets the thread; the task's next call gets a new one.
    fn thread_exit(&self, thread: &Thread) {
        let removed = self.inner.lock().threads.remove(&thread.pid);
        // Freed outside the lock.
        drop(removed);
    }

    fn dispatch(&self, thread: &Thread, cmd: u32, arg: usize) -> Result {
        match cmd {
            uapi::BINDER_WRITE_READ => self.write_read(thread, arg),
            uapi::BINDER_SET_MAX_THREADS => {
                let max: u32 = UserSlice::new(arg, size_of::<u32>())
                    .reader()
                    .read()
                    .map_err(|_| EINVAL)?;
                self.inner.lock().max_threads = max;
                Ok(())
            }
            uapi::BINDER_SET_CONTEXT_MGR_EXT => {
                // The object describes the manager's node; nodes are not implemented yet, but a
                // bad pointer gets C's answer before the manager is checked.
                let _object: [u8; size_of::<uapi::flat_binder_object>()] =
                    UserSlice::new(arg, size_of::<uapi::flat_binder_object>())
                        .reader()
                        .read()
                        .map_err(|_| EINVAL)?;
                self.context.set_manager(self.id)
            }
            uapi::BINDER_SET_CONTEXT_MGR => self.context.set_manager(self.id),
            uapi::BINDER_THREAD_EXIT => {
                self.thread_exit(thread);
                Ok(())
            }
            uapi::BINDER_VERSION => UserSlice::new(arg, size_of::<i32>())
                .writer()
                .write(&PROTOCOL_VERSION)
                .map_err(|_| EINVAL),
            uapi::BINDER_ENABLE_ONEWAY_SPAM_DETECTION => {
                // Accepted; there are no one-way transactions to watch yet.
                let _enable: u32 = UserSlice::new(arg, size_of::<u32>()).reader().read()?;
                Ok(())
            }
            uapi::BINDER_GET_NODE_INFO_FOR_REF => self.node_info_for_ref(arg),
            uapi::BINDER_GET_EXTENDED_ERROR => {
                // No transaction of this thread has failed yet, so there is no error to
                // report: the id and the parameter are 0, the command is BR_OK.
                let error: [u32; 3] = [0, BR_OK, 0];
                UserSlice::new(arg, size_of::<uapi::binder_extended_error>())
                    .writer()
                    .write(&error)
            }
            _ => Err(EINVAL),
        }
    }

    /// `BINDER_GET_NODE_INFO_FOR_REF`: the reference counts of the node that a handle of the
    /// context manager names.
    fn node_info_for_ref(&self, arg: usize) -> Result {
        // `struct binder_node_info_for_ref` is six `u32`s: the handle, then fields that must
        // be 0 on input.
        let info: [u32; 6] = UserSlice::new(arg, size_of::<uapi::binder_node_info_for_ref>())
            .reader()
            .read()?;
        if info[1..].iter().any(|&word| word != 0) {
            return Err(EINVAL);
        }
        if !self.context.is_manager(self.id) {
            return Err(EPERM);
        }
        // Nodes and references are not implemented yet: no handle names a node.
        Err(EINVAL)
    }

    /// `BINDER_WRITE_READ`: runs the commands of the write buffer, then fills the read buffer.
    fn write_read(&self, thread: &Thread, arg: usize) -> Result {
        let (mut reader, mut writer) =
            UserSlice::new(arg, size_of::<BinderWriteRead>()).reader_writer();
        let BinderWriteRead(mut bwr) = reader.read()?;
        if bwr.write_size > 0 {
            if let Err(e) = self.write(
                thread,
                bwr.write_buffer,
                bwr.write_size,
                &mut bwr.write_consumed,
            ) {
                bwr.read_consumed = 0;
                writer.write(&BinderWriteRead(bwr))?;
                return Err(e);
            }
        }
        if bwr.read_size > 0 {
            if let Err(e) = self.read(
                thread,
                bwr.read_buffer,
                bwr.read_size,
                &mut bwr.read_consumed,
            ) {
                writer.write(&BinderWriteRead(bwr))?;
                return Err(e);
            }
        }
        writer.write(&BinderWriteRead(bwr))
    }

    /// Runs the commands in `size` bytes at `buffer`, from `*consumed` on.
    ///
    /// As in C, `*consumed` counts the commands that completed, also when one fails.
    fn write(&self, thread: &Thread, buffer: u64, size: u64, consumed: &mut u64) -> Result {
        let buffer = buffer as usize;
        let end = buffer.wrapping_add(size as usize);
        let mut ptr = buffer.wrapping_add(*consumed as usize);
        while ptr < end {
            let cmd: u32 = UserSlice::new(ptr, size_of::<u32>()).reader().read()?;
            ptr = ptr.wrapping_add(size_of::<u32>());
            match cmd {
                BC_ENTER_LOOPER => self.update_looper(thread, |_, looper| {
                    if *looper & LOOPER_REGISTERED != 0 {
                        *looper |= LOOPER_INVALID;
                    }
                    *looper |= LOOPER_ENTERED;
                }),
                BC_REGISTER_LOOPER => self.update_looper(thread, |inner, looper| {
                    if *looper & LOOPER_ENTERED != 0 || inner.requested_threads == 0 {
                        *looper |= LOOPER_INVALID;
                    } else {
                        inner.requested_threads -= 1;
                        inner.requested_threads_started += 1;
                    }
                    *looper |= LOOPER_REGISTERED;
                }),
                BC_EXIT_LOOPER => self.update_looper(thread, |_, looper| *looper |= LOOPER_EXITED),
                _ => return Err(EINVAL),
            }
            *consumed = ptr.wrapping_sub(buffer) as u64;
        }
        Ok(())
    }

    /// Changes the looper state of `thread` under the process's lock.
    fn update_looper(&self, thread: &Thread, f: impl FnOnce(&mut ProcessInner, &mut u32)) {
        let mut inner = self.inner.lock();
        let Some(mut looper) = inner.threads.get(&thread.pid).map(|state| state.looper) else {
            return;
        };
        f(&mut inner, &mut looper);
        if let Some(state) = inner.threads.get_mut(&thread.pid) {
            state.looper = looper;
        }
    }

    /// Fills the read buffer of `size` bytes at `buffer`, from `*consumed` on.
    ///
    /// As in C, a read that starts at 0 begins with `BR_NOOP`; with no work to return it waits
    /// until there is some, or returns `EINTR` on a signal (leaving `*consumed` unchanged). A
    /// looper thread that returns while no thread of its process waits for work asks for one
    /// more (`BR_SPAWN_LOOPER` replaces the first word), up to the maximum user space set.
    fn read(&self, thread: &Thread, buffer: u64, _size: u64, consumed: &mut u64) -> Result {
        let buffer = buffer as usize;
        let mut ptr = buffer.wrapping_add(*consumed as usize);
        if *consumed == 0 {
            UserSlice::new(ptr, size_of::<u32>())
                .writer()
                .write(&BR_NOOP)?;
            ptr = ptr.wrapping_add(size_of::<u32>());
        }
        loop {
            let need_return = self.wait_for_work(thread)?;
            // No work is ever queued yet: return only if asked to, or if the buffer already
            // held something.
            if ptr.wrapping_sub(buffer) != size_of::<u32>() || need_return {
                break;
            }
        }
        *consumed = ptr.wrapping_sub(buffer) as u64;

        let spawn = {
            let mut inner = self.inner.lock();
            let looper = inner
                .threads
                .get(&thread.pid)
                .map_or(0, |state| state.looper);
            let spawn = inner.requested_threads == 0
                && inner.waiting_threads == 0
                && inner.requested_threads_started < inner.max_threads
                && looper & (LOOPER_REGISTERED | LOOPER_ENTERED) != 0;
            if spawn {
                inner.requested_threads += 1;
            }
            spawn
        };
        if spawn {
            UserSlice::new(buffer, size_of::<u32>())
                .writer()
                .write(&BR_SPAWN_LOOPER)?;
        }
        Ok(())
    }

    /// Waits until `thread` has something to return; returns whether it must return without
    /// work (`need_return`), or `EINTR` when a signal interrupts the wait.
    fn wait_for_work(&self, thread: &Thread) -> Result<bool> {
        let mut inner = self.inner.lock();
        loop {
            let Some(state) = inner.threads.get(&thread.pid) else {
                // Only the thread itself removes its state, and it is here.
                return Ok(true);
            };
            if state.need_return {
                return Ok(true);
            }
            inner.waiting_threads += 1;
            let signal = thread.wait.wait_interruptible(&mut inner);
            inner.waiting_threads -= 1;
            if signal {
                return Err(EINTR);
            }
        }
    }

    /// Checks and records the buffer area of a new mapping, as `binder_mmap` does.
    fn map_buffer_area(&self, vma: &VmaNew) -> Result {
        if !ptr::eq(current!().group_leader(), &*self.leader) {
            return Err(EINVAL);
        }
        // Refuse writable mappings, and make sure `mprotect` cannot make this one writable.
        vma.try_clear_maywrite()?;
        vma.set_dontcopy();
        vma.set_mixedmap();
        if vma.mm().as_raw() != self.mm.as_raw() {
            return Err(EINVAL);
        }
        self.buffers.map(vma)
    }
}

#[vtable]
impl MiscDevice for Process {
    type Ptr = Arc<Self>;

    fn open(misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Self>> {
        // SAFETY: The only `MiscDeviceRegistration<Process>` is the `misc` field of the pinned
        // `Device` of the module, which outlives every call of `open` (unregistering waits for
        // them).
        let device = unsafe { &*kernel::container_of!(misc, Device, misc) };
        Process::new(device.context.clone())
    }

    fn release(process: Arc<Self>) {
        process.context.clear_manager(process.id);
        // Nothing is attached to buffers yet, so their data needs no teardown.
        drop(process.buffers.release());
        drop(process);
    }

    fn ioctl(process: ArcBorrow<'_, Self>, cmd: u32, arg: usize) -> Result<isize> {
        let thread = process.get_thread()?;
        let result = process.dispatch(&thread, cmd, arg);
        process.end_ioctl(&thread);
        result.map(|()| 0)
    }

    fn mmap(process: ArcBorrow<'_, Self>, vma: &VmaNew) -> Result {
        process.map_buffer_area(vma)
    }
}
