//! The Context: the per-process meta DataGear holding a process's DataGears and its continuation.

use core::fmt;
use core::hash::{Hash, Hasher};

use crate::Gear;

/// Which process a context belongs to, as traces show it (`p0`, `p1`, …).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default)]
pub struct ProcessId(pub u32);

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// A DataGear: a typed piece of state a CodeGear reads or writes.
///
/// DataGears are plain data (DESIGN property 4): they can be cloned, compared and hashed, so a
/// model checker can snapshot a whole kernel state and recognise one it has seen; and they print,
/// so a stepping test or a failure report can show them. Every such type is a DataGear.
pub trait DataGear: Clone + Eq + Hash + fmt::Debug + 'static {}

impl<T: Clone + Eq + Hash + fmt::Debug + 'static> DataGear for T {}

/// The table of DataGears a family of CodeGears runs on, plus the meta-level state of its process.
///
/// A context is itself a DataGear (the per-process meta DataGear of GearsOS), so the whole state
/// a gear can touch is plain data.
///
/// Stubs fetch a gear's DataGears through [`Context::data_gears`], which hands out one disjoint
/// `&mut` borrow per DataGear; the gear receives only the ones it declared. Most contexts are
/// written with [`context!`](crate::context); a kernel whose DataGears live in several objects
/// implements this trait by hand.
pub trait Context: DataGear {
    /// What an operation leaves the kernel with when it finishes ([`Next::Exit`](crate::Next::Exit)).
    type Output: fmt::Debug;
    /// What an operation leaves the kernel with when it fails ([`Next::Fail`](crate::Next::Fail)).
    type Error: fmt::Debug;
    /// One `&mut` borrow per DataGear, as a struct with a field per DataGear name.
    type DataGears<'a>;

    /// Splits the context into its DataGears; stubs call this, normal-level code never does.
    fn data_gears(&mut self) -> Self::DataGears<'_>;

    /// The meta-level state: which process this is and its saved continuation.
    fn meta(&self) -> &ContextMeta<Self>;

    /// The meta-level state, to change: the dispatcher keeps the continuation here under `Resume`.
    fn meta_mut(&mut self) -> &mut ContextMeta<Self>;

    /// A DataGear by name, for inspection by metagears and tests (`None` if there is no such one).
    fn data_gear(&self, name: &str) -> Option<&dyn fmt::Debug>;

    /// The process this context belongs to.
    fn process(&self) -> ProcessId {
        self.meta().process
    }
}

/// The meta-level part of a context: the process it belongs to and its saved continuation.
pub struct ContextMeta<C: Context> {
    /// The process this context belongs to.
    pub process: ProcessId,
    /// The gear to resume at, kept when an operation is preempted under the `Resume` mode.
    pub continuation: Option<&'static Gear<C>>,
}

impl<C: Context> ContextMeta<C> {
    /// The meta state of a fresh context of `process`, with no saved continuation.
    pub const fn new(process: ProcessId) -> Self {
        ContextMeta { process, continuation: None }
    }
}

impl<C: Context> Clone for ContextMeta<C> {
    fn clone(&self) -> Self {
        ContextMeta { process: self.process, continuation: self.continuation }
    }
}

impl<C: Context> PartialEq for ContextMeta<C> {
    fn eq(&self, other: &Self) -> bool {
        self.process == other.process && self.continuation == other.continuation
    }
}

impl<C: Context> Eq for ContextMeta<C> {}

impl<C: Context> Hash for ContextMeta<C> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.process.hash(state);
        self.continuation.map(|g| g.id()).hash(state);
    }
}

impl<C: Context> fmt::Debug for ContextMeta<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextMeta")
            .field("process", &self.process)
            .field("continuation", &self.continuation.map(|g| g.name()))
            .finish()
    }
}
