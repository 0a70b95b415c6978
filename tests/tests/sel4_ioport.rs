//! x86_64's I/O ports: IOPortControl Issue and the IOPort caps' In and Out, with seL4's errors,
//! the ranges in use (the kernel's own from boot; a cap's until its last copy goes), and the
//! accesses as machine ops. The invariant checker runs at every step.

use abi::Syscall;
use abi::x86_64::label::{
    IO_PORT_CONTROL_ISSUE as ISSUE, IO_PORT_IN8 as IN8, IO_PORT_IN16 as IN16, IO_PORT_IN32 as IN32,
    IO_PORT_OUT8 as OUT8, IO_PORT_OUT16 as OUT16, IO_PORT_OUT32 as OUT32,
};
use abi::{MessageInfo, bootinfo::CAP_IO_PORT_CONTROL as CONTROL};
use codegears::{Cap, MachineOp, SyscallError};
use gears_tests::sel4::{Sel4, WORD_BITS, received};

fn issue(s: &mut Sel4, first: u64, last: u64, dest: u64) -> Result<(), SyscallError> {
    let r = s.root();
    s.invoke(CONTROL, ISSUE, &[first, last, dest, WORD_BITS], &[r])
}

/// A port read by `seL4_Call`: the one-word reply's value.
fn port_in(s: &mut Sel4, cap: u64, label: u64, port: u64) -> Result<u64, SyscallError> {
    s.sys(Syscall::Call, cap, MessageInfo::new(label, 0, 0, 1), &[port], &[])?;
    let (info, badge, words) = received(&s.k, s.thread);
    assert_eq!((info.label(), info.length(), badge), (0, 1, 0), "a one-word reply, no badge");
    Ok(words[0])
}

fn port_out(s: &mut Sel4, cap: u64, label: u64, port: u64, value: u64) -> Result<(), SyscallError> {
    s.invoke(cap, label, &[port, value], &[])
}

#[test]
fn issue_and_its_errors() {
    let mut s = Sel4::boot(10, &[20]);
    s.k.state.io_ports.reserve(0x40, 0x43);
    assert_eq!(s.cap(CONTROL), Cap::IoPortControl, "x86_64's boot puts IOPortControl in slot 7");
    let (com1, other) = (s.free_slot(), s.free_slot());
    assert_eq!(issue(&mut s, 0x3f8, 0x3ff, com1), Ok(()));
    assert_eq!(s.cap(com1), Cap::IoPort { first: 0x3f8, last: 0x3ff });
    assert_eq!(s.descendants(CONTROL), vec![s.slot(com1)], "a child of IOPortControl");
    assert_eq!(issue(&mut s, 0x3ff, 0x400, other), Err(SyscallError::RevokeFirst), "meets COM1's");
    assert_eq!(issue(&mut s, 0x43, 0x43, other), Err(SyscallError::RevokeFirst), "the kernel's PIT");
    assert_eq!(issue(&mut s, 0x2f9, 0x2f8, other), Err(SyscallError::InvalidArgument { arg: 1 }));
    assert_eq!(issue(&mut s, 0x2f8, 0x2ff, com1), Err(SyscallError::DeleteFirst));
    // Only the low 16 bits of the ports count (seL4 masks them).
    assert_eq!(issue(&mut s, 0x1_0000 | 0x2f8, 0x2ff, other), Ok(()));
    assert_eq!(s.cap(other), Cap::IoPort { first: 0x2f8, last: 0x2ff });
    let r = s.root();
    let spare = s.free_slot();
    assert_eq!(s.invoke(CONTROL, ISSUE, &[0x60, 0x64, spare], &[r]), Err(SyscallError::TruncatedMessage));
    assert_eq!(
        s.invoke(CONTROL, ISSUE, &[0x60, 0x64, spare, WORD_BITS], &[]),
        Err(SyscallError::TruncatedMessage)
    );
    assert_eq!(
        s.invoke(CONTROL, IN8, &[0x60, 0x64, spare, WORD_BITS], &[r]),
        Err(SyscallError::IllegalOperation)
    );
    // IOPortControl cannot be copied (deriveCap gives Null); an IOPort cap can.
    assert_eq!(s.copy(CONTROL, spare), Err(SyscallError::IllegalOperation));
    assert_eq!(s.copy(com1, spare), Ok(()));
    assert_eq!(s.cap(spare), Cap::IoPort { first: 0x3f8, last: 0x3ff });
}

