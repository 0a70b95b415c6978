//! sel4test's RETYPE0000–0002 (`inc_untyped.c`), ported, plus untyped reset on reuse: the
//! watermark goes down one chunk per preemption point, and a restarted retype converges.

use codegears::SyscallError;
use codegears::cap::{Cap, TCB_BITS};
use codegears::untyped::RETYPE_FAN_OUT_LIMIT;
use gears::{Dispatcher, Mode};
use gears_tests::sel4::{Sel4, WORD_BITS, invariants};
use metagears::{InjectAt, Invariant};

fn code(r: Result<(), SyscallError>) -> abi::Error {
    r.err().map_or(abi::Error::NoError, |e| e.error().expect("an error code"))
}

#[test]
fn retype0000_retype() {
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let cnode = s.alloc_cnode(2);
    let untyped = s.alloc(s.untyped(0), abi::object::UNTYPED, TCB_BITS as u64 + 3);
    let tcb = abi::object::TCB;

    // Try to insert 0: RangeError with seL4's min and max.
    assert_eq!(
        s.retype(untyped, tcb, 0, r, cnode, WORD_BITS, 1, 0),
        Err(SyscallError::RangeError { min: 1, max: RETYPE_FAN_OUT_LIMIT })
    );
    // Two caps at the end of the CNode overrun it.
    assert_eq!(code(s.retype(untyped, tcb, 0, r, cnode, WORD_BITS, 3, 2)), abi::Error::RangeError);
    for i in 0..4 {
        assert_eq!(s.retype(untyped, tcb, 0, r, cnode, WORD_BITS, i, 1), Ok(()), "slot {i}");
    }
    assert_eq!(code(s.retype(untyped, tcb, 0, r, cnode, WORD_BITS, 4, 2)), abi::Error::RangeError);
    for i in 0..4 {
        assert_eq!(code(s.retype(untyped, tcb, 0, r, cnode, WORD_BITS, i, 1)), abi::Error::DeleteFirst);
    }
    for i in 0..4 {
        assert_eq!(s.cnode_delete(cnode, i, 2), Ok(()));
    }
    assert_eq!(code(s.retype(untyped, tcb, 0, r, cnode, WORD_BITS, 0, 1 << 31)), abi::Error::RangeError);
    assert_eq!(code(s.retype(untyped, tcb, 0, r, cnode, WORD_BITS, 0, 5)), abi::Error::RangeError);
    assert_eq!(s.retype(untyped, tcb, 0, r, cnode, WORD_BITS, 0, 3), Ok(()));
    for i in 0..4 {
        let e = code(s.retype(untyped, tcb, 0, r, cnode, WORD_BITS, i, 1));
        assert_eq!(e, if i == 3 { abi::Error::NoError } else { abi::Error::DeleteFirst }, "slot {i}");
    }
    // Once its four TCBs were deleted the untyped had no children, so the next retype reset it:
    // four TCBs in use now, half of the 2^(11+3) bytes.
    assert!(matches!(s.cap(untyped), Cap::Untyped { free_index, .. } if free_index == 4 << (TCB_BITS - 4)));
}

#[test]
fn retype0001_incremental_retype() {
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let size_bits = 13u64;
    let untyped = s.alloc(s.untyped(0), abi::object::UNTYPED, size_bits);
    for i in (1..=40).rev() {
        let e = s.retype(untyped, abi::object::CAP_TABLE, size_bits - 5 + i, r, r, WORD_BITS, 0, 1);
        assert!(e.is_err(), "a CNode of radix {} fits a 2^13 untyped", size_bits - 5 + i);
    }
    assert_eq!(s.retype(untyped, abi::object::CAP_TABLE, size_bits - 5, r, r, WORD_BITS, 0, 1), Ok(()));
}

