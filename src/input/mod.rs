//! Read and split: turns the user's inputs (files, folders, standard input)
//! into articles made of numbered paragraphs, following the labelling
//! guide's unit: every non-empty line is a paragraph, numbered from 1.
//!
//! Nothing here drops text: a file that cannot be read as articles is an
//! error naming the file (and line), never a silently shorter article.

pub mod table;

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::value::RawValue;
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Location, Result};

/// One article: an id and its paragraphs in order. Paragraph `n` (1-based)
/// is `paragraphs[n - 1]`, kept exactly as given (without the line ending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// The file stem for text files, the `id` field for JSONL.
    pub id: String,
    /// Where the article came from (file, and line for JSONL).
    pub source: Location,
    /// Paragraph texts as given.
    pub paragraphs: Vec<String>,
    /// The article's other fields (JSONL keys, CSV columns), kept for its
    /// rows; empty for text files.
    pub meta: Meta,
}

/// An article's fields besides its id and text, by name.
pub type Meta = BTreeMap<String, serde_json::Value>;

/// The names of the id and text fields of JSONL and CSV inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// The article id's field (default `id`).
    pub id: String,
    /// The article text's field (default `text`).
    pub text: String,
}

impl Default for Fields {
    fn default() -> Self {
        Fields { id: "id".to_owned(), text: "text".to_owned() }
    }
}

impl Fields {
    /// The shape of a JSONL article line with these fields.
    fn shape(&self) -> String {
        format!("{{{:?}: ..., {:?}: ...}}", self.id, self.text)
    }
}

/// One paragraph with its place in the article.
#[derive(Debug, Clone, Copy)]
pub struct ParagraphRef<'a> {
    /// The article id.
    pub article: &'a str,
    /// 1-based number within the article.
    pub number: usize,
    /// The text as given.
    pub text: &'a str,
}

impl Article {
    /// The paragraphs with their numbers.
    pub fn numbered(&self) -> impl Iterator<Item = ParagraphRef<'_>> {
        self.paragraphs.iter().enumerate().map(|(i, text)| ParagraphRef {
            article: &self.id,
            number: i + 1,
            text,
        })
    }
}

/// The form in which a text is given to the model: Unicode NFC, so that the
/// same paragraph typed with combining accents or precomposed letters gets
/// the same vector. Output always carries the text as given.
pub fn normalize(text: &str) -> String {
    text.nfc().collect()
}

/// Where character `offset` of `normalize(given)` falls in `given`: the
/// last character offset of `given` whose prefix normalizes to at most
/// `offset` characters, so a combining mark stays with its letter.
///
/// Linear in the text: no composition pairs anything with an ASCII
/// character before it or across it, so the text is normalized in pieces
/// that each start at one, and only the piece holding `offset` is searched.
pub fn given_offset(given: &str, offset: usize) -> usize {
    let (mut given_before, mut normalized_before) = (0, 0);
    let starts = given.char_indices().filter(|(i, c)| *i == 0 || c.is_ascii()).map(|(i, _)| i);
    let ends = starts.clone().skip(1).chain([given.len()]);
    for (start, end) in starts.zip(ends) {
        let piece = &given[start..end];
        let length = piece.nfc().count();
        if normalized_before + length > offset {
            let bounds: Vec<usize> = piece.char_indices().map(|(i, _)| i).chain([piece.len()]).collect();
            let fits = |c: &usize| normalized_before + piece[..bounds[*c]].nfc().count() <= offset;
            let within = (0..bounds.len()).collect::<Vec<_>>().partition_point(fits).saturating_sub(1);
            return given_before + within;
        }
        given_before += piece.chars().count();
        normalized_before += length;
    }
    given_before
}

/// Splits a text into paragraphs: every line holding more than white space
/// is one paragraph; `\n`, `\r\n` and a lone `\r` (old Mac files) end a
/// line.
pub fn split_paragraphs(text: &str) -> Vec<String> {
    lines(text).filter(|line| !line.trim().is_empty()).map(str::to_owned).collect()
}

/// The lines of a text, each without its line end (`\n`, `\r\n` or `\r`).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n').flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
}

/// The longest paragraph read, in bytes. News paragraphs are a few hundred
/// bytes; a line this long is a file that lost its line breaks, and
/// labelling it as one paragraph would take hours and mean nothing.
pub const MAX_PARAGRAPH_BYTES: usize = 256 * 1024;

