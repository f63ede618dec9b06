//! The one JSONL line reader: articles, gold, journals, shard parts and
//! prediction files are all read line by line with the same rules, so a
//! line that one reader counts is a line that every reader counts.
//!
//! Rules: lines end at `\n` (a `\r` before it is dropped); lines holding
//! only white space are skipped but still numbered; a line that is a JSON
//! array is refused, because serde reads a struct from an array as readily
//! as from an object.

use serde::de::DeserializeOwned;

use crate::error::{Error, Location, Result};

/// One non-blank line with its 1-based number in the file.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: usize,
    /// The line, without its line end.
    pub text: &'a str,
}

/// The non-blank lines of `text`, numbered from 1.
pub fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    text.split('\n')
        .enumerate()
        .map(|(index, line)| Line { number: index + 1, text: line.strip_suffix('\r').unwrap_or(line) })
        .filter(|line| !line.text.trim().is_empty())
}

/// How many lines [`lines`] yields for these bytes, without decoding them
/// (bytes that are not UTF-8 count as text: the reader reports them later).
pub fn count(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes).split('\n').filter(|l| !l.strip_suffix('\r').unwrap_or(l).trim().is_empty()).count()
}

/// Parses one line as `T`. Errors name the file and line: "not {what}: ...;
/// each line must be {shape}".
pub fn parse<T: DeserializeOwned>(location: Location, text: &str, what: &str, shape: &str) -> Result<T> {
    if text.trim_start().starts_with('[') {
        return Err(Error::invalid(location, format!("not {what}: a JSON array; each line must be {shape}")));
    }
    serde_json::from_str(text).map_err(|e| Error::invalid(location, format!("not {what}: {e}; each line must be {shape}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_skip_blanks_keep_numbers_and_drop_carriage_returns() {
        let text = "{\"a\":1}\r\n\n  \n{\"a\":2}\n";
        let got: Vec<(usize, &str)> = lines(text).map(|l| (l.number, l.text)).collect();
        assert_eq!(got, vec![(1, "{\"a\":1}"), (4, "{\"a\":2}")]);
        assert_eq!(count(text.as_bytes()), 2);
        assert_eq!(count(b"\xff\n\n{}"), 2, "undecodable bytes still count as a line");
    }

    #[test]
    fn arrays_and_bad_json_name_the_line() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Row {
            a: u32,
        }
        let at = || Location::line("f.jsonl", 3);
        let err = parse::<Row>(at(), "[1]", "a row", "{\"a\"}").unwrap_err().to_string();
        assert_eq!(err, "f.jsonl:3: not a row: a JSON array; each line must be {\"a\"}");
        let err = parse::<Row>(at(), "{\"b\":1}", "a row", "{\"a\"}").unwrap_err().to_string();
        assert!(err.starts_with("f.jsonl:3: not a row: missing field `a`"), "{err}");
        assert_eq!(parse::<Row>(at(), "{\"a\":7}", "a row", "{\"a\"}").unwrap().a, 7);
    }
}
