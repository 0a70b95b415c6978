//! The machine under the capability kernel: what `codegears::entry` asks of the hardware.

use codegears::entry::Machine;
use codegears::interrupt::{IRQ_TIMER, max_irq};
use codegears::machine::MachineOp;
#[cfg(feature = "checks")]
use codegears::machine::Pte;

use crate::arch;

/// The hardware as the kernel entry sees it: machine ops carried out by the arch layer, the
/// interrupts taken and not yet handled (at most one pending per line: a bit each), and the
/// console for `seL4_DebugPutChar`.
#[derive(Debug, Default)]
pub struct HwMachine {
    /// Lines 0..=`max_irq` taken and not yet handled (bit `irq`; the timer is line 0).
    pending: u128,
    /// Interrupts the entry took through [`Machine::active_irq`] (after a preemption) since the
    /// driver last asked.
    taken_in_entry: u64,
    /// Machine ops that changed a paging structure (cleared it, copied the kernel's entries
    /// into it, wrote an entry) since the driver last asked.
    tables_changed: u64,
}

const _: () = assert!(max_irq(abi::Arch::native()) < 128);

impl HwMachine {
    /// Waits with interrupts open until one is taken (at once if one is pending), then notes
    /// what came: a tick of the kernel's timer, and every device line taken in the kernel.
    pub fn wait(&mut self) {
        let ticks = arch::ticks();
        arch::wait_for_interrupt();
        if arch::ticks() != ticks {
            self.note(IRQ_TIMER);
        }
        self.note_kernel_lines();
    }

    /// Notes the device lines the arch layer took while the kernel ran.
    pub fn note_kernel_lines(&mut self) {
        while let Some(line) = arch::take_kernel_irq() {
            if u64::from(line) <= max_irq(abi::Arch::native()) {
                self.note(line as u16);
            }
        }
    }

    /// Notes that `irq` was taken.
    pub fn note(&mut self, irq: u16) {
        self.pending |= 1 << irq;
    }

    /// How many interrupts the entry took itself (after preemptions) since the last call.
    pub fn take_taken_in_entry(&mut self) -> u64 {
        core::mem::take(&mut self.taken_in_entry)
    }

    /// How many machine ops changed a paging structure since the last call.
    pub fn take_tables_changed(&mut self) -> u64 {
        core::mem::take(&mut self.tables_changed)
    }

    /// The next interrupt taken and not handled (the timer first), now handled.
    pub fn take(&mut self) -> Option<u16> {
        if self.pending == 0 {
            return None;
        }
        let irq = self.pending.trailing_zeros() as u16;
        self.pending &= !(1 << irq);
        Some(irq)
    }
}

impl Machine for HwMachine {
    fn apply(&mut self, op: MachineOp) {
        self.tables_changed += u64::from(op.changes_tables());
        match op {
            // Cleared already through the capability kernel's `PhysMem`, which is this RAM.
            MachineOp::Zero { .. } => {}
            MachineOp::CopyGlobalMappings { root } => arch::copy_global_mappings(root),
            // Written already, in the hardware's format, into the table's memory through the
            // capability kernel's `PhysMem`, which is this RAM; the flushes that follow it drop
            // what the TLB cached.
            MachineOp::WriteEntry { .. } => {}
            MachineOp::Flush { root, vaddr } => arch::flush_user(root, vaddr),
            // The timer is the kernel's own line (shared with a driver through its notification
            // only): it is never masked. A line the controller does not have (BadLine) has
            // nothing to mask.
            MachineOp::MaskIrq { irq, .. } if irq == IRQ_TIMER => {}
            MachineOp::MaskIrq { irq, masked: true } => {
                let _ = arch::irq_mask(u32::from(irq));
            }
            MachineOp::MaskIrq { irq, masked: false } => {
                let _ = arch::irq_enable(u32::from(irq));
            }
            MachineOp::PortOut { port, width, value } => arch::port_out(port, width, value),
            // The kernel entry asks `port_in` for a read, and never hands it here.
            MachineOp::PortIn { port, width, .. } => {
                arch::port_in(port, width);
            }
        }
    }

    fn active_irq(&mut self) -> Option<u16> {
        if self.pending == 0 {
            self.wait();
        }
        let irq = self.take();
        self.taken_in_entry += u64::from(irq.is_some());
        irq
    }

    fn debug_put_char(&mut self, c: u8) {
        arch::console_write_bytes(&[c]);
    }

    fn port_in(&mut self, port: u16, width: u8) -> u32 {
        arch::port_in(port, width)
    }
}

/// The hardware page tables as the mapping invariant reads them (the test and fuzz kernels check it).
#[cfg(feature = "checks")]
pub struct HwTables;

#[cfg(feature = "checks")]
impl codegears::vspace_invariants::HardwareTables for HwTables {
    fn entry(&self, table: u64, index: u16, _level: u8) -> Pte {
        let word = arch::read_table_word(table, index);
        codegears::vspace::Entry::from_word(word, abi::Arch::native()).map_or(Pte::Invalid, |e| e.pte())
    }
}
