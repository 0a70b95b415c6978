//! `cargo xtask fuzz`: boots the kernel with the system-call fuzzer as its root task
//! (`kernel/roottask/src/fuzz`) and judges the run from the host.
//!
//! The program can only say that it is alive: its progress lines (`fuzz: 10000 calls, …`) and
//! its final `fuzz: N calls, 0 kernel panics, 0 hangs`. The host knows the rest: a kernel panic
//! (the `Panic` report), any other death of the kernel (its failure exit, a reset), and a hang —
//! no progress line for [`HANG_TIMEOUT`].

use std::time::{Duration, Instant};

use anyhow::bail;
use metagears::wire::Report;

use super::build::{Build, FuzzProgram, build_image};
use super::command::{MEMORY_MIB, Machine, qemu_command};
use super::runner::{Follow, Outcome, follow_qemu, report_timing};
use crate::Arch;

/// How long the program may go without a progress line (it prints one every
/// [`PROGRESS_EVERY`] calls, about every second) before the run counts as a hang.
const HANG_TIMEOUT: Duration = Duration::from_secs(60);
/// Calls between two progress lines (`kernel/roottask/src/fuzz/main.rs`, `PROGRESS`).
const PROGRESS_EVERY: u64 = 10_000;

/// The kernel's fault notes kept to show when a run fails.
const LAST_FAULT_NOTES: usize = 4;

/// What `cargo xtask fuzz` was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuzzOptions {
    /// The architecture.
    pub arch: Arch,
    /// The program's settings: seed, calls, tracing.
    pub program: FuzzProgram,
    /// A release kernel (else debug: overflow checks and debug assertions in the kernel).
    pub release: bool,
}

/// What one console line of a fuzz run says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A progress line: calls made so far.
    Progress(u64),
    /// The program's last verdict line: calls made.
    Done(u64),
    /// A line of the distribution, after the verdict.
    Distribution(String),
    /// The supervisor could not go on.
    ProgramFailed(String),
    /// The kernel's note that a thread faulted or was stopped (one per worker fault: counted,
    /// not echoed).
    KernelFaultNote,
    /// Another line of the kernel's (the last one says why a failing kernel stopped).
    Kernel(String),
    /// Anything else.
    Other,
}

impl Line {
    /// Reads one console line.
    pub fn parse(line: &str) -> Line {
        if let Some(rest) = line.strip_prefix("fuzz: ") {
            if rest.starts_with("replies: ") || rest.starts_with("faults: ") {
                return Line::Distribution(line.to_string());
            }
            if rest.contains("FAILED") {
                return Line::ProgramFailed(rest.to_string());
            }
            let calls = rest.split_once(" calls").and_then(|(n, _)| n.parse::<u64>().ok());
            return match calls {
                Some(n) if rest.contains(" kernel panics, ") => Line::Done(n),
                Some(n) => Line::Progress(n),
                None => Line::Other,
            };
        }
        if let Some(rest) = line.strip_prefix("kernel: ") {
            let fault = rest.starts_with("thread ")
                && (rest.contains(" faulted: ") || rest.ends_with("has no fault handler: stopped"));
            return if fault { Line::KernelFaultNote } else { Line::Kernel(line.to_string()) };
        }
        Line::Other
    }
}

/// A fuzz run as the host followed it.
#[derive(Debug)]
pub struct FuzzLog {
    /// The last progress count, and when it came.
    pub progress: u64,
    last_progress: Instant,
    /// The first progress line's count and time (for the rate).
    first_progress: Option<(u64, Instant)>,
    /// The program's final count, if it got there.
    pub done: Option<u64>,
    /// The distribution lines.
    pub distribution: Vec<String>,
    /// The kernel's notes of faulting threads: how many, and the last few (shown on a failure).
    pub kernel_fault_notes: u64,
    pub last_fault_notes: std::collections::VecDeque<String>,
    /// The kernel's panic message, if it panicked.
    pub panic: Option<String>,
    /// The kernel's last line of its own.
    pub last_kernel_line: Option<String>,
    /// Why the program gave up, if it did.
    pub program_failed: Option<String>,
    /// Whether the run was stopped as hung.
    pub hung: bool,
    hang_timeout: Duration,
}

impl FuzzLog {
    /// A run starting now, hung after `hang_timeout` without progress.
    pub fn new(hang_timeout: Duration) -> FuzzLog {
        FuzzLog {
            progress: 0,
            last_progress: Instant::now(),
            first_progress: None,
            done: None,
            distribution: Vec::new(),
            kernel_fault_notes: 0,
            last_fault_notes: std::collections::VecDeque::new(),
            panic: None,
            last_kernel_line: None,
            program_failed: None,
            hung: false,
            hang_timeout,
        }
    }

    /// Whether the run still makes progress at `now`; marks it hung if not.
    fn keep_going_at(&mut self, now: Instant) -> bool {
        self.hung = now.saturating_duration_since(self.last_progress) > self.hang_timeout;
        !self.hung
    }

