//! Threads and the scheduler, after seL4's `src/kernel/thread.c` and `src/object/tcb.c`: the
//! intrusive TCB queues (`tcbEPAppend`, `tcbSchedEnqueue`, …), the ready queues (256 priorities,
//! round robin within one), `setThreadState`, `suspend`, `restart`, `setupReplyMaster`, and the
//! parts of `cancelIPC` a single thread needs.
//!
//! Where this differs from seL4: the running thread stays in its ready queue (at the head when it
//! was chosen), so "runnable" and "in a ready queue" are the same thing, which the invariant
//! checker states; `choose_thread` is the head of the highest non-empty queue. There is no
//! scheduler action: a woken thread is appended to its queue and runs when it is chosen, which is
//! at once when its priority is higher than the current thread's (seL4's `possibleSwitchTo`).

use alloc::collections::BTreeMap;

use crate::cap::{Cap, ObjPtr, SlotRef};
use crate::cdt::empty_slot;
use crate::cspace::{CSpace, Cte, MdbNode};
use crate::kernel::tcb_slot;
use crate::object::{Links, ObjectStore, TcbQueue, ThreadState};

/// `seL4_MaxPrio`.
pub const MAX_PRIO: u8 = abi::MAX_PRIO;

/// Which pair of links a queue threads through its TCBs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum QueueKind {
    /// An endpoint's or notification's queue (`tcbEPNext`/`tcbEPPrev`).
    Ep,
    /// A ready queue (`tcbSchedNext`/`tcbSchedPrev`).
    Sched,
}

fn links(objects: &ObjectStore, t: ObjPtr, kind: QueueKind) -> Links {
    objects.links(t, kind == QueueKind::Ep)
}

fn update_links(objects: &mut ObjectStore, t: ObjPtr, kind: QueueKind, f: impl FnOnce(&mut Links)) {
    let mut l = links(objects, t, kind);
    f(&mut l);
    objects.set_links(t, kind == QueueKind::Ep, l);
}

/// `tcbEPAppend` / `tcbSchedAppend`'s list part: `t` goes to the tail of `q`. O(1).
pub fn queue_append(objects: &mut ObjectStore, q: TcbQueue, t: ObjPtr, kind: QueueKind) -> TcbQueue {
    update_links(objects, t, kind, |l| *l = Links { prev: q.tail, next: None });
    if let Some(tail) = q.tail {
        update_links(objects, tail, kind, |l| l.next = Some(t));
    }
    TcbQueue { head: q.head.or(Some(t)), tail: Some(t) }
}

/// `tcbSchedEnqueue`'s list part: `t` goes to the head of `q`. O(1).
pub fn queue_prepend(objects: &mut ObjectStore, q: TcbQueue, t: ObjPtr, kind: QueueKind) -> TcbQueue {
    update_links(objects, t, kind, |l| *l = Links { prev: None, next: q.head });
    if let Some(head) = q.head {
        update_links(objects, head, kind, |l| l.prev = Some(t));
    }
    TcbQueue { head: Some(t), tail: q.tail.or(Some(t)) }
}

/// `tcbEPDequeue` / `tcbSchedDequeue`'s list part: `t` leaves `q` (which it must be in). O(1).
pub fn queue_remove(objects: &mut ObjectStore, q: TcbQueue, t: ObjPtr, kind: QueueKind) -> TcbQueue {
    let Links { prev, next } = links(objects, t, kind);
    let mut q = q;
    match prev {
        Some(p) => update_links(objects, p, kind, |l| l.next = next),
        None => q.head = next,
    }
    match next {
        Some(n) => update_links(objects, n, kind, |l| l.prev = prev),
        None => q.tail = prev,
    }
    update_links(objects, t, kind, |l| *l = Links::default());
    q
}

