//! The serial console both architectures share: a `uart_16550` TTY behind a spin lock, and a
//! lock-free raw path for the panic handler. Each architecture supplies the device (port I/O on
//! x86_64, MMIO on riscv64) and its raw byte writer.

use core::fmt::Write as _;

use spin::Mutex;
use uart_16550::Uart16550Tty;
use uart_16550::backend::Backend;
#[cfg(feature = "qemu-test")]
use uart_16550::spec::registers::IER;

/// A serial console over a `uart_16550` backend; writes are dropped until a device is installed.
pub struct Console<B: Backend> {
    uart: Mutex<Option<Uart16550Tty<B>>>,
}

impl<B: Backend> Console<B> {
    /// A console with no device yet.
    pub const fn new() -> Self {
        Console { uart: Mutex::new(None) }
    }

    /// Installs the initialised device.
    pub fn install(&self, uart: Uart16550Tty<B>) {
        *self.uart.lock() = Some(uart);
    }

    /// Writes `s` (dropped silently before a device is installed).
    pub fn write(&self, s: &str) {
        if let Some(uart) = self.uart.lock().as_mut() {
            let _ = uart.write_str(s);
        }
    }

    /// Writes `bytes` as they are (no newline translation): the trace frames of `--trace`.
    pub fn write_bytes(&self, bytes: &[u8]) {
        if let Some(uart) = self.uart.lock().as_mut() {
            uart.inner_mut().send_bytes_exact(bytes);
        }
    }

    /// Turns the transmitter-holding-register-empty interrupt (IER bit 1) on or off (the QEMU
    /// tests' device interrupt).
    #[cfg(feature = "qemu-test")]
    pub fn tx_empty_interrupt(&self, on: bool) {
        if let Some(uart) = self.uart.lock().as_mut() {
            let uart = uart.inner_mut();
            if on {
                uart.enable_interrupts(IER::THR_EMPTY);
            } else {
                uart.disable_interrupts(IER::THR_EMPTY);
            }
        }
    }

    /// Writes `bytes` as they are without waiting for the lock: for a fatal report, which may
    /// have interrupted a holder of the lock. Falls back to `raw_byte` when the lock is held.
    pub fn write_bytes_raw(&self, bytes: &[u8], raw_byte: fn(u8)) {
        if let Some(mut guard) = self.uart.try_lock()
            && let Some(uart) = guard.as_mut()
        {
            uart.inner_mut().send_bytes_exact(bytes);
            return;
        }
        bytes.iter().for_each(|&b| raw_byte(b));
    }
}
