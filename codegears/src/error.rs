//! Why an invocation failed: seL4's error codes ([`abi::Error`]) with the details seL4 puts
//! in the reply, and seL4's lookup faults.

/// seL4's lookup faults (`lookup_fault_t`), as `resolveAddressBits` reports them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LookupFault {
    /// The root of the lookup is not a CNode cap.
    InvalidRoot,
    /// The slot reached holds no cap where one was needed.
    MissingCapability {
        /// Bits left to resolve.
        bits_left: u64,
    },
    /// A level would resolve more bits than are left.
    DepthMismatch {
        /// Bits left to resolve.
        bits_left: u64,
        /// Bits the level would resolve (0 when bits were left over at the end of a CNode op lookup).
        bits_found: u64,
    },
    /// The guard of a CNode cap does not match the address.
    GuardMismatch {
        /// Bits left to resolve.
        bits_left: u64,
        /// The guard of the CNode cap.
        guard_found: u64,
        /// The size of that guard in bits.
        guard_size: u64,
    },
}

impl LookupFault {
    /// `setMRs_lookup_failure`'s words: the failure type, then its details.
    pub fn words(&self) -> arrayvec::ArrayVec<u64, 4> {
        use abi::LookupFailureType as T;
        let mut w = arrayvec::ArrayVec::new();
        match *self {
            LookupFault::InvalidRoot => w.push(T::InvalidRoot.word()),
            LookupFault::MissingCapability { bits_left } => {
                w.extend([T::MissingCapability.word(), bits_left]);
            }
            LookupFault::DepthMismatch { bits_left, bits_found } => {
                w.extend([T::DepthMismatch.word(), bits_left, bits_found]);
            }
            LookupFault::GuardMismatch { bits_left, guard_found, guard_size } => {
                w.extend([T::GuardMismatch.word(), bits_left, guard_found, guard_size]);
            }
        }
        w
    }
}

/// Why an invocation failed: an seL4 error with the details seL4 puts in the reply, or a fault.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SyscallError {
    /// `seL4_InvalidArgument`, naming the argument.
    InvalidArgument {
        /// Which message register was wrong.
        arg: u64,
    },
    /// `seL4_InvalidCapability`, naming the cap (0: the invoked cap, 1…: extra caps).
    InvalidCapability {
        /// Which cap was wrong.
        cap: u64,
    },
    /// `seL4_IllegalOperation`.
    IllegalOperation,
    /// `seL4_RangeError` with the accepted range.
    RangeError {
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// `seL4_AlignmentError`.
    AlignmentError,
    /// `seL4_FailedLookup`: which lookup (source or not) and the lookup fault.
    FailedLookup {
        /// seL4's `failedLookupWasSource`.
        source: bool,
        /// The lookup fault.
        fault: LookupFault,
    },
    /// `seL4_TruncatedMessage`.
    TruncatedMessage,
    /// `seL4_DeleteFirst`.
    DeleteFirst,
    /// `seL4_RevokeFirst`.
    RevokeFirst,
    /// `seL4_NotEnoughMemory` with the bytes available.
    NotEnoughMemory {
        /// Free bytes in the untyped.
        available: u64,
    },
    /// Not an error code: looking up the invoked cap (or an extra cap) faulted, and seL4 sends a
    /// cap fault to the thread's fault handler instead of replying (`seL4_Fault_CapFault`).
    CapFault {
        /// The cap pointer that failed.
        cptr: u64,
        /// The lookup fault.
        fault: LookupFault,
    },
}

impl SyscallError {
    /// The seL4 error code of this error; `None` for a cap fault, which is not a reply.
    pub const fn error(&self) -> Option<abi::Error> {
        Some(match self {
            SyscallError::InvalidArgument { .. } => abi::Error::InvalidArgument,
            SyscallError::InvalidCapability { .. } => abi::Error::InvalidCapability,
            SyscallError::IllegalOperation => abi::Error::IllegalOperation,
            SyscallError::RangeError { .. } => abi::Error::RangeError,
            SyscallError::AlignmentError => abi::Error::AlignmentError,
            SyscallError::FailedLookup { .. } => abi::Error::FailedLookup,
            SyscallError::TruncatedMessage => abi::Error::TruncatedMessage,
            SyscallError::DeleteFirst => abi::Error::DeleteFirst,
            SyscallError::RevokeFirst => abi::Error::RevokeFirst,
            SyscallError::NotEnoughMemory { .. } => abi::Error::NotEnoughMemory,
            SyscallError::CapFault { .. } => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_sel4() {
        assert_eq!(SyscallError::DeleteFirst.error(), Some(abi::Error::DeleteFirst));
        let fault = SyscallError::CapFault { cptr: 1, fault: LookupFault::InvalidRoot };
        assert_eq!(fault.error(), None);
    }
}
