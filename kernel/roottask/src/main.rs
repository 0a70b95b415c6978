//! The Gears root task: real Rust code in user mode, built on its own and embedded in the
//! kernel image, calling the capability kernel through seL4 system calls.
//!
//! The kernel boots it as seL4 boots a root task: the address of its `seL4_BootInfo` in the
//! first argument register (Gears' latency-bench kernel puts 1 in the second: run the bench).
//! It checks what boot gave it, runs sel4test-style scenarios, printing what it sees, then halts
//! with its verdict.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

mod loader;
mod regs;
#[allow(unsafe_code, reason = "the system calls, the IPC buffer, raw memory and the entry point")]
mod sel4;
mod vm;

use regs::resume_at;
use sel4::call;

use abi::bootinfo::{
    BootInfo, CAP_INIT_THREAD_CNODE as ROOT, CAP_INIT_THREAD_TCB as TCB, CAP_INIT_THREAD_VSPACE as VSPACE,
    CAP_IRQ_CONTROL as IRQ_CONTROL, SlotRegion,
};
use abi::label::cnode::{
    COPY as CNODE_COPY, DELETE as CNODE_DELETE, MINT as CNODE_MINT, MOVE as CNODE_MOVE,
    REVOKE as CNODE_REVOKE,
};
use abi::label::irq_control::ISSUE_IRQ_HANDLER as IRQ_ISSUE_IRQ_HANDLER;
use abi::label::irq_handler::{ACK as IRQ_ACK_IRQ, SET_NOTIFICATION as IRQ_SET_IRQ_HANDLER};
use abi::label::tcb::{
    CONFIGURE as TCB_CONFIGURE, READ_REGISTERS as TCB_READ_REGISTERS, SET_PRIORITY as TCB_SET_PRIORITY,
};
use abi::label::untyped::RETYPE as UNTYPED_RETYPE;
use abi::object::{CAP_TABLE, ENDPOINT, NOTIFICATION, TCB as TCB_OBJECT};

/// Resolve root-CNode slots with all 64 bits.
const DEPTH: u64 = abi::WORD_BITS;
/// All rights (`seL4_AllRights`).
const ALL_RIGHTS: u64 = abi::CapRights::ALL.word();
/// Error codes.
const ILLEGAL_OPERATION: u64 = abi::Error::IllegalOperation.code();
const FAILED_LOOKUP: u64 = abi::Error::FailedLookup.code();
const DELETE_FIRST: u64 = abi::Error::DeleteFirst.code();

/// The child program (`src/child.rs`), embedded by the build script; empty in its own build.
static CHILD_ELF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/child.elf"));

/// Checks one reply's label; says what happened.
fn expect(what: &str, got: u64, want: u64) -> bool {
    let ok = got == want;
    say!("root task: {what}: error {got} ({})", if ok { "as expected" } else { "UNEXPECTED" });
    ok
}

fn retype(ut: u64, ty: u64, size: u64, slot: u64, n: u64) -> u64 {
    call(ut, UNTYPED_RETYPE, &[ty, size, 0, 0, slot, n], &[ROOT]).label
}

fn copy(dest: u64, src: u64) -> u64 {
    call(ROOT, CNODE_COPY, &[dest, DEPTH, src, DEPTH, ALL_RIGHTS], &[ROOT]).label
}

/// CNode operations (after sel4test's CNODEOP tests).
fn cnode_ops(ut: u64, free: u64) -> bool {
    let (ep, b, c, d, e, f) = (free, free + 1, free + 2, free + 3, free + 4, free + 5);
    let mut ok = expect("retype an endpoint", retype(ut, ENDPOINT, 0, ep, 1), 0);
    ok &= expect("copy it", copy(b, ep), 0);
    let mint = call(ROOT, CNODE_MINT, &[c, DEPTH, ep, DEPTH, ALL_RIGHTS, 0x5a], &[ROOT]).label;
    ok &= expect("mint it with badge 0x5a (six message words: two in the IPC buffer)", mint, 0);
    ok &= expect("copy onto an occupied slot", copy(b, ep), DELETE_FIRST);
    ok &= expect("copy from an empty slot", copy(f, e), FAILED_LOOKUP);
    ok &= expect("move", call(ROOT, CNODE_MOVE, &[d, DEPTH, b, DEPTH], &[ROOT]).label, 0);
    ok &= expect("delete", call(ROOT, CNODE_DELETE, &[d, DEPTH], &[]).label, 0);
    let rebadge = call(ROOT, CNODE_MINT, &[f, DEPTH, c, DEPTH, ALL_RIGHTS, 0x77], &[ROOT]).label;
    ok &= expect("re-badge the badged cap", rebadge, ILLEGAL_OPERATION);
    ok &= expect(
        "read its own registers",
        call(TCB, TCB_READ_REGISTERS, &[0, 2], &[]).label,
        ILLEGAL_OPERATION,
    );
    ok
}

