// SPDX-License-Identifier: GPL-2.0

//! A best-fit allocator of ranges of a process's buffer area.
//!
//! The area `[0, size)` is cut into consecutive ranges, each free or in use. As in the C binder
//! (`binder_alloc.c`), free ranges are found by size (best fit: the smallest free range that is
//! large enough, split if larger) and ranges in use by offset; a range that becomes free is merged
//! with its free neighbours. Here one tree holds every range by offset (which gives the
//! neighbours) and a second one the free ranges by `(size, offset)`.
//!
//! This module only does the bookkeeping: it knows nothing of pages or mappings (see
//! `buffer.rs`). It never allocates: the tree nodes a reservation may need come in a
//! [`ReserveNodes`], allocated before the caller takes its lock, and a range in use keeps the
//! node it will need in the free tree once it is freed, so freeing cannot fail. The nodes that
//! merging frees are kept for the next reservation ([`RangeAllocator::take_spare_nodes`]), so
//! that a steady flow of transactions, which splits a free range and merges it back each time,
//! allocates no nodes at all (the C binder allocates one `binder_buffer` per buffer).

use kernel::{
    prelude::*,
    rbtree::{RBTree, RBTreeNode, RBTreeNodeReservation},
};

/// The node of a free range in the tree by size, or the memory for one.
type FreeNode = RBTreeNodeReservation<(usize, usize), ()>;

/// The tree nodes that one call of [`RangeAllocator::reserve`] may need.
pub(crate) struct ReserveNodes<T> {
    range: RBTreeNodeReservation<usize, Range<T>>,
    free: FreeNode,
}

impl<T> ReserveNodes<T> {
    /// Allocates the nodes, with `GFP_KERNEL`: call it with no spinlock held.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            range: RBTreeNodeReservation::new(GFP_KERNEL)?,
            free: RBTreeNodeReservation::new(GFP_KERNEL)?,
        })
    }
}

/// A range of the area.
pub(crate) struct Range<T> {
    size: usize,
    used: Option<Used<T>>,
}

/// What a range in use holds.
struct Used<T> {
    /// Unique for the allocator's lifetime, so that a stale handle never matches a new range.
    id: u64,
    data: T,
    oneway: bool,
    /// Whether user space may free the range (`allow_user_free` in C).
    user_may_free: bool,
    /// The node this range will take in the free tree when it is freed.
    free_node: FreeNode,
}

/// A range handed out by [`RangeAllocator::reserve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reserved {
    /// The offset of the range in the area.
    pub(crate) offset: usize,
    /// The id of the range, which [`RangeAllocator::free`] and the checks take.
    pub(crate) id: u64,
}

/// Why [`RangeAllocator::free_by_user`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UserFreeError {
    /// No range in use starts at that offset (never allocated, or already freed).
    NoMatch,
    /// The range in use there may not be freed by user space (not delivered yet).
    NotAllowed,
}

/// Counts of an allocator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RangeStats {
    /// Bytes in ranges in use.
    pub(crate) used_bytes: usize,
    /// Bytes in free ranges.
    pub(crate) free_bytes: usize,
    /// Ranges in use.
    pub(crate) used_ranges: usize,
    /// Free ranges (after merging neighbours, so at most `used_ranges + 1`).
    pub(crate) free_ranges: usize,
    /// Bytes left for one-way reservations.
    pub(crate) free_oneway_bytes: usize,
}

/// A best-fit allocator of ranges of `[0, size)`.
///
/// # Invariants
///
/// - `ranges` holds consecutive ranges that cover `[0, size)` exactly; no two free ranges are
///   neighbours.
/// - `free` holds `(size, offset)` for each free range of `ranges`, and nothing else.
/// - `used_bytes`, `used_ranges` are the totals of the ranges in use, `free_ranges` the number
///   of free ranges; `free_oneway` is half of
///   `size` minus the sizes of the one-way ranges in use.
/// - `spare_range` and `spare_free` are memory for a node of `ranges` and of `free`, in no
///   tree.
pub(crate) struct RangeAllocator<T> {
    size: usize,
    ranges: RBTree<usize, Range<T>>,
    free: RBTree<(usize, usize), ()>,
    used_bytes: usize,
    used_ranges: usize,
    free_ranges: usize,
    free_oneway: usize,
    next_id: u64,
    spare_range: Option<RBTreeNodeReservation<usize, Range<T>>>,
    spare_free: Option<FreeNode>,
}

