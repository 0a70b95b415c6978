//! Address spaces: paging structures hold their entries in their own memory (in the hardware's
//! format, [`crate::obj_words`]), ASID pools their roots, and the ASID table its pools; the
//! walks and unmaps seL4's `vspace.c` files do
//! (`findVSpaceForASID`, `lookupPTSlot`/`lookupPDSlot`/`lookupPDPTSlot`, `unmapPage`,
//! `unmapPageTable`, `deleteASID`, `deleteASIDPool`) as plain functions for the gears of
//! [`page_table`](crate::page_table), [`frame`](crate::frame), [`asid`](crate::asid) and
//! `finaliseCap`. Every change to a paging structure is also recorded as a
//! [`MachineOp`].

use abi::CapRights;

use crate::arch::ArchExt;
use crate::arch::{ASID_LOW_BITS, Arch, PAGE_TABLE_BITS, PtKind, level_bits, level_index, page_level};
use crate::cap::{Cap, Mapping, ObjPtr, mask};
use crate::machine::{MachineOp, MachineOps, Pte};
use crate::object::ObjectStore;

/// A present entry of a paging structure.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Entry {
    /// Points to the next-level structure.
    Table(ObjPtr),
    /// Maps a frame.
    Page {
        /// The frame.
        frame: ObjPtr,
        /// log2 of its size.
        size_bits: u8,
        /// The mapping's rights (after `maskVMRights`).
        rights: CapRights,
        /// Executable.
        exec: bool,
    },
    /// Used by the kernel for the root task's boot mappings: opaque, never written, never walked.
    Boot,
}

impl Entry {
    /// What this entry gives a user thread, arch-neutral. A mapping without the read right
    /// (seL4's `VMKernelOnly`) is present in memory but not user-accessible: [`Pte::Invalid`].
    pub const fn pte(&self) -> Pte {
        match *self {
            Entry::Table(p) => Pte::Table { paddr: p.0 },
            Entry::Page { frame, size_bits, rights, exec } => {
                if rights.read {
                    Pte::Page { paddr: frame.0, size_bits, write: rights.write, exec }
                } else {
                    Pte::Invalid
                }
            }
            Entry::Boot => Pte::Invalid,
        }
    }
}

/// The ASID table (`x86KSASIDTable` / `riscvKSASIDTable`): the pool of each `ASID_HIGH`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct AsidTable {
    /// The pools, by the high bits of their ASIDs.
    pub pools: AsidPools,
}

/// The most ASID pools of any arch (riscv64's 2^7; x86_64 has 2^3).
pub const MAX_ASID_POOLS: usize = 1 << 7;

/// The ASID table's entries: a fixed array, as seL4's, indexed by `ASID_HIGH` (one block allocated
/// with the kernel state, 2 KiB, not on the kernel stack; it never grows), read like a map from the
/// high bits to the pool.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AsidPools(alloc::boxed::Box<[Option<ObjPtr>; MAX_ASID_POOLS]>);

/// The keys [`AsidPools`] hands out by reference.
static ASID_HIGHS: [u16; MAX_ASID_POOLS] = {
    let mut k = [0u16; MAX_ASID_POOLS];
    let mut i = 0;
    while i < MAX_ASID_POOLS {
        k[i] = i as u16;
        i += 1;
    }
    k
};

impl Default for AsidPools {
    fn default() -> Self {
        AsidPools(alloc::boxed::Box::new([None; MAX_ASID_POOLS]))
    }
}

impl core::fmt::Debug for AsidPools {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl AsidPools {
    /// The pool of `high`.
    #[inline]
    pub fn get(&self, high: &u16) -> Option<&ObjPtr> {
        self.0.get(*high as usize)?.as_ref()
    }

    /// Whether `high` has a pool.
    pub fn contains_key(&self, high: &u16) -> bool {
        self.get(high).is_some()
    }

    /// `high`'s pool is `pool` (`high` must be below [`MAX_ASID_POOLS`]).
    pub fn insert(&mut self, high: u16, pool: ObjPtr) {
        self.0[high as usize] = Some(pool);
    }

    /// `high` has no pool any more.
    pub fn remove(&mut self, high: &u16) {
        if let Some(e) = self.0.get_mut(*high as usize) {
            *e = None;
        }
    }

    /// The pools and their high bits, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&u16, &ObjPtr)> + '_ {
        ASID_HIGHS.iter().zip(self.0.iter()).filter_map(|(h, p)| Some((h, p.as_ref()?)))
    }
}

/// `ASID_HIGH(asid)`, if it fits the table's index type.
pub fn asid_high(asid: u64) -> Option<u16> {
    u16::try_from(asid >> ASID_LOW_BITS).ok()
}

/// `ASID_LOW(asid)`.
pub const fn asid_low(asid: u64) -> u16 {
    (asid & mask(ASID_LOW_BITS)) as u16
}

