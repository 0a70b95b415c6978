//! The QEMU command line for each architecture, and what its exit status means.
//!
//! x86_64 runs with the serial port on stdio and the `isa-debug-exit` device: the kernel writes
//! 0x10 (pass) or 0x11 (fail), QEMU exits with `(v << 1) | 1` = 33 or 35. A reboot (with
//! `-no-reboot`, QEMU exits 0), a triple fault or a timeout is a failure.
//!
//! riscv64 boots the ELF directly (`-kernel`, OpenSBI as `-bios default`) on the `virt` machine
//! and leaves through the SiFive test device: QEMU exits 0 (pass) or 1 (fail). Since exit 0 is
//! also what a guest shutdown gives, a pass also needs the kernel's exit report
//! (`super::console`).

use std::path::Path;
use std::process::Command;

use anyhow::bail;

use crate::{Arch, setup};

/// QEMU's exit status when the kernel reports success through `isa-debug-exit` (0x10).
pub const EXIT_SUCCESS: i32 = (0x10 << 1) | 1;
/// QEMU's exit status when the kernel reports failure (0x11): a failed test, panic or exception.
pub const EXIT_FAILURE: i32 = (0x11 << 1) | 1;

/// riscv64: QEMU's exit status when the kernel reports failure through the SiFive test device.
pub const RISCV_EXIT_FAILURE: i32 = 1;

/// The guest memory of the project's own runs and of the test suites, in MiB.
pub const MEMORY_MIB: u32 = 256;
/// The guest memory of a `--root-task` run unless `--memory` says otherwise, in MiB: seL4's test
/// suite runs out of memory in 256 MiB (one test, on seL4 itself) and passes in 512.
pub const ROOT_TASK_MEMORY_MIB: u32 = 512;

/// The x86_64 CPU QEMU emulates: the one seL4's own test and benchmark runs use (Nehalem, with
/// 1 GiB pages and SYSCALL, without XSAVE, FSGSBASE and INVPCID), so that the same seL4 binaries
/// run on both kernels (sel4test's driver uses SSE4.1, which QEMU's default CPU lacks).
pub const X86_CPU: &str =
    "Nehalem,-vme,+pdpe1gb,-xsave,-xsaveopt,-xsavec,-fsgsbase,-invpcid,+syscall,+lm,enforce";

/// The settings of the emulated machine that runs choose: guest memory, one CPU feature, and
/// QEMU's instruction-counting clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// x86_64: [`X86_CPU`] with RDTSCP too (sel4bench reads the TSC with it and aborts without
    /// it; Nehalem lacks it). riscv64 has no such instruction and ignores this.
    pub rdtscp: bool,
    /// QEMU's `-icount`, if on.
    pub icount: Option<Icount>,
}

/// QEMU's `-icount shift=0`: the virtual clock advances one nanosecond per guest instruction, so
/// that the TSC (x86_64) and the `time` CSR (riscv64) count guest instructions, exactly and
/// repeatably, whatever the host's load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icount {
    /// Whether the virtual clock waits in real time while the guest idles (QEMU's default);
    /// without, it jumps straight to the next timer (`sleep=off`).
    pub sleep: bool,
}

impl Machine {
    /// `memory_mib` MiB, the CPU as it is, the host's clock.
    pub const fn with_memory(memory_mib: u32) -> Machine {
        Machine { memory_mib, rdtscp: false, icount: None }
    }

    /// QEMU's `-m`.
    fn memory(self) -> String {
        format!("{}M", self.memory_mib)
    }

    /// The x86_64 `-cpu` value.
    fn x86_cpu(self) -> String {
        if self.rdtscp { format!("{X86_CPU},+rdtscp") } else { X86_CPU.to_string() }
    }

    /// Adds `-icount` to `cmd` if it is on.
    fn add_icount(self, cmd: &mut Command) {
        if let Some(icount) = self.icount {
            cmd.args(["-icount", if icount.sleep { "shift=0" } else { "shift=0,sleep=off" }]);
        }
    }
}

