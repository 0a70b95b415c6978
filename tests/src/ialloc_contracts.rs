//! Contracts (Hoare triples) for the `ialloc` gears of [`crate::ialloc`], at the meta level.
//!
//! The gears do not know about these: each contract names its gear by its descriptor, and the
//! [`Contracts`] metagear checks it around every run of that gear. Together they state what the
//! allocator does, block by block:
//!
//! | gear | requires | ensures |
//! |---|---|---|
//! | `ialloc` | a non-zero type is requested; the hint is in range | the scan starts at the hint; to the loop test |
//! | `allocinode_loopcheck` | the cursor is in `1..=ninodes` | to the body iff `inum < ninodes`, else to panic; nothing changed |
//! | `allocinode_loop` | the cursor names an inode | a free inode goes to the exit, unchanged; a used one takes the back edge across a preemption point, the variant `ninodes - inum` drops by one, the hint passes only used inodes |
//! | `allocinode_loopexit` | the cursor names a free inode | exits with it; it was free and now has the requested type, cleared; the hint moves past it only if it was at it |
//! | `allocinode_panic` | the scan ran off the end, and no inode at or above the hint is free | fails with `NoInodes` |
//! | `ifree` | the request names an inode or none | exits with it; it is free and the hint is at or below it |

use alloc::format;
use alloc::string::String;

use gears::Next;
use metagears::{Contract, Contracts};

use crate::ialloc::{
    ALLOCINODE_LOOP, ALLOCINODE_LOOPCHECK, ALLOCINODE_LOOPEXIT, ALLOCINODE_PANIC, DiskInode, FsError, IALLOC,
    IFREE, Inum, Proc, Superblock, Xv6,
};

/// The current process's part of the context.
fn me(fs: &Xv6) -> &Proc {
    &fs.procs[fs.current]
}

/// Whether inode `inum` is in the table and free.
fn is_free(fs: &Xv6, inum: Inum) -> bool {
    fs.inodes.get(inum as usize).is_some_and(|d| d.ty == 0)
}

/// `Ok` if the cursor is in `lo..hi`, else why not.
fn cursor_in(fs: &Xv6, lo: Inum, hi: Inum) -> Result<(), String> {
    let inum = me(fs).inum;
    if (lo..hi).contains(&inum) { Ok(()) } else { Err(format!("inum = {inum}, not in {lo}..{hi}")) }
}

/// The contract of `ialloc`: the scan starts where the superblock says the free inodes begin.
pub fn ialloc() -> Contract<Xv6, Superblock> {
    Contract::new("ialloc starts the scan at the hint", &IALLOC)
        .requires("a non-zero type is requested", |fs: &Xv6| me(fs).args.ty != 0)
        .requires("the hint is in 1..=ninodes", |fs: &Xv6| {
            let sb = fs.sb;
            if (1..=sb.ninodes).contains(&sb.ihint) { Ok(()) } else { Err(format!("{sb:?}")) }
        })
        .old(|fs: &Xv6| fs.sb)
        .ensures("the cursor starts at the hint", |old: &Superblock, fs: &Xv6, _: &Next<Xv6>| {
            let inum = me(fs).inum;
            if inum == old.ihint.max(1) {
                Ok(())
            } else {
                Err(format!("inum = {inum}, ihint = {}", old.ihint))
            }
        })
        .ensures("the superblock is unchanged", |old: &Superblock, fs: &Xv6, _: &Next<Xv6>| fs.sb == *old)
        .ensures("goes to the loop test", |_: &Superblock, _: &Xv6, next: &Next<Xv6>| {
            *next == Next::Goto(&ALLOCINODE_LOOPCHECK)
        })
}

/// The contract of the loop test: a pure branch on `inum < ninodes`.
pub fn allocinode_loopcheck() -> Contract<Xv6, (Superblock, Inum)> {
    Contract::new("the loop test branches on inum < ninodes", &ALLOCINODE_LOOPCHECK)
        .requires("the cursor is in 1..=ninodes", |fs: &Xv6| cursor_in(fs, 1, fs.sb.ninodes + 1))
        .old(|fs: &Xv6| (fs.sb, me(fs).inum))
        .ensures(
            "changes neither the superblock nor the cursor",
            |old: &(Superblock, Inum), fs: &Xv6, _: &Next<Xv6>| (fs.sb, me(fs).inum) == *old,
        )
        .ensures(
            "goes to the body if inum < ninodes, else to the panic",
            |&(sb, inum): &(Superblock, Inum), _: &Xv6, next: &Next<Xv6>| {
                let to = if inum < sb.ninodes { &ALLOCINODE_LOOP } else { &ALLOCINODE_PANIC };
                *next == Next::Goto(to)
            },
        )
}

/// What the loop body's postconditions relate to: the values before the body ran.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LoopOld {
    /// The cursor.
    pub inum: Inum,
    /// The loop variant `ninodes - inum`.
    pub variant: Inum,
    /// The hint.
    pub ihint: Inum,
    /// Whether the inode at the cursor was free.
    pub was_free: bool,
}

