//! `cargo xtask bench ipc-vs-sel4`: one binary, one emulator, two kernels. sel4bench's IPC
//! benchmark boots as the root task of seL4's release kernel with its fastpath, of the same
//! kernel without it, and of Gears' release kernel, each under the same QEMU machine with
//! `-icount shift=0` (the TSC counts guest instructions); the results it prints as JSON are
//! tabulated side by side.
//!
//! - [`files`]: where the binaries are;
//! - [`results`]: the JSON in the serial output and the figures in it;
//! - [`table`]: the rows matched across kernels, and the closing ratio.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use metagears::wire::Report;

use crate::Arch;
use crate::qemu::{self, Follow, Icount, Machine, Outcome, RootTaskKernel, Sel4Boot, X86_CPU};
use crate::sel4test::plain;
use crate::shared::{self, SEL4BENCH, show_paths};

mod files;
mod results;
mod table;

use files::Files;
use results::{ALL_WELL, Figure, JsonBlock};

/// The machine of all three runs, as seL4's reference runs had it: 3 GiB, RDTSCP (sel4bench
/// aborts without it), and `-icount shift=0` with QEMU's default sleep.
pub const MACHINE: Machine = Machine { memory_mib: 3072, rdtscp: true, icount: Some(Icount { sleep: true }) };

/// How long each run may take unless `--timeout` says otherwise. seL4's runs end after 10–25 s
/// of wall clock; Gears' run does more work per IPC and is built first.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Serial lines kept to show where a run that did not finish stopped.
const TAIL_LINES: usize = 12;

/// What `cargo xtask bench ipc-vs-sel4` was asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// The directory of the binaries (`--dir`), if given.
    pub dir: Option<PathBuf>,
    /// Each run's time limit: `None` for the default, `Some(None)` for none (`--timeout 0`).
    pub timeout: Option<Option<Duration>>,
    /// Profile Gears' run (`--profile`): where its kernel's instructions go, by module and
    /// function ([`qemu::profile`]).
    pub profile: bool,
}

impl Options {
    /// Each run's time limit.
    fn timeout(&self) -> Option<Duration> {
        self.timeout.unwrap_or(Some(DEFAULT_TIMEOUT))
    }
}

/// The three kernels, in the order of the table's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Gears' release kernel with the benchmark as its root task.
    Gears,
    /// seL4's release kernel with its fastpath.
    Sel4Fastpath,
    /// seL4's release kernel without its fastpath.
    Sel4NoFastpath,
}

impl Kernel {
    /// The columns, in order.
    pub const COLUMNS: [Kernel; 3] = [Kernel::Gears, Kernel::Sel4Fastpath, Kernel::Sel4NoFastpath];

    /// The column's name.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Gears => "Gears",
            Kernel::Sel4Fastpath => "seL4 fastpath",
            Kernel::Sel4NoFastpath => "seL4 without fastpath",
        }
    }
}

/// Why a run gave no figures, and where its output stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotFinished {
    /// Why.
    pub why: String,
    /// Its last lines of serial output (and the kernel's reports).
    pub tail: Vec<String>,
}

/// One kernel's run.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelRun {
    /// Which kernel.
    pub kernel: Kernel,
    /// Its figures, or why there are none.
    pub figures: Result<Vec<Figure>, NotFinished>,
    /// How long QEMU ran, if it started.
    pub secs: Option<f64>,
}

/// What the group gives: its table (Markdown, ending with the closing line), the ratio, and the
/// kernels that did not finish.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The table and its notes.
    pub table: String,
    /// Gears over seL4 (fastpath) on the headline row, if both ran it.
    pub ratio: Option<f64>,
    /// Gears' figure on the headline row, if it ran it.
    pub gears: Option<f64>,
    /// The kernels that gave no figures.
    pub unfinished: Vec<Kernel>,
}

