//! The eval job: gold sets scored by the engine, a head, a predictions
//! file, or article-grouped cross-validation with its anchors and few-shot
//! curve; then per-set results with intervals, the kinds study and the
//! error list, assembled into one [`Report`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::classify::head::margins;
use crate::classify::Feature;
use crate::engine::{Engine, Prediction};
use crate::error::{Error, Location, Result};
use crate::eval::experiment::{classifier_cv, cosine_anchor_cv, logistic_anchor_cv, zero_shot_cv};
use crate::learn::centroids::GoldVectors;
use crate::eval::gold::{article_fingerprints, article_keys, GoldRow, GoldSet};
use crate::eval::kinds::{kinds, KindInput};
use crate::eval::matrix::LabelMatrix;
use crate::eval::report::{InSample, 
    now_utc, AnchorResult, ErrorRow, FewShotPoint, Identity, KindResult, PredictionRow, Report, SetResult,
};
use crate::eval::score::{by_article, confusion, bootstrap, score, Scores};
use crate::labels::LabelSet;
use crate::learn::head::{head_cv, HeadOptions};

/// How the gold is scored.
#[derive(Debug, Clone)]
pub enum Scoring {
    /// The engine as it is: the label set's classifier, or the head it
    /// decides with (read from this folder).
    Engine {
        /// The head's folder, if any.
        head: Option<std::path::PathBuf>,
    },
    /// Rows of a predictions file (`themes label` output).
    Predictions(std::path::PathBuf),
    /// K-fold article-grouped cross-validation, the classifier refitted in
    /// each fold, with the anchors.
    CrossValidated {
        /// Folds.
        k: usize,
        /// Score a head retrained in each fold instead of the classifier.
        head: bool,
        /// The few-shot curve's points (examples per label).
        examples_per_label: Vec<usize>,
    },
}

/// Fewest bootstrap resamples that give a 2.5th and a 97.5th percentile
/// worth reporting (and that a gate may trust).
pub const MIN_RESAMPLES: usize = 100;

/// A validated eval run.
#[derive(Debug, Clone)]
pub struct EvalPlan {
    /// The gold sets, read and checked.
    pub sets: Vec<GoldSet>,
    /// How.
    pub scoring: Scoring,
    /// Seed of the folds and the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Languages the model reads (the kinds study's non-English kind).
    pub languages: Vec<String>,
}

impl EvalPlan {
    /// Checks the options against the gold.
    pub fn new(sets: Vec<GoldSet>, scoring: Scoring, seed: u64, resamples: usize, languages: Vec<String>) -> Result<EvalPlan> {
        if resamples < MIN_RESAMPLES {
            return Err(Error::Usage(format!(
                "--resamples {resamples}: the 95% intervals need at least {MIN_RESAMPLES} bootstrap resamples (1000 is the default)"
            )));
        }
        if let Scoring::CrossValidated { k, .. } = scoring {
            if k < 2 {
                return Err(Error::Usage("--cv needs at least 2 folds".to_owned()));
            }
            let keys = article_keys(&sets);
            let distinct: BTreeSet<&String> = keys.iter().collect();
            if distinct.len() < k {
                return Err(Error::Usage(format!("--cv {k} needs at least {k} articles; the gold has {}", distinct.len())));
            }
        }
        Ok(EvalPlan { sets, scoring, seed, resamples, languages })
    }

    fn rows(&self) -> impl Iterator<Item = (&str, &GoldRow)> {
        self.sets.iter().flat_map(|s| s.rows.iter().map(move |r| (s.name.as_str(), r)))
    }
}

/// What an eval run produced.
#[derive(Debug, Clone)]
pub struct EvalOutcome {
    /// The report.
    pub report: Report,
    /// The scores behind its decisions, `[row][label]` (for the HTML curves).
    pub scores: Vec<Vec<f32>>,
    /// The gold.
    pub gold: LabelMatrix,
    /// Each row's fold, when cross-validated (else empty).
    pub folds: Vec<usize>,
}

/// Scores, thresholds and what came with them, before per-set results.
struct Scored {
    scores: Vec<Vec<f32>>,
    thresholds: Vec<f32>,
    mode: String,
    anchors: Vec<AnchorResult>,
    few_shot: Vec<FewShotPoint>,
    predictions: Vec<Option<Prediction>>,
    model: (String, String, Option<String>),
    folds: Vec<usize>,
    /// How much of the gold the scored classifier was fitted on.
    in_sample: Option<InSample>,
}

