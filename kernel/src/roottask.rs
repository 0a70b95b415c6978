//! The capability kernel on the real machine: every thread is a TCB of `codegears`, and every
//! kernel entry is a dispatcher run.
//!
//! [`RootTask::boot`] is seL4's boot from the real memory map (`KernelState::boot_with`): the
//! untyped pool the memory set-up carved out and one device page per architecture, with their
//! physical addresses and device flags, and the root task's VSpace root, a real page table its
//! image is loaded into.
//!
//! [`RootTask::run_elf`] is the kernel's main loop: the capability kernel's scheduler picks the
//! thread, the kernel activates it (seL4's `activateThread`: a `Restart` thread resumes at its
//! FaultIP), runs it in the VSpace its TCB's VTable slot names, and turns its next kernel entry
//! into a run of the dispatcher: `HANDLE_SYSCALL` (seL4's registers, the message words past MR3
//! and the extra caps from its IPC buffer), `HANDLE_INTERRUPT` (timer ticks and device lines) or
//! `HANDLE_FAULT` (user faults and cap faults). The metagears: an optional [`WireTracer`]
//! (`--trace`), seL4's [`WorkBudget`] asking `isIRQPending` every 100 preemption points, and
//! [`Checks`] (the invariant metagear). After each run the kernel applies the `MachineOp`s the
//! gears recorded (zeroing, page-table entries, flushes, interrupt masks), and what a thread
//! receives (a reply, a message) goes into its registers and IPC buffer when it runs next. A
//! preempted call restarts the seL4 way: the kernel takes the pending interrupt, and the thread,
//! left `Restart`, enters the call again at its syscall instruction and finds its progress in
//! the kernel objects. Interrupts stay masked in the kernel: each gear is atomic, and the
//! dispatcher is the only place preemption happens.
//!
//! [`RootTask::run_script`] runs the script runner of `arch::programs` instead, alone: it makes
//! the calls a script (written into its read-only script pages before it starts) lists, and
//! stores each reply where the kernel's checks read it (the scenarios of `scenarios.rs`).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use codegears::InvariantViolation;
use codegears::arch::Arch;
use codegears::cap::{Cap, ObjPtr, SlotRef};
use codegears::fault::{Fault, HANDLE_FAULT};
use codegears::interrupt::{HANDLE_INTERRUPT, IRQ_TIMER};
use codegears::kernel::{BootConfig, BootInfo, Done, Kernel, KernelState, ReplyMsg, root_slot, tcb_slot};
use codegears::machine::{MachineOp, Pte};
use codegears::object::ThreadState;
use codegears::syscall::{HANDLE_SYSCALL, MessageInfo, reply_from_kernel_error, sys};
use gears::{Dispatcher, Gear, Halt, HaltReason, MetaGear, Mode, Outcome, PointDecision, Step};
use metagears::wire::WireTracer;
use metagears::{DEFAULT_WORK_UNITS, Invariant, WorkBudget};

use crate::arch::{self, Trap, UserContext};
use crate::thread::{IPC_BUFFER_VA, LoadError, RESULTS_VA, SCRIPT_VA, UserThread};

/// The Rust root task (`kernel/roottask`), built by the xtask and embedded by `build.rs`; empty
/// when the kernel was built without it (plain `cargo build -p kernel`).
pub static ROOT_TASK_ELF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/roottask.elf"));

/// `seL4_SysDebugPutChar`: the character is in the cap register.
const SYS_DEBUG_PUT_CHAR: i64 = -9;
/// `seL4_SysDebugHalt`, here with the root task's verdict in the cap register (1 pass).
const SYS_DEBUG_HALT: i64 = -11;
/// Benchmark call (the `latency-bench` kernel, like seL4's benchmark configuration's calls):
/// start measuring interrupt latency, with the preemption points on (cap register 1) or off.
#[cfg(feature = "latency-bench")]
const SYS_BENCH_BEGIN: i64 = -12;
/// Benchmark call: stop measuring and print the figures (the cap register says how many caps the
/// measured revoke removed).
#[cfg(feature = "latency-bench")]
const SYS_BENCH_END: i64 = -13;

/// Where the capability kernel's boot places the objects that are not in real memory (the root
/// TCB, CNode and ASID pool are the kernel's data): at addresses above any physical memory of the
/// machines we run on (1 TiB), so no untyped, frame or page table can ever overlap them.
const MODEL_ROOT_TCB: u64 = 0x0100_0000_0000;
const MODEL_ASID_POOL: u64 = 0x0100_0000_1000;
const MODEL_ROOT_CNODE: u64 = 0x0100_0100_0000;

/// The root CNode's radix (4096 slots).
pub const ROOT_RADIX: u8 = 12;
/// Words in a script record (see `arch::programs::script_runner`).
const RECORD_WORDS: usize = 16;
/// Words in a result record.
const RESULT_WORDS: usize = 8;
/// Script pages mapped for the runner.
const SCRIPT_PAGES: usize = 2;
/// The most records a script may hold (the last slot stays zero: the end marker).
pub const MAX_RECORDS: usize = SCRIPT_PAGES * 4096 / (RECORD_WORDS * 8) - 1;
/// IPC buffer word of message register `i` (`seL4_IPCBuffer.msg[i]`).
const fn ipc_msg_word(i: usize) -> usize {
    1 + i
}
/// IPC buffer word of extra cap `j` (`seL4_IPCBuffer.caps_or_badges[j]`).
const fn ipc_cap_word(j: usize) -> usize {
    122 + j
}

