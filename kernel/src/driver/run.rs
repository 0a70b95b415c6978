//! The kernel's main loop: choose a thread, run it to its next kernel entry, enter the kernel.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use codegears::SyscallError;
use codegears::cap::ObjPtr;
use codegears::entry::{self, End, EntryError, Event};
use codegears::fault::Fault;
use codegears::interrupt::IRQ_TIMER;
use codegears::object::ThreadState;

use super::{Driver, Halt};
use crate::arch::{self, Trap};

impl Driver {
    /// Runs the threads the capability kernel schedules until one calls `seL4_DebugHalt`, or
    /// until no thread can ever run again (every thread inactive or blocked, and no interrupt
    /// signals a notification): `Ok(None)` then.
    ///
    /// Each turn is seL4's return to user and next kernel entry: `schedule` picks the thread and
    /// activates it (a `Restart` thread goes back to its system-call instruction), its registers
    /// go from its TCB into the hardware context, it runs in the VSpace its TCB's VTable slot
    /// names until it enters the kernel, its registers go back into its TCB (FaultIP at the
    /// instruction that entered, NextIP where it goes on), and the entry runs. With no thread to
    /// run the kernel idles until an interrupt.
    pub fn run(&mut self) -> Result<Option<Halt>, String> {
        let mut last = None;
        loop {
            self.handle_taken_interrupts()?;
            let Some(cur) = entry::schedule(&mut self.kernel) else {
                if self.kernel.state.irqs.notification.is_empty() {
                    kprintln!("kernel: no thread can run again: every one is inactive or blocked");
                    return Ok(None);
                }
                self.machine.wait();
                continue;
            };
            if last.is_some_and(|l| l != cur) {
                self.stats.switches += 1;
            }
            last = Some(cur);
            let event = match self.run_thread(cur)? {
                Trap::Syscall => {
                    self.stats.syscalls += 1;
                    Event::Syscall
                }
                Trap::Interrupt(arch::Irq::Timer) => Event::Interrupt(IRQ_TIMER),
                Trap::Interrupt(arch::Irq::Other(line)) => Event::Interrupt(line as u16),
                Trap::Fault(f) => {
                    let why = format!("{} at ip {:#x}, address {:#x}", arch::fault_name(&f), f.ip, f.addr);
                    kprintln!("kernel: thread {:#x} faulted: {why}", cur.0);
                    Event::UserFault(match f.kind {
                        arch::FaultKind::PageFault => Fault::VMFault {
                            address: f.addr,
                            fsr: f.code,
                            instruction_fault: arch::fault_is_fetch(&f),
                        },
                        _ => Fault::UserException { number: f.vector, code: f.code },
                    })
                }
            };
            match self.enter(event)? {
                End::DebugHalt => {
                    // seL4's debug kernel says who halted it, by address and name.
                    let name = self.kernel.state.objects.thread_name(cur);
                    kprintln!(
                        "Debug halt syscall from user thread {:#x} \"{}\"",
                        cur.0,
                        String::from_utf8_lossy(&name)
                    );
                    let arg = self.kernel.state.objects.tcb(cur).registers[self.cap_register()];
                    return Ok(Some(Halt { thread: cur, arg }));
                }
                End::Bench(call, arg) => self.bench_call(call, arg),
                End::Faulted | End::Failed(SyscallError::CapFault { .. })
                    if self.kernel.state.objects.thread_state(cur) == ThreadState::Inactive =>
                {
                    kprintln!("kernel: thread {:#x} has no fault handler: stopped", cur.0);
                }
                _ => {}
            }
        }
    }

    /// One kernel entry, counted.
    fn enter(&mut self, event: Event) -> Result<End, String> {
        // An interrupt entry, or a preempted one (which takes the pending interrupt), may wake a
        // driver: which threads were waiting for an interrupt before it, for the latency figure.
        let waiting = self.interrupt_waiters();
        let interrupt = matches!(event, Event::Interrupt(_));
        let end =
            entry::handle(&mut self.kernel, &mut self.dispatcher, &mut self.machine, event).map_err(|e| {
                let found = &self.dispatcher.meta().2.violation;
                let why = found.as_ref().map(|v| format!(": {v}")).unwrap_or_default();
                match e {
                    EntryError::Halted { halt, step } => format!("{halt} at step {step}{why}"),
                    EntryError::NoCurrentThread => String::from("a kernel entry with no current thread"),
                }
            })?;
        match end {
            End::Preempted(_) => {
                self.stats.preemptions += 1;
                self.stats.restarts += 1;
            }
            End::Faulted => self.stats.faults += 1,
            End::Failed(SyscallError::CapFault { .. }) => self.stats.faults += 1,
            _ => {}
        }
        self.stats.interrupts += u64::from(interrupt) + self.machine.take_taken_in_entry();
        // The test kernel checks the hardware page tables against the caps after every entry
        // that changed them.
        let tables_changed = self.machine.take_tables_changed();
        #[cfg(feature = "checks")]
        if tables_changed > 0
            && self.dispatcher.meta().2.every != 0
            && let Err(v) = super::checks::hardware_check(&self.kernel)
        {
            return Err(format!("after a kernel entry, the hardware page tables: {v}"));
        }
        #[cfg(not(feature = "checks"))]
        let _ = tables_changed;
        if interrupt || matches!(end, End::Preempted(_)) {
            self.note_woken(&waiting);
        }
        Ok(end)
    }

