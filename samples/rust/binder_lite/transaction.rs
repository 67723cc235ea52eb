// SPDX-License-Identifier: GPL-2.0

//! Transactions and replies: `BC_TRANSACTION`, `BC_REPLY`, their delivery and their failures.
//!
//! A transaction's data goes straight from the sender's memory into a buffer of the target's
//! buffer area; the binder objects in it are translated in place (a node of the sender becomes a
//! handle of the target, a handle becomes the target's own node or its handle for the same node).
//! A synchronous transaction goes on the sender's transaction stack and to a thread of the target
//! (the thread of the target that is up the sender's call chain, if any, so that nested calls
//! reach a thread waiting for a reply), or to the target's queue; its reply goes to the sender.
//! One-way transactions to a node are delivered one at a time, in order: the next waits in the
//! node's queue until the buffer of the previous one is freed.

use core::sync::atomic::Ordering;
use kernel::{
    cred::Kuid,
    new_spinlock,
    prelude::*,
    sync::{lock::spinlock::SpinLockBackend, lock::Guard, Arc, SpinLock},
    uaccess::UserSlice,
};

use crate::{
    buffer::Buffer,
    defs::*,
    node::Node,
    process::{Process, ProcessInner},
    thread::Thread,
    work::{remove_where, work_addr, Command, DArc, Deliver, ProcessGuard, ReturnWriter, Work},
};

/// A binder object translated into a buffer, which the buffer holds a reference for.
pub(crate) enum Object {
    /// The buffer's process received its own node: a local reference on it.
    Node(DArc<Node>, bool),
    /// The buffer's process received a handle: a count of that reference.
    Handle(u32, bool),
}

/// What the buffer of a transaction holds, under its own lock.
pub(crate) struct BufferState {
    /// The node the transaction went to; the buffer holds a local strong reference on it.
    target_node: Option<DArc<Node>>,
    /// The translated objects.
    objects: KVec<Object>,
}

/// What binder-lite attaches to each buffer of a buffer area.
#[pin_data]
pub(crate) struct BufferData {
    /// The buffer holds a one-way transaction.
    oneway: bool,
    #[pin]
    state: SpinLock<BufferState>,
}

impl BufferData {
    fn new(oneway: bool) -> Result<Arc<BufferData>> {
        Arc::pin_init(
            pin_init!(BufferData {
                oneway,
                state <- new_spinlock!(
                    BufferState {
                        target_node: None,
                        objects: KVec::new(),
                    },
                    "binder_lite::BufferData::state"
                ),
            }),
            GFP_KERNEL,
        )
    }
}

/// Drops what a freed buffer of `process` held (`binder_transaction_buffer_release`).
pub(crate) fn release_buffer_data(process: &Process, data: &BufferData) {
    let (target_node, objects) = {
        let mut state = data.state.lock();
        (
            state.target_node.take(),
            core::mem::take(&mut state.objects),
        )
    };
    if let Some(node) = &target_node {
        let mut inner = node.owner.inner.lock();
        node.dec(&mut inner, true, false);
    }
    for object in objects.iter() {
        match object {
            Object::Node(node, strong) => {
                let mut inner = node.owner.inner.lock();
                node.dec(&mut inner, *strong, false);
            }
            Object::Handle(handle, strong) => {
                if process.update_ref(*handle, false, *strong).is_err() {
                    pr_err!("transaction release: bad handle {}\n", handle);
                }
            }
        }
    }
}

/// The transaction-stack state of a transaction, under its own lock (taken after any process
/// lock, never together with another transaction's).
pub(crate) struct TransactionInner {
    /// The sending thread, while it waits for the reply (synchronous transactions only).
    pub(crate) from: Option<Arc<Thread>>,
    /// The sender's stack below this transaction.
    pub(crate) from_parent: Option<DArc<Transaction>>,
    /// The thread handling the transaction, once delivered.
    pub(crate) to_thread: Option<Arc<Thread>>,
    /// The handling thread's stack below this transaction.
    pub(crate) to_parent: Option<DArc<Transaction>>,
    /// The buffer, until delivered (then user space owns it).
    buffer: Option<Buffer>,
}

/// A transaction's lock held.
type TransactionGuard<'a> = Guard<'a, TransactionInner, SpinLockBackend>;

