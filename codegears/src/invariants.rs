//! seL4's capability invariants as one plain predicate on the kernel state, for the invariant
//! metagear to run at every preemption point.
//!
//! Checked: the CDT lists are well formed (prev/next agree, no cycle, every slot on a list that
//! starts at a head); every non-empty slot lies in a live CNode or TCB; every cap names a live object
//! of its kind; objects do not overlap; untyped regions nest or are disjoint; every object and
//! sub-untyped inside an untyped lies below its watermark, and its cap is a CDT descendant of an
//! untyped cap covering it (children after parents); the caps to one object are contiguous in
//! their list (`mdb_chunked`); a badged cap after a differently badged one is first-badged
//! (`valid_badges`); zombies are final and their slots beyond
//! `number` are empty; an IRQ is active exactly when a handler cap names it.
//!
//! Deviation from the brief's "one list": seL4 boot writes each boot cap as its own CDT root, so the
//! CDT is several lists; each must be well formed.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::cap::{Cap, MIN_UNTYPED_BITS, ObjPtr, SLOT_BITS, SlotRef, same_region_as};
use crate::cdt::is_mdb_parent_of;
use crate::cspace::Cte;
use crate::kernel::KernelState;
use crate::object::ObjKind;

/// The live objects by address, as the caps name them ([`live_objects`]).
pub type LiveObjects = BTreeMap<ObjPtr, ObjKind>;

/// The live objects: every object a cap in `slots` names, with its kind. The kernel keeps no
/// record of its objects (each lives in its own memory, reached through caps, as in seL4), so
/// the caps are the record; two caps that name one address as different objects break
/// `caps_agree`.
pub fn live_objects(slots: &[(SlotRef, Cte)]) -> Result<LiveObjects, InvariantViolation> {
    let mut objs = LiveObjects::new();
    for &(s, cte) in slots {
        let Some((p, k)) = ObjKind::of_cap(&cte.cap) else { continue };
        match objs.insert(p, k) {
            Some(other) if other != k => {
                return Err(InvariantViolation {
                    invariant: "caps_agree",
                    detail: format!("{s:?} holds {:?}, but another cap names {p:?} as {other:?}", cte.cap),
                });
            }
            _ => {}
        }
    }
    Ok(objs)
}

/// The live object with the greatest address `<= addr` (the only one that can contain it).
pub fn object_at_or_below(objs: &LiveObjects, addr: u64) -> Option<(ObjPtr, ObjKind)> {
    objs.range(..=ObjPtr(addr)).next_back().map(|(p, k)| (*p, *k))
}

/// A broken invariant: which one, and where.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InvariantViolation {
    /// The invariant's name.
    pub invariant: &'static str,
    /// What was found.
    pub detail: String,
}

impl fmt::Display for InvariantViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

fn fail(invariant: &'static str, detail: String) -> Result<(), InvariantViolation> {
    Err(InvariantViolation { invariant, detail })
}

/// Checks every capability invariant of `state`; the first violation found is returned.
///
/// Cost: O(n log n) in the number of slots and objects (plus the depth of the CDT stack); the
/// slots are listed once ([`KernelState::slots`]: on the machine, every slot of every live CNode
/// and TCB is read, empty or not).
pub fn check_invariants(state: &KernelState) -> Result<(), InvariantViolation> {
    let slots = &state.slots()[..];
    let objs = &live_objects(slots)?;
    check_cdt_lists(state, slots)?;
    check_slots_and_objects(objs, slots)?;
    check_untyped(objs, slots)?;
    check_free_memory_zero(state, slots)?;
    check_cdt_order(state, slots)?;
    check_cdt_chunked(state, slots)?;
    check_badges(state, slots)?;
    check_zombies(state, slots)?;
    check_irqs(state, objs, slots)?;
    check_io_ports(state, slots)?;
    crate::vspace_invariants::check_vspace_invariants_in(state, objs, slots)?;
    crate::thread_invariants::check_thread_invariants_in(state, objs, slots)
}

