//! Endpoints, after seL4's `src/object/endpoint.c` and the IPC half of `src/kernel/thread.c`:
//! `sendIPC`, `receiveIPC`, `doIPCTransfer` with `transferCaps`, `setupCallerCap`,
//! `doReplyTransfer`, and `cancelAllIPC` / `cancelBadgedSends` as preemptible gear loops that
//! release one queued thread per gear (seL4 runs them unpreempted: its issues 1736 and 1737).
//!
//! Each function here does O(1) queue and slot operations plus at most four CSpace lookups of at
//! most 64 levels (the extra caps and the receive slot of a transfer): bounded, whatever the
//! queue lengths.

use abi::{Arch, IpcBuffer, MSG_MAX_EXTRA_CAPS, MessageInfo, Syscall};
use arrayvec::ArrayVec;
use gears::Next;

use crate::cap::{Cap, ObjPtr, SlotRef, WORD_BITS};
use crate::cdt::{cte_insert, derive_cap};
use crate::cspace::CSpace;
use crate::kernel::{CancelCursor, Kernel, Request, tcb_slot};
use crate::lookup::{resolve_address_bits_now, set_restart};
use crate::mem::PhysMem;
use crate::message::{MSG_REGISTERS, buffer_word, copy_mrs, lookup_ipc_buffer};
use crate::object::{EpState, ObjectStore, ThreadState};
use crate::thread::{
    QueueKind, Scheduler, delete_reply_cap, queue_append, queue_remove, set_thread_state, setup_reply_master,
};

/// `tcbEPAppend` + the endpoint's new state: `t` waits at the tail of `ep`'s queue.
pub fn ep_append(objects: &mut ObjectStore, ep: ObjPtr, t: ObjPtr, state: EpState) {
    let q = queue_append(objects, objects.endpoint(ep).queue, t, QueueKind::Ep);
    objects.endpoint_mut(ep).set(|e| {
        e.queue = q;
        e.state = state;
    });
}

/// `tcbEPDequeue`: `t` leaves `ep`'s queue (Idle when it empties).
pub fn ep_dequeue(objects: &mut ObjectStore, ep: ObjPtr, t: ObjPtr) {
    let q = queue_remove(objects, objects.endpoint(ep).queue, t, QueueKind::Ep);
    objects.endpoint_mut(ep).set(|e| {
        e.queue = q;
        if q.is_empty() {
            e.state = EpState::Idle;
        }
    });
}

/// The rights and badge of the endpoint cap a send or receive uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct EpCap {
    /// The endpoint.
    pub ep: ObjPtr,
    /// The cap's badge.
    pub badge: u64,
    /// `capCanGrant`.
    pub can_grant: bool,
    /// `capCanGrantReply`.
    pub can_grant_reply: bool,
}

/// The kernel state a message transfer reaches: slots (caps sent, reply caps), threads and
/// their registers, the ready queues, and memory (IPC buffers).
pub struct Ipc<'a> {
    /// Every slot.
    pub cspace: &'a mut CSpace,
    /// Every object.
    pub objects: &'a mut ObjectStore,
    /// The ready queues.
    pub sched: &'a mut Scheduler,
    /// Physical memory.
    pub mem: &'a mut PhysMem,
    /// Whose registers carry a message where.
    pub arch: Arch,
}

/// `sendIPC`: deliver to the first waiting receiver, or queue `thread` as a sender (`blocking`),
/// or drop the message (NBSend). A Call whose cap may grant (or grant-reply) leaves the caller
/// waiting for the reply with a reply cap in the receiver's caller slot; without either right it
/// leaves the caller Inactive, as seL4 does.
pub fn send_ipc(ipc: &mut Ipc<'_>, blocking: bool, do_call: bool, cap: EpCap, thread: ObjPtr) {
    let e = ipc.objects.endpoint(cap.ep);
    match (e.state, e.queue.head) {
        (EpState::Recv, Some(dest)) => {
            ep_dequeue(ipc.objects, cap.ep, dest);
            do_ipc_transfer(ipc, thread, Some(cap.ep), cap.badge, cap.can_grant, dest);
            let reply_can_grant = matches!(
                ipc.objects.thread_state(dest),
                ThreadState::BlockedOnReceive { can_grant: true, .. }
            );
            set_thread_state(ipc.objects, ipc.sched, dest, ThreadState::Running);
            if do_call {
                if cap.can_grant || cap.can_grant_reply {
                    setup_caller_cap(ipc.cspace, ipc.objects, ipc.sched, thread, dest, reply_can_grant);
                } else {
                    set_thread_state(ipc.objects, ipc.sched, thread, ThreadState::Inactive);
                }
            }
        }
        _ if blocking => {
            let state = ThreadState::BlockedOnSend {
                ep: cap.ep,
                badge: cap.badge,
                can_grant: cap.can_grant,
                can_grant_reply: cap.can_grant_reply,
                is_call: do_call,
            };
            set_thread_state(ipc.objects, ipc.sched, thread, state);
            ep_append(ipc.objects, cap.ep, thread, EpState::Send);
        }
        _ => {}
    }
}