/// A transaction or a reply.
#[pin_data]
pub(crate) struct Transaction {
    debug_id: u32,
    /// The target process.
    to: Arc<Process>,
    /// The target node; `None` for a reply.
    target_node: Option<DArc<Node>>,
    code: u32,
    flags: u32,
    /// The effective user id of the sender's process, as C takes it when sending.
    sender_euid: Kuid,
    data_size: u64,
    offsets_size: u64,
    #[pin]
    pub(crate) inner: SpinLock<TransactionInner>,
}

/// A count on a process that keeps its buffers from being released while a transaction to it
/// is built (`tmp_ref` in C).
struct TmpRef(Arc<Process>);

impl TmpRef {
    /// Wraps a count the caller took with `tmp_refs += 1` under the process's lock.
    fn taken(process: Arc<Process>) -> Self {
        TmpRef(process)
    }
}

impl Drop for TmpRef {
    fn drop(&mut self) {
        self.0.put_tmp_ref();
    }
}

/// A transaction's failure: the command for the sender and the errno for the extended error.
type Failure = (u32, i32);

fn failed(e: Error) -> Failure {
    (BR_FAILED_REPLY, e.to_errno())
}

/// The failure of a transaction or reply that breaks the transaction stack: `EPROTO`, which the
/// kernel crate of 6.12 has no constant for.
fn protocol_error() -> Failure {
    (BR_FAILED_REPLY, -(kernel::bindings::EPROTO as i32))
}

/// Aligns `n` to 8 bytes (the pointer size of 64-bit binder).
fn align8(n: u64) -> Option<u64> {
    n.checked_add(7).map(|n| n & !7)
}

/// Reads the object at `offset` of the sender's data at `data` of `data_size` bytes
/// (`binder_get_object`); returns its size and the object (the first 24 bytes).
fn get_object(data: u64, data_size: u64, offset: u64) -> Option<(u64, FlatBinderObject)> {
    if offset > data_size || offset & 3 != 0 {
        return None;
    }
    let read_size = (MAX_OBJECT_SIZE as u64).min(data_size - offset) as usize;
    if read_size < 4 {
        return None;
    }
    let mut bytes = [0u8; MAX_OBJECT_SIZE];
    UserSlice::new(data.wrapping_add(offset) as usize, read_size)
        .reader()
        .read_slice(&mut bytes[..read_size])
        .ok()?;
    let word =
        |at: usize| u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let dword = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[at..at + 8]);
        u64::from_ne_bytes(b)
    };
    let kind = word(0);
    let size = match kind {
        BINDER_TYPE_BINDER
        | BINDER_TYPE_WEAK_BINDER
        | BINDER_TYPE_HANDLE
        | BINDER_TYPE_WEAK_HANDLE => core::mem::size_of::<FlatBinderObject>(),
        BINDER_TYPE_FD => core::mem::size_of::<kernel::uapi::binder_fd_object>(),
        BINDER_TYPE_PTR => core::mem::size_of::<kernel::uapi::binder_buffer_object>(),
        BINDER_TYPE_FDA => core::mem::size_of::<kernel::uapi::binder_fd_array_object>(),
        _ => return None,
    } as u64;
    if data_size < size || offset > data_size - size {
        return None;
    }
    let object = FlatBinderObject {
        kind,
        flags: word(4),
        binder: dword(8),
        cookie: dword(16),
    };
    Some((size, object))
}

impl Transaction {
    fn is_oneway(&self) -> bool {
        self.flags & TF_ONE_WAY != 0
    }

    /// Frees the buffer of a transaction that will not be delivered.
    fn discard_buffer(&self) {
        let buffer = self.inner.lock().buffer.take();
        if let Some(data) = buffer.and_then(|buffer| self.to.buffers.free(buffer)) {
            release_buffer_data(&self.to, &data);
        }
    }

