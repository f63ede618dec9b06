//! Trained heads: the few-shot guarantee on the seeds gold, the CLI loop
//! (train, label --head, eval --head), bad input, and the worked example of
//! docs/extending-labels.md reproduced.

use std::collections::BTreeMap;
use std::path::Path;

use predicates::str::contains;
use themes::cache::CachedEmbedder;
use themes::embed::LongText;
use themes::eval::experiment::classifier_cv;
use themes::eval::gold::{articles, read_gold};
use themes::classify::head::margins;
use themes::engine::{label_article, PreparedLabels};
use themes::eval::matrix::LabelMatrix;
use themes::eval::score::{bootstrap, score};
use themes::labels::LabelSet;
use themes::learn::grouped_folds;
use themes::learn::head::{head_cv, HeadOptions};

use crate::support::{embedder, root, shared, themes};

#[test]
fn few_examples_never_fall_below_zero_shot_by_more_than_its_interval() {
    let path = root().join("data/gold/seeds.jsonl");
    let rows = read_gold(&path).unwrap();
    let set = LabelSet::builtin().unwrap();
    let ids = set.ids();
    let mut cached = CachedEmbedder::new(embedder(), None, LongText::Windows);
    let prepared = PreparedLabels::new(&set, &mut cached).unwrap();
    let mut by_key = BTreeMap::new();
    for article in articles(&rows, &path) {
        for p in label_article(&article, &prepared, &mut cached).unwrap() {
            by_key.insert((article.id.clone(), p.paragraph), p);
        }
    }
    let predictions: Vec<_> = rows.iter().map(|r| by_key.remove(&(r.article.clone(), r.paragraph)).unwrap()).collect();
    let gold: Vec<Vec<bool>> = rows.iter().map(|r| ids.iter().map(|id| r.labels.contains(id)).collect()).collect();
    let gold_sets: Vec<_> = rows.iter().map(|r| r.labels.iter().cloned().collect()).collect();
    let keys: Vec<String> = rows.iter().map(|r| r.article.clone()).collect();
    let folds = grouped_folds(&keys, 5, 13);
    let features: Vec<_> = predictions.iter().map(|p| p.features.clone()).collect();
    let zero_shot = classifier_cv(&features, &gold, &folds, None, None);
    let thresholds: Vec<f32> = set.thresholds();
    let decide = |scores: &[Vec<f32>], t: &[f32]| LabelMatrix::decided(scores, t, &ids);
    let gold_sets = LabelMatrix::from_sets(&gold_sets, &ids);
    let groups = BTreeMap::new();
    let zs_decided = decide(&zero_shot, &thresholds);
    let zs = score(&gold_sets, &zs_decided, &groups);
    let intervals = bootstrap(&gold_sets, &zs_decided, &keys, &groups, 1000, 13);
    let margins: Vec<Vec<f32>> = zero_shot.iter().map(|r| margins(r, &thresholds)).collect();
    let vectors: Vec<&[f32]> = predictions.iter().map(|p| p.vector.as_slice()).collect();
    let half = vec![0.5; ids.len()];
    let mut checked = 0;
    for n in [2, 4, 8, 16] {
        for draw in 0..3u64 {
            let scores = head_cv(&vectors, &margins, &gold, &folds, Some(n), 1000 + draw, HeadOptions::default());
            let head = score(&gold_sets, &decide(&scores, &half), &groups);
            for id in &ids {
                if zs.labels[id].support == 0 {
                    continue;
                }
                let ci = intervals.labels[id].expect("a label with support has an interval");
                let (low, f1) = (ci.low, head.labels[id].f1);
                assert!(
                    f1 >= low - 1e-9,
                    "{id} with {n} examples (draw {draw}): F1 {f1:.3} below zero-shot's {:.3} interval [{low:.3}, {:.3}]",
                    zs.labels[id].f1,
                    ci.high
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 4 * 3 * 13, "every label of the seeds gold has examples");
    // With every training row, the head's macro-F1 is within the zero-shot
    // classifier's interval or above it.
    let full = head_cv(&vectors, &margins, &gold, &folds, None, 13, HeadOptions::default());
    let full = score(&gold_sets, &decide(&full, &half), &groups);
    let low = intervals.macro_f1.low;
    assert!(full.macro_f1 >= low - 1e-9, "head {:.3} below zero-shot's {:.3} interval starting at {low:.3}", full.macro_f1, zs.macro_f1);
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn train_a_head_label_with_it_and_refuse_what_does_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let gold = root().join("data/gold/seeds.jsonl");
    let head = dir.path().join("heads/seeds");
    themes()
        .env("THEMES_CACHE", &cache)
        .args(["train", "--gold"])
        .arg(&gold)
        .arg("--out")
        .arg(&head)
        .assert()
        .success()
        .stderr(contains("trained a head on 76 paragraphs"));
    let info: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(head.join("head.json")).unwrap()).unwrap();
    assert_eq!(info["model"], "all-MiniLM-L6-v2");
    assert_eq!(info["labels"].as_array().unwrap().len(), 13);
    assert_eq!(info["examples"]["war_legacy"], 7);
    assert!(std::fs::metadata(head.join("head.safetensors")).unwrap().len() > 13 * 384 * 4);

    let out = dir.path().join("rows.jsonl");
    themes()
        .env("THEMES_CACHE", &cache)
        .args(["label", "--quiet", "--head"])
        .arg(&head)
        .arg("--out")
        .arg(&out)
        .arg(root().join("data/articles"))
        .assert()
        .success();
    let rows = std::fs::read_to_string(&out).unwrap();
    assert_eq!(rows.lines().count(), 76);
    let first: serde_json::Value = serde_json::from_str(rows.lines().next().unwrap()).unwrap();
    assert!(first["labels"].as_array().unwrap().iter().any(|l| l == "diplomatic_ties"), "{first}");
    themes()
        .env("THEMES_CACHE", &cache)
        .args(["eval", "--head"])
        .arg(&head)
        .arg("--gold")
        .arg(&gold)
        .assert()
        .success()
        .stdout(contains("· head "));

    // A head for another label set.
    themes()
        .env("THEMES_CACHE", &cache)
        .args(["label", "--labels"])
        .arg(root().join("docs/examples/mekong/labels.toml"))
        .arg("--head")
        .arg(&head)
        .arg(root().join("data/articles"))
        .assert()
        .code(2)
        .stderr(contains("head.json: this head was trained with the built-in label set"))
        .stderr(contains("run without --labels (and THEMES_LABELS unset) to use it, or retrain it"));
    // A head for another model.
    let json = std::fs::read_to_string(head.join("head.json")).unwrap();
    write(&head.join("head.json"), &json.replace("\"all-MiniLM-L6-v2\"", "\"paraphrase-multilingual-MiniLM-L12-v2\""));
    themes()
        .env("THEMES_CACHE", &cache)
        .args(["label", "--head"])
        .arg(&head)
        .arg(root().join("data/articles"))
        .assert()
        .code(2)
        .stderr(contains("this head was trained on vectors of model paraphrase-multilingual-MiniLM-L12-v2"));
    // Gold with a label the set does not have; an empty gold file.
    let bad = dir.path().join("bad.jsonl");
    write(&bad, &std::fs::read_to_string(&gold).unwrap().replacen("\"war_legacy\"", "\"mekong\"", 1));
    themes()
        .env("THEMES_CACHE", &cache)
        .args(["train", "--gold"])
        .arg(&bad)
        .arg("--out")
        .arg(dir.path().join("heads/bad"))
        .assert()
        .code(2)
        .stderr(contains("bad.jsonl:"))
        .stderr(contains("unknown label id \"mekong\""));
    let empty = dir.path().join("empty.jsonl");
    write(&empty, "");
    themes()
        .args(["train", "--gold"])
        .arg(&empty)
        .arg("--out")
        .arg(dir.path().join("heads/empty"))
        .assert()
        .code(2)
        .stderr(contains("empty.jsonl: no gold rows: the file is empty"));
    assert!(!dir.path().join("heads/bad").exists() && !dir.path().join("heads/empty").exists());

    // labels check: the missing label in gold and a label without examples.
    themes()
        .env("THEMES_CACHE", &cache)
        .args(["labels", "check", "--gold"])
        .arg(&bad)
        .assert()
        .code(1)
        .stdout(contains("label \"mekong\" (1 rows) is not in the label set"));
}

#[test]
fn the_worked_example_reproduces_the_documented_tables() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new("bash")
        .arg(root().join("docs/examples/mekong/run.sh"))
        .arg(dir.path())
        .env("THEMES", assert_cmd::cargo::cargo_bin("themes"))
        .env("THEMES_SHARED", shared())
        .env("THEMES_CACHE", dir.path().join("cache"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let doc = std::fs::read_to_string(root().join("docs/extending-labels.md")).unwrap();
    assert!(stdout.contains("| trained head (zero-shot prior) |"), "{stdout}");
    // A gold paragraph naming the Mekong that nobody judged would be a silent
    // negative: every one has a decision in the review.
    let review = std::fs::read_to_string(root().join("docs/examples/mekong/review.jsonl")).unwrap();
    let mentions = mekong_mentions(&[root().join("data/gold/seeds.jsonl"), shared().join("data/gold/dev.jsonl")]);
    assert_eq!(mentions.len(), 8, "{mentions:?}");
    for (article, paragraph) in mentions {
        let key = format!("\"article\": \"{article}\", \"paragraph\": {paragraph},");
        assert!(review.contains(&key), "{article} paragraph {paragraph} names the Mekong but has no decision in review.jsonl");
    }
    for line in stdout.lines().filter(|l| l.starts_with('|')) {
        assert!(doc.contains(line), "docs/extending-labels.md does not quote {line:?}: run the script and update it");
    }
}

/// The (article, paragraph) of every gold row that names the Mekong, its
/// partnership (MUSP) or its initiative (LMI).
fn mekong_mentions(paths: &[std::path::PathBuf]) -> Vec<(String, usize)> {
    let names = |text: &str| {
        let words: Vec<&str> = text.split(|c: char| !c.is_alphanumeric()).collect();
        text.to_lowercase().contains("mekong") || words.iter().any(|w| *w == "MUSP" || *w == "LMI")
    };
    paths.iter().flat_map(|p| read_gold(p).unwrap()).filter(|r| names(&r.text)).map(|r| (r.article, r.paragraph)).collect()
}

#[test]
fn reviewed_suggestions_fold_into_gold_and_pasted_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = root().join("data/gold/seeds.jsonl");
    let rows = read_gold(&seeds).unwrap();
    let row = &rows[1];
    // The old way: the suggestion pasted beside the gold as its own article.
    let pasted = dir.path().join("pasted.jsonl");
    let mut labels = row.labels.clone();
    labels.push("health".into());
    let line = serde_json::json!({"article": format!("{}#{}", row.article, row.paragraph), "paragraph": 1, "text": row.text, "labels": labels});
    std::fs::write(&pasted, format!("{line}\n")).unwrap();
    for command in ["eval", "train"] {
        let out = dir.path().join(format!("{command}.out"));
        themes()
            .env("THEMES_CACHE", dir.path().join("cache"))
            .args([command, "--gold"])
            .arg(&seeds)
            .arg("--gold")
            .arg(&pasted)
            .arg(if command == "eval" { "--report" } else { "--out" })
            .arg(&out)
            .assert()
            .code(2)
            .stderr(contains("pasted.jsonl:1: this paragraph is already in the gold at"))
            .stderr(contains(format!("seeds.jsonl:2 (article {:?} paragraph 2) with other labels", row.article)))
            .stderr(contains("themes gold merge"));
        assert!(!out.exists());
    }
    // The same file twice is refused too.
    themes().args(["eval", "--gold"]).arg(&seeds).arg("--gold").arg(&seeds).assert().code(2).stderr(contains("with the same labels"));

    // The new way: a review keyed by the real paragraph, folded in.
    let review = dir.path().join("review.jsonl");
    let todo = serde_json::json!({"article": row.article, "paragraph": row.paragraph, "label": "health", "status": "", "labels": [], "text": row.text});
    std::fs::write(&review, format!("{todo}\n")).unwrap();
    let merged = dir.path().join("merged.jsonl");
    let merge = || {
        let mut command = themes();
        command.args(["gold", "merge", "--gold"]).arg(&seeds).arg("--review").arg(&review).arg("--out").arg(&merged);
        command
    };
    merge().assert().code(2).stderr(contains("review.jsonl:1: not reviewed"));
    assert!(!merged.exists(), "no output from a refused merge");
    std::fs::write(&review, format!("{}\n", todo.to_string().replace(r#""status":"""#, r#""status":"accept""#))).unwrap();
    merge().assert().success().stderr(contains("1 accepted, 0 rejected, 0 relabelled, 0 skipped; 1 paragraph changed"));
    let after = read_gold(&merged).unwrap();
    assert_eq!(after.len(), rows.len());
    for (a, b) in after.iter().zip(&rows) {
        assert_eq!((&a.article, a.paragraph, &a.text), (&b.article, b.paragraph, &b.text));
        assert_eq!(a.labels, if std::ptr::eq(b, row) { labels.clone() } else { b.labels.clone() });
    }
}

#[test]
fn the_few_shot_curve_is_printed_reported_and_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    let report = dir.path().join("report.json");
    themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["eval", "--quiet", "--resamples", "100", "--cv", "5", "--examples-per-label", "2,8", "--gold"])
        .arg(root().join("data/gold/seeds.jsonl"))
        .arg("--html")
        .arg(&html)
        .arg("--report")
        .arg(&report)
        .assert()
        .success()
        .stdout(contains("few-shot curve"))
        .stdout(contains("0 (no centroids)"));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let points: Vec<serde_json::Value> = report["few_shot"].as_array().unwrap().iter().map(|p| p["examples"].clone()).collect();
    assert_eq!(points, vec![serde_json::json!(0), serde_json::json!(2), serde_json::json!(8), serde_json::Value::Null]);
    assert!(report["few_shot"][1]["draws"].as_array().unwrap().len() == 3);
    let page = std::fs::read_to_string(&html).unwrap();
    let section = page.split("<h2>Few-shot curve</h2>").nth(1).expect("a few-shot section");
    let section = section.split("<h2>").next().unwrap();
    assert_eq!(section.matches("<polyline").count(), 3, "the curve is drawn, all labels and core, and the all-rows line");
    // --examples-per-label needs --cv.
    themes().args(["eval", "--examples-per-label", "2", "--gold"]).arg(root().join("data/gold/seeds.jsonl")).assert().code(2);
}
