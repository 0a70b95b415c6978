//! CNode invocations as gears, after seL4's `src/object/cnode.c`: decode (checks, lookups, may
//! fail, changes nothing) then invoke (cannot fail, changes state).

use abi::{CapRights, label};
use gears::Next;

use crate::cap::{Cap, ObjPtr, SlotRef, mask_cap_rights, update_cap_data};
use crate::cdt::{cte_insert, cte_move, cte_swap, derive_cap, ensure_empty_slot};
use crate::cspace::CSpace;
use crate::error::{LookupFault, SyscallError};
use crate::kernel::{
    CancelCursor, DeleteCursor, Invocation, Kernel, LookupCursor, Request, RevokeCursor, tcb_slot,
};
use crate::lookup::{lookup_slot_for_cnode_op, set_restart};
use crate::object::ObjectStore;

gears::code_gear! {
    /// `decodeCNodeInvocation`: check the label and length, then look up the target slot
    /// (`index`, `depth` in MR0, MR1).
    pub fn decode_cnode_invocation(ctx: Kernel; request: &Request, invocation: &Invocation, lookup: &mut LookupCursor) {
        if !(label::cnode::REVOKE..=label::cnode::SAVE_CALLER).contains(&request.label) {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        if request.mrs.len() < 2 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let Some((root, _)) = invocation.invoked else { return Next::Fail(SyscallError::InvalidCapability { cap: 0 }) };
        match lookup_slot_for_cnode_op(lookup, false, root, request.mr(0), request.mr(1), Some(&DECODE_CNODE_TARGET_FOUND)) {
            Ok(()) => Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS),
            Err(e) => Next::Fail(e),
        }
    }
}

gears::code_gear! {
    /// The target slot is found: decode per label, looking up a source slot for the copying ops.
    pub fn decode_cnode_target_found(ctx: Kernel; cspace: &CSpace, request: &Request, invocation: &mut Invocation, lookup: &mut LookupCursor) {
        let dest = match lookup.cnode_op_slot() {
            Ok(s) => s,
            Err(e) => return Next::Fail(e),
        };
        invocation.dest = Some(dest);
        match request.label {
            label::cnode::COPY..=label::cnode::MUTATE => {
                let Some(&(src_root, _)) = invocation.extra_caps.first() else {
                    return Next::Fail(SyscallError::TruncatedMessage);
                };
                if request.mrs.len() < 4 {
                    return Next::Fail(SyscallError::TruncatedMessage);
                }
                if let Err(e) = ensure_empty_slot(cspace, dest) {
                    return Next::Fail(e);
                }
                match lookup_slot_for_cnode_op(lookup, true, src_root, request.mr(2), request.mr(3), Some(&DECODE_CNODE_SOURCE_FOUND)) {
                    Ok(()) => Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS),
                    Err(e) => Next::Fail(e),
                }
            }
            label::cnode::REVOKE => Next::Goto(&INVOKE_CNODE_REVOKE),
            label::cnode::DELETE => Next::Goto(&INVOKE_CNODE_DELETE),
            label::cnode::SAVE_CALLER => match ensure_empty_slot(cspace, dest) {
                Ok(()) => Next::Goto(&INVOKE_CNODE_SAVE_CALLER),
                Err(e) => Next::Fail(e),
            },
            label::cnode::CANCEL_BADGED_SENDS => {
                // hasCancelSendRights: an endpoint cap with every right.
                match cspace.cap(dest) {
                    Cap::Endpoint { rights, .. } if rights == CapRights::ALL => {
                        Next::Goto(&INVOKE_CNODE_CANCEL_BADGED_SENDS)
                    }
                    _ => Next::Fail(SyscallError::IllegalOperation),
                }
            }
            label::cnode::ROTATE => {
                if request.mrs.len() < 8 || invocation.extra_caps.len() < 2 {
                    return Next::Fail(SyscallError::TruncatedMessage);
                }
                let Some(&(src_root, _)) = invocation.extra_caps.get(1) else {
                    return Next::Fail(SyscallError::TruncatedMessage);
                };
                match lookup_slot_for_cnode_op(lookup, true, src_root, request.mr(6), request.mr(7), Some(&DECODE_CNODE_ROTATE_SOURCE_FOUND)) {
                    Ok(()) => Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS),
                    Err(e) => Next::Fail(e),
                }
            }
            _ => Next::Fail(SyscallError::IllegalOperation),
        }
    }
}

