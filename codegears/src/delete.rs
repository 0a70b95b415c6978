//! Delete and revoke as gears, after seL4's `cteDelete`, `finaliseSlot`, `reduceZombie`,
//! `finaliseCap` and `cteRevoke`. CNodes and TCBs die through Zombies, one slot per step, with a
//! preemption point after each zombie reduction and after each child a revoke deletes.

use gears::Next;

use crate::arch::Arch;
use crate::cap::{Cap, SlotRef, TCB_CNODE_ENTRIES, ZombieType};
use crate::cdt::{cap_swap_for_delete, empty_slot, is_final_capability, is_mdb_parent_of};
use crate::cspace::CSpace;
use crate::ioport::IoPortTable;
use crate::kernel::CancelCursor;
use crate::kernel::{DeleteCursor, InnerDelete, IrqTable, Kernel, RevokeCursor};
use crate::machine::MachineOps;
use crate::notification::{unbind_maybe_notification, unbind_notification};
use crate::object::ObjectStore;
use crate::thread::{Scheduler, suspend};
use crate::vspace::AsidTable;

/// Whether `cap` is the final cap of an endpoint or notification that still has waiting threads:
/// `finaliseSlot` then first runs the `cancelAllIPC` loop ([`CANCEL_ALL_IPC_STEP`](crate::endpoint::CANCEL_ALL_IPC_STEP)).
pub fn needs_cancel_all(objects: &ObjectStore, cap: &Cap, is_final: bool) -> Option<CancelCursor> {
    let (ptr, waiting, is_notification) = match *cap {
        Cap::Endpoint { ptr, .. } if is_final => (ptr, !objects.endpoint(ptr).queue.is_empty(), false),
        Cap::Notification { ptr, .. } if is_final => (ptr, !objects.notification(ptr).queue.is_empty(), true),
        _ => return None,
    };
    waiting.then_some(CancelCursor { obj: Some(ptr), is_notification, badged: None, cancelled: 0 })
}

/// `finaliseCap`: what is left of `cap` once the object loses it (`Null`, or a Zombie for the
/// last cap of a CNode or TCB). Arch caps go through `Arch_finaliseCap`
/// ([`arch_finalise_cap`](crate::vspace::arch_finalise_cap): unmap, delete the ASID or the
/// pool). Final caps to endpoints, notifications, frames, paging structures and ASID pools end
/// their object's life here (their queues are empty by now: see [`needs_cancel_all`]); a notification
/// lets go of its bound TCB. A TCB's last cap unbinds its notification and suspends it
/// (`cancelIPC`, off the ready queue); a Zombie's object dies when the Zombie is removed.
#[allow(clippy::too_many_arguments)]
pub fn finalise_cap(
    cspace: &mut CSpace,
    objects: &mut ObjectStore,
    devices: (&mut IrqTable, &mut IoPortTable),
    sched: &mut Scheduler,
    vm: (Arch, &mut AsidTable, &mut MachineOps),
    cap: &Cap,
    is_final: bool,
) -> Cap {
    let (arch, asids, machine) = vm;
    let (irqs, io_ports) = devices;
    if let Cap::IoPort { first, last } = *cap {
        // Arch_postCapDeletion, once the slot is emptied (in the same gear here): the last cap
        // to the range frees it.
        if is_final {
            io_ports.free(first, last);
        }
        return Cap::Null;
    }
    if cap.is_arch() {
        crate::vspace::arch_finalise_cap(arch, asids, objects, machine, cap, is_final);
        return Cap::Null;
    }
    match *cap {
        Cap::IrqHandler { irq } => {
            // deletingIRQHandler, done by postCapDeletion once the slot is emptied (in the same
            // gear here): the IRQ has no handler any more.
            if is_final {
                crate::interrupt::deleting_irq_handler(irqs, machine, irq);
            }
            Cap::Null
        }
        Cap::Endpoint { ptr, .. } | Cap::Notification { ptr, .. } => {
            // cancelAllIPC / cancelAllSignals have run (the queue is empty).
            if is_final {
                unbind_maybe_notification(objects, ptr);
                crate::interrupt::forget_notification(irqs, ptr);
            }
            Cap::Null
        }
        Cap::CNode { ptr, radix, .. } if is_final => {
            Cap::Zombie { ptr, number: 1u64 << radix, kind: ZombieType::CNode(radix) }
        }
        Cap::Thread { ptr } if is_final => {
            // unbindNotification, suspend (the thread stops), tcbDebugRemove, then its CNode part
            // is reduced.
            unbind_notification(objects, ptr);
            suspend(cspace, objects, sched, ptr);
            crate::thread::tcb_debug_remove(objects, sched, ptr);
            Cap::Zombie { ptr, number: TCB_CNODE_ENTRIES, kind: ZombieType::Tcb }
        }
        Cap::Zombie { .. } => *cap,
        _ => Cap::Null,
    }
}

