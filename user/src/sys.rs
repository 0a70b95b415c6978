//! The system-call instruction: where every wrapper of this crate ends, and the low level for
//! programs that must make calls no wrapper makes (the project's fuzzer sends malformed
//! MessageInfo words and unknown numbers through [`raw_syscall`]).
//!
//! seL4's non-MCS registers: x86_64 `syscall` with the number in RDX, the cap in RDI, the
//! MessageInfo in RSI and message words 0–3 in R10, R8, R9, R15 (the reply: badge in RDI,
//! MessageInfo in RSI, words 0–3); riscv64 `ecall` with the number in a7, the cap in a0, the
//! MessageInfo in a1 and words 0–3 in a2–a5 (`abi::x86_64::syscall`, `abi::riscv64::syscall`).
//! Message words past the fourth, and extra caps, go through the IPC buffer
//! ([`crate::ipc_buffer`]).

use abi::Syscall;

/// What the kernel leaves in the system-call registers when the call returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SyscallReturn {
    /// The badge register: a received message's badge (a notification's word for a Wait);
    /// `seL4_DebugCapIdentify`'s answer.
    pub badge: u64,
    /// The MessageInfo word of the message received (or of the reply).
    pub info: u64,
    /// Message words 0–3.
    pub mrs: [u64; 4],
}

/// Makes system call `number` (any word: one the kernel does not know is an UnknownSyscall
/// fault of the caller) with `cap` in the cap register, `info` in the MessageInfo register and
/// `mrs` in the four message registers, exactly as given.
///
/// The call reads and writes no memory of this program but its IPC buffer, which this crate
/// only reaches through volatile accesses.
#[cfg(target_arch = "x86_64")]
pub fn raw_syscall(number: u64, cap: u64, info: u64, mrs: [u64; 4]) -> SyscallReturn {
    let (mut rdi, mut rsi) = (cap, info);
    let [mut r10, mut r8, mut r9, mut r15] = mrs;
    // SAFETY: `syscall` enters the kernel, which saves and restores every register but the reply
    // registers (declared inout here) and RCX/R11 (clobbered by SYSCALL/SYSRET); it touches no
    // memory of this program but the IPC buffer, which Rust code reaches only through volatile
    // accesses, and it does not use the stack.
    unsafe {
        core::arch::asm!(
            "syscall",
            inout("rdx") number => _,
            inout("rdi") rdi,
            inout("rsi") rsi,
            inout("r10") r10,
            inout("r8") r8,
            inout("r9") r9,
            inout("r15") r15,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    SyscallReturn { badge: rdi, info: rsi, mrs: [r10, r8, r9, r15] }
}

/// Makes system call `number` (any word: one the kernel does not know is an UnknownSyscall
/// fault of the caller) with `cap` in the cap register, `info` in the MessageInfo register and
/// `mrs` in the four message registers, exactly as given.
///
/// The call reads and writes no memory of this program but its IPC buffer, which this crate
/// only reaches through volatile accesses.
#[cfg(target_arch = "riscv64")]
pub fn raw_syscall(number: u64, cap: u64, info: u64, mrs: [u64; 4]) -> SyscallReturn {
    let (mut a0, mut a1) = (cap, info);
    let [mut a2, mut a3, mut a4, mut a5] = mrs;
    // SAFETY: `ecall` enters the kernel, which saves and restores every register but the reply
    // registers (declared inout here); it touches no memory of this program but the IPC buffer,
    // which Rust code reaches only through volatile accesses, and it does not use the stack.
    unsafe {
        core::arch::asm!(
            "ecall",
            in("a7") number,
            inout("a0") a0,
            inout("a1") a1,
            inout("a2") a2,
            inout("a3") a3,
            inout("a4") a4,
            inout("a5") a5,
            options(nostack),
        );
    }
    SyscallReturn { badge: a0, info: a1, mrs: [a2, a3, a4, a5] }
}

/// Gears and seL4 run on x86_64 and riscv64 only: on another host the library builds (for its
/// host tests) but a system call cannot be made.
#[cfg(not(any(target_arch = "x86_64", target_arch = "riscv64")))]
pub fn raw_syscall(number: u64, _cap: u64, _info: u64, _mrs: [u64; 4]) -> SyscallReturn {
    panic!("system call {number:#x}: Gears system calls need x86_64 or riscv64")
}

/// [`raw_syscall`] with a known system call's number.
pub fn syscall(call: Syscall, cap: u64, info: u64, mrs: [u64; 4]) -> SyscallReturn {
    raw_syscall(call.word(), cap, info, mrs)
}
