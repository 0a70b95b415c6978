//! The kernel's driver of the capability kernel: it boots `codegears`' kernel state from the
//! real memory map, loads the root task into the root VSpace, and runs the threads the
//! capability kernel schedules, turning each of their kernel entries into one call of
//! [`codegears::entry::handle`] — the entry the host tests drive too.
//!
//! - [`boot`]: seL4's boot from the memory map (the root task's image at its addresses, its
//!   objects and boot frames, all free RAM as untypeds, the holes as device untypeds), and the
//!   RAM the capability kernel reaches through its `PhysMem`;
//! - [`run`]: the main loop — choose the thread (`schedule`), copy its registers from its TCB
//!   into the hardware context, run it to its next kernel entry, copy them back (FaultIP and
//!   NextIP as seL4 keeps them), and enter the kernel with the event;
//! - [`machine`]: the [`Machine`](codegears::entry::Machine) the entry runs against;
//! - [`checks`]: the invariant metagear.
//!
//! Interrupts stay masked in the kernel: each gear is atomic, and the dispatcher is the only
//! place an operation can be preempted (at a preemption point, when seL4's work budget finds an
//! interrupt pending); a preempted call leaves its thread `Restart`, the entry takes the
//! interrupt, and the thread makes its call again when it runs next.

mod boot;
mod checks;
mod machine;
mod run;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use codegears::cap::ObjPtr;
use codegears::kernel::{BootInfo, Kernel};
use gears::{Dispatcher, Mode};
use metagears::wire::WireTracer;
use metagears::{DEFAULT_WORK_UNITS, WorkBudget};

pub use boot::{RootStart, UntypedDesc};
pub use checks::Checks;
#[cfg(feature = "qemu-test")]
pub use checks::hardware_check;
pub use machine::HwMachine;

use crate::arch;
#[cfg(feature = "qemu-test")]
use crate::arch::UserContext;
use crate::thread::RootImage;

/// The root task, built or named by the xtask and embedded by `build.rs`; empty when the kernel
/// was built without it (plain `cargo build -p kernel`).
pub static ROOT_TASK_ELF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/roottask.elf"));

/// Whether the root task is one of the project's own programs, which end their run with a
/// verdict in `seL4_DebugHalt`'s cap register (1: passed; the xtask says so at build time). Any
/// other root task's DebugHalt stops the machine, as on seL4, and so does the end of every
/// thread: the run then ends normally.
fn verdict_protocol() -> bool {
    option_env!("GEARS_ROOTTASK_VERDICT") == Some("1")
}

/// Writes trace frames to the serial line (`cargo xtask run --trace` decodes them).
fn serial_sink(bytes: &[u8]) {
    arch::console_write_bytes(bytes);
}

/// The metagears of the kernel's dispatcher: the tracer (`--trace`), seL4's work budget asking
/// whether an interrupt is pending, and the invariant checks.
type Meta = (Option<WireTracer<fn(&[u8])>>, WorkBudget<fn() -> bool>, Checks);

/// What the kernel counted while running threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Kernel entries by system call (restarts included).
    pub syscalls: u64,
    /// Operations preempted at a preemption point.
    pub preemptions: u64,
    /// System calls entered again after a preemption (seL4 Restart).
    pub restarts: u64,
    /// Interrupts handled.
    pub interrupts: u64,
    /// Switches from one thread to another.
    pub switches: u64,
    /// Times a thread woken by a timer tick (the user-level timer driver) was run.
    pub driver_wakeups: u64,
    /// The largest time from a timer interrupt being raised to the user thread it woke running
    /// (virtual nanoseconds: guest instructions under `-icount shift=0`).
    pub user_latency_max_ns: u64,
    /// Faults sent to a fault handler or stopping their thread (user faults, unknown system
    /// calls, cap faults of system calls).
    pub faults: u64,
}

/// How the threads' run ended: `seL4_DebugHalt`, by a thread, with the word in its cap register
/// (the project's root task passes its verdict: 1 passed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Halt {
    /// The thread that halted.
    pub thread: ObjPtr,
    /// Its cap register.
    pub arg: u64,
}

/// The capability kernel on the real machine, with the root task's image.
pub struct Driver {
    /// The kernel context (state, per-entry DataGears).
    pub kernel: Kernel,
    /// What boot gave the root task.
    pub info: BootInfo,
    /// The untypeds, with their physical addresses and device flags.
    #[cfg_attr(not(feature = "qemu-test"), expect(dead_code, reason = "the QEMU tests read them"))]
    pub untypeds: Vec<UntypedDesc>,
    dispatcher: Dispatcher<Kernel, Meta>,
    machine: HwMachine,
    /// Where the root task starts.
    start: RootStart,
    /// The counters.
    pub stats: Stats,
    /// A latency measurement in progress: preemption points on, the counters at its start.
    #[cfg(feature = "latency-bench")]
    bench: Option<(bool, Stats)>,
}

