//! Fault messages: what the kernel sends a thread's fault handler (its fault endpoint) when the
//! thread faults, decoded by the label (`seL4_FaultType`) and the arch's layout.
//!
//! ```
//! use gears_user::fault::Fault;
//! // A VMFault message: ip, address, prefetch, FSR.
//! let words = [0x40_1234, 0x0, 0, 4];
//! let f = Fault::decode(abi::fault::VM_FAULT, |i| words[i]);
//! assert_eq!(f, Fault::VmFault { ip: 0x40_1234, addr: 0, prefetch: false, fsr: 4 });
//! ```

use abi::fault::{self as label, cap_fault, vm_fault};

use crate::message::Received;

#[cfg(not(target_arch = "riscv64"))]
use abi::x86_64::fault as layout;

#[cfg(target_arch = "riscv64")]
use abi::riscv64::fault as layout;

/// A fault message, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `seL4_Fault_CapFault`: a cptr of a system call named no cap (or one without the right).
    Cap {
        /// The faulting instruction.
        ip: u64,
        /// The cptr that failed.
        addr: u64,
        /// Whether it failed in a receive (the receive half of a Call, ReplyRecv or Recv).
        in_recv_phase: bool,
        /// The lookup failure's type (`seL4_LookupFailureType`).
        lookup_failure: u64,
    },
    /// `seL4_Fault_UnknownSyscall`: a system-call number the kernel does not know.
    UnknownSyscall {
        /// The faulting instruction.
        ip: u64,
        /// The number.
        number: u64,
    },
    /// `seL4_Fault_UserException`: an exception of the processor other than a page fault
    /// (x86_64: its vector; riscv64: its cause).
    UserException {
        /// The faulting instruction.
        ip: u64,
        /// The stack pointer.
        sp: u64,
        /// The exception's number.
        number: u64,
        /// Its code.
        code: u64,
    },
    /// `seL4_Fault_VMFault`: an access no mapping allows.
    VmFault {
        /// The faulting instruction.
        ip: u64,
        /// The address.
        addr: u64,
        /// Whether it was an instruction fetch.
        prefetch: bool,
        /// The arch's fault status (x86_64: the error code; riscv64: the cause).
        fsr: u64,
    },
    /// A message with another label: not a fault the kernel sends.
    Other {
        /// Its label.
        label: u64,
    },
}

impl Fault {
    /// The fault a message with `label` and words `word(0)`, `word(1)`, … describes.
    pub fn decode(label: u64, word: impl Fn(usize) -> u64) -> Fault {
        match label {
            label::CAP_FAULT => Fault::Cap {
                ip: word(cap_fault::IP),
                addr: word(cap_fault::ADDR),
                in_recv_phase: word(cap_fault::IN_RECV_PHASE) != 0,
                lookup_failure: word(cap_fault::LOOKUP_FAILURE_TYPE),
            },
            label::UNKNOWN_SYSCALL => Fault::UnknownSyscall {
                ip: word(pc_index(&layout::UNKNOWN_SYSCALL_REGISTERS)),
                number: word(layout::UNKNOWN_SYSCALL_NUMBER),
            },
            label::USER_EXCEPTION => Fault::UserException {
                ip: word(0),
                sp: word(1),
                number: word(layout::USER_EXCEPTION_NUMBER),
                code: word(layout::USER_EXCEPTION_CODE),
            },
            label::VM_FAULT => Fault::VmFault {
                ip: word(vm_fault::IP),
                addr: word(vm_fault::ADDR),
                prefetch: word(vm_fault::PREFETCH_FAULT) != 0,
                fsr: word(vm_fault::FSR),
            },
            label => Fault::Other { label },
        }
    }

    /// The fault a received message describes (words past the fourth from the IPC buffer).
    pub fn from_received(m: &Received) -> Fault {
        Fault::decode(m.label(), |i| m.word(i))
    }
}

impl core::fmt::Display for Fault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Fault::Cap { ip, addr, in_recv_phase, lookup_failure } => write!(
                f,
                "CapFault on cptr {addr:#x} at ip {ip:#x}{}, lookup failure {lookup_failure}",
                if in_recv_phase { " in the receive phase" } else { "" }
            ),
            Fault::UnknownSyscall { ip, number } => {
                write!(f, "UnknownSyscall {} at ip {ip:#x}", number as i64)
            }
            Fault::UserException { ip, sp, number, code } => {
                write!(f, "UserException {number} (code {code}) at ip {ip:#x}, sp {sp:#x}")
            }
            Fault::VmFault { ip, addr, prefetch, fsr } => write!(
                f,
                "VMFault at {addr:#x} ({} at ip {ip:#x}, FSR {fsr:#x})",
                if prefetch { "instruction fetch" } else { "data access" }
            ),
            Fault::Other { label } => write!(f, "a message with label {label}, no fault"),
        }
    }
}

/// Where the instruction pointer is among an UnknownSyscall message's registers.
fn pc_index(registers: &[usize]) -> usize {
    #[cfg(not(target_arch = "riscv64"))]
    let pc = abi::x86_64::reg::RIP;
    #[cfg(target_arch = "riscv64")]
    let pc = abi::riscv64::reg::PC;
    registers.iter().position(|&r| r == pc).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_its_layout() {
        let words: [u64; 20] = core::array::from_fn(|i| 100 + i as u64);
        let w = |i: usize| words[i];
        assert_eq!(
            Fault::decode(label::CAP_FAULT, w),
            Fault::Cap { ip: 100, addr: 101, in_recv_phase: true, lookup_failure: 103 }
        );
        // x86_64: RIP is the 16th register of the message, the number after the 18.
        assert_eq!(Fault::decode(label::UNKNOWN_SYSCALL, w), Fault::UnknownSyscall { ip: 115, number: 118 });
        assert_eq!(
            Fault::decode(label::USER_EXCEPTION, w),
            Fault::UserException { ip: 100, sp: 101, number: 103, code: 104 }
        );
        assert_eq!(Fault::decode(0x99, w), Fault::Other { label: 0x99 });
        let vm = Fault::decode(label::VM_FAULT, |i| [0x40_1000, 0, 0, 6][i]);
        assert_eq!(std::format!("{vm}"), "VMFault at 0x0 (data access at ip 0x401000, FSR 0x6)");
    }
}
