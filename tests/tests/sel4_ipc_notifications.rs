//! Notifications: sel4test's BIND0001–BIND0004 (`binding.c`) and NBWAIT0001 (`nbwait.c`)
//! ported, plus the signal word OR-ing badges while no one waits, and the binding rules of
//! BindNotification / UnbindNotification.

use abi::CapRights;
use std::cell::Cell;
use std::rc::Rc;

use codegears::kernel::Done;
use codegears::object::{NtfnState, ThreadState};
use codegears::{LookupFault, SyscallError};
use gears_tests::sel4::{Sel4, ThreadStep};

const NUM_RUNS: u64 = 10;
const ASYNC: u64 = 1;
const SYNC: u64 = 2;

fn env() -> Sel4 {
    Sel4::boot(10, &[20, 22])
}

/// `sender`: `runs` empty Sends on `ep` (a notification or an endpoint cap).
fn sender_script(ep: u64, runs: u64) -> Vec<ThreadStep> {
    (0..runs)
        .map(|_| -> ThreadStep {
            Box::new(move |s: &mut Sel4| {
                assert!(s.send(ep, 0, &[]).is_ok());
            })
        })
        .collect()
}

/// BIND0001: the root task, bound to a notification, waits on an endpoint; one helper signals
/// the notification (badge ASYNC) ten times, another sends on the endpoint (badge SYNC) ten
/// times; the root, at a higher priority than both, receives all twenty, told apart by badge.
#[test]
fn bind0001_bound_tcb_waiting_on_an_endpoint_gets_both() {
    let mut s = env();
    let root = s.info.root_tcb;
    let sync_ep = s.alloc_endpoint();
    let ntfn = s.alloc_notification();
    let badged_ntfn = s.mint(ntfn, CapRights::ALL, ASYNC);
    let badged_sync = s.mint(sync_ep, CapRights::ALL, SYNC);
    let (ntfn_cap, ntfn_t) = s.spawn(100);
    let (sync_cap, sync_t) = s.spawn(100);
    assert_eq!(s.bind_notification(abi::bootinfo::CAP_INIT_THREAD_TCB, ntfn), Ok(Done::Ok));
    let counts = Rc::new(Cell::new((0u64, 0u64)));
    let mut root_steps: Vec<ThreadStep> = vec![Box::new(move |s: &mut Sel4| {
        assert!(s.wait(sync_ep).is_ok());
    })];
    for i in 0..NUM_RUNS * 2 {
        let counts = counts.clone();
        root_steps.push(Box::new(move |s: &mut Sel4| {
            let (a, b) = counts.get();
            match s.received(root).1 {
                ASYNC => counts.set((a + 1, b)),
                SYNC => counts.set((a, b + 1)),
                x => panic!("badge {x}"),
            }
            if i + 1 < NUM_RUNS * 2 {
                assert!(s.wait(sync_ep).is_ok());
            }
        }));
    }
    let mut scripts = vec![
        (root, root_steps),
        (ntfn_t, sender_script(badged_ntfn, NUM_RUNS)),
        (sync_t, sender_script(badged_sync, NUM_RUNS)),
    ];
    s.run_scripts(&mut scripts);
    assert!(scripts.iter().all(|(_, v)| v.is_empty()), "every thread finished");
    assert_eq!(counts.get(), (NUM_RUNS, NUM_RUNS));
    assert_eq!(s.unbind_notification(abi::bootinfo::CAP_INIT_THREAD_TCB), Ok(Done::Ok));
    assert_eq!(s.tcb(root).bound_notification, None);
    for c in [sync_cap, ntfn_cap] {
        assert_eq!(s.suspend(c), Ok(Done::Ok));
    }
}

