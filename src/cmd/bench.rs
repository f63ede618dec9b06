//! `themes bench`: embedding throughput on a corpus, printed in the same
//! JSON shape as the sentence-transformers benchmark so the two compare
//! line for line (`bench/compare.sh`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use themes::embed::LongText;
use themes::input::normalize;

use super::common::ModelArgs;
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
    let paragraphs: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(|l| normalize(l.trim())).collect();
    anyhow::ensure!(!paragraphs.is_empty(), "{}: no paragraphs", args.corpus.display());
    let refs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
    let embedder = args.model.load(global)?;
    embedder.embed(&refs[..refs.len().min(64)], LongText::Truncate)?;
    let mut best = f64::MAX;
    let mut tokens = 0;
    for _ in 0..args.repeat.max(1) {
        let start = Instant::now();
        let out = embedder.embed(&refs, LongText::Truncate)?;
        best = best.min(start.elapsed().as_secs_f64());
        tokens = out.iter().map(|e| e.tokens.min(embedder.max_seq_length())).sum::<usize>();
    }
    let json = serde_json::json!({
        "system": "themes",
        "device": args.model.device,
        "dtype": args.model.dtype,
        "threads": candle_core::utils::get_num_threads(),
        "paragraphs": paragraphs.len(),
        "tokens": tokens,
        "seconds": (best * 1000.0).round() / 1000.0,
        "paragraphs_per_s": (paragraphs.len() as f64 / best * 10.0).round() / 10.0,
        "tokens_per_s": (tokens as f64 / best * 10.0).round() / 10.0,
        "peak_rss_mib": peak_rss_mib(),
    });
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

/// The process's peak resident memory, from the kernel's own accounting.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}