/// Everything one scoring needs to be scored against the gold.
struct Context<'a> {
    ids: Vec<String>,
    gold: LabelMatrix,
    keys: Vec<String>,
    groups: BTreeMap<String, Vec<String>>,
    plan: &'a EvalPlan,
}

impl Context<'_> {
    /// Point estimates and intervals of `decided` over rows `range`.
    fn result(&self, name: &str, decided: &LabelMatrix, range: std::ops::Range<usize>) -> SetResult {
        let gold = self.gold.slice(range.clone());
        let decided = decided.slice(range.clone());
        SetResult {
            name: name.to_owned(),
            scores: score(&gold, &decided, &self.groups),
            intervals: bootstrap(&gold, &decided, &self.keys[range], &self.groups, self.plan.resamples, self.plan.seed),
        }
    }

    fn pooled(&self, decided: &LabelMatrix) -> SetResult {
        self.result("pooled", decided, 0..self.gold.len())
    }

    fn scores_of(&self, decided: &LabelMatrix) -> Scores {
        score(&self.gold, decided, &self.groups)
    }

    fn anchor(&self, name: &str, note: String, decided: &LabelMatrix) -> AnchorResult {
        AnchorResult { name: name.to_owned(), note, result: self.pooled(decided) }
    }
}

/// Runs the plan. `engine` is needed unless scoring a predictions file.
pub fn run(plan: &EvalPlan, set: &LabelSet, engine: Option<&mut Engine>) -> Result<EvalOutcome> {
    let ids = set.ids();
    let rows: Vec<(&str, &GoldRow)> = plan.rows().collect();
    let gold = LabelMatrix::from_gold(rows.iter().map(|(_, r)| *r), &ids);
    let groups = set.groups().into_iter().map(|g| (g.clone(), set.group(&g).iter().map(|l| l.id.clone()).collect())).collect();
    let cx = Context { ids, gold, keys: article_keys(&plan.sets), groups, plan };
    let scored = match (&plan.scoring, engine) {
        (Scoring::Predictions(path), _) => Scored {
            scores: read_predictions(path, &rows, &cx.ids)?,
            thresholds: set.thresholds(),
            mode: "predictions".to_owned(),
            anchors: Vec::new(),
            few_shot: Vec::new(),
            predictions: vec![None; rows.len()],
            model: ("-".to_owned(), "-".to_owned(), None),
            folds: Vec::new(),
            in_sample: None,
        },
        (scoring, Some(engine)) => {
            let predictions = engine.predict_gold(&plan.sets)?;
            let identity = engine.model().identity();
            let model = (identity.name.clone(), identity.revision.clone(), Some(identity.dtype.clone()));
            match scoring {
                Scoring::CrossValidated { k, head, examples_per_label } => {
                    cross_validated(&cx, set, predictions, *k, *head, examples_per_label, model)
                }
                Scoring::Engine { head } => {
                    let mut scored = shipped(engine, predictions, head.as_deref(), model);
                    scored.in_sample = in_sample(&plan.sets, &engine.labels().combiner.trained_on);
                    scored
                }
                Scoring::Predictions(_) => unreachable!("matched above"),
            }
        }
        (_, None) => return Err(Error::Usage("internal error: an eval that runs the classifier needs the model".to_owned())),
    };
    Ok(assemble(&cx, set, &rows, scored))
}

/// How much of `sets` a classifier fitted on the articles `trained_on`
/// (fingerprints) has seen; `None` when none of it.
fn in_sample(sets: &[GoldSet], trained_on: &[String]) -> Option<InSample> {
    let seen: std::collections::HashSet<&str> = trained_on.iter().map(String::as_str).collect();
    let keys = article_keys(sets);
    let prints = article_fingerprints(sets);
    let articles: std::collections::HashSet<&str> = keys.iter().map(String::as_str).collect();
    let fitted: std::collections::HashSet<&str> =
        keys.iter().zip(&prints).filter(|(_, p)| seen.contains(p.as_str())).map(|(k, _)| k.as_str()).collect();
    let paragraphs = prints.iter().filter(|p| seen.contains(p.as_str())).count();
    (paragraphs > 0).then_some(InSample { articles: fitted.len(), of_articles: articles.len(), paragraphs, of_paragraphs: prints.len() })
}

