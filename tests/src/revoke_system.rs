//! `cteRevoke` against CNode copies and mints, as a system the model checker explores
//! (`metagears::mc`): each scripted thread is a process whose step runs one CNode invocation on the
//! kernel gears up to its end or its next preemption point. Preemption is seL4's: under
//! [`Mode::Restart`](gears::Mode::Restart) a preempted revoke starts its invocation over and finds
//! its progress in the CDT, so one kernel context serves every thread.
//!
//! [`Variant::BrokenRevoke`] runs revokes on a copy of the revoke loop whose child step empties
//! the child's slot in place, without relinking its CDT neighbours, before its preemption point.

use abi::{MessageInfo, Syscall, label};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use codegears::cap::SLOT_BITS;
use codegears::cdt::is_mdb_parent_of;
use codegears::entry::{self, Event, Start};
use codegears::kernel::{Done, Kernel, RevokeCursor};
use codegears::lookup::INVOCATION_DONE;
use codegears::{CSpace, CapRights, Cte, ObjPtr, Request, SlotRef, SyscallError};
use gears::{Dispatcher, Gear, Next, Outcome, ProcessId};
use metagears::mc::{GearSystem, Status};

use crate::sel4::{HostMachine, WORD_BITS, load_call};

/// One invocation of a thread's script, on root-CNode cptrs.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    /// `seL4_CNode_Revoke` of the slot.
    Revoke(u64),
    /// `seL4_CNode_Copy` from `src` to `dest`, all rights.
    Copy {
        /// The source slot.
        src: u64,
        /// The (empty) destination slot.
        dest: u64,
    },
    /// `seL4_CNode_Mint` from `src` to `dest`, all rights, with this badge.
    Mint {
        /// The source slot.
        src: u64,
        /// The (empty) destination slot.
        dest: u64,
        /// The badge.
        badge: u64,
    },
}

/// Which revoke the threads' `Revoke` ops run.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Variant {
    /// The kernel's `invokeCNodeRevoke` ([`codegears::delete`]'s gears).
    Correct,
    /// The broken loop of this module ([`REVOKE_CHECK_BROKEN`]).
    BrokenRevoke,
}

/// A whole system state: the kernel, each thread's place in its script and its calls' errors.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct RevokeState {
    /// The kernel context.
    pub k: Kernel,
    /// Each thread's next op.
    pub pc: Vec<usize>,
    /// The errors the threads' calls ended with, in order.
    pub errors: Vec<(usize, SyscallError)>,
}

/// Scripted threads sharing the root CNode of a prepared kernel.
pub struct RevokeSystem {
    /// The kernel to start from.
    pub kernel: Kernel,
    /// The root CNode (every cptr names its slot of that index).
    pub root_cnode: ObjPtr,
    /// The threads' TCBs, by process number.
    pub threads: Vec<ObjPtr>,
    /// Their scripts.
    pub scripts: Vec<Vec<Op>>,
    /// Which revoke runs.
    pub variant: Variant,
    /// The root-CNode slots a state's description shows.
    pub shown: Vec<u64>,
}

gears::code_gear! {
    /// The broken revoke's loop test, as `cteRevoke`'s: is the next slot a child of the revoked one?
    pub fn revoke_check_broken(ctx: Kernel; cspace: &CSpace, revoke: &RevokeCursor) {
        let Some(slot) = revoke.slot else {
            return Next::Goto(&INVOCATION_DONE);
        };
        let cte = cspace.get(slot);
        match cte.mdb.next {
            Some(n) if is_mdb_parent_of(&cte, &cspace.get(n)) => Next::Goto(&REVOKE_DELETE_CHILD_BROKEN),
            _ => Next::Goto(&INVOCATION_DONE),
        }
    }
}

gears::code_gear! {
    /// BROKEN on purpose: deletes the next child by emptying its slot in place, leaving its CDT
    /// neighbours' `next`/`prev` pointing at the empty slot across the preemption point.
    pub fn revoke_delete_child_broken(ctx: Kernel; cspace: &mut CSpace, revoke: &mut RevokeCursor) {
        let Some(child) = revoke.slot.and_then(|s| cspace.mdb(s).next) else {
            return Next::Goto(&INVOCATION_DONE);
        };
        cspace.set(child, Cte::default());
        revoke.deleted += 1;
        Next::Preempt(&REVOKE_CHECK_BROKEN)
    }
}

impl RevokeSystem {
    fn op(&self, s: &RevokeState, i: usize) -> Option<Op> {
        self.scripts[i].get(s.pc[i]).copied()
    }

    /// The root-CNode slot of `cptr`.
    pub fn slot(&self, cptr: u64) -> SlotRef {
        SlotRef::of(self.root_cnode, cptr)
    }

    /// Whether every thread has run its whole script.
    pub fn all_done(&self, s: &RevokeState) -> bool {
        s.pc.iter().zip(&self.scripts).all(|(&pc, script)| pc >= script.len())
    }