/// `receiveIPC`: a pending signal on the bound notification wins; else take the first waiting
/// sender's message, or wait (`blocking`), or leave with badge 0 (NBRecv, `doNBRecvFailedTransfer`).
pub fn receive_ipc(ipc: &mut Ipc<'_>, thread: ObjPtr, cap: EpCap, blocking: bool) {
    let bound = ipc.objects.bound_notification(thread);
    if let Some(n) = bound
        && crate::notification::complete_signal(ipc.objects, ipc.arch, n, thread)
    {
        return;
    }
    let e = ipc.objects.endpoint(cap.ep);
    match (e.state, e.queue.head) {
        (EpState::Send, Some(sender)) => {
            ep_dequeue(ipc.objects, cap.ep, sender);
            let ThreadState::BlockedOnSend { badge, can_grant, can_grant_reply, is_call, .. } =
                ipc.objects.thread_state(sender)
            else {
                return;
            };
            do_ipc_transfer(ipc, sender, Some(cap.ep), badge, can_grant, thread);
            if is_call {
                if can_grant || can_grant_reply {
                    setup_caller_cap(ipc.cspace, ipc.objects, ipc.sched, sender, thread, cap.can_grant);
                } else {
                    set_thread_state(ipc.objects, ipc.sched, sender, ThreadState::Inactive);
                }
            } else {
                set_thread_state(ipc.objects, ipc.sched, sender, ThreadState::Running);
            }
        }
        _ if blocking => {
            let state = ThreadState::BlockedOnReceive { ep: cap.ep, can_grant: cap.can_grant };
            set_thread_state(ipc.objects, ipc.sched, thread, state);
            ep_append(ipc.objects, cap.ep, thread, EpState::Recv);
        }
        _ => {
            ipc.objects.set_register(thread, ipc.arch.syscall_registers().badge, 0);
        }
    }
}

/// `setupCallerCap`: the sender waits for a reply; a reply cap to it, child of its master reply
/// cap, goes into the receiver's caller slot.
pub fn setup_caller_cap(
    cspace: &mut CSpace,
    objects: &mut ObjectStore,
    sched: &mut Scheduler,
    sender: ObjPtr,
    receiver: ObjPtr,
    can_grant: bool,
) {
    set_thread_state(objects, sched, sender, ThreadState::BlockedOnReply);
    setup_reply_master(cspace, sender);
    let caller = SlotRef::of(receiver, tcb_slot::CALLER);
    delete_reply_cap(cspace, caller);
    if cspace.cap(caller).is_null() {
        let cap = Cap::Reply { tcb: sender, master: false, can_grant };
        cte_insert(cspace, cap, SlotRef::of(sender, tcb_slot::REPLY), caller);
    }
}

/// `deleteCallerCap`: the thread's caller slot is emptied (before it receives again).
pub fn delete_caller_cap(cspace: &mut CSpace, thread: ObjPtr) {
    delete_reply_cap(cspace, SlotRef::of(thread, tcb_slot::CALLER));
}

/// `doReplyTransfer`: the reply cap in `slot` is deleted and the waiting caller runs again with
/// the reply's message; a caller waiting on a fault instead gets `handleFaultReply` (its
/// registers may be set from the reply) and restarts, or stops if the reply says so.
pub fn do_reply_transfer(ipc: &mut Ipc<'_>, sender: ObjPtr, receiver: ObjPtr, slot: SlotRef, grant: bool) {
    if ipc.objects.thread_state(receiver) != ThreadState::BlockedOnReply {
        return;
    }
    if ipc.objects.has_fault(receiver) {
        delete_reply_cap(ipc.cspace, slot);
        let restart = crate::fault::handle_fault_reply(ipc, receiver, sender);
        let state = if restart { ThreadState::Restart } else { ThreadState::Inactive };
        set_thread_state(ipc.objects, ipc.sched, receiver, state);
        return;
    }
    do_ipc_transfer(ipc, sender, None, 0, grant, receiver);
    delete_reply_cap(ipc.cspace, slot);
    set_thread_state(ipc.objects, ipc.sched, receiver, ThreadState::Running);
}

/// `lookupCap` of a thread: the cap a 64-bit cptr names in its CSpace (Null if the lookup fails).
pub(crate) fn lookup_cap(cspace: &CSpace, thread: ObjPtr, cptr: u64) -> Option<(Cap, SlotRef)> {
    let root = cspace.cap(SlotRef::of(thread, tcb_slot::CTABLE));
    let (slot, _) = resolve_address_bits_now(cspace, root, cptr, WORD_BITS).ok()?;
    Some((cspace.cap(slot), slot))
}

