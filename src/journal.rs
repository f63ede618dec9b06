//! Write, for long runs: rows are committed article by article to a journal
//! beside the output (`OUT.partial`), so a run that is stopped (Ctrl-C, a
//! killed machine, a full disk) loses at most the article it was on, and
//! `--resume` goes on from there. When every article is done the journal is
//! turned into the output the user asked for (JSONL or CSV, and the article
//! summaries), atomically, and deleted.
//!
//! The journal is JSONL: a header line naming the run's fingerprint, then
//! for each article its rows followed by an end line
//! `{"end": ID, "paragraphs": N}`. An article counts as done only once its
//! end line is on disk (fsync); anything after the last end line, such as
//! the half-written rows of the article a killed run was on, is cut off on
//! resume and redone.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Result};
pub use crate::output::RowFormat;
use crate::output::{LabelRow, RowWriter};

/// The journal's format: 2 since rows always carry `evidence`, `notes` and
/// `meta`; a journal of another version is not resumed.
const VERSION: u32 = 2;

/// The journal kept while `out` is being produced.
pub fn journal_path(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

/// The journal of the run in progress and its articles done, for the
/// interrupt handler (a signal handler cannot run destructors).
static ACTIVE: Mutex<Option<(PathBuf, usize)>> = Mutex::new(None);

/// Called on Ctrl-C: a journal holding articles is kept for `--resume`
/// (its path and article count are returned); an empty one is deleted.
pub fn interrupted() -> Option<(PathBuf, usize)> {
    let (path, done) = ACTIVE.lock().ok()?.clone()?;
    if done == 0 {
        let _ = std::fs::remove_file(&path);
        return None;
    }
    Some((path, done))
}

#[derive(Serialize, Deserialize)]
struct Header {
    themes_journal: u32,
    fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct End {
    end: String,
    paragraphs: usize,
}

/// What resuming keeps of a row.
struct RowKey {
    article: String,
    paragraph: usize,
}

/// An open journal, positioned after its last complete article.
pub struct Journal {
    path: PathBuf,
    writer: BufWriter<File>,
    /// Ids of the articles an interrupted run completed, in order (empty
    /// for a new journal); the caller may take them.
    pub done: Vec<String>,
    /// Articles committed in the file, by this run or the earlier one.
    articles: usize,
}

impl Journal {
    /// Starts a new journal for a run with `fingerprint`, replacing any old one.
    pub fn create(path: &Path, fingerprint: &str) -> Result<Journal> {
        // Locked before it is emptied: another run's journal is left alone.
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(|e| Error::io(path, e))?;
        lock(&file, path)?;
        file.set_len(0).map_err(|e| Error::io(path, e))?;
        let mut journal = Journal { path: path.to_path_buf(), writer: BufWriter::new(file), done: Vec::new(), articles: 0 };
        let header = Header { themes_journal: VERSION, fingerprint: fingerprint.to_owned() };
        journal.write_line(&header)?;
        journal.sync()?;
        journal.set_active();
        Ok(journal)
    }

    /// Reopens the journal of an interrupted run with the same fingerprint:
    /// keeps its complete articles and cuts off anything after them. No
    /// journal means nothing was done yet: a new one is started.
    pub fn resume(path: &Path, fingerprint: &str) -> Result<Journal> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Journal::create(path, fingerprint),
            Err(e) => return Err(Error::io(path, e)),
        };
        lock(&file, path)?;
        let mut reader = BufReader::new(&file);
        let mut line = Vec::new();
        let mut offset = 0u64;
        let mut keep = 0u64;
        let mut done = Vec::new();
        let mut pending: Vec<RowKey> = Vec::new();
        let mut number = 0usize;
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(|e| Error::io(path, e))?;
            if n == 0 || line.last() != Some(&b'\n') {
                break; // end of file, or a line torn by the interruption
            }
            number += 1;
            offset += n as u64;
            if number == 1 {
                // As the row reader skips it: the header is the line as written.
                let header: Option<Header> =
                    if line.starts_with(b"{\"themes_journal\"") { serde_json::from_slice(&line).ok() } else { None };
                match header {
                    Some(h) if h.themes_journal == VERSION && h.fingerprint == fingerprint => {
                        keep = offset;
                        continue;
                    }
                    Some(_) => {
                        return Err(Error::invalid(
                            Location::file(path),
                            "this journal belongs to a run with other inputs, label set, model or options; \
                             rerun with the same ones to resume, or without --resume to start over",
                        ))
                    }
                    None => {
                        return Err(Error::invalid(
                            Location::line(path, 1),
                            "not a themes journal; move it away, or run without --resume to start over",
                        ))
                    }
                }
            }
            // The same rules as the reader of the rows ([`ArticleRows`]): a
            // line is UTF-8 (serde_json lets bad bytes through inside some
            // nested strings), an end line starts `{"end"`, a row is whole.
            if std::str::from_utf8(&line).is_err() {
                break;
            }
            let end = if line.starts_with(b"{\"end\"") { serde_json::from_slice::<End>(&line).ok() } else { None };
            if let Some(end) = end {
                let complete = pending.len() == end.paragraphs
                    && pending.iter().enumerate().all(|(i, r)| r.article == end.end && r.paragraph == i + 1);
                if !complete {
                    break;
                }
                done.push(end.end);
                pending.clear();
                keep = offset;
            } else if let Some(row) = serde_json::from_slice::<LabelRow>(&line).ok().filter(|_| !line.starts_with(b"{\"themes_journal\"")) {
                pending.push(RowKey { article: row.article, paragraph: row.paragraph });
            } else {
                break;
            }
        }
        drop(reader);
        if number == 0 {
            drop(file); // unlocked, to be locked again by `create`
            return Journal::create(path, fingerprint);
        }
        let mut file = file;
        file.set_len(keep).map_err(|e| Error::io(path, e))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
        let journal = Journal { path: path.to_path_buf(), writer: BufWriter::new(file), articles: done.len(), done };
        journal.set_active();
        Ok(journal)
    }

    fn set_active(&self) {
        if let Ok(mut active) = ACTIVE.lock() {
            *active = Some((self.path.clone(), self.articles));
        }
    }

    fn write_line<T: Serialize>(&mut self, value: &T) -> Result<()> {
        let mut line = serde_json::to_vec(value).map_err(|e| Error::io(&self.path, e.into()))?;
        line.push(b'\n');
        self.writer.write_all(&line).map_err(|e| Error::io(&self.path, e))
    }

    fn sync(&mut self) -> Result<()> {
        self.writer.flush().map_err(|e| Error::io(&self.path, e))?;
        self.writer.get_ref().sync_data().map_err(|e| Error::io(&self.path, e))
    }

    /// Commits one article's rows: they are on disk when this returns.
    pub fn append(&mut self, article: &str, rows: &[LabelRow]) -> Result<()> {
        for row in rows {
            self.write_line(row)?;
        }
        self.write_line(&End { end: article.to_owned(), paragraphs: rows.len() })?;
        self.sync()?;
        self.articles += 1;
        self.set_active();
        Ok(())
    }

    /// Turns the finished journal into the requested outputs and deletes it.
    pub fn finish(mut self, outputs: &Outputs) -> Result<Totals> {
        self.sync()?;
        let totals = write_outputs(&[self.path.clone()], outputs)?;
        std::fs::remove_file(&self.path).map_err(|e| Error::io(&self.path, e))?;
        Ok(totals)
    }
}

