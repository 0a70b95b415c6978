//! Building kernel images and running them under QEMU.
//!
//! The kernel is built in its own cargo invocation (`cargo build -p kernel --target …`, never
//! together with host crates), its debug info is stripped into a copy (a big ELF makes the BIOS
//! load slow), and the separate crate `xtask/image-builder` (the only place that runs with
//! `RUSTC_BOOTSTRAP=1`, which the `bootloader` crate's build script needs) wraps it into a BIOS
//! or UEFI disk image. QEMU runs with the serial port on stdio and the `isa-debug-exit` device:
//! the kernel writes 0x10 (pass) or 0x11 (fail), QEMU exits with `(v << 1) | 1` = 33 or 35. A
//! reboot (with `-no-reboot`, QEMU exits 0), a triple fault or a timeout is a failure.
//!
//! riscv64 boots the ELF directly (`-kernel`, OpenSBI as `-bios default`) on the `virt`
//! machine and leaves through the SiFive test device: QEMU exits 0 (pass) or 1 (fail). Since
//! exit 0 is also what a guest shutdown gives, a pass also needs the kernel's last line,
//! [`EXIT_MARKER`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use metagears::wire::{Decoded, Decoder};

use crate::{Arch, RunOptions, setup, util};

/// QEMU's exit status when the kernel reports success through `isa-debug-exit` (0x10).
pub const EXIT_SUCCESS: i32 = (0x10 << 1) | 1;
/// QEMU's exit status when the kernel reports failure (0x11): a failed test, panic or exception.
pub const EXIT_FAILURE: i32 = (0x11 << 1) | 1;

/// riscv64: QEMU's exit status when the kernel reports failure through the SiFive test device.
pub const RISCV_EXIT_FAILURE: i32 = 1;

/// The kernel's last line before it reports success (`kernel/src/main.rs`, `exit`).
pub const EXIT_MARKER: &str = "gears: exit Success";

/// The start of the kernel's first console line: boot time is measured up to it (firmware
/// output before it, e.g. OVMF's, does not count).
pub const KERNEL_BANNER: &str = "Gears kernel ";

/// The console line before a traced test scenario's frames (`kernel/src/scenarios.rs`).
pub const TRACE_BEGIN: &str = "trace: begin";
/// The console line after them.
pub const TRACE_END: &str = "trace: end";
/// Gears a traced CNode Copy must pass through (the seL4 call path as gears).
pub const TRACED_GEARS: &[&str] =
    &["handle_syscall", "handle_invocation", "resolve_address_bits", "decode_invocation", "invocation_done"];

/// Where the bootloader loads the kernel (`kernel/src/arch/x86_64/boot.rs`, `KERNEL_BASE`).
const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// How long a normal run may take before QEMU is killed.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the test kernel may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(240);

/// Where OVMF may live (Debian's `ovmf` package, old and new layouts).
const OVMF_PATHS: &[&str] =
    &["/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF.fd", "/usr/share/qemu/OVMF.fd"];

/// Which kernel build to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Build {
    arch: Arch,
    release: bool,
    /// The `qemu-test` feature: boot into the in-kernel test suite.
    test: bool,
    /// The `trace` feature: stream the gear trace over the serial line.
    trace: bool,
    /// The `latency-bench` feature: boot into the interrupt-latency bench.
    bench: bool,
}

impl Build {
    fn profile(self) -> &'static str {
        if self.release { "release" } else { "debug" }
    }

    /// A name for the files of this build: `x86_64-debug`, `x86_64-release-test`, …
    fn stem(self) -> String {
        format!(
            "{}-{}{}{}{}",
            self.arch.name(),
            self.profile(),
            if self.test { "-test" } else { "" },
            if self.trace { "-trace" } else { "" },
            if self.bench { "-bench" } else { "" }
        )
    }

    /// Test builds get their own target directory so they do not evict the normal build.
    fn target_dir(self) -> PathBuf {
        let base = util::target_dir();
        match (self.test, self.trace, self.bench) {
            (true, _, _) => base.join("qemu-test"),
            (false, true, _) => base.join("qemu-trace"),
            (false, false, true) => base.join("qemu-bench"),
            (false, false, false) => base,
        }
    }
}

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
}

