//! sel4test's CNODEOP0001–0009 (`apps/sel4test-tests/src/tests/cnodeops.c`), ported: each case
//! arranges caps in the root CNode, runs the invocation through the gears (with the invariant
//! checker at every preemption point and at the end), and asserts the error and the slots.
//! `get_cap` there allocates a TCB; so does [`Sel4::alloc_tcb`] here.

use codegears::{Cap, CapRights, LookupFault, SyscallError};
use gears_tests::sel4::{Sel4, WORD_BITS};

fn env() -> Sel4 {
    Sel4::boot(10, &[20])
}

fn code(r: Result<(), SyscallError>) -> abi::Error {
    match r {
        Ok(()) => abi::Error::NoError,
        Err(e) => e.error().expect("an error code, not a fault"),
    }
}

fn copy(s: &mut Sel4, src: u64, dest: u64) -> abi::Error {
    code(s.copy(src, dest))
}

#[test]
fn cnodeop0001_copy() {
    let mut s = env();
    let (src, dest) = (s.alloc_tcb(), s.free_slot());
    assert!(s.is_slot_empty(dest));
    assert_eq!(copy(&mut s, src, dest), abi::Error::NoError);
    assert_eq!(s.cap(src), s.cap(dest), "the copy names the same TCB");

    let (src, dest) = (s.alloc_tcb(), s.alloc_tcb());
    assert_eq!(copy(&mut s, src, dest), abi::Error::DeleteFirst);

    let (src, dest) = (s.free_slot(), s.alloc_tcb());
    assert_eq!(copy(&mut s, src, dest), abi::Error::DeleteFirst);

    let (src, dest) = (s.free_slot(), s.free_slot());
    let r = s.copy(src, dest);
    assert_eq!(
        r,
        Err(SyscallError::FailedLookup {
            source: true,
            fault: LookupFault::MissingCapability { bits_left: WORD_BITS }
        })
    );
}

#[test]
fn cnodeop0002_delete() {
    let mut s = env();
    let r = s.root();
    let slot = s.alloc_tcb();
    assert_eq!(code(s.cnode_delete(r, slot, WORD_BITS)), abi::Error::NoError);
    assert!(s.is_slot_empty(slot));

    let slot = s.free_slot();
    assert_eq!(code(s.cnode_delete(r, slot, WORD_BITS)), abi::Error::NoError);
    assert!(s.is_slot_empty(slot));
}

#[test]
fn cnodeop0003_mint() {
    let mut s = env();
    let r = s.root();
    let (src, dest) = (s.alloc_tcb(), s.free_slot());
    assert_eq!(
        code(s.cnode_mint(r, dest, WORD_BITS, r, src, WORD_BITS, CapRights::ALL, 0)),
        abi::Error::NoError
    );
    assert_eq!(s.cap(src), s.cap(dest));

    let (src, dest) = (s.alloc_tcb(), s.alloc_tcb());
    assert_eq!(
        code(s.cnode_mint(r, dest, WORD_BITS, r, src, WORD_BITS, CapRights::ALL, 0)),
        abi::Error::DeleteFirst
    );

    let (src, dest) = (s.free_slot(), s.free_slot());
    assert_eq!(
        code(s.cnode_mint(r, dest, WORD_BITS, r, src, WORD_BITS, CapRights::ALL, 0)),
        abi::Error::FailedLookup
    );
}

#[test]
fn cnodeop0004_move() {
    let mut s = env();
    let r = s.root();
    let (src, dest) = (s.alloc_tcb(), s.free_slot());
    assert_eq!(code(s.cnode_move(r, dest, WORD_BITS, r, src, WORD_BITS)), abi::Error::NoError);
    assert!(s.is_slot_empty(src));
    assert!(!s.is_slot_empty(dest));

    let (src, dest) = (s.free_slot(), s.free_slot());
    assert_eq!(code(s.cnode_move(r, dest, WORD_BITS, r, src, WORD_BITS)), abi::Error::FailedLookup);
    assert!(s.is_slot_empty(dest));

    let (src, dest) = (s.alloc_tcb(), s.alloc_tcb());
    assert_eq!(code(s.cnode_move(r, dest, WORD_BITS, r, src, WORD_BITS)), abi::Error::DeleteFirst);
    assert!(!s.is_slot_empty(src));
    assert!(!s.is_slot_empty(dest));
}

