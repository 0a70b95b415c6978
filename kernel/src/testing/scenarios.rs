//! Root-task scenarios through real system calls (sel4test's CNODEOP, RETYPE, TCB ReadRegisters
//! and PREEMPT_REVOKE, cut down): each boots the capability kernel, runs a script in the root
//! task, narrates on the console, and checks the replies the root task stored and the kernel
//! state.

use abi::{Arch, CapRights, Error, label};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use codegears::cap::Cap;

use super::checks::Program;
use super::script::{Call, Reply, RootTask};
use crate::arch::{self, Irq, PAGE_SIZE, Trap};
use crate::console::report;
use crate::driver::Driver;
use metagears::wire::Report;

/// A failed scenario, with why.
pub type Outcome = Result<(), String>;

/// The root CNode (`seL4_CapInitThreadCNode`).
const ROOT: u64 = abi::bootinfo::CAP_INIT_THREAD_CNODE;
/// Resolve a root-CNode slot with all 64 bits (the root cap's guard covers the rest).
const DEPTH: u64 = 64;

fn retype(ut: u64, ty: u64, size: u64, offset: u64, num: u64) -> Call {
    Call::new(ut, label::untyped::RETYPE, &[ty, size, 0, 0, offset, num], &[ROOT])
}

fn copy(dest: u64, src: u64) -> Call {
    Call::new(ROOT, label::cnode::COPY, &[dest, DEPTH, src, DEPTH, CapRights::ALL.word()], &[ROOT])
}

fn mint(dest: u64, src: u64, badge: u64) -> Call {
    Call::new(ROOT, label::cnode::MINT, &[dest, DEPTH, src, DEPTH, CapRights::ALL.word(), badge], &[ROOT])
}

fn expect(replies: &[Reply], i: usize, what: &str, error: Error) -> Outcome {
    let got = replies[i].label;
    if got == error.code() {
        Ok(())
    } else {
        Err(format!("{what}: reply {}, expected {}", error_name(got), error.name()))
    }
}

/// The name of the `seL4_Error` a reply's label holds.
fn error_name(code: u64) -> &'static str {
    Error::from_code(code).map_or("(not an seL4 error)", Error::name)
}

