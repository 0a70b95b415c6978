//! The entry point: OpenSBI jumps to `_start` in S-mode, translation off, at the image's
//! physical address, with a0 = hart id, a1 = device tree (its physical address).

use core::arch::global_asm;

use super::paging::{PHYS_WINDOW_SIZE, kernel_image_phys, phys_to_virt};
use crate::boot::{BootMemory, PhysRegion};

const BOOT_STACK_SIZE: usize = 256 * 1024;
/// The guard below the kernel stack: one page, left unmapped in the kernel's page table (see
/// `paging::init_kernel_space`).
pub const STACK_GUARD_SIZE: usize = 4096;

/// The kernel stack (the only one: traps from U-mode come back onto it) with its guard page
/// below it, both page aligned.
#[repr(C, align(4096))]
pub(super) struct GuardedStack {
    guard: [u8; STACK_GUARD_SIZE],
    stack: [u8; BOOT_STACK_SIZE],
}

#[unsafe(link_section = ".bss.stack")]
pub(super) static mut BOOT_STACK: GuardedStack =
    GuardedStack { guard: [0; STACK_GUARD_SIZE], stack: [0; BOOT_STACK_SIZE] };

/// The address (in the kernel image) of the kernel stack's guard page; the stack's lowest byte
/// is `stack_guard() + STACK_GUARD_SIZE`.
pub fn stack_guard() -> u64 {
    (&raw const BOOT_STACK) as u64
}

global_asm!(
    ".pushsection .text.entry, \"ax\"",
    ".global _start",
    "_start:",
    // Translation is off and the image runs where it was loaded, at its physical address, so
    // `la` (pc-relative) yields physical addresses here. Turn Sv39 on with the kernel's root,
    // which also maps the image's GiB 1:1 for the next few instructions.
    "la t0, {root}",
    "srli t0, t0, 12",
    "li t1, {sv39}",
    "or t0, t0, t1",
    "csrw satp, t0",
    "sfence.vma",
    // Jump to the same instruction's upper-half address, the one the image is linked at.
    "la t0, 1f",
    "li t1, {image_offset}",
    "add t0, t0, t1",
    "jr t0",
    "1:",
    // From here `la` yields upper-half addresses. Drop the 1:1 gigapage: the lower half is the
    // user's.
    "la t0, {root}",
    "sd zero, {identity}(t0)",
    "sfence.vma",
    // The stack, then BSS (nothing is on the stack yet, so zeroing it with BSS is harmless).
    // a0 (hart id) and a1 (device tree) are still OpenSBI's.
    "la sp, {stack}",
    "li t0, {stack_end}",
    "add sp, sp, t0",
    "la t0, __bss_start",
    "la t1, __bss_end",
    "2:",
    "bgeu t0, t1, 3f",
    "sd zero, 0(t0)",
    "addi t0, t0, 8",
    "j 2b",
    "3:",
    "call {entry}",
    "4:",
    "wfi",
    "j 4b",
    ".popsection",
    root = sym super::paging::KERNEL_ROOT,
    sv39 = const super::paging::SATP_SV39,
    image_offset = const super::paging::KERNEL_IMAGE_OFFSET,
    identity = const super::paging::BOOT_IDENTITY_ROOT * 8,
    stack = sym BOOT_STACK,
    stack_end = const STACK_GUARD_SIZE + BOOT_STACK_SIZE,
    entry = sym boot_entry,
);

unsafe extern "C" {
    safe static __kernel_end: u8;
}

/// The RAM QEMU virt has when the device tree cannot be read (its default, 128 MiB).
const FALLBACK_RAM: PhysRegion = PhysRegion { start: 0x8000_0000, end: 0x8800_0000 };

