//! Idempotent set-up: rustup targets and components, and tools from Debian packages.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};

use crate::util;

/// The bare-metal targets the kernel is built for.
pub const TARGETS: &[&str] = &["x86_64-unknown-none", "riscv64gc-unknown-none-elf"];

/// The rustup components the project needs: `rust-src` and `llvm-tools` for the bootloader's
/// image builder, `clippy` and `rustfmt` for the checks.
pub const COMPONENTS: &[&str] = &["rust-src", "llvm-tools", "clippy", "rustfmt"];

/// The tools from Debian packages that some subcommand needs: (binary, package, what for).
pub const APT_TOOLS: &[(&str, &str, &str)] = &[
    ("valgrind", "valgrind", "cargo xtask bench"),
    ("qemu-system-x86_64", "qemu-system-x86", "cargo xtask run/test (x86_64)"),
    ("qemu-system-riscv64", "qemu-system-misc", "cargo xtask run/test (riscv64)"),
];

/// Installs the missing rustup targets and components; quiet when nothing is missing.
///
/// Returns what it installed, as a phrase (empty if nothing).
pub fn rust_toolchain() -> anyhow::Result<String> {
    if util::which("rustup").is_none() {
        bail!(
            "rustup not found on PATH: this project needs rustup to add the targets {} and the \
             components {} (see https://rustup.rs)",
            TARGETS.join(", "),
            COMPONENTS.join(", ")
        );
    }
    let targets = rustup(&["target", "list", "--installed"])?;
    let missing_t = missing_targets(&targets, TARGETS);
    let components = rustup(&["component", "list", "--installed"])?;
    let missing_c = missing_components(&components, COMPONENTS);

    let mut installed = Vec::new();
    if !missing_t.is_empty() {
        eprintln!("xtask: set-up: installing rustup targets {}", missing_t.join(", "));
        let mut cmd = rustup_cmd();
        cmd.args(["target", "add"]).args(&missing_t);
        util::status(&mut cmd)?;
        installed.push(format!("targets {}", missing_t.join(", ")));
    }
    if !missing_c.is_empty() {
        eprintln!("xtask: set-up: installing rustup components {}", missing_c.join(", "));
        let mut cmd = rustup_cmd();
        cmd.args(["component", "add"]).args(&missing_c);
        util::status(&mut cmd)?;
        installed.push(format!("components {}", missing_c.join(", ")));
    }
    Ok(installed.join(" and "))
}

fn rustup_cmd() -> Command {
    let mut cmd = Command::new("rustup");
    cmd.current_dir(util::root());
    cmd
}

fn rustup(args: &[&str]) -> anyhow::Result<String> {
    util::output(rustup_cmd().args(args))
}

/// The wanted targets absent from `rustup target list --installed` output.
pub fn missing_targets<'a>(installed: &str, wanted: &[&'a str]) -> Vec<&'a str> {
    wanted.iter().copied().filter(|w| !installed.lines().any(|l| l.trim() == *w)).collect()
}

/// The wanted components absent from `rustup component list --installed` output.
///
/// Rustup lists host components with the host triple appended (`clippy-x86_64-unknown-linux-gnu`,
/// `llvm-tools-x86_64-unknown-linux-gnu`, formerly `llvm-tools-preview-…`) and target-independent
/// ones bare (`rust-src`).
pub fn missing_components<'a>(installed: &str, wanted: &[&'a str]) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|w| {
            !installed.lines().map(str::trim).any(|l| {
                l == *w || l.strip_prefix(w).and_then(|rest| rest.strip_prefix('-')).is_some_and(is_suffix_ok)
            })
        })
        .collect()
}

/// What may follow `<component>-` in rustup's list: a target triple, or `preview-<triple>`.
fn is_suffix_ok(rest: &str) -> bool {
    let triple = rest.strip_prefix("preview").map(|r| r.strip_prefix('-').unwrap_or(r)).unwrap_or(rest);
    triple.is_empty() || triple.split('-').count() >= 3
}

