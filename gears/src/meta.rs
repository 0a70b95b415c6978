//! MetaGears: meta-level code that sees every transition the dispatcher makes.

use core::fmt;

use crate::{Context, Gear, Next, ProcessId};

/// Where the dispatcher is: the step number, the process, and the gear running at that step.
pub struct Step<C: Context> {
    /// How many gears this dispatcher has run before this one (0 for the first).
    pub step: u64,
    /// The process whose context the gear runs on.
    pub process: ProcessId,
    /// The gear running at this step.
    pub gear: &'static Gear<C>,
}

impl<C: Context> Clone for Step<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C: Context> Copy for Step<C> {}

impl<C: Context> fmt::Debug for Step<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {} {}", self.step, self.process, self.gear.name())
    }
}

/// Why a metagear stopped a run.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum HaltReason {
    /// A state invariant does not hold.
    Invariant,
    /// A gear's precondition does not hold: the gear did not run.
    Precondition,
    /// A gear's postcondition does not hold: the gear ran.
    Postcondition,
    /// More gears ran between two preemption chances than the metagear allows.
    Budget,
    /// The metagear was set to stop the run there (a breakpoint, a test's probe).
    Breakpoint,
}

impl fmt::Display for HaltReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HaltReason::Invariant => "an invariant does not hold",
            HaltReason::Precondition => "a precondition does not hold",
            HaltReason::Postcondition => "a postcondition does not hold",
            HaltReason::Budget => "more gears than the budget between two preemption chances",
            HaltReason::Breakpoint => "stopped at a breakpoint",
        })
    }
}

/// A metagear stopping a run: which metagear, and why.
///
/// The details (which invariant, which clause, the trace so far) stay in the metagear, which keeps
/// its report for the caller to read after the run.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Halt {
    /// The metagear that stopped the run, by its type's name (`Invariant`, `Contracts`, …).
    pub by: &'static str,
    /// Why it stopped the run.
    pub reason: HaltReason,
}

impl Halt {
    /// The metagear `by` stops the run for `reason`.
    pub const fn new(by: &'static str, reason: HaltReason) -> Halt {
        Halt { by, reason }
    }
}

impl fmt::Display for Halt {
    /// `by: reason`, as in `Invariant: an invariant does not hold`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.by, self.reason)
    }
}

/// What a metagear tells the dispatcher after seeing a transition.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Control {
    /// Carry on.
    Continue,
    /// Stop the run now: which metagear and why (the details stay in the metagear).
    Halt(Halt),
}

impl Control {
    /// The first halt of two, or `Continue` if neither halts.
    #[inline]
    pub fn and(self, other: Control) -> Control {
        match self {
            Control::Continue => other,
            halt => halt,
        }
    }
}

/// What happens to an operation preempted at a preemption point.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Mode {
    /// Abandon the operation; it is re-run from its entry gear, finding its progress in the kernel
    /// objects (seL4: the thread stays `Restart` and re-executes the system call).
    Restart,
    /// Keep the next gear as the continuation in the process context and resume there
    /// (Mach continuations, Draves et al. 1991).
    Resume,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Restart => "restart",
            Mode::Resume => "resume",
        })
    }
}

/// A metagear's say at a preemption point.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PointDecision {
    /// Let the operation go on.
    Continue,
    /// Stop the operation here, in this mode.
    Preempt(Mode),
    /// Stop the run: which metagear and why (the details stay in the metagear).
    Halt(Halt),
}

impl PointDecision {
    /// Combines two decisions: a halt beats a preemption, which beats going on; the first wins ties.
    #[inline]
    pub fn and(self, other: PointDecision) -> PointDecision {
        match (self, other) {
            (PointDecision::Halt(r), _) => PointDecision::Halt(r),
            (_, PointDecision::Halt(r)) => PointDecision::Halt(r),
            (PointDecision::Preempt(m), _) => PointDecision::Preempt(m),
            (PointDecision::Continue, other) => other,
        }
    }
}

/// Meta-level code plugged into the dispatcher: it sees every transition, before and after.
///
/// Every method has a default that does nothing, so a metagear implements only what it needs.
/// Metagears compose as tuples: `(Tracer::new(), Invariant::new(check))` is a metagear that runs
/// both, in order. `()` is the empty metagear.
pub trait MetaGear<C: Context> {
    /// A run begins at `entry`; `resumed` says it is a saved continuation, not an entry gear.
    fn started(&mut self, step: u64, entry: &'static Gear<C>, resumed: bool, ctx: &C) {
        let _ = (step, entry, resumed, ctx);
    }

