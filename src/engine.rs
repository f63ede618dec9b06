//! The engine: a model (behind the cache), a label set made ready to score,
//! and the decision rule, joined so that every command labels an article
//! the same way. An article's paragraphs and their units are embedded in
//! one call, scored by the classifier, then decided, one article at a time,
//! so memory stays flat however large the input.

use crate::cache::{Cache, CachedEmbedder};
use crate::classify::head::Head;
use crate::classify::{self, classify_article, decide, segment, Combiner, Evidence, LabelVectors, ParagraphInput};
use crate::embed::{Embed, LongText, Passage};
use crate::error::{Error, Result};
use crate::eval::gold::{articles, GoldSet};
use crate::input::{normalize, Article};
use crate::labels::LabelSet;

/// One paragraph's prediction.
#[derive(Debug, Clone)]
pub struct Prediction {
    /// 1-based paragraph number.
    pub paragraph: usize,
    /// Score per label, in label-set order: the zero-shot classifier's, or
    /// the head's probability when the engine decides with a head.
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

/// How scores become labels.
#[derive(Debug, Clone)]
pub enum Decider {
    /// The label set's thresholds on the zero-shot scores.
    Thresholds(Vec<f32>),
    /// A trained head's probabilities, at the head's own thresholds.
    Head(Box<Head>),
}

impl Decider {
    /// The one decision: a paragraph's final scores, from its vector and
    /// zero-shot scores, and the labels they carry.
    pub fn decide(&self, vector: &[f32], zero_shot: Vec<f32>) -> (Vec<f32>, Vec<usize>) {
        let (scores, thresholds) = match self {
            Decider::Thresholds(t) => (zero_shot, t.clone()),
            Decider::Head(head) => (head.probabilities(vector, &zero_shot), head.thresholds()),
        };
        let labels = decide(&scores, &thresholds);
        (scores, labels)
    }

    /// The threshold per label that decisions are taken at.
    pub fn thresholds(&self) -> Vec<f32> {
        match self {
            Decider::Thresholds(t) => t.clone(),
            Decider::Head(head) => head.thresholds(),
        }
    }
}

/// A label set made ready to score: its prototypes embedded, its combiner
/// checked, and how its scores are decided.
pub struct PreparedLabels<'a> {
    /// The label set.
    pub set: &'a LabelSet,
    /// Each label's prototype vectors.
    pub vectors: Vec<LabelVectors>,
    /// Each label's bias in the combiner.
    pub biases: Vec<f32>,
    /// The scoring model.
    pub combiner: Combiner,
    /// Thresholds, or a head.
    pub decider: Decider,
}

impl<'a> PreparedLabels<'a> {
    /// Embeds the label set's descriptions, examples and negatives; decides
    /// at the label set's thresholds.
    pub fn new(set: &'a LabelSet, embedder: &mut CachedEmbedder) -> Result<Self> {
        let (combiner, biases) = set.require_weights_for(&embedder.embedder().identity().name)?;
        PreparedLabels::with_weights(set, embedder, combiner, biases)
    }

    /// As [`PreparedLabels::new`], for fitting new weights (`train`, and
    /// cross-validation, which refits them in every fold): a set with no
    /// weights fitted to this model gets the built-in set's default ones as
    /// a stand-in, which only the scores (never the features) depend on.
    pub fn for_fitting(set: &'a LabelSet, embedder: &mut CachedEmbedder) -> Result<Self> {
        let (combiner, biases) = match set.weights_for(&embedder.embedder().identity().name)? {
            Some(found) => found,
            None => {
                let builtin = LabelSet::builtin()?;
                let stand_in = builtin.weights_for(crate::model::registry::DEFAULT_MODEL)?;
                let mut combiner = stand_in.map(|(c, _)| c).ok_or_else(|| Error::Usage("the built-in label set has no [classifier] table".to_owned()))?;
                // Centroids are vectors of the default model: another
                // model's fitting starts without them.
                combiner.centroids.clear();
                (combiner, vec![0.0; set.labels.len()])
            }
        };
        PreparedLabels::with_weights(set, embedder, combiner, biases)
    }

