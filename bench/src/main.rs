//! `gears-bench <workload> <N>`: runs one workload at size N and prints its result.
//!
//! `cargo xtask bench` runs each workload under valgrind's callgrind at two sizes and reports the
//! instructions per unit of work, (Ir(N2) − Ir(N1)) / (N2 − N1), which cancels the set-up cost
//! (process start, building the context, the table). `gears-bench list` prints the workloads.
//!
//! A new group of workloads (revoke per capability, IPC round trip, interrupt latency…) is a new
//! module with a `WORKLOADS` list, added to [`GROUPS`] here and described in `xtask/src/bench.rs`.

#![forbid(unsafe_code)]

use std::process::ExitCode;

mod dispatcher;
mod ipc;
mod mc;
mod revoke;

/// One benchmark workload: runs `n` units of work and returns a value that depends on all of them.
pub struct Workload {
    /// The name on the command line.
    pub name: &'static str,
    /// Runs `n` units of work.
    pub run: fn(u64) -> u64,
}

/// The groups of workloads, by name.
pub const GROUPS: &[(&str, &[Workload])] = &[
    ("dispatcher", dispatcher::WORKLOADS),
    ("batching", dispatcher::BATCH_WORKLOADS),
    ("revoke", revoke::WORKLOADS),
    ("mc", mc::WORKLOADS),
    ("ipc", ipc::WORKLOADS),
];

fn find(name: &str) -> Option<&'static Workload> {
    GROUPS.iter().flat_map(|(_, ws)| ws.iter()).find(|w| w.name == name)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [list] if list == "list" => {
            for (group, workloads) in GROUPS {
                for w in *workloads {
                    println!("{group} {}", w.name);
                }
            }
            ExitCode::SUCCESS
        }
        [name, n] => {
            let Some(workload) = find(name) else {
                eprintln!("gears-bench: unknown workload `{name}` (see `gears-bench list`)");
                return ExitCode::from(2);
            };
            let Ok(n) = n.parse::<u64>() else {
                eprintln!("gears-bench: N must be a non-negative integer, not `{n}`");
                return ExitCode::from(2);
            };
            let result = (workload.run)(std::hint::black_box(n));
            println!("{}", std::hint::black_box(result));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: gears-bench <workload> <N> | gears-bench list");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names_are_unique() {
        let mut names: Vec<_> = GROUPS.iter().flat_map(|(_, ws)| ws.iter().map(|w| w.name)).collect();
        let all = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all);
    }
}
