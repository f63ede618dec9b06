//! `themes::eval::gold::parse_gold` (then `articles`) on arbitrary UTF-8 text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use themes::eval::gold::{articles, parse_gold};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.jsonl");
    match parse_gold(text, path) {
        Ok(rows) => {
            let built = articles(&rows, path);
            let total: usize = built.iter().map(|a| a.paragraphs.len()).sum();
            assert_eq!(total, rows.len(), "every row is one paragraph");
            for a in &built {
                assert!(!a.paragraphs.is_empty());
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.jsonl"), "error does not name the file: {message}");
        }
    }
});