/// An IRQ is active exactly when some IRQHandler cap names it (`valid_irq_handlers`, and
/// deletion of the last handler cap deactivates it).
fn check_irqs(
    state: &KernelState,
    objs: &LiveObjects,
    slots: &[(SlotRef, Cte)],
) -> Result<(), InvariantViolation> {
    let mut handled = BTreeSet::new();
    for &(s, cte) in slots {
        if let Cap::IrqHandler { irq } = cte.cap {
            if !state.irqs.active.contains(&irq) {
                return fail("irq_handlers_active", format!("{s:?} holds a handler for inactive IRQ {irq}"));
            }
            handled.insert(irq);
        }
    }
    if let Some(irq) = state.irqs.active.difference(&handled).next() {
        return fail("irq_handlers_active", format!("IRQ {irq} is active without a handler cap"));
    }
    for (irq, cap) in &state.irqs.notification {
        let live =
            matches!(cap, Cap::Notification { ptr, .. } if objs.get(ptr) == Some(&ObjKind::Notification));
        if !state.irqs.active.contains(irq) || !live {
            return fail(
                "irq_notifications",
                format!("IRQ {irq} signals {cap:?}, but is inactive or the notification is dead"),
            );
        }
    }
    if let Some(irq) = state.irqs.masked.difference(&state.irqs.active).next() {
        return fail("irq_notifications", format!("IRQ {irq} is masked but inactive"));
    }
    Ok(())
}

/// x86_64's I/O ports: a range is in use exactly when an IOPort cap holds it or the kernel
/// drives it (`valid_ioports`: a cap's ports are allocated; the last cap's deletion frees them),
/// and no two IOPort caps' ranges meet unless they are the same range.
fn check_io_ports(state: &KernelState, slots: &[(SlotRef, Cte)]) -> Result<(), InvariantViolation> {
    let mut held = BTreeSet::new();
    for &(s, cte) in slots {
        if let Cap::IoPort { first, last } = cte.cap {
            let in_use = state.io_ports.ranges().any(|r| r == (first, last));
            if !in_use || state.io_ports.is_kernel(first, last) {
                return fail(
                    "io_ports_allocated",
                    format!("{s:?} holds ports {first:#x}..={last:#x}, not a range in use by caps"),
                );
            }
            held.insert((first, last));
        }
    }
    let mut end: Option<u16> = None;
    for (first, last) in state.io_ports.ranges() {
        if first > last || end.is_some_and(|e| first <= e) {
            return fail("io_ports_allocated", format!("ports {first:#x}..={last:#x} overlap another range"));
        }
        end = Some(last);
        if !held.contains(&(first, last)) && !state.io_ports.is_kernel(first, last) {
            return fail(
                "io_ports_allocated",
                format!("ports {first:#x}..={last:#x} are in use without a cap"),
            );
        }
    }
    Ok(())
}

/// The invariants that concern single slots, checked only at `slots` and their CDT neighbours:
/// links agree both ways, the slot lies in a live CNode or TCB, its cap names a live object of its
/// kind, and a Zombie's slots beyond its number are empty.
///
/// O(k log n) for k slots: cheap enough for every preemption point of a large operation, where
/// [`check_invariants`] (O(n log n)) runs only at sampled points.
pub fn check_local_invariants(
    state: &KernelState,
    slots: impl IntoIterator<Item = SlotRef>,
) -> Result<(), InvariantViolation> {
    let cs = &state.cspace;
    for s in slots {
        let cte = cs.get(s);
        if cte.cap.is_null() {
            if !cte.mdb.is_null() {
                return fail(
                    "cdt_well_formed",
                    format!("{s:?} holds a null cap with MDB links {:?}", cte.mdb),
                );
            }
            continue;
        }
        if let Some(n) = cte.mdb.next
            && cs.mdb(n).prev != Some(s)
        {
            return fail(
                "cdt_well_formed",
                format!("{s:?}.next = {n:?} but {n:?}.prev = {:?}", cs.mdb(n).prev),
            );
        }
        if let Some(p) = cte.mdb.prev
            && cs.mdb(p).next != Some(s)
        {
            return fail(
                "cdt_well_formed",
                format!("{s:?}.prev = {p:?} but {p:?}.next = {:?}", cs.mdb(p).next),
            );
        }
        if let Cap::Zombie { ptr, number, .. } = cte.cap {
            let slots = ObjKind::of_cap(&cte.cap).map_or(0, |(_, k)| k.slot_count());
            let in_use = state.cspace.range(SlotRef::of(ptr, number), SlotRef::of(ptr, slots)).next();
            if number > slots || in_use.is_some() {
                return fail(
                    "zombies_consistent",
                    format!("{s:?}: zombie {ptr:?} number {number} of {slots} slots"),
                );
            }
        }
    }
    Ok(())
}

