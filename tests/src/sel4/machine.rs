//! A deterministic host machine model: several user threads, each a script of system calls
//! (plain data), run on the kernel gears as the scheduler picks them, with a simulated timer
//! and device interrupts. Every system call and interrupt runs under the invariant checker;
//! the run is a trace of events that is the same every time (DESIGN property 4).
//!
//! A thread whose system call blocked runs its next step once it is woken; one the kernel
//! restarted instead (its IPC cancelled: `Restart`) runs the same system call again, as seL4
//! re-executes the syscall instruction.

use abi::{MessageInfo, Syscall, label};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use codegears::fault::Fault;
use codegears::interrupt::IRQ_TIMER;
use codegears::kernel::Done;
use codegears::object::ThreadState;

use codegears::{ObjPtr, SyscallError};

use super::Sel4;

/// One system call of a scripted thread (cptrs in the thread's CSpace).
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Op {
    /// `seL4_Send(cap)` with these message words.
    Send(u64, Vec<u64>),
    /// `seL4_NBSend`.
    NbSend(u64, Vec<u64>),
    /// `seL4_Call`.
    Call(u64, Vec<u64>),
    /// `seL4_Recv` (also Wait on a notification).
    Recv(u64),
    /// `seL4_NBRecv` (also Poll).
    NbRecv(u64),
    /// `seL4_Reply`.
    Reply(Vec<u64>),
    /// `seL4_ReplyRecv(cap)`.
    ReplyRecv(u64, Vec<u64>),
    /// `seL4_Signal(cap)`.
    Signal(u64),
    /// `seL4_Yield`.
    Yield,
    /// `seL4_IRQHandler_Ack(handler)`.
    Ack(u64),
    /// The thread takes a fault (`handleFault`): a VM fault, a user exception… Its handler is
    /// taken to fix the cause, so once restarted the thread goes on with its script.
    Fault(Fault),
}

/// What happened at one step of the machine.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Event {
    /// Thread `thread` (index) ran `op`; how it ended.
    Syscall {
        /// The thread's index.
        thread: usize,
        /// Its badge register before the call: the badge of what it last received.
        badge_before: u64,
        /// The system call.
        op: Op,
        /// How it ended.
        result: Result<Done, SyscallError>,
        /// Whether it was a re-run after the kernel restarted the thread.
        rerun: bool,
    },
    /// An interrupt was raised.
    Interrupt(u16),
    /// No scripted thread could run and no interrupt was due.
    Idle,
}

/// A scripted thread.
#[derive(Clone, Debug)]
pub struct ScriptedThread {
    /// Its TCB.
    pub tcb: ObjPtr,
    /// The system calls left.
    pub script: VecDeque<Op>,
    /// Its last system call, and whether it ended blocked.
    pub last: Option<(Op, bool)>,
}

/// The machine: a booted kernel, scripted threads, a timer and scheduled device interrupts.
pub struct Machine {
    /// The kernel and the root task's view of it.
    pub sel4: Sel4,
    /// The scripted threads, by index.
    pub threads: Vec<ScriptedThread>,
    /// A timer interrupt every this many steps (0: none).
    pub timer_every: u64,
    /// Device interrupts to raise, by step.
    pub devices: BTreeMap<u64, Vec<u16>>,
    /// Steps run.
    pub step: u64,
    /// Everything that happened, in order.
    pub events: Vec<Event>,
}

impl Machine {
    /// A machine around a prepared kernel.
    pub fn new(sel4: Sel4, timer_every: u64) -> Machine {
        Machine {
            sel4,
            threads: Vec::new(),
            timer_every,
            devices: BTreeMap::new(),
            step: 0,
            events: Vec::new(),
        }
    }

    /// Adds a scripted thread (an existing, resumed TCB); returns its index.
    pub fn thread(&mut self, tcb: ObjPtr, script: impl IntoIterator<Item = Op>) -> usize {
        self.threads.push(ScriptedThread { tcb, script: script.into_iter().collect(), last: None });
        self.threads.len() - 1
    }

    /// Raises `irq` at `step`.
    pub fn device_interrupt(&mut self, step: u64, irq: u16) {
        self.devices.entry(step).or_default().push(irq);
    }

    /// Raises `irq`: the kernel entry's `handleInterrupt`, under the invariant checker.
    pub fn interrupt(&mut self, irq: u16) {
        let end = self.sel4.enter_checked(codegears::entry::Event::Interrupt(irq));
        assert_eq!(end, Ok(Done::Ok));
        self.events.push(Event::Interrupt(irq));
    }

