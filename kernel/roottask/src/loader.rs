//! Loading the child program into an address space of its own, from seL4 objects the root task
//! retypes itself: a VSpace root (given an ASID by the initial ASID pool), the paging structures
//! down to the pages it needs, and a frame per page. Each page is filled through a scratch
//! mapping in the root task's own VSpace (seL4 maps a frame cap in one place at a time: map it
//! here, copy, unmap, map it there), as sel4utils' ELF loader does.

use gears_user::cap::{Frame, VSpace, init_thread};
use gears_user::mmio::Mmio;
use gears_user::vspace::{self, LEVELS, PAGE_SIZE, VmAttributes};
use gears_user::{CapRights, Result, println};

use crate::Env;
use crate::layout::{SCRATCH, USER_BASE};

/// The child's stack top and IPC buffer.
pub const STACK_TOP: u64 = USER_BASE + 0x10_0000;
pub const IPC_BUFFER: u64 = USER_BASE + 0x20_0000;

/// Read and write rights, the default attributes.
const RW: CapRights = CapRights::READ_WRITE;
const ATTR: VmAttributes = VmAttributes::DEFAULT;

/// A `PT_LOAD` segment: file offset, vaddr, file size, memory size.
type Segment = (u64, u64, u64, u64);

/// Just enough of ELF64: the entry point and the (first four) `PT_LOAD` segments, and how many.
fn segments(elf: &[u8]) -> Option<(u64, [Segment; 4], usize)> {
    let w = |at: usize, n: usize| -> Option<u64> {
        let b = elf.get(at..at + n)?;
        Some(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    };
    if elf.get(0..4)? != b"\x7fELF" {
        return None;
    }
    let (entry, phoff, phentsize, phnum) = (w(24, 8)?, w(32, 8)? as usize, w(54, 2)? as usize, w(56, 2)?);
    let mut out = [(0, 0, 0, 0); 4];
    let mut n = 0;
    for i in 0..phnum as usize {
        let at = phoff + i * phentsize;
        if w(at, 4)? == 1 && n < out.len() {
            out[n] = (w(at + 8, 8)?, w(at + 16, 8)?, w(at + 32, 8)?, w(at + 40, 8)?);
            n += 1;
        }
    }
    Some((entry, out, n))
}

/// Writes `bytes` at `offset` into the frame mapped at the scratch address.
#[allow(unsafe_code, reason = "writes a frame mapped through system calls")]
fn fill_scratch(offset: u64, bytes: &[u8]) {
    // SAFETY: `load` maps a fresh 4 KiB frame read-write at SCRATCH before each call (it checks
    // the Map succeeded) and unmaps it after; no Rust object lives in it. The handle checks that
    // every write stays inside the page.
    let page = unsafe { Mmio::new(SCRATCH, PAGE_SIZE as usize) };
    for (i, &b) in bytes.iter().enumerate() {
        page.write_u8(offset as usize + i, b);
    }
}

/// Makes the paging structures from level `from` down (retyped from the environment's untyped
/// into its slots) and maps them in `vspace` to cover `vaddr`.
pub fn tables(env: &mut Env, vspace: VSpace, vaddr: u64, from: usize) -> Result<()> {
    for level in &LEVELS[from..] {
        let t = env.ut.create_range(level.object, 1, &mut env.slots)?.start;
        level.map(t, vspace, vaddr, ATTR)?;
    }
    Ok(())
}

/// Maps `frame` (a 4 KiB frame cap) read-write at `offset` in the root task's scratch area,
/// whose paging structures [`load`] made; returns its address there.
#[cfg(target_arch = "riscv64")]
pub fn map_scratch(frame: Frame, offset: u64) -> Result<u64> {
    let at = SCRATCH + offset;
    frame.map(init_thread::VSPACE, at, RW, ATTR).map(|()| at)
}

/// A child in its own address space: its VSpace root cap, IPC buffer frame and entry point.
pub struct Child {
    /// Its VSpace root.
    pub vspace: VSpace,
    /// Its IPC buffer frame (mapped at [`IPC_BUFFER`]).
    pub ipc_frame: Frame,
    /// Its entry point.
    pub entry: u64,
}

/// Says a step's outcome if it failed.
fn step<T>(what: &str, r: Result<T>) -> Option<T> {
    r.map_err(|e| println!("root task: loading the child: {what}: error {}", e.name())).ok()
}

/// Builds an address space for `elf` and fills it: code and data where the ELF says, a stack
/// page under [`STACK_TOP`], an IPC buffer page at [`IPC_BUFFER`].
pub fn load(env: &mut Env, elf: &[u8]) -> Option<Child> {
    let (entry, segs, n) = segments(elf)?;
    let segs = &segs[..n];
    let vspace: VSpace = step("retype a VSpace root for the child", env.ut.create(&mut env.slots))?;
    step("give it an ASID", init_thread::ASID_POOL.assign(vspace))?;
    step("map its paging structures", tables(env, vspace, USER_BASE, 0))?;
    step("and one more page table for its IPC buffer", tables(env, vspace, IPC_BUFFER, LEVELS.len() - 1))?;
    step("map scratch paging structures in our own VSpace", tables(env, init_thread::VSPACE, SCRATCH, 0))?;
    // Every page any segment touches, once, with the bytes of every segment that falls in it.
    let first = segs.iter().map(|g| g.1 / PAGE_SIZE * PAGE_SIZE).min()?;
    let end = segs.iter().map(|g| g.1 + g.3).max()?;
    let mut pages = 0;
    let mut page = first;
    while page < end {
        let frame: Frame = step("retype a frame", env.ut.create(&mut env.slots))?;
        step("map it at the scratch address", frame.map(init_thread::VSPACE, SCRATCH, RW, ATTR))?;
        for &(offset, vaddr, filesz, _) in segs {
            let (from, to) = (page.max(vaddr), (page + PAGE_SIZE).min(vaddr + filesz));
            if from < to {
                let at = (offset + from - vaddr) as usize;
                fill_scratch(from - page, elf.get(at..at + (to - from) as usize)?);
            }
        }
        step("unmap it", frame.unmap())?;
        step("map it in the child's address space", frame.map(vspace, page, RW, ATTR))?;
        pages += 1;
        page += PAGE_SIZE;
    }
    let frames = step(
        "retype a stack page and an IPC buffer",
        env.ut.create_range(vspace::object::SMALL_PAGE, 2, &mut env.slots),
    )?;
    let (stack, ipc_frame) = (Frame::from_cptr(frames.start), Frame::from_cptr(frames.start + 1));
    step("map the stack", stack.map(vspace, STACK_TOP - PAGE_SIZE, RW, ATTR))?;
    step("map the IPC buffer", ipc_frame.map(vspace, IPC_BUFFER, RW, ATTR))?;
    println!(
        "root task: loaded the child ({} bytes of ELF) into {pages} pages of its own address space, \
         plus a stack page and an IPC buffer; entry {entry:#x}",
        elf.len()
    );
    Some(Child { vspace, ipc_frame, entry })
}
