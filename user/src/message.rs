//! Messages: how the words of one split between the four message registers and the IPC buffer,
//! and what a receive or a reply gives back.
//!
//! Message words 0–3 travel in registers as values, each thread's own; words 4 and up, and the
//! extra caps' cptrs, are written to the IPC buffer just before the call (libsel4's
//! `seL4_CallWithMRs` way): a message of at most four words and no caps touches no memory.
//!
//! ```
//! use gears_user::message::encode;
//! let (regs, info) = encode(7, &[1, 2, 3, 4, 5, 6], 1);
//! assert_eq!(regs, [1, 2, 3, 4]); // words 4 and 5 go to the IPC buffer
//! assert_eq!((info.label(), info.length(), info.extra_caps()), (7, 6, 1));
//! ```

use abi::{MSG_MAX_EXTRA_CAPS, MSG_MAX_LENGTH, MessageInfo};

use crate::CPtr;
use crate::ipc_buffer;
use crate::sys::SyscallReturn;

/// Message words that travel in registers (`seL4_FastMessageRegisters`).
pub const REGISTER_WORDS: usize = 4;
/// The most words a message carries (`seL4_MsgMaxLength`).
pub const MAX_WORDS: usize = MSG_MAX_LENGTH as usize;
/// The most extra caps a message carries (`seL4_MsgMaxExtraCaps`).
pub const MAX_CAPS: usize = MSG_MAX_EXTRA_CAPS as usize;

/// The message registers and the MessageInfo of a message with `label`, `words` and `caps`
/// extra caps; the words past [`REGISTER_WORDS`] are the caller's to put in the IPC buffer.
///
/// # Panics
///
/// If there are more than [`MAX_WORDS`] words or [`MAX_CAPS`] caps.
pub fn encode(label: u64, words: &[u64], caps: usize) -> ([u64; REGISTER_WORDS], MessageInfo) {
    assert!(words.len() <= MAX_WORDS, "a message carries at most {MAX_WORDS} words, not {}", words.len());
    assert!(caps <= MAX_CAPS, "a message carries at most {MAX_CAPS} extra caps, not {caps}");
    let mut regs = [0; REGISTER_WORDS];
    for (r, &w) in regs.iter_mut().zip(words) {
        *r = w;
    }
    (regs, MessageInfo::new(label, 0, caps as u64, words.len() as u64))
}

/// [`encode`], with the words past the registers and the caps' cptrs written to the registered
/// IPC buffer (needed only if there are any).
pub(crate) fn stage(label: u64, words: &[u64], caps: &[CPtr]) -> ([u64; REGISTER_WORDS], MessageInfo) {
    let out = encode(label, words, caps.len());
    if words.len() > REGISTER_WORDS || !caps.is_empty() {
        let buffer = ipc_buffer::current();
        for (i, &w) in words.iter().enumerate().skip(REGISTER_WORDS) {
            buffer.set_msg(i, w);
        }
        for (j, &c) in caps.iter().enumerate() {
            buffer.set_cap(j, c);
        }
    }
    out
}

/// A message received (Recv, NBRecv, Wait, the reply of a Call), or the kernel's reply to an
/// invocation: the badge, the MessageInfo and the words that came in registers. Words past
/// the fourth are in the IPC buffer until the next message overwrites them ([`Received::word`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Received {
    /// The badge of the cap the message came through (0 for a reply; a notification's word
    /// for a Wait or a Poll).
    pub badge: u64,
    /// Its MessageInfo (the length cut to [`MAX_WORDS`], as the kernel reads it).
    pub info: MessageInfo,
    /// Message words 0–3 (registers).
    pub mrs: [u64; REGISTER_WORDS],
}

impl Received {
    /// What a system call's return registers say.
    pub fn from_return(r: SyscallReturn) -> Received {
        Received { badge: r.badge, info: MessageInfo::from_word(r.info), mrs: r.mrs }
    }

    /// The label: the sender's, a fault type for a fault message, an error code for the
    /// kernel's reply to a failed invocation.
    pub fn label(&self) -> u64 {
        self.info.label()
    }

    /// How many words it has.
    pub fn length(&self) -> usize {
        self.info.length() as usize
    }

    /// How many caps came with it (transferred to the receive slot, or unwrapped as badges).
    pub fn extra_caps(&self) -> usize {
        self.info.extra_caps() as usize
    }

    /// Which extra caps were unwrapped (a bit each): their badges are in the IPC buffer's
    /// `caps_or_badges`.
    pub fn caps_unwrapped(&self) -> u64 {
        self.info.caps_unwrapped()
    }

    /// Word `i`: from the registers for 0–3, else from the registered IPC buffer (which the
    /// next message overwrites). Past the message's length it is whatever is there.
    pub fn word(&self, i: usize) -> u64 {
        match self.mrs.get(i) {
            Some(&w) => w,
            None => ipc_buffer::current().msg(i),
        }
    }

    /// Its first `N` words ([`Received::word`] each).
    pub fn words<const N: usize>(&self) -> [u64; N] {
        core::array::from_fn(|i| self.word(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_messages_live_in_registers() {
        let (regs, info) = encode(3, &[9, 8], 0);
        assert_eq!(regs, [9, 8, 0, 0]);
        assert_eq!(info, MessageInfo::new(3, 0, 0, 2));
        let (regs, info) = encode(0, &[], 3);
        assert_eq!((regs, info.extra_caps(), info.length()), ([0; 4], 3, 0));
    }

    #[test]
    fn the_longest_message_fits() {
        let words = [5u64; MAX_WORDS];
        let (regs, info) = encode(1, &words, 0);
        assert_eq!((regs, info.length()), ([5; 4], 120));
    }

    #[test]
    #[should_panic(expected = "at most 120 words")]
    fn a_longer_one_does_not() {
        encode(1, &[0; MAX_WORDS + 1], 0);
    }

    #[test]
    #[should_panic(expected = "at most 3 extra caps")]
    fn nor_four_caps() {
        encode(1, &[], 4);
    }

    #[test]
    fn replies_read_as_the_kernel_wrote_them() {
        let info = MessageInfo::new(6, 0, 0, 3).word();
        let r = Received::from_return(SyscallReturn { badge: 0x61, info, mrs: [1, 2, 3, 4] });
        assert_eq!((r.label(), r.length(), r.badge), (6, 3, 0x61));
        assert_eq!(r.words::<3>(), [1, 2, 3]);
        // A length past 120 reads as 120, as the kernel reads it.
        let r = Received::from_return(SyscallReturn { info: 0x7f, ..Default::default() });
        assert_eq!(r.length(), MAX_WORDS);
    }
}
