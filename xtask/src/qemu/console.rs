//! What the kernel's console output means: the lines the xtask looks for, the test lines of the
//! QEMU suite, and the suite's verdict.

use super::runner::Outcome;

/// The kernel's last line before it reports success (`kernel/src/main.rs`, `exit`).
pub const EXIT_MARKER: &str = "gears: exit Success";

/// The start of the kernel's first console line: boot time is measured up to it (firmware
/// output before it, e.g. OVMF's, does not count).
pub const KERNEL_BANNER: &str = "Gears kernel ";

/// The Rust root task's first console line (written from user mode through
/// `seL4_DebugPutChar`): the boot-time figure "reaches the root task" is taken there.
pub const ROOT_TASK_PREFIX: &str = "root task: Rust in user mode";

/// The console line before a traced test scenario's frames (`kernel/src/scenarios.rs`).
pub const TRACE_BEGIN: &str = "trace: begin";
/// The console line after them.
pub const TRACE_END: &str = "trace: end";

/// Tests counted from the test kernel's console.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TestCounts {
    /// Lines `test <name> ... ok`.
    pub passed: usize,
    /// Lines `test <name> ... FAILED…`.
    pub failed: usize,
    /// The kernel's own `qemu-test: N passed, M failed` summary, if it got that far.
    pub summary: Option<(usize, usize)>,
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
    /// Counts one console line.
    pub fn record(&mut self, line: &str) {
        let line = line.trim();
        if line.starts_with("test ") {
            if line.ends_with("... ok") {
                self.passed += 1;
            } else if line.contains("... FAILED") {
                self.failed += 1;
            }
        } else if let Some(rest) = line.strip_prefix("qemu-test: ") {
            let nums: Vec<usize> =
                rest.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
            if rest.contains("passed") && nums.len() == 2 {
                self.summary = Some((nums[0], nums[1]));
            }
        }
    }

    /// Combines the counted lines with how QEMU ended.
    pub fn verdict(&self, outcome: Outcome) -> Verdict {
        let crashed = self.summary.is_none();
        let failed = self.failed + usize::from(crashed && outcome != Outcome::Passed);
        let error = match outcome {
            Outcome::Passed if crashed => {
                Some("the kernel exited with success but printed no summary".to_string())
            }
            Outcome::Passed if self.failed > 0 => {
                Some("a test failed but the kernel reported success".to_string())
            }
            Outcome::Passed => None,
            Outcome::KernelFailed if !crashed => Some(format!("{} test(s) failed", self.failed)),
            other => Some(format!("{} before the suite finished", other.describe())),
        };
        Verdict { failed, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(lines: &str) -> TestCounts {
        let mut c = TestCounts::default();
        lines.lines().for_each(|l| c.record(l));
        c
    }

    #[test]
    fn a_clean_run_passes() {
        let c = counts(
            "qemu-test: running 2 tests\ntest a ... ok\ntest b ... ok\nqemu-test: 2 passed, 0 failed\n",
        );
        assert_eq!((c.passed, c.failed, c.summary), (2, 0, Some((2, 0))));
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
        assert!(v.error.unwrap().contains("before the suite finished"));
        let v = c.verdict(Outcome::TimedOut);
        assert!(v.error.unwrap().contains("timed out"));
        let v = c.verdict(Outcome::Other(Some(0)));
        assert!(v.error.unwrap().contains("rebooted, triple-faulted"));
    }

    #[test]
    fn success_without_summary_is_suspicious() {
        let c = counts("test a ... ok\n");
        assert!(c.verdict(Outcome::Passed).error.is_some());
    }
}
