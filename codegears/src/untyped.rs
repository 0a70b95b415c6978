//! Untyped Retype as gears, after seL4's `src/object/untyped.c`: decode (every check), reset of
//! an untyped without children in preemptible chunks, then one gear per created object.

use abi::{CapRights, label};
use gears::Next;

use crate::arch::ArchExt;
use crate::arch::{Arch, ObjectKind, PAGE_TABLE_BITS};
use crate::cap::{
    Cap, ENDPOINT_BITS, MAX_UNTYPED_BITS, MIN_UNTYPED_BITS, NOTIFICATION_BITS, ObjPtr, SLOT_BITS, SlotRef,
    TCB_BITS, WORD_BITS, mask,
};
use crate::cdt::{ensure_no_children, insert_new_cap};
use crate::cspace::CSpace;
use crate::error::{LookupFault, SyscallError};
use crate::kernel::{Invocation, Kernel, LookupCursor, Request, RetypeCursor};
use crate::lookup::{lookup_slot_for_cnode_op, set_restart};
use crate::mem::PhysMem;
use crate::object::ObjectStore;
use crate::thread::Scheduler;

/// The most objects one Retype may create (`CONFIG_RETYPE_FAN_OUT_LIMIT`).
pub const RETYPE_FAN_OUT_LIMIT: u64 = abi::config::RETYPE_FAN_OUT_LIMIT;
/// log2 of the bytes cleared between two preemption points in a reset (`CONFIG_RESET_CHUNK_BITS`).
pub const RESET_CHUNK_BITS: u64 = 8;

/// `getObjectSize`: log2 of the size of an object of `ty` with user size `user_size` (0 for a
/// type this arch does not have: decode refuses it first).
pub fn get_object_size(arch: Arch, ty: u64, user_size: u64) -> u64 {
    match arch.object_kind(ty) {
        Some(ObjectKind::Generic(abi::object::UNTYPED)) => user_size,
        Some(ObjectKind::Generic(abi::object::TCB)) => TCB_BITS as u64,
        Some(ObjectKind::Generic(abi::object::ENDPOINT)) => ENDPOINT_BITS as u64,
        Some(ObjectKind::Generic(abi::object::NOTIFICATION)) => NOTIFICATION_BITS as u64,
        Some(ObjectKind::Generic(_)) => user_size.saturating_add(SLOT_BITS as u64),
        Some(ObjectKind::Frame(bits)) => bits as u64,
        Some(ObjectKind::PageTable(_)) => PAGE_TABLE_BITS as u64,
        None => 0,
    }
}

fn is_frame_type(arch: Arch, ty: u64) -> bool {
    matches!(arch.object_kind(ty), Some(ObjectKind::Frame(_)))
}

/// `FREE_INDEX_TO_OFFSET`.
pub const fn free_index_to_offset(i: u64) -> u64 {
    i << MIN_UNTYPED_BITS
}

gears::code_gear! {
    /// `decodeUntypedInvocation`, first part: label, length, type and size checks; then the
    /// destination CNode (the root itself at depth 0, else looked up).
    pub fn decode_untyped_invocation(ctx: Kernel; arch: &Arch, request: &Request, invocation: &Invocation, lookup: &mut LookupCursor) {
        if request.label != label::untyped::RETYPE {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let Some(&(root, root_slot)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::TruncatedMessage);
        };
        if request.mrs.len() < 6 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let (ty, user_size, node_index, node_depth) = (request.mr(0), request.mr(1), request.mr(2), request.mr(3));
        if ty >= arch.object_type_count() {
            return Next::Fail(SyscallError::InvalidArgument { arg: 0 });
        }
        let object_size = get_object_size(*arch, ty, user_size);
        if user_size >= WORD_BITS || object_size > MAX_UNTYPED_BITS as u64 {
            return Next::Fail(SyscallError::RangeError { min: 0, max: MAX_UNTYPED_BITS as u64 });
        }
        if ty == abi::object::CAP_TABLE && user_size == 0 {
            return Next::Fail(SyscallError::InvalidArgument { arg: 1 });
        }
        if ty == abi::object::UNTYPED && user_size < MIN_UNTYPED_BITS as u64 {
            return Next::Fail(SyscallError::InvalidArgument { arg: 1 });
        }
        if node_depth == 0 {
            lookup.slot = Some(root_slot);
            lookup.bits_remaining = 0;
            return Next::Goto(&DECODE_UNTYPED_DEST_FOUND);
        }
        match lookup_slot_for_cnode_op(lookup, false, root, node_index, node_depth, Some(&DECODE_UNTYPED_DEST_FOUND)) {
            Ok(()) => Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS),
            Err(e) => Next::Fail(e),
        }
    }
}

