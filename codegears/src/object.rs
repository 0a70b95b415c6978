//! Kernel objects and the object store: each object lives in its own memory (the untyped's that
//! was retyped, or where boot put it), read and written through [`ObjectStore`].

use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

use crate::arch::{ASID_POOL_BITS, Arch, PAGE_TABLE_BITS, PtKind};
use crate::cap::{ENDPOINT_BITS, NOTIFICATION_BITS, ObjPtr, SLOT_BITS, TCB_BITS, TCB_CNODE_ENTRIES};
use crate::cap_words::PADDR_LIMIT;
use crate::mem::PhysMem;
use crate::obj_words::{TCB_FIELDS_OFFSET, TCB_WORDS, at};
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
    /// `tcbFlags` (TCB SetFlags): [`abi::tcb::FLAG_FPU_DISABLED`].
    pub flags: u64,
    /// Its links in the list of every TCB (`tcbDebugPrev`/`tcbDebugNext`, seL4's debug build),
    /// which DebugDumpScheduler prints.
    pub debug_links: Links,
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

/// What lives at an address, as its caps say: the kind of object and its size. The kernel itself
/// never asks (it reaches objects through caps and the links between them); the invariant
/// checker gathers these from the caps to know which objects are live.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ObjKind {
    /// An endpoint.
    Endpoint,
    /// A notification.
    Notification,
    /// A CNode of `2^radix` slots.
    CNode {
        /// log2 of the number of slots.
        radix: u8,
    },
    /// A thread control block.
    Tcb,
    /// A frame of memory.
    Frame {
        /// log2 of its size.
        size_bits: u8,
    },
    /// A paging structure of 512 entries.
    PageTable {
        /// Which kind (x86_64: which level).
        kind: PtKind,
    },
    /// An ASID pool.
    AsidPool,
}

impl ObjKind {
    /// The object `cap` names and its kind, for caps that name an object (a reply cap names
    /// its thread's TCB, a Zombie the CNode or TCB being deleted).
    pub const fn of_cap(cap: &crate::cap::Cap) -> Option<(ObjPtr, ObjKind)> {
        use crate::cap::{Cap, ZombieType};
        Some(match *cap {
            Cap::Endpoint { ptr, .. } => (ptr, ObjKind::Endpoint),
            Cap::Notification { ptr, .. } => (ptr, ObjKind::Notification),
            Cap::CNode { ptr, radix, .. } | Cap::Zombie { ptr, kind: ZombieType::CNode(radix), .. } => {
                (ptr, ObjKind::CNode { radix })
            }
            Cap::Thread { ptr }
            | Cap::Reply { tcb: ptr, .. }
            | Cap::Zombie { ptr, kind: ZombieType::Tcb, .. } => (ptr, ObjKind::Tcb),
            Cap::Frame { ptr, size_bits, .. } => (ptr, ObjKind::Frame { size_bits }),
            Cap::PageTable { ptr, kind, .. } => (ptr, ObjKind::PageTable { kind }),
            Cap::AsidPool { ptr, .. } => (ptr, ObjKind::AsidPool),
            _ => return None,
        })
    }

    /// log2 of the object's size in bytes.
    pub const fn size_bits(&self) -> u64 {
        match self {
            ObjKind::Endpoint => ENDPOINT_BITS as u64,
            ObjKind::Notification => NOTIFICATION_BITS as u64,
            ObjKind::CNode { radix } => *radix as u64 + SLOT_BITS as u64,
            ObjKind::Tcb => TCB_BITS as u64,
            ObjKind::Frame { size_bits } => *size_bits as u64,
            ObjKind::PageTable { .. } => PAGE_TABLE_BITS as u64,
            ObjKind::AsidPool => ASID_POOL_BITS as u64,
        }
    }

    /// How many slots the object holds (CNode: 2^radix, TCB: 5, others: 0).
    pub const fn slot_count(&self) -> u64 {
        match self {
            ObjKind::CNode { radix } => 1u64 << *radix,
            ObjKind::Tcb => TCB_CNODE_ENTRIES,
            _ => 0,
        }
    }
}

/// An object's fields read from memory, to change and write back: the value is written to its
/// object's memory when the guard is dropped.
pub struct ObjMut<'a, T: InMemory> {
    mem: &'a mut PhysMem,
    at: ObjPtr,
    value: T,
}

