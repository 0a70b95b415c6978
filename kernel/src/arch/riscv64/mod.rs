//! riscv64: QEMU `virt` machine, entered in S-mode by OpenSBI at physical 0x80200000.
//!
//! The kernel lives in the upper half of Sv39, as seL4's does: its image at
//! 0xffff_ffff_8020_0000, and physical memory (devices and RAM, 0 to 16 GiB) in a window at
//! 0xffff_ffc0_0000_0000, so `phys_to_virt` adds an offset; the page below the kernel stack is
//! unmapped as a guard. Every user space shares those kernel-only, global root entries, so
//! traps land in mapped code, and has the whole lower half (see `paging`).

mod boot;
mod cpu;
mod paging;
mod plic;
#[cfg(feature = "qemu-test")]
pub mod programs;
mod sbi;
mod serial;
mod stack_guard;
mod timer;
mod trap;
mod user;

pub use cpu::{exit_qemu, interrupts_disable, wait_for_interrupt};
#[cfg(feature = "qemu-test")]
pub use paging::kernel_lower_half_entries;
pub use paging::{
    AddressSpace, MapError, PAGE_SIZE, USER_BASE, copy_global_mappings, flush_user, phys_to_virt,
};
#[cfg(feature = "qemu-test")]
pub use plic::irq_unmask;
pub use plic::{irq_enable, irq_mask, irq_pending, take_kernel_irq};
#[cfg(feature = "qemu-test")]
pub use serial::{CONSOLE_IRQ, console_tx_empty_interrupt};
pub use serial::{console_write, console_write_bytes, console_write_raw};
#[cfg(feature = "qemu-test")]
pub use stack_guard::{kernel_stack_guard_touch, kernel_stack_overflow_probe};
pub use timer::{TIMER_HZ, last_raised_ns as timer_last_raised_ns, now_ns, ticks};
#[cfg(feature = "latency-bench")]
pub use timer::{latency_max_ns as timer_latency_max_ns, latency_reset as timer_latency_reset};
pub use user::{UserContext, fault_is_fetch, fault_name, run_user};

/// Device memory handed to the root task as an untyped: the UART's page (physical base, log2
/// size).
pub const DEVICE_UNTYPED: (u64, u8) = (0x1000_0000, 12);

/// How far below its stack top a thread starts with an ELF entry point (the RISC-V ABI wants sp
/// aligned to 16 at every call: none).
pub const ENTRY_STACK_BIAS: u64 = 0;

/// The top-level page-table entry the kernel uses for the root task's own mappings (its image,
/// stack, IPC buffer, script pages: all in the first table's span from [`USER_BASE`]), which the
/// capability kernel treats as opaque. A lower-half entry like any user one.
pub const USER_ROOT_ENTRY: u16 = (USER_BASE >> 30) as u16;
const _: () = assert!(USER_ROOT_ENTRY == 64);

/// The architecture's name, for messages.
pub const NAME: &str = "riscv64";

/// Installs the trap vector, unmaps the kernel stack's guard page in the kernel's Sv39 table
/// (on since the entry code) and initialises the PLIC (every line masked, external interrupts
/// enabled); call once, early. Returns what it did, for the console.
pub fn init_cpu() -> &'static str {
    trap::init();
    paging::init_kernel_space(boot::stack_guard());
    plic::init();
    "stvec (direct mode, sscratch-switched entry) installed; kernel in the Sv39 upper half with a stack guard page; \
     PLIC context 1 (hart 0 S-mode) ready"
}

/// Starts the periodic SBI timer at [`TIMER_HZ`].
pub fn timer_init() {
    timer::init();
}
