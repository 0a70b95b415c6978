//! Building kernel images and running them under QEMU.
//!
//! - [`build`]: the root task, the kernel that embeds it, and the boot image;
//! - [`command`]: the QEMU command line per architecture, and what QEMU's exit status means;
//! - [`root_task`]: checking a root task ELF given with `cargo xtask run --root-task`;
//! - [`runner`]: running QEMU under a timeout and following its serial output;
//! - [`console`]: what the console output means (the lines looked for, test lines, the verdict);
//! - [`suite`]: the QEMU test suites of `cargo xtask test`;
//! - [`sel4_root_task`]: booting a root task written for seL4 (sel4test, sel4bench) on Gears or on seL4;
//! - [`traced`]: the gear trace a traced kernel streams, and the test kernel's traced scenario;
//! - [`latency`]: the interrupt-latency bench;
//! - [`fuzz`]: the system-call fuzzer's runs;
//! - [`template`]: the template root task (`user/template`), built and booted once.

use std::time::Duration;

use anyhow::bail;

use crate::{RunOptions, util};

mod build;
mod command;
mod console;
mod fuzz;
mod latency;
pub mod profile;
mod root_task;
mod runner;
mod sel4_root_task;
mod suite;
mod template;
mod traced;

pub use build::FuzzProgram;
pub use command::{Icount, KERNEL_BASE, Machine, Sel4Boot, X86_CPU};
pub use fuzz::{FuzzOptions, fuzz};
pub use latency::irq_latency_bench;
pub use runner::{Follow, Outcome};
pub use sel4_root_task::{RootTaskKernel, boot_root_task, gears_kernel_elf};
pub use suite::test_suites;
pub use template::check_template;
pub use traced::{comparable_lines, streamed_trace};

use build::{Build, build_image, kernel_elf};
use command::{MEMORY_MIB, ROOT_TASK_MEMORY_MIB, qemu_command, wait_for_gdb};
use root_task::check_root_task_file;
use runner::{ROOT_TASK_TIMEOUT, RUN_TIMEOUT, report_timing, run_qemu};

/// Builds the kernel for `opts.arch` (embedding `opts.root_task`, checked first, if given) and
/// boots it under QEMU, echoing its serial output until QEMU exits; fails unless the kernel exits
/// through the exit device with success.
pub fn run(opts: &RunOptions) -> anyhow::Result<()> {
    let root_task = match &opts.root_task {
        Some(path) => {
            let (absolute, elf) = check_root_task_file(path, opts.arch)?;
            eprintln!(
                "xtask: root task {}: static {} executable, entry {:#x}, {} PT_LOAD segment(s) in {:#x}..{:#x}",
                absolute.display(),
                opts.arch,
                elf.entry,
                elf.segments,
                elf.span.0,
                elf.span.1
            );
            Some(absolute)
        }
        None => None,
    };
    let build = Build {
        release: opts.release,
        trace: opts.trace,
        root_task: root_task.as_deref(),
        ..Build::debug(opts.arch)
    };
    let image = build_image(build, opts.uefi)?;
    let mut cmd = qemu_command(opts.arch, &image, opts.uefi, Machine::with_memory(guest_memory(opts)))?;
    if opts.gdb {
        wait_for_gdb(&mut cmd, opts.arch, &kernel_elf(build));
        if let Some(elf) = &root_task {
            eprintln!("xtask: the root task's symbols, in gdb: add-symbol-file {}", elf.display());
        }
    }
    let timeout = if opts.gdb { None } else { run_timeout(opts) };
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

/// The guest memory of a `run`, in MiB: `--memory`, else more for a root task of one's own.
fn guest_memory(opts: &RunOptions) -> u32 {
    let default = if opts.root_task.is_some() { ROOT_TASK_MEMORY_MIB } else { MEMORY_MIB };
    opts.memory_mib.unwrap_or(default)
}

/// How long a `run` may take: `--timeout` (0: no limit), else longer for a root task of one's own.
fn run_timeout(opts: &RunOptions) -> Option<Duration> {
    match opts.timeout_secs {
        Some(0) => None,
        Some(secs) => Some(Duration::from_secs(secs)),
        None if opts.root_task.is_some() => Some(ROOT_TASK_TIMEOUT),
        None => Some(RUN_TIMEOUT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_task_of_ones_own_gets_512_mib_and_10_minutes_unless_told() {
        let own = RunOptions::default();
        assert_eq!((guest_memory(&own), run_timeout(&own)), (256, Some(Duration::from_secs(120))));
        let given = RunOptions { root_task: Some("elf".into()), ..Default::default() };
        assert_eq!((guest_memory(&given), run_timeout(&given)), (512, Some(Duration::from_secs(600))));
        let told = RunOptions { memory_mib: Some(3072), timeout_secs: Some(0), ..given };
        assert_eq!((guest_memory(&told), run_timeout(&told)), (3072, None));
        let told = RunOptions { timeout_secs: Some(5), ..own };
        assert_eq!(run_timeout(&told), Some(Duration::from_secs(5)));
    }
}
