//! seL4's `cteRevoke` and `cteDelete` written as plain recursive loops over the same kernel state,
//! using the same O(1) CDT functions as the gears: the baseline the gear version is compared to,
//! for equal results (a differential test) and for cost (a ratio).

use codegears::cap::{Cap, SlotRef};
use codegears::cdt::{cap_swap_for_delete, empty_slot, is_final_capability, is_mdb_parent_of};
use codegears::delete::{cap_cyclic_zombie, cap_removable, finalise_cap};
use codegears::kernel::KernelState;

/// `cteRevoke(slot)` without preemption.
pub fn cte_revoke(st: &mut KernelState, slot: SlotRef) {
    loop {
        let cte = st.cspace.get(slot);
        match cte.mdb.next {
            Some(n) if is_mdb_parent_of(&cte, &st.cspace.get(n)) => cte_delete(st, n, true),
            _ => return,
        }
    }
}

/// `cteDelete(slot, exposed)` without preemption.
pub fn cte_delete(st: &mut KernelState, slot: SlotRef, exposed: bool) {
    let success = finalise_slot(st, slot, exposed);
    if exposed || success {
        empty_slot(&mut st.cspace, slot);
    }
}

fn finalise_slot(st: &mut KernelState, slot: SlotRef, immediate: bool) -> bool {
    loop {
        let cap = st.cspace.cap(slot);
        if cap.is_null() {
            return true;
        }
        let is_final = is_final_capability(&st.cspace, slot);
        let remainder = finalise_cap(&mut st.objects, &mut st.irqs, &cap, is_final);
        if cap_removable(&remainder, slot) {
            if let Cap::Zombie { ptr, .. } = remainder {
                st.objects.remove(ptr);
            }
            return true;
        }
        st.cspace.set_cap(slot, remainder);
        if !immediate && cap_cyclic_zombie(&remainder, slot) {
            return false;
        }
        reduce_zombie(st, slot, immediate);
    }
}

fn reduce_zombie(st: &mut KernelState, slot: SlotRef, immediate: bool) {
    let Cap::Zombie { ptr, number, kind } = st.cspace.cap(slot) else { return };
    if immediate {
        cte_delete(st, SlotRef::of(ptr, number - 1), false);
        if st.cspace.cap(slot) == (Cap::Zombie { ptr, number, kind }) {
            st.cspace.set_cap(slot, Cap::Zombie { ptr, number: number - 1, kind });
        }
    } else {
        cap_swap_for_delete(&mut st.cspace, SlotRef(ptr.0), slot);
    }
}