impl Outcome {
    /// Reads QEMU's exit status for `arch`; `marker` says whether the kernel printed
    /// [`EXIT_MARKER`].
    pub fn from_status(arch: Arch, code: Option<i32>, marker: bool) -> Outcome {
        match (arch, code) {
            (Arch::X86_64, Some(EXIT_SUCCESS)) => Outcome::Passed,
            (Arch::X86_64, Some(EXIT_FAILURE)) => Outcome::KernelFailed,
            (Arch::Riscv64, Some(0)) if marker => Outcome::Passed,
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
        }
    }
}

/// Builds the kernel for `opts.arch` and boots it under QEMU; fails unless the kernel exits
/// through the exit device with success.
pub fn run(opts: &RunOptions) -> anyhow::Result<()> {
    let build =
        Build { arch: opts.arch, release: opts.release, test: false, trace: opts.trace, bench: false };
    let image = build_image(build, opts.uefi)?;
    let mut cmd = qemu_command(opts.arch, &image, opts.uefi)?;
    if opts.gdb {
        cmd.args(["-s", "-S"]);
        let elf = kernel_elf(build);
        eprintln!("xtask: QEMU waits for a debugger on localhost:1234. In another terminal:");
        if opts.arch == Arch::Riscv64 {
            eprintln!(
                "xtask:   gdb-multiarch {} -ex 'target remote :1234' \\\n\
                 xtask:       -ex 'break kernel::kernel_main_impl::kernel_main' -ex continue",
                elf.display()
            );
        } else {
            eprintln!(
                "xtask:   gdb -ex 'symbol-file {} -o {KERNEL_BASE:#x}' -ex 'target remote :1234' \\\n\
             xtask:       -ex 'break kernel::kernel_main_impl::kernel_main' -ex continue",
                elf.display()
            );
            eprintln!(
                "xtask: (the kernel is position-independent and loaded at {KERNEL_BASE:#x}, hence `-o`)"
            );
        }
    }
    let timeout = if opts.gdb { None } else { Some(RUN_TIMEOUT) };
    let run = run_qemu(opts.arch, &mut cmd, timeout, |_| {}, |_| {})?;
    report_timing(&run);
    if opts.trace {
        eprintln!(
            "xtask: trace: {} events decoded from {} bytes of serial output, {} damaged frames",
            run.events, run.bytes, run.damaged
        );
    }
    match run.outcome {
        Outcome::Passed => Ok(()),
        other => bail!("{} ({})", other.describe(), util::show(&cmd)),
    }
}

/// Boots the traced kernel of `arch` (release, the demo) and returns the gear trace it streamed.
pub fn streamed_trace(arch: Arch) -> anyhow::Result<metagears::Trace> {
    let build = Build { arch, release: true, test: false, trace: true, bench: false };
    let image = build_image(build, false)?;
    let mut cmd = qemu_command(arch, &image, false)?;
    let mut trace = metagears::Trace::default();
    let run = run_qemu(arch, &mut cmd, Some(RUN_TIMEOUT), |_| {}, |e| trace.events.push(e.clone()))?;
    match run.outcome {
        Outcome::Passed if run.damaged == 0 => Ok(trace),
        Outcome::Passed => bail!("{} damaged trace frames in the serial output", run.damaged),
        other => bail!("the traced kernel {} ({})", other.describe(), util::show(&cmd)),
    }
}

/// Boots the test kernel of every architecture and counts its tests; fails if any suite fails.
pub fn test_suites() -> anyhow::Result<()> {
    let mut failures = Vec::new();
    let (mut passed, mut failed) = (0, 0);
    let mut traces = Vec::new();
    for arch in [Arch::X86_64, Arch::Riscv64] {
        match test_suite(arch) {
            Ok((p, f, error, trace)) => {
                println!("QEMU suite {arch}: {p} passed, {f} failed");
                traces.push((arch.name(), trace));
                passed += p;
                failed += f;
                if let Some(why) = error {
                    failures.push(format!("{arch}: {why}"));
                }
            }
            Err(err) => {
                println!("QEMU suite {arch}: could not run: {err:#}");
                failed += 1;
                failures.push(format!("{arch}: {err:#}"));
            }
        }
    }
    // Issue 6: the traced scenario's trace is the same on both architectures and on the host.
    traces.push(("host model", crate::model::traced_syscall_trace()));
    match same_traces(&traces) {
        Ok(()) => {
            println!("test wire_trace_same_on_x86_64_riscv64_and_host_model ... ok");
            passed += 1;
        }
        Err(why) => {
            println!("test wire_trace_same_on_x86_64_riscv64_and_host_model ... FAILED: {why}");
            failed += 1;
            failures.push(why);
        }
    }
    println!("QEMU suites: {passed} passed, {failed} failed");
    if !failures.is_empty() {
        bail!("QEMU suites failed: {}", failures.join("; "));
    }
    Ok(())
}

