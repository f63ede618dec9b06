//! The eval report: a JSON document (schema in `evals/README.md`) holding
//! the run's identity, every metric with its interval, every prediction and
//! every error; a text table for the terminal; and the regression gate that
//! compares a report with a committed baseline.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::score::{ArticleScore, Intervals, LabelConfusion, LabelScore, Scores};

/// What was evaluated, so two reports can be told apart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    /// `themes` version.
    pub tool_version: String,
    /// When the report was made (UTC, ISO 8601).
    pub date: String,
    /// Model name.
    pub model: String,
    /// Model revision.
    pub model_revision: String,
    /// The precision the model ran at (`f32`, `bf16`, `int8`, `f16`);
    /// absent from reports scored from a predictions file, and from
    /// reports made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// Label set name.
    pub label_set: String,
    /// Label set sha256 (see `LabelSet::hash`).
    pub label_set_hash: String,
    /// Thresholds per label.
    pub thresholds: BTreeMap<String, f32>,
    /// `shipped` (the label file's classifier as is), `cv-K` (refitted per
    /// fold), or `predictions` (scored from a file).
    pub mode: String,
    /// Seed of the folds, when cross-validated.
    pub fold_seed: Option<u64>,
}

/// One gold set's (or the pooled) results.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetResult {
    /// `seeds`, `dev`, ... or `pooled`.
    pub name: String,
    /// Point estimates.
    pub scores: Scores,
    /// 95% bootstrap intervals.
    pub intervals: Intervals,
}

/// A baseline method scored in the same run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnchorResult {
    /// Which method.
    pub name: String,
    /// How it was fitted.
    pub note: String,
    /// Pooled results.
    pub result: SetResult,
}

/// One paragraph's prediction beside its gold labels.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PredictionRow {
    /// Article id.
    pub article: String,
    /// Paragraph number.
    pub paragraph: usize,
    /// Gold set it came from.
    pub set: String,
    /// Predicted labels.
    pub labels: Vec<String>,
    /// Gold labels.
    pub gold: Vec<String>,
    /// Scores per label.
    pub scores: BTreeMap<String, f32>,
    /// Kinds of paragraph it counts as (see `eval::kinds`).
    pub kinds: Vec<String>,
}

/// A paragraph the classifier got wrong.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorRow {
    /// Article id.
    pub article: String,
    /// Paragraph number.
    pub paragraph: usize,
    /// The text.
    pub text: String,
    /// Predicted but not gold, with their scores.
    pub false_positives: BTreeMap<String, f32>,
    /// Gold but not predicted, with their scores.
    pub false_negatives: BTreeMap<String, f32>,
    /// What the classifier saw for the labels involved.
    pub evidence: BTreeMap<String, serde_json::Value>,
}

/// Macro-F1 of one kind of paragraph.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KindResult {
    /// The kind.
    pub kind: String,
    /// Paragraphs of that kind.
    pub paragraphs: usize,
    /// Macro-F1 over labels with support among them; `null` when no label
    /// has any (no gold theme among them).
    pub macro_f1: Option<f64>,
    /// Micro-F1 among them; `null` when they have no gold and no predicted
    /// theme.
    pub micro_f1: Option<f64>,
    /// The macro-F1's 95% interval, by the same bootstrap of whole articles
    /// as the sets' (absent when the macro-F1 is undefined).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macro_f1_interval: Option<crate::eval::score::Interval>,
}

/// One point of the few-shot curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FewShotPoint {
    /// Examples per label drawn from the training folds that the gold
    /// centroids are built from (0: none, the classifier without centroids;
    /// `null`: every training row).
    pub examples: Option<usize>,
    /// Macro-F1 over all labels, mean over the draws.
    pub macro_f1: f64,
    /// Macro-F1 per group, mean over the draws.
    pub groups: BTreeMap<String, f64>,
    /// Macro-F1 of each draw.
    pub draws: Vec<f64>,
}

