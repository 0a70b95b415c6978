//! Building what QEMU boots: the Rust root task (or a root task ELF given with `--root-task`),
//! the kernel that embeds it, and (x86_64) the BIOS or UEFI disk image around the kernel.
//!
//! The kernel is built in its own cargo invocation (`cargo build -p kernel --target …`, never
//! together with host crates), its debug info is stripped into a copy (a big ELF makes the BIOS
//! load slow), and the separate crate `xtask/image-builder` (the only place that runs with
//! `RUSTC_BOOTSTRAP=1`, which the `bootloader` crate's build script needs) wraps it into a disk
//! image. riscv64 boots the stripped ELF itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::{Arch, util};

/// Which kernel build to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Build<'a> {
    /// The architecture to build for.
    pub arch: Arch,
    /// The release profile (else debug).
    pub release: bool,
    /// The `qemu-test` feature: boot into the in-kernel test suite.
    pub test: bool,
    /// The `trace` feature: stream the gear trace over the serial line.
    pub trace: bool,
    /// The `latency-bench` feature: boot into the interrupt-latency bench.
    pub bench: bool,
    /// Embed the system-call fuzzer instead of the demo root task (and build the kernel with
    /// its invariant checks on, the `checks` feature).
    pub fuzz: Option<FuzzProgram>,
    /// Build the kernel with its invariant checks on (the `checks` feature), whatever it embeds
    /// (the fuzzer's kernel has them anyway).
    pub checks: bool,
    /// Embed this ELF (an absolute path, checked by `super::root_task`) as the root task instead
    /// of building the project's own.
    pub root_task: Option<&'a Path>,
}

impl Build<'_> {
    /// A debug kernel for `arch` with no feature and the project's own root task: what each
    /// build changes from.
    pub const fn debug(arch: Arch) -> Build<'static> {
        Build {
            arch,
            release: false,
            test: false,
            trace: false,
            bench: false,
            fuzz: None,
            checks: false,
            root_task: None,
        }
    }
}

/// The build-time settings of the fuzz program (`kernel/roottask/src/fuzz`), which it reads
/// from the environment of its build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuzzProgram {
    /// The seed of its call stream.
    pub seed: u64,
    /// How many calls it makes.
    pub calls: u64,
    /// It prints every call from this one on.
    pub trace_from: Option<u64>,
}

impl FuzzProgram {
    /// The environment of its build: (variable, value), each set or removed.
    fn env(self) -> [(&'static str, Option<String>); 3] {
        [
            ("GEARS_FUZZ_SEED", Some(self.seed.to_string())),
            ("GEARS_FUZZ_CALLS", Some(self.calls.to_string())),
            ("GEARS_FUZZ_TRACE_FROM", self.trace_from.map(|t| t.to_string())),
        ]
    }
}

impl Build<'_> {
    /// The build's name in file names: `release` or `debug`.
    fn profile(self) -> &'static str {
        if self.release { "release" } else { "debug" }
    }

    /// The cargo profile the kernel is built with, which names its output directory: the
    /// workspace's `kernel-release` (one codegen unit, fat LTO) or `dev`'s `debug`.
    fn cargo_profile(self) -> &'static str {
        if self.release { "kernel-release" } else { "debug" }
    }

    /// Whether the kernel is built with the `checks` feature.
    fn with_checks(self) -> bool {
        self.checks || self.fuzz.is_some()
    }

    /// A name for the files of this build: `x86_64-debug`, `x86_64-release-test`, …
    fn stem(self) -> String {
        format!(
            "{}-{}{}{}{}{}{}",
            self.arch.name(),
            self.profile(),
            if self.test { "-test" } else { "" },
            if self.trace { "-trace" } else { "" },
            if self.bench { "-bench" } else { "" },
            if self.fuzz.is_some() { "-fuzz" } else { "" },
            if self.checks { "-checks" } else { "" }
        )
    }

    /// Test builds get their own target directory so they do not evict the normal build.
    fn target_dir(self) -> PathBuf {
        let base = util::target_dir();
        match (self.test, self.trace, self.bench, self.fuzz.is_some(), self.checks) {
            (true, _, _, _, _) => base.join("qemu-test"),
            (false, true, _, _, _) => base.join("qemu-trace"),
            (false, false, true, _, _) => base.join("qemu-bench"),
            (false, false, false, true, _) => base.join("qemu-fuzz"),
            (false, false, false, false, true) => base.join("qemu-checks"),
            (false, false, false, false, false) => base,
        }
    }
}

