//! User images: the root task's (a static ELF, or a QEMU test's program, as the pages seL4's
//! boot loads) and, for the QEMU tests that run outside the capability kernel, a program loaded
//! into an address space of its own with the frames it owns.

use alloc::vec::Vec;

use crate::arch::PAGE_SIZE;
#[cfg(feature = "qemu-test")]
use crate::arch::{self, AddressSpace, MapError, Trap, USER_BASE, UserContext};
#[cfg(feature = "qemu-test")]
use crate::memory::frames;

/// Where a program's code is mapped.
#[cfg(feature = "qemu-test")]
pub const CODE_VA: u64 = USER_BASE;
/// The page below which a program's stack grows (the stack is one page under it).
#[cfg(feature = "qemu-test")]
pub const STACK_TOP: u64 = USER_BASE + 0x2000;
/// The script runner's result records (written by it, read by the kernel's checks).
#[cfg(feature = "qemu-test")]
pub const RESULTS_VA: u64 = STACK_TOP;
/// The script runner's script (written by the kernel before the thread starts).
#[cfg(feature = "qemu-test")]
pub const SCRIPT_VA: u64 = RESULTS_VA + PAGE_SIZE;
/// The script's pages.
#[cfg(feature = "qemu-test")]
pub const SCRIPT_PAGES: u64 = 2;
/// The end of the script runner's image, where seL4's boot maps its IPC buffer (seL4's layout:
/// tag, then message words 0–119, user data, caps).
#[cfg(feature = "qemu-test")]
pub const IPC_BUFFER_VA: u64 = SCRIPT_VA + SCRIPT_PAGES * PAGE_SIZE;

/// Why a program could not be loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The program does not fit in one page, or the root task's image and boot caps do not fit
    /// in its CNode.
    TooBig,
    /// Out of physical frames.
    #[cfg(feature = "qemu-test")]
    OutOfFrames,
    /// Free memory holds no room for the root task's image or objects.
    OutOfMemory,
    /// The image (with the frames boot maps after it) is not all in user space.
    OutsideUserSpace,
    /// The page tables refused a mapping.
    #[cfg(feature = "qemu-test")]
    Map(MapError),
    /// Not a statically linked ELF64 executable for this machine.
    BadElf,
}

/// The root task as seL4's boot loads it: the pages `vstart..vend`, with `pieces` (address,
/// bytes) copied in and every other byte zero, started at `entry` with the stack pointer
/// `stack` (0 for an ELF, which brings its own stack).
#[derive(Clone, Debug)]
pub struct RootImage<'a> {
    /// The first page.
    pub vstart: u64,
    /// The end of the last page.
    pub vend: u64,
    /// The entry point.
    pub entry: u64,
    /// The initial stack pointer.
    pub stack: u64,
    /// The bytes loaded: (address, bytes).
    pub pieces: Vec<(u64, &'a [u8])>,
}

impl<'a> RootImage<'a> {
    /// A statically linked ELF64 executable for this machine: its `PT_LOAD` segments' file bytes
    /// at their addresses (the rest of each segment zero), over the pages from the lowest
    /// segment's to the highest's end.
    pub fn from_elf(bytes: &'a [u8]) -> Result<RootImage<'a>, LoadError> {
        let header = elf::parse(bytes).ok_or(LoadError::BadElf)?;
        let (mut vstart, mut vend) = (u64::MAX, 0);
        let mut pieces = Vec::new();
        for seg in elf::segments(bytes, &header) {
            let seg = seg.ok_or(LoadError::BadElf)?;
            let end = seg.vaddr.checked_add(seg.memsz).ok_or(LoadError::BadElf)?;
            if seg.filesz > seg.memsz {
                return Err(LoadError::BadElf);
            }
            let from = usize::try_from(seg.offset).map_err(|_| LoadError::BadElf)?;
            let len = usize::try_from(seg.filesz).map_err(|_| LoadError::BadElf)?;
            let file =
                bytes.get(from..from.checked_add(len).ok_or(LoadError::BadElf)?).ok_or(LoadError::BadElf)?;
            pieces.push((seg.vaddr, file));
            vstart = vstart.min(seg.vaddr / PAGE_SIZE * PAGE_SIZE);
            vend = vend.max(end.checked_next_multiple_of(PAGE_SIZE).ok_or(LoadError::BadElf)?);
        }
        if pieces.is_empty() {
            return Err(LoadError::BadElf);
        }
        Ok(RootImage { vstart, vend, entry: header.entry, stack: 0, pieces })
    }

    /// A QEMU test's program (position-independent code, at most a page) as the root task: its
    /// code at [`CODE_VA`], a stack page under [`STACK_TOP`], then the script runner's result
    /// and script pages; its IPC buffer follows at [`IPC_BUFFER_VA`].
    #[cfg(feature = "qemu-test")]
    pub fn program(code: &'a [u8]) -> Result<RootImage<'a>, LoadError> {
        if code.len() > PAGE_SIZE as usize {
            return Err(LoadError::TooBig);
        }
        let stack = STACK_TOP - arch::ENTRY_STACK_BIAS;
        Ok(RootImage {
            vstart: CODE_VA,
            vend: IPC_BUFFER_VA,
            entry: CODE_VA,
            stack,
            pieces: Vec::from([(CODE_VA, code)]),
        })
    }
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
                    Some(Segment {
                        offset: u64_at(b, at + 8)?,
                        vaddr: u64_at(b, at + 16)?,
                        filesz: u64_at(b, at + 32)?,
                        memsz: u64_at(b, at + 40)?,
                    })
                })()),
            }
        })
    }
}

/// A program outside the capability kernel (the QEMU tests'): its address space, where it
/// starts, and the frames it owns (the root page table, code, stack, and the page tables mapping
/// them), freed when it is dropped.
#[cfg(feature = "qemu-test")]
pub struct UserThread {
    space: AddressSpace,
    /// Where it starts.
    pub entry: u64,
    /// Its stack pointer at the start.
    pub stack_top: u64,
    frames: Vec<u64>,
}

#[cfg(feature = "qemu-test")]
impl UserThread {
    /// Loads `program` (position-independent code, at most a page) at [`CODE_VA`] with a one-page
    /// stack under [`STACK_TOP`] into an address space of its own.
    pub fn load(program: &[u8]) -> Result<UserThread, LoadError> {
        let root = frames::alloc_zeroed().ok_or(LoadError::OutOfFrames)?;
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
        let stack = frames::alloc_zeroed().ok_or(LoadError::OutOfFrames)?;
        thread.frames.push(stack);
        thread.map_frame(STACK_TOP - PAGE_SIZE, stack, true, false)?;
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

    /// Runs `ctx` in this address space until the next kernel entry.
    ///
    /// Must be called with interrupts disabled; the kernel's page tables are active again when
    /// it returns.
    pub fn run(&self, ctx: &mut UserContext) -> Trap {
        // The loader owns the root table first.
        AddressSpace::activate_root(self.frames[0]);
        let trap = arch::run_user(ctx);
        AddressSpace::activate_kernel();
        trap
    }
}

#[cfg(feature = "qemu-test")]
impl Drop for UserThread {
    fn drop(&mut self) {
        AddressSpace::activate_kernel();
        for f in self.frames.drain(..) {
            frames::free(f);
        }
    }
}
