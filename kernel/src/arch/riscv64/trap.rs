//! The trap vector (`stvec`, direct mode) for traps from S-mode and from U-mode.
//!
//! `sscratch` tells them apart: it is 0 while the kernel runs and holds the running
//! `UserContext`'s address while user code runs. The entry swaps it with `sp`: 0 means a kernel
//! trap (swap back, save the caller-saved registers on the kernel stack, call [`kernel_trap`],
//! `sret`); anything else is the context, into which the user's registers are saved before
//! returning to the kernel code that called `run_user` (see `user`).

use core::arch::{asm, global_asm};

use super::boot::STACK_GUARD_SIZE;
use super::user::{CTX_KERNEL_SP, CTX_PC, CTX_SCAUSE, CTX_STVAL};

/// scause's interrupt bit.
pub const SCAUSE_INTERRUPT: u64 = 1 << 63;
/// The supervisor timer interrupt's cause code.
pub const IRQ_S_TIMER: u64 = 5;
/// The supervisor external interrupt's cause code (a device line, through the PLIC).
pub const IRQ_S_EXTERNAL: u64 = 9;

global_asm!(
    ".pushsection .text.trap, \"ax\"",
    ".p2align 2",
    ".global gears_trap_entry",
    "gears_trap_entry:",
    "csrrw sp, sscratch, sp",
    "bnez sp, 5f",
    // ---- From S-mode: sp was 0, swap back (sscratch = 0 again). ----
    "csrrw sp, sscratch, sp",
    // Is there room to save the registers? If sp is within 256 bytes of the stack's bottom (or
    // below it, in the guard page), the stack overflowed: go to 6. t0 is lent to sscratch
    // meanwhile (nothing can trap between these instructions).
    "csrw sscratch, t0",
    "la t0, {stack} + {room}",
    "bltu sp, t0, 6f",
    "csrrw t0, sscratch, zero",
    "addi sp, sp, -256",
    "sd x1, 0(sp)",
    "sd x3, 8(sp)", "sd x4, 16(sp)", "sd x5, 24(sp)", "sd x6, 32(sp)", "sd x7, 40(sp)",
    "sd x8, 48(sp)", "sd x9, 56(sp)", "sd x10, 64(sp)", "sd x11, 72(sp)", "sd x12, 80(sp)",
    "sd x13, 88(sp)", "sd x14, 96(sp)", "sd x15, 104(sp)", "sd x16, 112(sp)", "sd x17, 120(sp)",
    "sd x18, 128(sp)", "sd x19, 136(sp)", "sd x20, 144(sp)", "sd x21, 152(sp)", "sd x22, 160(sp)",
    "sd x23, 168(sp)", "sd x24, 176(sp)", "sd x25, 184(sp)", "sd x26, 192(sp)", "sd x27, 200(sp)",
    "sd x28, 208(sp)", "sd x29, 216(sp)", "sd x30, 224(sp)", "sd x31, 232(sp)",
    "csrr t0, sstatus", "sd t0, 248(sp)",
    "csrr a0, scause",
    "csrr a1, stval",
    "csrr a2, sepc",
    "addi a3, sp, 256",
    "call {kernel_trap}",
    "csrw sepc, a0",
    "ld t0, 248(sp)", "csrw sstatus, t0",
    "ld x1, 0(sp)",
    "ld x3, 8(sp)", "ld x4, 16(sp)", "ld x5, 24(sp)", "ld x6, 32(sp)", "ld x7, 40(sp)",
    "ld x8, 48(sp)", "ld x9, 56(sp)", "ld x10, 64(sp)", "ld x11, 72(sp)", "ld x12, 80(sp)",
    "ld x13, 88(sp)", "ld x14, 96(sp)", "ld x15, 104(sp)", "ld x16, 112(sp)", "ld x17, 120(sp)",
    "ld x18, 128(sp)", "ld x19, 136(sp)", "ld x20, 144(sp)", "ld x21, 152(sp)", "ld x22, 160(sp)",
    "ld x23, 168(sp)", "ld x24, 176(sp)", "ld x25, 184(sp)", "ld x26, 192(sp)", "ld x27, 200(sp)",
    "ld x28, 208(sp)", "ld x29, 216(sp)", "ld x30, 224(sp)", "ld x31, 232(sp)",
    "addi sp, sp, 256",
    "sret",
    // ---- Kernel stack overflow: report on the emergency stack (or resume a test's probe). ----
    "6:",
    "mv t0, sp",
    "la sp, {emergency} + {emergency_size}",
    "csrw sscratch, zero",
    "csrr a0, scause",
    "csrr a1, stval",
    "csrr a2, sepc",
    "mv a3, t0",
    "call {stack_overflow}",
    "tail gears_overflow_resume",
    // ---- From U-mode: sp = &UserContext, sscratch = user sp. ----
    "5:",
    "sd x1, 0(sp)",
    "sd x3, 16(sp)", "sd x4, 24(sp)", "sd x5, 32(sp)", "sd x6, 40(sp)", "sd x7, 48(sp)",
    "sd x8, 56(sp)", "sd x9, 64(sp)", "sd x10, 72(sp)", "sd x11, 80(sp)", "sd x12, 88(sp)",
    "sd x13, 96(sp)", "sd x14, 104(sp)", "sd x15, 112(sp)", "sd x16, 120(sp)", "sd x17, 128(sp)",
    "sd x18, 136(sp)", "sd x19, 144(sp)", "sd x20, 152(sp)", "sd x21, 160(sp)", "sd x22, 168(sp)",
    "sd x23, 176(sp)", "sd x24, 184(sp)", "sd x25, 192(sp)", "sd x26, 200(sp)", "sd x27, 208(sp)",
    "sd x28, 216(sp)", "sd x29, 224(sp)", "sd x30, 232(sp)", "sd x31, 240(sp)",
    "csrr t0, sscratch", "sd t0, 8(sp)",
    "csrr t0, sepc", "sd t0, {pc}(sp)",
    "csrr t0, scause", "sd t0, {scause}(sp)",
    "csrr t0, stval", "sd t0, {stval}(sp)",
    "csrw sscratch, zero",
    // Back onto the kernel stack saved by gears_enter_user and return from it.
    "ld sp, {kernel_sp}(sp)",
    "ld ra, 0(sp)",
    "ld s0, 8(sp)", "ld s1, 16(sp)", "ld s2, 24(sp)", "ld s3, 32(sp)", "ld s4, 40(sp)",
    "ld s5, 48(sp)", "ld s6, 56(sp)", "ld s7, 64(sp)", "ld s8, 72(sp)", "ld s9, 80(sp)",
    "ld s10, 88(sp)", "ld s11, 96(sp)",
    "addi sp, sp, 112",
    "ret",
    ".popsection",
    kernel_trap = sym kernel_trap,
    stack = sym super::boot::BOOT_STACK,
    room = const STACK_GUARD_SIZE + 256,
    emergency = sym super::stack_guard::EMERGENCY_STACK,
    emergency_size = const super::stack_guard::EMERGENCY_STACK_SIZE,
    stack_overflow = sym super::stack_guard::stack_overflow,
    pc = const CTX_PC,
    scause = const CTX_SCAUSE,
    stval = const CTX_STVAL,
    kernel_sp = const CTX_KERNEL_SP,
);

