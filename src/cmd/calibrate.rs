//! `themes calibrate`: per-label thresholds fitted to gold data, with the
//! cross-validated estimate beside the in-sample one.

use std::path::PathBuf;
use std::process::ExitCode;

use themes::eval::calibrate::calibrate;
use themes::learn::grouped_folds;

use super::common::{predict_gold, read_gold_sets, write_label_file, LabelArgs, ModelArgs};
use super::Global;

/// Fit per-label thresholds that maximize F1 on gold data.
///
/// Prints, per label, F1 at the current threshold, at the fitted threshold
/// on the same gold (in-sample: optimistic), and cross-validated (thresholds
/// fitted on some articles, scored on the others: the honest estimate), and
/// writes a label file with the fitted thresholds. Keep the new thresholds
/// only where the cross-validated F1 beats the current one.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Gold JSONL file(s).
    #[arg(long, required = true)]
    gold: Vec<PathBuf>,

    /// Where to write the label file with the fitted thresholds.
    #[arg(long)]
    out: PathBuf,

    /// Folds (grouped by article) for the cross-validated estimate.
    #[arg(long, default_value_t = 5)]
    cv: usize,

    /// Seed of the folds.
    #[arg(long, default_value_t = 13)]
    seed: u64,

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
    let articles: Vec<String> = args
        .gold
        .iter()
        .zip(&sets)
        .flat_map(|(path, rows)| rows.iter().map(move |r| format!("{}/{}", path.display(), r.article)))
        .collect();
    let distinct: std::collections::BTreeSet<&String> = articles.iter().collect();
    anyhow::ensure!(args.cv >= 2 && distinct.len() >= args.cv, "--cv {} needs at least that many articles (the gold has {})", args.cv, distinct.len());
    let embedder = args.model.load(global)?;
    let predictions = predict_gold(&sets, &args.gold, &label_set, &embedder, args.no_cache)?;
    let ids = label_set.ids();
    let gold: Vec<Vec<bool>> = sets.iter().flatten().map(|r| ids.iter().map(|id| r.labels.contains(id)).collect()).collect();
    let scores: Vec<Vec<f32>> = predictions.into_iter().map(|p| p.scores).collect();
    let current: Vec<f32> = label_set.thresholds();
    let folds = grouped_folds(&articles, args.cv, args.seed);
    let c = calibrate(&scores, &gold, &current, &folds);
    println!("{:<20} {:>9} {:>9} {:>10} {:>10} {:>14}", "label", "threshold", "fitted", "F1 now", "F1 fitted", "F1 fitted (cv)");
    for (j, id) in ids.iter().enumerate() {
        println!(
            "{:<20} {:>9.3} {:>9.3} {:>10.3} {:>10.3} {:>14.3}",
            id, current[j], c.thresholds[j], c.current_f1[j], c.in_sample_f1[j], c.cross_validated_f1[j]
        );
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "{:<20} {:>9} {:>9} {:>10.3} {:>10.3} {:>14.3}",
        "macro",
        "",
        "",
        mean(&c.current_f1),
        mean(&c.in_sample_f1),
        mean(&c.cross_validated_f1)
    );
    println!("(in-sample: fitted and scored on the same gold; cv: {}-fold, grouped by article, seed {})", args.cv, args.seed);
    let map = ids.iter().cloned().zip(c.thresholds.iter().copied()).collect();
    let text = themes::labels::rewrite(&source_text, &label_set.source, Some(&map), None, None)?;
    write_label_file(&text, &args.out)?;
    Ok(ExitCode::SUCCESS)
}
