//! xv6's `ialloc` as CodeGears: stepped gear by gear, traced, snapshotted, and preempted at every
//! preemption point under both preemption modes.

use gears::{Dispatcher, Mode, Next, Outcome};
use gears_tests::ialloc::{
    ALLOCINODE_LOOPCHECK, FsError, IALLOC, Inum, Superblock, Xv6, check_invariants, ifree,
};
use metagears::{GapMeter, InjectAt, Invariant, Tracer, WorkBudget};

/// Six inodes, 1..=3 in use (from before the hint was kept), so the scan walks three and takes 4.
fn small_fs() -> Xv6 {
    let mut fs = Xv6::new(6, 1).with_used([1, 2, 3]);
    fs.request(0, 1, 2);
    fs
}

/// Runs `ialloc` for the current process without preemption; returns outcome and trace.
fn run_traced(fs: &mut Xv6) -> (Outcome<Xv6>, metagears::Trace) {
    let mut d = Dispatcher::new(Tracer::new());
    let out = d.run(fs, &IALLOC);
    (out, d.into_meta().take())
}

#[test]
fn steps_gear_by_gear_with_the_data_gears_in_view() {
    let mut fs = small_fs();
    let mut d = Dispatcher::new(());
    let mut s = d.stepper(&mut fs, &IALLOC);

    assert_eq!(s.current_name(), Some("ialloc"));
    let declared: Vec<&str> = s.data_gears().map(|(n, _)| n).collect();
    assert_eq!(declared, ["sb", "inum"]);
    assert_eq!(format!("{:?}", s.data_gear("inum").unwrap()), "0");
    assert!(s.data_gear("inodes").is_none(), "ialloc did not declare `inodes`");

    // ialloc → loopcheck → loop, three times over the used inodes 1, 2, 3.
    let mut seen = vec![];
    for _ in 0..7 {
        seen.push((s.current_name().unwrap(), s.ctx().procs[0].inum, s.ctx().sb.ihint));
        assert!(s.step().is_none());
    }
    assert_eq!(
        seen,
        [
            ("ialloc", 0, 1),
            ("allocinode_loopcheck", 1, 1),
            ("allocinode_loop", 1, 1),
            ("allocinode_loopcheck", 2, 2),
            ("allocinode_loop", 2, 2),
            ("allocinode_loopcheck", 3, 3),
            ("allocinode_loop", 3, 3),
        ]
    );

    assert!(s.run_until("allocinode_loopexit"));
    assert_eq!(s.ctx().procs[0].inum, 4);
    let declared: Vec<&str> = s.data_gears().map(|(n, _)| n).collect();
    assert_eq!(declared, ["sb", "inodes", "args", "inum"]);

    assert_eq!(s.run_to_end(), Outcome::Exited(4));
    assert_eq!(fs.inodes[4].ty, 2, "the new inode has the requested type");
    assert_eq!(fs.sb, Superblock { ninodes: 6, ihint: 5 });
    assert_eq!(d.steps(), 10);
}

#[test]
fn run_until_reports_a_gear_that_never_comes() {
    let mut fs = small_fs();
    let mut d = Dispatcher::new(());
    let mut s = d.stepper(&mut fs, &IALLOC);
    assert!(!s.run_until("allocinode_panic"));
    assert_eq!(s.current(), None);
    assert_eq!(s.outcome(), Some(&Outcome::Exited(4)));
    let before = s.ctx().clone();
    assert!(s.step().is_none(), "a finished run has no gear left to step");
    assert_eq!(
        (s.ctx(), s.outcome()),
        (&before, Some(&Outcome::Exited(4))),
        "and stepping it changes nothing"
    );
}

#[test]
fn trace_snapshot_of_a_successful_ialloc() {
    let mut fs = small_fs();
    let (out, trace) = run_traced(&mut fs);
    assert_eq!(out, Outcome::Exited(4));
    insta::assert_snapshot!("ialloc_finds_inode_4", trace.to_string());
}

#[test]
fn no_free_inode_goes_to_the_panic_gear() {
    let mut fs = Xv6::new(4, 1).with_used([1, 2, 3]);
    fs.request(0, 1, 2);
    let before = fs.clone();
    let (out, trace) = run_traced(&mut fs);
    assert_eq!(out, Outcome::Failed(FsError::NoInodes));
    assert_eq!(trace.gear_names().last(), Some(&"allocinode_panic"));
    assert_eq!(fs.inodes, before.inodes, "a failed ialloc allocates nothing");
    check_invariants(&fs).unwrap();
    insta::assert_snapshot!("ialloc_no_inodes", trace.to_string());
}

#[test]
fn the_same_run_gives_the_same_trace_and_state() {
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let mut fs = Xv6::new(64, 1).with_used((1..40).filter(|i| i % 7 != 0));
            fs.request(0, 1, 3);
            let (out, trace) = run_traced(&mut fs);
            (format!("{out:?}"), trace, fs)
        })
        .collect();
    assert!(runs.windows(2).all(|w| w[0] == w[1]), "determinism: same gears, same state, same trace");
}

