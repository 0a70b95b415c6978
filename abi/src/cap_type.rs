//! seL4's cap type tags (`cap_get_capType`: the tag of `tagged_union cap` in seL4's bitfield
//! definitions), which `seL4_DebugCapIdentify` returns. Even tags are the arch-independent caps,
//! odd ones each arch's own.

/// `cap_null_cap`.
pub const NULL: u64 = 0;
/// `cap_untyped_cap`.
pub const UNTYPED: u64 = 2;
/// `cap_endpoint_cap`.
pub const ENDPOINT: u64 = 4;
/// `cap_notification_cap`.
pub const NOTIFICATION: u64 = 6;
/// `cap_reply_cap`.
pub const REPLY: u64 = 8;
/// `cap_cnode_cap`.
pub const CNODE: u64 = 10;
/// `cap_thread_cap`.
pub const THREAD: u64 = 12;
/// `cap_irq_control_cap`.
pub const IRQ_CONTROL: u64 = 14;
/// `cap_irq_handler_cap`.
pub const IRQ_HANDLER: u64 = 16;
/// `cap_zombie_cap`.
pub const ZOMBIE: u64 = 18;
/// `cap_domain_cap`.
pub const DOMAIN: u64 = 20;
/// `cap_frame_cap` (both arches).
pub const FRAME: u64 = 1;
/// `cap_page_table_cap` (both arches).
pub const PAGE_TABLE: u64 = 3;
/// `cap_asid_control_cap` (both arches).
pub const ASID_CONTROL: u64 = 11;
/// `cap_asid_pool_cap` (both arches).
pub const ASID_POOL: u64 = 13;

/// x86_64's other arch caps.
pub mod x86_64 {
    /// `cap_page_directory_cap`.
    pub const PAGE_DIRECTORY: u64 = 5;
    /// `cap_pdpt_cap`.
    pub const PDPT: u64 = 7;
    /// `cap_pml4_cap`.
    pub const PML4: u64 = 9;
    /// `cap_io_port_cap`.
    pub const IO_PORT: u64 = 19;
    /// `cap_io_port_control_cap`.
    pub const IO_PORT_CONTROL: u64 = 31;
}
