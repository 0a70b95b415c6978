//! Building kernel images and running them under QEMU.
//!
//! - [`build`]: the root task, the kernel that embeds it, and the boot image;
//! - [`command`]: the QEMU command line per architecture, and what QEMU's exit status means;
//! - [`runner`]: running QEMU under a timeout and following its serial output;
//! - [`console`]: what the console output means (the lines looked for, test lines, the verdict);
//! - [`suite`]: the QEMU test suites of `cargo xtask test`;
//! - [`traced`]: the gear trace a traced kernel streams, and the test kernel's traced scenario;
//! - [`latency`]: the interrupt-latency bench;
//! - [`fuzz`]: the system-call fuzzer's runs.

use anyhow::bail;

use crate::{RunOptions, util};

mod build;
mod command;
mod console;
mod fuzz;
mod latency;
mod runner;
mod suite;
mod traced;

pub use build::FuzzProgram;
pub use fuzz::{FuzzOptions, fuzz};
pub use latency::irq_latency_bench;
pub use suite::test_suites;
pub use traced::{comparable_lines, streamed_trace};

use build::{Build, build_image, kernel_elf};
use command::{qemu_command, wait_for_gdb};
use runner::{Outcome, RUN_TIMEOUT, report_timing, run_qemu};

/// Builds the kernel for `opts.arch` and boots it under QEMU; fails unless the kernel exits
/// through the exit device with success.
pub fn run(opts: &RunOptions) -> anyhow::Result<()> {
    let build = Build {
        arch: opts.arch,
        release: opts.release,
        test: false,
        trace: opts.trace,
        bench: false,
        fuzz: None,
    };
    let image = build_image(build, opts.uefi)?;
    let mut cmd = qemu_command(opts.arch, &image, opts.uefi)?;
    if opts.gdb {
        wait_for_gdb(&mut cmd, opts.arch, &kernel_elf(build));
    }
    let timeout = if opts.gdb { None } else { Some(RUN_TIMEOUT) };
    let run = run_qemu(opts.arch, &mut cmd, timeout, |_| {}, |_| {})?;
    report_timing(&run);
    if opts.trace {
        eprintln!(
            "xtask: trace: {} events decoded from {} bytes of serial output, {} damaged frames",
            run.events, run.bytes, run.damaged
        );
    }
    match run.outcome {
        Outcome::Passed => Ok(()),
        other => bail!("{} ({})", other.describe(), util::show(&cmd)),
    }
}
