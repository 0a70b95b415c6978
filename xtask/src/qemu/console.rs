//! What the kernel's console output means.
//!
//! The kernel tells the xtask what happens through typed records, `metagears::wire::Report`, sent
//! as frames between its console text. A kernel that still prints a report as a console line is
//! understood too: [`parse_line`] reads each of those lines as the report it stands for, so the
//! rest of the xtask sees reports only. [`TestCounts`] follows the QEMU test suite through them
//! and gives its [`Verdict`].

use metagears::wire::{ExitCode, IrqLatency, Report};

use super::runner::Outcome;

/// The start of the kernel's first console line (firmware output, e.g. OVMF's, may come before
/// it on the same line).
const KERNEL_BANNER: &str = "Gears kernel ";

/// The Rust root task's first console line (written from user mode through
/// `seL4_DebugPutChar`): the root task runs.
const ROOT_TASK_PREFIX: &str = "root task: Rust in user mode";

/// The report a console line stands for, if any: the lines the kernel prints for what
/// [`Report`]s say (each report's `Display`), and the root task's first line. `line` holds
/// printable text only.
pub fn parse_line(line: &str) -> Option<Report<'static>> {
    let line = line.trim();
    let text = |s: &str| s.to_string().into();
    if let Some(rest) = line.strip_prefix("test ") {
        let (name, verdict) = rest.split_once(" ...")?;
        let name = text(name);
        return match verdict.trim() {
            "" => Some(Report::TestStarted { name }),
            "ok" => Some(Report::TestPassed { name }),
            v => {
                let why = v.strip_prefix("FAILED")?.trim_start_matches(':').trim();
                Some(Report::TestFailed { name, why: text(why) })
            }
        };
    }
    if let Some(rest) = line.strip_prefix("qemu-test: ") {
        let nums: Vec<u32> =
            rest.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
        return match nums[..] {
            [tests] if rest.starts_with("running ") => Some(Report::SuiteStarted { tests }),
            [passed, failed] if rest.contains("passed") => Some(Report::SuiteFinished { passed, failed }),
            _ => None,
        };
    }
    if let Some(rest) = line.strip_prefix("bench: irq-latency ") {
        return irq_latency(rest).map(Report::IrqLatency);
    }
    if let Some(why) = line.strip_prefix("bench: FAILED: ") {
        return Some(Report::BenchFailed { why: text(why) });
    }
    if let Some(message) = line.strip_prefix("KERNEL PANIC: ") {
        return Some(Report::Panic { message: text(message) });
    }
    if let Some(rest) = line.strip_prefix("trace: end: ") {
        let (frames, bytes) = rest.strip_suffix(" bytes")?.split_once(" frames, ")?;
        return Some(Report::TraceEnd { frames: frames.parse().ok()?, bytes: bytes.parse().ok()? });
    }
    match line {
        "trace: begin" => return Some(Report::TraceBegin),
        "gears: exit Success" => return Some(Report::Exit { code: ExitCode::Success }),
        "gears: exit Failure" => return Some(Report::Exit { code: ExitCode::Failure }),
        "root task: started" => return Some(Report::RootTaskStarted),
        _ => {}
    }
    if line.starts_with(ROOT_TASK_PREFIX) {
        return Some(Report::RootTaskStarted);
    }
    let (_, banner) = line.split_once(KERNEL_BANNER)?;
    let (version, rest) = banner.split_once(" on ").unwrap_or((banner, ""));
    let arch = rest.split(':').next().unwrap_or("");
    Some(Report::KernelStarted { version: text(version), arch: text(arch) })
}

/// The fields of a `bench: irq-latency caps=N preemption=on|off max_latency_insns=L …` line.
fn irq_latency(fields: &str) -> Option<IrqLatency> {
    let field = |key: &str| {
        fields.split_whitespace().find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
    };
    Some(IrqLatency {
        caps: field("caps")?.parse().ok()?,
        preemption: field("preemption")? == "on",
        max_latency_insns: field("max_latency_insns")?.parse().ok()?,
        kernel_latency_insns: field("kernel_latency_insns")?.parse().ok()?,
        preemptions: field("preemptions")?.parse().ok()?,
        driver_runs: field("driver_runs")?.parse().ok()?,
    })
}

/// The QEMU test suite as its reports told it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestCounts {
    /// Tests reported passed.
    pub passed: usize,
    /// Tests reported failed.
    pub failed: usize,
    /// How many tests the kernel said it would run, if it said.
    pub announced: Option<usize>,
    /// The kernel's own summary (passed, failed), if it got that far.
    pub summary: Option<(usize, usize)>,
    /// The test that started and has not finished, if any.
    pub running: Option<String>,
    /// The kernel's panic message, if it panicked.
    pub panic: Option<String>,
}

/// The suite's result: how many failed (a crash counts as one more) and why, if it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Failed tests, plus one if the kernel died before its summary.
    pub failed: usize,
    /// Why the suite failed, if it did.
    pub error: Option<String>,
}

impl TestCounts {
    /// Follows one report.
    pub fn record(&mut self, report: &Report<'_>) {
        match report {
            Report::SuiteStarted { tests } => self.announced = Some(*tests as usize),
            Report::TestStarted { name } => self.running = Some(name.to_string()),
            Report::TestPassed { .. } => {
                self.passed += 1;
                self.running = None;
            }
            Report::TestFailed { .. } => {
                self.failed += 1;
                self.running = None;
            }
            Report::SuiteFinished { passed, failed } => {
                self.summary = Some((*passed as usize, *failed as usize))
            }
            Report::Panic { message } => self.panic = Some(message.to_string()),
            _ => {}
        }
    }

