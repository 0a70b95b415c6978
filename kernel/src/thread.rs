//! User threads: a program loaded into its own address space, run until the next kernel entry.

use alloc::vec::Vec;

use crate::arch::{self, AddressSpace, MapError, PAGE_SIZE, Trap, USER_BASE, UserContext};
use crate::memory::frames;

/// Where a thread's code is mapped.
pub const CODE_VA: u64 = USER_BASE;
/// The page below which a thread's stack grows (the stack is one page under it).
pub const STACK_TOP: u64 = USER_BASE + 0x10_0000;
/// The root task's IPC buffer (seL4's layout: tag, then message words 0–119, user data, caps).
pub const IPC_BUFFER_VA: u64 = USER_BASE + 0x20_0000;
/// The root task's result records (written by the script runner, read by the kernel's checks).
pub const RESULTS_VA: u64 = USER_BASE + 0x30_0000;
/// The root task's script (written by the kernel before the thread starts, read-only to it).
pub const SCRIPT_VA: u64 = USER_BASE + 0x40_0000;

/// Why a program could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The program does not fit in one page.
    TooBig,
    /// Out of physical frames.
    OutOfFrames,
    /// The page tables refused a mapping.
    Map(MapError),
    /// Not a statically linked ELF64 executable for this machine.
    BadElf,
}

/// Just enough of ELF64 to load a statically linked executable (no `unsafe`: byte parsing).
mod elf {
    /// The ELF header fields the loader needs.
    pub struct Header {
        pub entry: u64,
        phoff: u64,
        phentsize: u64,
        phnum: u64,
    }

    /// A `PT_LOAD` segment.
    pub struct Segment {
        pub offset: u64,
        pub vaddr: u64,
        pub filesz: u64,
        pub memsz: u64,
        pub writable: bool,
        pub executable: bool,
    }

    fn u16_at(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?)))
    }

    fn u32_at(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?)))
    }

    fn u64_at(b: &[u8], at: usize) -> Option<u64> {
        Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
    }

    #[cfg(target_arch = "x86_64")]
    const MACHINE: u64 = 62;
    #[cfg(target_arch = "riscv64")]
    const MACHINE: u64 = 243;

    /// The header of a little-endian ELF64 executable for this machine.
    pub fn parse(b: &[u8]) -> Option<Header> {
        let ok = b.get(0..6)? == [0x7f, b'E', b'L', b'F', 2, 1]
            && u16_at(b, 16)? == 2
            && u16_at(b, 18)? == MACHINE;
        ok.then_some(Header {
            entry: u64_at(b, 24)?,
            phoff: u64_at(b, 32)?,
            phentsize: u16_at(b, 54)?,
            phnum: u16_at(b, 56)?,
        })
    }

    /// Its `PT_LOAD` segments (`None` for one that does not parse).
    pub fn segments<'a>(b: &'a [u8], h: &Header) -> impl Iterator<Item = Option<Segment>> + 'a {
        let (phoff, size) = (h.phoff as usize, h.phentsize as usize);
        (0..h.phnum as usize).filter_map(move |i| {
            let at = phoff + i * size;
            let load = u32_at(b, at).map(|t| t == 1);
            match load {
                Some(false) => None,
                None => Some(None),
                Some(true) => Some((|| {
                    let flags = u32_at(b, at + 4)?;
                    Some(Segment {
                        offset: u64_at(b, at + 8)?,
                        vaddr: u64_at(b, at + 16)?,
                        filesz: u64_at(b, at + 32)?,
                        memsz: u64_at(b, at + 40)?,
                        writable: flags & 2 != 0,
                        executable: flags & 1 != 0,
                    })
                })()),
            }
        })
    }
}

/// A user thread: its address space, saved registers and the frames it owns.
pub struct UserThread {
    space: AddressSpace,
    /// The saved registers.
    pub ctx: UserContext,
    frames: Vec<u64>,
}

impl UserThread {
    /// Loads `program` (position-independent code, at most a page) with a one-page stack.
    pub fn load(program: &[u8]) -> Result<UserThread, LoadError> {
        if program.len() > PAGE_SIZE as usize {
            return Err(LoadError::TooBig);
        }
        let mut owned = Vec::new();
        let take = |owned: &mut Vec<u64>| -> Result<u64, LoadError> {
            let f = frames::alloc_zeroed().ok_or(LoadError::OutOfFrames)?;
            owned.push(f);
            Ok(f)
        };
        let root = take(&mut owned)?;
        let code = take(&mut owned)?;
        let stack = take(&mut owned)?;
        arch::copy_to_frame(code, 0, program);
        let mut space = AddressSpace::new_user(root);
        let mut tables = Vec::new();
        let mut alloc = || {
            let f = frames::alloc();
            if let Some(f) = f {
                tables.push(f);
            }
            f
        };
        let mapped = space
            .map_user(CODE_VA, code, false, true, &mut alloc)
            .and_then(|()| space.map_user(STACK_TOP - PAGE_SIZE, stack, true, false, &mut alloc));
        owned.extend(tables);
        let thread = UserThread { space, ctx: UserContext::new(CODE_VA, STACK_TOP), frames: owned };
        mapped.map_err(LoadError::Map)?;
        Ok(thread)
    }

