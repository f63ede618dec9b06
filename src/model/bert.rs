//! A BERT encoder written for throughput on the CPU: the same arithmetic as
//! `candle_transformers::models::bert` (and Hugging Face's `BertModel`), laid
//! out so each layer does a few large matrix products instead of many small
//! ones: activations are kept as one `[tokens, hidden]` matrix, the query,
//! key and value projections are fused into one product, and weights are
//! stored pre-transposed.
//!
//! RoBERTa-family checkpoints (XLM-RoBERTa: multilingual-e5, LaBSE-like
//! paraphrase models) are the same encoder with two differences, both taken
//! from the config: position ids start after the padding index, and there is
//! one token type.
//!
//! A config from serde, `load(vb, &cfg)`, `forward`: nothing else.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::kernels::{CpuAttention, FastGeluErf, ResidualNorm};
use super::bf16::{Bf16Linear, PackError, PackedBf16};
pub use candle_transformers::models::bert::Config;

/// `x · Wᵀ + b` with `Wᵀ` stored contiguous, or packed for bf16 products.
struct Dense {
    weight_t: Tensor,
    bias: Tensor,
    bf16: Option<PackedBf16>,
}

impl Dense {
    fn load(vb: VarBuilder, input: usize, output: usize) -> Result<Self> {
        let weight = vb.get((output, input), "weight")?;
        let bias = vb.get(output, "bias")?;
        Ok(Dense { weight_t: weight.t()?.contiguous()?, bias, bf16: None })
    }

    /// Switches the product to bf16 (f32 weights only; a layer whose width
    /// is not a multiple of 32 stays f32).
    fn to_bf16(&mut self) -> Result<()> {
        let (inputs, outputs) = self.weight_t.dims2()?;
        let weight: Vec<f32> = self.weight_t.flatten_all()?.to_vec1()?;
        let bias: Vec<f32> = self.bias.to_vec1()?;
        self.bf16 = match PackedBf16::pack(&weight, inputs, outputs, &bias) {
            Ok(packed) => Some(packed),
            Err(PackError::Shape) => None,
            Err(PackError::Cpu) => candle_core::bail!("bf16 products need a CPU with AVX512-BF16"),
        };
        Ok(())
    }

    fn fused(parts: &[Dense]) -> Result<Self> {
        let weights: Vec<&Tensor> = parts.iter().map(|d| &d.weight_t).collect();
        let biases: Vec<&Tensor> = parts.iter().map(|d| &d.bias).collect();
        Ok(Dense { weight_t: Tensor::cat(&weights, 1)?.contiguous()?, bias: Tensor::cat(&biases, 0)?, bf16: None })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.bf16 {
            Some(packed) => x.contiguous()?.apply_op1_no_bwd(&Bf16Linear(packed)),
            None => x.matmul(&self.weight_t)?.broadcast_add(&self.bias),
        }
    }
}

struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
    /// The parameters as host vectors, for the fused CPU kernel (f32 on the CPU only).
    host: Option<(Vec<f32>, Vec<f32>)>,
}

impl Norm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        // Old checkpoints name the parameters gamma/beta.
        let (weight, bias) = match (vb.get(size, "weight"), vb.get(size, "bias")) {
            (Ok(w), Ok(b)) => (w, b),
            _ => (vb.get(size, "gamma")?, vb.get(size, "beta")?),
        };
        let host = if weight.device().is_cpu() && weight.dtype() == candle_core::DType::F32 {
            Some((weight.to_vec1()?, bias.to_vec1()?))
        } else {
            None
        };
        Ok(Norm { weight, bias, eps: eps as f32, host })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }

    /// `norm(x + residual)`.
    fn forward_residual(&self, x: &Tensor, residual: &Tensor) -> Result<Tensor> {
        match &self.host {
            Some((weight, bias)) if x.dtype() == candle_core::DType::F32 => {
                let op = ResidualNorm { weight, bias, eps: self.eps };
                x.contiguous()?.apply_op2_no_bwd(&residual.contiguous()?, &op)
            }
            _ => self.forward(&(x + residual)?),
        }
    }
}

struct Layer {
    qkv: Dense,
    attention_out: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// The encoder.
pub struct Bert {
    word: candle_nn::Embedding,
    position: Tensor,
    /// The first position id: 0 for BERT, `pad_token_id + 1` for RoBERTa.
    position_offset: usize,
    token_type: Tensor,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    act: candle_transformers::models::bert::HiddenAct,
}

impl Bert {
    /// The first position id for a config's architecture: RoBERTa numbers
    /// positions from the padding index + 1, as its embeddings were trained.
    pub fn position_offset(cfg: &Config) -> usize {
        match cfg.model_type.as_deref() {
            Some("roberta" | "xlm-roberta" | "camembert") => cfg.pad_token_id + 1,
            _ => 0,
        }
    }

