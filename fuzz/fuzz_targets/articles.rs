//! `themes::input::parse_articles` on arbitrary bytes. The first byte picks
//! the format (even: Text, which is how .txt and .md are both read; odd:
//! JSONL); the rest is the file. On success the module's promises must hold.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use themes::input::{decode, parse_articles, split_paragraphs, Format};

/// A JSONL line as the parser reads it (other fields are ignored, as there).
#[derive(serde::Deserialize)]
struct Line {
    text: String,
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let format = if selector % 2 == 0 { Format::Text } else { Format::Jsonl };
    let path = Path::new(if format == Format::Text { "fuzz.txt" } else { "fuzz.jsonl" });
    match parse_articles(path, bytes, format) {
        Ok(articles) => {
            assert!(!articles.is_empty(), "Ok with no articles");
            for article in &articles {
                assert!(!article.paragraphs.is_empty(), "article {:?} has no paragraphs", article.id);
                assert!(!article.id.trim().is_empty(), "empty article id");
                assert_eq!(article.source.path, path);
                for p in &article.paragraphs {
                    assert!(!p.trim().is_empty(), "empty paragraph {p:?}");
                    assert!(!p.contains('\n') && !p.contains('\r'), "paragraph holds a line break: {p:?}");
                }
            }
            match format {
                Format::Text => {
                    assert_eq!(articles.len(), 1);
                    let text = decode(path, bytes).expect("parsed, so it decodes");
                    assert_eq!(articles[0].paragraphs, split_paragraphs(text));
                    assert!(!text.contains('\0'));
                }
                // Not picked by the selector: CSV has its own tests.
                Format::Csv => {}
                Format::Jsonl => {
                    let mut ids: Vec<&str> = articles.iter().map(|a| a.id.as_str()).collect();
                    ids.sort_unstable();
                    ids.dedup();
                    assert_eq!(ids.len(), articles.len(), "duplicate article ids");
                    // Each article is its line's `text`, split like a text file.
                    let text = decode(path, bytes).expect("parsed, so it decodes");
                    let lines: Vec<&str> = text.split('\n').collect();
                    for a in &articles {
                        let line = a.source.line.expect("JSONL article without a line");
                        let raw: Line = serde_json::from_str(lines[line - 1]).expect("parsed line");
                        assert_eq!(a.paragraphs, split_paragraphs(&raw.text));
                    }
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with(&*path.to_string_lossy()), "error does not name the file: {message}");
        }
    }
});
