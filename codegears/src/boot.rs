//! seL4's boot, modelled: the root task's TCB, CNode, VSpace and ASID pool, and its boot caps,
//! from a configuration (the arch and the real memory map) or at model addresses.

use alloc::vec::Vec;

use crate::arch::Arch;
use crate::arch::ArchExt;
use crate::cap::{Cap, ObjPtr, SlotRef};
use crate::cspace::{Cte, MdbNode};
use crate::kernel::{KernelState, tcb_slot};
use crate::object::ThreadState;
use crate::thread::{MAX_PRIO, sched_append, setup_reply_master};
use crate::vspace::Entry;

/// Where boot puts things, and what it gave the root task.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct BootInfo {
    /// The root task's TCB.
    pub root_tcb: ObjPtr,
    /// The root CNode.
    pub root_cnode: ObjPtr,
    /// Its radix; its cap's guard makes every 64-bit cptr resolve in one level.
    pub root_radix: u8,
    /// The first empty slot of the root CNode.
    pub first_free: u64,
    /// The untypeds: (cptr, base, size_bits).
    pub untyped: Vec<(u64, u64, u8)>,
    /// The root task's VSpace root (its cap is in [`abi::bootinfo::CAP_INIT_THREAD_VSPACE`], with ASID
    /// [`ROOT_ASID`]).
    pub vspace_root: ObjPtr,
    /// The initial ASID pool (its cap is in [`abi::bootinfo::CAP_INIT_THREAD_ASID_POOL`]).
    pub asid_pool: ObjPtr,
    /// The `seL4_BootInfo` boot wrote into the BootInfo frame (booted with a [`BootImage`]).
    pub sel4: Option<alloc::boxed::Box<abi::bootinfo::BootInfo>>,
    /// The entries boot wrote into the root task's paging structures, as machine ops (the
    /// bare-metal kernel's MMU reads them in the tables' memory; a machine keeping its own copy
    /// of the page tables applies them before the root task runs).
    pub machine_ops: Vec<crate::machine::MachineOp>,
}

/// The ASID boot gives the root task's VSpace (`IT_ASID`).
pub const ROOT_ASID: u64 = 1;

/// The first root CNode slot of the untypeds boot hands out (after seL4's initial caps).
pub const FIRST_UNTYPED_SLOT: u64 = abi::bootinfo::NUM_INITIAL_CAPS;

/// What boot builds from: the arch, the root CNode's size, where the root task's kernel objects
/// live, and the untypeds of the real memory map.
#[derive(Clone, Copy, Debug)]
pub struct BootConfig<'a> {
    /// The arch flavour.
    pub arch: Arch,
    /// log2 of the root CNode's slots (clamped to 4..=20).
    pub root_radix: u8,
    /// Where the root TCB lives (2^[`TCB_BITS`](crate::cap::TCB_BITS) bytes, outside every untyped).
    pub root_tcb: u64,
    /// Where the root CNode lives (outside every untyped).
    pub root_cnode: u64,
    /// The untypeds, as (physical address, size_bits, is_device), in root CNode order from
    /// [`FIRST_UNTYPED_SLOT`]; as many as fit in half the root CNode.
    pub untypeds: &'a [(u64, u8, bool)],
    /// The root task's VSpace root (a PML4 / root PageTable, 4 KiB, outside every untyped).
    pub vspace_root: u64,
    /// Top-level entries of the VSpace root the kernel already used for the root task's own
    /// boot mappings: occupied, opaque to the model, never written.
    pub boot_entries: &'a [u16],
    /// Where the initial ASID pool lives (4 KiB, outside every untyped; the machine never sees
    /// it).
    pub asid_pool: u64,
    /// The machine's RAM, as the kernel maps it (every untyped that is not device memory, the
    /// root objects, the IPC buffer): the memory the CSpace and the IPC buffers live in.
    /// `None`: the host model's memory.
    pub memory: Option<&'static [crate::mem::RamWindow]>,
    /// The root task's IPC buffer: a 4 KiB frame outside every untyped (its physical address)
    /// and the address the root task sees it at. Its cap goes in the root CNode's slot 10
    /// (`seL4_CapInitThreadIPCBuffer`) and the root TCB's buffer slot.
    pub ipc_buffer: Option<(u64, u64)>,
    /// The root task's image, mapped as seL4's boot maps it (its frames and paging structures
    /// as caps, the IPC buffer, BootInfo and extra bootinfo frames after it); `None`: no image
    /// (the host model's boot, whose tests map what they need).
    pub image: Option<BootImage<'a>>,
    /// x86_64: the I/O port ranges (first, last) the kernel drives itself, in use from boot so
    /// that no IOPort cap reaches them.
    pub io_ports_in_use: &'a [(u16, u16)],
}

