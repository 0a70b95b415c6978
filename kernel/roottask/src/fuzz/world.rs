//! The world the worker attacks: a CNode of its own filled with caps to objects of every type,
//! rebuilt by the supervisor at the start of each epoch from the pool untyped.
//!
//! The supervisor keeps in its own CSpace what the worker must not destroy — the worker's TCB,
//! CNode and fault endpoint (the worker holds copies only) — and retypes all of it, and every
//! target, from one pool untyped, so one Revoke of the pool clears the last epoch: objects,
//! mappings, ASIDs, everything the worker made from its own untyped. Targets go to the worker as
//! originals (retyped into its CNode or moved there), so it can really destroy them.

use gears_user::cap::init_thread::{ASID_CONTROL, DOMAIN, IRQ_CONTROL};
use gears_user::cap::{AsidPool, CNode, Cap, Endpoint, Frame, Tcb, Untyped, VSpace};
use gears_user::cnode::Slot;
use gears_user::slots::SlotAllocator;
use gears_user::untyped::ObjectType;
use gears_user::vspace::{LEVELS, VmAttributes, object};
use gears_user::{CNodeCapData, CPtr, CapRights, Result, println};

use crate::layout::{SCRATCH, USER_BASE};
use crate::{ROOT, VSPACE};

/// The worker CNode's radix (256 slots), and the guard that makes its one level resolve the
/// worker's 64-bit cptrs.
pub const RADIX: u64 = 8;
pub const GUARD_BITS: u64 = abi::WORD_BITS - RADIX;
/// The badge of the worker's fault endpoint cap (its fault messages carry it).
pub const FAULT_BADGE: u64 = 0xfa;

/// What the worker's CNode holds at the start of an epoch (its indices are also its cptrs).
pub mod slot {
    /// Its own TCB (a copy) and CNode (copies: raw, resolving 8 bits; guarded, resolving 64).
    pub const TCB_SELF: u64 = 1;
    pub const CNODE_RAW: u64 = 2;
    pub const CNODE: u64 = 3;
    /// Its fault endpoint (badged copy).
    pub const FAULT_EP: u64 = 4;
    /// Untypeds: 2 MiB, 4 KiB (an ASID pool's size), 16 bytes (the smallest).
    pub const UNTYPED: u64 = 5;
    pub const UNTYPED_PAGE: u64 = 6;
    pub const UNTYPED_MIN: u64 = 7;
    /// An endpoint, a badged copy and a read-only copy.
    pub const ENDPOINT: u64 = 8;
    pub const ENDPOINT_BADGED: u64 = 9;
    pub const ENDPOINT_READ: u64 = 10;
    /// A notification and a badged copy.
    pub const NOTIFICATION: u64 = 11;
    pub const NOTIFICATION_BADGED: u64 = 12;
    /// Two TCBs, unconfigured.
    pub const TCB_A: u64 = 13;
    pub const TCB_B: u64 = 14;
    /// A CNode of radix 4.
    pub const CNODE_SMALL: u64 = 15;
    /// A VSpace root with an ASID (and tables and a frame mapped at [`super::TARGET_VADDR`]), one
    /// without, and the ASID pool that gave the ASID.
    pub const VSPACE: u64 = 16;
    pub const VSPACE_BARE: u64 = 17;
    pub const ASID_POOL: u64 = 18;
    /// A copy of ASIDControl; a handler of an IRQ line no device raises (issued by the
    /// supervisor: IRQControl cannot be copied, in seL4 as here); a copy of the domain cap.
    pub const ASID_CONTROL: u64 = 19;
    pub const IRQ_HANDLER: u64 = 21;
    pub const DOMAIN: u64 = 22;
    /// A frame mapped in [`VSPACE`], two unmapped.
    pub const FRAME_MAPPED: u64 = 23;
    pub const FRAMES: [u64; 2] = [24, 25];
    /// The paging structures below the root mapped in [`VSPACE`] (top down), and as many
    /// unmapped.
    pub const TABLES_MAPPED: u64 = 26;
    pub const TABLES: u64 = 29;
    /// The first slot no world cap is put in.
    pub const FIRST_FREE: u64 = 32;
}

/// Where the target VSpace has its tables and frame mapped (2 GiB into the user range, which
/// on riscv64 starts at the user base).
pub const TARGET_VADDR: u64 = USER_BASE + 0x8000_0000;

/// The pool untyped's size: a 2 MiB untyped for the worker plus everything else.
const POOL_BITS: u64 = 22;
/// The worker's own untyped: a large page fits in it exactly.
const WORKER_UNTYPED_BITS: u64 = 21;
/// The IRQ line whose handler cap the worker gets (one no device of the QEMU machine raises).
#[cfg(target_arch = "x86_64")]
const IRQ_LINE: u64 = 3;
#[cfg(target_arch = "riscv64")]
const IRQ_LINE: u64 = 1;

/// Read-write rights and the default attributes of the world's mappings.
const RW: CapRights = CapRights::READ_WRITE;
const ATTR: VmAttributes = VmAttributes::DEFAULT;

