//! Editing the series with git: a work tree of the base with one commit per patch
//! (`series-edit`), from which `series/` is written back (`series-regen`), and which can be
//! rebased onto another base version (`series-rebase`).
//!
//! The work tree is `<cache>/series-edit`, a `git worktree` of the cached source repository on
//! the branch `series-edit`; the file `<cache>/series-edit.base` names the base it sits on (a
//! tag of that repository and its Debian package version).
//!
//! `series-regen` decides for every path a commit changes how the patch carries it: a file the
//! base has is always a diff; a new file (under the overlay roots) is copied whole into the
//! repository by the last patch that changes it; every earlier version of a new file is a diff
//! too. Diffs are `git diff` output, never written by hand.

use crate::cmd;
use crate::layout::Layout;
use crate::series::{overlay_files, Identity, Series, OVERLAY_ROOTS};
use crate::setup::{self, BASE_PACKAGE, BASE_VERSION_FILE};
use crate::tree::{self, git, git_out};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The branch of the edit work tree.
const BRANCH: &str = "series-edit";

/// The header of the generated `series/series.toml`.
const TOML_HEADER: &str = "\
# The patch series, in order. Written by `make series-regen` from the git work tree of
# `make series-edit`; small edits by hand are fine (a message, a file added to `files`).
#
# Each patch lists the new files whose final version it adds (copied whole from this
# repository) and one diff (series/diffs/*.diff, applied with `git apply` after the files):
# its changes to files the base has, and earlier versions of new files that a later patch
# completes. A file the base has is only ever changed through a diff. Every file under the
# kernel-tree folders of this repository (rust/, samples/, Documentation/, ...) belongs to
# exactly one patch's `files`.
";

/// Where the edit work tree and its base are.
struct EditTree {
    dir: PathBuf,
    marker: PathBuf,
}

/// The base an edit tree sits on.
struct BaseRef {
    /// A tag of the source repository (`base`, or `base-<version>` for another version).
    tag: String,
    /// The Debian package version of that base.
    version: String,
}

impl EditTree {
    fn of(layout: &Layout) -> EditTree {
        EditTree {
            dir: layout.cache.join("series-edit"),
            marker: layout.cache.join("series-edit.base"),
        }
    }

    fn exists(&self) -> bool {
        is_worktree(&self.dir)
    }

    fn base(&self) -> Result<BaseRef, String> {
        let text = fs::read_to_string(&self.marker).map_err(|e| {
            format!(
                "{}: {e} (run make series-edit first)",
                self.marker.display()
            )
        })?;
        let mut lines = text.lines();
        match (lines.next(), lines.next()) {
            (Some(tag), Some(version)) => Ok(BaseRef {
                tag: tag.trim().to_string(),
                version: version.trim().to_string(),
            }),
            _ => Err(format!(
                "{}: expected a tag and a version",
                self.marker.display()
            )),
        }
    }

    fn set_base(&self, base: &BaseRef) -> Result<(), String> {
        fs::write(&self.marker, format!("{}\n{}\n", base.tag, base.version))
            .map_err(|e| format!("{}: {e}", self.marker.display()))
    }

    /// Fails when the work tree has uncommitted changes to tracked files, or a rebase or
    /// `git am` in progress.
    fn check_clean(&self) -> Result<(), String> {
        let git_dir = PathBuf::from(git_out(&self.dir, &["rev-parse", "--absolute-git-dir"])?);
        for busy in [
            "rebase-merge",
            "rebase-apply",
            "MERGE_HEAD",
            "CHERRY_PICK_HEAD",
        ] {
            if git_dir.join(busy).exists() {
                return Err(format!(
                    "{}: a rebase, am or merge is in progress: finish it (git status) first",
                    self.dir.display()
                ));
            }
        }
        let status = git_out(
            &self.dir,
            &["status", "--porcelain", "--untracked-files=no"],
        )?;
        if status.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} has uncommitted changes: commit them (git commit --fixup=<patch>, then \
                 git rebase -i --autosquash) or drop them (git checkout -- .):\n{status}",
                self.dir.display()
            ))
        }
    }

    /// The commits of the series in the work tree, oldest first.
    fn commits(&self, base: &BaseRef) -> Result<Vec<String>, String> {
        let range = format!("{}..HEAD", base.tag);
        let merges = git_out(&self.dir, &["rev-list", "--merges", &range])?;
        if !merges.is_empty() {
            return Err(format!(
                "the series in {} has merge commits; keep it linear (git rebase)",
                self.dir.display()
            ));
        }
        let list = git_out(&self.dir, &["rev-list", "--reverse", &range])?;
        Ok(list.lines().map(str::to_string).collect())
    }
}

