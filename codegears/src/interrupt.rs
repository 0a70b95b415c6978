//! Interrupts as gears, after seL4's `src/object/interrupt.c`: IRQControl IssueIRQHandler
//! derives an IRQHandler cap and marks the IRQ active; IRQHandler Ack, SetNotification and Clear;
//! and `handleInterrupt`, which delivers a device interrupt as a signal on the handler's
//! notification (masked until acknowledged), so drivers live in user space, and runs the timer
//! tick (time slices: round robin within a priority).
//!
//! Deviation: the notification cap an IRQ signals is kept in [`IrqTable`] as plain data rather
//! than in an IRQ-node slot of the CDT; deleting the notification (its last cap) clears it.

use abi::Arch;
use abi::label;
use gears::Next;

use crate::cap::{Cap, ObjPtr};
use crate::cdt::cte_insert;
use crate::cspace::CSpace;
use crate::error::SyscallError;
use crate::kernel::Done;
use crate::kernel::{Invocation, IrqTable, Kernel, LookupCursor, Request};
use crate::lookup::{lookup_slot_for_cnode_op, set_restart};
use crate::machine::{MachineOp, MachineOps};
use crate::object::ObjectStore;
use crate::thread::{Scheduler, yield_thread};

/// The largest IRQ (`maxIRQ`): riscv64, the RISC-V PLIC of QEMU `virt` (sources 1..=127);
/// x86_64, the last vector seL4 gives users (`int_irq_user_max` 155, less the 0x20 vectors of
/// the exceptions).
pub const fn max_irq(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => X86_IRQ_USER_MAX,
        Arch::Riscv64 => 127,
    }
}

/// x86_64's ISA IRQs (the 8259 PICs' lines): the only ones IssueIRQHandler issues there
/// (`Arch_checkIRQ` with the PIC).
pub const X86_IRQ_ISA_MAX: u64 = 15;
/// x86_64's first IRQ for MSI and IOAPIC handlers (`irq_user_min`, vector 0x30).
pub const X86_IRQ_USER_MIN: u64 = 16;
/// x86_64's last IRQ for MSI and IOAPIC handlers (`irq_user_max`, vector 155).
pub const X86_IRQ_USER_MAX: u64 = 123;
/// The largest PCI bus, device and function numbers (`PCI_BUS_MAX` …).
const PCI_MAX: [u64; 3] = [255, 31, 7];

/// Whether `request` is x86_64's IssueIRQHandlerIOAPIC or IssueIRQHandlerMSI.
fn x86_user_irq_label(arch: Arch, request: &Request) -> bool {
    arch == Arch::X86_64
        && matches!(
            request.label,
            abi::x86_64::label::IRQ_ISSUE_IRQ_HANDLER_IOAPIC | abi::x86_64::label::IRQ_ISSUE_IRQ_HANDLER_MSI
        )
}

/// The IRQ an IRQControl invocation asks for: IssueIRQHandler's first word; x86_64's
/// IssueIRQHandlerIOAPIC and MSI take it in their seventh, counted from `irq_user_min`.
fn requested_irq(arch: Arch, request: &Request) -> u64 {
    if x86_user_irq_label(arch, request) {
        request.mr(6).saturating_add(X86_IRQ_USER_MIN)
    } else {
        request.mr(0)
    }
}

