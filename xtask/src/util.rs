//! Small helpers: the workspace root, running commands, finding programs.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ has a parent").to_path_buf()
}

/// The cargo target directory: `$CARGO_TARGET_DIR`, else `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { root().join(dir) }
        }
        _ => root().join("target"),
    }
}

/// The cargo that runs us (`$CARGO`), else `cargo` from `PATH`.
pub fn cargo_bin() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// Runs cargo with `args` in the workspace root, echoing the command; fails if it fails.
pub fn cargo(args: &[&str]) -> anyhow::Result<()> {
    let mut cmd = Command::new(cargo_bin());
    cmd.args(args).current_dir(root());
    status(&mut cmd)
}

/// What `cargo test` reported, added up over its test binaries.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct TestCounts {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests that were ignored.
    pub ignored: u64,
}

impl TestCounts {
    /// Adds the counts of one `test result: …` line of libtest; other lines change nothing.
    pub fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else { return };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(n)) = (words.next(), words.next()) else { continue };
            let Ok(n) = n.parse::<u64>() else { continue };
            match what {
                "passed" => self.passed += n,
                "failed" => self.failed += n,
                "ignored" => self.ignored += n,
                _ => {}
            }
        }
    }
}

/// Runs `cargo <args>` (a `cargo test`) in the workspace root, passing its output through, and
/// prints the total `N passed, N failed` over all its test binaries; fails if cargo fails.
pub fn cargo_test(args: &[&str]) -> anyhow::Result<TestCounts> {
    use std::io::{BufRead, BufReader};
    let mut cmd = Command::new(cargo_bin());
    cmd.args(args).current_dir(root()).stdout(std::process::Stdio::piped());
    let shown = show(&cmd);
    eprintln!("xtask: $ {shown}");
    let mut child = cmd.spawn().with_context(|| format!("could not start `{shown}`"))?;
    let mut counts = TestCounts::default();
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line.with_context(|| format!("reading the output of `{shown}`"))?;
            println!("{line}");
            counts.add_line(&line);
        }
    }
    let st = child.wait().with_context(|| format!("waiting for `{shown}`"))?;
    println!("\nxtask: {} passed, {} failed", counts.passed, counts.failed);
    if !st.success() {
        bail!("`{shown}` failed ({st}): {} passed, {} failed", counts.passed, counts.failed);
    }
    Ok(counts)
}

/// Runs `cmd`, echoing it first, and fails if it does not exit 0.
pub fn status(cmd: &mut Command) -> anyhow::Result<()> {
    let shown = show(cmd);
    eprintln!("xtask: $ {shown}");
    let st = cmd.status().with_context(|| format!("could not start `{shown}`"))?;
    if !st.success() {
        bail!("`{shown}` failed ({st})");
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its standard output; fails (with its stderr) if it fails.
pub fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let shown = show(cmd);
    let out = cmd.output().with_context(|| format!("could not start `{shown}`"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!("`{shown}` failed ({}): {}", out.status, err.trim());
    }
    String::from_utf8(out.stdout).with_context(|| format!("`{shown}` printed non-UTF-8"))
}

/// A command as a shell line, for messages.
pub fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&quote(a));
    }
    s
}

fn quote(a: &OsStr) -> String {
    let a = a.to_string_lossy();
    if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c)) {
        a.into_owned()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// The full path of program `name` found on `PATH`, if any.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_commands_shell_quoted() {
        let mut cmd = Command::new("valgrind");
        cmd.args(["--tool=callgrind", "a b", "it's"]);
        assert_eq!(show(&cmd), r"valgrind --tool=callgrind 'a b' 'it'\''s'");
    }

    #[test]
    fn adds_up_test_results() {
        let mut c = TestCounts::default();
        c.add_line(
            "test result: ok. 4 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        );
        c.add_line("test result: FAILED. 1 passed; 4 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.08s");
        c.add_line("test tests::x ... ok");
        c.add_line("running 5 tests");
        assert_eq!(c, TestCounts { passed: 5, failed: 4, ignored: 2 });
    }

    #[test]
    fn finds_sh_but_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-xtask-test").is_none());
    }
}
