//! Capabilities as one enum, after seL4's Haskell `Capability` type, and the pure functions on them
//! (`same_region_as`, `same_object_as`, `is_cap_revocable`, `mask_cap_rights`, `update_cap_data`).

use core::fmt;

use crate::arch::PtKind;

pub use abi::CapRights;
pub use abi::WORD_BITS;

/// log2 of the size of a slot (`seL4_SlotBits`).
pub const SLOT_BITS: u8 = abi::object::bits::SLOT;
/// log2 of the size of a TCB block (`seL4_TCBBits`).
pub const TCB_BITS: u8 = abi::object::bits::TCB;
/// log2 of the size of an endpoint (`seL4_EndpointBits`).
pub const ENDPOINT_BITS: u8 = abi::object::bits::ENDPOINT;
/// log2 of the size of a notification (`seL4_NotificationBits`).
pub const NOTIFICATION_BITS: u8 = abi::object::bits::NOTIFICATION;
/// Smallest untyped (`seL4_MinUntypedBits`); the free index counts in these units.
pub const MIN_UNTYPED_BITS: u8 = abi::object::bits::MIN_UNTYPED;
/// Largest untyped (`seL4_MaxUntypedBits`, x86_64's: the larger of the two arches').
pub const MAX_UNTYPED_BITS: u8 = abi::x86_64::MAX_UNTYPED_BITS;
/// log2 of a small frame (4 KiB).
pub const PAGE_BITS: u8 = abi::object::bits::PAGE;
/// log2 of a large frame (2 MiB).
pub const LARGE_PAGE_BITS: u8 = abi::object::bits::LARGE_PAGE;
/// Slots in a TCB's own CNode (`tcbCNodeEntries`: CTable, VTable, Reply, Caller, IPC buffer).
pub const TCB_CNODE_ENTRIES: u64 = 5;

/// A kernel object's physical address: the typed reference caps hold.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ObjPtr(pub u64);

impl fmt::Debug for ObjPtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "obj@{:#x}", self.0)
    }
}

/// A slot's physical address (a `cte_t *` in seL4): slot `i` of a CNode at `p` is `p + i << 5`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SlotRef(pub u64);

impl SlotRef {
    /// Slot `index` of the CNode (or TCB) whose slots start at `base`.
    pub const fn of(base: ObjPtr, index: u64) -> SlotRef {
        SlotRef(base.0.wrapping_add(index << SLOT_BITS))
    }
}

impl fmt::Debug for SlotRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot@{:#x}", self.0)
    }
}

/// What a Zombie is the remains of: a CNode of some radix, or a TCB (`ZombieType_ZombieTCB`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ZombieType {
    /// A CNode of this radix.
    CNode(u8),
    /// A TCB: its CNode part has [`TCB_CNODE_ENTRIES`] slots.
    Tcb,
}

