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
//! The message layouts are each arch's (`seL4_FaultType` labels; the CapFault and VMFault words
//! the same on both; the registers an UnknownSyscall or UserException message carries are
//! x86_64's `SYSCALL_MESSAGE` / `EXCEPTION_MESSAGE` or riscv64's), read from the faulting
//! thread's TCB when the message is sent, as seL4 reads its saved context. A receiver without an
//! IPC buffer gets the words that fit its four message registers, as in seL4.
//!
//! Deviations: a fault IPC that is cancelled drops the fault (see [`set_thread_state`]); and the
//! "no fault handler" report seL4 prints is not made (no console in this crate).

use abi::{Arch, Syscall};
use arrayvec::ArrayVec;

use gears::Next;

use crate::cap::{Cap, ObjPtr, SlotRef, WORD_BITS};
use crate::cspace::CSpace;
use crate::endpoint::{EpCap, Ipc, send_ipc};
use crate::error::{LookupFault, SyscallError};
use crate::kernel::{Done, Kernel, LookupCursor, LookupPurpose, Request, tcb_slot};
use crate::mem::PhysMem;
use crate::message::{MSG_REGISTERS, get_mr, lookup_ipc_buffer, set_message};
use crate::object::{ObjectStore, Tcb, ThreadState};
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
/// holds them now), in `arch`'s layout.
pub fn set_mrs_fault(sender: &Tcb, arch: Arch, fault: &Fault) -> ArrayVec<u64, 32> {
    let regs = &sender.registers;
    let ip = regs[arch.ip_register()];
    let mut words = ArrayVec::new();
    match *fault {
        Fault::CapFault { address, in_receive_phase, lookup_failure } => {
            words.extend([ip, address, in_receive_phase as u64]);
            words.extend(lookup_failure.words());
        }
        Fault::UnknownSyscall { syscall_number } => {
            words.extend(arch.unknown_syscall_registers().iter().map(|&r| regs[r]));
            words.push(syscall_number);
        }
        Fault::UserException { number, code } => {
            words.extend(arch.user_exception_registers().iter().map(|&r| regs[r]));
            words.extend([number, code]);
        }
        Fault::VMFault { address, fsr, instruction_fault } => {
            words.extend([ip, address, instruction_fault as u64, fsr]);
        }
    }
    words
}

/// `doFaultTransfer`: the receiver gets the sender's fault message (words past the four
/// message registers only if it has an IPC buffer), the fault's label, and the badge of the cap
/// the fault was sent through.
pub fn do_fault_transfer(
    ipc: &mut Ipc<'_>,
    badge: u64,
    sender: ObjPtr,
    receiver: ObjPtr,
    buffer: Option<u64>,
) {
    let s = ipc.objects.tcb(sender);
    let Some(fault) = s.fault else { return };
    let words = set_mrs_fault(&s, ipc.arch, &fault);
    set_message(ipc.objects, ipc.mem, ipc.arch, receiver, buffer, fault.label(), badge, &words);
}

/// `sanitiseRegister`: x86_64 instruction and segment-base addresses must be canonical (else
/// 0), and FLAGS keeps only what a user may set (IF on, TF off, the fixed bits, 12 bits);
/// riscv64 takes every value as it is.
pub fn sanitise_register(arch: Arch, r: usize, v: u64) -> u64 {
    use abi::x86_64::reg;
    const FLAGS_TF: u64 = 1 << 8;
    const FLAGS_IF: u64 = 1 << 9;
    const FLAGS_HIGH: u64 = 1 << 1;
    const FLAGS_LOW: u64 = (1 << 3) | (1 << 5);
    const FLAGS_MASK: u64 = (1 << 12) - 1;
    if arch == Arch::Riscv64 {
        return v;
    }
    match r {
        reg::RIP | reg::FS_BASE | reg::GS_BASE if v > 0x0000_7fff_ffff_ffff && v < 0xffff_8000_0000_0000 => 0,
        reg::RFLAGS => ((v | FLAGS_HIGH | FLAGS_IF) & !FLAGS_LOW & !FLAGS_TF) & FLAGS_MASK,
        _ => v,
    }
}

/// `handleFaultReply`: the reply to a fault. A cap fault or VM fault reply just restarts the
/// thread; an UnknownSyscall or UserException reply writes its first message words into the
/// registers its fault message carried (`copyMRsFaultReply`, sanitised; words past the message
/// registers only from the replier's IPC buffer) and restarts the thread only if its label is 0.
/// Returns whether the thread restarts.
pub fn handle_fault_reply(ipc: &mut Ipc<'_>, receiver: ObjPtr, sender: ObjPtr) -> bool {
    let arch = ipc.arch;
    let send_buffer = lookup_ipc_buffer(ipc.cspace, ipc.objects, sender, false);
    let s = ipc.objects.tcb(sender);
    let tag = s.msg_info(arch);
    let layout: &[usize] = match ipc.objects.tcb(receiver).fault {
        Some(Fault::UnknownSyscall { .. }) => arch.unknown_syscall_registers(),
        Some(Fault::UserException { .. }) => arch.user_exception_registers(),
        _ => return true,
    };
    let n = (tag.length() as usize).min(layout.len());
    let words: ArrayVec<u64, 32> =
        (0..n).map(|i| get_mr(ipc.objects, sender, arch, ipc.mem, send_buffer, i).unwrap_or(0)).collect();
    let mut r = ipc.objects.tcb_mut(receiver);
    let available = if send_buffer.is_some() { n } else { n.min(MSG_REGISTERS) };
    for (&reg, &v) in layout.iter().zip(&words).take(available) {
        r.registers[reg] = sanitise_register(arch, reg, v);
    }
    tag.label() == 0
}

