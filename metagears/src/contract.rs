//! Contracts: Hoare triples `{P} gear {Q}` for CodeGears, checked by a metagear.
//!
//! A CodeGear never knows its contract exists (DESIGN property 5): a [`Contract`] lives at the meta
//! level and names its gear by the gear's static descriptor (`&IALLOC`). A contract has
//!
//! - **preconditions** (`requires`): predicates on the context the gear is about to run on;
//! - an **old-value snapshot** (`old`): a small ghost value computed from the context before the
//!   gear runs (a number, a tuple, one DataGear cloned), which the postconditions receive;
//! - **postconditions** (`ensures`): predicates on the ghost value, the context the gear left, and
//!   the [`Next`] it said, so a postcondition also constrains where control goes.
//!
//! The [`Contracts`] metagear holds the contracts of any number of gears. Before a gear runs it
//! checks that gear's preconditions and takes its snapshots; after, it checks the postconditions.
//! The first failed clause halts the run ([`HALT_PRE`] before the gear runs, [`HALT_POST`] after)
//! and leaves a [`Breach`] report: the contract, the clause, the gear, the step, the gear's
//! DataGears (names and `Debug` values), the old values, and the trace so far.
//!
//! ```
//! use gears::{Dispatcher, Next, Outcome, ProcessId};
//! use metagears::{Contract, Contracts};
//!
//! gears::context! {
//!     /// A countdown.
//!     #[derive(Clone, Debug, PartialEq, Eq, Hash)]
//!     pub struct Down { output: u32, error: (), data_gears: { pub n: u32 } }
//! }
//!
//! gears::code_gear! {
//!     /// Count down by one across a preemption point, exit at zero.
//!     pub fn down(ctx: Down; n: &mut u32) {
//!         if *n == 0 { return Next::Exit(0); }
//!         *n -= 1;
//!         Next::Preempt(&DOWN)
//!     }
//! }
//!
//! let contracts = Contracts::new().with(
//!     Contract::new("countdown", &DOWN)
//!         .requires("n is at most 100", |c: &Down| c.n <= 100)
//!         .old(|c: &Down| c.n)
//!         .ensures("n decreases on the back edge", |&n0, c: &Down, next: &Next<Down>| {
//!             next.target() != Some(&DOWN) || c.n < n0
//!         })
//!         .ensures("exits only at zero", |&n0, _c: &Down, next: &Next<Down>| {
//!             !matches!(next, Next::Exit(_)) || n0 == 0
//!         }),
//! );
//! let mut d = Dispatcher::new(contracts);
//! assert_eq!(d.run(&mut Down::new(ProcessId(0), 3), &DOWN), Outcome::Exited(0));
//! assert_eq!(d.meta().checked(), (4, 4));
//! assert!(d.meta().breach().is_none());
//! ```

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use gears::{Context, Control, Gear, Halt, HaltReason, MetaGear, Mode, Next, ProcessId, Step};

use crate::trace::{Trace, Tracer, tracer_tail};

/// How the contract metagear stops a run at a broken precondition (the gear did not run).
pub const HALT_PRE: Halt = Halt::new("Contracts", HaltReason::Precondition);

/// How the contract metagear stops a run at a broken postcondition (the gear ran).
pub const HALT_POST: Halt = Halt::new("Contracts", HaltReason::Postcondition);

/// What a contract clause may return: `bool`, or `Result<(), E>` whose error says why it failed
/// (any `E: Display`: a `String`, a checker's own violation type).
pub trait Verdict {
    /// `Ok(())` if the clause holds, else `Err` with the details as text (empty if there are none):
    /// the report of [`Breach::message`].
    fn verdict(self) -> Result<(), String>;
}

impl Verdict for bool {
    fn verdict(self) -> Result<(), String> {
        if self { Ok(()) } else { Err(String::new()) }
    }
}

impl<E: fmt::Display> Verdict for Result<(), E> {
    fn verdict(self) -> Result<(), String> {
        self.map_err(|e| format!("{e}"))
    }
}

type Pre<C> = Box<dyn Fn(&C) -> Result<(), String>>;
type Post<C, O> = Box<dyn Fn(&O, &C, &Next<C>) -> Result<(), String>>;

