//! The kernel stack's guard page: what happens when it is touched, and two probes (for the QEMU
//! tests) that show it works without ending the run.
//!
//! The page below the kernel stack is invalid in the kernel's table (see
//! `paging::init_kernel_space`), so an overflow faults. The trap entry cannot save registers on
//! an exhausted stack, so when `sp` is within 256 bytes of the stack's bottom (or below it) it
//! switches to an emergency stack and calls [`stack_overflow`], which reports "kernel stack
//! overflow" and leaves QEMU with failure. A test can arm a recovery point first
//! (`kernel_stack_overflow_probe`); the handler then resumes there instead, like `longjmp`.
//!
//! Limits: one guard page, and Rust emits no stack probes on riscv64, so a single frame larger
//! than 4 KiB could step over the guard.

#[cfg(feature = "qemu-test")]
use core::arch::asm;
use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::boot::{STACK_GUARD_SIZE, stack_guard};
#[cfg(feature = "qemu-test")]
use crate::arch::GuardTrap;

/// The emergency stack the trap entry switches to on an overflow.
pub const EMERGENCY_STACK_SIZE: usize = 32 * 1024;

#[repr(C, align(16))]
pub(super) struct EmergencyStack([u8; EMERGENCY_STACK_SIZE]);

/// Only the overflow path of the trap entry runs on it (once: it ends the run or resumes).
pub(super) static mut EMERGENCY_STACK: EmergencyStack = EmergencyStack([0; EMERGENCY_STACK_SIZE]);

/// Store/load page fault causes.
#[cfg(feature = "qemu-test")]
const LOAD_PAGE_FAULT: u64 = 13;
#[cfg(feature = "qemu-test")]
const STORE_PAGE_FAULT: u64 = 15;

/// Whether `addr` is in the guard page.
pub fn in_guard(addr: u64) -> bool {
    let guard = stack_guard();
    (guard..guard + STACK_GUARD_SIZE as u64).contains(&addr)
}

/// Set while `kernel_stack_guard_touch` touches the guard on purpose.
static TOUCH_ARMED: AtomicBool = AtomicBool::new(false);
/// The last guard fault seen: cause, faulting address, sp.
static LAST_CAUSE: AtomicU64 = AtomicU64::new(0);
static LAST_ADDR: AtomicU64 = AtomicU64::new(0);
static LAST_SP: AtomicU64 = AtomicU64::new(0);

fn record(scause: u64, stval: u64, sp: u64) {
    LAST_CAUSE.store(scause, Ordering::Relaxed);
    LAST_ADDR.store(stval, Ordering::Relaxed);
    LAST_SP.store(sp, Ordering::Relaxed);
}

#[cfg(feature = "qemu-test")]
fn last() -> GuardTrap {
    let cause = LAST_CAUSE.load(Ordering::Relaxed);
    GuardTrap {
        guard: stack_guard(),
        addr: LAST_ADDR.load(Ordering::Relaxed),
        cause,
        page_fault: cause == LOAD_PAGE_FAULT || cause == STORE_PAGE_FAULT,
        sp: LAST_SP.load(Ordering::Relaxed),
    }
}

/// For `kernel_trap`, on a fault at a guard address with a usable stack: the pc to resume at if
/// `kernel_stack_guard_touch` caused it on purpose (the faulting store is 4 bytes long), else
/// a report of the overflow and the end of the run.
pub fn guard_fault(scause: u64, stval: u64, sepc: u64, sp: u64) -> u64 {
    if TOUCH_ARMED.swap(false, Ordering::Relaxed) {
        record(scause, stval, sp);
        return sepc + 4;
    }
    report_and_exit(scause, stval, sepc, sp)
}

fn report_and_exit(scause: u64, stval: u64, sepc: u64, sp: u64) -> ! {
    crate::console::fatal(format_args!(
        "kernel exception: kernel stack overflow: {} at {stval:#x} (guard page {:#x}), sepc {sepc:#x}, sp {sp:#x}",
        super::trap::cause_name(scause),
        stack_guard()
    ))
}

/// Touches the guard page once from kernel mode (a store, with a valid stack) and returns what
/// the trap recorded: shows the guard is unmapped without overflowing anything.
#[cfg(feature = "qemu-test")]
pub fn kernel_stack_guard_touch() -> Result<GuardTrap, &'static str> {
    let target = stack_guard() + 8;
    record(0, 0, 0);
    TOUCH_ARMED.store(true, Ordering::Relaxed);
    // SAFETY: the store targets the guard page, which is unmapped, so it faults and writes
    // nothing; `kernel_trap` sees TOUCH_ARMED and resumes after it (the store is 4 bytes: RVC is
    // off for it). Should the guard be mapped after all, the store hits an unused page of the
    // kernel's own stack static, below the stack, and the check below reports it.
    unsafe {
        asm!(".option push", ".option norvc", "sd zero, 0({0})", ".option pop", in(reg) target, options(nostack));
    }
    if TOUCH_ARMED.swap(false, Ordering::Relaxed) {
        return Err("the store to the guard page did not trap");
    }
    Ok(last())
}

