//! Frames, paging structures and ASIDs: Map and Unmap at addresses in and out of the user range,
//! GetAddress, MakePool, Assign.

use super::target;
use gears_user::vspace::{PAGE_SIZE as PAGE, VmAttributes};

use crate::arch::{
    ASID_CONTROL_MAKE_POOL, ASID_POOL_ASSIGN, PAGE_GET_ADDRESS, PAGE_MAP, PAGE_UNMAP, TABLE_LABELS,
};
use crate::call::Call;
use crate::random::{self, free_slot, interesting};
use crate::rng::Rng;
use crate::world::{TARGET_VADDR, slot};

/// A virtual address: in and around the target VSpace's mapped region, other large and huge
/// page boundaries, interesting values (user top, kernel, non-canonical), unaligned ones.
pub fn vaddr(r: &mut Rng) -> u64 {
    match r.below(10) {
        0..=3 => TARGET_VADDR + r.below(4) * PAGE,
        4 => TARGET_VADDR + (r.below(8) << 21),
        5 => r.below(1 << 9) << 30,
        6 => interesting(r) & !(PAGE - 1),
        7 => interesting(r),
        8 => TARGET_VADDR + r.below(PAGE),
        _ => r.word(),
    }
}

/// A VSpace root to map into: the one with an ASID, the bare one, a table, anything.
fn vspace(r: &mut Rng) -> u64 {
    target(r, &[slot::VSPACE, slot::VSPACE, slot::VSPACE, slot::VSPACE_BARE, slot::TABLES_MAPPED])
}

/// VM attributes: the default, each bit, anything.
fn attributes(r: &mut Rng) -> u64 {
    match r.below(4) {
        0 | 1 => VmAttributes::DEFAULT.word(),
        2 => 1 << r.below(4),
        _ => random::word(r),
    }
}

/// Page Map, Unmap, GetAddress on the frames.
pub fn frame(r: &mut Rng, c: &mut Call) {
    let f = target(r, &[slot::FRAME_MAPPED, slot::FRAMES[0], slot::FRAMES[1]]);
    match r.below(6) {
        0..=2 => {
            let words = [vaddr(r), r.below(16), attributes(r)];
            c.invoke(f, PAGE_MAP, &words, &[vspace(r)]);
        }
        3 | 4 => c.invoke(f, PAGE_UNMAP, &[], &[]),
        _ => c.invoke(f, PAGE_GET_ADDRESS, &[], &[]),
    }
}

/// Map and Unmap on the paging structures below the root (the label mostly their level's).
pub fn table(r: &mut Rng, c: &mut Call) {
    let level = r.below(TABLE_LABELS.len() as u64);
    let mapped = r.chance(50);
    let at = if mapped { slot::TABLES_MAPPED } else { slot::TABLES };
    let t = target(r, &[at + level]);
    let (map, unmap) = if r.chance(85) { TABLE_LABELS[level as usize] } else { r.pick(&TABLE_LABELS) };
    if r.chance(60) {
        c.invoke(t, map, &[vaddr(r), attributes(r)], &[vspace(r)]);
    } else {
        c.invoke(t, unmap, &[], &[]);
    }
}

/// ASIDControl MakePool (from an untyped, into a slot) and ASIDPool Assign (of a VSpace root).
pub fn asid(r: &mut Rng, c: &mut Call) {
    if r.chance(40) {
        let control = target(r, &[slot::ASID_CONTROL]);
        let ut = target(r, &[slot::UNTYPED_PAGE, slot::UNTYPED_PAGE, slot::UNTYPED, slot::UNTYPED_MIN]);
        let (root, depth) = if r.chance(80) { (slot::CNODE, abi::WORD_BITS) } else { super::cnode_root(r) };
        c.invoke(control, ASID_CONTROL_MAKE_POOL, &[free_slot(r), depth], &[ut, root]);
    } else {
        let pool = target(r, &[slot::ASID_POOL]);
        let root = target(r, &[slot::VSPACE_BARE, slot::VSPACE_BARE, slot::VSPACE, slot::TABLES]);
        c.invoke(pool, ASID_POOL_ASSIGN, &[], &[root]);
    }
}
