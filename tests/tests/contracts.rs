//! Contracts (Hoare triples) on xv6's `ialloc` gears, checked by the `Contracts` metagear: every
//! ialloc scenario keeps them; broken gears break them and the report says where; they compose with
//! the tracer and the invariant checker; and they run inside the model checker's steps.

use gears::{Context, Dispatcher, Mode, Next, Outcome, ProcessId};
use gears_tests::ialloc::{
    ALLOCINODE_LOOPCHECK, ALLOCINODE_LOOPEXIT, DiskInode, FsError, IALLOC, IFREE, IfreeArgs, Inum,
    Superblock, Xv6, check_invariants, ifree,
};
use gears_tests::ialloc_contracts::{self, contracts};
use gears_tests::xv6_system::{
    Op, Variant, Xv6State, Xv6System, describe_xv6, fs_invariant, no_shared_inodes,
};
use metagears::contract::{HALT_POST, HALT_PRE};
use metagears::mc::{Checker, Finding, GearAction, GearModel, GearSystem, Model, Status, StepPolicy};
use metagears::{Condition, Contract, Contracts, InjectAt, Invariant, Trace, Tracer, WorkBudget};

/// Six inodes, 1..=3 in use (from before the hint was kept): the scan walks three and takes 4.
fn small_fs() -> Xv6 {
    let mut fs = Xv6::new(6, 1).with_used([1, 2, 3]);
    fs.request(0, 1, 2);
    fs
}

fn fs_for_injection() -> Xv6 {
    let mut fs = Xv6::new(16, 1).with_used([1, 2, 3, 5, 6, 7]);
    fs.request(0, 1, 2);
    fs
}

/// Runs `ialloc` to completion, re-running it after each preemption; returns result and run count.
fn run_to_completion<M: gears::MetaGear<Xv6>>(
    d: &mut Dispatcher<Xv6, M>,
    fs: &mut Xv6,
) -> (Outcome<Xv6>, u32) {
    for runs in 1..=10_000 {
        match d.run(fs, &IALLOC) {
            Outcome::Preempted { .. } => continue,
            done => return (done, runs),
        }
    }
    panic!("ialloc did not converge in 10000 runs");
}

#[test]
fn every_gear_of_the_allocator_has_a_contract() {
    use gears_tests::ialloc::{ALLOCINODE_LOOP, ALLOCINODE_PANIC};
    let c = contracts();
    for gear in
        [&IALLOC, &ALLOCINODE_LOOPCHECK, &ALLOCINODE_LOOP, &ALLOCINODE_LOOPEXIT, &ALLOCINODE_PANIC, &IFREE]
    {
        assert!(c.covers(gear), "{gear} has no contract");
    }
    let gears: Vec<&str> = c.names().map(|(_, g)| g).collect();
    assert_eq!(
        gears,
        [
            "ialloc",
            "allocinode_loopcheck",
            "allocinode_loop",
            "allocinode_loopexit",
            "allocinode_panic",
            "ifree"
        ]
    );
}

#[test]
fn a_normal_ialloc_keeps_every_contract_and_each_gear_is_checked_pre_and_post() {
    let mut fs = small_fs();
    let mut d = Dispatcher::new(contracts());
    assert_eq!(d.run(&mut fs, &IALLOC), Outcome::Exited(4));
    assert_eq!(d.meta().breach(), None);
    assert_eq!(d.steps(), 10);
    assert_eq!(d.meta().checked(), (10, 10), "one contract per gear, each run checked before and after");
    assert_eq!(fs.inodes[4].ty, 2);
}

#[test]
fn a_full_table_fails_and_the_panic_contract_holds() {
    let mut fs = Xv6::new(4, 1).with_used([1, 2, 3]);
    fs.request(0, 1, 2);
    let mut d = Dispatcher::new((Tracer::new(), contracts()));
    assert_eq!(d.run(&mut fs, &IALLOC), Outcome::Failed(FsError::NoInodes));
    let (tracer, contracts) = d.meta();
    assert_eq!(contracts.breach(), None);
    assert_eq!(tracer.trace().gear_names().last(), Some(&"allocinode_panic"), "the panic gear ran, checked");
    assert_eq!(contracts.checked(), (9, 9));
}