    /// Calls per second between the first and the last progress line.
    pub fn rate(&self) -> Option<f64> {
        let (n0, t0) = self.first_progress?;
        let secs = self.last_progress.duration_since(t0).as_secs_f64();
        (self.progress > n0 && secs > 0.0).then(|| (self.progress - n0) as f64 / secs)
    }
}

impl Follow for FuzzLog {
    fn line(&mut self, line: &str) -> bool {
        match Line::parse(line) {
            Line::Progress(n) | Line::Done(n) => {
                let now = Instant::now();
                self.first_progress.get_or_insert((n, now));
                self.progress = n;
                self.last_progress = now;
                if matches!(Line::parse(line), Line::Done(_)) {
                    self.done = Some(n);
                }
            }
            Line::Distribution(d) => self.distribution.push(d),
            Line::ProgramFailed(why) => self.program_failed = Some(why),
            Line::KernelFaultNote => {
                self.kernel_fault_notes += 1;
                if self.last_fault_notes.len() == LAST_FAULT_NOTES {
                    self.last_fault_notes.pop_front();
                }
                self.last_fault_notes.push_back(line.to_string());
                return false;
            }
            Line::Kernel(k) => self.last_kernel_line = Some(k),
            Line::Other => {}
        }
        true
    }

    fn report(&mut self, report: &Report<'_>) {
        if let Report::Panic { message } = report {
            self.panic = Some(message.to_string());
        }
    }

    fn keep_going(&mut self) -> bool {
        self.keep_going_at(Instant::now())
    }
}

/// How a fuzz run ended, from the host's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Calls made (the program's count, else its last progress count).
    pub calls: u64,
    /// Kernel deaths: a panic, an exception in the kernel, a failure exit it chose itself (an
    /// invariant violation), a reset.
    pub panics: u64,
    /// Runs stopped for lack of progress.
    pub hangs: u64,
    /// What happened, if it was not a clean end.
    pub why: Option<String>,
}

impl FuzzLog {
    /// Combines the log with how QEMU ended.
    pub fn verdict(&self, outcome: Outcome) -> Verdict {
        let calls = self.done.unwrap_or(self.progress);
        let (panics, hangs, why) = match (outcome, &self.panic, &self.program_failed) {
            (_, Some(message), _) => (1, 0, Some(format!("KERNEL PANIC: {message}"))),
            (Outcome::Stopped, ..) => {
                (0, 1, Some(format!("HANG: no progress line for {} s", self.hang_timeout.as_secs())))
            }
            (Outcome::Passed, ..) if self.done.is_some() => (0, 0, None),
            (_, None, Some(why)) => (0, 0, Some(format!("the fuzz program failed: {why}"))),
            (Outcome::KernelFailed, None, None) => {
                let last = self.last_kernel_line.as_deref().unwrap_or("(no message)");
                (1, 0, Some(format!("the kernel stopped the run: {last}")))
            }
            (other, None, None) => (1, 0, Some(format!("the machine died: {}", other.describe()))),
        };
        Verdict { calls, panics, hangs, why }
    }
}

