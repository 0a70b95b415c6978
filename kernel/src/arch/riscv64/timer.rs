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
    DEADLINE.store(now() + INTERVAL, Ordering::Relaxed);
    super::sbi::set_timer(now() + INTERVAL);
    // SAFETY: enables one interrupt source; the trap vector is installed already.
    unsafe { asm!("csrs sie, {0}", in(reg) SIE_STIE, options(nomem, nostack)) };
}

/// Counts a tick and arms the next one (the SBI call also clears the pending bit).
pub fn on_tick() {
    let t = now();
    let raised = DEADLINE.load(Ordering::Relaxed);
    LAST_RAISED.store(raised * (1_000_000_000 / TIMEBASE_HZ), Ordering::Relaxed);
    #[cfg(feature = "latency-bench")]
    MAX_LATENCY.fetch_max(t.saturating_sub(raised) * (1_000_000_000 / TIMEBASE_HZ), Ordering::Relaxed);
    TICKS.fetch_add(1, Ordering::Relaxed);
    DEADLINE.store(t + INTERVAL, Ordering::Relaxed);
    super::sbi::set_timer(t + INTERVAL);
}

/// When the armed timer interrupt is raised (`time` units).
static DEADLINE: AtomicU64 = AtomicU64::new(0);
/// The largest latency recorded since [`latency_reset`], in nanoseconds (for the latency bench).
#[cfg(feature = "latency-bench")]
static MAX_LATENCY: AtomicU64 = AtomicU64::new(0);

/// When the last tick handled was raised (its deadline), in nanoseconds.
static LAST_RAISED: AtomicU64 = AtomicU64::new(0);

/// When the timer interrupt handled last was raised, in virtual nanoseconds on the [`now_ns`]
/// clock.
pub fn last_raised_ns() -> u64 {
    LAST_RAISED.load(Ordering::Relaxed)
}

/// The clock latencies are measured on: the `time` CSR in nanoseconds (virtual nanoseconds,
/// guest instructions, under `-icount shift=0`).
pub fn now_ns() -> u64 {
    now() * (1_000_000_000 / TIMEBASE_HZ)
}

/// Starts a new latency measurement.
#[cfg(feature = "latency-bench")]
pub fn latency_reset() {
    MAX_LATENCY.store(0, Ordering::Relaxed);
}

/// The largest time from a timer interrupt being raised (its deadline) to its handler, since
/// [`latency_reset`], in virtual nanoseconds (guest instructions under `-icount shift=0`; the
/// `time` CSR's 100 ns resolution limits it to multiples of 100).
#[cfg(feature = "latency-bench")]
pub fn latency_max_ns() -> u64 {
    MAX_LATENCY.load(Ordering::Relaxed)
}