/// Runs the benchmark on the three kernels and tabulates it. Without the binaries it fails, or
/// with `optional` (a run of every bench group) says so and gives `None`.
pub fn ipc_vs_sel4(opts: &Options, optional: bool) -> anyhow::Result<Option<Comparison>> {
    let missing = match SEL4BENCH.find(opts.dir.as_deref()) {
        None => Err(format!("no sel4bench directory. {}", files::how_to_get_them())),
        Some(dir) => {
            let files = Files::new(&dir.path);
            let missing = shared::missing(&files.needed());
            if missing.is_empty() {
                Ok((dir, files))
            } else {
                Err(format!(
                    "{} lacks {}. {}",
                    dir.describe(),
                    show_paths(&missing),
                    files::how_to_get_them()
                ))
            }
        }
    };
    let (dir, files) = match missing {
        Ok(found) => found,
        Err(why) if optional => {
            println!("ipc-vs-sel4: skipped: {why}");
            return Ok(None);
        }
        Err(why) => bail!("ipc-vs-sel4: {why}"),
    };
    println!(
        "ipc-vs-sel4: {} from {}, on seL4 with and without its fastpath, then on Gears",
        file_name(&files.benchmark),
        dir.describe()
    );
    let timeout = opts.timeout();
    // seL4 first: its runs are short and are the yardstick; Gears' kernel is built last.
    let profile =
        opts.profile.then(|| crate::util::target_dir().join("xtask-bench").join("ipc-vs-sel4-gears.tb"));
    if let Some(out) = &profile {
        std::fs::create_dir_all(out.parent().unwrap_or(out))?;
        let _ = std::fs::remove_file(out);
    }
    let mut runs: Vec<KernelRun> = [Kernel::Sel4Fastpath, Kernel::Sel4NoFastpath, Kernel::Gears]
        .map(|k| run(k, &files, timeout, profile.as_deref()))
        .into();
    runs.sort_by_key(|r| Kernel::COLUMNS.iter().position(|&k| k == r.kernel));
    let references = [
        (Kernel::Sel4Fastpath, &files.reference_fastpath),
        (Kernel::Sel4NoFastpath, &files.reference_nofastpath),
    ];
    let checks: Vec<String> = references
        .iter()
        .filter_map(|(kernel, path)| {
            let run = runs.iter().find(|r| r.kernel == *kernel)?;
            check_reference(*kernel, run.figures.as_ref().ok()?, path)
        })
        .collect();
    let mut comparison = compare(&runs, &checks);
    if let (Some(out), Some(figure)) = (&profile, comparison.gears) {
        let elf = qemu::gears_kernel_elf(Arch::X86_64, gears_boot(&files, None))
            .ok_or_else(|| anyhow::anyhow!("no Gears kernel ELF"))?;
        let p = qemu::profile::Profile::read_files(out, &elf, qemu::KERNEL_BASE)?;
        comparison.table.push_str(&profile_table(&p, figure));
    }
    Ok(Some(comparison))
}

/// Functions left out of the profile's shares: the boot's scan of free RAM for non-zero pages,
/// which is no part of the benchmark.
const BOOT_ONLY: &[&str] = &["memcmp"];

/// The profile of Gears' run as Markdown: the kernel's instructions by module and by function,
/// each as a share and scaled to the headline round trip's `figure`.
fn profile_table(p: &qemu::profile::Profile, figure: f64) -> String {
    let total = p.kernel_total(BOOT_ONLY).max(1) as f64;
    let mut t = format!(
        "\nWhere Gears' kernel instructions go over the whole run (QEMU plugin `qemu-tb-profile`: \
         each translation block's instructions counted to the function it starts in, so inlined \
         code counts as its caller's; boot's scan of free RAM (`memcmp`) left out), as shares of \
         {total:.0} kernel instructions and scaled to the round trip's {figure:.0} (user space \
         ran {} instructions). The round trips are most of the run, not all of it.\n",
        p.user
    );
    for (title, rows) in [("module", p.by_module(BOOT_ONLY)), ("function", p.top(BOOT_ONLY))] {
        t.push_str(&format!("\n| {title} | share | ≈ per round trip |\n|---|--:|--:|\n"));
        for (name, n) in rows.iter().take(if title == "module" { 15 } else { 30 }) {
            let share = *n as f64 / total;
            t.push_str(&format!("| `{name}` | {:.1}% | {:.0} |\n", 100.0 * share, share * figure));
        }
    }
    t
}

/// How Gears boots the benchmark, counting its blocks into `profile` if given.
fn gears_boot<'a>(files: &'a Files, profile: Option<&'a Path>) -> RootTaskKernel<'a> {
    RootTaskKernel::Gears { root_task: &files.benchmark, release: true, checks: false, profile }
}

