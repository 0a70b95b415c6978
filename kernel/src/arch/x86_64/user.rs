//! User mode: entering ring 3 from a [`UserContext`] and coming back on any kernel entry.
//!
//! [`run_user`] saves the kernel's callee-saved registers and stack pointer, then restores the
//! user's registers and leaves with `sysretq` (if the context last entered by SYSCALL) or
//! `iretq`. Any entry from ring 3 (SYSCALL, exception, interrupt) builds a `TrapFrame` on the
//! trap stack, copies it into the context, and returns from `run_user` with the cause. So the
//! kernel sees user mode as a function that returns at every kernel entry: each one becomes an
//! event for the dispatcher, and resuming the thread is calling `run_user` again.
//!
//! System calls follow seL4's x86_64 convention: syscall number in RDX, capability in RDI,
//! MessageInfo in RSI, message registers 0–3 in R10, R8, R9, R15; the reply comes back in RDI
//! (badge), RSI (MessageInfo) and the same four message registers.

use core::arch::naked_asm;

use ::x86_64::VirtAddr;
use ::x86_64::registers::control::{Cr0, Cr0Flags};
use ::x86_64::registers::model_specific::{FsBase, GsBase, LStar, SFMask, Star};
use ::x86_64::registers::rflags::RFlags;

use super::gdt;
use super::trap::{FRAME_VECTOR, SYSCALL_VECTOR, TrapFrame, vector_name};
/// The registers of `seL4_UserContext` on this arch: the first words of a TCB's register file.
pub const REGISTER_COUNT: usize = abi::x86_64::REGISTER_COUNT;

use crate::arch::{FaultKind, Irq, Trap, UserFault};

/// A user thread's saved registers.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserContext {
    /// The registers, as the entry code saved them (or as prepared for the first entry).
    pub frame: TrapFrame,
    /// CR2 at the last page fault.
    pub fault_addr: u64,
    /// The x87/SSE registers (FXSAVE's area), loaded before the thread runs and saved when it
    /// leaves: threads do not see each other's.
    pub fpu: FpuState,
    /// The FS base (`TLS_BASE`, set by SetTLSBase) and GS base, loaded into their MSRs before
    /// the thread runs. A user thread cannot change them itself (the kernel leaves CR4.FSGSBASE
    /// off), so they are not read back.
    pub fs_base: u64,
    /// The GS base.
    pub gs_base: u64,
    /// The thread runs with the FPU off (TCB SetFlags' `fpuDisabled`): CR0.TS set, so an
    /// x87/SSE instruction raises #NM (vector 7), a user exception; its FPU state is neither
    /// loaded nor saved.
    pub fpu_disabled: bool,
}

/// The 512-byte FXSAVE area.
#[repr(C, align(16))]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FpuState([u8; 512]);

impl Default for FpuState {
    /// The state after FNINIT and a reset MXCSR: x87 control word 0x037f, all exceptions masked.
    fn default() -> Self {
        let mut a = [0u8; 512];
        a[0..2].copy_from_slice(&0x037f_u16.to_le_bytes());
        a[24..28].copy_from_slice(&0x1f80_u32.to_le_bytes());
        FpuState(a)
    }
}

impl core::fmt::Debug for FpuState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FpuState { .. }")
    }
}

impl UserContext {
    /// A context that starts at `entry` with stack pointer `stack_top` and interrupts enabled.
    pub fn new(entry: u64, stack_top: u64) -> Self {
        let frame = TrapFrame {
            rip: entry,
            rsp: stack_top,
            rflags: RFlags::INTERRUPT_FLAG.bits() | 2,
            ..TrapFrame::default()
        };
        UserContext {
            frame,
            fault_addr: 0,
            fpu: FpuState::default(),
            fs_base: 0,
            gs_base: 0,
            fpu_disabled: false,
        }
    }

    /// The instruction pointer.
    pub fn ip(&self) -> u64 {
        self.frame.rip
    }

    /// Moves the instruction pointer (e.g. back to the syscall instruction to restart it).
    pub fn set_ip(&mut self, ip: u64) {
        self.frame.rip = ip;
    }