/// The engine's own scores and decisions.
fn shipped(engine: &Engine, predictions: Vec<Prediction>, head: Option<&Path>, model: (String, String, Option<String>)) -> Scored {
    let mode = match head {
        Some(dir) => format!("head {}", dir.display()),
        None => "shipped".to_owned(),
    };
    Scored {
        scores: predictions.iter().map(|p| p.scores.clone()).collect(),
        thresholds: engine.labels().decider.thresholds(),
        mode,
        anchors: Vec::new(),
        few_shot: Vec::new(),
        predictions: predictions.into_iter().map(Some).collect(),
        model,
        folds: Vec::new(),
        in_sample: None,
    }
}

/// The cross-validation protocol: folds grouped by article; the combiner
/// and the gold centroids refitted per fold; beside it the zero-shot
/// classifier (the shared rules alone, nothing of any label's own), the
/// classifier without centroids, a head per fold on the classifier's
/// margins, and the cosine and logistic anchors; the few-shot curve of the
/// centroids.
fn cross_validated(
    cx: &Context,
    set: &LabelSet,
    predictions: Vec<Prediction>,
    k: usize,
    score_head: bool,
    examples_per_label: &[usize],
    model: (String, String, Option<String>),
) -> Scored {
    let seed = cx.plan.seed;
    let folds = crate::eval::gold::folds(&cx.plan.sets, k, seed);
    let gold = &cx.gold.rows;
    let features: Vec<Vec<Vec<f32>>> = predictions.iter().map(|p| p.features.clone()).collect();
    let similarity: Vec<Vec<f32>> = predictions.iter().map(|p| p.description_similarity.clone()).collect();
    let owned: Vec<Vec<f32>> = predictions.iter().map(|p| p.vector.clone()).collect();
    let vectors: Vec<&[f32]> = owned.iter().map(Vec::as_slice).collect();
    let thresholds = set.thresholds();
    let half = vec![0.5f32; cx.ids.len()];
    let decided = |scores: &[Vec<f32>], t: &[f32]| LabelMatrix::decided(scores, t, &cx.ids);

    let (cosine, chosen) = cosine_anchor_cv(&similarity, gold, &folds);
    let logistic = logistic_anchor_cv(&owned, gold, &folds);
    let mut anchors = vec![
        cx.anchor("cosine", format!("paragraph cosine to each label's description, one threshold per fold chosen on the training folds ({chosen:?})"), &decided(&cosine, &half)),
        cx.anchor("logistic-regression", "one L2 logistic regression per label on the frozen paragraph vectors, fitted on the training folds, decided at 0.5".to_owned(), &decided(&logistic, &half)),
    ];
    let articles = crate::eval::gold::article_keys(&cx.plan.sets);
    let gold_vectors = GoldVectors { vectors: &vectors, articles: &articles };
    let classifier = classifier_cv(&features, gold, &folds, Some(gold_vectors), None);
    let zero_shot = zero_shot_cv(&features, gold, &folds);
    let no_centroids = classifier_cv(&features, gold, &folds, None, None);
    let no_centroids_decided = decided(&no_centroids, &thresholds);
    let margins_of: Vec<Vec<f32>> = classifier.iter().map(|r| margins(r, &thresholds)).collect();
    let options = HeadOptions::default();
    let trained = head_cv(&vectors, &margins_of, gold, &folds, None, seed, options);
    let trained_result = cx.pooled(&decided(&trained, &half));
    let classifier_decided = decided(&classifier, &thresholds);
    let few_shot = if examples_per_label.is_empty() {
        Vec::new()
    } else {
        let centroids_at = |n: usize, draw: u64| {
            let s = classifier_cv(&features, gold, &folds, Some(gold_vectors), Some((n, seed + 1000 * (draw + 1))));
            cx.scores_of(&decided(&s, &thresholds))
        };
        few_shot_curve(cx, &cx.scores_of(&no_centroids_decided), &cx.scores_of(&classifier_decided), examples_per_label, centroids_at)
    };
    let zero_note = "the shared rules alone (label texts, aliases and context), with no parameter of any label's own (no bias, no gold centroids), as a label added without gold is scored; weights refitted in each fold".to_owned();
    anchors.push(cx.anchor("zero-shot", zero_note, &decided(&zero_shot, &thresholds)));
    let no_centroids_note = "the classifier with its per-label biases but without gold centroids, weights and biases refitted in each fold (the few-shot curve's 0)".to_owned();
    anchors.push(cx.anchor("no-centroids", no_centroids_note, &no_centroids_decided));
    let (scores, thresholds, mode) = if score_head {
        let note = "the classifier without a head: weights and gold centroids refitted in each fold".to_owned();
        anchors.push(cx.anchor("without-head", note, &classifier_decided));
        (trained, half, format!("cv-{k} head"))
    } else {
        let note = "a logistic head per label on the paragraph vector with the fold's classifier score as prior, trained on the training folds, decided at 0.5".to_owned();
        anchors.push(AnchorResult { name: "trained-head".to_owned(), note, result: trained_result });
        (classifier, thresholds, format!("cv-{k}"))
    };
    let predictions = predictions.into_iter().map(Some).collect();
    Scored { scores, thresholds, mode, anchors, few_shot, predictions, model, folds, in_sample: None }
}

