//! Embed: turns texts into the vectors sentence-transformers would give,
//! with candle's BERT. Texts are tokenized once, sorted by length and cut
//! into batches bounded by a token budget, so little work goes to padding.
//!
//! Texts longer than the model's window are either truncated exactly as
//! sentence-transformers does ([`LongText::Truncate`]) or embedded as
//! overlapping windows whose vectors are averaged ([`LongText::Windows`]),
//! so no text is lost.

use std::ops::Range;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use crate::model::bert::{Bert, Config as BertConfig};
use crate::model::cpu::{self, Encoder, Kernels, Path as CpuPath, TokenStates};
use tokenizers::Tokenizer;

use crate::error::{Error, Location, Result};
use crate::model::st::{Pooling, SentenceConfig};

/// What to do with a text longer than the model's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongText {
    /// Keep the first `max_seq_length` word pieces, as sentence-transformers does.
    #[default]
    Truncate,
    /// Embed overlapping windows and average them: nothing is lost.
    Windows,
}

impl LongText {
    /// The names the command line takes.
    pub const NAMES: [&'static str; 2] = ["truncate", "windows"];
}

impl std::str::FromStr for LongText {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "truncate" => Ok(LongText::Truncate),
            "windows" => Ok(LongText::Windows),
            other => Err(Error::Usage(format!("unknown long-text mode {other:?}: use truncate or windows"))),
        }
    }
}

/// The number format the model computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// f32 throughout.
    F32,
    /// f16 (CUDA).
    F16,
    /// bf16: on CUDA; on CPUs with AVX512-BF16, the linear layers' products
    /// in bf16 with f32 sums, the rest f32.
    Bf16,
    /// int8 products on CPUs with AVX512-VNNI or AVX-VNNI: weights per
    /// output column, inputs per token; the rest f32.
    Int8,
}

impl Dtype {
    /// The names the command line takes.
    pub const NAMES: [&'static str; 4] = ["f32", "bf16", "int8", "f16"];

    /// Its name, as in cache keys and reports.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F16 => "f16",
            Dtype::Bf16 => "bf16",
            Dtype::Int8 => "int8",
        }
    }
}

impl std::str::FromStr for Dtype {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        match spec {
            "f32" => Ok(Dtype::F32),
            "f16" => Ok(Dtype::F16),
            "bf16" => Ok(Dtype::Bf16),
            "int8" => Ok(Dtype::Int8),
            other => Err(Error::Usage(format!("unknown dtype {other:?}: use f32, bf16, int8 or f16"))),
        }
    }
}

/// Where and at which precision the model runs.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    /// The device (see [`parse_device`]).
    pub device: Device,
    /// The number format (see [`Dtype`]).
    pub dtype: Dtype,
    /// Upper bound on word pieces per forward pass; 0 chooses it from the
    /// device and the model ([`auto_token_budget`]).
    pub token_budget: usize,
    /// Which CPU kernels (ignored on CUDA).
    pub kernels: Kernels,
}

impl EmbedOptions {
    /// f32 on `device` with the kernels and budget chosen for it.
    pub fn new(device: Device) -> Self {
        EmbedOptions { device, dtype: Dtype::F32, token_budget: 0, kernels: Kernels::Auto }
    }
}

/// Where to run: `auto`, `cpu`, `cuda` or `cuda:N`, checked when parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceSpec {
    /// CUDA when the binary was built with it and a GPU answers, else the CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
}

