//! `cargo xtask sel4test`: seL4's own test suite, unmodified, on Gears (or on seL4 itself with
//! `--on-sel4`), with a table of every test and the ratchet that `cargo xtask test` holds Gears to.
//!
//! - [`log`]: reading the driver's serial output;
//! - [`table`]: the table of a run, against the tests of seL4's reference log;
//! - [`ratchet`]: the lists of tests known to pass on Gears (`tests/sel4test/passing-ARCH.txt`);
//! - [`files`]: where the binaries are.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use metagears::wire::Report;

use crate::Arch;
use crate::qemu::{self, Follow, Machine, Outcome, RootTaskKernel, Sel4Boot};

mod files;
mod log;
mod ratchet;
mod table;

use crate::shared::{SEL4TEST, SharedDir, show_paths};
use files::Files;
use log::{SuiteLog, Verdict};
pub use log::{is_kernel_line, plain};
use table::{Row, Status};

/// Guest memory of a Gears run, in MiB: what seL4's reference runs had (FRAMEEXPORTS0001 maps a
/// frame of every size: on riscv64 a 1 GiB one, which needs a free, aligned GiB of RAM).
pub const MEMORY_MIB: u32 = 3072;
/// Guest memory of a run on seL4, in MiB: what seL4's reference runs had, and what its riscv64
/// image needs (the device tree inside it says 3 GiB; with less RAM seL4 faults while booting).
pub const SEL4_MEMORY_MIB: u32 = 3072;

/// The time limits of a run, in seconds: the whole run, and how long the driver may print
/// nothing before the run counts as hung.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The whole run.
    pub run_secs: u64,
    /// The driver quiet.
    pub quiet_secs: u64,
}

impl Limits {
    /// The limits for a release kernel (or seL4), else a debug one. Measured on riscv64 here (2
    /// cores, TCG, loaded): the suite runs in 176 s on a release Gears (its longest test,
    /// VSPACE0006, quiet for 82 s) and in 633 s on a debug one (VSPACE0006: 291 s).
    pub fn of(release: bool) -> Limits {
        if release {
            Limits { run_secs: 900, quiet_secs: 240 }
        } else {
            Limits { run_secs: 2400, quiet_secs: 900 }
        }
    }
}

/// Lines of serial output kept to show where a run that did not finish stopped.
const TAIL_LINES: usize = 15;
/// Lines of a failed test's output shown under its progress line: the first ones and the last
/// [`REPORT_TAIL`].
const REPORT_LINES: usize = 20;
const REPORT_TAIL: usize = 8;

/// What `cargo xtask sel4test` was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sel4testOptions {
    /// The architectures to run, in order.
    pub arches: Vec<Arch>,
    /// The directory of the binaries (`--dir`), if given.
    pub dir: Option<PathBuf>,
    /// Boot seL4 instead of Gears.
    pub on_sel4: bool,
    /// A release kernel (else debug).
    pub release: bool,
    /// With the invariant checks (the `checks` feature).
    pub checks: bool,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// The whole run's time limit (None: none).
    pub timeout: Option<Duration>,
    /// How long the driver may print nothing (None: forever).
    pub test_timeout: Option<Duration>,
    /// Echo the whole serial output.
    pub verbose: bool,
    /// Add the tests that passed to the ratchet's list.
    pub record: bool,
    /// With `record`, also remove the listed tests that did not pass.
    pub prune: bool,
}

impl Sel4testOptions {
    /// The options `cargo xtask test` runs the suite with: Gears, a release kernel without the
    /// `checks` feature (with it, one test's teardown takes more than seven minutes).
    pub fn for_ci(arches: &[Arch]) -> Sel4testOptions {
        Sel4testOptions {
            arches: arches.to_vec(),
            dir: None,
            on_sel4: false,
            release: true,
            checks: false,
            memory_mib: MEMORY_MIB,
            timeout: Some(Duration::from_secs(Limits::of(true).run_secs)),
            test_timeout: Some(Duration::from_secs(Limits::of(true).quiet_secs)),
            verbose: false,
            record: false,
            prune: false,
        }
    }

    /// Which kernel, for messages.
    fn kernel_name(&self) -> String {
        if self.on_sel4 {
            "seL4 (its debug build)".to_string()
        } else {
            let profile = if self.release { "release" } else { "debug" };
            let checks = if self.checks { " with the full invariant checks" } else { "" };
            format!("Gears ({profile} kernel{checks})")
        }
    }
}