/// The ready queues: one per priority, round robin within each (`ksReadyQueues`).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Scheduler {
    /// The non-empty ready queues by priority.
    pub ready: BTreeMap<u8, TcbQueue>,
    /// The thread running now, the last one activated (`ksCurThread`; `None`: idle).
    pub current: Option<ObjPtr>,
    /// The first of every TCB (`ksDebugTCBs`, seL4's debug build), linked through their
    /// `debug_links`, newest first: what DebugDumpScheduler prints.
    pub debug_tcbs: Option<ObjPtr>,
}

impl Scheduler {
    /// `chooseThread`: the head of the highest-priority non-empty ready queue (`None`: idle).
    pub fn choose_thread(&self) -> Option<ObjPtr> {
        self.ready.values().next_back().and_then(|q| q.head)
    }

    /// The ready queue of `prio`.
    pub fn queue(&self, prio: u8) -> TcbQueue {
        self.ready.get(&prio).copied().unwrap_or_default()
    }

    fn set_queue(&mut self, prio: u8, q: TcbQueue) {
        if q.is_empty() {
            self.ready.remove(&prio);
        } else {
            self.ready.insert(prio, q);
        }
    }
}

/// `tcbSchedAppend`: a runnable thread not yet queued goes to the tail of its priority's queue.
pub fn sched_append(objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr) {
    let (prio, queued) = objects.sched_fields(t);
    if queued {
        return;
    }
    let q = queue_append(objects, sched.queue(prio), t, QueueKind::Sched);
    sched.set_queue(prio, q);
    objects.set_queued(t, true);
}

/// `tcbSchedEnqueue`: a thread not yet queued goes to the head of its priority's queue.
pub fn sched_enqueue(objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr) {
    let (prio, queued) = objects.sched_fields(t);
    if queued {
        return;
    }
    let q = queue_prepend(objects, sched.queue(prio), t, QueueKind::Sched);
    sched.set_queue(prio, q);
    objects.set_queued(t, true);
}

/// `tcbSchedDequeue`: a queued thread leaves its ready queue.
pub fn sched_dequeue(objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr) {
    let (prio, queued) = objects.sched_fields(t);
    if !queued {
        return;
    }
    let q = queue_remove(objects, sched.queue(prio), t, QueueKind::Sched);
    sched.set_queue(prio, q);
    objects.set_queued(t, false);
}

/// `setThreadState` with `scheduleTCB`/`possibleSwitchTo`: a thread that becomes runnable joins
/// the tail of its ready queue, one that stops leaves it. A thread leaving the states of a fault
/// IPC (waiting to send it, waiting for its reply) drops its fault (seL4's `tcbFault` is
/// cleared by the fault reply; a cancelled fault IPC keeps it in non-MCS seL4, where a thread
/// restarted past its fault would later send that stale fault instead of its next message).
pub fn set_thread_state(objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr, state: ThreadState) {
    let keeps_fault = matches!(state, ThreadState::BlockedOnSend { .. } | ThreadState::BlockedOnReply);
    objects.set_thread_state_words(t, state, !keeps_fault);
    if state.is_runnable() {
        sched_append(objects, sched, t);
    } else {
        sched_dequeue(objects, sched, t);
    }
}

/// `tcbSchedDequeue` + `tcbSchedAppend` of `handleYield`: the thread goes to the back of its queue.
pub fn yield_thread(objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr) {
    if objects.sched_fields(t).1 {
        sched_dequeue(objects, sched, t);
        sched_append(objects, sched, t);
    }
}

/// `setPriority`: change the priority, moving the thread to the tail of its new queue if queued.
pub fn set_priority(objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr, prio: u8) {
    let queued = objects.sched_fields(t).1;
    sched_dequeue(objects, sched, t);
    {
        let mut tcb = objects.tcb_mut(t);
        tcb.priority = prio;
    }
    if queued {
        sched_append(objects, sched, t);
    }
}

