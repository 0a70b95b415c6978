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

/// How the kernel leaves QEMU (the host reads it from the exit device and from the last report).
#[cfg(target_os = "none")]
pub use metagears::wire::ExitCode;

#[cfg(target_os = "none")]
mod kernel_main_impl {
    use metagears::wire::Report;

    use crate::boot::BootMemory;
    use crate::{ExitCode, arch, memory};

    /// The arch-independent kernel entry, called by the arch's boot code with the console up.
    pub fn kernel_main(boot: &BootMemory) -> ! {
        crate::console::report(Report::KernelStarted {
            version: env!("CARGO_PKG_VERSION").into(),
            arch: arch::NAME.into(),
        });
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
    /// interrupt latency during large revokes and reports a figure per revoke).
    #[cfg(not(feature = "qemu-test"))]
    fn root_task() -> ExitCode {
        let mut d = match crate::driver::Driver::boot_root_task() {
            Ok(d) => d,
            Err(why) => {
                kprintln!("kernel: {why}");
                return ExitCode::Failure;
            }
        };
        // The kernel alone: no full invariant checks (each is linear in the caps and runs with
        // interrupts masked), so the latency figures are the kernel's. With `checks` (the
        // fuzzer's kernel): a full check wherever an operation is preempted and at every 64th
        // preemption point (an untyped reset has one per 256 bytes cleared: a check at each
        // would make a 2 MiB reset take seconds).
        let checks = cfg!(feature = "checks");
        d.checks().every = if checks { 64 } else { 0 };
        d.checks().where_preempted = checks;
        let t0 = arch::ticks();
        let verdict = d.run_root_task();
        d.report(arch::ticks() - t0);
        let why = match verdict {
            Ok(true) => return ExitCode::Success,
            Ok(false) => alloc::string::String::from("the root task reported a failure"),
            Err(e) => e,
        };
        if cfg!(feature = "latency-bench") {
            crate::console::report(Report::BenchFailed { why: why.into() });
        } else {
            kprintln!("kernel: {why}");
        }
        ExitCode::Failure
    }

    /// Tells the host how the run ended, then leaves QEMU.
    pub fn exit(code: ExitCode) -> ! {
        crate::console::report(Report::Exit { code });
        arch::exit_qemu(code)
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        crate::console::fatal(format_args!("{info}"))
    }
}
