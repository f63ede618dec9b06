//! Learn: fits the classifier's [`Combiner`] (shared feature weights plus a
//! bias per label) to hand labels by L2-regularized logistic regression.
//! Pure: takes features and gold, returns weights.
//!
//! The weights are shared across labels, so a few hundred labelled
//! paragraphs teach rules ("an alias hit matters", "a span close to an
//! example matters more than the whole paragraph") that hold for every
//! label, including labels with few or no examples; the per-label bias is
//! pulled towards zero so a rare label is not driven by a handful of rows.

use crate::classify::{Combiner, FEATURES};

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

/// Fits on `features[row][label][feature]` and `gold[row][label]`; returns
/// the combiner and one bias per label.
pub fn fit(features: &[Vec<Vec<f32>>], gold: &[Vec<bool>], options: FitOptions) -> (Combiner, Vec<f32>) {
    let nf = FEATURES.len();
    let labels = features.first().map_or(0, Vec::len);
    let count = (features.len() * labels).max(1) as f32;
    let mut mean = vec![0f32; nf];
    for row in features {
        for f in row {
            for (m, x) in mean.iter_mut().zip(f) {
                *m += x / count;
            }
        }
    }
    let mut scale = vec![0f32; nf];
    for row in features {
        for f in row {
            for ((s, x), m) in scale.iter_mut().zip(f).zip(&mean) {
                *s += (x - m) * (x - m) / count;
            }
        }
    }
    for s in scale.iter_mut() {
        *s = s.sqrt().max(1e-6);
    }
    let z: Vec<Vec<Vec<f32>>> = features
        .iter()
        .map(|row| row.iter().map(|f| f.iter().zip(&mean).zip(&scale).map(|((x, m), s)| (x - m) / s).collect()).collect())
        .collect();
    let mut weights = vec![0f32; nf];
    let mut biases = vec![0f32; labels];
    let mut intercept = 0f32;
    let rows = features.len().max(1) as f32;
    // Plain gradient descent: the problem is small and convex, and a fixed
    // schedule keeps the result deterministic.
    let step = 0.5f32;
    for _ in 0..options.iterations {
        let mut gw = vec![0f32; nf];
        let mut gb = vec![0f32; labels];
        let mut gi = 0f32;
        for (zr, gr) in z.iter().zip(gold) {
            for (j, (zf, &y)) in zr.iter().zip(gr).enumerate() {
                let logit = intercept + biases[j] + zf.iter().zip(&weights).map(|(a, b)| a * b).sum::<f32>();
                let p = 1.0 / (1.0 + (-logit).exp());
                let g = p - y as u8 as f32;
                for (w, x) in gw.iter_mut().zip(zf) {
                    *w += g * x;
                }
                gb[j] += g;
                gi += g;
            }
        }
        for (w, g) in weights.iter_mut().zip(&gw) {
            *w -= step * (g / count + options.l2_weights * *w / count);
        }
        for (b, g) in biases.iter_mut().zip(&gb) {
            *b -= step * (g / rows + options.l2_bias * *b / rows);
        }
        intercept -= step * gi / count;
    }
    let combiner = Combiner {
        features: FEATURES.iter().map(|s| s.to_string()).collect(),
        mean,
        scale,
        weights,
        intercept,
    };
    (combiner, biases)
}

/// Assigns each row a fold in `0..k` so that all rows of one article share
/// a fold: articles are shuffled with `seed`, then dealt round-robin.
pub fn grouped_folds(article_ids: &[String], k: usize, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut articles: Vec<&String> = article_ids.iter().collect();
    articles.sort();
    articles.dedup();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    articles.shuffle(&mut rng);
    let fold_of: std::collections::HashMap<&String, usize> =
        articles.into_iter().enumerate().map(|(i, a)| (a, i % k.max(1))).collect();
    article_ids.iter().map(|a| fold_of[a]).collect()
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
    let k = folds.iter().copied().max().map_or(0, |m| m + 1);
    let mut scores = vec![Vec::new(); features.len()];
    for fold in 0..k {
        let train: Vec<usize> = (0..features.len()).filter(|&i| folds[i] != fold).collect();
        let train_features: Vec<Vec<Vec<f32>>> = train.iter().map(|&i| features[i].clone()).collect();
        let train_gold: Vec<Vec<bool>> = train.iter().map(|&i| gold[i].clone()).collect();
        let (combiner, biases) = fit(&train_features, &train_gold, options);
        for i in (0..features.len()).filter(|&i| folds[i] == fold) {
            scores[i] = features[i]
                .iter()
                .zip(&biases)
                .map(|(f, b)| 1.0 / (1.0 + (-combiner.logit(f, *b)).exp()))
                .collect();
        }
    }
    scores
}

