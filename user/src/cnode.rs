//! CNode slots and the CNode invocations, as methods of the slot they act on.
//!
//! A [`Slot`] is seL4's triple of an invoked CNode cap, an index and a depth: the slot the
//! index's top `depth` bits reach from that CNode. The root task's CNode resolves 64-bit
//! cptrs, so its slots are [`init_thread::slot`](crate::cap::init_thread::slot)`(cptr)`; a CNode
//! retyped with radix `r` and no guard resolves `r` bits ([`CNode::slot_at_depth`]).
//!
//! ```no_run
//! use gears_user::cap::init_thread::{self, CNODE};
//! use gears_user::CapRights;
//! // Copy the cap in slot 40 into slot 41, then mint a badged copy into 42 and delete 41.
//! init_thread::slot(41).copy(init_thread::slot(40), CapRights::ALL)?;
//! init_thread::slot(42).mint(CNODE.slot(40), CapRights::ALL, 0x5a)?;
//! init_thread::slot(41).delete()?;
//! # Ok::<(), gears_user::Error>(())
//! ```

use abi::label::cnode as label;
use abi::{CapRights, WORD_BITS};

use crate::Result;
use crate::cap::CNode;
use crate::invoke::invoke_unit;

/// A CNode slot: `index`, resolved with `depth` bits from the CNode `cnode` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    /// The CNode the path starts at (its cap is the one invoked, or sent as an extra cap).
    pub cnode: CNode,
    /// The slot's index (a cptr, when `cnode` is the thread's CSpace root).
    pub index: u64,
    /// How many bits of `index` to resolve.
    pub depth: u64,
}

impl CNode {
    /// Slot `index` of a CNode that resolves all 64 bits of a cptr (the root task's CNode,
    /// whose guard fills the bits its radix leaves).
    pub const fn slot(self, index: u64) -> Slot {
        Slot { cnode: self, index, depth: WORD_BITS }
    }

    /// Slot `index` resolved with `depth` bits (a CNode of radix `depth` without a guard).
    pub const fn slot_at_depth(self, index: u64, depth: u64) -> Slot {
        Slot { cnode: self, index, depth }
    }
}

impl Slot {
    /// Invokes this slot's CNode with `label`: this slot's index and depth, then `words`.
    fn invoke(self, label: u64, words: &[u64], caps: &[u64]) -> Result<()> {
        let mut msg = [0u64; 8];
        msg[0] = self.index;
        msg[1] = self.depth;
        msg[2..2 + words.len()].copy_from_slice(words);
        invoke_unit(self.cnode.cptr(), label, &msg[..2 + words.len()], caps)
    }

    /// `seL4_CNode_Copy`: a copy of the cap in `src`, with `rights` masked, into this (empty)
    /// slot.
    pub fn copy(self, src: Slot, rights: CapRights) -> Result<()> {
        self.invoke(label::COPY, &[src.index, src.depth, rights.word()], &[src.cnode.cptr()])
    }

    /// `seL4_CNode_Mint`: a copy of the cap in `src` with `rights` masked and `badge` (an
    /// endpoint's or notification's badge; a CNode's guard as `CNodeCapData`'s word) into this
    /// slot.
    pub fn mint(self, src: Slot, rights: CapRights, badge: u64) -> Result<()> {
        self.invoke(label::MINT, &[src.index, src.depth, rights.word(), badge], &[src.cnode.cptr()])
    }

    /// `seL4_CNode_Move`: the cap in `src` moves into this slot.
    pub fn move_from(self, src: Slot) -> Result<()> {
        self.invoke(label::MOVE, &[src.index, src.depth], &[src.cnode.cptr()])
    }

    /// `seL4_CNode_Mutate`: the cap in `src` moves into this slot with its data word changed
    /// (`data`: a badge, or a CNode's guard).
    pub fn mutate(self, src: Slot, data: u64) -> Result<()> {
        self.invoke(label::MUTATE, &[src.index, src.depth, data], &[src.cnode.cptr()])
    }

    /// `seL4_CNode_Rotate`: the cap in `pivot` moves into this slot (with `dest_badge`) and the
    /// cap in `src` into `pivot` (with `pivot_badge`); this slot may be `src`.
    pub fn rotate(self, dest_badge: u64, pivot: Slot, pivot_badge: u64, src: Slot) -> Result<()> {
        let words = [dest_badge, pivot.index, pivot.depth, pivot_badge, src.index, src.depth];
        self.invoke(label::ROTATE, &words, &[pivot.cnode.cptr(), src.cnode.cptr()])
    }

    /// `seL4_CNode_Delete`: empties this slot (destroying the object with its last cap).
    pub fn delete(self) -> Result<()> {
        self.invoke(label::DELETE, &[], &[])
    }

    /// `seL4_CNode_Revoke`: deletes every cap derived from the one in this slot.
    pub fn revoke(self) -> Result<()> {
        self.invoke(label::REVOKE, &[], &[])
    }

    /// `seL4_CNode_SaveCaller`: moves the caller's reply cap into this slot.
    pub fn save_caller(self) -> Result<()> {
        self.invoke(label::SAVE_CALLER, &[], &[])
    }

    /// `seL4_CNode_CancelBadgedSends`: fails every send blocked on the endpoint through a cap
    /// with this slot's cap's badge.
    pub fn cancel_badged_sends(self) -> Result<()> {
        self.invoke(label::CANCEL_BADGED_SENDS, &[], &[])
    }
}