/// The root task's image as seL4's boot maps it (`ui_v_reg`, `ui_p_reg`): the pages
/// `vstart..vend` of its ELF, loaded by the caller into physical memory from `pstart` (one frame
/// per page, each `pstart - vstart` from its address, seL4's `pv_offset`). After the image come
/// the IPC buffer (at `vend`, the frame of [`BootConfig::ipc_buffer`]), the BootInfo frame and
/// the extra bootinfo's pages.
#[derive(Clone, Copy, Debug)]
pub struct BootImage<'a> {
    /// The first page of the image.
    pub vstart: u64,
    /// The end of its last page (exclusive).
    pub vend: u64,
    /// The physical address of its first page.
    pub pstart: u64,
    /// Zeroed pages for the paging structures that map it: [`image_paging`] of them.
    pub tables: &'a [u64],
    /// The BootInfo frame (zeroed).
    pub boot_info: u64,
    /// The extra bootinfo's frames, each with its 4 KiB of bytes (seL4's chunks, padded).
    pub extra: &'a [(u64, &'a [u8; 4096])],
}

impl BootImage<'_> {
    /// Where the IPC buffer is mapped (`ipcbuf_vptr`): right after the image.
    pub const fn ipc_buffer_vaddr(&self) -> u64 {
        self.vend
    }

    /// Where the BootInfo frame is mapped (`bi_frame_vptr`), the page after the IPC buffer;
    /// the root task finds this address in its first argument register.
    pub const fn boot_info_vaddr(&self) -> u64 {
        self.vend + (1 << crate::cap::PAGE_BITS)
    }

    /// Where the extra bootinfo starts (`extra_bi_frame_vptr`), after the BootInfo frame.
    pub const fn extra_vaddr(&self) -> u64 {
        self.boot_info_vaddr() + (1 << abi::object::bits::BOOT_INFO_FRAME)
    }

    /// The end of everything boot maps for the root task (`it_v_reg.end`).
    pub const fn mapped_end(&self) -> u64 {
        self.extra_vaddr() + ((self.extra.len() as u64) << crate::cap::PAGE_BITS)
    }
}

/// `arch_get_n_paging`: how many paging structures below the root map `vstart..vend` (for each
/// level, one per aligned block of that level's reach the range touches).
pub fn image_paging(arch: Arch, vstart: u64, vend: u64) -> usize {
    if vend <= vstart {
        return 0;
    }
    (0..arch.root_level())
        .map(|level| {
            let reach = crate::arch::level_bits(level + 1);
            (((vend - 1) >> reach) - (vstart >> reach) + 1) as usize
        })
        .sum()
}

/// `create_untypeds_for_region`: the aligned power-of-two blocks seL4's boot cuts `start..end`
/// into, each as large as its alignment, the rest of the region and `max_bits` allow; blocks
/// below [`MIN_UNTYPED_BITS`](crate::cap::MIN_UNTYPED_BITS) are dropped.
pub fn untyped_blocks(start: u64, end: u64, max_bits: u8) -> impl Iterator<Item = (u64, u8)> {
    let mut at = start;
    core::iter::from_fn(move || {
        while at < end {
            let left = end - at;
            let bits = (63 - left.leading_zeros()).min(at.trailing_zeros()).min(u32::from(max_bits)) as u8;
            let base = at;
            at += 1u64 << bits;
            if bits >= crate::cap::MIN_UNTYPED_BITS {
                return Some((base, bits));
            }
        }
        None
    })
}

/// Where boot places the root task's kernel objects and boot frames in one block of free memory
/// (seL4's `rootserver_mem`): each object aligned to its size, the largest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootServerLayout {
    /// The root CNode (2^(radix + 5) bytes).
    pub cnode: u64,
    /// The VSpace root.
    pub vspace: u64,
    /// The first of the paging structures (4 KiB each, one after another).
    pub tables: u64,
    /// The IPC buffer frame.
    pub ipc_buffer: u64,
    /// The BootInfo frame.
    pub boot_info: u64,
    /// The first of the extra bootinfo frames.
    pub extra: u64,
    /// The initial ASID pool.
    pub asid_pool: u64,
    /// The root TCB.
    pub tcb: u64,
    /// The block's size in bytes (a multiple of 4 KiB).
    pub size: u64,
}

