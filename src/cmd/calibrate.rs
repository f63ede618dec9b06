//! `themes calibrate`: per-label thresholds fitted to gold data, with the
//! cross-validated estimate beside the in-sample one.

use std::path::PathBuf;
use std::process::ExitCode;

use super::args::EngineArgs;
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

    #[command(flatten)]
    engine: EngineArgs,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let inputs = args.gold.iter().chain(&args.engine.labels.labels).map(PathBuf::as_path);
    themes::output::check_outputs(&[("--out", Some(args.out.as_path()))], inputs)?;
    let set = args.engine.labels.load()?;
    let source_text = themes::labels::read_text(args.engine.labels.labels.as_deref())?;
    let sets = themes::eval::gold::read_sets(&args.gold, &set)?;
    let embedder = args.engine.model.load(global)?;
    let mut engine = args.engine.engine(&set, &embedder, None)?;
    let (c, _) = themes::job::learn::calibrate(&mut engine, &sets, args.cv, args.seed)?;
    let ids = set.ids();
    print!("{}", c.table(&ids, &set.thresholds(), args.cv, args.seed));
    let map = ids.iter().cloned().zip(c.thresholds.iter().copied()).collect();
    themes::labels::write_file(&themes::labels::rewrite(&source_text, &set.source, Some(&map), None, None)?, &args.out)?;
    Ok(ExitCode::SUCCESS)
}