impl std::str::FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        match spec {
            "auto" => Ok(DeviceSpec::Auto),
            "cpu" => Ok(DeviceSpec::Cpu),
            "cuda" => Ok(DeviceSpec::Cuda(0)),
            other => match other.strip_prefix("cuda:").and_then(|n| n.parse::<usize>().ok()) {
                Some(n) => Ok(DeviceSpec::Cuda(n)),
                None => Err(Error::Usage(format!("unknown device {other:?}: use auto, cpu, cuda or cuda:N"))),
            },
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceSpec {
    /// Opens the device.
    pub fn open(self) -> Result<Device> {
        let index = match self {
            DeviceSpec::Cpu => return Ok(Device::Cpu),
            DeviceSpec::Auto => {
                // Only a CUDA build has a choice to make; when it falls back,
                // it says so, since a silent CPU run on a GPU machine looks
                // like a slow GPU.
                if candle_core::utils::cuda_is_available() {
                    return match Device::new_cuda(0) {
                        Ok(device) => {
                            tracing::info!("--device auto: CUDA device 0");
                            Ok(device)
                        }
                        Err(e) => {
                            tracing::warn!("--device auto: no usable CUDA device ({e}); running on the CPU");
                            Ok(Device::Cpu)
                        }
                    };
                }
                return Ok(Device::Cpu);
            }
            DeviceSpec::Cuda(n) => n,
        };
        if !candle_core::utils::cuda_is_available() {
            return Err(Error::Usage(
                "CUDA was asked for, but this binary was built without CUDA support; rebuild with `cargo build --release --features cuda`, or use --device cpu".to_owned(),
            ));
        }
        Device::new_cuda(index).map_err(|e| Error::Usage(format!("cannot open CUDA device {index}: {e}")))
    }
}

/// Parses `auto`, `cpu`, `cuda` or `cuda:N` and opens the device.
pub fn parse_device(spec: &str) -> Result<Device> {
    spec.parse::<DeviceSpec>()?.open()
}

/// Parses `f32`, `bf16`, `int8` or `f16`.
pub fn parse_dtype(spec: &str) -> Result<Dtype> {
    spec.parse()
}

/// One text's embedding.
#[derive(Debug, Clone)]
pub struct Embedded {
    /// The text vector (unit length when the model normalizes).
    pub vector: Vec<f32>,
    /// Word pieces the text has, special tokens included (before truncation).
    pub tokens: usize,
    /// Whether word pieces past the window were dropped ([`LongText::Truncate`]).
    pub truncated: bool,
    /// Each window's vector when the text needed more than one window.
    pub windows: Vec<Vec<f32>>,
    /// One vector per span asked for ([`Passage::spans`]), in order.
    pub spans: Vec<Vec<f32>>,
}

/// A text, and the parts of it (byte ranges) whose own vectors are wanted.
///
/// A span's vector is pooled from the token states of the text's own
/// forward pass ("late chunking"), not from a pass over the span alone: it
/// costs nothing beyond the text's pass, and the span keeps the context of
/// the text around it.
#[derive(Debug, Clone, Copy)]
pub struct Passage<'a> {
    /// The text (normalized, see [`crate::input::normalize`]).
    pub text: &'a str,
    /// Byte ranges into `text`, each on character boundaries.
    pub spans: &'a [Range<usize>],
}

impl<'a> Passage<'a> {
    /// A text with no spans.
    pub fn whole(text: &'a str) -> Self {
        Passage { text, spans: &[] }
    }
}

/// Who the model is, for cache keys and reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelIdentity {
    /// The name it was resolved from.
    pub name: String,
    /// The revision (Hub commit) or `local`.
    pub revision: String,
    /// Pooling mode.
    pub pooling: Pooling,
    /// Window length in word pieces.
    pub max_seq_length: usize,
    /// Whether vectors are normalized.
    pub normalize: bool,
    /// Precision the model runs at.
    pub dtype: String,
}

impl ModelIdentity {
    /// One string that changes whenever a vector could change.
    pub fn key(&self) -> String {
        format!(
            "{}@{}|{:?}|{}|{}|{}",
            self.name, self.revision, self.pooling, self.max_seq_length, self.normalize, self.dtype
        )
    }
}

/// The encoder as loaded: candle's ops (CUDA, and CPUs without AVX2), or
/// the CPU encoder.
enum Model {
    Candle(Bert),
    Cpu(Encoder),
}

