//! The kernel context: global kernel state plus the DataGears of the invocation in progress.

use alloc::collections::BTreeMap;
use core::fmt;

use arrayvec::ArrayVec;

use gears::{Context, ContextMeta, Gear, ProcessId};

use abi::{MSG_MAX_EXTRA_CAPS, MSG_MAX_LENGTH, MessageInfo, Syscall};

use crate::arch::Arch;
use crate::cap::{Cap, ObjPtr, SlotRef, TCB_CNODE_ENTRIES};
use crate::cspace::CSpace;
use crate::error::SyscallError;
use crate::ioport::IoPortTable;
use crate::machine::MachineOps;
use crate::mem::PhysMem;
use crate::object::ObjectStore;
use crate::thread::Scheduler;
use crate::vspace::{AsidTable, Entry};

pub use crate::boot::{BootConfig, BootInfo, FIRST_UNTYPED_SLOT, ROOT_ASID};

/// A continuation kept in a DataGear: the gear a sub-chain (a lookup, a delete) goes to when done.
pub type Ret = Option<&'static Gear<Kernel>>;

/// The global kernel state: every slot (caps and CDT) and every live object.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct KernelState {
    /// Every slot.
    pub cspace: CSpace,
    /// Every live object.
    pub objects: ObjectStore,
    /// The IRQs that have a handler (`IRQSignal`); the rest are inactive.
    pub irqs: IrqTable,
    /// x86_64's I/O ports in use (by IOPort caps, or by the kernel itself).
    pub io_ports: IoPortTable,
    /// The ready queues.
    pub sched: Scheduler,
    /// The arch flavour: object-type numbers, arch labels, user address range.
    pub arch: Arch,
    /// The ASID table.
    pub asids: AsidTable,
    /// Physical memory, where threads' IPC buffers are.
    pub mem: PhysMem,
    /// The root CNode (and its radix) and root TCB boot made: where [`slots`](Self::slots)
    /// starts looking on the machine.
    pub roots: Option<(ObjPtr, u8, ObjPtr)>,
}

/// The IRQ state table (`intStateIRQTable`), as the set of IRQs in state `IRQSignal`.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct IrqTable {
    /// IRQs with a handler.
    pub active: alloc::collections::BTreeSet<u16>,
    /// The notification cap each IRQ signals (seL4's IRQ node slots), set by
    /// IRQHandler SetNotification. Kept here as plain data, not in the CDT.
    pub notification: alloc::collections::BTreeMap<u16, Cap>,
    /// IRQs masked until their handler acknowledges them (IRQHandler Ack).
    pub masked: alloc::collections::BTreeSet<u16>,
}

/// TCB slot indices (`tcb_cnode_index`).
pub mod tcb_slot {
    /// The thread's CSpace root (`tcbCTable`).
    pub const CTABLE: u64 = 0;
    /// The thread's VSpace root (`tcbVTable`).
    pub const VTABLE: u64 = 1;
    /// The master reply cap (`tcbReply`).
    pub const REPLY: u64 = 2;
    /// The caller's reply cap (`tcbCaller`).
    pub const CALLER: u64 = 3;
    /// The IPC buffer frame (`tcbBuffer`).
    pub const BUFFER: u64 = 4;
}

/// The message words of a request (`seL4_MsgMaxLength` at most).
pub type MessageWords = ArrayVec<u64, { MSG_MAX_LENGTH as usize }>;
/// The extra caps' cptrs of a request (`seL4_MsgMaxExtraCaps` at most).
pub type ExtraCptrs = ArrayVec<u64, { MSG_MAX_EXTRA_CAPS as usize }>;

