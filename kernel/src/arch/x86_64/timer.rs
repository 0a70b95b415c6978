//! The periodic timer: PIT channel 0 through the 8259 PIC, remapped to vectors 32–47.
//!
//! Why not the LAPIC timer: the PIT needs no MMIO mapping and no calibration, ticks at a known
//! rate under QEMU's TCG and under `-icount`, and the 8259 is always present on QEMU's `pc`
//! machine. The LAPIC timer is the better choice once there are several CPUs.

use core::sync::atomic::{AtomicU64, Ordering};

use ::x86_64::instructions::port::Port;

use super::trap::PIC_BASE;
use crate::arch::Irq;

/// Timer interrupts per second.
pub const TIMER_HZ: u32 = 100;
const PIT_HZ: u32 = 1_193_182;

static TICKS: AtomicU64 = AtomicU64::new(0);

/// The number of timer interrupts since [`init`].
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

pub(super) fn outb(port: u16, value: u8) {
    // SAFETY: only the 8259 PIC (0x20/0x21/0xa0/0xa1), the PIT (0x40/0x43) and the POST delay
    // port (0x80) are written through here (by this module and `irq`); none of them touch memory.
    unsafe { Port::<u8>::new(port).write(value) };
}

pub(super) fn inb(port: u16) -> u8 {
    // SAFETY: only the 8259s' command ports (0x20/0xa0, after OCW3 selected the interrupt
    // request register), their data ports (0x21/0xa1: the interrupt mask registers) and the
    // PIT's channel 0 (0x40, after a latch command) are read through here (by this module and
    // `irq`); reading them has no side effect on memory.
    unsafe { Port::<u8>::new(port).read() }
}

fn io_wait() {
    outb(0x80, 0);
}

/// Remaps both PICs to vectors 32–47, unmasks IRQ 0 (and the cascade), starts the PIT.
pub fn init() {
    let base = PIC_BASE as u8;
    // ICW1: init, expect ICW4; ICW2: vector base; ICW3: cascade on IRQ 2; ICW4: 8086 mode.
    for (cmd, data, icw2, icw3) in [(0x20, 0x21, base, 4u8), (0xa0, 0xa1, base + 8, 2u8)] {
        outb(cmd, 0x11);
        io_wait();
        outb(data, icw2);
        io_wait();
        outb(data, icw3);
        io_wait();
        outb(data, 0x01);
        io_wait();
    }
    outb(0x21, 0b1111_1010); // master: IRQ 0 (timer) and 2 (cascade) unmasked
    outb(0xa1, 0xff); // slave: all masked

    let divisor = (PIT_HZ / TIMER_HZ) as u16;
    outb(0x43, 0x34); // channel 0, lobyte/hibyte, mode 2 (rate generator)
    outb(0x40, divisor as u8);
    outb(0x40, (divisor >> 8) as u8);
    calibrate_tsc();
}

/// If `vector` is a PIC line: masks it if it is a device line, sends the end-of-interrupt, counts
/// a timer tick, and says which line it was; if it is an MSI's, acknowledges it at the local
/// APIC and says which IRQ it is (vector - 0x20). `None` for exceptions and spurious interrupts.
pub fn acknowledge(vector: u64) -> Option<Irq> {
    if super::lapic::USER_VECTORS.contains(&vector) {
        // An MSI: acknowledged at the local APIC at once (it cannot be masked; seL4's
        // `ackInterrupt`), and handed on as IRQ vector - 0x20.
        super::lapic::eoi();
        return Some(Irq::Other((vector - PIC_BASE) as u32));
    }
    if !(PIC_BASE..PIC_BASE + 16).contains(&vector) {
        return None;
    }
    let line = (vector - PIC_BASE) as u32;
    if line != 0 {
        // A device line stays masked until the kernel unmasks it (see `irq`).
        super::irq::set_masked(line, true);
    }
    if line >= 8 {
        outb(0xa0, 0x20);
    }
    outb(0x20, 0x20);
    if line == 0 {
        record_latency();
        TICKS.fetch_add(1, Ordering::Relaxed);
        Some(Irq::Timer)
    } else {
        Some(Irq::Other(line))
    }
}

/// The time stamp counter: under QEMU's `-icount shift=0` it counts virtual nanoseconds, one per
/// guest instruction.
fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: `rdtsc` only reads the time stamp counter into EDX:EAX.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// The TSC's rate, measured against the PIT at [`init`] (ticks per second).
static TSC_HZ: AtomicU64 = AtomicU64::new(1_000_000_000);

