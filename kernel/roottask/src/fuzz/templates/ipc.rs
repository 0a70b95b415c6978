//! IPC on endpoints and notifications (with caps to transfer), the IRQ handler, Reply.

use abi::Syscall;
use abi::label::irq_handler;

use super::target;
use crate::call::Call;
use crate::random;
use crate::rng::Rng;
use crate::world::slot;

/// What is done on an endpoint or notification: sends, receives (polls more than waits, since a
/// wait with no sender stalls the worker until the supervisor restarts it), Call, ReplyRecv.
const IPC_CALLS: [Syscall; 10] = [
    Syscall::Send,
    Syscall::NBSend,
    Syscall::NBSend,
    Syscall::NBSend,
    Syscall::Call,
    Syscall::Recv,
    Syscall::NBRecv,
    Syscall::NBRecv,
    Syscall::NBRecv,
    Syscall::ReplyRecv,
];

/// A message through an endpoint or a notification (the fault endpoint too), with caps.
pub fn ipc(r: &mut Rng, c: &mut Call) {
    let slots = [
        slot::ENDPOINT,
        slot::ENDPOINT_BADGED,
        slot::ENDPOINT_READ,
        slot::NOTIFICATION,
        slot::NOTIFICATION_BADGED,
        slot::FAULT_EP,
    ];
    let cap = target(r, &slots);
    let n = random::length(r).min(16 + r.below(105));
    let mut words = [0u64; 120];
    for w in &mut words[..n as usize] {
        *w = random::word(r);
    }
    let extra = [random::cptr(r), random::cptr(r), random::cptr(r)];
    c.invoke(cap, random::label(r), &words[..n as usize], &extra[..r.below(4) as usize]);
    c.number = r.pick(&IPC_CALLS).word();
    if r.chance(50) {
        c.receive = Some([slot::CNODE, random::free_slot(r), abi::WORD_BITS]);
    }
}

/// IRQHandler Ack, SetNotification (a notification, or another cap), Clear.
pub fn irq(r: &mut Rng, c: &mut Call) {
    let handler = target(r, &[slot::IRQ_HANDLER]);
    let ntfn = target(r, &[slot::NOTIFICATION, slot::NOTIFICATION_BADGED, slot::ENDPOINT]);
    let label = r.pick(&[irq_handler::ACK, irq_handler::SET_NOTIFICATION, irq_handler::CLEAR]);
    c.invoke(handler, label, &[], &[ntfn]);
}

/// Reply (to whoever the worker's reply cap answers, if any), or a Yield.
pub fn reply(r: &mut Rng, c: &mut Call) {
    let n = r.below(8) as usize;
    let mut words = [0u64; 8];
    for w in &mut words[..n] {
        *w = random::word(r);
    }
    c.invoke(0, random::label(r), &words[..n], &[]);
    c.number = if r.chance(70) { Syscall::Reply.word() } else { Syscall::Yield.word() };
}
