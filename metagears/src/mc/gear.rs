//! Systems made of gears, and the step the checker explores: one process, from where it stands to
//! the next preemption point or the end of its operation, run by the real dispatcher.

use core::fmt;
use core::hash::Hash;
use std::boxed::Box;
use std::format;
use std::string::String;
use std::vec::Vec;

use gears::{
    Context, Control, Dispatcher, Gear, Halt, HaltReason, MetaGear, Mode, Outcome, PointDecision, ProcessId,
    Step,
};

use crate::invariant::Invariant;
use crate::mc::model::Model;
use crate::trace::{Trace, Tracer};

/// Whether a process can take a step.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Status {
    /// It can run: it has a saved continuation, or an operation left to start.
    Runnable,
    /// It waits for something another process or an event must do (a lock, a message).
    Blocked,
    /// It has finished its script.
    Done,
}

/// A kernel made of gears, as the model checker drives it.
///
/// A state is a whole kernel context: the kernel part shared by every process plus each process's
/// part, whose position is its saved continuation (under [`Mode::Resume`]), plus whatever the
/// system keeps about each process's script. The checker never looks inside; it asks:
///
/// - which processes there are and whether each can run ([`status`](Self::status)): a process is
///   blocked when the system says so, or when running it would leave the state as it was (it can
///   only spin at a preemption point; the checker drops such stutter steps);
/// - to make process `p` current ([`context`](Self::context)) and, when it has no saved
///   continuation, to start its next operation ([`begin`](Self::begin): load the arguments, give
///   the entry gear);
/// - what an operation's result does to the process's script ([`finish`](Self::finish));
/// - which environment events (an interrupt arriving…) can happen ([`events`](Self::events)) and
///   what each does ([`on_event`](Self::on_event)).
pub trait GearSystem: Sync {
    /// The context the gears run on.
    type Ctx: Context + Send + Sync;
    /// A whole system state: the kernel context and the scripts' progress.
    type State: Clone + Eq + Hash + fmt::Debug + Send + Sync;
    /// An environment event (use `()` for a system with none).
    type Event: Clone + Eq + fmt::Debug + Send + Sync;

    /// The states exploration starts from.
    fn initial(&self) -> Vec<Self::State>;

    /// The processes of `state`, in a fixed order (the order their steps are explored in).
    fn processes(&self, state: &Self::State) -> Vec<ProcessId>;

    /// Whether process `p` can take a step in `state`.
    fn status(&self, state: &Self::State, p: ProcessId) -> Status;

    /// Makes `p` the current process of `state` and hands back the context its gears run on (its
    /// meta state, and so its continuation, are `p`'s). It is asked more than once in a step, so
    /// making the current process current again must change nothing.
    fn context<'a>(&self, state: &'a mut Self::State, p: ProcessId) -> &'a mut Self::Ctx;

    /// `p` has no saved continuation: start its next operation (load its arguments into its part
    /// of the context) and give the operation's entry gear.
    fn begin(&self, state: &mut Self::State, p: ProcessId) -> &'static Gear<Self::Ctx>;

    /// `p`'s operation ended with `result`: advance its script.
    fn finish(
        &self,
        state: &mut Self::State,
        p: ProcessId,
        result: Result<<Self::Ctx as Context>::Output, <Self::Ctx as Context>::Error>,
    );

    /// Appends the environment events that can happen in `state`.
    fn events(&self, state: &Self::State, events: &mut Vec<Self::Event>) {
        let _ = (state, events);
    }

    /// What `event` does to `state`.
    fn on_event(&self, state: &mut Self::State, event: &Self::Event) -> Result<(), String> {
        let _ = (state, event);
        Ok(())
    }

    /// `p`'s operation was preempted at a preemption point: take what made the kernel preempt
    /// (clear the pending interrupt, wake its handler…).
    fn preempted(&self, state: &mut Self::State, p: ProcessId) {
        let _ = (state, p);
    }

    /// `p`'s step is over and it is no longer current: a system whose context holds only the
    /// current process's part (one kernel context, per-thread cursors swapped in by
    /// [`context`](Self::context)) puts that part away here.
    fn park(&self, state: &mut Self::State, p: ProcessId) {
        let _ = (state, p);
    }

    /// Brings a state to a canonical form after each step, so that states differing only in
    /// meta-level bookkeeping (which process ran last…) are one state.
    fn normalize(&self, state: &mut Self::State) {
        let _ = state;
    }

    /// A state as counterexamples print it.
    fn describe(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }
}

/// A step of a gear system: a process runs, or an environment event happens.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum GearAction<E> {
    /// The process runs from where it stands to its next preemption point or operation end.
    Run(ProcessId),
    /// The environment event happens.
    Event(E),
}