fn check_cdt_lists(state: &KernelState, slots: &[(SlotRef, Cte)]) -> Result<(), InvariantViolation> {
    let cs = &state.cspace;
    let mut heads = Vec::new();
    for &(s, cte) in slots {
        if cte.cap.is_null() {
            return fail("cdt_well_formed", format!("{s:?} holds a null cap with MDB links {:?}", cte.mdb));
        }
        if let Some(n) = cte.mdb.next {
            if cs.cap(n).is_null() {
                return fail("cdt_well_formed", format!("{s:?}.next = {n:?} is empty"));
            }
            if cs.mdb(n).prev != Some(s) {
                return fail(
                    "cdt_well_formed",
                    format!("{s:?}.next = {n:?} but {n:?}.prev = {:?}", cs.mdb(n).prev),
                );
            }
        }
        match cte.mdb.prev {
            Some(p) => {
                if cs.mdb(p).next != Some(s) {
                    return fail(
                        "cdt_well_formed",
                        format!("{s:?}.prev = {p:?} but {p:?}.next = {:?}", cs.mdb(p).next),
                    );
                }
            }
            None => heads.push(s),
        }
    }
    let mut seen = 0usize;
    for h in heads {
        let mut s = Some(h);
        while let Some(x) = s {
            seen += 1;
            if seen > slots.len() {
                return fail("cdt_acyclic", format!("the list from {h:?} does not end"));
            }
            s = cs.mdb(x).next;
        }
    }
    if seen != slots.len() {
        return fail("cdt_acyclic", format!("{} slots lie on a cycle, not on a list", slots.len() - seen));
    }
    Ok(())
}

fn check_slots_and_objects(objs: &LiveObjects, slots: &[(SlotRef, Cte)]) -> Result<(), InvariantViolation> {
    let mut end = 0u64;
    for (p, o) in objs {
        if p.0 < end {
            return fail("objects_disjoint", format!("{p:?} overlaps the object before it"));
        }
        if p.0 & crate::cap::mask(o.size_bits()) != 0 {
            return fail("objects_aligned", format!("{p:?} is not aligned to 2^{}", o.size_bits()));
        }
        end = p.0 + (1u64 << o.size_bits());
    }
    for &(s, _) in slots {
        let inside = object_at_or_below(objs, s.0).is_some_and(|(p, o)| {
            let n = o.slot_count();
            s.0 < p.0 + (n << SLOT_BITS) && (s.0 - p.0).is_multiple_of(1 << SLOT_BITS)
        });
        if !inside {
            return fail("slots_in_live_objects", format!("{s:?} is not a slot of a live CNode or TCB"));
        }
    }
    Ok(())
}

/// The first non-zero word of `mem` in `[from, to)`, if any.
fn first_nonzero(mem: &crate::mem::PhysMem, from: u64, to: u64) -> Option<u64> {
    mem.pages_in(from, to).into_iter().find_map(|page| {
        let p = mem.page(page);
        (0..crate::mem::PAGE_WORDS)
            .map(|i| ((page << 12) + 8 * i as u64, i))
            .find_map(|(a, i)| ((from..to).contains(&a) && p.word(i) != 0).then_some(a))
    })
}

/// Memory above an untyped's watermark reads as zero (`untyped_free_zero`), in every DataGear's
/// view of it: a retype clears nothing, so what it makes starts from zero only because boot
/// cleared the untypeds and every reset clears what it reclaims. Device untypeds are exempt. On
/// the host model only (on the machine it would read all free RAM at every check).
fn check_free_memory_zero(state: &KernelState, slots: &[(SlotRef, Cte)]) -> Result<(), InvariantViolation> {
    if state.cspace.is_window() {
        return Ok(());
    }
    for &(s, cte) in slots {
        let Cap::Untyped { ptr, size_bits, free_index, is_device: false } = cte.cap else { continue };
        let (from, to) = (ptr + (free_index << MIN_UNTYPED_BITS), ptr + (1u64 << size_bits));
        for (what, mem) in
            [("slots", state.cspace.mem()), ("objects", state.objects.mem()), ("frames", &state.mem)]
        {
            if let Some(a) = first_nonzero(mem, from, to) {
                return fail(
                    "untyped_free_zero",
                    format!("{s:?}: the {what} memory at {a:#x}, above the watermark {from:#x}, is not zero"),
                );
            }
        }
    }
    Ok(())
}