/// A loaded sentence-transformer.
pub struct Embedder {
    model: Model,
    tokenizer: Tokenizer,
    st: SentenceConfig,
    device: Device,
    token_budget: usize,
    hidden_size: usize,
    cls_id: u32,
    sep_id: u32,
    pad_id: u32,
    identity: ModelIdentity,
}

/// What the rest of the crate needs of a sentence-transformer: who it is
/// and vectors for texts. [`Embedder`] is the real one; tests of the
/// orchestration give a small deterministic one instead of loading a model.
pub trait Embed {
    /// The model's identity (cache keys, head checks, reports).
    fn identity(&self) -> &ModelIdentity;
    /// Vector length.
    fn dim(&self) -> usize;
    /// Embeds `passages` (normalized, see [`crate::input::normalize`]), with
    /// a vector for each of their spans; results come back in input order.
    /// A passage's results never depend on the other passages of the call
    /// or their order.
    fn embed_passages(&self, passages: &[Passage], long: LongText) -> Result<Vec<Embedded>>;

    /// Embeds `texts` (normalized); results come back in input order.
    fn embed(&self, texts: &[&str], long: LongText) -> Result<Vec<Embedded>> {
        let passages: Vec<Passage> = texts.iter().map(|t| Passage::whole(t)).collect();
        self.embed_passages(&passages, long)
    }
}

impl Embed for Embedder {
    fn identity(&self) -> &ModelIdentity {
        Embedder::identity(self)
    }

    fn dim(&self) -> usize {
        Embedder::dim(self)
    }

    fn embed_passages(&self, passages: &[Passage], long: LongText) -> Result<Vec<Embedded>> {
        Embedder::embed_passages(self, passages, long)
    }
}

/// Word pieces shared by neighbouring windows, so a sentence cut at a window
/// edge is seen whole by one of them.
const WINDOW_OVERLAP: usize = 32;

fn read_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

