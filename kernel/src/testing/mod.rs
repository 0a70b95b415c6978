//! The in-kernel QEMU test suite (`--features qemu-test`): every check runs, each reported to
//! the host as it starts and as it ends (`metagears::wire::Report`), then a summary, and the exit
//! device says pass or fail.

use checks::Check;
use metagears::wire::Report;

use crate::ExitCode;
use crate::console::report;

mod attacks;
mod checks;
mod device_irq;
mod scenarios;
mod script;
#[cfg(target_arch = "riscv64")]
mod stack_guard;
#[cfg(target_arch = "riscv64")]
mod user_space;

fn serial_works() -> Check {
    kprintln!("serial: this line is the check");
    Ok(())
}

fn user_null_dereference() -> Check {
    checks::user_fault(crate::arch::programs::null_deref(), crate::arch::FaultKind::PageFault)
}

fn user_illegal_instruction() -> Check {
    checks::user_fault(
        crate::arch::programs::illegal_instruction(),
        crate::arch::FaultKind::IllegalInstruction,
    )
}

fn user_privileged_instruction() -> Check {
    checks::user_fault(
        crate::arch::programs::privileged_instruction(),
        crate::arch::programs::PRIVILEGED_FAULT,
    )
}

fn user_threads_return_their_frames() -> Check {
    let before = crate::memory::frames::allocated();
    checks::syscall_round_trip()?;
    checks::user_fault(crate::arch::programs::null_deref(), crate::arch::FaultKind::PageFault)?;
    let after = crate::memory::frames::allocated();
    kprintln!("frames: {before} allocated before two user threads, {after} after they were retired");
    if after != before { Err("a retired user thread kept frames") } else { Ok(()) }
}

fn capability_boot_info() -> Check {
    scenarios::boot_info().map_err(leak)
}

fn root_task_retype() -> Check {
    scenarios::retype_objects().map_err(leak)
}

fn root_task_cnode_ops() -> Check {
    scenarios::cnode_ops().map_err(leak)
}

fn root_task_tcb_read_registers() -> Check {
    scenarios::tcb_read_registers().map_err(leak)
}

fn root_task_preempt_revoke_65536() -> Check {
    let f = scenarios::preempt_revoke(16).map_err(leak)?;
    kprintln!(
        "revoke: revoked {} caps; the timer preempted the revoke {} times ({} ticks), and it converged",
        f.copies,
        f.preemptions,
        f.ticks
    );
    Ok(())
}

fn rust_root_task() -> Check {
    scenarios::rust_root_task().map_err(leak)
}

fn root_task_traced_syscall() -> Check {
    scenarios::traced_syscall().map_err(leak)
}

/// A check's message outlives the test (the suite runs once; the kernel then exits).
fn leak(s: alloc::string::String) -> &'static str {
    alloc::boxed::Box::leak(s.into_boxed_str())
}

/// A named in-kernel test.
type Test = (&'static str, fn() -> Check);

const TESTS: &[Test] = &[
    ("serial_works", serial_works),
    ("heap_alloc_free", checks::heap_alloc_free),
    ("timer_ticks_arrive", checks::timer_ticks),
    ("user_syscall_round_trip", checks::syscall_round_trip),
    ("user_syscall_restart", checks::syscall_restart),
    ("timer_preempts_user_mode", checks::timer_preempts_user),
    ("user_fpu_state_is_per_thread", checks::fpu_state_is_per_thread),
    ("user_null_dereference_stops_only_the_thread", user_null_dereference),
    ("user_illegal_instruction_stops_only_the_thread", user_illegal_instruction),
    ("user_privileged_instruction_stops_only_the_thread", user_privileged_instruction),
    ("kernel_survives_user_faults", checks::user_faults_stop_only_the_thread),
    ("user_threads_return_their_frames", user_threads_return_their_frames),
    ("capability_kernel_boot_info", capability_boot_info),
    ("root_task_retype", root_task_retype),
    ("root_task_cnode_ops", root_task_cnode_ops),
    ("root_task_tcb_read_registers_of_another_thread", root_task_tcb_read_registers),
    ("root_task_traced_syscall", root_task_traced_syscall),
    ("root_task_preempt_revoke_65536_caps", root_task_preempt_revoke_65536),
    ("rust_root_task_cnodeop_ipc_ipcrights_vspace_faults_timer_driver_preempt_revoke", rust_root_task),
    ("attack_deleting_the_initial_asid_pool_stops_only_the_root_task", || {
        attacks::deleting_the_initial_asid_pool().map_err(leak)
    }),
    ("attack_a_lower_table_as_vspace_faults_the_thread", || attacks::a_lower_table_as_vspace().map_err(leak)),
    ("attack_a_new_tcb_inherits_no_hardware_state", || attacks::a_new_tcb_inherits_nothing().map_err(leak)),
    ("attack_write_registers_moves_a_thread_that_ran", || {
        attacks::write_registers_moves_a_thread_that_ran().map_err(leak)
    }),
    ("attack_retyping_a_whole_untyped_grows_no_kernel_heap", || {
        attacks::retyping_a_whole_untyped_grows_no_kernel_heap().map_err(leak)
    }),
    ("attack_debug_put_char_grows_no_kernel_buffer", || {
        attacks::debug_put_char_is_unbuffered().map_err(leak)
    }),
    ("device_irq_uart_taken_masked_and_completed", device_irq::uart_interrupt_taken_masked_and_completed),
    ("device_irq_in_user_mode_is_trap_interrupt_other", device_irq::device_interrupt_in_user_mode),
    #[cfg(target_arch = "riscv64")]
    ("kernel_stack_guard_page_faults_at_its_address", stack_guard::guard_page_faults_at_its_address),
    #[cfg(target_arch = "riscv64")]
    ("kernel_stack_overflow_hits_the_guard_and_is_caught", stack_guard::deliberate_overflow_is_caught),
    #[cfg(target_arch = "riscv64")]
    ("user_space_is_the_lower_half_and_code_runs_at_0x10000", user_space::lower_half_is_the_users),
];

/// Runs every test; the exit code is success only if all passed.
pub fn run_all() -> ExitCode {
    report(Report::SuiteStarted { tests: TESTS.len() as u32 });
    let mut failed = 0;
    for &(name, test) in TESTS {
        report(Report::TestStarted { name: name.into() });
        match test() {
            Ok(()) => report(Report::TestPassed { name: name.into() }),
            Err(why) => {
                report(Report::TestFailed { name: name.into(), why: why.into() });
                failed += 1;
            }
        }
    }
    report(Report::SuiteFinished { passed: (TESTS.len() - failed) as u32, failed: failed as u32 });
    if failed == 0 { ExitCode::Success } else { ExitCode::Failure }
}
