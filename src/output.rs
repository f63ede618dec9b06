//! Write: the only place that creates output files. Every output is written
//! to a temporary file beside its destination and renamed into place when
//! complete, so an interrupted run never leaves a partial file under the
//! name the user asked for.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Temporary files in flight, removed by [`remove_temporaries`] when the
/// process is interrupted (a signal handler cannot run destructors).
static IN_FLIGHT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Deletes every temporary output file still being written. Called from the
/// CLI's Ctrl-C handler before it exits.
pub fn remove_temporaries() {
    if let Ok(paths) = IN_FLIGHT.lock() {
        for path in paths.iter() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where rows go: a file (atomically) or standard output.
pub enum Sink {
    /// Standard output, written as it comes.
    Stdout(BufWriter<std::io::Stdout>),
    /// A file under construction.
    File(AtomicFile),
}

impl Sink {
    /// `None` or `-` means standard output.
    pub fn create(path: Option<&Path>) -> Result<Sink> {
        match path {
            None => Ok(Sink::Stdout(BufWriter::new(std::io::stdout()))),
            Some(p) if p.as_os_str() == "-" => Ok(Sink::Stdout(BufWriter::new(std::io::stdout()))),
            Some(p) => Ok(Sink::File(AtomicFile::create(p)?)),
        }
    }

    /// Flushes and, for a file, moves it into place.
    pub fn finish(self) -> Result<()> {
        match self {
            Sink::Stdout(mut w) => w.flush().map_err(|e| Error::io("-", e)),
            Sink::File(f) => f.commit(),
        }
    }

    fn path(&self) -> &Path {
        match self {
            Sink::Stdout(_) => Path::new("-"),
            Sink::File(f) => &f.target,
        }
    }

    /// Writes one line of JSON.
    pub fn write_json_line<T: serde::Serialize>(&mut self, value: &T) -> Result<()> {
        let mut line = serde_json::to_vec(value).map_err(|e| Error::io(self.path(), e.into()))?;
        line.push(b'\n');
        self.write_all(&line)
    }

    /// Writes raw bytes.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let result = match self {
            Sink::Stdout(w) => w.write_all(bytes),
            Sink::File(f) => f.writer.write_all(bytes),
        };
        result.map_err(|e| Error::io(self.path(), e))
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Stdout(w) => w.write(buf),
            Sink::File(f) => f.writer.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Stdout(w) => w.flush(),
            Sink::File(f) => f.writer.flush(),
        }
    }
}

/// A file that appears under its name only once [`AtomicFile::commit`] ran.
/// Dropped without commit, the temporary file is deleted.
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: BufWriter<std::fs::File>,
    committed: bool,
}

impl AtomicFile {
    /// Starts writing `target`.
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|e| Error::io(target, e))?;
        let (file, temp) = temp.keep().map_err(|e| Error::io(target, e.error))?;
        if let Ok(mut paths) = IN_FLIGHT.lock() {
            paths.push(temp.clone());
        }
        Ok(AtomicFile { target: target.to_path_buf(), temp, writer: BufWriter::new(file), committed: false })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        self.writer.flush().map_err(|e| Error::io(&self.target, e))?;
        self.writer.get_ref().sync_all().map_err(|e| Error::io(&self.target, e))?;
        std::fs::rename(&self.temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
        if let Ok(mut paths) = IN_FLIGHT.lock() {
            paths.retain(|p| p != &self.temp);
        }
    }
}

/// One labelled paragraph as written to JSONL: the wire format users
/// depend on (documented in the README).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct LabelRow {
    /// Article id.
    pub article: String,
    /// 1-based paragraph number.
    pub paragraph: usize,
    /// The paragraph as given.
    pub text: String,
    /// Assigned label ids, in label-set order.
    pub labels: Vec<String>,
    /// Score in [0, 1] per label id.
    pub scores: std::collections::BTreeMap<String, f32>,
    /// For each assigned label, what triggered it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub evidence: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    /// Notes on the row: `language:xx` when the model does not cover the
    /// paragraph's language, `truncated` when text was cut.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// Writes label rows as CSV: article, paragraph, text, labels (joined by
/// `;`), then one `score_<id>` column per label.
pub struct CsvRows {
    writer: csv::Writer<Sink>,
    ids: Vec<String>,
}

impl CsvRows {
    /// Starts a CSV with the header for `ids`.
    pub fn new(sink: Sink, ids: &[String]) -> Result<CsvRows> {
        let mut writer = csv::Writer::from_writer(sink);
        let mut header = vec!["article".to_owned(), "paragraph".to_owned(), "text".to_owned(), "labels".to_owned()];
        header.extend(ids.iter().map(|id| format!("score_{id}")));
        writer.write_record(&header).map_err(csv_error)?;
        Ok(CsvRows { writer, ids: ids.to_vec() })
    }

