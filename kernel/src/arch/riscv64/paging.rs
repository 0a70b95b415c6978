//! Sv39 address spaces. The kernel itself runs untranslated (satp = Bare), so physical
//! addresses are kernel addresses.
//!
//! A user space's root table maps the first 4 GiB 1:1 with global, kernel-only gigapages (the
//! kernel's code, data, stacks and devices stay reachable after a trap from U-mode) and user
//! pages from [`USER_BASE`].

use core::arch::asm;

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

/// The kernel address of physical address `phys` (the same: translation is off).
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
    /// A new address space with the kernel's 1:1 gigapages and an empty user area.
    ///
    /// `frame` is a fresh, zeroed, exclusively owned 4 KiB frame for the root table.
    pub fn new_user(frame: u64) -> Self {
        zero_frame(frame);
        for gib in 0..KERNEL_GIGAPAGES {
            let pte = ((gib << 30) >> 12 << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D;
            write_pte(frame, gib, pte);
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
                zero_frame(next);
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

    /// Switches to this address space (the kernel stays mapped 1:1).
    pub fn activate(&self) {
        let satp = SATP_SV39 | (self.root >> 12);
        // SAFETY: the root maps the first 4 GiB 1:1, so the code, stack and data in use keep
        // their addresses; the fence drops stale translations.
        unsafe { asm!("csrw satp, {0}", "sfence.vma", in(reg) satp, options(nostack)) };
    }

    /// Switches to the address space whose root page table is at physical address `root`: a
    /// VSpace the capability kernel built from seL4 objects, with the kernel's gigapages copied
    /// in when it got an ASID (`copyGlobalMappings`).
    pub fn activate_root(root: u64) {
        let satp = SATP_SV39 | (root >> 12);
        // SAFETY: such a root maps the first 4 GiB 1:1 like every user space, so the code, stack
        // and data in use keep their addresses; the fence drops stale translations.
        unsafe { asm!("csrw satp, {0}", "sfence.vma", in(reg) satp, options(nostack)) };
    }

    /// Switches back to untranslated kernel addressing.
    pub fn activate_kernel() {
        // SAFETY: Bare mode: addresses are physical, which is how the kernel is linked.
        unsafe { asm!("csrw satp, zero", "sfence.vma", options(nostack)) };
    }
}

/// Fills the physical frame `frame` with zeros.
pub fn zero_frame(frame: u64) {
    assert!(frame.is_multiple_of(PAGE_SIZE), "unaligned frame {frame:#x}");
    // SAFETY: the caller owns the frame (fresh from the frame allocator), PAGE_SIZE bytes, 1:1.
    unsafe { core::ptr::write_bytes(phys_to_virt(frame), 0, PAGE_SIZE as usize) };
}

/// Copies `bytes` into the physical frame `frame` at `offset`.
pub fn copy_to_frame(frame: u64, offset: usize, bytes: &[u8]) {
    assert!(
        frame.is_multiple_of(PAGE_SIZE) && offset + bytes.len() <= PAGE_SIZE as usize,
        "copy past the frame"
    );
    // SAFETY: the caller owns the frame; the range is inside it (checked above), and `bytes` is
    // kernel data that cannot overlap a frame owned by a user space being built.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), phys_to_virt(frame).add(offset), bytes.len()) };
}

/// Copies bytes out of the physical frame `frame` at `offset` into `out`.
pub fn copy_from_frame(frame: u64, offset: usize, out: &mut [u8]) {
    assert!(
        frame.is_multiple_of(PAGE_SIZE) && offset + out.len() <= PAGE_SIZE as usize,
        "copy past the frame"
    );
    // SAFETY: the frame is one the caller owns (a user thread's), mapped by 1:1; the range is
    // inside it (checked above) and cannot overlap `out`, which is kernel memory.
    unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(frame).add(offset), out.as_mut_ptr(), out.len()) };
}
