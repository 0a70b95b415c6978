//! Reports: what the kernel tells the host, as typed records instead of console text to match.
//!
//! A [`Report`] travels as one frame on the serial line, between console text and trace frames;
//! [`send_report`] writes it (no_std, no allocation) and [`Decoder`](super::Decoder) reads it back
//! as [`Decoded::Report`](super::Decoded::Report). A report's text fields (test names, reasons,
//! panic messages) carry at most [`MAX_TEXT`](super::MAX_TEXT) bytes each: a longer text is cut
//! on a character boundary and ends with `…`, so every report fits in one frame.
//!
//! A report's `Display` is the console line a human reads for it.

use alloc::borrow::Cow;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use super::{MAX_FRAME, Record, TextBuf, encode};

/// How the kernel leaves QEMU.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum ExitCode {
    /// Everything ran as expected.
    Success,
    /// A test failed, or the kernel panicked or took an exception.
    Failure,
}

/// One interrupt-latency figure of the bench kernel: the largest latencies seen during one
/// revoke, with or without preemption points.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct IrqLatency {
    /// Caps revoked.
    pub caps: u64,
    /// Whether the revoke's preemption points were on.
    pub preemption: bool,
    /// The largest time from a timer interrupt being raised to the user-level driver it wakes
    /// running, in guest instructions.
    pub max_latency_insns: u64,
    /// The largest time from the interrupt being raised to the kernel's handler taking it, in
    /// guest instructions.
    pub kernel_latency_insns: u64,
    /// How many times the revoke was preempted.
    pub preemptions: u64,
    /// How many times the driver ran.
    pub driver_runs: u64,
}

/// What the kernel tells the host. Variants are only ever added at the end, so that a decoder
/// reads the reports of an older kernel.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Report<'a> {
    /// The kernel's console is up: its first report.
    KernelStarted {
        /// The kernel crate's version.
        #[serde(with = "text")]
        version: Cow<'a, str>,
        /// The architecture it runs on (`x86_64`, `riscv64`).
        #[serde(with = "text")]
        arch: Cow<'a, str>,
    },
    /// The in-kernel test suite starts.
    SuiteStarted {
        /// How many tests it will run.
        tests: u32,
    },
    /// A test of the suite starts.
    TestStarted {
        /// The test's name.
        #[serde(with = "text")]
        name: Cow<'a, str>,
    },
    /// A test passed.
    TestPassed {
        /// The test's name.
        #[serde(with = "text")]
        name: Cow<'a, str>,
    },
    /// A test failed.
    TestFailed {
        /// The test's name.
        #[serde(with = "text")]
        name: Cow<'a, str>,
        /// Why it failed.
        #[serde(with = "text")]
        why: Cow<'a, str>,
    },
    /// The suite ran every test.
    SuiteFinished {
        /// Tests that passed.
        passed: u32,
        /// Tests that failed.
        failed: u32,
    },
    /// The frames of a traced scenario follow.
    TraceBegin,
    /// The traced scenario's frames have all been sent.
    TraceEnd {
        /// Trace frames the kernel wrote.
        frames: u64,
        /// Bytes those frames took.
        bytes: u64,
    },
    /// A figure of the interrupt-latency bench.
    IrqLatency(IrqLatency),
    /// The bench could not be run.
    BenchFailed {
        /// Why.
        #[serde(with = "text")]
        why: Cow<'a, str>,
    },
    /// The kernel enters the Rust root task for the first time.
    RootTaskStarted,
    /// The kernel panicked; it leaves QEMU with [`ExitCode::Failure`] next.
    Panic {
        /// The panic message.
        #[serde(with = "text")]
        message: Cow<'a, str>,
    },
    /// The kernel leaves QEMU: its last report.
    Exit {
        /// How.
        code: ExitCode,
    },
}

/// How a report's text fields travel: as a string of at most [`MAX_TEXT`](super::MAX_TEXT) bytes.
mod text {
    use alloc::borrow::{Cow, ToOwned as _};
    use core::fmt::Write as _;

    use serde::{Deserialize as _, Deserializer, Serializer};

    use super::super::TextBuf;

    /// Writes `text` cut to [`MAX_TEXT`](super::super::MAX_TEXT) bytes (with `…` where it was cut).
    pub fn serialize<S: Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
        let mut t = TextBuf::empty();
        let _ = t.write_str(text);
        serializer.serialize_str(t.as_str())
    }

    /// Reads a text as an owned string (frames are decoded from a buffer that does not outlive
    /// the decoding).
    pub fn deserialize<'de, 'a, D: Deserializer<'de>>(deserializer: D) -> Result<Cow<'a, str>, D::Error> {
        let text = <&'de str>::deserialize(deserializer)?;
        Ok(Cow::Owned(text.to_owned()))
    }
}

fn owned(text: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(text.into_owned())
}

