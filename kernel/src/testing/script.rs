//! The script runner as the root task: the scenarios' way to make a list of seL4 calls through
//! real system calls and read what each returned.
//!
//! [`RootTask::boot`] boots the capability kernel ([`Driver::boot`]) with the script runner of
//! `arch::programs` as its root task, whose image holds a stack page, a results page and the
//! script pages after its code (seL4's boot maps its IPC buffer after them). [`RootTask::run`] writes a script into the script pages, starts the
//! runner from its entry point and runs the kernel's main loop until the runner's
//! `seL4_DebugHalt`; the runner stored the reply of each record's last call in the results page.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

use abi::{MessageInfo, Syscall};
use codegears::cap::{Cap, ObjPtr, SlotRef};

use crate::arch::{self, PAGE_SIZE};
use crate::driver::{Driver, Halt};
use crate::thread::{RESULTS_VA, RootImage, SCRIPT_PAGES as SCRIPT_PAGE_COUNT, SCRIPT_VA};

/// Words in a script record (see `arch::programs::script_runner`).
const RECORD_WORDS: usize = 16;
/// Words in a result record.
const RESULT_WORDS: usize = 8;
/// Script pages in the runner's image.
const SCRIPT_PAGES: usize = SCRIPT_PAGE_COUNT as usize;
/// Records in a script page.
const RECORDS_PER_PAGE: usize = PAGE_SIZE as usize / (RECORD_WORDS * 8);
/// The most records a script may hold (the last slot stays zero: the end marker).
pub const MAX_RECORDS: usize = SCRIPT_PAGES * RECORDS_PER_PAGE - 1;

/// One seL4 call of a script: what the root task puts in its registers and IPC buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Call {
    /// The system call.
    pub syscall: Option<Syscall>,
    /// The invoked cap.
    pub cap: u64,
    /// The invocation label.
    pub label: u64,
    /// Message words (at most 8 here: MR0–3 in registers, MR4–7 in the IPC buffer).
    pub mrs: [u64; 8],
    /// How many message words.
    pub length: u64,
    /// Extra caps (in the IPC buffer).
    pub extra: [u64; 3],
    /// How many extra caps.
    pub extra_caps: u64,
    /// Make the call this many times (at least 1) …
    pub repeat: u64,
    /// … adding this to MR0 each time.
    pub stride: u64,
}

impl Call {
    /// `seL4_Call(cap, label, mrs, extra caps)`.
    pub fn new(cap: u64, label: u64, mrs: &[u64], extra: &[u64]) -> Call {
        let mut c = Call { syscall: Some(Syscall::Call), cap, label, repeat: 1, ..Call::default() };
        c.mrs[..mrs.len()].copy_from_slice(mrs);
        c.length = mrs.len() as u64;
        c.extra[..extra.len()].copy_from_slice(extra);
        c.extra_caps = extra.len() as u64;
        c
    }

    /// The same call `n` times, MR0 stepping by `stride`.
    pub fn repeated(mut self, n: u64, stride: u64) -> Call {
        self.repeat = n;
        self.stride = stride;
        self
    }

    fn words(&self) -> [u64; RECORD_WORDS] {
        let info = MessageInfo::new(self.label, 0, self.extra_caps, self.length).word();
        let number = self.syscall.map_or(0, Syscall::number);
        let [m0, m1, m2, m3, m4, m5, m6, m7] = self.mrs;
        let [e0, e1, e2] = self.extra;
        [
            number as u64,
            self.cap,
            info,
            m0,
            m1,
            m2,
            m3,
            m4,
            m5,
            m6,
            m7,
            e0,
            e1,
            e2,
            self.repeat.max(1),
            self.stride,
        ]
    }
}

/// What the root task got back from one script record (its last call).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// The reply's label: 0 for success, else the `seL4_Error` code.
    pub label: u64,
    /// The reply's length.
    pub length: u64,
    /// MR0–3 of the reply.
    pub mrs: [u64; 4],
    /// How many calls the record made.
    pub calls: u64,
}

