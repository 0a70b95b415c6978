//! The model checker on xv6's inode allocator and on a lock table: every interleaving of the
//! processes' steps between preemption points, checked state by state.

use std::collections::HashSet;

use gears::{Mode, ProcessId};
use gears_tests::ialloc::check_invariants;
use gears_tests::xv6_system::{
    LockState, LockSystem, Op, Variant, Xv6State, Xv6System, fs_invariant, no_shared_inodes,
};
use metagears::diagram::{EdgeKind, GearGraph, PREEMPTED};
use metagears::mc::{Checker, Finding, GearAction, GearModel, Model, Visited};

/// Three processes on five inodes (1..=5), 2 and 3 in use from before the hint was kept.
fn three_procs(variant: Variant) -> GearModel<Xv6System> {
    let scripts = vec![vec![Op::Ialloc(1), Op::Ifree], vec![Op::Ialloc(2), Op::Ifree], vec![Op::Ialloc(3)]];
    GearModel::new(Xv6System::new(6, &[2, 3], scripts, variant))
}

/// Two processes on four inodes, 2 and 3 in use: p0 allocates and frees, p1 allocates.
fn two_procs(variant: Variant) -> GearModel<Xv6System> {
    let scripts = vec![vec![Op::Ialloc(1), Op::Ifree], vec![Op::Ialloc(2)]];
    GearModel::new(Xv6System::new(5, &[2, 3], scripts, variant))
}

fn xv6_checker<'a>(model: GearModel<Xv6System>) -> Checker<'a, GearModel<Xv6System>> {
    Checker::new(model).invariant("ialloc", fs_invariant).invariant("no shared inodes", no_shared_inodes)
}

/// Every state reachable from the initial ones, by a plain recursive search that keeps whole
/// states: an enumeration independent of the checker's fingerprints, levels and parent links.
fn brute_force<M: Model>(model: &M) -> HashSet<M::State> {
    fn visit<M: Model>(model: &M, s: M::State, seen: &mut HashSet<M::State>) {
        if !seen.insert(s.clone()) {
            return;
        }
        let mut actions = vec![];
        model.actions(&s, &mut actions);
        for a in &actions {
            let next = model.next_state(&s, a, None).expect("no step fails");
            if next != s {
                visit(model, next, seen);
            }
        }
    }
    let mut seen = HashSet::new();
    for s in model.init_states() {
        visit(model, s, &mut seen);
    }
    seen
}

/// A larger system for the speed figures and the thread-count comparison: three processes with
/// three operations each on seven inodes, four of them in use from the start.
fn three_procs_longer() -> GearModel<Xv6System> {
    let scripts = vec![
        vec![Op::Ialloc(1), Op::Ifree, Op::Ialloc(1)],
        vec![Op::Ialloc(2), Op::Ialloc(2), Op::Ifree],
        vec![Op::Ialloc(3), Op::Ifree, Op::Ialloc(3)],
    ];
    GearModel::new(Xv6System::new(8, &[2, 3, 5, 6], scripts, Variant::Correct))
}

