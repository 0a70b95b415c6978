//! The gear revoke against seL4's plain recursive loop over the same state: equal results under
//! injected preemption (a differential test). The cost ratio is in `cargo xtask bench revoke`.

use abi::label;
use gears::{Dispatcher, Mode};
use gears_tests::sel4::{Sel4, WORD_BITS, invariants, plain};
use metagears::InjectAt;

/// The root task with `copies` copies of an endpoint spread over radix-10 CNodes, plus CNodes
/// and TCBs whose only caps sit inside other CNodes (so the revoke goes through zombies).
fn scenario(copies: u64) -> (Sel4, u64) {
    let mut s = Sel4::boot(12, &[30]);
    let r = s.root();
    let ep = s.alloc_endpoint();
    s.checked = false;
    let mut left = copies;
    while left > 0 {
        let ct = s.alloc_cnode(10);
        for j in 0..left.min(1024) {
            assert_eq!(s.cnode_copy(ct, j, 10, r, ep, WORD_BITS, codegears::CapRights::ALL), Ok(()));
        }
        left -= left.min(1024);
    }
    let outer = s.alloc_cnode(4);
    for i in 0..4 {
        let inner = s.alloc_cnode(2);
        let t = s.alloc_tcb();
        assert_eq!(s.cnode_copy(inner, 1, 2, r, ep, WORD_BITS, codegears::CapRights::ALL), Ok(()));
        assert_eq!(s.cnode_move(outer, 2 * i, 4, r, inner, WORD_BITS), Ok(()));
        assert_eq!(s.cnode_move(outer, 2 * i + 1, 4, r, t, WORD_BITS), Ok(()));
    }
    s.checked = true;
    invariants(&s.k).unwrap();
    (s, ep)
}

#[test]
fn gear_revoke_equals_plain_revoke() {
    for (target, mode, every) in
        [(0usize, Mode::Restart, 3), (0, Mode::Resume, 2), (1, Mode::Restart, 1), (1, Mode::Resume, 5)]
    {
        let (mut s, ep) = scenario(3000);
        // Revoke the endpoint (target 0) or the untyped everything came from (target 1).
        let cptr = if target == 0 { ep } else { s.untyped(0) };
        let slot = s.slot(cptr);
        let mut expected = s.k.state.clone();
        plain::cte_revoke(&mut expected, slot);
        let r = s.root();
        let req = s.request(r, label::cnode::REVOKE, &[cptr, WORD_BITS], &[]);
        let mut d = Dispatcher::new(InjectAt::every_nth(every, mode));
        let (res, preemptions) = s.run(&mut d, req);
        assert_eq!(res, Ok(()));
        assert!(preemptions > 1);
        let same = gears_tests::sel4::without_reply(&s.k.state, &expected, s.thread) == expected;
        assert!(same, "target {target}, {mode}: the gear revoke and the plain loop differ");
        invariants(&s.k).unwrap();
    }
}
