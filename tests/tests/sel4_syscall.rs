//! The system-call path as gears: `seL4_TCB_ReadRegisters` and `seL4_TCB_WriteRegisters` through
//! `handle_syscall` → `handle_invocation` → lookups → `decode_invocation` →
//! `decode_tcb_invocation` → `decode_read_registers` → `invoke_tcb_read_registers`, the path the
//! seed article `001_…` traces by hand, as a trace snapshot.

use abi::{MessageInfo, Syscall, label};
use codegears::cap::Cap;

use codegears::entry::{End, Event};
use codegears::message::error_reply;
use codegears::object::ThreadState;
use codegears::{ObjPtr, SyscallError};
use gears::Dispatcher;
use gears_tests::sel4::Sel4;
use metagears::Tracer;

/// The root task and a second thread whose registers are 100, 101, … (written with WriteRegisters).
fn two_threads() -> (Sel4, u64, ObjPtr) {
    let mut s = Sel4::boot(10, &[20]);
    let t = s.alloc_tcb();
    let Cap::Thread { ptr } = s.cap(t) else { panic!("a TCB") };
    let mut mrs = vec![0, 20];
    mrs.extend(100..120);
    let info = MessageInfo::new(label::tcb::WRITE_REGISTERS, 0, 0, mrs.len() as u64).word();
    assert_eq!(s.syscall(Syscall::Call, t, info, &mrs, &[]), Ok(()));
    (s, t, ptr)
}

fn tcb_state(s: &Sel4, p: ObjPtr) -> ThreadState {
    assert!(s.is_live(p), "no TCB at {p:?}");
    s.k.state.objects.thread_state(p)
}

