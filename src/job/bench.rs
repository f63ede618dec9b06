//! The bench job: throughput of the embedding kernel on a corpus, measured
//! as the sentence-transformers benchmark measures it, or of the whole
//! labelling job on articles; both reported as one JSON line in the peers'
//! shape, so they compare line for line (`bench/compare.sh`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::embed::{Embedder, LongText};
use crate::engine::Engine;
use crate::error::{Error, Location, Result};
use crate::input::{normalize, read_all};
use crate::labels::LabelSet;

/// The corpus's paragraphs: one per non-blank line, trimmed and normalized.
pub fn corpus(text: &str) -> Vec<String> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| normalize(l.trim())).collect()
}

/// The corpus file's paragraphs (see [`corpus`]); none is an error.
pub fn read_corpus(path: &Path) -> Result<Vec<String>> {
    let paragraphs = corpus(&std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?);
    if paragraphs.is_empty() {
        return Err(Error::invalid(Location::file(path), "no paragraphs: the corpus is empty or holds only white space"));
    }
    Ok(paragraphs)
}

/// The best of `repeat` passes.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Seconds of the fastest pass.
    pub seconds: f64,
    /// Word pieces embedded per pass (up to the model's window each).
    pub tokens: usize,
}

/// After a warm-up on 64 paragraphs, embeds all of them `repeat` times
/// (truncating at the model's window, as sentence-transformers does; no
/// cache) and keeps the fastest pass.
pub fn throughput(embedder: &Embedder, paragraphs: &[String], repeat: usize) -> Result<Timing> {
    let refs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
    warm_up(embedder, &refs)?;
    let mut best = Timing { seconds: f64::MAX, tokens: 0 };
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let out = embedder.embed(&refs, LongText::Truncate)?;
        best.seconds = best.seconds.min(start.elapsed().as_secs_f64());
        best.tokens = out.iter().map(|e| e.tokens.min(embedder.max_seq_length())).sum::<usize>();
    }
    Ok(best)
}

/// The model's first calls are slow (allocation, kernels chosen): one small
/// call first, untimed, as the peers do.
fn warm_up(embedder: &Embedder, paragraphs: &[&str]) -> Result<()> {
    embedder.embed(&paragraphs[..paragraphs.len().min(64)], LongText::Truncate).map(drop)
}

/// A timed labelling job: what `themes label --no-cache` does.
#[derive(Debug)]
pub struct JobPlan<'a> {
    /// Files and folders, as `themes label` takes them.
    pub inputs: Vec<PathBuf>,
    /// The label set whose prototypes every pass embeds.
    pub set: &'a LabelSet,
    /// Languages the model covers (rows flag the others, as `label` does).
    pub languages: Vec<String>,
    /// Timed passes; the fastest is kept.
    pub repeat: usize,
}

/// The fastest pass of a labelling job.
#[derive(Debug, Clone, Copy)]
pub struct JobTiming {
    /// Seconds of the fastest pass, from reading the inputs to the last row.
    pub seconds: f64,
    /// Articles labelled per pass.
    pub articles: usize,
    /// Paragraphs labelled per pass.
    pub paragraphs: usize,
    /// The paragraphs' word pieces, each up to the model's window, as the
    /// kernel counts them (long paragraphs take more: all their windows).
    pub tokens: usize,
    /// Texts of the paragraphs the model embedded per pass, one per
    /// paragraph (its sentences, clauses and list items are pooled from its
    /// pass): as `themes label` counts them, the label set's own texts not
    /// included.
    pub texts: usize,
    /// Texts of the label set the model embedded per pass.
    pub label_texts: usize,
}

/// Reads the inputs once (so a bad file stops the run before anything is
/// timed) and warms the model up on their first 64 paragraphs, then runs
/// the job `repeat` times, each pass timed from reading the inputs to the
/// last article's rows (built and serialized, written nowhere): a fresh
/// engine with no cache embeds the label set's prototypes, then labels every
/// article. Loading the model is not timed.
pub fn job(embedder: &Embedder, plan: &JobPlan) -> Result<JobTiming> {
    let articles = read_all(&plan.inputs)?;
    let paragraphs: Vec<String> = articles.iter().flat_map(|a| &a.paragraphs).map(|p| normalize(p)).collect();
    let refs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
    let mut tokens = 0;
    for text in &refs {
        tokens += embedder.token_ids(text)?.len().min(embedder.max_seq_length());
    }
    warm_up(embedder, &refs)?;
    let ids = plan.set.ids();
    let mut best = JobTiming { seconds: f64::MAX, articles: articles.len(), paragraphs: refs.len(), tokens, texts: 0, label_texts: 0 };
    for _ in 0..plan.repeat.max(1) {
        let start = Instant::now();
        let articles = read_all(&plan.inputs)?;
        let mut engine = Engine::new(embedder, None, plan.set, None)?;
        let label_texts = engine.embedded().0;
        // Small articles embedded together, as `themes label` does.
        engine.label_all(&articles, |article, predictions| {
            let predictions =
                predictions.map_err(|e| e.context(format!("labelling article {} ({})", article.id, article.source)))?;
            for row in super::label::rows(article, &predictions, &ids, &plan.languages) {
                std::hint::black_box(serde_json::to_vec(&row).map_err(|e| Error::io("-", e.into()))?);
            }
            Ok(())
        })?;
        best.seconds = best.seconds.min(start.elapsed().as_secs_f64());
        (best.label_texts, best.texts) = (label_texts, engine.embedded().0 - label_texts);
    }
    Ok(best)
}

