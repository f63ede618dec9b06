//! CSV inputs: one article per row, under a header that names the id and
//! text columns (`id` and `text` unless `--id-field` / `--text-field` say
//! otherwise); every other column is kept as the article's meta. A quoted
//! cell may hold line breaks: its lines are the article's paragraphs.

use std::path::Path;

use super::{article, decode, Article, Entry, Fields, Meta};
use crate::error::{Error, Location, Result};

/// Reads a CSV file's rows, each as an article or the reason it is not one
/// (its line, and the column at fault). The outer error is for the whole
/// file: not UTF-8 text, no header, no id or text column, no rows.
pub fn parse_csv_each(path: &Path, bytes: &[u8], fields: &Fields) -> Result<Vec<Entry>> {
    let text = decode(path, bytes)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => return Err(Error::invalid(Location::line(path, 1), format!("not a CSV header: {e}"))),
    };
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(Error::invalid(Location::file(path), "no articles: the file is empty"));
    }
    let column = |name: &str, flag: &str| {
        let mut at = header.iter().enumerate().filter(|(_, h)| h.as_str() == name).map(|(i, _)| i);
        match (at.next(), at.next()) {
            (Some(i), None) => Ok(i),
            (Some(_), Some(_)) => Err(Error::invalid(
                Location::line(path, 1),
                format!("the header names column `{name}` twice; rename one of them"),
            )),
            (None, _) => Err(Error::invalid(
                Location::line(path, 1),
                format!("no column `{name}` (the header has {header:?}); name the column to read with {flag}"),
            )),
        }
    };
    let (id_at, text_at) = (column(&fields.id, "--id-field")?, column(&fields.text, "--text-field")?);
    let mut entries = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let location = Location::line(path, line_at(text, e.position()));
                let why = match e.kind() {
                    csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                        format!("a row of {len} cells under a header of {expected_len} columns; quote cells that hold a comma")
                    }
                    _ => format!("not a CSV row: {e}"),
                };
                entries.push((location.clone(), Err(Error::invalid(location, why))));
                continue;
            }
        };
        let location = Location::line(path, line_at(text, record.position()));
        entries.push((location.clone(), row_article(location, &record, &header, (id_at, text_at), fields)));
    }
    if entries.is_empty() {
        return Err(Error::invalid(Location::file(path), "no articles: the file holds a header and no rows"));
    }
    Ok(entries)
}

/// The line a row starts on, from its byte offset (the CSV reader's own
/// line count leaves out line breaks inside quoted cells), past the blank
/// lines the reader skips before it.
fn line_at(text: &str, position: Option<&csv::Position>) -> usize {
    let bytes = text.as_bytes();
    let mut byte = position.map_or(0, |p| p.byte() as usize).min(bytes.len());
    while byte < bytes.len() && matches!(bytes[byte], b'\n' | b'\r') {
        byte += 1;
    }
    1 + bytes[..byte].iter().filter(|&&b| b == b'\n').count()
}

/// One CSV row as an article: its id and text cells, the other cells as
/// meta (strings, as CSV has no types).
fn row_article(
    location: Location,
    record: &csv::StringRecord,
    header: &[String],
    (id_at, text_at): (usize, usize),
    fields: &Fields,
) -> Result<Article> {
    let id = record.get(id_at).unwrap_or_default();
    if id.trim().is_empty() {
        return Err(Error::invalid(location, format!("column `{}` is empty: every article needs an id", fields.id)));
    }
    let text = record.get(text_at).unwrap_or_default();
    if text.trim().is_empty() {
        return Err(Error::invalid(location, format!("article {id:?} has no paragraphs: column `{}` is empty", fields.text)));
    }
    let meta: Meta = header
        .iter()
        .zip(record.iter())
        .enumerate()
        .filter(|(i, _)| *i != id_at && *i != text_at)
        .map(|(_, (name, cell))| (name.clone(), serde_json::Value::from(cell)))
        .collect();
    article(location, id.to_owned(), text, meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &str, fields: &Fields) -> Result<Vec<Entry>> {
        parse_csv_each(Path::new("in.csv"), bytes.as_bytes(), fields)
    }

    #[test]
    fn rows_are_articles_and_other_columns_meta() {
        let csv = "id,url,text\na1,https://example.org/1,\"Title\n\nFirst paragraph, with a comma.\"\n\na2,,Second article.\n";
        let entries = read(csv, &Fields::default()).unwrap();
        let articles: Vec<Article> = entries.into_iter().map(|(_, a)| a.unwrap()).collect();
        assert_eq!(articles[0].paragraphs, vec!["Title", "First paragraph, with a comma."]);
        assert_eq!(articles[0].meta["url"], "https://example.org/1");
        assert_eq!(articles[0].source.to_string(), "in.csv:2");
        assert_eq!((articles[1].id.as_str(), articles[1].source.to_string()), ("a2", "in.csv:6".to_owned()));
        assert_eq!(articles[1].meta["url"], "");
        let fields = Fields { id: "url".to_owned(), text: "text".to_owned() };
        let err = read(csv, &fields).unwrap();
        assert!(err[1].1.as_ref().unwrap_err().to_string().starts_with("in.csv:6: column `url` is empty"));
    }

    #[test]
    fn errors_name_the_line_and_the_column() {
        let err = read("id,body\na,x\n", &Fields::default()).unwrap_err().to_string();
        assert!(err.starts_with("in.csv:1: no column `text`") && err.contains("--text-field"), "{err}");
        let entries = read("id,text\na,fine\nb,too,many\nc,\n", &Fields::default()).unwrap();
        assert_eq!(entries.len(), 3, "one entry per row, bad ones included");
        let why: Vec<String> = entries.iter().map(|(_, a)| a.as_ref().map(|a| a.id.clone()).unwrap_or_else(|e| e.to_string())).collect();
        assert_eq!(why[0], "a");
        assert!(why[1].starts_with("in.csv:3: a row of 3 cells under a header of 2 columns"), "{}", why[1]);
        assert!(why[2].starts_with("in.csv:4: article \"c\" has no paragraphs: column `text` is empty"), "{}", why[2]);
        assert!(read("", &Fields::default()).unwrap_err().to_string().contains("no articles"));
        assert!(read("id,text\n", &Fields::default()).unwrap_err().to_string().contains("a header and no rows"));
        let twice = read("text,id,text\nx,a,y\n", &Fields::default()).unwrap_err().to_string();
        assert!(twice.contains("column `text` twice"), "{twice}");
    }
}
