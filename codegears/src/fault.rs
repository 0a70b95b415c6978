//! Faults and fault IPC (non-MCS), after seL4's `src/kernel/faulthandler.c` (`handleFault`,
//! `sendFaultIPC`, `handleDoubleFault`) and `src/api/faults.c` (`setMRs_fault`,
//! `handleFaultReply`): a faulting thread sends its fault as a Call to the endpoint its fault
//! handler cptr names in its own CSpace, and waits for the reply; the reply may set some of its
//! registers and restarts it, or stops it.
//!
//! The caller of the dispatcher runs [`HANDLE_FAULT`] with the faulting thread in
//! `Request::thread` and the fault in `Request::fault` (a cap fault is what `handle_syscall`
//! ends with, [`Fault::from_syscall_error`] turns it into the fault to send). The chain is
//! `handle_fault` → `resolve_address_bits`* → `send_fault_ipc` → exit `Blocked`, or →
//! `handle_double_fault` → exit `Blocked` when there is no usable handler.
//!
//! The message layouts are seL4's for x86_64 (fault labels of `seL4_FaultType`, the CapFault
//! words of `seL4_CapFault_Msg`, which are the same on every architecture, and x86_64's
//! `seL4_VMFault_Msg`, `seL4_UnknownSyscall_Msg`, `seL4_UserException_Msg`). The model keeps one
//! register file, x86_64's `seL4_UserContext`, on both architectures, so riscv64 gets the
//! x86_64 layouts too (seL4's riscv64 UnknownSyscall and UserException messages list other
//! registers: FaultIP, SP, RA, A0–A7 and FaultIP, SP, Number, Code).
//!
//! Other deviations: the registers an UnknownSyscall or UserException message carries and the
//! IP of a cap fault or VM fault are read from the faulting thread's TCB when the message is
//! sent (as seL4 reads its saved context), so the caller saves the user registers into the TCB
//! before it runs the fault; message words past seL4's four message registers are never dropped
//! for want of an IPC buffer (the model's message is one vector); a fault IPC that is cancelled
//! drops the fault (see [`set_thread_state`]); and the "no fault handler" report seL4 prints
//! is not made (no console in this crate).

use abi::{MessageInfo, Syscall};
use alloc::vec::Vec;

use gears::Next;

use crate::cap::{Cap, ObjPtr, SlotRef, WORD_BITS};
use crate::cspace::CSpace;
use crate::endpoint::{EpCap, send_ipc};
use crate::error::{LookupFault, SyscallError};
use crate::kernel::{Done, Kernel, LookupCursor, LookupPurpose, Request, tcb_slot};
use crate::object::{ObjectStore, Tcb, ThreadState};
use crate::syscall::lookup_fault_words;
use crate::thread::{Scheduler, set_thread_state};

/// A fault (`seL4_Fault_t`, non-MCS, no debug exceptions), as the kernel keeps it in the TCB of
/// the thread that took it (`tcbFault`, with `tcbLookupFailure` folded into the cap fault).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Fault {
    /// `seL4_Fault_CapFault`: looking up a cap the thread named failed.
    CapFault {
        /// The cptr that failed (`address`).
        address: u64,
        /// Whether it failed in the receive phase (Recv, NBRecv, ReplyRecv's receive).
        in_receive_phase: bool,
        /// Why (`tcbLookupFailure`).
        lookup_failure: LookupFault,
    },
    /// `seL4_Fault_UnknownSyscall`: a system call number the kernel does not serve. The
    /// registers the message carries are read from the thread's TCB when it is sent.
    UnknownSyscall {
        /// The number (`syscallNumber`).
        syscall_number: u64,
    },
    /// `seL4_Fault_UserException`: an exception the kernel does not handle (invalid opcode,
    /// divide by zero, general protection…).
    UserException {
        /// The exception vector (`number`).
        number: u64,
        /// Its error code (`code`).
        code: u64,
    },
    /// `seL4_Fault_VMFault`: an access the thread's address space does not allow. The faulting
    /// instruction's address is the thread's restart PC, read from its TCB when it is sent.
    VMFault {
        /// The address accessed (`address`; CR2 on x86).
        address: u64,
        /// The fault status (`FSR`; the page-fault error code on x86).
        fsr: u64,
        /// Whether it was an instruction fetch (`instructionFault`).
        instruction_fault: bool,
    },
}

