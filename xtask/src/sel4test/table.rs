//! The table of a sel4test run: every test that ran and every test of seL4's reference log that
//! did not, with its result, and the closing count line.

use std::fmt::Write as _;
use std::time::Duration;

use super::log::{SuiteLog, Verdict};

/// A test's result in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// It passed.
    Passed,
    /// It failed, with its first failure line (or why the run ended during it).
    Failed(String),
    /// It was not reached: seL4 ran it, this run did not.
    NotRun,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The driver's number for it, if it started.
    pub number: Option<u32>,
    /// The test's name.
    pub name: String,
    /// Its result.
    pub status: Status,
    /// How long it ran, if it started and ended.
    pub duration: Option<Duration>,
    /// Whether seL4's reference log has it.
    pub in_reference: bool,
}

/// Passed, failed and not run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Tests that passed.
    pub passed: usize,
    /// Tests that failed.
    pub failed: usize,
    /// Tests of the reference log that did not run.
    pub not_run: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} passed, {} failed, {} not run", self.passed, self.failed, self.not_run)
    }
}

/// The rows of a run: the reference's tests in its order, each with what the run did with it,
/// and any test the run started that the reference lacks, after the test the run started
/// before it. A test still running counts as failed.
pub fn rows(log: &SuiteLog, reference: &[String]) -> Vec<Row> {
    let mut rows: Vec<Row> = reference
        .iter()
        .map(|name| Row {
            number: None,
            name: name.clone(),
            status: Status::NotRun,
            duration: None,
            in_reference: true,
        })
        .collect();
    // Where the last test of the run sits in `rows`: a test the reference lacks goes after it.
    let mut after: Option<usize> = None;
    for test in log.kernel_tests() {
        let status = match &test.verdict {
            Verdict::Passed => Status::Passed,
            Verdict::Failed(why) => Status::Failed(why.clone()),
            Verdict::Running => Status::Failed("did not finish".to_string()),
        };
        let found = rows.iter().position(|r| r.name == test.name && r.number.is_none());
        let index = match found {
            Some(i) => i,
            None => {
                let i = after.map_or(0, |a| a + 1);
                rows.insert(
                    i,
                    Row {
                        number: None,
                        name: test.name.clone(),
                        status: Status::NotRun,
                        duration: None,
                        in_reference: false,
                    },
                );
                i
            }
        };
        let row = &mut rows[index];
        row.number = Some(test.number);
        row.status = status;
        row.duration = test.duration();
        after = Some(index);
    }
    rows
}

/// The counts of `rows`.
pub fn counts(rows: &[Row]) -> Counts {
    let mut c = Counts::default();
    for row in rows {
        match row.status {
            Status::Passed => c.passed += 1,
            Status::Failed(_) => c.failed += 1,
            Status::NotRun => c.not_run += 1,
        }
    }
    c
}

/// The table as text: one line per test (number, name, result, seconds, the failure line).
pub fn render(rows: &[Row]) -> String {
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let mut out = String::new();
    let _ = writeln!(out, "{:>4}  {:<width$}  {:<7}  {:>6}", "#", "test", "result", "secs");
    for row in rows {
        let number = row.number.map(|n| n.to_string()).unwrap_or_else(|| "-".to_string());
        let secs = row.duration.map(|d| format!("{:.1}", d.as_secs_f64())).unwrap_or_default();
        let (result, why) = match &row.status {
            Status::Passed => ("passed", ""),
            Status::Failed(why) => ("FAILED", why.as_str()),
            Status::NotRun => ("not run", ""),
        };
        let note = if row.in_reference { "" } else { "  (not in seL4's log)" };
        let line = format!("{number:>4}  {:<width$}  {result:<7}  {secs:>6}  {why}{note}", row.name);
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(text: &str) -> SuiteLog {
        let mut log = SuiteLog::default();
        for (i, line) in text.lines().enumerate() {
            log.line(line, Duration::from_secs(i as u64));
        }
        log
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tests_not_reached_are_not_run_and_the_running_one_failed() {
        let mut run = log("Starting test 0: Test that there are tests\n\
             Starting test 1: A\n\
             Starting test 2: B\n\
             \tError: b at line 3 of file b.c\n\
             Starting test 3: C\n");
        run.stop("no output for 60 s", Duration::from_secs(70));
        let rows = rows(&run, &names(&["A", "B", "C", "D", "E"]));
        let statuses: Vec<(&str, &Status)> = rows.iter().map(|r| (r.name.as_str(), &r.status)).collect();
        assert_eq!(
            statuses,
            [
                ("A", &Status::Passed),
                ("B", &Status::Failed("Error: b at line 3 of file b.c".into())),
                ("C", &Status::Failed("no output for 60 s".into())),
                ("D", &Status::NotRun),
                ("E", &Status::NotRun),
            ]
        );
        assert_eq!(counts(&rows), Counts { passed: 1, failed: 2, not_run: 2 });
        assert_eq!(counts(&rows).to_string(), "1 passed, 2 failed, 2 not run");
        assert_eq!(rows[0].duration, Some(Duration::from_secs(1)));
        assert_eq!(rows[2].number, Some(3));
    }

    #[test]
    fn tests_the_reference_lacks_go_after_the_test_before_them() {
        let run = log("Starting test 1: A\nStarting test 2: X\nStarting test 3: B\nStarting test 4: Y\n");
        let rows = rows(&run, &names(&["A", "B", "C"]));
        let order: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(order, ["A", "X", "B", "Y", "C"]);
        assert!(!rows[1].in_reference && rows[0].in_reference);
        assert_eq!(rows[3].status, Status::Failed("did not finish".into()));
        let rows = super::rows(&log("Starting test 1: X\nStarting test 2: A\n"), &names(&["A"]));
        let order: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(order, ["X", "A"]);
    }

    #[test]
    fn the_table_has_a_line_per_test() {
        let mut run =
            log("Starting test 1: A\nStarting test 2: LONGER_NAME\n\tFailure: f at line 1 of file f.c\n");
        run.stop("QEMU exited", Duration::from_secs(4));
        let text = render(&rows(&run, &names(&["A", "LONGER_NAME", "C"])));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "   #  test         result     secs");
        assert_eq!(lines[1], "   1  A            passed      1.0");
        assert_eq!(
            lines[2],
            "   2  LONGER_NAME  FAILED      3.0  Failure: f at line 1 of file f.c (then QEMU exited)"
        );
        assert_eq!(lines[3], "   -  C            not run");
    }
}
