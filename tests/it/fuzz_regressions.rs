//! Fuzz findings kept as regression tests: every file under
//! `fuzz/regressions/<target>/` goes through the function its fuzz target
//! calls (see `fuzz/README.md`), plus hand-written adversarial inputs whose
//! outcome is asserted exactly. A file must give `Ok` or an error naming the
//! file, never a panic.

use std::path::{Path, PathBuf};

use themes::eval::gold::{articles, parse_gold};
use themes::input::{parse_articles, Format};
use themes::labels::LabelSet;

/// The regression inputs of one fuzz target, sorted by name (none if the
/// folder is missing).
fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions").join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

/// Asserts that an error names `path`, and returns its message.
fn names_path(err: themes::Error, path: &Path) -> String {
    let message = err.to_string();
    assert!(message.starts_with(&*path.to_string_lossy()), "error does not name {}: {message}", path.display());
    message
}

/// The articles target's rule: the first byte picks the format (even: Text,
/// odd: JSONL), the rest is the file.
fn run_articles(name: &str, data: &[u8]) -> Option<themes::Result<Vec<themes::input::Article>>> {
    let (&selector, bytes) = data.split_first()?;
    let (format, path) = if selector % 2 == 0 {
        (Format::Text, PathBuf::from(format!("{name}.txt")))
    } else {
        (Format::Jsonl, PathBuf::from(format!("{name}.jsonl")))
    };
    let result = parse_articles(&path, bytes, format);
    match &result {
        Ok(articles) => {
            assert!(!articles.is_empty(), "{name}: Ok with no articles");
            for a in articles {
                assert!(!a.paragraphs.is_empty(), "{name}: article {:?} has no paragraphs", a.id);
                for p in &a.paragraphs {
                    assert!(!p.trim().is_empty() && !p.contains('\n'), "{name}: bad paragraph {p:?}");
                }
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with(&*path.to_string_lossy()), "{name}: error does not name the file: {message}");
        }
    }
    Some(result)
}

#[test]
fn articles_regressions_do_not_panic() {
    for (file, data) in regressions("articles") {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        run_articles(&name, &data);
    }
    // The checks themselves, on a file the articles corpus starts from.
    let article = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/articles/000_a05073b010512909.txt")).unwrap();
    let parsed = run_articles("000", &[[0u8].as_slice(), &article].concat()).unwrap().unwrap();
    assert!(parsed[0].paragraphs.len() > 1);
    assert!(run_articles("000", &[[1u8].as_slice(), &article].concat()).unwrap().is_err(), "prose is not JSONL");
}

