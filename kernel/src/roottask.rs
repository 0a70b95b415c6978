//! The root task and the capability kernel: the real kernel's system calls run as gears.
//!
//! [`RootTask::boot`] boots a `codegears::Kernel` (seL4's boot, modelled by
//! `KernelState::boot`) and hands the root task untyped caps for real physical memory: the pool
//! the memory set-up carved out, and on each architecture one device page (an adapter here,
//! because `KernelState::boot` places its untypeds at model addresses and knows no device flag).
//!
//! Each `Trap::Syscall` of the root task becomes a `codegears::Request` (seL4's registers, the
//! message words past MR3 and the extra caps from its IPC buffer), run by the dispatcher from
//! `HANDLE_SYSCALL` with the metagears: an optional [`WireTracer`] (`--trace`), seL4's
//! [`WorkBudget`] asking whether the timer interrupt is pending (PIC IRR / sip.STIP) every 100
//! preemption points, and [`Checks`] (the invariant metagear). The reply goes back into the
//! user's registers and IPC buffer. A preempted call restarts the seL4 way: the kernel takes the
//! pending interrupt, moves the user's IP back over the syscall instruction, and the thread
//! enters the call again, which finds its progress in the kernel objects. Interrupts stay masked
//! in the kernel: each gear is atomic, and the dispatcher is the only place preemption happens.
//!
//! The root task is the script runner of `arch::programs`: it makes the calls a script (written
//! into its read-only script pages before it starts) lists, and stores each reply where the
//! kernel's checks read it.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use codegears::cap::{Cap, ObjPtr, SlotRef};
use codegears::cspace::{Cte, MdbNode};
use codegears::kernel::{BootInfo, Kernel, KernelState, root_slot};
use codegears::syscall::{HANDLE_SYSCALL, MessageInfo, reply_from_kernel_error, sys};
use gears::{Dispatcher, Gear, MetaGear, Mode, Outcome, PointDecision, Step};
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
    invariant: Invariant<CheckFn>,
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
type CheckFn = fn(&Kernel) -> Result<(), String>;

