//! The compact, framed encoding: how a kernel streams its gear trace and its reports over a serial
//! line.
//!
//! A kernel shares one serial line between its console text, its trace and its [`Report`]s (what
//! a test, a bench or the kernel itself has to tell the host). Each record is a frame: the start
//! byte [`FRAME_START`] (an ASCII control character console text never contains), then the record
//! encoded with postcard followed by its CRC-16, COBS-encoded so it contains no zero byte, then a
//! zero byte. Outside a frame every byte is console text; inside one, only the zero byte ends it.
//! A gear's name and stable id travel once, in a `Name` frame that gives it a small index, the
//! first time it appears; events carry indices (one byte for the first 128 gears), so an event
//! costs about a dozen bytes and a decoder needs no symbol table.
//!
//! [`WireTracer`] is the encoding metagear and [`send_report`] the encoder of reports (both
//! no_std, for the kernel); [`Decoder`] turns a byte stream back into console lines,
//! [`TraceEvent`]s whose text is the host tracer's, line for line, and [`Report`]s. A damaged
//! frame is reported and skipped: the decoder resumes at the next frame end.

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use gears::{Context, Control, Gear, GearId, MetaGear, Mode, Next, ProcessId, Step};
use serde::{Deserialize, Serialize};

use crate::trace::{EventKind, TraceEvent};

mod report;

pub use report::{ExitCode, IrqLatency, Report, ShortText, encode_report, send_report};

/// The byte that starts every frame (ASCII RS, "record separator").
pub const FRAME_START: u8 = 0x1e;
/// The byte that ends every frame (COBS's sentinel).
pub const FRAME_END: u8 = 0x00;
/// The most bytes a result or error text keeps in a frame; longer ones are cut with `…`.
pub const MAX_TEXT: usize = 96;
/// The largest frame, start and end bytes included.
pub const MAX_FRAME: usize = 256;

const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_3740);

