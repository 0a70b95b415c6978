//! Dispatcher overhead: a chain of N gear transitions against the same work as a plain loop.
//!
//! The work per transition is small but real: `acc = acc.rotate_left(5) ^ table[i & 1023]; i += 1`
//! over a 1024-entry table, until `i == n`. Every workload returns the same `acc` for the same `n`.

use std::hint::black_box;

use gears::{Dispatcher, MetaGear, Mode, Next, Outcome, ProcessId};
use metagears::{Tracer, WorkBudget};

use crate::Workload;

/// The entries in the table.
pub const TABLE_LEN: usize = 1024;

/// The workloads of the group.
pub const WORKLOADS: &[Workload] = &[
    Workload { name: "loop", run: plain_loop },
    Workload { name: "loop-call", run: loop_call },
    Workload { name: "gears", run: gears_plain },
    Workload { name: "gears-pp-bare", run: gears_pp_bare },
    Workload { name: "gears-pp", run: gears_pp },
    Workload { name: "gears-traced", run: gears_traced },
    Workload { name: "gears-wide", run: gears_wide },
];

/// The workloads of the batching group: the same work, K units per transition.
pub const BATCH_WORKLOADS: &[Workload] = &[
    Workload { name: "gears-batch4", run: gears_batch4 },
    Workload { name: "gears-batch16", run: gears_batch16 },
];

/// A table of pseudo-random words (xorshift64), the same on every run.
fn table() -> [u64; TABLE_LEN] {
    let mut t = [0u64; TABLE_LEN];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for e in &mut t {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *e = x;
    }
    t
}

/// The work of one transition.
#[inline(always)]
fn work(acc: u64, table: &[u64; TABLE_LEN], i: u64) -> u64 {
    acc.rotate_left(5) ^ table[(i as usize) & (TABLE_LEN - 1)]
}

gears::context! {
    /// The chain's context: the table, the counter, the limit and the accumulator.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct ChainCtx {
        output: u64,
        error: (),
        data_gears: {
            /// The table mixed into the accumulator.
            pub table: [u64; TABLE_LEN],
            /// How many links have run.
            pub i: u64,
            /// How many links to run.
            pub n: u64,
            /// The accumulator.
            pub acc: u64,
        }
    }
}

gears::code_gear! {
    /// One link of the chain, then a plain `Goto` to the next.
    pub fn chain_step(ctx: ChainCtx; table: &[u64; TABLE_LEN], i: &mut u64, n: &u64, acc: &mut u64) {
        if *i == *n {
            return Next::Exit(*acc);
        }
        *acc = work(*acc, table, *i);
        *i += 1;
        Next::Goto(&CHAIN_STEP)
    }
}

gears::code_gear! {
    /// One link of the chain, then across a declared preemption point to the next.
    pub fn chain_step_pp(ctx: ChainCtx; table: &[u64; TABLE_LEN], i: &mut u64, n: &u64, acc: &mut u64) {
        if *i == *n {
            return Next::Exit(*acc);
        }
        *acc = work(*acc, table, *i);
        *i += 1;
        Next::Preempt(&CHAIN_STEP_PP)
    }
}

/// Up to `k` units of work, a bounded loop: a gear may loop, but only a constant number of times.
#[inline(always)]
fn batch(table: &[u64; TABLE_LEN], i: &mut u64, n: u64, acc: &mut u64, k: u64) {
    let (mut ii, mut a) = (*i, *acc);
    let end = n.min(ii.saturating_add(k));
    while ii != end {
        a = work(a, table, ii);
        ii += 1;
    }
    *i = ii;
    *acc = a;
}

gears::code_gear! {
    /// Four links of the chain per transition (a bounded loop), then a `Goto` to the next.
    pub fn chain_batch4(ctx: ChainCtx; table: &[u64; TABLE_LEN], i: &mut u64, n: &u64, acc: &mut u64) {
        if *i == *n {
            return Next::Exit(*acc);
        }
        batch(table, i, *n, acc, 4);
        Next::Goto(&CHAIN_BATCH4)
    }
}

gears::code_gear! {
    /// Sixteen links of the chain per transition (a bounded loop), then a `Goto` to the next.
    pub fn chain_batch16(ctx: ChainCtx; table: &[u64; TABLE_LEN], i: &mut u64, n: &u64, acc: &mut u64) {
        if *i == *n {
            return Next::Exit(*acc);
        }
        batch(table, i, *n, acc, 16);
        Next::Goto(&CHAIN_BATCH16)
    }
}

gears::context! {
    /// The chain's context again, with a result of three words: `Next<WideCtx>` is 32 bytes, too
    /// big to come back in two registers.
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct WideCtx {
        output: [u64; 3],
        error: (),
        data_gears: {
            /// The table mixed into the accumulator.
            pub table: [u64; TABLE_LEN],
            /// How many links have run.
            pub i: u64,
            /// How many links to run.
            pub n: u64,
            /// The accumulator.
            pub acc: u64,
        }
    }
}