#[test]
fn the_correct_allocator_verifies_and_every_search_counts_the_same_states() {
    let bfs = xv6_checker(three_procs(Variant::Correct)).bfs();
    print!("bfs:   {bfs}");
    assert!(bfs.to_string().starts_with("verified: 143 distinct states, 143 explored, 259 transitions"));
    assert!(bfs.is_ok(), "{}", bfs.counterexample.as_ref().unwrap());
    assert!(bfs.complete);
    assert_eq!(bfs.stats.distinct, 143, "the reachable states of the three-process system");
    assert_eq!(bfs.stats.transitions, 259);
    assert_eq!(bfs.stats.explored, bfs.stats.distinct, "every state expanded once");

    let dfs = xv6_checker(three_procs(Variant::Correct)).dfs();
    println!("dfs:   {}", dfs.stats);
    assert!(dfs.is_ok() && dfs.complete);
    assert_eq!(
        (dfs.stats.distinct, dfs.stats.transitions, dfs.stats.terminal),
        (bfs.stats.distinct, bfs.stats.transitions, bfs.stats.terminal)
    );

    // Whole states instead of fingerprints, and a plain recursive enumeration: no collision.
    let exact = xv6_checker(three_procs(Variant::Correct)).visited(Visited::Exact).bfs();
    assert_eq!(exact.stats.distinct, bfs.stats.distinct);
    let all = brute_force(&three_procs(Variant::Correct));
    assert_eq!(all.len() as u64, bfs.stats.distinct);
    for s in &all {
        fs_invariant(s).unwrap();
        no_shared_inodes(s).unwrap();
    }

    // The ialloc invariant also holds inside every step, at each point and operation end.
    let inside = xv6_checker(three_procs(Variant::Correct).point_invariant(check_invariants)).bfs();
    assert!(inside.is_ok());
    assert_eq!(inside.stats.distinct, bfs.stats.distinct);

    // Terminal states: everyone finished; p2 holds what it allocated, p0 and p1 hold nothing.
    let model = three_procs(Variant::Correct);
    let terminal: Vec<&Xv6State> = all.iter().filter(|s| model.is_done(s)).collect();
    assert_eq!(terminal.len() as u64, bfs.stats.terminal);
    assert!(terminal.iter().all(|s| s.held[0].is_empty() && s.held[1].is_empty() && s.held[2].len() == 1));
}

#[test]
fn a_depth_bound_cuts_the_search_short_and_says_so() {
    let full = xv6_checker(three_procs(Variant::Correct)).bfs();
    let bfs = xv6_checker(three_procs(Variant::Correct)).max_depth(3).bfs();
    let dfs = xv6_checker(three_procs(Variant::Correct)).max_depth(3).dfs();
    assert!(!bfs.complete && !dfs.complete);
    assert_eq!(bfs.stats.max_depth, 3);
    assert_eq!(dfs.stats.max_depth, 3);
    assert!(bfs.stats.distinct < full.stats.distinct);
    // Within the bound, both find exactly the states at most three steps away.
    assert_eq!(dfs.stats.distinct, bfs.stats.distinct);
    // A bound on the states: DFS stops at the 50th, BFS at the end of the level that reaches 50.
    let dfs = xv6_checker(three_procs(Variant::Correct)).max_states(50).dfs();
    assert_eq!((dfs.stats.distinct, dfs.complete), (50, false));
    let bfs = xv6_checker(three_procs(Variant::Correct)).max_states(50).bfs();
    assert!(!bfs.complete && (50..full.stats.distinct).contains(&bfs.stats.distinct));
    // A bound past the deepest state changes nothing.
    let deep = xv6_checker(three_procs(Variant::Correct)).max_depth(50).dfs();
    assert_eq!(deep.stats.distinct, full.stats.distinct);
}

#[test]
fn the_naive_hint_is_caught_with_a_shortest_counterexample_naming_the_broken_gear() {
    let report = xv6_checker(two_procs(Variant::NaiveHint)).bfs();
    println!("bfs: {}", report.stats);
    let cex = report.counterexample.as_ref().expect("the broken allocator is caught");
    let text = cex.to_string();
    println!("{text}");
    assert!(!report.complete);
    assert!(
        matches!(&cex.finding, Finding::Invariant { name, message }
            if name == "ialloc" && message == "inode 1 is free but below ihint 4"),
        "{}",
        cex.finding
    );
    // p0 allocates inode 1; p1 scans past inode 2 and is preempted; p0 frees inode 1; p1 resumes
    // past inode 3 and the naive loop lifts the hint over the free inode 1.
    assert_eq!(cex.len(), 4, "the shortest path to the violation");
    let procs: Vec<Option<ProcessId>> = cex.steps.iter().map(|s| s.process).collect();
    let (p0, p1) = (Some(ProcessId(0)), Some(ProcessId(1)));
    assert_eq!(procs, [p0, p1, p0, p1]);
    assert_eq!(cex.steps[0].action, GearAction::Run(ProcessId(0)));
    assert_eq!(cex.steps[2].trace.gear_names(), ["ifree"]);
    assert_eq!(cex.steps[3].trace.gear_names(), ["allocinode_loopcheck_naive", "allocinode_loop_naive"]);
    assert!(text.contains("allocinode_loop_naive -> allocinode_loopcheck_naive [pp]"));
    assert!(text.contains("resume allocinode_loopcheck_naive"));
    let last = cex.last_state();
    assert_eq!((last.fs.sb.ihint, last.fs.inodes[1].ty), (4, 0));

    // Whatever the search, the same bug; DFS's path may be longer, never shorter.
    let dfs = xv6_checker(two_procs(Variant::NaiveHint)).dfs();
    let dfs_cex = dfs.counterexample.expect("DFS catches it too");
    assert!(dfs_cex.len() >= cex.len());
    assert!(dfs_cex.gear_names().contains(&"allocinode_loop_naive"));

    // The correct allocator, on the same system, verifies.
    assert!(xv6_checker(two_procs(Variant::Correct)).bfs().is_ok());

    insta::assert_snapshot!("mc_naive_hint_counterexample", text);
}

