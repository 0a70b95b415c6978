//! sel4test's IPCRIGHTS0001–0005 (`ipc_rights.c`), ported for every combination of the four
//! rights (write, read, grant, grant-reply): Send needs write, Recv needs read, caps go only
//! with grant, Call needs grant or grant-reply (else the caller is left Inactive), and a reply
//! may grant only when the receive that took the call was on a cap with grant. The root task is
//! the test thread, one helper thread the other end; each step runs as one of them.

use abi::{CapRights, MessageInfo, Syscall};
use codegears::cap::Cap;
use codegears::fault::Fault;
use codegears::kernel::Done;
use codegears::object::ThreadState;

use codegears::{LookupFault, SyscallError};
use gears_tests::sel4::{Sel4, WORD_BITS};

const MAGIC1: u64 = 42;
const MAGIC2: u64 = 0xDEAD_BEEF;
const MAGIC3: u64 = 666;

fn env() -> Sel4 {
    Sel4::boot(10, &[20, 22])
}

/// MR0 of what thread `t` last received.
fn mr0(s: &Sel4, t: codegears::ObjPtr) -> u64 {
    s.received(t).2.first().copied().unwrap_or(0)
}

#[test]
fn ipcrights0001_send_needs_write() {
    let mut s = env();
    let ep = s.alloc_endpoint();
    let root = s.info.root_tcb;
    for i in 0..16 {
        let rights = CapRights::from_word(i);
        let (tc, t) = s.spawn(100);
        // check_recv: the helper waits.
        assert_eq!(s.as_thread(t, |s| s.recv(ep)), Ok(Done::Blocked));
        let ep_mint = s.mint(ep, rights, 0);
        if !rights.write {
            // Without write the send is refused and delivers nothing.
            assert_eq!(s.send(ep_mint, 0, &[MAGIC2]), Err(SyscallError::InvalidCapability { cap: 0 }));
            assert!(matches!(s.state(t), ThreadState::BlockedOnReceive { .. }));
        }
        assert_eq!(s.send(ep, 0, &[MAGIC1]), Ok(Done::Ok));
        assert_eq!(mr0(&s, t), MAGIC1, "rights {i:#x}: the helper got the message sent with write");
        // The rendez-vous.
        assert_eq!(s.as_thread(t, |s| s.recv(ep)), Ok(Done::Blocked));
        assert_eq!(s.send(ep, 0, &[MAGIC1]), Ok(Done::Ok));
        assert_eq!(s.state(root), ThreadState::Running);
        assert_eq!(s.suspend(tc), Ok(Done::Ok));
        let r = s.root();
        assert_eq!(s.cnode_delete(r, ep_mint, WORD_BITS), Ok(()));
    }
}

#[test]
fn ipcrights0002_recv_needs_read() {
    let mut s = env();
    let ep = s.alloc_endpoint();
    let fault_ep = s.alloc_endpoint();
    for i in 0..16 {
        let rights = CapRights::from_word(i);
        let ep_mint = s.mint(ep, rights, 0);
        let (tc, t) = s.spawn(100);
        s.set_fault_handler(tc, fault_ep); // api_tcb_set_space(helper, fault_ep, …)
        let out = s.as_thread(t, |s| s.recv(ep_mint));
        if rights.read {
            assert_eq!(out, Ok(Done::Blocked));
            assert_eq!(s.send(ep, 0, &[MAGIC1]), Ok(Done::Ok));
            assert_eq!(mr0(&s, t), MAGIC1);
            assert_eq!(s.as_thread(t, |s| s.recv(ep_mint)), Ok(Done::Blocked));
            assert_eq!(s.send(ep, 0, &[MAGIC1]), Ok(Done::Ok));
        } else {
            // The Recv ends in a cap fault (missing capability, receive phase), which the kernel
            // sends to the helper's fault handler; the test thread receives it (api_recv(fault_ep)).
            let fault = LookupFault::MissingCapability { bits_left: 0 };
            let e = out.expect_err("a cap fault");
            assert_eq!(e, SyscallError::CapFault { cptr: ep_mint, fault }, "rights {i:#x}");
            assert!(Fault::from_syscall_error(&e, Syscall::Recv).is_some(), "a fault the kernel sent on");
            assert_eq!(s.recv(fault_ep), Ok(Done::Ok));
            let (info, _, mrs) = s.received(s.info.root_tcb);
            assert_eq!(info.label(), abi::fault::CAP_FAULT);
            assert_eq!(mrs[1..], [ep_mint, 1, 2, 0], "address, receive phase, missing capability");
            assert_eq!(s.state(t), ThreadState::BlockedOnReply);
        }
        assert_eq!(s.suspend(tc), Ok(Done::Ok));
        let r = s.root();
        assert_eq!(s.cnode_delete(r, ep_mint, WORD_BITS), Ok(()));
    }
}

