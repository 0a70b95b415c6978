//! The dining philosophers from seL4 threads and IPC (`gears_tests::philosophers`), model checked
//! on the real syscall gears by `metagears::mc`, and cross-checked against `stateright` on an
//! abstract model of the same protocol.
//!
//! The deadlocking version (everyone takes left, then right) gives a shortest counterexample; the
//! fixed one (the last philosopher takes right, then left) is verified, with its number of distinct
//! states found alike by BFS, by DFS, by a plain recursive enumeration and by stateright.
//!
//! How the abstract model is aligned with the gear system: one stateright action is one thread's
//! system call, exactly as one checker step is one thread's run from its syscall's entry gear to
//! its end (the IPC paths have no preemption point, so a syscall is never split). The abstract
//! state keeps everything the kernel state can differ in for these scripts: each thread's place in
//! its script and whether its last call blocked (the `IpcState` bookkeeping), its thread state,
//! each endpoint's queue (in order), the order of the ready queue (threads join its tail when they
//! become runnable, as `setThreadState` does), and which caller each server's reply cap points
//! to. Messages are empty, caps unbadged, so message registers carry no further distinction.

use std::collections::{BTreeSet, HashSet, VecDeque};

use codegears::object::ThreadState;
use gears_tests::philosophers::{Variant, philosopher_forks, philosophers};
use gears_tests::sel4::invariants;
use gears_tests::sel4::mc::{IpcState, IpcSystem};
use metagears::diagram::EdgeKind;
use metagears::mc::{Checker, Finding, GearModel, Model, Visited};
use stateright::{Checker as _, HasDiscoveries, Model as SrModel, Property};

const N: usize = 3;

fn checker<'a>(variant: Variant) -> Checker<'a, GearModel<IpcSystem>> {
    Checker::new(GearModel::new(philosophers(N, variant).system))
        .invariant("kernel", |s: &IpcState| invariants(&s.k))
        .invariant(
            "no errors",
            |s: &IpcState| if s.errors.is_empty() { Ok(()) } else { Err(format!("{:?}", s.errors)) },
        )
}

/// Every state reachable from the initial ones, by a plain recursive search that keeps whole
/// states: an enumeration independent of the checker's fingerprints, levels and parent links.
fn brute_force<M: Model>(model: &M) -> HashSet<M::State> {
    let mut seen = HashSet::new();
    let mut stack: Vec<M::State> = model.init_states();
    while let Some(s) = stack.pop() {
        if !seen.insert(s.clone()) {
            continue;
        }
        let mut actions = vec![];
        model.actions(&s, &mut actions);
        for a in &actions {
            let next = model.next_state(&s, a, None).expect("no step fails");
            if next != s && !seen.contains(&next) {
                stack.push(next);
            }
        }
    }
    seen
}

#[test]
fn left_first_philosophers_deadlock() {
    let report = checker(Variant::LeftFirst).bfs();
    println!("{}", report.stats);
    let cex = report.counterexample.as_ref().expect("a deadlock");
    assert_eq!(cex.finding, Finding::Deadlock);
    // Per philosopher: call for the left fork, the fork server receives the call, grants the fork
    // and waits for it back, and the philosopher calls for the right fork, which waits.
    assert_eq!(cex.len(), 4 * N, "{cex}");
    let p = philosophers(N, Variant::LeftFirst);
    let last = cex.last_state();
    for (i, &t) in p.philosophers.iter().enumerate() {
        let st = last.k.state.objects.tcb(t).state;
        let right = p.fork_eps[(i + 1) % N].0;
        assert!(
            matches!(st, ThreadState::BlockedOnSend { is_call: true, ep, .. } if ep == right),
            "philosopher {i} waits to take their right fork: {st:?}"
        );
        assert_eq!(last.pc[i], 2, "philosopher {i} has called for both forks");
    }
    for (f, &t) in p.servers.iter().enumerate() {
        let st = last.k.state.objects.tcb(t).state;
        let release = p.fork_eps[f].1;
        assert!(
            matches!(st, ThreadState::BlockedOnReceive { ep, .. } if ep == release),
            "fork {f} waits for its release: {st:?}"
        );
        assert_eq!(last.pc[N + f], 2, "fork {f} was granted once and waits for its release");
    }
    insta::assert_snapshot!("philosophers_left_first_deadlock", cex.to_string());
}

