//! multilingual-e5-small built from packages against sentence-transformers
//! loading the same folder: every paragraph of the five seed articles
//! (`data/reference/`, made by `scripts/reference-e5.py`).

use serde::Deserialize;
use sha2::{Digest, Sha256};
use themes::embed::{cosine, EmbedOptions, Embedder, LongText};
use themes::input::{discover, normalize, read_source};

use crate::support::{e5_package_dir, root};

#[derive(Deserialize)]
struct Reference {
    article: String,
    paragraph: usize,
    text_sha256: String,
    tokens: usize,
    embedding: Vec<f32>,
}

#[test]
fn every_seed_paragraph_matches_sentence_transformers_on_the_built_folder() {
    let text = std::fs::read_to_string(root().join("data/reference/multilingual-e5-small.jsonl")).expect("reference file");
    // The first line says how the file was made.
    let refs: Vec<Reference> = text.lines().skip(1).map(|l| serde_json::from_str(l).expect("reference row")).collect();
    let mut paragraphs = Vec::new();
    for source in discover(&[root().join("data/articles")], &Default::default()).unwrap() {
        for article in read_source(&source).unwrap() {
            for (i, p) in article.paragraphs.iter().enumerate() {
                paragraphs.push((article.id.clone(), i + 1, normalize(p)));
            }
        }
    }
    assert_eq!(refs.len(), paragraphs.len(), "one reference vector per seed paragraph");
    for (r, (article, number, text)) in refs.iter().zip(&paragraphs) {
        assert_eq!((&r.article, r.paragraph), (article, *number));
        assert_eq!(r.text_sha256, hex::encode(Sha256::digest(text.as_bytes())), "{article} {number}: the text changed");
    }
    let options = EmbedOptions { token_budget: 8192, ..EmbedOptions::new(candle_core::Device::Cpu) };
    let model = Embedder::load(&e5_package_dir(), "multilingual-e5-small", "package", &options).expect("e5 loads");
    let texts: Vec<&str> = paragraphs.iter().map(|(_, _, t)| t.as_str()).collect();
    let got = model.embed(&texts, LongText::Truncate).unwrap();
    let mut worst = f32::MAX;
    for (r, e) in refs.iter().zip(&got) {
        assert_eq!(e.vector.len(), 384);
        let c = cosine(&r.embedding, &e.vector);
        worst = worst.min(c);
        assert!(c >= 0.9999, "cosine {c} for {} paragraph {}", r.article, r.paragraph);
        assert_eq!(e.tokens, r.tokens, "token count for {} paragraph {}", r.article, r.paragraph);
    }
    eprintln!("worst cosine to sentence-transformers (e5, built from packages): {worst}");
}
