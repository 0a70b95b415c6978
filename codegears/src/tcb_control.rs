//! More TCB invocations, after seL4's `src/object/tcb.c`: SetSchedParams (priority and MCP at
//! once), CopyRegisters, SetIPCBuffer (the buffer's address and its frame cap, installed in the
//! TCB's buffer slot after the old one is deleted through the delete gears), and Configure
//! (fault handler, CSpace root and buffer in one invocation).

use gears::Next;

use crate::arch::Arch;
use crate::cap::{Cap, SlotRef};
use crate::cdt::derive_cap;
use crate::cspace::CSpace;
use crate::error::SyscallError;
use crate::kernel::{DeleteCursor, Invocation, Kernel, Request, tcb_slot};
use crate::lookup::set_restart;
use crate::mem::PhysMem;
use crate::message::{lookup_ipc_buffer, set_message};
use crate::object::ObjectStore;
use crate::tcb::{check_cap_at_and_insert, target};
use crate::thread::{Scheduler, restart, set_priority, suspend};

/// `slotCapLongRunningDelete` of the CSpace or VSpace slot of TCB `t`: deleting its cap could
/// take long (the last cap of a CNode or TCB, or a Zombie), so SetSpace and Configure refuse
/// to replace it.
pub(crate) fn space_being_deleted(cspace: &CSpace, t: crate::cap::ObjPtr) -> bool {
    [tcb_slot::CTABLE, tcb_slot::VTABLE].into_iter().any(|i| {
        let slot = SlotRef::of(t, i);
        matches!(cspace.cap(slot), Cap::Thread { .. } | Cap::Zombie { .. } | Cap::CNode { .. })
            && crate::cdt::is_final_capability(cspace, slot)
    })
}

/// `seL4_IPCBufferSizeBits`: the IPC buffer's alignment.
pub const IPC_BUFFER_SIZE_BITS: u64 = abi::object::bits::IPC_BUFFER as u64;

gears::code_gear! {
    /// `decodeSetSchedParams` (non-MCS): MCP in MR0, priority in MR1, an authority TCB as extra
    /// cap 0 whose MCP bounds both (`checkPrio`).
    pub fn decode_set_sched_params(ctx: Kernel; objects: &ObjectStore, request: &Request, invocation: &Invocation) {
        if request.mrs.len() < 2 || invocation.extra_caps.is_empty() {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let Some(&(Cap::Thread { ptr: auth }, _)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::InvalidCapability { cap: 1 });
        };
        let mcp = objects.tcb(auth).mcp as u64;
        if request.mr(0) > mcp || request.mr(1) > mcp {
            return Next::Fail(SyscallError::RangeError { min: 0, max: mcp });
        }
        Next::Goto(&INVOKE_TCB_SET_SCHED_PARAMS)
    }
}

