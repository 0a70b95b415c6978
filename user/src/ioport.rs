//! x86_64's I/O ports: IOPortControl (slot 7 of the root task's CNode) hands out a cap per range
//! of ports that no other cap holds; an IOPort cap reads and writes the ports in its range.
//!
//! A driver of a 16550 UART's scratch register:
//!
//! ```no_run
//! use gears_user::cap::init_thread;
//! fn scratch(dest: gears_user::cnode::Slot) -> gears_user::Result<u8> {
//!     let com1 = gears_user::cap::IoPort::from_cptr(dest.index);
//!     init_thread::IO_PORT_CONTROL.issue(0x3f8, 0x3ff, dest)?;
//!     com1.out8(0x3ff, 0x5a)?;
//!     com1.in8(0x3ff)
//! }
//! ```

use abi::x86_64::label;

use crate::Result;
use crate::cap::{IoPort, IoPortControl};
use crate::cnode::Slot;
use crate::invoke::{invoke, invoke_unit};

impl IoPortControl {
    /// `seL4_X86_IOPortControl_Issue`: a cap to the ports `first..=last`, into `dest`.
    /// `RevokeFirst` if another cap holds one of them (or the kernel drives it: the PICs, the
    /// PIT, QEMU's exit port).
    pub fn issue(self, first: u16, last: u16, dest: Slot) -> Result<()> {
        invoke_unit(
            self.cptr(),
            label::IO_PORT_CONTROL_ISSUE,
            &[first.into(), last.into(), dest.index, dest.depth],
            &[dest.cnode.cptr()],
        )
    }
}

impl IoPort {
    fn read(self, l: u64, port: u16) -> Result<u64> {
        invoke(self.cptr(), l, &[port.into()], &[]).map(|r| r.word(0))
    }

    /// `seL4_X86_IOPort_In8`: a byte from `port`.
    pub fn in8(self, port: u16) -> Result<u8> {
        self.read(label::IO_PORT_IN8, port).map(|w| w as u8)
    }

    /// `seL4_X86_IOPort_In16`: 16 bits from `port`.
    pub fn in16(self, port: u16) -> Result<u16> {
        self.read(label::IO_PORT_IN16, port).map(|w| w as u16)
    }

    /// `seL4_X86_IOPort_In32`: 32 bits from `port`.
    pub fn in32(self, port: u16) -> Result<u32> {
        self.read(label::IO_PORT_IN32, port).map(|w| w as u32)
    }

    /// `seL4_X86_IOPort_Out8`: a byte to `port`.
    pub fn out8(self, port: u16, value: u8) -> Result<()> {
        invoke_unit(self.cptr(), label::IO_PORT_OUT8, &[port.into(), value.into()], &[])
    }

    /// `seL4_X86_IOPort_Out16`: 16 bits to `port`.
    pub fn out16(self, port: u16, value: u16) -> Result<()> {
        invoke_unit(self.cptr(), label::IO_PORT_OUT16, &[port.into(), value.into()], &[])
    }

    /// `seL4_X86_IOPort_Out32`: 32 bits to `port`.
    pub fn out32(self, port: u16, value: u32) -> Result<()> {
        invoke_unit(self.cptr(), label::IO_PORT_OUT32, &[port.into(), value.into()], &[])
    }
}
