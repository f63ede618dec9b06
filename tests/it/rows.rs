//! The output rows as data tools load them: every row valid against
//! `docs/row.schema.json` (summaries against `docs/summary.schema.json`),
//! one key set for all rows, evidence offsets that slice the text, one
//! rounding, and the CSV carrying what the JSONL does.

use std::collections::BTreeSet;
use std::path::Path;

use predicates::str::contains;
use serde_json::Value;

use crate::support::{root, themes};

/// Checks `value` against the part of JSON Schema the docs' schemas use
/// (type, required, properties, additionalProperties, items, enum, const,
/// oneOf, $ref, minimum, maximum, exclusiveMinimum, minLength); returns
/// what does not hold, with where.
fn violations(value: &Value, schema: &Value, root: &Value, at: &str) -> Vec<String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.strip_prefix("#/$defs/").expect("local references only");
        return violations(value, &root["$defs"][name], root, at);
    }
    let mut out = Vec::new();
    let fail = |out: &mut Vec<String>, why: String| out.push(format!("{at}: {why} ({value})"));
    if let Some(kind) = schema["type"].as_str() {
        let ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            other => panic!("type {other} not handled"),
        };
        if !ok {
            fail(&mut out, format!("not of type {kind}"));
            return out;
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(value) {
            fail(&mut out, format!("not one of {options:?}"));
        }
    }
    if !schema["const"].is_null() && &schema["const"] != value {
        fail(&mut out, format!("not {}", schema["const"]));
    }
    if let Some(x) = value.as_f64() {
        let min = schema["minimum"].as_f64().unwrap_or(f64::NEG_INFINITY);
        let max = schema["maximum"].as_f64().unwrap_or(f64::INFINITY);
        if x < min || x > max {
            fail(&mut out, format!("outside [{min}, {max}]"));
        }
        if schema["exclusiveMinimum"].as_f64().is_some_and(|min| x <= min) {
            fail(&mut out, format!("not above {}", schema["exclusiveMinimum"]));
        }
    }
    if let (Some(s), Some(min)) = (value.as_str(), schema["minLength"].as_u64()) {
        if (s.chars().count() as u64) < min {
            fail(&mut out, format!("shorter than {min}"));
        }
    }
    out.extend(object_violations(value, schema, root, at));
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            out.extend(violations(item, schema, root, &format!("{at}[{i}]")));
        }
    }
    if let Some(options) = schema["oneOf"].as_array() {
        let matching = options.iter().filter(|o| violations(value, o, root, at).is_empty()).count();
        if matching != 1 {
            fail(&mut out, format!("matches {matching} of oneOf, not exactly 1"));
        }
    }
    out
}

fn object_violations(value: &Value, schema: &Value, root: &Value, at: &str) -> Vec<String> {
    let Some(object) = value.as_object() else { return Vec::new() };
    let mut out = Vec::new();
    for key in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if !object.contains_key(key) {
            out.push(format!("{at}: key {key:?} missing"));
        }
    }
    let properties = schema["properties"].as_object();
    for (key, v) in object {
        let here = format!("{at}.{key}");
        match (properties.and_then(|p| p.get(key)), schema.get("additionalProperties")) {
            (Some(property), _) => out.extend(violations(v, property, root, &here)),
            (None, Some(Value::Bool(false))) => out.push(format!("{here}: key not in the schema")),
            (None, Some(extra)) if extra.is_object() => out.extend(violations(v, extra, root, &here)),
            (None, _) => {}
        }
    }
    out
}

fn schema(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("docs").join(name)).unwrap()).unwrap()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Every float under `value` (meta and text left out) as written: at most
/// four decimals.
fn unrounded(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap();
            if (x * 1e4).round() / 1e4 != x {
                out.push(x);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| unrounded(v, out)),
        Value::Object(map) => map.iter().filter(|(k, _)| *k != "meta").for_each(|(_, v)| unrounded(v, out)),
        _ => {}
    }
}