gears::code_gear! {
    /// One link of the chain in [`WideCtx`], then a plain `Goto` to the next.
    pub fn wide_step(ctx: WideCtx; table: &[u64; TABLE_LEN], i: &mut u64, n: &u64, acc: &mut u64) {
        if *i == *n {
            return Next::Exit([*acc, *i, *n]);
        }
        *acc = work(*acc, table, *i);
        *i += 1;
        Next::Goto(&WIDE_STEP)
    }
}

/// The same work as a plain loop: the baseline.
fn plain_loop(n: u64) -> u64 {
    let table = black_box(table());
    let (mut i, mut acc) = (0u64, 0u64);
    while i != n {
        acc = work(acc, &table, i);
        i += 1;
    }
    acc
}

/// The chain's state for [`loop_call`]: what the context holds, without the framework.
struct State {
    table: [u64; TABLE_LEN],
    i: u64,
    n: u64,
    acc: u64,
}

/// One unit of work as an out-of-line function on the state in memory: `false` when done.
#[inline(never)]
fn step(s: &mut State) -> bool {
    if s.i == s.n {
        return false;
    }
    s.acc = work(s.acc, &s.table, s.i);
    s.i += 1;
    true
}

/// The same work as a plain loop that calls the body as a function per unit: the price of a
/// function boundary with the state in memory, without a dispatcher.
fn loop_call(n: u64) -> u64 {
    let mut s = State { table: table(), i: 0, n, acc: 0 };
    while step(&mut s) {}
    s.acc
}

/// Runs the chain from `entry` under `meta`; the entry is hidden from the optimiser, as a real
/// dispatcher's entry gear comes from decoding a system call.
fn chain<M: MetaGear<ChainCtx>>(n: u64, entry: &'static gears::Gear<ChainCtx>, meta: M) -> (u64, M) {
    let mut ctx = ChainCtx::new(ProcessId(0), table(), 0, n, 0);
    let mut dispatcher = Dispatcher::new(meta);
    match dispatcher.run(&mut ctx, black_box(entry)) {
        Outcome::Exited(acc) => (acc, dispatcher.into_meta()),
        other => panic!("the chain ended with {other:?}"),
    }
}

/// N `Goto` transitions, no metagear.
fn gears_plain(n: u64) -> u64 {
    chain(n, &CHAIN_STEP, ()).0
}

/// N transitions across preemption points, no metagear (nothing is ever preempted).
fn gears_pp_bare(n: u64) -> u64 {
    chain(n, &CHAIN_STEP_PP, ()).0
}

/// N transitions across preemption points under seL4's work-unit budget (100), with an interrupt
/// source that is never pending: the price of a preemption point.
fn gears_pp(n: u64) -> u64 {
    let policy = WorkBudget::new(100, || black_box(false), Mode::Restart);
    let (acc, policy) = chain(n, &CHAIN_STEP_PP, policy);
    black_box(policy.checks());
    acc
}

/// N `Goto` transitions with the tracer recording one event each.
fn gears_traced(n: u64) -> u64 {
    let (acc, tracer) = chain(n, &CHAIN_STEP, Tracer::new());
    black_box(tracer.trace().events.len());
    acc
}

/// N units of work, four per transition, no metagear.
fn gears_batch4(n: u64) -> u64 {
    chain(n, &CHAIN_BATCH4, ()).0
}

/// N units of work, sixteen per transition, no metagear.
fn gears_batch16(n: u64) -> u64 {
    chain(n, &CHAIN_BATCH16, ()).0
}

/// N `Goto` transitions, no metagear, in a context whose `Next` is returned through memory.
fn gears_wide(n: u64) -> u64 {
    let mut ctx = WideCtx::new(ProcessId(0), table(), 0, n, 0);
    let mut dispatcher = Dispatcher::new(());
    match dispatcher.run(&mut ctx, black_box(&WIDE_STEP)) {
        Outcome::Exited([acc, _, _]) => acc,
        other => panic!("the chain ended with {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_computes_the_same() {
        for n in [0, 1, 5, 1023, 1024, 3000] {
            let want = plain_loop(n);
            for w in WORKLOADS.iter().chain(BATCH_WORKLOADS) {
                assert_eq!((w.run)(n), want, "workload {} at n = {n}", w.name);
            }
        }
    }

    #[test]
    fn next_sizes() {
        // Two words come back in registers (rax:rdx on x86_64); four do not.
        assert_eq!(std::mem::size_of::<Next<ChainCtx>>(), 16);
        assert_eq!(std::mem::size_of::<Next<WideCtx>>(), 32);
    }

    #[test]
    fn the_chain_takes_n_plus_one_transitions() {
        let (_, tracer) = chain(10, &CHAIN_STEP, Tracer::new());
        assert_eq!(tracer.trace().gear_names().len(), 11);
    }

    #[test]
    fn the_budget_checks_every_hundred_points() {
        let (_, policy) = chain(1000, &CHAIN_STEP_PP, WorkBudget::new(100, || false, Mode::Restart));
        assert_eq!(policy.checks(), 10);
        assert_eq!(policy.preemptions(), 0);
    }
}
