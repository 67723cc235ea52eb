// SPDX-License-Identifier: GPL-2.0

//! Binder processes: one per open file of `/dev/binder-lite`, with their threads, nodes,
//! handle table, work queue and buffer area; the ioctls and the read and write sides of
//! `BINDER_WRITE_READ`; and the release of it all when the file goes.

use core::mem::size_of;
use kernel::{
    cred::Kuid,
    current,
    mm::{virt::VmaNew, with_current_mm, Mm},
    new_mutex, new_spinlock,
    prelude::*,
    rbtree::{RBTree, RBTreeNode},
    seq_file::SeqFile,
    seq_print,
    sync::{Arc, Mutex, SpinLock},
    task::Task,
    types::{ARef, FromBytes},
    uaccess::UserSlice,
    uapi,
};

use crate::{
    buffer::BufferArea,
    defs::*,
    node::{Node, RefTable},
    thread::Thread,
    transaction::{BufferData, Transaction},
    work::{cancel_all, DArc, ReturnWriter, WorkList},
    Context,
};

/// The state of a process that its spinlock protects, with the state of its threads and nodes
/// (see [`kernel::sync::LockedBy`]).
pub(crate) struct ProcessInner {
    /// The threads of the process, by task id.
    pub(crate) threads: RBTree<i32, Arc<Thread>>,
    /// The nodes of the process, by pointer.
    pub(crate) nodes: RBTree<u64, DArc<Node>>,
    /// The process's work queue, for any of its looper threads.
    pub(crate) todo: WorkList,
    /// `BR_DEAD_BINDER`s returned and not yet acknowledged with `BC_DEAD_BINDER_DONE`.
    pub(crate) delivered_deaths: WorkList,
    /// The number of threads user space may start on `BR_SPAWN_LOOPER` requests.
    max_threads: u32,
    /// `BR_SPAWN_LOOPER` requests not answered by a `BC_REGISTER_LOOPER` yet.
    requested_threads: u32,
    /// Threads started by `BC_REGISTER_LOOPER` after a request.
    requested_threads_started: u32,
    /// The threads waiting for work of the process.
    pub(crate) waiting_threads: usize,
    /// Counts the waits for work of the process, to order the waiters.
    wait_seq: u64,
    /// The file was released.
    pub(crate) is_dead: bool,
    /// Transactions being built to the process (their buffers must stay).
    pub(crate) tmp_refs: usize,
    /// The buffer area was released.
    buffers_released: bool,
}

impl ProcessInner {
    /// Picks the thread that waits for work of the process the most recently, and takes it off
    /// the waiters (`binder_select_thread_ilocked`).
    pub(crate) fn select_thread(&mut self) -> Option<Arc<Thread>> {
        let mut best: Option<(u64, i32)> = None;
        for (pid, thread) in self.threads.iter() {
            if let Some(seq) = thread.waiting_seq(self) {
                match best {
                    Some((best_seq, _)) if best_seq > seq => {}
                    _ => best = Some((seq, *pid)),
                }
            }
        }
        let (_, pid) = best?;
        let thread = self.threads.get(&pid)?.clone();
        if thread.inner(self).waiting.take().is_some() {
            self.waiting_threads = self.waiting_threads.saturating_sub(1);
        }
        Some(thread)
    }

    /// Wakes a thread waiting for work of the process, if any.
    pub(crate) fn wakeup_proc(&mut self) {
        // The tree holds the thread too: this is not the last reference.
        if let Some(thread) = self.select_thread() {
            thread.wait.notify_one();
        }
    }

    /// Forgets `node`, if it is in the tree.
    pub(crate) fn remove_node(&mut self, node: &DArc<Node>) {
        if self
            .nodes
            .get(&node.ptr)
            .is_some_and(|n| Arc::ptr_eq(n, node))
        {
            // The caller holds a reference to the node: this is not the last one.
            let _ = self.nodes.remove(&node.ptr);
        }
    }
}

