//! Paging-structure invocations as gears, after seL4's `decodeX64PDPTInvocation`,
//! `decodeX64PageDirectoryInvocation`, `decodeX86PageTableInvocation` (x86_64) and
//! `decodeRISCVPageTableInvocation` (riscv64): one decode gear (every check, nothing changed),
//! then a Map or Unmap gear.

use gears::Next;

use crate::arch::ArchExt;
use crate::arch::{Arch, PtKind, level_bits, level_index};
use crate::cap::{Cap, Mapping, ObjPtr, mask};
use crate::cdt::is_final_capability;
use crate::cspace::CSpace;
use crate::error::{LookupFault, SyscallError};
use crate::kernel::{Invocation, Kernel, MapPlan, Request};
use crate::lookup::set_restart;
use crate::machine::{MachineOp, MachineOps};
use crate::object::ObjectStore;
use crate::vspace::{
    AsidTable, Entry, clear_page_table, entry_at, find_vspace_for_asid, lookup_pt_slot, lookup_table,
    store_entry, unmap_page_table,
};

/// `FailedLookup` (not the source) with a lookup fault.
pub(crate) const fn failed_lookup(fault: LookupFault) -> SyscallError {
    SyscallError::FailedLookup { source: false, fault }
}

/// Whether `vaddr` (and a mapping of `size` bytes there, 0 for a table) is in user space, as
/// each arch's decode checks it: x86_64 `vaddr > USER_TOP || vtop > USER_TOP` with
/// `vtop = vaddr + size`; riscv64 `vaddr + size - 1 >= USER_TOP`.
pub fn user_range_ok(arch: Arch, vaddr: u64, size: u64) -> bool {
    match arch {
        Arch::X86_64 => {
            vaddr.checked_add(size).is_some_and(|top| vaddr <= arch.user_top() && top <= arch.user_top())
        }
        Arch::Riscv64 => vaddr.checked_add(size.saturating_sub(1)).is_some_and(|last| last < arch.user_top()),
    }
}

/// The VSpace a Map names (extra cap 0): a valid root (else InvalidCapability 1), its root
/// and ASID.
pub(crate) fn vspace_of(arch: Arch, cap: &Cap) -> Result<(ObjPtr, u64), SyscallError> {
    match *cap {
        Cap::PageTable { ptr, kind, mapped: Some(at) } if kind == arch.root_kind() => Ok((ptr, at.asid)),
        _ => Err(SyscallError::InvalidCapability { cap: 1 }),
    }
}

/// `findVSpaceForASID` as decode uses it: no VSpace is `FailedLookup` (InvalidRoot), another
/// VSpace than the cap's is InvalidCapability 1.
pub(crate) fn check_vspace(
    asids: &AsidTable,
    objects: &ObjectStore,
    asid: u64,
    root: ObjPtr,
) -> Result<(), SyscallError> {
    match find_vspace_for_asid(asids, objects, asid) {
        None => Err(failed_lookup(LookupFault::InvalidRoot)),
        Some(r) if r != root => Err(SyscallError::InvalidCapability { cap: 1 }),
        Some(_) => Ok(()),
    }
}

/// x86_64: where a structure of `level` maps for `vaddr` (already masked), with seL4's checks.
fn plan_x86(
    arch: Arch,
    asids: &AsidTable,
    objects: &ObjectStore,
    vcap: &Cap,
    vaddr: u64,
    level: u8,
    pt: ObjPtr,
) -> Result<(MapPlan, u64), SyscallError> {
    let (root, asid) = vspace_of(arch, vcap)?;
    if !user_range_ok(arch, vaddr, 0) {
        return Err(SyscallError::InvalidArgument { arg: 0 });
    }
    check_vspace(asids, objects, asid, root)?;
    let parent = level + 1;
    let table = lookup_table(objects, root, arch.root_level(), vaddr, parent)
        .map_err(|bits_left| failed_lookup(LookupFault::MissingCapability { bits_left }))?;
    let index = level_index(vaddr, parent);
    if entry_at(objects, table, index).is_some() {
        return Err(SyscallError::DeleteFirst);
    }
    Ok((MapPlan { root, table, index, entry: Entry::Table(pt), vaddr }, asid))
}

/// riscv64: the deepest slot on the path to `vaddr` takes the table, with seL4's checks.
fn plan_riscv(
    arch: Arch,
    asids: &AsidTable,
    objects: &ObjectStore,
    vcap: &Cap,
    vaddr: u64,
    pt: ObjPtr,
) -> Result<(MapPlan, u64), SyscallError> {
    let (root, asid) = match *vcap {
        Cap::PageTable { ptr, mapped: Some(at), .. } => (ptr, at.asid),
        _ => return Err(SyscallError::InvalidCapability { cap: 1 }),
    };
    if !user_range_ok(arch, vaddr, 0) {
        return Err(SyscallError::InvalidArgument { arg: 0 });
    }
    check_vspace(asids, objects, asid, root)?;
    let (table, level) = lookup_pt_slot(objects, root, arch.root_level(), vaddr);
    let index = level_index(vaddr, level);
    if level == 0 || entry_at(objects, table, index).is_some() {
        return Err(SyscallError::DeleteFirst);
    }
    let vaddr = vaddr & !mask(level_bits(level));
    Ok((MapPlan { root, table, index, entry: Entry::Table(pt), vaddr }, asid))
}