gears::code_gear! {
    /// Copy, Mint, Move, Mutate: the source slot is found; build the new cap (mask rights, badge
    /// or guard, derive) and choose insert or move.
    pub fn decode_cnode_source_found(ctx: Kernel; cspace: &CSpace, request: &Request, invocation: &mut Invocation, lookup: &LookupCursor) {
        let src = match lookup.cnode_op_slot() {
            Ok(s) => s,
            Err(e) => return Next::Fail(e),
        };
        let src_cap = cspace.cap(src);
        if src_cap.is_null() {
            let fault = LookupFault::MissingCapability { bits_left: request.mr(3) };
            return Next::Fail(SyscallError::FailedLookup { source: true, fault });
        }
        let (new_cap, is_move) = match request.label {
            label::cnode::COPY => {
                if request.mrs.len() < 5 {
                    return Next::Fail(SyscallError::TruncatedMessage);
                }
                let masked = mask_cap_rights(CapRights::from_word(request.mr(4)), &src_cap);
                match derive_cap(cspace, src, &masked) {
                    Ok(c) => (c, false),
                    Err(e) => return Next::Fail(e),
                }
            }
            label::cnode::MINT => {
                if request.mrs.len() < 6 {
                    return Next::Fail(SyscallError::TruncatedMessage);
                }
                let masked = mask_cap_rights(CapRights::from_word(request.mr(4)), &src_cap);
                let updated = update_cap_data(false, request.mr(5), &masked);
                match derive_cap(cspace, src, &updated) {
                    Ok(c) => (c, false),
                    Err(e) => return Next::Fail(e),
                }
            }
            label::cnode::MOVE => (src_cap, true),
            _ => {
                if request.mrs.len() < 5 {
                    return Next::Fail(SyscallError::TruncatedMessage);
                }
                (update_cap_data(true, request.mr(4), &src_cap), true)
            }
        };
        if new_cap.is_null() {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        invocation.src = Some(src);
        invocation.new_cap = new_cap;
        if is_move { Next::Goto(&INVOKE_CNODE_MOVE) } else { Next::Goto(&INVOKE_CNODE_INSERT) }
    }
}

gears::code_gear! {
    /// Rotate: the source slot is found; look up the pivot.
    pub fn decode_cnode_rotate_source_found(ctx: Kernel; request: &Request, invocation: &mut Invocation, lookup: &mut LookupCursor) {
        let src = match lookup.cnode_op_slot() {
            Ok(s) => s,
            Err(e) => return Next::Fail(e),
        };
        invocation.src = Some(src);
        let Some(&(pivot_root, _)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::TruncatedMessage);
        };
        match lookup_slot_for_cnode_op(lookup, true, pivot_root, request.mr(3), request.mr(4), Some(&DECODE_CNODE_ROTATE_PIVOT_FOUND)) {
            Ok(()) => Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS),
            Err(e) => Next::Fail(e),
        }
    }
}