/// The untyped regions no other untyped region contains, as (base, size_bits, last byte), in
/// address order: they are disjoint.
fn outermost_untyped_regions(uts: &[(SlotRef, u64, u8, u64)]) -> Vec<(u64, u8, u64)> {
    let mut regions: Vec<(u64, u8, u64)> = uts
        .iter()
        .map(|&(_, ptr, bits, _)| (ptr, bits, ptr.wrapping_add(crate::cap::mask(bits as u64))))
        .collect();
    // By base, the largest first, so that a region's container comes before it.
    regions.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)));
    let mut outer: Vec<(u64, u8, u64)> = Vec::new();
    for r in regions {
        match outer.last() {
            Some(&(_, _, end)) if r.0 <= end => {}
            _ => outer.push(r),
        }
    }
    outer
}

/// The untyped regions named by caps, with their tightest watermark.
fn untyped_caps(slots: &[(SlotRef, Cte)]) -> Vec<(SlotRef, u64, u8, u64)> {
    slots
        .iter()
        .filter_map(|&(s, c)| match c.cap {
            Cap::Untyped { ptr, size_bits, free_index, .. } => Some((s, ptr, size_bits, free_index)),
            _ => None,
        })
        .collect()
}

fn check_untyped(objs: &LiveObjects, slots: &[(SlotRef, Cte)]) -> Result<(), InvariantViolation> {
    let uts = untyped_caps(slots);
    let mut regions: BTreeSet<(u64, u8)> = BTreeSet::new();
    for &(s, ptr, bits, free_index) in &uts {
        if ptr & crate::cap::mask(bits as u64) != 0 {
            return fail("untyped_aligned", format!("{s:?}: untyped {ptr:#x} not aligned to 2^{bits}"));
        }
        if free_index > (1u64 << (bits - MIN_UNTYPED_BITS)) {
            return fail("watermark_in_range", format!("{s:?}: free index {free_index} beyond the untyped"));
        }
        regions.insert((ptr, bits));
        let top = ptr + (1u64 << bits);
        let mark = ptr + (free_index << MIN_UNTYPED_BITS);
        // Objects inside lie wholly inside, below the watermark.
        if let Some((p, o)) = object_at_or_below(objs, ptr)
            && p.0 < ptr
            && p.0 + (1u64 << o.size_bits()) > ptr
        {
            return fail("untyped_children_inside", format!("{p:?} straddles the start of untyped {ptr:#x}"));
        }
        for (p, o) in objs.range(ObjPtr(ptr)..ObjPtr(top)) {
            let o_end = p.0 + (1u64 << o.size_bits());
            if o_end > top {
                return fail("untyped_children_inside", format!("{p:?} sticks out of untyped {ptr:#x}"));
            }
            if o_end > mark {
                return fail(
                    "watermark_consistent",
                    format!("{p:?} lies above the watermark {mark:#x} of {s:?}"),
                );
            }
        }
    }
    // Untyped regions nest or are disjoint, and a strict sub-region lies below the watermarks
    // of every cap to the region around it.
    // By base, the larger region first.
    let mut list: Vec<(u64, u8)> = regions.iter().copied().collect();
    list.sort_by_key(|&(p, b)| (p, core::cmp::Reverse(b)));
    // The lowest watermark among the caps to each region, and a slot holding it: a sub-region
    // must lie below it (one look-up per pair, where testing every cap per pair made the check
    // cubic in the untypeds a program splits one into).
    let mut lowest: BTreeMap<(u64, u8), (u64, SlotRef)> = BTreeMap::new();
    for &(s, ptr, bits, free_index) in &uts {
        let mark = ptr + (free_index << MIN_UNTYPED_BITS);
        let e = lowest.entry((ptr, bits)).or_insert((mark, s));
        if mark < e.0 {
            *e = (mark, s);
        }
    }
    for (i, &(a, abits)) in list.iter().enumerate() {
        let a_top = a + (1u64 << abits);
        for &(b, bbits) in &list[i + 1..] {
            if b >= a_top {
                break;
            }
            let b_top = b + (1u64 << bbits);
            if b_top > a_top && (b, bbits) != (a, abits) {
                return fail(
                    "untyped_nested_or_disjoint",
                    format!("untyped {b:#x}/2^{bbits} overlaps {a:#x}/2^{abits}"),
                );
            }
            if let Some(&(mark, s)) = lowest.get(&(a, abits))
                && (b, bbits) != (a, abits)
                && b_top > mark
            {
                return fail(
                    "watermark_consistent",
                    format!("untyped {b:#x} lies above the watermark of {s:?}"),
                );
            }
        }
    }
    Ok(())
}