    /// Puts the `seL4_Call` of `op` in thread `i`'s registers and IPC buffer.
    fn load(&self, k: &mut Kernel, i: usize, op: Op) {
        let root = abi::bootinfo::CAP_INIT_THREAD_CNODE;
        let (label, mrs, extra) = match op {
            Op::Revoke(c) => (label::cnode::REVOKE, Vec::from([c, WORD_BITS]), Vec::new()),
            Op::Copy { src, dest } => (
                label::cnode::COPY,
                Vec::from([dest, WORD_BITS, src, WORD_BITS, CapRights::ALL.word()]),
                Vec::from([root]),
            ),
            Op::Mint { src, dest, badge } => (
                label::cnode::MINT,
                Vec::from([dest, WORD_BITS, src, WORD_BITS, CapRights::ALL.word(), badge]),
                Vec::from([root]),
            ),
        };
        let info = MessageInfo::new(label, 0, extra.len() as u64, mrs.len() as u64);
        load_call(k, self.threads[i], Syscall::Call, root, info, &mrs, &extra);
    }
}

impl GearSystem for RevokeSystem {
    type Ctx = Kernel;
    type State = RevokeState;
    type Event = ();

    fn initial(&self) -> Vec<RevokeState> {
        let n = self.threads.len();
        Vec::from([RevokeState { k: self.kernel.clone(), pc: alloc::vec![0; n], errors: Vec::new() }])
    }

    fn processes(&self, _s: &RevokeState) -> Vec<ProcessId> {
        (0..self.threads.len() as u32).map(ProcessId).collect()
    }

    fn status(&self, s: &RevokeState, p: ProcessId) -> Status {
        if self.op(s, p.0 as usize).is_some() { Status::Runnable } else { Status::Done }
    }

    fn context<'a>(&self, s: &'a mut RevokeState, p: ProcessId) -> &'a mut Kernel {
        s.k.meta.process = p;
        &mut s.k
    }

    fn begin(&self, s: &mut RevokeState, p: ProcessId) -> &'static Gear<Kernel> {
        let i = p.0 as usize;
        let op = self.op(s, i).unwrap_or(Op::Revoke(0));
        entry::activate_thread(&mut s.k, self.threads[i]);
        self.load(&mut s.k, i, op);
        let gear = match entry::start(&mut s.k, &mut HostMachine::default(), Event::Syscall) {
            Ok(Start::Run(gear)) => gear,
            other => panic!("a CNode invocation entered the kernel as {other:?}"),
        };
        match (self.variant, op) {
            (Variant::BrokenRevoke, Op::Revoke(c)) => {
                s.k.thread.revoke = RevokeCursor { slot: Some(self.slot(c)), deleted: 0 };
                &REVOKE_CHECK_BROKEN
            }
            _ => gear,
        }
    }

    fn finish(&self, s: &mut RevokeState, p: ProcessId, result: Result<Done, SyscallError>) {
        let i = p.0 as usize;
        let outcome = match result {
            Ok(d) => Outcome::Exited(d),
            Err(e) => Outcome::Failed(e),
        };
        let _ = entry::finish(&mut s.k, &mut Dispatcher::new(()), &mut HostMachine::default(), outcome);
        s.pc[i] += 1;
        if let Err(e) = result {
            s.errors.push((i, e));
        }
    }

    fn normalize(&self, s: &mut RevokeState) {
        s.k.meta.process = ProcessId(0);
        s.k.set_request(Request::default());
        crate::sel4::forget_between_steps(&mut s.k, &self.threads);
    }

    fn describe(&self, s: &RevokeState) -> String {
        let mut out = String::new();
        for (i, pc) in s.pc.iter().enumerate() {
            let _ = write!(out, "t{i} op {pc}; ");
        }
        let cs = &s.k.state.cspace;
        let name = |r: Option<SlotRef>| match r {
            Some(r) if r.0 >= self.root_cnode.0 && r.0 - self.root_cnode.0 < ((1u64 << 20) << SLOT_BITS) => {
                format!("{}", (r.0 - self.root_cnode.0) >> SLOT_BITS)
            }
            Some(r) => format!("{r:?}"),
            None => String::from("-"),
        };
        out.push_str("slots");
        for &c in &self.shown {
            let cte = cs.get(self.slot(c));
            if cte.cap.is_null() && cte.mdb.prev.is_none() && cte.mdb.next.is_none() {
                let _ = write!(out, " {c}:empty");
            } else {
                let _ = write!(out, " {c}:{}<{}>{}", name(cte.mdb.prev), cap_kind(&cte), name(cte.mdb.next));
            }
        }
        if !s.errors.is_empty() {
            let _ = write!(out, "; errors {:?}", s.errors);
        }
        out
    }
}

/// The slots `cteRevoke` of `slot` would delete in `k`: the run after it in the CDT of which it
/// is the MDB parent.
pub fn cdt_children(k: &Kernel, slot: SlotRef) -> Vec<SlotRef> {
    let cs = &k.state.cspace;
    let me = cs.get(slot);
    let mut out = Vec::new();
    let mut s = me.mdb.next;
    while let Some(n) = s {
        if !is_mdb_parent_of(&me, &cs.get(n)) || out.contains(&n) {
            break;
        }
        out.push(n);
        s = cs.mdb(n).next;
    }
    out
}

fn cap_kind(cte: &Cte) -> String {
    match cte.cap {
        codegears::Cap::Null => String::from("null"),
        codegears::Cap::Endpoint { badge, .. } => format!("ep{badge}"),
        other => format!("{other:?}"),
    }
}
