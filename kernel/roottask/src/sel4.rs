//! The root task's side of seL4's system-call ABI: registers, MessageInfo, IPC buffer.
//!
//! Non-MCS syscall numbers; x86_64: number RDX, cap RDI, MessageInfo RSI, MR0–3 in R10, R8, R9,
//! R15 (reply: badge RDI, MessageInfo RSI, MR0–3); riscv64: number a7, cap a0, MessageInfo a1,
//! MR0–3 in a2–a5. Message words past MR3 and extra caps go through the IPC buffer, whose
//! address the kernel maps for the root task (`abi::IpcBuffer`'s layout).

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use abi::bootinfo::{BOOT_INFO_WORDS, BootInfo};
use abi::{IpcBuffer, MSG_MAX_EXTRA_CAPS, MSG_MAX_LENGTH, MessageInfo, Syscall};

#[cfg(target_arch = "x86_64")]
const USER_BASE: u64 = 0x0000_0080_0000_0000;
#[cfg(target_arch = "riscv64")]
const USER_BASE: u64 = 0x0000_0010_0000_0000;

/// This program's IPC buffer: for the root task, where seL4's boot mapped it (its BootInfo's
/// `ipcBuffer`, set by [`read_boot_info`]); for the child, where the root task's loader maps it
/// (`loader::IPC_BUFFER`).
static IPC_BUFFER: AtomicU64 = AtomicU64::new(USER_BASE + 0x20_0000);

/// The address of this program's IPC buffer.
pub fn ipc_buffer() -> u64 {
    IPC_BUFFER.load(Ordering::Relaxed)
}

/// Reads the `seL4_BootInfo` seL4's boot mapped at `addr` (the root task's first argument) and
/// takes its IPC buffer's address from it.
pub fn read_boot_info(addr: u64) -> BootInfo {
    let p = addr as *const u64;
    let words: [u64; BOOT_INFO_WORDS] = core::array::from_fn(|i| {
        // SAFETY: the kernel mapped the BootInfo frame (4 KiB, readable) at `addr` before the
        // root task started, and `seL4_BootInfo` (BOOT_INFO_WORDS words) fits in it; the frame
        // holds no Rust object, and a volatile read of an aligned word of it is valid.
        unsafe { p.add(i).read_volatile() }
    });
    let bi = BootInfo::from_words(&words);
    IPC_BUFFER.store(bi.ipc_buffer, Ordering::Relaxed);
    bi
}

/// A system call: (badge, MessageInfo, MR0–3) back.
fn syscall(number: Syscall, cap: u64, info: u64, mrs: [u64; 4]) -> (u64, u64, [u64; 4]) {
    raw_syscall(number.word(), cap, info, mrs)
}

