//! Where sel4bench's binaries are: the directory (`--dir`, else `$GEARS_SEL4BENCH_DIR`, else
//! `../shared/sel4bench` beside the checkout when it exists: [`crate::shared`]) and the files in
//! it.

use std::path::{Path, PathBuf};

use crate::shared::SEL4BENCH;

/// The benchmark in the directory: sel4bench's IPC benchmark with the round-trip rows.
pub const BENCHMARK: &str = "x86_64/sel4bench-ipc-roundtrip";

/// The files of the directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Files {
    /// sel4bench's IPC benchmark with the round-trip rows: the root task all three runs boot.
    pub benchmark: PathBuf,
    /// seL4's release kernel with its fastpath (multiboot).
    pub fastpath: PathBuf,
    /// The same kernel without the fastpath.
    pub nofastpath: PathBuf,
    /// seL4's serial log of the fastpath run under `-icount shift=0`.
    pub reference_fastpath: PathBuf,
    /// The same without the fastpath.
    pub reference_nofastpath: PathBuf,
}

impl Files {
    /// The files in `dir`.
    pub fn new(dir: &Path) -> Files {
        let x86 = dir.join("x86_64");
        let reference = dir.join("reference");
        Files {
            benchmark: dir.join(BENCHMARK),
            fastpath: x86.join("seL4-kernel-release-fastpath"),
            nofastpath: x86.join("seL4-kernel-release-nofastpath"),
            reference_fastpath: reference.join("seL4-release-fastpath-icount.log"),
            reference_nofastpath: reference.join("seL4-release-nofastpath-icount.log"),
        }
    }

    /// The files a run needs (the reference logs are only compared with, when there).
    pub fn needed(&self) -> Vec<PathBuf> {
        vec![self.benchmark.clone(), self.fastpath.clone(), self.nofastpath.clone()]
    }
}

/// What to do when the binaries are not there: where they are looked for, what the directory
/// holds, and how to build them.
pub fn how_to_get_them() -> String {
    format!(
        "sel4bench's binaries are looked for in --dir DIR, else in ${env}, else in {default}. That \
         directory holds x86_64/sel4bench-ipc-roundtrip (sel4bench's IPC benchmark with 10,000-round-trip \
         rows), seL4's release kernels x86_64/seL4-kernel-release-fastpath and \
         x86_64/seL4-kernel-release-nofastpath, and (optional) seL4's logs \
         reference/seL4-release-{{fastpath,nofastpath}}-icount.log. To build them, with the recipe/ \
         folder of that directory: recipe/setup_sel4bench.sh lays out the sources (from sel4test's, \
         laid out by ../sel4test/recipe/setup_sources_newest.sh; RT=1 adds the tree with the \
         round-trip rows), then recipe/build_sel4bench.sh TREE BUILD TRUE TRUE in that tree (and \
         TRUE FALSE, for the kernel without the fastpath) builds the release kernel and the \
         benchmark: images/kernel-x86_64-pc99 and images/sel4benchapp-image-x86_64-pc99 in the \
         build folder (the directory's README, \"Rebuilding\", says more)",
        env = SEL4BENCH.env,
        default = SEL4BENCH.default_dir().display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_of_a_directory() {
        let files = Files::new(Path::new("/b"));
        assert_eq!(
            files.needed(),
            [
                PathBuf::from("/b/x86_64/sel4bench-ipc-roundtrip"),
                PathBuf::from("/b/x86_64/seL4-kernel-release-fastpath"),
                PathBuf::from("/b/x86_64/seL4-kernel-release-nofastpath"),
            ]
        );
        assert_eq!(files.reference_fastpath, PathBuf::from("/b/reference/seL4-release-fastpath-icount.log"));
    }

    #[test]
    fn the_advice_says_where_and_how() {
        let advice = how_to_get_them();
        assert!(advice.contains("--dir DIR, else in $GEARS_SEL4BENCH_DIR, else in "), "{advice}");
        assert!(advice.contains(&SEL4BENCH.default_dir().display().to_string()), "{advice}");
        assert!(advice.contains("x86_64/sel4bench-ipc-roundtrip"), "{advice}");
        assert!(advice.contains("recipe/setup_sel4bench.sh") && advice.contains("recipe/build_sel4bench.sh"));
        assert!(advice.contains("reference/seL4-release-{fastpath,nofastpath}-icount.log"), "{advice}");
    }
}