gears::code_gear! {
    /// `handleFault`: the thread in `request.thread` took `request.fault`; look up its fault
    /// handler cptr (`tcbFaultHandler`) in its own CSpace, one level per gear
    /// (`sendFaultIPC`'s `lookupCap`). The thread must be runnable and a fault given
    /// (IllegalOperation otherwise: only a running thread faults).
    pub fn handle_fault(ctx: Kernel; cspace: &CSpace, objects: &ObjectStore, request: &Request, lookup: &mut LookupCursor) {
        let tcb = objects.tcb(request.thread);
        let true = tcb.state.is_runnable() else {
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
    pub fn send_fault_ipc(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, mem: &mut PhysMem, arch: &Arch, request: &Request, lookup: &LookupCursor) {
        let handler = lookup.slot.map(|s| cspace.cap(s)).unwrap_or_default();
        let (Cap::Endpoint { ptr, badge, rights }, Some(fault)) = (handler, request.fault) else {
            return Next::Goto(&HANDLE_DOUBLE_FAULT);
        };
        if !rights.write || !(rights.grant || rights.grant_reply) {
            return Next::Goto(&HANDLE_DOUBLE_FAULT);
        }
        let thread = request.thread;
        { let mut t = objects.tcb_mut(thread);
            t.fault = Some(fault);
        }
        let cap = EpCap { ep: ptr, badge, can_grant: rights.grant, can_grant_reply: true };
        send_ipc(&mut Ipc { cspace, objects, sched, mem, arch: *arch }, true, true, cap, thread);
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
    fn message_layouts_match_sel4() {
        let mut t = Tcb::default();
        for (i, r) in t.registers.iter_mut().enumerate() {
            *r = 100 + i as u64;
        }
        let cap = Fault::CapFault {
            address: 7,
            in_receive_phase: true,
            lookup_failure: LookupFault::GuardMismatch { bits_left: 64, guard_found: 3, guard_size: 2 },
        };
        let vm = Fault::VMFault { address: 0xdead, fsr: 6, instruction_fault: false };
        let ue = Fault::UserException { number: 6, code: 0 };
        let un = Fault::UnknownSyscall { syscall_number: 42 };
        for arch in [Arch::X86_64, Arch::Riscv64] {
            assert_eq!(set_mrs_fault(&t, arch, &cap).as_slice(), [100, 7, 1, 4, 64, 3, 2]);
            assert_eq!(set_mrs_fault(&t, arch, &vm).as_slice(), [100, 0xdead, 0, 6]);
        }
        // x86_64: FaultIP, SP, FLAGS; RAX … R15, FaultIP, SP, FLAGS, number.
        assert_eq!(set_mrs_fault(&t, Arch::X86_64, &ue).as_slice(), [100, 101, 102, 6, 0]);
        let us = set_mrs_fault(&t, Arch::X86_64, &un);
        assert_eq!(us.len(), abi::x86_64::fault::UNKNOWN_SYSCALL_LENGTH);
        assert_eq!((us[0], us[1], us[15], us[16], us[17], us[18]), (103, 104, 100, 101, 102, 42));
        // riscv64: FaultIP, SP; FaultIP, SP, RA, A0 … A6, number.
        assert_eq!(set_mrs_fault(&t, Arch::Riscv64, &ue).as_slice(), [100, 102, 6, 0]);
        let us = set_mrs_fault(&t, Arch::Riscv64, &un);
        assert_eq!(us.len(), abi::riscv64::fault::UNKNOWN_SYSCALL_LENGTH);
        assert_eq!(us.as_slice(), [100, 102, 101, 116, 117, 118, 119, 120, 121, 122, 42]);
        assert_eq!((cap.label(), vm.label()), (abi::fault::CAP_FAULT, abi::fault::VM_FAULT));
    }

    #[test]
    fn sanitised_registers() {
        use abi::x86_64::reg;
        let x = Arch::X86_64;
        assert_eq!(sanitise_register(x, reg::RIP, 0x0000_8000_0000_0000), 0);
        assert_eq!(sanitise_register(x, reg::RIP, 0x40_1000), 0x40_1000);
        assert_eq!(sanitise_register(x, reg::RFLAGS, u64::MAX), 0xfff & !(1 << 8) & !0x28);
        assert_eq!(sanitise_register(x, reg::RFLAGS, 0), 0x202);
        assert_eq!(sanitise_register(x, reg::RAX, u64::MAX), u64::MAX);
        assert_eq!(sanitise_register(Arch::Riscv64, 0, 0x0000_8000_0000_0000), 0x0000_8000_0000_0000);
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
