//! Address spaces on both arches: retype a paging hierarchy, give it an ASID, map a page, and
//! check the machine ops each step records; every refused Map changes nothing and returns
//! seL4's error; delete and revoke unmap; SetSpace wants a VSpace root with an ASID.

use abi::riscv64::{label as rv, object as rvt};
use abi::x86_64::{label as xl, object as xt};
use abi::{Syscall, label};
use codegears::arch::Arch;
use codegears::kernel::{ROOT_ASID, tcb_slot};
use codegears::{Cap, CapRights, LookupFault, MachineOp, Mapping, ObjPtr, Pte, SlotRef, SyscallError};
use gears_tests::sel4::{Sel4, WORD_BITS, without_reply};

const RW: u64 = abi::CapRights::READ_WRITE.word();

fn boot(arch: Arch) -> Sel4 {
    Sel4::boot_arch(arch)
}

fn ops(s: &mut Sel4) -> Vec<MachineOp> {
    std::mem::take(&mut s.machine_ops)
}

fn ptr(s: &mut Sel4, cptr: u64) -> u64 {
    s.cap(cptr).ptr()
}

fn mapped(s: &mut Sel4, cptr: u64) -> Option<Mapping> {
    match s.cap(cptr) {
        Cap::Frame { mapped, .. } | Cap::PageTable { mapped, .. } => mapped,
        other => panic!("{other:?} has no mapping"),
    }
}

fn write(table: u64, index: u16, entry: Pte) -> MachineOp {
    MachineOp::WriteEntry { table, index, entry }
}

fn missing(bits_left: u64) -> SyscallError {
    SyscallError::FailedLookup { source: false, fault: LookupFault::MissingCapability { bits_left } }
}

fn page(paddr: u64, write: bool, exec: bool) -> Pte {
    Pte::Page { paddr, size_bits: 12, write, exec }
}

/// An x86_64 VSpace with a PDPT, PD and PT mapped towards `V`, and a frame.
struct X86 {
    s: Sel4,
    pml4: u64,
    pdpt: u64,
    pd: u64,
    pt: u64,
    frame: u64,
}

const V: u64 = 0x10_0020_3000; // PML4 0, PDPT 64, PD 1, PT 3