/// How much of the gold the scored classifier was fitted on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InSample {
    /// Gold articles the classifier was fitted on.
    pub articles: usize,
    /// Gold articles scored.
    pub of_articles: usize,
    /// Their paragraphs.
    pub paragraphs: usize,
    /// Paragraphs scored.
    pub of_paragraphs: usize,
}

impl InSample {
    /// The warning, in words.
    pub fn sentence(&self) -> String {
        format!(
            "in-sample: the label set's classifier was fitted on {} of these {} articles ({} of {} paragraphs), so these scores flatter it; `--cv 5` gives the honest estimate",
            self.articles, self.of_articles, self.paragraphs, self.of_paragraphs
        )
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// What was evaluated.
    pub identity: Identity,
    /// Set when the classifier scored was fitted on some of this gold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_sample: Option<InSample>,
    /// Label ids in order.
    pub labels: Vec<String>,
    /// Groups and their labels.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Results per gold set, then pooled.
    pub sets: Vec<SetResult>,
    /// Anchors (cross-validated runs only).
    #[serde(default)]
    pub anchors: Vec<AnchorResult>,
    /// F1 by kind of paragraph (pooled).
    #[serde(default)]
    pub kinds: Vec<KindResult>,
    /// The few-shot curve (`--examples-per-label`): F1 against the number of
    /// hand-labelled examples per label; 0 is the classifier without
    /// centroids (its per-label biases still fitted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub few_shot: Vec<FewShotPoint>,
    /// Where each label's errors went (pooled): false positives by the
    /// gold labels of their paragraphs, false negatives by the labels
    /// predicted instead.
    #[serde(default)]
    pub confusion: BTreeMap<String, LabelConfusion>,
    /// Per article, worst first.
    #[serde(default)]
    pub articles: Vec<ArticleScore>,
    /// Every paragraph.
    pub predictions: Vec<PredictionRow>,
    /// Every wrong paragraph.
    pub errors: Vec<ErrorRow>,
}

impl Report {
    /// The pooled result (the last set).
    pub fn pooled(&self) -> Option<&SetResult> {
        self.sets.iter().find(|s| s.name == "pooled").or(self.sets.last())
    }
}

/// Today's date and time, UTC, ISO 8601, from the system clock.
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + (month <= 2) as i64;
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A figure to three decimals, or "n/a" when undefined.
pub fn fmt3(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.3}"))
}

fn num(s: &LabelScore, value: f64) -> String {
    fmt3(s.defined().then_some(value))
}

/// A label's interval as `[low, high]`, or "n/a (...)" with the reason.
pub fn interval(intervals: &Intervals, label: &str) -> String {
    match intervals.label(label) {
        Ok(ci) => format!("[{:.3}, {:.3}]", ci.low, ci.high),
        Err(why) => why,
    }
}

/// The terminal table of one set: per label P/R/F1 [95% CI] and support,
/// then the averages.
pub fn table(result: &SetResult, labels: &[String]) -> String {
    let s = &result.scores;
    let i = &result.intervals;
    let mut out = String::new();
    let _ = writeln!(out, "{} ({} paragraphs)", result.name, s.paragraphs);
    let _ = writeln!(out, "  {:<20} {:>6} {:>6} {:>6}  {:<15} {:>7}", "label", "P", "R", "F1", "F1 95% CI", "support");
    for l in labels {
        let ls = &s.labels[l];
        let (p, r, f) = (num(ls, ls.precision), num(ls, ls.recall), num(ls, ls.f1));
        let _ = writeln!(out, "  {:<20} {:>6} {:>6} {:>6}  {:<15} {:>7}", l, p, r, f, interval(i, l), ls.support);
    }
    let _ = writeln!(
        out,
        "  {:<20} {:>6.3} {:>6.3} {:>6.3}  [{:.3}, {:.3}]",
        "micro avg", s.micro.precision, s.micro.recall, s.micro.f1, i.micro_f1.low, i.micro_f1.high
    );
    let _ = writeln!(
        out,
        "  {:<20} {:>6.3} {:>6.3} {:>6.3}  [{:.3}, {:.3}]",
        "macro avg", s.macro_precision, s.macro_recall, s.macro_f1, i.macro_f1.low, i.macro_f1.high
    );
    for (g, f) in &s.groups {
        let ci = &i.groups[g];
        let _ = writeln!(out, "  {:<20} {:>6} {:>6} {:>6.3}  [{:.3}, {:.3}]", format!("macro {g}"), "", "", f, ci.low, ci.high);
    }
    let _ = writeln!(out, "  exact match {:.3}   Hamming loss {:.4}", s.exact_match, s.hamming_loss);
    let _ = writeln!(out, "  (95% CIs: {} bootstrap resamples of whole articles, seed {})", i.resamples, i.seed);
    out
}

