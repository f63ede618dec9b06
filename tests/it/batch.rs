//! Long runs: a killed run resumed, shards merged, and a batch with bad files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use predicates::str::contains;

use crate::support::{shared, themes};

/// The seed articles cut into articles of three paragraphs: real news text,
/// many articles, small enough to label several times in a test.
fn seed_articles() -> Vec<(String, String)> {
    let mut articles = Vec::new();
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(shared().join("data/seeds")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        for (k, chunk) in lines.chunks(3).enumerate() {
            articles.push((format!("{stem}-{k}"), chunk.join("\n")));
        }
    }
    articles
}

fn write_jsonl(path: &Path, articles: &[(String, String)]) {
    let lines: Vec<String> =
        articles.iter().map(|(id, text)| serde_json::json!({"id": id, "text": text}).to_string()).collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn journal_ends(path: &Path) -> usize {
    std::fs::read_to_string(path).map(|t| t.lines().filter(|l| l.starts_with("{\"end\"")).count()).unwrap_or(0)
}

#[test]
fn a_killed_run_resumes_to_the_uninterrupted_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("articles.jsonl");
    let articles = seed_articles();
    assert!(articles.len() >= 20, "{}", articles.len());
    write_jsonl(&input, &articles);
    let out = dir.path().join("out.jsonl");
    let summary = dir.path().join("summary.jsonl");
    let journal = dir.path().join("out.jsonl.partial");

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("themes"))
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["label", "--quiet", "--no-cache", "--summary"])
        .arg(&summary)
        .arg("--out")
        .arg(&out)
        .arg(&input)
        .spawn()
        .unwrap();
    // Kill it, without warning, once a few articles are committed.
    let started = Instant::now();
    while journal_ends(&journal) < 3 {
        assert!(started.elapsed() < Duration::from_secs(300), "the run committed no article");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    let done = journal_ends(&journal);
    assert!(done < articles.len(), "killed midway: {done} of {}", articles.len());
    assert!(!out.exists() && !summary.exists(), "no output under its name before the run completes");

    themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["label", "--no-cache", "--resume", "--summary"])
        .arg(&summary)
        .arg("--out")
        .arg(&out)
        .arg(&input)
        .assert()
        .success()
        .stderr(contains(format!("resuming: {done} articles already done")))
        .stderr(contains(format!("labelled {} articles", articles.len())));
    assert!(!journal.exists(), "the journal is removed once the output is complete");

    let whole = dir.path().join("whole.jsonl");
    let whole_summary = dir.path().join("whole-summary.jsonl");
    themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["label", "--quiet", "--no-cache", "--summary"])
        .arg(&whole_summary)
        .arg("--out")
        .arg(&whole)
        .arg(&input)
        .assert()
        .success();
    let resumed = std::fs::read_to_string(&out).unwrap();
    assert_eq!(resumed.lines().count(), articles.iter().map(|(_, t)| t.lines().count()).sum::<usize>());
    assert!(resumed == std::fs::read_to_string(&whole).unwrap(), "resumed output differs from the uninterrupted run");
    assert_eq!(std::fs::read_to_string(&summary).unwrap(), std::fs::read_to_string(&whole_summary).unwrap());

    // A journal from other inputs is refused, not mixed in.
    std::fs::write(&journal, "{\"themes_journal\":1,\"fingerprint\":\"other\"}\n").unwrap();
    themes()
        .args(["label", "--quiet", "--resume", "--out"])
        .arg(&out)
        .arg(&input)
        .assert()
        .code(2)
        .stderr(contains("out.jsonl.partial: this journal belongs to a run with other inputs"));
}

#[test]
fn three_shards_merge_into_the_single_run() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // A folder of text files and a JSONL file, so shard bounds fall inside
    // the JSONL file and between files.
    let corpus = dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    let articles = seed_articles();
    let (texts, jsonl) = articles.split_at(4);
    for (id, text) in texts {
        std::fs::write(corpus.join(format!("{id}.txt")), text).unwrap();
    }
    write_jsonl(&corpus.join("more.jsonl"), jsonl);

    let single = dir.path().join("single.csv");
    themes()
        .env("THEMES_CACHE", &cache)
        .args(["label", "--quiet", "--format", "csv", "--out"])
        .arg(&single)
        .arg(&corpus)
        .assert()
        .success();
    let mut parts = Vec::new();
    for i in 1..=3 {
        let part = dir.path().join(format!("part{i}.jsonl"));
        themes()
            .env("THEMES_CACHE", &cache)
            .args(["label", "--shard", &format!("{i}/3"), "--out"])
            .arg(&part)
            .arg(&corpus)
            .assert()
            .success();
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(format!("part{i}.jsonl.shard.json"))).unwrap()).unwrap();
        let size = manifest["end"].as_u64().unwrap() - manifest["first"].as_u64().unwrap();
        assert!(size == (articles.len() / 3) as u64 || size == (articles.len() / 3 + 1) as u64, "balanced: {manifest}");
        parts.push(part);
    }
    let merged = dir.path().join("merged.csv");
    // Given out of order: merge puts them in shard order.
    themes()
        .args(["merge", "--format", "csv", "--out"])
        .arg(&merged)
        .args([&parts[2], &parts[0], &parts[1]])
        .assert()
        .success()
        .stderr(contains(format!("merged 3 shards: {} articles", articles.len())));
    assert!(
        std::fs::read_to_string(&merged).unwrap() == std::fs::read_to_string(&single).unwrap(),
        "merged shards differ from the single run"
    );

    let bad = dir.path().join("bad.jsonl");
    themes().args(["merge", "--out"]).arg(&bad).args([&parts[0], &parts[2]]).assert().code(2).stderr(contains("shard 2/3 missing"));
    themes()
        .args(["merge", "--out"])
        .arg(&bad)
        .args([&parts[0], &parts[1], &parts[1], &parts[2]])
        .assert()
        .code(2)
        .stderr(contains("given twice"));
    // A part that lost an article is caught, not merged short.
    let text = std::fs::read_to_string(&parts[1]).unwrap();
    let first_article = serde_json::from_str::<serde_json::Value>(text.lines().next().unwrap()).unwrap()["article"].clone();
    let cut: Vec<&str> = text
        .lines()
        .filter(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["article"] != first_article)
        .collect();
    std::fs::write(&parts[1], cut.join("\n") + "\n").unwrap();
    themes()
        .args(["merge", "--out"])
        .arg(&bad)
        .args(&parts)
        .assert()
        .code(2)
        .stderr(contains("part2.jsonl: holds"))
        .stderr(contains("incomplete or was edited"));
    assert!(!bad.exists());
}