/// Macro-F1 against the examples per label the gold centroids are built
/// from: none (the classifier without centroids), each N (mean of 3
/// draws), and every training row.
fn few_shot_curve(
    cx: &Context,
    no_centroids: &Scores,
    all: &Scores,
    points: &[usize],
    centroids_at: impl Fn(usize, u64) -> Scores,
) -> Vec<FewShotPoint> {
    let single = |examples: Option<usize>, s: &Scores| FewShotPoint {
        examples,
        macro_f1: s.macro_f1,
        groups: s.groups.clone(),
        draws: vec![s.macro_f1],
    };
    let mut curve = vec![single(Some(0), no_centroids)];
    for &n in points {
        let draws: Vec<Scores> = (0..3u64).map(|d| centroids_at(n, d)).collect();
        let mean = |f: &dyn Fn(&Scores) -> f64| draws.iter().map(f).sum::<f64>() / draws.len() as f64;
        curve.push(FewShotPoint {
            examples: Some(n),
            macro_f1: mean(&|s| s.macro_f1),
            groups: cx.groups.keys().map(|g| (g.clone(), mean(&|s| s.groups.get(g).copied().unwrap_or(0.0)))).collect(),
            draws: draws.iter().map(|s| s.macro_f1).collect(),
        });
    }
    curve.push(single(None, all));
    curve
}

/// Per-set and pooled results, the per-row view, errors and kinds.
fn assemble(cx: &Context, set: &LabelSet, rows: &[(&str, &GoldRow)], scored: Scored) -> EvalOutcome {
    let decided = LabelMatrix::decided(&scored.scores, &scored.thresholds, &cx.ids);
    let mut results = Vec::new();
    let mut offset = 0;
    for gold_set in &cx.plan.sets {
        let range = offset..offset + gold_set.rows.len();
        offset += gold_set.rows.len();
        results.push(cx.result(&gold_set.name, &decided, range));
    }
    if cx.plan.sets.len() > 1 {
        results.push(cx.pooled(&decided));
    }
    let (predictions, errors) = row_views(cx, set, rows, &scored, &decided);
    let kinds = kind_results(cx, &predictions, &decided);
    let articles: Vec<(&str, &str)> = rows.iter().map(|(set, row)| (*set, row.article.as_str())).collect();
    let report = Report {
        in_sample: scored.in_sample,
        identity: Identity {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            date: now_utc(),
            model: scored.model.0,
            model_revision: scored.model.1,
            dtype: scored.model.2,
            label_set: set.name.clone(),
            label_set_hash: set.hash(),
            thresholds: cx.ids.iter().cloned().zip(scored.thresholds.iter().copied()).collect(),
            mode: scored.mode,
            fold_seed: matches!(cx.plan.scoring, Scoring::CrossValidated { .. }).then_some(cx.plan.seed),
        },
        labels: cx.ids.clone(),
        groups: cx.groups.clone(),
        sets: results,
        anchors: scored.anchors,
        kinds,
        few_shot: scored.few_shot,
        confusion: confusion(&cx.gold, &decided),
        articles: by_article(&cx.gold, &decided, &articles),
        predictions,
        errors,
    };
    EvalOutcome { report, scores: scored.scores, gold: cx.gold.clone(), folds: scored.folds }
}