impl<E: fmt::Debug> fmt::Debug for GearAction<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GearAction::Run(p) => write!(f, "{p} runs"),
            GearAction::Event(e) => write!(f, "event {e:?}"),
        }
    }
}

/// How [`StepPolicy`] halts a step that runs more gears than its budget without a preemption point.
pub const STEP_BUDGET_EXCEEDED: Halt = Halt::new("StepPolicy", HaltReason::Budget);

/// Why a step of a [`GearModel`] failed: what the checker reports as
/// [`Finding::StepFailed`](crate::mc::Finding::StepFailed).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum StepFailure {
    /// The point invariant ([`GearModel::point_invariant`]) did not hold inside the step.
    PointInvariant {
        /// The process whose step it was.
        process: ProcessId,
        /// The gear that ran last before the check failed.
        gear: &'static str,
        /// The gear the step was about to go to (`None` at the end of an operation).
        next: Option<&'static str>,
        /// What the invariant said, by its `Display`.
        message: String,
    },
    /// A metagear halted the step ([`STEP_BUDGET_EXCEEDED`], or one the system plugged in).
    Halted {
        /// The process whose step it was.
        process: ProcessId,
        /// Which metagear, and why.
        halt: Halt,
        /// The step, counted in the gears this step ran, at which it halted.
        step: u64,
    },
    /// An environment event could not happen: what [`GearSystem::on_event`] said.
    Event(String),
}

impl fmt::Display for StepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepFailure::PointInvariant { process, gear, next, message } => write!(
                f,
                "{process}: invariant violated at a preemption point, after `{gear}` before {}: {message}",
                next.unwrap_or("the end of the operation")
            ),
            StepFailure::Halted { process, halt, step } => {
                write!(f, "{process} halted at its gear #{step}: {halt}")
            }
            StepFailure::Event(message) => f.write_str(message),
        }
    }
}

/// The metagear that makes one model-checker step: it preempts (in its mode) at the first
/// preemption point reached, or at the first one where `when` says so (an interrupt is pending),
/// and halts a step that runs more than `budget` gears between two preemption chances (DESIGN
/// property 2: that gap is bounded).
pub struct StepPolicy<C: Context> {
    mode: Mode,
    budget: u64,
    gap: u64,
    when: Option<fn(&C) -> bool>,
}

impl<C: Context> StepPolicy<C> {
    /// Preempts in `mode` at the first point; halts past `budget` gears without a point.
    pub fn new(mode: Mode, budget: u64) -> Self {
        StepPolicy { mode, budget, gap: 0, when: None }
    }

    /// Preempts only at points where `when` holds of the context; goes on through the others.
    pub fn when(mut self, when: fn(&C) -> bool) -> Self {
        self.when = Some(when);
        self
    }
}

impl<C: Context> MetaGear<C> for StepPolicy<C> {
    fn before(&mut self, _at: &Step<C>, _ctx: &C) -> Control {
        self.gap += 1;
        if self.gap > self.budget { Control::Halt(STEP_BUDGET_EXCEEDED) } else { Control::Continue }
    }

    fn preemption_point(&mut self, _at: &Step<C>, _next: &'static Gear<C>, ctx: &C) -> PointDecision {
        self.gap = 0;
        match self.when {
            Some(when) if !when(ctx) => PointDecision::Continue,
            _ => PointDecision::Preempt(self.mode),
        }
    }
}

/// A [`GearSystem`] as a [`Model`]: its actions are [`GearAction`]s, one step runs one process
/// with the real [`Dispatcher`] under a [`StepPolicy`] (and a [`Tracer`] when the checker asks
/// for the gears, for counterexamples and diagrams).
pub struct GearModel<Y: GearSystem> {
    system: Y,
    mode: Mode,
    budget: u64,
    when: Option<fn(&Y::Ctx) -> bool>,
    point_check: Option<PointCheck<Y::Ctx>>,
}

/// An invariant on the context, checked at every preemption point a step reaches; what it says
/// when it fails is the step's failure, as text.
type PointCheck<C> = Box<dyn Fn(&C) -> Result<(), String> + Send + Sync>;

impl<Y: GearSystem> GearModel<Y> {
    /// The model of `system`: preempting at every preemption point under [`Mode::Resume`], at
    /// most 10 000 gears between two preemption chances.
    pub fn new(system: Y) -> Self {
        GearModel { system, mode: Mode::Resume, budget: 10_000, when: None, point_check: None }
    }