/// `capRemovable`: the remainder may be emptied from `slot` (Null, or a Zombie with no slots
/// left, or whose last slot is `slot` itself).
pub fn cap_removable(cap: &Cap, slot: SlotRef) -> bool {
    match *cap {
        Cap::Zombie { ptr, number, .. } => number == 0 || (number == 1 && slot == SlotRef(ptr.0)),
        _ => true,
    }
}

/// `capCyclicZombie`: a Zombie sitting in its own object's slot 0.
pub fn cap_cyclic_zombie(cap: &Cap, slot: SlotRef) -> bool {
    matches!(*cap, Cap::Zombie { ptr, .. } if SlotRef(ptr.0) == slot)
}

impl DeleteCursor {
    /// The slot the current `finaliseSlot` loop works on, and whether it is immediate (exposed).
    fn frame(&self) -> Option<(SlotRef, bool)> {
        match self.inner {
            Some(i) => Some((i.end_slot, false)),
            None => self.slot.map(|s| (s, true)),
        }
    }
}

gears::code_gear! {
    /// `cteDelete(slot, true)`: finalise the slot, then empty it.
    pub fn cte_delete(ctx: Kernel; delete: &mut DeleteCursor) {
        delete.inner = None;
        Next::Goto(&FINALISE_SLOT)
    }
}

gears::code_gear! {
    /// One pass of `finaliseSlot`'s loop on the current frame's slot: finalise its cap; done if
    /// the remainder is removable (or, not immediate, a cyclic Zombie); else keep the Zombie and
    /// reduce it.
    #[allow(clippy::too_many_arguments)]
    pub fn finalise_slot(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, irqs: &mut IrqTable, io_ports: &mut IoPortTable, sched: &mut Scheduler, arch: &Arch, asids: &mut AsidTable, machine: &mut MachineOps, delete: &mut DeleteCursor, cancel: &mut CancelCursor) {
        let Some((slot, immediate)) = delete.frame() else {
            return Next::Goto(&CTE_DELETE_DONE);
        };
        let cap = cspace.cap(slot);
        if cap.is_null() {
            return finalise_slot_done(cspace, delete, slot, true);
        }
        let is_final = is_final_capability(cspace, slot);
        if let Some(c) = needs_cancel_all(objects, &cap, is_final) {
            *cancel = c;
            return Next::Goto(&crate::endpoint::CANCEL_ALL_IPC_STEP);
        }
        let remainder = finalise_cap(cspace, objects, (irqs, io_ports), sched, (*arch, asids, machine), &cap, is_final);
        if cap_removable(&remainder, slot) {
            // A Zombie's object has no slots left in use: its life ends with the Zombie, and its
            // memory stays as it is until a retype clears it, as in seL4.
            return finalise_slot_done(cspace, delete, slot, true);
        }
        cspace.set_cap(slot, remainder);
        if !immediate && cap_cyclic_zombie(&remainder, slot) {
            return finalise_slot_done(cspace, delete, slot, false);
        }
        Next::Goto(&REDUCE_ZOMBIE)
    }
}

gears::code_gear! {
    /// The queue of the endpoint or notification being finalised is empty: back to `finaliseSlot`,
    /// which now finds nothing waiting and ends the object's life.
    pub fn cancel_all_ipc_done(ctx: Kernel; cancel: &mut CancelCursor) {
        cancel.obj = None;
        Next::Goto(&FINALISE_SLOT)
    }
}

