//! `cargo xtask bench`: benchmark figures, one kind of group at a time.
//!
//! Most groups count instructions under valgrind's callgrind: each workload of the `gears-bench`
//! binary runs at two sizes N1 < N2, and the figure is (Ir(N2) − Ir(N1)) / (N2 − N1) instructions
//! per unit, which cancels the fixed cost. Counts of instructions are repeatable on a noisy shared
//! machine, where wall-clock times are not. Each kind of group is its own type:
//!
//! - [`PerUnit`]: instructions per unit of work, compared with baselines and an aim;
//! - [`Scaling`]: the same, and Ir(N) / N at a row of sizes;
//! - [`Gaps`]: the instructions between two preemption chances;
//! - [`Speed`]: states per second of two model checkers (wall clock);
//! - [`IrqLatency`]: the timer-interrupt latency of the bench kernel under QEMU;
//! - [`IpcVsSel4`]: sel4bench's IPC benchmark on Gears and on seL4 under QEMU (`crate::sel4bench`).
//!
//! To add a group: add its workloads to `bench/src/` (for the callgrind kinds) and its [`Group`]
//! to [`GROUPS`].

use anyhow::{Context as _, bail};

use crate::sel4bench;

mod gaps;
mod per_unit;
mod scaling;
mod speed;
mod workbench;

pub use gaps::Gaps;
pub use per_unit::{Aim, PerUnit};
pub use scaling::Scaling;
pub use speed::Speed;
use workbench::Workbench;

/// A benchmark group, by kind: each kind runs and tabulates its own way.
#[derive(Debug)]
pub enum Group {
    /// Instructions per unit of work under callgrind.
    PerUnit(PerUnit),
    /// Instructions per unit of work, and how they scale with N.
    Scaling(Scaling),
    /// Instructions between two preemption chances.
    Gaps(Gaps),
    /// States per second of `metagears::mc` and stateright.
    Speed(Speed),
    /// Timer-interrupt latency of the bench kernel under QEMU.
    IrqLatency(IrqLatency),
    /// sel4bench's IPC benchmark on Gears and on seL4.
    IpcVsSel4(IpcVsSel4),
}

/// The group that boots the bench kernel under QEMU `-icount` on both architectures and reports
/// the largest timer-interrupt latency during large revokes.
#[derive(Debug)]
pub struct IrqLatency {
    /// The name on the command line (`cargo xtask bench <name>`).
    pub name: &'static str,
    /// What the group measures.
    pub title: &'static str,
}

/// The group that boots sel4bench's IPC benchmark on Gears and on seL4's release kernels, with
/// and without its fastpath, and tabulates them side by side. A run of every group skips it when
/// sel4bench's binaries are not at hand; naming it asks for them.
#[derive(Debug)]
pub struct IpcVsSel4 {
    /// The name on the command line (`cargo xtask bench <name>`).
    pub name: &'static str,
    /// What the group measures.
    pub title: &'static str,
}

/// What running one group gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ran {
    /// The group's table, as printed and written to `<name>.md` (Markdown); empty if the group
    /// measured nothing (then nothing is written).
    pub table: String,
    /// The group's part of the summary line.
    pub summary: String,
    /// Why the table lacks figures it should have, if it does: the run fails after the table
    /// is printed and written.
    pub incomplete: Option<String>,
}