impl Embedder {
    /// Loads the model in `dir`; `name` and `revision` identify it in
    /// cache keys, reports and errors.
    pub fn load(dir: &Path, name: &str, revision: &str, options: &EmbedOptions) -> Result<Self> {
        let config_path = dir.join("config.json");
        let config_text = read_file(&config_path)?;
        let raw: serde_json::Value = serde_json::from_str(&config_text)
            .map_err(|e| Error::invalid(Location::line(&config_path, e.line()), e.to_string()))?;
        let model_type = raw.get("model_type").and_then(|v| v.as_str()).unwrap_or("bert").to_owned();
        if !matches!(model_type.as_str(), "bert" | "roberta" | "xlm-roberta" | "camembert") {
            return Err(Error::model(
                name,
                format!("architecture {model_type:?} is not supported; themes runs BERT and RoBERTa encoders (model_type \"bert\", \"roberta\", \"xlm-roberta\")"),
            ));
        }
        let mut raw = raw;
        raw["model_type"] = serde_json::Value::from(model_type);
        let config: BertConfig = serde_json::from_value(raw)
            .map_err(|e| Error::invalid(Location::file(&config_path), format!("not a BERT or RoBERTa config: {e}")))?;
        let positions = config.max_position_embeddings.saturating_sub(Bert::position_offset(&config));
        let st = SentenceConfig::read(dir, positions)?;

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", tokenizer_path.display())))?;
        // We truncate and pad ourselves: the file's own settings (often 128
        // tokens) are not sentence-transformers' max_seq_length.
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer(format!("{}: {e}", tokenizer_path.display())))?;
        tokenizer.with_padding(None);
        let special = |name: &str| {
            tokenizer.token_to_id(name).ok_or_else(|| {
                Error::Tokenizer(format!("{}: no {name} token; is this a BERT tokenizer?", tokenizer_path.display()))
            })
        };
        let cls_id = special("[CLS]").or_else(|_| special("<s>"))?;
        let sep_id = special("[SEP]").or_else(|_| special("</s>"))?;
        let pad_id = config.pad_token_id as u32;

        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(Error::model(
                name,
                format!("{} is missing; only safetensors weights are read", weights.display()),
            ));
        }
        // The int8 encoder's smoothing is set by a pass over fixed text.
        let calibration = match options.dtype {
            Dtype::Int8 => tokenizer
                .encode_batch(cpu::CALIBRATION.lines().collect::<Vec<_>>(), true)
                .map_err(|e| Error::Tokenizer(e.to_string()))?
                .iter()
                .map(|e| e.get_ids().iter().copied().take(st.max_seq_length).collect())
                .collect(),
            _ => Vec::new(),
        };
        let model = load_model(&weights, &config, options, &calibration).map_err(|e| match e {
            Error::Usage(_) => e,
            other => Error::model(name, format!("loading {}: {other}", weights.display())),
        })?;
        let max_seq_length = st.max_seq_length;
        let token_budget = match options.token_budget {
            0 => auto_token_budget(&options.device, config.intermediate_size, l3_cache_bytes()),
            n => n,
        };
        tracing::debug!("at most {token_budget} word pieces per forward pass");
        let identity = ModelIdentity {
            name: name.to_owned(),
            revision: revision.to_owned(),
            pooling: st.pooling,
            max_seq_length: st.max_seq_length,
            normalize: st.normalize,
            dtype: options.dtype.name().to_owned(),
        };
        Ok(Embedder {
            model,
            tokenizer,
            st,
            device: options.device.clone(),
            token_budget: token_budget.max(max_seq_length),
            hidden_size: config.hidden_size,
            cls_id,
            sep_id,
            pad_id,
            identity,
        })
    }

    /// The model's identity.
    pub fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    /// The CPU code path the model runs on (`None` on CUDA).
    pub fn cpu_path(&self) -> Option<CpuPath> {
        match &self.model {
            Model::Cpu(encoder) => Some(encoder.path()),
            Model::Candle(_) if self.device.is_cpu() => Some(CpuPath::Portable),
            Model::Candle(_) => None,
        }
    }

    /// The linear layers' products alone over a pass of `rows` tokens
    /// ([`Encoder::time_products`]): (floating-point operations, seconds of
    /// the fastest of `repeat`), on the CPU encoder only.
    pub fn time_products(&self, rows: usize, repeat: usize) -> Option<(f64, f64)> {
        match &self.model {
            Model::Cpu(encoder) => Some(encoder.time_products(rows, repeat)),
            Model::Candle(_) => None,
        }
    }

    /// Word pieces per forward pass at most.
    pub fn token_budget(&self) -> usize {
        self.token_budget
    }

    /// Vector length.
    pub fn dim(&self) -> usize {
        self.hidden_size
    }

    /// The window length in word pieces.
    pub fn max_seq_length(&self) -> usize {
        self.st.max_seq_length
    }

    /// Word pieces of a text, special tokens included, without truncation.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.tokenizer.encode(text.trim_end(), true).map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Embeds `texts` (already normalized by the caller, see
    /// [`crate::input::normalize`]); results come back in input order.
    pub fn embed(&self, texts: &[&str], long: LongText) -> Result<Vec<Embedded>> {
        let passages: Vec<Passage> = texts.iter().map(|t| Passage::whole(t)).collect();
        self.embed_passages(&passages, long)
    }

    /// Embeds `passages`, each in one forward pass (or one per window), and
    /// pools each span's vector from the token states of that pass.
    pub fn embed_passages(&self, passages: &[Passage], long: LongText) -> Result<Vec<Embedded>> {
        // Trailing white space (a no-break space ending a line) is no token:
        // BERT's tokenizer drops it, sentencepiece (XLM-R) too, but an XLM-R
        // `tokenizer.json` read as written keeps a lone `▁` for it. Byte
        // offsets of what remains are unchanged.
        let texts: Vec<&str> = passages.iter().map(|p| p.text.trim_end()).collect();
        let encodings = self.tokenizer.encode_batch(texts, true).map_err(|e| Error::Tokenizer(e.to_string()))?;
        // Each text becomes one or more sequences (windows); `owner` maps a
        // sequence back to its text, `wanted` to the span slots it serves.
        let mut sequences: Vec<Vec<u32>> = Vec::new();
        let mut owner: Vec<usize> = Vec::new();
        let mut wanted: Vec<Vec<SpanTokens>> = Vec::new();
        let mut results: Vec<Embedded> = Vec::with_capacity(passages.len());
        let mut first_slot = Vec::with_capacity(passages.len());
        let mut slots = 0;
        for (index, (encoding, passage)) in encodings.iter().zip(passages).enumerate() {
            let ids = encoding.get_ids();
            let (pieces, truncated) = self.split(ids, long);
            let spans = span_tokens(encoding, passage.spans);
            results.push(Embedded { vector: Vec::new(), tokens: ids.len(), truncated, windows: Vec::new(), spans: Vec::new() });
            first_slot.push(slots);
            for (start, piece) in pieces {
                // Token `t` of the text (in `ids`) sits at `t - start` in a
                // window that starts at content token `start`.
                let inside = start + 1..start + piece.len() - 1;
                wanted.push(
                    spans
                        .iter()
                        .enumerate()
                        .map(|(k, tokens)| SpanTokens {
                            slot: slots + k,
                            positions: tokens.iter().filter(|t| inside.contains(t)).map(|t| t - start).collect(),
                        })
                        .filter(|s| !s.positions.is_empty())
                        .collect(),
                );
                sequences.push(piece);
                owner.push(index);
            }
            slots += passage.spans.len();
        }
        let (vectors, parts) = self.embed_sequences(&sequences, &wanted)?;
        let mut per_text: Vec<Vec<Vec<f32>>> = vec![Vec::new(); passages.len()];
        // Span sums are added window by window in text order, whatever order
        // the batches ran in, so a span's vector is the same in any call.
        let mut span_sums: Vec<Option<(Vec<f32>, usize)>> = vec![None; slots];
        for ((vector, &index), parts) in vectors.into_iter().zip(&owner).zip(parts) {
            per_text[index].push(vector);
            for part in parts {
                match &mut span_sums[part.slot] {
                    Some((sum, count)) => {
                        self.combine(sum, &part.sum);
                        *count += part.count;
                    }
                    empty => *empty = Some((part.sum, part.count)),
                }
            }
        }
        for ((result, windows), (passage, &first)) in results.iter_mut().zip(per_text).zip(passages.iter().zip(&first_slot)) {
            if windows.len() == 1 {
                result.vector = windows.into_iter().next().unwrap_or_default();
            } else {
                result.vector = mean_normalized(&windows);
                result.windows = windows;
            }
            result.spans = (first..first + passage.spans.len())
                .map(|slot| match span_sums[slot].take() {
                    Some((sum, count)) => self.finish_span(sum, count),
                    // Only a truncated text can lose a span's every token:
                    // the span then stands for the part of the text that was read.
                    None => result.vector.clone(),
                })
                .collect();
        }
        Ok(results)
    }

    /// Adds a window's partial pool of a span to another's: a sum for mean
    /// pooling, a running maximum for max pooling.
    fn combine(&self, into: &mut [f32], part: &[f32]) {
        for (a, b) in into.iter_mut().zip(part) {
            *a = if self.st.pooling == Pooling::Max { a.max(*b) } else { *a + b };
        }
    }

    /// A span's vector from its pooled token states (normalized when the
    /// model normalizes). CLS pooling has no per-span token, so its spans
    /// are mean-pooled.
    fn finish_span(&self, mut sum: Vec<f32>, count: usize) -> Vec<f32> {
        if self.st.pooling != Pooling::Max {
            sum.iter_mut().for_each(|x| *x /= count.max(1) as f32);
        }
        if self.st.normalize {
            let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            sum.iter_mut().for_each(|x| *x /= norm);
        }
        sum
    }

    /// Cuts one text's word pieces into the sequences the model sees, each
    /// with the index of its first content token.
    fn split(&self, ids: &[u32], long: LongText) -> (Vec<(usize, Vec<u32>)>, bool) {
        let max = self.st.max_seq_length;
        if ids.len() <= max {
            return (vec![(0, ids.to_vec())], false);
        }
        // `ids` is [CLS] content... [SEP]; windows re-wrap slices of the content.
        let content = &ids[1..ids.len() - 1];
        let width = max - 2;
        let wrap = |slice: &[u32]| {
            let mut seq = Vec::with_capacity(slice.len() + 2);
            seq.push(self.cls_id);
            seq.extend_from_slice(slice);
            seq.push(self.sep_id);
            seq
        };
        match long {
            LongText::Truncate => (vec![(0, wrap(&content[..width]))], true),
            LongText::Windows => {
                let step = width - WINDOW_OVERLAP.min(width / 2);
                let mut windows = Vec::new();
                let mut start = 0;
                loop {
                    let end = (start + width).min(content.len());
                    windows.push((start, wrap(&content[start..end])));
                    if end == content.len() {
                        break;
                    }
                    start += step;
                }
                (windows, false)
            }
        }
    }

    /// Runs the model over sequences of word pieces in length-sorted batches
    /// and returns one pooled vector per sequence, and the partial pools of
    /// the spans each sequence was asked for, in input order.
    fn embed_sequences(&self, sequences: &[Vec<u32>], wanted: &[Vec<SpanTokens>]) -> Result<Pooled> {
        let mut order: Vec<usize> = (0..sequences.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(sequences[i].len()));
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); sequences.len()];
        let mut parts: Vec<Vec<SpanPart>> = (0..sequences.len()).map(|_| Vec::new()).collect();
        let mut start = 0;
        while start < order.len() {
            // Sorted longest first, so the first sequence sets the padded width.
            let width = sequences[order[start]].len();
            let count = (self.token_budget / width.max(1)).max(1).min(order.len() - start);
            let batch = &order[start..start + count];
            let (vectors, batch_parts) = self.forward_batch(batch, sequences, wanted)?;
            for ((vector, part), &i) in vectors.into_iter().zip(batch_parts).zip(batch) {
                out[i] = vector;
                parts[i] = part;
            }
            start += count;
        }
        Ok((out, parts))
    }

    fn forward_batch(
        &self,
        batch: &[usize],
        sequences: &[Vec<u32>],
        wanted: &[Vec<SpanTokens>],
    ) -> Result<Pooled> {
        let refs: Vec<&[u32]> = batch.iter().map(|&i| sequences[i].as_slice()).collect();
        let states = self.token_states(&refs)?;
        // Every sum runs over rows in token order, whatever the batch.
        let pool = |b: usize, positions: &mut dyn Iterator<Item = usize>| -> (Vec<f32>, usize) {
            let mut sum: Option<Vec<f32>> = None;
            let mut count = 0;
            for p in positions {
                let row = states.row(b, p);
                match &mut sum {
                    Some(sum) => self.combine(sum, row),
                    None => sum = Some(row.to_vec()),
                }
                count += 1;
            }
            (sum.unwrap_or_else(|| vec![0.0; self.hidden_size]), count)
        };
        let parts = batch
            .iter()
            .enumerate()
            .map(|(b, &i)| {
                wanted[i]
                    .iter()
                    .map(|span| {
                        let (sum, count) = pool(b, &mut span.positions.iter().copied());
                        SpanPart { slot: span.slot, sum, count }
                    })
                    .collect()
            })
            .collect();
        let vectors = refs
            .iter()
            .enumerate()
            .map(|(b, seq)| {
                let mut v = match self.st.pooling {
                    Pooling::Cls => states.row(b, 0).to_vec(),
                    Pooling::Mean => {
                        let (mut sum, count) = pool(b, &mut (0..seq.len()));
                        sum.iter_mut().for_each(|x| *x /= count.max(1) as f32);
                        sum
                    }
                    Pooling::Max => pool(b, &mut (0..seq.len())).0,
                };
                if self.st.normalize {
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    v.iter_mut().for_each(|x| *x /= norm);
                }
                v
            })
            .collect();
        Ok((vectors, parts))
    }

    /// The token states of `sequences` (each within the window).
    fn token_states(&self, sequences: &[&[u32]]) -> Result<TokenStates> {
        match &self.model {
            Model::Cpu(encoder) => encoder.forward(sequences).map_err(|e| Error::model(&self.identity.name, e)),
            Model::Candle(bert) => {
                // Padded to the longest; the padding's rows are dropped.
                let width = sequences.iter().map(|s| s.len()).max().unwrap_or(0);
                let count = sequences.len();
                let mut ids = Vec::with_capacity(count * width);
                let mut mask = Vec::with_capacity(count * width);
                for seq in sequences {
                    ids.extend_from_slice(seq);
                    ids.extend(std::iter::repeat_n(self.pad_id, width - seq.len()));
                    mask.extend(std::iter::repeat_n(1u32, seq.len()));
                    mask.extend(std::iter::repeat_n(0u32, width - seq.len()));
                }
                let input_ids = Tensor::from_vec(ids, (count, width), &self.device)?;
                let attention = Tensor::from_vec(mask, (count, width), &self.device)?;
                let hidden = bert.forward(&input_ids, &attention)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
                let h = self.hidden_size;
                let mut data = Vec::with_capacity(sequences.iter().map(|s| s.len()).sum::<usize>() * h);
                let mut starts = Vec::with_capacity(count);
                for (b, seq) in sequences.iter().enumerate() {
                    starts.push(data.len() / h);
                    data.extend_from_slice(&hidden[b * width * h..(b * width + seq.len()) * h]);
                }
                Ok(TokenStates { data, starts, hidden: h })
            }
        }
    }
}

