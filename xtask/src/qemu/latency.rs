//! `cargo xtask bench irq-latency`: the timer-interrupt latency during large revokes, measured
//! by the bench kernel (feature `latency-bench`) under QEMU's `-icount`.

use std::time::Duration;

use anyhow::bail;
use metagears::wire::{IrqLatency, Report};

use super::build::{Build, build_image};
use super::command::{Icount, MEMORY_MIB, Machine, qemu_command};
use super::runner::{Outcome, run_qemu};
use crate::Arch;

/// How long the bench kernel may take.
const BENCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Folds the rounds of one (caps, preemption) measurement: the largest latencies, the sums.
pub fn merge(figures: &[IrqLatency]) -> Vec<IrqLatency> {
    let mut out: Vec<IrqLatency> = Vec::new();
    for f in figures {
        match out.iter_mut().find(|o| o.caps == f.caps && o.preemption == f.preemption) {
            Some(o) => {
                o.max_latency_insns = o.max_latency_insns.max(f.max_latency_insns);
                o.kernel_latency_insns = o.kernel_latency_insns.max(f.kernel_latency_insns);
                o.preemptions += f.preemptions;
                o.driver_runs += f.driver_runs;
            }
            None => out.push(*f),
        }
    }
    out
}

/// Boots the release kernel with the `latency-bench` feature under `-icount shift=0` (one guest
/// instruction per virtual nanosecond) on both architectures; returns the table.
pub fn irq_latency_bench() -> anyhow::Result<String> {
    let mut t = String::from(
        "\ntimer-interrupt latency: the largest number of guest instructions from the timer interrupt \
         being raised to the user-level timer driver it wakes running (and to the kernel's handler \
         taking it), during Revokes (QEMU -icount shift=0,sleep=off; 2^12 caps: 8 revokes started at \
         different timer phases; one run: the figures vary by some tens of percent from run to run)\n\n\
         | arch | caps revoked | preemption points | max latency to the driver (instructions) | to the kernel handler | preemptions | driver runs |\n\
         |---|--:|---|--:|--:|--:|--:|\n",
    );
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let build = Build { release: true, bench: true, ..Build::debug(arch) };
        let image = build_image(build, false)?;
        let machine = Machine { icount: Some(Icount { sleep: false }), ..Machine::with_memory(MEMORY_MIB) };
        let mut cmd = qemu_command(arch, &image, false, machine)?;
        let mut figures = Vec::new();
        let run = run_qemu(
            arch,
            &mut cmd,
            Some(BENCH_TIMEOUT),
            |report| {
                if let Report::IrqLatency(figure) = report {
                    figures.push(*figure);
                }
            },
            |_| {},
        )?;
        if run.outcome != Outcome::Passed {
            bail!("the {arch} latency bench failed: {}", run.outcome.describe());
        }
        if figures.is_empty() {
            bail!("the {arch} latency bench printed no figures");
        }
        for f in merge(&figures) {
            // Each preemption takes the tick that woke the driver: a revoke preempted with no
            // driver run measured nothing.
            if f.preemptions > 0 && f.driver_runs == 0 {
                bail!(
                    "the {arch} latency bench measured no driver run in a revoke of {} caps preempted {} times",
                    f.caps,
                    f.preemptions
                );
            }
            t.push_str(&format!(
                "| {arch} | {} | {} | {} | {} | {} | {} |\n",
                f.caps,
                if f.preemption { "on" } else { "off" },
                f.max_latency_insns,
                f.kernel_latency_insns,
                f.preemptions,
                f.driver_runs
            ));
        }
    }
    t.push_str(
        "\nThe driver is a thread of the Rust root task at priority 254 (the root task runs at 100): it \
         acknowledges the timer IRQ and waits on the notification the kernel signals at each tick. \
         riscv64 reads the `time` CSR (100 ns resolution: multiples of 100 instructions); x86_64 the \
         TSC and the PIT's count.\n",
    );
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_merge_into_the_largest_latencies_and_the_sums() {
        let round = |caps, preemption, max_latency_insns, kernel_latency_insns| IrqLatency {
            caps,
            preemption,
            max_latency_insns,
            kernel_latency_insns,
            preemptions: 3,
            driver_runs: 5,
        };
        let merged = merge(&[round(4096, true, 10, 7), round(4096, true, 30, 2), round(4096, false, 99, 9)]);
        assert_eq!(merged.len(), 2);
        assert_eq!(
            (merged[0].max_latency_insns, merged[0].kernel_latency_insns, merged[0].preemptions),
            (30, 7, 6)
        );
        assert_eq!((merged[1].max_latency_insns, merged[1].preemption), (99, false));
    }
}
