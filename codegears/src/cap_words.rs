//! A slot as it lies in memory: seL4's `cte_t`, four words at the slot's physical address (a
//! [`Cap`] in two, its [`MdbNode`] in two), so a CNode's slots are the CNode's own memory and
//! a cap costs the kernel nothing that the untyped did not pay for.
//!
//! The encoding is Gears' own (seL4's bitfield generator lays out its caps differently), with the
//! same budget: a cap's type in the top five bits of its first word, object pointers as physical
//! addresses below 2^48 (stored without their alignment bits where a field needs the room), a
//! badge, guard, free index or mapping in the second word. Every bit pattern decodes to some cap
//! (an unknown type to the null cap), so reading memory never fails; encoding is exact for every
//! cap the kernel makes (pointers below [`PADDR_LIMIT`], ASIDs below 2^28): a round trip gives
//! the cap back.

use crate::arch::PtKind;
use crate::cap::{Cap, CapRights, Mapping, ObjPtr, SlotRef, ZombieType};
use crate::cspace::MdbNode;

/// Physical addresses of kernel objects and frames are below this (48 bits, as in seL4's caps).
pub const PADDR_LIMIT: u64 = 1 << 48;

const TAG_SHIFT: u32 = 59;
const PTR_MASK: u64 = PADDR_LIMIT - 1;

/// Type tags (0, all-zero words, is the null cap).
mod tag {
    pub const UNTYPED: u64 = 1;
    pub const ENDPOINT: u64 = 2;
    pub const NOTIFICATION: u64 = 3;
    pub const REPLY: u64 = 4;
    pub const CNODE: u64 = 5;
    pub const THREAD: u64 = 6;
    pub const IRQ_CONTROL: u64 = 7;
    pub const IRQ_HANDLER: u64 = 8;
    pub const ZOMBIE: u64 = 9;
    pub const DOMAIN: u64 = 10;
    pub const FRAME: u64 = 11;
    pub const PAGE_TABLE: u64 = 12;
    pub const ASID_CONTROL: u64 = 13;
    pub const ASID_POOL: u64 = 14;
    pub const IO_PORT_CONTROL: u64 = 15;
    pub const IO_PORT: u64 = 16;
}

/// `bits` of `w` from bit `at`.
const fn field(w: u64, at: u32, bits: u32) -> u64 {
    (w >> at) & ((1 << bits) - 1)
}

/// A type tag in its place.
const fn t(tag: u64) -> u64 {
    tag << TAG_SHIFT
}

const fn flag(w: u64, at: u32) -> bool {
    (w >> at) & 1 != 0
}

/// A mapping in one word: the ASID above the page number of the address (`None`: 0, as no
/// mapping has ASID 0).
const fn mapping_word(m: Option<Mapping>) -> u64 {
    match m {
        Some(Mapping { asid, vaddr }) => asid << 36 | (vaddr >> 12) & ((1 << 36) - 1),
        None => 0,
    }
}

const fn mapping_of(w: u64) -> Option<Mapping> {
    if w == 0 { None } else { Some(Mapping { asid: w >> 36, vaddr: (w & ((1 << 36) - 1)) << 12 }) }
}

const fn kind_bits(k: PtKind) -> u64 {
    match k {
        PtKind::Pml4 => 0,
        PtKind::Pdpt => 1,
        PtKind::PageDirectory => 2,
        PtKind::PageTable => 3,
        PtKind::Riscv => 4,
    }
}

const fn kind_of(b: u64) -> PtKind {
    match b {
        0 => PtKind::Pml4,
        1 => PtKind::Pdpt,
        2 => PtKind::PageDirectory,
        3 => PtKind::PageTable,
        _ => PtKind::Riscv,
    }
}

