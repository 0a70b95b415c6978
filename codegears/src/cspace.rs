//! Slots: a cap plus its MDB node, in the memory of the CNode or TCB that holds it.

use core::fmt;

use crate::cap::{Cap, ObjPtr, SLOT_BITS, SlotRef};
use crate::mem::{PhysMem, RamWindow};

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

/// Every slot of the kernel, in the memory of the CNodes and TCBs that hold them: a slot is the
/// four words at its address ([`Cap::to_words`], [`MdbNode::to_words`]), so a cap costs the
/// kernel only the memory of the untyped its CNode was made from.
///
/// Two backings, as [`PhysMem`]'s: the host model keeps the pages written so far (so an empty
/// CNode of any radix costs nothing, and equal CSpaces compare and hash alike whatever order
/// their slots were written in), the bare-metal kernel reaches its RAM. Memory that becomes a
/// CNode or TCB is cleared by the retype ([`CSpace::clear`]); a deleted one is left all null
/// by its finalisation.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct CSpace {
    mem: PhysMem,
}

impl fmt::Debug for CSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_window() {
            return write!(f, "CSpace({:?})", self.mem);
        }
        f.debug_map().entries(self.range(SlotRef(0), SlotRef(u64::MAX))).finish()
    }
}

/// A slot's words: cap, then MDB node.
const CAP_WORD: u64 = 0;
const MDB_WORD: u64 = 16;

impl CSpace {
    /// No slot holds anything (the host model's memory).
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the slots are in the machine's RAM (as opposed to the host model's memory).
    pub fn is_window(&self) -> bool {
        self.mem.is_window()
    }

    /// The slots in the machine's RAM, as the kernel maps it.
    pub fn window(windows: &'static [RamWindow]) -> Self {
        CSpace { mem: PhysMem::window(windows) }
    }

    /// The memory the slots live in.
    pub fn mem(&self) -> &PhysMem {
        &self.mem
    }

    #[inline]
    fn pair(&self, at: u64) -> [u64; 2] {
        self.mem.read_words(at & !0xf)
    }

    #[inline]
    fn put(&mut self, at: u64, words: [u64; 2]) {
        self.mem.write_words(at & !0xf, words);
    }

    /// The slot at `slot` (empty if never written).
    #[inline]
    pub fn get(&self, slot: SlotRef) -> Cte {
        let [c0, c1, m0, m1] = self.mem.read_words(slot.0 & !0x1f);
        Cte { cap: Cap::from_words([c0, c1]), mdb: MdbNode::from_words([m0, m1]) }
    }

    /// The cap in `slot`.
    #[inline]
    pub fn cap(&self, slot: SlotRef) -> Cap {
        Cap::from_words(self.pair(slot.0 + CAP_WORD))
    }

    /// The MDB node of `slot`.
    #[inline]
    pub fn mdb(&self, slot: SlotRef) -> MdbNode {
        MdbNode::from_words(self.pair(slot.0 + MDB_WORD))
    }

    /// Writes a whole slot.
    pub fn set(&mut self, slot: SlotRef, cte: Cte) {
        let ([c0, c1], [m0, m1]) = (cte.cap.to_words(), cte.mdb.to_words());
        self.mem.write_words(slot.0 & !0x1f, [c0, c1, m0, m1]);
    }

    /// Writes the cap of `slot`, keeping its MDB node.
    pub fn set_cap(&mut self, slot: SlotRef, cap: Cap) {
        self.put(slot.0 + CAP_WORD, cap.to_words());
    }

    /// Writes the MDB node of `slot`, keeping its cap.
    pub fn set_mdb(&mut self, slot: SlotRef, mdb: MdbNode) {
        self.put(slot.0 + MDB_WORD, mdb.to_words());
    }

    /// Changes the MDB node of `slot`.
    pub fn update_mdb(&mut self, slot: SlotRef, f: impl FnOnce(&mut MdbNode)) {
        let mut m = self.mdb(slot);
        f(&mut m);
        self.set_mdb(slot, m);
    }

    /// Empties every slot of the 2^`bits` bytes at `ptr` (a new CNode or TCB: its memory may
    /// hold whatever it was before, a frame's contents or an older object).
    pub fn clear(&mut self, ptr: ObjPtr, bits: u8) {
        self.mem.zero(ptr.0, bits);
    }

    /// Non-empty slots with addresses in `[from, to)`, in address order. It reads the slots of
    /// the pages that may hold one: those written so far in the host model, every one in the
    /// range on the machine (so a check that walks the machine's slots goes CNode by CNode).
    pub fn range(&self, from: SlotRef, to: SlotRef) -> impl Iterator<Item = (SlotRef, Cte)> + '_ {
        let step = 1u64 << SLOT_BITS;
        let first = from.0.div_ceil(step).saturating_mul(step);
        let pages = self.mem.pages_in(first, to.0);
        pages.into_iter().flat_map(move |page| {
            let base = page << 12;
            let lo = base.max(first);
            let hi = (base + 4096).min(to.0);
            let words = self.mem.page(page);
            (0..hi.saturating_sub(lo).div_ceil(step)).filter_map(move |i| {
                let s = SlotRef(lo + i * step);
                // The page found once, its slots read in place: most slots of a sparse CNode
                // are empty, and skipped without decoding.
                let at = ((s.0 & 0xfff) >> 3) as usize;
                let slot = [words.word(at), words.word(at + 1), words.word(at + 2), words.word(at + 3)];
                if slot == [0; 4] {
                    return None;
                }
                let cte = Cte {
                    cap: Cap::from_words([slot[0], slot[1]]),
                    mdb: MdbNode::from_words([slot[2], slot[3]]),
                };
                (cte != Cte::default()).then_some((s, cte))
            })
        })
    }
}
