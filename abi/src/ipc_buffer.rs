//! `seL4_IPCBuffer`: the page-resident part of a thread's message (`shared_types.h`).

use core::mem::{offset_of, size_of};

use crate::{MSG_MAX_EXTRA_CAPS, MSG_MAX_LENGTH};

/// `seL4_IPCBuffer`, in seL4's layout: 128 words, 1 KiB, aligned to its size.
#[repr(C, align(1024))]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct IpcBuffer {
    /// `tag`: the MessageInfo of the last message (user-level bookkeeping).
    pub tag: u64,
    /// `msg`: the message words; the first four travel in registers, the rest here.
    pub msg: [u64; MSG_MAX_LENGTH as usize],
    /// `userData`: the thread's own (libsel4 keeps its IPC buffer's address here).
    pub user_data: u64,
    /// `caps_or_badges`: the extra caps' cptrs on send, the unwrapped badges on receive.
    pub caps_or_badges: [u64; MSG_MAX_EXTRA_CAPS as usize],
    /// `receiveCNode`: the CNode (a cptr) where a received cap goes.
    pub receive_cnode: u64,
    /// `receiveIndex`.
    pub receive_index: u64,
    /// `receiveDepth`.
    pub receive_depth: u64,
}

impl IpcBuffer {
    /// Its size in words.
    pub const WORDS: usize = size_of::<IpcBuffer>() / 8;
    /// The word index of `tag`.
    pub const TAG: usize = offset_of!(IpcBuffer, tag) / 8;
    /// The word index of `userData`.
    pub const USER_DATA: usize = offset_of!(IpcBuffer, user_data) / 8;
    /// The word index of `receiveCNode`.
    pub const RECEIVE_CNODE: usize = offset_of!(IpcBuffer, receive_cnode) / 8;
    /// The word index of `receiveIndex`.
    pub const RECEIVE_INDEX: usize = offset_of!(IpcBuffer, receive_index) / 8;
    /// The word index of `receiveDepth`.
    pub const RECEIVE_DEPTH: usize = offset_of!(IpcBuffer, receive_depth) / 8;

    /// The word index of `msg[i]`.
    pub const fn msg(i: usize) -> usize {
        offset_of!(IpcBuffer, msg) / 8 + i
    }

    /// The word index of `caps_or_badges[j]`.
    pub const fn cap(j: usize) -> usize {
        offset_of!(IpcBuffer, caps_or_badges) / 8 + j
    }

    /// An all-zero buffer.
    pub const fn zeroed() -> IpcBuffer {
        IpcBuffer {
            tag: 0,
            msg: [0; MSG_MAX_LENGTH as usize],
            user_data: 0,
            caps_or_badges: [0; MSG_MAX_EXTRA_CAPS as usize],
            receive_cnode: 0,
            receive_index: 0,
            receive_depth: 0,
        }
    }
}

const _: () = assert!(size_of::<IpcBuffer>() == 1 << crate::object::bits::IPC_BUFFER);
const _: () = assert!(IpcBuffer::WORDS == 128 && IpcBuffer::RECEIVE_DEPTH == 127);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_offsets_are_sel4s() {
        assert_eq!(IpcBuffer::TAG, 0);
        assert_eq!(IpcBuffer::msg(0), 1);
        assert_eq!(IpcBuffer::msg(119), 120);
        assert_eq!(IpcBuffer::USER_DATA, 121);
        assert_eq!(IpcBuffer::cap(0), 122);
        assert_eq!((IpcBuffer::RECEIVE_CNODE, IpcBuffer::RECEIVE_INDEX), (125, 126));
    }
}
