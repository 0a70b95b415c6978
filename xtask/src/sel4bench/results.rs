//! sel4bench's results in a serial log: the JSON it prints between `JSON OUTPUT` and
//! `END JSON OUTPUT`, and the figures in it.
//!
//! The log is read line by line as it arrives, after the runner's decoder has taken out Gears'
//! report frames; escape sequences and carriage returns are taken out here. Lines the kernel
//! prints (`kernel: …`) may fall between the markers, since kernel and benchmark share the serial
//! port: they are left out. sel4bench prints the JSON on one line; lines inside the block are
//! joined without a separator, which is harmless between JSON tokens and mends a line of JSON
//! that a kernel line cut in two.

use anyhow::Context as _;
use serde::Deserialize;

use crate::sel4test::{is_kernel_line, plain};

/// The line before the JSON.
const START: &str = "JSON OUTPUT";
/// What follows the JSON, on its last line.
const END: &str = "END JSON OUTPUT";

/// The line sel4bench prints when every benchmark has run.
pub const ALL_WELL: &str = "All is well in the universe.";

/// Where a log is in sel4bench's JSON block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum JsonBlock {
    /// Before `JSON OUTPUT`.
    #[default]
    Before,
    /// Inside: the JSON so far.
    Inside(String),
    /// After `END JSON OUTPUT`: the JSON.
    Done(String),
}

impl JsonBlock {
    /// Reads one line of the log (with or without escape sequences).
    pub fn line(&mut self, raw: &str) {
        let line = plain(raw);
        match self {
            JsonBlock::Before => {
                if let Some(rest) = after_start(&line) {
                    *self = JsonBlock::Inside(String::new());
                    self.take(rest);
                }
            }
            JsonBlock::Inside(_) if is_kernel_line(line.trim_start()) => {}
            JsonBlock::Inside(_) => self.take(&line),
            JsonBlock::Done(_) => {}
        }
    }

    /// Adds `text`, a line or the rest of one, to the JSON, up to the end marker if it is there.
    fn take(&mut self, text: &str) {
        let JsonBlock::Inside(json) = self else { return };
        match text.find(END) {
            Some(at) => {
                json.push_str(&text[..at]);
                *self = JsonBlock::Done(std::mem::take(json));
            }
            None => json.push_str(text.trim_end()),
        }
    }

    /// The whole JSON, once its end marker has been read.
    pub fn json(&self) -> Option<&str> {
        match self {
            JsonBlock::Done(json) => Some(json),
            _ => None,
        }
    }
}

/// The rest of `line` after a `JSON OUTPUT` that is not the end of `END JSON OUTPUT`.
fn after_start(line: &str) -> Option<&str> {
    line.match_indices(START)
        .find(|(at, _)| !line[..*at].ends_with("END "))
        .map(|(at, _)| &line[at + START.len()..])
}

/// What identifies one benchmark result across kernels.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    /// sel4bench's `Function`: what was timed.
    pub function: String,
    /// `client->server` or `server->client`.
    pub direction: String,
    /// Client and server in the same address space.
    pub same_vspace: bool,
    /// Message words.
    pub ipc_length: u32,
    /// The client's priority.
    pub client_prio: u32,
    /// The server's priority.
    pub server_prio: u32,
}

impl Key {
    /// Whether the result times 10,000 round trips as one block (rows "RT x10000 …").
    pub fn is_block_of_round_trips(&self) -> bool {
        self.function.starts_with("RT x10000")
    }
}

/// Round trips in one sample of a "RT x10000" row.
pub const ROUND_TRIPS_PER_BLOCK: f64 = 10_000.0;

/// One benchmark result: what it is and its raw samples (guest instructions under `-icount`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    /// What it is.
    pub key: Key,
    /// sel4bench's raw samples.
    pub samples: Vec<u64>,
}

