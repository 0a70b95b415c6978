//! xv6's inode allocator as a system for the model checker, and a small lock table whose processes
//! block.
//!
//! [`Xv6System`]: two or three processes share one small inode table; each runs a short script of
//! operations, `ialloc(type)` (the gears of [`crate::ialloc`]) and `ifree` of the inode it
//! allocated last (the gear [`IFREE`]). A process's position within an operation is its saved
//! continuation (the checker preempts under [`Mode::Resume`](gears::Mode::Resume)); its position
//! in its script and the inodes it holds are kept beside the kernel context. [`Variant::NaiveHint`]
//! swaps in a copy of the allocator's loop that advances the superblock's hint the naive way,
//! which an `ifree` in between breaks.
//!
//! [`LockSystem`]: processes acquire and release locks; `acquire` of a lock another process holds
//! marks the process waiting and goes back to itself across a preemption point. Two processes
//! taking two locks in opposite orders deadlock.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use gears::{Context, ContextMeta, Gear, Next, ProcessId};
use metagears::mc::{GearSystem, Status};

use crate::ialloc::{
    ALLOCINODE_LOOPEXIT, ALLOCINODE_PANIC, DiskInode, FsError, IALLOC, IFREE, IallocArgs, IfreeArgs, Inum,
    Superblock, Xv6, check_invariants,
};

/// One operation of a process's script.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    /// `ialloc(1, type)`: the process then holds the inode it got.
    Ialloc(u16),
    /// `ifree` of the inode the process allocated last (nothing if it holds none).
    Ifree,
}

/// Which allocator loop the system runs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Variant {
    /// The allocator of [`crate::ialloc`].
    Correct,
    /// Its loop with the hint advanced the naive way ([`allocinode_loop_naive`]).
    NaiveHint,
}

/// Processes running scripts of `ialloc`/`ifree` on one inode table.
#[derive(Clone, Debug)]
pub struct Xv6System {
    /// Number of inodes (valid numbers are 1..ninodes).
    pub ninodes: Inum,
    /// Inodes in use from the start (below the hint's knowledge: the hint starts at 1).
    pub used: Vec<Inum>,
    /// One script per process.
    pub scripts: Vec<Vec<Op>>,
    /// Which allocator loop runs.
    pub variant: Variant,
}

/// A state of an [`Xv6System`]: the kernel context, and each process's script position and
/// the inodes it holds.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Xv6State {
    /// The file system and every process's part of the context (its continuation included).
    pub fs: Xv6,
    /// Per process: the index of its next operation in its script.
    pub pc: Vec<u8>,
    /// Per process: the inodes it allocated and has not freed, oldest first.
    pub held: Vec<Vec<Inum>>,
}

gears::code_gear! {
    /// The entry of the naive allocator: as [`crate::ialloc::ialloc`], into the naive loop.
    pub fn ialloc_naive(ctx: Xv6; sb: &Superblock, inum: &mut Inum) {
        *inum = sb.ihint.max(1);
        Next::Goto(&ALLOCINODE_LOOPCHECK_NAIVE)
    }
}

gears::code_gear! {
    /// The loop test of the naive allocator.
    pub fn allocinode_loopcheck_naive(ctx: Xv6; sb: &Superblock, inum: &Inum) {
        if *inum < sb.ninodes { Next::Goto(&ALLOCINODE_LOOP_NAIVE) } else { Next::Goto(&ALLOCINODE_PANIC) }
    }
}

gears::code_gear! {
    /// BROKEN on purpose: the loop body advancing the hint to the cursor without checking that the
    /// scan is at the hint. A cursor kept across a preemption may be past an inode freed since,
    /// and the hint then jumps over a free inode.
    pub fn allocinode_loop_naive(ctx: Xv6; sb: &mut Superblock, inodes: &[DiskInode], inum: &mut Inum) {
        let free = inodes.get(*inum as usize).is_some_and(|d| d.ty == 0);
        if free {
            return Next::Goto(&ALLOCINODE_LOOPEXIT);
        }
        *inum += 1;
        sb.ihint = sb.ihint.max(*inum);
        Next::Preempt(&ALLOCINODE_LOOPCHECK_NAIVE)
    }
}

