//! What the kernel tells the xtask.
//!
//! The kernel tells the xtask what happens through typed records, `metagears::wire::Report`, sent
//! as frames between its console text; the console text is for people and is only printed.
//! [`TestCounts`] follows the QEMU test suite through the reports and gives its [`Verdict`].

use metagears::wire::Report;

use super::runner::Outcome;

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

    fn passed(name: &str) -> Report<'static> {
        Report::TestPassed { name: name.to_string().into() }
    }

    fn counts(reports: &[Report<'static>]) -> TestCounts {
        let mut c = TestCounts::default();
        reports.iter().for_each(|r| c.record(r));
        c
    }

    #[test]
    fn a_clean_run_passes() {
        let c = counts(&[
            Report::SuiteStarted { tests: 2 },
            passed("a"),
            passed("b"),
            Report::SuiteFinished { passed: 2, failed: 0 },
        ]);
        assert_eq!((c.passed, c.failed, c.summary, c.announced), (2, 0, Some((2, 0)), Some(2)));
        assert_eq!(c.verdict(Outcome::Passed), Verdict { failed: 0, error: None });
    }

    #[test]
    fn a_failed_test_fails_the_suite() {
        let c = counts(&[
            passed("a"),
            Report::TestFailed { name: "b".into(), why: "no ticks".into() },
            Report::SuiteFinished { passed: 1, failed: 1 },
        ]);
        let v = c.verdict(Outcome::KernelFailed);
        assert_eq!(v.failed, 1);
        assert!(v.error.is_some());
    }

    #[test]
    fn a_crash_or_timeout_counts_as_a_failure() {
        let c = counts(&[passed("a"), Report::Panic { message: "oops".into() }]);
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
        let c = counts(&[passed("a"), Report::TestStarted { name: "b".into() }]);
        let error = c.verdict(Outcome::TimedOut).error.unwrap();
        assert!(error.ends_with("timed out before the suite finished (during test b)"), "{error}");
    }

    #[test]
    fn success_without_summary_or_with_a_short_one_is_suspicious() {
        let c = counts(&[passed("a")]);
        assert!(c.verdict(Outcome::Passed).error.is_some());
        let c = counts(&[
            Report::SuiteStarted { tests: 3 },
            passed("a"),
            Report::SuiteFinished { passed: 1, failed: 0 },
        ]);
        let error = c.verdict(Outcome::Passed).error.unwrap();
        assert!(error.contains("announced 3 tests but its summary counts 1"), "{error}");
    }
}
