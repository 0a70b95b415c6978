//! The checker: breadth-first (level by level, on all cores) and depth-first exploration.

use core::fmt;
use std::boxed::Box;
use std::format;
use std::string::String;
use std::time::{Duration, Instant};
use std::vec::Vec;

use rayon::prelude::*;

use crate::diagram::GearGraph;
use crate::mc::model::{CexStep, Counterexample, Finding, Model};
use crate::mc::store::{Seen, fingerprint};
use crate::trace::Trace;

/// How the checker remembers the states it has seen.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Visited {
    /// 64-bit fingerprints (the default): 8 bytes a state plus the parent link, whatever the size
    /// of the state. Two distinct states with one fingerprint would be merged and one of them left
    /// unexplored; for n states that happens with probability about n²/2⁶⁵ (3·10⁻⁸ for a million).
    #[default]
    Fingerprints,
    /// Whole states: no collision possible, at the cost of a copy of every state.
    Exact,
}

type InvariantFn<'a, S> = Box<dyn Fn(&S) -> Result<(), String> + Send + Sync + 'a>;

/// What breadth-first search found wrong: the state's node, the finding, the step out of it that
/// failed (if one did).
type BfsFound<M> = (u32, Finding<<M as Model>::Failure>, Option<<M as Model>::Action>);

/// What depth-first search found wrong: the initial state's index, the actions from it, the finding.
type DfsFound<M> = (usize, Vec<<M as Model>::Action>, Finding<<M as Model>::Failure>);

/// What an exploration counted. Speed figures are for printing, never for asserting.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Stats {
    /// States whose successors were computed.
    pub explored: u64,
    /// Distinct states seen (initial states included).
    pub distinct: u64,
    /// Successors computed that changed the state (to a new state or one seen before).
    pub transitions: u64,
    /// Steps that left the state as it was (a process that can only wait).
    pub stutters: u64,
    /// Explored states where every process had finished and nothing could step.
    pub terminal: u64,
    /// The deepest state reached (steps from an initial state).
    pub max_depth: usize,
    /// The worker threads used (1: sequential, in the caller's thread).
    pub threads: usize,
    /// Wall-clock time of the exploration.
    pub elapsed: Duration,
}

impl Stats {
    /// Distinct states found per second.
    pub fn states_per_sec(&self) -> f64 {
        self.distinct as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Successors computed (transitions and stutters) per second.
    pub fn transitions_per_sec(&self) -> f64 {
        (self.transitions + self.stutters) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} distinct states, {} explored, {} transitions ({} stutters), {} terminal, max depth {}, \
             {} thread(s), {:.3} s, {:.0} states/s",
            self.distinct,
            self.explored,
            self.transitions,
            self.stutters,
            self.terminal,
            self.max_depth,
            self.threads,
            self.elapsed.as_secs_f64(),
            self.states_per_sec()
        )
    }
}

/// The outcome of an exploration; `F` is why a step can fail ([`Model::Failure`]).
pub struct Report<S, A, F> {
    /// What it counted.
    pub stats: Stats,
    /// The first thing found wrong (shortest under BFS), with the path to it.
    pub counterexample: Option<Counterexample<S, A, F>>,
    /// Whether every reachable state was explored (no counterexample stopped it, no bound cut it).
    pub complete: bool,
    /// The gear transitions of every explored step, if asked for ([`Checker::gear_graph`]).
    pub gear_graph: Option<GearGraph>,
}

impl<S, A, F> Report<S, A, F> {
    /// Whether nothing was found wrong.
    pub fn is_ok(&self) -> bool {
        self.counterexample.is_none()
    }
}

/// Where the states of a BFS level are visited.
enum Workers {
    Caller,
    Global,
    Pool(rayon::ThreadPool),
}

