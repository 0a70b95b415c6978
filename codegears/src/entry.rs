//! The kernel entry, written once: what every driver of the gears (the bare-metal kernel, the
//! host model, the benchmarks, the model checker) calls when a thread enters the kernel, after
//! seL4's `handleSyscall`, `handleInvocation`'s epilogue, `handleInterrupt`, `handleFault`,
//! `schedule` and `activateThread`.
//!
//! A driver keeps each thread's user registers in its TCB ([`crate::object::Tcb::registers`], with seL4's
//! FaultIP and NextIP): the bare-metal kernel copies them there from the trap frame when a
//! thread enters and back when it leaves; the host model writes them as a scripted thread
//! would. Then [`handle`] runs the entry:
//!
//! 1. a system call is read from the registers (number, cap, MessageInfo) and, for an
//!    invocation, the message words and extra caps from the caller's IPC buffer through
//!    [`PhysMem`](crate::mem::PhysMem); an interrupt or a user fault becomes its request;
//! 2. the dispatcher runs the gears from [`HANDLE_SYSCALL`], [`HANDLE_INTERRUPT`] or
//!    [`HANDLE_FAULT`], in the entering thread's context (its process id names it in traces;
//!    under `Mode::Resume` its preempted invocation's DataGears are its own);
//! 3. the [`MachineOp`]s the gears recorded go to the [`Machine`];
//! 4. the epilogue, decided here and nowhere else: a failed invocation is either an seL4 error
//!    (a `seL4_Call` gets the error reply in its registers and IPC buffer,
//!    `replyFromKernel_error`) or a cap fault (sent to the thread's fault handler,
//!    [`Fault::from_syscall_error`]); a finished invocation whose caller is still `Restart`
//!    gives a `seL4_Call` the empty reply and makes it `Running`; a preempted one leaves its
//!    thread `Restart` and the pending interrupt is handled at once.
//!
//! [`schedule`] then picks the thread to run (`chooseThread`) and activates it: a `Restart`
//! thread's NextIP becomes its FaultIP, so it makes its system call again.

use abi::{IpcBuffer, MessageInfo, Syscall};
use gears::{Dispatcher, MetaGear, Mode, Outcome, ProcessId};

use crate::cap::{ObjPtr, TCB_BITS};
use crate::error::SyscallError;
use crate::fault::{Fault, HANDLE_FAULT};
use crate::interrupt::HANDLE_INTERRUPT;
use crate::kernel::{Done, Kernel, Suspended};
use crate::machine::MachineOp;
use crate::message::{MSG_REGISTERS, buffer_word, get_mr, lookup_ipc_buffer, reply_from_kernel_error};
use crate::object::ThreadState;
use crate::syscall::HANDLE_SYSCALL;

/// What entered the kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// The current thread executed the system-call instruction (its registers are in its TCB,
    /// FaultIP at the instruction, NextIP after it).
    Syscall,
    /// Interrupt `irq` was taken.
    Interrupt(u16),
    /// The current thread took a fault the hardware raised (a VM fault, a user exception).
    UserFault(Fault),
}

/// The machine under the kernel, as the entry needs it: the effects the gears recorded, the
/// interrupt state, and the debug console.
pub trait Machine {
    /// Carries out one recorded effect on the hardware (in the order recorded, after each
    /// dispatcher run). A `MachineOp::Zero` or `WriteEntry` comes after the gears changed that
    /// memory through the kernel's `PhysMem`: only what the hardware caches is left to do.
    fn apply(&mut self, op: MachineOp);

    /// `getActiveIRQ`: the interrupt raised and not yet handled, if any, acknowledged at the
    /// controller (asked after an operation was preempted).
    fn active_irq(&mut self) -> Option<u16>;

    /// `seL4_DebugPutChar`: one byte to the kernel console.
    fn debug_put_char(&mut self, c: u8);

    /// x86_64 `in`: `width` bytes (1, 2 or 4) read from I/O port `port`, for a
    /// [`MachineOp::PortIn`] (which never goes to [`apply`](Self::apply)). A machine without
    /// I/O ports is never asked: no IOPort cap exists there.
    fn port_in(&mut self, port: u16, width: u8) -> u32;
}