/// PREEMPT_REVOKE: 16 CNodes of 4096 copies of an endpoint, made by 65,536 Copy calls, then one
/// Revoke, which the kernel preempts and the root task re-enters until it converges.
fn preempt_revoke(ut: u64, free: u64) -> bool {
    let (ep, cnodes) = (free, free + 1);
    let mut ok = expect("retype an endpoint", retype(ut, ENDPOINT, 0, ep, 1), 0);
    ok &= expect("retype 16 CNodes of radix 12", retype(ut, CAP_TABLE, 12, cnodes, 16), 0);
    let mut copies = 0u64;
    for k in 0..16 {
        for j in 0..4096 {
            let r = call(cnodes + k, CNODE_COPY, &[j, 12, ep, DEPTH, ALL_RIGHTS], &[ROOT]).label;
            if r != 0 {
                say!("root task: copy {j} into CNode {k} failed with error {r}");
                return false;
            }
            copies += 1;
        }
    }
    say!("root task: made {copies} copies of endpoint {ep}; revoking them with one call");
    ok &= expect("revoke", call(ROOT, CNODE_REVOKE, &[ep, DEPTH], &[]).label, 0);
    ok &= expect("copy after the revoke (the slots are free again)", copy(free + 20, ep), 0);
    ok
}

/// The timer's IRQ line: the kernel shares its tick with one user-level driver.
const IRQ_TIMER: u64 = 0;
/// Stacks for the threads the root task starts in its own address space.
const STACK_WORDS: usize = 2048;
static mut STACKS: [[u64; STACK_WORDS]; 7] = [[0; STACK_WORDS]; 7];

fn stack_top(i: usize) -> u64 {
    let base = &raw const STACKS as u64;
    base + ((i + 1) * STACK_WORDS * 8) as u64
}

/// Starts a thread in the root task's CSpace and VSpace (as sel4test's helper threads): TCB
/// Configure, SetPriority, then WriteRegisters with its entry point, stack and argument, resuming it.
fn start_thread(tcb: u64, entry: extern "C" fn(u64) -> !, stack: usize, arg: u64, prio: u64) -> bool {
    start_thread_with_handler(tcb, entry, stack, arg, prio, 0)
}

/// [`start_thread`] with a fault endpoint (cptr; 0: none).
fn start_thread_with_handler(
    tcb: u64,
    entry: extern "C" fn(u64) -> !,
    stack: usize,
    arg: u64,
    prio: u64,
    fault_ep: u64,
) -> bool {
    let mut ok = expect(
        "configure the thread",
        call(tcb, TCB_CONFIGURE, &[fault_ep, 0, 0, 0], &[ROOT, VSPACE, VSPACE]).label,
        0,
    );
    ok &= expect("set its priority", call(tcb, TCB_SET_PRIORITY, &[prio], &[TCB]).label, 0);
    ok &= expect("start it", resume_at(tcb, entry as *const () as u64, stack_top(stack), &[arg]), 0);
    ok
}

/// An echo server: replies to each caller with the badge it called through, the sum of its
/// words and its label.
extern "C" fn echo_server(ep: u64) -> ! {
    let mut m = sel4::recv(ep);
    loop {
        let n = m.length.min(4) as usize;
        let sum: u64 = m.mrs[..n].iter().sum();
        m = sel4::reply_recv(ep, 0, &[m.badge, sum, m.label]);
    }
}

/// IPC between two threads (after sel4test's IPC tests): an echo server waits on an endpoint;
/// the root task calls it through a badged and an unbadged cap and checks the replies.
fn ipc_threads(ut: u64, free: u64) -> bool {
    let (ep, badged, tcb) = (free, free + 1, free + 2);
    let mut ok = expect("retype an endpoint", retype(ut, ENDPOINT, 0, ep, 1), 0);
    let mint = call(ROOT, CNODE_MINT, &[badged, DEPTH, ep, DEPTH, ALL_RIGHTS, 0x61], &[ROOT]).label;
    ok &= expect("mint a cap to it with badge 0x61", mint, 0);
    ok &= expect("retype a TCB", retype(ut, TCB_OBJECT, 0, tcb, 1), 0);
    ok &= start_thread(tcb, echo_server, 0, ep, 50);
    for (cap, badge) in [(badged, 0x61), (ep, 0)] {
        let r = sel4::call_ep(cap, 7, &[1, 2, 3, 4]);
        say!(
            "root task: Call through cap {cap} -> server replied badge {:#x}, sum {}, label {}",
            r.mrs[0],
            r.mrs[1],
            r.mrs[2]
        );
        ok &= r.label == 0 && r.length == 3 && r.mrs[..3] == [badge, 10, 7];
    }
    if !ok {
        say!("root task: IPC with the server thread: UNEXPECTED reply");
    }
    ok
}

