//! Faults and fault IPC (seL4's `handleFault`, `sendFaultIPC`, `handleDoubleFault`,
//! `handleFaultReply`): a thread with a fault handler endpoint takes a VM fault, a user
//! exception, an unknown system call or a cap fault; its handler receives seL4's label, badge
//! and message words, and its reply restarts (or stops) the faulter. A thread without a usable
//! handler becomes Inactive while every other thread still runs. sel4test's PAGEFAULT0001–0005
//! (`faults.c`, same address space) are ported, and faults run among other threads on the host
//! machine model and under the model checker (every interleaving). Every fault and system call
//! runs with the invariant checker after every gear.

use codegears::cap::CapRights;
use codegears::fault::{
    Fault, UNKNOWN_SYSCALL_LENGTH, USER_EXCEPTION_LENGTH, VM_FAULT_LENGTH, fault_label, reg,
};
use codegears::kernel::{Done, label, tcb_slot};
use codegears::object::{N_REGISTERS, ThreadState};
use codegears::syscall::{MessageInfo, sys};
use codegears::{Cap, LookupFault, ObjPtr, Request, SlotRef, SyscallError};
use gears::{Dispatcher, Outcome};
use gears_tests::sel4::machine::{Event, Machine, Op};
use gears_tests::sel4::mc::{IpcState, IpcSystem};
use gears_tests::sel4::{Sel4, ThreadStep, WORD_BITS, invariants};
use metagears::Tracer;
use metagears::mc::{Checker, GearModel};
use proptest::prelude::*;

const BAD_MAGIC: u64 = 0x1234_5678;
const GOOD_MAGIC: u64 = 0x8765_4321;
const BAD_VADDR: u64 = 0x7ede_ad00_0000;
const EXPECTED_BADGE: u64 = 0xabab_abab;
/// x86 page-fault error code: a user-mode read of a page that is not present.
const FSR_USER_READ: u64 = 0x4;
/// x86 `#UD` (invalid opcode).
const INVALID_OPCODE: u64 = 6;

/// `seL4_TCB_SetSpace(tcb, fault_ep, root CNode, …)`, run by the root task: the thread shares the
/// root CSpace and has `fault_ep` as its fault handler cptr.
fn set_fault_handler(s: &mut Sel4, tcb: u64, fault_ep: u64) {
    let r = s.root();
    let info = MessageInfo::new(label::TCB_SET_SPACE, 0, 2, 3);
    assert_eq!(s.sys(sys::CALL, tcb, info, &[fault_ep, 0, 0], &[r, r]), Ok(Done::Ok));
}

/// The thread's registers as the CPU left them at the fault (the kernel entry saves them).
fn set_registers(s: &mut Sel4, t: ObjPtr, f: impl FnOnce(&mut [u64; N_REGISTERS])) {
    f(&mut s.k.state.objects.tcb_mut(t).expect("a live TCB").registers);
}

/// A handler thread at 101 and a faulter at 100 whose fault handler is `ep` minted with
/// `rights` and `badge` (the endpoint itself for all rights and no badge).
struct Scene {
    s: Sel4,
    ep: u64,
    fault_ep: u64,
    handler: ObjPtr,
    faulter_cap: u64,
    faulter: ObjPtr,
}

fn scene(rights: CapRights, badge: u64) -> Scene {
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let fault_ep = if rights == CapRights::ALL && badge == 0 { ep } else { s.mint(ep, rights, badge) };
    let (_, handler) = s.spawn(101);
    let (faulter_cap, faulter) = s.spawn(100);
    set_fault_handler(&mut s, faulter_cap, fault_ep);
    set_registers(&mut s, faulter, |r| {
        r[reg::RIP] = 0x40_1000;
        r[reg::RSP] = 0x7fff_0000;
        r[reg::RFLAGS] = 0x202;
        r[reg::RAX] = BAD_MAGIC;
    });
    Scene { s, ep, fault_ep, handler, faulter_cap, faulter }
}

fn caller_cap(s: &Sel4, t: ObjPtr) -> Cap {
    s.k.state.cspace.cap(SlotRef::of(t, tcb_slot::CALLER))
}

/// The faulter is out of every queue, waiting for the handler's reply.
fn assert_waits_for_reply(s: &Sel4, f: ObjPtr, h: ObjPtr, fault: Fault) {
    assert_eq!(s.state(f), ThreadState::BlockedOnReply);
    assert_eq!(s.tcb(f).fault, Some(fault));
    assert!(!s.tcb(f).queued, "a faulted thread is not runnable");
    assert!(matches!(caller_cap(s, h), Cap::Reply { tcb, master: false, .. } if tcb == f));
}

#[test]
fn vm_fault_goes_to_the_handler_and_any_reply_restarts_the_faulter() {
    let Scene { mut s, ep, handler: h, faulter: f, .. } = scene(CapRights::ALL, 0);
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    let vm = Fault::VMFault { address: BAD_VADDR, fsr: FSR_USER_READ, instruction_fault: false };
    assert_eq!(s.as_thread(f, |s| s.fault(vm)), Ok(Done::Blocked));
    assert_waits_for_reply(&s, f, h, vm);
    assert_eq!(s.state(h), ThreadState::Running, "the fault woke the handler");
    let (info, badge, mrs) = s.received(h);
    assert_eq!((info.label, info.length, badge), (fault_label::VM_FAULT, VM_FAULT_LENGTH, 0));
    // seL4_VMFault_IP, _Addr, _PrefetchFault, _FSR.
    assert_eq!(mrs, [0x40_1000, BAD_VADDR, 0, FSR_USER_READ]);
    // A VM fault reply restarts the thread whatever its label and words.
    assert_eq!(s.as_thread(h, |s| s.reply(9, &[1, 2, 3])), Ok(Done::Ok));
    assert_eq!(s.state(f), ThreadState::Restart);
    assert_eq!(s.tcb(f).fault, None);
    assert_eq!(s.tcb(f).registers[reg::RIP], 0x40_1000, "it re-executes the faulting instruction");
    assert!(caller_cap(&s, h).is_null(), "the reply cap is used up");
    assert!(s.tcb(f).queued);
    assert!(s.checks > 0);
}

