//! The IPC round trip on the host model: a client's `seL4_Call` to a server waiting in `Recv`,
//! and the server's `seL4_ReplyRecv` that answers it and waits again, each one kernel entry
//! (`codegears::entry::handle`, as the bare-metal kernel runs it). Only the round trips are counted (callgrind
//! `--toggle-collect` on [`measured_round_trips`]); each workload prints the gears per round trip.

use abi::{MessageInfo, Syscall};
use std::hint::black_box;

use codegears::ObjPtr;
use codegears::entry::{self, End, Event};
use codegears::kernel::{Done, Kernel};
use gears::{Dispatcher, MetaGear, Mode};
use gears_tests::sel4::Sel4;
use metagears::WorkBudget;

use crate::Workload;

/// The workloads of the group.
pub const WORKLOADS: &[Workload] = &[
    Workload { name: "ipc-round-trip", run: round_trip_plain },
    Workload { name: "ipc-round-trip-budget", run: round_trip_budget },
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
) {
    let regs = s.k.state.arch.syscall_registers();
    let objects = &mut s.k.state.objects;
    objects.set_register(thread, regs.number, call.word());
    objects.set_register(thread, regs.cap, ep);
    objects.set_register(thread, regs.info, MessageInfo::new(0, 0, 0, 1).word());
    objects.set_register(thread, regs.msg[0], 7);
    entry::activate_thread(&mut s.k, thread);
    match entry::handle(&mut s.k, d, &mut s.machine, Event::Syscall) {
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
) {
    let (ep, server, client) = ids;
    for _ in 0..n {
        syscall(s, d, client, Syscall::Call, ep);
        syscall(s, d, server, Syscall::ReplyRecv, ep);
    }
}

fn run<M: MetaGear<Kernel>>(n: u64, meta: M) -> u64 {
    let (mut s, ep, server, client) = setup();
    let mut d = Dispatcher::new(meta);
    measured_round_trips(&mut s, &mut d, n, (ep, server, client));
    black_box(&s.k.state.cspace);
    d.steps() / n.max(1)
}

fn round_trip_plain(n: u64) -> u64 {
    run(n, ())
}

fn round_trip_budget(n: u64) -> u64 {
    run(n, WorkBudget::new(100, || black_box(false), Mode::Restart))
}

#[cfg(test)]
mod tests {
    use super::*;
    use codegears::object::ThreadState;

    #[test]
    fn a_round_trip_is_twelve_gears_and_leaves_the_server_waiting() {
        assert_eq!(round_trip_plain(50), 12);
        assert_eq!(round_trip_budget(50), 12);
        let (mut s, ep, server, client) = setup();
        let mut d = Dispatcher::new(());
        measured_round_trips(&mut s, &mut d, 3, (ep, server, client));
        assert!(matches!(s.state(server), ThreadState::BlockedOnReceive { .. }));
        assert_eq!(s.state(client), ThreadState::Running);
    }
}