#[test]
fn retype0002_incremental_retype_2() {
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let slot: Vec<u64> = (0..17).map(|_| s.free_slot()).collect();
    let untyped = s.alloc(s.untyped(0), abi::object::UNTYPED, 16);
    let page = abi::x86_64::object::SMALL_PAGE;
    for &sl in &slot[..16] {
        assert_eq!(s.retype(untyped, page, 0, r, r, WORD_BITS, sl, 1), Ok(()));
    }
    assert_eq!(
        code(s.retype(untyped, page, 0, r, r, WORD_BITS, slot[16], 1024 * 1024)),
        abi::Error::RangeError
    );
    assert_eq!(code(s.retype(untyped, page, 0, r, r, WORD_BITS, slot[0], 8)), abi::Error::DeleteFirst);
    assert_eq!(
        s.retype(untyped, page, 0, r, r, WORD_BITS, slot[16], 1),
        Err(SyscallError::NotEnoughMemory { available: 0 })
    );
}

#[test]
fn retype_argument_errors() {
    let mut s = Sel4::boot(10, &[20]);
    let (r, ut) = (s.root(), s.untyped(0));
    let d = s.free_slot();
    assert_eq!(
        s.retype(ut, abi::x86_64::object::COUNT, 0, r, r, WORD_BITS, d, 1),
        Err(SyscallError::InvalidArgument { arg: 0 })
    );
    assert_eq!(
        s.retype(ut, abi::object::CAP_TABLE, 0, r, r, WORD_BITS, d, 1),
        Err(SyscallError::InvalidArgument { arg: 1 })
    );
    assert_eq!(
        s.retype(ut, abi::object::UNTYPED, 3, r, r, WORD_BITS, d, 1),
        Err(SyscallError::InvalidArgument { arg: 1 })
    );
    assert_eq!(
        s.retype(ut, abi::object::UNTYPED, 48, r, r, WORD_BITS, d, 1),
        Err(SyscallError::RangeError { min: 0, max: 47 })
    );
    assert_eq!(
        s.retype(ut, abi::object::UNTYPED, 64, r, r, WORD_BITS, d, 1),
        Err(SyscallError::RangeError { min: 0, max: 47 })
    );
    assert_eq!(
        s.retype(ut, abi::object::UNTYPED, 21, r, r, WORD_BITS, d, 1),
        Err(SyscallError::NotEnoughMemory { available: 1 << 20 })
    );
    assert_eq!(
        s.retype(ut, abi::object::ENDPOINT, 0, r, r, WORD_BITS, 1 << 10, 1),
        Err(SyscallError::RangeError { min: 0, max: 1023 })
    );
    assert_eq!(
        s.invoke(ut, abi::label::untyped::RETYPE, &[2, 0, r, 64, d], &[r]),
        Err(SyscallError::TruncatedMessage)
    );
    assert_eq!(
        s.invoke(ut, abi::label::untyped::RETYPE, &[2, 0, r, 64, d, 1], &[]),
        Err(SyscallError::TruncatedMessage)
    );
    assert_eq!(
        s.invoke(ut, abi::label::cnode::COPY, &[2, 0, r, 64, d, 1], &[r]),
        Err(SyscallError::IllegalOperation)
    );
    // The node is a TCB, not a CNode: FailedLookup, missing capability.
    let t = s.alloc_tcb();
    assert_eq!(
        s.retype(ut, abi::object::ENDPOINT, 0, r, t, WORD_BITS, 0, 1),
        Err(SyscallError::FailedLookup {
            source: false,
            fault: codegears::LookupFault::MissingCapability { bits_left: 64 }
        })
    );
    // Alignment: a 2^12 frame after a 16-byte endpoint starts at the next 4 KiB.
    let e = s.alloc_endpoint();
    let f = s.alloc(ut, abi::x86_64::object::SMALL_PAGE, 0);
    assert_eq!(s.cap(f).ptr() % 4096, 0);
    assert!(s.cap(f).ptr() > s.cap(e).ptr());
}