gears::code_gear! {
    /// `decodeIRQControlInvocation` / x86_64's `Arch_decodeIRQControlInvocation`:
    /// IssueIRQHandler(irq, index, depth), and on x86_64 IssueIRQHandlerIOAPIC(index, depth,
    /// ioapic, pin, level, polarity, irq) and IssueIRQHandlerMSI(index, depth, bus, dev, func,
    /// handle, irq), each with the destination CNode as extra cap: message length, IRQ range,
    /// not yet active; then the target slot.
    pub fn decode_irq_control_invocation(ctx: Kernel; irqs: &IrqTable, arch: &Arch, request: &Request, invocation: &Invocation, lookup: &mut LookupCursor) {
        let x86_user = x86_user_irq_label(*arch, request);
        if request.label != label::irq_control::ISSUE_IRQ_HANDLER && !x86_user {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let Some(&(root, _)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::TruncatedMessage);
        };
        if request.mrs.len() < if x86_user { 7 } else { 3 } {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let (index, depth) = if x86_user { (request.mr(0), request.mr(1)) } else { (request.mr(1), request.mr(2)) };
        if x86_user {
            if request.mr(6) > X86_IRQ_USER_MAX - X86_IRQ_USER_MIN {
                return Next::Fail(SyscallError::RangeError { min: 0, max: X86_IRQ_USER_MAX - X86_IRQ_USER_MIN });
            }
        } else {
            // Arch_checkIRQ: x86_64's ISA lines (the PIC's); riscv64's PLIC sources (0 is the
            // kernel's timer here, shared with one user driver).
            let max = if *arch == Arch::X86_64 { X86_IRQ_ISA_MAX } else { max_irq(*arch) };
            if request.mr(0) > max {
                return Next::Fail(SyscallError::RangeError { min: 0, max });
            }
        }
        if irqs.active.contains(&(requested_irq(*arch, request) as u16)) {
            return Next::Fail(SyscallError::RevokeFirst);
        }
        match lookup_slot_for_cnode_op(lookup, false, root, index, depth, Some(&DECODE_IRQ_CONTROL_TARGET_FOUND)) {
            Ok(()) => Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS),
            Err(e) => Next::Fail(e),
        }
    }
}

gears::code_gear! {
    /// The target slot is found: it must be empty. Then x86_64's IOAPIC and MSI checks: Gears
    /// drives no IOAPIC (`ioapic_decode_map_pin_to_vector` with none: IllegalOperation); an MSI's
    /// PCI bus, device and function must be in range.
    pub fn decode_irq_control_target_found(ctx: Kernel; cspace: &CSpace, arch: &Arch, request: &Request, invocation: &mut Invocation, lookup: &LookupCursor) {
        let dest = match lookup.empty_target_slot(cspace) {
            Ok(s) => s,
            Err(e) => return Next::Fail(e),
        };
        if x86_user_irq_label(*arch, request) {
            if request.label == abi::x86_64::label::IRQ_ISSUE_IRQ_HANDLER_IOAPIC {
                return Next::Fail(SyscallError::IllegalOperation);
            }
            for (i, max) in PCI_MAX.into_iter().enumerate() {
                if request.mr(2 + i) > max {
                    return Next::Fail(SyscallError::RangeError { min: 0, max });
                }
            }
        }
        invocation.dest = Some(dest);
        Next::Goto(&INVOKE_IRQ_CONTROL)
    }
}

