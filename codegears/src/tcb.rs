//! TCB invocations as gears, after seL4's `src/object/tcb.c`: ReadRegisters and WriteRegisters
//! (the call path `seL4_TCB_ReadRegisters` takes through the kernel).

use abi::label;
use gears::Next;

use crate::arch::Arch;
use crate::cap::{Cap, ObjPtr};
use crate::cap::{SlotRef, update_cap_data};
use crate::cdt::{cte_insert, derive_cap};
use crate::cspace::CSpace;
use crate::error::SyscallError;
use crate::kernel::{DeleteCursor, tcb_slot};
use crate::kernel::{Invocation, Kernel, Request};
use crate::lookup::set_restart;
use crate::mem::PhysMem;
use crate::message::{lookup_ipc_buffer, set_message};
use crate::object::ObjectStore;

use crate::thread::{Scheduler, restart, set_priority, suspend};

/// The TCB the invocation names, if the invoked cap is a thread cap.
pub(crate) fn target(invocation: &Invocation) -> Option<ObjPtr> {
    match invocation.invoked {
        Some((Cap::Thread { ptr }, _)) => Some(ptr),
        _ => None,
    }
}

/// seL4's `checkCapAt` then `cteInsert`: put `new_cap` in `dest` as a CDT child of `src`, only if
/// `src` still holds the same object and `dest` is empty (either may have changed while the
/// invocation was preempted in the delete of `dest`'s old cap).
pub(crate) fn check_cap_at_and_insert(
    cspace: &mut CSpace,
    new_cap: Cap,
    src: Option<SlotRef>,
    dest: SlotRef,
) {
    if let Some(src) = src
        && crate::cap::same_object_as(&new_cap, &cspace.cap(src))
        && cspace.cap(dest).is_null()
    {
        cte_insert(cspace, new_cap, src, dest);
    }
}

gears::code_gear! {
    /// `decodeTCBInvocation`: dispatch on the label.
    pub fn decode_tcb_invocation(ctx: Kernel; request: &Request) {
        match request.label {
            label::tcb::READ_REGISTERS => Next::Goto(&DECODE_READ_REGISTERS),
            label::tcb::WRITE_REGISTERS => Next::Goto(&DECODE_WRITE_REGISTERS),
            label::tcb::SET_PRIORITY | label::tcb::SET_MC_PRIORITY => Next::Goto(&DECODE_SET_PRIORITY),
            label::tcb::SET_SPACE => Next::Goto(&DECODE_SET_SPACE),
            label::tcb::SET_SCHED_PARAMS => Next::Goto(&crate::tcb_control::DECODE_SET_SCHED_PARAMS),
            label::tcb::COPY_REGISTERS => Next::Goto(&crate::tcb_control::DECODE_COPY_REGISTERS),
            label::tcb::SET_IPC_BUFFER => Next::Goto(&crate::tcb_control::DECODE_SET_IPC_BUFFER),
            label::tcb::CONFIGURE => Next::Goto(&crate::tcb_control::DECODE_TCB_CONFIGURE),
            label::tcb::SUSPEND | label::tcb::RESUME => Next::Goto(&INVOKE_TCB_SUSPEND_RESUME),
            label::tcb::BIND_NOTIFICATION => Next::Goto(&DECODE_BIND_NOTIFICATION),
            label::tcb::UNBIND_NOTIFICATION => Next::Goto(&DECODE_UNBIND_NOTIFICATION),
            label::tcb::SET_TLS_BASE => Next::Goto(&crate::tcb_control::DECODE_SET_TLS_BASE),
            label::tcb::SET_FLAGS => Next::Goto(&crate::tcb_control::DECODE_SET_FLAGS),
            _ => Next::Fail(SyscallError::IllegalOperation),
        }
    }
}

