//! Typed caps: a cptr with the kind of object it names in its type, so each kind has exactly
//! its own invocations ([`Tcb::resume`], [`Endpoint::call`], …) and passing an endpoint where a
//! TCB is wanted does not compile.
//!
//! The type is a promise of the program, not a check: a cptr made with [`Cap::from_cptr`] or
//! [`Cap::cast`] names whatever its slot holds, and invoking it as something else gets the
//! kernel's error (`InvalidCapability`, `IllegalOperation`), or a cap fault if the slot is
//! empty, exactly as in C.
//!
//! ```
//! use gears_user::cap::{Endpoint, Notification, init_thread};
//! let ep = Endpoint::from_cptr(40);
//! assert_eq!(ep.cptr(), 40);
//! let n: Notification = ep.cast(); // a re-reading, nothing checked
//! assert_eq!(n.cptr(), 40);
//! assert_eq!(init_thread::TCB.cptr(), 1);
//! ```
//!
//! A function that wants a TCB takes a [`Tcb`]; a [`Tcb`] is what it gets (the crate's docs
//! show an endpoint refused there at compile time):
//!
//! ```
//! use gears_user::cap::Tcb;
//! fn resume(t: Tcb) -> gears_user::Result<()> {
//!     t.resume()
//! }
//! let t = Tcb::from_cptr(20);
//! let _later = move || resume(t);
//! ```

use core::fmt;
use core::hash::{Hash, Hasher};
use core::marker::PhantomData;

use crate::CPtr;

/// A kind of object a cap can name: the type parameter of [`Cap`].
pub trait CapKind: 'static {
    /// seL4's name of the cap type.
    const NAME: &'static str;
}

/// A cap to an object of kind `K`, by its cptr in the caller's CSpace.
pub struct Cap<K: CapKind> {
    cptr: CPtr,
    kind: PhantomData<K>,
}

impl<K: CapKind> Cap<K> {
    /// The cap at `cptr`, taken to be of kind `K`.
    pub const fn from_cptr(cptr: CPtr) -> Cap<K> {
        Cap { cptr, kind: PhantomData }
    }

    /// Its cptr.
    pub const fn cptr(self) -> CPtr {
        self.cptr
    }

    /// The same cptr, taken to be of kind `L`.
    pub const fn cast<L: CapKind>(self) -> Cap<L> {
        Cap::from_cptr(self.cptr)
    }

    /// The same cptr with its kind forgotten.
    pub const fn erase(self) -> Unspecified {
        self.cast()
    }
}

impl<K: CapKind> Clone for Cap<K> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K: CapKind> Copy for Cap<K> {}

impl<K: CapKind> PartialEq for Cap<K> {
    fn eq(&self, other: &Self) -> bool {
        self.cptr == other.cptr
    }
}

impl<K: CapKind> Eq for Cap<K> {}

impl<K: CapKind> Hash for Cap<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.cptr.hash(state)
    }
}

impl<K: CapKind> fmt::Debug for Cap<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", K::NAME, self.cptr)
    }
}

/// The kinds of object caps name (the markers of [`Cap`]'s type parameter).
pub mod kind {
    use super::CapKind;