/// BIND0002: bound to a notification, the root task waits on that notification itself and gets
/// every signal.
#[test]
fn bind0002_bound_tcb_waiting_on_its_notification() {
    let mut s = env();
    let root = s.info.root_tcb;
    let ntfn = s.alloc_notification();
    let badged = s.mint(ntfn, CapRights::ALL, ASYNC);
    let (_, t) = s.spawn(100);
    assert_eq!(s.bind_notification(abi::bootinfo::CAP_INIT_THREAD_TCB, ntfn), Ok(Done::Ok));
    let mut got = 0;
    for _ in 0..NUM_RUNS {
        assert_eq!(s.wait(ntfn), Ok(Done::Blocked));
        assert_eq!(s.as_thread(t, |s| s.signal(badged)), Ok(Done::Ok));
        assert_eq!(s.state(root), ThreadState::Running);
        if s.received(root).1 == ASYNC {
            got += 1;
        }
    }
    assert_eq!(got, NUM_RUNS);
    // Another thread may not wait on a notification bound to someone else: a cap fault.
    let fault = SyscallError::CapFault { cptr: ntfn, fault: LookupFault::MissingCapability { bits_left: 0 } };
    assert_eq!(s.as_thread(t, |s| s.wait(ntfn)), Err(fault));
    assert_eq!(s.unbind_notification(abi::bootinfo::CAP_INIT_THREAD_TCB), Ok(Done::Ok));
}

/// BIND0003/BIND0004: a helper bound to a notification waits on it; another helper signals
/// once; at either priority order the waiter wakes and both finish.
fn binding_prio(waiter_prio: u8, sender_prio: u8) {
    let mut s = env();
    let ntfn = s.alloc_notification();
    let (wc, w) = s.spawn(waiter_prio);
    let (_, snd) = s.spawn(sender_prio);
    assert_eq!(s.bind_notification(wc, ntfn), Ok(Done::Ok));
    let n = s.obj_ptr(ntfn);
    let woke = Rc::new(Cell::new(false));
    let w2 = woke.clone();
    let mut scripts: Vec<(codegears::ObjPtr, Vec<ThreadStep>)> = vec![
        (
            w,
            vec![
                Box::new(move |s: &mut Sel4| {
                    assert!(s.wait(ntfn).is_ok());
                }),
                Box::new(move |_: &mut Sel4| w2.set(true)),
            ],
        ),
        (snd, sender_script(ntfn, 1)),
    ];
    let order = s.run_scripts(&mut scripts);
    assert!(scripts.iter().all(|(_, v)| v.is_empty()), "both helpers finished");
    assert!(woke.get());
    assert_eq!(order[0], if waiter_prio > sender_prio { w } else { snd });
    if waiter_prio < sender_prio {
        // The signal came first and was kept (Active) until the waiter polled it.
        assert_eq!(s.received(w).1, 0, "an unbadged signal");
    }
    assert_eq!(s.k.state.objects.notification(n).state, NtfnState::Idle);
}

#[test]
fn bind0003_waiter_first() {
    binding_prio(10, 9);
}

#[test]
fn bind0004_sender_first() {
    binding_prio(9, 10);
}

#[test]
fn bind_rules() {
    let mut s = env();
    let ntfn = s.alloc_notification();
    let other = s.alloc_notification();
    let (tc, _) = s.spawn(10);
    let (uc, _) = s.spawn(10);
    assert_eq!(s.unbind_notification(tc), Err(SyscallError::IllegalOperation), "nothing bound");
    let no_read = s.mint(ntfn, CapRights { read: false, ..CapRights::ALL }, 0);
    assert_eq!(s.bind_notification(tc, no_read), Err(SyscallError::IllegalOperation), "needs read");
    let ep = s.alloc_endpoint();
    assert_eq!(s.bind_notification(tc, ep), Err(SyscallError::IllegalOperation), "not a notification");
    assert_eq!(s.bind_notification(tc, ntfn), Ok(Done::Ok));
    assert_eq!(s.bind_notification(tc, other), Err(SyscallError::IllegalOperation), "already bound");
    assert_eq!(s.bind_notification(uc, ntfn), Err(SyscallError::IllegalOperation), "notification taken");
    // Deleting the notification unbinds it.
    let r = s.root();
    assert_eq!(s.cnode_delete(r, no_read, 64), Ok(()));
    assert_eq!(s.cnode_delete(r, ntfn, 64), Ok(()));
    let t = s.tcb_ptr(tc);
    assert_eq!(s.tcb(t).bound_notification, None);
    assert_eq!(s.bind_notification(tc, other), Ok(Done::Ok));
}

