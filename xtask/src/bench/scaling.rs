//! Scaling groups: a per-unit group whose workloads are also counted at a row of sizes, each as
//! Ir(N) / N with the figure the workload prints (e.g. the most gears between two preemption
//! chances), to show how the cost per unit grows with N.

use std::fmt::Write as _;

use super::per_unit::PerUnit;
use super::workbench::Workbench;
use super::{Ran, pow2};

/// A per-unit group, and the sizes at which to report Ir(N) / N as well.
#[derive(Debug)]
pub struct Scaling {
    /// The per-unit measurement between two sizes, and the group's workloads and baselines. Its
    /// `collect` pattern should leave set-up out, or Ir(N) / N counts it too.
    pub per_unit: PerUnit,
    /// The sizes of the scaling table.
    pub sizes: &'static [u64],
    /// What each workload prints, shown in brackets beside each figure.
    pub result_label: &'static str,
}

/// One workload measured at each of a group's scaling sizes: (N, Ir(N), what it printed).
#[derive(Clone, Debug, PartialEq)]
pub struct Scaled {
    /// The workload's name.
    pub workload: &'static str,
    /// Each size, the instructions counted at it and what the workload printed.
    pub points: Vec<(u64, u64, String)>,
}

impl Scaling {
    /// The per-unit table, then the scaling table.
    pub fn run(&self, bench: &mut Workbench) -> anyhow::Result<Ran> {
        let g = &self.per_unit;
        let measured = g.measure_all(bench)?;
        let mut table = g.table(&measured);
        let scaled =
            g.workloads.iter().map(|(w, _)| self.scale(bench, w)).collect::<anyhow::Result<Vec<_>>>()?;
        table.push_str(&self.table(&scaled));
        Ok(Ran { table, summary: g.summary(&measured), incomplete: None })
    }

    fn scale(&self, bench: &mut Workbench, workload: &'static str) -> anyhow::Result<Scaled> {
        let points = self
            .sizes
            .iter()
            .map(|&n| bench.count(workload, n, self.per_unit.collect).map(|(ir, r)| (n, ir, r)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Scaled { workload, points })
    }

    /// The scaling table: Ir(N) / N for each size with the printed figure, and each workload's
    /// ratio to each baseline.
    pub fn table(&self, scaled: &[Scaled]) -> String {
        let g = &self.per_unit;
        let mut s = String::new();
        let Some(first) = scaled.first() else { return s };
        let _ = writeln!(
            s,
            "\ninstructions per {} = Ir(N) / N, counted only in `{}`; in brackets: {}\n",
            g.unit,
            g.collect.unwrap_or("the whole run"),
            self.result_label
        );
        let _ = write!(s, "| {:<20} |", "workload \\ N");
        for (n, _, _) in &first.points {
            let _ = write!(s, " {:>12} |", pow2(*n));
        }
        let _ = writeln!(s);
        let _ = write!(s, "|{:-<22}|", "");
        for _ in &first.points {
            let _ = write!(s, "{:->13}:|", "");
        }
        let _ = writeln!(s);
        for w in scaled {
            let _ = write!(s, "| {:<20} |", w.workload);
            for (n, ir, printed) in &w.points {
                let per = *ir as f64 / (*n).max(1) as f64;
                let cell = format!("{per:.1} [{printed}]");
                let _ = write!(s, " {cell:>12} |");
            }
            let _ = writeln!(s);
        }
        for b in g.baselines {
            let Some(base) = scaled.iter().find(|w| w.workload == *b) else { continue };
            for w in scaled.iter().filter(|w| w.workload != *b) {
                let ratios: Vec<String> = w
                    .points
                    .iter()
                    .zip(&base.points)
                    .map(|((n, ir, _), (_, bir, _))| {
                        format!("{}: {:.2}x", pow2(*n), *ir as f64 / (*bir).max(1) as f64)
                    })
                    .collect();
                let _ = writeln!(s, "\n`{}` vs `{b}`: {}", w.workload, ratios.join(", "));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::{GROUPS, Group};
    use super::*;

    #[test]
    fn scaling_table_shows_per_unit_figures_and_ratios() {
        let g = GROUPS
            .iter()
            .find_map(|g| match g {
                Group::Scaling(s) if s.per_unit.name == "revoke" => Some(s),
                _ => None,
            })
            .unwrap();
        let w = |workload, irs: [u64; 2], printed: &str| Scaled {
            workload,
            points: vec![(1024, irs[0], printed.into()), (4096, irs[1], printed.into())],
        };
        let t = g.table(&[
            w("revoke-gears", [2048 * 10, 4096 * 40], "14"),
            w("revoke-plain", [1024 * 10, 4096 * 10], "0"),
        ]);
        assert!(t.contains("| revoke-gears         |    20.0 [14] |    40.0 [14] |"), "{t}");
        assert!(t.contains("`revoke-gears` vs `revoke-plain`: 2^10: 2.00x, 2^12: 4.00x"), "{t}");
        assert!(t.contains("counted only in `*measured_revoke*`"), "{t}");
    }
}
