//! The framed trace encoding: what the kernel streams decodes to the host tracer's text.
#![allow(missing_docs)]

use std::cell::RefCell;

use gears::{Dispatcher, Mode, Next, Outcome, ProcessId};
use metagears::wire::{
    Decoded, Decoder, ExitCode, FRAME_END, FRAME_START, MAX_FRAME, MAX_TEXT, Report, ShortText, WireTracer,
    encode_report, send_report,
};
use metagears::{InjectAt, Tracer};

gears::context! {
    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct Count {
        output: String,
        error: (),
        data_gears: { pub count: u32, pub limit: u32 }
    }
}

gears::code_gear! {
    fn count_enter(ctx: Count; count: &mut u32) {
        *count = (*count).max(1);
        Next::Goto(&COUNT_STEP)
    }
}

gears::code_gear! {
    fn count_step(ctx: Count; count: &mut u32, limit: &u32) {
        if *count >= *limit {
            return Next::Exit(format!("counted to {count} ✓"));
        }
        *count += 1;
        Next::Preempt(&COUNT_STEP)
    }
}

/// Runs the counter to its end under preemption every third point, with both tracers, writing
/// console text between runs the way a kernel prints between system calls.
fn traced_run(mode: Mode, limit: u32) -> (String, Vec<u8>) {
    let wire = RefCell::new(Vec::new());
    let mut ctx = Count::new(ProcessId(2), 0, limit);
    let mut d = Dispatcher::new((
        InjectAt::every_nth(3, mode),
        Tracer::new(),
        WireTracer::new(|b: &[u8]| wire.borrow_mut().extend_from_slice(b)),
    ));
    wire.borrow_mut().extend_from_slice(b"kernel: booted\r\n");
    while let Outcome::Preempted { .. } = d.run(&mut ctx, &COUNT_ENTER) {
        wire.borrow_mut().extend_from_slice(b"kernel: timer interrupt\n");
    }
    let text = d.meta().1.trace().to_string();
    drop(d);
    (text, wire.into_inner())
}

fn events_text(decoded: &[Decoded]) -> String {
    decoded
        .iter()
        .filter_map(|d| if let Decoded::Event(e) = d { Some(format!("{e}\n")) } else { None })
        .collect()
}

#[test]
fn a_streamed_trace_decodes_to_the_host_tracers_text() {
    for mode in [Mode::Restart, Mode::Resume] {
        let (host, wire) = traced_run(mode, 10);
        let decoded = Decoder::decode_all(&wire);
        assert_eq!(events_text(&decoded), host, "{mode}");
        assert!(host.contains("exit \"counted to 10 ✓\""));
        let text: Vec<&Decoded> = decoded.iter().filter(|d| matches!(d, Decoded::Text(_))).collect();
        assert_eq!(text[0], &Decoded::Text("kernel: booted".into()));
        assert_eq!(text.len(), 1 + 3, "{mode}: the console lines between runs survive");
        assert!(!decoded.iter().any(|d| matches!(d, Decoded::Damaged(_))));
    }
}

#[test]
fn the_encoding_is_compact() {
    let (host, wire) = traced_run(Mode::Resume, 200);
    let events = host.lines().count();
    let decoded = Decoder::decode_all(&wire);
    let text_bytes: usize =
        decoded.iter().map(|d| if let Decoded::Text(t) = d { t.len() + 1 } else { 0 }).sum();
    let per_event = (wire.len() - text_bytes - 1) as f64 / events as f64; // "\r" of the first line
    println!("{per_event:.1} bytes per event");
    assert!(per_event < 13.0, "{per_event:.1} bytes per event");
}

#[test]
fn a_damaged_frame_is_reported_and_the_rest_still_decodes() {
    let (host, mut wire) = traced_run(Mode::Restart, 10);
    // Flip one bit inside the 5th frame's body.
    let starts: Vec<usize> =
        wire.iter().enumerate().filter(|(_, b)| **b == FRAME_START).map(|(i, _)| i).collect();
    wire[starts[4] + 3] ^= 0x04;
    let decoded = Decoder::decode_all(&wire);
    let damaged = decoded.iter().filter(|d| matches!(d, Decoded::Damaged(_))).count();
    assert_eq!(damaged, 1);
    let got = events_text(&decoded);
    assert_eq!(got.lines().count(), host.lines().count() - 1, "only the damaged event is lost");
}

