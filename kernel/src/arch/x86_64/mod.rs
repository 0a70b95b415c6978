//! x86_64: booted by the `bootloader` crate (BIOS or UEFI), PC devices under QEMU.

mod boot;
mod cpu;
mod gdt;
mod idt;
#[cfg_attr(
    not(feature = "qemu-test"),
    allow(dead_code, reason = "facade items only the QEMU tests use yet; the IRQ-handler glue will")
)]
mod irq;
mod paging;
#[cfg(feature = "qemu-test")]
pub mod programs;
mod serial;
mod timer;
mod trap;
mod user;

#[allow(unused_imports)]
pub use cpu::{exit_qemu, interrupts_disable, interrupts_enable, wait_for_interrupt};
#[cfg_attr(
    not(feature = "qemu-test"),
    allow(unused_imports, reason = "facade items only the QEMU tests use yet; the IRQ-handler glue will")
)]
pub use irq::{irq_enable, irq_mask, irq_pending, irq_unmask, take_kernel_irq};
pub use paging::{
    AddressSpace, MapError, PAGE_SIZE, USER_BASE, copy_global_mappings, flush_user, phys_to_virt,
    write_user_pte,
};
#[cfg_attr(
    not(feature = "qemu-test"),
    allow(unused_imports, reason = "facade items only the QEMU tests use yet; the IRQ-handler glue will")
)]
pub use serial::{CONSOLE_IRQ, console_tx_empty_interrupt};
pub use serial::{console_write, console_write_bytes, console_write_raw};
pub use timer::{TIMER_HZ, last_raised_ns as timer_last_raised_ns, now_ns, ticks};
#[cfg(feature = "latency-bench")]
pub use timer::{latency_max_ns as timer_latency_max_ns, latency_reset as timer_latency_reset};
pub use user::{UserContext, run_user};
pub use user::{fault_is_fetch, fault_name};

/// Device memory handed to the root task as an untyped: the legacy VGA window (physical base,
/// log2 size).
pub const DEVICE_UNTYPED: (u64, u8) = (0xa_0000, 17);

/// How far below its stack top a thread starts with an ELF entry point: the System V ABI wants
/// RSP + 8 aligned to 16 at a function's entry, as after a call.
pub const ENTRY_STACK_BIAS: u64 = 8;

/// The top-level page-table entry the kernel uses for the root task's own mappings (its image,
/// stack, IPC buffer, script pages: all in the first table's span from [`USER_BASE`]), which the
/// capability kernel treats as opaque.
pub const USER_ROOT_ENTRY: u16 = (USER_BASE >> 39) as u16;
const _: () = assert!(USER_ROOT_ENTRY == 1);

/// The architecture's name, for messages.
pub const NAME: &str = "x86_64";

/// Loads the kernel's GDT (with TSS), IDT and the SYSCALL MSRs; call once, early. Returns
/// what it did, for the console.
pub fn init_cpu() -> &'static str {
    gdt::init();
    idt::init();
    cpu::enable_nx_and_syscall();
    cpu::enable_user_fpu();
    user::init_syscall_msrs();
    "GDT/TSS (RSP0, IST for #DF), IDT (48 vectors, naked entry stubs), SYSCALL MSRs loaded"
}

/// Starts the periodic timer (PIT channel 0 through the 8259 PIC) at [`TIMER_HZ`].
pub fn timer_init() {
    timer::init();
}

/// Not implemented on x86_64: the bootloader leaves an unmapped page below the kernel stack, but
/// no probe or test exercises it here (riscv64's are in `riscv64::stack_guard`).
#[allow(dead_code, reason = "facade twin: the stack-guard tests run on riscv64 only")]
pub fn kernel_stack_guard_touch() -> Result<crate::arch::GuardTrap, &'static str> {
    Err("not implemented on x86_64")
}

/// Not implemented on x86_64 (see [`kernel_stack_guard_touch`]).
#[allow(dead_code, reason = "facade twin: the stack-guard tests run on riscv64 only")]
pub fn kernel_stack_overflow_probe() -> Result<crate::arch::GuardTrap, &'static str> {
    Err("not implemented on x86_64")
}
