//! What seL4's boot hands the root task: [`BootInfo`] over `seL4_BootInfo`
//! ([`abi::bootinfo::BootInfo`], seL4's layout), with its regions as typed caps, and the extra
//! bootinfo's chunks ([`ExtraChunks`]).
//!
//! ```
//! use gears_user::bootinfo::BootInfo;
//! use abi::bootinfo::{SlotRegion, UntypedDesc};
//! let mut raw = abi::bootinfo::BootInfo::default();
//! raw.empty = SlotRegion { start: 900, end: 8192 };
//! raw.untyped = SlotRegion { start: 600, end: 602 };
//! raw.untyped_list[0] = UntypedDesc { paddr: 0xfec0_0000, size_bits: 12, is_device: 1, padding: [0; 6] };
//! raw.untyped_list[1] = UntypedDesc { paddr: 0x100_0000, size_bits: 24, is_device: 0, padding: [0; 6] };
//! let bi = BootInfo::new(raw);
//! let ram = bi.largest_ram_untyped().unwrap();
//! assert_eq!((ram.cap.cptr(), ram.size(), ram.is_device), (601, 16 << 20, false));
//! assert_eq!(bi.untypeds().filter(|u| u.is_device).count(), 1);
//! assert_eq!(bi.slot_allocator().alloc(), Some(900));
//! ```

use core::ops::Range;

use abi::bootinfo::{BootInfoHeader, SlotRegion};

use crate::cap::{Cap, Frame, Untyped, init_thread};
use crate::slots::SlotAllocator;

/// `seL4_BootInfo`, as the root task's `main` gets it.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootInfo {
    raw: abi::bootinfo::BootInfo,
}

/// One untyped the boot handed over: its cap and its memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UntypedInfo {
    /// The cap.
    pub cap: Untyped,
    /// Its physical address.
    pub paddr: u64,
    /// log2 of its size in bytes.
    pub size_bits: u8,
    /// Device memory (only frames can be made from it: a device's registers, or memory the
    /// kernel does not clear).
    pub is_device: bool,
}

impl UntypedInfo {
    /// Its size in bytes.
    pub const fn size(&self) -> u64 {
        1 << self.size_bits
    }

    /// Its physical addresses.
    pub const fn span(&self) -> Range<u64> {
        self.paddr..self.paddr + self.size()
    }
}

const fn range(r: SlotRegion) -> Range<u64> {
    r.start..r.end
}

impl BootInfo {
    /// The BootInfo with these fields (a test's; a root task gets the kernel's from its entry
    /// point).
    pub const fn new(raw: abi::bootinfo::BootInfo) -> BootInfo {
        BootInfo { raw }
    }

    /// Every field as seL4 lays it out.
    pub const fn raw(&self) -> &abi::bootinfo::BootInfo {
        &self.raw
    }

    /// Where the root task's IPC buffer is mapped (`ipcBuffer`).
    pub const fn ipc_buffer(&self) -> u64 {
        self.raw.ipc_buffer
    }

    /// The empty slots of the root CNode (`empty`).
    pub const fn empty(&self) -> Range<u64> {
        range(self.raw.empty)
    }

    /// A [`SlotAllocator`] over the empty slots.
    pub const fn slot_allocator(&self) -> SlotAllocator {
        SlotAllocator::new(init_thread::CNODE, self.empty())
    }

    /// The untypeds, in the order of their caps (seL4 lists device memory first, then RAM).
    pub fn untypeds(&self) -> impl Iterator<Item = UntypedInfo> + '_ {
        self.raw.untypeds().map(|(cptr, u)| UntypedInfo {
            cap: Cap::from_cptr(cptr),
            paddr: u.paddr,
            size_bits: u.size_bits,
            is_device: u.is_device != 0,
        })
    }

    /// The largest untyped of RAM (the first of the largest).
    pub fn largest_ram_untyped(&self) -> Option<UntypedInfo> {
        self.untypeds().filter(|u| !u.is_device).fold(None, |best: Option<UntypedInfo>, u| match best {
            Some(b) if b.size_bits >= u.size_bits => Some(b),
            _ => Some(u),
        })
    }

    /// The slots of the untypeds' caps (`untyped`).
    pub const fn untyped_slots(&self) -> Range<u64> {
        range(self.raw.untyped)
    }

    /// The slots of the frames of the root task's image (`userImageFrames`), in address order.
    pub const fn user_image_frames(&self) -> Range<u64> {
        range(self.raw.user_image_frames)
    }

    /// The image's frames as caps.
    pub fn user_image_frame_caps(&self) -> impl Iterator<Item = Frame> + use<> {
        self.user_image_frames().map(Cap::from_cptr)
    }

    /// The slots of the paging structures of the image (`userImagePaging`), top down.
    pub const fn user_image_paging(&self) -> Range<u64> {
        range(self.raw.user_image_paging)
    }

    /// The slots of the extra bootinfo's frames (`extraBIPages`).
    pub const fn extra_bi_pages(&self) -> Range<u64> {
        range(self.raw.extra_bi_pages)
    }

    /// Bytes of extra bootinfo (`extraLen`), in the pages after the BootInfo frame.
    pub const fn extra_len(&self) -> u64 {
        self.raw.extra_len
    }

    /// log2 of the root CNode's slots (`initThreadCNodeSizeBits`).
    pub const fn cnode_size_bits(&self) -> u64 {
        self.raw.init_thread_cnode_size_bits
    }

    /// The root task's scheduling domain (`initThreadDomain`).
    pub const fn domain(&self) -> u64 {
        self.raw.init_thread_domain
    }

    /// This node and how many there are (`nodeID`, `numNodes`).
    pub const fn node(&self) -> (u64, u64) {
        (self.raw.node_id, self.raw.num_nodes)
    }
}

