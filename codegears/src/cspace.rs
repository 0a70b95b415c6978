//! Slots: a cap plus its MDB node, kept sparsely by slot address (an absent slot is empty).

use alloc::collections::BTreeMap;

use crate::cap::{Cap, SlotRef};

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
/// (null cap, null MDB node), so creating a CNode of any radix costs nothing.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct CSpace {
    slots: BTreeMap<SlotRef, Cte>,
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

    /// Every non-empty slot, by address.
    pub fn iter(&self) -> impl Iterator<Item = (SlotRef, &Cte)> + '_ {
        self.slots.iter().map(|(s, c)| (*s, c))
    }

    /// Non-empty slots with addresses in `[from, to)`.
    pub fn range(&self, from: SlotRef, to: SlotRef) -> impl Iterator<Item = (SlotRef, &Cte)> + '_ {
        self.slots.range(from..to).map(|(s, c)| (*s, c))
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
