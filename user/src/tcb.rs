//! Threads: every TCB invocation (Configure, SetPriority, SetMCPriority, SetSchedParams,
//! SetIPCBuffer, SetSpace, Suspend, Resume, ReadRegisters, WriteRegisters, CopyRegisters,
//! BindNotification, UnbindNotification, SetTLSBase, SetFlags), the register set they move
//! ([`UserContext`]), and DomainSet.
//!
//! Starting a thread in the caller's own CSpace and VSpace, as sel4test's helper threads are:
//!
//! ```no_run
//! use gears_user::cap::{Tcb, init_thread};
//! extern "C" fn worker(arg: u64) -> ! {
//!     loop {}
//! }
//! fn start(t: Tcb, stack_top: u64) -> gears_user::Result<()> {
//!     t.configure(0, init_thread::CNODE, Default::default(), init_thread::VSPACE, None)?;
//!     t.set_priority(init_thread::TCB, 200)?;
//!     t.start(worker as *const () as u64, stack_top, &[42])
//! }
//! ```

use abi::label::{domain_set, tcb as label};
use abi::{CNodeCapData, tcb as flags};

use crate::cap::{CNode, DomainSet, Frame, Notification, Tcb, VSpace};
use crate::invoke::{invoke, invoke_unit};
use crate::{CPtr, Result};

#[cfg(not(target_arch = "riscv64"))]
mod arch {
    use abi::x86_64::reg;
    /// Registers in `seL4_UserContext`.
    pub const REGISTER_COUNT: usize = abi::x86_64::REGISTER_COUNT;
    /// The instruction pointer, stack pointer and TLS base.
    pub const PC: usize = reg::RIP;
    pub const SP: usize = reg::RSP;
    pub const TLS: usize = reg::FS_BASE;
    /// The System V argument registers.
    pub const ARGS: [usize; 6] = [reg::RDI, reg::RSI, reg::RDX, reg::RCX, reg::R8, reg::R9];
    /// How far below its stack top [`super::Tcb::start`] starts a thread: 8, as after a `call`.
    pub const STACK_BIAS: u64 = 8;
}

#[cfg(target_arch = "riscv64")]
mod arch {
    use abi::riscv64::reg;
    /// Registers in `seL4_UserContext`.
    pub const REGISTER_COUNT: usize = abi::riscv64::REGISTER_COUNT;
    /// The instruction pointer, stack pointer and TLS base.
    pub const PC: usize = reg::PC;
    pub const SP: usize = reg::SP;
    pub const TLS: usize = reg::TP;
    /// The argument registers.
    pub const ARGS: [usize; 8] = [reg::A0, reg::A1, reg::A2, reg::A3, reg::A4, reg::A5, reg::A6, reg::A7];
    /// How far below its stack top [`super::Tcb::start`] starts a thread: none.
    pub const STACK_BIAS: u64 = 0;
}

/// Registers in the target arch's `seL4_UserContext` (x86_64: 20, riscv64: 32).
pub const REGISTER_COUNT: usize = arch::REGISTER_COUNT;

/// A thread's registers in `seL4_UserContext` order, the order of ReadRegisters' and
/// WriteRegisters' words; index them with `abi::x86_64::reg` / `abi::riscv64::reg`.
///
/// ```
/// use gears_user::tcb::UserContext;
/// let mut r = UserContext::new();
/// r.set_pc(0x40_1000);
/// r.set_arg(1, 7);
/// assert_eq!((r.pc(), r.arg(1)), (0x40_1000, 7));
/// assert_eq!(r.words()[0], 0x40_1000); // FaultIP comes first on both arches
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserContext {
    words: [u64; REGISTER_COUNT],
}

impl Default for UserContext {
    fn default() -> Self {
        UserContext::new()
    }
}

impl UserContext {
    /// All registers zero.
    pub const fn new() -> UserContext {
        UserContext { words: [0; REGISTER_COUNT] }
    }

    /// The registers as words.
    pub const fn words(&self) -> &[u64; REGISTER_COUNT] {
        &self.words
    }

    /// Register `reg` (its `seL4_UserContext` index).
    ///
    /// # Panics
    ///
    /// If `reg` is not below [`REGISTER_COUNT`].
    pub fn get(&self, reg: usize) -> u64 {
        self.words[reg]
    }

    /// Sets register `reg`.
    ///
    /// # Panics
    ///
    /// If `reg` is not below [`REGISTER_COUNT`].
    pub fn set(&mut self, reg: usize, value: u64) {
        self.words[reg] = value;
    }

    /// The instruction pointer (FaultIP: x86_64 `rip`, riscv64 `pc`).
    pub fn pc(&self) -> u64 {
        self.words[arch::PC]
    }

    /// Sets the instruction pointer.
    pub fn set_pc(&mut self, value: u64) {
        self.words[arch::PC] = value;
    }

    /// The stack pointer.
    pub fn sp(&self) -> u64 {
        self.words[arch::SP]
    }

    /// Sets the stack pointer.
    pub fn set_sp(&mut self, value: u64) {
        self.words[arch::SP] = value;
    }

