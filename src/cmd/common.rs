//! Options shared by the commands that run the model, and turning them into
//! a loaded [`Embedder`].

use anyhow::Context;
use clap::ValueEnum;
use themes::embed::{parse_device, parse_dtype, EmbedOptions, Embedder, LongText};
use themes::model::fetch::{resolve, ResolveOptions};
use themes::model::registry::{Registry, DEFAULT_MODEL};

use super::Global;

/// What to do with paragraphs longer than the model's window.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Long {
    /// Keep the first window only, as sentence-transformers does.
    Truncate,
    /// Embed overlapping windows and average them: no text is lost.
    Windows,
}

impl From<Long> for LongText {
    fn from(long: Long) -> Self {
        match long {
            Long::Truncate => LongText::Truncate,
            Long::Windows => LongText::Windows,
        }
    }
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
    pub device: String,

    /// f32; bf16 (on CUDA, and on CPUs with AVX512-BF16: about 1.3x faster,
    /// vectors within 0.9999 of f32's); f16 (on CUDA).
    #[arg(long, default_value = "f32")]
    pub dtype: String,

    /// Upper bound on padded word pieces per forward pass (memory vs speed).
    #[arg(long, default_value_t = 8192, hide_short_help = true)]
    pub batch_tokens: usize,
}

impl ModelArgs {
    /// Resolves (fetching if needed) and loads the model.
    pub fn load(&self, global: &Global) -> anyhow::Result<Embedder> {
        let registry = Registry::builtin()?;
        let mut options = ResolveOptions::from_env();
        options.quiet = global.quiet;
        let resolved = resolve(&self.model, &registry, &options)?;
        let device = parse_device(&self.device)?;
        let dtype = parse_dtype(&self.dtype)?;
        let embed_options = EmbedOptions { device, dtype, token_budget: self.batch_tokens };
        let embedder = Embedder::load(&resolved.dir, &resolved.name, &resolved.revision, &embed_options)
            .with_context(|| format!("loading model from {}", resolved.dir.display()))?;
        tracing::info!("model {} ({}) loaded from {}", resolved.name, resolved.revision, resolved.dir.display());
        Ok(embedder)
    }
}

impl ModelArgs {
    /// Languages the chosen model covers, from the registry (ISO 639-1
    /// codes); empty when unknown, which disables language flags.
    pub fn languages(&self) -> Vec<String> {
        Registry::builtin().ok().and_then(|r| r.get(&self.model).map(|m| m.languages.clone())).unwrap_or_default()
    }
}

/// The paragraph's language when it is reliably detected and not among
/// `covered` (ISO 639-1 codes); `None` when covered, unknown or unsure.
pub fn uncovered_language(text: &str, covered: &[String]) -> Option<String> {
    if covered.is_empty() {
        return None;
    }
    let info = whatlang::detect(text)?;
    if !info.is_reliable() {
        return None;
    }
    let code = iso639_1(info.lang());
    (!covered.iter().any(|c| c == &code)).then_some(code)
}

fn iso639_1(lang: whatlang::Lang) -> String {
    use whatlang::Lang::*;
    let code = match lang {
        Eng => "en",
        Vie => "vi",
        Fra => "fr",
        Deu => "de",
        Spa => "es",
        Por => "pt",
        Ita => "it",
        Rus => "ru",
        Cmn => "zh",
        Jpn => "ja",
        Kor => "ko",
        Tha => "th",
        Ind => "id",
        Tgl => "tl",
        Khm => "km",
        Nld => "nl",
        other => return other.code().to_owned(),
    };
    code.to_owned()
}

/// Which label set.
#[derive(Debug, clap::Args)]
pub struct LabelArgs {
    /// A label-set TOML file (see data/labels/README.md); default: the
    /// built-in vietnam-us set (data/labels/vietnam-us.toml).
    #[arg(long, env = "THEMES_LABELS")]
    pub labels: Option<std::path::PathBuf>,
}

impl LabelArgs {
    /// Loads the label set.
    pub fn load(&self) -> anyhow::Result<themes::labels::LabelSet> {
        Ok(match &self.labels {
            Some(path) => themes::labels::LabelSet::load(path)?,
            None => themes::labels::LabelSet::builtin()?,
        })
    }

    /// Loads the label set and its file's text, for commands that write a
    /// changed copy of the file.
    pub fn load_with_text(&self) -> anyhow::Result<(themes::labels::LabelSet, String)> {
        let text = match &self.labels {
            Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            None => themes::labels::BUILTIN_TEXT.to_owned(),
        };
        Ok((self.load()?, text))
    }
}

/// Writes a label file atomically, after checking that it loads.
pub fn write_label_file(text: &str, out: &std::path::Path) -> anyhow::Result<()> {
    themes::labels::LabelSet::parse(text, out)?;
    let mut file = themes::output::AtomicFile::create(out)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).with_context(|| format!("writing {}", out.display()))?;
    file.commit()?;
    Ok(())
}

/// The embedding cache, unless `--no-cache` was given.
pub fn open_cache(no_cache: bool) -> anyhow::Result<Option<themes::cache::Cache>> {
    if no_cache {
        return Ok(None);
    }
    let path = themes::cache::default_path();
    let cache = themes::cache::Cache::open(&path).with_context(|| format!("opening the embedding cache {}", path.display()))?;
    Ok(Some(cache))
}

/// Reads gold files and checks their label ids against the label set.
pub fn read_gold_sets(
    paths: &[std::path::PathBuf],
    label_set: &themes::labels::LabelSet,
) -> anyhow::Result<Vec<Vec<themes::eval::gold::GoldRow>>> {
    paths
        .iter()
        .map(|path| {
            let rows = themes::eval::gold::read_gold(path)?;
            themes::eval::gold::check_labels(&rows, label_set, path)?;
            Ok(rows)
        })
        .collect()
}

/// Runs the classifier over gold articles (rebuilt from the gold rows) and
/// returns one prediction per gold row, in the rows' order (sets in order).
pub fn predict_gold(
    sets: &[Vec<themes::eval::gold::GoldRow>],
    paths: &[std::path::PathBuf],
    label_set: &themes::labels::LabelSet,
    embedder: &Embedder,
    no_cache: bool,
) -> anyhow::Result<Vec<themes::pipeline::Prediction>> {
    use themes::cache::CachedEmbedder;
    let cache = open_cache(no_cache)?;
    let mut cached = CachedEmbedder::new(embedder, cache, LongText::Windows);
    let combiner = label_set.combiner()?;
    let prepared = themes::pipeline::PreparedLabels::new(label_set, &combiner, &mut cached)?;
    let mut out = Vec::new();
    for (rows, path) in sets.iter().zip(paths) {
        let mut by_key = std::collections::HashMap::new();
        for article in themes::eval::gold::articles(rows, path) {
            let predicted = themes::pipeline::label_article(&article, &prepared, &mut cached)
                .with_context(|| format!("labelling gold article {}", article.id))?;
            for p in predicted {
                by_key.insert((article.id.clone(), p.paragraph), p);
            }
        }
        for r in rows {
            let p = by_key
                .remove(&(r.article.clone(), r.paragraph))
                .ok_or_else(|| anyhow::anyhow!("{}: no prediction for {} paragraph {}", path.display(), r.article, r.paragraph))?;
            out.push(p);
        }
    }
    Ok(out)
}
