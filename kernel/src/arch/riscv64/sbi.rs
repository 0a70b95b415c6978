//! Calls into OpenSBI (the SBI v0.2+ calling convention: EID in a7, FID in a6).

/// `sbi_set_timer` (TIME extension): the next timer interrupt at absolute `time` ticks.
pub fn set_timer(time: u64) {
    let _ = call(0x5449_4D45, 0, time);
}

fn call(eid: u64, fid: u64, arg0: u64) -> (i64, u64) {
    let (error, value): (i64, u64);
    // SAFETY: an `ecall` from S-mode traps to OpenSBI, which returns to the next instruction
    // with a0/a1 set and every other register preserved (SBI calling convention).
    unsafe {
        core::arch::asm!(
            "ecall",
            inlateout("a0") arg0 => error,
            lateout("a1") value,
            in("a6") fid,
            in("a7") eid,
            options(nostack)
        );
    }
    (error, value)
}