fn too_long(location: Location, bytes: usize) -> Error {
    Error::invalid(
        location,
        format!(
            "a paragraph of {bytes} bytes (the limit is {MAX_PARAGRAPH_BYTES}): themes reads one paragraph per line; \
             has this file lost its line breaks?"
        ),
    )
}

/// What a file is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One article per file, one paragraph per non-empty line.
    Text,
    /// One article per line: `{"id": ..., "text": ...}`.
    Jsonl,
    /// One article per row, with a header naming the id and text columns.
    Csv,
}

/// An input to read: a file with its format, or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file, or `-` for standard input.
    pub path: PathBuf,
    /// How to read it.
    pub format: Format,
    /// The id and text fields of a JSONL or CSV source.
    pub fields: Fields,
}

impl Source {
    /// Whether this source is standard input.
    pub fn is_stdin(&self) -> bool {
        self.path.as_os_str() == "-"
    }
}

/// The format a file's extension says, if it is one `themes` reads.
pub fn format_of(path: &Path) -> Option<Format> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "txt" | "md" => Some(Format::Text),
        "jsonl" => Some(Format::Jsonl),
        "csv" => Some(Format::Csv),
        _ => None,
    }
}

/// What `themes` reads, for errors about files it does not.
pub const READS: &str = ".txt and .md (one paragraph per non-empty line), .jsonl (one article per line) \
     and .csv (one article per row, with a header)";

/// A file given by name whose extension is not one `themes` reads.
fn unknown_extension(path: &Path) -> Error {
    Error::invalid(
        Location::file(path),
        format!("not a file themes reads: it reads {READS}; rename the file or convert it to one of these"),
    )
}

/// Expands the inputs into the files to read: files as given (an
/// extension not read is an error), folders recursively in sorted order
/// (only `.txt`, `.md`, `.jsonl` and `.csv` files), `-` for standard input.
/// A folder reached twice through symbolic links is read once. JSONL and
/// CSV sources take their id and text from `fields`.
pub fn discover(inputs: &[PathBuf], fields: &Fields) -> Result<Vec<Source>> {
    let mut sources = Vec::new();
    let mut seen_dirs = HashSet::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            sources.push(Source { path: input.clone(), format: Format::Text, fields: fields.clone() });
            continue;
        }
        let meta = std::fs::metadata(input).map_err(|e| Error::io(input, e))?;
        if meta.is_dir() {
            walk(input, &mut seen_dirs, &mut sources, fields)?;
        } else {
            let format = format_of(input).ok_or_else(|| unknown_extension(input))?;
            sources.push(Source { path: input.clone(), format, fields: fields.clone() });
        }
    }
    Ok(sources)
}

fn walk(dir: &Path, seen: &mut HashSet<PathBuf>, out: &mut Vec<Source>, fields: &Fields) -> Result<()> {
    let canonical = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    if !seen.insert(canonical) {
        tracing::warn!("{}: folder already read (symbolic link loop?); skipped", dir.display());
        return Ok(());
    }
    let mut entries = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|entry| entry.map(|e| e.path()).map_err(|e| Error::io(dir, e)))
        .collect::<Result<Vec<_>>>()?;
    entries.sort();
    for path in entries {
        // Broken links and unreadable entries are reported by the read that follows.
        let is_dir = std::fs::metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir {
            walk(&path, seen, out, fields)?;
        } else if let Some(format) = format_of(&path) {
            out.push(Source { path, format, fields: fields.clone() });
        } else {
            tracing::debug!("{}: not .txt, .md, .jsonl or .csv; skipped", path.display());
        }
    }
    Ok(())
}

/// Reads one source into its articles.
pub fn read_source(source: &Source) -> Result<Vec<Article>> {
    let (bytes, format) = source_bytes(source)?;
    parse_with(&source.path, &bytes, format, &source.fields)
}

/// A source's bytes and the format to read them as: standard input that
/// starts with `{` (after a BOM) is JSONL.
fn source_bytes(source: &Source) -> Result<(Vec<u8>, Format)> {
    let bytes = if source.is_stdin() {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map_err(|e| Error::io("-", e))?;
        buf
    } else {
        std::fs::read(&source.path).map_err(|e| Error::io(&source.path, e))?
    };
    let head = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let format = if source.is_stdin() && head.trim_ascii_start().starts_with(b"{") { Format::Jsonl } else { source.format };
    Ok((bytes, format))
}