    /// Loads the weights (with or without a `bert.` or `roberta.` prefix).
    pub fn load(vb: VarBuilder, cfg: &Config) -> Result<Self> {
        let prefix = ["bert", "roberta"].into_iter().find(|p| vb.contains_tensor(&format!("{p}.embeddings.word_embeddings.weight")));
        let vb = match prefix {
            Some(p) => vb.pp(p),
            None => vb,
        };
        let h = cfg.hidden_size;
        let e = vb.pp("embeddings");
        let word = candle_nn::embedding(cfg.vocab_size, h, e.pp("word_embeddings"))?;
        let position = e.get((cfg.max_position_embeddings, h), "position_embeddings.weight")?;
        let token_type = e.get((cfg.type_vocab_size, h), "token_type_embeddings.weight")?;
        let embedding_norm = Norm::load(e.pp("LayerNorm"), h, cfg.layer_norm_eps)?;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let l = vb.pp(format!("encoder.layer.{i}"));
            let a = l.pp("attention");
            let q = Dense::load(a.pp("self.query"), h, h)?;
            let k = Dense::load(a.pp("self.key"), h, h)?;
            let v = Dense::load(a.pp("self.value"), h, h)?;
            layers.push(Layer {
                qkv: Dense::fused(&[q, k, v])?,
                attention_out: Dense::load(a.pp("output.dense"), h, h)?,
                attention_norm: Norm::load(a.pp("output.LayerNorm"), h, cfg.layer_norm_eps)?,
                intermediate: Dense::load(l.pp("intermediate.dense"), h, cfg.intermediate_size)?,
                output: Dense::load(l.pp("output.dense"), cfg.intermediate_size, h)?,
                output_norm: Norm::load(l.pp("output.LayerNorm"), h, cfg.layer_norm_eps)?,
            });
        }
        Ok(Bert {
            word,
            position,
            position_offset: Bert::position_offset(cfg),
            token_type,
            embedding_norm,
            layers,
            heads: cfg.num_attention_heads,
            head_dim: h / cfg.num_attention_heads,
            hidden: h,
            act: cfg.hidden_act,
        })
    }

    /// Runs the linear layers' products in bf16 (`model::bf16`), keeping
    /// the rest in f32; for f32 weights on a CPU with AVX512-BF16.
    pub fn use_bf16_products(&mut self) -> Result<()> {
        for layer in &mut self.layers {
            for dense in [&mut layer.qkv, &mut layer.attention_out, &mut layer.intermediate, &mut layer.output] {
                dense.to_bf16()?;
            }
        }
        Ok(())
    }

    /// Token vectors `[batch, len, hidden]` for `input_ids` `[batch, len]`
    /// (u32) and `mask` `[batch, len]` (1 for tokens, 0 for padding). Token
    /// types are all 0, as sentence-transformers sends them for one text.
    /// `lengths` holds each sequence's real length (padding comes last).
    pub fn forward(&self, input_ids: &Tensor, mask: &Tensor, lengths: &[usize]) -> Result<Tensor> {
        let (batch, len) = input_ids.dims2()?;
        let dtype = self.position.dtype();
        let words = self.word.forward(&input_ids.flatten_all()?)?.reshape((batch, len, self.hidden))?;
        let extra = self.position.narrow(0, self.position_offset, len)?.broadcast_add(&self.token_type.narrow(0, 0, 1)?)?;
        let x = words.broadcast_add(&extra)?.reshape((batch * len, self.hidden))?;
        let mut x = self.embedding_norm.forward(&x)?;
        // Padding keys get a large negative score before the softmax.
        let mask_bias = ((mask.to_dtype(dtype)? - 1.0)? * 1e4)?.reshape((batch, 1, 1, len))?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let fused_cpu = x.device().is_cpu() && x.dtype() == candle_core::DType::F32;
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?;
            let context = if fused_cpu {
                let op = CpuAttention { lengths: lengths.to_vec(), len, heads: self.heads, head_dim: self.head_dim };
                qkv.apply_op1_no_bwd(&op)?
            } else {
                let qkv = qkv.reshape((batch, len, 3, self.heads, self.head_dim))?;
                let q = qkv.narrow(2, 0, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()?;
                let k = qkv.narrow(2, 1, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()?;
                let v = qkv.narrow(2, 2, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()?;
                let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&mask_bias)?;
                let probs = candle_nn::ops::softmax_last_dim(&scores)?;
                probs.matmul(&v)?.transpose(1, 2)?.reshape((batch * len, self.hidden))?
            };
            let attended = layer.attention_out.forward(&context)?;
            x = layer.attention_norm.forward_residual(&attended, &x)?;
            let inner = layer.intermediate.forward(&x)?;
            let inner = match self.act {
                candle_transformers::models::bert::HiddenAct::Gelu if fused_cpu => inner.apply_op1_no_bwd(&FastGeluErf)?,
                candle_transformers::models::bert::HiddenAct::Gelu => inner.gelu_erf()?,
                candle_transformers::models::bert::HiddenAct::GeluApproximate => inner.gelu()?,
                candle_transformers::models::bert::HiddenAct::Relu => inner.relu()?,
            };
            let out = layer.output.forward(&inner)?;
            x = layer.output_norm.forward_residual(&out, &x)?;
        }
        x.reshape((batch, len, self.hidden))
    }
}