gears::code_gear! {
    /// `invokeIRQControl`: the IRQ becomes active (`IRQSignal`) and the handler cap is inserted
    /// as a child of IRQControl.
    pub fn invoke_irq_control(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, irqs: &mut IrqTable, arch: &Arch, request: &Request, invocation: &Invocation, machine: &mut MachineOps) {
        set_restart(objects, request.thread);
        let irq = requested_irq(*arch, request) as u16;
        if let (Some((_, control)), Some(dest)) = (invocation.invoked, invocation.dest) {
            irqs.active.insert(irq);
            // setIRQState(IRQSignal) unmasks the line.
            machine.push(MachineOp::MaskIrq { irq, masked: false });
            cte_insert(cspace, Cap::IrqHandler { irq }, control, dest);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

/// The kernel timer's IRQ. Its ticks end time slices; it may also be issued to one user-level
/// driver, whose notification each tick then signals like any device IRQ (seL4 keeps the kernel
/// timer to itself and gives drivers a separate timer device: here there is one timer).
pub const IRQ_TIMER: u16 = 0;
/// Timer ticks per time slice (`CONFIG_TIME_SLICE`).
pub const TIME_SLICE: u64 = abi::config::TIME_SLICE;

fn handler_irq(invocation: &Invocation) -> Option<u16> {
    match invocation.invoked {
        Some((Cap::IrqHandler { irq }, _)) => Some(irq),
        _ => None,
    }
}

gears::code_gear! {
    /// `decodeIRQHandlerInvocation`: Ack, SetNotification (extra cap 0: a notification cap with
    /// the write right, else InvalidCapability), Clear.
    pub fn decode_irq_handler_invocation(ctx: Kernel; request: &Request, invocation: &Invocation) {
        match request.label {
            label::irq_handler::ACK | label::irq_handler::CLEAR => Next::Goto(&INVOKE_IRQ_HANDLER),
            label::irq_handler::SET_NOTIFICATION => match invocation.extra_caps.first() {
                None => Next::Fail(SyscallError::TruncatedMessage),
                Some((Cap::Notification { rights, .. }, _)) if rights.write => Next::Goto(&INVOKE_IRQ_HANDLER),
                Some(_) => Next::Fail(SyscallError::InvalidCapability { cap: 0 }),
            },
            _ => Next::Fail(SyscallError::IllegalOperation),
        }
    }
}

gears::code_gear! {
    /// `invokeIRQHandler_AckIRQ` (unmask), `_SetIRQHandler` (the IRQ now signals the
    /// notification), `_ClearIRQHandler` (it signals nothing).
    pub fn invoke_irq_handler(ctx: Kernel; objects: &mut ObjectStore, irqs: &mut IrqTable, request: &Request, invocation: &Invocation, machine: &mut MachineOps) {
        set_restart(objects, request.thread);
        if let Some(irq) = handler_irq(invocation) {
            match request.label {
                label::irq_handler::ACK => {
                    irqs.masked.remove(&irq);
                    machine.push(MachineOp::MaskIrq { irq, masked: false });
                }
                label::irq_handler::SET_NOTIFICATION => {
                    if let Some(&(cap, _)) = invocation.extra_caps.first() {
                        irqs.notification.insert(irq, cap);
                    }
                }
                _ => {
                    irqs.notification.remove(&irq);
                }
            }
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

/// `deletingIRQHandler` + `setIRQState(IRQInactive)`: the IRQ has no handler any more, and its
/// line is masked.
pub fn deleting_irq_handler(irqs: &mut IrqTable, machine: &mut MachineOps, irq: u16) {
    machine.push(MachineOp::MaskIrq { irq, masked: true });
    irqs.active.remove(&irq);
    irqs.notification.remove(&irq);
    irqs.masked.remove(&irq);
}

/// A notification is dying: no IRQ signals it any more (at most [`max_irq`] entries to look at).
pub fn forget_notification(irqs: &mut IrqTable, ntfn: ObjPtr) {
    irqs.notification.retain(|_, c| !matches!(c, Cap::Notification { ptr, .. } if *ptr == ntfn));
}

gears::code_gear! {
    /// `handleInterrupt(irq)` (`request.irq`): the timer ticks the running thread's time slice
    /// (at its end the thread goes to the back of its ready queue); an active, unmasked IRQ with a
    /// notification (the timer's too) signals it with the cap's badge and is masked until
    /// acknowledged; anything else is spurious and ignored.
    pub fn handle_interrupt(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, irqs: &mut IrqTable, sched: &mut Scheduler, arch: &Arch, request: &Request, machine: &mut MachineOps) {
        let irq = request.irq;
        if irq == IRQ_TIMER
            && let Some(cur) = sched.current
        {
            let mut t = objects.tcb_mut(cur);
            t.ticks += 1;
            let slice_over = t.ticks >= TIME_SLICE;
            if slice_over {
                t.ticks = 0;
            }
            drop(t);
            if slice_over {
                yield_thread(objects, sched, cur);
            }
        }
        if irqs.active.contains(&irq) && !irqs.masked.contains(&irq) {
            if let Some(Cap::Notification { ptr, badge, rights }) = irqs.notification.get(&irq).copied()
                && rights.write
            {
                crate::notification::send_signal(cspace, objects, sched, *arch, ptr, badge);
            }
            irqs.masked.insert(irq);
            machine.push(MachineOp::MaskIrq { irq, masked: true });
        }
        Next::Exit(Done::Ok)
    }
}