#[test]
fn restart_mode_rescans_from_the_hint_and_so_never_meets_the_naive_bug() {
    // Under Restart a preempted ialloc starts again at its entry gear, so its cursor is never kept
    // past an inode freed meanwhile: the naive loop is then only ever at the hint.
    for variant in [Variant::Correct, Variant::NaiveHint] {
        let report = xv6_checker(two_procs(variant).with_mode(Mode::Restart)).bfs();
        assert!(report.is_ok(), "{variant:?}: {}", report.counterexample.as_ref().unwrap());
        let model = two_procs(variant).with_mode(Mode::Restart);
        assert!(
            brute_force(&model).iter().all(|s| s.fs.procs.iter().all(|p| p.meta.continuation.is_none())),
            "no continuation is ever kept under Restart"
        );
    }
}

#[test]
fn processes_taking_two_locks_in_opposite_orders_deadlock() {
    let report = Checker::new(GearModel::new(LockSystem::two_locks(&[[0, 1], [1, 0]]))).bfs();
    println!("bfs: {}", report.stats);
    let cex = report.counterexample.as_ref().expect("a deadlock");
    let text = cex.to_string();
    println!("{text}");
    assert_eq!(cex.finding, Finding::Deadlock);
    assert_eq!(cex.len(), 4, "each takes its first lock, then each tries for the other's");
    let last = cex.last_state();
    assert_eq!(last.table.owner, [Some(ProcessId(0)), Some(ProcessId(1))]);
    assert!(
        last.table
            .procs
            .iter()
            .all(|p| p.waiting && p.meta.continuation.is_some_and(|g| g.name() == "acquire"))
    );
    assert!(text.contains("acquire -> acquire [pp]"), "the waiting step is in the trace");
    insta::assert_snapshot!("mc_lock_order_deadlock", text);

    // A spinning waiter that the system leaves runnable: its steps change nothing, and the
    // checker finds the same deadlock in the same state.
    let mut spinning = LockSystem::two_locks(&[[0, 1], [1, 0]]);
    spinning.explicit_blocking = false;
    let spin = Checker::new(GearModel::new(spinning)).bfs();
    let spin_cex = spin.counterexample.expect("a deadlock, found through stutter steps");
    assert_eq!(spin_cex.finding, Finding::Deadlock);
    assert_eq!(spin_cex.last_state(), last);
    assert!(spin.stats.stutters > 0);

    let dfs = Checker::new(GearModel::new(LockSystem::two_locks(&[[0, 1], [1, 0]]))).dfs();
    assert_eq!(dfs.counterexample.expect("DFS finds it too").finding, Finding::Deadlock);

    // Without deadlock detection the search runs to the end and finds nothing else wrong.
    let ignoring =
        Checker::new(GearModel::new(LockSystem::two_locks(&[[0, 1], [1, 0]]))).deadlocks(false).bfs();
    assert!(ignoring.is_ok() && ignoring.complete);
}

