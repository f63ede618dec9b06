//! Write: the only place that creates output files. Every output file is
//! written to a temporary file beside its destination and renamed into
//! place when complete, so an interrupted run never leaves a partial file
//! under the name the user asked for; a device or FIFO is written directly,
//! as the shell's `>` would. [`check_outputs`] is the one check, made before
//! any work, that an output can be written and is not one of the inputs.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::input::Meta;

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

    /// Writes `bytes` whole to `path` (atomically) or standard output.
    pub fn write_whole(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
        let mut sink = Sink::create(path)?;
        sink.write_all(bytes)?;
        sink.finish()
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
///
/// Opened as the shell's `>` would: a device or FIFO is written directly
/// (no temporary file, no rename); a symbolic link is followed and its
/// target replaced, so the link stays a link; an existing file keeps its
/// permission mode; a new file gets the mode the umask allows. The
/// temporary file is `.NAME.themes-tmp-PID-N` beside the target; ones left
/// by processes that no longer exist (a run killed during its final write)
/// are removed when that output is written again.
pub struct AtomicFile {
    target: PathBuf,
    /// The file being written and where it goes; `None`: written in place.
    temp: Option<(PathBuf, PathBuf)>,
    writer: BufWriter<std::fs::File>,
    committed: bool,
}

/// What marks a temporary output file's name: `.NAME` + this + `PID-N`.
const TEMP_MARK: &str = ".themes-tmp-";

/// Temporary files created by this process so far (their names' `N`).
static TEMP_COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl AtomicFile {
    /// Starts writing `target`: the one way every command opens an output.
    pub fn create(target: &Path) -> Result<AtomicFile> {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let real = follow_links(target)?;
        let existing = std::fs::metadata(&real).ok();
        if let Some(meta) = &existing {
            if meta.is_dir() {
                return Err(is_a_folder("the output", target));
            }
            if !meta.is_file() {
                // A device, FIFO or socket: written into, never replaced.
                let file = std::fs::OpenOptions::new().write(true).open(&real).map_err(|e| Error::io(target, e))?;
                return Ok(AtomicFile { target: target.to_path_buf(), temp: None, writer: BufWriter::new(file), committed: false });
            }
        }
        let dir = parent_of(&real);
        let name = real.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        remove_stale_temporaries(&dir, &name);
        let n = TEMP_COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let temp = dir.join(format!(".{name}{TEMP_MARK}{}-{n}", std::process::id()));
        let mode = existing.as_ref().map(|m| m.permissions().mode() & 0o7777);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode.unwrap_or(0o666))
            .open(&temp)
            .map_err(|e| Error::io(target, e))?;
        if let Ok(mut paths) = IN_FLIGHT.lock() {
            paths.push(temp.clone());
        }
        let temp = Some((temp, real));
        let file = AtomicFile { target: target.to_path_buf(), temp, writer: BufWriter::new(file), committed: false };
        if let Some(mode) = mode {
            // The umask narrowed the mode at creation; an existing file keeps its own.
            let permissions = std::fs::Permissions::from_mode(mode);
            file.writer.get_ref().set_permissions(permissions).map_err(|e| Error::io(target, e))?;
        }
        Ok(file)
    }

    /// Flushes, syncs and renames the file into place (a device or FIFO:
    /// flushes).
    pub fn commit(mut self) -> Result<()> {
        self.writer.flush().map_err(|e| Error::io(&self.target, e))?;
        if let Some((temp, real)) = &self.temp {
            self.writer.get_ref().sync_all().map_err(|e| Error::io(&self.target, e))?;
            std::fs::rename(temp, real).map_err(|e| Error::io(&self.target, e))?;
        }
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
        if let Some((temp, _)) = &self.temp {
            if !self.committed {
                let _ = std::fs::remove_file(temp);
            }
            if let Ok(mut paths) = IN_FLIGHT.lock() {
                paths.retain(|p| p != temp);
            }
        }
    }
}

/// The folder a file is in (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where writing `path` lands: symbolic links followed to their target
/// (which need not exist yet).
fn follow_links(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = std::fs::read_link(&current).map_err(|e| Error::io(path, e))?;
                current = parent_of(&current).join(link);
            }
            _ => return Ok(current),
        }
    }
    Err(Error::io(path, std::io::Error::other("too many levels of symbolic links")))
}

