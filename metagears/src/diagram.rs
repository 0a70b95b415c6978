//! State-transition diagrams of gear traces: DOT, Mermaid, and SVG rendered in-process.
//!
//! Gear names are the labels of a state-transition diagram (STYLE.md): a [`GearGraph`] gathers
//! the transitions of one or more traces into nodes (gears, plus `start`, `exit`, `fail` and
//! `preempted`) and edges counted by kind, and writes them out. Plain transitions are solid
//! edges, transitions across a preemption point are dashed and marked `pp`. Nodes are gear names,
//! so gears named alike in two modules share a node.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use core::fmt::Write as _;

use crate::trace::{EventKind, Trace};

/// The pseudo-node a run starts from.
pub const START: &str = "start";
/// The pseudo-node of an operation that exited with a result.
pub const EXIT: &str = "exit";
/// The pseudo-node of an operation that failed with an error.
pub const FAIL: &str = "fail";
/// The pseudo-node of a preempted operation (resumed runs leave it).
pub const PREEMPTED: &str = "preempted";

/// The kind of an edge of a [`GearGraph`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum EdgeKind {
    /// A plain `Goto`.
    Goto,
    /// A transition across a declared preemption point.
    Point,
    /// A run starting at an entry gear, or resuming a saved continuation.
    Start,
    /// The operation leaving the kernel (exit or fail).
    End,
    /// The operation being preempted.
    Preempt,
}

/// The gears a set of traces visited and the transitions between them, with counts.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct GearGraph {
    /// Each node (gear or pseudo-node) and how many times it was entered.
    pub nodes: BTreeMap<String, u64>,
    /// Each edge (from, to, kind) and how many times it was taken.
    pub edges: BTreeMap<(String, String, EdgeKind), u64>,
}

impl GearGraph {
    /// The graph of one trace.
    pub fn from_trace(trace: &Trace) -> Self {
        let mut g = GearGraph::default();
        g.add_trace(trace);
        g
    }

    /// Adds the transitions of `trace`.
    pub fn add_trace(&mut self, trace: &Trace) {
        for e in &trace.events {
            let gear = e.gear.to_string();
            match &e.kind {
                EventKind::Start { resumed: false } => self.edge(START, &gear, EdgeKind::Start),
                EventKind::Start { resumed: true } => self.edge(PREEMPTED, &gear, EdgeKind::Start),
                EventKind::Goto(to) => self.edge(&gear, to, EdgeKind::Goto),
                EventKind::Point(to) => self.edge(&gear, to, EdgeKind::Point),
                EventKind::Exit(_) => self.edge(&gear, EXIT, EdgeKind::End),
                EventKind::Fail(_) => self.edge(&gear, FAIL, EdgeKind::End),
                EventKind::Preempted(..) => {
                    // The Point event before it already counted the edge to the next gear.
                    self.remove_last_point(&gear, &e.kind);
                    self.edge(&gear, PREEMPTED, EdgeKind::Preempt);
                }
            }
        }
    }

    /// Adds the nodes and edges of `other` into this graph, summing their counts: the graph of
    /// the traces of both.
    pub fn merge(&mut self, other: &GearGraph) {
        for (node, n) in &other.nodes {
            *self.nodes.entry(node.clone()).or_insert(0) += n;
        }
        for (edge, n) in &other.edges {
            *self.edges.entry(edge.clone()).or_insert(0) += n;
        }
    }

