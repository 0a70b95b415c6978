//! x86_64: booted by the `bootloader` crate (BIOS or UEFI), PC devices under QEMU.

mod boot;
mod cpu;
mod gdt;
mod idt;
mod irq;
mod paging;
#[cfg(feature = "qemu-test")]
pub mod programs;
mod serial;
mod timer;
mod trap;
mod user;

pub use cpu::{exit_qemu, interrupts_disable, wait_for_interrupt};
#[cfg(feature = "qemu-test")]
pub use irq::irq_unmask;
pub use irq::{irq_enable, irq_mask, irq_pending, take_kernel_irq};
pub use paging::{
    AddressSpace, MapError, PAGE_SIZE, USER_BASE, copy_global_mappings, flush_user, phys_to_virt,
};
#[cfg(feature = "qemu-test")]
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
