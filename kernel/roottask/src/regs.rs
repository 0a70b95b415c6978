//! Starting a thread where the root task wants it: the `seL4_UserContext` indices of the stack
//! pointer and the first argument registers, and TCB WriteRegisters with resume.

use crate::sel4::call;

use abi::label::tcb::WRITE_REGISTERS as TCB_WRITE_REGISTERS;

/// `seL4_UserContext` indices: the stack pointer and a thread's first two arguments (the
/// instruction pointer is index 0 on both arches).
#[cfg(target_arch = "x86_64")]
mod arch {
    use abi::x86_64::reg;
    pub const REGISTER_COUNT: usize = abi::x86_64::REGISTER_COUNT;
    pub const SP: usize = reg::RSP;
    pub const ARGS: [usize; 2] = [reg::RDI, reg::RSI];
    /// How far below its stack top a thread starts (as after a call).
    pub const STACK_BIAS: u64 = 8;
}

#[cfg(target_arch = "riscv64")]
mod arch {
    use abi::riscv64::reg;
    pub const REGISTER_COUNT: usize = abi::riscv64::REGISTER_COUNT;
    pub const SP: usize = reg::SP;
    pub const ARGS: [usize; 2] = [reg::A0, reg::A1];
    /// How far below its stack top a thread starts.
    pub const STACK_BIAS: u64 = 0;
}

use arch::{ARGS, REGISTER_COUNT, SP, STACK_BIAS};

/// TCB WriteRegisters with resume: the thread starts at `entry` with its stack pointer below
/// `stack_top` (as after a call), `args` in its first argument registers and every other
/// register zero (nothing it had before survives: a flag such as x86_64's DF set by an earlier
/// run would break the code it starts). Returns the label.
pub fn resume_at(tcb: u64, entry: u64, stack_top: u64, args: &[u64]) -> u64 {
    let n = REGISTER_COUNT;
    let mut regs = [0u64; 2 + REGISTER_COUNT];
    regs[0] = abi::tcb::WRITE_REGISTERS_RESUME;
    regs[1] = n as u64;
    regs[2] = entry;
    regs[2 + SP] = stack_top - STACK_BIAS;
    for (&reg, &value) in ARGS.iter().zip(args) {
        regs[2 + reg] = value;
    }
    call(tcb, TCB_WRITE_REGISTERS, &regs[..2 + n], &[]).label
}
