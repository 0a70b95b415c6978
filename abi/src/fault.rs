//! The fault types (`seL4_FaultType`, the label of a fault message) and the message layouts
//! both arches share; the register-carrying layouts are each arch's ([`crate::x86_64::fault`],
//! [`crate::riscv64::fault`]).

/// `seL4_Fault_NullFault`.
pub const NULL_FAULT: u64 = 0;
/// `seL4_Fault_CapFault`.
pub const CAP_FAULT: u64 = 1;
/// `seL4_Fault_UnknownSyscall`.
pub const UNKNOWN_SYSCALL: u64 = 2;
/// `seL4_Fault_UserException`.
pub const USER_EXCEPTION: u64 = 3;
/// `seL4_Fault_VMFault` (non-MCS).
pub const VM_FAULT: u64 = 5;

/// `seL4_CapFault_Msg`.
pub mod cap_fault {
    /// `seL4_CapFault_IP`.
    pub const IP: usize = 0;
    /// `seL4_CapFault_Addr`.
    pub const ADDR: usize = 1;
    /// `seL4_CapFault_InRecvPhase`.
    pub const IN_RECV_PHASE: usize = 2;
    /// `seL4_CapFault_LookupFailureType`: the lookup failure's words start here.
    pub const LOOKUP_FAILURE_TYPE: usize = 3;
    /// `seL4_CapFault_BitsLeft`.
    pub const BITS_LEFT: usize = 4;
    /// `seL4_CapFault_DepthMismatch_BitsFound`.
    pub const DEPTH_MISMATCH_BITS_FOUND: usize = 5;
    /// `seL4_CapFault_GuardMismatch_GuardFound`.
    pub const GUARD_MISMATCH_GUARD_FOUND: usize = 5;
    /// `seL4_CapFault_GuardMismatch_BitsFound`.
    pub const GUARD_MISMATCH_BITS_FOUND: usize = 6;
}

/// `seL4_VMFault_Msg` (the same on both arches).
pub mod vm_fault {
    /// `seL4_VMFault_IP`.
    pub const IP: usize = 0;
    /// `seL4_VMFault_Addr`.
    pub const ADDR: usize = 1;
    /// `seL4_VMFault_PrefetchFault`: an instruction fetch.
    pub const PREFETCH_FAULT: usize = 2;
    /// `seL4_VMFault_FSR`: the arch's fault status (x86_64: the page-fault error code;
    /// riscv64: the cause).
    pub const FSR: usize = 3;
    /// `seL4_VMFault_Length`.
    pub const LENGTH: usize = 4;
}
