//! `themes label`: every paragraph's themes, with scores and evidence.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use themes::cache::{default_path, Cache, CachedEmbedder};
use themes::input::read_all;
use themes::output::{summarize, CsvRows, LabelRow, Sink};
use themes::pipeline::{label_article, PreparedLabels};

use super::common::{LabelArgs, ModelArgs};
use super::Global;

/// Output format for paragraph rows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// One JSON object per paragraph.
    Jsonl,
    /// One line per paragraph, one score column per label.
    Csv,
}

/// Label every paragraph of the inputs with themes.
///
/// Inputs are .txt/.md files (one paragraph per non-empty line), .jsonl files
/// ({"id", "text"} per line), folders, or - for standard input. Every
/// paragraph gets one row, numbered as in the labelling guide, even when it
/// has no theme. Rows: {"article", "paragraph", "text", "labels", "scores",
/// "evidence", "flags"}.
///
/// Vectors are cached (THEMES_CACHE or the platform cache folder), so a second
/// run after editing the label set embeds no paragraph again.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, folders, or - for standard input.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,

    /// Write rows here instead of standard output (written atomically).
    #[arg(short, long)]
    out: Option<PathBuf>,

    /// Row format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,

    /// Also write the article-level view (JSONL): each article's themes and
    /// the share of its paragraphs that carry each.
    #[arg(long)]
    summary: Option<PathBuf>,

    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,

    #[command(flatten)]
    labels: LabelArgs,

    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let label_set = args.labels.load()?;
    let articles = read_all(&args.inputs)?;
    let embedder = args.model.load(global)?;
    let cache = if args.no_cache {
        None
    } else {
        let path = default_path();
        Some(Cache::open(&path).with_context(|| format!("opening the embedding cache {}", path.display()))?)
    };
    let mut cached = CachedEmbedder::new(&embedder, cache, themes::embed::LongText::Windows);
    let combiner = label_set.combiner()?;
    let prepared = PreparedLabels::new(&label_set, &combiner, &mut cached)?;
    let ids: Vec<String> = label_set.labels.iter().map(|l| l.id.clone()).collect();
    let languages = args.model.languages();

    let sink = Sink::create(args.out.as_deref())?;
    let mut jsonl = None;
    let mut csv = None;
    match args.format {
        Format::Jsonl => jsonl = Some(sink),
        Format::Csv => csv = Some(CsvRows::new(sink, &ids)?),
    }
    let mut summary = args.summary.as_deref().map(|p| Sink::create(Some(p))).transpose()?;
    let total: usize = articles.iter().map(|a| a.paragraphs.len()).sum();
    let progress = super::progress(total as u64, global);
    let started = std::time::Instant::now();
    let mut warned_language = false;
    for article in &articles {
        let predictions = label_article(article, &prepared, &mut cached)
            .with_context(|| format!("labelling article {} ({})", article.id, article.source))?;
        let mut rows = Vec::with_capacity(predictions.len());
        for (p, text) in predictions.iter().zip(&article.paragraphs) {
            let mut flags = Vec::new();
            if let Some(lang) = super::common::uncovered_language(text, &languages) {
                if !warned_language {
                    tracing::warn!(
                        "some paragraphs are in a language the model does not cover ({lang}); they are flagged, and their scores are unreliable: see --model in the README for a multilingual model"
                    );
                    warned_language = true;
                }
                flags.push(format!("language:{lang}"));
            }
            rows.push(LabelRow {
                article: article.id.clone(),
                paragraph: p.paragraph,
                text: text.clone(),
                labels: p.labels.iter().map(|&j| ids[j].clone()).collect(),
                scores: ids.iter().cloned().zip(p.scores.iter().map(|s| (s * 10000.0).round() / 10000.0)).collect(),
                evidence: p
                    .labels
                    .iter()
                    .map(|&j| {
                        let ev = p.evidence[j].iter().filter_map(|e| serde_json::to_value(e).ok()).collect();
                        (ids[j].clone(), ev)
                    })
                    .collect(),
                flags,
            });
        }
        for row in &rows {
            if let Some(sink) = jsonl.as_mut() {
                sink.write_json_line(row)?;
            }
            if let Some(csv) = csv.as_mut() {
                csv.write(row)?;
            }
        }
        if let Some(sink) = summary.as_mut() {
            sink.write_json_line(&summarize(&article.id, &rows, &ids))?;
        }
        progress.inc(rows.len() as u64);
    }
    if let Some(sink) = jsonl {
        sink.finish()?;
    }
    if let Some(csv) = csv {
        csv.finish()?;
    }
    if let Some(sink) = summary {
        sink.finish()?;
    }
    progress.finish_and_clear();
    if !global.quiet {
        eprintln!(
            "labelled {} articles, {} paragraphs in {:.1}s ({} texts embedded, {} from the cache)",
            articles.len(),
            total,
            started.elapsed().as_secs_f32(),
            cached.computed,
            cached.reused
        );
    }
    Ok(ExitCode::SUCCESS)
}
