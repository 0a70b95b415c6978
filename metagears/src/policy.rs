//! Preemption policies: metagears that decide, at declared preemption points, whether to preempt.
//!
//! They only ever act where a gear said [`Next::Preempt`](gears::Next::Preempt); the dispatcher
//! gives them no other chance.

use alloc::collections::BTreeSet;

use gears::{Context, Gear, MetaGear, Mode, PointDecision, Step};

/// seL4's default work-unit budget between two checks for a pending interrupt
/// (`CONFIG_MAX_NUM_WORK_UNITS_PER_PREEMPTION`).
pub const DEFAULT_WORK_UNITS: u32 = 100;

/// seL4's policy: count one work unit per preemption point; every `budget` units, preempt if an
/// interrupt is pending.
///
/// `irq_pending` is asked only when the budget is spent, as seL4's `preemptionPoint` does. The
/// count starts over when an operation starts (a new kernel entry).
#[derive(Clone, Debug)]
pub struct WorkBudget<F> {
    budget: u32,
    units: u32,
    irq_pending: F,
    mode: Mode,
    checks: u64,
    preemptions: u64,
}

impl<F: FnMut() -> bool> WorkBudget<F> {
    /// Checks `irq_pending` every `budget` work units (at least 1) and preempts in `mode` if true.
    pub fn new(budget: u32, irq_pending: F, mode: Mode) -> Self {
        WorkBudget { budget: budget.max(1), units: 0, irq_pending, mode, checks: 0, preemptions: 0 }
    }

    /// How many times the interrupt source was asked.
    pub fn checks(&self) -> u64 {
        self.checks
    }

    /// How many times it preempted.
    pub fn preemptions(&self) -> u64 {
        self.preemptions
    }
}

impl<C: Context, F: FnMut() -> bool> MetaGear<C> for WorkBudget<F> {
    fn started(&mut self, _step: u64, _entry: &'static Gear<C>, _resumed: bool, _ctx: &C) {
        self.units = 0;
    }

    #[inline]
    fn preemption_point(&mut self, _at: &Step<C>, _next: &'static Gear<C>, _ctx: &C) -> PointDecision {
        self.units += 1;
        if self.units < self.budget {
            return PointDecision::Continue;
        }
        self.units = 0;
        self.checks += 1;
        if (self.irq_pending)() {
            self.preemptions += 1;
            PointDecision::Preempt(self.mode)
        } else {
            PointDecision::Continue
        }
    }
}

/// Fault injection: preempt at chosen preemption points, numbered from 0 over the policy's life
/// (across runs), so a test can stop an operation at point k, at every point, or never.
#[derive(Clone, Debug)]
pub struct InjectAt {
    points: Selection,
    mode: Mode,
    seen: u64,
    preemptions: u64,
}

#[derive(Clone, Debug)]
enum Selection {
    Every,
    Set(BTreeSet<u64>),
    EveryNth(u64),
}

impl InjectAt {
    /// Preempt at every preemption point.
    pub fn every(mode: Mode) -> Self {
        InjectAt { points: Selection::Every, mode, seen: 0, preemptions: 0 }
    }

    /// Preempt at the listed preemption points (0 is the first one reached).
    pub fn points(points: impl IntoIterator<Item = u64>, mode: Mode) -> Self {
        InjectAt { points: Selection::Set(points.into_iter().collect()), mode, seen: 0, preemptions: 0 }
    }

    /// Preempt at every `n`-th preemption point (n ≥ 1): points n-1, 2n-1, …
    pub fn every_nth(n: u64, mode: Mode) -> Self {
        InjectAt { points: Selection::EveryNth(n.max(1)), mode, seen: 0, preemptions: 0 }
    }

    /// How many preemption points it has seen.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// How many times it preempted.
    pub fn preemptions(&self) -> u64 {
        self.preemptions
    }
}

impl<C: Context> MetaGear<C> for InjectAt {
    fn preemption_point(&mut self, _at: &Step<C>, _next: &'static Gear<C>, _ctx: &C) -> PointDecision {
        let k = self.seen;
        self.seen += 1;
        let hit = match &self.points {
            Selection::Every => true,
            Selection::Set(s) => s.contains(&k),
            Selection::EveryNth(n) => (k + 1).is_multiple_of(*n),
        };
        if hit {
            self.preemptions += 1;
            PointDecision::Preempt(self.mode)
        } else {
            PointDecision::Continue
        }
    }
}
