//! Fits the classifier's [`Combiner`] (shared feature weights plus a bias
//! per label) to hand labels by L2-regularized logistic regression.
//!
//! The weights are shared across labels, so a few hundred labelled
//! paragraphs teach rules ("an alias hit matters", "a span close to an
//! example matters more than the whole paragraph") that hold for every
//! label, including labels with few or no examples; the per-label bias is
//! pulled towards zero so a rare label is not driven by a handful of rows.

use super::centroids::{centroids, with_features, GoldVectors};
use super::head::sample_examples;
use super::folds::cross_validate;
use super::solver::{minimize, Objective, Penalty, Schedule};
use super::Moments;
use crate::classify::{sigmoid, Combiner, Feature, FEATURES};

/// How hard to fit.
#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    /// L2 penalty on the shared weights.
    pub l2_weights: f32,
    /// L2 penalty on the per-label biases (stronger: few rows per label).
    pub l2_bias: f32,
    /// Gradient steps.
    pub iterations: usize,
    /// Whether each label gets its own bias; without, every bias stays 0
    /// and only the shared rules are fitted, which is how a label added
    /// without gold is scored (the zero-shot anchor).
    pub label_biases: bool,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions { l2_weights: 1.0, l2_bias: 3.0, iterations: 2000, label_biases: true }
    }
}

/// Parameters `[weights (features) | biases (labels) | intercept]` over
/// standardized features `z[row][label][feature]`.
struct Rows<'a> {
    z: Vec<Vec<Vec<f32>>>,
    gold: &'a [Vec<bool>],
    labels: usize,
    label_biases: bool,
}

impl Objective for Rows<'_> {
    fn add_gradient(&self, theta: &[f32], grad: &mut [f32]) {
        let nf = FEATURES.len();
        let (weights, rest) = theta.split_at(nf);
        let (biases, intercept) = (&rest[..self.labels], rest[self.labels]);
        for (zr, gr) in self.z.iter().zip(self.gold) {
            for (j, (zf, &y)) in zr.iter().zip(gr).enumerate() {
                let logit = intercept + biases[j] + zf.iter().zip(weights).map(|(a, b)| a * b).sum::<f32>();
                let g = sigmoid(logit) - y as u8 as f32;
                for (w, x) in grad[..nf].iter_mut().zip(zf) {
                    *w += g * x;
                }
                if self.label_biases {
                    grad[nf + j] += g;
                }
                grad[nf + self.labels] += g;
            }
        }
    }
}

/// Fits on `features[row][label][feature]` and `gold[row][label]`; returns
/// the combiner and one bias per label.
pub fn fit(features: &[Vec<Vec<f32>>], gold: &[Vec<bool>], options: FitOptions) -> (Combiner, Vec<f32>) {
    let nf = FEATURES.len();
    let labels = features.first().map_or(0, Vec::len);
    let count = (features.len() * labels).max(1) as f32;
    let rows = features.len().max(1) as f32;
    // A missing feature (NaN: a label without gold centroids) stands at its
    // column's mean, so it weighs nothing, as the combiner reads it later.
    let filled;
    let features = if features.iter().flatten().flatten().any(|x| x.is_nan()) {
        let mut sum = vec![0f64; nf];
        let mut seen = vec![0usize; nf];
        for f in features.iter().flatten() {
            for (k, x) in f.iter().enumerate().filter(|(_, x)| !x.is_nan()) {
                sum[k] += *x as f64;
                seen[k] += 1;
            }
        }
        let mean: Vec<f32> = sum.iter().zip(&seen).map(|(s, &n)| if n > 0 { (s / n as f64) as f32 } else { 0.0 }).collect();
        filled = features
            .iter()
            .map(|row| row.iter().map(|f| f.iter().zip(&mean).map(|(x, m)| if x.is_nan() { *m } else { *x }).collect()).collect())
            .collect::<Vec<Vec<Vec<f32>>>>();
        &filled[..]
    } else {
        features
    };
    let all = || features.iter().flatten().map(Vec::as_slice);
    let moments = Moments::of(all(), nf, count);
    let z = features.iter().map(|row| row.iter().map(|f| moments.standardize(f)).collect()).collect();
    let p = nf + labels + 1;
    // The weights and the intercept see every (row, label) pair; a bias
    // sees only its label's rows, and is held to zero more firmly.
    let scale = |k: usize| if k >= nf && k < nf + labels { rows } else { count };
    let strength = |k: usize| match k {
        k if k < nf => options.l2_weights,
        k if k < nf + labels => options.l2_bias,
        _ => 0.0,
    };
    let penalty = Penalty { strength: (0..p).map(strength).collect(), target: vec![0.0; p] };
    let scales: Vec<f32> = (0..p).map(scale).collect();
    // Plain gradient descent: the problem is small and convex, and a fixed
    // schedule keeps the result deterministic.
    let schedule = Schedule::Fixed { step: 0.5, iterations: options.iterations, data_scale: scales.clone(), penalty_scale: scales };
    let theta = minimize(&Rows { z, gold, labels, label_biases: options.label_biases }, &penalty, &schedule);
    let combiner = Combiner {
        features: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean: moments.mean,
        scale: moments.scale,
        weights: theta[..nf].to_vec(),
        intercept: theta[nf + labels],
        trained_on: Vec::new(),
        model: None,
        biases: Default::default(),
        centroids: Default::default(),
    };
    (combiner, theta[nf..nf + labels].to_vec())
}

