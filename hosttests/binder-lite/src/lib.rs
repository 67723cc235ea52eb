//! A host stand-in for the few items of the kernel crate that binder-lite's range allocator
//! (`samples/rust/binder_lite/allocator.rs`) uses, so that its tests run with `cargo test`.
//!
//! The red-black tree is a `BTreeMap` with the kernel tree's API. Each node reservation is a
//! counted memory block, which moves with the node into the tree and back, so that tests can
//! check that the allocator neither allocates where it must not nor leaks nodes.

use std::cell::Cell;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static LIVE_BLOCKS: Cell<usize> = const { Cell::new(0) };
}

/// The number of node reservations allocated so far on this thread.
pub fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// The number of node reservations of this thread not freed yet (as reservations, nodes or
/// tree entries).
pub fn live_blocks() -> usize {
    LIVE_BLOCKS.with(Cell::get)
}

/// The memory of one tree node: counted while it exists.
struct Block(());

impl Block {
    fn new() -> Self {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        LIVE_BLOCKS.with(|count| count.set(count.get() + 1));
        Block(())
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        LIVE_BLOCKS.with(|count| count.set(count.get() - 1));
    }
}

/// Allocation flags.
#[derive(Clone, Copy, Debug)]
pub struct Flags;

/// `GFP_KERNEL`.
pub const GFP_KERNEL: Flags = Flags;

pub mod error {
    //! Errors as the kernel crate has them.

    /// An error number.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Error(pub i32);

    /// A result with an [`Error`] by default.
    pub type Result<T = (), E = Error> = core::result::Result<T, E>;

    pub mod code {
        //! The error numbers the allocator uses.
        use super::Error;

        /// Invalid argument.
        pub const EINVAL: Error = Error(-22);
        /// No space left.
        pub const ENOSPC: Error = Error(-28);
    }
}

/// Prints an error, as `pr_err!` of the kernel crate.
#[macro_export]
macro_rules! pr_err {
    ($($arg:tt)*) => {
        ::std::eprint!($($arg)*)
    };
}

pub mod prelude {
    //! The kernel crate's prelude, as far as the allocator uses it.
    pub use crate::error::{code::*, Error, Result};
    pub use crate::pr_err;
    pub use crate::GFP_KERNEL;
}

pub mod rbtree {
    //! The kernel's red-black tree API on a `BTreeMap`.
    use crate::{error::Result, Block, Flags};
    use std::collections::BTreeMap;

    /// A tree of nodes by key.
    pub struct RBTree<K, V> {
        map: BTreeMap<K, (V, Block)>,
    }

    impl<K: Ord + Clone, V> Default for RBTree<K, V> {
        fn default() -> Self {
            Self::new()
        }
    }

    impl<K: Ord + Clone, V> RBTree<K, V> {
        /// An empty tree.
        pub fn new() -> Self {
            Self {
                map: BTreeMap::new(),
            }
        }

        /// Inserts a node; returns the node it replaced, if any.
        pub fn insert(&mut self, node: RBTreeNode<K, V>) -> Option<RBTreeNode<K, V>> {
            let old = self.map.remove_entry(&node.key);
            self.map.insert(node.key, (node.value, node.block));
            old.map(|(key, (value, block))| RBTreeNode { key, value, block })
        }

        /// The value at `key`.
        pub fn get(&self, key: &K) -> Option<&V> {
            self.map.get(key).map(|(value, _)| value)
        }

        /// The value at `key`, mutably.
        pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
            self.map.get_mut(key).map(|(value, _)| value)
        }

        /// Removes the node at `key` and returns it.
        pub fn remove_node(&mut self, key: &K) -> Option<RBTreeNode<K, V>> {
            let (key, (value, block)) = self.map.remove_entry(key)?;
            Some(RBTreeNode { key, value, block })
        }

        /// Removes the node at `key`, frees it and returns its value.
        pub fn remove(&mut self, key: &K) -> Option<V> {
            self.map.remove(key).map(|(value, _)| value)
        }

        /// The nodes in the order of their keys.
        pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
            self.map.iter().map(|(key, (value, _))| (key, value))
        }

        /// A cursor at `key`, or at the first larger key.
        pub fn cursor_lower_bound(&mut self, key: &K) -> Option<Cursor<'_, K, V>> {
            let key = self.map.range(key..).next()?.0.clone();
            Some(Cursor { tree: self, key })
        }

        /// A cursor at the first node.
        pub fn cursor_front(&mut self) -> Option<Cursor<'_, K, V>> {
            let key = self.map.keys().next()?.clone();
            Some(Cursor { tree: self, key })
        }
    }

    /// A position in a tree.
    pub struct Cursor<'a, K, V> {
        tree: &'a mut RBTree<K, V>,
        key: K,
    }

    impl<K: Ord + Clone, V> Cursor<'_, K, V> {
        /// The node at the cursor.
        pub fn current(&self) -> (&K, &V) {
            let (key, (value, _)) = self.tree.map.get_key_value(&self.key).unwrap();
            (key, value)
        }

        /// The node before the cursor.
        pub fn peek_prev(&self) -> Option<(&K, &V)> {
            let (key, (value, _)) = self.tree.map.range(..self.key.clone()).next_back()?;
            Some((key, value))
        }

        /// Removes the node at the cursor; the cursor moves to the next node, else the previous.
        pub fn remove_current(self) -> (Option<Self>, RBTreeNode<K, V>) {
            let node = self.tree.remove_node(&self.key).unwrap();
            let next = self
                .tree
                .map
                .range(node.key.clone()..)
                .next()
                .or_else(|| self.tree.map.range(..node.key.clone()).next_back())
                .map(|(key, _)| key.clone());
            let cursor = next.map(|key| Cursor {
                tree: self.tree,
                key,
            });
            (cursor, node)
        }
    }

    /// The memory for a node.
    pub struct RBTreeNodeReservation<K, V> {
        block: Block,
        _types: core::marker::PhantomData<(K, V)>,
    }

    impl<K, V> RBTreeNodeReservation<K, V> {
        /// Allocates the memory for a node.
        pub fn new(_flags: Flags) -> Result<Self> {
            Ok(Self {
                block: Block::new(),
                _types: core::marker::PhantomData,
            })
        }

        /// Makes a node of the reservation.
        pub fn into_node(self, key: K, value: V) -> RBTreeNode<K, V> {
            RBTreeNode {
                key,
                value,
                block: self.block,
            }
        }
    }

    /// A node, not in a tree.
    pub struct RBTreeNode<K, V> {
        key: K,
        value: V,
        block: Block,
    }

    impl<K, V> RBTreeNode<K, V> {
        /// Drops the key and value and keeps the memory.
        pub fn into_reservation(self) -> RBTreeNodeReservation<K, V> {
            RBTreeNodeReservation {
                block: self.block,
                _types: core::marker::PhantomData,
            }
        }

        /// The key and value of the node; its memory is freed.
        pub fn to_key_value(self) -> (K, V) {
            (self.key, self.value)
        }
    }
}
