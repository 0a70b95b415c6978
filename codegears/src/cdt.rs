//! The capability derivation tree (CDT, seL4's MDB): a pre-order doubly linked list through the
//! slots, where a cap's descendants follow it. Each function here is O(1), like its seL4 twin.

use crate::cap::{Cap, SlotRef, is_cap_revocable, mask, same_object_as, same_region_as};
use crate::cspace::{CSpace, Cte, MdbNode};
use crate::error::SyscallError;

/// `isMDBParentOf`: whether the cap in `b` is a child of the cap in `a`, judged from `a`'s
/// revocability, the regions, and the badges.
pub fn is_mdb_parent_of(a: &Cte, b: &Cte) -> bool {
    if !a.mdb.revocable || !same_region_as(&a.cap, &b.cap) {
        return false;
    }
    match a.cap {
        Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } => {
            badge == 0 || (badge == b.cap.badge() && !b.mdb.first_badged)
        }
        _ => true,
    }
}

/// `isFinalCapability`: no neighbour in the CDT names the same object, so this is the last cap.
pub fn is_final_capability(cspace: &CSpace, slot: SlotRef) -> bool {
    let cte = cspace.get(slot);
    if let Some(p) = cte.mdb.prev
        && same_object_as(&cspace.cap(p), &cte.cap)
    {
        return false;
    }
    match cte.mdb.next {
        Some(n) => !same_object_as(&cte.cap, &cspace.cap(n)),
        None => true,
    }
}

/// `ensureNoChildren`: `RevokeFirst` if the next slot in the CDT is a child of `slot`.
pub fn ensure_no_children(cspace: &CSpace, slot: SlotRef) -> Result<(), SyscallError> {
    let cte = cspace.get(slot);
    match cte.mdb.next {
        Some(n) if is_mdb_parent_of(&cte, &cspace.get(n)) => Err(SyscallError::RevokeFirst),
        _ => Ok(()),
    }
}

/// `ensureEmptySlot`: `DeleteFirst` if `slot` holds a cap.
pub fn ensure_empty_slot(cspace: &CSpace, slot: SlotRef) -> Result<(), SyscallError> {
    if cspace.cap(slot).is_null() { Ok(()) } else { Err(SyscallError::DeleteFirst) }
}

/// `deriveCap`: the cap a copy of `cap` (from `slot`) gets; `Null` for caps that cannot be copied
/// (Zombie, IRQControl, Reply), `RevokeFirst` for an untyped with children.
pub fn derive_cap(cspace: &CSpace, slot: SlotRef, cap: &Cap) -> Result<Cap, SyscallError> {
    match cap {
        Cap::Zombie { .. } | Cap::IrqControl | Cap::Reply { .. } => Ok(Cap::Null),
        Cap::Untyped { .. } => ensure_no_children(cspace, slot).map(|()| *cap),
        other if other.is_arch() => crate::vspace::arch_derive_cap(other),
        other => Ok(*other),
    }
}

/// `setUntypedCapAsFull`: copying an untyped to a cap of the same region marks the source full, so
/// two caps to one region never both hand out its free memory.
fn set_untyped_cap_as_full(cspace: &mut CSpace, src_cap: &Cap, new_cap: &Cap, src: SlotRef) {
    if let (Cap::Untyped { ptr, size_bits, is_device, .. }, Cap::Untyped { ptr: np, size_bits: ns, .. }) =
        (*src_cap, *new_cap)
        && ptr == np
        && size_bits == ns
    {
        let full = mask(size_bits as u64) >> crate::cap::MIN_UNTYPED_BITS;
        let free_index = full + 1;
        cspace.set_cap(src, Cap::Untyped { ptr, size_bits, free_index, is_device });
    }
}

/// `cteInsert`: put `new_cap`, derived from the cap in `src`, into the empty `dest`, right after
/// `src` in the CDT.
pub fn cte_insert(cspace: &mut CSpace, new_cap: Cap, src: SlotRef, dest: SlotRef) {
    let src_cte = cspace.get(src);
    let revocable = is_cap_revocable(&new_cap, &src_cte.cap);
    let new_mdb = MdbNode { prev: Some(src), next: src_cte.mdb.next, revocable, first_badged: revocable };
    debug_assert!(cspace.cap(dest).is_null(), "cteInsert to non-empty destination");
    set_untyped_cap_as_full(cspace, &src_cte.cap, &new_cap, src);
    cspace.set(dest, Cte { cap: new_cap, mdb: new_mdb });
    cspace.update_mdb(src, |m| m.next = Some(dest));
    if let Some(n) = new_mdb.next {
        cspace.update_mdb(n, |m| m.prev = Some(dest));
    }
}

/// `insertNewCap`: a freshly created object's cap goes right after its untyped `parent`,
/// revocable and first-badged.
pub fn insert_new_cap(cspace: &mut CSpace, parent: SlotRef, slot: SlotRef, cap: Cap) {
    let next = cspace.mdb(parent).next;
    let mdb = MdbNode { prev: Some(parent), next, revocable: true, first_badged: true };
    cspace.set(slot, Cte { cap, mdb });
    if let Some(n) = next {
        cspace.update_mdb(n, |m| m.prev = Some(slot));
    }
    cspace.update_mdb(parent, |m| m.next = Some(slot));
}