/// Removes `.NAME.themes-tmp-PID-N` files in `dir` whose process is gone.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let prefix = format!(".{name}{TEMP_MARK}");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !process_exists(pid) {
            tracing::debug!("{}: removing a temporary file left by process {pid}", entry.path().display());
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether a process `pid` exists (when that cannot be told: yes).
fn process_exists(pid: u32) -> bool {
    if pid == std::process::id() || !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new("/proc").join(pid.to_string()).exists()
}

fn is_a_folder(what: &str, path: &Path) -> Error {
    Error::Usage(format!("{what} {} is a folder: give a file name", path.display()))
}

/// Checks the outputs of a command before any work: each can be written
/// (not a folder, its folder exists), none is one of the inputs, and no two
/// are the same file. `outputs` are (option, path) pairs, `None` or `-`
/// (standard output) skipped; `inputs` are files or folders (every file
/// under a folder counts). Errors name both files; nothing is changed.
pub fn check_outputs<'a>(outputs: &[(&str, Option<&Path>)], inputs: impl IntoIterator<Item = &'a Path>) -> Result<()> {
    let outputs: Vec<(&str, &Path)> =
        outputs.iter().filter_map(|&(flag, p)| p.map(|p| (flag, p))).filter(|(_, p)| p.as_os_str() != "-").collect();
    for &(flag, path) in &outputs {
        let real = follow_links(path)?;
        match std::fs::metadata(&real) {
            Ok(meta) if meta.is_dir() => return Err(is_a_folder(flag, path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !parent_of(&real).is_dir() => {
                return Err(Error::Usage(format!(
                    "{flag} {}: the folder {} does not exist",
                    path.display(),
                    parent_of(&real).display()
                )))
            }
            _ => {}
        }
    }
    refuse_inputs(&outputs, inputs)
}

/// Errors if an output is one of the inputs (or another output): the same
/// file by device and inode, or, for one that does not exist yet, by the
/// path it would have. Devices and FIFOs may be written by several.
pub fn refuse_inputs<'a>(outputs: &[(&str, &Path)], inputs: impl IntoIterator<Item = &'a Path>) -> Result<()> {
    let mut seen: std::collections::HashMap<FileKey, String> = Default::default();
    let mut files = Vec::new();
    let mut visited = std::collections::HashSet::new();
    for input in inputs {
        files_under(input, &mut visited, &mut files);
    }
    for file in files {
        if let Some(key) = file_key(&file) {
            seen.entry(key).or_insert_with(|| format!("the input {}", file.display()));
        }
    }
    for &(flag, path) in outputs {
        let Some(key) = file_key(path) else { continue };
        if let Some(other) = seen.get(&key) {
            return Err(Error::Usage(format!(
                "{flag} {} is also {other}: refusing to overwrite it; write the output elsewhere",
                path.display()
            )));
        }
        seen.insert(key, format!("{flag} {}", path.display()));
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq, Hash)]
enum FileKey {
    Inode(u64, u64),
    Path(PathBuf),
}

/// A regular file's identity, or the canonical path a file to be created
/// would have; `None` for devices, FIFOs, folders and what cannot be told.
fn file_key(path: &Path) -> Option<FileKey> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Some(FileKey::Inode(meta.dev(), meta.ino())),
        Ok(_) => None,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let real = follow_links(path).ok()?;
            let dir = parent_of(&real).canonicalize().ok()?;
            Some(FileKey::Path(dir.join(real.file_name()?)))
        }
        Err(_) => None,
    }
}

/// `path` itself, or when it is a folder the files under it that are
/// read: articles (`.txt`, `.md`, `.jsonl`, `.csv`) and a head's files (links
/// followed, each folder once).
fn files_under(path: &Path, visited: &mut std::collections::HashSet<PathBuf>, out: &mut Vec<PathBuf>) {
    if path.as_os_str() == "-" {
        return;
    }
    if !std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        out.push(path.to_path_buf());
        return;
    }
    let read = |p: &Path| {
        crate::input::format_of(p).is_some() || p.file_name().is_some_and(|n| n == "head.json" || n == "head.safetensors")
    };
    let Ok(canonical) = path.canonicalize() else { return };
    if !visited.insert(canonical) {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if read(&path) || std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            files_under(&path, visited, out);
        }
    }
}

