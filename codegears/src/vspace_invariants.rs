//! The address-space invariants, for [`check_invariants`](crate::check_invariants):
//!
//! - the ASID table names live pools, and each pool's ASIDs live VSpace roots of this arch,
//!   each with a cap that has this ASID;
//! - walking each assigned VSpace: every present entry points to a live object of the right
//!   kind (a table one level down, a frame of the level's page size), so no reachable entry
//!   outlives what it maps; every table is the target of at most one entry; every table entry is
//!   claimed by a cap to that table mapped at that ASID and address, and every page entry by a
//!   frame cap mapped there;
//! - no two frame caps map one entry through the Map invocation (decode refuses an occupied
//!   entry, a copy of a mapped frame cap is unmapped).
//!
//! Tables no VSpace reaches are not checked: as in seL4, once a VSpace has lost its ASID, its
//! tables may keep entries to objects deleted since (no hardware walks them again, and their caps
//! say mapped, so they are cleared before any reuse).
//!
//! [`check_hardware_tables`] checks the other side: the hardware page tables agree with this
//! model wherever a thread can reach them (every index of every table of every assigned VSpace,
//! but the kernel's own root entries and the root task's opaque boot entries). Together with
//! `thread_vspace_root` (a thread runs only on a root its ASID names, else on the kernel's table),
//! that makes every user mapping any thread can use one that a live frame cap claims.
//!
//! Stale caps are allowed, as in seL4: a frame or table cap under an unmapped (and cleared)
//! table, or in a VSpace whose ASID (or pool) was deleted, still says mapped; its later unmap
//! finds nothing, or, if the ASID was given to another VSpace that maps the same object at the
//! same address, unmaps that (seL4's `unmapPage` compares only the frame's address). So the
//! "one cap per entry" property holds for live mappings but is not checked as a state
//! predicate.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;

use crate::arch::ArchExt;
use crate::arch::{PtKind, level_bits};
use crate::cap::{Cap, ObjPtr, mask};
use crate::invariants::{InvariantViolation, LiveObjects};
use crate::kernel::KernelState;
use crate::machine::{MachineOp, Pte};
use crate::object::ObjKind;
use crate::vspace::Entry;

fn fail(invariant: &'static str, detail: alloc::string::String) -> Result<(), InvariantViolation> {
    Err(InvariantViolation { invariant, detail })
}

/// Checks the address-space invariants of `state`.
pub fn check_vspace_invariants(state: &KernelState) -> Result<(), InvariantViolation> {
    let slots = state.slots();
    check_vspace_invariants_in(state, &crate::invariants::live_objects(&slots)?, &slots)
}

/// [`check_vspace_invariants`] with the non-empty slots listed once by the caller.
pub(crate) fn check_vspace_invariants_in(
    state: &KernelState,
    objs: &LiveObjects,
    slots: &[(crate::cap::SlotRef, crate::cspace::Cte)],
) -> Result<(), InvariantViolation> {
    let arch = state.arch;
    let objects = &state.objects;
    // Caps, by what they claim: (object, asid, vaddr) -> how many caps.
    let mut claims: BTreeMap<(ObjPtr, u64, u64), u32> = BTreeMap::new();
    for &(s, cte) in slots {
        match cte.cap {
            Cap::Frame { ptr, size_bits, mapped: Some(at), .. } => {
                if at.vaddr & mask(size_bits as u64) != 0 {
                    return fail("vspace_caps", format!("{s:?}: frame mapped at unaligned {:#x}", at.vaddr));
                }
                *claims.entry((ptr, at.asid, at.vaddr)).or_default() += 1;
            }
            Cap::PageTable { ptr, mapped: Some(at), .. } => {
                *claims.entry((ptr, at.asid, at.vaddr)).or_default() += 1;
            }
            _ => {}
        }
    }
    for (high, pool) in state.asids.pools.iter() {
        if objs.get(pool) != Some(&ObjKind::AsidPool) {
            return fail("asids_consistent", format!("ASID table {high} names dead pool {pool:?}"));
        }
        for (low, root) in &objects.asid_pool_entries(*pool) {
            let asid = ((*high as u64) << crate::arch::ASID_LOW_BITS) | *low as u64;
            if objs.get(root) != Some(&ObjKind::PageTable { kind: arch.root_kind() }) {
                return fail("asids_consistent", format!("ASID {asid} names {root:?}, not a live root"));
            }
            if !claims.contains_key(&(*root, asid, 0)) {
                return fail("asids_consistent", format!("ASID {asid}'s root {root:?} has no cap with it"));
            }
        }
    }
    // Walk every assigned VSpace: entries point to live objects of the right kind, each table
    // is the target of one entry, and entries are claimed by caps.
    let mut targets: BTreeMap<ObjPtr, ObjPtr> = BTreeMap::new();
    for (high, pool) in state.asids.pools.iter() {
        for (low, root) in &objects.asid_pool_entries(*pool) {
            let asid = ((*high as u64) << crate::arch::ASID_LOW_BITS) | *low as u64;
            let mut stack: Vec<(ObjPtr, u8, u64)> = alloc::vec![(*root, arch.root_level(), 0)];
            while let Some((table, level, base)) = stack.pop() {
                let Some(&ObjKind::PageTable { kind }) = objs.get(&table) else { continue };
                let entries = objects.pt_entries(table);
                for (i, e) in &entries {
                    if table == *root && kernel_root_index(*i) {
                        continue;
                    }
                    let vaddr = sign_extend(base | ((*i as u64) << level_bits(level)));
                    match *e {
                        Entry::Table(t) => {
                            let ok = match (objs.get(&t), kind.x86_level()) {
                                (Some(ObjKind::PageTable { kind: k }), Some(l)) => {
                                    k.x86_level() == Some(l.wrapping_sub(1))
                                }
                                (Some(ObjKind::PageTable { kind: k }), None) => {
                                    *k == PtKind::Riscv && level > 0
                                }
                                _ => false,
                            };
                            if !ok {
                                return fail(
                                    "entries_live",
                                    format!("{table:?}[{i}] points to {t:?}, not a live table below"),
                                );
                            }
                            if let Some(other) = targets.insert(t, table) {
                                return fail(
                                    "tables_mapped_once",
                                    format!("{t:?} is in {other:?} and {table:?}"),
                                );
                            }
                            if !claims.contains_key(&(t, asid, vaddr)) {
                                return fail(
                                    "entries_claimed",
                                    format!("ASID {asid}: {t:?} at {vaddr:#x} has no cap mapped there"),
                                );
                            }
                            if level > 0 {
                                stack.push((t, level - 1, vaddr));
                            }
                        }
                        Entry::Page { frame, size_bits, .. } => {
                            let live = objs.get(&frame) == Some(&ObjKind::Frame { size_bits });
                            if !live || level_bits(level) != size_bits as u64 {
                                return fail(
                                    "entries_live",
                                    format!("{table:?}[{i}] maps {frame:?}, not a live frame of its size"),
                                );
                            }
                            if !claims.contains_key(&(frame, asid, vaddr)) {
                                return fail(
                                    "entries_claimed",
                                    format!("ASID {asid}: {frame:?} at {vaddr:#x} has no cap mapped there"),
                                );
                            }
                        }
                        Entry::Boot => {}
                    }
                }
            }
        }
    }
    Ok(())
}

