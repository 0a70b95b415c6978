//! Address spaces: 4-level page tables reached through the bootloader's physical-memory window.
//!
//! A user address space is a fresh PML4 that shares the kernel's top-level entries (none of
//! which is user-accessible) and maps user pages in PML4 slot 1, which the kernel leaves empty
//! (all bootloader mappings are in the upper half, see `boot`).

use core::sync::atomic::{AtomicU64, Ordering};

use ::x86_64::registers::control::{Cr3, Cr3Flags};
#[cfg(feature = "qemu-test")]
use ::x86_64::structures::paging::mapper::MapToError;
#[cfg(feature = "qemu-test")]
use ::x86_64::structures::paging::{FrameAllocator, Mapper, OffsetPageTable, Page, PageTableFlags, Size4KiB};
use ::x86_64::structures::paging::{PageTable, PhysFrame};
use ::x86_64::{PhysAddr, VirtAddr};

/// The size of a page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;
/// Where the kernel's own test programs and the script runner are mapped: PML4 slot 1
/// (512 GiB).
#[cfg(feature = "qemu-test")]
pub const USER_BASE: u64 = 0x0000_0080_0000_0000;
/// The end (exclusive) of the area the kernel's own test programs map into: the end of PML4
/// slot 1.
#[cfg(feature = "qemu-test")]
pub const USER_END: u64 = 0x0000_0100_0000_0000;
/// The end (exclusive) of user space: the canonical lower half, which the capability kernel's
/// VSpaces map (seL4's user addresses go up to `USER_TOP`, below it).
pub const LOWER_HALF_END: u64 = 0x0000_8000_0000_0000;
const USER_SLOT: usize = 1;

static PHYS_OFFSET: AtomicU64 = AtomicU64::new(0);
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);

/// Records the physical-memory window and the kernel's own PML4 (from the boot entry).
pub(super) fn init(phys_offset: u64) {
    PHYS_OFFSET.store(phys_offset, Ordering::Relaxed);
    KERNEL_ROOT.store(Cr3::read().0.start_address().as_u64(), Ordering::Relaxed);
    let root = phys_to_virt(Cr3::read().0.start_address().as_u64()) as *const PageTable;
    // SAFETY: the live PML4, reached through the physical-memory window, only read.
    let slot_used = unsafe { !(&*root)[USER_SLOT].is_unused() };
    assert!(!slot_used, "the bootloader mapped something in PML4 slot {USER_SLOT}, the user area");
}

/// The kernel virtual address at which physical address `phys` is mapped.
pub fn phys_to_virt(phys: u64) -> *mut u8 {
    (PHYS_OFFSET.load(Ordering::Relaxed) + phys) as *mut u8
}

/// Why a mapping failed.
#[cfg(feature = "qemu-test")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frame for an intermediate page table.
    OutOfFrames,
    /// The page is already mapped.
    AlreadyMapped,
    /// The address is outside the user area or not page aligned.
    BadAddress,
}

/// Hands out frames from the caller's allocator to the `x86_64` crate's mapper.
#[cfg(feature = "qemu-test")]
struct FrameSource<'a>(&'a mut dyn FnMut() -> Option<u64>);

#[cfg(feature = "qemu-test")]
// SAFETY: the closure returns frames the kernel's frame allocator owns and hands out once
// (unused, 4 KiB aligned); the mapper zeroes them before use as page tables.
unsafe impl FrameAllocator<Size4KiB> for FrameSource<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        (self.0)().map(|a| PhysFrame::containing_address(PhysAddr::new(a)))
    }
}

/// A user address space: its PML4's physical address.
#[derive(Debug, PartialEq, Eq)]
pub struct AddressSpace {
    root: u64,
}

impl AddressSpace {
    #[cfg(feature = "qemu-test")]
    /// A new address space sharing the kernel's mappings (its upper half, as every VSpace root
    /// of the capability kernel gets them), with an empty lower half for the user.
    ///
    /// `frame` is a fresh, exclusively owned 4 KiB frame for the PML4.
    pub fn new_user(frame: u64) -> Self {
        crate::arch::zero_frame(frame);
        copy_global_mappings(frame);
        AddressSpace { root: frame }
    }