gears::code_gear! {
    /// `invokeTCB_ThreadControl` for the MCP and the priority.
    pub fn invoke_tcb_set_sched_params(ctx: Kernel; objects: &mut ObjectStore, sched: &mut Scheduler, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let Some(t) = target(invocation) {
            { let mut tcb = objects.tcb_mut(t);
                tcb.mcp = request.mr(0) as u8;
            }
            set_priority(objects, sched, t, request.mr(1) as u8);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeCopyRegisters`: flags in MR0, the source TCB as extra cap 0.
    pub fn decode_copy_registers(ctx: Kernel; request: &Request, invocation: &Invocation) {
        if request.mrs.is_empty() || invocation.extra_caps.is_empty() {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        match invocation.extra_caps.first() {
            Some(&(Cap::Thread { .. }, _)) => Next::Goto(&INVOKE_TCB_COPY_REGISTERS),
            _ => Next::Fail(SyscallError::InvalidCapability { cap: 1 }),
        }
    }
}

gears::code_gear! {
    /// `invokeTCB_CopyRegisters`: optionally suspend the source and restart the target; copy the
    /// frame and/or integer registers.
    pub fn invoke_tcb_copy_registers(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, sched: &mut Scheduler, arch: &Arch, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let flags = request.mr(0);
        let (Some(dest), Some(&(Cap::Thread { ptr: src }, _))) = (target(invocation), invocation.extra_caps.first()) else {
            return Next::Goto(&crate::lookup::INVOCATION_DONE);
        };
        if flags & abi::tcb::COPY_SUSPEND_SOURCE != 0 {
            suspend(cspace, objects, sched, src);
        }
        if flags & abi::tcb::COPY_RESUME_TARGET != 0 {
            restart(cspace, objects, sched, dest);
        }
        let from = objects.tcb(src).registers;
        { let mut t = objects.tcb_mut(dest);
            let (frame, all) = (arch.frame_registers(), arch.register_count());
            if flags & abi::tcb::COPY_TRANSFER_FRAME != 0 {
                t.registers[..frame].copy_from_slice(&from[..frame]);
                t.next_ip = t.registers[arch.ip_register()];
            }
            if flags & abi::tcb::COPY_TRANSFER_INTEGER != 0 {
                t.registers[frame..all].copy_from_slice(&from[frame..all]);
            }
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeSetIPCBuffer`: the buffer's address in MR0, its frame as extra cap 0. Address 0
    /// removes the buffer; otherwise the derived cap must be a non-device frame
    /// (IllegalOperation) and the address aligned to 2^10 (AlignmentError), `checkValidIPCBuffer`.
    pub fn decode_set_ipc_buffer(ctx: Kernel; cspace: &CSpace, request: &Request, invocation: &mut Invocation) {
        if request.mrs.is_empty() || invocation.extra_caps.is_empty() {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let addr = request.mr(0);
        let (cap, slot) = invocation.extra_caps[0];
        if addr == 0 {
            invocation.new_cap = Cap::Null;
            invocation.src = None;
            return Next::Goto(&INVOKE_TCB_SET_IPC_BUFFER);
        }
        match check_valid_ipc_buffer(cspace, addr, cap, slot) {
            Ok(derived) => {
                invocation.new_cap = derived;
                invocation.src = Some(slot);
                Next::Goto(&INVOKE_TCB_SET_IPC_BUFFER)
            }
            Err(e) => Next::Fail(e),
        }
    }
}

/// The buffer frame cap for IPC buffer address `addr` (non-zero), derived from `cap` in `slot`:
/// it must be a non-device frame (IllegalOperation) and `addr` aligned to 2^10 (AlignmentError),
/// seL4's `checkValidIPCBuffer` after `deriveCap`. Shared by SetIPCBuffer and Configure.
fn check_valid_ipc_buffer(cspace: &CSpace, addr: u64, cap: Cap, slot: SlotRef) -> Result<Cap, SyscallError> {
    let derived = derive_cap(cspace, slot, &cap)?;
    if !matches!(derived, Cap::Frame { is_device: false, .. }) {
        return Err(SyscallError::IllegalOperation);
    }
    if addr & crate::cap::mask(IPC_BUFFER_SIZE_BITS) != 0 {
        return Err(SyscallError::AlignmentError);
    }
    Ok(derived)
}

gears::code_gear! {
    /// `invokeTCB_ThreadControl` for the buffer: delete the old buffer cap (the delete gears),
    /// set the address, then insert the new frame cap.
    pub fn invoke_tcb_set_ipc_buffer(ctx: Kernel; objects: &mut ObjectStore, request: &Request, invocation: &Invocation, delete: &mut DeleteCursor) {
        set_restart(objects, request.thread);
        let Some(t) = target(invocation) else { return Next::Goto(&crate::lookup::INVOCATION_DONE) };
        { let mut tcb = objects.tcb_mut(t);
            tcb.ipc_buffer_ptr = request.mr(0);
        }
        *delete = DeleteCursor { slot: Some(SlotRef::of(t, tcb_slot::BUFFER)), inner: None, ret: Some(&TCB_SET_IPC_BUFFER_INSERT) };
        Next::Goto(&crate::delete::CTE_DELETE)
    }
}

gears::code_gear! {
    /// The old buffer cap is gone: insert the new frame cap if its source still holds it.
    pub fn tcb_set_ipc_buffer_insert(ctx: Kernel; cspace: &mut CSpace, invocation: &Invocation) {
        if let Some(t) = target(invocation) {
            check_cap_at_and_insert(cspace, invocation.new_cap, invocation.src, SlotRef::of(t, tcb_slot::BUFFER));
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeTCBConfigure` (non-MCS): fault endpoint cptr, CSpace root data, VSpace root data and
    /// IPC buffer address in MR0..3; the CSpace root, the VSpace root and the buffer frame as extra
    /// caps 0..2. In seL4's order: the buffer as SetIPCBuffer checks it, the target's own
    /// CSpace and VSpace slots not in a long-running delete, then the CSpace and VSpace roots as
    /// SetSpace checks them. The new CSpace root goes in the invocation's `new_cap`/`src`, the
    /// VSpace root in `vroot`, the buffer frame in `buffer`.
    pub fn decode_tcb_configure(ctx: Kernel; cspace: &CSpace, arch: &Arch, request: &Request, invocation: &mut Invocation) {
        if request.mrs.len() < 4 || invocation.extra_caps.len() < 3 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let addr = request.mr(3);
        let (frame_cap, frame_slot) = invocation.extra_caps[2];
        let frame = if addr == 0 {
            None
        } else {
            match check_valid_ipc_buffer(cspace, addr, frame_cap, frame_slot) {
                Ok(derived) => Some((derived, frame_slot)),
                Err(e) => return Next::Fail(e),
            }
        };
        if let Some(t) = target(invocation)
            && space_being_deleted(cspace, t)
        {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let (root_cap, root_slot) = invocation.extra_caps[0];
        let data = request.mr(1);
        let root = if data != 0 { crate::cap::update_cap_data(false, data, &root_cap) } else { root_cap };
        let root = match derive_cap(cspace, root_slot, &root) {
            Ok(c) => c,
            Err(e) => return Next::Fail(e),
        };
        if !matches!(root, Cap::CNode { .. }) {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let vroot = match crate::tcb::decode_vroot(cspace, *arch, request.mr(2), invocation.extra_caps[1]) {
            Ok(v) => v,
            Err(e) => return Next::Fail(e),
        };
        invocation.new_cap = root;
        invocation.src = Some(root_slot);
        invocation.vroot = Some(vroot);
        invocation.buffer = frame;
        Next::Goto(&INVOKE_TCB_CONFIGURE)
    }
}

gears::code_gear! {
    /// `invokeTCB_ThreadControl` for Configure: the fault handler and the buffer address, then
    /// the old CSpace root deleted (the delete gears) and the new one inserted
    /// ([`TCB_SET_SPACE_INSERT`](crate::tcb::TCB_SET_SPACE_INSERT) is not reused: the chain goes on
    /// to the buffer).
    pub fn invoke_tcb_configure(ctx: Kernel; objects: &mut ObjectStore, request: &Request, invocation: &Invocation, delete: &mut DeleteCursor) {
        set_restart(objects, request.thread);
        let Some(t) = target(invocation) else { return Next::Goto(&crate::lookup::INVOCATION_DONE) };
        { let mut tcb = objects.tcb_mut(t);
            tcb.fault_handler = request.mr(0);
            tcb.ipc_buffer_ptr = request.mr(3);
        }
        *delete = DeleteCursor { slot: Some(SlotRef::of(t, tcb_slot::CTABLE)), inner: None, ret: Some(&TCB_CONFIGURE_CSPACE_INSERT) };
        Next::Goto(&crate::delete::CTE_DELETE)
    }
}

gears::code_gear! {
    /// Configure: the old CSpace root is gone; insert the new one (if its source still holds
    /// it), then delete the old VSpace root.
    pub fn tcb_configure_cspace_insert(ctx: Kernel; cspace: &mut CSpace, invocation: &Invocation, delete: &mut DeleteCursor) {
        let Some(t) = target(invocation) else { return Next::Goto(&crate::lookup::INVOCATION_DONE) };
        check_cap_at_and_insert(cspace, invocation.new_cap, invocation.src, SlotRef::of(t, tcb_slot::CTABLE));
        *delete = DeleteCursor { slot: Some(SlotRef::of(t, tcb_slot::VTABLE)), inner: None, ret: Some(&TCB_CONFIGURE_VSPACE_INSERT) };
        Next::Goto(&crate::delete::CTE_DELETE)
    }
}

gears::code_gear! {
    /// Configure: the old VSpace root is gone; insert the new one (if its source still holds
    /// it), then delete the old buffer cap.
    pub fn tcb_configure_vspace_insert(ctx: Kernel; cspace: &mut CSpace, invocation: &Invocation, delete: &mut DeleteCursor) {
        let Some(t) = target(invocation) else { return Next::Goto(&crate::lookup::INVOCATION_DONE) };
        if let Some((cap, src)) = invocation.vroot {
            check_cap_at_and_insert(cspace, cap, Some(src), SlotRef::of(t, tcb_slot::VTABLE));
        }
        *delete = DeleteCursor { slot: Some(SlotRef::of(t, tcb_slot::BUFFER)), inner: None, ret: Some(&TCB_CONFIGURE_BUFFER_INSERT) };
        Next::Goto(&crate::delete::CTE_DELETE)
    }
}

gears::code_gear! {
    /// Configure: the old buffer cap is gone; insert the new frame cap (if any, and its source
    /// still holds it).
    pub fn tcb_configure_buffer_insert(ctx: Kernel; cspace: &mut CSpace, invocation: &Invocation) {
        if let (Some(t), Some((cap, src))) = (target(invocation), invocation.buffer) {
            check_cap_at_and_insert(cspace, cap, Some(src), SlotRef::of(t, tcb_slot::BUFFER));
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeSetTLSBase`: the new TLS base in MR0.
    pub fn decode_set_tls_base(ctx: Kernel; request: &Request) {
        if request.mrs.is_empty() {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        Next::Goto(&INVOKE_TCB_SET_TLS_BASE)
    }
}

gears::code_gear! {
    /// `invokeSetTLSBase`: the thread's TLS register (x86_64's FS base, riscv64's tp), loaded
    /// when it next runs (the driver loads every register from the TCB at each switch, so the
    /// current thread needs no reschedule).
    pub fn invoke_tcb_set_tls_base(ctx: Kernel; objects: &mut ObjectStore, arch: &Arch, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        if let Some(t) = target(invocation) {
            objects.set_register(t, arch.tls_register(), request.mr(0));
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeSetFlags`: the flags to clear in MR0, those to set in MR1.
    pub fn decode_set_flags(ctx: Kernel; request: &Request) {
        if request.mrs.len() < 2 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        Next::Goto(&INVOKE_TCB_SET_FLAGS)
    }
}

gears::code_gear! {
    /// `invokeSetFlags`: the thread's flags lose MR0's and gain MR1's (within
    /// `seL4_TCBFlag_MASK`); a Call is answered with the new flags in MR0.
    pub fn invoke_tcb_set_flags(ctx: Kernel; cspace: &CSpace, objects: &mut ObjectStore, mem: &mut PhysMem, arch: &Arch, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let Some(t) = target(invocation) else { return Next::Goto(&crate::lookup::INVOCATION_DONE) };
        let flags = (objects.tcb(t).flags & !request.mr(0)) | (request.mr(1) & abi::tcb::FLAGS_MASK);
        objects.tcb_mut(t).flags = flags;
        if request.is_call {
            let buffer = lookup_ipc_buffer(cspace, objects, request.thread, true);
            set_message(objects, mem, *arch, request.thread, buffer, 0, 0, &[flags]);
        }
        crate::lookup::end_restart(objects, request.thread);
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeDomainInvocation`: only DomainSetSet is served (a domain below
    /// [`NUM_DOMAINS`] in MR0, a thread cap as extra cap 0); the domain schedule invocations are
    /// IllegalOperation, as is any other label.
    pub fn decode_domain_invocation(ctx: Kernel; request: &Request, invocation: &Invocation) {
        if request.label != abi::label::domain_set::SET {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        if request.mrs.is_empty() {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        if request.mr(0) >= NUM_DOMAINS {
            return Next::Fail(SyscallError::InvalidArgument { arg: 0 });
        }
        match invocation.extra_caps.first() {
            None => Next::Fail(SyscallError::TruncatedMessage),
            Some((Cap::Thread { .. }, _)) => Next::Goto(&INVOKE_DOMAIN_SET_SET),
            Some(_) => Next::Fail(SyscallError::InvalidArgument { arg: 1 }),
        }
    }
}

gears::code_gear! {
    /// `invokeDomainSetSet`: the thread's domain. With one domain every thread is in domain 0
    /// already, so nothing changes.
    pub fn invoke_domain_set_set(ctx: Kernel; objects: &mut ObjectStore, request: &Request) {
        set_restart(objects, request.thread);
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

/// `CONFIG_NUM_DOMAINS`: Gears schedules one domain.
pub const NUM_DOMAINS: u64 = 1;