impl Figure {
    /// The median of the samples (the mean of the middle two of an even count, as sel4bench
    /// computes it), per round trip for a block of round trips.
    pub fn value(&self) -> Option<f64> {
        let median = median(&self.samples)?;
        Some(if self.key.is_block_of_round_trips() { median / ROUND_TRIPS_PER_BLOCK } else { median })
    }
}

/// The median of `samples`, if there are any.
pub fn median(samples: &[u64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2] as f64),
        _ => Some((sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0),
    }
}

/// One benchmark of sel4bench's JSON: a name and its results.
#[derive(Deserialize)]
struct Benchmark {
    #[serde(rename = "Results")]
    results: Vec<Result>,
}

/// One result as sel4bench prints it (the statistics it also prints are not read: the figures
/// come from the raw samples).
#[derive(Deserialize)]
struct Result {
    #[serde(rename = "Function")]
    function: String,
    #[serde(rename = "Direction")]
    direction: String,
    #[serde(rename = "Same vspace?")]
    same_vspace: bool,
    #[serde(rename = "IPC length")]
    ipc_length: u32,
    #[serde(rename = "Client Prio")]
    client_prio: u32,
    #[serde(rename = "Server Prio")]
    server_prio: u32,
    #[serde(rename = "Raw results")]
    samples: Vec<u64>,
}

/// The figures of sel4bench's JSON, in its order.
pub fn parse(json: &str) -> anyhow::Result<Vec<Figure>> {
    let benchmarks: Vec<Benchmark> =
        serde_json::from_str(json).context("sel4bench's JSON does not read as its list of benchmarks")?;
    Ok(benchmarks
        .into_iter()
        .flat_map(|b| b.results)
        .map(|r| Figure {
            key: Key {
                function: r.function,
                direction: r.direction,
                same_vspace: r.same_vspace,
                ipc_length: r.ipc_length,
                client_prio: r.client_prio,
                server_prio: r.server_prio,
            },
            samples: r.samples,
        })
        .collect())
}

/// The figures of a whole log, if it has a complete JSON block.
pub fn from_log(log: &str) -> anyhow::Result<Vec<Figure>> {
    let mut block = JsonBlock::default();
    for line in log.lines() {
        block.line(line);
    }
    match &block {
        JsonBlock::Done(json) => parse(json),
        JsonBlock::Inside(_) => anyhow::bail!("the log ends inside sel4bench's JSON block"),
        JsonBlock::Before => anyhow::bail!("the log has no `{START}` line"),
    }
}

#[cfg(test)]
pub mod tests {
    use metagears::wire::{Decoded, Decoder};

    use super::*;

    /// A log in the shape of sel4bench's on Gears, written for these tests: escape sequences,
    /// carriage returns, the kernel's lines (one inside the JSON block, one cutting the JSON's
    /// line in two), and four results, one a block of 10,000 round trips.
    pub const SYNTHETIC_LOG: &str = include_str!("testdata/synthetic.log");

    /// The lines the runner hands over for `bytes` of serial output.
    pub fn decoded_lines(bytes: &[u8]) -> Vec<String> {
        Decoder::decode_all(bytes)
            .into_iter()
            .filter_map(|d| match d {
                Decoded::Text(line) => Some(line),
                _ => None,
            })
            .collect()
    }

    fn key(function: &str, direction: &str, same_vspace: bool) -> Key {
        Key {
            function: function.into(),
            direction: direction.into(),
            same_vspace,
            ipc_length: 0,
            client_prio: 254,
            server_prio: 254,
        }
    }

