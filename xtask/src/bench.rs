//! `cargo xtask bench`: instructions per unit of work, counted by valgrind's callgrind.
//!
//! Each workload of the `gears-bench` binary runs under callgrind at two sizes N1 < N2; the figure
//! is (Ir(N2) − Ir(N1)) / (N2 − N1) instructions per unit, which cancels the fixed cost. Counts of
//! instructions are repeatable on a noisy shared machine, where wall-clock times are not.
//!
//! To add a group (revoke per capability, IPC round trip, interrupt latency…): add its workloads
//! to `bench/src/` and its [`Group`] to [`GROUPS`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::{callgrind, qemu, setup, util};

/// A group of workloads measured in the same unit and compared with each other.
#[derive(Debug)]
pub struct Group {
    /// The name on the command line (`cargo xtask bench <name>`).
    pub name: &'static str,
    /// What the group measures.
    pub title: &'static str,
    /// The unit of work N counts (`transition`, `capability`, `round trip`…).
    pub unit: &'static str,
    /// The two sizes N1 < N2.
    pub sizes: (u64, u64),
    /// The workloads the others are compared with (a ratio column each).
    pub baselines: &'static [&'static str],
    /// Whether every workload must print the same result for the same N (a check that they do the
    /// same work).
    pub same_result: bool,
    /// The workloads: name in `gears-bench`, and what it is.
    pub workloads: &'static [(&'static str, &'static str)],
    /// The target the group is measured against, if any.
    pub aim: Option<Aim>,
    /// Count only inside functions matching this callgrind `--toggle-collect` pattern (so set-up
    /// such as building a derivation tree is not counted); `None` counts the whole run.
    pub collect: Option<&'static str>,
    /// Sizes at which to report Ir(N) / N as well, to show how the cost per unit scales with N
    /// (meaningful with `collect`, which leaves set-up out); empty for none.
    pub scaling: &'static [u64],
    /// What each workload prints, when it is a figure worth a column (e.g. the largest number of
    /// gears between two preemption chances), shown in the scaling table.
    pub result_label: Option<&'static str>,
    /// Whether the units of work are what each workload prints (e.g. the distinct states a
    /// bounded model-checking run reached) rather than N.
    pub units_from_result: bool,
    /// A function the workloads call at every preemption chance: the group is then measured gap
    /// by gap (callgrind dumps its counters each time the function is entered, counting only
    /// inside `collect`), and the table gives the longest and the mean gap at each scaling size.
    pub gap_marker: Option<&'static str>,
}

/// A target: `workload` within `max_ratio` times `baseline`.
#[derive(Debug)]
pub struct Aim {
    /// The workload the aim is about.
    pub workload: &'static str,
    /// The workload it is measured against.
    pub baseline: &'static str,
    /// The largest acceptable ratio to the baseline.
    pub max_ratio: f64,
}