unsafe extern "C" {
    safe static gears_trap_entry: u8;
}

/// Points `stvec` at the trap entry (direct mode) and marks the kernel as running (sscratch 0).
pub fn init() {
    let entry = &gears_trap_entry as *const u8 as u64;
    // SAFETY: the entry is 4-byte aligned (.p2align 2) and handles every trap as described
    // above; sscratch = 0 is the "in the kernel" marker it relies on.
    unsafe { asm!("csrw sscratch, zero", "csrw stvec, {0}", in(reg) entry, options(nostack)) };
}

/// The name of an exception cause, for reports.
pub fn cause_name(scause: u64) -> &'static str {
    if scause & SCAUSE_INTERRUPT != 0 {
        return match scause & !SCAUSE_INTERRUPT {
            1 => "supervisor software interrupt",
            5 => "supervisor timer interrupt",
            9 => "supervisor external interrupt",
            _ => "interrupt",
        };
    }
    match scause {
        0 => "instruction address misaligned",
        1 => "instruction access fault",
        2 => "illegal instruction",
        3 => "breakpoint",
        4 => "load address misaligned",
        5 => "load access fault",
        6 => "store address misaligned",
        7 => "store access fault",
        8 => "environment call from U-mode",
        9 => "environment call from S-mode",
        12 => "instruction page fault",
        13 => "load page fault",
        15 => "store page fault",
        _ => "reserved exception",
    }
}

/// Handles a trap taken in S-mode (with room on the stack; `sp` is the interrupted code's) and
/// returns the pc to resume at: the timer is counted and re-armed; device lines are claimed,
/// masked, completed and recorded (see `plic`); a fault in the stack's guard page is a stack
/// overflow (or a test's deliberate touch, see `stack_guard`); anything else is a kernel bug,
/// reported and fatal.
extern "C" fn kernel_trap(scause: u64, stval: u64, sepc: u64, sp: u64) -> u64 {
    if scause == SCAUSE_INTERRUPT | IRQ_S_TIMER {
        super::timer::on_tick();
        return sepc;
    }
    if scause == SCAUSE_INTERRUPT | IRQ_S_EXTERNAL {
        super::plic::on_kernel_interrupt();
        return sepc;
    }
    if matches!(scause, 12 | 13 | 15) && super::stack_guard::in_guard(stval) {
        return super::stack_guard::guard_fault(scause, stval, sepc, sp);
    }
    crate::console::fatal(format_args!(
        "kernel exception: scause {:#x} ({}), stval {:#018x}, sepc {:#018x}",
        scause,
        cause_name(scause),
        stval,
        sepc
    ));
}
