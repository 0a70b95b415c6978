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
    "li a1, {info}",
    "li a2, 0x1111",
    "li a3, 0x2222",
    "li a4, 0x3333",
    "li a5, 0x4444",
    "li a7, {call}",
    "ecall",
    "li a0, 0x43",
    "li a7, {send}",
    "ecall",
    "2:",
    "li a7, {yield_}",
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
    // Keep the value in a0 in f0 and check it forever (a0 counts the checks); if f0 ever
    // changes, report it with the unknown system call -99 (see the x86_64 twin).
    ".global gears_user_fpu_start",
    ".global gears_user_fpu_end",
    "gears_user_fpu_start:",
    // The D extension's instructions, whatever features this unit is assembled with.
    ".option push",
    ".option arch, +d",
    "fmv.d.x f0, a0",
    "mv a1, a0",
    "li a0, 0",
    "4:",
    "fmv.x.d t0, f0",
    "bne t0, a1, 5f",
    "addi a0, a0, 1",
    "j 4b",
    "5:",
    "li a7, {unknown}",
    "ecall",
    "unimp",
    ".option pop",
    "gears_user_fpu_end:",
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
    call = const abi::Syscall::Call.number(),
    send = const abi::Syscall::Send.number(),
    yield_ = const abi::Syscall::Yield.number(),
    // A number that names no system call: an UnknownSyscall fault.
    unknown = const -99,
    info = const abi::MessageInfo::new(7, 0, 0, 4).word(),
);

// The root task's script runner (as on x86_64): for each 16-word record of the script at
// `SCRIPT_VA` (number, cap, MessageInfo, MR0-3, MR4-7, three extra-cap cptrs, repeat count, MR0
// stride) it copies MR4-7 and the extra caps into its IPC buffer (`abi::IpcBuffer`'s layout), loads seL4's registers and makes the call `repeat` times, adding the stride to MR0
// each time; after each call it stores the reply registers (MessageInfo, MR0-3, badge) and a call
// count into its 8-word result record at `RESULTS_VA`. Repeat 0 ends the script: it then halts
// (`seL4_DebugHalt` with 1 in the cap register).
global_asm!(
    ".pushsection .rodata.gears_user_programs, \"a\"",
    ".p2align 2",
    ".global gears_user_script_start",
    ".global gears_user_script_end",
    "gears_user_script_start:",
    "li s1, {script}",
    "li s2, {results}",
    "li s3, {ipc}",
    "5:",
    "ld s4, 112(s1)",
    "beqz s4, 7f",
    "ld s5, 24(s1)",
    "6:",
    "ld t0, 56(s1)",
    "sd t0, {mr4}(s3)",
    "ld t0, 64(s1)",
    "sd t0, {mr5}(s3)",
    "ld t0, 72(s1)",
    "sd t0, {mr6}(s3)",
    "ld t0, 80(s1)",
    "sd t0, {mr7}(s3)",
    "ld t0, 88(s1)",
    "sd t0, {cap0}(s3)",
    "ld t0, 96(s1)",
    "sd t0, {cap1}(s3)",
    "ld t0, 104(s1)",
    "sd t0, {cap2}(s3)",
    "ld a7, 0(s1)",
    "ld a0, 8(s1)",
    "ld a1, 16(s1)",
    "mv a2, s5",
    "ld a3, 32(s1)",
    "ld a4, 40(s1)",
    "ld a5, 48(s1)",
    "ecall",
    "sd a1, 0(s2)",
    "sd a2, 8(s2)",
    "sd a3, 16(s2)",
    "sd a4, 24(s2)",
    "sd a5, 32(s2)",
    "sd a0, 40(s2)",
    "ld t0, 48(s2)",
    "addi t0, t0, 1",
    "sd t0, 48(s2)",
    "ld t0, 120(s1)",
    "add s5, s5, t0",
    "addi s4, s4, -1",
    "bnez s4, 6b",
    "addi s1, s1, 128",
    "addi s2, s2, 64",
    "j 5b",
    "7:",
    "li a7, {halt}",
    "li a0, 1",
    "ecall",
    "j 7b",
    "gears_user_script_end:",
    ".popsection",
    script = const crate::thread::SCRIPT_VA,
    results = const crate::thread::RESULTS_VA,
    ipc = const crate::thread::IPC_BUFFER_VA,
    halt = const abi::Syscall::DebugHalt.number(),
    mr4 = const abi::IpcBuffer::msg(4) * 8,
    mr5 = const abi::IpcBuffer::msg(5) * 8,
    mr6 = const abi::IpcBuffer::msg(6) * 8,
    mr7 = const abi::IpcBuffer::msg(7) * 8,
    cap0 = const abi::IpcBuffer::cap(0) * 8,
    cap1 = const abi::IpcBuffer::cap(1) * 8,
    cap2 = const abi::IpcBuffer::cap(2) * 8,
);

unsafe extern "C" {
    safe static gears_user_call_start: u8;
    safe static gears_user_call_end: u8;
    safe static gears_user_spin_start: u8;
    safe static gears_user_spin_end: u8;
    safe static gears_user_fpu_start: u8;
    safe static gears_user_fpu_end: u8;
    safe static gears_user_null_start: u8;
    safe static gears_user_null_end: u8;
    safe static gears_user_ud_start: u8;
    safe static gears_user_ud_end: u8;
    safe static gears_user_gp_start: u8;
    safe static gears_user_gp_end: u8;
    safe static gears_user_script_start: u8;
    safe static gears_user_script_end: u8;
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

/// The root task's script runner (see the assembly above): seL4 calls read from a script.
pub fn script_runner() -> &'static [u8] {
    between(&gears_user_script_start, &gears_user_script_end)
}

/// Spins without system calls (for timer preemption of user mode).
pub fn spin() -> &'static [u8] {
    between(&gears_user_spin_start, &gears_user_spin_end)
}

/// Keeps its first argument in a floating-point register and checks it forever (counting in
/// [`spin_counter`]'s register); if the register changes it makes the unknown system call -99.
pub fn fpu_keeper() -> &'static [u8] {
    between(&gears_user_fpu_start, &gears_user_fpu_end)
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
