//! The stages joined: an article's paragraphs and their units are embedded
//! (through the cache), scored by the classifier and handed back as
//! predictions, one article at a time, so memory stays flat however large
//! the input.

use crate::cache::CachedEmbedder;
use crate::classify::{classify_article, segment, Combiner, Evidence, LabelVectors, ParagraphInput};
use crate::error::{Error, Result};
use crate::input::{normalize, Article};
use crate::labels::LabelSet;

/// One paragraph's prediction.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// 1-based paragraph number.
    pub paragraph: usize,
    /// Score per label, in label-set order.
    pub scores: Vec<f32>,
    /// Indices of the labels whose score reached their threshold.
    pub labels: Vec<usize>,
    /// Evidence per label.
    pub evidence: Vec<Vec<Evidence>>,
    /// Features per label (for training and error study).
    pub features: Vec<Vec<f32>>,
    /// Word pieces of the paragraph.
    pub tokens: usize,
    /// The paragraph's vector.
    pub vector: Vec<f32>,
    /// Cosine of the paragraph to each label's main description: what a
    /// plain embedding-cosine script scores, kept as the eval's anchor.
    pub description_similarity: Vec<f32>,
}

/// A label set made ready to score: its prototypes embedded.
pub struct PreparedLabels<'a> {
    /// The label set.
    pub set: &'a LabelSet,
    /// Each label's prototype vectors.
    pub vectors: Vec<LabelVectors>,
    /// Each label's bias in the combiner.
    pub biases: Vec<f32>,
    /// Each label's threshold.
    pub thresholds: Vec<f32>,
    /// The scoring model.
    pub combiner: &'a Combiner,
}

impl<'a> PreparedLabels<'a> {
    /// Embeds the label set's descriptions, examples and negatives.
    pub fn new(set: &'a LabelSet, combiner: &'a Combiner, embedder: &mut CachedEmbedder) -> Result<Self> {
        if !combiner.is_compatible() {
            return Err(Error::Usage(
                "the label set's [classifier] table was made for another version of themes; retrain it with `themes train`"
                    .to_owned(),
            ));
        }
        let mut vectors = Vec::with_capacity(set.labels.len());
        for label in &set.labels {
            let positives: Vec<String> = std::iter::once(&label.description)
                .chain(&label.descriptions)
                .chain(&label.examples)
                .map(|t| normalize(t))
                .collect();
            let negatives: Vec<String> = label.negatives.iter().map(|t| normalize(t)).collect();
            let embed = |e: &mut CachedEmbedder, texts: &[String]| -> Result<Vec<Vec<f32>>> {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                Ok(e.embed(&refs)?.into_iter().map(|x| x.vector).collect())
            };
            vectors.push(LabelVectors { positives: embed(embedder, &positives)?, negatives: embed(embedder, &negatives)? });
        }
        Ok(PreparedLabels {
            set,
            vectors,
            biases: set.labels.iter().map(|l| l.bias).collect(),
            thresholds: set.thresholds(),
            combiner,
        })
    }
}

/// Embeds and scores one article.
pub fn label_article(article: &Article, labels: &PreparedLabels, embedder: &mut CachedEmbedder) -> Result<Vec<Prediction>> {
    let normalized: Vec<String> = article.paragraphs.iter().map(|p| normalize(p)).collect();
    let units: Vec<Vec<&str>> = normalized.iter().map(|p| segment::units(p)).collect();
    // One embedding call per article: paragraphs and units together, so the
    // batches are full and the cache is asked once.
    let mut texts: Vec<&str> = normalized.iter().map(String::as_str).collect();
    for u in &units {
        texts.extend(u.iter().copied());
    }
    let embedded = embedder.embed(&texts)?;
    let (paragraph_vectors, unit_vectors) = embedded.split_at(normalized.len());
    let mut unit_iter = unit_vectors.iter();
    let inputs: Vec<ParagraphInput> = normalized
        .iter()
        .zip(paragraph_vectors)
        .zip(&units)
        .map(|((text, e), us)| ParagraphInput {
            text,
            vector: &e.vector,
            units: us.iter().map(|u| (*u, unit_iter.next().map(|x| x.vector.as_slice()).unwrap_or(&[]))).collect(),
            aliases: labels.set.labels.iter().map(|l| l.alias_terms(text)).collect(),
        })
        .collect();
    let scored = classify_article(&inputs, &labels.vectors, &labels.biases, labels.combiner);
    Ok(scored
        .into_iter()
        .zip(paragraph_vectors)
        .enumerate()
        .map(|(i, (s, e))| Prediction {
            paragraph: i + 1,
            labels: (0..s.scores.len()).filter(|&j| s.scores[j] >= labels.thresholds[j]).collect(),
            scores: s.scores,
            evidence: s.evidence,
            features: s.features,
            tokens: e.tokens,
            description_similarity: labels
                .vectors
                .iter()
                .map(|l| l.positives.first().map_or(0.0, |d| crate::embed::cosine(&e.vector, d)))
                .collect(),
            vector: e.vector.clone(),
        })
        .collect())
}