/// Whether every (name, trace) has the same lines as the first.
fn same_traces(traces: &[(&str, Vec<String>)]) -> Result<(), String> {
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

/// Builds and boots one architecture's test kernel: (passed, failed, why it failed, the traced
/// scenario's events as text).
fn test_suite(arch: Arch) -> anyhow::Result<(usize, usize, Option<String>, Vec<String>)> {
    let build = Build { arch, release: false, test: true, trace: false, bench: false };
    let image = build_image(build, false)?;
    let mut cmd = qemu_command(arch, &image, false)?;
    let results = std::cell::RefCell::new(TestCounts::default());
    let traced = std::cell::RefCell::new(TracedScenario::default());
    let run = run_qemu(
        arch,
        &mut cmd,
        Some(TEST_TIMEOUT),
        |line| {
            results.borrow_mut().record(line);
            traced.borrow_mut().line(line);
        },
        |event| traced.borrow_mut().event(event),
    )?;
    report_timing(&run);
    let mut results = results.into_inner();
    // The host side of the traced scenario: its frames decoded, undamaged, with the gear names.
    let traced = traced.into_inner();
    match traced.check(run.damaged) {
        Ok(()) => {
            println!("test wire_trace_decoded_on_the_host ... ok ({} events)", traced.events.len());
            results.passed += 1;
        }
        Err(why) => {
            println!("test wire_trace_decoded_on_the_host ... FAILED: {why}");
            results.failed += 1;
        }
    }
    let verdict = results.verdict(run.outcome);
    Ok((results.passed, verdict.failed, verdict.error, traced.lines))
}

/// The bench group that boots the kernel: timer-interrupt latency during large revokes.
pub const IRQ_LATENCY_GROUP: &str = "irq-latency";
/// Its title for `--list`.
pub const IRQ_LATENCY_TITLE: &str = "largest guest instructions from a timer interrupt raised to handled during \
     revokes of 2^12 and 2^16 caps, with and without preemption points (QEMU -icount shift=0, both arches)";
/// How long the bench kernel may take.
const BENCH_TIMEOUT: Duration = Duration::from_secs(300);

/// One line of the bench kernel: `bench: irq-latency caps=N preemption=on|off max_latency_insns=L …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyFigure {
    /// Caps revoked.
    pub caps: u64,
    /// Whether the preemption points were on.
    pub preemption: bool,
    /// The largest latency to the user-level driver, in guest instructions.
    pub max_insns: u64,
    /// The largest latency to the kernel's interrupt handler, in guest instructions.
    pub kernel_insns: u64,
    /// How many times the revokes were preempted.
    pub preemptions: u64,
    /// How many times the driver ran.
    pub driver_runs: u64,
}

impl LatencyFigure {
    /// Parses a bench line; `None` for any other line.
    pub fn parse(line: &str) -> Option<LatencyFigure> {
        let rest = line.trim().strip_prefix("bench: irq-latency ")?;
        let field = |key: &str| {
            rest.split_whitespace().find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        };
        Some(LatencyFigure {
            caps: field("caps")?.parse().ok()?,
            preemption: field("preemption")? == "on",
            max_insns: field("max_latency_insns")?.parse().ok()?,
            kernel_insns: field("kernel_latency_insns")?.parse().ok()?,
            preemptions: field("preemptions")?.parse().ok()?,
            driver_runs: field("driver_runs")?.parse().ok()?,
        })
    }

