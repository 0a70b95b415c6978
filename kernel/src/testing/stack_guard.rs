//! The kernel stack's guard page (riscv64): touched on purpose, then overflowed on purpose, each
//! time recovered by the arch layer so that the suite goes on.

use super::checks::Check;
use crate::arch::{self, GuardTrap};

fn show(what: &str, t: &GuardTrap) {
    kprintln!(
        "stack guard: {what}: cause {} at {:#x} (guard page {:#x}), sp {:#x}",
        t.cause,
        t.addr,
        t.guard,
        t.sp
    );
}

/// A store to the guard page from kernel mode takes a page fault at exactly that address.
pub fn guard_page_faults_at_its_address() -> Check {
    let t = arch::kernel_stack_guard_touch()?;
    show("a store to the guard page trapped", &t);
    if !t.page_fault {
        return Err("touching the guard page raised something other than a page fault");
    }
    if t.addr != t.guard + 8 {
        return Err("the page fault reported another address than the one touched");
    }
    Ok(())
}

/// Unbounded recursion in the kernel runs into the guard page and is caught on the overflow
/// path (the one that otherwise reports "kernel stack overflow" and ends the run).
pub fn deliberate_overflow_is_caught() -> Check {
    let t = arch::kernel_stack_overflow_probe()?;
    show("deliberate recursion overflowed the kernel stack and was caught", &t);
    if !t.page_fault {
        return Err("the overflow raised something other than a page fault");
    }
    if !(t.guard..t.guard + arch::PAGE_SIZE).contains(&t.addr) {
        return Err("the overflow faulted outside the guard page");
    }
    if t.sp >= t.guard + arch::PAGE_SIZE + 256 {
        return Err("the overflow was caught with room left on the stack");
    }
    Ok(())
}
