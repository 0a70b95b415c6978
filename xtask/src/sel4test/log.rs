//! Reading sel4test's serial output line by line: which tests started, which passed, which failed
//! and with what first message, and whether the driver reached its last line.
//!
//! seL4's test driver prints `Starting test N: NAME` before each test (not always at the start of
//! a line). A test run as its own process also prints `Running test NAME (…)` and then
//! `Test NAME passed` or `Test NAME failed`; a test run inside the driver prints nothing more when
//! it passes. Whatever fails prints a report: `\tError: … at line L of file F` and
//! `\tFailure: …` lines from the test library (the driver adds one of each for every failed
//! test), a fault message (`Pagefault from [NAME]: …`, `Cap fault from [NAME] …`, …) followed by
//! a register dump, or `Halting on fatal assertion...`. The suite ends with
//! `Test suite passed. …` or `Test suite failed. …`, then one of `All is well in the universe`,
//! `*** FAILURES DETECTED ***` or `*** ALL tests not run ***`.
//!
//! So a test passes when the next test (or the end of the suite) starts and no failure line came
//! in between. That is stricter than the driver's own count: a check that fails in another
//! process of the test (an inter-address-space page-fault test's handler, say) prints its
//! `Error:` line, but the test's main process does not learn of it and says `passed`; such a
//! test fails here, as it would not on seL4. Kernel lines (Gears' `kernel: …`, seL4's `<<seL4(CPU 0) …>>`) are kept with the
//! test they came in but never decide anything.

use std::time::Duration;

/// The two entries the driver counts as tests but that test no kernel: the first checks that
/// there are tests, the last that every test ran.
pub const BOOKKEEPING: [&str; 2] = ["Test that there are tests", "Test all tests ran"];

/// Lines of a test's output kept to show when it fails.
const KEPT_LINES: usize = 200;

/// Where a test stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Started, not finished.
    Running,
    /// Finished with no failure line.
    Passed,
    /// Failed: the first line that said so, or why the run ended during it.
    Failed(String),
}

/// One test the driver started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRun {
    /// The driver's number for it (`Starting test N: …`).
    pub number: u32,
    /// Its name.
    pub name: String,
    /// Where it stands.
    pub verdict: Verdict,
    /// When it started and when it got its verdict, from the start of the run.
    pub started: Duration,
    pub ended: Option<Duration>,
    /// Its output, from its `Starting test` line on (at most [`KEPT_LINES`]).
    pub lines: Vec<String>,
    /// A line said it failed.
    failed: bool,
    /// The first line that reports a problem (a failure, a fault, a failed condition).
    first_report: Option<String>,
    /// It printed `Test NAME passed`.
    said_passed: bool,
}

impl TestRun {
    /// Whether it is one of the driver's two bookkeeping entries.
    pub fn is_bookkeeping(&self) -> bool {
        BOOKKEEPING.contains(&self.name.as_str())
    }

    /// How long it ran, if it finished.
    pub fn duration(&self) -> Option<Duration> {
        self.ended.map(|end| end.saturating_sub(self.started))
    }
}

/// How the driver ended the suite (its last line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuiteEnd {
    /// `All is well in the universe`.
    AllWell,
    /// `*** FAILURES DETECTED ***`.
    FailuresDetected,
    /// `*** ALL tests not run ***`.
    NotAllRun,
}

/// The suite as its output told it so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SuiteLog {
    /// Every test started, in order (the bookkeeping entries too).
    pub tests: Vec<TestRun>,
    /// `Starting test suite …` was seen.
    pub suite_started: bool,
    /// The driver's count line (`Test suite passed. …` or `Test suite failed. …`).
    pub summary: Option<String>,
    /// The driver's last line, once seen.
    pub end: Option<SuiteEnd>,
}

