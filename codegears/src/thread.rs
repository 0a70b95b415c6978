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

fn set_links(objects: &mut ObjectStore, t: ObjPtr, kind: QueueKind, l: Links) {
    objects.set_links(t, kind == QueueKind::Ep, l);
}

fn set_next(objects: &mut ObjectStore, t: ObjPtr, kind: QueueKind, next: Option<ObjPtr>) {
    objects.set_link(t, kind == QueueKind::Ep, true, next);
}

fn set_prev(objects: &mut ObjectStore, t: ObjPtr, kind: QueueKind, prev: Option<ObjPtr>) {
    objects.set_link(t, kind == QueueKind::Ep, false, prev);
}

/// `tcbEPAppend` / `tcbSchedAppend`'s list part: `t` goes to the tail of `q`. O(1).
pub fn queue_append(objects: &mut ObjectStore, q: TcbQueue, t: ObjPtr, kind: QueueKind) -> TcbQueue {
    set_links(objects, t, kind, Links { prev: q.tail, next: None });
    if let Some(tail) = q.tail {
        set_next(objects, tail, kind, Some(t));
    }
    TcbQueue { head: q.head.or(Some(t)), tail: Some(t) }
}

/// `tcbSchedEnqueue`'s list part: `t` goes to the head of `q`. O(1).
pub fn queue_prepend(objects: &mut ObjectStore, q: TcbQueue, t: ObjPtr, kind: QueueKind) -> TcbQueue {
    set_links(objects, t, kind, Links { prev: None, next: q.head });
    if let Some(head) = q.head {
        set_prev(objects, head, kind, Some(t));
    }
    TcbQueue { head: Some(t), tail: q.tail.or(Some(t)) }
}

/// `tcbEPDequeue` / `tcbSchedDequeue`'s list part: `t` leaves `q` (which it must be in). O(1).
pub fn queue_remove(objects: &mut ObjectStore, q: TcbQueue, t: ObjPtr, kind: QueueKind) -> TcbQueue {
    let Links { prev, next } = links(objects, t, kind);
    let mut q = q;
    match prev {
        Some(p) => set_next(objects, p, kind, next),
        None => q.head = next,
    }
    match next {
        Some(n) => set_prev(objects, n, kind, prev),
        None => q.tail = prev,
    }
    set_links(objects, t, kind, Links::default());
    q
}

/// The ready queues: one per priority, round robin within each (`ksReadyQueues`), and a bitmap of
/// the non-empty ones (`ksReadyQueuesL1Bitmap`/`L2Bitmap` in one level), so that the highest
/// non-empty queue is found in a few instructions. The 256 queues are one fixed block, allocated
/// with the kernel state (8 KiB: not on the kernel stack), whatever threads come and go.
#[derive(Clone)]
pub struct ReadyQueues {
    /// Bit `p % 64` of word `p / 64`: queue `p` is non-empty.
    bitmap: [u64; 4],
    /// The queue of each priority.
    queues: alloc::boxed::Box<[TcbQueue; 256]>,
}

impl Default for ReadyQueues {
    fn default() -> Self {
        ReadyQueues { bitmap: [0; 4], queues: alloc::boxed::Box::new([TcbQueue::default(); 256]) }
    }
}

impl ReadyQueues {
    /// The queue of `prio`.
    #[inline]
    pub fn get(&self, prio: u8) -> TcbQueue {
        self.queues[prio as usize]
    }

    /// Sets the queue of `prio`.
    #[inline]
    pub fn set(&mut self, prio: u8, q: TcbQueue) {
        let (word, bit) = (prio as usize / 64, 1u64 << (prio % 64));
        if q.is_empty() {
            self.bitmap[word] &= !bit;
            self.queues[prio as usize] = TcbQueue::default();
        } else {
            self.bitmap[word] |= bit;
            self.queues[prio as usize] = q;
        }
    }

    /// The highest priority with a non-empty queue.
    #[inline]
    pub fn highest(&self) -> Option<u8> {
        (0..4)
            .rev()
            .find(|&w| self.bitmap[w] != 0)
            .map(|w| (w * 64 + 63 - self.bitmap[w].leading_zeros() as usize) as u8)
    }

    /// The non-empty queues with their priorities, lowest priority first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u8, TcbQueue)> + '_ {
        (0..=255u8)
            .filter(|&p| self.bitmap[p as usize / 64] & (1 << (p % 64)) != 0)
            .map(|p| (p, self.queues[p as usize]))
    }
}

/// Two sets of ready queues are equal when their non-empty queues are (an empty queue is all
/// `None`, so the arrays hold nothing else).
impl PartialEq for ReadyQueues {
    fn eq(&self, other: &Self) -> bool {
        self.bitmap == other.bitmap && self.iter().eq(other.iter())
    }
}

impl Eq for ReadyQueues {}

impl core::hash::Hash for ReadyQueues {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.bitmap.hash(state);
        self.iter().for_each(|(_, q)| q.hash(state));
    }
}

impl core::fmt::Debug for ReadyQueues {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The ready queues and the current thread.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Scheduler {
    /// The ready queues.
    pub ready: ReadyQueues,
    /// The thread running now, the last one activated (`ksCurThread`; `None`: idle).
    pub current: Option<ObjPtr>,
    /// The first of every TCB (`ksDebugTCBs`, seL4's debug build), linked through their
    /// `debug_links`, newest first: what DebugDumpScheduler prints.
    pub debug_tcbs: Option<ObjPtr>,
}

impl Scheduler {
    /// `chooseThread`: the head of the highest-priority non-empty ready queue (`None`: idle).
    #[inline]
    pub fn choose_thread(&self) -> Option<ObjPtr> {
        self.ready.highest().and_then(|p| self.ready.get(p).head)
    }

    /// The ready queue of `prio`.
    #[inline]
    pub fn queue(&self, prio: u8) -> TcbQueue {
        self.ready.get(prio)
    }

    #[inline]
    fn set_queue(&mut self, prio: u8, q: TcbQueue) {
        self.ready.set(prio, q);
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
