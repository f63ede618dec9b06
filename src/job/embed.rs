//! The embed job: every paragraph's vector as one JSONL row
//! (`{"article", "paragraph", "text", "tokens", "truncated", "embedding"}`),
//! streamed in chunks so memory stays flat.

use crate::embed::{Embed, LongText};
use crate::error::Result;
use crate::input::{normalize, Article};
use crate::output::{EmbeddingRow, Sink};

/// Paragraphs embedded per call.
const CHUNK: usize = 256;

/// Writes one row per paragraph of `articles` to `sink`, calling `done`
/// with the paragraphs of each chunk written.
pub fn run(embedder: &dyn Embed, articles: &[Article], long: LongText, sink: &mut Sink, mut done: impl FnMut(u64)) -> Result<()> {
    let paragraphs: Vec<_> = articles.iter().flat_map(|a| a.numbered()).collect();
    for chunk in paragraphs.chunks(CHUNK) {
        let texts: Vec<String> = chunk.iter().map(|p| normalize(p.text)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embedded = embedder.embed(&refs, long)?;
        for (p, e) in chunk.iter().zip(&embedded) {
            let (tokens, truncated) = (e.tokens, e.truncated);
            sink.write_json_line(&EmbeddingRow { article: p.article, paragraph: p.number, text: p.text, tokens, truncated, embedding: &e.vector })?;
        }
        done(chunk.len() as u64);
    }
    Ok(())
}
