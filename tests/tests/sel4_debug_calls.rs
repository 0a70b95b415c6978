//! seL4's debug system calls, as its debug kernel serves them (`handleUnknownSyscall` in
//! `src/api/syscall.c`): DebugCapIdentify, DebugNameThread, DebugDumpScheduler, DebugSnapshot;
//! and the list of every TCB they use (`ksDebugTCBs`), which the invariants check.

use abi::{Arch, Syscall, cap_type};
use codegears::cap::Cap;
use codegears::message::lookup_ipc_buffer;
use gears_tests::sel4::{Sel4, WORD_BITS};

/// The word the root task finds in its cap register after a system call.
fn cap_register(s: &Sel4) -> u64 {
    s.tcb(s.info.root_tcb).registers[s.k.state.arch.syscall_registers().cap]
}

fn identify(s: &mut Sel4, cptr: u64) -> u64 {
    assert_eq!(s.syscall(Syscall::DebugCapIdentify, cptr, 0, &[], &[]), Ok(()));
    cap_register(s)
}

#[test]
fn debug_cap_identify_returns_sel4s_cap_type_tags() {
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let mut s = Sel4::boot_arch(arch);
        let ep = s.alloc_endpoint();
        let t = s.alloc_tcb();
        assert_eq!(identify(&mut s, ep), cap_type::ENDPOINT);
        assert_eq!(identify(&mut s, t), cap_type::THREAD);
        assert_eq!(identify(&mut s, abi::bootinfo::CAP_INIT_THREAD_CNODE), cap_type::CNODE);
        assert_eq!(identify(&mut s, abi::bootinfo::CAP_DOMAIN), cap_type::DOMAIN);
        let ut = s.untyped(0);
        assert_eq!(identify(&mut s, ut), cap_type::UNTYPED);
        let root = if arch == Arch::X86_64 { cap_type::x86_64::PML4 } else { cap_type::PAGE_TABLE };
        assert_eq!(identify(&mut s, abi::bootinfo::CAP_INIT_THREAD_VSPACE), root, "{arch:?}");
        let empty = s.free_slot();
        assert_eq!(identify(&mut s, empty), cap_type::NULL);
        assert_eq!(identify(&mut s, 1 << 40), cap_type::NULL, "a cptr that resolves nowhere");
    }
}

/// Writes `bytes` (NUL-terminated by the caller) into the root task's IPC buffer from word 1.
fn put_name(s: &mut Sel4, bytes: &[u8]) {
    let root = s.info.root_tcb;
    let b = lookup_ipc_buffer(&s.k.state.cspace, &s.k.state.objects, root, true).expect("an IPC buffer");
    for (i, chunk) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        s.k.state.mem.write(b + 8 * (1 + i as u64), u64::from_le_bytes(w));
    }
}

#[test]
fn debug_name_thread_names_a_tcb_and_ignores_what_sel4_would_halt_on() {
    let mut s = Sel4::boot(10, &[20]);
    let t = s.alloc_tcb();
    let Cap::Thread { ptr } = s.cap(t) else { panic!("a TCB") };
    put_name(&mut s, b"worker-7\0");
    assert_eq!(s.syscall(Syscall::DebugNameThread, t, 0, &[], &[]), Ok(()));
    assert_eq!(s.k.state.objects.thread_name(ptr), b"worker-7");
    // Not a TCB cap, or a name without its NUL in 960 bytes: seL4's debug kernel halts; Gears
    // leaves the name as it was.
    put_name(&mut s, b"other\0");
    let ep = s.alloc_endpoint();
    assert_eq!(s.syscall(Syscall::DebugNameThread, ep, 0, &[], &[]), Ok(()));
    put_name(&mut s, &[b'x'; 960]);
    assert_eq!(s.syscall(Syscall::DebugNameThread, t, 0, &[], &[]), Ok(()));
    assert_eq!(s.k.state.objects.thread_name(ptr), b"worker-7");
    // A long name is kept as far as the TCB has room.
    let mut long = vec![b'n'; 500];
    long.push(0);
    put_name(&mut s, &long);
    assert_eq!(s.syscall(Syscall::DebugNameThread, t, 0, &[], &[]), Ok(()));
    let kept = s.k.state.objects.thread_name(ptr);
    assert_eq!(kept.len() as u64, codegears::obj_words::TCB_NAME_BYTES - 1);
    assert!(kept.iter().all(|&b| b == b'n'));
}

#[test]
fn debug_dump_scheduler_lists_every_tcb_until_it_is_deleted() {
    let mut s = Sel4::boot(10, &[20]);
    let t = s.alloc_tcb();
    put_name(&mut s, b"sleeper\0");
    assert_eq!(s.syscall(Syscall::DebugNameThread, t, 0, &[], &[]), Ok(()));
    put_name(&mut s, b"rootserver\0");
    assert_eq!(s.syscall(Syscall::DebugNameThread, abi::bootinfo::CAP_INIT_THREAD_TCB, 0, &[], &[]), Ok(()));
    s.machine.console.clear();
    assert_eq!(s.syscall(Syscall::DebugDumpScheduler, 0, 0, &[], &[]), Ok(()));
    let out = String::from_utf8(std::mem::take(&mut s.machine.console)).unwrap();
    assert!(out.starts_with("Dumping all tcbs!\n"), "{out}");
    let lines: Vec<&str> = out.lines().skip(3).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("sleeper") && lines[0].contains("inactive"), "newest first: {out}");
    assert!(lines[1].starts_with("rootserver") && lines[1].contains("running"), "{out}");
    // Deleting the TCB's last cap takes it off the list (the invariants check the list too).
    let r = s.root();
    assert_eq!(s.cnode_delete(r, t, WORD_BITS), Ok(()));
    assert_eq!(s.syscall(Syscall::DebugDumpScheduler, 0, 0, &[], &[]), Ok(()));
    let out = String::from_utf8(std::mem::take(&mut s.machine.console)).unwrap();
    assert_eq!(out.lines().skip(3).count(), 1, "{out}");
    assert_eq!(s.syscall(Syscall::DebugSnapshot, 0, 0, &[], &[]), Ok(()));
    let out = String::from_utf8(std::mem::take(&mut s.machine.console)).unwrap();
    assert!(
        out.starts_with("Debug snapshot syscall from user thread") && out.contains("rootserver"),
        "{out}"
    );
}