/// Builds the kernel and wraps it into a disk image; returns the image's path (for riscv64,
/// which boots the ELF directly, the stripped ELF's).
pub fn build_image(build: Build<'_>, uefi: bool) -> anyhow::Result<PathBuf> {
    let elf = build_kernel(build)?;
    let out_dir = util::target_dir().join("gears-images");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("could not create {}", out_dir.display()))?;
    let stripped = out_dir.join(format!("kernel-{}.elf", build.stem()));
    strip_debuginfo(&elf, &stripped)?;
    if build.arch == Arch::Riscv64 {
        return Ok(stripped);
    }
    let image = out_dir.join(format!("{}-{}.img", build.stem(), if uefi { "uefi" } else { "bios" }));
    let builder = image_builder()?;
    let mut cmd = Command::new(builder);
    cmd.arg(&stripped).arg(&image);
    if uefi {
        cmd.arg("--uefi");
    }
    util::status(&mut cmd)?;
    Ok(image)
}

/// The unstripped kernel ELF of `build` (for gdb).
pub fn kernel_elf(build: Build<'_>) -> PathBuf {
    build.target_dir().join(build.arch.target()).join(build.cargo_profile()).join("kernel")
}

/// Builds the Rust root task (`kernel/roottask`, its own workspace, linked at the user base) for
/// `arch`, with the child program it embeds, or the fuzz program instead; returns its ELF, which
/// the kernel's build script embeds.
fn build_root_task(arch: Arch, fuzz: Option<FuzzProgram>) -> anyhow::Result<PathBuf> {
    let dir = util::root().join("kernel/roottask");
    let target_dir = util::target_dir().join("roottask");
    // The child program first: the root task embeds it (GEARS_CHILD_ELF) and loads it into an
    // address space of its own. The fuzz program is built with it too: the package's build
    // script, which embeds the child, then stays fresh for both.
    let mut built = Vec::new();
    for bin in ["child", if fuzz.is_some() { "fuzz" } else { "roottask" }] {
        let mut cmd = Command::new(util::cargo_bin());
        cmd.current_dir(&dir)
            .args(["build", "--quiet", "--release", "--bin", bin, "--target", arch.target(), "--target-dir"])
            .arg(&target_dir);
        // Its own `.cargo/config.toml` applies (code model on x86_64); nothing of the outer cargo may.
        clear_cargo_env(&mut cmd);
        if let Some(child) = built.first() {
            cmd.env("GEARS_CHILD_ELF", child);
        }
        for (key, value) in fuzz.map(FuzzProgram::env).into_iter().flatten() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        util::status(&mut cmd)?;
        let elf = target_dir.join(arch.target()).join("release").join(bin);
        if !elf.is_file() {
            bail!("cargo built the {bin} program but {} is missing", elf.display());
        }
        built.push(elf);
    }
    Ok(built.pop().expect("two programs built"))
}

/// Removes the outer cargo invocation's variables (xtask runs under `cargo run`).
pub(super) fn clear_cargo_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_") && key != "CARGO_HOME" || key == "RUSTFLAGS" {
            cmd.env_remove(key);
        }
    }
}

fn build_kernel(build: Build<'_>) -> anyhow::Result<PathBuf> {
    let root_task = match build.root_task {
        Some(elf) => elf.to_path_buf(),
        None => build_root_task(build.arch, build.fuzz)?,
    };
    let target_dir = build.target_dir();
    let mut cmd = Command::new(util::cargo_bin());
    cmd.env("GEARS_ROOTTASK_ELF", &root_task);
    // The project's own programs end with a verdict in seL4_DebugHalt's cap register; another
    // root task's DebugHalt just stops the machine.
    cmd.env("GEARS_ROOTTASK_VERDICT", if build.root_task.is_none() { "1" } else { "0" });
    cmd.current_dir(util::root())
        .args(["build", "--quiet", "-p", "kernel", "--target", build.arch.target(), "--target-dir"])
        .arg(&target_dir);
    if build.release {
        cmd.args(["--profile", build.cargo_profile()]);
    }
    if build.test {
        cmd.args(["--features", "qemu-test"]);
    }
    if build.trace {
        cmd.args(["--features", "trace"]);
    }
    if build.bench {
        cmd.args(["--features", "latency-bench"]);
    }
    if build.with_checks() {
        cmd.args(["--features", "checks"]);
    }
    // The capability kernel's gears run optimised even in a debug kernel (the kernel crate itself
    // stays unoptimised for gdb): a revoke of 65,536 caps takes seconds instead of minutes.
    for krate in ["gears", "metagears", "codegears"] {
        cmd.args(["--config", &format!("profile.dev.package.{krate}.opt-level=2")]);
    }
    util::status(&mut cmd)?;
    let elf = kernel_elf(build);
    if !elf.is_file() {
        bail!("cargo built the kernel but {} is missing", elf.display());
    }
    Ok(elf)
}

