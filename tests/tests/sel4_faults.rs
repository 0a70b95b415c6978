//! Faults and fault IPC (seL4's `handleFault`, `sendFaultIPC`, `handleDoubleFault`,
//! `handleFaultReply`): a thread with a fault handler endpoint takes a VM fault, a user
//! exception, an unknown system call or a cap fault; its handler receives seL4's label, badge
//! and message words, and its reply restarts (or stops) the faulter. A thread without a usable
//! handler becomes Inactive while every other thread still runs. sel4test's PAGEFAULT0001–0005
//! (`faults.c`, same address space) are ported at the end; faults among other threads (machine
//! model, model checker, property test) are in `sel4_faults_threads.rs`. Every fault and system
//! call runs with the invariant checker after every gear.

use abi::x86_64::reg;
use abi::{CapRights, MessageInfo, Syscall, label};
use codegears::fault::Fault;

const UNKNOWN_SYSCALL_LENGTH: u64 = abi::x86_64::fault::UNKNOWN_SYSCALL_LENGTH as u64;
const USER_EXCEPTION_LENGTH: u64 = abi::x86_64::fault::USER_EXCEPTION_LENGTH as u64;
const VM_FAULT_LENGTH: u64 = abi::fault::vm_fault::LENGTH as u64;
use codegears::kernel::{Done, tcb_slot};
use codegears::object::{N_REGISTERS, ThreadState};

use codegears::{Cap, LookupFault, ObjPtr, Request, SlotRef, SyscallError};
use gears::{Dispatcher, Outcome};
use gears_tests::sel4::{Sel4, ThreadStep, WORD_BITS};
use metagears::Tracer;

const BAD_MAGIC: u64 = 0x1234_5678;
const GOOD_MAGIC: u64 = 0x8765_4321;
const BAD_VADDR: u64 = 0x7ede_ad00_0000;
const EXPECTED_BADGE: u64 = 0xabab_abab;
/// x86 page-fault error code: a user-mode read of a page that is not present.
const FSR_USER_READ: u64 = 0x4;
/// x86 `#UD` (invalid opcode).
const INVALID_OPCODE: u64 = 6;