/// `lookupExtraCaps` of a (possibly blocked) sender: the slots of the extra caps its IPC
/// buffer names, or none if any lookup fails (or it has no buffer).
fn lookup_extra_caps(
    cspace: &CSpace,
    mem: &PhysMem,
    sender: ObjPtr,
    buffer: Option<u64>,
    count: u64,
) -> ArrayVec<SlotRef, { MSG_MAX_EXTRA_CAPS as usize }> {
    let mut slots = ArrayVec::new();
    let Some(b) = buffer else { return slots };
    for i in 0..count.min(MSG_MAX_EXTRA_CAPS) as usize {
        let cptr = mem.read(buffer_word(b, IpcBuffer::cap(i)));
        match lookup_cap(cspace, sender, cptr) {
            Some((_, slot)) => slots.push(slot),
            None => return ArrayVec::new(),
        }
    }
    slots
}

/// `getReceiveSlots`: the empty slot the receiver names in its IPC buffer, if there is one.
fn get_receive_slot(cspace: &CSpace, mem: &PhysMem, receiver: ObjPtr, buffer: u64) -> Option<SlotRef> {
    let word = |i| mem.read(buffer_word(buffer, i));
    let (cnode_cptr, index, depth) =
        (word(IpcBuffer::RECEIVE_CNODE), word(IpcBuffer::RECEIVE_INDEX), word(IpcBuffer::RECEIVE_DEPTH));
    let (cnode, _) = lookup_cap(cspace, receiver, cnode_cptr)?;
    if !matches!(cnode, Cap::CNode { .. }) || !(1..=WORD_BITS).contains(&depth) {
        return None;
    }
    let (slot, rest) = resolve_address_bits_now(cspace, cnode, index, depth).ok()?;
    (rest == 0 && cspace.cap(slot).is_null()).then_some(slot)
}

/// `doIPCTransfer` / `doNormalTransfer`: a sender with a fault sends its fault message instead
/// (`doFaultTransfer`); otherwise copy the sender's message words (`copyMRs`), transfer caps if
/// the sender may grant, and set the receiver's MessageInfo and badge registers.
pub fn do_ipc_transfer(
    ipc: &mut Ipc<'_>,
    sender: ObjPtr,
    ep: Option<ObjPtr>,
    badge: u64,
    can_grant: bool,
    receiver: ObjPtr,
) {
    if ipc.objects.has_fault(sender) {
        let recv_buffer = lookup_ipc_buffer(ipc.cspace, ipc.objects, receiver, true);
        crate::fault::do_fault_transfer(ipc, badge, sender, receiver, recv_buffer);
        return;
    }
    let regs = ipc.arch.syscall_registers();
    let tag = MessageInfo::from_word(ipc.objects.register(sender, regs.info));
    // The IPC buffers hold the message words past the registers and the caps: a message that
    // fits in the registers and carries no caps never reads them (seL4 looks both up anyway;
    // the result is the same).
    let (send_buffer, recv_buffer) = if tag.length() > MSG_REGISTERS as u64 || tag.extra_caps() > 0 {
        (
            lookup_ipc_buffer(ipc.cspace, ipc.objects, sender, false),
            lookup_ipc_buffer(ipc.cspace, ipc.objects, receiver, true),
        )
    } else {
        (None, None)
    };
    let caps = if can_grant {
        lookup_extra_caps(ipc.cspace, ipc.mem, sender, send_buffer, tag.extra_caps())
    } else {
        ArrayVec::new()
    };
    let len = copy_mrs(
        ipc.objects,
        ipc.mem,
        ipc.arch,
        sender,
        send_buffer,
        receiver,
        recv_buffer,
        tag.length() as usize,
    );
    let (extra, unwrapped) = transfer_caps(ipc, ep, receiver, recv_buffer, &caps);
    ipc.objects.set_register(
        receiver,
        regs.info,
        MessageInfo::new(tag.label(), unwrapped, extra, len as u64).word(),
    );
    ipc.objects.set_register(receiver, regs.badge, badge);
}

