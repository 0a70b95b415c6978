//! Faults among other threads: a fault handler serving several faulters on the host machine
//! model (scripted threads, a timer), every interleaving of two faulters and their handler
//! under the model checker, and a property test of random faults, fault replies, handler
//! changes and deletions. The invariants hold after every gear throughout.

use abi::{CapRights, MessageInfo, Syscall, label};
use codegears::ObjPtr;
use codegears::SyscallError;

use codegears::fault::Fault;
use codegears::kernel::Done;
use codegears::object::ThreadState;

use gears_tests::sel4::machine::{Event, Machine, Op};
use gears_tests::sel4::mc::{IpcState, IpcSystem};
use gears_tests::sel4::{Sel4, WORD_BITS, invariants};
use metagears::mc::{Checker, GearModel};
use proptest::prelude::*;

/// A fault handler serving four faults of two threads with ReplyRecv, a thread without a handler
/// that stops, and a busy thread, under timer interrupts.
fn fault_machine() -> (Machine, [usize; 4]) {
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let (_, handler) = s.spawn(150);
    let (ac, a) = s.spawn(100);
    let (bc, b) = s.spawn(100);
    let (_, c) = s.spawn(100);
    let (_, busy) = s.spawn(100);
    let badged = s.mint(ep, CapRights::ALL, 0xb);
    s.set_fault_handler(ac, ep);
    s.set_fault_handler(bc, badged);
    let vm = Fault::VMFault { address: 0x2000, fsr: 6, instruction_fault: false };
    let ue = Fault::UserException { number: 0, code: 0 };
    let mut m = Machine::new(s, 3);
    let mut hs = vec![Op::Recv(ep)];
    hs.extend((0..3).map(|_| Op::ReplyRecv(ep, vec![])));
    hs.push(Op::Reply(vec![]));
    let h = m.thread(handler, hs);
    let ta = m.thread(a, [Op::Fault(vm), Op::Yield, Op::Fault(ue), Op::Yield]);
    let tb = m.thread(b, [Op::Yield, Op::Fault(ue), Op::Fault(vm)]);
    m.thread(c, [Op::Yield, Op::Fault(vm)]);
    let tbusy = m.thread(busy, (0..8).map(|_| Op::Yield));
    (m, [h, ta, tb, tbusy])
}

#[test]
fn a_fault_handler_among_other_threads_on_the_machine() {
    let (mut m, [h, ta, tb, tbusy]) = fault_machine();
    let steps = m.run(200);
    assert!(m.finished(), "every script ran to its end in {steps} steps:\n{}", m.trace());
    for i in [ta, tb, tbusy] {
        let t = m.threads[i].tcb;
        assert!(m.sel4.state(t).is_runnable(), "{i}: {:?}", m.sel4.state(t));
        assert_eq!(m.sel4.tcb(t).fault, None);
    }
    let c = m.threads[3].tcb;
    assert_eq!(m.sel4.state(c), ThreadState::Inactive, "no handler: stopped");
    let handler = m.threads[h].tcb;
    assert_eq!(m.sel4.received(handler).1, 0xb, "the last fault came through the badged cap");
    let faults = m.events.iter().filter(|e| matches!(e, Event::Syscall { op: Op::Fault(_), .. })).count();
    assert_eq!(faults, 5);
    assert!(m.events.iter().any(|e| matches!(e, Event::Interrupt(0))), "timer ticks happened");
    let (mut again, _) = fault_machine();
    again.run(200);
    assert_eq!(m.events, again.events, "deterministic");
    assert!(m.sel4.k.state == again.sel4.k.state);
}

#[test]
fn every_interleaving_of_two_faulters_and_their_handler() {
    let mut s = Sel4::boot(8, &[20, 22]);
    let ep = s.alloc_endpoint();
    let spawned: Vec<(u64, ObjPtr)> = (0..3).map(|_| s.spawn(100)).collect();
    let threads: Vec<ObjPtr> = spawned.iter().map(|&(_, t)| t).collect();
    let badged = s.mint(ep, CapRights::ALL, 7);
    // Threads 1 and 2 have ep (badge 0) and the badged cap as fault handlers.
    s.set_fault_handler(spawned[1].0, ep);
    s.set_fault_handler(spawned[2].0, badged);
    let vm = Fault::VMFault { address: 0x3000, fsr: 4, instruction_fault: false };
    let ue = Fault::UserException { number: 6, code: 0 };
    let scripts = vec![
        vec![Op::Recv(ep), Op::ReplyRecv(ep, vec![]), Op::Reply(vec![])],
        vec![Op::Fault(vm), Op::Yield],
        vec![Op::Fault(ue), Op::Yield],
    ];
    let sys = IpcSystem { kernel: s.k.clone(), threads: threads.clone(), scripts };
    let t = threads.clone();
    let report =
        Checker::new(GearModel::new(sys))
            .invariant("kernel", |st: &IpcState| invariants(&st.k))
            .invariant("faulters wait or run without a fault", move |st: &IpcState| {
                for &f in &t[1..] {
                    let x = st.k.state.objects.tcb(f);
                    if x.state.is_runnable() && x.fault.is_some() {
                        return Err(format!("{f:?} runs with {:?}", x.fault));
                    }
                }
                Ok(())
            })
            .invariant("no errors", |st: &IpcState| {
                if st.errors.is_empty() { Ok(()) } else { Err(format!("{:?}", st.errors)) }
            })
            .bfs();
    println!("{}", report.stats);
    assert!(report.is_ok(), "{}", report);
    assert!(report.complete);
    assert!(report.stats.distinct > 30, "{}", report.stats);
    assert!(report.stats.terminal > 0, "{}", report.stats);
}

