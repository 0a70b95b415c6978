//! The arch flavour of the kernel state: which seL4 object-type numbers and arch invocation
//! labels a request uses, the user address range, and the paging geometry.
//!
//! Numbers (non-MCS, uniprocessor, no IOMMU, no VT-x, no hardware debug API; computed from
//! seL4's `libsel4` object-type headers and interface XML):
//!
//! | | x86_64 (`CONFIG_HUGE_PAGE`) | riscv64 (Sv39) |
//! |---|---|---|
//! | generic types | 0..=4 | 0..=4 |
//! | 5 | `seL4_X86_PDPTObject` | `seL4_RISCV_Giga_Page` (1 GiB) |
//! | 6 | `seL4_X64_PML4Object` | `seL4_RISCV_4K_Page` |
//! | 7 | `seL4_X64_HugePageObject` (1 GiB) | `seL4_RISCV_Mega_Page` (2 MiB) |
//! | 8 | `seL4_X86_4K` | `seL4_RISCV_PageTableObject` |
//! | 9 | `seL4_X86_LargePageObject` (2 MiB) | (count) |
//! | 10 | `seL4_X86_PageTableObject` | |
//! | 11 | `seL4_X86_PageDirectoryObject` | |
//! | count | 12 | 9 |
//!
//! Invocation labels: the generic ones end at `DomainScheduleSetStart` = 32
//! (`nInvocationLabels` = 33). x86_64: `X86PDPTMap` 33, `X86PDPTUnmap` 34,
//! `X86PageDirectoryMap` 35, `X86PageDirectoryUnmap` 36, `X86PageTableMap` 37,
//! `X86PageTableUnmap` 38, `X86PageMap` 39, `X86PageUnmap` 40, `X86PageGetAddress` 41,
//! `X86ASIDControlMakePool` 42, `X86ASIDPoolAssign` 43. riscv64: `RISCVPageTableMap` 33,
//! `RISCVPageTableUnmap` 34, `RISCVPageMap` 35, `RISCVPageUnmap` 36, `RISCVPageGetAddress` 37,
//! `RISCVASIDControlMakePool` 38, `RISCVASIDPoolAssign` 39.

use crate::cap::{LARGE_PAGE_BITS, PAGE_BITS};

/// The architecture whose numbers and address layout the kernel state follows.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Arch {
    /// x86_64: 4-level paging, PML4 roots.
    #[default]
    X86_64,
    /// riscv64 Sv39: 3-level paging, every level a PageTable.
    Riscv64,
}

/// log2 of a huge (x86_64) or giga (riscv64) page: 1 GiB.
pub const HUGE_PAGE_BITS: u8 = 30;
/// log2 of a paging structure's size (every level, both arches): 4 KiB.
pub const PAGE_TABLE_BITS: u8 = 12;
/// log2 of an ASID pool's size (`seL4_ASIDPoolBits`).
pub const ASID_POOL_BITS: u8 = 12;
/// log2 of the entries in one ASID pool (`asidLowBits`, both arches).
pub const ASID_LOW_BITS: u64 = 9;
/// Index bits of one paging level (512 entries).
pub const PT_INDEX_BITS: u64 = 9;

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

/// x86_64 object-type numbers.
pub mod x86_64_type {
    /// `seL4_X86_PDPTObject`.
    pub const PDPT: u64 = 5;
    /// `seL4_X64_PML4Object`.
    pub const PML4: u64 = 6;
    /// `seL4_X64_HugePageObject`.
    pub const HUGE_PAGE: u64 = 7;
    /// `seL4_X86_4K`.
    pub const SMALL_PAGE: u64 = 8;
    /// `seL4_X86_LargePageObject`.
    pub const LARGE_PAGE: u64 = 9;
    /// `seL4_X86_PageTableObject`.
    pub const PAGE_TABLE: u64 = 10;
    /// `seL4_X86_PageDirectoryObject`.
    pub const PAGE_DIRECTORY: u64 = 11;
    /// `seL4_ObjectTypeCount`.
    pub const COUNT: u64 = 12;
}

