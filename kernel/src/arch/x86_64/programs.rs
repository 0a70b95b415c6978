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
    "mov rsi, {info}",
    "mov r10, 0x1111",
    "mov r8, 0x2222",
    "mov r9, 0x3333",
    "mov r15, 0x4444",
    "mov rdx, {call}",
    "syscall",
    "mov rdi, 0x43",
    "mov rdx, {send}",
    "syscall",
    "2:",
    "mov rdx, {yield_}",
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
    // Keep the value in RDI in XMM0 and check it forever (RAX counts the checks); if XMM0 ever
    // changes, report it with the unknown system call -99. Two of these, with different values,
    // interrupted by the timer in turn, see each other's value unless the kernel keeps each
    // thread's SSE registers.
    ".global gears_user_fpu_start",
    ".global gears_user_fpu_end",
    "gears_user_fpu_start:",
    "movq xmm0, rdi",
    "xor eax, eax",
    "4:",
    "movq rcx, xmm0",
    "cmp rcx, rdi",
    "jne 5f",
    "inc rax",
    "jmp 4b",
    "5:",
    "mov rdx, {unknown}",
    "syscall",
    "ud2",
    "gears_user_fpu_end:",
    // A privileged instruction in ring 3.
    ".global gears_user_gp_start",
    ".global gears_user_gp_end",
    "gears_user_gp_start:",
    "cli",
    "ud2",
    "gears_user_gp_end:",
    ".popsection",
    call = const abi::Syscall::Call.number(),
    send = const abi::Syscall::Send.number(),
    yield_ = const abi::Syscall::Yield.number(),
    // A number that names no system call: an UnknownSyscall fault.
    unknown = const -99,
    info = const abi::MessageInfo::new(7, 0, 0, 4).word(),
);

// The root task's script runner: for each 16-word record of the script at `SCRIPT_VA` (number,
// cap, MessageInfo, MR0-3, MR4-7, three extra-cap cptrs, repeat count, MR0 stride) it copies
// MR4-7 and the extra caps into its IPC buffer (`abi::IpcBuffer`'s layout), loads seL4's registers and makes the system call `repeat` times, adding the stride to
// MR0 each time; after each call it stores the reply registers (MessageInfo, MR0-3, badge) and
// a call count into its 8-word result record at `RESULTS_VA`. A record with repeat 0 ends the
// script: the runner then halts (`seL4_DebugHalt` with 1 in the cap register).
global_asm!(
    ".pushsection .rodata.gears_user_programs, \"a\"",
    ".global gears_user_script_start",
    ".global gears_user_script_end",
    "gears_user_script_start:",
    "movabs rbx, {script}",
    "movabs rbp, {results}",
    "movabs r14, {ipc}",
    "5:",
    "mov r12, qword ptr [rbx + 112]",
    "test r12, r12",
    "jz 7f",
    "mov r13, qword ptr [rbx + 24]",
    "6:",
    "mov rax, qword ptr [rbx + 56]",
    "mov qword ptr [r14 + {mr4}], rax",
    "mov rax, qword ptr [rbx + 64]",
    "mov qword ptr [r14 + {mr5}], rax",
    "mov rax, qword ptr [rbx + 72]",
    "mov qword ptr [r14 + {mr6}], rax",
    "mov rax, qword ptr [rbx + 80]",
    "mov qword ptr [r14 + {mr7}], rax",
    "mov rax, qword ptr [rbx + 88]",
    "mov qword ptr [r14 + {cap0}], rax",
    "mov rax, qword ptr [rbx + 96]",
    "mov qword ptr [r14 + {cap1}], rax",
    "mov rax, qword ptr [rbx + 104]",
    "mov qword ptr [r14 + {cap2}], rax",
    "mov rdx, qword ptr [rbx]",
    "mov rdi, qword ptr [rbx + 8]",
    "mov rsi, qword ptr [rbx + 16]",
    "mov r10, r13",
    "mov r8, qword ptr [rbx + 32]",
    "mov r9, qword ptr [rbx + 40]",
    "mov r15, qword ptr [rbx + 48]",
    "syscall",
    "mov qword ptr [rbp], rsi",
    "mov qword ptr [rbp + 8], r10",
    "mov qword ptr [rbp + 16], r8",
    "mov qword ptr [rbp + 24], r9",
    "mov qword ptr [rbp + 32], r15",
    "mov qword ptr [rbp + 40], rdi",
    "inc qword ptr [rbp + 48]",
    "add r13, qword ptr [rbx + 120]",
    "dec r12",
    "jnz 6b",
    "add rbx, 128",
    "add rbp, 64",
    "jmp 5b",
    "7:",
    "mov rdx, {halt}",
    "mov rdi, 1",
    "syscall",
    "jmp 7b",
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
    safe static gears_user_null_start: u8;
    safe static gears_user_null_end: u8;
    safe static gears_user_ud_start: u8;
    safe static gears_user_ud_end: u8;
    safe static gears_user_fpu_start: u8;
    safe static gears_user_fpu_end: u8;
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

/// Dereferences a null pointer.
pub fn null_deref() -> &'static [u8] {
    between(&gears_user_null_start, &gears_user_null_end)
}

/// Executes an undefined instruction.
pub fn illegal_instruction() -> &'static [u8] {
    between(&gears_user_ud_start, &gears_user_ud_end)
}

/// Keeps its first argument in a floating-point/SSE register and checks it forever (counting in
/// [`spin_counter`]'s register); if the register changes it makes the unknown system call -99.
pub fn fpu_keeper() -> &'static [u8] {
    between(&gears_user_fpu_start, &gears_user_fpu_end)
}

/// Executes a privileged instruction (`cli`) in user mode.
pub fn privileged_instruction() -> &'static [u8] {
    between(&gears_user_gp_start, &gears_user_gp_end)
}

/// The counter [`spin()`] increments (RAX), read from a stopped context.
pub fn spin_counter(ctx: &UserContext) -> u64 {
    ctx.frame.rax
}
