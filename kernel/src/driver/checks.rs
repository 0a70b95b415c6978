//! The invariant metagear as the kernel plugs it in.

use core::fmt;

#[cfg(feature = "checks")]
use codegears::machine::MachineOp;
use codegears::{InvariantViolation, Kernel, SlotRef};
use gears::{Gear, Halt, HaltReason, MetaGear, Mode, PointDecision, Step};
use metagears::Invariant;

/// What the checks found broken first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckFailure {
    /// The CDT links around the slot a revoke works on do not agree (the local check).
    CdtLinks {
        /// The slot whose next's `prev` does not point back.
        after: SlotRef,
    },
    /// A full check at a preemption point.
    AtPoint {
        /// The gear that ran last.
        gear: &'static str,
        /// What broke.
        error: InvariantViolation,
    },
    /// The hardware page tables do not agree with the caps (the checked kernels' check, with
    /// the machine ops the operation recorded and has not carried out yet).
    #[cfg(feature = "checks")]
    Hardware {
        /// The gear that ran last.
        gear: &'static str,
        /// What disagrees.
        error: InvariantViolation,
    },
    /// A full check where an operation was preempted.
    WherePreempted {
        /// The gear the operation would have gone on with.
        before: &'static str,
        /// What broke.
        error: InvariantViolation,
    },
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckFailure::CdtLinks { after } => write!(f, "CDT links broken after {after:?}"),
            CheckFailure::AtPoint { gear, error } => write!(f, "after {gear}: {error}"),
            #[cfg(feature = "checks")]
            CheckFailure::Hardware { gear, error } => write!(f, "after {gear}, in the hardware: {error}"),
            CheckFailure::WherePreempted { before, error } => {
                write!(f, "where preempted before {before}: {error}")
            }
        }
    }
}

/// How the local CDT check halts a run.
const LOCAL_HALT: Halt = Halt::new("Checks", HaltReason::Invariant);

/// The invariant metagear as the kernel plugs it in: `metagears::Invariant` over
/// `codegears::check_invariants` at every `every`-th preemption point (1: every one) and
/// wherever an operation is preempted, plus a constant-time check of the CDT links around the
/// slot a revoke works on at every point. A full check is linear in the number of caps, so a
/// revoke of 65,536 caps samples it (the host tests do the same, `tests/tests/sel4_preempt_revoke.rs`).
pub struct Checks {
    invariant: Invariant<CheckFn, InvariantViolation>,
    /// Full check every this many points (0: none at points).
    pub every: u64,
    /// Full check wherever an operation is preempted.
    pub where_preempted: bool,
    /// Preemption points seen.
    pub points: u64,
    /// Full checks run (at points and where preempted).
    pub full: u64,
    /// Local CDT checks run.
    pub local: u64,
    /// The first violation.
    pub violation: Option<CheckFailure>,
}

/// The predicate the invariant metagear runs.
type CheckFn = fn(&Kernel) -> Result<(), InvariantViolation>;

fn full_check(k: &Kernel) -> Result<(), InvariantViolation> {
    codegears::check_invariants(&k.state)
}

/// The hardware page tables agree with the caps wherever a thread can reach them, counting the
/// machine ops the operation in progress recorded and has not carried out yet.
#[cfg(feature = "checks")]
pub fn hardware_check(k: &Kernel) -> Result<(), InvariantViolation> {
    use codegears::vspace_invariants::{WithPending, check_hardware_tables};
    let hw = WithPending { hardware: &super::machine::HwTables, pending: &k.machine.ops };
    check_hardware_tables(&k.state, &hw)
}

impl Checks {
    /// Checks at every preemption point.
    pub fn new() -> Checks {
        Checks {
            invariant: Invariant::new(full_check as CheckFn).only_at_preemption_points(),
            every: 1,
            where_preempted: true,
            points: 0,
            full: 0,
            local: 0,
            violation: None,
        }
    }
}

impl Default for Checks {
    fn default() -> Self {
        Checks::new()
    }
}

impl MetaGear<Kernel> for Checks {
    fn preemption_point(
        &mut self,
        at: &Step<Kernel>,
        next: &'static Gear<Kernel>,
        k: &Kernel,
    ) -> PointDecision {
        self.points += 1;
        if let Some(slot) = k.thread.revoke.slot {
            self.local += 1;
            let cs = &k.state.cspace;
            if let Some(n) = cs.mdb(slot).next
                && cs.mdb(n).prev != Some(slot)
            {
                self.violation.get_or_insert(CheckFailure::CdtLinks { after: slot });
                return PointDecision::Halt(LOCAL_HALT);
            }
        }
        if self.every != 0 && self.points.is_multiple_of(self.every) {
            self.full += 1;
            let d = self.invariant.preemption_point(at, next, k);
            if let (PointDecision::Halt(_), Some(v)) = (d, self.invariant.violation()) {
                self.violation
                    .get_or_insert_with(|| CheckFailure::AtPoint { gear: v.gear, error: v.error.clone() });
            }
            // The hardware tables change only through machine ops: mid-operation they are
            // checked while an entry has such ops pending (and after every entry that applied
            // some: `Driver::enter`).
            #[cfg(feature = "checks")]
            if d == PointDecision::Continue
                && k.machine.ops.iter().any(MachineOp::changes_tables)
                && let Err(error) = hardware_check(k)
            {
                self.violation.get_or_insert(CheckFailure::Hardware { gear: at.gear.name(), error });
                return PointDecision::Halt(LOCAL_HALT);
            }
            return d;
        }
        PointDecision::Continue
    }

    fn preempted(&mut self, _at: &Step<Kernel>, next: &'static Gear<Kernel>, _mode: Mode, k: &Kernel) {
        if !self.where_preempted {
            return;
        }
        self.full += 1;
        if let Err(e) = full_check(k) {
            self.violation.get_or_insert(CheckFailure::WherePreempted { before: next.name(), error: e });
        }
    }
}
