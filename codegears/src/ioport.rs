//! x86_64's I/O ports as gears, after seL4's `src/arch/x86/object/ioport.c`: IOPortControl
//! Issue makes an IOPort cap for a range of ports no other IOPort cap holds; an IOPort cap reads
//! (`In8/16/32`) and writes (`Out8/16/32`) the ports in its range; when the last cap to a range
//! goes, the range is free again (`freeIOPortRange`).
//!
//! The gears touch no hardware: a write is a [`MachineOp::PortOut`] and a read a
//! [`MachineOp::PortIn`], which the kernel entry has the machine carry out after the run (a
//! read's value goes to the caller's first message register there). The ports the kernel drives
//! itself are in use from boot ([`BootConfig::io_ports_in_use`](crate::boot::BootConfig)), so
//! no cap can reach them.

use alloc::collections::BTreeMap;

use abi::x86_64::label;
use gears::Next;

use crate::cap::Cap;
use crate::cdt::cte_insert;
use crate::cspace::CSpace;
use crate::error::SyscallError;
use crate::kernel::{Invocation, Kernel, LookupCursor, Request};
use crate::lookup::{lookup_slot_for_cnode_op, set_restart};
use crate::machine::{MachineOp, MachineOps};
use crate::object::ObjectStore;

/// The ports in use (`x86KSAllocatedIOPorts`, as ranges rather than seL4's 8 KiB bitmap): each
/// IOPort cap's range, and the kernel's own. Ranges never overlap: Issue refuses a range that
/// meets one, so a range's first port names it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct IoPortTable {
    /// First port -> last port of each range in use.
    ranges: BTreeMap<u16, u16>,
    /// The kernel's own ranges among them, which no cap holds.
    kernel: BTreeMap<u16, u16>,
}

impl IoPortTable {
    /// `isIOPortRangeFree`: no port of `first..=last` is in use.
    pub fn is_free(&self, first: u16, last: u16) -> bool {
        // The last range starting at or before `last` is the only one that can reach into it.
        self.ranges.range(..=last).next_back().is_none_or(|(_, &end)| end < first)
    }

    /// `setIOPortMask(…, true)`: `first..=last` is in use (it was free).
    pub fn allocate(&mut self, first: u16, last: u16) {
        self.ranges.insert(first, last);
    }

    /// `freeIOPortRange`: the range an IOPort cap held is free again (a kernel range never is).
    pub fn free(&mut self, first: u16, last: u16) {
        if self.ranges.get(&first) == Some(&last) && !self.kernel.contains_key(&first) {
            self.ranges.remove(&first);
        }
    }

    /// At boot: the kernel drives `first..=last` itself; it is in use for good. Overlapping
    /// kernel ranges merge.
    pub fn reserve(&mut self, first: u16, last: u16) {
        if first > last {
            return;
        }
        let (mut lo, mut hi) = (first, last);
        let meeting: alloc::vec::Vec<(u16, u16)> =
            self.ranges().filter(|&(f, l)| f <= last && first <= l).collect();
        for (f, l) in meeting {
            self.ranges.remove(&f);
            self.kernel.remove(&f);
            (lo, hi) = (lo.min(f), hi.max(l));
        }
        self.ranges.insert(lo, hi);
        self.kernel.insert(lo, hi);
    }

    /// The ranges in use, as (first, last), in port order.
    pub fn ranges(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        self.ranges.iter().map(|(&f, &l)| (f, l))
    }

    /// Whether `first..=last` is one of the kernel's own ranges.
    pub fn is_kernel(&self, first: u16, last: u16) -> bool {
        self.kernel.get(&first) == Some(&last)
    }
}

/// The width of a port access in bytes, by an IOPort invocation's label (`None`: not In/Out).
const fn access(l: u64) -> Option<(u8, bool)> {
    match l {
        label::IO_PORT_IN8 => Some((1, false)),
        label::IO_PORT_IN16 => Some((2, false)),
        label::IO_PORT_IN32 => Some((4, false)),
        label::IO_PORT_OUT8 => Some((1, true)),
        label::IO_PORT_OUT16 => Some((2, true)),
        label::IO_PORT_OUT32 => Some((4, true)),
        _ => None,
    }
}