/// Boots the capability kernel as seL4 boots a root task and checks what boot gave it: the
/// BootInfo frame holds the `seL4_BootInfo` boot made, in seL4's layout; the untypeds of RAM lie
/// in free memory, overlap nothing, and with the image and the root task's objects cover free
/// memory exactly; the device untypeds overlap no RAM and no device the kernel drives; the empty
/// range is empty; the state satisfies the invariants.
pub fn boot_info() -> Outcome {
    let rt = RootTask::boot()?;
    let info = &rt.info;
    let bi = info.sel4.as_deref().ok_or("boot wrote no seL4_BootInfo")?;
    let start = rt.root_start();
    let cap = rt.cap(abi::bootinfo::CAP_BOOT_INFO_FRAME);
    let Cap::Frame { ptr, .. } = cap else {
        return Err(format!("slot 9 holds {cap:?}, not the BootInfo frame"));
    };
    let mut bytes = [0u8; 8];
    for (i, want) in bi.to_words().into_iter().enumerate() {
        arch::copy_from_frame(ptr.0, i * 8, &mut bytes);
        if u64::from_le_bytes(bytes) != want {
            return Err(format!("word {i} of the BootInfo frame is not seL4_BootInfo's"));
        }
    }
    let free = crate::memory::free();
    let overlaps = |a: (u64, u64), b: (u64, u64)| a.0 < b.1 && b.0 < a.1;
    let span = |u: &crate::driver::UntypedDesc| (u.base, u.base + (1u64 << u.bits));
    let ram: Vec<(u64, u64)> = rt.untypeds.iter().filter(|u| !u.device).map(span).collect();
    let devices: Vec<(u64, u64)> = rt.untypeds.iter().filter(|u| u.device).map(span).collect();
    let image = (start.image.1, start.image.1 + (start.image_end - start.image.0));
    let rs = (start.root_server.0, start.root_server.0 + start.root_server.1);
    let all: Vec<(u64, u64)> = ram.iter().chain(&devices).copied().chain([image, rs]).collect();
    for (i, &a) in all.iter().enumerate() {
        if let Some(b) = all[i + 1..].iter().find(|&&b| overlaps(a, b)) {
            return Err(format!("{:#x}..{:#x} overlaps {:#x}..{:#x}", a.0, a.1, b.0, b.1));
        }
    }
    let within = |a: (u64, u64)| free.regions().iter().any(|r| r.start <= a.0 && a.1 <= r.end);
    if let Some(u) = ram.iter().chain([&image, &rs]).find(|&&a| !within(a)) {
        return Err(format!("{:#x}..{:#x} is not in free memory", u.0, u.1));
    }
    let covered: u64 = ram.iter().chain([&image, &rs]).map(|a| a.1 - a.0).sum();
    let total: u64 = free.regions().iter().map(|r| r.len()).sum();
    if covered != total {
        return Err(format!("untypeds, image and root objects cover {covered} bytes of {total} free"));
    }
    let kernel_owned = free.regions().iter().chain(free.reserved()).map(|r| (r.start, r.end));
    let kernel_owned = kernel_owned.chain(arch::KERNEL_DEVICES.iter().copied()).collect::<Vec<_>>();
    if let Some(d) = devices.iter().find(|&&d| kernel_owned.iter().any(|&k| overlaps(d, k))) {
        return Err(format!("device untyped {:#x}..{:#x} overlaps RAM or a kernel device", d.0, d.1));
    }
    if let Some(s) = (bi.empty.start..bi.empty.end).find(|&s| !rt.cap(s).is_null()) {
        return Err(format!("slot {s} of the empty range holds {:?}", rt.cap(s)));
    }
    let chunks = extra_bootinfo_chunks(&rt, bi)?;
    if Arch::native() == Arch::X86_64 {
        let tsc = chunks.iter().find(|c| c.0 == abi::bootinfo::header::X86_TSC_FREQ);
        match tsc {
            Some(&(_, len, mhz)) if len == 20 && mhz as u32 > 0 => {}
            _ => return Err(format!("no TSC frequency chunk in the extra bootinfo: {chunks:x?}")),
        }
    }
    kprintln!(
        "root task: boot info: root CNode {:#x} (radix {}), TCB {:#x}, empty slots {}..{}; {} untypeds of RAM \
         ({} KiB), {} device untypeds; image {:#x}..{:#x} at phys {:#x}, root objects {} KiB at phys {:#x}",
        info.root_cnode.0,
        info.root_radix,
        info.root_tcb.0,
        bi.empty.start,
        bi.empty.end,
        ram.len(),
        (covered - (image.1 - image.0) - (rs.1 - rs.0)) / 1024,
        devices.len(),
        start.image.0,
        start.image_end,
        image.0,
        (rs.1 - rs.0) / 1024,
        rs.0
    );
    codegears::check_invariants(&rt.kernel.state).map_err(|e| format!("boot state: {e}"))
}

/// The chunks of the root task's extra bootinfo, as libsel4 walks them: (id, length, the first
/// word after the header); the last must be padding that ends the last page.
fn extra_bootinfo_chunks(
    rt: &RootTask,
    bi: &abi::bootinfo::BootInfo,
) -> Result<Vec<(u64, u64, u64)>, String> {
    let frames: Vec<u64> =
        (bi.extra_bi_pages.start..bi.extra_bi_pages.end).map(|s| rt.cap(s).ptr()).collect();
    let word = |offset: u64| {
        let mut bytes = [0u8; 8];
        let frame = frames[(offset / PAGE_SIZE) as usize];
        arch::copy_from_frame(frame, (offset % PAGE_SIZE) as usize, &mut bytes);
        u64::from_le_bytes(bytes)
    };
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < bi.extra_len {
        let (id, len) = (word(at), word(at + 8));
        if len < 16 || at + len > bi.extra_len {
            return Err(format!("extra bootinfo chunk {id} at {at} has length {len}"));
        }
        chunks.push((id, len, if len > 16 { word(at + 16) } else { 0 }));
        at += len;
    }
    match chunks.last() {
        None => Ok(chunks),
        Some(&(abi::bootinfo::header::PADDING, ..)) if at == frames.len() as u64 * PAGE_SIZE => Ok(chunks),
        Some(_) => Err(format!("the extra bootinfo does not end with padding to its last page: {chunks:x?}")),
    }
}