/// A capability: seL4's kinds, one variant each. Arch caps: frames, paging structures, ASID
/// control and pools, and x86_64's I/O port control and I/O ports.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Cap {
    /// The empty slot.
    #[default]
    Null,
    /// Untyped memory `[ptr, ptr + 2^size_bits)`; `free_index` counts 16-byte units in use.
    Untyped {
        /// Base address (aligned to the size).
        ptr: u64,
        /// log2 of the size.
        size_bits: u8,
        /// The watermark, in units of 2^[`MIN_UNTYPED_BITS`] bytes (seL4's `capFreeIndex`).
        free_index: u64,
        /// Device memory (only frames and untypeds may be made from it).
        is_device: bool,
    },
    /// An endpoint, with its badge and rights.
    Endpoint {
        /// The endpoint.
        ptr: ObjPtr,
        /// The badge (0: unbadged).
        badge: u64,
        /// Send = write, receive = read, grant, grant-reply.
        rights: CapRights,
    },
    /// A notification, with its badge and rights.
    Notification {
        /// The notification.
        ptr: ObjPtr,
        /// The badge (0: unbadged).
        badge: u64,
        /// Send = write, receive = read.
        rights: CapRights,
    },
    /// A reply cap to a thread (non-MCS).
    Reply {
        /// The thread to reply to.
        tcb: ObjPtr,
        /// The master reply cap (lives in the thread's own reply slot).
        master: bool,
        /// May grant.
        can_grant: bool,
    },
    /// A CNode with its radix and guard.
    CNode {
        /// The CNode (its slot 0).
        ptr: ObjPtr,
        /// log2 of the number of slots.
        radix: u8,
        /// The guard value.
        guard: u64,
        /// The guard size in bits.
        guard_size: u8,
    },
    /// A thread (TCB).
    Thread {
        /// The TCB block (its slot 0).
        ptr: ObjPtr,
    },
    /// The authority to make IRQ handler caps.
    IrqControl,
    /// The authority over one IRQ.
    IrqHandler {
        /// The IRQ number.
        irq: u16,
    },
    /// What is left of a CNode or TCB being deleted: its first `number` slots may still hold caps.
    Zombie {
        /// The object's slot 0.
        ptr: ObjPtr,
        /// How many slots (from 0) may still hold caps.
        number: u64,
        /// What kind of object.
        kind: ZombieType,
    },
    /// The domain cap.
    Domain,
    /// A frame of memory (arch cap).
    Frame {
        /// The frame.
        ptr: ObjPtr,
        /// log2 of the size ([`PAGE_BITS`], [`LARGE_PAGE_BITS`] or 30).
        size_bits: u8,
        /// Read/write rights for mappings.
        rights: CapRights,
        /// Device memory.
        is_device: bool,
        /// Where this cap mapped it (`capFMappedASID`, `capFMappedAddress`).
        mapped: Option<Mapping>,
    },
    /// A paging structure (arch cap): x86_64's `cap_pml4_cap`, `cap_pdpt_cap`,
    /// `cap_page_directory_cap`, `cap_page_table_cap`; riscv64's `cap_page_table_cap`.
    PageTable {
        /// The structure.
        ptr: ObjPtr,
        /// Which kind (level) of structure.
        kind: PtKind,
        /// Where it is mapped (a VSpace root: its ASID, address 0).
        mapped: Option<Mapping>,
    },
    /// The authority to make ASID pools (`cap_asid_control_cap`).
    AsidControl,
    /// An ASID pool (`cap_asid_pool_cap`).
    AsidPool {
        /// The pool.
        ptr: ObjPtr,
        /// Its first ASID (`capASIDBase`).
        asid_base: u64,
    },
    /// x86_64: the authority to make I/O port caps (`cap_io_port_control_cap`).
    IoPortControl,
    /// x86_64: the I/O ports `first..=last` (`cap_io_port_cap`).
    IoPort {
        /// The first port.
        first: u16,
        /// The last port (at least `first`).
        last: u16,
    },
}

/// Where a frame or paging structure is mapped: seL4's mapped ASID and mapped address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Mapping {
    /// The ASID of the VSpace.
    pub asid: u64,
    /// The virtual address (of the page, or the first address the table covers).
    pub vaddr: u64,
}

/// `MASK(bits)`, total for 0..=64.
pub const fn mask(bits: u64) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

impl Cap {
    /// A fresh, unbadged, all-rights endpoint cap.
    pub const fn endpoint(ptr: ObjPtr) -> Cap {
        Cap::Endpoint { ptr, badge: 0, rights: CapRights::ALL }
    }

    /// A CNode cap without guard.
    pub const fn cnode(ptr: ObjPtr, radix: u8) -> Cap {
        Cap::CNode { ptr, radix, guard: 0, guard_size: 0 }
    }

    /// Whether this is the null cap.
    pub const fn is_null(&self) -> bool {
        matches!(self, Cap::Null)
    }

    /// Whether this is an arch cap (`isArchCap`).
    pub const fn is_arch(&self) -> bool {
        matches!(
            self,
            Cap::Frame { .. }
                | Cap::PageTable { .. }
                | Cap::AsidControl
                | Cap::AsidPool { .. }
                | Cap::IoPortControl
                | Cap::IoPort { .. }
        )
    }

    /// `cap_get_capIsPhysical`: whether the cap names memory.
    pub const fn is_physical(&self) -> bool {
        matches!(
            self,
            Cap::Untyped { .. }
                | Cap::Endpoint { .. }
                | Cap::Notification { .. }
                | Cap::CNode { .. }
                | Cap::Thread { .. }
                | Cap::Zombie { .. }
                | Cap::Frame { .. }
                | Cap::PageTable { .. }
                | Cap::AsidPool { .. }
        )
    }

    /// `cap_get_capPtr`: the base address of the memory the cap names (0 if none).
    pub const fn ptr(&self) -> u64 {
        match *self {
            Cap::Untyped { ptr, .. } => ptr,
            Cap::Endpoint { ptr, .. }
            | Cap::Notification { ptr, .. }
            | Cap::CNode { ptr, .. }
            | Cap::Thread { ptr }
            | Cap::Zombie { ptr, .. }
            | Cap::Frame { ptr, .. }
            | Cap::PageTable { ptr, .. }
            | Cap::AsidPool { ptr, .. } => ptr.0,
            Cap::Reply { tcb, .. } => tcb.0,
            _ => 0,
        }
    }

