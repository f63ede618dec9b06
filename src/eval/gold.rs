//! Gold data: hand-labelled paragraphs in the labelling guide's JSONL
//! format, `{"article", "paragraph", "text", "labels"}` per line, checked
//! strictly (a wrong gold file makes every score wrong).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Result};
use crate::input::Article;
use crate::labels::LabelSet;

/// One hand-labelled paragraph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoldRow {
    /// Article id (file stem).
    pub article: String,
    /// 1-based paragraph number.
    pub paragraph: usize,
    /// The paragraph exactly as in the article file.
    pub text: String,
    /// Theme ids, possibly none.
    pub labels: Vec<String>,
    /// The line it was read from (not serialized).
    #[serde(skip)]
    pub line: usize,
}

/// Reads and checks a gold file: JSON per line, paragraph numbers from 1,
/// no duplicate (article, paragraph), no label twice in a row, and no gaps
/// in an article's numbering.
pub fn read_gold(path: &Path) -> Result<Vec<GoldRow>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = crate::input::decode(path, &bytes)?;
    parse_gold(text, path)
}

/// Parses gold text; `path` is used in errors.
pub fn parse_gold(text: &str, path: &Path) -> Result<Vec<GoldRow>> {
    let mut rows: Vec<GoldRow> = Vec::new();
    let mut seen: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for line in crate::jsonl::lines(text) {
        let number = line.number;
        let at = Location::line(path, number);
        let shape = "{\"article\", \"paragraph\", \"text\", \"labels\"}";
        let mut row: GoldRow = crate::jsonl::parse(at.clone(), line.text, "a gold row", shape)?;
        row.line = number;
        if row.paragraph == 0 {
            return Err(Error::invalid(at, "paragraph numbers start at 1"));
        }
        let unique: BTreeSet<&String> = row.labels.iter().collect();
        if unique.len() != row.labels.len() {
            return Err(Error::invalid(at, "a label is listed twice"));
        }
        if let Some(first) = seen.insert((row.article.clone(), row.paragraph), number) {
            return Err(Error::invalid(
                at,
                format!("article {:?} paragraph {} is already on line {first}", row.article, row.paragraph),
            ));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Error::invalid(Location::file(path), "no gold rows: the file is empty"));
    }
    let mut by_article: BTreeMap<&str, Vec<&GoldRow>> = BTreeMap::new();
    for r in &rows {
        by_article.entry(&r.article).or_default().push(r);
    }
    for (article, rs) in by_article {
        let mut numbers: Vec<usize> = rs.iter().map(|r| r.paragraph).collect();
        numbers.sort_unstable();
        if let Some(gap) = (1..=numbers.len()).zip(&numbers).find(|(want, got)| want != *got) {
            let row = rs.iter().find(|r| r.paragraph == *gap.1).map_or(1, |r| r.line);
            return Err(Error::invalid(
                Location::line(path, row),
                format!("article {article:?}: paragraph {} is missing; every paragraph must have a row", gap.0),
            ));
        }
    }
    Ok(rows)
}

/// Checks every label id against the label set; an unknown id is an error
/// that names the line and the closest known id.
pub fn check_labels(rows: &[GoldRow], set: &LabelSet, path: &Path) -> Result<()> {
    for r in rows {
        for l in &r.labels {
            if set.get(l).is_none() {
                let hint = match set.closest_id(l) {
                    Some(close) => format!("; did you mean {close:?}?"),
                    None => format!("; the label set {} has: {}", set.source.display(), set.ids().join(", ")),
                };
                return Err(Error::invalid(Location::line(path, r.line), format!("unknown label id {l:?}{hint}")));
            }
        }
    }
    Ok(())
}

/// Rebuilds the articles from gold rows (every paragraph has a row), in
/// order of first appearance.
pub fn articles(rows: &[GoldRow], path: &Path) -> Vec<Article> {
    let mut order: Vec<String> = Vec::new();
    let mut by_article: BTreeMap<String, Vec<&GoldRow>> = BTreeMap::new();
    for r in rows {
        if !by_article.contains_key(&r.article) {
            order.push(r.article.clone());
        }
        by_article.entry(r.article.clone()).or_default().push(r);
    }
    order
        .into_iter()
        .map(|id| {
            let mut rs = by_article.remove(&id).unwrap_or_default();
            rs.sort_by_key(|r| r.paragraph);
            let line = rs.first().map_or(1, |r| r.line);
            Article { id, source: Location::line(path, line), paragraphs: rs.iter().map(|r| r.text.clone()).collect(), meta: Default::default() }
        })
        .collect()
}

/// One gold file, read and checked against a label set.
#[derive(Debug, Clone)]
pub struct GoldSet {
    /// The file's stem (`seeds`, `dev`): how reports and folds name it.
    pub name: String,
    /// The file.
    pub path: std::path::PathBuf,
    /// Its rows, in file order.
    pub rows: Vec<GoldRow>,
}

impl GoldSet {
    /// Reads `path` and checks its label ids against `set`.
    pub fn read(path: &Path, set: &LabelSet) -> Result<GoldSet> {
        let rows = read_gold(path)?;
        check_labels(&rows, set, path)?;
        let name = path.file_stem().map_or_else(|| "gold".to_owned(), |s| s.to_string_lossy().into_owned());
        Ok(GoldSet { name, path: path.to_path_buf(), rows })
    }
}

