//! The world the worker attacks: a CNode of its own filled with caps to objects of every type,
//! rebuilt by the supervisor at the start of each epoch from the pool untyped.
//!
//! The supervisor keeps in its own CSpace what the worker must not destroy — the worker's TCB,
//! CNode and fault endpoint (the worker holds copies only) — and retypes all of it, and every
//! target, from one pool untyped, so one Revoke of the pool clears the last epoch: objects,
//! mappings, ASIDs, everything the worker made from its own untyped. Targets go to the worker as
//! originals (retyped into its CNode or moved there), so it can really destroy them.

use crate::sel4::call;
use crate::vm::{self, ATTR, Slots};
use crate::{ROOT, VSPACE, say};

use abi::bootinfo::{CAP_ASID_CONTROL, CAP_DOMAIN, CAP_IRQ_CONTROL};
use abi::label::cnode::{COPY, MINT, MOVE, REVOKE};
use abi::label::untyped::RETYPE;
use abi::object::{CAP_TABLE, ENDPOINT, NOTIFICATION, TCB, UNTYPED};
use abi::{CNodeCapData, CapRights};

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
pub const TARGET_VADDR: u64 = vm::USER_BASE + 0x8000_0000;

/// The pool untyped's size: a 2 MiB untyped for the worker plus everything else.
const POOL_BITS: u64 = 22;
/// The worker's own untyped: a large page fits in it exactly.
const WORKER_UNTYPED_BITS: u64 = 21;
/// The IRQ line whose handler cap the worker gets (one no device of the QEMU machine raises).
#[cfg(target_arch = "x86_64")]
const IRQ_LINE: u64 = 3;
#[cfg(target_arch = "riscv64")]
const IRQ_LINE: u64 = 1;

/// The supervisor's slots for the world: set once by [`World::new`].
pub struct World {
    /// The pool untyped everything per epoch comes from.
    pub pool: u64,
    /// The worker's IPC buffer frame (mapped at [`vm::SCRATCH`] in the supervisor's VSpace).
    pub ipc_frame: u64,
    /// The worker's fault endpoint, TCB and CNode (per epoch).
    pub fault_ep: u64,
    pub tcb: u64,
    pub cnode: u64,
    /// The first staging slot (objects set up by the supervisor before they move to the worker).
    stage: u64,
    /// World-building steps that failed, over the run.
    pub errors: u64,
}

/// The worker's IPC buffer, in the supervisor's VSpace (which the worker shares).
pub const WORKER_IPC: u64 = vm::SCRATCH;

impl World {
    /// Carves the pool from `ut` and maps the worker's IPC buffer, in root CNode slots from
    /// `free`; `None` if any of it fails.
    pub fn new(ut: u64, free: u64) -> Option<World> {
        let mut s = Slots(free);
        let (pool, ipc_frame) = (s.next(), s.next());
        let mut ok = retype(ut, UNTYPED, POOL_BITS, ROOT, pool, 1) == 0;
        ok &= retype(ut, vm::PAGE_TYPE, 0, ROOT, ipc_frame, 1) == 0;
        ok &= vm::tables(ut, &mut s, VSPACE, WORKER_IPC, 0);
        let rw = CapRights::READ_WRITE.word();
        ok &= call(ipc_frame, vm::PAGE_MAP, &[WORKER_IPC, rw, ATTR], &[VSPACE]).ok();
        let base = s.next();
        let world = World {
            pool,
            ipc_frame,
            fault_ep: base,
            tcb: base + 1,
            cnode: base + 2,
            stage: base + 3,
            errors: 0,
        };
        ok.then_some(world)
    }

