//! CSpace lookup as gears: `resolve_address_bits` resolves one CNode level per gear, and the entry
//! of an invocation (`handle_invocation` → lookups → `decode_invocation`).

use gears::Next;

use crate::cap::{Cap, SlotRef, WORD_BITS, mask};
use crate::cspace::CSpace;
use crate::error::{LookupFault, SyscallError};
use crate::kernel::{Done, Invocation, Kernel, LookupCursor, LookupPurpose, Request, Ret};
use crate::object::{ObjectStore, ThreadState};

/// The most extra caps a message carries (`seL4_MsgMaxExtraCaps`).
pub const MAX_EXTRA_CAPS: usize = abi::MSG_MAX_EXTRA_CAPS as usize;

impl LookupCursor {
    /// Starts resolving `n_bits` of `capptr` from `root`; the chain then goes to `ret`.
    pub fn start(&mut self, root: Cap, capptr: u64, n_bits: u64, purpose: LookupPurpose, ret: Ret) {
        *self = LookupCursor {
            node: root,
            capptr,
            n_bits,
            purpose,
            ret,
            slot: None,
            bits_remaining: n_bits,
            levels: 0,
        };
    }

    /// The error a lookup fault becomes for this lookup's purpose.
    pub fn fault(&self, fault: LookupFault) -> SyscallError {
        match self.purpose {
            LookupPurpose::Invoked | LookupPurpose::Extra | LookupPurpose::FaultHandler => {
                SyscallError::CapFault { cptr: self.capptr, fault }
            }
            LookupPurpose::CNodeOp { source } => SyscallError::FailedLookup { source, fault },
        }
    }

    /// The end of `lookupSlotForCNodeOp`: the slot, or `FailedLookup` with a depth mismatch if bits
    /// were left over (the walk stopped at a non-CNode cap before `depth` bits).
    pub fn cnode_op_slot(&self) -> Result<SlotRef, SyscallError> {
        match self.slot {
            Some(s) if self.bits_remaining == 0 => Ok(s),
            _ => {
                Err(self.fault(LookupFault::DepthMismatch { bits_left: self.bits_remaining, bits_found: 0 }))
            }
        }
    }
}

impl LookupCursor {
    /// A destination found by `lookupTargetSlot` that must be empty (`ensureEmptySlot`:
    /// DeleteFirst otherwise), as IRQControl Get and ASIDControl MakePool want it.
    pub fn empty_target_slot(&self, cspace: &CSpace) -> Result<SlotRef, SyscallError> {
        let slot = self.cnode_op_slot()?;
        crate::cdt::ensure_empty_slot(cspace, slot)?;
        Ok(slot)
    }
}

/// `lookupSlotForCNodeOp`'s checks before the walk: the root must be a CNode cap (else
/// `FailedLookup`/InvalidRoot) and `1 <= depth <= 64` (else `RangeError`). Then the cursor is set
/// to resolve exactly `depth` bits and go to `ret`.
pub fn lookup_slot_for_cnode_op(
    lookup: &mut LookupCursor,
    source: bool,
    root: Cap,
    capptr: u64,
    depth: u64,
    ret: Ret,
) -> Result<(), SyscallError> {
    if !matches!(root, Cap::CNode { .. }) {
        return Err(SyscallError::FailedLookup { source, fault: LookupFault::InvalidRoot });
    }
    if !(1..=WORD_BITS).contains(&depth) {
        return Err(SyscallError::RangeError { min: 1, max: WORD_BITS });
    }
    lookup.start(root, capptr, depth, LookupPurpose::CNodeOp { source }, ret);
    Ok(())
}

/// `resolveAddressBits` as a plain bounded loop (at most 64 levels, each resolving at least one
/// bit): for the lookups inside one IPC gear (a transfer's extra caps and receive slot), which seL4
/// also does in one go. Returns the slot and the bits left unresolved.
pub fn resolve_address_bits_now(
    cspace: &CSpace,
    root: Cap,
    capptr: u64,
    n_bits: u64,
) -> Result<(SlotRef, u64), LookupFault> {
    let mut node = root;
    let mut n_bits = n_bits;
    loop {
        let Cap::CNode { ptr, radix, guard, guard_size } = node else {
            return Err(LookupFault::InvalidRoot);
        };
        let (radix, guard_bits) = (radix as u64, guard_size as u64);
        let level_bits = radix + guard_bits;
        if guard_bits > n_bits
            || (capptr.checked_shr((n_bits - guard_bits) as u32).unwrap_or(0) & mask(guard_bits)) != guard
        {
            return Err(LookupFault::GuardMismatch {
                bits_left: n_bits,
                guard_found: guard,
                guard_size: guard_bits,
            });
        }
        if level_bits > n_bits || level_bits == 0 {
            return Err(LookupFault::DepthMismatch { bits_left: n_bits, bits_found: level_bits });
        }
        let offset = capptr.checked_shr((n_bits - level_bits) as u32).unwrap_or(0) & mask(radix);
        let slot = SlotRef::of(ptr, offset);
        if n_bits == level_bits {
            return Ok((slot, 0));
        }
        let next = cspace.cap(slot);
        if !matches!(next, Cap::CNode { .. }) {
            return Ok((slot, n_bits - level_bits));
        }
        node = next;
        n_bits -= level_bits;
    }
}

