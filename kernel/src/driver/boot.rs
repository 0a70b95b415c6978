//! seL4's boot from the real memory map: the root task's image loaded at its link addresses into
//! free memory, its kernel objects and boot frames carved from free memory after it, every other
//! free byte of RAM as untypeds and the physical address space's holes as device untypeds.

use alloc::boxed::Box;
use alloc::vec::Vec;

use abi::Arch;
use codegears::boot::{BootImage, RootServerLayout, image_paging, untyped_blocks};
use codegears::kernel::{BootConfig, Kernel, KernelState};
use codegears::mem::RamWindow;
use gears::Dispatcher;

use super::{Checks, Driver, HwMachine, Stats};
use crate::arch::{self, PAGE_SIZE, UserContext};
use crate::boot::BootMemory;
use crate::thread::{LoadError, RootImage};

/// The root CNode's radix: 8,192 slots (seL4's default is 4,096; sel4test's build uses 8,192).
pub const ROOT_RADIX: u8 = 13;

/// An untyped handed to the root task: cptr, physical base, size, device memory or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UntypedDesc {
    /// Its slot in the root CNode.
    pub cptr: u64,
    /// Physical base address.
    pub base: u64,
    /// log2 of its size.
    pub bits: u8,
    /// Device memory (frames only, never kernel objects).
    pub device: bool,
}

/// Where the root task starts: its entry point, its stack pointer (0 for an ELF, which sets up
/// its own, as on seL4) and the BootInfo frame's address for its first argument register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootStart {
    /// The entry point.
    pub entry: u64,
    /// The initial stack pointer.
    pub stack: u64,
    /// Where the BootInfo frame is mapped.
    pub boot_info: u64,
    /// The image's first page and the physical address it is loaded at.
    pub image: (u64, u64),
    /// The end of the image.
    pub image_end: u64,
    /// The block of the root task's objects and boot frames: (physical base, bytes).
    pub root_server: (u64, u64),
}