/// Where the bootloader loads the kernel (`kernel/src/arch/x86_64/boot.rs`, `KERNEL_BASE`).
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// Where OVMF may live (Debian's `ovmf` package, old and new layouts).
const OVMF_PATHS: &[&str] =
    &["/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF.fd", "/usr/share/qemu/OVMF.fd"];

/// Installs `arch`'s QEMU if it is missing.
fn ensure_qemu(arch: Arch) -> anyhow::Result<()> {
    match arch {
        Arch::X86_64 => setup::ensure_apt_tool("qemu-system-x86_64", "qemu-system-x86"),
        Arch::Riscv64 => setup::ensure_apt_tool("qemu-system-riscv64", "qemu-system-misc"),
    }
}

/// The QEMU command that boots `image` on `arch` (through UEFI if `uefi`) on `machine`,
/// installing QEMU first if it is missing.
pub fn qemu_command(arch: Arch, image: &Path, uefi: bool, machine: Machine) -> anyhow::Result<Command> {
    ensure_qemu(arch)?;
    gears_command(arch, image, uefi, machine)
}

/// [`qemu_command`] without installing anything.
fn gears_command(arch: Arch, image: &Path, uefi: bool, machine: Machine) -> anyhow::Result<Command> {
    let memory = machine.memory();
    let mut cmd = match arch {
        Arch::X86_64 => {
            let mut cmd = Command::new("qemu-system-x86_64");
            // A virtio disk: the BIOS bootloader reads the kernel through int13, which SeaBIOS
            // serves from virtio-blk about twice as fast as from emulated IDE (1.3-1.5 s instead
            // of 2.8-3.6 s to the root task for a 560 KB release kernel, measured on this machine).
            let drive = format!("format=raw,file={},if=virtio", image.display());
            // The HPET signals MSIs, as it may in seL4's runs (sel4test's timer driver takes its
            // interrupt through IRQControl GetMSI then; Gears drives no IOAPIC).
            cmd.args(["-cpu", &machine.x86_cpu(), "-global", "hpet.msi=on", "-drive", &drive])
                .args(["-serial", "stdio", "-display", "none", "-no-reboot", "-m", &memory])
                .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
            if uefi {
                let ovmf = OVMF_PATHS.iter().map(Path::new).find(|p| p.is_file());
                let Some(ovmf) = ovmf else {
                    bail!(
                        "OVMF firmware not found (looked in {}): run `apt-get install -y ovmf`",
                        OVMF_PATHS.join(", ")
                    );
                };
                cmd.arg("-bios").arg(ovmf);
            }
            cmd
        }
        Arch::Riscv64 => {
            let mut cmd = Command::new("qemu-system-riscv64");
            cmd.args(["-machine", "virt", "-bios", "default", "-kernel"]).arg(image).args([
                "-serial",
                "stdio",
                "-display",
                "none",
                "-no-reboot",
                "-m",
                &memory,
                "-smp",
                "1",
            ]);
            cmd
        }
    };
    machine.add_icount(&mut cmd);
    Ok(cmd)
}

/// How seL4 itself boots under QEMU, for running the same programs on it as on Gears.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sel4Boot<'a> {
    /// x86_64: seL4's multiboot kernel, with the root task as its module (`-kernel`, `-initrd`).
    Multiboot {
        /// seL4's kernel ELF.
        kernel: &'a Path,
        /// The root task ELF.
        root_task: &'a Path,
    },
    /// riscv64: seL4's boot image (elfloader, kernel and root task) booted with no firmware.
    Image(&'a Path),
}

/// The QEMU command that boots seL4 as `boot` says on `arch` on `machine`, with the QEMU machine,
/// CPU and serial line a Gears run has (seL4's own runs differ only in taking 3 GiB), installing
/// QEMU first if it is missing.
pub fn sel4_command(arch: Arch, boot: Sel4Boot<'_>, machine: Machine) -> anyhow::Result<Command> {
    ensure_qemu(arch)?;
    sel4_boot_command(arch, boot, machine)
}

