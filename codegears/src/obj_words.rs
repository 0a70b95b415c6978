//! Kernel objects as they lie in memory: an endpoint in its 16 bytes, a notification in its 32,
//! a TCB's fields beside its slots in its 2 KiB, an ASID pool's 512 roots in its 4 KiB page, a
//! paging structure's entries as the hardware reads them. The [`ObjectStore`](crate::ObjectStore)
//! reads and writes them there, so an object costs the kernel nothing that the untyped it was
//! retyped from did not pay for.
//!
//! The encodings are Gears' own (seL4's bitfield generator lays its objects out differently).
//! All-zero words are each object's fresh state (an idle endpoint, an inactive TCB with no
//! registers set), which is what a retype leaves. Every bit pattern decodes to some value, so
//! reading memory never fails; encoding is exact for every value the kernel makes (pointers
//! below [`PADDR_LIMIT`]): a round trip gives it back.

use abi::{Arch, CapRights};

use crate::cap::{ObjPtr, TCB_BITS};
use crate::cap_words::PADDR_LIMIT;
use crate::error::LookupFault;
use crate::fault::Fault;
use crate::object::{
    Endpoint, EpState, Links, N_REGISTERS, Notification, NtfnState, Tcb, TcbQueue, ThreadState,
};

/// A TCB pointer's bits: below 2^48, aligned to the TCB's size (the alignment bits hold a state).
const TCB_MASK: u64 = (PADDR_LIMIT - 1) & !((1 << TCB_BITS) - 1);
/// Any object pointer's bits.
const PTR_MASK: u64 = PADDR_LIMIT - 1;

/// Where a TCB's fields start, from the TCB's address: after the slots of its CNode part.
pub const TCB_FIELDS_OFFSET: u64 = 0x100;
/// How many words a TCB's fields take.
pub const TCB_WORDS: usize = 64;
/// Where the arch layer keeps a thread's hardware context (the FPU registers and whatever else
/// the TCB's fields do not hold), from the TCB's address.
pub const TCB_ARCH_OFFSET: u64 = TCB_FIELDS_OFFSET + 8 * TCB_WORDS as u64;
/// Where the thread's name is (DebugNameThread: NUL-terminated bytes), from the TCB's address;
/// it runs to the TCB's end.
pub const TCB_NAME_OFFSET: u64 = 0x700;
/// The bytes of a thread's name, its NUL included (`TCB_NAME_LENGTH`).
pub const TCB_NAME_BYTES: u64 = (1 << TCB_BITS) - TCB_NAME_OFFSET;
/// The bytes the arch layer's context may take.
pub const TCB_ARCH_BYTES: u64 = TCB_NAME_OFFSET - TCB_ARCH_OFFSET;
const _: () = assert!(TCB_FIELDS_OFFSET >= crate::cap::TCB_CNODE_ENTRIES << crate::cap::SLOT_BITS);
const _: () = assert!(TCB_ARCH_OFFSET.is_multiple_of(64) && TCB_ARCH_BYTES >= 1024);

pub(crate) const fn opt(p: Option<ObjPtr>) -> u64 {
    match p {
        Some(ObjPtr(p)) => p,
        None => 0,
    }
}

/// A pointer word (0: none), masked to `mask`.
const fn ptr_of(w: u64, mask: u64) -> Option<ObjPtr> {
    let p = w & mask;
    if p == 0 { None } else { Some(ObjPtr(p)) }
}

const fn flag(w: u64, at: u32) -> bool {
    (w >> at) & 1 != 0
}

/// A queue's head and tail, with a two-bit state in the tail word's alignment bits.
const fn queue_words(q: TcbQueue, state: u64) -> [u64; 2] {
    [opt(q.tail) | state, opt(q.head)]
}

const fn queue_of([w, x]: [u64; 2]) -> TcbQueue {
    TcbQueue { head: ptr_of(x, TCB_MASK), tail: ptr_of(w, TCB_MASK) }
}

impl Endpoint {
    /// The endpoint's two words.
    pub const fn to_words(&self) -> [u64; 2] {
        let state = match self.state {
            EpState::Idle => 0,
            EpState::Send => 1,
            EpState::Recv => 2,
        };
        queue_words(self.queue, state)
    }

