//! `cargo xtask test`'s QEMU part: boot each architecture's test kernel, count its tests, check
//! its traced scenario, and compare the traces of both kernels with the host model's.

use std::time::Duration;

use anyhow::bail;

use super::build::{Build, build_image};
use super::command::{MEMORY_MIB, Machine, qemu_command};
use super::console::TestCounts;
use super::runner::{report_timing, run_qemu};
use super::traced::{TracedScenario, comparable_lines, same_traces};
use crate::Arch;

/// How long the test kernel may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(240);

/// Boots the test kernel of each architecture in `arches` and counts its tests; fails if any
/// suite fails. With both, it also compares their traced scenarios with the host model's.
pub fn test_suites(arches: &[Arch]) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    let (mut passed, mut failed) = (0, 0);
    let mut traces = Vec::new();
    for &arch in arches {
        match test_suite(arch) {
            Ok((p, f, error, trace)) => {
                println!("QEMU suite {arch}: {p} passed, {f} failed");
                traces.push((arch.name(), trace));
                passed += p;
                failed += f;
                if let Some(why) = error {
                    failures.push(format!("{arch}: {why}"));
                }
            }
            Err(err) => {
                println!("QEMU suite {arch}: could not run: {err:#}");
                failed += 1;
                failures.push(format!("{arch}: {err:#}"));
            }
        }
    }
    // The traced scenario's trace is the same on both architectures and on the host.
    if arches.len() > 1 {
        traces.push(("host model", crate::model::traced_syscall_trace()));
        let compared = if traces.len() == arches.len() + 1 {
            same_traces(&traces)
        } else {
            Err("not compared: a QEMU suite did not run".to_string())
        };
        match compared {
            Ok(()) => {
                println!("test wire_trace_same_on_x86_64_riscv64_and_host_model ... ok");
                passed += 1;
            }
            Err(why) => {
                println!("test wire_trace_same_on_x86_64_riscv64_and_host_model ... FAILED: {why}");
                failed += 1;
                failures.push(why);
            }
        }
    }
    println!("QEMU suites: {passed} passed, {failed} failed");
    if !failures.is_empty() {
        bail!("QEMU suites failed: {}", failures.join("; "));
    }
    Ok(())
}

/// Builds and boots one architecture's test kernel: (passed, failed, why it failed, the traced
/// scenario's events as text).
fn test_suite(arch: Arch) -> anyhow::Result<(usize, usize, Option<String>, Vec<String>)> {
    let build = Build { test: true, ..Build::debug(arch) };
    let image = build_image(build, false)?;
    let mut cmd = qemu_command(arch, &image, false, Machine::with_memory(MEMORY_MIB))?;
    let results = std::cell::RefCell::new(TestCounts::default());
    let traced = std::cell::RefCell::new(TracedScenario::default());
    let run = run_qemu(
        arch,
        &mut cmd,
        Some(TEST_TIMEOUT),
        |report| {
            results.borrow_mut().record(report);
            traced.borrow_mut().report(report);
        },
        |event| traced.borrow_mut().event(event),
    )?;
    report_timing(&run);
    let mut results = results.into_inner();
    // The host side of the traced scenario: its frames decoded, undamaged, with the gear names.
    let traced = traced.into_inner();
    match traced.check(run.damaged) {
        Ok(()) => {
            println!("test wire_trace_decoded_on_the_host ... ok ({} events)", traced.events.len());
            results.passed += 1;
        }
        Err(why) => {
            println!("test wire_trace_decoded_on_the_host ... FAILED: {why}");
            results.failed += 1;
        }
    }
    let verdict = results.verdict(run.outcome);
    Ok((results.passed, verdict.failed, verdict.error, comparable_lines(&traced.events)))
}
