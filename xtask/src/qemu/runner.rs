//! Running QEMU under a timeout and following its serial output: console lines, trace frames and
//! report frames (`metagears::wire`) are decoded as they arrive, echoed, and handed to the caller
//! as trace events and reports (console lines that stand for a report count as one).

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use metagears::wire::{Decoded, Decoder, ExitCode, Report};

use super::command::{EXIT_FAILURE, EXIT_SUCCESS, RISCV_EXIT_FAILURE};
use crate::{Arch, util};

/// How long a normal run may take before QEMU is killed.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a run with a root task of one's own (`--root-task`) may take: seL4's test suite takes
/// up to two minutes on seL4 itself.
pub const ROOT_TASK_TIMEOUT: Duration = Duration::from_secs(600);

/// How a QEMU run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The kernel wrote the success value to the exit device.
    Passed,
    /// The kernel wrote the failure value (failed test, panic, kernel exception).
    KernelFailed,
    /// QEMU exited on its own: a reboot or triple fault under `-no-reboot`, or a QEMU error.
    Other(Option<i32>),
    /// Killed after the time limit.
    TimedOut,
    /// Killed because the caller's [`Follow::keep_going`] said so.
    Stopped,
}

impl Outcome {
    /// Reads QEMU's exit status for `arch`; `reported` says whether the kernel reported its exit
    /// with success (`Report::Exit`).
    pub fn from_status(arch: Arch, code: Option<i32>, reported: bool) -> Outcome {
        match (arch, code) {
            (Arch::X86_64, Some(EXIT_SUCCESS)) => Outcome::Passed,
            (Arch::X86_64, Some(EXIT_FAILURE)) => Outcome::KernelFailed,
            (Arch::Riscv64, Some(0)) if reported => Outcome::Passed,
            (Arch::Riscv64, Some(RISCV_EXIT_FAILURE)) => Outcome::KernelFailed,
            (_, other) => Outcome::Other(other),
        }
    }

    /// A phrase for messages.
    pub fn describe(self) -> String {
        match self {
            Outcome::Passed => "the kernel reported success through the exit device".to_string(),
            Outcome::KernelFailed => "the kernel reported failure through the exit device".to_string(),
            Outcome::Other(Some(0)) => "QEMU exited 0 without the kernel's success report: \
                                        the guest rebooted, triple-faulted or shut down"
                .to_string(),
            Outcome::Other(Some(c)) => format!("QEMU exited {c} without the exit device (QEMU error?)"),
            Outcome::Other(None) => "QEMU was killed by a signal".to_string(),
            Outcome::TimedOut => "timed out".to_string(),
            Outcome::Stopped => "stopped by the xtask".to_string(),
        }
    }
}

/// What a QEMU run did.
pub struct QemuRun {
    /// How it ended.
    pub outcome: Outcome,
    /// From starting QEMU to the kernel's first report (`KernelStarted`, or its banner line).
    pub first_line: Option<Duration>,
    /// From starting QEMU to the Rust root task's start (`RootTaskStarted`, or its first line).
    pub root_task: Option<Duration>,
    /// From starting QEMU to its end.
    pub total: Duration,
    /// Serial bytes read.
    pub bytes: usize,
    /// Trace events decoded.
    pub events: usize,
    /// Damaged trace frames.
    pub damaged: usize,
}

