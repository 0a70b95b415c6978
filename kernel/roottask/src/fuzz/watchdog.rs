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

use gears_user::cap::init_thread::IRQ_CONTROL;
use gears_user::cap::{IrqHandler, Notification, Tcb, Untyped};
use gears_user::slots::SlotAllocator;
use gears_user::{CNodeCapData, Result};

use crate::worker::NEXT;
use crate::{ROOT, TCB, VSPACE, stats};

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
/// slots of `slots`.
pub fn start(ut: Untyped, slots: &mut SlotAllocator, worker: Tcb) -> Result<()> {
    let handler = IrqHandler::from_cptr(slots.alloc().ok_or(gears_user::Error::NotEnoughMemory)?);
    IRQ_CONTROL.get(IRQ_TIMER, ROOT.slot(handler.cptr()))?;
    let ntfn: Notification = ut.create(slots)?;
    handler.set_notification(ntfn)?;
    let tcb: Tcb = ut.create(slots)?;
    for (c, v) in CAPS.iter().zip([handler.cptr(), ntfn.cptr(), worker.cptr()]) {
        c.store(v, Relaxed);
    }
    tcb.configure(0, ROOT, CNodeCapData::default(), VSPACE, None)?;
    tcb.set_priority(TCB, PRIORITY)?;
    let top = &raw const STACK as u64 + size_of::<[u64; 1024]>() as u64;
    tcb.start(watchdog as *const () as u64, top, &[])
}

/// The watchdog's loop: at each tick, whether the worker made a call since the last.
extern "C" fn watchdog(_: u64) -> ! {
    let [handler, ntfn, worker] = [0, 1, 2].map(|i| CAPS[i].load(Relaxed));
    let (handler, ntfn, worker) =
        (IrqHandler::from_cptr(handler), Notification::from_cptr(ntfn), Tcb::from_cptr(worker));
    let (mut last, mut quiet) = (u64::MAX, 0);
    loop {
        let _ = handler.ack();
        ntfn.wait();
        let next = NEXT.load(Relaxed);
        quiet = if HANDED_OVER.load(Relaxed) && next == last { quiet + 1 } else { 0 };
        last = next;
        if quiet >= TICKS {
            let _ = worker.suspend();
            stats::livelock();
            quiet = 0;
        }
    }
}
