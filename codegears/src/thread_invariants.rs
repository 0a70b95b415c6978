//! The thread and queue invariants, after seL4's `valid_queues`, `valid_ep`, `valid_ntfn`,
//! `sym_refs` of thread states and `valid_reply_caps`/`valid_reply_masters`:
//!
//! - every endpoint, notification and ready queue is a well-formed doubly linked list of live
//!   TCBs (prev/next agree, head and tail are its ends, no cycle);
//! - a thread is in one endpoint or notification queue at most, and exactly in the one its state
//!   names (BlockedOnSend/BlockedOnReceive on that endpoint, BlockedOnNotification on that
//!   notification); the endpoint is Send or Recv to match, Idle exactly when empty; a
//!   notification is Waiting exactly when its queue is non-empty;
//! - a thread is in a ready queue exactly when it is runnable, in the queue of its priority;
//! - binding is symmetric: a TCB's bound notification names it as its bound TCB, and back;
//! - a thread holds a fault only while it sends it (a blocked Call with grant-reply) or waits
//!   for its reply;
//! - a master reply cap sits in its own thread's reply slot; a non-master reply cap names a thread
//!   BlockedOnReply, is the only one to it, and is a CDT child of that thread's master.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;

use crate::cap::{Cap, ObjPtr, SlotRef};
use crate::invariants::{InvariantViolation, LiveObjects};
use crate::kernel::{KernelState, tcb_slot};
use crate::object::{EpState, NtfnState, ObjKind, ObjectStore, TcbQueue, ThreadState};
use crate::thread::QueueKind;

fn fail(invariant: &'static str, detail: alloc::string::String) -> Result<(), InvariantViolation> {
    Err(InvariantViolation { invariant, detail })
}

/// Walks `q` through `kind` links and returns its members in order, checking the list's shape.
fn walk(
    objects: &ObjectStore,
    objs: &LiveObjects,
    q: TcbQueue,
    kind: QueueKind,
    what: &dyn core::fmt::Debug,
    limit: usize,
) -> Result<alloc::vec::Vec<ObjPtr>, InvariantViolation> {
    let mut out = alloc::vec::Vec::new();
    let mut prev: Option<ObjPtr> = None;
    let mut cur = q.head;
    while let Some(t) = cur {
        if objs.get(&t) != Some(&ObjKind::Tcb) {
            return Err(InvariantViolation {
                invariant: "queues_well_formed",
                detail: format!("{what:?}'s queue holds {t:?}, not a live TCB"),
            });
        }
        let tcb = objects.tcb(t);
        let l = match kind {
            QueueKind::Ep => tcb.ep_links,
            QueueKind::Sched => tcb.sched_links,
        };
        if l.prev != prev {
            return Err(InvariantViolation {
                invariant: "queues_well_formed",
                detail: format!("{what:?}: {t:?}.prev = {:?}, expected {prev:?}", l.prev),
            });
        }
        out.push(t);
        if out.len() > limit {
            return Err(InvariantViolation {
                invariant: "queues_well_formed",
                detail: format!("{what:?}'s queue does not end"),
            });
        }
        prev = Some(t);
        cur = l.next;
    }
    if q.tail != prev {
        return Err(InvariantViolation {
            invariant: "queues_well_formed",
            detail: format!("{what:?}: tail {:?} but the list ends at {prev:?}", q.tail),
        });
    }
    Ok(out)
}

/// What the threads in one queue must be blocked on.
enum Want {
    Send,
    Recv,
    Ntfn,
}

/// Checks every thread and queue invariant of `state` (O(n log n) in threads, objects and slots).
pub fn check_thread_invariants(state: &KernelState) -> Result<(), InvariantViolation> {
    let slots = state.slots();
    check_thread_invariants_in(state, &crate::invariants::live_objects(&slots)?, &slots)
}