/// Whether `dir` is a usable git work tree. A work tree of the cached repository is orphaned
/// when the repository is made again (a new base package): its `.git` file then points nowhere.
pub fn is_worktree(dir: &Path) -> bool {
    dir.join(".git").exists() && git_out(dir, &["rev-parse", "--git-dir"]).is_ok()
}

/// The pinned base: the tag `base` of the source repository.
fn pinned(layout: &Layout) -> Result<BaseRef, String> {
    let file = layout.repo.join(BASE_VERSION_FILE);
    let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let version = setup::pinned_base_version(&text)
        .ok_or_else(|| format!("{BASE_VERSION_FILE} names no version"))?
        .to_string();
    Ok(BaseRef {
        tag: "base".to_string(),
        version,
    })
}

/// The trees of `commits`, to compare two versions of the series.
fn trees(dir: &Path, commits: &[String]) -> Result<Vec<String>, String> {
    commits
        .iter()
        .map(|c| git_out(dir, &["rev-parse", &format!("{c}^{{tree}}")]))
        .collect()
}

/// `make series-edit`: (re)creates the edit work tree with one commit per patch of `series/`.
///
/// An existing work tree whose commits differ from `series/` is kept (it may hold work not yet
/// regenerated) unless `force`.
pub fn edit(layout: &Layout, force: bool) -> Result<bool, String> {
    let src = layout.src();
    let edit = EditTree::of(layout);
    let base = pinned(layout)?;
    let series = Series::load(&layout.repo)?;
    let who = Identity::of_repo(&layout.repo);
    let index = layout.cache.join("series-edit.index");
    let commits = series.commit_on(&src, &base.tag, &layout.repo, &index, &who)?;
    let head = commits.last().cloned().unwrap_or_else(|| base.tag.clone());
    if edit.exists() && !force {
        edit.check_clean()?;
        let current = edit.commits(&edit.base()?)?;
        if trees(&src, &current)? == trees(&src, &commits)? {
            println!(
                "{} already holds the series ({} commits on {})",
                edit.dir.display(),
                current.len(),
                edit.base()?.tag
            );
            print_howto(&edit.dir);
            return Ok(true);
        }
        return Err(format!(
            "{} holds a series that differs from series/ (work not regenerated yet, or series/ \
             changed since): run `make series-regen` to keep the work tree's version, or \
             `make series-edit FORCE=1` to replace it with series/",
            edit.dir.display()
        ));
    }
    if edit.exists() {
        let _ = git_out(&edit.dir, &["rebase", "--abort"]);
        let _ = git_out(&edit.dir, &["am", "--abort"]);
        git_out(&edit.dir, &["checkout", "-q", "-f", "-B", BRANCH, &head])?;
        git_out(&edit.dir, &["clean", "-q", "-f", "-d"])?;
    } else {
        println!(
            "  checking out the base with the series into {}",
            edit.dir.display()
        );
        tree::add_worktree(&src, &edit.dir, &["-f", "-B", BRANCH], &head)?;
    }
    edit.set_base(&base)?;
    println!(
        "{}: {} commits on {} ({} {})",
        edit.dir.display(),
        commits.len(),
        base.tag,
        BASE_PACKAGE,
        base.version
    );
    print_howto(&edit.dir);
    Ok(true)
}

fn print_howto(dir: &Path) {
    println!(
        "edit it with git, e.g.:
  cd {}
  git log --oneline base..          # one commit per patch
  git commit --fixup=<commit>       # a change that belongs in an earlier patch
  git rebase -i --autosquash base   # reorder, split (edit + git reset HEAD^), squash, reword
then write series/ back with `make series-regen`",
        dir.display()
    );
}

