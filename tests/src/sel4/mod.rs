//! Scenario support for the seL4-derived tests: a booted kernel, a root task's view of it (cptrs
//! into a root CNode whose guard makes every cptr resolve at depth 64), and libsel4-like calls.
//!
//! Each call is made the way a thread makes it: the harness writes the system-call number, cap,
//! MessageInfo and message registers into the calling thread's TCB and the rest of the message
//! and the extra caps into its IPC buffer, activates it, and runs the kernel entry
//! ([`codegears::entry::handle`], the one the bare-metal kernel runs) against [`HostMachine`],
//! with the invariant checker plugged in. What the call got back is read from the thread's
//! registers and IPC buffer.

pub mod machine;
pub mod mc;
pub mod plain;

use abi::{MessageInfo, Syscall, label};
use alloc::boxed::Box;
use alloc::vec::Vec;

use alloc::collections::VecDeque;

use abi::IpcBuffer;
use alloc::collections::BTreeMap;
use codegears::MachineOp;
use codegears::entry::{self, End, EntryError, Event, Machine};
use codegears::kernel::{BootConfig, BootInfo, Kernel, KernelState, Request};
use codegears::lookup::LOOKUP_SLOT;
use codegears::machine::Pte;
use codegears::message::{buffer_word, get_mr, lookup_ipc_buffer, set_mr};
use codegears::object::{Tcb, ThreadState};
use codegears::vspace_invariants::{HardwareTables, check_hardware_tables};

use codegears::{Cap, CapRights, Done, InvariantViolation, ObjPtr, SlotRef, SyscallError, check_invariants};
use gears::{Dispatcher, Halt, MetaGear, Outcome};
use metagears::Invariant;

/// `seL4_WordBits`: the depth at which a root-CNode cptr resolves.
pub const WORD_BITS: u64 = 64;

/// The invariant predicate, as the invariant metagear wants it.
pub fn invariants(k: &Kernel) -> Result<(), InvariantViolation> {
    check_invariants(&k.state)
}

/// The host model's machine: it records the machine ops the gears asked for (tests assert on
/// them), holds the hardware page tables they wrote, keeps the interrupts raised and not yet
/// taken, and the debug console's bytes.
#[derive(Clone, Debug, Default)]
pub struct HostMachine {
    /// Every machine op applied, oldest first.
    pub ops: Vec<MachineOp>,
    /// The hardware page tables' present entries, by (table, index): what the machine ops wrote
    /// and did not clear since.
    pub tables: BTreeMap<(u64, u16), Pte>,
    /// Interrupts raised and not taken, oldest first (`getActiveIRQ` takes the first).
    pub pending: VecDeque<u16>,
    /// What `seL4_DebugPutChar` printed.
    pub console: Vec<u8>,
    /// x86_64's I/O ports as plain bytes: an `out` writes them, an `in` reads them (0 where
    /// nothing was written).
    pub io: BTreeMap<u16, u8>,
    /// The port reads the kernel asked for, as (port, width), in order.
    pub port_reads: Vec<(u16, u8)>,
}

impl HardwareTables for HostMachine {
    fn entry(&self, table: u64, index: u16, _level: u8) -> Pte {
        self.tables.get(&(table, index)).copied().unwrap_or(Pte::Invalid)
    }
}

impl Machine for HostMachine {
    fn apply(&mut self, op: MachineOp) {
        match op {
            MachineOp::WriteEntry { table, index, entry: Pte::Invalid } => {
                self.tables.remove(&(table, index));
            }
            MachineOp::WriteEntry { table, index, entry } => {
                self.tables.insert((table, index), entry);
            }
            MachineOp::Zero { paddr, bits } => {
                let end = paddr.saturating_add(1u64 << bits);
                let cleared: Vec<(u64, u16)> =
                    self.tables.range((paddr, 0)..(end, 0)).map(|(k, _)| *k).collect();
                for k in cleared {
                    self.tables.remove(&k);
                }
            }
            MachineOp::PortOut { port, width, value } => {
                for (i, b) in value.to_le_bytes().into_iter().take(width as usize).enumerate() {
                    self.io.insert(port.wrapping_add(i as u16), b);
                }
            }
            // The kernel's global entries: never compared (the check skips them).
            MachineOp::CopyGlobalMappings { .. }
            | MachineOp::Flush { .. }
            | MachineOp::MaskIrq { .. }
            | MachineOp::PortIn { .. } => {}
        }
        self.ops.push(op);
    }

    fn active_irq(&mut self) -> Option<u16> {
        self.pending.pop_front()
    }

    fn debug_put_char(&mut self, c: u8) {
        self.console.push(c);
    }

    fn port_in(&mut self, port: u16, width: u8) -> u32 {
        self.port_reads.push((port, width));
        let mut bytes = [0u8; 4];
        for (i, b) in bytes.iter_mut().take(width as usize).enumerate() {
            *b = self.io.get(&port.wrapping_add(i as u16)).copied().unwrap_or(0);
        }
        u32::from_le_bytes(bytes)
    }
}

