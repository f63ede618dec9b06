//! Learning jobs: `train` (the combiner refitted into a label file, or a
//! trained head) and `calibrate` (per-label thresholds with their honest
//! estimate), each on the engine's predictions for gold sets.

use std::collections::BTreeMap;

use crate::classify::head::{margins, Head, HeadInfo};
use crate::classify::Combiner;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::eval::calibrate::{calibrate as fit_thresholds, Calibration};
use crate::eval::gold::{article_fingerprints, article_keys, GoldSet};
use crate::eval::matrix::LabelMatrix;
use crate::learn::head::{fit_heads, HeadOptions};
use crate::learn::centroids::{centroids, GoldVectors, StoredCentroids};
use crate::learn::{fit, FitOptions};

fn gold_matrix(engine: &Engine, sets: &[GoldSet]) -> Result<LabelMatrix> {
    let gold = LabelMatrix::from_gold(sets.iter().flat_map(|s| &s.rows), &engine.set().ids());
    if gold.is_empty() {
        return Err(Error::Usage("the gold files hold no paragraphs: nothing to train on".to_owned()));
    }
    Ok(gold)
}

/// The combiner and per-label biases refitted to `sets`; also returns the
/// paragraphs fitted on.
pub fn train_combiner(engine: &mut Engine, sets: &[GoldSet]) -> Result<(Combiner, BTreeMap<String, f32>, usize)> {
    let predictions = engine.predict_gold(sets)?;
    let gold = gold_matrix(engine, sets)?;
    let vectors: Vec<&[f32]> = predictions.iter().map(|p| p.vector.as_slice()).collect();
    let features: Vec<Vec<Vec<f32>>> = predictions.iter().map(|p| p.features.clone()).collect();
    // Fitted on centroids that leave each row's article out; shipped with
    // the centroids of every row.
    let articles = article_keys(sets);
    let rows: Vec<usize> = (0..features.len()).collect();
    let gold_vectors = GoldVectors { vectors: &vectors, articles: &articles };
    let fitting = gold_vectors.fitting_features(&features, &gold.rows, &rows);
    let (mut combiner, biases) = fit(&fitting, &gold.rows, FitOptions::default());
    combiner.centroids = gold
        .ids
        .iter()
        .zip(centroids(&vectors, &gold.rows, &rows))
        .filter(|(_, c)| c.positive.is_some())
        .map(|(id, c)| (id.clone(), StoredCentroids::store(&c)))
        .collect();
    let fitted_on: std::collections::BTreeSet<String> = article_fingerprints(sets).into_iter().collect();
    combiner.trained_on = fitted_on.into_iter().collect();
    combiner.model = Some(engine.model().identity().name.clone());
    let biases = gold.ids.iter().cloned().zip(biases).collect();
    Ok((combiner, biases, gold.len()))
}

/// `train --out FILE.toml`: the combiner refitted to `sets` and written
/// into a copy of the label file `source_text` at `out`; returns the notes
/// to print (what was fitted, the weights).
pub fn refit_label_file(engine: &mut Engine, sets: &[GoldSet], source_text: &str, out: &std::path::Path) -> Result<Vec<String>> {
    let (combiner, biases, paragraphs) = train_combiner(engine, sets)?;
    let text = crate::labels::rewrite(source_text, &engine.set().source, None, Some(&biases), Some(&combiner))?;
    crate::labels::write_file(&text, out)?;
    let model = combiner.model.clone().unwrap_or_default();
    let mut notes = vec![format!("trained on {} for {model}; weights written to {}", crate::count(paragraphs, "paragraph"), out.display())];
    notes.extend(crate::classify::FEATURES.iter().zip(&combiner.weights).map(|(name, w)| format!("  {name:<18} {w:+.3}")));
    Ok(notes)
}

/// `train --out DIR`: a head trained on `sets` and saved in `dir`; returns
/// the notes to print.
pub fn train_head_into(engine: &mut Engine, sets: &[GoldSet], dir: &std::path::Path) -> Result<Vec<String>> {
    let head = train_head(engine, sets)?;
    crate::model::heads::save(&head, dir)?;
    let paragraphs = crate::count(sets.iter().map(|s| s.rows.len()).sum(), "paragraph");
    let mut notes = vec![format!("trained a head on {paragraphs}; written to {}", dir.display())];
    notes.extend(head.describe());
    notes.push(format!("estimate it honestly with: themes eval --gold ... --cv 5 --head {}", dir.display()));
    Ok(notes)
}

/// A head trained on `sets` on top of the engine's zero-shot scores (the
/// engine must decide with thresholds, not with another head).
pub fn train_head(engine: &mut Engine, sets: &[GoldSet]) -> Result<Head> {
    if engine.head().is_some() {
        return Err(Error::Usage("a head is trained on the zero-shot scores, not on another head's".to_owned()));
    }
    let predictions = engine.predict_gold(sets)?;
    let gold = gold_matrix(engine, sets)?;
    let set = engine.set();
    let thresholds = set.thresholds();
    let vectors: Vec<&[f32]> = predictions.iter().map(|p| p.vector.as_slice()).collect();
    let zero_shot: Vec<Vec<f32>> = predictions.iter().map(|p| margins(&p.scores, &thresholds)).collect();
    let heads = fit_heads(&vectors, &zero_shot, &gold.rows, HeadOptions::default());
    let ids = gold.ids.clone();
    let examples = ids.iter().enumerate().map(|(j, id)| (id.clone(), gold.rows.iter().filter(|g| g[j]).count())).collect();
    let model = engine.model();
    let info = HeadInfo {
        themes_head: 1,
        model: model.identity().name.clone(),
        revision: model.identity().revision.clone(),
        dim: model.dim(),
        label_set: set.name.clone(),
        label_set_hash: set.hash(),
        label_file: Some(set.file_name()),
        labels: ids.clone(),
        thresholds: ids.iter().map(|id| (id.clone(), 0.5)).collect(),
        examples,
        trained_on: sets.iter().map(|s| s.path.display().to_string()).collect(),
    };
    Ok(Head::new(info, heads, thresholds))
}

/// Per-label F1-optimal thresholds for the engine's scores on `sets`, with
/// the in-sample and the `k`-fold cross-validated F1 beside them; returns
/// the folds too (the same as `eval --cv` takes for the same gold and seed).
pub fn calibrate(engine: &mut Engine, sets: &[GoldSet], k: usize, seed: u64) -> Result<(Calibration, Vec<usize>)> {
    let keys = article_keys(sets);
    let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
    if k < 2 || distinct.len() < k {
        return Err(Error::Usage(format!("--cv {k} needs at least that many articles (the gold has {})", distinct.len())));
    }
    let predictions = engine.predict_gold(sets)?;
    let gold = LabelMatrix::from_gold(sets.iter().flat_map(|s| &s.rows), &engine.set().ids());
    let scores: Vec<Vec<f32>> = predictions.into_iter().map(|p| p.scores).collect();
    let folds = crate::eval::gold::folds(sets, k, seed);
    let calibration = fit_thresholds(&scores, &gold.rows, &engine.labels().decider.thresholds(), &folds);
    Ok((calibration, folds))
}
