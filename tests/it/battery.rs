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
        .stderr(contains("labelled 3 articles, 8 paragraphs"))
        .stderr(contains("; 4 skipped"))
        .stderr(no_panic());
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("out.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let keys: Vec<(String, u64)> =
        rows.iter().map(|r| (r["article"].as_str().unwrap().to_owned(), r["paragraph"].as_u64().unwrap())).collect();
    // The bad JSONL line is skipped, not its file: article x is kept.
    let expected: Vec<(String, u64)> = (1..=4)
        .map(|p| ("1-good".to_owned(), p))
        .chain([("x".to_owned(), 1)])
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

/// A small article in `dir`, and a fresh cache for the runs on it.
fn small_article(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("a.txt");
    std::fs::write(&path, seed_paragraphs()[..3].join("\n")).unwrap();
    path
}

fn run_in(dir: &Path) -> assert_cmd::Command {
    let mut cmd = themes();
    cmd.env("RUST_BACKTRACE", "1").env("THEMES_CACHE", dir.join("cache"));
    cmd
}

#[test]
fn an_output_that_is_an_input_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let article = small_article(d);
    let labels = d.join("l.toml");
    std::fs::copy(crate::support::root().join("data/labels/vietnam-us.toml"), &labels).unwrap();
    let gold = d.join("g.jsonl");
    std::fs::copy(shared().join("data/gold/seeds.jsonl"), &gold).unwrap();
    for p in ["p1.jsonl", "p2.jsonl", "p3.jsonl"] {
        std::fs::write(d.join(p), "{}\n").unwrap();
    }
    std::fs::create_dir(d.join("folder")).unwrap();
    std::fs::write(d.join("folder/b.md"), "A paragraph.\n").unwrap();
    std::os::unix::fs::symlink(&article, d.join("link.txt")).unwrap();
    let s = |p: &str| d.join(p).to_string_lossy().into_owned();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["label".into(), s("a.txt"), "--out".into(), s("a.txt")], "a.txt"),
        (vec!["label".into(), s("a.txt"), "--out".into(), s("link.txt")], ".txt"),
        (vec!["label".into(), s("folder"), "--out".into(), s("folder/b.md")], "b.md"),
        (vec!["label".into(), s("a.txt"), "--labels".into(), s("l.toml"), "--out".into(), s("l.toml")], "l.toml"),
        (vec!["label".into(), s("a.txt"), "--out".into(), s("o.jsonl"), "--summary".into(), s("o.jsonl")], "o.jsonl"),
        (vec!["merge".into(), s("p1.jsonl"), s("p2.jsonl"), s("p3.jsonl"), "--out".into(), s("p1.jsonl")], "p1.jsonl"),
        (vec!["eval".into(), "--gold".into(), s("g.jsonl"), "--report".into(), s("g.jsonl")], "g.jsonl"),
        (vec!["eval".into(), "--gold".into(), s("g.jsonl"), "--html".into(), s("g.jsonl")], "g.jsonl"),
        (vec!["calibrate".into(), "--gold".into(), s("g.jsonl"), "--out".into(), s("g.jsonl")], "g.jsonl"),
        (vec!["train".into(), "--gold".into(), s("g.jsonl"), "--out".into(), s("g.jsonl")], "g.jsonl"),
        (vec!["embed".into(), s("a.txt"), "--out".into(), s("a.txt")], "a.txt"),
        (vec!["suggest".into(), "--label".into(), "asean".into(), s("a.txt"), "--out".into(), s("a.txt")], "a.txt"),
        (vec!["suggest".into(), "--label".into(), "asean".into(), s("a.txt"), "--gold".into(), s("g.jsonl"), "--out".into(), s("g.jsonl")], "g.jsonl"),
    ];
    let snapshot = || -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = walk(d).into_iter().filter(|p| !p.starts_with(d.join("cache"))).collect();
        files.sort();
        files.into_iter().map(|p| (p.display().to_string(), std::fs::read(&p).unwrap_or_default())).collect()
    };
    let before = snapshot();
    for (args, name) in &cases {
        let assert = run_in(d).args(args).assert().code(2).stderr(contains("is also").and(contains("refusing to overwrite"))).stderr(no_panic());
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.matches(name).count() >= 2, "both files are named: {args:?}\n{stderr}");
        assert_eq!(snapshot(), before, "nothing changed by {args:?}");
    }
}