/// Puts a system call in `t`'s registers and IPC buffer, as the thread would before its
/// system-call instruction: number, cap, MessageInfo and the first four message words in
/// registers, the rest of the words and the extra caps' cptrs in its IPC buffer (lost without
/// one, as for a real thread). Its instruction pointer is where the system-call instruction is
/// (seL4's FaultIP); NextIP is past it.
pub fn load_call(
    k: &mut Kernel,
    t: ObjPtr,
    syscall: Syscall,
    cptr: u64,
    info: MessageInfo,
    mrs: &[u64],
    extra: &[u64],
) {
    let s = &mut k.state;
    let arch = s.arch;
    let regs = arch.syscall_registers();
    let buffer = lookup_ipc_buffer(&s.cspace, &s.objects, t, false);
    let mut tcb = s.objects.tcb_mut(t);
    tcb.registers[regs.number] = syscall.word();
    // What libsel4 puts in registers for each call: Yield only its number, Recv and NBRecv their
    // cap, Reply its message, the sending calls their cap and message. The rest keep what they
    // held (the cap register is also the badge register of the last message received).
    let (has_cap, has_message) = match syscall {
        Syscall::Yield => (false, false),
        Syscall::Recv | Syscall::NBRecv => (true, false),
        Syscall::Reply => (false, true),
        _ => (true, true),
    };
    if has_cap {
        tcb.registers[regs.cap] = cptr;
    }
    if has_message {
        tcb.registers[regs.info] = info.word();
        for (i, &w) in mrs.iter().enumerate().take(abi::MSG_MAX_LENGTH as usize) {
            set_mr(&mut tcb, arch, &mut s.mem, buffer, i, w);
        }
        if let Some(b) = buffer {
            for (j, &c) in extra.iter().enumerate().take(abi::MSG_MAX_EXTRA_CAPS as usize) {
                s.mem.write(buffer_word(b, IpcBuffer::cap(j)), c);
            }
        }
    }
    tcb.next_ip = tcb.registers[arch.ip_register()] + regs.instruction_len;
}

/// What the model checker's states leave out between two steps, as no step reads it: which
/// thread ran last (any runnable thread may go next) and the system-call number each thread
/// passed (every call puts its own). States that differ only there are one state.
pub fn forget_between_steps(k: &mut Kernel, threads: &[ObjPtr]) {
    k.state.sched.current = None;
    let number = k.state.arch.syscall_registers().number;
    for &t in threads {
        {
            let mut tcb = k.state.objects.tcb_mut(t);
            tcb.registers[number] = 0;
        }
    }
}

/// What `t` last received: its MessageInfo, badge and message words, from its registers and
/// IPC buffer.
pub fn received(k: &Kernel, t: ObjPtr) -> (MessageInfo, u64, Vec<u64>) {
    let s = &k.state;
    let tcb = s.objects.tcb(t);
    let info = tcb.msg_info(s.arch);
    let buffer = lookup_ipc_buffer(&s.cspace, &s.objects, t, false);
    let words = (0..info.length() as usize)
        .map(|i| get_mr(&s.objects, t, s.arch, &s.mem, buffer, i).unwrap_or(0))
        .collect();
    (info, tcb.badge(s.arch), words)
}

/// A booted kernel and the root task's bookkeeping.
#[derive(Clone)]
pub struct Sel4 {
    /// The kernel context.
    pub k: Kernel,
    /// What boot handed the root task.
    pub info: BootInfo,
    next_free: u64,
    /// Invocations run so far.
    pub calls: u64,
    /// Invariant checks run so far (at every preemption point and at every end of an invocation).
    pub checks: u64,
    /// The calling thread (the root task's TCB unless a test switches).
    pub thread: ObjPtr,
    /// Whether [`invoke`](Self::invoke) runs the invariant checker and the failure-changes-nothing
    /// check (turned off only to set up very large scenarios quickly; they check at the end).
    pub checked: bool,
    /// Which metagear halted the last run, why, and at which step, if one did (`run` then
    /// returns `Ok`).
    pub halted: Option<(Halt, u64)>,
    /// The machine ops the invocations recorded, in order, as the kernel entry applied them.
    pub machine_ops: Vec<MachineOp>,
    /// The host machine the kernel entry runs against.
    pub machine: HostMachine,
    /// Threads spawned so far (each gets an IPC buffer of its own).
    spawned: u64,
}

impl Sel4 {
    /// Boots with a root CNode of `2^root_radix` slots and untypeds of the given sizes.
    pub fn boot(root_radix: u8, untyped_bits: &[u8]) -> Sel4 {
        Sel4::boot_from(KernelState::boot(root_radix, untyped_bits))
    }

    /// Boots `arch` with a root CNode of radix 8, untypeds of 2^24 and 2^22 bytes at 4 GiB and
    /// a device untyped of 2^22 at 8 GiB, and the root task's boot mappings in the top-level
    /// entry the kernel uses for them on that arch (x86_64: 1, riscv64: 4).
    pub fn boot_arch(arch: abi::Arch) -> Sel4 {
        const UT_BASE: u64 = 0x1_0000_0000;
        const DEV_BASE: u64 = 0x2_0000_0000;
        let boot_entries: &[u16] = &[Sel4::boot_entry(arch)];
        Sel4::boot_with(&BootConfig {
            arch,
            root_radix: 8,
            root_tcb: codegears::boot::ROOT_TCB,
            root_cnode: codegears::boot::ROOT_CNODE,
            untypeds: &[(UT_BASE, 24, false), (UT_BASE + (1 << 24), 22, false), (DEV_BASE, 22, true)],
            vspace_root: 0x10_2000,
            boot_entries,
            asid_pool: codegears::boot::ROOT_ASID_POOL,
            memory: None,
            ipc_buffer: Some((0x10_3000, 0x7000_0000)),
            image: None,
            io_ports_in_use: &[],
        })
    }

    /// Where [`boot_image`](Self::boot_image) puts the image's frames (physical).
    pub const IMAGE_PADDR: u64 = 0x20_0000;
    /// Where it puts the root server's objects (physical, aligned to the root CNode).
    pub const ROOT_SERVER: u64 = 0x200_0000_0000;
    /// The first bytes of its one page of extra bootinfo: a padding chunk covering the page.
    pub const EXTRA_HEADER: [u64; 2] = [abi::bootinfo::header::PADDING, 4096];

