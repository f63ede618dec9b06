//! The XLM-RoBERTa path: a tiny encoder with random weights and the real
//! XLM-R tokenizer (scripts/test-assets.sh), run by `themes` and by
//! candle-transformers' own XLM-RoBERTa model on the same weights. The two
//! must agree: position ids after the padding index, one token type, the
//! `roberta.` prefix, padding in a batch of different lengths.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_transformers::models::xlm_roberta::{Config, XLMRobertaModel};
use rand::{Rng, SeedableRng};
use themes::embed::{EmbedOptions, Embedder, LongText};

use crate::support::{root, themes};

const HIDDEN: usize = 32;
const LAYERS: usize = 2;
const INTERMEDIATE: usize = 64;
const VOCAB: usize = 250_002;
const POSITIONS: usize = 514;

const CONFIG: &str = r#"{"model_type": "xlm-roberta", "architectures": ["XLMRobertaModel"], "vocab_size": 250002,
 "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64, "hidden_act": "gelu",
 "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 514, "type_vocab_size": 1,
 "initializer_range": 0.02, "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
 "position_embedding_type": "absolute"}"#;

/// Random weights under XLM-R's names, `prefix` before each.
fn weights(prefix: &str) -> HashMap<String, Tensor> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut tensor = |shape: &[usize], centre: f32, spread: f32| {
        let n: usize = shape.iter().product();
        let values: Vec<f32> = (0..n).map(|_| centre + spread * (rng.random::<f32>() * 2.0 - 1.0)).collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    };
    let mut w = HashMap::new();
    let mut put = |name: String, t: Tensor| {
        w.insert(format!("{prefix}{name}"), t);
    };
    put("embeddings.word_embeddings.weight".into(), tensor(&[VOCAB, HIDDEN], 0.0, 0.5));
    put("embeddings.position_embeddings.weight".into(), tensor(&[POSITIONS, HIDDEN], 0.0, 0.5));
    put("embeddings.token_type_embeddings.weight".into(), tensor(&[1, HIDDEN], 0.0, 0.5));
    put("embeddings.LayerNorm.weight".into(), tensor(&[HIDDEN], 1.0, 0.2));
    put("embeddings.LayerNorm.bias".into(), tensor(&[HIDDEN], 0.0, 0.1));
    for l in 0..LAYERS {
        let at = |name: &str| format!("encoder.layer.{l}.{name}");
        for dense in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
            put(at(&format!("{dense}.weight")), tensor(&[HIDDEN, HIDDEN], 0.0, 0.3));
            put(at(&format!("{dense}.bias")), tensor(&[HIDDEN], 0.0, 0.1));
        }
        put(at("intermediate.dense.weight"), tensor(&[INTERMEDIATE, HIDDEN], 0.0, 0.3));
        put(at("intermediate.dense.bias"), tensor(&[INTERMEDIATE], 0.0, 0.1));
        put(at("output.dense.weight"), tensor(&[HIDDEN, INTERMEDIATE], 0.0, 0.2));
        put(at("output.dense.bias"), tensor(&[HIDDEN], 0.0, 0.1));
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            put(at(&format!("{norm}.weight")), tensor(&[HIDDEN], 1.0, 0.2));
            put(at(&format!("{norm}.bias")), tensor(&[HIDDEN], 0.0, 0.1));
        }
    }
    w
}

/// The reference: candle-transformers' XLM-RoBERTa, one text at a time (no
/// padding), mean-pooled.
fn reference(dir: &Path, ids: &[u32]) -> Vec<f32> {
    let cfg: Config = serde_json::from_str(CONFIG).unwrap();
    // SAFETY: the file was written by this test and is not changed while mapped.
    let vb = unsafe { candle_nn::VarBuilder::from_mmaped_safetensors(&[dir.join("model.safetensors")], DType::F32, &Device::Cpu) }.unwrap();
    let model = XLMRobertaModel::new(&cfg, vb.pp("roberta")).unwrap();
    let input = Tensor::new(ids, &Device::Cpu).unwrap().unsqueeze(0).unwrap();
    let mask = Tensor::ones_like(&input).unwrap();
    let types = Tensor::zeros_like(&input).unwrap();
    let states = model.forward(&input, &mask, &types, None, None, None).unwrap();
    states.mean(1).unwrap().squeeze(0).unwrap().to_vec1().unwrap()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// A model folder holding the tiny encoder and the real XLM-R tokenizer
/// (fetched once, checksummed, as the default model is).
fn tiny_model() -> tempfile::TempDir {
    let status = std::process::Command::new("bash").arg(root().join("scripts/test-assets.sh")).status().unwrap();
    assert!(status.success(), "scripts/test-assets.sh could not fetch the XLM-R tokenizer");
    let tokenizer = root().join("models/xlm-r-tokenizer/tokenizer.json");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&tokenizer, dir.path().join("tokenizer.json")).unwrap();
    std::fs::write(dir.path().join("config.json"), CONFIG).unwrap();
    candle_core::safetensors::save(&weights("roberta."), dir.path().join("model.safetensors")).unwrap();
    dir
}

