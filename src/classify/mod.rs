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
//! - its length (page furniture is short);
//! - how close it comes to the label's gold centroids: the mean direction
//!   of the paragraphs hand-labelled with the label, and of those without
//!   it ([`crate::learn::centroids`]), which the label file carries beside
//!   the weights; and how far it leads towards the label's centroid over
//!   the nearest other label's.
//!
//! The combiner's weights are shared by all labels, with a per-label bias,
//! so a label a user adds is scored by the same learned rules.

pub mod head;
pub mod segment;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::embed::cosine;
use crate::labels::AliasMatch;
use crate::learn::centroids::{LabelCentroids, StoredCentroids};

/// One feature of a (paragraph, label) pair. The combiner's weights, the
/// label file's `[classifier]` table and every reader of a feature vector
/// go by these names, never by a bare position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Feature {
    /// Best cosine of the paragraph or one of its units to the label's prototypes.
    BestUnit,
    /// Cosine of the whole paragraph to the label's prototypes.
    Paragraph,
    /// Best cosine of the paragraph to the label's "not this" sentences.
    Negative,
    /// 1 when an alias of the label occurs in the paragraph.
    Alias,
    /// `best_unit` minus the best of the other labels.
    Margin,
    /// Mean paragraph cosine over the article.
    ArticleMean,
    /// Best unit cosine over the article.
    ArticleMax,
    /// The headline's best unit cosine.
    Headline,
    /// The neighbouring paragraphs' best unit cosine.
    Neighbours,
    /// Share of the article's paragraphs holding an alias of the label.
    ArticleAlias,
    /// ln(1 + words).
    LogWords,
    /// 1 when the paragraph is shorter than [`SHORT_WORDS`] words.
    Short,
    /// Cosine of the paragraph to the label's positive gold centroid.
    Centroid,
    /// `centroid` minus the cosine to the label's negative gold centroid.
    CentroidContrast,
    /// `centroid` minus the best cosine to another label's positive gold
    /// centroid.
    CentroidMargin,
}

impl Feature {
    /// Every feature, in vector order.
    pub const ALL: [Feature; 15] = [
        Feature::BestUnit,
        Feature::Paragraph,
        Feature::Negative,
        Feature::Alias,
        Feature::Margin,
        Feature::ArticleMean,
        Feature::ArticleMax,
        Feature::Headline,
        Feature::Neighbours,
        Feature::ArticleAlias,
        Feature::LogWords,
        Feature::Short,
        Feature::Centroid,
        Feature::CentroidContrast,
        Feature::CentroidMargin,
    ];

    /// The features computed from the gold centroids, in the order
    /// [`crate::learn::centroids::features`] returns them: all missing
    /// (NaN) for a label without centroids.
    pub const FROM_CENTROIDS: [Feature; 3] = [Feature::Centroid, Feature::CentroidContrast, Feature::CentroidMargin];

    /// Its name in the label file.
    pub fn name(self) -> &'static str {
        FEATURES[self as usize]
    }

    /// Its value in a feature vector.
    pub fn of(self, features: &[f32]) -> f32 {
        features[self as usize]
    }
}

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
    "centroid",
    "centroid_contrast",
    "centroid_margin",
];

/// Features of the classifier before the gold centroids: a `[classifier]`
/// table listing only these still loads, and scores as it did.
pub const FEATURES_BEFORE_CENTROIDS: usize = 12;

/// Features of the classifier before the centroid margin, which likewise
/// still load and score as they did.
pub const FEATURES_BEFORE_CENTROID_MARGIN: usize = 14;

/// Whether a `[classifier]` table listing `names` is one this build reads:
/// its own feature list, or that of an earlier version (the twelve before
/// the gold centroids, the fourteen before the centroid margin).
pub fn known_features(names: &[String]) -> bool {
    let n = names.len();
    [FEATURES.len(), FEATURES_BEFORE_CENTROIDS, FEATURES_BEFORE_CENTROID_MARGIN].contains(&n)
        && names.iter().map(String::as_str).eq(FEATURES[..n].iter().copied())
}

/// The logistic function, shared by every logistic model of the crate.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// The decision: the labels (indices) whose score reaches their threshold.
/// The one place a score becomes a label, for zero-shot scores, a head's
/// probabilities and cross-validated scores alike.
pub fn decide(scores: &[f32], thresholds: &[f32]) -> Vec<usize> {
    (0..scores.len()).filter(|&j| scores[j] >= thresholds[j]).collect()
}

