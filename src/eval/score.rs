//! Metrics for multi-label predictions, exactly as scikit-learn defines
//! them, with 95% bootstrap intervals that resample whole articles.
//! Pure: sets of label ids in, numbers out.
//!
//! Conventions (also in `evals/README.md`): a ratio with a zero denominator
//! is 0 (scikit-learn's `zero_division=0`); macro averages run over the
//! labels that occur in the gold data (support > 0).

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::matrix::LabelMatrix;

/// One label's counts and scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// False negatives.
    pub fn_: usize,
    /// Gold occurrences (tp + fn).
    pub support: usize,
    /// tp / (tp + fp), 0 when nothing was predicted.
    pub precision: f64,
    /// tp / (tp + fn), 0 when the label never occurs.
    pub recall: f64,
    /// Harmonic mean of precision and recall, 0 when both are 0.
    pub f1: f64,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Decision counts of one label: the one place an F1 is computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Predicted and gold.
    pub tp: usize,
    /// Predicted, not gold.
    pub fp: usize,
    /// Gold, not predicted.
    pub fn_: usize,
}

impl Counts {
    /// Counts one (predicted, gold) decision.
    pub fn add(&mut self, predicted: bool, gold: bool) {
        match (predicted, gold) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => {}
        }
    }

    /// Counts a column of decisions.
    pub fn of(decisions: impl IntoIterator<Item = (bool, bool)>) -> Counts {
        let mut c = Counts::default();
        decisions.into_iter().for_each(|(p, g)| c.add(p, g));
        c
    }

    /// F1: 2tp / (2tp + fp + fn), which equals the harmonic mean of
    /// precision and recall and is 0 when tp is 0.
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

impl LabelScore {
    fn from_counts(tp: usize, fp: usize, fn_: usize) -> Self {
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = Counts { tp, fp, fn_ }.f1();
        LabelScore { tp, fp, fn_, support: tp + fn_, precision, recall, f1 }
    }
}

/// Every metric for one set of predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Per label id.
    pub labels: BTreeMap<String, LabelScore>,
    /// Micro average (counts pooled over labels).
    pub micro: LabelScore,
    /// Macro F1 over labels with support.
    pub macro_f1: f64,
    /// Macro precision over labels with support.
    pub macro_precision: f64,
    /// Macro recall over labels with support.
    pub macro_recall: f64,
    /// Macro F1 over each group's labels with support.
    pub groups: BTreeMap<String, f64>,
    /// Share of paragraphs whose label set is exactly right.
    pub exact_match: f64,
    /// Share of (paragraph, label) decisions that are wrong.
    pub hamming_loss: f64,
    /// Paragraphs scored.
    pub paragraphs: usize,
}

/// Scores `pred` against `gold` (the same rows and labels); `groups` maps
/// a group name to its label ids.
pub fn score(gold: &LabelMatrix, pred: &LabelMatrix, groups: &BTreeMap<String, Vec<String>>) -> Scores {
    let labels = &gold.ids;
    let mut per = BTreeMap::new();
    let (mut tp_all, mut fp_all, mut fn_all) = (0, 0, 0);
    let mut wrong = 0usize;
    for (j, label) in labels.iter().enumerate() {
        let c = Counts::of(gold.rows.iter().zip(&pred.rows).map(|(g, p)| (p[j], g[j])));
        tp_all += c.tp;
        fp_all += c.fp;
        fn_all += c.fn_;
        wrong += c.fp + c.fn_;
        per.insert(label.clone(), LabelScore::from_counts(c.tp, c.fp, c.fn_));
    }
    let macro_of = |ids: &mut dyn Iterator<Item = &String>, f: &dyn Fn(&LabelScore) -> f64| {
        let values: Vec<f64> = ids.filter_map(|id| per.get(id)).filter(|s| s.support > 0).map(f).collect();
        if values.is_empty() {
            0.0
        } else {
            values.iter().sum::<f64>() / values.len() as f64
        }
    };
    let exact = gold.rows.iter().zip(&pred.rows).filter(|(g, p)| g == p).count();
    let rows = gold.rows.len();
    Scores {
        micro: LabelScore::from_counts(tp_all, fp_all, fn_all),
        macro_f1: macro_of(&mut labels.iter(), &|s| s.f1),
        macro_precision: macro_of(&mut labels.iter(), &|s| s.precision),
        macro_recall: macro_of(&mut labels.iter(), &|s| s.recall),
        groups: groups.iter().map(|(name, ids)| (name.clone(), macro_of(&mut ids.iter(), &|s| s.f1))).collect(),
        exact_match: ratio(exact, rows),
        hamming_loss: if rows == 0 || labels.is_empty() { 0.0 } else { wrong as f64 / (rows * labels.len()) as f64 },
        paragraphs: rows,
        labels: per,
    }
}

/// A 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// 2.5th percentile.
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
}

/// Bootstrap intervals for every F1 figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    /// Per label F1.
    pub labels: BTreeMap<String, Interval>,
    /// Micro F1.
    pub micro_f1: Interval,
    /// Macro F1.
    pub macro_f1: Interval,
    /// Per group macro F1.
    pub groups: BTreeMap<String, Interval>,
    /// Resamples drawn.
    pub resamples: usize,
    /// Seed of the generator (ChaCha8).
    pub seed: u64,
}

