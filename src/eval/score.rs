//! Metrics for multi-label predictions, exactly as scikit-learn defines
//! them, with 95% bootstrap intervals that resample whole articles.
//! Pure: sets of label ids in, numbers out.
//!
//! Conventions (also in `evals/README.md`): a ratio with a zero denominator
//! is 0 (scikit-learn's `zero_division=0`); macro averages run over the
//! labels that occur in the gold data (support > 0). A label with no gold
//! and no predicted positives has no score at all: the JSON says `null`
//! and the text and HTML say "n/a" ([`LabelScore::defined`]).

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::matrix::LabelMatrix;

/// One label's counts and scores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(into = "LabelScoreJson", from = "LabelScoreJson")]
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

impl LabelScore {
    /// Whether there is anything to score: some gold or some predicted
    /// positive. Without either, precision, recall and F1 are undefined.
    pub fn defined(&self) -> bool {
        self.tp + self.fp + self.fn_ > 0
    }

    /// F1, or `None` when undefined.
    pub fn f1_if_defined(&self) -> Option<f64> {
        self.defined().then_some(self.f1)
    }
}

/// A [`LabelScore`] as the report writes it: `fn` (read as `fn_` too, as
/// reports before it had it), and `null` for undefined ratios.
#[derive(Serialize, Deserialize)]
struct LabelScoreJson {
    tp: usize,
    fp: usize,
    #[serde(rename = "fn", alias = "fn_")]
    fn_: usize,
    support: usize,
    precision: Option<f64>,
    recall: Option<f64>,
    f1: Option<f64>,
}

impl From<LabelScore> for LabelScoreJson {
    fn from(s: LabelScore) -> Self {
        let d = s.defined();
        LabelScoreJson {
            tp: s.tp,
            fp: s.fp,
            fn_: s.fn_,
            support: s.support,
            precision: d.then_some(s.precision),
            recall: d.then_some(s.recall),
            f1: d.then_some(s.f1),
        }
    }
}

impl From<LabelScoreJson> for LabelScore {
    fn from(j: LabelScoreJson) -> Self {
        LabelScore {
            tp: j.tp,
            fp: j.fp,
            fn_: j.fn_,
            support: j.support,
            precision: j.precision.unwrap_or(0.0),
            recall: j.recall.unwrap_or(0.0),
            f1: j.f1.unwrap_or(0.0),
        }
    }
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
    /// Per label F1; `None` (`null`) when no resample holds the label.
    pub labels: BTreeMap<String, Option<Interval>>,
    /// Per label, the articles whose gold holds it: a bootstrap by article
    /// over fewer than two says nothing ([`Intervals::label`]). Absent from
    /// reports made before it.
    #[serde(default)]
    pub label_articles: BTreeMap<String, usize>,
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

impl Intervals {
    /// A label's interval, or why there is none: no gold, or one article
    /// only (every resample is that article, so the interval is a point).
    pub fn label(&self, id: &str) -> Result<Interval, String> {
        let articles = self.label_articles.get(id).copied();
        match (self.labels.get(id).copied().flatten(), articles) {
            (_, Some(0)) | (None, _) => Err("n/a (no gold)".to_owned()),
            (Some(_), Some(1)) => Err("n/a (1 article)".to_owned()),
            (Some(ci), _) => Ok(ci),
        }
    }
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
            return None;
        }
        let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
        Some(Interval { low: at(0.025), high: at(0.975) })
    };
    let none = Interval { low: 0.0, high: 0.0 };
    Intervals {
        labels: labels
            .iter()
            .map(|l| (l.clone(), interval(&|s| (s.labels[l].support > 0).then_some(s.labels[l].f1))))
            .collect(),
        label_articles: labels
            .iter()
            .enumerate()
            .map(|(j, l)| (l.clone(), groups_of_rows.iter().filter(|rows| rows.iter().any(|&i| gold.rows[i][j])).count()))
            .collect(),
        micro_f1: interval(&|s| Some(s.micro.f1)).unwrap_or(none),
        macro_f1: interval(&|s| Some(s.macro_f1)).unwrap_or(none),
        groups: groups
            .iter()
            .map(|(g, ids)| {
                let has_support = |s: &Scores| ids.iter().any(|id| s.labels.get(id).is_some_and(|l| l.support > 0));
                (g.clone(), interval(&|s| has_support(s).then_some(s.groups[g])).unwrap_or(none))
            })
            .collect(),
        resamples,
        seed,
    }
}