#[test]
fn the_gears_of_a_fault_and_of_a_double_fault() {
    let Scene { mut s, ep, handler: h, faulter: f, faulter_cap, .. } = scene(CapRights::ALL, 0);
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    let trace = |s: &mut Sel4, fault: Fault| {
        s.k.set_request(Request { thread: f, fault: Some(fault), ..Request::default() });
        let mut d = Dispatcher::new(Tracer::new());
        let out = d.run(&mut s.k, &codegears::fault::HANDLE_FAULT);
        assert_eq!(out, Outcome::Exited(Done::Blocked));
        d.meta().trace().to_string()
    };
    let ue = Fault::UserException { number: INVALID_OPCODE, code: 0 };
    insta::assert_snapshot!(trace(&mut s, ue), @r"
         . p0 start handle_fault
         0 p0 handle_fault -> resolve_address_bits
         1 p0 resolve_address_bits -> send_fault_ipc
         2 p0 send_fault_ipc -> exit Blocked
    ");
    assert_eq!(s.as_thread(h, |s| s.reply(0, &[])), Ok(Done::Ok));
    // Now without a handler (cptr 0 names the root CNode's empty slot 0).
    set_fault_handler(&mut s, faulter_cap, 0);
    insta::assert_snapshot!(trace(&mut s, ue), @r"
         . p0 start handle_fault
         0 p0 handle_fault -> resolve_address_bits
         1 p0 resolve_address_bits -> send_fault_ipc
         2 p0 send_fault_ipc -> handle_double_fault
         3 p0 handle_double_fault -> exit Blocked
    ");
    assert_eq!(s.state(f), ThreadState::Inactive);
}

#[test]
fn user_exception_reply_sets_ip_sp_flags_and_label_decides_restart() {
    let Scene { mut s, ep, handler: h, faulter: f, faulter_cap, .. } = scene(CapRights::ALL, 0);
    let ue = Fault::UserException { number: INVALID_OPCODE, code: 0 };
    for restart in [true, false] {
        assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
        assert_eq!(s.as_thread(f, |s| s.fault(ue)), Ok(Done::Blocked));
        assert_waits_for_reply(&s, f, h, ue);
        let (info, _, mrs) = s.received(h);
        assert_eq!((info.label, info.length), (fault_label::USER_EXCEPTION, USER_EXCEPTION_LENGTH));
        let (ip, sp) = (s.tcb(f).registers[reg::RIP], s.tcb(f).registers[reg::RSP]);
        // seL4_UserException_FaultIP, _SP, _FLAGS, _Number, _Code.
        assert_eq!(mrs, [ip, sp, 0x202, INVALID_OPCODE, 0]);
        // Skip the instruction, move the stack, and try to set TF in FLAGS (sanitised away).
        let words = [ip + 2, 0x7ffe_0000, 0x302];
        let reply_label = if restart { 0 } else { 1 };
        assert_eq!(s.as_thread(h, |s| s.reply(reply_label, &words)), Ok(Done::Ok));
        let r = s.tcb(f).registers;
        assert_eq!((r[reg::RIP], r[reg::RSP], r[reg::RFLAGS]), (ip + 2, 0x7ffe_0000, 0x202));
        assert_eq!(r[reg::RAX], BAD_MAGIC, "registers outside the message are left alone");
        assert_eq!(s.tcb(f).fault, None);
        if restart {
            assert_eq!(s.state(f), ThreadState::Restart);
        } else {
            assert_eq!(s.state(f), ThreadState::Inactive, "a non-zero label leaves it stopped");
            assert!(!s.tcb(f).queued);
            assert_eq!(s.resume(faulter_cap), Ok(Done::Ok));
        }
    }
    // A short reply writes only the words it has: here FaultIP alone.
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    assert_eq!(s.as_thread(f, |s| s.fault(ue)), Ok(Done::Blocked));
    let sp = s.tcb(f).registers[reg::RSP];
    assert_eq!(s.as_thread(h, |s| s.reply(0, &[0x40_2000])), Ok(Done::Ok));
    assert_eq!(s.tcb(f).registers[reg::RIP], 0x40_2000);
    assert_eq!(s.tcb(f).registers[reg::RSP], sp);
    // A non-canonical IP becomes 0 (sanitiseRegister).
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    assert_eq!(s.as_thread(f, |s| s.fault(ue)), Ok(Done::Blocked));
    assert_eq!(s.as_thread(h, |s| s.reply(0, &[0x8000_0000_0000_0000])), Ok(Done::Ok));
    assert_eq!(s.tcb(f).registers[reg::RIP], 0);
}

#[test]
fn unknown_syscall_number_is_a_fault_with_the_registers() {
    let Scene { mut s, ep, handler: h, faulter: f, .. } = scene(CapRights::ALL, 0);
    set_registers(&mut s, f, |r| {
        for (i, x) in r.iter_mut().enumerate() {
            *x = 0x100 + i as u64;
        }
    });
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    let bad = -42i64;
    let out = s.as_thread(f, |s| s.sys(bad, 0, MessageInfo::default(), &[], &[]));
    assert_eq!(out, Ok(Done::Blocked));
    let fault = Fault::UnknownSyscall { syscall_number: bad as u64 };
    assert_waits_for_reply(&s, f, h, fault);
    let (info, _, mrs) = s.received(h);
    assert_eq!((info.label, info.length), (fault_label::UNKNOWN_SYSCALL, UNKNOWN_SYSCALL_LENGTH));
    // RAX, RBX, RCX, RDX, RSI, RDI, RBP, R8 … R15, FaultIP, SP, FLAGS, Syscall.
    let mut expected: Vec<u64> = (3..18).map(|i| 0x100 + i).collect();
    expected.extend([0x100, 0x101, 0x102, bad as u64]);
    assert_eq!(mrs, expected);
    // The handler emulates the call: a result in RAX, FaultIP past the syscall instruction.
    let mut reply = mrs.clone();
    reply[0] = GOOD_MAGIC;
    reply[15] = 0x102;
    reply.truncate(18);
    assert_eq!(s.as_thread(h, |s| s.reply(0, &reply)), Ok(Done::Ok));
    assert_eq!(s.state(f), ThreadState::Restart);
    let r = s.tcb(f).registers;
    assert_eq!((r[reg::RAX], r[reg::RIP], r[reg::RBX]), (GOOD_MAGIC, 0x102, 0x104));
}

#[test]
fn cap_faults_of_a_call_and_of_a_recv() {
    let Scene { mut s, ep, handler: h, faulter: f, .. } = scene(CapRights::ALL, 0);
    // A cptr outside the root CNode's guard: the invoked cap's lookup fails.
    let missing = (1u64 << 40) | 5;
    let e = s.as_thread(f, |s| s.call(missing, 0, &[1, 2])).unwrap_err();
    let guard = LookupFault::GuardMismatch { bits_left: 64, guard_found: 0, guard_size: 54 };
    assert_eq!(e, SyscallError::CapFault { cptr: missing, fault: guard });
    assert_eq!(s.state(f), ThreadState::Running, "the failed call changed nothing");
    // The kernel then sends the fault: handle_fault with it.
    let fault = Fault::from_syscall_error(&e, sys::CALL).expect("a cap fault");
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    assert_eq!(s.as_thread(f, |s| s.fault(fault)), Ok(Done::Blocked));
    assert_waits_for_reply(&s, f, h, fault);
    let (info, _, mrs) = s.received(h);
    assert_eq!(info.label, fault_label::CAP_FAULT);
    // seL4_CapFault_IP, _Addr, _InRecvPhase, _LookupFailureType (GuardMismatch + 1), _BitsLeft,
    // _GuardMismatch_GuardFound, _GuardMismatch_BitsFound.
    assert_eq!(mrs, [0x40_1000, missing, 0, 4, 64, 0, 54]);
    assert_eq!(info.length, 7);
    assert_eq!(s.as_thread(h, |s| s.reply(0, &[])), Ok(Done::Ok));
    assert_eq!(s.state(f), ThreadState::Restart);

    // Recv on an empty slot: a missing capability in the receive phase.
    let empty = s.free_slot();
    let e = s.as_thread(f, |s| s.recv(empty)).unwrap_err();
    let fault = Fault::from_syscall_error(&e, sys::RECV).expect("a cap fault");
    assert!(matches!(fault, Fault::CapFault { in_receive_phase: true, .. }));
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    assert_eq!(s.as_thread(f, |s| s.fault(fault)), Ok(Done::Blocked));
    let (info, _, mrs) = s.received(h);
    assert_eq!((info.label, info.length), (fault_label::CAP_FAULT, 5));
    assert_eq!(mrs, [0x40_1000, empty, 1, 2, 0]);
    assert_eq!(s.as_thread(h, |s| s.reply(0, &[])), Ok(Done::Ok));

    // An NBSend's cap fault is dropped (seL4's handleInvocation does not send it).
    let e = s.as_thread(f, |s| s.nb_send(missing, 0, &[])).unwrap_err();
    assert_eq!(Fault::from_syscall_error(&e, sys::NB_SEND), None);
}

#[test]
fn the_fault_waits_for_the_handler_and_reply_recv_answers_it() {
    let Scene { mut s, ep, handler: h, faulter: f, .. } = scene(CapRights::ALL, 0);
    let vm = Fault::VMFault { address: 0x1000, fsr: 6, instruction_fault: false };
    // No one receives yet: the faulter waits to send, as a Call with grant-reply.
    assert_eq!(s.as_thread(f, |s| s.fault(vm)), Ok(Done::Blocked));
    assert!(matches!(
        s.state(f),
        ThreadState::BlockedOnSend { is_call: true, can_grant_reply: true, badge: 0, .. }
    ));
    assert_eq!(s.tcb(f).fault, Some(vm));
    // A second faulter with a badged handler cap queues behind it.
    let badged = s.mint(ep, CapRights::ALL, EXPECTED_BADGE);
    let (g_cap, g) = s.spawn(100);
    set_fault_handler(&mut s, g_cap, badged);
    let ue = Fault::UserException { number: 13, code: 0x18 };
    assert_eq!(s.as_thread(g, |s| s.fault(ue)), Ok(Done::Blocked));
    // The handler receives the first at once.
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Ok));
    assert_waits_for_reply(&s, f, h, vm);
    let (info, badge, mrs) = s.received(h);
    assert_eq!((info.label, badge, mrs[1]), (fault_label::VM_FAULT, 0, 0x1000));
    // ReplyRecv restarts it and takes the second, with its badge.
    assert_eq!(s.as_thread(h, |s| s.reply_recv(ep, 0, &[])), Ok(Done::Ok));
    assert_eq!(s.state(f), ThreadState::Restart);
    assert_waits_for_reply(&s, g, h, ue);
    let (info, badge, mrs) = s.received(h);
    assert_eq!((info.label, badge), (fault_label::USER_EXCEPTION, EXPECTED_BADGE));
    assert_eq!(mrs[3..], [13, 0x18]);
    assert_eq!(s.as_thread(h, |s| s.reply_recv(ep, 0, &[])), Ok(Done::Blocked));
    assert_eq!(s.state(g), ThreadState::Restart);
    assert!(matches!(s.state(h), ThreadState::BlockedOnReceive { .. }));
}

