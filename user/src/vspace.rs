//! Address spaces on the target arch: frames (Map, Unmap, GetAddress), the paging structures
//! below the VSpace root (Map, Unmap), ASIDControl MakePool and ASIDPool Assign.
//!
//! x86_64 has four levels (PML4 root, PDPT, PageDirectory, PageTable), riscv64 Sv39 three (page
//! tables all, the root included). Code that builds address spaces for either walks
//! [`LEVELS`]; [`map_frame`] makes whatever tables a mapping lacks:
//!
//! ```no_run
//! use gears_user::cap::{Frame, init_thread};
//! use gears_user::vspace::{self, VmAttributes};
//! use gears_user::{BootInfo, CapRights};
//! fn map_one(bi: &BootInfo, vaddr: u64) -> gears_user::Result<Frame> {
//!     let mut slots = bi.slot_allocator();
//!     let ut = bi.largest_ram_untyped().expect("boot gives RAM").cap;
//!     let frame: Frame = ut.create(&mut slots)?;
//!     let rw = CapRights::READ_WRITE;
//!     vspace::map_frame(frame, init_thread::VSPACE, vaddr, rw, VmAttributes::DEFAULT, ut, &mut slots)?;
//!     Ok(frame)
//! }
//! ```

use abi::CapRights;

use crate::cap::{AsidControl, AsidPool, Cap, Frame, Untyped, VSpace, kind};
use crate::cnode::Slot;
use crate::invoke::{invoke, invoke_unit};
use crate::slots::SlotAllocator;
use crate::untyped::{Object, ObjectType};
use crate::{CPtr, Error, Result};

/// log2 of a small page's size (4 KiB).
pub const PAGE_BITS: u32 = abi::object::bits::PAGE as u32;
/// A small page's size.
pub const PAGE_SIZE: u64 = 1 << PAGE_BITS;

#[cfg(not(target_arch = "riscv64"))]
mod arch {
    pub use abi::x86_64::label;
    pub use abi::x86_64::object as ty;
    /// `seL4_UserTop`.
    pub const USER_TOP: u64 = abi::x86_64::USER_TOP;
}

#[cfg(target_arch = "riscv64")]
mod arch {
    pub use abi::riscv64::label;
    pub use abi::riscv64::object as ty;
    /// `seL4_UserTop`.
    pub const USER_TOP: u64 = abi::riscv64::USER_TOP;
}

use arch::{label, ty};

/// The first address above user space (`seL4_UserTop`).
pub const USER_TOP: u64 = arch::USER_TOP;

/// The object types of frames and paging structures on the target arch.
pub mod object {
    use super::ty;
    use crate::untyped::ObjectType;

    /// A 4 KiB frame (`seL4_X86_4K`, `seL4_RISCV_4K_Page`).
    pub const SMALL_PAGE: ObjectType = ObjectType::new(ty::SMALL_PAGE, 0);
    /// A 2 MiB frame (`seL4_X86_LargePageObject`, `seL4_RISCV_Mega_Page`).
    #[cfg(not(target_arch = "riscv64"))]
    pub const LARGE_PAGE: ObjectType = ObjectType::new(ty::LARGE_PAGE, 0);
    /// A 2 MiB frame (`seL4_X86_LargePageObject`, `seL4_RISCV_Mega_Page`).
    #[cfg(target_arch = "riscv64")]
    pub const LARGE_PAGE: ObjectType = ObjectType::new(ty::MEGA_PAGE, 0);
    /// A 1 GiB frame (`seL4_X64_HugePageObject`, `seL4_RISCV_Giga_Page`).
    #[cfg(not(target_arch = "riscv64"))]
    pub const HUGE_PAGE: ObjectType = ObjectType::new(ty::HUGE_PAGE, 0);
    /// A 1 GiB frame (`seL4_X64_HugePageObject`, `seL4_RISCV_Giga_Page`).
    #[cfg(target_arch = "riscv64")]
    pub const HUGE_PAGE: ObjectType = ObjectType::new(ty::GIGA_PAGE, 0);
    /// A VSpace root (`seL4_X64_PML4Object`; riscv64's `seL4_RISCV_PageTableObject`).
    #[cfg(not(target_arch = "riscv64"))]
    pub const VSPACE_ROOT: ObjectType = ObjectType::new(ty::PML4, 0);
    /// A VSpace root (`seL4_X64_PML4Object`; riscv64's `seL4_RISCV_PageTableObject`).
    #[cfg(target_arch = "riscv64")]
    pub const VSPACE_ROOT: ObjectType = ObjectType::new(ty::PAGE_TABLE, 0);
    /// x86_64's `seL4_X86_PDPTObject`.
    #[cfg(not(target_arch = "riscv64"))]
    pub const PDPT: ObjectType = ObjectType::new(ty::PDPT, 0);
    /// x86_64's `seL4_X86_PageDirectoryObject`.
    #[cfg(not(target_arch = "riscv64"))]
    pub const PAGE_DIRECTORY: ObjectType = ObjectType::new(ty::PAGE_DIRECTORY, 0);
    /// A page table (`seL4_X86_PageTableObject`, `seL4_RISCV_PageTableObject`).
    pub const PAGE_TABLE: ObjectType = ObjectType::new(ty::PAGE_TABLE, 0);
}

