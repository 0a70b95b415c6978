//! TCB invocations for threads: SetPriority, SetMCPriority and SetSchedParams bounded by the
//! authority's MCP, Suspend/Resume and the ready queues, CopyRegisters, SetIPCBuffer, SetSpace.

use abi::tcb::{COPY_RESUME_TARGET, COPY_SUSPEND_SOURCE, COPY_TRANSFER_FRAME, COPY_TRANSFER_INTEGER};
use abi::{Syscall, label};
use codegears::cap::Cap;
use codegears::kernel::{Done, tcb_slot};
use codegears::object::ThreadState;

use codegears::{SlotRef, SyscallError};
use gears_tests::sel4::Sel4;

fn env() -> Sel4 {
    Sel4::boot(10, &[20, 22])
}

#[test]
fn priorities_are_bounded_by_the_authority_mcp() {
    let mut s = env();
    let (tc, t) = s.spawn(10);
    // The root's MCP is 255: anything up to it.
    assert_eq!(s.set_priority(tc, 255), Ok(Done::Ok));
    assert_eq!(s.set_priority(tc, 256), Err(SyscallError::RangeError { min: 0, max: 255 }));
    // The helper as authority: MCP 0 (a fresh TCB's) allows only 0.
    assert_eq!(
        s.tcb_invoke(tc, label::tcb::SET_PRIORITY, &[1], &[tc]),
        Err(SyscallError::RangeError { min: 0, max: 0 })
    );
    assert_eq!(
        s.tcb_invoke(tc, label::tcb::SET_MC_PRIORITY, &[40], &[abi::bootinfo::CAP_INIT_THREAD_TCB]),
        Ok(Done::Ok)
    );
    assert_eq!(s.tcb(t).mcp, 40);
    assert_eq!(s.tcb_invoke(tc, label::tcb::SET_PRIORITY, &[40], &[tc]), Ok(Done::Ok));
    assert_eq!(s.tcb(t).priority, 40);
    // SetSchedParams: MCP and priority at once.
    assert_eq!(
        s.tcb_invoke(tc, label::tcb::SET_SCHED_PARAMS, &[30, 20], &[abi::bootinfo::CAP_INIT_THREAD_TCB]),
        Ok(Done::Ok)
    );
    assert_eq!((s.tcb(t).mcp, s.tcb(t).priority), (30, 20));
    assert_eq!(
        s.tcb_invoke(tc, label::tcb::SET_SCHED_PARAMS, &[31, 1], &[tc]),
        Err(SyscallError::RangeError { min: 0, max: 30 })
    );
    assert_eq!(
        s.tcb_invoke(tc, label::tcb::SET_SCHED_PARAMS, &[1], &[tc]),
        Err(SyscallError::TruncatedMessage)
    );
    let ep = s.alloc_endpoint();
    assert_eq!(
        s.tcb_invoke(tc, label::tcb::SET_SCHED_PARAMS, &[1, 1], &[ep]),
        Err(SyscallError::InvalidCapability { cap: 1 })
    );
    // It moved to its new priority's ready queue.
    assert_eq!(s.k.state.sched.queue(20).head, Some(t));
}

#[test]
fn suspend_and_resume_move_threads_off_and_on_the_ready_queues() {
    let mut s = env();
    let (tc, t) = s.spawn(10);
    assert!(s.tcb(t).queued);
    assert_eq!(s.suspend(tc), Ok(Done::Ok));
    assert_eq!(s.state(t), ThreadState::Inactive);
    assert!(!s.tcb(t).queued);
    assert!(s.k.state.sched.queue(10).is_empty());
    assert_eq!(s.resume(tc), Ok(Done::Ok));
    assert_eq!(s.state(t), ThreadState::Restart);
    assert_eq!(s.k.state.sched.queue(10).head, Some(t));
    // Resuming a runnable thread changes nothing.
    assert_eq!(s.resume(tc), Ok(Done::Ok));
    assert_eq!(s.k.state.sched.queue(10).tail, Some(t));
    // The master reply cap was set up by the first resume.
    assert!(matches!(s.k.state.cspace.cap(SlotRef::of(t, tcb_slot::REPLY)), Cap::Reply { master: true, .. }));
}

#[test]
fn copy_registers() {
    let mut s = env();
    let (ac, a) = s.spawn(10);
    let (bc, b) = s.spawn(10);
    let mut mrs = vec![0, 20];
    mrs.extend(100..120);
    assert_eq!(s.tcb_invoke(ac, label::tcb::WRITE_REGISTERS, &mrs, &[]), Ok(Done::Ok));
    assert_eq!(s.suspend(bc), Ok(Done::Ok));
    let flags = COPY_SUSPEND_SOURCE | COPY_RESUME_TARGET | COPY_TRANSFER_FRAME;
    assert_eq!(s.tcb_invoke(bc, label::tcb::COPY_REGISTERS, &[flags], &[ac]), Ok(Done::Ok));
    assert_eq!(s.state(a), ThreadState::Inactive, "the source was suspended");
    assert_eq!(s.state(b), ThreadState::Restart, "the target was restarted");
    assert_eq!(s.tcb(b).registers[..18], s.tcb(a).registers[..18]);
    assert_eq!(s.tcb(b).registers[18..20], [0, 0], "integer registers not copied");
    assert_eq!(s.tcb_invoke(bc, label::tcb::COPY_REGISTERS, &[COPY_TRANSFER_INTEGER], &[ac]), Ok(Done::Ok));
    assert_eq!(s.tcb(b).registers, s.tcb(a).registers);
    assert_eq!(s.tcb_invoke(bc, label::tcb::COPY_REGISTERS, &[0], &[]), Err(SyscallError::TruncatedMessage));
    let ep = s.alloc_endpoint();
    assert_eq!(
        s.tcb_invoke(bc, label::tcb::COPY_REGISTERS, &[0], &[ep]),
        Err(SyscallError::InvalidCapability { cap: 1 })
    );
}