/// The label of the last message [`receiver`] got.
static RECEIVED: AtomicU64 = AtomicU64::new(0);

/// Receives on the cap given as argument and notes each label (a thread of IPC rights: without
/// the read right its receive is a cap fault, which goes to its fault handler).
extern "C" fn receiver(cap: u64) -> ! {
    loop {
        RECEIVED.store(sel4::recv(cap).label, Ordering::Relaxed);
    }
}

use abi::fault::CAP_FAULT;
use abi::fault::cap_fault::{ADDR as CAP_FAULT_ADDR, IN_RECV_PHASE as CAP_FAULT_IN_RECV_PHASE};
/// `seL4_InvalidCapability`.
const INVALID_CAPABILITY: u64 = abi::Error::InvalidCapability.code();
/// Rights words.
const READ_ONLY: u64 = abi::CapRights::READ.word();
const WRITE_ONLY: u64 = abi::CapRights::WRITE.word();
const WRITE_GRANT: u64 = abi::CapRights::new(false, true, false, true).word();

/// IPC rights (after sel4test's IPCRIGHTS0001–0002): a Call through an endpoint cap without the
/// write right is refused with InvalidCapability and reaches no one; a Recv through one without
/// the read right is a cap fault, which the kernel sends to the receiving thread's fault handler
/// (in the receive phase); a Call through a write-only cap does reach a receiver.
fn ipc_rights(ut: u64, free: u64) -> bool {
    let (ep, ro, wo, fault_ep, tcb) = (free, free + 1, free + 2, free + 3, free + 4);
    let mut ok = expect("retype an endpoint", retype(ut, ENDPOINT, 0, ep, 1), 0);
    ok &= expect("and a fault endpoint", retype(ut, ENDPOINT, 0, fault_ep, 1), 0);
    ok &= expect(
        "mint a read-only cap",
        call(ROOT, CNODE_MINT, &[ro, DEPTH, ep, DEPTH, READ_ONLY, 0], &[ROOT]).label,
        0,
    );
    ok &= expect(
        "mint a write-only cap",
        call(ROOT, CNODE_MINT, &[wo, DEPTH, ep, DEPTH, WRITE_ONLY, 0], &[ROOT]).label,
        0,
    );
    let r = sel4::call_ep(ro, 9, &[1]);
    ok &= expect("Call through the read-only cap", r.label, INVALID_CAPABILITY);
    ok &= expect("retype a receiver thread", retype(ut, TCB_OBJECT, 0, tcb, 1), 0);
    ok &= start_thread_with_handler(tcb, receiver, 4, wo, 200, fault_ep);
    let f = sel4::recv(fault_ep);
    say!(
        "root task: Recv through the write-only cap {wo}: fault message label {} (CapFault), address {}, in receive phase {}",
        f.label,
        f.mrs[CAP_FAULT_ADDR],
        f.mrs[CAP_FAULT_IN_RECV_PHASE]
    );
    ok &= f.label == CAP_FAULT && f.mrs[CAP_FAULT_ADDR] == wo && f.mrs[CAP_FAULT_IN_RECV_PHASE] == 1;
    // A receiver on the read-only cap gets what is sent through the write-only one.
    ok &= expect("retype a second receiver", retype(ut, TCB_OBJECT, 0, tcb + 1, 1), 0);
    ok &= start_thread_with_handler(tcb + 1, receiver, 5, ro, 200, fault_ep);
    sel4::send(wo, 0x77, &[5, 6]);
    let got = RECEIVED.load(Ordering::Relaxed);
    say!("root task: Send through the write-only cap: the receiver on the read-only cap got label {got:#x}");
    ok &= got == 0x77;
    if !ok {
        say!("root task: IPC rights: UNEXPECTED");
    }
    ok
}

/// Ticks the timer driver has handled.
static DRIVER_TICKS: AtomicU64 = AtomicU64::new(0);