    /// Preempts only at the preemption points where `pending` holds of the context (seL4: an
    /// interrupt is pending), going on through the others; the system's events make it hold
    /// (an interrupt arriving) and [`GearSystem::preempted`] takes it.
    pub fn preempt_when(mut self, pending: fn(&Y::Ctx) -> bool) -> Self {
        self.when = Some(pending);
        self
    }

    /// Preempts in `mode` instead: under [`Mode::Restart`] a preempted operation starts over at
    /// its entry gear ([`GearSystem::begin`] is asked again) and finds its progress in the kernel.
    pub fn with_mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Checks `check` with the [`Invariant`] metagear inside every step: at each preemption point
    /// reached and at each operation's end, also the points a step goes on through (under
    /// [`preempt_when`](Self::preempt_when)), where the checker sees no state. A violation fails
    /// the step ([`Finding::StepFailed`](crate::mc::Finding::StepFailed), with the gear and what
    /// `check` said, by its `Display`).
    pub fn point_invariant<E: fmt::Display + 'static>(mut self, check: fn(&Y::Ctx) -> Result<(), E>) -> Self {
        self.point_check = Some(Box::new(move |ctx| check(ctx).map_err(|e| format!("{e}"))));
        self
    }

    /// Halts (and reports) a step that runs more than `gears` gears without a preemption point.
    pub fn with_step_budget(mut self, gears: u64) -> Self {
        self.budget = gears.max(1);
        self
    }

    /// The system.
    pub fn system(&self) -> &Y {
        &self.system
    }

    /// Runs process `p` of `state` for one step, in place; appends the gears it ran to `trace`.
    pub fn run(
        &self,
        state: &mut Y::State,
        p: ProcessId,
        trace: Option<&mut Trace>,
    ) -> Result<(), StepFailure> {
        let sys = &self.system;
        let saved = sys.context(state, p).meta().continuation;
        let entry = match saved {
            Some(g) => g,
            None => sys.begin(state, p),
        };
        let tracer = trace.is_some().then(Tracer::new);
        let mut policy = StepPolicy::new(self.mode, self.budget);
        if let Some(when) = self.when {
            policy = policy.when(when);
        }
        let invariant = self.point_check.as_deref().map(|check| Invariant::new(check).with_trace_limit(1));
        let mut d = Dispatcher::new((policy, tracer, invariant));
        let outcome = d.run(sys.context(state, p), entry);
        if let (Some(trace), Some(tracer)) = (trace, d.meta_mut().1.as_mut()) {
            trace.events.append(&mut tracer.take().events);
        }
        match outcome {
            Outcome::Exited(v) => sys.finish(state, p, Ok(v)),
            Outcome::Failed(e) => sys.finish(state, p, Err(e)),
            Outcome::Preempted { .. } => sys.preempted(state, p),
            Outcome::Halted { halt, step } => {
                return Err(match d.meta().2.as_ref().and_then(|i| i.violation()) {
                    Some(v) => StepFailure::PointInvariant {
                        process: p,
                        gear: v.gear,
                        next: v.next,
                        message: v.error.clone(),
                    },
                    None => StepFailure::Halted { process: p, halt, step },
                });
            }
        }
        sys.park(state, p);
        Ok(())
    }
}

impl<Y: GearSystem> Model for GearModel<Y> {
    type State = Y::State;
    type Action = GearAction<Y::Event>;
    type Failure = StepFailure;

    fn init_states(&self) -> Vec<Self::State> {
        self.system.initial()
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        for p in self.system.processes(state) {
            if self.system.status(state, p) == Status::Runnable {
                actions.push(GearAction::Run(p));
            }
        }
        let mut events = Vec::new();
        self.system.events(state, &mut events);
        actions.extend(events.into_iter().map(GearAction::Event));
    }

    fn next_state(
        &self,
        state: &Self::State,
        action: &Self::Action,
        trace: Option<&mut Trace>,
    ) -> Result<Self::State, StepFailure> {
        let mut next = state.clone();
        match action {
            GearAction::Run(p) => self.run(&mut next, *p, trace)?,
            GearAction::Event(e) => self.system.on_event(&mut next, e).map_err(StepFailure::Event)?,
        }
        self.system.normalize(&mut next);
        Ok(next)
    }

    fn is_done(&self, state: &Self::State) -> bool {
        self.system.processes(state).into_iter().all(|p| self.system.status(state, p) == Status::Done)
    }

    fn process(&self, action: &Self::Action) -> Option<ProcessId> {
        match action {
            GearAction::Run(p) => Some(*p),
            GearAction::Event(_) => None,
        }
    }

    fn describe(&self, state: &Self::State) -> String {
        self.system.describe(state)
    }
}
