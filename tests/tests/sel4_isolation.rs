//! Attacks on isolation through ordinary system calls, on the host model: a thread runs only on
//! the address space the capability state gives it (seL4's `setVMRoot`), and the hardware page
//! tables agree with the caps wherever a thread can reach them (the harness checks
//! `check_hardware_tables` after every kernel entry; these tests also show it catches a stale
//! entry).

use abi::bootinfo::{CAP_INIT_THREAD_ASID_POOL as POOL, CAP_INIT_THREAD_VSPACE};
use abi::riscv64::{label as rv, object as rvt};
use abi::x86_64::{label as xl, object as xt};
use abi::{Arch, CapRights, MessageInfo, Syscall, label};
use codegears::vspace::thread_vspace_root;
use codegears::vspace_invariants::check_hardware_tables;
use codegears::{ObjPtr, Pte};
use gears_tests::sel4::{Sel4, WORD_BITS};

const RW: u64 = CapRights::READ_WRITE.word();

/// An address space with a frame mapped at `vaddr`, and a thread running on it.
struct Space {
    s: Sel4,
    root: u64,
    frame: u64,
    tcb: ObjPtr,
    tcb_cap: u64,
}

/// The labels, object types and address of a one-frame address space on `arch`.
fn space(arch: Arch) -> Space {
    let mut s = Sel4::boot_arch(arch);
    let ut = s.untyped(0);
    let (root_type, tables, frame_type, assign, map, vaddr): (u64, Vec<(u64, u64)>, u64, u64, u64, u64) =
        match arch {
            Arch::X86_64 => (
                xt::PML4,
                vec![
                    (xt::PDPT, xl::PDPT_MAP),
                    (xt::PAGE_DIRECTORY, xl::PAGE_DIRECTORY_MAP),
                    (xt::PAGE_TABLE, xl::PAGE_TABLE_MAP),
                ],
                xt::SMALL_PAGE,
                xl::ASID_POOL_ASSIGN,
                xl::PAGE_MAP,
                0x10_0020_3000,
            ),
            Arch::Riscv64 => (
                rvt::PAGE_TABLE,
                vec![(rvt::PAGE_TABLE, rv::PAGE_TABLE_MAP), (rvt::PAGE_TABLE, rv::PAGE_TABLE_MAP)],
                rvt::SMALL_PAGE,
                rv::ASID_POOL_ASSIGN,
                rv::PAGE_MAP,
                0x2_0040_3000,
            ),
        };
    let root = s.alloc(ut, root_type, 0);
    assert_eq!(s.invoke(POOL, assign, &[], &[root]), Ok(()));
    for (ty, label) in tables {
        let t = s.alloc(ut, ty, 0);
        assert_eq!(s.invoke(t, label, &[vaddr, 0], &[root]), Ok(()));
    }
    let frame = s.alloc(ut, frame_type, 0);
    assert_eq!(s.invoke(frame, map, &[vaddr, RW, 0], &[root]), Ok(()));
    let (tcb_cap, tcb) = s.spawn(10);
    set_space(&mut s, tcb_cap, root);
    Space { s, root, frame, tcb, tcb_cap }
}

/// TCB SetSpace: the root CNode as CSpace, `vspace` as VSpace.
fn set_space(s: &mut Sel4, tcb_cap: u64, vspace: u64) {
    let r = s.root();
    let info = MessageInfo::new(label::tcb::SET_SPACE, 0, 2, 3);
    assert!(s.sys(Syscall::Call, tcb_cap, info, &[0, 0, 0], &[r, vspace]).is_ok());
}

fn root_of(s: &Sel4, t: ObjPtr) -> Option<u64> {
    thread_vspace_root(&s.k.state, t).map(|r| r.0)
}

#[test]
fn deleting_the_initial_asid_pool_takes_every_vspace_from_its_threads() {
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let Space { mut s, root, tcb, .. } = space(arch);
        let root_task = s.info.root_tcb;
        let boot_vspace = s.cap(CAP_INIT_THREAD_VSPACE).ptr();
        let r4 = s.cap(root).ptr();
        assert_eq!(root_of(&s, root_task), Some(boot_vspace), "{arch:?}");
        assert_eq!(root_of(&s, tcb), Some(r4), "{arch:?}");
        let r = s.root();
        assert_eq!(s.cnode_delete(r, POOL, WORD_BITS), Ok(()));
        // Both VTable caps still say mapped, but no ASID names their roots any more: the threads
        // run on the kernel's own page table (no user mappings) and fault at once.
        assert_eq!(root_of(&s, root_task), None, "{arch:?}");
        assert_eq!(root_of(&s, tcb), None, "{arch:?}");
    }
}