impl<T: InMemory> Deref for ObjMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: InMemory> DerefMut for ObjMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: InMemory> ObjMut<'_, T> {
    /// Changes the object with `f` and writes it back now.
    #[inline]
    pub fn set(mut self, f: impl FnOnce(&mut T)) {
        f(&mut self.value);
    }
}

impl<T: InMemory> Drop for ObjMut<'_, T> {
    fn drop(&mut self) {
        self.value.store(self.mem, self.at);
    }
}

/// An object kept in its own memory ([`crate::obj_words`]).
pub trait InMemory: Sized {
    /// The object at `at`, read from `mem`.
    fn load(mem: &PhysMem, at: ObjPtr) -> Self;
    /// Writes the object at `at` into `mem`.
    fn store(&self, mem: &mut PhysMem, at: ObjPtr);
}

impl InMemory for Tcb {
    #[inline]
    fn load(mem: &PhysMem, at: ObjPtr) -> Self {
        Tcb::from_words(&mem.read_words::<TCB_WORDS>(at.0 + TCB_FIELDS_OFFSET))
    }
    #[inline]
    fn store(&self, mem: &mut PhysMem, at: ObjPtr) {
        mem.write_words(at.0 + TCB_FIELDS_OFFSET, self.to_words());
    }
}

impl InMemory for Endpoint {
    #[inline]
    fn load(mem: &PhysMem, at: ObjPtr) -> Self {
        Endpoint::from_words(mem.read_words(at.0))
    }
    #[inline]
    fn store(&self, mem: &mut PhysMem, at: ObjPtr) {
        mem.write_words(at.0, self.to_words());
    }
}

impl InMemory for Notification {
    #[inline]
    fn load(mem: &PhysMem, at: ObjPtr) -> Self {
        Notification::from_words(mem.read_words(at.0))
    }
    #[inline]
    fn store(&self, mem: &mut PhysMem, at: ObjPtr) {
        mem.write_words(at.0, self.to_words());
    }
}

/// The kernel's objects, each in its own memory: an endpoint's queue in its 16 bytes, a TCB's
/// fields beside its slots, an ASID pool's roots in its page ([`crate::obj_words`]). The store
/// holds no record of which objects live where: the kernel reaches an object only through a cap
/// or a link that names it, as seL4 does, and a pointer it is given is the object's by the
/// invariants the checker keeps ([`crate::invariants`]).
///
/// On the host model the memory is this DataGear's own (it holds the objects' fields and the
/// paging structures' entries; the [`CSpace`](crate::CSpace) holds their slots and [`PhysMem`]
/// DataGear the users' frames, at disjoint addresses); on the machine all three are the same RAM,
/// and a paging structure's entries are the very ones the MMU walks.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ObjectStore {
    mem: PhysMem,
    /// The arch whose paging-entry format the entries are in.
    arch: Arch,
    /// The root VSpace boot made and the indices of its entries the kernel used for the root
    /// task's own boot mappings (a bit per index): opaque to the model, read as [`Entry::Boot`].
    boot_entries: Option<(ObjPtr, [u64; 8])>,
}

impl ObjectStore {
    /// A store whose memory reads as zero everywhere until written (the host model).
    pub fn new(arch: Arch) -> Self {
        ObjectStore { arch, ..Self::default() }
    }

    /// A store in the machine's RAM (the bare-metal kernel).
    pub fn window(arch: Arch, windows: &'static [crate::mem::RamWindow]) -> Self {
        ObjectStore { mem: PhysMem::window(windows), arch, boot_entries: None }
    }

    /// Marks `indices` of the root VSpace at `root` as the kernel's boot mappings.
    pub fn set_boot_entries(&mut self, root: ObjPtr, indices: &[u16]) {
        let mut mask = [0u64; 8];
        for &i in indices.iter().filter(|&&i| i < 512) {
            mask[usize::from(i / 64)] |= 1 << (i % 64);
        }
        self.boot_entries = Some((root, mask));
    }

    /// The memory the objects live in.
    pub fn mem(&self) -> &PhysMem {
        &self.mem
    }

