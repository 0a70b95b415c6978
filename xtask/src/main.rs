//! `cargo xtask`: set up the toolchain, test, bench and run the Gears project.
//!
//! Every subcommand first runs an idempotent set-up (rustup targets and components); tools from
//! Debian packages (QEMU, valgrind) are installed on demand by the subcommand that needs them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod bench;
mod callgrind;
mod model;
mod qemu;
mod sel4bench;
mod sel4test;
mod setup;
mod shared;
mod trace;
mod util;

/// The architectures the kernel is built and run for.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, ValueEnum)]
pub enum Arch {
    /// x86_64, booted by the `bootloader` crate's BIOS or UEFI image.
    #[default]
    #[value(name = "x86_64", alias = "x86-64", alias = "x86")]
    X86_64,
    /// riscv64gc, booted by OpenSBI on QEMU's `virt` machine.
    #[value(name = "riscv64", alias = "riscv")]
    Riscv64,
}

impl Arch {
    /// The rustc target triple the kernel is built for.
    pub fn target(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-none",
            Arch::Riscv64 => "riscv64gc-unknown-none-elf",
        }
    }

    /// The name used on the command line and in messages.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Riscv64 => "riscv64",
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What `cargo xtask run` asks of the QEMU runner.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct RunOptions {
    /// The architecture to build and boot.
    pub arch: Arch,
    /// Build the kernel with the release profile.
    pub release: bool,
    /// Boot through UEFI (OVMF) instead of BIOS (x86_64 only).
    pub uefi: bool,
    /// Start QEMU's gdb stub and wait for a debugger.
    pub gdb: bool,
    /// Print the gear trace as the kernel runs.
    pub trace: bool,
    /// Boot this ELF as the root task instead of the project's own (checked before any build).
    pub root_task: Option<PathBuf>,
    /// Guest memory in MiB (default: 256, or 512 with a root task of one's own).
    pub memory_mib: Option<u32>,
    /// Kill QEMU after this many seconds, 0 for never (default: 120, or 600 with a root task of
    /// one's own).
    pub timeout_secs: Option<u64>,
}

/// Build, test, bench and run the Gears kernel framework.
#[derive(Parser, Debug)]
#[command(name = "cargo xtask", version, about, disable_help_subcommand = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug, PartialEq, Eq)]
enum Command {
    /// Install what is missing (rustup targets and components) and nothing else.
    Setup,
    /// Run the host tests (`cargo test --workspace --no-fail-fast`), then the QEMU suites.
    Test(TestArgs),
    /// Measure instructions: per unit of work under valgrind's callgrind, or of a kernel under
    /// QEMU's -icount (irq-latency; ipc-vs-sel4, Gears against seL4); print tables.
    Bench(BenchArgs),
    /// Build the kernel and boot it under QEMU.
    Run(RunArgs),
    /// Write a scenario's gear trace and its state-transition diagram (DOT, SVG, Mermaid).
    Trace(TraceArgs),
    /// Boot the system-call fuzzer: random and templated calls from a supervised worker thread.
    Fuzz(FuzzArgs),
    /// Boot seL4's own test suite (sel4test) on Gears, or on seL4 with --on-sel4, and tabulate it.
    Sel4test(Sel4testArgs),
    /// Print this help, or the help of a subcommand.
    Help {
        /// The subcommand to describe.
        subcommand: Option<String>,
    },
}

#[derive(clap::Args, Debug, PartialEq, Eq)]
struct TestArgs {
    /// Boot only this architecture's QEMU suite (default: both, then compare their traces).
    #[arg(long, value_enum)]
    arch: Option<Arch>,
    /// Skip the host tests.
    #[arg(long)]
    qemu_only: bool,
    /// System calls of the fuzzer per arch, after the QEMU suites (release kernel with the
    /// invariant checks, seed 1; 0: no fuzzing).
    #[arg(long, default_value_t = FUZZ_CALLS)]
    fuzz_calls: u64,
    /// Skip seL4's test suite (run after the QEMU suites, against tests/sel4test/passing-ARCH.txt).
    #[arg(long)]
    no_sel4test: bool,
}

