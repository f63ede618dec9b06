//! `themes bench --job`: the whole labelling job timed, reported as one
//! JSON line.

use std::path::PathBuf;

use crate::support::{shared, themes};

#[test]
fn bench_job_reports_one_line_for_the_whole_run() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared().join("data/seeds"))
        .expect("seeds folder")
        .map(|e| e.expect("seeds entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files.truncate(2);
    let paragraphs: usize = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("seed").lines().filter(|l| !l.trim().is_empty()).count())
        .sum();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let out = themes()
        .env("THEMES_CACHE", &cache)
        .args(["bench", "--quiet", "--device", "cpu", "--repeat", "1", "--job"])
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line: {stdout}");
    let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["mode"], "job");
    assert_eq!(line["system"], "themes");
    assert_eq!(line["articles"], files.len());
    assert_eq!(line["paragraphs"], paragraphs);
    assert!(line["texts_per_paragraph"].as_f64().unwrap() >= 1.0, "{line}");
    assert!(line["paragraphs_per_s"].as_f64().unwrap() > 0.0, "{line}");
    assert!(line["label_texts"].as_u64().unwrap() > 0, "{line}");
    assert!(!cache.exists(), "the job is timed with no cache");
}