/// Decimals kept of every number computed for a row or a summary (scores,
/// similarities, shares): the one rounding rule, applied by [`round`] when
/// rows are serialized, whatever the format.
pub const DECIMALS: i32 = 4;

/// A computed number as written: [`DECIMALS`] decimals.
pub fn round(x: f64) -> f64 {
    let scale = 10f64.powi(DECIMALS);
    (x * scale).round() / scale
}

/// Every float in a JSON value rounded by [`round`] (integers kept).
fn rounded(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => n.as_f64().and_then(|x| serde_json::Number::from_f64(round(x))).map_or(Value::Null, Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(rounded).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), rounded(v))).collect()),
        other => other.clone(),
    }
}

fn round_scores<S: serde::Serializer>(scores: &BTreeMap<String, f32>, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(scores.iter().map(|(k, v)| (k, round(f64::from(*v)))))
}

fn round_evidence<S: serde::Serializer>(evidence: &Evidence, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.collect_map(evidence.iter().map(|(k, items)| (k, items.iter().map(rounded).collect::<Vec<_>>())))
}

fn round_share<S: serde::Serializer>(share: &f32, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(round(f64::from(*share)))
}

/// A row's evidence: for each assigned label, its items.
pub type Evidence = BTreeMap<String, Vec<serde_json::Value>>;

/// The keys of a JSONL row, in the order written: every row has all of
/// them (`docs/row.schema.json`).
pub const ROW_KEYS: [&str; 8] = ["article", "paragraph", "text", "labels", "scores", "evidence", "notes", "meta"];

/// One labelled paragraph as written to JSONL: the wire format users
/// depend on (documented in the README and `docs/row.schema.json`). Every
/// key is always written, empty when there is nothing to say.
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
    #[serde(serialize_with = "round_scores")]
    pub scores: BTreeMap<String, f32>,
    /// For each assigned label, what triggered it (`{}` when none is).
    #[serde(default, serialize_with = "round_evidence")]
    pub evidence: Evidence,
    /// Notes on the row: `language:xx` when the model does not cover the
    /// paragraph's language, `truncated` when text was cut.
    #[serde(default)]
    pub notes: Vec<String>,
    /// The article's other input fields (JSONL keys, CSV columns), as given.
    #[serde(default)]
    pub meta: Meta,
}

/// One paragraph's vector as `themes embed` writes it.
#[derive(serde::Serialize)]
pub struct EmbeddingRow<'a> {
    /// Article id.
    pub article: &'a str,
    /// 1-based paragraph number.
    pub paragraph: usize,
    /// The paragraph as given.
    pub text: &'a str,
    /// Tokens the model read.
    pub tokens: usize,
    /// Whether the paragraph was cut to the model's window.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// The vector.
    pub embedding: &'a [f32],
}

/// Writes label rows as CSV: article, paragraph, text, labels (joined by
/// `;`), one `score_<id>` column per label, evidence (the JSONL row's
/// `evidence` as a JSON string), notes (joined by `;`), then one
/// `meta_<key>` column per input field.
pub struct CsvRows {
    writer: csv::Writer<Sink>,
    ids: Vec<String>,
    meta: Vec<String>,
}

impl CsvRows {
    /// Starts a CSV with the header for label `ids` and `meta` keys.
    pub fn new(sink: Sink, ids: &[String], meta: &[String]) -> Result<CsvRows> {
        let mut writer = csv::Writer::from_writer(sink);
        let mut header = vec!["article".to_owned(), "paragraph".to_owned(), "text".to_owned(), "labels".to_owned()];
        header.extend(ids.iter().map(|id| format!("score_{id}")));
        header.extend(["evidence".to_owned(), "notes".to_owned()]);
        header.extend(meta.iter().map(|key| format!("meta_{key}")));
        writer.write_record(&header).map_err(csv_error)?;
        Ok(CsvRows { writer, ids: ids.to_vec(), meta: meta.to_vec() })
    }