/// Untyped Retype through real syscalls: an endpoint and a TCB, the watermark moves, a retype
/// into an occupied slot fails with DeleteFirst.
pub fn retype_objects() -> Outcome {
    let mut rt = RootTask::boot()?;
    let ut = rt.ram_untyped().ok_or("no untyped RAM")?.cptr;
    let s = rt.info.first_free;
    let replies = rt.run(&[
        retype(ut, abi::object::ENDPOINT, 0, s, 1),
        retype(ut, abi::object::TCB, 0, s + 1, 1),
        retype(ut, abi::object::CAP_TABLE, 4, s + 2, 2),
        retype(ut, abi::object::ENDPOINT, 0, s, 1),
    ])?;
    expect(&replies, 0, "retype endpoint", Error::NoError)?;
    expect(&replies, 1, "retype TCB", Error::NoError)?;
    expect(&replies, 2, "retype two CNodes", Error::NoError)?;
    expect(&replies, 3, "retype into an occupied slot", Error::DeleteFirst)?;
    let Cap::Untyped { free_index, .. } = rt.cap(ut) else { return Err("untyped cap gone".into()) };
    kprintln!(
        "retype: untyped {ut} -> endpoint in slot {s}, TCB in {}, 2 CNodes in {}..{}; watermark now {} bytes; \
         retype into slot {s} again: {}",
        s + 1,
        s + 2,
        s + 3,
        free_index << codegears::cap::MIN_UNTYPED_BITS,
        error_name(replies[3].label)
    );
    if !matches!(rt.cap(s), Cap::Endpoint { .. }) || !matches!(rt.cap(s + 1), Cap::Thread { .. }) {
        return Err("the retyped caps are not in their slots".into());
    }
    if free_index == 0 {
        return Err("the watermark did not move".into());
    }
    Ok(())
}

/// CNode operations through real syscalls (after sel4test's CNODEOP0001–0009): copy, mint with a
/// badge, move, delete, and the error codes DeleteFirst, FailedLookup and IllegalOperation.
pub fn cnode_ops() -> Outcome {
    let mut rt = RootTask::boot()?;
    let ut = rt.ram_untyped().ok_or("no untyped RAM")?.cptr;
    let ep = rt.info.first_free;
    let (b, c, d, e, f) = (ep + 1, ep + 2, ep + 3, ep + 4, ep + 5);
    let script = [
        retype(ut, abi::object::ENDPOINT, 0, ep, 1),
        copy(b, ep),
        mint(c, ep, 0x5a),
        copy(b, ep),
        copy(f, e),
        Call::new(ROOT, label::cnode::MOVE, &[d, DEPTH, b, DEPTH], &[ROOT]),
        Call::new(ROOT, label::cnode::DELETE, &[d, DEPTH], &[]),
        mint(f, c, 0x77),
        Call::new(ROOT, label::cnode::DELETE, &[e, DEPTH], &[]),
    ];
    let replies = rt.run(&script)?;
    let expected = [
        ("retype endpoint", Error::NoError),
        ("copy", Error::NoError),
        ("mint badge 0x5a", Error::NoError),
        ("copy onto an occupied slot", Error::DeleteFirst),
        ("copy from an empty slot", Error::FailedLookup),
        ("move", Error::NoError),
        ("delete", Error::NoError),
        ("re-badge a badged cap", Error::IllegalOperation),
        ("delete an empty slot", Error::NoError),
    ];
    for (i, (what, error)) in expected.iter().enumerate() {
        kprintln!("cnode: {what}: {}", error_name(replies[i].label));
        expect(&replies, i, what, *error)?;
    }
    if replies[4].mrs[0] != 1 {
        return Err(format!("FailedLookup did not say it was the source: MR0 {}", replies[4].mrs[0]));
    }
    match rt.cap(c) {
        Cap::Endpoint { badge: 0x5a, .. } => {}
        other => return Err(format!("minted cap is {other:?}, not an endpoint with badge 0x5a")),
    }
    if !rt.cap(b).is_null() || !rt.cap(d).is_null() || !rt.cap(f).is_null() {
        return Err("moved-from, deleted or refused slots are not empty".into());
    }
    codegears::check_invariants(&rt.kernel.state).map_err(|e| format!("{e}"))
}