#[test]
fn cnodeop0005_mutate() {
    let mut s = env();
    let r = s.root();
    let (src, dest) = (s.alloc_tcb(), s.free_slot());
    assert_eq!(code(s.cnode_mutate(r, dest, WORD_BITS, r, src, WORD_BITS, 0)), abi::Error::NoError);
    assert!(s.is_slot_empty(src));
    assert!(!s.is_slot_empty(dest));

    let (src, dest) = (s.alloc_tcb(), s.alloc_tcb());
    assert_eq!(code(s.cnode_mutate(r, dest, WORD_BITS, r, src, WORD_BITS, 0)), abi::Error::DeleteFirst);
    assert!(!s.is_slot_empty(src));
    assert!(!s.is_slot_empty(dest));

    let (src, dest) = (s.free_slot(), s.free_slot());
    assert_eq!(code(s.cnode_mutate(r, dest, WORD_BITS, r, src, WORD_BITS, 0)), abi::Error::FailedLookup);
    assert!(s.is_slot_empty(src));
    assert!(s.is_slot_empty(dest));
}

#[test]
fn cnodeop0006_cancel_badged_sends() {
    let mut s = env();
    let r = s.root();
    let ep = s.alloc_endpoint();
    assert_eq!(code(s.cnode_cancel_badged_sends(r, ep, WORD_BITS)), abi::Error::NoError);
    assert!(!s.is_slot_empty(ep));

    let slot = s.free_slot();
    assert_eq!(code(s.cnode_cancel_badged_sends(r, slot, WORD_BITS)), abi::Error::IllegalOperation);
    assert!(s.is_slot_empty(slot));
}

#[test]
fn cnodeop0007_revoke() {
    let mut s = env();
    let r = s.root();
    let slot = s.alloc_tcb();
    assert_eq!(code(s.cnode_revoke(r, slot, WORD_BITS)), abi::Error::NoError);
    assert!(!s.is_slot_empty(slot));

    let slot = s.free_slot();
    assert_eq!(code(s.cnode_revoke(r, slot, WORD_BITS)), abi::Error::NoError);
    assert!(s.is_slot_empty(slot));
}

#[test]
fn cnodeop0008_rotate() {
    let mut s = env();
    let (src, pivot, dest) = (s.alloc_tcb(), s.alloc_tcb(), s.free_slot());
    let (src_cap, pivot_cap) = (s.cap(src), s.cap(pivot));
    assert_eq!(code(s.cnode_rotate(dest, pivot, src)), abi::Error::NoError);
    assert!(s.is_slot_empty(src));
    assert_eq!(s.cap(pivot), src_cap, "src moved to pivot");
    assert_eq!(s.cap(dest), pivot_cap, "pivot moved to dest");

    let (src, pivot, dest) = (s.alloc_tcb(), s.alloc_tcb(), s.alloc_tcb());
    assert_eq!(code(s.cnode_rotate(dest, pivot, src)), abi::Error::DeleteFirst);
    assert!(!s.is_slot_empty(src) && !s.is_slot_empty(pivot) && !s.is_slot_empty(dest));

    // Swapping two caps: dest is src.
    let (src, pivot) = (s.alloc_tcb(), s.alloc_tcb());
    let (src_cap, pivot_cap) = (s.cap(src), s.cap(pivot));
    assert_eq!(code(s.cnode_rotate(src, pivot, src)), abi::Error::NoError);
    assert_eq!(s.cap(src), pivot_cap);
    assert_eq!(s.cap(pivot), src_cap);

    // Moving a cap onto itself.
    let (src, dest) = (s.alloc_tcb(), s.free_slot());
    assert_eq!(code(s.cnode_rotate(dest, src, src)), abi::Error::IllegalOperation);
    assert!(!s.is_slot_empty(src));
    assert!(s.is_slot_empty(dest));

    // Moving empty slots.
    let (src, pivot, dest) = (s.free_slot(), s.free_slot(), s.free_slot());
    assert_eq!(code(s.cnode_rotate(dest, pivot, src)), abi::Error::FailedLookup);
    assert!(s.is_slot_empty(src) && s.is_slot_empty(pivot) && s.is_slot_empty(dest));
}

#[test]
fn cnodeop0009_save_caller() {
    let mut s = env();
    let r = s.root();
    let slot = s.free_slot();
    assert_eq!(code(s.cnode_save_caller(r, slot, WORD_BITS)), abi::Error::NoError);

    let slot = s.alloc_tcb();
    assert_eq!(code(s.cnode_save_caller(r, slot, WORD_BITS)), abi::Error::DeleteFirst);
    assert!(!s.is_slot_empty(slot));
}

#[test]
fn mint_badges_once_and_mutate_cannot_badge() {
    let mut s = env();
    let r = s.root();
    let ep = s.alloc_endpoint();
    let (b1, b2, m) = (s.free_slot(), s.free_slot(), s.free_slot());
    assert_eq!(s.cnode_mint(r, b1, WORD_BITS, r, ep, WORD_BITS, CapRights::ALL, 7), Ok(()));
    assert_eq!(s.cap(b1).badge(), 7);
    assert_eq!(
        s.cnode_mint(r, b2, WORD_BITS, r, b1, WORD_BITS, CapRights::ALL, 9),
        Err(SyscallError::IllegalOperation)
    );
    assert_eq!(s.cnode_mutate(r, m, WORD_BITS, r, ep, WORD_BITS, 5), Err(SyscallError::IllegalOperation));
    // Revoking the original removes the badged child.
    assert_eq!(s.cnode_revoke(r, ep, WORD_BITS), Ok(()));
    assert!(s.is_slot_empty(b1));
    assert!(!s.is_slot_empty(ep));
}