    /// The endpoint two words hold (state 3 reads as Idle).
    pub const fn from_words(w: [u64; 2]) -> Endpoint {
        let state = match w[0] & 3 {
            1 => EpState::Send,
            2 => EpState::Recv,
            _ => EpState::Idle,
        };
        Endpoint { state, queue: queue_of(w) }
    }
}

impl Notification {
    /// The notification's four words.
    pub const fn to_words(&self) -> [u64; 4] {
        let state = match self.state {
            NtfnState::Idle => 0,
            NtfnState::Waiting => 1,
            NtfnState::Active => 2,
        };
        let [w, x] = queue_words(self.queue, state);
        [w, x, self.msg_identifier, opt(self.bound_tcb)]
    }

    /// The notification four words hold (state 3 reads as Idle).
    pub const fn from_words(w: [u64; 4]) -> Notification {
        let state = match w[0] & 3 {
            1 => NtfnState::Waiting,
            2 => NtfnState::Active,
            _ => NtfnState::Idle,
        };
        Notification {
            state,
            queue: queue_of([w[0], w[1]]),
            msg_identifier: w[2],
            bound_tcb: ptr_of(w[3], TCB_MASK),
        }
    }
}

/// A thread state in three words: its kind and flags, its object, its badge.
pub(crate) const fn state_words(s: ThreadState) -> [u64; 3] {
    match s {
        ThreadState::Inactive => [0, 0, 0],
        ThreadState::Running => [1, 0, 0],
        ThreadState::Restart => [2, 0, 0],
        ThreadState::BlockedOnReceive { ep, can_grant } => [3 | (can_grant as u64) << 4, ep.0, 0],
        ThreadState::BlockedOnSend { ep, badge, can_grant, can_grant_reply, is_call } => {
            [4 | (can_grant as u64) << 4 | (can_grant_reply as u64) << 5 | (is_call as u64) << 6, ep.0, badge]
        }
        ThreadState::BlockedOnReply => [5, 0, 0],
        ThreadState::BlockedOnNotification { ntfn } => [6, ntfn.0, 0],
        ThreadState::IdleThreadState => [7, 0, 0],
    }
}

pub(crate) const fn state_of([k, p, badge]: [u64; 3]) -> ThreadState {
    let obj = ObjPtr(p & PTR_MASK);
    match k & 0xf {
        1 => ThreadState::Running,
        2 => ThreadState::Restart,
        3 => ThreadState::BlockedOnReceive { ep: obj, can_grant: flag(k, 4) },
        4 => ThreadState::BlockedOnSend {
            ep: obj,
            badge,
            can_grant: flag(k, 4),
            can_grant_reply: flag(k, 5),
            is_call: flag(k, 6),
        },
        5 => ThreadState::BlockedOnReply,
        6 => ThreadState::BlockedOnNotification { ntfn: obj },
        7 => ThreadState::IdleThreadState,
        _ => ThreadState::Inactive,
    }
}

/// A lookup failure: its kind (bits 16..20 of the fault's first word) and three details.
const fn lookup_words(l: LookupFault) -> (u64, [u64; 3]) {
    match l {
        LookupFault::InvalidRoot => (0, [0, 0, 0]),
        LookupFault::MissingCapability { bits_left } => (1, [bits_left, 0, 0]),
        LookupFault::DepthMismatch { bits_left, bits_found } => (2, [bits_left, bits_found, 0]),
        LookupFault::GuardMismatch { bits_left, guard_found, guard_size } => {
            (3, [bits_left, guard_found, guard_size])
        }
    }
}

const fn lookup_of(kind: u64, [a, b, c]: [u64; 3]) -> LookupFault {
    match kind {
        1 => LookupFault::MissingCapability { bits_left: a },
        2 => LookupFault::DepthMismatch { bits_left: a, bits_found: b },
        3 => LookupFault::GuardMismatch { bits_left: a, guard_found: b, guard_size: c },
        _ => LookupFault::InvalidRoot,
    }
}

/// A fault (or none) in five words: kind, flag and lookup-failure kind; then its fields.
const fn fault_words(f: Option<Fault>) -> [u64; 5] {
    match f {
        None => [0; 5],
        Some(Fault::CapFault { address, in_receive_phase, lookup_failure }) => {
            let (k, [a, b, c]) = lookup_words(lookup_failure);
            [1 | (in_receive_phase as u64) << 8 | k << 16, address, a, b, c]
        }
        Some(Fault::UnknownSyscall { syscall_number }) => [2, syscall_number, 0, 0, 0],
        Some(Fault::UserException { number, code }) => [3, number, code, 0, 0],
        Some(Fault::VMFault { address, fsr, instruction_fault }) => {
            [4 | (instruction_fault as u64) << 8, address, fsr, 0, 0]
        }
    }
}