/// One record on the wire. Variants are only ever added at the end, so that a decoder reads
/// the records of an older encoder.
#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
enum Record<'a> {
    /// The gear known from now on by `index`: its stable id and its name.
    Name { index: u32, id: u32, name: &'a str },
    /// One event; gears are given by index.
    Event { step: u64, process: u32, gear: u32, kind: WireKind<'a> },
    /// A report to the host.
    Report(Report<'a>),
}

#[derive(Serialize, Deserialize, PartialEq, Eq, Debug)]
enum WireKind<'a> {
    Start { resumed: bool },
    Goto(u32),
    Point(u32),
    Exit(&'a str),
    Fail(&'a str),
    Preempted { next: u32, resume: bool },
}

/// Encodes `record` as one frame into `out`; returns its length.
fn encode(record: &Record<'_>, out: &mut [u8; MAX_FRAME]) -> usize {
    let mut body = [0u8; MAX_FRAME - 8];
    let Ok(used) = postcard::to_slice(record, &mut body[..MAX_FRAME - 10]) else {
        return 0; // cannot happen: names and texts are bounded well below the buffer
    };
    let mut used = used.len();
    let crc = CRC.checksum(&body[..used]);
    body[used..used + 2].copy_from_slice(&crc.to_le_bytes());
    used += 2;
    out[0] = FRAME_START;
    match cobs::try_encode(&body[..used], &mut out[1..MAX_FRAME - 1]) {
        Ok(n) => {
            out[1 + n] = FRAME_END;
            n + 2
        }
        Err(_) => 0,
    }
}

/// A `fmt::Write` into a fixed buffer that cuts at [`MAX_TEXT`] bytes on a char boundary.
struct TextBuf {
    buf: [u8; MAX_TEXT],
    len: usize,
    cut: bool,
}

impl TextBuf {
    fn empty() -> TextBuf {
        TextBuf { buf: [0; MAX_TEXT], len: 0, cut: false }
    }

    fn of(value: &dyn fmt::Debug) -> TextBuf {
        let mut t = TextBuf::empty();
        let _ = write!(t, "{value:?}");
        t
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for ch in s.chars() {
            let room = MAX_TEXT - self.len - if self.cut { 0 } else { '…'.len_utf8() };
            if self.cut || ch.len_utf8() > room {
                if !self.cut {
                    self.cut = true;
                    self.len += '…'.encode_utf8(&mut self.buf[self.len..]).len();
                }
                return Ok(());
            }
            self.len += ch.encode_utf8(&mut self.buf[self.len..]).len();
        }
        Ok(())
    }
}

/// The metagear that streams the trace as frames to a byte sink (a serial port, a buffer).
///
/// It allocates only to remember which gear names it has sent.
pub struct WireTracer<S> {
    sink: S,
    named: BTreeMap<u32, u32>,
    frames: u64,
    bytes: u64,
}

impl<S: FnMut(&[u8])> WireTracer<S> {
    /// A tracer writing its frames to `sink`.
    pub fn new(sink: S) -> Self {
        WireTracer { sink, named: BTreeMap::new(), frames: 0, bytes: 0 }
    }

    /// How many frames it has written.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// How many bytes it has written.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Gives the sink back.
    pub fn into_sink(self) -> S {
        self.sink
    }

    fn send(&mut self, record: &Record<'_>) {
        let mut frame = [0u8; MAX_FRAME];
        let n = encode(record, &mut frame);
        if n > 0 {
            (self.sink)(&frame[..n]);
            self.frames += 1;
            self.bytes += n as u64;
        }
    }

    /// The gear's index on the wire, naming it first if it has not been named yet.
    fn name<C: Context>(&mut self, gear: &'static Gear<C>) -> u32 {
        let id = gear.id().0;
        if let Some(&index) = self.named.get(&id) {
            return index;
        }
        let index = self.named.len() as u32;
        self.named.insert(id, index);
        self.send(&Record::Name { index, id, name: gear.name() });
        index
    }

    fn event(&mut self, step: u64, process: ProcessId, gear: u32, kind: WireKind<'_>) {
        self.send(&Record::Event { step, process: process.0, gear, kind });
    }
}

impl<C: Context, S: FnMut(&[u8])> MetaGear<C> for WireTracer<S> {
    fn started(&mut self, step: u64, entry: &'static Gear<C>, resumed: bool, ctx: &C) {
        let gear = self.name(entry);
        self.event(step, ctx.process(), gear, WireKind::Start { resumed });
    }

    fn after(&mut self, at: &Step<C>, next: &Next<C>, _ctx: &C) -> Control {
        let gear = self.name(at.gear);
        match next {
            Next::Goto(g) => {
                let to = self.name(g);
                self.event(at.step, at.process, gear, WireKind::Goto(to));
            }
            Next::Preempt(g) => {
                let to = self.name(g);
                self.event(at.step, at.process, gear, WireKind::Point(to));
            }
            Next::Exit(v) => self.event(at.step, at.process, gear, WireKind::Exit(TextBuf::of(v).as_str())),
            Next::Fail(e) => self.event(at.step, at.process, gear, WireKind::Fail(TextBuf::of(e).as_str())),
        }
        Control::Continue
    }

    fn preempted(&mut self, at: &Step<C>, next: &'static Gear<C>, mode: Mode, _ctx: &C) {
        let gear = self.name(at.gear);
        let next = self.name(next);
        self.event(at.step, at.process, gear, WireKind::Preempted { next, resume: mode == Mode::Resume });
    }
}

/// What a [`Decoder`] found in the stream.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Decoded {
    /// A line of console text (without its line end).
    Text(String),
    /// A trace event.
    Event(TraceEvent),
    /// A report.
    Report(Report<'static>),
    /// A frame that could not be read (damaged, cut short, or naming an unknown gear).
    Damaged(String),
}

/// Turns a byte stream of console text and frames back into lines, events and reports.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    names: BTreeMap<u32, (GearId, String)>,
    text: Vec<u8>,
    frame: Option<Vec<u8>>,
}

impl Decoder {
    /// A decoder that has seen nothing yet.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// Feeds bytes; appends what they complete to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Decoded>) {
        for &b in bytes {
            match (&mut self.frame, b) {
                (Some(frame), FRAME_END) => {
                    let frame = core::mem::take(frame);
                    self.frame = None;
                    if let Some(d) = self.decode_frame(&frame) {
                        out.push(d);
                    }
                }
                (Some(frame), _) if frame.len() >= MAX_FRAME => {
                    self.frame = None;
                    out.push(Decoded::Damaged("a frame ran past its largest size".to_string()));
                }
                (Some(frame), b) => frame.push(b),
                (None, FRAME_START) => self.frame = Some(Vec::new()),
                (None, b'\n') => out.push(Decoded::Text(self.take_text())),
                (None, b'\r') => {}
                (None, b) => self.text.push(b),
            }
        }
    }

    /// Ends the stream: returns an unfinished line, and reports an unfinished frame.
    pub fn finish(&mut self, out: &mut Vec<Decoded>) {
        if self.frame.take().is_some() {
            out.push(Decoded::Damaged("the stream ended inside a frame".to_string()));
        }
        if !self.text.is_empty() {
            out.push(Decoded::Text(self.take_text()));
        }
    }

    /// Decodes a whole byte stream at once.
    pub fn decode_all(bytes: &[u8]) -> Vec<Decoded> {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        d.feed(bytes, &mut out);
        d.finish(&mut out);
        out
    }

    fn take_text(&mut self) -> String {
        let line = String::from_utf8_lossy(&self.text).into_owned();
        self.text.clear();
        line
    }

    fn decode_frame(&mut self, cobs_bytes: &[u8]) -> Option<Decoded> {
        let mut body = [0u8; MAX_FRAME];
        let n = match cobs::decode(cobs_bytes, &mut body) {
            Ok(n) if n > 2 => n,
            _ => return Some(Decoded::Damaged("a frame is not valid COBS".to_string())),
        };
        let (data, crc) = body[..n].split_at(n - 2);
        if CRC.checksum(data).to_le_bytes() != crc {
            return Some(Decoded::Damaged("a frame failed its CRC".to_string()));
        }
        let record: Record<'_> = match postcard::from_bytes(data) {
            Ok(r) => r,
            Err(e) => return Some(Decoded::Damaged(alloc::format!("a frame did not decode: {e}"))),
        };
        match record {
            Record::Name { index, id, name } => {
                self.names.insert(index, (GearId(id), name.to_string()));
                None
            }
            Record::Report(report) => Some(Decoded::Report(report.into_owned())),
            Record::Event { step, process, gear, kind } => {
                Some(match self.event(step, process, gear, kind) {
                    Ok(e) => Decoded::Event(e),
                    Err(index) => {
                        Decoded::Damaged(alloc::format!("an event names gear #{index}, never named"))
                    }
                })
            }
        }
    }

    fn name(&self, index: u32) -> Result<Cow<'static, str>, u32> {
        self.names.get(&index).map(|(_, n)| Cow::Owned(n.clone())).ok_or(index)
    }

    fn event(&self, step: u64, process: u32, gear: u32, kind: WireKind<'_>) -> Result<TraceEvent, u32> {
        let kind = match kind {
            WireKind::Start { resumed } => EventKind::Start { resumed },
            WireKind::Goto(to) => EventKind::Goto(self.name(to)?),
            WireKind::Point(to) => EventKind::Point(self.name(to)?),
            WireKind::Exit(v) => EventKind::Exit(v.to_string()),
            WireKind::Fail(e) => EventKind::Fail(e.to_string()),
            WireKind::Preempted { next, resume } => {
                EventKind::Preempted(self.name(next)?, if resume { Mode::Resume } else { Mode::Restart })
            }
        };
        let id = self.names.get(&gear).map(|(id, _)| *id).ok_or(gear)?;
        Ok(TraceEvent { step, process: ProcessId(process), gear: self.name(gear)?, id, kind })
    }
}
