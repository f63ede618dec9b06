//! Trained heads: one logistic regression per label on the paragraph
//! vector, fitted to hand labels, with the zero-shot classifier as its prior.
//!
//! A head's logit for label j is `w_j · v + a_j · z_j + b_j`, where `v` is
//! the paragraph vector and `z_j` the zero-shot margin (the classifier's
//! logit minus its threshold's, so `z_j > 0` is the zero-shot decision).
//! The penalty pulls `w_j` to 0 and `(a_j, b_j)` to `(1, 0)`: the head
//! *is* the zero-shot classifier until examples say otherwise, so a label
//! with three examples is not worse than one with none, and a label with no
//! examples keeps its zero-shot decisions exactly. Decided at 0.5.
//!
//! Saved as a folder: `head.safetensors` (`weights` [labels, dim], `prior`
//! [labels], `bias` [labels]) and `head.json` naming the model, the label
//! set and what it was trained on; loading checks both.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Result};

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

/// What a head was made for and from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HeadInfo {
    /// Format version.
    pub themes_head: u32,
    /// Model name and revision whose vectors it was fitted on.
    pub model: String,
    /// The model's revision.
    pub revision: String,
    /// Vector size.
    pub dim: usize,
    /// The label set's name.
    pub label_set: String,
    /// The label set's hash (`LabelSet::hash`): the zero-shot prior it wraps.
    pub label_set_hash: String,
    /// Label ids, in the order of the tensors' rows.
    pub labels: Vec<String>,
    /// Decision threshold per label on the head's probability.
    pub thresholds: BTreeMap<String, f32>,
    /// Positive examples per label it was fitted on.
    pub examples: BTreeMap<String, usize>,
    /// Gold files it was fitted on.
    pub trained_on: Vec<String>,
}

/// A fitted head.
#[derive(Debug, Clone)]
pub struct Head {
    /// What it is for.
    pub info: HeadInfo,
    /// One head per label, in label-set order.
    pub per_label: Vec<LabelHead>,
    /// The label set's thresholds, against which the zero-shot margins are
    /// taken (the head's hash check guarantees they are the ones it was
    /// trained with).
    pub zero_shot_thresholds: Vec<f32>,
}

/// Parameters of one label's head.
#[derive(Debug, Clone)]
pub struct LabelHead {
    /// Vector weights.
    pub weights: Vec<f32>,
    /// Weight of the zero-shot margin.
    pub prior: f32,
    /// Bias.
    pub bias: f32,
}

impl LabelHead {
    /// The zero-shot classifier itself.
    pub fn identity(dim: usize) -> LabelHead {
        LabelHead { weights: vec![0.0; dim], prior: 1.0, bias: 0.0 }
    }

