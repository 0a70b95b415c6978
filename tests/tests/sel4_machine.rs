//! The host machine model (`gears_tests::sel4::machine`): a user-space driver, a server and two
//! clients as scripted threads on the kernel gears, with a timer and a device raising
//! interrupts. Every script completes, every interrupt reaches the driver as a signal, each
//! call gets its reply, the invariants hold after every gear, and two runs give the same trace
//! and the same final kernel state.

use abi::{CapRights, label};
use codegears::kernel::Done;
use codegears::object::ThreadState;
use gears_tests::sel4::machine::{Event, Machine, Op};
use gears_tests::sel4::{Sel4, WORD_BITS};

const CALLS: u64 = 4;

fn build() -> (Machine, [usize; 4]) {
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let ntfn = s.alloc_notification();
    let badged = s.mint(ntfn, CapRights::ALL, 1);
    let h = s.free_slot();
    let r = s.root();
    assert_eq!(
        s.invoke(
            abi::bootinfo::CAP_IRQ_CONTROL,
            label::irq_control::ISSUE_IRQ_HANDLER,
            &[5, h, WORD_BITS],
            &[r]
        ),
        Ok(())
    );
    assert_eq!(s.tcb_invoke(h, label::irq_handler::SET_NOTIFICATION, &[], &[badged]), Ok(Done::Ok));
    let (_, driver) = s.spawn(200);
    let (_, server) = s.spawn(150);
    let (_, a) = s.spawn(100);
    let (_, b) = s.spawn(100);
    // The root task steps aside: the machine runs the scripted threads only.
    let mut m = Machine::new(s, 3);
    let d = m.thread(driver, (0..3).flat_map(|_| [Op::Recv(ntfn), Op::Ack(h)]));
    let mut server_script = vec![Op::Recv(ep)];
    server_script.extend((1..2 * CALLS).map(|i| Op::ReplyRecv(ep, vec![i * 10])));
    server_script.push(Op::Reply(vec![2 * CALLS * 10]));
    let srv = m.thread(server, server_script);
    let ca = m.thread(a, (0..CALLS).flat_map(|i| [Op::Call(ep, vec![0xa0 + i]), Op::Yield]));
    let cb = m.thread(b, (0..CALLS).flat_map(|i| [Op::Call(ep, vec![0xb0 + i]), Op::Yield]));
    for step in [5, 12, 20] {
        m.device_interrupt(step, 5);
    }
    (m, [d, srv, ca, cb])
}

#[test]
fn driver_server_and_clients_under_interrupts() {
    let (mut m, [d, srv, ca, cb]) = build();
    let steps = m.run(500);
    assert!(m.finished(), "every script ran to its end in {steps} steps:\n{}", m.trace());
    // Each device interrupt woke the driver with the handler's badge, and it acknowledged each.
    let irqs = m.events.iter().filter(|e| matches!(e, Event::Interrupt(5))).count();
    assert_eq!(irqs, 3);
    let acks = m
        .events
        .iter()
        .filter(|e| matches!(e, Event::Syscall { thread, op: Op::Ack(_), result: Ok(_), .. } if *thread == d))
        .count();
    assert_eq!(acks, 3);
    let badges: Vec<u64> = m
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Syscall { thread, op: Op::Ack(_), badge_before, .. } if *thread == d => {
                Some(*badge_before)
            }
            _ => None,
        })
        .collect();
    assert_eq!(badges, [1, 1, 1], "each wake-up came with the badge of the handler's notification");
    assert!(m.sel4.k.state.irqs.masked.is_empty(), "every interrupt acknowledged");
    // Every call was answered: the clients run, each with a reply from the server.
    for c in [ca, cb] {
        let t = m.threads[c].tcb;
        assert_eq!(m.sel4.state(t), ThreadState::Running);
        let calls = m
            .events
            .iter()
            .filter(|e| matches!(e, Event::Syscall { thread, op: Op::Call(..), result: Ok(Done::Blocked), .. } if *thread == c))
            .count();
        assert_eq!(calls as u64, CALLS);
        assert_eq!(m.sel4.received(t).0.length(), 1);
    }
    let server = m.threads[srv].tcb;
    assert_eq!(m.sel4.state(server), ThreadState::Running);
    // Timer interrupts happened along the way, and the invariants were checked throughout.
    assert!(m.events.iter().any(|e| matches!(e, Event::Interrupt(0))));
    assert!(m.sel4.checks > 0);
    gears_tests::sel4::invariants(&m.sel4.k).unwrap();
}

#[test]
fn the_machine_is_deterministic() {
    let (mut m1, _) = build();
    let (mut m2, _) = build();
    m1.run(500);
    m2.run(500);
    assert_eq!(m1.events, m2.events);
    assert!(m1.sel4.k.state == m2.sel4.k.state, "the same final kernel state");
}

#[test]
fn a_cancelled_call_is_run_again() {
    // A client blocked sending on a badged cap is restarted by CancelBadgedSends and re-runs its
    // Call, which now reaches the server.
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let badged = s.mint(ep, CapRights::ALL, 3);
    let (_, client) = s.spawn(100);
    let (_, server) = s.spawn(50);
    let mut m = Machine::new(s, 0);
    let c = m.thread(client, [Op::Call(badged, vec![9])]);
    m.step();
    assert!(matches!(m.sel4.state(client), ThreadState::BlockedOnSend { badge: 3, .. }));
    let r = m.sel4.root();
    assert_eq!(m.sel4.cnode_cancel_badged_sends(r, badged, WORD_BITS), Ok(()));
    assert_eq!(m.sel4.state(client), ThreadState::Restart);
    let srv = m.thread(server, [Op::Recv(ep), Op::Reply(vec![7])]);
    m.run(20);
    let rerun =
        m.events.iter().any(|e| matches!(e, Event::Syscall { thread, rerun: true, .. } if *thread == c));
    assert!(rerun, "{}", m.trace());
    assert!(m.finished());
    assert_eq!(m.sel4.received(client).2, vec![7]);
    assert_eq!(m.sel4.received(server).1, 3, "the badge");
    let _ = srv;
}

/// The whole run, event by event: threads 0 driver, 1 server, 2 and 3 clients; IRQ 0 is the
/// timer, IRQ 5 the device.
#[test]
fn machine_trace_snapshot() {
    let (mut m, _) = build();
    m.run(500);
    insta::assert_snapshot!(m.trace());
}
