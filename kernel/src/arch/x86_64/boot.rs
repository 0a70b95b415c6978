//! The entry point: `bootloader_api` hands over the memory map and the physical-memory window.

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

    let mut memory = BootMemory::empty();
    for region in info.memory_regions.iter() {
        if region.kind == MemoryRegionKind::Usable {
            memory.push(PhysRegion { start: region.start, end: region.end });
        }
    }
    crate::kernel_main(&memory)
}
