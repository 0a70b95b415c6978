//! seL4's boot of a root task's image, on both arches: the BootInfo frame holds `seL4_BootInfo`
//! in seL4's layout, every slot region it names holds what it says (image frames and paging
//! structures as mapped caps, the extra bootinfo's frames, the untypeds) and the empty range is
//! empty; the image's caps work like any other (a page maps beside the image through the boot's
//! paging structures, an image frame unmaps and maps again).

use abi::bootinfo::{self, BOOT_INFO_WORDS, BootInfo, SlotRegion};
use codegears::arch::Arch;
use codegears::boot::{image_paging, untyped_blocks};
use codegears::kernel::ROOT_ASID;
use codegears::{Cap, Mapping};
use gears_tests::sel4::Sel4;

const RW: u64 = abi::CapRights::READ_WRITE.word();
const PAGES: u64 = 40;

/// Where each arch's image starts: sel4test's link addresses where the model allows them.
fn vstart(arch: Arch) -> u64 {
    match arch {
        Arch::X86_64 => 0x40_0000,
        Arch::Riscv64 => 0x10_0000_0000,
    }
}

fn boot(arch: Arch) -> Sel4 {
    Sel4::boot_image(arch, 13, vstart(arch), PAGES)
}

fn sel4_info(s: &Sel4) -> BootInfo {
    **s.info.sel4.as_ref().expect("boot with an image writes seL4_BootInfo")
}

fn slots(r: SlotRegion) -> std::ops::Range<u64> {
    r.start..r.end
}

fn mapped_at(cap: Cap) -> Option<Mapping> {
    match cap {
        Cap::Frame { mapped, .. } | Cap::PageTable { mapped, .. } => mapped,
        _ => None,
    }
}

#[test]
fn the_boot_info_frame_holds_sel4s_layout() {
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let mut s = boot(arch);
        let bi = sel4_info(&s);
        let Cap::Frame { ptr, mapped, .. } = s.cap(bootinfo::CAP_BOOT_INFO_FRAME) else {
            panic!("{arch:?}: no BootInfo frame cap in slot 9");
        };
        let vend = vstart(arch) + PAGES * 4096;
        assert_eq!(mapped, Some(Mapping { asid: ROOT_ASID, vaddr: vend + 4096 }), "{arch:?}");
        let words: [u64; BOOT_INFO_WORDS] = std::array::from_fn(|i| s.k.state.mem.read(ptr.0 + 8 * i as u64));
        assert_eq!(BootInfo::from_words(&words), bi, "{arch:?}: the frame's words are the BootInfo");
        assert_eq!((bi.node_id, bi.num_nodes, bi.num_io_pt_levels), (0, 1, 0));
        assert_eq!(bi.ipc_buffer, vend, "{arch:?}: the IPC buffer follows the image");
        assert_eq!((bi.init_thread_cnode_size_bits, bi.init_thread_domain), (13, 0));
        let paging = image_paging(arch, vstart(arch), vend + 3 * 4096) as u64;
        let first = bootinfo::NUM_INITIAL_CAPS;
        assert_eq!(bi.user_image_paging, SlotRegion { start: first, end: first + paging }, "{arch:?}");
        assert_eq!(bi.extra_bi_pages, SlotRegion { start: first + paging, end: first + paging + 1 });
        assert_eq!(bi.extra_len, 4096);
        let frames = bi.extra_bi_pages.end;
        assert_eq!(bi.user_image_frames, SlotRegion { start: frames, end: frames + PAGES });
        assert_eq!(bi.untyped, SlotRegion { start: frames + PAGES, end: frames + PAGES + 3 });
        assert_eq!(bi.empty, SlotRegion { start: bi.untyped.end, end: 1 << 13 });
        assert_eq!((bi.shared_frames, bi.io_space_caps), (SlotRegion::default(), SlotRegion::default()));
        let listed: Vec<_> = bi.untypeds().map(|(c, u)| (c, u.paddr, u.size_bits, u.is_device)).collect();
        let u = bi.untyped.start;
        assert_eq!(
            listed,
            [(u, 0x2_0000_0000, 22, 1), (u + 1, 0x1_0000_0000, 24, 0), (u + 2, 0x1_0100_0000, 22, 0)]
        );
        for (cptr, d) in bi.untypeds() {
            let expect = Cap::Untyped {
                ptr: d.paddr,
                size_bits: d.size_bits,
                free_index: 0,
                is_device: d.is_device == 1,
            };
            assert_eq!(s.cap(cptr), expect, "{arch:?}: untyped {cptr}");
        }
        let tcb = s.info.root_tcb;
        assert_eq!(s.tcb(tcb).ipc_buffer_ptr, vend);
        assert_eq!(s.k.state.objects.thread_name(tcb), b"rootserver");
    }
}