#[test]
fn ipcrights0003_send_with_caps_needs_grant() {
    let mut s = env();
    let ep = s.alloc_endpoint();
    let return_ep = s.alloc_endpoint();
    let root = s.info.root_tcb;
    let r = s.root();
    for i in 0..16 {
        let rights = CapRights::from_word(i);
        if !rights.write {
            continue;
        }
        let ep_mint = s.mint(ep, rights, 0);
        let (tc, t) = s.spawn(100);
        // check_recv_cap: the helper sets its receive path and waits.
        let recv_slot = s.free_slot();
        s.set_cap_receive_path(t, r, recv_slot, WORD_BITS);
        assert_eq!(s.as_thread(t, |s| s.recv(ep)), Ok(Done::Blocked));
        assert_eq!(s.send_caps(ep_mint, 0, &[MAGIC1], &[return_ep]), Ok(Done::Ok));
        assert_eq!(mr0(&s, t), MAGIC1);
        let (info, _, _) = s.received(t);
        assert_eq!(info.extra_caps(), rights.grant as u64, "rights {i:#x}");
        if rights.grant {
            assert!(!s.is_slot_empty(recv_slot), "with grant the cap arrives");
            assert_eq!(s.obj_ptr(recv_slot), s.obj_ptr(return_ep));
            assert_eq!(s.recv(return_ep), Ok(Done::Blocked));
            assert_eq!(s.as_thread(t, |s| s.send(recv_slot, 0, &[MAGIC2])), Ok(Done::Ok));
            assert_eq!(mr0(&s, root), MAGIC2);
            assert_eq!(s.as_thread(t, |s| s.cnode_delete(r, recv_slot, WORD_BITS)), Ok(()));
        }
        assert!(s.is_slot_empty(recv_slot));
        assert_eq!(s.as_thread(t, |s| s.send(ep, 0, &[MAGIC3])), Ok(Done::Blocked));
        assert_eq!(s.recv(ep), Ok(Done::Ok));
        assert_eq!(mr0(&s, root), MAGIC3);
        assert_eq!(s.suspend(tc), Ok(Done::Ok));
        assert_eq!(s.cnode_delete(r, ep_mint, WORD_BITS), Ok(()));
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Nothing,
    SaveCaller,
    ReplyRecv,
}

#[test]
fn ipcrights0004_call_needs_grant_or_grant_reply() {
    let mut s = env();
    let ep = s.alloc_endpoint();
    let root = s.info.root_tcb;
    let r = s.root();
    let reply = s.free_slot();
    let ep_mint = s.free_slot();
    for mode in [Mode::Nothing, Mode::SaveCaller, Mode::ReplyRecv] {
        for i in 0..16 {
            let rights = CapRights::from_word(i);
            if !rights.write {
                continue;
            }
            let can_reply = rights.grant || rights.grant_reply;
            assert_eq!(s.cnode_copy(r, ep_mint, WORD_BITS, r, ep, WORD_BITS, rights), Ok(()));
            let (tc, t) = s.spawn(100);
            // check_call: the helper calls first.
            assert_eq!(s.as_thread(t, |s| s.call(ep_mint, 0, &[MAGIC1])), Ok(Done::Blocked));
            assert_eq!(s.recv(ep), Ok(Done::Ok));
            if can_reply {
                assert_eq!(mr0(&s, root), MAGIC1);
                assert_eq!(s.state(t), ThreadState::BlockedOnReply);
                match mode {
                    Mode::Nothing => {
                        assert_eq!(s.reply(0, &[MAGIC2]), Ok(Done::Ok));
                        assert_eq!(s.cnode_save_caller(r, reply, WORD_BITS), Ok(()));
                        assert!(s.is_slot_empty(reply), "the reply used the caller cap");
                    }
                    Mode::SaveCaller => {
                        assert_eq!(s.cnode_save_caller(r, reply, WORD_BITS), Ok(()));
                        assert!(!s.is_slot_empty(reply));
                        assert!(matches!(s.cap(reply), Cap::Reply { master: false, .. }));
                        assert_eq!(s.send(reply, 0, &[MAGIC2]), Ok(Done::Ok));
                        assert!(s.is_slot_empty(reply), "replying through it deleted it");
                    }
                    Mode::ReplyRecv => {
                        assert_eq!(s.reply_recv(ep, 0, &[MAGIC1]), Ok(Done::Blocked));
                        assert_eq!(mr0(&s, t), MAGIC1);
                        assert_eq!(s.as_thread(t, |s| s.call(ep_mint, 0, &[MAGIC1])), Ok(Done::Blocked));
                        assert_eq!(s.state(root), ThreadState::Running);
                        assert_eq!(s.reply(0, &[MAGIC2]), Ok(Done::Ok));
                        assert_eq!(s.cnode_save_caller(r, reply, WORD_BITS), Ok(()));
                        assert!(s.is_slot_empty(reply));
                    }
                }
                assert_eq!(s.state(t), ThreadState::Running);
                assert_eq!(mr0(&s, t), MAGIC2);
                assert_eq!(s.as_thread(t, |s| s.send(ep, 0, &[MAGIC2])), Ok(Done::Blocked));
                assert_eq!(s.recv(ep), Ok(Done::Ok));
                assert_eq!(mr0(&s, root), MAGIC2);
            } else {
                // Without grant or grant-reply the caller is left Inactive, with no reply cap.
                assert_eq!(s.state(t), ThreadState::Inactive, "rights {i:#x}");
                assert_eq!(s.cnode_save_caller(r, reply, WORD_BITS), Ok(()));
                assert!(s.is_slot_empty(reply));
                assert_eq!(s.cnode_delete(r, ep_mint, WORD_BITS), Ok(()));
                assert_eq!(s.cnode_copy(r, ep_mint, WORD_BITS, r, ep, WORD_BITS, CapRights::ALL), Ok(()));
                // Resumed, it runs its Call again, now with every right.
                assert_eq!(s.resume(tc), Ok(Done::Ok));
                assert_eq!(s.state(t), ThreadState::Restart);
                assert_eq!(s.as_thread(t, |s| s.call(ep_mint, 0, &[MAGIC1])), Ok(Done::Blocked));
                assert_eq!(s.recv(ep), Ok(Done::Ok));
                assert_eq!(s.cnode_save_caller(r, reply, WORD_BITS), Ok(()));
                assert!(!s.is_slot_empty(reply));
                // Suspending the caller deletes the reply cap to it.
                assert_eq!(s.suspend(tc), Ok(Done::Ok));
                assert!(s.is_slot_empty(reply));
            }
            assert_eq!(s.suspend(tc), Ok(Done::Ok));
            assert_eq!(s.cnode_delete(r, ep_mint, WORD_BITS), Ok(()));
        }
    }
}

#[test]
fn ipcrights0005_reply_grant_depends_on_the_receive() {
    let mut s = env();
    let ep = s.alloc_endpoint();
    let return_ep = s.alloc_endpoint();
    let root = s.info.root_tcb;
    let r = s.root();
    let reply = s.free_slot();
    let ep_mint = s.free_slot();
    for mode in [Mode::Nothing, Mode::SaveCaller, Mode::ReplyRecv] {
        for i in 0..16 {
            let rights = CapRights::from_word(i);
            if !rights.read {
                continue;
            }
            assert_eq!(s.cnode_copy(r, ep_mint, WORD_BITS, r, ep, WORD_BITS, rights), Ok(()));
            let (tc, t) = s.spawn(100);
            // check_call_return_cap: the helper sets its receive path and calls.
            let recv_slot = s.free_slot();
            s.set_cap_receive_path(t, r, recv_slot, WORD_BITS);
            assert_eq!(s.as_thread(t, |s| s.call(ep, 0, &[MAGIC1])), Ok(Done::Blocked));
            assert_eq!(s.recv(ep_mint), Ok(Done::Ok));
            assert_eq!(mr0(&s, root), MAGIC1);
            let with_cap = MessageInfo::new(0, 0, 1, 1);
            if mode == Mode::SaveCaller {
                assert_eq!(s.cnode_save_caller(r, reply, WORD_BITS), Ok(()));
                assert!(!s.is_slot_empty(reply));
                assert_eq!(s.sys(Syscall::Send, reply, with_cap, &[MAGIC2], &[return_ep]), Ok(Done::Ok));
                assert!(s.is_slot_empty(reply));
            } else {
                if mode == Mode::ReplyRecv {
                    assert_eq!(s.reply_recv(ep_mint, 0, &[MAGIC1]), Ok(Done::Blocked));
                    assert_eq!(s.as_thread(t, |s| s.call(ep, 0, &[MAGIC1])), Ok(Done::Blocked));
                }
                assert_eq!(s.sys(Syscall::Reply, 0, with_cap, &[MAGIC2], &[return_ep]), Ok(Done::Ok));
            }
            assert_eq!(mr0(&s, t), MAGIC2);
            assert_eq!(s.received(t).0.extra_caps(), rights.grant as u64, "rights {i:#x} {mode:?}");
            if rights.grant {
                assert!(!s.is_slot_empty(recv_slot), "the reply carried the cap");
                assert_eq!(s.recv(return_ep), Ok(Done::Blocked));
                assert_eq!(s.as_thread(t, |s| s.send(recv_slot, 0, &[MAGIC3])), Ok(Done::Ok));
                assert_eq!(mr0(&s, root), MAGIC3);
                assert_eq!(s.as_thread(t, |s| s.cnode_delete(r, recv_slot, WORD_BITS)), Ok(()));
            }
            assert!(s.is_slot_empty(recv_slot));
            assert_eq!(s.as_thread(t, |s| s.send(ep, 0, &[MAGIC3])), Ok(Done::Blocked));
            assert_eq!(s.recv(ep), Ok(Done::Ok));
            assert_eq!(mr0(&s, root), MAGIC3);
            assert_eq!(s.suspend(tc), Ok(Done::Ok));
            assert_eq!(s.cnode_delete(r, ep_mint, WORD_BITS), Ok(()));
        }
    }
}
