//! The sentence-transformers side of a model folder: which pooling the model
//! was trained with, its maximum sequence length and whether its vectors are
//! normalized. These live in `modules.json`, `1_Pooling/config.json` and
//! `sentence_bert_config.json`; a plain Hugging Face folder without them
//! gets the common defaults (mean pooling, 512 tokens, no normalization).

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Location, Result};

/// How token vectors become one text vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean of the token vectors, padding excluded.
    Mean,
    /// The first (`[CLS]`) token's vector.
    Cls,
    /// Element-wise maximum over the tokens, padding excluded.
    Max,
}

/// What sentence-transformers does around the transformer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentenceConfig {
    /// Pooling mode.
    pub pooling: Pooling,
    /// Longest input in word pieces, special tokens included.
    pub max_seq_length: usize,
    /// Whether a `Normalize` module follows pooling.
    pub normalize: bool,
}

#[derive(Deserialize)]
struct ModuleEntry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    path: String,
}

#[derive(Deserialize)]
struct PoolingFile {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceBertFile {
    max_seq_length: Option<usize>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::invalid(Location::line(path, e.line()), format!("not a valid sentence-transformers file: {e}"))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

impl SentenceConfig {
    /// Reads the sentence-transformers files of a model folder;
    /// `position_limit` is the transformer's `max_position_embeddings`,
    /// which caps the sequence length.
    pub fn read(dir: &Path, position_limit: usize) -> Result<Self> {
        let modules: Vec<ModuleEntry> = read_json(&dir.join("modules.json"))?.unwrap_or_default();
        let normalize = modules.iter().any(|m| m.kind.ends_with(".Normalize"));
        let pooling_dir = modules
            .iter()
            .find(|m| m.kind.ends_with(".Pooling"))
            .map(|m| m.path.clone())
            .unwrap_or_else(|| "1_Pooling".to_owned());
        let pooling_path = dir.join(pooling_dir).join("config.json");
        let pooling = match read_json::<PoolingFile>(&pooling_path)? {
            None => Pooling::Mean,
            Some(p) => {
                if p.pooling_mode_mean_sqrt_len_tokens {
                    return Err(Error::invalid(
                        Location::file(&pooling_path),
                        "pooling mode mean_sqrt_len_tokens is not supported; use a model with mean, CLS or max pooling",
                    ));
                }
                match (p.pooling_mode_cls_token, p.pooling_mode_mean_tokens, p.pooling_mode_max_tokens) {
                    (true, false, false) => Pooling::Cls,
                    (false, false, true) => Pooling::Max,
                    (false, true, false) | (false, false, false) => Pooling::Mean,
                    _ => {
                        return Err(Error::invalid(
                            Location::file(&pooling_path),
                            "several pooling modes at once are not supported; choose one of mean, CLS or max",
                        ))
                    }
                }
            }
        };
        let st: Option<SentenceBertFile> = read_json(&dir.join("sentence_bert_config.json"))?;
        let max_seq_length =
            st.and_then(|s| s.max_seq_length).unwrap_or(position_limit).min(position_limit);
        Ok(SentenceConfig { pooling, max_seq_length, normalize })
    }
}
