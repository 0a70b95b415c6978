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
pub use paging::{AddressSpace, PAGE_SIZE, copy_global_mappings, flush_user, phys_to_virt};
#[cfg(feature = "qemu-test")]
pub use paging::{MapError, USER_BASE};
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

/// The end of the physical address space device untypeds cover (seL4's
/// `CONFIG_PADDR_USER_DEVICE_TOP` for Sv39).
pub const DEVICE_TOP: u64 = 1 << 39;

/// Device memory the kernel drives itself, never handed to the root task (start, end): the
/// `sifive_test` exit device, the PLIC and the console UART.
pub const KERNEL_DEVICES: &[(u64, u64)] =
    &[(0x10_0000, 0x10_1000), (0x0c00_0000, 0x1000_0000), (0x1000_0000, 0x1000_1000)];

/// riscv64 has no I/O ports (no IOPortControl cap exists there): none is the kernel's.
pub const KERNEL_IO_PORTS: &[(u16, u16)] = &[];

/// riscv64 has no I/O ports, and no IOPort cap asks for one: nothing to write.
pub fn port_out(_port: u16, _width: u8, _value: u32) {}

/// riscv64 has no I/O ports, and no IOPort cap asks for one: nothing to read.
pub fn port_in(_port: u16, _width: u8) -> u32 {
    0
}

/// The extra bootinfo's chunks of riscv64: none yet (seL4 gives the device tree).
pub fn extra_bootinfo(_chunk: &mut dyn FnMut(u64, &[u8])) {}

#[cfg(feature = "qemu-test")]
/// How far below its stack top a thread starts with an ELF entry point (the RISC-V ABI wants sp
/// aligned to 16 at every call: none).
pub const ENTRY_STACK_BIAS: u64 = 0;

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