impl Driver {
    /// Boots with the embedded root task ([`ROOT_TASK_ELF`]).
    pub fn boot_root_task() -> Result<Driver, String> {
        if ROOT_TASK_ELF.is_empty() {
            return Err("the kernel was built without the root task (build it with `cargo xtask`)".into());
        }
        let image = RootImage::from_elf(ROOT_TASK_ELF).map_err(|e| format!("the root task's ELF: {e:?}"))?;
        Driver::boot(&image).map_err(|e| format!("could not boot the root task: {e:?}"))
    }

    /// Runs the threads until a `seL4_DebugHalt` or until no thread can run again; returns the
    /// verdict of the project's own root task (1 in its cap register: passed), or `true` for any
    /// other root task's run that ended so.
    pub fn run_root_task(&mut self) -> Result<bool, String> {
        let root = self.info.root_tcb;
        crate::console::report(metagears::wire::Report::RootTaskStarted);
        let end = self.run()?;
        if !verdict_protocol() {
            return Ok(true);
        }
        match end {
            Some(Halt { thread, arg }) if thread == root => Ok(arg == 1),
            Some(Halt { thread, arg }) => {
                Err(format!("thread {:#x} halted the machine with {arg}", thread.0))
            }
            None => Err("every thread stopped before the root task's verdict".into()),
        }
    }

    /// Prints what the kernel counted over a run of `ticks` timer ticks.
    pub fn report(&mut self, ticks: u64) {
        let s = self.stats;
        let c = self.checks();
        kprintln!(
            "kernel: {} system calls in {ticks} ticks; preempted {} times by the timer, restarted {} times; \
             {} full invariant checks, {} local checks",
            s.syscalls,
            s.preemptions,
            s.restarts,
            c.full,
            c.local
        );
        kprintln!(
            "kernel: {} thread switches; the user-level timer driver ran {} times; {} faults",
            s.switches,
            s.driver_wakeups,
            s.faults
        );
        kprintln!(
            "kernel: interrupt latency: the largest time from a timer tick being raised to the \
             user-level driver it woke running was {} us (QEMU time: wall clock under TCG; \
             `cargo xtask bench irq-latency` counts guest instructions under -icount, with and without \
             preemption points)",
            s.user_latency_max_ns / 1000
        );
        let (heap_used, heap_free) = crate::memory::heap::usage();
        kprintln!(
            "kernel: heap {heap_used} bytes used, {heap_free} free; {} frames allocated",
            crate::memory::frames::allocated()
        );
        let (frames, bytes) = self.trace_written();
        if frames > 0 {
            kprintln!("kernel: traced {frames} frames, {bytes} bytes");
        }
    }

    /// Streams the gear trace to the serial line from now on (or stops).
    pub fn set_tracing(&mut self, on: bool) {
        let tracer = &mut self.dispatcher.meta_mut().0;
        match (on, tracer.is_some()) {
            (true, false) => *tracer = Some(WireTracer::new(serial_sink as fn(&[u8]))),
            (false, true) => *tracer = None,
            _ => {}
        }
    }

    /// Turns seL4's preemption points on (the work budget asks the timer) or off (it never
    /// preempts: what a kernel without preemption points does), for the latency bench.
    #[cfg(feature = "latency-bench")]
    pub fn set_preemption(&mut self, on: bool) {
        fn never() -> bool {
            false
        }
        let pending: fn() -> bool = if on { arch::irq_pending } else { never };
        self.dispatcher.meta_mut().1 = WorkBudget::new(DEFAULT_WORK_UNITS, pending, Mode::Restart);
    }

    /// Trace frames and bytes written since tracing was turned on.
    pub fn trace_written(&self) -> (u64, u64) {
        self.dispatcher.meta().0.as_ref().map_or((0, 0), |t| (t.frames(), t.bytes()))
    }

    /// The invariant metagear, to read or configure.
    pub fn checks(&mut self) -> &mut Checks {
        &mut self.dispatcher.meta_mut().2
    }

    /// How many times the work budget asked the timer, and how many times it preempted.
    #[cfg(feature = "qemu-test")]
    pub fn budget(&self) -> (u64, u64) {
        let b = &self.dispatcher.meta().1;
        (b.checks(), b.preemptions())
    }

    /// Runs `f` on the hardware context kept in thread `t`'s TCB (for the QEMU tests).
    #[cfg(feature = "qemu-test")]
    pub fn with_context<R>(&mut self, t: ObjPtr, f: impl FnOnce(&mut UserContext) -> R) -> R {
        arch::with_thread_hw(t, |hw| f(&mut hw.ctx))
    }

    fn work_budget() -> WorkBudget<fn() -> bool> {
        WorkBudget::new(DEFAULT_WORK_UNITS, arch::irq_pending as fn() -> bool, Mode::Restart)
    }
}