/// L2-regularized logistic regression of one label on raw vectors: the
/// "logistic regression on frozen embeddings" baseline the eval reports
/// beside the classifier. Each dimension is standardized first; the penalty
/// matches scikit-learn's default (C = 1). Returns a scoring function.
pub fn fit_logistic(x: &[Vec<f32>], y: &[bool], iterations: usize) -> impl Fn(&[f32]) -> f32 {
    let dim = x.first().map_or(0, Vec::len);
    let n = x.len().max(1) as f32;
    let mut mean = vec![0f32; dim];
    for xi in x {
        for (m, v) in mean.iter_mut().zip(xi) {
            *m += v / n;
        }
    }
    let mut scale = vec![0f32; dim];
    for xi in x {
        for ((s, v), m) in scale.iter_mut().zip(xi).zip(&mean) {
            *s += (v - m) * (v - m) / n;
        }
    }
    scale.iter_mut().for_each(|s| *s = s.sqrt().max(1e-6));
    let z: Vec<Vec<f32>> = x.iter().map(|xi| xi.iter().zip(&mean).zip(&scale).map(|((v, m), s)| (v - m) / s).collect()).collect();
    let l2 = 1.0 / n;
    let mut w = vec![0f32; dim];
    let mut b = 0f32;
    let step = 0.5f32;
    for _ in 0..iterations {
        let mut gw = vec![0f32; dim];
        let mut gb = 0f32;
        for (zi, &yi) in z.iter().zip(y) {
            let logit = b + zi.iter().zip(&w).map(|(a, c)| a * c).sum::<f32>();
            let g = 1.0 / (1.0 + (-logit).exp()) - yi as u8 as f32;
            for (acc, v) in gw.iter_mut().zip(zi) {
                *acc += g * v;
            }
            gb += g;
        }
        for (wi, g) in w.iter_mut().zip(&gw) {
            *wi -= step * (g / n + l2 * *wi);
        }
        b -= step * gb / n;
    }
    move |v: &[f32]| {
        let logit = b + v.iter().zip(&mean).zip(&scale).zip(&w).map(|(((x, m), s), c)| (x - m) / s * c).sum::<f32>();
        1.0 / (1.0 + (-logit).exp())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_never_share_an_article() {
        let ids: Vec<String> = (0..50).map(|i| format!("a{}", i % 9)).collect();
        let folds = grouped_folds(&ids, 5, 7);
        for (i, a) in ids.iter().enumerate() {
            for (j, b) in ids.iter().enumerate() {
                if a == b {
                    assert_eq!(folds[i], folds[j]);
                }
            }
        }
        assert_eq!(folds, grouped_folds(&ids, 5, 7), "seeded");
        assert_eq!(folds.iter().copied().max(), Some(4));
    }

    use super::*;

    #[test]
    fn learns_a_feature_that_separates_the_classes() {
        // Two labels; feature 3 (alias) decides, the rest is noise.
        let mut features = Vec::new();
        let mut gold = Vec::new();
        for i in 0..40 {
            let positive = i % 3 == 0;
            let mut f = vec![0.1 * ((i * 7) % 5) as f32; FEATURES.len()];
            f[3] = positive as u8 as f32;
            features.push(vec![f.clone(), f]);
            gold.push(vec![positive, positive]);
        }
        let (combiner, biases) = fit(&features, &gold, FitOptions::default());
        assert!(combiner.weights[3] > 1.0, "{:?}", combiner.weights);
        let pos = combiner.logit(&features[0][0], biases[0]);
        let neg = combiner.logit(&features[1][0], biases[0]);
        assert!(pos > 0.0 && neg < 0.0, "{pos} {neg}");
        assert!(combiner.is_compatible());
    }
}