gears::code_gear! {
    /// `decodeX64PDPTInvocation` / `decodeX64PageDirectoryInvocation` /
    /// `decodeX86PageTableInvocation` / `decodeRISCVPageTableInvocation`: Unmap needs the final
    /// cap (and, riscv64, not a VSpace root); Map needs an unmapped table, a valid VSpace root,
    /// a user address, and a free entry one level up (a missing level is `FailedLookup`). PML4
    /// caps have no invocations.
    pub fn decode_page_table_invocation(ctx: Kernel; cspace: &CSpace, objects: &ObjectStore, asids: &AsidTable, arch: &Arch, request: &Request, invocation: &mut Invocation) {
        let Some((Cap::PageTable { ptr, kind, mapped }, slot)) = invocation.invoked else {
            return Next::Fail(SyscallError::InvalidCapability { cap: 0 });
        };
        let (map_label, unmap_label) = match (kind, *arch) {
            (PtKind::Pdpt, Arch::X86_64) => (abi::x86_64::label::PDPT_MAP, abi::x86_64::label::PDPT_UNMAP),
            (PtKind::PageDirectory, Arch::X86_64) => (abi::x86_64::label::PAGE_DIRECTORY_MAP, abi::x86_64::label::PAGE_DIRECTORY_UNMAP),
            (PtKind::PageTable, Arch::X86_64) => (abi::x86_64::label::PAGE_TABLE_MAP, abi::x86_64::label::PAGE_TABLE_UNMAP),
            (PtKind::Riscv, Arch::Riscv64) => (abi::riscv64::label::PAGE_TABLE_MAP, abi::riscv64::label::PAGE_TABLE_UNMAP),
            _ => return Next::Fail(SyscallError::IllegalOperation),
        };
        if request.label == unmap_label {
            if !is_final_capability(cspace, slot) {
                return Next::Fail(SyscallError::RevokeFirst);
            }
            if let Some(at) = mapped
                && *arch == Arch::Riscv64
                && find_vspace_for_asid(asids, objects, at.asid) == Some(ptr)
            {
                return Next::Fail(SyscallError::RevokeFirst);
            }
            return Next::Goto(&INVOKE_PAGE_TABLE_UNMAP);
        }
        if request.label != map_label {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let Some(&(vcap, _)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::TruncatedMessage);
        };
        if request.mrs.len() < 2 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        if mapped.is_some() {
            return Next::Fail(SyscallError::InvalidCapability { cap: 0 });
        }
        let planned = match kind.x86_level() {
            Some(level) => {
                let vaddr = request.mr(0) & !mask(level_bits(level + 1));
                plan_x86(*arch, asids, objects, &vcap, vaddr, level, ptr)
            }
            None => plan_riscv(*arch, asids, objects, &vcap, request.mr(0), ptr),
        };
        let (plan, asid) = match planned {
            Ok(p) => p,
            Err(e) => return Next::Fail(e),
        };
        invocation.new_cap = Cap::PageTable { ptr, kind, mapped: Some(Mapping { asid, vaddr: plan.vaddr }) };
        invocation.map = Some(plan);
        Next::Goto(&INVOKE_PAGE_TABLE_MAP)
    }
}

gears::code_gear! {
    /// `performPageTableInvocationMap` (and the PD, PDPT twins): the cap records the mapping,
    /// the entry points to the table, the VSpace's paging-structure caches are flushed.
    pub fn invoke_page_table_map(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, machine: &mut MachineOps, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let (Some((_, slot)), Some(plan)) = (invocation.invoked, invocation.map) {
            cspace.set_cap(slot, invocation.new_cap);
            store_entry(objects, machine, plan.table, plan.index, Some(plan.entry));
            machine.push(MachineOp::Flush { root: plan.root.0, vaddr: None });
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `performPageTableInvocationUnmap` (and the PD, PDPT twins): a mapped table is unmapped
    /// and cleared (`clearMemory`); the cap no longer says mapped.
    pub fn invoke_page_table_unmap(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, asids: &AsidTable, arch: &Arch, machine: &mut MachineOps, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let Some((_, slot)) = invocation.invoked else { return Next::Goto(&crate::lookup::INVOCATION_DONE) };
        if let Cap::PageTable { ptr, kind, mapped } = cspace.cap(slot) {
            if let Some(at) = mapped {
                unmap_page_table(*arch, asids, objects, machine, at, ptr);
                clear_page_table(objects, machine, ptr);
            }
            cspace.set_cap(slot, Cap::PageTable { ptr, kind, mapped: None });
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}