/// The inputs: three seed articles as a CSV with other column names and a
/// `url`, the other two as text files, and a text file written with
/// combining accents (not NFC) that names an alias after them.
fn inputs(dir: &Path) -> Vec<String> {
    let seeds: Vec<_> = {
        let mut files: Vec<_> = std::fs::read_dir(root().join("data/articles")).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        files
    };
    let mut csv = csv::Writer::from_path(dir.join("seeds.csv")).unwrap();
    csv.write_record(["doc", "url", "body"]).unwrap();
    let mut ids = Vec::new();
    for (i, path) in seeds.iter().enumerate() {
        let id = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        if i < 3 {
            csv.write_record([id.as_str(), &format!("https://example.org/{i}"), &text]).unwrap();
        } else {
            std::fs::write(dir.join(format!("{id}.txt")), text).unwrap();
        }
        ids.push(id);
    }
    csv.flush().unwrap();
    let decomposed = "Vie\u{0323}\u{0302}t Nam và Hoa Kỳ: semiconductor chips and ASEAN, the Bie\u{0302}\u{0309}n Đông";
    std::fs::write(dir.join("zz_nfd.txt"), format!("Chip talks\n{decomposed}\n")).unwrap();
    ids
}

/// Evidence points into the text (text[start:end] as Python slices it),
/// spans and aliases are both seen, an alias is found after combining
/// accents, and meta is the CSV input's other column or `{}`.
fn check_evidence_and_meta(rows: &[Value], ids: &[String]) {
    let mut kinds = BTreeSet::new();
    for row in rows {
        let text: Vec<char> = row["text"].as_str().unwrap().chars().collect();
        for item in row["evidence"].as_object().unwrap().values().flat_map(|v| v.as_array().unwrap()) {
            kinds.insert(item["kind"].as_str().unwrap().to_owned());
            let (Some(start), Some(end)) = (item["start"].as_u64(), item["end"].as_u64()) else { continue };
            let slice: String = text[start as usize..end as usize].iter().collect();
            assert_eq!(slice, item["text"].as_str().unwrap(), "{item} in {row}");
            if let Some(term) = item["term"].as_str() {
                // The slice is the text as given (decomposed accents too), the
                // term as the label file writes it: compared composed.
                let stem = themes::input::normalize(term.trim_end_matches('*')).to_lowercase();
                assert!(themes::input::normalize(&slice).to_lowercase().starts_with(&stem), "alias {term:?} matched {slice:?}");
            }
        }
    }
    assert!(kinds.contains("span") && kinds.contains("alias"), "{kinds:?}");
    let nfd = rows.iter().find(|r| r["article"] == "zz_nfd" && r["paragraph"] == 2).unwrap();
    let aliases: Vec<&Value> = nfd["evidence"].as_object().unwrap().values().flat_map(|v| v.as_array().unwrap()).collect();
    assert!(aliases.iter().any(|a| a["kind"] == "alias"), "an alias after combining accents: {nfd}");
    for row in rows {
        match ids.iter().position(|i| row["article"] == i.as_str()) {
            Some(i) if i < 3 => assert_eq!(row["meta"], serde_json::json!({"url": format!("https://example.org/{i}")})),
            _ => assert_eq!(row["meta"], serde_json::json!({}), "a text file has no meta"),
        }
    }
}

