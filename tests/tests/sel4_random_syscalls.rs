//! Random invocation sequences against a random-ish CSpace (proptest): every invocation either
//! succeeds or fails with an seL4 error code (or a cap fault) and then leaves the state exactly as
//! it was; nothing panics; the invariants hold at every preemption point and at the end of every
//! invocation; preemption is injected at random points under Restart and Resume.
//!
//! 256 cases x 400 invocations = 102,400 invocations per run.

use abi::label;
use std::cell::Cell;

use codegears::{CapRights, SyscallError};
use gears::{Dispatcher, Mode};
use gears_tests::sel4::{Sel4, WORD_BITS, invariants, without_reply};
use metagears::{InjectAt, Invariant};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::Config;

const SLOTS: u64 = 48;
const OPS: usize = 400;

thread_local! {
    static TOTALS: Cell<(u64, u64, u64)> = const { Cell::new((0, 0, 0)) };
}

/// One invocation: a label, the invoked cptr, message words and extra cptrs, drawn so that most
/// name real slots and sensible depths (and some do not).
#[derive(Clone, Debug)]
struct Call {
    label: u64,
    cptr: u64,
    mrs: Vec<u64>,
    extra: Vec<u64>,
}

fn word() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 0..SLOTS,
        3 => Just(WORD_BITS),
        1 => 0u64..5,
        1 => Just(CapRights::ALL.word()),
        1 => any::<u64>(),
    ]
}

fn cptr() -> impl Strategy<Value = u64> {
    prop_oneof![8 => 0..SLOTS, 1 => any::<u64>()]
}

/// A root-CNode slot other than the boot TCB's and the root CNode's own (losing those ends the
/// root task's reach into its CSpace; the unstructured calls still hit them now and then).
fn slot() -> impl Strategy<Value = u64> {
    3..SLOTS
}

fn cnode_label_any() -> impl Strategy<Value = u64> {
    label::cnode::REVOKE - 1..=label::cnode::SAVE_CALLER + 1
}