impl RootServerLayout {
    /// The layout from `base` (aligned to the root CNode's size) for a root CNode of `radix`,
    /// `tables` paging structures and `extra` extra bootinfo pages.
    pub const fn new(base: u64, radix: u8, tables: u64, extra: u64) -> RootServerLayout {
        let page = 1u64 << crate::cap::PAGE_BITS;
        let cnode = base;
        let vspace = cnode + (1u64 << (radix + crate::cap::SLOT_BITS));
        let tables_at = vspace + page;
        let ipc_buffer = tables_at + tables * page;
        let boot_info = ipc_buffer + page;
        let extra_at = boot_info + page;
        let asid_pool = extra_at + extra * page;
        let tcb = asid_pool + page;
        let size = tcb + page - base;
        RootServerLayout {
            cnode,
            vspace,
            tables: tables_at,
            ipc_buffer,
            boot_info,
            extra: extra_at,
            asid_pool,
            tcb,
            size,
        }
    }

    /// The block's alignment: the root CNode's size.
    pub const fn align_bits(radix: u8) -> u8 {
        radix + crate::cap::SLOT_BITS
    }
}

const _: () = assert!(crate::cap::TCB_BITS <= crate::cap::PAGE_BITS);

/// Where the host model's boot ([`KernelState::boot`] and the test harness) places the root TCB,
/// the root CNode and the initial ASID pool: above the model's untypeds (1 TiB), so no untyped,
/// frame or page table can overlap them. The bare-metal kernel places them in RAM it carves out
/// at boot, as seL4 does.
pub const ROOT_TCB: u64 = 0x0100_0000_0000;
/// The initial ASID pool (see [`ROOT_TCB`]).
pub const ROOT_ASID_POOL: u64 = 0x0100_0000_1000;
/// The root CNode (see [`ROOT_TCB`]; room for a radix of up to 20).
pub const ROOT_CNODE: u64 = 0x0100_0100_0000;

/// Where [`KernelState::boot`] places the root VSpace and the root task's IPC buffer: frames
/// outside all untypeds.
const BOOT_VSPACE: u64 = 0x0010_2000;
const BOOT_IPC_BUFFER: u64 = 0x0010_3000;
/// The address the root task of [`KernelState::boot`] sees its IPC buffer at.
pub const BOOT_IPC_BUFFER_VADDR: u64 = 0x7000_0000;
/// Untyped memory starts here; each untyped is aligned to its size.
const UNTYPED_BASE: u64 = 0x1_0000_0000;

impl KernelState {
    /// seL4's boot, modelled at model addresses for x86_64: a root TCB and root CNode (radix
    /// `root_radix`, 4..=20) with the boot caps, and one untyped cap per entry of
    /// `untyped_bits` (each `MIN_UNTYPED_BITS..=40`), placed one after another from 4 GiB.
    pub fn boot(root_radix: u8, untyped_bits: &[u8]) -> (KernelState, BootInfo) {
        let mut untypeds = Vec::new();
        let mut base = UNTYPED_BASE;
        for &bits in untyped_bits {
            let bits = bits.clamp(crate::cap::MIN_UNTYPED_BITS, 40);
            base = base.next_multiple_of(1u64 << bits);
            untypeds.push((base, bits, false));
            base += 1u64 << bits;
        }
        KernelState::boot_with(&BootConfig {
            arch: Arch::X86_64,
            root_radix,
            root_tcb: ROOT_TCB,
            root_cnode: ROOT_CNODE,
            untypeds: &untypeds,
            vspace_root: BOOT_VSPACE,
            boot_entries: &[],
            asid_pool: ROOT_ASID_POOL,
            memory: None,
            ipc_buffer: Some((BOOT_IPC_BUFFER, BOOT_IPC_BUFFER_VADDR)),
            image: None,
            io_ports_in_use: &[],
        })
    }