/// Share of the paragraph's vector taken out of each of its spans' vectors.
/// A span pooled from the paragraph's own pass carries the paragraph's
/// context, which blurs a list item ("trade", "health") towards the whole;
/// taking part of the whole back out restores some of the span's own
/// meaning. 0.3 was chosen by grouped CV on the seed and dev gold among 0,
/// 0.3 and 0.6, and checked on the train articles, which it was not chosen
/// on (README, "Accuracy").
pub const SPAN_CONTEXT_REMOVED: f32 = 0.3;

/// A span's vector with [`SPAN_CONTEXT_REMOVED`] of its paragraph's vector
/// taken out, normalized again.
pub fn sharpen_span(span: &mut [f32], paragraph: &[f32]) {
    for (x, p) in span.iter_mut().zip(paragraph) {
        *x -= SPAN_CONTEXT_REMOVED * p;
    }
    let norm = span.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    span.iter_mut().for_each(|x| *x /= norm);
}

/// A label's prototypes as vectors.
#[derive(Debug, Clone)]
pub struct LabelVectors {
    /// The description(s) and examples.
    pub positives: Vec<Vec<f32>>,
    /// The "not this" sentences.
    pub negatives: Vec<Vec<f32>>,
    /// Its gold centroids (none for a label no gold was fitted on).
    pub centroids: LabelCentroids,
}

/// One paragraph as the classifier sees it.
#[derive(Debug, Clone)]
pub struct ParagraphInput<'a> {
    /// The text (as given).
    pub text: &'a str,
    /// The paragraph's vector.
    pub vector: &'a [f32],
    /// Its finer units (byte ranges of `text`) and their vectors.
    pub units: Vec<(std::ops::Range<usize>, &'a [f32])>,
    /// For each label, where its aliases occur in the text.
    pub aliases: Vec<Vec<AliasMatch>>,
}

/// Why a label scored as it did: the strongest piece of evidence. Offsets
/// (`start`, `end`) count characters (Unicode scalar values) of the
/// paragraph, end exclusive, so `text == paragraph[start:end]` in Python.
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
        /// Its first character in the paragraph.
        start: usize,
        /// One past its last character.
        end: usize,
        /// Cosine similarity.
        similarity: f32,
    },
    /// An alias of the label appears in the paragraph (one item per
    /// occurrence).
    Alias {
        /// The alias as the label file writes it (`semiconductor*`).
        term: String,
        /// The words it matched, as written in the paragraph.
        text: String,
        /// Their first character in the paragraph.
        start: usize,
        /// One past their last character.
        end: usize,
    },
    /// The article around the paragraph carried the label.
    Context {
        /// Where: "headline", "neighbours" or "article".
        source: String,
        /// The context's similarity to the label.
        similarity: f32,
    },
}

impl Evidence {
    /// A span of `text` given as a byte range.
    pub fn span(text: &str, range: std::ops::Range<usize>, similarity: f32) -> Evidence {
        let (start, end) = char_range(text, &range);
        Evidence::Span { text: text[range].to_owned(), start, end, similarity }
    }

    /// An alias found in `text`.
    pub fn alias(text: &str, found: &AliasMatch) -> Evidence {
        let (start, end) = char_range(text, &found.range);
        Evidence::Alias { term: found.term.clone(), text: text[found.range.clone()].to_owned(), start, end }
    }

    /// The characters of the paragraph it points at, if any.
    pub fn offsets_mut(&mut self) -> Option<(&mut String, &mut usize, &mut usize)> {
        match self {
            Evidence::Span { text, start, end, .. } | Evidence::Alias { text, start, end, .. } => Some((text, start, end)),
            Evidence::Paragraph { .. } | Evidence::Context { .. } => None,
        }
    }
}