#[test]
fn every_region_holds_what_it_names_and_the_empty_range_is_empty() {
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let mut s = boot(arch);
        let bi = sel4_info(&s);
        for (i, cptr) in slots(bi.user_image_frames).enumerate() {
            let vaddr = vstart(arch) + 4096 * i as u64;
            let Cap::Frame { ptr, size_bits: 12, mapped, is_device: false, .. } = s.cap(cptr) else {
                panic!("{arch:?}: slot {cptr} is not an image frame");
            };
            assert_eq!(ptr.0, Sel4::IMAGE_PADDR + 4096 * i as u64, "{arch:?}: pv_offset");
            assert_eq!(mapped, Some(Mapping { asid: ROOT_ASID, vaddr }));
        }
        for cptr in slots(bi.user_image_paging) {
            let cap = s.cap(cptr);
            assert!(matches!(cap, Cap::PageTable { .. }), "{arch:?}: slot {cptr} holds {cap:?}");
            assert!(mapped_at(cap).is_some_and(|m| m.asid == ROOT_ASID), "{arch:?}: {cap:?} unmapped");
        }
        let extra = s.cap(bi.extra_bi_pages.start);
        let vend = vstart(arch) + PAGES * 4096;
        assert_eq!(mapped_at(extra), Some(Mapping { asid: ROOT_ASID, vaddr: vend + 2 * 4096 }));
        let words = [0, 8].map(|o| s.k.state.mem.read(extra.ptr() + o));
        assert_eq!(words, Sel4::EXTRA_HEADER, "{arch:?}: the extra bootinfo's bytes");
        let ipc = s.cap(bootinfo::CAP_INIT_THREAD_IPC_BUFFER);
        assert_eq!(mapped_at(ipc), Some(Mapping { asid: ROOT_ASID, vaddr: vend }));
        for cptr in slots(bi.empty) {
            assert!(s.is_slot_empty(cptr), "{arch:?}: slot {cptr} of the empty range holds a cap");
        }
    }
}

#[test]
fn the_images_caps_work_like_any_other() {
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let mut s = boot(arch);
        let bi = sel4_info(&s);
        let labels = arch.labels();
        let ut = bi.untyped.start + 1;
        let frame = s.alloc(ut, arch.frame_type(12), 0);
        let vspace = bootinfo::CAP_INIT_THREAD_VSPACE;
        // Beside the extra bootinfo, in a page table boot made.
        let beside = vstart(arch) + (PAGES + 3) * 4096;
        s.invoke(frame, labels.page_map, &[beside, RW, 0], &[vspace]).expect("a page maps beside the image");
        assert_eq!(mapped_at(s.cap(frame)), Some(Mapping { asid: ROOT_ASID, vaddr: beside }));
        let image_frame = bi.user_image_frames.start + 3;
        let at = vstart(arch) + 3 * 4096;
        s.invoke(image_frame, labels.page_unmap, &[], &[]).expect("an image frame unmaps");
        assert_eq!(mapped_at(s.cap(image_frame)), None);
        s.invoke(image_frame, labels.page_map, &[at, RW, 0], &[vspace]).expect("and maps again");
        assert_eq!(mapped_at(s.cap(image_frame)), Some(Mapping { asid: ROOT_ASID, vaddr: at }));
        // The page the image frame left is taken again: DeleteFirst, as for any mapped page.
        let other = s.alloc(ut, arch.frame_type(12), 0);
        let err = s.invoke(other, labels.page_map, &[at, RW, 0], &[vspace]).unwrap_err();
        assert_eq!(err, codegears::SyscallError::DeleteFirst, "{arch:?}");
        // Deleting a boot page table's only cap unmaps it (the pages below become unreachable).
        let pt = bi.user_image_paging.end - 1;
        s.cnode_delete(s.root(), pt, 64).expect("a boot page table's cap deletes");
        assert!(s.is_slot_empty(pt));
    }
}

#[test]
fn boot_counts_paging_structures_and_cuts_untypeds_as_sel4_does() {
    // x86_64: 0x400000..0x800000 needs two page tables, a page directory and a PDPT.
    assert_eq!(image_paging(Arch::X86_64, 0x40_0000, 0x80_0000), 4);
    // riscv64 Sv39: 0x10000..0x410000 spans three 2 MiB tables and one 1 GiB table.
    assert_eq!(image_paging(Arch::Riscv64, 0x1_0000, 0x41_0000), 4);
    assert_eq!(image_paging(Arch::Riscv64, 0x1_0000, 0x1_0000), 0);
    let blocks: Vec<_> = untyped_blocks(0x1000, 0x9000, 47).collect();
    assert_eq!(blocks, [(0x1000, 12), (0x2000, 13), (0x4000, 14), (0x8000, 12)]);
    // Capped at the largest untyped, and pieces below 16 bytes dropped.
    let blocks: Vec<_> = untyped_blocks(0, 1 << 40, 38).collect();
    assert_eq!(blocks, [(0, 38), (1 << 38, 38), (2 << 38, 38), (3 << 38, 38)]);
    let blocks: Vec<_> = untyped_blocks(0x1008, 0x1030, 47).collect();
    assert_eq!(blocks, [(0x1010, 4), (0x1020, 4)]);
}
