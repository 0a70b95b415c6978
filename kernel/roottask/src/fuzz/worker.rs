//! The worker: a thread of the root task's address space, in a CSpace of its own, that makes
//! the seeded stream of calls until the end of its epoch, however often it is restarted.
//!
//! Its place in the stream is [`NEXT`], which it advances before each call: a restart goes on
//! with the call after the one that stopped it, and call `i` is the same in every run with the
//! same seed ([`Rng::for_call`]).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use crate::call::Call;
use crate::rng::Rng;
use gears_user::println;

use crate::{SEED, TRACE_FROM, machine, random, stats, templates};

/// The index of the next call to make.
pub static NEXT: AtomicU64 = AtomicU64::new(0);
/// Where the worker stops for the supervisor to build the next world.
pub static EPOCH_END: AtomicU64 = AtomicU64::new(0);
/// Set when the worker stopped at the end of its epoch.
pub static PARKED: AtomicBool = AtomicBool::new(false);
/// Set when a call may have changed a TCB (the worker's own among them).
pub static TOUCHED_TCB: AtomicBool = AtomicBool::new(false);

/// Call `i` of the run: 30 in a hundred fully random, the rest from templates.
pub fn generate(i: u64, c: &mut Call) {
    let r = &mut Rng::for_call(SEED, i);
    *c = Call::new();
    if r.chance(30) {
        random::random_call(r, c);
    } else {
        templates::templated_call(r, c);
    }
    random::extras(r, c);
}

/// The worker's entry point (the supervisor starts it here, on a fresh stack, every time).
pub extern "C" fn worker(_: u64) -> ! {
    let mut call = Call::new();
    loop {
        let i = NEXT.load(Relaxed);
        if i >= EPOCH_END.load(Relaxed) {
            PARKED.store(true, Relaxed);
            // A fault hands the processor to the supervisor whatever the worker did to its
            // CSpace: a fault message if its fault endpoint is still there, else it stops.
            machine::fault_at(0);
        }
        NEXT.store(i + 1, Relaxed);
        generate(i, &mut call);
        if call.may_touch_tcb() {
            TOUCHED_TCB.store(true, Relaxed);
        }
        let traced = TRACE_FROM.is_some_and(|from| i >= from);
        if traced {
            println!("fuzz: call {i}: {call}");
        }
        let (badge, info) = call.issue();
        if traced {
            println!("fuzz: call {i} returned badge {badge:#x}, info {info:#x}");
        }
        stats::returned(&call, info);
    }
}
