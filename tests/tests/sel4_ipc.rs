//! sel4test's IPC0001–IPC0004 (`ipc.c`), ported: two helper threads exchange messages of every
//! length 0..=120 through one endpoint, the sender at priorities 98..=102 against a waiter at
//! 100, each started first in turn. The threads are scripts run as the scheduler picks them
//! (`Sel4::run_scripts`), every system call under the invariant checker. Each receive checks the
//! length and every word, as the sel4test helpers do.

use abi::MSG_MAX_LENGTH;
use std::cell::Cell;
use std::rc::Rc;

use codegears::ObjPtr;
use codegears::kernel::Done;
use codegears::object::ThreadState;

use gears_tests::sel4::{Sel4, ThreadStep};

/// `seed, seed + 1, …` (`len` words).
fn words(seed: u64, len: u64) -> Vec<u64> {
    (0..len).map(|i| seed.wrapping_add(i)).collect()
}

/// Asserts `t` received a message of `len` words `seed, seed + 1, …`.
fn check(s: &Sel4, t: ObjPtr, seed: u64, len: u64) {
    let (info, _, mrs) = s.received(t);
    assert_eq!(info.length(), len, "length");
    assert_eq!(mrs, words(seed, len), "message words of a {len}-word message");
}

/// Which helper pair a test runs (`test_func_t` pairs of `ipc.c`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Pair {
    SendWait,
    CallReplyRecv,
    CallReplyAndWait,
    NbSendWait,
}

/// The sender's script (`send_func`, `call_func`, `nbsend_func`).
fn sender(pair: Pair, ep: u64, t: ObjPtr, seed: u64, done: Rc<Cell<u64>>) -> Vec<ThreadStep> {
    let mut steps: Vec<ThreadStep> = Vec::new();
    let mut seed = seed;
    for len in 0..=MSG_MAX_LENGTH {
        let msg = words(seed, len);
        seed += len;
        let reply_seed = seed;
        match pair {
            Pair::SendWait => steps.push(Box::new(move |s: &mut Sel4| {
                assert!(s.send(ep, 0, &msg).is_ok());
            })),
            Pair::NbSendWait => steps.push(Box::new(move |s: &mut Sel4| {
                assert_eq!(s.nb_send(ep, 0, &msg), Ok(Done::Ok), "NBSend never blocks");
            })),
            Pair::CallReplyRecv | Pair::CallReplyAndWait => {
                steps.push(Box::new(move |s: &mut Sel4| {
                    assert!(s.call(ep, 0, &msg).is_ok());
                }));
                // The reply: `len` words from where the replier's seed got to.
                seed += len;
                steps.push(Box::new(move |s: &mut Sel4| check(s, t, reply_seed, len)));
            }
        }
    }
    steps.push(Box::new(move |_: &mut Sel4| done.set(done.get() + 1)));
    steps
}

/// The waiter's script (`wait_func`, `replywait_func`, `reply_and_wait_func`, `nbwait_func`).
fn waiter(
    pair: Pair,
    ep: u64,
    t: ObjPtr,
    seed: u64,
    should_wait: bool,
    done: Rc<Cell<u64>>,
) -> Vec<ThreadStep> {
    let mut steps: Vec<ThreadStep> = Vec::new();
    if pair == Pair::NbSendWait && !should_wait {
        return steps;
    }
    steps.push(Box::new(move |s: &mut Sel4| {
        assert!(s.recv(ep).is_ok());
    }));
    let mut seed = seed;
    for len in 0..=MSG_MAX_LENGTH {
        let got = seed;
        seed += len;
        let last = len == MSG_MAX_LENGTH;
        match pair {
            Pair::SendWait | Pair::NbSendWait => steps.push(Box::new(move |s: &mut Sel4| {
                check(s, t, got, len);
                if !last {
                    assert!(s.recv(ep).is_ok());
                }
            })),
            Pair::CallReplyRecv => {
                let reply = words(seed, len);
                seed += len;
                steps.push(Box::new(move |s: &mut Sel4| {
                    check(s, t, got, len);
                    if last {
                        assert_eq!(s.reply(0, &reply), Ok(Done::Ok));
                    } else {
                        assert!(s.reply_recv(ep, 0, &reply).is_ok());
                    }
                }));
            }
            Pair::CallReplyAndWait => {
                let reply = words(seed, len);
                seed += len;
                steps.push(Box::new(move |s: &mut Sel4| {
                    check(s, t, got, len);
                    assert_eq!(s.reply(0, &reply), Ok(Done::Ok));
                    if !last {
                        assert!(s.recv(ep).is_ok());
                    }
                }));
            }
        }
    }
    steps.push(Box::new(move |_: &mut Sel4| done.set(done.get() + 1)));
    steps
}