/// [`check_thread_invariants`] with the non-empty slots listed once by the caller.
pub(crate) fn check_thread_invariants_in(
    state: &KernelState,
    objs: &LiveObjects,
    slots: &[(crate::cap::SlotRef, crate::cspace::Cte)],
) -> Result<(), InvariantViolation> {
    let objects = &state.objects;
    let n_tcbs = objs.values().filter(|k| **k == ObjKind::Tcb).count();
    // Which IPC queue each thread is in.
    let mut in_queue: BTreeMap<ObjPtr, ObjPtr> = BTreeMap::new();
    for (&p, k) in objs {
        let (members, want) = match k {
            ObjKind::Endpoint => {
                let e = objects.endpoint(p);
                let m = walk(objects, objs, e.queue, QueueKind::Ep, &p, n_tcbs)?;
                let expected = match e.state {
                    EpState::Idle => None,
                    EpState::Send => Some(true),
                    EpState::Recv => Some(false),
                };
                if m.is_empty() != expected.is_none() {
                    return fail("valid_ep", format!("{p:?} is {:?} with {} waiting", e.state, m.len()));
                }
                (m, if e.state == EpState::Send { Want::Send } else { Want::Recv })
            }
            ObjKind::Notification => {
                let n = objects.notification(p);
                let m = walk(objects, objs, n.queue, QueueKind::Ep, &p, n_tcbs)?;
                if m.is_empty() == (n.state == NtfnState::Waiting) {
                    return fail("valid_ntfn", format!("{p:?} is {:?} with {} waiting", n.state, m.len()));
                }
                if let Some(t) = n.bound_tcb
                    && (objs.get(&t) != Some(&ObjKind::Tcb) || objects.tcb(t).bound_notification != Some(p))
                {
                    return fail(
                        "bound_symmetric",
                        format!("{p:?} is bound to {t:?}, which is not bound to it"),
                    );
                }
                (m, Want::Ntfn)
            }
            _ => continue,
        };
        for t in members {
            if let Some(other) = in_queue.insert(t, p) {
                return fail("one_queue", format!("{t:?} is in the queues of {other:?} and {p:?}"));
            }
            let s = objects.thread_state(t);
            let ok = match want {
                Want::Send => matches!(s, ThreadState::BlockedOnSend { ep, .. } if ep == p),
                Want::Recv => matches!(s, ThreadState::BlockedOnReceive { ep, .. } if ep == p),
                Want::Ntfn => matches!(s, ThreadState::BlockedOnNotification { ntfn } if ntfn == p),
            };
            if !ok {
                return fail("state_agrees_with_queue", format!("{t:?} is {s:?} in the queue of {p:?}"));
            }
        }
    }
    // Ready queues.
    let mut ready: BTreeSet<ObjPtr> = BTreeSet::new();
    for (prio, q) in state.sched.ready.iter() {
        if q.is_empty() {
            return fail("valid_queues", format!("an empty ready queue is kept for priority {prio}"));
        }
        for t in walk(objects, objs, q, QueueKind::Sched, &format!("ready queue {prio}"), n_tcbs)? {
            let tcb = {
                let x = objects.tcb(t);
                (x.priority, x.queued, x.state)
            };
            if tcb.0 != prio || !tcb.1 || !tcb.2.is_runnable() || !ready.insert(t) {
                return fail("valid_queues", format!("{t:?} ({tcb:?}) in ready queue {prio}"));
            }
        }
    }
    // Each thread.
    for (&p, k) in objs {
        if *k != ObjKind::Tcb {
            continue;
        }
        let tcb = objects.tcb(p);
        if tcb.state.queued_on() != in_queue.get(&p).copied() {
            return fail(
                "state_agrees_with_queue",
                format!("{p:?} is {:?} but in the queue of {:?}", tcb.state, in_queue.get(&p)),
            );
        }
        if !in_queue.contains_key(&p) && tcb.ep_links != Default::default() {
            return fail(
                "queues_well_formed",
                format!("{p:?} is in no queue but has links {:?}", tcb.ep_links),
            );
        }
        if tcb.state.is_runnable() != ready.contains(&p) || tcb.queued != ready.contains(&p) {
            return fail(
                "valid_queues",
                format!(
                    "{p:?} is {:?}, queued {}, in a ready queue {}",
                    tcb.state,
                    tcb.queued,
                    ready.contains(&p)
                ),
            );
        }
        let fault_ipc = matches!(
            tcb.state,
            ThreadState::BlockedOnSend { is_call: true, can_grant_reply: true, .. }
                | ThreadState::BlockedOnReply
        );
        if tcb.fault.is_some() && !fault_ipc {
            return fail("valid_fault", format!("{p:?} holds {:?} but is {:?}", tcb.fault, tcb.state));
        }
        if let Some(n) = tcb.bound_notification
            && (objs.get(&n) != Some(&ObjKind::Notification) || objects.notification(n).bound_tcb != Some(p))
        {
            return fail("bound_symmetric", format!("{p:?} is bound to {n:?}, which is not bound to it"));
        }
    }
    check_debug_list(state, objs, slots, n_tcbs)?;
    check_reply_caps(state, slots)
}

