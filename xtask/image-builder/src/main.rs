//! Builds bootable disk images of the Gears kernel with the `bootloader` crate.
//!
//! Usage: `gears-image-builder <kernel-elf> <out.img> [--uefi]`. Run by `cargo xtask run`/`test`;
//! BIOS by default, a GPT image for OVMF with `--uefi`.

use std::path::PathBuf;
use std::process::ExitCode;

use bootloader::{BiosBoot, BootConfig, UefiBoot};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let uefi = args.iter().any(|a| a == "--uefi");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [kernel, out] = paths.as_slice() else {
        eprintln!("usage: gears-image-builder <kernel-elf> <out.img> [--uefi]");
        return ExitCode::from(2);
    };
    let (kernel, out) = (PathBuf::from(kernel), PathBuf::from(out));

    // The bootloader's own logging goes to the framebuffer and serial by default; both slow the
    // boot down (the framebuffer one a lot under TCG) and clutter the kernel's console.
    let mut config = BootConfig::default();
    config.frame_buffer_logging = false;
    config.serial_logging = false;

    let made = if uefi {
        UefiBoot::new(&kernel).set_boot_config(&config).create_disk_image(&out)
    } else {
        BiosBoot::new(&kernel).set_boot_config(&config).create_disk_image(&out)
    };
    match made {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gears-image-builder: {err:#}");
            ExitCode::FAILURE
        }
    }
}
