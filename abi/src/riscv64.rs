//! riscv64's flavour of the ABI: `seL4_UserContext`, the system-call registers, the fault
//! messages, the arch object types and invocation labels, and the address-space limits.
//!
//! A thread's registers are kept in `seL4_UserContext` order ([`UserContext`]), which is also
//! the order of ReadRegisters' and WriteRegisters' message words: seL4's `frameRegisters`
//! (pc, ra, sp, gp, s0 … s11), then its `gpRegisters` (a0 … a7, t0 … t6, tp). `pc` is seL4's
//! FaultIP: the instruction that entered the kernel.

use core::mem::size_of;

/// `seL4_UserContext`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[allow(missing_docs)]
pub struct UserContext {
    pub pc: u64,
    pub ra: u64,
    pub sp: u64,
    pub gp: u64,
    pub s0: u64,
    pub s1: u64,
    pub s2: u64,
    pub s3: u64,
    pub s4: u64,
    pub s5: u64,
    pub s6: u64,
    pub s7: u64,
    pub s8: u64,
    pub s9: u64,
    pub s10: u64,
    pub s11: u64,
    pub a0: u64,
    pub a1: u64,
    pub a2: u64,
    pub a3: u64,
    pub a4: u64,
    pub a5: u64,
    pub a6: u64,
    pub a7: u64,
    pub t0: u64,
    pub t1: u64,
    pub t2: u64,
    pub t3: u64,
    pub t4: u64,
    pub t5: u64,
    pub t6: u64,
    pub tp: u64,
}

/// `sizeof(seL4_UserContext) / sizeof(seL4_Word)`.
pub const REGISTER_COUNT: usize = size_of::<UserContext>() / 8;
/// `n_frameRegisters`: pc, ra, sp, gp, s0 … s11.
pub const FRAME_REGISTERS: usize = reg::A0;
/// `n_gpRegisters`: a0 … a7, t0 … t6, tp.
pub const GP_REGISTERS: usize = REGISTER_COUNT - FRAME_REGISTERS;

/// Each register's index in [`UserContext`] order.
#[allow(missing_docs)]
pub mod reg {
    use super::UserContext;
    use core::mem::offset_of;

    pub const PC: usize = offset_of!(UserContext, pc) / 8;
    pub const RA: usize = offset_of!(UserContext, ra) / 8;
    pub const SP: usize = offset_of!(UserContext, sp) / 8;
    pub const GP: usize = offset_of!(UserContext, gp) / 8;
    pub const S0: usize = offset_of!(UserContext, s0) / 8;
    pub const S11: usize = offset_of!(UserContext, s11) / 8;
    pub const A0: usize = offset_of!(UserContext, a0) / 8;
    pub const A1: usize = offset_of!(UserContext, a1) / 8;
    pub const A2: usize = offset_of!(UserContext, a2) / 8;
    pub const A3: usize = offset_of!(UserContext, a3) / 8;
    pub const A4: usize = offset_of!(UserContext, a4) / 8;
    pub const A5: usize = offset_of!(UserContext, a5) / 8;
    pub const A6: usize = offset_of!(UserContext, a6) / 8;
    pub const A7: usize = offset_of!(UserContext, a7) / 8;
    pub const T0: usize = offset_of!(UserContext, t0) / 8;
    pub const T6: usize = offset_of!(UserContext, t6) / 8;
    pub const TP: usize = offset_of!(UserContext, tp) / 8;
}

/// Where a system call's arguments and results are (`ecall`: number in a7, cap in a0,
/// MessageInfo in a1, message registers a2 … a5; the reply's badge in a0).
pub mod syscall {
    use super::reg;

    /// The system-call number.
    pub const NUMBER: usize = reg::A7;
    /// The cap (`capRegister`).
    pub const CAP: usize = reg::A0;
    /// The badge of a received message (`badgeRegister`).
    pub const BADGE: usize = reg::A0;
    /// The MessageInfo (`msgInfoRegister`).
    pub const INFO: usize = reg::A1;
    /// `msgRegisters`: message words 0..4.
    pub const MSG: [usize; 4] = [reg::A2, reg::A3, reg::A4, reg::A5];
    /// The length of the `ecall` instruction: FaultIP is NextIP minus this.
    pub const INSTRUCTION_LEN: u64 = 4;
    /// The TLS register (`TLS_BASE` = tp), which riscv64 threads set themselves.
    pub const TLS_BASE: usize = reg::TP;
}

