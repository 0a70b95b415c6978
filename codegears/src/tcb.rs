//! TCB invocations as gears, after seL4's `src/object/tcb.c`: ReadRegisters and WriteRegisters
//! (the call path `seL4_TCB_ReadRegisters` takes through the kernel).

use gears::Next;

use crate::cap::{Cap, ObjPtr};
use crate::error::SyscallError;
use crate::kernel::{Invocation, Kernel, ReplyMsg, Request, label};
use crate::lookup::set_restart;
use crate::object::{N_REGISTERS, ObjectStore, ThreadState};
use crate::syscall::MessageInfo;

/// `n_frameRegisters` (x86_64).
pub const N_FRAME_REGISTERS: u64 = 18;
/// `n_gpRegisters` (x86_64).
pub const N_GP_REGISTERS: u64 = 2;
/// Flag bit of ReadRegisters: suspend the source first (`ReadRegisters_suspend`).
pub const READ_REGISTERS_SUSPEND: u64 = 1;
/// Flag bit of WriteRegisters: resume the target after (`WriteRegisters_resume`).
pub const WRITE_REGISTERS_RESUME: u64 = 1;

fn mr(request: &Request, i: usize) -> u64 {
    request.mrs.get(i).copied().unwrap_or(0)
}

fn target(invocation: &Invocation) -> Option<ObjPtr> {
    match invocation.invoked {
        Some((Cap::Thread { ptr }, _)) => Some(ptr),
        _ => None,
    }
}

gears::code_gear! {
    /// `decodeTCBInvocation`: dispatch on the label.
    pub fn decode_tcb_invocation(ctx: Kernel; request: &Request) {
        match request.label {
            label::TCB_READ_REGISTERS => Next::Goto(&DECODE_READ_REGISTERS),
            label::TCB_WRITE_REGISTERS => Next::Goto(&DECODE_WRITE_REGISTERS),
            // The other TCB invocations (Configure, SetSpace, Suspend, …) arrive later.
            _ => Next::Fail(SyscallError::IllegalOperation),
        }
    }
}

gears::code_gear! {
    /// `decodeReadRegisters`: length, count range, not our own registers.
    pub fn decode_read_registers(ctx: Kernel; request: &Request, invocation: &Invocation) {
        if request.mrs.len() < 2 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let n = mr(request, 1);
        if !(1..=N_FRAME_REGISTERS + N_GP_REGISTERS).contains(&n) {
            return Next::Fail(SyscallError::RangeError { min: 1, max: N_FRAME_REGISTERS + N_GP_REGISTERS });
        }
        if target(invocation) == Some(request.thread) {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        Next::Goto(&INVOKE_TCB_READ_REGISTERS)
    }
}

gears::code_gear! {
    /// `invokeTCB_ReadRegisters`: optionally suspend the source, then reply with its first `n`
    /// registers (frame registers, then general-purpose ones) if the caller waits.
    pub fn invoke_tcb_read_registers(ctx: Kernel; objects: &mut ObjectStore, request: &Request, invocation: &Invocation, reply: &mut ReplyMsg) {
        set_restart(objects, request.thread);
        let n = (mr(request, 1) as usize).min(N_REGISTERS);
        let Some(src) = target(invocation) else { return Next::Fail(SyscallError::InvalidCapability { cap: 0 }) };
        if mr(request, 0) & READ_REGISTERS_SUSPEND != 0
            && let Some(t) = objects.tcb_mut(src)
        {
            t.state = ThreadState::Inactive;
        }
        if request.is_call {
            let regs = objects.tcb_mut(src).map(|t| t.registers).unwrap_or([0; N_REGISTERS]);
            *reply = ReplyMsg { info: MessageInfo::new(0, 0, 0, n as u64).to_word(), mrs: regs[..n].to_vec() };
        }
        if let Some(t) = objects.tcb_mut(request.thread) {
            t.state = ThreadState::Running;
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeWriteRegisters`: length covers the `w` values, not our own registers.
    pub fn decode_write_registers(ctx: Kernel; request: &Request, invocation: &Invocation) {
        if request.mrs.len() < 2 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let w = mr(request, 1);
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
    /// `invokeTCB_WriteRegisters`: write the first `min(w, 20)` registers, optionally restart the
    /// target. (seL4's `sanitiseRegister` on rflags and the segment bases is not modelled.)
    pub fn invoke_tcb_write_registers(ctx: Kernel; objects: &mut ObjectStore, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let n = (mr(request, 1) as usize).min(N_REGISTERS);
        let resume = mr(request, 0) & WRITE_REGISTERS_RESUME != 0;
        if let Some(dest) = target(invocation)
            && let Some(t) = objects.tcb_mut(dest)
        {
            for (i, r) in t.registers.iter_mut().enumerate().take(n) {
                *r = mr(request, i + 2);
            }
            if resume {
                t.state = ThreadState::Restart;
            }
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}