/// `cteMove`: move the cap of `src` (as `new_cap`) with its place in the CDT to the empty `dest`.
pub fn cte_move(cspace: &mut CSpace, new_cap: Cap, src: SlotRef, dest: SlotRef) {
    let mdb = cspace.mdb(src);
    debug_assert!(cspace.cap(dest).is_null(), "cteMove to non-empty destination");
    cspace.set(src, Cte::default());
    cspace.set(dest, Cte { cap: new_cap, mdb });
    if let Some(p) = mdb.prev {
        cspace.update_mdb(p, |m| m.next = Some(dest));
    }
    if let Some(n) = mdb.next {
        cspace.update_mdb(n, |m| m.prev = Some(dest));
    }
}

/// `cteSwap`: exchange two slots' caps (as `cap1`, `cap2`) and places in the CDT. The order of the
/// updates is seL4's, which makes it right for neighbours too.
pub fn cte_swap(cspace: &mut CSpace, cap1: Cap, slot1: SlotRef, cap2: Cap, slot2: SlotRef) {
    cspace.set_cap(slot1, cap2);
    cspace.set_cap(slot2, cap1);
    let mdb1 = cspace.mdb(slot1);
    if let Some(p) = mdb1.prev {
        cspace.update_mdb(p, |m| m.next = Some(slot2));
    }
    if let Some(n) = mdb1.next {
        cspace.update_mdb(n, |m| m.prev = Some(slot2));
    }
    let mdb2 = cspace.mdb(slot2);
    cspace.set_mdb(slot1, mdb2);
    cspace.set_mdb(slot2, mdb1);
    if let Some(p) = mdb2.prev {
        cspace.update_mdb(p, |m| m.next = Some(slot1));
    }
    if let Some(n) = mdb2.next {
        cspace.update_mdb(n, |m| m.prev = Some(slot1));
    }
}

/// `capSwapForDelete`: swap two slots' contents (nothing if they are the same slot).
pub fn cap_swap_for_delete(cspace: &mut CSpace, slot1: SlotRef, slot2: SlotRef) {
    if slot1 != slot2 {
        let (c1, c2) = (cspace.cap(slot1), cspace.cap(slot2));
        cte_swap(cspace, c1, slot1, c2, slot2);
    }
}