    /// Boots `arch` as seL4 boots a root task: an image of `pages` pages from `vstart` (its
    /// frames at [`IMAGE_PADDR`](Self::IMAGE_PADDR)), the IPC buffer, BootInfo frame and one page
    /// of extra bootinfo after it, the root server's objects from
    /// [`ROOT_SERVER`](Self::ROOT_SERVER) with a root CNode of radix `radix`, a device untyped of
    /// 2^22 at 8 GiB and untypeds of 2^24 and 2^22 at 4 GiB.
    pub fn boot_image(arch: abi::Arch, radix: u8, vstart: u64, pages: u64) -> Sel4 {
        use codegears::boot::{BootImage, RootServerLayout, image_paging};
        let vend = vstart + (pages << 12);
        let mut extra = [0u8; 4096];
        extra[..8].copy_from_slice(&Sel4::EXTRA_HEADER[0].to_le_bytes());
        extra[8..16].copy_from_slice(&Sel4::EXTRA_HEADER[1].to_le_bytes());
        let mapped_end = vend + 3 * 4096;
        let n = image_paging(arch, vstart, mapped_end) as u64;
        let at = RootServerLayout::new(Sel4::ROOT_SERVER, radix, n, 1);
        let tables: Vec<u64> = (0..n).map(|i| at.tables + (i << 12)).collect();
        let extra_frames = [(at.extra, &extra)];
        let image = BootImage {
            vstart,
            vend,
            pstart: Sel4::IMAGE_PADDR,
            tables: &tables,
            boot_info: at.boot_info,
            extra: &extra_frames,
        };
        assert_eq!(image.mapped_end(), mapped_end);
        Sel4::boot_with(&BootConfig {
            arch,
            root_radix: radix,
            root_tcb: at.tcb,
            root_cnode: at.cnode,
            untypeds: &[(0x2_0000_0000, 22, true), (0x1_0000_0000, 24, false), (0x1_0100_0000, 22, false)],
            vspace_root: at.vspace,
            boot_entries: &[],
            asid_pool: at.asid_pool,
            memory: None,
            ipc_buffer: Some((at.ipc_buffer, image.ipc_buffer_vaddr())),
            image: Some(image),
            io_ports_in_use: &[],
        })
    }

    /// The top-level entry [`boot_arch`](Self::boot_arch) gives the root task's boot mappings.
    pub const fn boot_entry(arch: abi::Arch) -> u16 {
        match arch {
            abi::Arch::X86_64 => 1,
            abi::Arch::Riscv64 => 4,
        }
    }

    /// Boots from a configuration (arch, real memory map, root VSpace).
    pub fn boot_with(cfg: &BootConfig<'_>) -> Sel4 {
        Sel4::boot_from(KernelState::boot_with(cfg))
    }

    /// Around a kernel state boot made.
    pub fn boot_from((state, info): (KernelState, BootInfo)) -> Sel4 {
        let next_free = info.first_free;
        let thread = info.root_tcb;
        let mut machine = HostMachine::default();
        info.machine_ops.iter().for_each(|&op| machine.apply(op));
        let s = Sel4 {
            k: Kernel::new(state),
            info,
            next_free,
            calls: 0,
            checks: 0,
            thread,
            checked: true,
            halted: None,
            machine_ops: Vec::new(),
            machine,
            spawned: 0,
        };
        invariants(&s.k).expect("boot state satisfies the invariants");
        s
    }

    /// The root CNode's cptr (`seL4_CapInitThreadCNode`).
    pub fn root(&self) -> u64 {
        abi::bootinfo::CAP_INIT_THREAD_CNODE
    }

    /// The cptr of the `i`-th boot untyped.
    pub fn untyped(&self, i: usize) -> u64 {
        self.info.untyped[i].0
    }

    /// A fresh empty root-CNode slot (`vka_cspace_alloc`).
    pub fn free_slot(&mut self) -> u64 {
        let s = self.next_free;
        self.next_free += 1;
        s
    }

    /// Puts a system call in the current thread's registers and IPC buffer ([`load_call`]).
    pub fn load_call(&mut self, syscall: Syscall, cptr: u64, info: MessageInfo, mrs: &[u64], extra: &[u64]) {
        load_call(&mut self.k, self.thread, syscall, cptr, info, mrs, extra);
    }

    /// Runs one kernel entry of the current thread (activated first, as the kernel does before
    /// it returns to a thread) under `d`; the machine ops it applied are added to
    /// [`machine_ops`](Self::machine_ops).
    pub fn enter<M: MetaGear<Kernel>>(
        &mut self,
        d: &mut Dispatcher<Kernel, M>,
        event: Event,
    ) -> Result<End, EntryError> {
        match event {
            // The thread an interrupt finds running is the one the scheduler would run.
            Event::Interrupt(_) => self.k.state.sched.current = self.k.state.sched.choose_thread(),
            _ => entry::activate_thread(&mut self.k, self.thread),
        }
        let applied = self.machine.ops.len();
        let end = entry::handle(&mut self.k, d, &mut self.machine, event);
        self.machine_ops.extend_from_slice(&self.machine.ops[applied..]);
        if self.checked
            && let Err(v) = check_hardware_tables(&self.k.state, &self.machine)
        {
            panic!("after a kernel entry: {v}");
        }
        end
    }