/// `transferCaps`: each extra cap in turn; a cap to the endpoint the message came through is
/// unwrapped (only its badge goes, into the receiver's `caps_or_badges`); at most one other cap
/// is derived into the receive slot; the first cap that cannot go stops the transfer. A receiver
/// without an IPC buffer gets none. Returns the number of caps transferred and the unwrapped
/// mask.
fn transfer_caps(
    ipc: &mut Ipc<'_>,
    ep: Option<ObjPtr>,
    receiver: ObjPtr,
    buffer: Option<u64>,
    caps: &[SlotRef],
) -> (u64, u64) {
    let Some(buffer) = buffer.filter(|_| !caps.is_empty()) else { return (0, 0) };
    let mut dest = get_receive_slot(ipc.cspace, ipc.mem, receiver, buffer);
    let (mut i, mut unwrapped) = (0u64, 0u64);
    for &slot in caps {
        let cap = ipc.cspace.cap(slot);
        match cap {
            Cap::Endpoint { ptr, badge, .. } if Some(ptr) == ep => {
                ipc.mem.write(buffer_word(buffer, IpcBuffer::cap(i as usize)), badge);
                unwrapped |= 1 << i;
            }
            _ => {
                let Some(d) = dest else { break };
                match derive_cap(ipc.cspace, slot, &cap) {
                    Ok(c) if !c.is_null() => {
                        cte_insert(ipc.cspace, c, slot, d);
                        dest = None;
                    }
                    _ => break,
                }
            }
        }
        i += 1;
    }
    (i, unwrapped)
}

gears::code_gear! {
    /// `performInvocation_Endpoint`: the caller is `Restart`, then `sendIPC` with the cap's badge
    /// and rights; blocking for Send and Call, not for NBSend. An invocation run directly from
    /// `handle_invocation` (tools and tests; `Request::syscall` 0) never blocks: it is an NBSend.
    pub fn invoke_endpoint(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, mem: &mut PhysMem, arch: &Arch, request: &Request, invocation: &crate::kernel::Invocation) {
        set_restart(objects, request.thread);
        if let Some((Cap::Endpoint { ptr, badge, rights }, _)) = invocation.invoked {
            let cap = EpCap { ep: ptr, badge, can_grant: rights.grant, can_grant_reply: rights.grant_reply };
            let blocking = matches!(request.syscall, Some(Syscall::Send | Syscall::Call));
            let mut ipc = Ipc { cspace, objects, sched, mem, arch: *arch };
            send_ipc(&mut ipc, blocking, request.is_call, cap, request.thread);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `performInvocation_Reply`: a saved reply cap invoked with Send or Call replies through it.
    pub fn invoke_reply(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, mem: &mut PhysMem, arch: &Arch, request: &Request, invocation: &crate::kernel::Invocation) {
        set_restart(objects, request.thread);
        if let Some((Cap::Reply { tcb, can_grant, .. }, slot)) = invocation.invoked {
            let mut ipc = Ipc { cspace, objects, sched, mem, arch: *arch };
            do_reply_transfer(&mut ipc, request.thread, tcb, slot, can_grant);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `cancelAllIPC` / `cancelAllSignals`, one thread per gear: the first thread in the queue of
    /// the endpoint or notification being finalised is dequeued and restarted (it will re-run its
    /// system call, and find the cap gone). A preemption point follows each; the progress is the
    /// queue itself, so a restarted delete carries on where it stopped.
    pub fn cancel_all_ipc_step(ctx: Kernel; objects: &mut ObjectStore, sched: &mut Scheduler, cancel: &mut CancelCursor) {
        let Some(obj) = cancel.obj else { return Next::Goto(&crate::delete::CANCEL_ALL_IPC_DONE) };
        let head = if cancel.is_notification {
            objects.notification(obj).queue.head
        } else {
            objects.endpoint(obj).queue.head
        };
        let Some(t) = head else { return Next::Goto(&crate::delete::CANCEL_ALL_IPC_DONE) };
        if cancel.is_notification {
            crate::notification::ntfn_dequeue(objects, obj, t);
        } else {
            ep_dequeue(objects, obj, t);
        }
        set_thread_state(objects, sched, t, ThreadState::Restart);
        cancel.cancelled += 1;
        Next::Preempt(&CANCEL_ALL_IPC_STEP)
    }
}

gears::code_gear! {
    /// `cancelBadgedSends`, one queued thread per gear: the thread at the cursor is restarted and
    /// dequeued if it sends with the badge, else passed over. No preemption point: as in seL4,
    /// the scan runs to the end of the queue (it is as long as the threads that wait in it).
    pub fn cancel_badged_sends_step(ctx: Kernel; objects: &mut ObjectStore, sched: &mut Scheduler, cancel: &mut CancelCursor) {
        let (Some(ep), Some((badge, Some(t)))) = (cancel.obj, cancel.badged) else {
            return Next::Goto(&crate::lookup::INVOCATION_DONE);
        };
        let after = objects.links(t, true).next;
        if matches!(objects.thread_state(t), ThreadState::BlockedOnSend { badge: b, .. } if b == badge) {
            ep_dequeue(objects, ep, t);
            set_thread_state(objects, sched, t, ThreadState::Restart);
            cancel.cancelled += 1;
        }
        cancel.badged = Some((badge, after));
        Next::Goto(&CANCEL_BADGED_SENDS_STEP)
    }
}
