//! Handing out empty slots of a CNode: the root task's from BootInfo's empty range.
//!
//! A bump allocator: slots are taken in order and never given back (a program that frees many
//! keeps its own free list on top). It knows nothing of what the slots hold; the kernel says
//! `DeleteFirst` if a slot it handed out was not empty after all.
//!
//! ```
//! use gears_user::cap::init_thread;
//! use gears_user::slots::SlotAllocator;
//! let mut slots = SlotAllocator::new(init_thread::CNODE, 900..904);
//! assert_eq!(slots.alloc(), Some(900));
//! assert_eq!(slots.alloc_range(2), Some(901..903));
//! assert_eq!(slots.alloc_range(2), None); // one left
//! assert_eq!(slots.remaining(), 1);
//! ```

use core::ops::Range;

use crate::CPtr;
use crate::cap::CNode;
use crate::cnode::Slot;

/// Empty slots `next..end` of `cnode`, handed out in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotAllocator {
    cnode: CNode,
    next: u64,
    end: u64,
}

impl SlotAllocator {
    /// The empty slots `range` of `cnode` (a CNode that resolves 64-bit cptrs, for the slots
    /// to be cptrs too: the root task's).
    pub const fn new(cnode: CNode, range: Range<u64>) -> SlotAllocator {
        let end = if range.end < range.start { range.start } else { range.end };
        SlotAllocator { cnode, next: range.start, end }
    }

    /// The CNode the slots are in.
    pub const fn cnode(&self) -> CNode {
        self.cnode
    }

    /// The next free slot's index, taken.
    pub fn alloc(&mut self) -> Option<CPtr> {
        self.alloc_range(1).map(|r| r.start)
    }

    /// `n` consecutive free slots, taken (what one Retype of `n` objects fills).
    pub fn alloc_range(&mut self, n: u64) -> Option<Range<CPtr>> {
        let end = self.next.checked_add(n).filter(|&e| e <= self.end)?;
        let range = self.next..end;
        self.next = end;
        Some(range)
    }

    /// The next free slot as a [`Slot`] of the CNode, taken.
    pub fn alloc_slot(&mut self) -> Option<Slot> {
        self.alloc().map(|i| self.cnode.slot(i))
    }

    /// How many slots are left.
    pub const fn remaining(&self) -> u64 {
        self.end - self.next
    }

    /// The slots not handed out yet.
    pub const fn free(&self) -> Range<u64> {
        self.next..self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::init_thread::CNODE;

    #[test]
    fn slots_come_in_order_until_none_are_left() {
        let mut s = SlotAllocator::new(CNODE, 10..13);
        assert_eq!(s.alloc_slot(), Some(CNODE.slot(10)));
        assert_eq!(s.alloc_range(0), Some(11..11));
        assert_eq!(s.alloc_range(3), None);
        assert_eq!(s.free(), 11..13);
        assert_eq!((s.alloc(), s.alloc(), s.alloc()), (Some(11), Some(12), None));
        assert_eq!(s.remaining(), 0);
    }

    #[test]
    fn a_huge_request_does_not_wrap() {
        let mut s = SlotAllocator::new(CNODE, 5..u64::MAX);
        assert_eq!(s.alloc_range(u64::MAX), None);
        assert_eq!(s.alloc(), Some(5));
    }

    #[test]
    fn an_empty_range_gives_nothing() {
        let mut s = SlotAllocator::new(CNODE, 8..8);
        assert_eq!(s.alloc(), None);
        #[allow(clippy::reversed_empty_ranges, reason = "a BootInfo could say so")]
        let s = SlotAllocator::new(CNODE, 8..4);
        assert_eq!(s.remaining(), 0);
    }
}
