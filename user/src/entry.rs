//! The entry point: [`root_task!`](crate::root_task) for a program seL4's boot starts (the
//! BootInfo address in its first argument register, a stack pointer of 0), and
//! [`program!`](crate::program) for a program a root task starts in an address space of its
//! own (its arguments in registers, a stack or not).
//!
//! Either macro defines `_start` (the ELF entry the linker script names), a stack for the
//! program's first thread, and the call of its `main`. `_start` keeps a stack pointer it is
//! given and takes the macro's stack when it is 0, aligns it to 16, and passes the first four
//! argument registers on untouched. For a root task the library then registers the IPC buffer
//! BootInfo names ([`crate::ipc_buffer`]) and calls `main` with the BootInfo:
//!
//! ```ignore
//! gears_user::root_task!(main);                         // a 64 KiB stack
//! gears_user::root_task!(main, stack_size = 256 * 1024);
//!
//! fn main(bi: &gears_user::BootInfo) -> ! {
//!     gears_user::debug::halt()
//! }
//! ```
//!
//! A program that is not a root task gets its four argument registers, and registers its IPC
//! buffer itself (the root task that loaded it knows where it mapped one):
//!
//! ```ignore
//! gears_user::program!(main);
//!
//! fn main([ep, slot, ..]: [u64; 4]) -> ! {
//!     gears_user::debug::halt()
//! }
//! ```

use core::sync::atomic::{AtomicU64, Ordering};

use crate::BootInfo;
use crate::ipc_buffer::{self, IpcBuffer};

/// The stack the macros give a program's first thread unless told another size.
pub const DEFAULT_STACK_SIZE: usize = 64 * 1024;

/// The stack of a program's first thread: `N` bytes aligned to 16, in its `.bss`.
#[repr(C, align(16))]
pub struct Stack<const N: usize>([u8; N]);

impl<const N: usize> Stack<N> {
    /// A zeroed stack.
    pub const fn new() -> Stack<N> {
        Stack([0; N])
    }
}

impl<const N: usize> Default for Stack<N> {
    fn default() -> Self {
        Stack::new()
    }
}

/// The first four argument registers the program was started with.
static INITIAL_REGISTERS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
/// Where the extra bootinfo starts, and its length (0: none, or not a root task).
static EXTRA: [AtomicU64; 2] = [const { AtomicU64::new(0) }; 2];

/// The first four argument registers the program was started with (x86_64 `rdi`, `rsi`, `rdx`,
/// `rcx`; riscv64 `a0`–`a3`): a root task's BootInfo address first (Gears' latency-bench
/// kernel puts 1 in the second); a loaded program's arguments.
pub fn initial_registers() -> [u64; 4] {
    core::array::from_fn(|i| INITIAL_REGISTERS[i].load(Ordering::Relaxed))
}

/// The extra bootinfo (`extraLen` bytes after the BootInfo frame; walk it with
/// [`crate::bootinfo::ExtraChunks`]); empty in a program that is not a root task.
pub fn extra_boot_info() -> &'static [u8] {
    let [addr, len] = [0, 1].map(|i| EXTRA[i].load(Ordering::Relaxed));
    if len == 0 {
        return &[];
    }
    // SAFETY: `run_root_task` recorded the range from the kernel's BootInfo: `extraLen` bytes
    // in the extra bootinfo pages the boot mapped right after the BootInfo frame, readable and
    // never written again, for the program's whole life.
    unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) }
}

fn record(args: [u64; 4]) {
    for (r, a) in INITIAL_REGISTERS.iter().zip(args) {
        r.store(a, Ordering::Relaxed);
    }
}

/// A root task's start after `_start`: reads the BootInfo at `args[0]`, registers its IPC
/// buffer, and calls `main`.
///
/// # Safety
///
/// The kernel started this program as its root task: `args[0]` is where seL4's boot mapped
/// `seL4_BootInfo` (with the extra bootinfo after it), which nothing writes while the program
/// runs.
#[doc(hidden)]
pub unsafe fn run_root_task(args: [u64; 4], main: fn(&BootInfo) -> !) -> ! {
    record(args);
    let addr = args[0];
    // SAFETY: the caller's contract: a page-aligned BootInfo frame, mapped readable, holding
    // `seL4_BootInfo` in seL4's layout, which `BootInfo` has (`repr(transparent)` over
    // `abi::bootinfo::BootInfo`, `repr(C)`, every bit pattern valid), and never written again.
    let bi: &'static BootInfo = unsafe { &*(addr as *const BootInfo) };
    // SAFETY: the boot mapped the IPC buffer at `ipcBuffer` (aligned to its size, read-write)
    // for the root task's life; nothing but the kernel and the library's volatile accesses use it.
    ipc_buffer::set(unsafe { IpcBuffer::new(bi.ipc_buffer()) });
    EXTRA[0].store(addr + (1 << abi::object::bits::BOOT_INFO_FRAME), Ordering::Relaxed);
    EXTRA[1].store(bi.extra_len(), Ordering::Relaxed);
    main(bi)
}

