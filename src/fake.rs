//! A stand-in for the model in unit tests: a deterministic bag-of-words
//! embedder, so the engine and the jobs are tested without loading one.
//! Texts sharing words get close vectors, which is all the orchestration
//! needs.

use crate::embed::{Embed, Embedded, LongText, ModelIdentity, Passage};
use crate::error::Result;
use crate::model::st::Pooling;

/// Hashes each lower-cased word into one of `DIM` buckets.
pub struct FakeEmbedder {
    identity: ModelIdentity,
}

const DIM: usize = 64;

impl FakeEmbedder {
    /// A fake model named `fake`.
    pub fn new() -> FakeEmbedder {
        FakeEmbedder {
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
        DIM
    }

    fn embed_passages(&self, passages: &[Passage], _: LongText) -> Result<Vec<Embedded>> {
        Ok(passages
            .iter()
            .map(|p| {
                let (vector, words) = bag_of_words(p.text);
                let spans = p.spans.iter().map(|r| bag_of_words(&p.text[r.clone()]).0).collect();
                Embedded { vector, tokens: words + 2, truncated: false, windows: Vec::new(), spans }
            })
            .collect())
    }
}

/// The normalized word-bucket counts of a text, and its word count.
fn bag_of_words(text: &str) -> (Vec<f32>, usize) {
    let mut vector = vec![0f32; DIM];
    let words: Vec<String> = text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2).map(str::to_lowercase).collect();
    for w in &words {
        let h = w.bytes().fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
        vector[h as usize % DIM] += 1.0;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    vector.iter_mut().for_each(|x| *x /= norm);
    (vector, words.len())
}