#[derive(clap::Args, Debug, PartialEq, Eq)]
struct Sel4testArgs {
    /// Run only this architecture [default: x86_64, then riscv64].
    #[arg(long, value_enum)]
    arch: Option<Arch>,
    /// The directory of sel4test's binaries [default: $GEARS_SEL4TEST_DIR, else
    /// ../shared/sel4test beside the checkout].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Boot seL4's own kernel instead of Gears (the same driver, QEMU machine and CPU).
    #[arg(long)]
    on_sel4: bool,
    /// Build a debug kernel [default: release].
    #[arg(long, conflicts_with = "on_sel4")]
    debug: bool,
    /// Build the kernel with the invariant metagear's full checks (the `checks` feature; far
    /// too slow for the whole suite today) [default: without].
    #[arg(long, conflicts_with = "on_sel4")]
    checks: bool,
    /// Guest memory in MiB [default: 3072, as seL4's reference runs].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(512..=65536))]
    memory: Option<u32>,
    /// Stop the run after this many seconds, 0 for never [default: 900, or 2400 with --debug].
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Stop the run when the driver prints nothing for this many seconds (a hung test), 0 for
    /// never [default: 240, or 900 with --debug].
    #[arg(long, value_name = "SECS")]
    test_timeout: Option<u64>,
    /// Echo the whole serial output [default: a line per test].
    #[arg(long)]
    verbose: bool,
    /// Add the tests that passed to tests/sel4test/passing-ARCH.txt.
    #[arg(long, conflicts_with = "on_sel4")]
    record: bool,
    /// With --record, also remove the listed tests that did not pass.
    #[arg(long, requires = "record")]
    prune: bool,
}

impl Sel4testArgs {
    fn options(&self) -> sel4test::Sel4testOptions {
        let limit = |secs: u64| (secs > 0).then(|| std::time::Duration::from_secs(secs));
        let limits = sel4test::Limits::of(!self.debug);
        let memory = if self.on_sel4 { sel4test::SEL4_MEMORY_MIB } else { sel4test::MEMORY_MIB };
        sel4test::Sel4testOptions {
            arches: match self.arch {
                Some(arch) => vec![arch],
                None => vec![Arch::X86_64, Arch::Riscv64],
            },
            dir: self.dir.clone(),
            on_sel4: self.on_sel4,
            release: !self.debug,
            checks: self.checks,
            memory_mib: self.memory.unwrap_or(memory),
            timeout: limit(self.timeout.unwrap_or(limits.run_secs)),
            test_timeout: limit(self.test_timeout.unwrap_or(limits.quiet_secs)),
            verbose: self.verbose,
            record: self.record,
            prune: self.prune,
        }
    }
}

/// The fuzzer's calls per arch in `cargo xtask test`: about 72 s on x86_64 and 111 s on riscv64
/// of QEMU time on this 2-core machine.
const FUZZ_CALLS: u64 = 1_000_000;

#[derive(clap::Args, Debug, PartialEq, Eq)]
struct FuzzArgs {
    /// The architecture to fuzz.
    #[arg(long, value_enum, default_value_t)]
    arch: Arch,
    /// How many system calls the worker makes.
    #[arg(long, default_value_t = 100_000)]
    calls: u64,
    /// The seed of the call stream (the same seed replays the same calls).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print every call from this one on (to see what a replayed run did last).
    #[arg(long, value_name = "CALL")]
    trace_from: Option<u64>,
    /// Fuzz a release kernel (default: debug, with overflow checks and debug assertions).
    #[arg(long)]
    release: bool,
}

