//! User images: a program or an ELF loaded into an address space, with the frames it owns.

use alloc::vec::Vec;

use crate::arch::{self, AddressSpace, MapError, PAGE_SIZE, USER_BASE};
#[cfg(feature = "qemu-test")]
use crate::arch::{Trap, UserContext};
use crate::memory::frames;

/// Where a thread's code is mapped.
pub const CODE_VA: u64 = USER_BASE;
/// The page below which a thread's stack grows (the stack is one page under it).
pub const STACK_TOP: u64 = USER_BASE + 0x10_0000;
/// The root task's IPC buffer (seL4's layout: tag, then message words 0–119, user data, caps).
pub const IPC_BUFFER_VA: u64 = USER_BASE + 0x20_0000;
/// The root task's result records (written by the script runner, read by the kernel's checks).
#[cfg(feature = "qemu-test")]
pub const RESULTS_VA: u64 = USER_BASE + 0x30_0000;
/// The root task's script (written by the kernel before the thread starts, read-only to it).
#[cfg(feature = "qemu-test")]
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
    /// The root task's address space holds an image already.
    AlreadyLoaded,
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

/// A user image: its address space, where it starts, and the frames it owns (the root page
/// table, code, data, stack, and the page tables mapping them), freed when it is dropped.
pub struct UserThread {
    space: AddressSpace,
    /// Where it starts.
    pub entry: u64,
    /// Its stack pointer at the start.
    pub stack_top: u64,
    frames: Vec<u64>,
}

impl UserThread {
    /// Loads `program` (position-independent code, at most a page) with a one-page stack into
    /// an address space of its own.
    #[cfg(feature = "qemu-test")]
    pub fn load(program: &[u8]) -> Result<UserThread, LoadError> {
        let root = frames::alloc_zeroed().ok_or(LoadError::OutOfFrames)?;
        UserThread::load_into(program, root)
    }

    /// Loads `program` (position-independent code, at most a page) at [`CODE_VA`] with a one-page
    /// stack under [`STACK_TOP`], into the address space rooted at `root`: a fresh zeroed frame
    /// the thread now owns (the root task's, whose address the capability kernel's boot named as
    /// its VSpace root).
    #[cfg(feature = "qemu-test")]
    pub fn load_into(program: &[u8], root: u64) -> Result<UserThread, LoadError> {
        let mut thread = UserThread {
            space: AddressSpace::new_user(root),
            entry: CODE_VA,
            stack_top: STACK_TOP,
            frames: Vec::from([root]),
        };
        if program.len() > PAGE_SIZE as usize {
            return Err(LoadError::TooBig);
        }
        let code = frames::alloc_zeroed().ok_or(LoadError::OutOfFrames)?;
        thread.frames.push(code);
        arch::copy_to_frame(code, 0, program);
        thread.map_frame(CODE_VA, code, false, true)?;
        thread.map_page(STACK_TOP - PAGE_SIZE, true)?;
        Ok(thread)
    }

    /// Loads a statically linked ELF64 executable (its `PT_LOAD` segments at their addresses,
    /// pages shared by two segments mapped once with both's rights) with a one-page stack into
    /// the address space rooted at `root`, a fresh zeroed frame the thread now owns; the thread
    /// starts at the ELF's entry point.
    pub fn load_elf_into(elf: &[u8], root: u64) -> Result<UserThread, LoadError> {
        let header = elf::parse(elf).ok_or_else(|| {
            frames::free(root);
            LoadError::BadElf
        })?;
        let stack_top = STACK_TOP - arch::ENTRY_STACK_BIAS;
        let mut thread = UserThread {
            space: AddressSpace::new_user(root),
            entry: header.entry,
            stack_top,
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
        thread.map_page(STACK_TOP - PAGE_SIZE, true)?;
        Ok(thread)
    }

    /// Maps `frame` (which the caller keeps owning) at `va`.
    pub fn map_frame(
        &mut self,
        va: u64,
        frame: u64,
        writable: bool,
        executable: bool,
    ) -> Result<(), LoadError> {
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

    /// Runs `ctx` in this address space until the next kernel entry.
    ///
    /// Must be called with interrupts disabled; the kernel's page tables are active again when
    /// it returns.
    #[cfg(feature = "qemu-test")]
    pub fn run(&self, ctx: &mut UserContext) -> Trap {
        // Both constructors own the root table first.
        AddressSpace::activate_root(self.frames[0]);
        let trap = arch::run_user(ctx);
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