/// The supervisor's slots for the world: set once by [`World::new`].
pub struct World {
    /// The pool untyped everything per epoch comes from.
    pub pool: Untyped,
    /// The worker's IPC buffer frame (mapped at [`WORKER_IPC`] in the supervisor's VSpace).
    pub ipc_frame: Frame,
    /// The worker's fault endpoint, TCB and CNode (per epoch).
    pub fault_ep: Endpoint,
    pub tcb: Tcb,
    pub cnode: CNode,
    /// The first of the staging slots (objects set up by the supervisor before they move to
    /// the worker): a VSpace root, an untyped, an ASID pool, a frame, then the tables.
    stage: CPtr,
    /// World-building steps that failed, over the run.
    pub errors: u64,
}

/// The worker's IPC buffer, in the supervisor's VSpace (which the worker shares).
pub const WORKER_IPC: u64 = SCRATCH;

/// Staging slots: four objects, then a paging structure per level.
const STAGING: u64 = 4 + LEVELS.len() as u64;

/// Makes the paging structures below the root from `ut`, into root slots from `first` on (top
/// down), and maps them in `vspace` to cover `vaddr`.
fn map_tables(ut: Untyped, first: CPtr, vspace: VSpace, vaddr: u64) -> Result<()> {
    for (k, level) in LEVELS.iter().enumerate() {
        let table = first + k as u64;
        ut.retype(level.object, ROOT, table, 1)?;
        level.map(table, vspace, vaddr, ATTR)?;
    }
    Ok(())
}

/// The worker CNode's slot `at`.
fn worker_slot(cnode: CNode, at: u64) -> Slot {
    cnode.slot_at_depth(at, RADIX)
}

impl World {
    /// Carves the pool from `ut` and maps the worker's IPC buffer, in root CNode slots from
    /// `slots`; `None` if any of it fails.
    pub fn new(ut: Untyped, slots: &mut SlotAllocator) -> Option<World> {
        let pool = ut.create_untyped(POOL_BITS, slots).ok()?;
        let ipc_frame: Frame = ut.create(slots).ok()?;
        let tables = slots.alloc_range(LEVELS.len() as u64)?;
        map_tables(ut, tables.start, VSPACE, WORKER_IPC).ok()?;
        ipc_frame.map(VSPACE, WORKER_IPC, RW, ATTR).ok()?;
        let base = slots.alloc_range(3 + STAGING)?.start;
        Some(World {
            pool,
            ipc_frame,
            fault_ep: Cap::from_cptr(base),
            tcb: Cap::from_cptr(base + 1),
            cnode: Cap::from_cptr(base + 2),
            stage: base + 3,
            errors: 0,
        })
    }

    /// Revokes the pool (the last epoch's world goes) and builds the world again; false if the
    /// worker's own objects could not be made (the targets' failures are counted in `errors`).
    pub fn rebuild(&mut self) -> bool {
        if ROOT.slot(self.pool.cptr()).revoke().is_err() {
            println!("fuzz: revoking the pool untyped FAILED");
            return false;
        }
        let (p, st) = (self.pool, self.stage);
        // The worker's untyped first: at the pool's start, aligned, before the small objects.
        let own = [
            p.retype(ObjectType::untyped(WORKER_UNTYPED_BITS), ROOT, st, 1),
            p.retype(ObjectType::ENDPOINT, ROOT, self.fault_ep.cptr(), 1),
            p.retype(ObjectType::TCB, ROOT, self.tcb.cptr(), 1),
            p.retype(ObjectType::cnode(RADIX), ROOT, self.cnode.cptr(), 1),
        ];
        if own.iter().any(Result::is_err) {
            println!("fuzz: making the worker's untyped, fault endpoint, TCB and CNode FAILED: {own:?}");
            return false;
        }
        let moved = self.move_in(slot::UNTYPED, st);
        self.check("move the worker's untyped", moved);
        self.fill_objects();
        self.fill_copies();
        self.fill_vspace();
        true
    }

    /// Counts a failed world-building step, and says the first few.
    fn check(&mut self, what: &str, r: Result<()>) {
        if let Err(e) = r {
            self.errors += 1;
            if self.errors <= 8 {
                println!("fuzz: building the world: {what}: error {}", e.code());
            }
        }
    }

    /// Retypes `n` objects straight into the worker's CNode at `at`.
    fn retype_into_worker(&mut self, what: &str, object: ObjectType, at: u64, n: u64) {
        let r = self.pool.retype(object, self.cnode, at, n);
        self.check(what, r);
    }

    /// Copies (or mints, with `data`) a cap of the supervisor's CNode into the worker's at `at`.
    fn copy_in(&mut self, what: &str, at: u64, src: CPtr, rights: CapRights, data: Option<u64>) {
        let dest = worker_slot(self.cnode, at);
        let r = match data {
            Some(d) => dest.mint(ROOT.slot(src), rights, d),
            None => dest.copy(ROOT.slot(src), rights),
        };
        self.check(what, r);
    }

