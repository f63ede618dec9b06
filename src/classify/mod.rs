//! Classify: scores every paragraph of an article against every label.
//! Pure: takes texts and vectors, returns scores in [0, 1] and the evidence
//! behind them; it never loads a model or touches a file.
//!
//! A paragraph's score for a label combines, through a small logistic model
//! ([`Combiner`]), evidence that generalizes across labels:
//! - how close the paragraph, and the closest of its sentences, clauses and
//!   list items ([`segment`]), come to the label's descriptions and examples;
//! - how close it comes to the label's "not this" sentences;
//! - whether a label alias (an acronym or name the model may not know)
//!   appears in it;
//! - the article around it: the headline, the neighbouring paragraphs and
//!   the article's overall leaning towards the label;
//! - its length (page furniture is short).
//!
//! The combiner's weights are shared by all labels, with a per-label bias,
//! so a label a user adds is scored by the same learned rules.

pub mod segment;

use serde::{Deserialize, Serialize};

use crate::embed::cosine;

/// Names of the features, in the order [`Combiner::weights`] uses.
pub const FEATURES: &[&str] = &[
    "best_unit",
    "paragraph",
    "negative",
    "alias",
    "margin",
    "article_mean",
    "article_max",
    "headline",
    "neighbours",
    "article_alias",
    "log_words",
    "short",
];

/// A label's prototypes as vectors.
#[derive(Debug, Clone)]
pub struct LabelVectors {
    /// The description(s) and examples.
    pub positives: Vec<Vec<f32>>,
    /// The "not this" sentences.
    pub negatives: Vec<Vec<f32>>,
}

/// One paragraph as the classifier sees it.
#[derive(Debug, Clone)]
pub struct ParagraphInput<'a> {
    /// The text (as given).
    pub text: &'a str,
    /// The paragraph's vector.
    pub vector: &'a [f32],
    /// Its finer units and their vectors.
    pub units: Vec<(&'a str, &'a [f32])>,
    /// For each label, the alias terms found in the text.
    pub aliases: Vec<Vec<String>>,
}

/// Why a label scored as it did: the strongest piece of evidence.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// The whole paragraph was closest to the label.
    Paragraph {
        /// Cosine similarity.
        similarity: f32,
    },
    /// A sentence, clause or list item was closest.
    Span {
        /// The span's text.
        text: String,
        /// Cosine similarity.
        similarity: f32,
    },
    /// An alias of the label appears in the paragraph.
    Alias {
        /// The terms found.
        terms: Vec<String>,
    },
    /// The article around the paragraph carried the label.
    Context {
        /// Where: "headline", "neighbours" or "article".
        source: String,
        /// The context's similarity to the label.
        similarity: f32,
    },
}

/// A paragraph's scores.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Score in [0, 1] for each label, in label-set order.
    pub scores: Vec<f32>,
    /// The raw features, `[label][feature]`, for training and error study.
    pub features: Vec<Vec<f32>>,
    /// The evidence for each label.
    pub evidence: Vec<Vec<Evidence>>,
}

/// The logistic model over features. Serialized in the label file's
/// `[classifier]` table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Combiner {
    /// Feature names, in order (checked against [`FEATURES`]).
    pub features: Vec<String>,
    /// Feature means used to standardize.
    pub mean: Vec<f32>,
    /// Feature standard deviations used to standardize.
    pub scale: Vec<f32>,
    /// Weight of each standardized feature.
    pub weights: Vec<f32>,
    /// Shared intercept; each label adds its own `bias`.
    pub intercept: f32,
}

impl Combiner {
    /// The logit for one label's features.
    pub fn logit(&self, features: &[f32], bias: f32) -> f32 {
        let mut z = self.intercept + bias;
        for (i, x) in features.iter().enumerate() {
            z += self.weights[i] * (x - self.mean[i]) / self.scale[i];
        }
        z
    }

    /// Checks the feature list matches this build's.
    pub fn is_compatible(&self) -> bool {
        self.features.iter().map(String::as_str).eq(FEATURES.iter().copied())
            && self.mean.len() == FEATURES.len()
            && self.scale.len() == FEATURES.len()
            && self.weights.len() == FEATURES.len()
            && self.scale.iter().all(|s| *s > 0.0)
    }
}

/// A paragraph shorter than this many words is treated as page furniture
/// unless other evidence is strong.
const SHORT_WORDS: usize = 8;

fn best(vector: &[f32], prototypes: &[Vec<f32>]) -> f32 {
    prototypes.iter().map(|p| cosine(vector, p)).fold(0.0f32, f32::max)
}

