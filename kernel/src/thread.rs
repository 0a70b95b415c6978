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
