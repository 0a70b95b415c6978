//! seL4's user ABI as Gears speaks it (non-MCS, one core, x86_64 and riscv64): the single
//! definition of every number a user program and the kernel must agree on.
//!
//! The kernel's gears (`codegears`), the bare-metal kernel, the root task, the host model, the
//! benchmarks and the xtask take these numbers from here and restate none of them. The values
//! are those of the seL4 build whose numbers `../shared/sel4test/reference/abi-*.txt` lists
//! (seL4 1326364, debug configuration), which is what a program built against that libsel4
//! expects.
//!
//! - [`Syscall`]: the system-call numbers, the debug calls included;
//! - [`MessageInfo`], [`CapRights`], [`CNodeCapData`]: the bit layouts of the words a call
//!   carries;
//! - [`Error`] and [`LookupFailureType`]: the error codes of a failed invocation;
//! - [`label`]: the invocation labels, generic and per arch;
//! - [`object`]: the object types per arch and the object sizes;
//! - [`IpcBuffer`]: the IPC buffer in seL4's layout;
//! - [`x86_64`] and [`riscv64`]: each arch's `seL4_UserContext`, system-call registers and
//!   fault-message layouts; [`fault`]: the fault types and the arch-independent layouts;
//! - [`tcb`]: the flag words of the TCB invocations;
//! - [`bootinfo`]: the initial caps' slots and `seL4_BootInfo`.
#![no_std]
#![forbid(unsafe_code)]

pub mod bootinfo;
pub mod cap_type;
pub mod fault;
pub mod ipc_buffer;
pub mod label;
pub mod object;
pub mod riscv64;
pub mod tcb;
pub mod x86_64;

mod arch;
mod error;
mod message;
mod syscall;

pub use arch::{Arch, ArchLabels, SyscallRegisters};
pub use error::{Error, LookupFailureType};
pub use ipc_buffer::IpcBuffer;
pub use message::{CNodeCapData, CapRights, MSG_MAX_EXTRA_CAPS, MSG_MAX_LENGTH, MessageInfo};
pub use syscall::Syscall;

/// `seL4_WordBits`: bits in a machine word on both arches.
pub const WORD_BITS: u64 = 64;

/// `seL4_MaxPrio`: the highest thread priority (`CONFIG_NUM_PRIORITIES` − 1).
pub const MAX_PRIO: u8 = 255;

/// The kernel configuration values a user program is built against (`CONFIG_*` of the seL4
/// build the reference numbers come from).
pub mod config {
    /// `CONFIG_ROOT_CNODE_SIZE_BITS`: log2 of the slots of the root task's CNode.
    pub const ROOT_CNODE_SIZE_BITS: u8 = 13;
    /// `CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS`: the untypeds `seL4_BootInfo` can list.
    pub const MAX_NUM_BOOTINFO_UNTYPED_CAPS: usize = 230;
    /// `CONFIG_RETYPE_FAN_OUT_LIMIT`: the most objects one Untyped Retype makes.
    pub const RETYPE_FAN_OUT_LIMIT: u64 = 256;
    /// `CONFIG_TIME_SLICE`: timer ticks in a thread's time slice.
    pub const TIME_SLICE: u64 = 5;
    /// `CONFIG_NUM_PRIORITIES`.
    pub const NUM_PRIORITIES: usize = 256;
    /// `CONFIG_NUM_DOMAINS`.
    pub const NUM_DOMAINS: u64 = 1;
}
