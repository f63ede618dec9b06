//! `themes train`: learns from hand labels, either a trained head (a
//! folder) or the classifier's weights refitted into a label file.

use std::path::PathBuf;
use std::process::ExitCode;

use themes::learn::{fit, FitOptions};

use super::common::{predict_gold, read_gold_sets, write_label_file, LabelArgs, ModelArgs};
use super::Global;

/// Learn from hand labels: a trained head, or refitted classifier weights.
///
/// --out DIR (e.g. models/heads/NAME) trains a head: one logistic regression
/// per label on the paragraph vector, with the zero-shot classifier's score
/// as its prior, so a label with few examples stays close to its zero-shot
/// decisions and a label with none keeps them. The folder holds
/// head.safetensors and head.json (model, label set, examples per label);
/// use it with `themes label --head DIR` and `themes eval --head DIR`.
///
/// --out FILE.toml refits the classifier itself (weights shared by all
/// labels, one bias per label) and writes the label file again with its
/// [classifier] table and `bias` values replaced; comments are kept.
///
/// Estimate either honestly with `themes eval --cv 5` on the same gold
/// (with --head for the head, and --examples-per-label for the few-shot
/// curve).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Gold JSONL file(s); all are used.
    #[arg(long, required = true)]
    gold: Vec<PathBuf>,

    /// A folder for a trained head, or a .toml label file for refitted
    /// classifier weights (may be the --labels file itself).
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
    anyhow::ensure!(!gold.is_empty(), "the gold files hold no paragraphs: nothing to train on");
    let is_label_file = args.out.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"));
    if !is_label_file {
        return train_head(&args, &label_set, &embedder, &predictions, &gold, global);
    }
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

fn train_head(
    args: &Args,
    label_set: &themes::labels::LabelSet,
    embedder: &themes::embed::Embedder,
    predictions: &[themes::pipeline::Prediction],
    gold: &[Vec<bool>],
    global: &Global,
) -> anyhow::Result<ExitCode> {
    use themes::head::{fit_heads, margins, Head, HeadInfo, HeadOptions};
    let ids = label_set.ids();
    let thresholds: Vec<f32> = label_set.thresholds();
    let vectors: Vec<&[f32]> = predictions.iter().map(|p| p.vector.as_slice()).collect();
    let zero_shot: Vec<Vec<f32>> = predictions.iter().map(|p| margins(&p.scores, &thresholds)).collect();
    let heads = fit_heads(&vectors, &zero_shot, gold, HeadOptions::default());
    let examples: std::collections::BTreeMap<String, usize> =
        ids.iter().enumerate().map(|(j, id)| (id.clone(), gold.iter().filter(|g| g[j]).count())).collect();
    let info = HeadInfo {
        themes_head: 1,
        model: embedder.identity().name.clone(),
        revision: embedder.identity().revision.clone(),
        dim: embedder.dim(),
        label_set: label_set.name.clone(),
        label_set_hash: label_set.hash(),
        labels: ids.clone(),
        thresholds: ids.iter().map(|id| (id.clone(), 0.5)).collect(),
        examples: examples.clone(),
        trained_on: args.gold.iter().map(|p| p.display().to_string()).collect(),
    };
    let head = Head::new(info, heads, thresholds);
    head.save(&args.out)?;
    if !global.quiet {
        eprintln!("trained a head on {} paragraphs; written to {}", gold.len(), args.out.display());
        for (j, id) in ids.iter().enumerate() {
            let note = if examples[id] == 0 { "  (no examples: zero-shot decisions kept)" } else { "" };
            eprintln!("  {id:<20} {:>4} examples  prior weight {:.2}{note}", examples[id], head.per_label[j].prior);
        }
        eprintln!("estimate it honestly with: themes eval --gold ... --cv 5 --head {}", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}