/// A byte range of `text` as character offsets.
fn char_range(text: &str, range: &std::ops::Range<usize>) -> (usize, usize) {
    let start = text[..range.start].chars().count();
    (start, start + text[range.clone()].chars().count())
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
    /// The model whose similarities it was fitted to (a registry name);
    /// none in files from before weights were kept per model, which were
    /// all fitted to the default model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Each label's bias, for weights kept beside the main `[classifier]`
    /// (whose biases are the labels' own `bias` keys).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub biases: BTreeMap<String, f32>,
    /// Fingerprints of the gold articles it was fitted on
    /// ([`crate::eval::gold::article_fingerprints`]), so that scoring them
    /// is reported as in-sample.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trained_on: Vec<String>,
    /// Each label's gold centroids in this model's vectors, by label id
    /// (labels without gold have none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub centroids: BTreeMap<String, StoredCentroids>,
}

impl Combiner {
    /// The logit for one label's features. A feature the combiner has no
    /// weight for (a table from before it existed) adds nothing, nor does
    /// a missing one (NaN: a label without gold centroids), which is read
    /// as the feature's mean.
    pub fn logit(&self, features: &[f32], bias: f32) -> f32 {
        let mut z = self.intercept + bias;
        for (((x, w), m), s) in features.iter().zip(&self.weights).zip(&self.mean).zip(&self.scale) {
            if !x.is_nan() {
                z += w * (x - m) / s;
            }
        }
        z
    }

    /// Checks the feature list is this build's, or the start of it (a
    /// table from before the later features, which then weigh nothing).
    pub fn is_compatible(&self) -> bool {
        let n = self.features.len();
        known_features(&self.features)
            && self.mean.len() == n
            && self.scale.len() == n
            && self.weights.len() == n
            && self.scale.iter().all(|s| *s > 0.0)
    }

    /// Each label's centroids, for labels `ids` in a model of `dim`
    /// dimensions; an error names the label whose stored centroids do not
    /// read.
    pub fn label_centroids(&self, ids: &[String], dim: usize) -> Result<Vec<LabelCentroids>, String> {
        ids.iter()
            .map(|id| match self.centroids.get(id) {
                Some(stored) => stored.load(dim).map_err(|e| format!("label {id:?}: {e}")),
                None => Ok(LabelCentroids::default()),
            })
            .collect()
    }
}

