//! Trained heads at run time: one logistic regression per label on the
//! paragraph vector, with the zero-shot classifier as its prior (fitted by
//! `learn::head`, read and written by `model::heads`).
//!
//! A head's logit for label j is `w_j · v + a_j · z_j + b_j`, where `v` is
//! the paragraph vector and `z_j` the zero-shot margin (the classifier's
//! logit minus its threshold's, so `z_j > 0` is the zero-shot decision).
//! Decided at 0.5.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::sigmoid;

/// What a head was made for and from (`head.json`).
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
    /// The label file it was trained with (`LabelSet::file_name`: an
    /// absolute path, or "built-in"); absent in heads made before it was
    /// recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_file: Option<String>,
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
    /// sha256 of the weights file it was read from (empty for a head not
    /// yet saved): what a run's fingerprint records of it.
    pub digest: String,
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

impl Head {
    /// Assembles a head from fitted labels and the label set's thresholds.
    pub fn new(info: HeadInfo, per_label: Vec<LabelHead>, zero_shot_thresholds: Vec<f32>) -> Head {
        Head { info, per_label, zero_shot_thresholds, digest: String::new() }
    }

    /// One line per label: its examples and the weight of its zero-shot prior.
    pub fn describe(&self) -> Vec<String> {
        let line = |(id, label): (&String, &LabelHead)| {
            let examples = self.info.examples.get(id).copied().unwrap_or(0);
            let note = if examples == 0 { "  (no examples: zero-shot decisions kept)" } else { "" };
            format!("  {id:<20} {examples:>4} examples  prior weight {:.2}{note}", label.prior)
        };
        self.info.labels.iter().zip(&self.per_label).map(line).collect()
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

    /// The decision threshold per label, in label order.
    pub fn thresholds(&self) -> Vec<f32> {
        self.info.labels.iter().map(|id| self.info.thresholds.get(id).copied().unwrap_or(0.5)).collect()
    }
}
