//! `themes label`: every paragraph's themes, with scores and evidence.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use sha2::{Digest, Sha256};
use themes::cache::CachedEmbedder;
use themes::input::{discover, read_source, Article};
use themes::head::Head;
use themes::journal::{journal_path, Journal, Outputs, RowFormat};
use themes::output::{LabelRow, RowWriter};
use themes::pipeline::{label_article, PreparedLabels};
use themes::shard::{count_articles, plan_fingerprint, Manifest, ShardSpec, Skipped};

use super::common::{LabelArgs, ModelArgs};
use super::Global;

/// Output format for paragraph rows.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// One JSON object per paragraph.
    Jsonl,
    /// One line per paragraph, one score column per label.
    Csv,
}

impl From<Format> for RowFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Jsonl => RowFormat::Jsonl,
            Format::Csv => RowFormat::Csv,
        }
    }
}

/// Label every paragraph of the inputs with themes.
///
/// Inputs are .txt/.md files (one paragraph per non-empty line), .jsonl files
/// ({"id", "text"} per line), folders, or - for standard input. Every
/// paragraph gets one row, numbered as in the labelling guide, even when it
/// has no theme. Rows: {"article", "paragraph", "text", "labels", "scores",
/// "evidence", "flags"}.
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
pub struct Args {
    /// Files, folders, or - for standard input.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,

    /// Write rows here instead of standard output (committed article by
    /// article to OUT.partial, moved into place when complete).
    #[arg(short, long)]
    out: Option<PathBuf>,

    /// Row format.
    #[arg(long, value_enum, default_value = "jsonl")]
    format: Format,

    /// Also write the article-level view (JSONL): each article's themes and
    /// the share of its paragraphs that carry each.
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

    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,

    #[command(flatten)]
    labels: LabelArgs,

    #[command(flatten)]
    model: ModelArgs,
}

/// Where rows go while the run is on.
enum Rows {
    /// Standard output, as they come (no resume).
    Direct(RowWriter),
    /// The journal beside --out.
    Journal(Journal),
}