const fn fault_of([k, x, a, b, c]: [u64; 5]) -> Option<Fault> {
    match k & 0xff {
        1 => Some(Fault::CapFault {
            address: x,
            in_receive_phase: flag(k, 8),
            lookup_failure: lookup_of((k >> 16) & 0xf, [a, b, c]),
        }),
        2 => Some(Fault::UnknownSyscall { syscall_number: x }),
        3 => Some(Fault::UserException { number: x, code: a }),
        4 => Some(Fault::VMFault { address: x, fsr: a, instruction_fault: flag(k, 8) }),
        _ => None,
    }
}

/// Word indices of a TCB's fields.
pub(crate) mod at {
    pub const STATE: usize = 0;
    pub const NEXT_IP: usize = 3;
    pub const PRIO: usize = 4;
    pub const BOUND: usize = 5;
    pub const FAULT_HANDLER: usize = 6;
    pub const IPC_BUFFER: usize = 7;
    pub const EP_LINKS: usize = 8;
    pub const SCHED_LINKS: usize = 10;
    pub const TICKS: usize = 12;
    pub const FAULT: usize = 13;
    pub const REGISTERS: usize = 18;
    pub const FLAGS: usize = REGISTERS + super::N_REGISTERS;
    pub const DEBUG_LINKS: usize = FLAGS + 1;
}
const _: () = assert!(at::DEBUG_LINKS + 2 <= TCB_WORDS);

pub(crate) fn links_words(l: Links) -> [u64; 2] {
    [opt(l.prev), opt(l.next)]
}

pub(crate) fn links_of(w: &[u64]) -> Links {
    Links { prev: ptr_of(w[0], TCB_MASK), next: ptr_of(w[1], TCB_MASK) }
}

impl Tcb {
    /// The TCB's fields as [`TCB_WORDS`] words (at [`TCB_FIELDS_OFFSET`] in the TCB).
    pub fn to_words(&self) -> [u64; TCB_WORDS] {
        let mut w = [0; TCB_WORDS];
        w[at::STATE..at::STATE + 3].copy_from_slice(&state_words(self.state));
        w[at::NEXT_IP] = self.next_ip;
        w[at::PRIO] = self.priority as u64 | (self.mcp as u64) << 8 | (self.queued as u64) << 16;
        w[at::BOUND] = opt(self.bound_notification);
        w[at::FAULT_HANDLER] = self.fault_handler;
        w[at::IPC_BUFFER] = self.ipc_buffer_ptr;
        w[at::EP_LINKS..at::EP_LINKS + 2].copy_from_slice(&links_words(self.ep_links));
        w[at::SCHED_LINKS..at::SCHED_LINKS + 2].copy_from_slice(&links_words(self.sched_links));
        w[at::TICKS] = self.ticks;
        w[at::FAULT..at::FAULT + 5].copy_from_slice(&fault_words(self.fault));
        w[at::REGISTERS..at::REGISTERS + N_REGISTERS].copy_from_slice(&self.registers);
        w[at::FLAGS] = self.flags;
        w[at::DEBUG_LINKS..at::DEBUG_LINKS + 2].copy_from_slice(&links_words(self.debug_links));
        w
    }

    /// The TCB [`TCB_WORDS`] words hold.
    pub fn from_words(w: &[u64; TCB_WORDS]) -> Tcb {
        let p = w[at::PRIO];
        Tcb {
            state: state_of([w[at::STATE], w[at::STATE + 1], w[at::STATE + 2]]),
            registers: core::array::from_fn(|i| w[at::REGISTERS + i]),
            next_ip: w[at::NEXT_IP],
            priority: p as u8,
            mcp: (p >> 8) as u8,
            bound_notification: ptr_of(w[at::BOUND], PTR_MASK),
            fault_handler: w[at::FAULT_HANDLER],
            ipc_buffer_ptr: w[at::IPC_BUFFER],
            ep_links: links_of(&w[at::EP_LINKS..]),
            sched_links: links_of(&w[at::SCHED_LINKS..]),
            queued: flag(p, 16),
            ticks: w[at::TICKS],
            fault: fault_of([
                w[at::FAULT],
                w[at::FAULT + 1],
                w[at::FAULT + 2],
                w[at::FAULT + 3],
                w[at::FAULT + 4],
            ]),
            flags: w[at::FLAGS],
            debug_links: links_of(&w[at::DEBUG_LINKS..]),
        }
    }
}

