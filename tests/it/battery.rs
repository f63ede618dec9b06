//! The input-error battery: every kind of bad or odd input gets its
//! documented outcome (README, "Inputs and errors"), never a panic.

use std::path::Path;

use predicates::prelude::*;
use predicates::str::contains;

use crate::support::{shared, themes};

fn seed_paragraphs() -> Vec<String> {
    let text = std::fs::read_to_string(shared().join("data/seeds/000_a05073b010512909.txt")).unwrap();
    text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

/// `themes label` on one input, with backtraces on: a panic would show.
fn label(dir: &Path, input: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    themes()
        .env("RUST_BACKTRACE", "1")
        .env("THEMES_CACHE", dir.join("cache"))
        .args(["label", "--quiet"])
        .args(extra)
        .arg("--out")
        .arg(dir.join("out.jsonl"))
        .arg(input)
        .assert()
}

fn no_panic() -> impl Predicate<str> {
    contains("panicked").not().and(contains("RUST_BACKTRACE").not())
}

#[test]
fn bad_files_stop_the_run_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let long_line = {
        let paragraph = seed_paragraphs().join(" ");
        let mut line = String::with_capacity(50 * 1024 * 1024 + paragraph.len());
        while line.len() < 50 * 1024 * 1024 {
            line.push_str(&paragraph);
            line.push(' ');
        }
        line
    };
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        ("empty.txt", Vec::new(), "empty.txt: no paragraphs: the file is empty".into()),
        ("blank.md", b" \n\t\r\n  \n".to_vec(), "blank.md: no paragraphs".into()),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec(), "photo.txt:3: binary data (a NUL byte)".into()),
        ("latin1.txt", b"First line.\nH\xe0 N\xf4i\n".to_vec(), "latin1.txt:2: invalid UTF-8 at byte 13".into()),
        ("one-line.txt", long_line.into_bytes(), "one-line.txt:1: a paragraph of".into()),
        (
            "no-text.jsonl",
            b"{\"id\": \"a\", \"text\": \"Hanoi and Washington.\"}\n{\"id\": \"b\", \"body\": \"x\"}\n".to_vec(),
            "no-text.jsonl:2: not an article: missing field `text`".into(),
        ),
        ("empty.jsonl", b"\n\n".to_vec(), "empty.jsonl: no articles".into()),
    ];
    for (name, bytes, expected) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, bytes).unwrap();
        label(dir.path(), &input, &[]).code(2).stderr(contains(expected.as_str())).stderr(no_panic());
        assert!(!out.exists(), "no output for {name}");
        assert!(!dir.path().join("out.jsonl.partial").exists(), "no journal left by a run that labelled nothing ({name})");
    }

    // A file that cannot be opened (a link to nothing: unreadable even for root).
    let folder = dir.path().join("folder");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("a.txt"), seed_paragraphs().join("\n")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone.txt"), folder.join("b.txt")).unwrap();
    label(dir.path(), &folder, &[]).code(2).stderr(contains("b.txt: No such file")).stderr(contains("--keep-going")).stderr(no_panic());
    assert!(!out.exists());
}

#[test]
fn keep_going_skips_bad_files_and_labels_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("batch");
    std::fs::create_dir(&folder).unwrap();
    let paragraphs = seed_paragraphs();
    std::fs::write(folder.join("1-good.txt"), paragraphs[..4].join("\n")).unwrap();
    std::fs::write(folder.join("2-empty.txt"), "").unwrap();
    std::fs::write(folder.join("3-binary.md"), b"\x00\x01\x02").unwrap();
    std::fs::write(folder.join("4-bad.jsonl"), "{\"id\": \"x\", \"text\": \"fine\"}\nnot json\n").unwrap();
    std::os::unix::fs::symlink(dir.path().join("nothing.txt"), folder.join("5-dangling.txt")).unwrap();
    std::fs::write(folder.join("6-good.md"), paragraphs[4..7].join("\n")).unwrap();
    themes()
        .env("RUST_BACKTRACE", "1")
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["label", "--keep-going", "--out"])
        .arg(dir.path().join("out.jsonl"))
        .arg(&folder)
        .assert()
        .code(1)
        .stderr(contains("skipped: ").and(contains("2-empty.txt: no paragraphs")))
        .stderr(contains("3-binary.md:1: binary data"))
        .stderr(contains("4-bad.jsonl:2: not an article"))
        .stderr(contains("5-dangling.txt: No such file"))
        .stderr(contains("labelled 2 articles, 7 paragraphs"))
        .stderr(contains("4 files skipped"))
        .stderr(no_panic());
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("out.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let keys: Vec<(String, u64)> =
        rows.iter().map(|r| (r["article"].as_str().unwrap().to_owned(), r["paragraph"].as_u64().unwrap())).collect();
    let expected: Vec<(String, u64)> = (1..=4)
        .map(|p| ("1-good".to_owned(), p))
        .chain((1..=3).map(|p| ("6-good".to_owned(), p)))
        .collect();
    assert_eq!(keys, expected);
}

#[test]
fn odd_but_valid_inputs_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let paragraphs = seed_paragraphs();
    let rows_of = |path: &Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };

    // CRLF line ends and a BOM: the same paragraphs as plain LF, no stray
    // \r or BOM in the text.
    let lf = dir.path().join("lf");
    let crlf = dir.path().join("crlf");
    std::fs::create_dir(&lf).unwrap();
    std::fs::create_dir(&crlf).unwrap();
    std::fs::write(lf.join("article.txt"), paragraphs[..5].join("\n\n")).unwrap();
    std::fs::write(crlf.join("article.txt"), format!("\u{feff}{}\r\n", paragraphs[..5].join("\r\n\r\n"))).unwrap();
    label(dir.path(), &lf, &[]).success().stderr(no_panic());
    let plain = rows_of(&dir.path().join("out.jsonl"));
    label(dir.path(), &crlf, &[]).success().stderr(no_panic());
    let windows = rows_of(&dir.path().join("out.jsonl"));
    assert_eq!(plain.len(), 5);
    assert_eq!(plain, windows, "CRLF and a BOM change nothing");
    assert_eq!(windows[0]["text"].as_str().unwrap(), paragraphs[0]);

    // A JSONL article of 10,000 paragraphs: every one gets its row, in order.
    let big = dir.path().join("big.jsonl");
    let text: Vec<&str> = (0..10_000).map(|i| paragraphs[i % paragraphs.len()].as_str()).collect();
    std::fs::write(&big, serde_json::json!({"id": "long", "text": text.join("\n")}).to_string() + "\n").unwrap();
    label(dir.path(), &big, &[]).success().stderr(no_panic());
    let rows = rows_of(&dir.path().join("out.jsonl"));
    assert_eq!(rows.len(), 10_000);
    assert!(rows.iter().enumerate().all(|(i, r)| r["paragraph"] == i + 1 && r["text"] == text[i]));

    // A folder with a symbolic-link loop: each file read once, the loop reported.
    let looped = dir.path().join("looped");
    std::fs::create_dir_all(looped.join("sub")).unwrap();
    std::fs::write(looped.join("sub/article.txt"), paragraphs[..3].join("\n")).unwrap();
    std::os::unix::fs::symlink(&looped, looped.join("sub/back")).unwrap();
    themes()
        .env("RUST_BACKTRACE", "1")
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["label", "--out"])
        .arg(dir.path().join("out.jsonl"))
        .arg(&looped)
        .assert()
        .success()
        .stderr(contains("folder already read (symbolic link loop?)"))
        .stderr(no_panic());
    assert_eq!(rows_of(&dir.path().join("out.jsonl")).len(), 3);
}
