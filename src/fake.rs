//! A stand-in for the model in unit tests: a deterministic bag-of-words
//! embedder, so the engine and the jobs are tested without loading one.
//! Texts sharing words get close vectors, which is all the orchestration
//! needs.

use crate::embed::{Embed, Embedded, LongText, ModelIdentity, Passage};
use crate::error::Result;
use crate::model::st::Pooling;

/// Hashes each lower-cased word into one of `dim` buckets.
pub struct FakeEmbedder {
    identity: ModelIdentity,
    dim: usize,
}

// As wide as the default model, whose gold centroids the built-in set carries.
const DIM: usize = 384;

impl FakeEmbedder {
    /// A stand-in for the default model, as wide as it.
    pub fn new() -> FakeEmbedder {
        FakeEmbedder::with_dim(DIM)
    }

    /// The same with `dim` buckets (tests that want small vectors).
    pub fn with_dim(dim: usize) -> FakeEmbedder {
        FakeEmbedder {
            dim,
            identity: ModelIdentity {
                // It stands in for the default model, whose learned weights
                // the built-in label set carries.
                name: crate::model::registry::DEFAULT_MODEL.to_owned(),
                revision: "test".to_owned(),
                pooling: Pooling::Mean,
                max_seq_length: 256,
                normalize: true,
                dtype: "f32".to_owned(),
            },
        }
    }
}

impl Embed for FakeEmbedder {
    fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed_passages(&self, passages: &[Passage], _: LongText) -> Result<Vec<Embedded>> {
        Ok(passages
            .iter()
            .map(|p| {
                let (vector, words) = bag_of_words(p.text, self.dim);
                let spans = p.spans.iter().map(|r| bag_of_words(&p.text[r.clone()], self.dim).0).collect();
                Embedded { vector, tokens: words + 2, truncated: false, windows: Vec::new(), spans }
            })
            .collect())
    }
}

/// The normalized word-bucket counts of a text, and its word count.
fn bag_of_words(text: &str, dim: usize) -> (Vec<f32>, usize) {
    let mut vector = vec![0f32; dim];
    let words: Vec<String> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2).map(str::to_lowercase).collect();
    for w in &words {
        let h = w.bytes().fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
        vector[h as usize % dim] += 1.0;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    vector.iter_mut().for_each(|x| *x /= norm);
    (vector, words.len())
}
