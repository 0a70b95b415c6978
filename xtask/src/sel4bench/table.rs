//! The table of the three runs: one row per benchmark result, matched across kernels by what
//! identifies it ([`Key`]), one column per kernel, and the ratio of Gears to seL4's fastpath.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::results::{Figure, Key};

/// The result the closing line compares: 10,000 Call + ReplyRecv round trips through raw
/// `syscall` instructions, client and server in one address space, no message words.
pub const HEADLINE: &str = "RT x10000 Call+ReplyRecv (asm syscall)";

/// What the closing line's figure is.
const HEADLINE_WHAT: &str = "Call+ReplyRecv round trip, same address space, 0 words, x86_64";

/// One row: a result and its value on each kernel (in the order of the columns).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// What the row is.
    pub key: Key,
    /// Its value per column, if that kernel gave it.
    pub values: Vec<Option<f64>>,
}

/// The rows of `columns` (each kernel's figures, or `None` if it gave none): every result of any
/// kernel, in the order they first appear, column by column. A result that appears twice in one
/// run is matched with the same occurrence in the others.
pub fn rows(columns: &[Option<&[Figure]>]) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut index: HashMap<(Key, usize), usize> = HashMap::new();
    for (col, figures) in columns.iter().enumerate() {
        let mut seen: HashMap<&Key, usize> = HashMap::new();
        for figure in figures.iter().copied().flatten() {
            let nth = seen.entry(&figure.key).or_default();
            let at = *index.entry((figure.key.clone(), *nth)).or_insert_with(|| {
                rows.push(Row { key: figure.key.clone(), values: vec![None; columns.len()] });
                rows.len() - 1
            });
            *nth += 1;
            rows[at].values[col] = figure.value();
        }
    }
    rows
}

/// The row of the closing line, if there is one.
pub fn headline(rows: &[Row]) -> Option<&Row> {
    rows.iter().find(|r| r.key.function == HEADLINE && r.key.same_vspace && r.key.ipc_length == 0)
}

/// `a / b` as `R.RR×`, or `–` if either is missing.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".to_string(),
    }
}

