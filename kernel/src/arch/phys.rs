//! Physical memory reached through each architecture's `phys_to_virt` (each kernel's
//! physical-memory window): zeroing and copying frames. One implementation
//! for both, next to the per-arch modules that provide the mapping.

use super::{PAGE_SIZE, phys_to_virt};

/// The `len` bytes of RAM at physical address `paddr`, for an owner that holds them for the
/// kernel's lifetime (the heap).
///
/// Panics if called twice: boot carves out one such region, which nothing else owns, and
/// handing it out twice would alias it.
pub fn claim_ram(paddr: u64, len: u64) -> &'static mut [core::mem::MaybeUninit<u8>] {
    static CLAIMED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    assert!(!CLAIMED.swap(true, core::sync::atomic::Ordering::AcqRel), "RAM claimed twice");
    // SAFETY: the region is RAM boot carved out before the frame allocator saw it, mapped at
    // `phys_to_virt` for the kernel's lifetime; it is handed out once (checked above), so the
    // mutable slice aliases nothing; `MaybeUninit<u8>` takes any contents.
    unsafe { core::slice::from_raw_parts_mut(phys_to_virt(paddr).cast(), len as usize) }
}

/// Fills the physical frame `frame` with zeros.
#[cfg(feature = "qemu-test")]
pub fn zero_frame(frame: u64) {
    assert!(frame.is_multiple_of(PAGE_SIZE), "unaligned frame {frame:#x}");
    // SAFETY: the caller owns the frame (fresh from the frame allocator); it is mapped by
    // `phys_to_virt` and is PAGE_SIZE bytes long.
    unsafe { core::ptr::write_bytes(phys_to_virt(frame), 0, PAGE_SIZE as usize) };
}

/// Fills the RAM window `w` with zeros (boot: the free memory, which no object uses yet). A page
/// already zero is only read: the guest's RAM is untouched until used, and writing it all would
/// make QEMU back every page of it with host memory. (The comparison and the clearing are
/// `memcmp` and `memset`, optimised even in a debug kernel.)
pub fn zero_window(w: &codegears::mem::RamWindow) {
    const ZERO: [u8; PAGE_SIZE as usize] = [0; PAGE_SIZE as usize];
    let base = w.words.as_ptr().cast_mut().cast::<u8>();
    let len = core::mem::size_of_val(w.words);
    for offset in (0..len).step_by(PAGE_SIZE as usize) {
        let n = (len - offset).min(PAGE_SIZE as usize);
        // SAFETY: the window's words are RAM mapped for the kernel's lifetime (`ram_window`),
        // `offset + n` stays inside them; at boot no object lives there and no user thread runs,
        // so nothing else reads or writes these bytes meanwhile, and zero bytes are a valid value
        // for every AtomicU64.
        let page = unsafe { core::slice::from_raw_parts_mut(base.add(offset), n) };
        if page != &ZERO[..n] {
            page.fill(0);
        }
    }
}

/// Copies `bytes` into the physical frame `frame` at `offset`.
pub fn copy_to_frame(frame: u64, offset: usize, bytes: &[u8]) {
    assert!(
        frame.is_multiple_of(PAGE_SIZE) && offset + bytes.len() <= PAGE_SIZE as usize,
        "copy past the frame"
    );
    // SAFETY: the caller owns the frame; the range is inside it (checked above), and `bytes`
    // cannot overlap it (it is kernel data, the frame is owned by a user space being built).
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), phys_to_virt(frame).add(offset), bytes.len()) };
}

#[cfg(feature = "qemu-test")]
/// Copies bytes out of the physical frame `frame` at `offset` into `out`.
pub fn copy_from_frame(frame: u64, offset: usize, out: &mut [u8]) {
    assert!(
        frame.is_multiple_of(PAGE_SIZE) && offset + out.len() <= PAGE_SIZE as usize,
        "copy past the frame"
    );
    // SAFETY: the frame is one the caller owns (a user thread's), mapped by `phys_to_virt`; the
    // range is inside it (checked above) and cannot overlap `out`, which is kernel memory.
    unsafe { core::ptr::copy_nonoverlapping(phys_to_virt(frame).add(offset), out.as_mut_ptr(), out.len()) };
}

