//! Threads and IPC beyond the sel4test pairs: IPC0010 (suspending a thread mid-Call), the
//! gears of a Call / ReplyRecv round trip, Yield's round robin, and random system calls from
//! several threads (proptest) with every invariant, thread and queue ones included, checked
//! after every gear.

use abi::{CapRights, MessageInfo, Syscall};
use codegears::entry::{End, Event};
use codegears::kernel::{Done, tcb_slot};
use codegears::object::ThreadState;
use codegears::{ObjPtr, SlotRef, SyscallError};
use gears::Dispatcher;
use gears_tests::sel4::{Sel4, WORD_BITS};
use metagears::Tracer;
use proptest::prelude::*;

/// IPC0010: a helper's Call is taken by the root task; suspending the helper deletes the reply
/// cap; resuming restarts it; suspending again and deleting it leave a consistent kernel.
#[test]
fn ipc0010_suspend_mid_call() {
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let root = s.info.root_tcb;
    let (tc, t) = s.spawn(100);
    assert_eq!(s.recv(ep), Ok(Done::Blocked));
    assert_eq!(s.as_thread(t, |s| s.call(ep, 0, &[0xabba_cafe])), Ok(Done::Blocked));
    assert_eq!(s.state(t), ThreadState::BlockedOnReply);
    assert_eq!(s.state(root), ThreadState::Running);
    let caller = SlotRef::of(root, tcb_slot::CALLER);
    assert!(!s.k.state.cspace.cap(caller).is_null(), "the root holds the reply cap");
    assert_eq!(s.suspend(tc), Ok(Done::Ok));
    assert_eq!(s.state(t), ThreadState::Inactive);
    assert!(s.k.state.cspace.cap(caller).is_null(), "suspending the caller deleted its reply cap");
    assert_eq!(s.resume(tc), Ok(Done::Ok));
    assert_eq!(s.state(t), ThreadState::Restart);
    assert_eq!(s.suspend(tc), Ok(Done::Ok));
    let r = s.root();
    assert_eq!(s.cnode_delete(r, tc, WORD_BITS), Ok(()));
    assert!(!s.is_live(t), "the TCB is gone");
    // Replying now finds no caller: nothing happens.
    assert_eq!(s.reply(0, &[]), Ok(Done::Ok));
}

