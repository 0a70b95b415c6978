//! Loading the child program into an address space of its own, from seL4 objects the root task
//! retypes itself: a VSpace root (given an ASID by the initial ASID pool), the paging structures
//! down to the pages it needs, and a frame per page. Each page is filled through a scratch
//! mapping in the root task's own VSpace (seL4 maps a frame cap in one place at a time: map it
//! here, copy, unmap, map it there), as sel4utils' ELF loader does.

use crate::vm::{self, ATTR, PAGE, Slots, USER_BASE, tables};
use crate::{VSPACE, call, expect, retype};

use abi::bootinfo::CAP_INIT_THREAD_ASID_POOL as ASID_POOL;
/// Read and write rights for a mapping.
pub const RW: u64 = abi::CapRights::READ_WRITE.word();

/// The child's stack top and IPC buffer (the same layout as the root task's).
pub const STACK_TOP: u64 = USER_BASE + 0x10_0000;
pub const IPC_BUFFER: u64 = USER_BASE + 0x20_0000;

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

/// Writes `bytes` at `offset` into the page mapped at the scratch address.
fn fill_scratch(offset: u64, bytes: &[u8]) {
    // The root task mapped a fresh 4 KiB frame, writable, at SCRATCH just before (callers check
    // the Map succeeded), and offset + len stays inside it.
    for (i, &b) in bytes.iter().enumerate() {
        crate::sel4::write_u8(vm::SCRATCH + offset + i as u64, b);
    }
}

/// Maps `frame` (a 4 KiB frame cap) read-write at `offset` in the root task's scratch area,
/// whose paging structures [`load`] made; returns its address there.
#[cfg(target_arch = "riscv64")]
pub fn map_scratch(frame: u64, offset: u64) -> Option<u64> {
    let at = vm::SCRATCH + offset;
    (call(frame, vm::PAGE_MAP, &[at, RW, ATTR], &[VSPACE]).ok()).then_some(at)
}

/// The 4 KiB frame object type (`seL4_X86_4K` / `seL4_RISCV_4K_Page`).
#[cfg(target_arch = "riscv64")]
pub const PAGE_TYPE: u64 = vm::PAGE_TYPE;

/// A child in its own address space: its VSpace root cap, TCB and entry point.
pub struct Child {
    /// Its VSpace root's cptr.
    pub vspace: u64,
    /// Its IPC buffer frame's cptr.
    pub ipc_frame: u64,
    /// Its entry point.
    pub entry: u64,
}

/// Builds an address space for `elf` and fills it: code and data where the ELF says, a stack
/// page under [`STACK_TOP`], an IPC buffer page at [`IPC_BUFFER`].
pub fn load(ut: u64, s: &mut Slots, elf: &[u8]) -> Option<Child> {
    let (entry, segs, n) = segments(elf)?;
    let segs = &segs[..n];
    let vspace = s.next();
    let mut ok = expect("retype a VSpace root for the child", retype(ut, vm::ROOT_TYPE, 0, vspace, 1), 0);
    ok &= expect("give it an ASID", call(ASID_POOL, vm::ASID_POOL_ASSIGN, &[], &[vspace]).label, 0);
    ok &= expect("map its paging structures", u64::from(!tables(ut, s, vspace, USER_BASE, 0)), 0);
    let last = vm::LEVELS.len() - 1;
    ok &= expect(
        "and one more page table for its IPC buffer",
        u64::from(!tables(ut, s, vspace, IPC_BUFFER, last)),
        0,
    );
    ok &= expect(
        "map scratch paging structures in the root task's own VSpace",
        u64::from(!tables(ut, s, VSPACE, vm::SCRATCH, 0)),
        0,
    );
    if !ok {
        return None;
    }
    // Every page any segment touches, once, with the bytes of every segment that falls in it.
    let first = segs.iter().map(|g| g.1 / PAGE * PAGE).min()?;
    let end = segs.iter().map(|g| g.1 + g.3).max()?;
    let mut pages = 0;
    let mut page = first;
    while page < end {
        let frame = s.next();
        let mut ok = retype(ut, vm::PAGE_TYPE, 0, frame, 1) == 0;
        ok &= call(frame, vm::PAGE_MAP, &[vm::SCRATCH, RW, ATTR], &[VSPACE]).ok();
        if !ok {
            crate::say!("root task: loading the child: could not make or map the frame for {page:#x}");
            return None;
        }
        for &(offset, vaddr, filesz, _) in segs {
            let (from, to) = (page.max(vaddr), (page + PAGE).min(vaddr + filesz));
            if from < to {
                let at = (offset + from - vaddr) as usize;
                fill_scratch(from - page, elf.get(at..at + (to - from) as usize)?);
            }
        }
        ok &= call(frame, vm::PAGE_UNMAP, &[], &[]).ok();
        ok &= call(frame, vm::PAGE_MAP, &[page, RW, ATTR], &[vspace]).ok();
        if !ok {
            crate::say!("root task: loading the child: could not move the frame to {page:#x}");
            return None;
        }
        pages += 1;
        page += PAGE;
    }
    let (stack, ipc_frame) = (s.next(), s.next());
    let mut ok = retype(ut, vm::PAGE_TYPE, 0, stack, 2) == 0;
    ok &= call(stack, vm::PAGE_MAP, &[STACK_TOP - PAGE, RW, ATTR], &[vspace]).ok();
    ok &= call(ipc_frame, vm::PAGE_MAP, &[IPC_BUFFER, RW, ATTR], &[vspace]).ok();
    crate::say!(
        "root task: loaded the child ({} bytes of ELF) into {pages} pages of its own address space, \
         plus a stack page and an IPC buffer; entry {entry:#x}",
        elf.len()
    );
    ok.then_some(Child { vspace, ipc_frame, entry })
}