/// Attributes of a mapping (`seL4_X86_VMAttributes`, `seL4_RISCV_VMAttributes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct VmAttributes(u64);

impl VmAttributes {
    /// The arch's default: cached (write-back), executable.
    pub const DEFAULT: VmAttributes = VmAttributes(0);

    /// The attributes word as given.
    pub const fn from_word(word: u64) -> VmAttributes {
        VmAttributes(word)
    }

    /// The word.
    pub const fn word(self) -> u64 {
        self.0
    }
}

impl Object for kind::Frame {
    const OBJECT: ObjectType = object::SMALL_PAGE;
}

#[cfg(not(target_arch = "riscv64"))]
impl Object for kind::Pml4 {
    const OBJECT: ObjectType = object::VSPACE_ROOT;
}

#[cfg(not(target_arch = "riscv64"))]
impl Object for kind::Pdpt {
    const OBJECT: ObjectType = object::PDPT;
}

#[cfg(not(target_arch = "riscv64"))]
impl Object for kind::PageDirectory {
    const OBJECT: ObjectType = object::PAGE_DIRECTORY;
}

impl Object for kind::PageTable {
    const OBJECT: ObjectType = object::PAGE_TABLE;
}

impl Frame {
    /// Page Map: the frame at `vaddr` in `vspace` with `rights` (read, write; masked by the
    /// cap's) and `attrs`. A missing paging structure on the way is `FailedLookup`; a page
    /// already there is `DeleteFirst`.
    pub fn map(self, vspace: VSpace, vaddr: u64, rights: CapRights, attrs: VmAttributes) -> Result<()> {
        invoke_unit(self.cptr(), label::PAGE_MAP, &[vaddr, rights.word(), attrs.word()], &[vspace.cptr()])
    }

    /// Page Unmap.
    pub fn unmap(self) -> Result<()> {
        invoke_unit(self.cptr(), label::PAGE_UNMAP, &[], &[])
    }

    /// Page GetAddress: the frame's physical address.
    pub fn get_address(self) -> Result<u64> {
        invoke(self.cptr(), label::PAGE_GET_ADDRESS, &[], &[]).map(|r| r.word(0))
    }
}

/// Map and Unmap of a paging structure below the root, with its level's labels.
fn map_table(cptr: CPtr, map: u64, vspace: VSpace, vaddr: u64, attrs: VmAttributes) -> Result<()> {
    invoke_unit(cptr, map, &[vaddr, attrs.word()], &[vspace.cptr()])
}

macro_rules! table_invocations {
    ($kind:ident, $what:literal, $map:ident, $unmap:ident) => {
        impl Cap<kind::$kind> {
            #[doc = concat!($what, " Map: into `vspace`, covering `vaddr`.")]
            pub fn map(self, vspace: VSpace, vaddr: u64, attrs: VmAttributes) -> Result<()> {
                map_table(self.cptr(), label::$map, vspace, vaddr, attrs)
            }

            #[doc = concat!($what, " Unmap.")]
            pub fn unmap(self) -> Result<()> {
                invoke_unit(self.cptr(), label::$unmap, &[], &[])
            }
        }
    };
}

#[cfg(not(target_arch = "riscv64"))]
table_invocations!(Pdpt, "`seL4_X86_PDPT`", PDPT_MAP, PDPT_UNMAP);
#[cfg(not(target_arch = "riscv64"))]
table_invocations!(PageDirectory, "`seL4_X86_PageDirectory`", PAGE_DIRECTORY_MAP, PAGE_DIRECTORY_UNMAP);
#[cfg(not(target_arch = "riscv64"))]
table_invocations!(PageTable, "`seL4_X86_PageTable`", PAGE_TABLE_MAP, PAGE_TABLE_UNMAP);
#[cfg(target_arch = "riscv64")]
table_invocations!(PageTable, "`seL4_RISCV_PageTable`", PAGE_TABLE_MAP, PAGE_TABLE_UNMAP);

/// One level of paging structure below the VSpace root: its object type and its Map and Unmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Level {
    /// The object type of its structures.
    pub object: ObjectType,
    map: u64,
    unmap: u64,
}

