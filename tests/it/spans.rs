//! Span vectors pooled from the paragraph's own forward pass: the same
//! whatever else is in the call, and present for every span of a long
//! paragraph.

use std::ops::Range;

use themes::classify::segment::unit_ranges;
use themes::embed::{cosine, LongText, Passage};
use themes::input::normalize;

use crate::support::{embedder, shared};

/// Real paragraphs with several units each, from the seed articles.
fn paragraphs() -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(shared().join("data/seeds")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| std::fs::read_to_string(f).unwrap().lines().map(normalize).collect::<Vec<_>>())
        .filter(|p| unit_ranges(p).len() >= 2)
        .take(10)
        .collect()
}

fn passages<'a>(texts: &'a [String], spans: &'a [Vec<Range<usize>>]) -> Vec<Passage<'a>> {
    texts.iter().zip(spans).map(|(text, spans)| Passage { text, spans }).collect()
}

#[test]
fn span_vectors_are_identical_whatever_the_batch_and_its_order() {
    let texts = paragraphs();
    assert_eq!(texts.len(), 10, "ten seed paragraphs with several units");
    let spans: Vec<Vec<Range<usize>>> = texts.iter().map(|p| unit_ranges(p)).collect();
    let all = embedder().embed_passages(&passages(&texts, &spans), LongText::Windows).unwrap();
    let reversed_texts: Vec<String> = texts.iter().rev().cloned().collect();
    let reversed_spans: Vec<Vec<Range<usize>>> = spans.iter().rev().cloned().collect();
    let reversed = embedder().embed_passages(&passages(&reversed_texts, &reversed_spans), LongText::Windows).unwrap();
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.spans.len(), spans[i].len());
        let alone = &embedder().embed_passages(&passages(&texts[i..=i], &spans[i..=i]), LongText::Windows).unwrap()[0];
        assert_eq!(e.spans, alone.spans, "paragraph {i}: alone and in a batch");
        assert_eq!(e.spans, reversed[texts.len() - 1 - i].spans, "paragraph {i}: in either order");
        assert_eq!(e.vector, alone.vector, "the paragraph's own vector does not depend on the batch either");
        // A span's vector is its own, not the paragraph's.
        for (range, v) in spans[i].iter().zip(&e.spans) {
            assert!(cosine(v, &e.vector) < 0.9999, "{:?} is pooled from its own tokens", &texts[i][range.clone()]);
        }
    }
}

#[test]
fn the_last_span_of_a_paragraph_longer_than_the_window_is_scored() {
    // Seed paragraphs joined into one paragraph well past the model's window.
    let parts = paragraphs();
    let long = parts.join(" ");
    let tokens = embedder().token_ids(&long).unwrap().len();
    assert!(tokens > embedder().max_seq_length() + 64, "{tokens} word pieces");
    let spans = unit_ranges(&long);
    let last = spans.last().unwrap().clone();
    let last_text = &long[last.clone()];
    assert!(parts.last().unwrap().contains(last_text), "the last unit is in the last part: {last_text:?}");
    let passage = [Passage { text: &long, spans: &spans }];
    let windowed = &embedder().embed_passages(&passage, LongText::Windows).unwrap()[0];
    let truncated = &embedder().embed_passages(&passage, LongText::Truncate).unwrap()[0];
    assert!(windowed.windows.len() >= 2, "{} windows", windowed.windows.len());
    let separate = &embedder().embed(&[last_text], LongText::Windows).unwrap()[0].vector;
    let in_window = cosine(windowed.spans.last().unwrap(), separate);
    // Truncated, the last span has no token in the window and stands for
    // what was read; in windows it is pooled from the last window.
    assert_eq!(truncated.spans.last().unwrap(), &truncated.vector);
    assert!(in_window > 0.5 && in_window > cosine(&truncated.vector, separate) + 0.1, "{in_window}");
}
