//! `themes train`: refits the classifier's learned weights to hand labels
//! and writes them into a label file.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use themes::eval::gold::{check_labels, read_gold};
use themes::learn::{fit, FitOptions};
use themes::output::AtomicFile;

use super::common::{predict_gold, LabelArgs, ModelArgs};
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
    let label_set = args.labels.load()?;
    let source_text = match &args.labels.labels {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        None => themes::labels::BUILTIN_TEXT.to_owned(),
    };
    let mut sets = Vec::new();
    for path in &args.gold {
        let rows = read_gold(path)?;
        check_labels(&rows, &label_set, path)?;
        sets.push(rows);
    }
    let embedder = args.model.load(global)?;
    let predictions = predict_gold(&sets, &args.gold, &label_set, &embedder, args.no_cache)?;
    let ids = label_set.ids();
    let gold: Vec<Vec<bool>> = sets.iter().flatten().map(|r| ids.iter().map(|id| r.labels.contains(id)).collect()).collect();
    let features: Vec<Vec<Vec<f32>>> = predictions.into_iter().map(|p| p.features).collect();
    let (combiner, biases) = fit(&features, &gold, FitOptions::default());
    let bias_map = ids.iter().cloned().zip(biases.iter().copied()).collect();
    let text = themes::labels::rewrite(&source_text, &label_set.source, None, Some(&bias_map), Some(&combiner))?;
    // The result must load before it replaces anything.
    themes::labels::LabelSet::parse(&text, &args.out)?;
    let mut file = AtomicFile::create(&args.out)?;
    std::io::Write::write_all(&mut file, text.as_bytes()).with_context(|| format!("writing {}", args.out.display()))?;
    file.commit()?;
    if !global.quiet {
        eprintln!("trained on {} paragraphs; weights written to {}", gold.len(), args.out.display());
        for (name, w) in themes::classify::FEATURES.iter().zip(&combiner.weights) {
            eprintln!("  {name:<14} {w:+.3}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
