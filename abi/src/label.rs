//! The generic invocation labels (`libsel4/include/interfaces/object-api.xml`, non-MCS), per
//! object; the arch labels follow in [`crate::x86_64::label`] and [`crate::riscv64::label`].

use crate::Arch;

/// `InvalidInvocation`.
pub const INVALID: u64 = 0;

/// `seL4_Untyped`.
pub mod untyped {
    /// `UntypedRetype`.
    pub const RETYPE: u64 = 1;
}

/// `seL4_TCB`.
pub mod tcb {
    /// `TCBReadRegisters`.
    pub const READ_REGISTERS: u64 = 2;
    /// `TCBWriteRegisters`.
    pub const WRITE_REGISTERS: u64 = 3;
    /// `TCBCopyRegisters`.
    pub const COPY_REGISTERS: u64 = 4;
    /// `TCBConfigure`.
    pub const CONFIGURE: u64 = 5;
    /// `TCBSetPriority`.
    pub const SET_PRIORITY: u64 = 6;
    /// `TCBSetMCPriority`.
    pub const SET_MC_PRIORITY: u64 = 7;
    /// `TCBSetSchedParams`.
    pub const SET_SCHED_PARAMS: u64 = 8;
    /// `TCBSetIPCBuffer`.
    pub const SET_IPC_BUFFER: u64 = 9;
    /// `TCBSetSpace`.
    pub const SET_SPACE: u64 = 10;
    /// `TCBSuspend`.
    pub const SUSPEND: u64 = 11;
    /// `TCBResume`.
    pub const RESUME: u64 = 12;
    /// `TCBBindNotification`.
    pub const BIND_NOTIFICATION: u64 = 13;
    /// `TCBUnbindNotification`.
    pub const UNBIND_NOTIFICATION: u64 = 14;
    /// `TCBSetTLSBase`.
    pub const SET_TLS_BASE: u64 = 15;
    /// `TCBSetFlags`.
    pub const SET_FLAGS: u64 = 16;
}

/// `seL4_CNode`.
pub mod cnode {
    /// `CNodeRevoke`, the first CNode label.
    pub const REVOKE: u64 = 17;
    /// `CNodeDelete`.
    pub const DELETE: u64 = 18;
    /// `CNodeCancelBadgedSends`.
    pub const CANCEL_BADGED_SENDS: u64 = 19;
    /// `CNodeCopy`.
    pub const COPY: u64 = 20;
    /// `CNodeMint`.
    pub const MINT: u64 = 21;
    /// `CNodeMove`.
    pub const MOVE: u64 = 22;
    /// `CNodeMutate`.
    pub const MUTATE: u64 = 23;
    /// `CNodeRotate`.
    pub const ROTATE: u64 = 24;
    /// `CNodeSaveCaller`, the last CNode label.
    pub const SAVE_CALLER: u64 = 25;
}

/// `seL4_IRQControl`.
pub mod irq_control {
    /// `IRQIssueIRQHandler` (`seL4_IRQControl_Get`).
    pub const ISSUE_IRQ_HANDLER: u64 = 26;
}

/// `seL4_IRQHandler`.
pub mod irq_handler {
    /// `IRQAckIRQ`.
    pub const ACK: u64 = 27;
    /// `IRQSetIRQHandler` (`seL4_IRQHandler_SetNotification`).
    pub const SET_NOTIFICATION: u64 = 28;
    /// `IRQClearIRQHandler`.
    pub const CLEAR: u64 = 29;
}

/// `seL4_DomainSet`.
pub mod domain_set {
    /// `DomainSetSet`.
    pub const SET: u64 = 30;
    /// `DomainScheduleConfigure`.
    pub const SCHEDULE_CONFIGURE: u64 = 31;
    /// `DomainScheduleSetStart`.
    pub const SCHEDULE_SET_START: u64 = 32;
}

/// `nInvocationLabels`: the first arch label.
pub const COUNT: u64 = 33;

/// seL4's name of `label` on `arch` (`None`: not a label there).
pub const fn name(label: u64, arch: Arch) -> Option<&'static str> {
    const GENERIC: [&str; COUNT as usize] = [
        "InvalidInvocation",
        "UntypedRetype",
        "TCBReadRegisters",
        "TCBWriteRegisters",
        "TCBCopyRegisters",
        "TCBConfigure",
        "TCBSetPriority",
        "TCBSetMCPriority",
        "TCBSetSchedParams",
        "TCBSetIPCBuffer",
        "TCBSetSpace",
        "TCBSuspend",
        "TCBResume",
        "TCBBindNotification",
        "TCBUnbindNotification",
        "TCBSetTLSBase",
        "TCBSetFlags",
        "CNodeRevoke",
        "CNodeDelete",
        "CNodeCancelBadgedSends",
        "CNodeCopy",
        "CNodeMint",
        "CNodeMove",
        "CNodeMutate",
        "CNodeRotate",
        "CNodeSaveCaller",
        "IRQIssueIRQHandler",
        "IRQAckIRQ",
        "IRQSetIRQHandler",
        "IRQClearIRQHandler",
        "DomainSetSet",
        "DomainScheduleConfigure",
        "DomainScheduleSetStart",
    ];
    const X86_64: [&str; (crate::x86_64::label::COUNT - COUNT) as usize] = [
        "X86PDPTMap",
        "X86PDPTUnmap",
        "X86PageDirectoryMap",
        "X86PageDirectoryUnmap",
        "X86PageTableMap",
        "X86PageTableUnmap",
        "X86PageMap",
        "X86PageUnmap",
        "X86PageGetAddress",
        "X86ASIDControlMakePool",
        "X86ASIDPoolAssign",
        "X86IOPortControlIssue",
        "X86IOPortIn8",
        "X86IOPortIn16",
        "X86IOPortIn32",
        "X86IOPortOut8",
        "X86IOPortOut16",
        "X86IOPortOut32",
        "X86IRQIssueIRQHandlerIOAPIC",
        "X86IRQIssueIRQHandlerMSI",
    ];
    const RISCV64: [&str; (crate::riscv64::label::COUNT - COUNT) as usize] = [
        "RISCVPageTableMap",
        "RISCVPageTableUnmap",
        "RISCVPageMap",
        "RISCVPageUnmap",
        "RISCVPageGetAddress",
        "RISCVASIDControlMakePool",
        "RISCVASIDPoolAssign",
        "RISCVIRQIssueIRQHandlerTrigger",
    ];
    if label < COUNT {
        return Some(GENERIC[label as usize]);
    }
    let i = (label - COUNT) as usize;
    match arch {
        Arch::X86_64 if i < X86_64.len() => Some(X86_64[i]),
        Arch::Riscv64 if i < RISCV64.len() => Some(RISCV64[i]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_numbers() {
        assert_eq!(name(cnode::COPY, Arch::X86_64), Some("CNodeCopy"));
        assert_eq!(name(domain_set::SCHEDULE_SET_START, Arch::Riscv64), Some("DomainScheduleSetStart"));
        assert_eq!(name(crate::x86_64::label::PAGE_MAP, Arch::X86_64), Some("X86PageMap"));
        assert_eq!(
            name(crate::x86_64::label::IRQ_ISSUE_IRQ_HANDLER_MSI, Arch::X86_64),
            Some("X86IRQIssueIRQHandlerMSI")
        );
        assert_eq!(name(crate::riscv64::label::PAGE_MAP, Arch::Riscv64), Some("RISCVPageMap"));
        assert_eq!(name(crate::riscv64::label::COUNT, Arch::Riscv64), None);
        assert_eq!(name(crate::x86_64::label::COUNT, Arch::X86_64), None);
    }
}