    /// Runs the system call of `req` (the thread, syscall, cap, label, message words and extra
    /// caps; with no syscall, `seL4_Call`, or `seL4_NBSend` on an IPC cap) to its end under `d`, making it again after every preemption (the
    /// thread is `Restart` under seL4's `Mode::Restart`; under `Mode::Resume` it goes on from
    /// its kept continuation). Returns how it ended and how many times it was preempted. A
    /// metagear's halt is kept in [`halted`](Self::halted) and ends the run with `Ok`.
    ///
    /// With [`checked`](Self::checked) on, a call that fails with an seL4 error before any
    /// preemption must have changed nothing but its own reply, and must have recorded no
    /// machine op. A cap fault of a thread without a fault handler stops it, as in seL4; the
    /// harness then plays the handler that steps the thread past the failed call and restarts
    /// it, so a test goes on with it.
    pub fn run<M: MetaGear<Kernel>>(
        &mut self,
        d: &mut Dispatcher<Kernel, M>,
        req: Request,
    ) -> (Result<(), SyscallError>, u64) {
        let before = self.thread;
        self.thread = req.thread;
        // Without a system call named, a kernel object is invoked with seL4_Call; a cap to an
        // endpoint, notification or reply with seL4_NBSend, so the caller never blocks.
        let syscall = req.syscall.unwrap_or_else(|| match self.cap(req.cptr) {
            Cap::Endpoint { .. } | Cap::Notification { .. } | Cap::Reply { .. } => Syscall::NBSend,
            _ => Syscall::Call,
        });
        let info = MessageInfo::new(req.label, 0, req.extra_cptrs.len() as u64, req.mrs.len() as u64);
        self.load_call(syscall, req.cptr, info, &req.mrs, &req.extra_cptrs);
        let r = self.run_loaded(d);
        self.thread = before;
        r
    }

    /// [`run`](Self::run) of the call already in the current thread's registers.
    fn run_loaded<M: MetaGear<Kernel>>(
        &mut self,
        d: &mut Dispatcher<Kernel, M>,
    ) -> (Result<(), SyscallError>, u64) {
        let thread = self.thread;
        entry::activate_thread(&mut self.k, thread);
        let before = self.checked.then(|| self.k.state.clone());
        let ops_before = self.machine_ops.len();
        let mut preemptions = 0;
        self.calls += 1;
        loop {
            match self.enter(d, Event::Syscall) {
                Ok(End::Preempted(_)) => preemptions += 1,
                Ok(End::Failed(e)) => {
                    if let (0, Some(before)) = (preemptions, &before) {
                        let ops = &self.machine_ops[ops_before..];
                        assert!(ops.is_empty(), "a failed invocation ({e:?}) recorded machine ops {ops:?}");
                        if e.error().is_some() {
                            assert!(
                                without_reply(&self.k.state, before, thread) == *before,
                                "a failed invocation ({e:?}) changed the kernel state"
                            );
                        }
                    }
                    self.skip_faulted_call(thread, &e);
                    return (Err(e), preemptions);
                }
                Ok(_) => return (Ok(()), preemptions),
                Err(EntryError::Halted { halt, step }) => {
                    self.halted = Some((halt, step));
                    return (Ok(()), preemptions);
                }
                // The calling thread is gone (a test's call deleted it): no entry can happen.
                Err(EntryError::NoCurrentThread) => {
                    return (Err(SyscallError::IllegalOperation), preemptions);
                }
            }
        }
    }

    /// A cap fault stopped `thread` (it has no fault handler): restart it past the call, as a
    /// handler that advanced its instruction pointer and replied would.
    fn skip_faulted_call(&mut self, thread: ObjPtr, e: &SyscallError) {
        let stopped = self.k.state.objects.thread_state(thread) == ThreadState::Inactive;
        if matches!(e, SyscallError::CapFault { .. }) && stopped {
            let s = &mut self.k.state;
            codegears::thread::set_thread_state(&mut s.objects, &mut s.sched, thread, ThreadState::Running);
        }
    }

    /// Runs one invocation with the invariant checker at every preemption point and at its end.
    pub fn invoke(&mut self, cptr: u64, label: u64, mrs: &[u64], extra: &[u64]) -> Result<(), SyscallError> {
        let req = self.request(cptr, label, mrs, extra);
        if !self.checked {
            return self.run(&mut Dispatcher::new(()), req).0;
        }
        let mut d = Dispatcher::new(Invariant::new(invariants));
        let (r, _) = self.run(&mut d, req);
        self.checks += d.meta().checks();
        if let Some(v) = d.meta().violation() {
            panic!("{v}");
        }
        if let Some((halt, step)) = self.halted.take() {
            panic!("halted at step {step}: {halt}");
        }
        r
    }

    /// A system call from the current thread: `seL4_Call` (or Send, …) with a MessageInfo
    /// word, with the invariant checker; returns how it ended.
    pub fn syscall(
        &mut self,
        syscall: Syscall,
        cptr: u64,
        info: u64,
        mrs: &[u64],
        extra: &[u64],
    ) -> Result<(), SyscallError> {
        self.sys(syscall, cptr, MessageInfo::from_raw(info), mrs, extra).map(|_| ())
    }

    /// The slot and remaining bits a cptr resolves to (the `lookup_slot` gears). It runs on the
    /// kernel context, so it must not be called while an invocation is suspended under Resume.
    pub fn lookup(&mut self, cptr: u64) -> Result<(SlotRef, u64), SyscallError> {
        assert!(self.k.meta.continuation.is_none(), "an invocation is suspended under Resume");
        self.k.set_request(Request { thread: self.thread, cptr, ..Request::default() });
        match Dispatcher::new(()).run(&mut self.k, &LOOKUP_SLOT) {
            Outcome::Exited(Done::Found { slot, bits_remaining }) => Ok((slot, bits_remaining)),
            Outcome::Failed(e) => Err(e),
            other => panic!("lookup ended with {other:?}"),
        }
    }

    /// The cap at a root-CNode cptr (Null if the lookup fails).
    pub fn cap(&mut self, cptr: u64) -> Cap {
        match self.lookup(cptr) {
            Ok((slot, _)) => self.k.state.cspace.cap(slot),
            Err(_) => Cap::Null,
        }
    }