gears::code_gear! {
    /// `decodeUntypedInvocation`, second part: the destination window, empty slots, children,
    /// free memory and alignment; then invoke.
    pub fn decode_untyped_dest_found(ctx: Kernel; cspace: &CSpace, arch: &Arch, request: &Request, invocation: &Invocation, lookup: &LookupCursor, retype: &mut RetypeCursor) {
        let node_slot = match lookup.cnode_op_slot() {
            Ok(s) => s,
            Err(e) => return Next::Fail(e),
        };
        let Cap::CNode { ptr: dest_cnode, radix, .. } = cspace.cap(node_slot) else {
            let fault = LookupFault::MissingCapability { bits_left: request.mr(3) };
            return Next::Fail(SyscallError::FailedLookup { source: false, fault });
        };
        let (ty, user_size, node_offset, node_window) = (request.mr(0), request.mr(1), request.mr(4), request.mr(5));
        let node_size = 1u64 << radix;
        if node_offset > node_size - 1 {
            return Next::Fail(SyscallError::RangeError { min: 0, max: node_size - 1 });
        }
        if !(1..=RETYPE_FAN_OUT_LIMIT).contains(&node_window) {
            return Next::Fail(SyscallError::RangeError { min: 1, max: RETYPE_FAN_OUT_LIMIT });
        }
        if node_window > node_size - node_offset {
            return Next::Fail(SyscallError::RangeError { min: 1, max: node_size - node_offset });
        }
        // ensureEmptySlot for each slot of the window: one range query over the sparse slots.
        let first = SlotRef::of(dest_cnode, node_offset);
        let end = SlotRef::of(dest_cnode, node_offset + node_window);
        if cspace.range(first, end).next().is_some() {
            return Next::Fail(SyscallError::DeleteFirst);
        }
        let Some((_, ut_slot)) = invocation.invoked else {
            return Next::Fail(SyscallError::InvalidCapability { cap: 0 });
        };
        let Cap::Untyped { ptr: region_base, size_bits, free_index, is_device } = cspace.cap(ut_slot) else {
            return Next::Fail(SyscallError::InvalidCapability { cap: 0 });
        };
        let (free_index, reset) = match ensure_no_children(cspace, ut_slot) {
            Err(_) => (free_index, false),
            Ok(()) => (0, true),
        };
        let object_size = get_object_size(*arch, ty, user_size);
        let free_bytes = (1u64 << size_bits).saturating_sub(free_index_to_offset(free_index));
        if (free_bytes >> object_size) < node_window {
            return Next::Fail(SyscallError::NotEnoughMemory { available: free_bytes });
        }
        if is_device && !is_frame_type(*arch, ty) && ty != abi::object::UNTYPED {
            return Next::Fail(SyscallError::InvalidArgument { arg: 1 });
        }
        let free_ref = region_base + free_index_to_offset(free_index);
        let base = (free_ref + mask(object_size)) & !mask(object_size);
        *retype = RetypeCursor {
            untyped: Some(ut_slot),
            region_base,
            region_bits: size_bits,
            reset,
            base,
            object_type: ty,
            user_size,
            object_bits: object_size,
            dest_cnode,
            dest_offset: node_offset,
            count: node_window,
            created: 0,
            is_device,
        };
        Next::Goto(&INVOKE_UNTYPED_RETYPE)
    }
}

gears::code_gear! {
    /// `invokeUntyped_Retype`: reset the untyped first if it had no children, else create.
    pub fn invoke_untyped_retype(ctx: Kernel; objects: &mut ObjectStore, request: &Request, retype: &RetypeCursor) {
        set_restart(objects, request.thread);
        if retype.reset { Next::Goto(&RESET_UNTYPED_CAP) } else { Next::Goto(&RETYPE_SET_WATERMARK) }
    }
}

/// What decode established still holds: the slot holds the same untyped region, it has no
/// children, and the destination window is empty. A gear entered across a preemption point under
/// `Mode::Resume` checks this, since another invocation may have run in between.
fn retype_still_valid(cspace: &CSpace, retype: &RetypeCursor) -> bool {
    let Some(slot) = retype.untyped else { return false };
    let same = matches!(cspace.cap(slot), Cap::Untyped { ptr, size_bits, .. }
        if ptr == retype.region_base && size_bits == retype.region_bits);
    let first = SlotRef::of(retype.dest_cnode, retype.dest_offset);
    let end = SlotRef::of(retype.dest_cnode, retype.dest_offset + retype.count);
    same && ensure_no_children(cspace, slot).is_ok() && cspace.range(first, end).next().is_none()
}

/// `clearMemory`: the 2^`bits` bytes at `paddr` read as zero again, in every DataGear's view of
/// memory (the host model keeps slots, object fields and users' frames apart; on the machine they
/// are one RAM, cleared once).
pub(crate) fn clear_memory(
    cspace: &mut CSpace,
    objects: &mut ObjectStore,
    mem: &mut PhysMem,
    paddr: u64,
    bits: u8,
) {
    cspace.clear(ObjPtr(paddr), bits);
    if !mem.is_window() {
        objects.clear(paddr, bits);
        mem.zero(paddr, bits);
    }
}