impl<S, A: fmt::Debug, F: fmt::Display> fmt::Display for Report<S, A, F> {
    /// The verdict and the figures, then the counterexample if there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.counterexample, self.complete) {
            (Some(cex), _) => write!(f, "FOUND after {}\n{cex}", self.stats),
            (None, true) => writeln!(f, "verified: {}", self.stats),
            (None, false) => writeln!(f, "nothing found within the bounds: {}", self.stats),
        }
    }
}

/// How a state was first reached: from an initial state, or from a parent by an action.
enum Link<A> {
    Init(usize),
    From(u32, A),
}

/// One successor found while expanding a state.
struct Succ<S, A> {
    action: A,
    state: S,
    fp: u64,
}

/// The result of visiting one state of a BFS level: its invariants, then its successors.
struct Expansion<S, A, F> {
    violation: Option<Finding<F>>,
    expanded: bool,
    succs: Vec<Succ<S, A>>,
    transitions: u64,
    stutters: u64,
    progressed: bool,
    failed: Option<(A, F)>,
    graph: Option<GearGraph>,
}

/// An explicit-state model checker over a [`Model`].
///
/// ```text
/// let report = Checker::new(GearModel::new(system))
///     .invariant("ialloc", |s| check_invariants(&s.fs))
///     .threads(2)
///     .bfs();
/// println!("{}", report.stats);
/// if let Some(cex) = &report.counterexample { println!("{cex}"); }
/// ```
pub struct Checker<'a, M: Model> {
    model: M,
    invariants: Vec<(String, InvariantFn<'a, M::State>)>,
    threads: Option<usize>,
    deadlocks: bool,
    max_depth: Option<usize>,
    max_states: Option<usize>,
    visited: Visited,
    gear_graph: bool,
}

impl<'a, M: Model> Checker<'a, M> {
    /// A checker of `model` with no invariant yet, detecting deadlocks, on all cores.
    pub fn new(model: M) -> Self {
        Checker {
            model,
            invariants: Vec::new(),
            threads: None,
            deadlocks: true,
            max_depth: None,
            max_states: None,
            visited: Visited::Fingerprints,
            gear_graph: false,
        }
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Checks `check` in every state reached; `Err(why)` is a violation, `why` of any type the
    /// finding prints (by its `Display`: a `String`, a kernel's own violation type).
    pub fn invariant<E: fmt::Display>(
        mut self,
        name: &str,
        check: impl Fn(&M::State) -> Result<(), E> + Send + Sync + 'a,
    ) -> Self {
        self.invariants
            .push((name.into(), Box::new(move |s: &M::State| check(s).map_err(|e| format!("{e}")))));
        self
    }

    /// Explores breadth-first on `n` worker threads; 1 runs in the caller's thread. The default
    /// is every core. Counts and counterexamples do not depend on it.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n.max(1));
        self
    }

    /// Whether to report deadlocks (default: yes).
    pub fn deadlocks(mut self, on: bool) -> Self {
        self.deadlocks = on;
        self
    }