/// What entered the kernel, as [`entry::handle`](crate::entry::handle) read it from the entering
/// thread's registers and IPC buffer: a system call's cap, invocation label, message words and
/// extra caps; an interrupt; a fault.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Request {
    /// The entering thread; its CTable slot is the CSpace root of every lookup.
    pub thread: ObjPtr,
    /// The invoked cap's address.
    pub cptr: u64,
    /// The invocation label (the MessageInfo's).
    pub label: u64,
    /// The MessageInfo word as the thread passed it.
    pub info: MessageInfo,
    /// The message words: the MessageInfo's length, cut to the four message registers when the
    /// thread has no IPC buffer (`handleInvocation`).
    pub mrs: MessageWords,
    /// The extra caps' cptrs, from the thread's IPC buffer (none without one).
    pub extra_cptrs: ExtraCptrs,
    /// The system call (`None`: an interrupt or a fault entered the kernel).
    pub syscall: Option<Syscall>,
    /// Whether the caller waits for a reply (`seL4_Call`).
    pub is_call: bool,
    /// The interrupt to handle, for [`HANDLE_INTERRUPT`](crate::interrupt::HANDLE_INTERRUPT)
    /// ([`IRQ_TIMER`](crate::interrupt::IRQ_TIMER) is the kernel's timer).
    pub irq: u16,
    /// The fault the thread took, for [`HANDLE_FAULT`](crate::fault::HANDLE_FAULT).
    pub fault: Option<crate::fault::Fault>,
}

impl Request {
    /// Makes this the empty request of a new entry of `thread`, in place (the message words
    /// are a kilobyte: they are cleared, not moved).
    pub fn reset(&mut self, thread: ObjPtr) {
        let Request { thread: t, cptr, label, info, mrs, extra_cptrs, syscall, is_call, irq, fault } = self;
        *t = thread;
        *cptr = 0;
        *label = 0;
        *info = MessageInfo::default();
        mrs.clear();
        extra_cptrs.clear();
        *syscall = None;
        *is_call = false;
        *irq = 0;
        *fault = None;
    }

    /// `getSyscallArg`: message word `i` (0 past the message: decode checks the length it
    /// needs first).
    pub fn mr(&self, i: usize) -> u64 {
        self.mrs.get(i).copied().unwrap_or(0)
    }
}

/// How an operation succeeded.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Done {
    /// The invocation completed.
    Ok,
    /// A lookup operation found this slot, with this many bits unresolved.
    Found {
        /// The slot.
        slot: SlotRef,
        /// Bits left (non-zero when the walk stopped at a non-CNode cap).
        bits_remaining: u64,
    },
    /// The system call left the caller blocked (on an endpoint, a notification or a reply) or
    /// stopped: the dispatcher's caller schedules another thread
    /// ([`Scheduler::choose_thread`]). Whoever wakes it later writes its message registers,
    /// MessageInfo and badge into its TCB.
    Blocked,
}

/// The invocation being decoded: the caps looked up and the slots and caps decode chose.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Invocation {
    /// The invoked cap and its slot.
    pub invoked: Option<(Cap, SlotRef)>,
    /// The extra caps and their slots, as looked up.
    pub extra_caps: ArrayVec<(Cap, SlotRef), { MSG_MAX_EXTRA_CAPS as usize }>,
    /// The destination (or target) slot of a CNode operation.
    pub dest: Option<SlotRef>,
    /// The source slot.
    pub src: Option<SlotRef>,
    /// The pivot slot (Rotate).
    pub pivot: Option<SlotRef>,
    /// The cap to write (Copy, Mint, Move, Mutate; Rotate's new source cap).
    pub new_cap: Cap,
    /// Rotate's new pivot cap.
    pub new_pivot_cap: Cap,
    /// The entry a Map invocation writes, as decode planned it.
    pub map: Option<MapPlan>,
    /// The new VSpace root cap and its source slot (TCB SetSpace, Configure).
    pub vroot: Option<(Cap, SlotRef)>,
    /// The new IPC buffer frame cap and its source slot (TCB Configure).
    pub buffer: Option<(Cap, SlotRef)>,
}

/// Where a Map invocation writes, and what: decided by decode, done by invoke.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MapPlan {
    /// The VSpace root.
    pub root: ObjPtr,
    /// The paging structure holding the entry.
    pub table: ObjPtr,
    /// The entry's index.
    pub index: u16,
    /// The entry.
    pub entry: Entry,
    /// The virtual address mapped.
    pub vaddr: u64,
}

/// Which lookup a [`LookupCursor`] is doing, which decides the error a fault becomes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum LookupPurpose {
    /// The invoked cap (`lookupCapAndSlot`): a fault is a cap fault.
    #[default]
    Invoked,
    /// An extra cap (`lookupExtraCaps`): a fault is a cap fault.
    Extra,
    /// A CNode operation's slot (`lookupSlotForCNodeOp`): `FailedLookup`, source or not.
    CNodeOp {
        /// `failedLookupWasSource`.
        source: bool,
    },
    /// A thread's fault handler (`sendFaultIPC`'s `lookupCap`): a failed lookup goes on to the
    /// continuation with no slot (a double fault), not out of the kernel.
    FaultHandler,
}

