//! The model checker's cost per state: BFS over xv6's ialloc/ifree system of 3 processes × 5
//! operations sharing 12 inodes (35,454 distinct states in all), bounded to about N states. Each
//! workload prints the distinct states it reached, and `cargo xtask bench` divides by those (not
//! by N), so the figure is instructions per distinct state.

use gears_tests::xv6_system::{Op, Variant, Xv6System, fs_invariant, no_shared_inodes};
use metagears::mc::{Checker, GearModel};

use crate::Workload;

/// The workloads of the group.
pub const WORKLOADS: &[Workload] =
    &[Workload { name: "mc-bfs", run: mc_bfs }, Workload { name: "mc-dfs", run: mc_dfs }];

fn model() -> GearModel<Xv6System> {
    let scripts = vec![
        vec![Op::Ialloc(1), Op::Ifree, Op::Ialloc(1), Op::Ifree, Op::Ialloc(1)],
        vec![Op::Ialloc(2), Op::Ialloc(2), Op::Ifree, Op::Ifree, Op::Ialloc(2)],
        vec![Op::Ialloc(3), Op::Ifree, Op::Ialloc(3), Op::Ialloc(3), Op::Ifree],
    ];
    GearModel::new(Xv6System::new(13, &[2, 3, 5, 6, 8, 9, 11], scripts, Variant::Correct))
}

fn checker(n: u64) -> Checker<'static, GearModel<Xv6System>> {
    Checker::new(model())
        .invariant("ialloc", fs_invariant)
        .invariant("no shared inodes", no_shared_inodes)
        .threads(1)
        .max_states(usize::try_from(n).unwrap_or(usize::MAX))
}

/// BFS on one thread (instruction counts are per thread's work; parallel speed-up is printed by
/// the checker's own statistics, not measured here). Prints the distinct states reached.
fn mc_bfs(n: u64) -> u64 {
    checker(n).bfs().stats.distinct
}

/// DFS (sequential). Prints the distinct states reached.
fn mc_dfs(n: u64) -> u64 {
    checker(n).dfs().stats.distinct
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_the_number_of_states_and_the_whole_system_has_35454() {
        // The bound is checked between steps, so a search may pass it by a step's successors.
        for reached in [mc_bfs(1_000), mc_dfs(1_000)] {
            assert!((1_000..1_200).contains(&reached), "{reached}");
        }
        let all = checker(u64::MAX).bfs();
        assert!(all.is_ok(), "{all}");
        assert_eq!(all.stats.distinct, 35_454);
    }
}