#[test]
fn weights_fitted_to_another_model_are_refused_until_trained_for_this_one() {
    let model = tiny_model();
    let work = tempfile::tempdir().unwrap();
    let labels = work.path().join("labels.toml");
    let cache = work.path().join("cache");
    let run = |args: &[&str]| {
        let mut command = themes();
        command.env("THEMES_CACHE", &cache).arg("--quiet").args(args).arg("--model").arg(model.path());
        command
    };
    let out = work.path().join("rows.jsonl");
    let refused = run(&["label", "data/articles"]).current_dir(root()).arg("--out").arg(&out).assert().code(2);
    let stderr = String::from_utf8_lossy(&refused.get_output().stderr).into_owned();
    assert!(stderr.contains("has learned weights fitted to all-MiniLM-L6-v2, multilingual-e5-small but none fitted to"), "{stderr}");
    assert!(stderr.contains("`themes labels show > my.toml`, then `themes train --model"), "{stderr}");
    assert!(!out.exists());
    // What the message says to do, done: export, fit to this model, label.
    let shown = themes().args(["labels", "show"]).output().unwrap();
    std::fs::write(&labels, &shown.stdout).unwrap();
    let labels_arg = labels.to_str().unwrap();
    run(&["train", "--labels", labels_arg, "--gold", "data/gold/seeds.jsonl", "--out", labels_arg]).current_dir(root()).assert().success();
    let text = std::fs::read_to_string(&labels).unwrap();
    assert!(text.contains(&format!("[classifiers.{:?}]", model.path().display().to_string())), "the tiny model's weights beside the default model's");
    let kept = text.contains("[classifier]\n") && text.contains("[classifiers.multilingual-e5-small]");
    assert!(kept && text.matches("trained_on").count() == 3, "the shipped models' weights are kept");
    run(&["label", "--labels", labels_arg, "data/articles"]).current_dir(root()).arg("--out").arg(&out).assert().success();
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 76);
}

#[test]
fn a_tiny_xlm_roberta_matches_candle_transformers_on_the_real_tokenizer() {
    let dir = tiny_model();

    let options = EmbedOptions::new(Device::Cpu);
    let embedder = Embedder::load(dir.path(), "tiny-xlm-r", "test", &options).unwrap();
    assert_eq!(embedder.max_seq_length(), 512, "514 positions less the padding index and the one before it");
    let texts = [
        "Vietnam and the United States upgraded their ties to a comprehensive strategic partnership.",
        "Việt Nam và Hoa Kỳ nâng cấp quan hệ lên Đối tác chiến lược toàn diện.",
        "ASEAN",
    ];
    let ids: Vec<Vec<u32>> = texts.iter().map(|t| embedder.token_ids(t).unwrap()).collect();
    // The real tokenizer: <s> first, </s> last, Vietnamese in known pieces.
    for seq in &ids {
        assert_eq!((seq[0], seq[seq.len() - 1]), (0, 2), "{seq:?}");
        assert!(!seq.contains(&3), "an unknown piece in {seq:?}");
    }
    assert!(ids[1].len() < 30, "Vietnamese is read in whole syllables: {:?}", ids[1]);
    // All three in one batch: padded to the longest.
    let ours = embedder.embed(&texts, LongText::Truncate).unwrap();
    for ((text, seq), got) in texts.iter().zip(&ids).zip(&ours) {
        let want = reference(dir.path(), seq);
        let c = cosine(&got.vector, &want);
        assert!(c >= 0.99999, "{text:?}: cosine {c} to candle-transformers' XLM-RoBERTa");
    }
    // The offset matters: a BERT reading (positions from 0) of the same
    // weights gives other vectors.
    let mut bert = serde_json::from_str::<serde_json::Value>(CONFIG).unwrap();
    bert["model_type"] = "bert".into();
    std::fs::write(dir.path().join("config.json"), bert.to_string()).unwrap();
    let as_bert = Embedder::load(dir.path(), "tiny-as-bert", "test", &options).unwrap().embed(&texts[..1], LongText::Truncate).unwrap();
    assert!(cosine(&as_bert[0].vector, &ours[0].vector) < 0.999, "the position offset changes nothing: the test would not see it");
}
