//! Kernel objects and the object store: objects exist only where untyped memory was retyped (or
//! where boot put them), keyed by physical address.

use alloc::collections::{BTreeMap, BTreeSet};
use core::fmt;
use core::hash::{BuildHasher, Hash, Hasher};

use foldhash::fast::FixedState;
use hashbrown::HashMap;

use crate::arch::{ASID_POOL_BITS, PAGE_TABLE_BITS, PtKind};
use crate::cap::{ENDPOINT_BITS, NOTIFICATION_BITS, ObjPtr, SLOT_BITS, TCB_BITS, TCB_CNODE_ENTRIES};
use crate::vspace::Entry;

/// A thread's scheduling state (`ThreadState_*`), with the blocking details seL4 keeps in the
/// thread state word (`blockingObject`, `blockingIPCBadge`, `blockingIPCCanGrant`, …).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum ThreadState {
    /// Not runnable (fresh, or suspended).
    #[default]
    Inactive,
    /// Runnable.
    Running,
    /// Runnable, and will re-execute its system call (seL4's `Restart`).
    Restart,
    /// Waiting in an endpoint's queue to receive.
    BlockedOnReceive {
        /// The endpoint.
        ep: ObjPtr,
        /// The receive cap's grant right (`blockingIPCCanGrant`): may the sender's caller cap grant.
        can_grant: bool,
    },
    /// Waiting in an endpoint's queue to send.
    BlockedOnSend {
        /// The endpoint.
        ep: ObjPtr,
        /// The badge of the cap it sends on.
        badge: u64,
        /// The cap's grant right.
        can_grant: bool,
        /// The cap's grant-reply right.
        can_grant_reply: bool,
        /// Whether it sent with `seL4_Call` (it then waits for a reply).
        is_call: bool,
    },
    /// Waiting for a reply after a Call (a reply cap to it is in the callee's caller slot).
    BlockedOnReply,
    /// Waiting in a notification's queue.
    BlockedOnNotification {
        /// The notification.
        ntfn: ObjPtr,
    },
    /// The idle thread.
    IdleThreadState,
}

impl ThreadState {
    /// `isRunnable`: Running or Restart.
    pub const fn is_runnable(&self) -> bool {
        matches!(self, ThreadState::Running | ThreadState::Restart)
    }

    /// `isStopped`: Inactive, or blocked on anything.
    pub const fn is_stopped(&self) -> bool {
        !matches!(self, ThreadState::Running | ThreadState::Restart | ThreadState::IdleThreadState)
    }

    /// The endpoint or notification whose queue the thread is in, if any.
    pub const fn queued_on(&self) -> Option<ObjPtr> {
        match *self {
            ThreadState::BlockedOnReceive { ep, .. } | ThreadState::BlockedOnSend { ep, .. } => Some(ep),
            ThreadState::BlockedOnNotification { ntfn } => Some(ntfn),
            _ => None,
        }
    }
}

/// Two links of an intrusive doubly linked queue of TCBs (`tcbEPNext`/`tcbEPPrev`, …).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Links {
    /// The previous thread in the queue.
    pub prev: Option<ObjPtr>,
    /// The next thread in the queue.
    pub next: Option<ObjPtr>,
}

/// A queue of TCBs linked through their [`Links`] (`tcb_queue_t`): head and tail.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct TcbQueue {
    /// The first thread.
    pub head: Option<ObjPtr>,
    /// The last thread.
    pub tail: Option<ObjPtr>,
}

impl TcbQueue {
    /// Whether no thread is queued.
    pub const fn is_empty(&self) -> bool {
        self.head.is_none()
    }
}

/// The most registers a TCB keeps: the larger arch's `seL4_UserContext` (riscv64's 32 words;
/// x86_64 uses the first 20).
pub const N_REGISTERS: usize = abi::riscv64::REGISTER_COUNT;
const _: () = assert!(abi::x86_64::REGISTER_COUNT <= N_REGISTERS);

/// A TCB's object state (its CNode part lives in the [`CSpace`](crate::CSpace) slots).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Tcb {
    /// The scheduling state.
    pub state: ThreadState,
    /// The user registers, in the arch's `seL4_UserContext` order ([`abi::x86_64::reg`],
    /// [`abi::riscv64::reg`]); the instruction pointer there is seL4's FaultIP: the instruction
    /// that last entered the kernel, where a `Restart` thread goes back to.
    pub registers: [u64; N_REGISTERS],
    /// seL4's NextIP: where the thread goes on when it runs next (after a system call, the
    /// instruction after it). [`activate_thread`](crate::entry::activate_thread) sets it to
    /// FaultIP for a `Restart` thread, which so makes its call again.
    pub next_ip: u64,
    /// `tcbPriority` (0..=255).
    pub priority: u8,
    /// `tcbMCP`: the highest priority it may give a thread.
    pub mcp: u8,
    /// `tcbBoundNotification`.
    pub bound_notification: Option<ObjPtr>,
    /// `tcbFaultHandler`: a cptr in its own CSpace.
    pub fault_handler: u64,
    /// Its IPC buffer's user address (`tcbIPCBuffer`), set by SetIPCBuffer.
    pub ipc_buffer_ptr: u64,
    /// Its links in an endpoint's or notification's queue (`tcbEPNext`/`tcbEPPrev`).
    pub ep_links: Links,
    /// Its links in its priority's ready queue (`tcbSchedNext`/`tcbSchedPrev`).
    pub sched_links: Links,
    /// Whether it is in a ready queue (`ThreadState_TCBQueued`).
    pub queued: bool,
    /// Timer ticks used of its current time slice (seL4 counts `tcbTimeSlice` down instead).
    pub ticks: u64,
    /// The fault it is sending or waiting to have answered (`tcbFault`, with
    /// `tcbLookupFailure` inside a cap fault); `None` is seL4's NullFault.
    pub fault: Option<crate::fault::Fault>,
}

