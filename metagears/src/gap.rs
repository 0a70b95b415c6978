//! The preemption-gap meter: how much runs between two chances to preempt.
//!
//! DESIGN property 2: the number of gears between two preemption checks must be bounded by a
//! constant that does not grow with object sizes. This metagear measures the largest such gap.

use gears::{Context, Control, Gear, MetaGear, Next, PointDecision, Step};

/// Records the largest number of gears run between two consecutive preemption chances, where
/// a chance is the start of an operation, a declared preemption point, or the operation's end.
#[derive(Clone, Debug, Default)]
pub struct GapMeter {
    current: u64,
    max: u64,
    points: u64,
}

impl GapMeter {
    /// A meter with nothing measured yet.
    pub fn new() -> Self {
        GapMeter::default()
    }

    /// The largest number of gears seen between two preemption chances.
    pub fn max_gap(&self) -> u64 {
        self.max
    }

    /// How many preemption points were reached.
    pub fn points(&self) -> u64 {
        self.points
    }

    fn close(&mut self) {
        self.max = self.max.max(self.current);
        self.current = 0;
    }
}

impl<C: Context> MetaGear<C> for GapMeter {
    fn started(&mut self, _step: u64, _entry: &'static Gear<C>, _resumed: bool, _ctx: &C) {
        self.current = 0;
    }

    #[inline]
    fn after(&mut self, _at: &Step<C>, next: &Next<C>, _ctx: &C) -> Control {
        self.current += 1;
        if matches!(next, Next::Exit(_) | Next::Fail(_)) {
            self.close();
        }
        Control::Continue
    }

    #[inline]
    fn preemption_point(&mut self, _at: &Step<C>, _next: &'static Gear<C>, _ctx: &C) -> PointDecision {
        self.points += 1;
        self.close();
        PointDecision::Continue
    }
}
