//! The periodic timer: the SBI timer (`sbi_set_timer`), re-armed on every tick.
//!
//! QEMU virt's `time` CSR counts at 10 MHz.

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

/// Timer interrupts per second.
pub const TIMER_HZ: u32 = 100;
const TIMEBASE_HZ: u64 = 10_000_000;
const INTERVAL: u64 = TIMEBASE_HZ / TIMER_HZ as u64;
/// sie.STIE: the supervisor timer interrupt enable.
const SIE_STIE: u64 = 1 << 5;

static TICKS: AtomicU64 = AtomicU64::new(0);

/// The number of timer interrupts since [`init`].
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

fn now() -> u64 {
    let t: u64;
    // SAFETY: reads the `time` CSR (OpenSBI lets S-mode read it); no side effects.
    unsafe { asm!("rdtime {0}", out(reg) t, options(nomem, nostack)) };
    t
}

/// Arms the first tick and enables the timer interrupt (taken when sstatus.SIE or in U-mode).
pub fn init() {
    super::sbi::set_timer(now() + INTERVAL);
    // SAFETY: enables one interrupt source; the trap vector is installed already.
    unsafe { asm!("csrs sie, {0}", in(reg) SIE_STIE, options(nomem, nostack)) };
}

/// Whether the timer interrupt is pending (sip.STIP): raised by the SBI timer and not yet taken,
/// because interrupts are masked in the kernel. seL4's preemption point asks this.
pub fn irq_pending() -> bool {
    let sip: u64;
    // SAFETY: reads the sip CSR; no side effects.
    unsafe { asm!("csrr {0}, sip", out(reg) sip, options(nomem, nostack)) };
    sip & SIE_STIE != 0
}

/// Counts a tick and arms the next one (the SBI call also clears the pending bit).
pub fn on_tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
    super::sbi::set_timer(now() + INTERVAL);
}
