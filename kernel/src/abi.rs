//! The seL4 ABI as the console shows it; the numbers and `MessageInfo` are codegears'.

pub use codegears::syscall::MessageInfo;
pub use codegears::syscall::sys::{CALL as SYS_CALL, SEND as SYS_SEND, YIELD as SYS_YIELD};

/// The name of a non-MCS seL4 syscall number, for the console.
pub fn syscall_name(n: i64) -> &'static str {
    use codegears::syscall::sys;
    match n {
        sys::CALL => "Call",
        sys::REPLY_RECV => "ReplyRecv",
        sys::SEND => "Send",
        sys::NB_SEND => "NBSend",
        sys::RECV => "Recv",
        sys::REPLY => "Reply",
        sys::YIELD => "Yield",
        sys::NB_RECV => "NBRecv",
        _ => "unknown",
    }
}

/// `seL4_MessageInfo_new(label, 0, 0, length)` as a word.
pub const fn message_info(label: u64, length: u64) -> u64 {
    MessageInfo::new(label, 0, 0, length).to_word()
}

/// The label and length of a MessageInfo word.
pub const fn message_info_fields(word: u64) -> (u64, u64) {
    let info = MessageInfo::from_word(word);
    (info.label, info.length)
}
