//! Reading callgrind's output: the total instruction count (`Ir`) of a run.

use anyhow::{Context as _, bail};

/// The total count of event `Ir` in a callgrind out file's text.
///
/// The header's `events:` line names the counted events (`Ir` alone by default); each part ends
/// with a `totals:` line, and the header may carry a `summary:` line. The totals of every part are
/// added up; a file with no `totals:` falls back to its `summary:`.
pub fn total_ir(text: &str) -> anyhow::Result<u64> {
    let mut index = 0;
    let mut totals: Option<u64> = None;
    let mut summary: Option<u64> = None;
    for line in text.lines() {
        if let Some(events) = line.strip_prefix("events:") {
            index = events
                .split_whitespace()
                .position(|e| e == "Ir")
                .context("callgrind counted no `Ir` event (events: line without Ir)")?;
        } else if let Some(rest) = line.strip_prefix("totals:") {
            let v = nth_count(rest, index).context("bad `totals:` line")?;
            totals = Some(totals.unwrap_or(0).checked_add(v).context("Ir total overflows u64")?);
        } else if let Some(rest) = line.strip_prefix("summary:") {
            summary = Some(nth_count(rest, index).context("bad `summary:` line")?);
        }
    }
    match totals.or(summary) {
        Some(ir) => Ok(ir),
        None => bail!("no `totals:` or `summary:` line in the callgrind output"),
    }
}

fn nth_count(rest: &str, index: usize) -> anyhow::Result<u64> {
    let field = rest.split_whitespace().nth(index).with_context(|| format!("no count #{index}"))?;
    field.parse().with_context(|| format!("`{field}` is not a count"))
}

/// Instructions per unit of work between two sizes: (Ir(N2) − Ir(N1)) / (N2 − N1).
///
/// The fixed cost (process start, set-up) is the same at both sizes and cancels.
pub fn per_unit(n1: u64, ir1: u64, n2: u64, ir2: u64) -> anyhow::Result<f64> {
    if n2 <= n1 {
        bail!("the second size ({n2}) must be larger than the first ({n1})");
    }
    if ir2 < ir1 {
        bail!("the larger run counted fewer instructions ({ir2} at N = {n2} < {ir1} at N = {n1})");
    }
    Ok((ir2 - ir1) as f64 / (n2 - n1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npid: 4242\n\
        cmd:  target/release/gears-bench gears 1000\npart: 1\n\ndesc: I1 cache: \ndesc: D1 cache: \n\
        desc: LL cache: \n\ndesc: Timerange: Basic block 0 - 123\ndesc: Trigger: Program termination\n\n\
        positions: line\nevents: Ir\nsummary: 318723\n\n\nob=(1) /usr/lib/ld.so\nfl=(1) ???\nfn=(1) 0x1\n\
        0 3\n\ntotals: 318723\n";

    #[test]
    fn reads_totals() {
        assert_eq!(total_ir(OUT).unwrap(), 318_723);
    }

    #[test]
    fn falls_back_to_summary() {
        assert_eq!(total_ir("events: Ir\nsummary: 77\n").unwrap(), 77);
    }

    #[test]
    fn picks_ir_among_several_events() {
        let text = "events: Dr Ir Dw\nsummary: 1 2 3\ntotals: 10 20 30\n";
        assert_eq!(total_ir(text).unwrap(), 20);
    }

    #[test]
    fn adds_up_parts() {
        let text = "events: Ir\npart: 1\ntotals: 100\npart: 2\ntotals: 23\n";
        assert_eq!(total_ir(text).unwrap(), 123);
    }

    #[test]
    fn rejects_files_without_totals_or_ir() {
        assert!(total_ir("events: Ir\n").is_err());
        assert!(total_ir("events: Dr\ntotals: 5\n").is_err());
        assert!(total_ir("events: Ir\ntotals: lots\n").is_err());
    }

    #[test]
    fn per_unit_cancels_fixed_cost() {
        // 500 fixed + 7 per unit.
        let ir = |n: u64| 500 + 7 * n;
        assert_eq!(per_unit(1_000, ir(1_000), 11_000, ir(11_000)).unwrap(), 7.0);
        assert_eq!(per_unit(10, 100, 14, 102).unwrap(), 0.5);
    }

    #[test]
    fn per_unit_rejects_bad_sizes() {
        assert!(per_unit(10, 1, 10, 2).is_err());
        assert!(per_unit(20, 1, 10, 2).is_err());
        assert!(per_unit(10, 5, 20, 4).is_err());
    }
}