impl SuiteLog {
    /// Reads one line of serial output that came `at` after the start; returns the index (in
    /// [`SuiteLog::tests`]) of the test this line gave its verdict, if any.
    pub fn line(&mut self, raw: &str, at: Duration) -> Option<usize> {
        let line = plain(raw);
        let text = line.trim();
        if is_kernel_line(text) {
            self.keep(&line);
            return None;
        }
        if let Some((number, name)) = starting_test(text) {
            let closed = self.close_current(at);
            self.tests.push(TestRun {
                number,
                name: name.to_string(),
                verdict: Verdict::Running,
                started: at,
                ended: None,
                lines: vec![text.to_string()],
                failed: false,
                first_report: None,
                said_passed: false,
            });
            return closed;
        }
        if text.starts_with("Starting test suite ") {
            self.suite_started = true;
            return None;
        }
        if text.starts_with("Test suite passed.") || text.starts_with("Test suite failed.") {
            self.summary = Some(text.to_string());
            return self.close_current(at);
        }
        let end = match text {
            "All is well in the universe" => Some(SuiteEnd::AllWell),
            "*** FAILURES DETECTED ***" => Some(SuiteEnd::FailuresDetected),
            "*** ALL tests not run ***" => Some(SuiteEnd::NotAllRun),
            _ => None,
        };
        if let Some(end) = end {
            self.end = Some(end);
            return self.close_current(at);
        }
        self.keep(&line);
        let test = self.running_mut()?;
        let own_verdict = text.strip_prefix("Test ").and_then(|rest| rest.strip_prefix(test.name.as_str()));
        match own_verdict {
            Some(" passed") => test.said_passed = true,
            Some(" failed") => {
                test.failed = true;
                test.first_report.get_or_insert_with(|| text.to_string());
            }
            _ => {
                let report = report_kind(text);
                if report != Report::None {
                    test.first_report.get_or_insert_with(|| text.to_string());
                }
                if report == Report::Failure {
                    test.failed = true;
                }
            }
        }
        None
    }

    /// The run ended (`why`: a hang, a time limit, QEMU's exit) `at` after the start: the test
    /// that was running fails with that reason. Returns its index, if one was running.
    pub fn stop(&mut self, why: &str, at: Duration) -> Option<usize> {
        let index = self.running_index()?;
        let test = &mut self.tests[index];
        let mut message = why.to_string();
        if let Some(report) = &test.first_report {
            message = format!("{report} (then {why})");
        } else if test.said_passed {
            message = format!("{why} (after `Test {} passed`)", test.name);
        }
        test.verdict = Verdict::Failed(message);
        test.ended = Some(at);
        Some(index)
    }

    /// Whether the driver printed its last line.
    pub fn finished(&self) -> bool {
        self.end.is_some()
    }

    /// The tests of the kernel: every test started but the two bookkeeping entries.
    pub fn kernel_tests(&self) -> impl Iterator<Item = &TestRun> {
        self.tests.iter().filter(|t| !t.is_bookkeeping())
    }

    fn running_index(&self) -> Option<usize> {
        let last = self.tests.len().checked_sub(1)?;
        (self.tests[last].verdict == Verdict::Running).then_some(last)
    }

    fn running_mut(&mut self) -> Option<&mut TestRun> {
        let index = self.running_index()?;
        Some(&mut self.tests[index])
    }

    /// Keeps a line with the running test.
    fn keep(&mut self, line: &str) {
        if let Some(test) = self.running_mut()
            && test.lines.len() < KEPT_LINES
        {
            test.lines.push(line.trim_end().to_string());
        }
    }

    /// Gives the running test its verdict; returns its index.
    fn close_current(&mut self, at: Duration) -> Option<usize> {
        let index = self.running_index()?;
        let test = &mut self.tests[index];
        test.verdict = if test.failed {
            Verdict::Failed(test.first_report.clone().unwrap_or_else(|| "failed".to_string()))
        } else {
            Verdict::Passed
        };
        test.ended = Some(at);
        Some(index)
    }
}

/// What a line of a test's output says about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Report {
    /// Nothing.
    None,
    /// That something failed: the test fails.
    Failure,
    /// A problem that a failure line follows when it matters (a failed condition, a failed
    /// assertion): its first message is worth showing.
    Problem,
}

/// The fault messages of seL4's user library (`sel4utils_print_fault_message`).
const FAULT_MESSAGES: [&str; 5] = [
    "Pagefault from [",
    "Cap fault from [",
    "Bad syscall from [",
    "Invalid instruction from [",
    "Unknown fault from [",
];

