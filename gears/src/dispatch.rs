//! The dispatcher: the meta loop that runs gears, and the only place preemption can happen.

use core::fmt;
use core::marker::PhantomData;

use crate::{Context, Control, Gear, Halt, MetaGear, Mode, Next, PointDecision, Step};

/// How a run of the dispatcher ended.
#[must_use = "an `Outcome` says whether the operation finished, was preempted or was halted"]
pub enum Outcome<C: Context> {
    /// The operation left the kernel with a result ([`Next::Exit`]).
    Exited(C::Output),
    /// The operation left the kernel with an error ([`Next::Fail`]).
    Failed(C::Error),
    /// The operation was stopped at a preemption point before `next`; under [`Mode::Resume`] the
    /// context keeps `next` as its continuation, under [`Mode::Restart`] it keeps nothing.
    Preempted {
        /// The gear the operation would have gone to.
        next: &'static Gear<C>,
        /// What the next run of this context does.
        mode: Mode,
    },
    /// A metagear stopped the run (an invariant failed, a model checker cut the path…).
    Halted {
        /// Which metagear stopped the run, and why.
        halt: Halt,
        /// The step at which it stopped the run.
        step: u64,
    },
}

impl<C: Context> Outcome<C> {
    /// Whether the operation finished (exited or failed), as opposed to being stopped.
    pub fn is_finished(&self) -> bool {
        matches!(self, Outcome::Exited(_) | Outcome::Failed(_))
    }
}

impl<C: Context> fmt::Debug for Outcome<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exited(v) => write!(f, "Exited({v:?})"),
            Outcome::Failed(e) => write!(f, "Failed({e:?})"),
            Outcome::Preempted { next, mode } => write!(f, "Preempted({mode} at {})", next.name()),
            Outcome::Halted { halt, step } => write!(f, "Halted({halt} at step {step})"),
        }
    }
}

impl<C: Context> PartialEq for Outcome<C>
where
    C::Output: PartialEq,
    C::Error: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Outcome::Exited(a), Outcome::Exited(b)) => a == b,
            (Outcome::Failed(a), Outcome::Failed(b)) => a == b,
            (Outcome::Preempted { next: a, mode: m }, Outcome::Preempted { next: b, mode: n }) => {
                a == b && m == n
            }
            (Outcome::Halted { halt: a, step: s }, Outcome::Halted { halt: b, step: t }) => a == b && s == t,
            _ => false,
        }
    }
}

/// The meta loop: takes each `Next`, runs the metagears around it, calls the next stub.
///
/// It is the only place where an operation can be preempted, and only where a gear said
/// [`Next::Preempt`]; whether to preempt there is the metagears' decision (see
/// [`MetaGear::preemption_point`]). With `M = ()` no metagear runs and nothing is ever preempted.
pub struct Dispatcher<C: Context, M: MetaGear<C>> {
    meta: M,
    step: u64,
    _context: PhantomData<fn(&mut C)>,
}

impl<C: Context, M: MetaGear<C>> Dispatcher<C, M> {
    /// A dispatcher running the metagears `meta` (a tuple of several, or `()` for none).
    pub fn new(meta: M) -> Self {
        Dispatcher { meta, step: 0, _context: PhantomData }
    }

    /// The metagears, to read what they recorded.
    pub fn meta(&self) -> &M {
        &self.meta
    }

    /// The metagears, to reconfigure them between runs.
    pub fn meta_mut(&mut self) -> &mut M {
        &mut self.meta
    }

    /// Gives the metagears back.
    pub fn into_meta(self) -> M {
        self.meta
    }

    /// How many gears this dispatcher has run, over all its runs.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Runs an operation on `ctx` until it leaves the kernel, is preempted, or a metagear halts it.
    ///
    /// It starts from the continuation saved in `ctx` if there is one (an operation preempted under
    /// [`Mode::Resume`]), else from `entry` (a new operation, or one preempted under
    /// [`Mode::Restart`], which starts over and finds its progress in the kernel objects).
    pub fn run(&mut self, ctx: &mut C, entry: &'static Gear<C>) -> Outcome<C> {
        let mut gear = self.start(ctx, entry);
        loop {
            match self.transition(ctx, gear) {
                Ok(next) => gear = next,
                Err(outcome) => return outcome,
            }
        }
    }

