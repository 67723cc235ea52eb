// SPDX-License-Identifier: GPL-2.0

//! Nodes, references to them, and the handle table of a process.
//!
//! A node is a binder object of a process (its owner), named by the owner's pointer and cookie.
//! Other processes hold references to it, each under a handle of their own. Handles come from
//! an [`IdPool`]: 0 only for the context manager's node, otherwise the lowest free one from 1.
//! With the module parameter `allocator=rbtree_scan` (read when a process opens the device),
//! the process finds the same handles by walking its handle tree from the start to the first
//! gap instead, as the C binder did before its bitmap: the baseline of `make bench`.
//!
//! The counts follow the C binder: a node counts the strong references of other processes
//! (`internal_strong`), the references the kernel holds for its owner (`local_strong`,
//! `local_weak`: transactions in flight, objects in buffers, and the owner's own acknowledged
//! counts) and how many references exist. When a node goes from unreferenced to referenced or
//! back, its owner is told with `BR_INCREFS`, `BR_ACQUIRE`, `BR_RELEASE` and `BR_DECREFS`, and
//! acknowledges the first two with `BC_INCREFS_DONE` and `BC_ACQUIRE_DONE`.
//!
//! Locking: a node's counts are under its owner's process lock. A process's handle table is under
//! its `refs` mutex, which is taken before any process lock and never while one is held.

use core::{
    ops::Deref,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    id_pool::{alloc_id_locked, release_id_locked, IdPool},
    prelude::*,
    rbtree::{RBTree, RBTreeNode},
    seq_file::SeqFile,
    seq_print,
    sync::{lock::mutex::MutexBackend, lock::Guard, Arc, LockedBy},
};

use crate::{
    death::Death,
    defs::*,
    process::{Process, ProcessInner},
    thread::Thread,
    work::{work_addr, DArc, Deliver, ProcessGuard, ReturnWriter, Work, WorkList},
};

/// The state of a node that its owner's process lock protects.
pub(crate) struct NodeInner {
    /// Strong references of other processes (one per reference with a strong count).
    internal_strong: u32,
    /// Strong references the kernel holds for the owner.
    local_strong: u32,
    /// Weak references the kernel holds for the owner.
    local_weak: u32,
    /// References of other processes to this node.
    refs: u32,
    /// [`NodeTmpRef`]s of the node.
    tmp_refs: u32,
    /// The owner has been told (`BR_ACQUIRE`) that the node has strong references.
    has_strong: bool,
    /// The owner has been told (`BR_INCREFS`) that the node has weak references.
    has_weak: bool,
    /// A `BR_ACQUIRE` is waiting for its `BC_ACQUIRE_DONE`.
    pending_strong: bool,
    /// A `BR_INCREFS` is waiting for its `BC_INCREFS_DONE`.
    pending_weak: bool,
    /// A one-way transaction to the node is queued or being handled.
    pub(crate) has_async: bool,
    /// One-way transactions waiting for the one being handled.
    pub(crate) async_todo: WorkList,
    /// The death notifications requested on references to the node, by address.
    pub(crate) deaths: RBTree<usize, DArc<Death>>,
    /// The owner has released its file.
    pub(crate) dead: bool,
}

/// A binder node.
pub(crate) struct Node {
    /// Unique within the context, for messages.
    pub(crate) debug_id: u32,
    /// The owner's pointer that names the node.
    pub(crate) ptr: u64,
    /// The owner's cookie of the node.
    pub(crate) cookie: u64,
    /// The `FLAT_BINDER_FLAG_*` flags the node was created with.
    pub(crate) flags: u32,
    /// The process the node belongs to.
    pub(crate) owner: Arc<Process>,
    /// The node is (or was) the context manager's.
    pub(crate) manager: AtomicBool,
    inner: LockedBy<NodeInner, ProcessInner>,
}

/// The key of a node in a handle table: its address, stable while the table holds it.
pub(crate) fn node_key(node: &DArc<Node>) -> usize {
    work_addr(node)
}