pub fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let label_set = args.labels.load()?;
    let sources = discover(&args.inputs)?;
    if sources.is_empty() {
        anyhow::bail!("no input files found: give .txt, .md or .jsonl files, folders holding them, or - for standard input");
    }
    let stdin = sources.iter().any(|s| s.is_stdin());
    if stdin && (args.resume || args.shard.is_some()) {
        anyhow::bail!("--resume and --shard need files: standard input cannot be read twice or split");
    }
    // Article counts per source give every article its ordinal: what
    // sharding splits and the progress bar counts.
    let mut counts = Vec::with_capacity(sources.len());
    // Why a source could not even be counted (with --keep-going), by index.
    let mut unreadable: Vec<Option<String>> = Vec::with_capacity(sources.len());
    for source in &sources {
        match if source.is_stdin() { Ok(0) } else { count_articles(source) } {
            Ok(n) => {
                counts.push(n);
                unreadable.push(None);
            }
            Err(err) if args.keep_going => {
                // Counted as no articles, as on every machine that cannot read it either.
                counts.push(0);
                unreadable.push(Some(err.to_string()));
                eprintln!("skipped: {err}");
            }
            Err(err) => return Err(anyhow::Error::new(err).context("stopped (--keep-going skips files that cannot be read)")),
        }
    }
    let total: usize = counts.iter().sum();
    let range = match args.shard {
        Some(spec) => spec.range(total),
        None => 0..usize::MAX,
    };

    let embedder = args.model.load(global)?;
    let cache = super::common::open_cache(args.no_cache)?;
    let mut cached = CachedEmbedder::new(&embedder, cache, themes::embed::LongText::Windows);
    let combiner = label_set.combiner()?;
    let prepared = PreparedLabels::new(&label_set, &combiner, &mut cached)?;
    let ids: Vec<String> = label_set.labels.iter().map(|l| l.id.clone()).collect();
    let languages = args.model.languages();

    let head = match &args.head {
        Some(dir) => Some(Head::load(dir, &embedder, &label_set)?),
        None => None,
    };
    let head_digest = match &args.head {
        Some(dir) => {
            let path = dir.join("head.safetensors");
            hex::encode(Sha256::digest(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?))
        }
        None => String::new(),
    };
    let plan = plan_fingerprint(&sources, &counts);
    let run_id = hex::encode(Sha256::digest(
        serde_json::json!({ "model": embedder.identity().key(), "labels": label_set.hash(), "long": "windows", "head": head_digest })
            .to_string(),
    ));
    let mut rows_out = match &args.out {
        Some(out) => {
            let journal = journal_path(out);
            let fingerprint = journal_fingerprint(&sources, &run_id, args.shard);
            if args.resume {
                let j = Journal::resume(&journal, &fingerprint)?;
                if !global.quiet && !j.done.is_empty() {
                    eprintln!("resuming: {} articles already done in {}", j.done.len(), journal.display());
                }
                Rows::Journal(j)
            } else {
                if journal.exists() {
                    tracing::warn!("{} holds an interrupted run; starting over (use --resume to go on from it)", journal.display());
                }
                Rows::Journal(Journal::create(&journal, &fingerprint)?)
            }
        }
        None => Rows::Direct(RowWriter::create(None, args.format.into(), args.summary.as_deref(), &ids)?),
    };
    // The articles an interrupted run completed, in order (empty unless resuming).
    let done: Vec<String> = match &mut rows_out {
        Rows::Journal(j) => std::mem::take(&mut j.done),
        Rows::Direct(_) => Vec::new(),
    };

    let in_range = range.end.min(total) - range.start.min(total);
    let progress = super::progress_of(if stdin { 0 } else { in_range as u64 }, "articles", global);
    let started = std::time::Instant::now();
    let mut warned_language = false;
    let mut seen: HashSet<String> = HashSet::new();
    let mut skipped: Vec<Skipped> = Vec::new();
    let (mut articles_done, mut paragraphs_done, mut resumed) = (0usize, 0usize, 0usize);
    let mut ordinal = 0usize;
    for ((source, &count), unreadable) in sources.iter().zip(&counts).zip(&unreadable) {
        let base = ordinal;
        ordinal += count;
        let overlap = base.max(range.start)..(base + count).min(range.end);
        if let Some(reason) = unreadable {
            skipped.push(Skipped { location: source.path.display().to_string(), articles: 0, reason: reason.clone() });
            continue;
        }
        // A file with no articles is read all the same, by every shard, so
        // that its error is reported.
        if !source.is_stdin() && count > 0 && overlap.is_empty() {
            continue;
        }
        let articles = match read_source(source) {
            Ok(articles) => articles,
            Err(err) if args.keep_going => {
                progress.suspend(|| eprintln!("skipped: {err}"));
                skipped.push(Skipped { location: source.path.display().to_string(), articles: overlap.len(), reason: err.to_string() });
                progress.inc(overlap.len() as u64);
                continue;
            }
            Err(err) => {
                return Err(anyhow::Error::new(err).context("stopped (--keep-going skips files that cannot be read)"));
            }
        };
        if !source.is_stdin() && articles.len() != count {
            anyhow::bail!("{}: changed while being read (found {} articles, counted {count})", source.path.display(), articles.len());
        }
        for (k, article) in articles.iter().enumerate() {
            if !source.is_stdin() && !range.contains(&(base + k)) {
                continue;
            }
            if !seen.insert(article.id.clone()) {
                let err = format!("{}: article id {:?} was already used by an earlier article; ids must be unique", article.source, article.id);
                if args.keep_going {
                    progress.suspend(|| eprintln!("skipped: {err}"));
                    skipped.push(Skipped { location: article.source.to_string(), articles: 1, reason: err });
                    progress.inc(1);
                    continue;
                }
                anyhow::bail!(err);
            }
            if resumed < done.len() {
                if done[resumed] != article.id {
                    anyhow::bail!(
                        "the journal's article {} is {:?} but the inputs give {:?} there: the inputs changed since the interrupted run; run without --resume to start over",
                        resumed + 1,
                        done[resumed],
                        article.id
                    );
                }
                resumed += 1;
                articles_done += 1;
                paragraphs_done += article.paragraphs.len();
                progress.inc(1);
                continue;
            }
            let rows = label_rows(article, &prepared, &mut cached, head.as_ref(), &ids, &languages, &mut warned_language)?;
            match &mut rows_out {
                Rows::Journal(j) => j.append(&article.id, &rows)?,
                Rows::Direct(writer) => writer.write_article(&rows)?,
            }
            articles_done += 1;
            paragraphs_done += rows.len();
            progress.inc(1);
        }
    }
    if resumed < done.len() {
        anyhow::bail!(
            "the journal holds {} articles but the inputs give only {resumed} of them: the inputs changed since the interrupted run; run without --resume to start over",
            done.len()
        );
    }
    match rows_out {
        Rows::Journal(journal) => {
            let out = args.out.as_deref().context("journal without --out")?;
            let outputs = Outputs { out, format: args.format.into(), summary: args.summary.as_deref(), ids: &ids };
            let totals = journal.finish(&outputs)?;
            if let Some(shard) = args.shard {
                Manifest {
                    shard,
                    first: range.start,
                    end: range.end,
                    total,
                    plan,
                    run: run_id,
                    labels: ids.clone(),
                    articles: totals.articles,
                    paragraphs: totals.paragraphs,
                    skipped: skipped.clone(),
                }
                .write(out)?;
            }
        }
        Rows::Direct(writer) => writer.finish()?,
    }
    progress.finish_and_clear();
    if !global.quiet {
        eprintln!(
            "labelled {articles_done} articles, {paragraphs_done} paragraphs in {:.1}s ({} texts embedded, {} from the cache{}); {} files skipped",
            started.elapsed().as_secs_f32(),
            cached.computed,
            cached.reused,
            if resumed > 0 { format!(", {resumed} articles done before resuming") } else { String::new() },
            skipped.len()
        );
    }
    if !skipped.is_empty() {
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// What the journal must match to be resumed: the run (model, labels,
/// options), the part, and each input's path, size and modification time.
fn journal_fingerprint(sources: &[themes::input::Source], run_id: &str, shard: Option<ShardSpec>) -> String {
    let mut hash = Sha256::new();
    hash.update(run_id.as_bytes());
    hash.update(shard.map(|s| s.to_string()).unwrap_or_default().as_bytes());
    for source in sources {
        hash.update(source.path.to_string_lossy().as_bytes());
        if let Ok(meta) = std::fs::metadata(&source.path) {
            hash.update(meta.len().to_le_bytes());
            if let Ok(modified) = meta.modified() {
                let since = modified.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                hash.update(since.as_nanos().to_le_bytes());
            }
        }
    }
    hex::encode(hash.finalize())
}

fn label_rows(
    article: &Article,
    prepared: &PreparedLabels,
    cached: &mut CachedEmbedder,
    head: Option<&Head>,
    ids: &[String],
    languages: &[String],
    warned_language: &mut bool,
) -> anyhow::Result<Vec<LabelRow>> {
    let mut predictions = label_article(article, prepared, cached)
        .with_context(|| format!("labelling article {} ({})", article.id, article.source))?;
    if let Some(head) = head {
        predictions.iter_mut().for_each(|p| head.apply(p));
    }
    let mut rows = Vec::with_capacity(predictions.len());
    for (p, text) in predictions.iter().zip(&article.paragraphs) {
        let mut flags = Vec::new();
        if let Some(lang) = super::common::uncovered_language(text, languages) {
            if !*warned_language {
                tracing::warn!(
                    "some paragraphs are in a language the model does not cover ({lang}); they are flagged, and their scores are unreliable: see --model in the README for a multilingual model"
                );
                *warned_language = true;
            }
            flags.push(format!("language:{lang}"));
        }
        rows.push(LabelRow {
            article: article.id.clone(),
            paragraph: p.paragraph,
            text: text.clone(),
            labels: p.labels.iter().map(|&j| ids[j].clone()).collect(),
            scores: ids.iter().cloned().zip(p.scores.iter().map(|s| (s * 10000.0).round() / 10000.0)).collect(),
            evidence: p
                .labels
                .iter()
                .map(|&j| {
                    let ev = p.evidence[j].iter().filter_map(|e| serde_json::to_value(e).ok()).collect();
                    (ids[j].clone(), ev)
                })
                .collect(),
            flags,
        });
    }
    Ok(rows)
}
