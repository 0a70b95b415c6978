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
}

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
        let root_mdb = MdbNode { revocable: true, first_badged: true, ..MdbNode::default() };
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
        if let Some((paddr, vaddr)) = cfg.ipc_buffer {
            let frame = ObjPtr(paddr);
            let cap = Cap::Frame {
                ptr: frame,
                size_bits: crate::cap::PAGE_BITS,
                rights: abi::CapRights::READ_WRITE,
                is_device: false,
                mapped: None,
            };
            put(&mut st, abi::bootinfo::CAP_INIT_THREAD_IPC_BUFFER, cap);
            crate::cdt::cte_insert(
                &mut st.cspace,
                cap,
                SlotRef::of(cn, abi::bootinfo::CAP_INIT_THREAD_IPC_BUFFER),
                SlotRef::of(tcb, tcb_slot::BUFFER),
            );
            {
                let mut t = st.objects.tcb_mut(tcb);
                t.ipc_buffer_ptr = vaddr;
            }
        }
        st.roots = Some((cn, root_radix, tcb));
        let mut untyped = Vec::new();
        let mut i = FIRST_UNTYPED_SLOT;
        for &(base, bits, is_device) in cfg.untypeds.iter().take(1 << (root_radix - 1)) {
            put(&mut st, i, Cap::Untyped { ptr: base, size_bits: bits, free_index: 0, is_device });
            untyped.push((i, base, bits));
            i += 1;
        }
        let info = BootInfo {
            root_tcb: tcb,
            root_cnode: cn,
            root_radix,
            first_free: i,
            untyped,
            vspace_root: vspace,
            asid_pool: pool,
        };
        (st, info)
    }
}