/// The cursor of `resolve_address_bits`: the CNode cap of the current level and the bits left.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct LookupCursor {
    /// The CNode cap of the level about to be resolved.
    pub node: Cap,
    /// The address being resolved.
    pub capptr: u64,
    /// Bits still to resolve.
    pub n_bits: u64,
    /// What the lookup is for.
    pub purpose: LookupPurpose,
    /// Where to go when the slot is found (`None`: leave the kernel with [`Done::Found`]).
    pub ret: Ret,
    /// The slot found.
    pub slot: Option<SlotRef>,
    /// Bits left unresolved when found.
    pub bits_remaining: u64,
    /// How many levels were resolved (for traces and tests).
    pub levels: u32,
}

/// The state of a `cteDelete` in progress: the exposed slot, and the one inner `cteDelete` of a
/// zombie's end slot (seL4's recursion is at most two deep).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct DeleteCursor {
    /// The slot being deleted (`cteDelete(slot, true)`).
    pub slot: Option<SlotRef>,
    /// The inner `cteDelete(endSlot, false)` of `reduceZombie`, if one is running.
    pub inner: Option<InnerDelete>,
    /// Where to go when the slot is empty (`None`: finish the invocation).
    pub ret: Ret,
}

/// An inner delete: the zombie end slot, and the zombie it reduces as it was when started.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct InnerDelete {
    /// `&ptr[n-1]`.
    pub end_slot: SlotRef,
    /// The outer zombie when the inner delete began (seL4 compares it afterwards).
    pub zombie: Cap,
}

/// The state of a `cteRevoke` in progress: only the slot; progress lives in the CDT.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct RevokeCursor {
    /// The slot whose descendants are being deleted.
    pub slot: Option<SlotRef>,
    /// Children deleted by this run (for tests; not needed for progress).
    pub deleted: u64,
}

/// The state of a `cancelAllIPC` or `cancelBadgedSends` loop: the endpoint (or notification)
/// whose queue it works on. `cancelAllIPC` keeps its progress in the queue itself (it empties
/// it); `cancelBadgedSends` runs to its end without a preemption point, as in seL4, and keeps
/// its place here.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct CancelCursor {
    /// The endpoint or notification.
    pub obj: Option<ObjPtr>,
    /// Whether `obj` is a notification.
    pub is_notification: bool,
    /// `cancelBadgedSends`: the badge, and the next thread it examines (`None`: the end).
    pub badged: Option<(u64, Option<ObjPtr>)>,
    /// Threads released by this run (for tests; not needed for progress).
    pub cancelled: u64,
}

/// The state of an Untyped Retype in progress.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct RetypeCursor {
    /// The untyped's slot.
    pub untyped: Option<SlotRef>,
    /// The untyped's base address, as decode saw it.
    pub region_base: u64,
    /// The untyped's size, as decode saw it.
    pub region_bits: u8,
    /// Whether the untyped is reset first (it had no children).
    pub reset: bool,
    /// Where the first object goes (aligned).
    pub base: u64,
    /// The object type (`seL4_ObjectType`).
    pub object_type: u64,
    /// The user size argument (radix of CNodes, size of untypeds).
    pub user_size: u64,
    /// log2 of each object's size.
    pub object_bits: u64,
    /// The destination CNode's slot 0.
    pub dest_cnode: ObjPtr,
    /// The first destination slot index.
    pub dest_offset: u64,
    /// How many objects.
    pub count: u64,
    /// How many are created so far.
    pub created: u64,
    /// Device memory.
    pub is_device: bool,
}