/// Whether a paragraph's gold themes are not named in it: no alias of a
/// gold label occurs and no span comes close to it on its own.
fn context_dependent(row: &GoldRow, p: &Prediction, set: &LabelSet) -> bool {
    !row.labels.is_empty()
        && row.labels.iter().all(|l| {
            set.index(l).is_some_and(|j| Feature::Alias.of(&p.features[j]) == 0.0 && Feature::BestUnit.of(&p.features[j]) < 0.45)
        })
}

fn row_views(
    cx: &Context,
    set: &LabelSet,
    rows: &[(&str, &GoldRow)],
    scored: &Scored,
    decided: &LabelMatrix,
) -> (Vec<PredictionRow>, Vec<ErrorRow>) {
    let mut predictions = Vec::new();
    let mut errors = Vec::new();
    for (i, (set_name, row)) in rows.iter().enumerate() {
        let score_map: BTreeMap<String, f32> =
            cx.ids.iter().cloned().zip(scored.scores[i].iter().map(|s| (s * 1e4).round() / 1e4)).collect();
        let p = scored.predictions[i].as_ref();
        let row_kinds = kinds(&KindInput {
            paragraph: row.paragraph,
            text: &row.text,
            tokens: p.map_or(0, |p| p.tokens),
            context_dependent: p.is_some_and(|p| context_dependent(row, p, set)),
            uncovered_language: crate::lang::uncovered_language(&row.text, &cx.plan.languages),
            language: crate::lang::detected_language(&row.text),
        });
        let (gold, labels) = (cx.gold.set(i), decided.set(i));
        let with_score = |l: &String| (l.clone(), score_map.get(l).copied().unwrap_or(0.0));
        let false_positives: BTreeMap<String, f32> = labels.difference(&gold).map(with_score).collect();
        let false_negatives: BTreeMap<String, f32> = gold.difference(&labels).map(with_score).collect();
        if !false_positives.is_empty() || !false_negatives.is_empty() {
            let evidence = false_positives
                .keys()
                .chain(false_negatives.keys())
                .filter_map(|l| {
                    let j = set.index(l)?;
                    Some((l.clone(), serde_json::to_value(&p?.evidence[j]).unwrap_or_default()))
                })
                .collect();
            errors.push(ErrorRow {
                article: row.article.clone(),
                paragraph: row.paragraph,
                text: row.text.clone(),
                false_positives,
                false_negatives,
                evidence,
            });
        }
        predictions.push(PredictionRow {
            article: row.article.clone(),
            paragraph: row.paragraph,
            set: set_name.to_string(),
            labels: labels.into_iter().collect(),
            gold: row.labels.clone(),
            scores: score_map,
            kinds: row_kinds,
        });
    }
    (predictions, errors)
}

fn kind_results(cx: &Context, predictions: &[PredictionRow], decided: &LabelMatrix) -> Vec<KindResult> {
    let all_kinds: BTreeSet<&String> = predictions.iter().flat_map(|p| p.kinds.iter()).collect();
    all_kinds
        .into_iter()
        .map(|kind| {
            let rows: Vec<usize> = (0..predictions.len()).filter(|&i| predictions[i].kinds.contains(kind)).collect();
            let (gold, pred) = (cx.gold.select(&rows), decided.select(&rows));
            let s = score(&gold, &pred, &BTreeMap::new());
            let any_gold = s.labels.values().any(|l| l.support > 0);
            let (macro_f1, micro_f1) = (any_gold.then_some(s.macro_f1), s.micro.f1_if_defined());
            let keys: Vec<String> = rows.iter().map(|&i| cx.keys[i].clone()).collect();
            let macro_f1_interval =
                any_gold.then(|| bootstrap(&gold, &pred, &keys, &BTreeMap::new(), cx.plan.resamples, cx.plan.seed).macro_f1);
            KindResult { kind: kind.clone(), paragraphs: rows.len(), macro_f1, micro_f1, macro_f1_interval }
        })
        .collect()
}

