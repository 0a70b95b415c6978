//! Sv39 address spaces. The kernel runs under its own Sv39 table that maps the first 4 GiB 1:1
//! (virtual = physical, so physical addresses are still kernel addresses) except the guard page
//! below the kernel stack, which is left invalid so that a stack overflow faults.
//!
//! The kernel's table: gigapages for the devices and RAM, except the GiB holding the stack
//! guard, which goes through a level-1 table of 2 MiB pages, except the 2 MiB holding the guard,
//! which goes through a level-0 table of 4 KiB pages with the guard's entry invalid. Every user
//! space's root shares the kernel's four root entries (global, kernel-only; the kernel's code,
//! data, stack, guard and devices stay as they are after a trap from U-mode) and maps user pages
//! from [`USER_BASE`].

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

/// The size of a page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;
/// Where user mappings start: 64 GiB, above the kernel's 1:1 gigapages.
pub const USER_BASE: u64 = 0x0000_0010_0000_0000;
/// The end (exclusive) of the user area: the top of Sv39's lower half.
pub const USER_END: u64 = 0x0000_0040_0000_0000;

const PTE_V: u64 = 1 << 0;
const PTE_R: u64 = 1 << 1;
const PTE_W: u64 = 1 << 2;
const PTE_X: u64 = 1 << 3;
const PTE_U: u64 = 1 << 4;
const PTE_G: u64 = 1 << 5;
const PTE_A: u64 = 1 << 6;
const PTE_D: u64 = 1 << 7;
/// GiB pages mapped 1:1 for the kernel (devices below 2 GiB, RAM from 2 GiB).
const KERNEL_GIGAPAGES: u64 = 4;
const SATP_SV39: u64 = 8 << 60;
/// A kernel leaf: readable, writable, executable, global, accessed and dirty (no U).
const KERNEL_LEAF: u64 = PTE_V | PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D;

/// A page-table page of the kernel's own table.
#[repr(C, align(4096))]
struct Table([u64; 512]);

/// The kernel's root, its level-1 table for the guard's GiB and level-0 table for its 2 MiB.
static mut KERNEL_ROOT: Table = Table([0; 512]);
static mut KERNEL_L1: Table = Table([0; 512]);
static mut KERNEL_L0: Table = Table([0; 512]);
/// The kernel's satp (0 = Bare, before [`init_kernel_space`]).
static KERNEL_SATP: AtomicU64 = AtomicU64::new(0);

fn leaf(phys: u64) -> u64 {
    ((phys >> 12) << 10) | KERNEL_LEAF
}

fn pointer(table: u64) -> u64 {
    ((table >> 12) << 10) | PTE_V | PTE_G
}

/// Builds the kernel's table (1:1 over the first 4 GiB, the page at `guard` invalid) and turns
/// translation on with it; call once, before the first user space is made.
pub fn init_kernel_space(guard: u64) {
    let (root, l1, l0) =
        ((&raw mut KERNEL_ROOT) as u64, (&raw mut KERNEL_L1) as u64, (&raw mut KERNEL_L0) as u64);
    assert!(guard.is_multiple_of(PAGE_SIZE) && guard < KERNEL_GIGAPAGES << 30, "bad stack guard {guard:#x}");
    let (gib, mib2) = (guard >> 30, guard >> 21);
    for i in 0..512 {
        write_pte(l0, i, leaf((mib2 << 21) + (i << 12)));
        write_pte(l1, i, leaf((gib << 30) + (i << 21)));
    }
    write_pte(l0, (guard >> 12) & 0x1ff, 0);
    write_pte(l1, mib2 & 0x1ff, pointer(l0));
    for i in 0..KERNEL_GIGAPAGES {
        write_pte(root, i, if i == gib { pointer(l1) } else { leaf(i << 30) });
    }
    let satp = SATP_SV39 | (root >> 12);
    KERNEL_SATP.store(satp, Ordering::Relaxed);
    // SAFETY: the table maps everything the kernel touches (its image, stack, RAM and devices
    // in the first 4 GiB) at the same addresses, so execution goes on; only the unused guard page
    // loses its mapping. The fence drops stale translations.
    unsafe { asm!("csrw satp, {0}", "sfence.vma", in(reg) satp, options(nostack)) };
}

/// The kernel address of physical address `phys` (the same: the kernel's table is 1:1).
pub fn phys_to_virt(phys: u64) -> *mut u8 {
    phys as *mut u8
}

/// Why a mapping failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frame for an intermediate page table.
    OutOfFrames,
    /// The page is already mapped.
    AlreadyMapped,
    /// The address is outside the user area or not page aligned.
    BadAddress,
}

fn pte_ptr(table: u64, index: u64) -> *mut u64 {
    phys_to_virt(table + index * 8) as *mut u64
}

fn read_pte(table: u64, index: u64) -> u64 {
    // SAFETY: `table` is a page-table frame owned by an address space, `index` < 512.
    unsafe { pte_ptr(table, index).read_volatile() }
}

