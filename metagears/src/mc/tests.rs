//! The checker on a tiny shared counter: lost updates, events, runaway steps, initial states.

use core::fmt;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use gears::{Context, ContextMeta, Gear, Next, ProcessId};

use super::{Checker, Finding, GearAction, GearModel, GearSystem, STEP_BUDGET_EXCEEDED, Status, StepFailure};

/// A counter shared by every process, and each process's register.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Counter {
    shared: u8,
    irq: bool,
    procs: Vec<(ContextMeta<Counter>, u8)>,
    current: usize,
}

struct CounterGears<'a> {
    shared: &'a mut u8,
    local: &'a mut u8,
}

impl Context for Counter {
    type Output = u8;
    type Error = ();
    type DataGears<'a> = CounterGears<'a>;

    fn data_gears(&mut self) -> CounterGears<'_> {
        CounterGears { shared: &mut self.shared, local: &mut self.procs[self.current].1 }
    }

    fn meta(&self) -> &ContextMeta<Self> {
        &self.procs[self.current].0
    }

    fn meta_mut(&mut self) -> &mut ContextMeta<Self> {
        &mut self.procs[self.current].0
    }

    fn data_gear(&self, name: &str) -> Option<&dyn fmt::Debug> {
        match name {
            "shared" => Some(&self.shared),
            "local" => Some(&self.procs[self.current].1),
            _ => None,
        }
    }
}

gears::code_gear! {
    /// Read the counter into the register, then cross a preemption point.
    fn read(ctx: Counter; shared: &u8, local: &mut u8) {
        *local = *shared;
        Next::Preempt(&WRITE)
    }
}

gears::code_gear! {
    /// Write the register plus one back.
    fn write(ctx: Counter; shared: &mut u8, local: &u8) {
        *shared = *local + 1;
        Next::Exit(*shared)
    }
}

gears::code_gear! {
    /// Increment in one gear: atomic.
    fn incr(ctx: Counter; shared: &mut u8) {
        *shared += 1;
        Next::Exit(*shared)
    }
}

gears::code_gear! {
    /// Never reaches a preemption point.
    fn spin(ctx: Counter; shared: &u8) {
        let _ = shared;
        Next::Goto(&SPIN)
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct State {
    ctx: Counter,
    done: Vec<bool>,
    ticks: u8,
    irqs: u8,
}

struct System {
    procs: u32,
    entry: &'static Gear<Counter>,
    ticks: u8,
    irqs: u8,
}

impl GearSystem for System {
    type Ctx = Counter;
    type State = State;
    type Event = &'static str;

    fn initial(&self) -> Vec<State> {
        let procs = (0..self.procs).map(|p| (ContextMeta::new(ProcessId(p)), 0)).collect();
        let n = self.procs as usize;
        let ctx = Counter { shared: 0, irq: false, procs, current: 0 };
        Vec::from([State { ctx, done: std::vec![false; n], ticks: 0, irqs: 0 }])
    }

    fn processes(&self, _s: &State) -> Vec<ProcessId> {
        (0..self.procs).map(ProcessId).collect()
    }

    fn status(&self, s: &State, p: ProcessId) -> Status {
        if s.done[p.0 as usize] { Status::Done } else { Status::Runnable }
    }

    fn context<'a>(&self, s: &'a mut State, p: ProcessId) -> &'a mut Counter {
        s.ctx.current = p.0 as usize;
        &mut s.ctx
    }

    fn begin(&self, _s: &mut State, _p: ProcessId) -> &'static Gear<Counter> {
        self.entry
    }

    fn finish(&self, s: &mut State, p: ProcessId, _result: Result<u8, ()>) {
        s.done[p.0 as usize] = true;
        s.ctx.procs[p.0 as usize].1 = 0;
    }

    fn events(&self, s: &State, events: &mut Vec<&'static str>) {
        if s.ticks < self.ticks {
            events.push("tick");
        }
        if s.irqs < self.irqs && !s.ctx.irq {
            events.push("irq");
        }
    }

    fn on_event(&self, s: &mut State, event: &&'static str) -> Result<(), String> {
        match *event {
            "tick" => s.ticks += 1,
            "irq" => {
                s.irqs += 1;
                s.ctx.irq = true;
            }
            other => return Err(format!("no event {other}")),
        }
        Ok(())
    }

    fn preempted(&self, s: &mut State, _p: ProcessId) {
        s.ctx.irq = false;
    }

    fn normalize(&self, s: &mut State) {
        s.ctx.current = 0;
    }
}