/// Train-then-predict with folds grouped by article: each row's scores come
/// from a combiner fitted on the other folds only. Returns scores
/// `[row][label]`.
///
/// With `gold_vectors`, the gold centroids are part of what is fitted: a
/// fold's combiner is fitted on features whose centroids leave each row's
/// article out, and scores the fold's rows against the centroids of its
/// training rows (all of them, or `examples` per label drawn from them
/// with `seed`: [`crate::learn::head::sample_examples`]); the held-out rows
/// are in neither. Without, the classifier is fitted and scored without
/// centroid features (zero-shot: its label texts alone).
pub fn cross_validated_scores(
    features: &[Vec<Vec<f32>>],
    gold: &[Vec<bool>],
    folds: &[usize],
    options: FitOptions,
    gold_vectors: Option<GoldVectors>,
    examples: Option<(usize, u64)>,
) -> Vec<Vec<f32>> {
    let blank = |row: &[Vec<f32>]| -> Vec<Vec<f32>> {
        row.iter()
            .map(|f| {
                let mut f = f.clone();
                for feature in Feature::FROM_CENTROIDS {
                    f[feature as usize] = f32::NAN;
                }
                f
            })
            .collect()
    };
    cross_validate(
        folds,
        |fold, train| {
            let train_gold: Vec<Vec<bool>> = train.iter().map(|&i| gold[i].clone()).collect();
            let (train_features, fold_centroids) = match gold_vectors {
                Some(g) => {
                    let from = match examples {
                        Some((n, seed)) => sample_examples(train, gold, n, seed.wrapping_add(fold as u64)),
                        None => train.to_vec(),
                    };
                    (g.fitting_features(features, gold, train), Some(centroids(g.vectors, gold, &from)))
                }
                None => (train.iter().map(|&i| blank(&features[i])).collect(), None),
            };
            let (combiner, biases) = fit(&train_features, &train_gold, options);
            (combiner, biases, fold_centroids)
        },
        |(combiner, biases, fold_centroids), i| {
            let row = match (fold_centroids, gold_vectors) {
                (Some(c), Some(g)) => with_features(&features[i], g.vectors[i], c),
                _ => blank(&features[i]),
            };
            row.iter().zip(biases).map(|(f, b)| sigmoid(combiner.logit(f, *b))).collect()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Feature;

    #[test]
    fn learns_a_feature_that_separates_the_classes() {
        // Two labels; the alias feature decides, the rest is noise.
        let mut features = Vec::new();
        let mut gold = Vec::new();
        for i in 0..40 {
            let positive = i % 3 == 0;
            let mut f = vec![0.1 * ((i * 7) % 5) as f32; FEATURES.len()];
            f[Feature::Alias as usize] = positive as u8 as f32;
            features.push(vec![f.clone(), f]);
            gold.push(vec![positive, positive]);
        }
        let (combiner, biases) = fit(&features, &gold, FitOptions::default());
        assert!(combiner.weights[Feature::Alias as usize] > 1.0, "{:?}", combiner.weights);
        let pos = combiner.logit(&features[0][0], biases[0]);
        let neg = combiner.logit(&features[1][0], biases[0]);
        assert!(pos > 0.0 && neg < 0.0, "{pos} {neg}");
        assert!(combiner.is_compatible());
    }

    #[test]
    fn without_label_biases_only_the_shared_rules_are_fitted() {
        // Label 1 is positive far more often than label 0: a bias would
        // learn that, the shared rules alone cannot.
        let mut features = Vec::new();
        let mut gold = Vec::new();
        for i in 0..40 {
            let mut f = vec![0.1 * ((i * 7) % 5) as f32; FEATURES.len()];
            f[Feature::Alias as usize] = (i % 3 == 0) as u8 as f32;
            features.push(vec![f.clone(), f]);
            gold.push(vec![i % 3 == 0, i % 3 != 2]);
        }
        let (_, biases) = fit(&features, &gold, FitOptions::default());
        assert!(biases[1] - biases[0] > 0.5, "{biases:?}");
        let (shared, biases) = fit(&features, &gold, FitOptions { label_biases: false, ..FitOptions::default() });
        assert_eq!(biases, vec![0.0, 0.0]);
        assert!(shared.weights[Feature::Alias as usize] > 0.5, "{:?}", shared.weights);
    }

    #[test]
    fn a_missing_feature_weighs_nothing_in_fitting_or_scoring() {
        // Label 1 has no centroid (NaN features); label 0's centroid feature separates.
        let mut features = Vec::new();
        let mut gold = Vec::new();
        for i in 0..40 {
            let positive = i % 3 == 0;
            let mut f = vec![0.1 * ((i * 7) % 5) as f32; FEATURES.len()];
            f[Feature::Centroid as usize] = if positive { 0.9 } else { 0.2 };
            let mut g = f.clone();
            g[Feature::Centroid as usize] = f32::NAN;
            g[Feature::CentroidContrast as usize] = f32::NAN;
            features.push(vec![f, g]);
            gold.push(vec![positive, positive]);
        }
        let (combiner, biases) = fit(&features, &gold, FitOptions::default());
        assert!(combiner.weights.iter().chain(&combiner.mean).chain(&combiner.scale).all(|x| x.is_finite()), "{combiner:?}");
        assert!(combiner.weights[Feature::Centroid as usize] > 0.5, "{:?}", combiner.weights);
        let missing = &features[0][1];
        let mut at_mean = missing.clone();
        at_mean[Feature::Centroid as usize] = combiner.mean[Feature::Centroid as usize];
        at_mean[Feature::CentroidContrast as usize] = combiner.mean[Feature::CentroidContrast as usize];
        assert!((combiner.logit(missing, biases[1]) - combiner.logit(&at_mean, biases[1])).abs() < 1e-5, "NaN reads as the mean");
    }
}