    /// The TLS base register (x86_64 `fs_base`, riscv64 `tp`).
    pub fn tls_base(&self) -> u64 {
        self.words[arch::TLS]
    }

    /// Argument register `i` of the C calling convention (x86_64 `rdi`, `rsi`, `rdx`, `rcx`,
    /// `r8`, `r9`; riscv64 `a0`–`a7`).
    ///
    /// # Panics
    ///
    /// If the arch has no argument register `i`.
    pub fn arg(&self, i: usize) -> u64 {
        self.words[arch::ARGS[i]]
    }

    /// Sets argument register `i`.
    ///
    /// # Panics
    ///
    /// If the arch has no argument register `i`.
    pub fn set_arg(&mut self, i: usize, value: u64) {
        self.words[arch::ARGS[i]] = value;
    }
}

/// What CopyRegisters copies, and what it does to the two threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct CopyRegisters {
    /// Suspend the source first.
    pub suspend_source: bool,
    /// Resume the target after.
    pub resume_target: bool,
    /// Copy the frame registers (ReadRegisters' first part: instruction and stack pointer …).
    pub transfer_frame: bool,
    /// Copy the integer registers (the rest).
    pub transfer_integer: bool,
}

impl CopyRegisters {
    /// The flags word.
    pub const fn word(self) -> u64 {
        (if self.suspend_source { flags::COPY_SUSPEND_SOURCE } else { 0 })
            | (if self.resume_target { flags::COPY_RESUME_TARGET } else { 0 })
            | (if self.transfer_frame { flags::COPY_TRANSFER_FRAME } else { 0 })
            | (if self.transfer_integer { flags::COPY_TRANSFER_INTEGER } else { 0 })
    }
}

/// The IPC buffer argument of Configure and SetIPCBuffer: its address in the thread's VSpace
/// (aligned to 1 KiB) and the frame it lies in; `None` for no buffer.
pub type IpcBufferSetting = Option<(u64, Frame)>;

fn buffer_words(buffer: IpcBufferSetting) -> (u64, CPtr) {
    match buffer {
        Some((addr, frame)) => (addr, frame.cptr()),
        None => (0, 0),
    }
}

impl Tcb {
    /// `seL4_TCB_Configure`: the fault endpoint (`fault_ep`, a cptr in the thread's own CSpace;
    /// 0: none), the CSpace root (with `cspace_data` applied if non-zero: a guard), the VSpace
    /// root and the IPC buffer.
    pub fn configure(
        self,
        fault_ep: CPtr,
        cspace: CNode,
        cspace_data: CNodeCapData,
        vspace: VSpace,
        buffer: IpcBufferSetting,
    ) -> Result<()> {
        let (addr, frame) = buffer_words(buffer);
        let words = [fault_ep, cspace_data.word(), 0, addr];
        invoke_unit(self.cptr(), label::CONFIGURE, &words, &[cspace.cptr(), vspace.cptr(), frame])
    }

    /// `seL4_TCB_SetPriority`, with the authority of the thread `authority` (its maximum
    /// controlled priority bounds `priority`).
    pub fn set_priority(self, authority: Tcb, priority: u64) -> Result<()> {
        invoke_unit(self.cptr(), label::SET_PRIORITY, &[priority], &[authority.cptr()])
    }

    /// `seL4_TCB_SetMCPriority`: the highest priority the thread may give.
    pub fn set_mc_priority(self, authority: Tcb, mcp: u64) -> Result<()> {
        invoke_unit(self.cptr(), label::SET_MC_PRIORITY, &[mcp], &[authority.cptr()])
    }

    /// `seL4_TCB_SetSchedParams`: maximum controlled priority and priority at once.
    pub fn set_sched_params(self, authority: Tcb, mcp: u64, priority: u64) -> Result<()> {
        invoke_unit(self.cptr(), label::SET_SCHED_PARAMS, &[mcp, priority], &[authority.cptr()])
    }

    /// `seL4_TCB_SetIPCBuffer`.
    pub fn set_ipc_buffer(self, buffer: IpcBufferSetting) -> Result<()> {
        let (addr, frame) = buffer_words(buffer);
        invoke_unit(self.cptr(), label::SET_IPC_BUFFER, &[addr], &[frame])
    }

    /// `seL4_TCB_SetSpace`: fault endpoint, CSpace root (with `cspace_data`) and VSpace root.
    pub fn set_space(
        self,
        fault_ep: CPtr,
        cspace: CNode,
        cspace_data: CNodeCapData,
        vspace: VSpace,
    ) -> Result<()> {
        let words = [fault_ep, cspace_data.word(), 0];
        invoke_unit(self.cptr(), label::SET_SPACE, &words, &[cspace.cptr(), vspace.cptr()])
    }

    /// `seL4_TCB_Suspend`: the thread stops (inactive) until resumed.
    pub fn suspend(self) -> Result<()> {
        invoke_unit(self.cptr(), label::SUSPEND, &[], &[])
    }

    /// `seL4_TCB_Resume`: an inactive thread runs again.
    pub fn resume(self) -> Result<()> {
        invoke_unit(self.cptr(), label::RESUME, &[], &[])
    }

