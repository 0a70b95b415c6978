//! x86_64's flavour of the ABI: `seL4_UserContext`, the system-call registers, the fault
//! messages, the arch object types and invocation labels, and the address-space limits.
//!
//! A thread's registers are kept in `seL4_UserContext` order ([`UserContext`]), which is also
//! the order of ReadRegisters' and WriteRegisters' message words: seL4's `frameRegisters`
//! (rip … r15), then its `gpRegisters` (fs_base, gs_base). `rip` is seL4's FaultIP: the
//! instruction that entered the kernel.

use core::mem::{offset_of, size_of};

/// `seL4_UserContext`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[allow(missing_docs)]
pub struct UserContext {
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub fs_base: u64,
    pub gs_base: u64,
}

/// `sizeof(seL4_UserContext) / sizeof(seL4_Word)`.
pub const REGISTER_COUNT: usize = size_of::<UserContext>() / 8;
/// `n_frameRegisters`: rip … r15 (ReadRegisters' first part).
pub const FRAME_REGISTERS: usize = reg::FS_BASE;
/// `n_gpRegisters`: fs_base, gs_base.
pub const GP_REGISTERS: usize = REGISTER_COUNT - FRAME_REGISTERS;

/// Each register's index in [`UserContext`] order.
#[allow(missing_docs)]
pub mod reg {
    use super::UserContext;
    use core::mem::offset_of;

    pub const RIP: usize = offset_of!(UserContext, rip) / 8;
    pub const RSP: usize = offset_of!(UserContext, rsp) / 8;
    pub const RFLAGS: usize = offset_of!(UserContext, rflags) / 8;
    pub const RAX: usize = offset_of!(UserContext, rax) / 8;
    pub const RBX: usize = offset_of!(UserContext, rbx) / 8;
    pub const RCX: usize = offset_of!(UserContext, rcx) / 8;
    pub const RDX: usize = offset_of!(UserContext, rdx) / 8;
    pub const RSI: usize = offset_of!(UserContext, rsi) / 8;
    pub const RDI: usize = offset_of!(UserContext, rdi) / 8;
    pub const RBP: usize = offset_of!(UserContext, rbp) / 8;
    pub const R8: usize = offset_of!(UserContext, r8) / 8;
    pub const R9: usize = offset_of!(UserContext, r9) / 8;
    pub const R10: usize = offset_of!(UserContext, r10) / 8;
    pub const R11: usize = offset_of!(UserContext, r11) / 8;
    pub const R12: usize = offset_of!(UserContext, r12) / 8;
    pub const R13: usize = offset_of!(UserContext, r13) / 8;
    pub const R14: usize = offset_of!(UserContext, r14) / 8;
    pub const R15: usize = offset_of!(UserContext, r15) / 8;
    pub const FS_BASE: usize = offset_of!(UserContext, fs_base) / 8;
    pub const GS_BASE: usize = offset_of!(UserContext, gs_base) / 8;
}

/// Where a system call's arguments and results are (`syscall`: number in RDX, cap in RDI,
/// MessageInfo in RSI, message registers R10, R8, R9, R15; the reply's badge in RDI).
pub mod syscall {
    use super::reg;

    /// The system-call number.
    pub const NUMBER: usize = reg::RDX;
    /// The cap (`capRegister`), and the badge of a received message (`badgeRegister`).
    pub const CAP: usize = reg::RDI;
    /// The badge of a received message.
    pub const BADGE: usize = reg::RDI;
    /// The MessageInfo (`msgInfoRegister`).
    pub const INFO: usize = reg::RSI;
    /// `msgRegisters`: message words 0..4.
    pub const MSG: [usize; 4] = [reg::R10, reg::R8, reg::R9, reg::R15];
    /// The length of the `syscall` instruction (0f 05): FaultIP is NextIP minus this.
    pub const INSTRUCTION_LEN: u64 = 2;
    /// `SetTLSBase`'s argument and the TLS register (`TLS_BASE` = FS_BASE).
    pub const TLS_BASE: usize = reg::FS_BASE;
}

/// The fault messages (`seL4_Fault_*` message words, `sel4_arch/constants.h`).
pub mod fault {
    use super::reg;

    /// `seL4_UnknownSyscall_Msg`: the registers, in message order (`SYSCALL_MESSAGE`), then
    /// the system-call number.
    pub const UNKNOWN_SYSCALL_REGISTERS: [usize; 18] = [
        reg::RAX,
        reg::RBX,
        reg::RCX,
        reg::RDX,
        reg::RSI,
        reg::RDI,
        reg::RBP,
        reg::R8,
        reg::R9,
        reg::R10,
        reg::R11,
        reg::R12,
        reg::R13,
        reg::R14,
        reg::R15,
        reg::RIP,
        reg::RSP,
        reg::RFLAGS,
    ];
    /// `seL4_UnknownSyscall_Syscall`: the word after the registers.
    pub const UNKNOWN_SYSCALL_NUMBER: usize = UNKNOWN_SYSCALL_REGISTERS.len();
    /// `seL4_UnknownSyscall_Length`.
    pub const UNKNOWN_SYSCALL_LENGTH: usize = UNKNOWN_SYSCALL_NUMBER + 1;
    /// `seL4_UserException_Msg`'s registers (`EXCEPTION_MESSAGE`): FaultIP, SP, FLAGS.
    pub const USER_EXCEPTION_REGISTERS: [usize; 3] = [reg::RIP, reg::RSP, reg::RFLAGS];
    /// `seL4_UserException_Number`.
    pub const USER_EXCEPTION_NUMBER: usize = USER_EXCEPTION_REGISTERS.len();
    /// `seL4_UserException_Code`.
    pub const USER_EXCEPTION_CODE: usize = USER_EXCEPTION_NUMBER + 1;
    /// `seL4_UserException_Length`.
    pub const USER_EXCEPTION_LENGTH: usize = USER_EXCEPTION_CODE + 1;
}