/// Scores per gold row from a `themes label` output: a label listed as
/// assigned counts even without a score.
fn read_predictions(path: &Path, rows: &[(&str, &GoldRow)], ids: &[String]) -> Result<Vec<Vec<f32>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut by_key: BTreeMap<(String, usize), Vec<f32>> = BTreeMap::new();
    let mut texts: BTreeMap<(String, usize), (String, usize)> = BTreeMap::new();
    let known: BTreeSet<&String> = ids.iter().collect();
    for line in crate::jsonl::lines(&text) {
        let at = Location::line(path, line.number);
        let row: crate::output::LabelRow =
            serde_json::from_str(line.text).map_err(|e| Error::invalid(at.clone(), format!("not a prediction row: {e}")))?;
        // Rows made with another label set would score 0 everywhere.
        let scored: BTreeSet<&String> = row.scores.keys().collect();
        if let Some(unknown) = row.labels.iter().chain(row.scores.keys()).find(|l| !known.contains(l)) {
            return Err(Error::invalid(at, format!("label {unknown:?} is not in the label set: these predictions were made with another label set; pass it with --labels")));
        }
        if !row.scores.is_empty() && scored != known {
            let missing: Vec<&&String> = known.difference(&scored).collect();
            return Err(Error::invalid(at, format!("no score for {missing:?}: these predictions were made with another label set; pass it with --labels")));
        }
        let v = ids
            .iter()
            .map(|id| if row.labels.contains(id) { 1.0 } else { row.scores.get(id).copied().unwrap_or(0.0).min(0.0) })
            .collect();
        let key = (row.article, row.paragraph);
        texts.insert(key.clone(), (row.text, line.number));
        by_key.insert(key, v);
    }
    rows.iter()
        .map(|(_, r)| {
            let key = (r.article.clone(), r.paragraph);
            let v = by_key.get(&key).cloned().ok_or_else(|| {
                Error::Usage(format!("{}: no prediction for article {:?} paragraph {}", path.display(), r.article, r.paragraph))
            })?;
            match texts.get(&key) {
                Some((text, line)) if text != &r.text => Err(Error::invalid(
                    Location::line(path, *line),
                    format!("the text of article {:?} paragraph {} differs from the gold's: these predictions are of other articles", r.article, r.paragraph),
                )),
                _ => Ok(v),
            }
        })
        .collect()
}

impl Scoring {
    /// From `eval`'s options: a predictions file wins, then `--cv K` (with
    /// a head retrained per fold when `head` is given), else the engine.
    pub fn choose(predictions: Option<PathBuf>, cv: Option<usize>, head: Option<PathBuf>, examples_per_label: Vec<usize>) -> Scoring {
        match (predictions, cv) {
            (Some(path), _) => Scoring::Predictions(path),
            (None, Some(k)) => Scoring::CrossValidated { k, head: head.is_some(), examples_per_label },
            (None, None) => Scoring::Engine { head },
        }
    }
}

