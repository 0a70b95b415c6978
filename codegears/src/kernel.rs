//! The kernel context: global kernel state plus the DataGears of the invocation in progress.

use alloc::vec::Vec;
use core::fmt;

use gears::{Context, ContextMeta, Gear, ProcessId};

use crate::cap::{Cap, ObjPtr, SlotRef, TCB_CNODE_ENTRIES};
use crate::cspace::{CSpace, Cte, MdbNode};
use crate::error::SyscallError;
use crate::object::{Object, ObjectStore, Tcb, ThreadState};
use crate::thread::{MAX_PRIO, Scheduler, sched_append, setup_reply_master};

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

/// seL4's invocation labels (non-MCS, uniprocessor, no hardware debug API).
pub mod label {
    /// `UntypedRetype`.
    pub const UNTYPED_RETYPE: u64 = 1;
    /// `TCBReadRegisters`.
    pub const TCB_READ_REGISTERS: u64 = 2;
    /// `TCBWriteRegisters`.
    pub const TCB_WRITE_REGISTERS: u64 = 3;
    /// `TCBCopyRegisters`.
    pub const TCB_COPY_REGISTERS: u64 = 4;
    /// `TCBConfigure`.
    pub const TCB_CONFIGURE: u64 = 5;
    /// `TCBSetPriority`.
    pub const TCB_SET_PRIORITY: u64 = 6;
    /// `TCBSetMCPriority`.
    pub const TCB_SET_MC_PRIORITY: u64 = 7;
    /// `TCBSetSchedParams`.
    pub const TCB_SET_SCHED_PARAMS: u64 = 8;
    /// `TCBSetIPCBuffer`.
    pub const TCB_SET_IPC_BUFFER: u64 = 9;
    /// `TCBSetSpace`.
    pub const TCB_SET_SPACE: u64 = 10;
    /// `TCBSuspend`.
    pub const TCB_SUSPEND: u64 = 11;
    /// `TCBResume`.
    pub const TCB_RESUME: u64 = 12;
    /// `TCBBindNotification`.
    pub const TCB_BIND_NOTIFICATION: u64 = 13;
    /// `TCBUnbindNotification`.
    pub const TCB_UNBIND_NOTIFICATION: u64 = 14;
    /// `CNodeRevoke`, the first CNode label.
    pub const CNODE_REVOKE: u64 = 17;
    /// `CNodeDelete`.
    pub const CNODE_DELETE: u64 = 18;
    /// `CNodeCancelBadgedSends`.
    pub const CNODE_CANCEL_BADGED_SENDS: u64 = 19;
    /// `CNodeCopy`.
    pub const CNODE_COPY: u64 = 20;
    /// `CNodeMint`.
    pub const CNODE_MINT: u64 = 21;
    /// `CNodeMove`.
    pub const CNODE_MOVE: u64 = 22;
    /// `CNodeMutate`.
    pub const CNODE_MUTATE: u64 = 23;
    /// `CNodeRotate`.
    pub const CNODE_ROTATE: u64 = 24;
    /// `CNodeSaveCaller`, the last CNode label.
    pub const CNODE_SAVE_CALLER: u64 = 25;
    /// `IRQIssueIRQHandler`.
    pub const IRQ_ISSUE_IRQ_HANDLER: u64 = 26;
    /// `IRQAckIRQ`.
    pub const IRQ_ACK_IRQ: u64 = 27;
    /// `IRQSetIRQHandler` (SetNotification).
    pub const IRQ_SET_IRQ_HANDLER: u64 = 28;
    /// `IRQClearIRQHandler`.
    pub const IRQ_CLEAR_IRQ_HANDLER: u64 = 29;
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
    /// The system call number (`seL4_Syscall_ID`), read by `handle_syscall`.
    pub syscall: i64,
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
            _ => return None,
        })
    }
}

/// Where boot puts things, and what it gave the root task.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct BootInfo {
    /// The root task's TCB.
    pub root_tcb: ObjPtr,
    /// The root CNode.
    pub root_cnode: ObjPtr,
    /// Its radix; its cap's guard makes every 64-bit cptr resolve in one level.
    pub root_radix: u8,
    /// The first empty slot of the root CNode.
    pub first_free: u64,
    /// The untypeds: (cptr, base, size_bits).
    pub untyped: Vec<(u64, u64, u8)>,
}

