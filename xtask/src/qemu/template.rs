//! The template root task (`user/template`), built and booted once per arch by `cargo xtask
//! test`, so the README's "Writing your own root task" cannot rot: built as the README says
//! (its own directory, `cargo build --release --target …`; here into `target/template`), checked
//! as `--root-task` checks a file, and run with the debug kernel until it suspends itself.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};

use super::build::{Build, build_image, clear_cargo_env};
use super::command::{MEMORY_MIB, Machine, qemu_command};
use super::root_task::check_root_task_file;
use super::runner::{Follow, Outcome, follow_qemu};
use crate::{Arch, util};

/// How long the template's run may take (it needs a few seconds).
const TIMEOUT: Duration = Duration::from_secs(120);

/// The line the template ends with when everything it did worked, and the mark of a failure.
const DONE: &str = "template: done";
const FAILED: &str = "FAILED";

/// Builds the template for each of `arches` and boots it; fails unless it printed its last line,
/// no failure, and the kernel reported success.
pub fn check_template(arches: &[Arch]) -> anyhow::Result<()> {
    for &arch in arches {
        let elf = build_template(arch)?;
        let (elf, _) = check_root_task_file(&elf, arch)?;
        let build = Build { root_task: Some(&elf), ..Build::debug(arch) };
        let image = build_image(build, false)?;
        let mut cmd = qemu_command(arch, &image, false, Machine::with_memory(MEMORY_MIB))?;
        let mut lines = TemplateLines::default();
        let run = follow_qemu(arch, &mut cmd, Some(TIMEOUT), &mut lines)?;
        if run.outcome != Outcome::Passed {
            bail!("the template root task on {arch}: {}", run.outcome.describe());
        }
        if lines.failed || !lines.done {
            bail!(
                "the template root task on {arch} did not finish its work (a failure, or no `{DONE}` line)"
            );
        }
        println!("xtask: the template root task ran on {arch}");
    }
    Ok(())
}

/// Builds `user/template` for `arch` as the README says; returns its ELF.
fn build_template(arch: Arch) -> anyhow::Result<PathBuf> {
    let dir = util::root().join("user/template");
    let target_dir = util::target_dir().join("template");
    let mut cmd = Command::new(util::cargo_bin());
    cmd.current_dir(&dir)
        .args(["build", "--quiet", "--release", "--target", arch.target(), "--target-dir"])
        .arg(&target_dir);
    // Its own `.cargo/config.toml` applies; nothing of the outer cargo may.
    clear_cargo_env(&mut cmd);
    util::status(&mut cmd).context("building the template root task")?;
    let elf = target_dir.join(arch.target()).join("release/root-task");
    if !elf.is_file() {
        bail!("cargo built the template but {} is missing", elf.display());
    }
    Ok(elf)
}

/// What the template printed: its last line, a failure.
#[derive(Default)]
struct TemplateLines {
    done: bool,
    failed: bool,
}

impl Follow for TemplateLines {
    fn line(&mut self, line: &str) -> bool {
        self.done |= line.starts_with(DONE);
        self.failed |= line.starts_with("template:") && line.contains(FAILED) || line.starts_with("panic:");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_done_at_its_last_line_unless_something_failed() {
        let mut t = TemplateLines::default();
        for line in ["template: hello from the root task", "template: done; suspending the root task"] {
            t.line(line);
        }
        assert!(t.done && !t.failed);
        t.line("template: the notification FAILED: InvalidCapability");
        assert!(t.failed);
        let mut p = TemplateLines::default();
        p.line("panic: panicked at src/main.rs:3:5");
        assert!(p.failed);
    }
}