#[test]
fn in_and_out_reach_only_the_caps_ports() {
    let mut s = Sel4::boot(10, &[20]);
    let com1 = s.free_slot();
    assert_eq!(issue(&mut s, 0x3f8, 0x3ff, com1), Ok(()));
    let ops = s.machine_ops.len();
    assert_eq!(port_out(&mut s, com1, OUT8, 0x3ff, 0x1_5a), Ok(()));
    assert_eq!(port_out(&mut s, com1, OUT16, 0x3fc, 0xffff_1234), Ok(()));
    assert_eq!(port_out(&mut s, com1, OUT32, 0x3f8, 0xaabb_ccdd), Ok(()));
    assert_eq!(
        s.machine_ops[ops..],
        [
            MachineOp::PortOut { port: 0x3ff, width: 1, value: 0x5a },
            MachineOp::PortOut { port: 0x3fc, width: 2, value: 0x1234 },
            MachineOp::PortOut { port: 0x3f8, width: 4, value: 0xaabb_ccdd },
        ],
        "each write cut to its width, in order"
    );
    assert_eq!(port_in(&mut s, com1, IN8, 0x3ff), Ok(0x5a));
    assert_eq!(port_in(&mut s, com1, IN16, 0x3fc), Ok(0x1234));
    assert_eq!(port_in(&mut s, com1, IN32, 0x3f8), Ok(0xaabb_ccdd));
    assert_eq!(s.machine.port_reads, [(0x3ff, 1), (0x3fc, 2), (0x3f8, 4)]);
    assert_eq!(port_in(&mut s, com1, IN8, 0x1_03ff), Ok(0x5a), "only the port word's low 16 bits count");
    // Every byte of the access inside the range (ensurePortOperationAllowed).
    let reads = s.machine.port_reads.len();
    for (label, port) in [(IN16, 0x3ff), (IN32, 0x3fd), (IN8, 0x3f7), (IN8, 0x400)] {
        assert_eq!(port_in(&mut s, com1, label, port), Err(SyscallError::IllegalOperation), "{port:#x}");
    }
    assert_eq!(port_out(&mut s, com1, OUT32, 0x3fe, 0), Err(SyscallError::IllegalOperation));
    assert_eq!(port_out(&mut s, com1, OUT8, 0x80, 0), Err(SyscallError::IllegalOperation));
    assert_eq!(s.machine.port_reads.len(), reads, "a refused read reads nothing");
    // Message length: In needs the port, Out the port and the value.
    assert_eq!(s.invoke(com1, IN8, &[], &[]), Err(SyscallError::TruncatedMessage));
    assert_eq!(s.invoke(com1, OUT8, &[0x3f8], &[]), Err(SyscallError::TruncatedMessage));
    assert_eq!(s.invoke(com1, ISSUE, &[0x3f8, 0x3f8, 0, 0], &[]), Err(SyscallError::IllegalOperation));
    // A read by Send (no reply wanted) still reads the port.
    s.sys(Syscall::Send, com1, MessageInfo::new(IN8, 0, 0, 1), &[0x3f9], &[]).unwrap();
    assert_eq!(s.machine.port_reads.last(), Some(&(0x3f9, 1)));
}

#[test]
fn the_last_cap_frees_its_ports_and_revoke_frees_them_all() {
    let mut s = Sel4::boot(10, &[20]);
    let r = s.root();
    let (a, b, c) = (s.free_slot(), s.free_slot(), s.free_slot());
    assert_eq!(issue(&mut s, 0x60, 0x64, a), Ok(()));
    assert_eq!(s.copy(a, b), Ok(()));
    assert_eq!(s.cnode_delete(r, a, WORD_BITS), Ok(()));
    assert_eq!(issue(&mut s, 0x60, 0x60, c), Err(SyscallError::RevokeFirst), "a copy still holds them");
    assert_eq!(s.cnode_delete(r, b, WORD_BITS), Ok(()));
    assert_eq!(issue(&mut s, 0x60, 0x60, c), Ok(()), "free once the last cap went");
    assert_eq!(issue(&mut s, 0x70, 0x71, a), Ok(()));
    assert_eq!(s.cnode_revoke(r, CONTROL, WORD_BITS), Ok(()));
    assert!(s.is_slot_empty(a) && s.is_slot_empty(c));
    assert_eq!(s.k.state.io_ports.ranges().count(), 0);
    assert_eq!(issue(&mut s, 0, 0xffff, a), Ok(()), "every port free again");
}

#[test]
fn riscv64_has_no_io_ports() {
    let mut rv = Sel4::boot_arch(abi::Arch::Riscv64);
    assert_eq!(rv.cap(CONTROL), Cap::Null);
    let dest = rv.free_slot();
    assert!(issue(&mut rv, 0x3f8, 0x3ff, dest).is_err());
}