impl Driver {
    /// seL4's boot of `image` as the root task (`try_init_kernel`): the image's pages loaded
    /// into free memory at one offset from their addresses; the root task's CNode, VSpace,
    /// paging structures, IPC buffer, BootInfo and extra bootinfo frames, ASID pool and TCB in one
    /// block carved from free memory; the rest of free RAM as untypeds after the device
    /// untypeds; every free byte cleared (a retype clears nothing). The capability kernel reaches
    /// all free memory through its `PhysMem`.
    pub fn boot(image: &RootImage<'_>) -> Result<Driver, LoadError> {
        let arch = Arch::native();
        let extra = extra_bootinfo();
        let n_extra = extra.len() as u64;
        let (vstart, vend) = (image.vstart, image.vend);
        // The IPC buffer, the BootInfo frame and the extra bootinfo follow the image.
        let mapped_end = vend.checked_add((2 + n_extra) * PAGE_SIZE).ok_or(LoadError::OutsideUserSpace)?;
        if vstart >= vend || !codegears::page_table::user_range_ok(arch, vstart, mapped_end - vstart) {
            return Err(LoadError::OutsideUserSpace);
        }
        let n_tables = image_paging(arch, vstart, mapped_end) as u64;
        let pages = (vend - vstart) / PAGE_SIZE;
        if abi::bootinfo::NUM_INITIAL_CAPS + n_tables + n_extra + pages >= 1 << ROOT_RADIX {
            return Err(LoadError::TooBig);
        }
        let mut free = crate::memory::free().clone();
        let size = RootServerLayout::new(0, ROOT_RADIX, n_tables, n_extra).size;
        let base =
            take(&mut free, size, RootServerLayout::align_bits(ROOT_RADIX)).ok_or(LoadError::OutOfMemory)?;
        let at = RootServerLayout::new(base, ROOT_RADIX, n_tables, n_extra);
        let pstart = take(&mut free, vend - vstart, 12).ok_or(LoadError::OutOfMemory)?;
        // All free memory starts cleared, whatever an earlier boot left there; then the image.
        let mut windows: Vec<RamWindow> =
            crate::memory::free().regions().iter().map(|r| arch::ram_window(r.start, r.len())).collect();
        windows.iter().for_each(arch::zero_window);
        // Every word the kernel reads finds its window by a search from the first: the largest
        // (where nearly every object lives) goes first.
        windows.sort_unstable_by_key(|w| core::cmp::Reverse(w.words.len()));
        for &(vaddr, bytes) in &image.pieces {
            copy_to(pstart + (vaddr - vstart), bytes);
        }
        arch::copy_global_mappings(at.vspace);
        let mut untypeds: Vec<(u64, u8, bool)> = Vec::new();
        for (start, end) in device_regions() {
            untypeds.extend(untyped_blocks(start, end, arch.max_untyped_bits()).map(|(b, s)| (b, s, true)));
        }
        for r in free.regions() {
            untypeds
                .extend(untyped_blocks(r.start, r.end, arch.max_untyped_bits()).map(|(b, s)| (b, s, false)));
        }
        let tables: Vec<u64> = (0..n_tables).map(|i| at.tables + i * PAGE_SIZE).collect();
        let extra_frames: Vec<(u64, &[u8; 4096])> =
            extra.iter().enumerate().map(|(i, b)| (at.extra + i as u64 * PAGE_SIZE, b)).collect();
        let boot_image = BootImage {
            vstart,
            vend,
            pstart,
            tables: &tables,
            boot_info: at.boot_info,
            extra: &extra_frames,
        };
        // Boot happens once per kernel (the test suite boots a few): the windows live as long as
        // the kernel.
        let (state, mut info) = KernelState::boot_with(&BootConfig {
            arch,
            root_radix: ROOT_RADIX,
            root_tcb: at.tcb,
            root_cnode: at.cnode,
            untypeds: &untypeds,
            vspace_root: at.vspace,
            boot_entries: &[],
            asid_pool: at.asid_pool,
            memory: Some(Box::leak(windows.into_boxed_slice())),
            ipc_buffer: Some((at.ipc_buffer, boot_image.ipc_buffer_vaddr())),
            image: Some(boot_image),
            io_ports_in_use: arch::KERNEL_IO_PORTS,
        });
        // The MMU reads boot's entries in the tables' memory: no machine keeps a copy of them.
        info.machine_ops = Vec::new();
        let untypeds = info
            .untyped
            .iter()
            .zip(&untypeds)
            .map(|(&(cptr, base, bits), &(_, _, device))| UntypedDesc { cptr, base, bits, device })
            .collect();
        let mut checks = Checks::new();
        if !cfg!(feature = "qemu-test") {
            checks.every = 0;
        }
        let start = RootStart {
            entry: image.entry,
            stack: image.stack,
            boot_info: boot_image.boot_info_vaddr(),
            image: (vstart, pstart),
            image_end: vend,
            root_server: (at.cnode, at.size),
        };
        let mut driver = Driver {
            kernel: Kernel::new(state),
            info,
            untypeds,
            dispatcher: Dispatcher::new((None, Driver::work_budget(), checks)),
            machine: HwMachine::default(),
            start,
            stats: Stats::default(),
            #[cfg(feature = "latency-bench")]
            bench: None,
        };
        driver.set_tracing(cfg!(feature = "trace"));
        driver.restart_root();
        Ok(driver)
    }

    /// Sets the root TCB to run from its image's entry point again (its registers as at first):
    /// the BootInfo frame's address in its first argument register, as seL4 starts it; Gears'
    /// latency-bench kernel also puts 1 in the second (the project's root task then runs the
    /// bench).
    pub fn restart_root(&mut self) {
        let s = self.start;
        let mut ctx = UserContext::new(s.entry, s.stack);
        ctx.set_entry_args([s.boot_info, u64::from(cfg!(feature = "latency-bench")), 0, 0]);
        let root = self.info.root_tcb;
        let objects = &mut self.kernel.state.objects;
        objects.set_registers(root, ctx.sel4_registers());
        objects.set_next_ip(root, ctx.ip());
    }