/// The table of `runs` (one per column, in [`Kernel::COLUMNS`]' order), with a note per kernel
/// that did not finish, the reference `checks`, and the closing line.
pub fn compare(runs: &[KernelRun], checks: &[String]) -> Comparison {
    let columns: Vec<Option<&[Figure]>> = runs.iter().map(|r| r.figures.as_deref().ok()).collect();
    let rows = table::rows(&columns);
    let names: Vec<&str> = runs.iter().map(|r| r.kernel.name()).collect();
    let mut t = format!(
        "\nsel4bench's IPC benchmark ({}), the root task of three release kernels under the same \
         QEMU (-cpu {X86_CPU},+rdtscp -m {}M -icount shift=0; Gears' command also has its \
         isa-debug-exit, virtio disk and hpet.msi): guest instructions, the median of each result's \
         raw samples (with -icount they barely differ). Rows \"RT x10000 …\" time 10,000 round trips \
         as one block and are shown per round trip (÷ 10,000).\n\n",
        files::BENCHMARK,
        MACHINE.memory_mib
    );
    t.push_str(&table::render(&names, &rows));
    let unfinished: Vec<&KernelRun> = runs.iter().filter(|r| r.figures.is_err()).collect();
    if !unfinished.is_empty() || !checks.is_empty() {
        t.push('\n');
    }
    for run in &unfinished {
        if let Err(not) = &run.figures {
            t.push_str(&format!("- {}: no figures: {}\n", run.kernel.name(), not.why));
        }
    }
    for check in checks {
        t.push_str(&format!("- {check}\n"));
    }
    let value = |kernel: Kernel| {
        let col = runs.iter().position(|r| r.kernel == kernel)?;
        table::headline(&rows)?.values[col]
    };
    let (gears, sel4) = (value(Kernel::Gears), value(Kernel::Sel4Fastpath));
    let why_not = match unfinished.iter().map(|r| r.kernel.name()).collect::<Vec<_>>().as_slice() {
        [] => format!("no \"{}\" same-address-space row", table::HEADLINE),
        names => format!("{} did not finish the benchmark", names.join(" and ")),
    };
    t.push('\n');
    t.push_str(&table::ratio_line(gears, sel4, &why_not));
    t.push('\n');
    let ratio = gears.zip(sel4).filter(|(_, s)| *s > 0.0).map(|(g, s)| g / s);
    Comparison { table: t, ratio, gears, unfinished: unfinished.iter().map(|r| r.kernel).collect() }
}

/// Boots the benchmark on `kernel` and reads its figures; says how it went.
fn run(kernel: Kernel, files: &Files, timeout: Option<Duration>, profile: Option<&Path>) -> KernelRun {
    let boot = match kernel {
        Kernel::Gears => gears_boot(files, profile),
        Kernel::Sel4Fastpath => {
            RootTaskKernel::Sel4(Sel4Boot::Multiboot { kernel: &files.fastpath, root_task: &files.benchmark })
        }
        Kernel::Sel4NoFastpath => RootTaskKernel::Sel4(Sel4Boot::Multiboot {
            kernel: &files.nofastpath,
            root_task: &files.benchmark,
        }),
    };
    println!("ipc-vs-sel4: {}: booting", kernel.name());
    let mut follower = Follower::default();
    let (figures, secs) = match qemu::boot_root_task(Arch::X86_64, boot, MACHINE, timeout, &mut follower) {
        Ok(run) => (follower.figures(run.outcome, timeout), Some(run.total.as_secs_f64())),
        Err(err) => (Err(NotFinished { why: format!("it did not run: {err:#}"), tail: Vec::new() }), None),
    };
    let took = secs.map(|s| format!(" (QEMU ran {s:.0} s)")).unwrap_or_default();
    match &figures {
        Ok(figures) => println!("ipc-vs-sel4: {}: {} results{took}", kernel.name(), figures.len()),
        Err(not) => {
            println!("ipc-vs-sel4: {} did not finish the benchmark{took}: {}", kernel.name(), not.why);
            if !not.tail.is_empty() {
                println!("ipc-vs-sel4: {}: its last serial lines:", kernel.name());
                for line in &not.tail {
                    println!("    | {line}");
                }
            }
        }
    }
    KernelRun { kernel, figures, secs }
}