/// Every file under `dir`, links not followed.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn outputs_are_opened_as_the_shell_does() {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let article = small_article(d);
    // A device: written into, still a device, nothing left beside it.
    let null = d.join("null");
    assert!(std::process::Command::new("mknod").args(["-m", "666"]).arg(&null).args(["c", "1", "3"]).status().unwrap().success());
    run_in(d).args(["label", "--quiet", "--out"]).arg(&null).arg(&article).assert().success();
    assert!(std::fs::symlink_metadata(&null).unwrap().file_type().is_char_device(), "the device is still a device");
    // A FIFO with a reader: the rows arrive through it.
    let fifo = d.join("pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    run_in(d).args(["label", "--quiet", "--out"]).arg(&fifo).arg(&article).assert().success();
    assert_eq!(reader.join().unwrap().lines().count(), 3, "three rows through the FIFO");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    // A link: its target is replaced, the link stays.
    std::fs::create_dir(d.join("real")).unwrap();
    std::fs::write(d.join("real/out.jsonl"), "old\n").unwrap();
    std::os::unix::fs::symlink("real/out.jsonl", d.join("link.jsonl")).unwrap();
    run_in(d).args(["label", "--quiet", "--out"]).arg(d.join("link.jsonl")).arg(&article).assert().success();
    assert!(std::fs::symlink_metadata(d.join("link.jsonl")).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(d.join("real/out.jsonl")).unwrap().lines().count(), 3);
    // Modes: a new file as the umask says; an existing one keeps its own.
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let bin = assert_cmd::cargo::cargo_bin("themes");
    let new = d.join("new.jsonl");
    let status = std::process::Command::new("sh")
        .args(["-c", "umask 027 && exec \"$0\" \"$@\""])
        .arg(&bin)
        .args(["label", "--quiet", "--out"])
        .arg(&new)
        .arg(&article)
        .env("THEMES_CACHE", d.join("cache"))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(mode(&new), 0o640, "0666 less the umask 027");
    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o644)).unwrap();
    run_in(d).args(["label", "--quiet", "--out"]).arg(&new).arg(&article).assert().success();
    assert_eq!(mode(&new), 0o644, "an existing file keeps its mode");
    let mut names: Vec<String> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["a.txt", "cache", "link.jsonl", "new.jsonl", "null", "pipe", "real"], "no temporary or journal left");
}

#[test]
fn errors_surface_before_the_first_paragraph_is_labelled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let folder = d.join("batch");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("1-good.txt"), seed_paragraphs()[..3].join("\n")).unwrap();
    std::fs::write(folder.join("2-good.jsonl"), "{\"id\": \"x\", \"text\": \"Hanoi and Washington.\"}\n").unwrap();
    std::fs::write(folder.join("3-again.jsonl"), "{\"id\": \"1-good\", \"text\": \"The same id.\"}\n").unwrap();
    // A repeated id in the last file: nothing on stdout, no journal, no output.
    run_in(d)
        .args(["label"])
        .arg(&folder)
        .assert()
        .code(2)
        .stdout(predicates::str::is_empty())
        .stderr(contains("3-again.jsonl:1: article id \"1-good\" is also the id of").and(contains("1-good.txt")));
    run_in(d).args(["label", "--out"]).arg(d.join("out.jsonl")).arg(&folder).assert().code(2);
    assert!(!d.join("out.jsonl").exists() && !d.join("out.jsonl.partial").exists(), "no output, no journal");
    // A bad last file: the same.
    std::fs::remove_file(folder.join("3-again.jsonl")).unwrap();
    std::fs::write(folder.join("4-bad.txt"), b"ok\n\xff\n").unwrap();
    run_in(d).args(["label"]).arg(&folder).assert().code(2).stdout(predicates::str::is_empty()).stderr(contains("4-bad.txt:2: invalid UTF-8"));
    std::fs::remove_file(folder.join("4-bad.txt")).unwrap();
    // Outputs that cannot be written: refused before the model is even loaded.
    run_in(d).args(["label", "--out"]).arg(d).arg(&folder).assert().code(2).stderr(contains("is a folder"));
    run_in(d).args(["label", "--out"]).arg(d.join("missing/out.jsonl")).arg(&folder).assert().code(2).stderr(contains("does not exist"));
    let summary = d.join("missing/s.jsonl");
    run_in(d).args(["label", "--summary"]).arg(summary).arg(&folder).assert().code(2).stdout(predicates::str::is_empty());
    assert!(!d.join("cache").exists(), "nothing was embedded");
}

#[test]
fn keep_going_skips_a_bad_line_and_keeps_the_rest_of_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = d.join("mixed.jsonl");
    let p = seed_paragraphs();
    let line = |id: &str, text: &str| serde_json::json!({"id": id, "text": text}).to_string();
    std::fs::write(&input, [line("a", &p[0]), "{\"id\": \"b\"}".to_owned(), line("c", &p[1]), line("d", &p[2])].join("\n") + "\n").unwrap();
    // Part 1 lost the line (exit 1); part 2 reports it and loses nothing.
    for (part, code) in [("1/2", 1), ("2/2", 0)] {
        let out = d.join(format!("part{}.jsonl", &part[..1]));
        run_in(d)
            .args(["label", "--keep-going", "--shard", part, "--out"])
            .arg(&out)
            .arg(&input)
            .assert()
            .code(code)
            .stderr(contains("skipped: ").and(contains("mixed.jsonl:2: not an article: missing field `text`")));
    }
    // Four ordinals: part 1 holds a and the bad line, part 2 c and d.
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(d.join("part1.jsonl.shard.json")).unwrap()).unwrap();
    assert_eq!(manifest["skipped"][0]["articles"], 1);
    assert!(manifest["skipped"][0]["location"].as_str().unwrap().ends_with("mixed.jsonl:2"), "{manifest}");
    run_in(d).args(["merge", "--out"]).arg(d.join("all.jsonl")).arg(d.join("part1.jsonl")).arg(d.join("part2.jsonl")).assert().code(1);
    let articles: Vec<String> = std::fs::read_to_string(d.join("all.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["article"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(articles, ["a", "c", "d"]);
}

#[test]
fn a_second_run_on_the_same_output_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let article = small_article(d);
    let journal = d.join("out.jsonl.partial");
    std::fs::write(&journal, "the other run's journal\n").unwrap();
    let held = std::fs::File::open(&journal).unwrap();
    held.try_lock().unwrap(); // as the other run holds it
    for resume in [false, true] {
        let mut cmd = run_in(d);
        cmd.args(["label", "--out"]).arg(d.join("out.jsonl")).arg(&article);
        if resume {
            cmd.arg("--resume");
        }
        cmd.assert().code(2).stderr(contains("out.jsonl.partial: another themes run is writing this output"));
    }
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), "the other run's journal\n", "left alone");
    drop(held);
    run_in(d).args(["label", "--quiet", "--out"]).arg(d.join("out.jsonl")).arg(&article).assert().success();
}