fn x86_hierarchy() -> X86 {
    let mut s = boot(Arch::X86_64);
    let ut = s.untyped(0);
    let pml4 = s.alloc(ut, xt::PML4, 0);
    let pdpt = s.alloc(ut, xt::PDPT, 0);
    let pd = s.alloc(ut, xt::PAGE_DIRECTORY, 0);
    let pt = s.alloc(ut, xt::PAGE_TABLE, 0);
    let frame = s.alloc(ut, xt::SMALL_PAGE, 0);
    let (r4, r3, r2, r1) = (ptr(&mut s, pml4), ptr(&mut s, pdpt), ptr(&mut s, pd), ptr(&mut s, pt));
    // Their memory is zero already (above the watermark): the retype clears nothing.
    assert_eq!(ops(&mut s), [], "retype clears nothing");
    assert!([r4, r3, r2, r1].iter().all(|&t| s.k.state.objects.pt_entries(ObjPtr(t)).is_empty()));
    // Unassigned, the PML4 is no VSpace yet.
    assert_eq!(
        s.invoke(pdpt, xl::PDPT_MAP, &[V, 0], &[pml4]),
        Err(SyscallError::InvalidCapability { cap: 1 })
    );
    assert_eq!(
        s.invoke(abi::bootinfo::CAP_INIT_THREAD_ASID_POOL, xl::ASID_POOL_ASSIGN, &[], &[pml4]),
        Ok(())
    );
    assert_eq!(ops(&mut s), [MachineOp::CopyGlobalMappings { root: r4 }]);
    assert_eq!(mapped(&mut s, pml4), Some(Mapping { asid: ROOT_ASID + 1, vaddr: 0 }));
    assert_eq!(s.invoke(pdpt, xl::PDPT_MAP, &[V, 0], &[pml4]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [write(r4, 0, Pte::Table { paddr: r3 }), MachineOp::Flush { root: r4, vaddr: None }]
    );
    assert_eq!(mapped(&mut s, pdpt), Some(Mapping { asid: 2, vaddr: 0 }));
    assert_eq!(s.invoke(pd, xl::PAGE_DIRECTORY_MAP, &[V, 0], &[pml4]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [write(r3, 64, Pte::Table { paddr: r2 }), MachineOp::Flush { root: r4, vaddr: None }]
    );
    assert_eq!(mapped(&mut s, pd), Some(Mapping { asid: 2, vaddr: V & !((1 << 30) - 1) }));
    assert_eq!(s.invoke(pt, xl::PAGE_TABLE_MAP, &[V, 0], &[pml4]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [write(r2, 1, Pte::Table { paddr: r1 }), MachineOp::Flush { root: r4, vaddr: None }]
    );
    assert_eq!(mapped(&mut s, pt), Some(Mapping { asid: 2, vaddr: V & !((1 << 21) - 1) }));
    X86 { s, pml4, pdpt, pd, pt, frame }
}

#[test]
fn x86_64_map_a_page_through_a_full_hierarchy() {
    let X86 { mut s, pml4, pt, frame, .. } = x86_hierarchy();
    let (r4, r1, f) = (ptr(&mut s, pml4), ptr(&mut s, pt), ptr(&mut s, frame));
    assert_eq!(s.invoke(frame, xl::PAGE_MAP, &[V, RW, 0], &[pml4]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [write(r1, 3, page(f, true, true)), MachineOp::Flush { root: r4, vaddr: Some(V) }]
    );
    assert_eq!(mapped(&mut s, frame), Some(Mapping { asid: 2, vaddr: V }));
    // Remapping at the same address rewrites the entry (here read-only).
    assert_eq!(s.invoke(frame, xl::PAGE_MAP, &[V, 2, 0], &[pml4]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [write(r1, 3, page(f, false, true)), MachineOp::Flush { root: r4, vaddr: Some(V) }]
    );
    // GetAddress answers a Call with the physical address.
    let info = abi::MessageInfo::new(xl::PAGE_GET_ADDRESS, 0, 0, 0);
    assert!(s.sys(Syscall::Call, frame, info, &[], &[]).is_ok());
    assert_eq!(s.received(s.thread).2, [f]);
    // Unmap.
    assert_eq!(s.invoke(frame, xl::PAGE_UNMAP, &[], &[]), Ok(()));
    assert_eq!(ops(&mut s), [write(r1, 3, Pte::Invalid), MachineOp::Flush { root: r4, vaddr: Some(V) }]);
    assert_eq!(mapped(&mut s, frame), None);
    assert_eq!(s.invoke(frame, xl::PAGE_UNMAP, &[], &[]), Ok(()), "unmapping an unmapped frame does nothing");
    assert_eq!(ops(&mut s), []);
}

#[test]
fn x86_64_rights_are_masked_by_the_cap() {
    let X86 { mut s, pml4, pt, frame, .. } = x86_hierarchy();
    let (r4, r1, f) = (ptr(&mut s, pml4), ptr(&mut s, pt), ptr(&mut s, frame));
    let read_only = s.mint(frame, CapRights::from_word(2), 0);
    assert_eq!(s.invoke(read_only, xl::PAGE_MAP, &[V, RW, 0], &[pml4]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [write(r1, 3, page(f, false, true)), MachineOp::Flush { root: r4, vaddr: Some(V) }]
    );
}

#[test]
fn x86_64_refused_maps_change_nothing() {
    let X86 { mut s, pml4, pdpt, pd, pt, frame } = x86_hierarchy();
    let ut = s.untyped(0);
    let other = s.alloc(ut, xt::SMALL_PAGE, 0);
    let pt2 = s.alloc(ut, xt::PAGE_TABLE, 0);
    let pdpt2 = s.alloc(ut, xt::PDPT, 0);
    let unassigned = s.alloc(ut, xt::PML4, 0);
    ops(&mut s);
    assert_eq!(s.invoke(frame, xl::PAGE_MAP, &[V, RW, 0], &[pml4]), Ok(()));
    ops(&mut s);
    let e = |s: &mut Sel4, cptr, label, mrs: &[u64], extra: &[u64]| s.invoke(cptr, label, mrs, extra);
    // An occupied entry.
    assert_eq!(e(&mut s, other, xl::PAGE_MAP, &[V, RW, 0], &[pml4]), Err(SyscallError::DeleteFirst));
    assert_eq!(e(&mut s, pt2, xl::PAGE_TABLE_MAP, &[V, 0], &[pml4]), Err(SyscallError::DeleteFirst));
    assert_eq!(e(&mut s, pdpt2, xl::PDPT_MAP, &[V, 0], &[pml4]), Err(SyscallError::DeleteFirst));
    // Already mapped.
    assert_eq!(
        e(&mut s, pt, xl::PAGE_TABLE_MAP, &[V, 0], &[pml4]),
        Err(SyscallError::InvalidCapability { cap: 0 })
    );
    assert_eq!(
        e(&mut s, pd, xl::PAGE_DIRECTORY_MAP, &[V, 0], &[pml4]),
        Err(SyscallError::InvalidCapability { cap: 0 })
    );
    assert_eq!(
        e(&mut s, frame, xl::PAGE_MAP, &[V + 0x1000, RW, 0], &[pml4]),
        Err(SyscallError::InvalidArgument { arg: 0 })
    );
    assert_eq!(
        e(&mut s, frame, xl::PAGE_MAP, &[V, RW, 0], &[abi::bootinfo::CAP_INIT_THREAD_VSPACE]),
        Err(SyscallError::InvalidCapability { cap: 1 }),
        "mapped in another VSpace"
    );
    // Missing levels.
    assert_eq!(e(&mut s, pt2, xl::PAGE_TABLE_MAP, &[0x20_0000_0000, 0], &[pml4]), Err(missing(30)));
    assert_eq!(e(&mut s, other, xl::PAGE_MAP, &[0x100_0000_0000, RW, 0], &[pml4]), Err(missing(39)));
    assert_eq!(e(&mut s, other, xl::PAGE_MAP, &[V + 0x20_0000, RW, 0], &[pml4]), Err(missing(21)));
    // Alignment, range, VSpace caps.
    assert_eq!(
        e(&mut s, other, xl::PAGE_MAP, &[V + 0x1010, RW, 0], &[pml4]),
        Err(SyscallError::AlignmentError)
    );
    assert_eq!(
        e(&mut s, other, xl::PAGE_MAP, &[0x8000_0000_0000, RW, 0], &[pml4]),
        Err(SyscallError::InvalidArgument { arg: 0 })
    );
    assert_eq!(
        e(&mut s, other, xl::PAGE_MAP, &[0x7fff_ffff_f000, RW, 0], &[pml4]),
        Err(SyscallError::InvalidArgument { arg: 0 }),
        "the page would end past USER_TOP"
    );
    assert_eq!(
        e(&mut s, pdpt2, xl::PDPT_MAP, &[0xffff_8000_0000_0000, 0], &[pml4]),
        Err(SyscallError::InvalidArgument { arg: 0 }),
        "the kernel's half"
    );
    assert_eq!(
        e(&mut s, other, xl::PAGE_MAP, &[V, RW, 0], &[pdpt]),
        Err(SyscallError::InvalidCapability { cap: 1 })
    );
    assert_eq!(
        e(&mut s, other, xl::PAGE_MAP, &[V, RW, 0], &[unassigned]),
        Err(SyscallError::InvalidCapability { cap: 1 })
    );
    assert_eq!(e(&mut s, other, xl::PAGE_MAP, &[V, RW], &[pml4]), Err(SyscallError::TruncatedMessage));
    assert_eq!(e(&mut s, other, xl::PAGE_MAP, &[V, RW, 0], &[]), Err(SyscallError::TruncatedMessage));
    // The boot mappings' entry: occupied, and not walked.
    let boot_v = (Sel4::boot_entry(Arch::X86_64) as u64) << 39;
    assert_eq!(
        e(&mut s, pdpt2, xl::PDPT_MAP, &[boot_v, 0], &[abi::bootinfo::CAP_INIT_THREAD_VSPACE]),
        Err(SyscallError::DeleteFirst)
    );
    assert_eq!(
        e(&mut s, other, xl::PAGE_MAP, &[boot_v, RW, 0], &[abi::bootinfo::CAP_INIT_THREAD_VSPACE]),
        Err(missing(39))
    );
    // Wrong labels, PML4 invocations, the final-cap rule for table Unmap, a second Assign.
    assert_eq!(e(&mut s, pt2, xl::PDPT_MAP, &[V, 0], &[pml4]), Err(SyscallError::IllegalOperation));
    assert_eq!(e(&mut s, pml4, xl::PDPT_MAP, &[V, 0], &[pml4]), Err(SyscallError::IllegalOperation));
    assert_eq!(e(&mut s, other, xl::PDPT_MAP, &[V, 0], &[pml4]), Err(SyscallError::IllegalOperation));
    let pt_copy = s.free_slot();
    s.copy(pt, pt_copy).expect("a mapped PT cap may be copied");
    assert_eq!(e(&mut s, pt, xl::PAGE_TABLE_UNMAP, &[], &[]), Err(SyscallError::RevokeFirst));
    let dest = s.free_slot();
    assert_eq!(s.copy(pt2, dest), Err(SyscallError::IllegalOperation), "an unmapped PT cap is not derived");
    assert_eq!(
        e(&mut s, abi::bootinfo::CAP_INIT_THREAD_ASID_POOL, xl::ASID_POOL_ASSIGN, &[], &[pml4]),
        Err(SyscallError::InvalidCapability { cap: 1 })
    );
    assert_eq!(
        e(&mut s, abi::bootinfo::CAP_INIT_THREAD_ASID_POOL, xl::ASID_POOL_ASSIGN, &[], &[pt2]),
        Err(SyscallError::InvalidCapability { cap: 1 })
    );
    assert_eq!(
        e(&mut s, abi::bootinfo::CAP_INIT_THREAD_ASID_POOL, xl::PAGE_MAP, &[], &[unassigned]),
        Err(SyscallError::IllegalOperation)
    );
    assert_eq!(ops(&mut s), [], "no refused invocation touched the machine");
}

#[test]
fn x86_64_delete_and_revoke_unmap() {
    let X86 { mut s, pml4, pd, pt, frame, .. } = x86_hierarchy();
    let (r4, r2, r1) = (ptr(&mut s, pml4), ptr(&mut s, pd), ptr(&mut s, pt));
    assert_eq!(s.invoke(frame, xl::PAGE_MAP, &[V, RW, 0], &[pml4]), Ok(()));
    ops(&mut s);
    // Deleting a mapped frame cap unmaps it.
    let r = s.root();
    assert_eq!(s.cnode_delete(r, frame, WORD_BITS), Ok(()));
    assert_eq!(ops(&mut s), [write(r1, 3, Pte::Invalid), MachineOp::Flush { root: r4, vaddr: Some(V) }]);
    // Unmap of a table: its entry goes, then it is cleared.
    assert_eq!(s.invoke(pt, xl::PAGE_TABLE_UNMAP, &[], &[]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [
            write(r2, 1, Pte::Invalid),
            MachineOp::Flush { root: r4, vaddr: None },
            MachineOp::Zero { paddr: r1, bits: 12 }
        ]
    );
    assert_eq!(mapped(&mut s, pt), None);
    // Deleting the final cap of a mapped PD unmaps it.
    assert_eq!(s.invoke(pt, xl::PAGE_TABLE_MAP, &[V, 0], &[pml4]), Ok(()));
    ops(&mut s);
    let r3 = s.k.state.objects.pt_entries(ObjPtr(r4)).len();
    assert_eq!(r3, 1);
    // Revoking the untyped deletes every object: every entry of the VSpace is gone with it, and
    // the root task's VSpace is untouched.
    let before = s.k.state.objects.pt_entries(ObjPtr(0x10_2000));
    let ut = s.untyped(0);
    assert_eq!(s.cnode_revoke(r, ut, WORD_BITS), Ok(()));
    let after = s.k.state.objects.pt_entries(ObjPtr(0x10_2000));
    assert_eq!(before, after);
    assert!(!s.is_live(ObjPtr(r4)) && !s.is_live(ObjPtr(r2)));
    let machine = ops(&mut s);
    assert!(
        machine.contains(&MachineOp::Flush { root: r4, vaddr: None }),
        "the ASID's translations are dropped: {machine:?}"
    );
    assert!(
        machine.iter().all(|op| !matches!(op, MachineOp::WriteEntry { table, .. } if *table == 0x10_2000)),
        "nothing writes the root task's VSpace"
    );
    assert!(
        s.k.state.objects.asid_pool_entry(ObjPtr(codegears::boot::ROOT_ASID_POOL), 2).is_none(),
        "ASID 2 is free again"
    );
}

#[test]
fn x86_64_set_space_wants_a_vspace_root_with_an_asid() {
    let X86 { mut s, pml4, pdpt, frame, .. } = x86_hierarchy();
    let (tc, t) = s.spawn(10);
    let r = s.root();
    let ut = s.untyped(0);
    let unassigned = s.alloc(ut, xt::PML4, 0);
    let info = abi::MessageInfo::new(label::tcb::SET_SPACE, 0, 2, 3);
    for bad in [pdpt, frame, r, unassigned] {
        let before = s.k.state.clone();
        assert_eq!(
            s.sys(Syscall::Call, tc, info, &[0, 0, 0], &[r, bad]),
            Err(SyscallError::IllegalOperation),
            "{:?} is no VSpace root",
            s.cap(bad)
        );
        assert_eq!(without_reply(&s.k.state, &before, s.thread), before, "changed nothing but the reply");
    }
    assert!(s.sys(Syscall::Call, tc, info, &[0, 0, 0], &[r, pml4]).is_ok());
    assert_eq!(s.k.state.cspace.cap(SlotRef::of(t, tcb_slot::VTABLE)), s.cap(pml4));
    // The PML4's own cap goes; the TCB's copy keeps the ASID, until the TCB's slot is emptied
    // by SetSpace back to the root task's VSpace: then the ASID is deleted.
    let r4 = ptr(&mut s, pml4);
    assert_eq!(s.cnode_delete(r, pml4, WORD_BITS), Ok(()));
    assert!(s.k.state.objects.asid_pool_entry(ObjPtr(codegears::boot::ROOT_ASID_POOL), 2).is_some());
    ops(&mut s);
    assert!(s.sys(Syscall::Call, tc, info, &[0, 0, 0], &[r, abi::bootinfo::CAP_INIT_THREAD_VSPACE]).is_ok());
    assert_eq!(ops(&mut s), [MachineOp::Flush { root: r4, vaddr: None }]);
    assert!(s.k.state.objects.asid_pool_entry(ObjPtr(codegears::boot::ROOT_ASID_POOL), 2).is_none());
    assert!(!s.is_live(ObjPtr(r4)));
}

/// A riscv64 VSpace: root, a level-1 and a level-0 table mapped towards `RV`, and a frame.
const RV: u64 = 0x2_0040_3000; // root 8, level 1 index 2, level 0 index 3

#[test]
fn riscv64_map_a_page_through_a_full_hierarchy() {
    let mut s = boot(Arch::Riscv64);
    let ut = s.untyped(0);
    let root = s.alloc(ut, rvt::PAGE_TABLE, 0);
    let l1 = s.alloc(ut, rvt::PAGE_TABLE, 0);
    let l0 = s.alloc(ut, rvt::PAGE_TABLE, 0);
    let frame = s.alloc(ut, rvt::SMALL_PAGE, 0);
    let (p2, p1, p0, f) = (ptr(&mut s, root), ptr(&mut s, l1), ptr(&mut s, l0), ptr(&mut s, frame));
    assert_eq!(ops(&mut s), [], "retype clears nothing");
    assert!([p2, p1, p0].iter().all(|&t| s.k.state.objects.pt_entries(ObjPtr(t)).is_empty()));
    let _ = f;
    assert_eq!(
        s.invoke(abi::bootinfo::CAP_INIT_THREAD_ASID_POOL, rv::ASID_POOL_ASSIGN, &[], &[root]),
        Ok(())
    );
    assert_eq!(ops(&mut s), [MachineOp::CopyGlobalMappings { root: p2 }]);
    assert_eq!(s.invoke(l1, rv::PAGE_TABLE_MAP, &[RV, 0], &[root]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [write(p2, 8, Pte::Table { paddr: p1 }), MachineOp::Flush { root: p2, vaddr: None }]
    );
    assert_eq!(mapped(&mut s, l1), Some(Mapping { asid: 2, vaddr: 0x2_0000_0000 }));
    assert_eq!(s.invoke(l0, rv::PAGE_TABLE_MAP, &[RV, 0], &[root]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [write(p1, 2, Pte::Table { paddr: p0 }), MachineOp::Flush { root: p2, vaddr: None }]
    );
    assert_eq!(mapped(&mut s, l0), Some(Mapping { asid: 2, vaddr: 0x2_0040_0000 }));
    // Execute-never (attribute bit 0) and a read-only mask.
    assert_eq!(s.invoke(frame, rv::PAGE_MAP, &[RV, 2, 1], &[root]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [write(p0, 3, page(f, false, false)), MachineOp::Flush { root: p2, vaddr: Some(RV) }]
    );
    let info = abi::MessageInfo::new(rv::PAGE_GET_ADDRESS, 0, 0, 0);
    assert!(s.sys(Syscall::Call, frame, info, &[], &[]).is_ok());
    assert_eq!(s.received(s.thread).2, [f]);
    // Refused, changing nothing.
    let other = s.alloc(ut, rvt::SMALL_PAGE, 0);
    let pt2 = s.alloc(ut, rvt::PAGE_TABLE, 0);
    let mega = s.alloc(ut, rvt::MEGA_PAGE, 0);
    ops(&mut s);
    assert_eq!(s.invoke(other, rv::PAGE_MAP, &[RV, RW, 0], &[root]), Err(SyscallError::DeleteFirst));
    assert_eq!(
        s.invoke(pt2, rv::PAGE_TABLE_MAP, &[RV, 0], &[root]),
        Err(SyscallError::DeleteFirst),
        "no level left"
    );
    assert_eq!(s.invoke(mega, rv::PAGE_MAP, &[RV & !0x1f_ffff, RW, 0], &[root]), Err(missing(12)));
    assert_eq!(s.invoke(other, rv::PAGE_MAP, &[0x3_0000_0000, RW, 0], &[root]), Err(missing(30)));
    assert_eq!(
        s.invoke(other, rv::PAGE_MAP, &[RV + 0x1008, RW, 0], &[root]),
        Err(SyscallError::AlignmentError)
    );
    assert_eq!(
        s.invoke(other, rv::PAGE_MAP, &[0x40_0000_0000, RW, 0], &[root]),
        Err(SyscallError::InvalidArgument { arg: 0 })
    );
    assert_eq!(
        s.invoke(other, rv::PAGE_MAP, &[0x1000, RW, 0], &[root]),
        Err(missing(30)),
        "a user address like any other: only its tables are missing"
    );
    assert_eq!(
        s.invoke(other, rv::PAGE_MAP, &[RV, RW, 0], &[l1]),
        Err(SyscallError::InvalidCapability { cap: 1 })
    );
    assert_eq!(
        s.invoke(other, rv::PAGE_MAP, &[RV, RW, 0], &[pt2]),
        Err(SyscallError::InvalidCapability { cap: 1 })
    );
    assert_eq!(
        s.invoke(l0, rv::PAGE_TABLE_MAP, &[RV, 0], &[root]),
        Err(SyscallError::InvalidCapability { cap: 0 })
    );
    assert_eq!(
        s.invoke(frame, rv::PAGE_MAP, &[RV + 0x1000, RW, 0], &[root]),
        Err(SyscallError::InvalidArgument { arg: 0 })
    );
    let boot_v = (Sel4::boot_entry(Arch::Riscv64) as u64) << 30;
    assert_eq!(
        s.invoke(pt2, rv::PAGE_TABLE_MAP, &[boot_v, 0], &[abi::bootinfo::CAP_INIT_THREAD_VSPACE]),
        Err(SyscallError::DeleteFirst)
    );
    assert_eq!(
        s.invoke(other, rv::PAGE_MAP, &[boot_v, RW, 0], &[abi::bootinfo::CAP_INIT_THREAD_VSPACE]),
        Err(missing(30))
    );
    assert_eq!(
        s.invoke(root, rv::PAGE_TABLE_UNMAP, &[], &[]),
        Err(SyscallError::RevokeFirst),
        "a VSpace root"
    );
    assert_eq!(s.invoke(other, xl::PAGE_MAP, &[RV, RW, 0], &[root]), Err(SyscallError::IllegalOperation));
    assert_eq!(ops(&mut s), []);
    // Delete of the final level-0 cap unmaps it (the frame's cap keeps saying mapped: stale).
    let r = s.root();
    assert_eq!(s.cnode_delete(r, l0, WORD_BITS), Ok(()));
    assert_eq!(ops(&mut s), [write(p1, 2, Pte::Invalid), MachineOp::Flush { root: p2, vaddr: None }]);
    // Unmapping the stale frame finds nothing.
    assert_eq!(s.invoke(frame, rv::PAGE_UNMAP, &[], &[]), Ok(()));
    assert_eq!(ops(&mut s), []);
    // Deleting the root deletes its ASID.
    assert_eq!(s.cnode_delete(r, root, WORD_BITS), Ok(()));
    assert_eq!(ops(&mut s), [MachineOp::Flush { root: p2, vaddr: None }]);
    assert!(s.k.state.objects.asid_pool_entry(ObjPtr(codegears::boot::ROOT_ASID_POOL), 2).is_none());
}

/// riscv64 user space is the whole lower half, as in seL4: from 0 (seL4 programs are linked at
/// 0x10000) to `USER_TOP`; the kernel's entries are the upper half's.
#[test]
fn riscv64_user_space_is_the_lower_half() {
    let mut s = boot(Arch::Riscv64);
    let ut = s.untyped(0);
    let root = s.alloc(ut, rvt::PAGE_TABLE, 0);
    assert_eq!(
        s.invoke(abi::bootinfo::CAP_INIT_THREAD_ASID_POOL, rv::ASID_POOL_ASSIGN, &[], &[root]),
        Ok(())
    );
    let p2 = ptr(&mut s, root);
    ops(&mut s);
    let top = abi::riscv64::USER_TOP;
    let mut level0 = Vec::new();
    // (address, its root, level-1 and level-0 indices)
    for (vaddr, i2, i1, i0) in [(0x1_0000, 0, 0, 0x10), (top - 0x1000, 255, 511, 510)] {
        let l1 = s.alloc(ut, rvt::PAGE_TABLE, 0);
        let l0 = s.alloc(ut, rvt::PAGE_TABLE, 0);
        let frame = s.alloc(ut, rvt::SMALL_PAGE, 0);
        let (p1, p0, f) = (ptr(&mut s, l1), ptr(&mut s, l0), ptr(&mut s, frame));
        assert_eq!(s.invoke(l1, rv::PAGE_TABLE_MAP, &[vaddr, 0], &[root]), Ok(()));
        assert_eq!(s.invoke(l0, rv::PAGE_TABLE_MAP, &[vaddr, 0], &[root]), Ok(()));
        assert_eq!(s.invoke(frame, rv::PAGE_MAP, &[vaddr, RW, 0], &[root]), Ok(()), "{vaddr:#x}");
        assert_eq!(
            ops(&mut s),
            [
                write(p2, i2, Pte::Table { paddr: p1 }),
                MachineOp::Flush { root: p2, vaddr: None },
                write(p1, i1, Pte::Table { paddr: p0 }),
                MachineOp::Flush { root: p2, vaddr: None },
                write(p0, i0, page(f, true, true)),
                MachineOp::Flush { root: p2, vaddr: Some(vaddr) }
            ]
        );
        assert_eq!(mapped(&mut s, frame), Some(Mapping { asid: 2, vaddr }));
        level0.push(p0);
    }
    // Page 0 too, through 0x10000's tables.
    let zero = s.alloc(ut, rvt::SMALL_PAGE, 0);
    let f = ptr(&mut s, zero);
    assert_eq!(s.invoke(zero, rv::PAGE_MAP, &[0, RW, 0], &[root]), Ok(()));
    assert_eq!(
        ops(&mut s),
        [write(level0[0], 0, page(f, true, true)), MachineOp::Flush { root: p2, vaddr: Some(0) }]
    );
    let other = s.alloc(ut, rvt::SMALL_PAGE, 0);
    let pt = s.alloc(ut, rvt::PAGE_TABLE, 0);
    ops(&mut s);
    for vaddr in [top, 0x40_0000_0000, 0xffff_ffc0_0000_0000, 0xffff_ffff_8020_0000] {
        assert_eq!(
            s.invoke(other, rv::PAGE_MAP, &[vaddr, RW, 0], &[root]),
            Err(SyscallError::InvalidArgument { arg: 0 }),
            "{vaddr:#x} is not a user address"
        );
        assert_eq!(
            s.invoke(pt, rv::PAGE_TABLE_MAP, &[vaddr, 0], &[root]),
            Err(SyscallError::InvalidArgument { arg: 0 }),
            "{vaddr:#x} is not a user address"
        );
    }
    assert_eq!(ops(&mut s), []);
}

#[test]
fn riscv64_set_space_and_revoke() {
    let mut s = boot(Arch::Riscv64);
    let ut = s.untyped(0);
    let root = s.alloc(ut, rvt::PAGE_TABLE, 0);
    let l1 = s.alloc(ut, rvt::PAGE_TABLE, 0);
    assert_eq!(
        s.invoke(abi::bootinfo::CAP_INIT_THREAD_ASID_POOL, rv::ASID_POOL_ASSIGN, &[], &[root]),
        Ok(())
    );
    assert_eq!(s.invoke(l1, rv::PAGE_TABLE_MAP, &[RV, 0], &[root]), Ok(()));
    let (tc, t) = s.spawn(10);
    let r = s.root();
    let info = abi::MessageInfo::new(label::tcb::SET_SPACE, 0, 2, 3);
    let unmapped = s.alloc(ut, rvt::PAGE_TABLE, 0);
    let before = s.k.state.clone();
    assert_eq!(
        s.sys(Syscall::Call, tc, info, &[0, 0, 0], &[r, unmapped]),
        Err(SyscallError::IllegalOperation),
        "a table without an ASID is no VSpace root"
    );
    assert_eq!(without_reply(&s.k.state, &before, s.thread), before, "changed nothing but the reply");
    // seL4's riscv64 isValidVTableRoot accepts any mapped PageTable cap, a non-root one too
    // (setVMRoot then finds it is not its ASID's root and runs the thread in the kernel's
    // VSpace).
    assert!(s.sys(Syscall::Call, tc, info, &[0, 0, 0], &[r, l1]).is_ok());
    assert!(s.sys(Syscall::Call, tc, info, &[0, 0, 0], &[r, root]).is_ok());
    assert_eq!(s.k.state.cspace.cap(SlotRef::of(t, tcb_slot::VTABLE)), s.cap(root));
    ops(&mut s);
    // Device memory makes frames only.
    let dev = s.untyped(2);
    let slot = s.free_slot();
    assert_eq!(
        s.retype(dev, rvt::PAGE_TABLE, 0, r, 0, 0, slot, 1),
        Err(SyscallError::InvalidArgument { arg: 1 })
    );
    let dev_frame = s.alloc(dev, rvt::SMALL_PAGE, 0);
    assert_eq!(ops(&mut s), [], "device frames are not cleared");
    assert_eq!(s.invoke(dev_frame, rv::PAGE_MAP, &[RV, RW, 0], &[root]), Err(missing(21)));
    assert_eq!(s.retype(ut, rvt::COUNT, 0, r, 0, 0, slot, 1), Err(SyscallError::InvalidArgument { arg: 0 }));
    // Revoke the untyped: the root goes (with the TCB's copy), its ASID with it.
    let p2 = ptr(&mut s, root);
    assert_eq!(s.cnode_revoke(r, ut, WORD_BITS), Ok(()));
    let machine = ops(&mut s);
    assert!(machine.contains(&MachineOp::Flush { root: p2, vaddr: None }), "{machine:?}");
    assert!(s.k.state.objects.asid_pool_entry(ObjPtr(codegears::boot::ROOT_ASID_POOL), 2).is_none());
}

#[test]
fn asid_control_makes_a_pool_on_both_arches() {
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let mut s = boot(arch);
        let ut = s.untyped(0);
        let small = s.alloc(ut, abi::object::UNTYPED, 12);
        let big = s.alloc(ut, abi::object::UNTYPED, 13);
        let labels = arch.labels();
        let r = s.root();
        let dest = s.free_slot();
        ops(&mut s);
        let make = |s: &mut Sel4, ut: u64, dest: u64| {
            s.invoke(
                abi::bootinfo::CAP_ASID_CONTROL,
                labels.asid_control_make_pool,
                &[dest, WORD_BITS],
                &[ut, r],
            )
        };
        assert_eq!(make(&mut s, big, dest), Err(SyscallError::InvalidCapability { cap: 1 }));
        assert_eq!(make(&mut s, small, abi::bootinfo::CAP_INIT_THREAD_TCB), Err(SyscallError::DeleteFirst));
        assert_eq!(make(&mut s, small, dest), Ok(()));
        let pool_paddr = ptr(&mut s, small);
        assert_eq!(s.cap(dest), Cap::AsidPool { ptr: ObjPtr(pool_paddr), asid_base: 512 });
        // The pool is cleared in its memory by the object store, not as a machine op.
        assert_eq!(ops(&mut s), []);
        assert!(s.k.state.objects.asid_pool_entries(ObjPtr(pool_paddr)).is_empty());
        let root_type = match arch {
            Arch::X86_64 => xt::PML4,
            Arch::Riscv64 => rvt::PAGE_TABLE,
        };
        let vroot = s.alloc(ut, root_type, 0);
        assert_eq!(s.invoke(dest, labels.asid_pool_assign, &[], &[vroot]), Ok(()));
        assert_eq!(mapped(&mut s, vroot), Some(Mapping { asid: 512, vaddr: 0 }));
        // Deleting the pool deletes its ASIDs: the root's cap is stale, Map fails the lookup.
        let frame = s.alloc(ut, arch.frame_type(12), 0);
        assert_eq!(s.cnode_delete(r, dest, WORD_BITS), Ok(()));
        assert_eq!(
            s.invoke(frame, labels.page_map, &[0x2_0000_0000, RW, 0], &[vroot]),
            Err(SyscallError::FailedLookup { source: false, fault: LookupFault::InvalidRoot })
        );
    }
}

#[test]
fn x86_64_deleting_the_root_first_leaves_the_rest_stale() {
    let X86 { mut s, pml4, pdpt, pd, pt, frame } = x86_hierarchy();
    let r4 = ptr(&mut s, pml4);
    assert_eq!(s.invoke(frame, xl::PAGE_MAP, &[V, RW, 0], &[pml4]), Ok(()));
    ops(&mut s);
    let r = s.root();
    assert_eq!(s.cnode_delete(r, pml4, WORD_BITS), Ok(()));
    assert_eq!(ops(&mut s), [MachineOp::Flush { root: r4, vaddr: None }], "deleteASID");
    // The rest still say mapped, but their ASID names nothing: their deletes touch no entry.
    for cptr in [pdpt, pt, frame, pd] {
        assert!(mapped(&mut s, cptr).is_some());
        assert_eq!(s.cnode_delete(r, cptr, WORD_BITS), Ok(()));
        assert_eq!(ops(&mut s), []);
    }
}

#[test]
fn x86_64_large_pages_and_tables_exclude_each_other() {
    let X86 { mut s, pml4, pd, pt, .. } = x86_hierarchy();
    let (r4, r2) = (ptr(&mut s, pml4), ptr(&mut s, pd));
    let ut = s.untyped(0);
    let large = s.alloc(ut, xt::LARGE_PAGE, 0);
    let l = ptr(&mut s, large);
    ops(&mut s);
    let v_pt = V & !0x1f_ffff;
    // The PT holds the PD entry: no large page there.
    assert_eq!(s.invoke(large, xl::PAGE_MAP, &[v_pt, RW, 0], &[pml4]), Err(SyscallError::DeleteFirst));
    assert_eq!(
        s.invoke(large, xl::PAGE_MAP, &[v_pt + 0x1000, RW, 0], &[pml4]),
        Err(SyscallError::AlignmentError)
    );
    let next = v_pt + 0x20_0000; // PD index 2
    assert_eq!(s.invoke(large, xl::PAGE_MAP, &[next, RW, 0], &[pml4]), Ok(()));
    let large_pte = Pte::Page { paddr: l, size_bits: 21, write: true, exec: true };
    assert_eq!(ops(&mut s), [write(r2, 2, large_pte), MachineOp::Flush { root: r4, vaddr: Some(next) }]);
    // …and no table where the large page is.
    assert_eq!(s.invoke(pt, xl::PAGE_TABLE_UNMAP, &[], &[]), Ok(()));
    ops(&mut s);
    assert_eq!(s.invoke(pt, xl::PAGE_TABLE_MAP, &[next, 0], &[pml4]), Err(SyscallError::DeleteFirst));
    // Deleting the large page's cap unmaps it.
    let r = s.root();
    assert_eq!(s.cnode_delete(r, large, WORD_BITS), Ok(()));
    assert_eq!(ops(&mut s), [write(r2, 2, Pte::Invalid), MachineOp::Flush { root: r4, vaddr: Some(next) }]);
}

/// Revoking the untyped under a mapped VSpace (a PT full of pages), preempted at every point, in
/// both modes: it converges, the invariants hold at every point, the pages (deleted before
/// their table: newest first) are unmapped, and the root's ASID is deleted with it.
#[test]
fn revoke_of_a_mapped_vspace_preempted_everywhere() {
    use gears::{Dispatcher, Mode};
    use metagears::{InjectAt, Invariant};
    for arch in [Arch::X86_64, Arch::Riscv64] {
        for mode in [Mode::Restart, Mode::Resume] {
            let mut s = boot(arch);
            let ut = s.untyped(1);
            let (root_type, tables, v): (u64, Vec<u64>, u64) = match arch {
                Arch::X86_64 => {
                    (xt::PML4, vec![xt::PDPT, xt::PAGE_DIRECTORY, xt::PAGE_TABLE], V & !0x1f_ffff)
                }
                Arch::Riscv64 => (rvt::PAGE_TABLE, vec![rvt::PAGE_TABLE, rvt::PAGE_TABLE], RV & !0x1f_ffff),
            };
            let labels = arch.labels();
            let root = s.alloc(ut, root_type, 0);
            assert_eq!(
                s.invoke(abi::bootinfo::CAP_INIT_THREAD_ASID_POOL, labels.asid_pool_assign, &[], &[root]),
                Ok(())
            );
            for ty in tables {
                let t = s.alloc(ut, ty, 0);
                let label = match (arch, ty) {
                    (Arch::X86_64, xt::PDPT) => xl::PDPT_MAP,
                    (Arch::X86_64, xt::PAGE_DIRECTORY) => xl::PAGE_DIRECTORY_MAP,
                    (Arch::X86_64, _) => xl::PAGE_TABLE_MAP,
                    (Arch::Riscv64, _) => rv::PAGE_TABLE_MAP,
                };
                assert_eq!(s.invoke(t, label, &[v, 0], &[root]), Ok(()));
            }
            for i in 0..16 {
                let f = s.alloc(ut, arch.frame_type(12), 0);
                assert_eq!(s.invoke(f, labels.page_map, &[v + (i << 12), RW, 0], &[root]), Ok(()));
            }
            let r4 = ptr(&mut s, root);
            ops(&mut s);
            let r = s.root();
            let req = s.request(r, label::cnode::REVOKE, &[ut, WORD_BITS], &[]);
            let mut d =
                Dispatcher::new((InjectAt::every(mode), Invariant::new(gears_tests::sel4::invariants)));
            let (res, preemptions) = s.run(&mut d, req);
            assert_eq!(res, Ok(()), "{arch:?} {mode}");
            assert!(d.meta().1.violation().is_none());
            assert!(preemptions >= 19, "one preemption per object deleted: {preemptions}");
            assert!(!s.is_live(ObjPtr(r4)));
            let machine = ops(&mut s);
            // Objects are deleted newest first: the 16 frames while the PT is still mapped.
            let unmaps = machine
                .iter()
                .filter(|op| matches!(op, MachineOp::WriteEntry { entry: Pte::Invalid, .. }))
                .count();
            assert!(unmaps >= 16, "{arch:?} {mode}: {machine:?}");
            assert!(machine.contains(&MachineOp::Flush { root: r4, vaddr: None }));
        }
    }
}
