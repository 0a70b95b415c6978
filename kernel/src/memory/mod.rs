//! Physical memory: the frame allocator and the kernel heap.

pub mod frames;
pub mod heap;

use crate::boot::BootMemory;

/// The kernel heap's size.
pub const HEAP_SIZE: u64 = 4 * 1024 * 1024;

/// Carves the heap out of the largest usable region, then gives the rest to the frame allocator.
pub fn init(boot: &BootMemory) {
    let total: u64 = boot.regions().iter().map(|r| r.len()).sum();
    let mut boot = boot.clone();
    let heap = frames::carve(&mut boot, HEAP_SIZE)
        .unwrap_or_else(|| panic!("no usable region holds a {HEAP_SIZE}-byte heap"));
    heap::init(heap, HEAP_SIZE);
    frames::init(&boot);
    kprintln!(
        "memory: {} usable regions, {} KiB usable; heap {} KiB at phys {:#x}; {} free frames",
        boot.regions().len(),
        total / 1024,
        HEAP_SIZE / 1024,
        heap,
        frames::free_count()
    );
}