    /// The slot a cptr resolves to (panics if it does not).
    pub fn slot(&mut self, cptr: u64) -> SlotRef {
        self.lookup(cptr).expect("cptr resolves").0
    }

    /// A request from the current thread.
    pub fn request(&self, cptr: u64, label: u64, mrs: &[u64], extra: &[u64]) -> Request {
        Request {
            thread: self.thread,
            cptr,
            label,
            mrs: mrs.iter().copied().take(abi::MSG_MAX_LENGTH as usize).collect(),
            extra_cptrs: extra.iter().copied().take(abi::MSG_MAX_EXTRA_CAPS as usize).collect(),
            ..Request::default()
        }
    }

    /// Whether the root-CNode slot `cptr` is empty.
    pub fn is_slot_empty(&mut self, cptr: u64) -> bool {
        self.cap(cptr).is_null()
    }

    /// `seL4_Untyped_Retype`.
    #[allow(clippy::too_many_arguments)]
    pub fn retype(
        &mut self,
        ut: u64,
        ty: u64,
        size: u64,
        root: u64,
        index: u64,
        depth: u64,
        offset: u64,
        num: u64,
    ) -> Result<(), SyscallError> {
        self.invoke(ut, label::untyped::RETYPE, &[ty, size, index, depth, offset, num], &[root])
    }

    /// Retypes one object of `ty` from untyped `ut` into a fresh root slot; returns its cptr.
    pub fn alloc(&mut self, ut: u64, ty: u64, size: u64) -> u64 {
        let slot = self.free_slot();
        let root = self.root();
        self.retype(ut, ty, size, root, 0, 0, slot, 1).expect("retype of a test object");
        slot
    }

    /// A new TCB (`vka_alloc_tcb`) from untyped 0.
    pub fn alloc_tcb(&mut self) -> u64 {
        self.alloc(self.untyped(0), abi::object::TCB, 0)
    }

    /// A new endpoint from untyped 0.
    pub fn alloc_endpoint(&mut self) -> u64 {
        self.alloc(self.untyped(0), abi::object::ENDPOINT, 0)
    }

    /// A new CNode of `2^radix` slots from untyped 0.
    pub fn alloc_cnode(&mut self, radix: u64) -> u64 {
        self.alloc(self.untyped(0), abi::object::CAP_TABLE, radix)
    }

    /// `seL4_CNode_Copy(root, dest, depth, src_root, src, src_depth, rights)`.
    #[allow(clippy::too_many_arguments)]
    pub fn cnode_copy(
        &mut self,
        root: u64,
        dest: u64,
        depth: u64,
        src_root: u64,
        src: u64,
        src_depth: u64,
        rights: CapRights,
    ) -> Result<(), SyscallError> {
        self.invoke(root, label::cnode::COPY, &[dest, depth, src, src_depth, rights.word()], &[src_root])
    }

    /// `seL4_CNode_Mint`.
    #[allow(clippy::too_many_arguments)]
    pub fn cnode_mint(
        &mut self,
        root: u64,
        dest: u64,
        depth: u64,
        src_root: u64,
        src: u64,
        src_depth: u64,
        rights: CapRights,
        data: u64,
    ) -> Result<(), SyscallError> {
        self.invoke(
            root,
            label::cnode::MINT,
            &[dest, depth, src, src_depth, rights.word(), data],
            &[src_root],
        )
    }

    /// `seL4_CNode_Move`.
    pub fn cnode_move(
        &mut self,
        root: u64,
        dest: u64,
        depth: u64,
        src_root: u64,
        src: u64,
        src_depth: u64,
    ) -> Result<(), SyscallError> {
        self.invoke(root, label::cnode::MOVE, &[dest, depth, src, src_depth], &[src_root])
    }

    /// `seL4_CNode_Mutate`.
    #[allow(clippy::too_many_arguments)]
    pub fn cnode_mutate(
        &mut self,
        root: u64,
        dest: u64,
        depth: u64,
        src_root: u64,
        src: u64,
        src_depth: u64,
        data: u64,
    ) -> Result<(), SyscallError> {
        self.invoke(root, label::cnode::MUTATE, &[dest, depth, src, src_depth, data], &[src_root])
    }

    /// `seL4_CNode_Rotate` (all in the root CNode at depth 64, no new data).
    pub fn cnode_rotate(&mut self, dest: u64, pivot: u64, src: u64) -> Result<(), SyscallError> {
        let r = self.root();
        self.invoke(
            r,
            label::cnode::ROTATE,
            &[dest, WORD_BITS, 0, pivot, WORD_BITS, 0, src, WORD_BITS],
            &[r, r],
        )
    }

    /// `seL4_CNode_Delete`.
    pub fn cnode_delete(&mut self, root: u64, index: u64, depth: u64) -> Result<(), SyscallError> {
        self.invoke(root, label::cnode::DELETE, &[index, depth], &[])
    }

    /// `seL4_CNode_Revoke`.
    pub fn cnode_revoke(&mut self, root: u64, index: u64, depth: u64) -> Result<(), SyscallError> {
        self.invoke(root, label::cnode::REVOKE, &[index, depth], &[])
    }

    /// `seL4_CNode_SaveCaller`.
    pub fn cnode_save_caller(&mut self, root: u64, index: u64, depth: u64) -> Result<(), SyscallError> {
        self.invoke(root, label::cnode::SAVE_CALLER, &[index, depth], &[])
    }

    /// `seL4_CNode_CancelBadgedSends`.
    pub fn cnode_cancel_badged_sends(
        &mut self,
        root: u64,
        index: u64,
        depth: u64,
    ) -> Result<(), SyscallError> {
        self.invoke(root, label::cnode::CANCEL_BADGED_SENDS, &[index, depth], &[])
    }