    /// The TCB at `ptr`.
    #[inline]
    pub fn tcb(&self, ptr: ObjPtr) -> Tcb {
        Tcb::load(&self.mem, ptr)
    }

    /// The address of word `i` (an [`obj_words::at`](crate::obj_words) index) of the TCB at
    /// `ptr`'s fields.
    #[inline]
    const fn field(ptr: ObjPtr, i: usize) -> u64 {
        ptr.0 + TCB_FIELDS_OFFSET + 8 * i as u64
    }

    /// The state of the TCB at `ptr` (three words read, not the whole TCB).
    #[inline]
    pub fn thread_state(&self, ptr: ObjPtr) -> ThreadState {
        crate::obj_words::state_of(self.mem.read_words(Self::field(ptr, at::STATE)))
    }

    /// Sets the state of the TCB at `ptr` (three words written), and drops its fault when
    /// `drop_fault`.
    #[inline]
    pub fn set_thread_state_words(&mut self, ptr: ObjPtr, state: ThreadState, drop_fault: bool) {
        self.mem.write_words(Self::field(ptr, at::STATE), crate::obj_words::state_words(state));
        // A fault's first word is never 0 (it holds the fault's kind): nothing to drop otherwise.
        if drop_fault && self.mem.read(Self::field(ptr, at::FAULT)) != 0 {
            self.mem.write_words(Self::field(ptr, at::FAULT), [0u64; 5]);
        }
    }

    /// The TCB at `ptr`'s priority and whether it is in a ready queue (one word read).
    #[inline]
    pub fn sched_fields(&self, ptr: ObjPtr) -> (u8, bool) {
        let w = self.mem.read(Self::field(ptr, at::PRIO));
        (w as u8, (w >> 16) & 1 != 0)
    }

    /// Sets whether the TCB at `ptr` is in a ready queue.
    #[inline]
    pub fn set_queued(&mut self, ptr: ObjPtr, queued: bool) {
        let w = self.mem.read(Self::field(ptr, at::PRIO));
        self.mem.write(Self::field(ptr, at::PRIO), (w & !(1 << 16)) | u64::from(queued) << 16);
    }

    /// Register `i` (in `seL4_UserContext` order) of the TCB at `ptr`.
    #[inline]
    pub fn register(&self, ptr: ObjPtr, i: usize) -> u64 {
        self.mem.read(Self::field(ptr, at::REGISTERS + i))
    }

    /// Sets register `i` of the TCB at `ptr`.
    #[inline]
    pub fn set_register(&mut self, ptr: ObjPtr, i: usize, v: u64) {
        self.mem.write(Self::field(ptr, at::REGISTERS + i), v);
    }

    /// The first `N` registers of the TCB at `ptr` (in `seL4_UserContext` order; `N` at most
    /// [`N_REGISTERS`]: an arch's own count), read at once.
    #[inline]
    pub fn registers<const N: usize>(&self, ptr: ObjPtr) -> [u64; N] {
        const { assert!(N <= N_REGISTERS) };
        self.mem.read_words(Self::field(ptr, at::REGISTERS))
    }

    /// Sets the first `N` registers of the TCB at `ptr`.
    #[inline]
    pub fn set_registers<const N: usize>(&mut self, ptr: ObjPtr, registers: [u64; N]) {
        const { assert!(N <= N_REGISTERS) };
        self.mem.write_words(Self::field(ptr, at::REGISTERS), registers);
    }

    /// The TCB at `ptr`'s flags (TCB SetFlags').
    #[inline]
    pub fn flags(&self, ptr: ObjPtr) -> u64 {
        self.mem.read(Self::field(ptr, at::FLAGS))
    }

    /// The TCB at `ptr`'s name (DebugNameThread; empty if it has none), bytes up to its NUL.
    pub fn thread_name(&self, ptr: ObjPtr) -> Vec<u8> {
        let at = ptr.0 + crate::obj_words::TCB_NAME_OFFSET;
        let mut out = Vec::new();
        for i in 0..crate::obj_words::TCB_NAME_BYTES / 8 {
            for b in self.mem.read(at + 8 * i).to_le_bytes() {
                if b == 0 {
                    return out;
                }
                out.push(b);
            }
        }
        out
    }