/// A lookup fault at one level: the error for this lookup's purpose, except a fault handler's
/// lookup, which goes on to its continuation with no slot (`sendFaultIPC` then double-faults).
fn lookup_failed(lookup: &mut LookupCursor, fault: LookupFault) -> Next<Kernel> {
    match (lookup.purpose, lookup.ret) {
        (LookupPurpose::FaultHandler, Some(g)) => {
            lookup.slot = None;
            Next::Goto(g)
        }
        _ => Next::Fail(lookup.fault(fault)),
    }
}

fn found(lookup: &mut LookupCursor, slot: SlotRef, bits_remaining: u64) -> Next<Kernel> {
    lookup.slot = Some(slot);
    lookup.bits_remaining = bits_remaining;
    match lookup.ret {
        Some(g) => Next::Goto(g),
        None => Next::Exit(Done::Found { slot, bits_remaining }),
    }
}

gears::code_gear! {
    /// `resolveAddressBits`, one level: check the guard and the depth, index the CNode, and go on
    /// while the slot holds a CNode cap and bits are left.
    pub fn resolve_address_bits(ctx: Kernel; cspace: &CSpace, lookup: &mut LookupCursor) {
        let Cap::CNode { ptr, radix, guard, guard_size } = lookup.node else {
            return lookup_failed(lookup, LookupFault::InvalidRoot);
        };
        let n_bits = lookup.n_bits;
        let (radix, guard_bits) = (radix as u64, guard_size as u64);
        let level_bits = radix + guard_bits;
        if guard_bits > n_bits
            || (lookup.capptr.checked_shr((n_bits - guard_bits) as u32).unwrap_or(0) & mask(guard_bits)) != guard
        {
            let fault = LookupFault::GuardMismatch { bits_left: n_bits, guard_found: guard, guard_size: guard_bits };
            return lookup_failed(lookup, fault);
        }
        if level_bits > n_bits || level_bits == 0 {
            let fault = LookupFault::DepthMismatch { bits_left: n_bits, bits_found: level_bits };
            return lookup_failed(lookup, fault);
        }
        let offset = lookup.capptr.checked_shr((n_bits - level_bits) as u32).unwrap_or(0) & mask(radix);
        let slot = SlotRef::of(ptr, offset);
        lookup.levels += 1;
        if n_bits == level_bits {
            return found(lookup, slot, 0);
        }
        let rest = n_bits - level_bits;
        let next = cspace.cap(slot);
        if !matches!(next, Cap::CNode { .. }) {
            return found(lookup, slot, rest);
        }
        lookup.node = next;
        lookup.n_bits = rest;
        Next::Goto(&RESOLVE_ADDRESS_BITS)
    }
}

gears::code_gear! {
    /// `lookupSlot` as an operation of its own: resolve the request's `cptr` (64 bits) in the
    /// caller's CSpace and leave with the slot (for tests and tools).
    pub fn lookup_slot(ctx: Kernel; cspace: &CSpace, request: &Request, lookup: &mut LookupCursor) {
        let root = cspace.cap(SlotRef::of(request.thread, crate::kernel::tcb_slot::CTABLE));
        lookup.start(root, request.cptr, WORD_BITS, LookupPurpose::Invoked, None);
        Next::Goto(&RESOLVE_ADDRESS_BITS)
    }
}

gears::code_gear! {
    /// `handleInvocation`'s entry: look up the invoked cap in the caller's CSpace.
    pub fn handle_invocation(ctx: Kernel; cspace: &CSpace, request: &Request, invocation: &mut Invocation, lookup: &mut LookupCursor) {
        *invocation = Invocation::default();
        let root = cspace.cap(SlotRef::of(request.thread, crate::kernel::tcb_slot::CTABLE));
        lookup.start(root, request.cptr, WORD_BITS, LookupPurpose::Invoked, Some(&LOOKUP_EXTRA_CAPS));
        Next::Goto(&RESOLVE_ADDRESS_BITS)
    }
}