/// riscv64 object-type numbers.
pub mod riscv64_type {
    /// `seL4_RISCV_Giga_Page`.
    pub const GIGA_PAGE: u64 = 5;
    /// `seL4_RISCV_4K_Page`.
    pub const SMALL_PAGE: u64 = 6;
    /// `seL4_RISCV_Mega_Page`.
    pub const MEGA_PAGE: u64 = 7;
    /// `seL4_RISCV_PageTableObject`.
    pub const PAGE_TABLE: u64 = 8;
    /// `seL4_ObjectTypeCount`.
    pub const COUNT: u64 = 9;
}

/// x86_64 arch invocation labels.
pub mod x86_64_label {
    /// `X86PDPTMap`.
    pub const PDPT_MAP: u64 = 33;
    /// `X86PDPTUnmap`.
    pub const PDPT_UNMAP: u64 = 34;
    /// `X86PageDirectoryMap`.
    pub const PAGE_DIRECTORY_MAP: u64 = 35;
    /// `X86PageDirectoryUnmap`.
    pub const PAGE_DIRECTORY_UNMAP: u64 = 36;
    /// `X86PageTableMap`.
    pub const PAGE_TABLE_MAP: u64 = 37;
    /// `X86PageTableUnmap`.
    pub const PAGE_TABLE_UNMAP: u64 = 38;
    /// `X86PageMap`.
    pub const PAGE_MAP: u64 = 39;
    /// `X86PageUnmap`.
    pub const PAGE_UNMAP: u64 = 40;
    /// `X86PageGetAddress`.
    pub const PAGE_GET_ADDRESS: u64 = 41;
    /// `X86ASIDControlMakePool`.
    pub const ASID_CONTROL_MAKE_POOL: u64 = 42;
    /// `X86ASIDPoolAssign`.
    pub const ASID_POOL_ASSIGN: u64 = 43;
}

/// riscv64 arch invocation labels.
pub mod riscv64_label {
    /// `RISCVPageTableMap`.
    pub const PAGE_TABLE_MAP: u64 = 33;
    /// `RISCVPageTableUnmap`.
    pub const PAGE_TABLE_UNMAP: u64 = 34;
    /// `RISCVPageMap`.
    pub const PAGE_MAP: u64 = 35;
    /// `RISCVPageUnmap`.
    pub const PAGE_UNMAP: u64 = 36;
    /// `RISCVPageGetAddress`.
    pub const PAGE_GET_ADDRESS: u64 = 37;
    /// `RISCVASIDControlMakePool`.
    pub const ASID_CONTROL_MAKE_POOL: u64 = 38;
    /// `RISCVASIDPoolAssign`.
    pub const ASID_POOL_ASSIGN: u64 = 39;
}

/// The labels of the invocations that differ only in number between the arches.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ArchLabels {
    /// Page Map.
    pub page_map: u64,
    /// Page Unmap.
    pub page_unmap: u64,
    /// Page GetAddress.
    pub page_get_address: u64,
    /// ASIDControl MakePool.
    pub asid_control_make_pool: u64,
    /// ASIDPool Assign.
    pub asid_pool_assign: u64,
}

impl Arch {
    /// `seL4_ObjectTypeCount`.
    pub const fn object_type_count(self) -> u64 {
        match self {
            Arch::X86_64 => x86_64_type::COUNT,
            Arch::Riscv64 => riscv64_type::COUNT,
        }
    }

