//! Root tasks and servers in Rust for Gears, and for seL4, whose ABI Gears speaks.
//!
//! A program written with this crate is a static `no_std` ELF that Gears (`cargo xtask run
//! --root-task PATH`) or seL4 boots as its root task, or that a root task loads as a thread of
//! its own. Every number it puts in a register comes from the [`abi`] crate; the crate adds the
//! system-call instruction, typed caps with a method per invocation, and the bookkeeping a root
//! task needs.
//!
//! | module | what it holds |
//! |---|---|
//! | [`entry`] | [`root_task!`] and [`program!`]: `_start`, a stack, and a call of your `main` |
//! | [`bootinfo`] | [`BootInfo`]: untypeds (with the device flag), the empty range, image frames |
//! | [`cap`] | [`Cap<K>`](cap::Cap): a cptr typed by its object kind; the initial thread's caps |
//! | [`ipc`] | Send, NBSend, Call, Recv, NBRecv, Reply, ReplyRecv, Yield; Signal, Wait, Poll |
//! | [`message`] | how a message's words split between registers and the IPC buffer; [`Received`](message::Received) |
//! | [`ipc_buffer`] | the IPC buffer: message words past the fourth, extra caps, the receive slot |
//! | [`cnode`] | [`Slot`](cnode::Slot): Copy, Mint, Move, Mutate, Rotate, Delete, Revoke, SaveCaller, CancelBadgedSends |
//! | [`untyped`] | Retype, [`ObjectType`](untyped::ObjectType), typed `create` |
//! | [`tcb`] | every TCB invocation, [`UserContext`](tcb::UserContext), DomainSet |
//! | [`irq`] | IRQControl and IRQHandler |
//! | [`vspace`] | frames, paging structures and ASIDs of the target arch |
//! | [`fault`] | fault messages decoded: [`Fault`](fault::Fault) |
//! | [`slots`] | [`SlotAllocator`](slots::SlotAllocator) over the empty range |
//! | [`debug`] | the debug calls (PutChar, Halt, CapIdentify, NameThread, DumpScheduler, Snapshot) |
//! | [`console`] | [`print!`] and [`println!`] over DebugPutChar |
//! | [`mmio`] | volatile access to device registers and other pages mapped by system calls |
//! | [`sys`] | the system-call instruction itself, for programs that make raw calls |
//!
//! Invocations return [`Result<T>`]: `Err` carries the [`Error`] (`seL4_Error`) the kernel
//! replied with. Caps are typed, so passing an endpoint where a TCB is wanted does not compile:
//!
//! ```compile_fail
//! use gears_user::cap::{Endpoint, Tcb};
//! fn resume(t: Tcb) -> gears_user::Result<()> { t.resume() }
//! let ep = Endpoint::from_cptr(20);
//! resume(ep); // error: expected `Cap<Tcb>`, found `Cap<Endpoint>`
//! ```
//!
//! A whole root task (the template in `user/template` is one, with its linker script):
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//!
//! use gears_user::{BootInfo, println};
//!
//! gears_user::root_task!(main);
//!
//! fn main(bi: &BootInfo) -> ! {
//!     println!("{} untypeds, empty slots {:?}", bi.untypeds().count(), bi.empty());
//!     gears_user::debug::halt()
//! }
//!
//! #[panic_handler]
//! fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
//!     gears_user::debug::panic_halt(info)
//! }
//! ```
//!
//! The calls are seL4's (non-MCS), so a program that keeps to them runs on seL4 too; the
//! exceptions are named where they are: Gears' bench calls ([`debug::gears`]) and the verdict
//! the project's own programs pass to [`debug::halt_with`].
#![no_std]
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

pub use abi;
pub use abi::{CNodeCapData, CapRights, Error, MessageInfo};

pub use bootinfo::BootInfo;

/// What an invocation gives back: its result, or the error the kernel replied with.
pub type Result<T> = core::result::Result<T, Error>;

/// A cap pointer: the word that names a slot in a thread's CSpace (`seL4_CPtr`).
pub type CPtr = u64;

pub mod bootinfo;
pub mod cap;
pub mod cnode;
pub mod console;
pub mod debug;
#[allow(unsafe_code, reason = "the entry point: the stack, `_start`, and the BootInfo frame")]
pub mod entry;
pub mod fault;
pub mod ioport;
pub mod ipc;
#[allow(unsafe_code, reason = "volatile reads and writes of the mapped IPC buffer")]
pub mod ipc_buffer;
pub mod irq;
pub mod message;
#[allow(unsafe_code, reason = "volatile reads and writes of pages mapped through system calls")]
pub mod mmio;
pub mod slots;
#[allow(unsafe_code, reason = "the system-call instruction")]
pub mod sys;
pub mod tcb;
pub mod untyped;
pub mod vspace;

mod invoke;
