//! The attacks of issue 12 as deterministic QEMU tests: a root task that attacks the kernel
//! through ordinary system calls must end with an seL4 error or a fault of the attacking thread
//! only, while the kernel keeps running and its invariants (the hardware page tables against the
//! caps included) hold.

use alloc::format;
use alloc::string::String;

use abi::bootinfo::{
    CAP_INIT_THREAD_ASID_POOL, CAP_INIT_THREAD_CNODE, CAP_INIT_THREAD_TCB, CAP_INIT_THREAD_VSPACE,
};
use abi::{Arch, Error, Syscall, label};
use codegears::cap::ObjPtr;
use codegears::object::ThreadState;

use super::script::{Call, RootTask};
use crate::arch::UserContext;

/// A failed attack test, with why.
pub type Outcome = Result<(), String>;

const ROOT: u64 = CAP_INIT_THREAD_CNODE;
const DEPTH: u64 = abi::WORD_BITS;

fn retype(ut: u64, ty: u64, slot: u64) -> Call {
    Call::new(ut, label::untyped::RETYPE, &[ty, 0, 0, 0, slot, 1], &[ROOT])
}

fn delete(slot: u64) -> Call {
    Call::new(ROOT, label::cnode::DELETE, &[slot, DEPTH], &[])
}

/// The kernel state is sound: the capability invariants and, on the hardware, the page tables
/// against the caps.
fn sound(rt: &RootTask) -> Outcome {
    codegears::check_invariants(&rt.kernel.state).map_err(|e| format!("invariants: {e}"))?;
    crate::driver::hardware_check(&rt.kernel).map_err(|e| format!("hardware page tables: {e}"))
}

fn state(rt: &RootTask, t: ObjPtr) -> ThreadState {
    rt.kernel.state.objects.thread_state(t)
}

/// Deleting the initial ASID pool takes the root task's own VSpace from it: it must not run on
/// it any more (it did: the kernel loaded any VTable cap marked mapped). It faults at its next
/// instruction, has no fault handler, and stops; the kernel goes on.
pub fn deleting_the_initial_asid_pool() -> Outcome {
    let mut rt = RootTask::boot()?;
    let root = rt.info.root_tcb;
    match rt.run(&[delete(CAP_INIT_THREAD_ASID_POOL), delete(CAP_INIT_THREAD_ASID_POOL)]) {
        Err(e) if e.contains("stopped before the end") => {}
        other => return Err(format!("the root task ran on after deleting its ASID pool: {other:?}")),
    }
    if state(&rt, root) != ThreadState::Inactive {
        return Err(format!("the root task is {:?}, not stopped", state(&rt, root)));
    }
    kprintln!("attack: the root task deleted its ASID pool and was stopped at its next instruction");
    sound(&rt)
}

/// A mapped paging structure that is not a VSpace root given to a thread as its VSpace: on
/// riscv64 SetSpace takes a mapped lower-level table (every level is a PageTable, as in seL4), and
/// the thread, started, must fault instead of running on a root without the kernel's entries (the
/// kernel looped in its own trap entry); on x86_64 SetSpace refuses a PDPT.
pub fn a_lower_table_as_vspace() -> Outcome {
    let mut rt = RootTask::boot()?;
    let ut = rt.ram_untyped().ok_or("no untyped RAM")?.cptr;
    let (table, tcb) = (rt.info.first_free, rt.info.first_free + 1);
    let (table_type, map) = match Arch::native() {
        Arch::X86_64 => (abi::x86_64::object::PDPT, abi::x86_64::label::PDPT_MAP),
        Arch::Riscv64 => (abi::riscv64::object::PAGE_TABLE, abi::riscv64::label::PAGE_TABLE_MAP),
    };
    // Root entry 12 on both: no boot mapping, no kernel entry.
    let vaddr = 12u64 << (12 + 9 * u64::from(codegears::arch::ArchExt::root_level(Arch::native())));
    let set_space = Call::new(tcb, label::tcb::SET_SPACE, &[0, 0, 0], &[ROOT, table]);
    let replies = rt.run(&[
        retype(ut, table_type, table),
        retype(ut, abi::object::TCB, tcb),
        Call::new(table, map, &[vaddr, 0], &[CAP_INIT_THREAD_VSPACE]),
        set_space,
    ])?;
    for (i, r) in replies[..3].iter().enumerate() {
        if r.label != Error::NoError.code() {
            return Err(format!("set-up call {i} failed with {}", r.label));
        }
    }
    let t = rt.object_of(tcb).ok_or("no TCB")?;
    if Arch::native() == Arch::X86_64 {
        if replies[3].label != Error::IllegalOperation.code() {
            return Err(format!("SetSpace with a PDPT gave {}, not IllegalOperation", replies[3].label));
        }
        kprintln!("attack: SetSpace with a mapped PDPT: IllegalOperation");
        return sound(&rt);
    }
    if replies[3].label != Error::NoError.code() {
        return Err(format!("SetSpace with a mapped lower table gave {}", replies[3].label));
    }
    // Start it at the root task's priority (resume, one register: the IP, register 0 on both
    // arches) and let it run: it must fault at once.
    const _: () = assert!(Arch::native().ip_register() == 0);
    let faults = rt.stats.faults;
    let replies = rt.run(&[
        Call::new(tcb, label::tcb::SET_PRIORITY, &[255], &[CAP_INIT_THREAD_TCB]),
        Call::new(tcb, label::tcb::WRITE_REGISTERS, &[1, 1, 0x1000], &[]),
        Call { syscall: Some(Syscall::Yield), repeat: 1, ..Call::default() },
    ])?;
    if replies.iter().take(2).any(|r| r.label != Error::NoError.code()) {
        return Err(format!("starting the thread failed: {replies:?}"));
    }
    if state(&rt, t) != ThreadState::Inactive || rt.stats.faults != faults + 1 {
        return Err(format!("the thread is {:?} after running on a lower table", state(&rt, t)));
    }
    kprintln!("attack: a thread given a mapped level-1 table as VSpace faulted at its first instruction");
    sound(&rt)
}

