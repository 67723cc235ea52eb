//! Where things live: the repository (our overlay) and the cache outside it.

use std::path::{Path, PathBuf};

/// A kernel configuration the harness builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// KUnit, KASAN, lockdep, kmemleak, atomic-sleep checks: what `make test` runs.
    Test,
    /// The same features without debug instrumentation: what `make bench` runs.
    Bench,
    /// Built (not booted) with the oldest rustc and bindgen the base supports
    /// (`scripts/min-tool-version.sh`): what a driver author on a 6.12 tree may have.
    MinToolchain,
    /// Built (not booted) with KUnit as a module: `kunit_vm_mmap` is then in `kunit.ko`, which
    /// the kernel crate in vmlinux must not call.
    KunitModule,
    /// The test kernel's features plus KCOV (Rust code instrumented too) and fault injection,
    /// without doctests: what `make stress` runs.
    Stress,
}

impl Profile {
    /// Short name, used in paths and reports.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Test => "test",
            Profile::Bench => "bench",
            Profile::MinToolchain => "min-toolchain",
            Profile::KunitModule => "kunit-module",
            Profile::Stress => "stress",
        }
    }
}

/// Paths of the repository and of the cache the harness works in.
pub struct Layout {
    /// Root of our repository (the overlay).
    pub repo: PathBuf,
    /// Root of the cache: base tree, build trees, logs.
    pub cache: PathBuf,
}

impl Layout {
    /// Finds the repository root from the harness's manifest directory and the cache from the
    /// environment (`WB_CACHE`, else `$XDG_CACHE_HOME/binder-lite`, else `~/.cache/binder-lite`).
    pub fn discover() -> Layout {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("harness lives in a subdirectory of the repository")
            .to_path_buf();
        let cache = std::env::var_os("WB_CACHE")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("binder-lite"))
            })
            .unwrap_or_else(|| {
                let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
                PathBuf::from(home).join(".cache/binder-lite")
            });
        Layout { repo, cache }
    }

    /// The kernel source tree: a git repository whose `base` tag is the pristine package and
    /// whose checkout is the base with our series applied.
    pub fn src(&self) -> PathBuf {
        self.cache.join("src")
    }

    /// A second checkout of the same repository, where the exported series is applied with
    /// `git am` to prove it applies to the pristine base.
    pub fn am_check(&self) -> PathBuf {
        self.cache.join("am-check")
    }

    /// Out-of-tree (`O=`) build directory of a profile.
    pub fn build_dir(&self, profile: Profile) -> PathBuf {
        self.cache.join(format!("build-{}", profile.name()))
    }

    /// Logs of the last run, one file per step.
    pub fn logs(&self) -> PathBuf {
        self.cache.join("logs")
    }

    /// Scratch files of the boot test (initramfs, console logs).
    pub fn vm_work(&self) -> PathBuf {
        self.cache.join("vm")
    }

    /// Tools the harness installs itself (e.g. the minimum bindgen), one directory each.
    pub fn tools(&self) -> PathBuf {
        self.cache.join("tools")
    }

    /// Where an out-of-tree module of the repository is copied and built for a profile.
    pub fn external_build(&self, profile: Profile, module: &str) -> PathBuf {
        self.cache
            .join(format!("external-{}", profile.name()))
            .join(module)
    }

    /// Products meant for the user: the exported patch series.
    pub fn out(&self) -> PathBuf {
        self.repo.join("out")
    }

    /// The kconfig fragment of a profile.
    pub fn kconfig(&self, profile: Profile) -> PathBuf {
        self.repo
            .join("kconfig")
            .join(format!("{}.config", profile.name()))
    }
}
