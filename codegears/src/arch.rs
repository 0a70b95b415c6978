//! The arch flavour of the kernel state: what the arch's object-type numbers make, the user
//! address range, and the paging geometry. The numbers themselves are the `abi` crate's
//! ([`abi::x86_64`], [`abi::riscv64`]); [`Arch`] is `abi::Arch`, which [`ArchExt`] gives the
//! kernel's questions about it.

pub use abi::Arch;

use crate::cap::{LARGE_PAGE_BITS, PAGE_BITS};

/// log2 of a huge (x86_64) or giga (riscv64) page: 1 GiB.
pub const HUGE_PAGE_BITS: u8 = abi::object::bits::HUGE_PAGE;
/// log2 of a paging structure's size (every level, both arches): 4 KiB.
pub const PAGE_TABLE_BITS: u8 = abi::object::bits::PAGE_TABLE;
/// log2 of an ASID pool's size (`seL4_ASIDPoolBits`).
pub const ASID_POOL_BITS: u8 = abi::object::bits::ASID_POOL;
/// log2 of the entries in one ASID pool (`asidLowBits`, both arches).
pub const ASID_LOW_BITS: u64 = abi::object::bits::ASID_POOL_INDEX as u64;
/// Index bits of one paging level (512 entries).
pub const PT_INDEX_BITS: u64 = abi::object::bits::PAGE_TABLE_INDEX as u64;

/// What kind of paging structure a `PageTable` cap names. x86_64 has one kind per level;
/// riscv64 has one kind for every level (its level is where it is mapped).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PtKind {
    /// x86_64 `cap_pml4_cap`: a VSpace root (level 3).
    Pml4,
    /// x86_64 `cap_pdpt_cap` (level 2).
    Pdpt,
    /// x86_64 `cap_page_directory_cap` (level 1).
    PageDirectory,
    /// x86_64 `cap_page_table_cap` (level 0).
    PageTable,
    /// riscv64 `cap_page_table_cap`, any level (the root too).
    Riscv,
}

impl PtKind {
    /// The level of an x86_64 structure of this kind (3 = PML4 … 0 = page table); `None` on
    /// riscv64, where it depends on where the table is mapped.
    pub const fn x86_level(self) -> Option<u8> {
        match self {
            PtKind::Pml4 => Some(3),
            PtKind::Pdpt => Some(2),
            PtKind::PageDirectory => Some(1),
            PtKind::PageTable => Some(0),
            PtKind::Riscv => None,
        }
    }
}

/// What an object-type number makes on this arch.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ObjectKind {
    /// One of the generic types (0..=4).
    Generic(u64),
    /// A frame of 2^bits bytes.
    Frame(u8),
    /// A paging structure.
    PageTable(PtKind),
}

/// The kernel's questions about an arch: what an object-type number makes, and where user
/// space ends and the VSpace root is (user space starts at 0 on both: the kernel lives in the
/// upper half).
pub trait ArchExt {
    /// What object-type number `ty` makes (`None`: not a type on this arch).
    fn object_kind(self, ty: u64) -> Option<ObjectKind>;
    /// The level of a VSpace root (x86_64 PML4: 3, riscv64 Sv39: 2).
    fn root_level(self) -> u8;
    /// The kind of a VSpace root cap.
    fn root_kind(self) -> PtKind;
    /// seL4's `USER_TOP` as each arch's decode compares it: x86_64's last user address
    /// (inclusive), riscv64's first address above user space (exclusive).
    fn user_top(self) -> u64;
}

impl ArchExt for Arch {
    fn object_kind(self, ty: u64) -> Option<ObjectKind> {
        if ty < abi::object::GENERIC_COUNT {
            return Some(ObjectKind::Generic(ty));
        }
        Some(match self {
            Arch::X86_64 => {
                use abi::x86_64::object as t;
                match ty {
                    t::PDPT => ObjectKind::PageTable(PtKind::Pdpt),
                    t::PML4 => ObjectKind::PageTable(PtKind::Pml4),
                    t::HUGE_PAGE => ObjectKind::Frame(HUGE_PAGE_BITS),
                    t::SMALL_PAGE => ObjectKind::Frame(PAGE_BITS),
                    t::LARGE_PAGE => ObjectKind::Frame(LARGE_PAGE_BITS),
                    t::PAGE_TABLE => ObjectKind::PageTable(PtKind::PageTable),
                    t::PAGE_DIRECTORY => ObjectKind::PageTable(PtKind::PageDirectory),
                    _ => return None,
                }
            }
            Arch::Riscv64 => {
                use abi::riscv64::object as t;
                match ty {
                    t::GIGA_PAGE => ObjectKind::Frame(HUGE_PAGE_BITS),
                    t::SMALL_PAGE => ObjectKind::Frame(PAGE_BITS),
                    t::MEGA_PAGE => ObjectKind::Frame(LARGE_PAGE_BITS),
                    t::PAGE_TABLE => ObjectKind::PageTable(PtKind::Riscv),
                    _ => return None,
                }
            }
        })
    }

    fn root_level(self) -> u8 {
        match self {
            Arch::X86_64 => 3,
            Arch::Riscv64 => 2,
        }
    }

    fn root_kind(self) -> PtKind {
        match self {
            Arch::X86_64 => PtKind::Pml4,
            Arch::Riscv64 => PtKind::Riscv,
        }
    }

    fn user_top(self) -> u64 {
        match self {
            Arch::X86_64 => abi::x86_64::KERNEL_USER_TOP,
            Arch::Riscv64 => abi::riscv64::USER_TOP,
        }
    }
}

/// log2 of the bytes one entry of a level-`level` structure maps (12, 21, 30, 39).
pub const fn level_bits(level: u8) -> u64 {
    PAGE_BITS as u64 + PT_INDEX_BITS * level as u64
}

/// The index of `vaddr` in a level-`level` structure.
pub const fn level_index(vaddr: u64, level: u8) -> u16 {
    ((vaddr >> level_bits(level)) & ((1 << PT_INDEX_BITS) - 1)) as u16
}

/// The level whose entries map pages of 2^bits bytes.
pub const fn page_level(bits: u8) -> u8 {
    ((bits as u64 - PAGE_BITS as u64) / PT_INDEX_BITS) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_sel4_headers() {
        assert_eq!(Arch::X86_64.object_kind(8), Some(ObjectKind::Frame(PAGE_BITS)));
        assert_eq!(Arch::X86_64.object_kind(6), Some(ObjectKind::PageTable(PtKind::Pml4)));
        assert_eq!(Arch::X86_64.object_kind(12), None);
        assert_eq!(Arch::Riscv64.object_kind(8), Some(ObjectKind::PageTable(PtKind::Riscv)));
        assert_eq!(Arch::Riscv64.object_kind(9), None);
        assert_eq!(Arch::Riscv64.object_kind(3), Some(ObjectKind::Generic(3)));
        for arch in [Arch::X86_64, Arch::Riscv64] {
            for bits in [PAGE_BITS, LARGE_PAGE_BITS, HUGE_PAGE_BITS] {
                assert_eq!(arch.object_kind(arch.frame_type(bits)), Some(ObjectKind::Frame(bits)));
            }
        }
    }

    #[test]
    fn levels_index_the_address() {
        let v = 0x10_0020_3000;
        assert_eq!([3, 2, 1, 0].map(|l| level_index(v, l)), [0, 64, 1, 3]);
        assert_eq!([PAGE_BITS, LARGE_PAGE_BITS, HUGE_PAGE_BITS].map(page_level), [0, 1, 2]);
        assert_eq!(level_bits(3), 39);
    }
}
