//! The host model of the QEMU suite's traced scenario: the same system calls, run by the same
//! gears on the host, traced by `metagears::Tracer`. The xtask compares its trace with the ones
//! the kernels streamed: the same trace on x86_64, riscv64 and the host model.

use codegears::kernel::{Kernel, KernelState, Request, label, root_slot};
use codegears::syscall::{HANDLE_SYSCALL, MessageInfo, sys};
use codegears::untyped::object_type;
use codegears::{Cap, CapRights};
use gears::{Dispatcher, Outcome};
use metagears::Tracer;

/// The root CNode's radix in the kernel's boot (`kernel/src/roottask.rs`, `ROOT_RADIX`).
const ROOT_RADIX: u8 = 12;

fn call(thread: codegears::ObjPtr, cptr: u64, label: u64, mrs: &[u64], extra: &[u64]) -> Request {
    Request {
        thread,
        cptr,
        mrs: mrs.to_vec(),
        extra_cptrs: extra.to_vec(),
        syscall: sys::CALL,
        info: MessageInfo::new(label, 0, extra.len() as u64, mrs.len() as u64).to_word(),
        ..Request::default()
    }
}

fn yield_call(thread: codegears::ObjPtr) -> Request {
    Request { thread, syscall: sys::YIELD, ..Request::default() }
}

/// The trace lines of `kernel/src/scenarios.rs`'s `traced_syscall`, run on the host: a retype
/// of an endpoint and the runner's Yield (untraced), then a Copy, a Copy onto the now occupied
/// slot and the Yield (traced), each from `HANDLE_SYSCALL` on one dispatcher, as the kernel does.
pub fn traced_syscall_trace() -> Vec<String> {
    traced_syscall().events.iter().map(|e| e.to_string()).collect()
}

/// The trace of [`traced_syscall_trace`]'s scenario, as events.
pub fn traced_syscall() -> metagears::Trace {
    let (state, info) = KernelState::boot(ROOT_RADIX, &[24]);
    let ut = info.untyped[0].0;
    let ep = info.first_free;
    let thread = info.root_tcb;
    let root = root_slot::CNODE;
    let mut k = Kernel::new(state);
    let mut d = Dispatcher::new((None::<Tracer>,));
    let serve = |k: &mut Kernel, d: &mut Dispatcher<Kernel, (Option<Tracer>,)>, r: Request| {
        k.set_request(r);
        let out = d.run(k, &HANDLE_SYSCALL);
        assert!(out.is_finished(), "the host model's call did not finish: {out:?}");
        out
    };
    let retype = call(thread, ut, label::UNTYPED_RETYPE, &[object_type::ENDPOINT, 0, 0, 0, ep, 1], &[root]);
    serve(&mut k, &mut d, retype);
    serve(&mut k, &mut d, yield_call(thread));
    d.meta_mut().0 = Some(Tracer::new());
    let copy =
        call(thread, root, label::CNODE_COPY, &[ep + 1, 64, ep, 64, CapRights::ALL.to_word()], &[root]);
    assert!(matches!(serve(&mut k, &mut d, copy.clone()), Outcome::Exited(_)));
    assert!(matches!(serve(&mut k, &mut d, copy), Outcome::Failed(_)));
    serve(&mut k, &mut d, yield_call(thread));
    assert!(matches!(
        k.state.cspace.cap(codegears::SlotRef::of(info.root_cnode, ep + 1)),
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
        assert!(t.iter().any(|l| l.contains("handle_syscall -> handle_invocation")));
        assert!(t.iter().any(|l| l.contains("invocation_done -> exit Ok")));
        assert!(t.iter().any(|l| l.contains("DeleteFirst")));
    }
}