    /// Folds the rounds of one (caps, preemption) measurement: the largest latencies, the sums.
    pub fn merge(figures: &[LatencyFigure]) -> Vec<LatencyFigure> {
        let mut out: Vec<LatencyFigure> = Vec::new();
        for f in figures {
            match out.iter_mut().find(|o| o.caps == f.caps && o.preemption == f.preemption) {
                Some(o) => {
                    o.max_insns = o.max_insns.max(f.max_insns);
                    o.kernel_insns = o.kernel_insns.max(f.kernel_insns);
                    o.preemptions += f.preemptions;
                    o.driver_runs += f.driver_runs;
                }
                None => out.push(f.clone()),
            }
        }
        out
    }
}

/// The Rust root task's first console line (written from user mode through
/// `seL4_DebugPutChar`): the boot-time figure "reaches the root task" is taken there.
const ROOT_TASK_PREFIX: &str = "root task: Rust in user mode";

/// Boots the release kernel with the `latency-bench` feature under `-icount shift=0` (one guest
/// instruction per virtual nanosecond) on both architectures; returns the table.
pub fn irq_latency_bench() -> anyhow::Result<String> {
    let mut t = String::from(
        "\ntimer-interrupt latency: the largest number of guest instructions from the timer interrupt \
         being raised to the user-level timer driver it wakes running (and to the kernel's handler \
         taking it), during Revokes (QEMU -icount shift=0,sleep=off; 2^12 caps: 8 revokes started at \
         different timer phases; one run: the figures vary by some tens of percent from run to run)\n\n\
         | arch | caps revoked | preemption points | max latency to the driver (instructions) | to the kernel handler | preemptions | driver runs |\n\
         |---|--:|---|--:|--:|--:|--:|\n",
    );
    for arch in [Arch::X86_64, Arch::Riscv64] {
        let build = Build { arch, release: true, test: false, trace: false, bench: true };
        let image = build_image(build, false)?;
        let mut cmd = qemu_command(arch, &image, false)?;
        cmd.args(["-icount", "shift=0,sleep=off"]);
        let mut figures = Vec::new();
        let run = run_qemu(
            arch,
            &mut cmd,
            Some(BENCH_TIMEOUT),
            |line| figures.extend(LatencyFigure::parse(line)),
            |_| {},
        )?;
        if run.outcome != Outcome::Passed {
            bail!("the {arch} latency bench failed: {}", run.outcome.describe());
        }
        if figures.is_empty() {
            bail!("the {arch} latency bench printed no figures");
        }
        for f in LatencyFigure::merge(&figures) {
            t.push_str(&format!(
                "| {arch} | {} | {} | {} | {} | {} | {} |\n",
                f.caps,
                if f.preemption { "on" } else { "off" },
                f.max_insns,
                f.kernel_insns,
                f.preemptions,
                f.driver_runs
            ));
        }
    }
    t.push_str(
        "\nThe driver is a thread of the Rust root task at priority 254 (the root task runs at 100): it \
         acknowledges the timer IRQ and waits on the notification the kernel signals at each tick. \
         riscv64 reads the `time` CSR (100 ns resolution: multiples of 100 instructions); x86_64 the \
         TSC and the PIT's count.\n",
    );
    Ok(t)
}

/// The decoded trace of the test kernel's traced scenario (between [`TRACE_BEGIN`] and
/// [`TRACE_END`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TracedScenario {
    inside: bool,
    seen_end: bool,
    /// The events' gear names, in order.
    pub events: Vec<String>,
    /// The events as the host tracer's text lines.
    pub lines: Vec<String>,
}

impl TracedScenario {
    /// Notes a console line.
    pub fn line(&mut self, line: &str) {
        let line = line.trim();
        if line == TRACE_BEGIN {
            self.inside = true;
        } else if line.starts_with(TRACE_END) {
            self.inside = false;
            self.seen_end = true;
        }
    }