/// The contract of one CodeGear: preconditions, an old-value snapshot `O`, postconditions.
///
/// Built with [`new`](Self::new), then [`requires`](Self::requires), [`old`](Self::old) and
/// [`ensures`](Self::ensures) in any order (`old` changes the type of the ghost value the
/// postconditions receive, so postconditions written before it ignore it). Without `old` the ghost
/// value is `()`.
pub struct Contract<C: Context, O = ()> {
    name: &'static str,
    gear: &'static Gear<C>,
    requires: Vec<(&'static str, Pre<C>)>,
    old: Box<dyn Fn(&C) -> O>,
    ensures: Vec<(&'static str, Post<C, O>)>,
}

impl<C: Context + 'static> Contract<C, ()> {
    /// An empty contract named `name` for the gear `gear`.
    pub fn new(name: &'static str, gear: &'static Gear<C>) -> Self {
        Contract { name, gear, requires: Vec::new(), old: Box::new(|_| ()), ensures: Vec::new() }
    }

    /// Snapshots `old(ctx)` before the gear runs; every postcondition receives it.
    ///
    /// Keep it small: it runs before every run of the gear. Take the numbers a postcondition
    /// relates to (a cursor, a hint, one table entry), not the context.
    pub fn old<O: fmt::Debug + 'static>(self, old: impl Fn(&C) -> O + 'static) -> Contract<C, O> {
        let ensures = self
            .ensures
            .into_iter()
            .map(|(label, post)| {
                let post: Post<C, O> = Box::new(move |_: &O, ctx: &C, next: &Next<C>| post(&(), ctx, next));
                (label, post)
            })
            .collect();
        Contract { name: self.name, gear: self.gear, requires: self.requires, old: Box::new(old), ensures }
    }
}

impl<C: Context + 'static, O: fmt::Debug + 'static> Contract<C, O> {
    /// Adds the precondition `label`: `pre(ctx)` must hold before the gear runs.
    pub fn requires<V: Verdict>(mut self, label: &'static str, pre: impl Fn(&C) -> V + 'static) -> Self {
        self.requires.push((label, Box::new(move |ctx: &C| pre(ctx).verdict())));
        self
    }

    /// Adds the postcondition `label`: `post(old, ctx, next)` must hold after the gear ran, where
    /// `old` is the snapshot taken before, `ctx` the state the gear left and `next` where it goes.
    pub fn ensures<V: Verdict>(
        mut self,
        label: &'static str,
        post: impl Fn(&O, &C, &Next<C>) -> V + 'static,
    ) -> Self {
        self.ensures
            .push((label, Box::new(move |old: &O, ctx: &C, next: &Next<C>| post(old, ctx, next).verdict())));
        self
    }

    /// The same contract for another gear: checks a variant or a replacement of the gear (a copy
    /// under test, an optimised version) against the original's specification.
    pub fn on(mut self, gear: &'static Gear<C>) -> Self {
        self.gear = gear;
        self
    }

    /// The contract's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The gear it is the contract of.
    pub fn gear(&self) -> &'static Gear<C> {
        self.gear
    }
}

/// Which half of a Hoare triple failed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Condition {
    /// A precondition: checked before the gear ran (the gear did not run).
    Pre,
    /// A postcondition: checked after the gear ran.
    Post,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Condition::Pre => "precondition",
            Condition::Post => "postcondition",
        })
    }
}

/// A broken contract: which clause, of which gear, when, the DataGears, and the trace so far.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Breach {
    /// The contract's name.
    pub contract: &'static str,
    /// Pre or post.
    pub condition: Condition,
    /// The label of the clause that failed.
    pub clause: &'static str,
    /// What the clause said about why, as text (its error's `Display`; empty for a clause that
    /// returns `bool`). Text, because the clauses of one metagear may have different error types.
    pub message: String,
    /// The gear whose contract it is.
    pub gear: &'static str,
    /// The dispatcher's step of that gear.
    pub step: u64,
    /// The process whose context the gear ran on.
    pub process: ProcessId,
    /// Where the gear went (`Debug` of its [`Next`]); `None` for a precondition.
    pub next: Option<String>,
    /// The old values (`Debug` of the snapshot); `None` for a precondition.
    pub old: Option<String>,
    /// The gear's declared DataGears, name and `Debug` value: as the gear was about to find them
    /// (precondition) or as it left them (postcondition).
    pub data_gears: Vec<(&'static str, String)>,
    /// For a postcondition, the DataGears as the gear found them, if the metagear was asked to
    /// keep them ([`Contracts::keeping_data_gears_before`]).
    pub data_gears_before: Option<Vec<(&'static str, String)>>,
    /// The trace up to and including the gear's transition (for a postcondition), a bounded tail.
    pub trace: Trace,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "contract `{}` violated: {} of `{}` at step {} ({})",
            self.contract, self.condition, self.gear, self.step, self.process
        )?;
        writeln!(f)?;
        write!(f, "  clause: {}", self.clause)?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        writeln!(f)?;
        if let Some(next) = &self.next {
            writeln!(f, "  went:   {next}")?;
        }
        if let Some(old) = &self.old {
            writeln!(f, "  old:    {old}")?;
        }
        if let Some(before) = &self.data_gears_before {
            writeln!(f, "  data gears before the gear ran:")?;
            for (name, value) in before {
                writeln!(f, "    {name} = {value}")?;
            }
        }
        match self.condition {
            Condition::Pre => writeln!(f, "  data gears before the gear ran:")?,
            Condition::Post => writeln!(f, "  data gears after the gear ran:")?,
        }
        for (name, value) in &self.data_gears {
            writeln!(f, "    {name} = {value}")?;
        }
        writeln!(f, "trace so far:")?;
        write!(f, "{}", self.trace)
    }
}