/// Loads the weights for the device and dtype: on the CPU, the encoder of
/// [`cpu`] on the path chosen for this CPU (candle's ops where there is no
/// AVX2, or for activations other than BERT's GELU); on CUDA, candle's ops.
fn load_model(weights: &Path, config: &BertConfig, options: &EmbedOptions, calibration: &[Vec<u32>]) -> Result<Model> {
    let load = |dtype: DType| -> Result<Bert> {
        // SAFETY: the file is memory-mapped read-only; it was verified
        // against its checksum and nothing in this process writes to it.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], dtype, &options.device)? };
        Ok(Bert::load(vb, config)?)
    };
    if !options.device.is_cpu() {
        let dtype = match options.dtype {
            Dtype::F32 => DType::F32,
            Dtype::F16 => DType::F16,
            Dtype::Bf16 => DType::BF16,
            Dtype::Int8 => return Err(Error::Usage("--dtype int8 runs on the CPU only: use --dtype bf16 or f16 on CUDA".to_owned())),
        };
        return Ok(Model::Candle(load(dtype)?));
    }
    let precision = match options.dtype {
        Dtype::F32 => cpu::Precision::F32,
        Dtype::Bf16 => cpu::Precision::Bf16,
        Dtype::Int8 => cpu::Precision::Int8,
        // candle's CPU f16: slow, but what was asked for.
        Dtype::F16 => return Ok(Model::Candle(load(DType::F16)?)),
    };
    let path = cpu::choose(&cpu::Features::detect(), options.kernels, precision).map_err(Error::Usage)?;
    let bert = load(DType::F32)?;
    if path == CpuPath::Portable {
        return Ok(Model::Candle(bert));
    }
    let calibration: Vec<&[u32]> = calibration.iter().map(Vec::as_slice).collect();
    match Encoder::new(&bert, path, &calibration) {
        Ok(encoder) => Ok(Model::Cpu(encoder)),
        Err(why) if precision == cpu::Precision::F32 => {
            tracing::info!("{why}: running candle's ops");
            Ok(Model::Candle(bert))
        }
        Err(why) => Err(Error::Usage(format!("--dtype {}: {why}; use --dtype f32", options.dtype.name()))),
    }
}

