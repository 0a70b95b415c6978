//! Physical memory reached through each architecture's `phys_to_virt` (the x86_64 kernel's
//! physical-memory window, riscv64's 1:1 map): zeroing and copying frames. One implementation
//! for both, next to the per-arch modules that provide the mapping.

use super::{PAGE_SIZE, phys_to_virt};

/// Fills `2^bits` bytes of physical memory at `paddr` with zeros (a frame or paging structure
/// the capability kernel just made from untyped memory).
pub fn zero_phys(paddr: u64, bits: u8) {
    assert!(paddr.is_multiple_of(1 << bits.min(30)), "unaligned object {paddr:#x}");
    // SAFETY: the capability kernel hands out untyped memory the kernel's allocators never touch
    // (the untyped pool), mapped by `phys_to_virt`; the object is `2^bits` bytes inside it, used
    // by nothing else while it is being made.
    unsafe { core::ptr::write_bytes(phys_to_virt(paddr), 0, 1usize << bits) };
}

/// Fills the physical frame `frame` with zeros.
pub fn zero_frame(frame: u64) {
    assert!(frame.is_multiple_of(PAGE_SIZE), "unaligned frame {frame:#x}");
    // SAFETY: the caller owns the frame (fresh from the frame allocator); it is mapped by
    // `phys_to_virt` and is PAGE_SIZE bytes long.
    unsafe { core::ptr::write_bytes(phys_to_virt(frame), 0, PAGE_SIZE as usize) };
}

/// Copies `bytes` into the physical frame `frame` at `offset`.
pub fn copy_to_frame(frame: u64, offset: usize, bytes: &[u8]) {
    assert!(
        frame.is_multiple_of(PAGE_SIZE) && offset + bytes.len() <= PAGE_SIZE as usize,
        "copy past the frame"
    );
    // SAFETY: the caller owns the frame; the range is inside it (checked above), and `bytes`
    // cannot overlap it (it is kernel data, the frame is owned by a user space being built).
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), phys_to_virt(frame).add(offset), bytes.len()) };
}

/// Copies bytes out of the physical frame `frame` at `offset` into `out`.
pub fn copy_from_frame(frame: u64, offset: usize, out: &mut [u8]) {
    assert!(
        frame.is_multiple_of(PAGE_SIZE) && offset + out.len() <= PAGE_SIZE as usize,
        "copy past the frame"
    );
    // SAFETY: the frame is one the caller owns (a user thread's), mapped by `phys_to_virt`; the
    // range is inside it (checked above) and cannot overlap `out`, which is kernel memory.
    unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(frame).add(offset), out.as_mut_ptr(), out.len()) };
}
