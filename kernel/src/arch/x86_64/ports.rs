//! I/O ports for user drivers: the accesses an IOPort cap's In and Out invocations ask for, and
//! the ports the kernel drives itself, which no IOPort cap may reach.

use x86_64::instructions::port::Port;

/// The I/O port ranges (first, last) the kernel drives itself: the 8259 PICs' command and data
/// ports (the kernel masks and acknowledges their lines), the 8254 PIT (its channel 0 is the
/// kernel's tick) and QEMU's `isa-debug-exit` (the kernel's way out of QEMU). In use from boot,
/// so an IOPortControl Issue that meets one fails with RevokeFirst.
///
/// COM1 (0x3f8-0x3ff), the kernel's console, is not among them: as on seL4, whose debug kernel
/// prints through COM1 too, a root task may take it for its own serial driver (seL4's
/// benchmark prints its results so). What it writes there can interleave with the kernel's
/// lines; the kernel never reads the port.
pub const KERNEL_IO_PORTS: &[(u16, u16)] = &[(0x20, 0x21), (0x40, 0x43), (0xa0, 0xa1), (0xf4, 0xf7)];

/// `out` of the low `width` bytes (1, 2 or 4) of `value` to `port`.
pub fn port_out(port: u16, width: u8, value: u32) {
    // SAFETY: the port lies inside the range of an IOPort cap the caller's thread invoked, which
    // never meets `KERNEL_IO_PORTS`: the device behind it belongs to that user driver, and an
    // access to a port changes no memory the kernel relies on.
    unsafe {
        match width {
            1 => Port::<u8>::new(port).write(value as u8),
            2 => Port::<u16>::new(port).write(value as u16),
            _ => Port::<u32>::new(port).write(value),
        }
    }
}

/// `in` of `width` bytes (1, 2 or 4) from `port`.
pub fn port_in(port: u16, width: u8) -> u32 {
    // SAFETY: as for `port_out`: a port of the invoking thread's IOPort cap.
    unsafe {
        match width {
            1 => u32::from(Port::<u8>::new(port).read()),
            2 => u32::from(Port::<u16>::new(port).read()),
            _ => Port::<u32>::new(port).read(),
        }
    }
}
