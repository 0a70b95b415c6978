//! Tiny user programs: position-independent machine code in the kernel image, copied into a
//! user frame and run in ring 3.
//!
//! They are assembly (not Rust functions) so that they have no relocations, no calls into the
//! kernel and a known length; each lies between two labels. System calls use seL4's x86_64
//! convention (number RDX, cap RDI, MessageInfo RSI, message registers R10, R8, R9, R15).

use core::arch::global_asm;

use super::UserContext;
use crate::arch::FaultKind;

/// The fault a privileged instruction in user mode raises here: #GP.
pub const PRIVILEGED_FAULT: FaultKind = FaultKind::GeneralProtection;

global_asm!(
    ".pushsection .rodata.gears_user_programs, \"a\"",
    // seL4_Call(cap 0x42, MessageInfo{label 7, length 4}, MR0..3 = 0x1111..0x4444); then
    // echo the reply registers back with seL4_Send(cap 0x43); then seL4_Yield forever.
    ".global gears_user_call_start",
    ".global gears_user_call_end",
    "gears_user_call_start:",
    "mov rdi, 0x42",
    "mov rsi, 0x7004",
    "mov r10, 0x1111",
    "mov r8, 0x2222",
    "mov r9, 0x3333",
    "mov r15, 0x4444",
    "mov rdx, -1",
    "syscall",
    "mov rdi, 0x43",
    "mov rdx, -3",
    "syscall",
    "2:",
    "mov rdx, -7",
    "syscall",
    "jmp 2b",
    "gears_user_call_end:",
    // Spin forever without system calls: only a timer interrupt gets the kernel back.
    ".global gears_user_spin_start",
    ".global gears_user_spin_end",
    "gears_user_spin_start:",
    "xor eax, eax",
    "3:",
    "inc rax",
    "jmp 3b",
    "gears_user_spin_end:",
    // Read address 0.
    ".global gears_user_null_start",
    ".global gears_user_null_end",
    "gears_user_null_start:",
    "xor eax, eax",
    "mov rax, qword ptr [rax]",
    "ud2",
    "gears_user_null_end:",
    // An undefined instruction.
    ".global gears_user_ud_start",
    ".global gears_user_ud_end",
    "gears_user_ud_start:",
    "ud2",
    "gears_user_ud_end:",
    // A privileged instruction in ring 3.
    ".global gears_user_gp_start",
    ".global gears_user_gp_end",
    "gears_user_gp_start:",
    "cli",
    "ud2",
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

/// Executes an undefined instruction.
pub fn illegal_instruction() -> &'static [u8] {
    between(&gears_user_ud_start, &gears_user_ud_end)
}

/// Executes a privileged instruction (`cli`) in user mode.
pub fn privileged_instruction() -> &'static [u8] {
    between(&gears_user_gp_start, &gears_user_gp_end)
}

/// The counter [`spin()`] increments (RAX), read from a stopped context.
pub fn spin_counter(ctx: &UserContext) -> u64 {
    ctx.frame.rax
}
