//! Messages where seL4 keeps them: the first four words, the MessageInfo and the badge in the
//! thread's registers (its TCB), the rest in its IPC buffer, reached through [`PhysMem`] at the
//! address its buffer frame gives. After seL4's `lookupIPCBuffer`, `getSyscallArg`, `setMR`,
//! `copyMRs` and `replyFromKernel_*`.
//!
//! A thread without a usable IPC buffer has only its four message registers: words past them
//! are not sent, and a message to it is cut to four words, as in seL4.

use abi::{Arch, IpcBuffer, MessageInfo, SyscallRegisters};
use arrayvec::ArrayVec;

use crate::cap::{Cap, ObjPtr, SlotRef};
use crate::cspace::CSpace;
use crate::error::SyscallError;
use crate::kernel::tcb_slot;
use crate::mem::PhysMem;
use crate::object::{ObjectStore, Tcb};

/// `n_msgRegisters`: message words passed in registers.
pub const MSG_REGISTERS: usize = 4;

/// The physical address of word `index` of the IPC buffer at `buffer`.
pub const fn buffer_word(buffer: u64, index: usize) -> u64 {
    buffer + (index as u64) * 8
}

/// `lookupIPCBuffer`: the physical address of `t`'s IPC buffer, if its buffer slot holds a
/// non-device frame cap it may use (read-write, or read-only when it only sends).
pub fn lookup_ipc_buffer(
    cspace: &CSpace,
    objects: &ObjectStore,
    t: ObjPtr,
    is_receiver: bool,
) -> Option<u64> {
    match cspace.cap(SlotRef::of(t, tcb_slot::BUFFER)) {
        Cap::Frame { ptr, size_bits, rights, is_device: false, .. }
            if rights.read && (rights.write || !is_receiver) =>
        {
            Some(ptr.0 + (objects.ipc_buffer_ptr(t) & crate::cap::mask(u64::from(size_bits))))
        }
        _ => None,
    }
}

/// The registers of seL4's system-call ABI on `arch`.
pub const fn syscall_registers(arch: Arch) -> SyscallRegisters {
    arch.syscall_registers()
}

impl Tcb {
    /// The MessageInfo register (`msgInfoRegister`), as a thread left it.
    pub fn msg_info(&self, arch: Arch) -> MessageInfo {
        MessageInfo::from_word(self.registers[arch.syscall_registers().info])
    }

    /// Sets the MessageInfo register.
    pub fn set_msg_info(&mut self, arch: Arch, info: MessageInfo) {
        self.registers[arch.syscall_registers().info] = info.word();
    }

    /// The badge register (`badgeRegister`).
    pub fn badge(&self, arch: Arch) -> u64 {
        self.registers[arch.syscall_registers().badge]
    }

    /// Sets the badge register.
    pub fn set_badge(&mut self, arch: Arch, badge: u64) {
        self.registers[arch.syscall_registers().badge] = badge;
    }
}

/// `getSyscallArg` / `getMR`: message word `i` of the TCB at `t` (a register, or its IPC buffer
/// at `buffer`); `None` past the registers without a buffer.
pub fn get_mr(
    objects: &ObjectStore,
    t: ObjPtr,
    arch: Arch,
    mem: &PhysMem,
    buffer: Option<u64>,
    i: usize,
) -> Option<u64> {
    if i < MSG_REGISTERS {
        Some(objects.register(t, arch.syscall_registers().msg[i]))
    } else {
        buffer.map(|b| mem.read(buffer_word(b, IpcBuffer::msg(i))))
    }
}

/// `setMR`: sets message word `i` of `t` (a register, or its IPC buffer at `buffer`); returns
/// the message's length with it (`i + 1`), or 4 when it fell past the registers of a thread
/// without a buffer.
pub fn set_mr(t: &mut Tcb, arch: Arch, mem: &mut PhysMem, buffer: Option<u64>, i: usize, v: u64) -> usize {
    if i < MSG_REGISTERS {
        t.registers[arch.syscall_registers().msg[i]] = v;
        return i + 1;
    }
    match buffer {
        Some(b) => {
            mem.write(buffer_word(b, IpcBuffer::msg(i)), v);
            i + 1
        }
        None => MSG_REGISTERS,
    }
}