/// A contract with its ghost value's type erased, so contracts of any `O` share one list.
trait Clause<C: Context> {
    fn name(&self) -> &'static str;
    fn gear(&self) -> &'static Gear<C>;
    /// Checks the preconditions; on success takes the snapshot. `Err((label, why))` on failure.
    fn pre(&mut self, ctx: &C) -> Result<(), (&'static str, String)>;
    /// Checks the postconditions against the snapshot taken by `pre`; `Ok(false)` if none was.
    fn post(&mut self, ctx: &C, next: &Next<C>) -> Result<bool, (&'static str, String, String)>;
}

struct Armed<C: Context, O> {
    contract: Contract<C, O>,
    ghost: Option<O>,
}

impl<C: Context + 'static, O: fmt::Debug + 'static> Clause<C> for Armed<C, O> {
    fn name(&self) -> &'static str {
        self.contract.name
    }

    fn gear(&self) -> &'static Gear<C> {
        self.contract.gear
    }

    fn pre(&mut self, ctx: &C) -> Result<(), (&'static str, String)> {
        self.ghost = None;
        for (label, pre) in &self.contract.requires {
            pre(ctx).map_err(|why| (*label, why))?;
        }
        self.ghost = Some((self.contract.old)(ctx));
        Ok(())
    }

    fn post(&mut self, ctx: &C, next: &Next<C>) -> Result<bool, (&'static str, String, String)> {
        let Some(old) = self.ghost.take() else { return Ok(false) };
        for (label, post) in &self.contract.ensures {
            post(&old, ctx, next).map_err(|why| (*label, why, format!("{old:?}")))?;
        }
        Ok(true)
    }
}

/// The contract metagear: checks the contracts of the gears it was given, around every run of
/// each, and halts the run at the first broken clause ([`HALT_PRE`] or [`HALT_POST`]).
///
/// Gears without a contract run unchecked. It never preempts and changes nothing, so plugging it
/// into a run that keeps its contracts leaves the run as it was. Compose it with other metagears
/// as a tuple: `(Tracer::new(), Invariant::new(check), contracts)`.
pub struct Contracts<C: Context> {
    clauses: Vec<Box<dyn Clause<C>>>,
    tracer: Tracer,
    keep_before: bool,
    before: Vec<(&'static str, String)>,
    pre_checked: u64,
    post_checked: u64,
    breach: Option<Breach>,
}

impl<C: Context + 'static> Default for Contracts<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Context + 'static> Contracts<C> {
    /// No contracts yet; the report keeps the last 64 trace events.
    pub fn new() -> Self {
        Contracts {
            clauses: Vec::new(),
            tracer: Tracer::with_limit(64),
            keep_before: false,
            before: Vec::new(),
            pre_checked: 0,
            post_checked: 0,
            breach: None,
        }
    }

    /// Adds a contract (a gear may have several; all are checked, in the order added).
    pub fn with<O: fmt::Debug + 'static>(mut self, contract: Contract<C, O>) -> Self {
        self.add(contract);
        self
    }