/// The chunks of extra bootinfo (`seL4_BootInfoHeader` then its body), from its bytes
/// ([`crate::entry::extra_boot_info`]): `(id, body)`, `id` one of `abi::bootinfo::header`.
/// A chunk whose length does not fit ends the walk.
///
/// ```
/// use gears_user::bootinfo::ExtraChunks;
/// let mut bytes = [0u8; 24];
/// bytes[0] = 5; // SEL4_BOOTINFO_HEADER_X86_TSC_FREQ
/// bytes[8] = 20; // header and a 4-byte body
/// bytes[16..20].copy_from_slice(&3000u32.to_le_bytes());
/// let (id, body) = ExtraChunks::new(&bytes).next().unwrap();
/// assert_eq!((id, u32::from_le_bytes(body.try_into().unwrap())), (5, 3000));
/// ```
#[derive(Clone, Debug)]
pub struct ExtraChunks<'a> {
    rest: &'a [u8],
}

impl<'a> ExtraChunks<'a> {
    /// The chunks in `bytes`.
    pub const fn new(bytes: &'a [u8]) -> ExtraChunks<'a> {
        ExtraChunks { rest: bytes }
    }
}

impl<'a> Iterator for ExtraChunks<'a> {
    type Item = (u64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        const HEADER: usize = size_of::<BootInfoHeader>();
        let word =
            |at: usize| self.rest.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
        let (id, len) = (word(0)?, word(8)?);
        let len = usize::try_from(len).ok().filter(|&l| l >= HEADER && l <= self.rest.len());
        let Some(len) = len else {
            self.rest = &[];
            return None;
        };
        let body = &self.rest[HEADER..len];
        self.rest = &self.rest[len..];
        Some((id, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::bootinfo::UntypedDesc;

    fn desc(paddr: u64, size_bits: u8, is_device: u8) -> UntypedDesc {
        UntypedDesc { paddr, size_bits, is_device, padding: [0; 6] }
    }

    #[test]
    fn untypeds_come_with_caps_and_device_flags() {
        let mut raw = abi::bootinfo::BootInfo {
            untyped: SlotRegion { start: 20, end: 23 },
            user_image_frames: SlotRegion { start: 16, end: 19 },
            ..Default::default()
        };
        raw.untyped_list[0] = desc(0xfee0_0000, 20, 1);
        raw.untyped_list[1] = desc(0x20_0000, 21, 0);
        raw.untyped_list[2] = desc(0x40_0000, 22, 0);
        // Beyond the region: not listed.
        raw.untyped_list[3] = desc(0x80_0000, 30, 0);
        let bi = BootInfo::new(raw);
        let all: std::vec::Vec<_> = bi.untypeds().map(|u| (u.cap.cptr(), u.is_device, u.size())).collect();
        assert_eq!(all, [(20, true, 1 << 20), (21, false, 1 << 21), (22, false, 1 << 22)]);
        let best = bi.largest_ram_untyped().unwrap();
        assert_eq!((best.cap.cptr(), best.span()), (22, 0x40_0000..0x80_0000));
        assert_eq!(bi.user_image_frame_caps().map(|f| f.cptr()).sum::<u64>(), 16 + 17 + 18);
    }

    #[test]
    fn the_first_of_the_largest_is_taken_and_devices_never() {
        let mut raw =
            abi::bootinfo::BootInfo { untyped: SlotRegion { start: 5, end: 8 }, ..Default::default() };
        raw.untyped_list[0] = desc(0, 30, 1);
        raw.untyped_list[1] = desc(0x1000, 12, 0);
        raw.untyped_list[2] = desc(0x2000, 12, 0);
        assert_eq!(BootInfo::new(raw).largest_ram_untyped().map(|u| u.cap.cptr()), Some(6));
        raw.untyped = SlotRegion { start: 5, end: 6 };
        assert_eq!(BootInfo::new(raw).largest_ram_untyped(), None);
    }

    #[test]
    fn extra_chunks_walk_their_lengths() {
        let mut bytes = [0u8; 64];
        let mut put = |at: usize, id: u64, len: u64| {
            bytes[at..at + 8].copy_from_slice(&id.to_le_bytes());
            bytes[at + 8..at + 16].copy_from_slice(&len.to_le_bytes());
        };
        put(0, 3, 24); // ACPI RSDP, 8 bytes of body
        put(24, 0, 40); // padding to the end
        let chunks: std::vec::Vec<_> = ExtraChunks::new(&bytes).map(|(id, body)| (id, body.len())).collect();
        assert_eq!(chunks, [(3, 8), (0, 24)]);
        // A length past the end, or shorter than the header, ends the walk.
        let mut bad = [0u8; 32];
        bad[8] = 200;
        assert_eq!(ExtraChunks::new(&bad).count(), 0);
        bad[8] = 4;
        assert_eq!(ExtraChunks::new(&bad).count(), 0);
    }
}