/// What the fault handler cptr names, for the threads that have no usable handler.
#[derive(Clone, Copy, Debug)]
enum NoHandler {
    EmptySlot,
    Notification,
    Thread,
    NoGrant,
    NoWrite,
    LookupFails,
}

#[test]
fn without_a_usable_handler_the_thread_stops_and_the_others_run() {
    for kind in [
        NoHandler::EmptySlot,
        NoHandler::Notification,
        NoHandler::Thread,
        NoHandler::NoGrant,
        NoHandler::NoWrite,
        NoHandler::LookupFails,
    ] {
        let Scene { mut s, ep, handler: h, faulter: f, faulter_cap, .. } = scene(CapRights::ALL, 0);
        let read_write = CapRights { write: true, read: true, grant: false, grant_reply: false };
        let no_write = CapRights { write: false, ..CapRights::ALL };
        let cptr = match kind {
            NoHandler::EmptySlot => s.free_slot(),
            NoHandler::Notification => s.alloc_notification(),
            NoHandler::Thread => faulter_cap,
            NoHandler::NoGrant => s.mint(ep, read_write, 0),
            NoHandler::NoWrite => s.mint(ep, no_write, 0),
            NoHandler::LookupFails => 1 << 50,
        };
        set_fault_handler(&mut s, faulter_cap, cptr);
        assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
        let (_, other) = s.spawn(100);
        let vm = Fault::VMFault { address: 0, fsr: 4, instruction_fault: false };
        assert_eq!(s.as_thread(f, |s| s.fault(vm)), Ok(Done::Blocked), "{kind:?}");
        assert_eq!(s.state(f), ThreadState::Inactive, "{kind:?}");
        assert_eq!(s.tcb(f).fault, None, "{kind:?}");
        assert!(!s.tcb(f).queued, "{kind:?}: out of the ready queues");
        assert!(matches!(s.state(h), ThreadState::BlockedOnReceive { .. }), "{kind:?}: nothing sent");
        // The other threads still run.
        assert_eq!(s.as_thread(other, |s| s.yield_now()), Ok(Done::Ok));
        assert_eq!(s.as_thread(other, |s| s.send(ep, 5, &[7])), Ok(Done::Ok));
        assert_eq!(s.received(h).2, [7], "{kind:?}");
        // The stopped thread makes no system call; Resume restarts it.
        assert_eq!(s.as_thread(f, |s| s.yield_now()), Err(SyscallError::IllegalOperation));
        assert_eq!(s.resume(faulter_cap), Ok(Done::Ok));
        assert_eq!(s.state(f), ThreadState::Restart);
    }
}

