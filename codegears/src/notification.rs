//! Notifications, after seL4's `src/object/notification.c`: `sendSignal` (badges OR-ed while no
//! one waits), `receiveSignal` (Wait, Poll), `completeSignal`, `cancelSignal`, and binding to a
//! TCB, whose bound notification wakes it from a receive on an endpoint.

use abi::Arch;
use gears::Next;

use crate::cap::{Cap, ObjPtr};
use crate::cspace::CSpace;
use crate::kernel::{Invocation, Kernel, Request};
use crate::lookup::set_restart;
use crate::object::{NtfnState, ObjectStore, ThreadState};
use crate::thread::{QueueKind, Scheduler, cancel_ipc, queue_append, queue_remove, set_thread_state};

/// `t` waits at the tail of `ntfn`'s queue, which is then Waiting.
pub fn ntfn_append(objects: &mut ObjectStore, ntfn: ObjPtr, t: ObjPtr) {
    let q = objects.notification(ntfn).queue;
    let q = queue_append(objects, q, t, QueueKind::Ep);
    {
        let mut n = objects.notification_mut(ntfn);
        n.queue = q;
        n.state = NtfnState::Waiting;
    }
}

/// `t` leaves `ntfn`'s queue (Idle when it empties).
pub fn ntfn_dequeue(objects: &mut ObjectStore, ntfn: ObjPtr, t: ObjPtr) {
    let q = objects.notification(ntfn).queue;
    let q = queue_remove(objects, q, t, QueueKind::Ep);
    {
        let mut n = objects.notification_mut(ntfn);
        n.queue = q;
        if q.is_empty() {
            n.state = NtfnState::Idle;
        }
    }
}

/// `sendSignal`: wake the first waiter with the badge; or, idle, wake the bound TCB if it waits
/// in a receive on an endpoint; else the notification becomes (or stays) Active with the badge
/// OR-ed into its word.
pub fn send_signal(
    cspace: &mut CSpace,
    objects: &mut ObjectStore,
    sched: &mut Scheduler,
    arch: Arch,
    ntfn: ObjPtr,
    badge: u64,
) {
    let n = objects.notification(ntfn);
    match (n.state, n.queue.head) {
        (NtfnState::Waiting, Some(dest)) => {
            ntfn_dequeue(objects, ntfn, dest);
            set_thread_state(objects, sched, dest, ThreadState::Running);
            {
                let mut t = objects.tcb_mut(dest);
                t.set_badge(arch, badge);
            }
        }
        (NtfnState::Active, _) => {
            let mut n = objects.notification_mut(ntfn);
            n.msg_identifier |= badge;
        }
        _ => {
            let bound_receiving = n
                .bound_tcb
                .filter(|&t| matches!(objects.thread_state(t), ThreadState::BlockedOnReceive { .. }));
            if let Some(t) = bound_receiving {
                cancel_ipc(cspace, objects, sched, t);
                set_thread_state(objects, sched, t, ThreadState::Running);
                {
                    let mut x = objects.tcb_mut(t);
                    x.set_badge(arch, badge);
                }
            } else {
                let mut n = objects.notification_mut(ntfn);
                n.state = NtfnState::Active;
                n.msg_identifier = badge;
            }
        }
    }
}

/// `receiveSignal`: take the pending word if Active; else wait (`blocking`) or leave with badge 0.
pub fn receive_signal(
    objects: &mut ObjectStore,
    sched: &mut Scheduler,
    arch: Arch,
    thread: ObjPtr,
    ntfn: ObjPtr,
    blocking: bool,
) {
    if complete_signal(objects, arch, ntfn, thread) {
        return;
    }
    if blocking {
        set_thread_state(objects, sched, thread, ThreadState::BlockedOnNotification { ntfn });
        ntfn_append(objects, ntfn, thread);
    } else {
        let mut t = objects.tcb_mut(thread);
        t.set_badge(arch, 0);
    }
}

/// `completeSignal`: if `ntfn` is Active, its word goes to the thread's badge register and it is
/// Idle again. Returns whether it was Active.
pub fn complete_signal(objects: &mut ObjectStore, arch: Arch, ntfn: ObjPtr, thread: ObjPtr) -> bool {
    let n = objects.notification(ntfn);
    if n.state != NtfnState::Active {
        return false;
    }
    {
        let mut t = objects.tcb_mut(thread);
        t.set_badge(arch, n.msg_identifier);
    }
    {
        let mut n = objects.notification_mut(ntfn);
        n.state = NtfnState::Idle;
        n.msg_identifier = 0;
    }
    true
}

/// `cancelSignal`: the thread stops waiting on `ntfn` and becomes Inactive.
pub fn cancel_signal(objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr, ntfn: ObjPtr) {
    ntfn_dequeue(objects, ntfn, t);
    set_thread_state(objects, sched, t, ThreadState::Inactive);
}

/// `bindNotification`.
pub fn bind_notification(objects: &mut ObjectStore, tcb: ObjPtr, ntfn: ObjPtr) {
    {
        let mut n = objects.notification_mut(ntfn);
        n.bound_tcb = Some(tcb);
    }
    {
        let mut t = objects.tcb_mut(tcb);
        t.bound_notification = Some(ntfn);
    }
}

/// `unbindNotification` of a TCB (nothing if it has none).
pub fn unbind_notification(objects: &mut ObjectStore, tcb: ObjPtr) {
    let Some(ntfn) = objects.tcb(tcb).bound_notification else { return };
    {
        let mut n = objects.notification_mut(ntfn);
        n.bound_tcb = None;
    }
    {
        let mut t = objects.tcb_mut(tcb);
        t.bound_notification = None;
    }
}

/// `unbindMaybeNotification`: a notification being deleted lets go of its TCB.
pub fn unbind_maybe_notification(objects: &mut ObjectStore, ntfn: ObjPtr) {
    if let Some(t) = objects.notification(ntfn).bound_tcb {
        unbind_notification(objects, t);
    }
}

gears::code_gear! {
    /// `performInvocation_Notification`: Send (or NBSend, or Call) on a notification cap signals
    /// it with the cap's badge.
    pub fn invoke_notification(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, arch: &Arch, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let Some((Cap::Notification { ptr, badge, .. }, _)) = invocation.invoked {
            send_signal(cspace, objects, sched, *arch, ptr, badge);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}