/// How a kernel entry ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    /// The operation finished: the thread runs on, or is now blocked or stopped.
    Done(Done),
    /// The operation failed: an seL4 error (a `seL4_Call` got the error reply) or a cap fault
    /// (sent to the thread's fault handler; a cap fault of an NBSend is dropped, as in seL4).
    Failed(SyscallError),
    /// The operation was stopped at a preemption point; under `Mode::Restart` its thread is
    /// `Restart` and makes the call again, under `Mode::Resume` it goes on from where it stopped
    /// when it enters the kernel next. The interrupt that was pending has been handled.
    Preempted(Mode),
    /// The thread's fault (a user fault, or an unknown system call) went to its fault handler,
    /// or stopped the thread if it has none.
    Faulted,
    /// `seL4_DebugPutChar`: the byte went to the [`Machine`].
    DebugPutChar,
    /// `seL4_DebugHalt`: the driver stops the machine.
    DebugHalt,
    /// One of Gears' benchmark calls, with the cap register's word, for the driver that owns
    /// the measurement.
    Bench(Syscall, u64),
}

/// Why an entry could not run to its end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EntryError {
    /// A metagear halted the dispatcher (an invariant broke, a contract failed …).
    Halted {
        /// Which metagear, and why.
        halt: gears::Halt,
        /// The dispatcher step at which it stopped.
        step: u64,
    },
    /// A system call or user fault with no current thread: the driver did not activate one.
    NoCurrentThread,
}

/// The process id a thread's context has in traces: its TCB's address in TCB-sized units.
pub fn process_of(thread: ObjPtr) -> ProcessId {
    ProcessId((thread.0 >> TCB_BITS) as u32)
}

/// `chooseThread` then `activateThread`: the thread the kernel returns to, now current (`None`:
/// idle).
pub fn schedule(k: &mut Kernel) -> Option<ObjPtr> {
    let next = k.state.sched.choose_thread();
    match next {
        Some(t) => activate_thread(k, t),
        None => k.state.sched.current = None,
    }
    next
}

/// `activateThread` of `t`, which becomes the current thread: a `Restart` thread goes back to
/// its FaultIP (it makes its system call again) and is `Running`.
pub fn activate_thread(k: &mut Kernel, t: ObjPtr) {
    let ip = k.state.arch.ip_register();
    let objects = &mut k.state.objects;
    if objects.thread_state(t) == ThreadState::Restart {
        objects.set_next_ip(t, objects.register(t, ip));
        objects.set_thread_state_words(t, ThreadState::Running, false);
    }
    k.state.sched.current = Some(t);
}

