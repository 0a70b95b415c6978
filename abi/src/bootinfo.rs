//! What seL4's boot hands the root task: the initial caps' slots (`seL4_RootCNodeCapSlots`)
//! and `seL4_BootInfo` (`bootinfo_types.h`).

use core::mem::size_of;

use crate::config::MAX_NUM_BOOTINFO_UNTYPED_CAPS;

/// `seL4_CapNull`.
pub const CAP_NULL: u64 = 0;
/// `seL4_CapInitThreadTCB`.
pub const CAP_INIT_THREAD_TCB: u64 = 1;
/// `seL4_CapInitThreadCNode`.
pub const CAP_INIT_THREAD_CNODE: u64 = 2;
/// `seL4_CapInitThreadVSpace`.
pub const CAP_INIT_THREAD_VSPACE: u64 = 3;
/// `seL4_CapIRQControl`.
pub const CAP_IRQ_CONTROL: u64 = 4;
/// `seL4_CapASIDControl`.
pub const CAP_ASID_CONTROL: u64 = 5;
/// `seL4_CapInitThreadASIDPool`.
pub const CAP_INIT_THREAD_ASID_POOL: u64 = 6;
/// `seL4_CapIOPortControl` (x86_64; null elsewhere).
pub const CAP_IO_PORT_CONTROL: u64 = 7;
/// `seL4_CapIOSpace` (null without an IOMMU).
pub const CAP_IO_SPACE: u64 = 8;
/// `seL4_CapBootInfoFrame`.
pub const CAP_BOOT_INFO_FRAME: u64 = 9;
/// `seL4_CapInitThreadIPCBuffer`.
pub const CAP_INIT_THREAD_IPC_BUFFER: u64 = 10;
/// `seL4_CapDomain`.
pub const CAP_DOMAIN: u64 = 11;
/// `seL4_CapSMMUSIDControl` (null).
pub const CAP_SMMU_SID_CONTROL: u64 = 12;
/// `seL4_CapSMMUCBControl` (null).
pub const CAP_SMMU_CB_CONTROL: u64 = 13;
/// `seL4_CapInitThreadSC` (null, non-MCS).
pub const CAP_INIT_THREAD_SC: u64 = 14;
/// `seL4_CapSMC` (null).
pub const CAP_SMC: u64 = 15;
/// `seL4_NumInitialCaps`: the first slot after the initial caps.
pub const NUM_INITIAL_CAPS: u64 = 16;

/// `seL4_SlotRegion`: slots `start..end` of the root CNode.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct SlotRegion {
    /// The first slot of the region.
    pub start: u64,
    /// The first slot after it.
    pub end: u64,
}

/// `seL4_UntypedDesc`: one untyped cap's memory.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct UntypedDesc {
    /// Its physical address.
    pub paddr: u64,
    /// log2 of its size.
    pub size_bits: u8,
    /// 1 for device memory (frames only).
    pub is_device: u8,
    /// Padding to two words.
    pub padding: [u8; 6],
}

/// `seL4_BootInfo` (non-MCS), as the root task finds it in its BootInfo frame.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BootInfo {
    /// `extraLen`: bytes of extra bootinfo after this frame.
    pub extra_len: u64,
    /// `nodeID`.
    pub node_id: u64,
    /// `numNodes`.
    pub num_nodes: u64,
    /// `numIOPTLevels` (0: no IOMMU).
    pub num_io_pt_levels: u64,
    /// `ipcBuffer`: the root task's IPC buffer's address.
    pub ipc_buffer: u64,
    /// `empty`: the empty slots.
    pub empty: SlotRegion,
    /// `sharedFrames`.
    pub shared_frames: SlotRegion,
    /// `userImageFrames`: the frames of the root task's image.
    pub user_image_frames: SlotRegion,
    /// `userImagePaging`: the paging structures of its image.
    pub user_image_paging: SlotRegion,
    /// `ioSpaceCaps`.
    pub io_space_caps: SlotRegion,
    /// `extraBIPages`: the frames of the extra bootinfo.
    pub extra_bi_pages: SlotRegion,
    /// `initThreadCNodeSizeBits`.
    pub init_thread_cnode_size_bits: u64,
    /// `initThreadDomain`.
    pub init_thread_domain: u64,
    /// `untyped`: the untyped caps.
    pub untyped: SlotRegion,
    /// `untypedList`: each untyped's memory, in `untyped`'s order.
    pub untyped_list: [UntypedDesc; MAX_NUM_BOOTINFO_UNTYPED_CAPS],
}

/// `seL4_BootInfoHeader`: the header of each chunk of extra bootinfo.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct BootInfoHeader {
    /// The chunk's kind (`SEL4_BOOTINFO_HEADER_*`).
    pub id: u64,
    /// Its length in bytes, this header included.
    pub len: u64,
}

/// `seL4_BootInfoID`: the kinds of extra bootinfo chunk.
pub mod header {
    /// `SEL4_BOOTINFO_HEADER_PADDING`.
    pub const PADDING: u64 = 0;
    /// `SEL4_BOOTINFO_HEADER_X86_VBE`.
    pub const X86_VBE: u64 = 1;
    /// `SEL4_BOOTINFO_HEADER_X86_MBMMAP`.
    pub const X86_MBMMAP: u64 = 2;
    /// `SEL4_BOOTINFO_HEADER_X86_ACPI_RSDP`.
    pub const X86_ACPI_RSDP: u64 = 3;
    /// `SEL4_BOOTINFO_HEADER_X86_FRAMEBUFFER`.
    pub const X86_FRAMEBUFFER: u64 = 4;
    /// `SEL4_BOOTINFO_HEADER_X86_TSC_FREQ`: the TSC frequency in MHz (one 32-bit word).
    pub const X86_TSC_FREQ: u64 = 5;
    /// `SEL4_BOOTINFO_HEADER_FDT`: the device tree.
    pub const FDT: u64 = 6;
}

const _: () = assert!(size_of::<UntypedDesc>() == 16);
const _: () = assert!(size_of::<BootInfo>() == 3848);
const _: () = assert!(size_of::<BootInfo>() <= 1 << crate::object::bits::BOOT_INFO_FRAME);