/// Every benchmark group, in the order they run.
pub const GROUPS: &[Group] = &[
    Group {
        name: "dispatcher",
        title: "dispatcher overhead: a chain of N gear transitions vs the same work as a plain loop",
        unit: "transition",
        sizes: (100_000, 1_100_000),
        baselines: &["loop", "loop-call"],
        same_result: true,
        workloads: &[
            ("loop", "plain while loop, same body (acc = acc.rotl(5) ^ table[i & 1023]; i += 1)"),
            ("loop-call", "plain loop calling the body as an out-of-line fn on a state struct"),
            ("gears", "Dispatcher::new(()), Next::Goto to the same gear"),
            ("gears-pp-bare", "Dispatcher::new(()), every transition a Next::Preempt"),
            ("gears-pp", "every transition a Next::Preempt, WorkBudget(100, never pending, Restart)"),
            ("gears-traced", "Next::Goto, metagears::Tracer recording one event per transition"),
            ("gears-wide", "as `gears`, but Output = [u64; 3]: a 32-byte Next returned through memory"),
        ],
        aim: Some(Aim { workload: "gears", baseline: "loop", max_ratio: 2.0 }),
        collect: None,
        scaling: &[],
        result_label: None,
        units_from_result: false,
        gap_marker: None,
    },
    Group {
        name: "batching",
        title: "amortising the dispatcher: K units of work per transition (a bounded loop in the gear)",
        unit: "unit of work",
        sizes: (100_000, 1_100_000),
        baselines: &["loop"],
        same_result: true,
        workloads: &[
            ("loop", "plain while loop, same body"),
            ("gears", "K = 1: one unit per transition, Dispatcher::new(())"),
            ("gears-batch4", "K = 4 units per transition, Dispatcher::new(())"),
            ("gears-batch16", "K = 16 units per transition, Dispatcher::new(())"),
        ],
        aim: None,
        collect: None,
        scaling: &[],
        result_label: None,
        units_from_result: false,
        gap_marker: None,
    },
    Group {
        name: "revoke",
        title: "revoke of N caps (children of one endpoint cap): the gear revoke vs seL4's plain loop",
        unit: "cap",
        sizes: (1 << 14, 1 << 16),
        baselines: &["revoke-plain"],
        same_result: false,
        workloads: &[
            ("revoke-gears", "cteRevoke as gears, Dispatcher::new(()): a preemption point after each child"),
            ("revoke-gears-budget", "the same with seL4's WorkBudget(100), no interrupt pending"),
            (
                "revoke-plain",
                "cteRevoke/cteDelete as plain recursive loops over the same state and CDT functions",
            ),
        ],
        aim: None,
        collect: Some("*measured_revoke*"),
        scaling: &[1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20],
        result_label: Some("most gears between two preemption chances"),
        units_from_result: false,
        gap_marker: None,
    },
    Group {
        name: "mc",
        title: "model checking xv6's ialloc/ifree, 3 processes x 5 operations (35,454 states in all)",
        unit: "distinct state",
        sizes: (10_000, 30_000),
        baselines: &["mc-bfs"],
        same_result: false,
        workloads: &[
            ("mc-bfs", "breadth-first, one thread, fingerprints, both invariants in every state"),
            ("mc-dfs", "depth-first, the same checks"),
        ],
        aim: None,
        collect: None,
        scaling: &[],
        result_label: None,
        units_from_result: true,
        gap_marker: None,
    },
    Group {
        name: "ipc",
        title: "Call + ReplyRecv round trip on the host model (one client, one server, one message word)",
        unit: "round trip",
        sizes: (1_000, 11_000),
        baselines: &["ipc-round-trip"],
        same_result: true,
        workloads: &[
            ("ipc-round-trip", "two system calls from handle_syscall, Dispatcher::new(())"),
            ("ipc-round-trip-budget", "the same with seL4's WorkBudget(100), no interrupt pending"),
        ],
        aim: None,
        collect: Some("*measured_round_trips*"),
        scaling: &[1_000, 100_000],
        result_label: Some("gears per round trip"),
        units_from_result: false,
        gap_marker: None,
    },
    Group {
        name: "revoke-gaps",
        title: "instructions between two preemption chances during a revoke of N caps",
        unit: "gap",
        sizes: (1 << 10, 1 << 12),
        baselines: &[],
        same_result: false,
        workloads: &[(
            "revoke-gaps",
            "the gear revoke, each preemption chance (start, each preemption point, end) marked",
        )],
        aim: None,
        collect: Some("*measured_revoke*"),
        scaling: &[1 << 10, 1 << 12, 1 << 14],
        result_label: Some("most gears between two preemption chances"),
        units_from_result: false,
        gap_marker: Some("*preemption_chance_marker*"),
    },
];

/// One workload's measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The workload's name.
    pub workload: &'static str,
    /// Total instructions at N1 and N2.
    pub ir: (u64, u64),
    /// What the workload printed at N1 and N2.
    pub result: (String, String),
    /// Instructions per unit.
    pub per_unit: f64,
}

