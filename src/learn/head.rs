//! Fits trained heads (see `classify::head`): one logistic regression per
//! label on the paragraph vector plus the zero-shot margin.
//!
//! The penalty pulls the vector weights to 0 and (prior weight, bias) to
//! (1, 0): the head *is* the zero-shot classifier until examples say
//! otherwise, so a label with three examples is not worse than one with
//! none, and a label with no examples keeps its zero-shot decisions
//! exactly.

use super::folds::cross_validate;
use super::solver::{largest_eigenvalue, minimize, Objective, Penalty, Schedule};
use super::Moments;
use crate::classify::head::LabelHead;
use crate::classify::sigmoid;

/// How strongly to hold a head to its prior.
#[derive(Debug, Clone, Copy)]
pub struct HeadOptions {
    /// L2 penalty on the vector weights, in units of examples.
    pub l2_weights: f32,
    /// L2 penalty pulling (prior weight, bias) to (1, 0), in units of examples.
    pub l2_prior: f32,
    /// Largest weight given to a positive example of a rare label.
    pub max_positive_weight: f32,
    /// Gradient steps.
    pub iterations: usize,
}

impl Default for HeadOptions {
    fn default() -> Self {
        // Chosen for stability of the few-shot curve (grouped 5-fold CV on
        // the seeds and dev gold): weaker penalties let 2-8 examples pull
        // a label below its zero-shot F1.
        HeadOptions { l2_weights: 16.0, l2_prior: 16.0, max_positive_weight: 2.0, iterations: 400 }
    }
}

/// Rows `[v - mean, margin, 1]` with their gold and example weights.
struct Rows<'a> {
    rows: Vec<Vec<f32>>,
    y: &'a [bool],
    positive_weight: f32,
}

impl Objective for Rows<'_> {
    fn add_gradient(&self, theta: &[f32], grad: &mut [f32]) {
        for (r, &yi) in self.rows.iter().zip(self.y) {
            let z: f32 = r.iter().zip(theta).map(|(a, b)| a * b).sum();
            let weight = if yi { self.positive_weight } else { 1.0 };
            let g = weight * (sigmoid(z) - yi as u8 as f32);
            for (acc, x) in grad.iter_mut().zip(r) {
                *acc += g * x;
            }
        }
    }
}

/// Fits one label's head on `vectors`, zero-shot `margins` and gold `y`:
/// weighted, penalized logistic regression, accelerated, with a step from
/// the loss's curvature bound (power iteration), so it converges whatever
/// the scale of the vectors and margins.
pub fn fit_label(vectors: &[&[f32]], margins: &[f32], y: &[bool], options: HeadOptions) -> LabelHead {
    let dim = vectors.first().map_or(0, |v| v.len());
    let positives = y.iter().filter(|&&b| b).count();
    if positives == 0 || vectors.is_empty() {
        return LabelHead::identity(dim);
    }
    let negatives = y.len() - positives;
    let positive_weight = ((negatives as f32 / positives as f32).sqrt()).clamp(1.0, options.max_positive_weight);
    // Centered vectors, then the margin, then 1: theta = [w, a, b].
    let mean = Moments::mean_of(vectors.iter().copied(), dim, vectors.len() as f32);
    let rows: Vec<Vec<f32>> = vectors
        .iter()
        .zip(margins)
        .map(|(v, &m)| v.iter().zip(&mean).map(|(x, c)| x - c).chain([m, 1.0]).collect())
        .collect();
    let p = dim + 2;
    // Curvature bound: 0.25 * max weight * largest eigenvalue of X'X, plus the penalty.
    let eigen = largest_eigenvalue(p, |u, next| {
        for r in &rows {
            let dot: f32 = r.iter().zip(u).map(|(a, b)| a * b).sum();
            for (n, x) in next.iter_mut().zip(r) {
                *n += dot * x;
            }
        }
    });
    let lipschitz = 0.25 * options.max_positive_weight.max(1.0) * eigen * 1.1 + options.l2_weights.max(options.l2_prior);
    let penalty = Penalty {
        strength: (0..p).map(|k| if k < dim { options.l2_weights } else { options.l2_prior }).collect(),
        target: (0..p).map(|k| if k == dim { 1.0 } else { 0.0 }).collect(),
    };
    let schedule = Schedule::Accelerated { step: 1.0 / lipschitz, iterations: options.iterations };
    let theta = minimize(&Rows { rows, y, positive_weight }, &penalty, &schedule);
    let weights = theta[..dim].to_vec();
    let bias = theta[dim + 1] - weights.iter().zip(&mean).map(|(w, m)| w * m).sum::<f32>();
    LabelHead { weights, prior: theta[dim], bias }
}