/// Indices into [`Tcb::registers`] (`seL4_UserContext` order on x86_64).
pub use abi::x86_64::reg;

/// `SYSCALL_MESSAGE` (x86_64): the registers of an UnknownSyscall message, in
/// `seL4_UnknownSyscall_Msg` order (RAX … R15, FaultIP, SP, FLAGS); the number follows them.
pub const SYSCALL_MESSAGE: [usize; 18] = abi::x86_64::fault::UNKNOWN_SYSCALL_REGISTERS;

/// `EXCEPTION_MESSAGE` (x86_64): FaultIP, SP, FLAGS; the number and the code follow them.
pub const EXCEPTION_MESSAGE: [usize; 3] = abi::x86_64::fault::USER_EXCEPTION_REGISTERS;

/// `seL4_UnknownSyscall_Length`.
pub const UNKNOWN_SYSCALL_LENGTH: u64 = abi::x86_64::fault::UNKNOWN_SYSCALL_LENGTH as u64;
/// `seL4_UserException_Length`.
pub const USER_EXCEPTION_LENGTH: u64 = abi::x86_64::fault::USER_EXCEPTION_LENGTH as u64;
/// `seL4_VMFault_Length`.
pub const VM_FAULT_LENGTH: u64 = abi::fault::vm_fault::LENGTH as u64;

impl Fault {
    /// The message label a handler receives (`seL4_Fault_get_seL4_FaultType`).
    pub const fn label(&self) -> u64 {
        match self {
            Fault::CapFault { .. } => abi::fault::CAP_FAULT,
            Fault::UnknownSyscall { .. } => abi::fault::UNKNOWN_SYSCALL,
            Fault::UserException { .. } => abi::fault::USER_EXCEPTION,
            Fault::VMFault { .. } => abi::fault::VM_FAULT,
        }
    }

    /// The fault a failed system call raises: a cap fault ([`SyscallError::CapFault`]) of any
    /// system call but NBSend (seL4's `handleInvocation` drops those), in the receive phase for
    /// Recv, NBRecv and ReplyRecv. Every other error is a reply, not a fault: `None`.
    pub fn from_syscall_error(e: &SyscallError, syscall: Syscall) -> Option<Fault> {
        match *e {
            SyscallError::CapFault { cptr, fault } if syscall != Syscall::NBSend => Some(Fault::CapFault {
                address: cptr,
                in_receive_phase: matches!(syscall, Syscall::Recv | Syscall::NBRecv | Syscall::ReplyRecv),
                lookup_failure: fault,
            }),
            _ => None,
        }
    }
}

/// `setMRs_fault`: the message words of `fault` taken by `sender` (its registers as its TCB
/// holds them now).
pub fn set_mrs_fault(sender: &Tcb, fault: &Fault) -> Vec<u64> {
    let regs = &sender.registers;
    let mut words = Vec::new();
    match *fault {
        Fault::CapFault { address, in_receive_phase, lookup_failure } => {
            words.extend([regs[reg::RIP], address, in_receive_phase as u64]);
            words.extend(lookup_fault_words(&lookup_failure));
        }
        Fault::UnknownSyscall { syscall_number } => {
            words.extend(SYSCALL_MESSAGE.iter().map(|&r| regs[r]));
            words.push(syscall_number);
        }
        Fault::UserException { number, code } => {
            words.extend(EXCEPTION_MESSAGE.iter().map(|&r| regs[r]));
            words.extend([number, code]);
        }
        Fault::VMFault { address, fsr, instruction_fault } => {
            words.extend([regs[reg::RIP], address, instruction_fault as u64, fsr]);
        }
    }
    words
}