    /// seL4's boot from a configuration: the root TCB and root CNode with the boot caps, the
    /// root VSpace in slot 3 (ASID [`ROOT_ASID`] from the initial pool in slot 6; ASIDControl in
    /// slot 5; a copy in the root TCB's VTable slot), and the untypeds from slot 16.
    pub fn boot_with(cfg: &BootConfig<'_>) -> (KernelState, BootInfo) {
        let root_radix = cfg.root_radix.clamp(4, 20);
        let mut st = KernelState { arch: cfg.arch, ..KernelState::default() };
        if let Some(windows) = cfg.memory {
            st.mem = crate::mem::PhysMem::window(windows);
            st.cspace = crate::cspace::CSpace::window(windows);
            st.objects = crate::object::ObjectStore::window(cfg.arch, windows);
        } else {
            st.objects = crate::object::ObjectStore::new(cfg.arch);
        }
        let tcb = ObjPtr(cfg.root_tcb);
        let cn = ObjPtr(cfg.root_cnode);
        // The root CNode and TCB start cleared, as free untyped memory is (the machine's memory
        // may hold anything, an earlier boot's caps included).
        let (objects, mem) = (&mut st.objects, &mut st.mem);
        crate::untyped::clear_memory(&mut st.cspace, objects, mem, cn.0, root_radix + crate::cap::SLOT_BITS);
        crate::untyped::clear_memory(&mut st.cspace, objects, mem, tcb.0, crate::cap::TCB_BITS);
        st.objects.tcb_mut(tcb).set(|t| {
            t.state = ThreadState::Running;
            t.priority = MAX_PRIO;
            t.mcp = MAX_PRIO;
        });
        sched_append(&mut st.objects, &mut st.sched, tcb);
        crate::thread::tcb_debug_append(&mut st.objects, &mut st.sched, tcb);
        setup_reply_master(&mut st.cspace, tcb);
        let vspace = ObjPtr(cfg.vspace_root);
        st.objects.set_boot_entries(vspace, cfg.boot_entries);
        let pool = ObjPtr(cfg.asid_pool);
        let low = crate::vspace::asid_low(ROOT_ASID);
        st.objects.clear(pool.0, crate::arch::ASID_POOL_BITS);
        st.objects.set_asid_pool_entry(pool, low, Some(vspace));
        st.asids.pools.insert(0, pool);
        let root_mdb = boot_mdb();
        let cn_cap = Cap::CNode { ptr: cn, radix: root_radix, guard: 0, guard_size: 64 - root_radix };
        let mapped = Some(crate::cap::Mapping { asid: ROOT_ASID, vaddr: 0 });
        let vspace_cap = Cap::PageTable { ptr: vspace, kind: cfg.arch.root_kind(), mapped };
        let put = |st: &mut KernelState, i: u64, cap: Cap| {
            st.cspace.set(SlotRef::of(cn, i), Cte { cap, mdb: root_mdb });
        };
        put(&mut st, abi::bootinfo::CAP_INIT_THREAD_TCB, Cap::Thread { ptr: tcb });
        put(&mut st, abi::bootinfo::CAP_INIT_THREAD_CNODE, cn_cap);
        put(&mut st, abi::bootinfo::CAP_INIT_THREAD_VSPACE, vspace_cap);
        put(&mut st, abi::bootinfo::CAP_IRQ_CONTROL, Cap::IrqControl);
        if cfg.arch == Arch::X86_64 {
            put(&mut st, abi::bootinfo::CAP_IO_PORT_CONTROL, Cap::IoPortControl);
            for &(first, last) in cfg.io_ports_in_use {
                st.io_ports.reserve(first, last);
            }
        }
        put(&mut st, abi::bootinfo::CAP_ASID_CONTROL, Cap::AsidControl);
        put(&mut st, abi::bootinfo::CAP_INIT_THREAD_ASID_POOL, Cap::AsidPool { ptr: pool, asid_base: 0 });
        put(&mut st, abi::bootinfo::CAP_DOMAIN, Cap::Domain);
        crate::cdt::cte_insert(
            &mut st.cspace,
            cn_cap,
            SlotRef::of(cn, abi::bootinfo::CAP_INIT_THREAD_CNODE),
            SlotRef::of(tcb, tcb_slot::CTABLE),
        );
        crate::cdt::cte_insert(
            &mut st.cspace,
            vspace_cap,
            SlotRef::of(cn, abi::bootinfo::CAP_INIT_THREAD_VSPACE),
            SlotRef::of(tcb, tcb_slot::VTABLE),
        );
        let mut bi = abi::bootinfo::BootInfo {
            num_nodes: 1,
            init_thread_cnode_size_bits: u64::from(root_radix),
            ..abi::bootinfo::BootInfo::default()
        };
        let mut next = abi::bootinfo::NUM_INITIAL_CAPS;
        let ops = &mut crate::machine::MachineOps::default();
        if let Some(img) = &cfg.image {
            next = map_image(&mut st, ops, (cn, vspace), img, &mut bi, next);
            st.objects.set_thread_name(tcb, b"rootserver");
        }
        if let Some((paddr, vaddr)) = cfg.ipc_buffer {
            let cap = match &cfg.image {
                Some(img) => map_boot_frame(&mut st, ops, vspace, paddr, img.ipc_buffer_vaddr(), false),
                None => Cap::Frame {
                    ptr: ObjPtr(paddr),
                    size_bits: crate::cap::PAGE_BITS,
                    rights: abi::CapRights::READ_WRITE,
                    is_device: false,
                    mapped: None,
                },
            };
            put(&mut st, abi::bootinfo::CAP_INIT_THREAD_IPC_BUFFER, cap);
            crate::cdt::cte_insert(
                &mut st.cspace,
                cap,
                SlotRef::of(cn, abi::bootinfo::CAP_INIT_THREAD_IPC_BUFFER),
                SlotRef::of(tcb, tcb_slot::BUFFER),
            );
            let vaddr = cfg.image.as_ref().map_or(vaddr, BootImage::ipc_buffer_vaddr);
            st.objects.tcb_mut(tcb).set(|t| t.ipc_buffer_ptr = vaddr);
            bi.ipc_buffer = vaddr;
        }
        if let Some(img) = &cfg.image {
            let (start, image_frames) = (next, (img.vend - img.vstart) >> crate::cap::PAGE_BITS);
            for page in 0..image_frames {
                let offset = page << crate::cap::PAGE_BITS;
                let cap =
                    map_boot_frame(&mut st, ops, vspace, img.pstart + offset, img.vstart + offset, true);
                put(&mut st, next, cap);
                next += 1;
            }
            bi.user_image_frames = abi::bootinfo::SlotRegion { start, end: next };
        }
        st.roots = Some((cn, root_radix, tcb));
        let mut untyped = Vec::new();
        let slots_left = (1u64 << root_radix).saturating_sub(next) as usize;
        let listed = cfg.untypeds.iter().take(slots_left.min(abi::config::MAX_NUM_BOOTINFO_UNTYPED_CAPS));
        bi.untyped.start = next;
        for (&(base, bits, is_device), desc) in listed.zip(bi.untyped_list.iter_mut()) {
            put(&mut st, next, Cap::Untyped { ptr: base, size_bits: bits, free_index: 0, is_device });
            untyped.push((next, base, bits));
            *desc = abi::bootinfo::UntypedDesc {
                paddr: base,
                size_bits: bits,
                is_device: u8::from(is_device),
                padding: [0; 6],
            };
            next += 1;
        }
        bi.untyped.end = next;
        bi.empty = abi::bootinfo::SlotRegion { start: next, end: 1 << root_radix };
        let sel4 = cfg.image.as_ref().map(|img| {
            for (i, w) in bi.to_words().into_iter().enumerate() {
                st.mem.write(img.boot_info + 8 * i as u64, w);
            }
            alloc::boxed::Box::new(bi)
        });
        let info = BootInfo {
            root_tcb: tcb,
            root_cnode: cn,
            root_radix,
            first_free: next,
            untyped,
            vspace_root: vspace,
            asid_pool: pool,
            sel4,
            machine_ops: ops.drain(),
        };
        (st, info)
    }
}