    /// `seL4_TCB_ReadRegisters`: the first `count` registers (the rest read as 0), suspending
    /// the thread first if `suspend_source`. A thread cannot read its own (IllegalOperation).
    pub fn read_registers(self, suspend_source: bool, count: usize) -> Result<UserContext> {
        let words = [u64::from(suspend_source), count as u64];
        let reply = invoke(self.cptr(), label::READ_REGISTERS, &words, &[])?;
        let mut regs = UserContext::new();
        for i in 0..count.min(reply.length()).min(REGISTER_COUNT) {
            regs.words[i] = reply.word(i);
        }
        Ok(regs)
    }

    /// `seL4_TCB_WriteRegisters`: the first `count` registers of `regs`, resuming the thread
    /// after if `resume_target`.
    ///
    /// # Panics
    ///
    /// If `count` is above [`REGISTER_COUNT`].
    pub fn write_registers(self, resume_target: bool, count: usize, regs: &UserContext) -> Result<()> {
        let mut words = [0u64; 2 + REGISTER_COUNT];
        words[0] = u64::from(resume_target);
        words[1] = count as u64;
        words[2..2 + count].copy_from_slice(&regs.words[..count]);
        invoke_unit(self.cptr(), label::WRITE_REGISTERS, &words[..2 + count], &[])
    }

    /// `seL4_TCB_CopyRegisters`: registers of `source` into this thread.
    pub fn copy_registers(self, source: Tcb, what: CopyRegisters) -> Result<()> {
        invoke_unit(self.cptr(), label::COPY_REGISTERS, &[what.word()], &[source.cptr()])
    }

    /// WriteRegisters with resume: the thread starts at `entry` with its stack pointer just
    /// below `stack_top` (as after a call on x86_64), `args` in its first argument registers
    /// and every other register zero (nothing of an earlier run survives, a set direction flag
    /// say).
    ///
    /// # Panics
    ///
    /// If there are more `args` than the arch's argument registers (x86_64 6, riscv64 8).
    pub fn start(self, entry: u64, stack_top: u64, args: &[u64]) -> Result<()> {
        let mut regs = UserContext::new();
        regs.set_pc(entry);
        regs.set_sp(stack_top - arch::STACK_BIAS);
        for (i, &a) in args.iter().enumerate() {
            regs.set_arg(i, a);
        }
        self.write_registers(true, REGISTER_COUNT, &regs)
    }

    /// `seL4_TCB_BindNotification`: signals of `notification` also wake the thread when it
    /// waits on an endpoint.
    pub fn bind_notification(self, notification: Notification) -> Result<()> {
        invoke_unit(self.cptr(), label::BIND_NOTIFICATION, &[], &[notification.cptr()])
    }

    /// `seL4_TCB_UnbindNotification`.
    pub fn unbind_notification(self) -> Result<()> {
        invoke_unit(self.cptr(), label::UNBIND_NOTIFICATION, &[], &[])
    }

    /// `seL4_TCB_SetTLSBase`: the thread's TLS register (x86_64 FS base, riscv64 `tp`).
    pub fn set_tls_base(self, base: u64) -> Result<()> {
        invoke_unit(self.cptr(), label::SET_TLS_BASE, &[base], &[])
    }

    /// `seL4_TCB_SetFlags`: clears the flags `clear`, sets `set` (`abi::tcb::FLAG_*`); the
    /// flags the thread has now.
    pub fn set_flags(self, clear: u64, set: u64) -> Result<u64> {
        invoke(self.cptr(), label::SET_FLAGS, &[clear, set], &[]).map(|r| r.word(0))
    }
}

/// x86_64's `seL4_SetTLSBase` system call: the calling thread's FS base (riscv64 threads set
/// `tp` themselves).
#[cfg(not(target_arch = "riscv64"))]
pub fn set_tls_base(base: u64) {
    crate::sys::syscall(abi::Syscall::SetTLSBase, base, 0, [0; 4]);
}

impl DomainSet {
    /// `seL4_DomainSet_Set`: puts `thread` in scheduling domain `domain`.
    pub fn set(self, domain: u64, thread: Tcb) -> Result<()> {
        invoke_unit(self.cptr(), domain_set::SET, &[domain], &[thread.cptr()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_flags_are_sel4s_bits() {
        let all = CopyRegisters {
            suspend_source: true,
            resume_target: true,
            transfer_frame: true,
            transfer_integer: true,
        };
        assert_eq!(all.word(), 0xf);
        assert_eq!(CopyRegisters { transfer_frame: true, ..Default::default() }.word(), 4);
    }

    #[test]
    fn registers_sit_where_the_abi_says() {
        let mut r = UserContext::new();
        r.set_sp(0x1000);
        r.set_arg(0, 5);
        r.set(abi::x86_64::reg::FS_BASE, 9);
        assert_eq!(r.get(abi::x86_64::reg::RSP), 0x1000);
        assert_eq!(r.get(abi::x86_64::reg::RDI), 5);
        assert_eq!(r.tls_base(), 9);
        assert_eq!(r.words().len(), 20);
    }
}