    /// Copy within the root CNode with all rights.
    pub fn copy(&mut self, src: u64, dest: u64) -> Result<(), SyscallError> {
        let r = self.root();
        self.cnode_copy(r, dest, WORD_BITS, r, src, WORD_BITS, CapRights::ALL)
    }

    /// The slots `cteRevoke` would delete from `cptr`: the run after it of which it is the MDB parent.
    pub fn descendants(&mut self, cptr: u64) -> Vec<SlotRef> {
        let (slot, _) = self.lookup(cptr).expect("cptr resolves");
        let cs = &self.k.state.cspace;
        let me = cs.get(slot);
        let mut out = Vec::new();
        let mut s = me.mdb.next;
        while let Some(n) = s {
            if !codegears::cdt::is_mdb_parent_of(&me, &cs.get(n)) {
                break;
            }
            out.push(n);
            s = cs.mdb(n).next;
        }
        out
    }
}

/// One step of a scripted thread: a closure run as that thread (the harness's `thread` is set to
/// it), usually one system call and the assertions on what the previous one delivered.
pub type ThreadStep = Box<dyn FnOnce(&mut Sel4)>;

impl Sel4 {
    /// A system call from the current thread through the kernel entry, with the invariant
    /// checker (unless [`checked`](Self::checked) is off): how it ended, `Done::Blocked` when
    /// the thread now waits (or its fault went to its handler).
    pub fn sys(
        &mut self,
        syscall: Syscall,
        cptr: u64,
        info: MessageInfo,
        mrs: &[u64],
        extra: &[u64],
    ) -> Result<Done, SyscallError> {
        self.load_call(syscall, cptr, info, mrs, extra);
        self.enter_checked(Event::Syscall)
    }

    /// One kernel entry of the current thread with the invariant checker (unless
    /// [`checked`](Self::checked) is off), as a test sees it.
    pub fn enter_checked(&mut self, event: Event) -> Result<Done, SyscallError> {
        self.calls += 1;
        let end = if self.checked {
            let mut d = Dispatcher::new(Invariant::new(invariants));
            let end = self.enter(&mut d, event);
            self.checks += d.meta().checks();
            if let Some(v) = d.meta().violation() {
                panic!("{v}");
            }
            end
        } else {
            self.enter(&mut Dispatcher::new(()), event)
        };
        match end {
            Ok(End::Done(d)) => Ok(d),
            Ok(End::Failed(e)) => Err(e),
            Ok(End::Faulted) => Ok(Done::Blocked),
            Ok(End::DebugPutChar | End::DebugHalt | End::Bench(..)) => Ok(Done::Ok),
            // A test may make a call as a thread that is gone (deleted): no kernel entry could
            // happen; the harness answers as the gears would for a thread that cannot run.
            Err(EntryError::NoCurrentThread) => Err(SyscallError::IllegalOperation),
            other => panic!("the kernel entry ended with {other:?}"),
        }
    }

    /// A system call by the number a thread's register holds (a number that names no system
    /// call is an UnknownSyscall fault, seL4's `handleUnknownSyscall`).
    pub fn sys_number(
        &mut self,
        number: i64,
        cptr: u64,
        info: MessageInfo,
        mrs: &[u64],
        extra: &[u64],
    ) -> Result<Done, SyscallError> {
        self.load_call(Syscall::Call, cptr, info, mrs, extra);
        let regs = self.k.state.arch.syscall_registers();
        {
            let mut t = self.k.state.objects.tcb_mut(self.thread);
            t.registers[regs.number] = number as u64;
        }
        self.enter_checked(Event::Syscall)
    }

    /// Runs `f` as thread `t`, then switches back to the thread that was current.
    pub fn as_thread<R>(&mut self, t: ObjPtr, f: impl FnOnce(&mut Sel4) -> R) -> R {
        let before = self.thread;
        self.thread = t;
        let r = f(self);
        self.thread = before;
        r
    }

    /// `seL4_Send(ep, info)` with `mrs` as message registers.
    pub fn send(&mut self, ep: u64, label: u64, mrs: &[u64]) -> Result<Done, SyscallError> {
        self.sys(Syscall::Send, ep, MessageInfo::new(label, 0, 0, mrs.len() as u64), mrs, &[])
    }

    /// `seL4_NBSend`.
    pub fn nb_send(&mut self, ep: u64, label: u64, mrs: &[u64]) -> Result<Done, SyscallError> {
        self.sys(Syscall::NBSend, ep, MessageInfo::new(label, 0, 0, mrs.len() as u64), mrs, &[])
    }

    /// `seL4_Call`.
    pub fn call(&mut self, ep: u64, label: u64, mrs: &[u64]) -> Result<Done, SyscallError> {
        self.sys(Syscall::Call, ep, MessageInfo::new(label, 0, 0, mrs.len() as u64), mrs, &[])
    }

    /// `seL4_Send` with extra caps (cptrs in the sender's CSpace).
    pub fn send_caps(
        &mut self,
        ep: u64,
        label: u64,
        mrs: &[u64],
        caps: &[u64],
    ) -> Result<Done, SyscallError> {
        let info = MessageInfo::new(label, 0, caps.len() as u64, mrs.len() as u64);
        self.sys(Syscall::Send, ep, info, mrs, caps)
    }

    /// `seL4_Recv(ep)`.
    pub fn recv(&mut self, ep: u64) -> Result<Done, SyscallError> {
        self.sys(Syscall::Recv, ep, MessageInfo::default(), &[], &[])
    }

    /// `seL4_NBRecv(ep)` (also `seL4_Poll` on a notification).
    pub fn nb_recv(&mut self, ep: u64) -> Result<Done, SyscallError> {
        self.sys(Syscall::NBRecv, ep, MessageInfo::default(), &[], &[])
    }