/// `cargo xtask sel4test`: runs the suite on each architecture asked, prints the tables, holds
/// Gears' runs against the ratchet (recording them with `--record`); fails if the binaries are
/// missing, if a listed test did not pass on Gears, or if any test did not pass on seL4.
pub fn run(opts: &Sel4testOptions) -> anyhow::Result<String> {
    let Some(dir) = SEL4TEST.find(opts.dir.as_deref()) else {
        bail!("no sel4test directory: {}", files::how_to_get_them());
    };
    for &arch in &opts.arches {
        let missing = files::missing(&dir.path, arch, opts.on_sel4);
        if !missing.is_empty() {
            bail!("{} lacks {}: {}", dir.describe(), show_paths(&missing), files::how_to_get_them());
        }
        if opts.on_sel4 && arch == Arch::Riscv64 && opts.memory_mib < SEL4_MEMORY_MIB {
            bail!(
                "seL4's riscv64 image needs --memory {SEL4_MEMORY_MIB} or more (the device tree inside \
                 it says 3 GiB of RAM; with less, seL4 faults while booting)"
            );
        }
    }
    let done = run_each(&opts.arches, &dir, opts)?;
    Ok(format!("sel4test {}", done.join("; ")))
}

/// `cargo xtask test`'s part: the suite on Gears on each of `arches`, held against the ratchet;
/// without the binaries it says so and runs nothing.
pub fn ratchet_for_test(arches: &[Arch]) -> anyhow::Result<String> {
    let Some(dir) = SEL4TEST.find(None) else {
        println!("sel4test: skipped: no sel4test directory. {}", files::how_to_get_them());
        return Ok("sel4test skipped (no binaries)".to_string());
    };
    let mut skipped = Vec::new();
    let mut present = Vec::new();
    for &arch in arches {
        let missing = files::missing(&dir.path, arch, false);
        if missing.is_empty() {
            present.push(arch);
        } else {
            println!("sel4test {arch}: skipped: {} lacks {}", dir.describe(), show_paths(&missing));
            skipped.push(format!("{arch}: skipped (no binaries)"));
        }
    }
    let done = run_each(&present, &dir, &Sel4testOptions::for_ci(&present))?;
    Ok(format!("sel4test ({})", done.into_iter().chain(skipped).collect::<Vec<_>>().join("; ")))
}

/// Runs each of `arches` in turn (all of them, even after a failure); returns their summaries,
/// or fails naming every architecture that failed.
fn run_each(arches: &[Arch], dir: &SharedDir, opts: &Sel4testOptions) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    let mut failures = Vec::new();
    for &arch in arches {
        match run_arch(arch, dir, opts) {
            Ok(summary) => done.push(summary),
            Err(err) => {
                println!("sel4test {arch}: FAILED: {err:#}");
                failures.push(format!("{arch}: {err:#}"));
            }
        }
    }
    if !failures.is_empty() {
        bail!("sel4test: {}", failures.join("; "));
    }
    Ok(done)
}

/// One architecture's run: boot, follow, tabulate, and hold it against the ratchet (Gears) or
/// expect every test to pass (seL4). Returns the closing counts.
fn run_arch(arch: Arch, dir: &SharedDir, opts: &Sel4testOptions) -> anyhow::Result<String> {
    let files = Files::new(&dir.path, arch);
    let reference = match std::fs::read_to_string(&files.reference_log) {
        Ok(text) => log::test_names(&text),
        Err(err) => {
            println!(
                "sel4test {arch}: no reference log ({}: {err}): the tests not reached cannot be listed",
                files.reference_log.display()
            );
            Vec::new()
        }
    };
    let kernel = if opts.on_sel4 {
        RootTaskKernel::Sel4(match arch {
            Arch::X86_64 => Sel4Boot::Multiboot { kernel: &files.sel4_kernel, root_task: &files.driver },
            Arch::Riscv64 => Sel4Boot::Image(&files.sel4_image),
        })
    } else {
        RootTaskKernel::Gears {
            root_task: &files.driver,
            release: opts.release,
            checks: opts.checks,
            profile: None,
        }
    };
    let on = if opts.on_sel4 { "seL4" } else { "Gears" };
    println!(
        "sel4test {arch}: on {}, {} MiB, from {}; {} tests in seL4's log",
        opts.kernel_name(),
        opts.memory_mib,
        dir.describe(),
        reference.len()
    );
    let mut follower = Follower::new(arch, reference.len(), opts.test_timeout, opts.verbose);
    let machine = Machine::with_memory(opts.memory_mib);
    let run = qemu::boot_root_task(arch, kernel, machine, opts.timeout, &mut follower)?;
    let secs = run.total.as_secs_f64();
    if let Some(why) = follower.stop_reason(run.outcome, opts) {
        let (_, at) = follower.clock();
        let stopped = follower.log.stop(&why, at);
        println!("sel4test {arch}: the run stopped before the driver's last line: {why}");
        match stopped {
            Some(index) => follower.print_verdict(index),
            None if !opts.verbose => {
                println!("sel4test {arch}: its last lines of output:");
                for line in &follower.tail {
                    println!("    | {line}");
                }
            }
            None => {}
        }
    }
    let rows = table::rows(&follower.log, &reference);
    let counts = table::counts(&rows);
    println!("\nsel4test {arch} on {}:", opts.kernel_name());
    print!("{}", table::render(&rows));
    if let Some(summary) = &follower.log.summary {
        println!("the driver's own count: {summary}");
    }
    println!("sel4test: {counts} ({arch} on {on}, {secs:.0} s)");
    let summary = format!("{arch} on {on}: {counts} in {secs:.0} s");
    if opts.on_sel4 {
        if counts.failed > 0 || counts.not_run > 0 || !follower.log.finished() {
            bail!("seL4 did not pass its own suite: {counts}");
        }
        return Ok(summary);
    }
    hold_to_ratchet(arch, &rows, opts)?;
    Ok(summary)
}