impl Cap {
    /// The cap's two words in a slot.
    pub const fn to_words(self) -> [u64; 2] {
        match self {
            Cap::Null => [0, 0],
            Cap::Untyped { ptr, size_bits, free_index, is_device } => [
                t(tag::UNTYPED) | (is_device as u64) << 54 | (size_bits as u64 & 0x3f) << 48 | ptr & PTR_MASK,
                free_index,
            ],
            Cap::Endpoint { ptr, badge, rights } => {
                [t(tag::ENDPOINT) | rights.word() << 48 | ptr.0 & PTR_MASK, badge]
            }
            Cap::Notification { ptr, badge, rights } => {
                [t(tag::NOTIFICATION) | rights.word() << 48 | ptr.0 & PTR_MASK, badge]
            }
            Cap::Reply { tcb, master, can_grant } => {
                [t(tag::REPLY) | (master as u64) << 49 | (can_grant as u64) << 48 | tcb.0 & PTR_MASK, 0]
            }
            Cap::CNode { ptr, radix, guard, guard_size } => [
                t(tag::CNODE)
                    | (guard_size as u64 & 0x7f) << 50
                    | (radix as u64 & 0x3f) << 44
                    | (ptr.0 & PTR_MASK) >> 4,
                guard,
            ],
            Cap::Thread { ptr } => [t(tag::THREAD) | ptr.0 & PTR_MASK, 0],
            Cap::IrqControl => [t(tag::IRQ_CONTROL), 0],
            Cap::IrqHandler { irq } => [t(tag::IRQ_HANDLER) | irq as u64, 0],
            Cap::Zombie { ptr, number, kind } => {
                let k = match kind {
                    ZombieType::Tcb => 1 << 6,
                    ZombieType::CNode(radix) => radix as u64 & 0x3f,
                };
                [t(tag::ZOMBIE) | k << 48 | ptr.0 & PTR_MASK, number]
            }
            Cap::Domain => [t(tag::DOMAIN), 0],
            Cap::Frame { ptr, size_bits, rights, is_device, mapped } => [
                t(tag::FRAME)
                    | (is_device as u64) << 58
                    | rights.word() << 54
                    | (size_bits as u64 & 0x3f) << 48
                    | ptr.0 & PTR_MASK,
                mapping_word(mapped),
            ],
            Cap::PageTable { ptr, kind, mapped } => {
                [t(tag::PAGE_TABLE) | kind_bits(kind) << 48 | ptr.0 & PTR_MASK, mapping_word(mapped)]
            }
            Cap::AsidControl => [t(tag::ASID_CONTROL), 0],
            Cap::AsidPool { ptr, asid_base } => [t(tag::ASID_POOL) | ptr.0 & PTR_MASK, asid_base],
            Cap::IoPortControl => [t(tag::IO_PORT_CONTROL), 0],
            Cap::IoPort { first, last } => [t(tag::IO_PORT) | (first as u64) << 16 | last as u64, 0],
        }
    }

    /// The cap two slot words hold (an unknown type reads as the null cap).
    #[inline]
    pub const fn from_words([w, x]: [u64; 2]) -> Cap {
        let ptr = ObjPtr(w & PTR_MASK);
        match w >> TAG_SHIFT {
            tag::UNTYPED => Cap::Untyped {
                ptr: w & PTR_MASK,
                size_bits: field(w, 48, 6) as u8,
                free_index: x,
                is_device: flag(w, 54),
            },
            tag::ENDPOINT => Cap::Endpoint { ptr, badge: x, rights: CapRights::from_word(field(w, 48, 4)) },
            tag::NOTIFICATION => {
                Cap::Notification { ptr, badge: x, rights: CapRights::from_word(field(w, 48, 4)) }
            }
            tag::REPLY => Cap::Reply { tcb: ptr, master: flag(w, 49), can_grant: flag(w, 48) },
            tag::CNODE => Cap::CNode {
                ptr: ObjPtr(field(w, 0, 44) << 4),
                radix: field(w, 44, 6) as u8,
                guard: x,
                guard_size: field(w, 50, 7) as u8,
            },
            tag::THREAD => Cap::Thread { ptr },
            tag::IRQ_CONTROL => Cap::IrqControl,
            tag::IRQ_HANDLER => Cap::IrqHandler { irq: field(w, 0, 16) as u16 },
            tag::ZOMBIE => {
                let k = field(w, 48, 7);
                let kind = if k & (1 << 6) != 0 { ZombieType::Tcb } else { ZombieType::CNode(k as u8) };
                Cap::Zombie { ptr, number: x, kind }
            }
            tag::DOMAIN => Cap::Domain,
            tag::FRAME => Cap::Frame {
                ptr,
                size_bits: field(w, 48, 6) as u8,
                rights: CapRights::from_word(field(w, 54, 4)),
                is_device: flag(w, 58),
                mapped: mapping_of(x),
            },
            tag::PAGE_TABLE => Cap::PageTable { ptr, kind: kind_of(field(w, 48, 3)), mapped: mapping_of(x) },
            tag::ASID_CONTROL => Cap::AsidControl,
            tag::ASID_POOL => Cap::AsidPool { ptr, asid_base: x },
            tag::IO_PORT_CONTROL => Cap::IoPortControl,
            tag::IO_PORT => Cap::IoPort { first: field(w, 16, 16) as u16, last: field(w, 0, 16) as u16 },
            // Tag 0 (the null cap's all-zero words), and any tag no cap has.
            _ => Cap::Null,
        }
    }
}

impl MdbNode {
    /// The node's two slot words: the previous slot with the revocable and first-badged flags in
    /// its alignment bits, then the next slot (0: none; no slot lives at address 0's page).
    pub const fn to_words(self) -> [u64; 2] {
        let prev = match self.prev {
            Some(s) => s.0,
            None => 0,
        };
        let next = match self.next {
            Some(s) => s.0,
            None => 0,
        };
        [prev | self.revocable as u64 | (self.first_badged as u64) << 1, next]
    }

