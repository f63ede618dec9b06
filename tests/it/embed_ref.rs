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

/// Every CPU kernel path this CPU has, forced one by one: the 81
/// reference texts within the path's bound of sentence-transformers' f32
/// vectors (f32 0.9999, bf16 0.999, int8 0.995), the same word pieces, and
/// each text's vector the same bytes alone as in the batch of all 81 (the
/// portable path, candle's padded batches: cosine 0.99999). Paths the CPU
/// lacks are named and skipped.
#[test]
fn every_kernel_path_this_cpu_has_matches_sentence_transformers_and_ignores_the_batch() {
    use themes::embed::{Dtype, EmbedOptions, Embedder};
    use themes::model::cpu::{choose, Features, Kernels, Path, Precision};
    let refs = references();
    let texts: Vec<String> = refs.iter().map(|r| normalize(&r.text)).collect();
    let slices: Vec<&str> = texts.iter().map(String::as_str).collect();
    let cpu = Features::detect();
    let cases = [
        (Dtype::F32, Precision::F32, Kernels::Avx512, 0.9999),
        (Dtype::F32, Precision::F32, Kernels::Avx2, 0.9999),
        (Dtype::F32, Precision::F32, Kernels::Portable, 0.9999),
        (Dtype::Bf16, Precision::Bf16, Kernels::Avx512, 0.999),
        (Dtype::Int8, Precision::Int8, Kernels::Avx512, 0.995),
        (Dtype::Int8, Precision::Int8, Kernels::Avx2, 0.995),
    ];
    let mut ran = 0;
    for (dtype, precision, kernels, bound) in cases {
        let path = match choose(&cpu, kernels, precision) {
            Ok(path) => path,
            Err(why) => {
                eprintln!("skipped {dtype:?} with {kernels:?}: {why}");
                continue;
            }
        };
        let options = EmbedOptions { dtype, kernels, token_budget: 8192, ..EmbedOptions::new(candle_core::Device::Cpu) };
        let embedder = Embedder::load(&crate::support::model_dir(), "all-MiniLM-L6-v2", "test", &options).unwrap();
        assert_eq!(embedder.cpu_path(), Some(path), "the path forced is the path run");
        let got = embedder.embed(&slices, LongText::Truncate).unwrap();
        let max = embedder.max_seq_length();
        let mut worst = f32::MAX;
        for (r, e) in refs.iter().zip(&got) {
            worst = worst.min(cosine(&r.embedding, &e.vector));
            assert_eq!(e.tokens.min(max), r.tokens, "token count for {:?}", r.text);
        }
        assert!(worst >= bound, "{}: worst cosine {worst} below {bound}", path.describe());
        if precision != Precision::F32 {
            assert!(worst < 0.99999, "{}: {worst}, as close as f32: are the reduced products in use?", path.describe());
        }
        for (i, e) in got.iter().enumerate() {
            let alone = &embedder.embed(&slices[i..=i], LongText::Truncate).unwrap()[0];
            if path == Path::Portable {
                assert!(cosine(&alone.vector, &e.vector) >= 0.99999, "{}: text {i} alone", path.describe());
            } else {
                assert_eq!(alone.vector, e.vector, "{}: text {i} alone and in the batch", path.describe());
            }
        }
        eprintln!("{}: worst cosine to sentence-transformers {worst}", path.describe());
        ran += 1;
    }
    assert!(ran >= 1, "at least the portable path runs everywhere");
}
