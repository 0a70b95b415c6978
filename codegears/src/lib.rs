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
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod cap;
pub mod cdt;
pub mod cnode;
pub mod cspace;
pub mod delete;
pub mod error;
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
pub use invariants::{InvariantViolation, check_invariants};
pub use kernel::{BootInfo, Done, Kernel, KernelState, Request};
pub use object::{Object, ObjectStore};