    /// `seL4_Reply(info)`.
    pub fn reply(&mut self, label: u64, mrs: &[u64]) -> Result<Done, SyscallError> {
        self.sys(Syscall::Reply, 0, MessageInfo::new(label, 0, 0, mrs.len() as u64), mrs, &[])
    }

    /// `seL4_ReplyRecv(ep, info)`.
    pub fn reply_recv(&mut self, ep: u64, label: u64, mrs: &[u64]) -> Result<Done, SyscallError> {
        self.sys(Syscall::ReplyRecv, ep, MessageInfo::new(label, 0, 0, mrs.len() as u64), mrs, &[])
    }

    /// `seL4_Signal(ntfn)`.
    pub fn signal(&mut self, ntfn: u64) -> Result<Done, SyscallError> {
        self.sys(Syscall::Send, ntfn, MessageInfo::default(), &[], &[])
    }

    /// `seL4_Wait(ntfn)`.
    pub fn wait(&mut self, ntfn: u64) -> Result<Done, SyscallError> {
        self.recv(ntfn)
    }

    /// `seL4_Yield()`.
    pub fn yield_now(&mut self) -> Result<Done, SyscallError> {
        self.sys(Syscall::Yield, 0, MessageInfo::default(), &[], &[])
    }

    /// The TCB a Thread cap at `cptr` names.
    pub fn tcb_ptr(&mut self, cptr: u64) -> ObjPtr {
        match self.cap(cptr) {
            Cap::Thread { ptr } => ptr,
            c => panic!("{cptr} holds {c:?}, not a Thread cap"),
        }
    }

    /// The object an endpoint or notification cap at `cptr` names.
    pub fn obj_ptr(&mut self, cptr: u64) -> ObjPtr {
        match self.cap(cptr) {
            Cap::Endpoint { ptr, .. } | Cap::Notification { ptr, .. } => ptr,
            c => panic!("{cptr} holds {c:?}"),
        }
    }

    /// Whether a cap still names an object at `p` (the kernel keeps no other record of it).
    pub fn is_live(&self, p: ObjPtr) -> bool {
        self.live_kind(p).is_some()
    }

    /// What the caps say lives at `p`, if any.
    pub fn live_kind(&self, p: ObjPtr) -> Option<codegears::ObjKind> {
        let slots = self.k.state.slots();
        codegears::invariants::live_objects(&slots).expect("caps that agree").get(&p).copied()
    }

    /// How many objects the caps name.
    pub fn live_count(&self) -> usize {
        codegears::invariants::live_objects(&self.k.state.slots()).expect("caps that agree").len()
    }

    /// The TCB at `t`.
    pub fn tcb(&self, t: ObjPtr) -> Tcb {
        self.k.state.objects.tcb(t)
    }

    /// The thread state of `t`.
    pub fn state(&self, t: ObjPtr) -> ThreadState {
        self.tcb(t).state
    }

    /// What `t` last received: its MessageInfo, badge and message words ([`received`]).
    pub fn received(&self, t: ObjPtr) -> (MessageInfo, u64, Vec<u64>) {
        received(&self.k, t)
    }

    /// The unwrapped badges (`caps_or_badges`) in `t`'s IPC buffer.
    pub fn received_badges(&self, t: ObjPtr) -> [u64; 3] {
        let s = &self.k.state;
        let buffer = lookup_ipc_buffer(&s.cspace, &s.objects, t, false).expect("an IPC buffer");
        [0, 1, 2].map(|j| s.mem.read(buffer_word(buffer, IpcBuffer::cap(j))))
    }

    /// `seL4_SetCapReceivePath`: where `t` accepts a cap (it writes its own IPC buffer).
    pub fn set_cap_receive_path(&mut self, t: ObjPtr, cnode: u64, index: u64, depth: u64) {
        let s = &mut self.k.state;
        let buffer = lookup_ipc_buffer(&s.cspace, &s.objects, t, false).expect("an IPC buffer");
        s.mem.write(buffer_word(buffer, IpcBuffer::RECEIVE_CNODE), cnode);
        s.mem.write(buffer_word(buffer, IpcBuffer::RECEIVE_INDEX), index);
        s.mem.write(buffer_word(buffer, IpcBuffer::RECEIVE_DEPTH), depth);
    }

    /// The thread the scheduler would run now (`chooseThread`).
    pub fn running(&self) -> Option<ObjPtr> {
        self.k.state.sched.choose_thread()
    }

    /// A new notification from untyped 0.
    pub fn alloc_notification(&mut self) -> u64 {
        self.alloc(self.untyped(0), abi::object::NOTIFICATION, 0)
    }

    /// Mints `src` into a fresh root slot with `rights` and `badge`; returns its cptr.
    pub fn mint(&mut self, src: u64, rights: CapRights, badge: u64) -> u64 {
        let r = self.root();
        let dest = self.free_slot();
        self.cnode_mint(r, dest, WORD_BITS, r, src, WORD_BITS, rights, badge).expect("mint");
        dest
    }

    /// A TCB invocation from the current thread through `seL4_Call`.
    pub fn tcb_invoke(
        &mut self,
        tcb: u64,
        label: u64,
        mrs: &[u64],
        extra: &[u64],
    ) -> Result<Done, SyscallError> {
        let info = MessageInfo::new(label, 0, extra.len() as u64, mrs.len() as u64);
        self.sys(Syscall::Call, tcb, info, mrs, extra)
    }

    /// `seL4_TCB_SetPriority(tcb, authority = the root TCB, prio)`.
    pub fn set_priority(&mut self, tcb: u64, prio: u64) -> Result<Done, SyscallError> {
        self.tcb_invoke(tcb, label::tcb::SET_PRIORITY, &[prio], &[abi::bootinfo::CAP_INIT_THREAD_TCB])
    }