    /// Names the TCB at `ptr` (`setThreadName`): `name`, cut to fit with its NUL.
    pub fn set_thread_name(&mut self, ptr: ObjPtr, name: &[u8]) {
        let at = ptr.0 + crate::obj_words::TCB_NAME_OFFSET;
        let cap = crate::obj_words::TCB_NAME_BYTES as usize - 1;
        let name = &name[..name.len().min(cap)];
        for i in 0..crate::obj_words::TCB_NAME_BYTES as usize / 8 {
            let mut w = [0u8; 8];
            for (j, b) in w.iter_mut().enumerate() {
                *b = name.get(8 * i + j).copied().unwrap_or(0);
            }
            self.mem.write(at + 8 * i as u64, u64::from_le_bytes(w));
        }
    }

    /// The TCB at `ptr`'s NextIP.
    #[inline]
    pub fn next_ip(&self, ptr: ObjPtr) -> u64 {
        self.mem.read(Self::field(ptr, at::NEXT_IP))
    }

    /// Sets the TCB at `ptr`'s NextIP.
    #[inline]
    pub fn set_next_ip(&mut self, ptr: ObjPtr, ip: u64) {
        self.mem.write(Self::field(ptr, at::NEXT_IP), ip);
    }

    /// Whether the TCB at `ptr` holds a fault.
    #[inline]
    pub fn has_fault(&self, ptr: ObjPtr) -> bool {
        self.mem.read(Self::field(ptr, at::FAULT)) & 0xff != 0
    }

    /// The TCB at `ptr`'s IPC buffer address (`tcbIPCBuffer`).
    #[inline]
    pub fn ipc_buffer_ptr(&self, ptr: ObjPtr) -> u64 {
        self.mem.read(Self::field(ptr, at::IPC_BUFFER))
    }

    /// The TCB at `ptr`'s bound notification.
    #[inline]
    pub fn bound_notification(&self, ptr: ObjPtr) -> Option<ObjPtr> {
        let n = self.mem.read(Self::field(ptr, at::BOUND)) & (PADDR_LIMIT - 1);
        (n != 0).then_some(ObjPtr(n))
    }

    /// The TCB at `ptr`'s links in an IPC queue (`ep`) or its ready queue (two words read).
    #[inline]
    pub fn links(&self, ptr: ObjPtr, ep: bool) -> Links {
        let i = if ep { at::EP_LINKS } else { at::SCHED_LINKS };
        crate::obj_words::links_of(&self.mem.read_words::<2>(Self::field(ptr, i)))
    }

    /// Sets the TCB at `ptr`'s links in an IPC queue (`ep`) or its ready queue.
    #[inline]
    pub fn set_links(&mut self, ptr: ObjPtr, ep: bool, links: Links) {
        let i = if ep { at::EP_LINKS } else { at::SCHED_LINKS };
        self.mem.write_words(Self::field(ptr, i), crate::obj_words::links_words(links));
    }

    /// Sets one of the TCB at `ptr`'s links in an IPC queue (`ep`) or its ready queue: the
    /// next thread if `next`, else the previous one (one word written).
    #[inline]
    pub fn set_link(&mut self, ptr: ObjPtr, ep: bool, next: bool, to: Option<ObjPtr>) {
        let i = if ep { at::EP_LINKS } else { at::SCHED_LINKS } + usize::from(next);
        self.mem.write(Self::field(ptr, i), crate::obj_words::opt(to));
    }

