//! seL4's paging objects and labels per arch, and the paging structures down to a page: what
//! the demo's loader and the fuzzer both build address spaces from.

use crate::sel4::call;

use abi::bootinfo::CAP_INIT_THREAD_CNODE as ROOT;
use abi::label::untyped::RETYPE as UNTYPED_RETYPE;

/// Default VM attributes (cached, executable).
pub const ATTR: u64 = 0;
/// A small page's size.
pub const PAGE: u64 = 1 << abi::object::bits::PAGE;

/// seL4's x86_64 paging objects and labels (non-MCS, no IOMMU, no VT-x).
#[cfg(target_arch = "x86_64")]
mod arch {
    use abi::x86_64::{label, object};

    /// `seL4_X64_PML4Object`.
    pub const ROOT_TYPE: u64 = object::PML4;
    /// The structures below the root, top down: (object type, its Map label): PDPT, PageDirectory,
    /// PageTable.
    pub const LEVELS: [(u64, u64); 3] = [
        (object::PDPT, label::PDPT_MAP),
        (object::PAGE_DIRECTORY, label::PAGE_DIRECTORY_MAP),
        (object::PAGE_TABLE, label::PAGE_TABLE_MAP),
    ];
    /// `seL4_X86_4K`, `X86PageMap`, `X86PageUnmap`, `X86ASIDPoolAssign`.
    pub const PAGE_TYPE: u64 = object::SMALL_PAGE;
    pub const PAGE_MAP: u64 = label::PAGE_MAP;
    pub const PAGE_UNMAP: u64 = label::PAGE_UNMAP;
    pub const ASID_POOL_ASSIGN: u64 = label::ASID_POOL_ASSIGN;
    /// The user base (PML4 slot 1), and where the root task maps pages it fills (slot 2).
    pub const USER_BASE: u64 = 0x0000_0080_0000_0000;
    pub const SCRATCH: u64 = 0x0000_0100_0000_0000;
    /// `seL4_DebugCapIdentify`'s tags of the VSpace root and the structures below it.
    pub const ROOT_TAG: u64 = abi::cap_type::x86_64::PML4;
    pub const PDPT_TAG: u64 = abi::cap_type::x86_64::PDPT;
    pub const PD_TAG: u64 = abi::cap_type::x86_64::PAGE_DIRECTORY;
}

/// seL4's RISC-V (Sv39) paging objects and labels (non-MCS).
#[cfg(target_arch = "riscv64")]
mod arch {
    use abi::riscv64::{label, object};

    /// `seL4_RISCV_PageTableObject` (the root is a page table too).
    pub const ROOT_TYPE: u64 = object::PAGE_TABLE;
    /// The page tables below the root, top down: (object type, `RISCVPageTableMap`).
    pub const LEVELS: [(u64, u64); 2] =
        [(object::PAGE_TABLE, label::PAGE_TABLE_MAP), (object::PAGE_TABLE, label::PAGE_TABLE_MAP)];
    /// `seL4_RISCV_4K_Page`, `RISCVPageMap`, `RISCVPageUnmap`, `RISCVASIDPoolAssign`.
    pub const PAGE_TYPE: u64 = object::SMALL_PAGE;
    pub const PAGE_MAP: u64 = label::PAGE_MAP;
    pub const PAGE_UNMAP: u64 = label::PAGE_UNMAP;
    pub const ASID_POOL_ASSIGN: u64 = label::ASID_POOL_ASSIGN;
    /// The user base (root entry 64), and where the root task maps pages it fills (entry 65).
    pub const USER_BASE: u64 = 0x0000_0010_0000_0000;
    pub const SCRATCH: u64 = 0x0000_0010_4000_0000;
    /// `seL4_DebugCapIdentify`'s tags of the VSpace root and the tables below it (all page
    /// tables on riscv64).
    pub const ROOT_TAG: u64 = abi::cap_type::PAGE_TABLE;
    pub const PDPT_TAG: u64 = abi::cap_type::PAGE_TABLE;
    pub const PD_TAG: u64 = abi::cap_type::PAGE_TABLE;
}

pub use arch::*;

/// Hands out root CNode slots.
pub struct Slots(pub u64);

impl Slots {
    /// The next free slot.
    pub fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0 - 1
    }
}

/// Retypes the paging structures from `from` (a level index) down, from the untyped `ut` into
/// root CNode slots from `s`, and maps them in `vspace` to cover `vaddr`; whether all worked.
pub fn tables(ut: u64, s: &mut Slots, vspace: u64, vaddr: u64, from: usize) -> bool {
    let mut ok = true;
    for &(ty, map) in &LEVELS[from..] {
        let t = s.next();
        ok &= call(ut, UNTYPED_RETYPE, &[ty, 0, 0, 0, t, 1], &[ROOT]).ok();
        ok &= call(t, map, &[vaddr, ATTR], &[vspace]).ok();
    }
    ok
}
