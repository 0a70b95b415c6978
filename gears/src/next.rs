//! `Next`: where a CodeGear says control goes when it ends.

use core::fmt;

use crate::{Context, Gear};

/// The tail call a CodeGear ends with.
///
/// A CodeGear never returns to a caller: it names the next gear, possibly across a declared
/// preemption point, or it leaves the kernel with a result or an error.
#[must_use = "a `Next` says where control goes; a gear returns it, the dispatcher acts on it"]
pub enum Next<C: Context> {
    /// Go straight to the gear; no preemption is possible here.
    Goto(&'static Gear<C>),
    /// Go to the gear across a declared preemption point: the kernel is consistent here, and the
    /// dispatcher may stop the operation before the gear runs.
    Preempt(&'static Gear<C>),
    /// Leave the kernel: the operation finished with this result.
    Exit(C::Output),
    /// Leave the kernel: the operation failed with this error (it must have changed nothing the
    /// caller could observe, or left the state consistent).
    Fail(C::Error),
}

impl<C: Context> Next<C> {
    /// The gear this transition goes to, if it goes to one.
    pub fn target(&self) -> Option<&'static Gear<C>> {
        match self {
            Next::Goto(g) | Next::Preempt(g) => Some(g),
            Next::Exit(_) | Next::Fail(_) => None,
        }
    }

    /// Whether this transition crosses a declared preemption point.
    pub fn is_preemption_point(&self) -> bool {
        matches!(self, Next::Preempt(_))
    }
}

impl<C: Context> Clone for Next<C>
where
    C::Output: Clone,
    C::Error: Clone,
{
    fn clone(&self) -> Self {
        match self {
            Next::Goto(g) => Next::Goto(g),
            Next::Preempt(g) => Next::Preempt(g),
            Next::Exit(v) => Next::Exit(v.clone()),
            Next::Fail(e) => Next::Fail(e.clone()),
        }
    }
}

impl<C: Context> PartialEq for Next<C>
where
    C::Output: PartialEq,
    C::Error: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Next::Goto(a), Next::Goto(b)) | (Next::Preempt(a), Next::Preempt(b)) => a == b,
            (Next::Exit(a), Next::Exit(b)) => a == b,
            (Next::Fail(a), Next::Fail(b)) => a == b,
            _ => false,
        }
    }
}

impl<C: Context> fmt::Debug for Next<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Next::Goto(g) => write!(f, "goto {}", g.name()),
            Next::Preempt(g) => write!(f, "preempt-point {}", g.name()),
            Next::Exit(v) => write!(f, "exit {v:?}"),
            Next::Fail(e) => write!(f, "fail {e:?}"),
        }
    }
}