#[test]
fn taking_the_locks_in_one_order_never_deadlocks() {
    for threads in [1, 2] {
        let report = Checker::new(GearModel::new(LockSystem::two_locks(&[[0, 1], [0, 1], [0, 1]])))
            .invariant("one holder", |s: &LockState| {
                let holders = s.table.owner.iter().flatten().count();
                let busy = s.pc.iter().zip(0..).filter(|&(&pc, _)| pc == 1 || pc == 2 || pc == 3).count();
                if holders <= 2 && busy <= 1 { Ok(()) } else { Err(format!("{holders} held, {busy} inside")) }
            })
            .threads(threads)
            .bfs();
        println!("{threads} thread(s): {}", report.stats);
        assert!(report.is_ok(), "{}", report.counterexample.as_ref().unwrap());
        assert_eq!(report.stats.distinct, DISTINCT_LOCK_STATES);
        assert_eq!(report.stats.terminal, 1);
    }
    let all = brute_force(&GearModel::new(LockSystem::two_locks(&[[0, 1], [0, 1], [0, 1]])));
    assert_eq!(all.len() as u64, DISTINCT_LOCK_STATES);
}

const DISTINCT_LOCK_STATES: u64 = 101;

#[test]
fn parallel_and_sequential_runs_count_the_same() {
    let mut runs = vec![];
    for threads in [1, 2, 4] {
        let report = xv6_checker(three_procs_longer()).threads(threads).bfs();
        println!("{threads} thread(s): {}", report.stats);
        assert!(report.is_ok());
        let s = &report.stats;
        runs.push((s.distinct, s.explored, s.transitions, s.stutters, s.terminal, s.max_depth));
    }
    assert!(runs.windows(2).all(|w| w[0] == w[1]), "{runs:?}");
    let dfs = xv6_checker(three_procs_longer()).dfs();
    println!("dfs: {}", dfs.stats);
    assert_eq!(dfs.stats.distinct, runs[0].0);

    // The counterexample too: the same path, gear for gear, on any number of threads.
    let texts: Vec<String> = [1, 2, 3]
        .into_iter()
        .map(|t| {
            xv6_checker(two_procs(Variant::NaiveHint)).threads(t).bfs().counterexample.unwrap().to_string()
        })
        .collect();
    assert!(texts.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn the_explored_gear_transitions_make_a_diagram() {
    let report = xv6_checker(three_procs(Variant::Correct)).gear_graph(true).threads(2).bfs();
    let graph: GearGraph = report.gear_graph.expect("asked for");
    let edge =
        |from: &str, to: &str, kind| graph.edges.get(&(from.into(), to.into(), kind)).copied().unwrap_or(0);
    assert!(edge("allocinode_loop", PREEMPTED, EdgeKind::Preempt) > 0, "scans are preempted");
    assert!(
        edge(PREEMPTED, "allocinode_loopcheck", EdgeKind::Start) > 0,
        "and resumed at their continuation"
    );
    assert!(edge("ialloc", "allocinode_loopcheck", EdgeKind::Goto) > 0);
    assert!(edge("allocinode_loopexit", "exit", EdgeKind::End) > 0);
    assert!(edge("ifree", "exit", EdgeKind::End) > 0);
    assert_eq!(edge("allocinode_loopcheck", "allocinode_panic", EdgeKind::Goto), 0, "never out of inodes");
    // Each explored step started once: the start edges count the steps, stutters included.
    let starts: u64 = graph.edges.iter().filter(|((_, _, k), _)| *k == EdgeKind::Start).map(|(_, n)| n).sum();
    assert_eq!(starts, report.stats.transitions + report.stats.stutters);
    let dot = graph.to_dot();
    assert!(dot.starts_with("digraph gears {") && dot.contains("\"allocinode_loop\" -> \"preempted\""));
    let svg = graph.to_svg().expect("the graph lays out");
    assert!(svg.contains("<svg") && svg.contains("allocinode_loopcheck"));
    // The same graph on one thread.
    let one = xv6_checker(three_procs(Variant::Correct)).gear_graph(true).threads(1).bfs();
    assert_eq!(one.gear_graph.as_ref(), Some(&graph));
}