#[test]
fn a_fault_of_a_thread_that_cannot_fault_changes_nothing() {
    let Scene { mut s, ep, handler: h, faulter: f, .. } = scene(CapRights::ALL, 0);
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    let before = s.k.state.clone();
    let vm = Fault::VMFault { address: 0, fsr: 4, instruction_fault: false };
    assert_eq!(s.as_thread(h, |s| s.fault(vm)), Err(SyscallError::IllegalOperation), "h is blocked");
    assert_eq!(s.as_thread(ObjPtr(0x42), |s| s.fault(vm)), Err(SyscallError::IllegalOperation));
    s.k.set_request(Request { thread: f, ..Request::default() });
    let out = Dispatcher::new(()).run(&mut s.k, &codegears::fault::HANDLE_FAULT);
    assert_eq!(out, Outcome::Failed(SyscallError::IllegalOperation), "no fault given");
    assert!(s.k.state == before);
}

#[test]
fn the_handler_endpoint_deleted_while_the_faulter_waits_to_send() {
    let Scene { mut s, ep, faulter: f, .. } = scene(CapRights::ALL, 0);
    let ue = Fault::UserException { number: 0, code: 0 };
    assert_eq!(s.as_thread(f, |s| s.fault(ue)), Ok(Done::Blocked));
    assert!(matches!(s.state(f), ThreadState::BlockedOnSend { .. }));
    let ep_ptr = s.obj_ptr(ep);
    let r = s.root();
    assert_eq!(s.cnode_delete(r, ep, WORD_BITS), Ok(()));
    assert!(s.k.state.objects.get(ep_ptr).is_none(), "the endpoint is gone");
    // cancelAllIPC restarted the faulter, fault dropped: it re-executes the faulting
    // instruction, faults again, and now has no handler.
    assert_eq!(s.state(f), ThreadState::Restart);
    assert_eq!(s.tcb(f).fault, None);
    assert_eq!(s.as_thread(f, |s| s.fault(ue)), Ok(Done::Blocked));
    assert_eq!(s.state(f), ThreadState::Inactive);
}

#[test]
fn cancel_badged_sends_restarts_a_faulter_waiting_to_send() {
    let Scene { mut s, fault_ep, faulter: f, .. } = scene(CapRights::ALL, 5);
    let ue = Fault::UserException { number: 6, code: 0 };
    assert_eq!(s.as_thread(f, |s| s.fault(ue)), Ok(Done::Blocked));
    assert!(matches!(s.state(f), ThreadState::BlockedOnSend { badge: 5, is_call: true, .. }));
    let r = s.root();
    assert_eq!(s.cnode_cancel_badged_sends(r, fault_ep, WORD_BITS), Ok(()));
    assert_eq!(s.state(f), ThreadState::Restart);
    assert_eq!(s.tcb(f).fault, None, "the cancelled fault IPC dropped the fault");
}

