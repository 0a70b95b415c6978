//! seL4's `cteRevoke` and `cteDelete` written as plain recursive loops over the same kernel state,
//! using the same O(1) CDT functions as the gears: the baseline the gear version is compared to,
//! for equal results (a differential test) and for cost (a ratio).

use codegears::cap::{Cap, SlotRef};
use codegears::cdt::{cap_swap_for_delete, empty_slot, is_final_capability, is_mdb_parent_of};
use codegears::delete::{cap_cyclic_zombie, cap_removable, finalise_cap, needs_cancel_all};
use codegears::kernel::KernelState;
use codegears::object::ThreadState;
use codegears::thread::set_thread_state;

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
        if let Some(c) = needs_cancel_all(&st.objects, &cap, is_final) {
            cancel_all_ipc(st, c.obj.unwrap_or_default(), c.is_notification);
        }
        let mut machine = codegears::MachineOps::default();
        let vm = (st.arch, &mut st.asids, &mut machine);
        let remainder = finalise_cap(
            &mut st.cspace,
            &mut st.objects,
            (&mut st.irqs, &mut st.io_ports),
            &mut st.sched,
            vm,
            &cap,
            is_final,
        );
        if cap_removable(&remainder, slot) {
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

/// seL4's `cancelAllIPC` / `cancelAllSignals`: every waiting thread restarted, in one go.
pub fn cancel_all_ipc(st: &mut KernelState, obj: codegears::ObjPtr, is_notification: bool) {
    loop {
        let head = if is_notification {
            st.objects.notification(obj).queue.head
        } else {
            st.objects.endpoint(obj).queue.head
        };
        let Some(t) = head else { return };
        if is_notification {
            codegears::notification::ntfn_dequeue(&mut st.objects, obj, t);
        } else {
            codegears::endpoint::ep_dequeue(&mut st.objects, obj, t);
        }
        set_thread_state(&mut st.objects, &mut st.sched, t, ThreadState::Restart);
    }
}
