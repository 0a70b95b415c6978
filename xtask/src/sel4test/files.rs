//! Where sel4test's binaries are: the directory (`--dir`, else `$GEARS_SEL4TEST_DIR`, else
//! `../shared/sel4test` beside the checkout when it exists: [`crate::shared`]) and the files in
//! it per architecture.

use std::path::{Path, PathBuf};

use crate::Arch;
use crate::shared::{self, SEL4TEST};

/// The files a run needs from the directory `dir`: the driver for Gears, seL4's image(s) with
/// `on_sel4`.
pub fn needed(dir: &Path, arch: Arch, on_sel4: bool) -> Vec<PathBuf> {
    let files = Files::new(dir, arch);
    match (on_sel4, arch) {
        (false, _) => vec![files.driver],
        (true, Arch::X86_64) => vec![files.sel4_kernel, files.driver],
        (true, Arch::Riscv64) => vec![files.sel4_image],
    }
}

/// The files of [`needed`] that are missing.
pub fn missing(dir: &Path, arch: Arch, on_sel4: bool) -> Vec<PathBuf> {
    shared::missing(&needed(dir, arch, on_sel4))
}

/// The files of one architecture in the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Files {
    /// The driver ELF (the root task; it carries the tests).
    pub driver: PathBuf,
    /// x86_64: seL4's debug kernel, booted by multiboot with the driver as its module.
    pub sel4_kernel: PathBuf,
    /// riscv64: seL4's boot image (elfloader, seL4 and the driver).
    pub sel4_image: PathBuf,
    /// seL4's serial log of running the suite: the tests it ran.
    pub reference_log: PathBuf,
}

impl Files {
    /// The files of `arch` in `dir`.
    pub fn new(dir: &Path, arch: Arch) -> Files {
        let arch_dir = dir.join(arch.name());
        Files {
            driver: arch_dir.join("sel4test-driver"),
            sel4_kernel: arch_dir.join("seL4-kernel-x86_64-pc99"),
            sel4_image: arch_dir.join("seL4-image-with-sel4test-riscv64"),
            reference_log: dir.join("reference").join(format!("seL4-{}-sel4test.log", arch.name())),
        }
    }
}

/// What to do when the binaries are not there: where they are expected, how to point at them,
/// and how to build them.
pub fn how_to_get_them() -> String {
    format!(
        "sel4test's binaries are looked for in --dir DIR, else in ${env}, else in {default}. \
         That directory holds, per architecture (x86_64/, riscv64/), the driver `sel4test-driver`, \
         seL4's own images for --on-sel4 (x86_64/seL4-kernel-x86_64-pc99, \
         riscv64/seL4-image-with-sel4test-riscv64) and reference/seL4-ARCH-sel4test.log (seL4's \
         run, which gives the tests not reached); CI has it beside the checkout. To build them: \
         lay out seL4's sel4test project (the directory's recipe/setup_sources_newest.sh names \
         the commits), then in a build folder per architecture run its init-build.sh with \
         -DSIMULATION=TRUE -DRELEASE=FALSE and -DPLATFORM=x86_64, or \
         -DPLATFORM=qemu-riscv-virt -DKernelSel4Arch=riscv64, and ninja; the driver is \
         apps/sel4test-driver/sel4test-driver in the build folder (the directory's README, \
         \"Rebuilding\", has the packages it needs)",
        env = SEL4TEST.env,
        default = SEL4TEST.default_dir().display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_needs_its_files() {
        let dir = Path::new("/s");
        assert_eq!(needed(dir, Arch::Riscv64, false), [PathBuf::from("/s/riscv64/sel4test-driver")]);
        assert_eq!(
            needed(dir, Arch::X86_64, true),
            [PathBuf::from("/s/x86_64/seL4-kernel-x86_64-pc99"), PathBuf::from("/s/x86_64/sel4test-driver")]
        );
        assert_eq!(
            needed(dir, Arch::Riscv64, true),
            [PathBuf::from("/s/riscv64/seL4-image-with-sel4test-riscv64")]
        );
        assert_eq!(missing(dir, Arch::X86_64, false), [PathBuf::from("/s/x86_64/sel4test-driver")]);
        let files = Files::new(Path::new("/s"), Arch::X86_64);
        assert_eq!(files.reference_log, PathBuf::from("/s/reference/seL4-x86_64-sel4test.log"));
    }

    #[test]
    fn the_advice_names_the_variable_and_the_build() {
        let advice = how_to_get_them();
        assert!(advice.contains("$GEARS_SEL4TEST_DIR"), "{advice}");
        assert!(advice.contains("-DPLATFORM=qemu-riscv-virt"), "{advice}");
        assert!(advice.contains("Rebuilding"), "{advice}");
    }
}
