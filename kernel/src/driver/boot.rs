//! seL4's boot from the real memory map, and the root task loaded into the root VSpace.

use alloc::boxed::Box;
use alloc::vec::Vec;

use abi::Arch;
use codegears::kernel::{BootConfig, FIRST_UNTYPED_SLOT, Kernel, KernelState};
use codegears::mem::RamWindow;
use gears::Dispatcher;

use super::{Checks, Driver, HwMachine, Stats};
use crate::arch::{self, PAGE_SIZE, UserContext};
use crate::thread::{IPC_BUFFER_VA, LoadError, UserThread};

/// The root CNode's radix (4096 slots).
pub const ROOT_RADIX: u8 = 12;
const _: () = assert!(FIRST_UNTYPED_SLOT < (1 << ROOT_RADIX));

/// log2 of the root CNode's bytes (32-byte slots). It fills the first half of the root
/// objects' block; the root TCB and the initial ASID pool, a page each, the second.
const ROOT_CNODE_BITS: u8 = ROOT_RADIX + codegears::cap::SLOT_BITS;
const _: () = assert!(ROOT_CNODE_BITS < crate::memory::ROOT_OBJECTS_BITS);

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

impl Driver {
    /// seL4's boot from the real memory map: the untyped pool the memory set-up carved out and
    /// a device page (the UART's on riscv64, the VGA window on x86_64), the root task's VSpace
    /// root (a real page table its image is loaded into; its top-level entry for the user area
    /// is the kernel's, opaque to the capability kernel) and its IPC buffer frame. The
    /// capability kernel reaches the RAM of the pool and of the IPC buffer through its
    /// `PhysMem`.
    pub fn boot() -> Driver {
        let mut regions = Vec::new();
        if let Some(base) = crate::memory::untyped_pool() {
            regions.push((base, crate::memory::UNTYPED_POOL_BITS, false));
        }
        let (dev_base, dev_bits) = arch::DEVICE_UNTYPED;
        regions.push((dev_base, dev_bits, true));
        let root_vspace =
            crate::memory::frames::alloc_zeroed().expect("a frame for the root task's VSpace root");
        let ipc_frame =
            crate::memory::frames::alloc_zeroed().expect("a frame for the root task's IPC buffer");
        // The root CNode, TCB and ASID pool, in a block of their own (boot clears their slots).
        let root_objects = crate::memory::root_objects();
        let root_cnode = root_objects;
        let root_tcb = root_objects + (1 << ROOT_CNODE_BITS);
        let asid_pool = root_tcb + PAGE_SIZE;
        let root_window = arch::ram_window(root_objects, 1 << crate::memory::ROOT_OBJECTS_BITS);
        // The capability kernel's memory: the untyped pool, the IPC buffer, the root VSpace
        // root (whose entries it reads and writes) and the root objects' block. Boot happens
        // once per kernel (the test suite boots a few): the windows live as long as the kernel.
        let mut windows: Vec<RamWindow> = regions
            .iter()
            .filter(|r| !r.2)
            .map(|&(base, bits, _)| arch::ram_window(base, 1 << bits))
            .collect();
        // Memory above an untyped's watermark reads as zero (a retype clears nothing): the RAM
        // untypeds start cleared, whatever an earlier boot left there.
        windows.iter().for_each(arch::zero_window);
        windows.push(arch::ram_window(ipc_frame, PAGE_SIZE));
        windows.push(arch::ram_window(root_vspace, PAGE_SIZE));
        windows.push(root_window);
        let (state, info) = KernelState::boot_with(&BootConfig {
            arch: Arch::native(),
            root_radix: ROOT_RADIX,
            root_tcb,
            root_cnode,
            untypeds: &regions,
            vspace_root: root_vspace,
            boot_entries: &[arch::USER_ROOT_ENTRY],
            asid_pool,
            memory: Some(Box::leak(windows.into_boxed_slice())),
            ipc_buffer: Some((ipc_frame, IPC_BUFFER_VA)),
        });
        let untypeds = info
            .untyped
            .iter()
            .zip(&regions)
            .map(|(&(cptr, base, bits), &(_, _, device))| UntypedDesc { cptr, base, bits, device })
            .collect();
        let mut checks = Checks::new();
        if !cfg!(feature = "qemu-test") {
            checks.every = 0;
        }
        let mut driver = Driver {
            kernel: Kernel::new(state),
            info,
            untypeds,
            dispatcher: Dispatcher::new((None, Driver::work_budget(), checks)),
            machine: HwMachine::default(),
            image: None,
            root_vspace,
            vspace_given: false,
            ipc_frame,
            stats: Stats::default(),
            #[cfg(feature = "latency-bench")]
            bench: None,
        };
        driver.set_tracing(cfg!(feature = "trace"));
        driver
    }

    /// Loads the root task's ELF into its VSpace, with its IPC buffer mapped at
    /// [`IPC_BUFFER_VA`], and sets the root TCB to start at its entry point with the first free
    /// slot, its untyped's cptr, the bench flag and its device untyped's cptr in its first four
    /// argument registers.
    pub fn load_root_elf(&mut self, elf: &[u8]) -> Result<(), LoadError> {
        let image = UserThread::load_elf_into(elf, self.take_root_vspace()?)?;
        let ut = self.untypeds.first().map_or(0, |u| u.cptr);
        let device = self.untypeds.iter().find(|u| u.device).map_or(0, |u| u.cptr);
        let args = [self.info.first_free, ut, u64::from(cfg!(feature = "latency-bench")), device];
        self.install_image(image, args)
    }

    /// Loads a position-independent program of at most a page into the root task's VSpace
    /// (code at the user base, a stack page, the IPC buffer), as the root task; returns its
    /// image so the caller may map more pages into it.
    #[cfg(feature = "qemu-test")]
    pub fn load_root_program(&mut self, program: &[u8]) -> Result<(), LoadError> {
        let image = UserThread::load_into(program, self.take_root_vspace()?)?;
        self.install_image(image, [0; 4])
    }

    /// The root task's image, to map more pages into.
    #[cfg(feature = "qemu-test")]
    pub fn root_image(&mut self) -> Option<&mut UserThread> {
        self.image.as_mut()
    }

    /// Sets the root TCB to run from its image's entry point again (its registers as at first).
    pub fn restart_root(&mut self, args: [u64; 4]) {
        let Some(image) = self.image.as_mut() else { return };
        let mut ctx = UserContext::new(image.entry, image.stack_top);
        ctx.set_entry_args(args);
        let root = self.info.root_tcb;
        self.kernel.state.objects.tcb_mut(root).set(|t| {
            t.registers = ctx.sel4_registers();
            t.next_ip = ctx.ip();
        });
    }

    /// The root VSpace root, which the image being loaded takes over (and frees, failing).
    fn take_root_vspace(&mut self) -> Result<u64, LoadError> {
        if self.vspace_given {
            return Err(LoadError::AlreadyLoaded);
        }
        self.vspace_given = true;
        Ok(self.root_vspace)
    }

    fn install_image(&mut self, mut image: UserThread, args: [u64; 4]) -> Result<(), LoadError> {
        image.map_frame(IPC_BUFFER_VA, self.ipc_frame, true, false)?;
        self.image = Some(image);
        self.restart_root(args);
        Ok(())
    }
}