impl Drop for Journal {
    /// A run that ends before its first article (bad input, a missing
    /// model) leaves no journal behind; one with work done keeps it for
    /// `--resume`.
    fn drop(&mut self) {
        if self.articles == 0 {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Ok(mut active) = ACTIVE.lock() {
            *active = None;
        }
    }
}

/// Takes the journal's lock (held until the file is closed): one run per
/// output at a time.
fn lock(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Usage(format!(
            "{}: another themes run is writing this output; wait for it to end, or give another --out",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// What to write at the end of a run (or a merge).
pub struct Outputs<'a> {
    /// The rows' file.
    pub out: &'a Path,
    /// Its format.
    pub format: RowFormat,
    /// The article summaries' file, if asked for.
    pub summary: Option<&'a Path>,
    /// Label ids in label-set order (CSV columns, summary order).
    pub ids: &'a [String],
}

/// What was written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Articles written.
    pub articles: usize,
    /// Paragraph rows written.
    pub paragraphs: usize,
}

/// Reads articles' rows, in order, from journals or JSONL row files (header
/// and end lines are skipped), checking as it goes that no article appears
/// twice and that every article's paragraphs run 1..n.
pub struct ArticleRows {
    files: Vec<PathBuf>,
    current: Option<(PathBuf, std::io::Lines<BufReader<File>>, usize)>,
    held: Option<(LabelRow, Location)>,
    seen: std::collections::HashMap<String, Location>,
}

impl ArticleRows {
    /// Reads `files` one after the other.
    pub fn new(files: &[PathBuf]) -> ArticleRows {
        ArticleRows { files: files.iter().rev().cloned().collect(), current: None, held: None, seen: Default::default() }
    }

    fn next_row(&mut self) -> Result<Option<(LabelRow, Location)>> {
        if let Some(held) = self.held.take() {
            return Ok(Some(held));
        }
        loop {
            if self.current.is_none() {
                let Some(path) = self.files.pop() else { return Ok(None) };
                let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
                self.current = Some((path, BufReader::new(file).lines(), 0));
            }
            let Some((path, lines, number)) = self.current.as_mut() else { continue };
            let Some(line) = lines.next() else {
                self.current = None;
                continue;
            };
            *number += 1;
            let location = Location::line(&*path, *number);
            let line = line.map_err(|e| Error::io(&*path, e))?;
            if line.trim().is_empty() || line.starts_with("{\"themes_journal\"") || line.starts_with("{\"end\"") {
                continue;
            }
            let row: LabelRow = serde_json::from_str(&line)
                .map_err(|e| Error::invalid(location.clone(), format!("not a themes JSONL row: {e}")))?;
            return Ok(Some((row, location)));
        }
    }

    /// The next article's rows.
    pub fn next_article(&mut self) -> Result<Option<Vec<LabelRow>>> {
        let Some((first, location)) = self.next_row()? else { return Ok(None) };
        if let Some(previous) = self.seen.insert(first.article.clone(), location.clone()) {
            return Err(Error::invalid(
                location,
                format!("article {:?} is repeated (also at {previous}); each article must be labelled once", first.article),
            ));
        }
        let mut rows = vec![first];
        loop {
            match self.next_row()? {
                // An article never continues into the next file: the same id
                // there is a repeat.
                Some((row, loc)) if row.article == rows[0].article && loc.path == location.path => {
                    if row.paragraph != rows.len() + 1 {
                        return Err(Error::invalid(
                            loc,
                            format!(
                                "article {:?}: paragraph {} where {} was expected; the file is damaged or edited",
                                row.article,
                                row.paragraph,
                                rows.len() + 1
                            ),
                        ));
                    }
                    rows.push(row);
                }
                Some(other) => {
                    self.held = Some(other);
                    break;
                }
                None => break,
            }
        }
        if rows[0].paragraph != 1 {
            return Err(Error::invalid(
                location,
                format!("article {:?} starts at paragraph {}, not 1; the file is damaged or edited", rows[0].article, rows[0].paragraph),
            ));
        }
        Ok(Some(rows))
    }
}

/// Writes the rows of `files` (journals or row files) as the final outputs,
/// each atomically.
pub fn write_outputs(files: &[PathBuf], outputs: &Outputs) -> Result<Totals> {
    let meta = match outputs.format {
        RowFormat::Jsonl => Vec::new(),
        RowFormat::Csv => csv_meta_keys(files)?,
    };
    let mut writer = RowWriter::create(Some(outputs.out), outputs.format, outputs.summary, outputs.ids, &meta)?;
    let mut reader = ArticleRows::new(files);
    let mut totals = Totals::default();
    while let Some(rows) = reader.next_article()? {
        writer.write_article(&rows)?;
        totals.articles += 1;
        totals.paragraphs += rows.len();
    }
    writer.finish()?;
    Ok(totals)
}

/// The meta keys of every row of `files`: the CSV's columns, known only
/// once every row has been read.
fn csv_meta_keys(files: &[PathBuf]) -> Result<Vec<String>> {
    let mut reader = ArticleRows::new(files);
    let mut keys = std::collections::BTreeSet::new();
    while let Some(rows) = reader.next_article()? {
        keys.extend(crate::output::meta_keys(&rows));
    }
    Ok(keys.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(article: &str, paragraph: usize) -> LabelRow {
        LabelRow {
            article: article.to_owned(),
            paragraph,
            text: format!("{article} {paragraph}"),
            labels: vec![],
            scores: [("a".to_owned(), 0.25)].into_iter().collect(),
            evidence: Default::default(),
            notes: vec![],
            meta: Default::default(),
        }
    }

    #[test]
    fn resume_keeps_complete_articles_and_cuts_the_torn_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl.partial");
        let mut j = Journal::create(&path, "fp").unwrap();
        j.append("a", &[row("a", 1), row("a", 2)]).unwrap();
        j.append("b", &[row("b", 1)]).unwrap();
        drop(j);
        let complete = std::fs::metadata(&path).unwrap().len();
        // A killed run: one row of article c written, no end line, then a torn line.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(serde_json::to_string(&row("c", 1)).unwrap().as_bytes()).unwrap();
        f.write_all(b"\n{\"article\":\"c\",\"parag").unwrap();
        drop(f);
        let j = Journal::resume(&path, "fp").unwrap();
        assert_eq!(j.done, vec!["a", "b"]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), complete);
        drop(j); // its lock is held while it is open
        let err = Journal::resume(&path, "other").err().unwrap().to_string();
        assert!(err.contains("other inputs, label set"), "{err}");
    }

    #[test]
    fn resume_keeps_only_what_the_row_reader_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl.partial");
        let mut j = Journal::create(&path, "fp").unwrap();
        j.append("a", &[row("a", 1)]).unwrap();
        drop(j);
        let complete = std::fs::read(&path).unwrap();
        // A row of keys only, an end line written another way, or a row with
        // bytes that are not UTF-8 deep in its evidence (found by fuzzing:
        // serde_json let them through) is not what `themes` writes: resume
        // stops before it.
        let row = "{\"article\":\"b\",\"paragraph\":1,\"text\":\"t\",\"labels\":[],\"scores\":{}";
        let mut not_utf8 = format!("{row},\"evidence\":{{\"x\":[{{\"text\":\"Vietnam-").into_bytes();
        not_utf8.extend_from_slice(b"\xac\xd1\"}]}}\n{\"end\":\"b\",\"paragraphs\":1}\n");
        let tails: [Vec<u8>; 3] = [
            b"{\"article\":\"b\",\"paragraph\":1}\n{\"end\":\"b\",\"paragraphs\":1}\n".to_vec(),
            format!("{row}}}\n{{ \"end\":\"b\",\"paragraphs\":1}}\n").into_bytes(),
            not_utf8,
        ];
        let indented = [b"\t".as_slice(), &complete].concat();
        std::fs::write(&path, &indented).unwrap();
        let err = Journal::resume(&path, "fp").err().expect("an indented header is not a journal's").to_string();
        assert!(err.contains("out.jsonl.partial:1: not a themes journal"), "{err}");
        for tail in tails {
            std::fs::write(&path, [complete.as_slice(), &tail].concat()).unwrap();
            let j = Journal::resume(&path, "fp").unwrap();
            assert_eq!(j.done, vec!["a"], "{}", String::from_utf8_lossy(&tail));
            drop(j);
            let mut rows = ArticleRows::new(std::slice::from_ref(&path));
            assert!(rows.next_article().unwrap().is_some());
            assert!(rows.next_article().unwrap().is_none());
            std::fs::write(&path, &complete).unwrap();
        }
    }

