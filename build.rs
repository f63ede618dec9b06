//! Records the git commit the binary is built from (`themes version`):
//! `THEMES_GIT_COMMIT` (short hash, `-dirty` when tracked files had
//! changes), `THEMES_GIT_DATE` (the commit's date) and `THEMES_TARGET`.
//! Without git or outside a repository (a source tarball) both are
//! "unknown": the build never fails on their account.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    out.status.success().then(|| text.trim().to_owned())
}

/// Whether the package is the top of its own repository (not a tarball
/// unpacked inside someone else's).
fn own_repository() -> bool {
    let here = std::env::var("CARGO_MANIFEST_DIR").ok().and_then(|d| std::fs::canonicalize(d).ok());
    let top = git(&["rev-parse", "--show-toplevel"]).and_then(|t| std::fs::canonicalize(t).ok());
    here.is_some() && here == top
}

fn watch(path: &str) {
    if std::path::Path::new(path).exists() {
        println!("cargo:rerun-if-changed={path}");
    }
}

fn main() {
    let commit = own_repository().then(|| git(&["rev-parse", "--short=12", "HEAD"])).flatten();
    let date = commit.as_ref().and_then(|_| git(&["log", "-1", "--format=%cs"]));
    let dirty = commit.as_ref().and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"])).is_some_and(|s| !s.is_empty());
    let commit = match commit {
        Some(c) if dirty => format!("{c}-dirty"),
        Some(c) => c,
        None => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=THEMES_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=THEMES_GIT_DATE={}", date.unwrap_or_else(|| "unknown".to_owned()));
    println!("cargo:rustc-env=THEMES_TARGET={}", std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned()));
    // Run again when the commit or the tracked files change (a new commit,
    // a checkout, an edit that makes the tree dirty or clean again).
    for path in ["build.rs", "Cargo.toml", "Cargo.lock", "src", "data", "tests", "models/models.toml"] {
        watch(path);
    }
    for name in ["HEAD", "index", "packed-refs"] {
        if let Some(path) = git(&["rev-parse", "--git-path", name]) {
            watch(&path);
        }
    }
    if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(path) = git(&["rev-parse", "--git-path", &head]) {
            watch(&path);
        }
    }
}
