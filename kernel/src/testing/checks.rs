//! Checks of the machine under the capability kernel: heap and frames, timer, user mode,
//! system-call entry and restart, preemption, the FPU, faults (run by the QEMU test suite).
//!
//! Each scenario narrates on the console and returns `Err` with what went wrong.

use crate::arch::{self, FaultKind, Irq, Trap, UserContext};
use crate::memory;
use crate::thread::{LoadError, UserThread};
use abi::{Arch, MessageInfo, Syscall};

/// Message registers for the console: `[0x1111, 0x2222, …]` on one line.
struct Words<'a>(&'a [u64]);

impl core::fmt::Display for Words<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("[")?;
        for (i, w) in self.0.iter().enumerate() {
            write!(f, "{}{w:#x}", if i == 0 { "" } else { ", " })?;
        }
        f.write_str("]")
    }
}

/// A failed check.
pub type Check = Result<(), &'static str>;

/// A test program in an address space of its own, with its registers: user mode without the
/// capability kernel.
pub struct Program {
    image: UserThread,
    /// Its registers.
    pub ctx: UserContext,
}

impl Program {
    /// Loads `code` (position-independent, at most a page) with a one-page stack.
    pub fn load(code: &[u8]) -> Result<Program, LoadError> {
        let image = UserThread::load(code)?;
        let ctx = UserContext::new(image.entry, image.stack_top);
        Ok(Program { image, ctx })
    }

    /// Maps `frame` (which the caller keeps owning) at `va` in its address space as well.
    #[cfg(target_arch = "riscv64")]
    pub fn map_frame(&mut self, va: u64, frame: u64, executable: bool) -> Result<(), LoadError> {
        self.image.map_frame(va, frame, false, executable)
    }

    /// Runs it until its next kernel entry.
    pub fn run(&mut self) -> Trap {
        self.image.run(&mut self.ctx)
    }
}

impl From<LoadError> for &'static str {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::TooBig => "user program larger than a page",
            LoadError::OutOfFrames => "out of frames loading a user program",
            LoadError::Map(_) => "mapping a user program failed",
            LoadError::BadElf => "not an ELF executable for this machine",
            LoadError::OutOfMemory => "no free memory for the root task",
            LoadError::OutsideUserSpace => "the root task's image is outside user space",
        }
    }
}

/// Allocates and frees on the heap and in the frame allocator; checks both give memory back.
pub fn heap_alloc_free() -> Check {
    use alloc::boxed::Box;
    use alloc::vec::Vec;
    let (used_before, _) = memory::heap::usage();
    {
        let v: Vec<u64> = (0..10_000).collect();
        let b = Box::new([7u8; 4096]);
        if v.iter().sum::<u64>() != 49_995_000 || b[4095] != 7 {
            return Err("heap contents wrong");
        }
        let (used, free) = memory::heap::usage();
        kprintln!("heap: {used} bytes used, {free} free with a 80000-byte Vec and a 4 KiB Box live");
    }
    if memory::heap::usage().0 != used_before {
        return Err("heap did not return to its previous usage after free");
    }
    let before = memory::frames::allocated();
    let a = memory::frames::alloc_zeroed().ok_or("no frame")?;
    let b = memory::frames::alloc().ok_or("no frame")?;
    if a == b || !a.is_multiple_of(arch::PAGE_SIZE) {
        return Err("frame allocator gave a bad frame");
    }
    memory::frames::free(a);
    memory::frames::free(b);
    if memory::frames::allocated() != before || memory::frames::alloc() != Some(b) {
        return Err("frame allocator did not reuse a freed frame");
    }
    memory::frames::free(b);
    kprintln!("frames: allocated {a:#x} and {b:#x}, freed both, reused {b:#x}");
    Ok(())
}

/// Enables interrupts in the kernel and waits for timer ticks.
pub fn timer_ticks() -> Check {
    let start = arch::ticks();
    let mut halts = 0u64;
    while arch::ticks() < start + 5 {
        arch::wait_for_interrupt();
        halts += 1;
        if halts > 10_000 {
            return Err("no timer interrupts");
        }
    }
    kprintln!("timer: {} ticks arrived in kernel mode ({} total)", arch::ticks() - start, arch::ticks());
    Ok(())
}