fn no_lost_update(s: &State) -> Result<(), String> {
    let finished = s.done.iter().filter(|&&d| d).count();
    if usize::from(s.ctx.shared) >= finished {
        Ok(())
    } else {
        Err(format!("{finished} increments finished, counter at {}", s.ctx.shared))
    }
}

fn checker(system: System) -> Checker<'static, GearModel<System>> {
    Checker::new(GearModel::new(system)).invariant("no lost update", no_lost_update)
}

#[test]
fn a_lost_update_is_found_at_its_shortest() {
    let report = checker(System { procs: 2, entry: &READ, ticks: 0, irqs: 0 }).bfs();
    let cex = report.counterexample.expect("two read-then-write increments can lose one");
    assert_eq!(
        cex.finding,
        Finding::Invariant {
            name: "no lost update".into(),
            message: "2 increments finished, counter at 1".into()
        }
    );
    // Both read 0 before either writes.
    assert_eq!(cex.len(), 4);
    assert_eq!(cex.gear_names(), ["read", "read", "write", "write"]);
    let text = cex.to_string();
    assert!(text.starts_with("invariant `no lost update` violated: 2 increments finished, counter at 1\n"));
    assert!(text.contains("step 1: p0 runs\n     . p0 start read\n     0 p0 read -> write [pp]\n"), "{text}");
    assert!(text.contains("     . p1 resume write\n     3 p1 write -> exit 1\n"), "{text}");
}

#[test]
fn an_atomic_increment_verifies_and_events_multiply_the_states() {
    let plain = checker(System { procs: 2, entry: &INCR, ticks: 0, irqs: 0 }).bfs();
    assert!(plain.is_ok() && plain.complete);
    // Counter 0, 1 (either process done), 2.
    assert_eq!((plain.stats.distinct, plain.stats.transitions, plain.stats.terminal), (4, 4, 1));
    // Up to two ticks, independent of the processes: three times the states.
    let ticking = checker(System { procs: 2, entry: &INCR, ticks: 2, irqs: 0 }).bfs();
    assert!(ticking.is_ok());
    assert_eq!(ticking.stats.distinct, 3 * plain.stats.distinct);
    assert_eq!(ticking.stats.terminal, 1, "only the state with both done and both ticks has no step");
    assert_eq!(ticking.stats.max_depth, 4);
    let dfs = checker(System { procs: 2, entry: &INCR, ticks: 2, irqs: 0 }).dfs();
    assert_eq!(dfs.stats.distinct, ticking.stats.distinct);
    assert_eq!(dfs.stats.transitions, ticking.stats.transitions);
}

#[test]
fn a_step_without_preemption_point_is_halted_and_reported() {
    let model = GearModel::new(System { procs: 1, entry: &SPIN, ticks: 1, irqs: 0 }).with_step_budget(5);
    let report = Checker::new(model).bfs();
    let cex = report.counterexample.expect("the runaway step is reported");
    assert_eq!(
        cex.finding,
        Finding::StepFailed(StepFailure::Halted {
            process: ProcessId(0),
            halt: STEP_BUDGET_EXCEEDED,
            step: 5
        })
    );
    assert_eq!(
        cex.finding.to_string(),
        "a step failed: p0 halted at its gear #5: StepPolicy: more gears than the budget between two \
         preemption chances"
    );
    // The shortest path: the runaway step itself, from the initial state.
    assert_eq!(cex.len(), 1);
    assert_eq!(cex.steps[0].action, GearAction::Run(ProcessId(0)));
    assert!(cex.steps[0].state.is_none());
    assert_eq!(cex.steps[0].trace.gear_names(), ["spin"; 5]);
}