/// The kernel's context: the global state, and the context of the thread whose kernel entry
/// runs.
///
/// DataGears: `cspace`, `objects`, `irqs`, `io_ports`, `sched`, `arch`, `asids`, `mem` (global), `request`,
/// `invocation`, `lookup`, `delete`, `revoke`, `retype`, `cancel` (the entering thread's, in
/// [`ThreadContext`]), `machine` (the machine effects of this entry).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Kernel {
    /// The global kernel state.
    pub state: KernelState,
    /// The context of the thread whose kernel entry runs.
    pub thread: ThreadContext,
    /// The machine effects of this invocation, for the arch layer to apply.
    pub machine: MachineOps,
    /// Meta state: the entering thread (its process id) and, under `Mode::Resume`, the
    /// continuation of its preempted invocation.
    pub meta: ContextMeta<Kernel>,
    /// The contexts of other threads' invocations preempted under `Mode::Resume`, kept until
    /// their thread enters the kernel again (always empty under `Mode::Restart`, seL4's).
    pub suspended: BTreeMap<ObjPtr, Suspended>,
}

/// The DataGears of one thread's kernel entry: the request it made (its system call and
/// message), the invocation being decoded, and the cursors of the loops the invocation runs.
///
/// Under `Mode::Restart` (seL4's) a preempted entry's context is dropped and the thread makes
/// its call again, finding its progress in the kernel objects. Under `Mode::Resume` it is kept
/// across the preemption; the gears it resumes re-read every cap from its slot, so it stays
/// valid as long as only this context ran in between.
#[derive(Clone, Default, PartialEq, Eq, Hash, Debug)]
pub struct ThreadContext {
    /// The request being served.
    pub request: Request,
    /// The invocation being decoded.
    pub invocation: Invocation,
    /// The lookup cursor.
    pub lookup: LookupCursor,
    /// The delete cursor.
    pub delete: DeleteCursor,
    /// The revoke cursor.
    pub revoke: RevokeCursor,
    /// The retype cursor.
    pub retype: RetypeCursor,
    /// The cancel-IPC cursor.
    pub cancel: CancelCursor,
}

/// A thread's invocation preempted under `Mode::Resume` while another thread entered the kernel:
/// its context and its continuation.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Suspended {
    /// Its context.
    pub context: ThreadContext,
    /// Where it goes on.
    pub continuation: &'static Gear<Kernel>,
}

/// One `&mut` per DataGear of [`Kernel`], handed to stubs.
#[allow(missing_docs)]
pub struct KernelDataGears<'a> {
    pub cspace: &'a mut CSpace,
    pub objects: &'a mut ObjectStore,
    pub irqs: &'a mut IrqTable,
    pub io_ports: &'a mut IoPortTable,
    pub sched: &'a mut Scheduler,
    pub request: &'a mut Request,
    pub invocation: &'a mut Invocation,
    pub lookup: &'a mut LookupCursor,
    pub delete: &'a mut DeleteCursor,
    pub revoke: &'a mut RevokeCursor,
    pub retype: &'a mut RetypeCursor,
    pub cancel: &'a mut CancelCursor,
    pub mem: &'a mut PhysMem,
    pub arch: &'a mut Arch,
    pub asids: &'a mut AsidTable,
    pub machine: &'a mut MachineOps,
}

