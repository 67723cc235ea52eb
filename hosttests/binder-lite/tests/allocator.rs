//! Tests of binder-lite's range allocator, the file the driver builds, on the host.

#[path = "../../../samples/rust/binder_lite/allocator.rs"]
mod allocator;

use allocator::{RangeAllocator, RangeStats, ReserveNodes, Reserved, UserFreeError};
use kernel::{allocations, live_blocks, prelude::*};

type Allocator = RangeAllocator<u32>;

fn nodes() -> ReserveNodes<u32> {
    ReserveNodes::new().unwrap()
}

/// Reserves `size` bytes with `data`; panics on failure.
fn reserve(alloc: &mut Allocator, size: usize, oneway: bool, data: u32) -> Reserved {
    match alloc.reserve(size, oneway, data, nodes()) {
        Ok(reserved) => reserved,
        Err((e, _)) => panic!("reserve({size}) failed: {e:?}"),
    }
}

/// The error of a reservation that must fail; checks that the data comes back.
fn reserve_err(alloc: &mut Allocator, size: usize, oneway: bool) -> Error {
    match alloc.reserve(size, oneway, 77, nodes()) {
        Ok(reserved) => panic!("reserve({size}) succeeded at {}", reserved.offset),
        Err((e, data)) => {
            assert_eq!(data, 77);
            e
        }
    }
}

#[test]
fn ranges_follow_each_other_and_are_counted() {
    let mut alloc = Allocator::new(4096).unwrap();
    let a = reserve(&mut alloc, 8, false, 1);
    let b = reserve(&mut alloc, 24, false, 2);
    assert_eq!((a.offset, b.offset), (0, 8));
    assert_ne!(a.id, b.id);
    assert_eq!(
        alloc.stats(),
        RangeStats {
            used_bytes: 32,
            free_bytes: 4064,
            used_ranges: 2,
            free_ranges: 1,
            free_oneway_bytes: 2048,
        }
    );
    assert_eq!(alloc.kernel_owned_size(b), Some(24));
    assert_eq!(reserve_err(&mut alloc, 0, false), EINVAL);
    assert_eq!(Allocator::new(0).err(), Some(EINVAL));
}

#[test]
fn best_fit_takes_the_smallest_free_range_that_fits() {
    let mut alloc = Allocator::new(1000).unwrap();
    let sizes = [64, 8, 32, 8, 32, 8, 48, 8];
    let ranges: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &size)| reserve(&mut alloc, size, false, i as u32))
        .collect();
    // Free ranges of 64 (at 0), 32 (at 72), 32 (at 112), 48 (at 152) and the rest (752).
    for i in [0, 2, 4, 6] {
        assert_eq!(alloc.free(ranges[i]), Some(i as u32));
    }
    assert_eq!(alloc.stats().free_ranges, 5);
    // 40 fits best in the 48 at 152, and is split from it.
    assert_eq!(reserve(&mut alloc, 40, false, 10).offset, 152);
    // 32 fits exactly twice: the lowest first.
    assert_eq!(reserve(&mut alloc, 32, false, 11).offset, 72);
    assert_eq!(reserve(&mut alloc, 24, false, 12).offset, 112);
    // The 8 bytes left at 136 and at 192 are the best fits for 8, the lowest first.
    assert_eq!(reserve(&mut alloc, 8, false, 13).offset, 136);
    assert_eq!(reserve(&mut alloc, 8, false, 14).offset, 192);
    // Only the tail fits 100.
    assert_eq!(reserve(&mut alloc, 100, false, 15).offset, 208);
}

#[test]
fn freed_ranges_merge_with_free_neighbours() {
    let mut alloc = Allocator::new(800).unwrap();
    let r: Vec<_> = (0..4).map(|i| reserve(&mut alloc, 200, false, i)).collect();
    assert_eq!(alloc.stats().free_ranges, 0);
    assert_eq!(reserve_err(&mut alloc, 8, false), ENOSPC);
    assert_eq!(alloc.free(r[1]), Some(1));
    assert_eq!(alloc.free(r[3]), Some(3));
    assert_eq!(alloc.stats().free_ranges, 2);
    // Merges with both neighbours: 200..800 is one range.
    assert_eq!(alloc.free(r[2]), Some(2));
    assert_eq!(alloc.stats().free_ranges, 1);
    let big = reserve(&mut alloc, 600, false, 5);
    assert_eq!(big.offset, 200);
    // Merges with the next range only.
    assert_eq!(alloc.free(r[0]), Some(0));
    assert_eq!(reserve(&mut alloc, 192, false, 6).offset, 0);
    assert_eq!(alloc.stats().free_ranges, 1);
    // Merges with the previous range only: 192..800 is free.
    assert_eq!(alloc.free(big), Some(5));
    assert_eq!(alloc.stats().free_ranges, 1);
    assert_eq!(reserve(&mut alloc, 608, false, 7).offset, 192);
}

