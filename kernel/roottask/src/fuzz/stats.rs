//! What the run counts, in statics both threads reach (they share one address space): the
//! replies the worker gets, the faults and stalls the supervisor sees; and the lines that say it.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use abi::{Error, MessageInfo, Syscall};

use gears_user::console::Console;
use gears_user::println;

use crate::call::Call;

/// Replies to the worker's `seL4_Call`s by label: the eleven `seL4_Error` codes, then any other
/// label (a reply from a thread, not the kernel).
static REPLIES: [AtomicU64; 12] = [const { AtomicU64::new(0) }; 12];
/// Other calls that returned to the worker.
static RETURNED: AtomicU64 = AtomicU64::new(0);
/// Calls built from templates.
static TEMPLATED: AtomicU64 = AtomicU64::new(0);

/// What made the worker stop, as the supervisor found it.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// A fault message with this label on its fault endpoint.
    Fault(u64),
    /// No message: it blocked, stopped without a fault handler, or lowered its priority.
    Stall,
}

/// Fault messages by kind, in [`FAULT_NAMES`] order.
static FAULTS: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
const FAULT_NAMES: [&str; 5] = ["cap", "unknown syscall", "user exception", "vm", "other messages"];
/// Stalls, restarts, worlds built.
static STALLS: AtomicU64 = AtomicU64::new(0);
static RESTARTS: AtomicU64 = AtomicU64::new(0);
static WORLDS: AtomicU64 = AtomicU64::new(0);
/// Workers the watchdog suspended (they had the processor and made no call for seconds).
static LIVELOCKS: AtomicU64 = AtomicU64::new(0);

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

/// Counts a call that returned to the worker with `info`.
pub fn returned(call: &Call, info: u64) {
    if call.templated {
        add(&TEMPLATED);
    }
    if call.number == Syscall::Call.word() {
        let label = MessageInfo::from_raw(info).label();
        add(&REPLIES[(label as usize).min(REPLIES.len() - 1)]);
    } else {
        add(&RETURNED);
    }
}

/// Counts a stop of the worker and the restart that follows.
pub fn stopped(stop: Stop) {
    use abi::fault::{CAP_FAULT, UNKNOWN_SYSCALL, USER_EXCEPTION, VM_FAULT};
    match stop {
        Stop::Fault(label) => {
            let kind =
                [CAP_FAULT, UNKNOWN_SYSCALL, USER_EXCEPTION, VM_FAULT].iter().position(|&l| l == label);
            add(&FAULTS[kind.unwrap_or(FAULTS.len() - 1)]);
        }
        Stop::Stall => add(&STALLS),
    }
    add(&RESTARTS);
}

/// Counts a worker the watchdog suspended.
pub fn livelock() {
    add(&LIVELOCKS);
}

/// Counts a world built.
pub fn world_built() {
    add(&WORLDS);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Relaxed)
}

/// The progress line after `calls` calls.
pub fn progress(calls: u64) {
    let faults: u64 = FAULTS.iter().map(get).sum();
    println!("fuzz: {calls} calls, {faults} faults, {} stalls, {} worlds", get(&STALLS), get(&WORLDS));
}

/// The final lines: the verdict the program can give (it is alive), and the distribution.
pub fn summary(calls: u64, world_errors: u64) {
    println!("fuzz: {calls} calls, 0 kernel panics, 0 hangs");
    let mut out = Console;
    let _ = write!(out, "fuzz: replies: ");
    for e in Error::ALL {
        let _ = write!(out, "{} {}, ", e.name(), get(&REPLIES[e.code() as usize]));
    }
    let other = get(&REPLIES[REPLIES.len() - 1]);
    let _ = writeln!(out, "other labels {other}; returned without a reply {}", get(&RETURNED));
    let _ = write!(out, "fuzz: faults: ");
    for (name, n) in FAULT_NAMES.iter().zip(&FAULTS) {
        let _ = write!(out, "{name} {}, ", get(n));
    }
    let _ = writeln!(
        out,
        "stalls {} ({} suspended by the watchdog); restarts {}; worlds {} ({world_errors} failed steps); templated calls {}",
        get(&STALLS),
        get(&LIVELOCKS),
        get(&RESTARTS),
        get(&WORLDS),
        get(&TEMPLATED)
    );
}