impl Report {
    /// The report as printed on the terminal: the header, each set's table,
    /// the anchors, the few-shot curve, the kinds, and with `errors` every
    /// wrong paragraph.
    pub fn to_text(&self, errors: bool) -> String {
        let mut out = String::new();
        let id = &self.identity;
        let dtype = id.dtype.as_deref().filter(|d| *d != "f32").map(|d| format!(" at {d}")).unwrap_or_default();
        let _ = writeln!(out, "themes {} · model {}{dtype} · label set {} ({}) · {}", id.tool_version, id.model, id.label_set, &id.label_set_hash[..12], id.mode);
        if let Some(in_sample) = &self.in_sample {
            let _ = writeln!(out, "{}", in_sample.sentence());
        }
        for set in &self.sets {
            let _ = writeln!(out);
            out.push_str(&table(set, &self.labels));
        }
        if !self.anchors.is_empty() {
            let _ = writeln!(out, "\nanchors, same folds and vectors (pooled):");
            let line = |name: &str, s: &Scores| {
                format!("  {:<22} core {:.3}  all {:.3}  micro {:.3}\n", name, s.groups.get("core").copied().unwrap_or(0.0), s.macro_f1, s.micro.f1)
            };
            if let Some(p) = self.pooled() {
                out.push_str(&line("themes", &p.scores));
            }
            for a in &self.anchors {
                out.push_str(&line(&a.name, &a.result.scores));
            }
        }
        if !self.few_shot.is_empty() {
            let _ = writeln!(out, "\nfew-shot curve (gold centroids from N examples per label drawn from the training folds, the weights fitted on the folds; mean of 3 draws):");
            let _ = writeln!(out, "  {:>10}  {:>12}  {:>13}  draws", "examples", "macro F1 all", "macro F1 core");
            for p in &self.few_shot {
                let n = match p.examples {
                    Some(0) => "0 (no centroids)".to_owned(),
                    Some(n) => n.to_string(),
                    None => "all".to_owned(),
                };
                let draws: Vec<String> = p.draws.iter().map(|d| format!("{d:.3}")).collect();
                let core = p.groups.get("core").copied().unwrap_or(0.0);
                let _ = writeln!(out, "  {:>10}  {:>12.3}  {:>13.3}  {}", n, p.macro_f1, core, draws.join(" "));
            }
        }
        if !self.kinds.is_empty() {
            let _ = writeln!(out, "\nby kind of paragraph (all gold):");
            for k in &self.kinds {
                let (ma, mi) = (fmt3(k.macro_f1), fmt3(k.micro_f1));
                let ci = k.macro_f1_interval.map(|i| format!(" [{:.3}, {:.3}]", i.low, i.high)).unwrap_or_default();
                let _ = writeln!(out, "  {:<18} {:>4} paragraphs  macro F1 {ma:>5}{ci:<16}  micro F1 {mi:>5}", k.kind, k.paragraphs);
            }
        }
        if errors {
            let _ = writeln!(out, "\nerrors ({} paragraphs):", self.errors.len());
            for e in &self.errors {
                let _ = writeln!(out, "  {} ¶{}: {}", e.article, e.paragraph, e.text);
                for (l, s) in &e.false_positives {
                    let _ = writeln!(out, "      false positive {l} (score {s:.3})");
                }
                for (l, s) in &e.false_negatives {
                    let _ = writeln!(out, "      false negative {l} (score {s:.3})");
                }
            }
        }
        out
    }

