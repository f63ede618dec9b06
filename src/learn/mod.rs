//! Learn: everything fitted to hand labels, on one solver and one fold
//! driver. Pure: features, vectors and gold in, weights and scores out; no
//! I/O, no model.
//!
//! - [`solver`]: penalized logistic regression by gradient descent, the one
//!   optimizer of the crate.
//! - [`folds`]: article-grouped folds and the train-then-predict driver
//!   every cross-validated figure goes through.
//! - [`combiner`]: the classifier's shared feature weights and per-label
//!   biases.
//! - [`head`]: trained heads on the paragraph vector with the zero-shot
//!   classifier as prior.
//! - [`anchor`]: logistic regression on frozen vectors, the baseline every
//!   eval reports beside the classifier.

pub mod anchor;
pub mod centroids;
pub mod combiner;
pub mod folds;
pub mod head;
pub mod solver;

pub use combiner::{cross_validated_scores, fit, FitOptions};
pub use folds::{cross_validate, grouped_folds};

/// Per-column mean and standard deviation, for standardizing features.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// Column means.
    pub mean: Vec<f32>,
    /// Column standard deviations (at least 1e-6).
    pub scale: Vec<f32>,
}

impl Moments {
    /// The column means of `rows` (each `dim` wide), each value divided by
    /// `count` as it is added.
    pub fn mean_of<'a>(rows: impl IntoIterator<Item = &'a [f32]>, dim: usize, count: f32) -> Vec<f32> {
        let mut mean = vec![0f32; dim];
        for row in rows {
            for (m, x) in mean.iter_mut().zip(row) {
                *m += x / count;
            }
        }
        mean
    }

    /// Means and standard deviations of `rows` over `count` rows.
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a [f32]> + Clone, dim: usize, count: f32) -> Moments {
        let mean = Moments::mean_of(rows.clone(), dim, count);
        let mut scale = vec![0f32; dim];
        for row in rows {
            for ((s, x), m) in scale.iter_mut().zip(row).zip(&mean) {
                *s += (x - m) * (x - m) / count;
            }
        }
        for s in scale.iter_mut() {
            *s = s.sqrt().max(1e-6);
        }
        Moments { mean, scale }
    }

    /// `(x - mean) / scale`, column by column.
    pub fn standardize(&self, x: &[f32]) -> Vec<f32> {
        x.iter().zip(&self.mean).zip(&self.scale).map(|((x, m), s)| (x - m) / s).collect()
    }
}