/// Parses a file's bytes as articles: the whole of what reading a file
/// does, without the file system (and the entry point the fuzz targets use).
pub fn parse_articles(path: &Path, bytes: &[u8], format: Format) -> Result<Vec<Article>> {
    parse_with(path, bytes, format, &Fields::default())
}

/// [`parse_articles`] with the id and text fields named.
pub fn parse_with(path: &Path, bytes: &[u8], format: Format, fields: &Fields) -> Result<Vec<Article>> {
    match format {
        Format::Text => {
            let text = decode(path, bytes)?;
            if let Some((index, line)) = lines(text).enumerate().find(|(_, l)| l.len() > MAX_PARAGRAPH_BYTES) {
                return Err(too_long(Location::line(path, index + 1), line.len()));
            }
            let paragraphs = split_paragraphs(text);
            if paragraphs.is_empty() {
                return Err(Error::invalid(
                    Location::file(path),
                    "no paragraphs: the file is empty or holds only white space",
                ));
            }
            Ok(vec![Article { id: article_id(path), source: Location::file(path), paragraphs, meta: Meta::new() }])
        }
        Format::Jsonl => parse_jsonl(path, decode(path, bytes)?, fields),
        Format::Csv => {
            let entries = table::parse_csv_each(path, bytes, fields)?;
            let articles = entries.into_iter().map(|(_, article)| article).collect::<Result<Vec<_>>>()?;
            check_unique_ids(&articles)?;
            Ok(articles)
        }
    }
}

/// Checks that the bytes are text: UTF-8 (a leading BOM is dropped) with no
/// NUL byte. Errors name the first bad line.
pub fn decode<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if looks_like_utf16(bytes) {
        return Err(Error::invalid(
            Location::file(path),
            "UTF-16 text: themes reads UTF-8; convert the file (e.g. `iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8`)",
        ));
    }
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        let line = 1 + bytes[..pos].iter().filter(|&&b| b == b'\n').count();
        return Err(Error::invalid(
            Location::line(path, line),
            "binary data (a NUL byte): themes reads UTF-8 text, JSONL or Markdown",
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let good = e.valid_up_to();
        let line = 1 + bytes[..good].iter().filter(|&&b| b == b'\n').count();
        Error::invalid(
            Location::line(path, line),
            format!("invalid UTF-8 at byte {good}; convert the file to UTF-8 (e.g. with iconv)"),
        )
    })
}

/// A UTF-16 byte-order mark, or (without one) mostly-ASCII text whose every
/// other byte is NUL.
fn looks_like_utf16(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return true;
    }
    let head = &bytes[..bytes.len().min(1024) & !1];
    if head.len() < 4 {
        return false;
    }
    let nul_at = |parity: usize| head.iter().skip(parity).step_by(2).filter(|&&b| b == 0).count();
    let half = head.len() / 2;
    (nul_at(0) * 10 >= half * 9 && nul_at(1) == 0) || (nul_at(1) * 10 >= half * 9 && nul_at(0) == 0)
}

fn article_id(path: &Path) -> String {
    if path.as_os_str() == "-" {
        return "stdin".to_owned();
    }
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "article".to_owned())
}

fn parse_jsonl(path: &Path, text: &str, fields: &Fields) -> Result<Vec<Article>> {
    let mut articles = Vec::new();
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for line in crate::jsonl::lines(text) {
        let article = jsonl_article_with(Location::line(path, line.number), line.text, fields)?;
        if let Some(first) = ids.insert(article.id.clone(), line.number) {
            return Err(Error::invalid(article.source, format!("article id {:?} already used on line {first}", article.id)));
        }
        articles.push(article);
    }
    if articles.is_empty() {
        return Err(Error::invalid(Location::file(path), "no articles: the file is empty"));
    }
    Ok(articles)
}

