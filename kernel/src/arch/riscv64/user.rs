//! User mode: entering U-mode from a [`UserContext`] and coming back on any trap.
//!
//! As on x86_64, [`run_user`] returns at every kernel entry from the user (ecall, exception,
//! interrupt) with the cause; resuming is calling it again. System calls follow seL4's RISC-V
//! convention: number in a7, capability in a0, MessageInfo in a1, message registers 0–3 in
//! a2–a5; the reply comes back in a0 (badge), a1 (MessageInfo) and a2–a5.

use core::arch::{asm, global_asm};

use super::paging::USER_END;
use super::trap::{IRQ_S_EXTERNAL, IRQ_S_TIMER, SCAUSE_INTERRUPT, cause_name};
/// The registers of `seL4_UserContext` on this arch: the first words of a TCB's register file.
pub const REGISTER_COUNT: usize = abi::riscv64::REGISTER_COUNT;

use crate::arch::{FaultKind, Irq, Trap, UserFault};

/// A user thread's saved registers: x1–x31, the pc, and what the trap entry records.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserContext {
    /// x1..x31 (`regs[n - 1]` is `xn`).
    pub regs: [u64; 31],
    /// The user pc (sepc): the trapping instruction, or where to resume.
    pub pc: u64,
    /// The kernel stack pointer while the user runs (set by the entry code).
    pub kernel_sp: u64,
    /// scause of the last trap.
    pub scause: u64,
    /// stval of the last trap (the faulting address for page faults).
    pub stval: u64,
    /// f0–f31 and fcsr, loaded before the thread runs and saved when it leaves having used
    /// them (sstatus.FS Dirty): threads do not see each other's.
    pub fpu: FpuState,
    /// The thread runs with the FPU off (TCB SetFlags' `fpuDisabled`): sstatus.FS Off, so a
    /// floating-point instruction is an illegal instruction, a user exception.
    pub fpu_disabled: bool,
}

/// The floating-point registers of a user thread (fcsr at byte 256, as the assembly expects).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FpuState {
    /// f0–f31.
    pub f: [u64; 32],
    /// fcsr.
    pub fcsr: u64,
}
const _: () = assert!(core::mem::offset_of!(FpuState, fcsr) == 256);

/// Offsets into [`UserContext`] used by the assembly.
pub const CTX_PC: usize = 248;
/// Offset of `kernel_sp`.
pub const CTX_KERNEL_SP: usize = 256;
/// Offset of `scause`.
pub const CTX_SCAUSE: usize = 264;
/// Offset of `stval`.
pub const CTX_STVAL: usize = 272;
const _: () = assert!(core::mem::offset_of!(UserContext, pc) == CTX_PC);
const _: () = assert!(core::mem::offset_of!(UserContext, kernel_sp) == CTX_KERNEL_SP);
const _: () = assert!(core::mem::offset_of!(UserContext, scause) == CTX_SCAUSE);
const _: () = assert!(core::mem::offset_of!(UserContext, stval) == CTX_STVAL);

/// The `x` register behind each `seL4_UserContext` word after pc: ra, sp, gp, s0, s1,
/// s2 … s11, a0 … a7, t0 … t2, t3 … t6, tp.
const SEL4_ORDER: [usize; 31] = [
    1, 2, 3, 8, 9, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 10, 11, 12, 13, 14, 15, 16, 17, 5, 6, 7, 28, 29,
    30, 31, 4,
];
const _: () = assert!(abi::riscv64::REGISTER_COUNT == SEL4_ORDER.len() + 1);

const SP: usize = 1; // x2
const A0: usize = 9; // x10

impl UserContext {
    /// A context that starts at `entry` with stack pointer `stack_top`.
    pub fn new(entry: u64, stack_top: u64) -> Self {
        let mut ctx = UserContext { pc: entry, ..UserContext::default() };
        ctx.regs[SP] = stack_top;
        ctx
    }

    /// The instruction pointer.
    pub fn ip(&self) -> u64 {
        self.pc
    }

    /// Moves the instruction pointer (e.g. back to the `ecall` to restart it).
    pub fn set_ip(&mut self, ip: u64) {
        self.pc = ip;
    }

    /// The registers in `seL4_UserContext` order (`abi::riscv64::UserContext`: pc, ra, sp, gp,
    /// s0 … s11, a0 … a7, t0 … t6, tp), as the capability kernel's TCB keeps them.
    pub fn sel4_registers(&self) -> [u64; REGISTER_COUNT] {
        let mut out = [0; REGISTER_COUNT];
        out[0] = self.pc;
        for (i, &x) in SEL4_ORDER.iter().enumerate() {
            out[i + 1] = self.regs[x - 1];
        }
        out
    }

    /// Sets the registers from `seL4_UserContext` order (see [`Self::sel4_registers`]).
    pub fn set_sel4_registers(&mut self, v: &[u64; REGISTER_COUNT]) {
        self.pc = v[0];
        for (i, &x) in SEL4_ORDER.iter().enumerate() {
            self.regs[x - 1] = v[i + 1];
        }
    }