/// A user-level timer driver: acknowledges the IRQ, waits on its notification, which the kernel
/// signals at the next timer tick, and counts it. Its argument: notification cptr | handler << 32.
extern "C" fn timer_driver(arg: u64) -> ! {
    let (ntfn, handler) = (arg & 0xffff_ffff, arg >> 32);
    // A tick may have come between IssueIRQHandler and SetNotification: undelivered, it left the
    // IRQ masked (as in seL4), so acknowledge before every wait.
    loop {
        call(handler, IRQ_ACK_IRQ, &[], &[]);
        sel4::wait(ntfn);
        DRIVER_TICKS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts the timer driver at priority 254 and lowers the root task to 100, so the driver runs
/// as soon as a tick wakes it; waits until it has seen five ticks.
fn timer_driver_thread(ut: u64, free: u64) -> bool {
    let (handler, ntfn, tcb) = (free, free + 1, free + 2);
    let issue = call(IRQ_CONTROL, IRQ_ISSUE_IRQ_HANDLER, &[IRQ_TIMER, handler, DEPTH], &[ROOT]).label;
    let mut ok = expect("get the timer's IRQ handler cap", issue, 0);
    ok &= expect("retype a notification", retype(ut, NOTIFICATION, 0, ntfn, 1), 0);
    ok &= expect("bind the IRQ to it", call(handler, IRQ_SET_IRQ_HANDLER, &[], &[ntfn]).label, 0);
    ok &= expect("retype the driver's TCB", retype(ut, TCB_OBJECT, 0, tcb, 1), 0);
    ok &= start_thread(tcb, timer_driver, 1, ntfn | (handler << 32), 254);
    ok &=
        expect("lower the root task's priority to 100", call(TCB, TCB_SET_PRIORITY, &[100], &[TCB]).label, 0);
    while DRIVER_TICKS.load(Ordering::Relaxed) < 5 {
        core::hint::spin_loop();
    }
    say!("root task: the user-level timer driver has handled {} ticks", DRIVER_TICKS.load(Ordering::Relaxed));
    ok
}

/// A thread that dereferences null: the kernel stops it (it has no fault handler) and the root
/// task goes on; its TCB still says where it stopped.
extern "C" fn faulter(_: u64) -> ! {
    // The null page is unmapped.
    sel4::fault_at(0)
}

use abi::fault::VM_FAULT;
use abi::fault::vm_fault::{ADDR as VM_FAULT_ADDR, IP as VM_FAULT_IP};

/// Two threads dereference null: the one with a fault endpoint has its fault sent there as a
/// message (seL4's fault IPC: the root task receives a VMFault with the address and ip); the one
/// without is stopped by the kernel. The root task runs on either way.
fn faulting_threads(ut: u64, free: u64) -> bool {
    let (fault_ep, handled, unhandled) = (free, free + 1, free + 2);
    let mut ok = expect("retype a fault endpoint", retype(ut, ENDPOINT, 0, fault_ep, 1), 0);
    ok &= expect("retype two TCBs", retype(ut, TCB_OBJECT, 0, handled, 2), 0);
    let entry = faulter as *const () as u64;
    ok &= start_thread_with_handler(handled, faulter, 2, 0, 200, fault_ep);
    let f = sel4::recv(fault_ep);
    say!(
        "root task: fault message: label {} (VMFault), address {:#x}, ip {:#x}",
        f.label,
        f.mrs[VM_FAULT_ADDR],
        f.mrs[VM_FAULT_IP]
    );
    ok &= f.label == VM_FAULT && f.mrs[VM_FAULT_ADDR] == 0;
    ok &= f.mrs[VM_FAULT_IP] >= entry && f.mrs[VM_FAULT_IP] < entry + 64;
    ok &= start_thread(unhandled, faulter, 3, 0, 200);
    let r = call(unhandled, TCB_READ_REGISTERS, &[0, 1], &[]);
    ok &= expect("read the stopped thread's registers", r.label, 0);
    say!(
        "root task: the thread without a fault handler was stopped at ip {:#x}; the root task runs on",
        r.mrs[0]
    );
    ok &= r.mrs[0] >= entry && r.mrs[0] < entry + 64;
    ok
}

extern "C" fn fpu_user(_: u64) -> ! {
    sel4::use_fpu()
}

/// TCB SetFlags' `fpuDisabled`: a thread whose FPU is off faults at its first floating-point
/// instruction, a UserException (x86_64: #NM, vector 7; riscv64: illegal instruction, cause 2),
/// which its fault handler receives; SetFlags answers with the flags it set.
fn fpu_disabled_thread(ut: u64, free: u64) -> bool {
    let (fault_ep, tcb) = (free, free + 1);
    let mut ok = expect("retype a fault endpoint", retype(ut, ENDPOINT, 0, fault_ep, 1), 0);
    ok &= expect("retype a TCB", retype(ut, TCB_OBJECT, 0, tcb, 1), 0);
    let r = call(tcb, abi::label::tcb::SET_FLAGS, &[0, abi::tcb::FLAG_FPU_DISABLED], &[]);
    ok &= expect("turn its FPU off", r.label, 0) && r.mrs[0] == abi::tcb::FLAG_FPU_DISABLED;
    ok &= start_thread_with_handler(tcb, fpu_user, 4, 0, 200, fault_ep);
    let f = sel4::recv(fault_ep);
    #[cfg(target_arch = "x86_64")]
    let (number_at, want) = (abi::x86_64::fault::USER_EXCEPTION_NUMBER, 7);
    #[cfg(target_arch = "riscv64")]
    let (number_at, want) = (abi::riscv64::fault::USER_EXCEPTION_NUMBER, 2);
    say!("root task: fault message: label {} (UserException), number {}", f.label, f.mrs[number_at]);
    ok && f.label == abi::fault::USER_EXCEPTION && f.mrs[number_at] == want
}

/// The interrupt-latency bench (a kernel built with `latency-bench`, under `-icount`): with the
/// timer driver running, revoke 2^12 caps (8 rounds, each started at a different phase of the
/// timer) and 2^16 caps, with the kernel's preemption points on and off, each revoke between the
/// kernel's benchmark calls, which print the largest tick-to-driver latency.
fn latency_bench(ut: u64, free: u64) -> bool {
    let (ep, cnodes) = (free, free + 1);
    let mut ok = expect("retype an endpoint", retype(ut, ENDPOINT, 0, ep, 1), 0);
    ok &= expect("retype 16 CNodes of radix 12", retype(ut, CAP_TABLE, 12, cnodes, 16), 0);
    for (n, rounds) in [(1u64, 8u64), (16, 1)] {
        for preemption in [1, 0] {
            for round in 0..rounds {
                for k in 0..n {
                    for j in 0..4096 {
                        if !call(cnodes + k, CNODE_COPY, &[j, 12, ep, DEPTH, ALL_RIGHTS], &[ROOT]).ok() {
                            say!("root task: bench: copy {j} into CNode {k} failed");
                            return false;
                        }
                    }
                }
                for i in 0..round * 400_000 {
                    core::hint::black_box(i);
                }
                sel4::bench_begin(preemption);
                let r = call(ROOT, CNODE_REVOKE, &[ep, DEPTH], &[]).label;
                sel4::bench_end(n * 4096);
                ok &= r == 0;
            }
        }
    }
    ok
}

/// IPC between two threads in different address spaces: the root task builds an address space
/// for the child program out of seL4 objects, starts it with an endpoint and a fault endpoint,
/// answers its call (six words: two through each side's IPC buffer), and receives the fault
/// message the kernel sends when the child touches an unmapped page.
fn child_in_own_address_space(ut: u64, free: u64) -> bool {
    if CHILD_ELF.is_empty() {
        say!("root task: no child program was embedded (build with `cargo xtask`)");
        return false;
    }
    let mut s = vm::Slots(free);
    let (ep, fault_ep, tcb, offered, granting, no_grant, received) =
        (free, free + 1, free + 2, free + 3, free + 4, free + 5, free + 6);
    s.0 += 9;
    let mut ok = expect("retype an endpoint and a fault endpoint", retype(ut, ENDPOINT, 0, ep, 2), 0);
    ok &= expect("and an endpoint to offer", retype(ut, ENDPOINT, 0, offered, 1), 0);
    let mint = |dest, rights| call(ROOT, CNODE_MINT, &[dest, DEPTH, ep, DEPTH, rights, 0], &[ROOT]).label;
    ok &= expect("mint a write+grant cap to the endpoint", mint(granting, WRITE_GRANT), 0);
    ok &= expect("mint a write-only cap to it", mint(no_grant, WRITE_ONLY), 0);
    let Some(child) = loader::load(ut, &mut s, CHILD_ELF) else {
        say!("root task: loading the child FAILED");
        return false;
    };
    ok &= expect("retype the child's TCB", retype(ut, TCB_OBJECT, 0, tcb, 1), 0);
    let configure = call(
        tcb,
        TCB_CONFIGURE,
        &[fault_ep, 0, 0, loader::IPC_BUFFER],
        &[ROOT, child.vspace, child.ipc_frame],
    );
    ok &= expect("configure it: fault endpoint, our CSpace, its VSpace, its IPC buffer", configure.label, 0);
    ok &= expect("set its priority to 150", call(tcb, TCB_SET_PRIORITY, &[150], &[TCB]).label, 0);
    ok &= expect("start it", resume_at(tcb, child.entry, loader::STACK_TOP, &[ep, received]), 0);
    let m = sel4::recv(ep);
    say!("root task: the child called: label {}, {} words, {:x?}", m.label, m.length, m.mrs);
    ok &= m.label == 1 && m.length == 6 && m.mrs == [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
    let sum: u64 = m.mrs.iter().sum();
    sel4::reply(0, &[sum, 0x600d]);
    let m = sel4::recv(ep);
    ok &= m.label == 2 && m.mrs[..2] == [sum, 0x600d];
    sel4::reply(0, &[]);
    // Grant (IPCRIGHTS): a cap sent through a cap with the grant right is transferred into the
    // child's receive slot; through one without, the message arrives without it.
    sel4::send_caps(granting, 4, &[], &[offered]);
    sel4::send_caps(no_grant, 5, &[], &[offered]);
    let m = sel4::recv(ep);
    say!(
        "root task: the child got label {} with {} cap(s) through the write+grant cap, label {} with {} \
         through the write-only cap",
        m.mrs[0],
        m.mrs[1],
        m.mrs[2],
        m.mrs[3]
    );
    ok &= m.label == 3 && m.mrs[..4] == [4, 1, 5, 0];
    ok &= expect("the other receive slot is empty", copy(received + 2, received + 1), FAILED_LOOKUP);
    ok &= expect("the granted cap is in the child's receive slot (copy it)", copy(received + 2, received), 0);
    sel4::reply(0, &[]);
    let f = sel4::recv(fault_ep);
    say!(
        "root task: fault message from the child: label {} (VMFault), address {:#x}, ip {:#x}",
        f.label,
        f.mrs[VM_FAULT_ADDR],
        f.mrs[0]
    );
    ok &= f.label == VM_FAULT && f.mrs[VM_FAULT_ADDR] == 0x30_0000_0000;
    if !ok {
        say!("root task: the child in its own address space: UNEXPECTED");
    }
    ok
}

/// QEMU `virt`'s Goldfish RTC: its registers' page, its PLIC line, and its 32-bit registers
/// (time and alarm in nanoseconds; writing ALARM_LOW arms the alarm).
#[cfg(target_arch = "riscv64")]
mod rtc {
    pub const PADDR: u64 = 0x10_1000;
    pub const IRQ: u64 = 11;
    pub const TIME_LOW: u64 = 0x00;
    pub const TIME_HIGH: u64 = 0x04;
    pub const ALARM_LOW: u64 = 0x08;
    pub const ALARM_HIGH: u64 = 0x0c;
    pub const IRQ_ENABLED: u64 = 0x10;
    pub const CLEAR_INTERRUPT: u64 = 0x1c;
}

/// Alarms the RTC driver has handled, and where the root task mapped the RTC's registers.
#[cfg(target_arch = "riscv64")]
static RTC_IRQS: AtomicU64 = AtomicU64::new(0);
#[cfg(target_arch = "riscv64")]
static RTC_REGS: AtomicU64 = AtomicU64::new(0);

/// Register `reg` of the RTC, which the root task mapped (a device frame from a device
/// untyped) read-write at `RTC_REGS` before any thread calls this.
#[cfg(target_arch = "riscv64")]
fn rtc_reg(reg: u64) -> u64 {
    RTC_REGS.load(Ordering::Relaxed) + reg
}

/// A user-level RTC driver: acknowledges its IRQ, waits on the notification the kernel signals
/// when the RTC's PLIC line fires, clears the device's interrupt and counts it. Argument:
/// notification | handler << 32.
#[cfg(target_arch = "riscv64")]
extern "C" fn rtc_driver(arg: u64) -> ! {
    let (ntfn, handler) = (arg & 0xffff_ffff, arg >> 32);
    loop {
        call(handler, IRQ_ACK_IRQ, &[], &[]);
        sel4::wait(ntfn);
        sel4::write_u32(rtc_reg(rtc::CLEAR_INTERRUPT), 1);
        RTC_IRQS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A user-level device driver on riscv64: the RTC's register page comes from the device untyped
/// that BootInfo lists for its address, as a frame the root task maps; its alarm interrupt
/// (PLIC line 11) reaches a driver thread through IRQControl, IRQHandler and a notification.
/// The root task sets the alarm twice (the second shows the driver's Ack unmasked the line
/// again).
#[cfg(target_arch = "riscv64")]
fn rtc_driver_thread(bi: &BootInfo, ut: u64, free: u64) -> bool {
    let (handler, ntfn, frame, tcb) = (free, free + 1, free + 2, free + 3);
    let device = bi.untypeds().find(|(_, u)| u.is_device != 0 && u.paddr == rtc::PADDR);
    let Some((device_ut, _)) = device else {
        say!("root task: no device untyped starts at the RTC's page {:#x}: UNEXPECTED", rtc::PADDR);
        return false;
    };
    let issue = call(IRQ_CONTROL, IRQ_ISSUE_IRQ_HANDLER, &[rtc::IRQ, handler, DEPTH], &[ROOT]).label;
    let mut ok = expect("get the RTC's IRQ handler cap (PLIC line 11)", issue, 0);
    ok &= expect("retype a notification", retype(ut, NOTIFICATION, 0, ntfn, 1), 0);
    ok &= expect("bind the IRQ to it", call(handler, IRQ_SET_IRQ_HANDLER, &[], &[ntfn]).label, 0);
    let dev = retype(device_ut, loader::PAGE_TYPE, 0, frame, 1);
    ok &= expect("retype the RTC's page from its device untyped", dev, 0);
    let Some(regs) = loader::map_scratch(frame, 0x1000) else {
        say!("root task: mapping the RTC's page FAILED");
        return false;
    };
    RTC_REGS.store(regs, Ordering::Relaxed);
    ok &= expect("retype the driver's TCB", retype(ut, TCB_OBJECT, 0, tcb, 1), 0);
    ok &= start_thread(tcb, rtc_driver, 6, ntfn | (handler << 32), 253);
    sel4::write_u32(rtc_reg(rtc::IRQ_ENABLED), 1);
    for n in 1..=2 {
        // Reading TIME_LOW latches TIME_HIGH.
        let low = u64::from(sel4::read_u32(rtc_reg(rtc::TIME_LOW)));
        let now = low | u64::from(sel4::read_u32(rtc_reg(rtc::TIME_HIGH))) << 32;
        let alarm = now + 1_000_000;
        sel4::write_u32(rtc_reg(rtc::ALARM_HIGH), (alarm >> 32) as u32);
        sel4::write_u32(rtc_reg(rtc::ALARM_LOW), alarm as u32);
        while RTC_IRQS.load(Ordering::Relaxed) < n {
            core::hint::spin_loop();
        }
    }
    say!(
        "root task: the user-level RTC driver handled {} alarms from PLIC line {}",
        RTC_IRQS.load(Ordering::Relaxed),
        rtc::IRQ
    );
    ok
}

/// What seL4's boot gave the root task, checked as a root task can (`seL4_DebugCapIdentify`):
/// the initial caps in their slots, every slot of `userImagePaging` a paging structure and of
/// `userImageFrames` and `extraBIPages` a frame, the untyped list's entries untypeds with no two
/// overlapping, the empty range empty; and one more page mapped beside the image, through the
/// paging structures boot made, is memory the root task can write and read.
fn boot_info(bi: &BootInfo, ut: u64, free: u64) -> bool {
    let identify = |slots: core::ops::Range<u64>, tags: &[u64]| {
        slots.into_iter().all(|s| tags.contains(&sel4::cap_identify(s)))
    };
    let paging_tags = [abi::cap_type::PAGE_TABLE, vm::PD_TAG, vm::PDPT_TAG];
    let r = |r: SlotRegion| r.start..r.end;
    let mut ok = true;
    ok &= check(
        "the initial caps are in seL4's slots",
        [
            (TCB, abi::cap_type::THREAD),
            (ROOT, abi::cap_type::CNODE),
            (VSPACE, vm::ROOT_TAG),
            (IRQ_CONTROL, abi::cap_type::IRQ_CONTROL),
            (abi::bootinfo::CAP_ASID_CONTROL, abi::cap_type::ASID_CONTROL),
            (abi::bootinfo::CAP_INIT_THREAD_ASID_POOL, abi::cap_type::ASID_POOL),
            (abi::bootinfo::CAP_BOOT_INFO_FRAME, abi::cap_type::FRAME),
            (abi::bootinfo::CAP_INIT_THREAD_IPC_BUFFER, abi::cap_type::FRAME),
            (abi::bootinfo::CAP_DOMAIN, abi::cap_type::DOMAIN),
        ]
        .iter()
        .all(|&(slot, tag)| sel4::cap_identify(slot) == tag),
    );
    ok &= check("userImagePaging holds paging structures", identify(r(bi.user_image_paging), &paging_tags));
    ok &= check("userImageFrames holds frames", identify(r(bi.user_image_frames), &[abi::cap_type::FRAME]));
    ok &= check("extraBIPages holds frames", identify(r(bi.extra_bi_pages), &[abi::cap_type::FRAME]));
    ok &= check("untyped holds untypeds", identify(r(bi.untyped), &[abi::cap_type::UNTYPED]));
    ok &= check("the empty range is empty", identify(free..bi.empty.end, &[abi::cap_type::NULL]));
    let span = |u: abi::bootinfo::UntypedDesc| (u.paddr, u.paddr + (1u64 << u.size_bits));
    let disjoint = bi.untypeds().all(|(i, a)| {
        let a = span(a);
        bi.untypeds().filter(|&(j, _)| j > i).all(|(_, b)| {
            let b = span(b);
            a.1 <= b.0 || b.1 <= a.0
        })
    });
    ok &= check("no two untypeds overlap", disjoint);
    let ram: u64 = bi.untypeds().filter(|(_, u)| u.is_device == 0).map(|(_, u)| 1u64 << u.size_bits).sum();
    let devices = bi.untypeds().filter(|(_, u)| u.is_device != 0).count();
    say!(
        "root task: BootInfo: {} image frames, {} paging structures, {} extra bootinfo pages, {} untypeds \
         ({} KiB of RAM, {devices} device regions), empty slots {}..{}, CNode of 2^{} slots",
        bi.user_image_frames.end - bi.user_image_frames.start,
        bi.user_image_paging.end - bi.user_image_paging.start,
        bi.extra_bi_pages.end - bi.extra_bi_pages.start,
        bi.untyped.end - bi.untyped.start,
        ram / 1024,
        bi.empty.start,
        bi.empty.end,
        bi.init_thread_cnode_size_bits
    );
    // The page after everything boot mapped (the IPC buffer, the BootInfo frame, the extra
    // bootinfo), in the page table boot made for them.
    let beside = bi.ipc_buffer + (2 + bi.extra_bi_pages.end - bi.extra_bi_pages.start) * vm::PAGE;
    ok &= expect("retype a frame", retype(ut, vm::PAGE_TYPE, 0, free, 1), 0);
    ok &= expect(
        "map it beside the image",
        call(free, vm::PAGE_MAP, &[beside, loader::RW, vm::ATTR], &[VSPACE]).label,
        0,
    );
    sel4::write_u8(beside + 5, 0x5a);
    ok &= check("the page beside the image holds what was written", sel4::read_u8(beside + 5) == 0x5a);
    ok &= expect("unmap it", call(free, vm::PAGE_UNMAP, &[], &[]).label, 0);
    ok &= expect("delete it", call(ROOT, CNODE_DELETE, &[free, DEPTH], &[]).label, 0);
    ok
}

/// Says whether `what` held.
fn check(what: &str, held: bool) -> bool {
    say!("root task: {what}: {}", if held { "yes" } else { "NO" });
    held
}

/// Where the root task starts: `boot_info` is where seL4's boot mapped its `seL4_BootInfo`;
/// `bench` non-zero in a kernel built for the latency bench.
fn start([boot_info_addr, bench, ..]: [u64; 4]) -> ! {
    let bi = sel4::read_boot_info(boot_info_addr);
    let free = bi.empty.start;
    // The largest untyped of RAM, and the device untyped holding riscv64's RTC.
    let Some((ut, _)) = bi.untypeds().filter(|(_, u)| u.is_device == 0).max_by_key(|(_, u)| u.size_bits)
    else {
        say!("root task: boot gave no untyped RAM");
        sel4::halt(false)
    };
    say!(
        "root task: Rust in user mode; BootInfo at {boot_info_addr:#x}, first free slot {free}, untyped cap {ut}"
    );
    if bench != 0 {
        let ok = timer_driver_thread(ut, free) && latency_bench(ut, free + 8);
        sel4::halt(ok);
    }
    say!("root task: -- what boot gave --");
    let mut ok = boot_info(&bi, ut, free);
    ok &= cnode_ops(ut, free);
    say!("root task: -- IPC between two threads --");
    ok &= ipc_threads(ut, free + 8);
    say!("root task: -- a user-level timer driver --");
    ok &= timer_driver_thread(ut, free + 12);
    say!("root task: -- IPC rights --");
    ok &= ipc_rights(ut, free + 200);
    say!("root task: -- a child in its own address space --");
    ok &= child_in_own_address_space(ut, free + 100);
    #[cfg(target_arch = "riscv64")]
    {
        say!("root task: -- a user-level RTC driver (riscv64) --");
        ok &= rtc_driver_thread(&bi, ut, free + 300);
    }
    say!("root task: -- thread-local storage --");
    ok &= thread_local_storage();
    say!("root task: -- a thread with its FPU off --");
    ok &= fpu_disabled_thread(ut, free + 60);
    say!("root task: -- threads that fault: with a fault handler and without --");
    ok &= faulting_threads(ut, free + 16);
    say!("root task: -- PREEMPT_REVOKE while the timer driver runs --");
    let before = DRIVER_TICKS.load(Ordering::Relaxed);
    ok &= preempt_revoke(ut, free + 24);
    say!(
        "root task: the driver handled {} ticks during the revoke",
        DRIVER_TICKS.load(Ordering::Relaxed) - before
    );
    say!("root task: {}", if ok { "all scenarios passed" } else { "a scenario FAILED" });
    sel4::halt(ok)
}

/// Two words, each a thread-local block for [`thread_local_storage`] to point its TLS base at.
static TLS_BLOCKS: [u64; 2] = [0x7e57_0001, 0x7e57_0002];

/// Thread-local storage, the way seL4 programs set it up: TCB SetTLSBase on the thread's own TCB
/// (both arches; x86_64's FS base, riscv64's tp), and x86_64's SetTLSBase system call. The
/// thread then reads its TLS block through the register.
fn thread_local_storage() -> bool {
    let [a, b] = [&TLS_BLOCKS[0] as *const u64 as u64, &TLS_BLOCKS[1] as *const u64 as u64];
    let mut ok =
        expect("TCB SetTLSBase on its own TCB", call(TCB, abi::label::tcb::SET_TLS_BASE, &[a], &[]).label, 0);
    ok &= sel4::tls_word() == TLS_BLOCKS[0];
    #[cfg(target_arch = "x86_64")]
    {
        sel4::raw_syscall(abi::Syscall::SetTLSBase.word(), b, 0, [0; 4]);
        ok &= sel4::tls_word() == TLS_BLOCKS[1];
    }
    let _ = b;
    say!("root task: its TLS block read through the TLS register: {}", if ok { "as set" } else { "WRONG" });
    ok
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    say!("root task: panic: {info}");
    sel4::halt(false)
}