    #[test]
    fn the_synthetic_log_gives_its_four_results() {
        let mut block = JsonBlock::default();
        for line in decoded_lines(SYNTHETIC_LOG.as_bytes()) {
            block.line(&line);
        }
        let figures = parse(block.json().expect("a whole JSON block")).unwrap();
        assert_eq!(figures.len(), 4);
        assert_eq!(figures[0].key, key("seL4_Call", "client->server", true));
        assert_eq!(figures[0].samples, [900, 902, 901, 950]);
        // Median of 900, 901, 902, 950: (901 + 902) / 2.
        assert_eq!(figures[0].value(), Some(901.5));
        assert_eq!(figures[1].key, Key { ipc_length: 10, ..key("seL4_ReplyRecv", "server->client", false) });
        assert_eq!(figures[1].value(), Some(2000.0));
        let rt = &figures[2];
        assert!(rt.key.is_block_of_round_trips());
        assert_eq!(rt.key, key("RT x10000 Call+ReplyRecv (asm syscall)", "client->server", true));
        assert_eq!(rt.value(), Some(1234.5678));
        assert_eq!(figures[3].key, Key { client_prio: 253, ..key("seL4_Send", "client->server", false) });
        assert_eq!(from_log(SYNTHETIC_LOG).unwrap(), figures);
    }

    #[test]
    fn the_end_marker_is_not_a_start() {
        assert_eq!(after_start("JSON OUTPUT"), Some(""));
        assert_eq!(after_start("]END JSON OUTPUT"), None);
        assert_eq!(after_start("x END JSON OUTPUT then JSON OUTPUT[1]"), Some("[1]"));
        let mut block = JsonBlock::default();
        block.line("\u{1b}[0m]END JSON OUTPUT");
        assert_eq!(block, JsonBlock::Before);
    }

    #[test]
    fn a_block_on_one_line_and_a_block_cut_short() {
        let mut block = JsonBlock::default();
        block.line("JSON OUTPUT[{\"Results\": []}]END JSON OUTPUT\r");
        assert_eq!(block.json(), Some("[{\"Results\": []}]"));
        assert_eq!(parse(block.json().unwrap()).unwrap(), []);
        let cut = "JSON OUTPUT\n[{\"Results\": [\n";
        assert_eq!(from_log(cut).unwrap_err().to_string(), "the log ends inside sel4bench's JSON block");
        let err = from_log("Booting\nAll is well in the universe.\n").unwrap_err().to_string();
        assert_eq!(err, "the log has no `JSON OUTPUT` line");
        let err = from_log("JSON OUTPUT\n{\"no\": 1}END JSON OUTPUT\n").unwrap_err();
        assert!(format!("{err:#}").starts_with("sel4bench's JSON does not read"), "{err:#}");
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[7]), Some(7.0));
        assert_eq!(median(&[3, 1, 2]), Some(2.0));
        assert_eq!(median(&[4, 1, 3, 2]), Some(2.5));
    }

    /// seL4's own log (the directory's reference), when at hand: the README's figures.
    #[test]
    fn the_reference_log_gives_the_readmes_figures() {
        let Some(dir) = crate::shared::SEL4BENCH.choose(None, None) else {
            eprintln!("no sel4bench directory at hand: the reference log is not checked");
            return;
        };
        let path = super::super::files::Files::new(&dir.path).reference_fastpath;
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("{} not at hand: not checked", path.display());
            return;
        };
        let figures = from_log(&text).unwrap();
        assert_eq!(figures.len(), 13);
        let find = |k: &Key| figures.iter().find(|f| &f.key == k).and_then(Figure::value);
        assert_eq!(find(&key("seL4_Call", "client->server", true)), Some(203.0));
        assert_eq!(find(&key("seL4_ReplyRecv", "server->client", false)), Some(226.0));
        let rt = key("RT x10000 Call+ReplyRecv (asm syscall)", "client->server", true);
        assert_eq!(find(&rt), Some(445.0001));
        let rt_other = Key { same_vspace: false, ..rt };
        assert_eq!(find(&rt_other), Some(437.0001));
        let lib = key("RT x10000 seL4_Call+seL4_ReplyRecv (libsel4)", "client->server", true);
        assert_eq!(find(&lib), Some(453.0006));
    }
}
