//! `cargo xtask trace <scenario>`: a scenario's gear trace, and its state-transition diagram as
//! DOT, SVG (laid out in-process) and Mermaid, written to files.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::ValueEnum;
use gears::{Dispatcher, Mode, Outcome};
use gears_tests::ialloc::{IALLOC, Xv6};
use gears_tests::sel4::{Sel4, WORD_BITS};
use gears_tests::xv6_system::{Op, Variant, Xv6System, fs_invariant, no_shared_inodes};
use metagears::diagram::GearGraph;
use metagears::mc::{Checker, GearModel};
use metagears::{InjectAt, Trace, Tracer};

use crate::Arch;

/// The scenarios `cargo xtask trace` can draw.
#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
pub enum Scenario {
    /// xv6's ialloc scanning three used inodes and taking the fourth.
    Ialloc,
    /// The same, preempted at its first preemption point under Resume, then resumed.
    IallocResumed,
    /// The kernels' traced system calls (CNode Copy, a Copy onto an occupied slot, Yield), on the
    /// host model.
    Syscall,
    /// A CNode Revoke of 6 copies, preempted at every second preemption point under Restart.
    Revoke,
    /// Every step the model checker explores in xv6's ialloc/ifree with three processes.
    McXv6,
    /// The trace the x86_64 kernel streams over its serial line (`run --trace`, release).
    #[value(name = "qemu-x86_64")]
    QemuX86_64,
    /// The trace the riscv64 kernel streams over its serial line (`run --arch riscv64 --trace`).
    #[value(name = "qemu-riscv64")]
    QemuRiscv64,
}

impl Scenario {
    fn name(self) -> String {
        self.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
    }
}

/// What a scenario produced: its trace (if one run) and the graph to draw.
struct Drawn {
    text: String,
    graph: GearGraph,
}

/// Runs `scenario` and writes `<out>/<scenario>.{trace.txt,dot,svg,mmd}`; returns a summary.
pub fn run(scenario: Scenario, out: Option<&Path>) -> anyhow::Result<String> {
    let drawn = match scenario {
        Scenario::Ialloc => from_trace(ialloc(false)),
        Scenario::IallocResumed => from_trace(ialloc(true)),
        Scenario::Syscall => from_trace(crate::model::traced_syscall()),
        Scenario::Revoke => from_trace(revoke()),
        Scenario::McXv6 => mc_xv6()?,
        Scenario::QemuX86_64 => from_trace(crate::qemu::streamed_trace(Arch::X86_64)?),
        Scenario::QemuRiscv64 => from_trace(crate::qemu::streamed_trace(Arch::Riscv64)?),
    };
    let dir: PathBuf = out.map(Path::to_path_buf).unwrap_or_else(|| crate::util::target_dir().join("traces"));
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let name = scenario.name();
    let svg = drawn.graph.to_svg().map_err(anyhow::Error::msg).context("laying out the diagram")?;
    let files = [
        (format!("{name}.trace.txt"), drawn.text),
        (format!("{name}.dot"), drawn.graph.to_dot()),
        (format!("{name}.svg"), svg),
        (format!("{name}.mmd"), drawn.graph.to_mermaid()),
    ];
    for (file, contents) in &files {
        let path = dir.join(file);
        std::fs::write(&path, contents).with_context(|| format!("could not write {}", path.display()))?;
        println!("xtask: wrote {}", path.display());
    }
    let gears = drawn.graph.nodes.len();
    let edges = drawn.graph.edges.len();
    Ok(format!("trace {name}: {gears} states, {edges} kinds of transition, in {}", dir.display()))
}

fn from_trace(trace: Trace) -> Drawn {
    Drawn { graph: GearGraph::from_trace(&trace), text: trace.to_string() }
}

fn ialloc(resumed: bool) -> Trace {
    let mut fs = Xv6::new(6, 1).with_used([1, 2, 3]);
    fs.request(0, 1, 2);
    let points: &[u64] = if resumed { &[0] } else { &[] };
    let mut d = Dispatcher::new((InjectAt::points(points.iter().copied(), Mode::Resume), Tracer::new()));
    while let Outcome::Preempted { .. } = d.run(&mut fs, &IALLOC) {}
    d.into_meta().1.take()
}

fn revoke() -> Trace {
    let mut s = Sel4::boot(8, &[20]);
    let ep = s.alloc_endpoint();
    let root = s.root();
    for _ in 0..6 {
        let slot = s.free_slot();
        let r = s.cnode_copy(root, slot, WORD_BITS, root, ep, WORD_BITS, codegears::CapRights::ALL);
        assert_eq!(r, Ok(()), "building the tree");
    }
    let req = s.request(root, abi::label::cnode::REVOKE, &[ep, WORD_BITS], &[]);
    let mut d = Dispatcher::new((InjectAt::every_nth(2, Mode::Restart), Tracer::new()));
    let (r, _) = s.run(&mut d, req);
    assert_eq!(r, Ok(()), "the revoke");
    d.into_meta().1.take()
}

fn mc_xv6() -> anyhow::Result<Drawn> {
    let scripts = vec![vec![Op::Ialloc(1), Op::Ifree], vec![Op::Ialloc(2)], vec![Op::Ialloc(3), Op::Ifree]];
    let model = GearModel::new(Xv6System::new(5, &[2], scripts, Variant::Correct));
    let report = Checker::new(model)
        .invariant("ialloc", fs_invariant)
        .invariant("no shared inodes", no_shared_inodes)
        .gear_graph(true)
        .bfs();
    let graph = report.gear_graph.clone().context("the checker gathered no gear graph")?;
    Ok(Drawn { text: report.to_string(), graph })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_scenarios_draw_what_they_ran() {
        let t = ialloc(true);
        assert!(t.to_string().contains("resume allocinode_loopcheck"));
        let r = revoke();
        assert!(r.preemptions() >= 2, "{r}");
        let g = GearGraph::from_trace(&r);
        assert!(
            g.nodes.contains_key("cte_revoke_check") || g.nodes.keys().any(|n| n.contains("revoke")),
            "{g:?}"
        );
        let mc = mc_xv6().unwrap();
        assert!(mc.graph.nodes.contains_key("allocinode_loop"));
    }

    #[test]
    fn scenario_names_are_the_documented_ones() {
        let names: Vec<String> = Scenario::value_variants().iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            ["ialloc", "ialloc-resumed", "syscall", "revoke", "mc-xv6", "qemu-x86_64", "qemu-riscv64"]
        );
        assert_eq!(Scenario::from_str("qemu-x86_64", false), Ok(Scenario::QemuX86_64));
    }

    #[test]
    fn writes_the_four_files() {
        let dir = std::env::temp_dir().join(format!("gears-xtask-trace-{}", std::process::id()));
        run(Scenario::Ialloc, Some(&dir)).unwrap();
        for ext in ["trace.txt", "dot", "svg", "mmd"] {
            let p = dir.join(format!("ialloc.{ext}"));
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(!text.is_empty(), "{}", p.display());
        }
        assert!(std::fs::read_to_string(dir.join("ialloc.svg")).unwrap().contains("<svg"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
