//! The all-exports module: an out-of-tree module (`external/rust_all_exports/`) that names every
//! public function and trait of our kernel Rust files, built with `make M=` against the test
//! kernel so that modpost proves each one is usable from a loadable module.
//!
//! This file has the host side: which public items our files have, and whether the module
//! names each of them. The build itself is in `build::external_module`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// Where the module's source lives in the repository.
pub const MODULE_DIR: &str = "external/rust_all_exports";
/// Its source file.
pub const MODULE_SOURCE: &str = "external/rust_all_exports/rust_all_exports.rs";

/// Our kernel crate files (`rust/kernel/**/*.rs` of the repository), relative to it.
pub fn kernel_crate_files(repo: &Path) -> Vec<String> {
    fn walk(dir: &Path, repo: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, repo, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                if let Ok(rel) = path.strip_prefix(repo) {
                    out.push(rel.display().to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&repo.join("rust/kernel"), repo, &mut out);
    out.sort();
    out
}

/// Every public item of our kernel crate files that the all-exports module does not name: the
/// new files of the repository and `changed_base_files`, the files of the base that the series
/// changes (their patched versions, e.g. `rust/kernel/page.rs` of the built tree).
pub fn unnamed_items(repo: &Path, changed_base_files: &[PathBuf]) -> Result<Vec<Item>, String> {
    let module = std::fs::read_to_string(repo.join(MODULE_SOURCE))
        .map_err(|e| format!("{MODULE_SOURCE}: {e}"))?;
    let mut required = BTreeSet::new();
    let files = kernel_crate_files(repo)
        .into_iter()
        .map(|f| repo.join(f))
        .chain(changed_base_files.iter().cloned());
    for file in files {
        let name = file.display();
        let source = std::fs::read_to_string(&file).map_err(|e| format!("{name}: {e}"))?;
        required.extend(public_items(&source).map_err(|e| format!("{name}: {e}"))?);
    }
    if required.len() < 100 {
        return Err(format!(
            "only {} public items found in rust/kernel/",
            required.len()
        ));
    }
    missing(&required, &module)
}

/// A public item a module must be able to use.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Item {
    /// `pub fn name` of `impl Owner { .. }` (`owner` is `Some`) or a free `pub fn`.
    Fn { owner: Option<String>, name: String },
    /// `pub trait name`, which a module uses by implementing it.
    Trait(String),
    /// `pub trait name: Sealed`, which a module cannot implement and uses by naming it (as a
    /// bound or in a path).
    SealedTrait(String),
}

impl std::fmt::Display for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Fn {
                owner: Some(o),
                name,
            } => write!(f, "{o}::{name}"),
            Item::Fn { owner: None, name } => write!(f, "fn {name}"),
            Item::Trait(t) => write!(f, "trait {t}"),
            Item::SealedTrait(t) => write!(f, "sealed trait {t}"),
        }
    }
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn collect_items(items: &[syn::Item], out: &mut BTreeSet<Item>) {
    for item in items {
        match item {
            syn::Item::Fn(f) if is_pub(&f.vis) => {
                out.insert(Item::Fn {
                    owner: None,
                    name: f.sig.ident.to_string(),
                });
            }
            syn::Item::Impl(imp) if imp.trait_.is_none() => {
                let Some(owner) = type_name(&imp.self_ty) else {
                    continue;
                };
                for member in &imp.items {
                    if let syn::ImplItem::Fn(f) = member {
                        if is_pub(&f.vis) {
                            out.insert(Item::Fn {
                                owner: Some(owner.clone()),
                                name: f.sig.ident.to_string(),
                            });
                        }
                    }
                }
            }
            // `Sealed` itself only keeps other crates from implementing a trait.
            syn::Item::Trait(t) if is_pub(&t.vis) && t.ident != "Sealed" => {
                let sealed = t.supertraits.iter().any(|bound| {
                    matches!(bound, syn::TypeParamBound::Trait(b)
                        if b.path.segments.last().is_some_and(|s| s.ident == "Sealed"))
                });
                let name = t.ident.to_string();
                out.insert(if sealed {
                    Item::SealedTrait(name)
                } else {
                    Item::Trait(name)
                });
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    collect_items(inner, out);
                }
            }
            _ => {}
        }
    }
}

