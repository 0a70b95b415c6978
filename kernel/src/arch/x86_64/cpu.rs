//! Small CPU operations: interrupt flag, halt, EFER bits, the QEMU exit device.

use ::x86_64::instructions::{hlt, interrupts, port::Port};
use ::x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
use ::x86_64::registers::model_specific::{Efer, EferFlags};

use crate::ExitCode;

/// Disables interrupts (clears IF); returns whether they were enabled.
pub fn interrupts_disable() -> bool {
    let was = interrupts::are_enabled();
    interrupts::disable();
    was
}

/// Enables interrupts and halts until one arrives, atomically (`sti; hlt`), then masks them again.
pub fn wait_for_interrupt() {
    interrupts::enable_and_hlt();
    interrupts::disable();
}

/// Turns on no-execute pages (EFER.NXE) and the SYSCALL instruction (EFER.SCE).
/// Lets user code use x87 and SSE (CR0.MP set, EM clear; CR4.OSFXSR and OSXMMEXCPT set), so that
/// FXSAVE/FXRSTOR keep each thread's registers (`user::run_user`). The kernel itself is built
/// without SSE and never touches them.
pub(super) fn enable_user_fpu() {
    // SAFETY: these bits only enable the FPU/SSE instructions and their state-saving forms; the
    // kernel uses neither (its target has no SSE), and each user context's FPU state is loaded
    // before the user runs.
    unsafe {
        Cr0::update(|f| {
            f.remove(Cr0Flags::EMULATE_COPROCESSOR);
            f.insert(Cr0Flags::MONITOR_COPROCESSOR);
        });
        Cr4::update(|f| f.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
    }
}

pub(super) fn enable_nx_and_syscall() {
    // SAFETY: NXE only makes the NO_EXECUTE page bit meaningful (the bootloader's tables use it
    // consistently) and SCE only enables the SYSCALL instruction, whose MSRs `user` sets up.
    unsafe {
        Efer::update(|f| f.insert(EferFlags::NO_EXECUTE_ENABLE | EferFlags::SYSTEM_CALL_EXTENSIONS));
    }
}

/// Leaves QEMU through the `isa-debug-exit` device (iobase 0xf4); QEMU exits with `(v << 1) | 1`.
///
/// Halts forever if the device is absent (real hardware, or QEMU without the device).
pub fn exit_qemu(code: ExitCode) -> ! {
    let value: u32 = match code {
        ExitCode::Success => 0x10,
        ExitCode::Failure => 0x11,
    };
    // SAFETY: port 0xf4 is the isa-debug-exit device QEMU is started with; writing it ends the
    // VM. Without the device the write is ignored.
    unsafe { Port::<u32>::new(0xf4).write(value) };
    loop {
        interrupts::disable();
        hlt();
    }
}
