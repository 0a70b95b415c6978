//! sel4test's CSPACE0001 (`cspace.c`, "Test full cspace resolution"), ported, and the lookup
//! faults of `resolveAddressBits`.

use abi::label;
use codegears::cap::{Cap, SlotRef};
use codegears::cdt::cte_insert;
use codegears::kernel::tcb_slot;
use codegears::{LookupFault, SyscallError};
use gears::Dispatcher;
use gears_tests::sel4::{Sel4, WORD_BITS};
use metagears::Tracer;

/// 64 CNodes of radix 1 chained through alternating slots, an endpoint at the end, and a helper
/// thread whose CSpace root is the first CNode. Returns the kernel and the endpoint's cptr there.
fn full_cspace() -> (Sel4, u64, u64) {
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let ep = s.alloc_endpoint();
    let cnode: Vec<u64> = (0..WORD_BITS).map(|_| s.alloc_cnode(1)).collect();
    let mut ep_pos = 1u64;
    let mut slot = 0u64;
    for i in 1..WORD_BITS as usize {
        let e = s.cnode_copy(cnode[i - 1], slot, 1, r, cnode[i], WORD_BITS, codegears::CapRights::ALL);
        assert_eq!(e, Ok(()));
        ep_pos |= slot << i;
        slot ^= 1;
    }
    let last = cnode[WORD_BITS as usize - 1];
    assert_eq!(s.cnode_copy(last, slot, 1, r, ep, WORD_BITS, codegears::CapRights::ALL), Ok(()));

    // The helper thread; its CTable gets a copy of cnode[0] (TCB_SetSpace is not built yet, so
    // the test inserts the cap as the kernel would).
    let tcb = s.alloc_tcb();
    let Cap::Thread { ptr } = s.cap(tcb) else { panic!("a TCB cap") };
    let src = s.slot(cnode[0]);
    let cap = s.k.state.cspace.cap(src);
    cte_insert(&mut s.k.state.cspace, cap, src, SlotRef::of(ptr, tcb_slot::CTABLE));
    assert_eq!(s.resume(tcb), Ok(codegears::Done::Ok), "only a runnable thread makes system calls");
    s.thread = ptr;
    (s, ep_pos, ep)
}

#[test]
fn cspace0001_full_cspace_resolution() {
    let (mut s, ep_pos, _) = full_cspace();
    gears_tests::sel4::invariants(&s.k).unwrap();

    // The exact path reaches the endpoint, one gear per level: 64 levels.
    let (slot, bits) = s.lookup(ep_pos).expect("resolves");
    assert_eq!(bits, 0);
    assert!(matches!(s.k.state.cspace.cap(slot), Cap::Endpoint { .. }));
    assert_eq!(s.k.thread.lookup.levels, 64);

    // None of the small cptrs is a valid cap.
    for i in 0..WORD_BITS {
        assert_eq!(
            s.invoke(i, label::cnode::DELETE, &[0, 1], &[]),
            Err(SyscallError::InvalidCapability { cap: 0 }),
            "cptr {i}"
        );
    }
    // Every single-bit flip of the path fails.
    for i in 0..WORD_BITS {
        let cptr = ep_pos ^ (1 << i);
        assert!(s.cap(cptr).is_null(), "bit {i} flipped still finds a cap");
        assert_eq!(
            s.invoke(cptr, label::cnode::DELETE, &[0, 1], &[]),
            Err(SyscallError::InvalidCapability { cap: 0 }),
            "bit {i}"
        );
    }
}

#[test]
fn cspace0001_lookup_trace_is_one_gear_per_level() {
    let (mut s, ep_pos, _) = full_cspace();
    s.k.set_request(s.request(ep_pos, 0, &[], &[]));
    let mut d = Dispatcher::new(Tracer::new());
    let out = d.run(&mut s.k, &codegears::lookup::LOOKUP_SLOT);
    assert!(out.is_finished());
    let names = d.meta().trace().gear_names();
    assert_eq!(names.len(), 65);
    assert_eq!(names[0], "lookup_slot");
    assert!(names[1..].iter().all(|n| *n == "resolve_address_bits"));
}