/// Reads every source and checks that article ids are unique across them
/// (outputs are keyed by article id).
pub fn read_all(inputs: &[PathBuf]) -> Result<Vec<Article>> {
    let sources = discover(inputs, &Fields::default())?;
    if sources.is_empty() {
        return Err(no_inputs());
    }
    let mut articles = Vec::new();
    for source in &sources {
        articles.extend(read_source(source)?);
    }
    check_unique_ids(&articles)?;
    Ok(articles)
}

/// The error for inputs that hold no file to read.
pub fn no_inputs() -> Error {
    Error::Usage(format!("no input files found: give files (themes reads {READS}), folders holding them, or - for standard input"))
}

/// Errors if two articles share an id.
pub fn check_unique_ids(articles: &[Article]) -> Result<()> {
    let mut ids = UniqueIds::default();
    articles.iter().try_for_each(|article| ids.insert(article))
}

/// The article ids seen so far in a run: outputs are keyed by article id, so
/// an id seen twice, in one file or across files, is an error naming both
/// places.
#[derive(Debug, Default)]
pub struct UniqueIds {
    first: std::collections::HashMap<String, Location>,
}

impl UniqueIds {
    /// Records `article`'s id, or errors if an earlier article had it.
    pub fn insert(&mut self, article: &Article) -> Result<()> {
        if let Some(prev) = self.first.get(&article.id) {
            return Err(Error::invalid(
                article.source.clone(),
                format!("article id {:?} is also the id of {prev}; rename one of them", article.id),
            ));
        }
        self.first.insert(article.id.clone(), article.source.clone());
        Ok(())
    }
}

/// One entry of [`read_each`]: where it is and the article, or why that
/// line is not one.
pub type Entry = (Location, Result<Article>);

/// Reads one source entry by entry, for runs that skip a bad JSONL line
/// instead of its whole file: one entry per article ordinal (a text file's
/// one article; every non-blank line of a JSONL file, as
/// [`crate::jsonl::count`] counts them, each parsed on its own). The outer
/// error is for the whole file (unreadable, empty, a bad text file).
pub fn read_each(source: &Source) -> Result<Vec<Entry>> {
    let (bytes, format) = source_bytes(source)?;
    if format == Format::Csv {
        return table::parse_csv_each(&source.path, &bytes, &source.fields);
    }
    if format != Format::Jsonl {
        let articles = parse_articles(&source.path, &bytes, Format::Text)?;
        return Ok(articles.into_iter().map(|a| (a.source.clone(), Ok(a))).collect());
    }
    let entries = parse_jsonl_each(&source.path, &bytes, &source.fields);
    if entries.is_empty() {
        return Err(Error::invalid(Location::file(&source.path), "no articles: the file is empty"));
    }
    Ok(entries)
}

/// Parses each non-blank line of a JSONL file's bytes as an article on its
/// own: a line that is not valid UTF-8, holds a NUL byte or is not
/// `{"id", "text"}` is an error for that line alone.
pub fn parse_jsonl_each(path: &Path, bytes: &[u8], fields: &Fields) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut offset = 0usize;
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let start = offset;
        offset += raw.len() + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if String::from_utf8_lossy(raw).trim().is_empty() {
            continue; // blank, as `jsonl::count` skips it
        }
        let location = Location::line(path, index + 1);
        let raw = if index == 0 { raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw) } else { raw };
        let article = if raw.contains(&0) {
            Err(Error::invalid(location.clone(), "binary data (a NUL byte): themes reads UTF-8 text, JSONL or Markdown"))
        } else {
            match std::str::from_utf8(raw) {
                Ok(text) => jsonl_article_with(location.clone(), text, fields),
                Err(e) => Err(Error::invalid(
                    location.clone(),
                    format!("invalid UTF-8 at byte {}; convert the file to UTF-8 (e.g. with iconv)", start + e.valid_up_to()),
                )),
            }
        };
        entries.push((location, article));
    }
    entries
}

/// One JSONL line as an article with the default fields.
pub fn jsonl_article(location: Location, line: &str) -> Result<Article> {
    jsonl_article_with(location, line, &Fields::default())
}