/// The public functions and traits of a kernel Rust file.
pub fn public_items(source: &str) -> Result<BTreeSet<Item>, String> {
    let file = syn::parse_file(source).map_err(|e| e.to_string())?;
    let mut out = BTreeSet::new();
    collect_items(&file.items, &mut out);
    Ok(out)
}

/// What a module's source names: the last two segments of every path, and implemented traits.
#[derive(Default)]
struct Names {
    /// `(Some(second-to-last), last)` and `(None, last)` of every path.
    paths: BTreeSet<(Option<String>, String)>,
    traits: BTreeSet<String>,
}

impl<'ast> Visit<'ast> for Names {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segs: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if let Some(last) = segs.last() {
            self.paths.insert((None, last.clone()));
            if segs.len() >= 2 {
                self.paths
                    .insert((Some(segs[segs.len() - 2].clone()), last.clone()));
            }
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_item_impl(&mut self, imp: &'ast syn::ItemImpl) {
        if let Some((_, path, _)) = &imp.trait_ {
            if let Some(last) = path.segments.last() {
                self.traits.insert(last.ident.to_string());
            }
        }
        syn::visit::visit_item_impl(self, imp);
    }
}

/// The items of `required` that the module source `module` does not name: a method as
/// `Owner::method` (with any generic arguments), a free function by its name, a trait by an
/// `impl` of it, a sealed trait by its name.
pub fn missing(required: &BTreeSet<Item>, module: &str) -> Result<Vec<Item>, String> {
    let file = syn::parse_file(module).map_err(|e| e.to_string())?;
    let mut names = Names::default();
    names.visit_file(&file);
    Ok(required
        .iter()
        .filter(|item| match item {
            Item::Fn { owner, name } => !names.paths.contains(&(owner.clone(), name.clone())),
            Item::Trait(t) => !names.traits.contains(t),
            Item::SealedTrait(t) => !names.paths.contains(&(None, t.clone())),
        })
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNEL_FILE: &str = r#"
pub fn free_fn() {}
fn private_fn() {}
pub struct Pool<const N: usize>;
impl<const N: usize> Pool<N> {
    pub fn new() -> Self { Pool }
    pub(crate) fn internal(&self) {}
    fn hidden(&self) {}
}
impl<const N: usize> Drop for Pool<N> { fn drop(&mut self) {} }
pub trait Hook { fn call(); }
mod private { pub trait Sealed {} }
pub trait Mode: private::Sealed { fn unlock(); }
#[cfg(CONFIG_X)]
mod inner {
    impl super::Pool<1> {
        pub fn gated(&self) {}
    }
}
"#;

    #[test]
    fn finds_public_functions_methods_and_traits() {
        let items = public_items(KERNEL_FILE).unwrap();
        let shown: Vec<String> = items.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "fn free_fn",
                "Pool::gated",
                "Pool::new",
                "trait Hook",
                "sealed trait Mode"
            ],
            "{shown:?}"
        );
    }

    #[test]
    fn reports_what_the_module_does_not_name() {
        let items = public_items(KERNEL_FILE).unwrap();
        let module = r#"
use kernel::x::{self, Pool};
struct Mine;
impl Hook for Mine { fn call() {} }
fn f() {
    keep(Pool::<4>::new as fn() -> _);
    keep(x::free_fn as fn());
}
"#;
        let missing: Vec<String> = missing(&items, module)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(missing, ["Pool::gated", "sealed trait Mode"]);
        // A sealed trait cannot be implemented: naming it is enough.
        let named = format!("{module}\nfn g<M: Mode>() {{}}");
        assert_eq!(missing_names(&items, &named), ["Pool::gated"]);
        // A method called with method syntax is not named as a path: it does not count,
        // because nothing then forces its instantiation in the module.
        let by_method = "fn f(p: &Pool<1>) { p.gated(); }";
        assert!(missing_names(&items, by_method).contains(&"Pool::gated".to_string()));
    }

    fn missing_names(items: &BTreeSet<Item>, module: &str) -> Vec<String> {
        missing(items, module)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}