/// An untyped handed to the root task: cptr, physical base, size, device memory or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UntypedDesc {
    /// Its slot in the root CNode.
    pub cptr: u64,
    /// Physical base address.
    pub base: u64,
    /// log2 of its size.
    pub bits: u8,
    /// Device memory (frames only, never kernel objects).
    pub device: bool,
}

/// One seL4 call of a script: what the root task puts in its registers and IPC buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Call {
    /// The syscall number (`seL4_SysCall` …).
    pub number: i64,
    /// The invoked cap.
    pub cap: u64,
    /// The invocation label.
    pub label: u64,
    /// Message words (at most 8 here: MR0–3 in registers, MR4–7 in the IPC buffer).
    pub mrs: [u64; 8],
    /// How many message words.
    pub length: u64,
    /// Extra caps (in the IPC buffer).
    pub extra: [u64; 3],
    /// How many extra caps.
    pub extra_caps: u64,
    /// Make the call this many times (at least 1) …
    pub repeat: u64,
    /// … adding this to MR0 each time.
    pub stride: u64,
}

impl Call {
    /// `seL4_Call(cap, label, mrs, extra caps)`.
    pub fn new(cap: u64, label: u64, mrs: &[u64], extra: &[u64]) -> Call {
        let mut c = Call { number: sys::CALL, cap, label, repeat: 1, ..Call::default() };
        c.mrs[..mrs.len()].copy_from_slice(mrs);
        c.length = mrs.len() as u64;
        c.extra[..extra.len()].copy_from_slice(extra);
        c.extra_caps = extra.len() as u64;
        c
    }

    /// The same call `n` times, MR0 stepping by `stride`.
    #[cfg_attr(not(feature = "qemu-test"), allow(dead_code, reason = "run by the QEMU test suite"))]
    pub fn repeated(mut self, n: u64, stride: u64) -> Call {
        self.repeat = n;
        self.stride = stride;
        self
    }

    fn words(&self) -> [u64; RECORD_WORDS] {
        let info = MessageInfo::new(self.label, 0, self.extra_caps, self.length).to_word();
        let m = &self.mrs;
        let e = &self.extra;
        [
            self.number as u64,
            self.cap,
            info,
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            m[5],
            m[6],
            m[7],
            e[0],
            e[1],
            e[2],
            self.repeat.max(1),
            self.stride,
        ]
    }
}

/// What the root task got back from one script record (its last call).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// The reply's label: 0 for success, else the `seL4_Error` code.
    pub label: u64,
    /// The reply's length.
    pub length: u64,
    /// MR0–3 of the reply.
    pub mrs: [u64; 4],
    /// How many calls the record made.
    pub calls: u64,
}

/// The invariant metagear as the kernel plugs it in: `metagears::Invariant` over
/// `codegears::check_invariants` at every `every`-th preemption point (1: every one) and
/// wherever an operation is preempted, plus a constant-time check of the CDT links around the
/// slot a revoke works on at every point. A full check is linear in the number of caps, so a
/// revoke of 65,536 caps samples it (the host tests do the same, `tests/tests/sel4_preempt_revoke.rs`).
pub struct Checks {
    invariant: Invariant<CheckFn, InvariantViolation>,
    /// Full check every this many points (0: none at points).
    pub every: u64,
    /// Full check wherever an operation is preempted.
    pub where_preempted: bool,
    /// Preemption points seen.
    pub points: u64,
    /// Full checks run (at points and where preempted).
    pub full: u64,
    /// Local CDT checks run.
    pub local: u64,
    /// The first violation.
    pub violation: Option<String>,
}

/// The predicate the invariant metagear runs.
type CheckFn = fn(&Kernel) -> Result<(), InvariantViolation>;

fn full_check(k: &Kernel) -> Result<(), InvariantViolation> {
    codegears::check_invariants(&k.state)
}

impl Checks {
    /// Checks at every preemption point.
    pub fn new() -> Checks {
        Checks {
            invariant: Invariant::new(full_check as CheckFn).only_at_preemption_points(),
            every: 1,
            where_preempted: true,
            points: 0,
            full: 0,
            local: 0,
            violation: None,
        }
    }
}

impl MetaGear<Kernel> for Checks {
    fn preemption_point(
        &mut self,
        at: &Step<Kernel>,
        next: &'static Gear<Kernel>,
        k: &Kernel,
    ) -> PointDecision {
        self.points += 1;
        if let Some(slot) = k.revoke.slot {
            self.local += 1;
            let cs = &k.state.cspace;
            if let Some(n) = cs.mdb(slot).next
                && cs.mdb(n).prev != Some(slot)
            {
                self.violation.get_or_insert_with(|| format!("CDT links broken after {slot:?}"));
                return PointDecision::Halt(Halt::new("Checks", HaltReason::Invariant));
            }
        }
        if self.every != 0 && self.points.is_multiple_of(self.every) {
            self.full += 1;
            let d = self.invariant.preemption_point(at, next, k);
            if let (PointDecision::Halt(_), Some(v)) = (d, self.invariant.violation()) {
                self.violation.get_or_insert_with(|| format!("{}: {}", v.gear, v.error));
            }
            return d;
        }
        PointDecision::Continue
    }

    fn preempted(&mut self, _at: &Step<Kernel>, next: &'static Gear<Kernel>, _mode: Mode, k: &Kernel) {
        if !self.where_preempted {
            return;
        }
        self.full += 1;
        if let Err(e) = full_check(k) {
            self.violation.get_or_insert_with(|| format!("where preempted before {}: {e}", next.name()));
        }
    }
}

