//! The one path every invocation wrapper takes: a `seL4_Call` on the invoked cap, its reply's
//! label read as an error code.

use abi::{Error, Syscall};

use crate::message::{self, Received};
use crate::{CPtr, Result, sys};

/// Invokes `cap` with `label`, message `words` and extra `caps`: the kernel's reply, or the error
/// it names.
pub(crate) fn invoke(cap: CPtr, label: u64, words: &[u64], caps: &[CPtr]) -> Result<Received> {
    let (regs, info) = message::stage(label, words, caps);
    let reply = Received::from_return(sys::syscall(Syscall::Call, cap, info.word(), regs));
    match reply.label() {
        0 => Ok(reply),
        code => Err(error_from_label(code)),
    }
}

/// [`invoke`] for invocations whose reply carries nothing.
pub(crate) fn invoke_unit(cap: CPtr, label: u64, words: &[u64], caps: &[CPtr]) -> Result<()> {
    invoke(cap, label, words, caps).map(|_| ())
}

/// The error a reply's non-zero label names. A label that is no seL4 error code cannot come from
/// the kernel: it is a thread's reply, through a cap typed as a kernel object that is an
/// endpoint, and reads as `InvalidCapability`.
pub(crate) fn error_from_label(label: u64) -> Error {
    match Error::from_code(label) {
        Some(Error::NoError) | None => Error::InvalidCapability,
        Some(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_sel4_errors() {
        assert_eq!(error_from_label(6), Error::FailedLookup);
        assert_eq!(error_from_label(10), Error::NotEnoughMemory);
        assert_eq!(error_from_label(0x77), Error::InvalidCapability);
    }
}