    /// Loads a statically linked ELF64 executable (its `PT_LOAD` segments at their addresses,
    /// pages shared by two segments mapped once with both's rights) with a one-page stack;
    /// the thread starts at the ELF's entry point.
    /// Loads a statically linked ELF64 executable with its root page table in `root`, a fresh
    /// zeroed frame the thread now owns (the root task's, whose address the capability kernel's
    /// boot already named as its VSpace root).
    pub fn load_elf_into(elf: &[u8], root: u64) -> Result<UserThread, LoadError> {
        let header = elf::parse(elf).ok_or_else(|| {
            frames::free(root);
            LoadError::BadElf
        })?;
        let mut thread = UserThread {
            space: AddressSpace::new_user(root),
            ctx: UserContext::new(header.entry, STACK_TOP - arch::ENTRY_STACK_BIAS),
            frames: Vec::from([root]),
        };
        // (page, frame, writable, executable), gathered over all segments first.
        let mut pages: Vec<(u64, u64, bool, bool)> = Vec::new();
        for seg in elf::segments(elf, &header) {
            let seg = seg.ok_or(LoadError::BadElf)?;
            let end = seg.vaddr.checked_add(seg.memsz).ok_or(LoadError::BadElf)?;
            if seg.vaddr < CODE_VA || end > STACK_TOP - PAGE_SIZE {
                return Err(LoadError::TooBig);
            }
            let mut page = seg.vaddr / PAGE_SIZE * PAGE_SIZE;
            while page < end {
                let frame = match pages.iter_mut().find(|p| p.0 == page) {
                    Some(p) => {
                        p.2 |= seg.writable;
                        p.3 |= seg.executable;
                        p.1
                    }
                    None => {
                        let f = frames::alloc_zeroed().ok_or(LoadError::OutOfFrames)?;
                        thread.frames.push(f);
                        pages.push((page, f, seg.writable, seg.executable));
                        f
                    }
                };
                // The file bytes of this segment that fall in this page.
                let from = page.max(seg.vaddr);
                let to = (page + PAGE_SIZE).min(seg.vaddr + seg.filesz);
                if to > from {
                    let off = (seg.offset + (from - seg.vaddr)) as usize;
                    let bytes = elf.get(off..off + (to - from) as usize).ok_or(LoadError::BadElf)?;
                    arch::copy_to_frame(frame, (from - page) as usize, bytes);
                }
                page += PAGE_SIZE;
            }
        }
        for (page, frame, writable, executable) in pages {
            thread.map_frame(page, frame, writable, executable)?;
        }
        let stack = thread.map_page(STACK_TOP - PAGE_SIZE, true)?;
        let _ = stack;
        Ok(thread)
    }

    fn map_frame(&mut self, va: u64, frame: u64, writable: bool, executable: bool) -> Result<(), LoadError> {
        let mut tables = Vec::new();
        let mut alloc = || {
            let f = frames::alloc();
            if let Some(f) = f {
                tables.push(f);
            }
            f
        };
        let mapped = self.space.map_user(va, frame, writable, executable, &mut alloc);
        self.frames.extend(tables);
        mapped.map_err(LoadError::Map)
    }

    /// Maps a fresh zeroed page at `va` (user-accessible, never executable); returns its frame,
    /// which the thread owns and frees when retired.
    pub fn map_page(&mut self, va: u64, writable: bool) -> Result<u64, LoadError> {
        let frame = frames::alloc_zeroed().ok_or(LoadError::OutOfFrames)?;
        self.frames.push(frame);
        let mut tables = Vec::new();
        let mut alloc = || {
            let f = frames::alloc();
            if let Some(f) = f {
                tables.push(f);
            }
            f
        };
        let mapped = self.space.map_user(va, frame, writable, false, &mut alloc);
        self.frames.extend(tables);
        mapped.map_err(LoadError::Map)?;
        Ok(frame)
    }

    /// Runs the thread in its address space until the next kernel entry.
    ///
    /// Must be called with interrupts disabled; the kernel's page tables are active again when
    /// it returns.
    pub fn run(&mut self) -> Trap {
        self.space.activate();
        let trap = arch::run_user(&mut self.ctx);
        AddressSpace::activate_kernel();
        trap
    }
}

impl Drop for UserThread {
    fn drop(&mut self) {
        AddressSpace::activate_kernel();
        for f in self.frames.drain(..) {
            frames::free(f);
        }
    }
}
