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

/// Reads every file in `paths` (see [`GoldSet::read`]) and refuses gold
/// that holds a paragraph twice (see [`check_unique`]).
pub fn read_sets(paths: &[std::path::PathBuf], set: &LabelSet) -> Result<Vec<GoldSet>> {
    let sets = paths.iter().map(|p| GoldSet::read(p, set)).collect::<Result<Vec<_>>>()?;
    check_unique(&sets)?;
    Ok(sets)
}

/// Whether two rows' labels are the same set, in whatever order.
pub fn same_labels(a: &[String], b: &[String]) -> bool {
    fn sorted(labels: &[String]) -> Vec<&String> {
        let mut v: Vec<&String> = labels.iter().collect();
        v.sort();
        v
    }
    sorted(a) == sorted(b)
}

/// Refuses a paragraph that is in the gold twice, naming both rows: the
/// same article and paragraph with the same text in two files (one file
/// passed twice, or copied into another); or the same text in two articles
/// when one of them is a one-paragraph article (a suggestion pasted in as
/// gold: its paragraph would count twice, out of its article's context) or
/// when their labels differ (the gold contradicts itself). The same text
/// twice in one article is allowed: captions repeat.
pub fn check_unique(sets: &[GoldSet]) -> Result<()> {
    let mut sizes: BTreeMap<(usize, &str), usize> = BTreeMap::new();
    for (s, set) in sets.iter().enumerate() {
        for r in &set.rows {
            *sizes.entry((s, r.article.as_str())).or_default() += 1;
        }
    }
    let mut by_text: std::collections::HashMap<String, (usize, &GoldRow)> = std::collections::HashMap::new();
    for (s, set) in sets.iter().enumerate() {
        for r in &set.rows {
            let text = r.text.split_whitespace().collect::<Vec<_>>().join(" ");
            let Some(&(t, first)) = by_text.get(&text) else {
                by_text.insert(text, (s, r));
                continue;
            };
            let same_article = t == s && first.article == r.article;
            let same_key = first.article == r.article && first.paragraph == r.paragraph;
            let lone = sizes[&(t, first.article.as_str())] == 1 || sizes[&(s, r.article.as_str())] == 1;
            let differ = !same_labels(&first.labels, &r.labels);
            if same_article || !(same_key || lone || differ) {
                continue;
            }
            let what = if differ {
                format!("with other labels ({:?} there, {:?} here)", first.labels, r.labels)
            } else {
                "with the same labels".to_owned()
            };
            let fix = if lone {
                "; to add reviewed suggestions to gold, fold them into the gold file with `themes gold merge`"
            } else {
                "; pass each gold file once and keep one row per paragraph"
            };
            return Err(Error::invalid(
                Location::line(&set.path, r.line),
                format!(
                    "this paragraph is already in the gold at {}:{} (article {:?} paragraph {}) {what}{fix}",
                    sets[t].path.display(),
                    first.line,
                    first.article,
                    first.paragraph
                ),
            ));
        }
    }
    Ok(())
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

/// Checks gold against the article files it was made from (`eval
/// --articles`): every article given must be one of the gold's (a file that
/// matches none is a wrong path or a renamed article, and would otherwise
/// check nothing), and every gold row's text its paragraph's.
pub fn check_articles(sets: &[GoldSet], articles: &[Article]) -> Result<()> {
    let known: BTreeSet<&str> = sets.iter().flat_map(|s| s.rows.iter().map(|r| r.article.as_str())).collect();
    let unmatched: Vec<String> = articles
        .iter()
        .filter(|a| !known.contains(a.id.as_str()))
        .map(|a| {
            let near = known.iter().map(|k| (crate::labels::edit_distance(k, &a.id), *k)).min();
            let hint = near.filter(|(d, _)| *d <= a.id.chars().count().max(3) / 3 + 1).map(|(_, k)| format!("; did you mean {k:?}?"));
            format!("{:?} ({}{})", a.id, a.source, hint.unwrap_or_default())
        })
        .collect();
    if !unmatched.is_empty() {
        let gold: Vec<String> = sets.iter().map(|s| s.path.display().to_string()).collect();
        return Err(Error::Usage(format!(
            "--articles: {} no gold article in {}: {}; give the files the gold was made from",
            match unmatched.len() {
                1 => "1 article matches".to_owned(),
                n => format!("{n} articles match"),
            },
            gold.join(", "),
            unmatched.join(", ")
        )));
    }
    for gold in sets {
        check_text(&gold.rows, articles, &gold.path)?;
    }
    Ok(())
}

/// Checks every gold set against the articles read from `inputs` (none:
/// nothing to check), as [`check_articles`] does.
pub fn check_texts(sets: &[GoldSet], inputs: &[std::path::PathBuf]) -> Result<()> {
    if inputs.is_empty() {
        return Ok(());
    }
    check_articles(sets, &crate::input::read_all(inputs)?)
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
                    format!("{} has only {}", article.source, crate::count(article.paragraphs.len(), "paragraph")),
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

    fn set_of(name: &str, text: &str) -> GoldSet {
        GoldSet { name: name.into(), path: format!("{name}.jsonl").into(), rows: parse(text).unwrap() }
    }

    #[test]
    fn a_paragraph_in_the_gold_twice_is_refused_naming_both_rows() {
        let two = |a: &str, labels: &str| {
            format!(
                "{{\"article\": \"{a}\", \"paragraph\": 1, \"text\": \"Same words.\", \"labels\": {labels}}}\n{{\"article\": \"{a}\", \"paragraph\": 2, \"text\": \"Other {a}.\", \"labels\": []}}"
            )
        };
        let dev = set_of("dev", &two("026", r#"["asean"]"#));
        // The same file twice.
        let e = check_unique(&[dev.clone(), dev.clone()]).unwrap_err().to_string();
        assert!(e.starts_with("dev.jsonl:1: this paragraph is already in the gold at dev.jsonl:1"), "{e}");
        assert!(e.contains("same labels") && e.contains("each gold file once"), "{e}");
        // A suggestion pasted in as a one-paragraph article.
        let pasted = set_of("s", r#"{"article": "026#1", "paragraph": 1, "text": "Same  words.", "labels": ["asean", "mekong"]}"#);
        let e = check_unique(&[dev.clone(), pasted]).unwrap_err().to_string();
        assert!(e.starts_with("s.jsonl:1: this paragraph is already in the gold at dev.jsonl:1 (article \"026\" paragraph 1)"), "{e}");
        assert!(e.contains(r#"(["asean"] there, ["asean", "mekong"] here)"#) && e.contains("themes gold merge"), "{e}");
        // Two articles that say the same thing differently labelled.
        let other = set_of("train", &two("105", r#"["war_legacy"]"#));
        let e = check_unique(&[dev.clone(), other]).unwrap_err().to_string();
        assert!(e.starts_with("train.jsonl:1:") && e.contains("other labels"), "{e}");
        // Allowed: the same text with the same labels in two whole articles,
        // repeated captions inside one article.
        check_unique(&[dev.clone(), set_of("train", &two("105", r#"["asean"]"#))]).unwrap();
        let captions = r#"{"article": "a", "paragraph": 1, "text": "Photo: x", "labels": []}
{"article": "a", "paragraph": 2, "text": "Photo: x", "labels": []}"#;
        check_unique(&[set_of("c", captions)]).unwrap();
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

    #[test]
    fn articles_that_match_no_gold_article_are_named() {
        let rows = parse(&ROW.replace("\"a\"", "\"000_war_legacy\"")).unwrap();
        let sets = [GoldSet { name: "g".into(), path: "g.jsonl".into(), rows }];
        let article = |id: &str| Article { id: id.into(), source: Location::file(format!("{id}.txt")), paragraphs: vec!["t".into()], meta: Default::default() };
        assert!(check_articles(&sets, &[article("000_war_legacy")]).is_ok());
        let e = check_articles(&sets, &[article("000_war_legacy"), article("000_war-legacy"), article("zzz")]).unwrap_err().to_string();
        assert!(e.starts_with("--articles: 2 articles match no gold article in g.jsonl: "), "{e}");
        assert!(e.contains(r#""000_war-legacy" (000_war-legacy.txt; did you mean "000_war_legacy"?)"#), "{e}");
        assert!(e.contains(r#""zzz" (zzz.txt)"#), "a far id gets no hint: {e}");
        let e = check_articles(&sets, &[article("zzz")]).unwrap_err().to_string();
        assert!(e.starts_with("--articles: 1 article matches no gold"), "{e}");
    }
}
