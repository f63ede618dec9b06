//! The bench job: embedding throughput on a corpus, measured as the
//! sentence-transformers benchmark measures it, so the two compare line for
//! line (`bench/compare.sh`).

use std::time::Instant;

use crate::embed::{Embedder, LongText};
use crate::error::Result;
use crate::input::normalize;

/// The corpus's paragraphs: one per non-blank line, trimmed and normalized.
pub fn corpus(text: &str) -> Vec<String> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| normalize(l.trim())).collect()
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
    embedder.embed(&refs[..refs.len().min(64)], LongText::Truncate)?;
    let mut best = Timing { seconds: f64::MAX, tokens: 0 };
    for _ in 0..repeat.max(1) {
        let start = Instant::now();
        let out = embedder.embed(&refs, LongText::Truncate)?;
        best.seconds = best.seconds.min(start.elapsed().as_secs_f64());
        best.tokens = out.iter().map(|e| e.tokens.min(embedder.max_seq_length())).sum::<usize>();
    }
    Ok(best)
}

/// The process's peak resident memory in MiB (one decimal), from the
/// kernel's own accounting.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}
