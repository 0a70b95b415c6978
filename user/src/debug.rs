//! The debug calls of seL4's debug kernel (which Gears always has): PutChar, Halt, CapIdentify,
//! NameThread, DumpScheduler, Snapshot; and Gears' own benchmark calls ([`gears`]).

use abi::Syscall;

use crate::cap::{Tcb, Unspecified};
use crate::ipc_buffer;
use crate::message::MAX_WORDS;
use crate::sys::syscall;

/// `seL4_DebugPutChar`: one byte to the kernel's console.
pub fn put_char(c: u8) {
    syscall(Syscall::DebugPutChar, u64::from(c), 0, [0; 4]);
}

/// `seL4_DebugPutString`: each byte with [`put_char`].
pub fn put_str(s: &str) {
    s.bytes().for_each(put_char);
}

/// `seL4_DebugHalt`: stops the machine (Gears' QEMU run then ends).
pub fn halt() -> ! {
    halt_with(0)
}

/// `seL4_DebugHalt` with `word` in the cap register, which seL4 ignores. The project's own
/// programs pass their verdict there (1: every scenario passed), which the Gears kernel built
/// for them reads; any other program's DebugHalt simply stops the machine.
pub fn halt_with(word: u64) -> ! {
    loop {
        syscall(Syscall::DebugHalt, word, 0, [0; 4]);
    }
}

/// What a panic handler of a program on this crate can do: print the panic on the console and
/// halt (with verdict 0: failed).
///
/// ```ignore
/// #[panic_handler]
/// fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
///     gears_user::debug::panic_halt(info)
/// }
/// ```
pub fn panic_halt(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::println!("panic: {info}");
    halt_with(0)
}

/// `seL4_DebugCapIdentify`: the type tag of the cap at `cap` (`abi::cap_type`; 0: empty).
pub fn cap_identify(cap: Unspecified) -> u64 {
    syscall(Syscall::DebugCapIdentify, cap.cptr(), 0, [0; 4]).badge
}

/// `seL4_DebugNameThread`: names the thread (in fault reports, scheduler dumps, DebugHalt's
/// line). The name travels NUL-terminated in the IPC buffer's message words, cut to fit them.
pub fn name_thread(tcb: Tcb, name: &str) {
    let mut words = [0u64; MAX_WORDS];
    let used = pack_name(name.as_bytes(), &mut words);
    let buffer = ipc_buffer::current();
    for (i, &w) in words[..used].iter().enumerate() {
        buffer.set_msg(i, w);
    }
    syscall(Syscall::DebugNameThread, tcb.cptr(), 0, [0; 4]);
}

/// Packs `name` into `words` little-endian, NUL-terminated, cut to leave room for the NUL;
/// how many words it used.
fn pack_name(name: &[u8], words: &mut [u64; MAX_WORDS]) -> usize {
    let n = name.len().min(MAX_WORDS * 8 - 1);
    let used = n / 8 + 1;
    for (i, w) in words[..used].iter_mut().enumerate() {
        let mut bytes = [0u8; 8];
        for (j, b) in bytes.iter_mut().enumerate() {
            let k = i * 8 + j;
            *b = if k < n { name[k] } else { 0 };
        }
        *w = u64::from_le_bytes(bytes);
    }
    used
}

/// `seL4_DebugDumpScheduler`: a line per thread on the console.
pub fn dump_scheduler() {
    syscall(Syscall::DebugDumpScheduler, 0, 0, [0; 4]);
}

/// `seL4_DebugSnapshot`: seL4 dumps the capability graph (capDL); Gears prints its header.
pub fn snapshot() {
    syscall(Syscall::DebugSnapshot, 0, 0, [0; 4]);
}

/// Gears' own benchmark calls, answered by a kernel built for the interrupt-latency bench (seL4
/// has no such calls; its numbers for them stay far from seL4's).
pub mod gears {
    use abi::Syscall;

    use crate::sys::syscall;

    /// The kernel starts measuring interrupt latency, with its preemption points on or off.
    pub fn bench_begin(preemption: bool) {
        syscall(Syscall::GearsBenchBegin, u64::from(preemption), 0, [0; 4]);
    }

    /// The kernel stops measuring and prints its figures for a revoke of `caps` caps.
    pub fn bench_end(caps: u64) {
        syscall(Syscall::GearsBenchEnd, caps, 0, [0; 4]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_packed_with_their_nul() {
        let mut w = [0xffu64; MAX_WORDS];
        assert_eq!(pack_name(b"root", &mut w), 1);
        assert_eq!(w[0], u64::from_le_bytes(*b"root\0\0\0\0"));
        // Eight bytes need a second word for the NUL.
        assert_eq!(pack_name(b"12345678", &mut w), 2);
        assert_eq!(w[1], 0);
        // Too long a name is cut so the NUL still fits.
        let long = [b'x'; 2000];
        assert_eq!(pack_name(&long, &mut w), MAX_WORDS);
        assert_eq!(w[MAX_WORDS - 1] >> 56, 0);
        assert_eq!(w[MAX_WORDS - 1] & 0xff, u64::from(b'x'));
    }
}