/// The raw system call with any number in the number register (an unknown one is an
/// UnknownSyscall fault of the caller): (badge, MessageInfo, MR0–3) back.
#[cfg(target_arch = "x86_64")]
pub fn raw_syscall(number: u64, cap: u64, info: u64, mrs: [u64; 4]) -> (u64, u64, [u64; 4]) {
    let (mut rdi, mut rsi) = (cap, info);
    let [mut r10, mut r8, mut r9, mut r15] = mrs;
    // SAFETY: `syscall` enters the kernel, which saves and restores every register but the reply
    // registers (declared inout here) and RCX/R11 (clobbered by SYSCALL/SYSRET); it touches no
    // memory of ours but the IPC buffer, which Rust code only reaches through volatile accesses.
    unsafe {
        core::arch::asm!(
            "syscall",
            inout("rdx") number => _,
            inout("rdi") rdi,
            inout("rsi") rsi,
            inout("r10") r10,
            inout("r8") r8,
            inout("r9") r9,
            inout("r15") r15,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    (rdi, rsi, [r10, r8, r9, r15])
}

/// The raw system call with any number in the number register (an unknown one is an
/// UnknownSyscall fault of the caller): (badge, MessageInfo, MR0–3) back.
#[cfg(target_arch = "riscv64")]
pub fn raw_syscall(number: u64, cap: u64, info: u64, mrs: [u64; 4]) -> (u64, u64, [u64; 4]) {
    let (mut a0, mut a1) = (cap, info);
    let [mut a2, mut a3, mut a4, mut a5] = mrs;
    // SAFETY: `ecall` enters the kernel, which saves and restores every register but the reply
    // registers (declared inout here); it touches no memory of ours but the IPC buffer, which
    // Rust code only reaches through volatile accesses.
    unsafe {
        core::arch::asm!(
            "ecall",
            in("a7") number,
            inout("a0") a0,
            inout("a1") a1,
            inout("a2") a2,
            inout("a3") a3,
            inout("a4") a4,
            inout("a5") a5,
            options(nostack),
        );
    }
    (a0, a1, [a2, a3, a4, a5])
}

fn ipc_write(word: usize, value: u64) {
    buffer_write(ipc_buffer(), word, value);
}

fn ipc_read(word: usize) -> u64 {
    buffer_read(ipc_buffer(), word)
}

/// Words in an IPC buffer's page: the highest index [`buffer_write`] and [`buffer_read`] take,
/// plus one.
pub const BUFFER_PAGE_WORDS: usize = 512;

/// Writes word `word` of the IPC buffer at `buffer`: this program's ([`ipc_buffer`]), or one
/// the root task mapped for a thread it runs in its own address space.
pub fn buffer_write(buffer: u64, word: usize, value: u64) {
    let p = (buffer as *mut u64).wrapping_add(word % BUFFER_PAGE_WORDS);
    // SAFETY: `buffer` is a page-aligned IPC buffer mapped writable in this address space before
    // any thread uses it (the kernel maps the root task's; the root task maps the others), and
    // the index is reduced to the page, so the write stays inside it; no Rust object lives there.
    unsafe { p.write_volatile(value) };
}

/// Reads word `word` of the IPC buffer at `buffer` (as [`buffer_write`]).
pub fn buffer_read(buffer: u64, word: usize) -> u64 {
    let p = (buffer as *const u64).wrapping_add(word % BUFFER_PAGE_WORDS);
    // SAFETY: as for `buffer_write`: a mapped page, an index inside it.
    unsafe { p.read_volatile() }
}

/// Writes the byte `value` at `addr`, in memory outside the program's image that this thread
/// mapped writable through system calls (a device's register page, a scratch frame).
pub fn write_u8(addr: u64, value: u8) {
    // SAFETY: the address is in a page mapped by system calls, outside the program's image (its
    // code, data and stack), so no Rust object lives there; a volatile byte write has no
    // alignment needs. Were it unmapped, the kernel would fault the thread, not corrupt memory.
    unsafe { (addr as *mut u8).write_volatile(value) };
}

/// Reads the byte at `addr`, in memory outside the program's image that this thread mapped
/// through system calls.
pub fn read_u8(addr: u64) -> u8 {
    // SAFETY: as for `write_u8`: a page mapped by system calls, outside the program's image.
    unsafe { (addr as *const u8).read_volatile() }
}

/// Writes the 32-bit `value` at `addr` (4-byte aligned), a device register in a page this thread
/// mapped through system calls (the riscv64 RTC driver's).
#[cfg(target_arch = "riscv64")]
pub fn write_u32(addr: u64, value: u32) {
    // SAFETY: as for `write_u8`; the caller names an aligned register of a mapped device page.
    unsafe { (addr as *mut u32).write_volatile(value) };
}

/// Reads the 32-bit register at `addr` (as [`write_u32`]).
#[cfg(target_arch = "riscv64")]
pub fn read_u32(addr: u64) -> u32 {
    // SAFETY: as for `write_u32`.
    unsafe { (addr as *const u32).read_volatile() }
}

/// Reads the word at `addr`, which no page of this address space maps: the thread faults, and
/// the kernel sends the fault to its fault handler, or stops it without one.
pub fn fault_at(addr: u64) -> ! {
    let p = core::hint::black_box(addr) as *const u64;
    // SAFETY: nothing is mapped at `addr` (the caller's contract), so the read does not return:
    // the thread faults there; no Rust object is read.
    let v = unsafe { p.read_volatile() };
    loop {
        core::hint::black_box(v);
    }
}

/// Runs one floating-point instruction (x86_64: an x87 load; riscv64: a move into f0), then
/// spins: with its FPU off (TCB SetFlags' `fpuDisabled`) the thread faults at the instruction.
pub fn use_fpu() -> ! {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `fldz` pushes 0.0 on the thread's own x87 stack; it touches no memory.
    unsafe {
        core::arch::asm!("fldz", options(nomem, nostack))
    };
    #[cfg(target_arch = "riscv64")]
    // SAFETY: writes 0 into f0, a register of this thread's own FPU state; no memory.
    unsafe {
        core::arch::asm!(".option push", ".option arch, +d", "fmv.d.x f0, zero", ".option pop", out("f0") _, options(nomem, nostack))
    };
    loop {
        core::hint::spin_loop();
    }
}

/// The stack of a program started without one (the root task: seL4's boot leaves its stack
/// pointer 0, the program brings its own stack).
const BOOT_STACK_BYTES: usize = 64 * 1024;
static mut BOOT_STACK: [u128; BOOT_STACK_BYTES / 16] = [0; BOOT_STACK_BYTES / 16];

// The entry point the program is started at (by the kernel, or by the root task for the
// child): with a stack pointer of 0 it takes [`BOOT_STACK`]; it aligns the stack to 16 and
// calls `rust_start` with the first four argument registers untouched.
#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
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
    stack = sym BOOT_STACK,
    size = const BOOT_STACK_BYTES,
    entry = sym rust_start,
);
#[cfg(target_arch = "riscv64")]
core::arch::global_asm!(
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
    stack = sym BOOT_STACK,
    size = const BOOT_STACK_BYTES,
    entry = sym rust_start,
);

/// Where `_start` goes: the first four argument registers to the program's `start`.
extern "C" fn rust_start(a0: u64, a1: u64, a2: u64, a3: u64) -> ! {
    crate::start([a0, a1, a2, a3])
}

/// A reply: its label (0, or the `seL4_Error` code), length and first message words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// 0 for success, else the error code.
    pub label: u64,
    /// Message words.
    pub length: u64,
    /// MR0–3, then the IPC buffer's words.
    pub mrs: [u64; 6],
}