/// Page-table entry bits (x86_64).
mod x86 {
    pub const P: u64 = 1 << 0;
    pub const RW: u64 = 1 << 1;
    pub const US: u64 = 1 << 2;
    pub const PS: u64 = 1 << 7;
    pub const NX: u64 = 1 << 63;
    /// Bits 9..11, ignored by the MMU: the page size class Gears keeps there (0: a table).
    pub const SIZE_SHIFT: u32 = 9;
    pub const ADDR: u64 = 0x000f_ffff_ffff_f000;
}

/// Page-table entry bits (riscv64 Sv39).
mod rv {
    pub const V: u64 = 1 << 0;
    pub const R: u64 = 1 << 1;
    pub const W: u64 = 1 << 2;
    pub const X: u64 = 1 << 3;
    pub const U: u64 = 1 << 4;
    pub const A: u64 = 1 << 6;
    pub const D: u64 = 1 << 7;
    /// The two RSW bits, ignored by the MMU: the page size class Gears keeps there.
    pub const SIZE_SHIFT: u32 = 8;
    pub const PPN_SHIFT: u32 = 10;
    pub const PPN: u64 = ((1 << 44) - 1) << PPN_SHIFT;
}

/// A page's size as a class in two bits (1: 4 KiB, 2: 2 MiB, 3: 1 GiB; 0: none of these).
const fn size_class(size_bits: u8) -> u64 {
    match size_bits {
        12 => 1,
        21 => 2,
        30 => 3,
        _ => 0,
    }
}

const fn size_of_class(c: u64) -> u8 {
    [0, 12, 21, 30][(c & 3) as usize]
}

impl crate::vspace::Entry {
    /// The hardware entry word for this entry on `arch`: a user page or next-level pointer as the
    /// MMU reads it, with the page's size class in bits the MMU ignores (x86_64 bits 9..11,
    /// riscv64's RSW), so an entry reads back the same at any level. A mapping without the read
    /// right (seL4's `VMKernelOnly`) is present but not user-accessible. A boot entry is never
    /// written (0).
    pub const fn to_word(&self, arch: Arch) -> u64 {
        use crate::vspace::Entry;
        match (*self, arch) {
            (Entry::Table(p), Arch::X86_64) => (p.0 & x86::ADDR) | x86::P | x86::RW | x86::US,
            (Entry::Table(p), Arch::Riscv64) => ((p.0 >> 12) << rv::PPN_SHIFT) | rv::V,
            (Entry::Page { frame, size_bits, rights, exec }, Arch::X86_64) => {
                let mut w = (frame.0 & x86::ADDR) | x86::P | size_class(size_bits) << x86::SIZE_SHIFT;
                if rights.read {
                    w |= x86::US;
                }
                if rights.write {
                    w |= x86::RW;
                }
                if size_bits > 12 {
                    w |= x86::PS;
                }
                if !exec {
                    w |= x86::NX;
                }
                w
            }
            (Entry::Page { frame, size_bits, rights, exec }, Arch::Riscv64) => {
                let mut w = ((frame.0 >> 12) << rv::PPN_SHIFT)
                    | rv::V
                    | rv::R
                    | rv::A
                    | rv::D
                    | size_class(size_bits) << rv::SIZE_SHIFT;
                if rights.read {
                    w |= rv::U;
                }
                if rights.write {
                    w |= rv::W;
                }
                if exec {
                    w |= rv::X;
                }
                w
            }
            (Entry::Boot, _) => 0,
        }
    }