    /// Handles the interrupts the machine noted and the kernel has not handled yet.
    fn handle_taken_interrupts(&mut self) -> Result<(), String> {
        self.machine.note_kernel_lines();
        while let Some(irq) = self.machine.take() {
            self.enter(Event::Interrupt(irq))?;
        }
        Ok(())
    }

    /// The threads an interrupt could wake: for each IRQ with a notification, the first thread
    /// waiting on it and the thread bound to it (a signal wakes at most one of them).
    fn interrupt_waiters(&self) -> Vec<ObjPtr> {
        let objects = &self.kernel.state.objects;
        let mut v = Vec::new();
        for cap in self.kernel.state.irqs.notification.values() {
            if let codegears::Cap::Notification { ptr, .. } = *cap {
                let n = objects.notification(ptr);
                v.extend(
                    n.queue
                        .head
                        .into_iter()
                        .chain(n.bound_tcb)
                        .filter(|&t| !objects.thread_state(t).is_runnable()),
                );
            }
        }
        v
    }

    /// Remembers, for the latency figure, when the tick that woke each of `waiting` was raised.
    fn note_woken(&mut self, waiting: &[ObjPtr]) {
        let raised = arch::timer_last_raised_ns();
        for &t in waiting {
            if self.kernel.state.objects.thread_state(t) == ThreadState::Running {
                arch::with_thread_hw(t, |hw| hw.woken_at = raised);
            }
        }
    }

    fn cap_register(&self) -> usize {
        self.kernel.state.arch.syscall_registers().cap
    }

    /// Runs `cur` (activated by `schedule`) in user mode until its next kernel entry: its
    /// registers from its TCB into its hardware context, and back.
    fn run_thread(&mut self, cur: ObjPtr) -> Result<Trap, String> {
        let objects = &self.kernel.state.objects;
        let (registers, next_ip) = (objects.registers(cur), objects.next_ip(cur));
        let fpu_disabled = objects.flags(cur) & abi::tcb::FLAG_FPU_DISABLED != 0;
        let space = self.vspace_of(cur);
        let stats = &mut self.stats;
        let (trap, next_ip, mut registers) = arch::with_thread_hw(cur, |hw| {
            let ctx = &mut hw.ctx;
            ctx.fpu_disabled = fpu_disabled;
            ctx.set_sel4_registers(&registers);
            ctx.set_ip(next_ip);
            // Without a valid VSpace the thread runs on the kernel's own page table, as in seL4:
            // it has no user mappings there and faults at its first instruction.
            match space {
                Some(root) => arch::AddressSpace::activate_root(root),
                None => arch::AddressSpace::activate_kernel(),
            }
            if hw.woken_at != 0 {
                let latency = arch::now_ns().saturating_sub(hw.woken_at);
                stats.user_latency_max_ns = stats.user_latency_max_ns.max(latency);
                stats.driver_wakeups += 1;
                hw.woken_at = 0;
            }
            let trap = arch::run_user(&mut hw.ctx);
            arch::AddressSpace::activate_kernel();
            (trap, hw.ctx.ip(), hw.ctx.sel4_registers())
        });
        // seL4's FaultIP: a system call's instruction (the thread makes it again if the kernel
        // leaves it Restart); for an interrupt or a fault, where it stopped.
        let arch = self.kernel.state.arch;
        let fault_ip =
            if trap == Trap::Syscall { next_ip - arch.syscall_registers().instruction_len } else { next_ip };
        registers[arch.ip_register()] = fault_ip;
        let objects = &mut self.kernel.state.objects;
        objects.set_registers(cur, registers);
        objects.set_next_ip(cur, next_ip);
        Ok(trap)
    }

    /// The physical address of the VSpace root `t` runs in (seL4's `setVMRoot`); none: the
    /// kernel's own page table.
    fn vspace_of(&self, t: ObjPtr) -> Option<u64> {
        codegears::vspace::thread_vspace_root(&self.kernel.state, t).map(|r| r.0)
    }

    /// Gears' benchmark calls (the `latency-bench` kernel): begin a latency measurement with
    /// the preemption points on (1) or off (0), or end it and report for a revoke of `arg` caps.
    #[cfg(feature = "latency-bench")]
    fn bench_call(&mut self, call: abi::Syscall, arg: u64) {
        match call {
            abi::Syscall::GearsBenchBegin => {
                self.set_preemption(arg != 0);
                self.bench = Some((arg != 0, self.stats));
                self.stats.user_latency_max_ns = 0;
                arch::timer_latency_reset();
            }
            _ => {
                if let Some((on, s0)) = self.bench.take() {
                    let s = self.stats;
                    crate::console::report(metagears::wire::Report::IrqLatency(
                        metagears::wire::IrqLatency {
                            caps: arg,
                            preemption: on,
                            max_latency_insns: s.user_latency_max_ns,
                            kernel_latency_insns: arch::timer_latency_max_ns(),
                            preemptions: s.preemptions - s0.preemptions,
                            driver_runs: s.driver_wakeups - s0.driver_wakeups,
                        },
                    ));
                }
            }
        }
    }

    /// Gears' benchmark calls do nothing in a kernel built without the `latency-bench` feature.
    #[cfg(not(feature = "latency-bench"))]
    fn bench_call(&mut self, _call: abi::Syscall, _arg: u64) {}
}
