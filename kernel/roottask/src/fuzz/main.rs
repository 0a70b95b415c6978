//! The system-call fuzzer: a root task that supervises a worker thread making a seeded stream
//! of random and templated system calls against caps of every object type (`cargo xtask fuzz`).
//!
//! The supervisor (this root task) builds the worker's world ([`world`]) from a pool untyped,
//! starts the worker ([`worker`]) in its own address space but in a CSpace of its own, and runs
//! below it: priority 100 to the worker's 200, with the worker's maximum controlled priority at
//! 100 so nothing it starts can outrank the supervisor. So whenever the supervisor runs the
//! worker cannot: it faulted (a message on its fault endpoint, which the supervisor polls), or
//! it blocked, stopped or lowered its own priority (a stall). Either way the supervisor counts
//! it and restarts the worker at its entry on a fresh stack; the worker goes on with the next
//! call of the stream. Every `EPOCH` calls the worker parks and the supervisor revokes the
//! pool and builds the world again, so a worker that wrecked its CSpace wrecks one epoch. A
//! worker that never stops (it can make one call forever) is suspended by a [`watchdog`] on
//! the timer's ticks.
//!
//! Seed, number of calls and the call to trace from are set at build time (`GEARS_FUZZ_SEED`,
//! `GEARS_FUZZ_CALLS`, `GEARS_FUZZ_TRACE_FROM`; the xtask sets them). The program prints a
//! progress line every 10,000 calls and ends with `fuzz: N calls, 0 kernel panics, 0 hangs`
//! and the distribution of replies and faults; whether the kernel panicked or hung only the
//! host can tell.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::sync::atomic::Ordering::Relaxed;

mod arch;
mod call;
#[path = "../layout.rs"]
mod layout;
#[allow(dead_code, reason = "the fuzzer only faults on purpose")]
#[allow(unsafe_code, reason = "a deliberate fault")]
#[path = "../machine.rs"]
mod machine;
mod random;
mod rng;
mod stats;
mod templates;
mod watchdog;
mod worker;
mod world;

use gears_user::cap::init_thread::{CNODE as ROOT, TCB, VSPACE};
use gears_user::slots::SlotAllocator;
use gears_user::{BootInfo, CNodeCapData, Result, debug, println};

use stats::Stop;
use worker::{EPOCH_END, NEXT, PARKED, TOUCHED_TCB};
use world::{FAULT_BADGE, GUARD_BITS, WORKER_IPC, World};

gears_user::root_task!(main);

/// The stream's seed.
pub const SEED: u64 = rng::parse(option_env!("GEARS_FUZZ_SEED"), 1);
/// How many calls the worker makes.
const CALLS: u64 = rng::parse(option_env!("GEARS_FUZZ_CALLS"), 100_000);
/// The worker prints each call from this index on (for a replay), if set.
pub const TRACE_FROM: Option<u64> = match option_env!("GEARS_FUZZ_TRACE_FROM") {
    Some(from) => Some(rng::parse(Some(from), 0)),
    None => None,
};

/// Calls per world: the worker parks after this many, and the world is built again.
const EPOCH: u64 = 1000;
/// Calls between two progress lines (a whole number of epochs: the supervisor prints them).
const PROGRESS: u64 = 10_000;
const _: () = assert!(PROGRESS.is_multiple_of(EPOCH));

/// The priorities: the supervisor runs only when the worker cannot.
const SUPERVISOR_PRIORITY: u64 = 100;
const WORKER_PRIORITY: u64 = 200;
/// Restarts in a row without a call made before the supervisor gives up (a restart always
/// lets the worker make at least one call, unless the restart itself is broken).
const STUCK_LIMIT: u64 = 100;

/// Where the watchdog's caps go in the root CNode (after the world's).
const WATCHDOG_SLOTS: u64 = 64;

/// The worker's stack.
const STACK_WORDS: usize = 4096;
static mut WORKER_STACK: [u64; STACK_WORDS] = [0; STACK_WORDS];

/// The supervisor: the world and where the worker was at the last restart.
struct Supervisor {
    world: World,
    /// [`NEXT`] at the last restart, and restarts since it last moved.
    last_next: u64,
    stuck: u64,
}

impl Supervisor {
    /// Builds the world for the next epoch and starts the worker in it.
    fn new_epoch(&mut self) {
        let next = NEXT.load(Relaxed);
        EPOCH_END.store((next + EPOCH).min(CALLS), Relaxed);
        PARKED.store(false, Relaxed);
        TOUCHED_TCB.store(false, Relaxed);
        if !self.world.rebuild() {
            fail("building the world");
        }
        stats::world_built();
        self.configure();
        self.resume();
    }

