//! Threads doing IPC as a system the model checker explores (`metagears::mc`): each scripted
//! thread is a process; a step runs one of its system calls on the kernel gears; any runnable
//! thread may go next, whatever the priorities, so every interleaving of the scripts is explored.
//! A thread whose call blocked is Blocked until woken; one the kernel restarted re-runs its call.

use abi::{MessageInfo, Syscall, label};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use codegears::fault::HANDLE_FAULT;
use codegears::kernel::{Done, Kernel};
use codegears::object::ThreadState;
use codegears::syscall::HANDLE_SYSCALL;
use codegears::{ObjPtr, Request, SyscallError};
use gears::{Gear, ProcessId};
use metagears::mc::{GearSystem, Status};

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
        s.k.state.objects.tcb(self.threads[i]).map(|t| t.state).unwrap_or_default()
    }
}

/// The request a scripted op makes (a fault's is for [`HANDLE_FAULT`]).
pub fn request(thread: ObjPtr, op: &Op) -> Request {
    let (syscall, cptr, info, mrs): (Syscall, u64, MessageInfo, Vec<u64>) = match op {
        Op::Send(c, m) => (Syscall::Send, *c, MessageInfo::new(0, 0, 0, m.len() as u64), m.clone()),
        Op::NbSend(c, m) => (Syscall::NBSend, *c, MessageInfo::new(0, 0, 0, m.len() as u64), m.clone()),
        Op::Call(c, m) => (Syscall::Call, *c, MessageInfo::new(0, 0, 0, m.len() as u64), m.clone()),
        Op::Recv(c) => (Syscall::Recv, *c, MessageInfo::default(), Vec::new()),
        Op::NbRecv(c) => (Syscall::NBRecv, *c, MessageInfo::default(), Vec::new()),
        Op::Reply(m) => (Syscall::Reply, 0, MessageInfo::new(0, 0, 0, m.len() as u64), m.clone()),
        Op::ReplyRecv(c, m) => (Syscall::ReplyRecv, *c, MessageInfo::new(0, 0, 0, m.len() as u64), m.clone()),
        Op::Signal(c) => (Syscall::Send, *c, MessageInfo::default(), Vec::new()),
        Op::Yield => (Syscall::Yield, 0, MessageInfo::default(), Vec::new()),
        Op::Ack(h) => (Syscall::Call, *h, MessageInfo::new(label::irq_handler::ACK, 0, 0, 0), Vec::new()),
        Op::Fault(f) => return Request { thread, fault: Some(*f), ..Request::default() },
    };
    Request { thread, syscall: Some(syscall), cptr, info: info.word(), mrs, ..Request::default() }
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
        s.k.set_request(request(self.threads[i], &op));
        if matches!(op, Op::Fault(_)) { &HANDLE_FAULT } else { &HANDLE_SYSCALL }
    }

    fn finish(&self, s: &mut IpcState, p: ProcessId, result: Result<Done, SyscallError>) {
        let i = p.0 as usize;
        if !s.rerun[i] {
            s.pc[i] += 1;
        }
        s.rerun[i] = false;
        s.blocked[i] = result == Ok(Done::Blocked);
        if let Err(e) = result {
            s.errors.push((i, e));
        }
    }

    fn normalize(&self, s: &mut IpcState) {
        s.k.meta.process = ProcessId(0);
        s.k.set_request(Request::default());
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
