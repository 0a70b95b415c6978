//! The IPC fastpath (`codegears::fastpath`): a covered Call or ReplyRecv leaves exactly the
//! kernel state the general gears leave, and every call it does not cover goes to the general
//! gears untouched.

use abi::{CapRights, MessageInfo, Syscall};
use codegears::entry::{self, End, Event, Start};
use codegears::kernel::{Done, KernelState, tcb_slot};
use codegears::object::ThreadState;
use codegears::{ObjPtr, SlotRef};
use gears::{Dispatcher, Gear};
use gears_tests::sel4::{Sel4, WORD_BITS};
use metagears::Tracer;
use proptest::prelude::*;

/// A server (priority 200) waiting in Recv on an endpoint and a client (priority 100), with the
/// endpoint cap the client calls through minted with `rights` and `badge`; the server receives
/// through the unbadged cap with all rights, or with read only (no grant) if not `server_grant`.
/// Returns the kernel, the server's cap, the client's, the server and the client.
fn pair(rights: CapRights, badge: u64, server_grant: bool) -> (Sel4, u64, u64, ObjPtr, ObjPtr) {
    pair_at(rights, badge, server_grant, (200, 100))
}

/// [`pair`] with the server's and the client's priorities.
fn pair_at(
    rights: CapRights,
    badge: u64,
    server_grant: bool,
    (server_prio, client_prio): (u8, u8),
) -> (Sel4, u64, u64, ObjPtr, ObjPtr) {
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let (minted, server_cap) = (s.free_slot(), s.free_slot());
    let r = s.root();
    s.cnode_mint(r, minted, WORD_BITS, r, ep, WORD_BITS, rights, badge).expect("mint");
    let server_rights = if server_grant { CapRights::ALL } else { CapRights::from_word(2) };
    s.cnode_mint(r, server_cap, WORD_BITS, r, ep, WORD_BITS, server_rights, 0).expect("mint");
    let (_, server) = s.spawn(server_prio);
    let (_, client) = s.spawn(client_prio);
    assert_eq!(s.as_thread(server, |s| s.recv(server_cap)), Ok(Done::Blocked));
    (s, server_cap, minted, server, client)
}

/// One system call of `t` run from `gear` (None: the kernel's own start, `handle_syscall`),
/// under a tracer: how it ended and the gears it went through.
fn run_from(
    s: &mut Sel4,
    t: ObjPtr,
    syscall: Syscall,
    cptr: u64,
    info: MessageInfo,
    mrs: &[u64],
    gear: Option<&'static Gear<codegears::Kernel>>,
) -> (End, String) {
    s.as_thread(t, |s| {
        s.load_call(syscall, cptr, info, mrs, &[]);
        entry::activate_thread(&mut s.k, t);
        let mut d = Dispatcher::new(Tracer::new());
        let Ok(Start::Run(first)) = entry::start(&mut s.k, &mut s.machine, Event::Syscall) else {
            panic!("not a system call of the gears");
        };
        let outcome = d.run(&mut s.k, gear.unwrap_or(first));
        let end = entry::finish(&mut s.k, &mut d, &mut s.machine, outcome).expect("the entry ends");
        gears_tests::sel4::invariants(&s.k).expect("invariants");
        (end, d.meta().trace().to_string())
    })
}

/// The state both ways give, and whether the kernel's start went through the fastpath's gear
/// to its end (`fast`) or on to the general gears.
fn both_ways(
    s: &Sel4,
    t: ObjPtr,
    syscall: Syscall,
    cptr: u64,
    info: MessageInfo,
    mrs: &[u64],
) -> (KernelState, KernelState, bool) {
    let general = match syscall {
        Syscall::Call => &codegears::lookup::HANDLE_INVOCATION,
        _ => &codegears::syscall::HANDLE_REPLY,
    };
    // The general gears are entered past handle_syscall's check that the caller may run.
    assert!(s.k.state.objects.thread_state(t).is_runnable(), "a blocked thread makes no call");
    let (mut a, mut b) = (s.clone(), s.clone());
    let (end_a, trace) = run_from(&mut a, t, syscall, cptr, info, mrs, None);
    let (end_b, _) = run_from(&mut b, t, syscall, cptr, info, mrs, Some(general));
    assert_eq!(end_a, end_b, "both ways end alike");
    let fast = trace.contains("fastpath") && !trace.contains(general.name());
    (a.k.state, b.k.state, fast)
}