/// Percentile bootstrap: draws whole articles with replacement (paragraphs
/// of one article are not independent), rescoring each resample. A label's
/// interval uses the resamples in which it occurs.
pub fn bootstrap(
    gold: &LabelMatrix,
    pred: &LabelMatrix,
    articles: &[String],
    groups: &BTreeMap<String, Vec<String>>,
    resamples: usize,
    seed: u64,
) -> Intervals {
    let labels = &gold.ids;
    let mut by_article: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, a) in articles.iter().enumerate() {
        by_article.entry(a).or_default().push(i);
    }
    let groups_of_rows: Vec<&Vec<usize>> = by_article.values().collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut samples: Vec<Scores> = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        let mut rows = Vec::new();
        for _ in 0..groups_of_rows.len() {
            rows.extend_from_slice(groups_of_rows[rng.random_range(0..groups_of_rows.len())]);
        }
        samples.push(score(&gold.select(&rows), &pred.select(&rows), groups));
    }
    // A resample that happens to hold no paragraph of a label says nothing
    // about that label's F1 (it would count as 0), so it is left out of
    // that label's interval.
    let interval = |f: &dyn Fn(&Scores) -> Option<f64>| {
        let mut v: Vec<f64> = samples.iter().filter_map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        if v.is_empty() {
            return Interval { low: 0.0, high: 0.0 };
        }
        let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        Interval { low: at(0.025), high: at(0.975) }
    };
    Intervals {
        labels: labels
            .iter()
            .map(|l| (l.clone(), interval(&|s| (s.labels[l].support > 0).then_some(s.labels[l].f1))))
            .collect(),
        micro_f1: interval(&|s| Some(s.micro.f1)),
        macro_f1: interval(&|s| Some(s.macro_f1)),
        groups: groups
            .iter()
            .map(|(g, ids)| {
                let has_support = |s: &Scores| ids.iter().any(|id| s.labels.get(id).is_some_and(|l| l.support > 0));
                (g.clone(), interval(&|s| has_support(s).then_some(s.groups[g])))
            })
            .collect(),
        resamples,
        seed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(rows: &[&[&str]]) -> Vec<std::collections::BTreeSet<String>> {
        rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect()
    }

    fn m(rows: &[std::collections::BTreeSet<String>], labels: &[String]) -> LabelMatrix {
        LabelMatrix::from_sets(rows, labels)
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    // Worked by hand with scikit-learn's definitions:
    // gold  = [{a}, {a,b}, {},  {b}]
    // pred  = [{a}, {a},   {b}, {}]
    // a: tp 2, fp 0, fn 0 -> P 1, R 1, F1 1
    // b: tp 0, fp 1, fn 2 -> P 0, R 0, F1 0
    // c: never in gold, never predicted -> all 0 (zero_division=0), support 0
    // micro: tp 2, fp 1, fn 2 -> P 2/3, R 1/2, F1 4/7
    // macro over labels with support (a, b): F1 0.5, P 0.5, R 0.5
    // exact match: rows 0 only -> 1/4; Hamming: 3 wrong of 12 -> 0.25
    #[test]
    fn hand_computed_scikit_learn_case() {
        let gold = sets(&[&["a"], &["a", "b"], &[], &["b"]]);
        let pred = sets(&[&["a"], &["a"], &["b"], &[]]);
        let groups = BTreeMap::from([("g".to_owned(), ids(&["b", "c"]))]);
        let labels = ids(&["a", "b", "c"]);
        let s = score(&m(&gold, &labels), &m(&pred, &labels), &groups);
        assert_eq!(s.labels["a"].f1, 1.0);
        assert_eq!((s.labels["b"].precision, s.labels["b"].recall, s.labels["b"].f1), (0.0, 0.0, 0.0));
        assert_eq!(s.labels["c"], LabelScore::default());
        assert!((s.micro.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.micro.recall - 0.5).abs() < 1e-12);
        assert!((s.micro.f1 - 4.0 / 7.0).abs() < 1e-12);
        assert_eq!((s.macro_f1, s.macro_precision, s.macro_recall), (0.5, 0.5, 0.5));
        assert_eq!(s.groups["g"], 0.0);
        assert_eq!(s.exact_match, 0.25);
        assert_eq!(s.hamming_loss, 0.25);
    }

    #[test]
    fn predicted_but_never_in_gold_has_zero_recall_and_no_macro_weight() {
        let gold = sets(&[&["a"], &[]]);
        let pred = sets(&[&["a"], &["z"]]);
        let labels = ids(&["a", "z"]);
        let s = score(&m(&gold, &labels), &m(&pred, &labels), &BTreeMap::new());
        assert_eq!((s.labels["z"].precision, s.labels["z"].recall, s.labels["z"].f1), (0.0, 0.0, 0.0));
        assert_eq!(s.macro_f1, 1.0, "z has no support: out of the macro average");
        assert!((s.micro.precision - 0.5).abs() < 1e-12);
    }

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_estimate() {
        let gold = sets(&[&["a"], &["a", "b"], &[], &["b"], &["a"], &["b"]]);
        let pred = sets(&[&["a"], &["a"], &["b"], &[], &["a"], &["b"]]);
        let arts = ids(&["x", "x", "y", "y", "z", "w"]);
        let labels = ids(&["a", "b"]);
        let (gold, pred) = (m(&gold, &labels), m(&pred, &labels));
        let one = bootstrap(&gold, &pred, &arts, &BTreeMap::new(), 500, 3);
        let two = bootstrap(&gold, &pred, &arts, &BTreeMap::new(), 500, 3);
        assert_eq!(one, two);
        let s = score(&gold, &pred, &BTreeMap::new());
        assert!(one.macro_f1.low <= s.macro_f1 && s.macro_f1 <= one.macro_f1.high);
        assert!(one.macro_f1.low < one.macro_f1.high);
    }
}