#[test]
fn termination_signals_keep_the_journal_like_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = seed_paragraphs();
    let input = d.join("many.jsonl");
    let lines: Vec<String> =
        (0..3000).map(|i| serde_json::json!({"id": i, "text": format!("{} ({i})", p[i % p.len()])}).to_string()).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    for (signal, code) in [(libc::SIGTERM, 143), (libc::SIGHUP, 129), (libc::SIGINT, 130)] {
        let out = d.join(format!("out{signal}.jsonl"));
        let journal = d.join(format!("out{signal}.jsonl.partial"));
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("themes"))
            .args(["label", "--no-cache", "--out"])
            .arg(&out)
            .arg(&input)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        // Two end lines: the first article is committed and counted (the
        // second is on its way to the disk).
        while std::fs::read_to_string(&journal).unwrap_or_default().lines().filter(|l| l.starts_with("{\"end\"")).count() < 2 {
            assert!(started.elapsed().as_secs() < 120, "no article done in two minutes");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // SAFETY: sends a signal to the child this test started.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "signal {signal}: {stderr}");
        assert!(stderr.contains("interrupted: the ") && (stderr.contains("articles done are kept in") || stderr.contains("1 article done is kept in")), "{stderr}");
        assert!(journal.exists() && !out.exists());
    }
}

#[test]
fn a_run_says_what_it_did_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let article = small_article(d);
    let out = d.join("out.jsonl");
    // A resume with no journal says it starts over.
    let initial = run_in(d)
        .args(["label", "--resume", "--out"])
        .arg(&out)
        .arg(&article)
        .assert()
        .success()
        .stderr(contains("no journal at ").and(contains("out.jsonl.partial; starting from the first article")));
    // The final line counts the inputs' texts, not the label set's: after
    // an edit of the label set, every text of the article is in the cache
    // and none is embedded again.
    let embedded = |stderr: &[u8]| -> (usize, usize) {
        let text = String::from_utf8_lossy(stderr);
        let line = text.lines().find(|l| l.starts_with("labelled ")).unwrap().to_owned();
        let inside = line.split(" (").nth(1).unwrap().split(')').next().unwrap().to_owned();
        let numbers: Vec<usize> = inside.split(' ').filter_map(|w| w.trim_end_matches(',').parse().ok()).collect();
        (numbers[0], numbers[1])
    };
    let labels = d.join("edited.toml");
    let text = std::fs::read_to_string(crate::support::root().join("data/labels/vietnam-us.toml")).unwrap();
    std::fs::write(&labels, text.replace("description = \"Consequences", "description = \"Edited: consequences")).unwrap();
    let (texts, cached) = embedded(&initial.get_output().stderr);
    assert!(texts > 0 && cached == 0, "an empty cache: {texts} embedded, {cached} from the cache");
    let edited = run_in(d).args(["label", "--labels"]).arg(&labels).arg("--out").arg(&out).arg(&article).assert().success();
    assert_eq!(embedded(&edited.get_output().stderr), (0, texts), "the label set's own texts are not counted");
    // A temporary file left by a killed run is removed when the output is written again.
    let stale = d.join(".out.jsonl.themes-tmp-4000000000-0");
    std::fs::write(&stale, "torn").unwrap();
    run_in(d).args(["label", "--quiet", "--out"]).arg(&out).arg(&article).assert().success();
    assert!(!stale.exists(), "the dead process's temporary file is gone");
    // The system's reason once, and no colour codes when stderr is not a terminal.
    let assert = run_in(d).args(["label"]).arg(d.join("nothing.txt")).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");
    std::fs::create_dir(d.join("looped")).unwrap();
    std::fs::copy(&article, d.join("looped/a.txt")).unwrap();
    std::os::unix::fs::symlink(d.join("looped"), d.join("looped/back")).unwrap();
    let warned = contains("WARN").and(contains("symbolic link loop"));
    run_in(d).args(["label"]).arg(d.join("looped")).assert().success().stderr(warned.and(contains('\u{1b}').not()));
}