/// Runs `t` until an entry that is not a timer interrupt (those are only counted).
fn run_to_event(t: &mut Program) -> Trap {
    loop {
        match t.run() {
            Trap::Interrupt(Irq::Timer) => continue,
            other => return other,
        }
    }
}

/// The seL4 system-call arguments as the user passed them in registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SyscallArgs {
    number: i64,
    cap: u64,
    info: u64,
    mrs: [u64; 4],
}

/// The length of this machine's system-call instruction.
const SYSCALL_INSN_LEN: u64 = Arch::native().syscall_registers().instruction_len;

/// The system-call arguments in `ctx`, where seL4's ABI puts them.
fn syscall_args(ctx: &UserContext) -> SyscallArgs {
    let r = Arch::native().syscall_registers();
    let v = ctx.sel4_registers();
    SyscallArgs { number: v[r.number] as i64, cap: v[r.cap], info: v[r.info], mrs: r.msg.map(|i| v[i]) }
}

/// Writes a reply into `ctx` where seL4's ABI puts it: badge, MessageInfo, MR0–3.
fn set_syscall_reply(ctx: &mut UserContext, badge: u64, info: u64, mrs: [u64; 4]) {
    let r = Arch::native().syscall_registers();
    let mut v = ctx.sel4_registers();
    v[r.badge] = badge;
    v[r.info] = info;
    for (&i, m) in r.msg.iter().zip(mrs) {
        v[i] = m;
    }
    ctx.set_sel4_registers(&v);
}

/// A user thread calls the kernel with seL4's register convention and gets a reply.
pub fn syscall_round_trip() -> Check {
    let mut t = Program::load(arch::programs::call_echo())?;
    if run_to_event(&mut t) != Trap::Syscall {
        return Err("first entry is not a syscall");
    }
    let args = syscall_args(&t.ctx);
    let info = MessageInfo::from_word(args.info);
    let (label, length) = (info.label(), info.length());
    kprintln!(
        "syscall: user -> kernel: {} cap {:#x} label {} length {} MR0-3 {}",
        syscall_name(args.number),
        args.cap,
        label,
        length,
        Words(&args.mrs)
    );
    if args.number != Syscall::Call.number()
        || args.cap != 0x42
        || args.info != MessageInfo::new(7, 0, 0, 4).word()
        || args.mrs != [0x1111, 0x2222, 0x3333, 0x4444]
    {
        return Err("the kernel did not receive the Call as sent");
    }
    let reply_info = MessageInfo::new(0, 0, 0, 4).word();
    let reply_mrs = args.mrs.map(|m| m + 0x10_0000);
    set_syscall_reply(&mut t.ctx, 0xbad6e, reply_info, reply_mrs);
    kprintln!("syscall: kernel -> user: reply badge 0xbad6e length 4 MR0-3 {}", Words(&reply_mrs));

    if run_to_event(&mut t) != Trap::Syscall {
        return Err("second entry is not a syscall");
    }
    let echo = syscall_args(&t.ctx);
    kprintln!(
        "syscall: user -> kernel: {} cap {:#x} echoing MessageInfo {:#x} MR0-3 {}",
        syscall_name(echo.number),
        echo.cap,
        echo.info,
        Words(&echo.mrs)
    );
    if echo.number != Syscall::Send.number()
        || echo.cap != 0x43
        || echo.info != reply_info
        || echo.mrs != reply_mrs
    {
        return Err("the user did not get the reply registers back");
    }
    if run_to_event(&mut t) != Trap::Syscall || syscall_args(&t.ctx).number != Syscall::Yield.number() {
        return Err("third entry is not Yield");
    }
    kprintln!("syscall: round trip ok (Call, reply, Send echo, Yield); thread retired");
    Ok(())
}

