//! The Gears root task: real Rust code in user mode, built on its own and embedded in the
//! kernel image, calling the capability kernel through seL4 system calls (the `gears-user`
//! library's typed caps and invocations).
//!
//! The kernel boots it as seL4 boots a root task: the address of its `seL4_BootInfo` in the
//! first argument register (Gears' latency-bench kernel puts 1 in the second: run the bench).
//! It checks what boot gave it, runs sel4test-style scenarios, printing what it sees, then halts
//! with its verdict (`seL4_DebugHalt` with 1 in the cap register: every scenario passed).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

mod layout;
mod loader;
#[allow(unsafe_code, reason = "deliberate faults, the FPU and the TLS register")]
mod machine;

use abi::cap_type;
use gears_user::cap::init_thread::{self, CNODE as ROOT, IRQ_CONTROL, TCB, VSPACE};
use gears_user::cap::{Cap, Endpoint, IrqHandler, Notification, Tcb, Unspecified, kind};
use gears_user::fault::Fault;
use gears_user::message::Received;
use gears_user::mmio::Mmio;
use gears_user::slots::SlotAllocator;
use gears_user::untyped::{Object, ObjectType};
use gears_user::vspace::{PAGE_SIZE, VmAttributes};
use gears_user::{BootInfo, CNodeCapData, CPtr, CapRights, Error, Result, debug, entry, ipc, println};

gears_user::root_task!(main);

/// What the scenarios make their objects from: the largest untyped of RAM, and the empty slots.
pub struct Env {
    /// The untyped everything is retyped from.
    pub ut: Cap<kind::Untyped>,
    /// The root CNode's empty slots.
    pub slots: SlotAllocator,
}

impl Env {
    /// A fresh slot.
    fn slot(&mut self) -> CPtr {
        self.slots.alloc().expect("the root CNode has empty slots left")
    }

    /// A new object of kind `K`.
    fn make<K: Object>(&mut self) -> Result<Cap<K>> {
        self.ut.create(&mut self.slots)
    }
}

/// The child program (`src/child.rs`), embedded by the build script; empty in its own build.
static CHILD_ELF: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/child.elf"));

/// An outcome's name: `ok`, or the error's.
fn outcome<T>(r: &Result<T>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.name(),
    }
}

/// Checks one invocation's outcome against the one expected; says what happened.
fn expect<T>(what: &str, got: Result<T>, want: core::result::Result<(), Error>) -> bool {
    let ok = got.as_ref().map(|_| ()).map_err(|&e| e) == want;
    println!("root task: {what}: {} ({})", outcome(&got), if ok { "as expected" } else { "UNEXPECTED" });
    ok
}

/// Checks that an invocation succeeded; says so.
fn succeeds<T>(what: &str, got: Result<T>) -> bool {
    expect(what, got, Ok(()))
}

/// Says whether `what` held.
fn check(what: &str, held: bool) -> bool {
    println!("root task: {what}: {}", if held { "yes" } else { "NO" });
    held
}

/// The kernel's answer to a Call, read as an invocation's outcome.
fn reply_outcome(r: &Received) -> Result<()> {
    match r.label() {
        0 => Ok(()),
        code => Err(Error::from_code(code).unwrap_or(Error::InvalidCapability)),
    }
}

/// Root CNode slot `cptr`.
fn slot(cptr: CPtr) -> gears_user::cnode::Slot {
    init_thread::slot(cptr)
}

/// Copies the cap in root slot `src` into root slot `dest`, with all rights.
fn copy(dest: CPtr, src: CPtr) -> Result<()> {
    slot(dest).copy(slot(src), CapRights::ALL)
}

/// A cap's type tag (`seL4_DebugCapIdentify`).
fn identify(cptr: CPtr) -> u64 {
    debug::cap_identify(Unspecified::from_cptr(cptr))
}

/// CNode operations (after sel4test's CNODEOP tests).
fn cnode_ops(env: &mut Env) -> bool {
    let ep = env.make::<kind::Endpoint>();
    let mut ok = succeeds("retype an endpoint", ep);
    let Ok(ep) = ep else { return false };
    let ep = ep.cptr();
    let [b, c, d, e, f] = core::array::from_fn(|_| env.slot());
    ok &= succeeds("copy it", copy(b, ep));
    let mint = slot(c).mint(slot(ep), CapRights::ALL, 0x5a);
    ok &= succeeds("mint it with badge 0x5a (six message words: two in the IPC buffer)", mint);
    ok &= expect("copy onto an occupied slot", copy(b, ep), Err(Error::DeleteFirst));
    ok &= expect("copy from an empty slot", copy(f, e), Err(Error::FailedLookup));
    ok &= succeeds("move", slot(d).move_from(slot(b)));
    ok &= succeeds("delete", slot(d).delete());
    let rebadge = slot(f).mint(slot(c), CapRights::ALL, 0x77);
    ok &= expect("re-badge the badged cap", rebadge, Err(Error::IllegalOperation));
    ok &= expect("read its own registers", TCB.read_registers(false, 2), Err(Error::IllegalOperation));
    ok
}