/// Fill an untyped, revoke it, and retype again: the untyped is reset, one 256-byte chunk per
/// preemption point, and under injected preemption (both modes) the retype converges.
#[test]
fn untyped_reset_is_preemptible_and_converges() {
    for mode in [Mode::Restart, Mode::Resume] {
        let mut s = Sel4::boot(10, &[20]);
        let r = s.root();
        let ut = s.alloc(s.untyped(0), abi::object::UNTYPED, 16);
        let first = s.free_slot();
        for _ in 0..255 {
            s.free_slot();
        }
        assert_eq!(s.retype(ut, abi::object::ENDPOINT, 0, r, r, WORD_BITS, first, 256), Ok(()));
        assert!(matches!(s.cap(ut), Cap::Untyped { free_index: 256, .. }));
        assert_eq!(s.cnode_revoke(r, ut, WORD_BITS), Ok(()));
        assert!(s.is_slot_empty(first));
        assert!(matches!(s.cap(ut), Cap::Untyped { free_index: 256, .. }), "the watermark stays until reuse");

        // Reuse: preempt at every other preemption point.
        let d_slot = s.free_slot();
        let req =
            s.request(ut, abi::label::untyped::RETYPE, &[abi::object::TCB, 0, r, WORD_BITS, d_slot, 1], &[r]);
        let mut d = Dispatcher::new((InjectAt::every_nth(2, mode), Invariant::new(invariants)));
        let (res, preemptions) = s.run(&mut d, req);
        assert_eq!(res, Ok(()));
        assert!(d.meta().1.violation().is_none());
        // 4096 bytes in use = 16 chunks: 16 preemption points, every other one taken.
        assert_eq!(d.meta().0.seen(), 16);
        assert_eq!(preemptions, 8, "{mode}");
        let Cap::Thread { ptr } = s.cap(d_slot) else { panic!("a TCB") };
        assert_eq!(ptr.0 % (1 << 16), 0, "the reset untyped hands out its first bytes again");
        assert!(matches!(s.cap(ut), Cap::Untyped { free_index: 128, .. }));
    }
}

/// Under Resume, a retype preempted while resetting its untyped finds, when resumed, that another
/// operation took one of its destination slots: it decodes again (as a Restart would) and fails
/// with DeleteFirst instead of overwriting the slot.
#[test]
fn resumed_retype_revalidates_what_decode_checked() {
    use codegears::cdt::cte_insert;
    use gears::Outcome;
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let ut = s.alloc(s.untyped(0), abi::object::UNTYPED, 16);
    let e = s.free_slot();
    assert_eq!(s.retype(ut, abi::object::ENDPOINT, 0, r, r, WORD_BITS, e, 1), Ok(()));
    assert_eq!(s.cnode_revoke(r, ut, WORD_BITS), Ok(()));
    let dest = s.free_slot();
    let (irq, dslot) = (s.slot(abi::bootinfo::CAP_IRQ_CONTROL), s.slot(dest));
    let req = s.request(ut, abi::label::untyped::RETYPE, &[abi::object::TCB, 0, r, WORD_BITS, dest, 1], &[r]);
    s.k.set_request(req);
    let mut d = Dispatcher::new(InjectAt::points([0], Mode::Resume));
    let out = d.run(&mut s.k, &codegears::lookup::HANDLE_INVOCATION);
    assert!(matches!(out, Outcome::Preempted { mode: Mode::Resume, .. }), "{out:?}");
    // Meanwhile another operation fills the destination slot.
    s.k.state.irqs.active.insert(3);
    cte_insert(&mut s.k.state.cspace, Cap::IrqHandler { irq: 3 }, irq, dslot);
    let out = d.run(&mut s.k, &codegears::lookup::HANDLE_INVOCATION);
    assert_eq!(format!("{out:?}"), "Failed(DeleteFirst)");
    assert_eq!(s.k.state.cspace.cap(dslot), Cap::IrqHandler { irq: 3 });
    invariants(&s.k).unwrap();
}