/// `doFaultTransfer`: the receiver gets the sender's fault message, the fault's label, and the
/// badge of the cap the fault was sent through.
pub fn do_fault_transfer(objects: &mut ObjectStore, badge: u64, sender: ObjPtr, receiver: ObjPtr) {
    let Some(s) = objects.tcb(sender) else { return };
    let Some(fault) = s.fault else { return };
    let words = set_mrs_fault(s, &fault);
    if let Some(r) = objects.tcb_mut(receiver) {
        r.msg_info = MessageInfo::new(fault.label(), 0, 0, words.len() as u64).word();
        r.badge = badge;
        r.ipc_buffer.msg = words;
    }
}

/// `sanitiseRegister` (x86_64): instruction and segment-base addresses must be canonical (else
/// 0), and FLAGS keeps only what a user may set (IF on, TF off, the fixed bits, 12 bits).
pub fn sanitise_register(r: usize, v: u64) -> u64 {
    const FLAGS_TF: u64 = 1 << 8;
    const FLAGS_IF: u64 = 1 << 9;
    const FLAGS_HIGH: u64 = 1 << 1;
    const FLAGS_LOW: u64 = (1 << 3) | (1 << 5);
    const FLAGS_MASK: u64 = (1 << 12) - 1;
    match r {
        reg::RIP | reg::FS_BASE | reg::GS_BASE if v > 0x0000_7fff_ffff_ffff && v < 0xffff_8000_0000_0000 => 0,
        reg::RFLAGS => ((v | FLAGS_HIGH | FLAGS_IF) & !FLAGS_LOW & !FLAGS_TF) & FLAGS_MASK,
        _ => v,
    }
}

/// `handleFaultReply`: the reply to a fault. A cap fault or VM fault reply just restarts the
/// thread; an UnknownSyscall or UserException reply writes its first message words (at most 18
/// or 3) into the registers of `SYSCALL_MESSAGE` / `EXCEPTION_MESSAGE`, sanitised, and restarts
/// the thread only if its label is 0. Returns whether the thread restarts.
pub fn handle_fault_reply(objects: &mut ObjectStore, receiver: ObjPtr, sender: ObjPtr) -> bool {
    let Some(s) = objects.tcb(sender) else { return false };
    let tag = MessageInfo::from_word(s.msg_info);
    let words: Vec<u64> = s.ipc_buffer.msg.iter().copied().take(tag.length() as usize).collect();
    let Some(r) = objects.tcb_mut(receiver) else { return false };
    let layout: &[usize] = match r.fault {
        Some(Fault::UnknownSyscall { .. }) => &SYSCALL_MESSAGE,
        Some(Fault::UserException { .. }) => &EXCEPTION_MESSAGE,
        _ => return true,
    };
    for (i, &reg) in layout.iter().enumerate().take(tag.length() as usize) {
        let v = words.get(i).copied().unwrap_or(0);
        r.registers[reg] = sanitise_register(reg, v);
    }
    tag.label() == 0
}

gears::code_gear! {
    /// `handleFault`: the thread in `request.thread` took `request.fault`; look up its fault
    /// handler cptr (`tcbFaultHandler`) in its own CSpace, one level per gear
    /// (`sendFaultIPC`'s `lookupCap`). The thread must be runnable and a fault given
    /// (IllegalOperation otherwise: only a running thread faults).
    pub fn handle_fault(ctx: Kernel; cspace: &CSpace, objects: &ObjectStore, request: &Request, lookup: &mut LookupCursor) {
        let Some(tcb) = objects.tcb(request.thread).filter(|t| t.state.is_runnable()) else {
            return Next::Fail(SyscallError::IllegalOperation);
        };
        if request.fault.is_none() {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let root = cspace.cap(SlotRef::of(request.thread, tcb_slot::CTABLE));
        lookup.start(root, tcb.fault_handler, WORD_BITS, LookupPurpose::FaultHandler, Some(&SEND_FAULT_IPC));
        Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS)
    }
}