    /// `seL4_TCB_Resume`.
    pub fn resume(&mut self, tcb: u64) -> Result<Done, SyscallError> {
        self.tcb_invoke(tcb, label::tcb::RESUME, &[], &[])
    }

    /// `seL4_TCB_Suspend`.
    pub fn suspend(&mut self, tcb: u64) -> Result<Done, SyscallError> {
        self.tcb_invoke(tcb, label::tcb::SUSPEND, &[], &[])
    }

    /// `seL4_TCB_BindNotification`.
    pub fn bind_notification(&mut self, tcb: u64, ntfn: u64) -> Result<Done, SyscallError> {
        self.tcb_invoke(tcb, label::tcb::BIND_NOTIFICATION, &[], &[ntfn])
    }

    /// `seL4_TCB_UnbindNotification`.
    pub fn unbind_notification(&mut self, tcb: u64) -> Result<Done, SyscallError> {
        self.tcb_invoke(tcb, label::tcb::UNBIND_NOTIFICATION, &[], &[])
    }

    /// A helper thread as sel4test makes one: a new TCB sharing the root CSpace (SetSpace), at
    /// `prio`, resumed. Returns its cptr and TCB. Runs as the root task.
    pub fn spawn(&mut self, prio: u8) -> (u64, ObjPtr) {
        let me = self.thread;
        self.thread = self.info.root_tcb;
        let ut = if self.info.untyped.len() > 1 { self.untyped(1) } else { self.untyped(0) };
        let t = self.alloc(ut, abi::object::TCB, 0);
        let r = self.root();
        let info = MessageInfo::new(label::tcb::SET_SPACE, 0, 2, 3);
        self.sys(Syscall::Call, t, info, &[0, 0, 0], &[r, abi::bootinfo::CAP_INIT_THREAD_VSPACE])
            .expect("SetSpace");
        self.give_ipc_buffer(t, ut);
        self.set_priority(t, prio as u64).expect("SetPriority");
        self.resume(t).expect("Resume");
        self.thread = me;
        let ptr = self.tcb_ptr(t);
        (t, ptr)
    }

    /// Gives the thread whose TCB cap is `tcb` an IPC buffer of its own: a frame retyped from
    /// `ut`, at an address of its own (`seL4_TCB_SetIPCBuffer`). Runs as the current thread.
    pub fn give_ipc_buffer(&mut self, tcb: u64, ut: u64) {
        let frame_type = self.k.state.arch.frame_type(abi::object::bits::PAGE);
        let frame = self.alloc(ut, frame_type, 0);
        self.spawned += 1;
        let vaddr = codegears::boot::BOOT_IPC_BUFFER_VADDR + (self.spawned << abi::object::bits::PAGE);
        self.tcb_invoke(tcb, label::tcb::SET_IPC_BUFFER, &[vaddr], &[frame]).expect("SetIPCBuffer");
    }

    /// Runs scripted threads as the scheduler picks them: the highest-priority runnable thread
    /// that has steps left runs its next step (threads without steps, like the root task, are
    /// passed over as if they waited). Returns the threads in the order their steps ran; stops
    /// when no scripted thread can run.
    pub fn run_scripts(&mut self, scripts: &mut [(ObjPtr, Vec<ThreadStep>)]) -> Vec<ObjPtr> {
        for (_, steps) in scripts.iter_mut() {
            steps.reverse();
        }
        let mut order = Vec::new();
        loop {
            let next = self.k.state.sched.ready.iter().rev().find_map(|(_, q)| {
                let mut cur = q.head;
                while let Some(t) = cur {
                    if scripts.iter().any(|(s, steps)| *s == t && !steps.is_empty()) {
                        return Some(t);
                    }
                    cur = self.k.state.objects.tcb(t).sched_links.next;
                }
                None
            });
            let Some(t) = next else { return order };
            let step = scripts.iter_mut().find(|(s, _)| *s == t).and_then(|(_, steps)| steps.pop());
            let Some(step) = step else { return order };
            order.push(t);
            let before = self.thread;
            self.thread = t;
            step(self);
            self.thread = before;
        }
    }
}

impl Sel4 {
    /// The current thread takes `fault` (as the kernel enters when the thread takes an
    /// exception or a VM fault): the kernel entry's `handleFault`, with the invariant checker.
    pub fn fault(&mut self, fault: codegears::fault::Fault) -> Result<Done, SyscallError> {
        self.enter_checked(Event::UserFault(fault))
    }

    /// `seL4_TCB_SetSpace(tcb, fault_ep, root CNode, root VSpace)` from the current thread: the
    /// thread shares the root CSpace and VSpace and has `fault_ep` as its fault handler cptr.
    pub fn set_fault_handler(&mut self, tcb: u64, fault_ep: u64) {
        let r = self.root();
        let info = MessageInfo::new(label::tcb::SET_SPACE, 0, 2, 3);
        let vspace = abi::bootinfo::CAP_INIT_THREAD_VSPACE;
        assert_eq!(self.sys(Syscall::Call, tcb, info, &[fault_ep, 0, 0], &[r, vspace]), Ok(Done::Ok));
    }
}

/// `after` with `thread`'s registers and the memory (its IPC buffer) as they were in `before`:
/// what must equal `before` after a call that failed with an error reply.
pub fn without_reply(after: &KernelState, before: &KernelState, thread: ObjPtr) -> KernelState {
    let mut s = after.clone();
    let b = before.objects.tcb(thread);
    s.objects.tcb_mut(thread).set(|t| {
        t.registers = b.registers;
        t.next_ip = b.next_ip;
    });
    s.mem = before.mem.clone();
    s.sched.current = before.sched.current;
    s
}
