//! `themes suggest`: which paragraphs to label next for one label.

use std::path::PathBuf;
use std::process::ExitCode;

use themes::input::read_all;
use themes::output::Sink;

use super::args::EngineArgs;
use super::Global;

/// Rank unlabelled paragraphs for one label, most useful to label first.
///
/// For a label without hand labels (a new one: add its [[label]] table to
/// your label file first, with a description), the most likely paragraphs
/// come first, so the first examples are found fast. With --head DIR for a
/// head trained with examples of the label, the most uncertain come first
/// (probability nearest 0.5): those teach the head most.
///
/// Writes a review template (JSONL): one row per suggested paragraph, keyed
/// by its article id and paragraph number, with the label's score in the
/// article, the labels the classifier gives it, and an empty "status". Set
/// each status to accept, reject, labels (then edit "labels") or skip, and
/// fold the file into the gold with `themes gold merge`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  themes suggest --label mekong --labels my.toml articles/ --n 20 --out to-label.jsonl
  themes suggest --label health --head models/heads/mine --gold gold.jsonl articles/   (most uncertain first)")]
pub struct Args {
    /// The label to find examples for (an id in the label set).
    #[arg(long)]
    label: String,

    /// Files or folders to draw paragraphs from.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,

    /// How many paragraphs to suggest.
    #[arg(long, default_value_t = 20)]
    n: usize,

    /// Rank by the uncertainty of this trained head.
    #[arg(long)]
    head: Option<PathBuf>,

    /// Leave out paragraphs already in these gold files.
    #[arg(long)]
    gold: Vec<PathBuf>,

    /// Write the template here (atomically) instead of standard output.
    #[arg(short, long)]
    out: Option<PathBuf>,

    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let set = args.engine.labels.load()?;
    let j = set.require(&args.label)?;
    anyhow::ensure!(args.n > 0, "--n must be at least 1");
    let inputs = args.inputs.iter().chain(&args.gold).chain(&args.head).chain(&args.engine.labels.labels);
    themes::output::check_outputs(&[("--out", args.out.as_deref())], inputs.map(PathBuf::as_path))?;
    let known = themes::job::suggest::known_paragraphs(&args.gold)?;
    let articles = read_all(&args.inputs)?;
    let embedder = args.engine.model.load(global)?;
    let mut engine = args.engine.engine(&set, &embedder, args.head.as_deref())?;
    let progress = super::progress_of(articles.len() as u64, "articles", global);
    let (suggestions, uncertainty) = themes::job::suggest::suggest(&mut engine, &articles, j, args.n, &known, || progress.inc(1))?;
    progress.finish_and_clear();
    let mut sink = Sink::create(args.out.as_deref())?;
    for s in &suggestions {
        sink.write_json_line(&s.row)?;
    }
    sink.finish()?;
    let order = if uncertainty { "most uncertain" } else { "most likely" };
    let n = themes::count(suggestions.len(), "paragraph");
    global.note(&format!("{n} for {:?}, {order} first; set each row's status, then `themes gold merge`:", args.label));
    global.note(&suggestions.iter().map(themes::job::suggest::Suggestion::line).collect::<Vec<_>>().join("\n"));
    Ok(ExitCode::SUCCESS)
}