#[test]
fn an_initial_state_that_breaks_an_invariant_is_a_counterexample_of_no_steps() {
    let report = Checker::new(GearModel::new(System { procs: 1, entry: &INCR, ticks: 0, irqs: 0 }))
        .invariant("never", |_: &State| Err("no state is good".to_string()))
        .bfs();
    let cex = report.counterexample.expect("reported");
    assert!(cex.is_empty());
    assert_eq!(report.stats.distinct, 1);
    let dfs = Checker::new(GearModel::new(System { procs: 1, entry: &INCR, ticks: 0, irqs: 0 }))
        .invariant("never", |_: &State| Err("no state is good".to_string()))
        .dfs();
    assert!(dfs.counterexample.is_some_and(|c| c.is_empty()));
}

#[test]
fn preempting_only_where_an_interrupt_is_pending_needs_one_to_lose_an_update() {
    // No interrupt ever arrives: the read-then-write increment is never preempted.
    let model = GearModel::new(System { procs: 2, entry: &READ, ticks: 0, irqs: 0 }).preempt_when(|c| c.irq);
    let quiet = Checker::new(model).invariant("no lost update", no_lost_update).bfs();
    assert!(quiet.is_ok() && quiet.complete);
    assert_eq!(quiet.stats.distinct, 4);

    // One interrupt may arrive, at any time: it preempts the next preemption point reached.
    let model = GearModel::new(System { procs: 2, entry: &READ, ticks: 0, irqs: 1 }).preempt_when(|c| c.irq);
    let report = Checker::new(model).invariant("no lost update", no_lost_update).bfs();
    let cex = report.counterexample.expect("an interrupt between read and write loses an update");
    let actions: Vec<GearAction<&str>> = cex.steps.iter().map(|s| s.action.clone()).collect();
    let (p0, p1) = (GearAction::Run(ProcessId(0)), GearAction::Run(ProcessId(1)));
    assert_eq!(actions, [GearAction::Event("irq"), p0.clone(), p1, p0]);
    // p1 ran its whole increment through the point: no interrupt was pending any more.
    assert_eq!(cex.steps[2].trace.gear_names(), ["read", "write"]);
    assert!(cex.to_string().contains("step 1: event \"irq\"\n"));
}

gears::context! {
    /// A context with room for one process's part only, as a kernel with one context and
    /// per-thread cursors has: the others' parts are parked beside it.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    struct Single { output: u8, error: (), data_gears: { shared: u8, local: u8 } }
}

gears::code_gear! {
    /// Read the counter into the register, then cross a preemption point.
    fn read1(ctx: Single; shared: &u8, local: &mut u8) {
        *local = *shared;
        Next::Preempt(&WRITE1)
    }
}

gears::code_gear! {
    /// Write the register plus one back.
    fn write1(ctx: Single; shared: &mut u8, local: &u8) {
        *shared = *local + 1;
        Next::Exit(*shared)
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Swapped {
    ctx: Single,
    /// Per process: its meta state (continuation) and register while it is not current.
    parked: Vec<(ContextMeta<Single>, u8)>,
    current: Option<usize>,
    done: Vec<bool>,
}

struct SwappingSystem;

impl SwappingSystem {
    fn swap(s: &mut Swapped, p: usize) {
        core::mem::swap(&mut s.ctx.meta, &mut s.parked[p].0);
        core::mem::swap(&mut s.ctx.local, &mut s.parked[p].1);
    }
}

impl GearSystem for SwappingSystem {
    type Ctx = Single;
    type State = Swapped;
    type Event = ();

    fn initial(&self) -> Vec<Swapped> {
        let parked = (0..2).map(|p| (ContextMeta::new(ProcessId(p)), 0)).collect();
        let ctx = Single::new(ProcessId(u32::MAX), 0, 0);
        Vec::from([Swapped { ctx, parked, current: None, done: std::vec![false; 2] }])
    }

    fn processes(&self, _s: &Swapped) -> Vec<ProcessId> {
        Vec::from([ProcessId(0), ProcessId(1)])
    }

    fn status(&self, s: &Swapped, p: ProcessId) -> Status {
        if s.done[p.0 as usize] { Status::Done } else { Status::Runnable }
    }

    fn context<'a>(&self, s: &'a mut Swapped, p: ProcessId) -> &'a mut Single {
        let p = p.0 as usize;
        if s.current != Some(p) {
            if let Some(q) = s.current {
                Self::swap(s, q);
            }
            Self::swap(s, p);
            s.current = Some(p);
        }
        &mut s.ctx
    }

    fn begin(&self, _s: &mut Swapped, _p: ProcessId) -> &'static Gear<Single> {
        &READ1
    }

    fn finish(&self, s: &mut Swapped, p: ProcessId, _result: Result<u8, ()>) {
        s.done[p.0 as usize] = true;
        s.ctx.local = 0;
    }

    fn park(&self, s: &mut Swapped, p: ProcessId) {
        assert_eq!(s.current, Some(p.0 as usize), "the process that ran is the current one");
        Self::swap(s, p.0 as usize);
        s.current = None;
    }
}