#[test]
fn set_ipc_buffer_installs_the_frame() {
    let mut s = env();
    let (tc, t) = s.spawn(10);
    let frame = s.alloc(s.untyped(1), abi::x86_64::object::SMALL_PAGE, 0);
    let ep = s.alloc_endpoint();
    assert_eq!(
        s.tcb_invoke(tc, label::tcb::SET_IPC_BUFFER, &[0x1000], &[ep]),
        Err(SyscallError::IllegalOperation)
    );
    assert_eq!(
        s.tcb_invoke(tc, label::tcb::SET_IPC_BUFFER, &[0x1200], &[frame]),
        Err(SyscallError::AlignmentError)
    );
    assert_eq!(s.tcb_invoke(tc, label::tcb::SET_IPC_BUFFER, &[0x1400], &[frame]), Ok(Done::Ok));
    assert_eq!(s.tcb(t).ipc_buffer_ptr, 0x1400);
    let buf = SlotRef::of(t, tcb_slot::BUFFER);
    assert_eq!(s.k.state.cspace.cap(buf), s.cap(frame));
    // Address 0 removes it.
    assert_eq!(s.tcb_invoke(tc, label::tcb::SET_IPC_BUFFER, &[0], &[frame]), Ok(Done::Ok));
    assert!(s.k.state.cspace.cap(buf).is_null());
    assert_eq!(s.tcb(t).ipc_buffer_ptr, 0);
}

#[test]
fn set_space_replaces_the_cspace_root() {
    let mut s = env();
    let (tc, t) = s.spawn(10);
    let cn = s.alloc_cnode(4);
    let info = abi::MessageInfo::new(label::tcb::SET_SPACE, 0, 2, 3);
    let r = s.root();
    let v = abi::bootinfo::CAP_INIT_THREAD_VSPACE;
    assert_eq!(s.sys(Syscall::Call, tc, info, &[7, 0, 0], &[cn, v]), Ok(Done::Ok));
    assert_eq!(s.k.state.cspace.cap(SlotRef::of(t, tcb_slot::CTABLE)), s.cap(cn));
    assert_eq!(s.tcb(t).fault_handler, 7);
    let ep = s.alloc_endpoint();
    assert_eq!(s.sys(Syscall::Call, tc, info, &[0, 0, 0], &[ep, v]), Err(SyscallError::IllegalOperation));
    // A CNode is not a VSpace root.
    assert_eq!(s.sys(Syscall::Call, tc, info, &[0, 0, 0], &[cn, r]), Err(SyscallError::IllegalOperation));
    let short = abi::MessageInfo::new(label::tcb::SET_SPACE, 0, 1, 3);
    assert_eq!(s.sys(Syscall::Call, tc, short, &[0, 0, 0], &[cn]), Err(SyscallError::TruncatedMessage));
}

#[test]
fn configure_sets_fault_handler_cspace_and_buffer() {
    let mut s = env();
    let (tc, t) = s.spawn(10);
    let cn = s.alloc_cnode(3);
    let frame = s.alloc(s.untyped(1), abi::x86_64::object::SMALL_PAGE, 0);
    let r = s.root();
    let v = abi::bootinfo::CAP_INIT_THREAD_VSPACE;
    let call = |s: &mut Sel4, mrs: &[u64], extra: &[u64]| {
        let info = abi::MessageInfo::new(label::tcb::CONFIGURE, 0, extra.len() as u64, mrs.len() as u64);
        s.sys(Syscall::Call, tc, info, mrs, extra)
    };
    assert_eq!(call(&mut s, &[9, 0, 0], &[cn, v, frame]), Err(SyscallError::TruncatedMessage));
    assert_eq!(call(&mut s, &[9, 0, 0, 0x900], &[cn, v, frame]), Err(SyscallError::AlignmentError));
    assert_eq!(call(&mut s, &[9, 0, 0, 0x800], &[frame, v, frame]), Err(SyscallError::IllegalOperation));
    assert_eq!(call(&mut s, &[9, 0, 0, 0xc00], &[cn, v, frame]), Ok(Done::Ok));
    assert_eq!(s.tcb(t).fault_handler, 9);
    assert_eq!(s.tcb(t).ipc_buffer_ptr, 0xc00);
    assert_eq!(s.k.state.cspace.cap(SlotRef::of(t, tcb_slot::CTABLE)), s.cap(cn));
    assert_eq!(s.k.state.cspace.cap(SlotRef::of(t, tcb_slot::BUFFER)), s.cap(frame));
    assert_eq!(s.k.state.cspace.cap(SlotRef::of(t, tcb_slot::VTABLE)), s.cap(v));
    // Again, back to the root CNode and no buffer: the old caps are deleted first.
    assert_eq!(call(&mut s, &[0, 0, 0, 0], &[r, v, frame]), Ok(Done::Ok));
    assert_eq!(s.k.state.cspace.cap(SlotRef::of(t, tcb_slot::CTABLE)), s.cap(r));
    assert!(s.k.state.cspace.cap(SlotRef::of(t, tcb_slot::BUFFER)).is_null());
}