/// A binder process: one open file of `/dev/binder-lite`.
#[pin_data]
pub(crate) struct Process {
    /// Unique within the context.
    pub(crate) id: u64,
    pub(crate) context: Arc<Context>,
    /// The group leader of the task that opened the file; only it may `mmap` the file.
    pub(crate) leader: ARef<Task>,
    /// The address space of the task that opened the file (its `mm_count`, not its users).
    mm: ARef<Mm>,
    #[pin]
    pub(crate) inner: SpinLock<ProcessInner>,
    /// The handle table; taken before `inner`, never while a process lock is held.
    #[pin]
    pub(crate) refs: Mutex<RefTable>,
    /// The buffer area.
    #[pin]
    pub(crate) buffers: BufferArea<Arc<BufferData>>,
}

/// Reads the arguments of commands from a write buffer.
struct CommandReader {
    ptr: usize,
}

impl CommandReader {
    fn read<T: FromBytes>(&mut self) -> Result<T> {
        let value = UserSlice::new(self.ptr, size_of::<T>()).reader().read()?;
        self.ptr = self.ptr.wrapping_add(size_of::<T>());
        Ok(value)
    }
}

impl Process {
    pub(crate) fn new(context: Arc<Context>) -> Result<Arc<Self>> {
        let mm = with_current_mm(|mm| mm.map(|mm| mm.mmgrab())).ok_or(EINVAL)?;
        let leader = ARef::from(current!().group_leader());
        let id = context.next_process_id();
        let process = Arc::pin_init(
            pin_init!(Process {
                id,
                context,
                leader,
                mm,
                inner <- new_spinlock!(
                    ProcessInner {
                        threads: RBTree::new(),
                        nodes: RBTree::new(),
                        todo: WorkList::new(),
                        delivered_deaths: WorkList::new(),
                        max_threads: 0,
                        requested_threads: 0,
                        requested_threads_started: 0,
                        waiting_threads: 0,
                        wait_seq: 0,
                        is_dead: false,
                        tmp_refs: 0,
                        buffers_released: false,
                    },
                    "binder_lite::Process::inner"
                ),
                refs <- new_mutex!(RefTable::new(), "binder_lite::Process::refs"),
                buffers <- BufferArea::new(),
            }),
            GFP_KERNEL,
        )?;
        process.context.add_process(&process)?;
        Ok(process)
    }

    /// Writes the state of the process to the debugfs `state` file: its nodes, references,
    /// handles and buffer area. Takes `inner`, then `refs`, then the area's lock, one at a time.
    pub(crate) fn show_state(&self, m: &SeqFile) {
        seq_print!(m, "proc {} (id {})\n", self.leader.pid(), self.id);
        let nodes = self.inner.lock().nodes.iter().count();
        seq_print!(m, "  nodes: {nodes}\n");
        self.refs.lock().show_state(m);
        let stats = self.buffers.stats();
        seq_print!(
            m,
            "  buffers: area {} bytes, {} bytes in {} buffers, {} bytes free\n",
            stats.size,
            stats.ranges.used_bytes,
            stats.ranges.used_ranges,
            stats.ranges.free_bytes
        );
        seq_print!(m, "  pages: {}\n", stats.pages);
    }

    /// The id of the process as the current task sees it (`sender_pid`): the thread group id
    /// of the task that opened the file, in the current task's pid namespace.
    pub(crate) fn sender_pid(&self) -> i32 {
        self.leader.tgid_nr_ns(None)
    }

    /// Returns the thread of the current task, created on its first call.
    pub(crate) fn get_thread(self: &Arc<Self>) -> Result<Arc<Thread>> {
        let pid = current!().pid();
        if let Some(thread) = self.inner.lock().threads.get(&pid) {
            return Ok(thread.clone());
        }
        // Allocate with the lock dropped. Only this task adds a thread with its pid, so none
        // appears meanwhile.
        let thread = Thread::new(self.clone(), pid)?;
        let node = RBTreeNode::new(pid, thread.clone(), GFP_KERNEL)?;
        let old = self.inner.lock().threads.insert(node);
        // Freed outside the lock; there is none, see above.
        drop(old);
        Ok(thread)
    }

