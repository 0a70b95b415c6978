//! Gap groups: the instructions between two preemption chances. The workloads call a marker
//! function at every preemption chance; callgrind dumps its counters each time the marker is
//! entered, counting only inside the measured operation, so each dump is one gap.

use std::fmt::Write as _;

use super::workbench::Workbench;
use super::{Ran, pow2};

/// A group measured gap by gap: the longest and the mean gap of each workload at each size.
#[derive(Debug)]
pub struct Gaps {
    /// The name on the command line (`cargo xtask bench <name>`).
    pub name: &'static str,
    /// What the group measures.
    pub title: &'static str,
    /// The workloads: name in `gears-bench`, and what it is.
    pub workloads: &'static [(&'static str, &'static str)],
    /// The sizes N each workload runs at.
    pub sizes: &'static [u64],
    /// The callgrind `--toggle-collect` pattern of the measured operation: only inside it do
    /// instructions count.
    pub collect: &'static str,
    /// The function the workloads call at every preemption chance.
    pub marker: &'static str,
    /// What each workload prints, shown in brackets beside the longest gap.
    pub result_label: &'static str,
}

impl Gaps {
    /// What `--list` prints for the group: its line, then one per workload.
    pub fn list(&self) -> String {
        let sizes: Vec<String> = self.sizes.iter().map(u64::to_string).collect();
        let (last, rest) = sizes.split_last().map_or(("", &[][..]), |(l, r)| (l.as_str(), r));
        let sizes =
            if rest.is_empty() { last.to_string() } else { format!("{} and {last}", rest.join(", ")) };
        let mut s = format!("{}: {} (per gap, N = {sizes})\n", self.name, self.title);
        for (w, what) in self.workloads {
            let _ = writeln!(s, "    {w:<16} {what}");
        }
        s
    }

    /// The longest and the mean gap between preemption chances of each workload at each size.
    pub fn run(&self, bench: &mut Workbench) -> anyhow::Result<Ran> {
        let mut s = String::new();
        let _ = writeln!(s, "\n## {}: {}", self.name, self.title);
        let _ = writeln!(
            s,
            "instructions per gap: callgrind dumps its counters at each `{}`, counting only in `{}`; \
             in brackets: {}\n",
            self.marker, self.collect, self.result_label
        );
        let _ = writeln!(
            s,
            "| {:<14} | {:>8} | {:>14} | {:>10} | {:>10} |",
            "workload", "N", "longest gap", "mean gap", "gaps"
        );
        let _ = writeln!(s, "|{:-<16}|{:->9}:|{:->15}:|{:->11}:|{:->11}:|", "", "", "", "", "");
        for (w, _) in self.workloads {
            for &n in self.sizes {
                let (gaps, printed) = bench.count_gaps(w, n, self.collect, self.marker)?;
                let _ = writeln!(s, "{}", gap_row(w, n, &gaps, &printed));
            }
        }
        Ok(Ran { table: s, summary: self.name.to_string(), incomplete: None })
    }
}

/// One row of a gaps table: the longest gap (with the printed figure in brackets), the mean, how many.
fn gap_row(workload: &str, n: u64, gaps: &[u64], printed: &str) -> String {
    let longest = gaps.iter().copied().max().unwrap_or(0);
    let mean = gaps.iter().sum::<u64>() as f64 / gaps.len().max(1) as f64;
    format!(
        "| {workload:<14} | {:>8} | {:>14} | {mean:>10.1} | {:>10} |",
        pow2(n),
        format!("{longest} [{printed}]"),
        gaps.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_rows_give_the_longest_and_the_mean() {
        let row = gap_row("revoke-gaps", 1024, &[526, 1613, 992, 990], "14");
        assert_eq!(row, "| revoke-gaps    |     2^10 |      1613 [14] |     1030.2 |          4 |");
    }

    #[test]
    fn the_list_names_the_sizes_measured() {
        let g = Gaps {
            name: "g",
            title: "t",
            workloads: &[("w", "what")],
            sizes: &[1024, 4096, 16384],
            collect: "*c*",
            marker: "*m*",
            result_label: "l",
        };
        assert_eq!(g.list(), "g: t (per gap, N = 1024, 4096 and 16384)\n    w                what\n");
    }
}