/// The contract of the loop body, with the loop's variant.
pub fn allocinode_loop() -> Contract<Xv6, LoopOld> {
    Contract::new("the loop body", &ALLOCINODE_LOOP)
        .requires("the cursor names an inode: 1 <= inum < ninodes", |fs: &Xv6| {
            cursor_in(fs, 1, fs.sb.ninodes)
        })
        .old(|fs: &Xv6| {
            let inum = me(fs).inum;
            LoopOld { inum, variant: fs.sb.ninodes - inum, ihint: fs.sb.ihint, was_free: is_free(fs, inum) }
        })
        .ensures(
            "a free inode goes to the exit, cursor and hint unchanged",
            |old: &LoopOld, fs: &Xv6, next: &Next<Xv6>| {
                !old.was_free
                    || (*next == Next::Goto(&ALLOCINODE_LOOPEXIT)
                        && me(fs).inum == old.inum
                        && fs.sb.ihint == old.ihint)
            },
        )
        .ensures(
            "a used inode takes the back edge across a preemption point",
            |old: &LoopOld, _: &Xv6, next: &Next<Xv6>| {
                old.was_free || *next == Next::Preempt(&ALLOCINODE_LOOPCHECK)
            },
        )
        .ensures(
            "the variant ninodes - inum drops by one on the back edge",
            |old: &LoopOld, fs: &Xv6, next: &Next<Xv6>| {
                if next.target() != Some(&ALLOCINODE_LOOPCHECK) {
                    return Ok(());
                }
                let variant = fs.sb.ninodes.wrapping_sub(me(fs).inum);
                if variant + 1 == old.variant {
                    Ok(())
                } else {
                    Err(format!("variant {} -> {variant}", old.variant))
                }
            },
        )
        .ensures(
            "the hint stays, or steps past the used inode it was at",
            |old: &LoopOld, fs: &Xv6, _: &Next<Xv6>| {
                let ihint = fs.sb.ihint;
                let stepped = ihint == old.ihint + 1 && !is_free(fs, old.ihint);
                if ihint == old.ihint || stepped {
                    Ok(())
                } else {
                    Err(format!("ihint {} -> {ihint}", old.ihint))
                }
            },
        )
}

/// What the loop exit's postconditions relate to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ExitOld {
    /// The cursor: the inode to allocate.
    pub inum: Inum,
    /// The hint.
    pub ihint: Inum,
    /// Whether that inode was free.
    pub was_free: bool,
    /// The requested type.
    pub ty: u16,
}

/// The contract of the loop exit: it allocates the inode the scan found.
pub fn allocinode_loopexit() -> Contract<Xv6, ExitOld> {
    Contract::new("the loop exit allocates the inode found", &ALLOCINODE_LOOPEXIT)
        .requires("the cursor names an inode: 1 <= inum < ninodes", |fs: &Xv6| {
            cursor_in(fs, 1, fs.sb.ninodes)
        })
        .requires("the inode it names is free", |fs: &Xv6| is_free(fs, me(fs).inum))
        .requires("a non-zero type is requested", |fs: &Xv6| me(fs).args.ty != 0)
        .old(|fs: &Xv6| {
            let p = me(fs);
            ExitOld { inum: p.inum, ihint: fs.sb.ihint, was_free: is_free(fs, p.inum), ty: p.args.ty }
        })
        .ensures("exits with the inode at the cursor", |old: &ExitOld, _: &Xv6, next: &Next<Xv6>| {
            *next == Next::Exit(old.inum)
        })
        .ensures(
            "the inode was free and now has the requested type, cleared",
            |old: &ExitOld, fs: &Xv6, _: &Next<Xv6>| {
                let now = fs.inodes.get(old.inum as usize).copied();
                if old.was_free && now == Some(DiskInode { ty: old.ty, nlink: 0, size: 0 }) {
                    Ok(())
                } else {
                    Err(format!("inode {} is {now:?}", old.inum))
                }
            },
        )
        .ensures(
            "the hint steps past the inode only if it was at it",
            |old: &ExitOld, fs: &Xv6, _: &Next<Xv6>| {
                let expected = if old.ihint == old.inum { old.ihint + 1 } else { old.ihint };
                fs.sb.ihint == expected
            },
        )
}

/// The contract of the panic: `ialloc` fails only when no inode is free.
pub fn allocinode_panic() -> Contract<Xv6> {
    Contract::new("ialloc fails only on a full table", &ALLOCINODE_PANIC)
        .requires("the scan ran off the end: inum >= ninodes", |fs: &Xv6| me(fs).inum >= fs.sb.ninodes)
        .requires("no inode at or above the hint is free", |fs: &Xv6| {
            match (fs.sb.ihint..fs.sb.ninodes).find(|&i| is_free(fs, i)) {
                None => Ok(()),
                Some(i) => Err(format!("inode {i} is free (ihint {})", fs.sb.ihint)),
            }
        })
        .ensures("fails with NoInodes", |_: &(), _: &Xv6, next: &Next<Xv6>| {
            *next == Next::Fail(FsError::NoInodes)
        })
}

/// The contract of `ifree`: the inode it names is free afterwards, and the hint knows it.
pub fn ifree() -> Contract<Xv6, Inum> {
    Contract::new("ifree frees the inode it names", &IFREE)
        .requires("the request names an inode or none: inum < ninodes", |fs: &Xv6| {
            me(fs).ifree_args.inum < fs.sb.ninodes
        })
        .old(|fs: &Xv6| me(fs).ifree_args.inum)
        .ensures("exits with the inode freed (0: none)", |&inum: &Inum, _: &Xv6, next: &Next<Xv6>| {
            *next == Next::Exit(inum)
        })
        .ensures("the inode is free and the hint at or below it", |&inum: &Inum, fs: &Xv6, _: &Next<Xv6>| {
            inum == 0 || (is_free(fs, inum) && fs.sb.ihint <= inum)
        })
}

/// The contracts of every gear of the allocator and of `ifree`, as one metagear.
pub fn contracts() -> Contracts<Xv6> {
    Contracts::new()
        .with(ialloc())
        .with(allocinode_loopcheck())
        .with(allocinode_loop())
        .with(allocinode_loopexit())
        .with(allocinode_panic())
        .with(ifree())
}