    /// Writes one row.
    pub fn write(&mut self, row: &LabelRow) -> Result<()> {
        let mut record = vec![row.article.clone(), row.paragraph.to_string(), row.text.clone(), row.labels.join(";")];
        record.extend(self.ids.iter().map(|id| format!("{:.4}", row.scores.get(id).copied().unwrap_or(0.0))));
        self.writer.write_record(&record).map_err(csv_error)
    }

    /// Flushes and moves the file into place.
    pub fn finish(self) -> Result<()> {
        let sink = self.writer.into_inner().map_err(|e| Error::io("-", std::io::Error::other(e.to_string())))?;
        sink.finish()
    }
}

fn csv_error(e: csv::Error) -> Error {
    Error::io("-", std::io::Error::other(e.to_string()))
}

/// Row formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// One JSON object per paragraph.
    Jsonl,
    /// One line per paragraph, one score column per label.
    Csv,
}

impl RowFormat {
    /// The names the command line takes.
    pub const NAMES: [&'static str; 2] = ["jsonl", "csv"];
}

impl std::str::FromStr for RowFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "jsonl" => Ok(RowFormat::Jsonl),
            "csv" => Ok(RowFormat::Csv),
            other => Err(Error::Usage(format!("unknown format {other:?}: use jsonl or csv"))),
        }
    }
}

/// Writes articles' rows in a format, with the optional article summaries
/// beside them: the one place label output is assembled.
pub struct RowWriter {
    jsonl: Option<Sink>,
    csv: Option<CsvRows>,
    summary: Option<Sink>,
    ids: Vec<String>,
}

impl RowWriter {
    /// Rows to `out` (`None`: standard output), summaries to `summary`;
    /// `ids` are the label ids in label-set order.
    pub fn create(out: Option<&Path>, format: RowFormat, summary: Option<&Path>, ids: &[String]) -> Result<RowWriter> {
        let sink = Sink::create(out)?;
        let (jsonl, csv) = match format {
            RowFormat::Jsonl => (Some(sink), None),
            RowFormat::Csv => (None, Some(CsvRows::new(sink, ids)?)),
        };
        let summary = summary.map(|p| Sink::create(Some(p))).transpose()?;
        Ok(RowWriter { jsonl, csv, summary, ids: ids.to_vec() })
    }

    /// Writes one article's rows (non-empty, in paragraph order).
    pub fn write_article(&mut self, rows: &[LabelRow]) -> Result<()> {
        for row in rows {
            if let Some(sink) = self.jsonl.as_mut() {
                sink.write_json_line(row)?;
            }
            if let Some(csv) = self.csv.as_mut() {
                csv.write(row)?;
            }
        }
        if let (Some(sink), Some(first)) = (self.summary.as_mut(), rows.first()) {
            sink.write_json_line(&summarize(&first.article, rows, &self.ids))?;
        }
        Ok(())
    }

    /// Flushes and moves the files into place.
    pub fn finish(self) -> Result<()> {
        if let Some(sink) = self.jsonl {
            sink.finish()?;
        }
        if let Some(csv) = self.csv {
            csv.finish()?;
        }
        if let Some(sink) = self.summary {
            sink.finish()?;
        }
        Ok(())
    }
}

/// The article-level view: for each article, its themes and the share of
/// its paragraphs that carry each.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct ArticleSummary {
    /// Article id.
    pub article: String,
    /// Number of paragraphs.
    pub paragraphs: usize,
    /// Themes carried by at least one paragraph, most frequent first.
    pub themes: Vec<ThemeShare>,
}

/// One theme's place in an article.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct ThemeShare {
    /// Label id.
    pub label: String,
    /// Paragraphs carrying it.
    pub paragraphs: usize,
    /// `paragraphs` over the article's paragraph count.
    pub share: f32,
}

/// Summarizes one article's rows.
pub fn summarize(article: &str, rows: &[LabelRow], ids: &[String]) -> ArticleSummary {
    let mut themes: Vec<ThemeShare> = ids
        .iter()
        .map(|id| {
            let count = rows.iter().filter(|r| r.labels.contains(id)).count();
            ThemeShare { label: id.clone(), paragraphs: count, share: count as f32 / rows.len().max(1) as f32 }
        })
        .filter(|t| t.paragraphs > 0)
        .collect();
    themes.sort_by(|a, b| b.paragraphs.cmp(&a.paragraphs));
    ArticleSummary { article: article.to_owned(), paragraphs: rows.len(), themes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_appears_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.jsonl");
        let mut file = AtomicFile::create(&target).unwrap();
        file.write_all(b"row\n").unwrap();
        assert!(!target.exists());
        file.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "row\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn dropped_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        {
            let mut file = AtomicFile::create(&target).unwrap();
            file.write_all(b"partial").unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
