//! Sharding: splitting one batch over N machines and joining the parts.
//!
//! Every article of the inputs has an ordinal: files in the order
//! [`crate::input::discover`] gives (sorted, so independent of the file
//! system's order), one per text file, one per non-blank line of a JSONL
//! file. Shard I of N takes the ordinals `[total*(I-1)/N, total*I/N)`: parts
//! differ by at most one article. Every shard reads every file once before
//! it starts (so a bad file is reported by every part, and early), but
//! labels only its range. Each shard's output gets a manifest beside it (`OUT.shard.json`)
//! that [`merge`] checks: the same inputs and run, every part present once,
//! every article present once.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Result};
use crate::input::{Format, Source};
use crate::journal::{write_outputs, ArticleRows, Outputs, Totals};

/// Which part of the work: `I/N`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    /// This part, 1..=count.
    pub index: usize,
    /// Number of parts.
    pub count: usize,
}

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("{s:?} is not a shard: write I/N with 1 <= I <= N, e.g. 2/8");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(ShardSpec { index, count })
    }
}

impl std::fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl ShardSpec {
    /// The article ordinals of this part, out of `total`.
    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let first = total * (self.index - 1) / self.count;
        let end = total * self.index / self.count;
        first..end
    }
}

/// How many articles a source holds, without parsing it: 1 for a text file,
/// the non-blank lines of a JSONL file (the same rule its reader uses).
pub fn count_articles(source: &Source) -> Result<usize> {
    match source.format {
        Format::Text => Ok(1),
        Format::Jsonl => {
            let bytes = std::fs::read(&source.path).map_err(|e| Error::io(&source.path, e))?;
            Ok(crate::jsonl::count(&bytes))
        }
        Format::Csv => Ok(crate::input::read_each(source)?.len()),
    }
}

/// The manifest a shard writes beside its output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Which part.
    pub shard: ShardSpec,
    /// First article ordinal of the part.
    pub first: usize,
    /// One past the last.
    pub end: usize,
    /// Articles in all parts.
    pub total: usize,
    /// The inputs' layout digest (`job::label::InputPlan::layout_digest`).
    pub plan: String,
    /// Digest of the model, label set and options: parts must agree.
    pub run: String,
    /// Label ids in label-set order.
    pub labels: Vec<String>,
    /// Articles written.
    pub articles: usize,
    /// Paragraph rows written.
    pub paragraphs: usize,
    /// Files (or articles) skipped with `--keep-going`.
    pub skipped: Vec<Skipped>,
    /// sha256 of the output file, filled in by [`Manifest::write`]: a part
    /// cut short or edited after the run no longer matches it.
    #[serde(default)]
    pub sha256: String,
}

/// Something a run skipped, and the article ordinals that went with it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    /// File, and line where known.
    pub location: String,
    /// Articles of this shard's range lost with it.
    pub articles: usize,
    /// Why.
    pub reason: String,
}

/// Where a shard output's manifest lives.
pub fn manifest_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".shard.json");
    out.with_file_name(name)
}

impl Manifest {
    /// Writes the manifest beside `out` (which must be complete: its
    /// checksum is taken now), atomically.
    pub fn write(&self, out: &Path) -> Result<()> {
        let with_sum = Manifest { sha256: crate::model::fetch::sha256_file(out)?, ..self.clone() };
        with_sum.write_as_is(out)
    }

    fn write_as_is(&self, out: &Path) -> Result<()> {
        let path = manifest_path(out);
        let mut file = crate::output::AtomicFile::create(&path)?;
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::io(&path, e.into()))?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| Error::io(&path, e))?;
        file.commit()
    }

    /// Reads the manifest beside a shard output.
    pub fn read(out: &Path) -> Result<Manifest> {
        let path = manifest_path(out);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::io(&path, std::io::Error::new(e.kind(), format!("{e}; is {} the output of a `themes label --shard` run?", out.display())))
        })?;
        serde_json::from_str(&text).map_err(|e| Error::invalid(Location::file(&path), format!("not a shard manifest: {e}")))
    }
}