impl KernelState {
    /// Every non-empty slot, in address order (for checks: it reads memory, not an index).
    ///
    /// On the host model it reads every page the CSpace wrote, so a slot outside every live CNode
    /// and TCB shows up. On the machine (all of RAM would take too long) it reads the slots of
    /// the objects the caps lead to: from the root CNode and TCB, every CNode and TCB a cap found
    /// names, and every slot a found slot's CDT links name. A group of CNodes that only name each
    /// other, whose caps' CDT lists reach none of these, is not found there.
    pub fn slots(&self) -> alloc::vec::Vec<(SlotRef, crate::cspace::Cte)> {
        if !self.cspace.is_window() {
            return self.cspace.range(SlotRef(0), SlotRef(u64::MAX)).collect();
        }
        // The objects whose slots are read (or queued to be): start -> end of their slots.
        let mut scanned: BTreeMap<u64, u64> = BTreeMap::new();
        let mut objects: alloc::vec::Vec<(ObjPtr, u64)> = alloc::vec::Vec::new();
        fn add(
            scanned: &mut BTreeMap<u64, u64>,
            objects: &mut alloc::vec::Vec<(ObjPtr, u64)>,
            p: ObjPtr,
            n: u64,
        ) {
            if let alloc::collections::btree_map::Entry::Vacant(e) = scanned.entry(p.0) {
                e.insert(SlotRef::of(p, n).0);
                objects.push((p, n));
            }
        }
        if let Some((cn, radix, tcb)) = self.roots {
            add(&mut scanned, &mut objects, cn, 1u64 << radix);
            add(&mut scanned, &mut objects, tcb, TCB_CNODE_ENTRIES);
        }
        let mut out: alloc::vec::Vec<(SlotRef, crate::cspace::Cte)> = alloc::vec::Vec::new();
        let mut single: alloc::collections::BTreeSet<SlotRef> = alloc::collections::BTreeSet::new();
        let mut linked: alloc::vec::Vec<SlotRef> = alloc::vec::Vec::new();
        loop {
            let from = out.len();
            if let Some((p, n)) = objects.pop() {
                out.extend(self.cspace.range(SlotRef::of(p, 0), SlotRef::of(p, n)));
            } else if let Some(s) = linked.pop() {
                let cte = self.cspace.get(s);
                if !cte.cap.is_null() {
                    out.push((s, cte));
                }
            } else {
                break;
            }
            for &(_, cte) in out.iter().skip(from) {
                if let Some((p, k)) = crate::object::ObjKind::of_cap(&cte.cap)
                    && k.slot_count() > 0
                {
                    add(&mut scanned, &mut objects, p, k.slot_count());
                }
                for l in [cte.mdb.prev, cte.mdb.next].into_iter().flatten() {
                    let inside = scanned.range(..=l.0).next_back().is_some_and(|(_, &end)| l.0 < end);
                    if !inside && single.insert(l) {
                        linked.push(l);
                    }
                }
            }
        }
        // A slot read through a link may lie in an object found later.
        out.sort_unstable_by_key(|(s, _)| *s);
        out.dedup_by_key(|(s, _)| *s);
        out
    }
}

impl Context for Kernel {
    type Output = Done;
    type Error = SyscallError;
    type DataGears<'a> = KernelDataGears<'a>;

    #[inline]
    fn data_gears(&mut self) -> KernelDataGears<'_> {
        KernelDataGears {
            cspace: &mut self.state.cspace,
            objects: &mut self.state.objects,
            irqs: &mut self.state.irqs,
            io_ports: &mut self.state.io_ports,
            sched: &mut self.state.sched,
            request: &mut self.thread.request,
            invocation: &mut self.thread.invocation,
            lookup: &mut self.thread.lookup,
            delete: &mut self.thread.delete,
            revoke: &mut self.thread.revoke,
            retype: &mut self.thread.retype,
            cancel: &mut self.thread.cancel,
            mem: &mut self.state.mem,
            arch: &mut self.state.arch,
            asids: &mut self.state.asids,
            machine: &mut self.machine,
        }
    }

    fn meta(&self) -> &ContextMeta<Self> {
        &self.meta
    }

    fn meta_mut(&mut self) -> &mut ContextMeta<Self> {
        &mut self.meta
    }

    fn data_gear(&self, name: &str) -> Option<&dyn fmt::Debug> {
        Some(match name {
            "cspace" => &self.state.cspace,
            "objects" => &self.state.objects,
            "irqs" => &self.state.irqs,
            "io_ports" => &self.state.io_ports,
            "sched" => &self.state.sched,
            "request" => &self.thread.request,
            "invocation" => &self.thread.invocation,
            "lookup" => &self.thread.lookup,
            "delete" => &self.thread.delete,
            "revoke" => &self.thread.revoke,
            "retype" => &self.thread.retype,
            "cancel" => &self.thread.cancel,
            "mem" => &self.state.mem,
            "arch" => &self.state.arch,
            "asids" => &self.state.asids,
            "machine" => &self.machine,
            _ => return None,
        })
    }
}

impl KernelState {
    /// The CSpace root cap of `thread` (its CTable slot).
    pub fn cspace_root(&self, thread: ObjPtr) -> Cap {
        self.cspace.cap(SlotRef::of(thread, tcb_slot::CTABLE))
    }
}

impl Kernel {
    /// A kernel context around `state`, serving nothing yet.
    pub fn new(state: KernelState) -> Self {
        Kernel {
            state,
            thread: ThreadContext::default(),
            machine: MachineOps::default(),
            meta: ContextMeta::new(ProcessId(0)),
            suspended: BTreeMap::new(),
        }
    }