    /// Combines the reports with how QEMU ended.
    pub fn verdict(&self, outcome: Outcome) -> Verdict {
        let crashed = self.summary.is_none();
        let failed = self.failed + usize::from(crashed && outcome != Outcome::Passed);
        let reported = self.summary.map(|(p, f)| p + f);
        let error = match outcome {
            Outcome::Passed if crashed => {
                Some("the kernel exited with success but printed no summary".to_string())
            }
            Outcome::Passed if self.failed > 0 => {
                Some("a test failed but the kernel reported success".to_string())
            }
            Outcome::Passed if self.announced.is_some_and(|n| Some(n) != reported) => Some(format!(
                "the kernel announced {} tests but its summary counts {}",
                self.announced.unwrap_or(0),
                reported.unwrap_or(0)
            )),
            Outcome::Passed => None,
            Outcome::KernelFailed if !crashed => Some(format!("{} test(s) failed", self.failed)),
            other => {
                let during = self.running.as_ref().map(|t| format!(" (during test {t})")).unwrap_or_default();
                let panic = self.panic.as_ref().map(|m| format!(": KERNEL PANIC: {m}")).unwrap_or_default();
                Some(format!("{} before the suite finished{during}{panic}", other.describe()))
            }
        };
        Verdict { failed, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(lines: &str) -> TestCounts {
        let mut c = TestCounts::default();
        lines.lines().filter_map(parse_line).for_each(|r| c.record(&r));
        c
    }

    #[test]
    fn a_clean_run_passes() {
        let c = counts(
            "qemu-test: running 2 tests\ntest a ... ok\ntest b ... ok\nqemu-test: 2 passed, 0 failed\n",
        );
        assert_eq!((c.passed, c.failed, c.summary, c.announced), (2, 0, Some((2, 0)), Some(2)));
        assert_eq!(c.verdict(Outcome::Passed), Verdict { failed: 0, error: None });
    }

    #[test]
    fn a_failed_test_fails_the_suite() {
        let c = counts("test a ... ok\ntest b ... FAILED: no ticks\nqemu-test: 1 passed, 1 failed\n");
        let v = c.verdict(Outcome::KernelFailed);
        assert_eq!(v.failed, 1);
        assert!(v.error.is_some());
    }

    #[test]
    fn a_crash_or_timeout_counts_as_a_failure() {
        let c = counts("test a ... ok\nKERNEL PANIC: oops\n");
        let v = c.verdict(Outcome::KernelFailed);
        assert_eq!(v.failed, 1);
        let error = v.error.unwrap();
        assert!(error.contains("before the suite finished: KERNEL PANIC: oops"), "{error}");
        let v = c.verdict(Outcome::TimedOut);
        assert!(v.error.unwrap().contains("timed out"));
        let v = c.verdict(Outcome::Other(Some(0)));
        assert!(v.error.unwrap().contains("rebooted, triple-faulted"));
    }

    #[test]
    fn a_crash_names_the_test_it_happened_in() {
        let mut c = counts("test a ... ok\n");
        c.record(&Report::TestStarted { name: "b".into() });
        let error = c.verdict(Outcome::TimedOut).error.unwrap();
        assert!(error.ends_with("timed out before the suite finished (during test b)"), "{error}");
    }

    #[test]
    fn success_without_summary_or_with_a_short_one_is_suspicious() {
        let c = counts("test a ... ok\n");
        assert!(c.verdict(Outcome::Passed).error.is_some());
        let c = counts("qemu-test: running 3 tests\ntest a ... ok\nqemu-test: 1 passed, 0 failed\n");
        let error = c.verdict(Outcome::Passed).error.unwrap();
        assert!(error.contains("announced 3 tests but its summary counts 1"), "{error}");
    }

    /// Every report the kernel may send reads back from its console line, so a print site can
    /// switch to the record without the xtask noticing.
    #[test]
    fn each_reports_console_line_parses_to_the_report() {
        for r in Report::examples() {
            assert_eq!(parse_line(&r.to_string()), Some(r.clone()), "{r}");
        }
    }

    #[test]
    fn todays_kernel_lines_parse() {
        let banner = "\u{1b}[2J BdsDxe: starting Gears kernel 0.1.0 on x86_64: serial console up";
        assert_eq!(
            parse_line(banner),
            Some(Report::KernelStarted { version: "0.1.0".into(), arch: "x86_64".into() })
        );
        assert_eq!(
            parse_line("root task: Rust in user mode; first free slot 42, untyped cap 7"),
            Some(Report::RootTaskStarted)
        );
        assert_eq!(
            parse_line("test b ... FAILED"),
            Some(Report::TestFailed { name: "b".into(), why: "".into() })
        );
        assert_eq!(
            parse_line(
                "bench: irq-latency caps=4096 preemption=off driver_runs=8 max_latency_insns=1200 \
                 kernel_latency_insns=300 preemptions=0"
            ),
            Some(Report::IrqLatency(IrqLatency {
                caps: 4096,
                preemption: false,
                max_latency_insns: 1200,
                kernel_latency_insns: 300,
                preemptions: 0,
                driver_runs: 8,
            })),
            "the fields in any order"
        );
        for other in ["root task: all scenarios passed", "cpu: x86_64", "test", "qemu-test: 3", "demo: ok"] {
            assert_eq!(parse_line(other), None, "{other}");
        }
    }
}
