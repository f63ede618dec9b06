//! `themes eval`: scores against hand-labelled gold data, with intervals,
//! anchors, error study, reports and the regression gate.

use std::path::PathBuf;
use std::process::ExitCode;

use themes::job::eval::{EvalOutcome, EvalPlan, Scoring};

use super::args::EngineArgs;
use super::Global;

/// Score the classifier against hand-labelled gold data.
///
/// Runs the classifier on the gold articles (rebuilt from the gold rows) and
/// prints per-label precision, recall, F1 with 95% bootstrap intervals
/// (resampling whole articles), micro and macro averages, macro-F1 per group
/// (`core`), exact match and Hamming loss: per gold file and pooled.
///
/// With --cv K the classifier's learned weights are refitted K times, each
/// time without the articles it then scores (folds grouped by article), and
/// two anchors are scored in the same folds: cosine to the label
/// descriptions with one threshold, and logistic regression on the frozen
/// paragraph vectors. Only such figures are honest for a label set whose
/// weights were trained on the same gold.
///
/// With --head DIR the trained head's decisions are scored (see `themes
/// train`); with --cv K a head is also trained in each fold, on top of the
/// fold's zero-shot scores, and scored beside it ("trained-head"). With
/// --examples-per-label 2,4,8,16 that is repeated on N examples per label
/// drawn from the training folds only: the few-shot curve, zero-shot as 0.
///
/// Exit codes: 0 done; 1 --against found a regression; 2 error.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  themes eval --gold data/gold/seeds.jsonl --articles data/articles --errors
  themes eval --gold seeds.jsonl --gold dev.jsonl --cv 5 --head models/heads/mine --examples-per-label 2,4,8,16 --html r.html
  themes eval --gold data/gold/seeds.jsonl --against evals/baseline.json   (the regression gate)")]
pub struct Args {
    /// Gold JSONL file(s) in the labelling guide's format; repeat for several sets.
    #[arg(long, required = true)]
    gold: Vec<PathBuf>,

    /// Score these predictions (JSONL rows from `themes label`) instead of running the classifier.
    #[arg(long)]
    predictions: Option<PathBuf>,

    /// Article files or folders the gold was made from: gold text must match them.
    #[arg(long)]
    articles: Vec<PathBuf>,

    /// Article-grouped K-fold cross-validation of the classifier, with anchors.
    #[arg(long)]
    cv: Option<usize>,

    /// Score this trained head (a folder made by `themes train --out DIR`).
    /// With --cv, a head is retrained in each fold instead.
    #[arg(long, conflicts_with = "predictions")]
    head: Option<PathBuf>,

    /// The few-shot curve: with --cv, F1 after training heads on N examples
    /// per label (comma-separated list), 3 draws each.
    #[arg(long, value_delimiter = ',', requires = "cv")]
    examples_per_label: Vec<usize>,

    /// Seed of the folds and the bootstrap.
    #[arg(long, default_value_t = 13)]
    seed: u64,

    /// Bootstrap resamples.
    #[arg(long, default_value_t = 1000)]
    resamples: usize,

    /// Write the JSON report here (schema: evals/README.md).
    #[arg(long)]
    report: Option<PathBuf>,

    /// Write the HTML report here (one self-contained file).
    #[arg(long)]
    html: Option<PathBuf>,

    /// List false positives and false negatives with text and scores.
    #[arg(long)]
    errors: bool,

    /// Fail (exit 1) when a metric falls below this baseline report's 95% interval.
    #[arg(long)]
    against: Option<PathBuf>,

    /// Leave paragraph text out of the JSON and HTML reports (for gold whose
    /// text may not be published); they keep article ids and numbers.
    #[arg(long)]
    no_text: bool,

    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let inputs = args.gold.iter().chain(&args.articles).chain(&args.predictions).chain(&args.head).chain(&args.against);
    let written = [("--report", args.report.as_deref()), ("--html", args.html.as_deref())];
    themes::output::check_outputs(&written, inputs.chain(&args.engine.labels.labels).map(PathBuf::as_path))?;
    let set = args.engine.labels.load()?;
    let sets = themes::eval::gold::read_sets(&args.gold, &set)?;
    themes::eval::gold::check_texts(&sets, &args.articles)?;
    let scoring = Scoring::choose(args.predictions.clone(), args.cv, args.head.clone(), args.examples_per_label.clone());
    let plan = EvalPlan::new(sets, scoring, args.seed, args.resamples, args.engine.model.languages())?;
    let outcome = if matches!(plan.scoring, Scoring::Predictions(_)) {
        themes::job::eval::run(&plan, &set, None)?
    } else {
        let embedder = args.engine.model.load(global)?;
        let mut engine = match args.cv {
            Some(_) => args.engine.fitting_engine(&set, &embedder)?,
            None => args.engine.engine(&set, &embedder, args.head.as_deref())?,
        };
        themes::job::eval::run(&plan, &set, Some(&mut engine))?
    };
    print!("{}", outcome.report.to_text(args.errors));
    write_reports(&args, outcome)
}

/// The JSON and HTML reports, then the gate against a baseline (exit 1
/// when a metric fell).
fn write_reports(args: &Args, outcome: EvalOutcome) -> anyhow::Result<ExitCode> {
    let mut report = outcome.report;
    if args.no_text {
        report.withhold_text();
    }
    if let Some(path) = &args.report {
        report.write(path)?;
    }
    if let Some(path) = &args.html {
        themes::eval::html::write(path, &report, &outcome.scores, &outcome.gold.rows)?;
    }
    if let Some(path) = &args.against {
        let (passed, lines) = themes::job::eval::gate(&report, path)?;
        eprintln!("{}", lines.join("\n"));
        if !passed {
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
