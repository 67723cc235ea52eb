// SPDX-License-Identifier: GPL-2.0

//! Work for a reading thread: the items of the work queues of processes, threads and nodes.
//!
//! Everything a read returns comes from a queue: transactions and replies, their completions,
//! errors, changes of a node's reference counts, death notifications. Each kind is a type that
//! implements [`Deliver`], wrapped in a [`Work`], which carries the links of the intrusive
//! [`List`]s that the queues are. Queuing never allocates: an item is allocated before the
//! lock is taken (or once, like a node's own work), and a tracker makes sure that it is in one
//! queue at most.

use core::ops::Deref;
use kernel::{
    list::{AtomicTracker, HasListLinks, List, ListArc, ListLinksSelfPtr, TryNewListArc},
    prelude::*,
    sync::{lock::spinlock::SpinLockBackend, lock::Guard, Arc},
    types::AsBytes,
    uaccess::UserSlice,
};

use crate::{process::ProcessInner, thread::Thread};

/// The guard of a process's lock.
pub(crate) type ProcessGuard<'a> = Guard<'a, ProcessInner, SpinLockBackend>;

/// A reference-counted item of kind `T` that can be queued.
pub(crate) type DArc<T> = Arc<Work<T>>;

/// A work queue.
pub(crate) type WorkList = List<Work<dyn Deliver>>;

/// A queued item: the one reference that a queue owns.
pub(crate) type WorkItem = ListArc<Work<dyn Deliver>>;

/// What a read does with a piece of work.
pub(crate) trait Deliver: Send + Sync {
    /// Returns the work to the reading `thread`, which has just taken it off a queue of its
    /// process with `inner`, the process's lock, held.
    ///
    /// Returns whether the read ends after it (a transaction, a death notification).
    fn deliver(
        self: DArc<Self>,
        thread: &Arc<Thread>,
        inner: ProcessGuard<'_>,
        out: &mut ReturnWriter,
    ) -> Result<bool>;

    /// Disposes of work taken off a queue that nobody will read: the queue's thread or process
    /// is gone. Called without locks held.
    fn cancel(self: DArc<Self>);

    /// Whether this is a transaction or a reply.
    fn is_transaction(&self) -> bool {
        false
    }

    /// Whether this is a delivered death notification with `cookie`; `inner` is the lock of
    /// its process.
    fn death_matches(&self, _cookie: u64, _inner: &ProcessInner) -> bool {
        false
    }

    /// `BC_DEAD_BINDER_DONE` of a delivered death notification; returns whether it must be
    /// queued again, to answer a clear that came meanwhile.
    fn dead_binder_done(&self, _inner: &mut ProcessInner) -> bool {
        false
    }
}

/// An item of kind `T` with the links of a work queue.
///
/// # Invariants
///
/// A `Work` is only ever created inside an [`Arc`] (its fields are private and it is only built
/// by [`Work::new`] and [`Work::new_queued`]).
#[pin_data]
pub(crate) struct Work<T: ?Sized> {
    #[pin]
    links: ListLinksSelfPtr<Work<dyn Deliver>>,
    #[pin]
    tracker: AtomicTracker,
    #[pin]
    item: T,
}

kernel::list::impl_list_arc_safe! {
    impl{T: ?Sized} ListArcSafe<0> for Work<T> { tracked_by tracker: AtomicTracker; }
}
kernel::list::impl_has_list_links_self_ptr! {
    impl{T: ?Sized} HasSelfPtr<Work<dyn Deliver>> for Work<T> { self.links }
}
kernel::list::impl_list_item! {
    impl ListItem<0> for Work<dyn Deliver> { using ListLinksSelfPtr; }
}

impl<T> Work<T> {
    /// Allocates an item that is not queued.
    pub(crate) fn new(item: impl PinInit<T>) -> Result<DArc<T>> {
        Arc::pin_init(
            pin_init!(Work {
                links <- ListLinksSelfPtr::new(),
                tracker <- AtomicTracker::new(),
                item <- item,
            }),
            GFP_KERNEL,
        )
    }
}

