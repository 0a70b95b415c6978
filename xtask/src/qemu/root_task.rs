//! The ELF that `cargo xtask run --root-task PATH` boots instead of the project's own root task,
//! checked before anything is built: a statically linked ELF64 little-endian executable for the
//! chosen architecture, with at least one segment to load.
//!
//! The ELF structures are read with the `object` crate; this module only decides what a root task
//! may be and says, in one line, why a file is not one.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use object::elf::{self, FileHeader64};
use object::read::elf::{FileHeader as _, ProgramHeader as _};
use object::{LittleEndian, ReadRef as _};

use crate::Arch;

/// Why a file cannot be the root task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// It does not start with the ELF magic bytes.
    NotElf,
    /// It is an ELF file of another class than ELF64 (the class byte).
    NotElf64(u8),
    /// It is an ELF64 file that is not little-endian (the data-encoding byte).
    NotLittleEndian(u8),
    /// Its header or program headers do not fit the file (`object`'s reason).
    Damaged(String),
    /// It is not an executable (`ET_EXEC`): a shared object, a PIE, an object file, …
    NotExecutable(u16),
    /// It is for another machine than the chosen architecture.
    WrongMachine {
        /// The architecture of the file, if it is one of the kernel's.
        file: Option<Arch>,
        /// Its `e_machine`.
        machine: u16,
        /// The architecture chosen with `--arch`.
        wanted: Arch,
    },
    /// It needs a dynamic linker (`PT_INTERP`, with its path if readable) or has dynamic
    /// relocations to apply (`PT_DYNAMIC`).
    Dynamic(Option<String>),
    /// It has no `PT_LOAD` segment: nothing to put in memory.
    NoLoadSegment,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NotElf => f.write_str("not an ELF file (no \\x7fELF magic)"),
            Problem::NotElf64(1) => f.write_str("a 32-bit ELF file (ELFCLASS32), not ELF64"),
            Problem::NotElf64(c) => write!(f, "an ELF file of unknown class {c}, not ELF64"),
            Problem::NotLittleEndian(2) => {
                f.write_str("a big-endian ELF file (ELFDATA2MSB), not little-endian")
            }
            Problem::NotLittleEndian(d) => {
                write!(f, "an ELF file of unknown data encoding {d}, not little-endian")
            }
            Problem::Damaged(why) => write!(f, "a damaged ELF file: {why}"),
            Problem::NotExecutable(t) => {
                match elf::FileType(*t) {
                    elf::ET_DYN => f.write_str("a shared object or position-independent executable (ET_DYN)"),
                    elf::ET_REL => f.write_str("a relocatable object file (ET_REL)"),
                    elf::ET_CORE => f.write_str("a core dump (ET_CORE)"),
                    _ => write!(f, "an ELF file of type {t}"),
                }?;
                f.write_str(", not a statically linked executable (ET_EXEC)")
            }
            Problem::WrongMachine { file: Some(arch), machine, wanted } => write!(
                f,
                "an ELF file for {arch} (e_machine {machine}), not {wanted}: run it with --arch {arch}"
            ),
            Problem::WrongMachine { file: None, machine, wanted } => write!(
                f,
                "an ELF file for machine {machine}, not {wanted} (e_machine {})",
                machine_of(*wanted)
            ),
            Problem::Dynamic(Some(interpreter)) => write!(
                f,
                "dynamically linked (PT_INTERP {interpreter}): the root task must be statically linked"
            ),
            Problem::Dynamic(None) => {
                f.write_str("dynamically linked (PT_DYNAMIC): the root task must be statically linked")
            }
            Problem::NoLoadSegment => f.write_str("no PT_LOAD segment: nothing to load"),
        }
    }
}

/// What a checked root task looks like, for the line `run` prints about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootTaskElf {
    /// Its entry point.
    pub entry: u64,
    /// How many `PT_LOAD` segments it has.
    pub segments: usize,
    /// The lowest and the end of the highest address its segments occupy.
    pub span: (u64, u64),
}

/// `e_machine` of each of the kernel's architectures.
fn machine_of(arch: Arch) -> u16 {
    match arch {
        Arch::X86_64 => elf::EM_X86_64.0,
        Arch::Riscv64 => elf::EM_RISCV.0,
    }
}