gears::code_gear! {
    /// `lookupCapAndSlot`'s result, then `lookupExtraCaps`, one cap per pass: keep what the last
    /// lookup found, start the next, or go on to decode.
    pub fn lookup_extra_caps(ctx: Kernel; cspace: &CSpace, request: &Request, invocation: &mut Invocation, lookup: &mut LookupCursor) {
        let Some(slot) = lookup.slot else {
            return Next::Fail(lookup.fault(LookupFault::InvalidRoot));
        };
        let cap = cspace.cap(slot);
        if invocation.invoked.is_none() {
            invocation.invoked = Some((cap, slot));
        } else {
            invocation.extra_caps.push((cap, slot));
        }
        let i = invocation.extra_caps.len();
        match request.extra_cptrs.get(i) {
            Some(&cptr) if i < MAX_EXTRA_CAPS => {
                let root = cspace.cap(SlotRef::of(request.thread, crate::kernel::tcb_slot::CTABLE));
                lookup.start(root, cptr, WORD_BITS, LookupPurpose::Extra, Some(&LOOKUP_EXTRA_CAPS));
                Next::Goto(&RESOLVE_ADDRESS_BITS)
            }
            _ => Next::Goto(&DECODE_INVOCATION),
        }
    }
}

gears::code_gear! {
    /// `decodeInvocation`: dispatch on the invoked cap's type.
    pub fn decode_invocation(ctx: Kernel; invocation: &Invocation) {
        match invocation.invoked {
            Some((Cap::CNode { .. }, _)) => Next::Goto(&crate::cnode::DECODE_CNODE_INVOCATION),
            Some((Cap::Untyped { .. }, _)) => Next::Goto(&crate::untyped::DECODE_UNTYPED_INVOCATION),
            Some((Cap::Thread { .. }, _)) => Next::Goto(&crate::tcb::DECODE_TCB_INVOCATION),
            Some((Cap::IrqControl, _)) => Next::Goto(&crate::interrupt::DECODE_IRQ_CONTROL_INVOCATION),
            // decodeInvocation's endpoint case: sending needs the write right.
            Some((Cap::Endpoint { rights, .. }, _)) => {
                if rights.write {
                    Next::Goto(&crate::endpoint::INVOKE_ENDPOINT)
                } else {
                    Next::Fail(SyscallError::InvalidCapability { cap: 0 })
                }
            }
            Some((Cap::Notification { rights, .. }, _)) => {
                if rights.write {
                    Next::Goto(&crate::notification::INVOKE_NOTIFICATION)
                } else {
                    Next::Fail(SyscallError::InvalidCapability { cap: 0 })
                }
            }
            Some((Cap::Reply { master, .. }, _)) => {
                if master {
                    Next::Fail(SyscallError::InvalidCapability { cap: 0 })
                } else {
                    Next::Goto(&crate::endpoint::INVOKE_REPLY)
                }
            }
            Some((Cap::Null | Cap::Zombie { .. }, _)) | None => {
                Next::Fail(SyscallError::InvalidCapability { cap: 0 })
            }
            Some((Cap::IrqHandler { .. }, _)) => Next::Goto(&crate::interrupt::DECODE_IRQ_HANDLER_INVOCATION),
            Some((Cap::Frame { .. }, _)) => Next::Goto(&crate::frame::DECODE_FRAME_INVOCATION),
            Some((Cap::PageTable { .. }, _)) => Next::Goto(&crate::page_table::DECODE_PAGE_TABLE_INVOCATION),
            Some((Cap::AsidPool { .. }, _)) => Next::Goto(&crate::asid::DECODE_ASID_POOL_INVOCATION),
            Some((Cap::AsidControl, _)) => Next::Goto(&crate::asid::DECODE_ASID_CONTROL_INVOCATION),
            Some((Cap::Domain, _)) => Next::Goto(&crate::tcb_control::DECODE_DOMAIN_INVOCATION),
            Some((Cap::IoPortControl, _)) => Next::Goto(&crate::ioport::DECODE_IO_PORT_CONTROL_INVOCATION),
            Some((Cap::IoPort { .. }, _)) => Next::Goto(&crate::ioport::DECODE_IO_PORT_INVOCATION),
        }
    }
}

gears::code_gear! {
    /// The end of a successful invocation: the caller ran on ([`Done::Ok`]; the kernel entry's
    /// epilogue gives a `seL4_Call` still `Restart` its empty reply and makes it `Running`), or
    /// the invocation left it blocked or stopped ([`Done::Blocked`]).
    pub fn invocation_done(ctx: Kernel; objects: &ObjectStore, request: &Request) {
        if objects.thread_state(request.thread).is_runnable() { Next::Exit(Done::Ok) } else { Next::Exit(Done::Blocked) }
    }
}