/// A syscall restarted the seL4 way (the ip moved back over the syscall instruction, as for a
/// preempted operation) enters the kernel again with the same arguments.
pub fn syscall_restart() -> Check {
    let mut t = Program::load(arch::programs::call_echo())?;
    if run_to_event(&mut t) != Trap::Syscall {
        return Err("first entry is not a syscall");
    }
    let first = syscall_args(&t.ctx);
    let next_ip = t.ctx.ip();
    t.ctx.set_ip(next_ip - SYSCALL_INSN_LEN);
    if run_to_event(&mut t) != Trap::Syscall {
        return Err("the restarted syscall did not enter the kernel");
    }
    if syscall_args(&t.ctx) != first || t.ctx.ip() != next_ip {
        return Err("the restarted syscall came back with different arguments or ip");
    }
    kprintln!(
        "restart: ip moved back from {next_ip:#x} by {} bytes; the same {} entered again",
        SYSCALL_INSN_LEN,
        syscall_name(first.number)
    );
    Ok(())
}

/// A user thread that never enters the kernel is interrupted by the timer and resumed.
pub fn timer_preempts_user() -> Check {
    let mut t = Program::load(arch::programs::spin())?;
    let mut progress = [0u64; 3];
    for p in progress.iter_mut() {
        match t.run() {
            Trap::Interrupt(Irq::Timer) => *p = arch::programs::spin_counter(&t.ctx),
            _ => return Err("a spinning user thread stopped for something other than the timer"),
        }
    }
    kprintln!(
        "preemption: timer interrupted the spinning user thread 3 times; its counter read {progress:?}"
    );
    // Two ticks may arrive back to back (a loaded host runs QEMU late, and x86 takes a pending
    // interrupt right after `iretq`, before a user instruction), so the thread need not advance
    // between every two; it must never go backwards, and it must advance across the three.
    if !(progress[0] <= progress[1] && progress[1] <= progress[2] && progress[0] < progress[2]) {
        return Err("the user thread made no progress across three timer interrupts");
    }
    Ok(())
}

/// Two user threads keep different values in a floating-point/SSE register while the timer
/// interrupts them in turn: each must still find its own (the kernel keeps each thread's FPU
/// state); a thread that finds the other's says so with the unknown system call -99.
pub fn fpu_state_is_per_thread() -> Check {
    let mut a = Program::load(arch::programs::fpu_keeper())?;
    let mut b = Program::load(arch::programs::fpu_keeper())?;
    a.ctx.set_entry_args([0xaaaa_5555_aaaa_5555, 0, 0, 0]);
    b.ctx.set_entry_args([0x1234_5678_9abc_def0, 0, 0, 0]);
    for _ in 0..3 {
        for t in [&mut a, &mut b] {
            match t.run() {
                Trap::Interrupt(_) => {}
                Trap::Syscall => return Err("a thread found the other thread's value in its FPU register"),
                Trap::Fault(_) => return Err("a floating-point instruction faulted in user mode"),
            }
        }
    }
    let (na, nb) = (arch::programs::spin_counter(&a.ctx), arch::programs::spin_counter(&b.ctx));
    kprintln!("fpu: two threads interrupted 3 times each kept their own FPU register ({na} and {nb} checks)");
    if na == 0 || nb == 0 {
        return Err("a thread never checked its FPU register");
    }
    Ok(())
}

/// Runs a faulting program; checks it stops with `kind` and that the kernel goes on.
pub fn user_fault(program: &[u8], kind: FaultKind) -> Check {
    let mut t = Program::load(program)?;
    match run_to_event(&mut t) {
        Trap::Fault(f) if f.kind == kind => {
            kprintln!(
                "fault: user thread stopped: {} ({:?}) at ip {:#x}, address {:#x}, code {:#x}; kernel continues",
                arch::fault_name(&f),
                f.kind,
                f.ip,
                f.addr,
                f.code
            );
            Ok(())
        }
        Trap::Fault(_) => Err("the user thread took a different fault"),
        _ => Err("the faulting user program did not fault"),
    }
}

/// A null dereference, an illegal and a privileged instruction each stop only their thread.
pub fn user_faults_stop_only_the_thread() -> Check {
    user_fault(arch::programs::null_deref(), FaultKind::PageFault)?;
    user_fault(arch::programs::illegal_instruction(), FaultKind::IllegalInstruction)?;
    user_fault(arch::programs::privileged_instruction(), arch::programs::PRIVILEGED_FAULT)?;
    syscall_round_trip()
}

/// seL4's name of the system call numbered `n` (`"unknown"` for a number that names none).
fn syscall_name(n: i64) -> &'static str {
    Syscall::decode(n, abi::Arch::native()).map_or("unknown", Syscall::name)
}
