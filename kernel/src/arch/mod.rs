//! The architecture facade: every per-arch module defines the same names.
//!
//! Generic kernel code (`crate::*` outside `arch`) uses only what is re-exported here, never a
//! per-arch module directly, so a new architecture is a new submodule with the same items
//! (Hubris style). All of the kernel's `unsafe` lives under this folder.
//!
//! The names every architecture provides:
//! - boot: the entry point, which starts the console and calls [`crate::kernel_main`] with a
//!   [`crate::boot::BootMemory`]; `NAME`;
//! - console: `console_write`, `console_write_bytes`, `console_write_raw` (bytes, lock-free,
//!   for fatal reports);
//! - cpu: `init_cpu` (trap vectors; returns a line for the console), `interrupts_disable`,
//!   `wait_for_interrupt`, `exit_qemu`;
//! - memory: `PAGE_SIZE`, `phys_to_virt`, `AddressSpace` (`new_user`, `map_user`, `activate`,
//!   `activate_root`, `activate_kernel`), `MapError`, `USER_BASE`, and for the
//!   capability kernel's machine ops `copy_global_mappings`, `flush_user` (the kernel writes
//!   paging entries itself, into the tables' memory)
//!   (zeroing and copying physical memory is shared: `arch/phys.rs`, over `phys_to_virt`);
//! - time: `timer_init`, `ticks`, `TIMER_HZ`, `now_ns`, `timer_last_raised_ns`, and with
//!   `latency-bench` `timer_latency_reset`, `timer_latency_max_ns`;
//! - device interrupts: `irq_enable(line)`, `irq_mask(line)` (each `Result<(), IrqError>`),
//!   `irq_pending()` (any interrupt raised but not yet taken: the preemption points' question),
//!   `take_kernel_irq()` (a line taken while the kernel ran); a taken device line is masked,
//!   seL4-style, until the kernel unmasks it (`irq_enable`);
//! - user mode: `UserContext` (`new`, `ip`, `set_ip`, `sel4_registers` and
//!   `set_sel4_registers` in `seL4_UserContext` order, `set_entry_args`), `run_user` (returns a [`Trap`] at every kernel entry), `fault_name`.
//!
//! Only with `qemu-test`, for the QEMU tests: `programs` (the test programs, `PRIVILEGED_FAULT`,
//! `spin_counter`), `irq_unmask(line)`, and `CONSOLE_IRQ` and `console_tx_empty_interrupt(on)`,
//! which give them a device interrupt without host input; on riscv64 alone, the kernel stack
//! guard's probes `kernel_stack_guard_touch` and `kernel_stack_overflow_probe` (each
//! `Result<GuardTrap, &'static str>`), which x86_64 does not have, and
//! `kernel_lower_half_entries` (the kernel's valid root entries in the user's lower half).

mod console;
mod phys;

#[cfg(feature = "qemu-test")]
pub use phys::copy_from_frame;
#[cfg(feature = "checks")]
pub use phys::read_table_word;
#[cfg(feature = "qemu-test")]
pub use phys::zero_frame;
pub use phys::{claim_ram, copy_to_frame, ram_window, with_thread_hw, zero_window};

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use self::x86_64::*;

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub use self::riscv64::*;

#[cfg(not(any(target_arch = "x86_64", target_arch = "riscv64")))]
compile_error!("the Gears kernel supports x86_64 and riscv64 only");

/// Why a user context stopped running and control came back to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trap {
    /// The user executed the system-call instruction; the arguments are in the context.
    Syscall,
    /// A device interrupt arrived while the user ran (already acknowledged by the arch layer; a
    /// device line other than the timer's is masked until the kernel unmasks it).
    Interrupt(Irq),
    /// The user program faulted; the context still holds the faulting state.
    Fault(UserFault),
}

/// Why the arch layer refused a device-interrupt operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqError {
    /// The interrupt controller has no such line (or it is the timer's).
    BadLine,
}

/// A device interrupt, named independently of the interrupt controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Irq {
    /// The periodic kernel timer.
    Timer,
    /// Any other line, by its controller number.
    Other(u32),
}

/// What a user program did wrong, in arch-independent terms.
///
/// Only x86_64 raises `GeneralProtection` and `Arithmetic`, so only it has them: RISC-V reports
/// a privileged instruction in U-mode as an illegal instruction and has no arithmetic exceptions
/// (division by zero does not trap). Arch-independent code tells only `PageFault` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A load, store or fetch to an address the program may not touch.
    PageFault,
    /// An instruction the CPU does not know.
    IllegalInstruction,
    /// A privileged or otherwise protected operation (#GP, #TS, #NP, #SS).
    #[cfg(target_arch = "x86_64")]
    GeneralProtection,
    /// An arithmetic fault (#DE, #OF, #MF, #XM).
    #[cfg(target_arch = "x86_64")]
    Arithmetic,
    /// A breakpoint or single-step trap.
    Debug,
    /// Anything else, by its arch-specific vector or cause number.
    Other,
}

/// A user fault: what, where, and the arch's raw numbers for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserFault {
    /// The arch-independent classification.
    pub kind: FaultKind,
    /// The instruction pointer of the faulting instruction.
    pub ip: u64,
    /// The faulting data address for a page fault (CR2 / stval), else 0.
    pub addr: u64,
    /// The exception vector (x86) or cause (riscv).
    pub vector: u64,
    /// The error code the CPU pushed (x86), or on riscv64 the fault status seL4 reports for a
    /// page fault (the access-fault cause of the access: 1 fetch, 5 load, 7 store), else 0.
    pub code: u64,
}

/// What a deliberate touch of the kernel stack's guard page trapped with (the QEMU tests'
/// `kernel_stack_guard_touch` and `kernel_stack_overflow_probe`, which riscv64 alone has).
#[cfg(all(feature = "qemu-test", target_arch = "riscv64"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardTrap {
    /// The guard page's address.
    pub guard: u64,
    /// The faulting address the trap reported.
    pub addr: u64,
    /// The arch's cause or vector number.
    pub cause: u64,
    /// Whether the cause is a page fault.
    pub page_fault: bool,
    /// The stack pointer when the trap was taken.
    pub sp: u64,
}