fn write_pte(table: u64, index: u64, pte: u64) {
    // SAFETY: as in `read_pte`; the table belongs to the space being built or changed.
    unsafe { pte_ptr(table, index).write_volatile(pte) }
}

/// A user address space: its root page table's physical address.
#[derive(Debug, PartialEq, Eq)]
pub struct AddressSpace {
    root: u64,
}

impl AddressSpace {
    /// A new address space with the kernel's mappings (its four root entries, shared) and an
    /// empty user area.
    ///
    /// `frame` is a fresh, zeroed, exclusively owned 4 KiB frame for the root table.
    pub fn new_user(frame: u64) -> Self {
        crate::arch::zero_frame(frame);
        let kernel_root = (&raw const KERNEL_ROOT) as u64;
        for gib in 0..KERNEL_GIGAPAGES {
            let pte = read_pte(kernel_root, gib);
            // Before `init_kernel_space` (never, in practice): plain 1:1 gigapages.
            write_pte(frame, gib, if pte & PTE_V != 0 { pte } else { leaf(gib << 30) });
        }
        AddressSpace { root: frame }
    }

    /// Maps the user page at `va` to `frame`, user-accessible, writable and/or executable.
    pub fn map_user(
        &mut self,
        va: u64,
        frame: u64,
        writable: bool,
        executable: bool,
        alloc: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<(), MapError> {
        if !(USER_BASE..USER_END).contains(&va)
            || !va.is_multiple_of(PAGE_SIZE)
            || !frame.is_multiple_of(PAGE_SIZE)
        {
            return Err(MapError::BadAddress);
        }
        let mut table = self.root;
        for level in [2u32, 1] {
            let index = (va >> (12 + 9 * level)) & 0x1ff;
            let pte = read_pte(table, index);
            table = if pte & PTE_V != 0 {
                if pte & (PTE_R | PTE_W | PTE_X) != 0 {
                    return Err(MapError::AlreadyMapped);
                }
                (pte >> 10) << 12
            } else {
                let next = alloc().ok_or(MapError::OutOfFrames)?;
                crate::arch::zero_frame(next);
                write_pte(table, index, ((next >> 12) << 10) | PTE_V);
                next
            };
        }
        let index = (va >> 12) & 0x1ff;
        if read_pte(table, index) & PTE_V != 0 {
            return Err(MapError::AlreadyMapped);
        }
        let mut flags = PTE_V | PTE_R | PTE_U | PTE_A | PTE_D;
        if writable {
            flags |= PTE_W;
        }
        if executable {
            flags |= PTE_X;
        }
        write_pte(table, index, ((frame >> 12) << 10) | flags);
        // SAFETY: orders the table writes before any later translation that may use them.
        unsafe { asm!("sfence.vma", options(nostack)) };
        Ok(())
    }

    /// Switches to the address space whose root page table is at physical address `root`: one
    /// [`AddressSpace::new_user`] made, or a VSpace the capability kernel built from seL4
    /// objects, with the kernel's entries copied in when it got an ASID (`copyGlobalMappings`).
    pub fn activate_root(root: u64) {
        let satp = SATP_SV39 | (root >> 12);
        // SAFETY: such a root shares the kernel's entries for the first 4 GiB, so the code, stack
        // and data in use keep their addresses; the fence drops stale translations.
        unsafe { asm!("csrw satp, {0}", "sfence.vma", in(reg) satp, options(nostack)) };
    }

    /// Switches back to the kernel's own table (Bare before [`init_kernel_space`]).
    pub fn activate_kernel() {
        let satp = KERNEL_SATP.load(Ordering::Relaxed);
        // SAFETY: the kernel's table maps the kernel 1:1, as Bare mode and every user space do,
        // so the code, stack and data in use keep their addresses.
        unsafe { asm!("csrw satp, {0}", "sfence.vma", in(reg) satp, options(nostack)) };
    }
}

/// `copyGlobalMappings`: gives the VSpace root (a root page table the capability kernel made
/// from untyped memory, zeroed) the kernel's entries for the first 4 GiB (global, kernel-only),
/// as every user space has them.
pub fn copy_global_mappings(root: u64) {
    let kernel_root = (&raw const KERNEL_ROOT) as u64;
    for gib in 0..KERNEL_GIGAPAGES {
        let pte = read_pte(kernel_root, gib);
        write_pte(root, gib, if pte & PTE_V != 0 { pte } else { leaf(gib << 30) });
    }
}

/// Drops cached translations after a user mapping changed (`sfence.vma` for the address, or
/// all).
pub fn flush_user(_root: u64, vaddr: Option<u64>) {
    // SAFETY: a fence only drops cached translations.
    unsafe {
        match vaddr {
            Some(va) => asm!("sfence.vma {0}, zero", in(reg) va, options(nostack)),
            None => asm!("sfence.vma", options(nostack)),
        }
    }
}