    /// Replaces the paragraph text of the error list (and of its evidence)
    /// with "(text withheld)", for gold whose text may not be published.
    pub fn withhold_text(&mut self) {
        for e in &mut self.errors {
            e.text = String::from("(text withheld)");
            for ev in e.evidence.values_mut() {
                strip_span_text(ev);
            }
        }
    }

    /// Writes the report as pretty JSON, atomically.
    pub fn write(&self, path: &std::path::Path) -> crate::Result<()> {
        let mut file = crate::output::AtomicFile::create(path)?;
        serde_json::to_writer_pretty(&mut file, self).map_err(|e| crate::Error::io(path, e.into()))?;
        file.commit()
    }

    /// Reads a report to gate against: one whose intervals are real (at
    /// least 100 resamples), since a baseline with empty intervals would let
    /// any predictions pass.
    pub fn read_baseline(path: &std::path::Path) -> crate::Result<Report> {
        let report = Report::read(path)?;
        if let Some(set) = report.sets.iter().find(|s| s.intervals.resamples < 100) {
            return Err(crate::Error::invalid(
                crate::Location::file(path),
                format!(
                    "set {:?} has intervals from {} bootstrap resamples, too few to gate on; make the baseline again with `themes eval --report` and the default --resamples",
                    set.name, set.intervals.resamples
                ),
            ));
        }
        Ok(report)
    }

    /// Reads a report written by `themes eval --report`.
    pub fn read(path: &std::path::Path) -> crate::Result<Report> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| crate::Error::invalid(crate::Location::file(path), format!("not an eval report: {e}")))
    }
}

fn strip_span_text(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(text) = map.get_mut("text") {
                *text = serde_json::Value::String("(text withheld)".to_owned());
            }
            map.values_mut().for_each(strip_span_text);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_span_text),
        _ => {}
    }
}

/// A metric that fell below the baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// Set and metric, e.g. `pooled macro F1`.
    pub metric: String,
    /// Now.
    pub current: f64,
    /// The baseline's point estimate.
    pub baseline: f64,
    /// The baseline's lower 95% bound.
    pub baseline_low: f64,
}

/// The gate: a metric regresses when its value now is below the lower end
/// of the baseline's 95% interval, i.e. it fell by more than the baseline's
/// own uncertainty allows. Checked for micro, macro and group macro F1 of
/// every set both reports have.
pub fn regressions(current: &Report, baseline: &Report) -> Vec<Regression> {
    let mut out = Vec::new();
    for base in &baseline.sets {
        let Some(now) = current.sets.iter().find(|s| s.name == base.name) else { continue };
        let mut check = |metric: String, current: f64, baseline: f64, low: f64| {
            // A tiny tolerance keeps float noise from failing an identical run.
            if current < low - 1e-9 {
                out.push(Regression { metric, current, baseline, baseline_low: low });
            }
        };
        check(format!("{} micro F1", base.name), now.scores.micro.f1, base.scores.micro.f1, base.intervals.micro_f1.low);
        check(format!("{} macro F1", base.name), now.scores.macro_f1, base.scores.macro_f1, base.intervals.macro_f1.low);
        for (g, f) in &base.scores.groups {
            if let (Some(now_f), Some(ci)) = (now.scores.groups.get(g), base.intervals.groups.get(g)) {
                check(format!("{} macro F1 ({g})", base.name), *now_f, *f, ci.low);
            }
        }
    }
    out
}

