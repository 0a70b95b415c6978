//! sel4test's PREEMPT_REVOKE (`preempt.c`), ported: an endpoint copied into every slot of CNodes
//! of radix 12 is revoked with preemption injected; the revoke is preempted more than once,
//! restarts (and resumes) converge, and the invariants hold at every preemption point checked.
//! Also: deleting CNodes and TCBs through Zombies, preempted at every point.

use abi::label;
use codegears::cap::Cap;
use codegears::entry::{End, Event};
use codegears::kernel::Kernel;

use gears::{Context, Dispatcher, MetaGear, Mode, PointDecision, Step};
use gears_tests::sel4::{Sel4, WORD_BITS, invariants};
use metagears::{GapMeter, InjectAt, Invariant};

const CNODE_SIZE_BITS: u64 = 12;

/// `create_cnode_table`: `2^num_cnode_bits` CNodes of radix 12, each slot a copy of `ep`.
fn create_cnode_table(s: &mut Sel4, num_cnode_bits: u32, ep: u64) -> u64 {
    let r = s.root();
    let mut n = 0;
    for _ in 0..1 << num_cnode_bits {
        let ctable = s.alloc_cnode(CNODE_SIZE_BITS);
        for j in 0..1 << CNODE_SIZE_BITS {
            assert_eq!(
                s.cnode_copy(ctable, j, CNODE_SIZE_BITS, r, ep, WORD_BITS, codegears::CapRights::ALL),
                Ok(())
            );
            n += 1;
        }
    }
    n
}

/// The invariant metagear for large states: the full check at every `every`-th preemption point
/// (and when the run is preempted), and at every point `check_local_invariants` on the revoked
/// slot and the next slot in the CDT.
struct SampledInvariant {
    every: u64,
    seen: u64,
    full_checks: u64,
    local_checks: u64,
}

impl MetaGear<Kernel> for SampledInvariant {
    fn preemption_point(
        &mut self,
        _at: &Step<Kernel>,
        _next: &'static gears::Gear<Kernel>,
        k: &Kernel,
    ) -> PointDecision {
        self.seen += 1;
        if let Some(slot) = k.thread.revoke.slot {
            self.local_checks += 1;
            let next = k.state.cspace.mdb(slot).next;
            if let Err(e) =
                codegears::check_local_invariants(&k.state, [Some(slot), next].into_iter().flatten())
            {
                panic!("local invariant violated at preemption point {}: {e}", self.seen);
            }
        }
        if self.seen.is_multiple_of(self.every) {
            self.full_checks += 1;
            if let Err(e) = invariants(k) {
                panic!("invariant violated at preemption point {}: {e}", self.seen);
            }
        }
        PointDecision::Continue
    }

    fn preempted(
        &mut self,
        _at: &Step<Kernel>,
        _next: &'static gears::Gear<Kernel>,
        _mode: Mode,
        k: &Kernel,
    ) {
        self.full_checks += 1;
        if let Err(e) = invariants(k) {
            panic!("invariant violated where preempted: {e}");
        }
    }
}

/// Revokes `ep` with `2^num_cnode_bits * 4096` copies; returns (preemptions, max gap, points).
fn preempt_revoke(
    num_cnode_bits: u32,
    mode: Mode,
    inject_every: u64,
    full_check_every: u64,
) -> (u64, u64, u64) {
    let mut s = Sel4::boot(10, &[24]);
    let ep = s.alloc_endpoint();
    s.checked = false; // setup: checked once at the end, not at each of the many copies
    let copies = create_cnode_table(&mut s, num_cnode_bits, ep);
    s.checked = true;
    invariants(&s.k).unwrap();
    assert_eq!(s.descendants(ep).len() as u64, copies);
    let objects_before = s.live_count();

    let r = s.root();
    let req = s.request(r, label::cnode::REVOKE, &[ep, WORD_BITS], &[]);
    let inv = SampledInvariant { every: full_check_every, seen: 0, full_checks: 0, local_checks: 0 };
    let mut d = Dispatcher::new((InjectAt::every_nth(inject_every, mode), inv, GapMeter::new()));
    let (res, preemptions) = s.run(&mut d, req);
    assert_eq!(res, Ok(()));
    assert!(s.halted.is_none(), "{:?}", s.halted);
    // Converged: every copy gone, the original and the endpoint still there.
    assert!(s.descendants(ep).is_empty());
    assert!(matches!(s.cap(ep), Cap::Endpoint { .. }));
    assert_eq!(s.live_count(), objects_before);
    invariants(&s.k).unwrap();
    let (inject, inv, gap) = d.meta();
    assert_eq!(inject.seen(), copies, "one preemption point per child deleted");
    assert!(inv.full_checks >= preemptions);
    assert_eq!(inv.local_checks, copies);
    let runs = match mode {
        Mode::Restart => preemptions + 1,
        Mode::Resume => 1,
    };
    // Per run: handle_syscall, the fastpath's gear (a CNode Revoke is no IPC) and the general
    // gears through decode to the first check (10 gears). Per child:
    // cte_revoke_check, cte_revoke_delete_child, cte_delete, finalise_slot, cte_delete_done,
    // cte_revoke_child_deleted; at the end the last check and invocation_done.
    assert_eq!(d.steps(), 10 * runs + 6 * copies + 2, "gears per child are constant");
    (preemptions, gap.max_gap(), gap.points())
}