/// A loaded program's start after `_start`: calls `main` with its argument registers.
#[doc(hidden)]
pub fn run_program(args: [u64; 4], main: fn([u64; 4]) -> !) -> ! {
    record(args);
    main(args)
}

/// Defines the entry point of a root task whose `main` is `fn(&BootInfo) -> !`, with a stack of
/// [`DEFAULT_STACK_SIZE`] bytes or `stack_size = N`. Use it once, at the crate root of a
/// `#![no_main]` binary linked with `_start` as its entry.
#[macro_export]
macro_rules! root_task {
    ($main:path) => {
        $crate::root_task!($main, stack_size = $crate::entry::DEFAULT_STACK_SIZE);
    };
    ($main:path, stack_size = $size:expr) => {
        /// Where `_start` goes: the root task's first four argument registers.
        #[allow(unsafe_code, reason = "the root task's start reads the BootInfo the kernel mapped")]
        extern "C" fn __gears_user_start(a0: u64, a1: u64, a2: u64, a3: u64) -> ! {
            let main: fn(&$crate::BootInfo) -> ! = $main;
            // SAFETY: seL4's boot started this program as the root task, with the address of its
            // seL4_BootInfo in the first argument register.
            unsafe { $crate::entry::run_root_task([a0, a1, a2, a3], main) }
        }
        $crate::__entry_point!($size);
    };
}

/// Defines the entry point of a program a root task starts, whose `main` is
/// `fn([u64; 4]) -> !` (its first four argument registers), with a stack of
/// [`DEFAULT_STACK_SIZE`] bytes (used when started with a stack pointer of 0) or
/// `stack_size = N`.
#[macro_export]
macro_rules! program {
    ($main:path) => {
        $crate::program!($main, stack_size = $crate::entry::DEFAULT_STACK_SIZE);
    };
    ($main:path, stack_size = $size:expr) => {
        /// Where `_start` goes: the program's first four argument registers.
        extern "C" fn __gears_user_start(a0: u64, a1: u64, a2: u64, a3: u64) -> ! {
            let main: fn([u64; 4]) -> ! = $main;
            $crate::entry::run_program([a0, a1, a2, a3], main)
        }
        $crate::__entry_point!($size);
    };
}

/// `_start` and its stack, calling `__gears_user_start` (the two macros' shared part).
#[doc(hidden)]
#[macro_export]
macro_rules! __entry_point {
    ($size:expr) => {
        /// The first thread's stack size.
        const __GEARS_USER_STACK_SIZE: usize = $size;

        #[allow(unsafe_code, reason = "the entry point's assembly")]
        mod __gears_user_entry {
            /// The stack of a program started with a stack pointer of 0.
            static mut STACK: $crate::entry::Stack<{ super::__GEARS_USER_STACK_SIZE }> =
                $crate::entry::Stack::new();

            // `_start`: the stack pointer it was given, else the top of STACK, aligned to 16;
            // then a call with the first four argument registers as they came.
            #[cfg(target_arch = "x86_64")]
            ::core::arch::global_asm!(
                ".pushsection .text.entry, \"ax\"",
                ".global _start",
                "_start:",
                "test rsp, rsp",
                "jnz 1f",
                "lea rsp, [rip + {stack}]",
                "add rsp, {size}",
                "1:",
                "and rsp, -16",
                "call {entry}",
                "ud2",
                ".popsection",
                stack = sym STACK,
                size = const super::__GEARS_USER_STACK_SIZE,
                entry = sym super::__gears_user_start,
            );
            #[cfg(target_arch = "riscv64")]
            ::core::arch::global_asm!(
                ".pushsection .text.entry, \"ax\"",
                ".global _start",
                "_start:",
                "bnez sp, 1f",
                "la sp, {stack}",
                "li t0, {size}",
                "add sp, sp, t0",
                "1:",
                "andi sp, sp, -16",
                "call {entry}",
                "unimp",
                ".popsection",
                stack = sym STACK,
                size = const super::__GEARS_USER_STACK_SIZE,
                entry = sym super::__gears_user_start,
            );
        }
    };
}