/// Checks that `data` can be the root task on `arch`: a statically linked ELF64 little-endian
/// executable (`ET_EXEC`) for `arch`'s machine with at least one `PT_LOAD` segment.
pub fn check_root_task(data: &[u8], arch: Arch) -> Result<RootTaskElf, Problem> {
    if data.get(..4) != Some(&elf::ELFMAG[..]) {
        return Err(Problem::NotElf);
    }
    let damaged = |e: object::read::Error| Problem::Damaged(e.to_string());
    // The header as ELF64 little-endian before its class and encoding are checked, to say which
    // of them is wrong; `parse` below checks the rest of the identification.
    let header: &FileHeader64<LittleEndian> =
        data.read_at(0).map_err(|()| Problem::Damaged("the file ends inside its ELF header".into()))?;
    let ident = header.e_ident();
    if ident.class != elf::ELFCLASS64 {
        return Err(Problem::NotElf64(ident.class.0));
    }
    if ident.data != elf::ELFDATA2LSB {
        return Err(Problem::NotLittleEndian(ident.data.0));
    }
    let header = FileHeader64::<LittleEndian>::parse(data).map_err(damaged)?;
    let endian = LittleEndian;
    let file_type = header.e_type(endian);
    if file_type != elf::ET_EXEC {
        return Err(Problem::NotExecutable(file_type.0));
    }
    let machine = header.e_machine(endian).0;
    if machine != machine_of(arch) {
        let file = [Arch::X86_64, Arch::Riscv64].into_iter().find(|&a| machine_of(a) == machine);
        return Err(Problem::WrongMachine { file, machine, wanted: arch });
    }
    let segments = header.program_headers(endian, data).map_err(damaged)?;
    if let Some(interp) = segments.iter().find(|s| s.p_type(endian) == elf::PT_INTERP) {
        let path = interp.interpreter(endian, data).ok().flatten();
        return Err(Problem::Dynamic(path.map(|p| String::from_utf8_lossy(p).into_owned())));
    }
    if segments.iter().any(|s| s.p_type(endian) == elf::PT_DYNAMIC) {
        return Err(Problem::Dynamic(None));
    }
    let loads = segments.iter().filter(|s| s.p_type(endian) == elf::PT_LOAD);
    let span = loads.clone().fold(None, |span: Option<(u64, u64)>, s| {
        let start = s.p_vaddr(endian);
        let end = start.saturating_add(s.p_memsz(endian));
        Some(span.map_or((start, end), |(lo, hi)| (lo.min(start), hi.max(end))))
    });
    let Some(span) = span else { return Err(Problem::NoLoadSegment) };
    Ok(RootTaskElf { entry: header.e_entry(endian), segments: loads.count(), span })
}

