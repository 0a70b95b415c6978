//! Slots: a cap plus its MDB node, kept sparsely by slot address (an absent slot is empty).

use alloc::vec::Vec;
use core::fmt;
use core::hash::{BuildHasher, Hash, Hasher};

use foldhash::fast::FixedState;
use hashbrown::HashMap;

use crate::cap::{Cap, SLOT_BITS, SlotRef};

/// A slot's node in the capability derivation tree: seL4's `mdb_node_t`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct MdbNode {
    /// The previous slot in the pre-order list (`mdbPrev`).
    pub prev: Option<SlotRef>,
    /// The next slot in the pre-order list (`mdbNext`).
    pub next: Option<SlotRef>,
    /// `mdbRevocable`: the cap may have children.
    pub revocable: bool,
    /// `mdbFirstBadged`: the first cap of a badge (a badged endpoint's subtree root).
    pub first_badged: bool,
}

impl MdbNode {
    /// Whether this is `nullMDBNode`.
    pub fn is_null(&self) -> bool {
        *self == MdbNode::default()
    }
}

/// A slot: seL4's `cte_t`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Cte {
    /// The cap it holds.
    pub cap: Cap,
    /// Its place in the derivation tree.
    pub mdb: MdbNode,
}

/// Every non-empty slot of the kernel, by address: the CSpaces' contents and the CDT links.
///
/// Slots are the memory of CNode and TCB objects; an address absent from the map is an empty slot
/// (null cap, null MDB node), so creating a CNode of any radix costs nothing. The map is a hash
/// table with a fixed-seed hasher, so reaching one slot costs the same however many slots there
/// are (a revoke of 2^20 caps costs per cap what one of 2^10 does) and runs are deterministic.
/// Its `Hash` adds up its entries' hashes, so equal CSpaces hash alike whatever order their slots
/// were written in; `iter`, `range` and `Debug` go in address order.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct CSpace {
    slots: HashMap<SlotRef, Cte, FixedState>,
}

impl Hash for CSpace {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let fixed = FixedState::default();
        let sum = self.slots.iter().fold(0u64, |acc, (s, c)| acc.wrapping_add(fixed.hash_one((s, c))));
        state.write_u64(sum);
        state.write_usize(self.slots.len());
    }
}

impl fmt::Debug for CSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl CSpace {
    /// No slot holds anything.
    pub fn new() -> Self {
        Self::default()
    }

    /// The slot at `slot` (empty if never written).
    pub fn get(&self, slot: SlotRef) -> Cte {
        self.slots.get(&slot).copied().unwrap_or_default()
    }

    /// The cap in `slot`.
    pub fn cap(&self, slot: SlotRef) -> Cap {
        self.slots.get(&slot).map(|c| c.cap).unwrap_or_default()
    }

    /// The MDB node of `slot`.
    pub fn mdb(&self, slot: SlotRef) -> MdbNode {
        self.slots.get(&slot).map(|c| c.mdb).unwrap_or_default()
    }

    /// Writes a whole slot.
    pub fn set(&mut self, slot: SlotRef, cte: Cte) {
        if cte == Cte::default() {
            self.slots.remove(&slot);
        } else {
            self.slots.insert(slot, cte);
        }
    }

    /// Writes the cap of `slot`, keeping its MDB node.
    pub fn set_cap(&mut self, slot: SlotRef, cap: Cap) {
        let mut c = self.get(slot);
        c.cap = cap;
        self.set(slot, c);
    }

    /// Writes the MDB node of `slot`, keeping its cap.
    pub fn set_mdb(&mut self, slot: SlotRef, mdb: MdbNode) {
        let mut c = self.get(slot);
        c.mdb = mdb;
        self.set(slot, c);
    }

    /// Changes the MDB node of `slot`.
    pub fn update_mdb(&mut self, slot: SlotRef, f: impl FnOnce(&mut MdbNode)) {
        let mut m = self.mdb(slot);
        f(&mut m);
        self.set_mdb(slot, m);
    }

    /// Every non-empty slot, in address order (O(n log n): for checks, not for gears).
    pub fn iter(&self) -> impl Iterator<Item = (SlotRef, &Cte)> + '_ {
        let mut all: Vec<(SlotRef, &Cte)> = self.slots.iter().map(|(s, c)| (*s, c)).collect();
        all.sort_unstable_by_key(|(s, _)| *s);
        all.into_iter()
    }

    /// Non-empty slots with addresses in `[from, to)`, in address order.
    ///
    /// A window of k slot addresses costs O(k) when k is at most the number of non-empty slots
    /// (a gear's window, e.g. a retype's destination slots, is bounded by the fan-out limit), and
    /// a scan of every slot otherwise.
    pub fn range(&self, from: SlotRef, to: SlotRef) -> impl Iterator<Item = (SlotRef, &Cte)> + '_ {
        let step = 1u64 << SLOT_BITS;
        let first = from.0.div_ceil(step).saturating_mul(step);
        let window = to.0.saturating_sub(first).div_ceil(step);
        let mut found: Vec<(SlotRef, &Cte)> = if window <= self.slots.len() as u64 {
            (0..window)
                .map(|i| SlotRef(first + i * step))
                .filter_map(|s| self.slots.get(&s).map(|c| (s, c)))
                .collect()
        } else {
            let mut v: Vec<_> =
                self.slots.iter().filter(|(s, _)| from <= **s && **s < to).map(|(s, c)| (*s, c)).collect();
            v.sort_unstable_by_key(|(s, _)| *s);
            v
        };
        found.retain(|(s, _)| from <= *s && *s < to);
        found.into_iter()
    }

    /// How many slots are non-empty.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether every slot is empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}