/// The attack of a frame's stale mapping: after its ASID pool is gone, deleting a mapped frame
/// cannot find its VSpace and leaves the entry; the untyped is then revoked and its memory
/// retyped. The entry sits in a table no thread can run on, and every reachable table still
/// agrees with the caps.
#[test]
fn a_stale_entry_left_by_an_unmap_without_a_vspace_is_unreachable() {
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let Space { mut s, root, frame, tcb, .. } = space(arch);
        let r4 = s.cap(root).ptr();
        let f = s.cap(frame).ptr();
        let r = s.root();
        assert_eq!(s.cnode_delete(r, POOL, WORD_BITS), Ok(()));
        assert_eq!(s.cnode_delete(r, frame, WORD_BITS), Ok(()));
        let stale = s.machine.tables.values().any(|e| matches!(e, Pte::Page { paddr, .. } if *paddr == f));
        assert!(stale, "{arch:?}: the frame's entry stays in its table, as in seL4");
        assert_eq!(root_of(&s, tcb), None, "{arch:?}: no thread runs on the VSpace holding it");
        // Reuse the memory: the frame's page becomes another object.
        let ut = s.untyped(0);
        assert_eq!(s.cnode_revoke(r, ut, WORD_BITS), Ok(()));
        let ty = if arch == Arch::X86_64 { xt::SMALL_PAGE } else { rvt::SMALL_PAGE };
        let reused = (0..64).any(|_| {
            let c = s.alloc(ut, ty, 0);
            s.cap(c).ptr() == f
        });
        assert!(reused, "{arch:?}: the frame's memory is a new frame");
        let vspace_gone = !matches!(s.live_kind(ObjPtr(r4)), Some(codegears::ObjKind::PageTable { .. }));
        assert!(vspace_gone, "{arch:?}: the VSpace is gone");
        check_hardware_tables(&s.k.state, &s.machine).unwrap_or_else(|v| panic!("{arch:?}: {v}"));
    }
}

/// riscv64: every level is a PageTable, so a mapped level-1 table passes `isValidVTableRoot`
/// (in seL4 too) and SetSpace takes it; the thread must not run on it (a root without the
/// kernel's entries: the kernel would loop in its own trap entry). Its ASID names the real
/// root, so `setVMRoot` runs the thread on the kernel's table instead.
#[test]
fn riscv64_a_mapped_lower_table_as_vspace_is_never_run_on() {
    let Space { mut s, root, tcb, tcb_cap, .. } = space(Arch::Riscv64);
    let ut = s.untyped(0);
    let l1 = s.alloc(ut, rvt::PAGE_TABLE, 0);
    assert_eq!(s.invoke(l1, rv::PAGE_TABLE_MAP, &[0x3_0000_0000, 0], &[root]), Ok(()));
    set_space(&mut s, tcb_cap, l1);
    assert_eq!(root_of(&s, tcb), None);
    set_space(&mut s, tcb_cap, root);
    assert_eq!(root_of(&s, tcb), Some(s.cap(root).ptr()));
}

/// The check catches what the attacks needed: a present hardware entry the caps do not claim,
/// and a mapping the caps claim that the hardware lost.
#[test]
fn the_hardware_check_sees_entries_the_caps_do_not_claim() {
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let Space { mut s, root, frame, .. } = space(arch);
        let r4 = s.cap(root).ptr();
        let f = s.cap(frame).ptr();
        check_hardware_tables(&s.k.state, &s.machine).expect("agrees after the set-up");
        let mut forged = s.machine.clone();
        forged.tables.insert((r4, 200), Pte::Page { paddr: 0x1000, size_bits: 30, write: true, exec: false });
        let v = check_hardware_tables(&s.k.state, &forged).expect_err("an unclaimed entry");
        assert_eq!(v.invariant, "hardware_matches_caps", "{arch:?}");
        let mut lost = s.machine.clone();
        let key =
            *lost.tables.iter().find(|(_, e)| matches!(e, Pte::Page { paddr, .. } if *paddr == f)).unwrap().0;
        lost.tables.remove(&key);
        let v = check_hardware_tables(&s.k.state, &lost).expect_err("a lost mapping");
        assert_eq!(v.invariant, "hardware_matches_caps", "{arch:?}");
    }
}