/// An endpoint's state (`EPState_*`): who, if anyone, waits in its queue.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum EpState {
    /// No one waits.
    #[default]
    Idle,
    /// Senders wait.
    Send,
    /// Receivers wait.
    Recv,
}

/// An endpoint object (`endpoint_t`): its state and its queue.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Endpoint {
    /// Idle, Send or Recv.
    pub state: EpState,
    /// The waiting threads, in order.
    pub queue: TcbQueue,
    /// A preempted `cancelBadgedSends` in progress: its badge and the next thread it examines
    /// (`None`: the end of the queue). Kept here so a restarted cancel carries on where it stopped.
    pub cancel_badged: Option<(u64, Option<ObjPtr>)>,
}

/// A notification's state (`NtfnState_*`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum NtfnState {
    /// Nothing pending, no one waits.
    #[default]
    Idle,
    /// Threads wait.
    Waiting,
    /// A signal is pending (`ntfnMsgIdentifier` holds the OR of its badges).
    Active,
}

/// A notification object (`notification_t`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Notification {
    /// Idle, Waiting or Active.
    pub state: NtfnState,
    /// The waiting threads.
    pub queue: TcbQueue,
    /// The pending badges, OR-ed (`ntfnMsgIdentifier`).
    pub msg_identifier: u64,
    /// The TCB it is bound to (`ntfnBoundTCB`).
    pub bound_tcb: Option<ObjPtr>,
}

/// A kernel object. Slots of CNodes and TCBs are kept in the [`CSpace`](crate::CSpace), not here.
// Objects live in a map and are read in place; boxing the TCB would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Object {
    /// An endpoint.
    Endpoint(Endpoint),
    /// A notification.
    Notification(Notification),
    /// A CNode of `2^radix` slots.
    CNode {
        /// log2 of the number of slots.
        radix: u8,
    },
    /// A thread control block.
    Tcb(Tcb),
    /// A frame of memory.
    Frame {
        /// log2 of its size.
        size_bits: u8,
    },
    /// A paging structure of 512 entries; only the present ones are kept.
    PageTable {
        /// Which kind (x86_64: which level).
        kind: PtKind,
        /// The present entries, by index.
        entries: BTreeMap<u16, Entry>,
    },
    /// An ASID pool: the VSpace root of each ASID it has given out, by its low bits.
    AsidPool {
        /// The assigned ASIDs' roots, by `ASID_LOW(asid)`.
        entries: BTreeMap<u16, ObjPtr>,
    },
}

impl Object {
    /// log2 of the object's size in bytes.
    pub const fn size_bits(&self) -> u64 {
        match self {
            Object::Endpoint(_) => ENDPOINT_BITS as u64,
            Object::Notification(_) => NOTIFICATION_BITS as u64,
            Object::CNode { radix } => *radix as u64 + SLOT_BITS as u64,
            Object::Tcb(_) => TCB_BITS as u64,
            Object::Frame { size_bits } => *size_bits as u64,
            Object::PageTable { .. } => PAGE_TABLE_BITS as u64,
            Object::AsidPool { .. } => ASID_POOL_BITS as u64,
        }
    }

    /// How many slots the object holds (CNode: 2^radix, TCB: 5, others: 0).
    pub const fn slot_count(&self) -> u64 {
        match self {
            Object::CNode { radix } => 1u64 << *radix,
            Object::Tcb(_) => TCB_CNODE_ENTRIES,
            _ => 0,
        }
    }
}

/// Every live kernel object, by physical address.
///
/// The objects live in a hash table with a fixed seed, so a gear reaches one in constant time
/// however many there are; their addresses are also kept in order, for the ordered questions only
/// the invariant checker asks (`at_or_below`, `range`, `iter`), at O(log n) on insert and remove.
/// `Hash` adds up the entries' hashes, so equal stores hash alike whatever their history.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ObjectStore {
    objects: HashMap<ObjPtr, Object, FixedState>,
    order: BTreeSet<ObjPtr>,
}

