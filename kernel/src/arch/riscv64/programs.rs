//! Tiny user programs: position-independent machine code in the kernel image, copied into a
//! user frame and run in U-mode (the same programs as on x86_64).
//!
//! System calls use seL4's RISC-V convention (number a7, cap a0, MessageInfo a1, message
//! registers a2–a5).

use core::arch::global_asm;

use super::UserContext;
use crate::arch::FaultKind;

/// The fault a privileged instruction in U-mode raises here: illegal instruction (RISC-V has
/// no separate protection fault).
pub const PRIVILEGED_FAULT: FaultKind = FaultKind::IllegalInstruction;

global_asm!(
    ".pushsection .rodata.gears_user_programs, \"a\"",
    ".p2align 2",
    ".global gears_user_call_start",
    ".global gears_user_call_end",
    "gears_user_call_start:",
    "li a0, 0x42",
    "li a1, 0x7004",
    "li a2, 0x1111",
    "li a3, 0x2222",
    "li a4, 0x3333",
    "li a5, 0x4444",
    "li a7, -1",
    "ecall",
    "li a0, 0x43",
    "li a7, -3",
    "ecall",
    "2:",
    "li a7, -7",
    "ecall",
    "j 2b",
    "gears_user_call_end:",
    ".p2align 2",
    ".global gears_user_spin_start",
    ".global gears_user_spin_end",
    "gears_user_spin_start:",
    "li a0, 0",
    "3:",
    "addi a0, a0, 1",
    "j 3b",
    "gears_user_spin_end:",
    ".p2align 2",
    ".global gears_user_null_start",
    ".global gears_user_null_end",
    "gears_user_null_start:",
    "li t0, 0",
    "ld t1, 0(t0)",
    "unimp",
    "gears_user_null_end:",
    ".p2align 2",
    ".global gears_user_ud_start",
    ".global gears_user_ud_end",
    "gears_user_ud_start:",
    ".word 0",
    "gears_user_ud_end:",
    ".p2align 2",
    ".global gears_user_gp_start",
    ".global gears_user_gp_end",
    "gears_user_gp_start:",
    "csrr t0, sstatus",
    "unimp",
    "gears_user_gp_end:",
    ".popsection",
);

unsafe extern "C" {
    safe static gears_user_call_start: u8;
    safe static gears_user_call_end: u8;
    safe static gears_user_spin_start: u8;
    safe static gears_user_spin_end: u8;
    safe static gears_user_null_start: u8;
    safe static gears_user_null_end: u8;
    safe static gears_user_ud_start: u8;
    safe static gears_user_ud_end: u8;
    safe static gears_user_gp_start: u8;
    safe static gears_user_gp_end: u8;
}

fn between(start: &'static u8, end: &'static u8) -> &'static [u8] {
    let (s, e) = (start as *const u8, end as *const u8);
    let len = (e as usize).saturating_sub(s as usize);
    // SAFETY: both labels are in the same read-only section, `end` after `start`; the bytes
    // between them are the program's machine code, immutable for the kernel's lifetime.
    unsafe { core::slice::from_raw_parts(s, len) }
}

/// seL4_Call with four message registers, then echo the reply with seL4_Send, then yield forever.
pub fn call_echo() -> &'static [u8] {
    between(&gears_user_call_start, &gears_user_call_end)
}

/// Spins without system calls (for timer preemption of user mode).
pub fn spin() -> &'static [u8] {
    between(&gears_user_spin_start, &gears_user_spin_end)
}

/// Dereferences a null pointer.
pub fn null_deref() -> &'static [u8] {
    between(&gears_user_null_start, &gears_user_null_end)
}

/// Executes an illegal instruction.
pub fn illegal_instruction() -> &'static [u8] {
    between(&gears_user_ud_start, &gears_user_ud_end)
}

/// Executes a privileged instruction (`csrr sstatus`) in user mode.
pub fn privileged_instruction() -> &'static [u8] {
    between(&gears_user_gp_start, &gears_user_gp_end)
}

/// The counter [`spin()`] increments (a0), read from a stopped context.
pub fn spin_counter(ctx: &UserContext) -> u64 {
    ctx.regs[9]
}