/// Runs the selected groups (all if `filter` is empty); `list` only lists them.
pub fn run(filter: &[String], list: bool) -> anyhow::Result<String> {
    // The QEMU group is not a callgrind group: it boots the kernel under `-icount`.
    let irq = filter.is_empty() || filter.iter().any(|f| f == qemu::IRQ_LATENCY_GROUP);
    // Nor is the philosophers group: wall-clock states per second of two model checkers.
    let phil = filter.is_empty() || filter.iter().any(|f| f == PHILOSOPHERS_GROUP);
    let rest: Vec<String> = filter
        .iter()
        .filter(|f| *f != qemu::IRQ_LATENCY_GROUP && *f != PHILOSOPHERS_GROUP)
        .cloned()
        .collect();
    let groups = if !filter.is_empty() && rest.is_empty() { Vec::new() } else { select(GROUPS, &rest)? };
    if list {
        for g in &groups {
            println!("{}: {} (per {}, N = {} and {})", g.name, g.title, g.unit, g.sizes.0, g.sizes.1);
            for (w, what) in g.workloads {
                println!("    {w:<16} {what}");
            }
        }
        if irq {
            println!("{}: {}", qemu::IRQ_LATENCY_GROUP, qemu::IRQ_LATENCY_TITLE);
        }
        if phil {
            println!("{PHILOSOPHERS_GROUP}: {PHILOSOPHERS_TITLE}");
        }
        return Ok(format!("listed {} bench group(s)", groups.len() + usize::from(irq) + usize::from(phil)));
    }
    let mut summary = Vec::new();
    if !groups.is_empty() {
        summary.push(run_callgrind_groups(&groups)?);
    }
    if irq {
        let out_dir = util::target_dir().join("xtask-bench");
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("could not create {}", out_dir.display()))?;
        let t = qemu::irq_latency_bench()?;
        print!("{t}");
        let report = out_dir.join(format!("{}.md", qemu::IRQ_LATENCY_GROUP));
        std::fs::write(&report, &t).with_context(|| format!("could not write {}", report.display()))?;
        summary.push(format!("bench: {}", qemu::IRQ_LATENCY_GROUP));
    }
    if phil {
        let out_dir = util::target_dir().join("xtask-bench");
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("could not create {}", out_dir.display()))?;
        let t = philosophers_bench()?;
        print!("{t}");
        let report = out_dir.join(format!("{PHILOSOPHERS_GROUP}.md"));
        std::fs::write(&report, &t).with_context(|| format!("could not write {}", report.display()))?;
        summary.push(format!("bench: {PHILOSOPHERS_GROUP}"));
    }
    Ok(summary.join("; "))
}

/// The group comparing two model checkers' speed (wall clock, not callgrind).
pub const PHILOSOPHERS_GROUP: &str = "philosophers";
/// Its title for `--list`.
pub const PHILOSOPHERS_TITLE: &str = "states per second of metagears::mc and stateright on the fixed dining \
     philosophers (4 philosophers, 4 fork servers), in one run: wall clock, a ratio, never asserted";
/// How many philosophers the figures are taken on.
const PHILOSOPHERS: &str = "4";

/// One `figure|checker|model|threads|states|seconds` line of the philosophers' speed test.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeedFigure {
    /// Which checker and search.
    pub checker: String,
    /// Which model of the philosophers: the seL4 gears or the abstract one.
    pub model: String,
    /// Worker threads.
    pub threads: usize,
    /// Distinct states found.
    pub states: u64,
    /// Wall-clock seconds.
    pub secs: f64,
}

impl SpeedFigure {
    /// Parses a `figure|…` line; `None` for any other line.
    pub fn parse(line: &str) -> Option<SpeedFigure> {
        let mut f = line.trim().strip_prefix("figure|")?.split('|');
        let (checker, model) = (f.next()?.to_string(), f.next()?.to_string());
        let threads = f.next()?.parse().ok()?;
        let states = f.next()?.parse().ok()?;
        let secs = f.next()?.parse().ok()?;
        Some(SpeedFigure { checker, model, threads, states, secs })
    }

    /// States per second.
    pub fn rate(&self) -> f64 {
        self.states as f64 / self.secs.max(1e-9)
    }
}

/// The table of the philosophers' figures, each with its ratio to stateright on one thread.
pub fn philosophers_table(figures: &[SpeedFigure]) -> String {
    let base =
        figures.iter().find(|f| f.checker.starts_with("stateright") && f.threads == 1).map(SpeedFigure::rate);
    let mut t = String::from(
        "\nmodel checking the fixed dining philosophers: states per second (wall clock, one run on this \
         machine, release build; a figure, never asserted)\n\n\
         | checker | model | threads | distinct states | seconds | states/s | vs stateright, 1 thread |\n\
         |---|---|--:|--:|--:|--:|--:|\n",
    );
    for f in figures {
        let ratio = base.map_or("-".to_string(), |b| format!("{:.2}x", f.rate() / b));
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {:.4} | {:.0} | {ratio} |",
            f.checker,
            f.model,
            f.threads,
            f.states,
            f.secs,
            f.rate()
        );
    }
    t.push_str(
        "\nBoth checkers explore the same abstract model (every count is asserted equal by the test); \
         `seL4 gears` is our checker running every system call on the real codegears gears.\n",
    );
    t
}