/// The list of every TCB (`ksDebugTCBs`) is well formed, holds only live TCBs, every TCB a thread
/// cap names, and none being deleted (a Zombie's).
fn check_debug_list(
    state: &KernelState,
    objs: &LiveObjects,
    slots: &[(crate::cap::SlotRef, crate::cspace::Cte)],
    n_tcbs: usize,
) -> Result<(), InvariantViolation> {
    let objects = &state.objects;
    let mut listed: BTreeSet<ObjPtr> = BTreeSet::new();
    let (mut prev, mut cur) = (None, state.sched.debug_tcbs);
    while let Some(t) = cur {
        if objs.get(&t) != Some(&ObjKind::Tcb) || !listed.insert(t) || listed.len() > n_tcbs {
            return fail("debug_tcbs", format!("the list of TCBs holds {t:?} (dead, twice, or in a cycle)"));
        }
        let l = objects.tcb(t).debug_links;
        if l.prev != prev {
            return fail("debug_tcbs", format!("{t:?}.debug prev = {:?}, expected {prev:?}", l.prev));
        }
        (prev, cur) = (Some(t), l.next);
    }
    for &(s, cte) in slots {
        match cte.cap {
            Cap::Thread { ptr } if !listed.contains(&ptr) => {
                return fail("debug_tcbs", format!("{s:?} names {ptr:?}, which is not in the list of TCBs"));
            }
            Cap::Zombie { ptr, kind: crate::cap::ZombieType::Tcb, .. } if listed.contains(&ptr) => {
                return fail("debug_tcbs", format!("{ptr:?} is being deleted ({s:?}) but still listed"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_reply_caps(
    state: &KernelState,
    slots: &[(crate::cap::SlotRef, crate::cspace::Cte)],
) -> Result<(), InvariantViolation> {
    let mut replies: BTreeSet<ObjPtr> = BTreeSet::new();
    for &(s, cte) in slots {
        let Cap::Reply { tcb, master, .. } = cte.cap else { continue };
        let own = SlotRef::of(tcb, tcb_slot::REPLY);
        if master {
            if s != own {
                return fail("valid_reply_masters", format!("{s:?} holds the master reply cap of {tcb:?}"));
            }
            continue;
        }
        let waiting = state.objects.thread_state(tcb);
        if waiting != ThreadState::BlockedOnReply {
            return fail(
                "valid_reply_caps",
                format!("{s:?} holds a reply cap to {tcb:?}, which is {waiting:?}"),
            );
        }
        if !replies.insert(tcb) {
            return fail("valid_reply_caps", format!("two reply caps to {tcb:?}"));
        }
        if state.cspace.mdb(own).next != Some(s) {
            return fail(
                "valid_reply_caps",
                format!("{s:?}: the reply cap to {tcb:?} is not its master's child"),
            );
        }
    }
    Ok(())
}

/// The thread invariants that concern one endpoint or notification, checked at its queue's ends
/// only (O(1)): for every preemption point of a cancel loop over a long queue, where
/// [`check_thread_invariants`] runs only at sampled points. `obj` is a notification if
/// `is_notification`, else an endpoint.
pub fn check_local_queue_invariants(
    state: &KernelState,
    obj: ObjPtr,
    is_notification: bool,
) -> Result<(), InvariantViolation> {
    let objects = &state.objects;
    let (q, ok): (TcbQueue, bool) = if is_notification {
        let n = objects.notification(obj);
        (n.queue, n.queue.is_empty() != (n.state == NtfnState::Waiting))
    } else {
        let e = objects.endpoint(obj);
        (e.queue, e.queue.is_empty() == (e.state == EpState::Idle))
    };
    if !ok {
        return fail("valid_ep", format!("{obj:?}: state and queue disagree"));
    }
    for (end, link) in [(q.head, true), (q.tail, false)] {
        let Some(t) = end else { continue };
        let tcb = objects.tcb(t);
        let outer = if link { tcb.ep_links.prev } else { tcb.ep_links.next };
        if outer.is_some() || tcb.state.queued_on() != Some(obj) {
            return fail(
                "state_agrees_with_queue",
                format!("{obj:?}: end {t:?} is {:?}, links {:?}", tcb.state, tcb.ep_links),
            );
        }
    }
    Ok(())
}
