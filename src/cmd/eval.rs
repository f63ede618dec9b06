//! `themes eval`: scores against hand-labelled gold data, with intervals,
//! anchors, error study, reports and the regression gate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
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
    let scoring = match (&args.predictions, args.cv) {
        (Some(path), _) => Scoring::Predictions(path.clone()),
        (None, Some(k)) => Scoring::CrossValidated { k, head: args.head.is_some(), examples_per_label: args.examples_per_label.clone() },
        (None, None) => Scoring::Engine { head: args.head.clone() },
    };
    let plan = EvalPlan::new(sets, scoring, args.seed, args.resamples, args.engine.model.languages())?;
    let outcome = if matches!(plan.scoring, Scoring::Predictions(_)) {
        themes::job::eval::run(&plan, &set, None)?
    } else {
        let embedder = args.engine.model.load(global)?;
        let head = if args.cv.is_none() { args.head.as_deref() } else { None };
        let mut engine = args.engine.engine(&set, &embedder, head)?;
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
        let baseline = themes::eval::report::Report::read_baseline(path).with_context(|| format!("reading baseline {}", path.display()))?;
        let fell = themes::eval::report::regressions(&report, &baseline);
        if fell.is_empty() {
            eprintln!("gate: no metric fell below the 95% interval of {}", path.display());
        } else {
            for r in &fell {
                eprintln!("gate: {} fell to {:.3} (baseline {:.3}, its 95% interval starts at {:.3})", r.metric, r.current, r.baseline, r.baseline_low);
            }
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
