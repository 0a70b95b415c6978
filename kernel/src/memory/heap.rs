//! The kernel heap: `linked_list_allocator` over a physically contiguous region.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands `size` bytes of physical memory at `phys` to the heap (once, at boot).
///
/// `phys..phys + size` must have been carved out of a usable region before the frame allocator
/// saw it, so nothing else owns it.
pub fn init(phys: u64, size: u64) {
    HEAP.lock().init_from_slice(crate::arch::claim_ram(phys, size));
}

/// Bytes in use and free in the heap.
pub fn usage() -> (usize, usize) {
    let heap = HEAP.lock();
    (heap.used(), heap.free())
}
