//! `themes eval`: agreement with an independent scorer, the HTML report,
//! the regression gate, cross-validation and language flags.

use std::collections::BTreeMap;

use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;

use crate::support::{root, shared, themes};

fn seeds_gold() -> std::path::PathBuf {
    root().join("data/gold/seeds.jsonl")
}

#[test]
fn per_label_f1_agrees_with_an_independent_scorer() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = themes::labels::LabelSet::builtin().unwrap().ids();
    // Predictions made from the gold by deterministic edits: every third row
    // loses its first label, every fifth gains `health`, every seventh gains
    // a label never in the gold set of that row.
    let gold = std::fs::read_to_string(seeds_gold()).unwrap();
    let mut lines = Vec::new();
    for (i, line) in gold.lines().enumerate() {
        let mut row: Value = serde_json::from_str(line).unwrap();
        let labels = row["labels"].as_array_mut().unwrap();
        if i % 3 == 0 && !labels.is_empty() {
            labels.remove(0);
        }
        if i % 5 == 0 && !labels.iter().any(|l| l == "health") {
            labels.push(Value::from("health"));
        }
        if i % 7 == 0 && !labels.iter().any(|l| l == "human_rights") {
            labels.push(Value::from("human_rights"));
        }
        row["scores"] = Value::Object(Default::default());
        lines.push(row.to_string());
    }
    let predictions = dir.path().join("pred.jsonl");
    std::fs::write(&predictions, lines.join("\n")).unwrap();
    let report = dir.path().join("report.json");
    themes()
        .args(["eval", "--quiet", "--gold"])
        .arg(seeds_gold())
        .arg("--predictions")
        .arg(&predictions)
        .arg("--report")
        .arg(&report)
        .assert()
        .success();
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let ours = &report["sets"][0]["scores"]["labels"];
    let out = std::process::Command::new("python3")
        .arg(root().join("tests/independent_scorer.py"))
        .arg(seeds_gold())
        .arg(&predictions)
        .args(&ids)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: BTreeMap<String, f64> = serde_json::from_slice(&out.stdout).unwrap();
    for id in &ids {
        let a = ours[id]["f1"].as_f64().unwrap();
        assert!((a - theirs[id]).abs() < 1e-9, "{id}: {a} vs {}", theirs[id]);
    }
}

#[test]
fn html_report_is_self_contained_and_carries_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (html, json) = (dir.path().join("r.html"), dir.path().join("r.json"));
    themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["eval", "--quiet", "--resamples", "200", "--gold"])
        .arg(seeds_gold())
        .arg("--articles")
        .arg(root().join("data/articles"))
        .arg("--html")
        .arg(&html)
        .arg("--report")
        .arg(&json)
        .assert()
        .success();
    let page = std::fs::read_to_string(&html).unwrap();
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.trim_end().ends_with("</html>"));
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"), "no network, no script");
    for tag in ["table", "svg", "tr", "h2", "polyline"] {
        let open = page.matches(&format!("<{tag}")).count();
        let close = page.matches(&format!("</{tag}>")).count() + if tag == "polyline" { page.matches("/>").count() } else { 0 };
        assert!(open > 0 && (tag == "polyline" || open == close), "<{tag}> balanced: {open} vs {close}");
    }
    let macro_f1 = report["sets"][0]["scores"]["macro_f1"].as_f64().unwrap();
    assert!(page.contains(&format!("{macro_f1:.3}")), "the page shows macro F1 {macro_f1:.3}");
    assert_eq!(report["predictions"].as_array().unwrap().len(), 76);
    assert!(report["identity"]["label_set_hash"].as_str().unwrap().len() == 64);
}

#[test]
fn the_gate_fails_a_worse_label_file() {
    let dir = tempfile::tempdir().unwrap();
    let worse = dir.path().join("worse.toml");
    let text = std::fs::read_to_string(root().join("data/labels/vietnam-us.toml")).unwrap();
    let worse_text: Vec<&str> = text.lines().map(|l| if l.starts_with("threshold = ") { "threshold = 0.97" } else { l }).collect();
    assert!(worse_text != text.lines().collect::<Vec<_>>(), "the label file sets thresholds to raise");
    std::fs::write(&worse, worse_text.join("\n")).unwrap();
    let gate = |labels: Option<&std::path::Path>| {
        let mut cmd = themes();
        cmd.env("THEMES_CACHE", dir.path().join("cache")).args(["eval", "--quiet", "--resamples", "300", "--gold"]).arg(seeds_gold());
        if let Some(l) = labels {
            cmd.arg("--labels").arg(l);
        }
        cmd.arg("--against").arg(root().join("evals/baseline.json"));
        cmd.assert()
    };
    gate(None).success();
    gate(Some(&worse)).code(1).stderr(contains("gate: pooled").or(contains("gate: seeds")));
}

#[test]
fn cross_validation_reports_anchors_and_kinds() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("cv.json");
    themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["eval", "--quiet", "--resamples", "200", "--cv", "5", "--gold"])
        .arg(seeds_gold())
        .arg("--report")
        .arg(&report)
        .assert()
        .success()
        .stdout(contains("anchors, same folds and vectors"));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["identity"]["mode"], "cv-5");
    let anchors: Vec<&str> = report["anchors"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(anchors, ["cosine", "logistic-regression", "zero-shot", "no-centroids", "trained-head"]);
    let kinds: Vec<&str> = report["kinds"].as_array().unwrap().iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"headline") && kinds.contains(&"list-heavy"), "{kinds:?}");
}