impl<T: Deliver + 'static> Work<T> {
    /// Allocates an item and the queue reference to it, to queue it later without allocating.
    pub(crate) fn new_queued(item: T) -> Result<ListArc<Work<T>>> {
        // A new item is in no queue: its queue reference is free.
        ListArc::try_from_arc(Work::new(item)?).map_err(|_| EINVAL)
    }

    /// The queue reference to `work`, unless it is in a queue already.
    pub(crate) fn queue_ref(work: &DArc<T>) -> Option<WorkItem> {
        let item: ListArc<Work<T>> = ListArc::try_from_arc(work.clone()).ok()?;
        Some(item)
    }
}

impl<T: ?Sized> Deref for Work<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.item
    }
}

/// The address of a queued item, to find it again in a queue.
pub(crate) fn work_addr<T: ?Sized>(work: &Work<T>) -> usize {
    (work as *const Work<T>).cast::<u8>() as usize
}

/// Removes the first item of `list` for which `f` holds.
pub(crate) fn remove_where(
    list: &mut WorkList,
    mut f: impl FnMut(&Work<dyn Deliver>) -> bool,
) -> Option<WorkItem> {
    let mut cursor = list.cursor_front();
    while let Some(c) = cursor {
        if f(&c.current()) {
            return Some(c.remove());
        }
        cursor = c.next();
    }
    None
}

/// Cancels every item of `list`, with no lock held.
pub(crate) fn cancel_all(mut list: WorkList) {
    while let Some(item) = list.pop_front() {
        item.into_arc().cancel();
    }
}

/// Writes the returns of a read into the caller's read buffer, one value after another.
pub(crate) struct ReturnWriter {
    start: usize,
    ptr: usize,
    end: usize,
}

impl ReturnWriter {
    /// A writer of the `size` bytes at `buffer`, starting at `consumed`.
    pub(crate) fn new(buffer: u64, size: u64, consumed: u64) -> Self {
        let start = buffer as usize;
        ReturnWriter {
            start,
            ptr: start.wrapping_add(consumed as usize),
            end: start.wrapping_add(size as usize),
        }
    }

    /// Writes `value` at the current position and moves past it.
    pub(crate) fn write<V: AsBytes>(&mut self, value: &V) -> Result {
        let len = core::mem::size_of::<V>();
        UserSlice::new(self.ptr, len).writer().write(value)?;
        self.ptr = self.ptr.wrapping_add(len);
        Ok(())
    }

    /// Writes a command and a pointer-sized value (`BR_DEAD_BINDER`, ...).
    pub(crate) fn write_cmd_u64(&mut self, cmd: u32, value: u64) -> Result {
        self.write(&cmd)?;
        self.write(&value)
    }

    /// The bytes written from the start of the buffer.
    pub(crate) fn consumed(&self) -> usize {
        self.ptr.wrapping_sub(self.start)
    }

    /// The bytes left.
    pub(crate) fn room(&self) -> usize {
        self.end.wrapping_sub(self.ptr)
    }

    /// Writes `value` at the start of the buffer, without moving.
    pub(crate) fn write_first(&self, value: u32) -> Result {
        UserSlice::new(self.start, core::mem::size_of::<u32>())
            .writer()
            .write(&value)
    }
}

/// Work that returns a single command, preallocated: the errors of a thread, the completion of
/// a transaction.
pub(crate) struct Command {
    /// The command to return; `BR_OK` when there is none.
    pub(crate) cmd: core::sync::atomic::AtomicU32,
}

impl Command {
    /// A command item returning `cmd`.
    pub(crate) fn new(cmd: u32) -> Self {
        Command {
            cmd: core::sync::atomic::AtomicU32::new(cmd),
        }
    }
}

impl Deliver for Command {
    fn deliver(
        self: DArc<Self>,
        _thread: &Arc<Thread>,
        inner: ProcessGuard<'_>,
        out: &mut ReturnWriter,
    ) -> Result<bool> {
        use core::sync::atomic::Ordering;
        let cmd = self.cmd.load(Ordering::Relaxed);
        drop(inner);
        if cmd != crate::defs::BR_OK {
            // As in C, the command is cleared only once user space has it: if the copy
            // faults, a thread's error stays set (its writes stay stopped) though no longer
            // queued.
            out.write(&cmd)?;
            let _ = self.cmd.compare_exchange(
                cmd,
                crate::defs::BR_OK,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        Ok(false)
    }

    fn cancel(self: DArc<Self>) {
        self.cmd
            .store(crate::defs::BR_OK, core::sync::atomic::Ordering::Relaxed);
    }
}
