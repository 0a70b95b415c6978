//! The bare-metal Gears kernel: boot, console, traps, timer, memory and user mode.
//!
//! Built only for bare-metal targets (`cargo build -p kernel --target x86_64-unknown-none`, or
//! through `cargo xtask run`); on the host it is a stub that says so. Everything arch-specific,
//! and all `unsafe` (denied elsewhere by lint), is under [`arch`], behind a facade whose per-arch
//! modules define the same names.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![deny(unsafe_code)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("the Gears kernel runs under QEMU: use `cargo xtask run`");
    std::process::exit(2);
}

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
#[macro_use]
mod console;
#[cfg(target_os = "none")]
#[allow(unsafe_code, reason = "the arch layer: hardware access, each use with its SAFETY comment")]
mod arch;
#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod driver;
#[cfg(target_os = "none")]
mod memory;
#[cfg(all(target_os = "none", feature = "qemu-test"))]
mod testing;
#[cfg(target_os = "none")]
mod thread;

#[cfg(target_os = "none")]
pub use kernel_main_impl::kernel_main;

/// How the kernel leaves QEMU.
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything ran as expected (QEMU exit status 33 on x86_64).
    Success,
    /// A test failed, the kernel panicked or took an exception (QEMU exit status 35 on x86_64).
    Failure,
}

#[cfg(target_os = "none")]
mod kernel_main_impl {
    use crate::boot::BootMemory;
    use crate::{ExitCode, arch, memory};

    /// The arch-independent kernel entry, called by the arch's boot code with the console up.
    pub fn kernel_main(boot: &BootMemory) -> ! {
        kprintln!("Gears kernel {} on {}: serial console up", env!("CARGO_PKG_VERSION"), arch::NAME);
        kprintln!("cpu: {}", arch::init_cpu());
        memory::init(boot);
        arch::timer_init();
        kprintln!("timer: {} Hz", arch::TIMER_HZ);

        #[cfg(feature = "qemu-test")]
        let code = crate::testing::run_all();
        #[cfg(not(feature = "qemu-test"))]
        let code = root_task();
        exit(code)
    }

    /// Boots the capability kernel and runs the embedded root task to its verdict (the demo of
    /// `cargo xtask run`; with `latency-bench`, the root task's bench mode, which measures the
    /// interrupt latency during large revokes and prints a line per revoke).
    #[cfg(not(feature = "qemu-test"))]
    fn root_task() -> ExitCode {
        let mut d = crate::driver::Driver::boot();
        // The kernel alone: no full invariant checks (each is linear in the caps and runs with
        // interrupts masked), so the latency figures are the kernel's.
        d.checks().every = 0;
        d.checks().where_preempted = false;
        let t0 = arch::ticks();
        let verdict = d.run_root_task();
        d.report(arch::ticks() - t0);
        match verdict {
            Ok(true) => ExitCode::Success,
            Ok(false) => {
                kprintln!("kernel: the root task reported a failure");
                ExitCode::Failure
            }
            Err(e) => {
                kprintln!("kernel: {e}");
                ExitCode::Failure
            }
        }
    }

    /// Prints the exit marker the xtask looks for, then leaves QEMU.
    pub fn exit(code: ExitCode) -> ! {
        kprintln!("gears: exit {code:?}");
        arch::exit_qemu(code)
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        arch::interrupts_disable();
        let mut buf = crate::console::Raw;
        let _ = core::fmt::Write::write_fmt(&mut buf, format_args!("KERNEL PANIC: {info}\n"));
        arch::exit_qemu(ExitCode::Failure)
    }
}
