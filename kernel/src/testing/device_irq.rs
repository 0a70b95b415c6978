//! Device interrupts through the arch facade, driven by the console UART's
//! transmitter-holding-register-empty interrupt (no host input needed): with the transmitter
//! idle, setting IER bit 1 raises the UART's line at once and keeps it up.

use super::checks::Check;
use super::checks::Program;
use crate::arch::{self, Irq, Trap};

/// Idles in `wait_for_interrupt` until a device line is taken in kernel mode, at most `ticks`
/// timer ticks; returns it.
fn idle_until_device_irq(ticks: u64) -> Option<u32> {
    let start = arch::ticks();
    loop {
        if let Some(line) = arch::take_kernel_irq() {
            return Some(line);
        }
        if arch::ticks() >= start + ticks {
            return None;
        }
        arch::wait_for_interrupt();
    }
}

/// Turns the UART's interrupt off, masks its line and forgets anything taken meanwhile.
fn quiesce(line: u32) {
    arch::console_tx_empty_interrupt(false);
    let _ = arch::irq_mask(line);
    while arch::take_kernel_irq().is_some() {}
}

/// The UART's line is raised, taken while the kernel idles, masked until unmasked, and (its claim
/// completed) taken again after unmasking.
pub fn uart_interrupt_taken_masked_and_completed() -> Check {
    let line = arch::CONSOLE_IRQ;
    quiesce(line);
    arch::irq_enable(line).map_err(|_| "irq_enable refused the UART's line")?;
    arch::console_tx_empty_interrupt(true);
    let pending = arch::irq_pending();
    let result = (|| {
        if !pending {
            return Err("irq_pending() was false with the UART's interrupt raised");
        }
        match idle_until_device_irq(20) {
            Some(l) if l == line => {}
            Some(_) => return Err("another device line was taken"),
            None => return Err("the UART's interrupt was not taken while the kernel idled"),
        }
        // Taken lines stay masked. Printing makes the UART raise its line again (the write
        // empties the transmitter and then it is empty again; QEMU's PLIC only pends on such a
        // change), yet idling through three ticks must not take it.
        kprintln!(
            "device irq: line {line} taken once while idling; masked now, and this line raises it again"
        );
        if idle_until_device_irq(3).is_some() {
            return Err("the UART's line was taken again while masked");
        }
        let mut taken = 1;
        // Unmasking delivers the waiting request, which the PLIC forwards only if the first
        // claim was completed.
        arch::irq_unmask(line).map_err(|_| "irq_unmask refused the UART's line")?;
        match idle_until_device_irq(20) {
            Some(l) if l == line => taken += 1,
            _ => return Err("no second interrupt after unmasking: the first was not completed"),
        }
        kprintln!("device irq: line {line} taken {taken} times in kernel mode (claim, mask, complete)");
        Ok(())
    })();
    quiesce(line);
    result
}

/// A device interrupt that arrives while a user thread runs comes back from `run` as
/// `Trap::Interrupt(Irq::Other(line))`.
pub fn device_interrupt_in_user_mode() -> Check {
    let line = arch::CONSOLE_IRQ;
    let mut t = Program::load(arch::programs::spin())?;
    quiesce(line);
    arch::irq_enable(line).map_err(|_| "irq_enable refused the UART's line")?;
    arch::console_tx_empty_interrupt(true);
    let mut result = Err("the spinning user thread never stopped for the UART's interrupt");
    for _ in 0..20 {
        match t.run() {
            Trap::Interrupt(Irq::Timer) => continue,
            Trap::Interrupt(Irq::Other(l)) if l == line => {
                result = Ok(());
                break;
            }
            _ => {
                result = Err("the spinning user thread stopped for something else");
                break;
            }
        }
    }
    quiesce(line);
    if result.is_ok() {
        kprintln!("device irq: line {line} arrived in user mode as Trap::Interrupt(Irq::Other({line}))");
    }
    result
}
