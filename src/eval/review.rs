//! Reviewed suggestions folded into gold. `themes suggest` writes one
//! [`Review`] row per suggested paragraph, keyed by the paragraph's real
//! (article, paragraph); a person sets each row's `status`; [`merge`] folds
//! the decisions into gold files that hold the whole articles, so the
//! paragraphs are scored in their article's context and never twice.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Result};
use crate::eval::gold::{same_labels, GoldRow, GoldSet};
use crate::labels::LabelSet;

/// What the reviewer decided for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not reviewed yet: [`merge`] refuses the row.
    #[serde(rename = "")]
    Todo,
    /// The paragraph has the row's `label`.
    Accept,
    /// The paragraph does not have the row's `label`.
    Reject,
    /// The paragraph's labels are exactly the row's `labels`.
    Labels,
    /// Leave the paragraph as the gold has it.
    Skip,
}

/// One suggested paragraph to review: the template row `suggest` writes and
/// the row `gold merge` reads. Only `article`, `paragraph` and `status` are
/// required (with `label` for accept and reject, `labels` for labels); the
/// score, prediction, source and text help the reviewer, and a text, when
/// present, must be the gold's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Article id, as in the article's gold rows.
    pub article: String,
    /// 1-based paragraph number in the article.
    pub paragraph: usize,
    /// The label the paragraph was suggested for.
    #[serde(default)]
    pub label: Option<String>,
    /// The label's score in the article's context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Whether the classifier assigns the label now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted: Option<bool>,
    /// The decision: "" (to do), accept, reject, labels or skip.
    pub status: Status,
    /// Every label of the paragraph, pre-filled with the classifier's; read
    /// only when `status` is "labels".
    #[serde(default)]
    pub labels: Vec<String>,
    /// Where the paragraph was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The paragraph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The line it was read from (not serialized).
    #[serde(skip)]
    pub line: usize,
}

/// Reads review rows and checks their label ids against `set`.
pub fn read_reviews(path: &Path, set: &LabelSet) -> Result<Vec<Review>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = crate::input::decode(path, &bytes)?;
    let shape = "{\"article\", \"paragraph\", \"label\", \"status\", \"labels\"} (the rows `themes suggest` writes)";
    let mut reviews = Vec::new();
    for line in crate::jsonl::lines(text) {
        let at = Location::line(path, line.number);
        let mut review: Review = crate::jsonl::parse(at.clone(), line.text, "a review row", shape)?;
        review.line = line.number;
        let ids = review.label.iter().chain(if review.status == Status::Labels { &review.labels[..] } else { &[] });
        for id in ids {
            if set.get(id).is_none() {
                let hint = set.closest_id(id).map(|c| format!(" (did you mean {c:?}?)")).unwrap_or_default();
                return Err(Error::invalid(at, format!("unknown label id {id:?}{hint}; the label set is {}", set.source.display())));
            }
        }
        let needs_label = matches!(review.status, Status::Accept | Status::Reject);
        if needs_label && review.label.is_none() {
            return Err(Error::invalid(at, "status accept or reject needs the row's \"label\""));
        }
        reviews.push(review);
    }
    if reviews.is_empty() {
        return Err(Error::invalid(Location::file(path), "no review rows: the file is empty"));
    }
    Ok(reviews)
}

/// Reads the gold files and the review files (checked against `set`) and
/// folds the reviews in: what `themes gold merge` writes and prints.
pub fn merge_files(gold: &[std::path::PathBuf], reviews: &[std::path::PathBuf], set: &LabelSet) -> Result<(Vec<GoldRow>, MergeSummary)> {
    let sets = crate::eval::gold::read_sets(gold, set)?;
    let read = reviews.iter().map(|p| Ok((p.as_path(), read_reviews(p, set)?))).collect::<Result<Vec<_>>>()?;
    merge(&sets, &read)
}

/// What [`merge`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MergeSummary {
    /// Rows by status: accepted, rejected, relabelled, skipped.
    pub accepted: usize,
    /// See `accepted`.
    pub rejected: usize,
    /// See `accepted`.
    pub relabelled: usize,
    /// See `accepted`.
    pub skipped: usize,
    /// Every gold paragraph whose labels changed: where, before, after.
    pub changes: Vec<Change>,
}

impl std::fmt::Display for MergeSummary {
    /// The counts, then a line per changed paragraph.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, r, l, s, n) = (self.accepted, self.rejected, self.relabelled, self.skipped, self.changes.len());
        write!(f, "reviews: {a} accepted, {r} rejected, {l} relabelled, {s} skipped; {n} paragraph{} changed", if n == 1 { "" } else { "s" })?;
        for c in &self.changes {
            write!(f, "\n  {} paragraph {} ({}): {:?} -> {:?}", c.article, c.paragraph, c.gold, c.before, c.after)?;
        }
        Ok(())
    }
}