    fn remove_last_point(&mut self, gear: &str, kind: &EventKind) {
        if let EventKind::Preempted(to, _) = kind {
            let key = (gear.to_string(), to.to_string(), EdgeKind::Point);
            if let Some(n) = self.edges.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.edges.remove(&key);
                }
            }
            if let Some(n) = self.nodes.get_mut(&**to) {
                *n = n.saturating_sub(1);
            }
        }
    }

    fn edge(&mut self, from: &str, to: &str, kind: EdgeKind) {
        self.nodes.entry(from.to_string()).or_insert(0);
        *self.nodes.entry(to.to_string()).or_insert(0) += 1;
        *self.edges.entry((from.to_string(), to.to_string(), kind)).or_insert(0) += 1;
    }

    fn is_pseudo(node: &str) -> bool {
        matches!(node, START | EXIT | FAIL | PREEMPTED)
    }

    /// The graph in Graphviz DOT, with nodes and edges in a stable order.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph gears {\n");
        out.push_str("  node [shape=box];\n");
        for (node, visits) in &self.nodes {
            let id = dot_id(node);
            let _ = match node.as_str() {
                START => writeln!(out, "  {id} [shape=circle, label=\"start\"];"),
                EXIT | FAIL => writeln!(out, "  {id} [shape=doublecircle, label=\"{node} ×{visits}\"];"),
                PREEMPTED => writeln!(out, "  {id} [shape=circle, label=\"preempted ×{visits}\"];"),
                _ => writeln!(out, "  {id} [label=\"{node} ×{visits}\"];"),
            };
        }
        for ((from, to, kind), n) in &self.edges {
            let (from, to) = (dot_id(from), dot_id(to));
            let _ = match kind {
                EdgeKind::Point => writeln!(out, "  {from} -> {to} [label=\"pp ×{n}\", style=dashed];"),
                EdgeKind::Preempt => writeln!(out, "  {from} -> {to} [label=\"×{n}\", style=dashed];"),
                _ => writeln!(out, "  {from} -> {to} [label=\"×{n}\"];"),
            };
        }
        out.push_str("}\n");
        out
    }

    /// The graph as a Mermaid state diagram (renders on code hosts).
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("stateDiagram-v2\n");
        for node in self.nodes.keys().filter(|n| !Self::is_pseudo(n)) {
            let _ = writeln!(out, "    state \"{node}\" as {}", mermaid_id(node));
        }
        for ((from, to, kind), n) in &self.edges {
            let label = match kind {
                EdgeKind::Point => format!("pp ×{n}"),
                EdgeKind::End => format!("{to} ×{n}"),
                _ => format!("×{n}"),
            };
            let from = if from == START { "[*]".to_string() } else { mermaid_id(from) };
            let to = if to == EXIT || to == FAIL { "[*]".to_string() } else { mermaid_id(to) };
            let _ = writeln!(out, "    {from} --> {to} : {label}");
        }
        out
    }

    /// The graph laid out and drawn as SVG, in-process (no Graphviz needed).
    #[cfg(feature = "svg")]
    pub fn to_svg(&self) -> Result<String, String> {
        use layout::backends::svg::SVGWriter;
        use layout::gv::{DotParser, GraphBuilder};

        let dot = self.to_dot();
        let mut parser = DotParser::new(&dot);
        let graph = parser.process().map_err(|e| format!("the DOT did not parse: {e}"))?;
        let mut builder = GraphBuilder::new();
        builder.visit_graph(&graph);
        let mut visual = builder.get();
        let mut svg = SVGWriter::new();
        visual.do_it(false, false, false, &mut svg);
        Ok(svg.finalize())
    }
}

/// A quoted DOT identifier.
fn dot_id(name: &str) -> String {
    format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A Mermaid state id: the name with anything but letters, digits and `_` replaced.
fn mermaid_id(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::{EdgeKind, GearGraph};
    use crate::trace::{EventKind, Name, Trace, TraceEvent};
    use gears::{GearId, Mode, ProcessId};

    fn event(gear: &'static str, kind: EventKind) -> TraceEvent {
        TraceEvent { step: 0, process: ProcessId(0), gear: Name::Borrowed(gear), id: GearId::of(gear), kind }
    }

    #[test]
    fn merge_is_the_graph_of_both_traces() {
        let a = Trace {
            events: alloc::vec![
                event("a", EventKind::Start { resumed: false }),
                event("a", EventKind::Point(Name::Borrowed("b"))),
                event("a", EventKind::Preempted(Name::Borrowed("b"), Mode::Resume)),
            ],
        };
        let b = Trace {
            events: alloc::vec![
                event("b", EventKind::Start { resumed: true }),
                event("b", EventKind::Exit("0".into())),
            ],
        };
        let mut merged = GearGraph::from_trace(&a);
        merged.merge(&GearGraph::from_trace(&b));
        let mut both = GearGraph::from_trace(&a);
        both.add_trace(&b);
        assert_eq!(merged, both);
        merged.merge(&GearGraph::from_trace(&b));
        assert_eq!(merged.edges[&("b".into(), "exit".into(), EdgeKind::End)], 2);
        assert_eq!(merged.nodes["exit"], 2);
    }
}
