//! Physical memory: the frame allocator and the kernel heap.

pub mod frames;
pub mod heap;

use crate::boot::BootMemory;

use spin::Once;

/// The kernel heap's size: the capability kernel keeps every slot and object on it (a derivation
/// tree of 65,536 caps and the invariant checker's working sets need tens of MiB).
pub const HEAP_SIZE: u64 = 64 * 1024 * 1024;

/// log2 of the physical memory handed to the root task as one untyped (seL4's boot untypeds).
pub const UNTYPED_POOL_BITS: u8 = 24;

/// The root task's untyped memory is placed at or above this address (32 MiB), clear of the low
/// memory the firmware and the kernel's early allocations use.
pub const UNTYPED_POOL_MIN: u64 = 0x0200_0000;

static UNTYPED_POOL: Once<u64> = Once::new();

/// The physical base of the root task's untyped pool (`2^UNTYPED_POOL_BITS` bytes), carved out
/// of usable memory at boot and never touched by the kernel's allocators.
pub fn untyped_pool() -> Option<u64> {
    UNTYPED_POOL.get().copied()
}

/// Carves the heap out of the largest usable region, then gives the rest to the frame allocator.
pub fn init(boot: &BootMemory) {
    let total: u64 = boot.regions().iter().map(|r| r.len()).sum();
    let mut boot = boot.clone();
    let heap = frames::carve(&mut boot, HEAP_SIZE)
        .unwrap_or_else(|| panic!("no usable region holds a {HEAP_SIZE}-byte heap"));
    heap::init(heap, HEAP_SIZE);
    if let Some(pool) = frames::carve_aligned(&mut boot, UNTYPED_POOL_BITS, UNTYPED_POOL_MIN) {
        UNTYPED_POOL.call_once(|| pool);
    }
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