    /// The registers in `seL4_UserContext` order (`abi::x86_64::UserContext`: rip … r15,
    /// fs_base, gs_base), as the capability kernel's TCB keeps them; the words past x86_64's 20
    /// are 0.
    pub fn sel4_registers(&self) -> [u64; REGISTER_COUNT] {
        use abi::x86_64::reg as r;
        let f = &self.frame;
        let mut out = [0; REGISTER_COUNT];
        for (i, v) in [
            (r::RIP, f.rip),
            (r::RSP, f.rsp),
            (r::RFLAGS, f.rflags),
            (r::RAX, f.rax),
            (r::RBX, f.rbx),
            (r::RCX, f.rcx),
            (r::RDX, f.rdx),
            (r::RSI, f.rsi),
            (r::RDI, f.rdi),
            (r::RBP, f.rbp),
            (r::R8, f.r8),
            (r::R9, f.r9),
            (r::R10, f.r10),
            (r::R11, f.r11),
            (r::R12, f.r12),
            (r::R13, f.r13),
            (r::R14, f.r14),
            (r::R15, f.r15),
            (r::FS_BASE, self.fs_base),
            (r::GS_BASE, self.gs_base),
        ] {
            out[i] = v;
        }
        out
    }

    /// Sets the registers from `seL4_UserContext` order (see [`Self::sel4_registers`];
    /// `run_user` keeps only the user's arithmetic flags).
    pub fn set_sel4_registers(&mut self, v: &[u64; REGISTER_COUNT]) {
        use abi::x86_64::reg as r;
        let f = &mut self.frame;
        [f.rip, f.rsp, f.rflags, f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp] = [
            v[r::RIP],
            v[r::RSP],
            v[r::RFLAGS],
            v[r::RAX],
            v[r::RBX],
            v[r::RCX],
            v[r::RDX],
            v[r::RSI],
            v[r::RDI],
            v[r::RBP],
        ];
        [f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15] =
            [v[r::R8], v[r::R9], v[r::R10], v[r::R11], v[r::R12], v[r::R13], v[r::R14], v[r::R15]];
        (self.fs_base, self.gs_base) = (v[r::FS_BASE], v[r::GS_BASE]);
    }

    /// Sets a thread's first four arguments at its entry point (the C calling convention).
    pub fn set_entry_args(&mut self, args: [u64; 4]) {
        let f = &mut self.frame;
        [f.rdi, f.rsi, f.rdx, f.rcx] = args;
    }
}

/// The kernel stack pointer saved by [`run_user`] (after its callee-saved pushes).
static mut KERNEL_RSP: u64 = 0;
/// The context [`run_user`] is running.
static mut CURRENT: *mut UserContext = core::ptr::null_mut();
/// The user stack pointer at SYSCALL, until the entry code has saved it in the frame.
static mut SYSCALL_USER_RSP: u64 = 0;
/// The top of the trap stack, for the SYSCALL entry (SYSCALL does not switch stacks).
static mut SYSCALL_STACK_TOP: u64 = 0;

/// Points the SYSCALL MSRs at [`syscall_entry`]; SFMASK clears IF, TF, DF, AC on entry.
pub(super) fn init_syscall_msrs() {
    let sel = gdt::selectors();
    // The SYSCALL entry pushes these two selectors as immediates.
    assert!(sel.user_data.0 == 0x1b && sel.user_code.0 == 0x23, "GDT order changed: fix syscall_entry");
    // SAFETY: written once at boot, before any user code runs; nothing reads it concurrently.
    unsafe { SYSCALL_STACK_TOP = gdt::trap_stack_top() };
    Star::write(sel.user_code, sel.user_data, sel.kernel_code, sel.kernel_data)
        .unwrap_or_else(|e| panic!("STAR selectors out of order: {e}"));
    LStar::write(VirtAddr::new(syscall_entry as *const () as u64));
    SFMask::write(
        RFlags::INTERRUPT_FLAG | RFlags::TRAP_FLAG | RFlags::DIRECTION_FLAG | RFlags::ALIGNMENT_CHECK,
    );
}