impl Xv6System {
    /// `scripts.len()` processes on `ninodes` inodes, `used` in use from the start.
    pub fn new(ninodes: Inum, used: &[Inum], scripts: Vec<Vec<Op>>, variant: Variant) -> Self {
        Xv6System { ninodes, used: used.to_vec(), scripts, variant }
    }

    fn op(&self, s: &Xv6State, p: ProcessId) -> Option<Op> {
        let i = p.0 as usize;
        self.scripts.get(i)?.get(*s.pc.get(i)? as usize).copied()
    }
}

impl GearSystem for Xv6System {
    type Ctx = Xv6;
    type State = Xv6State;
    type Event = ();

    fn initial(&self) -> Vec<Xv6State> {
        let n = self.scripts.len();
        let fs = Xv6::new(self.ninodes, n as u32).with_used(self.used.iter().copied());
        Vec::from([Xv6State { fs, pc: alloc::vec![0; n], held: alloc::vec![Vec::new(); n] }])
    }

    fn processes(&self, _s: &Xv6State) -> Vec<ProcessId> {
        (0..self.scripts.len() as u32).map(ProcessId).collect()
    }

    fn status(&self, s: &Xv6State, p: ProcessId) -> Status {
        if self.op(s, p).is_some() { Status::Runnable } else { Status::Done }
    }

    fn context<'a>(&self, s: &'a mut Xv6State, p: ProcessId) -> &'a mut Xv6 {
        s.fs.current = p.0 as usize;
        &mut s.fs
    }

    fn begin(&self, s: &mut Xv6State, p: ProcessId) -> &'static Gear<Xv6> {
        let i = p.0 as usize;
        match self.op(s, p) {
            Some(Op::Ialloc(ty)) => {
                s.fs.procs[i].args = IallocArgs { dev: 1, ty };
                match self.variant {
                    Variant::Correct => &IALLOC,
                    Variant::NaiveHint => &IALLOC_NAIVE,
                }
            }
            Some(Op::Ifree) | None => {
                s.fs.procs[i].ifree_args = IfreeArgs { inum: s.held[i].last().copied().unwrap_or(0) };
                &IFREE
            }
        }
    }

    fn finish(&self, s: &mut Xv6State, p: ProcessId, result: Result<Inum, FsError>) {
        let i = p.0 as usize;
        match (self.op(s, p), result) {
            (Some(Op::Ialloc(_)), Ok(inum)) => s.held[i].push(inum),
            (Some(Op::Ifree), Ok(inum)) => s.held[i].retain(|&h| h != inum),
            _ => {}
        }
        s.pc[i] += 1;
        // The operation's registers are dead once it has returned.
        s.fs.procs[i].args = IallocArgs::default();
        s.fs.procs[i].inum = 0;
        s.fs.procs[i].ifree_args = IfreeArgs::default();
    }

    fn normalize(&self, s: &mut Xv6State) {
        s.fs.current = 0;
    }

    fn describe(&self, s: &Xv6State) -> String {
        describe_xv6(s)
    }
}

/// A state in one line: the hint, the inode types, then each process's script position, cursor,
/// continuation and held inodes.
pub fn describe_xv6(s: &Xv6State) -> String {
    let mut out = format!("ihint {} inodes [", s.fs.sb.ihint);
    for (i, d) in s.fs.inodes.iter().enumerate().skip(1) {
        let sep = if i == 1 { "" } else { " " };
        let _ = write!(out, "{sep}{i}:{}", d.ty);
    }
    out.push(']');
    for (i, p) in s.fs.procs.iter().enumerate() {
        let at = p.meta.continuation.map_or("-", |g| g.name());
        let _ =
            write!(out, " | {} op {} inum {} at {at} holds {:?}", p.meta.process, s.pc[i], p.inum, s.held[i]);
    }
    out
}

/// The ialloc invariant of [`crate::ialloc::check_invariants`], on a system state.
pub fn fs_invariant(s: &Xv6State) -> Result<(), String> {
    check_invariants(&s.fs)
}

