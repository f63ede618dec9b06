//! Honest estimates: article-grouped K-fold cross-validation of the
//! classifier (its combiner refitted on the training folds only), and the
//! two anchors every report shows beside it, computed from the same vectors
//! in the same folds: cosine to the label descriptions with one threshold
//! (chosen on the training folds), and logistic regression on the frozen
//! paragraph vectors. Pure: features and gold in, scores out.

use crate::learn::anchor::fit_logistic;
use crate::learn::centroids::GoldVectors;
use crate::learn::{cross_validate, cross_validated_scores, FitOptions};

use super::score::Counts;

/// Scores `[row][label]` of the classifier, each row scored by a combiner
/// and gold centroids fitted without its article (centroids from
/// `examples` per label only, drawn with the seed, where given); without
/// `gold_vectors`, the classifier without centroids (its per-label biases
/// still fitted).
pub fn classifier_cv(features: &[Vec<Vec<f32>>], gold: &[Vec<bool>], folds: &[usize], gold_vectors: Option<GoldVectors>, examples: Option<(usize, u64)>) -> Vec<Vec<f32>> {
    cross_validated_scores(features, gold, folds, FitOptions::default(), gold_vectors, examples)
}

/// Scores `[row][label]` of the zero-shot classifier: the shared rules
/// alone, fitted on the training folds with no parameter of any label's
/// own (no bias, no centroids), as a label added without gold is scored.
pub fn zero_shot_cv(features: &[Vec<Vec<f32>>], gold: &[Vec<bool>], folds: &[usize]) -> Vec<Vec<f32>> {
    let options = FitOptions { label_biases: false, ..FitOptions::default() };
    cross_validated_scores(features, gold, folds, options, None, None)
}

fn macro_f1(scores: &[Vec<f32>], gold: &[Vec<bool>], rows: &[usize], threshold: f32) -> f64 {
    let labels = gold.first().map_or(0, Vec::len);
    let mut total = 0.0;
    let mut counted = 0;
    for j in 0..labels {
        let c = Counts::of(rows.iter().map(|&i| (scores[i][j] >= threshold, gold[i][j])));
        if c.tp + c.fn_ > 0 {
            counted += 1;
            total += c.f1();
        }
    }
    if counted == 0 {
        0.0
    } else {
        total / counted as f64
    }
}

/// The cosine anchor: decisions are `similarity >= t` with one `t` for all
/// labels, picked per fold to maximize macro-F1 on the training folds.
/// Returns the decisions as 1/0 scores and the threshold used per fold.
pub fn cosine_anchor_cv(similarity: &[Vec<f32>], gold: &[Vec<bool>], folds: &[usize]) -> (Vec<Vec<f32>>, Vec<f32>) {
    let mut chosen = Vec::new();
    let out = cross_validate(
        folds,
        |_, train| {
            let mut best = (f64::MIN, 0.3f32);
            for step in 10..=70 {
                let t = step as f32 / 100.0;
                let f = macro_f1(similarity, gold, train, t);
                if f > best.0 {
                    best = (f, t);
                }
            }
            chosen.push(best.1);
            best.1
        },
        |&t, i| similarity[i].iter().map(|&s| (s >= t) as u8 as f32).collect(),
    );
    (out, chosen)
}

/// The logistic-regression anchor: one regularized logistic regression per
/// label on the paragraph vectors, fitted on the training folds; scores are
/// its probabilities (decided at 0.5).
pub fn logistic_anchor_cv(vectors: &[Vec<f32>], gold: &[Vec<bool>], folds: &[usize]) -> Vec<Vec<f32>> {
    let labels = gold.first().map_or(0, Vec::len);
    cross_validate(
        folds,
        |_, train| {
            let x: Vec<Vec<f32>> = train.iter().map(|&i| vectors[i].clone()).collect();
            (0..labels)
                .map(|j| {
                    let y: Vec<bool> = train.iter().map(|&i| gold[i][j]).collect();
                    fit_logistic(&x, &y, 300)
                })
                .collect::<Vec<_>>()
        },
        |models, i| models.iter().map(|model| model(&vectors[i])).collect(),
    )
}