/// One JSONL line as an article (ids are checked for repeats by the
/// caller): its id and text from `fields`, every other key kept as meta (a
/// value JSON numbers cannot hold, such as `1e999`, as its text).
pub fn jsonl_article_with(location: Location, line: &str, fields: &Fields) -> Result<Article> {
    let shape = fields.shape();
    let mut raw: BTreeMap<String, Box<RawValue>> = crate::jsonl::parse(location.clone(), line, "an article", &shape)?;
    let (id, text) = match (raw.remove(&fields.id), raw.remove(&fields.text)) {
        (Some(id), Some(text)) => (id, text),
        (id, _) => {
            let (name, hint) = if id.is_none() { (&fields.id, "--id-field") } else { (&fields.text, "--text-field") };
            let found: Vec<&String> = raw.keys().chain(id.map(|_| &fields.id)).collect();
            let why = format!("not an article: missing field `{name}` (found {found:?}); each line must be {shape}, or name the field with {hint}");
            return Err(Error::invalid(location, why));
        }
    };
    let id = match serde_json::from_str(id.get()) {
        Ok(serde_json::Value::String(s)) if !s.trim().is_empty() => s,
        Ok(serde_json::Value::Number(n)) => n.to_string(),
        _ => {
            let what = format!("`{}` must be a non-empty string or a number, found {}", fields.id, id.get());
            return Err(Error::invalid(location, what));
        }
    };
    let Ok(text) = serde_json::from_str::<String>(text.get()) else {
        return Err(Error::invalid(location, format!("`{}` must be a string, found {}", fields.text, text.get())));
    };
    let meta = raw.into_iter().map(|(k, v)| (k, serde_json::from_str(v.get()).unwrap_or_else(|_| v.get().into()))).collect();
    article(location, id, &text, meta)
}