/// Sets `t`'s message words from `words`, then its MessageInfo (`label`, the length that fit)
/// and badge: what a kernel reply or a fault message leaves a thread. Returns the length.
#[allow(clippy::too_many_arguments)]
pub fn set_message(
    objects: &mut ObjectStore,
    mem: &mut PhysMem,
    arch: Arch,
    t: ObjPtr,
    buffer: Option<u64>,
    label: u64,
    badge: u64,
    words: &[u64],
) -> usize {
    let mut tcb = objects.tcb_mut(t);
    let mut len = 0;
    for (i, &w) in words.iter().enumerate() {
        len = set_mr(&mut tcb, arch, mem, buffer, i, w);
    }
    tcb.set_badge(arch, badge);
    tcb.set_msg_info(arch, MessageInfo::new(label, 0, 0, len as u64));
    len
}

/// `copyMRs`' register part: the first `n` message words that are in registers (at most
/// [`MSG_REGISTERS`]) go from `sender`'s registers to `receiver`'s. Returns how many went.
pub fn copy_mr_registers(
    objects: &mut ObjectStore,
    arch: Arch,
    sender: ObjPtr,
    receiver: ObjPtr,
    n: usize,
) -> usize {
    let regs = arch.syscall_registers();
    let n = n.min(MSG_REGISTERS);
    for &r in &regs.msg[..n] {
        let w = objects.register(sender, r);
        objects.set_register(receiver, r, w);
    }
    n
}

/// `copyMRs`: the first `n` message words of `sender` go to `receiver` (registers to
/// registers; words past them only if both have a buffer). Returns how many went.
#[allow(clippy::too_many_arguments)]
pub fn copy_mrs(
    objects: &mut ObjectStore,
    mem: &mut PhysMem,
    arch: Arch,
    sender: ObjPtr,
    send_buffer: Option<u64>,
    receiver: ObjPtr,
    recv_buffer: Option<u64>,
    n: usize,
) -> usize {
    let mut i = copy_mr_registers(objects, arch, sender, receiver, n);
    let (Some(s), Some(r)) = (send_buffer, recv_buffer) else { return i };
    while i < n {
        let w = mem.read(buffer_word(s, IpcBuffer::msg(i)));
        mem.write(buffer_word(r, IpcBuffer::msg(i)), w);
        i += 1;
    }
    i
}

/// `replyFromKernel_error`: the error's words in `t`'s message registers and buffer, its code
/// as the label, badge 0. A cap fault is not a reply (`None` is returned and nothing written).
pub fn reply_from_kernel_error(
    cspace: &CSpace,
    objects: &mut ObjectStore,
    mem: &mut PhysMem,
    arch: Arch,
    t: ObjPtr,
    e: &SyscallError,
) -> Option<()> {
    let (code, words) = error_reply(e)?;
    let buffer = lookup_ipc_buffer(cspace, objects, t, true);
    set_message(objects, mem, arch, t, buffer, code, 0, words.as_slice());
    Some(())
}

/// `replyFromKernel_success_empty`: label 0, no words, badge 0.
pub fn reply_from_kernel_success_empty(objects: &mut ObjectStore, arch: Arch, t: ObjPtr) {
    let regs = arch.syscall_registers();
    objects.set_register(t, regs.badge, 0);
    objects.set_register(t, regs.info, MessageInfo::new(0, 0, 0, 0).word());
}

/// At most seven words: a lookup failure's description after its source word is the longest.
pub type ErrorWords = ArrayVec<u64, 7>;

/// `setMRs_syscall_error`: the code and the words of the reply to a failed invocation (`None`
/// for a cap fault, which goes to the fault handler instead).
pub fn error_reply(e: &SyscallError) -> Option<(u64, ErrorWords)> {
    let code = e.error()?.code();
    let mut w = ErrorWords::new();
    match *e {
        SyscallError::InvalidArgument { arg } => w.push(arg),
        SyscallError::InvalidCapability { cap } => w.push(cap),
        SyscallError::RangeError { min, max } => {
            w.push(min);
            w.push(max);
        }
        SyscallError::FailedLookup { source, fault } => {
            w.push(source as u64);
            w.extend(fault.words());
        }
        SyscallError::NotEnoughMemory { available } => w.push(available),
        _ => {}
    }
    Some((code, w))
}
