//! What the integration tests share: the repository's paths, the default
//! model loaded once for the whole test binary, and the `themes` binary.

use std::path::PathBuf;
use std::sync::OnceLock;

use themes::embed::{EmbedOptions, Embedder};

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the checkout: seeds, dev set and gold data.
pub fn shared() -> PathBuf {
    root().join("..").join("shared")
}

/// The default model's folder, fetched by `.ci/run` (`themes model fetch`).
pub fn model_dir() -> PathBuf {
    let dir = root().join("models").join("all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} has no model: run `cargo run --release -- model fetch` first",
        dir.display()
    );
    dir
}

/// The default model, loaded once and shared by every test.
pub fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let options = EmbedOptions { device: candle_core::Device::Cpu, dtype: candle_core::DType::F32, token_budget: 8192 };
        Embedder::load(&model_dir(), "all-MiniLM-L6-v2", "test", &options).expect("default model loads")
    })
}

/// The `themes` binary built for this test run.
pub fn themes() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("themes").expect("themes binary")
}
