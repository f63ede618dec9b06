//! L2-regularized logistic regression of one label on raw vectors: the
//! "logistic regression on frozen embeddings" baseline the eval reports
//! beside the classifier. Each dimension is standardized first; the penalty
//! matches scikit-learn's default (C = 1).

use super::solver::{minimize, Objective, Penalty, Schedule};
use super::Moments;
use crate::classify::sigmoid;

/// Standardized rows and their gold; parameters `[weights | bias]`.
struct Rows<'a> {
    z: Vec<Vec<f32>>,
    y: &'a [bool],
}

impl Objective for Rows<'_> {
    fn add_gradient(&self, theta: &[f32], grad: &mut [f32]) {
        let (w, b) = theta.split_at(theta.len() - 1);
        let dim = w.len();
        for (zi, &yi) in self.z.iter().zip(self.y) {
            let logit = b[0] + zi.iter().zip(w).map(|(a, c)| a * c).sum::<f32>();
            let g = sigmoid(logit) - yi as u8 as f32;
            for (acc, v) in grad[..dim].iter_mut().zip(zi) {
                *acc += g * v;
            }
            grad[dim] += g;
        }
    }
}

/// Fits on rows `x` and gold `y`; returns a scoring function.
pub fn fit_logistic(x: &[Vec<f32>], y: &[bool], iterations: usize) -> impl Fn(&[f32]) -> f32 {
    let dim = x.first().map_or(0, Vec::len);
    let n = x.len().max(1) as f32;
    let moments = Moments::of(x.iter().map(Vec::as_slice), dim, n);
    let z: Vec<Vec<f32>> = x.iter().map(|xi| moments.standardize(xi)).collect();
    // scikit-learn's C = 1 on the mean loss: a penalty of 1/n per weight.
    let l2 = 1.0 / n;
    let penalty = Penalty { strength: (0..=dim).map(|k| if k < dim { l2 } else { 0.0 }).collect(), target: vec![0.0; dim + 1] };
    let schedule = Schedule::Fixed { step: 0.5, iterations, data_scale: vec![n; dim + 1], penalty_scale: vec![1.0; dim + 1] };
    let theta = minimize(&Rows { z, y }, &penalty, &schedule);
    let (w, b) = (theta[..dim].to_vec(), theta[dim]);
    move |v: &[f32]| {
        let logit = b + v.iter().zip(&moments.mean).zip(&moments.scale).zip(&w).map(|(((x, m), s), c)| (x - m) / s * c).sum::<f32>();
        sigmoid(logit)
    }
}
