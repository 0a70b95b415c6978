//! Revoke of N capabilities: the gear revoke (seL4's `cteRevoke` as gears, a preemption point after
//! each child) against the same revoke written as a plain recursive loop over the same state.
//!
//! Each workload builds the derivation tree (N copies of one endpoint cap, spread over radix-10
//! CNodes, through the real invocation gears) and then revokes it inside [`measured_revoke`], the
//! only function `cargo xtask bench` counts (callgrind `--toggle-collect`), so the figures are the
//! revoke's alone. Each prints the largest number of gears run between two preemption chances,
//! measured with `metagears::GapMeter` on a second, uncounted revoke of a copy of the same state
//! (0 for the plain loop, which has no preemption points).

use abi::label;
use std::hint::black_box;

use codegears::CapRights;
use codegears::kernel::Kernel;
use gears::{Dispatcher, MetaGear, Mode};
use gears_tests::sel4::{Sel4, WORD_BITS, plain};
use metagears::{GapMeter, WorkBudget};

use crate::Workload;

/// The workloads of the group.
pub const WORKLOADS: &[Workload] = &[
    Workload { name: "revoke-gears", run: revoke_gears },
    Workload { name: "revoke-gaps", run: revoke_gaps },
    Workload { name: "revoke-gears-budget", run: revoke_gears_budget },
    Workload { name: "revoke-plain", run: revoke_plain },
];

/// The root task with `n` copies of one endpoint cap; returns it and the endpoint's cptr.
fn tree(n: u64) -> (Sel4, u64) {
    let mut s = Sel4::boot(12, &[34]);
    let ep = s.alloc_endpoint();
    let root = s.root();
    s.checked = false;
    let mut left = n;
    while left > 0 {
        let cnode = s.alloc_cnode(10);
        let here = left.min(1024);
        for j in 0..here {
            let r = s.cnode_copy(cnode, j, 10, root, ep, WORD_BITS, CapRights::ALL);
            assert_eq!(r, Ok(()), "building the tree");
        }
        left -= here;
    }
    (s, ep)
}

/// Runs the revoke of `ep`'s children under `d` to its end, re-running it after preemptions.
fn gear_revoke<M: MetaGear<Kernel>>(s: &mut Sel4, ep: u64, d: &mut Dispatcher<Kernel, M>) -> u64 {
    let root = s.root();
    let req = s.request(root, label::cnode::REVOKE, &[ep, WORD_BITS], &[]);
    let (r, preemptions) = s.run(d, req);
    assert_eq!(r, Ok(()), "the revoke failed");
    preemptions
}

/// The revoke that is counted; everything else (building, checking) is not.
#[inline(never)]
fn measured_revoke(f: &mut dyn FnMut()) {
    f();
}

/// The largest number of gears between two preemption chances in a revoke of this tree, on a
/// copy of the kernel (the tree itself is left as it was).
fn max_gap(s: &Sel4, ep: u64) -> u64 {
    let mut copy = s.clone();
    let mut d = Dispatcher::new(GapMeter::new());
    gear_revoke(&mut copy, ep, &mut d);
    d.meta().max_gap()
}

fn revoke_gears(n: u64) -> u64 {
    let (mut s, ep) = tree(n);
    let gap = max_gap(&s, ep);
    let mut d = Dispatcher::new(());
    measured_revoke(&mut || {
        gear_revoke(&mut s, ep, &mut d);
    });
    black_box(&s.k.state.cspace);
    gap
}

fn revoke_gears_budget(n: u64) -> u64 {
    let (mut s, ep) = tree(n);
    let gap = max_gap(&s, ep);
    let mut d = Dispatcher::new(WorkBudget::new(100, || black_box(false), Mode::Restart));
    measured_revoke(&mut || {
        gear_revoke(&mut s, ep, &mut d);
    });
    black_box(&s.k.state.cspace);
    gap
}

/// Marks a preemption chance: `cargo xtask bench revoke-gaps` has callgrind dump its counters each
/// time this is entered, so each dump holds the instructions of one gap between two chances.
#[inline(never)]
fn preemption_chance_marker() {
    black_box(());
}

/// Calls [`preemption_chance_marker`] wherever the kernel could be preempted: when an operation
/// starts, at each declared preemption point, and when it leaves the kernel.
struct MarkChances;

impl MetaGear<Kernel> for MarkChances {
    fn started(&mut self, _step: u64, _entry: &'static gears::Gear<Kernel>, _resumed: bool, _ctx: &Kernel) {
        preemption_chance_marker();
    }

    fn after(
        &mut self,
        _at: &gears::Step<Kernel>,
        next: &gears::Next<Kernel>,
        _ctx: &Kernel,
    ) -> gears::Control {
        if matches!(next, gears::Next::Exit(_) | gears::Next::Fail(_)) {
            preemption_chance_marker();
        }
        gears::Control::Continue
    }

    fn preemption_point(
        &mut self,
        _at: &gears::Step<Kernel>,
        _next: &'static gears::Gear<Kernel>,
        _ctx: &Kernel,
    ) -> gears::PointDecision {
        preemption_chance_marker();
        gears::PointDecision::Continue
    }
}

/// The gear revoke with every preemption chance marked, for measuring the gaps between them.
fn revoke_gaps(n: u64) -> u64 {
    let (mut s, ep) = tree(n);
    let gap = max_gap(&s, ep);
    let mut d = Dispatcher::new(MarkChances);
    measured_revoke(&mut || {
        gear_revoke(&mut s, ep, &mut d);
    });
    black_box(&s.k.state.cspace);
    gap
}

fn revoke_plain(n: u64) -> u64 {
    let (mut s, ep) = tree(n);
    let slot = s.slot(ep);
    measured_revoke(&mut || plain::cte_revoke(&mut s.k.state, slot));
    black_box(&s.k.state.cspace);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gear_and_plain_revokes_leave_the_same_state() {
        let (mut a, ep) = tree(3000);
        let (mut b, _) = tree(3000);
        let slot = b.slot(ep);
        gear_revoke(&mut a, ep, &mut Dispatcher::new(()));
        plain::cte_revoke(&mut b.k.state, slot);
        assert!(gears_tests::sel4::without_reply(&a.k.state, &b.k.state, a.thread) == b.k.state);
        assert!(a.descendants(ep).is_empty());
    }

    #[test]
    fn the_gap_does_not_grow_with_the_tree() {
        let (s, ep) = tree(100);
        let (t, ep2) = tree(5000);
        assert_eq!(max_gap(&s, ep), max_gap(&t, ep2));
    }

    #[test]
    fn a_preempted_revoke_converges() {
        let (mut s, ep) = tree(2000);
        let mut d = Dispatcher::new(WorkBudget::new(100, || true, Mode::Restart));
        let preemptions = gear_revoke(&mut s, ep, &mut d);
        assert!(preemptions >= 19, "{preemptions} preemptions");
        assert!(s.descendants(ep).is_empty());
    }
}
