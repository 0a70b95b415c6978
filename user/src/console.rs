//! The console: text through `seL4_DebugPutChar`, a byte per call, with [`print!`](crate::print)
//! and [`println!`](crate::println) as in `std`.
//!
//! ```no_run
//! use gears_user::println;
//! println!("{} untypeds", 12);
//! ```
//!
//! Each byte is one system call and nothing is buffered, so lines of two threads printing at
//! once can interleave.

use core::fmt;

use crate::debug::put_char;

/// The kernel's debug console as a [`fmt::Write`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(put_char);
        Ok(())
    }
}

/// Writes formatted text to the console (what [`print!`](crate::print) expands to).
pub fn print(args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut Console, args);
}

/// Prints to the kernel's console, as `std::print!` does to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(::core::format_args!($($arg)*)) };
}

/// Prints a line to the kernel's console, as `std::println!` does to standard output.
#[macro_export]
macro_rules! println {
    () => { $crate::console::print(::core::format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(::core::format_args!("{}\n", ::core::format_args!($($arg)*))) };
}