fn report_kind(text: &str) -> Report {
    if text.starts_with("Error: ")
        || text.starts_with("Failure: ")
        || text.starts_with("Halting on ")
        || FAULT_MESSAGES.iter().any(|m| text.contains(m))
    {
        Report::Failure
    } else if text.contains("[Cond failed: ") || text.contains("Assertion failed") {
        Report::Problem
    } else {
        Report::None
    }
}

/// `Starting test N: NAME` anywhere in the line: (N, NAME).
fn starting_test(text: &str) -> Option<(u32, &str)> {
    let (_, rest) = text.split_once("Starting test ")?;
    let (number, name) = rest.split_once(": ")?;
    let number = number.parse().ok()?;
    let name = name.trim();
    (!name.is_empty()).then_some((number, name))
}

/// A line the kernel printed rather than the driver: Gears' `kernel: …`, seL4's `<<seL4(…`.
pub fn is_kernel_line(text: &str) -> bool {
    text.starts_with("kernel: ") || text.starts_with("<<seL4(")
}

/// The line without its carriage returns and terminal escape sequences (seL4's debug kernel
/// colours its messages).
pub fn plain(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                // CSI: ESC [ parameters… final byte in @..~
                if chars.clone().next() == Some('[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// The names of the kernel's tests a whole log started (a reference log of seL4 passing), in
/// order.
pub fn test_names(log: &str) -> Vec<String> {
    let mut suite = SuiteLog::default();
    for line in log.lines() {
        suite.line(line, Duration::ZERO);
    }
    suite.kernel_tests().map(|t| t.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> SuiteLog {
        let mut log = SuiteLog::default();
        for (i, line) in text.lines().enumerate() {
            log.line(line, Duration::from_secs(i as u64));
        }
        log
    }

    fn verdicts(log: &SuiteLog) -> Vec<(&str, Verdict)> {
        log.tests.iter().map(|t| (t.name.as_str(), t.verdict.clone())).collect()
    }

    /// The start of seL4's x86_64 log: tests run inside the driver say nothing when they pass,
    /// one `Starting test` line comes after ten spaces, the kernel's own lines are coloured.
    const SEL4_X86_START: &str = "\
vka_alloc_object_at_maybe_dev@object.h:57 Failed to allocate object of size 8192, error 1\r
Starting test suite sel4test\r
Starting test 0: Test that there are tests\r
Starting test 1: SYSCALL0000\r
Starting test 2: SYSCALL0001\r
\x1b[0m\x1b[1m<<\x1b[0m\x1b[32mseL4(CPU 0)\x1b[0m\x1b[1m [decodeCNodeInvocation/54 T0xffffff80bffc9400 \"sel4test-driver\" @405765]: CNodeCap: Illegal Operation attempted.>>\x1b[0m\r
Starting test 7: SYSCALL0006\r
          Starting test 8: SYSCALL0010\r
Starting test 18: BIND0001\r
Running test BIND0001 (Test that a bound tcb waiting on a sync endpoint receives normal sync ipc and notification notifications.)\r
Test BIND0001 passed\r
Starting test 19: BIND0002\r
";

    #[test]
    fn tests_without_a_line_of_their_own_pass_when_the_next_one_starts() {
        let log = read(SEL4_X86_START);
        assert!(log.suite_started);
        assert_eq!(
            verdicts(&log),
            [
                ("Test that there are tests", Verdict::Passed),
                ("SYSCALL0000", Verdict::Passed),
                ("SYSCALL0001", Verdict::Passed),
                ("SYSCALL0006", Verdict::Passed),
                ("SYSCALL0010", Verdict::Passed),
                ("BIND0001", Verdict::Passed),
                ("BIND0002", Verdict::Running),
            ]
        );
        assert_eq!(log.tests[4].number, 8);
        // The kernel's message stays with the test it came in, without its colours.
        assert!(
            log.tests[2].lines[1].starts_with("<<seL4(CPU 0) [decodeCNodeInvocation/54"),
            "{:?}",
            log.tests[2]
        );
        assert_eq!(log.running_index(), Some(6));
        assert!(!log.finished());
        let names: Vec<&str> = log.kernel_tests().map(|t| t.name.as_str()).collect();
        assert_eq!(names[0], "SYSCALL0000");
        assert_eq!(names.len(), 6);
    }

    /// A failing test as Gears ran it: the test's own report, its `failed` line, and the
    /// driver's two lines.
    const FAILED_TEST: &str = "\
Starting test 42: FRAMEEXPORTS0001
Running test FRAMEEXPORTS0001 (Test that we can access all exported frames)
vka_alloc_object_at_maybe_dev@object.h:57 Failed to allocate object of size 1073741824, error 1
\tFailure: once at line 84 of file /sel4test/projects/sel4test/apps/sel4test-tests/src/tests/frames.c
Test FRAMEEXPORTS0001 failed
\tFailure: result == SUCCESS at line 296 of file /sel4test/projects/sel4test/apps/sel4test-driver/src/testtypes.c
\tError: result == SUCCESS at line 217 of file /sel4test/projects/sel4test/apps/sel4test-driver/src/main.c
Starting test 43: IPC0001
Running test IPC0001 (Test SMP seL4_Send + seL4_Recv)
Test IPC0001 passed
Starting test 44: IPC0002
";

    #[test]
    fn a_failed_test_keeps_its_first_failure_line() {
        let mut log = SuiteLog::default();
        let mut closed = Vec::new();
        for line in FAILED_TEST.lines() {
            closed.extend(log.line(line, Duration::ZERO));
        }
        assert_eq!(closed, [0, 1]);
        let first = "Failure: once at line 84 of file /sel4test/projects/sel4test/apps/sel4test-tests/src/tests/frames.c";
        assert_eq!(log.tests[0].verdict, Verdict::Failed(first.to_string()));
        assert_eq!(log.tests[1].verdict, Verdict::Passed);
        // The whole report is kept to show.
        assert_eq!(log.tests[0].lines.len(), 7);
        assert!(log.tests[0].lines[6].contains("Error: result == SUCCESS"));
    }

    #[test]
    fn a_test_that_said_it_passed_still_fails_on_the_drivers_failure_line() {
        let log = read(
            "Starting test 3: X\nTest X passed\n\tFailure: result == SUCCESS at line 296 of file t.c\nStarting test 4: Y\n",
        );
        assert_eq!(
            log.tests[0].verdict,
            Verdict::Failed("Failure: result == SUCCESS at line 296 of file t.c".into())
        );
    }

    /// A check failed in the test's other address space: the test says it passed, and the
    /// driver agrees.
    #[test]
    fn an_error_line_fails_a_test_that_says_it_passed() {
        let log = read(
            "Starting test 63: PAGEFAULT1001\n\
             Running test PAGEFAULT1001 (Test read page fault (inter-AS))\n\
             sel4utils_copy_path_to_process@process.c:131 Failed to copy cap\n\
             \n\
             kernel: thread 0x84aa2800 faulted: load page fault at ip 0x23e7c, address 0x3cba987650\n\
             \tError: sel4utils_is_read_fault() at line 523 of file /sel4test/projects/sel4test/apps/sel4test-tests/src/tests/faults.c\n\
             Test PAGEFAULT1001 passed\n\
             Starting test 64: PAGEFAULT1002\n",
        );
        let why = "Error: sel4utils_is_read_fault() at line 523 of file /sel4test/projects/sel4test/apps/sel4test-tests/src/tests/faults.c";
        assert_eq!(log.tests[0].verdict, Verdict::Failed(why.into()));
    }

    #[test]
    fn a_fault_report_fails_the_test_and_a_failed_condition_is_its_message() {
        let log = read(
            "Starting test 5: PAGEFAULT0001\n\
             Running test PAGEFAULT0001 (Test read page fault)\n\
             Pagefault from [PAGEFAULT0001]: read fault at PC: 0x23e7c vaddr: 0x3cba987650, FSR 0xd\n\
             Register of root thread in test (may not be the thread that faulted)\n\
             \tFailure: result == SUCCESS at line 296 of file testtypes.c\n\
             Starting test 6: ZF\n\
             sel4utils_spawn@process.c:10 [Cond failed: error]\n\
             \tFailed to start\n\
             Test ZF failed\n\
             Starting test 7: Z\n",
        );
        assert_eq!(
            verdicts(&log)[..2],
            [
                (
                    "PAGEFAULT0001",
                    Verdict::Failed(
                        "Pagefault from [PAGEFAULT0001]: read fault at PC: 0x23e7c vaddr: 0x3cba987650, FSR 0xd".into()
                    )
                ),
                ("ZF", Verdict::Failed("sel4utils_spawn@process.c:10 [Cond failed: error]".into())),
            ]
        );
    }

    #[test]
    fn kernel_lines_decide_nothing() {
        let log = read(
            "Starting test 38: FPU0004\n\
             Running test FPU0004 (Test disabling and re-enabling FPU)\n\
             kernel: thread 0x84aa2800 faulted: illegal instruction at ip 0x29942, address 0x0\n\
             kernel: Error: not a test line\n\
             Test FPU0004 passed\n\
             Starting test 39: FRAMEDIPC0001\n",
        );
        assert_eq!(log.tests[0].verdict, Verdict::Passed);
        assert_eq!(log.tests[0].lines.len(), 5);
    }

    #[test]
    fn the_end_of_the_suite_closes_the_last_test() {
        let log = read(
            "Starting test 114: VSPACE0006\n\
             Running test VSPACE0006 (Test touching all available ASID pools)\n\
             Test VSPACE0006 passed\n\
             Starting test 116: Test all tests ran\n\
             Test suite failed. 113/116 tests passed.\n\
             *** FAILURES DETECTED ***\n\n\n",
        );
        assert_eq!(log.end, Some(SuiteEnd::FailuresDetected));
        assert_eq!(log.summary.as_deref(), Some("Test suite failed. 113/116 tests passed."));
        assert!(log.finished());
        assert_eq!(log.running_index(), None);
        assert_eq!(verdicts(&log)[1], ("Test all tests ran", Verdict::Passed));
        assert_eq!(log.kernel_tests().count(), 1);
        let log = read(
            "Starting test 123: Test all tests ran\nTest suite passed. 123 tests passed. 59 tests disabled.\nAll is well in the universe\n",
        );
        assert_eq!(log.end, Some(SuiteEnd::AllWell));
        let log = read(
            "Halting on fatal assertion...\nStarting test 9: Test all tests ran\n*** ALL tests not run ***\n",
        );
        assert_eq!(log.end, Some(SuiteEnd::NotAllRun));
    }

    #[test]
    fn a_run_that_stops_fails_the_running_test_with_the_reason() {
        let mut log = read("Starting test 1: A\nStarting test 2: B\nRunning test B (b)\n");
        assert_eq!(log.stop("no output for 60 s", Duration::from_secs(70)), Some(1));
        assert_eq!(log.tests[1].verdict, Verdict::Failed("no output for 60 s".into()));
        assert_eq!(log.tests[1].duration(), Some(Duration::from_secs(69)));
        assert_eq!(log.stop("again", Duration::ZERO), None);
        let mut log = read("Starting test 1: A\nTest A passed\n");
        log.stop("QEMU exited", Duration::ZERO);
        assert_eq!(log.tests[0].verdict, Verdict::Failed("QEMU exited (after `Test A passed`)".into()));
        let mut log = read("Starting test 1: A\n\tError: x at line 1 of file f.c\n");
        log.stop("timed out", Duration::ZERO);
        assert_eq!(
            log.tests[0].verdict,
            Verdict::Failed("Error: x at line 1 of file f.c (then timed out)".into())
        );
    }

    #[test]
    fn another_tests_verdict_line_is_not_this_ones() {
        let log = read("Starting test 1: A\nTest AB failed\nTest A passed\nStarting test 2: B\n");
        assert_eq!(log.tests[0].verdict, Verdict::Passed);
    }

    #[test]
    fn plain_drops_colours_and_carriage_returns() {
        assert_eq!(plain("\x1b[0m\x1b[1m<<\x1b[0m\x1b[32mseL4(CPU 0)\x1b[0m>>\r"), "<<seL4(CPU 0)>>");
        assert_eq!(plain("no escapes"), "no escapes");
        assert_eq!(plain("\x1b"), "");
    }

    #[test]
    fn reference_names_leave_out_the_bookkeeping_entries() {
        let names = test_names(SEL4_X86_START);
        assert_eq!(
            names,
            ["SYSCALL0000", "SYSCALL0001", "SYSCALL0006", "SYSCALL0010", "BIND0001", "BIND0002"]
        );
    }
}
