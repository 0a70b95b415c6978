//! The entry point: `bootloader_api` hands over the memory map and the physical-memory window.

use core::sync::atomic::{AtomicU64, Ordering};

use bootloader_api::config::{BootloaderConfig, Mapping};
use bootloader_api::info::MemoryRegionKind;
use bootloader_api::{BootInfo, entry_point};

use crate::boot::{BootMemory, PhysRegion};

/// The bootloader's settings, embedded in the kernel ELF.
///
/// All physical memory is mapped at a dynamic offset (page tables and frames are reached through
/// it), and every dynamic mapping is kept in the upper half so the lower half is free for user
/// address spaces. The kernel (a position-independent ELF) is loaded at a fixed base, so a
/// debugger can be given the offset: `symbol-file kernel -o 0xffffffff80000000`.
pub static BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    config.mappings.physical_memory = Some(Mapping::Dynamic);
    config.mappings.dynamic_range_start = Some(0xffff_8000_0000_0000);
    config.mappings.kernel_base = Mapping::FixedAddress(KERNEL_BASE);
    config.kernel_stack_size = 256 * 1024;
    config
};

/// Where the bootloader loads the kernel ELF (its link addresses start at 0).
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

entry_point!(boot_entry, config = &BOOTLOADER_CONFIG);

fn boot_entry(info: &'static mut BootInfo) -> ! {
    super::serial::init();
    let offset = info
        .physical_memory_offset
        .into_option()
        .unwrap_or_else(|| panic!("the bootloader did not map physical memory"));
    super::paging::init(offset);

    RSDP.store(info.rsdp_addr.into_option().unwrap_or(0), Ordering::Relaxed);
    let mut memory = BootMemory::empty();
    for region in info.memory_regions.iter() {
        let r = PhysRegion { start: region.start, end: region.end };
        match region.kind {
            MemoryRegionKind::Usable => memory.push(r),
            // The firmware's own regions (ACPI tables, BIOS areas) are not RAM the kernel may
            // use: as on seL4, they are device memory the root task may map.
            MemoryRegionKind::UnknownBios(_) | MemoryRegionKind::UnknownUefi(_) => {}
            // The kernel's image, stack, page tables and the bootloader's structures.
            _ => memory.push_reserved(r),
        }
    }
    crate::kernel_main(&memory)
}

/// The physical address of the ACPI RSDP the bootloader found (0: none).
static RSDP: AtomicU64 = AtomicU64::new(0);

/// The bytes of the ACPI RSDP (`acpi_rsdp_t`, 36 bytes: the ACPI 2.0 layout, whose first 20
/// bytes are 1.0's), as seL4's boot copies it into the extra bootinfo; `None` without one.
pub fn acpi_rsdp() -> Option<[u8; 36]> {
    let at = RSDP.load(Ordering::Relaxed);
    if at == 0 {
        return None;
    }
    let mut bytes = [0u8; 36];
    // SAFETY: the bootloader found the RSDP at `at`, in the BIOS area of low memory, which the
    // physical-memory window maps; 36 bytes from it stay in that area (it ends at 1 MiB), and
    // they are only read, into a local array.
    unsafe { core::ptr::copy_nonoverlapping(super::paging::phys_to_virt(at), bytes.as_mut_ptr(), 36) };
    Some(bytes)
}