/// What a confusion breakdown names when there is no label to name: a
/// false positive on a paragraph with no gold theme, or a false negative
/// where nothing wrong was predicted instead.
pub const NONE: &str = "none";

/// Where one label's errors went (multilabel confusion).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelConfusion {
    /// Its false positives, counted under each gold label their paragraph
    /// had ([`NONE`]: no theme): a paragraph with two counts under both.
    pub false_positives: BTreeMap<String, usize>,
    /// Its false negatives, counted under each label wrongly predicted on
    /// their paragraph instead ([`NONE`]: nothing was).
    pub false_negatives: BTreeMap<String, usize>,
}

/// Per label, its false positives by the gold labels of their paragraphs
/// and its false negatives by the labels predicted instead.
pub fn confusion(gold: &LabelMatrix, pred: &LabelMatrix) -> BTreeMap<String, LabelConfusion> {
    let ids = &gold.ids;
    let mut out: BTreeMap<String, LabelConfusion> = ids.iter().map(|l| (l.clone(), LabelConfusion::default())).collect();
    for (g, p) in gold.rows.iter().zip(&pred.rows) {
        let names = |keep: &dyn Fn(usize) -> bool| -> Vec<&str> {
            let v: Vec<&str> = (0..ids.len()).filter(|&k| keep(k)).map(|k| ids[k].as_str()).collect();
            if v.is_empty() {
                vec![NONE]
            } else {
                v
            }
        };
        for (j, l) in ids.iter().enumerate() {
            let (into, by) = match (p[j], g[j]) {
                (true, false) => (&mut out.get_mut(l).expect("every label").false_positives, names(&|k| g[k])),
                (false, true) => (&mut out.get_mut(l).expect("every label").false_negatives, names(&|k| p[k] && !g[k])),
                _ => continue,
            };
            for name in by {
                *into.entry(name.to_owned()).or_default() += 1;
            }
        }
    }
    out
}

/// One label's errors in one article.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelErrors {
    /// False positives.
    pub fp: usize,
    /// False negatives.
    #[serde(rename = "fn")]
    pub fn_: usize,
}

/// One article's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArticleScore {
    /// Gold set it came from.
    pub set: String,
    /// Article id.
    pub article: String,
    /// Paragraphs scored.
    pub paragraphs: usize,
    /// Gold (paragraph, label) pairs.
    pub gold: usize,
    /// Predicted (paragraph, label) pairs.
    pub predicted: usize,
    /// Labels it got wrong, with their errors.
    pub errors: BTreeMap<String, LabelErrors>,
    /// Counts pooled over its labels, and their micro-F1 (`null` when it has
    /// no gold and no predicted theme).
    pub micro: LabelScore,
}

