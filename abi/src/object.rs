//! The generic object types (`seL4_ObjectType`) and the object sizes both arches share; the
//! arch types follow in [`crate::x86_64::object`] and [`crate::riscv64::object`].

/// `seL4_UntypedObject`.
pub const UNTYPED: u64 = 0;
/// `seL4_TCBObject`.
pub const TCB: u64 = 1;
/// `seL4_EndpointObject`.
pub const ENDPOINT: u64 = 2;
/// `seL4_NotificationObject`.
pub const NOTIFICATION: u64 = 3;
/// `seL4_CapTableObject`.
pub const CAP_TABLE: u64 = 4;
/// `seL4_NonArchObjectTypeCount`.
pub const GENERIC_COUNT: u64 = 5;

/// log2 of object sizes in bytes (`seL4_*Bits`, 64-bit, non-MCS, with an FPU).
pub mod bits {
    /// `seL4_SlotBits`: one CNode slot.
    pub const SLOT: u8 = 5;
    /// `seL4_TCBBits`.
    pub const TCB: u8 = 11;
    /// `seL4_EndpointBits`.
    pub const ENDPOINT: u8 = 4;
    /// `seL4_NotificationBits`.
    pub const NOTIFICATION: u8 = 5;
    /// `seL4_MinUntypedBits`.
    pub const MIN_UNTYPED: u8 = 4;
    /// `seL4_PageBits`: a small frame (4 KiB).
    pub const PAGE: u8 = 12;
    /// `seL4_LargePageBits`: x86_64's large and riscv64's mega page (2 MiB).
    pub const LARGE_PAGE: u8 = 21;
    /// `seL4_HugePageBits`: x86_64's huge and riscv64's giga page (1 GiB).
    pub const HUGE_PAGE: u8 = 30;
    /// `seL4_PageTableBits`: a paging structure of any level (4 KiB).
    pub const PAGE_TABLE: u8 = 12;
    /// `seL4_PageTableIndexBits`: index bits of one paging level.
    pub const PAGE_TABLE_INDEX: u8 = 9;
    /// `seL4_ASIDPoolBits`.
    pub const ASID_POOL: u8 = 12;
    /// `seL4_ASIDPoolIndexBits`: the ASIDs one pool hands out (`asidLowBits`).
    pub const ASID_POOL_INDEX: u8 = 9;
    /// `seL4_IPCBufferSizeBits`: an IPC buffer, which never crosses a page.
    pub const IPC_BUFFER: u8 = 10;
    /// `seL4_BootInfoFrameBits`.
    pub const BOOT_INFO_FRAME: u8 = 12;
}