    /// `cap_get_capSizeBits`: log2 of the size of the memory the cap names (0 if none).
    pub const fn size_bits(&self) -> u64 {
        match *self {
            Cap::Untyped { size_bits, .. } => size_bits as u64,
            Cap::Endpoint { .. } => ENDPOINT_BITS as u64,
            Cap::Notification { .. } => NOTIFICATION_BITS as u64,
            Cap::CNode { radix, .. } => radix as u64 + SLOT_BITS as u64,
            Cap::Thread { .. } => TCB_BITS as u64,
            Cap::Zombie { kind: ZombieType::Tcb, .. } => TCB_BITS as u64,
            Cap::Zombie { kind: ZombieType::CNode(r), .. } => r as u64 + SLOT_BITS as u64,
            Cap::Frame { size_bits, .. } => size_bits as u64,
            Cap::PageTable { .. } => crate::arch::PAGE_TABLE_BITS as u64,
            Cap::AsidPool { .. } => crate::arch::ASID_POOL_BITS as u64,
            _ => 0,
        }
    }

    /// seL4's cap type tag for this cap (`cap_get_capType`), which `seL4_DebugCapIdentify`
    /// returns ([`abi::cap_type`]).
    pub const fn type_tag(&self) -> u64 {
        use abi::cap_type as t;
        match *self {
            Cap::Null => t::NULL,
            Cap::Untyped { .. } => t::UNTYPED,
            Cap::Endpoint { .. } => t::ENDPOINT,
            Cap::Notification { .. } => t::NOTIFICATION,
            Cap::Reply { .. } => t::REPLY,
            Cap::CNode { .. } => t::CNODE,
            Cap::Thread { .. } => t::THREAD,
            Cap::IrqControl => t::IRQ_CONTROL,
            Cap::IrqHandler { .. } => t::IRQ_HANDLER,
            Cap::Zombie { .. } => t::ZOMBIE,
            Cap::Domain => t::DOMAIN,
            Cap::Frame { .. } => t::FRAME,
            Cap::PageTable { kind, .. } => match kind {
                crate::arch::PtKind::Pml4 => t::x86_64::PML4,
                crate::arch::PtKind::Pdpt => t::x86_64::PDPT,
                crate::arch::PtKind::PageDirectory => t::x86_64::PAGE_DIRECTORY,
                crate::arch::PtKind::PageTable | crate::arch::PtKind::Riscv => t::PAGE_TABLE,
            },
            Cap::AsidControl => t::ASID_CONTROL,
            Cap::AsidPool { .. } => t::ASID_POOL,
            Cap::IoPortControl => t::x86_64::IO_PORT_CONTROL,
            Cap::IoPort { .. } => t::x86_64::IO_PORT,
        }
    }

    /// The badge of an endpoint or notification cap (0 for any other cap).
    pub const fn badge(&self) -> u64 {
        match *self {
            Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } => badge,
            _ => 0,
        }
    }
}

/// `sameRegionAs`: whether `b` names memory (or authority) within what `a` names.
pub fn same_region_as(a: &Cap, b: &Cap) -> bool {
    match *a {
        Cap::Untyped { ptr, size_bits, .. } => {
            if !b.is_physical() {
                return false;
            }
            let a_base = ptr;
            let b_base = b.ptr();
            let a_top = a_base.wrapping_add(mask(size_bits as u64));
            let b_top = b_base.wrapping_add(mask(b.size_bits()));
            a_base <= b_base && b_top <= a_top && b_base <= b_top
        }
        Cap::Endpoint { ptr, .. } => matches!(*b, Cap::Endpoint { ptr: p, .. } if p == ptr),
        Cap::Notification { ptr, .. } => matches!(*b, Cap::Notification { ptr: p, .. } if p == ptr),
        Cap::CNode { ptr, radix, .. } => {
            matches!(*b, Cap::CNode { ptr: p, radix: r, .. } if p == ptr && r == radix)
        }
        Cap::Thread { ptr } => matches!(*b, Cap::Thread { ptr: p } if p == ptr),
        Cap::Reply { tcb, .. } => matches!(*b, Cap::Reply { tcb: t, .. } if t == tcb),
        Cap::Domain => matches!(b, Cap::Domain),
        Cap::IrqControl => matches!(b, Cap::IrqControl | Cap::IrqHandler { .. }),
        Cap::IrqHandler { irq } => matches!(*b, Cap::IrqHandler { irq: i } if i == irq),
        Cap::Frame { ptr, size_bits, .. } => {
            // Arch_sameRegionAs for frames: b's frame lies inside a's.
            match *b {
                Cap::Frame { ptr: bp, size_bits: bs, .. } => {
                    let a_top = ptr.0 + mask(size_bits as u64);
                    let b_top = bp.0 + mask(bs as u64);
                    ptr.0 <= bp.0 && b_top <= a_top && bp.0 <= b_top
                }
                _ => false,
            }
        }
        Cap::PageTable { ptr, .. } => matches!(*b, Cap::PageTable { ptr: p, .. } if p == ptr),
        Cap::AsidControl => matches!(b, Cap::AsidControl),
        Cap::AsidPool { ptr, .. } => matches!(*b, Cap::AsidPool { ptr: p, .. } if p == ptr),
        Cap::IoPortControl => matches!(b, Cap::IoPortControl | Cap::IoPort { .. }),
        Cap::IoPort { first, last } => {
            matches!(*b, Cap::IoPort { first: f, last: l } if f == first && l == last)
        }
        Cap::Null | Cap::Zombie { .. } => false,
    }
}