/// The gears of one round trip: a client's Call to a server waiting in Recv, and the server's
/// ReplyRecv that answers it and waits again, each through the fastpath's gear (the general
/// path's gears: `tests/tests/sel4_fastpath.rs`).
#[test]
fn call_reply_recv_round_trip_gears() {
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let (_, server) = s.spawn(200);
    let (_, client) = s.spawn(100);
    assert_eq!(s.as_thread(server, |s| s.recv(ep)), Ok(Done::Blocked));
    let trace = |s: &mut Sel4, t: ObjPtr, syscall: Syscall| {
        s.as_thread(t, |s| {
            s.load_call(syscall, ep, MessageInfo::new(0, 0, 0, 1), &[7], &[]);
            let mut d = Dispatcher::new(Tracer::new());
            let end = s.enter(&mut d, Event::Syscall);
            assert!(matches!(end, Ok(End::Done(_))), "{end:?}");
            (d.meta().trace().to_string(), d.steps())
        })
    };
    let (call, call_steps) = trace(&mut s, client, Syscall::Call);
    insta::assert_snapshot!(call, @"
    . p2099204 start handle_syscall
    0 p2099204 handle_syscall -> fastpath_call
    1 p2099204 fastpath_call -> exit Blocked
    ");
    assert_eq!(s.state(client), ThreadState::BlockedOnReply);
    assert_eq!(s.state(server), ThreadState::Running, "the call woke the server");
    let (reply_recv, rr_steps) = trace(&mut s, server, Syscall::ReplyRecv);
    insta::assert_snapshot!(reply_recv, @"
    . p2099200 start handle_syscall
    0 p2099200 handle_syscall -> fastpath_reply_recv
    1 p2099200 fastpath_reply_recv -> exit Blocked
    ");
    assert_eq!(s.state(client), ThreadState::Running);
    assert_eq!(s.received(client).2, vec![7]);
    assert_eq!(call_steps + rr_steps, 4, "gears per Call + ReplyRecv round trip (the fastpath's)");
}

/// Yield: round robin among the runnable threads of one priority.
#[test]
fn yield_is_round_robin_within_a_priority() {
    let mut s = Sel4::boot(10, &[20, 22]);
    let root = s.info.root_tcb;
    let (_, a) = s.spawn(255);
    let (_, b) = s.spawn(255);
    assert_eq!(s.running(), Some(root));
    assert_eq!(s.yield_now(), Ok(Done::Ok));
    assert_eq!(s.running(), Some(a));
    assert_eq!(s.as_thread(a, |s| s.yield_now()), Ok(Done::Ok));
    assert_eq!(s.running(), Some(b));
    assert_eq!(s.as_thread(b, |s| s.yield_now()), Ok(Done::Ok));
    assert_eq!(s.running(), Some(root));
    // A lower priority never runs while a higher one is runnable.
    let (_, low) = s.spawn(3);
    assert_ne!(s.running(), Some(low));
    // A blocked thread is not runnable: Recv with nothing to receive blocks.
    let ep = s.alloc_endpoint();
    assert_eq!(s.recv(ep), Ok(Done::Blocked));
    assert_eq!(s.running(), Some(a));
    // It cannot make system calls while blocked.
    assert_eq!(s.yield_now(), Err(SyscallError::IllegalOperation));
}

/// `seL4_CNode_Delete` by the root task, preempted (Restart) at every other preemption point,
/// with the invariants at every gear.
fn preempted_delete(s: &mut Sel4, cptr: u64) -> Result<Done, SyscallError> {
    let r = s.root();
    let req = s.request(r, abi::label::cnode::DELETE, &[cptr, WORD_BITS], &[]);
    let mut d = Dispatcher::new((
        metagears::InjectAt::every_nth(2, gears::Mode::Restart),
        metagears::Invariant::new(gears_tests::sel4::invariants),
    ));
    let (out, _) = s.run(&mut d, req);
    assert!(d.meta().1.violation().is_none(), "{:?}", d.meta().1.violation());
    out.map(|()| Done::Ok)
}

/// One random system call: which thread, what, on which cap.
#[derive(Clone, Debug)]
enum Op {
    Send(usize, usize, u64),
    NbSend(usize, usize, u64),
    Call(usize, usize, u64),
    Recv(usize, usize),
    NbRecv(usize, usize),
    Reply(usize, u64),
    ReplyRecv(usize, usize, u64),
    Yield(usize),
    Suspend(usize),
    Resume(usize),
    SetPriority(usize, u64),
    CancelBadged(usize),
    /// Delete a cap (`caps` index), preempted at every other point.
    DeleteCap(usize),
    /// Delete a helper's TCB cap, preempted at every other point.
    DeleteTcb(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0usize..5;
    let c = 0usize..6;
    prop_oneof![
        3 => (t.clone(), c.clone(), 0u64..4).prop_map(|(t, c, n)| Op::Send(t, c, n)),
        1 => (t.clone(), c.clone(), 0u64..4).prop_map(|(t, c, n)| Op::NbSend(t, c, n)),
        3 => (t.clone(), c.clone(), 0u64..4).prop_map(|(t, c, n)| Op::Call(t, c, n)),
        3 => (t.clone(), c.clone()).prop_map(|(t, c)| Op::Recv(t, c)),
        1 => (t.clone(), c.clone()).prop_map(|(t, c)| Op::NbRecv(t, c)),
        2 => (t.clone(), 0u64..4).prop_map(|(t, n)| Op::Reply(t, n)),
        2 => (t.clone(), c.clone(), 0u64..4).prop_map(|(t, c, n)| Op::ReplyRecv(t, c, n)),
        1 => t.clone().prop_map(Op::Yield),
        1 => t.clone().prop_map(Op::Suspend),
        2 => t.clone().prop_map(Op::Resume),
        1 => (t.clone(), 0u64..300).prop_map(|(t, p)| Op::SetPriority(t, p)),
        1 => (0usize..2).prop_map(Op::CancelBadged),
        1 => c.clone().prop_map(Op::DeleteCap),
        1 => (1usize..5).prop_map(Op::DeleteTcb),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random IPC among the root task and four helpers over an endpoint (unbadged, two badged
    /// copies, a read-only copy), a notification and a bound notification: every call ends
    /// with Ok, Blocked or an error; every invariant holds after every gear (`Sel4::sys`); the
    /// queues agree with the thread states throughout.
    #[test]
    fn random_ipc_keeps_the_invariants(ops in prop::collection::vec(op(), 1..120)) {
        let mut s = Sel4::boot(10, &[20, 22]);
        let ep = s.alloc_endpoint();
        let b1 = s.mint(ep, CapRights::ALL, 1);
        let b2 = s.mint(ep, CapRights::ALL, 2);
        let ro = s.mint(ep, CapRights { write: false, ..CapRights::ALL }, 0);
        let ntfn = s.alloc_notification();
        let nb = s.mint(ntfn, CapRights::ALL, 4);
        let caps = [ep, b1, b2, ro, ntfn, nb];
        let mut threads = vec![(abi::bootinfo::CAP_INIT_THREAD_TCB, s.info.root_tcb)];
        for p in [100, 100, 50, 150] {
            threads.push(s.spawn(p));
        }
        assert_eq!(s.bind_notification(threads[4].0, ntfn), Ok(Done::Ok));
        let mut blocked = 0;
        for o in ops {
            let run = |s: &mut Sel4, t: usize, f: &dyn Fn(&mut Sel4) -> Result<Done, SyscallError>| {
                let th = threads[t].1;
                s.as_thread(th, |s| f(s))
            };
            let out = match o {
                Op::Send(t, c, n) => run(&mut s, t, &|s| s.send(caps[c], 0, &vec![n; n as usize])),
                Op::NbSend(t, c, n) => run(&mut s, t, &|s| s.nb_send(caps[c], 0, &vec![n; n as usize])),
                Op::Call(t, c, n) => run(&mut s, t, &|s| s.call(caps[c], 0, &vec![n; n as usize])),
                Op::Recv(t, c) => run(&mut s, t, &|s| s.recv(caps[c])),
                Op::NbRecv(t, c) => run(&mut s, t, &|s| s.nb_recv(caps[c])),
                Op::Reply(t, n) => run(&mut s, t, &|s| s.reply(0, &vec![n; n as usize])),
                Op::ReplyRecv(t, c, n) => run(&mut s, t, &|s| s.reply_recv(caps[c], 0, &vec![n; n as usize])),
                Op::Yield(t) => run(&mut s, t, &|s| s.yield_now()),
                Op::Suspend(t) => s.suspend(threads[t].0),
                Op::Resume(t) => s.resume(threads[t].0),
                Op::SetPriority(t, p) => s.set_priority(threads[t].0, p),
                Op::CancelBadged(i) => {
                    let r = s.root();
                    s.cnode_cancel_badged_sends(r, [b1, b2][i], WORD_BITS).map(|()| Done::Ok)
                }
                Op::DeleteCap(c) => preempted_delete(&mut s, caps[c]),
                Op::DeleteTcb(t) => preempted_delete(&mut s, threads[t].0),
            };
            match out {
                Ok(Done::Blocked) => blocked += 1,
                Ok(_) => {}
                Err(e) => prop_assert!(e.error().is_some() || matches!(e, SyscallError::CapFault { .. }), "{e:?}"),
            }
            // Whoever runs next is runnable.
            if let Some(t) = s.running() {
                prop_assert!(s.state(t).is_runnable());
            }
        }
        let _ = blocked;
        gears_tests::sel4::invariants(&s.k).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}