#[test]
fn vietnamese_paragraphs_are_noted() {
    let dir = tempfile::tempdir().unwrap();
    let article = dir.path().join("vi.txt");
    std::fs::write(
        &article,
        "Vietnam and the United States discussed cooperation in education and health.\nViệt Nam và Hoa Kỳ nhất trí thúc đẩy hợp tác giáo dục, y tế và khắc phục hậu quả chiến tranh.\n",
    )
    .unwrap();
    let out = themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["label"])
        .arg(&article)
        .assert()
        .success()
        .stderr(contains("warning: 1 paragraph of 1 other article is in a language the model does not read (flagged language:"));
    let rows: Vec<Value> = String::from_utf8(out.get_output().stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows[0]["notes"], serde_json::json!([]), "English is covered");
    assert_eq!(rows[1]["notes"][0], "language:vi");
    let _ = shared();
}

#[test]
fn calibrate_prints_cross_validated_beside_in_sample_and_writes_a_label_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("calibrated.toml");
    let run = themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["calibrate", "--gold"])
        .arg(seeds_gold())
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("F1 fitted (cv)"));
    let printed = String::from_utf8(run.get_output().stdout.clone()).unwrap();
    let macro_line = printed.lines().find(|l| l.starts_with("macro")).unwrap();
    let figures: Vec<f64> = macro_line.split_whitespace().skip(1).map(|x| x.parse().unwrap()).collect();
    assert_eq!(figures.len(), 3, "{macro_line}");
    assert!(figures[1] >= figures[2], "in-sample is never below cross-validated here: {macro_line}");
    let set = themes::labels::LabelSet::load(&out).unwrap();
    assert_eq!(set.labels.len(), 13);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("# The default label set"), "comments are kept");
}

#[test]
fn train_writes_weights_and_refuses_bad_gold() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("trained.toml");
    themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["train", "--quiet", "--gold"])
        .arg(seeds_gold())
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let trained = themes::labels::LabelSet::load(&out).unwrap();
    assert!(trained.classifier.is_some() && trained.labels.iter().any(|l| l.bias != 0.0));
    // Gold centroids for every label the seeds hold: each the mean direction
    // of the paragraph vectors labelled with it, to 8-bit precision.
    let combiner = trained.classifier.as_ref().unwrap();
    let ids = trained.ids();
    let centroids = combiner.label_centroids(&ids, 384).unwrap();
    let rows = themes::eval::gold::read_gold(&seeds_gold()).unwrap();
    let texts: Vec<String> = rows.iter().map(|r| themes::input::normalize(&r.text)).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = crate::support::embedder().embed(&refs, themes::embed::LongText::Windows).unwrap();
    for (j, id) in ids.iter().enumerate() {
        let mut mean = vec![0f32; 384];
        for (_, e) in rows.iter().zip(&vectors).filter(|(r, _)| r.labels.contains(id)) {
            mean.iter_mut().zip(&e.vector).for_each(|(m, x)| *m += x);
        }
        let stored = centroids[j].positive.as_ref().unwrap_or_else(|| panic!("{id} has gold but no centroid"));
        let c = themes::embed::cosine(stored, &mean);
        assert!(c > 0.999, "{id}: stored centroid at cosine {c} to the mean of its gold paragraphs");
        assert!(centroids[j].negative.is_some());
    }
    assert!(std::fs::read_to_string(&out).unwrap().contains("[classifier.centroids.war_legacy]"));
    themes().env("THEMES_CACHE", dir.path().join("cache")).args(["label", "--quiet", "--labels"]).arg(&out).arg(root().join("data/articles")).assert().success();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let unknown = dir.path().join("unknown.jsonl");
    std::fs::write(&unknown, "{\"article\": \"a\", \"paragraph\": 1, \"text\": \"t\", \"labels\": [\"mekong\"]}\n").unwrap();
    for (gold, message) in [(&empty, "empty.jsonl: no gold rows"), (&unknown, "unknown.jsonl:1: unknown label id \"mekong\"")] {
        themes().args(["train", "--gold"]).arg(gold).arg("--out").arg(dir.path().join("x.toml")).assert().code(2).stderr(contains(message));
    }
    assert!(!dir.path().join("x.toml").exists());
}

#[test]
fn bf16_and_int8_lose_no_macro_f1_on_the_seeds_gold() {
    use themes::model::cpu::{choose, Features, Kernels, Precision};
    let cpu = Features::detect();
    let mut dtypes = vec!["f32"];
    for (name, precision) in [("bf16", Precision::Bf16), ("int8", Precision::Int8)] {
        match choose(&cpu, Kernels::Auto, precision) {
            Ok(_) => dtypes.push(name),
            Err(why) => eprintln!("{name} eval test skipped: {why}"),
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut macro_f1 = Vec::new();
    for &dtype in &dtypes {
        let report = dir.path().join(format!("{dtype}.json"));
        themes()
            .env("THEMES_CACHE", dir.path().join("cache"))
            .args(["eval", "--quiet", "--resamples", "100", "--device", "cpu", "--dtype", dtype, "--gold"])
            .arg(seeds_gold())
            .arg("--report")
            .arg(&report)
            .assert()
            .success();
        let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(report["identity"]["mode"], "shipped");
        macro_f1.push(report["sets"][0]["scores"]["macro_f1"].as_f64().unwrap());
    }
    for (dtype, f1) in dtypes.iter().zip(&macro_f1).skip(1) {
        assert!(*f1 >= macro_f1[0] - 1e-9, "{dtype} macro-F1 {f1} below f32's {}", macro_f1[0]);
    }
}