/// Per-paragraph, per-label similarities before context is added.
struct Local {
    best_unit: Vec<f32>,
    best_span: Vec<Option<usize>>,
    paragraph: Vec<f32>,
    negative: Vec<f32>,
}

fn local(p: &ParagraphInput, labels: &[LabelVectors]) -> Local {
    let mut out = Local {
        best_unit: Vec::with_capacity(labels.len()),
        best_span: Vec::with_capacity(labels.len()),
        paragraph: Vec::with_capacity(labels.len()),
        negative: Vec::with_capacity(labels.len()),
    };
    for label in labels {
        let whole = best(p.vector, &label.positives);
        let mut top = whole;
        let mut span = None;
        for (u, (_, v)) in p.units.iter().enumerate() {
            let s = best(v, &label.positives);
            if s > top {
                top = s;
                span = Some(u);
            }
        }
        out.paragraph.push(whole);
        out.best_unit.push(top);
        out.best_span.push(span);
        out.negative.push(best(p.vector, &label.negatives));
    }
    out
}

/// Scores every paragraph of one article. `biases[j]` and `thresholds` are
/// the labels' own; the article's paragraphs must be in order (the first is
/// taken as the headline).
pub fn classify_article(
    paragraphs: &[ParagraphInput],
    labels: &[LabelVectors],
    biases: &[f32],
    combiner: &Combiner,
) -> Vec<Scored> {
    let n = paragraphs.len();
    let k = labels.len();
    let locals: Vec<Local> = paragraphs.iter().map(|p| local(p, labels)).collect();
    let mut article_mean = vec![0f32; k];
    let mut article_max = vec![0f32; k];
    let mut article_alias = vec![0f32; k];
    for (p, l) in paragraphs.iter().zip(&locals) {
        for j in 0..k {
            article_mean[j] += l.paragraph[j] / n as f32;
            article_max[j] = article_max[j].max(l.best_unit[j]);
            if !p.aliases[j].is_empty() {
                article_alias[j] += 1.0 / n as f32;
            }
        }
    }
    let mut out = Vec::with_capacity(n);
    for (i, (p, l)) in paragraphs.iter().zip(&locals).enumerate() {
        let words = p.text.split_whitespace().count();
        let mut scores = Vec::with_capacity(k);
        let mut features = Vec::with_capacity(k);
        let mut evidence = Vec::with_capacity(k);
        for j in 0..k {
            let other = (0..k).filter(|&o| o != j).map(|o| l.best_unit[o]).fold(0.0f32, f32::max);
            let neighbours = [i.checked_sub(1), Some(i + 1)]
                .into_iter()
                .flatten()
                .filter(|&m| m < n)
                .map(|m| locals[m].best_unit[j])
                .fold(0.0f32, f32::max);
            let headline = locals[0].best_unit[j];
            let has_alias = !p.aliases[j].is_empty();
            let f = vec![
                l.best_unit[j],
                l.paragraph[j],
                l.negative[j],
                has_alias as u8 as f32,
                l.best_unit[j] - other,
                article_mean[j],
                article_max[j],
                headline,
                neighbours,
                article_alias[j],
                (1.0 + words as f32).ln(),
                (words < SHORT_WORDS) as u8 as f32,
            ];
            let z = combiner.logit(&f, biases.get(j).copied().unwrap_or(0.0));
            scores.push(1.0 / (1.0 + (-z).exp()));
            let mut ev = Vec::new();
            match l.best_span[j] {
                Some(u) => ev.push(Evidence::Span { text: p.units[u].0.to_owned(), similarity: l.best_unit[j] }),
                None => ev.push(Evidence::Paragraph { similarity: l.paragraph[j] }),
            }
            if has_alias {
                ev.push(Evidence::Alias { terms: p.aliases[j].clone() });
            }
            let context = [("headline", if i > 0 { headline } else { 0.0 }), ("neighbours", neighbours)]
                .into_iter()
                .filter(|(_, s)| *s > l.best_unit[j])
                .fold(None::<(&str, f32)>, |acc, c| match acc {
                    Some(a) if a.1 >= c.1 => Some(a),
                    _ => Some(c),
                });
            if let Some((source, similarity)) = context {
                ev.push(Evidence::Context { source: source.to_owned(), similarity });
            }
            features.push(f);
            evidence.push(ev);
        }
        out.push(Scored { scores, features, evidence });
    }
    out
}