/// What [`start`] made of an event.
#[derive(Clone, Copy, Debug)]
pub enum Start {
    /// Run the dispatcher from this gear (or from the entering thread's kept continuation),
    /// then [`finish`].
    Run(&'static gears::Gear<Kernel>),
    /// The entry is over without the gears: a debug or benchmark call the entry serves itself.
    Over(End),
}

/// Runs one kernel entry (see the module's description) with the dispatcher `d` and its
/// metagears, against `machine`: [`start`], the dispatcher, [`finish`].
pub fn handle<G: MetaGear<Kernel>, M: Machine>(
    k: &mut Kernel,
    d: &mut Dispatcher<Kernel, G>,
    machine: &mut M,
    event: Event,
) -> Result<End, EntryError> {
    match start(k, machine, event)? {
        Start::Run(gear) => {
            let outcome = d.run(k, gear);
            finish(k, d, machine, outcome)
        }
        Start::Over(end) => Ok(end),
    }
}

/// The first half of an entry: the event read into the entering thread's context (its request
/// built from its registers and IPC buffer), and the gear to run from. A driver that runs the
/// dispatcher itself (the model checker, step by step across preemption points) calls this,
/// runs the gears, and hands the outcome to [`finish`].
pub fn start<M: Machine>(k: &mut Kernel, machine: &mut M, event: Event) -> Result<Start, EntryError> {
    match event {
        Event::Syscall => {
            let thread = k.state.sched.current.ok_or(EntryError::NoCurrentThread)?;
            start_syscall(k, machine, thread)
        }
        Event::Interrupt(irq) => {
            let thread = k.state.sched.current.unwrap_or_default();
            put_aside(k);
            enter(k, thread);
            k.thread.request.irq = irq;
            Ok(Start::Run(&HANDLE_INTERRUPT))
        }
        Event::UserFault(fault) => {
            let thread = k.state.sched.current.ok_or(EntryError::NoCurrentThread)?;
            start_fault(k, thread, fault);
            Ok(Start::Run(&HANDLE_FAULT))
        }
    }
}

/// A system call of `thread`: the debug and benchmark calls the entry serves itself, an unknown
/// number as an UnknownSyscall fault, the rest through the gears from `handleSyscall`.
fn start_syscall<M: Machine>(k: &mut Kernel, machine: &mut M, thread: ObjPtr) -> Result<Start, EntryError> {
    let arch = k.state.arch;
    let regs = arch.syscall_registers();
    let number = k.state.objects.register(thread, regs.number) as i64;
    let cap = k.state.objects.register(thread, regs.cap);
    let Some(syscall) = Syscall::decode(number, arch) else {
        start_fault(k, thread, Fault::UnknownSyscall { syscall_number: number as u64 });
        return Ok(Start::Run(&HANDLE_FAULT));
    };
    match syscall {
        Syscall::DebugPutChar => {
            machine.debug_put_char(cap as u8);
            return Ok(Start::Over(End::DebugPutChar));
        }
        Syscall::DebugHalt => return Ok(Start::Over(End::DebugHalt)),
        Syscall::DebugCapIdentify => {
            let tag =
                crate::endpoint::lookup_cap(&k.state.cspace, thread, cap).map_or(0, |(c, _)| c.type_tag());
            k.state.objects.set_register(thread, regs.cap, tag);
            return Ok(Start::Over(End::Done(Done::Ok)));
        }
        Syscall::DebugNameThread => {
            debug_name_thread(k, thread, cap);
            return Ok(Start::Over(End::Done(Done::Ok)));
        }
        Syscall::DebugDumpScheduler => {
            debug_dump_scheduler(&k.state, machine);
            return Ok(Start::Over(End::Done(Done::Ok)));
        }
        Syscall::DebugSnapshot => {
            use core::fmt::Write;
            let name = k.state.objects.thread_name(thread);
            let _ = writeln!(
                Console(machine),
                "Debug snapshot syscall from user thread {:#x} \"{}\" (no capDL dump in Gears)",
                thread.0,
                alloc::string::String::from_utf8_lossy(&name)
            );
            return Ok(Start::Over(End::Done(Done::Ok)));
        }
        // `SysSetTLSBase` (x86_64; `decode` knows no such number on riscv64): the caller's own
        // TLS register, from its cap register.
        Syscall::SetTLSBase => {
            k.state.objects.set_register(thread, arch.tls_register(), cap);
            return Ok(Start::Over(End::Done(Done::Ok)));
        }
        Syscall::GearsBenchBegin | Syscall::GearsBenchEnd => {
            return Ok(Start::Over(End::Bench(syscall, cap)));
        }
        _ => {}
    }
    put_aside(k);
    if !take_back(k, thread) {
        enter(k, thread);
        read_request(k, syscall, cap);
    }
    Ok(Start::Run(&HANDLE_SYSCALL))
}

/// `handleFault`'s start: `fault` of `thread` goes to its fault handler (or stops it).
fn start_fault(k: &mut Kernel, thread: ObjPtr, fault: Fault) {
    put_aside(k);
    enter(k, thread);
    k.thread.request.fault = Some(fault);
}

/// The second half of an entry, given how the dispatcher's run from [`start`]'s gear ended: the
/// machine ops carried out, and the epilogue (error reply or cap fault, `Restart` to
/// `Running`, the pending interrupt after a preemption).
pub fn finish<G: MetaGear<Kernel>, M: Machine>(
    k: &mut Kernel,
    d: &mut Dispatcher<Kernel, G>,
    machine: &mut M,
    outcome: Outcome<Kernel>,
) -> Result<End, EntryError> {
    apply_machine_ops(k, machine);
    let (thread, syscall) = (k.thread.request.thread, k.thread.request.syscall);
    let end = match outcome {
        Outcome::Halted { halt, step } => return Err(EntryError::Halted { halt, step }),
        Outcome::Preempted { mode, .. } => {
            if let Some(irq) = machine.active_irq() {
                handle(k, d, machine, Event::Interrupt(irq))?;
            }
            return Ok(End::Preempted(mode));
        }
        Outcome::Exited(_) if k.thread.request.fault.is_some() => End::Faulted,
        Outcome::Exited(done) => {
            if let Some(s) = syscall {
                restart_to_running(k, thread, s == Syscall::Call);
            }
            End::Done(done)
        }
        Outcome::Failed(e) => End::Failed(e),
    };
    if let (End::Failed(e), Some(syscall)) = (end, syscall) {
        match Fault::from_syscall_error(&e, syscall) {
            Some(fault) => {
                start_fault(k, thread, fault);
                let outcome = d.run(k, &HANDLE_FAULT);
                finish(k, d, machine, outcome)?;
            }
            None if syscall == Syscall::Call => {
                let s = &mut k.state;
                let _ = reply_from_kernel_error(&s.cspace, &mut s.objects, &mut s.mem, s.arch, thread, &e);
            }
            None => {}
        }
    }
    Ok(end)
}

/// `handleInvocation`'s tail: a caller still `Restart` after its invocation finished runs on,
/// and a `seL4_Call` gets the empty reply (`replyFromKernel_success_empty`).
fn restart_to_running(k: &mut Kernel, thread: ObjPtr, is_call: bool) {
    let regs = k.state.arch.syscall_registers();
    let objects = &mut k.state.objects;
    if crate::lookup::end_restart(objects, thread) && is_call {
        objects.set_register(thread, regs.badge, 0);
        objects.set_register(thread, regs.info, MessageInfo::new(0, 0, 0, 0).word());
    }
}

/// The request a system call makes, read into the entering thread's context: the cap and
/// MessageInfo from the registers; for an invocation (Call, Send, NBSend), the message words
/// (registers, then the IPC buffer; a thread without a buffer has four at most) and the extra
/// caps' cptrs from the buffer.
fn read_request(k: &mut Kernel, syscall: Syscall, cap: u64) {
    let (s, request) = (&k.state, &mut k.thread.request);
    let arch = s.arch;
    let info = MessageInfo::from_word(s.objects.register(request.thread, arch.syscall_registers().info));
    request.cptr = cap;
    request.label = info.label();
    request.info = info;
    request.syscall = Some(syscall);
    request.is_call = syscall == Syscall::Call;
    if !matches!(syscall, Syscall::Call | Syscall::Send | Syscall::NBSend) {
        return;
    }
    // The IPC buffer matters only for words past the registers and for caps (seL4 looks it up
    // anyway; the result is the same).
    let buffer = if info.length() > MSG_REGISTERS as u64 || info.extra_caps() > 0 {
        lookup_ipc_buffer(&s.cspace, &s.objects, request.thread, false)
    } else {
        None
    };
    let length = if buffer.is_none() { info.length().min(MSG_REGISTERS as u64) } else { info.length() };
    for i in 0..length as usize {
        request.mrs.push(get_mr(&s.objects, request.thread, arch, &s.mem, buffer, i).unwrap_or(0));
    }
    if let Some(b) = buffer {
        for j in 0..info.extra_caps() as usize {
            request.extra_cptrs.push(s.mem.read(buffer_word(b, IpcBuffer::cap(j))));
        }
    }
}

/// Makes `thread`'s context the kernel's for a new entry: its per-invocation DataGears cleared
/// and its request the empty one of `thread`, for the entry to fill in.
fn enter(k: &mut Kernel, thread: ObjPtr) {
    k.meta.process = process_of(thread);
    k.clear_invocation();
    k.thread.request.reset(thread);
}

/// Keeps aside the context of an invocation preempted under `Mode::Resume` that is loaded now
/// (its DataGears and continuation), for its thread's next entry.
fn put_aside(k: &mut Kernel) {
    if let Some(continuation) = k.meta.continuation.take() {
        let context = core::mem::take(&mut k.thread);
        k.suspended.insert(context.request.thread, Suspended { context, continuation });
    }
}

/// Loads `thread`'s kept context, if it has one: its system call goes on from where it was
/// preempted. Returns whether it had one.
fn take_back(k: &mut Kernel, thread: ObjPtr) -> bool {
    let Some(s) = k.suspended.remove(&thread) else { return false };
    k.thread = s.context;
    k.meta.continuation = Some(s.continuation);
    k.meta.process = process_of(thread);
    true
}

/// Carries out the machine ops the last dispatcher run recorded, in order. A port read's value
/// goes to its caller as a one-word reply (`invokeX86PortIn`'s `setMR` and MessageInfo).
fn apply_machine_ops<M: Machine>(k: &mut Kernel, machine: &mut M) {
    for op in k.machine.drain() {
        match op {
            MachineOp::PortIn { port, width, thread, reply } => {
                let value = machine.port_in(port, width);
                if reply {
                    let regs = k.state.arch.syscall_registers();
                    let objects = &mut k.state.objects;
                    objects.set_register(thread, regs.badge, 0);
                    objects.set_register(thread, regs.msg[0], value as u64);
                    objects.set_register(thread, regs.info, MessageInfo::new(0, 0, 0, 1).word());
                }
            }
            op => machine.apply(op),
        }
    }
}

/// `SysDebugNameThread`: the TCB the cap register names gets the NUL-terminated name in the
/// caller's IPC buffer from word 1 (at most `seL4_MsgMaxLength` words; the TCB keeps what fits).
/// Where seL4's debug kernel halts the machine (the cap is not a TCB's, no IPC buffer, no NUL in
/// the name's room), Gears ignores the call: no thread may stop the kernel but by DebugHalt.
fn debug_name_thread(k: &mut Kernel, thread: ObjPtr, cptr: u64) {
    let s = &mut k.state;
    let Some((crate::cap::Cap::Thread { ptr }, _)) = crate::endpoint::lookup_cap(&s.cspace, thread, cptr)
    else {
        return;
    };
    let Some(buffer) = lookup_ipc_buffer(&s.cspace, &s.objects, thread, true) else { return };
    let mut name = alloc::vec::Vec::new();
    for i in 0..abi::MSG_MAX_LENGTH {
        for b in s.mem.read(buffer + 8 * (1 + i)).to_le_bytes() {
            if b == 0 {
                s.objects.set_thread_name(ptr, &name);
                return;
            }
            name.push(b);
        }
    }
}

/// The debug console as a [`core::fmt::Write`]: what the debug calls print goes to the machine
/// byte by byte, with nothing buffered in the kernel.
struct Console<'a, M: Machine>(&'a mut M);