/// The regression gate (`eval --against`): whether no metric of `report`
/// fell below the 95% interval of the baseline report at `baseline`, with
/// one line per metric that fell (or one saying none did).
pub fn gate(report: &Report, baseline: &Path) -> Result<(bool, Vec<String>)> {
    let base = Report::read_baseline(baseline).map_err(|e| e.context(format!("reading baseline {}", baseline.display())))?;
    let fell = crate::eval::report::regressions(report, &base);
    if fell.is_empty() {
        return Ok((true, vec![format!("gate: no metric fell below the 95% interval of {}", baseline.display())]));
    }
    let line = |r: &crate::eval::report::Regression| {
        format!("gate: {} fell to {:.3} (baseline {:.3}, its 95% interval starts at {:.3})", r.metric, r.current, r.baseline, r.baseline_low)
    };
    Ok((false, fell.iter().map(line).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeEmbedder;

    fn gold(name: &str) -> GoldSet {
        let texts = [
            ("Chip plant opens", vec!["semiconductors"]),
            ("Semiconductor packaging and chip testing grow in Vietnam.", vec!["semiconductors"]),
            ("ASEAN summit in Jakarta", vec!["asean"]),
            ("ASEAN ministers discuss the South China Sea code of conduct.", vec!["asean", "east_sea"]),
            ("War legacy: Agent Orange clean-up", vec!["war_legacy"]),
            ("Unexploded ordnance from the war is cleared in Quang Tri.", vec!["war_legacy"]),
            ("Coast guard ships meet in the South China Sea", vec!["east_sea"]),
            ("The weather was mild.", vec![]),
        ];
        let mut rows = Vec::new();
        for article in 0..6 {
            for paragraph in 0..2 {
                let (text, labels) = &texts[(article + paragraph * 3) % texts.len()];
                rows.push(GoldRow {
                    article: format!("{name}{article}"),
                    paragraph: paragraph + 1,
                    text: (*text).to_owned(),
                    labels: labels.iter().map(|l| l.to_string()).collect(),
                    line: rows.len() + 1,
                });
            }
        }
        GoldSet { name: name.to_owned(), path: format!("gold/{name}.jsonl").into(), rows }
    }

    fn eval(scoring: Scoring) -> EvalOutcome {
        let fake = FakeEmbedder::new();
        let set = LabelSet::builtin().unwrap();
        let mut engine = Engine::new(&fake, None, &set, None).unwrap();
        let plan = EvalPlan::new(vec![gold("s"), gold("t")], scoring, 13, 100, vec!["en".to_owned()]).unwrap();
        run(&plan, &set, Some(&mut engine)).unwrap()
    }

    #[test]
    fn scoring_gold_the_classifier_was_fitted_on_says_it_is_in_sample() {
        let fake = FakeEmbedder::new();
        let set = LabelSet::builtin().unwrap();
        let (combiner, _, _) = {
            let mut engine = Engine::new(&fake, None, &set, None).unwrap();
            crate::job::learn::train_combiner(&mut engine, &[gold("s")]).unwrap()
        };
        assert_eq!(combiner.trained_on.len(), 6, "one fingerprint per article");
        let mut fitted = set.clone();
        fitted.classifier = Some(combiner);
        let score = |sets: Vec<GoldSet>| {
            let mut engine = Engine::new(&fake, None, &fitted, None).unwrap();
            let plan = EvalPlan::new(sets, Scoring::Engine { head: None }, 13, 100, vec!["en".to_owned()]).unwrap();
            run(&plan, &fitted, Some(&mut engine)).unwrap().report
        };
        let seen = score(vec![gold("s")]);
        assert_eq!(seen.in_sample, Some(InSample { articles: 6, of_articles: 6, paragraphs: 12, of_paragraphs: 12 }));
        assert!(seen.to_text(false).contains("in-sample: the label set's classifier was fitted on 6 of these 6 articles"));
        // The same articles under other ids are still the articles fitted on;
        // other text is not.
        let mut other = gold("u");
        for row in other.rows.iter_mut().filter(|r| r.article != "u0") {
            row.text.push_str(" It was reported on Monday.");
        }
        let partly = score(vec![other]);
        assert_eq!(partly.in_sample, Some(InSample { articles: 1, of_articles: 6, paragraphs: 2, of_paragraphs: 12 }));
        let mut unseen = gold("v");
        unseen.rows.iter_mut().for_each(|r| r.text.push_str(" Officials said so."));
        assert!(score(vec![unseen]).in_sample.is_none());
    }

    #[test]
    fn shipped_scores_every_set_and_pools_them() {
        let outcome = eval(Scoring::Engine { head: None });
        let r = &outcome.report;
        assert_eq!(r.identity.mode, "shipped");
        assert_eq!(r.sets.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["s", "t", "pooled"]);
        assert_eq!(r.sets[2].scores.paragraphs, 24);
        assert_eq!(r.predictions.len(), 24);
        assert!(r.anchors.is_empty() && r.few_shot.is_empty() && outcome.folds.is_empty());
        // The error list is exactly the rows whose decisions differ from the gold.
        let wrong = r.predictions.iter().filter(|p| p.labels != { let mut g = p.gold.clone(); g.sort(); g }).count();
        assert_eq!(r.errors.len(), wrong);
        assert!(r.kinds.iter().any(|k| k.kind == "headline"));
    }

    #[test]
    fn cross_validation_reports_anchors_and_the_few_shot_curve_on_grouped_folds() {
        let scoring = Scoring::CrossValidated { k: 3, head: false, examples_per_label: vec![1, 2] };
        let outcome = eval(scoring);
        let r = &outcome.report;
        assert_eq!(r.identity.mode, "cv-3");
        assert_eq!(r.identity.fold_seed, Some(13));
        let anchors: Vec<&str> = r.anchors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(anchors, vec!["cosine", "logistic-regression", "zero-shot", "no-centroids", "trained-head"]);
        let points: Vec<Option<usize>> = r.few_shot.iter().map(|p| p.examples).collect();
        assert_eq!(points, vec![Some(0), Some(1), Some(2), None]);
        // The curve runs from the classifier without centroids to the classifier itself.
        let pooled = r.sets.iter().find(|s| s.name == "pooled").unwrap();
        assert_eq!(r.few_shot.last().unwrap().macro_f1, pooled.scores.macro_f1);
        assert_eq!(r.few_shot[0].macro_f1, r.anchors[3].result.scores.macro_f1);
        assert_eq!(outcome.folds.len(), 24);
        let keys = article_keys(&[gold("s"), gold("t")]);
        for i in 0..24 {
            for j in 0..24 {
                if keys[i] == keys[j] {
                    assert_eq!(outcome.folds[i], outcome.folds[j], "an article stays in one fold");
                }
            }
        }
        let head = eval(Scoring::CrossValidated { k: 3, head: true, examples_per_label: vec![] });
        assert_eq!(head.report.identity.mode, "cv-3 head");
        let names: Vec<&str> = head.report.anchors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["cosine", "logistic-regression", "zero-shot", "no-centroids", "without-head"], "scored with a head, the classifier without it is an anchor");
    }

    #[test]
    fn calibrate_and_eval_split_the_same_gold_into_the_same_folds() {
        let fake = FakeEmbedder::new();
        let set = LabelSet::builtin().unwrap();
        let mut engine = Engine::new(&fake, None, &set, None).unwrap();
        let sets = vec![gold("s"), gold("t")];
        let (_, calibrate_folds) = crate::job::learn::calibrate(&mut engine, &sets, 3, 13).unwrap();
        let cv = eval(Scoring::CrossValidated { k: 3, head: false, examples_per_label: vec![] });
        assert_eq!(calibrate_folds, cv.folds);
        let (_, other_seed) = crate::job::learn::calibrate(&mut engine, &sets, 3, 14).unwrap();
        assert_ne!(other_seed, cv.folds, "the seed is used");
    }

    #[test]
    fn predictions_of_another_label_set_or_other_text_are_refused() {
        let gold = gold("s");
        let rows: Vec<(&str, &GoldRow)> = gold.rows.iter().map(|r| ("s", r)).collect();
        let ids = LabelSet::builtin().unwrap().ids();
        let dir = tempfile::tempdir().unwrap();
        let write = |scores: &[String], text_of: &dyn Fn(&GoldRow) -> String| {
            let path = dir.path().join("p.jsonl");
            let lines: Vec<String> = gold
                .rows
                .iter()
                .map(|r| {
                    let row = crate::output::LabelRow {
                        article: r.article.clone(),
                        paragraph: r.paragraph,
                        text: text_of(r),
                        labels: vec![],
                        scores: scores.iter().map(|id| (id.clone(), 0.1)).collect(),
                        evidence: Default::default(),
                        notes: vec![],
                        meta: Default::default(),
                    };
                    serde_json::to_string(&row).unwrap()
                })
                .collect();
            std::fs::write(&path, lines.join("\n")).unwrap();
            path
        };
        let same = |r: &GoldRow| r.text.clone();
        assert!(read_predictions(&write(&ids, &same), &rows, &ids).is_ok());
        let other: Vec<String> = vec!["chips".into(), "seas".into()];
        let err = read_predictions(&write(&other, &same), &rows, &ids).unwrap_err().to_string();
        assert!(err.contains("p.jsonl:1: label \"chips\" is not in the label set"), "{err}");
        let fewer: Vec<String> = ids[..3].to_vec();
        let err = read_predictions(&write(&fewer, &same), &rows, &ids).unwrap_err().to_string();
        assert!(err.contains("made with another label set"), "{err}");
        let err = read_predictions(&write(&ids, &|r| format!("{} (edited)", r.text)), &rows, &ids).unwrap_err().to_string();
        assert!(err.contains("p.jsonl:1: the text of article \"s0\" paragraph 1 differs from the gold's"), "{err}");
    }

    #[test]
    fn too_few_articles_for_the_folds_is_refused() {
        let err = EvalPlan::new(vec![gold("s")], Scoring::CrossValidated { k: 7, head: false, examples_per_label: vec![] }, 1, 100, vec![])
            .unwrap_err();
        assert!(err.to_string().contains("--cv 7 needs at least 7 articles; the gold has 6"), "{err}");
        let err = EvalPlan::new(vec![gold("s")], Scoring::Engine { head: None }, 1, 0, vec![]).unwrap_err();
        assert!(err.to_string().contains("--resamples 0: the 95% intervals need at least 100"), "{err}");
    }
}