/// Root CNode slot numbers of the boot caps (`seL4_RootCNodeCapSlots`).
pub mod root_slot {
    /// `seL4_CapInitThreadTCB`.
    pub const TCB: u64 = 1;
    /// `seL4_CapInitThreadCNode`.
    pub const CNODE: u64 = 2;
    /// `seL4_CapIRQControl`.
    pub const IRQ_CONTROL: u64 = 4;
    /// `seL4_CapDomain`.
    pub const DOMAIN: u64 = 11;
    /// The first slot boot leaves empty for the untypeds.
    pub const FIRST_UNTYPED: u64 = 16;
}

/// Where boot places the root TCB and root CNode (outside every untyped).
const BOOT_TCB: u64 = 0x0010_0000;
const BOOT_CNODE: u64 = 0x0100_0000;
/// Untyped memory starts here; each untyped is aligned to its size.
const UNTYPED_BASE: u64 = 0x1_0000_0000;

impl KernelState {
    /// seL4's boot, modelled: a root TCB and root CNode (radix `root_radix`, 4..=20) with the boot
    /// caps, and one untyped cap per entry of `untyped_bits` (each `MIN_UNTYPED_BITS..=40`).
    pub fn boot(root_radix: u8, untyped_bits: &[u8]) -> (KernelState, BootInfo) {
        let root_radix = root_radix.clamp(4, 20);
        let mut st = KernelState::default();
        let tcb = ObjPtr(BOOT_TCB);
        let cn = ObjPtr(BOOT_CNODE);
        let root = Tcb { state: ThreadState::Running, priority: MAX_PRIO, mcp: MAX_PRIO, ..Tcb::default() };
        st.objects.insert(tcb, Object::Tcb(root));
        sched_append(&mut st.objects, &mut st.sched, tcb);
        setup_reply_master(&mut st.cspace, tcb);
        st.objects.insert(cn, Object::CNode { radix: root_radix });
        let root_mdb = MdbNode { revocable: true, first_badged: true, ..MdbNode::default() };
        let cn_cap = Cap::CNode { ptr: cn, radix: root_radix, guard: 0, guard_size: 64 - root_radix };
        let put = |st: &mut KernelState, i: u64, cap: Cap| {
            st.cspace.set(SlotRef::of(cn, i), Cte { cap, mdb: root_mdb });
        };
        put(&mut st, root_slot::TCB, Cap::Thread { ptr: tcb });
        put(&mut st, root_slot::CNODE, cn_cap);
        put(&mut st, root_slot::IRQ_CONTROL, Cap::IrqControl);
        put(&mut st, root_slot::DOMAIN, Cap::Domain);
        crate::cdt::cte_insert(
            &mut st.cspace,
            cn_cap,
            SlotRef::of(cn, root_slot::CNODE),
            SlotRef::of(tcb, tcb_slot::CTABLE),
        );
        let mut untyped = Vec::new();
        let mut base = UNTYPED_BASE;
        let mut i = root_slot::FIRST_UNTYPED;
        for &bits in untyped_bits.iter().take(1 << (root_radix - 1)) {
            let bits = bits.clamp(crate::cap::MIN_UNTYPED_BITS, 40);
            base = base.next_multiple_of(1u64 << bits);
            put(&mut st, i, Cap::Untyped { ptr: base, size_bits: bits, free_index: 0, is_device: false });
            untyped.push((i, base, bits));
            base += 1u64 << bits;
            i += 1;
        }
        let info = BootInfo { root_tcb: tcb, root_cnode: cn, root_radix, first_free: i, untyped };
        (st, info)
    }

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
    }
}

/// Slot `i` of the TCB at `tcb`, when `i` is one of its [`TCB_CNODE_ENTRIES`].
pub fn tcb_cte(tcb: ObjPtr, i: u64) -> Option<SlotRef> {
    (i < TCB_CNODE_ENTRIES).then(|| SlotRef::of(tcb, i))
}
