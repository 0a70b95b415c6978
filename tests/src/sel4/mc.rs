//! Threads doing IPC as a system the model checker explores (`metagears::mc`): each scripted
//! thread is a process; a step runs one of its system calls on the kernel gears; any runnable
//! thread may go next, whatever the priorities, so every interleaving of the scripts is explored.
//! A thread whose call blocked is Blocked until woken; one the kernel restarted re-runs its call.

use abi::{MessageInfo, Syscall, label};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use codegears::entry::{self, End, Event, Start};
use codegears::kernel::{Done, Kernel};
use codegears::object::ThreadState;
use codegears::{ObjPtr, Request, SyscallError};
use gears::{Dispatcher, Gear, Outcome, ProcessId};
use metagears::mc::{GearSystem, Status};

use super::HostMachine;
use super::machine::Op;

/// A whole system state: the kernel, and each thread's place in its script.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct IpcState {
    /// The kernel context.
    pub k: Kernel,
    /// Each thread's next op.
    pub pc: Vec<usize>,
    /// Whether each thread's last op ended blocked (so a `Restart` means: run it again).
    pub blocked: Vec<bool>,
    /// Whether each thread's running op is a re-run.
    pub rerun: Vec<bool>,
    /// Errors the threads' calls ended with, in order (for invariants on the scripts).
    pub errors: Vec<(usize, SyscallError)>,
}

/// Scripted threads on a prepared kernel.
pub struct IpcSystem {
    /// The kernel to start from (threads created, resumed, caps in place).
    pub kernel: Kernel,
    /// The threads' TCBs, by process number.
    pub threads: Vec<ObjPtr>,
    /// Their scripts.
    pub scripts: Vec<Vec<Op>>,
}

impl IpcSystem {
    /// Whether thread `i` runs its last op again: the kernel restarted it while that op had left
    /// it blocked (a fault is not taken again: its handler is taken to have fixed the cause).
    fn restarted(&self, s: &IpcState, i: usize) -> bool {
        let last = s.pc[i].checked_sub(1).and_then(|j| self.scripts[i].get(j));
        s.blocked[i] && self.state_of(s, i) == ThreadState::Restart && !matches!(last, Some(Op::Fault(_)))
    }

    fn op(&self, s: &IpcState, i: usize) -> Option<Op> {
        if self.restarted(s, i) {
            s.pc[i].checked_sub(1).and_then(|j| self.scripts[i].get(j).cloned())
        } else {
            self.scripts[i].get(s.pc[i]).cloned()
        }
    }

    fn state_of(&self, s: &IpcState, i: usize) -> ThreadState {
        s.k.state.objects.thread_state(self.threads[i])
    }
}

/// Puts the system call of a scripted op in `thread`'s registers and IPC buffer, and says what
/// enters the kernel (a fault op is the fault, not a call).
pub fn load_op(k: &mut Kernel, thread: ObjPtr, op: &Op) -> Event {
    let (syscall, cptr, label, mrs): (Syscall, u64, u64, &[u64]) = match op {
        Op::Send(c, m) => (Syscall::Send, *c, 0, m),
        Op::NbSend(c, m) => (Syscall::NBSend, *c, 0, m),
        Op::Call(c, m) => (Syscall::Call, *c, 0, m),
        Op::Recv(c) => (Syscall::Recv, *c, 0, &[]),
        Op::NbRecv(c) => (Syscall::NBRecv, *c, 0, &[]),
        Op::Reply(m) => (Syscall::Reply, 0, 0, m),
        Op::ReplyRecv(c, m) => (Syscall::ReplyRecv, *c, 0, m),
        Op::Signal(c) => (Syscall::Send, *c, 0, &[]),
        Op::Yield => (Syscall::Yield, 0, 0, &[]),
        Op::Ack(h) => (Syscall::Call, *h, label::irq_handler::ACK, &[]),
        Op::Fault(f) => return Event::UserFault(*f),
    };
    let info = MessageInfo::new(label, 0, 0, mrs.len() as u64);
    super::load_call(k, thread, syscall, cptr, info, mrs, &[]);
    Event::Syscall
}

impl GearSystem for IpcSystem {
    type Ctx = Kernel;
    type State = IpcState;
    type Event = ();

    fn initial(&self) -> Vec<IpcState> {
        let n = self.threads.len();
        Vec::from([IpcState {
            k: self.kernel.clone(),
            pc: alloc::vec![0; n],
            blocked: alloc::vec![false; n],
            rerun: alloc::vec![false; n],
            errors: Vec::new(),
        }])
    }

    fn processes(&self, _s: &IpcState) -> Vec<ProcessId> {
        (0..self.threads.len() as u32).map(ProcessId).collect()
    }

    fn status(&self, s: &IpcState, p: ProcessId) -> Status {
        let i = p.0 as usize;
        let st = self.state_of(s, i);
        if !st.is_runnable() {
            // Waiting (or stopped): done only if its script is over and it waits for nothing.
            return if s.pc[i] >= self.scripts[i].len() && !s.blocked[i] {
                Status::Done
            } else {
                Status::Blocked
            };
        }
        if self.op(s, i).is_some() { Status::Runnable } else { Status::Done }
    }

    fn context<'a>(&self, s: &'a mut IpcState, p: ProcessId) -> &'a mut Kernel {
        s.k.meta.process = p;
        &mut s.k
    }

    fn begin(&self, s: &mut IpcState, p: ProcessId) -> &'static Gear<Kernel> {
        let i = p.0 as usize;
        let restarted = self.restarted(s, i);
        let op = self.op(s, i).unwrap_or(Op::Yield);
        s.rerun[i] = restarted;
        let thread = self.threads[i];
        entry::activate_thread(&mut s.k, thread);
        let event = load_op(&mut s.k, thread, &op);
        match entry::start(&mut s.k, &mut HostMachine::default(), event) {
            Ok(Start::Run(gear)) => gear,
            other => panic!("a scripted op entered the kernel as {other:?}"),
        }
    }

    fn finish(&self, s: &mut IpcState, p: ProcessId, result: Result<Done, SyscallError>) {
        let i = p.0 as usize;
        let outcome = match result {
            Ok(d) => Outcome::Exited(d),
            Err(e) => Outcome::Failed(e),
        };
        let end = entry::finish(&mut s.k, &mut Dispatcher::new(()), &mut HostMachine::default(), outcome);
        if !s.rerun[i] {
            s.pc[i] += 1;
        }
        s.rerun[i] = false;
        s.blocked[i] = matches!(end, Ok(End::Done(Done::Blocked) | End::Faulted));
        if let Err(e) = result {
            s.errors.push((i, e));
        }
    }

    fn normalize(&self, s: &mut IpcState) {
        s.k.meta.process = ProcessId(0);
        s.k.set_request(Request::default());
        crate::sel4::forget_between_steps(&mut s.k, &self.threads);
    }

    fn describe(&self, s: &IpcState) -> String {
        let mut out = String::new();
        for (i, &t) in self.threads.iter().enumerate() {
            let st = self.state_of(s, i);
            out += &format!("t{i} op {} {:?}; ", s.pc[i], st);
            let _ = t;
        }
        out
    }
}