fn call() -> impl Strategy<Value = Call> {
    let cnode_label = prop_oneof![
        1 => Just(label::cnode::REVOKE),
        1 => Just(label::cnode::DELETE),
        1 => Just(label::cnode::CANCEL_BADGED_SENDS),
        3 => Just(label::cnode::COPY),
        3 => Just(label::cnode::MINT),
        2 => Just(label::cnode::MOVE),
        1 => Just(label::cnode::MUTATE),
        1 => Just(label::cnode::ROTATE),
        1 => Just(label::cnode::SAVE_CALLER),
        1 => Just(0u64),
    ];
    let depth = prop_oneof![9 => Just(WORD_BITS), 1 => 0u64..70];
    let data = prop_oneof![3 => Just(0u64), 3 => 1u64..4, 1 => any::<u64>()];
    // The destination is in the root CNode (cptr 2, depth 64) or, a quarter of the time, in the
    // radix-3 CNode at slot 28 (depth 3), so caps land inside a CNode that may then be deleted.
    let dest_root = prop_oneof![3 => Just((2u64, None)), 1 => (0u64..8).prop_map(|i| (28u64, Some(i)))];
    let cnode_call = (cnode_label, slot(), slot(), slot(), depth, 0u64..16, data, dest_root).prop_map(
        |(label, dest, src, pivot, depth, rights, data, (root, sub))| {
            let d = WORD_BITS;
            let (dest, depth) = match sub {
                Some(i) => (i, 3),
                None => (dest, depth),
            };
            let (mrs, extra) = match label {
                label::cnode::COPY => (vec![dest, depth, src, d, rights], vec![2]),
                label::cnode::MINT => (vec![dest, depth, src, d, rights, data], vec![2]),
                label::cnode::MOVE => (vec![dest, depth, src, d], vec![2]),
                label::cnode::MUTATE => (vec![dest, depth, src, d, data], vec![2]),
                label::cnode::ROTATE => (vec![dest, depth, data, pivot, d, 0, src, d], vec![2, 2]),
                _ => (vec![dest, depth], vec![]),
            };
            Call { label, cptr: root, mrs, extra }
        },
    );
    let chaos = (cnode_label_any(), prop::collection::vec(word(), 0..9), prop::collection::vec(cptr(), 0..3))
        .prop_map(|(label, mrs, extra)| Call { label, cptr: 2, mrs, extra });
    let retype = (
        0..=abi::x86_64::object::COUNT,
        0u64..14,
        0..SLOTS,
        1u64..4,
        prop_oneof![Just(16u64), Just(17), 0..SLOTS],
    )
        .prop_map(|(ty, size, off, n, ut)| {
            let size = if ty == abi::object::UNTYPED { size + 4 } else { size };
            Call {
                label: label::untyped::RETYPE,
                cptr: ut,
                mrs: vec![ty, size, 2, 64, off, n],
                extra: vec![2],
            }
        });
    let any_call =
        (0u64..30, cptr(), prop::collection::vec(word(), 0..9), prop::collection::vec(cptr(), 0..4))
            .prop_map(|(label, cptr, mrs, extra)| Call { label, cptr, mrs, extra });
    // Deleting and revoking the objects most likely to go through zombies (TCBs, the CNode, the
    // untyped they came from), and moving TCB and CNode caps into the CNode first.
    let destroy = (
        prop_oneof![Just(label::cnode::DELETE), Just(label::cnode::REVOKE), Just(label::cnode::MOVE)],
        prop_oneof![Just(16u64), 26u64..=29],
        0u64..8,
    )
        .prop_map(|(label, slot, i)| match label {
            label::cnode::MOVE => Call { label, cptr: 28, mrs: vec![i, 3, slot, WORD_BITS], extra: vec![2] },
            _ => Call { label, cptr: 2, mrs: vec![slot, WORD_BITS], extra: vec![] },
        });
    let irq = (0u64..8, slot()).prop_map(|(irq, dest)| Call {
        label: label::irq_control::ISSUE_IRQ_HANDLER,
        cptr: abi::bootinfo::CAP_IRQ_CONTROL,
        mrs: vec![irq, dest, WORD_BITS],
        extra: vec![2],
    });
    prop_oneof![12 => cnode_call, 4 => retype, 1 => destroy, 1 => irq, 2 => chaos, 2 => any_call]
}

/// Counts zombie reductions: preemption points before `finalise_slot`.
#[derive(Default)]
struct ZombieSteps(u64);

impl gears::MetaGear<codegears::Kernel> for ZombieSteps {
    fn after(
        &mut self,
        at: &gears::Step<codegears::Kernel>,
        next: &gears::Next<codegears::Kernel>,
        _: &codegears::Kernel,
    ) -> gears::Control {
        let _ = at;
        if next.is_preemption_point() && next.target() == Some(&codegears::delete::FINALISE_SLOT) {
            self.0 += 1;
        }
        gears::Control::Continue
    }
}

/// On the random state a case left: the gear Delete and Revoke (preempted as the case was) must
/// leave exactly the state seL4's plain recursive `cteDelete`/`cteRevoke` leaves.
fn differential(s: &mut Sel4, every: u64, mode: Mode) -> Result<(), TestCaseError> {
    for (lbl, cptr) in [(label::cnode::DELETE, 28u64), (label::cnode::REVOKE, 20), (label::cnode::REVOKE, 16)]
    {
        let Ok((slot, 0)) = s.lookup(cptr) else { continue };
        let mut expected = s.k.state.clone();
        if lbl == label::cnode::DELETE {
            gears_tests::sel4::plain::cte_delete(&mut expected, slot, true);
        } else {
            gears_tests::sel4::plain::cte_revoke(&mut expected, slot);
        }
        let req = s.request(2, lbl, &[cptr, WORD_BITS], &[]);
        let mut d = Dispatcher::new(InjectAt::every_nth(every, mode));
        if let (Ok(()), _) = s.run(&mut d, req) {
            let same = without_reply(&s.k.state, &expected, s.thread) == expected;
            prop_assert!(same, "gear and plain {lbl} of {cptr} differ");
        }
    }
    Ok(())
}