/// Reads the file at `path` and checks it can be the root task on `arch` ([`check_root_task`]);
/// returns its absolute path (which the kernel's build script reads) and what it looks like.
pub fn check_root_task_file(path: &Path, arch: Arch) -> anyhow::Result<(PathBuf, RootTaskElf)> {
    let shown = path.display();
    let data = std::fs::read(path).map_err(|e| anyhow!("--root-task {shown}: cannot read it: {e}"))?;
    let elf = check_root_task(&data, arch).map_err(|why| anyhow!("--root-task {shown}: {why}"))?;
    let absolute =
        std::fs::canonicalize(path).map_err(|e| anyhow!("--root-task {shown}: cannot resolve it: {e}"))?;
    Ok((absolute, elf))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PT_LOAD: u32 = 1;
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    const PT_NOTE: u32 = 4;

    /// A little-endian ELF64 file: the 64-byte header, then one 56-byte program header per
    /// `(p_type, p_vaddr, p_memsz)`, then the interpreter's path if a `PT_INTERP` is among them.
    fn elf(e_type: u16, machine: u16, segments: &[(u32, u64, u64)]) -> Vec<u8> {
        const INTERP: &[u8] = b"/lib/ld-test.so\0";
        let interp_at = 64 + 56 * segments.len() as u64;
        let mut b = Vec::new();
        b.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&e_type.to_le_bytes());
        b.extend_from_slice(&machine.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes()); // e_version
        b.extend_from_slice(&0x40_1000u64.to_le_bytes()); // e_entry
        b.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
        b.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        b.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        for half in [64u16, 56, segments.len() as u16, 64, 0, 0] {
            b.extend_from_slice(&half.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
        }
        assert_eq!(b.len(), 64);
        for &(p_type, vaddr, memsz) in segments {
            let (offset, filesz) =
                if p_type == PT_INTERP { (interp_at, INTERP.len() as u64) } else { (0, 0) };
            b.extend_from_slice(&p_type.to_le_bytes());
            b.extend_from_slice(&5u32.to_le_bytes()); // p_flags: R X
            for word in [offset, vaddr, vaddr, filesz, memsz, 0x1000] {
                b.extend_from_slice(&word.to_le_bytes()); // offset, vaddr, paddr, filesz, memsz, align
            }
        }
        b.extend_from_slice(INTERP);
        b
    }

    const EXEC: u16 = 2;
    const X86: u16 = 62;
    const RISCV: u16 = 243;

    #[test]
    fn a_static_executable_for_the_arch_is_accepted() {
        let file =
            elf(EXEC, X86, &[(PT_LOAD, 0x40_0000, 0x2000), (PT_NOTE, 0, 0), (PT_LOAD, 0x50_0000, 0x800)]);
        let task = check_root_task(&file, Arch::X86_64).unwrap();
        assert_eq!(task, RootTaskElf { entry: 0x40_1000, segments: 2, span: (0x40_0000, 0x50_0800) });
        let file = elf(EXEC, RISCV, &[(PT_LOAD, 0x1_0000, 0x1000)]);
        assert_eq!(check_root_task(&file, Arch::Riscv64).unwrap().segments, 1);
    }

    #[test]
    fn text_and_short_files_are_not_elf() {
        assert_eq!(check_root_task(b"#!/bin/sh\necho hello\n", Arch::X86_64), Err(Problem::NotElf));
        assert_eq!(check_root_task(b"", Arch::X86_64), Err(Problem::NotElf));
        assert_eq!(check_root_task(b"\x7fEL", Arch::X86_64), Err(Problem::NotElf));
        let err = check_root_task(b"\x7fELF\x02\x01", Arch::X86_64).unwrap_err();
        assert!(matches!(err, Problem::Damaged(_)), "{err:?}");
    }

    #[test]
    fn elf32_and_big_endian_are_refused() {
        let mut file = elf(EXEC, X86, &[(PT_LOAD, 0x40_0000, 0x1000)]);
        file[4] = 1;
        assert_eq!(check_root_task(&file, Arch::X86_64), Err(Problem::NotElf64(1)));
        assert!(Problem::NotElf64(1).to_string().contains("ELFCLASS32"));
        file[4] = 2;
        file[5] = 2;
        assert_eq!(check_root_task(&file, Arch::X86_64), Err(Problem::NotLittleEndian(2)));
        assert!(Problem::NotLittleEndian(2).to_string().contains("big-endian"));
    }

    #[test]
    fn only_et_exec_is_accepted() {
        for (e_type, says) in [(3, "ET_DYN"), (1, "ET_REL"), (4, "ET_CORE"), (0, "of type 0, not")] {
            let file = elf(e_type, X86, &[(PT_LOAD, 0x40_0000, 0x1000)]);
            let err = check_root_task(&file, Arch::X86_64).unwrap_err();
            assert_eq!(err, Problem::NotExecutable(e_type));
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn the_machine_must_be_the_chosen_arch() {
        let riscv = elf(EXEC, RISCV, &[(PT_LOAD, 0x1_0000, 0x1000)]);
        let err = check_root_task(&riscv, Arch::X86_64).unwrap_err();
        assert_eq!(
            err,
            Problem::WrongMachine { file: Some(Arch::Riscv64), machine: 243, wanted: Arch::X86_64 }
        );
        assert!(
            err.to_string().contains("for riscv64 (e_machine 243), not x86_64: run it with --arch riscv64")
        );
        let x86 = elf(EXEC, X86, &[(PT_LOAD, 0x40_0000, 0x1000)]);
        let err = check_root_task(&x86, Arch::Riscv64).unwrap_err();
        assert!(err.to_string().contains("for x86_64 (e_machine 62), not riscv64"), "{err}");
        let aarch64 = elf(EXEC, 183, &[(PT_LOAD, 0x40_0000, 0x1000)]);
        let err = check_root_task(&aarch64, Arch::X86_64).unwrap_err();
        assert_eq!(err.to_string(), "an ELF file for machine 183, not x86_64 (e_machine 62)");
    }

    #[test]
    fn dynamically_linked_files_are_refused() {
        let file = elf(EXEC, X86, &[(PT_INTERP, 0, 0), (PT_LOAD, 0x40_0000, 0x1000), (PT_DYNAMIC, 0, 0)]);
        let err = check_root_task(&file, Arch::X86_64).unwrap_err();
        assert_eq!(err, Problem::Dynamic(Some("/lib/ld-test.so".into())));
        assert!(err.to_string().starts_with("dynamically linked (PT_INTERP /lib/ld-test.so)"), "{err}");
        let file = elf(EXEC, X86, &[(PT_LOAD, 0x40_0000, 0x1000), (PT_DYNAMIC, 0, 0)]);
        assert_eq!(check_root_task(&file, Arch::X86_64), Err(Problem::Dynamic(None)));
    }

    #[test]
    fn a_file_with_nothing_to_load_is_refused() {
        let file = elf(EXEC, X86, &[(PT_NOTE, 0, 0)]);
        assert_eq!(check_root_task(&file, Arch::X86_64), Err(Problem::NoLoadSegment));
        assert_eq!(check_root_task(&elf(EXEC, X86, &[]), Arch::X86_64), Err(Problem::NoLoadSegment));
    }

    #[test]
    fn program_headers_past_the_end_are_damage() {
        let mut file = elf(EXEC, X86, &[(PT_LOAD, 0x40_0000, 0x1000)]);
        file.truncate(64 + 20);
        let err = check_root_task(&file, Arch::X86_64).unwrap_err();
        assert!(matches!(err, Problem::Damaged(_)), "{err:?}");
        let file = elf(EXEC, X86, &[(PT_LOAD, 0x40_0000, 0x1000)]);
        assert!(matches!(check_root_task(&file[..40], Arch::X86_64), Err(Problem::Damaged(_))));
    }

    #[test]
    fn the_test_binary_itself_is_no_root_task() {
        // A real ELF at hand on every host: this test program, linked for Linux as a PIE.
        let me = std::env::current_exe().unwrap();
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            let err = check_root_task_file(&me, Arch::X86_64).unwrap_err().to_string();
            assert!(err.contains("ET_DYN") || err.contains("dynamically linked"), "{err}");
            let err = check_root_task_file(&me, Arch::Riscv64).unwrap_err().to_string();
            assert!(err.contains("ET_DYN") || err.contains("for x86_64"), "{err}");
        }
    }

    #[test]
    fn missing_files_and_directories_cannot_be_read() {
        let err = check_root_task_file(Path::new("/no/such/root-task"), Arch::X86_64).unwrap_err();
        assert!(err.to_string().starts_with("--root-task /no/such/root-task: cannot read it: "), "{err}");
        let dir = std::env::temp_dir();
        let err = check_root_task_file(&dir, Arch::X86_64).unwrap_err();
        assert!(err.to_string().contains("cannot read it"), "{err}");
    }

    #[test]
    fn the_sel4test_drivers_pass_when_at_hand() {
        // seL4's test driver, built from seL4's sources (shared/ beside the repository).
        let dir = crate::util::root().join("../shared/sel4test");
        for arch in [Arch::X86_64, Arch::Riscv64] {
            let driver = dir.join(arch.name()).join("sel4test-driver");
            if !driver.is_file() {
                eprintln!("{} not at hand: not checked", driver.display());
                continue;
            }
            let (absolute, task) = check_root_task_file(&driver, arch).unwrap();
            assert!(absolute.is_absolute());
            assert!(task.segments > 0);
            let other = if arch == Arch::X86_64 { Arch::Riscv64 } else { Arch::X86_64 };
            let err = check_root_task_file(&driver, other).unwrap_err().to_string();
            assert!(err.contains(&format!("run it with --arch {arch}")), "{err}");
        }
    }
}
