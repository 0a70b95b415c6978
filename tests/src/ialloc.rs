//! xv6's `ialloc` rewritten as CodeGears, after the seed article on xv6 in CbC.
//!
//! xv6's loop `for (inum = 1; inum < sb.ninodes; inum++) if (dip->type == 0) { … return iget(…); }`
//! becomes basic-block gears: `ialloc` (entry) → `allocinode_loopcheck` (the loop test) →
//! `allocinode_loop` (the body) → back across a preemption point, or `allocinode_loopexit` when a
//! free inode is found; `allocinode_panic` when none is (xv6 panics "ialloc: no inodes").
//!
//! One change from xv6 makes the loop restartable in seL4's sense: the scan keeps its progress in a
//! kernel object, the superblock's `ihint` (every inode below it is in use), so an operation
//! abandoned at a preemption point and re-run from `ialloc` continues where it stopped. The gear
//! `ifree` ([`IFREE`]) frees the inode its request names and lowers the hint again. [`check_invariants`] states what must hold at every preemption point.
//!
//! The context has the shape the kernel uses: a kernel part shared by all processes (the file
//! system) and a part per process (its request, its scan cursor, its saved continuation).

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use gears::{Context, ContextMeta, Next, ProcessId};

/// An inode number (1-based, as in xv6; 0 is never a valid inode).
pub type Inum = u32;

/// The superblock: how many inodes there are, and below which all are in use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Superblock {
    /// Number of inodes (valid numbers are 1..ninodes).
    pub ninodes: Inum,
    /// Every inode in 1..ihint is in use: the scan for a free one may start here.
    pub ihint: Inum,
}

/// An on-disk inode; `ty == 0` means free, as in xv6.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct DiskInode {
    /// The file type (0: free).
    pub ty: u16,
    /// Link count.
    pub nlink: u16,
    /// File size in bytes.
    pub size: u32,
}

/// The arguments of one `ialloc(dev, type)` call.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct IallocArgs {
    /// The device.
    pub dev: u32,
    /// The type to give the new inode (non-zero).
    pub ty: u16,
}

/// The argument of one `ifree(inum)` call: the inode to free (0: none).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct IfreeArgs {
    /// The inode to free.
    pub inum: Inum,
}

/// Why an `ialloc` failed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum FsError {
    /// xv6's `panic("ialloc: no inodes")`.
    NoInodes,
}

/// One process's part of the context.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Proc {
    /// The meta state: process id and saved continuation.
    pub meta: ContextMeta<Xv6>,
    /// The request this process made.
    pub args: IallocArgs,
    /// The scan cursor of its `ialloc`.
    pub inum: Inum,
    /// Its `ifree` request.
    pub ifree_args: IfreeArgs,
}

/// The whole context: the kernel's file system, every process's part, and which one runs.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Xv6 {
    /// The superblock (kernel context).
    pub sb: Superblock,
    /// The inode table, index = inode number (kernel context).
    pub inodes: Vec<DiskInode>,
    /// The processes.
    pub procs: Vec<Proc>,
    /// Index in `procs` of the process whose gears run.
    pub current: usize,
}

/// One `&mut` borrow per DataGear of [`Xv6`]: the file system's and the current process's.
#[allow(missing_docs)]
pub struct Xv6DataGears<'a> {
    pub sb: &'a mut Superblock,
    pub inodes: &'a mut Vec<DiskInode>,
    pub args: &'a mut IallocArgs,
    pub inum: &'a mut Inum,
    pub ifree_args: &'a mut IfreeArgs,
}

impl Xv6 {
    /// A file system of `ninodes` free inodes and `procs` processes with no request yet.
    pub fn new(ninodes: Inum, procs: u32) -> Self {
        Xv6 {
            sb: Superblock { ninodes, ihint: 1 },
            inodes: vec![DiskInode::default(); ninodes as usize],
            procs: (0..procs)
                .map(|p| Proc {
                    meta: ContextMeta::new(ProcessId(p)),
                    args: IallocArgs::default(),
                    inum: 0,
                    ifree_args: IfreeArgs::default(),
                })
                .collect(),
            current: 0,
        }
    }

    /// Marks the inodes `used` as in use (type 1), as if allocated before the hint was kept: the
    /// hint stays at 1, so the first scan walks over them.
    pub fn with_used(mut self, used: impl IntoIterator<Item = Inum>) -> Self {
        for i in used {
            if let Some(d) = self.inodes.get_mut(i as usize) {
                d.ty = 1;
            }
        }
        self
    }

    /// Makes process `p` current and gives it the request `ialloc(dev, ty)`.
    pub fn request(&mut self, p: usize, dev: u32, ty: u16) {
        self.current = p;
        self.procs[p].args = IallocArgs { dev, ty };
    }

    /// The free inodes, in order.
    pub fn free_inodes(&self) -> Vec<Inum> {
        (1..self.sb.ninodes).filter(|&i| self.inodes[i as usize].ty == 0).collect()
    }
}

impl Context for Xv6 {
    type Output = Inum;
    type Error = FsError;
    type DataGears<'a> = Xv6DataGears<'a>;