    /// Notes a decoded trace event.
    pub fn event(&mut self, event: &metagears::TraceEvent) {
        if self.inside {
            self.events.push(event.gear.to_string());
            self.lines.push(event.to_string());
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
            TRACED_GEARS.iter().copied().filter(|g| !self.events.iter().any(|e| e == g)).collect();
        if missing.is_empty() { Ok(()) } else { Err(format!("the trace lacks the gears {missing:?}")) }
    }
}

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

/// Builds the kernel and wraps it into a disk image; returns the image's path (for riscv64,
/// which boots the ELF directly, the stripped ELF's).
fn build_image(build: Build, uefi: bool) -> anyhow::Result<PathBuf> {
    let elf = build_kernel(build)?;
    let out_dir = util::target_dir().join("gears-images");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("could not create {}", out_dir.display()))?;
    let stripped = out_dir.join(format!("kernel-{}.elf", build.stem()));
    strip_debuginfo(&elf, &stripped)?;
    if build.arch == Arch::Riscv64 {
        return Ok(stripped);
    }
    let image = out_dir.join(format!("{}-{}.img", build.stem(), if uefi { "uefi" } else { "bios" }));
    let builder = image_builder()?;
    let mut cmd = Command::new(builder);
    cmd.arg(&stripped).arg(&image);
    if uefi {
        cmd.arg("--uefi");
    }
    util::status(&mut cmd)?;
    Ok(image)
}

/// The unstripped kernel ELF of `build` (for gdb).
fn kernel_elf(build: Build) -> PathBuf {
    build.target_dir().join(build.arch.target()).join(build.profile()).join("kernel")
}

/// Builds the Rust root task (`kernel/roottask`, its own workspace, linked at the user base) for
/// `arch`, with the child program it embeds; returns the root task's ELF, which the kernel's
/// build script embeds.
fn build_root_task(arch: Arch) -> anyhow::Result<PathBuf> {
    let dir = util::root().join("kernel/roottask");
    let target_dir = util::target_dir().join("roottask");
    // The child program first: the root task embeds it (GEARS_CHILD_ELF) and loads it into an
    // address space of its own.
    let mut built = Vec::new();
    for bin in ["child", "roottask"] {
        let mut cmd = Command::new(util::cargo_bin());
        cmd.current_dir(&dir)
            .args(["build", "--quiet", "--release", "--bin", bin, "--target", arch.target(), "--target-dir"])
            .arg(&target_dir);
        // Its own `.cargo/config.toml` applies (code model on x86_64); nothing of the outer cargo may.
        clear_cargo_env(&mut cmd);
        if let Some(child) = built.first() {
            cmd.env("GEARS_CHILD_ELF", child);
        }
        util::status(&mut cmd)?;
        let elf = target_dir.join(arch.target()).join("release").join(bin);
        if !elf.is_file() {
            bail!("cargo built the {bin} program but {} is missing", elf.display());
        }
        built.push(elf);
    }
    Ok(built.pop().expect("two programs built"))
}

/// Removes the outer cargo invocation's variables (xtask runs under `cargo run`).
fn clear_cargo_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" || key == "RUSTFLAGS" {
            cmd.env_remove(key);
        }
    }
}

fn build_kernel(build: Build) -> anyhow::Result<PathBuf> {
    let root_task = build_root_task(build.arch)?;
    let target_dir = build.target_dir();
    let mut cmd = Command::new(util::cargo_bin());
    cmd.env("GEARS_ROOTTASK_ELF", &root_task);
    cmd.current_dir(util::root())
        .args(["build", "--quiet", "-p", "kernel", "--target", build.arch.target(), "--target-dir"])
        .arg(&target_dir);
    if build.release {
        cmd.arg("--release");
    }
    if build.test {
        cmd.args(["--features", "qemu-test"]);
    }
    if build.trace {
        cmd.args(["--features", "trace"]);
    }
    if build.bench {
        cmd.args(["--features", "latency-bench"]);
    }
    // The capability kernel's gears run optimised even in a debug kernel (the kernel crate itself
    // stays unoptimised for gdb): a revoke of 65,536 caps takes seconds instead of minutes.
    for krate in ["gears", "metagears", "codegears"] {
        cmd.args(["--config", &format!("profile.dev.package.{krate}.opt-level=2")]);
    }
    util::status(&mut cmd)?;
    let elf = kernel_elf(build);
    if !elf.is_file() {
        bail!("cargo built the kernel but {} is missing", elf.display());
    }
    Ok(elf)
}

/// Copies `elf` to `out` without debug info, with `llvm-objcopy` from the `llvm-tools` component.
fn strip_debuginfo(elf: &Path, out: &Path) -> anyhow::Result<()> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = util::output(Command::new(rustc).args(["--print", "sysroot"]))?;
    let host = util::output(Command::new("rustc").args(["--print", "host-tuple"]))
        .unwrap_or_else(|_| "x86_64-unknown-linux-gnu".to_string());
    let objcopy = Path::new(sysroot.trim()).join("lib/rustlib").join(host.trim()).join("bin/llvm-objcopy");
    if !objcopy.is_file() {
        bail!("{} not found: run `rustup component add llvm-tools`", objcopy.display());
    }
    let mut cmd = Command::new(objcopy);
    cmd.arg("--strip-debug").arg(elf).arg(out);
    util::status(&mut cmd)
}

