//! A program the root task loads into an address space of its own (from seL4 objects: a VSpace
//! root, paging structures and frames it retyped, mapped and filled itself), then starts as a
//! thread: IPC between two threads in different address spaces.
//!
//! It gets an endpoint cptr (in the root task's CSpace, which it shares) and a free slot as its
//! arguments: it calls the root task with six words (two travel in its own IPC buffer), sends back
//! what the reply said, receives twice with a cap offered each time (into the free slot, then the
//! next), reports what came, then touches an unmapped page, which the kernel turns into a fault
//! message to its fault handler.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::fmt::Write as _;

#[allow(dead_code, reason = "the child makes only a few of the calls")]
#[allow(unsafe_code, reason = "the system calls, the IPC buffer and the entry point")]
mod sel4;

use sel4::Console;

/// The root CNode's cptr in the CSpace the child shares with the root task.
const ROOT_CNODE: u64 = abi::bootinfo::CAP_INIT_THREAD_CNODE;

/// An address no page of this program's address space maps (a user address on both arches).
const UNMAPPED: u64 = 0x30_0000_0000;

/// Where the program starts: the root task set the stack, the endpoint and the free slot.
fn start([ep, slot, ..]: [u64; 4]) -> ! {
    let _ = writeln!(Console, "child: hello from my own address space; calling the root task on cap {ep}");
    let r = sel4::call_ep(ep, 1, &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
    let _ = writeln!(Console, "child: the root task replied label {} with {:#x}", r.label, r.mrs[0]);
    sel4::call_ep(ep, 2, &[r.mrs[0], r.mrs[1]]);
    // Two receives, each with a cap offered: into root CNode slot `slot`, then `slot + 1`.
    sel4::set_receive_path(ROOT_CNODE, slot, 64);
    let a = sel4::recv(ep);
    sel4::set_receive_path(ROOT_CNODE, slot + 1, 64);
    let b = sel4::recv(ep);
    sel4::call_ep(ep, 3, &[a.label, a.extra_caps, b.label, b.extra_caps]);
    // The kernel sends the fault to this thread's fault handler (the root task).
    sel4::fault_at(UNMAPPED)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