/// `sameObjectAs`: like [`same_region_as`], but an untyped is never the same object as anything.
pub fn same_object_as(a: &Cap, b: &Cap) -> bool {
    match (a, b) {
        (Cap::Untyped { .. }, _) => false,
        (Cap::IrqControl, Cap::IrqHandler { .. }) | (Cap::IoPortControl, Cap::IoPort { .. }) => false,
        (
            Cap::Frame { ptr, size_bits, is_device, .. },
            Cap::Frame { ptr: bp, size_bits: bs, is_device: bd, .. },
        ) => ptr == bp && size_bits == bs && is_device == bd,
        _ => same_region_as(a, b),
    }
}

/// `isCapRevocable`: whether a cap derived from `src` starts a new subtree (is revocable).
pub fn is_cap_revocable(derived: &Cap, src: &Cap) -> bool {
    match derived {
        Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } => *badge != src.badge(),
        Cap::IrqHandler { .. } => matches!(src, Cap::IrqControl),
        Cap::IoPort { .. } => matches!(src, Cap::IoPortControl),
        Cap::Untyped { .. } => true,
        _ => false,
    }
}

/// `maskCapRights`: the cap with only the rights also in `rights`.
pub fn mask_cap_rights(rights: CapRights, cap: &Cap) -> Cap {
    match *cap {
        Cap::Endpoint { ptr, badge, rights: r } => Cap::Endpoint { ptr, badge, rights: r.and(rights) },
        Cap::Notification { ptr, badge, rights: r } => {
            let r = CapRights { grant: false, grant_reply: false, ..r.and(rights) };
            Cap::Notification { ptr, badge, rights: r }
        }
        Cap::Reply { tcb, master, can_grant } => {
            Cap::Reply { tcb, master, can_grant: can_grant && rights.grant }
        }
        Cap::Frame { ptr, size_bits, rights: r, is_device, mapped } => {
            Cap::Frame { ptr, size_bits, rights: mask_vm_rights(r, rights), is_device, mapped }
        }
        other => other,
    }
}

/// `maskVMRights`: read/write only; write without read gives no access (`VMKernelOnly`).
pub const fn mask_vm_rights(vm: CapRights, mask: CapRights) -> CapRights {
    let read = vm.read && mask.read;
    let write = read && vm.write && mask.write;
    CapRights { read, write, ..CapRights::NONE }
}