/// The kernel with the script runner as its root task.
pub struct RootTask {
    driver: Driver,
    /// The frame of the results page.
    results: u64,
    /// The frames of the script pages.
    script: [u64; SCRIPT_PAGES],
}

impl Deref for RootTask {
    type Target = Driver;
    fn deref(&self) -> &Driver {
        &self.driver
    }
}

impl DerefMut for RootTask {
    fn deref_mut(&mut self) -> &mut Driver {
        &mut self.driver
    }
}

impl RootTask {
    /// Boots the capability kernel with the script runner as its root task.
    pub fn boot() -> Result<RootTask, String> {
        let loading = |e| format!("could not boot the script runner: {e:?}");
        let image = RootImage::program(arch::programs::script_runner()).map_err(loading)?;
        let driver = Driver::boot(&image).map_err(loading)?;
        let frame = |vaddr| driver.image_frame(vaddr).ok_or("the script runner's image lacks a page");
        let results = frame(RESULTS_VA)?;
        let mut script = [0; SCRIPT_PAGES];
        for (page, f) in script.iter_mut().enumerate() {
            *f = frame(SCRIPT_VA + page as u64 * PAGE_SIZE)?;
        }
        Ok(RootTask { driver, results, script })
    }

    /// Runs `script` from the runner's entry point to its `seL4_DebugHalt`, with every thread
    /// the kernel schedules meanwhile; returns the replies.
    pub fn run(&mut self, script: &[Call]) -> Result<Vec<Reply>, String> {
        if script.len() > MAX_RECORDS {
            return Err(format!("a script of {} records; the runner takes {MAX_RECORDS}", script.len()));
        }
        arch::zero_frame(self.results);
        for (page, &frame) in self.script.iter().enumerate() {
            arch::zero_frame(frame);
            for (i, call) in script.iter().skip(page * RECORDS_PER_PAGE).take(RECORDS_PER_PAGE).enumerate() {
                for (k, w) in call.words().iter().enumerate() {
                    arch::copy_to_frame(frame, (i * RECORD_WORDS + k) * 8, &w.to_le_bytes());
                }
            }
        }
        self.driver.restart_root();
        let root = self.driver.info.root_tcb;
        match self.driver.run()? {
            Some(Halt { thread, arg: 1 }) if thread == root => Ok(self.replies(script.len())),
            Some(Halt { thread, arg }) => {
                Err(format!("thread {:#x} halted the machine with {arg}", thread.0))
            }
            None => Err("the script runner stopped before the end of its script".into()),
        }
    }

    fn replies(&self, n: usize) -> Vec<Reply> {
        let word = |i: usize| {
            let mut b = [0u8; 8];
            arch::copy_from_frame(self.results, i * 8, &mut b);
            u64::from_le_bytes(b)
        };
        (0..n)
            .map(|r| {
                let w = |k: usize| word(r * RESULT_WORDS + k);
                let mi = MessageInfo::from_word(w(0));
                Reply { label: mi.label(), length: mi.length(), mrs: [w(1), w(2), w(3), w(4)], calls: w(6) }
            })
            .collect()
    }

    /// The cap in root CNode slot `cptr`.
    pub fn cap(&self, cptr: u64) -> Cap {
        self.kernel.state.cspace.cap(SlotRef::of(self.info.root_cnode, cptr))
    }

    /// The cap in slot `index` of the CNode whose cap is in root slot `cnode`.
    pub fn cap_in(&self, cnode: u64, index: u64) -> Cap {
        match self.cap(cnode) {
            Cap::CNode { ptr, .. } => self.kernel.state.cspace.cap(SlotRef::of(ptr, index)),
            _ => Cap::Null,
        }
    }

    /// The object pointer of the cap in root slot `cptr`, if it names one.
    pub fn object_of(&self, cptr: u64) -> Option<ObjPtr> {
        match self.cap(cptr) {
            Cap::Thread { ptr } | Cap::Endpoint { ptr, .. } | Cap::CNode { ptr, .. } => Some(ptr),
            _ => None,
        }
    }
}