fn run_case(calls: &[Call], every: u64, mode: Mode) -> Result<(), TestCaseError> {
    let mut s = Sel4::boot(6, &[16, 12]);
    // Some objects to work on: endpoints, notifications, TCBs and a CNode in slots 20..30.
    let (r, ut) = (s.root(), s.untyped(0));
    for (ty, size, at, n) in [
        (abi::object::ENDPOINT, 0, 20, 4),
        (abi::object::NOTIFICATION, 0, 24, 2),
        (abi::object::TCB, 0, 26, 2),
        (abi::object::CAP_TABLE, 3, 28, 1),
    ] {
        s.retype(ut, ty, size, r, r, WORD_BITS, at, n).expect("setup");
    }
    let mut d = Dispatcher::new((
        InjectAt::every_nth(every, mode),
        Invariant::new(invariants),
        ZombieSteps::default(),
    ));
    let mut ok = 0;
    for c in calls {
        let req = s.request(c.cptr, c.label, &c.mrs, &c.extra);
        let before = s.k.state.clone();
        let (res, preemptions) = s.run(&mut d, req);
        if let Some((halt, step)) = s.halted.take() {
            let v = d.meta().1.violation().map(|v| v.to_string()).unwrap_or_default();
            return Err(TestCaseError::fail(format!("halted at step {step} by {halt} after {c:?}: {v}")));
        }
        match res {
            Ok(()) => ok += 1,
            Err(e) => {
                prop_assert!(
                    e.error().is_some() || matches!(e, SyscallError::CapFault { .. }),
                    "not an error code: {e:?}"
                );
                // An error changes nothing but the caller's reply; a cap fault (sent to a fault
                // handler, or stopping the thread) changes no cap.
                if preemptions == 0 && e.error().is_some() {
                    let unchanged = without_reply(&s.k.state, &before, s.thread) == before;
                    prop_assert!(unchanged, "{c:?} failed with {e:?} and changed the state");
                } else if preemptions == 0 {
                    prop_assert!(
                        s.k.state.cspace == before.cspace,
                        "{c:?} failed with {e:?} and changed a cap"
                    );
                }
            }
        }
    }
    let zombies = d.meta().2.0;
    differential(&mut s, every, mode)?;
    TOTALS.with(|t| {
        let (n, k, z) = t.get();
        t.set((n + calls.len() as u64, k + ok, z + zombies));
    });
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: 256, failure_persistence: None, ..Config::default() })]

    #[test]
    fn random_invocations_keep_the_invariants(
        calls in prop::collection::vec(call(), OPS),
        every in 1u64..8,
        resume in any::<bool>(),
    ) {
        let mode = if resume { Mode::Resume } else { Mode::Restart };
        run_case(&calls, every, mode)?;
    }
}

#[test]
fn random_invocations_mostly_do_something() {
    // A fixed sample: a good share of the random invocations must succeed, or the property above
    // would only be exercising error paths.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(call(), OPS);
    TOTALS.with(|t| t.set((0, 0, 0)));
    for _ in 0..4 {
        let calls = strategy.new_tree(&mut runner).unwrap().current();
        run_case(&calls, 3, Mode::Restart).unwrap();
    }
    let (n, ok, zombies) = TOTALS.with(|t| t.get());
    eprintln!("{ok} of {n} invocations succeeded; {zombies} zombie reduction steps");
    assert!(zombies > 0, "no CNode or TCB was deleted through a zombie");
    assert_eq!(n, 4 * OPS as u64);
    assert!(ok * 8 >= n, "only {ok} of {n} invocations succeeded");
}
