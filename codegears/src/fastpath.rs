//! The IPC fastpath as gears, after seL4's `fastpath_call` and `fastpath_reply_recv`
//! (`src/fastpath/fastpath.c`): the common case of a client's `seL4_Call` to a server waiting
//! on the endpoint, and of the server's `seL4_ReplyRecv` back to a client waiting for the
//! reply, each in one gear instead of the general chain (lookup, decode, invoke, send or
//! reply, receive).
//!
//! Each gear checks first, changing nothing, that the call is one it covers: a message of at
//! most the four words in registers and no caps, an endpoint cap with the rights the call needs,
//! the other side waiting in the state the general path would find it in, and no fault to
//! deliver. Anything else goes on to the general gears, which then see the call as if the
//! fastpath were not there. What a covered call leaves behind is what the general gears leave
//! (host test `fastpath_leaves_what_the_general_path_leaves`): the same thread states and queues,
//! registers, reply cap and CDT links. Unlike seL4's fastpath, which switches to the other thread
//! directly, the gears leave the choice of the next thread to the scheduler, as the general path
//! does; the tracer, the invariant checker and the model checker see the fastpath's gear like any
//! other.

use abi::{Arch, MessageInfo};
use gears::Next;

use crate::cap::ObjPtr;
use crate::cap::{Cap, SlotRef};
use crate::cspace::CSpace;
use crate::endpoint::{ep_append, ep_dequeue, lookup_cap, setup_caller_cap};
use crate::kernel::{Done, Kernel, Request, tcb_slot};
use crate::message::{MSG_REGISTERS, copy_mr_registers};
use crate::object::{EpState, NtfnState, ObjectStore, ThreadState};
use crate::thread::{Scheduler, delete_reply_cap, set_thread_state};

/// Whether the message fits the fastpath: all of it in registers, no caps.
fn short_message(info: MessageInfo) -> bool {
    info.extra_caps() == 0 && info.length() <= MSG_REGISTERS as u64
}

/// The registers' message, as `doIPCTransfer` leaves it for a message without caps: the first
/// `info.length()` words copied, the receiver's MessageInfo (label, length) and badge set.
fn transfer_registers(
    objects: &mut ObjectStore,
    arch: Arch,
    info: MessageInfo,
    sender: ObjPtr,
    receiver: ObjPtr,
    badge: u64,
) {
    let regs = arch.syscall_registers();
    let len = copy_mr_registers(objects, arch, sender, receiver, info.length() as usize) as u64;
    objects.set_register(receiver, regs.info, MessageInfo::new(info.label(), 0, 0, len).word());
    objects.set_register(receiver, regs.badge, badge);
}

/// What both fastpaths ask first: a short message from a caller with no fault, through a cap that
/// is an endpoint's. Its endpoint, badge and rights, or `None` for the general gears.
fn short_call_to_endpoint(
    cspace: &CSpace,
    objects: &ObjectStore,
    request: &Request,
) -> Option<(ObjPtr, u64, abi::CapRights)> {
    if !short_message(request.info) || objects.has_fault(request.thread) {
        return None;
    }
    match lookup_cap(cspace, request.thread, request.cptr) {
        Some((Cap::Endpoint { ptr, badge, rights }, _)) => Some((ptr, badge, rights)),
        _ => None,
    }
}

gears::code_gear! {
    /// `fastpath_call`: a Call of a short message through an endpoint cap that may send and
    /// grant (or grant the reply), to an endpoint whose first waiting thread receives, from a
    /// caller with no fault. The receiver leaves the endpoint's queue with the message and
    /// becomes runnable; the caller waits for the reply, whose cap goes into the receiver's
    /// caller slot. Otherwise: the general `handleInvocation`.
    pub fn fastpath_call(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, arch: &Arch, request: &Request) {
        let general = Next::Goto(&crate::lookup::HANDLE_INVOCATION);
        let thread = request.thread;
        let Some((ep, badge, rights)) = short_call_to_endpoint(cspace, objects, request) else { return general };
        if !rights.write || !(rights.grant || rights.grant_reply) {
            return general;
        }
        let e = objects.endpoint(ep);
        let (EpState::Recv, Some(dest)) = (e.state, e.queue.head) else { return general };
        let ThreadState::BlockedOnReceive { can_grant: reply_can_grant, .. } = objects.thread_state(dest) else {
            return general;
        };
        ep_dequeue(objects, ep, dest);
        transfer_registers(objects, *arch, request.info, thread, dest, badge);
        set_thread_state(objects, sched, dest, ThreadState::Running);
        setup_caller_cap(cspace, objects, sched, thread, dest, reply_can_grant);
        Next::Exit(Done::Blocked)
    }
}

gears::code_gear! {
    /// `fastpath_reply_recv`: a ReplyRecv of a short message, whose caller slot holds the reply
    /// cap of a thread waiting for its reply with no fault, through an endpoint cap that may
    /// receive, on an endpoint no sender waits on, by a thread whose bound notification (if any)
    /// holds no signal. The reply goes to the waiting thread, which becomes runnable; the reply
    /// cap is deleted; the caller waits on the endpoint. Otherwise: the general `handleReply`.
    pub fn fastpath_reply_recv(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, arch: &Arch, request: &Request) {
        let general = Next::Goto(&crate::syscall::HANDLE_REPLY);
        let thread = request.thread;
        let Some((ep, _, rights)) = short_call_to_endpoint(cspace, objects, request) else { return general };
        if !rights.read || objects.endpoint(ep).state == EpState::Send {
            return general;
        }
        if let Some(n) = objects.bound_notification(thread)
            && objects.notification(n).state == NtfnState::Active
        {
            return general;
        }
        let slot = SlotRef::of(thread, tcb_slot::CALLER);
        let Cap::Reply { tcb: caller, master: false, .. } = cspace.cap(slot) else { return general };
        if caller == thread || objects.thread_state(caller) != ThreadState::BlockedOnReply || objects.has_fault(caller) {
            return general;
        }
        // handleReply: doReplyTransfer (badge 0), the reply cap deleted, the caller runnable.
        transfer_registers(objects, *arch, request.info, thread, caller, 0);
        delete_reply_cap(cspace, slot);
        set_thread_state(objects, sched, caller, ThreadState::Running);
        // handleRecv: the caller slot is empty already; receiveIPC finds no sender and waits.
        set_thread_state(objects, sched, thread, ThreadState::BlockedOnReceive { ep, can_grant: rights.grant });
        ep_append(objects, ep, thread, EpState::Recv);
        Next::Exit(Done::Blocked)
    }
}