    /// The physical frame of the root task's image page at `vaddr` (the QEMU tests fill and read
    /// the script runner's pages).
    #[cfg(feature = "qemu-test")]
    pub fn image_frame(&self, vaddr: u64) -> Option<u64> {
        let (vstart, pstart) = self.start.image;
        (vstart..self.start.image_end)
            .contains(&vaddr)
            .then(|| pstart + (vaddr - vstart) / PAGE_SIZE * PAGE_SIZE)
    }

    /// Where the root task starts, and where boot put its image and objects.
    #[cfg(feature = "qemu-test")]
    pub fn root_start(&self) -> RootStart {
        self.start
    }

    /// The largest untyped of RAM boot gave the root task.
    #[cfg(feature = "qemu-test")]
    pub fn ram_untyped(&self) -> Option<UntypedDesc> {
        self.untypeds.iter().filter(|u| !u.device).max_by_key(|u| u.bits).copied()
    }
}

/// Copies `bytes` to physical memory from `paddr` (RAM the image was loaded into), page by page.
fn copy_to(paddr: u64, bytes: &[u8]) {
    let mut done = 0usize;
    while done < bytes.len() {
        let at = paddr + done as u64;
        let (frame, offset) = (at / PAGE_SIZE * PAGE_SIZE, (at % PAGE_SIZE) as usize);
        let n = (PAGE_SIZE as usize - offset).min(bytes.len() - done);
        arch::copy_to_frame(frame, offset, &bytes[done..done + n]);
        done += n;
    }
}

/// Takes `size` bytes aligned to 2^`align_bits` from the first free region that holds them.
fn take(free: &mut BootMemory, size: u64, align_bits: u8) -> Option<u64> {
    let align = 1u64 << align_bits;
    let start = free.regions().iter().find_map(|r| {
        let start = r.start.next_multiple_of(align);
        (start.checked_add(size)? <= r.end).then_some(start)
    })?;
    free.remove(start, start + size);
    Some(start)
}

/// The device regions (`create_untypeds`' first loop): every hole of the physical address space
/// below [`arch::DEVICE_TOP`] between RAM (free or in use, below 1 MiB counted as a hole, as
/// seL4 does) and the devices the kernel drives itself.
fn device_regions() -> Vec<(u64, u64)> {
    let free = crate::memory::free();
    let mut taken: Vec<(u64, u64)> = free
        .regions()
        .iter()
        .chain(free.reserved())
        .map(|r| (r.start, r.end))
        .chain(arch::KERNEL_DEVICES.iter().copied())
        .collect();
    taken.sort_unstable();
    let mut holes = Vec::new();
    let mut at = 0;
    for (start, end) in taken {
        if start > at {
            holes.push((at, start));
        }
        at = at.max(end);
    }
    if at < arch::DEVICE_TOP {
        holes.push((at, arch::DEVICE_TOP));
    }
    holes
}

/// The extra bootinfo's pages: each chunk the arch gives (`seL4_BootInfoHeader` then its bytes),
/// then a padding chunk to the end of the last page; none without chunks.
fn extra_bootinfo() -> Vec<[u8; 4096]> {
    let mut bytes: Vec<u8> = Vec::new();
    let header = |bytes: &mut Vec<u8>, id: u64, len: u64| {
        bytes.extend_from_slice(&id.to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
    };
    arch::extra_bootinfo(&mut |id, chunk| {
        header(&mut bytes, id, 16 + chunk.len() as u64);
        bytes.extend_from_slice(chunk);
    });
    if bytes.is_empty() {
        return Vec::new();
    }
    let total = (bytes.len() as u64 + 16).next_multiple_of(PAGE_SIZE);
    let padding = total - bytes.len() as u64;
    header(&mut bytes, abi::bootinfo::header::PADDING, padding);
    bytes.resize(total as usize, 0);
    bytes.chunks_exact(PAGE_SIZE as usize).map(|c| c.try_into().expect("page-sized chunks")).collect()
}