    /// Ends an ioctl of `thread`: its next read may wait again (C clears `looper_need_return`).
    pub(crate) fn end_ioctl(&self, thread: &Thread) {
        let mut inner = self.inner.lock();
        thread.inner(&mut inner).need_return = false;
    }

    /// `BINDER_THREAD_EXIT`: releases the thread; the task's next call gets a new one.
    fn thread_exit(&self, thread: &Arc<Thread>) {
        let removed = self.inner.lock().threads.remove(&thread.pid);
        thread.release();
        drop(removed);
    }

    pub(crate) fn dispatch(self: &Arc<Self>, thread: &Arc<Thread>, cmd: u32, arg: usize) -> Result {
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
                let object: FlatBinderObject = UserSlice::new(arg, size_of::<FlatBinderObject>())
                    .reader()
                    .read()
                    .map_err(|_| EINVAL)?;
                self.set_context_manager(Some(object))
            }
            uapi::BINDER_SET_CONTEXT_MGR => self.set_context_manager(None),
            uapi::BINDER_THREAD_EXIT => {
                self.thread_exit(thread);
                Ok(())
            }
            uapi::BINDER_VERSION => UserSlice::new(arg, size_of::<i32>())
                .writer()
                .write(&PROTOCOL_VERSION)
                .map_err(|_| EINVAL),
            uapi::BINDER_ENABLE_ONEWAY_SPAM_DETECTION => {
                // Accepted; binder-lite does not report one-way spam.
                let _enable: u32 = UserSlice::new(arg, size_of::<u32>()).reader().read()?;
                Ok(())
            }
            uapi::BINDER_GET_NODE_INFO_FOR_REF => self.node_info_for_ref(arg),
            uapi::BINDER_GET_EXTENDED_ERROR => {
                let error = {
                    let mut inner = self.inner.lock();
                    let ti = thread.inner(&mut inner);
                    core::mem::replace(
                        &mut ti.extended_error,
                        ExtendedError {
                            id: 0,
                            command: BR_OK,
                            param: 0,
                        },
                    )
                };
                UserSlice::new(arg, size_of::<ExtendedError>())
                    .writer()
                    .write(&error)
            }
            _ => Err(EINVAL),
        }
    }

    /// `BINDER_SET_CONTEXT_MGR` and `_EXT`: makes a node of this process, described by
    /// `object` (or pointer and cookie 0), the context manager's.
    fn set_context_manager(self: &Arc<Self>, object: Option<FlatBinderObject>) -> Result {
        let mut manager = self.context.manager.lock();
        if manager.node.is_some() {
            return Err(EBUSY);
        }
        // The first manager's effective user id is the only one that may be manager again.
        let euid = Kuid::current_euid();
        let first_uid = manager.uid;
        match first_uid {
            Some(uid) if uid != euid => return Err(EPERM),
            _ => manager.uid = Some(euid),
        }
        let (ptr, cookie, flags) = object.map_or((0, 0, 0), |o| (o.binder, o.cookie, o.flags));
        let node = self.get_or_create_node(ptr, cookie, flags)?;
        node.make_manager(&mut self.inner.lock());
        manager.node = Some(DArc::clone(&node));
        Ok(())
    }

    /// `BINDER_GET_NODE_INFO_FOR_REF`: the reference counts of the node that a handle of the
    /// context manager names.
    fn node_info_for_ref(&self, arg: usize) -> Result {
        let (mut reader, mut writer) =
            UserSlice::new(arg, size_of::<NodeInfoForRef>()).reader_writer();
        let mut info: NodeInfoForRef = reader.read()?;
        if info.strong_count != 0 || info.weak_count != 0 || info.reserved != [0; 3] {
            return Err(EINVAL);
        }
        let is_manager = self
            .context
            .manager_node()
            .is_some_and(|node| core::ptr::eq(&*node.owner, self));
        if !is_manager {
            return Err(EPERM);
        }
        let node = self.node_for_handle(info.handle, true).ok_or(EINVAL)?;
        let (strong, weak) = node.info(&mut node.owner.inner.lock());
        info.strong_count = strong;
        info.weak_count = weak;
        writer.write(&info)
    }

    /// `BINDER_WRITE_READ`: runs the commands of the write buffer, then fills the read buffer.
    fn write_read(self: &Arc<Self>, thread: &Arc<Thread>, arg: usize) -> Result {
        let (mut reader, mut writer) = UserSlice::new(arg, size_of::<WriteRead>()).reader_writer();
        let mut bwr: WriteRead = reader.read()?;
        if bwr.write_size > 0 {
            if let Err(e) = self.write(
                thread,
                bwr.write_buffer,
                bwr.write_size,
                &mut bwr.write_consumed,
            ) {
                bwr.read_consumed = 0;
                writer.write(&bwr)?;
                return Err(e);
            }
        }
        if bwr.read_size > 0 {
            let result = self.read(
                thread,
                bwr.read_buffer,
                bwr.read_size,
                &mut bwr.read_consumed,
            );
            {
                let mut inner = self.inner.lock();
                if !inner.todo.is_empty() {
                    inner.wakeup_proc();
                }
            }
            if let Err(e) = result {
                writer.write(&bwr)?;
                return Err(e);
            }
        }
        writer.write(&bwr)
    }

    /// Runs the commands in `size` bytes at `buffer`, from `*consumed` on.
    ///
    /// As in C, `*consumed` counts the commands that completed, also when one fails; a failed
    /// transaction stops the commands after it.
    fn write(
        self: &Arc<Self>,
        thread: &Arc<Thread>,
        buffer: u64,
        size: u64,
        consumed: &mut u64,
    ) -> Result {
        let start = buffer as usize;
        let end = start.wrapping_add(size as usize);
        let mut cmds = CommandReader {
            ptr: start.wrapping_add(*consumed as usize),
        };
        while cmds.ptr < end && !thread.has_return_error() {
            let cmd: u32 = cmds.read()?;
            match cmd {
                BC_INCREFS | BC_ACQUIRE | BC_RELEASE | BC_DECREFS => {
                    let handle: u32 = cmds.read()?;
                    let strong = cmd == BC_ACQUIRE || cmd == BC_RELEASE;
                    let increment = cmd == BC_INCREFS || cmd == BC_ACQUIRE;
                    self.refcount_command(handle, increment, strong)?;
                }
                BC_INCREFS_DONE | BC_ACQUIRE_DONE => {
                    let ptr: u64 = cmds.read()?;
                    let cookie: u64 = cmds.read()?;
                    self.acknowledge(ptr, cookie, cmd == BC_ACQUIRE_DONE);
                }
                BC_FREE_BUFFER => {
                    let address: u64 = cmds.read()?;
                    self.free_buffer(address);
                }
                BC_TRANSACTION | BC_REPLY => {
                    let tr: TransactionData = cmds.read()?;
                    Transaction::transact(thread, &tr, cmd == BC_REPLY, 0);
                }
                BC_TRANSACTION_SG | BC_REPLY_SG => {
                    let tr: TransactionDataSg = cmds.read()?;
                    Transaction::transact(
                        thread,
                        &tr.transaction,
                        cmd == BC_REPLY_SG,
                        tr.buffers_size,
                    );
                }
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
                BC_REQUEST_DEATH_NOTIFICATION | BC_CLEAR_DEATH_NOTIFICATION => {
                    let handle: u32 = cmds.read()?;
                    let cookie: u64 = cmds.read()?;
                    if cmd == BC_REQUEST_DEATH_NOTIFICATION {
                        self.request_death(thread, handle, cookie);
                    } else {
                        self.clear_death(thread, handle, cookie);
                    }
                }
                BC_DEAD_BINDER_DONE => {
                    let cookie: u64 = cmds.read()?;
                    self.dead_binder_done(thread, cookie);
                }
                _ => return Err(EINVAL),
            }
            *consumed = cmds.ptr.wrapping_sub(start) as u64;
        }
        Ok(())
    }

    /// `BC_INCREFS`, `BC_ACQUIRE`, `BC_RELEASE`, `BC_DECREFS`: an increment of handle 0 makes
    /// a reference to the context manager's node if there is none; errors are only logged, as
    /// in C, but the manager taking a reference to itself fails the write.
    fn refcount_command(&self, handle: u32, increment: bool, strong: bool) -> Result {
        if increment && handle == 0 {
            if let Some(manager) = self.context.manager_node() {
                if core::ptr::eq(&*manager.owner, self) {
                    return Err(EINVAL);
                }
                if self.inc_ref_for_node(&manager, strong, None).is_ok() {
                    return Ok(());
                }
            }
        }
        if self.update_ref(handle, increment, strong).is_err() {
            pr_debug!("refcount change on invalid ref {}\n", handle);
        }
        Ok(())
    }

    /// `BC_INCREFS_DONE` (`strong` false) and `BC_ACQUIRE_DONE`; errors are only logged.
    fn acknowledge(&self, ptr: u64, cookie: u64, strong: bool) {
        let Some(node) = self.get_node(ptr) else {
            pr_debug!("BC_INCREFS_DONE/BC_ACQUIRE_DONE {:x} no match\n", ptr);
            return;
        };
        if node.cookie != cookie {
            pr_debug!(
                "BC_INCREFS_DONE/BC_ACQUIRE_DONE {:x} cookie mismatch\n",
                ptr
            );
            return;
        }
        if !node.acknowledge(&mut self.inner.lock(), strong) {
            pr_debug!("BC_INCREFS_DONE/BC_ACQUIRE_DONE {:x} not pending\n", ptr);
        }
    }

    /// Changes the looper state of `thread` under the process's lock.
    fn update_looper(&self, thread: &Thread, f: impl FnOnce(&mut ProcessInner, &mut u32)) {
        let mut inner = self.inner.lock();
        let mut looper = thread.inner(&mut inner).looper;
        f(&mut inner, &mut looper);
        thread.inner(&mut inner).looper = looper;
    }

    /// Fills the read buffer of `size` bytes at `buffer`, from `*consumed` on
    /// (`binder_thread_read`).
    ///
    /// A read that starts at 0 begins with `BR_NOOP`. It waits, interruptibly, for work of the
    /// thread, or of the process if the thread is a looper with nothing to do, and returns as
    /// much of it as fits, up to a transaction. A looper thread that returns while no thread of
    /// its process waits for work asks for one more (`BR_SPAWN_LOOPER` replaces the first word),
    /// up to the maximum user space set. On an error, `*consumed` is unchanged.
    fn read(&self, thread: &Arc<Thread>, buffer: u64, size: u64, consumed: &mut u64) -> Result {
        let mut out = ReturnWriter::new(buffer, size, *consumed);
        if *consumed == 0 {
            out.write(&BR_NOOP)?;
        }
        self.read_work(thread, &mut out)?;
        *consumed = out.consumed() as u64;

        let spawn = {
            let mut inner = self.inner.lock();
            let looper = thread.inner(&mut inner).looper;
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
            out.write_first(BR_SPAWN_LOOPER)?;
        }
        Ok(())
    }

    fn read_work(&self, thread: &Arc<Thread>, out: &mut ReturnWriter) -> Result {
        'retry: loop {
            let proc_work = {
                let mut inner = self.inner.lock();
                Thread::available_for_proc_work(thread.inner(&mut inner))
            };
            self.wait_for_work(thread, proc_work)?;
            loop {
                let mut inner = self.inner.lock();
                let from_thread = !thread.inner(&mut inner).todo.is_empty();
                if !from_thread && (!proc_work || inner.todo.is_empty()) {
                    let need_return = thread.inner(&mut inner).need_return;
                    drop(inner);
                    if out.consumed() == size_of::<u32>() && !need_return {
                        continue 'retry;
                    }
                    return Ok(());
                }
                if out.room() < READ_ROOM {
                    return Ok(());
                }
                let item = if from_thread {
                    thread.inner(&mut inner).todo.pop_front()
                } else {
                    inner.todo.pop_front()
                };
                let ti = thread.inner(&mut inner);
                if ti.todo.is_empty() {
                    ti.process_todo = false;
                }
                let Some(item) = item else {
                    continue;
                };
                if item.into_arc().deliver(thread, inner, out)? {
                    return Ok(());
                }
            }
        }
    }

    /// Waits until `thread` has something to return (`binder_wait_for_work`); `EINTR` when a
    /// signal interrupts the wait.
    fn wait_for_work(&self, thread: &Thread, proc_work: bool) -> Result {
        let mut inner = self.inner.lock();
        loop {
            let proc_todo = !inner.todo.is_empty();
            let ti = thread.inner(&mut inner);
            if ti.process_todo || ti.need_return || (proc_work && proc_todo) {
                return Ok(());
            }
            if proc_work {
                let seq = inner.wait_seq;
                inner.wait_seq = seq.wrapping_add(1);
                thread.inner(&mut inner).waiting = Some(seq);
                inner.waiting_threads += 1;
            }
            let signal = thread.wait.wait_interruptible(&mut inner);
            if thread.inner(&mut inner).waiting.take().is_some() {
                inner.waiting_threads = inner.waiting_threads.saturating_sub(1);
            }
            if signal {
                return Err(EINTR);
            }
        }
    }

    /// Checks and records the buffer area of a new mapping, as `binder_mmap` does.
    pub(crate) fn map_buffer_area(&self, vma: &VmaNew) -> Result {
        if !core::ptr::eq(current!().group_leader(), &*self.leader) {
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

    /// Drops a count taken while a transaction to the process was built; the last one after
    /// the release frees the buffer area.
    pub(crate) fn put_tmp_ref(&self) {
        let release = {
            let mut inner = self.inner.lock();
            inner.tmp_refs = inner.tmp_refs.saturating_sub(1);
            let release = inner.is_dead && inner.tmp_refs == 0 && !inner.buffers_released;
            if release {
                inner.buffers_released = true;
            }
            release
        };
        if release {
            self.release_buffers();
        }
    }

    /// Frees every buffer of the area (what they hold goes with the nodes and references of
    /// the process, released before).
    fn release_buffers(&self) {
        let buffers = self.buffers.release();
        drop(buffers);
    }

    /// Releases the process as its file goes (`binder_deferred_release`): the context manager
    /// role, the threads (the transactions they handle get `BR_DEAD_REPLY` for their senders),
    /// the nodes (holders of references with a death notification get `BR_DEAD_BINDER`), the
    /// references, the queued work and the buffers.
    pub(crate) fn release(self: &Arc<Self>) {
        self.context.remove_process(self);
        let manager = {
            let mut manager = self.context.manager.lock();
            if manager
                .node
                .as_ref()
                .is_some_and(|node| Arc::ptr_eq(&node.owner, self))
            {
                manager.node.take()
            } else {
                None
            }
        };
        drop(manager);
        self.inner.lock().is_dead = true;
        loop {
            let thread = {
                let mut inner = self.inner.lock();
                let Some(pid) = inner.threads.keys().next().copied() else {
                    break;
                };
                inner.threads.remove(&pid)
            };
            if let Some(thread) = thread {
                thread.release();
            }
        }
        loop {
            let (node, async_todo, deaths) = {
                let mut inner = self.inner.lock();
                let Some(ptr) = inner.nodes.keys().next().copied() else {
                    break;
                };
                let Some(node) = inner.nodes.remove(&ptr) else {
                    break;
                };
                let (async_todo, deaths) = node.release(&mut inner);
                (node, async_todo, deaths)
            };
            cancel_all(async_todo);
            for death in deaths.values() {
                death.node_died();
            }
            drop(deaths);
            drop(node);
        }
        self.release_refs();
        let (todo, delivered) = {
            let mut inner = self.inner.lock();
            (
                core::mem::take(&mut inner.todo),
                core::mem::take(&mut inner.delivered_deaths),
            )
        };
        cancel_all(todo);
        cancel_all(delivered);
        let release = {
            let mut inner = self.inner.lock();
            let release = inner.tmp_refs == 0 && !inner.buffers_released;
            if release {
                inner.buffers_released = true;
            }
            release
        };
        if release {
            self.release_buffers();
        }
    }
}