/// A paragraph shorter than this many words is treated as page furniture
/// unless other evidence is strong.
pub const SHORT_WORDS: usize = 8;

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
        let centroid_features = crate::learn::centroids::features(p.vector, labels.iter().map(|l| &l.centroids));
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
            let mut f = vec![0f32; Feature::ALL.len()];
            let [centroid, contrast, centroid_margin] = centroid_features[j];
            for (feature, value) in [
                (Feature::BestUnit, l.best_unit[j]),
                (Feature::Paragraph, l.paragraph[j]),
                (Feature::Negative, l.negative[j]),
                (Feature::Alias, has_alias as u8 as f32),
                (Feature::Margin, l.best_unit[j] - other),
                (Feature::ArticleMean, article_mean[j]),
                (Feature::ArticleMax, article_max[j]),
                (Feature::Headline, headline),
                (Feature::Neighbours, neighbours),
                (Feature::ArticleAlias, article_alias[j]),
                (Feature::LogWords, (1.0 + words as f32).ln()),
                (Feature::Short, (words < SHORT_WORDS) as u8 as f32),
                (Feature::Centroid, centroid),
                (Feature::CentroidContrast, contrast),
                (Feature::CentroidMargin, centroid_margin),
            ] {
                f[feature as usize] = value;
            }
            let z = combiner.logit(&f, biases.get(j).copied().unwrap_or(0.0));
            scores.push(sigmoid(z));
            let mut ev = Vec::new();
            match l.best_span[j] {
                Some(u) => ev.push(Evidence::span(p.text, p.units[u].0.clone(), l.best_unit[j])),
                None => ev.push(Evidence::Paragraph { similarity: l.paragraph[j] }),
            }
            ev.extend(p.aliases[j].iter().map(|m| Evidence::alias(p.text, m)));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A combiner that scores the best unit cosine alone, logit = 10·(x − 0.5).
    fn best_unit_only() -> Combiner {
        let mut weights = vec![0f32; FEATURES.len()];
        weights[Feature::BestUnit as usize] = 10.0;
        Combiner {
            features: FEATURES.iter().map(|s| s.to_string()).collect(),
            mean: vec![0.0; FEATURES.len()],
            scale: vec![1.0; FEATURES.len()],
            weights,
            intercept: -5.0,
            trained_on: Vec::new(),
            model: None,
            biases: Default::default(),
            centroids: Default::default(),
        }
    }

    #[test]
    fn features_context_and_evidence_come_from_the_right_paragraphs() {
        let (x, y, xy) = ([1.0f32, 0.0], [0.0f32, 1.0], [0.6f32, 0.8]);
        let labels = vec![
            LabelVectors { positives: vec![x.to_vec()], negatives: vec![y.to_vec()], centroids: LabelCentroids::default() },
            LabelVectors {
                positives: vec![y.to_vec()],
                negatives: vec![],
                centroids: LabelCentroids { positive: Some(y.to_vec()), negative: Some(x.to_vec()) },
            },
        ];
        let paragraphs = vec![
            ParagraphInput { text: "Headline about x", vector: &x, units: vec![], aliases: vec![vec![], vec![]] },
            // The whole paragraph leans to y; one of its clauses is x itself.
            ParagraphInput {
                text: "a longer paragraph whose second clause is the x one, said Y-term officials today",
                vector: &xy,
                units: vec![(42..51, &x)],
                aliases: vec![vec![], vec![AliasMatch { term: "Y*".to_owned(), range: 58..64 }]],
            },
            ParagraphInput { text: "Short y note", vector: &y, units: vec![], aliases: vec![vec![], vec![]] },
        ];
        let scored = classify_article(&paragraphs, &labels, &[0.0, 0.0], &best_unit_only());
        assert_eq!(scored.len(), 3);
        let f = |p: usize, label: usize, feature: Feature| feature.of(&scored[p].features[label]);
        assert!((f(1, 0, Feature::Paragraph) - 0.6).abs() < 1e-6);
        assert!((f(1, 0, Feature::BestUnit) - 1.0).abs() < 1e-6, "the clause beats the paragraph");
        assert!((f(1, 0, Feature::Negative) - 0.8).abs() < 1e-6);
        assert_eq!(f(1, 1, Feature::Alias), 1.0);
        assert_eq!(f(1, 0, Feature::Alias), 0.0);
        assert!((f(2, 0, Feature::Headline) - 1.0).abs() < 1e-6, "the first paragraph is the headline");
        assert!((f(2, 0, Feature::Neighbours) - 1.0).abs() < 1e-6, "paragraph 2's clause is a neighbour");
        assert!((f(0, 1, Feature::ArticleAlias) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(f(2, 1, Feature::Short), 1.0);
        assert_eq!(f(1, 1, Feature::Short), 0.0);
        assert!((f(1, 0, Feature::Margin) - (1.0 - 0.8)).abs() < 1e-6);
        assert!((f(1, 1, Feature::Centroid) - 0.8).abs() < 1e-6, "xy against label 1's centroid y");
        assert!((f(1, 1, Feature::CentroidContrast) - (0.8 - 0.6)).abs() < 1e-6);
        assert!(f(1, 0, Feature::Centroid).is_nan(), "label 0 has no gold centroid");
        assert!(f(1, 1, Feature::CentroidMargin).is_nan(), "no other label has a centroid to lead");
        let span = Evidence::Span { text: "the x one".to_owned(), start: 42, end: 51, similarity: 1.0 };
        assert_eq!(scored[1].evidence[0][0], span);
        let alias = Evidence::Alias { term: "Y*".to_owned(), text: "Y-term".to_owned(), start: 58, end: 64 };
        assert!(scored[1].evidence[1].contains(&alias), "{:?}", scored[1].evidence[1]);
        assert!(matches!(&scored[2].evidence[0][1], Evidence::Context { source, .. } if source == "headline"));
        // Scores are the combiner's: best unit 1 -> sigmoid(5); 0 -> sigmoid(-5).
        assert!((scored[0].scores[0] - sigmoid(5.0)).abs() < 1e-6);
        assert!((scored[0].scores[1] - sigmoid(-5.0)).abs() < 1e-6);
        assert_eq!(decide(&scored[1].scores, &[0.5, 0.5]), vec![0, 1]);
        assert_eq!(decide(&scored[0].scores, &[0.5, 0.5]), vec![0]);
    }

    #[test]
    fn feature_names_follow_the_vector_order() {
        for (i, f) in Feature::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
            assert_eq!(f.name(), FEATURES[i]);
        }
    }
}