    #[test]
    fn a_journal_in_use_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl.partial");
        let mut first = Journal::create(&path, "fp").unwrap();
        first.append("a", &[row("a", 1)]).unwrap();
        let before = std::fs::read(&path).unwrap();
        for second in [Journal::create(&path, "fp").err(), Journal::resume(&path, "fp").err()] {
            let err = second.expect("a second journal on the same output is refused").to_string();
            assert!(err.contains("another themes run is writing this output"), "{err}");
        }
        assert_eq!(std::fs::read(&path).unwrap(), before, "the running journal is untouched");
        drop(first);
        assert_eq!(Journal::resume(&path, "fp").unwrap().done, vec!["a"], "free once the first run ended");
    }

    #[test]
    fn rows_are_checked_for_repeats_and_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, rows: &[LabelRow]| {
            let p = dir.path().join(name);
            let text: String = rows.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
            std::fs::write(&p, text).unwrap();
            p
        };
        let one = write("1.jsonl", &[row("a", 1), row("a", 2), row("b", 1)]);
        let two = write("2.jsonl", &[row("c", 1)]);
        let mut r = ArticleRows::new(&[one.clone(), two]);
        let ids: Vec<String> = std::iter::from_fn(|| r.next_article().unwrap()).map(|rows| rows[0].article.clone()).collect();
        assert_eq!(ids, vec!["a", "b", "c"]);
        let again = write("3.jsonl", &[row("b", 1)]);
        let mut r = ArticleRows::new(&[one.clone(), again]);
        let err = std::iter::from_fn(|| r.next_article().transpose()).find_map(|x| x.err()).unwrap().to_string();
        assert!(err.contains("3.jsonl:1: article \"b\" is repeated (also at "), "{err}");
        let gap = write("4.jsonl", &[row("d", 1), row("d", 3)]);
        let err = ArticleRows::new(&[gap]).next_article().err().unwrap().to_string();
        assert!(err.contains("4.jsonl:2: article \"d\": paragraph 3 where 2"), "{err}");
    }
}