    /// Revokes the pool (the last epoch's world goes) and builds the world again; false if the
    /// worker's own objects could not be made (the targets' failures are counted in `errors`).
    pub fn rebuild(&mut self) -> bool {
        if call(ROOT, REVOKE, &[self.pool, abi::WORD_BITS], &[]).label != 0 {
            say!("fuzz: revoking the pool untyped FAILED");
            return false;
        }
        let (p, st) = (self.pool, self.stage);
        // The worker's untyped first: at the pool's start, aligned, before the small objects.
        let own = [
            retype(p, UNTYPED, WORKER_UNTYPED_BITS, ROOT, st, 1),
            retype(p, ENDPOINT, 0, ROOT, self.fault_ep, 1),
            retype(p, TCB, 0, ROOT, self.tcb, 1),
            retype(p, CAP_TABLE, RADIX, ROOT, self.cnode, 1),
        ];
        if own.iter().any(|&e| e != 0) {
            say!("fuzz: making the worker's untyped, fault endpoint, TCB and CNode FAILED: errors {own:?}");
            return false;
        }
        self.check("move the worker's untyped", self.move_in(slot::UNTYPED, st));
        self.fill_objects();
        self.fill_copies();
        self.fill_vspace();
        true
    }

    /// Counts a failed world-building step, and says the first few.
    fn check(&mut self, what: &str, label: u64) {
        if label != 0 {
            self.errors += 1;
            if self.errors <= 8 {
                say!("fuzz: building the world: {what}: error {label}");
            }
        }
    }

    /// Retypes `n` objects straight into the worker's CNode at `at`.
    fn retype_into_worker(&mut self, what: &str, ty: u64, bits: u64, at: u64, n: u64) {
        let label = retype(self.pool, ty, bits, self.cnode, at, n);
        self.check(what, label);
    }

    /// Copies (or mints, with `data`) a cap of the supervisor's CNode into the worker's at `at`.
    fn copy_in(&mut self, what: &str, at: u64, src: u64, rights: CapRights, data: Option<u64>) {
        let label = match data {
            Some(d) => call(self.cnode, MINT, &[at, RADIX, src, abi::WORD_BITS, rights.word(), d], &[ROOT]),
            None => call(self.cnode, COPY, &[at, RADIX, src, abi::WORD_BITS, rights.word()], &[ROOT]),
        }
        .label;
        self.check(what, label);
    }

    /// Mints a cap of the worker's CNode into another of its slots.
    fn mint_within(&mut self, what: &str, at: u64, src: u64, rights: CapRights, data: u64) {
        let label =
            call(self.cnode, MINT, &[at, RADIX, src, RADIX, rights.word(), data], &[self.cnode]).label;
        self.check(what, label);
    }

    /// Moves a supervisor slot's cap into the worker's CNode.
    fn move_in(&self, at: u64, src: u64) -> u64 {
        call(self.cnode, MOVE, &[at, RADIX, src, abi::WORD_BITS], &[ROOT]).label
    }

    /// The objects retyped straight into the worker's CNode, and the badged and read-only
    /// copies of its endpoint and notification.
    fn fill_objects(&mut self) {
        self.retype_into_worker("untyped 4 KiB", UNTYPED, 12, slot::UNTYPED_PAGE, 1);
        self.retype_into_worker("untyped 16 bytes", UNTYPED, 4, slot::UNTYPED_MIN, 1);
        self.retype_into_worker("endpoint", ENDPOINT, 0, slot::ENDPOINT, 1);
        self.retype_into_worker("notification", NOTIFICATION, 0, slot::NOTIFICATION, 1);
        self.retype_into_worker("TCBs", TCB, 0, slot::TCB_A, 2);
        self.retype_into_worker("CNode", CAP_TABLE, 4, slot::CNODE_SMALL, 1);
        self.retype_into_worker("bare VSpace root", vm::ROOT_TYPE, 0, slot::VSPACE_BARE, 1);
        self.retype_into_worker("frames", vm::PAGE_TYPE, 0, slot::FRAMES[0], 2);
        for (k, &(ty, _)) in vm::LEVELS.iter().enumerate() {
            self.retype_into_worker("unmapped table", ty, 0, slot::TABLES + k as u64, 1);
        }
        let all = CapRights::ALL;
        self.mint_within("badged endpoint", slot::ENDPOINT_BADGED, slot::ENDPOINT, all, 0x5a);
        self.mint_within("read-only endpoint", slot::ENDPOINT_READ, slot::ENDPOINT, CapRights::READ, 0);
        self.mint_within("badged notification", slot::NOTIFICATION_BADGED, slot::NOTIFICATION, all, 0x3c);
    }

