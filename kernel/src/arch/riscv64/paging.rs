//! Sv39 address spaces. The kernel lives in the upper half, as seL4's does on riscv64: its image
//! is linked at [`KERNEL_VIRT_BASE`] + 2 MiB and loaded at [`KERNEL_PHYS_BASE`] + 2 MiB, and
//! physical memory (RAM and the devices, 0 to [`PHYS_WINDOW_SIZE`]) is reached through a window
//! at [`PHYS_WINDOW`] (seL4's `PPTR_BASE`), so `phys_to_virt(p)` is `PHYS_WINDOW + p`. The lower
//! half (root entries 0..256) holds no kernel mapping: it is all user space.
//!
//! The kernel's root table, [`KERNEL_ROOT`], is built at compile time: gigapages for the window
//! (root entries 256..256 + 16) and for the GiB holding the image (root entry 510), global and
//! kernel-only, plus one lower-half gigapage mapping that GiB 1:1, which the entry code
//! (`boot`) needs only while it turns translation on and jumps to the image's upper-half
//! address, and then removes. [`init_kernel_space`] then maps the image's GiB through a level-1
//! table of 2 MiB pages, except the 2 MiB holding the kernel stack's guard page, which goes
//! through a level-0 table of 4 KiB pages with the guard's entry invalid, so that a stack
//! overflow faults. Every user space's root shares the kernel's root entries 256..512
//! ([`copy_global_mappings`]), so traps from U-mode land in mapped code, and maps user pages
//! anywhere below [`USER_END`].

use core::arch::asm;

/// The size of a page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;
/// Where the kernel's own test programs and the script runner are mapped: 64 GiB (any address
/// below [`USER_END`] is a user address).
#[cfg(feature = "qemu-test")]
pub const USER_BASE: u64 = 0x0000_0010_0000_0000;
/// The end (exclusive) of the user area: the top of Sv39's lower half.
pub const USER_END: u64 = 0x0000_0040_0000_0000;

/// Where physical address 0 appears in the kernel's address space (seL4's `PPTR_BASE`): the
/// first upper-half address of Sv39, root entry 256.
pub const PHYS_WINDOW: u64 = 0xffff_ffc0_0000_0000;
/// How much physical memory the window maps (16 GiB of gigapages: the devices below 2 GiB and
/// RAM from 2 GiB, up to 14 GiB of it).
pub const PHYS_WINDOW_SIZE: u64 = WINDOW_GIGAPAGES << 30;
/// The GiB of the kernel's image (seL4's `KERNEL_ELF_BASE` less the image's offset in its
/// GiB); `linker.ld` links the image at this + 2 MiB.
pub const KERNEL_VIRT_BASE: u64 = 0xffff_ffff_8000_0000;
/// The GiB of RAM the image is loaded in (OpenSBI jumps to this + 2 MiB); `linker.ld` loads
/// the image there.
pub const KERNEL_PHYS_BASE: u64 = 0x8000_0000;
/// What to subtract from a kernel image address to get its physical address.
pub const KERNEL_IMAGE_OFFSET: u64 = KERNEL_VIRT_BASE - KERNEL_PHYS_BASE;
/// The first root entry of the kernel's (upper) half: every user root gets 256..512 from the
/// kernel's root.
const KERNEL_ROOT_FIRST: usize = 256;

const PTE_V: u64 = 1 << 0;
const PTE_R: u64 = 1 << 1;
const PTE_W: u64 = 1 << 2;
const PTE_X: u64 = 1 << 3;
#[cfg(feature = "qemu-test")]
const PTE_U: u64 = 1 << 4;
const PTE_G: u64 = 1 << 5;
const PTE_A: u64 = 1 << 6;
const PTE_D: u64 = 1 << 7;
/// GiB pages the physical window has.
const WINDOW_GIGAPAGES: u64 = 16;
/// The satp mode field for Sv39.
pub const SATP_SV39: u64 = 8 << 60;
/// A kernel leaf: readable, writable, executable, global, accessed and dirty (no U).
const KERNEL_LEAF: u64 = PTE_V | PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D;

/// The root entry of a virtual address (its bits 30..39).
const fn root_index(va: u64) -> usize {
    ((va >> 30) & 0x1ff) as usize
}

/// The root entry of the window's first GiB.
const WINDOW_ROOT: usize = root_index(PHYS_WINDOW);
/// The root entry of the image's GiB.
const IMAGE_ROOT: usize = root_index(KERNEL_VIRT_BASE);
/// The lower-half root entry that maps the image's GiB 1:1 while the entry code turns
/// translation on (its physical GiB number).
pub const BOOT_IDENTITY_ROOT: usize = root_index(KERNEL_PHYS_BASE);
const _: () =
    assert!(WINDOW_ROOT == KERNEL_ROOT_FIRST && WINDOW_ROOT + WINDOW_GIGAPAGES as usize <= IMAGE_ROOT);
const _: () = assert!(BOOT_IDENTITY_ROOT < KERNEL_ROOT_FIRST && KERNEL_IMAGE_OFFSET.is_multiple_of(1 << 30));

/// A page-table page of the kernel's own table.
#[repr(C, align(4096))]
pub(super) struct Table([u64; 512]);

/// The kernel's root table: the window, the image's GiB and the entry code's 1:1 gigapage (see
/// the module comment); the entry code turns translation on with it.
pub(super) static mut KERNEL_ROOT: Table = boot_root();
/// The level-1 table of the image's GiB and the level-0 table of the guard's 2 MiB.
static mut KERNEL_L1: Table = Table([0; 512]);
static mut KERNEL_L0: Table = Table([0; 512]);