#[test]
fn articles_adversarial_inputs() {
    let txt = Path::new("adv.txt");
    let jsonl = Path::new("adv.jsonl");
    let err = |path: &Path, bytes: &[u8], format| names_path(parse_articles(path, bytes, format).unwrap_err(), path);

    // Nothing but a BOM, or nothing but line endings: no paragraphs.
    assert!(err(txt, b"\xEF\xBB\xBF", Format::Text).contains("no paragraphs"));
    assert!(err(txt, b"\r\n\r\n", Format::Text).contains("no paragraphs"));
    assert!(err(txt, b"", Format::Text).contains("no paragraphs"));
    assert!(err(jsonl, b"\xEF\xBB\xBF\r\n \n", Format::Jsonl).contains("no articles"));
    // Binary data and invalid UTF-8 name the line.
    assert!(err(txt, b"ok\n\xff\xfe", Format::Text).starts_with("adv.txt:2: invalid UTF-8"));
    assert!(err(txt, b"a\0b", Format::Text).starts_with("adv.txt:1: binary data"));
    assert!(err(jsonl, b"{\"id\":\"a\",\"text\":\"x\"}\n\0", Format::Jsonl).starts_with("adv.jsonl:2: binary data"));
    // JSONL: missing text, blank id, empty text, duplicate ids, trailing junk.
    assert!(err(jsonl, br#"{"id":"a"}"#, Format::Jsonl).starts_with("adv.jsonl:1: not an article"));
    assert!(err(jsonl, br#"{"id":" ","text":"x"}"#, Format::Jsonl).starts_with("adv.jsonl:1: `id` must be"));
    assert!(err(jsonl, br#"{"id":null,"text":"x"}"#, Format::Jsonl).starts_with("adv.jsonl:1: `id` must be"));
    assert!(err(jsonl, br#"{"id":"a","text":" \r\n\n"}"#, Format::Jsonl).contains("has no paragraphs"));
    let dup = b"{\"id\":1,\"text\":\"x\"}\n\n{\"id\":1,\"text\":\"y\"}";
    assert!(err(jsonl, dup, Format::Jsonl).starts_with("adv.jsonl:3:"));
    assert!(err(jsonl, br#"{"id":"a","text":"x"} {}"#, Format::Jsonl).starts_with("adv.jsonl:1: not an article"));
    // serde reads a struct from an array too; a line must be an object
    // (fuzz/regressions/articles/jsonl-array-instead-of-object).
    assert!(err(jsonl, br#" ["a","x"]"#, Format::Jsonl).starts_with("adv.jsonl:1: not an article: a JSON array"));
    assert!(err(jsonl, b"{\"id\":1,\"text\":\"x\"}\n[\"&\",\",\"\r]", Format::Jsonl)
        .starts_with("adv.jsonl:2: not an article"));

    // What parses keeps the text as given, without line endings or blank lines.
    let ok = parse_articles(txt, b"\xEF\xBB\xBFTitle\r\n\r\n  \n Body\r\nend\r", Format::Text).unwrap();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].id, "adv");
    assert_eq!(ok[0].paragraphs, vec!["Title", " Body", "end"]);
    // A lone `\r` ends a line too (old Mac files), so no paragraph keeps
    // one (fuzz/regressions/articles/text-cr-cr-end-of-file).
    let ok = parse_articles(txt, b"e\r\r", Format::Text).unwrap();
    assert_eq!(ok[0].paragraphs, vec!["e"]);
    let ok = parse_articles(txt, b"Title\rFirst\rSecond", Format::Text).unwrap();
    assert_eq!(ok[0].paragraphs, vec!["Title", "First", "Second"]);
    let ok = parse_articles(jsonl, b"{\"id\":7,\"text\":\"a\\r\\n\\r\\nb\"}\r\n", Format::Jsonl).unwrap();
    assert_eq!((ok[0].id.as_str(), ok[0].paragraphs.clone()), ("7", vec!["a".to_owned(), "b".to_owned()]));

    // Other fields are ignored unread, even a number serde_json cannot hold
    // (fuzz/regressions/articles/jsonl-unknown-field-number-out-of-range).
    let ok = parse_articles(jsonl, br#"{"id":"a","n":1e999,"text":"x"}"#, Format::Jsonl).unwrap();
    assert_eq!(ok[0].paragraphs, vec!["x"]);

    // The same rule the fuzz target uses: first byte even is Text, odd JSONL.
    let text = run_articles("rule", b"\x00{\"id\":\"a\"}").unwrap().unwrap();
    assert_eq!(text[0].paragraphs, vec!["{\"id\":\"a\"}"]);
    assert!(run_articles("rule", b"\x01{\"id\":\"a\"}").unwrap().is_err());
    assert!(run_articles("rule", b"").is_none());
}

/// The labels target's checks; whether the text parsed.
fn run_labels(path: &Path, data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    match LabelSet::parse(text, path) {
        Ok(set) => {
            let ids = set.ids();
            let mut unique = ids.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), ids.len(), "{}: duplicate label ids {ids:?}", path.display());
            assert_eq!(set.hash().len(), 64);
            let _ = set.weights_for(themes::model::registry::DEFAULT_MODEL);
            true
        }
        Err(e) => {
            names_path(e, path);
            false
        }
    }
}

#[test]
fn labels_regressions_do_not_panic() {
    for (file, data) in regressions("labels") {
        run_labels(&file, &data);
    }
    // The checks themselves, on the set the labels corpus starts from.
    let builtin = Path::new(themes::labels::BUILTIN_PATH);
    assert!(run_labels(builtin, themes::labels::BUILTIN_TEXT.as_bytes()));
    assert!(!run_labels(builtin, b"name = \"t\"\n[[label]]\n"));
}

#[test]
fn labels_adversarial_inputs() {
    let path = Path::new("adv.toml");
    let err = |text: &str| names_path(LabelSet::parse(text, path).unwrap_err(), path);

    assert!(err("").contains("name"));
    assert!(err("\u{feff}").starts_with("adv.toml"));
    assert!(err("name = \"t\"\n").contains("no labels"));
    assert!(err("name = \"t\"\n[[label]]\n").contains("id"));
    assert!(err("name = \"t\"\n[[label]]\ndescription = \"d\"\n").contains("id"));
    assert!(err("name = \"t\"\n[[label]]\nid = \"\"\ndescription = \"d\"\n").contains("lowercase letters"));
    assert!(err("name = \"t\"\n[[label]]\nid = \"Ab\"\ndescription = \"d\"\n").starts_with("adv.toml:3:"));
    assert!(err("name = \"t\"\n[[label]]\nid = \"a\"\ndescription = \"d\"\nthreshold = nan\n").contains("`threshold`"));
    assert!(err("name = \"t\"\n[[label]]\nid = \"a\"\ndescription = \"d\"\nbias = inf\n").contains("`bias`"));
    assert!(err("name = \"t\"\n[[label]]\nid = \"a\"\ndescription = \"d\"\naliases = [\"*\"]\n").contains("empty entry"));
    assert!(err("name = \"t\"\n[classifier]\nfeatures = []\nmean = []\nscale = []\nweights = []\nintercept = 0.0\n[[label]]\nid = \"a\"\ndescription = \"d\"\n")
        .contains("[classifier]"));
    assert!(err("name = \"t\"\nlabel = 3\n").starts_with("adv.toml"));
    assert!(err(&format!("name = {}1{}\n", "[".repeat(200), "]".repeat(200))).starts_with("adv.toml"));

    let set = LabelSet::parse("name = \"t\"\n[[label]]\nid = \"a_1\"\ndescription = \"d\"\naliases = [\"x*\"]\n", path).unwrap();
    assert_eq!(set.ids(), vec!["a_1"]);
    assert_eq!(set.hash().len(), 64);
    assert!(set.weights_for(themes::model::registry::DEFAULT_MODEL).unwrap().is_some(), "no [classifier] table: the built-in one is used");
}

/// The gold target's checks; whether the text parsed.
fn run_gold(path: &Path, data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    match parse_gold(text, path) {
        Ok(rows) => {
            let built = articles(&rows, path);
            assert_eq!(built.iter().map(|a| a.paragraphs.len()).sum::<usize>(), rows.len());
            true
        }
        Err(e) => {
            names_path(e, path);
            false
        }
    }
}

#[test]
fn gold_regressions_do_not_panic() {
    for (file, data) in regressions("gold") {
        run_gold(&file, &data);
    }
    // The checks themselves, on the file the gold corpus starts from.
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/gold/seeds.jsonl");
    assert!(run_gold(&seeds, &std::fs::read(&seeds).unwrap()));
    assert!(!run_gold(&seeds, b"[\"a\", 1, \"t\", []]"));
}

#[test]
fn gold_adversarial_inputs() {
    let path = Path::new("adv.jsonl");
    let err = |text: &str| names_path(parse_gold(text, path).unwrap_err(), path);
    let row = |paragraph: &str, labels: &str| {
        format!(r#"{{"article": "a", "paragraph": {paragraph}, "text": "t", "labels": [{labels}]}}"#)
    };

    assert!(err("").contains("no gold rows"));
    assert!(err("\r\n \n").contains("no gold rows"));
    assert!(err("\u{feff}").starts_with("adv.jsonl:1: not a gold row"));
    assert!(err(r#"{"article":"a"}"#).starts_with("adv.jsonl:1: not a gold row"));
    assert!(err(r#"["a", 1, "t", []]"#).starts_with("adv.jsonl:1: not a gold row: a JSON array"));
    assert!(err(&row("0", "")).starts_with("adv.jsonl:1: paragraph numbers start at 1"));
    assert!(err(&row("-1", "")).starts_with("adv.jsonl:1: not a gold row"));
    assert!(err(&row("18446744073709551616", "")).starts_with("adv.jsonl:1: not a gold row"));
    assert!(err(&row("1.5", "")).starts_with("adv.jsonl:1: not a gold row"));
    assert!(err(&row("1", "\"x\", \"x\"")).starts_with("adv.jsonl:1: a label is listed twice"));
    assert!(err(&format!("{}\n{}", row("1", ""), row("1", ""))).starts_with("adv.jsonl:2:"));
    assert!(err(&row("18446744073709551615", "")).contains("paragraph 1 is missing"));
    assert!(err(&format!("{}\n\n{}", row("1", ""), row("3", ""))).starts_with("adv.jsonl:3:"));

    let text = format!("{}\r\n{}\n", row("2", "\"x\""), row("1", ""));
    let rows = parse_gold(&text, path).unwrap();
    let built = articles(&rows, path);
    assert_eq!(built.len(), 1);
    assert_eq!(built[0].paragraphs, vec!["t", "t"]);
    assert_eq!(built[0].source.line, Some(2), "the article starts at its paragraph 1's line");
}

#[test]
fn journal_regressions_resume_or_refuse_naming_the_file() {
    use themes::journal::{ArticleRows, Journal};
    let seeds = regressions("journal");
    assert!(!seeds.is_empty(), "fuzz/regressions/journal holds the seeds");
    for (name, data) in seeds {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl.partial");
        std::fs::write(&path, &data).unwrap();
        match Journal::resume(&path, "fuzz") {
            Ok(mut journal) => {
                let done = std::mem::take(&mut journal.done);
                let mut rows = ArticleRows::new(std::slice::from_ref(&path));
                let mut read = Vec::new();
                while let Some(article) = rows.next_article().unwrap_or_else(|e| panic!("{}: {e}", name.display())) {
                    read.push(article[0].article.clone());
                }
                assert_eq!(read, done, "{}", name.display());
            }
            Err(e) => assert!(e.to_string().starts_with(&*path.to_string_lossy()), "{}: {e}", name.display()),
        }
    }
}