/// `updateCapData`: set a badge (Mint) or a CNode guard; `preserve` (Mutate, Rotate) forbids
/// badging. Returns [`Cap::Null`] when the update is illegal.
pub fn update_cap_data(preserve: bool, data: u64, cap: &Cap) -> Cap {
    match *cap {
        Cap::Endpoint { ptr, badge, rights } => {
            if !preserve && badge == 0 {
                Cap::Endpoint { ptr, badge: data, rights }
            } else {
                Cap::Null
            }
        }
        Cap::Notification { ptr, badge, rights } => {
            if !preserve && badge == 0 {
                Cap::Notification { ptr, badge: data, rights }
            } else {
                Cap::Null
            }
        }
        Cap::CNode { ptr, radix, .. } => {
            let data = abi::CNodeCapData::from_word(data);
            let guard_size = data.guard_size();
            if guard_size + radix as u64 > WORD_BITS {
                Cap::Null
            } else {
                let guard = data.guard() & mask(guard_size);
                Cap::CNode { ptr, radix, guard, guard_size: guard_size as u8 }
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(p: u64, badge: u64) -> Cap {
        Cap::Endpoint { ptr: ObjPtr(p), badge, rights: CapRights::ALL }
    }

    #[test]
    fn untyped_region_contains_objects_inside_it_only() {
        let ut = Cap::Untyped { ptr: 0x1000, size_bits: 12, free_index: 0, is_device: false };
        assert!(same_region_as(&ut, &ep(0x1ff0, 0)));
        assert!(!same_region_as(&ut, &ep(0x2000, 0)));
        assert!(!same_region_as(&ut, &Cap::IrqControl));
        assert!(same_region_as(&ut, &ut));
        assert!(!same_object_as(&ut, &ut), "an untyped is never the same object");
        let big = Cap::cnode(ObjPtr(0x1000), 8); // 8 KiB: sticks out of the 4 KiB untyped
        assert!(!same_region_as(&ut, &big));
    }

    #[test]
    fn same_region_by_kind() {
        assert!(same_region_as(&ep(0x10, 0), &ep(0x10, 5)));
        assert!(!same_region_as(&ep(0x10, 0), &ep(0x20, 0)));
        assert!(!same_region_as(&Cap::cnode(ObjPtr(0x100), 2), &Cap::cnode(ObjPtr(0x100), 3)));
        assert!(same_region_as(&Cap::IrqControl, &Cap::IrqHandler { irq: 3 }));
        assert!(!same_object_as(&Cap::IrqControl, &Cap::IrqHandler { irq: 3 }));
        assert!(!same_region_as(&Cap::IrqHandler { irq: 3 }, &Cap::IrqHandler { irq: 4 }));
        let com1 = Cap::IoPort { first: 0x3f8, last: 0x3ff };
        assert!(same_region_as(&Cap::IoPortControl, &com1));
        assert!(!same_object_as(&Cap::IoPortControl, &com1));
        assert!(same_object_as(&com1, &com1));
        assert!(!same_region_as(&com1, &Cap::IoPort { first: 0x3f8, last: 0x3fe }));
        assert!(is_cap_revocable(&com1, &Cap::IoPortControl));
        assert!(!is_cap_revocable(&com1, &com1));
        let z = Cap::Zombie { ptr: ObjPtr(0x100), number: 4, kind: ZombieType::CNode(2) };
        assert!(!same_region_as(&z, &z));
    }

    #[test]
    fn revocable_when_badge_changes_or_untyped() {
        assert!(is_cap_revocable(&ep(0x10, 7), &ep(0x10, 0)));
        assert!(!is_cap_revocable(&ep(0x10, 0), &ep(0x10, 0)));
        assert!(is_cap_revocable(&Cap::IrqHandler { irq: 1 }, &Cap::IrqControl));
        assert!(!is_cap_revocable(&Cap::Thread { ptr: ObjPtr(0) }, &Cap::Thread { ptr: ObjPtr(0) }));
    }

    #[test]
    fn rights_mask_and_word_encoding() {
        assert_eq!(CapRights::from_word(0xf), CapRights::ALL);
        assert_eq!(CapRights::from_word(2).word(), 2);
        let c = mask_cap_rights(CapRights::from_word(2), &ep(0x10, 0));
        assert_eq!(c, Cap::Endpoint { ptr: ObjPtr(0x10), badge: 0, rights: CapRights::from_word(2) });
        let t = Cap::Thread { ptr: ObjPtr(0x800) };
        assert_eq!(mask_cap_rights(CapRights::NONE, &t), t);
    }

    #[test]
    fn update_cap_data_badges_once_and_sets_guards() {
        assert_eq!(update_cap_data(false, 9, &ep(0x10, 0)).badge(), 9);
        assert_eq!(update_cap_data(false, 9, &ep(0x10, 3)), Cap::Null, "re-badging is illegal");
        assert_eq!(update_cap_data(true, 9, &ep(0x10, 0)), Cap::Null, "mutate may not badge");
        let cn = Cap::cnode(ObjPtr(0x100), 4);
        let g = update_cap_data(true, abi::CNodeCapData::new(0b101, 3).word(), &cn);
        assert_eq!(g, Cap::CNode { ptr: ObjPtr(0x100), radix: 4, guard: 0b101, guard_size: 3 });
        assert_eq!(update_cap_data(true, abi::CNodeCapData::new(0, 61).word(), &cn), Cap::Null);
        assert_eq!(update_cap_data(true, abi::CNodeCapData::new(0, 60).word(), &cn).size_bits(), 9);
        let t = Cap::Thread { ptr: ObjPtr(0x800) };
        assert_eq!(update_cap_data(false, 1, &t), t);
    }
}
