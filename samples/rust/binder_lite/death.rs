// SPDX-License-Identifier: GPL-2.0

//! Death notifications: `BR_DEAD_BINDER` when a node's owner goes away, for the references with
//! a `BC_REQUEST_DEATH_NOTIFICATION`.
//!
//! A notification goes through the states of the C binder: registered; dead (queued, then
//! delivered and waiting for `BC_DEAD_BINDER_DONE`); cleared (`BC_CLEAR_DEATH_NOTIFICATION`, which
//! `BR_CLEAR_DEATH_NOTIFICATION_DONE` answers). A clear of a notification that is dead is answered
//! only after its `BC_DEAD_BINDER_DONE`, which is the order libbinder and rsbinder rely on.

use kernel::{prelude::*, rbtree::RBTreeNode, sync::Arc, sync::LockedBy};

use crate::{
    defs::*,
    process::{Process, ProcessInner},
    thread::Thread,
    work::{remove_where, work_addr, DArc, Deliver, ProcessGuard, ReturnWriter, Work},
};

/// The state of a notification, under the lock of the process that requested it.
pub(crate) struct DeathInner {
    /// The node is dead: the notification returns `BR_DEAD_BINDER`.
    dead: bool,
    /// User space cleared the notification.
    cleared: bool,
    /// The notification is in a queue or in the delivered list of its process.
    queued: bool,
    /// The reference went away: the notification is dropped when it comes out of a queue.
    cancelled: bool,
}

/// A death notification of a reference.
pub(crate) struct Death {
    /// User space's cookie.
    pub(crate) cookie: u64,
    /// The process that holds the reference.
    holder: Arc<Process>,
    inner: LockedBy<DeathInner, ProcessInner>,
}

impl Death {
    /// A registered notification of `process` for `node`.
    fn new(process: &Arc<Process>, cookie: u64) -> Result<DArc<Death>> {
        let inner = LockedBy::new(
            &process.inner,
            DeathInner {
                dead: false,
                cleared: false,
                queued: false,
                cancelled: false,
            },
        );
        Work::new(Death {
            cookie,
            holder: process.clone(),
            inner,
        })
    }

    /// Queues the notification on `thread` if it is a looper, or on its process.
    fn queue(self: &DArc<Self>, inner: &mut ProcessInner, thread: Option<&Arc<Thread>>) {
        // A released process has no queues any more.
        if inner.is_dead {
            return;
        }
        let Some(item) = Work::queue_ref(self) else {
            return;
        };
        self.inner.access_mut(inner).queued = true;
        match thread {
            Some(thread) if thread.is_looper(inner) => thread.push_work(inner, item, false),
            _ => {
                inner.todo.push_back(item);
                inner.wakeup_proc();
            }
        }
    }

    /// The node died: queue `BR_DEAD_BINDER` on the holder of the reference, unless the
    /// notification was cleared meanwhile.
    pub(crate) fn node_died(self: &DArc<Self>) {
        let mut inner = self.holder.inner.lock();
        let di = self.inner.access_mut(&mut inner);
        if di.cleared || di.cancelled || di.dead {
            return;
        }
        di.dead = true;
        self.queue(&mut inner, None);
    }

    /// The reference went away: drop the notification when it comes out of a queue.
    pub(crate) fn cancel_registration(&self, process: &Process) {
        let mut inner = process.inner.lock();
        self.inner.access_mut(&mut inner).cancelled = true;
    }
}

impl Deliver for Death {
    fn deliver(
        self: DArc<Self>,
        _thread: &Arc<Thread>,
        mut inner: ProcessGuard<'_>,
        out: &mut ReturnWriter,
    ) -> Result<bool> {
        let di = self.inner.access_mut(&mut inner);
        di.queued = false;
        if di.cancelled {
            return Ok(false);
        }
        if !di.dead {
            // A cleared notification.
            drop(inner);
            out.write_cmd_u64(BR_CLEAR_DEATH_NOTIFICATION_DONE, self.cookie)?;
            return Ok(false);
        }
        // Kept until `BC_DEAD_BINDER_DONE`.
        if let Some(item) = Work::queue_ref(&self) {
            di.queued = true;
            inner.delivered_deaths.push_back(item);
        }
        drop(inner);
        out.write_cmd_u64(BR_DEAD_BINDER, self.cookie)?;
        // A death notification may cause transactions: end the read, as C does.
        Ok(true)
    }

