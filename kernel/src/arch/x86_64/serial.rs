//! The serial console: COM1 through `uart_16550`, plus a lock-free raw path for panics.

use core::fmt::Write as _;

use spin::Mutex;
use uart_16550::Uart16550Tty;
use uart_16550::backend::PioBackend;

const COM1: u16 = 0x3f8;

static SERIAL: Mutex<Option<Uart16550Tty<PioBackend>>> = Mutex::new(None);

/// Initialises COM1 (115200 8N1 by the crate's default config).
pub fn init() {
    // SAFETY: COM1 at 0x3f8 exists on every PC QEMU emulates; only this module touches its
    // ports (the raw panic path below writes the data register only when the lock is stuck).
    let uart = unsafe { Uart16550Tty::new_port(COM1, uart_16550::Config::default()) };
    if let Ok(uart) = uart {
        *SERIAL.lock() = Some(uart);
    }
}

/// Writes `s` to the console (dropped silently before [`init`]).
pub fn console_write(s: &str) {
    let mut guard = SERIAL.lock();
    if let Some(uart) = guard.as_mut() {
        let _ = uart.write_str(s);
    }
}

/// Writes `bytes` as they are (no newline translation): the trace frames of `--trace`.
pub fn console_write_bytes(bytes: &[u8]) {
    let mut guard = SERIAL.lock();
    if let Some(uart) = guard.as_mut() {
        uart.inner_mut().send_bytes_exact(bytes);
    }
}

/// Writes `s` without taking the console lock: for the panic handler, which may have
/// interrupted a holder of the lock.
pub fn console_write_raw(s: &str) {
    if let Some(mut guard) = SERIAL.try_lock()
        && let Some(uart) = guard.as_mut()
    {
        let _ = uart.write_str(s);
        return;
    }
    for b in s.bytes() {
        if b == b'\n' {
            raw_byte(b'\r');
        }
        raw_byte(b);
    }
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