    fn data_gears(&mut self) -> Xv6DataGears<'_> {
        let proc = &mut self.procs[self.current];
        Xv6DataGears {
            sb: &mut self.sb,
            inodes: &mut self.inodes,
            args: &mut proc.args,
            inum: &mut proc.inum,
            ifree_args: &mut proc.ifree_args,
        }
    }

    fn meta(&self) -> &ContextMeta<Self> {
        &self.procs[self.current].meta
    }

    fn meta_mut(&mut self) -> &mut ContextMeta<Self> {
        &mut self.procs[self.current].meta
    }

    fn data_gear(&self, name: &str) -> Option<&dyn fmt::Debug> {
        let proc = &self.procs[self.current];
        match name {
            "sb" => Some(&self.sb),
            "inodes" => Some(&self.inodes),
            "args" => Some(&proc.args),
            "inum" => Some(&proc.inum),
            "ifree_args" => Some(&proc.ifree_args),
            _ => None,
        }
    }
}

gears::code_gear! {
    /// `ialloc(dev, type)`: start the scan where the superblock says the free inodes begin.
    pub fn ialloc(ctx: Xv6; sb: &Superblock, inum: &mut Inum) {
        *inum = sb.ihint.max(1);
        Next::Goto(&ALLOCINODE_LOOPCHECK)
    }
}

gears::code_gear! {
    /// The loop test `inum < sb.ninodes`: go round again, or panic when no inode is free.
    pub fn allocinode_loopcheck(ctx: Xv6; sb: &Superblock, inum: &Inum) {
        if *inum < sb.ninodes { Next::Goto(&ALLOCINODE_LOOP) } else { Next::Goto(&ALLOCINODE_PANIC) }
    }
}

gears::code_gear! {
    /// The loop body: a free inode ends the loop; otherwise step past it, record the progress in
    /// the superblock, and go back to the test across a preemption point.
    pub fn allocinode_loop(ctx: Xv6; sb: &mut Superblock, inodes: &[DiskInode], inum: &mut Inum) {
        let free = inodes.get(*inum as usize).is_some_and(|d| d.ty == 0);
        if free {
            return Next::Goto(&ALLOCINODE_LOOPEXIT);
        }
        // Advance the hint only if this scan is at it: a cursor kept across a preemption (Resume)
        // may be past an inode another process freed in between, and must not skip it.
        if sb.ihint == *inum {
            sb.ihint += 1;
        }
        *inum += 1;
        Next::Preempt(&ALLOCINODE_LOOPCHECK)
    }
}

gears::code_gear! {
    /// The loop exit: clear the inode, give it its type, and return its number (xv6's `iget`).
    pub fn allocinode_loopexit(ctx: Xv6; sb: &mut Superblock, inodes: &mut [DiskInode], args: &IallocArgs, inum: &Inum) {
        let Some(dinode) = inodes.get_mut(*inum as usize) else {
            return Next::Goto(&ALLOCINODE_PANIC);
        };
        *dinode = DiskInode { ty: args.ty, ..DiskInode::default() };
        if sb.ihint == *inum {
            sb.ihint += 1;
        }
        Next::Exit(*inum)
    }
}

gears::code_gear! {
    /// xv6's `panic("ialloc: no inodes")`, as an error that leaves the kernel.
    pub fn allocinode_panic(ctx: Xv6; inum: &Inum) {
        let _ = inum;
        Next::Fail(FsError::NoInodes)
    }
}

/// The gear `ifree`, in a module of its own so that its normal-level function does not take the
/// name of the scenario helper [`ifree`].
mod ifree_gear {
    use super::{DiskInode, IfreeArgs, Superblock, Xv6};
    use gears::Next;

    gears::code_gear! {
        /// xv6's `ifree` (`itrunc` + `iupdate` with type 0) as one gear: free the inode the request
        /// names and lower the hint to it; exit with its number, or 0 if it names no inode.
        pub fn ifree(ctx: Xv6; sb: &mut Superblock, inodes: &mut [DiskInode], ifree_args: &IfreeArgs) {
            let inum = ifree_args.inum;
            match inodes.get_mut(inum as usize) {
                Some(dinode) if inum != 0 => {
                    *dinode = DiskInode::default();
                    sb.ihint = sb.ihint.min(inum);
                    Next::Exit(inum)
                }
                _ => Next::Exit(0),
            }
        }
    }
}

pub use ifree_gear::IFREE;

/// Frees inode `inum` outside any dispatcher, to arrange scenarios: runs the normal-level function
/// of the gear [`IFREE`] on the file system, leaving every process's part of the context alone.
pub fn ifree(fs: &mut Xv6, inum: Inum) {
    let _ = ifree_gear::ifree(&mut fs.sb, &mut fs.inodes, &IfreeArgs { inum });
}

/// What must hold at every preemption point: the hint is in range and every inode below it is in
/// use; every process's cursor is in range.
pub fn check_invariants(fs: &Xv6) -> Result<(), String> {
    let sb = fs.sb;
    if sb.ihint == 0 || sb.ihint > sb.ninodes {
        return Err(format!("ihint {} outside 1..={}", sb.ihint, sb.ninodes));
    }
    if fs.inodes.len() != sb.ninodes as usize {
        return Err(format!("{} inodes but ninodes = {}", fs.inodes.len(), sb.ninodes));
    }
    if let Some(free) = (1..sb.ihint).find(|&i| fs.inodes[i as usize].ty == 0) {
        return Err(format!("inode {free} is free but below ihint {}", sb.ihint));
    }
    if let Some(p) = fs.procs.iter().find(|p| p.inum > sb.ninodes) {
        return Err(format!("{} has cursor {} past ninodes {}", p.meta.process, p.inum, sb.ninodes));
    }
    Ok(())
}