/// How one commit of the edit tree becomes a patch of `series/`.
struct Generated {
    subject: String,
    message: String,
    files: Vec<String>,
    diff_name: Option<String>,
    diff: String,
}

fn under_overlay_roots(path: &str) -> bool {
    OVERLAY_ROOTS
        .iter()
        .any(|root| path.strip_prefix(root).is_some_and(|r| r.starts_with('/')))
}

/// A file name for the diff of a patch, from its subject (as `git format-patch` does).
fn slug(subject: &str) -> String {
    let mut out = String::new();
    for c in subject.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut out = out.trim_matches('-').to_string();
    if out.len() > 60 {
        out.truncate(60);
        out = out.trim_end_matches('-').to_string();
    }
    out
}

/// Splits a commit message into subject and body, without trailing `Signed-off-by:` lines.
fn split_message(text: &str) -> (String, String) {
    let mut lines: Vec<&str> = text.trim_end().lines().collect();
    while lines
        .last()
        .is_some_and(|l| l.starts_with("Signed-off-by:") || l.trim().is_empty())
    {
        lines.pop();
    }
    let subject = lines.first().map_or("", |l| l.trim()).to_string();
    let body = lines
        .iter()
        .skip(1)
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string();
    (subject, body)
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A TOML multi-line basic string, one line of text per line.
fn toml_multiline(s: &str) -> String {
    let escaped = s.replace('\\', "\\\\").replace("\"\"\"", "\"\"\\\"");
    format!("\"\"\"\n{escaped}\n\"\"\"")
}

fn render_toml(patches: &[Generated]) -> String {
    let mut out = TOML_HEADER.to_string();
    for p in patches {
        out.push_str("\n[[patch]]\n");
        out.push_str(&format!("subject = {}\n", toml_str(&p.subject)));
        out.push_str(&format!("message = {}\n", toml_multiline(&p.message)));
        match p.files.len() {
            0 => out.push_str("files = []\n"),
            1 => out.push_str(&format!("files = [{}]\n", toml_str(&p.files[0]))),
            _ => {
                out.push_str("files = [\n");
                for f in &p.files {
                    out.push_str(&format!("    {},\n", toml_str(f)));
                }
                out.push_str("]\n");
            }
        }
        match &p.diff_name {
            Some(d) => out.push_str(&format!("diffs = [{}]\n", toml_str(d))),
            None => out.push_str("diffs = []\n"),
        }
    }
    out
}

/// `make series-regen`: writes `series/` (and the overlay's new files) from the edit tree.
pub fn regen(layout: &Layout) -> Result<bool, String> {
    let edit = EditTree::of(layout);
    if !edit.exists() {
        return Err("no edit work tree: run `make series-edit` first".to_string());
    }
    edit.check_clean()?;
    let base = edit.base()?;
    let commits = edit.commits(&base)?;
    let dir = &edit.dir;
    let in_base: BTreeSet<String> = git_out(dir, &["ls-tree", "-r", "--name-only", &base.tag])?
        .lines()
        .map(str::to_string)
        .collect();
    // The paths each commit changes, and the last commit that changes each path.
    let mut changed: Vec<Vec<(char, String)>> = Vec::new();
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    for (i, c) in commits.iter().enumerate() {
        let listing = git_out(
            dir,
            &[
                "diff-tree",
                "--no-commit-id",
                "--name-status",
                "-r",
                "--no-renames",
                &format!("{c}^"),
                c,
            ],
        )?;
        let mut paths = Vec::new();
        for line in listing.lines() {
            let (status, path) = line
                .split_once('\t')
                .ok_or_else(|| format!("unexpected git diff-tree line: {line}"))?;
            let status = status.chars().next().unwrap_or('M');
            last.insert(path.to_string(), i);
            paths.push((status, path.to_string()));
        }
        changed.push(paths);
    }
    let mut generated = Vec::new();
    let mut names = BTreeSet::new();
    let mut whole: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for (i, c) in commits.iter().enumerate() {
        let (subject, message) = split_message(&git_out(dir, &["log", "-1", "--format=%B", c])?);
        if subject.is_empty() {
            return Err(format!("commit {c} has no subject"));
        }
        let mut files = Vec::new();
        let mut diff_paths = Vec::new();
        for (status, path) in &changed[i] {
            let new_file = !in_base.contains(path) && under_overlay_roots(path);
            if new_file && *status != 'D' && last.get(path) == Some(&i) {
                files.push(path.clone());
            } else {
                diff_paths.push(path.clone());
            }
        }
        for f in &files {
            let mode = git_out(dir, &["ls-tree", c, "--", f])?;
            whole.insert(f.clone(), (format!("{c}:{f}"), mode.starts_with("100755")));
        }
        let (diff_name, diff) = if diff_paths.is_empty() {
            (None, String::new())
        } else {
            let mut name = slug(&subject);
            let stem = name.clone();
            let mut n = 2;
            while !names.insert(name.clone()) {
                name = format!("{stem}-{n}");
                n += 1;
            }
            let mut d = git(dir);
            d.args([
                "diff",
                "--no-color",
                "--no-ext-diff",
                "--no-renames",
                &format!("{c}^"),
                c,
                "--",
            ])
            .args(&diff_paths);
            let text = cmd::output_of(&mut d)?;
            (Some(format!("series/diffs/{name}.diff")), text)
        };
        generated.push(Generated {
            subject,
            message,
            files,
            diff_name,
            diff,
        });
    }

    // Write: the new files' final versions, the diffs, series.toml; drop what no patch has.
    let repo = &layout.repo;
    for (path, (object, executable)) in &whole {
        let mut show = git(dir);
        show.args(["cat-file", "blob", object]);
        let out = show
            .output()
            .map_err(|e| format!("git cat-file {object}: {e}"))?;
        if !out.status.success() {
            return Err(format!("git cat-file {object} failed"));
        }
        let target = repo.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        if fs::read(&target).ok().as_deref() != Some(out.stdout.as_slice()) {
            fs::write(&target, &out.stdout).map_err(|e| format!("{}: {e}", target.display()))?;
        }
        set_executable(&target, *executable)?;
    }
    for stale in overlay_files(repo) {
        if !whole.contains_key(&stale) {
            println!("  removing {stale} (no patch adds it whole)");
            fs::remove_file(repo.join(&stale)).map_err(|e| format!("{stale}: {e}"))?;
            remove_empty_parents(repo, &stale);
        }
    }
    let diffs_dir = repo.join("series/diffs");
    if let Ok(entries) = fs::read_dir(&diffs_dir) {
        for entry in entries.flatten() {
            if entry.path().extension().is_some_and(|e| e == "diff") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    fs::create_dir_all(&diffs_dir).map_err(|e| format!("{}: {e}", diffs_dir.display()))?;
    for g in &generated {
        if let Some(name) = &g.diff_name {
            fs::write(repo.join(name), &g.diff).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    fs::write(repo.join("series/series.toml"), render_toml(&generated))
        .map_err(|e| format!("series/series.toml: {e}"))?;
    let pinned = pinned(layout)?;
    if pinned.version != base.version {
        let file = repo.join(BASE_VERSION_FILE);
        let text = fs::read_to_string(&file).map_err(|e| e.to_string())?;
        let mut replaced = false;
        let lines: Vec<String> = text
            .lines()
            .map(|l| {
                if !replaced && !l.trim().is_empty() && !l.trim_start().starts_with('#') {
                    replaced = true;
                    base.version.clone()
                } else {
                    l.to_string()
                }
            })
            .collect();
        fs::write(&file, lines.join("\n") + "\n").map_err(|e| e.to_string())?;
        println!(
            "  {BASE_VERSION_FILE}: {} -> {} (the next `make test` installs it)",
            pinned.version, base.version
        );
    }

    // Round trip: series/ must give back the trees of the edit tree, commit by commit.
    let series = Series::load(repo)?;
    series.check_new_files(dir, &base.tag)?;
    let who = Identity::of_repo(repo);
    let index = layout.cache.join("series-regen.index");
    let again = series.commit_on(dir, &base.tag, repo, &index, &who)?;
    let (want, got) = (trees(dir, &commits)?, trees(dir, &again)?);
    if want != got {
        return Err(
            "series/ does not reproduce the edit tree's commits (a bug of series-regen)"
                .to_string(),
        );
    }
    for (g, c) in generated.iter().zip(&commits) {
        let stat = git_out(dir, &["diff", "--shortstat", &format!("{c}^"), c])?;
        println!("  {:<72} {}", g.subject, stat.trim());
    }
    println!(
        "series/: {} patches on {} ({BASE_PACKAGE} {}); applying them gives back the edit \
         tree's commits",
        generated.len(),
        base.tag,
        base.version
    );
    Ok(true)
}

fn set_executable(path: &Path, executable: bool) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut perms = meta.permissions();
    let mode = if executable {
        perms.mode() | 0o111
    } else {
        perms.mode() & !0o111
    };
    if mode != perms.mode() {
        perms.set_mode(mode);
        fs::set_permissions(path, perms).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn remove_empty_parents(repo: &Path, rel: &str) {
    let mut dir = Path::new(rel).parent();
    while let Some(d) = dir {
        if d.as_os_str().is_empty() || fs::remove_dir(repo.join(d)).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// A tag name for a Debian version (`~` and `:` are not allowed in git ref names).
fn tag_for(version: &str) -> String {
    let clean: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("base-{clean}")
}

/// Makes sure the source repository has `version` of the base package as a tag, importing it
/// (download with `apt-get download`, unpack, commit) when it does not. The installed package
/// and the tag `base` are left alone.
fn ensure_other_base(layout: &Layout, version: &str) -> Result<BaseRef, String> {
    let src = layout.src();
    let pinned = pinned(layout)?;
    if version == pinned.version {
        return Ok(pinned);
    }
    let tag = tag_for(version);
    if git_out(
        &src,
        &["rev-parse", "-q", "--verify", &format!("{tag}^{{commit}}")],
    )
    .is_ok()
    {
        return Ok(BaseRef {
            tag,
            version: version.to_string(),
        });
    }
    let dir = layout.cache.join("bases").join(version);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let find_deb = || -> Option<PathBuf> {
        fs::read_dir(&dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
    };
    if find_deb().is_none() {
        println!("  downloading {BASE_PACKAGE}={version} (apt-get download)");
        let mut dl = Command::new("apt-get");
        dl.current_dir(&dir)
            .args(["download", &format!("{BASE_PACKAGE}={version}")]);
        cmd::output_of(&mut dl).map_err(|e| {
            format!(
                "cannot download {BASE_PACKAGE}={version}: {e}\n  \
                 `apt-cache policy {BASE_PACKAGE}` lists the versions apt offers"
            )
        })?;
    }
    let deb = find_deb().ok_or("apt-get download left no .deb")?;
    println!("  unpacking {} and committing it as {tag}", deb.display());
    let unpack = dir.join("unpack");
    let _ = fs::remove_dir_all(&unpack);
    fs::create_dir_all(&unpack).map_err(|e| e.to_string())?;
    let mut sh = Command::new("sh");
    sh.current_dir(&unpack).arg("-c").arg(
        "dpkg-deb --fsys-tarfile \"$1\" | tar -xO ./usr/src/linux-source-6.12.tar.xz | tar -xJ",
    );
    sh.arg("sh").arg(&deb);
    cmd::output_of(&mut sh)?;
    let tree_dir = unpack.join("linux-source-6.12");
    let index = dir.join("index");
    let _ = fs::remove_file(&index);
    let mut add = git(&src);
    add.env("GIT_INDEX_FILE", &index)
        .arg("--work-tree")
        .arg(&tree_dir)
        .args(["add", "-f", "-A", "."]);
    cmd::output_of(&mut add)?;
    let mut write = git(&src);
    write.env("GIT_INDEX_FILE", &index).arg("write-tree");
    let tree = cmd::output_of(&mut write)?.trim().to_string();
    let kernel = tree::read_version(&tree_dir).unwrap_or_default();
    let commit = git_out(
        &src,
        &[
            "commit-tree",
            &tree,
            "-m",
            &format!("Linux {kernel} (Debian {BASE_PACKAGE} {version})"),
        ],
    )?;
    git_out(&src, &["tag", "-f", &tag, &commit])?;
    let _ = fs::remove_dir_all(&unpack);
    let _ = fs::remove_file(&index);
    Ok(BaseRef {
        tag,
        version: version.to_string(),
    })
}

/// `make series-rebase BASE=VERSION`: rebases the edit tree's series onto another version of
/// the base package with `git rebase`, reporting each conflict.
pub fn rebase(layout: &Layout, version: &str) -> Result<bool, String> {
    let edit = EditTree::of(layout);
    if !edit.exists() {
        edit_quiet(layout)?;
    }
    edit.check_clean()?;
    let from = edit.base()?;
    let to = ensure_other_base(layout, version)?;
    let count = edit.commits(&from)?.len();
    println!(
        "rebasing {count} patches from {} ({}) onto {} ({})",
        from.tag, from.version, to.tag, to.version
    );
    // The files of the series that the new base changes too: git merges them (or stops).
    let ours = git_out(&edit.dir, &["diff", "--name-only", &from.tag, "HEAD"])?;
    let ours: Vec<&str> = ours.lines().collect();
    let mut both = git(&edit.dir);
    both.args(["diff", "--name-only", &from.tag, &to.tag, "--"])
        .args(&ours);
    let both = cmd::output_of(&mut both)?;
    let merged: Vec<&str> = both.lines().collect();
    // Recorded first: after resolving conflicts by hand, series-regen must know the new base.
    edit.set_base(&to)?;
    let mut rb = git(&edit.dir);
    rb.args(["rebase", "--onto", &to.tag, &from.tag, BRANCH]);
    let out = rb
        .output()
        .map_err(|e| format!("cannot run git rebase: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        let patches = edit.commits(&to)?;
        println!(
            "rebased cleanly: {} patches on {}; files of the series that the new base changes \
             too, merged by git: {}",
            patches.len(),
            to.tag,
            if merged.is_empty() {
                "none".to_string()
            } else {
                merged.join(", ")
            }
        );
        println!(
            "build and test it, then `make series-regen` writes series/ and {BASE_VERSION_FILE}"
        );
        return Ok(true);
    }
    let conflicted = git_out(&edit.dir, &["diff", "--name-only", "--diff-filter=U"])?;
    let stopped_at = git_out(&edit.dir, &["log", "-1", "--format=%s", "REBASE_HEAD"])
        .unwrap_or_else(|_| "?".to_string());
    println!("CONFLICT while applying \"{stopped_at}\":");
    for f in conflicted.lines() {
        println!("  {f}");
    }
    if conflicted.is_empty() {
        println!("{}", cmd::tail(&text, 20));
    }
    println!(
        "resolve them in {}: edit, `git add <file>`, `git rebase --continue` (repeat for \
         each patch that conflicts), then `make series-regen`; `git rebase --abort` and \
         `make series-edit FORCE=1` start again",
        edit.dir.display()
    );
    Ok(false)
}

/// Creates the edit tree from `series/` when it does not exist.
fn edit_quiet(layout: &Layout) -> Result<(), String> {
    edit(layout, false).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::{slug, split_message, tag_for, toml_multiline, under_overlay_roots};

    #[test]
    fn names_and_messages() {
        assert_eq!(
            slug("rust: mm: add Mm and MmWithUser, mmap lock guards"),
            "rust-mm-add-mm-and-mmwithuser-mmap-lock-guards"
        );
        let (s, b) = split_message("rust: x: y\n\nWhy.\n\nMore.\n\nSigned-off-by: A <a@b>\n");
        assert_eq!(s, "rust: x: y");
        assert_eq!(b, "Why.\n\nMore.");
        assert_eq!(tag_for("6.12.115-2~deb12u1"), "base-6.12.115-2_deb12u1");
        assert!(under_overlay_roots("rust/kernel/mm.rs"));
        assert!(!under_overlay_roots("rustfoo/x"));
        assert!(!under_overlay_roots("MAINTAINERS"));
        let m = toml_multiline("a \\ b \"\"\" c");
        let v: toml::Value = toml::from_str(&format!("m = {m}")).unwrap();
        assert_eq!(v["m"].as_str(), Some("a \\ b \"\"\" c\n"));
    }
}
