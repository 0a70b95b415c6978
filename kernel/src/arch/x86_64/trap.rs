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
pub const STUB_COUNT: usize = 156;

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
    v48 = 48 noerr, v49 = 49 noerr, v50 = 50 noerr, v51 = 51 noerr, v52 = 52 noerr, v53 = 53 noerr,
    v54 = 54 noerr, v55 = 55 noerr, v56 = 56 noerr, v57 = 57 noerr, v58 = 58 noerr, v59 = 59 noerr,
    v60 = 60 noerr, v61 = 61 noerr, v62 = 62 noerr, v63 = 63 noerr, v64 = 64 noerr, v65 = 65 noerr,
    v66 = 66 noerr, v67 = 67 noerr, v68 = 68 noerr, v69 = 69 noerr, v70 = 70 noerr, v71 = 71 noerr,
    v72 = 72 noerr, v73 = 73 noerr, v74 = 74 noerr, v75 = 75 noerr, v76 = 76 noerr, v77 = 77 noerr,
    v78 = 78 noerr, v79 = 79 noerr, v80 = 80 noerr, v81 = 81 noerr, v82 = 82 noerr, v83 = 83 noerr,
    v84 = 84 noerr, v85 = 85 noerr, v86 = 86 noerr, v87 = 87 noerr, v88 = 88 noerr, v89 = 89 noerr,
    v90 = 90 noerr, v91 = 91 noerr, v92 = 92 noerr, v93 = 93 noerr, v94 = 94 noerr, v95 = 95 noerr,
    v96 = 96 noerr, v97 = 97 noerr, v98 = 98 noerr, v99 = 99 noerr, v100 = 100 noerr, v101 = 101
    noerr, v102 = 102 noerr, v103 = 103 noerr, v104 = 104 noerr, v105 = 105 noerr, v106 = 106 noerr,
    v107 = 107 noerr, v108 = 108 noerr, v109 = 109 noerr, v110 = 110 noerr, v111 = 111 noerr, v112 =
    112 noerr, v113 = 113 noerr, v114 = 114 noerr, v115 = 115 noerr, v116 = 116 noerr, v117 = 117
    noerr, v118 = 118 noerr, v119 = 119 noerr, v120 = 120 noerr, v121 = 121 noerr, v122 = 122 noerr,
    v123 = 123 noerr, v124 = 124 noerr, v125 = 125 noerr, v126 = 126 noerr, v127 = 127 noerr, v128 =
    128 noerr, v129 = 129 noerr, v130 = 130 noerr, v131 = 131 noerr, v132 = 132 noerr, v133 = 133
    noerr, v134 = 134 noerr, v135 = 135 noerr, v136 = 136 noerr, v137 = 137 noerr, v138 = 138 noerr,
    v139 = 139 noerr, v140 = 140 noerr, v141 = 141 noerr, v142 = 142 noerr, v143 = 143 noerr, v144 =
    144 noerr, v145 = 145 noerr, v146 = 146 noerr, v147 = 147 noerr, v148 = 148 noerr, v149 = 149
    noerr, v150 = 150 noerr, v151 = 151 noerr, v152 = 152 noerr, v153 = 153 noerr, v154 = 154 noerr,
    v155 = 155 noerr,
}

/// The local APIC's spurious-interrupt vector's stub (no end-of-interrupt is due for it).
#[unsafe(naked)]
pub extern "C" fn spurious_stub() {
    naked_asm!("push 0", "push {v}", "jmp {common}", v = const super::lapic::SPURIOUS_VECTOR, common = sym trap_common);
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
        super::lapic::SPURIOUS_VECTOR => "spurious interrupt",
        _ => "device interrupt",
    }
}

/// Handles a trap taken in ring 0: device interrupts are acknowledged (a device line masked and
/// recorded for `take_kernel_irq`) and counted; an
/// exception is a kernel bug, reported and fatal.
extern "sysv64" fn kernel_trap(frame: &mut TrapFrame) {
    if frame.vector == super::lapic::SPURIOUS_VECTOR {
        return;
    }
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
