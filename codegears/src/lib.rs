//! The kernel's normal level as CodeGears: seL4's capability system (caps, CSpace lookup, the
//! derivation tree, CNode invocations, delete and revoke with Zombies, Untyped Retype).
//!
//! No `unsafe`, no arch code, no metagear-specific code: verification is plugged in at the meta
//! level ([`check_invariants`] is the predicate the invariant metagear runs). Names follow seL4's C
//! sources in snake case so each function's twin can be found: `cte_insert` is `cteInsert`,
//! `resolve_address_bits` is `resolveAddressBits`, and so on.
//!
//! A system call is run by the dispatcher from [`syscall::HANDLE_SYSCALL`] (or an invocation from
//! [`lookup::HANDLE_INVOCATION`], a fault from [`fault::HANDLE_FAULT`]): `handle_syscall` → `handle_invocation` →
//! `resolve_address_bits`* → `lookup_extra_caps` → `decode_invocation` →
//! `decode_cnode_invocation` / `decode_untyped_invocation` / `decode_tcb_invocation` /
//! `decode_frame_invocation` / `decode_page_table_invocation` / `decode_asid_pool_invocation` → … →
//! `invoke_*` → `invocation_done`.
//!
//! # Where this differs from seL4 (non-MCS; x86_64 or riscv64 numbers, see [`arch`])
//!
//! - Objects live in their own memory, as in seL4, in Gears' own encodings: a slot is four words
//!   at its address ([`cap_words`], [`CSpace`]), an endpoint, notification, TCB or ASID pool its
//!   words in its object ([`obj_words`], [`ObjectStore`]), a paging structure its entries in the
//!   hardware's format; the kernel keeps no record of which objects exist (the invariant checker
//!   gathers them from the caps). On the host model memory is a map of the pages
//!   written so far, one per DataGear (slots, object fields, users' frames), so each word a gear
//!   reads is a hash-table look-up where seL4 dereferences a pointer; untyped reset lowers the
//!   watermark chunk by chunk and a retype clears what it makes.
//! - Boot is modelled: a root TCB and CNode outside all untypeds, boot caps as CDT roots.
//! - Threads, endpoints and notifications ([`thread`], [`endpoint`], [`notification`]): seL4's
//!   thread states, 256 ready queues (round robin), Send/NBSend/Recv/NBRecv/Call/Reply/ReplyRecv
//!   with badges, reply caps (non-MCS caller slot), message transfer and `transferCaps`,
//!   Signal/Wait/Poll and binding. A system call that leaves its caller waiting ends with
//!   [`Done::Blocked`]; whoever wakes a thread writes its MessageInfo, badge and message words
//!   into its TCB. The running thread stays in its ready queue, and woken threads join the tail
//!   of theirs (seL4 puts them at the head unless they tie with the current thread).
//! - Faults ([`fault`], non-MCS): a system call whose cap lookup fails ends with
//!   `SyscallError::CapFault` and changes nothing; the dispatcher's caller then runs
//!   [`fault::HANDLE_FAULT`] with the fault in `Request::fault`
//!   ([`fault::Fault::from_syscall_error`]), as it does for a VM fault or a user exception; an
//!   unknown system call number goes there from `handle_syscall` itself. The thread's fault
//!   handler cptr is looked up in its CSpace one level per gear; an endpoint cap with send and
//!   grant (or grant-reply) takes the fault as a Call (seL4's labels, and each arch's own
//!   message layouts), and the reply restarts the thread (an UnknownSyscall or
//!   UserException reply sets the registers seL4 names, sanitised, and a non-zero label stops
//!   the thread instead). Without a usable handler the thread becomes Inactive (seL4 also
//!   prints both faults). A fault IPC that is cancelled (suspend, the endpoint deleted)
//!   drops the fault, where non-MCS seL4 keeps a stale `tcbFault`. Registers are read from
//!   and written to the TCB; the restart PC is its `rip`.
//! - `cancelAllIPC` (deleting the last cap of an endpoint or notification) releases one thread
//!   per gear with a preemption point after each (seL4 runs it unpreempted: its issues 1736 and
//!   1737); its progress is kept in the queue. `cancelBadgedSends` examines one thread per gear
//!   without a preemption point, as seL4 does.
//! - TCB invocations: ReadRegisters, WriteRegisters, CopyRegisters, Configure, SetPriority,
//!   SetMCPriority, SetSchedParams, SetIPCBuffer, SetSpace (the VSpace root must pass
//!   `isValidVTableRoot` and goes in the TCB's VTable slot), Suspend, Resume, BindNotification,
//!   UnbindNotification, SetTLSBase, SetFlags (the driver runs a thread with `fpuDisabled`
//!   with its FPU off). IRQControl IssueIRQHandler (riscv64: the PLIC's sources 0..=127;
//!   x86_64: the PIC's ISA lines 0..=15) and x86_64's IssueIRQHandlerMSI (IRQs 16..=123, vector
//!   IRQ + 0x20; IssueIRQHandlerIOAPIC is IllegalOperation, as seL4 with no IOAPIC says: Gears
//!   routes the ISA lines through the PICs and device interrupts as MSIs); IRQHandler Ack, SetNotification, Clear; an interrupt
//!   ([`interrupt::HANDLE_INTERRUPT`]) signals the handler's notification and stays masked until
//!   acknowledged; IRQ 0 is the timer, whose ticks end time slices of [`interrupt::TIME_SLICE`]
//!   and which one user-level driver may also handle (seL4 keeps its timer to itself).
//!   The notification an IRQ signals is kept as plain data in the IRQ table, not in a CDT slot.
//!   DomainSet_Set takes domain 0 (one domain); the domain schedule invocations fail with
//!   IllegalOperation.
//! - An invocation run directly from `handle_invocation` (`Request::syscall` 0: tools and tests)
//!   never blocks: a send on an endpoint is an NBSend.
//! - Address spaces ([`vspace`], [`page_table`], [`frame`], [`asid`]) for x86_64 and riscv64
//!   (Sv39), chosen by [`KernelState::arch`] at boot, with seL4's object-type numbers and arch
//!   labels ([`arch`]). The gears write paging entries into the structures' memory themselves;
//!   the flushes (and copies of the kernel's global entries) the hardware needs are recorded as
//!   [`MachineOp`]s for the arch layer. Deviations:
//!   mapping a frame over any present entry is DeleteFirst on both arches (seL4's x86_64
//!   overwrites a 4 KiB entry, and a 2 MiB one unless a table is there); the root-level entries
//!   the kernel used for the root task's boot mappings ([`BootConfig::boot_entries`]) are
//!   opaque: walking into them is a `FailedLookup`, mapping over them DeleteFirst; a VSpace root
//!   gets the kernel's global mappings when it is assigned an ASID (x86_64 seL4 copies them at
//!   retype); no IOMMU, VT-x, or I/O ports.
//! - A retype clears what it makes: a CNode's or TCB's slots, an object's words, a frame or
//!   paging structure ([`MachineOp::Zero`] too, for the hardware).
//! - Under `Mode::Resume` a gear entered across a preemption point re-reads every cap it works
//!   on; the retype re-checks what decode established and decodes again if it changed.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod arch;
pub mod asid;
pub mod boot;
pub mod cap;
pub mod cap_words;
pub mod cdt;
pub mod cnode;
pub mod cspace;
pub mod delete;
pub mod endpoint;
pub mod entry;
pub mod error;
pub mod fault;
pub mod frame;
pub mod interrupt;
pub mod invariants;
pub mod ioport;
pub mod kernel;
pub mod lookup;
pub mod machine;
pub mod mem;
pub mod message;
pub mod notification;
pub mod obj_words;
pub mod object;
pub mod page_table;
pub mod syscall;
pub mod tcb;
pub mod tcb_control;
pub mod thread;
pub mod thread_invariants;
pub mod untyped;
pub mod vspace;
pub mod vspace_invariants;

pub use arch::{Arch, ArchExt, PtKind};
pub use cap::{Cap, CapRights, Mapping, ObjPtr, SlotRef, ZombieType};
pub use cspace::{CSpace, Cte, MdbNode};
pub use error::{LookupFault, SyscallError};
pub use invariants::{InvariantViolation, check_invariants, check_local_invariants};
pub use kernel::{BootConfig, BootInfo, Done, Kernel, KernelState, Request, ThreadContext};
pub use machine::{MachineOp, MachineOps, Pte};
pub use object::{ObjKind, ObjectStore};
pub use thread_invariants::{check_local_queue_invariants, check_thread_invariants};