/// TCB ReadRegisters on another thread: a real user thread spins until the timer stops it; its
/// registers are copied into a TCB object the root task made; the root task reads them back.
pub fn tcb_read_registers() -> Outcome {
    let mut rt = RootTask::boot()?;
    let ut = rt.ram_untyped().ok_or("no untyped RAM")?.cptr;
    let tcb = rt.info.first_free;
    rt.run(&[retype(ut, abi::object::TCB, 0, tcb, 1)])?;
    let ptr = rt.object_of(tcb).ok_or("no TCB after retype")?;
    let mut other = Program::load(arch::programs::spin()).map_err(|e| format!("{e:?}"))?;
    if other.run() != Trap::Interrupt(Irq::Timer) {
        return Err("the spinning thread stopped for something other than the timer".into());
    }
    // The thread's registers as the kernel's trap entry would have saved them into its TCB.
    let registers = other.ctx.sel4_registers();
    drop(other);
    rt.kernel.state.objects.set_registers(ptr, registers);
    let replies = rt.run(&[
        Call::new(tcb, label::tcb::READ_REGISTERS, &[0, 4], &[]),
        Call::new(abi::bootinfo::CAP_INIT_THREAD_TCB, label::tcb::READ_REGISTERS, &[0, 4], &[]),
    ])?;
    expect(&replies, 0, "ReadRegisters", Error::NoError)?;
    expect(&replies, 1, "ReadRegisters on the caller itself", Error::IllegalOperation)?;
    let r = replies[0];
    kprintln!(
        "tcb: ReadRegisters on the other thread's TCB: length {}, registers {:#x?} (it was stopped at IP {:#x})",
        r.length,
        r.mrs,
        registers[0]
    );
    if r.length != 4 || r.mrs[..] != registers[..4] {
        return Err(format!("ReadRegisters gave {:#x?}; the thread holds {:#x?}", r.mrs, &registers[..4]));
    }
    Ok(())
}

/// What PREEMPT_REVOKE measured.
#[derive(Clone, Copy, Debug, Default)]
pub struct RevokeFigures {
    /// Copies in the tree.
    pub copies: u64,
    /// Preemptions of the revoke.
    pub preemptions: u64,
    /// Restarts of the revoke.
    pub restarts: u64,
    /// Timer ticks while the revoke ran.
    pub ticks: u64,
    /// Full invariant checks during the revoke.
    pub full_checks: u64,
    /// Preemption points seen during the revoke.
    pub points: u64,
    /// How many times the work budget asked whether the timer interrupt was pending.
    pub timer_checks: u64,
}

/// sel4test's PREEMPT_REVOKE through real syscalls: 16 CNodes of radix 12 filled with copies of
/// an endpoint (65,536 Copy calls), then one Revoke with the real timer running. It must be
/// preempted at least twice, restart, converge (every copy gone), and the invariants must hold
/// at every preemption point checked. `cnodes` CNodes of 4096 slots each.
pub fn preempt_revoke(cnodes: u64) -> Result<RevokeFigures, String> {
    let fig = revoke_tree(cnodes)?;
    if fig.preemptions < 2 {
        return Err(format!("the revoke was preempted {} times, fewer than 2", fig.preemptions));
    }
    if fig.restarts != fig.preemptions {
        return Err("not every preemption was followed by a restart".into());
    }
    Ok(fig)
}

/// Builds `cnodes` CNodes of 4096 copies and revokes them with the real timer running.
fn revoke_tree(cnodes: u64) -> Result<RevokeFigures, String> {
    let mut rt = RootTask::boot()?;
    let at_boot = rt.kernel.state.slots().len();
    let ut = rt.ram_untyped().ok_or("no untyped RAM")?.cptr;
    let ep = rt.info.first_free;
    let first_cnode = ep + 1;
    let mut script = Vec::new();
    script.push(retype(ut, abi::object::ENDPOINT, 0, ep, 1));
    script.push(retype(ut, abi::object::CAP_TABLE, 12, first_cnode, cnodes));
    for k in 0..cnodes {
        let c = Call::new(
            first_cnode + k,
            label::cnode::COPY,
            &[0, 12, ep, DEPTH, CapRights::ALL.word()],
            &[ROOT],
        );
        script.push(c.repeated(4096, 1));
    }
    if rt.trace_written().0 > 0 {
        kprintln!("revoke: (tracing off for the 65,536 copies and the revoke: they would be megabytes)");
    }
    rt.set_tracing(false);
    let t0 = arch::ticks();
    let replies = rt.run(&script)?;
    for (i, r) in replies.iter().enumerate() {
        if r.label != Error::NoError.code() {
            return Err(format!("building the tree: record {i} failed with {}", error_name(r.label)));
        }
    }
    let copies = replies[2..].iter().map(|r| r.calls).sum::<u64>();
    kprintln!(
        "revoke: built a derivation tree of {copies} copies of endpoint {ep} in {cnodes} CNodes of radix 12 \
         with {} Copy calls in {} ticks",
        copies,
        arch::ticks() - t0
    );
    codegears::check_invariants(&rt.kernel.state).map_err(|e| format!("after the build: {e}"))?;

    // Full checks: wherever preempted, and every 16,384th point (each is linear in the caps).
    rt.checks().every = 16_384;
    rt.checks().where_preempted = true;
    let (stats0, points0, full0) = (rt.stats, rt.checks().points, rt.checks().full);
    let (asked0, _) = rt.budget();
    let t1 = arch::ticks();
    // Take a tick left pending by the checks above (the kernel masks interrupts), so it is not
    // charged to the revoke, then measure.
    arch::wait_for_interrupt();
    let replies = rt.run(&[Call::new(ROOT, label::cnode::REVOKE, &[ep, DEPTH], &[])])?;
    let ticks = arch::ticks() - t1;
    let fig = RevokeFigures {
        copies,
        preemptions: rt.stats.preemptions - stats0.preemptions,
        restarts: rt.stats.restarts - stats0.restarts,
        ticks,
        full_checks: rt.checks().full - full0,
        points: rt.checks().points - points0,
        timer_checks: rt.budget().0 - asked0,
    };
    kprintln!(
        "revoke: Revoke of endpoint {ep}: {} in {} ticks; preempted {} times by the timer, restarted {} times; \
         {} preemption points, timer asked {} times, {} full invariant checks, {} local checks",
        error_name(replies[0].label),
        fig.ticks,
        fig.preemptions,
        fig.restarts,
        fig.points,
        fig.timer_checks,
        fig.full_checks,
        rt.checks().local
    );
    expect(&replies, 0, "revoke", Error::NoError)?;
    if let Some(v) = rt.checks().violation.clone() {
        return Err(format!("invariant violated: {v}"));
    }
    if !matches!(rt.cap(ep), Cap::Endpoint { .. }) {
        return Err("the revoked cap itself is gone".into());
    }
    let left = (0..cnodes)
        .flat_map(|k| [0, 2048, 4095].map(|j| (k, j)))
        .filter(|&(k, j)| !rt.cap_in(first_cnode + k, j).is_null());
    if let Some((k, j)) = left.into_iter().next() {
        return Err(format!("copy {j} in CNode {k} survived the revoke"));
    }
    codegears::check_invariants(&rt.kernel.state).map_err(|e| format!("after the revoke: {e}"))?;
    let slots = rt.kernel.state.slots().len();
    if slots > at_boot + cnodes as usize + 1 {
        return Err(format!("{slots} slots still hold caps after the revoke ({at_boot} after boot)"));
    }
    Ok(fig)
}