#[test]
fn signals_or_their_badges_while_no_one_waits() {
    let mut s = env();
    let root = s.info.root_tcb;
    let ntfn = s.alloc_notification();
    let b1 = s.mint(ntfn, CapRights::ALL, 0b001);
    let b4 = s.mint(ntfn, CapRights::ALL, 0b100);
    assert_eq!(s.signal(b1), Ok(Done::Ok));
    assert_eq!(s.signal(b4), Ok(Done::Ok));
    assert_eq!(s.nb_recv(ntfn), Ok(Done::Ok));
    assert_eq!(s.received(root).1, 0b101);
    assert_eq!(s.nb_recv(ntfn), Ok(Done::Ok));
    assert_eq!(s.received(root).1, 0, "polled empty");
    // A signal needs write.
    let no_write = s.mint(ntfn, CapRights { write: false, ..CapRights::ALL }, 2);
    assert_eq!(s.signal(no_write), Err(SyscallError::InvalidCapability { cap: 0 }));
}

/// NBWAIT0001: NBRecv and Poll return at once; a bound notification's signal is returned by an
/// NBRecv on an endpoint; a waiting sender's message (and badge) by the next.
#[test]
fn nbwait0001_nbrecv() {
    let mut s = env();
    let root = s.info.root_tcb;
    let endpoint = s.alloc_endpoint();
    let notification = s.alloc_notification();
    assert_eq!(s.bind_notification(abi::bootinfo::CAP_INIT_THREAD_TCB, notification), Ok(Done::Ok));
    let badged_endpoint = s.mint(endpoint, CapRights::ALL, 1);
    let badged_notification = s.mint(notification, CapRights::ALL, 2);
    let badge = |s: &Sel4| s.received(root).1;
    assert_eq!(s.nb_recv(endpoint), Ok(Done::Ok));
    assert_eq!(badge(&s), 0);
    assert_eq!(s.nb_recv(notification), Ok(Done::Ok));
    assert_eq!(badge(&s), 0);
    assert_eq!(s.signal(badged_notification), Ok(Done::Ok));
    assert_eq!(s.nb_recv(notification), Ok(Done::Ok));
    assert_eq!(badge(&s), 2);
    assert_eq!(s.nb_recv(notification), Ok(Done::Ok));
    assert_eq!(badge(&s), 0);
    assert_eq!(s.signal(badged_notification), Ok(Done::Ok));
    assert_eq!(s.nb_recv(endpoint), Ok(Done::Ok));
    assert_eq!(badge(&s), 2, "bound: the endpoint NBRecv returns the signal");
    assert_eq!(s.nb_recv(endpoint), Ok(Done::Ok));
    assert_eq!(badge(&s), 0);
    // A helper at the root's priority sends once; the root lowers its own priority to let it run.
    let (hc, h) = s.spawn(255);
    assert_eq!(s.set_priority(abi::bootinfo::CAP_INIT_THREAD_TCB, 254), Ok(Done::Ok));
    assert_eq!(s.running(), Some(h));
    assert_eq!(s.as_thread(h, |s| s.send(badged_endpoint, 0, &[0xdead_beef])), Ok(Done::Blocked));
    assert_eq!(s.running(), Some(root));
    assert_eq!(s.nb_recv(endpoint), Ok(Done::Ok));
    let (info, b, mrs) = s.received(root);
    assert_eq!((b, info.length(), mrs[0]), (1, 1, 0xdead_beef));
    assert_eq!(s.state(h), ThreadState::Running);
    assert_eq!(s.nb_recv(endpoint), Ok(Done::Ok));
    assert_eq!(badge(&s), 0);
    assert_eq!(s.suspend(hc), Ok(Done::Ok));
    assert_eq!(s.unbind_notification(abi::bootinfo::CAP_INIT_THREAD_TCB), Ok(Done::Ok));
}