/// Builds (once; afterwards cargo finds it fresh) and returns the image-builder binary.
///
/// It runs in its own directory so that its `.cargo/config.toml` (`RUSTC_BOOTSTRAP=1`) applies to
/// it alone, with its own target directory. The first build takes minutes: the `bootloader`
/// crate's build script compiles the BIOS and UEFI stages with `-Zbuild-std`.
fn image_builder() -> anyhow::Result<PathBuf> {
    let dir = util::root().join("xtask/image-builder");
    let target_dir = util::target_dir().join("image-builder");
    let bin = target_dir.join("release/gears-image-builder");
    let mut cmd = Command::new(util::cargo_bin());
    cmd.current_dir(&dir).args(["build", "--quiet", "--release", "--target-dir"]).arg(&target_dir);
    // Nothing from the outer cargo invocation (xtask's `cargo run`) may leak into this build.
    clear_cargo_env(&mut cmd);
    if !bin.is_file() {
        eprintln!("xtask: building the image builder (first time only: ~3 min, it builds the bootloader)");
    }
    util::status(&mut cmd)?;
    Ok(bin)
}

fn qemu_command(arch: Arch, image: &Path, uefi: bool) -> anyhow::Result<Command> {
    match arch {
        Arch::X86_64 => {
            setup::ensure_apt_tool("qemu-system-x86_64", "qemu-system-x86")?;
            let mut cmd = Command::new("qemu-system-x86_64");
            // A virtio disk: the BIOS bootloader reads the kernel through int13, which SeaBIOS
            // serves from virtio-blk about twice as fast as from emulated IDE (1.3-1.5 s instead
            // of 2.8-3.6 s to the root task for a 560 KB release kernel, measured on this machine).
            let drive = format!("format=raw,file={},if=virtio", image.display());
            cmd.args(["-drive", &drive])
                .args(["-serial", "stdio", "-display", "none", "-no-reboot", "-m", "256M"])
                .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
            if uefi {
                let ovmf = OVMF_PATHS.iter().map(Path::new).find(|p| p.is_file());
                let Some(ovmf) = ovmf else {
                    bail!(
                        "OVMF firmware not found (looked in {}): run `apt-get install -y ovmf`",
                        OVMF_PATHS.join(", ")
                    );
                };
                cmd.arg("-bios").arg(ovmf);
            }
            Ok(cmd)
        }
        Arch::Riscv64 => {
            setup::ensure_apt_tool("qemu-system-riscv64", "qemu-system-misc")?;
            let mut cmd = Command::new("qemu-system-riscv64");
            cmd.args(["-machine", "virt", "-bios", "default", "-kernel"]).arg(image).args([
                "-serial",
                "stdio",
                "-display",
                "none",
                "-no-reboot",
                "-m",
                "256M",
                "-smp",
                "1",
            ]);
            Ok(cmd)
        }
    }
}

/// What a QEMU run did.
struct QemuRun {
    outcome: Outcome,
    /// From starting QEMU to the kernel's first console line (its banner).
    first_line: Option<Duration>,
    /// From starting QEMU to the Rust root task's first line.
    root_task: Option<Duration>,
    total: Duration,
    /// Serial bytes read.
    bytes: usize,
    /// Trace events decoded.
    events: usize,
    /// Damaged trace frames.
    damaged: usize,
}