impl Reply {
    /// Whether the call succeeded (`seL4_NoError`).
    pub fn ok(&self) -> bool {
        self.label == abi::Error::NoError.code()
    }
}

/// A received message: the sender's badge, its label and length, MR0–3 and two IPC-buffer words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msg {
    /// The badge of the cap it came through (a notification's word for a Wait).
    pub badge: u64,
    /// The label.
    pub label: u64,
    /// Message words.
    pub length: u64,
    /// MR0–3, then the IPC buffer's words 4 and 5.
    pub mrs: [u64; 6],
    /// How many caps came with it (transferred into the receive slot).
    pub extra_caps: u64,
}

/// Puts the message words past MR3 in the IPC buffer; returns MR0–3 and the MessageInfo.
fn stage(label: u64, mrs: &[u64], extra: &[u64]) -> ([u64; 4], u64) {
    let mut regs = [0u64; 4];
    for (i, &w) in mrs.iter().enumerate().take(MSG_MAX_LENGTH as usize) {
        if i < 4 {
            regs[i] = w;
        } else {
            ipc_write(IpcBuffer::msg(i), w);
        }
    }
    for (j, &c) in extra.iter().enumerate().take(MSG_MAX_EXTRA_CAPS as usize) {
        ipc_write(IpcBuffer::cap(j), c);
    }
    (regs, MessageInfo::new(label, 0, extra.len() as u64, mrs.len() as u64).word())
}

fn msg(badge: u64, info: u64, r: [u64; 4]) -> Msg {
    let info = MessageInfo::from_word(info);
    Msg {
        badge,
        label: info.label(),
        length: info.length(),
        mrs: [r[0], r[1], r[2], r[3], ipc_read(IpcBuffer::msg(4)), ipc_read(IpcBuffer::msg(5))],
        extra_caps: info.extra_caps(),
    }
}

/// `seL4_Send(cap, MessageInfo(label, 0, length), mrs)`.
pub fn send(cap: u64, label: u64, mrs: &[u64]) {
    let (regs, info) = stage(label, mrs, &[]);
    syscall(Syscall::Send, cap, info, regs);
}

/// `seL4_Send` with extra caps (transferred only through a cap with the grant right).
pub fn send_caps(cap: u64, label: u64, mrs: &[u64], extra: &[u64]) {
    let (regs, info) = stage(label, mrs, extra);
    syscall(Syscall::Send, cap, info, regs);
}

/// `seL4_SetCapReceivePath(cnode, index, depth)`: where a received cap goes (IPC buffer words
/// `receiveCNode`, `receiveIndex`, `receiveDepth`).
#[allow(dead_code, reason = "used by the child program, which receives caps; the root task does not")]
pub fn set_receive_path(cnode: u64, index: u64, depth: u64) {
    ipc_write(IpcBuffer::RECEIVE_CNODE, cnode);
    ipc_write(IpcBuffer::RECEIVE_INDEX, index);
    ipc_write(IpcBuffer::RECEIVE_DEPTH, depth);
}

