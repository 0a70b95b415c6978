//! The kernel console: `kprintln!` over the arch's serial port.

use core::fmt;

/// The console as a `fmt::Write` (takes the console lock per write).
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::arch::console_write(s);
        Ok(())
    }
}

/// The console without its lock, for the panic handler.
pub struct Raw;

impl fmt::Write for Raw {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::arch::console_write_raw(s);
        Ok(())
    }
}

/// Formats to the console; used by `kprintln!`.
pub fn print(args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut Console, args);
}

/// Prints a line to the kernel console.
macro_rules! kprintln {
    () => { $crate::console::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
