//! Diagrams of gear traces: DOT that parses, SVG that is well-formed XML, Mermaid, stable output.
#![allow(missing_docs)]

use gears::{Dispatcher, Mode, Next, Outcome, ProcessId};
use metagears::diagram::{EdgeKind, GearGraph};
use metagears::{InjectAt, Tracer};

gears::context! {
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct Count {
        output: u32,
        error: u32,
        data_gears: { pub count: u32, pub limit: u32 }
    }
}

gears::code_gear! {
    fn count_enter(ctx: Count; count: &mut u32, limit: &u32) {
        if *limit > 100 {
            return Next::Fail(*limit);
        }
        *count = (*count).max(1);
        Next::Goto(&COUNT_STEP)
    }
}

gears::code_gear! {
    fn count_step(ctx: Count; count: &mut u32, limit: &u32) {
        if *count >= *limit {
            return Next::Exit(*count);
        }
        *count += 1;
        Next::Preempt(&COUNT_STEP)
    }
}

/// A trace of a counter preempted at every fourth point under `mode`, plus one failing run.
fn trace(mode: Mode) -> metagears::Trace {
    let mut d = Dispatcher::new((InjectAt::every_nth(4, mode), Tracer::new()));
    let mut ctx = Count::new(ProcessId(0), 0, 10);
    while let Outcome::Preempted { .. } = d.run(&mut ctx, &COUNT_ENTER) {}
    let mut failing = Count::new(ProcessId(1), 0, 1000);
    assert_eq!(d.run(&mut failing, &COUNT_ENTER), Outcome::Failed(1000));
    d.into_meta().1.take()
}

#[test]
fn the_graph_counts_every_transition_once() {
    let g = GearGraph::from_trace(&trace(Mode::Resume));
    let e = |from: &str, to: &str, k| g.edges.get(&(from.into(), to.into(), k)).copied();
    assert_eq!(e("start", "count_enter", EdgeKind::Start), Some(2));
    assert_eq!(e("count_enter", "count_step", EdgeKind::Goto), Some(1));
    // Nine points crossed or stopped at; two of them preempted.
    assert_eq!(e("count_step", "count_step", EdgeKind::Point), Some(7));
    assert_eq!(e("count_step", "preempted", EdgeKind::Preempt), Some(2));
    assert_eq!(e("preempted", "count_step", EdgeKind::Start), Some(2));
    assert_eq!(e("count_step", "exit", EdgeKind::End), Some(1));
    assert_eq!(e("count_enter", "fail", EdgeKind::End), Some(1));
    assert_eq!(g.nodes["count_step"], 1 + 7 + 2, "entered from enter, its own points, and resumes");
}

#[test]
fn dot_is_stable_and_parses() {
    let dot = GearGraph::from_trace(&trace(Mode::Restart)).to_dot();
    let mut parser = layout::gv::DotParser::new(&dot);
    assert!(parser.process().is_ok(), "layout-rs parses our DOT:\n{dot}");
    insta::assert_snapshot!("count_restart_dot", dot);
}

#[test]
fn svg_is_well_formed_and_names_every_gear() {
    let g = GearGraph::from_trace(&trace(Mode::Resume));
    let svg = g.to_svg().expect("rendered");
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let text: String = doc.descendants().filter_map(|n| n.text()).collect::<Vec<_>>().join(" ");
    for node in g.nodes.keys() {
        assert!(text.contains(node.as_str()), "the SVG shows `{node}`");
    }
}

#[test]
fn mermaid_is_a_state_diagram() {
    let mermaid = GearGraph::from_trace(&trace(Mode::Resume)).to_mermaid();
    insta::assert_snapshot!("count_resume_mermaid", mermaid);
}