/// Fits every label: `margins[row][label]`, `gold[row][label]`.
pub fn fit_heads(vectors: &[&[f32]], margins: &[Vec<f32>], gold: &[Vec<bool>], options: HeadOptions) -> Vec<LabelHead> {
    let labels = gold.first().map_or(0, Vec::len);
    (0..labels)
        .map(|j| {
            let m: Vec<f32> = margins.iter().map(|r| r[j]).collect();
            let y: Vec<bool> = gold.iter().map(|r| r[j]).collect();
            fit_label(vectors, &m, &y, options)
        })
        .collect()
}

/// Rows for a few-shot experiment: up to `n` rows with each label, drawn
/// (seeded) from `candidates`, as a person labelling `n` examples per label
/// would provide them.
// `label` picks a column of every row, which an iterator over `gold` does not.
#[allow(clippy::needless_range_loop)]
pub fn sample_examples(candidates: &[usize], gold: &[Vec<bool>], n: usize, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let labels = gold.first().map_or(0, Vec::len);
    let mut chosen = std::collections::BTreeSet::new();
    for label in 0..labels {
        let mut with: Vec<usize> = candidates.iter().copied().filter(|&i| gold[i][label]).collect();
        with.shuffle(&mut rng);
        chosen.extend(with.into_iter().take(n));
    }
    chosen.into_iter().collect()
}

/// Train-then-predict with article-grouped folds: each row's head
/// probabilities come from heads fitted on the other folds only (on `n`
/// sampled examples per label when `examples_per_label` is given).
pub fn head_cv(
    vectors: &[&[f32]],
    margins: &[Vec<f32>],
    gold: &[Vec<bool>],
    folds: &[usize],
    examples_per_label: Option<usize>,
    seed: u64,
    options: HeadOptions,
) -> Vec<Vec<f32>> {
    cross_validate(
        folds,
        |fold, train| {
            let train = match examples_per_label {
                Some(n) => sample_examples(train, gold, n, seed.wrapping_add(fold as u64)),
                None => train.to_vec(),
            };
            let v: Vec<&[f32]> = train.iter().map(|&i| vectors[i]).collect();
            let m: Vec<Vec<f32>> = train.iter().map(|&i| margins[i].clone()).collect();
            let g: Vec<Vec<bool>> = train.iter().map(|&i| gold[i].clone()).collect();
            fit_heads(&v, &m, &g, options)
        },
        |heads: &Vec<LabelHead>, i| heads.iter().enumerate().map(|(j, h)| h.probability(vectors[i], margins[i][j])).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_examples_is_the_zero_shot_classifier() {
        let v = [0.6f32, 0.8];
        let h = fit_label(&[&v, &v], &[1.0, -1.0], &[false, false], HeadOptions::default());
        assert_eq!((h.prior, h.bias), (1.0, 0.0));
        assert!((h.probability(&v, 0.3) > 0.5) && (h.probability(&v, -0.3) < 0.5));
    }

    #[test]
    fn examples_move_the_decision_where_zero_shot_is_wrong() {
        // Zero-shot says no everywhere; the label is the direction (1, 0).
        let rows: Vec<[f32; 2]> = (0..40).map(|i| if i % 2 == 0 { [1.0, 0.0] } else { [0.0, 1.0] }).collect();
        let v: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
        let y: Vec<bool> = (0..40).map(|i| i % 2 == 0).collect();
        let h = fit_label(&v, &[-1.0; 40], &y, HeadOptions::default());
        assert!(h.probability(&[1.0, 0.0], -1.0) > 0.5, "{h:?}");
        assert!(h.probability(&[0.0, 1.0], -1.0) < 0.5, "{h:?}");
    }
}