/// Runs the philosophers' speed test in release mode and tabulates its figures.
fn philosophers_bench() -> anyhow::Result<String> {
    let mut cmd = Command::new(util::cargo_bin());
    cmd.current_dir(util::root()).env("GEARS_PHILOSOPHERS", PHILOSOPHERS).args([
        "test",
        "--release",
        "--quiet",
        "-p",
        "gears-tests",
        "--test",
        "mc_philosophers",
        "--",
        "--exact",
        "speed_figures_of_both_checkers",
        "--nocapture",
        "--test-threads=1",
    ]);
    let out = util::output(&mut cmd)?;
    let figures: Vec<SpeedFigure> = out.lines().filter_map(SpeedFigure::parse).collect();
    if figures.is_empty() {
        bail!("the philosophers' speed test printed no figures");
    }
    Ok(philosophers_table(&figures))
}

/// Runs the callgrind groups.
fn run_callgrind_groups(groups: &[&Group]) -> anyhow::Result<String> {
    setup::ensure_apt_tool("valgrind", "valgrind")?;
    util::cargo(&["build", "--release", "--quiet", "-p", "gears-bench"])?;
    let bin = util::target_dir().join("release").join("gears-bench");
    let known = util::output(Command::new(&bin).arg("list")).context("could not list the bench workloads")?;
    check_known(groups, &known)?;
    let out_dir = util::target_dir().join("xtask-bench");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("could not create {}", out_dir.display()))?;

    let mut summary = Vec::new();
    for g in groups {
        if let Some(marker) = g.gap_marker {
            let t = gaps_table(g, &bin, &out_dir, marker)?;
            print!("{t}");
            let report = out_dir.join(format!("{}.md", g.name));
            std::fs::write(&report, &t).with_context(|| format!("could not write {}", report.display()))?;
            summary.push(g.name.to_string());
            continue;
        }
        let measured = g
            .workloads
            .iter()
            .map(|(w, _)| measure(&bin, &out_dir, w, g.sizes, g.collect, g.units_from_result))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if g.same_result {
            check_same_result(&measured)?;
        }
        let mut t = table(g, &measured);
        if !g.scaling.is_empty() {
            let scaled = g
                .workloads
                .iter()
                .map(|(w, _)| scale(&bin, &out_dir, w, g.scaling, g.collect))
                .collect::<anyhow::Result<Vec<_>>>()?;
            t.push_str(&scaling_table(g, &scaled));
        }
        print!("{t}");
        let report = out_dir.join(format!("{}.md", g.name));
        std::fs::write(&report, &t).with_context(|| format!("could not write {}", report.display()))?;
        summary.push(match aim_verdict(g, &measured) {
            Some((ratio, met)) => {
                format!("{} ({ratio:.2}x, aim {})", g.name, if met { "met" } else { "NOT met" })
            }
            None => g.name.to_string(),
        });
    }
    println!(
        "\ntables (<group>.md) and callgrind out files (for callgrind_annotate) are in {}",
        out_dir.display()
    );
    Ok(format!("bench: {}", summary.join(", ")))
}

/// The groups named in `filter`, or all of them.
fn select<'g>(groups: &'g [Group], filter: &[String]) -> anyhow::Result<Vec<&'g Group>> {
    if filter.is_empty() {
        return Ok(groups.iter().collect());
    }
    filter
        .iter()
        .map(|name| {
            groups.iter().find(|g| g.name == name).with_context(|| {
                let names: Vec<_> = groups.iter().map(|g| g.name).collect();
                format!("unknown bench group `{name}` (one of: {})", names.join(", "))
            })
        })
        .collect()
}

/// Fails if a group names a workload the bench binary does not have (`gears-bench list` prints
/// `<group> <workload>` lines).
fn check_known(groups: &[&Group], listed: &str) -> anyhow::Result<()> {
    let known: Vec<&str> = listed.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    for g in groups {
        for (w, _) in g.workloads {
            if !known.contains(w) {
                bail!("bench group `{}` names workload `{w}`, which gears-bench does not have", g.name);
            }
        }
    }
    Ok(())
}