/// [`sel4_command`] without installing anything.
fn sel4_boot_command(arch: Arch, boot: Sel4Boot<'_>, machine: Machine) -> anyhow::Result<Command> {
    let memory = machine.memory();
    let console = ["-serial", "stdio", "-display", "none", "-no-reboot", "-m", &memory];
    let mut cmd = match (arch, boot) {
        (Arch::X86_64, Sel4Boot::Multiboot { kernel, root_task }) => {
            let mut cmd = Command::new("qemu-system-x86_64");
            cmd.args(["-cpu", &machine.x86_cpu(), "-kernel"])
                .arg(kernel)
                .arg("-initrd")
                .arg(root_task)
                .args(console);
            cmd
        }
        (Arch::Riscv64, Sel4Boot::Image(image)) => {
            let mut cmd = Command::new("qemu-system-riscv64");
            cmd.args(["-machine", "virt", "-cpu", "rv64", "-bios", "none", "-kernel"])
                .arg(image)
                .args(console)
                .args(["-smp", "1"]);
            cmd
        }
        (arch, boot) => bail!("seL4 does not boot on {arch} as {boot:?}"),
    };
    machine.add_icount(&mut cmd);
    Ok(cmd)
}

/// Makes `cmd` start QEMU's gdb stub (port 1234) and wait for a debugger, and says how to attach
/// one to the kernel ELF `elf`.
pub fn wait_for_gdb(cmd: &mut Command, arch: Arch, elf: &Path) {
    cmd.args(["-s", "-S"]);
    eprintln!("xtask: QEMU waits for a debugger on localhost:1234. In another terminal:");
    if arch == Arch::Riscv64 {
        eprintln!(
            "xtask:   gdb-multiarch {} -ex 'target remote :1234' \\\n\
             xtask:       -ex 'break kernel::kernel_main_impl::kernel_main' -ex continue",
            elf.display()
        );
    } else {
        eprintln!(
            "xtask:   gdb -ex 'symbol-file {} -o {KERNEL_BASE:#x}' -ex 'target remote :1234' \\\n\
             xtask:       -ex 'break kernel::kernel_main_impl::kernel_main' -ex continue",
            elf.display()
        );
        eprintln!("xtask: (the kernel is position-independent and loaded at {KERNEL_BASE:#x}, hence `-o`)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(cmd: &Command) -> Vec<String> {
        cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    /// The value after the first `flag` in `cmd`'s arguments.
    fn value_of(cmd: &Command, flag: &str) -> Option<String> {
        let args = args(cmd);
        args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1).cloned())
    }

    #[test]
    fn the_machine_sets_memory_cpu_and_icount_on_both_kernels_alike() {
        let bench = Machine { memory_mib: 3072, rdtscp: true, icount: Some(Icount { sleep: true }) };
        let boot = Sel4Boot::Multiboot { kernel: Path::new("/k"), root_task: Path::new("/r") };
        let gears = gears_command(Arch::X86_64, Path::new("/img"), false, bench).unwrap();
        let sel4 = sel4_boot_command(Arch::X86_64, boot, bench).unwrap();
        for cmd in [&gears, &sel4] {
            assert_eq!(value_of(cmd, "-cpu"), Some(format!("{X86_CPU},+rdtscp")));
            assert_eq!(value_of(cmd, "-m").as_deref(), Some("3072M"));
            assert_eq!(value_of(cmd, "-icount").as_deref(), Some("shift=0"));
        }
        let plain = gears_command(Arch::X86_64, Path::new("/img"), false, Machine::with_memory(256)).unwrap();
        assert_eq!(value_of(&plain, "-cpu").as_deref(), Some(X86_CPU));
        assert_eq!(value_of(&plain, "-icount"), None);
        let no_sleep = Machine { icount: Some(Icount { sleep: false }), ..Machine::with_memory(256) };
        let riscv = gears_command(Arch::Riscv64, Path::new("/elf"), false, no_sleep).unwrap();
        assert_eq!(value_of(&riscv, "-icount").as_deref(), Some("shift=0,sleep=off"));
        assert_eq!(value_of(&riscv, "-cpu"), None);
    }
}