    /// The object of type `T` at `ptr`, to change (written back when the guard is dropped).
    #[inline]
    fn obj_mut<T: InMemory>(&mut self, ptr: ObjPtr) -> ObjMut<'_, T> {
        let value = T::load(&self.mem, ptr);
        ObjMut { mem: &mut self.mem, at: ptr, value }
    }

    /// The TCB at `ptr`, to change (written back when the guard is dropped).
    #[inline]
    pub fn tcb_mut(&mut self, ptr: ObjPtr) -> ObjMut<'_, Tcb> {
        self.obj_mut(ptr)
    }

    /// The endpoint at `ptr`.
    #[inline]
    pub fn endpoint(&self, ptr: ObjPtr) -> Endpoint {
        Endpoint::load(&self.mem, ptr)
    }

    /// The endpoint at `ptr`, to change.
    #[inline]
    pub fn endpoint_mut(&mut self, ptr: ObjPtr) -> ObjMut<'_, Endpoint> {
        self.obj_mut(ptr)
    }

    /// The notification at `ptr`.
    #[inline]
    pub fn notification(&self, ptr: ObjPtr) -> Notification {
        Notification::load(&self.mem, ptr)
    }

    /// The notification at `ptr`, to change.
    #[inline]
    pub fn notification_mut(&mut self, ptr: ObjPtr) -> ObjMut<'_, Notification> {
        self.obj_mut(ptr)
    }

    /// The VSpace root the ASID pool at `pool` holds for the ASID whose low bits are `low`.
    #[inline]
    pub fn asid_pool_entry(&self, pool: ObjPtr, low: u16) -> Option<ObjPtr> {
        let w = self.mem.read(pool.0 + 8 * u64::from(low % ASID_POOL_ENTRIES));
        let root = w & (PADDR_LIMIT - 1);
        (root != 0).then_some(ObjPtr(root))
    }

    /// Sets (or clears) the ASID pool at `pool`'s entry for the ASID whose low bits are `low`.
    pub fn set_asid_pool_entry(&mut self, pool: ObjPtr, low: u16, root: Option<ObjPtr>) {
        self.mem.write(pool.0 + 8 * u64::from(low % ASID_POOL_ENTRIES), root.map_or(0, |r| r.0));
    }

    /// The ASID pool at `pool`'s entries: the low bits of each assigned ASID and its VSpace root,
    /// in order.
    pub fn asid_pool_entries(&self, pool: ObjPtr) -> Vec<(u16, ObjPtr)> {
        let page = self.mem.page(pool.0 >> 12);
        (0..ASID_POOL_ENTRIES)
            .filter_map(|i| {
                let root = page.word(i as usize) & (PADDR_LIMIT - 1);
                (root != 0).then_some((i, ObjPtr(root)))
            })
            .collect()
    }

    /// The entry at `index` (0..512) of the paging structure at `table` (`None`: not present).
    #[inline]
    pub fn pt_entry(&self, table: ObjPtr, index: u16) -> Option<Entry> {
        if self.is_boot_entry(table, index) {
            return Some(Entry::Boot);
        }
        Entry::from_word(self.mem.read(table.0 + 8 * u64::from(index % 512)), self.arch)
    }

    /// Writes (or clears) the entry at `index` of the paging structure at `table`, in the
    /// hardware's format. A boot entry is never written.
    #[inline]
    pub fn set_pt_entry(&mut self, table: ObjPtr, index: u16, entry: Option<Entry>) {
        if self.is_boot_entry(table, index) || entry == Some(Entry::Boot) {
            return;
        }
        self.mem.write(table.0 + 8 * u64::from(index % 512), entry.map_or(0, |e| e.to_word(self.arch)));
    }

    /// The present entries of the paging structure at `table`, by index (one page read).
    pub fn pt_entries(&self, table: ObjPtr) -> Vec<(u16, Entry)> {
        let page = self.mem.page(table.0 >> 12);
        (0..512u16)
            .filter_map(|i| {
                if self.is_boot_entry(table, i) {
                    return Some((i, Entry::Boot));
                }
                Entry::from_word(page.word(usize::from(i)), self.arch).map(|e| (i, e))
            })
            .collect()
    }

    fn is_boot_entry(&self, table: ObjPtr, index: u16) -> bool {
        matches!(self.boot_entries, Some((root, mask)) if root == table && index < 512 && mask[usize::from(index / 64)] >> (index % 64) & 1 != 0)
    }

    /// Sets the 2^`bits` bytes at `paddr` to zero in the objects' memory (`clearMemory`: an
    /// untyped's reset, a new root object at boot, a new ASID pool).
    pub fn clear(&mut self, paddr: u64, bits: u8) {
        self.mem.zero(paddr, bits);
    }

    /// Clears the paging structure at `table`: no entry is present (seL4's `clearMemory` of an
    /// unmapped table).
    pub fn clear_page_table(&mut self, table: ObjPtr) {
        self.mem.zero(table.0, PAGE_TABLE_BITS);
    }
}

/// Entries of an ASID pool (its page of VSpace roots).
pub const ASID_POOL_ENTRIES: u16 = 1 << (ASID_POOL_BITS - 3);