#[test]
fn last_right_first_philosophers_are_verified() {
    let bfs = checker(Variant::LastRightFirst).bfs();
    println!("BFS: {}", bfs.stats);
    assert!(bfs.is_ok(), "{bfs}");
    assert!(bfs.complete);
    let dfs = checker(Variant::LastRightFirst).dfs();
    println!("DFS: {}", dfs.stats);
    assert!(dfs.is_ok(), "{dfs}");
    let exact = checker(Variant::LastRightFirst).visited(Visited::Exact).bfs();
    assert_eq!(bfs.stats.distinct, FIXED_STATES);
    assert_eq!(dfs.stats.distinct, FIXED_STATES);
    assert_eq!(exact.stats.distinct, FIXED_STATES);
    assert!(bfs.stats.terminal > 0 && bfs.stats.terminal == dfs.stats.terminal, "every script can end");
    let all = brute_force(checker(Variant::LastRightFirst).model());
    assert_eq!(all.len() as u64, FIXED_STATES);
    // One step is one whole system call: no step of any explored state stopped at a preemption
    // point (what the abstract model's granularity relies on).
    let graph = checker(Variant::LastRightFirst).gear_graph(true).bfs().gear_graph.expect("asked for");
    let preempted: u64 =
        graph.edges.iter().filter(|((_, _, k), _)| *k == EdgeKind::Preempt).map(|(_, n)| n).sum();
    assert_eq!(preempted, 0);
    assert!(graph.edges.iter().any(|((_, _, k), _)| *k == EdgeKind::End), "system calls end");
}

#[test]
fn left_first_state_space_is_counted_alike() {
    // With deadlock detection off, the deadlocking version is explored in full.
    let bfs = checker(Variant::LeftFirst).deadlocks(false).bfs();
    let dfs = checker(Variant::LeftFirst).deadlocks(false).dfs();
    println!("BFS: {}\nDFS: {}", bfs.stats, dfs.stats);
    assert!(bfs.is_ok() && bfs.complete);
    assert_eq!(bfs.stats.distinct, DEADLOCKING_STATES);
    assert_eq!(dfs.stats.distinct, DEADLOCKING_STATES);
    let all = brute_force(checker(Variant::LeftFirst).model());
    assert_eq!(all.len() as u64, DEADLOCKING_STATES);
}

/// Distinct states of the fixed version with three philosophers.
const FIXED_STATES: u64 = 1701;
/// Distinct states of the deadlocking version with three philosophers.
const DEADLOCKING_STATES: u64 = 1613;

// ---- the same protocol for stateright ---------------------------------------------------------

/// A thread's state, as seL4's `ThreadState` for these scripts (every send is a call).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Ts {
    Running,
    OnSend(usize),
    OnRecv(usize),
    OnReply,
}

/// An endpoint: idle, or a queue of senders, or a queue of receivers.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Ep {
    Idle,
    Send(VecDeque<usize>),
    Recv(VecDeque<usize>),
}

/// A system call of a script, on abstract endpoint numbers (fork `f`: `2f` acquire, `2f+1` release).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Sys {
    Call(usize),
    Recv(usize),
    ReplyRecv(usize),
    Reply,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Abs {
    pc: Vec<usize>,
    blocked: Vec<bool>,
    ts: Vec<Ts>,
    eps: Vec<Ep>,
    ready: Vec<usize>,
    caller: Vec<Option<usize>>,
}

/// The philosophers as a plain transition system: threads `0..n` philosophers, `n..2n` forks.
struct AbstractPhilosophers {
    scripts: Vec<Vec<Sys>>,
}

impl AbstractPhilosophers {
    fn new(n: usize, variant: Variant) -> Self {
        let mut scripts = Vec::new();
        for i in 0..n {
            let [a, b] = philosopher_forks(n, i, variant);
            scripts.push(vec![
                Sys::Call(2 * a),
                Sys::Call(2 * b),
                Sys::Call(2 * a + 1),
                Sys::Call(2 * b + 1),
            ]);
        }
        for f in 0..n {
            let (acq, rel) = (2 * f, 2 * f + 1);
            scripts.push(vec![
                Sys::Recv(acq),
                Sys::ReplyRecv(rel),
                Sys::ReplyRecv(acq),
                Sys::ReplyRecv(rel),
                Sys::Reply,
            ]);
        }
        AbstractPhilosophers { scripts }
    }

    fn runnable(&self, s: &Abs, t: usize) -> bool {
        s.ts[t] == Ts::Running && s.pc[t] < self.scripts[t].len()
    }

