//! Traced kernels: the gear trace the kernel streams over its serial line, for `cargo xtask
//! trace qemu-*`, and the test kernel's traced scenario the QEMU suites check.

use anyhow::bail;
use gears::ProcessId;
use metagears::wire::Report;
use metagears::{EventKind, TraceEvent};

use super::build::{Build, build_image};
use super::command::{MEMORY_MIB, Machine, qemu_command};
use super::runner::{Outcome, RUN_TIMEOUT, run_qemu};
use crate::{Arch, util};

/// Gears a traced CNode Copy must pass through (the seL4 call path as gears).
pub const TRACED_GEARS: &[&str] =
    &["handle_syscall", "handle_invocation", "resolve_address_bits", "decode_invocation", "invocation_done"];

/// Boots the traced kernel of `arch` (release, the demo) and returns the gear trace it streamed.
pub fn streamed_trace(arch: Arch) -> anyhow::Result<metagears::Trace> {
    let build = Build { release: true, trace: true, ..Build::debug(arch) };
    let image = build_image(build, false)?;
    let mut cmd = qemu_command(arch, &image, false, Machine::with_memory(MEMORY_MIB))?;
    let mut trace = metagears::Trace::default();
    let run = run_qemu(arch, &mut cmd, Some(RUN_TIMEOUT), |_| {}, |e| trace.events.push(e.clone()))?;
    match run.outcome {
        Outcome::Passed if run.damaged == 0 => Ok(trace),
        Outcome::Passed => bail!("{} damaged trace frames in the serial output", run.damaged),
        other => bail!("the traced kernel {} ({})", other.describe(), util::show(&cmd)),
    }
}

/// The decoded trace of the test kernel's traced scenario (between its `TraceBegin` and
/// `TraceEnd` reports).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TracedScenario {
    inside: bool,
    seen_end: bool,
    /// The events, in order.
    pub events: Vec<TraceEvent>,
}

impl TracedScenario {
    /// Follows a report.
    pub fn report(&mut self, report: &Report<'_>) {
        match report {
            Report::TraceBegin => self.inside = true,
            Report::TraceEnd { .. } => {
                self.inside = false;
                self.seen_end = true;
            }
            _ => {}
        }
    }

    /// Notes a decoded trace event.
    pub fn event(&mut self, event: &metagears::TraceEvent) {
        if self.inside {
            self.events.push(event.clone());
        }
    }

    /// Whether the traced scenario streamed undamaged frames through the expected gears.
    pub fn check(&self, damaged: usize) -> Result<(), String> {
        if !self.seen_end {
            return Err("the kernel never ended its traced scenario".to_string());
        }
        if damaged > 0 {
            return Err(format!("{damaged} damaged trace frames"));
        }
        let missing: Vec<&str> =
            TRACED_GEARS.iter().copied().filter(|g| !self.events.iter().any(|e| e.gear == *g)).collect();
        if missing.is_empty() { Ok(()) } else { Err(format!("the trace lacks the gears {missing:?}")) }
    }
}

/// The lines the traced scenario's traces are compared by, as the host tracer prints them: the
/// runs started at `handle_interrupt` left out (the kernel's timer ticks, which may land anywhere
/// in the scenario; the host model has none), the steps counted from 0 over the rest (the
/// dispatcher's step counter also counts the gears before the trace began), and the threads
/// numbered in the order they appear (a thread is named by its TCB's address, which is where
/// each machine's boot found memory for it).
pub fn comparable_lines(events: &[TraceEvent]) -> Vec<String> {
    let mut in_interrupt = false;
    let mut step = 0;
    let mut threads: Vec<ProcessId> = Vec::new();
    let mut lines = Vec::new();
    for event in events {
        if let EventKind::Start { .. } = event.kind {
            in_interrupt = event.gear == "handle_interrupt";
        }
        if in_interrupt {
            continue;
        }
        let mut event = event.clone();
        if event.is_transition() {
            event.step = step;
            step += 1;
        }
        let n = threads.iter().position(|&p| p == event.process).unwrap_or_else(|| {
            threads.push(event.process);
            threads.len() - 1
        });
        event.process = ProcessId(n as u32);
        lines.push(event.to_string());
    }
    lines
}

/// Whether every (name, trace) has the same lines as the first.
pub fn same_traces(traces: &[(&str, Vec<String>)]) -> Result<(), String> {
    let Some((first, reference)) = traces.first() else { return Ok(()) };
    if reference.is_empty() {
        return Err(format!("the {first} trace is empty"));
    }
    for (name, t) in &traces[1..] {
        if let Some(i) = (0..reference.len().max(t.len())).find(|&i| reference.get(i) != t.get(i)) {
            return Err(format!(
                "the traces of {first} and {name} differ at event {i}: {:?} vs {:?}",
                reference.get(i),
                t.get(i)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use gears::{GearId, ProcessId};
    use metagears::{EventKind, TraceEvent};

    use super::comparable_lines;

    fn event(step: u64, gear: &'static str, kind: EventKind) -> TraceEvent {
        on(7, step, gear, kind)
    }

    fn on(process: u32, step: u64, gear: &'static str, kind: EventKind) -> TraceEvent {
        TraceEvent { step, process: ProcessId(process), gear: gear.into(), id: GearId::of(gear), kind }
    }

    #[test]
    fn timer_ticks_are_left_out_and_steps_counted_from_zero() {
        let start = || EventKind::Start { resumed: false };
        let with_tick = [
            event(40, "handle_syscall", start()),
            event(40, "handle_syscall", EventKind::Goto("invocation_done".into())),
            event(41, "invocation_done", EventKind::Exit("Ok".into())),
            event(42, "handle_interrupt", start()),
            event(42, "handle_interrupt", EventKind::Exit("Ok".into())),
            event(43, "handle_syscall", start()),
            event(43, "handle_syscall", EventKind::Exit("Ok".into())),
        ];
        let without = [
            event(9, "handle_syscall", start()),
            event(9, "handle_syscall", EventKind::Goto("invocation_done".into())),
            event(10, "invocation_done", EventKind::Exit("Ok".into())),
            event(11, "handle_syscall", start()),
            event(11, "handle_syscall", EventKind::Exit("Ok".into())),
        ];
        let lines = comparable_lines(&with_tick);
        assert_eq!(lines, comparable_lines(&without));
        assert_eq!(lines.len(), 5);
        assert!(lines[1].starts_with("     0 p0 handle_syscall -> invocation_done"), "{lines:?}");
        assert!(lines[4].starts_with("     2 p0 handle_syscall -> exit"), "{lines:?}");
    }

    #[test]
    fn threads_are_numbered_in_the_order_they_appear() {
        let run = |a: u32, b: u32| {
            comparable_lines(&[
                on(a, 1, "handle_syscall", EventKind::Goto("invocation_done".into())),
                on(b, 2, "handle_syscall", EventKind::Goto("invocation_done".into())),
                on(a, 3, "handle_syscall", EventKind::Exit("Ok".into())),
            ])
        };
        assert_eq!(run(536_870_912, 49_153), run(65_600, 65_601));
        assert_ne!(run(5, 6), run(5, 5), "two threads stay two");
        assert!(run(9, 8)[1].contains(" p1 "), "{:?}", run(9, 8));
    }
}
