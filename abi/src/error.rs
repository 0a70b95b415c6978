//! `seL4_Error` and `seL4_LookupFailureType` (`libsel4/include/sel4/errors.h`, `constants.h`).

/// `seL4_Error`: the code a failed invocation returns in its reply's label.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[repr(u8)]
pub enum Error {
    /// `seL4_NoError`.
    NoError = 0,
    /// `seL4_InvalidArgument`.
    InvalidArgument = 1,
    /// `seL4_InvalidCapability`.
    InvalidCapability = 2,
    /// `seL4_IllegalOperation`.
    IllegalOperation = 3,
    /// `seL4_RangeError`.
    RangeError = 4,
    /// `seL4_AlignmentError`.
    AlignmentError = 5,
    /// `seL4_FailedLookup`.
    FailedLookup = 6,
    /// `seL4_TruncatedMessage`.
    TruncatedMessage = 7,
    /// `seL4_DeleteFirst`.
    DeleteFirst = 8,
    /// `seL4_RevokeFirst`.
    RevokeFirst = 9,
    /// `seL4_NotEnoughMemory`.
    NotEnoughMemory = 10,
}

impl Error {
    /// Every code, in order.
    pub const ALL: [Error; 11] = [
        Error::NoError,
        Error::InvalidArgument,
        Error::InvalidCapability,
        Error::IllegalOperation,
        Error::RangeError,
        Error::AlignmentError,
        Error::FailedLookup,
        Error::TruncatedMessage,
        Error::DeleteFirst,
        Error::RevokeFirst,
        Error::NotEnoughMemory,
    ];

    /// The code, as seL4 returns it in the reply's label.
    pub const fn code(self) -> u64 {
        self as u64
    }

    /// The error a reply's label names (`None`: not an seL4 error code).
    pub const fn from_code(code: u64) -> Option<Error> {
        if code < Error::ALL.len() as u64 { Some(Error::ALL[code as usize]) } else { None }
    }

    /// seL4's name, without the `seL4_` prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Error::NoError => "NoError",
            Error::InvalidArgument => "InvalidArgument",
            Error::InvalidCapability => "InvalidCapability",
            Error::IllegalOperation => "IllegalOperation",
            Error::RangeError => "RangeError",
            Error::AlignmentError => "AlignmentError",
            Error::FailedLookup => "FailedLookup",
            Error::TruncatedMessage => "TruncatedMessage",
            Error::DeleteFirst => "DeleteFirst",
            Error::RevokeFirst => "RevokeFirst",
            Error::NotEnoughMemory => "NotEnoughMemory",
        }
    }
}

/// `seL4_LookupFailureType`: the first word of a lookup failure's description (in a
/// FailedLookup reply after its source word, in a cap fault's message).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum LookupFailureType {
    /// `seL4_NoFailure`.
    NoFailure = 0,
    /// `seL4_InvalidRoot`.
    InvalidRoot = 1,
    /// `seL4_MissingCapability` (then: bits left).
    MissingCapability = 2,
    /// `seL4_DepthMismatch` (then: bits left, bits found).
    DepthMismatch = 3,
    /// `seL4_GuardMismatch` (then: bits left, guard found, guard size).
    GuardMismatch = 4,
}

impl LookupFailureType {
    /// The word.
    pub const fn word(self) -> u64 {
        self as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sel4s() {
        assert_eq!(Error::NoError.code(), 0);
        assert_eq!(Error::FailedLookup.code(), 6);
        assert_eq!(Error::NotEnoughMemory.code(), 10);
        for e in Error::ALL {
            assert_eq!(Error::from_code(e.code()), Some(e));
        }
        assert_eq!(Error::from_code(11), None);
        assert_eq!(LookupFailureType::GuardMismatch.word(), 4);
    }
}