    fn done(&self, s: &Abs) -> bool {
        (0..s.pc.len()).all(|t| s.pc[t] == self.scripts[t].len() && s.ts[t] == Ts::Running)
    }

    fn deadlocked(&self, s: &Abs) -> bool {
        !self.done(s) && !(0..s.pc.len()).any(|t| self.runnable(s, t))
    }
}

fn wake(s: &mut Abs, t: usize) {
    s.ts[t] = Ts::Running;
    if !s.ready.contains(&t) {
        s.ready.push(t);
    }
}

fn block(s: &mut Abs, t: usize, st: Ts) {
    s.ts[t] = st;
    s.ready.retain(|&x| x != t);
}

fn reply(s: &mut Abs, t: usize) {
    if let Some(c) = s.caller[t].take() {
        wake(s, c);
    }
}

/// `receiveIPC`: take the first caller waiting, or wait. Whether the thread blocked.
fn recv(s: &mut Abs, t: usize, ep: usize) -> bool {
    if let Ep::Send(q) = &mut s.eps[ep] {
        let sender = q.pop_front().expect("a send queue is never empty");
        if q.is_empty() {
            s.eps[ep] = Ep::Idle;
        }
        s.ts[sender] = Ts::OnReply;
        s.caller[t] = Some(sender);
        return false;
    }
    match &mut s.eps[ep] {
        Ep::Recv(q) => q.push_back(t),
        e => *e = Ep::Recv(VecDeque::from([t])),
    }
    block(s, t, Ts::OnRecv(ep));
    true
}

/// `sendIPC` of a call: to the first receiver waiting (then wait for the reply), or wait to send.
fn call(s: &mut Abs, t: usize, ep: usize) -> bool {
    if let Ep::Recv(q) = &mut s.eps[ep] {
        let receiver = q.pop_front().expect("a receive queue is never empty");
        if q.is_empty() {
            s.eps[ep] = Ep::Idle;
        }
        wake(s, receiver);
        s.caller[receiver] = Some(t);
        block(s, t, Ts::OnReply);
        return true;
    }
    match &mut s.eps[ep] {
        Ep::Send(q) => q.push_back(t),
        e => *e = Ep::Send(VecDeque::from([t])),
    }
    block(s, t, Ts::OnSend(ep));
    true
}

impl SrModel for AbstractPhilosophers {
    type State = Abs;
    type Action = usize;

    fn init_states(&self) -> Vec<Abs> {
        let threads = self.scripts.len();
        vec![Abs {
            pc: vec![0; threads],
            blocked: vec![false; threads],
            ts: vec![Ts::Running; threads],
            eps: vec![Ep::Idle; threads], // 2n endpoints (two a fork) for 2n threads
            ready: (0..threads).collect(),
            caller: vec![None; threads],
        }]
    }

    fn actions(&self, s: &Abs, actions: &mut Vec<usize>) {
        actions.extend((0..s.pc.len()).filter(|&t| self.runnable(s, t)));
    }

    fn next_state(&self, s: &Abs, t: usize) -> Option<Abs> {
        let mut n = s.clone();
        let op = self.scripts[t][n.pc[t]];
        n.pc[t] += 1;
        n.blocked[t] = match op {
            Sys::Call(ep) => call(&mut n, t, ep),
            Sys::Recv(ep) => recv(&mut n, t, ep),
            Sys::ReplyRecv(ep) => {
                reply(&mut n, t);
                recv(&mut n, t, ep)
            }
            Sys::Reply => {
                reply(&mut n, t);
                false
            }
        };
        Some(n)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        // Stateright has no deadlock check of its own: a state where some script is unfinished
        // and no thread can step is one this property rejects.
        vec![Property::always("no deadlock", |m: &Self, s: &Abs| !m.deadlocked(s))]
    }
}

#[test]
fn stateright_counts_the_same_states() {
    for (variant, ours) in [(Variant::LastRightFirst, FIXED_STATES), (Variant::LeftFirst, DEADLOCKING_STATES)]
    {
        let model = AbstractPhilosophers::new(N, variant);
        // Explore everything, even after the deadlock is discovered (stateright stops at the
        // first discoveries by default): no set of discoveries ends the search.
        let checker = model.checker().finish_when(HasDiscoveries::AnyOf(BTreeSet::new())).spawn_bfs().join();
        println!("{variant:?}: stateright {} distinct states, ours {ours}", checker.unique_state_count());
        assert_eq!(checker.unique_state_count() as u64, ours, "{variant:?}");
        match variant {
            Variant::LastRightFirst => checker.assert_properties(),
            Variant::LeftFirst => {
                let path = checker.discovery("no deadlock").expect("stateright finds the deadlock");
                assert_eq!(path.into_actions().len(), 4 * N, "the same length as ours");
            }
        }
    }
}

