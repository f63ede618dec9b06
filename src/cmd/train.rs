//! `themes train`: refits the classifier's learned weights to hand labels
//! and writes them into a label file.

use std::path::PathBuf;
use std::process::ExitCode;

use themes::learn::{fit, FitOptions};

use super::common::{predict_gold, read_gold_sets, write_label_file, LabelArgs, ModelArgs};
use super::Global;

/// Fit the classifier's weights to hand labels.
///
/// Scores every gold paragraph, fits the logistic combiner (weights shared
/// by all labels, one bias per label) to the gold labels, and writes the
/// label file again with its [classifier] table and `bias` values replaced;
/// comments and everything else are kept. Estimate how well the result
/// generalizes with `themes eval --cv 5` on the same gold.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Gold JSONL file(s); all are used.
    #[arg(long, required = true)]
    gold: Vec<PathBuf>,

    /// Where to write the label file with the new weights (may be the --labels file itself).
    #[arg(long)]
    out: PathBuf,

    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,

    #[command(flatten)]
    labels: LabelArgs,

    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let (label_set, source_text) = args.labels.load_with_text()?;
    let sets = read_gold_sets(&args.gold, &label_set)?;
    let embedder = args.model.load(global)?;
    let predictions = predict_gold(&sets, &args.gold, &label_set, &embedder, args.no_cache)?;
    let ids = label_set.ids();
    let gold: Vec<Vec<bool>> = sets.iter().flatten().map(|r| ids.iter().map(|id| r.labels.contains(id)).collect()).collect();
    let features: Vec<Vec<Vec<f32>>> = predictions.into_iter().map(|p| p.features).collect();
    let (combiner, biases) = fit(&features, &gold, FitOptions::default());
    let bias_map = ids.iter().cloned().zip(biases.iter().copied()).collect();
    let text = themes::labels::rewrite(&source_text, &label_set.source, None, Some(&bias_map), Some(&combiner))?;
    write_label_file(&text, &args.out)?;
    if !global.quiet {
        eprintln!("trained on {} paragraphs; weights written to {}", gold.len(), args.out.display());
        for (name, w) in themes::classify::FEATURES.iter().zip(&combiner.weights) {
            eprintln!("  {name:<14} {w:+.3}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
