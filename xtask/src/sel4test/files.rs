//! Where sel4test's binaries are: the directory (`--dir`, else `$GEARS_SEL4TEST_DIR`, else
//! `../shared/sel4test` beside the checkout when it exists) and the files in it per architecture.

use std::path::{Path, PathBuf};

use crate::{Arch, util};

/// The environment variable that names the directory.
pub const DIR_ENV: &str = "GEARS_SEL4TEST_DIR";

/// Where the directory came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `--dir`.
    Flag,
    /// [`DIR_ENV`].
    Env,
    /// `../shared/sel4test` beside the checkout.
    Default,
}

/// The directory of sel4test's binaries, once chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sel4testDir {
    /// Its path.
    pub path: PathBuf,
    /// Where it came from.
    pub origin: Origin,
}

impl Sel4testDir {
    /// The directory given by `flag`, else by `env` (the value of [`DIR_ENV`]), else the default
    /// `../shared/sel4test` beside the checkout when it exists.
    pub fn choose(flag: Option<&Path>, env: Option<&str>) -> Option<Sel4testDir> {
        if let Some(path) = flag {
            return Some(Sel4testDir { path: path.to_path_buf(), origin: Origin::Flag });
        }
        if let Some(env) = env.filter(|v| !v.is_empty()) {
            return Some(Sel4testDir { path: PathBuf::from(env), origin: Origin::Env });
        }
        let default = default_dir();
        default.is_dir().then_some(Sel4testDir { path: default, origin: Origin::Default })
    }

    /// How the directory was chosen, for messages.
    pub fn describe(&self) -> String {
        let how = match self.origin {
            Origin::Flag => "--dir".to_string(),
            Origin::Env => format!("${DIR_ENV}"),
            Origin::Default => "the default beside the checkout".to_string(),
        };
        format!("{} ({how})", self.path.display())
    }

    /// The files a run needs: the driver for Gears, seL4's image(s) with `on_sel4`.
    pub fn needed(&self, arch: Arch, on_sel4: bool) -> Vec<PathBuf> {
        let files = Files::new(&self.path, arch);
        match (on_sel4, arch) {
            (false, _) => vec![files.driver],
            (true, Arch::X86_64) => vec![files.sel4_kernel, files.driver],
            (true, Arch::Riscv64) => vec![files.sel4_image],
        }
    }

    /// The files of [`Sel4testDir::needed`] that are missing.
    pub fn missing(&self, arch: Arch, on_sel4: bool) -> Vec<PathBuf> {
        self.needed(arch, on_sel4).into_iter().filter(|p| !p.is_file()).collect()
    }
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

/// `../shared/sel4test` beside the checkout.
pub fn default_dir() -> PathBuf {
    let root = util::root();
    root.parent().unwrap_or(&root).join("shared/sel4test")
}

/// What to do when the binaries are not there: where they are expected, how to point at them,
/// and how to build them.
pub fn how_to_get_them() -> String {
    format!(
        "sel4test's binaries are looked for in --dir DIR, else in ${DIR_ENV}, else in {default}. \
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
        default = default_dir().display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_environment_which_wins_over_the_default() {
        let chosen = Sel4testDir::choose(Some(Path::new("/flag")), Some("/env")).unwrap();
        assert_eq!(chosen, Sel4testDir { path: "/flag".into(), origin: Origin::Flag });
        let chosen = Sel4testDir::choose(None, Some("/env")).unwrap();
        assert_eq!(chosen, Sel4testDir { path: "/env".into(), origin: Origin::Env });
        assert_eq!(chosen.describe(), "/env ($GEARS_SEL4TEST_DIR)");
        // An empty variable is as good as none: the default, if it exists.
        let chosen = Sel4testDir::choose(None, Some(""));
        assert_eq!(chosen.is_some(), default_dir().is_dir());
        if let Some(dir) = chosen {
            assert_eq!(dir.origin, Origin::Default);
        }
    }

    #[test]
    fn the_default_is_beside_the_checkout() {
        assert!(default_dir().ends_with("shared/sel4test"));
        assert_eq!(default_dir().parent().unwrap().parent(), util::root().parent());
    }

    #[test]
    fn each_mode_needs_its_files() {
        let dir = Sel4testDir { path: "/s".into(), origin: Origin::Flag };
        assert_eq!(dir.needed(Arch::Riscv64, false), [PathBuf::from("/s/riscv64/sel4test-driver")]);
        assert_eq!(
            dir.needed(Arch::X86_64, true),
            [PathBuf::from("/s/x86_64/seL4-kernel-x86_64-pc99"), PathBuf::from("/s/x86_64/sel4test-driver")]
        );
        assert_eq!(
            dir.needed(Arch::Riscv64, true),
            [PathBuf::from("/s/riscv64/seL4-image-with-sel4test-riscv64")]
        );
        assert_eq!(dir.missing(Arch::X86_64, false), [PathBuf::from("/s/x86_64/sel4test-driver")]);
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