impl Node {
    /// A node of `owner`, not inserted in its tree.
    pub(crate) fn new(
        owner: &Arc<Process>,
        ptr: u64,
        cookie: u64,
        flags: u32,
    ) -> Result<DArc<Node>> {
        let inner = LockedBy::new(
            &owner.inner,
            NodeInner {
                internal_strong: 0,
                local_strong: 0,
                local_weak: 0,
                refs: 0,
                tmp_refs: 0,
                has_strong: false,
                has_weak: false,
                pending_strong: false,
                pending_weak: false,
                has_async: false,
                async_todo: WorkList::new(),
                deaths: RBTree::new(),
                dead: false,
            },
        );
        Work::new(Node {
            debug_id: owner.context.next_debug_id(),
            ptr,
            cookie,
            flags,
            owner: owner.clone(),
            manager: AtomicBool::new(false),
            inner,
        })
    }

    /// The node's state; `owner` is the owner's locked state.
    pub(crate) fn inner<'a>(&'a self, owner: &'a mut ProcessInner) -> &'a mut NodeInner {
        self.inner.access_mut(owner)
    }

    /// Makes the node the context manager's: the manager holds a strong and a weak reference
    /// it was never asked to acknowledge, as in C.
    pub(crate) fn make_manager(&self, owner: &mut ProcessInner) {
        self.manager.store(true, Ordering::Relaxed);
        let ni = self.inner(owner);
        ni.local_weak = ni.local_weak.saturating_add(1);
        ni.local_strong = ni.local_strong.saturating_add(1);
        ni.has_strong = true;
        ni.has_weak = true;
    }

    /// Takes a reference on the node (`binder_inc_node_nilocked`). `owner` is the owner's locked
    /// state; `target`, a thread of the owner that sends the node, gets the resulting
    /// `BR_INCREFS`/`BR_ACQUIRE` with its next read.
    pub(crate) fn inc(
        self: &DArc<Self>,
        owner: &mut ProcessInner,
        strong: bool,
        internal: bool,
        target: Option<&Arc<Thread>>,
    ) -> Result {
        let manager = self.manager.load(Ordering::Relaxed);
        let ni = self.inner(owner);
        let dead = ni.dead;
        if strong {
            if internal {
                if target.is_none() && ni.internal_strong == 0 && !(manager && ni.has_strong) {
                    pr_err!("invalid inc strong node for {}\n", self.debug_id);
                    return Err(EINVAL);
                }
                ni.internal_strong = ni.internal_strong.saturating_add(1);
            } else {
                ni.local_strong = ni.local_strong.saturating_add(1);
            }
            if !ni.has_strong && !dead {
                if let Some(thread) = target {
                    // Move the node's work to the sending thread, which returns it after the
                    // transaction completes.
                    let addr = work_addr(&**self);
                    let item = crate::work::remove_where(&mut owner.todo, |w| work_addr(w) == addr)
                        .or_else(|| Work::queue_ref(self));
                    if let Some(item) = item {
                        thread.push_work(owner, item, true);
                    }
                }
            }
        } else {
            if !internal {
                ni.local_weak = ni.local_weak.saturating_add(1);
            }
            if !ni.has_weak && !dead {
                if let Some(thread) = target {
                    if let Some(item) = Work::queue_ref(self) {
                        thread.push_work(owner, item, true);
                    }
                }
            }
        }
        Ok(())
    }

