//! What the checker explores: a [`Model`], and what it reports: a [`Counterexample`].

use core::fmt;
use core::hash::Hash;
use std::format;
use std::string::String;
use std::vec::Vec;

use gears::ProcessId;

use crate::trace::Trace;

/// A transition system the checker can explore: states, the actions enabled in a state, and what
/// an action leads to.
///
/// States are plain data (DESIGN property 4): cloned to branch, compared to detect a step that
/// changed nothing, hashed to recognise a state seen before. `next_state` must be deterministic:
/// the checker stores only parent links and rebuilds a counterexample by replaying its actions.
pub trait Model: Sync {
    /// A whole state of the system.
    type State: Clone + Eq + Hash + fmt::Debug + Send + Sync;
    /// A step the system can take (a process running, an environment event).
    type Action: Clone + fmt::Debug + Send + Sync;
    /// Why a step went wrong ([`StepFailure`](crate::mc::StepFailure) for a
    /// [`GearModel`](crate::mc::GearModel)).
    type Failure: Clone + fmt::Debug + fmt::Display + Send + Sync;

    /// The states exploration starts from.
    fn init_states(&self) -> Vec<Self::State>;

    /// Appends the actions enabled in `state` to `actions`, in a fixed order.
    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>);

    /// The state `action` leads to from `state`, recording the gears it ran into `trace` if given.
    ///
    /// A successor equal to `state` is a stutter (a process that can only wait): the checker does
    /// not count it as a transition, and a state whose every action stutters cannot progress.
    /// `Err` is a step that went wrong (a metagear halted it, it ran past its gear budget…): the
    /// checker reports it as a [`Finding::StepFailed`] with a counterexample.
    fn next_state(
        &self,
        state: &Self::State,
        action: &Self::Action,
        trace: Option<&mut Trace>,
    ) -> Result<Self::State, Self::Failure>;

    /// Whether `state` is terminal: every process has finished. A state that is not, and in which
    /// nothing can progress, is a deadlock.
    fn is_done(&self, state: &Self::State) -> bool;

    /// The process that takes `action`, if a process does (as counterexamples show it).
    fn process(&self, action: &Self::Action) -> Option<ProcessId> {
        let _ = action;
        None
    }

    /// A state as counterexamples print it (its `Debug` form unless the model says better).
    fn describe(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }
}

/// What the checker found wrong; `F` is why a step can fail ([`Model::Failure`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Finding<F> {
    /// A named invariant does not hold in the last state of the counterexample.
    Invariant {
        /// The invariant's name.
        name: String,
        /// What it said, by its `Display` (the invariants of one checker have different types).
        message: String,
    },
    /// In the last state nothing can progress, yet not every process has finished.
    Deadlock,
    /// The last step went wrong (see [`Model::next_state`]); the counterexample's last step is it.
    StepFailed(F),
}

impl<F: fmt::Display> fmt::Display for Finding<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Invariant { name, message } => write!(f, "invariant `{name}` violated: {message}"),
            Finding::Deadlock => f.write_str("deadlock: some process has not finished and none can step"),
            Finding::StepFailed(why) => write!(f, "a step failed: {why}"),
        }
    }
}

/// One step of a counterexample: the action, its process, the gears it ran, the state it left.
#[derive(Clone, Debug)]
pub struct CexStep<S, A> {
    /// The action taken.
    pub action: A,
    /// The process that took it, if a process did.
    pub process: Option<ProcessId>,
    /// The gears it ran, numbered on from the previous step's.
    pub trace: Trace,
    /// The state it led to (`None` for a step that failed).
    pub state: Option<S>,
    /// That state as [`Model::describe`] prints it; for a step that failed, why (by its `Display`).
    pub described: String,
}

/// A path from an initial state to a state where something is wrong, replayed with tracing; `F`
/// is why a step can fail ([`Model::Failure`]).
#[derive(Clone, Debug)]
pub struct Counterexample<S, A, F> {
    /// What is wrong at the end of the path.
    pub finding: Finding<F>,
    /// The initial state the path starts from.
    pub init: S,
    /// The initial state as [`Model::describe`] prints it.
    pub init_described: String,
    /// The steps, in order.
    pub steps: Vec<CexStep<S, A>>,
}

impl<S, A, F> Counterexample<S, A, F> {
    /// The number of steps from the initial state.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether the initial state itself is the counterexample.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The state at the end of the path (the initial state for an empty path; for a failed step,
    /// the state it started from).
    pub fn last_state(&self) -> &S {
        self.steps.iter().rev().find_map(|s| s.state.as_ref()).unwrap_or(&self.init)
    }

    /// Every gear that ran along the path, in order.
    pub fn gear_names(&self) -> Vec<&str> {
        self.steps.iter().flat_map(|s| s.trace.gear_names()).collect()
    }
}

impl<S, A: fmt::Debug, F: fmt::Display> fmt::Display for Counterexample<S, A, F> {
    /// The finding, then the initial state, then per step: its action, its gear trace, the state.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.finding)?;
        writeln!(f, "counterexample of {} step(s)", self.steps.len())?;
        writeln!(f, "initial state: {}", self.init_described)?;
        for (i, step) in self.steps.iter().enumerate() {
            writeln!(f, "step {}: {:?}", i + 1, step.action)?;
            write!(f, "{}", step.trace)?;
            match step.state {
                Some(_) => writeln!(f, "  state: {}", step.described)?,
                None => writeln!(f, "  (the step failed)")?,
            }
        }
        Ok(())
    }
}