    /// Mints a cap of the worker's CNode into another of its slots.
    fn mint_within(&mut self, what: &str, at: u64, src: u64, rights: CapRights, data: u64) {
        let r = worker_slot(self.cnode, at).mint(worker_slot(self.cnode, src), rights, data);
        self.check(what, r);
    }

    /// Moves a supervisor slot's cap into the worker's CNode.
    fn move_in(&self, at: u64, src: CPtr) -> Result<()> {
        worker_slot(self.cnode, at).move_from(ROOT.slot(src))
    }

    /// The objects retyped straight into the worker's CNode, and the badged and read-only
    /// copies of its endpoint and notification.
    fn fill_objects(&mut self) {
        self.retype_into_worker("untyped 4 KiB", ObjectType::untyped(12), slot::UNTYPED_PAGE, 1);
        self.retype_into_worker("untyped 16 bytes", ObjectType::untyped(4), slot::UNTYPED_MIN, 1);
        self.retype_into_worker("endpoint", ObjectType::ENDPOINT, slot::ENDPOINT, 1);
        self.retype_into_worker("notification", ObjectType::NOTIFICATION, slot::NOTIFICATION, 1);
        self.retype_into_worker("TCBs", ObjectType::TCB, slot::TCB_A, 2);
        self.retype_into_worker("CNode", ObjectType::cnode(4), slot::CNODE_SMALL, 1);
        self.retype_into_worker("bare VSpace root", object::VSPACE_ROOT, slot::VSPACE_BARE, 1);
        self.retype_into_worker("frames", object::SMALL_PAGE, slot::FRAMES[0], 2);
        for (k, level) in LEVELS.iter().enumerate() {
            self.retype_into_worker("unmapped table", level.object, slot::TABLES + k as u64, 1);
        }
        let all = CapRights::ALL;
        self.mint_within("badged endpoint", slot::ENDPOINT_BADGED, slot::ENDPOINT, all, 0x5a);
        self.mint_within("read-only endpoint", slot::ENDPOINT_READ, slot::ENDPOINT, CapRights::READ, 0);
        self.mint_within("badged notification", slot::NOTIFICATION_BADGED, slot::NOTIFICATION, all, 0x3c);
    }

    /// Copies of the worker's own TCB, CNode and fault endpoint, and of the system's control caps.
    fn fill_copies(&mut self) {
        let all = CapRights::ALL;
        self.copy_in("own TCB", slot::TCB_SELF, self.tcb.cptr(), all, None);
        self.copy_in("own CNode", slot::CNODE_RAW, self.cnode.cptr(), all, None);
        let guard = CNodeCapData::new(0, GUARD_BITS).word();
        self.copy_in("own CNode, guarded", slot::CNODE, self.cnode.cptr(), all, Some(guard));
        self.copy_in("fault endpoint", slot::FAULT_EP, self.fault_ep.cptr(), all, Some(FAULT_BADGE));
        self.copy_in("ASIDControl", slot::ASID_CONTROL, ASID_CONTROL.cptr(), all, None);
        self.copy_in("domain", slot::DOMAIN, DOMAIN.cptr(), all, None);
        // Into the worker's CNode directly: it goes when the CNode does, and the line is free
        // for the next epoch.
        let r = IRQ_CONTROL.get(IRQ_LINE, worker_slot(self.cnode, slot::IRQ_HANDLER));
        self.check("IRQ handler", r);
    }

    /// A VSpace root with an ASID from a new ASID pool, tables and a frame mapped at
    /// [`TARGET_VADDR`]: set up in staging slots, then moved to the worker.
    fn fill_vspace(&mut self) {
        let (p, st) = (self.pool, self.stage);
        let (root, pool_ut, asid_pool, frame, tables) = (st, st + 1, st + 2, st + 3, st + 4);
        let vspace = VSpace::from_cptr(root);
        self.check("VSpace root", p.retype(object::VSPACE_ROOT, ROOT, root, 1));
        self.check("ASID pool's untyped", p.retype(ObjectType::untyped(12), ROOT, pool_ut, 1));
        let made = ASID_CONTROL.make_pool(Untyped::from_cptr(pool_ut), ROOT.slot(asid_pool));
        self.check("MakePool", made);
        self.check("ASID", AsidPool::from_cptr(asid_pool).assign(vspace));
        self.check("map the tables", map_tables(p, tables, vspace, TARGET_VADDR));
        self.check("frame", p.retype(object::SMALL_PAGE, ROOT, frame, 1));
        self.check("map the frame", Frame::from_cptr(frame).map(vspace, TARGET_VADDR, RW, ATTR));
        let moves = [(slot::VSPACE, root), (slot::ASID_POOL, asid_pool), (slot::FRAME_MAPPED, frame)];
        for (at, src) in moves {
            let r = self.move_in(at, src);
            self.check("move to the worker", r);
        }
        for k in 0..LEVELS.len() as u64 {
            let r = self.move_in(slot::TABLES_MAPPED + k, tables + k);
            self.check("move a table to the worker", r);
        }
    }
}