    /// Sets the request to serve next and clears the per-invocation DataGears.
    pub fn set_request(&mut self, request: Request) {
        self.thread.request = request;
        self.clear_invocation();
    }

    /// Clears the per-invocation DataGears (the state left by a finished or abandoned invocation).
    pub fn clear_invocation(&mut self) {
        let ThreadContext { request: _, invocation, lookup, delete, revoke, retype, cancel } =
            &mut self.thread;
        *invocation = Invocation::default();
        *lookup = LookupCursor::default();
        *delete = DeleteCursor::default();
        *revoke = RevokeCursor::default();
        *retype = RetypeCursor::default();
        *cancel = CancelCursor::default();
        self.machine = MachineOps::default();
    }
}

/// Slot `i` of the TCB at `tcb`, when `i` is one of its [`TCB_CNODE_ENTRIES`].
pub fn tcb_cte(tcb: ObjPtr, i: u64) -> Option<SlotRef> {
    (i < TCB_CNODE_ENTRIES).then(|| SlotRef::of(tcb, i))
}

#[cfg(test)]
mod tests {
    use core::sync::atomic::AtomicU64;

    use super::*;
    use crate::cdt::{cte_insert, insert_new_cap};
    use crate::mem::RamWindow;

    /// 1 MiB of "RAM" at 0x10_0000.
    static WORDS: [AtomicU64; 1 << 17] = [const { AtomicU64::new(0) }; 1 << 17];
    static RAM: [RamWindow; 1] = [RamWindow { base: 0x10_0000, words: &WORDS }];

    /// On the machine `slots` follows caps and CDT links from the root objects; it must find
    /// every slot the brute-force scan of all RAM finds, here: caps in a CNode only another
    /// CNode names, and a CNode whose only cap lives in itself but is a CDT child of a found one.
    #[test]
    fn machine_slots_find_every_slot_a_scan_of_ram_finds() {
        let untypeds = [(0x18_0000, 19, false)];
        let (mut st, info) = KernelState::boot_with(&BootConfig {
            arch: crate::arch::Arch::X86_64,
            root_radix: 8,
            root_tcb: 0x10_0000,
            root_cnode: 0x11_0000,
            untypeds: &untypeds,
            vspace_root: 0x12_0000,
            boot_entries: &[],
            asid_pool: 0x13_0000,
            memory: Some(&RAM),
            ipc_buffer: None,
            image: None,
            io_ports_in_use: &[],
        });
        let ut = SlotRef::of(info.root_cnode, info.untyped[0].0);
        let (a, b) = (ObjPtr(0x18_0000), ObjPtr(0x18_1000));
        for p in [a, b] {
            st.cspace.clear(p, 4 + crate::cap::SLOT_BITS);
        }
        st.cspace
            .set_cap(ut, Cap::Untyped { ptr: 0x18_0000, size_bits: 19, free_index: 0x500, is_device: false });
        // A in the root CNode; B's cap only in A; an endpoint cap only in B.
        insert_new_cap(&mut st.cspace, ut, SlotRef::of(info.root_cnode, 40), Cap::cnode(a, 4));
        insert_new_cap(&mut st.cspace, ut, SlotRef::of(a, 1), Cap::cnode(b, 4));
        insert_new_cap(&mut st.cspace, ut, SlotRef::of(b, 2), Cap::endpoint(ObjPtr(0x18_2000)));
        // C: its only cap in its own slot 0, reached only through the CDT list.
        let c = ObjPtr(0x18_4000);
        st.cspace.clear(c, 4 + crate::cap::SLOT_BITS);
        insert_new_cap(&mut st.cspace, ut, SlotRef::of(c, 0), Cap::cnode(c, 4));
        cte_insert(&mut st.cspace, Cap::endpoint(ObjPtr(0x18_2000)), SlotRef::of(b, 2), SlotRef::of(c, 3));
        let everything: alloc::vec::Vec<_> = st.cspace.range(SlotRef(0), SlotRef(u64::MAX)).collect();
        assert_eq!(st.slots(), everything);
        assert!(everything.iter().any(|(s, _)| *s == SlotRef::of(c, 3)));
        assert_eq!(crate::check_invariants(&st), Ok(()));
    }
}