gears::code_gear! {
    /// `reduceZombie`: immediate (the exposed slot), delete the zombie's last slot with an inner
    /// `cteDelete(endSlot, false)`; not immediate (an end slot), move the zombie into its own
    /// slot 0, making it cyclic, and carry on with whatever was there.
    pub fn reduce_zombie(ctx: Kernel; cspace: &mut CSpace, delete: &mut DeleteCursor) {
        let Some((slot, immediate)) = delete.frame() else {
            return Next::Goto(&CTE_DELETE_DONE);
        };
        let zombie = cspace.cap(slot);
        let Cap::Zombie { ptr, number, .. } = zombie else {
            return Next::Goto(&FINALISE_SLOT);
        };
        if immediate {
            let end_slot = SlotRef::of(ptr, number.saturating_sub(1));
            delete.inner = Some(InnerDelete { end_slot, zombie });
            Next::Goto(&FINALISE_SLOT)
        } else {
            cap_swap_for_delete(cspace, SlotRef(ptr.0), slot);
            Next::Preempt(&FINALISE_SLOT)
        }
    }
}

gears::code_gear! {
    /// The rest of an immediate `reduceZombie` once the end slot is deleted: one slot fewer, if
    /// the exposed slot still holds the same zombie; then `finaliseSlot`'s preemption point.
    pub fn reduce_zombie_end_slot_deleted(ctx: Kernel; cspace: &mut CSpace, delete: &mut DeleteCursor) {
        if let Some(inner) = delete.inner.take()
            && let Some(outer) = delete.slot
            && let Cap::Zombie { ptr, number, kind } = cspace.cap(outer)
            && inner.zombie == (Cap::Zombie { ptr, number, kind })
        {
            cspace.set_cap(outer, Cap::Zombie { ptr, number: number.saturating_sub(1), kind });
        }
        Next::Preempt(&FINALISE_SLOT)
    }
}

/// The end of a `finaliseSlot` loop with `success`: empty the slot as `cteDelete` does (always
/// when exposed, on success otherwise), then finish the delete or return to `reduceZombie`.
fn finalise_slot_done(
    cspace: &mut CSpace,
    delete: &mut DeleteCursor,
    slot: SlotRef,
    success: bool,
) -> Next<Kernel> {
    if delete.inner.is_some() {
        if success {
            empty_slot(cspace, slot);
        }
        Next::Goto(&REDUCE_ZOMBIE_END_SLOT_DELETED)
    } else {
        empty_slot(cspace, slot);
        Next::Goto(&CTE_DELETE_DONE)
    }
}

gears::code_gear! {
    /// The slot is empty: go where the delete was asked from.
    pub fn cte_delete_done(ctx: Kernel; delete: &mut DeleteCursor) {
        let ret = delete.ret;
        *delete = DeleteCursor::default();
        match ret {
            Some(g) => Next::Goto(g),
            None => Next::Goto(&crate::lookup::INVOCATION_DONE),
        }
    }
}

gears::code_gear! {
    /// `cteRevoke`'s loop test: is the next slot in the CDT a child of the revoked one?
    pub fn cte_revoke_check(ctx: Kernel; cspace: &CSpace, revoke: &RevokeCursor) {
        let Some(slot) = revoke.slot else {
            return Next::Goto(&crate::lookup::INVOCATION_DONE);
        };
        let cte = cspace.get(slot);
        match cte.mdb.next {
            Some(n) if is_mdb_parent_of(&cte, &cspace.get(n)) => Next::Goto(&CTE_REVOKE_DELETE_CHILD),
            _ => Next::Goto(&crate::lookup::INVOCATION_DONE),
        }
    }
}

gears::code_gear! {
    /// `cteRevoke`'s body: delete the next child, `cteDelete(next, true)`.
    pub fn cte_revoke_delete_child(ctx: Kernel; cspace: &CSpace, revoke: &RevokeCursor, delete: &mut DeleteCursor) {
        let next = revoke.slot.and_then(|s| cspace.mdb(s).next);
        *delete = DeleteCursor { slot: next, inner: None, ret: Some(&CTE_REVOKE_CHILD_DELETED) };
        Next::Goto(&CTE_DELETE)
    }
}

gears::code_gear! {
    /// A child is gone: the preemption point of `cteRevoke`, then the loop test again.
    pub fn cte_revoke_child_deleted(ctx: Kernel; revoke: &mut RevokeCursor) {
        revoke.deleted += 1;
        Next::Preempt(&CTE_REVOKE_CHECK)
    }
}