gears::code_gear! {
    /// `decodeReadRegisters`: length, count range, not our own registers.
    pub fn decode_read_registers(ctx: Kernel; arch: &Arch, request: &Request, invocation: &Invocation) {
        if request.mrs.len() < 2 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let n = request.mr(1);
        let max = arch.register_count() as u64;
        if !(1..=max).contains(&n) {
            return Next::Fail(SyscallError::RangeError { min: 1, max });
        }
        if target(invocation) == Some(request.thread) {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        Next::Goto(&INVOKE_TCB_READ_REGISTERS)
    }
}

gears::code_gear! {
    /// `invokeTCB_ReadRegisters`: optionally suspend the source, then, if the caller waits,
    /// reply with its first `n` registers in `seL4_UserContext` order (the words past the
    /// message registers only if the caller has an IPC buffer); the caller runs on.
    pub fn invoke_tcb_read_registers(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, mem: &mut PhysMem, arch: &Arch, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let n = (request.mr(1) as usize).min(arch.register_count());
        let Some(src) = target(invocation) else { return Next::Fail(SyscallError::InvalidCapability { cap: 0 }) };
        if request.mr(0) & abi::tcb::READ_REGISTERS_SUSPEND != 0 {
            suspend(cspace, objects, sched, src);
        }
        if request.is_call {
            let regs = objects.tcb(src).registers;
            let buffer = lookup_ipc_buffer(cspace, objects, request.thread, true);
            set_message(objects, mem, *arch, request.thread, buffer, 0, 0, &regs[..n]);
        }
        crate::lookup::end_restart(objects, request.thread);
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeWriteRegisters`: length covers the `w` values, not our own registers.
    pub fn decode_write_registers(ctx: Kernel; request: &Request, invocation: &Invocation) {
        if request.mrs.len() < 2 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let w = request.mr(1);
        if (request.mrs.len() as u64 - 2) < w {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        if target(invocation) == Some(request.thread) {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        Next::Goto(&INVOKE_TCB_WRITE_REGISTERS)
    }
}

gears::code_gear! {
    /// `invokeTCB_WriteRegisters`: write the first `min(w, registers)` registers in
    /// `seL4_UserContext` order, sanitised; the target goes on from the instruction pointer
    /// written (NextIP = FaultIP, `setNextPC(getRestartPC)`); optionally restart it.
    pub fn invoke_tcb_write_registers(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, arch: &Arch, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let n = (request.mr(1) as usize).min(arch.register_count());
        let resume = request.mr(0) & abi::tcb::WRITE_REGISTERS_RESUME != 0;
        if let Some(dest) = target(invocation) {
            objects.tcb_mut(dest).set(|t| {
                for (i, r) in t.registers.iter_mut().enumerate().take(n) {
                    *r = crate::fault::sanitise_register(*arch, i, request.mr(i + 2));
                }
                t.next_ip = t.registers[arch.ip_register()];
            });
            if resume {
                restart(cspace, objects, sched, dest);
            }
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeSetPriority` / `decodeSetMCPriority`: the new value in MR0, an authority TCB as extra
    /// cap 0 whose MCP bounds it (`checkPrio`: RangeError 0..=mcp).
    pub fn decode_set_priority(ctx: Kernel; objects: &ObjectStore, request: &Request, invocation: &Invocation) {
        let Some(&(auth, _)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::TruncatedMessage);
        };
        if request.mrs.is_empty() {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let Cap::Thread { ptr: auth } = auth else {
            return Next::Fail(SyscallError::InvalidCapability { cap: 1 });
        };
        let mcp = objects.tcb(auth).mcp as u64;
        if request.mr(0) > mcp {
            return Next::Fail(SyscallError::RangeError { min: 0, max: mcp });
        }
        Next::Goto(&INVOKE_TCB_SET_PRIORITY)
    }
}

gears::code_gear! {
    /// `invokeTCB_ThreadControl` for the priority or the MCP.
    pub fn invoke_tcb_set_priority(ctx: Kernel; objects: &mut ObjectStore, sched: &mut Scheduler, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let value = request.mr(0) as u8;
        if let Some(t) = target(invocation) {
            if request.label == label::tcb::SET_PRIORITY {
                set_priority(objects, sched, t, value);
            } else { let mut tcb = objects.tcb_mut(t);
                tcb.mcp = value;
            }
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `invokeTCB_Suspend` / `invokeTCB_Resume`: `suspend` or `restart` the target.
    pub fn invoke_tcb_suspend_resume(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let Some(t) = target(invocation) {
            if request.label == label::tcb::SUSPEND {
                suspend(cspace, objects, sched, t);
            } else {
                restart(cspace, objects, sched, t);
            }
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeSetSpace` (non-MCS): fault endpoint cptr, CSpace root data and VSpace root data in
    /// MR0..2, the CSpace and VSpace roots as extra caps 0 and 1. The target's own CSpace and
    /// VSpace slots must not hold a cap whose deletion runs long (`slotCapLongRunningDelete`);
    /// the CSpace root, after its guard update and `deriveCap`, must be a CNode cap; the VSpace
    /// root, after `deriveCap`, a valid VSpace root (`isValidVTableRoot`); else IllegalOperation.
    pub fn decode_set_space(ctx: Kernel; cspace: &CSpace, arch: &Arch, request: &Request, invocation: &mut Invocation) {
        if request.mrs.len() < 3 || invocation.extra_caps.len() < 2 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        if let Some(t) = target(invocation)
            && crate::tcb_control::space_being_deleted(cspace, t)
        {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let (root_cap, root_slot) = invocation.extra_caps[0];
        let data = request.mr(1);
        let cap = if data != 0 { update_cap_data(false, data, &root_cap) } else { root_cap };
        let derived = match derive_cap(cspace, root_slot, &cap) {
            Ok(c) => c,
            Err(e) => return Next::Fail(e),
        };
        if !matches!(derived, Cap::CNode { .. }) {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let vroot = match decode_vroot(cspace, *arch, request.mr(2), invocation.extra_caps[1]) {
            Ok(v) => v,
            Err(e) => return Next::Fail(e),
        };
        invocation.new_cap = derived;
        invocation.src = Some(root_slot);
        invocation.vroot = Some(vroot);
        Next::Goto(&INVOKE_TCB_SET_SPACE)
    }
}

gears::code_gear! {
    /// `invokeTCB_ThreadControl` for the space: set the fault handler, then delete the old CSpace
    /// root (the delete gears, preemptible) and go on to insert the new one.
    pub fn invoke_tcb_set_space(ctx: Kernel; objects: &mut ObjectStore, request: &Request, invocation: &Invocation, delete: &mut DeleteCursor) {
        set_restart(objects, request.thread);
        let Some(t) = target(invocation) else { return Next::Goto(&crate::lookup::INVOCATION_DONE) };
        { let mut tcb = objects.tcb_mut(t);
            tcb.fault_handler = request.mr(0);
        }
        *delete = DeleteCursor { slot: Some(SlotRef::of(t, tcb_slot::CTABLE)), inner: None, ret: Some(&TCB_SET_SPACE_INSERT) };
        Next::Goto(&crate::delete::CTE_DELETE)
    }
}

gears::code_gear! {
    /// The old CSpace root is gone: insert the new one if its source still holds the same object
    /// (`sameObjectAs` + `checkCapAt`), as a CDT child of it; then delete the old VSpace root.
    pub fn tcb_set_space_insert(ctx: Kernel; cspace: &mut CSpace, invocation: &Invocation, delete: &mut DeleteCursor) {
        let Some(t) = target(invocation) else { return Next::Goto(&crate::lookup::INVOCATION_DONE) };
        check_cap_at_and_insert(cspace, invocation.new_cap, invocation.src, SlotRef::of(t, tcb_slot::CTABLE));
        *delete = DeleteCursor { slot: Some(SlotRef::of(t, tcb_slot::VTABLE)), inner: None, ret: Some(&TCB_SET_SPACE_VTABLE_INSERT) };
        Next::Goto(&crate::delete::CTE_DELETE)
    }
}

gears::code_gear! {
    /// The old VSpace root is gone: insert the new one if its source still holds it.
    pub fn tcb_set_space_vtable_insert(ctx: Kernel; cspace: &mut CSpace, invocation: &Invocation) {
        if let (Some(t), Some((cap, src))) = (target(invocation), invocation.vroot) {
            check_cap_at_and_insert(cspace, cap, Some(src), SlotRef::of(t, tcb_slot::VTABLE));
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

/// The VSpace-root part of `decodeSetSpace` and `decodeTCBConfigure`: `updateCapData` (which
/// leaves arch caps as they are), `deriveCap`, then `isValidVTableRoot` (else IllegalOperation).
pub(crate) fn decode_vroot(
    cspace: &CSpace,
    arch: Arch,
    data: u64,
    (cap, slot): (Cap, SlotRef),
) -> Result<(Cap, SlotRef), SyscallError> {
    let cap = if data != 0 { update_cap_data(false, data, &cap) } else { cap };
    let derived = derive_cap(cspace, slot, &cap)?;
    if !crate::vspace::is_valid_vtable_root(arch, &derived) {
        return Err(SyscallError::IllegalOperation);
    }
    Ok((derived, slot))
}

gears::code_gear! {
    /// `decodeBindNotification`: the TCB has no bound notification; extra cap 0 is a notification
    /// cap with the read right, neither bound nor waited on.
    pub fn decode_bind_notification(ctx: Kernel; objects: &ObjectStore, invocation: &Invocation) {
        let Some(t) = target(invocation) else { return Next::Fail(SyscallError::InvalidCapability { cap: 0 }) };
        if objects.tcb(t).bound_notification.is_some() {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let Some(&(cap, _)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::TruncatedMessage);
        };
        let Cap::Notification { ptr, rights, .. } = cap else {
            return Next::Fail(SyscallError::IllegalOperation);
        };
        if !rights.read {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let n = objects.notification(ptr);
        if n.queue.is_empty() && n.bound_tcb.is_none() {
            Next::Goto(&INVOKE_TCB_BIND_NOTIFICATION)
        } else {
            Next::Fail(SyscallError::IllegalOperation)
        }
    }
}

gears::code_gear! {
    /// `invokeTCB_NotificationControl` (bind).
    pub fn invoke_tcb_bind_notification(ctx: Kernel; objects: &mut ObjectStore, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let (Some(t), Some(&(Cap::Notification { ptr, .. }, _))) = (target(invocation), invocation.extra_caps.first()) {
            crate::notification::bind_notification(objects, t, ptr);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeUnbindNotification`: the TCB must have a bound notification.
    pub fn decode_unbind_notification(ctx: Kernel; objects: &ObjectStore, invocation: &Invocation) {
        match target(invocation).map(|t| objects.tcb(t)) {
            Some(x) if x.bound_notification.is_some() => Next::Goto(&INVOKE_TCB_UNBIND_NOTIFICATION),
            _ => Next::Fail(SyscallError::IllegalOperation),
        }
    }
}

gears::code_gear! {
    /// `invokeTCB_NotificationControl` (unbind).
    pub fn invoke_tcb_unbind_notification(ctx: Kernel; objects: &mut ObjectStore, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let Some(t) = target(invocation) {
            crate::notification::unbind_notification(objects, t);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}
