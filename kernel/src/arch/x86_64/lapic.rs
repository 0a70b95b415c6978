//! The local APIC: enabled so that message-signalled interrupts (MSIs) reach the CPU, as seL4
//! needs it for them. The kernel's own timer stays the PIT through the 8259 PICs, whose
//! interrupts come in through LINT0 as external interrupts (virtual-wire mode); an MSI is
//! delivered straight to the local APIC at the vector its device was programmed with, and is
//! acknowledged with an end-of-interrupt here.

use super::paging::phys_to_virt;

/// The local APIC's registers (its default physical address, unrelocated on QEMU's `pc`).
pub const BASE: u64 = 0xfee0_0000;
/// The vector of the local APIC's spurious interrupts (no end-of-interrupt is due for them).
pub const SPURIOUS_VECTOR: u64 = 0xff;
/// The first and last vector of the IRQs seL4 gives users for MSIs and IOAPIC pins
/// (`int_irq_user_min` 0x30 .. `int_irq_user_max` 155).
pub const USER_VECTORS: core::ops::RangeInclusive<u64> = 0x30..=155;

const TPR: u64 = 0x80;
const EOI: u64 = 0xb0;
const SVR: u64 = 0xf0;
const IRR: u64 = 0x200;
const LVT_LINT0: u64 = 0x350;
const LVT_LINT1: u64 = 0x360;
/// SVR: the APIC software-enable bit.
const SVR_ENABLE: u32 = 1 << 8;
/// An LVT entry delivering external interrupts (the PICs', virtual-wire mode), unmasked.
const DELIVERY_EXTINT: u32 = 0b111 << 8;
/// An LVT entry delivering an NMI, unmasked.
const DELIVERY_NMI: u32 = 0b100 << 8;

fn read(reg: u64) -> u32 {
    // SAFETY: the local APIC's 4 KiB register page, reached through the physical-memory window;
    // `reg` is one of its 32-bit, 16-byte aligned registers, read with one aligned access.
    unsafe { (phys_to_virt(BASE + reg) as *const u32).read_volatile() }
}

fn write(reg: u64, value: u32) {
    // SAFETY: as for `read`; writing these registers programs only this CPU's interrupt
    // delivery.
    unsafe { (phys_to_virt(BASE + reg) as *mut u32).write_volatile(value) }
}

/// Enables the local APIC with the PICs' interrupts still coming through LINT0 (as
/// external interrupts) and NMIs through LINT1, accepting every priority.
pub fn init() {
    write(LVT_LINT0, DELIVERY_EXTINT);
    write(LVT_LINT1, DELIVERY_NMI);
    write(TPR, 0);
    write(SVR, SVR_ENABLE | SPURIOUS_VECTOR as u32);
}

/// Signals the end of the interrupt being serviced (an MSI's).
pub fn eoi() {
    write(EOI, 0);
}

/// Whether an MSI is requested and not yet taken (its vector's bit in the interrupt request
/// register: interrupts are masked in the kernel).
pub fn user_vector_pending() -> bool {
    let (first, last) = (*USER_VECTORS.start(), *USER_VECTORS.end());
    (first / 32..=last / 32).any(|word| {
        let mut bits = read(IRR + 0x10 * word);
        for v in word * 32..word * 32 + 32 {
            if !USER_VECTORS.contains(&v) {
                bits &= !(1 << (v % 32));
            }
        }
        bits != 0
    })
}