/// Writes trace frames to the serial line (`cargo xtask run --trace` decodes them).
fn serial_sink(bytes: &[u8]) {
    arch::console_write_bytes(bytes);
}

/// The metagears of the root task's dispatcher.
type Meta = (Option<WireTracer<fn(&[u8])>>, WorkBudget<fn() -> bool>, Checks);

/// What the kernel counted while serving the root task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Kernel entries by system call (restarts included).
    pub syscalls: u64,
    /// Operations preempted at a preemption point.
    pub preemptions: u64,
    /// System calls entered again after a preemption (seL4 Restart).
    pub restarts: u64,
    /// Timer interrupts taken while the root task ran.
    pub interrupts: u64,
    /// Switches from one thread to another.
    pub switches: u64,
    /// Times a thread woken by a timer tick (the user-level timer driver) was run.
    pub driver_wakeups: u64,
    /// The largest time from a timer interrupt being raised to the user thread it woke running
    /// (virtual nanoseconds: guest instructions under `-icount shift=0`).
    pub user_latency_max_ns: u64,
    /// User faults that stopped a thread.
    pub faults: u64,
}

/// What a thread finds in its registers and IPC buffer when it runs next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Deliver {
    /// Nothing: it resumes as it left (Send, Yield, a fresh thread).
    #[default]
    Nothing,
    /// The kernel's reply to its Call on a kernel object (or an error reply).
    Reply(ReplyMsg),
    /// What its receive got (Recv, NBRecv, ReplyRecv, a Call answered by Reply): badge,
    /// MessageInfo and message words, as the capability kernel wrote them into its TCB.
    Received,
}

/// The kernel's side of one seL4 thread: what the TCB in the capability kernel does not hold.
#[derive(Debug, Default)]
struct Thread {
    /// The saved registers (while it runs, the TCB's copy is stale).
    ctx: UserContext,
    /// Where it resumes when it is `Running` (seL4's NextIP). The TCB's first register is
    /// seL4's FaultIP: the instruction that entered the kernel (a system call's, a faulting
    /// one's), where a thread the kernel left `Restart` resumes, entering the same call again.
    next_ip: u64,
    /// What to deliver before it runs.
    deliver: Deliver,
    /// When the timer interrupt that woke it was raised, until it runs.
    woken_by_tick: Option<u64>,
    /// Its console line so far (`seL4_DebugPutChar`).
    line: String,
}

/// How a script run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptEnd {
    /// The runner reached the end of its script and yielded.
    Done(Vec<Reply>),
    /// The thread was stopped (fault, cap fault, or an invariant failed).
    Stopped(String),
}

/// The capability kernel serving the root task.
pub struct RootTask {
    /// The kernel context (state, request, cursors).
    pub kernel: Kernel,
    /// What boot gave the root task.
    pub info: BootInfo,
    /// The untypeds, with their physical addresses and device flags.
    pub untypeds: Vec<UntypedDesc>,
    dispatcher: Dispatcher<Kernel, Meta>,
    /// The counters.
    pub stats: Stats,
    restart_pending: bool,
    /// Every thread that has run, by TCB.
    threads: BTreeMap<ObjPtr, Thread>,
    /// The root task's image (its address space and frames) and its IPC buffer frame.
    root_image: Option<(UserThread, u64)>,
    /// The root task's VSpace root (owned by the image once loaded).
    root_vspace: u64,
    /// A latency measurement in progress: preemption points on, the counters at its start.
    #[cfg(feature = "latency-bench")]
    bench: Option<(bool, Stats)>,
}

