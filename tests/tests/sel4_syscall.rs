//! The system-call path as gears: `seL4_TCB_ReadRegisters` and `seL4_TCB_WriteRegisters` through
//! `handle_syscall` → `handle_invocation` → lookups → `decode_invocation` →
//! `decode_tcb_invocation` → `decode_read_registers` → `invoke_tcb_read_registers`, the path the
//! seed article `001_…` traces by hand, as a trace snapshot.

use codegears::cap::Cap;
use codegears::kernel::label;
use codegears::object::{Object, ThreadState};
use codegears::syscall::{HANDLE_SYSCALL, MessageInfo, reply_from_kernel_error, sys};
use codegears::tcb::{N_FRAME_REGISTERS, N_GP_REGISTERS};
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
    let info = MessageInfo::new(label::TCB_WRITE_REGISTERS, 0, 0, mrs.len() as u64).to_word();
    assert_eq!(s.syscall(sys::CALL, t, info, &mrs, &[]), Ok(()));
    (s, t, ptr)
}

fn tcb_state(s: &Sel4, p: ObjPtr) -> ThreadState {
    match s.k.state.objects.get(p) {
        Some(Object::Tcb(t)) => t.state,
        _ => panic!("no TCB at {p:?}"),
    }
}

#[test]
fn read_registers_trace_snapshot() {
    let (mut s, t, _) = two_threads();
    let info = MessageInfo::new(label::TCB_READ_REGISTERS, 0, 0, 2).to_word();
    let req = codegears::Request { syscall: sys::CALL, info, ..s.request(t, 0, &[0, 3], &[]) };
    s.k.set_request(req);
    let mut d = Dispatcher::new(Tracer::new());
    let out = d.run(&mut s.k, &HANDLE_SYSCALL);
    assert!(out.is_finished());
    insta::assert_snapshot!(d.meta().trace().to_string(), @r"
         . p0 start handle_syscall
         0 p0 handle_syscall -> handle_invocation
         1 p0 handle_invocation -> resolve_address_bits
         2 p0 resolve_address_bits -> lookup_extra_caps
         3 p0 lookup_extra_caps -> decode_invocation
         4 p0 decode_invocation -> decode_tcb_invocation
         5 p0 decode_tcb_invocation -> decode_read_registers
         6 p0 decode_read_registers -> invoke_tcb_read_registers
         7 p0 invoke_tcb_read_registers -> invocation_done
         8 p0 invocation_done -> exit Ok
    ");
    // The reply: a MessageInfo of length 3 and the first three registers.
    assert_eq!(s.k.reply.mrs, [100, 101, 102]);
    assert_eq!(MessageInfo::from_word(s.k.reply.info), MessageInfo::new(0, 0, 0, 3));
    assert_eq!(tcb_state(&s, s.info.root_tcb), ThreadState::Running);
}

#[test]
fn read_registers_errors_and_suspend() {
    let (mut s, t, ptr) = two_threads();
    let rr = |n: u64| MessageInfo::new(label::TCB_READ_REGISTERS, 0, 0, n).to_word();
    let max = N_FRAME_REGISTERS + N_GP_REGISTERS;
    assert_eq!(s.syscall(sys::CALL, t, rr(2), &[0, 0], &[]), Err(SyscallError::RangeError { min: 1, max }));
    assert_eq!(
        s.syscall(sys::CALL, t, rr(2), &[0, max + 1], &[]),
        Err(SyscallError::RangeError { min: 1, max })
    );
    assert_eq!(
        s.syscall(sys::CALL, t, rr(1), &[0, 3], &[]),
        Err(SyscallError::TruncatedMessage),
        "length 1 cuts the message"
    );
    let own = codegears::kernel::root_slot::TCB;
    assert_eq!(s.syscall(sys::CALL, own, rr(2), &[0, 3], &[]), Err(SyscallError::IllegalOperation));
    // All twenty, suspending the source.
    assert_eq!(s.syscall(sys::CALL, t, rr(2), &[1, max], &[]), Ok(()));
    assert_eq!(s.k.reply.mrs, (100..120).collect::<Vec<u64>>());
    assert_eq!(tcb_state(&s, ptr), ThreadState::Inactive);
    // A Send gets no reply.
    assert_eq!(s.syscall(sys::SEND, t, rr(2), &[0, 2], &[]), Ok(()));
    assert!(s.k.reply.mrs.is_empty());
    // The error reply seL4 would write for the range error.
    let (info, mrs) = reply_from_kernel_error(&SyscallError::RangeError { min: 1, max }).unwrap();
    assert_eq!((info.label, mrs), (4, vec![1, 20]));
}

#[test]
fn write_registers_checks_and_resumes() {
    let (mut s, t, ptr) = two_threads();
    let wr = |n: u64| MessageInfo::new(label::TCB_WRITE_REGISTERS, 0, 0, n).to_word();
    assert_eq!(s.syscall(sys::CALL, t, wr(3), &[0, 2, 7], &[]), Err(SyscallError::TruncatedMessage));
    let own = codegears::kernel::root_slot::TCB;
    assert_eq!(s.syscall(sys::CALL, own, wr(3), &[0, 1, 7], &[]), Err(SyscallError::IllegalOperation));
    assert_eq!(s.syscall(sys::CALL, t, wr(3), &[1, 1, 7], &[]), Ok(()));
    assert_eq!(tcb_state(&s, ptr), ThreadState::Restart, "resumed");
    let Some(Object::Tcb(tcb)) = s.k.state.objects.get(ptr) else { panic!() };
    assert_eq!(tcb.registers[..2], [7, 101]);
}

#[test]
fn other_syscalls_and_labels() {
    let (mut s, t, _) = two_threads();
    assert_eq!(s.syscall(sys::YIELD, 0, 0, &[], &[]), Ok(()));
    // Receiving on a TCB cap is a cap fault (seL4's handleRecv: missing capability).
    assert_eq!(
        s.syscall(sys::RECV, t, 0, &[], &[]),
        Err(SyscallError::CapFault {
            cptr: t,
            fault: codegears::LookupFault::MissingCapability { bits_left: 0 }
        })
    );
    let unknown = MessageInfo::new(16, 0, 0, 0).to_word();
    assert_eq!(s.syscall(sys::CALL, t, unknown, &[], &[]), Err(SyscallError::IllegalOperation));
    // A CNode invocation through the syscall entry: extra caps come from the MessageInfo.
    let r = s.root();
    let d = s.free_slot();
    let copy = MessageInfo::new(label::CNODE_COPY, 0, 1, 5).to_word();
    assert_eq!(s.syscall(sys::CALL, r, copy, &[d, 64, t, 64, 0xf], &[r]), Ok(()));
    assert_eq!(s.cap(d), s.cap(t));
    let d2 = s.free_slot();
    let no_extra = MessageInfo::new(label::CNODE_COPY, 0, 0, 5).to_word();
    assert_eq!(
        s.syscall(sys::CALL, r, no_extra, &[d2, 64, t, 64, 0xf], &[r]),
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
        match s.syscall(syscall, cptr, info, &mrs, &extra) {
            Ok(()) => {}
            Err(e) => {
                let code_or_fault = e.error().is_some() || matches!(e, SyscallError::CapFault { .. });
                proptest::prop_assert!(code_or_fault, "{:?} is neither an error code nor a fault", e);
                proptest::prop_assert!(s.k.state == before, "{e:?} changed the state");
            }
        }
        gears_tests::sel4::invariants(&s.k).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
    }
}