/// `findVSpaceForASID`: the root the ASID names, if any (else seL4's InvalidRoot lookup fault).
pub fn find_vspace_for_asid(asids: &AsidTable, objects: &ObjectStore, asid: u64) -> Option<ObjPtr> {
    let pool = asids.pools.get(&asid_high(asid)?)?;
    objects.asid_pool_entry(*pool, asid_low(asid))
}

/// `isValidVTableRoot` (`isValidNativeRoot`): a VSpace root cap of this arch with an ASID.
pub fn is_valid_vtable_root(arch: Arch, cap: &Cap) -> bool {
    matches!(*cap, Cap::PageTable { kind, mapped: Some(_), .. } if kind == arch.root_kind())
}

/// `setVMRoot`'s choice: the VSpace root `thread` runs on, or `None` for the kernel's own page
/// table, where a thread has no user mappings and faults at its first access.
///
/// The rule it keeps: the hardware address space a thread runs on is exactly what the capability
/// state says. Its VTable slot must hold a valid root cap of this arch whose ASID still names that
/// very root (`findVSpaceForASID`): a root whose ASID or pool was deleted, or (on riscv64, where
/// every level is a `PageTable`) a mapped table that is not a root, is never loaded, so entries
/// left in it by an unmap that could not find its VSpace are unreachable.
pub fn thread_vspace_root(state: &crate::kernel::KernelState, thread: ObjPtr) -> Option<ObjPtr> {
    let cap = state.cspace.cap(crate::cap::SlotRef::of(thread, crate::kernel::tcb_slot::VTABLE));
    if !is_valid_vtable_root(state.arch, &cap) {
        return None;
    }
    let Cap::PageTable { ptr, mapped: Some(Mapping { asid, .. }), .. } = cap else { return None };
    (find_vspace_for_asid(&state.asids, &state.objects, asid) == Some(ptr)).then_some(ptr)
}

/// The entry at `index` of the structure at `table` (`None`: not present).
pub fn entry_at(objects: &ObjectStore, table: ObjPtr, index: u16) -> Option<Entry> {
    objects.pt_entry(table, index)
}

/// `lookupPDPTSlot` / `lookupPDSlot` / `lookupPTSlot`: walk from `root` (at `root_level`) down
/// to the structure of `level` that covers `vaddr`. A level without a table entry (or with a
/// boot entry, opaque here) stops the walk: `Err(bits_left)`, seL4's `MissingCapability` fault.
pub fn lookup_table(
    objects: &ObjectStore,
    root: ObjPtr,
    root_level: u8,
    vaddr: u64,
    level: u8,
) -> Result<ObjPtr, u64> {
    let (mut table, mut l) = (root, root_level);
    // At most three steps: bounded by the number of levels.
    while l > level {
        match entry_at(objects, table, level_index(vaddr, l)) {
            Some(Entry::Table(next)) => {
                table = next;
                l -= 1;
            }
            _ => return Err(level_bits(l)),
        }
    }
    Ok(table)
}

/// riscv64 `lookupPTSlot`: walk as far as table entries go; the structure reached and its level
/// (`ptBitsLeft` = [`level_bits`] of it).
pub fn lookup_pt_slot(objects: &ObjectStore, root: ObjPtr, root_level: u8, vaddr: u64) -> (ObjPtr, u8) {
    let (mut table, mut l) = (root, root_level);
    while l > 0 {
        match entry_at(objects, table, level_index(vaddr, l)) {
            Some(Entry::Table(next)) => {
                table = next;
                l -= 1;
            }
            _ => break,
        }
    }
    (table, l)
}

/// Writes (or clears) one entry in the model and records the machine op.
pub fn store_entry(
    objects: &mut ObjectStore,
    machine: &mut MachineOps,
    table: ObjPtr,
    index: u16,
    entry: Option<Entry>,
) {
    objects.set_pt_entry(table, index, entry);
    let pte = entry.map(|e| e.pte()).unwrap_or(Pte::Invalid);
    machine.push(MachineOp::WriteEntry { table: table.0, index, entry: pte });
}

/// `unmapPage`: if the VSpace of `asid` maps `frame` at `vaddr` (with a page of `size_bits`),
/// clear that entry and flush the address; otherwise nothing.
pub fn unmap_page(
    arch: Arch,
    asids: &AsidTable,
    objects: &mut ObjectStore,
    machine: &mut MachineOps,
    size_bits: u8,
    at: Mapping,
    frame: ObjPtr,
) {
    let Some(root) = find_vspace_for_asid(asids, objects, at.asid) else { return };
    let level = page_level(size_bits);
    let Ok(table) = lookup_table(objects, root, arch.root_level(), at.vaddr, level) else { return };
    let index = level_index(at.vaddr, level);
    if matches!(entry_at(objects, table, index), Some(Entry::Page { frame: f, .. }) if f == frame) {
        store_entry(objects, machine, table, index, None);
        machine.push(MachineOp::Flush { root: root.0, vaddr: Some(at.vaddr) });
    }
}