/// Walks each CDT list keeping the stack of ancestors (`is_mdb_parent_of`); every cap to memory
/// inside an untyped region must have an untyped cap covering it among its ancestors.
fn check_cdt_order(state: &KernelState, slots: &[(SlotRef, Cte)]) -> Result<(), InvariantViolation> {
    let cs = &state.cspace;
    let outer = outermost_untyped_regions(&untyped_caps(slots));
    // Whether some untyped other than the cap's own region covers the cap: untyped regions nest
    // or are disjoint, so the outermost region around the cap does if any does (one binary
    // search, where testing every untyped made the check quadratic in caps × untypeds).
    let covered = |cap: &Cap| {
        let (base, top) = (cap.ptr(), cap.ptr().wrapping_add(crate::cap::mask(cap.size_bits())));
        let Some(&(ptr, bits, end)) = outer.get(outer.partition_point(|&(p, ..)| p <= base).wrapping_sub(1))
        else {
            return false;
        };
        let u = Cap::Untyped { ptr, size_bits: bits, free_index: 0, is_device: false };
        base <= top
            && top <= end
            && same_region_as(&u, cap)
            && !(matches!(cap, Cap::Untyped { ptr: p, size_bits: b, .. } if *p == ptr && *b == bits))
    };
    for &(h, _) in slots.iter().filter(|(_, c)| c.mdb.prev.is_none()) {
        let mut stack: Vec<Cte> = Vec::new();
        let mut s = Some(h);
        while let Some(x) = s {
            let cte = cs.get(x);
            while let Some(top) = stack.last() {
                if is_mdb_parent_of(top, &cte) {
                    break;
                }
                stack.pop();
            }
            if cte.cap.is_physical() && covered(&cte.cap) {
                let has_untyped_ancestor = stack
                    .iter()
                    .any(|a| matches!(a.cap, Cap::Untyped { .. }) && same_region_as(&a.cap, &cte.cap));
                if !has_untyped_ancestor {
                    return fail(
                        "children_after_parents",
                        format!("{x:?} holds {:?} but no untyped above it in the CDT covers it", cte.cap),
                    );
                }
            }
            stack.push(cte);
            s = cte.mdb.next;
        }
    }
    Ok(())
}

/// What a cap names, for `mdb_chunked`: caps to one object (or one IRQ, or the domain) sit
/// together in their CDT list. Untypeds and IRQControl name regions, not objects: not keyed.
fn chunk_key(cap: &Cap) -> Option<(u8, u64)> {
    match *cap {
        Cap::Endpoint { ptr, .. }
        | Cap::Notification { ptr, .. }
        | Cap::CNode { ptr, .. }
        | Cap::Thread { ptr }
        | Cap::Zombie { ptr, .. }
        | Cap::Frame { ptr, .. }
        | Cap::PageTable { ptr, .. }
        | Cap::AsidPool { ptr, .. } => Some((0, ptr.0)),
        Cap::IrqHandler { irq } => Some((1, irq as u64)),
        Cap::Domain => Some((2, 0)),
        Cap::AsidControl => Some((3, 0)),
        Cap::IoPort { first, last } => Some((4, (first as u64) << 16 | last as u64)),
        _ => None,
    }
}

/// seL4's `mdb_chunked`: in each CDT list the caps naming one object are contiguous.
fn check_cdt_chunked(state: &KernelState, slots: &[(SlotRef, Cte)]) -> Result<(), InvariantViolation> {
    let cs = &state.cspace;
    for &(h, _) in slots.iter().filter(|(_, c)| c.mdb.prev.is_none()) {
        let mut last: alloc::collections::BTreeMap<(u8, u64), usize> = alloc::collections::BTreeMap::new();
        let mut s = Some(h);
        let mut i = 0usize;
        while let Some(x) = s {
            let cte = cs.get(x);
            if let Some(k) = chunk_key(&cte.cap) {
                if let Some(&j) = last.get(&k)
                    && j + 1 != i
                {
                    return fail(
                        "cdt_chunked",
                        format!("{x:?} holds {:?}, apart from the other caps to it", cte.cap),
                    );
                }
                last.insert(k, i);
            }
            i += 1;
            s = cte.mdb.next;
        }
    }
    Ok(())
}