gears::code_gear! {
    /// `decodeX86PortControlInvocation`: Issue(first, last, index, depth) with the destination
    /// CNode as extra cap: the label, the message length, `first <= last`, the range free, then
    /// the target slot.
    pub fn decode_io_port_control_invocation(ctx: Kernel; io_ports: &IoPortTable, request: &Request, invocation: &Invocation, lookup: &mut LookupCursor) {
        if request.label != label::IO_PORT_CONTROL_ISSUE {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        let Some(&(root, _)) = invocation.extra_caps.first() else {
            return Next::Fail(SyscallError::TruncatedMessage);
        };
        if request.mrs.len() < 4 {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let (first, last) = (request.mr(0) as u16, request.mr(1) as u16);
        if last < first {
            return Next::Fail(SyscallError::InvalidArgument { arg: 1 });
        }
        if !io_ports.is_free(first, last) {
            return Next::Fail(SyscallError::RevokeFirst);
        }
        match lookup_slot_for_cnode_op(lookup, false, root, request.mr(2), request.mr(3), Some(&DECODE_IO_PORT_CONTROL_TARGET_FOUND)) {
            Ok(()) => Next::Goto(&crate::lookup::RESOLVE_ADDRESS_BITS),
            Err(e) => Next::Fail(e),
        }
    }
}

gears::code_gear! {
    /// The target slot is found: it must be empty.
    pub fn decode_io_port_control_target_found(ctx: Kernel; cspace: &CSpace, invocation: &mut Invocation, lookup: &LookupCursor) {
        match lookup.empty_target_slot(cspace) {
            Ok(dest) => {
                invocation.dest = Some(dest);
                Next::Goto(&INVOKE_IO_PORT_CONTROL)
            }
            Err(e) => Next::Fail(e),
        }
    }
}

gears::code_gear! {
    /// `invokeX86PortControl`: the range is in use, and its cap is inserted as a child of
    /// IOPortControl.
    pub fn invoke_io_port_control(ctx: Kernel; cspace: &mut CSpace, objects: &mut ObjectStore, io_ports: &mut IoPortTable, request: &Request, invocation: &Invocation) {
        set_restart(objects, request.thread);
        let (first, last) = (request.mr(0) as u16, request.mr(1) as u16);
        if let (Some((_, control)), Some(dest)) = (invocation.invoked, invocation.dest) {
            io_ports.allocate(first, last);
            cte_insert(cspace, Cap::IoPort { first, last }, control, dest);
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

gears::code_gear! {
    /// `decodeX86PortInvocation`: In8/16/32(port) and Out8/16/32(port, data): the label, the
    /// message length, every byte of the access inside the cap's range
    /// (`ensurePortOperationAllowed`: IllegalOperation otherwise); then the access, as a machine
    /// op (`invokeX86PortIn`, `invokeX86PortOut`). An In leaves its caller `Running`: the entry
    /// gives a `seL4_Call` the port's value as a one-word reply once the machine has read it.
    pub fn decode_io_port_invocation(ctx: Kernel; objects: &mut ObjectStore, request: &Request, invocation: &Invocation, machine: &mut MachineOps) {
        let Some((width, out)) = access(request.label) else {
            return Next::Fail(SyscallError::IllegalOperation);
        };
        if request.mrs.len() < if out { 2 } else { 1 } {
            return Next::Fail(SyscallError::TruncatedMessage);
        }
        let Some((Cap::IoPort { first, last }, _)) = invocation.invoked else {
            return Next::Fail(SyscallError::IllegalOperation);
        };
        let port = request.mr(0) as u16;
        let end = port as u32 + width as u32 - 1;
        if port < first || end > last as u32 {
            return Next::Fail(SyscallError::IllegalOperation);
        }
        if out {
            // Only the access's own bytes of the data word (seL4 cuts it before the write).
            let value = (request.mr(1) & crate::cap::mask(8 * width as u64)) as u32;
            machine.push(MachineOp::PortOut { port, width, value });
            set_restart(objects, request.thread);
        } else {
            // The caller stays `Running` (seL4 sets it so after the read): no empty reply.
            machine.push(MachineOp::PortIn { port, width, thread: request.thread, reply: request.is_call });
        }
        Next::Goto(&crate::lookup::INVOCATION_DONE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_in_use_refuse_any_overlap() {
        let mut t = IoPortTable::default();
        assert!(t.is_free(0, u16::MAX));
        t.allocate(0x3f8, 0x3ff);
        t.allocate(0x40, 0x43);
        for (f, l) in
            [(0x3f8, 0x3f8), (0x3ff, 0x400), (0x3f0, 0x3f8), (0, u16::MAX), (0x43, 0x50), (0x3fa, 0x3fb)]
        {
            assert!(!t.is_free(f, l), "{f:#x}..={l:#x} meets a range in use");
        }
        for (f, l) in [(0x3f0, 0x3f7), (0x400, 0x400), (0, 0x3f), (0x44, 0x3f7), (u16::MAX, u16::MAX)] {
            assert!(t.is_free(f, l), "{f:#x}..={l:#x} is free");
        }
        t.free(0x3f8, 0x3ff);
        assert!(t.is_free(0x3f8, 0x3ff));
        t.free(0x40, 0x42);
        assert!(!t.is_free(0x40, 0x40), "only a whole range is freed");
        assert_eq!(t.ranges().collect::<alloc::vec::Vec<_>>(), [(0x40, 0x43)]);
    }

    #[test]
    fn kernel_ranges_merge_and_stay_in_use() {
        let mut t = IoPortTable::default();
        t.reserve(0x20, 0x21);
        t.reserve(0x21, 0x22);
        t.reserve(0xa0, 0xa1);
        assert_eq!(t.ranges().collect::<alloc::vec::Vec<_>>(), [(0x20, 0x22), (0xa0, 0xa1)]);
        assert!(t.is_kernel(0x20, 0x22));
        t.free(0x20, 0x22);
        assert!(!t.is_free(0x20, 0x20), "a kernel range is never freed");
    }

    #[test]
    fn labels_give_width_and_direction() {
        assert_eq!(access(label::IO_PORT_IN16), Some((2, false)));
        assert_eq!(access(label::IO_PORT_OUT32), Some((4, true)));
        assert_eq!(access(label::IO_PORT_CONTROL_ISSUE), None);
    }
}