/// A TCB retyped where a deleted one was starts from a fresh hardware state: the FPU registers
/// and trap frame, kept in the TCB's own memory, are cleared with it (the new thread once read
/// the old one's: an information leak).
pub fn a_new_tcb_inherits_nothing() -> Outcome {
    let mut rt = RootTask::boot()?;
    // A fresh untyped of 4 KiB, so the second TCB lands where the first one was.
    let ut = rt.ram_untyped().ok_or("no untyped RAM")?.cptr;
    let (small, tcb) = (rt.info.first_free, rt.info.first_free + 1);
    rt.run(&[Call::new(ut, label::untyped::RETYPE, &[abi::object::UNTYPED, 12, 0, 0, small, 1], &[ROOT])])?;
    rt.run(&[retype(small, abi::object::TCB, tcb)])?;
    let first = rt.object_of(tcb).ok_or("no TCB")?;
    let mut ctx = UserContext::new(0x1000, 0x2000);
    ctx.set_entry_args([0x5ec7e7; 4]);
    rt.with_context(first, |c| *c = ctx);
    rt.run(&[delete(tcb), retype(small, abi::object::TCB, tcb)])?;
    let second = rt.object_of(tcb).ok_or("no TCB after the second retype")?;
    if second != first {
        return Err(format!("the second TCB is at {:#x}, not where the first was", second.0));
    }
    if rt.with_context(second, |c| *c != UserContext::default()) {
        return Err("the new TCB inherited the old one's hardware state".into());
    }
    kprintln!("attack: a TCB retyped at {:#x} where a deleted one was starts from nothing", second.0);
    sound(&rt)
}

/// Retyping an untyped into as many objects as it holds (endpoints, notifications, TCBs, a
/// CNode, paging structures) until a retype fails with NotEnoughMemory: every object lives in
/// the untyped's memory, so the kernel's heap does not grow by a byte (it once held each object
/// in a hash map entry of its own, and ~50,000 endpoints exhausted it: a kernel panic).
pub fn retyping_a_whole_untyped_grows_no_kernel_heap() -> Outcome {
    let mut rt = RootTask::boot()?;
    let ut = rt.ram_untyped().ok_or("no untyped RAM")?.cptr;
    let (cn, child) = (rt.info.first_free, rt.info.first_free + 1);
    // A CNode of 4,096 slots for the objects, and a 256 KiB untyped to make them from.
    let replies = rt.run(&[
        Call::new(ut, label::untyped::RETYPE, &[abi::object::CAP_TABLE, 12, 0, 0, cn, 1], &[ROOT]),
        Call::new(ut, label::untyped::RETYPE, &[abi::object::UNTYPED, 18, 0, 0, child, 1], &[ROOT]),
    ])?;
    if let Some(r) = replies.iter().find(|r| r.label != Error::NoError.code()) {
        return Err(format!("set-up failed: {r:?}"));
    }
    let fan = abi::config::RETYPE_FAN_OUT_LIMIT;
    let into = |ty: u64, size: u64, offset: u64, n: u64| {
        Call::new(child, label::untyped::RETYPE, &[ty, size, cn, DEPTH, offset, n], &[ROOT])
    };
    // 2,048 endpoints (32 KiB), 1,024 notifications (32 KiB), 16 TCBs (32 KiB), a CNode of
    // 1,024 slots (32 KiB), 32 paging structures (128 KiB): the whole 256 KiB.
    let table = match Arch::native() {
        Arch::X86_64 => abi::x86_64::object::PAGE_TABLE,
        Arch::Riscv64 => abi::riscv64::object::PAGE_TABLE,
    };
    let mut script: alloc::vec::Vec<Call> =
        (0..2048 / fan).map(|i| into(abi::object::ENDPOINT, 0, i * fan, fan)).collect();
    script.extend((0..1024 / fan).map(|i| into(abi::object::NOTIFICATION, 0, 2048 + i * fan, fan)));
    script.push(into(abi::object::TCB, 0, 3072, 16));
    script.push(into(abi::object::CAP_TABLE, 10, 3088, 1));
    script.push(into(table, 0, 3089, 32));
    script.push(into(abi::object::ENDPOINT, 0, 3121, 1));
    let (before, _) = crate::memory::heap::usage();
    let replies = rt.run(&script)?;
    let (last, made) = replies.split_last().ok_or("no replies")?;
    let failed = made.iter().find(|r| r.label != Error::NoError.code()).map(|r| format!("{r:?}"));
    let last_label = last.label;
    drop(replies);
    let (after, _) = crate::memory::heap::usage();
    if let Some(r) = failed {
        return Err(format!("a retype within the untyped failed: {r}"));
    }
    if last_label != Error::NotEnoughMemory.code() {
        return Err(format!("a retype past the untyped's end gave {last_label}, not NotEnoughMemory"));
    }
    if after != before {
        return Err(format!("the heap went from {before} to {after} bytes over 3,121 objects retyped"));
    }
    kprintln!(
        "attack: 3,121 objects retyped from a 256 KiB untyped, the kernel heap unchanged at {after} bytes"
    );
    sound(&rt)
}

