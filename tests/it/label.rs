//! `themes label` end to end: rows, formats, cache, errors, atomic output.

use std::path::Path;

use predicates::str::contains;
use serde_json::Value;

use crate::support::{root, shared, themes};

fn rows(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn labels_of(row: &Value) -> Vec<String> {
    row["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_owned()).collect()
}

#[test]
fn seeds_give_one_row_per_gold_paragraph_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pred.jsonl");
    let summary = dir.path().join("summary.jsonl");
    themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["label", "--quiet", "--out"])
        .arg(&out)
        .arg("--summary")
        .arg(&summary)
        .arg(shared().join("data/seeds"))
        .assert()
        .success();
    let got = rows(&out);
    let gold: Vec<Value> = std::fs::read_to_string(shared().join("data/gold/seeds.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), 76);
    for (g, p) in gold.iter().zip(&got) {
        assert_eq!((&g["article"], &g["paragraph"], &g["text"]), (&p["article"], &p["paragraph"], &p["text"]));
        assert_eq!(p["scores"].as_object().unwrap().len(), 13);
    }
    let summaries = rows(&summary);
    assert_eq!(summaries.len(), 5);
    assert_eq!(summaries.iter().map(|s| s["paragraphs"].as_u64().unwrap()).sum::<u64>(), 76);

    let csv_out = dir.path().join("pred.csv");
    themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["label", "--quiet", "--format", "csv", "--out"])
        .arg(&csv_out)
        .arg(shared().join("data/seeds"))
        .assert()
        .success();
    let mut reader = csv::Reader::from_path(&csv_out).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..4], ["article", "paragraph", "text", "labels"]);
    assert_eq!(header.len(), 4 + 13 + 2, "and the evidence and notes columns");
    assert!(header.contains(&"score_war_legacy".to_owned()));
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 76);
    // The CSV carries the same decisions as the JSONL.
    for (record, row) in records.iter().zip(&got) {
        assert_eq!(record[3].split(';').filter(|s| !s.is_empty()).map(str::to_owned).collect::<Vec<_>>(), labels_of(row));
    }
}

#[test]
fn editing_a_description_embeds_no_paragraph_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let run = |labels: &Path| {
        let out = themes()
            .env("THEMES_CACHE", &cache)
            .args(["label", "--labels"])
            .arg(labels)
            .arg(shared().join("data/seeds/001_5330cb4f1e39abfb.txt"))
            .assert()
            .success();
        String::from_utf8(out.get_output().stderr.clone()).unwrap()
    };
    let original = root().join("data/labels/vietnam-us.toml");
    let first = run(&original);
    assert!(first.contains("labelled 1 article, 10 paragraphs in ") && first.contains(" s → standard output ("), "{first}");
    assert!(!first.contains('\x1b'), "no colour codes when stderr is not a terminal: {first:?}");
    let edited = dir.path().join("edited.toml");
    let text = std::fs::read_to_string(&original).unwrap();
    let text = text.replacen("description = \"Health cooperation", "description = \"Public health cooperation", 1);
    std::fs::write(&edited, text).unwrap();
    let second = run(&edited);
    // Only the edited description is new, and the label set's texts are not
    // counted: nothing embedded, every paragraph from the cache.
    assert!(second.contains("(0 texts embedded"), "{second}");
}

#[test]
fn themes_by_paragraph_kind() {
    let dir = tempfile::tempdir().unwrap();
    let article = dir.path().join("kinds.txt");
    let long_tail = "The delegation toured the city and met local officials to discuss the schedule of the visit. ".repeat(30);
    std::fs::write(
        &article,
        format!(
            "Vietnam and US agree on new steps\nLike us on Facebook\nThe two sides agreed to boost cooperation in trade, education, health and climate change response.\n{long_tail}They also agreed to speed up the cleanup of dioxin left by Agent Orange at Bien Hoa airbase.\n"
        ),
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["label", "--quiet", "--out"])
        .arg(&out)
        .arg(&article)
        .assert()
        .success();
    let got = rows(&out);
    assert_eq!(got.len(), 4);
    assert!(labels_of(&got[1]).is_empty(), "boilerplate gets no theme: {:?}", got[1]);
    // List items are pooled from the paragraph's own pass, so a bare
    // one-word item keeps much of its paragraph's context: here "education"
    // stays below its threshold. Grouped CV measured that trade-off against
    // embedding such items alone, which scored lower overall (README,
    // "Accuracy"); three of the four items must still be found.
    let list = labels_of(&got[2]);
    let themes = ["trade_investment", "education_people", "health", "climate_energy"];
    let found = themes.iter().filter(|t| list.contains(&t.to_string())).count();
    assert!(found >= 3, "list paragraph finds {found} of {themes:?}: {list:?}");
    let long = labels_of(&got[3]);
    assert!(long.contains(&"war_legacy".to_owned()), "theme at the end of a long paragraph: {long:?}");
}

#[test]
fn bad_inputs_fail_cleanly_without_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.txt", Vec::new(), "empty.txt: no paragraphs"),
        ("binary.txt", b"PK\x03\x04\x00\x00binary".to_vec(), "binary.txt:1: binary data"),
        ("latin1.txt", b"ok\nna\xefve\n".to_vec(), "latin1.txt:2: invalid UTF-8"),
        ("bad.jsonl", b"{\"id\": \"a\", \"text\": \"fine\"}\n{\"id\": \"b\"\n".to_vec(), "bad.jsonl:2: not an article"),
    ];
    for (name, bytes, expected) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, bytes).unwrap();
        themes()
            .env("THEMES_CACHE", dir.path().join("cache"))
            .args(["label", "--out"])
            .arg(&out)
            .arg(&input)
            .assert()
            .code(2)
            .stderr(contains(expected));
        assert!(!out.exists(), "no output for {name}");
    }
    themes()
        .args(["label", "--model", "/nonexistent/model", "--out"])
        .arg(&out)
        .arg(shared().join("data/seeds"))
        .assert()
        .code(2)
        .stderr(contains("model folder does not exist"));
    assert!(!out.exists());
    let bad_labels = dir.path().join("labels.toml");
    std::fs::write(&bad_labels, "name = \"x\"\n[[label]]\nid = \"a\"\ndescription = \"d\"\nthreshold = 2\n").unwrap();
    themes()
        .args(["label", "--labels"])
        .arg(&bad_labels)
        .arg(shared().join("data/seeds"))
        .assert()
        .code(2)
        .stderr(contains("labels.toml:5:"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().contains(".tmp")).count(), 0);
}

#[test]
fn an_interrupted_run_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    // Enough text that the run is still embedding when it is killed.
    let big = dir.path().join("big.jsonl");
    let paragraph = std::fs::read_to_string(shared().join("data/seeds/000_a05073b010512909.txt")).unwrap();
    let lines: Vec<String> = (0..200)
        .map(|i| serde_json::json!({"id": format!("a{i}"), "text": format!("{paragraph}\nVariant {i}.")}).to_string())
        .collect();
    std::fs::write(&big, lines.join("\n")).unwrap();
    let out = dir.path().join("out.jsonl");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("themes"))
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["label", "--quiet", "--no-cache", "--out"])
        .arg(&out)
        .arg(&big)
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(4));
    // Ctrl-C: the run stops with 130 and removes its temporary file.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(!out.exists(), "an interrupted run must not leave {}", out.display());
    let names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "no temporary file left: {names:?}");
}