/// A value as the table shows it: per round trip with two decimals, else whole (or with the half
/// a median of an even count can have).
fn show(key: &Key, value: Option<f64>) -> String {
    match value {
        None => "–".to_string(),
        Some(v) if key.is_block_of_round_trips() => format!("{v:.2}"),
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

/// The Markdown table of `rows` under the kernels' `names`; the last column is the ratio of the
/// first kernel to the second.
pub fn render(names: &[&str], rows: &[Row]) -> String {
    let mut t = String::from("| Function | Direction | same vspace | IPC length | prio client/server |");
    for name in names {
        let _ = write!(t, " {name} |");
    }
    let _ = writeln!(t, " {} / {} |", names[0], names[1]);
    t.push_str("|---|---|---|--:|---|");
    t.push_str(&"--:|".repeat(names.len() + 1));
    t.push('\n');
    for row in rows {
        let k = &row.key;
        let function = if k.is_block_of_round_trips() {
            format!("{} (per round trip: ÷ 10,000)", k.function)
        } else {
            k.function.clone()
        };
        let _ = write!(
            t,
            "| {function} | {} | {} | {} | {}/{} |",
            k.direction,
            if k.same_vspace { "yes" } else { "no" },
            k.ipc_length,
            k.client_prio,
            k.server_prio
        );
        for value in &row.values {
            let _ = write!(t, " {} |", show(k, *value));
        }
        let _ = writeln!(t, " {} |", ratio(row.values[0], row.values[1]));
    }
    t
}

/// The closing line: Gears' headline figure over seL4's (fastpath), or why there is none.
pub fn ratio_line(gears: Option<f64>, sel4: Option<f64>, why_not: &str) -> String {
    match (gears, sel4) {
        (Some(g), Some(s)) if s > 0.0 => {
            format!("ipc-vs-sel4: Gears/seL4 = {:.2}× ({HEADLINE_WHAT})", g / s)
        }
        _ => format!("ipc-vs-sel4: Gears/seL4 = n/a ({HEADLINE_WHAT}): {why_not}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(function: &str, same_vspace: bool, samples: &[u64]) -> Figure {
        Figure {
            key: Key {
                function: function.into(),
                direction: "client->server".into(),
                same_vspace,
                ipc_length: 0,
                client_prio: 254,
                server_prio: 254,
            },
            samples: samples.to_vec(),
        }
    }

    #[test]
    fn rows_match_across_kernels_by_their_key_whatever_the_order() {
        let sel4 = [figure("seL4_Call", true, &[203]), figure(HEADLINE, true, &[4_450_001])];
        let gears = [
            figure(HEADLINE, false, &[9_000_000]),
            figure(HEADLINE, true, &[10_000_000, 10_000_000, 10_000_002]),
            figure("seL4_Call", true, &[500]),
        ];
        let rows = rows(&[Some(&gears), None, Some(&sel4)]);
        assert_eq!(rows.len(), 3);
        // Gears' order first, then what only later columns have.
        assert_eq!((rows[0].key.function.as_str(), rows[0].key.same_vspace), (HEADLINE, false));
        assert_eq!(rows[0].values, [Some(900.0), None, None]);
        assert_eq!(rows[1].values, [Some(1000.0), None, Some(445.0001)]);
        assert_eq!(rows[2].values, [Some(500.0), None, Some(203.0)]);
        assert_eq!(headline(&rows).map(|r| &r.values), Some(&rows[1].values));
    }

    #[test]
    fn a_result_twice_in_a_run_is_matched_by_occurrence() {
        let one = [figure("seL4_Call", true, &[1]), figure("seL4_Call", true, &[2])];
        let other = [figure("seL4_Call", true, &[3]), figure("seL4_Call", true, &[4])];
        let rows = rows(&[Some(&one), Some(&other)]);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (&rows[0].values, &rows[1].values),
            (&vec![Some(1.0), Some(3.0)], &vec![Some(2.0), Some(4.0)])
        );
    }

    #[test]
    fn the_table_shows_round_trips_per_round_trip_and_the_ratio() {
        let gears = [figure(HEADLINE, true, &[12_345_678]), figure("seL4_Call", true, &[900, 901])];
        let sel4 = [figure(HEADLINE, true, &[4_450_001]), figure("seL4_Call", true, &[203])];
        let rows = rows(&[Some(&gears), Some(&sel4), None]);
        let t = render(&["Gears", "seL4 fastpath", "seL4 without fastpath"], &rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "| Function | Direction | same vspace | IPC length | prio client/server | Gears | seL4 fastpath \
             | seL4 without fastpath | Gears / seL4 fastpath |"
        );
        assert_eq!(lines[1], "|---|---|---|--:|---|--:|--:|--:|--:|");
        assert_eq!(
            lines[2],
            "| RT x10000 Call+ReplyRecv (asm syscall) (per round trip: ÷ 10,000) | client->server | yes | 0 \
             | 254/254 | 1234.57 | 445.00 | – | 2.77× |"
        );
        assert_eq!(lines[3], "| seL4_Call | client->server | yes | 0 | 254/254 | 900.5 | 203 | – | 4.44× |");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn the_closing_line() {
        assert_eq!(
            ratio_line(Some(1234.5678), Some(445.0001), "unused"),
            "ipc-vs-sel4: Gears/seL4 = 2.77× (Call+ReplyRecv round trip, same address space, 0 words, x86_64)"
        );
        assert_eq!(
            ratio_line(None, Some(445.0), "Gears did not finish the benchmark"),
            "ipc-vs-sel4: Gears/seL4 = n/a (Call+ReplyRecv round trip, same address space, 0 words, \
             x86_64): Gears did not finish the benchmark"
        );
        assert_eq!(ratio(Some(1.0), Some(0.0)), "–");
        assert_eq!(ratio(Some(3.0), Some(2.0)), "1.50×");
    }
}