    /// Writes one row.
    pub fn write(&mut self, row: &LabelRow) -> Result<()> {
        if let Some(key) = row.meta.keys().find(|k| !self.meta.contains(k)) {
            return Err(Error::Usage(format!(
                "article {:?}: its field `{key}` has no CSV column (standard input's fields are not known before the header is written); write with --out FILE, or --format jsonl",
                row.article
            )));
        }
        let mut record = vec![row.article.clone(), row.paragraph.to_string(), row.text.clone(), row.labels.join(";")];
        record.extend(self.ids.iter().map(|id| number(row.scores.get(id).copied().unwrap_or(0.0))));
        let evidence: Evidence = row.evidence.iter().map(|(k, v)| (k.clone(), v.iter().map(rounded).collect())).collect();
        let evidence = serde_json::to_string(&evidence);
        record.push(evidence.map_err(|e| Error::io("-", e.into()))?);
        record.push(row.notes.join(";"));
        record.extend(self.meta.iter().map(|key| cell(row.meta.get(key))));
        self.writer.write_record(&record).map_err(csv_error)
    }

    /// Flushes and moves the file into place.
    pub fn finish(self) -> Result<()> {
        let sink = self.writer.into_inner().map_err(|e| Error::io("-", std::io::Error::other(e.to_string())))?;
        sink.finish()
    }
}

/// A computed number as a CSV cell: rounded, and written as in JSONL.
fn number(x: f32) -> String {
    serde_json::Number::from_f64(round(f64::from(x))).map_or_else(String::new, |n| n.to_string())
}

