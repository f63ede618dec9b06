//! `themes bench`: embedding throughput on a corpus, printed in the same
//! JSON shape as the sentence-transformers benchmark so the two compare
//! line for line (`bench/compare.sh`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::args::ModelArgs;
use super::Global;

/// Measure embedding throughput: paragraphs/s, tokens/s and peak memory.
///
/// The corpus is a text file with one paragraph per line (blank lines
/// skipped). After a warm-up on 64 paragraphs, the whole corpus is embedded
/// --repeat times (truncating at the model's window, as sentence-transformers
/// does) and the best time is reported. No cache is used.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One paragraph per line.
    #[arg(long)]
    corpus: PathBuf,

    /// Timed passes over the corpus; the best is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,

    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.corpus).with_context(|| format!("reading {}", args.corpus.display()))?;
    let paragraphs = themes::job::bench::corpus(&text);
    anyhow::ensure!(!paragraphs.is_empty(), "{}: no paragraphs", args.corpus.display());
    let embedder = args.model.load(global)?;
    let timing = themes::job::bench::throughput(&embedder, &paragraphs, args.repeat)?;
    let json = serde_json::json!({
        "system": "themes",
        "device": args.model.device.to_string(),
        "dtype": args.model.dtype,
        "threads": candle_core::utils::get_num_threads(),
        "paragraphs": paragraphs.len(),
        "tokens": timing.tokens,
        "seconds": (timing.seconds * 1000.0).round() / 1000.0,
        "paragraphs_per_s": (paragraphs.len() as f64 / timing.seconds * 10.0).round() / 10.0,
        "tokens_per_s": (timing.tokens as f64 / timing.seconds * 10.0).round() / 10.0,
        "peak_rss_mib": themes::job::bench::peak_rss_mib(),
    });
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}