#[test]
fn bytes_may_arrive_in_any_pieces() {
    let (host, wire) = traced_run(Mode::Resume, 7);
    for piece in [1, 2, 5, 64] {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for chunk in wire.chunks(piece) {
            d.feed(chunk, &mut out);
        }
        d.finish(&mut out);
        assert_eq!(events_text(&out), host, "pieces of {piece} bytes");
    }
}

#[test]
fn a_stream_cut_inside_a_frame_says_so() {
    let (_, wire) = traced_run(Mode::Resume, 7);
    let decoded = Decoder::decode_all(&wire[..wire.len() - 3]);
    assert!(matches!(decoded.last(), Some(Decoded::Damaged(m)) if m.contains("ended inside a frame")));
}

/// Two gears named `hop`, one in each of two modules: the first goes to the second.
mod first {
    use gears::Next;

    gears::code_gear! {
        pub fn hop(ctx: super::Count; count: &mut u32) {
            *count += 1;
            Next::Goto(&super::second::HOP)
        }
    }
}

mod second {
    use gears::Next;

    gears::code_gear! {
        pub fn hop(ctx: super::Count; count: &u32) {
            Next::Exit(format!("hopped {count}"))
        }
    }
}

#[test]
fn gears_named_alike_in_two_modules_travel_as_two_gears_with_their_short_names() {
    let wire = RefCell::new(Vec::new());
    let mut d =
        Dispatcher::new((Tracer::new(), WireTracer::new(|b: &[u8]| wire.borrow_mut().extend_from_slice(b))));
    let out = d.run(&mut Count::new(ProcessId(0), 0, 0), &first::HOP);
    assert_eq!(out, Outcome::Exited("hopped 1".to_string()));
    let host = d.meta().0.trace().clone();
    drop(d);
    let decoded: Vec<_> = Decoder::decode_all(&wire.into_inner())
        .into_iter()
        .filter_map(|d| if let Decoded::Event(e) = d { Some(e) } else { None })
        .collect();
    assert_eq!(decoded, host.events, "names and ids decode as the host tracer recorded them");
    assert_eq!(
        host.to_string(),
        "     . p0 start hop\n     0 p0 hop -> hop\n     1 p0 hop -> exit \"hopped 1\"\n"
    );
    assert_eq!((decoded[1].id, decoded[2].id), (first::HOP.id(), second::HOP.id()));
    assert_ne!(first::HOP.id(), second::HOP.id());
}

/// Which kind a report is: a new kind fails the tests until `Report::examples` has one.
fn kind(report: &Report<'_>) -> usize {
    match report {
        Report::KernelStarted { .. } => 0,
        Report::SuiteStarted { .. } => 1,
        Report::TestStarted { .. } => 2,
        Report::TestPassed { .. } => 3,
        Report::TestFailed { .. } => 4,
        Report::SuiteFinished { .. } => 5,
        Report::TraceBegin => 6,
        Report::TraceEnd { .. } => 7,
        Report::IrqLatency(_) => 8,
        Report::BenchFailed { .. } => 9,
        Report::RootTaskStarted => 10,
        Report::Panic { .. } => 11,
        Report::Exit { .. } => 12,
    }
}

fn frame_of(report: Report<'_>) -> Vec<u8> {
    let mut frame = Vec::new();
    send_report(report, |b: &[u8]| frame.extend_from_slice(b));
    frame
}