#[test]
fn a_short_call_and_reply_recv_take_the_fastpath() {
    let (mut s, ep, _, server, client) = pair(CapRights::ALL, 0, true);
    let info = MessageInfo::new(9, 0, 0, 2);
    let (fast, general, took) = both_ways(&s, client, Syscall::Call, ep, info, &[1, 2]);
    assert!(took, "the fastpath took it");
    assert!(fast == general, "the fastpath's Call leaves what the general gears leave");
    run_from(&mut s, client, Syscall::Call, ep, info, &[1, 2], None);
    assert_eq!(s.received(server), (MessageInfo::new(9, 0, 0, 2), 0, vec![1, 2]));
    assert_eq!(s.state(client), ThreadState::BlockedOnReply);
    let caller = SlotRef::of(server, tcb_slot::CALLER);
    assert!(!s.k.state.cspace.cap(caller).is_null(), "the server holds the reply cap");
    let info = MessageInfo::new(3, 0, 0, 1);
    let (fast, general, took) = both_ways(&s, server, Syscall::ReplyRecv, ep, info, &[5]);
    assert!(took);
    assert!(fast == general, "the fastpath's ReplyRecv leaves what the general gears leave");
    run_from(&mut s, server, Syscall::ReplyRecv, ep, info, &[5], None);
    assert_eq!(s.received(client), (MessageInfo::new(3, 0, 0, 1), 0, vec![5]));
    assert_eq!(s.state(client), ThreadState::Running);
    assert_eq!(s.state(server), ThreadState::BlockedOnReceive { ep: s.obj_ptr(ep), can_grant: true });
    assert!(s.k.state.cspace.cap(caller).is_null(), "the reply cap is gone");
}

#[test]
fn what_the_fastpath_does_not_cover_goes_to_the_general_gears() {
    let (s, ep, _, _, client) = pair(CapRights::ALL, 0, true);
    // Five words (one in the IPC buffer), a cap, no waiting receiver, a cap without grant.
    let (_, _, took) =
        both_ways(&s, client, Syscall::Call, ep, MessageInfo::new(0, 0, 0, 5), &[1, 2, 3, 4, 5]);
    assert!(!took, "five words");
    let (_, _, took) = both_ways(&s, client, Syscall::Call, ep, MessageInfo::new(0, 0, 1, 0), &[]);
    assert!(!took, "a cap");
    let empty = s.clone().free_slot();
    let (_, _, took) = both_ways(&s, client, Syscall::Call, empty, MessageInfo::new(0, 0, 0, 0), &[]);
    assert!(!took, "an empty slot");
    let no_grant = CapRights { grant: false, grant_reply: false, ..CapRights::ALL };
    let (s2, _, minted2, _, client2) = pair(no_grant, 0, true);
    let (fast, general, took) =
        both_ways(&s2, client2, Syscall::Call, minted2, MessageInfo::new(0, 0, 0, 0), &[]);
    assert!(!took, "no grant right: the caller is left Inactive by the general path");
    assert!(fast == general);
    // ReplyRecv with no reply cap to answer.
    let (_, _, took) = both_ways(&s, client, Syscall::ReplyRecv, ep, MessageInfo::new(0, 0, 0, 0), &[]);
    assert!(!took, "no caller to reply to");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Any short Call and ReplyRecv, whatever the rights and badge of the caps and the words:
    /// the two ways leave the same kernel state.
    #[test]
    fn the_fastpath_leaves_what_the_general_path_leaves(
        rights in 0u64..16,
        badge in 0u64..4,
        len in 0u64..=5,
        label in 0u64..4,
        words in proptest::collection::vec(any::<u64>(), 5),
        server_grant in any::<bool>(),
        // sel4bench's threads share a priority (254); a server above or below its client too.
        prios in prop_oneof![Just((254u8, 254u8)), Just((200, 100)), Just((100, 200))],
    ) {
        let (mut s, ep, minted, server, client) = pair_at(CapRights::from_word(rights), badge, server_grant, prios);
        let info = MessageInfo::new(label, 0, 0, len);
        let (fast, general, _) = both_ways(&s, client, Syscall::Call, minted, info, &words[..len as usize]);
        prop_assert!(fast == general);
        run_from(&mut s, client, Syscall::Call, minted, info, &words[..len as usize], None);
        if s.state(server).is_runnable() {
            let (fast, general, _) = both_ways(&s, server, Syscall::ReplyRecv, ep, info, &words[..len as usize]);
            prop_assert!(fast == general);
        }
    }
}
