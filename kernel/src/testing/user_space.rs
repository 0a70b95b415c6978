//! riscv64 user space is the whole lower half of Sv39, as in seL4: the kernel keeps no mapping
//! there, and user code runs at seL4's link address, 0x10000.

use super::checks::{Check, Program};
use crate::arch::{self, Irq, Trap};
use crate::memory;

/// Where seL4 programs are linked on riscv64.
const LOW: u64 = 0x1_0000;

/// The kernel's table has no lower-half root entry, and the spinning program, mapped at
/// [`LOW`] too, runs there until the timer interrupts it.
pub fn lower_half_is_the_users() -> Check {
    let entries = arch::kernel_lower_half_entries();
    kprintln!("user space: the kernel's table has {entries} valid root entries in the lower half");
    if entries != 0 {
        return Err("the kernel maps something in the user's lower half");
    }
    let code = arch::programs::spin();
    let frame = memory::frames::alloc_zeroed().ok_or("no frame")?;
    arch::copy_to_frame(frame, 0, code);
    let ran = run_at_low(code.len() as u64, frame);
    memory::frames::free(frame);
    let (pc, count) = ran?;
    kprintln!(
        "user space: the spinning program ran at {LOW:#x}: stopped by the timer at pc {pc:#x}, counter {count}"
    );
    Ok(())
}

/// Runs the spinning program from its copy at [`LOW`] (in `frame`) until the timer has stopped
/// it after some progress; returns where it stopped and its counter.
fn run_at_low(len: u64, frame: u64) -> Result<(u64, u64), &'static str> {
    let mut p = Program::load(arch::programs::spin())?;
    p.map_frame(LOW, frame, true)?;
    p.ctx.set_ip(LOW);
    // A tick may arrive before the first instruction: give it a few.
    for _ in 0..4 {
        match p.run() {
            Trap::Interrupt(Irq::Timer) => {}
            _ => return Err("the program at 0x10000 stopped for something other than the timer"),
        }
        let (pc, count) = (p.ctx.ip(), arch::programs::spin_counter(&p.ctx));
        if !(LOW..LOW + len).contains(&pc) {
            return Err("the program at 0x10000 was stopped elsewhere");
        }
        if count > 0 {
            return Ok((pc, count));
        }
    }
    Err("the program at 0x10000 made no progress across four timer interrupts")
}