impl Group {
    /// The name on the command line.
    pub fn name(&self) -> &'static str {
        match self {
            Group::PerUnit(g) => g.name,
            Group::Scaling(g) => g.per_unit.name,
            Group::Gaps(g) => g.name,
            Group::Speed(g) => g.name,
            Group::IrqLatency(g) => g.name,
            Group::IpcVsSel4(g) => g.name,
        }
    }

    /// The `gears-bench` workloads the group runs under callgrind (none for the other kinds).
    pub fn workloads(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            Group::PerUnit(g) => g.workloads,
            Group::Scaling(g) => g.per_unit.workloads,
            Group::Gaps(g) => g.workloads,
            Group::Speed(_) | Group::IrqLatency(_) | Group::IpcVsSel4(_) => &[],
        }
    }

    /// What `--list` prints for the group.
    pub fn list(&self) -> String {
        match self {
            Group::PerUnit(g) => g.list(),
            Group::Scaling(g) => g.per_unit.list(),
            Group::Gaps(g) => g.list(),
            Group::Speed(g) => g.list(),
            Group::IrqLatency(g) => format!("{}: {}\n", g.name, g.title),
            Group::IpcVsSel4(g) => format!("{}: {}\n", g.name, g.title),
        }
    }

    /// Measures the group and tabulates it; `all` says that every group runs (a group that needs
    /// files from outside the repository skips itself without them).
    fn run(&self, bench: &mut Workbench, opts: &sel4bench::Options, all: bool) -> anyhow::Result<Ran> {
        match self {
            Group::PerUnit(g) => g.run(bench),
            Group::Scaling(g) => g.run(bench),
            Group::Gaps(g) => g.run(bench),
            Group::Speed(g) => g.run(),
            Group::IrqLatency(g) => Ok(Ran {
                table: crate::qemu::irq_latency_bench()?,
                summary: g.name.to_string(),
                incomplete: None,
            }),
            Group::IpcVsSel4(g) => Ok(match sel4bench::ipc_vs_sel4(opts, all)? {
                None => Ran {
                    table: String::new(),
                    summary: format!("{} skipped (no sel4bench binaries)", g.name),
                    incomplete: None,
                },
                Some(c) => {
                    let names: Vec<&str> = c.unfinished.iter().map(|k| k.name()).collect();
                    Ran {
                        table: c.table,
                        summary: match c.ratio {
                            Some(r) => format!("{} (Gears/seL4 = {r:.2}×)", g.name),
                            None => format!("{} (no Gears/seL4 ratio)", g.name),
                        },
                        incomplete: (!names.is_empty()).then(|| {
                            format!("{}: {} did not finish the benchmark", g.name, names.join(" and "))
                        }),
                    }
                }
            }),
        }
    }
}

/// Every benchmark group, in the order they run.
pub const GROUPS: &[Group] = &[
    Group::PerUnit(PerUnit {
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
        units_from_result: false,
    }),
    Group::PerUnit(PerUnit {
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
        units_from_result: false,
    }),
    Group::Scaling(Scaling {
        per_unit: PerUnit {
            name: "revoke",
            title: "revoke of N caps (children of one endpoint cap): the gear revoke vs seL4's plain loop",
            unit: "cap",
            sizes: (1 << 14, 1 << 16),
            baselines: &["revoke-plain"],
            same_result: false,
            workloads: &[
                (
                    "revoke-gears",
                    "cteRevoke as gears, Dispatcher::new(()): a preemption point after each child",
                ),
                ("revoke-gears-budget", "the same with seL4's WorkBudget(100), no interrupt pending"),
                (
                    "revoke-plain",
                    "cteRevoke/cteDelete as plain recursive loops over the same state and CDT functions",
                ),
            ],
            aim: None,
            collect: Some("*measured_revoke*"),
            units_from_result: false,
        },
        sizes: &[1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18, 1 << 20],
        result_label: "most gears between two preemption chances",
    }),
    Group::PerUnit(PerUnit {
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
        units_from_result: true,
    }),
    Group::Scaling(Scaling {
        per_unit: PerUnit {
            name: "ipc",
            title: "Call + ReplyRecv round trip on the host model (one client, one server, one message word): the fastpath's gears and the general ones",
            unit: "round trip",
            sizes: (1_000, 11_000),
            baselines: &["ipc-round-trip"],
            // The result is the gears per round trip, which the two paths differ in by design.
            same_result: false,
            workloads: &[
                (
                    "ipc-round-trip",
                    "two kernel entries through codegears::entry::handle (the fastpath's gears), Dispatcher::new(())",
                ),
                ("ipc-round-trip-budget", "the same with seL4's WorkBudget(100), no interrupt pending"),
                (
                    "ipc-round-trip-general",
                    "the same round trip through the general gears (from handle_invocation / handle_reply)",
                ),
            ],
            aim: None,
            collect: Some("*measured_round_trips*"),
            units_from_result: false,
        },
        sizes: &[1_000, 100_000],
        result_label: "gears per round trip",
    }),
    Group::Gaps(Gaps {
        name: "revoke-gaps",
        title: "instructions between two preemption chances during a revoke of N caps",
        workloads: &[(
            "revoke-gaps",
            "the gear revoke, each preemption chance (start, each preemption point, end) marked",
        )],
        sizes: &[1 << 10, 1 << 12, 1 << 14],
        collect: "*measured_revoke*",
        marker: "*preemption_chance_marker*",
        result_label: "most gears between two preemption chances",
    }),
    Group::IrqLatency(IrqLatency {
        name: "irq-latency",
        title: "largest guest instructions from a timer interrupt raised to handled during revokes of \
                2^12 and 2^16 caps, with and without preemption points (QEMU -icount shift=0, both arches)",
    }),
    Group::Speed(Speed {
        name: "philosophers",
        title: "states per second of metagears::mc and stateright on the fixed dining philosophers \
                (4 philosophers, 4 fork servers), in one run: wall clock, a ratio, never asserted",
        philosophers: "4",
    }),
    // Last: without sel4bench's binaries it skips itself, and a Gears run that does not finish
    // fails the bench only after every other group has run.
    Group::IpcVsSel4(IpcVsSel4 {
        name: "ipc-vs-sel4",
        title: "sel4bench's IPC benchmark, one binary as the root task of Gears and of seL4's release \
                kernel with and without its fastpath (x86_64, QEMU -icount shift=0): guest instructions \
                per result, and Gears/seL4 on the Call+ReplyRecv round trip",
    }),
];