/// How boot's caps sit in the derivation tree: each the root of its own (`write_slot`).
fn boot_mdb() -> MdbNode {
    MdbNode { revocable: true, first_badged: true, ..MdbNode::default() }
}

/// The kind of paging structure at `level` below a VSpace root (x86_64 has one per level).
fn table_kind(arch: Arch, level: u8) -> crate::arch::PtKind {
    use crate::arch::PtKind;
    match (arch, level) {
        (Arch::Riscv64, _) => PtKind::Riscv,
        (Arch::X86_64, 2) => PtKind::Pdpt,
        (Arch::X86_64, 1) => PtKind::PageDirectory,
        (Arch::X86_64, _) => PtKind::PageTable,
    }
}

/// `create_it_address_space` and the frames of the extra bootinfo (`create_frames_of_region`):
/// the paging structures that map everything boot maps for the root task, top level first, each
/// a cap from slot `next` on (`userImagePaging`), then the BootInfo frame (slot 9) and the extra
/// bootinfo's frames (`extraBIPages`), filled. Returns the next free slot.
fn map_image(
    st: &mut KernelState,
    ops: &mut crate::machine::MachineOps,
    (cn, vspace): (ObjPtr, ObjPtr),
    img: &BootImage<'_>,
    bi: &mut abi::bootinfo::BootInfo,
    mut next: u64,
) -> u64 {
    let arch = st.arch;
    let start = next;
    let mut tables = img.tables.iter();
    for level in (0..arch.root_level()).rev() {
        let reach = crate::arch::level_bits(level + 1);
        let mut block = img.vstart >> reach << reach;
        while block < img.mapped_end() {
            let pt = ObjPtr(*tables.next().expect("image_paging counted the paging structures"));
            st.objects.clear_page_table(pt);
            let parent =
                crate::vspace::lookup_table(&st.objects, vspace, arch.root_level(), block, level + 1)
                    .expect("boot maps the levels above first");
            let index = crate::arch::level_index(block, level + 1);
            crate::vspace::store_entry(&mut st.objects, ops, parent, index, Some(Entry::Table(pt)));
            let mapped = Some(crate::cap::Mapping { asid: ROOT_ASID, vaddr: block });
            let cap = Cap::PageTable { ptr: pt, kind: table_kind(arch, level), mapped };
            st.cspace.set(SlotRef::of(cn, next), Cte { cap, mdb: boot_mdb() });
            next += 1;
            block += 1 << reach;
        }
    }
    bi.user_image_paging = abi::bootinfo::SlotRegion { start, end: next };
    let cap = map_boot_frame(st, ops, vspace, img.boot_info, img.boot_info_vaddr(), false);
    st.cspace.set(SlotRef::of(cn, abi::bootinfo::CAP_BOOT_INFO_FRAME), Cte { cap, mdb: boot_mdb() });
    let start = next;
    for (i, &(frame, bytes)) in img.extra.iter().enumerate() {
        for (k, w) in bytes.chunks_exact(8).enumerate() {
            let w = u64::from_le_bytes(w.try_into().expect("8-byte chunks"));
            st.mem.write(frame + 8 * k as u64, w);
        }
        let cap = map_boot_frame(
            st,
            ops,
            vspace,
            frame,
            img.extra_vaddr() + ((i as u64) << crate::cap::PAGE_BITS),
            false,
        );
        st.cspace.set(SlotRef::of(cn, next), Cte { cap, mdb: boot_mdb() });
        next += 1;
    }
    bi.extra_bi_pages = abi::bootinfo::SlotRegion { start, end: next };
    bi.extra_len = (img.extra.len() as u64) << crate::cap::PAGE_BITS;
    next
}

/// `create_mapped_it_frame_cap`: the 4 KiB `frame` mapped read-write at `vaddr` in the root
/// task's VSpace (whose paging structures boot made), executable or not; its cap.
fn map_boot_frame(
    st: &mut KernelState,
    ops: &mut crate::machine::MachineOps,
    vspace: ObjPtr,
    frame: u64,
    vaddr: u64,
    exec: bool,
) -> Cap {
    let arch = st.arch;
    let table = crate::vspace::lookup_table(&st.objects, vspace, arch.root_level(), vaddr, 0)
        .expect("boot made the paging structures for everything it maps");
    let (size_bits, rights) = (crate::cap::PAGE_BITS, abi::CapRights::READ_WRITE);
    let entry = Entry::Page { frame: ObjPtr(frame), size_bits, rights, exec };
    crate::vspace::store_entry(&mut st.objects, ops, table, crate::arch::level_index(vaddr, 0), Some(entry));
    let mapped = Some(crate::cap::Mapping { asid: ROOT_ASID, vaddr });
    Cap::Frame { ptr: ObjPtr(frame), size_bits, rights, is_device: false, mapped }
}