/// No two processes ever hold the same inode, and every inode held is in use.
pub fn no_shared_inodes(s: &Xv6State) -> Result<(), String> {
    for (i, held) in s.held.iter().enumerate() {
        for &inum in held {
            if s.fs.inodes.get(inum as usize).is_none_or(|d| d.ty == 0) {
                return Err(format!("p{i} holds inode {inum}, which is free"));
            }
            if let Some(j) = (0..i).find(|&j| s.held[j].contains(&inum)) {
                return Err(format!("p{j} and p{i} both hold inode {inum}"));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Locks whose processes block.

/// A lock's number.
pub type LockId = u8;

/// Why a lock operation failed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LockError {
    /// Release of a lock the process does not hold.
    NotHeld,
}

/// One process's part of a [`LockTable`].
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct LockProc {
    /// The meta state: process id and saved continuation.
    pub meta: ContextMeta<LockTable>,
    /// The process itself, as a DataGear (the owner it records in a lock).
    pub me: ProcessId,
    /// The lock its operation is about.
    pub want: LockId,
    /// Whether it is waiting for `want`.
    pub waiting: bool,
}

/// The kernel's locks and the processes' parts.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct LockTable {
    /// Per lock: the process holding it.
    pub owner: Vec<Option<ProcessId>>,
    /// The processes.
    pub procs: Vec<LockProc>,
    /// Index in `procs` of the process whose gears run.
    pub current: usize,
}

/// One `&mut` borrow per DataGear of [`LockTable`].
#[allow(missing_docs)]
pub struct LockTableDataGears<'a> {
    pub owner: &'a mut Vec<Option<ProcessId>>,
    pub me: &'a mut ProcessId,
    pub want: &'a mut LockId,
    pub waiting: &'a mut bool,
}

impl Context for LockTable {
    type Output = LockId;
    type Error = LockError;
    type DataGears<'a> = LockTableDataGears<'a>;

    fn data_gears(&mut self) -> LockTableDataGears<'_> {
        let p = &mut self.procs[self.current];
        LockTableDataGears {
            owner: &mut self.owner,
            me: &mut p.me,
            want: &mut p.want,
            waiting: &mut p.waiting,
        }
    }

    fn meta(&self) -> &ContextMeta<Self> {
        &self.procs[self.current].meta
    }

    fn meta_mut(&mut self) -> &mut ContextMeta<Self> {
        &mut self.procs[self.current].meta
    }

    fn data_gear(&self, name: &str) -> Option<&dyn fmt::Debug> {
        let p = &self.procs[self.current];
        match name {
            "owner" => Some(&self.owner),
            "me" => Some(&p.me),
            "want" => Some(&p.want),
            "waiting" => Some(&p.waiting),
            _ => None,
        }
    }
}

gears::code_gear! {
    /// Take the lock if it is free; else wait for it: go back to this gear across a preemption
    /// point (the dispatcher may run someone else there).
    pub fn acquire(
        ctx: LockTable;
        owner: &mut [Option<ProcessId>],
        me: &ProcessId,
        want: &LockId,
        waiting: &mut bool
    ) {
        match &mut owner[*want as usize] {
            slot @ None => {
                *slot = Some(*me);
                *waiting = false;
                Next::Exit(*want)
            }
            Some(_) => {
                *waiting = true;
                Next::Preempt(&ACQUIRE)
            }
        }
    }
}

gears::code_gear! {
    /// Give the lock back; only its holder may.
    pub fn release(ctx: LockTable; owner: &mut [Option<ProcessId>], me: &ProcessId, want: &LockId) {
        let slot = &mut owner[*want as usize];
        if *slot != Some(*me) {
            return Next::Fail(LockError::NotHeld);
        }
        *slot = None;
        Next::Exit(*want)
    }
}

/// One operation of a lock script.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LockOp {
    /// Acquire the lock (waiting while another process holds it).
    Acquire(LockId),
    /// Release it.
    Release(LockId),
}

