//! The system-call entry as a gear (`handleSyscall`), the MessageInfo word, and the reply the
//! kernel writes for a failed call (`replyFromKernel_error`).

use abi::{MessageInfo, Syscall};
use alloc::vec;
use alloc::vec::Vec;

use gears::Next;

use crate::cap::{Cap, SlotRef, WORD_BITS};
use crate::cspace::CSpace;
use crate::endpoint::EpCap;
use crate::error::{LookupFault, SyscallError};
use crate::kernel::{Done, Kernel, LookupCursor, LookupPurpose, Request, tcb_slot};
use crate::object::ObjectStore;
use crate::thread::{Scheduler, yield_thread};

gears::code_gear! {
    /// `handleSyscall`: decode the MessageInfo and go to `handle_invocation` for
    /// Call, Send and NBSend, to `handle_recv` for Recv and NBRecv, to `handle_reply` for Reply and
    /// ReplyRecv; Yield moves the caller to the back of its ready queue; any other number is
    /// `handleUnknownSyscall`, an UnknownSyscall fault ([`HANDLE_FAULT`](crate::fault::HANDLE_FAULT)). The caller must be a
    /// runnable thread (`IllegalOperation` otherwise: the kernel only runs runnable threads).
    pub fn handle_syscall(ctx: Kernel; objects: &mut ObjectStore, sched: &mut Scheduler, request: &mut Request) {
        if !objects.tcb(request.thread).is_some_and(|t| t.state.is_runnable()) {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let info = MessageInfo::from_word(request.info);
        request.label = info.label();
        request.mrs.truncate(info.length() as usize);
        request.mrs.resize(info.length() as usize, 0);
        request.extra_cptrs.truncate(info.extra_caps() as usize);
        let Some(syscall) = request.syscall else { return Next::Fail(SyscallError::IllegalOperation) };
        match syscall {
            Syscall::Call | Syscall::Send | Syscall::NBSend => {
                request.is_call = syscall == Syscall::Call;
                Next::Goto(&crate::lookup::HANDLE_INVOCATION)
            }
            Syscall::Recv | Syscall::NBRecv => Next::Goto(&HANDLE_RECV),
            Syscall::Reply | Syscall::ReplyRecv => Next::Goto(&HANDLE_REPLY),
            Syscall::Yield => {
                yield_thread(objects, sched, request.thread);
                Next::Exit(Done::Ok)
            }
            // handleUnknownSyscall: any other number is an UnknownSyscall fault.
            _ => {
                request.fault = Some(crate::fault::Fault::UnknownSyscall { syscall_number: syscall.word() });
                Next::Goto(&crate::fault::HANDLE_FAULT)
            }
        }
    }
}

gears::code_gear! {
    /// `handleReply`: reply through the caller's reply cap (its caller slot), if it holds one;
    /// then ReplyRecv goes on to receive (a receive that faults leaves the reply done, as in seL4).
    pub fn handle_reply(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, request: &Request) {
        let slot = SlotRef::of(request.thread, tcb_slot::CALLER);
        if let Cap::Reply { tcb, master: false, can_grant } = cspace.cap(slot)
            && tcb != request.thread
        {
            save_message(objects, request);
            crate::endpoint::do_reply_transfer(cspace, objects, sched, request.thread, tcb, slot, can_grant);
        }
        if request.syscall == Some(Syscall::ReplyRecv) {
            Next::Goto(&HANDLE_RECV)
        } else {
            Next::Exit(Done::Ok)
        }
    }
}

gears::code_gear! {
    /// `handleRecv`'s lookup: resolve the cptr in the caller's CSpace (a failed lookup is a cap
    /// fault).
    pub fn handle_recv(ctx: Kernel; cspace: &CSpace, request: &Request, lookup: &mut LookupCursor) {
        let root = cspace.cap(SlotRef::of(request.thread, tcb_slot::CTABLE));
        lookup.start(root, request.cptr, WORD_BITS, LookupPurpose::Invoked, Some(&HANDLE_RECV_CAP_FOUND));
        Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS)
    }
}