/// The TSC's rate in MHz, as seL4's boot gives it in the extra bootinfo (measured at [`init`]).
pub fn tsc_mhz() -> u32 {
    u32::try_from(TSC_HZ.load(Ordering::Relaxed) / 1_000_000).unwrap_or(u32::MAX)
}

/// Measures the TSC's rate against the PIT's channel 0 (already counting down in mode 2): the
/// TSC delta over about 10 ms of PIT counts. Under `-icount shift=0` both run on virtual time
/// (one TSC tick per nanosecond), under plain TCG the TSC follows the host's.
fn calibrate_tsc() {
    let divisor = u64::from(PIT_HZ / TIMER_HZ);
    let read = || {
        outb(0x43, 0x00);
        u64::from(inb(0x40)) | (u64::from(inb(0x40)) << 8)
    };
    let (t0, mut last) = (rdtsc(), read());
    let mut counted = 0;
    while counted < divisor {
        let c = read();
        // The count runs down from `divisor` to 1, then reloads.
        counted += if c <= last { last - c } else { last + divisor - c };
        last = c;
    }
    let delta = rdtsc() - t0;
    let hz = u128::from(delta) * u128::from(PIT_HZ) / u128::from(counted);
    TSC_HZ.store((hz as u64).max(1), Ordering::Relaxed);
}

/// Nanoseconds for `tsc` TSC ticks.
fn tsc_to_ns(tsc: u64) -> u64 {
    (u128::from(tsc) * 1_000_000_000 / u128::from(TSC_HZ.load(Ordering::Relaxed))) as u64
}

/// When the previous tick was handled (ns on the [`now_ns`] clock).
static LAST_HANDLED: AtomicU64 = AtomicU64::new(0);
/// The largest latency recorded since [`latency_reset`] (for the latency bench).
#[cfg(feature = "latency-bench")]
static MAX_LATENCY: AtomicU64 = AtomicU64::new(0);

/// Records how long ago the timer interrupt being handled was raised, in nanoseconds on the
/// [`now_ns`] clock (virtual nanoseconds = guest instructions under `-icount shift=0`).
///
/// The PIT (mode 2) raises IRQ 0 at every reload; its latched count says how far the current
/// period has gone, so the latest raise is `now - elapsed`. Raises coalesce while the interrupt
/// is masked, so the one being handled is the first after the previous tick was handled: whole
/// periods are stepped back from the latest raise until just after that.
fn record_latency() {
    let now = now_ns();
    outb(0x43, 0x00); // latch channel 0's count
    let count = u64::from(inb(0x40)) | (u64::from(inb(0x40)) << 8);
    let divisor = u64::from(PIT_HZ / TIMER_HZ);
    let elapsed_ns = divisor.saturating_sub(count) * 1_000_000_000 / u64::from(PIT_HZ);
    let period_ns = divisor * 1_000_000_000 / u64::from(PIT_HZ);
    let latest = now.saturating_sub(elapsed_ns);
    let prev = LAST_HANDLED.swap(now, Ordering::Relaxed);
    let missed = if prev != 0 && latest > prev { (latest - prev) / period_ns } else { 0 };
    let raised = latest - missed * period_ns;
    LAST_RAISED.store(raised, Ordering::Relaxed);
    #[cfg(feature = "latency-bench")]
    MAX_LATENCY.fetch_max(now - raised, Ordering::Relaxed);
}

/// When the last timer interrupt handled was raised (ns, see [`record_latency`]).
static LAST_RAISED: AtomicU64 = AtomicU64::new(0);

/// When the timer interrupt handled last was raised, in virtual nanoseconds (guest
/// instructions under `-icount shift=0`), on the [`now_ns`] clock.
pub fn last_raised_ns() -> u64 {
    LAST_RAISED.load(Ordering::Relaxed)
}

/// The clock latencies are measured on: the TSC in nanoseconds (its rate measured against the
/// PIT at boot; virtual nanoseconds, one per guest instruction, under `-icount shift=0`).
pub fn now_ns() -> u64 {
    tsc_to_ns(rdtsc())
}

/// Starts a new latency measurement.
#[cfg(feature = "latency-bench")]
pub fn latency_reset() {
    MAX_LATENCY.store(0, Ordering::Relaxed);
}

/// The largest timer-interrupt latency since [`latency_reset`], in virtual nanoseconds (guest
/// instructions under `-icount shift=0`).
#[cfg(feature = "latency-bench")]
pub fn latency_max_ns() -> u64 {
    MAX_LATENCY.load(Ordering::Relaxed)
}