/// Processes running scripts of lock operations.
#[derive(Clone, Debug)]
pub struct LockSystem {
    /// How many locks.
    pub locks: usize,
    /// One script per process.
    pub scripts: Vec<Vec<LockOp>>,
    /// Whether the system says a waiting process is [`Status::Blocked`] (as a kernel that takes it
    /// off the run queue does), or leaves it runnable, spinning, for the checker to find that its
    /// steps change nothing.
    pub explicit_blocking: bool,
}

/// A state of a [`LockSystem`]: the lock table and each process's script position.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct LockState {
    /// The locks and every process's part of the context.
    pub table: LockTable,
    /// Per process: the index of its next operation.
    pub pc: Vec<u8>,
}

impl LockSystem {
    /// Each process takes its two locks in order and releases them in reverse order.
    pub fn two_locks(orders: &[[LockId; 2]]) -> Self {
        let scripts = orders
            .iter()
            .map(|&[a, b]| {
                Vec::from([LockOp::Acquire(a), LockOp::Acquire(b), LockOp::Release(b), LockOp::Release(a)])
            })
            .collect();
        LockSystem { locks: 2, scripts, explicit_blocking: true }
    }

    fn op(&self, s: &LockState, p: ProcessId) -> Option<LockOp> {
        let i = p.0 as usize;
        self.scripts.get(i)?.get(*s.pc.get(i)? as usize).copied()
    }
}

impl GearSystem for LockSystem {
    type Ctx = LockTable;
    type State = LockState;
    type Event = ();

    fn initial(&self) -> Vec<LockState> {
        let n = self.scripts.len();
        let procs = (0..n as u32)
            .map(|p| LockProc {
                meta: ContextMeta::new(ProcessId(p)),
                me: ProcessId(p),
                want: 0,
                waiting: false,
            })
            .collect();
        let table = LockTable { owner: alloc::vec![None; self.locks], procs, current: 0 };
        Vec::from([LockState { table, pc: alloc::vec![0; n] }])
    }

    fn processes(&self, _s: &LockState) -> Vec<ProcessId> {
        (0..self.scripts.len() as u32).map(ProcessId).collect()
    }

    fn status(&self, s: &LockState, p: ProcessId) -> Status {
        if self.op(s, p).is_none() {
            return Status::Done;
        }
        let me = &s.table.procs[p.0 as usize];
        let held_by_other = s.table.owner[me.want as usize].is_some_and(|o| o != p);
        if self.explicit_blocking && me.waiting && held_by_other { Status::Blocked } else { Status::Runnable }
    }

    fn context<'a>(&self, s: &'a mut LockState, p: ProcessId) -> &'a mut LockTable {
        s.table.current = p.0 as usize;
        &mut s.table
    }

    fn begin(&self, s: &mut LockState, p: ProcessId) -> &'static Gear<LockTable> {
        let (want, entry) = match self.op(s, p) {
            Some(LockOp::Acquire(l)) => (l, &ACQUIRE),
            Some(LockOp::Release(l)) => (l, &RELEASE),
            None => (0, &RELEASE),
        };
        s.table.procs[p.0 as usize].want = want;
        entry
    }

    fn finish(&self, s: &mut LockState, p: ProcessId, _result: Result<LockId, LockError>) {
        let i = p.0 as usize;
        s.pc[i] += 1;
        s.table.procs[i].want = 0;
    }

    fn normalize(&self, s: &mut LockState) {
        s.table.current = 0;
    }

    fn describe(&self, s: &LockState) -> String {
        let mut out = String::from("owners [");
        for (l, o) in s.table.owner.iter().enumerate() {
            let sep = if l == 0 { "" } else { " " };
            match o {
                Some(p) => write!(out, "{sep}{l}:{p}"),
                None => write!(out, "{sep}{l}:-"),
            }
            .ok();
        }
        out.push(']');
        for (i, p) in s.table.procs.iter().enumerate() {
            let at = p.meta.continuation.map_or("-", |g| g.name());
            let w = if p.waiting { " waiting" } else { "" };
            let _ = write!(out, " | {} op {} at {at}{w}", p.me, s.pc[i]);
        }
        out
    }
}