/// `seL4_Recv(cap)`: waits on an endpoint (or a notification: the badge is its word).
pub fn recv(cap: u64) -> Msg {
    let (badge, info, r) = syscall(Syscall::Recv, cap, 0, [0; 4]);
    msg(badge, info, r)
}

/// `seL4_ReplyRecv(cap, MessageInfo(label, 0, length), mrs)`: replies to the last caller and
/// waits for the next message.
pub fn reply_recv(cap: u64, label: u64, mrs: &[u64]) -> Msg {
    let (regs, info) = stage(label, mrs, &[]);
    let (badge, info, r) = syscall(Syscall::ReplyRecv, cap, info, regs);
    msg(badge, info, r)
}

/// `seL4_Reply(MessageInfo(label, 0, length), mrs)`: answers the last caller.
pub fn reply(label: u64, mrs: &[u64]) {
    let (regs, info) = stage(label, mrs, &[]);
    syscall(Syscall::Reply, 0, info, regs);
}

/// `seL4_Call` on an endpoint: the reply with the badge register (0 for a reply).
pub fn call_ep(cap: u64, label: u64, mrs: &[u64]) -> Msg {
    let (regs, info) = stage(label, mrs, &[]);
    let (badge, info, r) = syscall(Syscall::Call, cap, info, regs);
    msg(badge, info, r)
}

/// `seL4_NBRecv(cap)`: a message if a sender waits, else at once with badge 0.
#[allow(dead_code, reason = "the fuzz supervisor polls its fault endpoint; the demo does not")]
pub fn nb_recv(cap: u64) -> Msg {
    let (badge, info, r) = syscall(Syscall::NBRecv, cap, 0, [0; 4]);
    msg(badge, info, r)
}

/// `seL4_Wait(cap)` on a notification: its word (the OR of the badges signalled).
pub fn wait(cap: u64) -> u64 {
    recv(cap).badge
}

/// `seL4_Call(cap, MessageInfo(label, extra caps, length), mrs)` with extra caps.
pub fn call(cap: u64, label: u64, mrs: &[u64], extra: &[u64]) -> Reply {
    let (regs, info) = stage(label, mrs, extra);
    let (_, info, r) = syscall(Syscall::Call, cap, info, regs);
    let info = MessageInfo::from_word(info);
    Reply {
        label: info.label(),
        length: info.length(),
        mrs: [r[0], r[1], r[2], r[3], ipc_read(IpcBuffer::msg(4)), ipc_read(IpcBuffer::msg(5))],
    }
}

/// Prints a line on the kernel console.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { let _ = core::fmt::Write::write_fmt(&mut $crate::sel4::Console, format_args!("{}\n", format_args!($($arg)*))); };
}

/// Writes text to the kernel console, a character per call (`seL4_DebugPutChar`).
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            syscall(Syscall::DebugPutChar, u64::from(b), 0, [0; 4]);
        }
        Ok(())
    }
}

/// Benchmark call: the kernel starts measuring interrupt latency, with its preemption points
/// on or off (a `latency-bench` kernel).
pub fn bench_begin(preemption: u64) {
    syscall(Syscall::GearsBenchBegin, preemption, 0, [0; 4]);
}

/// Benchmark call: the kernel prints the figures for a revoke of `caps` caps.
pub fn bench_end(caps: u64) {
    syscall(Syscall::GearsBenchEnd, caps, 0, [0; 4]);
}

/// `seL4_DebugCapIdentify`: the type tag of the cap at `cptr` (`abi::cap_type`; 0: empty).
pub fn cap_identify(cptr: u64) -> u64 {
    syscall(Syscall::DebugCapIdentify, cptr, 0, [0; 4]).0
}

/// `seL4_DebugHalt` with the verdict in the cap register (1: every scenario passed): the
/// kernel ends the run.
pub fn halt(ok: bool) -> ! {
    loop {
        syscall(Syscall::DebugHalt, u64::from(ok), 0, [0; 4]);
    }
}

/// The word at the thread's TLS base: `%fs:0` on x86_64; on riscv64 the word `tp` points to.
pub fn tls_word() -> u64 {
    let w: u64;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads the 8 bytes at the FS base, which the caller set to a static
    // `u64` of this program (mapped, aligned, live for the program's life).
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) w, options(nostack, readonly))
    };
    #[cfg(target_arch = "riscv64")]
    // SAFETY: as above, through `tp`, which the kernel set to a static `u64`.
    unsafe {
        core::arch::asm!("ld {}, 0(tp)", out(reg) w, options(nostack, readonly))
    };
    w
}
