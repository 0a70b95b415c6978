//! The kernel context: global kernel state plus the DataGears of the invocation in progress.

use alloc::vec::Vec;
use core::fmt;

use gears::{Context, ContextMeta, Gear, ProcessId};

use abi::Syscall;

use crate::arch::Arch;
use crate::cap::{Cap, ObjPtr, SlotRef, TCB_CNODE_ENTRIES};
use crate::cspace::CSpace;
use crate::error::SyscallError;
use crate::machine::MachineOps;
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
    /// The ready queues.
    pub sched: Scheduler,
    /// The arch flavour: object-type numbers, arch labels, user address range.
    pub arch: Arch,
    /// The ASID table.
    pub asids: AsidTable,
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

/// What a thread asked of the kernel: invoke the cap at `cptr` with a label, message registers and
/// extra caps (seL4_Call's arguments after MessageInfo decoding).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Request {
    /// The calling thread; its CTable slot is the CSpace root of every lookup.
    pub thread: ObjPtr,
    /// The invoked cap's address.
    pub cptr: u64,
    /// The invocation label.
    pub label: u64,
    /// The message registers (their number is the message length).
    pub mrs: Vec<u64>,
    /// The extra caps' addresses (seL4 uses at most 3).
    pub extra_cptrs: Vec<u64>,
    /// The system call (`None`: not a system call, but an interrupt, a fault, or an invocation
    /// run directly), read by `handle_syscall`.
    pub syscall: Option<Syscall>,
    /// The MessageInfo word, read by `handle_syscall` (which sets `label`, and cuts `mrs` and
    /// `extra_cptrs` to its length and extra-cap count).
    pub info: u64,
    /// Whether the caller waits for a reply (`seL4_Call`); set by `handle_syscall`.
    pub is_call: bool,
    /// The interrupt to handle, for [`HANDLE_INTERRUPT`](crate::interrupt::HANDLE_INTERRUPT)
    /// ([`IRQ_TIMER`](crate::interrupt::IRQ_TIMER) is the kernel's timer).
    pub irq: u16,
    /// The fault the thread took, for [`HANDLE_FAULT`](crate::fault::HANDLE_FAULT).
    pub fault: Option<crate::fault::Fault>,
}

/// The reply the kernel writes for the caller (`replyFromKernel`): MessageInfo and message words.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ReplyMsg {
    /// The MessageInfo word of the reply.
    pub info: u64,
    /// The message words (registers, then IPC buffer).
    pub mrs: Vec<u64>,
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
    pub extra_caps: Vec<(Cap, SlotRef)>,
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
/// whose queue it empties; the progress itself is kept in that object's queue.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct CancelCursor {
    /// The endpoint or notification.
    pub obj: Option<ObjPtr>,
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

/// The kernel's context: global state, the current request and the DataGears of its invocation.
///
/// DataGears: `cspace`, `objects`, `irqs`, `sched` (global), `request`, `invocation`, `lookup`, `delete`,
/// `revoke`, `retype`, `cancel`, `reply` (per invocation). Under `Mode::Resume` the cursors are kept across a preemption; the
/// gears they resume re-read every cap from its slot, so they stay valid as long as only this
/// context ran in between (one kernel, one invocation at a time, as in seL4).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Kernel {
    /// The global kernel state.
    pub state: KernelState,
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
    /// The reply to the caller.
    pub reply: ReplyMsg,
    /// The machine effects of this invocation, for the arch layer to apply.
    pub machine: MachineOps,
    /// Meta state.
    pub meta: ContextMeta<Kernel>,
}

/// One `&mut` per DataGear of [`Kernel`], handed to stubs.
#[allow(missing_docs)]
pub struct KernelDataGears<'a> {
    pub cspace: &'a mut CSpace,
    pub objects: &'a mut ObjectStore,
    pub irqs: &'a mut IrqTable,
    pub sched: &'a mut Scheduler,
    pub request: &'a mut Request,
    pub invocation: &'a mut Invocation,
    pub lookup: &'a mut LookupCursor,
    pub delete: &'a mut DeleteCursor,
    pub revoke: &'a mut RevokeCursor,
    pub retype: &'a mut RetypeCursor,
    pub cancel: &'a mut CancelCursor,
    pub reply: &'a mut ReplyMsg,
    pub arch: &'a mut Arch,
    pub asids: &'a mut AsidTable,
    pub machine: &'a mut MachineOps,
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
            sched: &mut self.state.sched,
            request: &mut self.request,
            invocation: &mut self.invocation,
            lookup: &mut self.lookup,
            delete: &mut self.delete,
            revoke: &mut self.revoke,
            retype: &mut self.retype,
            cancel: &mut self.cancel,
            reply: &mut self.reply,
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
            "sched" => &self.state.sched,
            "request" => &self.request,
            "invocation" => &self.invocation,
            "lookup" => &self.lookup,
            "delete" => &self.delete,
            "revoke" => &self.revoke,
            "retype" => &self.retype,
            "cancel" => &self.cancel,
            "reply" => &self.reply,
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
            request: Request::default(),
            invocation: Invocation::default(),
            lookup: LookupCursor::default(),
            delete: DeleteCursor::default(),
            revoke: RevokeCursor::default(),
            retype: RetypeCursor::default(),
            cancel: CancelCursor::default(),
            reply: ReplyMsg::default(),
            machine: MachineOps::default(),
            meta: ContextMeta::new(ProcessId(0)),
        }
    }

    /// Sets the request to serve next and clears the per-invocation DataGears.
    pub fn set_request(&mut self, request: Request) {
        self.request = request;
        self.clear_invocation();
    }

    /// Clears the per-invocation DataGears (the state left by a finished or abandoned invocation).
    pub fn clear_invocation(&mut self) {
        self.invocation = Invocation::default();
        self.lookup = LookupCursor::default();
        self.delete = DeleteCursor::default();
        self.revoke = RevokeCursor::default();
        self.retype = RetypeCursor::default();
        self.cancel = CancelCursor::default();
        self.reply = ReplyMsg::default();
        self.machine = MachineOps::default();
    }
}

/// Slot `i` of the TCB at `tcb`, when `i` is one of its [`TCB_CNODE_ENTRIES`].
pub fn tcb_cte(tcb: ObjPtr, i: u64) -> Option<SlotRef> {
    (i < TCB_CNODE_ENTRIES).then(|| SlotRef::of(tcb, i))
}