/// The result and the file system of an unpreempted run, and how many preemption points it crosses.
fn baseline(make: &dyn Fn() -> Xv6) -> (Inum, Xv6, u64) {
    let mut fs = make();
    let mut d = Dispatcher::new(InjectAt::points([], Mode::Restart));
    let Outcome::Exited(inum) = d.run(&mut fs, &IALLOC) else { panic!("baseline ialloc failed") };
    let points = d.meta().seen();
    (inum, fs, points)
}

/// Runs `ialloc` to completion under `meta`, re-running it after each preemption (as seL4 re-runs a
/// restarted syscall, or as a Mach thread resumes its continuation); returns result and run count.
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

fn fs_for_injection() -> Xv6 {
    let mut fs = Xv6::new(16, 1).with_used([1, 2, 3, 5, 6, 7]);
    fs.request(0, 1, 2);
    fs
}

#[test]
fn preempting_at_each_point_converges_to_the_same_result_under_both_modes() {
    let (inum, expected, points) = baseline(&fs_for_injection);
    assert_eq!(inum, 4);
    assert!(points >= 3, "the scan crosses {points} preemption points");
    for mode in [Mode::Restart, Mode::Resume] {
        for k in 0..points {
            let mut fs = fs_for_injection();
            let mut d = Dispatcher::new((
                InjectAt::points([k], mode),
                Invariant::new(check_invariants),
                Tracer::new(),
            ));
            let (out, runs) = run_to_completion(&mut d, &mut fs);
            let (inject, invariant, tracer) = d.meta();
            assert_eq!(out, Outcome::Exited(inum), "{mode} at point {k}");
            assert_eq!(runs, 2, "{mode} at point {k}: preempted once, then finished");
            assert_eq!(inject.preemptions(), 1);
            assert_eq!(invariant.violation(), None, "{mode} at point {k}");
            assert!(invariant.checks() > k, "the invariant ran at every point reached");
            assert_eq!((fs.sb, &fs.inodes), (expected.sb, &expected.inodes), "{mode} at point {k}");
            assert_eq!(fs.procs[0].meta.continuation, None, "nothing left to resume");
            let resumed = tracer.trace().to_string().contains("resume allocinode_loopcheck");
            assert_eq!(resumed, mode == Mode::Resume, "{mode} at {k}: restart re-enters at ialloc");
        }
    }
}

#[test]
fn preempting_at_every_point_still_converges_because_progress_is_kept_in_the_superblock() {
    let (inum, expected, points) = baseline(&fs_for_injection);
    for mode in [Mode::Restart, Mode::Resume] {
        let mut fs = fs_for_injection();
        let mut d = Dispatcher::new((InjectAt::every(mode), Invariant::new(check_invariants)));
        let (out, runs) = run_to_completion(&mut d, &mut fs);
        assert_eq!(out, Outcome::Exited(inum));
        assert_eq!(u64::from(runs), points + 1, "{mode}: one run per point, plus the last");
        assert_eq!(d.meta().1.violation(), None);
        assert_eq!(fs.inodes, expected.inodes);
    }
}

#[test]
fn restart_and_resume_differ_in_gears_run_not_in_result() {
    let mut gears_run = vec![];
    for mode in [Mode::Restart, Mode::Resume] {
        let mut fs = fs_for_injection();
        let mut d = Dispatcher::new(InjectAt::every(mode));
        let (out, _) = run_to_completion(&mut d, &mut fs);
        assert_eq!(out, Outcome::Exited(4));
        gears_run.push(d.steps());
    }
    // Restart re-runs the entry gear `ialloc` once per preemption; Resume does not.
    let (_, _, points) = baseline(&fs_for_injection);
    assert_eq!(gears_run[0], gears_run[1] + points);
}

#[test]
fn two_processes_interleave_at_a_preemption_point() {
    for mode in [Mode::Restart, Mode::Resume] {
        let mut fs = Xv6::new(12, 2).with_used([1, 2, 3, 4, 5]);
        let mut d =
            Dispatcher::new((InjectAt::points([2], mode), Invariant::new(check_invariants), Tracer::new()));

        fs.request(0, 1, 2);
        assert!(matches!(d.run(&mut fs, &IALLOC), Outcome::Preempted { .. }));
        // p1 runs while p0 is preempted, and frees inode 2 before allocating.
        fs.current = 1;
        ifree(&mut fs, 2);
        fs.request(1, 1, 3);
        let Outcome::Exited(p1) = d.run(&mut fs, &IALLOC) else { panic!("p1's ialloc failed") };
        // p0 goes on: restarted from ialloc, or resumed from its saved continuation.
        fs.current = 0;
        let Outcome::Exited(p0) = d.run(&mut fs, &IALLOC) else { panic!("p0's ialloc failed") };

        assert_ne!(p0, p1, "{mode}: two processes never get the same inode");
        assert_eq!(p1, 2, "{mode}: p1 takes the inode it freed (the hint went down to it)");
        assert_eq!((fs.inodes[p0 as usize].ty, fs.inodes[p1 as usize].ty), (2, 3));
        assert_eq!(d.meta().1.violation(), None, "{mode}");
        check_invariants(&fs).unwrap();
        let text = d.meta().2.trace().to_string();
        assert!(text.contains(" p1 "), "the trace names both processes:\n{text}");
    }
}