/// Per sequence, its pooled vector and the partial pools of its spans.
type Pooled = (Vec<Vec<f32>>, Vec<Vec<SpanPart>>);

/// The token positions (in one sequence) of one span.
struct SpanTokens {
    slot: usize,
    positions: Vec<usize>,
}

/// One sequence's partial pool of one span.
struct SpanPart {
    slot: usize,
    sum: Vec<f32>,
    count: usize,
}

/// For each span (byte range), the indices of the text's word pieces that
/// overlap it, special tokens excluded.
fn span_tokens(encoding: &tokenizers::Encoding, spans: &[Range<usize>]) -> Vec<Vec<usize>> {
    let offsets = encoding.get_offsets();
    let special = encoding.get_special_tokens_mask();
    spans
        .iter()
        .map(|span| {
            (0..offsets.len())
                .filter(|&t| special[t] == 0 && offsets[t].0 < span.end && offsets[t].1 > span.start)
                .collect()
        })
        .collect()
}

/// The default bound on padded word pieces per forward pass. On the CPU the
/// products run fastest while a layer's widest activation (tokens ×
/// intermediate size, f32) stays within half the last-level cache: on a
/// 16 MiB L3, all-MiniLM-L6-v2 embeds about 1.4x more paragraphs per second
/// at 1,024–2,048 word pieces per pass than at 8,192. A GPU wants big
/// batches.
pub fn auto_token_budget(device: &Device, intermediate_size: usize, l3_bytes: Option<usize>) -> usize {
    const MOST: usize = 8192;
    if !device.is_cpu() {
        return MOST;
    }
    let l3 = l3_bytes.unwrap_or(16 << 20);
    (l3 / 2 / (intermediate_size.max(1) * 4)).clamp(512, MOST)
}

