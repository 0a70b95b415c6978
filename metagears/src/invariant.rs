//! The invariant metagear: checks a predicate on the kernel state at every preemption point.
//!
//! seL4's incremental consistency: wherever an operation may be preempted, the kernel invariants
//! must hold. On failure it stops the run and keeps a report: the gear, the step, what the
//! predicate said (its own error type), and the trace so far.

use core::fmt;

use gears::{Context, Control, Gear, Halt, HaltReason, MetaGear, Mode, Next, PointDecision, Step};

use crate::trace::{Trace, Tracer, tracer_tail};

/// How this metagear stops a run; [`Invariant::violation`] then has the report.
pub const HALT: Halt = Halt::new("Invariant", HaltReason::Invariant);

/// A failed invariant: where, when, what the predicate said, and how the run got there.
///
/// `E` is the predicate's error type (`codegears::InvariantViolation`, a `String`, …).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Violation<E> {
    /// The gear that ran last before the check failed.
    pub gear: &'static str,
    /// The gear the run was about to go to (`None` at the end of an operation).
    pub next: Option<&'static str>,
    /// The step of the gear that ran last.
    pub step: u64,
    /// What the predicate returned.
    pub error: E,
    /// The trace up to and including the failing transition.
    pub trace: Trace,
}

impl<E: fmt::Display> fmt::Display for Violation<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let next = self.next.unwrap_or("the end of the operation");
        writeln!(
            f,
            "invariant violated after `{}` at step {}, before {next}: {}",
            self.gear, self.step, self.error
        )?;
        writeln!(f, "trace so far:")?;
        write!(f, "{}", self.trace)
    }
}

/// Runs `check` at every preemption point (and, unless turned off, when an operation ends).
///
/// `check` returns `Err(e)` when an invariant does not hold, `e` of any type `E` (the report
/// prints it with `Display`). The first violation halts the run with [`HALT`];
/// [`violation`](Self::violation) then has the report.
pub struct Invariant<F, E> {
    check: F,
    tracer: Tracer,
    at_end: bool,
    checks: u64,
    violation: Option<Violation<E>>,
}

impl<F, E> Invariant<F, E> {
    /// An invariant metagear with the predicate `check`, keeping the last 64 events for reports.
    pub fn new(check: F) -> Self {
        Invariant { check, tracer: Tracer::with_limit(64), at_end: true, checks: 0, violation: None }
    }

    /// Keeps the last `events` events for the report instead of 64.
    pub fn with_trace_limit(mut self, events: usize) -> Self {
        self.tracer = Tracer::with_limit(events);
        self
    }

    /// Checks only at preemption points, not also when an operation exits or fails.
    pub fn only_at_preemption_points(mut self) -> Self {
        self.at_end = false;
        self
    }

    /// How many times the predicate ran.
    pub fn checks(&self) -> u64 {
        self.checks
    }

    /// The first violation found, if any.
    pub fn violation(&self) -> Option<&Violation<E>> {
        self.violation.as_ref()
    }

    fn run_check<C: Context>(&mut self, at: &Step<C>, next: Option<&'static str>, ctx: &C) -> bool
    where
        F: FnMut(&C) -> Result<(), E>,
    {
        self.checks += 1;
        match (self.check)(ctx) {
            Ok(()) => true,
            Err(error) => {
                if self.violation.is_none() {
                    self.violation = Some(Violation {
                        gear: at.gear.name(),
                        next,
                        step: at.step,
                        error,
                        trace: tracer_tail(&self.tracer),
                    });
                }
                false
            }
        }
    }
}

impl<C: Context, E, F: FnMut(&C) -> Result<(), E>> MetaGear<C> for Invariant<F, E> {
    fn started(&mut self, step: u64, entry: &'static Gear<C>, resumed: bool, ctx: &C) {
        self.tracer.started(step, entry, resumed, ctx);
    }

    fn after(&mut self, at: &Step<C>, next: &Next<C>, ctx: &C) -> Control {
        self.tracer.after(at, next, ctx);
        let ends = matches!(next, Next::Exit(_) | Next::Fail(_));
        if ends && self.at_end && !self.run_check(at, None, ctx) {
            return Control::Halt(HALT);
        }
        Control::Continue
    }

    fn preemption_point(&mut self, at: &Step<C>, next: &'static Gear<C>, ctx: &C) -> PointDecision {
        if self.run_check(at, Some(next.name()), ctx) {
            PointDecision::Continue
        } else {
            PointDecision::Halt(HALT)
        }
    }

    fn preempted(&mut self, at: &Step<C>, next: &'static Gear<C>, mode: Mode, ctx: &C) {
        self.tracer.preempted(at, next, mode, ctx);
    }
}
