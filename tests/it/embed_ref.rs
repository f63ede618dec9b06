//! The embedding engine against sentence-transformers' own vectors.

use serde::Deserialize;
use themes::embed::{cosine, LongText};
use themes::input::normalize;

use crate::support::{embedder, root};

#[derive(Deserialize)]
struct Reference {
    text: String,
    tokens: usize,
    embedding: Vec<f32>,
}

fn references() -> Vec<Reference> {
    let path = root().join("tests/fixtures/reference-all-MiniLM-L6-v2.jsonl");
    let text = std::fs::read_to_string(&path).expect("reference fixture");
    // The first line describes how the file was made.
    text.lines().skip(1).map(|l| serde_json::from_str(l).expect("reference row")).collect()
}

#[test]
fn every_reference_text_matches_sentence_transformers() {
    let refs = references();
    assert_eq!(refs.len(), 81);
    let texts: Vec<String> = refs.iter().map(|r| normalize(&r.text)).collect();
    let slices: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got = embedder().embed(&slices, LongText::Truncate).unwrap();
    let max = embedder().max_seq_length();
    let mut worst = f32::MAX;
    for (r, e) in refs.iter().zip(&got) {
        let c = cosine(&r.embedding, &e.vector);
        worst = worst.min(c);
        assert!(c >= 0.9999, "cosine {c} for {:?}", r.text);
        assert_eq!(e.tokens.min(max), r.tokens, "token count for {:?}", r.text);
    }
    assert!(refs.iter().any(|r| r.tokens == max), "the fixture holds a text longer than the window");
    eprintln!("worst cosine to sentence-transformers: {worst}");
}

#[test]
fn batching_does_not_change_vectors() {
    let refs = references();
    let texts: Vec<String> = refs.iter().take(12).map(|r| normalize(&r.text)).collect();
    let all: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batched = embedder().embed(&all, LongText::Truncate).unwrap();
    let reversed: Vec<&str> = all.iter().rev().copied().collect();
    let back = embedder().embed(&reversed, LongText::Truncate).unwrap();
    for (i, e) in batched.iter().enumerate() {
        let single = embedder().embed(&all[i..=i], LongText::Truncate).unwrap();
        assert!(cosine(&e.vector, &single[0].vector) > 0.99999);
        assert!(cosine(&e.vector, &back[all.len() - 1 - i].vector) > 0.99999);
    }
}

#[test]
fn windows_cover_a_long_text_and_truncation_does_not() {
    let long = references().into_iter().find(|r| r.tokens == embedder().max_seq_length()).unwrap();
    let text = normalize(&long.text);
    let windowed = &embedder().embed(&[&text], LongText::Windows).unwrap()[0];
    let truncated = &embedder().embed(&[&text], LongText::Truncate).unwrap()[0];
    assert!(truncated.truncated && !windowed.truncated);
    assert!(windowed.windows.len() >= 2, "a long text gets several windows");
    assert!(windowed.tokens > embedder().max_seq_length());
    let norm: f32 = windowed.vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "the paragraph vector is normalized");
    // The first window is the truncated text.
    assert!(cosine(&windowed.windows[0], &truncated.vector) > 0.99999);
}

/// `--dtype bf16` on the CPU: within 0.999 of sentence-transformers' f32
/// vectors on every reference text (skipped, and said so, on a CPU
/// without AVX512-BF16).
#[test]
fn bf16_products_stay_within_the_reduced_precision_bound() {
    if !themes::model::bf16::supported() {
        eprintln!("this CPU has no AVX512-BF16: bf16 reference test skipped");
        return;
    }
    let options = themes::embed::EmbedOptions {
        device: candle_core::Device::Cpu,
        dtype: candle_core::DType::BF16,
        token_budget: 8192,
    };
    let bf16 = themes::embed::Embedder::load(&crate::support::model_dir(), "all-MiniLM-L6-v2", "test", &options).unwrap();
    let refs = references();
    let texts: Vec<String> = refs.iter().map(|r| normalize(&r.text)).collect();
    let slices: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got = bf16.embed(&slices, LongText::Truncate).unwrap();
    let worst = refs.iter().zip(&got).map(|(r, e)| cosine(&r.embedding, &e.vector)).fold(f32::MAX, f32::min);
    assert!(worst >= 0.999, "worst cosine {worst}");
    assert!(worst < 0.99999, "bf16 products must differ from f32 ({worst}): are they in use?");
    eprintln!("bf16: worst cosine to sentence-transformers: {worst}");
}
