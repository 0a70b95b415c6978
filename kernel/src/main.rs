//! The bare-metal Gears kernel: boot, console, traps, timer, memory and user mode.
//!
//! Built only for bare-metal targets (`cargo build -p kernel --target x86_64-unknown-none`, or
//! through `cargo xtask run`); on the host it is a stub that says so. Everything arch-specific
//! (and all `unsafe` but the heap's one-line initialisation) is under [`arch`], behind a facade
//! whose per-arch modules define the same names.
#![cfg_attr(target_os = "none", no_std, no_main)]

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
mod arch;
#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod demo;
#[cfg(target_os = "none")]
mod memory;
#[cfg(all(target_os = "none", feature = "qemu-test"))]
mod qemu_test;
#[cfg(target_os = "none")]
mod roottask;
#[cfg(target_os = "none")]
mod scenarios;
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
        let code = crate::qemu_test::run_all();
        #[cfg(all(feature = "latency-bench", not(feature = "qemu-test")))]
        let code = match crate::scenarios::latency_bench() {
            Ok(()) => ExitCode::Success,
            Err(e) => {
                kprintln!("bench: FAILED: {e}");
                ExitCode::Failure
            }
        };
        #[cfg(not(any(feature = "qemu-test", feature = "latency-bench")))]
        let code = crate::demo::run();
        exit(code)
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