const fn leaf(phys: u64) -> u64 {
    ((phys >> 12) << 10) | KERNEL_LEAF
}

fn pointer(table: u64) -> u64 {
    ((table >> 12) << 10) | PTE_V | PTE_G
}

/// The kernel's root as the entry code turns translation on with it.
const fn boot_root() -> Table {
    let mut t = [0; 512];
    let mut gib = 0;
    while gib < WINDOW_GIGAPAGES {
        t[WINDOW_ROOT + gib as usize] = leaf(gib << 30);
        gib += 1;
    }
    t[IMAGE_ROOT] = leaf(KERNEL_PHYS_BASE);
    t[BOOT_IDENTITY_ROOT] = leaf(KERNEL_PHYS_BASE);
    Table(t)
}

/// The physical address of `va`, an address in the kernel's image (its code and statics).
pub fn kernel_image_phys(va: u64) -> u64 {
    debug_assert!(va >= KERNEL_VIRT_BASE, "not a kernel image address: {va:#x}");
    va - KERNEL_IMAGE_OFFSET
}

/// The physical address of the kernel's root table.
fn kernel_root() -> u64 {
    kernel_image_phys((&raw const KERNEL_ROOT) as u64)
}

/// Maps the image's GiB through 2 MiB and 4 KiB pages with the page at `guard` (a kernel image
/// address) invalid; call once, before the first user space is made.
pub fn init_kernel_space(guard: u64) {
    let (l1, l0) =
        (kernel_image_phys((&raw const KERNEL_L1) as u64), kernel_image_phys((&raw const KERNEL_L0) as u64));
    let guard = kernel_image_phys(guard);
    assert!(
        guard.is_multiple_of(PAGE_SIZE) && guard >> 30 == KERNEL_PHYS_BASE >> 30,
        "bad stack guard {guard:#x}"
    );
    let mib2 = guard >> 21;
    for i in 0..512 {
        write_pte(l0, i, leaf((mib2 << 21) + (i << 12)));
        write_pte(l1, i, leaf(KERNEL_PHYS_BASE + (i << 21)));
    }
    write_pte(l0, (guard >> 12) & 0x1ff, 0);
    write_pte(l1, mib2 & 0x1ff, pointer(l0));
    write_pte(kernel_root(), IMAGE_ROOT as u64, pointer(l1));
    // SAFETY: the new entry maps the image's GiB to the same physical memory as the gigapage it
    // replaces, but for the guard page, which nothing uses; the fence drops stale translations.
    unsafe { asm!("sfence.vma", options(nostack)) };
}

/// How many of the kernel's root entries in the lower half are valid (0: the lower half is all
/// user space), for the QEMU tests.
#[cfg(feature = "qemu-test")]
pub fn kernel_lower_half_entries() -> usize {
    let root = kernel_root();
    (0..KERNEL_ROOT_FIRST as u64).filter(|&i| read_pte(root, i) & PTE_V != 0).count()
}

/// The kernel address of physical address `phys` (in the window; `phys` must be below
/// [`PHYS_WINDOW_SIZE`]).
pub fn phys_to_virt(phys: u64) -> *mut u8 {
    debug_assert!(phys < PHYS_WINDOW_SIZE, "{phys:#x} is outside the physical window");
    (PHYS_WINDOW + phys) as *mut u8
}

/// Why a mapping failed.
#[cfg(feature = "qemu-test")]
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
    #[cfg(feature = "qemu-test")]
    /// A new address space with the kernel's mappings (its root entries 256..512, shared) and
    /// an empty user area.
    ///
    /// `frame` is a fresh, zeroed, exclusively owned 4 KiB frame for the root table.
    pub fn new_user(frame: u64) -> Self {
        crate::arch::zero_frame(frame);
        copy_global_mappings(frame);
        AddressSpace { root: frame }
    }

    #[cfg(feature = "qemu-test")]
    /// Maps the user page at `va` to `frame`, user-accessible, writable and/or executable.
    pub fn map_user(
        &mut self,
        va: u64,
        frame: u64,
        writable: bool,
        executable: bool,
        alloc: &mut dyn FnMut() -> Option<u64>,
    ) -> Result<(), MapError> {
        if va >= USER_END || !va.is_multiple_of(PAGE_SIZE) || !frame.is_multiple_of(PAGE_SIZE) {
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
        // SAFETY: such a root shares the kernel's upper-half entries, so the code, stack and data
        // in use keep their addresses; the fence drops stale translations.
        unsafe { asm!("csrw satp, {0}", "sfence.vma", in(reg) satp, options(nostack)) };
    }

    /// Switches back to the kernel's own table.
    pub fn activate_kernel() {
        let satp = SATP_SV39 | (kernel_root() >> 12);
        // SAFETY: the kernel's table holds the upper-half entries every user space shares, so
        // the code, stack and data in use keep their addresses; the fence drops stale
        // translations.
        unsafe { asm!("csrw satp, {0}", "sfence.vma", in(reg) satp, options(nostack)) };
    }
}

/// `copyGlobalMappings`: gives the VSpace root at physical address `root` (a root page table
/// the capability kernel made from untyped memory, or [`AddressSpace::new_user`]'s) the
/// kernel's root entries 256..512 (the window and the image: global, kernel-only), as every
/// user space has them. The lower half, the user's, is left as it is.
pub fn copy_global_mappings(root: u64) {
    let kernel_root = kernel_root();
    for i in KERNEL_ROOT_FIRST as u64..512 {
        write_pte(root, i, read_pte(kernel_root, i));
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
