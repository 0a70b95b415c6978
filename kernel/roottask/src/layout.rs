//! Where the project's programs put things in their address spaces: their image at the user
//! base (the linker scripts), and the scratch area where a root task maps pages it fills.

/// The user base, where the demo, the child and the fuzzer are linked (PML4 slot 1 on x86_64,
/// root entry 64 on riscv64), and the scratch area (the next slot or entry).
#[cfg(target_arch = "x86_64")]
mod arch {
    pub const USER_BASE: u64 = 0x0000_0080_0000_0000;
    pub const SCRATCH: u64 = 0x0000_0100_0000_0000;
}

#[cfg(target_arch = "riscv64")]
mod arch {
    pub const USER_BASE: u64 = 0x0000_0010_0000_0000;
    pub const SCRATCH: u64 = 0x0000_0010_4000_0000;
}

pub use arch::{SCRATCH, USER_BASE};
