//! What the callgrind groups share: the `gears-bench` binary, built and checked once, the
//! directory the figures go to, and running a workload under callgrind.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use super::Group;
use crate::{callgrind, setup, util};

/// The bench run's shared state: where tables and callgrind files go, and the bench binary once a
/// group has asked for it.
pub struct Workbench {
    out_dir: PathBuf,
    /// The groups of this run, whose workloads the binary must have.
    groups: Vec<&'static Group>,
    bin: Option<PathBuf>,
}

impl Workbench {
    /// The workbench for a run of `groups`; creates the output directory.
    pub fn new(groups: &[&'static Group]) -> anyhow::Result<Workbench> {
        let out_dir = util::target_dir().join("xtask-bench");
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("could not create {}", out_dir.display()))?;
        Ok(Workbench { out_dir, groups: groups.to_vec(), bin: None })
    }

    /// Where tables and callgrind out files go.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    /// Whether a group ran workloads of the bench binary under callgrind.
    pub fn used_callgrind(&self) -> bool {
        self.bin.is_some()
    }

    /// Writes a group's table to `<out_dir>/<name>.md`.
    pub fn write_table(&self, name: &str, table: &str) -> anyhow::Result<()> {
        let report = self.out_dir.join(format!("{name}.md"));
        std::fs::write(&report, table).with_context(|| format!("could not write {}", report.display()))
    }

    /// The `gears-bench` binary: the first call installs valgrind, builds the binary in release
    /// mode and checks that it has every workload of this run's groups.
    fn bin(&mut self) -> anyhow::Result<PathBuf> {
        if let Some(bin) = &self.bin {
            return Ok(bin.clone());
        }
        setup::ensure_apt_tool("valgrind", "valgrind")?;
        util::cargo(&["build", "--release", "--quiet", "-p", "gears-bench"])?;
        let bin = util::target_dir().join("release").join("gears-bench");
        let known =
            util::output(Command::new(&bin).arg("list")).context("could not list the bench workloads")?;
        check_known(&self.groups, &known)?;
        self.bin = Some(bin.clone());
        Ok(bin)
    }

    /// Runs `gears-bench workload n` under callgrind (counting only inside `collect`'s functions if
    /// given); returns the total Ir and what it printed.
    pub fn count(&mut self, workload: &str, n: u64, collect: Option<&str>) -> anyhow::Result<(u64, String)> {
        let bin = self.bin()?;
        let out_file = self.out_dir.join(format!("{workload}.{n}.callgrind"));
        let mut cmd = Command::new("valgrind");
        cmd.arg("--tool=callgrind")
            .arg("--quiet")
            .arg(format!("--callgrind-out-file={}", out_file.display()));
        if let Some(pattern) = collect {
            cmd.arg(format!("--toggle-collect={pattern}"));
        }
        cmd.arg(bin).arg(workload).arg(n.to_string());
        eprintln!("xtask: $ {}", util::show(&cmd));
        let printed = util::output(&mut cmd)?.trim().to_string();
        let text = std::fs::read_to_string(&out_file)
            .with_context(|| format!("could not read callgrind output {}", out_file.display()))?;
        let ir = callgrind::total_ir(&text).with_context(|| format!("in {}", out_file.display()))?;
        Ok((ir, printed))
    }

    /// Runs `gears-bench workload n` under callgrind, counting only inside `collect`'s functions,
    /// with a dump each time `marker` is entered; returns each gap's instructions (one per dump)
    /// and what the workload printed. The dumps are removed afterwards.
    pub fn count_gaps(
        &mut self,
        workload: &str,
        n: u64,
        collect: &str,
        marker: &str,
    ) -> anyhow::Result<(Vec<u64>, String)> {
        let bin = self.bin()?;
        let dir = self.out_dir.join(format!("{workload}.{n}.gaps"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("could not clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
        let mut cmd = Command::new("valgrind");
        cmd.arg("--tool=callgrind")
            .arg("--quiet")
            .arg(format!("--callgrind-out-file={}", dir.join("cg").display()))
            .arg("--collect-atstart=no")
            .arg(format!("--dump-before={marker}"))
            .arg(format!("--toggle-collect={collect}"));
        cmd.arg(bin).arg(workload).arg(n.to_string());
        eprintln!("xtask: $ {}", util::show(&cmd));
        let printed = util::output(&mut cmd)?.trim().to_string();
        let mut gaps = Vec::new();
        for entry in std::fs::read_dir(&dir).with_context(|| format!("could not read {}", dir.display()))? {
            let path = entry?.path();
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("could not read {}", path.display()))?;
            gaps.push(callgrind::total_ir(&text).with_context(|| format!("in {}", path.display()))?);
        }
        std::fs::remove_dir_all(&dir).with_context(|| format!("could not remove {}", dir.display()))?;
        if gaps.len() < 2 {
            bail!("workload `{workload}` never reached `{marker}`: no gaps to measure");
        }
        Ok((gaps, printed))
    }
}

/// Fails if a group names a workload the bench binary does not have (`gears-bench list` prints
/// `<group> <workload>` lines).
pub fn check_known(groups: &[&Group], listed: &str) -> anyhow::Result<()> {
    let known: Vec<&str> = listed.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    for g in groups {
        for (w, _) in g.workloads() {
            if !known.contains(w) {
                bail!("bench group `{}` names workload `{w}`, which gears-bench does not have", g.name());
            }
        }
    }
    Ok(())
}