    fn with_weights(set: &'a LabelSet, embedder: &mut CachedEmbedder, combiner: Combiner, biases: Vec<f32>) -> Result<Self> {
        if !combiner.is_compatible() {
            return Err(Error::Usage(
                "the label set's [classifier] table was made for another version of themes; retrain it with `themes train`"
                    .to_owned(),
            ));
        }
        // Every label's texts in one call: one label's dozen short texts
        // alone would fill a small part of a batch.
        let mut texts: Vec<String> = Vec::new();
        let mut counts: Vec<(usize, usize)> = Vec::with_capacity(set.labels.len());
        for label in &set.labels {
            let positives = std::iter::once(&label.description).chain(&label.descriptions).chain(&label.examples);
            let before = texts.len();
            texts.extend(positives.map(|t| normalize(t)));
            let positive_count = texts.len() - before;
            texts.extend(label.negatives.iter().map(|t| normalize(t)));
            counts.push((positive_count, label.negatives.len()));
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut embedded = embedder.embed(&refs)?.into_iter().map(|x| x.vector);
        let centroids = combiner
            .label_centroids(&set.ids(), embedder.embedder().dim())
            .map_err(|e| Error::Usage(format!("the label set {}: gold centroids of {e}; retrain them with `themes train`", set.source.display())))?;
        let vectors: Vec<LabelVectors> = counts
            .iter()
            .zip(centroids)
            .map(|(&(positives, negatives), centroids)| LabelVectors {
                positives: embedded.by_ref().take(positives).collect(),
                negatives: embedded.by_ref().take(negatives).collect(),
                centroids,
            })
            .collect();
        Ok(PreparedLabels { set, vectors, biases, combiner, decider: Decider::Thresholds(set.thresholds()) })
    }
}

/// What an article sends to the model: its paragraphs, normalized, each
/// with the byte ranges of its sentences, clauses and list items, whose
/// vectors are pooled from the paragraph's own pass.
struct ArticleTexts {
    paragraphs: Vec<String>,
    units: Vec<Vec<std::ops::Range<usize>>>,
}

impl ArticleTexts {
    fn new(article: &Article) -> Self {
        let paragraphs: Vec<String> = article.paragraphs.iter().map(|p| normalize(p)).collect();
        let units = paragraphs.iter().map(|p| segment::unit_ranges(p)).collect();
        ArticleTexts { paragraphs, units }
    }

    fn passages(&self) -> Vec<Passage<'_>> {
        self.paragraphs.iter().zip(&self.units).map(|(text, spans)| Passage { text, spans }).collect()
    }
}

/// Articles labelled together ahead of their turn ([`Engine::prefetch`]):
/// enough paragraphs to fill a few of the model's batches, few enough that
/// memory stays flat.
pub const PREFETCH_PARAGRAPHS: usize = 96;

/// Whether an article of `next` paragraphs joins a prefetch group of
/// `articles` articles holding `held` paragraphs: a group holds up to
/// [`PREFETCH_PARAGRAPHS`] paragraphs, and at least one article. The one
/// rule for [`prefetch_group`] and for `job::label`, which groups as it reads.
pub fn joins_group(articles: usize, held: usize, next: usize) -> bool {
    articles == 0 || held + next <= PREFETCH_PARAGRAPHS
}

/// The articles from the start of `rest` that make one prefetch group.
fn prefetch_group<'x>(rest: impl Iterator<Item = &'x Article>) -> Vec<&'x Article> {
    let mut group = Vec::new();
    let mut paragraphs = 0;
    for article in rest {
        if !joins_group(group.len(), paragraphs, article.paragraphs.len()) {
            break;
        }
        paragraphs += article.paragraphs.len();
        group.push(article);
    }
    group
}