/// Copies `elf` to `out` without debug info, with `llvm-objcopy` from the `llvm-tools` component.
fn strip_debuginfo(elf: &Path, out: &Path) -> anyhow::Result<()> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let sysroot = util::output(Command::new(rustc).args(["--print", "sysroot"]))?;
    let host = util::output(Command::new("rustc").args(["--print", "host-tuple"]))
        .unwrap_or_else(|_| "x86_64-unknown-linux-gnu".to_string());
    let objcopy = Path::new(sysroot.trim()).join("lib/rustlib").join(host.trim()).join("bin/llvm-objcopy");
    if !objcopy.is_file() {
        bail!("{} not found: run `rustup component add llvm-tools`", objcopy.display());
    }
    let mut cmd = Command::new(objcopy);
    cmd.arg("--strip-debug").arg(elf).arg(out);
    util::status(&mut cmd)
}

/// Builds (once; afterwards cargo finds it fresh) and returns the image-builder binary.
///
/// It runs in its own directory so that its `.cargo/config.toml` (`RUSTC_BOOTSTRAP=1`) applies to
/// it alone, with its own target directory. The first build takes minutes: the `bootloader`
/// crate's build script compiles the BIOS and UEFI stages with `-Zbuild-std`.
fn image_builder() -> anyhow::Result<PathBuf> {
    let dir = util::root().join("xtask/image-builder");
    let target_dir = util::target_dir().join("image-builder");
    let bin = target_dir.join("release/gears-image-builder");
    let mut cmd = Command::new(util::cargo_bin());
    cmd.current_dir(&dir).args(["build", "--quiet", "--release", "--target-dir"]).arg(&target_dir);
    // Nothing from the outer cargo invocation (xtask's `cargo run`) may leak into this build.
    clear_cargo_env(&mut cmd);
    if !bin.is_file() {
        eprintln!("xtask: building the image builder (first time only: ~3 min, it builds the bootloader)");
    }
    util::status(&mut cmd)?;
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_names() {
        let b = Build { release: true, test: true, ..Build::debug(Arch::X86_64) };
        assert_eq!(b.stem(), "x86_64-release-test");
        assert!(b.target_dir().ends_with("qemu-test"));
        assert!(kernel_elf(b).ends_with("qemu-test/x86_64-unknown-none/kernel-release/kernel"));
        let fuzz = Some(FuzzProgram { seed: 1, calls: 10, trace_from: None });
        let b = Build { fuzz, ..Build::debug(Arch::Riscv64) };
        assert_eq!(b.stem(), "riscv64-debug-fuzz");
        assert!(b.target_dir().ends_with("qemu-fuzz"));
        assert!(b.with_checks());
        let b = Build { fuzz: None, checks: true, release: true, ..b };
        assert_eq!(b.stem(), "riscv64-release-checks");
        assert!(b.target_dir().ends_with("qemu-checks"));
    }

    #[test]
    fn fuzz_settings_reach_the_program_build() {
        let env = FuzzProgram { seed: 7, calls: 1_000_000, trace_from: None }.env();
        assert_eq!(env[0], ("GEARS_FUZZ_SEED", Some("7".to_string())));
        assert_eq!(env[1], ("GEARS_FUZZ_CALLS", Some("1000000".to_string())));
        // Unset, not empty: the program then traces nothing.
        assert_eq!(env[2], ("GEARS_FUZZ_TRACE_FROM", None));
    }
}
