//! What the project's programs do to the processor directly, to see what the kernel makes of
//! it: touch an unmapped address, run a floating-point instruction, read through the TLS
//! register.

/// Reads the word at `addr`, which no page of this address space maps: the thread faults, and
/// the kernel sends the fault to its fault handler, or stops it without one.
pub fn fault_at(addr: u64) -> ! {
    let p = core::hint::black_box(addr) as *const u64;
    // SAFETY: nothing is mapped at `addr` (the caller's contract), so the read does not return:
    // the thread faults there; no Rust object is read.
    let v = unsafe { p.read_volatile() };
    loop {
        core::hint::black_box(v);
    }
}

/// Runs one floating-point instruction (x86_64: an x87 load; riscv64: a move into f0), then
/// spins: with its FPU off (TCB SetFlags' `fpuDisabled`) the thread faults at the instruction.
pub fn use_fpu() -> ! {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `fldz` pushes 0.0 on the thread's own x87 stack; it touches no memory.
    unsafe {
        core::arch::asm!("fldz", options(nomem, nostack))
    };
    #[cfg(target_arch = "riscv64")]
    // SAFETY: writes 0 into f0, a register of this thread's own FPU state; no memory.
    unsafe {
        core::arch::asm!(".option push", ".option arch, +d", "fmv.d.x f0, zero", ".option pop", out("f0") _, options(nomem, nostack))
    };
    loop {
        core::hint::spin_loop();
    }
}

/// The word at the thread's TLS base: `%fs:0` on x86_64; on riscv64 the word `tp` points to.
/// The caller set the base to a static `u64` of this program.
pub fn tls_word() -> u64 {
    let w: u64;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads the 8 bytes at the FS base, which the caller set to a static `u64` of this
    // program (mapped, aligned, live for the program's life).
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) w, options(nostack, readonly))
    };
    #[cfg(target_arch = "riscv64")]
    // SAFETY: as above, through `tp`, which the kernel set to a static `u64`.
    unsafe {
        core::arch::asm!("ld {}, 0(tp)", out(reg) w, options(nostack, readonly))
    };
    w
}
