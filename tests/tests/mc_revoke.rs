//! Model checking `cteRevoke` against CNode copies and mints on one derivation tree
//! (`metagears::mc` over `gears_tests::revoke_system::RevokeSystem`): thread A revokes an endpoint
//! cap with three children, preempted after each child, while thread B copies and mints from
//! those children into free slots. Every interleaving keeps the kernel invariants, and once both
//! scripts are over the revoked cap has no children. A revoke whose child step leaves the CDT
//! list dangling at its preemption point is caught, with a shortest counterexample naming it.

use codegears::SlotRef;
use gears::{Mode, ProcessId};
use gears_tests::revoke_system::{Op, RevokeState, RevokeSystem, Variant, cdt_children};
use gears_tests::sel4::{Sel4, invariants};
use metagears::mc::{Checker, Finding, GearAction, GearModel};

/// An endpoint cap `ep` with three copies `c1..c3` (its children) and free slots `f1, f2`.
struct Tree {
    ep: u64,
    ep_slot: SlotRef,
    children: [u64; 3],
    free: [u64; 2],
}

fn system(variant: Variant, b_script: fn(&Tree) -> Vec<Op>) -> (RevokeSystem, Tree) {
    let mut s = Sel4::boot(8, &[20, 22]);
    let a = s.spawn(100).1;
    let b = s.spawn(100).1;
    let ep = s.alloc_endpoint();
    let children = [s.free_slot(), s.free_slot(), s.free_slot()];
    for c in children {
        s.copy(ep, c).expect("copy");
    }
    let free = [s.free_slot(), s.free_slot()];
    let tree = Tree { ep, ep_slot: s.slot(ep), children, free };
    let b_ops = b_script(&tree);
    let sys = RevokeSystem {
        kernel: s.k.clone(),
        root_cnode: s.info.root_cnode,
        threads: Vec::from([a, b]),
        scripts: Vec::from([Vec::from([Op::Revoke(ep)]), b_ops]),
        variant,
        shown: [ep].into_iter().chain(children).chain(free).collect(),
    };
    for c in children {
        assert_eq!(sys.slot(c), s.slot(c), "a cptr names its root-CNode slot");
    }
    assert_eq!(cdt_children(&sys.kernel, sys.slot(ep)).len(), 3, "ep has three children to revoke");
    (sys, tree)
}

/// B's script: copy `c1` to `f1`, then mint `c3` badged into `f2`.
fn from_children(t: &Tree) -> Vec<Op> {
    Vec::from([
        Op::Copy { src: t.children[0], dest: t.free[0] },
        Op::Mint { src: t.children[2], dest: t.free[1], badge: 7 },
    ])
}

fn checker(
    variant: Variant,
    b_script: fn(&Tree) -> Vec<Op>,
) -> (Checker<'static, GearModel<RevokeSystem>>, Tree) {
    let (sys, tree) = system(variant, b_script);
    let ep = sys.slot(tree.ep);
    let lens: Vec<usize> = sys.scripts.iter().map(Vec::len).collect();
    let checker = Checker::new(GearModel::new(sys).with_mode(Mode::Restart))
        .invariant("kernel", |st: &RevokeState| invariants(&st.k))
        .invariant("revoked cap childless at the end", move |st: &RevokeState| {
            if st.pc != lens {
                return Ok(());
            }
            let left = cdt_children(&st.k, ep);
            if left.is_empty() { Ok(()) } else { Err(format!("ep still has children {left:?}")) }
        });
    (checker, tree)
}

#[test]
fn revoke_against_copy_and_mint_keeps_the_invariants_and_ends_childless() {
    let (bfs_checker, tree) = checker(Variant::Correct, from_children);
    let bfs = bfs_checker.bfs();
    println!("bfs: {}", bfs.stats);
    assert!(bfs.is_ok(), "{bfs}");
    assert!(bfs.complete);
    let dfs = checker(Variant::Correct, from_children).0.dfs();
    println!("dfs: {}", dfs.stats);
    assert!(dfs.is_ok(), "{dfs}");
    assert_eq!(bfs.stats.distinct, dfs.stats.distinct, "BFS and DFS see the same states");
    assert_eq!(bfs.stats.distinct, 27, "distinct states");
    assert_eq!((dfs.stats.transitions, dfs.stats.terminal), (34, 3));
    // A alone takes four steps (three children, then the loop test finding none); the deepest
    // interleaving has B's copy and mint both land in ep's subtree first, so that A deletes five
    // children: 6 + 2 steps.
    assert_eq!(bfs.stats.max_depth, 8, "B's new caps are revoked too when they come first");
    assert_eq!(tree.free.len(), 2);
}

#[test]
fn a_revoke_step_leaving_the_cdt_dangling_is_caught() {
    let (c, _tree) = checker(Variant::BrokenRevoke, from_children);
    let report = c.bfs();
    println!("bfs: {}", report.stats);
    let cex = report.counterexample.as_ref().expect("the broken revoke is caught");
    let text = cex.to_string();
    println!("{text}");
    assert!(!report.complete);
    assert!(
        matches!(&cex.finding, Finding::Invariant { name, message }
            if name == "kernel" && message.starts_with("cdt_well_formed:") && message.ends_with("is empty")),
        "{}",
        cex.finding
    );
    // A's first step already stops at the broken step's preemption point with ep's `next`
    // pointing at the emptied slot: B never needs to run.
    assert_eq!(cex.len(), 1, "the shortest path to the violation");
    assert_eq!(cex.steps[0].trace.gear_names(), ["revoke_check_broken", "revoke_delete_child_broken"]);
    assert!(text.contains("revoke_delete_child_broken -> revoke_check_broken [pp]"));
    let last = cex.last_state();
    assert_eq!(last.pc, [0, 0], "A's revoke is preempted, not over");
    assert!(cex.gear_names().contains(&"revoke_delete_child_broken"));
    assert_eq!(cex.steps[0].action, GearAction::Run(ProcessId(0)));

    // DFS catches the same gear; its path may be longer, never shorter.
    let dfs = checker(Variant::BrokenRevoke, from_children).0.dfs();
    let dfs_cex = dfs.counterexample.expect("DFS catches it too");
    assert!(dfs_cex.len() >= cex.len());
    assert!(dfs_cex.gear_names().contains(&"revoke_delete_child_broken"));

    insta::assert_snapshot!("mc_revoke_broken_counterexample", text);
}

#[test]
fn a_mint_from_the_revoked_cap_after_the_revoke_leaves_a_child_and_the_end_check_sees_it() {
    // The end check is not vacuous: B minting from ep itself may come after A's revoke is over.
    let (c, tree) =
        checker(Variant::Correct, |t| Vec::from([Op::Mint { src: t.ep, dest: t.free[0], badge: 3 }]));
    let report = c.bfs();
    let cex = report.counterexample.as_ref().expect("the late mint is seen");
    println!("{cex}");
    assert!(
        matches!(&cex.finding, Finding::Invariant { name, .. } if name == "revoked cap childless at the end"),
        "{}",
        cex.finding
    );
    // A's four steps, then B's mint.
    assert_eq!(cex.len(), 5);
    let procs: Vec<Option<ProcessId>> = cex.steps.iter().map(|s| s.process).collect();
    let (a, b) = (Some(ProcessId(0)), Some(ProcessId(1)));
    assert_eq!(procs, [a, a, a, a, b]);
    let last = cex.last_state();
    assert!(last.errors.is_empty());
    assert_eq!(cdt_children(&last.k, tree.ep_slot).len(), 1);
}
