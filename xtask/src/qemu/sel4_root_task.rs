//! Booting a root task written for seL4 (sel4test's driver, sel4bench) under QEMU, on Gears (the
//! ELF as the root task of a kernel built for it) or on seL4 itself (seL4's own images), and
//! following its serial output.

use std::path::Path;
use std::time::Duration;

use super::build::{Build, build_image, kernel_elf};
use super::command::{Machine, Sel4Boot, qemu_command, sel4_command};
use super::root_task::check_root_task_file;
use super::runner::{Follow, QemuRun, follow_qemu};
use crate::Arch;

/// The kernel that runs the root task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootTaskKernel<'a> {
    /// Gears, built to embed `root_task`.
    Gears {
        /// The root task ELF.
        root_task: &'a Path,
        /// A release kernel (else debug).
        release: bool,
        /// With the invariant checks (the `checks` feature).
        checks: bool,
        /// Count the guest instructions of each translation block into this file
        /// ([`super::profile`]).
        profile: Option<&'a Path>,
    },
    /// seL4, booted from its own images.
    Sel4(Sel4Boot<'a>),
}

/// Builds what `kernel` needs (for Gears: the kernel embedding the root task, which is checked
/// first) and boots it on `arch` on `machine`, handing the serial output to `follow` until QEMU
/// exits, `follow` stops it, or `timeout` passes.
pub fn boot_root_task(
    arch: Arch,
    kernel: RootTaskKernel<'_>,
    machine: Machine,
    timeout: Option<Duration>,
    follow: &mut impl Follow,
) -> anyhow::Result<QemuRun> {
    let mut cmd = match kernel {
        RootTaskKernel::Gears { root_task, release, checks, profile } => {
            let (root_task, _) = check_root_task_file(root_task, arch)?;
            let build = Build { release, checks, root_task: Some(&root_task), ..Build::debug(arch) };
            let image = build_image(build, false)?;
            let mut cmd = qemu_command(arch, &image, false, machine)?;
            if let Some(out) = profile {
                cmd.args(super::profile::plugin_args(&super::profile::plugin()?, out));
            }
            cmd
        }
        RootTaskKernel::Sel4(boot) => sel4_command(arch, boot, machine)?,
    };
    follow_qemu(arch, &mut cmd, timeout, follow)
}

/// The kernel ELF (with its symbols) of a Gears build for `kernel`, as [`boot_root_task`] builds
/// it (`None` for seL4).
pub fn gears_kernel_elf(arch: Arch, kernel: RootTaskKernel<'_>) -> Option<std::path::PathBuf> {
    match kernel {
        RootTaskKernel::Gears { root_task, release, checks, .. } => {
            Some(kernel_elf(Build { release, checks, root_task: Some(root_task), ..Build::debug(arch) }))
        }
        RootTaskKernel::Sel4(_) => None,
    }
}
