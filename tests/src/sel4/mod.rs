//! Scenario support for the seL4-derived tests: a booted kernel, a root task's view of it (cptrs
//! into a root CNode whose guard makes every cptr resolve at depth 64), and libsel4-like calls
//! that run the invocation gears under the dispatcher with the invariant checker plugged in.

pub mod machine;
pub mod mc;
pub mod plain;

use alloc::boxed::Box;
use alloc::vec::Vec;

use codegears::MachineOp;
use codegears::kernel::{BootConfig, BootInfo, Kernel, KernelState, Request, label, root_slot};
use codegears::lookup::{HANDLE_INVOCATION, LOOKUP_SLOT};
use codegears::object::{Tcb, ThreadState};
use codegears::syscall::{HANDLE_SYSCALL, MessageInfo, sys};
use codegears::untyped::object_type;
use codegears::{Cap, CapRights, Done, InvariantViolation, ObjPtr, SlotRef, SyscallError, check_invariants};
use gears::{Dispatcher, Halt, MetaGear, Mode, Outcome};
use metagears::Invariant;

/// `seL4_WordBits`: the depth at which a root-CNode cptr resolves.
pub const WORD_BITS: u64 = 64;

/// The invariant predicate on the kernel context, for the invariant metagear and the model checker.
pub fn invariants(k: &Kernel) -> Result<(), InvariantViolation> {
    check_invariants(&k.state)
}

/// A booted kernel and the root task's bookkeeping.
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
    /// The machine ops the invocations recorded, in order, drained after each dispatcher run
    /// as the real kernel's arch layer does.
    pub machine_ops: Vec<MachineOp>,
}

impl Sel4 {
    /// Boots with a root CNode of `2^root_radix` slots and untypeds of the given sizes.
    pub fn boot(root_radix: u8, untyped_bits: &[u8]) -> Sel4 {
        Sel4::from_boot(KernelState::boot(root_radix, untyped_bits))
    }

    /// Boots from a configuration (arch, real memory map, root VSpace).
    pub fn boot_with(cfg: &BootConfig<'_>) -> Sel4 {
        Sel4::from_boot(KernelState::boot_with(cfg))
    }