impl Level {
    /// Maps the structure of this level at `table` into `vspace`, covering `vaddr`.
    pub fn map(self, table: CPtr, vspace: VSpace, vaddr: u64, attrs: VmAttributes) -> Result<()> {
        map_table(table, self.map, vspace, vaddr, attrs)
    }

    /// Unmaps the structure of this level at `table`.
    pub fn unmap(self, table: CPtr) -> Result<()> {
        invoke_unit(table, self.unmap, &[], &[])
    }
}

/// The paging structures below the root, top down: x86_64 PDPT, PageDirectory, PageTable.
#[cfg(not(target_arch = "riscv64"))]
pub const LEVELS: [Level; 3] = [
    Level { object: object::PDPT, map: label::PDPT_MAP, unmap: label::PDPT_UNMAP },
    Level {
        object: object::PAGE_DIRECTORY,
        map: label::PAGE_DIRECTORY_MAP,
        unmap: label::PAGE_DIRECTORY_UNMAP,
    },
    Level { object: object::PAGE_TABLE, map: label::PAGE_TABLE_MAP, unmap: label::PAGE_TABLE_UNMAP },
];

/// The paging structures below the root, top down: riscv64's two levels of page tables.
#[cfg(target_arch = "riscv64")]
pub const LEVELS: [Level; 2] = [
    Level { object: object::PAGE_TABLE, map: label::PAGE_TABLE_MAP, unmap: label::PAGE_TABLE_UNMAP },
    Level { object: object::PAGE_TABLE, map: label::PAGE_TABLE_MAP, unmap: label::PAGE_TABLE_UNMAP },
];

/// Maps `frame` (4 KiB) at `vaddr` in `vspace`, first making from `untyped` (into slots of
/// `slots`) and mapping every paging structure the way lacks; how many it made.
///
/// It asks the kernel, not a model of the address space: the frame's Map fails with
/// `FailedLookup` while a table is missing, and each table's Map fails so while the one above
/// it is; a table made for a level is kept until it maps, so none is wasted.
pub fn map_frame(
    frame: Frame,
    vspace: VSpace,
    vaddr: u64,
    rights: CapRights,
    attrs: VmAttributes,
    untyped: Untyped,
    slots: &mut SlotAllocator,
) -> Result<usize> {
    let mut spare: [Option<CPtr>; LEVELS.len()] = [None; LEVELS.len()];
    let mut made = 0;
    loop {
        match frame.map(vspace, vaddr, rights, attrs) {
            Err(Error::FailedLookup) => {}
            other => return other.map(|()| made),
        }
        // The deepest level that maps now (the ones below wait in `spare` for the next round).
        let mut mapped = false;
        for (level, l) in LEVELS.iter().enumerate().rev() {
            let table = match spare[level] {
                Some(t) => t,
                None => {
                    let t = untyped.create_range(l.object, 1, slots)?.start;
                    made += 1;
                    t
                }
            };
            match l.map(table, vspace, vaddr, attrs) {
                Ok(()) => {
                    spare[level] = None;
                    mapped = true;
                    break;
                }
                Err(Error::FailedLookup) => spare[level] = Some(table),
                Err(e) => return Err(e),
            }
        }
        if !mapped {
            // Not even the top level maps: the VSpace root is not one (or has no ASID).
            return Err(Error::FailedLookup);
        }
    }
}

impl AsidControl {
    /// `seL4_X86_ASIDControl_MakePool` / `seL4_RISCV_ASIDControl_MakePool`: an ASID pool made
    /// from `untyped` (exactly 4 KiB), its cap into `dest`.
    pub fn make_pool(self, untyped: Untyped, dest: Slot) -> Result<()> {
        let words = [dest.index, dest.depth];
        invoke_unit(self.cptr(), label::ASID_CONTROL_MAKE_POOL, &words, &[untyped.cptr(), dest.cnode.cptr()])
    }
}

impl AsidPool {
    /// `seL4_X86_ASIDPool_Assign` / `seL4_RISCV_ASIDPool_Assign`: gives `vspace` an ASID from
    /// the pool (a VSpace root needs one before anything maps into it).
    pub fn assign(self, vspace: VSpace) -> Result<()> {
        invoke_unit(self.cptr(), label::ASID_POOL_ASSIGN, &[], &[vspace.cptr()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_go_top_down_to_the_page_table() {
        assert_eq!(LEVELS.last().map(|l| l.object), Some(object::PAGE_TABLE));
        assert_eq!(LEVELS[0].object, object::PDPT);
        assert_eq!(object::VSPACE_ROOT.number, abi::Arch::X86_64.vspace_root_type());
        assert_eq!(object::HUGE_PAGE.number, abi::Arch::X86_64.frame_type(30));
        assert_eq!(PAGE_SIZE, 4096);
    }
}