    #[cfg(feature = "qemu-test")]
    /// Maps the user page at `va` to `frame`, user-accessible, writable and/or executable.
    pub fn map_user(
        &mut self,
        va: u64,
        frame: u64,
        writable: bool,
        executable: bool,
        alloc: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<(), MapError> {
        if !(USER_BASE..USER_END).contains(&va)
            || !va.is_multiple_of(PAGE_SIZE)
            || !frame.is_multiple_of(PAGE_SIZE)
        {
            return Err(MapError::BadAddress);
        }
        let mut flags = PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE;
        if writable {
            flags |= PageTableFlags::WRITABLE;
        }
        if !executable {
            flags |= PageTableFlags::NO_EXECUTE;
        }
        // Parent entries need USER_ACCESSIBLE too, or ring 3 cannot walk through them.
        let parents = PageTableFlags::PRESENT | PageTableFlags::WRITABLE | PageTableFlags::USER_ACCESSIBLE;
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
        let frame = PhysFrame::containing_address(PhysAddr::new(frame));
        let offset = VirtAddr::new(PHYS_OFFSET.load(Ordering::Relaxed));
        // SAFETY: `root` is this space's PML4, reached through the physical-memory window; the
        // mapping goes into the user slot, whose tables belong to this space alone, so no kernel
        // mapping changes. The space need not be active (no TLB flush needed then).
        let result = unsafe {
            let l4 = &mut *(phys_to_virt(self.root) as *mut PageTable);
            let mut mapper = OffsetPageTable::new(l4, offset);
            mapper.map_to_with_table_flags(page, frame, flags, parents, &mut FrameSource(alloc))
        };
        match result {
            Ok(flush) => {
                if self.is_active() {
                    flush.flush();
                } else {
                    flush.ignore();
                }
                Ok(())
            }
            Err(MapToError::FrameAllocationFailed) => Err(MapError::OutOfFrames),
            Err(_) => Err(MapError::AlreadyMapped),
        }
    }

    #[cfg(feature = "qemu-test")]
    fn is_active(&self) -> bool {
        Cr3::read().0.start_address().as_u64() == self.root
    }

    /// Switches to the address space whose PML4 is at physical address `root`: one
    /// [`AddressSpace::new_user`] made, or a VSpace the capability kernel built from seL4
    /// objects, whose global entries it copied from the kernel's (`copyGlobalMappings`).
    pub fn activate_root(root: u64) {
        let frame = PhysFrame::containing_address(PhysAddr::new(root));
        if Cr3::read().0 != frame {
            // SAFETY: the capability kernel hands out only PML4 objects that had the kernel's
            // top-level entries copied in when they got an ASID, so the kernel stays mapped.
            unsafe { Cr3::write(frame, Cr3Flags::empty()) };
        }
    }

    /// Switches back to the kernel's own page tables.
    pub fn activate_kernel() {
        let frame = PhysFrame::containing_address(PhysAddr::new(KERNEL_ROOT.load(Ordering::Relaxed)));
        if Cr3::read().0 != frame {
            // SAFETY: the bootloader's PML4, which maps everything the kernel uses.
            unsafe { Cr3::write(frame, Cr3Flags::empty()) };
        }
    }
}

/// The number of PML4 entries in the lower half: user space. The kernel's own mappings are all in
/// the upper half (see `boot`), which every VSpace shares.
const USER_PML4_ENTRIES: usize = 256;

/// `copyGlobalMappings`: gives the VSpace root (a PML4 the capability kernel made from untyped
/// memory, zeroed) the kernel's upper-half entries, none of which is user-accessible.
pub fn copy_global_mappings(root: u64) {
    let src = phys_to_virt(KERNEL_ROOT.load(Ordering::Relaxed)) as *const PageTable;
    let dst = phys_to_virt(root) as *mut PageTable;
    // SAFETY: both are 4 KiB page tables reached through the physical-memory window: the
    // kernel's live PML4 (only read) and a PML4 object of the capability kernel, which no CPU
    // uses until it has these entries (it gets them when assigned an ASID, before any mapping).
    unsafe {
        for i in USER_PML4_ENTRIES..512 {
            (&mut *dst)[i] = (&(*src))[i].clone();
        }
    }
}

/// Drops cached translations after a user mapping changed: of `vaddr` if the VSpace rooted at
/// `root` is the active one (all of them if `vaddr` is None); an inactive space has none cached
/// (every switch reloads CR3, and user entries are never global).
pub fn flush_user(root: u64, vaddr: Option<u64>) {
    if Cr3::read().0.start_address().as_u64() != root {
        return;
    }
    match vaddr {
        Some(va) => ::x86_64::instructions::tlb::flush(VirtAddr::new(va)),
        None => ::x86_64::instructions::tlb::flush_all(),
    }
}
