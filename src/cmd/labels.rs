//! `themes labels check`: problems in a label set before they cost accuracy.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use themes::cache::CachedEmbedder;
use themes::eval::gold::read_gold;
use themes::pipeline::PreparedLabels;

use super::common::{LabelArgs, ModelArgs};
use super::Global;

/// Label-set commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Warn about confusable descriptions, labels without gold examples,
    /// gold labels missing from the set and thresholds that never or always fire.
    ///
    /// Exit codes: 0 no warnings; 1 warnings printed; 2 error.
    Check(CheckArgs),
}

/// Options of `labels check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Gold files to check the set against (labels used, labels missing).
    #[arg(long)]
    gold: Vec<PathBuf>,

    /// Warn when two labels' descriptions are at least this similar (cosine).
    #[arg(long, default_value_t = 0.7)]
    max_similarity: f32,

    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,

    #[command(flatten)]
    labels: LabelArgs,

    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(command: Command, global: &Global) -> anyhow::Result<ExitCode> {
    let Command::Check(args) = command;
    let set = args.labels.load()?;
    let mut warnings = Vec::new();

    for label in &set.labels {
        if label.threshold <= 0.05 {
            warnings.push(format!("{}: threshold {} is so low the label fires on almost every paragraph", label.id, label.threshold));
        } else if label.threshold >= 0.95 {
            warnings.push(format!("{}: threshold {} is so high the label almost never fires", label.id, label.threshold));
        }
    }

    let embedder = args.model.load(global)?;
    let cache = super::common::open_cache(args.no_cache)?;
    let mut cached = CachedEmbedder::new(&embedder, cache, themes::embed::LongText::Windows);
    let combiner = set.combiner()?;
    let prepared = PreparedLabels::new(&set, &combiner, &mut cached)?;
    for a in 0..set.labels.len() {
        for b in a + 1..set.labels.len() {
            let (Some(va), Some(vb)) = (prepared.vectors[a].positives.first(), prepared.vectors[b].positives.first()) else { continue };
            let similarity = themes::embed::cosine(va, vb);
            if similarity >= args.max_similarity {
                warnings.push(format!(
                    "{} and {}: descriptions are confusable (cosine {similarity:.3} >= {}); make them say what sets each apart, or add negatives",
                    set.labels[a].id, set.labels[b].id, args.max_similarity
                ));
            }
        }
    }

    let mut used: BTreeMap<String, usize> = set.ids().into_iter().map(|id| (id, 0)).collect();
    for path in &args.gold {
        let rows = read_gold(path)?;
        let mut missing: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for r in &rows {
            for l in &r.labels {
                match used.get_mut(l) {
                    Some(n) => *n += 1,
                    None => missing.entry(l.clone()).or_insert((r.line, 0)).1 += 1,
                }
            }
        }
        for (l, (line, count)) in missing {
            let hint = set.closest_id(&l).map(|c| format!("; did you mean {c:?}?")).unwrap_or_default();
            warnings.push(format!("{}:{line}: label {l:?} ({count} rows) is not in the label set{hint}", path.display()));
        }
    }
    if !args.gold.is_empty() {
        for (id, n) in &used {
            if *n == 0 {
                warnings.push(format!("{id}: no gold example; its F1 cannot be measured and a head keeps its zero-shot decisions"));
            }
        }
    }

    for w in &warnings {
        println!("warning: {w}");
    }
    if !global.quiet {
        eprintln!("{}: {} labels, {} warnings", set.source.display(), set.labels.len(), warnings.len());
    }
    Ok(if warnings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
