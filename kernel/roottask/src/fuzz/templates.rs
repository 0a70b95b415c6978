//! Calls built from seL4's invocations, per object type, with arguments drawn from valid-ish
//! ranges (slots that exist, depths that fit or almost, sizes and addresses at the limits), so
//! the deep paths — retype, map, CNode operations, TCB configuration, ASIDs, IRQs, revoke and
//! delete — are reached; then sometimes spoilt (another label, a short message, another call).

mod cspace;
mod ipc;
mod tcb;
mod vspace;

use abi::{MessageInfo, Syscall};

use crate::call::{Call, WORDS};
use crate::random::{self, interesting};
use crate::rng::Rng;
use crate::world::{RADIX, slot};

/// A templated call of any kind.
pub fn templated_call(r: &mut Rng, c: &mut Call) {
    match r.below(100) {
        0..=13 => cspace::untyped(r, c),
        14..=31 => cspace::cnode(r, c),
        32..=47 => tcb::tcb(r, c),
        48..=59 => ipc::ipc(r, c),
        60..=71 => vspace::frame(r, c),
        72..=81 => vspace::table(r, c),
        82..=87 => vspace::asid(r, c),
        88..=95 => ipc::irq(r, c),
        _ => ipc::reply(r, c),
    }
    spoil(r, c);
    c.templated = true;
}

/// Sometimes makes a template's call wrong: another label, a shorter or longer message, another
/// number of extra caps, a Send or NBSend instead of a Call.
fn spoil(r: &mut Rng, c: &mut Call) {
    let info = MessageInfo::from_raw(c.info);
    match r.below(100) {
        0..=5 => c.info = info.with_label(random::label(r)).word(),
        6..=11 => c.info = info.with_length(r.below(info.length() + 1)).word(),
        12..=13 => {
            for w in &mut c.mrs[c.staged..] {
                *w = random::word(r);
            }
            c.staged = WORDS;
            c.info = info.with_length(random::length(r)).word();
        }
        14..=16 => c.info = info.with_extra_caps(r.below(4)).word(),
        17..=20 => c.number = r.pick(&[Syscall::Send, Syscall::NBSend]).word(),
        _ => {}
    }
}

/// The cap to invoke: mostly one of `slots` (where the world put that type), else another slot
/// (where the worker may have made or moved one), else any cptr.
fn target(r: &mut Rng, slots: &[u64]) -> u64 {
    match r.below(20) {
        0..=15 => r.pick(slots),
        16..=18 => r.below(1 << RADIX),
        _ => random::cptr(r),
    }
}

/// A CNode to index into and the depth to resolve an index with: the worker's own (guarded:
/// 64 bits; raw: 8 bits), the small one (4 bits), or wrong depths and caps.
fn cnode_root(r: &mut Rng) -> (u64, u64) {
    match r.below(20) {
        0..=8 => (slot::CNODE, abi::WORD_BITS),
        9..=14 => (slot::CNODE_RAW, RADIX),
        15 | 16 => (slot::CNODE_SMALL, 4),
        17 => (slot::CNODE, r.pick(&[0, 1, RADIX, 63, 65, 128])),
        _ => (random::cptr(r), random::word(r)),
    }
}

/// An index into a CNode resolved with `depth` bits: a world slot, a free one, or out of range.
fn index(r: &mut Rng, depth: u64) -> u64 {
    match r.below(10) {
        _ if depth == 4 && r.chance(80) => r.below(16),
        0..=4 => r.below(slot::FIRST_FREE),
        5..=8 => random::free_slot(r),
        _ => interesting(r),
    }
}

/// A rights word: mostly all, else any combination.
fn rights(r: &mut Rng) -> u64 {
    if r.chance(50) { abi::CapRights::ALL.word() } else { r.below(16) }
}