/// One gold paragraph whose labels a review changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The article and paragraph.
    pub article: String,
    /// See `article`.
    pub paragraph: usize,
    /// The gold row it was on.
    pub gold: Location,
    /// Labels before and after.
    pub before: Vec<String>,
    /// See `before`.
    pub after: Vec<String>,
}

/// A decision already taken for a paragraph, and where.
enum Taken {
    Label(String, bool, Location),
    All(Vec<String>, Location),
}

/// Folds `reviews` (each with the file it came from) into the rows of
/// `sets`, in their order. Refused, naming the lines: a row not reviewed; a
/// paragraph the gold does not hold (gold keeps whole articles); a text that
/// is not the gold's; two reviews of a paragraph that disagree.
pub fn merge(sets: &[GoldSet], reviews: &[(&Path, Vec<Review>)]) -> Result<(Vec<GoldRow>, MergeSummary)> {
    let mut rows: Vec<GoldRow> = Vec::new();
    let mut places: Vec<Location> = Vec::new();
    let mut index: BTreeMap<(&str, usize), usize> = BTreeMap::new();
    for set in sets {
        for row in &set.rows {
            index.insert((row.article.as_str(), row.paragraph), rows.len());
            places.push(Location::line(&set.path, row.line));
            rows.push(row.clone());
        }
    }
    let original: Vec<Vec<String>> = rows.iter().map(|r| r.labels.clone()).collect();
    let mut summary = MergeSummary::default();
    let mut taken: BTreeMap<usize, Vec<Taken>> = BTreeMap::new();
    let gold_names = sets.iter().map(|s| s.path.display().to_string()).collect::<Vec<_>>().join(", ");
    for (path, file) in reviews {
        for review in file {
            let here = Location::line(path, review.line);
            let found = index.get(&(review.article.as_str(), review.paragraph)).copied();
            if review.status == Status::Skip {
                summary.skipped += 1;
                continue;
            }
            let Some(i) = found else {
                return Err(Error::invalid(here, format!(
                    "article {:?} paragraph {} is not in the gold ({gold_names}): gold holds whole articles, so add the article with a row for every paragraph first, or set this row's status to \"skip\"",
                    review.article, review.paragraph
                )));
            };
            if review.text.as_ref().is_some_and(|t| t != &rows[i].text) {
                let message = format!("the text is not the gold's at {}: this is a review of another version of the paragraph", places[i]);
                return Err(Error::invalid(here, message));
            }
            if let Some(decision) = apply(&mut rows[i], review, here, &mut summary)? {
                agree(taken.entry(i).or_default(), decision)?;
            }
        }
    }
    for (i, row) in rows.iter().enumerate() {
        if !same_labels(&original[i], &row.labels) {
            let (article, paragraph, gold) = (row.article.clone(), row.paragraph, places[i].clone());
            summary.changes.push(Change { article, paragraph, gold, before: original[i].clone(), after: row.labels.clone() });
        }
    }
    Ok((rows, summary))
}

/// Applies one reviewed decision to its gold row.
fn apply(row: &mut GoldRow, review: &Review, here: Location, summary: &mut MergeSummary) -> Result<Option<Taken>> {
    match review.status {
        Status::Todo => Err(Error::invalid(
            here,
            "not reviewed: set \"status\" to \"accept\" or \"reject\" (the row's label), \"labels\" (the row's labels are the paragraph's) or \"skip\"",
        )),
        Status::Accept | Status::Reject => {
            let label = review.label.clone().unwrap_or_default();
            let has = review.status == Status::Accept;
            row.labels.retain(|l| l != &label);
            if has {
                row.labels.push(label.clone());
                summary.accepted += 1;
            } else {
                summary.rejected += 1;
            }
            Ok(Some(Taken::Label(label, has, here)))
        }
        Status::Labels => {
            row.labels = review.labels.clone();
            summary.relabelled += 1;
            Ok(Some(Taken::All(review.labels.clone(), here)))
        }
        // Counted and passed over before a row is looked up.
        Status::Skip => Ok(None),
    }
}