impl<M: Machine> core::fmt::Write for Console<'_, M> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        s.bytes().for_each(|b| self.0.debug_put_char(b));
        Ok(())
    }
}

/// `debug_dumpScheduler`: a line per TCB (name, state, restart IP, priority, core), newest first,
/// to the debug console, as seL4's debug kernel prints it.
fn debug_dump_scheduler<M: Machine>(s: &crate::kernel::KernelState, machine: &mut M) {
    use core::fmt::Write;
    let mut out = Console(machine);
    let _ = writeln!(out, "Dumping all tcbs!");
    let _ = writeln!(out, "{:<40}\t{:<15}\t{:<20}\t Prio \t Core", "Name", "State", "IP");
    let _ = writeln!(out, "{:-<86}", "");
    let mut cur = s.sched.debug_tcbs;
    while let Some(t) = cur {
        let tcb = s.objects.tcb(t);
        let state = match tcb.state {
            ThreadState::Inactive => "inactive",
            ThreadState::Running => "running",
            ThreadState::Restart => "restart",
            ThreadState::BlockedOnReceive { .. } => "blocked on recv",
            ThreadState::BlockedOnSend { .. } => "blocked on send",
            ThreadState::BlockedOnReply => "blocked on reply",
            ThreadState::BlockedOnNotification { .. } => "blocked on ntfn",
            ThreadState::IdleThreadState => "idle",
        };
        let name = s.objects.thread_name(t);
        let ip = tcb.registers[s.arch.ip_register()];
        let _ = writeln!(
            out,
            "{:<40}\t{:<15}\t{:#018x}\t{:>5}\t {:>4}",
            alloc::string::String::from_utf8_lossy(&name),
            state,
            ip,
            tcb.priority,
            0
        );
        cur = tcb.debug_links.next;
    }
}