#[test]
fn copy_of_an_untyped_with_children_is_revoke_first() {
    let mut s = env();
    let ut = s.untyped(0);
    let _ = s.alloc_endpoint();
    let dest = s.free_slot();
    assert_eq!(s.copy(ut, dest), Err(SyscallError::RevokeFirst));
    let mut t = env();
    let (ut, dest) = (t.untyped(0), t.free_slot());
    assert_eq!(t.copy(ut, dest), Ok(()));
    assert!(matches!(t.cap(ut), Cap::Untyped { free_index: 65536, .. }), "the source is marked full");
}

#[test]
fn cnode_op_errors_for_bad_depth_root_and_message() {
    let mut s = env();
    let r = s.root();
    let t = s.alloc_tcb();
    assert_eq!(s.cnode_delete(r, t, 0), Err(SyscallError::RangeError { min: 1, max: 64 }));
    assert_eq!(s.cnode_delete(r, t, 65), Err(SyscallError::RangeError { min: 1, max: 64 }));
    // Depth 32 of a 64-bit-guarded root: the guard needs 54 bits.
    assert_eq!(
        s.cnode_delete(r, t, 32),
        Err(SyscallError::FailedLookup {
            source: false,
            fault: LookupFault::GuardMismatch { bits_left: 32, guard_found: 0, guard_size: 54 }
        })
    );
    assert_eq!(s.invoke(r, abi::label::cnode::DELETE, &[t], &[]), Err(SyscallError::TruncatedMessage));
    assert_eq!(s.invoke(r, 99, &[t, 64], &[]), Err(SyscallError::IllegalOperation));
    // A TCB cap is not a CNode root.
    let d = s.free_slot();
    assert_eq!(
        s.cnode_copy(r, d, WORD_BITS, t, 0, WORD_BITS, CapRights::ALL),
        Err(SyscallError::FailedLookup { source: true, fault: LookupFault::InvalidRoot })
    );
    // Invoking an empty slot.
    let e = s.free_slot();
    assert_eq!(s.cnode_delete(e, 0, 1), Err(SyscallError::InvalidCapability { cap: 0 }));
}

/// CNODEOP0009's TODO, done: saving an actual reply cap. The reply cap is arranged as IPC would
/// leave it (a child of the callee's master reply cap, in the caller's `tcbCaller` slot).
#[test]
fn save_caller_moves_the_reply_cap() {
    use codegears::cdt::cte_insert;
    use codegears::kernel::tcb_slot;
    use codegears::{Cte, MdbNode, SlotRef};
    let mut s = env();
    let r = s.root();
    let t = s.alloc_tcb();
    let Cap::Thread { ptr: callee } = s.cap(t) else { panic!("a TCB") };
    let master = SlotRef::of(callee, tcb_slot::REPLY);
    let master_cap = Cap::Reply { tcb: callee, master: true, can_grant: true };
    let mdb = MdbNode { revocable: true, first_badged: true, ..MdbNode::default() };
    s.k.state.cspace.set(master, Cte { cap: master_cap, mdb });
    let caller = SlotRef::of(s.info.root_tcb, tcb_slot::CALLER);
    let reply = Cap::Reply { tcb: callee, master: false, can_grant: true };
    cte_insert(&mut s.k.state.cspace, reply, master, caller);
    // The thread the reply cap names waits for the reply, as a Call leaves it.
    s.k.state.objects.tcb_mut(callee).state = codegears::object::ThreadState::BlockedOnReply;
    gears_tests::sel4::invariants(&s.k).unwrap();

    let dest = s.free_slot();
    assert_eq!(s.cnode_save_caller(r, dest, WORD_BITS), Ok(()));
    assert_eq!(s.cap(dest), reply);
    assert!(s.k.state.cspace.cap(caller).is_null());
    assert_eq!(
        s.k.state.cspace.mdb(master).next,
        Some(s.slot(dest)),
        "the reply cap kept its place in the CDT"
    );
    // A reply cap cannot be copied.
    let d2 = s.free_slot();
    assert_eq!(s.copy(dest, d2), Err(SyscallError::IllegalOperation));
    // Nothing to save now: success, nothing moves.
    let d3 = s.free_slot();
    assert_eq!(s.cnode_save_caller(r, d3, WORD_BITS), Ok(()));
    assert!(s.is_slot_empty(d3));
}