    /// Sets a thread's first four arguments at its entry point (the C calling convention).
    pub fn set_entry_args(&mut self, args: [u64; 4]) {
        self.regs[A0..A0 + 4].copy_from_slice(&args);
    }
}

global_asm!(
    ".pushsection .text.trap, \"ax\"",
    ".p2align 2",
    ".global gears_enter_user",
    "gears_enter_user:",
    // Save the kernel's callee-saved registers; the trap entry restores them and returns.
    "addi sp, sp, -112",
    "sd ra, 0(sp)",
    "sd s0, 8(sp)", "sd s1, 16(sp)", "sd s2, 24(sp)", "sd s3, 32(sp)", "sd s4, 40(sp)",
    "sd s5, 48(sp)", "sd s6, 56(sp)", "sd s7, 64(sp)", "sd s8, 72(sp)", "sd s9, 80(sp)",
    "sd s10, 88(sp)", "sd s11, 96(sp)",
    "sd sp, {kernel_sp}(a0)",
    "csrw sscratch, a0",
    "ld t0, {pc}(a0)",
    "csrw sepc, t0",
    // sret to U-mode (SPP = 0) with interrupts on there (SPIE = 1).
    "li t0, 1 << 8",
    "csrc sstatus, t0",
    "li t0, 1 << 5",
    "csrs sstatus, t0",
    "fence.i",
    "ld x1, 0(a0)", "ld x2, 8(a0)",
    "ld x3, 16(a0)", "ld x4, 24(a0)", "ld x5, 32(a0)", "ld x6, 40(a0)", "ld x7, 48(a0)",
    "ld x8, 56(a0)", "ld x9, 64(a0)", "ld x11, 80(a0)", "ld x12, 88(a0)",
    "ld x13, 96(a0)", "ld x14, 104(a0)", "ld x15, 112(a0)", "ld x16, 120(a0)", "ld x17, 128(a0)",
    "ld x18, 136(a0)", "ld x19, 144(a0)", "ld x20, 152(a0)", "ld x21, 160(a0)", "ld x22, 168(a0)",
    "ld x23, 176(a0)", "ld x24, 184(a0)", "ld x25, 192(a0)", "ld x26, 200(a0)", "ld x27, 208(a0)",
    "ld x28, 216(a0)", "ld x29, 224(a0)", "ld x30, 232(a0)", "ld x31, 240(a0)",
    "ld x10, 72(a0)",
    "sret",
    ".popsection",
    kernel_sp = const CTX_KERNEL_SP,
    pc = const CTX_PC,
);

unsafe extern "C" {
    /// Saves the kernel's callee-saved registers, enters U-mode from `ctx`, and returns when
    /// the trap entry has saved the user's state into `ctx`.
    fn gears_enter_user(ctx: *mut UserContext);
}

/// Runs `ctx` in U-mode until the next kernel entry, and says why it stopped.
///
/// Interrupts must be disabled in S-mode (they are always taken in U-mode). A context whose pc
/// is not a user address (one in the lower half) is not entered: it gets an access fault.
pub fn run_user(ctx: &mut UserContext) -> Trap {
    if ctx.pc >= USER_END {
        return Trap::Fault(UserFault {
            kind: FaultKind::PageFault,
            ip: ctx.pc,
            addr: ctx.pc,
            vector: 1,
            code: 0,
        });
    }
    if !ctx.fpu_disabled {
        fpu_restore(&ctx.fpu);
    }
    loop {
        // The kernel's own code uses the f registers (its ABI is hard-float): FS is Off only
        // while a thread whose FPU is off runs in user mode.
        if ctx.fpu_disabled {
            fpu_set(FS_OFF);
        }
        // SAFETY: S-mode interrupts are off (the caller's contract) so nothing runs between the
        // sscratch write and `sret`; `ctx` is exclusively borrowed for the whole call; the pc is
        // a user address (checked above) and SPP = 0, so the hart leaves S-mode; the trap entry
        // writes the context and returns here through the saved kernel stack.
        unsafe { gears_enter_user(ctx) };
        if ctx.fpu_disabled {
            fpu_set(FS_CLEAN);
        } else {
            fpu_save(&mut ctx.fpu);
        }
        // A spurious external interrupt (nothing to claim) just resumes the user.
        if let Some(trap) = classify(ctx) {
            return trap;
        }
    }
}

/// sstatus.FS: the floating-point unit's state (Off 0, Initial 1, Clean 2, Dirty 3).
const SSTATUS_FS: u64 = 3 << 13;
const FS_CLEAN: u64 = 2 << 13;
const FS_OFF: u64 = 0;

