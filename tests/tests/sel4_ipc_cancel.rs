//! Cancelling IPC: sel4test's CANCEL_BADGED_SENDS_0001/0002 (`endpoints.c`) ported, endpoint
//! deletion releasing its queue (seL4's `cancelAllIPC`), and both loops over 10,000 blocked
//! senders. Deleting the endpoint is preempted again and again (InjectAt), under Restart and
//! Resume: it converges, one thread per preemption point, the gears between two points bounded
//! whatever the queue length, and the invariants hold at every preemption point (thread and
//! queue invariants at the endpoint's queue at each point, every invariant at sampled points and
//! where preempted). CancelBadgedSends has no preemption point, as in seL4: it runs to the end.

use abi::{CapRights, label};
use codegears::kernel::{Done, Kernel};
use codegears::object::ThreadState;
use codegears::{ObjPtr, SyscallError, check_local_queue_invariants};
use gears::{Dispatcher, MetaGear, Mode, PointDecision, Step};
use gears_tests::sel4::{Sel4, WORD_BITS, invariants};
use metagears::{GapMeter, InjectAt};

const NUM_BADGED_CLIENTS: u64 = 32;
/// Blocked senders in the preemption tests.
const N: u64 = 10_000;

/// CANCEL_BADGED_SENDS_0001: 32 clients Call through derived copies of badged caps (badges
/// 200…); the server answers each once; the second Calls all wait. Revoking a client's badged
/// cap and cancelling its badge's sends restarts exactly that client, whose Call then finds its
/// cap gone (InvalidCapability); the others keep waiting.
#[test]
fn cancel_badged_sends_0001() {
    let mut s = Sel4::boot(10, &[20, 20]);
    let ep = s.alloc_endpoint();
    let r = s.root();
    let mut clients = Vec::new();
    for i in 0..NUM_BADGED_CLIENTS {
        let badged = s.mint(ep, CapRights::ALL, i + 200);
        let derived = s.free_slot();
        assert_eq!(s.copy(badged, derived), Ok(()));
        let (tc, t) = s.spawn(100);
        clients.push((badged, derived, tc, t));
    }
    // The clients call: each waits on the endpoint.
    for (i, &(_, derived, _, t)) in clients.iter().enumerate() {
        let msg = i as u64 + 100;
        assert_eq!(s.as_thread(t, |s| s.call(derived, 0, &[msg])), Ok(Done::Blocked));
    }
    // The server receives each in turn, checks the badge, replies with the complement.
    for _ in 0..NUM_BADGED_CLIENTS {
        assert_eq!(s.recv(ep), Ok(Done::Ok));
        let (info, badge, mrs) = s.received(s.info.root_tcb);
        assert_eq!(info.length(), 1);
        assert_eq!(mrs[0], badge - 100);
        assert_eq!(s.reply(0, &[!mrs[0]]), Ok(Done::Ok));
    }
    for (i, &(_, derived, _, t)) in clients.iter().enumerate() {
        let msg = i as u64 + 100;
        let (info, _, mrs) = s.received(t);
        assert_eq!((info.length(), mrs[0]), (1, !msg));
        assert_eq!(s.state(t), ThreadState::Running);
        // Call again: this one will be cancelled.
        assert_eq!(s.as_thread(t, |s| s.call(derived, 0, &[msg])), Ok(Done::Blocked));
    }
    for (i, &(badged, _, _, _)) in clients.iter().enumerate() {
        assert_eq!(s.cnode_revoke(r, badged, WORD_BITS), Ok(()));
        assert_eq!(s.cnode_cancel_badged_sends(r, badged, WORD_BITS), Ok(()));
        // The restarted client re-runs its Call on the now empty slot.
        let (_, derived, _, t) = clients[i];
        assert_eq!(s.state(t), ThreadState::Restart);
        let msg = i as u64 + 100;
        assert_eq!(
            s.as_thread(t, |s| s.call(derived, 0, &[msg])),
            Err(SyscallError::InvalidCapability { cap: 0 })
        );
        for (j, &(_, _, _, u)) in clients.iter().enumerate() {
            let waiting = matches!(s.state(u), ThreadState::BlockedOnSend { badge, is_call: true, .. } if badge == j as u64 + 200);
            assert_eq!(waiting, j > i, "client {j} after cancelling {i}");
        }
    }
    let e = s.obj_ptr(ep);
    assert!(s.k.state.objects.endpoint(e).queue.is_empty());
}