/// The thread's registers as the CPU left them at the fault (the kernel entry saves them).
fn set_registers(s: &mut Sel4, t: ObjPtr, f: impl FnOnce(&mut [u64; N_REGISTERS])) {
    f(&mut s.k.state.objects.tcb_mut(t).registers);
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
    s.set_fault_handler(faulter_cap, fault_ep);
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
    assert_eq!((info.label(), info.length(), badge), (abi::fault::VM_FAULT, VM_FAULT_LENGTH, 0));
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
    insta::assert_snapshot!(trace(&mut s, ue), @"
    . p2099200 start handle_fault
    0 p2099200 handle_fault -> resolve_address_bits
    1 p2099200 resolve_address_bits -> send_fault_ipc
    2 p2099200 send_fault_ipc -> exit Blocked
    ");
    assert_eq!(s.as_thread(h, |s| s.reply(0, &[])), Ok(Done::Ok));
    // Now without a handler (cptr 0 names the root CNode's empty slot 0).
    s.set_fault_handler(faulter_cap, 0);
    insta::assert_snapshot!(trace(&mut s, ue), @"
    . p536870912 start handle_fault
    0 p536870912 handle_fault -> resolve_address_bits
    1 p536870912 resolve_address_bits -> send_fault_ipc
    2 p536870912 send_fault_ipc -> handle_double_fault
    3 p536870912 handle_double_fault -> exit Blocked
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
        assert_eq!((info.label(), info.length()), (abi::fault::USER_EXCEPTION, USER_EXCEPTION_LENGTH));
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
    let out = s.as_thread(f, |s| s.sys_number(bad, 0, MessageInfo::default(), &[], &[]));
    assert_eq!(out, Ok(Done::Blocked));
    let fault = Fault::UnknownSyscall { syscall_number: bad as u64 };
    assert_waits_for_reply(&s, f, h, fault);
    let (info, _, mrs) = s.received(h);
    assert_eq!((info.label(), info.length()), (abi::fault::UNKNOWN_SYSCALL, UNKNOWN_SYSCALL_LENGTH));
    // RAX, RBX, RCX, RDX, RSI, RDI, RBP, R8 … R15, FaultIP, SP, FLAGS, Syscall: RDX holds the
    // number, RSI the MessageInfo (0), RDI the cap (0), as the thread put them.
    let mut expected: Vec<u64> = (3..18).map(|i| 0x100 + i).collect();
    expected[3..6].copy_from_slice(&[bad as u64, 0, 0]);
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
    // The kernel sends the fault to the handler as the call fails.
    let missing = (1u64 << 40) | 5;
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    let e = s.as_thread(f, |s| s.call(missing, 0, &[1, 2])).unwrap_err();
    let guard = LookupFault::GuardMismatch { bits_left: 64, guard_found: 0, guard_size: 54 };
    assert_eq!(e, SyscallError::CapFault { cptr: missing, fault: guard });
    let fault = Fault::from_syscall_error(&e, Syscall::Call).expect("a cap fault");
    assert_waits_for_reply(&s, f, h, fault);
    let (info, _, mrs) = s.received(h);
    assert_eq!(info.label(), abi::fault::CAP_FAULT);
    // seL4_CapFault_IP, _Addr, _InRecvPhase, _LookupFailureType (GuardMismatch + 1), _BitsLeft,
    // _GuardMismatch_GuardFound, _GuardMismatch_BitsFound.
    assert_eq!(mrs, [0x40_1000, missing, 0, 4, 64, 0, 54]);
    assert_eq!(info.length(), 7);
    assert_eq!(s.as_thread(h, |s| s.reply(0, &[])), Ok(Done::Ok));
    assert_eq!(s.state(f), ThreadState::Restart);

    // Recv on an empty slot: a missing capability in the receive phase.
    let empty = s.free_slot();
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    let e = s.as_thread(f, |s| s.recv(empty)).unwrap_err();
    let fault = Fault::from_syscall_error(&e, Syscall::Recv).expect("a cap fault");
    assert!(matches!(fault, Fault::CapFault { in_receive_phase: true, .. }));
    assert_waits_for_reply(&s, f, h, fault);
    let (info, _, mrs) = s.received(h);
    assert_eq!((info.label(), info.length()), (abi::fault::CAP_FAULT, 5));
    assert_eq!(mrs, [0x40_1000, empty, 1, 2, 0]);
    assert_eq!(s.as_thread(h, |s| s.reply(0, &[])), Ok(Done::Ok));

    // An NBSend's cap fault is dropped (seL4's handleInvocation does not send it).
    let e = s.as_thread(f, |s| s.nb_send(missing, 0, &[])).unwrap_err();
    assert_eq!(Fault::from_syscall_error(&e, Syscall::NBSend), None);
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
    s.set_fault_handler(g_cap, badged);
    let ue = Fault::UserException { number: 13, code: 0x18 };
    assert_eq!(s.as_thread(g, |s| s.fault(ue)), Ok(Done::Blocked));
    // The handler receives the first at once.
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Ok));
    assert_waits_for_reply(&s, f, h, vm);
    let (info, badge, mrs) = s.received(h);
    assert_eq!((info.label(), badge, mrs[1]), (abi::fault::VM_FAULT, 0, 0x1000));
    // ReplyRecv restarts it and takes the second, with its badge.
    assert_eq!(s.as_thread(h, |s| s.reply_recv(ep, 0, &[])), Ok(Done::Ok));
    assert_eq!(s.state(f), ThreadState::Restart);
    assert_waits_for_reply(&s, g, h, ue);
    let (info, badge, mrs) = s.received(h);
    assert_eq!((info.label(), badge), (abi::fault::USER_EXCEPTION, EXPECTED_BADGE));
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
        s.set_fault_handler(faulter_cap, cptr);
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
    // Which thread is current is the harness's doing (it entered the kernel as each).
    s.k.state.sched.current = before.sched.current;
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
    assert!(!s.is_live(ep_ptr), "the endpoint is gone");
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
    s.set_fault_handler(fc, ep);
    assert_eq!(s.as_thread(h, |s| s.recv(ep)), Ok(Done::Blocked));
    let vm = Fault::VMFault { address: 0x10, fsr: 4, instruction_fault: false };
    assert_eq!(s.as_thread(f, |s| s.fault(vm)), Ok(Done::Blocked));
    assert_waits_for_reply(&s, f, h, vm);
    let r = s.root();
    assert_eq!(s.cnode_delete(r, hc, WORD_BITS), Ok(()));
    assert!(!s.is_live(h), "the handler is gone");
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
    assert!(!s.is_live(f));
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
        FaultKind::BadSyscall => s.sys_number(BAD_SYSCALL_NUMBER, 0, MessageInfo::default(), &[], &[]),
        FaultKind::BadInstruction => s.fault(Fault::UserException { number: INVALID_OPCODE, code: 0 }),
    };
    assert_eq!(out, Ok(Done::Blocked), "{kind:?}: the faulter stops");
}