#[test]
fn a_context_with_room_for_one_process_is_swapped_in_and_parked() {
    let swapped = Checker::new(GearModel::new(SwappingSystem)).bfs();
    let indexed = Checker::new(GearModel::new(System { procs: 2, entry: &READ, ticks: 0, irqs: 0 })).bfs();
    assert!(swapped.is_ok() && indexed.is_ok());
    // The same interleavings, whichever way the context is laid out.
    assert_eq!(
        (swapped.stats.distinct, swapped.stats.transitions, swapped.stats.terminal),
        (indexed.stats.distinct, indexed.stats.transitions, indexed.stats.terminal)
    );
    assert_eq!(swapped.stats.terminal, 2, "the counter ends at 2, or at 1 with an update lost");

    let lost = Checker::new(GearModel::new(SwappingSystem))
        .invariant("no lost update", |s: &Swapped| {
            let finished = s.done.iter().filter(|&&d| d).count();
            if usize::from(s.ctx.shared) >= finished { Ok(()) } else { Err("lost".to_string()) }
        })
        .bfs();
    let cex = lost.counterexample.expect("found through the swapped context too");
    assert_eq!(cex.gear_names(), ["read1", "read1", "write1", "write1"]);
    assert!(cex.to_string().contains(". p1 resume write1"), "{cex}");
}

gears::code_gear! {
    /// Add one (the counter is odd now), then cross a preemption point.
    fn bump_odd(ctx: Counter; shared: &mut u8) {
        *shared += 1;
        Next::Preempt(&BUMP_EVEN)
    }
}

gears::code_gear! {
    /// Add one more: even again.
    fn bump_even(ctx: Counter; shared: &mut u8) {
        *shared += 1;
        Next::Exit(*shared)
    }
}

fn even(c: &Counter) -> Result<(), String> {
    if c.shared.is_multiple_of(2) { Ok(()) } else { Err(format!("counter {} is odd", c.shared)) }
}

#[test]
fn point_invariants_are_checked_at_the_points_a_step_goes_through() {
    // No interrupt: each bump runs whole, so every state the checker sees has an even counter...
    let model =
        || GearModel::new(System { procs: 2, entry: &BUMP_ODD, ticks: 0, irqs: 0 }).preempt_when(|c| c.irq);
    let states = Checker::new(model()).invariant("even", |s: &State| even(&s.ctx)).bfs();
    assert!(states.is_ok() && states.complete);
    // ...but the kernel is inconsistent at the preemption point in the middle of a bump.
    let report = Checker::new(model().point_invariant(even)).bfs();
    let cex = report.counterexample.expect("the odd counter at the preemption point is caught");
    assert_eq!(
        cex.finding,
        Finding::StepFailed(StepFailure::PointInvariant {
            process: ProcessId(0),
            gear: "bump_odd",
            next: Some("bump_even"),
            message: "counter 1 is odd".into()
        })
    );
    assert_eq!(
        cex.finding.to_string(),
        "a step failed: p0: invariant violated at a preemption point, after `bump_odd` before bump_even: \
         counter 1 is odd"
    );
    assert_eq!(cex.len(), 1);
    assert!(cex.to_string().contains("     0 p0 bump_odd -> bump_even [pp]\n  (the step failed)"), "{cex}");
}
