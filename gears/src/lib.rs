//! # Gears: CodeGears, DataGears, Contexts, MetaGears and the dispatcher
//!
//! Kernel code is written as **CodeGears**: short functions that run to completion and end with a
//! tail call, a [`Next`]. A CodeGear declares the **DataGears** it reads and writes; its generated
//! **stub** fetches them from the process's [`Context`] and calls it ([`code_gear!`]). The
//! [`Dispatcher`] takes each `Next`, runs the pluggable [`MetaGear`]s around it (tracer, invariant
//! checker, preemption policy, model checker…) and calls the next stub. It is the only place where
//! an operation can be preempted, and only at transitions a gear declared as preemption points
//! ([`Next::Preempt`]).
//!
//! The crate is `no_std`, allocates nothing and has no `unsafe`.
//!
//! ```
//! use gears::{Dispatcher, Next, Outcome, ProcessId};
//!
//! gears::context! {
//!     /// Sums a table.
//!     #[derive(Clone, Debug, PartialEq, Eq, Hash)]
//!     pub struct SumCtx {
//!         output: u64,
//!         error: (),
//!         data_gears: { pub table: [u64; 4], pub index: usize, pub sum: u64 }
//!     }
//! }
//!
//! gears::code_gear! {
//!     /// The loop test: more to add, or done.
//!     pub fn sum_check(ctx: SumCtx; table: &[u64; 4], index: &usize, sum: &u64) {
//!         if *index < table.len() { Next::Goto(&SUM_ADD) } else { Next::Exit(*sum) }
//!     }
//! }
//!
//! gears::code_gear! {
//!     /// The loop body: add one entry, then cross a preemption point back to the test.
//!     pub fn sum_add(ctx: SumCtx; table: &[u64; 4], index: &mut usize, sum: &mut u64) {
//!         *sum += table[*index];
//!         *index += 1;
//!         Next::Preempt(&SUM_CHECK)
//!     }
//! }
//!
//! let mut ctx = SumCtx::new(ProcessId(0), [1, 2, 3, 4], 0, 0);
//! let mut dispatcher = Dispatcher::new(());
//! assert_eq!(dispatcher.run(&mut ctx, &SUM_CHECK), Outcome::Exited(10));
//! assert_eq!(dispatcher.steps(), 9);
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod context;
mod dispatch;
mod gear;
mod macros;
mod meta;
mod next;

pub use context::{Context, ContextMeta, DataGear, ProcessId};
pub use dispatch::{Dispatcher, Outcome, Stepper};
pub use gear::{Gear, GearId, Stub};
pub use meta::{Control, Halt, HaltReason, MetaGear, Mode, PointDecision, Step};
pub use next::Next;

#[doc(hidden)]
pub mod __private {
    pub use paste::paste;
}
