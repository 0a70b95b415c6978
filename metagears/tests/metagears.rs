//! Unit scenarios for the metagears on a tiny counting context.
#![allow(missing_docs)]

use gears::{Control, Dispatcher, HaltReason, Mode, Next, Outcome, PointDecision, ProcessId};
use metagears::{EventKind, GapMeter, InjectAt, Invariant, Tracer};

gears::context! {
    /// Counts to a limit, one preemption point per count.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct Count {
        output: u32,
        error: (),
        data_gears: { pub count: u32, pub limit: u32 }
    }
}

gears::code_gear! {
    /// Count one more, across a preemption point, until the limit.
    fn count_step(ctx: Count; count: &mut u32, limit: &u32) {
        if *count == *limit {
            return Next::Exit(*count);
        }
        *count += 1;
        Next::Preempt(&COUNT_STEP)
    }
}

fn run_to_end<M: gears::MetaGear<Count>>(d: &mut Dispatcher<Count, M>, ctx: &mut Count) -> u32 {
    let mut runs = 1;
    while let Outcome::Preempted { .. } = d.run(ctx, &COUNT_STEP) {
        runs += 1;
    }
    runs
}

#[test]
fn inject_every_nth_preempts_at_points_n_minus_1_2n_minus_1() {
    let mut ctx = Count::new(ProcessId(3), 0, 10);
    let mut d = Dispatcher::new((InjectAt::every_nth(4, Mode::Resume), Tracer::new()));
    let runs = run_to_end(&mut d, &mut ctx);
    assert_eq!((runs, d.meta().0.seen(), d.meta().0.preemptions()), (3, 10, 2));
    let preempted_steps: Vec<u64> = d
        .meta()
        .1
        .trace()
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Preempted(..)))
        .map(|e| e.step)
        .collect();
    assert_eq!(preempted_steps, [3, 7]);
    assert!(d.meta().1.trace().to_string().contains("     . p3 preempted before count_step (resume)"));
}

#[test]
fn a_limited_tracer_keeps_the_latest_events() {
    let mut ctx = Count::new(ProcessId(0), 0, 100);
    let mut d = Dispatcher::new(Tracer::with_limit(5));
    assert_eq!(d.run(&mut ctx, &COUNT_STEP), Outcome::Exited(100));
    let events = &d.meta().trace().events;
    assert!(events.len() >= 5 && events.len() < 10, "bounded: {} events kept", events.len());
    assert_eq!(events.last().map(|e| &e.kind), Some(&EventKind::Exit("100".into())));
}

#[test]
fn gap_meter_counts_gears_between_chances() {
    let mut ctx = Count::new(ProcessId(0), 0, 5);
    let mut d = Dispatcher::new(GapMeter::new());
    assert_eq!(d.run(&mut ctx, &COUNT_STEP), Outcome::Exited(5));
    assert_eq!((d.meta().points(), d.meta().max_gap()), (5, 1));
}

#[test]
fn halts_beat_preemptions_beat_going_on() {
    use PointDecision::*;
    let (x, y) =
        (gears::Halt::new("X", HaltReason::Breakpoint), gears::Halt::new("Y", HaltReason::Invariant));
    assert_eq!(Continue.and(Preempt(Mode::Restart)), Preempt(Mode::Restart));
    assert_eq!(Preempt(Mode::Resume).and(Preempt(Mode::Restart)), Preempt(Mode::Resume));
    assert_eq!(Preempt(Mode::Resume).and(Halt(x)), Halt(x));
    assert_eq!(Halt(x).and(Halt(y)), Halt(x));
    assert_eq!(Control::Continue.and(Control::Halt(y)), Control::Halt(y));
    assert_eq!(Control::Halt(x).and(Control::Halt(y)), Control::Halt(x));
    assert_eq!(x.to_string(), "X: stopped at a breakpoint");
}

#[test]
fn without_metagears_nothing_is_ever_preempted() {
    let mut ctx = Count::new(ProcessId(0), 0, 1_000);
    let mut d = Dispatcher::new(());
    assert_eq!(d.run(&mut ctx, &COUNT_STEP), Outcome::Exited(1_000));
    assert_eq!(d.steps(), 1_001);
}

#[test]
fn a_trace_counts_each_preemption_point_once() {
    let mut ctx = Count::new(ProcessId(0), 0, 6);
    let mut d = Dispatcher::new((InjectAt::every_nth(2, Mode::Restart), Tracer::new()));
    run_to_end(&mut d, &mut ctx);
    let trace = d.meta().1.trace();
    assert_eq!((trace.preemption_points(), trace.preemptions()), (6, 3));
}

/// A predicate's own error type: the invariant metagear keeps it as it was returned.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TooFar {
    count: u32,
}

impl std::fmt::Display for TooFar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "count {} is past 2", self.count)
    }
}

#[test]
fn an_invariant_keeps_its_predicates_typed_error_and_halts_with_its_halt() {
    let at_most_two = |c: &Count| if c.count <= 2 { Ok(()) } else { Err(TooFar { count: c.count }) };
    let mut ctx = Count::new(ProcessId(0), 0, 5);
    let mut d = Dispatcher::new(Invariant::new(at_most_two));
    let out = d.run(&mut ctx, &COUNT_STEP);
    assert_eq!(out, Outcome::Halted { halt: metagears::invariant::HALT, step: 2 });
    assert_eq!(metagears::invariant::HALT.reason, HaltReason::Invariant);
    let v = d.meta().violation().expect("a violation is reported");
    assert_eq!(
        (v.gear, v.next, v.step, &v.error),
        ("count_step", Some("count_step"), 2, &TooFar { count: 3 })
    );
    assert!(v.to_string().starts_with(
        "invariant violated after `count_step` at step 2, before count_step: count 3 is past 2\n"
    ));
    assert_eq!(format!("{out:?}"), "Halted(Invariant: an invariant does not hold at step 2)");
}
