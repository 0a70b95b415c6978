//! The tracer: one event per transition, printed as one stable, diff-friendly line each.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use gears::{Context, Gear, GearId, MetaGear, Mode, Next, ProcessId, Step};

/// A gear's name in a trace: borrowed from its descriptor on the host, owned when decoded from a
/// stream recorded elsewhere (see [`wire`](crate::wire)).
pub type Name = Cow<'static, str>;

/// What happened at one traced event.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum EventKind {
    /// A run began at this gear: an entry gear (`resumed == false`) or a saved continuation.
    Start {
        /// Whether the run resumed a saved continuation.
        resumed: bool,
    },
    /// The gear went straight to another.
    Goto(Name),
    /// The gear went to another across a declared preemption point.
    Point(Name),
    /// The gear ended the operation with this result (its `Debug` form).
    Exit(String),
    /// The gear ended the operation with this error (its `Debug` form).
    Fail(String),
    /// The operation was preempted before this gear, in this mode.
    Preempted(Name, Mode),
}

/// One traced event: which step, which process, which gear, and what happened.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct TraceEvent {
    /// The dispatcher's step counter at the event (the step of the gear that ran).
    pub step: u64,
    /// The process whose context the gear ran on.
    pub process: ProcessId,
    /// The gear's name (its short name, as written in its definition).
    pub gear: Name,
    /// The gear's stable id, the hash of its path: two gears named alike in two modules share a
    /// name here and differ in id.
    pub id: GearId,
    /// What happened.
    pub kind: EventKind,
}

impl TraceEvent {
    /// Whether this event is a gear transition (as opposed to a run starting or being preempted).
    pub fn is_transition(&self) -> bool {
        !matches!(self.kind, EventKind::Start { .. } | EventKind::Preempted(..))
    }
}

impl fmt::Display for TraceEvent {
    /// `  step pN gear -> next [pp]`; meta events (start, preempted) carry `.` for a step.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (step, p, gear) = (self.step, self.process, &self.gear);
        match &self.kind {
            EventKind::Start { resumed: false } => write!(f, "     . {p} start {gear}"),
            EventKind::Start { resumed: true } => write!(f, "     . {p} resume {gear}"),
            EventKind::Goto(to) => write!(f, "{step:>6} {p} {gear} -> {to}"),
            EventKind::Point(to) => write!(f, "{step:>6} {p} {gear} -> {to} [pp]"),
            EventKind::Exit(v) => write!(f, "{step:>6} {p} {gear} -> exit {v}"),
            EventKind::Fail(e) => write!(f, "{step:>6} {p} {gear} -> fail {e}"),
            EventKind::Preempted(to, mode) => write!(f, "     . {p} preempted before {to} ({mode})"),
        }
    }
}

/// A recorded trace: the events in order. Its `Display` is one line per event.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Trace {
    /// The events, oldest first.
    pub events: Vec<TraceEvent>,
}

impl Trace {
    /// The names of the gears that ran, in order (transitions only).
    pub fn gear_names(&self) -> Vec<&str> {
        self.events.iter().filter(|e| e.is_transition()).map(|e| &*e.gear).collect()
    }

    /// How many times an operation was preempted in this trace.
    pub fn preemptions(&self) -> usize {
        self.events.iter().filter(|e| matches!(e.kind, EventKind::Preempted(..))).count()
    }

    /// How many gears ran in this trace (its transition events).
    pub fn transitions(&self) -> usize {
        self.events.iter().filter(|e| e.is_transition()).count()
    }

    /// Adds `offset` to the step of every event: numbers a trace recorded by a fresh dispatcher on
    /// from where an earlier one stopped (the steps of a counterexample, runs glued together).
    pub fn offset_steps(&mut self, offset: u64) {
        for e in &mut self.events {
            e.step += offset;
        }
    }