/// `setupReplyMaster`: put the master reply cap in the thread's reply slot if it is empty.
pub fn setup_reply_master(cspace: &mut CSpace, t: ObjPtr) {
    let slot = SlotRef::of(t, tcb_slot::REPLY);
    if cspace.cap(slot).is_null() {
        let cap = Cap::Reply { tcb: t, master: true, can_grant: true };
        let mdb = MdbNode { revocable: true, first_badged: true, ..MdbNode::default() };
        cspace.set(slot, Cte { cap, mdb });
    }
}

/// `cteDeleteOne` of a reply cap: a reply cap has no children and finalises to nothing, so the
/// slot is simply emptied.
pub fn delete_reply_cap(cspace: &mut CSpace, slot: SlotRef) {
    if matches!(cspace.cap(slot), Cap::Reply { .. }) {
        empty_slot(cspace, slot);
    }
}

/// The slot holding the (non-master) reply cap to `t`: the MDB next of its master reply slot.
pub fn reply_cap_slot(cspace: &CSpace, t: ObjPtr) -> Option<SlotRef> {
    let master = SlotRef::of(t, tcb_slot::REPLY);
    let next = cspace.mdb(master).next?;
    matches!(cspace.cap(next), Cap::Reply { tcb, master: false, .. } if tcb == t).then_some(next)
}

/// `cancelIPC` of one thread: out of its endpoint's or notification's queue (O(1)), or its reply
/// cap deleted when it waits for a reply; it becomes Inactive. Other states are left alone.
pub fn cancel_ipc(cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr) {
    let state = objects.thread_state(t);
    match state {
        ThreadState::BlockedOnSend { ep, .. } | ThreadState::BlockedOnReceive { ep, .. } => {
            crate::endpoint::ep_dequeue(objects, ep, t);
            set_thread_state(objects, sched, t, ThreadState::Inactive);
        }
        ThreadState::BlockedOnNotification { ntfn } => {
            crate::notification::cancel_signal(objects, sched, t, ntfn);
        }
        ThreadState::BlockedOnReply => {
            if let Some(slot) = reply_cap_slot(cspace, t) {
                delete_reply_cap(cspace, slot);
            }
            set_thread_state(objects, sched, t, ThreadState::Inactive);
        }
        _ => {}
    }
}

/// `suspend`: cancel its IPC, take it off the ready queue, make it Inactive.
pub fn suspend(cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr) {
    cancel_ipc(cspace, objects, sched, t);
    set_thread_state(objects, sched, t, ThreadState::Inactive);
}

/// `restart`: a stopped thread (inactive or blocked) cancels its IPC, gets its master reply cap,
/// and becomes `Restart` at the tail of its ready queue.
pub fn restart(cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr) {
    if objects.thread_state(t).is_stopped() {
        cancel_ipc(cspace, objects, sched, t);
        setup_reply_master(cspace, t);
        set_thread_state(objects, sched, t, ThreadState::Restart);
    }
}

/// `tcbDebugAppend`: a new TCB joins the list of every TCB (at its head, as in seL4).
pub fn tcb_debug_append(objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr) {
    let head = sched.debug_tcbs;
    objects.tcb_mut(t).debug_links = Links { prev: None, next: head };
    if let Some(h) = head {
        objects.tcb_mut(h).debug_links.prev = Some(t);
    }
    sched.debug_tcbs = Some(t);
}

/// `tcbDebugRemove`: a TCB whose last cap is finalised leaves the list of every TCB.
pub fn tcb_debug_remove(objects: &mut ObjectStore, sched: &mut Scheduler, t: ObjPtr) {
    let Links { prev, next } = objects.tcb(t).debug_links;
    match prev {
        Some(p) => objects.tcb_mut(p).debug_links.next = next,
        None if sched.debug_tcbs == Some(t) => sched.debug_tcbs = next,
        None => {}
    }
    if let Some(n) = next {
        objects.tcb_mut(n).debug_links.prev = prev;
    }
    objects.tcb_mut(t).debug_links = Links::default();
}