    /// The worker's CSpace (its CNode, with the guard that resolves 64-bit cptrs), VSpace (the
    /// supervisor's), IPC buffer, fault endpoint (its cptr 4), priority and MCP.
    fn configure(&self) {
        let w = &self.world;
        let guard = CNodeCapData::new(0, GUARD_BITS);
        let buffer = Some((WORKER_IPC, w.ipc_frame));
        check("configure the worker", w.tcb.configure(world::slot::FAULT_EP, w.cnode, guard, VSPACE, buffer));
        let params = w.tcb.set_sched_params(TCB, SUPERVISOR_PRIORITY, WORKER_PRIORITY);
        check("set the worker's priorities", params);
    }

    /// Starts the worker at its entry on a fresh stack, and waits for it to stop.
    fn resume(&self) {
        watchdog::HANDED_OVER.store(true, Relaxed);
        let top = &raw const WORKER_STACK as u64 + (STACK_WORDS * 8) as u64;
        check("start the worker", self.world.tcb.start(worker::worker as *const () as u64, top, &[]));
    }

    /// Counts why the worker stopped and starts it again (configured again if a call may
    /// have changed its TCB).
    fn restart(&mut self, stop: Stop) {
        stats::stopped(stop);
        let next = NEXT.load(Relaxed);
        self.stuck = if next == self.last_next { self.stuck + 1 } else { 0 };
        self.last_next = next;
        if self.stuck > STUCK_LIMIT {
            let regs =
                self.world.tcb.read_registers(false, 3).map(|r| [r.words()[0], r.words()[1], r.words()[2]]);
            println!("fuzz: the worker's last stop: {stop:?}; its first registers {regs:x?}");
            fail("restarting the worker: it makes no calls");
        }
        check("suspend the worker", self.world.tcb.suspend());
        if TOUCHED_TCB.swap(false, Relaxed) {
            self.configure();
        }
        self.resume();
    }

    /// Runs whenever the worker cannot, until the last call.
    fn run(&mut self) -> ! {
        self.new_epoch();
        loop {
            watchdog::HANDED_OVER.store(false, Relaxed);
            let m = self.world.fault_ep.nb_recv();
            if PARKED.load(Relaxed) {
                let calls = NEXT.load(Relaxed);
                if calls.is_multiple_of(PROGRESS) || calls >= CALLS {
                    stats::progress(calls);
                }
                if calls >= CALLS {
                    stats::summary(calls, self.world.errors);
                    debug::halt_with(1);
                }
                self.new_epoch();
            } else if m.badge == FAULT_BADGE {
                self.restart(Stop::Fault(m.label()));
            } else {
                self.restart(Stop::Stall);
            }
        }
    }
}

/// Stops the run if a call of the supervisor's own failed: the fuzzer cannot go on.
fn check(what: &str, r: Result<()>) {
    if let Err(e) = r {
        println!("fuzz: {what}: error {}", e.code());
        fail(what);
    }
}

fn fail(what: &str) -> ! {
    println!("fuzz: the supervisor FAILED at {} calls ({what})", NEXT.load(Relaxed));
    debug::halt_with(0)
}

/// Where the root task starts: with its `seL4_BootInfo`, whose empty range and largest untyped
/// of RAM it takes.
fn main(bi: &BootInfo) -> ! {
    let empty = bi.empty();
    let Some(ut) = bi.largest_ram_untyped() else { fail("finding untyped RAM in BootInfo") };
    println!("fuzz: seed {SEED}, {CALLS} calls, a new world every {EPOCH} calls");
    check("lower the supervisor's priority", TCB.set_priority(TCB, SUPERVISOR_PRIORITY));
    let world_slots = empty.start..empty.start + WATCHDOG_SLOTS;
    let Some(world) = World::new(ut.cap, &mut SlotAllocator::new(ROOT, world_slots)) else {
        fail("setting up the pool and the worker's IPC buffer")
    };
    let mut watchdog_slots = SlotAllocator::new(ROOT, empty.start + WATCHDOG_SLOTS..empty.end);
    check("start the watchdog", watchdog::start(ut.cap, &mut watchdog_slots, world.tcb));
    Supervisor { world, last_next: 0, stuck: 0 }.run()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("fuzz: panic: {info}");
    debug::halt_with(0)
}
