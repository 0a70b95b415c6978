//! Interrupt and exception entry: naked stubs that build a [`TrapFrame`] and call Rust.
//!
//! Every vector has a stub that pushes a zero error code (if the CPU pushes none) and its vector
//! number, then jumps to [`trap_common`], which pushes the general registers. A trap from ring 0
//! goes to [`kernel_trap`] and returns with `iretq`; a trap from ring 3 goes to
//! [`super::user::leave_user`], which saves the frame into the running `UserContext` and returns
//! to the kernel code that called `run_user`.

use core::arch::naked_asm;

/// The registers of an interrupted context, in the order the entry code pushes them.
///
/// The lowest address is `r15`; `vector` and `error_code` come from the stub, `rip`…`ss` from
/// the CPU (or, for SYSCALL, from the syscall entry, which builds the same frame).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// Offsets into [`TrapFrame`] used by the assembly.
pub const FRAME_VECTOR: usize = 120;
/// Offset of `cs`.
pub const FRAME_CS: usize = 144;
const _: () = assert!(core::mem::size_of::<TrapFrame>() == 176);
const _: () = assert!(core::mem::offset_of!(TrapFrame, vector) == FRAME_VECTOR);
const _: () = assert!(core::mem::offset_of!(TrapFrame, cs) == FRAME_CS);

/// The pseudo-vector the SYSCALL entry stores in [`TrapFrame::vector`].
pub const SYSCALL_VECTOR: u64 = 0x100;
/// The first vector of the remapped 8259 PIC (IRQ 0 = the PIT timer).
pub const PIC_BASE: u64 = 32;
/// The number of vectors with a stub: 32 exceptions and 16 PIC lines.
pub const STUB_COUNT: usize = 48;

/// Pushes the general registers below the stub's vector and error code, and dispatches on the
/// privilege level the trap came from.
#[unsafe(naked)]
pub extern "C" fn trap_common() {
    naked_asm!(
        "push rax", "push rbx", "push rcx", "push rdx", "push rsi", "push rdi", "push rbp",
        "push r8", "push r9", "push r10", "push r11", "push r12", "push r13", "push r14", "push r15",
        "cld",
        "test qword ptr [rsp + {cs}], 3",
        "jnz 2f",
        // From ring 0: handle on the current stack and resume.
        "mov rdi, rsp",
        "call {kernel_trap}",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop r11", "pop r10", "pop r9", "pop r8",
        "pop rbp", "pop rdi", "pop rsi", "pop rdx", "pop rcx", "pop rbx", "pop rax",
        "add rsp, 16",
        "iretq",
        // From ring 3: save the frame into the user context and go back to `run_user`'s caller.
        "2:",
        "jmp {leave_user}",
        cs = const FRAME_CS,
        kernel_trap = sym kernel_trap,
        leave_user = sym super::user::leave_user,
    );
}

macro_rules! stubs {
    ($( $name:ident = $vector:literal $kind:ident ),* $(,)?) => {
        $( stubs!(@one $name, $vector, $kind); )*
        /// The entry stubs, indexed by vector.
        pub const STUBS: [extern "C" fn(); STUB_COUNT] = [$($name),*];
    };
    (@one $name:ident, $vector:literal, noerr) => {
        #[unsafe(naked)]
        extern "C" fn $name() {
            naked_asm!("push 0", "push {v}", "jmp {common}", v = const $vector, common = sym trap_common);
        }
    };
    (@one $name:ident, $vector:literal, err) => {
        #[unsafe(naked)]
        extern "C" fn $name() {
            naked_asm!("push {v}", "jmp {common}", v = const $vector, common = sym trap_common);
        }
    };
}

stubs! {
    v00 = 0 noerr, v01 = 1 noerr, v02 = 2 noerr, v03 = 3 noerr, v04 = 4 noerr, v05 = 5 noerr,
    v06 = 6 noerr, v07 = 7 noerr, v08 = 8 err, v09 = 9 noerr, v10 = 10 err, v11 = 11 err,
    v12 = 12 err, v13 = 13 err, v14 = 14 err, v15 = 15 noerr, v16 = 16 noerr, v17 = 17 err,
    v18 = 18 noerr, v19 = 19 noerr, v20 = 20 noerr, v21 = 21 err, v22 = 22 noerr, v23 = 23 noerr,
    v24 = 24 noerr, v25 = 25 noerr, v26 = 26 noerr, v27 = 27 noerr, v28 = 28 noerr, v29 = 29 err,
    v30 = 30 err, v31 = 31 noerr,
    v32 = 32 noerr, v33 = 33 noerr, v34 = 34 noerr, v35 = 35 noerr, v36 = 36 noerr, v37 = 37 noerr,
    v38 = 38 noerr, v39 = 39 noerr, v40 = 40 noerr, v41 = 41 noerr, v42 = 42 noerr, v43 = 43 noerr,
    v44 = 44 noerr, v45 = 45 noerr, v46 = 46 noerr, v47 = 47 noerr,
}

/// The name of an exception vector, for reports.
pub fn vector_name(vector: u64) -> &'static str {
    const NAMES: [&str; 32] = [
        "#DE divide error",
        "#DB debug",
        "NMI",
        "#BP breakpoint",
        "#OF overflow",
        "#BR bound range",
        "#UD invalid opcode",
        "#NM device not available",
        "#DF double fault",
        "coprocessor overrun",
        "#TS invalid TSS",
        "#NP segment not present",
        "#SS stack fault",
        "#GP general protection",
        "#PF page fault",
        "reserved 15",
        "#MF x87 error",
        "#AC alignment check",
        "#MC machine check",
        "#XM SIMD error",
        "#VE virtualization",
        "#CP control protection",
        "reserved 22",
        "reserved 23",
        "reserved 24",
        "reserved 25",
        "reserved 26",
        "reserved 27",
        "#HV hypervisor injection",
        "#VC VMM communication",
        "#SX security",
        "reserved 31",
    ];
    match vector {
        0..=31 => NAMES[vector as usize],
        SYSCALL_VECTOR => "syscall",
        v if v == PIC_BASE => "timer (PIT IRQ 0)",
        _ => "device interrupt",
    }
}

/// Handles a trap taken in ring 0: device interrupts are acknowledged (a device line masked and
/// recorded for `take_kernel_irq`) and counted; an
/// exception is a kernel bug, reported and fatal.
extern "sysv64" fn kernel_trap(frame: &mut TrapFrame) {
    if let Some(irq) = super::timer::acknowledge(frame.vector) {
        if let crate::arch::Irq::Other(line) = irq {
            super::irq::record_kernel_irq(line);
        }
        return;
    }
    let cr2 = ::x86_64::registers::control::Cr2::read_raw();
    crate::console::fatal(format_args!(
        "kernel exception: vector {} ({}), error code {:#x}, RIP {:#018x}, CR2 {:#018x}, RSP {:#018x}, RFLAGS {:#x}, CS {:#x}",
        frame.vector,
        vector_name(frame.vector),
        frame.error_code,
        frame.rip,
        cr2,
        frame.rsp,
        frame.rflags,
        frame.cs
    ));
}