gears::code_gear! {
    /// `sendFaultIPC`: the handler cap must be an endpoint cap with the send right and the grant
    /// or grant-reply right; the fault is kept in the thread's TCB and sent as a blocking Call
    /// with the cap's badge (grant-reply always, as seL4 does), so the thread waits to send or
    /// waits for the reply. Anything else (a failed lookup included) is a double fault.
    pub fn send_fault_ipc(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, request: &Request, lookup: &LookupCursor) {
        let handler = lookup.slot.map(|s| cspace.cap(s)).unwrap_or_default();
        let (Cap::Endpoint { ptr, badge, rights }, Some(fault)) = (handler, request.fault) else {
            return Next::Goto(&HANDLE_DOUBLE_FAULT);
        };
        if !rights.write || !(rights.grant || rights.grant_reply) || objects.endpoint(ptr).is_none() {
            return Next::Goto(&HANDLE_DOUBLE_FAULT);
        }
        let thread = request.thread;
        if let Some(t) = objects.tcb_mut(thread) {
            t.fault = Some(fault);
        }
        let cap = EpCap { ep: ptr, badge, can_grant: rights.grant, can_grant_reply: true };
        send_ipc(cspace, objects, sched, true, true, cap, thread);
        Next::Exit(Done::Blocked)
    }
}

gears::code_gear! {
    /// `handleDoubleFault`: no usable fault handler; the thread becomes Inactive and leaves the
    /// ready queues (seL4 also prints both faults; the model has no console).
    pub fn handle_double_fault(ctx: Kernel; objects: &mut ObjectStore, sched: &mut Scheduler, request: &Request) {
        set_thread_state(objects, sched, request.thread, ThreadState::Inactive);
        Next::Exit(Done::Blocked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_layouts_match_sel4_x86_64() {
        let mut t = Tcb::default();
        for (i, r) in t.registers.iter_mut().enumerate() {
            *r = 100 + i as u64;
        }
        let cap = Fault::CapFault {
            address: 7,
            in_receive_phase: true,
            lookup_failure: LookupFault::GuardMismatch { bits_left: 64, guard_found: 3, guard_size: 2 },
        };
        assert_eq!(set_mrs_fault(&t, &cap), [100, 7, 1, 4, 64, 3, 2]);
        let vm = Fault::VMFault { address: 0xdead, fsr: 6, instruction_fault: false };
        assert_eq!(set_mrs_fault(&t, &vm), [100, 0xdead, 0, 6]);
        let ue = Fault::UserException { number: 6, code: 0 };
        assert_eq!(set_mrs_fault(&t, &ue), [100, 101, 102, 6, 0]);
        let us = set_mrs_fault(&t, &Fault::UnknownSyscall { syscall_number: 42 });
        assert_eq!(us.len() as u64, UNKNOWN_SYSCALL_LENGTH);
        assert_eq!((us[0], us[1], us[15], us[16], us[17], us[18]), (103, 104, 100, 101, 102, 42));
        assert_eq!((cap.label(), us.len()), (1, 19));
        assert_eq!(vm.label(), 5);
    }

    #[test]
    fn sanitised_registers() {
        assert_eq!(sanitise_register(reg::RIP, 0x0000_8000_0000_0000), 0);
        assert_eq!(sanitise_register(reg::RIP, 0x40_1000), 0x40_1000);
        assert_eq!(sanitise_register(reg::RFLAGS, u64::MAX), 0xfff & !(1 << 8) & !0x28);
        assert_eq!(sanitise_register(reg::RFLAGS, 0), 0x202);
        assert_eq!(sanitise_register(reg::RAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn only_cap_faults_of_blocking_calls_are_faults() {
        let e = SyscallError::CapFault { cptr: 9, fault: LookupFault::InvalidRoot };
        assert_eq!(Fault::from_syscall_error(&e, Syscall::NBSend), None);
        assert_eq!(
            Fault::from_syscall_error(&e, Syscall::ReplyRecv),
            Some(Fault::CapFault {
                address: 9,
                in_receive_phase: true,
                lookup_failure: LookupFault::InvalidRoot
            })
        );
        assert!(matches!(
            Fault::from_syscall_error(&e, Syscall::Call),
            Some(Fault::CapFault { in_receive_phase: false, .. })
        ));
        assert_eq!(Fault::from_syscall_error(&SyscallError::IllegalOperation, Syscall::Call), None);
    }
}