/// Runs the selected groups (all if `filter` is empty) with `opts` for ipc-vs-sel4; `list` only
/// lists them.
pub fn run(filter: &[String], list: bool, opts: &sel4bench::Options) -> anyhow::Result<String> {
    let groups = select(GROUPS, filter)?;
    if *opts != sel4bench::Options::default() && !groups.iter().any(|g| matches!(g, Group::IpcVsSel4(_))) {
        bail!("--dir, --timeout and --profile are options of the ipc-vs-sel4 group, which is not selected");
    }
    if list {
        for g in &groups {
            print!("{}", g.list());
        }
        return Ok(format!("listed {} bench group(s)", groups.len()));
    }
    let mut bench = Workbench::new(&groups)?;
    let mut summary = Vec::new();
    let mut incomplete = Vec::new();
    let mut wrote = false;
    for g in &groups {
        let ran = g.run(&mut bench, opts, filter.is_empty())?;
        if !ran.table.is_empty() {
            print!("{}", ran.table);
            bench.write_table(g.name(), &ran.table)?;
            wrote = true;
        }
        summary.push(ran.summary);
        incomplete.extend(ran.incomplete);
    }
    if bench.used_callgrind() {
        println!(
            "\ntables (<group>.md) and callgrind out files (for callgrind_annotate) are in {}",
            bench.out_dir().display()
        );
    } else if wrote {
        println!("\ntables (<group>.md) are in {}", bench.out_dir().display());
    }
    if !incomplete.is_empty() {
        bail!(
            "{} (bench: {}; tables in {})",
            incomplete.join("; "),
            summary.join(", "),
            bench.out_dir().display()
        );
    }
    Ok(format!("bench: {}", summary.join(", ")))
}

