//! Fits the classifier's [`Combiner`] (shared feature weights plus a bias
//! per label) to hand labels by L2-regularized logistic regression.
//!
//! The weights are shared across labels, so a few hundred labelled
//! paragraphs teach rules ("an alias hit matters", "a span close to an
//! example matters more than the whole paragraph") that hold for every
//! label, including labels with few or no examples; the per-label bias is
//! pulled towards zero so a rare label is not driven by a handful of rows.

use super::folds::cross_validate;
use super::solver::{minimize, Objective, Penalty, Schedule};
use super::Moments;
use crate::classify::{sigmoid, Combiner, FEATURES};

/// How hard to fit.
#[derive(Debug, Clone, Copy)]
pub struct FitOptions {
    /// L2 penalty on the shared weights.
    pub l2_weights: f32,
    /// L2 penalty on the per-label biases (stronger: few rows per label).
    pub l2_bias: f32,
    /// Gradient steps.
    pub iterations: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions { l2_weights: 1.0, l2_bias: 3.0, iterations: 2000 }
    }
}

/// Parameters `[weights (features) | biases (labels) | intercept]` over
/// standardized features `z[row][label][feature]`.
struct Rows<'a> {
    z: Vec<Vec<Vec<f32>>>,
    gold: &'a [Vec<bool>],
    labels: usize,
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
                grad[nf + j] += g;
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
    let theta = minimize(&Rows { z, gold, labels }, &penalty, &schedule);
    let combiner = Combiner {
        features: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean: moments.mean,
        scale: moments.scale,
        weights: theta[..nf].to_vec(),
        intercept: theta[nf + labels],
        trained_on: Vec::new(),
        model: None,
        biases: Default::default(),
    };
    (combiner, theta[nf..nf + labels].to_vec())
}

/// Train-then-predict with folds grouped by article: each row's scores come
/// from a combiner fitted on the other folds only. Returns scores
/// `[row][label]`.
pub fn cross_validated_scores(
    features: &[Vec<Vec<f32>>],
    gold: &[Vec<bool>],
    folds: &[usize],
    options: FitOptions,
) -> Vec<Vec<f32>> {
    cross_validate(
        folds,
        |_, train| {
            let train_features: Vec<Vec<Vec<f32>>> = train.iter().map(|&i| features[i].clone()).collect();
            let train_gold: Vec<Vec<bool>> = train.iter().map(|&i| gold[i].clone()).collect();
            fit(&train_features, &train_gold, options)
        },
        |(combiner, biases), i| features[i].iter().zip(biases).map(|(f, b)| sigmoid(combiner.logit(f, *b))).collect(),
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
}