/// One benchmark's JSON line: sentence-transformers' keys (system, device,
/// threads, paragraphs, tokens, seconds, paragraphs_per_s, tokens_per_s),
/// with the mode, precision and peak memory, and for a job what it labelled
/// and embedded.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `kernel` or `job`.
    pub mode: &'static str,
    /// Always `themes`.
    pub system: &'static str,
    /// The device as asked for (`auto`, `cpu`, `cuda:0`).
    pub device: String,
    /// The precision of the weights.
    pub dtype: String,
    /// The CPU kernels' path (`model::cpu::Path::describe`), or `cuda`.
    pub kernels: String,
    /// Threads the model's kernels run on.
    pub threads: usize,
    /// Paragraphs per pass.
    pub paragraphs: usize,
    /// Word pieces per pass (up to the window each).
    pub tokens: usize,
    /// The fastest pass, in seconds (3 decimals).
    pub seconds: f64,
    /// Paragraphs per second of the fastest pass.
    pub paragraphs_per_s: f64,
    /// Word pieces per second of the fastest pass.
    pub tokens_per_s: f64,
    /// The process's peak resident memory.
    pub peak_rss_mib: Option<f64>,
    /// Job: articles per pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub articles: Option<usize>,
    /// Job: the paragraphs' texts the model embedded per pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub texts_embedded: Option<usize>,
    /// Job: `texts_embedded` per paragraph (1 is one text per paragraph).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub texts_per_paragraph: Option<f64>,
    /// Job: the label set's texts embedded per pass (in `seconds`, not in
    /// `texts_embedded`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_texts: Option<usize>,
}

impl Report {
    /// The kernel mode's line for `timing` over `paragraphs`.
    pub fn kernel(timing: Timing, paragraphs: usize, embedder: &Embedder, device: &str) -> Report {
        Report::new("kernel", timing.seconds, paragraphs, timing.tokens, embedder, device)
    }

    /// The job mode's line.
    pub fn job(timing: JobTiming, embedder: &Embedder, device: &str) -> Report {
        let paragraphs = timing.paragraphs;
        Report {
            articles: Some(timing.articles),
            texts_embedded: Some(timing.texts),
            texts_per_paragraph: Some(round(timing.texts as f64 / paragraphs.max(1) as f64, 1000.0)),
            label_texts: Some(timing.label_texts),
            ..Report::new("job", timing.seconds, paragraphs, timing.tokens, embedder, device)
        }
    }

    fn new(mode: &'static str, seconds: f64, paragraphs: usize, tokens: usize, embedder: &Embedder, device: &str) -> Report {
        Report {
            mode,
            system: "themes",
            device: device.to_owned(),
            dtype: embedder.identity().dtype.clone(),
            kernels: kernels_of(embedder),
            threads: rayon::current_num_threads(),
            paragraphs,
            tokens,
            seconds: round(seconds, 1000.0),
            paragraphs_per_s: round(paragraphs as f64 / seconds, 10.0),
            tokens_per_s: round(tokens as f64 / seconds, 10.0),
            peak_rss_mib: peak_rss_mib(),
            articles: None,
            texts_embedded: None,
            texts_per_paragraph: None,
            label_texts: None,
        }
    }
}

/// The products-only line: how fast the linear layers' products run at the
/// model's shapes, alone, over one pass of the token budget; `tokens_per_s`
/// is then the most a pass of this code path could reach (the ceiling the
/// kernel and job lines are measured against).
#[derive(Debug, Clone, Serialize)]
pub struct ProductsReport {
    /// Always `products`.
    pub mode: &'static str,
    /// Always `themes`.
    pub system: &'static str,
    /// The precision of the products.
    pub dtype: String,
    /// The CPU kernels' path.
    pub kernels: String,
    /// Threads.
    pub threads: usize,
    /// Rows (word pieces) per pass.
    pub rows: usize,
    /// Multiplications and additions per word piece, all layers.
    pub flop_per_token: f64,
    /// The products' rate, in 10⁹ operations per second.
    pub gflop_per_s: f64,
    /// Word pieces per second if the products were all the work.
    pub tokens_per_s: f64,
}

/// Times the products alone (best of `repeat` passes of the token budget);
/// an error on a model that does not run on the CPU encoder.
pub fn products(embedder: &Embedder, repeat: usize) -> Result<ProductsReport> {
    let rows = embedder.token_budget();
    let (flops, seconds) = embedder
        .time_products(rows, repeat.max(1))
        .ok_or_else(|| Error::Usage("--products times the CPU encoder's products: not on CUDA or the portable kernels".to_owned()))?;
    Ok(ProductsReport {
        mode: "products",
        system: "themes",
        dtype: embedder.identity().dtype.clone(),
        kernels: kernels_of(embedder),
        threads: rayon::current_num_threads(),
        rows,
        flop_per_token: round(flops / rows as f64, 1.0),
        gflop_per_s: round(flops / seconds / 1e9, 10.0),
        tokens_per_s: round(rows as f64 / seconds, 10.0),
    })
}

/// The code path a line reports: the CPU kernels', or `cuda`.
fn kernels_of(embedder: &Embedder) -> String {
    embedder.cpu_path().map_or("cuda", |p| p.describe()).to_owned()
}

fn round(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

/// The process's peak resident memory in MiB (one decimal), from the
/// kernel's own accounting.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}