    /// The node two slot words hold.
    pub const fn from_words([w, x]: [u64; 2]) -> MdbNode {
        let prev = w & !0x1f;
        MdbNode {
            prev: if prev == 0 { None } else { Some(SlotRef(prev)) },
            next: if x == 0 { None } else { Some(SlotRef(x & !0x1f)) },
            revocable: flag(w, 0),
            first_badged: flag(w, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn rights() -> impl Strategy<Value = CapRights> {
        (0u64..16).prop_map(CapRights::from_word)
    }

    fn paddr(align: u32) -> impl Strategy<Value = u64> {
        (0u64..PADDR_LIMIT >> align).prop_map(move |p| p << align)
    }

    fn mapping() -> impl Strategy<Value = Option<Mapping>> {
        prop_oneof![
            Just(None),
            (1u64..1 << 28, 0u64..1 << 36).prop_map(|(asid, page)| Some(Mapping { asid, vaddr: page << 12 })),
        ]
    }

    fn kind() -> impl Strategy<Value = PtKind> {
        prop_oneof![
            Just(PtKind::Pml4),
            Just(PtKind::Pdpt),
            Just(PtKind::PageDirectory),
            Just(PtKind::PageTable),
            Just(PtKind::Riscv)
        ]
    }

    fn cap() -> impl Strategy<Value = Cap> {
        prop_oneof![
            Just(Cap::Null),
            (paddr(4), 4u8..48, any::<u64>(), any::<bool>()).prop_map(
                |(ptr, size_bits, free_index, is_device)| {
                    Cap::Untyped { ptr, size_bits, free_index, is_device }
                }
            ),
            (paddr(4), any::<u64>(), rights()).prop_map(|(p, badge, rights)| Cap::Endpoint {
                ptr: ObjPtr(p),
                badge,
                rights
            }),
            (paddr(5), any::<u64>(), rights()).prop_map(|(p, badge, rights)| Cap::Notification {
                ptr: ObjPtr(p),
                badge,
                rights
            }),
            (paddr(11), any::<bool>(), any::<bool>()).prop_map(|(p, master, can_grant)| Cap::Reply {
                tcb: ObjPtr(p),
                master,
                can_grant
            }),
            (paddr(5), 0u8..64, any::<u64>(), 0u8..=64).prop_map(|(p, radix, guard, guard_size)| {
                Cap::CNode { ptr: ObjPtr(p), radix, guard, guard_size }
            }),
            paddr(11).prop_map(|p| Cap::Thread { ptr: ObjPtr(p) }),
            Just(Cap::IrqControl),
            any::<u16>().prop_map(|irq| Cap::IrqHandler { irq }),
            Just(Cap::IoPortControl),
            (any::<u16>(), any::<u16>()).prop_map(|(first, last)| Cap::IoPort { first, last }),
            (
                paddr(5),
                any::<u64>(),
                prop_oneof![Just(ZombieType::Tcb), (0u8..64).prop_map(ZombieType::CNode)]
            )
                .prop_map(|(p, number, kind)| Cap::Zombie { ptr: ObjPtr(p), number, kind }),
            Just(Cap::Domain),
            (paddr(12), 12u8..40, rights(), any::<bool>(), mapping()).prop_map(
                |(p, size_bits, rights, is_device, mapped)| Cap::Frame {
                    ptr: ObjPtr(p),
                    size_bits,
                    rights,
                    is_device,
                    mapped
                }
            ),
            (paddr(12), kind(), mapping()).prop_map(|(p, kind, mapped)| Cap::PageTable {
                ptr: ObjPtr(p),
                kind,
                mapped
            }),
            Just(Cap::AsidControl),
            (paddr(12), any::<u64>()).prop_map(|(p, asid_base)| Cap::AsidPool { ptr: ObjPtr(p), asid_base }),
        ]
    }

    fn slot() -> impl Strategy<Value = Option<SlotRef>> {
        prop_oneof![Just(None), (1u64..PADDR_LIMIT >> 5).prop_map(|s| Some(SlotRef(s << 5)))]
    }

    proptest! {
        #[test]
        fn every_cap_reads_back_as_written(c in cap()) {
            prop_assert_eq!(Cap::from_words(c.to_words()), c);
        }

        #[test]
        fn every_mdb_node_reads_back_as_written(prev in slot(), next in slot(), revocable: bool, first_badged: bool) {
            let m = MdbNode { prev, next, revocable, first_badged };
            prop_assert_eq!(MdbNode::from_words(m.to_words()), m);
        }

        #[test]
        fn any_words_decode_to_a_cap(w: u64, x: u64) {
            let c = Cap::from_words([w, x]);
            // Whatever memory holds, decoding it again from its own encoding is stable.
            prop_assert_eq!(Cap::from_words(c.to_words()), c);
        }
    }

    #[test]
    fn the_null_cap_and_node_are_zero_words() {
        assert_eq!(Cap::Null.to_words(), [0, 0]);
        assert_eq!(MdbNode::default().to_words(), [0, 0]);
        assert_eq!(Cap::from_words([0, 0]), Cap::Null);
    }
}
