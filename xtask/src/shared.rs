//! The directories of seL4's own binaries (sel4test, sel4bench), which live outside the
//! repository: each is chosen by a `--dir` flag, else by an environment variable, else is
//! `../shared/NAME` beside the checkout when that exists.

use std::path::{Path, PathBuf};

use crate::util;

/// One kind of shared directory: its name beside the checkout and the variable that names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shared {
    /// The directory's name under `../shared/` (and in messages).
    pub name: &'static str,
    /// The environment variable that names the directory.
    pub env: &'static str,
}

/// seL4's test suite: its driver, seL4's images and reference logs.
pub const SEL4TEST: Shared = Shared { name: "sel4test", env: "GEARS_SEL4TEST_DIR" };
/// sel4bench's IPC benchmark, the release seL4 kernels it ran on, and their reference logs.
pub const SEL4BENCH: Shared = Shared { name: "sel4bench", env: "GEARS_SEL4BENCH_DIR" };

/// Where a chosen directory came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `--dir`.
    Flag,
    /// The kind's environment variable.
    Env,
    /// `../shared/NAME` beside the checkout.
    Default,
}

/// A shared directory, once chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedDir {
    /// Its path.
    pub path: PathBuf,
    /// Where it came from.
    pub origin: Origin,
    /// The variable of its kind, for messages.
    env: &'static str,
}

impl Shared {
    /// `../shared/NAME` beside the checkout.
    pub fn default_dir(self) -> PathBuf {
        let root = util::root();
        root.parent().unwrap_or(&root).join("shared").join(self.name)
    }

    /// The directory given by `flag`, else by `env` (the value of the kind's variable), else the
    /// default beside the checkout when it exists.
    pub fn choose(self, flag: Option<&Path>, env: Option<&str>) -> Option<SharedDir> {
        let chosen = |path: PathBuf, origin| SharedDir { path, origin, env: self.env };
        if let Some(path) = flag {
            return Some(chosen(path.to_path_buf(), Origin::Flag));
        }
        if let Some(env) = env.filter(|v| !v.is_empty()) {
            return Some(chosen(PathBuf::from(env), Origin::Env));
        }
        let default = self.default_dir();
        default.is_dir().then(|| chosen(default, Origin::Default))
    }

    /// [`Shared::choose`] with the variable read from this process's environment.
    pub fn find(self, flag: Option<&Path>) -> Option<SharedDir> {
        let env = std::env::var(self.env).ok();
        self.choose(flag, env.as_deref())
    }
}

impl SharedDir {
    /// The path and how it was chosen, for messages.
    pub fn describe(&self) -> String {
        let how = match self.origin {
            Origin::Flag => "--dir".to_string(),
            Origin::Env => format!("${}", self.env),
            Origin::Default => "the default beside the checkout".to_string(),
        };
        format!("{} ({how})", self.path.display())
    }
}

/// Those of `files` that are not files.
pub fn missing(files: &[PathBuf]) -> Vec<PathBuf> {
    files.iter().filter(|p| !p.is_file()).cloned().collect()
}

/// Paths joined for a message.
pub fn show_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_environment_which_wins_over_the_default() {
        let absent = Shared { name: "no-such-dir-for-xtask-tests", env: "GEARS_XTASK_TEST_DIR" };
        assert_eq!(absent.choose(None, None), None);
        for kind in [SEL4TEST, SEL4BENCH, absent] {
            let chosen = kind.choose(Some(Path::new("/flag")), Some("/env")).unwrap();
            assert_eq!((chosen.path, chosen.origin), (PathBuf::from("/flag"), Origin::Flag));
            let chosen = kind.choose(None, Some("/env")).unwrap();
            assert_eq!((&chosen.path, chosen.origin), (&PathBuf::from("/env"), Origin::Env));
            assert_eq!(chosen.describe(), format!("/env (${})", kind.env));
            // An empty variable is as good as none: the default, if it exists.
            let chosen = kind.choose(None, Some(""));
            assert_eq!(chosen.is_some(), kind.default_dir().is_dir());
            if let Some(dir) = chosen {
                assert_eq!(dir.origin, Origin::Default);
                assert!(dir.describe().ends_with("(the default beside the checkout)"));
            }
        }
    }

    #[test]
    fn the_default_is_beside_the_checkout() {
        assert!(SEL4TEST.default_dir().ends_with("shared/sel4test"));
        assert!(SEL4BENCH.default_dir().ends_with("shared/sel4bench"));
        assert_eq!(SEL4BENCH.default_dir().parent().unwrap().parent(), util::root().parent());
        assert_eq!(SEL4BENCH.choose(None, Some("/b")).unwrap().describe(), "/b ($GEARS_SEL4BENCH_DIR)");
    }

    #[test]
    fn missing_files_are_named_in_full() {
        let here = std::env::current_exe().unwrap();
        let gone = [PathBuf::from("/no/such/dir/x86_64/a"), PathBuf::from("/no/such/dir/b")];
        let missing = missing(&[gone[0].clone(), here, gone[1].clone()]);
        assert_eq!(missing, gone);
        assert_eq!(show_paths(&missing), "/no/such/dir/x86_64/a, /no/such/dir/b");
        // A directory is not a file.
        assert_eq!(super::missing(&[std::env::temp_dir()]).len(), 1);
    }
}
