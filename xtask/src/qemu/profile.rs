//! Guest-instruction profiles of a kernel under QEMU: the `qemu-tb-profile` plugin
//! (`xtask/qemu-profile`) counts how often each translation block runs, and [`Profile`]
//! attributes the instructions to the kernel ELF's functions by their symbols (the function a
//! block starts in; code inlined into a function counts as that function's).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use object::{Object, ObjectSymbol, SymbolKind};

use crate::util;

/// Where user space ends: a block below this address is the root task's.
const USER_TOP: u64 = 0x0000_8000_0000_0000;

/// Builds the plugin (a host `cdylib`) and gives its path.
pub fn plugin() -> anyhow::Result<PathBuf> {
    util::cargo(&["build", "--quiet", "--release", "-p", "qemu-tb-profile"])
        .context("building the QEMU profiling plugin (xtask/qemu-profile)")?;
    let so = util::target_dir().join("release").join("libqemu_tb_profile.so");
    if !so.is_file() {
        bail!("the QEMU profiling plugin was built but {} is missing", so.display());
    }
    Ok(so)
}

/// QEMU's arguments that load the plugin, writing its counts to `out`.
pub fn plugin_args(so: &Path, out: &Path) -> [String; 2] {
    ["-plugin".to_string(), format!("{},arg=out={}", so.display(), out.display())]
}

/// Guest instructions by kernel function, and those of user space.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    /// Instructions each function executed (blocks that start in it), by name.
    pub functions: HashMap<String, u64>,
    /// Instructions executed in user space.
    pub user: u64,
}

impl Profile {
    /// Reads the plugin's counts (`VADDR INSNS COUNT` lines) and attributes them to the
    /// functions of `elf`, loaded at `base`.
    pub fn read(counts: &str, elf: &[u8], base: u64) -> anyhow::Result<Profile> {
        let file = object::File::parse(elf).context("reading the kernel ELF")?;
        let mut symbols: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
            .filter_map(|s| Some((s.address(), s.size(), s.name().ok()?.to_string())))
            .collect();
        symbols.sort_unstable_by_key(|&(a, ..)| a);
        let mut p = Profile::default();
        for (i, line) in counts.lines().enumerate() {
            let mut words = line.split_whitespace();
            let (Some(v), Some(n), Some(c), None) = (words.next(), words.next(), words.next(), words.next())
            else {
                bail!("line {} of the profile is not `VADDR INSNS COUNT`: {line:?}", i + 1);
            };
            let vaddr = u64::from_str_radix(v, 16).with_context(|| format!("line {}: address", i + 1))?;
            let insns: u64 = n.parse().with_context(|| format!("line {}: instructions", i + 1))?;
            let count: u64 = c.parse().with_context(|| format!("line {}: count", i + 1))?;
            let executed = insns.saturating_mul(count);
            if vaddr < USER_TOP {
                p.user += executed;
                continue;
            }
            let at = vaddr.wrapping_sub(base);
            let name = match symbols.partition_point(|&(a, ..)| a <= at).checked_sub(1) {
                Some(k) if symbols[k].1 == 0 || at < symbols[k].0 + symbols[k].1 => demangle(&symbols[k].2),
                _ => format!("{vaddr:#x} (no symbol)"),
            };
            *p.functions.entry(name).or_default() += executed;
        }
        Ok(p)
    }

    /// Reads the plugin's output file and the kernel ELF.
    pub fn read_files(counts: &Path, elf: &Path, base: u64) -> anyhow::Result<Profile> {
        let text = std::fs::read_to_string(counts)
            .with_context(|| format!("reading the profile {}", counts.display()))?;
        let elf_bytes = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
        Profile::read(&text, &elf_bytes, base)
    }

    /// The kernel's instructions, without the functions named in `leave_out`.
    pub fn kernel_total(&self, leave_out: &[&str]) -> u64 {
        self.functions.iter().filter(|(f, _)| !leave_out.contains(&f.as_str())).map(|(_, &n)| n).sum()
    }

    /// Instructions by module (a function's path up to its last two components: `codegears::mem`
    /// for `codegears::mem::PhysMem::read`), most first, without `leave_out`.
    pub fn by_module(&self, leave_out: &[&str]) -> Vec<(String, u64)> {
        let mut m: HashMap<String, u64> = HashMap::new();
        for (f, &n) in self.functions.iter().filter(|(f, _)| !leave_out.contains(&f.as_str())) {
            *m.entry(module_of(f)).or_default() += n;
        }
        sorted(m.into_iter())
    }

    /// The functions, most instructions first, without `leave_out`.
    pub fn top(&self, leave_out: &[&str]) -> Vec<(String, u64)> {
        sorted(
            self.functions
                .iter()
                .filter(|(f, _)| !leave_out.contains(&f.as_str()))
                .map(|(f, &n)| (f.clone(), n)),
        )
    }
}

fn sorted(it: impl Iterator<Item = (String, u64)>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = it.collect();
    v.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// A Rust symbol's readable path, without its hash (`codegears::mem::PhysMem::read`); other
/// symbols as they are.
fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name))
}

/// The module a function belongs to: `crate::module` for `crate::module::…`; a method of a trait
/// impl (`<codegears::object::ObjMut<T> as core::ops::drop::Drop>::drop`) by its type's path.
fn module_of(f: &str) -> String {
    let path = f.strip_prefix('<').unwrap_or(f);
    let path = path.split([' ', '<', '>']).next().unwrap_or(path);
    let parts: Vec<&str> = path.split("::").collect();
    match parts.as_slice() {
        [a, b, _, ..] => format!("{a}::{b}"),
        _ => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_a_functions_first_two_path_components() {
        assert_eq!(module_of("codegears::mem::PhysMem::read"), "codegears::mem");
        assert_eq!(
            module_of("<codegears::object::ObjMut<T> as core::ops::drop::Drop>::drop"),
            "codegears::object"
        );
        assert_eq!(module_of("gears::dispatch::Dispatcher<C,M>::run"), "gears::dispatch");
        assert_eq!(module_of("memcmp"), "memcmp");
    }

    #[test]
    fn bad_lines_are_errors_and_user_blocks_count_apart() {
        // An ELF with no symbols: every kernel block is "no symbol".
        let elf = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let p = Profile::read("400000 3 10\nffffffff80001000 2 5\n", &elf, crate::qemu::KERNEL_BASE).unwrap();
        assert_eq!(p.user, 30);
        assert_eq!(p.kernel_total(&[]), 10);
        assert!(Profile::read("400000 3\n", &elf, crate::qemu::KERNEL_BASE).is_err());
        assert!(Profile::read("zz 3 1\n", &elf, crate::qemu::KERNEL_BASE).is_err());
    }
}