/// A meta value as a CSV cell: a string as it is, nothing for null, other
/// values as JSON.
fn cell(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
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
/// beside them (in the same format): the one place label output is
/// assembled.
pub struct RowWriter {
    jsonl: Option<Sink>,
    csv: Option<CsvRows>,
    summary: Option<Summaries>,
    ids: Vec<String>,
}

/// Where article summaries go.
enum Summaries {
    Jsonl(Sink),
    Csv(Box<csv::Writer<Sink>>),
}

impl RowWriter {
    /// Rows to `out` (`None`: standard output), summaries to `summary`;
    /// `ids` are the label ids in label-set order, `meta` the input fields
    /// that CSV rows get a column for.
    pub fn create(
        out: Option<&Path>,
        format: RowFormat,
        summary: Option<&Path>,
        ids: &[String],
        meta: &[String],
    ) -> Result<RowWriter> {
        let sink = Sink::create(out)?;
        let (jsonl, csv) = match format {
            RowFormat::Jsonl => (Some(sink), None),
            RowFormat::Csv => (None, Some(CsvRows::new(sink, ids, meta)?)),
        };
        let summary = match summary.map(|p| Sink::create(Some(p))).transpose()? {
            None => None,
            Some(sink) if format == RowFormat::Jsonl => Some(Summaries::Jsonl(sink)),
            Some(sink) => {
                let mut writer = csv::Writer::from_writer(sink);
                let mut header = vec!["article".to_owned(), "paragraphs".to_owned(), "themes".to_owned()];
                header.extend(ids.iter().map(|id| format!("paragraphs_{id}")));
                header.extend(ids.iter().map(|id| format!("share_{id}")));
                writer.write_record(&header).map_err(csv_error)?;
                Some(Summaries::Csv(Box::new(writer)))
            }
        };
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
        let Some(first) = rows.first() else { return Ok(()) };
        let summary = summarize(&first.article, rows, &self.ids);
        match self.summary.as_mut() {
            None => Ok(()),
            Some(Summaries::Jsonl(sink)) => sink.write_json_line(&summary),
            Some(Summaries::Csv(writer)) => {
                let mut record = vec![summary.article.clone(), summary.paragraphs.to_string()];
                record.push(summary.themes.iter().map(|t| t.label.as_str()).collect::<Vec<_>>().join(";"));
                let share = |id: &String| summary.themes.iter().find(|t| &t.label == id);
                record.extend(self.ids.iter().map(|id| share(id).map_or(0, |t| t.paragraphs).to_string()));
                record.extend(self.ids.iter().map(|id| number(share(id).map_or(0.0, |t| t.share))));
                writer.write_record(&record).map_err(csv_error)
            }
        }
    }

    /// Flushes and moves the files into place.
    pub fn finish(self) -> Result<()> {
        if let Some(sink) = self.jsonl {
            sink.finish()?;
        }
        if let Some(csv) = self.csv {
            csv.finish()?;
        }
        match self.summary {
            None => Ok(()),
            Some(Summaries::Jsonl(sink)) => sink.finish(),
            Some(Summaries::Csv(writer)) => {
                writer.into_inner().map_err(|e| Error::io("-", std::io::Error::other(e.to_string())))?.finish()
            }
        }
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
    #[serde(serialize_with = "round_share")]
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
    themes.sort_by_key(|t| std::cmp::Reverse(t.paragraphs));
    ArticleSummary { article: article.to_owned(), paragraphs: rows.len(), themes }
}

/// The meta keys of rows, each once, sorted: the CSV's `meta_` columns.
pub fn meta_keys<'a>(rows: impl IntoIterator<Item = &'a LabelRow>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = rows.into_iter().flat_map(|r| r.meta.keys()).collect();
    keys.into_iter().cloned().collect()
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

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    fn write(target: &Path, text: &str) {
        let mut file = AtomicFile::create(target).unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file.commit().unwrap();
    }

    #[test]
    fn a_device_is_written_into_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let null = dir.path().join("null");
        let made = std::process::Command::new("mknod").args(["-m", "666"]).arg(&null).args(["c", "1", "3"]).status().unwrap();
        assert!(made.success(), "mknod: the tests run as root");
        write(&null, "rows\n");
        assert!(std::fs::symlink_metadata(&null).unwrap().file_type().is_char_device(), "still the device");
        assert_eq!(names(dir.path()), vec!["null"], "no temporary file beside it");
    }

    #[test]
    fn a_fifo_is_written_into() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write(&fifo, "row 1\nrow 2\n");
        assert_eq!(reader.join().unwrap(), "row 1\nrow 2\n");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(names(dir.path()), vec!["pipe"]);
    }

    #[test]
    fn a_link_is_followed_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real.jsonl"), "old\n").unwrap();
        std::os::unix::fs::symlink("real.jsonl", dir.path().join("link.jsonl")).unwrap();
        write(&dir.path().join("link.jsonl"), "new\n");
        assert!(std::fs::symlink_metadata(dir.path().join("link.jsonl")).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(dir.path().join("real.jsonl")).unwrap(), "new\n");
        // A link to a file not there yet: the file is made where it points.
        std::os::unix::fs::symlink("made.jsonl", dir.path().join("ahead.jsonl")).unwrap();
        write(&dir.path().join("ahead.jsonl"), "made\n");
        assert!(std::fs::symlink_metadata(dir.path().join("ahead.jsonl")).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(dir.path().join("made.jsonl")).unwrap(), "made\n");
        assert_eq!(names(dir.path()), vec!["ahead.jsonl", "link.jsonl", "made.jsonl", "real.jsonl"]);
    }

    #[test]
    fn an_existing_file_keeps_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.jsonl");
        for mode in [0o644, 0o640, 0o604] {
            std::fs::write(&target, "old").unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode)).unwrap();
            write(&target, "new");
            assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o7777, mode);
        }
    }

    #[test]
    fn temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.jsonl");
        let dead = ".out.jsonl.themes-tmp-4000000000-0";
        let live = format!(".out.jsonl.themes-tmp-{}-999", std::process::id());
        let other = ".other.jsonl.themes-tmp-4000000000-0";
        for name in [dead, &live, other] {
            std::fs::write(dir.path().join(name), "torn").unwrap();
        }
        write(&target, "row\n");
        let mut want = vec![live.clone(), other.to_owned(), "out.jsonl".to_owned()];
        want.sort();
        assert_eq!(names(dir.path()), want, "only the dead process's temporary of this output is removed");
    }

    #[test]
    fn outputs_are_checked_against_inputs_and_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("in")).unwrap();
        std::fs::write(d.join("in/a.txt"), "text").unwrap();
        std::fs::write(d.join("in/notes.html"), "not read").unwrap();
        std::fs::write(d.join("labels.toml"), "x").unwrap();
        std::os::unix::fs::symlink(d.join("in/a.txt"), d.join("link.txt")).unwrap();
        let check = |outs: &[(&str, Option<&Path>)]| {
            check_outputs(outs, [d.join("in").as_path(), d.join("labels.toml").as_path()]).map_err(|e| e.to_string())
        };
        let a = d.join("in/./a.txt");
        let err = check(&[("--out", Some(a.as_path()))]).unwrap_err();
        assert!(err.contains("--out") && err.contains("is also the input") && err.contains("a.txt"), "{err}");
        assert!(check(&[("--out", Some(d.join("link.txt").as_path()))]).unwrap_err().contains("is also the input"));
        assert!(check(&[("--out", Some(d.join("labels.toml").as_path()))]).unwrap_err().contains("labels.toml"));
        let o = d.join("o.jsonl");
        let err = check(&[("--out", Some(o.as_path())), ("--summary", Some(d.join("./o.jsonl").as_path()))]).unwrap_err();
        assert!(err.starts_with("--summary") && err.contains("is also --out"), "{err}");
        assert!(check(&[("--out", Some(d.join("in").as_path()))]).unwrap_err().contains("is a folder"));
        assert!(check(&[("--out", Some(d.join("nowhere/o.jsonl").as_path()))]).unwrap_err().contains("does not exist"));
        check(&[("--out", Some(o.as_path())), ("--summary", None), ("--html", Some(Path::new("-")))]).unwrap();
        check(&[("--out", Some(d.join("in/notes.html").as_path()))]).expect("a file in an input folder that is not read");
        let null = Path::new("/dev/null");
        check(&[("--out", Some(null)), ("--summary", Some(null))]).expect("a device may take several outputs");
        assert_eq!(names(d), vec!["in", "labels.toml", "link.txt"], "nothing was written");
    }

    fn row(paragraph: usize, labels: &[&str]) -> LabelRow {
        let span = serde_json::json!({"kind": "span", "text": "chips", "start": 4, "end": 9, "similarity": 0.7280237674713135f64});
        LabelRow {
            article: "a".to_owned(),
            paragraph,
            text: "New chips".to_owned(),
            labels: labels.iter().map(|l| l.to_string()).collect(),
            scores: [("x".to_owned(), 0.071428575f32), ("y".to_owned(), 1.0)].into_iter().collect(),
            evidence: labels.iter().map(|l| (l.to_string(), vec![span.clone()])).collect(),
            notes: vec![],
            meta: [("url".to_owned(), serde_json::json!("u"))].into_iter().filter(|_| paragraph == 1).collect(),
        }
    }

    #[test]
    fn rows_keep_every_key_and_one_rounding_in_every_format() {
        let dir = tempfile::tempdir().unwrap();
        let ids = ["x".to_owned(), "y".to_owned()];
        let rows = [row(1, &["y"]), row(2, &[])];
        for format in [RowFormat::Jsonl, RowFormat::Csv] {
            let (out, summary) = (dir.path().join("rows"), dir.path().join("summary"));
            let mut writer = RowWriter::create(Some(&out), format, Some(&summary), &ids, &meta_keys(&rows)).unwrap();
            writer.write_article(&rows).unwrap();
            writer.finish().unwrap();
            let (out, summary) = (std::fs::read_to_string(out).unwrap(), std::fs::read_to_string(summary).unwrap());
            if format == RowFormat::Jsonl {
                let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
                for line in &lines {
                    let keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
                    assert_eq!(keys.len(), ROW_KEYS.len(), "{line}");
                    assert!(ROW_KEYS.iter().all(|k| keys.contains(k)), "{line}");
                }
                assert!(out.contains(r#""scores":{"x":0.0714,"y":1.0}"#), "{out}");
                assert!(out.contains(r#""similarity":0.728,"#) && out.contains(r#""evidence":{},"notes":[],"meta":{}"#), "{out}");
                assert!(summary.contains(r#""share":0.5}"#), "{summary}");
            } else {
                let mut lines = out.lines();
                assert_eq!(lines.next(), Some("article,paragraph,text,labels,score_x,score_y,evidence,notes,meta_url"));
                let first = lines.next().unwrap();
                assert!(first.starts_with("a,1,New chips,y,0.0714,1.0,") && first.ends_with(",,u"), "{first}");
                assert!(first.contains(r#""{""y"":[{""end"":9,""kind"":""span"",""similarity"":0.728,"#), "{first}");
                assert_eq!(lines.next(), Some("a,2,New chips,,0.0714,1.0,{},,"));
                let want = "article,paragraphs,themes,paragraphs_x,paragraphs_y,share_x,share_y\na,2,y,0,1,0.0,0.5\n";
                assert_eq!(summary, want);
            }
        }
        let mut stdin_rows = CsvRows::new(Sink::create(Some(&dir.path().join("s.csv"))).unwrap(), &ids, &[]).unwrap();
        let err = stdin_rows.write(&rows[0]).unwrap_err().to_string();
        assert!(err.contains("field `url` has no CSV column") && err.contains("--out FILE"), "{err}");
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