#[test]
fn lookup_faults() {
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let cn = s.alloc_cnode(4);
    // Give the CNode cap a 4-bit guard 0b1010 by Mutate into a new slot.
    let g = s.free_slot();
    assert_eq!(
        s.cnode_mutate(r, g, WORD_BITS, r, cn, WORD_BITS, abi::CNodeCapData::new(0b1010, 4).word()),
        Ok(())
    );
    let t = s.alloc_tcb();
    // Through the guarded CNode: 4 guard bits + 4 index bits = depth 8.
    let d = s.free_slot();
    assert_eq!(s.cnode_copy(g, 0b1010_0011, 8, r, t, WORD_BITS, codegears::CapRights::ALL), Ok(()));
    assert_eq!(
        s.cnode_copy(g, 0b0110_0011, 8, r, t, WORD_BITS, codegears::CapRights::ALL),
        Err(SyscallError::FailedLookup {
            source: false,
            fault: LookupFault::GuardMismatch { bits_left: 8, guard_found: 0b1010, guard_size: 4 }
        })
    );
    assert_eq!(
        s.cnode_copy(g, 0b101_0001, 7, r, t, WORD_BITS, codegears::CapRights::ALL),
        Err(SyscallError::FailedLookup {
            source: false,
            fault: LookupFault::DepthMismatch { bits_left: 7, bits_found: 8 }
        })
    );
    // Depth 12 stops at the TCB cap with 4 bits left: a depth mismatch found 0.
    assert_eq!(
        s.cnode_copy(g, 0b1010_0011_0000, 12, r, t, WORD_BITS, codegears::CapRights::ALL),
        Err(SyscallError::FailedLookup {
            source: false,
            fault: LookupFault::DepthMismatch { bits_left: 4, bits_found: 0 }
        })
    );
    // The source root is not a CNode.
    assert_eq!(
        s.cnode_copy(r, d, WORD_BITS, t, 0, 1, codegears::CapRights::ALL),
        Err(SyscallError::FailedLookup { source: true, fault: LookupFault::InvalidRoot })
    );
    // A cap fault for the invoked cap when its lookup faults: the root task's CNode has a
    // 54-bit zero guard, so any cptr with a high bit set misses it.
    assert_eq!(
        s.invoke(1 << 63, label::cnode::DELETE, &[0, 1], &[]),
        Err(SyscallError::CapFault {
            cptr: 1 << 63,
            fault: LookupFault::GuardMismatch { bits_left: 64, guard_found: 0, guard_size: 54 }
        })
    );
    assert_eq!(s.invoke(1 << 63, 0, &[], &[]).unwrap_err().error(), None, "a fault, not an error code");
}

/// Stepping the 64-level lookup gear by gear: each `resolve_address_bits` sees only `cspace` and
/// `lookup`, and the cursor's bits left go down by one per level.
#[test]
fn cspace0001_stepped_level_by_level() {
    let (mut s, ep_pos, _) = full_cspace();
    s.k.set_request(s.request(ep_pos, 0, &[], &[]));
    let mut d = Dispatcher::new(());
    let mut st = d.stepper(&mut s.k, &codegears::lookup::LOOKUP_SLOT);
    assert_eq!(st.current_name(), Some("lookup_slot"));
    assert!(st.step().is_none());
    for level in 0..64u64 {
        assert_eq!(st.current_name(), Some("resolve_address_bits"));
        let declared: Vec<&str> = st.data_gears().map(|(n, _)| n).collect();
        assert_eq!(declared, ["cspace", "lookup"]);
        assert!(st.data_gear("objects").is_none(), "not declared");
        assert_eq!(st.ctx().thread.lookup.n_bits, 64 - level);
        assert_eq!(st.ctx().thread.lookup.levels, level as u32);
        assert_eq!(st.step().is_some(), level == 63, "only the last level ends the lookup");
    }
    assert!(st.current().is_none(), "the last level left the kernel");
    assert!(matches!(
        st.outcome(),
        Some(gears::Outcome::Exited(codegears::Done::Found { bits_remaining: 0, .. }))
    ));
}