    macro_rules! kinds {
        ($($(#[$meta:meta])* $name:ident = $sel4:literal;)*) => {$(
            $(#[$meta])*
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
            pub enum $name {}
            impl CapKind for $name {
                const NAME: &'static str = $sel4;
            }
        )*};
    }

    kinds! {
        /// A cap whose kind the program does not say (a cptr to pass along, to identify).
        Unspecified = "Cap";
        /// Untyped memory (`seL4_Untyped`).
        Untyped = "Untyped";
        /// An endpoint (`seL4_Endpoint`).
        Endpoint = "Endpoint";
        /// A notification (`seL4_Notification`).
        Notification = "Notification";
        /// A thread control block (`seL4_TCB`).
        Tcb = "TCB";
        /// A CNode (`seL4_CNode`).
        CNode = "CNode";
        /// The IRQ control cap (`seL4_IRQControl`).
        IrqControl = "IRQControl";
        /// An IRQ handler (`seL4_IRQHandler`).
        IrqHandler = "IRQHandler";
        /// The ASID control cap (`seL4_ASIDControl`, `seL4_X86_ASIDControl` / `seL4_RISCV_ASIDControl`).
        AsidControl = "ASIDControl";
        /// An ASID pool (`seL4_ASIDPool`).
        AsidPool = "ASIDPool";
        /// The domain cap (`seL4_DomainSet`).
        DomainSet = "DomainSet";
        /// A frame of any size (`seL4_X86_Page` / `seL4_RISCV_Page`).
        Frame = "Frame";
        /// x86_64's VSpace root (`seL4_X64_PML4`).
        Pml4 = "PML4";
        /// x86_64's page-directory-pointer table (`seL4_X86_PDPT`).
        Pdpt = "PDPT";
        /// x86_64's page directory (`seL4_X86_PageDirectory`).
        PageDirectory = "PageDirectory";
        /// A page table: x86_64's last level (`seL4_X86_PageTable`); on riscv64 every level,
        /// the VSpace root included (`seL4_RISCV_PageTable`).
        PageTable = "PageTable";
        /// x86_64's I/O port control cap (`seL4_X86_IOPortControl`).
        IoPortControl = "IOPortControl";
        /// x86_64's cap to a range of I/O ports (`seL4_X86_IOPort`).
        IoPort = "IOPort";
    }
}

/// A cap of no stated kind.
pub type Unspecified = Cap<kind::Unspecified>;
/// A cap to untyped memory.
pub type Untyped = Cap<kind::Untyped>;
/// A cap to an endpoint.
pub type Endpoint = Cap<kind::Endpoint>;
/// A cap to a notification.
pub type Notification = Cap<kind::Notification>;
/// A cap to a thread control block.
pub type Tcb = Cap<kind::Tcb>;
/// A cap to a CNode.
pub type CNode = Cap<kind::CNode>;
/// The IRQ control cap.
pub type IrqControl = Cap<kind::IrqControl>;
/// A cap to an IRQ handler.
pub type IrqHandler = Cap<kind::IrqHandler>;
/// The ASID control cap.
pub type AsidControl = Cap<kind::AsidControl>;
/// A cap to an ASID pool.
pub type AsidPool = Cap<kind::AsidPool>;
/// The domain cap.
pub type DomainSet = Cap<kind::DomainSet>;
/// A cap to a frame.
pub type Frame = Cap<kind::Frame>;
/// A cap to x86_64's PML4.
pub type Pml4 = Cap<kind::Pml4>;
/// A cap to x86_64's PDPT.
pub type Pdpt = Cap<kind::Pdpt>;
/// A cap to x86_64's page directory.
pub type PageDirectory = Cap<kind::PageDirectory>;
/// A cap to a page table (x86_64's last level; riscv64's any level).
pub type PageTable = Cap<kind::PageTable>;
/// x86_64's I/O port control cap.
pub type IoPortControl = Cap<kind::IoPortControl>;
/// A cap to x86_64's I/O ports.
pub type IoPort = Cap<kind::IoPort>;

/// A cap to a VSpace root of the target arch: x86_64's PML4.
#[cfg(not(target_arch = "riscv64"))]
pub type VSpace = Pml4;
/// A cap to a VSpace root of the target arch: riscv64's top-level page table.
#[cfg(target_arch = "riscv64")]
pub type VSpace = PageTable;

/// The caps seL4's boot puts in the root task's CNode (`seL4_RootCNodeCapSlots`), as the root
/// task's cptrs (its CNode resolves 64-bit cptrs).
pub mod init_thread {
    use abi::bootinfo as slot;

    use super::{
        AsidControl, AsidPool, CNode, Cap, DomainSet, Frame, IoPortControl, IrqControl, Tcb, VSpace,
    };
    use crate::cnode::Slot;

    /// `seL4_CapInitThreadTCB`: its own TCB.
    pub const TCB: Tcb = Cap::from_cptr(slot::CAP_INIT_THREAD_TCB);
    /// `seL4_CapInitThreadCNode`: its CSpace root.
    pub const CNODE: CNode = Cap::from_cptr(slot::CAP_INIT_THREAD_CNODE);
    /// `seL4_CapInitThreadVSpace`: its VSpace root.
    pub const VSPACE: VSpace = Cap::from_cptr(slot::CAP_INIT_THREAD_VSPACE);
    /// `seL4_CapIRQControl`.
    pub const IRQ_CONTROL: IrqControl = Cap::from_cptr(slot::CAP_IRQ_CONTROL);
    /// `seL4_CapIOPortControl` (x86_64; the slot is empty on riscv64).
    pub const IO_PORT_CONTROL: IoPortControl = Cap::from_cptr(slot::CAP_IO_PORT_CONTROL);
    /// `seL4_CapASIDControl`.
    pub const ASID_CONTROL: AsidControl = Cap::from_cptr(slot::CAP_ASID_CONTROL);
    /// `seL4_CapInitThreadASIDPool`: the pool its VSpace's ASID came from.
    pub const ASID_POOL: AsidPool = Cap::from_cptr(slot::CAP_INIT_THREAD_ASID_POOL);
    /// `seL4_CapBootInfoFrame`.
    pub const BOOT_INFO_FRAME: Frame = Cap::from_cptr(slot::CAP_BOOT_INFO_FRAME);
    /// `seL4_CapInitThreadIPCBuffer`.
    pub const IPC_BUFFER: Frame = Cap::from_cptr(slot::CAP_INIT_THREAD_IPC_BUFFER);
    /// `seL4_CapDomain`.
    pub const DOMAIN: DomainSet = Cap::from_cptr(slot::CAP_DOMAIN);

    /// The slot of the root task's CNode that its cptr `cptr` names (the CNode resolves all 64
    /// bits): where a new cap goes, or the cap a CNode operation takes.
    pub const fn slot(cptr: crate::CPtr) -> Slot {
        CNODE.slot(cptr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_is_its_cptr_and_its_kind() {
        let t = Tcb::from_cptr(7);
        assert_eq!(std::format!("{t:?}"), "TCB(7)");
        assert_eq!(t.erase(), Unspecified::from_cptr(7));
        assert_eq!(std::format!("{:?}", init_thread::ASID_POOL), "ASIDPool(6)");
        assert_eq!(init_thread::slot(12).index, 12);
        assert_eq!(init_thread::slot(12).depth, 64);
    }
}