/// Runs `ctx` in ring 3 until the next kernel entry, and says why it stopped.
///
/// Interrupts must be disabled (they are re-enabled in user mode through the user's RFLAGS and
/// masked again on entry). A context whose instruction pointer is not in the lower half (a
/// non-canonical one would make `sysretq` fault in ring 0) is not entered: it gets a
/// general-protection fault.
pub fn run_user(ctx: &mut UserContext) -> Trap {
    let sel = gdt::selectors();
    let f = &mut ctx.frame;
    if f.rip >= super::paging::LOWER_HALF_END {
        return Trap::Fault(UserFault {
            kind: FaultKind::GeneralProtection,
            ip: f.rip,
            addr: 0,
            vector: 13,
            code: 0,
        });
    }
    f.cs = u64::from(sel.user_code.0);
    f.ss = u64::from(sel.user_data.0);
    // Only the arithmetic flags, DF and the interrupt flag (forced on) come from the user.
    let user_flags = RFlags::CARRY_FLAG
        | RFlags::PARITY_FLAG
        | RFlags::AUXILIARY_CARRY_FLAG
        | RFlags::ZERO_FLAG
        | RFlags::SIGN_FLAG
        | RFlags::DIRECTION_FLAG
        | RFlags::OVERFLOW_FLAG;
    f.rflags = (f.rflags & user_flags.bits()) | RFlags::INTERRUPT_FLAG.bits() | 2;
    // The segment bases, canonical (a non-canonical one reads as 0, as seL4's
    // `sanitiseRegister` makes it): the kernel uses neither.
    let base = |i, v| VirtAddr::new_truncate(codegears::fault::sanitise_register(abi::Arch::X86_64, i, v));
    FsBase::write(base(abi::x86_64::reg::FS_BASE, ctx.fs_base));
    GsBase::write(base(abi::x86_64::reg::GS_BASE, ctx.gs_base));
    let fpu_disabled = ctx.fpu_disabled;
    if fpu_disabled {
        // SAFETY: setting CR0.TS only makes the next x87/SSE instruction raise #NM; the kernel
        // uses none (it is built without SSE), and TS is cleared again below.
        unsafe { Cr0::update(|f| f.insert(Cr0Flags::TASK_SWITCHED)) };
    } else {
        let fpu = &raw mut ctx.fpu;
        // SAFETY: `fpu` is this context's 16-byte-aligned 512-byte FXSAVE area, holding a state
        // FXSAVE wrote or the valid initial one (`FpuState::default`: MXCSR's reserved bits
        // clear); the kernel uses no x87/SSE register, so what is loaded here is what the user
        // finds.
        unsafe { core::arch::asm!("fxrstor64 [{0}]", in(reg) fpu, options(nostack, readonly)) };
    }
    // SAFETY: interrupts are off (the caller's contract); `ctx` is exclusively borrowed for the
    // whole call, the frame's CS/SS are ring-3 selectors and RIP a user address (checked above),
    // so the CPU leaves ring 0; the entry paths write the context and resume here.
    unsafe { enter_user(ctx) };
    if fpu_disabled {
        // SAFETY: clears CR0.TS, which the kernel set above.
        unsafe { Cr0::update(|f| f.remove(Cr0Flags::TASK_SWITCHED)) };
    } else {
        let fpu = &raw mut ctx.fpu;
        // SAFETY: as above; the registers still hold the user's state (the kernel touched none).
        unsafe { core::arch::asm!("fxsave64 [{0}]", in(reg) fpu, options(nostack)) };
    }
    classify(ctx)
}

fn classify(ctx: &UserContext) -> Trap {
    let f = &ctx.frame;
    match f.vector {
        SYSCALL_VECTOR => Trap::Syscall,
        v if (super::trap::PIC_BASE..super::trap::PIC_BASE + 16).contains(&v) => {
            let line = (v - super::trap::PIC_BASE) as u32;
            Trap::Interrupt(if line == 0 { Irq::Timer } else { Irq::Other(line) })
        }
        // An MSI (IRQ vector - 0x20), or a spurious interrupt (a line no handler has).
        v if super::lapic::USER_VECTORS.contains(&v) || v == super::lapic::SPURIOUS_VECTOR => {
            Trap::Interrupt(Irq::Other((v - super::trap::PIC_BASE) as u32))
        }
        v => {
            let kind = match v {
                14 => FaultKind::PageFault,
                6 => FaultKind::IllegalInstruction,
                10..=13 => FaultKind::GeneralProtection,
                0 | 4 | 16 | 19 => FaultKind::Arithmetic,
                1 | 3 => FaultKind::Debug,
                _ => FaultKind::Other,
            };
            let addr = if v == 14 { ctx.fault_addr } else { 0 };
            Trap::Fault(UserFault { kind, ip: f.rip, addr, vector: v, code: f.error_code })
        }
    }
}