/// `seL4_DebugPutChar` without a newline, many times: the kernel keeps no line buffer (each
/// byte goes to the console), so its heap does not grow.
pub fn debug_put_char_is_unbuffered() -> Outcome {
    let mut rt = RootTask::boot()?;
    let put = |c: u8, n: u64| Call {
        syscall: Some(Syscall::DebugPutChar),
        cap: u64::from(c),
        repeat: n,
        ..Call::default()
    };
    rt.run(&[put(b'.', 16), put(b'\n', 1)])?;
    let (before, _) = crate::memory::heap::usage();
    rt.run(&[put(b'.', 4096), put(b'\n', 1)])?;
    let (after, _) = crate::memory::heap::usage();
    if after != before {
        return Err(format!("the heap went from {before} to {after} bytes over 4,096 DebugPutChar calls"));
    }
    Ok(())
}

/// WriteRegisters on a runnable thread the kernel already keeps a hardware context for: the
/// thread goes on from the instruction pointer written (the kernel once kept the old one), here
/// an unmapped page, where it faults.
pub fn write_registers_moves_a_thread_that_ran() -> Outcome {
    let mut rt = RootTask::boot()?;
    let ut = rt.ram_untyped().ok_or("no untyped RAM")?.cptr;
    let tcb = rt.info.first_free;
    const _: () = assert!(Arch::native().ip_register() == 0);
    let write_ip = |ip: u64, resume: u64| Call::new(tcb, label::tcb::WRITE_REGISTERS, &[resume, 1, ip], &[]);
    // Runnable at priority 0 from 0x5000, under the root task at 255: it does not run yet.
    let replies = rt.run(&[
        retype(ut, abi::object::TCB, tcb),
        Call::new(tcb, label::tcb::SET_SPACE, &[0, 0, 0], &[ROOT, CAP_INIT_THREAD_VSPACE]),
        write_ip(0x5000, 1),
    ])?;
    if let Some(r) = replies.iter().find(|r| r.label != Error::NoError.code()) {
        return Err(format!("set-up failed: {r:?}"));
    }
    let t = rt.object_of(tcb).ok_or("no TCB")?;
    // As if it had run and been preempted at 0x5000: the kernel keeps its hardware context.
    rt.with_context(t, |c| *c = UserContext::new(0x5000, 0x6000));
    let faults = rt.stats.faults;
    let replies = rt.run(&[
        write_ip(0x1000, 0),
        Call::new(tcb, label::tcb::SET_PRIORITY, &[255], &[CAP_INIT_THREAD_TCB]),
        Call { syscall: Some(Syscall::Yield), repeat: 1, ..Call::default() },
    ])?;
    if replies.iter().take(2).any(|r| r.label != Error::NoError.code()) {
        return Err(format!("WriteRegisters or SetPriority failed: {replies:?}"));
    }
    let ip = rt.kernel.state.objects.tcb(t).registers[0];
    if state(&rt, t) != ThreadState::Inactive || rt.stats.faults != faults + 1 || ip != 0x1000 {
        return Err(format!("the thread is {:?} with FaultIP {ip:x?}, not stopped at 0x1000", state(&rt, t)));
    }
    kprintln!(
        "attack: WriteRegisters moved a thread the kernel kept a context for to 0x1000, where it faulted"
    );
    sound(&rt)
}
