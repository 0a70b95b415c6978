//! The dispatcher's contract: what runs, what is kept, and where a run can stop.
#![allow(missing_docs)]

use gears::{
    Context, Control, Dispatcher, Gear, Halt, HaltReason, MetaGear, Mode, Next, Outcome, PointDecision,
    ProcessId, Step,
};

gears::context! {
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct Walk {
        output: u32,
        error: &'static str,
        data_gears: { pub pos: u32, pub goal: u32, pub log: Vec<&'static str> }
    }
}

gears::code_gear! {
    /// Entry: start at 0.
    fn walk_start(ctx: Walk; pos: &mut u32, log: &mut Vec<&'static str>) {
        *pos = 0;
        log.push("walk_start");
        Next::Goto(&WALK_STEP)
    }
}

gears::code_gear! {
    /// One step, then a preemption point; fails past 100.
    fn walk_step(ctx: Walk; pos: &mut u32, goal: &u32, log: &mut Vec<&'static str>) {
        log.push("walk_step");
        if *pos > 100 {
            return Next::Fail("too far");
        }
        if *pos == *goal {
            return Next::Exit(*pos);
        }
        *pos += 1;
        Next::Preempt(&WALK_STEP)
    }
}

fn walk(goal: u32) -> Walk {
    Walk::new(ProcessId(7), 0, goal, Vec::new())
}

/// How the probe stops a run.
const PROBE: Halt = Halt::new("Probe", HaltReason::Breakpoint);

/// A metagear that halts or preempts where told, and records what it saw.
#[derive(Default)]
struct Probe {
    halt_before_step: Option<u64>,
    halt_after_step: Option<u64>,
    point: Option<(u64, PointDecision)>,
    seen: Vec<String>,
}

impl MetaGear<Walk> for Probe {
    fn started(&mut self, step: u64, entry: &'static Gear<Walk>, resumed: bool, ctx: &Walk) {
        self.seen.push(format!("start {step} {} {resumed} {}", entry.name(), ctx.process()));
    }
    fn before(&mut self, at: &Step<Walk>, _ctx: &Walk) -> Control {
        self.seen.push(format!("before {} {}", at.step, at.gear.name()));
        if self.halt_before_step == Some(at.step) { Control::Halt(PROBE) } else { Control::Continue }
    }
    fn after(&mut self, at: &Step<Walk>, next: &Next<Walk>, _ctx: &Walk) -> Control {
        self.seen.push(format!("after {} {} {next:?}", at.step, at.gear.name()));
        if self.halt_after_step == Some(at.step) { Control::Halt(PROBE) } else { Control::Continue }
    }
    fn preemption_point(&mut self, at: &Step<Walk>, next: &'static Gear<Walk>, _ctx: &Walk) -> PointDecision {
        self.seen.push(format!("point {} {}", at.step, next.name()));
        match self.point {
            Some((s, d)) if s == at.step => d,
            _ => PointDecision::Continue,
        }
    }
    fn preempted(&mut self, at: &Step<Walk>, next: &'static Gear<Walk>, mode: Mode, _ctx: &Walk) {
        self.seen.push(format!("preempted {} {} {mode}", at.step, next.name()));
    }
}

#[test]
fn metagears_see_every_transition_in_order() {
    let mut ctx = walk(1);
    let mut d = Dispatcher::new(Probe::default());
    assert_eq!(d.run(&mut ctx, &WALK_START), Outcome::Exited(1));
    assert_eq!(
        d.meta().seen,
        [
            "start 0 walk_start false p7",
            "before 0 walk_start",
            "after 0 walk_start goto walk_step",
            "before 1 walk_step",
            "after 1 walk_step preempt-point walk_step",
            "point 1 walk_step",
            "before 2 walk_step",
            "after 2 walk_step exit 1",
        ]
    );
}

#[test]
fn a_halt_before_a_gear_stops_the_run_without_running_it() {
    let mut ctx = walk(5);
    let mut d = Dispatcher::new(Probe { halt_before_step: Some(2), ..Probe::default() });
    assert_eq!(d.run(&mut ctx, &WALK_START), Outcome::Halted { halt: PROBE, step: 2 });
    assert_eq!(ctx.log, ["walk_start", "walk_step"], "the gear at step 2 did not run");
    assert_eq!(d.steps(), 2);
}

#[test]
fn a_halt_after_a_gear_keeps_its_effect_and_stops_before_the_point() {
    let mut ctx = walk(5);
    let mut d = Dispatcher::new(Probe { halt_after_step: Some(1), ..Probe::default() });
    assert_eq!(d.run(&mut ctx, &WALK_START), Outcome::Halted { halt: PROBE, step: 1 });
    assert_eq!(ctx.pos, 1);
    assert!(!d.meta().seen.iter().any(|s| s.starts_with("point")), "no point after a halt");
}

#[test]
fn resume_keeps_the_continuation_and_the_next_run_starts_there() {
    let mut ctx = walk(3);
    let mut d =
        Dispatcher::new(Probe { point: Some((2, PointDecision::Preempt(Mode::Resume))), ..Probe::default() });
    let out = d.run(&mut ctx, &WALK_START);
    assert_eq!(out, Outcome::Preempted { next: &WALK_STEP, mode: Mode::Resume });
    assert_eq!(ctx.meta.continuation, Some(&WALK_STEP));
    assert_eq!(ctx.pos, 2);

    assert_eq!(d.run(&mut ctx, &WALK_START), Outcome::Exited(3));
    assert_eq!(ctx.meta.continuation, None, "taken when the run started");
    assert_eq!(ctx.log.iter().filter(|g| **g == "walk_start").count(), 1, "never re-entered");
    assert!(d.meta().seen.contains(&"start 3 walk_step true p7".to_string()));
}

#[test]
fn restart_keeps_nothing_and_the_next_run_starts_at_the_entry() {
    let mut ctx = walk(3);
    let mut d = Dispatcher::new(Probe {
        point: Some((2, PointDecision::Preempt(Mode::Restart))),
        ..Probe::default()
    });
    assert!(matches!(d.run(&mut ctx, &WALK_START), Outcome::Preempted { mode: Mode::Restart, .. }));
    assert_eq!(ctx.meta.continuation, None);
    assert_eq!(d.run(&mut ctx, &WALK_START), Outcome::Exited(3));
    assert_eq!(ctx.log.iter().filter(|g| **g == "walk_start").count(), 2, "re-entered at the entry gear");
}

#[test]
fn a_halt_at_a_preemption_point_is_reported_with_its_step() {
    let mut ctx = walk(3);
    let mut d = Dispatcher::new(Probe { point: Some((1, PointDecision::Halt(PROBE))), ..Probe::default() });
    assert_eq!(d.run(&mut ctx, &WALK_START), Outcome::Halted { halt: PROBE, step: 1 });
    assert_eq!(ctx.meta.continuation, None, "a halt saves no continuation");
}

#[test]
fn goto_transitions_are_never_preemption_points() {
    // The probe would preempt at step 0, but walk_start ends with a Goto: it is never asked.
    let mut ctx = walk(1);
    let mut d =
        Dispatcher::new(Probe { point: Some((0, PointDecision::Preempt(Mode::Resume))), ..Probe::default() });
    assert_eq!(d.run(&mut ctx, &WALK_START), Outcome::Exited(1));
    assert!(!d.meta().seen.contains(&"point 0 walk_step".to_string()));
}

#[test]
fn failures_leave_the_kernel_with_the_error() {
    let mut ctx = walk(1000);
    let mut d = Dispatcher::new(());
    assert_eq!(d.run(&mut ctx, &WALK_START), Outcome::Failed("too far"));
    assert_eq!(ctx.pos, 101);
}

#[test]
fn a_stepper_shows_each_gear_before_it_runs_and_stops_at_halts() {
    let mut ctx = walk(4);
    let mut d = Dispatcher::new(Probe { halt_after_step: Some(3), ..Probe::default() });
    let mut s = d.stepper(&mut ctx, &WALK_START);
    let mut names = vec![];
    while let Some(name) = s.current_name() {
        names.push((name, s.ctx().pos));
        if s.step().is_some() {
            break;
        }
    }
    assert_eq!(s.current_name(), None, "the run ended");
    assert_eq!(names, [("walk_start", 0), ("walk_step", 0), ("walk_step", 1), ("walk_step", 2)]);
    assert_eq!(s.outcome(), Some(&Outcome::Halted { halt: PROBE, step: 3 }));
    assert!(s.step().is_none(), "nothing runs after the end");
}

#[test]
fn gear_descriptors_name_their_data_gears() {
    assert_eq!(WALK_STEP.name(), "walk_step");
    assert_eq!(WALK_STEP.data_gears(), ["pos", "goal", "log"]);
    assert_eq!(WALK_START.data_gears(), ["pos", "log"]);
    assert_ne!(WALK_START.id(), WALK_STEP.id());
    let ctx = walk(9);
    assert_eq!(format!("{:?}", ctx.data_gear("goal").unwrap()), "9");
    assert!(ctx.data_gear("meta").is_none(), "the meta state is not a DataGear");
}

/// Two gears named alike, one in each of two modules.
mod left {
    use gears::Next;

    gears::code_gear! {
        /// Exits with 1.
        pub fn finish(ctx: super::Walk; pos: &mut u32) {
            *pos = 1;
            Next::Exit(*pos)
        }
    }
}

mod right {
    use gears::Next;

    gears::code_gear! {
        /// Exits with 2.
        pub fn finish(ctx: super::Walk; pos: &mut u32) {
            *pos = 2;
            Next::Exit(*pos)
        }
    }
}

#[test]
fn gears_named_alike_in_two_modules_are_two_gears() {
    use std::collections::HashSet;

    use gears::GearId;

    let (l, r) = (&left::FINISH, &right::FINISH);
    assert_eq!((l.name(), r.name()), ("finish", "finish"), "traces show the short name");
    assert_eq!(l.path(), concat!(module_path!(), "::left::finish"));
    assert_eq!(r.path(), concat!(module_path!(), "::right::finish"));
    assert_eq!((l.id(), r.id()), (GearId::of(l.path()), GearId::of(r.path())));
    assert_ne!(l.id(), r.id());
    assert_ne!(l, r);
    assert_eq!(HashSet::from([l, r, l]).len(), 2);
    // A continuation saved at one is not the other.
    let mut a = walk(0);
    a.meta.continuation = Some(l);
    let mut b = walk(0);
    b.meta.continuation = Some(r);
    assert_ne!(a, b);
    let mut d = Dispatcher::new(());
    assert_eq!(
        (d.run(&mut a, &WALK_START), d.run(&mut b, &WALK_START)),
        (Outcome::Exited(1), Outcome::Exited(2))
    );
}