fn measure(
    bin: &Path,
    out_dir: &Path,
    workload: &'static str,
    (n1, n2): (u64, u64),
    collect: Option<&str>,
    units_from_result: bool,
) -> anyhow::Result<Measured> {
    let (ir1, r1) = callgrind_run(bin, out_dir, workload, n1, collect)?;
    let (ir2, r2) = callgrind_run(bin, out_dir, workload, n2, collect)?;
    let (u1, u2) = if units_from_result {
        let units = |r: &str| {
            r.parse::<u64>()
                .with_context(|| format!("workload `{workload}` printed `{r}`, not a count of units"))
        };
        (units(&r1)?, units(&r2)?)
    } else {
        (n1, n2)
    };
    let per_unit = callgrind::per_unit(u1, ir1, u2, ir2).with_context(|| format!("workload `{workload}`"))?;
    Ok(Measured { workload, ir: (ir1, ir2), result: (r1, r2), per_unit })
}

/// One workload measured at each of a group's scaling sizes: (N, Ir(N), what it printed).
#[derive(Clone, Debug, PartialEq)]
pub struct Scaled {
    /// The workload's name.
    pub workload: &'static str,
    /// Each size, the instructions counted at it and what the workload printed.
    pub points: Vec<(u64, u64, String)>,
}

