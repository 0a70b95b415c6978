//! Device lines of the 8259 PIC pair (ISA IRQs 1–15; 0 is the timer's, 2 the cascade).
//!
//! A device line whose interrupt is taken is masked in the PIC's interrupt mask register before
//! its end-of-interrupt (see `timer::acknowledge`), as seL4's `handleInterrupt` does
//! (`maskInterrupt`, then `ackInterrupt`): it stays masked until the kernel unmasks it, which
//! the capability kernel does through [`irq_enable`] (`MachineOp::MaskIrq { masked: false }`)
//! after the user driver has acknowledged the device, and the QEMU tests through `irq_unmask`.

use core::sync::atomic::{AtomicU64, Ordering};

use super::timer::{inb, outb};
use crate::arch::IrqError;

/// The cascade line (the slave PIC) on the master.
const CASCADE: u32 = 2;

fn check(line: u32) -> Result<(), IrqError> {
    if (1..16).contains(&line) && line != CASCADE { Ok(()) } else { Err(IrqError::BadLine) }
}

/// Sets or clears `line`'s bit in its PIC's interrupt mask register.
pub(super) fn set_masked(line: u32, masked: bool) {
    let (port, bit) = if line < 8 { (0x21, 1u8 << line) } else { (0xa1, 1u8 << (line - 8)) };
    let imr = inb(port);
    outb(port, if masked { imr | bit } else { imr & !bit });
}

/// Routes device line `line` (the PICs route every line; this unmasks it and the cascade for a
/// slave line).
pub fn irq_enable(line: u32) -> Result<(), IrqError> {
    check(line)?;
    if line >= 8 {
        set_masked(CASCADE, false);
    }
    set_masked(line, false);
    Ok(())
}

/// Masks device line `line` in its PIC; a request raised meanwhile waits in the IRR.
pub fn irq_mask(line: u32) -> Result<(), IrqError> {
    check(line)?;
    set_masked(line, true);
    Ok(())
}

/// Unmasks device line `line` (an [`irq_enable`]d slave line has its cascade unmasked already):
/// the QEMU tests' unmask after a taken interrupt.
#[cfg(feature = "qemu-test")]
pub fn irq_unmask(line: u32) -> Result<(), IrqError> {
    check(line)?;
    set_masked(line, false);
    Ok(())
}

/// Whether an unmasked line (timer or device) is raised and not yet taken, because interrupts
/// are masked in the kernel: seL4's `isIRQPending`, for the dispatcher's preemption points.
pub fn irq_pending() -> bool {
    let raised = |cmd: u16, data: u16| {
        outb(cmd, 0x0a); // OCW3: the next read of the command port returns the IRR
        inb(cmd) & !inb(data)
    };
    raised(0x20, 0x21) & !(1 << CASCADE) != 0 || raised(0xa0, 0xa1) != 0
}

/// Lines taken while the kernel ran, not yet taken by [`take_kernel_irq`].
static KERNEL_TAKEN: AtomicU64 = AtomicU64::new(0);

/// Records device line `line`, taken (and masked) while the kernel ran.
pub(super) fn record_kernel_irq(line: u32) {
    KERNEL_TAKEN.fetch_or(1 << line, Ordering::Relaxed);
}

/// The lowest device line whose interrupt was taken while the kernel ran (e.g. idling in
/// `wait_for_interrupt`), removed from the record; it stays masked until the kernel unmasks it.
pub fn take_kernel_irq() -> Option<u32> {
    let bits = KERNEL_TAKEN.load(Ordering::Relaxed);
    if bits == 0 {
        return None;
    }
    let line = bits.trailing_zeros();
    KERNEL_TAKEN.fetch_and(!(1 << line), Ordering::Relaxed);
    Some(line)
}