/// Embeds, scores and decides one article.
pub fn label_article(article: &Article, labels: &PreparedLabels, embedder: &mut CachedEmbedder) -> Result<Vec<Prediction>> {
    let texts = ArticleTexts::new(article);
    // One forward pass per paragraph: its sentences, clauses and list items
    // are pooled from the paragraph's own token states. The whole article
    // goes in one call, and the cache is asked once.
    let mut paragraph_vectors = embedder.embed_passages(&texts.passages())?;
    for e in &mut paragraph_vectors {
        for span in &mut e.spans {
            classify::sharpen_span(span, &e.vector);
        }
    }
    let inputs: Vec<ParagraphInput> = texts
        .paragraphs
        .iter()
        .zip(&paragraph_vectors)
        .zip(&texts.units)
        .map(|((text, e), ranges)| ParagraphInput {
            text,
            vector: &e.vector,
            units: ranges.iter().zip(&e.spans).map(|(r, v)| (r.clone(), v.as_slice())).collect(),
            aliases: labels.set.labels.iter().map(|l| l.alias_matches(text)).collect(),
        })
        .collect();
    let mut scored = classify_article(&inputs, &labels.vectors, &labels.biases, &labels.combiner);
    point_into_given(&mut scored, article, &texts);
    // Values that pass the label file's checks can still overflow together;
    // a score that is not a number must never reach a row.
    for (i, s) in scored.iter().enumerate() {
        if let Some(j) = s.scores.iter().position(|x| !x.is_finite()) {
            return Err(Error::Usage(format!(
                "paragraph {}: the score of label {:?} is {}: the label set's [classifier] weights or biases overflow; retrain them with `themes train`",
                i + 1,
                labels.set.labels[j].id,
                s.scores[j]
            )));
        }
    }
    Ok(scored
        .into_iter()
        .zip(&paragraph_vectors)
        .enumerate()
        .map(|(i, (s, e))| {
            let (scores, decided) = labels.decider.decide(&e.vector, s.scores);
            Prediction {
                paragraph: i + 1,
                labels: decided,
                scores,
                evidence: s.evidence,
                features: s.features,
                tokens: e.tokens,
                description_similarity: labels
                    .vectors
                    .iter()
                    .map(|l| l.positives.first().map_or(0.0, |d| crate::embed::cosine(&e.vector, d)))
                    .collect(),
                vector: e.vector.clone(),
            }
        })
        .collect())
}

/// Evidence found in the normalized form of a paragraph that differs from
/// the paragraph as given, moved onto it: offsets and text are those of the
/// article's own paragraph.
fn point_into_given(scored: &mut [classify::Scored], article: &Article, texts: &ArticleTexts) {
    for ((s, given), normalized) in scored.iter_mut().zip(&article.paragraphs).zip(&texts.paragraphs) {
        if given == normalized {
            continue;
        }
        for (text, start, end) in s.evidence.iter_mut().flatten().filter_map(Evidence::offsets_mut) {
            let (from, to) = (crate::input::given_offset(given, *start), crate::input::given_offset(given, *end));
            (*start, *end) = (from, to);
            *text = given.chars().skip(from).take(to - from).collect();
        }
    }
}

/// The model, its cache and a prepared label set: what every command that
/// labels text runs.
pub struct Engine<'a> {
    embedder: CachedEmbedder<'a>,
    labels: PreparedLabels<'a>,
}

impl<'a> Engine<'a> {
    /// Prepares `set` on `embedder` (through `cache`); with a head, decides
    /// with it instead of the set's thresholds.
    pub fn new(embedder: &'a dyn Embed, cache: Option<Cache>, set: &'a LabelSet, head: Option<Head>) -> Result<Self> {
        let mut embedder = CachedEmbedder::new(embedder, cache, LongText::Windows);
        let mut labels = PreparedLabels::new(set, &mut embedder)?;
        if let Some(head) = head {
            labels.decider = Decider::Head(Box::new(head));
        }
        Ok(Engine { embedder, labels })
    }

    /// An engine for fitting weights, deciding with the set's thresholds
    /// (see [`PreparedLabels::for_fitting`]).
    pub fn for_fitting(embedder: &'a dyn Embed, cache: Option<Cache>, set: &'a LabelSet) -> Result<Self> {
        let mut embedder = CachedEmbedder::new(embedder, cache, LongText::Windows);
        let labels = PreparedLabels::for_fitting(set, &mut embedder)?;
        Ok(Engine { embedder, labels })
    }

    /// Embeds the paragraphs of `articles` in one call, so that labelling
    /// them next finds their vectors ready: an article of a few paragraphs
    /// alone fills only part of a batch. Results never change; a failure
    /// here is left for [`Engine::label`] to meet and report for its article.
    pub fn prefetch(&mut self, articles: &[&Article]) {
        // One article is embedded by its own `label` call just as well.
        if articles.len() < 2 {
            return;
        }
        let prepared: Vec<ArticleTexts> = articles.iter().map(|a| ArticleTexts::new(a)).collect();
        let passages: Vec<Passage> = prepared.iter().flat_map(ArticleTexts::passages).collect();
        if let Err(err) = self.embedder.prefetch(&passages) {
            tracing::debug!("prefetching {} articles failed ({err}); labelling them one by one", articles.len());
        }
    }

    /// Labels `articles` in order, small ones embedded together ahead of
    /// their turn ([`prefetch_group`]); `each` gets every article with its
    /// predictions, or the error labelling it met.
    pub fn label_all(
        &mut self,
        articles: &[Article],
        mut each: impl FnMut(&Article, Result<Vec<Prediction>>) -> Result<()>,
    ) -> Result<()> {
        let mut group_end = 0;
        for (i, article) in articles.iter().enumerate() {
            if i == group_end {
                let group = prefetch_group(articles[i..].iter());
                group_end = i + group.len();
                self.prefetch(&group);
            }
            let predictions = self.label(article);
            each(article, predictions)?;
        }
        Ok(())
    }