#[test]
fn the_handler_thread_deleted_while_the_faulter_waits_for_its_reply() {
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let (hc, h) = s.spawn(101);
    let (fc, f) = s.spawn(100);
    set_fault_handler(&mut s, fc, ep);
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    let vm = Fault::VMFault { address: 0x10, fsr: 4, instruction_fault: false };
    assert_eq!(s.as_thread(f, |s| s.fault(vm)), Ok(Done::Blocked));
    assert_waits_for_reply(&s, f, h, vm);
    let r = s.root();
    assert_eq!(s.cnode_delete(r, hc, WORD_BITS), Ok(()));
    assert!(s.k.state.objects.get(h).is_none(), "the handler is gone");
    // Non-MCS seL4: deleting a reply cap wakes no one; the faulter waits on, out of the ready
    // queues, and the rest of the system runs.
    assert_eq!(s.state(f), ThreadState::BlockedOnReply);
    assert_eq!(s.tcb(f).fault, Some(vm));
    let (_, other) = s.spawn(100);
    assert_eq!(s.as_thread(other, |s| s.yield_now()), Ok(Done::Ok));
    // Suspend drops the fault; Resume restarts the thread.
    assert_eq!(s.suspend(fc), Ok(Done::Ok));
    assert_eq!((s.state(f), s.tcb(f).fault), (ThreadState::Inactive, None));
    assert_eq!(s.resume(fc), Ok(Done::Ok));
    assert_eq!(s.state(f), ThreadState::Restart);
}

#[test]
fn a_faulter_deleted_while_its_handler_holds_the_reply_cap() {
    let Scene { mut s, ep, handler: h, faulter: f, faulter_cap, .. } = scene(CapRights::ALL, 0);
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    let ue = Fault::UserException { number: 6, code: 0 };
    assert_eq!(s.as_thread(f, |s| s.fault(ue)), Ok(Done::Blocked));
    let r = s.root();
    assert_eq!(s.cnode_delete(r, faulter_cap, WORD_BITS), Ok(()));
    assert!(s.k.state.objects.get(f).is_none());
    assert!(caller_cap(&s, h).is_null(), "the reply cap went with it");
    assert_eq!(s.as_thread(h, |s| s.reply(0, &[1, 2, 3])), Ok(Done::Ok), "a reply to no one");
}

// ---------------------------------------------------------------------------------------------
// sel4test PAGEFAULT0001–0005 (`faults.c`, `test_fault` in one address space): a handler at
// priority 101 and a faulter at 100..=102, the handler cap unbadged and badged, the handler
// replying (the faulter restarts at a new address with a good magic value) or not.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FaultKind {
    DataRead,
    DataWrite,
    Instruction,
    BadSyscall,
    BadInstruction,
}

const FAULT_ADDRESS: u64 = 0x40_1000;
const RESTART_ADDRESS: u64 = 0x40_1100;
const BAD_SP: u64 = 0x7fff_1000;
const BAD_SYSCALL_NUMBER: i64 = 0xc1;

impl FaultKind {
    /// Where the faulter's IP is when it faults.
    fn ip(self) -> u64 {
        if self == FaultKind::Instruction { BAD_VADDR } else { FAULT_ADDRESS }
    }
}

/// `cause_fault`: the faulter's registers as the CPU leaves them, then the fault (a VM fault or
/// user exception from the hardware, or `handle_syscall` with a bad number).
fn cause_fault(s: &mut Sel4, kind: FaultKind) {
    let t = s.thread;
    set_registers(s, t, |r| {
        r[reg::RIP] = kind.ip();
        r[reg::RSP] = BAD_SP;
        r[reg::RFLAGS] = 0x202;
        r[reg::RAX] = BAD_MAGIC;
        r[reg::RBX] = BAD_MAGIC;
    });
    let out = match kind {
        FaultKind::DataRead => {
            s.fault(Fault::VMFault { address: BAD_VADDR, fsr: 4, instruction_fault: false })
        }
        FaultKind::DataWrite => {
            s.fault(Fault::VMFault { address: BAD_VADDR, fsr: 6, instruction_fault: false })
        }
        FaultKind::Instruction => {
            s.fault(Fault::VMFault { address: BAD_VADDR, fsr: 0x14, instruction_fault: true })
        }
        FaultKind::BadSyscall => s.sys(BAD_SYSCALL_NUMBER, 0, MessageInfo::default(), &[], &[]),
        FaultKind::BadInstruction => s.fault(Fault::UserException { number: INVALID_OPCODE, code: 0 }),
    };
    assert_eq!(out, Ok(Done::Blocked), "{kind:?}: the faulter stops");
}

/// `set_good_magic_and_set_pc`: ReadRegisters then WriteRegisters on the faulter's TCB.
fn set_good_magic_and_set_pc(s: &mut Sel4, tcb: u64, pc: u64) {
    let n = N_REGISTERS as u64;
    assert_eq!(s.tcb_invoke(tcb, label::TCB_READ_REGISTERS, &[0, n], &[]), Ok(Done::Ok));
    let mut ctx = s.k.reply.mrs.clone();
    assert_eq!(ctx[reg::RAX], BAD_MAGIC);
    ctx[reg::RAX] = GOOD_MAGIC;
    ctx[reg::RIP] = pc;
    let mut mrs = vec![0, n];
    mrs.extend(ctx);
    assert_eq!(s.tcb_invoke(tcb, label::TCB_WRITE_REGISTERS, &mrs, &[]), Ok(Done::Ok));
}

