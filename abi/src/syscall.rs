//! The system-call numbers (`seL4_Syscall_ID`, non-MCS), with seL4's debug calls and Gears'
//! own benchmark calls.

use crate::Arch;

/// A system call, by the number a thread puts in its syscall-number register.
///
/// The eight IPC calls are seL4's API; the debug calls are those of seL4's debug build
/// (`CONFIG_PRINTING`, `CONFIG_DEBUG_BUILD`); `SetTLSBase` is x86_64's (riscv64 threads set
/// `tp` themselves). [`Syscall::GearsBenchBegin`] and [`Syscall::GearsBenchEnd`] are Gears'
/// own, numbered far from any number seL4 assigns (its debug and benchmark calls count down
/// from −9 and stay above −40), so no seL4 program can call one by accident.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(i64)]
pub enum Syscall {
    /// `seL4_SysCall`: send, then wait for the reply.
    Call = -1,
    /// `seL4_SysReplyRecv`: reply to the caller, then receive.
    ReplyRecv = -2,
    /// `seL4_SysSend`.
    Send = -3,
    /// `seL4_SysNBSend`: send if a receiver waits, else drop the message.
    NBSend = -4,
    /// `seL4_SysRecv`.
    Recv = -5,
    /// `seL4_SysReply`.
    Reply = -6,
    /// `seL4_SysYield`.
    Yield = -7,
    /// `seL4_SysNBRecv`: receive if a sender waits, else return at once.
    NBRecv = -8,
    /// `seL4_SysDebugPutChar`: the character is in the cap register.
    DebugPutChar = -9,
    /// `seL4_SysDebugDumpScheduler`.
    DebugDumpScheduler = -10,
    /// `seL4_SysDebugHalt`.
    DebugHalt = -11,
    /// `seL4_SysDebugCapIdentify`: the type of the cap at a cptr.
    DebugCapIdentify = -12,
    /// `seL4_SysDebugSnapshot`.
    DebugSnapshot = -13,
    /// `seL4_SysDebugNameThread`: a TCB cap in the cap register, the name in the IPC buffer.
    DebugNameThread = -14,
    /// `seL4_SysSetTLSBase` (x86_64): the new TLS base in the cap register.
    SetTLSBase = -30,
    /// Gears' benchmark kernel: start measuring interrupt latency (cap register: preemption
    /// points on (1) or off (0)).
    GearsBenchBegin = -0x4700,
    /// Gears' benchmark kernel: stop measuring and report (cap register: the caps revoked).
    GearsBenchEnd = -0x4701,
}

impl Syscall {
    /// Every system call, in number order from −1 down.
    pub const ALL: [Syscall; 17] = [
        Syscall::Call,
        Syscall::ReplyRecv,
        Syscall::Send,
        Syscall::NBSend,
        Syscall::Recv,
        Syscall::Reply,
        Syscall::Yield,
        Syscall::NBRecv,
        Syscall::DebugPutChar,
        Syscall::DebugDumpScheduler,
        Syscall::DebugHalt,
        Syscall::DebugCapIdentify,
        Syscall::DebugSnapshot,
        Syscall::DebugNameThread,
        Syscall::SetTLSBase,
        Syscall::GearsBenchBegin,
        Syscall::GearsBenchEnd,
    ];

    /// The number a thread passes.
    pub const fn number(self) -> i64 {
        self as i64
    }

    /// The number as the register word holds it.
    pub const fn word(self) -> u64 {
        self as i64 as u64
    }

    /// The system call `n` names on `arch` (`None`: an unknown system call, which seL4 makes an
    /// UnknownSyscall fault).
    pub const fn decode(n: i64, arch: Arch) -> Option<Syscall> {
        let mut i = 0;
        while i < Syscall::ALL.len() {
            let s = Syscall::ALL[i];
            if s.number() == n {
                return match (s, arch) {
                    (Syscall::SetTLSBase, Arch::Riscv64) => None,
                    _ => Some(s),
                };
            }
            i += 1;
        }
        None
    }

    /// Whether this is one of the eight IPC system calls of seL4's API.
    pub const fn is_api(self) -> bool {
        (self as i64) >= -8
    }

    /// seL4's name for it, without the `seL4_Sys` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Syscall::Call => "Call",
            Syscall::ReplyRecv => "ReplyRecv",
            Syscall::Send => "Send",
            Syscall::NBSend => "NBSend",
            Syscall::Recv => "Recv",
            Syscall::Reply => "Reply",
            Syscall::Yield => "Yield",
            Syscall::NBRecv => "NBRecv",
            Syscall::DebugPutChar => "DebugPutChar",
            Syscall::DebugDumpScheduler => "DebugDumpScheduler",
            Syscall::DebugHalt => "DebugHalt",
            Syscall::DebugCapIdentify => "DebugCapIdentify",
            Syscall::DebugSnapshot => "DebugSnapshot",
            Syscall::DebugNameThread => "DebugNameThread",
            Syscall::SetTLSBase => "SetTLSBase",
            Syscall::GearsBenchBegin => "GearsBenchBegin",
            Syscall::GearsBenchEnd => "GearsBenchEnd",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_sel4s() {
        assert_eq!(Syscall::Call.number(), -1);
        assert_eq!(Syscall::NBRecv.number(), -8);
        assert_eq!(Syscall::DebugNameThread.number(), -14);
        assert_eq!(Syscall::decode(-30, Arch::X86_64), Some(Syscall::SetTLSBase));
        assert_eq!(Syscall::decode(-30, Arch::Riscv64), None);
        assert_eq!(Syscall::decode(0, Arch::X86_64), None);
        assert_eq!(Syscall::decode(-15, Arch::X86_64), None);
        for s in Syscall::ALL {
            assert_eq!(Syscall::decode(s.number(), Arch::X86_64), Some(s));
            assert_eq!(Syscall::decode(s.word() as i64, Arch::X86_64), Some(s));
        }
    }

    #[test]
    fn gears_calls_stay_clear_of_sel4s() {
        assert!(Syscall::GearsBenchBegin.number() < -1000);
        assert!(Syscall::GearsBenchEnd.number() < -1000);
        assert!(Syscall::ALL.iter().filter(|s| s.is_api()).count() == 8);
    }
}