/// Holds a Gears run against `arch`'s list: fails if a listed test did not pass (unless `--record
/// --prune` drops it), names the tests that pass and are not listed, and records them with
/// `--record`.
fn hold_to_ratchet(arch: Arch, rows: &[Row], opts: &Sel4testOptions) -> anyhow::Result<()> {
    let listed = ratchet::load(arch)?;
    let path = ratchet::path(arch);
    let shown = path.strip_prefix(crate::util::root()).unwrap_or(&path).display().to_string();
    let compared = ratchet::compare(&listed, rows);
    if !compared.new.is_empty() {
        println!(
            "sel4test {arch}: {} test(s) pass that {shown} does not list yet: {}",
            compared.new.len(),
            compared.new.join(", ")
        );
        if !opts.record {
            println!("sel4test {arch}: record them with `cargo xtask sel4test --arch {arch} --record`");
        }
    }
    for (name, status) in &compared.regressed {
        let what = match status {
            Status::Passed => "passed".to_string(),
            Status::Failed(why) => format!("FAILED: {why}"),
            Status::NotRun => "not run".to_string(),
        };
        println!("sel4test {arch}: listed in {shown} but did not pass: {name} ({what})");
    }
    if opts.record {
        let recorded = ratchet::recorded(&listed, rows, opts.prune);
        if recorded != listed || !path.is_file() {
            ratchet::store(arch, &recorded)?;
        }
        let added = recorded.difference(&listed).count();
        let removed = listed.difference(&recorded).count();
        println!(
            "sel4test {arch}: recorded {shown}: {} tests, {added} added, {removed} removed",
            recorded.len()
        );
        if opts.prune {
            return Ok(());
        }
    }
    if !compared.regressed.is_empty() {
        let names: Vec<&str> = compared.regressed.iter().map(|(n, _)| n.as_str()).collect();
        bail!("{} test(s) listed in {shown} did not pass: {}", names.len(), names.join(", "));
    }
    if !opts.record {
        if listed.is_empty() {
            println!("sel4test {arch}: {shown} lists no tests yet");
        } else {
            println!("sel4test {arch}: all {} tests listed in {shown} passed", listed.len());
        }
    }
    Ok(())
}

/// Follows a run's serial output: reads it into a [`SuiteLog`], prints a line per finished test
/// (or everything, `verbose`), stops QEMU after the driver's last line or when the driver has been
/// quiet too long.
struct Follower {
    arch: Arch,
    log: SuiteLog,
    /// When QEMU's output began to be followed (the first call from the runner, after the build).
    start: Option<Instant>,
    /// The last line of the driver's (not the kernel's), or the start.
    last_progress: Option<Instant>,
    test_timeout: Option<Duration>,
    verbose: bool,
    /// The tests seL4's log has, for the progress count.
    expected: usize,
    /// Tests finished so far (not the bookkeeping entries).
    finished: usize,
    /// The run was stopped for want of output.
    stalled: bool,
    /// The kernel's panic message, if it panicked (Gears).
    panic: Option<String>,
    /// The last lines of output.
    tail: VecDeque<String>,
}

