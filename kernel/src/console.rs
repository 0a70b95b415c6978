//! The kernel console: `kprintln!` over the arch's serial port, and the typed reports the host
//! reads ([`report`], [`fatal`]): `metagears::wire` frames between the console text.

use core::fmt;

use metagears::wire::{Report, ShortText, send_report};

use crate::ExitCode;

/// The console as a `fmt::Write` (takes the console lock per write).
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        crate::arch::console_write(s);
        Ok(())
    }
}

/// Tells the host `report`, as one frame written under the console lock.
pub fn report(report: Report<'_>) {
    send_report(report, crate::arch::console_write_bytes);
}

/// The kernel cannot go on (a panic, an exception in the kernel): tells the host why, without
/// waiting for the console lock (its holder may be what broke) nor allocating, and leaves QEMU
/// with [`ExitCode::Failure`].
pub fn fatal(why: fmt::Arguments<'_>) -> ! {
    crate::arch::interrupts_disable();
    let message = ShortText::of(&why);
    send_report(Report::Panic { message: message.as_str().into() }, crate::arch::console_write_raw);
    crate::arch::exit_qemu(ExitCode::Failure)
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
