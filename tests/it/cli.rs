//! The command line around the jobs: version details, shell completions,
//! manual pages, `labels show`, and `eval --articles` that match no gold.

use predicates::str::contains;
use themes::labels::LabelSet;

use crate::support::{root, themes};

fn stdout(args: &[&str]) -> String {
    let out = themes().args(args).assert().success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

#[test]
fn version_is_one_line_and_version_details_name_the_commit_and_kernels() {
    let short = stdout(&["--version"]);
    assert_eq!(short.lines().count(), 1, "{short}");
    assert!(short.starts_with("themes 0.1.0 (") && short.trim_end().ends_with(')'), "{short}");
    let details = stdout(&["version"]);
    let field = |name: &str| details.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("no {name}: {details}"));
    let commit = field("commit: ");
    let head = std::process::Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(root()).output();
    match head {
        Ok(out) if out.status.success() => {
            let head = String::from_utf8(out.stdout).unwrap();
            assert!(commit == head.trim() || commit == format!("{}-dirty", head.trim()), "{commit} vs {head}");
        }
        _ => assert_eq!(commit, "unknown"),
    }
    assert!(short.contains(commit), "the one line carries the commit too: {short}");
    assert_eq!(field("features: ").starts_with("cuda"), cfg!(feature = "cuda"));
    let kernels = field("kernels: ");
    let paths = themes::about::cpu_paths();
    assert_eq!(kernels, format!("f32: {}; bf16: {}{}; int8: {}", paths.f32, paths.bf16,
        if paths.detected.contains(&"AMX-BF16") { " (AMX: present, not used)" } else { "" }, paths.int8));
    let bf16 = paths.detected.contains(&"AVX512-BF16");
    assert_eq!(kernels.contains("bf16: AVX512-BF16"), bf16, "{kernels}");
    assert_eq!(kernels.contains("bf16: unavailable"), !bf16, "{kernels}");
}

#[test]
fn bash_completion_and_manual_pages_cover_the_subcommands() {
    let bash = stdout(&["completions", "bash"]);
    for word in ["label", "eval", "train", "suggest", "calibrate", "completions", "--labels", "--out", "--keep-going", "--cv"] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    let page = stdout(&["man"]);
    assert!(page.contains(".TH themes 1"), "a roff title line");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH SUBCOMMANDS"] {
        assert!(page.contains(section), "no {section}");
    }
    assert!(page.contains("themes\\-label(1)") && page.contains("themes\\-eval(1)"), "the subcommands are listed");
    assert!(page.lines().all(|l| !l.starts_with('.') || l.len() > 1), "every request line names a request");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man");
    themes().args(["man", "--out"]).arg(&out).assert().success().stderr(contains("manual pages written to"));
    for name in ["themes.1", "themes-label.1", "themes-labels-show.1", "themes-model-fetch.1"] {
        let text = std::fs::read_to_string(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".SH NAME") && text.contains(".SH SYNOPSIS"), "{name}");
    }
    assert!(!out.join("themes-help.1").exists(), "no page for the help subcommand");
}

#[test]
fn labels_show_prints_a_label_file_that_reads_back_as_the_builtin_set() {
    let text = stdout(&["labels", "show"]);
    let shown = LabelSet::parse(&text, std::path::Path::new("shown.toml")).unwrap();
    let builtin = LabelSet::builtin().unwrap();
    assert_eq!((shown.hash(), shown.ids(), shown.name), (builtin.hash(), builtin.ids(), builtin.name));
    let mekong = root().join("docs/examples/mekong/labels.toml");
    let text = stdout(&["labels", "show", "--labels", mekong.to_str().unwrap()]);
    assert_eq!(text, std::fs::read_to_string(&mekong).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[[label]]\nid = \"Bad Id\"\n").unwrap();
    themes().args(["labels", "show", "--labels"]).arg(&bad).assert().code(2).stdout("").stderr(contains("bad.toml"));
}

#[test]
fn eval_articles_that_match_no_gold_article_are_an_error_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = root().join("data/articles");
    let first = std::fs::read_dir(&seeds).unwrap().map(|e| e.unwrap().path()).min().unwrap();
    let stem = first.file_stem().unwrap().to_string_lossy().into_owned();
    let renamed = dir.path().join(format!("{stem}x.txt"));
    std::fs::copy(&first, &renamed).unwrap();
    themes()
        .env("THEMES_CACHE", dir.path().join("cache"))
        .args(["eval", "--gold"])
        .arg(root().join("data/gold/seeds.jsonl"))
        .arg("--articles")
        .arg(&renamed)
        .assert()
        .code(2)
        .stdout("")
        .stderr(contains("--articles: 1 article matches no gold article in "))
        .stderr(contains(format!("\"{stem}x\" ({}; did you mean \"{stem}\"?)", renamed.display())));
}

#[test]
fn a_precision_the_chosen_kernels_cannot_run_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rows.jsonl");
    themes()
        .args(["label", "--quiet", "--device", "cpu", "--kernels", "portable", "--dtype", "int8", "--out"])
        .arg(&out)
        .arg(root().join("data/articles"))
        .assert()
        .code(2)
        .stderr(contains("--kernels portable runs f32 only"));
    assert!(!out.exists() && std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing written");
    let version = stdout(&["version"]);
    let paths = themes::about::cpu_paths();
    if paths.int8.starts_with("unavailable") {
        themes().args(["embed", "--quiet", "--device", "cpu", "--dtype", "int8"]).arg(root().join("data/articles")).assert().code(2).stderr(contains("VNNI"));
        assert!(version.contains("int8: unavailable"), "{version}");
    }
}