/// Per article (`articles[row]` = (set, article id), rows of one article
/// together), ordered worst first: lowest micro-F1, then most errors;
/// articles with nothing to score last.
pub fn by_article(gold: &LabelMatrix, pred: &LabelMatrix, articles: &[(&str, &str)]) -> Vec<ArticleScore> {
    let mut out: Vec<ArticleScore> = Vec::new();
    let mut counts: Vec<Counts> = Vec::new();
    for (i, &(set, article)) in articles.iter().enumerate() {
        if out.last().is_none_or(|a| a.set != set || a.article != article) {
            let errors = BTreeMap::new();
            out.push(ArticleScore { set: set.to_owned(), article: article.to_owned(), paragraphs: 0, gold: 0, predicted: 0, errors, micro: LabelScore::default() });
            counts.push(Counts::default());
        }
        let (a, c) = (out.last_mut().expect("pushed"), counts.last_mut().expect("pushed"));
        a.paragraphs += 1;
        for (j, l) in gold.ids.iter().enumerate() {
            let (p, g) = (pred.rows[i][j], gold.rows[i][j]);
            c.add(p, g);
            a.gold += usize::from(g);
            a.predicted += usize::from(p);
            if p != g {
                let e = a.errors.entry(l.clone()).or_default();
                if p {
                    e.fp += 1;
                } else {
                    e.fn_ += 1;
                }
            }
        }
    }
    for (a, c) in out.iter_mut().zip(&counts) {
        a.micro = LabelScore::from_counts(c.tp, c.fp, c.fn_);
    }
    out.sort_by(|x, y| {
        let key = |a: &ArticleScore| (!a.micro.defined(), a.micro.f1, std::cmp::Reverse(a.micro.fp + a.micro.fn_));
        let (kx, ky) = (key(x), key(y));
        kx.0.cmp(&ky.0).then(kx.1.total_cmp(&ky.1)).then(kx.2.cmp(&ky.2))
    });
    out
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

    // gold  = [{a}, {a},   {},  {b}, {a,b}]
    // pred  = [{a}, {b},   {a}, {},  {c}]
    // a: FP row 2 (gold none); FN rows 1 (b predicted instead) and 4 (c)
    // b: FP row 1 (gold a); FN rows 3 (none predicted) and 4 (c)
    // c: FP row 4, counted under both gold labels a and b
    #[test]
    fn confusion_names_the_gold_behind_each_false_positive_and_what_came_instead_of_each_miss() {
        let gold = sets(&[&["a"], &["a"], &[], &["b"], &["a", "b"]]);
        let pred = sets(&[&["a"], &["b"], &["a"], &[], &["c"]]);
        let labels = ids(&["a", "b", "c"]);
        let c = confusion(&m(&gold, &labels), &m(&pred, &labels));
        let map = |v: &[(&str, usize)]| v.iter().map(|(k, n)| (k.to_string(), *n)).collect::<BTreeMap<_, _>>();
        assert_eq!(c["a"].false_positives, map(&[(NONE, 1)]));
        assert_eq!(c["a"].false_negatives, map(&[("b", 1), ("c", 1)]));
        assert_eq!(c["b"].false_positives, map(&[("a", 1)]));
        assert_eq!(c["b"].false_negatives, map(&[(NONE, 1), ("c", 1)]));
        assert_eq!(c["c"].false_positives, map(&[("a", 1), ("b", 1)]));
        assert!(c["c"].false_negatives.is_empty());
    }

    // x: rows 0-1, gold [{a}, {}], pred [{a}, {b}]: tp 1 fp 1 -> F1 2/3
    // y: rows 2-3, gold [{a}, {b}], pred [{}, {}]: fn 2 -> F1 0
    // z: row 4, nothing gold or predicted -> undefined, last
    // w: row 5, gold {a} pred {a} -> F1 1
    #[test]
    fn articles_come_worst_first_with_their_errors() {
        let gold = sets(&[&["a"], &[], &["a"], &["b"], &[], &["a"]]);
        let pred = sets(&[&["a"], &["b"], &[], &[], &[], &["a"]]);
        let labels = ids(&["a", "b"]);
        let arts = [("s", "x"), ("s", "x"), ("s", "y"), ("s", "y"), ("t", "z"), ("t", "w")];
        let v = by_article(&m(&gold, &labels), &m(&pred, &labels), &arts);
        let order: Vec<&str> = v.iter().map(|a| a.article.as_str()).collect();
        assert_eq!(order, ["y", "x", "w", "z"]);
        let x = &v[1];
        assert_eq!((x.paragraphs, x.gold, x.predicted), (2, 1, 2));
        assert_eq!(x.errors, BTreeMap::from([("b".to_owned(), LabelErrors { fp: 1, fn_: 0 })]));
        assert!((x.micro.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(v[0].errors["a"], LabelErrors { fp: 0, fn_: 1 });
        assert_eq!(v[0].micro.f1_if_defined(), Some(0.0), "all missed: F1 0, defined");
        assert_eq!(v[3].micro.f1_if_defined(), None, "nothing to score: undefined");
    }

    #[test]
    fn an_interval_over_one_article_or_none_is_not_given() {
        let gold = sets(&[&["a", "b"], &["a"], &["a"]]);
        let pred = sets(&[&["a", "b"], &["a"], &[]]);
        let labels = ids(&["a", "b", "c"]);
        let i = bootstrap(&m(&gold, &labels), &m(&pred, &labels), &ids(&["x", "y", "z"]), &BTreeMap::new(), 200, 1);
        assert_eq!(i.label_articles, BTreeMap::from([("a".into(), 3), ("b".into(), 1), ("c".into(), 0)]));
        assert!(i.label("a").is_ok());
        assert_eq!(i.label("b"), Err("n/a (1 article)".to_owned()));
        assert_eq!(i.labels["c"], None);
        assert_eq!(i.label("c"), Err("n/a (no gold)".to_owned()));
    }
}
