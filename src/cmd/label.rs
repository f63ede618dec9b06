//! `themes label`: every paragraph's themes, with scores and evidence.

use std::path::PathBuf;
use std::process::ExitCode;

use themes::input::Fields;
use themes::job::label::{InputPlan, LabelPlan, OutPlan};
use themes::output::RowFormat;
use themes::shard::ShardSpec;

use super::args::{choice, EngineArgs};
use super::{Global, Progress};

/// Label every paragraph of the inputs with themes.
///
/// Inputs are .txt/.md files (one paragraph per non-empty line), .jsonl files
/// ({"id", "text"} per line), .csv files (one article per row, columns id and
/// text), folders, or - for standard input. Every paragraph gets one row,
/// numbered as in the labelling guide, even when it has no theme. Rows:
/// {"article", "paragraph", "text", "labels", "scores", "evidence", "notes",
/// "meta"} (docs/row.schema.json).
///
/// With --out, rows are committed article by article to OUT.partial and the
/// output appears under its name only when the run is complete: after an
/// interruption, the same command with --resume goes on where it stopped.
/// --shard I/N labels part I of N (for N machines); `themes merge` joins the
/// parts.
///
/// A file that cannot be read stops the run (exit 2), or with --keep-going is
/// reported (file, line, reason) and skipped (exit 1 at the end, the output
/// holding everything else).
///
/// Vectors are cached (THEMES_CACHE or the platform cache folder), so a second
/// run after editing the label set embeds no paragraph again.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  themes label news.jsonl --format csv --out rows.csv --labels my.toml   (my.toml from `themes labels show`)
  themes label big/ --out rows.jsonl --resume        (after an interruption)
  themes label big/ --shard 2/8 --out part2.jsonl    (then: themes merge part*.jsonl --out all.jsonl)")]
pub struct Args {
    /// Files, folders, or - for standard input.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,

    /// Write rows here instead of standard output (committed article by
    /// article to OUT.partial, moved into place when complete).
    #[arg(short, long)]
    out: Option<PathBuf>,

    /// Row format (of the summary too): jsonl (one JSON object per
    /// paragraph) or csv (one line per paragraph, one score column per label).
    #[arg(long, default_value = "jsonl", value_parser = choice::<RowFormat>(&RowFormat::NAMES))]
    format: RowFormat,

    /// The article id's field in .jsonl and .csv inputs.
    #[arg(long, default_value = "id")]
    id_field: String,

    /// The article text's field in .jsonl and .csv inputs.
    #[arg(long, default_value = "text")]
    text_field: String,

    /// Also write the article-level view: each article's themes and the
    /// share of its paragraphs that carry each.
    #[arg(long)]
    summary: Option<PathBuf>,

    /// Go on from an interrupted run with the same inputs and options: the
    /// articles done (kept in OUT.partial) are not labelled again.
    #[arg(long, requires = "out")]
    resume: bool,

    /// Label only part I of N (e.g. 2/8): a balanced, deterministic split
    /// by article, so N machines can share a batch. Writes OUT and a
    /// manifest OUT.shard.json for `themes merge`.
    #[arg(long, value_name = "I/N", requires = "out")]
    shard: Option<ShardSpec>,

    /// Report a file that cannot be read (file, line, reason) and go on with
    /// the others instead of stopping.
    #[arg(long)]
    keep_going: bool,

    /// Decide with this trained head (a folder made by `themes train --out
    /// DIR`) on top of the label set's zero-shot scores.
    #[arg(long)]
    head: Option<PathBuf>,

    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let outputs = [("--out", args.out.as_deref()), ("--summary", args.summary.as_deref())];
    let inputs = args.inputs.iter().map(PathBuf::as_path).chain(args.engine.labels.labels.as_deref());
    themes::output::check_outputs(&outputs, inputs.chain(args.head.as_deref()))?;
    let set = args.engine.labels.load()?;
    let mut progress = Progress::new(0, "", global.quiet);
    let fields = Fields { id: args.id_field.clone(), text: args.text_field.clone() };
    let inputs = InputPlan::count(&args.inputs, &fields, args.keep_going, &mut progress)?;
    let out = args.out.clone().map(|path| OutPlan { path, resume: args.resume });
    let plan = LabelPlan::new(inputs, args.shard, args.keep_going, out, args.format, args.summary.clone())?;
    let embedder = args.engine.model.load(global)?;
    let mut engine = args.engine.engine(&set, &embedder, args.head.as_deref())?;
    let languages = args.engine.model.languages();
    let mut progress = Progress::new(plan.articles() as u64, "articles", global.quiet);
    let started = std::time::Instant::now();
    let outcome = themes::job::label::run(&plan, &mut engine, &languages, &mut progress)?;
    progress.bar.finish_and_clear();
    global.note(&outcome.summary(started.elapsed(), args.out.as_deref()));
    Ok(if outcome.skipped.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
