//! The physical frame allocator: a bump pointer over the usable regions plus a free list.
//!
//! Frames are 4 KiB, named by physical address. Freed frames go on a list (on the heap) and are
//! handed out again first.

use alloc::vec::Vec;

use spin::Mutex;

use super::LOW_LIMIT;
use crate::arch::PAGE_SIZE;
use crate::boot::{BootMemory, MAX_REGIONS, PhysRegion};

struct Frames {
    regions: [PhysRegion; MAX_REGIONS],
    count: usize,
    /// The region the bump pointer is in, and the next never-used frame in it.
    region: usize,
    next: u64,
    freed: Vec<u64>,
    allocated: u64,
}

static FRAMES: Mutex<Frames> = Mutex::new(Frames {
    regions: [PhysRegion { start: 0, end: 0 }; MAX_REGIONS],
    count: 0,
    region: 0,
    next: 0,
    freed: Vec::new(),
    allocated: 0,
});

fn align_up(x: u64) -> u64 {
    x.div_ceil(PAGE_SIZE) * PAGE_SIZE
}

/// Removes `size` page-aligned bytes from the largest usable region, which now counts them as
/// reserved; returns their start.
pub fn carve(boot: &mut BootMemory, size: u64) -> Option<u64> {
    let mut best: Option<PhysRegion> = None;
    for r in boot.regions() {
        let start = align_up(r.start.max(LOW_LIMIT));
        if r.end > start && r.end - start >= size && best.is_none_or(|b| r.len() > b.len()) {
            best = Some(*r);
        }
    }
    let start = align_up(best?.start.max(LOW_LIMIT));
    boot.remove(start, start + size);
    boot.push_reserved(PhysRegion { start, end: start + size });
    Some(start)
}

/// Takes over the usable regions of `boot` (the kernel's own frames, carved out at boot).
pub fn init(boot: &BootMemory) {
    let mut f = FRAMES.lock();
    for r in boot.regions() {
        let start = align_up(r.start.max(LOW_LIMIT));
        let end = r.end / PAGE_SIZE * PAGE_SIZE;
        if end > start && f.count < MAX_REGIONS {
            let i = f.count;
            f.regions[i] = PhysRegion { start, end };
            f.count += 1;
        }
    }
    f.region = 0;
    f.next = f.regions[0].start;
}

/// A free 4 KiB frame (contents undefined), or `None` when memory is exhausted.
#[cfg(feature = "qemu-test")]
pub fn alloc() -> Option<u64> {
    let mut f = FRAMES.lock();
    if let Some(frame) = f.freed.pop() {
        f.allocated += 1;
        return Some(frame);
    }
    while f.region < f.count {
        let r = f.regions[f.region];
        if f.next + PAGE_SIZE <= r.end {
            let frame = f.next;
            f.next += PAGE_SIZE;
            f.allocated += 1;
            return Some(frame);
        }
        f.region += 1;
        if f.region < f.count {
            f.next = f.regions[f.region].start;
        }
    }
    None
}

/// A free frame filled with zeros.
#[cfg(feature = "qemu-test")]
pub fn alloc_zeroed() -> Option<u64> {
    let frame = alloc()?;
    crate::arch::zero_frame(frame);
    Some(frame)
}

/// Returns `frame` to the allocator.
#[cfg(feature = "qemu-test")]
pub fn free(frame: u64) {
    let mut f = FRAMES.lock();
    f.freed.push(frame);
    f.allocated -= 1;
}

/// Frames currently handed out.
pub fn allocated() -> u64 {
    FRAMES.lock().allocated
}

/// Frames still available.
pub fn free_count() -> u64 {
    let f = FRAMES.lock();
    let mut n = f.freed.len() as u64;
    for i in f.region..f.count {
        let r = f.regions[i];
        let from = if i == f.region { f.next } else { r.start };
        n += r.end.saturating_sub(from) / PAGE_SIZE;
    }
    n
}