/// The size of the CPU's last-level (L3) cache, as Linux reports it.
fn l3_cache_bytes() -> Option<usize> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cache/index3/size").ok()?;
    let text = text.trim();
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: usize = digits.parse().ok()?;
    Some(match unit {
        "K" => n << 10,
        "M" => n << 20,
        "" => n,
        _ => return None,
    })
}

/// The normalized mean of several vectors: a paragraph's vector from its
/// windows' vectors.
pub fn mean_normalized(vectors: &[Vec<f32>]) -> Vec<f32> {
    let dim = vectors.first().map_or(0, Vec::len);
    let mut mean = vec![0f32; dim];
    for v in vectors {
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x;
        }
    }
    let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    mean.iter_mut().for_each(|m| *m /= norm);
    mean
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums of each, one pass: the compiler keeps them in
    // vector registers (one running sum is a chain it cannot reorder).
    let (mut dot, mut na, mut nb) = ([0f32; 8], [0f32; 8], [0f32; 8]);
    let whole = a.len().min(b.len()) / 8 * 8;
    for (x, y) in a[..whole].chunks_exact(8).zip(b[..whole].chunks_exact(8)) {
        for j in 0..8 {
            dot[j] += x[j] * y[j];
            na[j] += x[j] * x[j];
            nb[j] += y[j] * y[j];
        }
    }
    let (mut dot, mut na, mut nb) = (dot.iter().sum::<f32>(), na.iter().sum::<f32>(), nb.iter().sum::<f32>());
    for (x, y) in a[whole..].iter().zip(&b[whole..]) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    dot / (na.sqrt() * nb.sqrt()).max(1e-12)
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_batch_keeps_the_widest_activation_within_half_the_l3() {
        // all-MiniLM-L6-v2's intermediate layer is 1536 wide.
        assert_eq!(auto_token_budget(&Device::Cpu, 1536, Some(16 << 20)), 1365);
        assert_eq!(auto_token_budget(&Device::Cpu, 1536, Some(1 << 20)), 512, "never below 512");
        assert_eq!(auto_token_budget(&Device::Cpu, 1536, Some(1 << 30)), 8192, "never above 8192");
        assert_eq!(auto_token_budget(&Device::Cpu, 1536, None), 1365, "16 MiB when the size is unknown");
    }
}