impl Follower {
    fn new(arch: Arch, expected: usize, test_timeout: Option<Duration>, verbose: bool) -> Follower {
        Follower {
            arch,
            log: SuiteLog::default(),
            start: None,
            last_progress: None,
            test_timeout,
            verbose,
            expected,
            finished: 0,
            stalled: false,
            panic: None,
            tail: VecDeque::new(),
        }
    }

    /// Time since the start of the run, starting it now if it has not started.
    fn clock(&mut self) -> (Instant, Duration) {
        let now = Instant::now();
        let start = *self.start.get_or_insert(now);
        self.last_progress.get_or_insert(now);
        (now, now.duration_since(start))
    }

    /// Prints the verdict of the test at `index` (with its report, if it failed and the output
    /// was not echoed).
    fn print_verdict(&mut self, index: usize) {
        let test = &self.log.tests[index];
        if test.is_bookkeeping() {
            return;
        }
        self.finished += 1;
        let secs = test.duration().map(|d| d.as_secs_f64()).unwrap_or_default();
        let of = if self.expected > 0 { format!("/{}", self.expected) } else { String::new() };
        let progress = format!("sel4test {}: {:>3}{of} {}", self.arch, self.finished, test.name);
        match &test.verdict {
            Verdict::Passed => println!("{progress} passed ({secs:.1} s)"),
            Verdict::Failed(why) => {
                println!("{progress} FAILED ({secs:.1} s): {why}");
                if !self.verbose {
                    for line in report_excerpt(&test.lines) {
                        println!("    | {line}");
                    }
                }
            }
            Verdict::Running => {}
        }
    }

    /// Why the run ended before the driver's last line, if it did.
    fn stop_reason(&self, outcome: Outcome, opts: &Sel4testOptions) -> Option<String> {
        if self.log.finished() {
            return None;
        }
        let secs = |d: Option<Duration>| d.map(|d| d.as_secs()).unwrap_or_default();
        let why = if self.stalled {
            format!("hung: no output for {} s", secs(opts.test_timeout))
        } else if outcome == Outcome::TimedOut {
            format!("the run's time limit of {} s passed", secs(opts.timeout))
        } else if let Some(message) = &self.panic {
            format!("kernel panic: {message}")
        } else if outcome == Outcome::Passed {
            "the kernel halted with success (seL4_DebugHalt, or no thread left to run)".to_string()
        } else {
            outcome.describe()
        };
        Some(why)
    }
}