/// The name of the CPU exception behind a user fault, for reports.
pub fn fault_name(fault: &UserFault) -> &'static str {
    vector_name(fault.vector)
}

/// Whether a page fault was an instruction fetch (the error code's I/D bit).
pub fn fault_is_fetch(fault: &UserFault) -> bool {
    fault.vector == 14 && fault.code & 0x10 != 0
}

/// Saves the kernel's callee-saved registers and stack, then enters ring 3 from `ctx`.
///
/// # Safety
/// As for [`run_user`], which checks the frame first.
#[unsafe(naked)]
unsafe extern "sysv64" fn enter_user(ctx: *mut UserContext) {
    naked_asm!(
        "push rbx", "push rbp", "push r12", "push r13", "push r14", "push r15",
        "mov [rip + {kernel_rsp}], rsp",
        "mov [rip + {current}], rdi",
        "mov rsp, rdi",
        "cmp qword ptr [rsp + {vector}], {syscall}",
        "je 3f",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop r11", "pop r10", "pop r9", "pop r8",
        "pop rbp", "pop rdi", "pop rsi", "pop rdx", "pop rcx", "pop rbx", "pop rax",
        "add rsp, 16",
        "iretq",
        // Entered by SYSCALL last time: leave by SYSRET (RCX = RIP, R11 = RFLAGS).
        "3:",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop r11", "pop r10", "pop r9", "pop r8",
        "pop rbp", "pop rdi", "pop rsi", "pop rdx", "pop rcx", "pop rbx", "pop rax",
        "mov rcx, [rsp + 16]",
        "mov r11, [rsp + 32]",
        "mov rsp, [rsp + 40]",
        "sysretq",
        kernel_rsp = sym KERNEL_RSP,
        current = sym CURRENT,
        vector = const FRAME_VECTOR,
        syscall = const SYSCALL_VECTOR,
    );
}

/// The SYSCALL entry: switch to the trap stack, build a `TrapFrame` as an interrupt would, and
/// leave to the kernel through [`leave_user`].
#[unsafe(naked)]
extern "C" fn syscall_entry() {
    naked_asm!(
        "mov [rip + {user_rsp}], rsp",
        "mov rsp, [rip + {stack_top}]",
        "push {udata}",
        "push qword ptr [rip + {user_rsp}]",
        "push r11",
        "push {ucode}",
        "push rcx",
        "push 0",
        "push {syscall}",
        "push rax", "push rbx", "push rcx", "push rdx", "push rsi", "push rdi", "push rbp",
        "push r8", "push r9", "push r10", "push r11", "push r12", "push r13", "push r14", "push r15",
        "cld",
        "jmp {leave_user}",
        user_rsp = sym SYSCALL_USER_RSP,
        stack_top = sym SYSCALL_STACK_TOP,
        udata = const 0x1b,
        ucode = const 0x23,
        syscall = const SYSCALL_VECTOR,
        leave_user = sym leave_user,
    );
}

/// The common tail of every entry from ring 3: RSP points at a complete `TrapFrame`. Saves it
/// into the current context, then returns from [`enter_user`] on the kernel stack.
#[unsafe(naked)]
pub(super) extern "C" fn leave_user() {
    naked_asm!(
        "mov rdi, rsp",
        "call {save}",
        "mov rsp, [rip + {kernel_rsp}]",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop rbp", "pop rbx",
        "ret",
        save = sym save_user_frame,
        kernel_rsp = sym KERNEL_RSP,
    );
}

/// Copies the entry frame into the running context; records CR2 for a page fault and
/// acknowledges a device interrupt at once.
extern "sysv64" fn save_user_frame(frame: &TrapFrame) {
    // SAFETY: CURRENT was set by `enter_user` from the `&mut UserContext` that `run_user` holds
    // for the whole time the user runs; nothing else touches it until `enter_user` returns.
    let ctx = unsafe { &mut *CURRENT };
    ctx.frame = *frame;
    if frame.vector == 14 {
        ctx.fault_addr = ::x86_64::registers::control::Cr2::read_raw();
    }
    let _ = super::timer::acknowledge(frame.vector);
}