/// Word `index` (0..512) of the paging structure at physical address `table`, read the way the
/// MMU reads it (through the kernel's mapping of RAM, not the capability kernel's `PhysMem`).
#[cfg(feature = "checks")]
pub fn read_table_word(table: u64, index: u16) -> u64 {
    assert!(table.is_multiple_of(PAGE_SIZE) && index < 512, "not a table entry: {table:#x}[{index}]");
    // SAFETY: `table` is a 4 KiB paging structure of the capability kernel in RAM mapped at
    // `phys_to_virt` (checked aligned above), `index` < 512 keeps the read inside it, and a
    // volatile read of an aligned u64 of RAM is valid whatever it holds.
    unsafe { (phys_to_virt(table + u64::from(index) * 8) as *const u64).read_volatile() }
}

/// The kernel's view of `len` bytes of RAM at physical address `paddr` (8-byte aligned) as
/// words, for the capability kernel's `PhysMem` (IPC buffers and the memory it clears).
pub fn ram_window(paddr: u64, len: u64) -> codegears::mem::RamWindow {
    assert!(paddr.is_multiple_of(8) && len.is_multiple_of(8), "unaligned RAM window {paddr:#x}+{len:#x}");
    let words = phys_to_virt(paddr) as *const core::sync::atomic::AtomicU64;
    // SAFETY: `paddr..paddr + len` is RAM the kernel maps at `phys_to_virt` for its whole
    // lifetime (the free memory boot hands to the root task), so the slice stays valid; AtomicU64
    // has u64's size and alignment (8, checked above) and every bit pattern is one; shared
    // atomic access allows the other writers of this memory (user threads, which do not run
    // while the kernel does, and the kernel's frame copies) without a data race.
    let words = unsafe { core::slice::from_raw_parts(words, (len / 8) as usize) };
    codegears::mem::RamWindow { base: paddr, words }
}

/// The hardware state of a thread the TCB's fields do not hold (the FPU registers, the rest of
/// the trap frame), kept in the TCB's own memory, after its fields
/// ([`codegears::obj_words::TCB_ARCH_OFFSET`]): it costs the kernel nothing the untyped did not
/// pay for, and a retype, which clears the TCB, leaves none of a predecessor's.
#[repr(C)]
pub struct ThreadHw {
    /// [`ThreadHw::VALID`] once set up; cleared memory (a fresh TCB) reads as not set up.
    valid: u64,
    /// When a timer tick that woke this thread was raised (ns; 0: none pending), for the
    /// interrupt latency figure.
    pub woken_at: u64,
    /// The registers as the trap entry saved them, and the FPU state.
    pub ctx: super::UserContext,
}

const _: () = assert!(core::mem::size_of::<ThreadHw>() as u64 <= codegears::obj_words::TCB_ARCH_BYTES);
const _: () =
    assert!(codegears::obj_words::TCB_ARCH_OFFSET.is_multiple_of(core::mem::align_of::<ThreadHw>() as u64));

impl ThreadHw {
    const VALID: u64 = u64::from_le_bytes(*b"GearsHW!");
}

/// Runs `f` on the hardware state of the thread whose TCB is at `tcb`, set up from its default
/// first if the TCB is fresh.
///
/// The caller names a live TCB (one the capability kernel scheduled or a cap names); the
/// kernel's object store reads and writes only that TCB's slots and fields, never this part of
/// it, so the mutable reference aliases nothing for the call.
pub fn with_thread_hw<R>(tcb: codegears::ObjPtr, f: impl FnOnce(&mut ThreadHw) -> R) -> R {
    let at = tcb.0 + codegears::obj_words::TCB_ARCH_OFFSET;
    let p = phys_to_virt(at).cast::<ThreadHw>();
    assert!(p.is_aligned(), "TCB {:#x} is not aligned", tcb.0);
    // SAFETY: a live TCB's 2 KiB are RAM the kernel maps at `phys_to_virt` (an untyped's memory
    // or the block boot carved for the root objects); `at..at + size_of::<ThreadHw>()` lies inside
    // them (checked at compile time above) and is aligned (checked above). Nothing else reads or
    // writes this part of the TCB while `f` runs (see above), and user threads, which can map no
    // TCB, do not run meanwhile. Every field is plain data, any bit pattern valid for `valid`
    // and `woken_at`; `ctx` is set to a valid value below before it is read unless `valid` says
    // it was written as one.
    let hw = unsafe {
        if (*p).valid != ThreadHw::VALID {
            p.write(ThreadHw { valid: ThreadHw::VALID, woken_at: 0, ctx: super::UserContext::default() });
        }
        &mut *p
    };
    f(hw)
}
