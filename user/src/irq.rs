//! Interrupts: IRQControl hands out a handler cap per interrupt line; the handler cap binds the
//! line to a notification, which the kernel signals when the line fires, and acknowledges it.
//!
//! A user-level driver's loop:
//!
//! ```no_run
//! use gears_user::cap::{IrqHandler, Notification};
//! fn drive(handler: IrqHandler, ntfn: Notification) -> ! {
//!     loop {
//!         // A line stays masked from its interrupt until its Ack.
//!         let _ = handler.ack();
//!         ntfn.wait();
//!         // … serve the device …
//!     }
//! }
//! ```

use abi::label::{irq_control, irq_handler};

use crate::Result;
use crate::cap::{IrqControl, IrqHandler, Notification};
use crate::cnode::Slot;
use crate::invoke::invoke_unit;

impl IrqControl {
    /// `seL4_IRQControl_Get`: the handler cap of interrupt line `irq`, into `dest` (Gears'
    /// interrupt numbers: 0 is the kernel timer's tick, which it shares with one user-level
    /// driver; riscv64 numbers PLIC lines).
    pub fn get(self, irq: u64, dest: Slot) -> Result<()> {
        invoke_unit(
            self.cptr(),
            irq_control::ISSUE_IRQ_HANDLER,
            &[irq, dest.index, dest.depth],
            &[dest.cnode.cptr()],
        )
    }
}

impl IrqHandler {
    /// `seL4_IRQHandler_Ack`: unmasks the line for its next interrupt.
    pub fn ack(self) -> Result<()> {
        invoke_unit(self.cptr(), irq_handler::ACK, &[], &[])
    }

    /// `seL4_IRQHandler_SetNotification`: the line's interrupts signal `notification`.
    pub fn set_notification(self, notification: Notification) -> Result<()> {
        invoke_unit(self.cptr(), irq_handler::SET_NOTIFICATION, &[], &[notification.cptr()])
    }

    /// `seL4_IRQHandler_Clear`: the line signals no notification any more.
    pub fn clear(self) -> Result<()> {
        invoke_unit(self.cptr(), irq_handler::CLEAR, &[], &[])
    }
}