/// CANCEL_BADGED_SENDS_0002: a bouncer thread answers every Call on the endpoint; each client
/// calls through a derived copy of its badged cap. After the revoke and cancel of client i's
/// badge, clients 0..=i find their caps deleted, the others still get through.
#[test]
fn cancel_badged_sends_0002() {
    let mut s = Sel4::boot(10, &[20, 20]);
    let ep = s.alloc_endpoint();
    let r = s.root();
    let (_, bouncer) = s.spawn(100);
    assert_eq!(s.as_thread(bouncer, |s| s.recv(ep)), Ok(Done::Blocked));
    let mut clients = Vec::new();
    for i in 0..NUM_BADGED_CLIENTS {
        let badged = s.mint(ep, CapRights::ALL, i + 200);
        let derived = s.free_slot();
        assert_eq!(s.copy(badged, derived), Ok(()));
        let (_, t) = s.spawn(100);
        clients.push((badged, derived, t));
    }
    // One round: every client calls; a call that gets through is answered by the bouncer.
    let round = |s: &mut Sel4, clients: &[(u64, u64, ObjPtr)]| -> Vec<bool> {
        clients
            .iter()
            .map(|&(_, derived, t)| match s.as_thread(t, |s| s.call(derived, 0, &[])) {
                Ok(Done::Blocked) => {
                    assert_eq!(s.state(t), ThreadState::BlockedOnReply);
                    assert_eq!(s.as_thread(bouncer, |s| s.reply_recv(ep, 0, &[])), Ok(Done::Blocked));
                    assert_eq!(s.state(t), ThreadState::Running);
                    true
                }
                Err(SyscallError::InvalidCapability { cap: 0 }) => false,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert!(round(&mut s, &clients).iter().all(|&ok| ok));
    for i in 0..clients.len() {
        assert_eq!(s.cnode_revoke(r, clients[i].0, WORD_BITS), Ok(()));
        assert_eq!(s.cnode_cancel_badged_sends(r, clients[i].0, WORD_BITS), Ok(()));
        let status = round(&mut s, &clients);
        for (j, ok) in status.into_iter().enumerate() {
            assert_eq!(ok, j > i, "client {j} after cancelling {i}");
        }
    }
}

/// Deleting the last cap of an endpoint restarts every thread waiting on it (cancelAllIPC),
/// senders and receivers alike, and ends the endpoint.
#[test]
fn deleting_an_endpoint_restarts_its_queue() {
    let mut s = Sel4::boot(10, &[20, 20]);
    let r = s.root();
    for receivers in [false, true] {
        let ep = s.alloc_endpoint();
        let e = s.obj_ptr(ep);
        let threads: Vec<ObjPtr> = (0..5).map(|_| s.spawn(50).1).collect();
        for (i, &t) in threads.iter().enumerate() {
            let out = s.as_thread(t, |s| if receivers { s.recv(ep) } else { s.send(ep, 0, &[i as u64]) });
            assert_eq!(out, Ok(Done::Blocked));
        }
        assert_eq!(s.cnode_delete(r, ep, WORD_BITS), Ok(()));
        assert!(!s.is_live(e), "the endpoint is gone");
        for &t in &threads {
            assert_eq!(s.state(t), ThreadState::Restart);
            // Re-running the system call finds no cap: a cap fault for Recv, an error for Send.
            let out = s.as_thread(t, |s| if receivers { s.recv(ep) } else { s.send(ep, 0, &[]) });
            assert!(out.is_err(), "{out:?}");
        }
    }
}

/// The invariant metagear for 10,000 queued threads: the endpoint's local queue invariants at
/// every preemption point, every invariant (O(n log n)) at every `every`-th point and at every
/// `every_preempted`-th point where the run is preempted.
struct QueueInvariant {
    ep: ObjPtr,
    every: u64,
    every_preempted: u64,
    seen: u64,
    preempted: u64,
    local: u64,
    full: u64,
}

impl MetaGear<Kernel> for QueueInvariant {
    fn preemption_point(
        &mut self,
        _: &Step<Kernel>,
        _: &'static gears::Gear<Kernel>,
        k: &Kernel,
    ) -> PointDecision {
        self.seen += 1;
        self.local += 1;
        if let Err(e) = check_local_queue_invariants(&k.state, self.ep, false) {
            panic!("local queue invariant violated at point {}: {e}", self.seen);
        }
        if self.seen.is_multiple_of(self.every) {
            self.full += 1;
            if let Err(e) = invariants(k) {
                panic!("invariant violated at point {}: {e}", self.seen);
            }
        }
        PointDecision::Continue
    }

    fn preempted(&mut self, _: &Step<Kernel>, _: &'static gears::Gear<Kernel>, _: Mode, k: &Kernel) {
        self.preempted += 1;
        if !self.preempted.is_multiple_of(self.every_preempted) {
            return;
        }
        self.full += 1;
        if let Err(e) = invariants(k) {
            panic!("invariant violated where preempted: {e}");
        }
    }
}

/// `n` threads blocked sending on `ep`, every other one through a cap badged 7 (the rest 9).
fn queue_senders(n: u64) -> (Sel4, u64, u64, Vec<ObjPtr>) {
    let mut s = Sel4::boot(15, &[20, 27]);
    let ep = s.alloc_endpoint();
    let b7 = s.mint(ep, CapRights::ALL, 7);
    let b9 = s.mint(ep, CapRights::ALL, 9);
    s.checked = false; // setup: checked once at the end
    let mut threads = Vec::new();
    for i in 0..n {
        let (_, t) = s.spawn(10);
        let cap = if i % 2 == 0 { b7 } else { b9 };
        assert_eq!(s.as_thread(t, |s| s.send(cap, 0, &[i])), Ok(Done::Blocked));
        threads.push(t);
    }
    s.checked = true;
    invariants(&s.k).unwrap();
    (s, ep, b7, threads)
}

/// Runs a CNode invocation on `target` preempted at every `inject`-th point; returns
/// (preemptions, preemption points, largest gap in gears, gears run).
fn preempted(
    s: &mut Sel4,
    lbl: u64,
    target: u64,
    ep: ObjPtr,
    inject: u64,
    mode: Mode,
) -> (u64, u64, u64, u64) {
    let r = s.root();
    let req = s.request(r, lbl, &[target, WORD_BITS], &[]);
    let inv =
        QueueInvariant { ep, every: 997, every_preempted: 101, seen: 0, preempted: 0, local: 0, full: 0 };
    let mut d = Dispatcher::new((InjectAt::every_nth(inject, mode), inv, GapMeter::new()));
    let (res, preemptions) = s.run(&mut d, req);
    assert_eq!(res, Ok(()));
    assert!(s.halted.is_none());
    invariants(&s.k).unwrap();
    let (inject, inv, gap) = d.meta();
    assert_eq!(inv.local, inject.seen(), "the local invariants at every preemption point");
    assert_eq!(inv.full, inject.seen() / 997 + preemptions / 101);
    (preemptions, inject.seen(), gap.max_gap(), d.steps())
}

#[test]
fn cancel_badged_sends_of_10000_senders_runs_to_the_end() {
    for mode in [Mode::Restart, Mode::Resume] {
        let (mut s, ep, b7, threads) = queue_senders(N);
        let e = s.obj_ptr(ep);
        let (preemptions, points, _, steps) =
            preempted(&mut s, label::cnode::CANCEL_BADGED_SENDS, b7, e, 7, mode);
        // As in seL4, the scan has no preemption point: one gear per queued thread, in one go.
        assert_eq!((preemptions, points), (0, 0), "{mode:?}");
        assert!(steps > N, "{mode:?}: {steps} gears for {N} threads");
        // The badge-7 senders restarted, the badge-9 ones still queued, in order.
        for (i, &t) in threads.iter().enumerate() {
            let st = s.state(t);
            if i % 2 == 0 {
                assert_eq!(st, ThreadState::Restart);
            } else {
                assert!(matches!(st, ThreadState::BlockedOnSend { badge: 9, .. }), "{st:?}");
            }
        }
        assert_eq!(s.k.state.objects.endpoint(e).queue.head, Some(threads[1]));
        // The receiver now gets the badge-9 senders in their order.
        assert_eq!(s.recv(ep), Ok(Done::Ok));
        assert_eq!(s.received(s.info.root_tcb).1, 9);
        assert_eq!(s.received(s.info.root_tcb).2, vec![1]);
    }
}

#[test]
fn deleting_an_endpoint_with_10000_senders_preempted() {
    for mode in [Mode::Restart, Mode::Resume] {
        let (mut s, ep, b7, threads) = queue_senders(N);
        let e = s.obj_ptr(ep);
        // Only the last cap's deletion cancels: delete the badged copies first.
        let r = s.root();
        assert_eq!(s.cnode_delete(r, b7, WORD_BITS), Ok(()));
        assert_eq!(s.cnode_delete(r, b7 + 1, WORD_BITS), Ok(()));
        let (preemptions, points, gap, steps) = preempted(&mut s, label::cnode::DELETE, ep, e, 5, mode);
        eprintln!(
            "cancelAllIPC {mode:?}: {preemptions} preemptions, {points} points, max gap {gap}, {steps} gears"
        );
        assert_eq!(points, N, "{mode:?}: one preemption point per thread released");
        assert_eq!(preemptions, N / 5);
        assert!(gap <= 14, "{mode:?}: {gap} gears between two preemption points");
        assert!(!s.is_live(e), "the endpoint is gone");
        assert!(threads.iter().all(|&t| s.state(t) == ThreadState::Restart));
        assert!(s.is_slot_empty(ep));
    }
}

/// Deleting a notification restarts its waiters (cancelAllSignals) and unbinds it; deleting a
/// TCB blocked on an endpoint takes it out of the queue.
#[test]
fn deleting_notifications_and_blocked_tcbs() {
    let mut s = Sel4::boot(10, &[20, 22]);
    let r = s.root();
    let ntfn = s.alloc_notification();
    let n = s.obj_ptr(ntfn);
    let waiters: Vec<ObjPtr> = (0..4).map(|_| s.spawn(10).1).collect();
    for &t in &waiters {
        assert_eq!(s.as_thread(t, |s| s.wait(ntfn)), Ok(Done::Blocked));
    }
    assert_eq!(s.cnode_delete(r, ntfn, WORD_BITS), Ok(()));
    assert!(!s.is_live(n));
    assert!(waiters.iter().all(|&t| s.state(t) == ThreadState::Restart));
    let ep = s.alloc_endpoint();
    let e = s.obj_ptr(ep);
    let (a_cap, a) = s.spawn(10);
    let (_, b) = s.spawn(10);
    assert_eq!(s.as_thread(a, |s| s.send(ep, 0, &[1])), Ok(Done::Blocked));
    assert_eq!(s.as_thread(b, |s| s.send(ep, 0, &[2])), Ok(Done::Blocked));
    assert_eq!(s.cnode_delete(r, a_cap, WORD_BITS), Ok(()));
    assert!(!s.is_live(a), "the TCB is gone");
    assert_eq!(s.k.state.objects.endpoint(e).queue.head, Some(b));
    assert_eq!(s.recv(ep), Ok(Done::Ok));
    assert_eq!(s.received(s.info.root_tcb).2, vec![2]);
}
