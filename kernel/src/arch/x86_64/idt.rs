//! The IDT: every vector 0–155 and the local APIC's spurious vector point at their naked stubs in
//! [`super::trap`].

use ::x86_64::VirtAddr;
use ::x86_64::structures::idt::InterruptDescriptorTable;
use spin::Once;

use super::gdt::DOUBLE_FAULT_IST;
use super::trap::STUBS;

static IDT: Once<InterruptDescriptorTable> = Once::new();

/// Builds and loads the IDT (after the GDT: the entries take the current CS).
pub fn init() {
    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        let addr = |v: usize| VirtAddr::new(STUBS[v] as *const () as u64);
        // SAFETY (all blocks below): each address is a naked stub that matches the CPU's frame for
        // its vector (the stub pushes a zero error code exactly where the CPU pushes none), saves
        // every register and returns with iretq or leaves to the kernel; the #DF stack index names
        // the IST slot `gdt` fills.
        unsafe {
            idt.divide_error.set_handler_addr(addr(0));
            idt.debug.set_handler_addr(addr(1));
            idt.non_maskable_interrupt.set_handler_addr(addr(2));
            idt.breakpoint.set_handler_addr(addr(3));
            idt.overflow.set_handler_addr(addr(4));
            idt.bound_range_exceeded.set_handler_addr(addr(5));
            idt.invalid_opcode.set_handler_addr(addr(6));
            idt.device_not_available.set_handler_addr(addr(7));
            idt.double_fault.set_handler_addr(addr(8)).set_stack_index(DOUBLE_FAULT_IST);
            idt.invalid_tss.set_handler_addr(addr(10));
            idt.segment_not_present.set_handler_addr(addr(11));
            idt.stack_segment_fault.set_handler_addr(addr(12));
            idt.general_protection_fault.set_handler_addr(addr(13));
            idt.page_fault.set_handler_addr(addr(14));
            idt.x87_floating_point.set_handler_addr(addr(16));
            idt.alignment_check.set_handler_addr(addr(17));
            idt.machine_check.set_handler_addr(addr(18));
            idt.simd_floating_point.set_handler_addr(addr(19));
            idt.virtualization.set_handler_addr(addr(20));
            idt.cp_protection_exception.set_handler_addr(addr(21));
            idt.hv_injection_exception.set_handler_addr(addr(28));
            idt.vmm_communication_exception.set_handler_addr(addr(29));
            idt.security_exception.set_handler_addr(addr(30));
            for v in 32..STUBS.len() {
                idt[v as u8].set_handler_addr(addr(v));
            }
            let spurious = VirtAddr::new(super::trap::spurious_stub as *const () as u64);
            idt[super::lapic::SPURIOUS_VECTOR as u8].set_handler_addr(spurious);
        }
        idt
    });
    idt.load();
}