#[test]
fn one_way_ranges_get_half_of_the_area() {
    let mut alloc = Allocator::new(1000).unwrap();
    let a = reserve(&mut alloc, 496, true, 1);
    assert_eq!(alloc.stats().free_oneway_bytes, 4);
    assert_eq!(reserve_err(&mut alloc, 8, true), ENOSPC);
    // Synchronous ones are not limited.
    let b = reserve(&mut alloc, 400, false, 2);
    assert_eq!(alloc.stats().free_oneway_bytes, 4);
    assert_eq!(alloc.free(a), Some(1));
    assert_eq!(alloc.stats().free_oneway_bytes, 500);
    assert_eq!(reserve(&mut alloc, 496, true, 3).offset, 0);
    assert_eq!(alloc.free(b), Some(2));
    assert_eq!(alloc.stats().free_oneway_bytes, 4);
    // Larger than the area.
    assert_eq!(reserve_err(&mut alloc, 1008, false), ENOSPC);
}

#[test]
fn user_space_frees_only_what_it_may() {
    let mut alloc = Allocator::new(4096).unwrap();
    let a = reserve(&mut alloc, 64, false, 1);
    let b = reserve(&mut alloc, 64, false, 2);
    // Not delivered yet.
    assert_eq!(alloc.free_by_user(a.offset), Err(UserFreeError::NotAllowed));
    assert!(alloc.set_user_may_free(a));
    assert_eq!(alloc.kernel_owned_size(a), None);
    assert_eq!(alloc.kernel_owned_size(b), Some(64));
    // Inside a range, in free space, past the end.
    for offset in [8, 200, 5000] {
        assert_eq!(alloc.free_by_user(offset), Err(UserFreeError::NoMatch));
    }
    assert_eq!(alloc.free_by_user(a.offset), Ok(1));
    // Freed twice.
    assert_eq!(alloc.free_by_user(a.offset), Err(UserFreeError::NoMatch));
    assert_eq!(alloc.free(a), None);
    assert!(!alloc.set_user_may_free(a));
    // The range is reserved again: the old handle does not name it.
    let c = reserve(&mut alloc, 64, false, 3);
    assert_eq!(c.offset, a.offset);
    assert_eq!(alloc.free(a), None);
    assert_eq!(alloc.kernel_owned_size(a), None);
    assert_eq!(alloc.free_by_user(c.offset), Err(UserFreeError::NotAllowed));
    assert_eq!(alloc.free(c), Some(3));
    assert_eq!(alloc.free(b), Some(2));
    assert_eq!(alloc.stats().used_bytes, 0);
}

#[test]
fn reserving_and_freeing_never_allocate_nor_leak() {
    let base = live_blocks();
    {
        let mut alloc = Allocator::new(4096).unwrap();
        let mut held = Vec::new();
        for round in 0..50u32 {
            let n = nodes();
            let before = allocations();
            let size = 8 * (1 + (round as usize * 7) % 40);
            if let Ok(reserved) = alloc.reserve(size, round % 3 == 0, round, n) {
                held.push((reserved, round));
            }
            if round % 4 == 3 {
                let (reserved, data) = held.remove(held.len() / 2);
                assert_eq!(alloc.free(reserved), Some(data));
            }
            assert_eq!(allocations(), before, "round {round}");
        }
        assert!(!held.is_empty());
        // The data of the ranges in use, by offset.
        held.sort_by_key(|(reserved, _)| reserved.offset);
        let data: Vec<u32> = alloc.into_used().collect();
        let want: Vec<u32> = held.iter().map(|&(_, data)| data).collect();
        assert_eq!(data, want);
    }
    assert_eq!(live_blocks(), base);
}