#[test]
fn preempt_revoke_65536_copies_restart() {
    let (preemptions, max_gap, points) = preempt_revoke(4, Mode::Restart, 4096, 8192);
    assert_eq!(points, 65536);
    assert!(preemptions > 1);
    assert_eq!(preemptions, 16);
    // The gears between two preemption chances do not grow with the number of caps.
    let (_, small_gap, _) = preempt_revoke(0, Mode::Restart, 4096, 1 << 20);
    assert_eq!(max_gap, small_gap, "gap grows with N");
    // 16: a run's entry-lookup-decode-invoke prefix (10 gears, from handle_syscall through the
    // fastpath's gear) plus one child (6 gears).
    assert_eq!(max_gap, 16, "max gap {max_gap}");
}

#[test]
fn preempt_revoke_65536_copies_resume() {
    let (preemptions, max_gap, _) = preempt_revoke(4, Mode::Resume, 4096, 8192);
    assert_eq!(preemptions, 16);
    assert_eq!(max_gap, 16, "the first run decodes too; resumed runs do not");
}

/// Full invariant check at every single preemption point, with preemption at every third.
#[test]
fn preempt_revoke_invariants_at_every_point() {
    for mode in [Mode::Restart, Mode::Resume] {
        let mut s = Sel4::boot(10, &[24]);
        let r = s.root();
        let ep = s.alloc_endpoint();
        let ct = s.alloc_cnode(10);
        for j in 0..1024 {
            assert_eq!(s.cnode_copy(ct, j, 10, r, ep, WORD_BITS, codegears::CapRights::ALL), Ok(()));
        }
        let req = s.request(r, label::cnode::REVOKE, &[ep, WORD_BITS], &[]);
        let mut d = Dispatcher::new((InjectAt::every_nth(3, mode), Invariant::new(invariants)));
        let (res, preemptions) = s.run(&mut d, req);
        assert_eq!(res, Ok(()));
        assert!(d.meta().1.violation().is_none());
        assert_eq!(preemptions, 1024 / 3);
        assert!(d.meta().1.checks() >= 1024);
        assert!(s.descendants(ep).is_empty());
    }
}