#[test]
fn preemption_at_each_point_in_both_modes_keeps_every_contract() {
    let points = {
        let mut fs = fs_for_injection();
        let mut d = Dispatcher::new(InjectAt::points([], Mode::Restart));
        assert_eq!(d.run(&mut fs, &IALLOC), Outcome::Exited(4));
        d.meta().seen()
    };
    assert!(points >= 3);
    for mode in [Mode::Restart, Mode::Resume] {
        for k in 0..points {
            let mut fs = fs_for_injection();
            let mut d =
                Dispatcher::new((InjectAt::points([k], mode), Invariant::new(check_invariants), contracts()));
            let (out, runs) = run_to_completion(&mut d, &mut fs);
            let (_, invariant, contracts) = d.meta();
            assert_eq!((out, runs), (Outcome::Exited(4), 2), "{mode} at point {k}");
            assert_eq!(contracts.breach(), None, "{mode} at point {k}");
            assert_eq!(invariant.violation(), None, "{mode} at point {k}");
            assert_eq!(contracts.checked().0, d.steps(), "{mode} at point {k}: every gear run was checked");
        }
        // And preempted at every point, one run per point.
        let mut fs = fs_for_injection();
        let mut d = Dispatcher::new((InjectAt::every(mode), contracts()));
        let (out, runs) = run_to_completion(&mut d, &mut fs);
        assert_eq!((out, u64::from(runs)), (Outcome::Exited(4), points + 1), "{mode}");
        assert_eq!(d.meta().1.breach(), None, "{mode}");
        assert_eq!(d.meta().1.checked(), (d.steps(), d.steps()), "{mode}");
    }
}

#[test]
fn the_work_budget_scenario_keeps_every_contract() {
    let mut fs = Xv6::new(300, 1).with_used(1..=250);
    fs.request(0, 1, 2);
    let mut d = Dispatcher::new((WorkBudget::new(100, || true, Mode::Restart), contracts()));
    let (out, runs) = run_to_completion(&mut d, &mut fs);
    assert_eq!((out, runs), (Outcome::Exited(251), 3));
    assert_eq!(d.meta().1.breach(), None);
}

/// p0 is preempted at its third point; p1 frees inode 2 with the `ifree` gear and allocates; p0
/// goes on. Everything through one dispatcher whose metagears are `meta`.
fn two_processes<M: gears::MetaGear<Xv6>>(mode: Mode, meta: M) -> (Dispatcher<Xv6, M>, Xv6, Inum, Inum) {
    let mut fs = Xv6::new(12, 2).with_used([1, 2, 3, 4, 5]);
    let mut d = Dispatcher::new(meta);
    fs.request(0, 1, 2);
    assert!(matches!(d.run(&mut fs, &IALLOC), Outcome::Preempted { .. }), "{mode}");
    fs.current = 1;
    fs.procs[1].ifree_args = IfreeArgs { inum: 2 };
    assert_eq!(d.run(&mut fs, &IFREE), Outcome::Exited(2), "{mode}");
    fs.request(1, 1, 3);
    let Outcome::Exited(p1) = d.run(&mut fs, &IALLOC) else { panic!("{mode}: p1's ialloc failed") };
    fs.current = 0;
    let Outcome::Exited(p0) = d.run(&mut fs, &IALLOC) else { panic!("{mode}: p0's ialloc failed") };
    (d, fs, p0, p1)
}