#[test]
fn nodes_freed_by_merging_serve_the_next_reservation() {
    let base = live_blocks();
    {
        let mut alloc = Allocator::new(4096).unwrap();
        assert!(alloc.take_spare_nodes().is_none());
        // A split takes both nodes; freeing merges with the rest and leaves two over.
        let r = reserve(&mut alloc, 64, false, 1);
        assert!(alloc.take_spare_nodes().is_none());
        assert_eq!(alloc.free(r), Some(1));
        let before = allocations();
        // A steady flow of reservations and frees runs on the spare nodes alone.
        for round in 0..20u32 {
            let n = alloc.take_spare_nodes().expect("spare nodes");
            let r = alloc
                .reserve(8 + 8 * round as usize, false, round, n)
                .unwrap();
            assert_eq!(alloc.free(r), Some(round));
        }
        assert_eq!(allocations(), before);
        // An exact fit keeps the nodes it was given.
        let n = alloc.take_spare_nodes().expect("spare nodes");
        let whole = alloc.reserve(4096, false, 7, n).unwrap();
        assert!(alloc.take_spare_nodes().is_some());
        assert_eq!(alloc.free(whole), Some(7));
        assert_eq!(alloc.stats().free_ranges, 1);
    }
    assert_eq!(live_blocks(), base);
}

/// A linear model of the allocator: the same answers, computed the obvious way.
struct Model {
    size: usize,
    /// `(offset, size, data)` of the ranges in use, by offset.
    used: Vec<(usize, usize, u32, bool)>,
    free_oneway: usize,
}

impl Model {
    /// The free ranges, by offset.
    fn free(&self) -> Vec<(usize, usize)> {
        let mut free = Vec::new();
        let mut at = 0;
        for &(offset, size, _, _) in &self.used {
            if offset > at {
                free.push((at, offset - at));
            }
            at = offset + size;
        }
        if at < self.size {
            free.push((at, self.size - at));
        }
        free
    }

    fn reserve(&mut self, size: usize, oneway: bool, data: u32) -> Option<usize> {
        if oneway && self.free_oneway < size {
            return None;
        }
        let (offset, _) = self
            .free()
            .into_iter()
            .filter(|&(_, free)| free >= size)
            .min_by_key(|&(offset, free)| (free, offset))?;
        let at = self.used.partition_point(|&(o, ..)| o < offset);
        self.used.insert(at, (offset, size, data, oneway));
        if oneway {
            self.free_oneway -= size;
        }
        Some(offset)
    }

    fn free_at(&mut self, offset: usize) -> u32 {
        let at = self.used.iter().position(|&(o, ..)| o == offset).unwrap();
        let (_, size, data, oneway) = self.used.remove(at);
        if oneway {
            self.free_oneway += size;
        }
        data
    }

    fn stats(&self) -> RangeStats {
        let used_bytes = self.used.iter().map(|&(_, size, ..)| size).sum();
        RangeStats {
            used_bytes,
            free_bytes: self.size - used_bytes,
            used_ranges: self.used.len(),
            free_ranges: self.free().len(),
            free_oneway_bytes: self.free_oneway,
        }
    }
}

#[test]
fn random_operations_match_a_linear_model() {
    let base = live_blocks();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound as u64) as usize
    };
    for size in [4096, 10_000, 1 << 20] {
        let mut alloc = Allocator::new(size).unwrap();
        let mut model = Model {
            size,
            used: Vec::new(),
            free_oneway: size / 2,
        };
        let mut held: Vec<Reserved> = Vec::new();
        for step in 0..3000u32 {
            if held.is_empty() || next(100) < 55 {
                let bound = if next(10) == 0 { size / 8 } else { 64 };
                let len = 8 * (1 + next(bound));
                let oneway = next(4) == 0;
                let got = alloc.reserve(len, oneway, step, nodes());
                let want = model.reserve(len, oneway, step);
                match (got, want) {
                    (Ok(reserved), Some(offset)) => {
                        assert_eq!(reserved.offset, offset, "step {step}");
                        held.push(reserved);
                    }
                    (Err((e, data)), None) => {
                        assert_eq!((e, data), (ENOSPC, step));
                    }
                    (got, want) => panic!("step {step}: {:?} vs {want:?}", got.map_err(|e| e.0)),
                }
            } else {
                let reserved = held.swap_remove(next(held.len()));
                let data = if next(2) == 0 {
                    alloc.free(reserved)
                } else {
                    assert!(alloc.set_user_may_free(reserved));
                    alloc.free_by_user(reserved.offset).ok()
                };
                assert_eq!(data, Some(model.free_at(reserved.offset)), "step {step}");
            }
            assert_eq!(alloc.stats(), model.stats(), "step {step}");
        }
        let data: Vec<u32> = alloc.into_used().collect();
        let want: Vec<u32> = model.used.iter().map(|&(_, _, data, _)| data).collect();
        assert_eq!(data, want);
    }
    assert_eq!(live_blocks(), base);
}
