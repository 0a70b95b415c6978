//! Device lines of the 8259 PIC pair (ISA IRQs 1–15; 0 is the timer's, 2 the cascade), and the
//! IRQs of MSIs (16–123, vectors 0x30–155), which the local APIC delivers and which cannot be
//! masked (seL4's `maskInterrupt` does nothing for them either).
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

/// The MSI IRQs.
const MSI_LINES: core::ops::RangeInclusive<u32> = 16..=123;

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
    if MSI_LINES.contains(&line) {
        return Ok(());
    }
    check(line)?;
    if line >= 8 {
        set_masked(CASCADE, false);
    }
    set_masked(line, false);
    Ok(())
}

/// Masks device line `line` in its PIC; a request raised meanwhile waits in the IRR.
pub fn irq_mask(line: u32) -> Result<(), IrqError> {
    if MSI_LINES.contains(&line) {
        return Ok(());
    }
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
    raised(0x20, 0x21) & !(1 << CASCADE) != 0
        || raised(0xa0, 0xa1) != 0
        || super::lapic::user_vector_pending()
}

/// Lines taken while the kernel ran, not yet taken by [`take_kernel_irq`] (bit `line % 64` of
/// word `line / 64`).
static KERNEL_TAKEN: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Records device line `line` (below 128), taken (and masked, if a PIC's) while the kernel ran.
pub(super) fn record_kernel_irq(line: u32) {
    if let Some(word) = KERNEL_TAKEN.get(line as usize / 64) {
        word.fetch_or(1 << (line % 64), Ordering::Relaxed);
    }
}

/// The lowest device line whose interrupt was taken while the kernel ran (e.g. idling in
/// `wait_for_interrupt`), removed from the record; it stays masked until the kernel unmasks it.
pub fn take_kernel_irq() -> Option<u32> {
    KERNEL_TAKEN.iter().enumerate().find_map(|(i, word)| {
        let bits = word.load(Ordering::Relaxed);
        (bits != 0).then(|| {
            let bit = bits.trailing_zeros();
            word.fetch_and(!(1 << bit), Ordering::Relaxed);
            i as u32 * 64 + bit
        })
    })
}
