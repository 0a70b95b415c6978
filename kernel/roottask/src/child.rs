//! A program the root task loads into an address space of its own (from seL4 objects: a VSpace
//! root, paging structures and frames it retyped, mapped and filled itself), then starts as a
//! thread: IPC between two threads in different address spaces.
//!
//! It gets an endpoint cptr (in the root task's CSpace, which it shares), a free slot and the
//! address of its IPC buffer as its arguments: it calls the root task with six words (two travel
//! in its own IPC buffer), sends back what the reply said, receives twice with a cap offered
//! each time (into the free slot, then the next), reports what came, then touches an unmapped
//! page, which the kernel turns into a fault message to its fault handler.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

#[allow(dead_code, reason = "the child only faults on purpose")]
#[allow(unsafe_code, reason = "a deliberate fault")]
mod machine;

use gears_user::cap::{Endpoint, init_thread};
use gears_user::ipc_buffer::{self, IpcBuffer};
use gears_user::{debug, println};

gears_user::program!(main);

/// An address no page of this program's address space maps (a user address on both arches).
const UNMAPPED: u64 = 0x30_0000_0000;

/// Registers the IPC buffer the root task mapped for this program at `addr`.
#[allow(unsafe_code, reason = "the IPC buffer's address")]
fn register_ipc_buffer(addr: u64) {
    // SAFETY: the root task's loader mapped a fresh frame read-write at `addr` (page-aligned) in
    // this address space before starting the program, passes its address here, and leaves it
    // mapped; nothing but the kernel and the library's volatile accesses use it.
    ipc_buffer::set(unsafe { IpcBuffer::new(addr) });
}

/// Where the program starts: the root task set the stack, the endpoint, the free slot and the
/// IPC buffer's address.
fn main([ep, slot, buffer, _]: [u64; 4]) -> ! {
    register_ipc_buffer(buffer);
    println!("child: hello from my own address space; calling the root task on cap {ep}");
    let ep = Endpoint::from_cptr(ep);
    let r = ep.call(1, &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66]);
    println!("child: the root task replied label {} with {:#x}", r.label(), r.word(0));
    ep.call(2, &[r.word(0), r.word(1)]);
    // Two receives, each with a cap offered: into root CNode slot `slot`, then `slot + 1`.
    ipc_buffer::set_receive_slot(init_thread::slot(slot));
    let a = ep.recv();
    ipc_buffer::set_receive_slot(init_thread::slot(slot + 1));
    let b = ep.recv();
    ep.call(3, &[a.label(), a.extra_caps() as u64, b.label(), b.extra_caps() as u64]);
    // The kernel sends the fault to this thread's fault handler (the root task).
    machine::fault_at(UNMAPPED)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    debug::panic_halt(info)
}