/// One random step of the property test: which thread, what, on which cap.
#[derive(Clone, Debug)]
enum Step {
    /// The thread takes a fault of this kind (0 VM, 1 user exception, 2 unknown syscall).
    Fault(usize, u8),
    Call(usize, usize),
    Recv(usize, usize),
    Reply(usize, u64),
    ReplyRecv(usize, usize, u64),
    SetHandler(usize, usize),
    Suspend(usize),
    Resume(usize),
    CancelBadged,
    DeleteCap(usize),
    DeleteTcb(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let t = 0usize..4;
    let c = 0usize..6;
    prop_oneof![
        4 => (t.clone(), 0u8..3).prop_map(|(t, k)| Step::Fault(t, k)),
        2 => (t.clone(), c.clone()).prop_map(|(t, c)| Step::Call(t, c)),
        3 => (t.clone(), c.clone()).prop_map(|(t, c)| Step::Recv(t, c)),
        2 => (t.clone(), 0u64..3).prop_map(|(t, l)| Step::Reply(t, l)),
        3 => (t.clone(), c.clone(), 0u64..3).prop_map(|(t, c, l)| Step::ReplyRecv(t, c, l)),
        1 => (t.clone(), c.clone()).prop_map(|(t, c)| Step::SetHandler(t, c)),
        1 => t.clone().prop_map(Step::Suspend),
        2 => t.clone().prop_map(Step::Resume),
        1 => Just(Step::CancelBadged),
        1 => c.clone().prop_map(Step::DeleteCap),
        1 => (1usize..4).prop_map(Step::DeleteTcb),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random faults, fault handling and IPC among the root task and three helpers whose fault
    /// handlers are an endpoint, badged copies of it, a copy without grant, a notification or an
    /// empty slot, with handlers changed, threads suspended, resumed and deleted and caps deleted
    /// on the way: every step ends with Ok, Blocked or an seL4 error; a cap fault is sent on as
    /// the kernel would; every invariant (a pending fault only on a thread waiting to send it or
    /// for its reply included) holds after every gear.
    #[test]
    fn random_faults_keep_the_invariants(steps in prop::collection::vec(step(), 1..100)) {
        let mut s = Sel4::boot(10, &[20, 22]);
        let ep = s.alloc_endpoint();
        let b1 = s.mint(ep, CapRights::ALL, 1);
        let b2 = s.mint(ep, CapRights::ALL, 2);
        let no_grant = s.mint(ep, CapRights { grant: false, grant_reply: false, ..CapRights::ALL }, 3);
        let ntfn = s.alloc_notification();
        let empty = s.free_slot();
        let caps = [ep, b1, b2, no_grant, ntfn, empty];
        let mut threads = vec![(abi::bootinfo::CAP_INIT_THREAD_TCB, s.info.root_tcb)];
        for (p, handler) in [(100, ep), (100, b1), (150, b2)] {
            let (c, t) = s.spawn(p);
            s.set_fault_handler(c, handler);
            threads.push((c, t));
        }
        for st in steps {
            let th = |i: usize| threads[i].1;
            let out = match st {
                Step::Fault(t, kind) => {
                    let f = match kind {
                        0 => Fault::VMFault { address: 0x5000, fsr: 6, instruction_fault: false },
                        1 => Fault::UserException { number: 13, code: 0 },
                        _ => Fault::UnknownSyscall { syscall_number: 99 },
                    };
                    s.as_thread(th(t), |s| s.fault(f))
                }
                Step::Call(t, c) => s.as_thread(th(t), |s| s.call(caps[c], 0, &[1])),
                Step::Recv(t, c) => s.as_thread(th(t), |s| s.recv(caps[c])),
                Step::Reply(t, l) => s.as_thread(th(t), |s| s.reply(l, &[0x40_0000, 0x7000])),
                Step::ReplyRecv(t, c, l) => {
                    s.as_thread(th(t), |s| s.reply_recv(caps[c], l, &[0x40_0000]))
                }
                Step::SetHandler(t, c) => {
                    let r = s.root();
                    let info = MessageInfo::new(label::tcb::SET_SPACE, 0, 2, 3);
                    s.sys(Syscall::Call, threads[t].0, info, &[caps[c], 0, 0], &[r, r])
                }
                Step::Suspend(t) => s.suspend(threads[t].0),
                Step::Resume(t) => s.resume(threads[t].0),
                Step::CancelBadged => {
                    let r = s.root();
                    s.cnode_cancel_badged_sends(r, b1, WORD_BITS).map(|()| Done::Ok)
                }
                Step::DeleteCap(c) => {
                    let r = s.root();
                    s.cnode_delete(r, caps[c], WORD_BITS).map(|()| Done::Ok)
                }
                Step::DeleteTcb(t) => {
                    let r = s.root();
                    s.cnode_delete(r, threads[t].0, WORD_BITS).map(|()| Done::Ok)
                }
            };
            match out {
                Ok(_) => {}
                // The kernel entry sent a system call's cap fault on to the thread's handler.
                Err(e) => {
                    prop_assert!(e.error().is_some() || matches!(e, SyscallError::CapFault { .. }), "{e:?}");
                }
            }
            if let Some(t) = s.running() {
                prop_assert!(s.state(t).is_runnable());
            }
        }
        gears_tests::sel4::invariants(&s.k).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}