/// The hardware page tables, as the machine holds them.
pub trait HardwareTables {
    /// Entry `index` of the structure at physical address `table`, a structure of `level`
    /// (0: the level that maps 4 KiB pages), as the hardware would read it.
    fn entry(&self, table: u64, index: u16, level: u8) -> Pte;
}

/// The hardware as it will be once `pending` ops are applied (for a check in the middle of an
/// operation, whose machine ops are carried out at its end): the last op that writes an entry
/// or clears its table wins over what `hardware` holds.
pub struct WithPending<'a, H> {
    /// The hardware.
    pub hardware: &'a H,
    /// The machine ops recorded and not applied yet, oldest first.
    pub pending: &'a [MachineOp],
}

impl<H: HardwareTables> HardwareTables for WithPending<'_, H> {
    fn entry(&self, table: u64, index: u16, level: u8) -> Pte {
        for op in self.pending.iter().rev() {
            match *op {
                MachineOp::WriteEntry { table: t, index: i, entry } if t == table && i == index => {
                    return entry;
                }
                MachineOp::Zero { paddr, bits } if table >= paddr && table - paddr < (1u64 << bits) => {
                    return Pte::Invalid;
                }
                _ => {}
            }
        }
        self.hardware.entry(table, index, level)
    }
}

/// Whether entry `index` of a VSpace root is the kernel's own (its global mappings, copied into
/// every root): the upper half, on both arches (x86_64's PML4 entries 256..512, riscv64's Sv39
/// root entries 256..512).
fn kernel_root_index(index: u16) -> bool {
    index >= 256
}

/// The hardware page tables agree with the capability state wherever a thread can reach them:
/// every index of every table reached from a VSpace root its ASID names holds exactly what the
/// model's entry there says ([`Entry::pte`]; nothing where the model has none), but the
/// kernel's global root entries and the root task's boot entries (opaque to the model).
pub fn check_hardware_tables(
    state: &KernelState,
    hw: &impl HardwareTables,
) -> Result<(), InvariantViolation> {
    let arch = state.arch;
    let objects = &state.objects;
    for (high, pool) in state.asids.pools.iter() {
        for (low, root) in &objects.asid_pool_entries(*pool) {
            let asid = ((*high as u64) << crate::arch::ASID_LOW_BITS) | *low as u64;
            let mut stack: Vec<(ObjPtr, u8)> = alloc::vec![(*root, arch.root_level())];
            while let Some((table, level)) = stack.pop() {
                let mut model = [None; 1 << crate::arch::PT_INDEX_BITS];
                for (i, e) in objects.pt_entries(table) {
                    model[usize::from(i)] = Some(e);
                }
                let is_root = table == *root;
                for index in 0..(1u16 << crate::arch::PT_INDEX_BITS) {
                    let entry = model[usize::from(index)].as_ref();
                    if matches!(entry, Some(Entry::Boot)) || is_root && kernel_root_index(index) {
                        continue;
                    }
                    let want = entry.map_or(Pte::Invalid, Entry::pte);
                    let got = hw.entry(table.0, index, level);
                    if got != want {
                        return fail(
                            "hardware_matches_caps",
                            format!(
                                "ASID {asid}: {table:?}[{index}] (level {level}) holds {got:?}; the caps say {want:?}"
                            ),
                        );
                    }
                    if let (Some(Entry::Table(next)), true) = (entry, level > 0) {
                        stack.push((*next, level - 1));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Canonical form of a 48-bit address (bit 47 copied up); riscv64 user addresses stay as they
/// are (bit 38 is never set in user space).
fn sign_extend(v: u64) -> u64 {
    if v & (1 << 47) != 0 { v | 0xffff_0000_0000_0000 } else { v }
}
