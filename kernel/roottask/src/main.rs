//! The Gears root task: real Rust code in user mode, built on its own and embedded in the
//! kernel image, calling the capability kernel through seL4 system calls.
//!
//! The kernel starts it with the first free slot of its root CNode and the cptr of its
//! untyped memory in the first two argument registers (as seL4 passes its BootInfo pointer).
//! It runs sel4test-style scenarios, printing what it sees, then halts with its verdict.
#![no_std]
#![no_main]

use core::fmt::Write as _;

mod sel4;

use sel4::{Console, call};

/// `seL4_CapInitThreadTCB`, `seL4_CapInitThreadCNode`.
const TCB: u64 = 1;
const ROOT: u64 = 2;
/// Resolve root-CNode slots with all 64 bits.
const DEPTH: u64 = 64;
/// Invocation labels (non-MCS).
const UNTYPED_RETYPE: u64 = 1;
const TCB_READ_REGISTERS: u64 = 2;
const CNODE_REVOKE: u64 = 17;
const CNODE_DELETE: u64 = 18;
const CNODE_COPY: u64 = 20;
const CNODE_MINT: u64 = 21;
const CNODE_MOVE: u64 = 22;
/// Object types.
const ENDPOINT: u64 = 2;
const CAP_TABLE: u64 = 4;
/// All rights (`seL4_AllRights`).
const ALL_RIGHTS: u64 = 0xf;
/// Error codes.
const ILLEGAL_OPERATION: u64 = 3;
const FAILED_LOOKUP: u64 = 6;
const DELETE_FIRST: u64 = 8;

macro_rules! say {
    ($($arg:tt)*) => { let _ = writeln!(Console, $($arg)*); };
}

/// Checks one reply's label; says what happened.
fn expect(what: &str, got: u64, want: u64) -> bool {
    let ok = got == want;
    say!("root task: {what}: error {got} ({})", if ok { "as expected" } else { "UNEXPECTED" });
    ok
}

fn retype(ut: u64, ty: u64, size: u64, slot: u64, n: u64) -> u64 {
    call(ut, UNTYPED_RETYPE, &[ty, size, 0, 0, slot, n], &[ROOT]).label
}

fn copy(dest: u64, src: u64) -> u64 {
    call(ROOT, CNODE_COPY, &[dest, DEPTH, src, DEPTH, ALL_RIGHTS], &[ROOT]).label
}

/// CNode operations (after sel4test's CNODEOP tests).
fn cnode_ops(ut: u64, free: u64) -> bool {
    let (ep, b, c, d, e, f) = (free, free + 1, free + 2, free + 3, free + 4, free + 5);
    let mut ok = expect("retype an endpoint", retype(ut, ENDPOINT, 0, ep, 1), 0);
    ok &= expect("copy it", copy(b, ep), 0);
    let mint = call(ROOT, CNODE_MINT, &[c, DEPTH, ep, DEPTH, ALL_RIGHTS, 0x5a], &[ROOT]).label;
    ok &= expect("mint it with badge 0x5a (six message words: two in the IPC buffer)", mint, 0);
    ok &= expect("copy onto an occupied slot", copy(b, ep), DELETE_FIRST);
    ok &= expect("copy from an empty slot", copy(f, e), FAILED_LOOKUP);
    ok &= expect("move", call(ROOT, CNODE_MOVE, &[d, DEPTH, b, DEPTH], &[ROOT]).label, 0);
    ok &= expect("delete", call(ROOT, CNODE_DELETE, &[d, DEPTH], &[]).label, 0);
    let rebadge = call(ROOT, CNODE_MINT, &[f, DEPTH, c, DEPTH, ALL_RIGHTS, 0x77], &[ROOT]).label;
    ok &= expect("re-badge the badged cap", rebadge, ILLEGAL_OPERATION);
    ok &= expect(
        "read its own registers",
        call(TCB, TCB_READ_REGISTERS, &[0, 2], &[]).label,
        ILLEGAL_OPERATION,
    );
    ok
}

/// PREEMPT_REVOKE: 16 CNodes of 4096 copies of an endpoint, made by 65,536 Copy calls, then one
/// Revoke, which the kernel preempts and the root task re-enters until it converges.
fn preempt_revoke(ut: u64, free: u64) -> bool {
    let (ep, cnodes) = (free, free + 1);
    let mut ok = expect("retype an endpoint", retype(ut, ENDPOINT, 0, ep, 1), 0);
    ok &= expect("retype 16 CNodes of radix 12", retype(ut, CAP_TABLE, 12, cnodes, 16), 0);
    let mut copies = 0u64;
    for k in 0..16 {
        for j in 0..4096 {
            let r = call(cnodes + k, CNODE_COPY, &[j, 12, ep, DEPTH, ALL_RIGHTS], &[ROOT]).label;
            if r != 0 {
                say!("root task: copy {j} into CNode {k} failed with error {r}");
                return false;
            }
            copies += 1;
        }
    }
    say!("root task: made {copies} copies of endpoint {ep}; revoking them with one call");
    ok &= expect("revoke", call(ROOT, CNODE_REVOKE, &[ep, DEPTH], &[]).label, 0);
    ok &= expect("copy after the revoke (the slots are free again)", copy(free + 20, ep), 0);
    ok
}

/// The entry point: the stack is set up by the kernel; `free` is the first free slot, `ut` the
/// untyped cap.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text.entry")]
pub extern "C" fn _start(free: u64, ut: u64) -> ! {
    say!("root task: Rust in user mode; first free slot {free}, untyped cap {ut}");
    let mut ok = cnode_ops(ut, free);
    ok &= preempt_revoke(ut, free + 8);
    say!("root task: {}", if ok { "all scenarios passed" } else { "a scenario FAILED" });
    sel4::halt(ok)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    say!("root task: panic: {info}");
    sel4::halt(false)
}
