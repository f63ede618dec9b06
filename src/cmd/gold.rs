//! `themes gold merge`: reviewed suggestions folded into gold.

use std::path::PathBuf;
use std::process::ExitCode;

use themes::output::Sink;

use super::args::LabelArgs;
use super::Global;

/// Gold-data commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Fold reviewed suggestions (`themes suggest` templates with their
    /// status set) into gold files, and write the merged gold.
    ///
    /// Each review row names a paragraph of an article the gold holds:
    /// "accept" adds the row's label, "reject" removes it, "labels" makes the
    /// row's labels the paragraph's, "skip" leaves it. Refused, naming the
    /// line: a row not reviewed, a paragraph not in the gold, a text that is
    /// not the gold's, two reviews that disagree. Prints what changed.
    #[command(after_help = "Example:\n  themes suggest --label mekong --labels my.toml --out review.jsonl data/articles\n  (set each row's \"status\")\n  themes gold merge --labels my.toml --gold data/gold/seeds.jsonl --review review.jsonl --out gold.jsonl")]
    Merge(MergeArgs),
}

/// Options of `gold merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Gold files holding the reviewed paragraphs' articles (written out in
    /// this order, every row of each).
    #[arg(long, required = true)]
    gold: Vec<PathBuf>,

    /// Reviewed templates, applied in order.
    #[arg(long, required = true)]
    review: Vec<PathBuf>,

    /// Where to write the merged gold (atomically); standard output if not given.
    #[arg(short, long)]
    out: Option<PathBuf>,

    #[command(flatten)]
    labels: LabelArgs,
}

pub fn run(command: Command, global: &Global) -> anyhow::Result<ExitCode> {
    let Command::Merge(args) = command;
    let set = args.labels.load()?;
    let inputs = args.gold.iter().chain(&args.review).chain(&args.labels.labels);
    themes::output::check_outputs(&[("--out", args.out.as_deref())], inputs.map(PathBuf::as_path))?;
    let (rows, summary) = themes::eval::review::merge_files(&args.gold, &args.review, &set)?;
    let mut sink = Sink::create(args.out.as_deref())?;
    for row in &rows {
        sink.write_json_line(row)?;
    }
    sink.finish()?;
    global.note(&format!("{} gold paragraphs; {summary}", rows.len()));
    Ok(ExitCode::SUCCESS)
}