gears::code_gear! {
    /// Rotate: the pivot is found; check the slots are distinct and full, build both new caps.
    pub fn decode_cnode_rotate_pivot_found(ctx: Kernel; cspace: &CSpace, request: &Request, invocation: &mut Invocation, lookup: &LookupCursor) {
        let pivot = match lookup.cnode_op_slot() {
            Ok(s) => s,
            Err(e) => return Next::Fail(e),
        };
        let (Some(src), Some(dest)) = (invocation.src, invocation.dest) else {
            return Next::Fail(SyscallError::IllegalOperation);
        };
        if pivot == src || pivot == dest {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        if src != dest
            && let Err(e) = ensure_empty_slot(cspace, dest)
        {
            return Next::Fail(e);
        }
        let (src_cap, pivot_cap) = (cspace.cap(src), cspace.cap(pivot));
        if src_cap.is_null() {
            let fault = LookupFault::MissingCapability { bits_left: request.mr(7) };
            return Next::Fail(SyscallError::FailedLookup { source: true, fault });
        }
        if pivot_cap.is_null() {
            let fault = LookupFault::MissingCapability { bits_left: request.mr(4) };
            return Next::Fail(SyscallError::FailedLookup { source: false, fault });
        }
        let new_src = update_cap_data(true, request.mr(5), &src_cap);
        let new_pivot = update_cap_data(true, request.mr(2), &pivot_cap);
        if new_src.is_null() || new_pivot.is_null() {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        invocation.pivot = Some(pivot);
        invocation.new_cap = new_src;
        invocation.new_pivot_cap = new_pivot;
        Next::Goto(&INVOKE_CNODE_ROTATE)
    }
}

gears::code_gear! {
    /// `invokeCNodeInsert` (Copy, Mint): `cteInsert(new_cap, src, dest)`.
    pub fn invoke_cnode_insert(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let (Some(src), Some(dest)) = (invocation.src, invocation.dest) {
            cte_insert(cspace, invocation.new_cap, src, dest);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `invokeCNodeMove` (Move, Mutate): `cteMove(new_cap, src, dest)`.
    pub fn invoke_cnode_move(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let (Some(src), Some(dest)) = (invocation.src, invocation.dest) {
            cte_move(cspace, invocation.new_cap, src, dest);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `invokeCNodeRotate`: pivot → dest, src → pivot; or a swap when src is dest.
    pub fn invoke_cnode_rotate(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let (Some(src), Some(pivot), Some(dest)) = (invocation.src, invocation.pivot, invocation.dest) {
            if src == dest {
                cte_swap(cspace, invocation.new_cap, src, invocation.new_pivot_cap, pivot);
            } else {
                cte_move(cspace, invocation.new_pivot_cap, pivot, dest);
                cte_move(cspace, invocation.new_cap, src, pivot);
            }
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `invokeCNodeSaveCaller`: move the caller's reply cap (if any) into the target slot.
    pub fn invoke_cnode_save_caller(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let caller = SlotRef::of(request.thread, tcb_slot::CALLER);
        let cap = cspace.cap(caller);
        if let (Cap::Reply { master: false, .. }, Some(dest)) = (cap, invocation.dest) {
            cte_move(cspace, cap, caller, dest);
        }
        // No caller (or a master reply cap): seL4 only logs it; the invocation succeeds.
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `invokeCNodeCancelBadgedSends`: with a badge, cancel the queued sends with that badge, one
    /// thread per gear ([`CANCEL_BADGED_SENDS_STEP`](crate::endpoint::CANCEL_BADGED_SENDS_STEP)),
    /// from the head of the queue to its end without a preemption point, as in seL4.
    pub fn invoke_cnode_cancel_badged_sends(ctx: Kernel; cspace: &CSpace, objects: &mut ObjectStore, request: &Request, invocation: &Invocation, cancel: &mut CancelCursor) {
        set_restart(objects, request.thread);
        let cap = invocation.dest.map(|d| cspace.cap(d)).unwrap_or_default();
        if let Cap::Endpoint { ptr, badge, .. } = cap
            && badge != 0
        {
            let head = objects.endpoint(ptr).queue.head;
            *cancel = CancelCursor { obj: Some(ptr), is_notification: false, badged: Some((badge, head)), cancelled: 0 };
            return Next::Goto(&crate::endpoint::CANCEL_BADGED_SENDS_STEP);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `invokeCNodeRevoke`: revoke the target slot.
    pub fn invoke_cnode_revoke(ctx: Kernel; objects: &mut ObjectStore, request: &Request, invocation: &Invocation, revoke: &mut RevokeCursor) {
        set_restart(objects, request.thread);
        *revoke = RevokeCursor { slot: invocation.dest, deleted: 0 };
        Next::Goto(&crate::delete::CTE_REVOKE_CHECK)
    }
}

gears::code_gear! {
    /// `invokeCNodeDelete`: `cteDelete(slot, true)`.
    pub fn invoke_cnode_delete(ctx: Kernel; objects: &mut ObjectStore, request: &Request, invocation: &Invocation, delete: &mut DeleteCursor) {
        set_restart(objects, request.thread);
        *delete = DeleteCursor { slot: invocation.dest, inner: None, ret: None };
        Next::Goto(&crate::delete::CTE_DELETE)
    }
}

/// The object a cap keeps alive, if it names one in the object store.
pub fn cap_object(cap: &Cap) -> Option<ObjPtr> {
    match *cap {
        Cap::Endpoint { ptr, .. }
        | Cap::Notification { ptr, .. }
        | Cap::CNode { ptr, .. }
        | Cap::Thread { ptr }
        | Cap::Zombie { ptr, .. }
        | Cap::Frame { ptr, .. }
        | Cap::PageTable { ptr, .. }
        | Cap::AsidPool { ptr, .. } => Some(ptr),
        Cap::Reply { tcb, .. } => Some(tcb),
        _ => None,
    }
}