fn full_check(k: &Kernel) -> Result<(), String> {
    codegears::check_invariants(&k.state).map_err(|e| format!("{e}"))
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
                return PointDecision::Halt("local CDT check failed");
            }
        }
        if self.every != 0 && self.points.is_multiple_of(self.every) {
            self.full += 1;
            let d = self.invariant.preemption_point(at, next, k);
            if let (PointDecision::Halt(_), Some(v)) = (d, self.invariant.violation()) {
                self.violation.get_or_insert_with(|| format!("{}: {}", v.gear, v.message));
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
}

/// Adds an untyped cap for real memory as a boot cap (a CDT root) in root CNode slot `cptr`.
fn add_untyped(state: &mut KernelState, info: &BootInfo, u: UntypedDesc) {
    let cap = Cap::Untyped { ptr: u.base, size_bits: u.bits, free_index: 0, is_device: u.device };
    let mdb = MdbNode { revocable: true, first_badged: true, ..MdbNode::default() };
    state.cspace.set(SlotRef::of(info.root_cnode, u.cptr), Cte { cap, mdb });
}

impl RootTask {
    /// Boots the capability kernel for the root task with the kernel's untyped pool and a device
    /// page (the UART's on riscv64, the VGA window on x86_64).
    pub fn boot() -> RootTask {
        let (mut state, mut info) = KernelState::boot(ROOT_RADIX, &[]);
        let mut untypeds = Vec::new();
        let mut cptr = info.first_free;
        if let Some(base) = crate::memory::untyped_pool() {
            untypeds.push(UntypedDesc { cptr, base, bits: crate::memory::UNTYPED_POOL_BITS, device: false });
            cptr += 1;
        }
        let (dev_base, dev_bits) = arch::DEVICE_UNTYPED;
        untypeds.push(UntypedDesc { cptr, base: dev_base, bits: dev_bits, device: true });
        cptr += 1;
        for u in &untypeds {
            add_untyped(&mut state, &info, *u);
            info.untyped.push((u.cptr, u.base, u.bits));
        }
        info.first_free = cptr;
        let budget: WorkBudget<fn() -> bool> =
            WorkBudget::new(DEFAULT_WORK_UNITS, arch::timer_irq_pending as fn() -> bool, Mode::Restart);
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
        let pending: fn() -> bool = if on { arch::timer_irq_pending } else { never };
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
    pub fn budget(&self) -> (u64, u64) {
        let b = &self.dispatcher.meta().1;
        (b.checks(), b.preemptions())
    }

    /// The cap in root CNode slot `cptr`.
    pub fn cap(&self, cptr: u64) -> Cap {
        self.kernel.state.cspace.cap(SlotRef::of(self.info.root_cnode, cptr))
    }

    /// The cap in slot `index` of the CNode whose cap is in root slot `cnode`.
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

    /// Runs the Rust root task (an ELF, `kernel/roottask`) to its `seL4_DebugHalt`: it gets the
    /// first free slot and its untyped's cptr in its first two argument registers, its IPC
    /// buffer, and the debug calls `seL4_DebugPutChar` (a console line per newline) and
    /// `seL4_DebugHalt` (its verdict) besides the calls the gears serve. Returns the verdict.
    pub fn run_elf(&mut self, elf: &[u8]) -> Result<bool, String> {
        let mut t = UserThread::load_elf(elf).map_err(|e| format!("could not load the root task: {e:?}"))?;
        let ipc = t.map_page(IPC_BUFFER_VA, true).map_err(|e| format!("{e:?}"))?;
        let ut = self.untypeds.first().map_or(0, |u| u.cptr);
        t.ctx.set_syscall_reply(self.info.first_free, ut, [0; 4]);
        let mut line = String::new();
        loop {
            match t.run() {
                Trap::Interrupt(_) => self.stats.interrupts += 1,
                Trap::Fault(f) => {
                    return Err(format!(
                        "root task fault: {} at ip {:#x}, address {:#x}",
                        arch::fault_name(&f),
                        f.ip,
                        f.addr
                    ));
                }
                Trap::Syscall => {
                    let args = t.ctx.syscall_args();
                    match args.number {
                        SYS_DEBUG_PUT_CHAR => {
                            if args.cap == u64::from(b'\n') {
                                kprintln!("{line}");
                                line.clear();
                            } else {
                                line.push(char::from(args.cap as u8));
                            }
                        }
                        SYS_DEBUG_HALT => return Ok(args.cap != 0),
                        _ => {
                            self.syscall(&mut t.ctx, ipc)?;
                        }
                    }
                }
            }
        }
    }

    /// Serves one system call of the thread `ctx` whose IPC buffer is the frame `ipc`: Ok(true)
    /// to run the thread on, Ok(false) when it yielded (its script is done), Err to stop it.
    fn syscall(&mut self, ctx: &mut UserContext, ipc: u64) -> Result<bool, String> {
        self.stats.syscalls += 1;
        if core::mem::take(&mut self.restart_pending) {
            self.stats.restarts += 1;
        }
        let args = ctx.syscall_args();
        let mi = MessageInfo::from_word(args.info);
        let mrs: Vec<u64> = (0..mi.length as usize)
            .map(|i| if i < 4 { args.mrs[i] } else { read_word(ipc, ipc_msg_word(i)) })
            .collect();
        let extra: Vec<u64> = (0..mi.extra_caps as usize).map(|j| read_word(ipc, ipc_cap_word(j))).collect();
        self.kernel.set_request(codegears::Request {
            thread: self.info.root_tcb,
            cptr: args.cap,
            mrs,
            extra_cptrs: extra,
            syscall: args.number,
            info: args.info,
            ..codegears::Request::default()
        });
        let is_call = args.number == sys::CALL;
        match self.dispatcher.run(&mut self.kernel, &HANDLE_SYSCALL) {
            Outcome::Exited(_) => {
                if is_call {
                    let reply = core::mem::take(&mut self.kernel.reply);
                    write_reply(ctx, ipc, reply.info, &reply.mrs);
                }
                Ok(args.number != sys::YIELD)
            }
            Outcome::Failed(e) => match reply_from_kernel_error(&e) {
                Some((info, words)) => {
                    if is_call {
                        write_reply(ctx, ipc, info.to_word(), &words);
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
            Outcome::Halted { by, step } => {
                let why = self.dispatcher.meta().2.violation.clone().unwrap_or_default();
                Err(format!("{by} at step {step}: {why}"))
            }
        }
    }
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

/// Writes a reply: MessageInfo and MR0–3 in registers (badge 0), the rest in the IPC buffer.
fn write_reply(ctx: &mut UserContext, ipc: u64, info: u64, mrs: &[u64]) {
    let mut regs = [0u64; 4];
    for (i, w) in mrs.iter().enumerate() {
        if i < 4 {
            regs[i] = *w;
        } else if i < 120 {
            write_words(ipc, ipc_msg_word(i) * 8, &[*w]);
        }
    }
    ctx.set_syscall_reply(0, info, regs);
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
