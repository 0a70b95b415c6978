//! Model checking IPC (`metagears::mc` over `gears_tests::sel4::mc::IpcSystem`): every
//! interleaving of scripted threads' system calls, whatever their priorities, run on the kernel
//! gears. Two clients and a server: no deadlock, every invariant (thread and queue ones
//! included) in every state, and each client gets exactly one of the server's two replies. Two
//! threads that each Call the other before receiving: a deadlock, found in two steps.

use codegears::ObjPtr;
use codegears::object::ThreadState;
use gears_tests::sel4::machine::Op;
use gears_tests::sel4::mc::{IpcState, IpcSystem};
use gears_tests::sel4::{Sel4, invariants};
use metagears::mc::{Checker, Finding, GearModel};

fn kernel_with(n: usize) -> (Sel4, Vec<ObjPtr>) {
    let mut s = Sel4::boot(8, &[20, 22]);
    let threads = (0..n).map(|_| s.spawn(100).1).collect();
    (s, threads)
}

#[test]
fn clients_and_server_never_deadlock() {
    let (mut s, threads) = kernel_with(3);
    let ep = s.alloc_endpoint();
    let scripts = vec![
        vec![Op::Recv(ep), Op::ReplyRecv(ep, vec![10]), Op::Reply(vec![20])],
        vec![Op::Call(ep, vec![1])],
        vec![Op::Call(ep, vec![2])],
    ];
    let sys = IpcSystem { kernel: s.k.clone(), threads: threads.clone(), scripts };
    let t = threads.clone();
    let report = Checker::new(GearModel::new(sys))
        .invariant("kernel", |st: &IpcState| invariants(&st.k))
        .invariant(
            "no errors",
            |st: &IpcState| if st.errors.is_empty() { Ok(()) } else { Err(format!("{:?}", st.errors)) },
        )
        .invariant("each client gets one reply", move |st: &IpcState| {
            let got: Vec<Vec<u64>> = t[1..]
                .iter()
                .enumerate()
                .filter(|(i, c)| {
                    st.pc[i + 1] == 1 && st.k.state.objects.thread_state(**c) == ThreadState::Running
                })
                .map(|(_, c)| gears_tests::sel4::received(&st.k, *c).2)
                .collect();
            let ok = got.iter().all(|m| *m == [10] || *m == [20]) && (got.len() < 2 || got[0] != got[1]);
            if ok { Ok(()) } else { Err(format!("replies {got:?}")) }
        })
        .bfs();
    println!("{}", report.stats);
    assert!(report.is_ok(), "{}", report);
    assert!(report.complete);
    assert!(report.stats.distinct > 5, "{}", report.stats);
    assert!(report.stats.terminal > 0, "some interleaving runs every script to its end");
}

#[test]
fn calling_each_other_first_deadlocks() {
    let (mut s, threads) = kernel_with(2);
    let ep_a = s.alloc_endpoint();
    let ep_b = s.alloc_endpoint();
    let scripts = vec![
        vec![Op::Call(ep_b, vec![1]), Op::Recv(ep_a), Op::Reply(vec![])],
        vec![Op::Call(ep_a, vec![2]), Op::Recv(ep_b), Op::Reply(vec![])],
    ];
    let sys = IpcSystem { kernel: s.k.clone(), threads: threads.clone(), scripts };
    let report =
        Checker::new(GearModel::new(sys)).invariant("kernel", |st: &IpcState| invariants(&st.k)).bfs();
    let cex = report.counterexample.as_ref().expect("a deadlock");
    assert_eq!(cex.finding, Finding::Deadlock);
    assert_eq!(cex.len(), 2, "each calls the other, and both wait to send");
    let last = cex.last_state();
    let calling = |t: &codegears::ObjPtr| {
        matches!(last.k.state.objects.thread_state(*t), ThreadState::BlockedOnSend { is_call: true, .. })
    };
    assert_eq!(threads.iter().filter(|t| calling(t)).count(), 2);
}
