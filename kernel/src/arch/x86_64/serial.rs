//! The serial console: COM1 through `uart_16550`, plus a lock-free raw path for panics.

use uart_16550::Uart16550Tty;
use uart_16550::backend::PioBackend;

use crate::arch::console::Console;

const COM1: u16 = 0x3f8;
/// COM1's ISA interrupt line (8259 master, IRQ 4), which the QEMU tests raise.
#[cfg(feature = "qemu-test")]
pub const CONSOLE_IRQ: u32 = 4;

static SERIAL: Console<PioBackend> = Console::new();

/// Initialises COM1 (115200 8N1 by the crate's default config).
pub fn init() {
    // SAFETY: COM1 at 0x3f8 exists on every PC QEMU emulates; only this module touches its
    // ports (the raw panic path below writes the data register only when the lock is stuck).
    let uart = unsafe { Uart16550Tty::new_port(COM1, uart_16550::Config::default()) };
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

/// Turns COM1's transmitter-holding-register-empty interrupt (IER bit 1) on or off: with the
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
    use ::x86_64::instructions::port::Port;
    let mut lsr: Port<u8> = Port::new(COM1 + 5);
    let mut data: Port<u8> = Port::new(COM1);
    // SAFETY: reading COM1's line status register and writing its data register have no effect
    // on memory; a byte interleaved with a stuck writer's output is acceptable in a panic.
    unsafe {
        for _ in 0..100_000 {
            if lsr.read() & 0x20 != 0 {
                break;
            }
        }
        data.write(b);
    }
}
