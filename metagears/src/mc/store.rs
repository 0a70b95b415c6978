//! The visited set: 64-bit fingerprints of states, or the states themselves.

use core::hash::{BuildHasherDefault, Hash, Hasher};
use std::collections::HashMap;
use std::hash::DefaultHasher;

/// A state's 64-bit fingerprint: SipHash-1-3 with fixed keys (std's `DefaultHasher::new()`), so
/// the same state has the same fingerprint in every thread and every run of one build.
pub fn fingerprint<S: Hash>(state: &S) -> u64 {
    let mut h = DefaultHasher::new();
    state.hash(&mut h);
    h.finish()
}

/// A hasher for keys that already are fingerprints: it passes the 64 bits through.
#[derive(Default)]
pub(crate) struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The states seen so far, each with a number (a node id, or a depth).
pub(crate) enum Seen<S> {
    /// Fingerprints only: 8 bytes a state, and a collision (two states, one fingerprint) would
    /// silently merge them.
    Fingerprints(HashMap<u64, u32, BuildHasherDefault<PassThrough>>),
    /// Whole states: exact, at the cost of keeping a copy of each.
    Exact(HashMap<S, u32>),
}

impl<S: Clone + Eq + Hash> Seen<S> {
    pub(crate) fn new(exact: bool) -> Self {
        if exact { Seen::Exact(HashMap::new()) } else { Seen::Fingerprints(HashMap::default()) }
    }

    pub(crate) fn get(&self, state: &S, fp: u64) -> Option<u32> {
        match self {
            Seen::Fingerprints(m) => m.get(&fp).copied(),
            Seen::Exact(m) => m.get(state).copied(),
        }
    }

    /// Records `state` with `value` if it is new (true), or leaves the set as it was (false).
    pub(crate) fn insert_new(&mut self, state: &S, fp: u64, value: u32) -> bool {
        match self {
            Seen::Fingerprints(m) => match m.entry(fp) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(value);
                    true
                }
            },
            Seen::Exact(m) => {
                if m.contains_key(state) {
                    false
                } else {
                    m.insert(state.clone(), value);
                    true
                }
            }
        }
    }

    /// Sets the value of a state already seen, or records it.
    pub(crate) fn set(&mut self, state: &S, fp: u64, value: u32) {
        match self {
            Seen::Fingerprints(m) => {
                m.insert(fp, value);
            }
            Seen::Exact(m) => {
                m.insert(state.clone(), value);
            }
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Seen::Fingerprints(m) => m.len(),
            Seen::Exact(m) => m.len(),
        }
    }
}
