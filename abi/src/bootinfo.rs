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

/// Words of `seL4_BootInfo` (3848 bytes).
pub const BOOT_INFO_WORDS: usize = size_of::<BootInfo>() / 8;

impl Default for BootInfo {
    fn default() -> Self {
        BootInfo {
            extra_len: 0,
            node_id: 0,
            num_nodes: 0,
            num_io_pt_levels: 0,
            ipc_buffer: 0,
            empty: SlotRegion::default(),
            shared_frames: SlotRegion::default(),
            user_image_frames: SlotRegion::default(),
            user_image_paging: SlotRegion::default(),
            io_space_caps: SlotRegion::default(),
            extra_bi_pages: SlotRegion::default(),
            init_thread_cnode_size_bits: 0,
            init_thread_domain: 0,
            untyped: SlotRegion::default(),
            untyped_list: [UntypedDesc::default(); MAX_NUM_BOOTINFO_UNTYPED_CAPS],
        }
    }
}

impl BootInfo {
    /// The words the root task reads at its BootInfo frame, in `seL4_BootInfo`'s order (an
    /// `UntypedDesc` is two words: `paddr`, then `sizeBits` and `isDevice` in the low bytes).
    pub fn to_words(&self) -> [u64; BOOT_INFO_WORDS] {
        let mut w = [0; BOOT_INFO_WORDS];
        let regions = [
            self.empty,
            self.shared_frames,
            self.user_image_frames,
            self.user_image_paging,
            self.io_space_caps,
            self.extra_bi_pages,
        ];
        w[..5].copy_from_slice(&[
            self.extra_len,
            self.node_id,
            self.num_nodes,
            self.num_io_pt_levels,
            self.ipc_buffer,
        ]);
        for (i, r) in regions.iter().enumerate() {
            w[5 + 2 * i] = r.start;
            w[6 + 2 * i] = r.end;
        }
        w[17] = self.init_thread_cnode_size_bits;
        w[18] = self.init_thread_domain;
        w[19] = self.untyped.start;
        w[20] = self.untyped.end;
        for (i, u) in self.untyped_list.iter().enumerate() {
            w[UNTYPED_LIST_WORD + 2 * i] = u.paddr;
            w[UNTYPED_LIST_WORD + 2 * i + 1] = u64::from(u.size_bits) | u64::from(u.is_device) << 8;
        }
        w
    }

    /// The `seL4_BootInfo` whose words are `w` (the inverse of [`BootInfo::to_words`]; padding
    /// bytes are dropped).
    pub fn from_words(w: &[u64; BOOT_INFO_WORDS]) -> BootInfo {
        let region = |i: usize| SlotRegion { start: w[5 + 2 * i], end: w[6 + 2 * i] };
        let mut untyped_list = [UntypedDesc::default(); MAX_NUM_BOOTINFO_UNTYPED_CAPS];
        for (i, u) in untyped_list.iter_mut().enumerate() {
            let d = w[UNTYPED_LIST_WORD + 2 * i + 1];
            *u = UntypedDesc {
                paddr: w[UNTYPED_LIST_WORD + 2 * i],
                size_bits: d as u8,
                is_device: (d >> 8) as u8,
                padding: [0; 6],
            };
        }
        BootInfo {
            extra_len: w[0],
            node_id: w[1],
            num_nodes: w[2],
            num_io_pt_levels: w[3],
            ipc_buffer: w[4],
            empty: region(0),
            shared_frames: region(1),
            user_image_frames: region(2),
            user_image_paging: region(3),
            io_space_caps: region(4),
            extra_bi_pages: region(5),
            init_thread_cnode_size_bits: w[17],
            init_thread_domain: w[18],
            untyped: SlotRegion { start: w[19], end: w[20] },
            untyped_list,
        }
    }

    /// The untypeds it lists: `untypedList[0 .. untyped.end - untyped.start]`, with their cptrs.
    pub fn untypeds(&self) -> impl Iterator<Item = (u64, UntypedDesc)> + '_ {
        let n =
            (self.untyped.end.saturating_sub(self.untyped.start) as usize).min(MAX_NUM_BOOTINFO_UNTYPED_CAPS);
        self.untyped_list[..n].iter().enumerate().map(|(i, &u)| (self.untyped.start + i as u64, u))
    }
}

/// The word of `seL4_BootInfo` where `untypedList` starts.
const UNTYPED_LIST_WORD: usize = 21;
const _: () = assert!(UNTYPED_LIST_WORD * 8 == core::mem::offset_of!(BootInfo, untyped_list));
const _: () = assert!(5 * 8 == core::mem::offset_of!(BootInfo, empty));
const _: () = assert!(17 * 8 == core::mem::offset_of!(BootInfo, init_thread_cnode_size_bits));

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_info_words_round_trip() {
        let mut bi = BootInfo {
            extra_len: 4096,
            node_id: 0,
            num_nodes: 1,
            ipc_buffer: 0x41_0000,
            empty: SlotRegion { start: 900, end: 8192 },
            user_image_frames: SlotRegion { start: 20, end: 600 },
            user_image_paging: SlotRegion { start: 16, end: 19 },
            extra_bi_pages: SlotRegion { start: 19, end: 20 },
            init_thread_cnode_size_bits: 13,
            untyped: SlotRegion { start: 600, end: 602 },
            ..BootInfo::default()
        };
        bi.untyped_list[0] = UntypedDesc { paddr: 0xfed0_0000, size_bits: 12, is_device: 1, padding: [0; 6] };
        bi.untyped_list[1] = UntypedDesc { paddr: 0x400_0000, size_bits: 26, is_device: 0, padding: [0; 6] };
        let w = bi.to_words();
        assert_eq!(w[4], 0x41_0000);
        assert_eq!(w[17], 13);
        assert_eq!(w[21..25], [0xfed0_0000, 12 | 1 << 8, 0x400_0000, 26]);
        assert_eq!(BootInfo::from_words(&w), bi);
        let mut listed = bi.untypeds().map(|(c, u)| (c, u.paddr));
        assert_eq!(listed.next(), Some((600, 0xfed0_0000)));
        assert_eq!(listed.next(), Some((601, 0x400_0000)));
        assert_eq!(listed.next(), None);
    }
}
