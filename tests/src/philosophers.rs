//! The dining philosophers built from seL4 threads and IPC, as a system the model checker
//! explores (`metagears::mc` over [`IpcSystem`]): every step is one thread's system call, run on
//! the real codegears syscall gears.
//!
//! There are `n` philosophers and `n` forks; fork `i` lies between philosopher `i` (it is their
//! left fork) and philosopher `i + 1 mod n` (their right fork). A fork is a server thread with two
//! endpoints, `acquire` and `release`:
//!
//! - a philosopher takes a fork with `Call(acquire)`: the call waits until the fork's server
//!   receives it, and returns when the server replies, which it does once the fork is free;
//! - a philosopher puts a fork down with `Call(release)`;
//! - the fork's server grants the fork to one caller at a time: `Recv(acquire)`, then
//!   `ReplyRecv(release)` (the grant, then waiting for the fork back), then `ReplyRecv(acquire)`
//!   (acknowledging the release, then waiting for the next taker), and so on; each fork is taken
//!   exactly twice (each of its two philosophers eats once), and its last step is `Reply`.
//!
//! In the [`Variant::LeftFirst`] version every philosopher takes their left fork, then their right:
//! when each holds their left fork, each calls on a fork its neighbour holds, and no thread can go
//! on (every fork server waits on its release endpoint). In [`Variant::LastRightFirst`] the last
//! philosopher takes their right fork first, which breaks the cycle.

use alloc::vec;
use alloc::vec::Vec;

use codegears::ObjPtr;

use crate::sel4::Sel4;
use crate::sel4::machine::Op;
use crate::sel4::mc::IpcSystem;

/// Which order the philosophers take their forks in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Variant {
    /// Everyone takes left, then right: deadlocks.
    LeftFirst,
    /// Everyone takes left then right, except the last philosopher, who takes right then left.
    LastRightFirst,
}

/// A philosopher's script, in fork numbers: the two forks to take, in order (each is released in
/// the order it was taken).
pub fn philosopher_forks(n: usize, i: usize, variant: Variant) -> [usize; 2] {
    let (left, right) = (i, (i + 1) % n);
    match variant {
        Variant::LastRightFirst if i == n - 1 => [right, left],
        _ => [left, right],
    }
}

/// The dining philosophers, built on a booted kernel.
pub struct Philosophers {
    /// The system the checker explores: philosophers are threads `0..n`, fork servers `n..2n`.
    pub system: IpcSystem,
    /// Each fork's `(acquire, release)` endpoint caps.
    pub forks: Vec<(u64, u64)>,
    /// Each fork's `(acquire, release)` endpoint objects.
    pub fork_eps: Vec<(ObjPtr, ObjPtr)>,
    /// The philosophers' threads.
    pub philosophers: Vec<ObjPtr>,
    /// The fork servers' threads.
    pub servers: Vec<ObjPtr>,
}

/// `n` philosophers (at least 2) and `n` fork servers on a fresh kernel, all of one priority.
pub fn philosophers(n: usize, variant: Variant) -> Philosophers {
    assert!(n >= 2, "two philosophers at least");
    let mut s = Sel4::boot(8, &[20, 22]);
    let threads: Vec<ObjPtr> = (0..2 * n).map(|_| s.spawn(100).1).collect();
    let forks: Vec<(u64, u64)> = (0..n).map(|_| (s.alloc_endpoint(), s.alloc_endpoint())).collect();
    let fork_eps = forks.iter().map(|&(a, r)| (s.obj_ptr(a), s.obj_ptr(r))).collect();
    let mut scripts = Vec::new();
    for i in 0..n {
        let [a, b] = philosopher_forks(n, i, variant);
        scripts.push(vec![
            Op::Call(forks[a].0, vec![]),
            Op::Call(forks[b].0, vec![]),
            Op::Call(forks[a].1, vec![]),
            Op::Call(forks[b].1, vec![]),
        ]);
    }
    for &(acquire, release) in &forks {
        scripts.push(server_script(acquire, release));
    }
    Philosophers {
        system: IpcSystem { kernel: s.k.clone(), threads: threads.clone(), scripts },
        forks,
        fork_eps,
        philosophers: threads[..n].to_vec(),
        servers: threads[n..].to_vec(),
    }
}

/// A fork server's script: grant the fork twice, taking it back after each grant.
pub fn server_script(acquire: u64, release: u64) -> Vec<Op> {
    vec![
        Op::Recv(acquire),
        Op::ReplyRecv(release, vec![]),
        Op::ReplyRecv(acquire, vec![]),
        Op::ReplyRecv(release, vec![]),
        Op::Reply(vec![]),
    ]
}