    /// Probability of the label.
    pub fn probability(&self, vector: &[f32], margin: f32) -> f32 {
        let logit = self.bias + self.prior * margin + vector.iter().zip(&self.weights).map(|(a, b)| a * b).sum::<f32>();
        sigmoid(logit)
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    (p / (1.0 - p)).ln()
}

/// The zero-shot margin of a score against its threshold: positive exactly
/// when the zero-shot classifier assigns the label.
pub fn margin(score: f32, threshold: f32) -> f32 {
    logit(score) - logit(threshold)
}

/// The zero-shot margins of one paragraph's scores, label by label.
pub fn margins(scores: &[f32], thresholds: &[f32]) -> Vec<f32> {
    scores.iter().zip(thresholds).map(|(s, t)| margin(*s, *t)).collect()
}

/// Fits one label's head on `vectors`, zero-shot `margins` and gold `y`:
/// weighted, penalized logistic regression by accelerated gradient descent
/// with a step from the loss's curvature bound (power iteration), so it
/// converges whatever the scale of the vectors and margins.
pub fn fit_label(vectors: &[&[f32]], margins: &[f32], y: &[bool], options: HeadOptions) -> LabelHead {
    let dim = vectors.first().map_or(0, |v| v.len());
    let positives = y.iter().filter(|&&b| b).count();
    if positives == 0 || vectors.is_empty() {
        return LabelHead::identity(dim);
    }
    let negatives = y.len() - positives;
    let positive_weight = ((negatives as f32 / positives as f32).sqrt()).clamp(1.0, options.max_positive_weight);
    let weight = |yi: bool| if yi { positive_weight } else { 1.0 };
    // Centered vectors, then the margin, then 1: theta = [w, a, b].
    let mut mean = vec![0f32; dim];
    for v in vectors {
        for (m, x) in mean.iter_mut().zip(v.iter()) {
            *m += x / vectors.len() as f32;
        }
    }
    let rows: Vec<Vec<f32>> = vectors
        .iter()
        .zip(margins)
        .map(|(v, &m)| v.iter().zip(&mean).map(|(x, c)| x - c).chain([m, 1.0]).collect())
        .collect();
    let p = dim + 2;
    let penalty = |k: usize| if k < dim { options.l2_weights } else { options.l2_prior };
    let target = |k: usize| if k == dim { 1.0 } else { 0.0 };
    // Curvature bound: 0.25 * max weight * largest eigenvalue of X'X, plus the penalty.
    let mut u = vec![1f32 / (p as f32).sqrt(); p];
    let mut eigen = 0f32;
    for _ in 0..30 {
        let mut next = vec![0f32; p];
        for r in &rows {
            let dot: f32 = r.iter().zip(&u).map(|(a, b)| a * b).sum();
            for (n, x) in next.iter_mut().zip(r) {
                *n += dot * x;
            }
        }
        eigen = next.iter().map(|x| x * x).sum::<f32>().sqrt();
        if eigen == 0.0 {
            break;
        }
        u = next.into_iter().map(|x| x / eigen).collect();
    }
    let lipschitz = 0.25 * options.max_positive_weight.max(1.0) * eigen * 1.1 + options.l2_weights.max(options.l2_prior);
    let step = 1.0 / lipschitz;
    let start: Vec<f32> = (0..p).map(target).collect();
    let (mut theta, mut previous, mut look) = (start.clone(), start.clone(), start);
    let mut grad = vec![0f32; p];
    for t in 0..options.iterations {
        grad.iter_mut().enumerate().for_each(|(k, g)| *g = penalty(k) * (look[k] - target(k)));
        for (r, &yi) in rows.iter().zip(y) {
            let z: f32 = r.iter().zip(&look).map(|(a, b)| a * b).sum();
            let g = weight(yi) * (sigmoid(z) - yi as u8 as f32);
            for (acc, x) in grad.iter_mut().zip(r) {
                *acc += g * x;
            }
        }
        previous.copy_from_slice(&theta);
        for k in 0..p {
            theta[k] = look[k] - step * grad[k];
        }
        let momentum = t as f32 / (t as f32 + 3.0);
        for k in 0..p {
            look[k] = theta[k] + momentum * (theta[k] - previous[k]);
        }
    }
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
pub fn sample_examples(candidates: &[usize], gold: &[Vec<bool>], n: usize, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let labels = gold.first().map_or(0, Vec::len);
    let mut chosen = std::collections::BTreeSet::new();
    for j in 0..labels {
        let mut with: Vec<usize> = candidates.iter().copied().filter(|&i| gold[i][j]).collect();
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
    let k = folds.iter().copied().max().map_or(0, |m| m + 1);
    let mut out = vec![Vec::new(); vectors.len()];
    for fold in 0..k {
        let train: Vec<usize> = (0..vectors.len()).filter(|&i| folds[i] != fold).collect();
        let train = match examples_per_label {
            Some(n) => sample_examples(&train, gold, n, seed.wrapping_add(fold as u64)),
            None => train,
        };
        let v: Vec<&[f32]> = train.iter().map(|&i| vectors[i]).collect();
        let m: Vec<Vec<f32>> = train.iter().map(|&i| margins[i].clone()).collect();
        let g: Vec<Vec<bool>> = train.iter().map(|&i| gold[i].clone()).collect();
        let heads = fit_heads(&v, &m, &g, options);
        for i in (0..vectors.len()).filter(|&i| folds[i] == fold) {
            out[i] = heads.iter().enumerate().map(|(j, h)| h.probability(vectors[i], margins[i][j])).collect();
        }
    }
    out
}

impl Head {
    /// Assembles a head from fitted labels and the label set's thresholds.
    pub fn new(info: HeadInfo, per_label: Vec<LabelHead>, zero_shot_thresholds: Vec<f32>) -> Head {
        Head { info, per_label, zero_shot_thresholds }
    }

    /// Probabilities per label for one paragraph, from its vector and its
    /// zero-shot scores.
    pub fn probabilities(&self, vector: &[f32], scores: &[f32]) -> Vec<f32> {
        self.per_label
            .iter()
            .zip(scores.iter().zip(&self.zero_shot_thresholds))
            .map(|(l, (s, t))| l.probability(vector, margin(*s, *t)))
            .collect()
    }

    /// Replaces a prediction's zero-shot scores and labels with the head's.
    pub fn apply(&self, prediction: &mut crate::pipeline::Prediction) {
        prediction.scores = self.probabilities(&prediction.vector, &prediction.scores);
        let thresholds = self.thresholds();
        prediction.labels = (0..prediction.scores.len()).filter(|&j| prediction.scores[j] >= thresholds[j]).collect();
    }

    /// The decision threshold per label, in label order.
    pub fn thresholds(&self) -> Vec<f32> {
        self.info.labels.iter().map(|id| self.info.thresholds.get(id).copied().unwrap_or(0.5)).collect()
    }

    /// Writes the head's folder (created if needed); files appear whole.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let labels = self.per_label.len();
        let flat: Vec<f32> = self.per_label.iter().flat_map(|l| l.weights.iter().copied()).collect();
        let prior: Vec<f32> = self.per_label.iter().map(|l| l.prior).collect();
        let bias: Vec<f32> = self.per_label.iter().map(|l| l.bias).collect();
        let tensors = [
            ("weights", Tensor::from_vec(flat, (labels, self.info.dim), &Device::Cpu)?),
            ("prior", Tensor::from_vec(prior, labels, &Device::Cpu)?),
            ("bias", Tensor::from_vec(bias, labels, &Device::Cpu)?),
        ];
        let weights_path = dir.join("head.safetensors");
        let temp = dir.join(".head.safetensors.tmp");
        let map: std::collections::HashMap<&str, Tensor> = tensors.into_iter().collect();
        candle_core::safetensors::save(&map, &temp)?;
        std::fs::rename(&temp, &weights_path).map_err(|e| Error::io(&weights_path, e))?;
        let json_path = dir.join("head.json");
        let mut file = crate::output::AtomicFile::create(&json_path)?;
        let text = serde_json::to_string_pretty(&self.info).map_err(|e| Error::io(&json_path, e.into()))?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| Error::io(&json_path, e))?;
        file.commit()
    }

    /// Reads a head's folder and checks that it was made for this model
    /// (name, revision, vector size) and this label set.
    pub fn load(dir: &Path, embedder: &crate::embed::Embedder, set: &crate::labels::LabelSet) -> Result<Head> {
        let (model, revision, dim) = (&embedder.identity().name, &embedder.identity().revision, embedder.dim());
        let json_path = dir.join("head.json");
        let text = std::fs::read_to_string(&json_path).map_err(|e| {
            Error::io(&json_path, std::io::Error::new(e.kind(), format!("{e}; a head folder is made by `themes train --out DIR`")))
        })?;
        let info: HeadInfo = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(Location::file(&json_path), format!("not a head description: {e}")))?;
        if &info.model != model || &info.revision != revision || info.dim != dim {
            return Err(Error::invalid(
                Location::file(&json_path),
                format!(
                    "this head was trained on vectors of model {} ({}), not {model} ({revision}); train a head for this model, or pass --model {}",
                    info.model, info.revision, info.model
                ),
            ));
        }
        if info.labels != set.ids() || info.label_set_hash != set.hash() {
            return Err(Error::invalid(
                Location::file(&json_path),
                format!(
                    "this head was trained for label set {:?} (hash {}), not {:?} (hash {}): labels, descriptions, thresholds or weights differ; retrain it with `themes train --labels ... --out {}`",
                    info.label_set,
                    &info.label_set_hash[..12.min(info.label_set_hash.len())],
                    set.name,
                    &set.hash()[..12],
                    dir.display()
                ),
            ));
        }
        let weights_path = dir.join("head.safetensors");
        let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu)
            .map_err(|e| Error::invalid(Location::file(&weights_path), format!("cannot read the head's weights: {e}")))?;
        let get = |name: &str| {
            tensors
                .get(name)
                .ok_or_else(|| Error::invalid(Location::file(&weights_path), format!("no tensor {name:?}")))
        };
        let labels = info.labels.len();
        let weights = get("weights")?.to_vec2::<f32>()?;
        let prior = get("prior")?.to_vec1::<f32>()?;
        let bias = get("bias")?.to_vec1::<f32>()?;
        if weights.len() != labels || weights.iter().any(|w| w.len() != dim) || prior.len() != labels || bias.len() != labels {
            return Err(Error::invalid(Location::file(&weights_path), "tensor shapes do not match head.json"));
        }
        let per_label = weights
            .into_iter()
            .zip(prior.into_iter().zip(bias))
            .map(|(weights, (prior, bias))| LabelHead { weights, prior, bias })
            .collect();
        Ok(Head::new(info, per_label, set.thresholds()))
    }
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
        let h = fit_label(&v, &vec![-1.0; 40], &y, HeadOptions::default());
        assert!(h.probability(&[1.0, 0.0], -1.0) > 0.5, "{h:?}");
        assert!(h.probability(&[0.0, 1.0], -1.0) < 0.5, "{h:?}");
    }
}
