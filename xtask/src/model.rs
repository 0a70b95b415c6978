//! The host model of the QEMU suite's traced scenario: the same system calls, made by the root
//! thread through the same kernel entry (`codegears::entry`) on the host, traced by
//! `metagears::Tracer`. The xtask compares its trace with the ones the kernels streamed (the same
//! trace on x86_64, riscv64 and the host model).

use abi::{CapRights, MessageInfo, Syscall, label};
use codegears::Cap;
use codegears::entry::{End, Event};
use codegears::kernel::KernelState;
use gears::Dispatcher;
use gears_tests::sel4::Sel4;
use metagears::Tracer;

/// The root CNode's radix in the kernel's boot (`kernel/src/driver/boot.rs`, `ROOT_RADIX`).
const ROOT_RADIX: u8 = 12;

/// The trace lines of `kernel/src/testing/scenarios.rs`'s `traced_syscall`, run on the host: a
/// retype of an endpoint and the script runner's `seL4_DebugHalt` (untraced), then a Copy, a
/// Copy onto the now occupied slot and the `seL4_DebugHalt` (traced), each a kernel entry on one
/// dispatcher, as the kernel does; as the comparison reads it (`qemu::comparable_lines`).
pub fn traced_syscall_trace() -> Vec<String> {
    crate::qemu::comparable_lines(&traced_syscall().events)
}

/// The trace of [`traced_syscall_trace`]'s scenario, as events.
pub fn traced_syscall() -> metagears::Trace {
    let mut s = Sel4::boot_from(KernelState::boot(ROOT_RADIX, &[24]));
    let ut = s.untyped(0);
    let ep = s.info.first_free;
    let root = abi::bootinfo::CAP_INIT_THREAD_CNODE;
    let mut d = Dispatcher::new((None::<Tracer>,));
    let call = |s: &mut Sel4,
                d: &mut Dispatcher<_, _>,
                syscall: Syscall,
                cptr,
                label,
                mrs: &[u64],
                extra: &[u64]| {
        let info = MessageInfo::new(label, 0, extra.len() as u64, mrs.len() as u64);
        s.load_call(syscall, cptr, info, mrs, extra);
        s.enter(d, Event::Syscall).expect("the host model's call ran to its end")
    };
    let retype = [abi::object::ENDPOINT, 0, 0, 0, ep, 1];
    call(&mut s, &mut d, Syscall::Call, ut, label::untyped::RETYPE, &retype, &[root]);
    assert_eq!(call(&mut s, &mut d, Syscall::DebugHalt, 1, 0, &[], &[]), End::DebugHalt);
    d.meta_mut().0 = Some(Tracer::new());
    let copy = [ep + 1, 64, ep, 64, CapRights::ALL.word()];
    assert!(matches!(
        call(&mut s, &mut d, Syscall::Call, root, label::cnode::COPY, &copy, &[root]),
        End::Done(_)
    ));
    assert!(matches!(
        call(&mut s, &mut d, Syscall::Call, root, label::cnode::COPY, &copy, &[root]),
        End::Failed(_)
    ));
    assert_eq!(call(&mut s, &mut d, Syscall::DebugHalt, 1, 0, &[], &[]), End::DebugHalt);
    assert!(matches!(
        s.k.state.cspace.cap(codegears::SlotRef::of(s.info.root_cnode, ep + 1)),
        Cap::Endpoint { .. }
    ));
    let tracer = d.meta().0.as_ref().expect("plugged in above");
    tracer.trace().clone()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_host_model_traces_the_syscall_path() {
        let t = super::traced_syscall_trace();
        assert!(t.iter().any(|l| l.contains("handle_syscall -> fastpath_call")));
        assert!(t.iter().any(|l| l.contains("fastpath_call -> handle_invocation")), "a CNode Copy is no IPC");
        assert!(t.iter().any(|l| l.contains("invocation_done -> exit Ok")));
        assert!(t.iter().any(|l| l.contains("DeleteFirst")));
    }
}
