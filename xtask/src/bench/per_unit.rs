//! Callgrind per-unit groups: each workload at two sizes N1 < N2, (Ir(N2) − Ir(N1)) / (N2 − N1)
//! instructions per unit, compared with baseline workloads and, if the group has one, an aim.

use std::fmt::Write as _;

use anyhow::{Context as _, bail};

use super::Ran;
use super::workbench::Workbench;
use crate::callgrind;

/// A group of workloads measured in the same unit and compared with each other.
#[derive(Debug)]
pub struct PerUnit {
    /// The name on the command line (`cargo xtask bench <name>`).
    pub name: &'static str,
    /// What the group measures.
    pub title: &'static str,
    /// The unit of work N counts (`transition`, `capability`, `round trip`…).
    pub unit: &'static str,
    /// The two sizes N1 < N2.
    pub sizes: (u64, u64),
    /// The workloads the others are compared with (a ratio column each).
    pub baselines: &'static [&'static str],
    /// Whether every workload must print the same result for the same N (a check that they do the
    /// same work).
    pub same_result: bool,
    /// The workloads: name in `gears-bench`, and what it is.
    pub workloads: &'static [(&'static str, &'static str)],
    /// The target the group is measured against, if any.
    pub aim: Option<Aim>,
    /// Count only inside functions matching this callgrind `--toggle-collect` pattern (so set-up
    /// such as building a derivation tree is not counted); `None` counts the whole run.
    pub collect: Option<&'static str>,
    /// Whether the units of work are what each workload prints (e.g. the distinct states a
    /// bounded model-checking run reached) rather than N.
    pub units_from_result: bool,
}

/// A target: `workload` within `max_ratio` times `baseline`.
#[derive(Debug)]
pub struct Aim {
    /// The workload the aim is about.
    pub workload: &'static str,
    /// The workload it is measured against.
    pub baseline: &'static str,
    /// The largest acceptable ratio to the baseline.
    pub max_ratio: f64,
}

/// One workload's measurement.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// The workload's name.
    pub workload: &'static str,
    /// Total instructions at N1 and N2.
    pub ir: (u64, u64),
    /// What the workload printed at N1 and N2.
    pub result: (String, String),
    /// Instructions per unit.
    pub per_unit: f64,
}

impl PerUnit {
    /// What `--list` prints for the group: its line, then one per workload.
    pub fn list(&self) -> String {
        let mut s = format!(
            "{}: {} (per {}, N = {} and {})\n",
            self.name, self.title, self.unit, self.sizes.0, self.sizes.1
        );
        for (w, what) in self.workloads {
            let _ = writeln!(s, "    {w:<16} {what}");
        }
        s
    }

    /// Measures every workload and tabulates them.
    pub fn run(&self, bench: &mut Workbench) -> anyhow::Result<Ran> {
        let measured = self.measure_all(bench)?;
        Ok(Ran { table: self.table(&measured), summary: self.summary(&measured), incomplete: None })
    }

    /// Measures every workload at both sizes; fails if the group wants the same result from each
    /// and they differ.
    pub fn measure_all(&self, bench: &mut Workbench) -> anyhow::Result<Vec<Measured>> {
        let measured =
            self.workloads.iter().map(|(w, _)| self.measure(bench, w)).collect::<anyhow::Result<Vec<_>>>()?;
        if self.same_result {
            check_same_result(&measured)?;
        }
        Ok(measured)
    }

    fn measure(&self, bench: &mut Workbench, workload: &'static str) -> anyhow::Result<Measured> {
        let (n1, n2) = self.sizes;
        let (ir1, r1) = bench.count(workload, n1, self.collect)?;
        let (ir2, r2) = bench.count(workload, n2, self.collect)?;
        let (u1, u2) = if self.units_from_result {
            let units = |r: &str| {
                r.parse::<u64>()
                    .with_context(|| format!("workload `{workload}` printed `{r}`, not a count of units"))
            };
            (units(&r1)?, units(&r2)?)
        } else {
            (n1, n2)
        };
        let per_unit =
            callgrind::per_unit(u1, ir1, u2, ir2).with_context(|| format!("workload `{workload}`"))?;
        Ok(Measured { workload, ir: (ir1, ir2), result: (r1, r2), per_unit })
    }

    /// The group's name, with the aim's ratio and verdict if it has an aim.
    pub fn summary(&self, measured: &[Measured]) -> String {
        match self.aim_verdict(measured) {
            Some((ratio, met)) => {
                format!("{} ({ratio:.2}x, aim {})", self.name, if met { "met" } else { "NOT met" })
            }
            None => self.name.to_string(),
        }
    }

    /// The ratio of the aim's workload to the baseline, and whether it is within the aim.
    fn aim_verdict(&self, measured: &[Measured]) -> Option<(f64, bool)> {
        let aim = self.aim.as_ref()?;
        let ratio = ratio(measured, aim.baseline, aim.workload)?;
        Some((ratio, ratio <= aim.max_ratio))
    }