static APT_UPDATED: AtomicBool = AtomicBool::new(false);

/// Makes sure `binary` is on `PATH`, installing Debian package `package` with apt-get if not.
///
/// As root it runs `apt-get update` (once per xtask run) and `apt-get install -y <package>`;
/// otherwise it fails with the one command to run.
pub fn ensure_apt_tool(binary: &str, package: &str) -> anyhow::Result<()> {
    if util::which(binary).is_some() {
        return Ok(());
    }
    if !is_root()? {
        bail!("`{binary}` is not installed: run `sudo apt-get install -y {package}`");
    }
    if util::which("apt-get").is_none() {
        bail!("`{binary}` is not installed and there is no apt-get here: install package `{package}`");
    }
    eprintln!("xtask: set-up: `{binary}` is missing; installing Debian package `{package}`");
    if !APT_UPDATED.swap(true, Ordering::SeqCst) {
        let mut cmd = Command::new("apt-get");
        cmd.args(["update", "-q"]).env("DEBIAN_FRONTEND", "noninteractive");
        util::status(&mut cmd)?;
    }
    let mut cmd = Command::new("apt-get");
    cmd.args(["install", "-y", "-q", "--no-install-recommends", package])
        .env("DEBIAN_FRONTEND", "noninteractive");
    util::status(&mut cmd)?;
    if util::which(binary).is_none() {
        bail!("installed `{package}` but `{binary}` is still not on PATH");
    }
    Ok(())
}

fn is_root() -> anyhow::Result<bool> {
    let uid = util::output(Command::new("id").arg("-u")).context("could not ask `id -u`")?;
    Ok(uid.trim() == "0")
}

/// Says which of the tools from Debian packages are present (installs nothing).
pub fn report_tools() {
    for (binary, package, what) in APT_TOOLS {
        match util::which(binary) {
            Some(path) => eprintln!("xtask: {binary}: {} (for {what})", path.display()),
            None => eprintln!(
                "xtask: {binary}: missing (for {what}); installed on first use, or run \
                 `apt-get install -y {package}`"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPONENTS_LIST: &str = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\n\
        rust-docs-x86_64-unknown-linux-gnu\nrust-std-x86_64-unknown-linux-gnu\n\
        rustc-x86_64-unknown-linux-gnu\nrustfmt-x86_64-unknown-linux-gnu\n";

    #[test]
    fn finds_missing_components() {
        assert_eq!(missing_components(COMPONENTS_LIST, COMPONENTS), vec!["rust-src", "llvm-tools"]);
        let all = format!("{COMPONENTS_LIST}rust-src\nllvm-tools-x86_64-unknown-linux-gnu\n");
        assert!(missing_components(&all, COMPONENTS).is_empty());
        let old = format!("{COMPONENTS_LIST}rust-src\nllvm-tools-preview-x86_64-unknown-linux-gnu\n");
        assert!(missing_components(&old, COMPONENTS).is_empty());
    }

    #[test]
    fn rust_std_is_not_rust_src() {
        assert_eq!(
            missing_components("rust-std-x86_64-unknown-linux-gnu\n", &["rust-src"]),
            vec!["rust-src"]
        );
        // `rust` must not be taken as present because `rust-src` is.
        assert_eq!(missing_components("rust-src\n", &["rust"]), vec!["rust"]);
    }

    #[test]
    fn a_present_tool_needs_nothing() {
        ensure_apt_tool("sh", "dash").unwrap();
    }

    #[test]
    fn finds_missing_targets() {
        let list = "x86_64-unknown-linux-gnu\nx86_64-unknown-none\n";
        assert_eq!(missing_targets(list, TARGETS), vec!["riscv64gc-unknown-none-elf"]);
        assert!(missing_targets("riscv64gc-unknown-none-elf\nx86_64-unknown-none\n", TARGETS).is_empty());
    }
}
