//! The IPC buffer (`seL4_IPCBuffer`, [`abi::IpcBuffer`]'s layout): message words past the
//! fourth, the extra caps' cptrs of a message sent, the badges of caps unwrapped in one
//! received, and the slot a received cap goes to.
//!
//! The buffer this address space's calls use is registered once with [`set`]: the root task's
//! entry point registers the one seL4's boot mapped (BootInfo's `ipcBuffer`); a program the root
//! task loads registers the one the root task mapped for it. Threads that share an address space
//! share the registration: message words 0–3 travel in registers and are each thread's own, the
//! words past them go through the registered buffer, so only one thread of an address space
//! should send or receive long messages at a time unless each registers its own buffer before it
//! does.
//!
//! Every access is a volatile read or write of one word: the kernel writes the buffer while the
//! thread is in a system call, so the compiler must not keep a copy of it.

use core::sync::atomic::{AtomicU64, Ordering};

use abi::IpcBuffer as Layout;

use crate::CPtr;
use crate::cnode::Slot;

/// The registered buffer's address (0: none).
static CURRENT: AtomicU64 = AtomicU64::new(0);

/// A handle on an IPC buffer mapped in this address space: its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpcBuffer {
    addr: u64,
}

impl IpcBuffer {
    /// Words in the buffer (128: 1 KiB).
    pub const WORDS: usize = Layout::WORDS;

    /// A handle on the IPC buffer at `addr`.
    ///
    /// # Safety
    ///
    /// `addr` is aligned to 1 KiB, and the 1 KiB there is mapped readable and writable in this
    /// address space for as long as the handle (or a copy) is used; no Rust object lives there
    /// (only the kernel and this handle's volatile accesses touch it).
    pub const unsafe fn new(addr: u64) -> IpcBuffer {
        IpcBuffer { addr }
    }

    /// Its address.
    pub const fn addr(self) -> u64 {
        self.addr
    }

    /// Word `word` (an index in [`abi::IpcBuffer`]'s words: [`Layout::msg`] and friends).
    ///
    /// # Panics
    ///
    /// If `word` is not below [`IpcBuffer::WORDS`].
    pub fn read(self, word: usize) -> u64 {
        assert!(word < Self::WORDS, "IPC buffer word {word} out of range");
        let p = (self.addr as *const u64).wrapping_add(word);
        // SAFETY: `new`'s contract: the buffer is mapped readable and no Rust object lives in it;
        // `word` is inside it and the address is aligned to a word.
        unsafe { p.read_volatile() }
    }

    /// Writes word `word`.
    ///
    /// # Panics
    ///
    /// If `word` is not below [`IpcBuffer::WORDS`].
    pub fn write(self, word: usize, value: u64) {
        assert!(word < Self::WORDS, "IPC buffer word {word} out of range");
        let p = (self.addr as *mut u64).wrapping_add(word);
        // SAFETY: as for `read`, and the buffer is mapped writable.
        unsafe { p.write_volatile(value) }
    }

    /// Message word `i` (`seL4_GetMR`: words 0–3 of a message live in registers, the buffer's
    /// copy of them only if a program put it there).
    pub fn msg(self, i: usize) -> u64 {
        self.read(Layout::msg(i))
    }

    /// Writes message word `i` (`seL4_SetMR`).
    pub fn set_msg(self, i: usize, value: u64) {
        self.write(Layout::msg(i), value)
    }

    /// Extra cap `j`'s slot of `caps_or_badges`: a cptr to send, or the badge of a cap the
    /// kernel unwrapped in a message received.
    pub fn cap_or_badge(self, j: usize) -> u64 {
        self.read(Layout::cap(j))
    }

    /// Puts extra cap `j`'s cptr in `caps_or_badges`.
    pub fn set_cap(self, j: usize, cptr: CPtr) {
        self.write(Layout::cap(j), cptr)
    }

    /// Where a cap received with the next message goes (`seL4_SetCapReceivePath`): the slot
    /// `slot.index` resolved with `slot.depth` bits from the CNode `slot.cnode`, which the
    /// receiver's CSpace names.
    pub fn set_receive_slot(self, slot: Slot) {
        self.write(Layout::RECEIVE_CNODE, slot.cnode.cptr());
        self.write(Layout::RECEIVE_INDEX, slot.index);
        self.write(Layout::RECEIVE_DEPTH, slot.depth);
    }

    /// The receive path: (CNode cptr, index, depth).
    pub fn receive_path(self) -> (CPtr, u64, u64) {
        (self.read(Layout::RECEIVE_CNODE), self.read(Layout::RECEIVE_INDEX), self.read(Layout::RECEIVE_DEPTH))
    }

    /// `userData`: a word the kernel leaves alone (libsel4 keeps the buffer's address there).
    pub fn user_data(self) -> u64 {
        self.read(Layout::USER_DATA)
    }

    /// Sets `userData`.
    pub fn set_user_data(self, value: u64) {
        self.write(Layout::USER_DATA, value)
    }
}

/// Registers `buffer` as the one this address space's calls use.
pub fn set(buffer: IpcBuffer) {
    CURRENT.store(buffer.addr, Ordering::Relaxed);
}

/// The buffer registered with [`set`], if any.
pub fn get() -> Option<IpcBuffer> {
    match CURRENT.load(Ordering::Relaxed) {
        0 => None,
        addr => Some(IpcBuffer { addr }),
    }
}

/// The registered buffer.
///
/// # Panics
///
/// If no buffer was registered: a message longer than four words, a message with extra caps
/// or a receive slot needs one.
pub fn current() -> IpcBuffer {
    get().expect("no IPC buffer registered (gears_user::ipc_buffer::set)")
}

/// Sets the receive slot in the registered buffer ([`IpcBuffer::set_receive_slot`]).
pub fn set_receive_slot(slot: Slot) {
    current().set_receive_slot(slot)
}
