//! The ratchet: the tests known to pass on Gears, one list per architecture in the repository
//! (`tests/sel4test/passing-ARCH.txt`), which a run must not fall behind and which only grows.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context as _;

use super::table::{Row, Status};
use crate::{Arch, util};

/// The list's file for `arch`.
pub fn path(arch: Arch) -> PathBuf {
    util::root().join("tests/sel4test").join(format!("passing-{}.txt", arch.name()))
}

/// The names in a list's text: one per line; blank lines and `#` comments are skipped.
pub fn parse(text: &str) -> BTreeSet<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
}

/// A list's text: its header, then the names in order.
pub fn render(arch: Arch, names: &BTreeSet<String>) -> String {
    let mut text = format!(
        "# The tests of seL4's sel4test that pass on Gears on {arch}, one name per line.\n\
         # `cargo xtask test` fails when one of them does not pass. After a change that makes more\n\
         # tests pass, `cargo xtask sel4test --arch {arch} --record` adds them (it never removes a\n\
         # name unless given --prune as well).\n"
    );
    for name in names {
        text.push_str(name);
        text.push('\n');
    }
    text
}

/// Reads `arch`'s list; a missing file is an empty list.
pub fn load(arch: Arch) -> anyhow::Result<BTreeSet<String>> {
    let path = path(arch);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(e).with_context(|| format!("could not read {}", path.display())),
    }
}

/// Writes `arch`'s list.
pub fn store(arch: Arch, names: &BTreeSet<String>) -> anyhow::Result<()> {
    let path = path(arch);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    }
    std::fs::write(&path, render(arch, names)).with_context(|| format!("could not write {}", path.display()))
}

/// A run held against the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Listed tests that did not pass, with what they did instead.
    pub regressed: Vec<(String, Status)>,
    /// Tests that passed and are not listed yet.
    pub new: Vec<String>,
}

/// Holds the run's `rows` against the `listed` tests. A listed test the run does not have at
/// all counts as not run.
pub fn compare(listed: &BTreeSet<String>, rows: &[Row]) -> Comparison {
    let mut c = Comparison::default();
    for name in listed {
        let status =
            rows.iter().find(|r| &r.name == name).map(|r| r.status.clone()).unwrap_or(Status::NotRun);
        if status != Status::Passed {
            c.regressed.push((name.clone(), status));
        }
    }
    for row in rows {
        if row.status == Status::Passed && !listed.contains(&row.name) {
            c.new.push(row.name.clone());
        }
    }
    c
}

/// The list after recording a run: the listed tests plus those that passed; with `prune`, only
/// those that passed.
pub fn recorded(listed: &BTreeSet<String>, rows: &[Row], prune: bool) -> BTreeSet<String> {
    let passed = rows.iter().filter(|r| r.status == Status::Passed).map(|r| r.name.clone());
    if prune { passed.collect() } else { listed.iter().cloned().chain(passed).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, status: Status) -> Row {
        Row { number: None, name: name.to_string(), status, duration: None, in_reference: true }
    }

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_list_reads_back_what_was_written() {
        let names = set(&["CNODEOP0001", "BIND0001"]);
        let text = render(Arch::Riscv64, &names);
        assert!(text.starts_with("# The tests of seL4's sel4test that pass on Gears on riscv64"));
        assert!(text.contains("cargo xtask sel4test --arch riscv64 --record"));
        assert!(text.ends_with("BIND0001\nCNODEOP0001\n"), "{text}");
        assert_eq!(parse(&text), names);
        assert_eq!(parse("# only a header\n\n  \n"), set(&[]));
        assert_eq!(parse("  A  \n#B\nC\n"), set(&["A", "C"]));
    }

    #[test]
    fn listed_tests_must_pass_and_new_ones_are_found() {
        let rows = [
            row("A", Status::Passed),
            row("B", Status::Failed("Error: x".into())),
            row("C", Status::NotRun),
            row("D", Status::Passed),
        ];
        let c = compare(&set(&["A", "B", "C", "GONE"]), &rows);
        assert_eq!(
            c.regressed,
            [
                ("B".to_string(), Status::Failed("Error: x".into())),
                ("C".to_string(), Status::NotRun),
                ("GONE".to_string(), Status::NotRun)
            ]
        );
        assert_eq!(c.new, ["D"]);
        assert_eq!(compare(&set(&["A"]), &rows), Comparison { regressed: vec![], new: vec!["D".into()] });
    }

    #[test]
    fn recording_only_adds_unless_told_to_prune() {
        let rows = [row("A", Status::Passed), row("B", Status::Failed("f".into())), row("D", Status::Passed)];
        assert_eq!(recorded(&set(&["A", "B"]), &rows, false), set(&["A", "B", "D"]));
        assert_eq!(recorded(&set(&["A", "B"]), &rows, true), set(&["A", "D"]));
    }

    #[test]
    fn the_lists_live_under_tests_sel4test() {
        assert!(path(Arch::X86_64).ends_with("tests/sel4test/passing-x86_64.txt"));
        assert!(path(Arch::Riscv64).ends_with("tests/sel4test/passing-riscv64.txt"));
    }
}
