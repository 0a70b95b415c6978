//! The TCB and domain invocations seL4 programs use beyond the basic ones, after seL4's
//! `src/object/tcb.c` and `src/object/domain.c`: SetTLSBase (the invocation, and x86_64's
//! `SysSetTLSBase` system call), SetFlags, DomainSet_Set, and `slotCapLongRunningDelete` in
//! SetSpace and Configure.

use abi::bootinfo::{CAP_DOMAIN, CAP_INIT_THREAD_CNODE, CAP_INIT_THREAD_VSPACE};
use abi::{Arch, MessageInfo, Syscall, label};
use codegears::cap::Cap;
use codegears::{ObjPtr, SyscallError};
use gears_tests::sel4::{Sel4, WORD_BITS};

fn tcb(s: &mut Sel4) -> (u64, ObjPtr) {
    let t = s.alloc_tcb();
    let Cap::Thread { ptr } = s.cap(t) else { panic!("a TCB") };
    (t, ptr)
}

#[test]
fn set_tls_base_sets_the_tls_register_of_each_arch() {
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let mut s = Sel4::boot_arch(arch);
        let (t, ptr) = tcb(&mut s);
        assert_eq!(s.invoke(t, label::tcb::SET_TLS_BASE, &[], &[]), Err(SyscallError::TruncatedMessage));
        assert_eq!(s.tcb(ptr).registers[arch.tls_register()], 0, "a refused call changes nothing");
        assert_eq!(s.invoke(t, label::tcb::SET_TLS_BASE, &[0x7000_1000], &[]), Ok(()));
        assert_eq!(s.tcb(ptr).registers[arch.tls_register()], 0x7000_1000, "{arch:?}");
        let name = if arch == Arch::X86_64 { "fs_base" } else { "tp" };
        let idx = if arch == Arch::X86_64 { abi::x86_64::reg::FS_BASE } else { abi::riscv64::reg::TP };
        assert_eq!(arch.tls_register(), idx, "{arch:?}: TLS_BASE is {name}");
    }
}

#[test]
fn the_set_tls_base_system_call_sets_the_callers_own_on_x86_64() {
    let mut s = Sel4::boot_arch(Arch::X86_64);
    let root = s.info.root_tcb;
    assert_eq!(s.syscall(Syscall::SetTLSBase, 0x5000_0000, 0, &[], &[]), Ok(()));
    assert_eq!(s.tcb(root).registers[abi::x86_64::reg::FS_BASE], 0x5000_0000);
    // riscv64 has no such system call (threads write tp themselves): an unknown system call.
    assert_eq!(Syscall::decode(Syscall::SetTLSBase.number(), Arch::Riscv64), None);
}

#[test]
fn set_flags_clears_then_sets_within_the_mask_and_answers_a_call() {
    let mut s = Sel4::boot(10, &[20]);
    let (t, ptr) = tcb(&mut s);
    let root = s.info.root_tcb;
    let call = |s: &mut Sel4, clear: u64, set: u64| {
        let info = MessageInfo::new(label::tcb::SET_FLAGS, 0, 0, 2).word();
        let r = s.syscall(Syscall::Call, t, info, &[clear, set], &[]);
        (r, s.received(root).2)
    };
    let one_word = MessageInfo::new(label::tcb::SET_FLAGS, 0, 0, 1).word();
    assert_eq!(s.syscall(Syscall::Call, t, one_word, &[0], &[]), Err(SyscallError::TruncatedMessage));
    assert_eq!(call(&mut s, 0, abi::tcb::FLAG_FPU_DISABLED), (Ok(()), vec![1]));
    assert_eq!(s.tcb(ptr).flags, 1);
    assert_eq!(call(&mut s, 0, !0), (Ok(()), vec![1]), "only seL4_TCBFlag_MASK's bits are set");
    assert_eq!(call(&mut s, !0, 0), (Ok(()), vec![0]));
    assert_eq!(s.tcb(ptr).flags, 0);
}

#[test]
fn domain_set_takes_domain_0_and_a_thread_cap() {
    let mut s = Sel4::boot(10, &[20]);
    let (t, _) = tcb(&mut s);
    let set = label::domain_set::SET;
    assert_eq!(s.invoke(CAP_DOMAIN, set, &[], &[t]), Err(SyscallError::TruncatedMessage));
    assert_eq!(s.invoke(CAP_DOMAIN, set, &[1], &[t]), Err(SyscallError::InvalidArgument { arg: 0 }));
    assert_eq!(s.invoke(CAP_DOMAIN, set, &[0], &[]), Err(SyscallError::TruncatedMessage));
    let ep = s.alloc_endpoint();
    assert_eq!(s.invoke(CAP_DOMAIN, set, &[0], &[ep]), Err(SyscallError::InvalidArgument { arg: 1 }));
    assert_eq!(s.invoke(CAP_DOMAIN, set, &[0], &[t]), Ok(()));
    assert_eq!(
        s.invoke(CAP_DOMAIN, label::domain_set::SCHEDULE_CONFIGURE, &[0, 0, 0], &[]),
        Err(SyscallError::IllegalOperation)
    );
}

/// `slotCapLongRunningDelete`: a thread whose CSpace slot holds the last cap of a CNode cannot
/// have its space replaced (deleting that cap could take long), by SetSpace or by Configure.
#[test]
fn set_space_and_configure_refuse_while_the_old_space_is_a_last_cap() {
    let mut s = Sel4::boot(10, &[20]);
    let (t, _) = tcb(&mut s);
    let c = s.alloc_cnode(4);
    let space = [CAP_INIT_THREAD_CNODE, CAP_INIT_THREAD_VSPACE];
    assert_eq!(s.invoke(t, label::tcb::SET_SPACE, &[0, 0, 0], &[c, CAP_INIT_THREAD_VSPACE]), Ok(()));
    // The TCB's copy is the CNode's only cap once the root CNode's is gone.
    let r = s.root();
    assert_eq!(s.cnode_delete(r, c, WORD_BITS), Ok(()));
    assert_eq!(s.invoke(t, label::tcb::SET_SPACE, &[0, 0, 0], &space), Err(SyscallError::IllegalOperation));
    let buffer = s.free_slot();
    assert_eq!(
        s.invoke(t, label::tcb::CONFIGURE, &[0, 0, 0, 0], &[space[0], space[1], buffer]),
        Err(SyscallError::IllegalOperation)
    );
    // A thread whose CSpace cap is not the last one may change it.
    let (t2, _) = tcb(&mut s);
    assert_eq!(s.invoke(t2, label::tcb::SET_SPACE, &[0, 0, 0], &space), Ok(()));
    assert_eq!(s.invoke(t2, label::tcb::SET_SPACE, &[0, 0, 0], &space), Ok(()));
}