/// `test_ipc_pair` on one core: sender priorities 98..=102 against a waiter at 100, each
/// started first in turn; both helpers must finish their scripts. Returns how many rounds ran.
fn test_ipc_pair(pair: Pair) -> u64 {
    let mut s = Sel4::boot(12, &[20, 24]);
    let ep = s.alloc_endpoint();
    let mut start = 0xabba_cafe_u64;
    let mut rounds = 0;
    for sender_prio in 98u8..=102 {
        let waiter_prio = 100u8;
        let should_wait = sender_prio < waiter_prio;
        for sender_first in [false, true] {
            // Started in this order, they are queued in this order: at equal priorities the first
            // started runs first (seL4 queues at the head, so sel4test starts them the other way).
            let ((a_cap, a), (b_cap, b)) = if sender_first {
                let a = s.spawn(sender_prio);
                (a, s.spawn(waiter_prio))
            } else {
                let b = s.spawn(waiter_prio);
                (s.spawn(sender_prio), b)
            };
            let done = Rc::new(Cell::new(0));
            let mut scripts = vec![
                (a, sender(pair, ep, a, start, done.clone())),
                (b, waiter(pair, ep, b, start, should_wait, done.clone())),
            ];
            let waiter_steps = scripts.iter().find(|(t, _)| *t == b).map(|(_, v)| v.len()).unwrap_or(0);
            let order = s.run_scripts(&mut scripts);
            // The scheduler runs the higher priority first; at equal priorities, the first started.
            let first = match sender_prio.cmp(&waiter_prio) {
                _ if waiter_steps == 0 => a,
                std::cmp::Ordering::Greater => a,
                std::cmp::Ordering::Less => b,
                std::cmp::Ordering::Equal if sender_first => a,
                std::cmp::Ordering::Equal => b,
            };
            assert_eq!(
                order.first(),
                Some(&first),
                "{pair:?}: who runs first at {sender_prio}/{waiter_prio}"
            );
            assert!(
                scripts.iter().all(|(_, v)| v.is_empty()),
                "{pair:?} {sender_prio}/{waiter_prio}: a helper did not finish"
            );
            assert_eq!(done.get(), if waiter_steps == 0 { 1 } else { 2 });
            if pair == Pair::NbSendWait && !should_wait {
                // Nobody waited: every NBSend was dropped.
                assert_eq!(s.received(b).2, Vec::<u64>::new());
            }
            // Both helpers are runnable again and the endpoint is idle.
            assert!(s.state(a).is_runnable() && s.state(b).is_runnable());
            let ep_ptr = s.obj_ptr(ep);
            let e = s.k.state.objects.endpoint(ep_ptr);
            assert!(e.queue.is_empty());
            // cleanup_helper
            for c in [a_cap, b_cap] {
                assert_eq!(s.suspend(c), Ok(Done::Ok));
            }
            assert_eq!(s.state(a), ThreadState::Inactive);
            start = start.wrapping_add(0x7171_7171);
            rounds += 1;
        }
    }
    // cnode_delete(env, ep)
    let r = s.root();
    assert_eq!(s.cnode_delete(r, ep, 64), Ok(()));
    assert!(s.checks > 0);
    rounds
}

#[test]
fn ipc0001_send_recv() {
    assert_eq!(test_ipc_pair(Pair::SendWait), 10);
}

#[test]
fn ipc0002_call_reply_recv() {
    assert_eq!(test_ipc_pair(Pair::CallReplyRecv), 10);
}

#[test]
fn ipc0003_call_reply_and_recv() {
    assert_eq!(test_ipc_pair(Pair::CallReplyAndWait), 10);
}

#[test]
fn ipc0004_nbsend_recv() {
    assert_eq!(test_ipc_pair(Pair::NbSendWait), 10);
}
