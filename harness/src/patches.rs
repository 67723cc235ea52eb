//! The exported series must apply with `git am` to a pristine base and pass
//! `scripts/checkpatch.pl --strict` without errors or warnings.

use crate::cmd;
use crate::layout::Layout;
use crate::report::Tally;
use crate::series;
use crate::tree::{git, git_out};
use std::path::{Path, PathBuf};

/// Exports the series ending at `head` into `out/patches` and returns the patch files.
pub fn export(layout: &Layout, head: &str) -> Result<Vec<PathBuf>, String> {
    series::export(&layout.src(), head, &layout.out().join("patches"))
}

/// Applies `patches` with `git am` on a fresh checkout of `base`, compares the result with
/// the tree of `head`, and runs checkpatch on each patch.
pub fn check(layout: &Layout, head: &str, patches: &[PathBuf]) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let am = layout.am_check();
    let src = layout.src();
    if !am.join(".git").exists() {
        crate::tree::add_worktree(&src, &am, &["--detach"], "base")?;
    }
    let _ = git_out(&am, &["am", "--abort"]);
    git_out(&am, &["checkout", "-q", "-f", "--detach", "base"])?;
    git_out(&am, &["clean", "-q", "-f", "-d", "-x"])?;
    if !patches.is_empty() {
        let mut apply = git(&am);
        apply.args(["am", "-q"]).args(patches);
        let applied = cmd::output_of(&mut apply);
        tally.check(
            applied.is_ok(),
            format!(
                "git am on the pristine base failed: {}",
                applied.err().unwrap_or_default()
            ),
        );
    }
    let want = git_out(&src, &["rev-parse", &format!("{head}^{{tree}}")])?;
    let got = git_out(&am, &["rev-parse", "HEAD^{tree}"])?;
    tally.check(
        want == got,
        "the series applied with git am differs from the tree that was built",
    );
    for patch in patches {
        tally.check_result(checkpatch(&am, patch));
    }
    Ok(tally)
}

fn checkpatch(tree: &Path, patch: &Path) -> Result<(), String> {
    let mut c = std::process::Command::new("perl");
    c.current_dir(tree)
        .args([
            "scripts/checkpatch.pl",
            "--strict",
            "--no-color",
            "--show-types",
        ])
        .arg(patch);
    let out = c
        .output()
        .map_err(|e| format!("cannot run checkpatch: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("ERROR:") || l.starts_with("WARNING:"))
        .collect();
    let name = patch.file_name().unwrap_or_default().to_string_lossy();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("checkpatch {name}:\n{}", cmd::tail(&text, 40)))
    }
}
