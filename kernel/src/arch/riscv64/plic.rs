//! The platform-level interrupt controller (PLIC) of QEMU `virt`: device interrupts for hart 0's
//! S-mode, which is PLIC context 1 (context 0 is its M-mode).
//!
//! A line is routed with priority 1 and its enable bit (the context's threshold is 0). When a
//! line's interrupt is taken, the trap handler claims it, masks it (clears its enable bit) and
//! completes the claim at once, as seL4 does on other architectures (`maskInterrupt` then
//! `ackInterrupt` in `handleInterrupt`): the line stays masked until the kernel unmasks it, which
//! the capability kernel does through [`irq_enable`] (`MachineOp::MaskIrq { masked: false }`)
//! after the user driver has acknowledged the device, and the QEMU tests through `irq_unmask`;
//! so a level-triggered device that keeps its line up cannot storm the kernel.

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

use super::paging::phys_to_virt;
use crate::arch::IrqError;

/// The PLIC's physical address (its registers are reached through `phys_to_virt`).
const PLIC_BASE: u64 = 0x0c00_0000;
/// Hart 0's S-mode context.
const CONTEXT: u64 = 1;
/// Source `n`'s priority register is at `PRIORITY + 4 * n`.
const PRIORITY: u64 = PLIC_BASE;
/// The context's enable bits, 32 sources per word.
const ENABLE: u64 = PLIC_BASE + 0x2000 + 0x80 * CONTEXT;
/// The context's priority threshold.
const THRESHOLD: u64 = PLIC_BASE + 0x20_0000 + 0x1000 * CONTEXT;
/// Reading claims the highest-priority pending source; writing its number completes it.
const CLAIM_COMPLETE: u64 = THRESHOLD + 4;
/// Sources 1..LINES exist on QEMU 7.2's `virt` (source 0 means "none").
const LINES: u32 = 96;
/// sie.SEIE / sip.SEIP: the supervisor external interrupt.
const SIE_SEIE: u64 = 1 << 9;
/// sip.STIP: the supervisor timer interrupt.
const SIP_STIP: u64 = 1 << 5;

fn read(addr: u64) -> u32 {
    // SAFETY: `addr` is one of the PLIC registers above (MMIO, mapped at `phys_to_virt` both in
    // the kernel's own table and in every user space); reading has no effect but a claim, which
    // callers want.
    unsafe { core::ptr::read_volatile(phys_to_virt(addr) as *const u32) }
}

fn write(addr: u64, value: u32) {
    // SAFETY: as in `read`; only priority, enable, threshold and complete registers are written.
    unsafe { core::ptr::write_volatile(phys_to_virt(addr) as *mut u32, value) }
}

fn check(line: u32) -> Result<(), IrqError> {
    if (1..LINES).contains(&line) { Ok(()) } else { Err(IrqError::BadLine) }
}

fn set_enabled(line: u32, on: bool) {
    let word = ENABLE + 4 * u64::from(line / 32);
    let bit = 1u32 << (line % 32);
    let old = read(word);
    write(word, if on { old | bit } else { old & !bit });
    // QEMU 7.2's PLIC re-evaluates its output only on priority, threshold and complete writes,
    // not on enable writes: without this (unchanged) threshold write, a request that waited
    // while its line was masked is not delivered on unmasking until the device changes its line
    // again (seen in the device-interrupt test).
    write(THRESHOLD, 0);
}

/// Masks every source for this context, sets the threshold to 0 and enables external interrupts
/// (sie.SEIE); no line fires until [`irq_enable`].
pub fn init() {
    for word in 0..u64::from(LINES.div_ceil(32)) {
        write(ENABLE + 4 * word, 0);
    }
    write(THRESHOLD, 0);
    // SAFETY: enables one interrupt source in sie; the trap vector is installed already, and
    // every line is masked at the PLIC.
    unsafe { asm!("csrs sie, {0}", in(reg) SIE_SEIE, options(nomem, nostack)) };
}

/// Routes device line `line` to this hart (priority 1) and unmasks it.
pub fn irq_enable(line: u32) -> Result<(), IrqError> {
    check(line)?;
    write(PRIORITY + 4 * u64::from(line), 1);
    set_enabled(line, true);
    Ok(())
}

/// Masks device line `line` (its PLIC enable bit); a request raised meanwhile waits.
pub fn irq_mask(line: u32) -> Result<(), IrqError> {
    check(line)?;
    set_enabled(line, false);
    Ok(())
}

/// Unmasks device line `line` (routed by [`irq_enable`] already): the QEMU tests' unmask after a
/// taken interrupt.
#[cfg(feature = "qemu-test")]
pub fn irq_unmask(line: u32) -> Result<(), IrqError> {
    check(line)?;
    set_enabled(line, true);
    Ok(())
}

/// Whether an interrupt (timer or device) is raised and not yet taken, because interrupts are
/// masked in the kernel: seL4's `isIRQPending`, for the dispatcher's preemption points.
pub fn irq_pending() -> bool {
    let sip: u64;
    // SAFETY: reads the sip CSR; no side effects.
    unsafe { asm!("csrr {0}, sip", out(reg) sip, options(nomem, nostack)) };
    sip & (SIE_SEIE | SIP_STIP) != 0
}

/// Claims the highest-priority pending line, masks it and completes the claim; `None` when
/// nothing is pending (a spurious or already claimed interrupt).
pub fn claim() -> Option<u32> {
    let line = read(CLAIM_COMPLETE);
    if line == 0 {
        return None;
    }
    set_enabled(line, false);
    write(CLAIM_COMPLETE, line);
    Some(line)
}

/// Lines claimed while the kernel ran (two words: lines 0–127), not yet taken by
/// [`take_kernel_irq`].
static KERNEL_CLAIMED: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// The kernel-mode trap handler's part: claims every pending line and records it.
pub fn on_kernel_interrupt() {
    while let Some(line) = claim() {
        KERNEL_CLAIMED[(line / 64) as usize].fetch_or(1 << (line % 64), Ordering::Relaxed);
    }
}

/// The lowest device line whose interrupt was taken while the kernel ran (e.g. idling in
/// `wait_for_interrupt`), removed from the record; it stays masked until the kernel unmasks it.
pub fn take_kernel_irq() -> Option<u32> {
    for (i, word) in KERNEL_CLAIMED.iter().enumerate() {
        let bits = word.load(Ordering::Relaxed);
        if bits != 0 {
            let bit = bits.trailing_zeros();
            word.fetch_and(!(1 << bit), Ordering::Relaxed);
            return Some(i as u32 * 64 + bit);
        }
    }
    None
}
