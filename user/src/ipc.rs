//! IPC: seL4's eight system calls (Send, NBSend, Call, Recv, NBRecv, Reply, ReplyRecv, Yield) on
//! endpoints, and Signal, Wait and Poll on notifications.
//!
//! Messages are a label, words and (to send) extra caps' cptrs; what comes back is a
//! [`Received`]. A server's loop:
//!
//! ```no_run
//! use gears_user::cap::Endpoint;
//! fn serve(ep: Endpoint) -> ! {
//!     let mut m = ep.recv();
//!     loop {
//!         // Answer each caller with the sum of its first two words.
//!         let sum = m.word(0) + m.word(1);
//!         m = ep.reply_recv(0, &[sum]);
//!     }
//! }
//! ```
//!
//! Send, Recv and Call through a cap without the right to (or an empty slot) are cap faults of
//! the caller, as in seL4: they go to its fault handler rather than coming back as errors.

use abi::Syscall;

use crate::CPtr;
use crate::cap::{Endpoint, Notification};
use crate::message::{Received, stage};
use crate::sys::syscall;

/// Sends on `cap` with system call `call`.
fn send_on(call: Syscall, cap: CPtr, label: u64, words: &[u64], caps: &[CPtr]) {
    let (regs, info) = stage(label, words, caps);
    syscall(call, cap, info.word(), regs);
}

/// Receives on `cap` with system call `call`.
fn recv_on(call: Syscall, cap: CPtr) -> Received {
    Received::from_return(syscall(call, cap, 0, [0; 4]))
}

impl Endpoint {
    /// `seL4_Send`: sends `label` and `words`, waiting for a receiver.
    pub fn send(self, label: u64, words: &[u64]) {
        send_on(Syscall::Send, self.cptr(), label, words, &[])
    }

    /// `seL4_Send` with extra caps (transferred only through a cap with the grant right; else
    /// the message goes without them).
    pub fn send_with_caps(self, label: u64, words: &[u64], caps: &[CPtr]) {
        send_on(Syscall::Send, self.cptr(), label, words, caps)
    }

    /// `seL4_NBSend`: sends if a receiver waits, else drops the message.
    pub fn nb_send(self, label: u64, words: &[u64]) {
        send_on(Syscall::NBSend, self.cptr(), label, words, &[])
    }

    /// `seL4_Call`: sends and waits for the reply (whose badge is 0).
    pub fn call(self, label: u64, words: &[u64]) -> Received {
        self.call_with_caps(label, words, &[])
    }

    /// `seL4_Call` with extra caps.
    pub fn call_with_caps(self, label: u64, words: &[u64], caps: &[CPtr]) -> Received {
        let (regs, info) = stage(label, words, caps);
        Received::from_return(syscall(Syscall::Call, self.cptr(), info.word(), regs))
    }

    /// `seL4_Recv`: waits for a message (a cap it carries goes to the receive slot,
    /// [`crate::ipc_buffer::set_receive_slot`]).
    pub fn recv(self) -> Received {
        recv_on(Syscall::Recv, self.cptr())
    }

    /// `seL4_NBRecv`: a message if a sender waits, else at once with badge 0, label 0 and no
    /// words.
    pub fn nb_recv(self) -> Received {
        recv_on(Syscall::NBRecv, self.cptr())
    }

    /// `seL4_ReplyRecv`: replies to the last caller with `label` and `words`, then waits on this
    /// endpoint.
    pub fn reply_recv(self, label: u64, words: &[u64]) -> Received {
        let (regs, info) = stage(label, words, &[]);
        Received::from_return(syscall(Syscall::ReplyRecv, self.cptr(), info.word(), regs))
    }
}

/// `seL4_Reply`: answers the last caller with `label` and `words` (nothing happens if no one
/// called).
pub fn reply(label: u64, words: &[u64]) {
    send_on(Syscall::Reply, 0, label, words, &[])
}

/// `seL4_Reply` with extra caps.
pub fn reply_with_caps(label: u64, words: &[u64], caps: &[CPtr]) {
    send_on(Syscall::Reply, 0, label, words, caps)
}

/// `seL4_Yield`: gives up the rest of this thread's time slice.
pub fn yield_now() {
    syscall(Syscall::Yield, 0, 0, [0; 4]);
}

impl Notification {
    /// `seL4_Signal`: ORs the cap's badge into the notification's word and wakes a waiter.
    pub fn signal(self) {
        send_on(Syscall::Send, self.cptr(), 0, &[], &[])
    }

    /// `seL4_Wait`: waits until the word is non-zero; returns it (the OR of the badges
    /// signalled) and clears it.
    pub fn wait(self) -> u64 {
        recv_on(Syscall::Recv, self.cptr()).badge
    }

    /// `seL4_Poll`: the word (0 if nothing was signalled), cleared, without waiting.
    pub fn poll(self) -> u64 {
        recv_on(Syscall::NBRecv, self.cptr()).badge
    }
}