    /// Drops a reference on the node (`binder_dec_node_nilocked`): when the last of a kind goes,
    /// the owner is told, or a node nobody references is forgotten.
    pub(crate) fn dec(self: &DArc<Self>, owner: &mut ProcessInner, strong: bool, internal: bool) {
        let ni = self.inner(owner);
        if strong {
            if internal {
                ni.internal_strong = ni.internal_strong.saturating_sub(1);
            } else {
                ni.local_strong = ni.local_strong.saturating_sub(1);
            }
            if ni.local_strong > 0 || ni.internal_strong > 0 {
                return;
            }
        } else {
            if !internal {
                ni.local_weak = ni.local_weak.saturating_sub(1);
            }
            if ni.local_weak > 0 || ni.refs > 0 || ni.tmp_refs > 0 {
                return;
            }
        }
        if ni.dead {
            return;
        }
        if ni.has_strong || ni.has_weak {
            if let Some(item) = Work::queue_ref(self) {
                owner.todo.push_back(item);
                owner.wakeup_proc();
            }
        } else if ni.refs == 0 && ni.local_strong == 0 && ni.local_weak == 0 && ni.tmp_refs == 0 {
            // The caller holds a reference to the node, so this is not the last one.
            owner.remove_node(self);
        }
    }

    /// The counts `BINDER_GET_NODE_INFO_FOR_REF` reports: strong and weak.
    pub(crate) fn info(&self, owner: &mut ProcessInner) -> (u32, u32) {
        let ni = self.inner(owner);
        (
            ni.local_strong.saturating_add(ni.internal_strong),
            ni.local_weak,
        )
    }

    /// `BC_INCREFS_DONE` (`strong` false) or `BC_ACQUIRE_DONE`: the owner acknowledged a
    /// `BR_INCREFS` or `BR_ACQUIRE`. Returns false if none was pending (a user error).
    pub(crate) fn acknowledge(self: &DArc<Self>, owner: &mut ProcessInner, strong: bool) -> bool {
        let ni = self.inner(owner);
        let pending = if strong {
            &mut ni.pending_strong
        } else {
            &mut ni.pending_weak
        };
        if !*pending {
            return false;
        }
        *pending = false;
        self.dec(owner, strong, false);
        true
    }

    /// Marks the node dead as its owner releases its file; returns what the node held: its
    /// queued one-way transactions and its death notifications.
    pub(crate) fn release(
        &self,
        owner: &mut ProcessInner,
    ) -> (WorkList, RBTree<usize, DArc<Death>>) {
        let ni = self.inner(owner);
        ni.dead = true;
        ni.local_strong = 0;
        ni.local_weak = 0;
        (
            core::mem::take(&mut ni.async_todo),
            core::mem::take(&mut ni.deaths),
        )
    }
}

impl Deliver for Node {
    fn deliver(
        self: DArc<Self>,
        _thread: &Arc<Thread>,
        mut inner: ProcessGuard<'_>,
        out: &mut ReturnWriter,
    ) -> Result<bool> {
        let ni = self.inner(&mut inner);
        if ni.dead {
            return Ok(false);
        }
        let strong = ni.internal_strong > 0 || ni.local_strong > 0;
        let weak = ni.refs > 0 || ni.local_weak > 0 || ni.tmp_refs > 0 || strong;
        let (has_strong, has_weak) = (ni.has_strong, ni.has_weak);
        if weak && !has_weak {
            ni.has_weak = true;
            ni.pending_weak = true;
            ni.local_weak = ni.local_weak.saturating_add(1);
        }
        if strong && !has_strong {
            ni.has_strong = true;
            ni.pending_strong = true;
            ni.local_strong = ni.local_strong.saturating_add(1);
        }
        if !strong && has_strong {
            ni.has_strong = false;
        }
        if !weak && has_weak {
            ni.has_weak = false;
        }
        if !weak && !strong {
            // `self` is held here, so this is not the last reference.
            inner.remove_node(&self);
        }
        drop(inner);
        let cmds = [
            (weak && !has_weak, BR_INCREFS),
            (strong && !has_strong, BR_ACQUIRE),
            (!strong && has_strong, BR_RELEASE),
            (!weak && has_weak, BR_DECREFS),
        ];
        for (_, cmd) in cmds.iter().filter(|(due, _)| *due) {
            out.write(cmd)?;
            out.write(&self.ptr)?;
            out.write(&self.cookie)?;
        }
        Ok(false)
    }

    fn cancel(self: DArc<Self>) {}
}

