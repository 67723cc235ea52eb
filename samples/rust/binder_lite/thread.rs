// SPDX-License-Identifier: GPL-2.0

//! Binder threads: each task that calls into a process's file.
//!
//! A thread has its own work queue, which comes before its process's, and a transaction stack:
//! the synchronous transactions it sent and is waiting for the reply of, and those it received
//! and has to reply to, most recent first. Work may be queued on a thread *deferred*: it waits
//! until other work wakes the thread (a sender gets its `BR_TRANSACTION_COMPLETE` with the
//! reply, as in C).

use core::sync::atomic::Ordering;
use kernel::{
    new_condvar,
    prelude::*,
    sync::{Arc, CondVar, LockedBy},
};

use crate::{
    defs::*,
    process::{Process, ProcessInner},
    transaction::Transaction,
    work::{cancel_all, Command, DArc, Work, WorkItem, WorkList},
};

/// The state of a thread that its process's lock protects.
pub(crate) struct ThreadInner {
    /// `LOOPER_*` flags.
    pub(crate) looper: u32,
    /// A read returns without waiting for work (`looper_need_return` in C): set for a new
    /// thread, cleared at the end of each of its ioctls.
    pub(crate) need_return: bool,
    /// The thread's work queue.
    pub(crate) todo: WorkList,
    /// The queue has work that wakes the thread (not only deferred work).
    pub(crate) process_todo: bool,
    /// The top of the transaction stack.
    pub(crate) stack: Option<DArc<Transaction>>,
    /// While the thread waits for work of its process: when it started, to pick the most
    /// recent waiter first, as C does.
    pub(crate) waiting: Option<u64>,
    /// The thread exited or its process released its file.
    pub(crate) is_dead: bool,
    /// The last failed transaction, for `BINDER_GET_EXTENDED_ERROR`.
    pub(crate) extended_error: ExtendedError,
}

/// A binder thread.
#[pin_data]
pub(crate) struct Thread {
    /// The id of the task (`current->pid`).
    pub(crate) pid: i32,
    pub(crate) process: Arc<Process>,
    /// Where the thread waits for work.
    #[pin]
    pub(crate) wait: CondVar,
    inner: LockedBy<ThreadInner, ProcessInner>,
    /// The error of the thread's last command (`return_error` in C).
    pub(crate) return_error: DArc<Command>,
    /// The error that replaces the reply the thread waits for (`reply_error` in C).
    pub(crate) reply_error: DArc<Command>,
}

impl Thread {
    /// A new thread of `process` for the task `pid`.
    pub(crate) fn new(process: Arc<Process>, pid: i32) -> Result<Arc<Thread>> {
        let return_error = Work::new(Command::new(BR_OK))?;
        let reply_error = Work::new(Command::new(BR_OK))?;
        let inner = LockedBy::new(
            &process.inner,
            ThreadInner {
                looper: 0,
                need_return: true,
                todo: WorkList::new(),
                process_todo: false,
                stack: None,
                waiting: None,
                is_dead: false,
                extended_error: ExtendedError {
                    id: 0,
                    command: BR_OK,
                    param: 0,
                },
            },
        );
        Arc::pin_init(
            pin_init!(Thread {
                pid,
                process,
                wait <- new_condvar!("binder_lite::Thread::wait"),
                inner,
                return_error,
                reply_error,
            }),
            GFP_KERNEL,
        )
    }

    /// The thread's state; `inner` is its process's locked state.
    pub(crate) fn inner<'a>(&'a self, inner: &'a mut ProcessInner) -> &'a mut ThreadInner {
        self.inner.access_mut(inner)
    }

    /// Whether the thread entered or registered as a looper.
    pub(crate) fn is_looper(&self, inner: &ProcessInner) -> bool {
        self.inner.access(inner).looper & (LOOPER_REGISTERED | LOOPER_ENTERED) != 0
    }

    /// When the thread started waiting for work of its process, if it waits for that.
    pub(crate) fn waiting_seq(&self, inner: &ProcessInner) -> Option<u64> {
        self.inner.access(inner).waiting
    }

    /// Whether the thread is dead.
    pub(crate) fn is_dead(&self, inner: &ProcessInner) -> bool {
        self.inner.access(inner).is_dead
    }

    /// Queues `item` on the thread. Deferred work does not wake it.
    pub(crate) fn push_work(&self, inner: &mut ProcessInner, item: WorkItem, deferred: bool) {
        let ti = self.inner(inner);
        ti.todo.push_back(item);
        if !deferred {
            ti.process_todo = true;
        }
    }

    /// Queues `item` on the thread and wakes it.
    pub(crate) fn push_work_and_wake(&self, inner: &mut ProcessInner, item: WorkItem) {
        self.push_work(inner, item, false);
        self.wait.notify_sync();
    }

    /// Whether the thread may take work of its process (`binder_available_for_proc_work_ilocked`).
    pub(crate) fn available_for_proc_work(ti: &ThreadInner) -> bool {
        ti.stack.is_none() && ti.todo.is_empty()
    }

    /// Fails the thread's current command with `cmd` (`BR_ERROR`, `BR_FAILED_REPLY`, ...),
    /// returned by its next read; its write stops.
    pub(crate) fn set_return_error(&self, cmd: u32) {
        let mut inner = self.process.inner.lock();
        self.return_error.cmd.store(cmd, Ordering::Relaxed);
        if let Some(item) = Work::queue_ref(&self.return_error) {
            self.push_work(&mut inner, item, false);
        }
    }

    /// Whether the thread's last command failed (its write must stop).
    pub(crate) fn has_return_error(&self) -> bool {
        self.return_error.cmd.load(Ordering::Relaxed) != BR_OK
    }

    /// Releases the thread as it exits or its process releases its file
    /// (`binder_thread_release`); the caller removed it from its process.
    ///
    /// The transactions it was handling get `BR_DEAD_REPLY` for their senders; those it sent
    /// forget it, so that their replies are dropped.
    pub(crate) fn release(self: &Arc<Self>) {
        let (mut next, todo) = {
            let mut inner = self.process.inner.lock();
            let ti = self.inner(&mut inner);
            ti.is_dead = true;
            let was_waiting = ti.waiting.take().is_some();
            let stack = ti.stack.take();
            let todo = core::mem::take(&mut ti.todo);
            ti.process_todo = false;
            if was_waiting {
                inner.waiting_threads = inner.waiting_threads.saturating_sub(1);
            }
            (stack, todo)
        };
        // The stack is only changed under the process's lock, which a dead thread no longer
        // passes (replies to it fail, transactions to it are refused), so it can be walked
        // with only each transaction's lock.
        let mut send_reply = None;
        let mut first = true;
        while let Some(t) = next {
            let mut tl = t.inner.lock();
            let to_me = tl
                .to_thread
                .as_ref()
                .is_some_and(|to| Arc::ptr_eq(to, self));
            let from_me = tl.from.as_ref().is_some_and(|from| Arc::ptr_eq(from, self));
            let (parent, to_thread, from) = if to_me {
                (tl.to_parent.take(), tl.to_thread.take(), None)
            } else if from_me {
                (tl.from_parent.clone(), None, tl.from.take())
            } else {
                (None, None, None)
            };
            drop(tl);
            drop((to_thread, from));
            if to_me && first {
                send_reply = Some(t);
            }
            first = false;
            next = parent;
        }
        if let Some(t) = send_reply {
            Transaction::send_failed_reply(t, BR_DEAD_REPLY);
        }
        cancel_all(todo);
    }
}