/// The fault messages (`seL4_Fault_*` message words, `sel4_arch/constants.h`).
pub mod fault {
    use super::reg;

    /// `seL4_UnknownSyscall_Msg`: the registers, in message order (`SYSCALL_MESSAGE`), then
    /// the system-call number.
    pub const UNKNOWN_SYSCALL_REGISTERS: [usize; 10] =
        [reg::PC, reg::SP, reg::RA, reg::A0, reg::A1, reg::A2, reg::A3, reg::A4, reg::A5, reg::A6];
    /// `seL4_UnknownSyscall_Syscall`.
    pub const UNKNOWN_SYSCALL_NUMBER: usize = UNKNOWN_SYSCALL_REGISTERS.len();
    /// `seL4_UnknownSyscall_Length`.
    pub const UNKNOWN_SYSCALL_LENGTH: usize = UNKNOWN_SYSCALL_NUMBER + 1;
    /// `seL4_UserException_Msg`'s registers (`EXCEPTION_MESSAGE`): FaultIP, SP.
    pub const USER_EXCEPTION_REGISTERS: [usize; 2] = [reg::PC, reg::SP];
    /// `seL4_UserException_Number`.
    pub const USER_EXCEPTION_NUMBER: usize = USER_EXCEPTION_REGISTERS.len();
    /// `seL4_UserException_Code`.
    pub const USER_EXCEPTION_CODE: usize = USER_EXCEPTION_NUMBER + 1;
    /// `seL4_UserException_Length`.
    pub const USER_EXCEPTION_LENGTH: usize = USER_EXCEPTION_CODE + 1;
}

/// The riscv64 object types (`seL4_RISCV_*`).
pub mod object {
    /// `seL4_RISCV_Giga_Page` (1 GiB).
    pub const GIGA_PAGE: u64 = 5;
    /// `seL4_RISCV_4K_Page`.
    pub const SMALL_PAGE: u64 = 6;
    /// `seL4_RISCV_Mega_Page` (2 MiB).
    pub const MEGA_PAGE: u64 = 7;
    /// `seL4_RISCV_PageTableObject`.
    pub const PAGE_TABLE: u64 = 8;
    /// `seL4_ObjectTypeCount`.
    pub const COUNT: u64 = 9;
}

/// The riscv64 invocation labels (`nInvocationLabels` = 33 onwards).
pub mod label {
    /// `RISCVPageTableMap`.
    pub const PAGE_TABLE_MAP: u64 = 33;
    /// `RISCVPageTableUnmap`.
    pub const PAGE_TABLE_UNMAP: u64 = 34;
    /// `RISCVPageMap`.
    pub const PAGE_MAP: u64 = 35;
    /// `RISCVPageUnmap`.
    pub const PAGE_UNMAP: u64 = 36;
    /// `RISCVPageGetAddress`.
    pub const PAGE_GET_ADDRESS: u64 = 37;
    /// `RISCVASIDControlMakePool`.
    pub const ASID_CONTROL_MAKE_POOL: u64 = 38;
    /// `RISCVASIDPoolAssign`.
    pub const ASID_POOL_ASSIGN: u64 = 39;
    /// `RISCVIRQIssueIRQHandlerTrigger`.
    pub const IRQ_ISSUE_IRQ_HANDLER_TRIGGER: u64 = 40;
    /// `nArchInvocationLabels`.
    pub const COUNT: u64 = 41;
}

/// `seL4_UserTop` (= the kernel's `USER_TOP`): the first address above user space.
pub const USER_TOP: u64 = 0x0000_003f_ffff_f000;
/// `seL4_MaxUntypedBits`.
pub const MAX_UNTYPED_BITS: u8 = 38;
/// `seL4_NumASIDPoolsBits`.
pub const NUM_ASID_POOLS_BITS: u8 = 7;

const _: () = assert!(REGISTER_COUNT == 32 && FRAME_REGISTERS == 16 && GP_REGISTERS == 16);
const _: () = assert!(reg::S11 == 15 && reg::T0 == 24 && reg::T6 == 30 && reg::TP == 31);
