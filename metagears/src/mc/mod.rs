//! An explicit-state model checker over systems made of gears (std only).
//!
//! A CodeGear is atomic and the dispatcher is the only place an operation can be preempted, so the
//! interleavings worth exploring are the orders in which processes take their steps between
//! preemption points. The checker explores them all:
//!
//! - a [`Model`] is any transition system with hashable states; a [`GearSystem`] describes a
//!   kernel made of gears (a whole kernel context: the kernel part plus every process's part) and
//!   [`GearModel`] turns it into a `Model` whose one step is "make process p current and run it,
//!   with the real [`Dispatcher`](gears::Dispatcher), from its saved continuation (or its next
//!   operation's entry gear) up to the next preemption point or the end of the operation";
//! - a [`Checker`] explores a model breadth-first ([`Checker::bfs`], level by level on all cores,
//!   shortest counterexamples) or depth-first ([`Checker::dfs`], with an optional depth bound),
//!   checks its invariants in every state, detects deadlocks, and reports a [`Counterexample`]:
//!   the steps from an initial state, each with its process and its gear [`Trace`](crate::Trace);
//! - the gear transitions of the explored graph can be gathered into a
//!   [`GearGraph`](crate::diagram::GearGraph) ([`Checker::gear_graph`]) and drawn.
//!
//! Design choices:
//!
//! - **A step** is one process's run between two preemption chances: from its saved continuation
//!   (or its next operation's entry gear) to the first declared preemption point
//!   ([`StepPolicy`] preempts there in [`Mode::Resume`](gears::Mode::Resume) by default)
//!   or the end of its operation. Letting any runnable process (the same one included) take the
//!   next step covers "an interrupt is pending at this point, or not" at every point; with
//!   [`GearModel::preempt_when`] the model preempts only where an interrupt is pending instead,
//!   and the interrupt's arrival is an environment event ([`GearSystem::events`]). A step
//!   that changes nothing is a stutter, not a transition: a process that can only spin counts as
//!   blocked.
//! - **Invariants** on the whole state ([`Checker::invariant`]) are checked once in every distinct
//!   state, so at every preemption point where an operation stopped and after every operation;
//!   [`GearModel::point_invariant`] plugs the [`Invariant`](crate::Invariant) metagear into each
//!   step, for the points a step runs through without stopping.
//! - **Visited states** are 64-bit fingerprints by default ([`Visited::Fingerprints`]): a state
//!   costs 12 bytes however big the kernel is (fingerprint, node id) plus its parent link
//!   (parent id and action), and only the states of one BFS level (or of the DFS path) are kept
//!   whole; [`Visited::Exact`] keeps every state whole when certainty matters.
//!   Counterexamples are rebuilt from the parent links by replaying the actions with a
//!   [`Tracer`](crate::Tracer), which relies on gears being deterministic (DESIGN property 4), so
//!   exploration itself traces nothing.
//! - **Parallelism**: BFS is level-synchronous on a rayon pool; the states of a level are visited in
//!   parallel (invariants, successors, fingerprints, a look-up in the states of earlier levels), and
//!   merged into the visited set in the level's order, so node numbers, counts and the
//!   counterexample are the same on any number of threads. DFS runs in the caller's thread.
//!
//! ```
//! use gears::{Gear, Next, ProcessId};
//! use metagears::mc::{Checker, GearModel, GearSystem, Status};
//!
//! gears::context! {
//!     /// One process counting to two, one preemption point per count.
//!     #[derive(Clone, Debug, PartialEq, Eq, Hash)]
//!     pub struct Count { output: u8, error: (), data_gears: { pub n: u8 } }
//! }
//!
//! gears::code_gear! {
//!     /// Count one, then cross a preemption point, until two.
//!     pub fn count(ctx: Count; n: &mut u8) {
//!         *n += 1;
//!         if *n == 2 { Next::Exit(*n) } else { Next::Preempt(&COUNT) }
//!     }
//! }
//!
//! /// The system's state: the context (with its continuation) and whether the script is done.
//! #[derive(Clone, Debug, PartialEq, Eq, Hash)]
//! pub struct State { ctx: Count, done: bool }
//!
//! struct System;
//!
//! impl GearSystem for System {
//!     type Ctx = Count;
//!     type State = State;
//!     type Event = ();
//!     fn initial(&self) -> Vec<State> {
//!         vec![State { ctx: Count::new(ProcessId(0), 0), done: false }]
//!     }
//!     fn processes(&self, _: &State) -> Vec<ProcessId> {
//!         vec![ProcessId(0)]
//!     }
//!     fn status(&self, s: &State, _: ProcessId) -> Status {
//!         if s.done { Status::Done } else { Status::Runnable }
//!     }
//!     fn context<'a>(&self, s: &'a mut State, _: ProcessId) -> &'a mut Count {
//!         &mut s.ctx
//!     }
//!     fn begin(&self, _: &mut State, _: ProcessId) -> &'static Gear<Count> {
//!         &COUNT
//!     }
//!     fn finish(&self, s: &mut State, _: ProcessId, _: Result<u8, ()>) {
//!         s.done = true;
//!     }
//! }
//!
//! let report = Checker::new(GearModel::new(System))
//!     .invariant("n ≤ 2", |s: &State| if s.ctx.n <= 2 { Ok(()) } else { Err(format!("n = {}", s.ctx.n)) })
//!     .bfs();
//! assert!(report.counterexample.is_none());
//! assert_eq!(report.stats.distinct, 3); // n = 0; n = 1, preempted before `count`; done
//! //! ```

mod check;
mod gear;
mod model;
mod store;

pub use check::{Checker, Report, Stats, Visited};
pub use gear::{GearAction, GearModel, GearSystem, STEP_BUDGET_EXCEEDED, Status, StepFailure, StepPolicy};
pub use model::{CexStep, Counterexample, Finding, Model};
pub use store::fingerprint;

#[cfg(test)]
mod tests;
