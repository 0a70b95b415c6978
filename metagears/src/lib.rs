//! # metagears: the meta level of Gears
//!
//! Pluggable [`MetaGear`](gears::MetaGear)s that see every transition the dispatcher makes, and
//! change no normal-level code: a [`Tracer`], preemption policies ([`WorkBudget`], seL4's
//! work-unit budget, and [`InjectAt`] for fault injection), an [`Invariant`] checker that runs at
//! every preemption point, [`Contracts`] (pre- and postconditions of CodeGears), and a
//! [`GapMeter`] for the work between preemption chances.
//!
//! Metagears compose as tuples: `Dispatcher::new((Tracer::new(), Invariant::new(check)))`.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod contract;
pub mod diagram;
pub mod gap;
pub mod invariant;
#[cfg(feature = "std")]
pub mod mc;
pub mod policy;
pub mod trace;
pub mod wire;

pub use contract::{Breach, Condition, Contract, Contracts};
pub use gap::GapMeter;
pub use invariant::{Invariant, Violation};
pub use policy::{DEFAULT_WORK_UNITS, InjectAt, WorkBudget};
pub use trace::{EventKind, Trace, TraceEvent, Tracer};