/// A small report built by hand (no model), for the renderers' tests.
#[cfg(test)]
pub(crate) mod sample {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::eval::matrix::LabelMatrix;
    use crate::eval::score::{bootstrap, by_article, confusion, score};

    /// A label id longer than any margin a fixed layout would give it.
    pub const LONG: &str = "war_legacy_and_a_label_id_long_enough_to_be_cut";

    fn sets(rows: &[&[&str]]) -> Vec<BTreeSet<String>> {
        rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect()
    }

    /// Three articles, seven paragraphs; `unused` has no gold and is never
    /// predicted (undefined), `solo` is in one article's gold only.
    /// Returns the report, the scores and the gold matrix.
    pub fn report(in_sample: bool) -> (Report, Vec<Vec<f32>>, LabelMatrix) {
        let labels: Vec<String> = [LONG, "asean", "unused", "solo"].iter().map(|s| s.to_string()).collect();
        let gold = sets(&[&[LONG], &["asean"], &[], &["solo", "asean"], &[LONG], &["asean"], &[]]);
        let pred = sets(&[&[LONG], &[LONG], &["asean"], &["asean"], &[LONG], &["asean"], &[]]);
        let (gold, pred) = (LabelMatrix::from_sets(&gold, &labels), LabelMatrix::from_sets(&pred, &labels));
        let articles = ["a", "a", "a", "b", "b", "c", "c"];
        let keys: Vec<String> = articles.iter().map(|a| format!("s1/{a}")).collect();
        let groups = BTreeMap::from([("core".to_owned(), vec![LONG.to_owned(), "asean".to_owned()])]);
        let result = SetResult { name: "s1".into(), scores: score(&gold, &pred, &groups), intervals: bootstrap(&gold, &pred, &keys, &groups, 200, 13) };
        let scores: Vec<Vec<f32>> = pred.rows.iter().map(|r| r.iter().map(|&p| if p { 0.9 } else { 0.1 }).collect()).collect();
        let predictions = (0..7)
            .map(|i| PredictionRow {
                article: articles[i].into(),
                paragraph: i + 1,
                set: "s1".into(),
                labels: pred.set(i).into_iter().collect(),
                gold: gold.set(i).into_iter().collect(),
                scores: labels.iter().cloned().zip(scores[i].iter().copied()).collect(),
                kinds: if i == 6 { vec!["short".into()] } else { Vec::new() },
            })
            .collect();
        let error = |i: usize, fp: &[&str], fn_: &[&str]| ErrorRow {
            article: articles[i].into(),
            paragraph: i + 1,
            text: format!("paragraph <{i}> & more"),
            false_positives: fp.iter().map(|l| (l.to_string(), 0.9)).collect(),
            false_negatives: fn_.iter().map(|l| (l.to_string(), 0.1)).collect(),
            evidence: BTreeMap::new(),
        };
        let point = |examples, f: f64| FewShotPoint { examples, macro_f1: f, groups: BTreeMap::from([("core".into(), f + 0.05)]), draws: vec![f] };
        let pairs: Vec<(&str, &str)> = articles.iter().map(|a| ("s1", *a)).collect();
        let report = Report {
            identity: Identity {
                tool_version: "0.1.0".into(),
                date: "2026-01-01T00:00:00Z".into(),
                model: "m".into(),
                model_revision: "r".into(),
                dtype: Some("f32".into()),
                label_set: "test".into(),
                label_set_hash: "0123456789abcdef".into(),
                thresholds: labels.iter().map(|l| (l.clone(), 0.5)).collect(),
                mode: "cv-5".into(),
                fold_seed: Some(13),
            },
            in_sample: in_sample.then_some(InSample { articles: 2, of_articles: 3, paragraphs: 5, of_paragraphs: 7 }),
            labels,
            groups,
            anchors: vec![AnchorResult { name: "cosine".into(), note: "one threshold".into(), result: result.clone() }],
            sets: vec![result],
            kinds: vec![KindResult { kind: "short".into(), paragraphs: 1, macro_f1: None, micro_f1: None, macro_f1_interval: None }],
            few_shot: vec![point(Some(0), 0.6), point(Some(2), 0.62), point(None, 0.64)],
            confusion: confusion(&gold, &pred),
            articles: by_article(&gold, &pred, &pairs),
            predictions,
            errors: vec![error(1, &[LONG], &["asean"]), error(2, &["asean"], &[]), error(3, &[], &["solo"])],
        };
        (report, scores, gold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_baseline_without_real_intervals_cannot_gate() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/evals/baseline.json");
        let good = Report::read_baseline(std::path::Path::new(path)).unwrap();
        assert!(good.sets.iter().all(|s| s.intervals.resamples >= 100));
        let text = std::fs::read_to_string(path).unwrap().replace("\"resamples\": 1000", "\"resamples\": 0");
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("baseline.json");
        std::fs::write(&bad, text).unwrap();
        let err = Report::read_baseline(&bad).unwrap_err().to_string();
        assert!(err.contains("intervals from 0 bootstrap resamples, too few to gate on"), "{err}");
    }

    #[test]
    fn the_text_says_n_a_for_what_is_undefined() {
        let (report, _, _) = sample::report(false);
        let text = report.to_text(false);
        let row = |id: &str| text.lines().find(|l| l.trim_start().starts_with(id)).unwrap_or_else(|| panic!("{id}: {text}")).to_owned();
        let unused = row("unused");
        assert_eq!(unused.split_whitespace().collect::<Vec<_>>(), ["unused", "n/a", "n/a", "n/a", "n/a", "(no", "gold)", "0"], "{unused}");
        assert!(row("solo").contains("n/a (1 article)"), "{}", row("solo"));
        assert!(row("asean").contains('['), "a label in three articles keeps its interval: {}", row("asean"));
        let short = row("short");
        assert!(short.contains("macro F1   n/a ") && short.ends_with("micro F1   n/a") && !short.contains('['), "{short}");
    }

    #[test]
    fn json_writes_fn_and_null_for_undefined_and_reads_old_reports() {
        let (report, _, _) = sample::report(false);
        let json = serde_json::to_value(&report).unwrap();
        let labels = &json["sets"][0]["scores"]["labels"];
        assert_eq!(labels["asean"]["fn"], 1);
        assert!(labels["asean"].get("fn_").is_none());
        assert!(labels["unused"]["f1"].is_null() && labels["unused"]["precision"].is_null() && labels["unused"]["recall"].is_null());
        assert!(json["sets"][0]["intervals"]["labels"]["unused"].is_null());
        assert_eq!(json["sets"][0]["intervals"]["label_articles"]["solo"], 1);
        assert!(json["kinds"][0]["macro_f1"].is_null());
        // Read back, and as a report from before `fn`, `null` and the new sections.
        let back: Report = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.sets[0].scores, report.sets[0].scores);
        let old = serde_json::to_string(&json).unwrap().replace("\"fn\":", "\"fn_\":");
        let mut old: serde_json::Value = serde_json::from_str(&old).unwrap();
        for key in ["confusion", "articles"] {
            old.as_object_mut().unwrap().remove(key);
        }
        let back: Report = serde_json::from_value(old).unwrap();
        assert_eq!(back.sets[0].scores.labels["asean"].fn_, 1);
        assert!(back.confusion.is_empty() && back.articles.is_empty());
    }

    #[test]
    fn date_is_iso_8601() {
        let d = now_utc();
        assert_eq!(d.len(), 20, "{d}");
        assert!(d.starts_with("20") && d.ends_with('Z') && &d[10..11] == "T", "{d}");
    }
}