impl<T> RangeAllocator<T> {
    /// Creates an allocator of `[0, size)`, all free. Allocates with `GFP_KERNEL`.
    pub(crate) fn new(size: usize) -> Result<Self> {
        if size == 0 {
            return Err(EINVAL);
        }
        let mut ranges = RBTree::new();
        let mut free = RBTree::new();
        let range = Range { size, used: None };
        ranges.insert(RBTreeNodeReservation::new(GFP_KERNEL)?.into_node(0, range));
        free.insert(RBTreeNodeReservation::new(GFP_KERNEL)?.into_node((size, 0), ()));
        Ok(Self {
            size,
            ranges,
            free,
            used_bytes: 0,
            used_ranges: 0,
            free_ranges: 1,
            // The C binder lets one-way transactions use half of the area.
            free_oneway: size / 2,
            next_id: 1,
            spare_range: None,
            spare_free: None,
        })
    }

    /// The nodes a reservation may need, if freeing left them over; the caller allocates them
    /// otherwise.
    pub(crate) fn take_spare_nodes(&mut self) -> Option<ReserveNodes<T>> {
        if self.spare_range.is_none() || self.spare_free.is_none() {
            return None;
        }
        Some(ReserveNodes {
            range: self.spare_range.take()?,
            free: self.spare_free.take()?,
        })
    }

    /// Keeps the memory of a node removed from `ranges` for a later reservation, unless one is
    /// kept already.
    fn keep_range_node(&mut self, node: Option<RBTreeNode<usize, Range<T>>>) {
        if self.spare_range.is_none() {
            self.spare_range = node.map(RBTreeNode::into_reservation);
        }
    }

    /// Keeps the memory of a node removed from `free` for a later reservation, unless one is
    /// kept already.
    fn keep_free_node(&mut self, node: Option<RBTreeNode<(usize, usize), ()>>) {
        if self.spare_free.is_none() {
            self.spare_free = node.map(RBTreeNode::into_reservation);
        }
    }

    /// Reserves a range of `size` bytes for `data`: the smallest free range that fits, split if
    /// larger. One-way reservations together get at most half of the area.
    ///
    /// Returns `ENOSPC` with `data` if there is no room, as the C binder does, and `EINVAL` for a
    /// size of 0. Never allocates: `nodes` provides the memory; what it does not use is kept as
    /// spare nodes, or freed.
    pub(crate) fn reserve(
        &mut self,
        size: usize,
        oneway: bool,
        data: T,
        nodes: ReserveNodes<T>,
    ) -> core::result::Result<Reserved, (Error, T)> {
        // The nodes wait with the spare ones, which are kept if unused.
        if self.spare_range.is_none() {
            self.spare_range = Some(nodes.range);
        }
        if self.spare_free.is_none() {
            self.spare_free = Some(nodes.free);
        }
        if size == 0 {
            return Err((EINVAL, data));
        }
        if oneway && self.free_oneway < size {
            return Err((ENOSPC, data));
        }
        // The smallest free range of at least `size` bytes, the lowest one of that size.
        let Some((free_size, offset)) = self
            .free
            .cursor_lower_bound(&(size, 0))
            .map(|cursor| *cursor.current().0)
        else {
            return Err((ENOSPC, data));
        };
        // A split needs a node in each tree: the spare ones, which `nodes` filled.
        let split = if free_size > size {
            match (self.spare_range.take(), self.spare_free.take()) {
                (Some(range), Some(free)) => Some((range, free)),
                (range, free) => {
                    self.spare_range = range;
                    self.spare_free = free;
                    pr_err!("binder-lite: allocator: no spare nodes for a split\n");
                    return Err((ENOSPC, data));
                }
            }
        } else {
            None
        };
        let free_node = match self.free.remove_node(&(free_size, offset)) {
            Some(node) => node.into_reservation(),
            None => return Err((ENOSPC, data)),
        };
        if let Some((range_node, rest_node)) = split {
            // Split: the rest stays free, after the new range.
            let rest = Range {
                size: free_size - size,
                used: None,
            };
            self.ranges
                .insert(range_node.into_node(offset + size, rest));
            self.free
                .insert(rest_node.into_node((free_size - size, offset + size), ()));
        } else {
            self.free_ranges -= 1;
        }
        let id = self.next_id;
        self.next_id += 1;
        let Some(range) = self.ranges.get_mut(&offset) else {
            // The free tree named a range that does not exist: the invariants are broken.
            pr_err!("binder-lite: allocator: free range {offset:#x} is missing\n");
            return Err((ENOSPC, data));
        };
        range.size = size;
        range.used = Some(Used {
            id,
            data,
            oneway,
            user_may_free: false,
            free_node,
        });
        self.used_bytes += size;
        self.used_ranges += 1;
        if oneway {
            self.free_oneway -= size;
        }
        Ok(Reserved { offset, id })
    }