    /// Explores no state deeper than `depth` steps from an initial state.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = Some(depth);
        self
    }

    /// Stops expanding once `n` distinct states are known (BFS: at the end of the level that
    /// reaches `n`, whose states are still checked; DFS: at the `n`-th state).
    pub fn max_states(mut self, n: usize) -> Self {
        self.max_states = Some(n);
        self
    }

    /// How to remember the states seen (default: fingerprints).
    pub fn visited(mut self, visited: Visited) -> Self {
        self.visited = visited;
        self
    }

    /// Records the gears of every explored step into the report's [`GearGraph`] (slower: every
    /// step is traced).
    pub fn gear_graph(mut self, on: bool) -> Self {
        self.gear_graph = on;
        self
    }

    fn check(&self, state: &M::State) -> Option<Finding<M::Failure>> {
        self.invariants.iter().find_map(|(name, check)| {
            check(state).err().map(|message| Finding::Invariant { name: name.clone(), message })
        })
    }

    /// Checks the invariants of `state` and, if they hold and `expand`, computes its successors;
    /// those `seen` already has are counted, not returned.
    fn visit(
        &self,
        state: &M::State,
        expand: bool,
        seen: &Seen<M::State>,
    ) -> Expansion<M::State, M::Action, M::Failure> {
        let mut exp = Expansion {
            violation: self.check(state),
            expanded: false,
            succs: Vec::new(),
            transitions: 0,
            stutters: 0,
            progressed: false,
            failed: None,
            graph: None,
        };
        if exp.violation.is_some() || !expand {
            return exp;
        }
        exp.expanded = true;
        exp.graph = self.gear_graph.then(GearGraph::default);
        let mut actions = Vec::new();
        self.model.actions(state, &mut actions);
        for action in actions {
            let mut trace = self.gear_graph.then(Trace::default);
            let result = self.model.next_state(state, &action, trace.as_mut());
            if let (Some(g), Some(t)) = (exp.graph.as_mut(), trace.as_ref()) {
                g.add_trace(t);
            }
            let next = match result {
                Ok(next) => next,
                Err(why) => {
                    exp.failed = Some((action, why));
                    break;
                }
            };
            if next == *state {
                exp.stutters += 1;
                continue;
            }
            exp.progressed = true;
            exp.transitions += 1;
            let fp = fingerprint(&next);
            if seen.get(&next, fp).is_none() {
                exp.succs.push(Succ { action, state: next, fp });
            }
        }
        exp
    }

    fn is_deadlock(&self, state: &M::State, exp: &Expansion<M::State, M::Action, M::Failure>) -> bool {
        self.deadlocks
            && exp.expanded
            && !exp.progressed
            && exp.failed.is_none()
            && !self.model.is_done(state)
    }

    /// Where a BFS level is visited: in the caller's thread, on rayon's global pool (one thread
    /// per core, started once per process), or on a pool of the requested size.
    fn workers(&self) -> Workers {
        match self.threads {
            Some(1) => Workers::Caller,
            None if rayon::current_num_threads() == 1 => Workers::Caller,
            None => Workers::Global,
            Some(n) if n == rayon::current_num_threads() => Workers::Global,
            Some(n) => Workers::Pool(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .expect("the model checker could not start its worker threads"),
            ),
        }
    }

    /// Explores breadth-first, level by level. The states of a level are visited in parallel
    /// (invariants checked, successors computed), then, in the level's order, the first state found
    /// wrong ends the search, and otherwise the new successors are numbered and become the next
    /// level. So the counts and the (shortest) counterexample do not depend on the thread count.
    pub fn bfs(&self) -> Report<M::State, M::Action, M::Failure> {
        let start = Instant::now();
        let workers = self.workers();
        let threads = match &workers {
            Workers::Caller => 1,
            Workers::Global => rayon::current_num_threads(),
            Workers::Pool(pool) => pool.current_num_threads(),
        };
        let mut stats = Stats { threads, ..Stats::default() };
        let mut seen = Seen::new(self.visited == Visited::Exact);
        let mut links: Vec<Link<M::Action>> = Vec::new();
        let mut graph = self.gear_graph.then(GearGraph::default);
        let mut level: Vec<(u32, M::State)> = Vec::new();
        let mut found: Option<BfsFound<M>> = None;

        let inits = self.model.init_states();
        for (i, s) in inits.iter().enumerate() {
            let id = links.len() as u32;
            if seen.insert_new(s, fingerprint(s), id) {
                links.push(Link::Init(i));
                level.push((id, s.clone()));
            }
        }

        let mut depth = 0;
        let mut complete = true;
        while !level.is_empty() {
            stats.max_depth = depth;
            // Past a bound the states of the level are still checked, but not expanded.
            let expand =
                self.max_depth.is_none_or(|d| depth < d) && self.max_states.is_none_or(|n| seen.len() < n);
            let visits: Vec<Expansion<M::State, M::Action, M::Failure>> = {
                let seen = &seen;
                let visit = |(_, s): &(u32, M::State)| self.visit(s, expand, seen);
                match &workers {
                    Workers::Caller => level.iter().map(visit).collect(),
                    Workers::Global => level.par_iter().with_min_len(8).map(visit).collect(),
                    Workers::Pool(pool) => {
                        pool.install(|| level.par_iter().with_min_len(8).map(visit).collect())
                    }
                }
            };
            // What is wrong in a state of this level comes before a step out of it that fails.
            let wrong = level.iter().zip(&visits).find_map(|((id, s), v)| match &v.violation {
                Some(f) => Some((*id, f.clone())),
                None => self.is_deadlock(s, v).then_some((*id, Finding::Deadlock)),
            });
            if let Some((id, finding)) = wrong {
                found = Some((id, finding, None));
                stats.explored += visits.iter().filter(|v| v.expanded).count() as u64;
                break;
            }
            let mut next = Vec::new();
            for ((parent, state), v) in level.iter().zip(visits) {
                if !v.expanded {
                    complete = false;
                    continue;
                }
                stats.explored += 1;
                stats.transitions += v.transitions;
                stats.stutters += v.stutters;
                if !v.progressed && v.failed.is_none() && self.model.is_done(state) {
                    stats.terminal += 1;
                }
                if let (Some(g), Some(vg)) = (graph.as_mut(), v.graph.as_ref()) {
                    g.merge(vg);
                }
                if let Some((action, why)) = v.failed {
                    found = Some((*parent, Finding::StepFailed(why), Some(action)));
                    break;
                }
                for succ in v.succs {
                    let id = links.len() as u32;
                    if seen.insert_new(&succ.state, succ.fp, id) {
                        links.push(Link::From(*parent, succ.action));
                        next.push((id, succ.state));
                    }
                }
            }
            if found.is_some() {
                break;
            }
            level = next;
            depth += 1;
        }

        stats.distinct = seen.len() as u64;
        stats.elapsed = start.elapsed();
        let counterexample = found.map(|(id, finding, failing)| {
            let (init, mut path) = self.path_to(&links, id);
            path.extend(failing);
            self.replay(&inits[init], path, finding)
        });
        Report { stats, complete: complete && counterexample.is_none(), counterexample, gear_graph: graph }
    }

    /// The initial state's index and the actions from it to the state `id`.
    fn path_to(&self, links: &[Link<M::Action>], mut id: u32) -> (usize, Vec<M::Action>) {
        let mut path = Vec::new();
        loop {
            match &links[id as usize] {
                Link::Init(i) => {
                    path.reverse();
                    return (*i, path);
                }
                Link::From(parent, action) => {
                    path.push(action.clone());
                    id = *parent;
                }
            }
        }
    }

    /// Replays `path` from `init` with tracing: the counterexample, gear by gear.
    fn replay(
        &self,
        init: &M::State,
        path: Vec<M::Action>,
        finding: Finding<M::Failure>,
    ) -> Counterexample<M::State, M::Action, M::Failure> {
        let mut state = init.clone();
        let mut steps = Vec::new();
        let mut offset = 0;
        for action in path {
            let mut trace = Trace::default();
            let result = self.model.next_state(&state, &action, Some(&mut trace));
            trace.offset_steps(offset);
            offset += trace.transitions() as u64;
            let process = self.model.process(&action);
            match result {
                Ok(next) => {
                    let described = self.model.describe(&next);
                    state = next.clone();
                    steps.push(CexStep { action, process, trace, state: Some(next), described });
                }
                Err(why) => {
                    let described = format!("{why}");
                    steps.push(CexStep { action, process, trace, state: None, described });
                    break;
                }
            }
        }
        Counterexample { finding, init_described: self.model.describe(init), init: init.clone(), steps }
    }

    /// Explores depth-first in the caller's thread, to `max_depth` steps if set. With a bound, a
    /// state reached again by a shorter path is explored again (so nothing within the bound is
    /// missed); the counterexample is the first path found, not the shortest.
    pub fn dfs(&self) -> Report<M::State, M::Action, M::Failure> {
        struct Frame<S, A> {
            state: S,
            actions: Vec<A>,
            next: usize,
            progressed: bool,
            via: Option<A>,
        }
        let start = Instant::now();
        let mut stats = Stats { threads: 1, ..Stats::default() };
        let mut seen = Seen::new(self.visited == Visited::Exact);
        let mut graph = self.gear_graph.then(GearGraph::default);
        let mut complete = true;
        let inits = self.model.init_states();
        let mut found: Option<DfsFound<M>> = None;

        'inits: for (i, s0) in inits.iter().enumerate() {
            if !seen.insert_new(s0, fingerprint(s0), 0) {
                continue;
            }
            if let Some(f) = self.check(s0) {
                found = Some((i, Vec::new(), f));
                break;
            }
            let frame = |state: M::State, via: Option<M::Action>, depth: usize| {
                let mut actions = Vec::new();
                if self.max_depth.is_none_or(|d| depth < d) {
                    self.model.actions(&state, &mut actions);
                }
                Frame { state, actions, next: 0, progressed: false, via }
            };
            let path = |stack: &[Frame<M::State, M::Action>], last: Option<M::Action>| -> Vec<M::Action> {
                stack.iter().filter_map(|f| f.via.clone()).chain(last).collect()
            };
            let mut stack = Vec::from([frame(s0.clone(), None, 0)]);
            stats.explored += 1;
            loop {
                let depth = stack.len().saturating_sub(1);
                let Some(top) = stack.last_mut() else { break };
                if top.next < top.actions.len() {
                    let action = top.actions[top.next].clone();
                    top.next += 1;
                    let mut trace = self.gear_graph.then(Trace::default);
                    let result = self.model.next_state(&top.state, &action, trace.as_mut());
                    if let (Some(g), Some(t)) = (graph.as_mut(), trace.as_ref()) {
                        g.add_trace(t);
                    }
                    let next = match result {
                        Ok(next) => next,
                        Err(why) => {
                            found = Some((i, path(&stack, Some(action)), Finding::StepFailed(why)));
                            break 'inits;
                        }
                    };
                    if next == top.state {
                        stats.stutters += 1;
                        continue;
                    }
                    top.progressed = true;
                    stats.transitions += 1;
                    let d1 = depth + 1;
                    let fp = fingerprint(&next);
                    match seen.get(&next, fp) {
                        Some(d) if self.max_depth.is_none() || d as usize <= d1 => continue,
                        Some(_) => seen.set(&next, fp, d1 as u32),
                        None => {
                            seen.set(&next, fp, d1 as u32);
                            if let Some(f) = self.check(&next) {
                                found = Some((i, path(&stack, Some(action)), f));
                                break 'inits;
                            }
                        }
                    }
                    stats.max_depth = stats.max_depth.max(d1);
                    if self.max_depth.is_some_and(|d| d1 >= d) {
                        complete = false;
                    }
                    if self.max_states.is_some_and(|n| seen.len() >= n) {
                        complete = false;
                        break 'inits;
                    }
                    if self.max_depth.is_none_or(|d| d1 < d) {
                        stats.explored += 1;
                    }
                    stack.push(frame(next, Some(action), d1));
                } else {
                    let Some(done) = stack.pop() else { break };
                    let at_bound = self.max_depth.is_some_and(|d| depth >= d);
                    if !done.progressed && !at_bound {
                        if self.model.is_done(&done.state) {
                            stats.terminal += 1;
                        } else if self.deadlocks {
                            let mut p = path(&stack, None);
                            p.extend(done.via);
                            found = Some((i, p, Finding::Deadlock));
                            break 'inits;
                        }
                    }
                }
            }
        }

        stats.distinct = seen.len() as u64;
        stats.elapsed = start.elapsed();
        let counterexample = found.map(|(init, path, finding)| self.replay(&inits[init], path, finding));
        Report { stats, complete: complete && counterexample.is_none(), counterexample, gear_graph: graph }
    }
}