/// The abstract model for our checker too (its `Model` trait has stateright's shape), so that the
/// two checkers can be compared on one model, and ours on the abstract and the gear models.
impl Model for AbstractPhilosophers {
    type State = Abs;
    type Action = usize;
    type Failure = String;

    fn init_states(&self) -> Vec<Abs> {
        SrModel::init_states(self)
    }

    fn actions(&self, s: &Abs, actions: &mut Vec<usize>) {
        SrModel::actions(self, s, actions)
    }

    fn next_state(&self, s: &Abs, t: &usize, _: Option<&mut metagears::Trace>) -> Result<Abs, String> {
        SrModel::next_state(self, s, *t).ok_or_else(|| "disabled".into())
    }

    fn is_done(&self, s: &Abs) -> bool {
        self.done(s)
    }
}

#[test]
fn our_checker_on_the_abstract_model_agrees() {
    let fixed = Checker::new(AbstractPhilosophers::new(N, Variant::LastRightFirst)).bfs();
    assert!(fixed.is_ok() && fixed.complete, "{fixed}");
    assert_eq!(fixed.stats.distinct, FIXED_STATES);
    let deadlocking = Checker::new(AbstractPhilosophers::new(N, Variant::LeftFirst)).bfs();
    let cex = deadlocking.counterexample.as_ref().expect("a deadlock");
    assert_eq!(cex.finding, Finding::Deadlock);
    assert_eq!(cex.len(), 4 * N);
    let full = Checker::new(AbstractPhilosophers::new(N, Variant::LeftFirst)).deadlocks(false).bfs();
    assert_eq!(full.stats.distinct, DEADLOCKING_STATES);
}

/// States per second of both checkers on the fixed philosophers, in one run: printed as
/// `figure|<checker>|<model>|<threads>|<distinct states>|<seconds>` lines (which
/// `cargo xtask bench philosophers` gathers into a table, from a release build, with
/// `GEARS_PHILOSOPHERS=4` for a larger state space; 3 by default). The counts are asserted equal
/// (and, for three philosophers, equal to [`FIXED_STATES`]); the speeds are figures, never asserted.
#[test]
fn speed_figures_of_both_checkers() {
    let n: usize = std::env::var("GEARS_PHILOSOPHERS").ok().and_then(|v| v.parse().ok()).unwrap_or(N);
    let figure = |checker: &str, model: &str, threads: usize, states: u64, secs: f64| {
        println!("figure|{checker}|{model}|{threads}|{states}|{secs:.6}");
    };
    let mut counts = Vec::new();
    for threads in [1, 0] {
        let c = Checker::new(GearModel::new(philosophers(n, Variant::LastRightFirst).system));
        let report = if threads == 0 { c.bfs() } else { c.threads(threads).bfs() };
        assert!(report.is_ok() && report.complete, "{report}");
        let s = &report.stats;
        counts.push(s.distinct);
        figure("metagears::mc BFS", "seL4 gears", s.threads, s.distinct, s.elapsed.as_secs_f64());
    }
    for threads in [1, 0] {
        let c = Checker::new(AbstractPhilosophers::new(n, Variant::LastRightFirst));
        let report = if threads == 0 { c.bfs() } else { c.threads(threads).bfs() };
        assert!(report.is_ok() && report.complete, "{report}");
        let s = &report.stats;
        counts.push(s.distinct);
        figure("metagears::mc BFS", "abstract", s.threads, s.distinct, s.elapsed.as_secs_f64());
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    for threads in [1, cores] {
        let model = AbstractPhilosophers::new(n, Variant::LastRightFirst);
        let start = std::time::Instant::now();
        let c = model.checker().threads(threads).spawn_bfs().join();
        let secs = start.elapsed().as_secs_f64();
        c.assert_properties();
        counts.push(c.unique_state_count() as u64);
        figure("stateright BFS", "abstract", threads, c.unique_state_count() as u64, secs);
    }
    assert!(counts.iter().all(|&c| c == counts[0]), "{counts:?}");
    if n == N {
        assert_eq!(counts[0], FIXED_STATES);
    }
}