/// The callee-saved state of `gears_overflow_catch`'s caller: ra, sp, s0–s11.
#[cfg(feature = "qemu-test")]
#[repr(C)]
struct Recovery([u64; 14]);

/// The armed recovery point (its address), or 0.
static RECOVERY: AtomicU64 = AtomicU64::new(0);

global_asm!(
    ".pushsection .text.trap, \"ax\"",
    ".p2align 2",
    // a0 = &mut Recovery, a1 = fn(u64) -> u64, a2 = its argument. Returns 0 if the function
    // returned, 1 if an overflow resumed here through gears_overflow_resume.
    ".global gears_overflow_catch",
    "gears_overflow_catch:",
    "sd ra, 0(a0)", "sd sp, 8(a0)",
    "sd s0, 16(a0)", "sd s1, 24(a0)", "sd s2, 32(a0)", "sd s3, 40(a0)", "sd s4, 48(a0)",
    "sd s5, 56(a0)", "sd s6, 64(a0)", "sd s7, 72(a0)", "sd s8, 80(a0)", "sd s9, 88(a0)",
    "sd s10, 96(a0)", "sd s11, 104(a0)",
    "mv s0, a0",
    "la t0, {recovery}",
    "sd a0, 0(t0)",
    "mv t1, a1",
    "mv a0, a2",
    "jalr t1",
    "la t0, {recovery}",
    "sd zero, 0(t0)",
    "li a0, 0",
    "j 1f",
    // a0 = &Recovery: back to gears_overflow_catch's caller, returning 1.
    ".global gears_overflow_resume",
    "gears_overflow_resume:",
    "mv s0, a0",
    "li a0, 1",
    "1:",
    "ld ra, 0(s0)", "ld sp, 8(s0)",
    "ld s1, 24(s0)", "ld s2, 32(s0)", "ld s3, 40(s0)", "ld s4, 48(s0)",
    "ld s5, 56(s0)", "ld s6, 64(s0)", "ld s7, 72(s0)", "ld s8, 80(s0)", "ld s9, 88(s0)",
    "ld s10, 96(s0)", "ld s11, 104(s0)",
    "ld s0, 16(s0)",
    "ret",
    ".popsection",
    recovery = sym RECOVERY,
);

#[cfg(feature = "qemu-test")]
unsafe extern "C" {
    fn gears_overflow_catch(recovery: *mut Recovery, f: extern "C" fn(u64) -> u64, arg: u64) -> u64;
}

/// Called by the trap entry's overflow path, on the emergency stack: the address of the armed
/// recovery point to resume at (for `kernel_stack_overflow_probe`), or a report and the end of
/// the run.
pub extern "C" fn stack_overflow(scause: u64, stval: u64, sepc: u64, sp: u64) -> u64 {
    record(scause, stval, sp);
    let recovery = RECOVERY.swap(0, Ordering::Relaxed);
    if recovery != 0 {
        return recovery;
    }
    report_and_exit(scause, stval, sepc, sp)
}

/// Recurses with 512 bytes of locals per call until the stack runs out.
#[cfg(feature = "qemu-test")]
#[inline(never)]
extern "C" fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 512];
    frame[(depth % 512) as usize] = depth as u8;
    let frame = core::hint::black_box(frame);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + u64::from(frame[0])
}

/// Overflows the kernel stack on purpose, with a recovery point armed, and returns what the
/// overflow trapped with: the real overflow path (guard page fault, emergency stack, handler),
/// resumed instead of ending the run.
#[cfg(feature = "qemu-test")]
pub fn kernel_stack_overflow_probe() -> Result<GuardTrap, &'static str> {
    let mut recovery = Recovery([0; 14]);
    record(0, 0, 0);
    // SAFETY: `gears_overflow_catch` saves this frame's callee-saved registers, sp and ra in
    // `recovery` (which outlives the call) and calls `recurse`, which never returns normally: it
    // overflows into the guard page, the trap entry sees sp at the guard and calls
    // `stack_overflow` on the emergency stack, which hands back `recovery`, and
    // `gears_overflow_resume` restores it, so execution continues here with every callee-saved
    // register and sp as before. The abandoned frames below hold nothing that needs dropping,
    // and interrupts stay masked throughout (sstatus.SIE is 0 in the kernel and is not changed).
    let resumed = unsafe { gears_overflow_catch(&mut recovery, recurse, 0) };
    if resumed != 1 {
        return Err("the deliberate recursion returned: the stack did not overflow");
    }
    Ok(last())
}