    /// The scripted thread the scheduler runs now: the highest-priority runnable one with a step
    /// to take (a restarted one always has: its system call again).
    fn pick(&self) -> Option<usize> {
        let k = &self.sel4.k.state;
        for (_, q) in k.sched.ready.iter().rev() {
            let mut cur = q.head;
            while let Some(t) = cur {
                if let Some(i) = self.threads.iter().position(|x| x.tcb == t)
                    && (self.reruns(i) || !self.threads[i].script.is_empty())
                {
                    return Some(i);
                }
                cur = k.objects.tcb(t).sched_links.next;
            }
        }
        None
    }

    /// Whether scripted thread `i` runs its last system call again: the kernel restarted it
    /// while that call had left it blocked (a fault is not taken again).
    fn reruns(&self, i: usize) -> bool {
        let th = &self.threads[i];
        self.sel4.k.state.objects.thread_state(th.tcb) == ThreadState::Restart
            && matches!(th.last, Some((ref op, true)) if !matches!(op, Op::Fault(_)))
    }

    /// One step: due interrupts first, then one system call of the thread the scheduler picks.
    /// Returns false when nothing was left to do.
    pub fn step(&mut self) -> bool {
        self.step += 1;
        let mut did = false;
        if self.timer_every > 0 && self.step.is_multiple_of(self.timer_every) {
            self.interrupt(IRQ_TIMER);
        }
        if let Some(irqs) = self.devices.remove(&self.step) {
            for irq in irqs {
                self.interrupt(irq);
                did = true;
            }
        }
        let Some(i) = self.pick() else {
            self.events.push(Event::Idle);
            return did || !self.devices.is_empty();
        };
        let tcb = self.threads[i].tcb;
        let restarted = self.reruns(i);
        let op = if restarted {
            self.threads[i].last.clone().map(|(op, _)| op).unwrap_or(Op::Yield)
        } else {
            self.threads[i].script.pop_front().unwrap_or(Op::Yield)
        };
        let arch = self.sel4.k.state.arch;
        let badge_before = self.sel4.k.state.objects.tcb(tcb).badge(arch);
        let result = self.sel4.as_thread(tcb, |s| run_op(s, &op));
        self.threads[i].last = Some((op.clone(), result == Ok(Done::Blocked)));
        self.events.push(Event::Syscall { thread: i, badge_before, op, result, rerun: restarted });
        true
    }

    /// Runs until nothing is left to do or `max` steps; returns the steps run.
    pub fn run(&mut self, max: u64) -> u64 {
        let start = self.step;
        while self.step - start < max && self.step() {}
        self.step - start
    }

    /// Whether every script is done and no thread waits to re-run a cancelled call.
    pub fn finished(&self) -> bool {
        self.threads.iter().all(|t| t.script.is_empty())
    }

    /// The events as text, one per line.
    pub fn trace(&self) -> String {
        let mut s = String::new();
        for e in &self.events {
            s += &format!("{e:?}\n");
        }
        s
    }
}

fn info(len: usize) -> MessageInfo {
    MessageInfo::new(0, 0, 0, len as u64)
}

/// Runs one system call as the current thread of `s`.
pub fn run_op(s: &mut Sel4, op: &Op) -> Result<Done, SyscallError> {
    match op {
        Op::Send(c, m) => s.sys(Syscall::Send, *c, info(m.len()), m, &[]),
        Op::NbSend(c, m) => s.sys(Syscall::NBSend, *c, info(m.len()), m, &[]),
        Op::Call(c, m) => s.sys(Syscall::Call, *c, info(m.len()), m, &[]),
        Op::Recv(c) => s.sys(Syscall::Recv, *c, info(0), &[], &[]),
        Op::NbRecv(c) => s.sys(Syscall::NBRecv, *c, info(0), &[], &[]),
        Op::Reply(m) => s.sys(Syscall::Reply, 0, info(m.len()), m, &[]),
        Op::ReplyRecv(c, m) => s.sys(Syscall::ReplyRecv, *c, info(m.len()), m, &[]),
        Op::Signal(c) => s.sys(Syscall::Send, *c, info(0), &[], &[]),
        Op::Yield => s.sys(Syscall::Yield, 0, info(0), &[], &[]),
        Op::Ack(h) => s.sys(Syscall::Call, *h, MessageInfo::new(label::irq_handler::ACK, 0, 0, 0), &[], &[]),
        Op::Fault(f) => s.fault(*f),
    }
}