/// Called by `_start` in the upper half, under the kernel's table, with OpenSBI's arguments:
/// the hart id and the device tree's physical address.
extern "C" fn boot_entry(_hart: u64, dtb: u64) -> ! {
    super::serial::init();
    let ram = fdt_memory(dtb).unwrap_or(FALLBACK_RAM);
    let kernel_end = kernel_image_phys(&__kernel_end as *const u8 as u64).next_multiple_of(4096);
    let mut memory = BootMemory::empty();
    // Below the kernel is OpenSBI (PMP-protected); the device tree, somewhere above, is read
    // only here, before the first frame is handed out. RAM beyond the physical window is left
    // unused (the kernel could not reach it), and is no device either.
    let window_end = ram.end.min(PHYS_WINDOW_SIZE);
    memory.push(PhysRegion { start: kernel_end.max(ram.start), end: window_end });
    // OpenSBI's memory and the kernel's image.
    memory.push_reserved(PhysRegion { start: ram.start, end: kernel_end.max(ram.start) });
    memory.push_reserved(PhysRegion { start: window_end, end: ram.end });
    crate::kernel_main(&memory)
}

fn be32(p: *const u8) -> u32 {
    // SAFETY: callers pass addresses inside the device tree blob, bounded by its `totalsize`.
    u32::from_be_bytes(unsafe { core::ptr::read_unaligned(p as *const [u8; 4]) })
}

/// The first `reg` range of the device tree's `/memory` node (2 address and 2 size cells, as
/// QEMU virt has), by a minimal walk of the flattened tree's structure block.
fn fdt_memory(dtb: u64) -> Option<PhysRegion> {
    const MAGIC: u32 = 0xd00d_feed;
    const BEGIN_NODE: u32 = 1;
    const END_NODE: u32 = 2;
    const PROP: u32 = 3;
    const NOP: u32 = 4;
    // The header's first four words must be in the window to be read.
    if dtb == 0 || dtb.saturating_add(16) > PHYS_WINDOW_SIZE {
        return None;
    }
    let base = phys_to_virt(dtb) as *const u8;
    if be32(base) != MAGIC {
        return None;
    }
    let total = be32(base.wrapping_add(4)) as usize;
    if dtb + total as u64 > PHYS_WINDOW_SIZE {
        return None;
    }
    let structs = be32(base.wrapping_add(8)) as usize;
    let strings = be32(base.wrapping_add(12)) as usize;
    let at = |off: usize| base.wrapping_add(off);
    let mut off = structs;
    let mut depth = 0usize;
    let mut in_memory = false;
    while off + 4 <= total {
        let token = be32(at(off));
        off += 4;
        match token {
            BEGIN_NODE => {
                let mut len = 0;
                // SAFETY: the node name is NUL-terminated inside the blob (bounded by `total`).
                while off + len < total && unsafe { *at(off + len) } != 0 {
                    len += 1;
                }
                // SAFETY: `off..off + len` lies inside the blob, checked by the loop above.
                let name = unsafe { core::slice::from_raw_parts(at(off), len) };
                depth += 1;
                in_memory = depth == 2 && name.starts_with(b"memory");
                off = (off + len + 1).next_multiple_of(4);
            }
            END_NODE => {
                depth = depth.saturating_sub(1);
                in_memory = false;
            }
            PROP => {
                let len = be32(at(off)) as usize;
                let name_off = be32(at(off + 4)) as usize;
                let value = off + 8;
                let name_at = strings + name_off;
                let is_reg = name_at + 4 <= total && {
                    // SAFETY: the property name lies in the strings block, inside the blob.
                    let n = unsafe { core::slice::from_raw_parts(at(name_at), 4) };
                    n == b"reg\0"
                };
                if in_memory && is_reg && len >= 16 && value + 16 <= total {
                    let word = |i: usize| u64::from(be32(at(value + 4 * i)));
                    let start = (word(0) << 32) | word(1);
                    let size = (word(2) << 32) | word(3);
                    return Some(PhysRegion { start, end: start + size });
                }
                off = (value + len).next_multiple_of(4);
            }
            NOP => {}
            _ => return None,
        }
    }
    None
}
