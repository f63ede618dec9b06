//! `themes` labels news articles paragraph by paragraph with themes, using a
//! local sentence-transformer, and measures how well it does.
//!
//! The data's path, one module per stage:
//!
//! 1. [`input`] reads files, folders or standard input and splits each
//!    article into numbered paragraphs ([`jsonl`] is the one line reader of
//!    every JSONL format).
//! 2. [`model`] finds the sentence-transformer (registry, fetch, checksum)
//!    and loads it; [`embed`] turns paragraphs into vectors, in length-sorted
//!    batches, with [`cache`] remembering vectors already computed.
//! 3. [`labels`] reads a label set; [`classify`] scores every paragraph
//!    against every label and decides; [`engine`] joins model, cache,
//!    label set and decision rule, one article at a time.
//! 4. [`output`] writes rows (JSONL, CSV) and article summaries, atomically;
//!    [`journal`] commits long runs article by article so they can resume,
//!    and [`shard`] splits a batch over machines and merges the parts.
//! 5. [`eval`] scores predictions against hand-labelled gold data;
//!    [`learn`] fits the classifier's weights, trained heads and the
//!    anchors to it.
//!
//! [`job`] runs whole commands (label, eval, train, calibrate, suggest,
//! check) on validated plans; the binary only parses arguments into plans
//! and prints what the jobs return.
#![warn(missing_docs)]

pub mod about;
pub mod error;
pub mod input;
pub mod jsonl;
pub mod lang;
pub mod model;
pub mod embed;
pub mod cache;
pub mod labels;
pub mod classify;
pub mod engine;
pub mod output;
pub mod journal;
pub mod shard;
pub mod eval;
pub mod learn;
pub mod job;
pub mod progress;
#[cfg(test)]
mod fake;

pub use error::{Error, Location, Result};

/// `n` and the noun, plural unless `n` is 1: "1 article", "2 articles"
/// (the nouns the messages use take a plain `s`).
pub fn count(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}
