//! Physical memory: the kernel heap, the kernel's own frames, and the free memory seL4's boot
//! hands to the root task.

pub mod frames;
pub mod heap;

use crate::boot::{BootMemory, PhysRegion};

use spin::Once;

/// The kernel heap's size: the invariant checker's working sets (a derivation tree of 65,536
/// caps) need tens of MiB; the kernel itself keeps a few KiB there.
pub const HEAP_SIZE: u64 = 64 * 1024 * 1024;

/// The frames the kernel keeps for itself in the QEMU tests' kernel (for the programs that run
/// outside the capability kernel; other kernels keep none): everything else free goes to the
/// root task.
pub const KERNEL_FRAMES: u64 = 8 * 1024 * 1024;

/// Free memory below this address is left alone (x86_64: the BIOS's data and real-mode
/// leftovers; seL4 does not count it as RAM either).
pub const LOW_LIMIT: u64 = 0x10_0000;

static FREE: Once<BootMemory> = Once::new();

/// The memory map after the kernel took its heap and frames: the free regions (page aligned,
/// from [`LOW_LIMIT`]), which boot gives to the root task (its objects, its image and all the
/// rest as untypeds), and the reserved ones (the kernel's, the firmware's, the heap and the
/// kernel's frames), which are neither free nor devices.
pub fn free() -> &'static BootMemory {
    FREE.get().expect("memory::init ran")
}

/// Carves the heap and the kernel's frames out of the largest usable regions and keeps the rest
/// for the root task.
pub fn init(boot: &BootMemory) {
    let total: u64 = boot.regions().iter().map(|r| r.len()).sum();
    let mut boot = boot.clone();
    let heap = frames::carve(&mut boot, HEAP_SIZE)
        .unwrap_or_else(|| panic!("no usable region holds a {HEAP_SIZE}-byte heap"));
    heap::init(heap, HEAP_SIZE);
    let mut own = BootMemory::empty();
    if cfg!(feature = "qemu-test") {
        let kernel_frames = frames::carve(&mut boot, KERNEL_FRAMES)
            .unwrap_or_else(|| panic!("no usable region holds the kernel's {KERNEL_FRAMES} bytes of frames"));
        own.push(PhysRegion { start: kernel_frames, end: kernel_frames + KERNEL_FRAMES });
    }
    frames::init(&own);
    let mut free = boot.clone();
    free.clear_regions();
    for r in boot.regions() {
        let start = r.start.max(LOW_LIMIT).next_multiple_of(crate::arch::PAGE_SIZE);
        let end = r.end / crate::arch::PAGE_SIZE * crate::arch::PAGE_SIZE;
        if end > start {
            free.push(PhysRegion { start, end });
        }
    }
    let left: u64 = free.regions().iter().map(|r| r.len()).sum();
    kprintln!(
        "memory: {} usable regions, {} KiB usable; heap {} KiB at phys {:#x}; {} kernel frames; {} KiB free for the root task",
        boot.regions().len(),
        total / 1024,
        HEAP_SIZE / 1024,
        heap,
        frames::free_count(),
        left / 1024
    );
    FREE.call_once(|| free);
}