    /// Copies of the worker's own TCB, CNode and fault endpoint, and of the system's control caps.
    fn fill_copies(&mut self) {
        let all = CapRights::ALL;
        self.copy_in("own TCB", slot::TCB_SELF, self.tcb, all, None);
        self.copy_in("own CNode", slot::CNODE_RAW, self.cnode, all, None);
        let guard = CNodeCapData::new(0, GUARD_BITS).word();
        self.copy_in("own CNode, guarded", slot::CNODE, self.cnode, all, Some(guard));
        self.copy_in("fault endpoint", slot::FAULT_EP, self.fault_ep, all, Some(FAULT_BADGE));
        self.copy_in("ASIDControl", slot::ASID_CONTROL, CAP_ASID_CONTROL, all, None);
        self.copy_in("domain", slot::DOMAIN, CAP_DOMAIN, all, None);
        // Into the worker's CNode directly: it goes when the CNode does, and the line is free
        // for the next epoch.
        let issue = abi::label::irq_control::ISSUE_IRQ_HANDLER;
        let words = [IRQ_LINE, slot::IRQ_HANDLER, RADIX];
        self.check("IRQ handler", call(CAP_IRQ_CONTROL, issue, &words, &[self.cnode]).label);
    }

    /// A VSpace root with an ASID from a new ASID pool, tables and a frame mapped at
    /// [`TARGET_VADDR`]: set up in staging slots, then moved to the worker.
    fn fill_vspace(&mut self) {
        let (p, st) = (self.pool, self.stage);
        let (root, pool_ut, asid_pool, frame, tables) = (st, st + 1, st + 2, st + 3, st + 4);
        self.check("VSpace root", retype(p, vm::ROOT_TYPE, 0, ROOT, root, 1));
        self.check("ASID pool's untyped", retype(p, UNTYPED, 12, ROOT, pool_ut, 1));
        let make_pool = crate::arch::ASID_CONTROL_MAKE_POOL;
        let made = call(CAP_ASID_CONTROL, make_pool, &[asid_pool, abi::WORD_BITS], &[pool_ut, ROOT]).label;
        self.check("MakePool", made);
        self.check("ASID", call(asid_pool, vm::ASID_POOL_ASSIGN, &[], &[root]).label);
        let mapped = vm::tables(p, &mut Slots(tables), root, TARGET_VADDR, 0);
        self.check("map the tables", u64::from(!mapped));
        self.check("frame", retype(p, vm::PAGE_TYPE, 0, ROOT, frame, 1));
        let rw = CapRights::READ_WRITE.word();
        self.check("map the frame", call(frame, vm::PAGE_MAP, &[TARGET_VADDR, rw, ATTR], &[root]).label);
        let moves = [(slot::VSPACE, root), (slot::ASID_POOL, asid_pool), (slot::FRAME_MAPPED, frame)];
        for (at, src) in moves {
            let label = self.move_in(at, src);
            self.check("move to the worker", label);
        }
        for k in 0..vm::LEVELS.len() as u64 {
            let label = self.move_in(slot::TABLES_MAPPED + k, tables + k);
            self.check("move a table to the worker", label);
        }
    }
}

/// Untyped Retype of `n` objects of `ty` (`bits`: size) into the CNode `dest` names itself
/// (depth 0), from its slot `at` on; the reply's label.
fn retype(ut: u64, ty: u64, bits: u64, dest: u64, at: u64, n: u64) -> u64 {
    call(ut, RETYPE, &[ty, bits, 0, 0, at, n], &[dest]).label
}