    /// How many declared preemption points were reached (crossed or stopped at: a point where the
    /// operation was preempted shows as a `Point` event followed by a `Preempted` one).
    pub fn preemption_points(&self) -> usize {
        self.events.iter().filter(|e| matches!(e.kind, EventKind::Point(_))).count()
    }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.events {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The event for a gear that ran at `at` and said `next`. A preemption point that then preempts
/// still shows as `Point` here, followed by a `Preempted` event.
pub fn transition_event<C: Context>(at: &Step<C>, next: &Next<C>) -> TraceEvent {
    let kind = match next {
        Next::Goto(g) => EventKind::Goto(Name::Borrowed(g.name())),
        Next::Preempt(g) => EventKind::Point(Name::Borrowed(g.name())),
        Next::Exit(v) => EventKind::Exit(format!("{v:?}")),
        Next::Fail(e) => EventKind::Fail(format!("{e:?}")),
    };
    TraceEvent {
        step: at.step,
        process: at.process,
        gear: Name::Borrowed(at.gear.name()),
        id: at.gear.id(),
        kind,
    }
}

/// The metagear that records every event into a [`Trace`].
///
/// It changes nothing and never halts or preempts: plugging it in leaves the run as it was.
#[derive(Clone, Debug, Default)]
pub struct Tracer {
    trace: Trace,
    limit: Option<usize>,
}

impl Tracer {
    /// A tracer that keeps every event.
    pub fn new() -> Self {
        Tracer::default()
    }

    /// A tracer that keeps only the latest `limit` events (for long runs whose tail matters).
    pub fn with_limit(limit: usize) -> Self {
        Tracer { trace: Trace::default(), limit: Some(limit.max(1)) }
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Takes the trace so far, leaving an empty one.
    pub fn take(&mut self) -> Trace {
        core::mem::take(&mut self.trace)
    }

    fn push(&mut self, e: TraceEvent) {
        if let Some(limit) = self.limit
            && self.trace.events.len() >= limit.saturating_mul(2)
        {
            let excess = self.trace.events.len() - limit;
            self.trace.events.drain(..excess);
        }
        self.trace.events.push(e);
    }

    fn tail(&self) -> Trace {
        match self.limit {
            Some(limit) if self.trace.events.len() > limit => {
                Trace { events: self.trace.events[self.trace.events.len() - limit..].to_vec() }
            }
            _ => self.trace.clone(),
        }
    }
}

impl<C: Context> MetaGear<C> for Tracer {
    fn started(&mut self, step: u64, entry: &'static Gear<C>, resumed: bool, ctx: &C) {
        self.push(TraceEvent {
            step,
            process: ctx.process(),
            gear: Name::Borrowed(entry.name()),
            id: entry.id(),
            kind: EventKind::Start { resumed },
        });
    }

    fn after(&mut self, at: &Step<C>, next: &Next<C>, _ctx: &C) -> gears::Control {
        self.push(transition_event(at, next));
        gears::Control::Continue
    }

    fn preempted(&mut self, at: &Step<C>, next: &'static Gear<C>, mode: Mode, _ctx: &C) {
        self.push(TraceEvent {
            step: at.step,
            process: at.process,
            gear: Name::Borrowed(at.gear.name()),
            id: at.gear.id(),
            kind: EventKind::Preempted(Name::Borrowed(next.name()), mode),
        });
    }
}

/// The last `limit` events of a tracer (or all of them): what a failure report shows.
pub(crate) fn tracer_tail(t: &Tracer) -> Trace {
    t.tail()
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::{EventKind, Name, Trace, TraceEvent};
    use gears::{GearId, Mode, ProcessId};

    fn event(step: u64, kind: EventKind) -> TraceEvent {
        TraceEvent { step, process: ProcessId(0), gear: Name::Borrowed("g"), id: GearId::of("g"), kind }
    }

    #[test]
    fn offset_steps_renumbers_every_event_and_transitions_counts_the_gears_run() {
        let mut t = Trace {
            events: alloc::vec![
                event(0, EventKind::Start { resumed: false }),
                event(0, EventKind::Point(Name::Borrowed("g"))),
                event(0, EventKind::Preempted(Name::Borrowed("g"), Mode::Resume)),
                event(1, EventKind::Exit("7".into())),
            ],
        };
        assert_eq!(t.transitions(), 2);
        t.offset_steps(10);
        let steps: alloc::vec::Vec<u64> = t.events.iter().map(|e| e.step).collect();
        assert_eq!(steps, [10, 10, 10, 11]);
        assert_eq!(t.events[3].to_string(), "    11 p0 g -> exit 7");
    }
}
