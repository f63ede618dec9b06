//! Calibration: per-label thresholds that maximize F1, and an honest
//! estimate of what they are worth. A threshold fitted and scored on the same
//! paragraphs always looks good; the cross-validated estimate fits on some
//! articles and scores on others. Pure: scores and gold in, numbers out.

/// F1 of deciding `score >= threshold` against `gold`.
pub fn f1_at(scores: &[f32], gold: &[bool], threshold: f32) -> f64 {
    super::score::Counts::of(scores.iter().zip(gold).map(|(&s, &g)| (s >= threshold, g))).f1()
}

/// The threshold with the best F1 among the midpoints between neighbouring
/// distinct scores (clamped to [0.01, 0.99]); ties go to the higher
/// threshold, the more conservative choice. `None` when the label has no
/// positive example, which leaves nothing to fit.
pub fn best_threshold(scores: &[f32], gold: &[bool]) -> Option<f32> {
    if !gold.iter().any(|&g| g) {
        return None;
    }
    let mut distinct: Vec<f32> = scores.to_vec();
    distinct.sort_by(|a, b| a.total_cmp(b));
    distinct.dedup();
    let mut best = (f64::MIN, 0.5f32);
    let candidates = distinct.windows(2).map(|w| (w[0] + w[1]) / 2.0).chain(distinct.first().map(|m| m / 2.0));
    for t in candidates {
        let t = t.clamp(0.01, 0.99);
        let f = f1_at(scores, gold, t);
        if f > best.0 || (f == best.0 && t > best.1) {
            best = (f, t);
        }
    }
    Some(best.1)
}

/// Per-label figures of a calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Thresholds fitted on all the data (what gets written).
    pub thresholds: Vec<f32>,
    /// F1 at the current thresholds.
    pub current_f1: Vec<f64>,
    /// F1 of the fitted thresholds on the data they were fitted on.
    pub in_sample_f1: Vec<f64>,
    /// F1 when each fold is scored with thresholds fitted on the others.
    pub cross_validated_f1: Vec<f64>,
}

impl Calibration {
    /// The terminal table: per label the threshold now and fitted, F1 now,
    /// fitted in-sample and cross-validated, then the macro averages.
    pub fn table(&self, ids: &[String], current: &[f32], k: usize, seed: u64) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "{:<20} {:>9} {:>9} {:>10} {:>10} {:>14}", "label", "threshold", "fitted", "F1 now", "F1 fitted", "F1 fitted (cv)");
        for (j, id) in ids.iter().enumerate() {
            let (t, f) = (current[j], self.thresholds[j]);
            let (now, fitted, cv) = (self.current_f1[j], self.in_sample_f1[j], self.cross_validated_f1[j]);
            let _ = writeln!(out, "{id:<20} {t:>9.3} {f:>9.3} {now:>10.3} {fitted:>10.3} {cv:>14.3}");
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let (now, fitted, cv) = (mean(&self.current_f1), mean(&self.in_sample_f1), mean(&self.cross_validated_f1));
        let _ = writeln!(out, "{:<20} {:>9} {:>9} {now:>10.3} {fitted:>10.3} {cv:>14.3}", "macro", "", "");
        let _ = writeln!(out, "(in-sample: fitted and scored on the same gold; cv: {k}-fold, grouped by article, seed {seed})");
        out
    }
}

/// Fits thresholds per label (`scores[row][label]`, `gold[row][label]`)
/// and estimates them honestly with the given article-grouped folds. A label
/// without positives in the fitting rows keeps its current threshold.
pub fn calibrate(scores: &[Vec<f32>], gold: &[Vec<bool>], current: &[f32], folds: &[usize]) -> Calibration {
    let labels = current.len();
    let column = |rows: &[usize], j: usize| -> (Vec<f32>, Vec<bool>) {
        (rows.iter().map(|&i| scores[i][j]).collect(), rows.iter().map(|&i| gold[i][j]).collect())
    };
    let fit = |rows: &[usize]| -> Vec<f32> {
        (0..labels)
            .map(|j| {
                let (s, g) = column(rows, j);
                best_threshold(&s, &g).unwrap_or(current[j])
            })
            .collect()
    };
    let all: Vec<usize> = (0..scores.len()).collect();
    let thresholds = fit(&all);
    // Held-out decisions pooled over folds, then scored once per label.
    let decided: Vec<Vec<f32>> = crate::learn::cross_validate(
        folds,
        |_, train| fit(train),
        |t: &Vec<f32>, i| {
            let on = crate::classify::decide(&scores[i], t);
            (0..labels).map(|j| on.contains(&j) as u8 as f32).collect()
        },
    );
    let mut out = Calibration {
        thresholds: Vec::with_capacity(labels),
        current_f1: Vec::with_capacity(labels),
        in_sample_f1: Vec::with_capacity(labels),
        cross_validated_f1: Vec::with_capacity(labels),
    };
    for (j, fitted) in thresholds.into_iter().enumerate() {
        let (s, g) = column(&all, j);
        out.thresholds.push(fitted);
        out.current_f1.push(f1_at(&s, &g, current[j]));
        out.in_sample_f1.push(f1_at(&s, &g, fitted));
        let held_out: Vec<f32> = decided.iter().map(|d| d[j]).collect();
        out.cross_validated_f1.push(f1_at(&held_out, &g, 0.5));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn best_threshold_separates_clean_data() {
        let scores = [0.1, 0.2, 0.35, 0.6, 0.7, 0.9];
        let gold = [false, false, false, true, true, true];
        let t = best_threshold(&scores, &gold).unwrap();
        assert!(t > 0.35 && t <= 0.6, "{t}");
        assert_eq!(f1_at(&scores, &gold, t), 1.0);
        assert_eq!(best_threshold(&scores, &[false; 6]), None);
    }

    #[test]
    fn thresholds_fitted_to_noise_look_better_in_sample_than_cross_validated() {
        // Scores unrelated to the gold: any threshold that looks good is luck.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let rows = 300;
        let scores: Vec<Vec<f32>> = (0..rows).map(|_| (0..3).map(|_| rng.random::<f32>()).collect()).collect();
        let gold: Vec<Vec<bool>> = (0..rows).map(|_| (0..3).map(|_| rng.random::<f32>() < 0.2).collect()).collect();
        let articles: Vec<String> = (0..rows).map(|i| format!("a{}", i / 6)).collect();
        let folds = crate::learn::grouped_folds(&articles, 5, 1);
        let c = calibrate(&scores, &gold, &[0.5; 3], &folds);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            mean(&c.cross_validated_f1) < mean(&c.in_sample_f1) - 0.02,
            "cv {:?} vs in-sample {:?}",
            c.cross_validated_f1,
            c.in_sample_f1
        );
    }
}