    /// Calls `f` with the sender of this transaction, its process's lock and this transaction's
    /// lock, if the transaction has a sender that is still its sender once its process is
    /// locked; returns `None` otherwise.
    ///
    /// A process's lock comes before a transaction's, so the sender is read, its process
    /// locked and the sender read again: it may have exited or had its reply in between. What
    /// `f` returns is dropped by the caller, after both locks are released.
    fn with_sender<R>(
        &self,
        f: impl FnOnce(&Arc<Thread>, &mut ProcessInner, TransactionGuard<'_>) -> R,
    ) -> Option<R> {
        let from = self.inner.lock().from.clone()?;
        let mut inner = from.process.inner.lock();
        let tl = self.inner.lock();
        if !tl.from.as_ref().is_some_and(|f| Arc::ptr_eq(f, &from)) {
            return None;
        }
        Some(f(&from, &mut inner, tl))
    }

    /// Tells the sender of `t`, or the first sender down its chain that is still there, that
    /// the transaction failed with `code` (`binder_send_failed_reply`).
    pub(crate) fn send_failed_reply(t: DArc<Transaction>, code: u32) {
        let mut t = t;
        loop {
            let sent = t.with_sender(|from, inner, mut tl| {
                let old_from = tl.from.take();
                let parent = tl.from_parent.clone();
                drop(tl);
                let ti = from.inner(inner);
                let popped = if ti.stack.as_ref().is_some_and(|s| Arc::ptr_eq(s, &t)) {
                    core::mem::replace(&mut ti.stack, parent)
                } else {
                    None
                };
                if from.reply_error.cmd.load(Ordering::Relaxed) == BR_OK {
                    from.reply_error.cmd.store(code, Ordering::Relaxed);
                    if let Some(item) = Work::queue_ref(&from.reply_error) {
                        from.push_work_and_wake(inner, item);
                    }
                } else {
                    pr_warn!("unexpected reply error\n");
                }
                (popped, old_from)
            });
            if sent.is_some() {
                return;
            }
            let next = t.inner.lock().from_parent.take();
            drop(t);
            match next {
                Some(next) => t = next,
                None => return,
            }
        }
    }

    /// Records a failure of the reply to `t` as its sender's extended error, unless it has one.
    fn set_from_error(&self, id: u32, command: u32, param: i32) {
        self.with_sender(|from, inner, _| {
            let ti = from.inner(inner);
            if ti.extended_error.command == BR_OK {
                ti.extended_error = ExtendedError { id, command, param };
            }
        });
    }

    /// Queues `t` on `target` (`binder_proc_transaction`): on `thread` if given, else on a
    /// waiting thread or the process's queue, or, for a one-way transaction while another to the
    /// same node is pending, on the node's queue.
    fn proc_transaction(
        t: &DArc<Transaction>,
        target: &Arc<Process>,
        thread: Option<Arc<Thread>>,
    ) -> core::result::Result<(), u32> {
        let Some(node) = &t.target_node else {
            return Err(BR_FAILED_REPLY);
        };
        let oneway = t.is_oneway();
        let mut inner = target.inner.lock();
        let mut pending_async = false;
        if oneway {
            let ni = node.inner(&mut inner);
            if ni.has_async {
                pending_async = true;
            } else {
                ni.has_async = true;
            }
        }
        if inner.is_dead || thread.as_ref().is_some_and(|th| th.is_dead(&inner)) {
            return Err(BR_DEAD_REPLY);
        }
        let thread = match thread {
            None if !pending_async => inner.select_thread(),
            thread => thread,
        };
        let Some(item) = Work::queue_ref(t) else {
            return Err(BR_FAILED_REPLY);
        };
        if let Some(thread) = &thread {
            thread.push_work_and_wake(&mut inner, item);
        } else if !pending_async {
            inner.todo.push_back(item);
        } else {
            node.inner(&mut inner).async_todo.push_back(item);
        }
        drop(inner);
        drop(thread);
        Ok(())
    }

    /// `BC_TRANSACTION` and `BC_REPLY` (and their `_SG` forms, with `extra` the size of the
    /// extra buffers, which binder-lite refuses) of `thread` (`binder_transaction`).
    pub(crate) fn transact(thread: &Arc<Thread>, tr: &TransactionData, reply: bool, extra: u64) {
        let process = &thread.process;
        let id = process.context.next_debug_id();
        {
            let mut inner = process.inner.lock();
            thread.inner(&mut inner).extended_error = ExtendedError {
                id,
                command: BR_OK,
                param: 0,
            };
        }
        let mut in_reply_to = None;
        let Err((cmd, param)) = Self::send(thread, tr, reply, extra, id, &mut in_reply_to) else {
            return;
        };
        if let Some(in_reply_to) = in_reply_to {
            in_reply_to.set_from_error(id, cmd, param);
            thread.set_return_error(BR_TRANSACTION_COMPLETE);
            Self::send_failed_reply(in_reply_to, cmd);
        } else {
            {
                let mut inner = process.inner.lock();
                thread.inner(&mut inner).extended_error = ExtendedError {
                    id,
                    command: cmd,
                    param,
                };
            }
            thread.set_return_error(cmd);
        }
    }

    /// Finds the target of a reply: the sender of the transaction on top of `thread`'s stack,
    /// which is popped. Returns the sender, with a count on its process.
    fn reply_target(
        thread: &Arc<Thread>,
        in_reply_to: &mut Option<DArc<Transaction>>,
    ) -> core::result::Result<Arc<Thread>, Failure> {
        let process = &thread.process;
        let t = {
            let mut inner = process.inner.lock();
            let ti = thread.inner(&mut inner);
            let Some(t) = ti.stack.clone() else {
                return Err(protocol_error());
            };
            let mut tl = t.inner.lock();
            if !tl
                .to_thread
                .as_ref()
                .is_some_and(|to| Arc::ptr_eq(to, thread))
            {
                return Err(protocol_error());
            }
            let parent = tl.to_parent.take();
            drop(tl);
            let old = core::mem::replace(&mut ti.stack, parent);
            drop(inner);
            drop(old);
            t
        };
        *in_reply_to = Some(t.clone());
        let from = t.with_sender(|from, inner, tl| {
            drop(tl);
            let on_top = from
                .inner(inner)
                .stack
                .as_ref()
                .is_some_and(|s| Arc::ptr_eq(s, &t));
            if on_top {
                inner.tmp_refs += 1;
                Some(from.clone())
            } else {
                None
            }
        });
        match from {
            None => Err((BR_DEAD_REPLY, 0)),
            Some(None) => {
                *in_reply_to = None;
                Err(protocol_error())
            }
            Some(Some(from)) => Ok(from),
        }
    }

    /// Finds the target node of a transaction and takes a local strong reference on it, and a
    /// count on its process (`binder_get_node_refs_for_txn`).
    fn target_node(
        process: &Arc<Process>,
        handle: u32,
    ) -> core::result::Result<DArc<Node>, Failure> {
        let node = if handle != 0 {
            process
                .node_for_handle(handle, true)
                .ok_or((BR_FAILED_REPLY, EINVAL.to_errno()))?
        } else {
            let node = process
                .context
                .manager_node()
                .ok_or((BR_DEAD_REPLY, EINVAL.to_errno()))?;
            // As in C, by process id: another file of the manager's process counts as the
            // manager.
            if node.owner.sender_pid() == process.sender_pid() {
                return Err(failed(EINVAL));
            }
            node
        };
        let mut inner = node.owner.inner.lock();
        if node.inner(&mut inner).dead {
            return Err((BR_DEAD_REPLY, EINVAL.to_errno()));
        }
        node.inc(&mut inner, true, false, None).map_err(failed)?;
        inner.tmp_refs += 1;
        drop(inner);
        Ok(node)
    }

    fn send(
        thread: &Arc<Thread>,
        tr: &TransactionData,
        reply: bool,
        extra: u64,
        id: u32,
        in_reply_to: &mut Option<DArc<Transaction>>,
    ) -> core::result::Result<(), Failure> {
        let process = &thread.process;
        let oneway = !reply && tr.flags & TF_ONE_WAY != 0;
        let mut target_thread = None;
        let target_node;
        let target;
        if reply {
            let from = Self::reply_target(thread, in_reply_to)?;
            target = from.process.clone();
            target_thread = Some(from);
            target_node = None;
        } else {
            let node = Self::target_node(process, handle_of(tr.target))?;
            target = node.owner.clone();
            target_node = Some(node);
        }
        let _tmp = TmpRef::taken(target.clone());
        // A data structure for the local strong reference on the node until its buffer holds
        // it: dropped on the failures before that.
        let data = match BufferData::new(oneway) {
            Ok(data) => data,
            Err(e) => {
                if let Some(node) = &target_node {
                    let mut inner = node.owner.inner.lock();
                    node.dec(&mut inner, true, false);
                }
                return Err(failed(e));
            }
        };
        data.state.lock().target_node.clone_from(&target_node);
        let result = Self::send_with_data(
            thread,
            tr,
            reply,
            extra,
            id,
            in_reply_to,
            &target,
            target_thread,
            target_node,
            &data,
            oneway,
        );
        if result.is_err() {
            // Drops what the failed transaction took, unless its buffer was freed with it.
            release_buffer_data(&target, &data);
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn send_with_data(
        thread: &Arc<Thread>,
        tr: &TransactionData,
        reply: bool,
        extra: u64,
        id: u32,
        in_reply_to: &mut Option<DArc<Transaction>>,
        target: &Arc<Process>,
        mut target_thread: Option<Arc<Thread>>,
        target_node: Option<DArc<Node>>,
        data: &Arc<BufferData>,
        oneway: bool,
    ) -> core::result::Result<(), Failure> {
        let process = &thread.process;
        if Arc::ptr_eq(target, process) {
            return Err(failed(EINVAL));
        }
        if !reply {
            let mut inner = process.inner.lock();
            let ti = thread.inner(&mut inner);
            if !oneway && ti.todo.iter().next().is_some_and(|w| w.is_transaction()) {
                return Err(protocol_error());
            }
            if let (false, Some(top)) = (oneway, ti.stack.clone()) {
                if !top
                    .inner
                    .lock()
                    .to_thread
                    .as_ref()
                    .is_some_and(|to| Arc::ptr_eq(to, thread))
                {
                    return Err(protocol_error());
                }
                // A thread of the target up the call chain waits for this thread's reply:
                // the call goes to it.
                let mut cur = Some(top);
                while let Some(t) = cur {
                    let tl = t.inner.lock();
                    if let Some(from) = &tl.from {
                        if Arc::ptr_eq(&from.process, target) {
                            target_thread = Some(from.clone());
                            break;
                        }
                    }
                    let parent = tl.from_parent.clone();
                    drop(tl);
                    cur = parent;
                }
            }
        }
        if target_node
            .as_ref()
            .is_some_and(|node| node.flags & FLAT_BINDER_FLAG_TXN_SECURITY_CTX != 0)
        {
            // As C answers when no security module provides contexts.
            return Err((BR_FAILED_REPLY, -(kernel::bindings::EOPNOTSUPP as i32)));
        }
        if extra != 0 {
            // Scatter-gather buffers are not supported: refused as C refuses invalid ones,
            // after its check that the target has a mapping.
            if !target.buffers.is_mapped() {
                return Err((BR_DEAD_REPLY, ESRCH.to_errno()));
            }
            return Err(failed(EINVAL));
        }
        let accept_fds = match (&target_node, &*in_reply_to) {
            (Some(node), _) => node.flags & FLAT_BINDER_FLAG_ACCEPTS_FDS != 0,
            (None, Some(in_reply_to)) => in_reply_to.flags & TF_ACCEPT_FDS != 0,
            (None, None) => false,
        };
        let tcomplete = Work::new_queued(Command::new(BR_TRANSACTION_COMPLETE)).map_err(failed)?;
        let tcomplete_addr = work_addr(&*tcomplete);
        let from = if !reply && !oneway {
            Some(thread.clone())
        } else {
            None
        };
        let t = Work::new(pin_init!(Transaction {
            debug_id: id,
            to: target.clone(),
            target_node,
            code: tr.code,
            flags: tr.flags,
            sender_euid: process.leader.euid(),
            data_size: tr.data_size,
            offsets_size: tr.offsets_size,
            inner <- new_spinlock!(
                TransactionInner {
                    from,
                    from_parent: None,
                    to_thread: None,
                    to_parent: None,
                    buffer: None,
                },
                "binder_lite::Transaction::inner"
            ),
        }))
        .map_err(failed)?;
        let data_size = usize::try_from(tr.data_size).map_err(|_| failed(EINVAL))?;
        let offsets_size = usize::try_from(tr.offsets_size).map_err(|_| failed(EINVAL))?;
        let buffer = target
            .buffers
            .reserve(data_size, offsets_size, oneway, data.clone())
            .map_err(|e| {
                let cmd = if e == ESRCH {
                    BR_DEAD_REPLY
                } else {
                    BR_FAILED_REPLY
                };
                (cmd, e.to_errno())
            })?;
        let copied = Self::copy_and_translate(thread, target, &buffer, tr, data, accept_fds);
        t.inner.lock().buffer = Some(buffer);
        if let Err(failure) = copied {
            t.discard_buffer();
            return Err(failure);
        }
        let tcomplete: crate::work::WorkItem = tcomplete;

        if reply {
            let Some(target_thread) = target_thread.take() else {
                t.discard_buffer();
                return Err(protocol_error());
            };
            thread.push_tcomplete(tcomplete, false);
            let mut inner = target.inner.lock();
            if target_thread.is_dead(&inner) {
                drop(inner);
                thread.remove_tcomplete(tcomplete_addr);
                t.discard_buffer();
                return Err((BR_DEAD_REPLY, 0));
            }
            let Some(irt) = in_reply_to.take() else {
                return Err(protocol_error());
            };
            let (old_from, parent) = {
                let mut tl = irt.inner.lock();
                (tl.from.take(), tl.from_parent.clone())
            };
            let ti = target_thread.inner(&mut inner);
            let popped = if ti.stack.as_ref().is_some_and(|s| Arc::ptr_eq(s, &irt)) {
                core::mem::replace(&mut ti.stack, parent)
            } else {
                None
            };
            if let Some(item) = Work::queue_ref(&t) {
                target_thread.push_work_and_wake(&mut inner, item);
            }
            drop(inner);
            drop((old_from, popped, irt));
        } else if !oneway {
            {
                let mut inner = process.inner.lock();
                thread.push_work(&mut inner, tcomplete, true);
                let ti = thread.inner(&mut inner);
                t.inner.lock().from_parent = ti.stack.take();
                ti.stack = Some(t.clone());
            }
            if let Err(code) = Self::proc_transaction(&t, target, target_thread) {
                let popped = {
                    let mut inner = process.inner.lock();
                    let (old_from, parent) = {
                        let mut tl = t.inner.lock();
                        (tl.from.take(), tl.from_parent.take())
                    };
                    let ti = thread.inner(&mut inner);
                    let popped = core::mem::replace(&mut ti.stack, parent);
                    (old_from, popped)
                };
                drop(popped);
                thread.remove_tcomplete(tcomplete_addr);
                t.discard_buffer();
                return Err((code, 0));
            }
        } else {
            if let Err(code) = Self::proc_transaction(&t, target, None) {
                t.discard_buffer();
                return Err((code, 0));
            }
            thread.push_tcomplete(tcomplete, false);
        }
        Ok(())
    }

    /// Copies the sender's data and offsets into `buffer` and translates the objects.
    fn copy_and_translate(
        thread: &Arc<Thread>,
        target: &Arc<Process>,
        buffer: &Buffer,
        tr: &TransactionData,
        data: &BufferData,
        accept_fds: bool,
    ) -> core::result::Result<(), Failure> {
        let area = &target.buffers;
        let off_start = align8(tr.data_size).ok_or(failed(EINVAL))?;
        area.copy_from_user(
            buffer,
            off_start as usize,
            tr.offsets as usize,
            tr.offsets_size as usize,
        )
        .map_err(|_| failed(EFAULT))?;
        if tr.offsets_size & 7 != 0 {
            return Err(failed(EINVAL));
        }
        // Grown as objects come (each takes at least 24 bytes of data), not sized by the
        // offsets, which user space may make far more numerous than the objects.
        let mut objects = KVec::new();
        let off_end = off_start + tr.offsets_size;
        let mut user_offset = 0u64;
        let mut off_min = 0u64;
        let mut off = off_start;
        let mut result = Ok(());
        while off < off_end {
            let Ok(object_offset) = area.read::<u64>(buffer, off as usize) else {
                result = Err(failed(EINVAL));
                break;
            };
            if object_offset != user_offset
                && (user_offset > object_offset
                    || object_offset > tr.data_size
                    || area
                        .copy_from_user(
                            buffer,
                            user_offset as usize,
                            tr.buffer.wrapping_add(user_offset) as usize,
                            (object_offset - user_offset) as usize,
                        )
                        .is_err())
            {
                result = Err(failed(EFAULT));
                break;
            }
            let object = get_object(tr.buffer, tr.data_size, object_offset);
            let Some((size, mut fp)) = object.filter(|_| object_offset >= off_min) else {
                result = Err(failed(EINVAL));
                break;
            };
            user_offset = object_offset + size;
            off_min = user_offset;
            let translated = match fp.kind {
                BINDER_TYPE_BINDER | BINDER_TYPE_WEAK_BINDER => {
                    translate_binder(thread, target, &mut fp, &mut objects)
                }
                BINDER_TYPE_HANDLE | BINDER_TYPE_WEAK_HANDLE => {
                    translate_handle(thread, target, &mut fp, &mut objects)
                }
                // A file descriptor is refused as C refuses one that is not open (or, first,
                // one for a target that does not accept them); an fd array and a buffer object
                // as C refuses them without a valid parent buffer object.
                BINDER_TYPE_FD if !accept_fds => Err(EPERM),
                BINDER_TYPE_FD => Err(EBADF),
                _ => Err(EINVAL),
            };
            if let Err(e) =
                translated.and_then(|()| area.write(buffer, object_offset as usize, &fp))
            {
                result = Err(failed(e));
                break;
            }
            off += 8;
        }
        if result.is_ok()
            && area
                .copy_from_user(
                    buffer,
                    user_offset as usize,
                    tr.buffer.wrapping_add(user_offset) as usize,
                    (tr.data_size - user_offset) as usize,
                )
                .is_err()
        {
            result = Err(failed(EFAULT));
        }
        // The buffer holds the references of the translated objects, also to release them
        // on a failure.
        data.state.lock().objects = objects;
        result
    }
}

/// Translates a node of the sender into a handle of the target (`binder_translate_binder`).
fn translate_binder(
    thread: &Arc<Thread>,
    target: &Arc<Process>,
    fp: &mut FlatBinderObject,
    objects: &mut KVec<Object>,
) -> Result {
    let node = thread
        .process
        .get_or_create_node(fp.binder, fp.cookie, fp.flags)?;
    if fp.cookie != node.cookie {
        return Err(EINVAL);
    }
    let strong = fp.kind == BINDER_TYPE_BINDER;
    let handle = target.inc_ref_for_node(&node, strong, Some(thread))?;
    if objects
        .push(Object::Handle(handle, strong), GFP_KERNEL)
        .is_err()
    {
        let _ = target.update_ref(handle, false, strong);
        return Err(ENOMEM);
    }
    fp.kind = if strong {
        BINDER_TYPE_HANDLE
    } else {
        BINDER_TYPE_WEAK_HANDLE
    };
    fp.binder = word_of_handle(handle);
    fp.cookie = 0;
    Ok(())
}

/// Translates a handle of the sender into the target's node or handle
/// (`binder_translate_handle`).
fn translate_handle(
    thread: &Arc<Thread>,
    target: &Arc<Process>,
    fp: &mut FlatBinderObject,
    objects: &mut KVec<Object>,
) -> Result {
    let strong = fp.kind == BINDER_TYPE_HANDLE;
    let node = thread
        .process
        .node_for_handle(handle_of(fp.binder), strong)
        .ok_or(EINVAL)?;
    if Arc::ptr_eq(&node.owner, target) {
        let mut inner = target.inner.lock();
        if !node.inner(&mut inner).dead {
            node.inc(&mut inner, strong, false, None)?;
            drop(inner);
            if let Err(e) = objects.push(Object::Node(node.clone(), strong), GFP_KERNEL) {
                let mut inner = target.inner.lock();
                node.dec(&mut inner, strong, false);
                return Err(e.into());
            }
            fp.kind = if strong {
                BINDER_TYPE_BINDER
            } else {
                BINDER_TYPE_WEAK_BINDER
            };
            fp.binder = node.ptr;
            fp.cookie = node.cookie;
            return Ok(());
        }
    }
    let handle = target.inc_ref_for_node(&node, strong, None)?;
    if objects
        .push(Object::Handle(handle, strong), GFP_KERNEL)
        .is_err()
    {
        let _ = target.update_ref(handle, false, strong);
        return Err(ENOMEM);
    }
    fp.binder = word_of_handle(handle);
    fp.cookie = 0;
    Ok(())
}

impl Deliver for Transaction {
    fn deliver(
        self: DArc<Self>,
        thread: &Arc<Thread>,
        inner: ProcessGuard<'_>,
        out: &mut ReturnWriter,
    ) -> Result<bool> {
        drop(inner);
        let (cmd, target, cookie) = match &self.target_node {
            Some(node) => (BR_TRANSACTION, node.ptr, node.cookie),
            None => (BR_REPLY, 0, 0),
        };
        let (from, address) = {
            let tl = self.inner.lock();
            let address = tl
                .buffer
                .as_ref()
                .map(|buffer| self.to.buffers.user_address(buffer));
            (tl.from.clone(), address)
        };
        let Some(address) = address else {
            // Not possible: only delivery takes the buffer.
            return Ok(false);
        };
        let tr = TransactionData {
            target,
            cookie,
            code: self.code,
            flags: self.flags,
            sender_pid: from.map_or(0, |from| from.process.sender_pid()),
            sender_euid: self.sender_euid.into_uid_in_current_ns(),
            data_size: self.data_size,
            offsets_size: self.offsets_size,
            buffer: address,
            offsets: address.wrapping_add(align8(self.data_size).unwrap_or(0)),
        };
        if let Err(e) = out.write(&cmd).and_then(|()| out.write(&tr)) {
            self.discard_buffer();
            if cmd == BR_TRANSACTION && !self.is_oneway() {
                Self::send_failed_reply(self, BR_FAILED_REPLY);
            }
            return Err(e);
        }
        let buffer = self.inner.lock().buffer.take();
        if let Some(buffer) = buffer {
            self.to.buffers.set_user_may_free(&buffer);
        }
        if cmd == BR_TRANSACTION && !self.is_oneway() {
            let mut inner = thread.process.inner.lock();
            let ti = thread.inner(&mut inner);
            {
                let mut tl = self.inner.lock();
                tl.to_parent = ti.stack.take();
                tl.to_thread = Some(thread.clone());
            }
            ti.stack = Some(self);
        }
        Ok(true)
    }

    fn cancel(self: DArc<Self>) {
        self.discard_buffer();
        if self.target_node.is_some() && !self.is_oneway() {
            Self::send_failed_reply(self, BR_DEAD_REPLY);
        }
    }

    fn is_transaction(&self) -> bool {
        true
    }
}

impl Thread {
    /// Queues the `BR_TRANSACTION_COMPLETE` of a transaction of the thread.
    fn push_tcomplete(&self, item: crate::work::WorkItem, deferred: bool) {
        let mut inner = self.process.inner.lock();
        self.push_work(&mut inner, item, deferred);
    }

    /// Removes the `BR_TRANSACTION_COMPLETE` at `addr` from the thread's queue, for a
    /// transaction that failed after it was queued.
    fn remove_tcomplete(&self, addr: usize) {
        let item = {
            let mut inner = self.process.inner.lock();
            let ti = self.inner(&mut inner);
            remove_where(&mut ti.todo, |w| work_addr(w) == addr)
        };
        drop(item);
    }
}

impl Process {
    /// `BC_FREE_BUFFER`: frees a buffer user space received; the next one-way transaction to its
    /// node, if any, can then go (`binder_free_buf`).
    pub(crate) fn free_buffer(&self, address: u64) {
        let data = match self.buffers.free_by_user_address(address) {
            Ok(data) => data,
            Err(_) => {
                pr_debug!("BC_FREE_BUFFER {:x} no match\n", address);
                return;
            }
        };
        if data.oneway {
            let node = data.state.lock().target_node.clone();
            if let Some(node) = node {
                let mut inner = self.inner.lock();
                let ni = node.inner(&mut inner);
                match ni.async_todo.pop_front() {
                    Some(item) => {
                        inner.todo.push_back(item);
                        inner.wakeup_proc();
                    }
                    None => ni.has_async = false,
                }
            }
        }
        release_buffer_data(self, &data);
    }
}
