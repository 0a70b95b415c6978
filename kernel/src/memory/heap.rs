//! The kernel heap: `linked_list_allocator` over a physically contiguous region.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands `size` bytes of physical memory at `phys` to the heap (once, at boot).
pub fn init(phys: u64, size: u64) {
    let start = crate::arch::phys_to_virt(phys);
    // SAFETY: `phys..phys + size` was carved out of a usable region before the frame allocator
    // saw it, so nothing else owns it; it is mapped at `start` by the physical-memory window, and
    // this runs once, before the first allocation.
    unsafe { HEAP.lock().init(start, size as usize) };
}

/// Bytes in use and free in the heap.
pub fn usage() -> (usize, usize) {
    let heap = HEAP.lock();
    (heap.used(), heap.free())
}
