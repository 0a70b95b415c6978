//! The serial console: QEMU virt's NS16550A at physical 0x1000_0000 (reached through the
//! kernel's physical window) through `uart_16550`'s MMIO backend.

use core::ptr::NonNull;

use uart_16550::Uart16550Tty;
use uart_16550::backend::MmioBackend;

use super::paging::phys_to_virt;
use crate::arch::console::Console;

/// The UART's physical address.
const UART_PHYS: u64 = 0x1000_0000;
/// The UART's PLIC source on QEMU virt, which the QEMU tests raise.
#[cfg(feature = "qemu-test")]
pub const CONSOLE_IRQ: u32 = 10;

static SERIAL: Console<MmioBackend> = Console::new();

/// Initialises the UART (registers one byte apart on QEMU virt).
pub fn init() {
    let Some(base) = NonNull::new(phys_to_virt(UART_PHYS)) else { return };
    // SAFETY: QEMU virt has a 16550 at physical 0x1000_0000 with stride 1, mapped at
    // `phys_to_virt` in the kernel's table and every user space's; only this module touches it.
    let uart = unsafe { Uart16550Tty::new_mmio(base, 1, uart_16550::Config::default()) };
    if let Ok(uart) = uart {
        SERIAL.install(uart);
    }
}

/// Writes `s` to the console (dropped silently before [`init`]).
pub fn console_write(s: &str) {
    SERIAL.write(s);
}

/// Writes `bytes` as they are (no newline translation): the trace frames of `--trace`.
pub fn console_write_bytes(bytes: &[u8]) {
    SERIAL.write_bytes(bytes);
}

/// Turns the UART's transmitter-holding-register-empty interrupt (IER bit 1) on or off: with the
/// transmitter idle it raises [`CONSOLE_IRQ`] at once, which lets tests drive a real device
/// interrupt without host input.
#[cfg(feature = "qemu-test")]
pub fn console_tx_empty_interrupt(on: bool) {
    SERIAL.tx_empty_interrupt(on);
}

/// Writes `bytes` as they are without taking the console lock: for a fatal report, which may
/// have interrupted a holder of the lock.
pub fn console_write_raw(bytes: &[u8]) {
    SERIAL.write_bytes_raw(bytes, raw_byte);
}

fn raw_byte(b: u8) {
    let base = phys_to_virt(UART_PHYS);
    // SAFETY: the UART's line status (offset 5) and data (offset 0) registers, mapped at
    // `phys_to_virt`; a
    // byte interleaved with a stuck writer's output is acceptable in a panic.
    unsafe {
        for _ in 0..100_000 {
            if core::ptr::read_volatile(base.add(5)) & 0x20 != 0 {
                break;
            }
        }
        core::ptr::write_volatile(base, b);
    }
}
