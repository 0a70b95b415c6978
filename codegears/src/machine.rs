//! Machine effects as data: the gears write objects, slots and paging entries into memory
//! themselves, and record what else the hardware must see (TLB flushes, the kernel's global
//! entries in a new root, interrupt masks), in order, with the writes that matter to it, in the
//! per-invocation [`MachineOps`] DataGear. The real kernel's arch layer drains and applies them
//! after each dispatcher run; each op is recorded by the gear that makes the change, atomically,
//! so applying them after the run is right even when the call is later preempted. The host
//! tests replay them on a model of the hardware tables to check that they say what changed.

use alloc::vec::Vec;

/// One effect on the machine.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MachineOp {
    /// 2^bits bytes at physical address `paddr` were set to zero (an unmapped paging structure,
    /// which seL4 clears; the gears cleared it through their memory).
    Zero {
        /// The physical address.
        paddr: u64,
        /// log2 of the size.
        bits: u8,
    },
    /// `copyGlobalMappings`: a VSpace root at `root` gets the kernel's own entries (done when it
    /// is assigned an ASID).
    CopyGlobalMappings {
        /// The VSpace root's physical address.
        root: u64,
    },
    /// Entry `index` (0..512) of the paging structure at physical address `table` was written
    /// (into its memory, by the gear that records this): what a user thread now sees there.
    WriteEntry {
        /// The paging structure's physical address.
        table: u64,
        /// The entry's index.
        index: u16,
        /// What to write.
        entry: Pte,
    },
    /// Drop cached translations of `vaddr` in the VSpace rooted at `root` (all of them if None).
    Flush {
        /// The VSpace root's physical address.
        root: u64,
        /// The virtual address, or every address.
        vaddr: Option<u64>,
    },
    /// `maskInterrupt`: mask (or unmask) IRQ line `irq` at the interrupt controller. An IRQ gets
    /// a handler unmasked, is masked when it is delivered until the handler acknowledges it, and
    /// is masked again when its handler is deleted.
    MaskIrq {
        /// The IRQ.
        irq: u16,
        /// Masked (true) or unmasked.
        masked: bool,
    },
    /// x86_64 `out`: write the low `width` bytes (1, 2 or 4) of `value` to I/O port `port`.
    PortOut {
        /// The port.
        port: u16,
        /// Bytes written.
        width: u8,
        /// The value (no bits above the width).
        value: u32,
    },
    /// x86_64 `in`: read `width` bytes (1, 2 or 4) from I/O port `port`. The kernel entry asks
    /// the machine for the value ([`Machine::port_in`](crate::entry::Machine::port_in)) and, if
    /// `reply`, gives `thread` the one-word reply holding it.
    PortIn {
        /// The port.
        port: u16,
        /// Bytes read.
        width: u8,
        /// The thread that asked.
        thread: crate::cap::ObjPtr,
        /// Whether it waits for the value (`seL4_Call`).
        reply: bool,
    },
}

impl MachineOp {
    /// Whether the op changes a paging structure (clears memory that may be one, copies the
    /// kernel's entries into a root, or writes an entry): the ops after which the hardware
    /// tables are worth checking against the caps.
    pub const fn changes_tables(&self) -> bool {
        matches!(
            self,
            MachineOp::Zero { .. } | MachineOp::CopyGlobalMappings { .. } | MachineOp::WriteEntry { .. }
        )
    }
}

/// A paging-structure entry, arch-neutral: the arch layer encodes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Pte {
    /// Not present.
    Invalid,
    /// A pointer to the next-level paging structure at `paddr` (user-accessible).
    Table {
        /// The next-level structure's physical address.
        paddr: u64,
    },
    /// A user page of 2^size_bits bytes at `paddr`.
    Page {
        /// The frame's physical address.
        paddr: u64,
        /// log2 of the page size (12, 21 or 30).
        size_bits: u8,
        /// Writable.
        write: bool,
        /// Executable.
        exec: bool,
    },
}

/// The machine effects of the invocation in progress, in order (cleared with the other
/// per-invocation DataGears).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct MachineOps {
    /// The ops, oldest first.
    pub ops: Vec<MachineOp>,
}

impl MachineOps {
    /// Records one op.
    pub fn push(&mut self, op: MachineOp) {
        self.ops.push(op);
    }

    /// Takes every recorded op, oldest first, leaving none.
    pub fn drain(&mut self) -> Vec<MachineOp> {
        core::mem::take(&mut self.ops)
    }

    /// Whether no op is recorded.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}
