//! The model checkers' speed group: states per second of `metagears::mc` and stateright on the
//! fixed dining philosophers, from one release run of the philosophers' speed test (wall clock,
//! not callgrind: a figure and a ratio, never asserted).

use std::fmt::Write as _;
use std::process::Command;

use anyhow::bail;

use super::Ran;
use crate::util;

/// A group that runs the philosophers' speed test and tabulates its figures.
#[derive(Debug)]
pub struct Speed {
    /// The name on the command line (`cargo xtask bench <name>`).
    pub name: &'static str,
    /// What the group measures.
    pub title: &'static str,
    /// How many philosophers the figures are taken on (`GEARS_PHILOSOPHERS`).
    pub philosophers: &'static str,
}

/// One `figure|checker|model|threads|states|seconds` line of the philosophers' speed test.
#[derive(Clone, Debug, PartialEq)]
pub struct SpeedFigure {
    /// Which checker and search.
    pub checker: String,
    /// Which model of the philosophers: the seL4 gears or the abstract one.
    pub model: String,
    /// Worker threads.
    pub threads: usize,
    /// Distinct states found.
    pub states: u64,
    /// Wall-clock seconds.
    pub secs: f64,
}

impl SpeedFigure {
    /// Parses a `figure|…` line; `None` for any other line.
    pub fn parse(line: &str) -> Option<SpeedFigure> {
        let mut f = line.trim().strip_prefix("figure|")?.split('|');
        let (checker, model) = (f.next()?.to_string(), f.next()?.to_string());
        let threads = f.next()?.parse().ok()?;
        let states = f.next()?.parse().ok()?;
        let secs = f.next()?.parse().ok()?;
        Some(SpeedFigure { checker, model, threads, states, secs })
    }

    /// States per second.
    pub fn rate(&self) -> f64 {
        self.states as f64 / self.secs.max(1e-9)
    }
}

impl Speed {
    /// What `--list` prints for the group.
    pub fn list(&self) -> String {
        format!("{}: {}\n", self.name, self.title)
    }

    /// Runs the philosophers' speed test in release mode and tabulates its figures.
    pub fn run(&self) -> anyhow::Result<Ran> {
        let mut cmd = Command::new(util::cargo_bin());
        cmd.current_dir(util::root()).env("GEARS_PHILOSOPHERS", self.philosophers).args([
            "test",
            "--release",
            "--quiet",
            "-p",
            "gears-tests",
            "--test",
            "mc_philosophers",
            "--",
            "--exact",
            "speed_figures_of_both_checkers",
            "--nocapture",
            "--test-threads=1",
        ]);
        let out = util::output(&mut cmd)?;
        let figures: Vec<SpeedFigure> = out.lines().filter_map(SpeedFigure::parse).collect();
        if figures.is_empty() {
            bail!("the philosophers' speed test printed no figures");
        }
        Ok(Ran { table: table(&figures), summary: self.name.to_string(), incomplete: None })
    }
}

/// The table of the philosophers' figures, each with its ratio to stateright on one thread.
pub fn table(figures: &[SpeedFigure]) -> String {
    let base =
        figures.iter().find(|f| f.checker.starts_with("stateright") && f.threads == 1).map(SpeedFigure::rate);
    let mut t = String::from(
        "\nmodel checking the fixed dining philosophers: states per second (wall clock, one run on this \
         machine, release build; a figure, never asserted)\n\n\
         | checker | model | threads | distinct states | seconds | states/s | vs stateright, 1 thread |\n\
         |---|---|--:|--:|--:|--:|--:|\n",
    );
    for f in figures {
        let ratio = base.map_or("-".to_string(), |b| format!("{:.2}x", f.rate() / b));
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {:.4} | {:.0} | {ratio} |",
            f.checker,
            f.model,
            f.threads,
            f.states,
            f.secs,
            f.rate()
        );
    }
    t.push_str(
        "\nBoth checkers explore the same abstract model (every count is asserted equal by the test); \
         `seL4 gears` is our checker running every system call on the real codegears gears.\n",
    );
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn philosophers_figures_are_parsed_and_tabulated() {
        let f = SpeedFigure::parse("figure|stateright BFS|abstract|1|39058|0.5").unwrap();
        assert_eq!((f.threads, f.states, f.rate()), (1, 39058, 78116.0));
        assert_eq!(SpeedFigure::parse("test speed ... ok"), None);
        let g = SpeedFigure::parse("figure|metagears::mc BFS|seL4 gears|2|39058|2.0").unwrap();
        let t = table(&[f, g]);
        assert!(t.contains("| stateright BFS | abstract | 1 | 39058 | 0.5000 | 78116 | 1.00x |"), "{t}");
        assert!(t.contains("| metagears::mc BFS | seL4 gears | 2 | 39058 | 2.0000 | 19529 | 0.25x |"), "{t}");
    }
}