impl RootTask {
    /// Boots the capability kernel for the root task with the kernel's untyped pool and a device
    /// page (the UART's on riscv64, the VGA window on x86_64).
    pub fn boot() -> RootTask {
        // seL4's boot from the real memory map: the untyped pool the memory set-up carved out and
        // a device page, and the root task's VSpace root, a real page table the root task's
        // image is loaded into (its top-level entry for the user area is the kernel's: opaque to
        // the capability kernel).
        let mut regions = Vec::new();
        if let Some(base) = crate::memory::untyped_pool() {
            regions.push((base, crate::memory::UNTYPED_POOL_BITS, false));
        }
        let (dev_base, dev_bits) = arch::DEVICE_UNTYPED;
        regions.push((dev_base, dev_bits, true));
        let root_vspace =
            crate::memory::frames::alloc_zeroed().expect("a frame for the root task's VSpace root");
        let (state, info) = KernelState::boot_with(&BootConfig {
            arch: if cfg!(target_arch = "riscv64") { Arch::Riscv64 } else { Arch::X86_64 },
            root_radix: ROOT_RADIX,
            root_tcb: MODEL_ROOT_TCB,
            root_cnode: MODEL_ROOT_CNODE,
            untypeds: &regions,
            vspace_root: root_vspace,
            boot_entries: &[arch::USER_ROOT_ENTRY],
            asid_pool: MODEL_ASID_POOL,
        });
        let untypeds = info
            .untyped
            .iter()
            .zip(&regions)
            .map(|(&(cptr, base, bits), &(_, _, device))| UntypedDesc { cptr, base, bits, device })
            .collect();
        let budget: WorkBudget<fn() -> bool> =
            WorkBudget::new(DEFAULT_WORK_UNITS, arch::irq_pending as fn() -> bool, Mode::Restart);
        let mut checks = Checks::new();
        if !cfg!(feature = "qemu-test") {
            checks.every = 0;
        }
        let mut rt = RootTask {
            kernel: Kernel::new(state),
            info,
            untypeds,
            dispatcher: Dispatcher::new((None, budget, checks)),
            stats: Stats::default(),
            restart_pending: false,
            threads: BTreeMap::new(),
            root_image: None,
            root_vspace,
            #[cfg(feature = "latency-bench")]
            bench: None,
        };
        rt.set_tracing(cfg!(feature = "trace"));
        rt
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
    #[cfg_attr(not(feature = "latency-bench"), allow(dead_code, reason = "used by the latency bench"))]
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
    #[cfg_attr(not(feature = "qemu-test"), allow(dead_code, reason = "run by the QEMU test suite"))]
    pub fn budget(&self) -> (u64, u64) {
        let b = &self.dispatcher.meta().1;
        (b.checks(), b.preemptions())
    }

    /// The cap in root CNode slot `cptr`.
    pub fn cap(&self, cptr: u64) -> Cap {
        self.kernel.state.cspace.cap(SlotRef::of(self.info.root_cnode, cptr))
    }

    /// The cap in slot `index` of the CNode whose cap is in root slot `cnode`.
    #[cfg_attr(not(feature = "qemu-test"), allow(dead_code, reason = "run by the QEMU test suite"))]
    pub fn cap_in(&self, cnode: u64, index: u64) -> Cap {
        match self.cap(cnode) {
            Cap::CNode { ptr, .. } => self.kernel.state.cspace.cap(SlotRef::of(ptr, index)),
            _ => Cap::Null,
        }
    }

    /// The object pointer of the cap in root slot `cptr`, if it names one.
    pub fn object_of(&self, cptr: u64) -> Option<ObjPtr> {
        match self.cap(cptr) {
            Cap::Thread { ptr } | Cap::Endpoint { ptr, .. } | Cap::CNode { ptr, .. } => Some(ptr),
            _ => None,
        }
    }

    /// Copies a real user thread's IP and SP into the model TCB at `tcb` (frame registers 0
    /// and 1, seL4's order), so ReadRegisters on it returns what the thread really holds.
    pub fn sync_tcb_registers(&mut self, tcb: ObjPtr, ctx: &UserContext) {
        if let Some(t) = self.kernel.state.objects.tcb_mut(tcb) {
            t.registers[0] = ctx.ip();
            t.registers[1] = arch::user_sp(ctx);
        }
    }

    /// Loads the script runner with `script`, runs it to its end, and returns the replies.
    pub fn run_script(&mut self, script: &[Call]) -> Result<ScriptEnd, LoadError> {
        assert!(script.len() <= MAX_RECORDS, "script longer than {MAX_RECORDS} records");
        let mut t = UserThread::load(arch::programs::script_runner())?;
        let ipc = t.map_page(IPC_BUFFER_VA, true)?;
        let results = t.map_page(RESULTS_VA, true)?;
        let per_page = 4096 / (RECORD_WORDS * 8);
        for page in 0..SCRIPT_PAGES {
            let frame = t.map_page(SCRIPT_VA + page as u64 * 4096, false)?;
            for (i, call) in script.iter().enumerate().skip(page * per_page).take(per_page) {
                let off = (i - page * per_page) * RECORD_WORDS * 8;
                write_words(frame, off, &call.words());
            }
        }
        let end = loop {
            match t.run() {
                Trap::Interrupt(_) => self.stats.interrupts += 1,
                Trap::Fault(f) => {
                    break ScriptEnd::Stopped(format!("root task fault: {}", arch::fault_name(&f)));
                }
                Trap::Syscall => match self.syscall(&mut t.ctx, ipc) {
                    Ok(true) => {}
                    Ok(false) => break ScriptEnd::Done(read_replies(results, script.len())),
                    Err(why) => break ScriptEnd::Stopped(why),
                },
            }
        };
        Ok(end)
    }

    /// Runs the Rust root task (an ELF, `kernel/roottask`) and every thread it starts, as the
    /// capability kernel schedules them, until the root task's `seL4_DebugHalt`: it gets the first
    /// free slot, its untyped's cptr, the bench flag and its device untyped's cptr in its first
    /// four argument registers, its IPC buffer, and
    /// the debug calls `seL4_DebugPutChar` (a console line per newline) and `seL4_DebugHalt` (its
    /// verdict) besides the calls the gears serve. Returns the verdict.
    ///
    /// This is the kernel's main loop: choose the thread the capability kernel's scheduler
    /// names (`chooseThread`), activate it (a `Restart` thread goes back to its syscall
    /// instruction: seL4's `activateThread`), run it to its next kernel entry, and turn the entry
    /// into a dispatcher run: a system call from `HANDLE_SYSCALL`, an interrupt from
    /// `HANDLE_INTERRUPT`, a user fault stopping the thread. With no runnable thread the kernel
    /// idles until an interrupt.
    pub fn run_elf(&mut self, elf: &[u8]) -> Result<bool, String> {
        if self.root_image.is_some() {
            return Err("the root task is already loaded".into());
        }
        let mut image = UserThread::load_elf_into(elf, self.root_vspace)
            .map_err(|e| format!("could not load the root task: {e:?}"))?;
        let ipc = image.map_page(IPC_BUFFER_VA, true).map_err(|e| format!("{e:?}"))?;
        let ut = self.untypeds.first().map_or(0, |u| u.cptr);
        let device = self.untypeds.iter().find(|u| u.device).map_or(0, |u| u.cptr);
        image.ctx.set_entry_args([
            self.info.first_free,
            ut,
            u64::from(cfg!(feature = "latency-bench")),
            device,
        ]);
        let root = self.info.root_tcb;
        if let Some(t) = self.kernel.state.objects.tcb_mut(root) {
            t.registers = image.ctx.sel4_registers();
            t.ipc_buffer_ptr = IPC_BUFFER_VA;
        }
        self.threads.insert(root, Thread { ctx: image.ctx, next_ip: image.ctx.ip(), ..Thread::default() });
        self.root_image = Some((image, ipc));
        let mut last = None;
        loop {
            let Some(cur) = self.kernel.state.sched.choose_thread() else {
                // Idle: wait for the next interrupt (the timer ticks at least).
                self.take_interrupts()?;
                continue;
            };
            if last.is_some_and(|l| l != cur) {
                self.stats.switches += 1;
            }
            last = Some(cur);
            let trap = self.run_thread(cur)?;
            match trap {
                Trap::Interrupt(arch::Irq::Timer) => self.interrupt(IRQ_TIMER)?,
                // A device line (masked by the arch layer until unmasked): the IRQ's handler, if
                // any, gets a signal.
                Trap::Interrupt(arch::Irq::Other(line)) => self.interrupt(line as u16)?,
                Trap::Fault(f) => {
                    let why = format!("{} at ip {:#x}, address {:#x}", arch::fault_name(&f), f.ip, f.addr);
                    if cur == root {
                        return Err(format!("root task fault: {why}"));
                    }
                    let fault = match f.kind {
                        arch::FaultKind::PageFault => Fault::VMFault {
                            address: f.addr,
                            fsr: f.code,
                            instruction_fault: arch::fault_is_fetch(&f),
                        },
                        _ => Fault::UserException { number: f.vector, code: f.code },
                    };
                    self.fault(cur, fault, &why)?;
                }
                Trap::Syscall => {
                    let args = self.thread(cur).ctx.syscall_args();
                    match args.number {
                        SYS_DEBUG_PUT_CHAR => {
                            let t = self.thread(cur);
                            if args.cap == u64::from(b'\n') {
                                kprintln!("{}", t.line);
                                t.line.clear();
                            } else {
                                t.line.push(char::from(args.cap as u8));
                            }
                        }
                        SYS_DEBUG_HALT if cur == root => return Ok(args.cap != 0),
                        #[cfg(feature = "latency-bench")]
                        SYS_BENCH_BEGIN if cur == root => {
                            self.set_preemption(args.cap != 0);
                            self.bench = Some((args.cap != 0, self.stats));
                            self.stats.user_latency_max_ns = 0;
                            arch::timer_latency_reset();
                        }
                        #[cfg(feature = "latency-bench")]
                        SYS_BENCH_END if cur == root => {
                            if let Some((on, s0)) = self.bench.take() {
                                let s = self.stats;
                                kprintln!(
                                    "bench: irq-latency caps={} preemption={} max_latency_insns={} \
                                     kernel_latency_insns={} preemptions={} driver_runs={}",
                                    args.cap,
                                    if on { "on" } else { "off" },
                                    s.user_latency_max_ns,
                                    arch::timer_latency_max_ns(),
                                    s.preemptions - s0.preemptions,
                                    s.driver_wakeups - s0.driver_wakeups
                                );
                            }
                        }
                        _ => self.thread_syscall(cur)?,
                    }
                }
            }
        }
    }

    fn thread(&mut self, t: ObjPtr) -> &mut Thread {
        self.threads.entry(t).or_default()
    }

    /// Activates `cur` and runs it in user mode until its next kernel entry.
    fn run_thread(&mut self, cur: ObjPtr) -> Result<Trap, String> {
        let Some(tcb) = self.kernel.state.objects.tcb(cur) else {
            return Err(format!("the scheduler chose {:#x}, which is not a TCB", cur.0));
        };
        let (registers, restart) = (tcb.registers, tcb.state == ThreadState::Restart);
        let received = received_message(tcb);
        let buffer = self.ipc_buffer_of(cur);
        let space = self.vspace_of(cur);
        // A thread that never ran starts where its registers say.
        let th =
            self.threads.entry(cur).or_insert_with(|| Thread { next_ip: registers[0], ..Thread::default() });
        th.ctx.set_sel4_registers(&registers);
        if restart {
            // activateThread: NextIP = FaultIP, so a system call is entered again (and a thread
            // whose registers were written starts where they say).
            th.deliver = Deliver::Nothing;
            if let Some(t) = self.kernel.state.objects.tcb_mut(cur) {
                t.state = ThreadState::Running;
            }
        } else {
            th.ctx.set_ip(th.next_ip);
        }
        match core::mem::take(&mut th.deliver) {
            Deliver::Nothing => {}
            Deliver::Reply(r) => write_reply(&mut th.ctx, buffer, 0, r.info, &r.mrs, &[]),
            Deliver::Received => {
                let (badge, info, mrs, badges) = received;
                write_reply(&mut th.ctx, buffer, badge, info, &mrs, &badges);
            }
        }
        match space {
            Some(root) => arch::AddressSpace::activate_root(root),
            None => {
                return Ok(Trap::Fault(arch::UserFault {
                    kind: arch::FaultKind::PageFault,
                    ip: th.ctx.ip(),
                    addr: th.ctx.ip(),
                    vector: 0,
                    code: 0,
                }));
            }
        }
        if let Some(raised) = th.woken_by_tick.take() {
            let latency = arch::now_ns().saturating_sub(raised);
            self.stats.user_latency_max_ns = self.stats.user_latency_max_ns.max(latency);
            self.stats.driver_wakeups += 1;
        }
        let trap = arch::run_user(&mut th.ctx);
        arch::AddressSpace::activate_kernel();
        th.next_ip = th.ctx.ip();
        if let Some(t) = self.kernel.state.objects.tcb_mut(cur) {
            let mut regs = th.ctx.sel4_registers();
            if trap == Trap::Syscall {
                regs[0] = th.next_ip - UserContext::SYSCALL_INSN_LEN;
            }
            t.registers = regs;
        }
        Ok(trap)
    }

    /// The physical address of the VSpace root `t` runs in: the one in its TCB's VTable slot
    /// (the root task's own, which the kernel loaded its image into, or one made of seL4
    /// objects); none without one.
    fn vspace_of(&self, t: ObjPtr) -> Option<u64> {
        match self.kernel.state.cspace.cap(SlotRef::of(t, tcb_slot::VTABLE)) {
            Cap::PageTable { ptr, mapped: Some(_), .. } => Some(ptr.0),
            _ => None,
        }
    }

    /// The physical address of `t`'s IPC buffer: the root task's page, or the frame in its
    /// TCB's buffer slot at the offset of its IPC buffer address.
    fn ipc_buffer_of(&self, t: ObjPtr) -> Option<u64> {
        if t == self.info.root_tcb {
            return self.root_image.as_ref().map(|(_, ipc)| *ipc);
        }
        let ptr = self.kernel.state.objects.tcb(t)?.ipc_buffer_ptr;
        match self.kernel.state.cspace.cap(SlotRef::of(t, tcb_slot::BUFFER)) {
            Cap::Frame { ptr: frame, size_bits, .. } => {
                Some(frame.0 + (ptr & ((1u64 << size_bits) - 1) & !(IPC_BUFFER_BYTES - 1)))
            }
            _ => None,
        }
    }

    /// Serves a system call of thread `cur` (any of them) and records what it finds when it
    /// runs next; takes the pending interrupt when the call was preempted.
    fn thread_syscall(&mut self, cur: ObjPtr) -> Result<(), String> {
        self.stats.syscalls += 1;
        let buffer = self.ipc_buffer_of(cur);
        let th = self.thread(cur);
        let args = th.ctx.syscall_args();
        let request = request_from(cur, &args, buffer);
        let receives = matches!(args.number, sys::RECV | sys::NB_RECV | sys::REPLY_RECV);
        let is_call = args.number == sys::CALL;
        // Where a cap it receives goes (a receive's message, or the reply to a Call): the
        // receive path in its IPC buffer, as it is now.
        if (receives || is_call)
            && let (Some(b), Some(t)) = (buffer, self.kernel.state.objects.tcb_mut(cur))
        {
            t.ipc_buffer.receive_cnode = read_phys(b, IPC_RECEIVE_CNODE);
            t.ipc_buffer.receive_index = read_phys(b, IPC_RECEIVE_CNODE + 1);
            t.ipc_buffer.receive_depth = read_phys(b, IPC_RECEIVE_CNODE + 2);
        }
        self.kernel.set_request(request);
        let outcome = self.dispatcher.run(&mut self.kernel, &HANDLE_SYSCALL);
        self.apply_machine_ops();
        let deliver = match outcome {
            Outcome::Exited(Done::Blocked) if receives || is_call => Deliver::Received,
            Outcome::Exited(_) if receives => Deliver::Received,
            Outcome::Exited(_) if is_call => Deliver::Reply(core::mem::take(&mut self.kernel.reply)),
            Outcome::Exited(_) => Deliver::Nothing,
            Outcome::Failed(e) => match reply_from_kernel_error(&e) {
                Some((info, mrs)) if is_call => Deliver::Reply(ReplyMsg { info: info.to_word(), mrs }),
                Some(_) => Deliver::Nothing,
                None if cur == self.info.root_tcb => {
                    return Err(format!("root task: cap fault with no fault handler: {e:?}"));
                }
                None => {
                    if let Some(fault) = Fault::from_syscall_error(&e, args.number) {
                        self.fault(cur, fault, &format!("{e:?}"))?;
                    }
                    Deliver::Nothing
                }
            },
            Outcome::Preempted { .. } => {
                self.stats.preemptions += 1;
                self.stats.restarts += 1;
                // The caller is Restart: it re-enters the call when it runs next. Take the
                // pending interrupt now, as seL4 does before returning to the user.
                self.take_interrupts()?;
                Deliver::Nothing
            }
            Outcome::Halted { halt, step } => {
                let why = self.dispatcher.meta().2.violation.clone().unwrap_or_default();
                return Err(format!("{halt} at step {step}: {why}"));
            }
        };
        self.thread(cur).deliver = deliver;
        Ok(())
    }

    /// Carries out what the last dispatcher run asked of the hardware (`MachineOp`s, in order):
    /// zeroing new frames and paging structures, giving a VSpace root the kernel's mappings,
    /// writing page-table entries, dropping stale translations. Gears record them as they change
    /// the capability kernel's state, so applying them after the run is right even when the call
    /// was preempted.
    fn apply_machine_ops(&mut self) {
        for op in self.kernel.machine.drain() {
            match op {
                MachineOp::Zero { paddr, bits } => arch::zero_phys(paddr, bits),
                MachineOp::CopyGlobalMappings { root } => arch::copy_global_mappings(root),
                MachineOp::WriteEntry { table, index, entry } => {
                    let pte = match entry {
                        Pte::Invalid => arch::UserPte::Invalid,
                        Pte::Table { paddr } => arch::UserPte::Table(paddr),
                        Pte::Page { paddr, size_bits, write, exec } => {
                            arch::UserPte::Page { paddr, size_bits, write, exec }
                        }
                    };
                    arch::write_user_pte(table, index, pte);
                }
                MachineOp::Flush { root, vaddr } => arch::flush_user(root, vaddr),
                // The timer is the kernel's own line (shared with a driver through its
                // notification only): it is never masked. A line the controller does not have
                // (BadLine) has nothing to mask.
                MachineOp::MaskIrq { irq, .. } if irq == IRQ_TIMER => {}
                MachineOp::MaskIrq { irq, masked: true } => {
                    let _ = arch::irq_mask(u32::from(irq));
                }
                MachineOp::MaskIrq { irq, masked: false } => {
                    let _ = arch::irq_enable(u32::from(irq));
                }
            }
        }
    }

    /// Sends `fault` of thread `cur` to its fault handler through `HANDLE_FAULT` (a Call on its
    /// fault endpoint; the handler's reply restarts it), or stops the thread when it has none.
    fn fault(&mut self, cur: ObjPtr, fault: Fault, why: &str) -> Result<(), String> {
        self.stats.faults += 1;
        self.kernel.set_request(codegears::Request {
            thread: cur,
            fault: Some(fault),
            ..codegears::Request::default()
        });
        let outcome = self.dispatcher.run(&mut self.kernel, &HANDLE_FAULT);
        self.apply_machine_ops();
        if !matches!(outcome, Outcome::Exited(_)) {
            return Err(format!("the fault gear ended with {outcome:?}"));
        }
        let state = self.kernel.state.objects.tcb(cur).map(|t| t.state);
        if state == Some(ThreadState::Inactive) {
            kprintln!("kernel: thread {:#x} faulted ({why}) and has no fault handler: suspended", cur.0);
        } else {
            kprintln!("kernel: thread {:#x} faulted ({why}): sent to its fault handler", cur.0);
        }
        self.thread(cur).deliver = Deliver::Nothing;
        Ok(())
    }

    /// Waits for the pending interrupt (or the next one) with interrupts open, then handles what
    /// came: a timer tick if the tick count moved, and every device line taken in the kernel.
    fn take_interrupts(&mut self) -> Result<(), String> {
        let ticks = arch::ticks();
        arch::wait_for_interrupt();
        if arch::ticks() != ticks {
            self.interrupt(IRQ_TIMER)?;
        }
        while let Some(line) = arch::take_kernel_irq() {
            self.interrupt(line as u16)?;
        }
        Ok(())
    }

    /// Handles interrupt `irq` through `HANDLE_INTERRUPT` (time slices, the driver's
    /// notification); threads it wakes remember when it was raised, for the latency figure.
    fn interrupt(&mut self, irq: u16) -> Result<(), String> {
        self.stats.interrupts += 1;
        let raised = arch::timer_last_raised_ns();
        let objects = &self.kernel.state.objects;
        let waiting: Vec<ObjPtr> = self
            .threads
            .keys()
            .copied()
            .filter(|&t| objects.tcb(t).is_some_and(|x| !x.state.is_runnable()))
            .collect();
        self.kernel.set_request(codegears::Request { irq, ..codegears::Request::default() });
        let outcome = self.dispatcher.run(&mut self.kernel, &HANDLE_INTERRUPT);
        self.apply_machine_ops();
        if !matches!(outcome, Outcome::Exited(_)) {
            return Err(format!("the interrupt gear ended with {outcome:?}"));
        }
        for t in waiting {
            if self.kernel.state.objects.tcb(t).is_some_and(|x| x.state == ThreadState::Running) {
                self.thread(t).woken_by_tick = Some(raised);
            }
        }
        Ok(())
    }

    /// Serves one system call of the thread `ctx` whose IPC buffer is the frame `ipc`: Ok(true)
    /// to run the thread on, Ok(false) when it yielded (its script is done), Err to stop it.
    fn syscall(&mut self, ctx: &mut UserContext, ipc: u64) -> Result<bool, String> {
        self.stats.syscalls += 1;
        if core::mem::take(&mut self.restart_pending) {
            self.stats.restarts += 1;
        }
        let args = ctx.syscall_args();
        self.kernel.set_request(request_from(self.info.root_tcb, &args, Some(ipc)));
        let is_call = args.number == sys::CALL;
        let outcome = self.dispatcher.run(&mut self.kernel, &HANDLE_SYSCALL);
        self.apply_machine_ops();
        match outcome {
            Outcome::Exited(_) => {
                if is_call {
                    let reply = core::mem::take(&mut self.kernel.reply);
                    write_reply(ctx, Some(ipc), 0, reply.info, &reply.mrs, &[]);
                }
                Ok(args.number != sys::YIELD)
            }
            Outcome::Failed(e) => match reply_from_kernel_error(&e) {
                Some((info, words)) => {
                    if is_call {
                        write_reply(ctx, Some(ipc), 0, info.to_word(), &words, &[]);
                    }
                    Ok(true)
                }
                // A cap fault goes to the thread's fault handler; the root task has none, so
                // seL4 suspends it.
                None => Err(format!("cap fault with no fault handler: {e:?}")),
            },
            Outcome::Preempted { .. } => {
                self.stats.preemptions += 1;
                self.restart_pending = true;
                ctx.set_ip(ctx.ip() - UserContext::SYSCALL_INSN_LEN);
                // Take the pending interrupt now (seL4 handles it before returning to the user).
                arch::wait_for_interrupt();
                Ok(true)
            }
            Outcome::Halted { halt, step } => {
                let why = self.dispatcher.meta().2.violation.clone().unwrap_or_default();
                Err(format!("{halt} at step {step}: {why}"))
            }
        }
    }
}

/// The IPC buffer's size (`seL4_IPCBufferSizeBits` = 10: it never crosses a page).
const IPC_BUFFER_BYTES: u64 = 1024;
/// IPC buffer word of `receiveCNode` (then `receiveIndex`, `receiveDepth`).
const IPC_RECEIVE_CNODE: usize = 125;

/// Reads word `index` of the IPC buffer at physical address `buffer`.
fn read_phys(buffer: u64, index: usize) -> u64 {
    let at = buffer + index as u64 * 8;
    let mut b = [0u8; 8];
    arch::copy_from_frame(at & !(arch::PAGE_SIZE - 1), (at & (arch::PAGE_SIZE - 1)) as usize, &mut b);
    u64::from_le_bytes(b)
}

/// Writes word `index` of the IPC buffer at physical address `buffer`.
fn write_phys(buffer: u64, index: usize, value: u64) {
    let at = buffer + index as u64 * 8;
    arch::copy_to_frame(
        at & !(arch::PAGE_SIZE - 1),
        (at & (arch::PAGE_SIZE - 1)) as usize,
        &value.to_le_bytes(),
    );
}

/// The request a system call makes: seL4's registers, then the message words past MR3 and the
/// extra caps from the caller's IPC buffer (none without one).
fn request_from(thread: ObjPtr, args: &arch::SyscallArgs, buffer: Option<u64>) -> codegears::Request {
    let mi = MessageInfo::from_word(args.info);
    let word = |i: usize| buffer.map_or(0, |b| read_phys(b, i));
    let mrs =
        (0..mi.length as usize).map(|i| if i < 4 { args.mrs[i] } else { word(ipc_msg_word(i)) }).collect();
    let extra_cptrs = (0..mi.extra_caps as usize).map(|j| word(ipc_cap_word(j))).collect();
    codegears::Request {
        thread,
        cptr: args.cap,
        mrs,
        extra_cptrs,
        syscall: args.number,
        info: args.info,
        ..codegears::Request::default()
    }
}

/// What a receive left in `tcb`: badge, MessageInfo, message words, unwrapped badges.
fn received_message(tcb: &codegears::object::Tcb) -> (u64, u64, Vec<u64>, Vec<u64>) {
    let len = MessageInfo::from_word(tcb.msg_info).length as usize;
    let mut mrs = tcb.ipc_buffer.msg.clone();
    mrs.resize(len, 0);
    (tcb.badge, tcb.msg_info, mrs, tcb.ipc_buffer.caps_or_badges.clone())
}

/// Writes what a thread receives: badge, MessageInfo and MR0–3 in registers, the rest of the
/// message words and the unwrapped badges in its IPC buffer (lost without one, as in seL4).
fn write_reply(
    ctx: &mut UserContext,
    buffer: Option<u64>,
    badge: u64,
    info: u64,
    mrs: &[u64],
    badges: &[u64],
) {
    let mut regs = [0u64; 4];
    for (i, w) in mrs.iter().enumerate().take(120) {
        if i < 4 {
            regs[i] = *w;
        } else if let Some(b) = buffer {
            write_phys(b, ipc_msg_word(i), *w);
        }
    }
    if let Some(b) = buffer {
        for (j, w) in badges.iter().enumerate().take(3) {
            write_phys(b, ipc_cap_word(j), *w);
        }
    }
    ctx.set_syscall_reply(badge, info, regs);
}

fn read_word(frame: u64, index: usize) -> u64 {
    let mut b = [0u8; 8];
    arch::copy_from_frame(frame, index * 8, &mut b);
    u64::from_le_bytes(b)
}

fn write_words(frame: u64, offset: usize, words: &[u64]) {
    for (i, w) in words.iter().enumerate() {
        arch::copy_to_frame(frame, offset + i * 8, &w.to_le_bytes());
    }
}

fn read_replies(frame: u64, n: usize) -> Vec<Reply> {
    (0..n)
        .map(|i| {
            let w = |k: usize| read_word(frame, i * RESULT_WORDS + k);
            let mi = MessageInfo::from_word(w(0));
            Reply { label: mi.label, length: mi.length, mrs: [w(1), w(2), w(3), w(4)], calls: w(6) }
        })
        .collect()
}

impl Default for Checks {
    fn default() -> Self {
        Checks::new()
    }
}

#[allow(dead_code)]
const _: () = assert!(root_slot::FIRST_UNTYPED < (1 << ROOT_RADIX));

impl Drop for RootTask {
    fn drop(&mut self) {
        // The root task's VSpace root belongs to its image once loaded (which frees it).
        if self.root_image.is_none() {
            crate::memory::frames::free(self.root_vspace);
        }
    }
}
