//! The TCB invocations, mostly on the two target TCBs, now and then on the worker's own (which
//! the supervisor then configures again when it restarts it).

use abi::label::{domain_set, tcb};

use super::{target, vspace::vaddr};
use crate::arch::REGISTER_COUNT;
use crate::call::Call;
use crate::random::{self, interesting};
use crate::rng::Rng;
use crate::world::{GUARD_BITS, slot};

/// A TCB to invoke: mostly a target TCB, the worker's own one time in twenty (it loses its
/// registers or stops, and is restarted), else any slot.
fn which_tcb(r: &mut Rng) -> u64 {
    match r.below(20) {
        0 => slot::TCB_SELF,
        1..=16 => r.pick(&[slot::TCB_A, slot::TCB_B]),
        _ => target(r, &[slot::TCB_A]),
    }
}

/// A priority: up to the worker's MCP, past it, past the highest.
fn priority(r: &mut Rng) -> u64 {
    match r.below(4) {
        0 | 1 => r.below(101),
        2 => r.below(256),
        _ => interesting(r),
    }
}

/// A CSpace root's data word: none, the guard that fits the worker's CNode, or anything.
fn cspace_data(r: &mut Rng) -> u64 {
    match r.below(4) {
        0 | 1 => 0,
        2 => abi::CNodeCapData::new(0, GUARD_BITS).word(),
        _ => random::word(r),
    }
}

/// An IPC buffer address: none, in the target VSpace's frame, misaligned, or anywhere.
fn buffer(r: &mut Rng) -> u64 {
    if r.chance(25) { 0 } else { vaddr(r) }
}

/// A CNode, a VSpace root and a frame for Configure and SetSpace.
fn spaces(r: &mut Rng) -> [u64; 3] {
    [
        target(r, &[slot::CNODE, slot::CNODE_RAW, slot::CNODE_SMALL]),
        target(r, &[slot::VSPACE, slot::VSPACE_BARE, slot::TABLES_MAPPED]),
        target(r, &[slot::FRAME_MAPPED, slot::FRAMES[0]]),
    ]
}

/// Registers for WriteRegisters: an instruction pointer and stack in the target VSpace or
/// anywhere, then words.
fn registers(r: &mut Rng, words: &mut [u64]) {
    for (i, w) in words.iter_mut().enumerate() {
        *w = if i < 2 { vaddr(r) } else { random::word(r) };
    }
}

/// One TCB invocation.
pub fn tcb(r: &mut Rng, c: &mut Call) {
    let t = which_tcb(r);
    let auth = target(r, &[slot::TCB_SELF, slot::TCB_SELF, slot::TCB_A]);
    match r.below(16) {
        0 => c.invoke(t, tcb::READ_REGISTERS, &[r.below(2), r.below(REGISTER_COUNT + 3)], &[]),
        1 => {
            let count = if r.chance(80) { r.below(REGISTER_COUNT + 3) } else { interesting(r) };
            let mut words = [0u64; 2 + 40];
            words[0] = r.below(2);
            words[1] = count;
            let n = (count.min(40) as usize) + 2;
            registers(r, &mut words[2..n]);
            c.invoke(t, tcb::WRITE_REGISTERS, &words[..n], &[]);
        }
        2 => c.invoke(t, tcb::COPY_REGISTERS, &[r.below(16)], &[which_tcb(r)]),
        3 => {
            let words = [random::cptr(r), cspace_data(r), random::word(r) & 1, buffer(r)];
            c.invoke(t, tcb::CONFIGURE, &words, &spaces(r));
        }
        4 => c.invoke(t, tcb::SET_PRIORITY, &[priority(r)], &[auth]),
        5 => c.invoke(t, tcb::SET_MC_PRIORITY, &[priority(r)], &[auth]),
        6 => c.invoke(t, tcb::SET_SCHED_PARAMS, &[priority(r), priority(r)], &[auth]),
        7 => c.invoke(t, tcb::SET_IPC_BUFFER, &[buffer(r)], &[spaces(r)[2]]),
        8 => {
            let [cnode, vspace, _] = spaces(r);
            let words = [random::cptr(r), cspace_data(r), random::word(r) & 1];
            c.invoke(t, tcb::SET_SPACE, &words, &[cnode, vspace]);
        }
        9 => c.invoke(t, tcb::SUSPEND, &[], &[]),
        10 | 11 => c.invoke(t, tcb::RESUME, &[], &[]),
        12 => {
            let ntfn = target(r, &[slot::NOTIFICATION, slot::NOTIFICATION_BADGED]);
            c.invoke(t, tcb::BIND_NOTIFICATION, &[], &[ntfn]);
        }
        13 => c.invoke(t, tcb::UNBIND_NOTIFICATION, &[], &[]),
        14 => c.invoke(t, tcb::SET_TLS_BASE, &[random::word(r)], &[]),
        _ => {
            let domain = target(r, &[slot::DOMAIN]);
            let d = if r.chance(75) { r.pick(&[0, 1, 255]) } else { random::word(r) };
            c.invoke(domain, domain_set::SET, &[d], &[t]);
        }
    }
}