/// The x86_64 object types (`seL4_X86_*Object`, `CONFIG_HUGE_PAGE`).
pub mod object {
    /// `seL4_X86_PDPTObject`.
    pub const PDPT: u64 = 5;
    /// `seL4_X64_PML4Object`.
    pub const PML4: u64 = 6;
    /// `seL4_X64_HugePageObject` (1 GiB).
    pub const HUGE_PAGE: u64 = 7;
    /// `seL4_X86_4K`.
    pub const SMALL_PAGE: u64 = 8;
    /// `seL4_X86_LargePageObject` (2 MiB).
    pub const LARGE_PAGE: u64 = 9;
    /// `seL4_X86_PageTableObject`.
    pub const PAGE_TABLE: u64 = 10;
    /// `seL4_X86_PageDirectoryObject`.
    pub const PAGE_DIRECTORY: u64 = 11;
    /// `seL4_ObjectTypeCount`.
    pub const COUNT: u64 = 12;
}

/// The x86_64 invocation labels (`nInvocationLabels` = 33 onwards).
pub mod label {
    /// `X86PDPTMap`.
    pub const PDPT_MAP: u64 = 33;
    /// `X86PDPTUnmap`.
    pub const PDPT_UNMAP: u64 = 34;
    /// `X86PageDirectoryMap`.
    pub const PAGE_DIRECTORY_MAP: u64 = 35;
    /// `X86PageDirectoryUnmap`.
    pub const PAGE_DIRECTORY_UNMAP: u64 = 36;
    /// `X86PageTableMap`.
    pub const PAGE_TABLE_MAP: u64 = 37;
    /// `X86PageTableUnmap`.
    pub const PAGE_TABLE_UNMAP: u64 = 38;
    /// `X86PageMap`.
    pub const PAGE_MAP: u64 = 39;
    /// `X86PageUnmap`.
    pub const PAGE_UNMAP: u64 = 40;
    /// `X86PageGetAddress`.
    pub const PAGE_GET_ADDRESS: u64 = 41;
    /// `X86ASIDControlMakePool`.
    pub const ASID_CONTROL_MAKE_POOL: u64 = 42;
    /// `X86ASIDPoolAssign`.
    pub const ASID_POOL_ASSIGN: u64 = 43;
    /// `X86IOPortControlIssue`.
    pub const IO_PORT_CONTROL_ISSUE: u64 = 44;
    /// `X86IOPortIn8`.
    pub const IO_PORT_IN8: u64 = 45;
    /// `X86IOPortIn16`.
    pub const IO_PORT_IN16: u64 = 46;
    /// `X86IOPortIn32`.
    pub const IO_PORT_IN32: u64 = 47;
    /// `X86IOPortOut8`.
    pub const IO_PORT_OUT8: u64 = 48;
    /// `X86IOPortOut16`.
    pub const IO_PORT_OUT16: u64 = 49;
    /// `X86IOPortOut32`.
    pub const IO_PORT_OUT32: u64 = 50;
    /// `X86IRQIssueIRQHandlerIOAPIC`.
    pub const IRQ_ISSUE_IRQ_HANDLER_IOAPIC: u64 = 51;
    /// `X86IRQIssueIRQHandlerMSI`.
    pub const IRQ_ISSUE_IRQ_HANDLER_MSI: u64 = 52;
    /// `nArchInvocationLabels`.
    pub const COUNT: u64 = 53;
}

/// `seL4_UserTop`: the first address above user space a thread may map (the kernel's own
/// bound, `USER_TOP`, is the last canonical lower-half address, [`KERNEL_USER_TOP`]).
pub const USER_TOP: u64 = 0x0000_7fff_ffff_f000;
/// The kernel's `USER_TOP` (x86_64 `hardware.h`): the highest user virtual address, inclusive.
pub const KERNEL_USER_TOP: u64 = 0x0000_7fff_ffff_ffff;
/// `seL4_MaxUntypedBits`.
pub const MAX_UNTYPED_BITS: u8 = 47;
/// `seL4_NumASIDPoolsBits`.
pub const NUM_ASID_POOLS_BITS: u8 = 3;

const _: () = assert!(REGISTER_COUNT == 20 && FRAME_REGISTERS == 18 && GP_REGISTERS == 2);
const _: () = assert!(offset_of!(UserContext, gs_base) == 19 * 8);