/// Records `decision` beside those taken earlier for the same paragraph,
/// refusing one that contradicts them.
fn agree(earlier: &mut Vec<Taken>, decision: Taken) -> Result<()> {
    let has = |all: &[String], label: &str| all.iter().any(|x| x == label);
    for prior in earlier.iter() {
        let (clash, first) = match (prior, &decision) {
            (Taken::All(a, at), Taken::All(b, _)) => (!same_labels(a, b), at),
            (Taken::All(all, at), Taken::Label(l, yes, _)) | (Taken::Label(l, yes, at), Taken::All(all, _)) => (has(all, l) != *yes, at),
            (Taken::Label(a, yes_a, at), Taken::Label(b, yes_b, _)) => (a == b && yes_a != yes_b, at),
        };
        if clash {
            let (Taken::Label(_, _, here) | Taken::All(_, here)) = &decision;
            return Err(Error::invalid(here.clone(), format!("contradicts the review of the same paragraph at {first}: keep one decision")));
        }
    }
    earlier.push(decision);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gold() -> GoldSet {
        let text = r#"{"article": "026", "paragraph": 1, "text": "The Mekong-US Partnership met.", "labels": ["asean"]}
{"article": "026", "paragraph": 2, "text": "Ministers spoke.", "labels": ["asean", "diplomatic_ties"]}
{"article": "027", "paragraph": 1, "text": "Rice exports grew.", "labels": ["trade_investment"]}"#;
        let rows = crate::eval::gold::parse_gold(text, Path::new("dev.jsonl")).unwrap();
        GoldSet { name: "dev".into(), path: "dev.jsonl".into(), rows }
    }

    fn reviews(text: &str) -> Result<Vec<Review>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, text).unwrap();
        read_reviews(&path, &LabelSet::builtin().unwrap())
    }

    fn merged(text: &str) -> Result<(Vec<GoldRow>, MergeSummary)> {
        merge(&[gold()], &[(Path::new("r.jsonl"), reviews(text)?)])
    }

    #[test]
    fn decisions_fold_into_the_whole_article() {
        let (rows, summary) = merged(
            r#"{"article": "026", "paragraph": 1, "label": "east_sea", "score": 0.9, "status": "accept", "labels": [], "text": "The Mekong-US Partnership met."}
{"article": "026", "paragraph": 2, "label": "diplomatic_ties", "status": "reject"}
{"article": "027", "paragraph": 1, "status": "labels", "labels": ["trade_investment", "climate_energy"]}
{"article": "999", "paragraph": 4, "label": "asean", "status": "skip"}"#,
        )
        .unwrap();
        let labels: Vec<&Vec<String>> = rows.iter().map(|r| &r.labels).collect();
        assert_eq!(labels, [&vec!["asean".to_owned(), "east_sea".into()], &vec!["asean".into()], &vec!["trade_investment".into(), "climate_energy".into()]]);
        assert_eq!((summary.accepted, summary.rejected, summary.relabelled, summary.skipped), (1, 1, 1, 1));
        assert_eq!(summary.changes.len(), 3);
        assert_eq!(summary.changes[1].gold.to_string(), "dev.jsonl:2");
        assert_eq!(summary.changes[1].before, ["asean", "diplomatic_ties"]);
        // Accepting what the gold has already changes nothing.
        let (_, summary) = merged(r#"{"article": "026", "paragraph": 1, "label": "asean", "status": "accept"}"#).unwrap();
        assert!(summary.changes.is_empty() && summary.accepted == 1);
    }

    #[test]
    fn what_cannot_be_folded_is_refused_naming_the_line() {
        let error = |text: &str| merged(text).unwrap_err().to_string();
        let todo = error(r#"{"article": "026", "paragraph": 1, "label": "asean", "status": ""}"#);
        assert!(todo.contains("r.jsonl:1: not reviewed"), "{todo}");
        let missing = error(r#"{"article": "999", "paragraph": 1, "label": "asean", "status": "accept"}"#);
        assert!(missing.contains("r.jsonl:1: article \"999\" paragraph 1 is not in the gold (dev.jsonl)"), "{missing}");
        let text = error(r#"{"article": "026", "paragraph": 2, "label": "asean", "status": "accept", "text": "Other."}"#);
        assert!(text.contains("r.jsonl:1: the text is not the gold's at dev.jsonl:2"), "{text}");
        let clash = error(
            r#"{"article": "026", "paragraph": 2, "label": "asean", "status": "accept"}
{"article": "026", "paragraph": 2, "status": "labels", "labels": ["health"]}"#,
        );
        assert!(clash.contains("r.jsonl:2: contradicts the review of the same paragraph at r.jsonl:1"), "{clash}");
        let unknown = error(r#"{"article": "026", "paragraph": 2, "label": "asaen", "status": "accept"}"#);
        assert!(unknown.contains("r.jsonl:1: unknown label id \"asaen\" (did you mean \"asean\"?)"), "{unknown}");
        let no_label = error(r#"{"article": "026", "paragraph": 2, "status": "reject"}"#);
        assert!(no_label.contains("needs the row's \"label\""), "{no_label}");
        let typo = error(r#"{"article": "026", "paragraph": 2, "label": "asean", "status": "acept"}"#);
        assert!(typo.contains("r.jsonl:1: not a review row") && typo.contains("accept"), "{typo}");
        // Two reviews that agree are one decision.
        merged(
            r#"{"article": "026", "paragraph": 2, "label": "health", "status": "accept"}
{"article": "026", "paragraph": 2, "status": "labels", "labels": ["health", "asean"]}"#,
        )
        .unwrap();
    }
}