/// Loads f0–f31 and fcsr from `fpu` and leaves sstatus.FS Clean: enabled for the user, and
/// Dirty again only if it writes a floating-point register.
fn fpu_restore(fpu: &FpuState) {
    let p = core::ptr::from_ref(fpu);
    // SAFETY: FS is set to Clean first, so the loads are legal; they read the 33 words of `fpu`;
    // every f register and fcsr are declared clobbered (the kernel keeps nothing in them).
    unsafe {
        asm!(
            "csrc sstatus, {fs}",
            "csrs sstatus, {clean}",
            ".option push",
            ".option arch, +d",
            ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "fld f\\n, \\n*8({p})",
            ".endr",
            "ld {t}, 256({p})",
            "fscsr {t}",
            ".option pop",
            "csrc sstatus, {fs}",
            "csrs sstatus, {clean}",
            p = in(reg) p,
            t = out(reg) _,
            fs = in(reg) SSTATUS_FS,
            clean = in(reg) FS_CLEAN,
            out("f0") _, out("f1") _, out("f2") _, out("f3") _, out("f4") _, out("f5") _, out("f6") _, out("f7") _,
            out("f8") _, out("f9") _, out("f10") _, out("f11") _, out("f12") _, out("f13") _, out("f14") _, out("f15") _,
            out("f16") _, out("f17") _, out("f18") _, out("f19") _, out("f20") _, out("f21") _, out("f22") _, out("f23") _,
            out("f24") _, out("f25") _, out("f26") _, out("f27") _, out("f28") _, out("f29") _, out("f30") _, out("f31") _,
            options(nostack, readonly),
        );
    }
}

/// Sets sstatus.FS: Off before a thread whose FPU is off runs (it can then neither read nor
/// write a floating-point register), Clean again when it has left.
fn fpu_set(state: u64) {
    // SAFETY: changes only the FS field of sstatus; the kernel keeps nothing in the f registers
    // across a return to user mode.
    unsafe {
        asm!("csrc sstatus, {fs}", "csrs sstatus, {state}", fs = in(reg) SSTATUS_FS, state = in(reg) state, options(nomem, nostack))
    };
}

/// Saves f0–f31 and fcsr into `fpu` if the user wrote any of them (sstatus.FS Dirty).
fn fpu_save(fpu: &mut FpuState) {
    let sstatus: u64;
    // SAFETY: reads sstatus; no side effects.
    unsafe { asm!("csrr {0}, sstatus", out(reg) sstatus, options(nomem, nostack)) };
    if sstatus & SSTATUS_FS != SSTATUS_FS {
        return;
    }
    let p = core::ptr::from_mut(fpu);
    // SAFETY: FS is Dirty, so the stores are legal; they write the 33 words of `fpu`, which is
    // exclusively borrowed; FS goes back to Clean (the registers now match the saved copy).
    unsafe {
        asm!(
            ".option push",
            ".option arch, +d",
            ".irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31",
            "fsd f\\n, \\n*8({p})",
            ".endr",
            "frcsr {t}",
            ".option pop",
            "sd {t}, 256({p})",
            "csrc sstatus, {fs}",
            "csrs sstatus, {clean}",
            p = in(reg) p,
            t = out(reg) _,
            fs = in(reg) SSTATUS_FS,
            clean = in(reg) FS_CLEAN,
            options(nostack),
        );
    }
}

/// Why the user stopped; `None` for a spurious external interrupt.
fn classify(ctx: &mut UserContext) -> Option<Trap> {
    let cause = ctx.scause;
    if cause & SCAUSE_INTERRUPT != 0 {
        let code = cause & !SCAUSE_INTERRUPT;
        if code == IRQ_S_TIMER {
            super::timer::on_tick();
            return Some(Trap::Interrupt(Irq::Timer));
        }
        if code == IRQ_S_EXTERNAL {
            // Claimed, masked and completed: the line stays masked until the kernel unmasks it.
            return super::plic::claim().map(|line| Trap::Interrupt(Irq::Other(line)));
        }
        // Software interrupts are never enabled; report any other cause as it is.
        return Some(Trap::Interrupt(Irq::Other(code as u32)));
    }
    if cause == 8 {
        // Resume after the ecall (seL4's NextIP); a restart moves the pc back to it.
        ctx.pc += abi::riscv64::syscall::INSTRUCTION_LEN;
        return Some(Trap::Syscall);
    }
    let kind = match cause {
        1 | 5 | 7 | 12 | 13 | 15 => FaultKind::PageFault,
        2 => FaultKind::IllegalInstruction,
        3 => FaultKind::Debug,
        _ => FaultKind::Other,
    };
    let addr = if kind == FaultKind::PageFault { ctx.stval } else { 0 };
    // seL4's FSR of a VMFault (`handleVMFault`): the access-fault cause of the kind of access,
    // for a page fault and an access fault alike.
    let code = match cause {
        5 | 13 => 5,
        7 | 15 => 7,
        1 | 12 => 1,
        _ => 0,
    };
    Some(Trap::Fault(UserFault { kind, ip: ctx.pc, addr, vector: cause, code }))
}

/// The name of the exception behind a user fault, for reports.
pub fn fault_name(fault: &UserFault) -> &'static str {
    cause_name(fault.vector)
}

/// Whether a page fault was an instruction fetch (scause 12, instruction page fault, or 1,
/// instruction access fault).
pub fn fault_is_fetch(fault: &UserFault) -> bool {
    fault.vector == 12 || fault.vector == 1
}