/// Joins shard outputs (JSONL rows, any order on the command line) into
/// one, in shard order, after checking that they are the N parts of one
/// run and that every article is there exactly once.
pub fn merge(parts: &[PathBuf], outputs: &Outputs) -> Result<(Totals, Vec<Skipped>)> {
    if parts.is_empty() {
        return Err(Error::Usage("no shard outputs given".to_owned()));
    }
    let mut manifests: Vec<(Manifest, &PathBuf)> =
        parts.iter().map(|p| Manifest::read(p).map(|m| (m, p))).collect::<Result<_>>()?;
    manifests.sort_by_key(|(m, _)| m.shard.index);
    let (base, base_path) = &manifests[0];
    for (m, path) in &manifests {
        let differs = |what: &str| {
            Error::invalid(
                Location::file(manifest_path(path)),
                format!("{what} differs from {}'s: these outputs are not parts of one run", base_path.display()),
            )
        };
        if m.shard.count != base.shard.count {
            return Err(differs("the number of shards"));
        }
        if m.plan != base.plan || m.total != base.total {
            return Err(differs("the inputs (files or their article counts)"));
        }
        if m.run != base.run || m.labels != base.labels {
            return Err(differs("the model, label set or options"));
        }
        let expected = m.shard.range(m.total);
        if m.first != expected.start || m.end != expected.end {
            return Err(Error::invalid(Location::file(manifest_path(path)), "the shard's article range is not the one its I/N gives"));
        }
    }
    for (a, b) in manifests.iter().zip(manifests.iter().skip(1)) {
        if a.0.shard.index == b.0.shard.index {
            return Err(Error::Usage(format!(
                "shard {} is given twice ({} and {})",
                a.0.shard,
                a.1.display(),
                b.1.display()
            )));
        }
    }
    let present: Vec<usize> = manifests.iter().map(|(m, _)| m.shard.index).collect();
    let missing: Vec<String> =
        (1..=base.shard.count).filter(|i| !present.contains(i)).map(|i| format!("{i}/{}", base.shard.count)).collect();
    if !missing.is_empty() {
        return Err(Error::Usage(format!("shard {} missing: give every shard's output", missing.join(", "))));
    }
    // Each part holds exactly its range, less what it skipped and recorded,
    // and is the file its run wrote.
    let mut skipped = Vec::new();
    for (m, path) in &manifests {
        let lost: usize = m.skipped.iter().map(|s| s.articles).sum();
        let mut reader = ArticleRows::new(std::slice::from_ref(path));
        let (mut count, mut paragraphs) = (0, 0);
        while let Some(rows) = reader.next_article()? {
            count += 1;
            paragraphs += rows.len();
        }
        if paragraphs != m.paragraphs {
            return Err(Error::invalid(
                Location::file(path.as_path()),
                format!("holds {paragraphs} paragraph rows where its manifest records {}: the file is incomplete or was edited", m.paragraphs),
            ));
        }
        if count != m.articles || count + lost != m.end - m.first {
            return Err(Error::invalid(
                Location::file(path.as_path()),
                format!(
                    "holds {count} articles where shard {} should hold {} (less {lost} skipped): the file is incomplete or was edited",
                    m.shard,
                    m.end - m.first
                ),
            ));
        }
        let sha256 = crate::model::fetch::sha256_file(path)?;
        if sha256 != m.sha256 {
            return Err(Error::invalid(
                Location::file(path.as_path()),
                "is not the file its shard run wrote (its sha256 differs from the manifest's): it was cut short, edited or replaced; label that shard again",
            ));
        }
        skipped.extend(m.skipped.iter().cloned());
    }
    let files: Vec<PathBuf> = manifests.iter().map(|(_, p)| (*p).clone()).collect();
    let outputs = Outputs { ids: &base.labels, ..*outputs };
    Ok((write_outputs(&files, &outputs)?, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_tile_the_articles_and_balance() {
        for total in [0, 1, 2, 7, 20, 1001] {
            for count in 1..=9 {
                let mut next = 0;
                for index in 1..=count {
                    let r = ShardSpec { index, count }.range(total);
                    assert_eq!(r.start, next);
                    assert!(r.len() == total / count || r.len() == total / count + 1);
                    next = r.end;
                }
                assert_eq!(next, total);
            }
        }
    }

    fn part(dir: &Path, index: usize, articles: &[(&str, usize)]) -> PathBuf {
        let path = dir.join(format!("part{index}.jsonl"));
        let mut text = String::new();
        for (article, paragraphs) in articles {
            for p in 1..=*paragraphs {
                let row = crate::output::LabelRow {
                    article: article.to_string(),
                    paragraph: p,
                    text: format!("{article} {p}"),
                    labels: vec![],
                    scores: [("a".to_owned(), 0.25)].into_iter().collect(),
                    evidence: Default::default(),
                    notes: vec![],
                    meta: Default::default(),
                };
                text += &(serde_json::to_string(&row).unwrap() + "\n");
            }
        }
        std::fs::write(&path, text).unwrap();
        let spec = ShardSpec { index, count: 2 };
        let range = spec.range(4);
        let m = Manifest {
            shard: spec,
            first: range.start,
            end: range.end,
            total: 4,
            plan: "p".into(),
            run: "r".into(),
            labels: vec!["a".into()],
            articles: articles.len(),
            paragraphs: articles.iter().map(|a| a.1).sum(),
            skipped: vec![],
            sha256: String::new(),
        };
        m.write(&path).unwrap();
        path
    }

    fn merged(parts: &[PathBuf], dir: &Path) -> Result<(Totals, Vec<Skipped>)> {
        let out = dir.join("all.jsonl");
        merge(parts, &Outputs { out: &out, format: crate::output::RowFormat::Jsonl, summary: None, ids: &[] })
    }

    #[test]
    fn merge_refuses_a_part_that_lost_rows_or_was_edited() {
        let dir = tempfile::tempdir().unwrap();
        let parts = [part(dir.path(), 1, &[("a", 2), ("b", 3)]), part(dir.path(), 2, &[("c", 1), ("d", 2)])];
        assert_eq!(merged(&parts, dir.path()).unwrap().0, Totals { articles: 4, paragraphs: 8 });
        // Cut at a line break: the last row of article b is gone.
        let text = std::fs::read_to_string(&parts[0]).unwrap();
        let cut: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
        std::fs::write(&parts[0], &cut).unwrap();
        let err = merged(&parts, dir.path()).unwrap_err().to_string();
        assert!(err.contains("part1.jsonl: holds 4 paragraph rows where its manifest records 5"), "{err}");
        // Every row there, one score edited.
        std::fs::write(&parts[0], text.replacen("0.25", "0.95", 1)).unwrap();
        let err = merged(&parts, dir.path()).unwrap_err().to_string();
        assert!(err.contains("part1.jsonl: is not the file its shard run wrote"), "{err}");
        std::fs::write(&parts[0], text).unwrap();
        assert!(merged(&parts, dir.path()).is_ok());
    }

    #[test]
    fn shard_specs_parse_or_explain() {
        assert_eq!("2/3".parse::<ShardSpec>().unwrap(), ShardSpec { index: 2, count: 3 });
        for bad in ["0/3", "4/3", "1/0", "3", "a/b", ""] {
            assert!(bad.parse::<ShardSpec>().unwrap_err().contains("I/N"), "{bad}");
        }
    }
}
