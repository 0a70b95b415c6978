//! The few seL4 ABI numbers the boot demo needs.
//!
//! The full ABI (every syscall, `MessageInfo` with clamping) is `codegears::abi`; this stays
//! local until that module is exported, and then should be replaced by it.

/// `seL4_SysCall`.
pub const SYS_CALL: i64 = -1;
/// `seL4_SysSend`.
pub const SYS_SEND: i64 = -3;
/// `seL4_SysYield`.
pub const SYS_YIELD: i64 = -7;

/// The name of a non-MCS seL4 syscall number, for the console.
pub fn syscall_name(n: i64) -> &'static str {
    match n {
        -1 => "Call",
        -2 => "ReplyRecv",
        -3 => "Send",
        -4 => "NBSend",
        -5 => "Recv",
        -6 => "Reply",
        -7 => "Yield",
        -8 => "NBRecv",
        _ => "unknown",
    }
}

/// `seL4_MessageInfo_new(label, 0, 0, length)` as a word: label 63..12, length 6..0.
pub const fn message_info(label: u64, length: u64) -> u64 {
    (label << 12) | (length & 0x7f)
}

/// The label and length of a MessageInfo word.
pub const fn message_info_fields(word: u64) -> (u64, u64) {
    (word >> 12, word & 0x7f)
}