/// `unmapPageTable` (and x86_64's `unmapPageDirectory`, `unmapPDPT`): if the VSpace of `asid`
/// has `pt` on the path to `vaddr`, clear the entry pointing to it and flush the whole VSpace.
pub fn unmap_page_table(
    arch: Arch,
    asids: &AsidTable,
    objects: &mut ObjectStore,
    machine: &mut MachineOps,
    at: Mapping,
    pt: ObjPtr,
) {
    let Some(root) = find_vspace_for_asid(asids, objects, at.asid) else { return };
    let (mut table, mut l) = (root, arch.root_level());
    while l > 0 {
        let index = level_index(at.vaddr, l);
        match entry_at(objects, table, index) {
            Some(Entry::Table(next)) if next == pt => {
                store_entry(objects, machine, table, index, None);
                machine.push(MachineOp::Flush { root: root.0, vaddr: None });
                return;
            }
            Some(Entry::Table(next)) => {
                table = next;
                l -= 1;
            }
            _ => return,
        }
    }
}

/// The end of a paging structure's Unmap invocation: seL4 clears its memory
/// (`clearMemory`), so its entries go and the machine zeroes it.
pub fn clear_page_table(objects: &mut ObjectStore, machine: &mut MachineOps, pt: ObjPtr) {
    objects.clear_page_table(pt);
    machine.push(MachineOp::Zero { paddr: pt.0, bits: PAGE_TABLE_BITS });
}

/// `deleteASID`: the ASID no longer names `root` (if it did); its translations are flushed.
pub fn delete_asid(
    asids: &AsidTable,
    objects: &mut ObjectStore,
    machine: &mut MachineOps,
    asid: u64,
    root: ObjPtr,
) {
    let Some(pool) = asid_high(asid).and_then(|h| asids.pools.get(&h).copied()) else { return };
    if objects.asid_pool_entry(pool, asid_low(asid)) == Some(root) {
        objects.set_asid_pool_entry(pool, asid_low(asid), None);
        machine.push(MachineOp::Flush { root: root.0, vaddr: None });
    }
}

/// `deleteASIDPool`: if the table still holds this pool, its ASIDs' translations are flushed
/// and its table entry cleared.
pub fn delete_asid_pool(
    asids: &mut AsidTable,
    objects: &ObjectStore,
    machine: &mut MachineOps,
    asid_base: u64,
    pool: ObjPtr,
) {
    let Some(high) = asid_high(asid_base) else { return };
    if asids.pools.get(&high) != Some(&pool) {
        return;
    }
    for (_, root) in objects.asid_pool_entries(pool) {
        machine.push(MachineOp::Flush { root: root.0, vaddr: None });
    }
    asids.pools.remove(&high);
}

/// `Arch_finaliseCap`'s address-space part, before the object's life ends: a mapped frame cap
/// is unmapped (final or not, as seL4 does); the final cap of a mapped paging structure is
/// unmapped, or, for a VSpace root, its ASID deleted; the final cap of an ASID pool deletes it.
pub fn arch_finalise_cap(
    arch: Arch,
    asids: &mut AsidTable,
    objects: &mut ObjectStore,
    machine: &mut MachineOps,
    cap: &Cap,
    is_final: bool,
) {
    match *cap {
        Cap::Frame { ptr, size_bits, mapped: Some(at), .. } => {
            unmap_page(arch, asids, objects, machine, size_bits, at, ptr);
        }
        Cap::PageTable { ptr, mapped: Some(at), kind } if is_final => {
            let is_root = kind == PtKind::Pml4
                || (kind == PtKind::Riscv && find_vspace_for_asid(asids, objects, at.asid) == Some(ptr));
            if is_root {
                delete_asid(asids, objects, machine, at.asid, ptr);
            } else {
                unmap_page_table(arch, asids, objects, machine, at, ptr);
            }
        }
        Cap::AsidPool { ptr, asid_base } if is_final => {
            delete_asid_pool(asids, objects, machine, asid_base, ptr);
        }
        _ => {}
    }
}

/// `Arch_deriveCap`: a frame cap loses its mapping; a paging structure cap must be mapped (a
/// root: have an ASID), else `IllegalOperation`; IOPortControl cannot be copied (`Null`).
pub fn arch_derive_cap(cap: &Cap) -> Result<Cap, crate::error::SyscallError> {
    match *cap {
        Cap::Frame { ptr, size_bits, rights, is_device, .. } => {
            Ok(Cap::Frame { ptr, size_bits, rights, is_device, mapped: None })
        }
        Cap::PageTable { mapped: None, .. } => Err(crate::error::SyscallError::IllegalOperation),
        Cap::IoPortControl => Ok(Cap::Null),
        other => Ok(other),
    }
}
