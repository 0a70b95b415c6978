//! Properties of the ialloc gears under any preemption pattern: the result never depends on where
//! the operation was preempted, or in which mode, and the invariant holds at every point.

use gears::{Dispatcher, Mode, Outcome};
use gears_tests::ialloc::{IALLOC, Inum, Xv6, check_invariants};
use metagears::{InjectAt, Invariant};
use proptest::prelude::*;

fn fs(ninodes: Inum, used: &[bool]) -> Xv6 {
    let used = (1..ninodes).filter(|&i| used.get(i as usize).copied().unwrap_or(false));
    let mut fs = Xv6::new(ninodes, 1).with_used(used);
    fs.request(0, 1, 2);
    fs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_preemption_pattern_gives_the_unpreempted_result(
        ninodes in 2u32..80,
        used in proptest::collection::vec(any::<bool>(), 80),
        points in proptest::collection::btree_set(0u64..120, 0..12),
        resume in any::<bool>(),
    ) {
        let mode = if resume { Mode::Resume } else { Mode::Restart };
        let mut expected = fs(ninodes, &used);
        let want = Dispatcher::new(()).run(&mut expected, &IALLOC);

        let mut got = fs(ninodes, &used);
        let mut d = Dispatcher::new((InjectAt::points(points.iter().copied(), mode), Invariant::new(check_invariants)));
        let mut runs: u32 = 0;
        let out = loop {
            runs += 1;
            prop_assert!(runs <= 200, "did not converge");
            match d.run(&mut got, &IALLOC) {
                Outcome::Preempted { .. } => continue,
                out => break out,
            }
        };
        prop_assert_eq!(format!("{:?}", out), format!("{:?}", want));
        prop_assert_eq!(&got.inodes, &expected.inodes);
        prop_assert_eq!(got.sb, expected.sb);
        prop_assert_eq!(d.meta().1.violation(), None);
        prop_assert_eq!(u64::from(runs - 1), d.meta().0.preemptions());
    }
}