    fn from_boot((state, info): (KernelState, BootInfo)) -> Sel4 {
        let next_free = info.first_free;
        let thread = info.root_tcb;
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
        };
        invariants(&s.k).expect("boot state satisfies the invariants");
        s
    }

    /// The root CNode's cptr (`seL4_CapInitThreadCNode`).
    pub fn root(&self) -> u64 {
        root_slot::CNODE
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

    /// Runs one invocation to its end under `d`, re-running it after every preemption (seL4's
    /// Restart, or the saved continuation under Resume). Returns how it ended and how many times
    /// it was preempted. Panics if a metagear halts it (an invariant broke).
    pub fn run<M: MetaGear<Kernel>>(
        &mut self,
        d: &mut Dispatcher<Kernel, M>,
        req: Request,
    ) -> (Result<(), SyscallError>, u64) {
        self.k.set_request(req);
        let before = self.checked.then(|| self.k.state.clone());
        let mut preemptions = 0;
        self.calls += 1;
        loop {
            let out = d.run(&mut self.k, &HANDLE_INVOCATION);
            let ops = self.k.machine.drain();
            if let (Outcome::Failed(e), 0) = (&out, preemptions) {
                assert!(ops.is_empty(), "a failed invocation ({e:?}) recorded machine ops {ops:?}");
            }
            self.machine_ops.extend(ops);
            match out {
                Outcome::Exited(_) => return (Ok(()), preemptions),
                Outcome::Failed(e) => {
                    if let (0, Some(before)) = (preemptions, &before) {
                        assert!(
                            self.k.state == *before,
                            "a failed invocation ({e:?}) changed the kernel state"
                        );
                    }
                    return (Err(e), preemptions);
                }
                Outcome::Preempted { mode, .. } => {
                    preemptions += 1;
                    if mode == Mode::Restart {
                        let req = self.k.request.clone();
                        self.k.set_request(req);
                    }
                }
                Outcome::Halted { halt, step } => {
                    self.halted = Some((halt, step));
                    return (Ok(()), preemptions);
                }
            }
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
    /// word, run from `handle_syscall` with the invariant checker; returns how it ended.
    pub fn syscall(
        &mut self,
        syscall: i64,
        cptr: u64,
        info: u64,
        mrs: &[u64],
        extra: &[u64],
    ) -> Result<(), SyscallError> {
        let req = Request { syscall, info, ..self.request(cptr, 0, mrs, extra) };
        self.k.set_request(req);
        let mut d = Dispatcher::new(Invariant::new(invariants));
        let out = d.run(&mut self.k, &codegears::syscall::HANDLE_SYSCALL);
        self.machine_ops.extend(self.k.machine.drain());
        if let Some(v) = d.meta().violation() {
            panic!("{v}");
        }
        match out {
            Outcome::Exited(_) => Ok(()),
            Outcome::Failed(e) => Err(e),
            other => panic!("syscall ended with {other:?}"),
        }
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
            mrs: mrs.to_vec(),
            extra_cptrs: extra.to_vec(),
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
        self.invoke(ut, label::UNTYPED_RETYPE, &[ty, size, index, depth, offset, num], &[root])
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
        self.alloc(self.untyped(0), object_type::TCB, 0)
    }

    /// A new endpoint from untyped 0.
    pub fn alloc_endpoint(&mut self) -> u64 {
        self.alloc(self.untyped(0), object_type::ENDPOINT, 0)
    }

    /// A new CNode of `2^radix` slots from untyped 0.
    pub fn alloc_cnode(&mut self, radix: u64) -> u64 {
        self.alloc(self.untyped(0), object_type::CAP_TABLE, radix)
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
        self.invoke(root, label::CNODE_COPY, &[dest, depth, src, src_depth, rights.to_word()], &[src_root])
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
            label::CNODE_MINT,
            &[dest, depth, src, src_depth, rights.to_word(), data],
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
        self.invoke(root, label::CNODE_MOVE, &[dest, depth, src, src_depth], &[src_root])
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
        self.invoke(root, label::CNODE_MUTATE, &[dest, depth, src, src_depth, data], &[src_root])
    }

    /// `seL4_CNode_Rotate` (all in the root CNode at depth 64, no new data).
    pub fn cnode_rotate(&mut self, dest: u64, pivot: u64, src: u64) -> Result<(), SyscallError> {
        let r = self.root();
        self.invoke(
            r,
            label::CNODE_ROTATE,
            &[dest, WORD_BITS, 0, pivot, WORD_BITS, 0, src, WORD_BITS],
            &[r, r],
        )
    }

    /// `seL4_CNode_Delete`.
    pub fn cnode_delete(&mut self, root: u64, index: u64, depth: u64) -> Result<(), SyscallError> {
        self.invoke(root, label::CNODE_DELETE, &[index, depth], &[])
    }

    /// `seL4_CNode_Revoke`.
    pub fn cnode_revoke(&mut self, root: u64, index: u64, depth: u64) -> Result<(), SyscallError> {
        self.invoke(root, label::CNODE_REVOKE, &[index, depth], &[])
    }

    /// `seL4_CNode_SaveCaller`.
    pub fn cnode_save_caller(&mut self, root: u64, index: u64, depth: u64) -> Result<(), SyscallError> {
        self.invoke(root, label::CNODE_SAVE_CALLER, &[index, depth], &[])
    }

    /// `seL4_CNode_CancelBadgedSends`.
    pub fn cnode_cancel_badged_sends(
        &mut self,
        root: u64,
        index: u64,
        depth: u64,
    ) -> Result<(), SyscallError> {
        self.invoke(root, label::CNODE_CANCEL_BADGED_SENDS, &[index, depth], &[])
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
    /// A system call from the current thread, from `handle_syscall`, with the invariant checker
    /// (unless [`checked`](Self::checked) is off): how it ended, `Done::Blocked` when the thread
    /// now waits.
    pub fn sys(
        &mut self,
        syscall: i64,
        cptr: u64,
        info: MessageInfo,
        mrs: &[u64],
        extra: &[u64],
    ) -> Result<Done, SyscallError> {
        let req = Request { syscall, info: info.to_word(), ..self.request(cptr, 0, mrs, extra) };
        self.k.set_request(req);
        self.calls += 1;
        let out = if self.checked {
            let mut d = Dispatcher::new(Invariant::new(invariants));
            let out = d.run(&mut self.k, &HANDLE_SYSCALL);
            self.checks += d.meta().checks();
            if let Some(v) = d.meta().violation() {
                panic!("{v}");
            }
            out
        } else {
            Dispatcher::new(()).run(&mut self.k, &HANDLE_SYSCALL)
        };
        self.machine_ops.extend(self.k.machine.drain());
        match out {
            Outcome::Exited(d) => Ok(d),
            Outcome::Failed(e) => Err(e),
            other => panic!("syscall ended with {other:?}"),
        }
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
        self.sys(sys::SEND, ep, MessageInfo::new(label, 0, 0, mrs.len() as u64), mrs, &[])
    }

    /// `seL4_NBSend`.
    pub fn nb_send(&mut self, ep: u64, label: u64, mrs: &[u64]) -> Result<Done, SyscallError> {
        self.sys(sys::NB_SEND, ep, MessageInfo::new(label, 0, 0, mrs.len() as u64), mrs, &[])
    }

    /// `seL4_Call`.
    pub fn call(&mut self, ep: u64, label: u64, mrs: &[u64]) -> Result<Done, SyscallError> {
        self.sys(sys::CALL, ep, MessageInfo::new(label, 0, 0, mrs.len() as u64), mrs, &[])
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
        self.sys(sys::SEND, ep, info, mrs, caps)
    }

    /// `seL4_Recv(ep)`.
    pub fn recv(&mut self, ep: u64) -> Result<Done, SyscallError> {
        self.sys(sys::RECV, ep, MessageInfo::default(), &[], &[])
    }

    /// `seL4_NBRecv(ep)` (also `seL4_Poll` on a notification).
    pub fn nb_recv(&mut self, ep: u64) -> Result<Done, SyscallError> {
        self.sys(sys::NB_RECV, ep, MessageInfo::default(), &[], &[])
    }

    /// `seL4_Reply(info)`.
    pub fn reply(&mut self, label: u64, mrs: &[u64]) -> Result<Done, SyscallError> {
        self.sys(sys::REPLY, 0, MessageInfo::new(label, 0, 0, mrs.len() as u64), mrs, &[])
    }

    /// `seL4_ReplyRecv(ep, info)`.
    pub fn reply_recv(&mut self, ep: u64, label: u64, mrs: &[u64]) -> Result<Done, SyscallError> {
        self.sys(sys::REPLY_RECV, ep, MessageInfo::new(label, 0, 0, mrs.len() as u64), mrs, &[])
    }

    /// `seL4_Signal(ntfn)`.
    pub fn signal(&mut self, ntfn: u64) -> Result<Done, SyscallError> {
        self.sys(sys::SEND, ntfn, MessageInfo::default(), &[], &[])
    }

    /// `seL4_Wait(ntfn)`.
    pub fn wait(&mut self, ntfn: u64) -> Result<Done, SyscallError> {
        self.recv(ntfn)
    }

    /// `seL4_Yield()`.
    pub fn yield_now(&mut self) -> Result<Done, SyscallError> {
        self.sys(sys::YIELD, 0, MessageInfo::default(), &[], &[])
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

    /// The TCB at `t`.
    pub fn tcb(&self, t: ObjPtr) -> &Tcb {
        self.k.state.objects.tcb(t).expect("a live TCB")
    }

    /// The thread state of `t`.
    pub fn state(&self, t: ObjPtr) -> ThreadState {
        self.tcb(t).state
    }

    /// What `t` last received: its MessageInfo, badge and message words.
    pub fn received(&self, t: ObjPtr) -> (MessageInfo, u64, Vec<u64>) {
        let tcb = self.tcb(t);
        (MessageInfo::from_word(tcb.msg_info), tcb.badge, tcb.ipc_buffer.msg.clone())
    }

    /// `seL4_SetCapReceivePath`: where `t` accepts a cap (it writes its own IPC buffer).
    pub fn set_cap_receive_path(&mut self, t: ObjPtr, cnode: u64, index: u64, depth: u64) {
        let b = &mut self.k.state.objects.tcb_mut(t).expect("a live TCB").ipc_buffer;
        b.receive_cnode = cnode;
        b.receive_index = index;
        b.receive_depth = depth;
    }

    /// The thread the scheduler would run now (`chooseThread`).
    pub fn running(&self) -> Option<ObjPtr> {
        self.k.state.sched.choose_thread()
    }

    /// A new notification from untyped 0.
    pub fn alloc_notification(&mut self) -> u64 {
        self.alloc(self.untyped(0), object_type::NOTIFICATION, 0)
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
        self.sys(sys::CALL, tcb, info, mrs, extra)
    }

    /// `seL4_TCB_SetPriority(tcb, authority = the root TCB, prio)`.
    pub fn set_priority(&mut self, tcb: u64, prio: u64) -> Result<Done, SyscallError> {
        self.tcb_invoke(tcb, label::TCB_SET_PRIORITY, &[prio], &[root_slot::TCB])
    }

    /// `seL4_TCB_Resume`.
    pub fn resume(&mut self, tcb: u64) -> Result<Done, SyscallError> {
        self.tcb_invoke(tcb, label::TCB_RESUME, &[], &[])
    }

    /// `seL4_TCB_Suspend`.
    pub fn suspend(&mut self, tcb: u64) -> Result<Done, SyscallError> {
        self.tcb_invoke(tcb, label::TCB_SUSPEND, &[], &[])
    }

    /// `seL4_TCB_BindNotification`.
    pub fn bind_notification(&mut self, tcb: u64, ntfn: u64) -> Result<Done, SyscallError> {
        self.tcb_invoke(tcb, label::TCB_BIND_NOTIFICATION, &[], &[ntfn])
    }

    /// `seL4_TCB_UnbindNotification`.
    pub fn unbind_notification(&mut self, tcb: u64) -> Result<Done, SyscallError> {
        self.tcb_invoke(tcb, label::TCB_UNBIND_NOTIFICATION, &[], &[])
    }

    /// A helper thread as sel4test makes one: a new TCB sharing the root CSpace (SetSpace), at
    /// `prio`, resumed. Returns its cptr and TCB. Runs as the root task.
    pub fn spawn(&mut self, prio: u8) -> (u64, ObjPtr) {
        let me = self.thread;
        self.thread = self.info.root_tcb;
        let ut = if self.info.untyped.len() > 1 { self.untyped(1) } else { self.untyped(0) };
        let t = self.alloc(ut, object_type::TCB, 0);
        let r = self.root();
        let info = MessageInfo::new(label::TCB_SET_SPACE, 0, 2, 3);
        self.sys(sys::CALL, t, info, &[0, 0, 0], &[r, root_slot::VSPACE]).expect("SetSpace");
        self.set_priority(t, prio as u64).expect("SetPriority");
        self.resume(t).expect("Resume");
        self.thread = me;
        let ptr = self.tcb_ptr(t);
        (t, ptr)
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
                    cur = self.k.state.objects.tcb(t).and_then(|x| x.sched_links.next);
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
    /// The current thread takes `fault` (`handleFault`, as the kernel runs it when the thread
    /// takes an exception or a VM fault, or its system call ended in a cap fault): runs
    /// [`HANDLE_FAULT`](codegears::fault::HANDLE_FAULT) with the invariant checker at every gear.
    pub fn fault(&mut self, fault: codegears::fault::Fault) -> Result<Done, SyscallError> {
        let req = Request { thread: self.thread, fault: Some(fault), ..Request::default() };
        self.k.set_request(req);
        self.calls += 1;
        let mut d = Dispatcher::new(Invariant::new(invariants));
        let out = d.run(&mut self.k, &codegears::fault::HANDLE_FAULT);
        self.checks += d.meta().checks();
        if let Some(v) = d.meta().violation() {
            panic!("{v}");
        }
        match out {
            Outcome::Exited(d) => Ok(d),
            Outcome::Failed(e) => Err(e),
            other => panic!("fault ended with {other:?}"),
        }
    }

    /// `seL4_TCB_SetSpace(tcb, fault_ep, root CNode, root VSpace)` from the current thread: the
    /// thread shares the root CSpace and VSpace and has `fault_ep` as its fault handler cptr.
    pub fn set_fault_handler(&mut self, tcb: u64, fault_ep: u64) {
        let r = self.root();
        let info = MessageInfo::new(label::TCB_SET_SPACE, 0, 2, 3);
        let vspace = codegears::kernel::root_slot::VSPACE;
        assert_eq!(self.sys(sys::CALL, tcb, info, &[fault_ep, 0, 0], &[r, vspace]), Ok(Done::Ok));
    }
}
