//! The one optimizer: penalized, weighted logistic regression by gradient
//! descent. A problem says how its rows turn parameters into a loss
//! gradient ([`Objective`]); the solver owns the iterations, the penalty
//! pulling each parameter towards its target, and the step schedule.
//!
//! Two schedules, both deterministic (a fixed number of steps, no line
//! search), so a refit on the same data gives the same bits:
//! [`Schedule::Fixed`], plain gradient descent with a per-parameter scale
//! (the combiner and the anchor: small, well-conditioned problems), and
//! [`Schedule::Accelerated`], Nesterov's method with a step from a bound on
//! the loss's curvature (heads: hundreds of raw vector dimensions, whose
//! scale no fixed step suits).

/// A logistic loss over rows, as the solver sees it.
pub trait Objective {
    /// Adds the data part of the loss's gradient at `theta` to `grad`.
    fn add_gradient(&self, theta: &[f32], grad: &mut [f32]);
}

/// The L2 penalty `strength_k / 2 · (θ_k − target_k)²` per parameter; the
/// solver starts at the targets.
#[derive(Debug, Clone)]
pub struct Penalty {
    /// Strength per parameter.
    pub strength: Vec<f32>,
    /// Where each parameter is pulled (and starts).
    pub target: Vec<f32>,
}

/// How the solver steps.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// `θ_k -= step · (g_k / data_scale_k + strength_k · (θ_k − target_k) / penalty_scale_k)`.
    Fixed {
        /// Step size.
        step: f32,
        /// Steps taken.
        iterations: usize,
        /// Divides each parameter's data gradient (its number of rows).
        data_scale: Vec<f32>,
        /// Divides each parameter's penalty gradient.
        penalty_scale: Vec<f32>,
    },
    /// Nesterov-accelerated gradient descent with momentum `t / (t + 3)`.
    Accelerated {
        /// Step size: 1 / (a bound on the loss's curvature).
        step: f32,
        /// Steps taken.
        iterations: usize,
    },
}

/// Minimizes the objective plus the penalty; returns the parameters.
pub fn minimize(objective: &impl Objective, penalty: &Penalty, schedule: &Schedule) -> Vec<f32> {
    let p = penalty.target.len();
    let mut theta = penalty.target.clone();
    let mut grad = vec![0f32; p];
    match schedule {
        Schedule::Fixed { step, iterations, data_scale, penalty_scale } => {
            for _ in 0..*iterations {
                grad.iter_mut().for_each(|g| *g = 0.0);
                objective.add_gradient(&theta, &mut grad);
                for k in 0..p {
                    let pull = penalty.strength[k] * (theta[k] - penalty.target[k]) / penalty_scale[k];
                    theta[k] -= step * (grad[k] / data_scale[k] + pull);
                }
            }
        }
        Schedule::Accelerated { step, iterations } => {
            let (mut previous, mut look) = (theta.clone(), theta.clone());
            for t in 0..*iterations {
                for k in 0..p {
                    grad[k] = penalty.strength[k] * (look[k] - penalty.target[k]);
                }
                objective.add_gradient(&look, &mut grad);
                previous.copy_from_slice(&theta);
                for k in 0..p {
                    theta[k] = look[k] - step * grad[k];
                }
                let momentum = t as f32 / (t as f32 + 3.0);
                for k in 0..p {
                    look[k] = theta[k] + momentum * (theta[k] - previous[k]);
                }
            }
        }
    }
    theta
}

/// The largest eigenvalue of a symmetric positive semi-definite `p × p`
/// matrix given by its product with a vector (`apply(u, out)` adds `M·u`
/// to `out`), by 30 steps of power iteration.
pub fn largest_eigenvalue(p: usize, apply: impl Fn(&[f32], &mut [f32])) -> f32 {
    let mut u = vec![1f32 / (p as f32).sqrt(); p];
    let mut eigen = 0f32;
    for _ in 0..30 {
        let mut next = vec![0f32; p];
        apply(&u, &mut next);
        eigen = next.iter().map(|x| x * x).sum::<f32>().sqrt();
        if eigen == 0.0 {
            break;
        }
        u = next.into_iter().map(|x| x / eigen).collect();
    }
    eigen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::sigmoid;

    /// One feature and an intercept; y = 1 exactly when x > 0.
    struct Line(Vec<(f32, bool)>);

    impl Objective for Line {
        fn add_gradient(&self, theta: &[f32], grad: &mut [f32]) {
            for &(x, y) in &self.0 {
                let g = sigmoid(theta[0] * x + theta[1]) - y as u8 as f32;
                grad[0] += g * x;
                grad[1] += g;
            }
        }
    }

    #[test]
    fn both_schedules_separate_a_line_and_the_penalty_holds_them_back() {
        let rows: Vec<(f32, bool)> = (-10..=10).filter(|&i| i != 0).map(|i| (i as f32 / 10.0, i > 0)).collect();
        let n = rows.len() as f32;
        let line = Line(rows);
        let loose = Penalty { strength: vec![0.01, 0.0], target: vec![0.0, 0.0] };
        let fixed = |penalty: &Penalty| {
            let schedule = Schedule::Fixed { step: 0.5, iterations: 500, data_scale: vec![n; 2], penalty_scale: vec![1.0; 2] };
            minimize(&line, penalty, &schedule)
        };
        let accelerated = |penalty: &Penalty| minimize(&line, penalty, &Schedule::Accelerated { step: 0.05, iterations: 300 });
        for theta in [fixed(&loose), accelerated(&loose)] {
            assert!(theta[0] > 3.0, "{theta:?}");
            assert!(theta[1].abs() < 0.1, "{theta:?}");
        }
        let tight = Penalty { strength: vec![100.0, 0.0], target: vec![0.0, 0.0] };
        let held = minimize(&line, &tight, &Schedule::Accelerated { step: 0.005, iterations: 500 });
        assert!(held[0] > 0.0 && held[0] < 0.2, "{held:?}");
        let pulled = Penalty { strength: vec![1e4, 1e4], target: vec![-2.0, 1.0] };
        let theta = minimize(&line, &pulled, &Schedule::Accelerated { step: 1e-4, iterations: 300 });
        assert!((theta[0] + 2.0).abs() < 0.01 && (theta[1] - 1.0).abs() < 0.01, "{theta:?}");
    }

    #[test]
    fn power_iteration_finds_the_top_eigenvalue() {
        // diag(3, 1): apply adds M·u.
        let top = largest_eigenvalue(2, |u, out| {
            out[0] += 3.0 * u[0];
            out[1] += u[1];
        });
        assert!((top - 3.0).abs() < 1e-3, "{top}");
    }
}