#[test]
fn two_interleaved_processes_keep_every_contract_in_both_modes() {
    for mode in [Mode::Restart, Mode::Resume] {
        let (d, fs, p0, p1) =
            two_processes(mode, (InjectAt::points([2], mode), Invariant::new(check_invariants), contracts()));
        let (_, invariant, contracts) = d.meta();
        assert_eq!(contracts.breach(), None, "{mode}");
        assert_eq!(invariant.violation(), None, "{mode}");
        assert_eq!((p0, p1), (6, 2), "{mode}");
        assert_eq!(contracts.checked(), (d.steps(), d.steps()), "{mode}: ifree's contract too");
        check_invariants(&fs).unwrap();
    }
}

#[test]
fn contracts_compose_with_tracer_and_invariant_and_change_nothing() {
    for mode in [Mode::Restart, Mode::Resume] {
        let (plain, plain_fs, ..) = two_processes(mode, (InjectAt::points([2], mode), Tracer::new()));
        let (checked, checked_fs, ..) = two_processes(
            mode,
            (InjectAt::points([2], mode), Tracer::new(), Invariant::new(check_invariants), contracts()),
        );
        assert_eq!(checked_fs, plain_fs, "{mode}: the same state");
        assert_eq!(checked.meta().1.trace(), plain.meta().1.trace(), "{mode}: the same trace");
        assert_eq!(checked.steps(), plain.steps());
        assert_eq!(checked.meta().3.breach(), None);
        assert!(checked.meta().2.checks() > 0 && checked.meta().3.checked().1 > 0);
    }
}

#[test]
fn the_plain_ifree_helper_runs_the_ifree_gear() {
    let mut fs = small_fs();
    ifree(&mut fs, 2);
    assert_eq!((fs.inodes[2].ty, fs.sb.ihint), (0, 1));
    let mut fs = small_fs();
    fs.sb.ihint = 4;
    fs.procs[0].ifree_args = IfreeArgs { inum: 2 };
    let mut d = Dispatcher::new(contracts());
    assert_eq!(d.run(&mut fs, &IFREE), Outcome::Exited(2));
    assert_eq!((fs.inodes[2].ty, fs.sb.ihint, d.meta().checked()), (0, 2, (1, 1)));
    // Inode 0 is never valid: the helper and the gear leave it alone.
    let before = fs.clone();
    ifree(&mut fs, 0);
    assert_eq!(fs, before);
}

gears::code_gear! {
    /// BROKEN on purpose: `ialloc` that keeps the process's cursor when it is past the hint, as if
    /// a restarted scan could trust where it stopped. An inode freed below it since is skipped.
    fn ialloc_keeps_cursor(ctx: Xv6; sb: &Superblock, inum: &mut Inum) {
        *inum = sb.ihint.max(*inum).max(1);
        Next::Goto(&ALLOCINODE_LOOPCHECK)
    }
}

