//! Frame (page) invocations as gears, after seL4's `decodeX86FrameInvocation` (x86_64) and
//! `decodeRISCVFrameInvocation` (riscv64): Map, Unmap, GetAddress.

use abi::{CapRights, MessageInfo};

use gears::Next;

use crate::arch::ArchExt;
use crate::arch::{Arch, level_bits, level_index, page_level};
use crate::cap::{Cap, Mapping, ObjPtr, mask, mask_vm_rights};
use crate::cspace::CSpace;
use crate::error::{LookupFault, SyscallError};
use crate::kernel::{Invocation, Kernel, MapPlan, Request};
use crate::lookup::set_restart;
use crate::machine::{MachineOp, MachineOps};
use crate::object::ObjectStore;
use crate::page_table::{check_vspace, failed_lookup, user_range_ok, vspace_of};

use crate::vspace::{AsidTable, Entry, entry_at, lookup_pt_slot, lookup_table, store_entry, unmap_page};

/// The frame cap being mapped, as decode reads it.
#[derive(Clone, Copy)]
struct FrameMap {
    ptr: ObjPtr,
    size_bits: u8,
    mapped: Option<Mapping>,
    vaddr: u64,
}

/// A remap (same ASID and address) may rewrite the entry of this very frame; anything else
/// present is DeleteFirst. (seL4's x86_64 overwrites a 4 KiB entry without looking, and a
/// 2 MiB one unless a page table is there; here two caps never map one entry.)
fn entry_free_for(
    objects: &ObjectStore,
    table: ObjPtr,
    index: u16,
    f: &FrameMap,
) -> Result<(), SyscallError> {
    match entry_at(objects, table, index) {
        None => Ok(()),
        Some(Entry::Page { frame, .. }) if f.mapped.is_some() && frame == f.ptr => Ok(()),
        Some(_) => Err(SyscallError::DeleteFirst),
    }
}

/// The mapped-frame checks both arches make: another VSpace is InvalidCapability 1, another
/// address InvalidArgument 0.
fn check_remap(f: &FrameMap, asid: u64) -> Result<(), SyscallError> {
    match f.mapped {
        Some(at) if at.asid != asid => Err(SyscallError::InvalidCapability { cap: 1 }),
        Some(at) if at.vaddr != f.vaddr => Err(SyscallError::InvalidArgument { arg: 0 }),
        _ => Ok(()),
    }
}

/// x86_64 `X86PageMap`'s checks, in seL4's order; the table and index of the entry.
fn plan_x86(
    arch: Arch,
    asids: &AsidTable,
    objects: &ObjectStore,
    vcap: &Cap,
    f: &FrameMap,
) -> Result<(ObjPtr, u64, ObjPtr, u16), SyscallError> {
    let (root, asid) = vspace_of(arch, vcap)?;
    if f.mapped.is_some() {
        check_remap(f, asid)?;
    } else if !user_range_ok(arch, f.vaddr, 1u64 << f.size_bits) {
        return Err(SyscallError::InvalidArgument { arg: 0 });
    }
    check_vspace(asids, objects, asid, root)?;
    if f.vaddr & mask(f.size_bits as u64) != 0 {
        return Err(SyscallError::AlignmentError);
    }
    let level = page_level(f.size_bits);
    let table = lookup_table(objects, root, arch.root_level(), f.vaddr, level)
        .map_err(|bits_left| failed_lookup(LookupFault::MissingCapability { bits_left }))?;
    let index = level_index(f.vaddr, level);
    entry_free_for(objects, table, index, f)?;
    Ok((root, asid, table, index))
}

/// riscv64 `RISCVPageMap`'s checks, in seL4's order; the table and index of the entry.
fn plan_riscv(
    arch: Arch,
    asids: &AsidTable,
    objects: &ObjectStore,
    vcap: &Cap,
    f: &FrameMap,
) -> Result<(ObjPtr, u64, ObjPtr, u16), SyscallError> {
    let (root, asid) = match *vcap {
        Cap::PageTable { ptr, mapped: Some(at), .. } => (ptr, at.asid),
        _ => return Err(SyscallError::InvalidCapability { cap: 1 }),
    };
    check_vspace(asids, objects, asid, root)?;
    if !user_range_ok(arch, f.vaddr, 1u64 << f.size_bits) {
        return Err(SyscallError::InvalidArgument { arg: 0 });
    }
    if f.vaddr & mask(f.size_bits as u64) != 0 {
        return Err(SyscallError::AlignmentError);
    }
    let (table, level) = lookup_pt_slot(objects, root, arch.root_level(), f.vaddr);
    if level_bits(level) != f.size_bits as u64 {
        return Err(failed_lookup(LookupFault::MissingCapability { bits_left: level_bits(level) }));
    }
    check_remap(f, asid)?;
    let index = level_index(f.vaddr, level);
    entry_free_for(objects, table, index, f)?;
    Ok((root, asid, table, index))
}