/// Builds the fuzz image, boots it, follows it and prints the verdict; fails on a kernel panic,
/// a hang or a failure of the program.
pub fn fuzz(opts: &FuzzOptions) -> anyhow::Result<String> {
    let FuzzOptions { arch, program, release } = *opts;
    let build = Build { release, fuzz: Some(program), ..Build::debug(arch) };
    let image = build_image(build, false)?;
    let mut cmd = qemu_command(arch, &image, false, Machine::with_memory(MEMORY_MIB))?;
    let mut log = FuzzLog::new(HANG_TIMEOUT);
    let run = follow_qemu(arch, &mut cmd, None, &mut log)?;
    report_timing(&run);
    let v = log.verdict(run.outcome);
    println!("fuzz: {} calls, {} kernel panics, {} hangs", v.calls, v.panics, v.hangs);
    for line in &log.distribution {
        println!("{line}");
    }
    let rate = log.rate().map(|r| format!(", {r:.0} calls/s")).unwrap_or_default();
    let secs = run.root_task.map(|t| run.total.saturating_sub(t).as_secs_f64()).unwrap_or_default();
    println!(
        "fuzz: seed {} on {arch}, {} kernel; {secs:.1} s from the root task's start{rate}; the kernel noted {} faulting threads",
        program.seed,
        if release { "release" } else { "debug" },
        log.kernel_fault_notes
    );
    let Some(why) = v.why else {
        return Ok(format!("{} calls on {arch}, seed {}: no kernel panic, no hang", v.calls, program.seed));
    };
    println!("fuzz: {why}");
    for note in &log.last_fault_notes {
        println!("fuzz: (the kernel's last fault notes) {note}");
    }
    println!("fuzz: the last progress line said {} calls; replay from there with", log.progress);
    println!(
        "fuzz:   cargo xtask fuzz --arch {arch} --seed {} --calls {} --trace-from {}{}",
        program.seed,
        log.progress + PROGRESS_EVERY,
        log.progress,
        if release { " --release" } else { "" }
    );
    bail!("{why} (seed {}, after {} calls)", program.seed, log.progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read() {
        assert_eq!(Line::parse("fuzz: 10000 calls, 12 faults, 3 stalls, 10 worlds"), Line::Progress(10000));
        assert_eq!(Line::parse("fuzz: 1000000 calls, 0 kernel panics, 0 hangs"), Line::Done(1_000_000));
        let d = "fuzz: replies: NoError 3, other labels 0; returned without a reply 1";
        assert_eq!(Line::parse(d), Line::Distribution(d.to_string()));
        assert!(matches!(
            Line::parse("fuzz: the supervisor FAILED at 7 calls (building the world)"),
            Line::ProgramFailed(_)
        ));
        assert_eq!(Line::parse("fuzz: seed 1, 100 calls, a new world every 1000 calls"), Line::Other);
        assert_eq!(Line::parse("fuzz: call 5: random -1 cap 0x3"), Line::Other);
        let fault = "kernel: thread 0x6012800 faulted: #PF page fault at ip 0x8000006590, address 0x0";
        assert_eq!(Line::parse(fault), Line::KernelFaultNote);
        assert_eq!(
            Line::parse("kernel: thread 0x6012800 has no fault handler: stopped"),
            Line::KernelFaultNote
        );
        let why = "kernel: Checks halted at step 9: after cte_delete: CDT broken";
        assert_eq!(Line::parse(why), Line::Kernel(why.to_string()));
        assert_eq!(Line::parse("root task: hello"), Line::Other);
    }

    fn log(lines: &[&str]) -> FuzzLog {
        let mut log = FuzzLog::new(HANG_TIMEOUT);
        for l in lines {
            log.line(l);
        }
        log
    }

    #[test]
    fn a_clean_run_has_no_panic_and_no_hang() {
        let l = log(&[
            "fuzz: 10000 calls, 1 faults, 0 stalls, 10 worlds",
            "kernel: thread 0x1 faulted: #UD at ip 0x0, address 0x0",
            "fuzz: 20000 calls, 0 kernel panics, 0 hangs",
            "fuzz: faults: cap 1, stalls 0",
        ]);
        assert_eq!(l.kernel_fault_notes, 1);
        assert_eq!(l.distribution.len(), 1);
        let v = l.verdict(Outcome::Passed);
        assert_eq!(v, Verdict { calls: 20000, panics: 0, hangs: 0, why: None });
    }

    #[test]
    fn a_panic_counts_with_its_message_and_the_last_progress() {
        let mut l = log(&["fuzz: 30000 calls, 1 faults, 0 stalls, 30 worlds"]);
        l.report(&Report::Panic { message: "heap exhausted".into() });
        let v = l.verdict(Outcome::KernelFailed);
        assert_eq!((v.calls, v.panics, v.hangs), (30000, 1, 0));
        assert!(v.why.unwrap().contains("KERNEL PANIC: heap exhausted"));
    }

    #[test]
    fn a_failure_exit_of_the_kernel_is_a_death_with_its_last_line() {
        let l =
            log(&["fuzz: 10000 calls, 0 faults, 0 stalls, 10 worlds", "kernel: Checks halted: CDT broken"]);
        let v = l.verdict(Outcome::KernelFailed);
        assert_eq!((v.panics, v.hangs), (1, 0));
        assert!(v.why.unwrap().ends_with("kernel: Checks halted: CDT broken"));
        let v = l.verdict(Outcome::Other(Some(0)));
        assert_eq!(v.panics, 1);
        assert!(v.why.unwrap().contains("rebooted"));
    }

    #[test]
    fn no_progress_for_the_timeout_is_a_hang() {
        let mut l = log(&["fuzz: 10000 calls, 0 faults, 0 stalls, 10 worlds"]);
        let then = l.last_progress;
        assert!(l.keep_going_at(then + HANG_TIMEOUT));
        assert!(!l.hung);
        assert!(!l.keep_going_at(then + HANG_TIMEOUT + Duration::from_secs(1)));
        let v = l.verdict(Outcome::Stopped);
        assert_eq!((v.calls, v.panics, v.hangs), (10000, 0, 1));
        assert!(v.why.unwrap().starts_with("HANG: no progress line for 60 s"));
    }

    #[test]
    fn a_program_failure_is_neither_panic_nor_hang_but_fails() {
        let l = log(&["fuzz: the supervisor FAILED at 5 calls (building the world)"]);
        let v = l.verdict(Outcome::KernelFailed);
        assert_eq!((v.panics, v.hangs), (0, 0));
        assert!(v.why.unwrap().contains("the fuzz program failed"));
    }
}