    /// Like [`run`](Self::run), but one gear at a time: the stepping API for tests and debuggers.
    pub fn stepper<'d>(&'d mut self, ctx: &'d mut C, entry: &'static Gear<C>) -> Stepper<'d, C, M> {
        let gear = self.start(ctx, entry);
        Stepper { dispatcher: self, ctx, current: Some(gear), outcome: None }
    }

    fn start(&mut self, ctx: &mut C, entry: &'static Gear<C>) -> &'static Gear<C> {
        let saved = ctx.meta_mut().continuation.take();
        let gear = saved.unwrap_or(entry);
        self.meta.started(self.step, gear, saved.is_some(), ctx);
        gear
    }

    /// One transition: metagears before, the gear, metagears after, then the preemption point.
    #[inline(always)]
    fn transition(&mut self, ctx: &mut C, gear: &'static Gear<C>) -> Result<&'static Gear<C>, Outcome<C>> {
        let at = Step { step: self.step, process: ctx.process(), gear };
        if let Control::Halt(halt) = self.meta.before(&at, ctx) {
            return Err(Outcome::Halted { halt, step: at.step });
        }
        let next = gear.run(ctx);
        self.step += 1;
        if let Control::Halt(halt) = self.meta.after(&at, &next, ctx) {
            return Err(Outcome::Halted { halt, step: at.step });
        }
        match next {
            Next::Goto(g) => Ok(g),
            Next::Preempt(g) => match self.meta.preemption_point(&at, g, ctx) {
                PointDecision::Continue => Ok(g),
                PointDecision::Preempt(mode) => {
                    ctx.meta_mut().continuation = match mode {
                        Mode::Resume => Some(g),
                        Mode::Restart => None,
                    };
                    self.meta.preempted(&at, g, mode, ctx);
                    Err(Outcome::Preempted { next: g, mode })
                }
                PointDecision::Halt(halt) => Err(Outcome::Halted { halt, step: at.step }),
            },
            Next::Exit(v) => Err(Outcome::Exited(v)),
            Next::Fail(e) => Err(Outcome::Failed(e)),
        }
    }
}

/// A run of the dispatcher taken one gear at a time, with the context open to inspection.
pub struct Stepper<'d, C: Context, M: MetaGear<C>> {
    dispatcher: &'d mut Dispatcher<C, M>,
    ctx: &'d mut C,
    current: Option<&'static Gear<C>>,
    outcome: Option<Outcome<C>>,
}

impl<C: Context, M: MetaGear<C>> Stepper<'_, C, M> {
    /// The gear that runs next, or `None` once the run has ended.
    pub fn current(&self) -> Option<&'static Gear<C>> {
        self.current
    }

    /// The name of the gear that runs next, or `None` once the run has ended.
    pub fn current_name(&self) -> Option<&'static str> {
        self.current.map(|g| g.name())
    }

    /// The whole context, as the next gear will find it.
    pub fn ctx(&self) -> &C {
        self.ctx
    }

    /// The dispatcher, to read its metagears mid-run.
    pub fn dispatcher(&self) -> &Dispatcher<C, M> {
        self.dispatcher
    }

    /// The DataGears the next gear declared, by name, as it will find them.
    pub fn data_gears(&self) -> impl Iterator<Item = (&'static str, &dyn fmt::Debug)> + '_ {
        let names = self.current.map(|g| g.data_gears()).unwrap_or(&[]);
        names.iter().filter_map(|&n| self.ctx.data_gear(n).map(|v| (n, v)))
    }

    /// One DataGear of the next gear, by name; `None` if the next gear did not declare it.
    pub fn data_gear(&self, name: &str) -> Option<&dyn fmt::Debug> {
        let declared = self.current?.data_gears().contains(&name);
        if declared { self.ctx.data_gear(name) } else { None }
    }

    /// How the run ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome<C>> {
        self.outcome.as_ref()
    }

    /// Runs the next gear. Returns the outcome if that ended the run, `None` if there is more.
    #[must_use = "a step can end the run (exit, failure, preemption or halt); check for `None`"]
    pub fn step(&mut self) -> Option<&Outcome<C>> {
        let gear = self.current.take()?;
        match self.dispatcher.transition(self.ctx, gear) {
            Ok(next) => {
                self.current = Some(next);
                None
            }
            Err(outcome) => {
                self.outcome = Some(outcome);
                self.outcome.as_ref()
            }
        }
    }

    /// Runs gears until the next one is named `name` (true) or the run ends first (false).
    ///
    /// If the next gear is already `name`, it runs nothing.
    pub fn run_until(&mut self, name: &str) -> bool {
        loop {
            match self.current {
                Some(g) if g.name() == name => return true,
                Some(_) => {
                    if self.step().is_some() {
                        return false;
                    }
                }
                None => return false,
            }
        }
    }

    /// Runs the rest of the operation and returns how it ended.
    pub fn run_to_end(mut self) -> Outcome<C> {
        while self.step().is_none() {}
        self.outcome.take().expect("a finished stepper has an outcome")
    }
}
