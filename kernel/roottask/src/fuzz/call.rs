//! One system call of the worker, as generated: every register and IPC-buffer word it sets, how
//! it is made, and how it is printed when traced.

use abi::{IpcBuffer as Layout, MSG_MAX_LENGTH, MessageInfo, Syscall};
use gears_user::ipc_buffer::IpcBuffer;
use gears_user::sys;

use crate::world::WORKER_IPC;

/// Message words a call can carry (registers, then the IPC buffer).
pub const WORDS: usize = MSG_MAX_LENGTH as usize;
/// Message words in registers (`seL4_FastMessageRegisters`).
const REGISTER_WORDS: usize = 4;

/// A system call: its number, cap, MessageInfo and message words, and what it leaves in the IPC
/// buffer (message words past the registers, extra caps' cptrs, a receive path, one more word).
pub struct Call {
    /// The number (any word: out of range is an UnknownSyscall fault).
    pub number: u64,
    /// The cap register.
    pub cap: u64,
    /// The MessageInfo word (as made, even malformed).
    pub info: u64,
    /// Message words: MR0–3 in registers, the rest written to the IPC buffer.
    pub mrs: [u64; WORDS],
    /// How many message words are written (may differ from the MessageInfo's length).
    pub staged: usize,
    /// The extra caps' cptrs, written to the IPC buffer.
    pub extra: [u64; 3],
    /// The receive path (CNode, index, depth), if set.
    pub receive: Option<[u64; 3]>,
    /// One IPC-buffer word written last (index, value), if any.
    pub scribble: Option<(usize, u64)>,
    /// Built from an invocation template (else fully random).
    pub templated: bool,
}

impl Call {
    /// A Yield with nothing staged.
    pub const fn new() -> Call {
        Call {
            number: Syscall::Yield.word(),
            cap: 0,
            info: 0,
            mrs: [0; WORDS],
            staged: 0,
            extra: [0; 3],
            receive: None,
            scribble: None,
            templated: false,
        }
    }

    /// Makes this a `seL4_Call` invocation of `cap` with `label`, message words `words` and extra
    /// caps `extra` (at most three).
    pub fn invoke(&mut self, cap: u64, label: u64, words: &[u64], extra: &[u64]) {
        let n = words.len().min(WORDS);
        self.number = Syscall::Call.word();
        self.cap = cap;
        self.mrs[..n].copy_from_slice(&words[..n]);
        self.staged = n;
        let caps = extra.len().min(3);
        self.extra[..caps].copy_from_slice(&extra[..caps]);
        self.info = MessageInfo::new(label, 0, caps as u64, n as u64).word();
    }

    /// The label of its MessageInfo.
    pub fn label(&self) -> u64 {
        MessageInfo::from_raw(self.info).label()
    }

    /// Whether it may have changed a TCB (a TCB label, on whatever cap): the worker's own is set
    /// again before it restarts.
    pub fn may_touch_tcb(&self) -> bool {
        use abi::label::tcb::{READ_REGISTERS, SET_FLAGS};
        (READ_REGISTERS..=SET_FLAGS).contains(&self.label())
    }

    /// Writes the IPC-buffer words and makes the call: (badge, MessageInfo) back, if it returns.
    pub fn issue(&self) -> (u64, u64) {
        let buffer = worker_buffer();
        for i in REGISTER_WORDS..self.staged {
            buffer.set_msg(i, self.mrs[i]);
        }
        for (j, &cptr) in self.extra.iter().enumerate() {
            buffer.set_cap(j, cptr);
        }
        if let Some([cnode, index, depth]) = self.receive {
            buffer.write(Layout::RECEIVE_CNODE, cnode);
            buffer.write(Layout::RECEIVE_INDEX, index);
            buffer.write(Layout::RECEIVE_DEPTH, depth);
        }
        if let Some((word, value)) = self.scribble {
            buffer.write(word, value);
        }
        let regs = [self.mrs[0], self.mrs[1], self.mrs[2], self.mrs[3]];
        let r = sys::raw_syscall(self.number, self.cap, self.info, regs);
        (r.badge, r.info)
    }
}

/// The worker's IPC buffer.
#[allow(unsafe_code, reason = "the worker's IPC buffer")]
fn worker_buffer() -> IpcBuffer {
    // SAFETY: `World::new` mapped the worker's IPC buffer frame read-write at WORKER_IPC (page
    // aligned) before the worker first runs, and nothing unmaps it: the frame's cap and the
    // VSpace's stay in the supervisor's CSpace, which the worker cannot reach. No Rust object
    // lives there.
    unsafe { IpcBuffer::new(WORKER_IPC) }
}

impl core::fmt::Display for Call {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let info = MessageInfo::from_raw(self.info);
        let n = self.staged.min(8);
        write!(
            f,
            "{} {} cap {:#x} info {:#x} (label {}, {} words, {} caps) mrs {:x?}{} extra {:x?}",
            if self.templated { "templated" } else { "random" },
            self.number as i64,
            self.cap,
            self.info,
            info.label(),
            info.length(),
            info.extra_caps(),
            &self.mrs[..n],
            if self.staged > n { " …" } else { "" },
            self.extra
        )?;
        if let Some(r) = self.receive {
            write!(f, " receive {r:x?}")?;
        }
        if let Some((w, v)) = self.scribble {
            write!(f, " ipc[{w}] = {v:#x}")?;
        }
        Ok(())
    }
}
