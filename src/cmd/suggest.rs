//! `themes suggest`: which paragraphs to label next for one label.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use themes::cache::CachedEmbedder;
use themes::eval::gold::{read_gold, GoldRow};
use themes::head::Head;
use themes::input::read_all;
use themes::output::Sink;
use themes::pipeline::{label_article, PreparedLabels};

use super::common::{LabelArgs, ModelArgs};
use super::Global;

/// Rank unlabelled paragraphs for one label, most useful to label first.
///
/// For a label without hand labels (a new one: add its [[label]] table to
/// your label file first, with a description), the most likely paragraphs
/// come first, so the first examples are found fast. With --head DIR for a
/// head trained with examples of the label, the most uncertain come first
/// (probability nearest 0.5): those teach the head most.
///
/// Writes a gold-format JSONL template (`themes eval`/`train` read it once
/// filled in): one row per suggestion, as a one-paragraph article with id
/// ARTICLE#PARAGRAPH, its `labels` pre-filled with the current decisions.
/// Check every row: add or remove the label, fix the others.
#[derive(Debug, clap::Args)]
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

    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,

    #[command(flatten)]
    labels: LabelArgs,

    #[command(flatten)]
    model: ModelArgs,
}

struct Candidate {
    row: GoldRow,
    score: f32,
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let label_set = args.labels.load()?;
    let Some(j) = label_set.index(&args.label) else {
        let hint = label_set.closest_id(&args.label).map(|c| format!(" (did you mean {c:?}?)")).unwrap_or_default();
        anyhow::bail!(
            "label {:?} is not in the label set {}{hint}; to suggest examples for a new label, add a [[label]] table with its id and description to a copy of the label file and pass it with --labels (docs/extending-labels.md)",
            args.label,
            label_set.source.display()
        );
    };
    anyhow::ensure!(args.n > 0, "--n must be at least 1");
    let mut known: HashSet<(String, usize)> = HashSet::new();
    for path in &args.gold {
        for r in read_gold(path)? {
            known.insert((r.article.clone(), r.paragraph));
            if let Some((article, p)) = r.article.rsplit_once('#') {
                if let Ok(p) = p.parse() {
                    known.insert((article.to_owned(), p));
                }
            }
        }
    }
    let articles = read_all(&args.inputs)?;
    let embedder = args.model.load(global)?;
    let head = match &args.head {
        Some(dir) => Some(Head::load(dir, &embedder, &label_set)?),
        None => None,
    };
    let uncertainty = head.as_ref().is_some_and(|h| h.info.examples.get(&args.label).copied().unwrap_or(0) > 0);
    let cache = super::common::open_cache(args.no_cache)?;
    let mut cached = CachedEmbedder::new(&embedder, cache, themes::embed::LongText::Windows);
    let combiner = label_set.combiner()?;
    let prepared = PreparedLabels::new(&label_set, &combiner, &mut cached)?;
    let ids = label_set.ids();
    let progress = super::progress_of(articles.len() as u64, "articles", global);
    let mut candidates = Vec::new();
    for article in &articles {
        let predictions = label_article(article, &prepared, &mut cached)
            .with_context(|| format!("scoring article {} ({})", article.id, article.source))?;
        for (mut p, text) in predictions.into_iter().zip(&article.paragraphs) {
            if known.contains(&(article.id.clone(), p.paragraph)) {
                continue;
            }
            if let Some(h) = &head {
                h.apply(&mut p);
            }
            candidates.push(Candidate {
                row: GoldRow {
                    article: format!("{}#{}", article.id, p.paragraph),
                    paragraph: 1,
                    text: text.clone(),
                    labels: p.labels.iter().map(|&k| ids[k].clone()).collect(),
                    line: 0,
                },
                score: p.scores[j],
            });
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    let key = |c: &Candidate| if uncertainty { (c.score - 0.5).abs() } else { -c.score };
    candidates.sort_by(|a, b| key(a).total_cmp(&key(b)));
    candidates.truncate(args.n);
    let mut sink = Sink::create(args.out.as_deref())?;
    for c in &candidates {
        sink.write_json_line(&c.row)?;
    }
    sink.finish()?;
    if !global.quiet {
        eprintln!(
            "{} paragraphs for {:?}, {} first; check each row's labels, then train and evaluate:",
            candidates.len(),
            args.label,
            if uncertainty { "most uncertain" } else { "most likely" }
        );
        for c in &candidates {
            let short: String = c.row.text.chars().take(70).collect();
            eprintln!("  {:.3}  {:<28} {short}", c.score, c.row.article);
        }
    }
    Ok(ExitCode::SUCCESS)
}