/// `handle_fault` of sel4test: receive, check label, length, badge and words, then repair the
/// faulter and reply (or, for a VM fault without restart, leave it waiting).
fn handle_fault(s: &mut Sel4, tcb: u64, kind: FaultKind, badged: bool, restart: bool) {
    let me = s.thread;
    let (tag, badge, mut mrs) = s.received(me);
    assert_eq!(badge, if badged { EXPECTED_BADGE } else { 0 });
    match kind {
        FaultKind::DataRead | FaultKind::DataWrite | FaultKind::Instruction => {
            assert_eq!((tag.label, tag.length), (fault_label::VM_FAULT, VM_FAULT_LENGTH));
            assert_eq!(mrs[0], kind.ip(), "seL4_VMFault_IP");
            assert_eq!(mrs[1], BAD_VADDR, "seL4_VMFault_Addr");
            assert_eq!(mrs[2], (kind == FaultKind::Instruction) as u64, "seL4_VMFault_PrefetchFault");
            let write = mrs[3] & 2 != 0;
            assert_eq!(write, kind == FaultKind::DataWrite, "sel4utils_is_read_fault");
            mrs[1] = 0;
            set_good_magic_and_set_pc(s, tcb, RESTART_ADDRESS);
            if restart {
                assert_eq!(s.reply(tag.label, &mrs), Ok(Done::Ok));
            }
        }
        FaultKind::BadSyscall => {
            assert_eq!((tag.label, tag.length), (fault_label::UNKNOWN_SYSCALL, UNKNOWN_SYSCALL_LENGTH));
            assert_eq!(mrs[15], FAULT_ADDRESS, "seL4_UnknownSyscall_FaultIP");
            assert_eq!(mrs[18], BAD_SYSCALL_NUMBER as u64, "seL4_UnknownSyscall_Syscall");
            assert_eq!(mrs[1], BAD_MAGIC, "seL4_UnknownSyscall_RBX");
            mrs[15] = RESTART_ADDRESS;
            mrs[1] = GOOD_MAGIC;
            assert_eq!(s.reply(if restart { 0 } else { 1 }, &mrs), Ok(Done::Ok));
        }
        FaultKind::BadInstruction => {
            assert_eq!((tag.label, tag.length), (fault_label::USER_EXCEPTION, USER_EXCEPTION_LENGTH));
            assert_eq!(mrs[0], FAULT_ADDRESS);
            assert_eq!(mrs[1], BAD_SP);
            assert_eq!(mrs[2], 0x202, "the flags");
            mrs[0] = RESTART_ADDRESS;
            mrs[1] = BAD_SP + 8;
            assert_eq!(s.reply(if restart { 0 } else { 1 }, &mrs), Ok(Done::Ok));
        }
    }
}

/// The faulter's state after the handler is done.
fn check_restarted(s: &Sel4, t: ObjPtr, kind: FaultKind) {
    assert_eq!(s.state(t), ThreadState::Restart, "{kind:?}");
    let r = s.tcb(t).registers;
    assert_eq!(r[reg::RIP], RESTART_ADDRESS, "{kind:?}");
    match kind {
        FaultKind::BadSyscall => assert_eq!(r[reg::RBX], GOOD_MAGIC),
        FaultKind::BadInstruction => assert_eq!(r[reg::RSP], BAD_SP + 8),
        _ => assert_eq!(r[reg::RAX], GOOD_MAGIC),
    }
}

fn test_fault(kind: FaultKind) -> u64 {
    let mut s = Sel4::boot(12, &[20, 24]);
    let mut rounds = 0;
    for badged in [false, true] {
        let ep = s.alloc_endpoint();
        let fault_ep = if badged { s.mint(ep, CapRights::ALL, EXPECTED_BADGE) } else { ep };
        for restart in [false, true] {
            for prio in 100u8..=102 {
                let (hc, h) = s.spawn(101);
                let (fc, f) = s.spawn(prio);
                set_fault_handler(&mut s, fc, fault_ep);
                let handler: Vec<ThreadStep> = vec![
                    Box::new(move |s: &mut Sel4| assert!(s.recv(fault_ep).is_ok())),
                    Box::new(move |s: &mut Sel4| handle_fault(s, fc, kind, badged, restart)),
                ];
                let mut faulter: Vec<ThreadStep> = vec![Box::new(move |s: &mut Sel4| cause_fault(s, kind))];
                if restart {
                    faulter.push(Box::new(move |s: &mut Sel4| check_restarted(s, f, kind)));
                }
                let mut scripts = vec![(h, handler), (f, faulter)];
                let order = s.run_scripts(&mut scripts);
                assert!(scripts.iter().all(|(_, v)| v.is_empty()), "{kind:?} {badged} {restart} {prio}");
                let first = if prio > 101 { f } else { h };
                assert_eq!(order.first(), Some(&first), "who runs first at {prio}");
                if !restart {
                    let stopped = match kind {
                        FaultKind::BadSyscall | FaultKind::BadInstruction => ThreadState::Inactive,
                        _ => ThreadState::BlockedOnReply,
                    };
                    assert_eq!(s.state(f), stopped, "{kind:?} without restart");
                }
                // cleanup_helper
                assert_eq!(s.suspend(fc), Ok(Done::Ok));
                assert_eq!(s.suspend(hc), Ok(Done::Ok));
                assert_eq!(s.tcb(f).fault, None);
                rounds += 1;
            }
        }
    }
    assert!(s.checks > 0);
    rounds
}

#[test]
fn pagefault0001_read_fault() {
    assert_eq!(test_fault(FaultKind::DataRead), 12);
}

#[test]
fn pagefault0002_write_fault() {
    assert_eq!(test_fault(FaultKind::DataWrite), 12);
}

#[test]
fn pagefault0003_execute_fault() {
    assert_eq!(test_fault(FaultKind::Instruction), 12);
}

