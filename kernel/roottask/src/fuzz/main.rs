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
mod random;
#[path = "../regs.rs"]
mod regs;
mod rng;
#[allow(dead_code, reason = "the fuzzer makes only some of the root task's calls")]
#[allow(unsafe_code, reason = "the system calls, the IPC buffer and the entry point")]
#[path = "../sel4.rs"]
mod sel4;
mod stats;
mod templates;
#[allow(dead_code, reason = "the fuzzer uses only some of the paging objects")]
#[path = "../vm.rs"]
mod vm;
mod watchdog;
mod worker;
mod world;

use abi::bootinfo::{
    CAP_INIT_THREAD_CNODE as ROOT, CAP_INIT_THREAD_TCB as TCB, CAP_INIT_THREAD_VSPACE as VSPACE,
};
use abi::label::tcb::{CONFIGURE, SET_PRIORITY, SET_SCHED_PARAMS, SUSPEND};

use sel4::call;
use stats::Stop;
use worker::{EPOCH_END, NEXT, PARKED, TOUCHED_TCB};
use world::{FAULT_BADGE, GUARD_BITS, WORKER_IPC, World};

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
        let cspace_data = abi::CNodeCapData::new(0, GUARD_BITS).word();
        let words = [world::slot::FAULT_EP, cspace_data, 0, WORKER_IPC];
        check("configure the worker", call(w.tcb, CONFIGURE, &words, &[w.cnode, VSPACE, w.ipc_frame]).label);
        let params = [SUPERVISOR_PRIORITY, WORKER_PRIORITY];
        check("set the worker's priorities", call(w.tcb, SET_SCHED_PARAMS, &params, &[TCB]).label);
    }

    /// Starts the worker at its entry on a fresh stack, and waits for it to stop.
    fn resume(&self) {
        watchdog::HANDED_OVER.store(true, Relaxed);
        let top = &raw const WORKER_STACK as u64 + (STACK_WORDS * 8) as u64;
        check(
            "start the worker",
            regs::resume_at(self.world.tcb, worker::worker as *const () as u64, top, &[]),
        );
    }

    /// Counts why the worker stopped and starts it again (configured again if a call may
    /// have changed its TCB).
    fn restart(&mut self, stop: Stop) {
        stats::stopped(stop);
        let next = NEXT.load(Relaxed);
        self.stuck = if next == self.last_next { self.stuck + 1 } else { 0 };
        self.last_next = next;
        if self.stuck > STUCK_LIMIT {
            let regs = call(self.world.tcb, abi::label::tcb::READ_REGISTERS, &[0, 3], &[]);
            say!("fuzz: the worker's last stop: {stop:?}; its first registers {:x?}", &regs.mrs[..3]);
            fail("restarting the worker: it makes no calls");
        }
        check("suspend the worker", call(self.world.tcb, SUSPEND, &[], &[]).label);
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
            let m = sel4::nb_recv(self.world.fault_ep);
            if PARKED.load(Relaxed) {
                let calls = NEXT.load(Relaxed);
                if calls.is_multiple_of(PROGRESS) || calls >= CALLS {
                    stats::progress(calls);
                }
                if calls >= CALLS {
                    stats::summary(calls, self.world.errors);
                    sel4::halt(true);
                }
                self.new_epoch();
            } else if m.badge == FAULT_BADGE {
                self.restart(Stop::Fault(m.label));
            } else {
                self.restart(Stop::Stall);
            }
        }
    }
}

/// Stops the run if a call of the supervisor's own failed: the fuzzer cannot go on.
fn check(what: &str, label: u64) {
    if label != 0 {
        say!("fuzz: {what}: error {label}");
        fail(what);
    }
}

fn fail(what: &str) -> ! {
    say!("fuzz: the supervisor FAILED at {} calls ({what})", NEXT.load(Relaxed));
    sel4::halt(false)
}

/// Where the root task starts: with the address of its `seL4_BootInfo`, whose empty range and
/// largest untyped of RAM it takes.
fn start([boot_info, ..]: [u64; 4]) -> ! {
    let bi = sel4::read_boot_info(boot_info);
    let free = bi.empty.start;
    let largest = bi.untypeds().filter(|(_, u)| u.is_device == 0).max_by_key(|(_, u)| u.size_bits);
    let Some((ut, _)) = largest else { fail("finding untyped RAM in BootInfo") };
    say!("fuzz: seed {SEED}, {CALLS} calls, a new world every {EPOCH} calls");
    check("lower the supervisor's priority", call(TCB, SET_PRIORITY, &[SUPERVISOR_PRIORITY], &[TCB]).label);
    let Some(world) = World::new(ut, free) else { fail("setting up the pool and the worker's IPC buffer") };
    if !watchdog::start(ut, &mut vm::Slots(free + WATCHDOG_SLOTS), world.tcb) {
        fail("starting the watchdog");
    }
    Supervisor { world, last_next: 0, stuck: 0 }.run()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    say!("fuzz: panic: {info}");
    sel4::halt(false)
}