    /// Adds a contract, in place.
    pub fn add<O: fmt::Debug + 'static>(&mut self, contract: Contract<C, O>) {
        self.clauses.push(Box::new(Armed { contract, ghost: None }));
    }

    /// Adds every contract of `other` after these.
    pub fn extend(mut self, other: Contracts<C>) -> Self {
        self.clauses.extend(other.clauses);
        self
    }

    /// Keeps the last `events` trace events for the report instead of 64.
    pub fn with_trace_limit(mut self, events: usize) -> Self {
        self.tracer = Tracer::with_limit(events);
        self
    }

    /// Also shows, in a postcondition's report, the gear's DataGears as the gear found them. This
    /// formats them before every run of a gear with a contract, so it costs what printing them
    /// costs: for debugging, not for long runs.
    pub fn keeping_data_gears_before(mut self) -> Self {
        self.keep_before = true;
        self
    }

    /// The contracts' names with their gears' names, in the order added.
    pub fn names(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.clauses.iter().map(|c| (c.name(), c.gear().name()))
    }

    /// Whether some contract covers `gear`.
    pub fn covers(&self, gear: &Gear<C>) -> bool {
        self.clauses.iter().any(|c| c.gear() == gear)
    }

    /// How many contracts had their preconditions and their postconditions checked (one count per
    /// contract per run of its gear).
    pub fn checked(&self) -> (u64, u64) {
        (self.pre_checked, self.post_checked)
    }

    /// The first broken contract, if any.
    pub fn breach(&self) -> Option<&Breach> {
        self.breach.as_ref()
    }

    /// Forgets a breach and the trace, to go on with another run.
    pub fn clear(&mut self) {
        self.breach = None;
        self.tracer.take();
    }

    fn report(&mut self, breach: Breach) {
        if self.breach.is_none() {
            self.breach = Some(breach);
        }
    }
}

fn data_gears_of<C: Context>(gear: &Gear<C>, ctx: &C) -> Vec<(&'static str, String)> {
    gear.data_gears()
        .iter()
        .map(|&name| match ctx.data_gear(name) {
            Some(v) => (name, format!("{v:?}")),
            None => (name, String::from("<not in the context>")),
        })
        .collect()
}