/// The groups named in `filter`, in its order, or all of them.
fn select(groups: &'static [Group], filter: &[String]) -> anyhow::Result<Vec<&'static Group>> {
    if filter.is_empty() {
        return Ok(groups.iter().collect());
    }
    filter
        .iter()
        .map(|name| {
            groups.iter().find(|g| g.name() == name).with_context(|| {
                let names: Vec<_> = groups.iter().map(Group::name).collect();
                format!("unknown bench group `{name}` (one of: {})", names.join(", "))
            })
        })
        .collect()
}

/// `2^k` for a power of two, else the number.
fn pow2(n: u64) -> String {
    if n.is_power_of_two() { format!("2^{}", n.trailing_zeros()) } else { n.to_string() }
}

#[cfg(test)]
mod tests {
    use super::workbench::check_known;
    use super::*;

    #[test]
    fn groups_are_well_formed() {
        let mut names: Vec<&str> = GROUPS.iter().map(Group::name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), GROUPS.len(), "group names are unique");
        for g in GROUPS {
            let per_unit = match g {
                Group::PerUnit(p) => p,
                Group::Scaling(s) => {
                    assert!(s.per_unit.collect.is_some(), "{}: Ir(N) / N must leave set-up out", g.name());
                    assert!(!s.sizes.is_empty(), "{}", g.name());
                    &s.per_unit
                }
                Group::Gaps(gaps) => {
                    assert!(!gaps.sizes.is_empty() && !gaps.workloads.is_empty(), "{}", g.name());
                    continue;
                }
                Group::Speed(_) | Group::IrqLatency(_) | Group::IpcVsSel4(_) => continue,
            };
            assert!(per_unit.sizes.0 < per_unit.sizes.1, "{}", g.name());
            for b in per_unit.baselines {
                assert!(per_unit.workloads.iter().any(|(w, _)| w == b), "{}: baseline {b}", g.name());
            }
            if let Some(aim) = &per_unit.aim {
                assert!(per_unit.workloads.iter().any(|(w, _)| *w == aim.baseline));
                assert!(per_unit.workloads.iter().any(|(w, _)| *w == aim.workload));
            }
        }
    }

    #[test]
    fn selects_groups_by_name() {
        assert_eq!(select(GROUPS, &[]).unwrap().len(), GROUPS.len());
        assert_eq!(select(GROUPS, &["dispatcher".into()]).unwrap()[0].name(), "dispatcher");
        let picked = select(GROUPS, &["philosophers".into(), "irq-latency".into(), "revoke".into()]).unwrap();
        assert!(matches!(picked[..], [Group::Speed(_), Group::IrqLatency(_), Group::Scaling(_)]));
        let err = select(GROUPS, &["ipc-nope".into()]).unwrap_err().to_string();
        assert!(err.contains("unknown bench group `ipc-nope`") && err.contains("dispatcher"), "{err}");
        assert!(err.contains("irq-latency") && err.contains("philosophers"), "{err}");
    }

    #[test]
    fn ipc_vs_sel4_is_a_group_and_its_options_need_it() {
        let picked = select(GROUPS, &["ipc-vs-sel4".into()]).unwrap();
        assert!(matches!(picked[..], [Group::IpcVsSel4(_)]));
        assert!(
            picked[0].list().starts_with("ipc-vs-sel4: sel4bench's IPC benchmark"),
            "{}",
            picked[0].list()
        );
        assert!(matches!(GROUPS.last(), Some(Group::IpcVsSel4(_))), "it runs last");
        let opts = sel4bench::Options { dir: Some("/b".into()), ..sel4bench::Options::default() };
        let err = run(&["dispatcher".into()], true, &opts).unwrap_err().to_string();
        assert_eq!(
            err,
            "--dir, --timeout and --profile are options of the ipc-vs-sel4 group, which is not selected"
        );
        let profile = sel4bench::Options { profile: true, ..sel4bench::Options::default() };
        assert!(run(&["dispatcher".into()], true, &profile).is_err(), "--profile needs the group too");
        assert_eq!(run(&["ipc-vs-sel4".into()], true, &opts).unwrap(), "listed 1 bench group(s)");
    }

    #[test]
    fn every_group_is_listed() {
        for g in GROUPS {
            assert!(g.list().starts_with(&format!("{}: ", g.name())), "{}", g.list());
        }
        let dispatcher = GROUPS[0].list();
        assert!(dispatcher.starts_with("dispatcher: dispatcher overhead"), "{dispatcher}");
        assert!(dispatcher.contains("(per transition, N = 100000 and 1100000)\n    loop "), "{dispatcher}");
    }

    #[test]
    fn checks_workloads_against_the_binary() {
        let g = select(GROUPS, &[]).unwrap();
        let listed = "dispatcher loop\ndispatcher loop-call\ndispatcher gears\ndispatcher gears-pp-bare\ndispatcher gears-pp\n\
                      dispatcher gears-traced\ndispatcher gears-wide\nbatching gears-batch4\n\
                      batching gears-batch16\nrevoke revoke-gears\nrevoke revoke-gears-budget\nrevoke revoke-plain\nmc mc-bfs\nmc mc-dfs\n\
                      revoke revoke-gaps\nipc ipc-round-trip\nipc ipc-round-trip-budget\nipc ipc-round-trip-general\n";
        check_known(&g, listed).unwrap();
        let err = check_known(&g, "dispatcher loop\n").unwrap_err().to_string();
        assert!(err.contains("`loop-call`"), "{err}");
    }
}