impl FuzzArgs {
    fn options(&self) -> qemu::FuzzOptions {
        let program = qemu::FuzzProgram { seed: self.seed, calls: self.calls, trace_from: self.trace_from };
        qemu::FuzzOptions { arch: self.arch, program, release: self.release }
    }
}

#[derive(clap::Args, Debug, PartialEq, Eq)]
struct TraceArgs {
    /// The scenario to run and draw.
    #[arg(value_enum)]
    scenario: trace::Scenario,
    /// Where to write the files (default: target/traces).
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
}

#[derive(clap::Args, Debug, PartialEq, Eq)]
struct BenchArgs {
    /// Run only these groups (default: all).
    #[arg(value_name = "GROUP")]
    groups: Vec<String>,
    /// List the groups and their workloads, and run nothing.
    #[arg(long)]
    list: bool,
    /// ipc-vs-sel4: the directory of sel4bench's binaries [default: $GEARS_SEL4BENCH_DIR, else
    /// ../shared/sel4bench beside the checkout].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// ipc-vs-sel4: stop each of its three runs after this many seconds, 0 for never [default: 300].
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// ipc-vs-sel4: profile Gears' run with a QEMU plugin and show where its kernel's
    /// instructions go, by module and by function.
    #[arg(long)]
    profile: bool,
}

impl BenchArgs {
    /// The options of the ipc-vs-sel4 group.
    fn sel4bench(&self) -> sel4bench::Options {
        sel4bench::Options {
            dir: self.dir.clone(),
            timeout: self.timeout.map(|secs| (secs > 0).then(|| std::time::Duration::from_secs(secs))),
            profile: self.profile,
        }
    }
}

#[derive(clap::Args, Debug, PartialEq, Eq)]
struct RunArgs {
    /// The architecture to boot.
    #[arg(long, value_enum, default_value_t = Arch::X86_64)]
    arch: Arch,
    /// Build the kernel in release mode.
    #[arg(long)]
    release: bool,
    /// Boot through UEFI (OVMF) instead of BIOS (x86_64 only).
    #[arg(long)]
    uefi: bool,
    /// Start QEMU's gdb stub (port 1234) and wait for a debugger.
    #[arg(long)]
    gdb: bool,
    /// Print the gear trace as the kernel runs.
    #[arg(long)]
    trace: bool,
    /// Boot this statically linked ELF64 executable as the root task instead of the project's own.
    #[arg(long, value_name = "PATH")]
    root_task: Option<PathBuf>,
    /// Guest memory in MiB [default: 256, or 512 with --root-task].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(64..=65536))]
    memory: Option<u32>,
    /// Kill QEMU after this many seconds, 0 for never [default: 120, or 600 with --root-task].
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
}

impl RunArgs {
    fn options(&self) -> anyhow::Result<RunOptions> {
        if self.uefi && self.arch != Arch::X86_64 {
            anyhow::bail!("--uefi is for x86_64 only (riscv64 boots through OpenSBI)");
        }
        Ok(RunOptions {
            arch: self.arch,
            release: self.release,
            uefi: self.uefi,
            gdb: self.gdb,
            trace: self.trace,
            root_task: self.root_task.clone(),
            memory_mib: self.memory,
            timeout_secs: self.timeout,
        })
    }
}

/// Parses the command line; on error, the one-line message clap would print (without usage).
fn parse(args: impl IntoIterator<Item = String>) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("cargo xtask".to_string()).chain(args))
}

/// The first line of a clap error, without the `error: ` prefix clap adds.
fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let first = rendered.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid arguments");
    first.trim_start_matches("error: ").trim().to_string()
}