gears::code_gear! {
    /// `resetUntypedCap`, one chunk: clear the chunk below the watermark and lower the watermark
    /// past it, then cross a preemption point. Progress is the cap's free index, so a restarted
    /// retype continues here.
    pub fn reset_untyped_cap(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, mem: &mut PhysMem, retype: &RetypeCursor) {
        let Some(slot) = retype.untyped else { return Next::Goto(&RETYPE_SET_WATERMARK) };
        if !retype_still_valid(cspace, retype) {
            // Resumed after another operation changed what decode checked: decode again, as a
            // Restart would (seL4 always re-runs the system call).
            return Next::Goto(&crate::lookup::HANDLE_INVOCATION);
        }
        let Cap::Untyped { ptr, size_bits, free_index, is_device } = cspace.cap(slot) else {
            return Next::Goto(&RETYPE_SET_WATERMARK);
        };
        let offset = free_index_to_offset(free_index);
        if offset == 0 {
            return Next::Goto(&RETYPE_SET_WATERMARK);
        }
        if is_device || (size_bits as u64) < RESET_CHUNK_BITS {
            // Small or device: cleared (or not) at once.
            if !is_device {
                clear_memory(cspace, objects, mem, ptr, size_bits);
            }
            cspace.set_cap(slot, Cap::Untyped { ptr, size_bits, free_index: 0, is_device });
            return Next::Goto(&RETYPE_SET_WATERMARK);
        }
        let chunk_start = (offset - 1) & !mask(RESET_CHUNK_BITS);
        clear_memory(cspace, objects, mem, ptr + chunk_start, RESET_CHUNK_BITS as u8);
        let free_index = chunk_start >> MIN_UNTYPED_BITS;
        cspace.set_cap(slot, Cap::Untyped { ptr, size_bits, free_index, is_device });
        Next::Preempt(&RESET_UNTYPED_CAP)
    }
}

gears::code_gear! {
    /// Raise the watermark past the new objects.
    pub fn retype_set_watermark(ctx: Kernel; cspace: &mut CSpace, retype: &mut RetypeCursor) {
        let Some(slot) = retype.untyped else { return Next::Goto(&crate::lookup::INVOCATION_DONE) };
        if let Cap::Untyped { ptr, size_bits, is_device, .. } = cspace.cap(slot) {
            let free_ref = retype.base + (retype.count << retype.object_bits);
            let free_index = (free_ref - ptr) >> MIN_UNTYPED_BITS;
            cspace.set_cap(slot, Cap::Untyped { ptr, size_bits, free_index, is_device });
        }
        retype.created = 0;
        Next::Goto(&CREATE_NEW_OBJECTS)
    }
}

gears::code_gear! {
    /// `createNewObjects`, one object: its cap after the untyped's. Its memory reads as zero
    /// already, which is each object's fresh state: memory above an untyped's watermark is zero
    /// (boot clears the untypeds, a reset what it reclaims), so a retype clears nothing, as in
    /// seL4, and its cost does not grow with the objects' size.
    pub fn create_new_objects(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, arch: &Arch, retype: &mut RetypeCursor) {
        let (Some(parent), true) = (retype.untyped, retype.created < retype.count) else {
            return Next::Goto(&crate::lookup::INVOCATION_DONE);
        };
        let i = retype.created;
        let addr = retype.base + (i << retype.object_bits);
        let ptr = ObjPtr(addr);
        let user = retype.user_size as u8;
        let cap = match arch.object_kind(retype.object_type) {
            Some(ObjectKind::Frame(size_bits)) => {
                Cap::Frame { ptr, size_bits, rights: CapRights::ALL, is_device: retype.is_device, mapped: None }
            }
            Some(ObjectKind::PageTable(kind)) => Cap::PageTable { ptr, kind, mapped: None },
            _ => match retype.object_type {
            abi::object::UNTYPED => {
                Cap::Untyped { ptr: addr, size_bits: user, free_index: 0, is_device: retype.is_device }
            }
            abi::object::TCB => {
                crate::thread::tcb_debug_append(objects, sched, ptr);
                Cap::Thread { ptr }
            }
            abi::object::ENDPOINT => Cap::endpoint(ptr),
            abi::object::NOTIFICATION => Cap::Notification { ptr, badge: 0, rights: CapRights::ALL },
            // seL4_CapTableObject.
            _ => Cap::cnode(ptr, user),
            },
        };
        insert_new_cap(cspace, parent, SlotRef::of(retype.dest_cnode, retype.dest_offset + i), cap);
        retype.created += 1;
        Next::Goto(&CREATE_NEW_OBJECTS)
    }
}
