//! IRQControl's invocation as gears, after seL4's `src/object/interrupt.c`: IssueIRQHandler
//! derives an IRQHandler cap from IRQControl and marks the IRQ active.

use gears::Next;

use crate::cap::Cap;
use crate::cdt::{cte_insert, ensure_empty_slot};
use crate::cspace::CSpace;
use crate::error::SyscallError;
use crate::kernel::{Invocation, IrqTable, Kernel, LookupCursor, Request, label};
use crate::lookup::{lookup_slot_for_cnode_op, set_restart};
use crate::object::ObjectStore;

/// The largest IRQ (`maxIRQ`; here the RISC-V PLIC of QEMU `virt`, sources 1..=127).
pub const MAX_IRQ: u64 = 127;

fn mr(request: &Request, i: usize) -> u64 {
    request.mrs.get(i).copied().unwrap_or(0)
}

gears::code_gear! {
    /// `decodeIRQControlInvocation`: IssueIRQHandler(irq, index, depth) with the destination
    /// CNode as extra cap: message length, IRQ range, not yet active; then the target slot.
    pub fn decode_irq_control_invocation(ctx: Kernel; irqs: &IrqTable, request: &Request, invocation: &Invocation, lookup: &mut LookupCursor) {
        if request.label != label::IRQ_ISSUE_IRQ_HANDLER {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let Some(&(root, _)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::TruncatedMessage);
        };
        if request.mrs.len() < 3 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let irq = mr(request, 0);
        // Arch_checkIRQ (RISC-V): 0 is irqInvalid.
        if irq == 0 || irq > MAX_IRQ {
            return Next::Fail(SyscallError::RangeError { min: 1, max: MAX_IRQ });
        }
        if irqs.active.contains(&(irq as u16)) {
            return Next::Fail(SyscallError::RevokeFirst);
        }
        match lookup_slot_for_cnode_op(lookup, false, root, mr(request, 1), mr(request, 2), Some(&DECODE_IRQ_CONTROL_TARGET_FOUND)) {
            Ok(()) => Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS),
            Err(e) => Next::Fail(e),
        }
    }
}

gears::code_gear! {
    /// The target slot is found: it must be empty.
    pub fn decode_irq_control_target_found(ctx: Kernel; cspace: &CSpace, invocation: &mut Invocation, lookup: &LookupCursor) {
        let dest = match lookup.cnode_op_slot() {
            Ok(s) => s,
            Err(e) => return Next::Fail(e),
        };
        if let Err(e) = ensure_empty_slot(cspace, dest) {
            return Next::Fail(e);
        }
        invocation.dest = Some(dest);
        Next::Goto(&INVOKE_IRQ_CONTROL)
    }
}

gears::code_gear! {
    /// `invokeIRQControl`: the IRQ becomes active (`IRQSignal`) and the handler cap is inserted
    /// as a child of IRQControl.
    pub fn invoke_irq_control(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, irqs: &mut IrqTable, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let irq = mr(request, 0) as u16;
        if let (Some((_, control)), Some(dest)) = (invocation.invoked, invocation.dest) {
            irqs.active.insert(irq);
            cte_insert(cspace, Cap::IrqHandler { irq }, control, dest);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}