fn main() -> ExitCode {
    let cli = match parse(std::env::args().skip(1)) {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            return match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = err.print();
                    ExitCode::SUCCESS
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
                    eprintln!("xtask: error: no subcommand given (try `cargo xtask help`)");
                    ExitCode::from(2)
                }
                _ => {
                    eprintln!("xtask: error: {} (try `cargo xtask help`)", one_line(&err));
                    ExitCode::from(2)
                }
            };
        }
    };
    match run(cli.command) {
        Ok(summary) => {
            println!("xtask: ok: {summary}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("xtask: FAILED: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one subcommand; returns the summary line of what ran.
fn run(command: Command) -> anyhow::Result<String> {
    if let Command::Help { subcommand } = &command {
        return help(subcommand.as_deref());
    }
    let installed = setup::rust_toolchain()?;
    let setup_note =
        if installed.is_empty() { String::new() } else { format!("set-up installed {installed}; ") };
    let done = match command {
        Command::Setup => {
            setup::report_tools();
            "set-up complete".to_string()
        }
        Command::Test(args) => test(&args)?,
        Command::Bench(args) => bench::run(&args.groups, args.list, &args.sel4bench())?,
        Command::Fuzz(args) => qemu::fuzz(&args.options())?,
        Command::Sel4test(args) => sel4test::run(&args.options())?,
        Command::Run(args) => {
            let opts = args.options()?;
            qemu::run(&opts)?;
            match &opts.root_task {
                Some(elf) => format!("ran the kernel with root task {} on {}", elf.display(), opts.arch),
                None => format!("ran the kernel on {}", opts.arch),
            }
        }
        Command::Trace(args) => trace::run(args.scenario, args.out.as_deref())?,
        Command::Help { .. } => unreachable!("handled above"),
    };
    Ok(format!("{setup_note}{done}"))
}

fn help(subcommand: Option<&str>) -> anyhow::Result<String> {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    match subcommand {
        None => cmd.print_long_help()?,
        Some(name) => match cmd.find_subcommand_mut(name) {
            Some(sub) => sub.print_long_help()?,
            None => anyhow::bail!(
                "unknown subcommand `{name}` (one of: setup, test, bench, run, trace, fuzz, sel4test, help)"
            ),
        },
    }
    Ok("help printed".to_string())
}

/// `cargo xtask test`: the host tests, then the QEMU suites (of one arch with `--arch`), then
/// seL4's test suite against the ratchet, then the fuzzer.
fn test(args: &TestArgs) -> anyhow::Result<String> {
    let host = if args.qemu_only {
        String::new()
    } else {
        let host = util::cargo_test(&["test", "--workspace", "--no-fail-fast"])?;
        format!("host tests ({} passed, {} ignored), then ", host.passed, host.ignored)
    };
    let arches = match args.arch {
        Some(arch) => vec![arch],
        None => vec![Arch::X86_64, Arch::Riscv64],
    };
    qemu::test_suites(&arches)?;
    qemu::check_template(&arches)?;
    let names: Vec<&str> = arches.iter().map(|a| a.name()).collect();
    let sel4test = if args.no_sel4test {
        String::new()
    } else {
        format!(", then {}", sel4test::ratchet_for_test(&arches)?)
    };
    let mut fuzzed = String::new();
    if args.fuzz_calls > 0 {
        for &arch in &arches {
            let program = qemu::FuzzProgram { seed: 1, calls: args.fuzz_calls, trace_from: None };
            qemu::fuzz(&qemu::FuzzOptions { arch, program, release: true })?;
        }
        fuzzed = format!(", then {} fuzzed calls per arch", args.fuzz_calls);
    }
    Ok(format!("{host}the QEMU suites and the template root task ({}){sel4test}{fuzzed}", names.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn run_defaults_to_x86_64_bios_debug() {
        let cli = parse(args("run")).unwrap();
        let Command::Run(run) = cli.command else { panic!("not run") };
        assert_eq!(run.options().unwrap(), RunOptions::default());
    }

    #[test]
    fn run_takes_every_flag() {
        let cli = parse(args("run --arch riscv64 --release --gdb --trace")).unwrap();
        let Command::Run(run) = cli.command else { panic!("not run") };
        let opts = run.options().unwrap();
        let expected =
            RunOptions { arch: Arch::Riscv64, release: true, gdb: true, trace: true, ..Default::default() };
        assert_eq!(opts, expected);
        let cli = parse(args("run --uefi --arch x86_64")).unwrap();
        let Command::Run(run) = cli.command else { panic!("not run") };
        assert!(run.options().unwrap().uefi);
    }

    #[test]
    fn run_takes_a_root_task_memory_and_timeout() {
        let cli = parse(args("run --arch riscv64 --root-task some/elf --memory 1024 --timeout 0")).unwrap();
        let Command::Run(run) = cli.command else { panic!("not run") };
        let opts = run.options().unwrap();
        assert_eq!(opts.root_task, Some(PathBuf::from("some/elf")));
        assert_eq!((opts.memory_mib, opts.timeout_secs), (Some(1024), Some(0)));
        let err = parse(args("run --memory 16")).unwrap_err();
        assert!(one_line(&err).contains("invalid value '16' for '--memory <MIB>'"), "{}", one_line(&err));
        assert!(parse(args("run --root-task")).is_err());
    }

    #[test]
    fn uefi_on_riscv_is_refused() {
        let cli = parse(args("run --arch riscv64 --uefi")).unwrap();
        let Command::Run(run) = cli.command else { panic!("not run") };
        let err = run.options().unwrap_err().to_string();
        assert!(err.contains("x86_64 only"), "{err}");
    }

    #[test]
    fn bad_arch_gives_one_line_error() {
        let err = parse(args("run --arch arm")).unwrap_err();
        let line = one_line(&err);
        assert!(line.contains("invalid value 'arm'"), "{line}");
        assert!(line.contains("--arch"), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn unknown_subcommand_and_flag_are_errors() {
        let err = parse(args("frobnicate")).unwrap_err();
        assert!(one_line(&err).contains("unrecognized subcommand 'frobnicate'"), "{}", one_line(&err));
        let err = parse(args("test --fast")).unwrap_err();
        assert!(one_line(&err).contains("unexpected argument '--fast'"), "{}", one_line(&err));
    }

    #[test]
    fn test_fuzzes_a_million_calls_per_arch_unless_told() {
        let Command::Test(t) = parse(args("test")).unwrap().command else { panic!("not test") };
        assert_eq!(t, TestArgs { arch: None, qemu_only: false, fuzz_calls: 1_000_000, no_sel4test: false });
        let cli = parse(args("test --arch riscv64 --qemu-only --fuzz-calls 0 --no-sel4test")).unwrap();
        let Command::Test(t) = cli.command else { panic!("not test") };
        assert_eq!(
            t,
            TestArgs { arch: Some(Arch::Riscv64), qemu_only: true, fuzz_calls: 0, no_sel4test: true }
        );
    }

    #[test]
    fn sel4test_runs_both_arches_on_a_release_gears_unless_told() {
        let Command::Sel4test(s) = parse(args("sel4test")).unwrap().command else { panic!("not sel4test") };
        let opts = s.options();
        let expected = sel4test::Sel4testOptions {
            arches: vec![Arch::X86_64, Arch::Riscv64],
            ..sel4test::Sel4testOptions::for_ci(&[])
        };
        assert_eq!(opts, expected);
    }

    #[test]
    fn sel4test_takes_every_flag() {
        let cli = parse(args(
            "sel4test --arch riscv64 --dir /s --debug --checks --memory 2048 --timeout 0 \
             --test-timeout 30 --verbose --record --prune",
        ))
        .unwrap();
        let Command::Sel4test(s) = cli.command else { panic!("not sel4test") };
        let opts = s.options();
        assert_eq!(opts.arches, [Arch::Riscv64]);
        assert_eq!(opts.dir, Some(PathBuf::from("/s")));
        assert!(!opts.release && opts.checks && opts.verbose && opts.record && opts.prune);
        assert_eq!((opts.memory_mib, opts.timeout), (2048, None));
        assert_eq!(opts.test_timeout, Some(std::time::Duration::from_secs(30)));
        let Command::Sel4test(s) = parse(args("sel4test --on-sel4")).unwrap().command else { panic!() };
        assert!(s.options().on_sel4);
        assert_eq!(s.options().memory_mib, 3072);
        let Command::Sel4test(s) = parse(args("sel4test --debug")).unwrap().command else { panic!() };
        let opts = s.options();
        let secs = |s| Some(std::time::Duration::from_secs(s));
        assert_eq!((opts.memory_mib, opts.timeout, opts.test_timeout), (3072, secs(2400), secs(900)));
    }

    #[test]
    fn sel4test_refuses_what_does_not_go_together() {
        for bad in [
            "sel4test --on-sel4 --record",
            "sel4test --on-sel4 --debug",
            "sel4test --prune",
            "sel4test --memory 256",
        ] {
            assert!(parse(args(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_subcommand_is_an_error() {
        assert!(parse(args("")).is_err());
    }

    #[test]
    fn bench_takes_group_filters() {
        let cli = parse(args("bench dispatcher --list")).unwrap();
        let Command::Bench(b) = cli.command else { panic!("not bench") };
        assert_eq!((&b.groups[..], b.list), (&["dispatcher".to_string()][..], true));
        assert_eq!(b.sel4bench(), sel4bench::Options::default());
    }

    #[test]
    fn bench_takes_the_sel4bench_directory_and_time_limit() {
        let cli = parse(args("bench ipc-vs-sel4 --dir /b --timeout 60")).unwrap();
        let Command::Bench(b) = cli.command else { panic!("not bench") };
        assert_eq!(b.groups, ["ipc-vs-sel4"]);
        let opts = b.sel4bench();
        assert_eq!(opts.dir, Some(PathBuf::from("/b")));
        assert_eq!(opts.timeout, Some(Some(std::time::Duration::from_secs(60))));
        let Command::Bench(b) = parse(args("bench --timeout 0")).unwrap().command else { panic!() };
        assert_eq!(b.sel4bench().timeout, Some(None));
        assert!(parse(args("bench ipc-vs-sel4 --timeout soon")).is_err());
        assert!(parse(args("bench ipc-vs-sel4 --dir")).is_err());
    }

    #[test]
    fn help_parses_with_and_without_subcommand() {
        assert_eq!(parse(args("help")).unwrap().command, Command::Help { subcommand: None });
        assert_eq!(
            parse(args("help run")).unwrap().command,
            Command::Help { subcommand: Some("run".into()) }
        );
    }

    #[test]
    fn fuzz_defaults_to_x86_64_seed_1_and_100000_calls() {
        let cli = parse(args("fuzz")).unwrap();
        let Command::Fuzz(fuzz) = cli.command else { panic!("not fuzz") };
        let program = qemu::FuzzProgram { seed: 1, calls: 100_000, trace_from: None };
        assert_eq!(fuzz.options(), qemu::FuzzOptions { arch: Arch::X86_64, program, release: false });
    }

    #[test]
    fn fuzz_takes_every_flag() {
        let cli = parse(args("fuzz --arch riscv64 --calls 1000000 --seed 42 --trace-from 685000 --release"))
            .unwrap();
        let Command::Fuzz(fuzz) = cli.command else { panic!("not fuzz") };
        let program = qemu::FuzzProgram { seed: 42, calls: 1_000_000, trace_from: Some(685_000) };
        assert_eq!(fuzz.options(), qemu::FuzzOptions { arch: Arch::Riscv64, program, release: true });
        assert!(parse(args("fuzz --calls many")).is_err());
        assert!(parse(args("fuzz --seed -1")).is_err());
    }

    #[test]
    fn arch_targets() {
        assert_eq!(Arch::X86_64.target(), "x86_64-unknown-none");
        assert_eq!(Arch::Riscv64.target(), "riscv64gc-unknown-none-elf");
    }
}