/// What a caller does with a QEMU run's serial output as it comes.
pub trait Follow {
    /// A console line; returns whether to echo it.
    fn line(&mut self, _line: &str) -> bool {
        true
    }
    /// A report (records are echoed as their console line, except `TestStarted`).
    fn report(&mut self, _report: &Report<'_>) {}
    /// A trace event (printed as the host tracer's text).
    fn event(&mut self, _event: &metagears::TraceEvent) {}
    /// Asked between reads of the output: `false` kills QEMU ([`Outcome::Stopped`]).
    fn keep_going(&mut self) -> bool {
        true
    }
}

/// [`Follow`] by two closures: one for reports, one for trace events.
struct Callbacks<R, E>(R, E);

impl<R: FnMut(&Report<'_>), E: FnMut(&metagears::TraceEvent)> Follow for Callbacks<R, E> {
    fn report(&mut self, report: &Report<'_>) {
        (self.0)(report)
    }
    fn event(&mut self, event: &metagears::TraceEvent) {
        (self.1)(event)
    }
}

/// Runs QEMU, decoding its serial output (`metagears::wire`): console lines are echoed to stdout;
/// reports, sent as records or printed as lines, are given to `on_report` (a record is echoed as
/// its console line, except `TestStarted`, which `TestPassed` or `TestFailed` completes); trace
/// events are printed as the host tracer's text and given to `on_event`. QEMU is killed after
/// `timeout`.
pub fn run_qemu(
    arch: Arch,
    cmd: &mut Command,
    timeout: Option<Duration>,
    on_report: impl FnMut(&Report<'_>),
    on_event: impl FnMut(&metagears::TraceEvent),
) -> anyhow::Result<QemuRun> {
    follow_qemu(arch, cmd, timeout, &mut Callbacks(on_report, on_event))
}

/// [`run_qemu`] with a [`Follow`], which also sees each console line (and says whether to echo
/// it) and may stop QEMU.
pub fn follow_qemu<F: Follow>(
    arch: Arch,
    cmd: &mut Command,
    timeout: Option<Duration>,
    follow: &mut F,
) -> anyhow::Result<QemuRun> {
    let shown = util::show(cmd);
    eprintln!("xtask: $ {shown}");
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().with_context(|| format!("could not start `{shown}`"))?;
    let mut stdout = child.stdout.take().context("QEMU's stdout")?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut decoder = Decoder::new();
    let mut decoded = Vec::new();
    let mut run = QemuRun {
        outcome: Outcome::Other(None),
        first_line: None,
        root_task: None,
        total: Duration::ZERO,
        bytes: 0,
        events: 0,
        damaged: 0,
    };
    let mut exit_reported = false;
    let handle = |follow: &mut F, decoded: &mut Vec<Decoded>, run: &mut QemuRun, exit_reported: &mut bool| {
        for d in decoded.drain(..) {
            let report = match d {
                Decoded::Text(line) => {
                    if follow.line(&line) {
                        println!("{line}");
                    }
                    None
                }
                Decoded::Report(report) => {
                    if !matches!(report, Report::TestStarted { .. }) {
                        println!("{report}");
                    }
                    Some(report)
                }
                Decoded::Event(e) => {
                    run.events += 1;
                    println!("{e}");
                    follow.event(&e);
                    None
                }
                Decoded::Damaged(why) => {
                    run.damaged += 1;
                    println!("xtask: damaged frame: {why}");
                    None
                }
            };
            let Some(report) = report else { continue };
            match report {
                Report::KernelStarted { .. } => {
                    run.first_line.get_or_insert(start.elapsed());
                }
                Report::RootTaskStarted => {
                    run.root_task.get_or_insert(start.elapsed());
                }
                Report::Exit { code: ExitCode::Success } => *exit_reported = true,
                _ => {}
            }
            follow.report(&report);
        }
    };
    let mut killed = None;
    let status = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(bytes) => {
                run.bytes += bytes.len();
                decoder.feed(&bytes, &mut decoded);
                handle(follow, &mut decoded, &mut run, &mut exit_reported);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if let Some(st) = child.try_wait()? {
            break st;
        }
        let stop = if timeout.is_some_and(|t| start.elapsed() > t) {
            Some(Outcome::TimedOut)
        } else if !follow.keep_going() {
            Some(Outcome::Stopped)
        } else {
            None
        };
        if stop.is_some() {
            killed = stop;
            let _ = child.kill();
            break child.wait()?;
        }
    };
    let _ = reader.join();
    // Output still queued after QEMU exited.
    for bytes in rx.try_iter() {
        run.bytes += bytes.len();
        decoder.feed(&bytes, &mut decoded);
    }
    decoder.finish(&mut decoded);
    handle(follow, &mut decoded, &mut run, &mut exit_reported);
    run.outcome = killed.unwrap_or_else(|| Outcome::from_status(arch, status.code(), exit_reported));
    run.total = start.elapsed();
    Ok(run)
}

/// Prints how long the run took to reach the kernel's and the root task's first lines.
pub fn report_timing(run: &QemuRun) {
    let root_task = run.root_task.map(|t| format!(", the root task's after {:.2} s", t.as_secs_f64()));
    match run.first_line {
        Some(t) => eprintln!(
            "xtask: kernel's first serial line after {:.2} s{}; QEMU ran {:.2} s; {}",
            t.as_secs_f64(),
            root_task.unwrap_or_default(),
            run.total.as_secs_f64(),
            run.outcome.describe()
        ),
        None => eprintln!(
            "xtask: the kernel never reported its start; QEMU ran {:.2} s; {}",
            run.total.as_secs_f64(),
            run.outcome.describe()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_map_to_outcomes() {
        let x86 = |code| Outcome::from_status(Arch::X86_64, code, true);
        assert_eq!(x86(Some(33)), Outcome::Passed);
        assert_eq!(x86(Some(35)), Outcome::KernelFailed);
        // -no-reboot turns a reboot or triple fault into a plain exit 0: never a pass.
        assert_eq!(x86(Some(0)), Outcome::Other(Some(0)));
        assert_eq!(x86(Some(1)), Outcome::Other(Some(1)));
        assert_eq!(x86(None), Outcome::Other(None));
    }

    #[test]
    fn riscv_exit_zero_passes_only_with_the_exit_report() {
        assert_eq!(Outcome::from_status(Arch::Riscv64, Some(0), true), Outcome::Passed);
        assert_eq!(Outcome::from_status(Arch::Riscv64, Some(0), false), Outcome::Other(Some(0)));
        assert_eq!(Outcome::from_status(Arch::Riscv64, Some(1), false), Outcome::KernelFailed);
        assert_eq!(Outcome::from_status(Arch::Riscv64, Some(33), true), Outcome::Other(Some(33)));
    }
}
