//! The journal of an interrupted run (`OUT.partial`) on arbitrary bytes:
//! `Journal::resume` must keep exactly its complete articles or refuse the
//! file naming it, and the rows it keeps must read back as whole articles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use themes::journal::{ArticleRows, Journal};

const FINGERPRINT: &str = "fuzz";

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("out.jsonl.partial");
    std::fs::write(&path, data).expect("write the journal");
    match Journal::resume(&path, FINGERPRINT) {
        Ok(mut journal) => {
            let done = std::mem::take(&mut journal.done);
            let kept = std::fs::read(&path).expect("the journal is still there");
            if !data.starts_with(&kept) {
                // No complete line at all: nothing was done, and resume
                // started a new journal, which holds its header only.
                assert!(done.is_empty(), "a new journal reports no articles done");
                assert!(kept.starts_with(b"{\"themes_journal\"") && kept.ends_with(b"\n"), "a new journal is its header");
                assert_eq!(kept.iter().filter(|&&b| b == b'\n').count(), 1);
            }
            // What was kept reads back as the articles resume counted.
            let mut rows = ArticleRows::new(std::slice::from_ref(&path));
            let mut read = Vec::new();
            while let Some(article) = rows.next_article().expect("kept rows read back") {
                assert!(!article.is_empty());
                for (i, row) in article.iter().enumerate() {
                    assert_eq!(row.paragraph, i + 1, "paragraphs run 1..n");
                }
                read.push(article[0].article.clone());
            }
            assert_eq!(read, done, "the kept articles are the ones resume reported");
            drop(journal);
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with(&*path.to_string_lossy()), "error does not name the file: {message}");
        }
    }
});
