//! The system call as gears: `handleSyscall`, `handleReply`, `handleRecv`.

use abi::{Arch, Syscall};
use gears::Next;

use crate::cap::{Cap, SlotRef, WORD_BITS};
use crate::cspace::CSpace;
use crate::endpoint::{EpCap, Ipc};
use crate::error::{LookupFault, SyscallError};
use crate::kernel::{Done, Kernel, LookupCursor, LookupPurpose, Request, tcb_slot};
use crate::mem::PhysMem;
use crate::object::ObjectStore;
use crate::thread::{Scheduler, yield_thread};

gears::code_gear! {
    /// `handleSyscall`: Call, Send and NBSend go to `handle_invocation`, Recv and NBRecv to
    /// `handle_recv`, Reply and ReplyRecv to `handle_reply` (Call and ReplyRecv through the
    /// fastpath's gear first, [`crate::fastpath`], which takes their common case); Yield moves the caller to the back
    /// of its ready queue. Any other call is `handleUnknownSyscall`'s: an UnknownSyscall fault
    /// ([`HANDLE_FAULT`](crate::fault::HANDLE_FAULT)). The caller must be a runnable thread
    /// (`IllegalOperation` otherwise: the kernel only runs runnable threads).
    pub fn handle_syscall(ctx: Kernel; objects: &mut ObjectStore, sched: &mut Scheduler, request: &mut Request) {
        if !objects.thread_state(request.thread).is_runnable() {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let Some(syscall) = request.syscall else { return Next::Fail(SyscallError::IllegalOperation) };
        match syscall {
            Syscall::Call => Next::Goto(&crate::fastpath::FASTPATH_CALL),
            Syscall::Send | Syscall::NBSend => Next::Goto(&crate::lookup::HANDLE_INVOCATION),
            Syscall::Recv | Syscall::NBRecv => Next::Goto(&HANDLE_RECV),
            Syscall::ReplyRecv => Next::Goto(&crate::fastpath::FASTPATH_REPLY_RECV),
            Syscall::Reply => Next::Goto(&HANDLE_REPLY),
            Syscall::Yield => {
                yield_thread(objects, sched, request.thread);
                Next::Exit(Done::Ok)
            }
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
    pub fn handle_reply(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, mem: &mut PhysMem, arch: &Arch, request: &Request) {
        let slot = SlotRef::of(request.thread, tcb_slot::CALLER);
        if let Cap::Reply { tcb, master: false, can_grant } = cspace.cap(slot)
            && tcb != request.thread
        {
            let mut ipc = Ipc { cspace, objects, sched, mem, arch: *arch };
            crate::endpoint::do_reply_transfer(&mut ipc, request.thread, tcb, slot, can_grant);
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
    pub fn handle_recv_cap_found(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, mem: &mut PhysMem, arch: &Arch, request: &Request, lookup: &LookupCursor) {
        let fault = SyscallError::CapFault { cptr: request.cptr, fault: LookupFault::MissingCapability { bits_left: 0 } };
        let Some(slot) = lookup.slot else { return Next::Fail(fault) };
        let blocking = request.syscall != Some(Syscall::NBRecv);
        let thread = request.thread;
        match cspace.cap(slot) {
            Cap::Endpoint { ptr, badge, rights } if rights.read => {
                crate::endpoint::delete_caller_cap(cspace, thread);
                let cap = EpCap { ep: ptr, badge, can_grant: rights.grant, can_grant_reply: rights.grant_reply };
                crate::endpoint::receive_ipc(&mut Ipc { cspace, objects, sched, mem, arch: *arch }, thread, cap, blocking);
            }
            Cap::Notification { ptr, rights, .. } if rights.read => {
                let bound = objects.notification(ptr).bound_tcb;
                if bound.is_some_and(|b| b != thread) {
                    return Next::Fail(fault);
                }
                crate::notification::receive_signal(objects, sched, *arch, thread, ptr, blocking);
            }
            _ => return Next::Fail(fault),
        }
        if objects.thread_state(thread).is_runnable() { Next::Exit(Done::Ok) } else { Next::Exit(Done::Blocked) }
    }
}