/// A node of a process looked up or added by its pointer, kept in the process's tree while
/// this is held (a `tmp_refs` count, as C's `binder_get_node()` takes).
///
/// Between a lookup and the reference that a transaction makes to the node, the node's last
/// reference may go: without this count, its owner would forget it, the next lookup of the
/// same pointer would make a second node, and a receiver would hold two handles for one
/// binder object.
pub(crate) struct NodeTmpRef(DArc<Node>);

impl NodeTmpRef {
    /// Counts a temporary reference on `node`; `owner` is its owner's locked state.
    fn new(node: DArc<Node>, owner: &mut ProcessInner) -> Self {
        let ni = node.inner(owner);
        ni.tmp_refs = ni.tmp_refs.saturating_add(1);
        NodeTmpRef(node)
    }
}

impl Deref for NodeTmpRef {
    type Target = DArc<Node>;

    fn deref(&self) -> &DArc<Node> {
        &self.0
    }
}

impl Drop for NodeTmpRef {
    fn drop(&mut self) {
        let node = &self.0;
        let mut owner = node.owner.inner.lock();
        let ni = node.inner(&mut owner);
        ni.tmp_refs = ni.tmp_refs.saturating_sub(1);
        // Drops no count (a weak, internal one), but forgets the node if nothing else
        // holds it, as `binder_dec_node_tmpref()` does.
        node.dec(&mut owner, false, true);
    }
}

/// A reference of a process to a node.
pub(crate) struct NodeRef {
    pub(crate) node: DArc<Node>,
    pub(crate) strong: u32,
    pub(crate) weak: u32,
    /// The death notification requested on the reference, if any.
    pub(crate) death: Option<DArc<Death>>,
}

kernel::module_param_choice! {
    /// How a process finds the handle of a new reference: `idpool`, the lowest free id of an
    /// [`IdPool`]; `rbtree_scan`, a walk of the handle tree from the start to the first gap
    /// (quadratic; the baseline that `make bench` compares with). Both give the same handles.
    /// A process reads it when it opens the device.
    static ALLOCATOR {
        name: "allocator",
        values: ["idpool", "rbtree_scan"],
        permissions: 0o644,
        description: "how a process finds new handles: idpool (default) or rbtree_scan",
    }
}

/// The handle table of a process: its references by handle and by node.
pub(crate) struct RefTable {
    /// The handles in use (not used when `scan` is set).
    pool: IdPool,
    /// Whether new handles are found by walking `by_handle` instead of with `pool`.
    scan: bool,
    pub(crate) by_handle: RBTree<u32, NodeRef>,
    by_node: RBTree<usize, u32>,
}

impl RefTable {
    /// An empty table.
    pub(crate) fn new() -> Self {
        RefTable {
            pool: IdPool::new(),
            scan: ALLOCATOR.index() == 1,
            by_handle: RBTree::new(),
            by_node: RBTree::new(),
        }
    }

    /// Writes the references and the handle pool to the debugfs `state` file.
    pub(crate) fn show_state(&self, m: &SeqFile) {
        let (mut strong, mut weak) = (0, 0);
        for r in self.by_handle.values() {
            strong += usize::from(r.strong > 0);
            weak += usize::from(r.weak > 0);
        }
        seq_print!(
            m,
            "  refs: {} ({} strong, {} weak)\n",
            self.by_handle.iter().count(),
            strong,
            weak
        );
        seq_print!(
            m,
            "  handles: capacity {}, {} in use:",
            self.pool.capacity(),
            self.pool.used()
        );
        for handle in self.by_handle.keys() {
            seq_print!(m, " {handle}");
        }
        seq_print!(m, "\n");
    }
}

/// The guard of a handle table.
pub(crate) type RefGuard<'a> = Guard<'a, RefTable, MutexBackend>;