    /// Returns the size of the range in use `reserved`, if it is still in use and user space
    /// may not free it yet; `None` otherwise.
    pub(crate) fn kernel_owned_size(&self, reserved: Reserved) -> Option<usize> {
        let range = self.ranges.get(&reserved.offset)?;
        match &range.used {
            Some(used) if used.id == reserved.id && !used.user_may_free => Some(range.size),
            _ => None,
        }
    }

    /// Lets user space free the range in use `reserved`. Returns whether it is still in use.
    pub(crate) fn set_user_may_free(&mut self, reserved: Reserved) -> bool {
        match self.used_mut(reserved) {
            Some(used) => {
                used.user_may_free = true;
                true
            }
            None => false,
        }
    }

    /// Frees the range in use `reserved` and returns its data; `None` if it is not in use.
    pub(crate) fn free(&mut self, reserved: Reserved) -> Option<T> {
        self.used_mut(reserved)?;
        self.free_at(reserved.offset)
    }

    /// Frees the range in use at `offset` on behalf of user space (`BC_FREE_BUFFER`), if user
    /// space may free it, and returns its data.
    pub(crate) fn free_by_user(&mut self, offset: usize) -> core::result::Result<T, UserFreeError> {
        let used = self
            .ranges
            .get(&offset)
            .and_then(|range| range.used.as_ref())
            .ok_or(UserFreeError::NoMatch)?;
        if !used.user_may_free {
            return Err(UserFreeError::NotAllowed);
        }
        self.free_at(offset).ok_or(UserFreeError::NoMatch)
    }

    /// Ends the allocator and returns the data of the ranges in use, in the order of their
    /// offsets.
    pub(crate) fn into_used(self) -> IntoUsed<T> {
        IntoUsed {
            ranges: self.ranges,
        }
    }

    /// Returns the counts of the allocator.
    pub(crate) fn stats(&self) -> RangeStats {
        RangeStats {
            used_bytes: self.used_bytes,
            free_bytes: self.size - self.used_bytes,
            used_ranges: self.used_ranges,
            free_ranges: self.free_ranges,
            free_oneway_bytes: self.free_oneway,
        }
    }

    /// Returns the range in use `reserved`, if it is still in use.
    fn used_mut(&mut self, reserved: Reserved) -> Option<&mut Used<T>> {
        self.ranges
            .get_mut(&reserved.offset)?
            .used
            .as_mut()
            .filter(|used| used.id == reserved.id)
    }

    /// Frees the range in use at `offset`, merges it with its free neighbours and returns its
    /// data; `None` if no range in use starts at `offset`.
    fn free_at(&mut self, offset: usize) -> Option<T> {
        let range = self.ranges.get_mut(&offset)?;
        let used = range.used.take()?;
        let mut size = range.size;
        self.used_bytes -= size;
        self.used_ranges -= 1;
        if used.oneway {
            self.free_oneway += size;
        }

        // Merge with the next range if it is free.
        let next = offset + size;
        if let Some(next_size) = self
            .ranges
            .get(&next)
            .filter(|range| range.used.is_none())
            .map(|range| range.size)
        {
            let range_node = self.ranges.remove_node(&next);
            self.keep_range_node(range_node);
            let free_node = self.free.remove_node(&(next_size, next));
            self.keep_free_node(free_node);
            self.free_ranges -= 1;
            size += next_size;
        }

        // Merge with the previous range if it is free.
        let prev = self.ranges.cursor_lower_bound(&offset).and_then(|cursor| {
            cursor
                .peek_prev()
                .filter(|(_, range)| range.used.is_none())
                .map(|(&start, range)| (start, range.size))
        });
        let start = match prev {
            Some((start, prev_size)) => {
                let range_node = self.ranges.remove_node(&offset);
                self.keep_range_node(range_node);
                let free_node = self.free.remove_node(&(prev_size, start));
                self.keep_free_node(free_node);
                self.free_ranges -= 1;
                size += prev_size;
                start
            }
            None => offset,
        };
        if let Some(range) = self.ranges.get_mut(&start) {
            range.size = size;
        }
        self.free
            .insert(used.free_node.into_node((size, start), ()));
        self.free_ranges += 1;
        Some(used.data)
    }
}

/// The data of the ranges in use of an allocator that ended, from [`RangeAllocator::into_used`].
pub(crate) struct IntoUsed<T> {
    ranges: RBTree<usize, Range<T>>,
}

impl<T> Iterator for IntoUsed<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        loop {
            let (_, node) = self.ranges.cursor_front()?.remove_current();
            let (_, range) = node.to_key_value();
            if let Some(used) = range.used {
                return Some(used.data);
            }
        }
    }
}