    /// What object-type number `ty` makes (`None`: not a type on this arch).
    pub const fn object_kind(self, ty: u64) -> Option<ObjectKind> {
        if ty <= 4 {
            return Some(ObjectKind::Generic(ty));
        }
        Some(match self {
            Arch::X86_64 => match ty {
                x86_64_type::PDPT => ObjectKind::PageTable(PtKind::Pdpt),
                x86_64_type::PML4 => ObjectKind::PageTable(PtKind::Pml4),
                x86_64_type::HUGE_PAGE => ObjectKind::Frame(HUGE_PAGE_BITS),
                x86_64_type::SMALL_PAGE => ObjectKind::Frame(PAGE_BITS),
                x86_64_type::LARGE_PAGE => ObjectKind::Frame(LARGE_PAGE_BITS),
                x86_64_type::PAGE_TABLE => ObjectKind::PageTable(PtKind::PageTable),
                x86_64_type::PAGE_DIRECTORY => ObjectKind::PageTable(PtKind::PageDirectory),
                _ => return None,
            },
            Arch::Riscv64 => match ty {
                riscv64_type::GIGA_PAGE => ObjectKind::Frame(HUGE_PAGE_BITS),
                riscv64_type::SMALL_PAGE => ObjectKind::Frame(PAGE_BITS),
                riscv64_type::MEGA_PAGE => ObjectKind::Frame(LARGE_PAGE_BITS),
                riscv64_type::PAGE_TABLE => ObjectKind::PageTable(PtKind::Riscv),
                _ => return None,
            },
        })
    }

    /// The object-type number of a frame of 2^bits bytes on this arch.
    pub const fn frame_type(self, bits: u8) -> u64 {
        match (self, bits) {
            (Arch::X86_64, PAGE_BITS) => x86_64_type::SMALL_PAGE,
            (Arch::X86_64, LARGE_PAGE_BITS) => x86_64_type::LARGE_PAGE,
            (Arch::X86_64, _) => x86_64_type::HUGE_PAGE,
            (Arch::Riscv64, PAGE_BITS) => riscv64_type::SMALL_PAGE,
            (Arch::Riscv64, LARGE_PAGE_BITS) => riscv64_type::MEGA_PAGE,
            (Arch::Riscv64, _) => riscv64_type::GIGA_PAGE,
        }
    }

    /// The page, ASID labels of this arch.
    pub const fn labels(self) -> ArchLabels {
        match self {
            Arch::X86_64 => ArchLabels {
                page_map: x86_64_label::PAGE_MAP,
                page_unmap: x86_64_label::PAGE_UNMAP,
                page_get_address: x86_64_label::PAGE_GET_ADDRESS,
                asid_control_make_pool: x86_64_label::ASID_CONTROL_MAKE_POOL,
                asid_pool_assign: x86_64_label::ASID_POOL_ASSIGN,
            },
            Arch::Riscv64 => ArchLabels {
                page_map: riscv64_label::PAGE_MAP,
                page_unmap: riscv64_label::PAGE_UNMAP,
                page_get_address: riscv64_label::PAGE_GET_ADDRESS,
                asid_control_make_pool: riscv64_label::ASID_CONTROL_MAKE_POOL,
                asid_pool_assign: riscv64_label::ASID_POOL_ASSIGN,
            },
        }
    }

    /// The level of a VSpace root (x86_64 PML4: 3, riscv64 Sv39: 2).
    pub const fn root_level(self) -> u8 {
        match self {
            Arch::X86_64 => 3,
            Arch::Riscv64 => 2,
        }
    }

    /// The kind of a VSpace root cap.
    pub const fn root_kind(self) -> PtKind {
        match self {
            Arch::X86_64 => PtKind::Pml4,
            Arch::Riscv64 => PtKind::Riscv,
        }
    }

    /// The lowest user virtual address (riscv64: root entries 0..3 are the kernel's 1:1
    /// gigapages).
    pub const fn user_base(self) -> u64 {
        match self {
            Arch::X86_64 => 0,
            Arch::Riscv64 => 0x1_0000_0000,
        }
    }

    /// seL4's `USER_TOP`: x86_64's last user address (inclusive), riscv64's first address above
    /// user space (exclusive), as each arch's decode compares it.
    pub const fn user_top(self) -> u64 {
        match self {
            Arch::X86_64 => 0x7fff_ffff_ffff,
            Arch::Riscv64 => 0x40_0000_0000,
        }
    }

    /// The number of ASID pools (`nASIDPools` = 2^`asidHighBits`).
    pub const fn asid_pools(self) -> u64 {
        match self {
            Arch::X86_64 => 1 << 3,
            Arch::Riscv64 => 1 << 7,
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