/// An article from its id and whole text, checked: it has paragraphs, none
/// too long.
fn article(location: Location, id: String, text: &str, meta: Meta) -> Result<Article> {
    let paragraphs = split_paragraphs(text);
    if let Some(long) = paragraphs.iter().find(|p| p.len() > MAX_PARAGRAPH_BYTES) {
        return Err(too_long(location, long.len()));
    }
    if paragraphs.is_empty() {
        return Err(Error::invalid(location, format!("article {id:?} has no paragraphs: its text is empty")));
    }
    Ok(Article { id, source: location, paragraphs, meta })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_non_empty_lines_and_keeps_text() {
        let text = "\u{feff}Title\r\n\r\n  \nFirst para.\n\n Second, indented.\nlast";
        let bytes = text.as_bytes();
        let decoded = decode(Path::new("x.txt"), bytes).unwrap();
        assert_eq!(split_paragraphs(decoded), vec!["Title", "First para.", " Second, indented.", "last"]);
    }

    #[test]
    fn binary_and_bad_utf8_name_the_line() {
        let err = decode(Path::new("b.bin"), b"ok\nstill ok\n\x00x").unwrap_err().to_string();
        assert!(err.starts_with("b.bin:3: binary"), "{err}");
        let err = decode(Path::new("u.txt"), b"ok\n\xff").unwrap_err().to_string();
        assert!(err.starts_with("u.txt:2: invalid UTF-8"), "{err}");
    }

    #[test]
    fn jsonl_errors_name_the_line() {
        let err = parse_jsonl(Path::new("a.jsonl"), "{\"id\": 1, \"text\": \"a\"}\n{\"id\": 2}\n", &Fields::default()).unwrap_err();
        assert!(err.to_string().starts_with("a.jsonl:2: not an article"), "{err}");
        let err = parse_jsonl(Path::new("a.jsonl"), "{\"id\": 1, \"text\": \"a\"}\n{\"id\": 1, \"text\": \"b\"}", &Fields::default()).unwrap_err();
        assert!(err.to_string().contains("already used on line 1"), "{err}");
        let ok = parse_jsonl(Path::new("a.jsonl"), "{\"id\": \"x\", \"text\": \"a\\n\\nb\"}\n", &Fields::default()).unwrap();
        assert_eq!(ok[0].paragraphs, vec!["a", "b"]);
    }

    #[test]
    fn utf16_is_named_and_lone_carriage_returns_end_lines() {
        let utf16: Vec<u8> = "\u{feff}Title\nA paragraph.".encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let err = decode(Path::new("w.txt"), &utf16).unwrap_err().to_string();
        assert!(err.starts_with("w.txt: UTF-16 text"), "{err}");
        let no_bom: Vec<u8> = "Title\nA paragraph.".encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert!(decode(Path::new("w.txt"), &no_bom).unwrap_err().to_string().contains("UTF-16"));
        assert!(decode(Path::new("b.bin"), b"ok\n\x00\x01\x02\x03").unwrap_err().to_string().contains("binary data"));
        assert_eq!(split_paragraphs("Title\rFirst.\r\rSecond.\r\nThird"), vec!["Title", "First.", "Second.", "Third"]);
    }

    #[test]
    fn each_jsonl_line_is_parsed_on_its_own() {
        let bytes = b"{\"id\": \"a\", \"text\": \"x\"}\r\n\n not json\n{\"id\": \"b\", \"text\": \"\xff\"}\n{\"id\": 3, \"text\": \"y\"}";
        let entries = parse_jsonl_each(Path::new("m.jsonl"), bytes, &Fields::default());
        assert_eq!(entries.len(), crate::jsonl::count(bytes), "one entry per counted line");
        let got: Vec<String> = entries.iter().map(|(l, a)| format!("{l} {}", a.as_ref().map(|a| a.id.clone()).unwrap_or_else(|e| e.to_string()))).collect();
        assert_eq!(got[0], "m.jsonl:1 a");
        assert!(got[1].starts_with("m.jsonl:3 m.jsonl:3: not an article"), "{}", got[1]);
        assert!(got[2].starts_with("m.jsonl:4 m.jsonl:4: invalid UTF-8 at byte"), "{}", got[2]);
        assert_eq!(got[3], "m.jsonl:5 3");
    }

    #[test]
    fn an_extension_not_read_is_an_error_and_jsonl_fields_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("page.html"), "<p>x</p>").unwrap();
        let err = discover(&[dir.path().join("page.html")], &Fields::default()).unwrap_err().to_string();
        assert!(err.contains("page.html: not a file themes reads") && err.contains(".csv (one article per row"), "{err}");
        assert!(discover(&[dir.path().to_path_buf()], &Fields::default()).unwrap().is_empty(), "skipped in a folder");
        let fields = Fields { id: "doc".to_owned(), text: "body".to_owned() };
        let line = r#"{"doc": "a", "body": "x", "url": "u", "n": 1e999, "tags": ["t"]}"#;
        let article = jsonl_article_with(Location::line("a.jsonl", 3), line, &fields).unwrap();
        assert_eq!(article.meta, serde_json::from_str::<Meta>(r#"{"url": "u", "n": "1e999", "tags": ["t"]}"#).unwrap());
        let err = jsonl_article(Location::line("a.jsonl", 3), line).unwrap_err().to_string();
        assert!(err.starts_with("a.jsonl:3: not an article: missing field `id`") && err.contains("--id-field"), "{err}");
    }

    #[test]
    fn nfc_normalizes_combining_marks() {
        assert_eq!(normalize("Vie\u{0323}\u{0302}t"), "Vi\u{1ec7}t");
    }

    #[test]
    fn offsets_of_the_normalized_text_fall_on_the_given_one() {
        let given = "Vie\u{0323}\u{0302}t Nam, Hoa Ky\u{0300}";
        let normalized = normalize(given);
        let slice = |t: &str, a: usize, b: usize| t.chars().skip(a).take(b - a).collect::<String>();
        for (start, end) in [(0, 4), (5, 8), (10, 13), (4, 13)] {
            let (a, b) = (given_offset(given, start), given_offset(given, end));
            assert_eq!(normalize(&slice(given, a, b)), slice(&normalized, start, end), "{start}..{end}");
        }
        assert_eq!((given_offset(given, 4), given_offset(given, 13)), (6, 15), "marks stay with their letters");
        assert_eq!(given_offset("plain", 3), 3);
        // The same as normalizing every prefix, on text mixing scripts and marks.
        let mixed = "A\u{0301}\u{0323} 한국\u{1100}\u{1161}x \u{0B47}\u{0B3E}, Đo\u{0302}\u{0300}ng".repeat(3);
        let prefixes: Vec<usize> = (0..=mixed.chars().count()).map(|c| normalize(&mixed.chars().take(c).collect::<String>()).chars().count()).collect();
        for offset in 0..=normalize(&mixed).chars().count() {
            let slow = prefixes.partition_point(|&n| n <= offset) - 1;
            assert_eq!(given_offset(&mixed, offset), slow, "offset {offset}");
        }
    }
}