/// `set_good_magic_and_set_pc`: ReadRegisters then WriteRegisters on the faulter's TCB.
fn set_good_magic_and_set_pc(s: &mut Sel4, tcb: u64, pc: u64) {
    let n = abi::x86_64::REGISTER_COUNT as u64;
    assert_eq!(s.tcb_invoke(tcb, label::tcb::READ_REGISTERS, &[0, n], &[]), Ok(Done::Ok));
    let mut ctx = s.received(s.thread).2;
    assert_eq!(ctx[reg::RAX], BAD_MAGIC);
    ctx[reg::RAX] = GOOD_MAGIC;
    ctx[reg::RIP] = pc;
    let mut mrs = vec![0, n];
    mrs.extend(ctx);
    assert_eq!(s.tcb_invoke(tcb, label::tcb::WRITE_REGISTERS, &mrs, &[]), Ok(Done::Ok));
}

/// `handle_fault` of sel4test: receive, check label, length, badge and words, then repair the
/// faulter and reply (or, for a VM fault without restart, leave it waiting).
fn handle_fault(s: &mut Sel4, tcb: u64, kind: FaultKind, badged: bool, restart: bool) {
    let me = s.thread;
    let (tag, badge, mut mrs) = s.received(me);
    assert_eq!(badge, if badged { EXPECTED_BADGE } else { 0 });
    match kind {
        FaultKind::DataRead | FaultKind::DataWrite | FaultKind::Instruction => {
            assert_eq!((tag.label(), tag.length()), (abi::fault::VM_FAULT, VM_FAULT_LENGTH));
            assert_eq!(mrs[0], kind.ip(), "seL4_VMFault_IP");
            assert_eq!(mrs[1], BAD_VADDR, "seL4_VMFault_Addr");
            assert_eq!(mrs[2], (kind == FaultKind::Instruction) as u64, "seL4_VMFault_PrefetchFault");
            let write = mrs[3] & 2 != 0;
            assert_eq!(write, kind == FaultKind::DataWrite, "sel4utils_is_read_fault");
            mrs[1] = 0;
            set_good_magic_and_set_pc(s, tcb, RESTART_ADDRESS);
            if restart {
                assert_eq!(s.reply(tag.label(), &mrs), Ok(Done::Ok));
            }
        }
        FaultKind::BadSyscall => {
            assert_eq!((tag.label(), tag.length()), (abi::fault::UNKNOWN_SYSCALL, UNKNOWN_SYSCALL_LENGTH));
            assert_eq!(mrs[15], FAULT_ADDRESS, "seL4_UnknownSyscall_FaultIP");
            assert_eq!(mrs[18], BAD_SYSCALL_NUMBER as u64, "seL4_UnknownSyscall_Syscall");
            assert_eq!(mrs[1], BAD_MAGIC, "seL4_UnknownSyscall_RBX");
            mrs[15] = RESTART_ADDRESS;
            mrs[1] = GOOD_MAGIC;
            assert_eq!(s.reply(if restart { 0 } else { 1 }, &mrs), Ok(Done::Ok));
        }
        FaultKind::BadInstruction => {
            assert_eq!((tag.label(), tag.length()), (abi::fault::USER_EXCEPTION, USER_EXCEPTION_LENGTH));
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
                s.set_fault_handler(fc, fault_ep);
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