/// Runs QEMU, decoding its serial output (console lines and trace frames, `metagears::wire`):
/// lines are echoed to stdout and given to `on_line`, trace events are printed as the host
/// tracer's text and given to `on_event`; QEMU is killed after `timeout`.
fn run_qemu(
    arch: Arch,
    cmd: &mut Command,
    timeout: Option<Duration>,
    mut on_line: impl FnMut(&str),
    mut on_event: impl FnMut(&metagears::TraceEvent),
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
    let mut marker = false;
    let mut handle = |decoded: &mut Vec<Decoded>, run: &mut QemuRun, marker: &mut bool| {
        for d in decoded.drain(..) {
            match d {
                Decoded::Text(line) => {
                    // Firmware output may carry escape sequences: match on the printable text.
                    let clean: String = line.chars().filter(|c| !c.is_control() || *c == '\t').collect();
                    if run.first_line.is_none() && clean.contains(KERNEL_BANNER) {
                        run.first_line = Some(start.elapsed());
                    }
                    if run.root_task.is_none() && clean.starts_with(ROOT_TASK_PREFIX) {
                        run.root_task = Some(start.elapsed());
                    }
                    *marker |= clean.trim() == EXIT_MARKER;
                    println!("{line}");
                    on_line(&clean);
                }
                Decoded::Event(e) => {
                    run.events += 1;
                    println!("{e}");
                    on_event(&e);
                }
                Decoded::Damaged(why) => {
                    run.damaged += 1;
                    println!("xtask: damaged trace frame: {why}");
                }
            }
        }
    };
    let mut timed_out = false;
    let status = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(bytes) => {
                run.bytes += bytes.len();
                decoder.feed(&bytes, &mut decoded);
                handle(&mut decoded, &mut run, &mut marker);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            timed_out = true;
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
    handle(&mut decoded, &mut run, &mut marker);
    run.outcome =
        if timed_out { Outcome::TimedOut } else { Outcome::from_status(arch, status.code(), marker) };
    run.total = start.elapsed();
    Ok(run)
}

fn report_timing(run: &QemuRun) {
    let root_task = run.root_task.map(|t| format!(", the Rust root task's after {:.2} s", t.as_secs_f64()));
    match run.first_line {
        Some(t) => eprintln!(
            "xtask: kernel's first serial line after {:.2} s{}; QEMU ran {:.2} s; {}",
            t.as_secs_f64(),
            root_task.unwrap_or_default(),
            run.total.as_secs_f64(),
            run.outcome.describe()
        ),
        None => eprintln!(
            "xtask: no kernel banner on the serial line; QEMU ran {:.2} s; {}",
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
    fn riscv_exit_zero_passes_only_with_the_marker() {
        assert_eq!(Outcome::from_status(Arch::Riscv64, Some(0), true), Outcome::Passed);
        assert_eq!(Outcome::from_status(Arch::Riscv64, Some(0), false), Outcome::Other(Some(0)));
        assert_eq!(Outcome::from_status(Arch::Riscv64, Some(1), false), Outcome::KernelFailed);
        assert_eq!(Outcome::from_status(Arch::Riscv64, Some(33), true), Outcome::Other(Some(33)));
    }

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

    #[test]
    fn latency_lines_parse_and_merge() {
        let line = |caps: u64, on: &str, l: u64, k: u64| {
            format!(
                "bench: irq-latency caps={caps} preemption={on} max_latency_insns={l} kernel_latency_insns={k} \
                 preemptions=3 driver_runs=5"
            )
        };
        let f = LatencyFigure::parse(&line(65536, "on", 207800, 1000)).unwrap();
        let want = LatencyFigure {
            caps: 65536,
            preemption: true,
            max_insns: 207800,
            kernel_insns: 1000,
            preemptions: 3,
            driver_runs: 5,
        };
        assert_eq!(f, want);
        assert_eq!(LatencyFigure::parse("test a ... ok"), None);
        let rounds: Vec<_> = [line(4096, "on", 10, 7), line(4096, "on", 30, 2), line(4096, "off", 99, 9)]
            .iter()
            .map(|l| LatencyFigure::parse(l).unwrap())
            .collect();
        let merged = LatencyFigure::merge(&rounds);
        assert_eq!(merged.len(), 2);
        assert_eq!((merged[0].max_insns, merged[0].kernel_insns, merged[0].preemptions), (30, 7, 6));
        assert_eq!((merged[1].max_insns, merged[1].preemption), (99, false));
    }

    #[test]
    fn build_names() {
        let b = Build { arch: Arch::X86_64, release: true, test: true, trace: false, bench: false };
        assert_eq!(b.stem(), "x86_64-release-test");
        assert!(b.target_dir().ends_with("qemu-test"));
        assert!(kernel_elf(b).ends_with("qemu-test/x86_64-unknown-none/release/kernel"));
    }
}