/// PREEMPT_REVOKE: 16 CNodes of 4096 copies of an endpoint, made by 65,536 Copy calls, then one
/// Revoke, which the kernel preempts and the root task re-enters until it converges.
fn preempt_revoke(env: &mut Env) -> bool {
    let ep = env.make::<kind::Endpoint>();
    let mut ok = succeeds("retype an endpoint", ep);
    let cnodes = env.ut.create_range(ObjectType::cnode(12), 16, &mut env.slots);
    ok &= succeeds("retype 16 CNodes of radix 12", cnodes.clone());
    let (Ok(ep), Ok(cnodes)) = (ep, cnodes) else { return false };
    let mut copies = 0u64;
    for (k, cnode) in cnodes.map(gears_user::cap::CNode::from_cptr).enumerate() {
        for j in 0..4096 {
            if let Err(e) = cnode.slot_at_depth(j, 12).copy(slot(ep.cptr()), CapRights::ALL) {
                println!("root task: copy {j} into CNode {k} failed with error {}", e.name());
                return false;
            }
            copies += 1;
        }
    }
    println!("root task: made {copies} copies of endpoint {}; revoking them with one call", ep.cptr());
    ok &= succeeds("revoke", slot(ep.cptr()).revoke());
    let again = env.slot();
    ok &= succeeds("copy after the revoke (the slots are free again)", copy(again, ep.cptr()));
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
/// Configure (with `fault_ep`, a cptr; 0: none), SetPriority, then WriteRegisters with its entry
/// point, stack and argument, resuming it.
fn start_thread(
    tcb: Tcb,
    entry: extern "C" fn(u64) -> !,
    stack: usize,
    arg: u64,
    prio: u64,
    fault_ep: CPtr,
) -> bool {
    let configure = tcb.configure(fault_ep, ROOT, CNodeCapData::default(), VSPACE, None);
    let mut ok = succeeds("configure the thread", configure);
    ok &= succeeds("set its priority", tcb.set_priority(TCB, prio));
    ok &= succeeds("start it", tcb.start(entry as *const () as u64, stack_top(stack), &[arg]));
    ok
}

/// An echo server: replies to each caller with the badge it called through, the sum of its
/// words and its label.
extern "C" fn echo_server(ep: u64) -> ! {
    let ep = Endpoint::from_cptr(ep);
    let mut m = ep.recv();
    loop {
        let sum: u64 = m.mrs[..m.length().min(4)].iter().sum();
        m = ep.reply_recv(0, &[m.badge, sum, m.label()]);
    }
}

/// IPC between two threads (after sel4test's IPC tests): an echo server waits on an endpoint;
/// the root task calls it through a badged and an unbadged cap and checks the replies.
fn ipc_threads(env: &mut Env) -> bool {
    let (ep, tcb) = (env.make::<kind::Endpoint>(), env.make::<kind::Tcb>());
    let badged = env.slot();
    let mut ok = succeeds("retype an endpoint", ep);
    let Ok(ep) = ep else { return false };
    ok &= succeeds(
        "mint a cap to it with badge 0x61",
        slot(badged).mint(slot(ep.cptr()), CapRights::ALL, 0x61),
    );
    ok &= succeeds("retype a TCB", tcb);
    let Ok(tcb) = tcb else { return false };
    ok &= start_thread(tcb, echo_server, 0, ep.cptr(), 50, 0);
    for (cap, badge) in [(badged, 0x61), (ep.cptr(), 0)] {
        let r = Endpoint::from_cptr(cap).call(7, &[1, 2, 3, 4]);
        println!(
            "root task: Call through cap {cap} -> server replied badge {:#x}, sum {}, label {}",
            r.word(0),
            r.word(1),
            r.word(2)
        );
        ok &= r.label() == 0 && r.length() == 3 && r.words::<3>() == [badge, 10, 7];
    }
    if !ok {
        println!("root task: IPC with the server thread: UNEXPECTED reply");
    }
    ok
}

/// The label of the last message [`receiver`] got.
static RECEIVED: AtomicU64 = AtomicU64::new(0);

/// Receives on the cap given as argument and notes each label (a thread of IPC rights: without
/// the read right its receive is a cap fault, which goes to its fault handler).
extern "C" fn receiver(cap: u64) -> ! {
    loop {
        RECEIVED.store(Endpoint::from_cptr(cap).recv().label(), Ordering::Relaxed);
    }
}

/// IPC rights (after sel4test's IPCRIGHTS0001–0002): a Call through an endpoint cap without the
/// write right is refused with InvalidCapability and reaches no one; a Recv through one without
/// the read right is a cap fault, which the kernel sends to the receiving thread's fault handler
/// (in the receive phase); a Call through a write-only cap does reach a receiver.
fn ipc_rights(env: &mut Env) -> bool {
    let (ep, fault_ep) = (env.make::<kind::Endpoint>(), env.make::<kind::Endpoint>());
    let mut ok = succeeds("retype an endpoint", ep);
    ok &= succeeds("and a fault endpoint", fault_ep);
    let (Ok(ep), Ok(fault_ep)) = (ep, fault_ep) else { return false };
    let (ro, wo) = (env.slot(), env.slot());
    ok &= succeeds("mint a read-only cap", slot(ro).mint(slot(ep.cptr()), CapRights::READ, 0));
    ok &= succeeds("mint a write-only cap", slot(wo).mint(slot(ep.cptr()), CapRights::WRITE, 0));
    let r = Endpoint::from_cptr(ro).call(9, &[1]);
    ok &= expect("Call through the read-only cap", reply_outcome(&r), Err(Error::InvalidCapability));
    let tcb = env.make::<kind::Tcb>();
    ok &= succeeds("retype a receiver thread", tcb);
    let Ok(tcb) = tcb else { return false };
    ok &= start_thread(tcb, receiver, 4, wo, 200, fault_ep.cptr());
    let f = fault_ep.recv();
    let fault = Fault::from_received(&f);
    println!("root task: Recv through the write-only cap {wo}: fault message label {} ({fault})", f.label());
    ok &= matches!(fault, Fault::Cap { addr, in_recv_phase: true, .. } if addr == wo);
    // A receiver on the read-only cap gets what is sent through the write-only one.
    let second = env.make::<kind::Tcb>();
    ok &= succeeds("retype a second receiver", second);
    let Ok(second) = second else { return false };
    ok &= start_thread(second, receiver, 5, ro, 200, fault_ep.cptr());
    Endpoint::from_cptr(wo).send(0x77, &[5, 6]);
    let got = RECEIVED.load(Ordering::Relaxed);
    println!(
        "root task: Send through the write-only cap: the receiver on the read-only cap got label {got:#x}"
    );
    ok &= got == 0x77;
    if !ok {
        println!("root task: IPC rights: UNEXPECTED");
    }
    ok
}

/// Ticks the timer driver has handled.
static DRIVER_TICKS: AtomicU64 = AtomicU64::new(0);

/// A user-level timer driver: acknowledges the IRQ, waits on its notification, which the kernel
/// signals at the next timer tick, and counts it. Its argument: notification cptr | handler << 32.
extern "C" fn timer_driver(arg: u64) -> ! {
    let ntfn = Notification::from_cptr(arg & 0xffff_ffff);
    let handler = IrqHandler::from_cptr(arg >> 32);
    // A tick may have come between IssueIRQHandler and SetNotification: undelivered, it left the
    // IRQ masked (as in seL4), so acknowledge before every wait.
    loop {
        let _ = handler.ack();
        ntfn.wait();
        DRIVER_TICKS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Gets the handler cap of IRQ line `irq`, binds it to a new notification; both caps.
fn irq_with_notification(env: &mut Env, what: &str, irq: u64) -> Option<(IrqHandler, Notification)> {
    let handler = IrqHandler::from_cptr(env.slot());
    let mut ok = succeeds(what, IRQ_CONTROL.get(irq, slot(handler.cptr())));
    let ntfn = env.make::<kind::Notification>();
    ok &= succeeds("retype a notification", ntfn);
    let ntfn = ntfn.ok()?;
    ok &= succeeds("bind the IRQ to it", handler.set_notification(ntfn));
    ok.then_some((handler, ntfn))
}

/// Starts the timer driver at priority 254 and lowers the root task to 100, so the driver runs
/// as soon as a tick wakes it; waits until it has seen five ticks.
fn timer_driver_thread(env: &mut Env) -> bool {
    let Some((handler, ntfn)) = irq_with_notification(env, "get the timer's IRQ handler cap", IRQ_TIMER)
    else {
        return false;
    };
    let tcb = env.make::<kind::Tcb>();
    let mut ok = succeeds("retype the driver's TCB", tcb);
    let Ok(tcb) = tcb else { return false };
    ok &= start_thread(tcb, timer_driver, 1, ntfn.cptr() | (handler.cptr() << 32), 254, 0);
    ok &= succeeds("lower the root task's priority to 100", TCB.set_priority(TCB, 100));
    while DRIVER_TICKS.load(Ordering::Relaxed) < 5 {
        core::hint::spin_loop();
    }
    println!(
        "root task: the user-level timer driver has handled {} ticks",
        DRIVER_TICKS.load(Ordering::Relaxed)
    );
    ok
}

/// A thread that dereferences null: the kernel stops it (it has no fault handler) and the root
/// task goes on; its TCB still says where it stopped.
extern "C" fn faulter(_: u64) -> ! {
    // The null page is unmapped.
    machine::fault_at(0)
}

/// Two threads dereference null: the one with a fault endpoint has its fault sent there as a
/// message (seL4's fault IPC: the root task receives a VMFault with the address and ip); the one
/// without is stopped by the kernel. The root task runs on either way.
fn faulting_threads(env: &mut Env) -> bool {
    let fault_ep = env.make::<kind::Endpoint>();
    let mut ok = succeeds("retype a fault endpoint", fault_ep);
    let tcbs = env.ut.create_range(ObjectType::TCB, 2, &mut env.slots);
    ok &= succeeds("retype two TCBs", tcbs.clone());
    let (Ok(fault_ep), Ok(tcbs)) = (fault_ep, tcbs) else { return false };
    let (handled, unhandled) = (Tcb::from_cptr(tcbs.start), Tcb::from_cptr(tcbs.start + 1));
    let entry = faulter as *const () as u64;
    let near_entry = |ip: u64| ip >= entry && ip < entry + 64;
    ok &= start_thread(handled, faulter, 2, 0, 200, fault_ep.cptr());
    let f = fault_ep.recv();
    let fault = Fault::from_received(&f);
    println!("root task: fault message: label {} ({fault})", f.label());
    ok &= matches!(fault, Fault::VmFault { addr: 0, ip, .. } if near_entry(ip));
    ok &= start_thread(unhandled, faulter, 3, 0, 200, 0);
    let regs = unhandled.read_registers(false, 1);
    ok &= succeeds("read the stopped thread's registers", regs);
    let ip = regs.map(|r| r.pc()).unwrap_or(0);
    println!(
        "root task: the thread without a fault handler was stopped at ip {ip:#x}; the root task runs on"
    );
    ok &= near_entry(ip);
    ok
}

extern "C" fn fpu_user(_: u64) -> ! {
    machine::use_fpu()
}

/// TCB SetFlags' `fpuDisabled`: a thread whose FPU is off faults at its first floating-point
/// instruction, a UserException (x86_64: #NM, vector 7; riscv64: illegal instruction, cause 2),
/// which its fault handler receives; SetFlags answers with the flags it set.
fn fpu_disabled_thread(env: &mut Env) -> bool {
    let (fault_ep, tcb) = (env.make::<kind::Endpoint>(), env.make::<kind::Tcb>());
    let mut ok = succeeds("retype a fault endpoint", fault_ep);
    ok &= succeeds("retype a TCB", tcb);
    let (Ok(fault_ep), Ok(tcb)) = (fault_ep, tcb) else { return false };
    let flags = tcb.set_flags(0, abi::tcb::FLAG_FPU_DISABLED);
    ok &= succeeds("turn its FPU off", flags) && flags == Ok(abi::tcb::FLAG_FPU_DISABLED);
    ok &= start_thread(tcb, fpu_user, 4, 0, 200, fault_ep.cptr());
    let f = fault_ep.recv();
    let want = if cfg!(target_arch = "x86_64") { 7 } else { 2 };
    let fault = Fault::from_received(&f);
    println!("root task: fault message: label {} ({fault})", f.label());
    ok && matches!(fault, Fault::UserException { number, .. } if number == want)
}

/// The interrupt-latency bench (a kernel built with `latency-bench`, under `-icount`): with the
/// timer driver running, revoke 2^12 caps (8 rounds, each started at a different phase of the
/// timer) and 2^16 caps, with the kernel's preemption points on and off, each revoke between the
/// kernel's benchmark calls, which print the largest tick-to-driver latency.
fn latency_bench(env: &mut Env) -> bool {
    let ep = env.make::<kind::Endpoint>();
    let mut ok = succeeds("retype an endpoint", ep);
    let cnodes = env.ut.create_range(ObjectType::cnode(12), 16, &mut env.slots);
    ok &= succeeds("retype 16 CNodes of radix 12", cnodes.clone());
    let (Ok(ep), Ok(cnodes)) = (ep, cnodes) else { return false };
    for (n, rounds) in [(1u64, 8u64), (16, 1)] {
        for preemption in [true, false] {
            for round in 0..rounds {
                for k in 0..n {
                    let cnode = gears_user::cap::CNode::from_cptr(cnodes.start + k);
                    for j in 0..4096 {
                        if cnode.slot_at_depth(j, 12).copy(slot(ep.cptr()), CapRights::ALL).is_err() {
                            println!("root task: bench: copy {j} into CNode {k} failed");
                            return false;
                        }
                    }
                }
                for i in 0..round * 400_000 {
                    core::hint::black_box(i);
                }
                debug::gears::bench_begin(preemption);
                let r = slot(ep.cptr()).revoke();
                debug::gears::bench_end(n * 4096);
                ok &= r.is_ok();
            }
        }
    }
    ok
}

/// IPC between two threads in different address spaces: the root task builds an address space
/// for the child program out of seL4 objects, starts it with an endpoint and a fault endpoint,
/// answers its call (six words: two through each side's IPC buffer), and receives the fault
/// message the kernel sends when the child touches an unmapped page.
fn child_in_own_address_space(env: &mut Env) -> bool {
    if CHILD_ELF.is_empty() {
        println!("root task: no child program was embedded (build with `cargo xtask`)");
        return false;
    }
    let eps = env.ut.create_range(ObjectType::ENDPOINT, 2, &mut env.slots);
    let mut ok = succeeds("retype an endpoint and a fault endpoint", eps.clone());
    let offered = env.make::<kind::Endpoint>();
    ok &= succeeds("and an endpoint to offer", offered);
    let (Ok(eps), Ok(offered)) = (eps, offered) else { return false };
    let (ep, fault_ep) = (Endpoint::from_cptr(eps.start), Endpoint::from_cptr(eps.start + 1));
    let (granting, no_grant) = (env.slot(), env.slot());
    let write_grant = CapRights::new(false, true, false, true);
    ok &= succeeds(
        "mint a write+grant cap to the endpoint",
        slot(granting).mint(slot(ep.cptr()), write_grant, 0),
    );
    ok &= succeeds("mint a write-only cap to it", slot(no_grant).mint(slot(ep.cptr()), CapRights::WRITE, 0));
    let Some(received) = env.slots.alloc_range(3) else { return false };
    let Some(child) = loader::load(env, CHILD_ELF) else {
        println!("root task: loading the child FAILED");
        return false;
    };
    let tcb = env.make::<kind::Tcb>();
    ok &= succeeds("retype the child's TCB", tcb);
    let Ok(tcb) = tcb else { return false };
    let buffer = Some((loader::IPC_BUFFER, child.ipc_frame));
    let configure = tcb.configure(fault_ep.cptr(), ROOT, CNodeCapData::default(), child.vspace, buffer);
    ok &= succeeds("configure it: fault endpoint, our CSpace, its VSpace, its IPC buffer", configure);
    ok &= succeeds("set its priority to 150", tcb.set_priority(TCB, 150));
    let args = [ep.cptr(), received.start, loader::IPC_BUFFER];
    ok &= succeeds("start it", tcb.start(child.entry, loader::STACK_TOP, &args));
    let m = ep.recv();
    let words = m.words::<6>();
    println!("root task: the child called: label {}, {} words, {words:x?}", m.label(), m.length());
    ok &= m.label() == 1 && m.length() == 6 && words == [0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
    let sum: u64 = words.iter().sum();
    ipc::reply(0, &[sum, 0x600d]);
    let m = ep.recv();
    ok &= m.label() == 2 && m.words::<2>() == [sum, 0x600d];
    ipc::reply(0, &[]);
    // Grant (IPCRIGHTS): a cap sent through a cap with the grant right is transferred into the
    // child's receive slot; through one without, the message arrives without it.
    Endpoint::from_cptr(granting).send_with_caps(4, &[], &[offered.cptr()]);
    Endpoint::from_cptr(no_grant).send_with_caps(5, &[], &[offered.cptr()]);
    let m = ep.recv();
    let got = m.words::<4>();
    println!(
        "root task: the child got label {} with {} cap(s) through the write+grant cap, label {} with {} \
         through the write-only cap",
        got[0], got[1], got[2], got[3]
    );
    ok &= m.label() == 3 && got == [4, 1, 5, 0];
    let r = received.start;
    ok &= expect("the other receive slot is empty", copy(r + 2, r + 1), Err(Error::FailedLookup));
    ok &= succeeds("the granted cap is in the child's receive slot (copy it)", copy(r + 2, r));
    ipc::reply(0, &[]);
    let f = fault_ep.recv();
    let fault = Fault::from_received(&f);
    println!("root task: fault message from the child: label {} ({fault})", f.label());
    ok &= matches!(fault, Fault::VmFault { addr: 0x30_0000_0000, .. });
    if !ok {
        println!("root task: the child in its own address space: UNEXPECTED");
    }
    ok
}

/// QEMU `virt`'s Goldfish RTC: its registers' page, its PLIC line, and its 32-bit registers
/// (time and alarm in nanoseconds; writing ALARM_LOW arms the alarm).
#[cfg(target_arch = "riscv64")]
mod rtc {
    pub const PADDR: u64 = 0x10_1000;
    pub const IRQ: u64 = 11;
    pub const TIME_LOW: usize = 0x00;
    pub const TIME_HIGH: usize = 0x04;
    pub const ALARM_LOW: usize = 0x08;
    pub const ALARM_HIGH: usize = 0x0c;
    pub const IRQ_ENABLED: usize = 0x10;
    pub const CLEAR_INTERRUPT: usize = 0x1c;
}

/// Alarms the RTC driver has handled, and where the root task mapped the RTC's registers.
#[cfg(target_arch = "riscv64")]
static RTC_IRQS: AtomicU64 = AtomicU64::new(0);
#[cfg(target_arch = "riscv64")]
static RTC_REGS: AtomicU64 = AtomicU64::new(0);

/// The RTC's registers, which [`rtc_driver_thread`] mapped before any thread calls this.
#[cfg(target_arch = "riscv64")]
#[allow(unsafe_code, reason = "a device's registers")]
fn rtc_regs() -> Mmio {
    let addr = RTC_REGS.load(Ordering::Relaxed);
    assert!(addr != 0, "the RTC's registers are not mapped yet");
    // SAFETY: `rtc_driver_thread` stores RTC_REGS only after mapping the RTC's register page
    // there read-write, and leaves it mapped for the rest of the run; a device page holds no
    // Rust object.
    unsafe { Mmio::new(addr, PAGE_SIZE as usize) }
}

/// A user-level RTC driver: acknowledges its IRQ, waits on the notification the kernel signals
/// when the RTC's PLIC line fires, clears the device's interrupt and counts it. Argument:
/// notification | handler << 32.
#[cfg(target_arch = "riscv64")]
extern "C" fn rtc_driver(arg: u64) -> ! {
    let ntfn = Notification::from_cptr(arg & 0xffff_ffff);
    let handler = IrqHandler::from_cptr(arg >> 32);
    loop {
        let _ = handler.ack();
        ntfn.wait();
        rtc_regs().write_u32(rtc::CLEAR_INTERRUPT, 1);
        RTC_IRQS.fetch_add(1, Ordering::Relaxed);
    }
}

/// A user-level device driver on riscv64: the RTC's register page comes from the device untyped
/// that BootInfo lists for its address, as a frame the root task maps; its alarm interrupt
/// (PLIC line 11) reaches a driver thread through IRQControl, IRQHandler and a notification.
/// The root task sets the alarm twice (the second shows the driver's Ack unmasked the line
/// again).
#[cfg(target_arch = "riscv64")]
fn rtc_driver_thread(bi: &BootInfo, env: &mut Env) -> bool {
    let Some(device) = bi.untypeds().find(|u| u.is_device && u.paddr == rtc::PADDR) else {
        println!("root task: no device untyped starts at the RTC's page {:#x}: UNEXPECTED", rtc::PADDR);
        return false;
    };
    let Some((handler, ntfn)) =
        irq_with_notification(env, "get the RTC's IRQ handler cap (PLIC line 11)", rtc::IRQ)
    else {
        return false;
    };
    let frame = device.cap.create::<kind::Frame>(&mut env.slots);
    let mut ok = succeeds("retype the RTC's page from its device untyped", frame);
    let Ok(frame) = frame else { return false };
    let Ok(regs) = loader::map_scratch(frame, 0x1000) else {
        println!("root task: mapping the RTC's page FAILED");
        return false;
    };
    RTC_REGS.store(regs, Ordering::Relaxed);
    let tcb = env.make::<kind::Tcb>();
    ok &= succeeds("retype the driver's TCB", tcb);
    let Ok(tcb) = tcb else { return false };
    ok &= start_thread(tcb, rtc_driver, 6, ntfn.cptr() | (handler.cptr() << 32), 253, 0);
    let rtc = rtc_regs();
    rtc.write_u32(rtc::IRQ_ENABLED, 1);
    for n in 1..=2 {
        // Reading TIME_LOW latches TIME_HIGH.
        let low = u64::from(rtc.read_u32(rtc::TIME_LOW));
        let now = low | u64::from(rtc.read_u32(rtc::TIME_HIGH)) << 32;
        let alarm = now + 1_000_000;
        rtc.write_u32(rtc::ALARM_HIGH, (alarm >> 32) as u32);
        rtc.write_u32(rtc::ALARM_LOW, alarm as u32);
        while RTC_IRQS.load(Ordering::Relaxed) < n {
            core::hint::spin_loop();
        }
    }
    println!(
        "root task: the user-level RTC driver handled {} alarms from PLIC line {}",
        RTC_IRQS.load(Ordering::Relaxed),
        rtc::IRQ
    );
    ok
}

/// `seL4_DebugCapIdentify`'s tags of the VSpace root and of the structures below it.
#[cfg(target_arch = "x86_64")]
const PAGING_TAGS: (u64, [u64; 3]) = (
    cap_type::x86_64::PML4,
    [cap_type::x86_64::PDPT, cap_type::x86_64::PAGE_DIRECTORY, cap_type::PAGE_TABLE],
);
#[cfg(target_arch = "riscv64")]
const PAGING_TAGS: (u64, [u64; 3]) = (cap_type::PAGE_TABLE, [cap_type::PAGE_TABLE; 3]);

/// Writes a byte into the page mapped at `addr` and reads it back.
#[allow(unsafe_code, reason = "a page mapped through system calls")]
fn write_and_read_back(addr: u64) -> bool {
    // SAFETY: `boot_info` mapped a fresh frame read-write at `addr` just before (only if the Map
    // succeeded) and unmaps it only after; no Rust object lives in it.
    let page = unsafe { Mmio::new(addr, PAGE_SIZE as usize) };
    page.write_u8(5, 0x5a);
    page.read_u8(5) == 0x5a
}

/// What seL4's boot gave the root task, checked as a root task can (`seL4_DebugCapIdentify`):
/// the initial caps in their slots, every slot of `userImagePaging` a paging structure and of
/// `userImageFrames` and `extraBIPages` a frame, the untyped list's entries untypeds with no two
/// overlapping, the empty range empty; and one more page mapped beside the image, through the
/// paging structures boot made, is memory the root task can write and read.
fn boot_info(bi: &BootInfo, env: &mut Env) -> bool {
    let identify_all =
        |slots: core::ops::Range<u64>, tags: &[u64]| slots.into_iter().all(|s| tags.contains(&identify(s)));
    let mut ok = check(
        "the initial caps are in seL4's slots",
        [
            (TCB.cptr(), cap_type::THREAD),
            (ROOT.cptr(), cap_type::CNODE),
            (VSPACE.cptr(), PAGING_TAGS.0),
            (IRQ_CONTROL.cptr(), cap_type::IRQ_CONTROL),
            (init_thread::ASID_CONTROL.cptr(), cap_type::ASID_CONTROL),
            (init_thread::ASID_POOL.cptr(), cap_type::ASID_POOL),
            (init_thread::BOOT_INFO_FRAME.cptr(), cap_type::FRAME),
            (init_thread::IPC_BUFFER.cptr(), cap_type::FRAME),
            (init_thread::DOMAIN.cptr(), cap_type::DOMAIN),
        ]
        .iter()
        .all(|&(slot, tag)| identify(slot) == tag),
    );
    ok &= check(
        "userImagePaging holds paging structures",
        identify_all(bi.user_image_paging(), &PAGING_TAGS.1),
    );
    ok &= check("userImageFrames holds frames", identify_all(bi.user_image_frames(), &[cap_type::FRAME]));
    ok &= check("extraBIPages holds frames", identify_all(bi.extra_bi_pages(), &[cap_type::FRAME]));
    ok &= check("untyped holds untypeds", identify_all(bi.untyped_slots(), &[cap_type::UNTYPED]));
    ok &= check("the empty range is empty", identify_all(env.slots.free(), &[cap_type::NULL]));
    let disjoint = bi.untypeds().enumerate().all(|(i, a)| {
        let a = a.span();
        bi.untypeds().skip(i + 1).all(|b| a.end <= b.span().start || b.span().end <= a.start)
    });
    ok &= check("no two untypeds overlap", disjoint);
    let ram: u64 = bi.untypeds().filter(|u| !u.is_device).map(|u| u.size()).sum();
    let devices = bi.untypeds().filter(|u| u.is_device).count();
    let (empty, extra_pages) = (bi.empty(), bi.extra_bi_pages());
    println!(
        "root task: BootInfo: {} image frames, {} paging structures, {} extra bootinfo pages, {} untypeds \
         ({} KiB of RAM, {devices} device regions), empty slots {}..{}, CNode of 2^{} slots",
        bi.user_image_frames().count(),
        bi.user_image_paging().count(),
        extra_pages.clone().count(),
        bi.untyped_slots().count(),
        ram / 1024,
        empty.start,
        empty.end,
        bi.cnode_size_bits()
    );
    // The page after everything boot mapped (the IPC buffer, the BootInfo frame, the extra
    // bootinfo), in the page table boot made for them.
    let beside = bi.ipc_buffer() + (2 + extra_pages.count() as u64) * PAGE_SIZE;
    let frame = env.make::<kind::Frame>();
    ok &= succeeds("retype a frame", frame);
    let Ok(frame) = frame else { return false };
    let mapped = frame.map(VSPACE, beside, CapRights::READ_WRITE, VmAttributes::DEFAULT);
    let is_mapped = mapped.is_ok();
    ok &= succeeds("map it beside the image", mapped);
    if is_mapped {
        ok &= check("the page beside the image holds what was written", write_and_read_back(beside));
    }
    ok &= succeeds("unmap it", frame.unmap());
    ok &= succeeds("delete it", slot(frame.cptr()).delete());
    ok
}

/// x86_64's I/O ports (after sel4bench's serial driver, which prints through COM1 with them): a
/// cap to COM1's eight ports, a byte written to its scratch register and read back through the
/// UART, the kernel's own ports and other caps' refused, accesses outside the range refused, and
/// the ports free again once the cap is deleted.
#[cfg(target_arch = "x86_64")]
fn io_ports(env: &mut Env) -> bool {
    use gears_user::cap::IoPort;
    let control = init_thread::IO_PORT_CONTROL;
    let [com1, other] = core::array::from_fn(|_| env.slot());
    let mut ok =
        check("slot 7 holds IOPortControl", identify(control.cptr()) == cap_type::x86_64::IO_PORT_CONTROL);
    ok &= succeeds("issue COM1's ports 0x3f8-0x3ff", control.issue(0x3f8, 0x3ff, slot(com1)));
    ok &= expect(
        "issue 0x3ff-0x400 (meets COM1's)",
        control.issue(0x3ff, 0x400, slot(other)),
        Err(Error::RevokeFirst),
    );
    ok &= expect(
        "issue the kernel's PIT ports",
        control.issue(0x40, 0x43, slot(other)),
        Err(Error::RevokeFirst),
    );
    ok &= expect("issue 0x2ff-0x2f8", control.issue(0x2ff, 0x2f8, slot(other)), Err(Error::InvalidArgument));
    let port = IoPort::from_cptr(com1);
    for value in [0x5a, 0xa5] {
        ok &= succeeds("write the UART's scratch register", port.out8(0x3ff, value));
        ok &= check("it reads back", port.in8(0x3ff) == Ok(value));
    }
    ok &= expect("read 16 bits at 0x3ff (one byte outside)", port.in16(0x3ff), Err(Error::IllegalOperation));
    ok &= expect("write port 0x80", port.out8(0x80, 0), Err(Error::IllegalOperation));
    ok &= succeeds("delete the cap", slot(com1).delete());
    ok &= succeeds("issue COM1's ports again", control.issue(0x3f8, 0x3ff, slot(other)));
    ok &= succeeds("delete that cap too", slot(other).delete());
    ok
}

/// Where the root task starts: `bi` is the `seL4_BootInfo` seL4's boot mapped for it; the
/// second argument register is non-zero in a kernel built for the latency bench.
fn main(bi: &BootInfo) -> ! {
    let [boot_info_addr, bench, ..] = entry::initial_registers();
    let Some(ut) = bi.largest_ram_untyped() else {
        println!("root task: boot gave no untyped RAM");
        debug::halt_with(0)
    };
    let mut env = Env { ut: ut.cap, slots: bi.slot_allocator() };
    println!(
        "root task: Rust in user mode; BootInfo at {boot_info_addr:#x}, first free slot {}, untyped cap {}",
        bi.empty().start,
        ut.cap.cptr()
    );
    if bench != 0 {
        let ok = timer_driver_thread(&mut env) && latency_bench(&mut env);
        debug::halt_with(u64::from(ok));
    }
    println!("root task: -- what boot gave --");
    let mut ok = boot_info(bi, &mut env);
    ok &= cnode_ops(&mut env);
    println!("root task: -- IPC between two threads --");
    ok &= ipc_threads(&mut env);
    println!("root task: -- a user-level timer driver --");
    ok &= timer_driver_thread(&mut env);
    println!("root task: -- IPC rights --");
    ok &= ipc_rights(&mut env);
    println!("root task: -- a child in its own address space --");
    ok &= child_in_own_address_space(&mut env);
    #[cfg(target_arch = "riscv64")]
    {
        println!("root task: -- a user-level RTC driver (riscv64) --");
        ok &= rtc_driver_thread(bi, &mut env);
    }
    #[cfg(target_arch = "x86_64")]
    {
        println!("root task: -- I/O ports (x86_64) --");
        ok &= io_ports(&mut env);
    }
    println!("root task: -- thread-local storage --");
    ok &= thread_local_storage();
    println!("root task: -- a thread with its FPU off --");
    ok &= fpu_disabled_thread(&mut env);
    println!("root task: -- threads that fault: with a fault handler and without --");
    ok &= faulting_threads(&mut env);
    println!("root task: -- PREEMPT_REVOKE while the timer driver runs --");
    let before = DRIVER_TICKS.load(Ordering::Relaxed);
    ok &= preempt_revoke(&mut env);
    println!(
        "root task: the driver handled {} ticks during the revoke",
        DRIVER_TICKS.load(Ordering::Relaxed) - before
    );
    println!("root task: {}", if ok { "all scenarios passed" } else { "a scenario FAILED" });
    debug::halt_with(u64::from(ok))
}

/// Two words, each a thread-local block for [`thread_local_storage`] to point its TLS base at.
static TLS_BLOCKS: [u64; 2] = [0x7e57_0001, 0x7e57_0002];

/// Thread-local storage, the way seL4 programs set it up: TCB SetTLSBase on the thread's own TCB
/// (both arches; x86_64's FS base, riscv64's tp), and x86_64's SetTLSBase system call. The
/// thread then reads its TLS block through the register.
fn thread_local_storage() -> bool {
    let [a, b] = [&TLS_BLOCKS[0] as *const u64 as u64, &TLS_BLOCKS[1] as *const u64 as u64];
    let mut ok = succeeds("TCB SetTLSBase on its own TCB", TCB.set_tls_base(a));
    ok &= machine::tls_word() == TLS_BLOCKS[0];
    #[cfg(target_arch = "x86_64")]
    {
        gears_user::tcb::set_tls_base(b);
        ok &= machine::tls_word() == TLS_BLOCKS[1];
    }
    let _ = b;
    println!(
        "root task: its TLS block read through the TLS register: {}",
        if ok { "as set" } else { "WRONG" }
    );
    ok
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("root task: panic: {info}");
    debug::halt_with(0)
}
