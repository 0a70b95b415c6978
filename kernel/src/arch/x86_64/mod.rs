//! x86_64: booted by the `bootloader` crate (BIOS or UEFI), PC devices under QEMU.

mod boot;
mod cpu;
mod gdt;
mod idt;
mod irq;
mod lapic;
mod paging;
mod ports;
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
pub use paging::{AddressSpace, PAGE_SIZE, copy_global_mappings, flush_user, phys_to_virt};
#[cfg(feature = "qemu-test")]
pub use paging::{MapError, USER_BASE};
pub use ports::{KERNEL_IO_PORTS, port_in, port_out};
#[cfg(feature = "qemu-test")]
pub use serial::{CONSOLE_IRQ, console_tx_empty_interrupt};
pub use serial::{console_write, console_write_bytes, console_write_raw};
pub use timer::{TIMER_HZ, last_raised_ns as timer_last_raised_ns, now_ns, ticks};
#[cfg(feature = "latency-bench")]
pub use timer::{latency_max_ns as timer_latency_max_ns, latency_reset as timer_latency_reset};
pub use user::{UserContext, run_user};
pub use user::{fault_is_fetch, fault_name};

/// The end of the physical address space device untypeds cover (seL4's
/// `CONFIG_PADDR_USER_DEVICE_TOP` on x86_64).
pub const DEVICE_TOP: u64 = 1 << 47;

/// Device memory the kernel keeps from the root task (start, end): the local APIC's registers,
/// and the IOAPIC's, which seL4 drives itself (a user programming it could deliver any vector,
/// an exception's included; Gears leaves its pins as the firmware left them). The serial line,
/// PICs and PIT are I/O ports.
pub const KERNEL_DEVICES: &[(u64, u64)] =
    &[(IOAPIC_BASE, IOAPIC_BASE + 0x1000), (lapic::BASE, lapic::BASE + 0x1000)];

/// The IOAPIC's registers on QEMU's `pc` machine.
const IOAPIC_BASE: u64 = 0xfec0_0000;

/// The extra bootinfo's chunks seL4's boot gives on x86_64, in its order: the ACPI RSDP (when
/// the firmware has one) and the TSC frequency in MHz (`SEL4_BOOTINFO_HEADER_X86_TSC_FREQ`).
pub fn extra_bootinfo(chunk: &mut dyn FnMut(u64, &[u8])) {
    if let Some(rsdp) = boot::acpi_rsdp() {
        chunk(abi::bootinfo::header::X86_ACPI_RSDP, &rsdp);
    }
    chunk(abi::bootinfo::header::X86_TSC_FREQ, &timer::tsc_mhz().to_le_bytes());
}

/// How far below its stack top a QEMU test's program starts: the System V ABI wants RSP + 8
/// aligned to 16 at a function's entry, as after a call.
#[cfg(feature = "qemu-test")]
pub const ENTRY_STACK_BIAS: u64 = 8;

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
    lapic::init();
    "GDT/TSS (RSP0, IST for #DF), IDT (156 vectors and the APIC's spurious one, naked entry stubs), \
     SYSCALL MSRs loaded, local APIC on (PICs through LINT0, MSIs at vectors 0x30-0x9b)"
}

/// Starts the periodic timer (PIT channel 0 through the 8259 PIC) at [`TIMER_HZ`].
pub fn timer_init() {
    timer::init();
}