/// `emptySlot`: unlink `slot` from the CDT and clear it; the next slot inherits `first_badged`.
pub fn empty_slot(cspace: &mut CSpace, slot: SlotRef) {
    let cte = cspace.get(slot);
    if cte.cap.is_null() {
        return;
    }
    if let Some(p) = cte.mdb.prev {
        cspace.update_mdb(p, |m| m.next = cte.mdb.next);
    }
    if let Some(n) = cte.mdb.next {
        cspace.update_mdb(n, |m| {
            m.prev = cte.mdb.prev;
            m.first_badged = m.first_badged || cte.mdb.first_badged;
        });
    }
    cspace.set(slot, Cte::default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cap::CapRights;
    use crate::cap::ObjPtr;

    const A: SlotRef = SlotRef(0x100);
    const B: SlotRef = SlotRef(0x120);
    const C: SlotRef = SlotRef(0x140);
    const D: SlotRef = SlotRef(0x160);

    fn ep(badge: u64) -> Cap {
        Cap::Endpoint { ptr: ObjPtr(0x9000), badge, rights: CapRights::ALL }
    }

    fn root(cs: &mut CSpace, slot: SlotRef, cap: Cap) {
        cs.set(slot, Cte { cap, mdb: MdbNode { revocable: true, first_badged: true, ..MdbNode::default() } });
    }

    fn list(cs: &CSpace, head: SlotRef) -> alloc::vec::Vec<SlotRef> {
        let mut v = alloc::vec![head];
        let mut s = head;
        while let Some(n) = cs.mdb(s).next {
            assert_eq!(cs.mdb(n).prev, Some(s), "prev/next disagree at {n:?}");
            v.push(n);
            s = n;
        }
        v
    }

    #[test]
    fn insert_links_after_source_and_sets_revocable_on_badge() {
        let mut cs = CSpace::new();
        root(&mut cs, A, ep(0));
        cte_insert(&mut cs, ep(0), A, B);
        cte_insert(&mut cs, ep(5), A, C);
        assert_eq!(list(&cs, A), [A, C, B]);
        assert!(!cs.mdb(B).revocable);
        assert!(cs.mdb(C).revocable && cs.mdb(C).first_badged);
        assert!(is_mdb_parent_of(&cs.get(A), &cs.get(B)));
        assert!(is_mdb_parent_of(&cs.get(A), &cs.get(C)));
        assert!(!is_mdb_parent_of(&cs.get(B), &cs.get(C)), "B is not revocable");
        // A copy of the badged cap is a child of it (same badge, not first-badged).
        cte_insert(&mut cs, ep(5), C, D);
        assert!(is_mdb_parent_of(&cs.get(C), &cs.get(D)));
        assert_eq!(list(&cs, A), [A, C, D, B]);
    }

    #[test]
    fn badged_siblings_are_not_parents() {
        let mut cs = CSpace::new();
        root(&mut cs, A, ep(0));
        cte_insert(&mut cs, ep(5), A, B);
        cte_insert(&mut cs, ep(6), A, C);
        assert!(!is_mdb_parent_of(&cs.get(C), &cs.get(B)), "different badges");
        cte_insert(&mut cs, ep(5), A, D); // a second first-badged 5
        assert!(!is_mdb_parent_of(&cs.get(D), &cs.get(C)));
    }

    #[test]
    fn final_capability_looks_at_neighbours() {
        let mut cs = CSpace::new();
        root(&mut cs, A, ep(0));
        assert!(is_final_capability(&cs, A));
        cte_insert(&mut cs, ep(0), A, B);
        assert!(!is_final_capability(&cs, A));
        assert!(!is_final_capability(&cs, B));
        empty_slot(&mut cs, B);
        assert!(is_final_capability(&cs, A));
        assert!(cs.get(B) == Cte::default());
    }

    #[test]
    fn move_keeps_the_place_in_the_tree() {
        let mut cs = CSpace::new();
        root(&mut cs, A, ep(0));
        cte_insert(&mut cs, ep(0), A, B);
        cte_insert(&mut cs, ep(0), B, C);
        cte_move(&mut cs, ep(0), B, D);
        assert_eq!(list(&cs, A), [A, D, C]);
        assert!(cs.cap(B).is_null() && cs.mdb(B).is_null());
    }

    #[test]
    fn swap_of_neighbours_and_of_strangers() {
        let mut cs = CSpace::new();
        root(&mut cs, A, ep(0));
        cte_insert(&mut cs, ep(0), A, B);
        cte_insert(&mut cs, ep(0), B, C);
        // neighbours B, C
        let (cb, cc) = (cs.cap(B), cs.cap(C));
        cte_swap(&mut cs, cb, B, cc, C);
        assert_eq!(list(&cs, A), [A, C, B]);
        // neighbours the other way round, and A with a stranger list
        let (ca, cc) = (cs.cap(A), cs.cap(C));
        cte_swap(&mut cs, ca, A, cc, C);
        assert_eq!(list(&cs, C), [C, A, B]);
        root(&mut cs, D, Cap::Thread { ptr: ObjPtr(0x800) });
        cap_swap_for_delete(&mut cs, A, D);
        assert_eq!(list(&cs, C), [C, D, B]);
        assert_eq!(list(&cs, A), [A]);
        assert_eq!(cs.cap(A), Cap::Thread { ptr: ObjPtr(0x800) });
    }

    #[test]
    fn empty_slot_passes_first_badged_on() {
        let mut cs = CSpace::new();
        root(&mut cs, A, ep(0));
        cte_insert(&mut cs, ep(5), A, B);
        cte_insert(&mut cs, ep(5), B, C);
        assert!(!cs.mdb(C).first_badged);
        empty_slot(&mut cs, B);
        assert!(cs.mdb(C).first_badged);
        assert_eq!(list(&cs, A), [A, C]);
        empty_slot(&mut cs, D); // empty: nothing happens
    }

    #[test]
    fn derive_refuses_zombies_and_parents_of_untyped() {
        let mut cs = CSpace::new();
        let ut = Cap::Untyped { ptr: 0x10000, size_bits: 12, free_index: 0, is_device: false };
        root(&mut cs, A, ut);
        assert_eq!(derive_cap(&cs, A, &ut), Ok(ut));
        insert_new_cap(&mut cs, A, B, Cap::endpoint(ObjPtr(0x10000)));
        assert_eq!(derive_cap(&cs, A, &ut), Err(SyscallError::RevokeFirst));
        assert_eq!(derive_cap(&cs, B, &Cap::IrqControl), Ok(Cap::Null));
        assert_eq!(ensure_empty_slot(&cs, B), Err(SyscallError::DeleteFirst));
        assert_eq!(ensure_empty_slot(&cs, C), Ok(()));
    }

    #[test]
    fn copying_an_untyped_marks_the_source_full() {
        let mut cs = CSpace::new();
        let ut = Cap::Untyped { ptr: 0x10000, size_bits: 12, free_index: 3, is_device: false };
        root(&mut cs, A, ut);
        cte_insert(&mut cs, ut, A, B);
        assert_eq!(
            cs.cap(A),
            Cap::Untyped { ptr: 0x10000, size_bits: 12, free_index: 256, is_device: false }
        );
        assert_eq!(cs.cap(B), ut);
        assert!(is_mdb_parent_of(&cs.get(A), &cs.get(B)));
    }
}