    /// The table of the group, as printed (Markdown).
    pub fn table(&self, measured: &[Measured]) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "\n## {}: {}", self.name, self.title);
        let _ = writeln!(
            s,
            "instructions per {} = (Ir(N2) - Ir(N1)) / ({}), callgrind, N1 = {}, N2 = {}\n",
            self.unit,
            if self.units_from_result { "units reached at N2 - units reached at N1" } else { "N2 - N1" },
            self.sizes.0,
            self.sizes.1
        );
        let col = format!("Ir/{}", self.unit);
        let width = col.len().max(10);
        let vs: Vec<String> = self.baselines.iter().map(|b| format!("vs {b}")).collect();
        let _ = write!(s, "| {:<16} | {col:>width$} |", "workload");
        for v in &vs {
            let _ = write!(s, " {v:>9} |");
        }
        let _ = writeln!(s, " what");
        let _ = write!(s, "|{:-<18}|{:->w1$}:|", "", "", w1 = width + 1);
        for v in &vs {
            let _ = write!(s, "{:->w$}:|", "", w = v.len().max(9) + 1);
        }
        let _ = writeln!(s, "---");
        for m in measured {
            let what = self.workloads.iter().find(|(w, _)| *w == m.workload).map(|(_, d)| *d).unwrap_or("");
            let _ = write!(s, "| {:<16} | {:>width$.2} |", m.workload, m.per_unit);
            for (b, v) in self.baselines.iter().zip(&vs) {
                let cell = ratio(measured, b, m.workload).map(|r| format!("{r:.2}x")).unwrap_or("-".into());
                let _ = write!(s, " {cell:>w$} |", w = v.len().max(9));
            }
            let _ = writeln!(s, " {what}");
        }
        if let Some(aim) = &self.aim {
            let verdict = match self.aim_verdict(measured) {
                Some((r, met)) => format!("{} ({r:.2}x)", if met { "MET" } else { "NOT MET" }),
                None => "not measured".to_string(),
            };
            let _ = writeln!(
                s,
                "\naim: `{}` within {:.1}x of `{}`: {verdict}",
                aim.workload, aim.max_ratio, aim.baseline
            );
        }
        s
    }
}

/// Fails unless every workload printed the same result at each size.
fn check_same_result(measured: &[Measured]) -> anyhow::Result<()> {
    if measured.iter().any(|m| m.result != measured[0].result) {
        let got: Vec<_> = measured.iter().map(|m| format!("{} → {:?}", m.workload, m.result)).collect();
        bail!("the workloads disagree on their results, so they do not do the same work: {}", got.join("; "));
    }
    Ok(())
}

fn ratio(measured: &[Measured], baseline: &str, workload: &str) -> Option<f64> {
    let base = measured.iter().find(|m| m.workload == baseline)?.per_unit;
    let w = measured.iter().find(|m| m.workload == workload)?.per_unit;
    (base > 0.0).then(|| w / base)
}

#[cfg(test)]
mod tests {
    use super::super::{GROUPS, Group};
    use super::*;

    fn m(workload: &'static str, per_unit: f64) -> Measured {
        Measured { workload, ir: (0, 0), result: ("1".into(), "2".into()), per_unit }
    }

    fn dispatcher() -> &'static PerUnit {
        match &GROUPS[0] {
            Group::PerUnit(g) if g.name == "dispatcher" => g,
            other => panic!("the first group is not the dispatcher's: {other:?}"),
        }
    }

    #[test]
    fn verdict_and_table() {
        let g = dispatcher();
        let ms = vec![
            m("loop", 4.0),
            m("loop-call", 6.0),
            m("gears", 7.0),
            m("gears-pp-bare", 8.0),
            m("gears-pp", 9.0),
            m("gears-traced", 40.0),
        ];
        assert_eq!(g.aim_verdict(&ms), Some((1.75, true)));
        assert_eq!(g.summary(&ms), "dispatcher (1.75x, aim met)");
        let t = g.table(&ms);
        assert!(t.contains("| gears            |"), "{t}");
        assert!(t.contains("1.75x"), "{t}");
        assert!(t.contains("10.00x"), "{t}");
        assert!(t.contains("aim: `gears` within 2.0x of `loop`: MET (1.75x)"), "{t}");
        let slow = vec![m("loop", 4.0), m("gears", 9.0)];
        assert_eq!(g.aim_verdict(&slow), Some((2.25, false)));
        assert!(g.table(&slow).contains("NOT MET (2.25x)"));
    }

    #[test]
    fn same_result_check() {
        let ok = vec![m("loop", 1.0), m("gears", 2.0)];
        check_same_result(&ok).unwrap();
        let mut bad = ok.clone();
        bad[1].result.1 = "3".into();
        let err = check_same_result(&bad).unwrap_err().to_string();
        assert!(err.contains("disagree"), "{err}");
    }
}