gears::code_gear! {
    /// A broken entry gear: claims every inode is in use, then crosses a preemption point.
    fn ialloc_claims_everything(ctx: Xv6; sb: &mut Superblock, inum: &mut Inum) {
        sb.ihint = sb.ninodes;
        *inum = 1;
        Next::Preempt(&ALLOCINODE_LOOPCHECK)
    }
}

#[test]
fn the_invariant_metagear_catches_a_broken_gear_at_its_preemption_point() {
    let mut fs = small_fs();
    let mut d = Dispatcher::new(Invariant::new(check_invariants));
    let out = d.run(&mut fs, &IALLOC_CLAIMS_EVERYTHING);
    assert_eq!(out, Outcome::Halted { halt: metagears::invariant::HALT, step: 0 });
    let v = d.meta().violation().expect("a violation is reported");
    assert_eq!((v.gear, v.next, v.step), ("ialloc_claims_everything", Some("allocinode_loopcheck"), 0));
    assert_eq!(v.error, "inode 4 is free but below ihint 6");
    insta::assert_snapshot!("ialloc_broken_gear_report", v.to_string());
}

#[test]
fn sel4_work_budget_checks_for_interrupts_every_100_points() {
    // 250 used inodes: the scan crosses 250 points; with an interrupt always pending it is
    // preempted at the 100th point of each run, and restarts from the hint.
    let mut fs = Xv6::new(300, 1).with_used(1..=250);
    fs.request(0, 1, 2);
    let mut d =
        Dispatcher::new((WorkBudget::new(100, || true, Mode::Restart), Invariant::new(check_invariants)));
    let (out, runs) = run_to_completion(&mut d, &mut fs);
    assert_eq!(out, Outcome::Exited(251));
    assert_eq!(runs, 3);
    assert_eq!((d.meta().0.checks(), d.meta().0.preemptions()), (2, 2));
    assert_eq!(d.meta().1.violation(), None);

    // With no interrupt pending it never preempts, however often it checks.
    let mut fs = Xv6::new(300, 1).with_used(1..=250);
    fs.request(0, 1, 2);
    let mut d = Dispatcher::new(WorkBudget::new(100, || false, Mode::Restart));
    assert_eq!(d.run(&mut fs, &IALLOC), Outcome::Exited(251));
    assert_eq!((d.meta().checks(), d.meta().preemptions()), (2, 0));
}

#[test]
fn gears_between_preemption_points_do_not_grow_with_the_table() {
    for ninodes in [10, 1_000, 100_000] {
        let mut fs = Xv6::new(ninodes, 1).with_used(1..ninodes - 1);
        fs.request(0, 1, 2);
        let mut d = Dispatcher::new(GapMeter::new());
        assert_eq!(d.run(&mut fs, &IALLOC), Outcome::Exited(ninodes - 1));
        assert_eq!(d.meta().points(), u64::from(ninodes) - 2);
        assert_eq!(d.meta().max_gap(), 3, "ialloc+loopcheck+loop, or loopcheck+loop+loopexit");
    }
}

#[test]
fn gear_ids_are_stable_and_distinct() {
    use gears_tests::ialloc::{ALLOCINODE_LOOP, ALLOCINODE_LOOPEXIT, ALLOCINODE_PANIC};
    let gears = [&IALLOC, &ALLOCINODE_LOOPCHECK, &ALLOCINODE_LOOP, &ALLOCINODE_LOOPEXIT, &ALLOCINODE_PANIC];
    let mut ids: Vec<_> = gears.iter().map(|g| g.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), gears.len());
    assert_eq!(IALLOC.path(), "gears_tests::ialloc::ialloc");
    assert_eq!(IALLOC.id(), gears::GearId::of("gears_tests::ialloc::ialloc"));
}

#[test]
fn trace_snapshot_of_a_resumed_ialloc() {
    let mut fs = small_fs();
    let mut d = Dispatcher::new((InjectAt::points([0], Mode::Resume), Tracer::new()));
    let (out, runs) = run_to_completion(&mut d, &mut fs);
    assert_eq!((out, runs), (Outcome::Exited(4), 2));
    insta::assert_snapshot!("ialloc_preempted_and_resumed", d.meta().1.trace().to_string());
}