gears::code_gear! {
    /// `handleRecv` on the cap found: an endpoint cap with the read right deletes the caller cap
    /// and receives (`receiveIPC`); a notification cap with the read right, not bound to another
    /// thread, waits or polls (`receiveSignal`); anything else is a cap fault (missing capability).
    /// Ends with [`Done::Blocked`] when the caller waits.
    pub fn handle_recv_cap_found(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, request: &Request, lookup: &LookupCursor) {
        let fault = SyscallError::CapFault { cptr: request.cptr, fault: LookupFault::MissingCapability { bits_left: 0 } };
        let Some(slot) = lookup.slot else { return Next::Fail(fault) };
        let blocking = request.syscall != Some(Syscall::NBRecv);
        let thread = request.thread;
        match cspace.cap(slot) {
            Cap::Endpoint { ptr, badge, rights } if rights.read => {
                crate::endpoint::delete_caller_cap(cspace, thread);
                let cap = EpCap { ep: ptr, badge, can_grant: rights.grant, can_grant_reply: rights.grant_reply };
                crate::endpoint::receive_ipc(cspace, objects, sched, thread, cap, blocking);
            }
            Cap::Notification { ptr, rights, .. } if rights.read => {
                let bound = objects.notification(ptr).and_then(|n| n.bound_tcb);
                if bound.is_some_and(|b| b != thread) {
                    return Next::Fail(fault);
                }
                crate::notification::receive_signal(objects, sched, thread, ptr, blocking);
            }
            _ => return Next::Fail(fault),
        }
        match objects.tcb(thread) {
            Some(t) if !t.state.is_runnable() => Next::Exit(Done::Blocked),
            _ => Next::Exit(Done::Ok),
        }
    }
}

/// The caller's message as its user registers and IPC buffer hold it (MessageInfo, message
/// words, extra cptrs), written into its TCB where a transfer reads it. Only the gears that send
/// (and cannot fail any more) call this, so a failed system call changes nothing.
pub fn save_message(objects: &mut ObjectStore, request: &Request) {
    if let Some(t) = objects.tcb_mut(request.thread) {
        t.msg_info = request.info;
        t.ipc_buffer.msg.clone_from(&request.mrs);
        t.ipc_buffer.caps_or_badges.clone_from(&request.extra_cptrs);
    }
}

/// `setMRs_lookup_failure`: the lookup fault's words (type first, 1-based as in seL4).
pub fn lookup_fault_words(f: &LookupFault) -> Vec<u64> {
    match *f {
        LookupFault::InvalidRoot => vec![1],
        LookupFault::MissingCapability { bits_left } => vec![2, bits_left],
        LookupFault::DepthMismatch { bits_left, bits_found } => vec![3, bits_left, bits_found],
        LookupFault::GuardMismatch { bits_left, guard_found, guard_size } => {
            vec![4, bits_left, guard_found, guard_size]
        }
    }
}

/// `replyFromKernel_error`: the MessageInfo (label = error code) and words of the error reply.
/// `None` for a cap fault, which goes to the fault handler instead.
pub fn reply_from_kernel_error(e: &SyscallError) -> Option<(MessageInfo, Vec<u64>)> {
    let code = e.error()?.code();
    let mrs = match *e {
        SyscallError::InvalidArgument { arg } => vec![arg],
        SyscallError::InvalidCapability { cap } => vec![cap],
        SyscallError::RangeError { min, max } => vec![min, max],
        SyscallError::FailedLookup { source, fault } => {
            let mut v = vec![source as u64];
            v.extend(lookup_fault_words(&fault));
            v
        }
        SyscallError::NotEnoughMemory { available } => vec![available],
        _ => Vec::new(),
    };
    Some((MessageInfo::new(code, 0, 0, mrs.len() as u64), mrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_replies_carry_sel4_words() {
        let (info, mrs) = reply_from_kernel_error(&SyscallError::RangeError { min: 1, max: 20 }).unwrap();
        assert_eq!((info.label(), info.length(), mrs), (4, 2, vec![1, 20]));
        let e = SyscallError::FailedLookup {
            source: true,
            fault: LookupFault::MissingCapability { bits_left: 3 },
        };
        assert_eq!(reply_from_kernel_error(&e).unwrap().1, vec![1, 2, 3]);
        let f = SyscallError::CapFault { cptr: 0, fault: LookupFault::InvalidRoot };
        assert!(reply_from_kernel_error(&f).is_none());
    }
}
