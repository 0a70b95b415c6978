//! The kernel's normal level as CodeGears: seL4's capability system (caps, CSpace lookup, the
//! derivation tree, CNode invocations, delete and revoke with Zombies, Untyped Retype).
//!
//! No `unsafe`, no arch code, no metagear-specific code: verification is plugged in at the meta
//! level ([`check_invariants`] is the predicate the invariant metagear runs). Names follow seL4's C
//! sources in snake case so each function's twin can be found: `cte_insert` is `cteInsert`,
//! `resolve_address_bits` is `resolveAddressBits`, and so on.
//!
//! A system call is run by the dispatcher from [`syscall::HANDLE_SYSCALL`] (or an invocation from
//! [`lookup::HANDLE_INVOCATION`]): `handle_syscall` → `handle_invocation` →
//! `resolve_address_bits`* → `lookup_extra_caps` → `decode_invocation` →
//! `decode_cnode_invocation` / `decode_untyped_invocation` / `decode_tcb_invocation` → … →
//! `invoke_*` → `invocation_done`.
//!
//! # Where this differs from seL4 (non-MCS, x86_64 numbers)
//!
//! - Memory is not modelled byte by byte: objects live in an [`ObjectStore`] keyed by physical
//!   address, slots in a sparse map keyed by slot address ([`CSpace`]); untyped reset lowers the
//!   watermark chunk by chunk but clears nothing. Each gear does O(log n) map operations where
//!   seL4 dereferences a pointer.
//! - An object leaves the store when its last cap is finalised (endpoints, notifications, frames)
//!   or when its Zombie is removed (CNodes, TCBs); seL4 leaves the memory as it is.
//! - Boot is modelled: a root TCB and CNode outside all untypeds, boot caps as CDT roots.
//! - Endpoint queues, notifications, reply objects, VSpaces and the scheduler are not built yet:
//!   `cancelAllIPC`, `cancelBadgedSends` and unmapping have nothing to do; Thread caps answer only
//!   ReadRegisters/WriteRegisters, IRQControl only IssueIRQHandler (with RISC-V's IRQ range
//!   check, 1..=[`interrupt::MAX_IRQ`]); other invocations of endpoints, notifications, IRQ
//!   handlers and the domain cap fail with IllegalOperation.
//! - Frame object types are numbered 5 (4 KiB) and 6 (2 MiB) right after the generic types.
//! - Under `Mode::Resume` a gear entered across a preemption point re-reads every cap it works
//!   on; the retype re-checks what decode established and decodes again if it changed.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod cap;
pub mod cdt;
pub mod cnode;
pub mod cspace;
pub mod delete;
pub mod error;
pub mod interrupt;
pub mod invariants;
pub mod kernel;
pub mod lookup;
pub mod object;
pub mod syscall;
pub mod tcb;
pub mod untyped;

pub use cap::{Cap, CapRights, ObjPtr, SlotRef, ZombieType};
pub use cspace::{CSpace, Cte, MdbNode};
pub use error::{LookupFault, SeL4Error, SyscallError};
pub use invariants::{InvariantViolation, check_invariants, check_local_invariants};
pub use kernel::{BootInfo, Done, Kernel, KernelState, Request};
pub use object::{Object, ObjectStore};