#[test]
fn pagefault0004_unknown_syscall() {
    assert_eq!(test_fault(FaultKind::BadSyscall), 12);
}

#[test]
fn pagefault0005_undefined_instruction() {
    assert_eq!(test_fault(FaultKind::BadInstruction), 12);
}

// ---------------------------------------------------------------------------------------------
// Faults among other threads: the host machine model (scripted threads, a timer) and the model
// checker (every interleaving).

/// A fault handler serving four faults of two threads with ReplyRecv, a thread without a handler
/// that stops, and a busy thread, under timer interrupts.
fn fault_machine() -> (Machine, [usize; 4]) {
    let mut s = Sel4::boot(10, &[20, 22]);
    let ep = s.alloc_endpoint();
    let (_, handler) = s.spawn(150);
    let (ac, a) = s.spawn(100);
    let (bc, b) = s.spawn(100);
    let (_, c) = s.spawn(100);
    let (_, busy) = s.spawn(100);
    let badged = s.mint(ep, CapRights::ALL, 0xb);
    set_fault_handler(&mut s, ac, ep);
    set_fault_handler(&mut s, bc, badged);
    let vm = Fault::VMFault { address: 0x2000, fsr: 6, instruction_fault: false };
    let ue = Fault::UserException { number: 0, code: 0 };
    let mut m = Machine::new(s, 3);
    let mut hs = vec![Op::Recv(ep)];
    hs.extend((0..3).map(|_| Op::ReplyRecv(ep, vec![])));
    hs.push(Op::Reply(vec![]));
    let h = m.thread(handler, hs);
    let ta = m.thread(a, [Op::Fault(vm), Op::Yield, Op::Fault(ue), Op::Yield]);
    let tb = m.thread(b, [Op::Yield, Op::Fault(ue), Op::Fault(vm)]);
    m.thread(c, [Op::Yield, Op::Fault(vm)]);
    let tbusy = m.thread(busy, (0..8).map(|_| Op::Yield));
    (m, [h, ta, tb, tbusy])
}

#[test]
fn a_fault_handler_among_other_threads_on_the_machine() {
    let (mut m, [h, ta, tb, tbusy]) = fault_machine();
    let steps = m.run(200);
    assert!(m.finished(), "every script ran to its end in {steps} steps:\n{}", m.trace());
    for i in [ta, tb, tbusy] {
        let t = m.threads[i].tcb;
        assert!(m.sel4.state(t).is_runnable(), "{i}: {:?}", m.sel4.state(t));
        assert_eq!(m.sel4.tcb(t).fault, None);
    }
    let c = m.threads[3].tcb;
    assert_eq!(m.sel4.state(c), ThreadState::Inactive, "no handler: stopped");
    let handler = m.threads[h].tcb;
    assert_eq!(m.sel4.received(handler).1, 0xb, "the last fault came through the badged cap");
    let faults = m.events.iter().filter(|e| matches!(e, Event::Syscall { op: Op::Fault(_), .. })).count();
    assert_eq!(faults, 5);
    assert!(m.events.iter().any(|e| matches!(e, Event::Interrupt(0))), "timer ticks happened");
    let (mut again, _) = fault_machine();
    again.run(200);
    assert_eq!(m.events, again.events, "deterministic");
    assert!(m.sel4.k.state == again.sel4.k.state);
}

#[test]
fn every_interleaving_of_two_faulters_and_their_handler() {
    let mut s = Sel4::boot(8, &[20, 22]);
    let ep = s.alloc_endpoint();
    let spawned: Vec<(u64, ObjPtr)> = (0..3).map(|_| s.spawn(100)).collect();
    let threads: Vec<ObjPtr> = spawned.iter().map(|&(_, t)| t).collect();
    let badged = s.mint(ep, CapRights::ALL, 7);
    // Threads 1 and 2 have ep (badge 0) and the badged cap as fault handlers.
    set_fault_handler(&mut s, spawned[1].0, ep);
    set_fault_handler(&mut s, spawned[2].0, badged);
    let vm = Fault::VMFault { address: 0x3000, fsr: 4, instruction_fault: false };
    let ue = Fault::UserException { number: 6, code: 0 };
    let scripts = vec![
        vec![Op::Recv(ep), Op::ReplyRecv(ep, vec![]), Op::Reply(vec![])],
        vec![Op::Fault(vm), Op::Yield],
        vec![Op::Fault(ue), Op::Yield],
    ];
    let sys = IpcSystem { kernel: s.k.clone(), threads: threads.clone(), scripts };
    let t = threads.clone();
    let report =
        Checker::new(GearModel::new(sys))
            .invariant("kernel", |st: &IpcState| invariants(&st.k))
            .invariant("faulters wait or run without a fault", move |st: &IpcState| {
                for &f in &t[1..] {
                    let x = st.k.state.objects.tcb(f).ok_or("a faulter is gone")?;
                    if x.state.is_runnable() && x.fault.is_some() {
                        return Err(format!("{f:?} runs with {:?}", x.fault));
                    }
                }
                Ok(())
            })
            .invariant("no errors", |st: &IpcState| {
                if st.errors.is_empty() { Ok(()) } else { Err(format!("{:?}", st.errors)) }
            })
            .bfs();
    println!("{}", report.stats);
    assert!(report.is_ok(), "{}", report);
    assert!(report.complete);
    assert!(report.stats.distinct > 30, "{}", report.stats);
    assert!(report.stats.terminal > 0, "{}", report.stats);
}