/// A Copy and a failing Copy with the wire tracer on: the frames go out on the serial line
/// between two reports (`TraceBegin`, `TraceEnd`); the xtask decodes them and compares them
/// with the host model's trace.
pub fn traced_syscall() -> Outcome {
    let mut rt = RootTask::boot()?;
    let ut = rt.ram_untyped().ok_or("no untyped RAM")?.cptr;
    let ep = rt.info.first_free;
    rt.run(&[retype(ut, abi::object::ENDPOINT, 0, ep, 1)])?;
    report(Report::TraceBegin);
    rt.set_tracing(true);
    let replies = rt.run(&[copy(ep + 1, ep), copy(ep + 1, ep)]);
    let (frames, bytes) = rt.trace_written();
    rt.set_tracing(false);
    report(Report::TraceEnd { frames, bytes });
    let replies = replies?;
    expect(&replies, 0, "traced copy", Error::NoError)?;
    expect(&replies, 1, "traced copy onto an occupied slot", Error::DeleteFirst)?;
    if frames == 0 { Err("the tracer wrote no frames".into()) } else { Ok(()) }
}

/// The Rust root task (`kernel/roottask`): real Rust code in user mode runs CNode operations and
/// PREEMPT_REVOKE (65,536 Copy calls and a Revoke) through real system calls; the kernel checks
/// its verdict and that the revoke was preempted by the timer, restarted and checked.
pub fn rust_root_task() -> Outcome {
    let mut d = Driver::boot_root_task()?;
    // Full invariant checks wherever an operation is preempted and every 16,384th preemption
    // point (each is linear in the caps and runs with interrupts masked).
    d.checks().every = 16_384;
    d.checks().where_preempted = true;
    let t0 = arch::ticks();
    let verdict = d.run_root_task()?;
    d.report(arch::ticks() - t0);
    if let Some(v) = d.checks().violation.clone() {
        return Err(format!("invariant violated: {v}"));
    }
    let s = d.stats;
    if !verdict {
        return Err("the root task reported a failed scenario".into());
    }
    if s.driver_wakeups < 5 || s.faults != 5 || s.switches == 0 {
        return Err(format!(
            "expected the timer driver to run at least 5 times and five faults (three page faults, one cap fault, one FPU use with the FPU off): {} runs, {} faults",
            s.driver_wakeups, s.faults
        ));
    }
    if s.preemptions < 2 || s.restarts != s.preemptions {
        return Err(format!("preempted {} times and restarted {} times", s.preemptions, s.restarts));
    }
    Ok(())
}