    /// The gear of `at` is about to run on `ctx`.
    #[inline]
    fn before(&mut self, at: &Step<C>, ctx: &C) -> Control {
        let _ = (at, ctx);
        Control::Continue
    }

    /// The gear of `at` ran and said `next`; `ctx` is the state it left.
    #[inline]
    fn after(&mut self, at: &Step<C>, next: &Next<C>, ctx: &C) -> Control {
        let _ = (at, next, ctx);
        Control::Continue
    }

    /// The gear of `at` ended at a declared preemption point before `next`: the kernel must be
    /// consistent in `ctx`. Return whether to preempt here.
    #[inline]
    fn preemption_point(&mut self, at: &Step<C>, next: &'static Gear<C>, ctx: &C) -> PointDecision {
        let _ = (at, next, ctx);
        PointDecision::Continue
    }

    /// The operation was preempted after `at`, before `next`, in `mode`.
    fn preempted(&mut self, at: &Step<C>, next: &'static Gear<C>, mode: Mode, ctx: &C) {
        let _ = (at, next, mode, ctx);
    }
}

impl<C: Context> MetaGear<C> for () {}

impl<C: Context, M: MetaGear<C>> MetaGear<C> for Option<M> {
    fn started(&mut self, step: u64, entry: &'static Gear<C>, resumed: bool, ctx: &C) {
        if let Some(m) = self {
            m.started(step, entry, resumed, ctx);
        }
    }
    #[inline]
    fn before(&mut self, at: &Step<C>, ctx: &C) -> Control {
        match self {
            Some(m) => m.before(at, ctx),
            None => Control::Continue,
        }
    }
    #[inline]
    fn after(&mut self, at: &Step<C>, next: &Next<C>, ctx: &C) -> Control {
        match self {
            Some(m) => m.after(at, next, ctx),
            None => Control::Continue,
        }
    }
    #[inline]
    fn preemption_point(&mut self, at: &Step<C>, next: &'static Gear<C>, ctx: &C) -> PointDecision {
        match self {
            Some(m) => m.preemption_point(at, next, ctx),
            None => PointDecision::Continue,
        }
    }
    fn preempted(&mut self, at: &Step<C>, next: &'static Gear<C>, mode: Mode, ctx: &C) {
        if let Some(m) = self {
            m.preempted(at, next, mode, ctx);
        }
    }
}

macro_rules! tuple_metagear {
    ($($m:ident . $i:tt),+) => {
        impl<C: Context, $($m: MetaGear<C>),+> MetaGear<C> for ($($m,)+) {
            fn started(&mut self, step: u64, entry: &'static Gear<C>, resumed: bool, ctx: &C) {
                $( self.$i.started(step, entry, resumed, ctx); )+
            }
            #[inline]
            fn before(&mut self, at: &Step<C>, ctx: &C) -> Control {
                Control::Continue $( .and(self.$i.before(at, ctx)) )+
            }
            #[inline]
            fn after(&mut self, at: &Step<C>, next: &Next<C>, ctx: &C) -> Control {
                Control::Continue $( .and(self.$i.after(at, next, ctx)) )+
            }
            #[inline]
            fn preemption_point(&mut self, at: &Step<C>, next: &'static Gear<C>, ctx: &C) -> PointDecision {
                PointDecision::Continue $( .and(self.$i.preemption_point(at, next, ctx)) )+
            }
            fn preempted(&mut self, at: &Step<C>, next: &'static Gear<C>, mode: Mode, ctx: &C) {
                $( self.$i.preempted(at, next, mode, ctx); )+
            }
        }
    };
}

tuple_metagear!(A.0);
tuple_metagear!(A.0, B.1);
tuple_metagear!(A.0, B.1, C2.2);
tuple_metagear!(A.0, B.1, C2.2, D.3);
tuple_metagear!(A.0, B.1, C2.2, D.3, E.4);
tuple_metagear!(A.0, B.1, C2.2, D.3, E.4, F.5);
tuple_metagear!(A.0, B.1, C2.2, D.3, E.4, F.5, G.6);
tuple_metagear!(A.0, B.1, C2.2, D.3, E.4, F.5, G.6, H.7);