#[test]
fn a_broken_gear_breaks_the_postcondition_of_the_gear_it_replaces() {
    // The original's contract, put on the copy: the specification the copy must meet.
    let contracts =
        contracts().with(ialloc_contracts::ialloc().on(&IALLOC_KEEPS_CURSOR)).keeping_data_gears_before();
    let mut fs = Xv6::new(12, 2).with_used([1, 2, 3, 4, 5]);
    let mut d = Dispatcher::new((InjectAt::points([2], Mode::Restart), contracts));
    fs.request(0, 1, 2);
    assert!(matches!(d.run(&mut fs, &IALLOC_KEEPS_CURSOR), Outcome::Preempted { .. }));
    // p1 frees inode 2; the hint goes down to it.
    fs.current = 1;
    fs.procs[1].ifree_args = IfreeArgs { inum: 2 };
    assert_eq!(d.run(&mut fs, &IFREE), Outcome::Exited(2));
    // p0 restarts, and the copy starts its scan at its stale cursor 4, past the free inode 2.
    fs.current = 0;
    let out = d.run(&mut fs, &IALLOC_KEEPS_CURSOR);
    assert_eq!(out, Outcome::Halted { halt: HALT_POST, step: 8 });

    let b = d.meta().1.breach().expect("a breach is reported");
    assert_eq!(
        (b.gear, b.condition, b.step, b.process),
        ("ialloc_keeps_cursor", Condition::Post, 8, ProcessId(0))
    );
    assert_eq!(b.contract, "ialloc starts the scan at the hint");
    assert_eq!((b.clause, b.message.as_str()), ("the cursor starts at the hint", "inum = 4, ihint = 2"));
    assert_eq!(b.data_gears.iter().map(|(n, _)| *n).collect::<Vec<_>>(), ["sb", "inum"]);
    assert_eq!(b.data_gears[1].1, "4");
    let before = b.data_gears_before.as_ref().expect("kept");
    assert_eq!(before[1], ("inum", "4".to_string()), "the stale cursor the copy kept");
    assert_eq!(b.next.as_deref(), Some("goto allocinode_loopcheck"));
    assert_eq!(b.old.as_deref(), Some("Superblock { ninodes: 12, ihint: 2 }"));
    assert_eq!(b.trace.gear_names().last(), Some(&"ialloc_keeps_cursor"));
    assert_eq!(fs.procs[0].inum, 4, "the halt came after the gear ran, before the next one");
    insta::assert_snapshot!("contract_broken_gear_report", b.to_string());
}

#[test]
fn a_precondition_stops_the_gear_before_it_runs() {
    // Enter the loop exit with the cursor on an inode in use: it would overwrite it.
    let mut fs = small_fs();
    fs.procs[0].inum = 2;
    let before = fs.clone();
    let mut d = Dispatcher::new(contracts());
    assert_eq!(d.run(&mut fs, &ALLOCINODE_LOOPEXIT), Outcome::Halted { halt: HALT_PRE, step: 0 });
    assert_eq!(fs, before, "the gear did not run");
    let b = d.meta().breach().unwrap();
    assert_eq!(
        (b.gear, b.condition, b.clause),
        ("allocinode_loopexit", Condition::Pre, "the inode it names is free")
    );
    assert_eq!((b.next.as_deref(), b.old.as_deref()), (None, None));
    let shown: Vec<(&str, &str)> = b.data_gears.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(shown[0], ("sb", "Superblock { ninodes: 6, ihint: 1 }"));
    assert_eq!(shown[2], ("args", "IallocArgs { dev: 1, ty: 2 }"));
    assert_eq!(shown[3], ("inum", "2"));
    insta::assert_snapshot!("contract_precondition_report", b.to_string());
}

gears::code_gear! {
    /// BROKEN on purpose: the loop body with a "fast path" that strides two inodes at a time once
    /// past the first three, skipping every other one; it also forgets the preemption point.
    fn allocinode_loop_strides(ctx: Xv6; sb: &mut Superblock, inodes: &[DiskInode], inum: &mut Inum) {
        let free = inodes.get(*inum as usize).is_some_and(|d| d.ty == 0);
        if free {
            return Next::Goto(&ALLOCINODE_LOOPEXIT);
        }
        if sb.ihint == *inum {
            sb.ihint += 1;
        }
        *inum += if *inum > 3 { 2 } else { 1 };
        Next::Goto(&LOOPCHECK_STRIDES)
    }
}

gears::code_gear! {
    /// The loop test, going to the striding body.
    fn loopcheck_strides(ctx: Xv6; sb: &Superblock, inum: &Inum) {
        if *inum < sb.ninodes { Next::Goto(&ALLOCINODE_LOOP_STRIDES) } else { Next::Fail(FsError::NoInodes) }
    }
}

