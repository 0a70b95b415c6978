//! Building kernel images and running them under QEMU.
//!
//! A placeholder until the QEMU runner lands: the host tests run, the QEMU suites are empty, and
//! `cargo xtask run` says there is nothing to boot yet.

use crate::RunOptions;

/// Runs the QEMU test suites for every architecture (none yet).
pub fn test_suites() -> anyhow::Result<()> {
    Ok(())
}

/// Builds the kernel for `opts.arch` and boots it under QEMU.
pub fn run(opts: &RunOptions) -> anyhow::Result<()> {
    anyhow::bail!(
        "no bootable kernel yet: cannot run the kernel on {} (the QEMU runner is not written)",
        opts.arch
    )
}
