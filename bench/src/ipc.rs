//! The IPC round trip on the host model: a client's `seL4_Call` to a server waiting in `Recv`,
//! and the server's `seL4_ReplyRecv` that answers it and waits again, each one kernel entry
//! (`codegears::entry::handle`, as the bare-metal kernel runs it), through the fastpath's gears;
//! and the same round trip through the general gears (the entry's start and finish around a
//! dispatcher run from `handle_invocation` / `handle_reply`, where `handle_syscall` would have
//! gone without the fastpath). Only the round trips are counted (callgrind `--toggle-collect` on
//! [`measured_round_trips`]); each workload prints the gears per round trip.

use abi::{MessageInfo, Syscall};
use std::hint::black_box;

use codegears::ObjPtr;
use codegears::entry::{self, End, Event, Start};
use codegears::kernel::{Done, Kernel};
use gears::{Dispatcher, MetaGear, Mode};
use gears_tests::sel4::Sel4;
use metagears::WorkBudget;

use crate::Workload;

/// The workloads of the group.
pub const WORKLOADS: &[Workload] = &[
    Workload { name: "ipc-round-trip", run: round_trip_plain },
    Workload { name: "ipc-round-trip-budget", run: round_trip_budget },
    Workload { name: "ipc-round-trip-general", run: round_trip_general },
];

/// A booted kernel with a server (priority 200) blocked in `Recv` on an endpoint and a client
/// (priority 100); returns it with the endpoint's cptr, the server and the client.
fn setup() -> (Sel4, u64, ObjPtr, ObjPtr) {
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let (_, server) = s.spawn(200);
    let (_, client) = s.spawn(100);
    assert_eq!(s.as_thread(server, |s| s.recv(ep)), Ok(Done::Blocked));
    (s, ep, server, client)
}

/// One system call of `thread` with one message word, through the kernel entry: the thread's
/// registers are set as it would set them (number, cap, MessageInfo, MR0), then it is
/// activated and enters the kernel.
fn syscall<M: MetaGear<Kernel>>(
    s: &mut Sel4,
    d: &mut Dispatcher<Kernel, M>,
    thread: ObjPtr,
    call: Syscall,
    ep: u64,
    general: bool,
) {
    let regs = s.k.state.arch.syscall_registers();
    let objects = &mut s.k.state.objects;
    objects.set_register(thread, regs.number, call.word());
    objects.set_register(thread, regs.cap, ep);
    objects.set_register(thread, regs.info, MessageInfo::new(0, 0, 0, 1).word());
    objects.set_register(thread, regs.msg[0], 7);
    entry::activate_thread(&mut s.k, thread);
    let end = if general {
        let from = match call {
            Syscall::Call => &codegears::lookup::HANDLE_INVOCATION,
            _ => &codegears::syscall::HANDLE_REPLY,
        };
        match entry::start(&mut s.k, &mut s.machine, Event::Syscall) {
            Ok(Start::Run(_)) => {
                let outcome = d.run(&mut s.k, from);
                entry::finish(&mut s.k, d, &mut s.machine, outcome)
            }
            other => panic!("the round trip's system call did not start: {other:?}"),
        }
    } else {
        entry::handle(&mut s.k, d, &mut s.machine, Event::Syscall)
    };
    match end {
        Ok(End::Done(_)) => {}
        other => panic!("the round trip's system call did not finish: {other:?}"),
    }
}

/// The round trips that are counted: the client calls, the server replies and waits again.
#[inline(never)]
fn measured_round_trips<M: MetaGear<Kernel>>(
    s: &mut Sel4,
    d: &mut Dispatcher<Kernel, M>,
    n: u64,
    ids: (u64, ObjPtr, ObjPtr),
    general: bool,
) {
    let (ep, server, client) = ids;
    for _ in 0..n {
        syscall(s, d, client, Syscall::Call, ep, general);
        syscall(s, d, server, Syscall::ReplyRecv, ep, general);
    }
}

fn run<M: MetaGear<Kernel>>(n: u64, meta: M, general: bool) -> u64 {
    let (mut s, ep, server, client) = setup();
    let mut d = Dispatcher::new(meta);
    measured_round_trips(&mut s, &mut d, n, (ep, server, client), general);
    black_box(&s.k.state.cspace);
    d.steps() / n.max(1)
}

fn round_trip_plain(n: u64) -> u64 {
    run(n, (), false)
}

fn round_trip_budget(n: u64) -> u64 {
    run(n, WorkBudget::new(100, || black_box(false), Mode::Restart), false)
}

fn round_trip_general(n: u64) -> u64 {
    run(n, (), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use codegears::object::ThreadState;

    #[test]
    fn a_round_trip_is_four_gears_fast_and_ten_general_and_leaves_the_server_waiting() {
        assert_eq!(round_trip_plain(50), 4);
        assert_eq!(round_trip_budget(50), 4);
        // Without handle_syscall's gear, which the general run starts past.
        assert_eq!(round_trip_general(50), 10);
        for general in [false, true] {
            let (mut s, ep, server, client) = setup();
            let mut d = Dispatcher::new(());
            measured_round_trips(&mut s, &mut d, 3, (ep, server, client), general);
            assert!(matches!(s.state(server), ThreadState::BlockedOnReceive { .. }));
            assert_eq!(s.state(client), ThreadState::Running);
            assert_eq!(s.received(client).2, vec![7], "the reply carried the server's word");
        }
    }
}
