//! Untyped Retype: objects made from untyped memory, into empty CNode slots.
//!
//! [`Untyped::retype`] is seL4's call; [`Untyped::create`] and its siblings take their slots
//! from a [`SlotAllocator`] and give back typed caps:
//!
//! ```no_run
//! use gears_user::BootInfo;
//! use gears_user::cap::{Endpoint, Notification};
//! fn make(bi: &BootInfo) -> gears_user::Result<(Endpoint, Notification)> {
//!     let mut slots = bi.slot_allocator();
//!     let ut = bi.largest_ram_untyped().expect("boot gives RAM").cap;
//!     Ok((ut.create(&mut slots)?, ut.create(&mut slots)?))
//! }
//! ```

use core::ops::Range;

use abi::label::untyped::RETYPE;
use abi::object as ty;

use crate::cap::{self, CNode, Cap, CapKind, Untyped, kind};
use crate::invoke::invoke_unit;
use crate::slots::SlotAllocator;
use crate::{CPtr, Error, Result};

/// An object type and size, as Untyped Retype takes them (`seL4_ObjectType` and `size_bits`,
/// which only untypeds and CNodes use; the arch's frames and paging structures are in
/// [`crate::vspace::object`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectType {
    /// The `seL4_ObjectType` number.
    pub number: u64,
    /// log2 of the size: an untyped's bytes, a CNode's slots; 0 for fixed-size objects.
    pub size_bits: u64,
}

impl ObjectType {
    /// Any type and size, as given.
    pub const fn new(number: u64, size_bits: u64) -> ObjectType {
        ObjectType { number, size_bits }
    }

    /// `seL4_TCBObject`.
    pub const TCB: ObjectType = ObjectType::new(ty::TCB, 0);
    /// `seL4_EndpointObject`.
    pub const ENDPOINT: ObjectType = ObjectType::new(ty::ENDPOINT, 0);
    /// `seL4_NotificationObject`.
    pub const NOTIFICATION: ObjectType = ObjectType::new(ty::NOTIFICATION, 0);

    /// `seL4_UntypedObject` of 2^`size_bits` bytes.
    pub const fn untyped(size_bits: u64) -> ObjectType {
        ObjectType::new(ty::UNTYPED, size_bits)
    }

    /// `seL4_CapTableObject` of 2^`radix` slots.
    pub const fn cnode(radix: u64) -> ObjectType {
        ObjectType::new(ty::CAP_TABLE, radix)
    }
}

/// A kind of object of one size, which [`Untyped::create`] can make.
pub trait Object: CapKind {
    /// Its type.
    const OBJECT: ObjectType;
}

impl Object for kind::Tcb {
    const OBJECT: ObjectType = ObjectType::TCB;
}

impl Object for kind::Endpoint {
    const OBJECT: ObjectType = ObjectType::ENDPOINT;
}

impl Object for kind::Notification {
    const OBJECT: ObjectType = ObjectType::NOTIFICATION;
}

impl Untyped {
    /// `seL4_Untyped_Retype` into `dest` itself: `count` objects of `object` into its slots
    /// `offset..offset + count`.
    pub fn retype(self, object: ObjectType, dest: CNode, offset: u64, count: u64) -> Result<()> {
        self.retype_into(object, dest, 0, 0, offset, count)
    }

    /// `seL4_Untyped_Retype` as seL4 has it: into the CNode found at `node_index` (resolved
    /// with `node_depth` bits; depth 0: `root` itself) from `root`, its slots `offset..offset +
    /// count`.
    pub fn retype_into(
        self,
        object: ObjectType,
        root: CNode,
        node_index: u64,
        node_depth: u64,
        offset: u64,
        count: u64,
    ) -> Result<()> {
        let words = [object.number, object.size_bits, node_index, node_depth, offset, count];
        invoke_unit(self.cptr(), RETYPE, &words, &[root.cptr()])
    }

    /// `count` objects of `object` in fresh slots of `slots`; their cptrs (`slots`' CNode must
    /// be the caller's CSpace root, resolving 64 bits, for these to be cptrs). No free slots is
    /// `NotEnoughMemory`.
    pub fn create_range(
        self,
        object: ObjectType,
        count: u64,
        slots: &mut SlotAllocator,
    ) -> Result<Range<CPtr>> {
        let range = slots.alloc_range(count).ok_or(Error::NotEnoughMemory)?;
        self.retype(object, slots.cnode(), range.start, count)?;
        Ok(range)
    }

    /// One object of kind `K` in a fresh slot of `slots` (the caller's CSpace root).
    pub fn create<K: Object>(self, slots: &mut SlotAllocator) -> Result<Cap<K>> {
        self.create_range(K::OBJECT, 1, slots).map(|r| Cap::from_cptr(r.start))
    }

    /// A CNode of 2^`radix` slots in a fresh slot of `slots`.
    pub fn create_cnode(self, radix: u64, slots: &mut SlotAllocator) -> Result<cap::CNode> {
        self.create_range(ObjectType::cnode(radix), 1, slots).map(|r| Cap::from_cptr(r.start))
    }

    /// An untyped of 2^`size_bits` bytes carved from this one, in a fresh slot of `slots`.
    pub fn create_untyped(self, size_bits: u64, slots: &mut SlotAllocator) -> Result<Untyped> {
        self.create_range(ObjectType::untyped(size_bits), 1, slots).map(|r| Cap::from_cptr(r.start))
    }
}
