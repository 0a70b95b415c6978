//! Booting seL4's test driver under QEMU, on Gears (the driver as the root task of a kernel
//! built for it) or on seL4 itself (seL4's own images), and following its serial output.

use std::path::Path;
use std::time::Duration;

use super::build::{Build, build_image};
use super::command::{Sel4Boot, qemu_command, sel4_command};
use super::root_task::check_root_task_file;
use super::runner::{Follow, QemuRun, follow_qemu};
use crate::Arch;

/// The kernel that runs the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sel4testKernel<'a> {
    /// Gears, built to embed `driver` as its root task.
    Gears {
        /// The driver ELF.
        driver: &'a Path,
        /// A release kernel (else debug).
        release: bool,
        /// With the invariant checks (the `checks` feature).
        checks: bool,
    },
    /// seL4, booted from its own images.
    Sel4(Sel4Boot<'a>),
}

/// Builds what `kernel` needs (for Gears: the kernel embedding the driver, which is checked
/// first) and boots it on `arch` with `memory_mib` MiB, handing the serial output to `follow`
/// until QEMU exits, `follow` stops it, or `timeout` passes.
pub fn boot_sel4test(
    arch: Arch,
    kernel: Sel4testKernel<'_>,
    memory_mib: u32,
    timeout: Option<Duration>,
    follow: &mut impl Follow,
) -> anyhow::Result<QemuRun> {
    let mut cmd = match kernel {
        Sel4testKernel::Gears { driver, release, checks } => {
            let (driver, _) = check_root_task_file(driver, arch)?;
            let build = Build { release, checks, root_task: Some(&driver), ..Build::debug(arch) };
            let image = build_image(build, false)?;
            qemu_command(arch, &image, false, memory_mib)?
        }
        Sel4testKernel::Sel4(boot) => sel4_command(arch, boot, memory_mib)?,
    };
    follow_qemu(arch, &mut cmd, timeout, follow)
}