/// Marks a running caller `Restart` (seL4 does this between decode and invoke); a runnable
/// thread stays in its ready queue either way.
pub(crate) fn set_restart(objects: &mut ObjectStore, thread: crate::cap::ObjPtr) {
    if objects.thread_state(thread) == ThreadState::Running {
        objects.set_thread_state_words(thread, ThreadState::Restart, false);
    }
}

/// The other side of [`set_restart`]: a caller still `Restart` when its invocation is done runs
/// on (`Running`); returns whether it was.
pub(crate) fn end_restart(objects: &mut ObjectStore, thread: crate::cap::ObjPtr) -> bool {
    let was = objects.thread_state(thread) == ThreadState::Restart;
    if was {
        objects.set_thread_state_words(thread, ThreadState::Running, false);
    }
    was
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::ObjPtr;

    fn resolve(node: Cap, capptr: u64, n_bits: u64) -> (Result<SlotRef, SyscallError>, u64, u32) {
        let cs = CSpace::new();
        let mut l = LookupCursor::default();
        l.start(node, capptr, n_bits, LookupPurpose::CNodeOp { source: false }, None);
        match resolve_address_bits(&cs, &mut l) {
            Next::Exit(Done::Found { slot, bits_remaining }) => (Ok(slot), bits_remaining, l.levels),
            Next::Fail(e) => (Err(e), l.bits_remaining, l.levels),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_level_takes_guard_then_index_from_the_top_bits() {
        let cn = Cap::CNode { ptr: ObjPtr(0x1000), radix: 2, guard: 0b101, guard_size: 3 };
        // 5 bits: guard 101, index 10.
        assert_eq!(resolve(cn, 0b10110, 5).0, Ok(SlotRef::of(ObjPtr(0x1000), 2)));
        // 64 bits with a 62-bit guard of 0 and a radix 2: the index is the low two bits.
        let root = Cap::CNode { ptr: ObjPtr(0x1000), radix: 2, guard: 0, guard_size: 62 };
        assert_eq!(resolve(root, 3, 64).0, Ok(SlotRef::of(ObjPtr(0x1000), 3)));
        // Radix 1, no guard, all 64 bits: the top bit indexes, 63 bits are left over.
        let r1 = Cap::cnode(ObjPtr(0x1000), 1);
        assert_eq!(resolve(r1, 1 << 63, 64), (Ok(SlotRef::of(ObjPtr(0x1000), 1)), 63, 1));
    }

    #[test]
    fn faults_at_one_level() {
        let cn = Cap::CNode { ptr: ObjPtr(0x1000), radix: 2, guard: 0b101, guard_size: 3 };
        let guard = |bits_left| SyscallError::FailedLookup {
            source: false,
            fault: LookupFault::GuardMismatch { bits_left, guard_found: 0b101, guard_size: 3 },
        };
        assert_eq!(resolve(cn, 0b10010, 5).0, Err(guard(5)));
        assert_eq!(resolve(cn, 0b10, 2).0, Err(guard(2)), "fewer bits than the guard");
        let depth = SyscallError::FailedLookup {
            source: false,
            fault: LookupFault::DepthMismatch { bits_left: 4, bits_found: 5 },
        };
        assert_eq!(resolve(cn, 0b1011, 4).0, Err(depth));
        let root = SyscallError::FailedLookup { source: false, fault: LookupFault::InvalidRoot };
        assert_eq!(resolve(Cap::Domain, 0, 64).0, Err(root));
    }

    #[test]
    fn cnode_op_slot_needs_every_bit_resolved() {
        let mut l = LookupCursor::default();
        assert_eq!(
            lookup_slot_for_cnode_op(&mut l, true, Cap::Null, 0, 8, None),
            Err(SyscallError::FailedLookup { source: true, fault: LookupFault::InvalidRoot })
        );
        let cn = Cap::cnode(ObjPtr(0x1000), 2);
        assert_eq!(
            lookup_slot_for_cnode_op(&mut l, true, cn, 0, 0, None),
            Err(SyscallError::RangeError { min: 1, max: 64 })
        );
        assert_eq!(lookup_slot_for_cnode_op(&mut l, true, cn, 0, 2, None), Ok(()));
        l.slot = Some(SlotRef(0x1000));
        l.bits_remaining = 3;
        assert_eq!(
            l.cnode_op_slot(),
            Err(SyscallError::FailedLookup {
                source: true,
                fault: LookupFault::DepthMismatch { bits_left: 3, bits_found: 0 }
            })
        );
    }
}
