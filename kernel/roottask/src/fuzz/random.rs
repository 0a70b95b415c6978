//! Fully random calls, and the value pickers the templates share: numbers, cptrs, words.

use abi::{IpcBuffer, MessageInfo, Syscall};

use crate::arch::{INTERESTING, LABEL_COUNT};
use crate::call::{Call, WORDS};
use crate::rng::Rng;
use crate::world::{RADIX, slot};

/// Calls the worker never makes: `DebugHalt` ends the whole run, and `DebugPutChar`,
/// `DebugDumpScheduler` and `DebugSnapshot` write into the console the run is judged by (a
/// scheduler dump is a line per TCB). A random number that is one of them becomes a Yield.
const NEVER: [Syscall; 4] =
    [Syscall::DebugHalt, Syscall::DebugPutChar, Syscall::DebugDumpScheduler, Syscall::DebugSnapshot];

/// The calls a random number is mostly drawn from: seL4's eight (Call weighted up) and the
/// other debug and benchmark calls.
const CALLS: [Syscall; 16] = [
    Syscall::Call,
    Syscall::Call,
    Syscall::Call,
    Syscall::Send,
    Syscall::NBSend,
    Syscall::NBSend,
    Syscall::Recv,
    Syscall::NBRecv,
    Syscall::NBRecv,
    Syscall::Reply,
    Syscall::ReplyRecv,
    Syscall::Yield,
    Syscall::DebugCapIdentify,
    Syscall::DebugNameThread,
    Syscall::SetTLSBase,
    Syscall::GearsBenchBegin,
];

/// A system-call number: mostly a real one, else out of range (near the real ones or anywhere).
pub fn number(r: &mut Rng) -> u64 {
    let n = match r.below(10) {
        0..=7 => r.pick(&CALLS).word(),
        8 => (r.below(48) as i64 - 40) as u64,
        _ => r.word(),
    };
    if NEVER.iter().any(|s| s.word() == n) { Syscall::Yield.word() } else { n }
}

/// A value worth trying.
pub fn interesting(r: &mut Rng) -> u64 {
    r.pick(&INTERESTING)
}

/// A message word: small numbers, slot numbers, interesting values or anything.
pub fn word(r: &mut Rng) -> u64 {
    match r.below(10) {
        0..=3 => r.below(64),
        4 | 5 => r.below(1 << RADIX),
        6 | 7 => interesting(r),
        _ => r.word(),
    }
}

/// A cptr in the worker's CSpace: mostly a slot of its world, else any slot, a slot with bits
/// above the guard, or anything.
pub fn cptr(r: &mut Rng) -> u64 {
    match r.below(20) {
        0..=12 => r.below(slot::FIRST_FREE + 8),
        13..=16 => r.below(1 << RADIX),
        17 => r.below(1 << RADIX) | (1 + r.below(255)) << RADIX,
        18 => interesting(r),
        _ => r.word(),
    }
}

/// A label: mostly one that exists on this arch, else near the end or anything.
pub fn label(r: &mut Rng) -> u64 {
    match r.below(8) {
        0..=5 => r.below(LABEL_COUNT),
        6 => LABEL_COUNT + r.below(8),
        _ => r.word() >> 12,
    }
}

/// A message length: short, at the limit (120) and past it (to 127, what the field holds).
pub fn length(r: &mut Rng) -> u64 {
    match r.below(10) {
        0..=5 => r.below(9),
        6 | 7 => 116 + r.below(12),
        _ => r.below(128),
    }
}

/// A fully random call: number, cap, MessageInfo, message words, extra caps.
pub fn random_call(r: &mut Rng, c: &mut Call) {
    c.number = number(r);
    c.cap = cptr(r);
    c.info = if r.chance(10) {
        r.word()
    } else {
        let unwrapped = if r.chance(10) { r.below(8) } else { 0 };
        MessageInfo::new(label(r), unwrapped, r.below(4), length(r)).word()
    };
    let length = (MessageInfo::from_raw(c.info).length() as usize).min(WORDS);
    c.staged = if r.chance(90) { length } else { r.below(WORDS as u64 + 1) as usize };
    for w in &mut c.mrs[..c.staged.max(4)] {
        *w = word(r);
    }
    for e in &mut c.extra {
        *e = cptr(r);
    }
}

/// What every call may get besides: a receive path, and one IPC-buffer word overwritten.
pub fn extras(r: &mut Rng, c: &mut Call) {
    if r.chance(15) {
        let (cnode, depth) = match r.below(4) {
            0 | 1 => (slot::CNODE, abi::WORD_BITS),
            2 => (slot::CNODE_RAW, RADIX),
            _ => (cptr(r), word(r)),
        };
        c.receive = Some([cnode, free_slot(r), depth]);
    }
    if r.chance(5) {
        c.scribble = Some((r.below(IpcBuffer::WORDS as u64) as usize, word(r)));
    }
}

/// A slot for something new: mostly a free one of the worker's CNode.
pub fn free_slot(r: &mut Rng) -> u64 {
    match r.below(10) {
        0..=6 => slot::FIRST_FREE + r.below((1 << RADIX) - slot::FIRST_FREE),
        7 | 8 => r.below(1 << RADIX),
        _ => interesting(r),
    }
}
