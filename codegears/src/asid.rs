//! ASID invocations as gears, after the ASID cases of seL4's `decodeX86MMUInvocation` and
//! `decodeRISCVMMUInvocation`: ASIDPool Assign (a VSpace root gets the pool's first free ASID)
//! and ASIDControl MakePool (a 4 KiB untyped becomes the next pool).

use gears::Next;

use crate::arch::ArchExt;
use crate::arch::{ASID_LOW_BITS, ASID_POOL_BITS, Arch};
use crate::cap::{Cap, MIN_UNTYPED_BITS, Mapping, ObjPtr};
use crate::cdt::{cte_insert, ensure_no_children};
use crate::cspace::CSpace;
use crate::error::{LookupFault, SyscallError};
use crate::kernel::{Invocation, Kernel, LookupCursor, Request};
use crate::lookup::{lookup_slot_for_cnode_op, set_restart};
use crate::machine::{MachineOp, MachineOps};
use crate::object::ObjectStore;
use crate::page_table::failed_lookup;
use crate::vspace::{AsidTable, asid_high, asid_low};

gears::code_gear! {
    /// The ASIDPool case of `decodeX86MMUInvocation` / `decodeRISCVMMUInvocation`: extra cap 0
    /// must be a VSpace root without an ASID (InvalidCapability 1), the pool still in the ASID
    /// table (else `FailedLookup`, InvalidRoot) as this cap's (InvalidCapability 0), and have a
    /// free ASID (ASID 0 is never given; else DeleteFirst).
    pub fn decode_asid_pool_invocation(ctx: Kernel; objects: &ObjectStore, asids: &AsidTable, arch: &Arch, request: &Request, invocation: &mut Invocation) {
        let Some((Cap::AsidPool { ptr, asid_base }, _)) = invocation.invoked else {
            return Next::Fail(SyscallError::InvalidCapability { cap: 0 });
        };
        if request.label != arch.labels().asid_pool_assign {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let Some(&(vcap, vslot)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::TruncatedMessage);
        };
        let Cap::PageTable { ptr: root, kind, mapped: None } = vcap else {
            return Next::Fail(SyscallError::InvalidCapability { cap: 1 });
        };
        if kind != arch.root_kind() {
            return Next::Fail(SyscallError::InvalidCapability { cap: 1 });
        }
        let Some(pool) = asid_high(asid_base).and_then(|h| asids.pools.get(&h).copied()) else {
            return Next::Fail(failed_lookup(LookupFault::InvalidRoot));
        };
        if pool != ptr {
            return Next::Fail(SyscallError::InvalidCapability { cap: 0 });
        }
        // The first free ASID: at most 512 tests, as seL4's loop.
        let free = (0..1u64 << ASID_LOW_BITS)
            .find(|&i| asid_base + i != 0 && objects.asid_pool_entry(pool, asid_low(asid_base + i)).is_none());
        let Some(i) = free else { return Next::Fail(SyscallError::DeleteFirst) };
        invocation.dest = Some(vslot);
        invocation.new_cap = Cap::PageTable { ptr: root, kind, mapped: Some(Mapping { asid: asid_base + i, vaddr: 0 }) };
        Next::Goto(&INVOKE_ASID_POOL_ASSIGN)
    }
}

gears::code_gear! {
    /// `performASIDPoolInvocation`: the root's cap records its ASID, the pool names the root,
    /// and the root gets the kernel's global mappings (`copyGlobalMappings`).
    pub fn invoke_asid_pool_assign(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, machine: &mut MachineOps, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let (Some(slot), Some((Cap::AsidPool { ptr: pool, .. }, _)), Cap::PageTable { ptr: root, mapped: Some(at), .. }) =
            (invocation.dest, invocation.invoked, invocation.new_cap)
        {
            cspace.set_cap(slot, invocation.new_cap);
            objects.set_asid_pool_entry(pool, asid_low(at.asid), Some(root));
            machine.push(MachineOp::CopyGlobalMappings { root: root.0 });
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// The ASIDControl case of `decodeX86MMUInvocation` / `decodeRISCVMMUInvocation`, first
    /// part: the label, the message (index and depth of the destination, the untyped and the
    /// destination CNode as extra caps), a free pool (else DeleteFirst), a non-device 4 KiB
    /// untyped (InvalidCapability 1) without children; then the destination lookup.
    pub fn decode_asid_control_invocation(ctx: Kernel; cspace: &CSpace, asids: &AsidTable, arch: &Arch, request: &Request, invocation: &Invocation, lookup: &mut LookupCursor) {
        if request.label != arch.labels().asid_control_make_pool {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        if request.mrs.len() < 2 || invocation.extra_caps.len() < 2 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        // The first free pool: at most `nASIDPools` tests, as seL4's loop.
        if (0..arch.asid_pools()).all(|i| asids.pools.contains_key(&(i as u16))) {
            return Next::Fail(SyscallError::DeleteFirst);
        }
        let (untyped, ut_slot) = invocation.extra_caps[0];
        if !matches!(untyped, Cap::Untyped { size_bits: ASID_POOL_BITS, is_device: false, .. }) {
            return Next::Fail(SyscallError::InvalidCapability { cap: 1 });
        }
        if let Err(e) = ensure_no_children(cspace, ut_slot) {
            return Next::Fail(e);
        }
        let root = invocation.extra_caps[1].0;
        match lookup_slot_for_cnode_op(lookup, false, root, request.mr(0), request.mr(1), Some(&DECODE_ASID_CONTROL_DEST_FOUND)) {
            Ok(()) => Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS),
            Err(e) => Next::Fail(e),
        }
    }
}

gears::code_gear! {
    /// MakePool's decode, second part: the destination slot must be empty.
    pub fn decode_asid_control_dest_found(ctx: Kernel; cspace: &CSpace, lookup: &LookupCursor, invocation: &mut Invocation) {
        let slot = match lookup.empty_target_slot(cspace) {
            Ok(s) => s,
            Err(e) => return Next::Fail(e),
        };
        invocation.dest = Some(slot);
        Next::Goto(&INVOKE_ASID_CONTROL_MAKE_POOL)
    }
}

gears::code_gear! {
    /// `performASIDControlInvocation`: the untyped is marked full, its memory cleared and made
    /// the pool of the first free ASID range; the pool's cap goes in the destination, a CDT child
    /// of the untyped.
    pub fn invoke_asid_control_make_pool(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, asids: &mut AsidTable, arch: &Arch, machine: &mut MachineOps, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let (Some(dest), Some(&(_, ut_slot))) = (invocation.dest, invocation.extra_caps.first()) else {
            return Next::Goto(&crate::lookup::INVOCATION_DONE);
        };
        let Some(i) = (0..arch.asid_pools()).find(|i| !asids.pools.contains_key(&(*i as u16))) else {
            return Next::Goto(&crate::lookup::INVOCATION_DONE);
        };
        if let Cap::Untyped { ptr, size_bits, is_device, .. } = cspace.cap(ut_slot) {
            let free_index = 1u64 << size_bits.saturating_sub(MIN_UNTYPED_BITS);
            cspace.set_cap(ut_slot, Cap::Untyped { ptr, size_bits, free_index, is_device });
            // The untyped may have held objects since its last reset: the pool starts empty.
            objects.clear(ptr, ASID_POOL_BITS);
            let asid_base = i << ASID_LOW_BITS;
            cte_insert(cspace, Cap::AsidPool { ptr: ObjPtr(ptr), asid_base }, ut_slot, dest);
            asids.pools.insert(i as u16, ObjPtr(ptr));
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}
