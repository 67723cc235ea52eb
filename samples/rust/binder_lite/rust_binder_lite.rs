// SPDX-License-Identifier: GPL-2.0

//! binder-lite: a subset of the binder IPC protocol, on the kernel crate's abstractions.
//!
//! `/dev/binder-lite` is a misc device with one binder context (one context manager). Each open
//! of it is a binder process; each task that calls into it is a binder thread of that process.
//! Where binder-lite implements a request, it answers as the C binder of the same kernel does
//! (`drivers/android/binder.c`), down to the errno; see `Documentation/rust/binder-lite.rst`
//! for what is implemented and what every other request gets.
//!
//! The driver is split by concept: [`process`] (files, ioctls, the read and write sides,
//! release), [`thread`], [`node`] (nodes, references, the handle table), [`transaction`],
//! [`death`] (death notifications), [`work`] (the work queues), [`defs`] (the UAPI) and
//! [`buffer`] (the buffer area).

mod allocator;
mod buffer;
mod death;
mod defs;
mod node;
mod process;
mod thread;
mod transaction;
mod work;

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::{
    c_str,
    cred::Kuid,
    debugfs::{Dir, File},
    miscdevice::{MiscDevice, MiscDeviceFileOps, MiscDeviceOptions, MiscDeviceRegistration},
    mm::virt::VmaNew,
    new_mutex,
    prelude::*,
    rbtree::{RBTree, RBTreeNode},
    seq_file::SeqFile,
    seq_print,
    sync::{Arc, ArcBorrow, Mutex},
};

use crate::{node::Node, process::Process, work::DArc};

module! {
    type: BinderLiteModule,
    name: "rust_binder_lite",
    author: "Rust for Linux Contributors",
    description: "A subset of the binder IPC protocol on Rust abstractions",
    license: "GPL",
}

/// The file operations of `/dev/binder-lite`: a `static` of this module, which owns them.
static FOPS: MiscDeviceFileOps<Process> = MiscDeviceFileOps::new(&THIS_MODULE);

struct BinderLiteModule {
    /// `/sys/kernel/debug/binder-lite/state`; removed before the device goes.
    _state: File<Arc<Context>>,
    _device: Pin<KBox<Device>>,
}

impl kernel::Module for BinderLiteModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let context = Context::new()?;
        // The file holds its directory.
        let state = Dir::new(c_str!("binder-lite"))?.read_only_file(
            c_str!("state"),
            context.clone(),
            Context::show_state,
        )?;
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
        Ok(BinderLiteModule {
            _state: state,
            _device: device,
        })
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

/// The context manager of a context.
pub(crate) struct Manager {
    /// The context manager's node, if there is a manager.
    pub(crate) node: Option<DArc<Node>>,
    /// The effective user id of the first manager: only it may become manager (C's
    /// `binder_context_mgr_uid`).
    pub(crate) uid: Option<Kuid>,
}

/// A binder context: the context manager of a device and the state all its processes share.
#[pin_data]
pub(crate) struct Context {
    /// The context manager.
    #[pin]
    pub(crate) manager: Mutex<Manager>,
    /// The processes, in the order they opened the device, for the debugfs `state` file.
    #[pin]
    processes: Mutex<RBTree<u64, Arc<Process>>>,
    /// The id of the next process opened on this context.
    next_process_id: AtomicU64,
    /// The next id of a node or transaction, for messages and extended errors.
    next_debug_id: AtomicU32,
}

impl Context {
    fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Context {
                manager <- new_mutex!(
                    Manager {
                        node: None,
                        uid: None,
                    },
                    "binder_lite::Context::manager"
                ),
                processes <- new_mutex!(RBTree::new(), "binder_lite::Context::processes"),
                next_process_id: AtomicU64::new(1),
                next_debug_id: AtomicU32::new(1),
            }),
            GFP_KERNEL,
        )
    }

    /// The context manager's node, if any.
    pub(crate) fn manager_node(&self) -> Option<DArc<Node>> {
        self.manager.lock().node.clone()
    }

    /// Lists a new process in the `state` file.
    pub(crate) fn add_process(&self, process: &Arc<Process>) -> Result {
        let node = RBTreeNode::new(process.id, process.clone(), GFP_KERNEL)?;
        // Ids are unique: nothing is replaced.
        let old = self.processes.lock().insert(node);
        drop(old);
        Ok(())
    }

    /// Removes a released process from the `state` file.
    pub(crate) fn remove_process(&self, process: &Arc<Process>) {
        let removed = self.processes.lock().remove(&process.id);
        // Dropped with the lock released.
        drop(removed);
    }

    /// The `state` file: the state of each process.
    fn show_state(context: &Arc<Context>, m: &SeqFile) -> Result {
        seq_print!(m, "binder-lite state\n");
        for process in context.processes.lock().values() {
            process.show_state(m);
        }
        Ok(())
    }

    /// A new process id.
    pub(crate) fn next_process_id(&self) -> u64 {
        self.next_process_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A new id for a node or a transaction.
    pub(crate) fn next_debug_id(&self) -> u32 {
        self.next_debug_id.fetch_add(1, Ordering::Relaxed)
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
        process.release();
    }

    fn ioctl(process: ArcBorrow<'_, Self>, cmd: u32, arg: usize) -> Result<isize> {
        let process: Arc<Process> = process.into();
        let thread = process.get_thread()?;
        let result = process.dispatch(&thread, cmd, arg);
        process.end_ioctl(&thread);
        result.map(|()| 0)
    }

    fn mmap(process: ArcBorrow<'_, Self>, vma: &VmaNew) -> Result {
        process.map_buffer_area(vma)
    }
}