fn scale(
    bin: &Path,
    out_dir: &Path,
    workload: &'static str,
    sizes: &[u64],
    collect: Option<&str>,
) -> anyhow::Result<Scaled> {
    let points = sizes
        .iter()
        .map(|&n| callgrind_run(bin, out_dir, workload, n, collect).map(|(ir, r)| (n, ir, r)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Scaled { workload, points })
}

/// The scaling table of a group: Ir(N) / N for each size, and the printed figure if labelled.
pub fn scaling_table(g: &Group, scaled: &[Scaled]) -> String {
    let mut s = String::new();
    let Some(first) = scaled.first() else { return s };
    let _ = writeln!(
        s,
        "\ninstructions per {} = Ir(N) / N, counted only in `{}`{}\n",
        g.unit,
        g.collect.unwrap_or("the whole run"),
        g.result_label.map(|l| format!("; in brackets: {l}")).unwrap_or_default()
    );
    let _ = write!(s, "| {:<20} |", "workload \\ N");
    for (n, _, _) in &first.points {
        let _ = write!(s, " {:>12} |", pow2(*n));
    }
    let _ = writeln!(s);
    let _ = write!(s, "|{:-<22}|", "");
    for _ in &first.points {
        let _ = write!(s, "{:->13}:|", "");
    }
    let _ = writeln!(s);
    for w in scaled {
        let _ = write!(s, "| {:<20} |", w.workload);
        for (n, ir, printed) in &w.points {
            let per = *ir as f64 / (*n).max(1) as f64;
            let cell = match g.result_label {
                Some(_) => format!("{per:.1} [{printed}]"),
                None => format!("{per:.1}"),
            };
            let _ = write!(s, " {cell:>12} |");
        }
        let _ = writeln!(s);
    }
    for b in g.baselines {
        let Some(base) = scaled.iter().find(|w| w.workload == *b) else { continue };
        for w in scaled.iter().filter(|w| w.workload != *b) {
            let ratios: Vec<String> = w
                .points
                .iter()
                .zip(&base.points)
                .map(|((n, ir, _), (_, bir, _))| {
                    format!("{}: {:.2}x", pow2(*n), *ir as f64 / (*bir).max(1) as f64)
                })
                .collect();
            let _ = writeln!(s, "\n`{}` vs `{b}`: {}", w.workload, ratios.join(", "));
        }
    }
    s
}

/// The longest and the mean gap between preemption chances of each workload at each scaling size.
fn gaps_table(g: &Group, bin: &Path, out_dir: &Path, marker: &str) -> anyhow::Result<String> {
    let mut s = String::new();
    let _ = writeln!(s, "\n## {}: {}", g.name, g.title);
    let _ = writeln!(
        s,
        "instructions per gap: callgrind dumps its counters at each `{marker}`, counting only in `{}`{}\n",
        g.collect.unwrap_or("the whole run"),
        g.result_label.map(|l| format!("; in brackets: {l}")).unwrap_or_default()
    );
    let _ = writeln!(
        s,
        "| {:<14} | {:>8} | {:>14} | {:>10} | {:>10} |",
        "workload", "N", "longest gap", "mean gap", "gaps"
    );
    let _ = writeln!(s, "|{:-<16}|{:->9}:|{:->15}:|{:->11}:|{:->11}:|", "", "", "", "", "");
    for (w, _) in g.workloads {
        for &n in g.scaling {
            let (gaps, printed) = gap_run(bin, out_dir, w, n, g.collect, marker)?;
            let _ = writeln!(s, "{}", gap_row(w, n, &gaps, g.result_label.map(|_| printed.as_str())));
        }
    }
    Ok(s)
}

/// One row of a gaps table: the longest gap (with the printed figure in brackets), the mean, how many.
fn gap_row(workload: &str, n: u64, gaps: &[u64], printed: Option<&str>) -> String {
    let longest = gaps.iter().copied().max().unwrap_or(0);
    let mean = gaps.iter().sum::<u64>() as f64 / gaps.len().max(1) as f64;
    let label = printed.map(|p| format!(" [{p}]")).unwrap_or_default();
    format!(
        "| {workload:<14} | {:>8} | {:>14} | {mean:>10.1} | {:>10} |",
        pow2(n),
        format!("{longest}{label}"),
        gaps.len()
    )
}

/// Runs `bin workload n` under callgrind with a dump at each marker; returns each gap's
/// instructions (one per dump) and what the workload printed. The dumps are removed afterwards.
fn gap_run(
    bin: &Path,
    out_dir: &Path,
    workload: &str,
    n: u64,
    collect: Option<&str>,
    marker: &str,
) -> anyhow::Result<(Vec<u64>, String)> {
    let dir = out_dir.join(format!("{workload}.{n}.gaps"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("could not clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind")
        .arg("--quiet")
        .arg(format!("--callgrind-out-file={}", dir.join("cg").display()))
        .arg("--collect-atstart=no")
        .arg(format!("--dump-before={marker}"));
    if let Some(pattern) = collect {
        cmd.arg(format!("--toggle-collect={pattern}"));
    }
    cmd.arg(bin).arg(workload).arg(n.to_string());
    eprintln!("xtask: $ {}", util::show(&cmd));
    let printed = util::output(&mut cmd)?.trim().to_string();
    let mut gaps = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("could not read {}", dir.display()))? {
        let path = entry?.path();
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("could not read {}", path.display()))?;
        gaps.push(callgrind::total_ir(&text).with_context(|| format!("in {}", path.display()))?);
    }
    std::fs::remove_dir_all(&dir).with_context(|| format!("could not remove {}", dir.display()))?;
    if gaps.len() < 2 {
        bail!("workload `{workload}` never reached `{marker}`: no gaps to measure");
    }
    Ok((gaps, printed))
}

/// `2^k` for a power of two, else the number.
fn pow2(n: u64) -> String {
    if n.is_power_of_two() { format!("2^{}", n.trailing_zeros()) } else { n.to_string() }
}

/// Runs `bin workload n` under callgrind (counting only inside `collect`'s functions if given);
/// returns the total Ir and what it printed.
fn callgrind_run(
    bin: &Path,
    out_dir: &Path,
    workload: &str,
    n: u64,
    collect: Option<&str>,
) -> anyhow::Result<(u64, String)> {
    let out_file: PathBuf = out_dir.join(format!("{workload}.{n}.callgrind"));
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=callgrind").arg("--quiet").arg(format!("--callgrind-out-file={}", out_file.display()));
    if let Some(pattern) = collect {
        cmd.arg(format!("--toggle-collect={pattern}"));
    }
    cmd.arg(bin).arg(workload).arg(n.to_string());
    eprintln!("xtask: $ {}", util::show(&cmd));
    let printed = util::output(&mut cmd)?.trim().to_string();
    let text = std::fs::read_to_string(&out_file)
        .with_context(|| format!("could not read callgrind output {}", out_file.display()))?;
    let ir = callgrind::total_ir(&text).with_context(|| format!("in {}", out_file.display()))?;
    Ok((ir, printed))
}

/// Fails unless every workload printed the same result at each size.
fn check_same_result(measured: &[Measured]) -> anyhow::Result<()> {
    if measured.iter().any(|m| m.result != measured[0].result) {
        let got: Vec<_> = measured.iter().map(|m| format!("{} → {:?}", m.workload, m.result)).collect();
        bail!("the workloads disagree on their results, so they do not do the same work: {}", got.join("; "));
    }
    Ok(())
}

/// The ratio of the aim's workload to the baseline, and whether it is within the aim.
fn aim_verdict(g: &Group, measured: &[Measured]) -> Option<(f64, bool)> {
    let aim = g.aim.as_ref()?;
    let ratio = ratio(measured, aim.baseline, aim.workload)?;
    Some((ratio, ratio <= aim.max_ratio))
}

fn ratio(measured: &[Measured], baseline: &str, workload: &str) -> Option<f64> {
    let base = measured.iter().find(|m| m.workload == baseline)?.per_unit;
    let w = measured.iter().find(|m| m.workload == workload)?.per_unit;
    (base > 0.0).then(|| w / base)
}

/// The table of one group, as printed (Markdown).
pub fn table(g: &Group, measured: &[Measured]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "\n## {}: {}", g.name, g.title);
    let _ = writeln!(
        s,
        "instructions per {} = (Ir(N2) - Ir(N1)) / ({}), callgrind, N1 = {}, N2 = {}\n",
        g.unit,
        if g.units_from_result { "units reached at N2 - units reached at N1" } else { "N2 - N1" },
        g.sizes.0,
        g.sizes.1
    );
    let col = format!("Ir/{}", g.unit);
    let width = col.len().max(10);
    let vs: Vec<String> = g.baselines.iter().map(|b| format!("vs {b}")).collect();
    let _ = write!(s, "| {:<16} | {col:>width$} |", "workload");
    for v in &vs {
        let _ = write!(s, " {v:>9} |");
    }
    let _ = writeln!(s, " what");
    let _ = write!(s, "|{:-<18}|{:->w1$}:|", "", "", w1 = width + 1);
    for v in &vs {
        let _ = write!(s, "{:->w$}:|", "", w = v.len().max(9) + 1);
    }
    let _ = writeln!(s, "---");
    for m in measured {
        let what = g.workloads.iter().find(|(w, _)| *w == m.workload).map(|(_, d)| *d).unwrap_or("");
        let _ = write!(s, "| {:<16} | {:>width$.2} |", m.workload, m.per_unit);
        for (b, v) in g.baselines.iter().zip(&vs) {
            let cell = ratio(measured, b, m.workload).map(|r| format!("{r:.2}x")).unwrap_or("-".into());
            let _ = write!(s, " {cell:>w$} |", w = v.len().max(9));
        }
        let _ = writeln!(s, " {what}");
    }
    if let Some(aim) = &g.aim {
        let verdict = match aim_verdict(g, measured) {
            Some((r, met)) => format!("{} ({r:.2}x)", if met { "MET" } else { "NOT MET" }),
            None => "not measured".to_string(),
        };
        let _ = writeln!(
            s,
            "\naim: `{}` within {:.1}x of `{}`: {verdict}",
            aim.workload, aim.max_ratio, aim.baseline
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(workload: &'static str, per_unit: f64) -> Measured {
        Measured { workload, ir: (0, 0), result: ("1".into(), "2".into()), per_unit }
    }

    #[test]
    fn groups_are_well_formed() {
        for g in GROUPS {
            assert!(g.sizes.0 < g.sizes.1, "{}", g.name);
            for b in g.baselines {
                assert!(g.workloads.iter().any(|(w, _)| w == b), "{}: baseline {b}", g.name);
            }
            if let Some(aim) = &g.aim {
                assert!(g.workloads.iter().any(|(w, _)| *w == aim.baseline));
                assert!(g.workloads.iter().any(|(w, _)| *w == aim.workload));
            }
        }
    }

    #[test]
    fn scaling_table_shows_per_unit_figures_and_ratios() {
        let g = GROUPS.iter().find(|g| g.name == "revoke").unwrap();
        let w = |workload, irs: [u64; 2], printed: &str| Scaled {
            workload,
            points: vec![(1024, irs[0], printed.into()), (4096, irs[1], printed.into())],
        };
        let t = scaling_table(
            g,
            &[
                w("revoke-gears", [2048 * 10, 4096 * 40], "14"),
                w("revoke-plain", [1024 * 10, 4096 * 10], "0"),
            ],
        );
        assert!(t.contains("| revoke-gears         |    20.0 [14] |    40.0 [14] |"), "{t}");
        assert!(t.contains("`revoke-gears` vs `revoke-plain`: 2^10: 2.00x, 2^12: 4.00x"), "{t}");
        assert!(t.contains("counted only in `*measured_revoke*`"), "{t}");
    }

    #[test]
    fn gap_rows_give_the_longest_and_the_mean() {
        let row = gap_row("revoke-gaps", 1024, &[526, 1613, 992, 990], Some("14"));
        assert_eq!(row, "| revoke-gaps    |     2^10 |      1613 [14] |     1030.2 |          4 |");
    }

    #[test]
    fn philosophers_figures_are_parsed_and_tabulated() {
        let f = SpeedFigure::parse("figure|stateright BFS|abstract|1|39058|0.5").unwrap();
        assert_eq!((f.threads, f.states, f.rate()), (1, 39058, 78116.0));
        assert_eq!(SpeedFigure::parse("test speed ... ok"), None);
        let g = SpeedFigure::parse("figure|metagears::mc BFS|seL4 gears|2|39058|2.0").unwrap();
        let t = philosophers_table(&[f, g]);
        assert!(t.contains("| stateright BFS | abstract | 1 | 39058 | 0.5000 | 78116 | 1.00x |"), "{t}");
        assert!(t.contains("| metagears::mc BFS | seL4 gears | 2 | 39058 | 2.0000 | 19529 | 0.25x |"), "{t}");
    }

    #[test]
    fn selects_groups_by_name() {
        assert_eq!(select(GROUPS, &[]).unwrap().len(), GROUPS.len());
        assert_eq!(select(GROUPS, &["dispatcher".into()]).unwrap()[0].name, "dispatcher");
        let err = select(GROUPS, &["ipc-nope".into()]).unwrap_err().to_string();
        assert!(err.contains("unknown bench group `ipc-nope`") && err.contains("dispatcher"), "{err}");
    }

    #[test]
    fn checks_workloads_against_the_binary() {
        let g = select(GROUPS, &[]).unwrap();
        let listed = "dispatcher loop\ndispatcher loop-call\ndispatcher gears\ndispatcher gears-pp-bare\ndispatcher gears-pp\n\
                      dispatcher gears-traced\ndispatcher gears-wide\nbatching gears-batch4\n\
                      batching gears-batch16\nrevoke revoke-gears\nrevoke revoke-gears-budget\nrevoke revoke-plain\nmc mc-bfs\nmc mc-dfs\n\
                      revoke revoke-gaps\nipc ipc-round-trip\nipc ipc-round-trip-budget\n";
        check_known(&g, listed).unwrap();
        let err = check_known(&g, "dispatcher loop\n").unwrap_err().to_string();
        assert!(err.contains("`loop-call`"), "{err}");
    }

    #[test]
    fn verdict_and_table() {
        let g = &GROUPS[0];
        let ms = vec![
            m("loop", 4.0),
            m("loop-call", 6.0),
            m("gears", 7.0),
            m("gears-pp-bare", 8.0),
            m("gears-pp", 9.0),
            m("gears-traced", 40.0),
        ];
        assert_eq!(aim_verdict(g, &ms), Some((1.75, true)));
        let t = table(g, &ms);
        assert!(t.contains("| gears            |"), "{t}");
        assert!(t.contains("1.75x"), "{t}");
        assert!(t.contains("10.00x"), "{t}");
        assert!(t.contains("aim: `gears` within 2.0x of `loop`: MET (1.75x)"), "{t}");
        let slow = vec![m("loop", 4.0), m("gears", 9.0)];
        assert_eq!(aim_verdict(g, &slow), Some((2.25, false)));
        assert!(table(g, &slow).contains("NOT MET (2.25x)"));
    }

    #[test]
    fn same_result_check() {
        let ok = vec![m("loop", 1.0), m("gears", 2.0)];
        check_same_result(&ok).unwrap();
        let mut bad = ok.clone();
        bad[1].result.1 = "3".into();
        let err = check_same_result(&bad).unwrap_err().to_string();
        assert!(err.contains("disagree"), "{err}");
    }
}