/// A CNode holding caps (including a CNode holding caps, and a TCB) is deleted through Zombies;
/// with preemption at every point, in both modes, the delete converges and the invariants hold.
#[test]
fn delete_cnode_through_zombies_preempted_everywhere() {
    for mode in [Mode::Restart, Mode::Resume] {
        let mut s = Sel4::boot(10, &[20]);
        let r = s.root();
        let outer = s.alloc_cnode(3);
        let inner = s.alloc_cnode(2);
        let ep = s.alloc_endpoint();
        let tcb = s.alloc_tcb();
        for j in 0..4 {
            assert_eq!(s.cnode_copy(inner, j, 2, r, ep, WORD_BITS, codegears::CapRights::ALL), Ok(()));
        }
        // Move the inner CNode's only cap, the TCB's only cap into the outer CNode.
        assert_eq!(s.cnode_move(outer, 5, 3, r, inner, WORD_BITS), Ok(()));
        assert_eq!(s.cnode_move(outer, 7, 3, r, tcb, WORD_BITS), Ok(()));
        assert_eq!(s.cnode_copy(outer, 0, 3, r, ep, WORD_BITS, codegears::CapRights::ALL), Ok(()));
        let before = s.live_count();

        let req = s.request(r, label::cnode::DELETE, &[outer, WORD_BITS], &[]);
        let mut d = Dispatcher::new((InjectAt::every(mode), Invariant::new(invariants)));
        let (res, preemptions) = s.run(&mut d, req);
        assert_eq!(res, Ok(()), "{mode}");
        assert!(d.meta().1.violation().is_none());
        assert!(preemptions >= 8, "one zombie reduction per outer slot: {preemptions}");
        assert!(s.is_slot_empty(outer));
        // The outer CNode died. The inner CNode and the TCB, whose last caps were in it, were each
        // finalised (the thread suspended) and their Zombie swapped into their own slot 0: cyclic
        // Zombies, as seL4's reduceZombie leaves them, reclaimed by revoking their untyped.
        assert_eq!(s.live_count(), before - 1, "{mode}");
        let cyclic =
            s.k.state
                .slots()
                .into_iter()
                .filter(|(sl, c)| matches!(c.cap, Cap::Zombie { ptr, .. } if ptr.0 == sl.0))
                .count();
        assert_eq!(cyclic, 2);
        // Revoking the untyped reclaims everything, preempted everywhere too.
        let ut = s.untyped(0);
        let req = s.request(r, label::cnode::REVOKE, &[ut, WORD_BITS], &[]);
        let mut d = Dispatcher::new((InjectAt::every(mode), Invariant::new(invariants)));
        let (res, _) = s.run(&mut d, req);
        assert_eq!(res, Ok(()));
        assert!(d.meta().1.violation().is_none());
        assert_eq!(
            s.live_count(),
            5,
            "only the boot TCB, CNode, VSpace root, ASID pool and IPC buffer frame remain"
        );
        assert!(s.descendants(ut).is_empty());
        // And the untyped can be used again from the start.
        let e = s.alloc(ut, abi::object::ENDPOINT, 0);
        assert_eq!(s.cap(e).ptr(), s.info.untyped[0].1);
    }
}

#[test]
fn delete_of_a_tcb_goes_through_a_zombie() {
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let t = s.alloc_tcb();
    let c = s.free_slot();
    assert_eq!(s.copy(t, c), Ok(()));
    // Not final: the copy is simply removed.
    assert_eq!(s.cnode_delete(r, c, WORD_BITS), Ok(()));
    assert_eq!(s.live_count(), 6, "the boot objects and the TCB");
    let req = s.request(r, label::cnode::DELETE, &[t, WORD_BITS], &[]);
    let mut d = Dispatcher::new(metagears::Tracer::new());
    let (res, _) = s.run(&mut d, req);
    assert_eq!(res, Ok(()));
    let names = d.meta().trace().gear_names();
    let reductions = names.iter().filter(|n| **n == "finalise_slot").count();
    // One pass makes the zombie and starts on slot 4; per TCB slot an inner pass; an outer pass
    // after each of slots 4..1; the last outer pass finds the zombie empty and removes it.
    assert_eq!(reductions, 1 + 5 + 4 + 1, "{names:?}");
    assert_eq!(s.live_count(), 5, "the boot objects");
    let _ = s.k.data_gear("delete");
}

/// seL4's Restart: a preempted invocation leaves its thread `Restart`; the re-run finishes and the
/// thread runs again.
#[test]
fn preempted_caller_stays_restart_until_the_rerun_finishes() {
    use codegears::object::ThreadState;
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let ep = s.alloc_endpoint();
    for _ in 0..4 {
        let d = s.free_slot();
        assert_eq!(s.copy(ep, d), Ok(()));
    }
    s.load_call(
        abi::Syscall::Call,
        r,
        abi::MessageInfo::new(label::cnode::REVOKE, 0, 0, 2),
        &[ep, WORD_BITS],
        &[],
    );
    let mut d = Dispatcher::new(InjectAt::points([1], Mode::Restart));
    let state = |s: &Sel4| s.k.state.objects.thread_state(s.info.root_tcb);
    assert_eq!(s.enter(&mut d, Event::Syscall), Ok(End::Preempted(Mode::Restart)));
    assert_eq!(state(&s), ThreadState::Restart);
    assert_eq!(s.descendants(ep).len(), 2, "two children deleted before the second point");
    // Activated again, it makes the same call (its registers say so), which finishes.
    assert_eq!(s.enter(&mut d, Event::Syscall), Ok(End::Done(codegears::Done::Ok)));
    assert_eq!(state(&s), ThreadState::Running);
    assert!(s.descendants(ep).is_empty());
}