/// Compares a seL4 run's figures with its reference log, when that is at hand: a note if they
/// are the same, or which differ (the same binaries under the same flags count the same).
fn check_reference(kernel: Kernel, figures: &[Figure], path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let shown = file_name(path);
    let reference = match results::from_log(&text) {
        Ok(reference) => reference,
        Err(err) => {
            return Some(format!("{}: its reference log {shown} does not read: {err:#}", kernel.name()));
        }
    };
    let rows = table::rows(&[Some(figures), Some(&reference)]);
    let differ: Vec<String> = rows
        .iter()
        .filter(|r| r.values[0] != r.values[1])
        .map(|r| {
            let show = |v: Option<f64>| v.map_or("none".to_string(), |v| format!("{v}"));
            format!(
                "{} ({}): {} here, {} there",
                r.key.function,
                vspace(&r.key),
                show(r.values[0]),
                show(r.values[1])
            )
        })
        .collect();
    Some(if differ.is_empty() {
        format!("{}: all {} figures as in seL4's reference log {shown}", kernel.name(), rows.len())
    } else {
        format!(
            "{}: {} figure(s) differ from seL4's reference log {shown}: {}",
            kernel.name(),
            differ.len(),
            differ.join("; ")
        )
    })
}

/// "same vspace" or "other vspace", and the message length.
fn vspace(key: &results::Key) -> String {
    let space = if key.same_vspace { "same vspace" } else { "other vspace" };
    format!("{space}, {} words", key.ipc_length)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Follows one run: reads the JSON block, stops QEMU after sel4bench's last line, keeps the last
/// lines (and the kernel's reports) to show where a run that did not finish stopped.
#[derive(Default)]
struct Follower {
    block: JsonBlock,
    all_well: bool,
    panic: Option<String>,
    tail: VecDeque<String>,
}

impl Follower {
    fn keep(&mut self, line: String) {
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    /// The figures, or why there are none, once QEMU ended as `outcome`.
    fn figures(self, outcome: Outcome, timeout: Option<Duration>) -> Result<Vec<Figure>, NotFinished> {
        let tail: Vec<String> = self.tail.into_iter().collect();
        if let Some(json) = self.block.json() {
            return results::parse(json).map_err(|err| NotFinished { why: format!("{err:#}"), tail });
        }
        let ended = match (outcome, &self.panic) {
            _ if self.all_well => format!("it printed `{ALL_WELL}` without a whole JSON block"),
            (Outcome::TimedOut, _) => {
                format!("timed out after {} s", timeout.map(|t| t.as_secs()).unwrap_or_default())
            }
            (_, Some(message)) => format!("kernel panic: {message}"),
            (Outcome::Passed, None) => {
                "the kernel halted with success (seL4_DebugHalt, or no thread left to run)".to_string()
            }
            (other, None) => other.describe(),
        };
        let why = match self.block {
            JsonBlock::Inside(_) => format!("{ended}, inside its JSON block"),
            _ => ended,
        };
        Err(NotFinished { why, tail })
    }
}

impl Follow for Follower {
    fn line(&mut self, line: &str) -> bool {
        let text = plain(line);
        let text = text.trim();
        if text == ALL_WELL {
            self.all_well = true;
        }
        // The JSON line is long: the tail keeps its start.
        if !text.is_empty() {
            self.keep(text.chars().take(160).collect());
        }
        self.block.line(line);
        false
    }

    fn report(&mut self, report: &Report<'_>) {
        if let Report::Panic { message } = report {
            self.panic = Some(message.to_string());
        }
        self.keep(report.to_string());
    }

    fn keep_going(&mut self) -> bool {
        !self.all_well
    }
}

#[cfg(test)]
mod tests {
    use super::results::tests::{SYNTHETIC_LOG, decoded_lines};
    use super::*;

    /// Follows `log` as the runner would, up to where the follower stops QEMU.
    fn follow(log: &str) -> Follower {
        let mut f = Follower::default();
        for line in decoded_lines(log.as_bytes()) {
            if !f.keep_going() {
                break;
            }
            assert!(!f.line(&line), "echoed {line:?}");
        }
        f
    }

    #[test]
    fn the_follower_reads_the_figures_and_stops_after_the_last_line() {
        let mut f = follow(SYNTHETIC_LOG);
        assert!(!f.keep_going());
        assert_eq!(f.tail.back().map(String::as_str), Some(ALL_WELL));
        let figures = f.figures(Outcome::Stopped, Some(DEFAULT_TIMEOUT)).unwrap();
        assert_eq!(figures, results::from_log(SYNTHETIC_LOG).unwrap());
        assert_eq!(figures.len(), 4);
    }

    #[test]
    fn a_run_that_hangs_says_where() {
        let boot = "\u{1b}[0mSeaBIOS\r\nkernel: boot line one\r\n\r\nkernel: boot line two\r\n";
        let mut f = follow(boot);
        f.report(&Report::RootTaskStarted);
        assert!(f.keep_going());
        let not = f.figures(Outcome::TimedOut, Some(Duration::from_secs(300))).unwrap_err();
        assert_eq!(not.why, "timed out after 300 s");
        assert_eq!(not.tail[..3], ["SeaBIOS", "kernel: boot line one", "kernel: boot line two"]);
        assert_eq!(not.tail.len(), 4);
        let cut = SYNTHETIC_LOG.split("kernel: a line from the kernel that cut").next().unwrap();
        let mut f = follow(cut);
        f.report(&Report::Panic { message: "oops".into() });
        let not = f.figures(Outcome::KernelFailed, None).unwrap_err();
        assert_eq!(not.why, "kernel panic: oops, inside its JSON block");
        assert_eq!(
            not.tail.last().map(String::as_str),
            Some(Report::Panic { message: "oops".into() }.to_string().as_str())
        );
    }

    fn run_of(kernel: Kernel, figures: Result<Vec<Figure>, NotFinished>) -> KernelRun {
        KernelRun { kernel, figures, secs: Some(1.0) }
    }

    #[test]
    fn without_gears_the_table_has_the_sel4_columns_and_says_why() {
        let sel4 = results::from_log(SYNTHETIC_LOG).unwrap();
        let hung = NotFinished { why: "timed out after 300 s".into(), tail: vec!["kernel: boot".into()] };
        let runs = [
            run_of(Kernel::Gears, Err(hung)),
            run_of(Kernel::Sel4Fastpath, Ok(sel4.clone())),
            run_of(Kernel::Sel4NoFastpath, Ok(sel4)),
        ];
        let c = compare(&runs, &["seL4 fastpath: all 4 figures as in seL4's reference log x.log".into()]);
        assert_eq!((c.ratio, c.unfinished.as_slice()), (None, &[Kernel::Gears][..]));
        assert!(
            c.table.contains("| Gears | seL4 fastpath | seL4 without fastpath | Gears / seL4 fastpath |")
        );
        assert!(c.table.contains("| 254/254 | – | 1234.57 | 1234.57 | – |"), "{}", c.table);
        assert!(c.table.contains("\n- Gears: no figures: timed out after 300 s\n"), "{}", c.table);
        assert!(c.table.contains("\n- seL4 fastpath: all 4 figures as in"), "{}", c.table);
        assert!(
            c.table.ends_with(
                "\nipc-vs-sel4: Gears/seL4 = n/a (Call+ReplyRecv round trip, same address space, 0 words, \
                 x86_64): Gears did not finish the benchmark\n"
            ),
            "{}",
            c.table
        );
    }

    #[test]
    fn with_every_kernel_the_table_ends_with_the_ratio() {
        let sel4 = results::from_log(SYNTHETIC_LOG).unwrap();
        let mut gears = sel4.clone();
        for f in &mut gears {
            f.samples.iter_mut().for_each(|s| *s *= 3);
        }
        let runs = [
            run_of(Kernel::Gears, Ok(gears)),
            run_of(Kernel::Sel4Fastpath, Ok(sel4.clone())),
            run_of(Kernel::Sel4NoFastpath, Ok(sel4)),
        ];
        let c = compare(&runs, &[]);
        assert_eq!(c.unfinished, []);
        assert!((c.ratio.unwrap() - 3.0).abs() < 1e-9);
        assert!(c.table.contains("| 254/254 | 3703.70 | 1234.57 | 1234.57 | 3.00× |"), "{}", c.table);
        assert!(c.table.ends_with(
            "\n\nipc-vs-sel4: Gears/seL4 = 3.00× (Call+ReplyRecv round trip, same address space, 0 words, x86_64)\n"
        ));
    }

    #[test]
    fn missing_binaries_are_an_error_when_asked_for_and_a_skip_otherwise() {
        let opts = Options { dir: Some("/no/such/sel4bench".into()), ..Options::default() };
        let err = ipc_vs_sel4(&opts, false).unwrap_err().to_string();
        assert!(err.starts_with("ipc-vs-sel4: /no/such/sel4bench (--dir) lacks /no/such/sel4bench/x86_64/sel4bench-ipc-roundtrip, "), "{err}");
        assert!(err.contains("recipe/setup_sel4bench.sh"), "{err}");
        assert_eq!(ipc_vs_sel4(&opts, true).unwrap(), None);
    }

    #[test]
    fn the_timeout_is_five_minutes_unless_told() {
        assert_eq!(Options::default().timeout(), Some(Duration::from_secs(300)));
        let told = Options { timeout: Some(None), ..Options::default() };
        assert_eq!(told.timeout(), None);
    }
}