    fn cancel(self: DArc<Self>) {}

    fn death_matches(&self, cookie: u64, inner: &ProcessInner) -> bool {
        self.cookie == cookie && !self.inner.access(inner).cancelled
    }

    fn dead_binder_done(&self, inner: &mut ProcessInner) -> bool {
        let di = self.inner.access_mut(inner);
        di.queued = false;
        if di.cleared && !di.cancelled {
            di.dead = false;
            di.queued = true;
            return true;
        }
        false
    }
}

impl Process {
    /// `BC_REQUEST_DEATH_NOTIFICATION`.
    pub(crate) fn request_death(self: &Arc<Self>, thread: &Arc<Thread>, handle: u32, cookie: u64) {
        let mut refs = self.refs.lock();
        let Some(r) = refs.by_handle.get_mut(&handle) else {
            pr_debug!("BC_REQUEST_DEATH_NOTIFICATION invalid ref {}\n", handle);
            return;
        };
        if r.death.is_some() {
            pr_debug!("BC_REQUEST_DEATH_NOTIFICATION death notification already set\n");
            return;
        }
        let node = r.node.clone();
        let allocated = Death::new(self, cookie).and_then(|death| {
            Ok((
                RBTreeNode::new(work_addr(&*death), death.clone(), GFP_KERNEL)?,
                death,
            ))
        });
        let Ok((tree_node, death)) = allocated else {
            drop(refs);
            thread.set_return_error(BR_ERROR);
            return;
        };
        r.death = Some(death.clone());
        let mut owner = node.owner.inner.lock();
        let ni = node.inner(&mut owner);
        let dead = ni.dead;
        if !dead {
            ni.deaths.insert(tree_node);
        }
        drop(owner);
        drop(refs);
        if dead {
            death.node_died();
        }
    }

    /// `BC_CLEAR_DEATH_NOTIFICATION`.
    pub(crate) fn clear_death(&self, thread: &Arc<Thread>, handle: u32, cookie: u64) {
        let mut refs = self.refs.lock();
        let Some(r) = refs.by_handle.get_mut(&handle) else {
            pr_debug!("BC_CLEAR_DEATH_NOTIFICATION invalid ref {}\n", handle);
            return;
        };
        let Some(death) = r.death.take_if_cookie(cookie) else {
            pr_debug!("BC_CLEAR_DEATH_NOTIFICATION not active or cookie mismatch\n");
            return;
        };
        let node = r.node.clone();
        let mut owner = node.owner.inner.lock();
        let removed = node.inner(&mut owner).deaths.remove(&work_addr(&*death));
        drop(owner);
        drop(refs);
        drop(removed);
        let mut inner = self.inner.lock();
        let di = death.inner.access_mut(&mut inner);
        di.cleared = true;
        if !di.queued {
            // Registered, not dead: answer the clear now.
            di.dead = false;
            death.queue(&mut inner, Some(thread));
        }
        // Otherwise it is dead and queued or delivered: answered after BC_DEAD_BINDER_DONE.
    }

    /// `BC_DEAD_BINDER_DONE`.
    pub(crate) fn dead_binder_done(&self, thread: &Arc<Thread>, cookie: u64) {
        let mut inner = self.inner.lock();
        let mut delivered = core::mem::take(&mut inner.delivered_deaths);
        let item = remove_where(&mut delivered, |w| w.death_matches(cookie, &inner));
        inner.delivered_deaths = delivered;
        let Some(item) = item else {
            pr_debug!("BC_DEAD_BINDER_DONE {:x} not found\n", cookie);
            return;
        };
        if item.dead_binder_done(&mut inner) {
            // Cleared while dead: now answer the clear.
            if thread.is_looper(&inner) {
                thread.push_work(&mut inner, item, false);
            } else {
                inner.todo.push_back(item);
                inner.wakeup_proc();
            }
            return;
        }
        drop(inner);
        drop(item);
    }
}

/// `Option<DArc<Death>>::take` if the cookie matches.
trait TakeIfCookie {
    fn take_if_cookie(&mut self, cookie: u64) -> Option<DArc<Death>>;
}

impl TakeIfCookie for Option<DArc<Death>> {
    fn take_if_cookie(&mut self, cookie: u64) -> Option<DArc<Death>> {
        if self.as_ref()?.cookie != cookie {
            return None;
        }
        self.take()
    }
}