gears::code_gear! {
    /// `decodeX86FrameInvocation` / `decodeRISCVFrameInvocation`: dispatch on the label; Map's
    /// checks (message length, a valid VSpace root, the mapped-frame cases, a user address,
    /// alignment, the walk to the entry's level, a free entry) and its entry with the rights
    /// masked by `maskVMRights`.
    pub fn decode_frame_invocation(ctx: Kernel; objects: &ObjectStore, asids: &AsidTable, arch: &Arch, request: &Request, invocation: &mut Invocation) {
        let Some((Cap::Frame { ptr, size_bits, rights, is_device, mapped }, _)) = invocation.invoked else {
            return Next::Fail(SyscallError::InvalidCapability { cap: 0 });
        };
        let labels = arch.labels();
        if request.label == labels.page_unmap {
            return Next::Goto(&INVOKE_PAGE_UNMAP);
        }
        if request.label == labels.page_get_address {
            return Next::Goto(&INVOKE_PAGE_GET_ADDRESS);
        }
        if request.label != labels.page_map {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let Some(&(vcap, _)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::TruncatedMessage);
        };
        if request.mrs.len() < 3 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let f = FrameMap { ptr, size_bits, mapped, vaddr: request.mr(0) };
        let planned = match arch {
            Arch::X86_64 => plan_x86(*arch, asids, objects, &vcap, &f),
            Arch::Riscv64 => plan_riscv(*arch, asids, objects, &vcap, &f),
        };
        let (root, asid, table, index) = match planned {
            Ok(p) => p,
            Err(e) => return Next::Fail(e),
        };
        let vm = mask_vm_rights(rights, CapRights::from_word(request.mr(1)));
        // x86_64 mappings are executable; riscv64's attribute bit 0 is `riscvExecuteNever`.
        let exec = *arch == Arch::X86_64 || request.mr(2) & 1 == 0;
        let entry = Entry::Page { frame: ptr, size_bits, rights: vm, exec };
        invocation.map = Some(MapPlan { root, table, index, entry, vaddr: f.vaddr });
        invocation.new_cap = Cap::Frame { ptr, size_bits, rights, is_device, mapped: Some(Mapping { asid, vaddr: f.vaddr }) };
        Next::Goto(&INVOKE_PAGE_MAP)
    }
}

gears::code_gear! {
    /// `performPageInvocationMapPTE` (and the PDE, PDPTE twins): the cap records the mapping,
    /// the entry maps the frame, the address is flushed.
    pub fn invoke_page_map(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, machine: &mut MachineOps, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let (Some((_, slot)), Some(plan)) = (invocation.invoked, invocation.map) {
            cspace.set_cap(slot, invocation.new_cap);
            store_entry(objects, machine, plan.table, plan.index, Some(plan.entry));
            machine.push(MachineOp::Flush { root: plan.root.0, vaddr: Some(plan.vaddr) });
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `performPageInvocationUnmap`: a mapped frame is unmapped (`unmapPage`, if its entry is
    /// still there); the cap no longer says mapped.
    pub fn invoke_page_unmap(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, asids: &AsidTable, arch: &Arch, machine: &mut MachineOps, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let Some((_, slot)) = invocation.invoked else { return Next::Goto(&crate::lookup::INVOCATION_DONE) };
        if let Cap::Frame { ptr, size_bits, rights, is_device, mapped } = cspace.cap(slot) {
            if let Some(at) = mapped {
                unmap_page(*arch, asids, objects, machine, size_bits, at, ptr);
            }
            cspace.set_cap(slot, Cap::Frame { ptr, size_bits, rights, is_device, mapped: None });
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `performPageGetAddress`: a `seL4_Call` gets the frame's physical address in MR0 (the
    /// badge register as it was); the caller runs on.
    pub fn invoke_page_get_address(ctx: Kernel; objects: &mut ObjectStore, arch: &Arch, request: &Request, invocation: &Invocation) {
        { let mut t = objects.tcb_mut(request.thread);
            if let (true, Some((cap, _))) = (request.is_call, invocation.invoked) {
                t.registers[arch.syscall_registers().msg[0]] = cap.ptr();
                t.set_msg_info(*arch, MessageInfo::new(0, 0, 0, 1));
            }
            if t.state == crate::object::ThreadState::Restart {
                t.state = crate::object::ThreadState::Running;
            }
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}
