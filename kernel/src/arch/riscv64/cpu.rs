//! Small CPU operations: the interrupt enable bit, `wfi`, the QEMU exit device.

use core::arch::asm;

use crate::ExitCode;

/// sstatus.SIE: interrupts enabled in S-mode.
const SSTATUS_SIE: u64 = 1 << 1;

/// Disables interrupts in S-mode; returns whether they were enabled.
pub fn interrupts_disable() -> bool {
    let old: u64;
    // SAFETY: clears sstatus.SIE and reads the old value; no memory is touched.
    unsafe { asm!("csrrc {0}, sstatus, {1}", out(reg) old, in(reg) SSTATUS_SIE, options(nomem, nostack)) };
    old & SSTATUS_SIE != 0
}

/// Waits for an interrupt (returning at once if one is pending), takes it, and masks
/// interrupts again.
///
/// `wfi` comes first, with SIE still clear: it resumes when an interrupt enabled in `sie` is
/// pending, whatever SIE says. Setting SIE first would take a pending interrupt before the `wfi`,
/// which would then sleep until the next one (a whole timer period).
pub fn wait_for_interrupt() {
    // SAFETY: `wfi` only waits; setting SIE lets the trap vector (installed at boot) take the
    // pending interrupt right there, then SIE is cleared again.
    unsafe {
        asm!("wfi", "csrs sstatus, {0}", "csrc sstatus, {0}", in(reg) SSTATUS_SIE, options(nomem, nostack));
    }
}

/// The SiFive test device on QEMU virt (its physical address): 0x5555 passes (QEMU exits 0),
/// `(code << 16) | 0x3333` fails with exit status `code` (never 0, which would read as a pass).
const TEST_DEVICE: u64 = 0x10_0000;

/// Leaves QEMU: exit status 0 for success, 1 for failure.
pub fn exit_qemu(code: ExitCode) -> ! {
    let value: u32 = match code {
        ExitCode::Success => 0x5555,
        ExitCode::Failure => (1 << 16) | 0x3333,
    };
    // SAFETY: the test device's register is mapped at `phys_to_virt` (in the kernel's table and
    // in every user space); writing it ends the VM.
    unsafe { core::ptr::write_volatile(super::paging::phys_to_virt(TEST_DEVICE) as *mut u32, value) };
    loop {
        interrupts_disable();
        // SAFETY: waiting with interrupts masked just parks the hart.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}