impl Follow for Follower {
    fn line(&mut self, line: &str) -> bool {
        let (now, at) = self.clock();
        let plain = log::plain(line);
        if !log::is_kernel_line(plain.trim()) && !plain.trim().is_empty() {
            self.last_progress = Some(now);
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(plain.trim_end().to_string());
        if self.verbose {
            println!("{line}");
        }
        if let Some(index) = self.log.line(line, at) {
            self.print_verdict(index);
        }
        // Printed above, before the verdict it may lead to.
        false
    }

    fn report(&mut self, report: &Report<'_>) {
        if let Report::Panic { message } = report {
            self.panic = Some(message.to_string());
        }
    }

    fn keep_going(&mut self) -> bool {
        let (now, _) = self.clock();
        if self.log.finished() {
            return false;
        }
        if let Some(limit) = self.test_timeout
            && self.last_progress.is_some_and(|last| now.duration_since(last) > limit)
        {
            self.stalled = true;
            return false;
        }
        true
    }
}

/// A failed test's output to show: all of it if short, else its first lines and its last (where a
/// hung test stopped).
fn report_excerpt(lines: &[String]) -> Vec<String> {
    if lines.len() <= REPORT_LINES {
        return lines.to_vec();
    }
    let head = REPORT_LINES - REPORT_TAIL;
    let mut shown = lines[..head].to_vec();
    shown.push(format!("… {} lines …", lines.len() - REPORT_LINES));
    shown.extend_from_slice(&lines[lines.len() - REPORT_TAIL..]);
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_log(text: &str) -> SuiteLog {
        let mut log = SuiteLog::default();
        for line in text.lines() {
            log.line(line, Duration::ZERO);
        }
        log
    }

    /// seL4's own logs, when the directory is here: every test of the reference passes, and the
    /// counts are the README's (121 on x86_64, 114 on riscv64, plus two bookkeeping entries).
    #[test]
    fn the_reference_logs_read_as_all_passed() {
        let Some(dir) = SEL4TEST.choose(None, None) else { return };
        for (arch, expected) in [(Arch::X86_64, 121), (Arch::Riscv64, 114)] {
            let path = Files::new(&dir.path, arch).reference_log;
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let log = read_log(&text);
            assert!(log.finished(), "{}", path.display());
            assert_eq!(log.end, Some(log::SuiteEnd::AllWell));
            let rows = table::rows(&log, &log::test_names(&text));
            let counts = table::counts(&rows);
            assert_eq!(counts, table::Counts { passed: expected, failed: 0, not_run: 0 }, "{arch}");
        }
    }

    #[test]
    fn ci_runs_a_release_kernel_with_at_least_512_mib() {
        let opts = Sel4testOptions::for_ci(&[Arch::Riscv64]);
        assert!(opts.release && !opts.checks && !opts.on_sel4 && !opts.record);
        assert!(opts.memory_mib >= 512);
        assert_eq!(opts.kernel_name(), "Gears (release kernel)");
        let checked = Sel4testOptions { checks: true, release: false, ..opts };
        assert_eq!(checked.kernel_name(), "Gears (debug kernel with the full invariant checks)");
    }

    fn follower() -> Follower {
        Follower::new(Arch::Riscv64, 2, Some(Duration::from_secs(60)), false)
    }

    #[test]
    fn the_follower_stops_after_the_last_line() {
        let mut f = follower();
        for line in ["Starting test 1: A", "Test suite passed. 1 tests passed. 0 tests disabled."] {
            f.line(line);
            assert!(f.keep_going());
        }
        f.line("All is well in the universe");
        assert!(!f.keep_going());
        assert!(!f.stalled);
        assert_eq!(f.stop_reason(Outcome::Stopped, &Sel4testOptions::for_ci(&[])), None);
    }

    #[test]
    fn a_quiet_driver_is_a_hang_but_kernel_lines_are_not_progress() {
        let mut f = follower();
        f.line("Starting test 1: A");
        assert!(f.keep_going());
        f.last_progress = f.last_progress.map(|t| t - Duration::from_secs(61));
        f.line("kernel: thread 0x1 faulted: load page fault at ip 0x0, address 0x0");
        assert!(!f.keep_going());
        assert!(f.stalled);
        let opts = Sel4testOptions::for_ci(&[]);
        let why = f.stop_reason(Outcome::Stopped, &opts).unwrap();
        assert_eq!(why, format!("hung: no output for {} s", Limits::of(true).quiet_secs));
        assert_eq!(
            f.tail.back().map(String::as_str),
            Some("kernel: thread 0x1 faulted: load page fault at ip 0x0, address 0x0")
        );
    }

    #[test]
    fn the_clock_starts_with_the_output_not_with_the_build() {
        let mut f = follower();
        assert_eq!((f.start, f.last_progress), (None, None));
        assert!(f.keep_going());
        let started = f.start.unwrap();
        assert_eq!(f.last_progress, Some(started));
        f.line("Starting test 1: A");
        assert_eq!(f.start, Some(started));
        assert!(f.last_progress.unwrap() >= started);
    }

    #[test]
    fn a_long_report_shows_its_start_and_its_end() {
        let lines: Vec<String> = (0..40).map(|i| format!("line {i}")).collect();
        let shown = report_excerpt(&lines);
        assert_eq!(shown.len(), REPORT_LINES + 1);
        assert_eq!(shown[0], "line 0");
        assert_eq!(shown[REPORT_LINES - REPORT_TAIL], "… 20 lines …");
        assert_eq!(shown.last().map(String::as_str), Some("line 39"));
        assert_eq!(report_excerpt(&lines[..3]), lines[..3]);
    }

    #[test]
    fn a_run_that_ends_early_says_how() {
        let opts = Sel4testOptions::for_ci(&[]);
        let mut f = follower();
        f.line("Starting test 1: A");
        assert_eq!(
            f.stop_reason(Outcome::TimedOut, &opts).unwrap(),
            format!("the run's time limit of {} s passed", Limits::of(true).run_secs)
        );
        f.report(&Report::Panic { message: "oops".into() });
        assert_eq!(f.stop_reason(Outcome::KernelFailed, &opts).unwrap(), "kernel panic: oops");
        let f = follower();
        let why = f.stop_reason(Outcome::Other(Some(0)), &opts).unwrap();
        assert!(why.starts_with("QEMU exited 0 without the kernel's success report"), "{why}");
        let why = f.stop_reason(Outcome::Passed, &opts).unwrap();
        assert_eq!(why, "the kernel halted with success (seL4_DebugHalt, or no thread left to run)");
    }
}
