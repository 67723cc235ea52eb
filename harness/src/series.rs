//! The patch series: `series/series.toml` says which of our files and which small diffs to base
//! files make up each patch. The same description drives the build tree and `make patches`.

use crate::cmd;
use crate::tree::{git, git_out};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Top-level directories of the repository that are kernel-tree paths (the overlay).
pub const OVERLAY_ROOTS: &[&str] = &[
    "Documentation",
    "drivers",
    "include",
    "lib",
    "mm",
    "rust",
    "samples",
];

/// One patch of the series.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patch {
    /// Subject line, kernel style (`rust: bitmap: add ...`).
    pub subject: String,
    /// Commit message body: why the change is needed.
    pub message: String,
    /// New files, copied whole from the repository.
    #[serde(default)]
    pub files: Vec<String>,
    /// Diffs (repository paths) that change files the base already has.
    #[serde(default)]
    pub diffs: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    #[serde(default)]
    patch: Vec<Patch>,
}

/// The author of the exported patches.
pub struct Identity {
    /// `Name <email>`.
    pub signoff: String,
    /// Whether it is a placeholder because git has no identity configured.
    pub placeholder: bool,
}

impl Identity {
    /// The user's git identity in the repository, or a clearly marked placeholder.
    pub fn of_repo(repo: &Path) -> Identity {
        let get = |key: &str| {
            let mut c = Command::new("git");
            c.arg("-C").arg(repo).args(["config", key]);
            cmd::output_of(&mut c)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        match (get("user.name"), get("user.email")) {
            (Some(name), Some(email)) => Identity {
                signoff: format!("{name} <{email}>"),
                placeholder: false,
            },
            _ => Identity {
                signoff: "PLACEHOLDER Set Your Name <set.your.email@example.com>".to_string(),
                placeholder: true,
            },
        }
    }

    fn split(&self) -> (&str, &str) {
        let (name, rest) = self.signoff.split_once(" <").unwrap_or((&self.signoff, ""));
        (name, rest.trim_end_matches('>'))
    }
}

/// The whole series.
pub struct Series {
    /// Patches in order.
    pub patches: Vec<Patch>,
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{rel}/{name}");
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&entry.path(), &rel, out);
        } else {
            out.push(rel);
        }
    }
}

/// Paths a diff changes (its `+++ b/...` lines).
pub fn diff_targets(diff: &str) -> Vec<String> {
    diff.lines()
        .filter_map(|l| l.strip_prefix("+++ b/"))
        .map(|p| p.trim().to_string())
        .collect()
}

impl Series {
    /// Reads `series/series.toml` and checks that it accounts for every overlay file exactly once
    /// and that everything it names exists.
    pub fn load(repo: &Path) -> Result<Series, String> {
        let path = repo.join("series/series.toml");
        let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let manifest: Manifest =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let series = Series {
            patches: manifest.patch,
        };
        let mut listed = BTreeSet::new();
        for patch in &series.patches {
            if patch.subject.len() > 75 || patch.subject.ends_with('.') {
                return Err(format!(
                    "subject too long or ends with '.': {}",
                    patch.subject
                ));
            }
            for f in patch.files.iter().chain(&patch.diffs) {
                if !repo.join(f).is_file() {
                    return Err(format!("{}: {f} does not exist", patch.subject));
                }
                if !listed.insert(f.clone()) {
                    return Err(format!("{f} is listed twice in series.toml"));
                }
            }
        }
        let mut present = Vec::new();
        for root in OVERLAY_ROOTS {
            walk(&repo.join(root), root, &mut present);
        }
        let unlisted: Vec<_> = present.iter().filter(|f| !listed.contains(*f)).collect();
        if !unlisted.is_empty() {
            return Err(format!(
                "overlay files not in series/series.toml (they would never be built): {unlisted:?}"
            ));
        }
        Ok(series)
    }

    /// Every kernel-tree path the series adds or changes.
    pub fn touched_paths(&self, repo: &Path) -> Vec<String> {
        let mut paths = BTreeSet::new();
        for patch in &self.patches {
            paths.extend(patch.files.iter().cloned());
            for d in &patch.diffs {
                paths.extend(diff_targets(
                    &fs::read_to_string(repo.join(d)).unwrap_or_default(),
                ));
            }
        }
        paths.into_iter().collect()
    }

    /// Creates one commit per patch on top of `base` in the git repository `src`, using the
    /// private index file `index` so the work tree is left alone. Returns the commit ids.
    pub fn commit(
        &self,
        src: &Path,
        repo: &Path,
        index: &Path,
        who: &Identity,
    ) -> Result<Vec<String>, String> {
        let with_index = |args: &[&str]| {
            let mut c = git(src);
            c.env("GIT_INDEX_FILE", index).args(args);
            c
        };
        cmd::output_of(&mut with_index(&["read-tree", "base"]))?;
        let (name, email) = who.split();
        let date = git_out(repo, &["log", "-1", "--format=%aI"])
            .unwrap_or_else(|_| "2026-01-01T00:00:00+00:00".to_string());
        let mut parent = git_out(src, &["rev-parse", "base"])?;
        let mut commits = Vec::new();
        for patch in &self.patches {
            for f in &patch.files {
                let blob = git_out(src, &["hash-object", "-w", &repo.join(f).to_string_lossy()])?;
                let mode = if is_executable(&repo.join(f)) {
                    "100755"
                } else {
                    "100644"
                };
                cmd::output_of(&mut with_index(&[
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("{mode},{blob},{f}"),
                ]))?;
            }
            for d in &patch.diffs {
                let diff = repo.join(d);
                cmd::output_of(&mut with_index(&[
                    "apply",
                    "--cached",
                    &diff.to_string_lossy(),
                ]))
                .map_err(|e| format!("{d} does not apply to the base: {e}"))?;
            }
            let tree = cmd::output_of(&mut with_index(&["write-tree"]))?
                .trim()
                .to_string();
            let message = format!(
                "{}\n\n{}\n\nSigned-off-by: {}\n",
                patch.subject,
                patch.message.trim(),
                who.signoff
            );
            let mut c = git(src);
            c.args(["commit-tree", &tree, "-p", &parent, "-m", &message])
                .env("GIT_AUTHOR_NAME", name)
                .env("GIT_AUTHOR_EMAIL", email)
                .env("GIT_AUTHOR_DATE", &date)
                .env("GIT_COMMITTER_NAME", name)
                .env("GIT_COMMITTER_EMAIL", email)
                .env("GIT_COMMITTER_DATE", &date);
            parent = cmd::output_of(&mut c)?.trim().to_string();
            commits.push(parent.clone());
        }
        Ok(commits)
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// Writes the series as `git format-patch` files into `out` (emptied first).
pub fn export(src: &Path, head: &str, out: &Path) -> Result<Vec<PathBuf>, String> {
    let _ = fs::remove_dir_all(out);
    fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let listing = git_out(
        src,
        &[
            "format-patch",
            "--no-signature",
            "-o",
            &out.to_string_lossy(),
            &format!("base..{head}"),
        ],
    )?;
    let mut files: Vec<PathBuf> = listing.lines().map(PathBuf::from).collect();
    files.sort();
    Ok(files)
}