    /// The entry a hardware word on `arch` holds, as [`to_word`](Self::to_word) writes it; `None`
    /// for an invalid entry and for what Gears does not write (the kernel's own global entries).
    /// The accessed and dirty bits the MMU sets are ignored.
    pub const fn from_word(w: u64, arch: Arch) -> Option<crate::vspace::Entry> {
        use crate::vspace::Entry;
        match arch {
            Arch::X86_64 => {
                if w & x86::P == 0 {
                    return None;
                }
                let class = (w >> x86::SIZE_SHIFT) & 3;
                if class == 0 {
                    return if w & x86::US != 0 && w & x86::PS == 0 {
                        Some(Entry::Table(ObjPtr(w & x86::ADDR)))
                    } else {
                        None
                    };
                }
                let rights = CapRights { read: w & x86::US != 0, write: w & x86::RW != 0, ..CapRights::NONE };
                Some(Entry::Page {
                    frame: ObjPtr(w & x86::ADDR),
                    size_bits: size_of_class(class),
                    rights,
                    exec: w & x86::NX == 0,
                })
            }
            Arch::Riscv64 => {
                if w & rv::V == 0 {
                    return None;
                }
                let paddr = ((w & rv::PPN) >> rv::PPN_SHIFT) << 12;
                let class = (w >> rv::SIZE_SHIFT) & 3;
                if w & (rv::R | rv::W | rv::X) == 0 {
                    return if class == 0 { Some(Entry::Table(ObjPtr(paddr))) } else { None };
                }
                if class == 0 {
                    return None;
                }
                let rights = CapRights { read: w & rv::U != 0, write: w & rv::W != 0, ..CapRights::NONE };
                Some(Entry::Page {
                    frame: ObjPtr(paddr),
                    size_bits: size_of_class(class),
                    rights,
                    exec: w & rv::X != 0,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tcb_ptr() -> impl Strategy<Value = Option<ObjPtr>> {
        prop_oneof![Just(None), (1u64..PADDR_LIMIT >> TCB_BITS).prop_map(|p| Some(ObjPtr(p << TCB_BITS)))]
    }

    fn obj() -> impl Strategy<Value = ObjPtr> {
        (0u64..PADDR_LIMIT >> 4).prop_map(|p| ObjPtr(p << 4))
    }

    fn queue() -> impl Strategy<Value = TcbQueue> {
        (tcb_ptr(), tcb_ptr()).prop_map(|(head, tail)| TcbQueue { head, tail })
    }

    fn state() -> impl Strategy<Value = ThreadState> {
        prop_oneof![
            Just(ThreadState::Inactive),
            Just(ThreadState::Running),
            Just(ThreadState::Restart),
            (obj(), any::<bool>())
                .prop_map(|(ep, can_grant)| ThreadState::BlockedOnReceive { ep, can_grant }),
            (obj(), any::<u64>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
                |(ep, badge, can_grant, can_grant_reply, is_call)| ThreadState::BlockedOnSend {
                    ep,
                    badge,
                    can_grant,
                    can_grant_reply,
                    is_call
                }
            ),
            Just(ThreadState::BlockedOnReply),
            obj().prop_map(|ntfn| ThreadState::BlockedOnNotification { ntfn }),
            Just(ThreadState::IdleThreadState),
        ]
    }

    fn lookup() -> impl Strategy<Value = LookupFault> {
        prop_oneof![
            Just(LookupFault::InvalidRoot),
            any::<u64>().prop_map(|bits_left| LookupFault::MissingCapability { bits_left }),
            (any::<u64>(), any::<u64>())
                .prop_map(|(bits_left, bits_found)| LookupFault::DepthMismatch { bits_left, bits_found }),
            (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(bits_left, guard_found, guard_size)| {
                LookupFault::GuardMismatch { bits_left, guard_found, guard_size }
            }),
        ]
    }

    fn fault() -> impl Strategy<Value = Option<Fault>> {
        prop_oneof![
            Just(None),
            (any::<u64>(), any::<bool>(), lookup()).prop_map(
                |(address, in_receive_phase, lookup_failure)| {
                    Some(Fault::CapFault { address, in_receive_phase, lookup_failure })
                }
            ),
            any::<u64>().prop_map(|syscall_number| Some(Fault::UnknownSyscall { syscall_number })),
            (any::<u64>(), any::<u64>())
                .prop_map(|(number, code)| Some(Fault::UserException { number, code })),
            (any::<u64>(), any::<u64>(), any::<bool>()).prop_map(|(address, fsr, instruction_fault)| {
                Some(Fault::VMFault { address, fsr, instruction_fault })
            }),
        ]
    }

    fn links() -> impl Strategy<Value = Links> {
        (tcb_ptr(), tcb_ptr()).prop_map(|(prev, next)| Links { prev, next })
    }

    prop_compose! {
        fn tcb()(
            state in state(),
            registers in proptest::array::uniform32(any::<u64>()),
            next_ip: u64,
            priority: u8,
            mcp: u8,
            bound in prop_oneof![Just(None), obj().prop_filter("non-null", |p| p.0 != 0).prop_map(Some)],
            fault_handler: u64,
            ipc_buffer_ptr: u64,
            ep_links in links(),
            sched_links in links(),
            queued: bool,
            ticks: u64,
            fault in fault(),
            flags: u64,
            debug_links in links(),
        ) -> Tcb {
            Tcb {
                state, registers, next_ip, priority, mcp, bound_notification: bound, fault_handler,
                ipc_buffer_ptr, ep_links, sched_links, queued, ticks, fault, flags, debug_links,
            }
        }
    }

    proptest! {
        #[test]
        fn every_endpoint_reads_back_as_written(q in queue(), s in 0u8..3) {
            let state = [EpState::Idle, EpState::Send, EpState::Recv][s as usize];
            let e = Endpoint { state, queue: q };
            prop_assert_eq!(Endpoint::from_words(e.to_words()), e);
        }

        #[test]
        fn every_notification_reads_back_as_written(q in queue(), s in 0u8..3, msg: u64, bound in tcb_ptr()) {
            let state = [NtfnState::Idle, NtfnState::Waiting, NtfnState::Active][s as usize];
            let n = Notification { state, queue: q, msg_identifier: msg, bound_tcb: bound };
            prop_assert_eq!(Notification::from_words(n.to_words()), n);
        }

        #[test]
        fn every_tcb_reads_back_as_written(t in tcb()) {
            prop_assert_eq!(Tcb::from_words(&t.to_words()), t);
        }

        #[test]
        fn any_words_decode_stably(w in proptest::array::uniform32(any::<u64>()), x in proptest::array::uniform32(any::<u64>())) {
            let mut words = [0; TCB_WORDS];
            words[..32].copy_from_slice(&w);
            words[32..].copy_from_slice(&x);
            let t = Tcb::from_words(&words);
            prop_assert_eq!(Tcb::from_words(&t.to_words()), t);
            let e = Endpoint::from_words([w[0], w[1]]);
            prop_assert_eq!(Endpoint::from_words(e.to_words()), e);
            let n = Notification::from_words([w[0], w[1], w[2], w[3]]);
            prop_assert_eq!(Notification::from_words(n.to_words()), n);
        }
    }

    fn entry() -> impl Strategy<Value = crate::vspace::Entry> {
        use crate::vspace::Entry;
        prop_oneof![
            (1u64..1 << 36).prop_map(|p| Entry::Table(ObjPtr(p << 12))),
            (1u64..1 << 18, 0usize..3, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
                |(p, s, read, write, exec)| {
                    let size_bits = [12u8, 21, 30][s];
                    let rights = CapRights { read, write: read && write, ..CapRights::NONE };
                    Entry::Page { frame: ObjPtr(p << size_bits), size_bits, rights, exec }
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn every_paging_entry_reads_back_as_written(e in entry(), riscv: bool) {
            let arch = if riscv { Arch::Riscv64 } else { Arch::X86_64 };
            prop_assert_eq!(crate::vspace::Entry::from_word(e.to_word(arch), arch), Some(e));
        }

        #[test]
        fn accessed_and_dirty_bits_do_not_change_an_entry(e in entry(), riscv: bool) {
            // x86_64: A (5) and D (6); riscv64: A (6) and D (7).
            let (arch, ad) = if riscv { (Arch::Riscv64, 0xc0) } else { (Arch::X86_64, 0x60) };
            prop_assert_eq!(crate::vspace::Entry::from_word(e.to_word(arch) | ad, arch), Some(e));
        }
    }

    #[test]
    fn zero_words_are_fresh_objects() {
        assert_eq!(Endpoint::from_words([0; 2]), Endpoint::default());
        assert_eq!(Notification::from_words([0; 4]), Notification::default());
        assert_eq!(Tcb::from_words(&[0; TCB_WORDS]), Tcb::default());
        assert_eq!(Tcb::default().to_words(), [0; TCB_WORDS]);
    }
}