    /// Embeds, scores and decides one article.
    pub fn label(&mut self, article: &Article) -> Result<Vec<Prediction>> {
        label_article(article, &self.labels, &mut self.embedder)
    }

    /// Labels the articles rebuilt from gold rows; one prediction per gold
    /// row, in the rows' order, set after set.
    pub fn predict_gold(&mut self, sets: &[GoldSet]) -> Result<Vec<Prediction>> {
        let mut out = Vec::new();
        for set in sets {
            let mut by_key = std::collections::HashMap::new();
            self.label_all(&articles(&set.rows, &set.path), |article, predictions| {
                for p in predictions? {
                    by_key.insert((article.id.clone(), p.paragraph), p);
                }
                Ok(())
            })?;
            for r in &set.rows {
                let p = by_key.remove(&(r.article.clone(), r.paragraph)).ok_or_else(|| {
                    Error::Usage(format!("{}: no prediction for {} paragraph {}", set.path.display(), r.article, r.paragraph))
                })?;
                out.push(p);
            }
        }
        Ok(out)
    }

    /// The label set.
    pub fn set(&self) -> &'a LabelSet {
        self.labels.set
    }

    /// The prepared label set (prototype vectors, combiner, decider).
    pub fn labels(&self) -> &PreparedLabels<'a> {
        &self.labels
    }

    /// The head it decides with, if any.
    pub fn head(&self) -> Option<&Head> {
        match &self.labels.decider {
            Decider::Head(head) => Some(head),
            Decider::Thresholds(_) => None,
        }
    }

    /// The model behind the cache.
    pub fn model(&self) -> &'a dyn Embed {
        self.embedder.embedder()
    }

    /// Texts embedded by the model and texts found in the cache so far.
    pub fn embedded(&self) -> (usize, usize) {
        (self.embedder.computed, self.embedder.reused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::head::{HeadInfo, LabelHead};
    use crate::fake::FakeEmbedder;

    fn article() -> Article {
        let paragraphs = ["Chip plant opens in Bac Ninh", "Semiconductor packaging grows.", "The weather was mild."];
        Article { id: "a".into(), source: crate::Location::file("a.txt"), paragraphs: paragraphs.map(String::from).into(), meta: Default::default() }
    }

    #[test]
    fn the_decider_is_the_only_decision_and_a_head_replaces_the_thresholds() {
        let fake = FakeEmbedder::new();
        let set = LabelSet::builtin().unwrap();
        let mut engine = Engine::new(&fake, None, &set, None).unwrap();
        let zero_shot = engine.label(&article()).unwrap();
        assert_eq!(zero_shot.len(), 3);
        let thresholds = set.thresholds();
        for p in &zero_shot {
            assert_eq!(p.labels, decide(&p.scores, &thresholds));
            assert_eq!(p.features.len(), set.labels.len());
        }
        // A head that says yes to the first label whatever the vector, and
        // keeps the zero-shot decision elsewhere.
        let ids = set.ids();
        let mut per_label: Vec<LabelHead> = ids.iter().map(|_| LabelHead::identity(fake.dim())).collect();
        per_label[0].bias = 50.0;
        let info = HeadInfo {
            themes_head: 1,
            model: "fake".into(),
            revision: "test".into(),
            dim: fake.dim(),
            label_set: set.name.clone(),
            label_set_hash: set.hash(),
            label_file: None,
            labels: ids.clone(),
            thresholds: ids.iter().map(|id| (id.clone(), 0.5)).collect(),
            examples: Default::default(),
            trained_on: vec![],
        };
        let mut engine = Engine::new(&fake, None, &set, Some(Head::new(info, per_label, thresholds.clone()))).unwrap();
        assert!(engine.head().is_some());
        for (with_head, without) in engine.label(&article()).unwrap().iter().zip(&zero_shot) {
            assert!(with_head.labels.contains(&0));
            let rest = |labels: &[usize]| labels.iter().copied().filter(|&j| j != 0).collect::<Vec<_>>();
            assert_eq!(rest(&with_head.labels), rest(&without.labels), "an identity head keeps the zero-shot decisions");
        }
        assert!(engine.embedded().0 > 0);
    }
}