/// The revoke of two copies, preempted at every point, as traces: under Restart each run starts
/// over from `handle_syscall` (lookups and decode again) and finds its progress in the CDT;
/// under Resume each run continues at the saved gear.
#[test]
fn revoke_traces_restart_vs_resume() {
    let trace = |mode: Mode| {
        let mut s = Sel4::boot(10, &[20]);
        let r = s.root();
        let ep = s.alloc_endpoint();
        for _ in 0..2 {
            let d = s.free_slot();
            assert_eq!(s.copy(ep, d), Ok(()));
        }
        let req = s.request(r, label::cnode::REVOKE, &[ep, WORD_BITS], &[]);
        let mut d = Dispatcher::new((InjectAt::every(mode), metagears::Tracer::new()));
        let (res, preemptions) = s.run(&mut d, req);
        assert_eq!((res, preemptions), (Ok(()), 2));
        d.meta().1.trace().to_string()
    };
    insta::assert_snapshot!(trace(Mode::Restart), @"
     . p536870912 start handle_syscall
     0 p536870912 handle_syscall -> fastpath_call
     1 p536870912 fastpath_call -> handle_invocation
     2 p536870912 handle_invocation -> resolve_address_bits
     3 p536870912 resolve_address_bits -> lookup_extra_caps
     4 p536870912 lookup_extra_caps -> decode_invocation
     5 p536870912 decode_invocation -> decode_cnode_invocation
     6 p536870912 decode_cnode_invocation -> resolve_address_bits
     7 p536870912 resolve_address_bits -> decode_cnode_target_found
     8 p536870912 decode_cnode_target_found -> invoke_cnode_revoke
     9 p536870912 invoke_cnode_revoke -> cte_revoke_check
    10 p536870912 cte_revoke_check -> cte_revoke_delete_child
    11 p536870912 cte_revoke_delete_child -> cte_delete
    12 p536870912 cte_delete -> finalise_slot
    13 p536870912 finalise_slot -> cte_delete_done
    14 p536870912 cte_delete_done -> cte_revoke_child_deleted
    15 p536870912 cte_revoke_child_deleted -> cte_revoke_check [pp]
     . p536870912 preempted before cte_revoke_check (restart)
     . p536870912 start handle_syscall
    16 p536870912 handle_syscall -> fastpath_call
    17 p536870912 fastpath_call -> handle_invocation
    18 p536870912 handle_invocation -> resolve_address_bits
    19 p536870912 resolve_address_bits -> lookup_extra_caps
    20 p536870912 lookup_extra_caps -> decode_invocation
    21 p536870912 decode_invocation -> decode_cnode_invocation
    22 p536870912 decode_cnode_invocation -> resolve_address_bits
    23 p536870912 resolve_address_bits -> decode_cnode_target_found
    24 p536870912 decode_cnode_target_found -> invoke_cnode_revoke
    25 p536870912 invoke_cnode_revoke -> cte_revoke_check
    26 p536870912 cte_revoke_check -> cte_revoke_delete_child
    27 p536870912 cte_revoke_delete_child -> cte_delete
    28 p536870912 cte_delete -> finalise_slot
    29 p536870912 finalise_slot -> cte_delete_done
    30 p536870912 cte_delete_done -> cte_revoke_child_deleted
    31 p536870912 cte_revoke_child_deleted -> cte_revoke_check [pp]
     . p536870912 preempted before cte_revoke_check (restart)
     . p536870912 start handle_syscall
    32 p536870912 handle_syscall -> fastpath_call
    33 p536870912 fastpath_call -> handle_invocation
    34 p536870912 handle_invocation -> resolve_address_bits
    35 p536870912 resolve_address_bits -> lookup_extra_caps
    36 p536870912 lookup_extra_caps -> decode_invocation
    37 p536870912 decode_invocation -> decode_cnode_invocation
    38 p536870912 decode_cnode_invocation -> resolve_address_bits
    39 p536870912 resolve_address_bits -> decode_cnode_target_found
    40 p536870912 decode_cnode_target_found -> invoke_cnode_revoke
    41 p536870912 invoke_cnode_revoke -> cte_revoke_check
    42 p536870912 cte_revoke_check -> invocation_done
    43 p536870912 invocation_done -> exit Ok
    ");
    insta::assert_snapshot!(trace(Mode::Resume), @"
     . p536870912 start handle_syscall
     0 p536870912 handle_syscall -> fastpath_call
     1 p536870912 fastpath_call -> handle_invocation
     2 p536870912 handle_invocation -> resolve_address_bits
     3 p536870912 resolve_address_bits -> lookup_extra_caps
     4 p536870912 lookup_extra_caps -> decode_invocation
     5 p536870912 decode_invocation -> decode_cnode_invocation
     6 p536870912 decode_cnode_invocation -> resolve_address_bits
     7 p536870912 resolve_address_bits -> decode_cnode_target_found
     8 p536870912 decode_cnode_target_found -> invoke_cnode_revoke
     9 p536870912 invoke_cnode_revoke -> cte_revoke_check
    10 p536870912 cte_revoke_check -> cte_revoke_delete_child
    11 p536870912 cte_revoke_delete_child -> cte_delete
    12 p536870912 cte_delete -> finalise_slot
    13 p536870912 finalise_slot -> cte_delete_done
    14 p536870912 cte_delete_done -> cte_revoke_child_deleted
    15 p536870912 cte_revoke_child_deleted -> cte_revoke_check [pp]
     . p536870912 preempted before cte_revoke_check (resume)
     . p536870912 resume cte_revoke_check
    16 p536870912 cte_revoke_check -> cte_revoke_delete_child
    17 p536870912 cte_revoke_delete_child -> cte_delete
    18 p536870912 cte_delete -> finalise_slot
    19 p536870912 finalise_slot -> cte_delete_done
    20 p536870912 cte_delete_done -> cte_revoke_child_deleted
    21 p536870912 cte_revoke_child_deleted -> cte_revoke_check [pp]
     . p536870912 preempted before cte_revoke_check (resume)
     . p536870912 resume cte_revoke_check
    22 p536870912 cte_revoke_check -> invocation_done
    23 p536870912 invocation_done -> exit Ok
    ");
}

/// A revoke preempted under Restart whose invoked cap another thread deletes before it re-executes:
/// the re-executed call fails in decode, and its caller must be `Running` again (seL4's
/// `activateThread` made it so before the call re-entered), not left in `Restart`.
#[test]
fn a_restarted_call_that_now_fails_leaves_its_caller_running() {
    use codegears::object::ThreadState;
    use codegears::{CapRights, SyscallError};
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let root = s.root();
    for _ in 0..4 {
        let slot = s.free_slot();
        assert_eq!(s.cnode_copy(root, slot, WORD_BITS, root, ep, WORD_BITS, CapRights::ALL), Ok(()));
    }
    // The revoke is invoked through a copy of the root CNode cap, which the other thread deletes.
    let via = s.free_slot();
    assert_eq!(s.cnode_copy(root, via, WORD_BITS, root, root, WORD_BITS, CapRights::ALL), Ok(()));
    let (_, other) = s.spawn(100);
    let me = s.info.root_tcb;
    let info = abi::MessageInfo::new(label::cnode::REVOKE, 0, 0, 2);
    s.load_call(abi::Syscall::Call, via, info, &[ep, WORD_BITS], &[]);
    let mut d = Dispatcher::new(InjectAt::points([0], Mode::Restart));
    assert_eq!(s.enter(&mut d, Event::Syscall), Ok(End::Preempted(Mode::Restart)));
    assert_eq!(s.state(me), ThreadState::Restart, "preempted: the caller will re-execute its call");
    // Another thread deletes the invoked cap in between.
    assert_eq!(s.as_thread(other, |s| s.cnode_delete(root, via, WORD_BITS)), Ok(()));
    // The caller is activated (Running again) and makes its call again, which now fails.
    let out = s.enter(&mut d, Event::Syscall);
    assert!(matches!(out, Ok(End::Failed(SyscallError::InvalidCapability { .. }))), "{out:?}");
    assert_eq!(s.state(me), ThreadState::Running, "the caller runs again, with the error");
    invariants(&s.k).unwrap();
}
