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

/// log2 of the block boot places the root task's kernel objects in (as seL4's boot carves them
/// out of free memory): the root CNode in its first half, the root TCB and the initial ASID pool
/// after it (the driver's boot lays them out).
pub const ROOT_OBJECTS_BITS: u8 = 18;

static ROOT_OBJECTS: Once<u64> = Once::new();

/// The physical base of the root objects' block (`2^ROOT_OBJECTS_BITS` bytes, aligned to its
/// size), carved out of usable memory at boot and never touched by the kernel's allocators.
pub fn root_objects() -> u64 {
    *ROOT_OBJECTS.get().expect("memory::init carved the root objects' block")
}

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
    let root = frames::carve_aligned(&mut boot, ROOT_OBJECTS_BITS, 0).unwrap_or_else(|| {
        panic!("no usable region holds the root task's {}-byte objects", 1u64 << ROOT_OBJECTS_BITS)
    });
    ROOT_OBJECTS.call_once(|| root);
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
