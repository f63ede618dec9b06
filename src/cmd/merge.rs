//! `themes merge`: joins the outputs of `themes label --shard I/N` runs.

use std::path::PathBuf;
use std::process::ExitCode;

use themes::journal::Outputs;
use themes::output::RowFormat;

use super::args::choice;
use super::Global;

/// Join shard outputs into one, as a single run would have written it.
///
/// Give the JSONL outputs of `themes label --shard I/N --out PART` runs, in
/// any order; each needs its manifest PART.shard.json beside it. merge
/// checks that they are the N parts of one run (same inputs, model, label
/// set), that no part is missing or repeated, and that every article is
/// there exactly once with all its paragraphs, then writes them in shard
/// order. Files that shards skipped with --keep-going are listed (exit 1).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shards' outputs (JSONL).
    #[arg(required = true)]
    parts: Vec<PathBuf>,

    /// The merged output (written atomically).
    #[arg(short, long)]
    out: PathBuf,

    /// Row format of the merged output.
    #[arg(long, default_value = "jsonl", value_parser = choice::<RowFormat>(&RowFormat::NAMES))]
    format: RowFormat,

    /// Also write the article-level view (in the rows' format).
    #[arg(long)]
    summary: Option<PathBuf>,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let written = [("--out", Some(args.out.as_path())), ("--summary", args.summary.as_deref())];
    themes::output::check_outputs(&written, args.parts.iter().map(PathBuf::as_path))?;
    let outputs = Outputs { out: &args.out, format: args.format, summary: args.summary.as_deref(), ids: &[] };
    let (totals, skipped) = themes::shard::merge(&args.parts, &outputs)?;
    let reasons: std::collections::BTreeSet<&str> = skipped.iter().map(|s| s.reason.as_str()).collect();
    reasons.iter().for_each(|reason| eprintln!("skipped by a shard: {reason}"));
    let (articles, paragraphs) = (themes::count(totals.articles, "article"), themes::count(totals.paragraphs, "paragraph"));
    let (parts, files) = (themes::count(args.parts.len(), "shard"), themes::count(reasons.len(), "file"));
    global.note(&format!("merged {parts}: {articles}, {paragraphs}; {files} skipped"));
    Ok(if skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