/// seL4's `valid_badges`: where a badged endpoint (notification) cap follows a cap to the same
/// object with another badge, it starts its badge's subtree (`first_badged`).
fn check_badges(state: &KernelState, slots: &[(SlotRef, Cte)]) -> Result<(), InvariantViolation> {
    let cs = &state.cspace;
    for &(p, cte) in slots {
        let Some(n) = cte.mdb.next else { continue };
        let next = cs.get(n);
        let badged_pair = matches!(
            (cte.cap, next.cap),
            (Cap::Endpoint { .. }, Cap::Endpoint { .. })
                | (Cap::Notification { .. }, Cap::Notification { .. })
        );
        if badged_pair
            && same_region_as(&cte.cap, &next.cap)
            && cte.cap.badge() != next.cap.badge()
            && next.cap.badge() != 0
            && !next.mdb.first_badged
        {
            return fail(
                "valid_badges",
                format!(
                    "{n:?} (badge {}) follows {p:?} (badge {}) but is not first-badged",
                    next.cap.badge(),
                    cte.cap.badge()
                ),
            );
        }
    }
    Ok(())
}

fn check_zombies(state: &KernelState, slots: &[(SlotRef, Cte)]) -> Result<(), InvariantViolation> {
    let mut zombies = BTreeSet::new();
    for &(s, cte) in slots {
        if let Cap::Zombie { ptr, number, .. } = cte.cap {
            if !zombies.insert(ptr) {
                return fail("zombies_consistent", format!("two zombies for {ptr:?}"));
            }
            let slots = ObjKind::of_cap(&cte.cap).map_or(0, |(_, k)| k.slot_count());
            if number > slots {
                return fail("zombies_consistent", format!("{s:?}: zombie number {number} > {slots} slots"));
            }
            let from = SlotRef::of(ptr, number);
            let to = SlotRef::of(ptr, slots);
            if let Some((t, _)) = state.cspace.range(from, to).next() {
                return fail(
                    "zombies_consistent",
                    format!("{s:?}: zombie {ptr:?} has {t:?} in use beyond slot {number}"),
                );
            }
        }
    }
    for &(s, cte) in slots {
        if let Cap::CNode { ptr, .. } | Cap::Thread { ptr } = cte.cap
            && zombies.contains(&ptr)
        {
            return fail("zombies_final", format!("{s:?} holds {:?} to an object being deleted", cte.cap));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::{CapRights, ObjPtr, ZombieType};
    use crate::cdt::{cte_insert, insert_new_cap};
    use crate::cspace::MdbNode;
    use crate::kernel::KernelState;

    /// Boot, then an endpoint retyped (by hand, as createNewObjects would) from the untyped, and
    /// a copy of it.
    fn state() -> (KernelState, SlotRef, SlotRef, SlotRef) {
        let (mut st, info) = KernelState::boot(6, &[16]);
        let ut = SlotRef::of(info.root_cnode, info.untyped[0].0);
        let base = info.untyped[0].1;
        let (a, b) = (SlotRef::of(info.root_cnode, 40), SlotRef::of(info.root_cnode, 41));
        st.cspace.set_cap(ut, Cap::Untyped { ptr: base, size_bits: 16, free_index: 1, is_device: false });
        insert_new_cap(&mut st.cspace, ut, a, Cap::endpoint(ObjPtr(base)));
        cte_insert(&mut st.cspace, Cap::endpoint(ObjPtr(base)), a, b);
        assert_eq!(check_invariants(&st), Ok(()));
        (st, ut, a, b)
    }

    fn broken(st: &KernelState) -> &'static str {
        check_invariants(st).expect_err("a violation").invariant
    }

    #[test]
    fn boot_and_retype_satisfy_the_invariants() {
        let (st, ..) = state();
        assert_eq!(check_invariants(&st), Ok(()));
    }

    #[test]
    fn detects_prev_next_disagreement_and_cycles() {
        let (mut st, ut, a, b) = state();
        st.cspace.update_mdb(b, |m| m.prev = Some(ut));
        assert_eq!(broken(&st), "cdt_well_formed");
        let (mut st, _, a2, b2) = state();
        st.cspace.update_mdb(a2, |m| m.prev = Some(b2));
        st.cspace.update_mdb(b2, |m| m.next = Some(a2));
        let ut_slot = st.slots().into_iter().find(|(_, c)| matches!(c.cap, Cap::Untyped { .. })).unwrap().0;
        st.cspace.update_mdb(ut_slot, |m| m.next = None);
        assert_eq!(broken(&st), "cdt_acyclic");
        let _ = a;
    }

    #[test]
    fn detects_caps_that_disagree_and_slots_outside_objects() {
        let (mut st, _, _, b) = state();
        let ep = ObjKind::of_cap(&st.cspace.cap(b)).unwrap().0;
        st.cspace.set_cap(b, Cap::Notification { ptr: ep, badge: 0, rights: CapRights::ALL });
        assert_eq!(broken(&st), "caps_agree");
        let (mut st, ..) = state();
        st.cspace.set(SlotRef(0x42_0000), crate::cspace::Cte { cap: Cap::Domain, mdb: MdbNode::default() });
        assert_eq!(broken(&st), "slots_in_live_objects");
    }

    #[test]
    fn outermost_untyped_regions_are_the_ones_nothing_contains() {
        let ut = |ptr: u64, bits: u8| (SlotRef(0), ptr, bits, 0);
        let nested =
            [ut(0x1_0000, 12), ut(0x1_0100, 8), ut(0x2_0000, 12), ut(0x1_0000, 10), ut(0x2_0000, 12)];
        assert_eq!(
            outermost_untyped_regions(&nested),
            [(0x1_0000, 12, 0x1_0fff), (0x2_0000, 12, 0x2_0fff)],
            "children and copies fold into their container"
        );
        let all = [ut(0x1_0100, 8), ut(0, 20), ut(0x1_0000, 12)];
        assert_eq!(outermost_untyped_regions(&all), [(0, 20, 0xf_ffff)]);
        assert!(outermost_untyped_regions(&[]).is_empty());
    }

    #[test]
    fn detects_objects_above_the_watermark_and_outside_the_cdt() {
        let (mut st, ut, ..) = state();
        st.cspace
            .set_cap(ut, Cap::Untyped { ptr: 0x1_0000_0000, size_bits: 16, free_index: 0, is_device: false });
        assert_eq!(broken(&st), "watermark_consistent");
        let (mut st, _, a, b) = state();
        // Unlink the endpoint caps from below the untyped and make them a list of their own.
        let ut_slot = st.cspace.mdb(a).prev.unwrap();
        st.cspace.update_mdb(ut_slot, |m| m.next = None);
        st.cspace.update_mdb(a, |m| m.prev = None);
        assert_eq!(broken(&st), "children_after_parents");
        let _ = b;
    }

    #[test]
    fn detects_caps_to_one_object_apart_in_the_list() {
        let (mut st, ut, a, b) = state();
        // Put a notification between the two endpoint caps.
        let n = SlotRef(a.0 + 0x40);
        st.cspace
            .set_cap(ut, Cap::Untyped { ptr: 0x1_0000_0000, size_bits: 16, free_index: 4, is_device: false });
        insert_new_cap(
            &mut st.cspace,
            a,
            n,
            Cap::Notification { ptr: ObjPtr(0x1_0000_0020), badge: 0, rights: CapRights::ALL },
        );
        assert_eq!(st.cspace.mdb(n).next, Some(b));
        assert_eq!(broken(&st), "cdt_chunked");
    }

    #[test]
    fn detects_dirty_memory_above_a_watermark() {
        let (mut st, ut, ..) = state();
        let Cap::Untyped { ptr, .. } = st.cspace.cap(ut) else { panic!("not an untyped") };
        st.mem.write(ptr + 0x100, 7);
        assert_eq!(broken(&st), "untyped_free_zero", "a frame's word left behind");
        let (mut st, ut, ..) = state();
        st.cspace.set_cap(ut, Cap::Untyped { ptr, size_bits: 16, free_index: 0x20, is_device: false });
        st.mem.write(ptr + 0x100, 7);
        assert_eq!(check_invariants(&st), Ok(()), "below the watermark, memory is the objects'");
    }

    #[test]
    fn detects_a_badge_change_without_first_badged() {
        let (mut st, _, a, b) = state();
        let mut cte = st.cspace.get(b);
        cte.cap = Cap::Endpoint { ptr: ObjPtr(0x1_0000_0000), badge: 7, rights: CapRights::ALL };
        cte.mdb.first_badged = false;
        st.cspace.set(b, cte);
        assert_eq!(broken(&st), "valid_badges");
        let _ = a;
    }

    #[test]
    fn detects_overlapping_untypeds_and_objects() {
        let (mut st, _, a, _) = state();
        let base = 0x1_0000_0000u64;
        // A second untyped straddling the first one's end.
        let s = SlotRef::of(ObjPtr(crate::boot::ROOT_CNODE), 50);
        st.cspace.set(
            s,
            crate::cspace::Cte {
                cap: Cap::Untyped { ptr: base + 0x8000, size_bits: 16, free_index: 0, is_device: false },
                mdb: MdbNode { revocable: true, first_badged: true, ..MdbNode::default() },
            },
        );
        assert_eq!(broken(&st), "untyped_aligned");
        let (mut st, ut, ..) = state();
        let n = Cap::Notification { ptr: ObjPtr(base + 8), badge: 0, rights: CapRights::ALL };
        insert_new_cap(&mut st.cspace, ut, SlotRef::of(ObjPtr(crate::boot::ROOT_CNODE), 42), n);
        assert_eq!(broken(&st), "objects_disjoint");
        let _ = a;
    }

    #[test]
    fn detects_io_ports_in_use_without_a_cap_and_caps_without_their_ports() {
        let (mut st, info) = KernelState::boot(6, &[16]);
        st.io_ports.reserve(0x40, 0x43);
        assert_eq!(check_invariants(&st), Ok(()), "the kernel's ports need no cap");
        let control = SlotRef::of(info.root_cnode, abi::bootinfo::CAP_IO_PORT_CONTROL);
        assert_eq!(st.cspace.cap(control), Cap::IoPortControl);
        let com1 = SlotRef::of(info.root_cnode, 40);
        cte_insert(&mut st.cspace, Cap::IoPort { first: 0x3f8, last: 0x3ff }, control, com1);
        assert_eq!(broken(&st), "io_ports_allocated", "a cap to ports not in use");
        st.io_ports.allocate(0x3f8, 0x3ff);
        assert_eq!(check_invariants(&st), Ok(()));
        st.io_ports.allocate(0x60, 0x64);
        assert_eq!(broken(&st), "io_ports_allocated", "ports in use with no cap");
        st.io_ports.free(0x60, 0x64);
        crate::cdt::empty_slot(&mut st.cspace, com1);
        assert_eq!(broken(&st), "io_ports_allocated", "the last cap went, the ports stayed in use");
    }

    #[test]
    fn detects_zombies_that_are_not_final_or_have_slots_in_use() {
        let (mut st, info) = KernelState::boot(6, &[16]);
        let cn = ObjPtr(0x1_0000_0000);
        let ut = SlotRef::of(info.root_cnode, info.untyped[0].0);
        st.cspace.set_cap(ut, Cap::Untyped { ptr: cn.0, size_bits: 16, free_index: 8, is_device: false });
        let z = SlotRef::of(info.root_cnode, 40);
        insert_new_cap(&mut st.cspace, ut, z, Cap::Zombie { ptr: cn, number: 2, kind: ZombieType::CNode(2) });
        assert_eq!(check_invariants(&st), Ok(()));
        // A cap in slot 3 of a zombie with 2 slots left.
        let irq = SlotRef::of(info.root_cnode, abi::bootinfo::CAP_IRQ_CONTROL);
        st.irqs.active.insert(1);
        cte_insert(&mut st.cspace, Cap::IrqHandler { irq: 1 }, irq, SlotRef::of(cn, 3));
        assert_eq!(broken(&st), "zombies_consistent");
        crate::cdt::empty_slot(&mut st.cspace, SlotRef::of(cn, 3));
        st.irqs.active.remove(&1);
        // Another cap to the CNode being deleted.
        cte_insert(&mut st.cspace, Cap::cnode(cn, 2), ut, SlotRef::of(info.root_cnode, 41));
        assert_eq!(broken(&st), "zombies_final");
    }
}

#[cfg(test)]
mod local_tests {
    use super::*;
    use crate::cap::ObjPtr;
    use crate::kernel::KernelState;

    #[test]
    fn local_check_sees_a_broken_link_at_its_slots_only() {
        let (mut st, info) = KernelState::boot(6, &[16]);
        let cn = info.root_cnode;
        let (a, b) = (SlotRef::of(cn, 40), SlotRef::of(cn, 41));
        st.cspace.set_cap(
            SlotRef::of(cn, info.untyped[0].0),
            Cap::Untyped { ptr: 0x1_0000_0000, size_bits: 16, free_index: 1, is_device: false },
        );
        crate::cdt::insert_new_cap(
            &mut st.cspace,
            SlotRef::of(cn, info.untyped[0].0),
            a,
            Cap::endpoint(ObjPtr(0x1_0000_0000)),
        );
        assert_eq!(check_local_invariants(&st, [a, b]), Ok(()));
        st.cspace.update_mdb(a, |m| m.prev = None);
        assert_eq!(check_local_invariants(&st, [a]), Ok(()), "a head is fine on its own");
        assert_eq!(
            check_local_invariants(&st, [SlotRef::of(cn, info.untyped[0].0)]).unwrap_err().invariant,
            "cdt_well_formed"
        );
    }
}