/// Reads every file in `paths` (see [`GoldSet::read`]).
pub fn read_sets(paths: &[std::path::PathBuf], set: &LabelSet) -> Result<Vec<GoldSet>> {
    paths.iter().map(|p| GoldSet::read(p, set)).collect()
}

/// The article key of every row of `sets`, in order: `SET/ARTICLE`. The
/// one key folds are grouped by, so every command that splits the same gold
/// with the same seed gets the same folds.
pub fn article_keys(sets: &[GoldSet]) -> Vec<String> {
    sets.iter().flat_map(|s| s.rows.iter().map(move |r| format!("{}/{}", s.name, r.article))).collect()
}

/// A fingerprint of every row's article: 12 hex digits of the sha256 of
/// the article's gold paragraphs (number and text, in order). It names an
/// article by what it says, not by a file or id, so a classifier can record
/// what it was fitted on and `eval` can tell when a score is in-sample.
pub fn article_fingerprints(sets: &[GoldSet]) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let keys = article_keys(sets);
    let rows: Vec<&GoldRow> = sets.iter().flat_map(|s| &s.rows).collect();
    let mut by_key: std::collections::HashMap<&str, Vec<&GoldRow>> = std::collections::HashMap::new();
    for (key, row) in keys.iter().zip(&rows) {
        by_key.entry(key.as_str()).or_default().push(row);
    }
    let mut digests: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    for (key, mut article) in by_key {
        article.sort_by_key(|r| r.paragraph);
        let mut hash = Sha256::new();
        for r in article {
            hash.update(format!("{}\n{}\n", r.paragraph, r.text));
        }
        let hex: String = hash.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
        digests.insert(key, hex);
    }
    keys.iter().map(|k| digests[k.as_str()].clone()).collect()
}

/// The fold of every row of `sets`: `k` article-grouped folds dealt with
/// `seed` over [`article_keys`].
pub fn folds(sets: &[GoldSet], k: usize, seed: u64) -> Vec<usize> {
    crate::learn::grouped_folds(&article_keys(sets), k, seed)
}

/// Checks every gold set's text against the articles read from `inputs`
/// (none: nothing to check).
pub fn check_texts(sets: &[GoldSet], inputs: &[std::path::PathBuf]) -> Result<()> {
    if inputs.is_empty() {
        return Ok(());
    }
    let articles = crate::input::read_all(inputs)?;
    sets.iter().try_for_each(|gold| check_text(&gold.rows, &articles, &gold.path))
}

/// Checks gold text against article files: each gold row's text must be the
/// article's paragraph with that number.
pub fn check_text(rows: &[GoldRow], articles: &[Article], path: &Path) -> Result<()> {
    let by_id: BTreeMap<&str, &Article> = articles.iter().map(|a| (a.id.as_str(), a)).collect();
    for r in rows {
        let Some(article) = by_id.get(r.article.as_str()) else { continue };
        match article.paragraphs.get(r.paragraph - 1) {
            Some(text) if text == &r.text => {}
            Some(_) => {
                return Err(Error::invalid(
                    Location::line(path, r.line),
                    format!("text differs from paragraph {} of {}", r.paragraph, article.source),
                ))
            }
            None => {
                return Err(Error::invalid(
                    Location::line(path, r.line),
                    format!("{} has only {} paragraphs", article.source, article.paragraphs.len()),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<GoldRow>> {
        parse_gold(text, Path::new("g.jsonl"))
    }

    const ROW: &str = r#"{"article": "a", "paragraph": 1, "text": "t", "labels": ["health"]}"#;

    #[test]
    fn errors_name_the_line() {
        let e = parse(&format!("{ROW}\n{{\"article\": \"a\"")).unwrap_err().to_string();
        assert!(e.starts_with("g.jsonl:2: not a gold row"), "{e}");
        let e = parse(&format!("{ROW}\n{ROW}")).unwrap_err().to_string();
        assert!(e.starts_with("g.jsonl:2:") && e.contains("already on line 1"), "{e}");
        let e = parse("").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let gap = r#"{"article": "a", "paragraph": 2, "text": "t", "labels": []}"#;
        let e = parse(&format!("{ROW}\n{gap}\n{}", gap.replace("\"paragraph\": 2", "\"paragraph\": 4"))).unwrap_err();
        assert!(e.to_string().contains("paragraph 3 is missing"), "{e}");
    }

    #[test]
    fn unknown_labels_suggest_the_closest() {
        let rows = parse(&ROW.replace("health", "helth")).unwrap();
        let set = LabelSet::builtin().unwrap();
        let e = check_labels(&rows, &set, Path::new("g.jsonl")).unwrap_err().to_string();
        assert!(e.starts_with("g.jsonl:1: unknown label id \"helth\"; did you mean \"health\""), "{e}");
    }

    #[test]
    fn text_must_match_the_article() {
        let rows = parse(ROW).unwrap();
        let article = Article { id: "a".into(), source: Location::file("a.txt"), paragraphs: vec!["other".into()], meta: Default::default() };
        let e = check_text(&rows, &[article], Path::new("g.jsonl")).unwrap_err().to_string();
        assert!(e.contains("g.jsonl:1: text differs from paragraph 1 of a.txt"), "{e}");
    }
}
