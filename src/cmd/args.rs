//! The argument groups several commands share, and turning them into a
//! label set, a loaded model and an engine.

use std::path::{Path, PathBuf};

use anyhow::Context;
use themes::embed::{DeviceSpec, Embedder};
use themes::engine::Engine;
use themes::labels::LabelSet;
use themes::model::registry::{Registry, DEFAULT_MODEL};

use super::Global;

/// A clap parser for a library type with `FromStr`, offering `names`.
pub fn choice<T>(names: &'static [&'static str]) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: std::str::FromStr<Err = themes::Error> + Clone + Send + Sync + 'static,
{
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(names).try_map(|s| s.parse::<T>())
}

/// Which model, where it runs, at which precision.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// A registry name (`themes model list`), a Hub repo id (owner/name) or a
    /// local model folder.
    #[arg(long, default_value = DEFAULT_MODEL, env = "THEMES_MODEL")]
    pub model: String,

    /// auto, cpu, cuda or cuda:N (CUDA needs a build with `--features cuda`).
    #[arg(long, default_value = "auto")]
    pub device: DeviceSpec,

    /// f32; bf16 (on CUDA, and on CPUs with AVX512-BF16); int8 (on CPUs
    /// with AVX512-VNNI or AVX-VNNI); f16 (on CUDA). bf16 and int8 are
    /// faster and their vectors a little further from f32's: README,
    /// "Performance", gives speed and accuracy per CPU.
    #[arg(long, default_value = "f32", value_parser = clap::builder::PossibleValuesParser::new(themes::embed::Dtype::NAMES))]
    pub dtype: String,

    /// The CPU kernels: auto (the widest this CPU has), avx512, avx2, or
    /// portable (candle's own ops, f32 only). For comparisons and checks:
    /// `themes version` lists what this CPU runs.
    #[arg(long, default_value = "auto", hide_short_help = true, value_parser = clap::builder::PossibleValuesParser::new(themes::model::cpu::Kernels::NAMES))]
    pub kernels: String,

    /// Upper bound on word pieces per pass (default: on the CPU, sized to
    /// half the L3 cache, 2,730 for all-MiniLM-L6-v2 on a 32 MiB L3; on
    /// CUDA, 8192).
    #[arg(long, hide_short_help = true)]
    pub batch_tokens: Option<usize>,
}

impl ModelArgs {
    /// Resolves (fetching if needed) and loads the model.
    pub fn load(&self, global: &Global) -> anyhow::Result<Embedder> {
        let kernels = self.kernels.parse().map_err(anyhow::Error::msg)?;
        Ok(themes::model::open(&self.model, self.device, &self.dtype, kernels, self.batch_tokens, global.quiet)?)
    }

    /// Languages the chosen model covers (see [`Registry::languages_of`]).
    pub fn languages(&self) -> Vec<String> {
        Registry::languages_of(&self.model)
    }
}

/// Which label set.
#[derive(Debug, clap::Args)]
pub struct LabelArgs {
    /// A label-set TOML file (see data/labels/README.md); default: the
    /// built-in vietnam-us set (data/labels/vietnam-us.toml).
    #[arg(long, env = "THEMES_LABELS")]
    pub labels: Option<PathBuf>,
}

impl LabelArgs {
    /// Loads the label set.
    pub fn load(&self) -> anyhow::Result<LabelSet> {
        Ok(match &self.labels {
            Some(path) => LabelSet::load(path)?,
            None => LabelSet::builtin()?,
        })
    }
}

/// What every command that runs the classifier takes: the label set, the
/// model and the cache.
#[derive(Debug, clap::Args)]
pub struct EngineArgs {
    /// Do not read or write the embedding cache.
    #[arg(long)]
    pub no_cache: bool,

    #[command(flatten)]
    pub labels: LabelArgs,

    #[command(flatten)]
    pub model: ModelArgs,
}

impl EngineArgs {
    /// The engine over `set` and `embedder`, deciding with the head in
    /// `head` when given.
    pub fn engine<'a>(&self, set: &'a LabelSet, embedder: &'a Embedder, head: Option<&Path>) -> anyhow::Result<Engine<'a>> {
        let head = head.map(|dir| themes::model::heads::load(dir, embedder.identity(), embedder.dim(), set)).transpose()?;
        Ok(Engine::new(embedder, self.cache()?, set, head)?)
    }

    /// An engine for fitting weights to the model (`train`, `eval --cv`).
    pub fn fitting_engine<'a>(&self, set: &'a LabelSet, embedder: &'a Embedder) -> anyhow::Result<Engine<'a>> {
        Ok(Engine::for_fitting(embedder, self.cache()?, set)?)
    }

    fn cache(&self) -> anyhow::Result<Option<themes::cache::Cache>> {
        let path = || themes::cache::default_path().display().to_string();
        themes::cache::open_default(self.no_cache).with_context(|| format!("opening the embedding cache {}", path()))
    }
}