#[test]
fn read_registers_trace_snapshot() {
    let (mut s, t, _) = two_threads();
    let info = MessageInfo::new(label::tcb::READ_REGISTERS, 0, 0, 2);
    s.load_call(Syscall::Call, t, info, &[0, 3], &[]);
    let mut d = Dispatcher::new(Tracer::new());
    assert_eq!(s.enter(&mut d, Event::Syscall), Ok(End::Done(codegears::Done::Ok)));
    insta::assert_snapshot!(d.meta().trace().to_string(), @"
    . p536870912 start handle_syscall
    0 p536870912 handle_syscall -> fastpath_call
    1 p536870912 fastpath_call -> handle_invocation
    2 p536870912 handle_invocation -> resolve_address_bits
    3 p536870912 resolve_address_bits -> lookup_extra_caps
    4 p536870912 lookup_extra_caps -> decode_invocation
    5 p536870912 decode_invocation -> decode_tcb_invocation
    6 p536870912 decode_tcb_invocation -> decode_read_registers
    7 p536870912 decode_read_registers -> invoke_tcb_read_registers
    8 p536870912 invoke_tcb_read_registers -> invocation_done
    9 p536870912 invocation_done -> exit Ok
    ");
    // The reply: a MessageInfo of length 3 and the first three registers.
    let root = s.info.root_tcb;
    // RFLAGS (the third) reads back sanitised, as WriteRegisters left it.
    assert_eq!(s.received(root), (MessageInfo::new(0, 0, 0, 3), 0, vec![100, 101, 0x246]));
    assert_eq!(tcb_state(&s, s.info.root_tcb), ThreadState::Running);
}

#[test]
fn read_registers_errors_and_suspend() {
    let (mut s, t, ptr) = two_threads();
    let rr = |n: u64| MessageInfo::new(label::tcb::READ_REGISTERS, 0, 0, n).word();
    let max = s.k.state.arch.register_count() as u64;
    assert_eq!(
        s.syscall(Syscall::Call, t, rr(2), &[0, 0], &[]),
        Err(SyscallError::RangeError { min: 1, max })
    );
    assert_eq!(
        s.syscall(Syscall::Call, t, rr(2), &[0, max + 1], &[]),
        Err(SyscallError::RangeError { min: 1, max })
    );
    assert_eq!(
        s.syscall(Syscall::Call, t, rr(1), &[0, 3], &[]),
        Err(SyscallError::TruncatedMessage),
        "length 1 cuts the message"
    );
    let own = abi::bootinfo::CAP_INIT_THREAD_TCB;
    assert_eq!(s.syscall(Syscall::Call, own, rr(2), &[0, 3], &[]), Err(SyscallError::IllegalOperation));
    // All twenty, suspending the source.
    assert_eq!(s.syscall(Syscall::Call, t, rr(2), &[1, max], &[]), Ok(()));
    let root = s.info.root_tcb;
    let mut written: Vec<u64> = (100..120).collect();
    // WriteRegisters sanitised RFLAGS (seL4's `sanitiseRegister`).
    written[abi::x86_64::reg::RFLAGS] =
        codegears::fault::sanitise_register(s.k.state.arch, abi::x86_64::reg::RFLAGS, 102);
    assert_eq!(s.received(root).2, written);
    assert_eq!(tcb_state(&s, ptr), ThreadState::Inactive);
    // A Send gets no reply.
    assert_eq!(s.syscall(Syscall::Send, t, rr(2), &[0, 2], &[]), Ok(()));
    assert_eq!(s.received(root).2, [0, 2], "no reply: the registers hold what the Send sent");
    // The error reply a Call gets for the range error: its code as the label, then the range.
    let (code, words) = error_reply(&SyscallError::RangeError { min: 1, max }).unwrap();
    assert_eq!((code, words.as_slice()), (abi::Error::RangeError.code(), &[1, max][..]));
    assert_eq!(
        s.syscall(Syscall::Call, t, rr(2), &[0, 0], &[]),
        Err(SyscallError::RangeError { min: 1, max })
    );
    assert_eq!(s.received(root), (MessageInfo::new(code, 0, 0, 2), 0, vec![1, max]));
}

#[test]
fn write_registers_checks_and_resumes() {
    let (mut s, t, ptr) = two_threads();
    let wr = |n: u64| MessageInfo::new(label::tcb::WRITE_REGISTERS, 0, 0, n).word();
    assert_eq!(s.syscall(Syscall::Call, t, wr(3), &[0, 2, 7], &[]), Err(SyscallError::TruncatedMessage));
    let own = abi::bootinfo::CAP_INIT_THREAD_TCB;
    assert_eq!(s.syscall(Syscall::Call, own, wr(3), &[0, 1, 7], &[]), Err(SyscallError::IllegalOperation));
    assert_eq!(s.syscall(Syscall::Call, t, wr(3), &[1, 1, 7], &[]), Ok(()));
    assert_eq!(tcb_state(&s, ptr), ThreadState::Restart, "resumed");
    let tcb = s.k.state.objects.tcb(ptr);
    assert_eq!(tcb.registers[..2], [7, 101]);
}

#[test]
fn other_syscalls_and_labels() {
    let (mut s, t, _) = two_threads();
    assert_eq!(s.syscall(Syscall::Yield, 0, 0, &[], &[]), Ok(()));
    // Receiving on a TCB cap is a cap fault (seL4's handleRecv: missing capability); the
    // thread, without a fault handler, stops (a helper, so the root task goes on).
    let (_, helper) = s.spawn(100);
    assert_eq!(
        s.as_thread(helper, |s| s.syscall(Syscall::Recv, t, 0, &[], &[])),
        Err(SyscallError::CapFault {
            cptr: t,
            fault: codegears::LookupFault::MissingCapability { bits_left: 0 }
        })
    );
    let unknown = MessageInfo::new(99, 0, 0, 0).word();
    assert_eq!(s.syscall(Syscall::Call, t, unknown, &[], &[]), Err(SyscallError::IllegalOperation));
    // A CNode invocation through the syscall entry: extra caps come from the MessageInfo.
    let r = s.root();
    let d = s.free_slot();
    let copy = MessageInfo::new(label::cnode::COPY, 0, 1, 5).word();
    assert_eq!(s.syscall(Syscall::Call, r, copy, &[d, 64, t, 64, 0xf], &[r]), Ok(()));
    assert_eq!(s.cap(d), s.cap(t));
    let d2 = s.free_slot();
    let no_extra = MessageInfo::new(label::cnode::COPY, 0, 0, 5).word();
    assert_eq!(
        s.syscall(Syscall::Call, r, no_extra, &[d2, 64, t, 64, 0xf], &[r]),
        Err(SyscallError::TruncatedMessage)
    );
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config { cases: 2000, failure_persistence: None, ..Default::default() })]

    /// Any system call number, MessageInfo word, cptr and message: no panic; success, or an seL4
    /// error code / cap fault with the kernel state unchanged; the invariants hold.
    #[test]
    fn arbitrary_syscalls_never_panic(
        syscall in -10i64..2,
        info in proptest::prelude::any::<u64>(),
        cptr in proptest::prop_oneof![0u64..40, proptest::prelude::any::<u64>()],
        mrs in proptest::collection::vec(proptest::prop_oneof![0u64..70, proptest::prelude::any::<u64>()], 0..12),
        extra in proptest::collection::vec(0u64..40, 0..4),
    ) {
        let (mut s, _, _) = two_threads();
        let before = s.k.state.clone();
        let root = s.info.root_tcb;
        match s.sys_number(syscall, cptr, MessageInfo::from_raw(info), &mrs, &extra) {
            Ok(_) => {}
            Err(e) => {
                let code_or_fault = e.error().is_some() || matches!(e, SyscallError::CapFault { .. });
                proptest::prop_assert!(code_or_fault, "{:?} is neither an error code nor a fault", e);
                if e.error().is_some() {
                    let unchanged = gears_tests::sel4::without_reply(&s.k.state, &before, root) == before;
                    proptest::prop_assert!(unchanged, "{e:?} changed more than the caller's reply");
                }
            }
        }
        gears_tests::sel4::invariants(&s.k).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
    }
}