#[test]
fn every_report_round_trips_through_one_frame() {
    let reports = Report::examples();
    let mut kinds: Vec<usize> = reports.iter().map(kind).collect();
    kinds.dedup();
    assert_eq!(kinds, (0..=12).collect::<Vec<_>>(), "one example of each kind, in order");
    for r in reports {
        let frame = frame_of(r.clone());
        assert_eq!((frame[0], frame[frame.len() - 1]), (FRAME_START, FRAME_END), "{r:?}");
        assert!(frame.len() <= MAX_FRAME, "{r:?}");
        assert!(!frame[1..frame.len() - 1].contains(&FRAME_END), "{r:?}");
        assert_eq!(Decoder::decode_all(&frame), [Decoded::Report(r.clone())]);
    }
}

#[test]
fn a_report_encodes_from_borrowed_texts() {
    let name = String::from("device_irq_uart_taken_masked_and_completed");
    let mut frame = [0u8; MAX_FRAME];
    let n = encode_report(Report::TestPassed { name: name.as_str().into() }, &mut frame);
    assert_eq!(Decoder::decode_all(&frame[..n]), [Decoded::Report(Report::TestPassed { name: name.into() })]);
}

#[test]
fn reports_text_and_trace_frames_interleave_on_one_stream() {
    let (_, trace) = traced_run(Mode::Resume, 7);
    let traced = Decoder::decode_all(&trace);
    let started = Report::KernelStarted { version: "0.1.0".into(), arch: "x86_64".into() };
    let test = Report::TestStarted { name: "traced".into() };
    let exit = Report::Exit { code: ExitCode::Success };
    let mut stream = b"firmware\r\n".to_vec();
    stream.extend(frame_of(started.clone()));
    stream.extend(&trace);
    // A report in the middle of a line: it comes out before the line it interrupted.
    stream.extend(b"half a ");
    stream.extend(frame_of(test.clone()));
    stream.extend(b"line\n");
    stream.extend(frame_of(exit.clone()));
    let mut want = vec![Decoded::Text("firmware".into()), Decoded::Report(started)];
    want.extend(traced);
    want.extend([Decoded::Report(test), Decoded::Text("half a line".into()), Decoded::Report(exit)]);
    for piece in [1, 3, 64, stream.len()] {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for chunk in stream.chunks(piece) {
            d.feed(chunk, &mut out);
        }
        d.finish(&mut out);
        assert_eq!(out, want, "pieces of {piece} bytes");
    }
}

#[test]
fn long_texts_are_cut_to_fit_one_frame() {
    let name: String = "é".repeat(200);
    let why: String = "x".repeat(1000);
    let frame = frame_of(Report::TestFailed { name: name.as_str().into(), why: why.as_str().into() });
    assert!(frame.len() <= MAX_FRAME);
    let [Decoded::Report(Report::TestFailed { name: got_name, why: got_why })] =
        &Decoder::decode_all(&frame)[..]
    else {
        panic!("not one TestFailed");
    };
    for (got, full) in [(got_name, &name), (got_why, &why)] {
        assert!(got.len() <= MAX_TEXT && got.ends_with('…'), "{got}");
        assert!(full.starts_with(got.trim_end_matches('…')), "{got}");
    }
    let short = ShortText::of(&format_args!("panicked: {}", "y".repeat(500)));
    assert!(short.as_str().len() <= MAX_TEXT && short.as_str().starts_with("panicked: yyy"));
}

#[test]
fn reports_read_as_the_kernels_console_lines() {
    let lines: Vec<String> = Report::examples().iter().map(|r| r.to_string()).collect();
    assert_eq!(
        lines,
        [
            "Gears kernel 0.1.0 on riscv64: serial console up",
            "qemu-test: running 23 tests",
            "test root_task_retype ...",
            "test root_task_retype ... ok",
            "test timer_ticks ... FAILED: no ticks in 100 ms",
            "qemu-test: 22 passed, 1 failed",
            "trace: begin",
            "trace: end: 35 frames, 412 bytes",
            "bench: irq-latency caps=65536 preemption=on max_latency_insns=207800 kernel_latency_insns=1000 \
             preemptions=3 driver_runs=5",
            "bench: FAILED: the root task's bench failed",
            "root task: started",
            "KERNEL PANIC: panicked at kernel/src/main.rs:9:5: oops",
            "gears: exit Success",
            "gears: exit Failure",
        ]
    );
}
