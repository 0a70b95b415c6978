//! The flag words of the TCB invocations (`seL4_TCB_*` arguments, `object-api.xml`).

/// ReadRegisters' first word: suspend the source first (`suspend_source`).
pub const READ_REGISTERS_SUSPEND: u64 = 1;
/// WriteRegisters' first word: resume the target after (`resume_target`).
pub const WRITE_REGISTERS_RESUME: u64 = 1;
/// CopyRegisters' flags: suspend the source first (`suspend_source`).
pub const COPY_SUSPEND_SOURCE: u64 = 1;
/// CopyRegisters' flags: resume the target after (`resume_target`).
pub const COPY_RESUME_TARGET: u64 = 2;
/// CopyRegisters' flags: copy the frame registers (`transfer_frame`).
pub const COPY_TRANSFER_FRAME: u64 = 4;
/// CopyRegisters' flags: copy the integer (general-purpose) registers (`transfer_integer`).
pub const COPY_TRANSFER_INTEGER: u64 = 8;
/// SetFlags' `seL4_TCBFlag_fpuDisabled`: the thread may not use the FPU.
pub const FLAG_FPU_DISABLED: u64 = 1;
/// `seL4_TCBFlag_MASK`: the flags a thread may have (both arches have an FPU).
pub const FLAGS_MASK: u64 = FLAG_FPU_DISABLED;