#[test]
fn a_contract_written_in_place_catches_a_broken_loop_variant_and_a_missing_preemption_point() {
    // Meta-level code that owns the broken gears writes their contract on the spot: the variant.
    let variant = Contract::new("the scan visits every inode", &ALLOCINODE_LOOP_STRIDES)
        .old(|fs: &Xv6| fs.sb.ninodes - fs.procs[fs.current].inum)
        .ensures(
            "ninodes - inum drops by exactly one on the back edge",
            |&v0: &Inum, fs: &Xv6, next: &Next<Xv6>| {
                let v = fs.sb.ninodes - fs.procs[fs.current].inum;
                next.target() != Some(&LOOPCHECK_STRIDES) || v + 1 == v0
            },
        );
    let mut fs = Xv6::new(10, 1).with_used(1..=6);
    fs.request(0, 1, 2);
    fs.procs[0].inum = 1;
    let mut d = Dispatcher::new(Contracts::new().with(variant));
    assert_eq!(d.run(&mut fs, &LOOPCHECK_STRIDES), Outcome::Halted { halt: HALT_POST, step: 7 });
    let b = d.meta().breach().unwrap();
    assert_eq!(
        (b.gear, b.condition, b.old.as_deref()),
        ("allocinode_loop_strides", Condition::Post, Some("6"))
    );
    assert_eq!(d.meta().checked(), (4, 4));

    // The ialloc contract of the loop body, put on the copy, also sees the missing preemption point.
    let mut fs = Xv6::new(10, 1).with_used(1..=6);
    fs.request(0, 1, 2);
    fs.procs[0].inum = 1;
    let mut d = Dispatcher::new(
        Contracts::new().with(ialloc_contracts::allocinode_loop().on(&ALLOCINODE_LOOP_STRIDES)),
    );
    assert_eq!(d.run(&mut fs, &LOOPCHECK_STRIDES), Outcome::Halted { halt: HALT_POST, step: 1 });
    let b = d.meta().breach().unwrap();
    assert_eq!(b.clause, "a used inode takes the back edge across a preemption point");
    assert_eq!(b.next.as_deref(), Some("goto loopcheck_strides"));
}

// ---------------------------------------------------------------------------------------------
// Under the model checker.

/// The xv6 system with the ialloc contracts checked inside every step.
///
/// [`GearModel`] builds its dispatcher's metagears itself (`(StepPolicy, Option<Tracer>,
/// Option<Invariant>)`), so a contract metagear cannot be plugged into it; this model makes the
/// same step with the contracts added, through the same [`GearSystem`] calls.
struct Contracted {
    system: Xv6System,
    mode: Mode,
}

impl Model for Contracted {
    type State = Xv6State;
    type Action = GearAction<()>;
    type Failure = String;

    fn init_states(&self) -> Vec<Xv6State> {
        self.system.initial()
    }

    fn actions(&self, s: &Xv6State, actions: &mut Vec<GearAction<()>>) {
        let runnable =
            self.system.processes(s).into_iter().filter(|&p| self.system.status(s, p) == Status::Runnable);
        actions.extend(runnable.map(GearAction::Run));
    }

    fn next_state(
        &self,
        s: &Xv6State,
        a: &GearAction<()>,
        trace: Option<&mut Trace>,
    ) -> Result<Xv6State, String> {
        let GearAction::Run(p) = *a else { return Ok(s.clone()) };
        let sys = &self.system;
        let mut next = s.clone();
        let entry = match sys.context(&mut next, p).meta().continuation {
            Some(g) => g,
            None => sys.begin(&mut next, p),
        };
        let tracer = trace.is_some().then(Tracer::new);
        let mut d = Dispatcher::new((StepPolicy::new(self.mode, 10_000), tracer, contracts()));
        let outcome = d.run(sys.context(&mut next, p), entry);
        if let (Some(trace), Some(tracer)) = (trace, d.meta_mut().1.as_mut()) {
            trace.events.append(&mut tracer.take().events);
        }
        match outcome {
            Outcome::Exited(v) => sys.finish(&mut next, p, Ok(v)),
            Outcome::Failed(e) => sys.finish(&mut next, p, Err(e)),
            Outcome::Preempted { .. } => sys.preempted(&mut next, p),
            Outcome::Halted { halt, step } => {
                return Err(match d.meta().2.breach() {
                    Some(b) => format!("{p}: {b}"),
                    None => format!("{p} halted at its gear #{step}: {halt}"),
                });
            }
        }
        sys.park(&mut next, p);
        sys.normalize(&mut next);
        Ok(next)
    }