/// One random step of the property test: which thread, what, on which cap.
#[derive(Clone, Debug)]
enum Step {
    /// The thread takes a fault of this kind (0 VM, 1 user exception, 2 unknown syscall).
    Fault(usize, u8),
    Call(usize, usize),
    Recv(usize, usize),
    Reply(usize, u64),
    ReplyRecv(usize, usize, u64),
    SetHandler(usize, usize),
    Suspend(usize),
    Resume(usize),
    CancelBadged,
    DeleteCap(usize),
    DeleteTcb(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let t = 0usize..4;
    let c = 0usize..6;
    prop_oneof![
        4 => (t.clone(), 0u8..3).prop_map(|(t, k)| Step::Fault(t, k)),
        2 => (t.clone(), c.clone()).prop_map(|(t, c)| Step::Call(t, c)),
        3 => (t.clone(), c.clone()).prop_map(|(t, c)| Step::Recv(t, c)),
        2 => (t.clone(), 0u64..3).prop_map(|(t, l)| Step::Reply(t, l)),
        3 => (t.clone(), c.clone(), 0u64..3).prop_map(|(t, c, l)| Step::ReplyRecv(t, c, l)),
        1 => (t.clone(), c.clone()).prop_map(|(t, c)| Step::SetHandler(t, c)),
        1 => t.clone().prop_map(Step::Suspend),
        2 => t.clone().prop_map(Step::Resume),
        1 => Just(Step::CancelBadged),
        1 => c.clone().prop_map(Step::DeleteCap),
        1 => (1usize..4).prop_map(Step::DeleteTcb),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random faults, fault handling and IPC among the root task and three helpers whose fault
    /// handlers are an endpoint, badged copies of it, a copy without grant, a notification or an
    /// empty slot, with handlers changed, threads suspended, resumed and deleted and caps deleted
    /// on the way: every step ends with Ok, Blocked or an seL4 error; a cap fault is sent on as
    /// the kernel would; every invariant (a pending fault only on a thread waiting to send it or
    /// for its reply included) holds after every gear.
    #[test]
    fn random_faults_keep_the_invariants(steps in prop::collection::vec(step(), 1..100)) {
        let mut s = Sel4::boot(10, &[20, 22]);
        let ep = s.alloc_endpoint();
        let b1 = s.mint(ep, CapRights::ALL, 1);
        let b2 = s.mint(ep, CapRights::ALL, 2);
        let no_grant = s.mint(ep, CapRights { grant: false, grant_reply: false, ..CapRights::ALL }, 3);
        let ntfn = s.alloc_notification();
        let empty = s.free_slot();
        let caps = [ep, b1, b2, no_grant, ntfn, empty];
        let mut threads = vec![(codegears::kernel::root_slot::TCB, s.info.root_tcb)];
        for (p, handler) in [(100, ep), (100, b1), (150, b2)] {
            let (c, t) = s.spawn(p);
            set_fault_handler(&mut s, c, handler);
            threads.push((c, t));
        }
        for st in steps {
            let th = |i: usize| threads[i].1;
            let (out, syscall) = match st {
                Step::Fault(t, kind) => {
                    let f = match kind {
                        0 => Fault::VMFault { address: 0x5000, fsr: 6, instruction_fault: false },
                        1 => Fault::UserException { number: 13, code: 0 },
                        _ => Fault::UnknownSyscall { syscall_number: 99 },
                    };
                    (s.as_thread(th(t), |s| s.fault(f)), 0)
                }
                Step::Call(t, c) => (s.as_thread(th(t), |s| s.call(caps[c], 0, &[1])), sys::CALL),
                Step::Recv(t, c) => (s.as_thread(th(t), |s| s.recv(caps[c])), sys::RECV),
                Step::Reply(t, l) => (s.as_thread(th(t), |s| s.reply(l, &[0x40_0000, 0x7000])), sys::REPLY),
                Step::ReplyRecv(t, c, l) => {
                    (s.as_thread(th(t), |s| s.reply_recv(caps[c], l, &[0x40_0000])), sys::REPLY_RECV)
                }
                Step::SetHandler(t, c) => {
                    let r = s.root();
                    let info = MessageInfo::new(label::TCB_SET_SPACE, 0, 2, 3);
                    (s.sys(sys::CALL, threads[t].0, info, &[caps[c], 0, 0], &[r, r]), sys::CALL)
                }
                Step::Suspend(t) => (s.suspend(threads[t].0), sys::CALL),
                Step::Resume(t) => (s.resume(threads[t].0), sys::CALL),
                Step::CancelBadged => {
                    let r = s.root();
                    (s.cnode_cancel_badged_sends(r, b1, WORD_BITS).map(|()| Done::Ok), sys::CALL)
                }
                Step::DeleteCap(c) => {
                    let r = s.root();
                    (s.cnode_delete(r, caps[c], WORD_BITS).map(|()| Done::Ok), sys::CALL)
                }
                Step::DeleteTcb(t) => {
                    let r = s.root();
                    (s.cnode_delete(r, threads[t].0, WORD_BITS).map(|()| Done::Ok), sys::CALL)
                }
            };
            match out {
                Ok(_) => {}
                Err(e) => {
                    prop_assert!(e.error().is_some() || matches!(e, SyscallError::CapFault { .. }), "{e:?}");
                    // The kernel sends a system call's cap fault on to the thread's handler.
                    if let (Some(f), Step::Call(t, _) | Step::Recv(t, _) | Step::ReplyRecv(t, _, _)) =
                        (Fault::from_syscall_error(&e, syscall), &st)
                    {
                        let r = s.as_thread(th(*t), |s| s.fault(f));
                        prop_assert_eq!(r, Ok(Done::Blocked));
                    }
                }
            }
            if let Some(t) = s.running() {
                prop_assert!(s.state(t).is_runnable());
            }
        }
        gears_tests::sel4::invariants(&s.k).map_err(TestCaseError::fail)?;
    }
}
