//! A BERT encoder in candle's ops: the same arithmetic as
//! `candle_transformers::models::bert` (and Hugging Face's `BertModel`), laid
//! out so each layer does a few large matrix products instead of many small
//! ones: activations are kept as one `[tokens, hidden]` matrix, the query,
//! key and value projections are fused into one product, and weights are
//! stored pre-transposed. It runs on CUDA and on CPUs without AVX2; the
//! CPU encoder (`model::cpu`) takes its weights from here.
//!
//! RoBERTa-family checkpoints (XLM-RoBERTa: multilingual-e5, LaBSE-like
//! paraphrase models) are the same encoder with two differences, both taken
//! from the config: position ids start after the padding index, and there is
//! one token type.
//!
//! A config from serde, `load(vb, &cfg)`, `forward`: nothing else.

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

pub use candle_transformers::models::bert::{Config, HiddenAct};

/// `x · Wᵀ + b` with `Wᵀ` stored contiguous.
pub(crate) struct Dense {
    /// `[inputs, outputs]`.
    pub(crate) weight_t: Tensor,
    pub(crate) bias: Tensor,
}

impl Dense {
    fn load(vb: VarBuilder, input: usize, output: usize) -> Result<Self> {
        let weight = vb.get((output, input), "weight")?;
        let bias = vb.get(output, "bias")?;
        Ok(Dense { weight_t: weight.t()?.contiguous()?, bias })
    }

    fn fused(parts: &[Dense]) -> Result<Self> {
        let weights: Vec<&Tensor> = parts.iter().map(|d| &d.weight_t).collect();
        let biases: Vec<&Tensor> = parts.iter().map(|d| &d.bias).collect();
        Ok(Dense { weight_t: Tensor::cat(&weights, 1)?.contiguous()?, bias: Tensor::cat(&biases, 0)? })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight_t)?.broadcast_add(&self.bias)
    }
}

pub(crate) struct Norm {
    pub(crate) weight: Tensor,
    pub(crate) bias: Tensor,
    pub(crate) eps: f32,
}

impl Norm {
    fn load(vb: VarBuilder, size: usize, eps: f64) -> Result<Self> {
        // Old checkpoints name the parameters gamma/beta.
        let (weight, bias) = match (vb.get(size, "weight"), vb.get(size, "bias")) {
            (Ok(w), Ok(b)) => (w, b),
            _ => (vb.get(size, "gamma")?, vb.get(size, "beta")?),
        };
        Ok(Norm { weight, bias, eps: eps as f32 })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

pub(crate) struct Layer {
    pub(crate) qkv: Dense,
    pub(crate) attention_out: Dense,
    pub(crate) attention_norm: Norm,
    pub(crate) intermediate: Dense,
    pub(crate) output: Dense,
    pub(crate) output_norm: Norm,
}

/// The encoder.
pub struct Bert {
    pub(crate) word: Tensor,
    pub(crate) position: Tensor,
    /// The first position id: 0 for BERT, `pad_token_id + 1` for RoBERTa.
    pub(crate) position_offset: usize,
    pub(crate) token_type: Tensor,
    pub(crate) embedding_norm: Norm,
    pub(crate) layers: Vec<Layer>,
    pub(crate) heads: usize,
    pub(crate) head_dim: usize,
    pub(crate) hidden: usize,
    pub(crate) act: HiddenAct,
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
        let word = e.get((cfg.vocab_size, h), "word_embeddings.weight")?;
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

    /// Token vectors `[batch, len, hidden]` for `input_ids` `[batch, len]`
    /// (u32) and `mask` `[batch, len]` (1 for tokens, 0 for padding), in
    /// candle's ops: the path on CUDA, and on CPUs without AVX2 (the CPU
    /// encoder, [`super::cpu::Encoder`], runs everywhere else). Token
    /// types are all 0, as sentence-transformers sends them for one text.
    pub fn forward(&self, input_ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, len) = input_ids.dims2()?;
        let dtype = self.position.dtype();
        let words = self.word.index_select(&input_ids.flatten_all()?, 0)?.reshape((batch, len, self.hidden))?;
        let extra = self.position.narrow(0, self.position_offset, len)?.broadcast_add(&self.token_type.narrow(0, 0, 1)?)?;
        let x = words.broadcast_add(&extra)?.reshape((batch * len, self.hidden))?;
        let mut x = self.embedding_norm.forward(&x)?;
        // Padding keys get a large negative score before the softmax.
        let mask_bias = ((mask.to_dtype(dtype)? - 1.0)? * 1e4)?.reshape((batch, 1, 1, len))?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?.reshape((batch, len, 3, self.heads, self.head_dim))?;
            let q = qkv.narrow(2, 0, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()?;
            let k = qkv.narrow(2, 1, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()?;
            let v = qkv.narrow(2, 2, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()?;
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&mask_bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = probs.matmul(&v)?.transpose(1, 2)?.reshape((batch * len, self.hidden))?;
            let attended = layer.attention_out.forward(&context)?;
            x = layer.attention_norm.forward(&(attended + &x)?)?;
            let inner = layer.intermediate.forward(&x)?;
            let inner = match self.act {
                HiddenAct::Gelu => inner.gelu_erf()?,
                HiddenAct::GeluApproximate => inner.gelu()?,
                HiddenAct::Relu => inner.relu()?,
            };
            let out = layer.output.forward(&inner)?;
            x = layer.output_norm.forward(&(out + &x)?)?;
        }
        x.reshape((batch, len, self.hidden))
    }
}