/// The lowest handle at least `start` that is not in `by_handle`, found by walking the tree in
/// order from its first handle: O(handles in use).
fn first_gap(by_handle: &RBTree<u32, NodeRef>, start: usize) -> usize {
    let mut free = start;
    for &handle in by_handle.keys() {
        let handle = handle as usize;
        if handle > free {
            break;
        }
        if handle == free {
            free += 1;
        }
    }
    free
}

/// A handle for a new reference, the lowest free one at least `start`: from the pool (which
/// may release the lock while it grows) or by walking the tree.
fn new_handle(refs: &mut RefGuard<'_>, start: usize) -> Result<usize> {
    if refs.scan {
        return Ok(first_gap(&refs.by_handle, start));
    }
    alloc_id_locked(refs, |r| &mut r.pool, start, GFP_KERNEL)
}

/// Gives back a handle of [`new_handle`] (to the pool, which may shrink with the lock released
/// around the allocation).
fn release_handle(refs: &mut RefGuard<'_>, handle: usize) -> Result {
    if refs.scan {
        return Ok(());
    }
    release_id_locked(refs, |r| &mut r.pool, handle, GFP_KERNEL)
}

/// Counts a reference up (`binder_inc_ref_olocked`).
fn inc_ref(r: &mut NodeRef, strong: bool, target: Option<&Arc<Thread>>) -> Result {
    let count = if strong { &mut r.strong } else { &mut r.weak };
    if *count == 0 {
        let mut owner = r.node.owner.inner.lock();
        r.node.inc(&mut owner, strong, true, target)?;
    }
    *count = count.saturating_add(1);
    Ok(())
}

impl Process {
    /// Takes a reference of this process on `node`, creating it (and its handle) if needed;
    /// returns its handle (`binder_inc_ref_for_node`).
    pub(crate) fn inc_ref_for_node(
        &self,
        node: &DArc<Node>,
        strong: bool,
        target: Option<&Arc<Thread>>,
    ) -> Result<u32> {
        let key = node_key(node);
        let mut refs = self.refs.lock();
        let mut created = false;
        let handle = match refs.by_node.get(&key) {
            Some(&handle) => handle,
            None => {
                let start = if node.manager.load(Ordering::Relaxed) {
                    0
                } else {
                    1
                };
                // May release the lock while the pool grows.
                let id = new_handle(&mut refs, start)?;
                if let Some(&handle) = refs.by_node.get(&key) {
                    // Another thread made the reference meanwhile.
                    release_handle(&mut refs, id)?;
                    handle
                } else {
                    let handle = u32::try_from(id).map_err(|_| ENOSPC)?;
                    let nodes = RBTreeNode::new(
                        handle,
                        NodeRef {
                            node: node.clone(),
                            strong: 0,
                            weak: 0,
                            death: None,
                        },
                        GFP_KERNEL,
                    )
                    .and_then(|a| Ok((a, RBTreeNode::new(key, handle, GFP_KERNEL)?)));
                    let Ok((by_handle, by_node)) = nodes else {
                        release_handle(&mut refs, id)?;
                        return Err(ENOMEM);
                    };
                    refs.by_handle.insert(by_handle);
                    refs.by_node.insert(by_node);
                    let mut owner = node.owner.inner.lock();
                    let ni = node.inner(&mut owner);
                    ni.refs = ni.refs.saturating_add(1);
                    drop(owner);
                    created = true;
                    handle
                }
            }
        };
        let result = match refs.by_handle.get_mut(&handle) {
            Some(r) => inc_ref(r, strong, target),
            None => Err(EINVAL),
        };
        if result.is_err() && created {
            self.remove_ref(&mut refs, handle);
        }
        result.map(|()| handle)
    }

    /// Removes the reference with `handle` from the table and drops what it holds on its node.
    fn remove_ref(&self, refs: &mut RefGuard<'_>, handle: u32) {
        let Some(r) = refs.by_handle.remove(&handle) else {
            return;
        };
        refs.by_node.remove(&node_key(&r.node));
        // Shrinks the pool if it should, with the lock released around the allocation.
        let _ = release_handle(refs, handle as usize);
        self.cleanup_ref(r);
    }

