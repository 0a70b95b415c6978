//! Kernel objects and the object store: objects exist only where untyped memory was retyped (or
//! where boot put them), keyed by physical address.

use alloc::collections::BTreeMap;

use crate::cap::{ENDPOINT_BITS, NOTIFICATION_BITS, ObjPtr, SLOT_BITS, TCB_BITS, TCB_CNODE_ENTRIES};

/// A thread's scheduling state (`ThreadState_*`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum ThreadState {
    /// Not runnable (fresh, or suspended).
    #[default]
    Inactive,
    /// Runnable.
    Running,
    /// Runnable, and will re-execute its system call (seL4's `Restart`).
    Restart,
}

/// Registers a TCB saves: seL4's x86_64 `frameRegisters` (18) then `gpRegisters` (2).
pub const N_REGISTERS: usize = 20;

/// A TCB's object state (its CNode part lives in the [`CSpace`](crate::CSpace) slots).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Tcb {
    /// The scheduling state.
    pub state: ThreadState,
    /// The saved user context, in `seL4_UserContext` order: rip, rsp, rflags, rax, rbx, rcx, rdx,
    /// rsi, rdi, rbp, r8 … r15, fs_base, gs_base.
    pub registers: [u64; N_REGISTERS],
}

/// A kernel object. Slots of CNodes and TCBs are kept in the [`CSpace`](crate::CSpace), not here.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Object {
    /// An endpoint (its queues arrive with the IPC issue).
    Endpoint,
    /// A notification.
    Notification,
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
}

impl Object {
    /// log2 of the object's size in bytes.
    pub const fn size_bits(&self) -> u64 {
        match self {
            Object::Endpoint => ENDPOINT_BITS as u64,
            Object::Notification => NOTIFICATION_BITS as u64,
            Object::CNode { radix } => *radix as u64 + SLOT_BITS as u64,
            Object::Tcb(_) => TCB_BITS as u64,
            Object::Frame { size_bits } => *size_bits as u64,
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
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct ObjectStore {
    objects: BTreeMap<ObjPtr, Object>,
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

    /// Makes an object live at `ptr` (retype or boot).
    pub fn insert(&mut self, ptr: ObjPtr, obj: Object) {
        self.objects.insert(ptr, obj);
    }

    /// Ends an object's life (its last cap was finalised).
    pub fn remove(&mut self, ptr: ObjPtr) -> Option<Object> {
        self.objects.remove(&ptr)
    }

    /// The live object with the greatest address `<= addr` (the only one that can contain it).
    pub fn at_or_below(&self, addr: u64) -> Option<(ObjPtr, &Object)> {
        self.objects.range(..=ObjPtr(addr)).next_back().map(|(p, o)| (*p, o))
    }

    /// Live objects with addresses in `[from, to)`.
    pub fn range(&self, from: u64, to: u64) -> impl Iterator<Item = (ObjPtr, &Object)> + '_ {
        let to = to.max(from);
        self.objects.range(ObjPtr(from)..ObjPtr(to)).map(|(p, o)| (*p, o))
    }

    /// All live objects, by address.
    pub fn iter(&self) -> impl Iterator<Item = (ObjPtr, &Object)> + '_ {
        self.objects.iter().map(|(p, o)| (*p, o))
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