impl Hash for ObjectStore {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let fixed = FixedState::default();
        let sum = self.objects.iter().fold(0u64, |acc, (p, o)| acc.wrapping_add(fixed.hash_one((p, o))));
        state.write_u64(sum);
        state.write_usize(self.objects.len());
    }
}

impl fmt::Debug for ObjectStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl ObjectStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The object at `ptr`, if one lives there.
    pub fn get(&self, ptr: ObjPtr) -> Option<&Object> {
        self.objects.get(&ptr)
    }

    /// The object at `ptr`, to change.
    pub fn get_mut(&mut self, ptr: ObjPtr) -> Option<&mut Object> {
        self.objects.get_mut(&ptr)
    }

    /// The TCB at `ptr`, to change, if a TCB lives there.
    pub fn tcb_mut(&mut self, ptr: ObjPtr) -> Option<&mut Tcb> {
        match self.objects.get_mut(&ptr) {
            Some(Object::Tcb(t)) => Some(t),
            _ => None,
        }
    }

    /// The TCB at `ptr`, if a TCB lives there.
    pub fn tcb(&self, ptr: ObjPtr) -> Option<&Tcb> {
        match self.objects.get(&ptr) {
            Some(Object::Tcb(t)) => Some(t),
            _ => None,
        }
    }

    /// The endpoint at `ptr`, if one lives there.
    pub fn endpoint(&self, ptr: ObjPtr) -> Option<&Endpoint> {
        match self.objects.get(&ptr) {
            Some(Object::Endpoint(e)) => Some(e),
            _ => None,
        }
    }

    /// The endpoint at `ptr`, to change.
    pub fn endpoint_mut(&mut self, ptr: ObjPtr) -> Option<&mut Endpoint> {
        match self.objects.get_mut(&ptr) {
            Some(Object::Endpoint(e)) => Some(e),
            _ => None,
        }
    }

    /// The notification at `ptr`, if one lives there.
    pub fn notification(&self, ptr: ObjPtr) -> Option<&Notification> {
        match self.objects.get(&ptr) {
            Some(Object::Notification(n)) => Some(n),
            _ => None,
        }
    }

    /// The notification at `ptr`, to change.
    pub fn notification_mut(&mut self, ptr: ObjPtr) -> Option<&mut Notification> {
        match self.objects.get_mut(&ptr) {
            Some(Object::Notification(n)) => Some(n),
            _ => None,
        }
    }

    /// The paging structure at `ptr`, if one lives there: its kind and entries.
    pub fn page_table(&self, ptr: ObjPtr) -> Option<(PtKind, &BTreeMap<u16, Entry>)> {
        match self.objects.get(&ptr) {
            Some(Object::PageTable { kind, entries }) => Some((*kind, entries)),
            _ => None,
        }
    }

    /// The entries of the paging structure at `ptr`, to change.
    pub fn page_table_mut(&mut self, ptr: ObjPtr) -> Option<&mut BTreeMap<u16, Entry>> {
        match self.objects.get_mut(&ptr) {
            Some(Object::PageTable { entries, .. }) => Some(entries),
            _ => None,
        }
    }

    /// The entries of the ASID pool at `ptr`, if one lives there.
    pub fn asid_pool(&self, ptr: ObjPtr) -> Option<&BTreeMap<u16, ObjPtr>> {
        match self.objects.get(&ptr) {
            Some(Object::AsidPool { entries }) => Some(entries),
            _ => None,
        }
    }

    /// The entries of the ASID pool at `ptr`, to change.
    pub fn asid_pool_mut(&mut self, ptr: ObjPtr) -> Option<&mut BTreeMap<u16, ObjPtr>> {
        match self.objects.get_mut(&ptr) {
            Some(Object::AsidPool { entries }) => Some(entries),
            _ => None,
        }
    }

    /// Makes an object live at `ptr` (retype or boot).
    pub fn insert(&mut self, ptr: ObjPtr, obj: Object) {
        self.objects.insert(ptr, obj);
        self.order.insert(ptr);
    }

    /// Ends an object's life (its last cap was finalised).
    pub fn remove(&mut self, ptr: ObjPtr) -> Option<Object> {
        self.order.remove(&ptr);
        self.objects.remove(&ptr)
    }

    /// The live object with the greatest address `<= addr` (the only one that can contain it).
    pub fn at_or_below(&self, addr: u64) -> Option<(ObjPtr, &Object)> {
        let p = *self.order.range(..=ObjPtr(addr)).next_back()?;
        self.objects.get(&p).map(|o| (p, o))
    }

    /// Live objects with addresses in `[from, to)`, in address order.
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = (ObjPtr, &Object)> + '_ {
        let to = to.max(from);
        self.order.range(ObjPtr(from)..ObjPtr(to)).filter_map(|p| self.objects.get(p).map(|o| (*p, o)))
    }

    /// All live objects, by address.
    pub fn iter(&self) -> impl Iterator<Item = (ObjPtr, &Object)> + '_ {
        self.order.iter().filter_map(|p| self.objects.get(p).map(|o| (*p, o)))
    }

    /// How many objects live.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether no object lives.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}