    fn is_done(&self, s: &Xv6State) -> bool {
        self.system.processes(s).into_iter().all(|p| self.system.status(s, p) == Status::Done)
    }

    fn process(&self, a: &GearAction<()>) -> Option<ProcessId> {
        match a {
            GearAction::Run(p) => Some(*p),
            GearAction::Event(()) => None,
        }
    }

    fn describe(&self, s: &Xv6State) -> String {
        describe_xv6(s)
    }
}

fn three_procs() -> Xv6System {
    let scripts = vec![vec![Op::Ialloc(1), Op::Ifree], vec![Op::Ialloc(2), Op::Ifree], vec![Op::Ialloc(3)]];
    Xv6System::new(6, &[2, 3], scripts, Variant::Correct)
}

#[test]
fn contracts_hold_in_every_interleaving_the_model_checker_explores() {
    let plain = Checker::new(GearModel::new(three_procs())).invariant("ialloc", fs_invariant).bfs();
    for mode in [Mode::Resume, Mode::Restart] {
        let report = Checker::new(Contracted { system: three_procs(), mode })
            .invariant("ialloc", fs_invariant)
            .invariant("no shared inodes", no_shared_inodes)
            .bfs();
        assert!(report.is_ok(), "{mode}: {}", report.counterexample.as_ref().unwrap());
        assert!(report.complete);
        if mode == Mode::Resume {
            assert_eq!(report.stats.distinct, plain.stats.distinct, "the contracts change no state");
            assert_eq!(report.stats.transitions, plain.stats.transitions);
            assert_eq!(report.stats.distinct, 143);
        }
    }
}

/// p1 allocates inode 1 and frees it again; p0 allocates once. Inode 2 is in use from the start.
fn stale_cursor() -> Xv6System {
    Xv6System::new(3, &[2], vec![vec![Op::Ialloc(2)], vec![Op::Ialloc(1), Op::Ifree]], Variant::Correct)
}

#[test]
fn under_resume_the_model_checker_finds_ialloc_failing_while_an_inode_is_free() {
    // The invariants hold in every state, under either mode.
    for mode in [Mode::Resume, Mode::Restart] {
        let report = Checker::new(GearModel::new(stale_cursor()).with_mode(mode))
            .invariant("ialloc", fs_invariant)
            .bfs();
        assert!(report.is_ok() && report.complete, "{mode}");
    }
    // Restart re-reads the hint, so the panic's precondition holds in every interleaving.
    let restart = Checker::new(Contracted { system: stale_cursor(), mode: Mode::Restart }).bfs();
    assert!(restart.is_ok() && restart.complete, "{}", restart.counterexample.as_ref().unwrap());
    // Resume keeps the cursor: p0's scan passed inode 1 before p1 freed it, and panics.
    let resume = Checker::new(Contracted { system: stale_cursor(), mode: Mode::Resume }).bfs();
    let cex = resume.counterexample.as_ref().expect("a counterexample");
    let Finding::StepFailed(message) = &cex.finding else { panic!("{cex}") };
    assert!(message.starts_with("p0: contract `ialloc fails only on a full table` violated: precondition"));
    assert!(message.contains("no inode at or above the hint is free: inode 1 is free (ihint 1)"));
    assert_eq!(cex.len(), 4, "p1 allocates, p0 passes inode 1, p1 frees it, p0 panics");
    assert_eq!(cex.steps.last().unwrap().process, Some(ProcessId(0)));
    insta::assert_snapshot!("contract_mc_resume_spurious_panic", cex.to_string());
}