impl Report<'_> {
    /// The same report, owning its texts.
    pub fn into_owned(self) -> Report<'static> {
        match self {
            Report::KernelStarted { version, arch } => {
                Report::KernelStarted { version: owned(version), arch: owned(arch) }
            }
            Report::SuiteStarted { tests } => Report::SuiteStarted { tests },
            Report::TestStarted { name } => Report::TestStarted { name: owned(name) },
            Report::TestPassed { name } => Report::TestPassed { name: owned(name) },
            Report::TestFailed { name, why } => Report::TestFailed { name: owned(name), why: owned(why) },
            Report::SuiteFinished { passed, failed } => Report::SuiteFinished { passed, failed },
            Report::TraceBegin => Report::TraceBegin,
            Report::TraceEnd { frames, bytes } => Report::TraceEnd { frames, bytes },
            Report::IrqLatency(figure) => Report::IrqLatency(figure),
            Report::BenchFailed { why } => Report::BenchFailed { why: owned(why) },
            Report::RootTaskStarted => Report::RootTaskStarted,
            Report::Panic { message } => Report::Panic { message: owned(message) },
            Report::Exit { code } => Report::Exit { code },
        }
    }
}

impl Report<'static> {
    /// One report of each kind, with made-up values, in the order the kinds are declared (and
    /// both exit codes): for tests of what reads reports, a decoder or a console-line parser, to
    /// cover every kind.
    pub fn examples() -> Vec<Report<'static>> {
        vec![
            Report::KernelStarted { version: "0.1.0".into(), arch: "riscv64".into() },
            Report::SuiteStarted { tests: 23 },
            Report::TestStarted { name: "root_task_retype".into() },
            Report::TestPassed { name: "root_task_retype".into() },
            Report::TestFailed { name: "timer_ticks".into(), why: "no ticks in 100 ms".into() },
            Report::SuiteFinished { passed: 22, failed: 1 },
            Report::TraceBegin,
            Report::TraceEnd { frames: 35, bytes: 412 },
            Report::IrqLatency(IrqLatency {
                caps: 65536,
                preemption: true,
                max_latency_insns: 207_800,
                kernel_latency_insns: 1000,
                preemptions: 3,
                driver_runs: 5,
            }),
            Report::BenchFailed { why: "the root task's bench failed".into() },
            Report::RootTaskStarted,
            Report::Panic { message: "panicked at kernel/src/main.rs:9:5: oops".into() },
            Report::Exit { code: ExitCode::Success },
            Report::Exit { code: ExitCode::Failure },
        ]
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::KernelStarted { version, arch } => {
                write!(f, "Gears kernel {version} on {arch}: serial console up")
            }
            Report::SuiteStarted { tests } => write!(f, "qemu-test: running {tests} tests"),
            Report::TestStarted { name } => write!(f, "test {name} ..."),
            Report::TestPassed { name } => write!(f, "test {name} ... ok"),
            Report::TestFailed { name, why } => write!(f, "test {name} ... FAILED: {why}"),
            Report::SuiteFinished { passed, failed } => {
                write!(f, "qemu-test: {passed} passed, {failed} failed")
            }
            Report::TraceBegin => f.write_str("trace: begin"),
            Report::TraceEnd { frames, bytes } => write!(f, "trace: end: {frames} frames, {bytes} bytes"),
            Report::IrqLatency(l) => write!(
                f,
                "bench: irq-latency caps={} preemption={} max_latency_insns={} kernel_latency_insns={} \
                 preemptions={} driver_runs={}",
                l.caps,
                if l.preemption { "on" } else { "off" },
                l.max_latency_insns,
                l.kernel_latency_insns,
                l.preemptions,
                l.driver_runs
            ),
            Report::BenchFailed { why } => write!(f, "bench: FAILED: {why}"),
            Report::RootTaskStarted => f.write_str("root task: started"),
            Report::Panic { message } => write!(f, "KERNEL PANIC: {message}"),
            Report::Exit { code } => write!(f, "gears: exit {code:?}"),
        }
    }
}

/// Encodes `report` as one frame into `out`; returns the frame's length.
pub fn encode_report(report: Report<'_>, out: &mut [u8; MAX_FRAME]) -> usize {
    encode(&Record::Report(report), out)
}

/// Writes `report` to `sink` as one frame, in one call: a sink that holds the console lock for
/// the call keeps other output from landing inside the frame.
pub fn send_report(report: Report<'_>, mut sink: impl FnMut(&[u8])) {
    let mut frame = [0u8; MAX_FRAME];
    let n = encode_report(report, &mut frame);
    if n > 0 {
        sink(&frame[..n]);
    }
}

/// A text of at most [`MAX_TEXT`](super::MAX_TEXT) bytes, formatted without allocating (cut with
/// `…`): for reports made where the heap may not be usable, such as a panic handler's.
pub struct ShortText(TextBuf);

impl ShortText {
    /// `value` as `Display` formats it, cut to [`MAX_TEXT`](super::MAX_TEXT) bytes.
    pub fn of(value: &dyn fmt::Display) -> ShortText {
        let mut t = TextBuf::empty();
        let _ = write!(t, "{value}");
        ShortText(t)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}
