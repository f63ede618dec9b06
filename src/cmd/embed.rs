//! `themes embed`: one JSONL row with its vector per paragraph.

use std::path::PathBuf;
use std::process::ExitCode;

use themes::input::read_all;
use themes::output::Sink;

use themes::embed::LongText;

use super::args::{choice, ModelArgs};
use super::Global;

/// Embed every paragraph of the inputs.
///
/// Inputs are .txt/.md files (one paragraph per non-empty line, the article
/// id is the file stem), .jsonl files (one article per line:
/// {"id": ..., "text": ...}), .csv files (one article per row, columns id and
/// text), folders (read recursively, in sorted order) or `-` for standard input. Rows: {"article", "paragraph", "text", "tokens",
/// "embedding"}.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files, folders, or - for standard input.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,

    /// Write rows here instead of standard output (written atomically).
    #[arg(short, long)]
    out: Option<PathBuf>,

    /// Paragraphs longer than the model's window: truncate (as
    /// sentence-transformers does) or windows (nothing lost).
    #[arg(long, default_value = "truncate", value_parser = choice::<LongText>(&LongText::NAMES))]
    long: LongText,

    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    themes::output::check_outputs(&[("--out", args.out.as_deref())], args.inputs.iter().map(PathBuf::as_path))?;
    let articles = read_all(&args.inputs)?;
    let embedder = args.model.load(global)?;
    let mut sink = Sink::create(args.out.as_deref())?;
    let paragraphs = articles.iter().map(|a| a.paragraphs.len() as u64).sum();
    let progress = super::progress_of(paragraphs, "paragraphs", global);
    themes::job::embed::run(&embedder, &articles, args.long, &mut sink, |n| progress.inc(n))?;
    sink.finish()?;
    progress.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}
