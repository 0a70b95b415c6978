//! The watchdog: a thread above the worker that counts the timer's ticks and suspends a worker
//! that had the processor and made no call for [`TICKS`] ticks.
//!
//! The supervisor runs below the worker, so a worker that never stops never lets it run: a
//! thread can make the same call forever (CopyRegisters from itself into itself, say, sets its
//! NextIP to its FaultIP: the call's own instruction; seL4 does the same). The watchdog takes
//! the timer's IRQ (the kernel shares its tick with one user-level driver) and suspends such a
//! worker; the supervisor then sees a stall. It acts only while the supervisor waits for the
//! worker ([`HANDED_OVER`]), so in a run without a livelock it changes nothing.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use abi::bootinfo::CAP_IRQ_CONTROL;
use abi::label::irq_control::ISSUE_IRQ_HANDLER;
use abi::label::irq_handler::{ACK, SET_NOTIFICATION};
use abi::label::tcb::{CONFIGURE, SET_PRIORITY, SUSPEND};
use abi::label::untyped::RETYPE;
use abi::object::{NOTIFICATION, TCB as TCB_OBJECT};

use crate::sel4::{self, call};
use crate::vm::Slots;
use crate::worker::NEXT;
use crate::{ROOT, TCB, VSPACE, regs, stats};

/// Set by the supervisor while it waits for the worker to stop.
pub static HANDED_OVER: AtomicBool = AtomicBool::new(false);
/// Ticks without a call before the worker is suspended (2 s at 100 Hz; a call takes well under
/// a tick, a whole world's rebuild under a second).
const TICKS: u64 = 200;
/// The watchdog's priority: above the worker's (200), which cannot raise anything past 100.
const PRIORITY: u64 = 254;
/// The kernel timer's IRQ line.
const IRQ_TIMER: u64 = 0;

/// The caps the watchdog uses: its IRQ handler, its notification, the worker's TCB.
static CAPS: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
static mut STACK: [u64; 1024] = [0; 1024];

/// Starts the watchdog of the worker whose TCB is `worker` (a supervisor slot), from `ut` into
/// slots from `s`; whether it all worked.
pub fn start(ut: u64, s: &mut Slots, worker: u64) -> bool {
    let (handler, ntfn, tcb) = (s.next(), s.next(), s.next());
    let mut ok =
        call(CAP_IRQ_CONTROL, ISSUE_IRQ_HANDLER, &[IRQ_TIMER, handler, abi::WORD_BITS], &[ROOT]).ok();
    ok &= call(ut, RETYPE, &[NOTIFICATION, 0, 0, 0, ntfn, 1], &[ROOT]).ok();
    ok &= call(handler, SET_NOTIFICATION, &[], &[ntfn]).ok();
    ok &= call(ut, RETYPE, &[TCB_OBJECT, 0, 0, 0, tcb, 1], &[ROOT]).ok();
    for (c, v) in CAPS.iter().zip([handler, ntfn, worker]) {
        c.store(v, Relaxed);
    }
    ok &= call(tcb, CONFIGURE, &[0, 0, 0, 0], &[ROOT, VSPACE, VSPACE]).ok();
    ok &= call(tcb, SET_PRIORITY, &[PRIORITY], &[TCB]).ok();
    let top = &raw const STACK as u64 + size_of::<[u64; 1024]>() as u64;
    ok && regs::resume_at(tcb, watchdog as *const () as u64, top, &[]) == 0
}

/// The watchdog's loop: at each tick, whether the worker made a call since the last.
extern "C" fn watchdog(_: u64) -> ! {
    let [handler, ntfn, worker] = [0, 1, 2].map(|i| CAPS[i].load(Relaxed));
    let (mut last, mut quiet) = (u64::MAX, 0);
    loop {
        call(handler, ACK, &[], &[]);
        sel4::wait(ntfn);
        let next = NEXT.load(Relaxed);
        quiet = if HANDED_OVER.load(Relaxed) && next == last { quiet + 1 } else { 0 };
        last = next;
        if quiet >= TICKS {
            call(worker, SUSPEND, &[], &[]);
            stats::livelock();
            quiet = 0;
        }
    }
}