/// The CSV rows and summary carry what the JSONL ones do, flat.
fn check_csv(dir: &Path, rows: &[Value], summaries: &[Value]) {
    let mut reader = csv::Reader::from_path(dir.join("rows.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let label_ids: Vec<String> = rows[0]["scores"].as_object().unwrap().keys().cloned().collect();
    let n = label_ids.len();
    assert_eq!(&header[..4], ["article", "paragraph", "text", "labels"]);
    let scores: BTreeSet<&String> = header[4..4 + n].iter().collect();
    assert_eq!(scores, label_ids.iter().map(|id| format!("score_{id}")).collect::<Vec<_>>().iter().collect(), "in label-set order");
    assert_eq!(&header[4 + n..], ["evidence", "notes", "meta_url"]);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), rows.len());
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (record, row) in records.iter().zip(rows) {
        assert_eq!(&record[2], row["text"].as_str().unwrap());
        let evidence: Value = serde_json::from_str(&record[column("evidence")]).unwrap();
        assert_eq!(evidence, row["evidence"], "the evidence column is the row's evidence as JSON");
        let notes: Vec<&str> = row["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap()).collect();
        assert_eq!(&record[column("notes")], notes.join(";"));
        assert_eq!(&record[column("meta_url")], row["meta"]["url"].as_str().unwrap_or(""));
        let score: f64 = record[column("score_asean")].parse().unwrap();
        assert_eq!(score, row["scores"]["asean"].as_f64().unwrap());
    }
    let mut reader = csv::Reader::from_path(dir.join("summary.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&header[..3], ["article", "paragraphs", "themes"]);
    assert_eq!(header.len(), 3 + 2 * label_ids.len());
    for (record, summary) in reader.records().map(Result::unwrap).zip(summaries) {
        assert_eq!(&record[0], summary["article"].as_str().unwrap());
        let themes: Vec<&str> = summary["themes"].as_array().unwrap().iter().map(|t| t["label"].as_str().unwrap()).collect();
        assert_eq!(&record[2], themes.join(";"));
        for theme in summary["themes"].as_array().unwrap() {
            let at = header.iter().position(|h| *h == format!("share_{}", theme["label"].as_str().unwrap())).unwrap();
            assert_eq!(record[at].parse::<f64>().unwrap(), theme["share"].as_f64().unwrap());
        }
    }
}

#[test]
fn rows_match_their_schema_and_load_as_data_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    let ids = inputs(&input);
    let run = |format: &str, out: &str, summary: &str| {
        themes()
            .env("THEMES_CACHE", dir.path().join("cache"))
            .args(["label", "--quiet", "--id-field", "doc", "--text-field", "body", "--format", format, "--out"])
            .arg(dir.path().join(out))
            .arg("--summary")
            .arg(dir.path().join(summary))
            .arg(&input)
            .assert()
            .success();
    };
    run("jsonl", "rows.jsonl", "summary.jsonl");
    let rows = lines(&dir.path().join("rows.jsonl"));
    let summaries = lines(&dir.path().join("summary.jsonl"));
    let (row_schema, summary_schema) = (schema("row.schema.json"), schema("summary.schema.json"));
    let mut problems = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        problems.extend(violations(row, &row_schema, &row_schema, &format!("row {}", i + 1)));
    }
    for (i, s) in summaries.iter().enumerate() {
        problems.extend(violations(s, &summary_schema, &summary_schema, &format!("summary {}", i + 1)));
    }
    assert!(problems.is_empty(), "{problems:#?}");
    let mut broken = rows[0].clone();
    broken.as_object_mut().unwrap().remove("notes");
    broken["scores"]["asean"] = serde_json::json!(2.0);
    assert_eq!(violations(&broken, &row_schema, &row_schema, "broken").len(), 2, "the check can fail");
    let key_sets: BTreeSet<Vec<&String>> = rows.iter().map(|r| r.as_object().unwrap().keys().collect()).collect();
    assert_eq!(key_sets.len(), 1, "every row has the same keys: {key_sets:?}");
    assert_eq!(key_sets.first().unwrap().len(), themes::output::ROW_KEYS.len());
    let mut loose = Vec::new();
    rows.iter().chain(&summaries).for_each(|v| unrounded(v, &mut loose));
    assert!(loose.is_empty(), "numbers with more than 4 decimals: {loose:?}");
    assert_eq!(rows.iter().map(|r| r["article"].as_str().unwrap()).collect::<BTreeSet<_>>().len(), ids.len() + 1);

    check_evidence_and_meta(&rows, &ids);

    // The CSV carries the same rows, flat; the summary too.
    run("csv", "rows.csv", "summary.csv");
    check_csv(dir.path(), &rows, &summaries);
}

#[test]
fn inputs_not_read_or_without_their_columns_are_errors_naming_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let cases: [(&str, &str, &[&str], &str); 4] = [
        ("page.html", "<p>Vietnam</p>", &[], "page.html: not a file themes reads: it reads .txt and .md"),
        ("a.csv", "id,body\na,Vietnam\n", &[], "a.csv:1: no column `text`"),
        ("b.csv", "doc,body\na,Vietnam\n\"b\",\n", &["--id-field", "doc", "--text-field", "body"], "b.csv:3: article \"b\" has no paragraphs: column `body` is empty"),
        ("c.jsonl", "{\"id\": \"a\", \"body\": \"x\"}\n", &[], "c.jsonl:1: not an article: missing field `text`"),
    ];
    for (name, text, flags, expected) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, text).unwrap();
        themes().args(["label", "--out"]).arg(&out).args(flags).arg(&input).assert().code(2).stderr(contains(expected));
        assert!(!out.exists(), "no output for {name}");
    }
}