    /// Drops what a removed reference holds on its node (`binder_cleanup_ref_olocked`).
    pub(crate) fn cleanup_ref(&self, r: NodeRef) {
        let node = &r.node;
        let mut owner = node.owner.inner.lock();
        if r.strong > 0 {
            node.dec(&mut owner, true, true);
        }
        let ni = node.inner(&mut owner);
        ni.refs = ni.refs.saturating_sub(1);
        if let Some(death) = &r.death {
            let _ = ni.deaths.remove(&work_addr(&**death));
        }
        node.dec(&mut owner, false, true);
        drop(owner);
        if let Some(death) = r.death {
            death.cancel_registration(self);
        }
    }

    /// `BC_INCREFS`, `BC_ACQUIRE`, `BC_RELEASE`, `BC_DECREFS` on an existing reference
    /// (`binder_update_ref_for_handle`). A strong change needs a strong reference.
    pub(crate) fn update_ref(&self, handle: u32, increment: bool, strong: bool) -> Result {
        let mut refs = self.refs.lock();
        let Some(r) = refs.by_handle.get_mut(&handle) else {
            return Err(EINVAL);
        };
        if strong && r.strong == 0 {
            return Err(EINVAL);
        }
        if increment {
            return inc_ref(r, strong, None);
        }
        if strong {
            if r.strong == 0 {
                return Ok(());
            }
            r.strong -= 1;
            if r.strong == 0 {
                let mut owner = r.node.owner.inner.lock();
                r.node.dec(&mut owner, true, true);
            }
        } else {
            if r.weak == 0 {
                pr_debug!("invalid dec weak, ref {}\n", handle);
                return Ok(());
            }
            r.weak -= 1;
        }
        if r.strong == 0 && r.weak == 0 {
            self.remove_ref(&mut refs, handle);
        }
        Ok(())
    }

    /// The node that `handle` names, if it is a reference (a strong one if `strong`).
    pub(crate) fn node_for_handle(&self, handle: u32, strong: bool) -> Option<DArc<Node>> {
        let refs = self.refs.lock();
        let r = refs.by_handle.get(&handle)?;
        if strong && r.strong == 0 {
            return None;
        }
        Some(r.node.clone())
    }

    /// The node of this process with pointer `ptr`, if any.
    pub(crate) fn get_node(&self, ptr: u64) -> Option<NodeTmpRef> {
        let mut inner = self.inner.lock();
        let node = inner.nodes.get(&ptr).cloned()?;
        Some(NodeTmpRef::new(node, &mut inner))
    }

    /// The node of this process with pointer `ptr`, created with `cookie` and `flags` if there
    /// is none (`binder_new_node`).
    pub(crate) fn get_or_create_node(
        self: &Arc<Self>,
        ptr: u64,
        cookie: u64,
        flags: u32,
    ) -> Result<NodeTmpRef> {
        if let Some(node) = self.get_node(ptr) {
            return Ok(node);
        }
        let node = Node::new(self, ptr, cookie, flags)?;
        let tree_node = RBTreeNode::new(ptr, node.clone(), GFP_KERNEL)?;
        let mut inner = self.inner.lock();
        if let Some(existing) = inner.nodes.get(&ptr).cloned() {
            return Ok(NodeTmpRef::new(existing, &mut inner));
        }
        inner.nodes.insert(tree_node);
        Ok(NodeTmpRef::new(node, &mut inner))
    }

    /// Releases every reference of the process as it releases its file.
    pub(crate) fn release_refs(&self) {
        loop {
            let mut refs = self.refs.lock();
            let Some(handle) = refs.by_handle.keys().next().copied() else {
                break;
            };
            let Some(r) = refs.by_handle.remove(&handle) else {
                break;
            };
            refs.by_node.remove(&node_key(&r.node));
            if !refs.scan {
                let _ = refs.pool.release_id(handle as usize);
            }
            drop(refs);
            self.cleanup_ref(r);
        }
    }
}