impl<C: Context + 'static> MetaGear<C> for Contracts<C> {
    fn started(&mut self, step: u64, entry: &'static Gear<C>, resumed: bool, ctx: &C) {
        self.tracer.started(step, entry, resumed, ctx);
    }

    fn before(&mut self, at: &Step<C>, ctx: &C) -> Control {
        let mut failed = None;
        for clause in self.clauses.iter_mut().filter(|c| c.gear() == at.gear) {
            self.pre_checked += 1;
            if let Err((label, why)) = clause.pre(ctx) {
                failed = Some((clause.name(), label, why));
                break;
            }
        }
        let Some((contract, clause, message)) = failed else {
            if self.keep_before && self.clauses.iter().any(|c| c.gear() == at.gear) {
                self.before = data_gears_of(at.gear, ctx);
            }
            return Control::Continue;
        };
        let breach = Breach {
            contract,
            condition: Condition::Pre,
            clause,
            message,
            gear: at.gear.name(),
            step: at.step,
            process: at.process,
            next: None,
            old: None,
            data_gears: data_gears_of(at.gear, ctx),
            data_gears_before: None,
            trace: tracer_tail(&self.tracer),
        };
        self.report(breach);
        Control::Halt(HALT_PRE)
    }

    fn after(&mut self, at: &Step<C>, next: &Next<C>, ctx: &C) -> Control {
        self.tracer.after(at, next, ctx);
        let mut failed = None;
        for clause in self.clauses.iter_mut().filter(|c| c.gear() == at.gear) {
            match clause.post(ctx, next) {
                Ok(true) => self.post_checked += 1,
                Ok(false) => {}
                Err((label, why, old)) => {
                    self.post_checked += 1;
                    failed = Some((clause.name(), label, why, old));
                    break;
                }
            }
        }
        let Some((contract, clause, message, old)) = failed else { return Control::Continue };
        let breach = Breach {
            contract,
            condition: Condition::Post,
            clause,
            message,
            gear: at.gear.name(),
            step: at.step,
            process: at.process,
            next: Some(format!("{next:?}")),
            old: Some(old),
            data_gears: data_gears_of(at.gear, ctx),
            data_gears_before: self.keep_before.then(|| core::mem::take(&mut self.before)),
            trace: tracer_tail(&self.tracer),
        };
        self.report(breach);
        Control::Halt(HALT_POST)
    }

    fn preempted(&mut self, at: &Step<C>, next: &'static Gear<C>, mode: Mode, ctx: &C) {
        self.tracer.preempted(at, next, mode, ctx);
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use gears::{Dispatcher, Next, Outcome, ProcessId};

    use super::{Condition, Contract, Contracts, HALT_POST, HALT_PRE};
    use crate::Tracer;

    gears::context! {
        /// Two counters.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct Pair { output: u32, error: (), data_gears: { pub a: u32, pub b: u32 } }
    }

    gears::code_gear! {
        /// Moves one from `a` to `b`, across a preemption point, until `a` is empty.
        pub fn shift(ctx: Pair; a: &mut u32, b: &mut u32) {
            if *a == 0 { return Next::Exit(*b); }
            *a -= 1;
            *b += 1;
            Next::Preempt(&SHIFT)
        }
    }

    gears::code_gear! {
        /// Not covered by any contract.
        pub fn idle(ctx: Pair; a: &u32) {
            Next::Exit(*a)
        }
    }

    fn sum_kept() -> Contract<Pair, u32> {
        Contract::new("shift keeps the sum", &SHIFT)
            .ensures("goes somewhere", |_: &(), _: &Pair, _: &Next<Pair>| true)
            .old(|c: &Pair| c.a + c.b)
            .ensures("a + b is kept", |&sum: &u32, c: &Pair, _: &Next<Pair>| c.a + c.b == sum)
    }

    #[test]
    fn a_kept_contract_changes_nothing_and_is_checked_at_every_run_of_its_gear() {
        let mut plain = Pair::new(ProcessId(0), 3, 1);
        let mut d0 = Dispatcher::new(Tracer::new());
        let out0 = d0.run(&mut plain, &SHIFT);
        let mut checked = Pair::new(ProcessId(0), 3, 1);
        let mut d = Dispatcher::new((Tracer::new(), Contracts::new().with(sum_kept())));
        assert_eq!(d.run(&mut checked, &SHIFT), out0);
        assert_eq!((checked, d.meta().0.trace()), (plain, d0.meta().trace()));
        assert_eq!(d.meta().1.checked(), (4, 4));
        assert_eq!(d.meta().1.breach(), None);
        // A gear without a contract runs unchecked.
        assert_eq!(d.run(&mut Pair::new(ProcessId(0), 0, 0), &IDLE), Outcome::Exited(0));
        assert_eq!(d.meta().1.checked(), (4, 4));
    }

    #[test]
    fn the_first_broken_clause_halts_and_is_reported_once() {
        let bound = Contract::new("b stays small", &SHIFT)
            .requires("b < 2", |c: &Pair| if c.b < 2 { Ok(()) } else { Err(alloc::format!("b = {}", c.b)) });
        let c = Contracts::new().with(sum_kept()).with(bound);
        assert!(c.covers(&SHIFT) && !c.covers(&IDLE));
        let mut ctx = Pair::new(ProcessId(3), 5, 0);
        let mut d = Dispatcher::new(c);
        assert_eq!(d.run(&mut ctx, &SHIFT), Outcome::Halted { halt: HALT_PRE, step: 2 });
        assert_eq!((ctx.a, ctx.b), (3, 2));
        let b = d.meta().breach().unwrap().clone();
        assert_eq!((b.contract, b.condition, b.clause), ("b stays small", Condition::Pre, "b < 2"));
        assert_eq!((b.step, b.process, b.message.as_str()), (2, ProcessId(3), "b = 2"));
        assert_eq!(b.data_gears, [("a", "3".to_string()), ("b", "2".to_string())]);
        assert_eq!(b.trace.transitions(), 2, "the gear that broke the precondition did not run");
        assert!(
            b.to_string()
                .starts_with("contract `b stays small` violated: precondition of `shift` at step 2 (p3)\n")
        );
        d.meta_mut().clear();
        assert_eq!(d.meta().breach(), None);
    }

    /// A clause's own error type, reported by its `Display`.
    struct Unbalanced(u32, u32);

    impl core::fmt::Display for Unbalanced {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(f, "a = {} > b = {}", self.0, self.1)
        }
    }

    #[test]
    fn a_clause_may_return_any_displayable_error_and_a_postcondition_halts_after_the_gear() {
        let balanced = Contract::new("a never exceeds b after a shift", &SHIFT).ensures(
            "a <= b",
            |_: &(), c: &Pair, _: &Next<Pair>| if c.a <= c.b { Ok(()) } else { Err(Unbalanced(c.a, c.b)) },
        );
        let mut ctx = Pair::new(ProcessId(0), 5, 0);
        let mut d = Dispatcher::new(Contracts::new().with(balanced));
        assert_eq!(d.run(&mut ctx, &SHIFT), Outcome::Halted { halt: HALT_POST, step: 0 });
        assert_eq!((ctx.a, ctx.b), (4, 1), "the gear ran");
        let b = d.meta().breach().unwrap();
        assert_eq!((b.condition, b.clause, b.message.as_str()), (Condition::Post, "a <= b", "a = 4 > b = 1"));
    }
}
