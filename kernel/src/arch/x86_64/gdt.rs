//! GDT and TSS: null, kernel code, kernel data, user data, user code, TSS.
//!
//! This order is what SYSCALL/SYSRET need: SYSCALL loads CS = `STAR[47:32]` and SS = that + 8;
//! SYSRET (64-bit) loads SS = `STAR[63:48] + 8` and CS = `STAR[63:48] + 16`.

use ::x86_64::VirtAddr;
use ::x86_64::instructions::segmentation::{CS, DS, ES, SS, Segment};
use ::x86_64::instructions::tables::load_tss;
use ::x86_64::registers::segmentation::SegmentSelector;
use ::x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable};
use ::x86_64::structures::tss::TaskStateSegment;
use spin::Once;

/// The selectors of the kernel's GDT.
#[derive(Clone, Copy, Debug)]
pub struct Selectors {
    /// Ring-0 code.
    pub kernel_code: SegmentSelector,
    /// Ring-0 data/stack.
    pub kernel_data: SegmentSelector,
    /// Ring-3 data/stack (RPL 3).
    pub user_data: SegmentSelector,
    /// Ring-3 64-bit code (RPL 3).
    pub user_code: SegmentSelector,
    /// The task-state segment.
    pub tss: SegmentSelector,
}

/// The IST slot (0-based) of the double-fault stack.
pub const DOUBLE_FAULT_IST: u16 = 0;

const STACK_SIZE: usize = 32 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// The stack the CPU switches to on an interrupt or exception from ring 3 (TSS.RSP0); the
/// SYSCALL entry switches to it too.
static mut TRAP_STACK: Stack = Stack([0; STACK_SIZE]);
/// The stack for #DF (IST1), so a kernel stack overflow still gets a report.
static mut DOUBLE_FAULT_STACK: Stack = Stack([0; STACK_SIZE]);

static TSS: Once<TaskStateSegment> = Once::new();
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

fn stack_top(stack: *mut Stack) -> VirtAddr {
    VirtAddr::from_ptr(stack)
        .as_u64()
        .checked_add(STACK_SIZE as u64)
        .map(VirtAddr::new)
        .unwrap_or(VirtAddr::zero())
}

/// The top of the ring-3 entry stack (TSS.RSP0), which the SYSCALL entry also uses.
pub fn trap_stack_top() -> u64 {
    stack_top(&raw mut TRAP_STACK).as_u64()
}

/// The GDT's selectors (after [`init`]).
pub fn selectors() -> Selectors {
    GDT.get().expect("gdt::init runs first").1
}

/// Builds and loads the GDT and TSS and reloads the segment registers.
pub fn init() {
    let tss = TSS.call_once(|| {
        let mut tss = TaskStateSegment::new();
        tss.privilege_stack_table[0] = stack_top(&raw mut TRAP_STACK);
        tss.interrupt_stack_table[DOUBLE_FAULT_IST as usize] = stack_top(&raw mut DOUBLE_FAULT_STACK);
        tss
    });
    let (gdt, sel) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let kernel_code = gdt.append(Descriptor::kernel_code_segment());
        let kernel_data = gdt.append(Descriptor::kernel_data_segment());
        let user_data = gdt.append(Descriptor::user_data_segment());
        let user_code = gdt.append(Descriptor::user_code_segment());
        let tss = gdt.append(Descriptor::tss_segment(tss));
        (gdt, Selectors { kernel_code, kernel_data, user_data, user_code, tss })
    });
    gdt.load();
    // SAFETY: the selectors come from the GDT just loaded, which lives for 'static; the TSS
    // descriptor points at a 'static TSS whose stacks are 'static and unused until now.
    unsafe {
        CS::set_reg(sel.kernel_code);
        SS::set_reg(sel.kernel_data);
        DS::set_reg(sel.kernel_data);
        ES::set_reg(sel.kernel_data);
        load_tss(sel.tss);
    }
}
