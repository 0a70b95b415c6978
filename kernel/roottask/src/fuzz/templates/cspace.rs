//! Untyped Retype and the CNode invocations.

use abi::label::cnode;
use abi::label::untyped::RETYPE;
use abi::object::{CAP_TABLE, ENDPOINT, NOTIFICATION, TCB, UNTYPED};

use super::{cnode_root, index, rights, target};
use crate::arch::{MAX_UNTYPED_BITS, OBJECT_COUNT, PAGE_TYPES};
use crate::call::Call;
use crate::random::{self, free_slot, interesting};
use crate::rng::Rng;
use crate::world::slot;

/// The object types a retype mostly asks for.
const TYPES: [u64; 8] = [
    ENDPOINT,
    NOTIFICATION,
    TCB,
    CAP_TABLE,
    UNTYPED,
    PAGE_TYPES[0],
    gears_user::vspace::object::VSPACE_ROOT.number,
    gears_user::vspace::LEVELS[0].object.number,
];

/// UntypedRetype: a type (mostly a real one), a size at and past its limits, a destination
/// CNode (the root itself, or one level down), an offset, and a number of objects up to and
/// past the fan-out limit.
pub fn untyped(r: &mut Rng, c: &mut Call) {
    let ut = target(r, &[slot::UNTYPED, slot::UNTYPED, slot::UNTYPED_PAGE, slot::UNTYPED_MIN]);
    let ty = match r.below(10) {
        0..=5 => r.pick(&TYPES),
        6..=8 => r.below(OBJECT_COUNT),
        _ => OBJECT_COUNT + r.below(3),
    };
    let bits = match ty {
        UNTYPED => r.pick(&[4, 5, 12, 16, 20, 21, 22, MAX_UNTYPED_BITS, MAX_UNTYPED_BITS + 1, 64]),
        CAP_TABLE => r.pick(&[0, 1, 2, 4, 8, 12, 16, 58, 63, 64]),
        _ if r.chance(80) => 0,
        _ => interesting(r),
    };
    let (root, node_index, node_depth, offset) = match r.below(10) {
        0..=6 => (cnode_root(r).0, 0, 0, free_slot(r)),
        7 | 8 => (slot::CNODE, slot::CNODE_SMALL, abi::WORD_BITS, r.below(18)),
        _ => (random::cptr(r), random::word(r), random::word(r), random::word(r)),
    };
    let n = match r.below(10) {
        0..=5 => 1 + r.below(4),
        6 => r.pick(&[0, 255, 256, 257, 1 << 16]),
        7 => crate::arch::INTERESTING[r.below(8) as usize],
        _ => r.below(300),
    };
    c.invoke(ut, RETYPE, &[ty, bits, node_index, node_depth, offset, n], &[root]);
}

/// CNode Revoke, Delete, CancelBadgedSends, Copy, Mint, Move, Mutate, Rotate, SaveCaller on
/// slots of the worker's CNodes, with depths that fit or almost.
pub fn cnode(r: &mut Rng, c: &mut Call) {
    let (root, depth) = cnode_root(r);
    let dest = index(r, depth);
    let (src_root, src_depth) = cnode_root(r);
    let src = index(r, src_depth);
    let data = match r.below(4) {
        0 => 0,
        1 => 1 + r.below(0xff),
        2 => abi::CNodeCapData::new(r.below(4), r.pick(&[0, 4, 56, 60, 63])).word(),
        _ => random::word(r),
    };
    match r.below(9) {
        0 => c.invoke(root, cnode::REVOKE, &[dest, depth], &[]),
        1 => c.invoke(root, cnode::DELETE, &[dest, depth], &[]),
        2 => c.invoke(root, cnode::CANCEL_BADGED_SENDS, &[dest, depth], &[]),
        3 => c.invoke(root, cnode::COPY, &[dest, depth, src, src_depth, rights(r)], &[src_root]),
        4 => c.invoke(root, cnode::MINT, &[dest, depth, src, src_depth, rights(r), data], &[src_root]),
        5 => c.invoke(root, cnode::MOVE, &[dest, depth, src, src_depth], &[src_root]),
        6 => c.invoke(root, cnode::MUTATE, &[dest, depth, src, src_depth, data], &[src_root]),
        7 => {
            let (pivot_root, pivot_depth) = cnode_root(r);
            let pivot = index(r, pivot_depth);
            let words = [dest, depth, data, pivot, pivot_depth, random::word(r), src, src_depth];
            c.invoke(root, cnode::ROTATE, &words, &[pivot_root, src_root]);
        }
        _ => c.invoke(root, cnode::SAVE_CALLER, &[dest, depth], &[]),
    }
}
