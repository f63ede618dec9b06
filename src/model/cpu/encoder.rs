//! BERT's forward pass on the CPU over the real tokens of a batch: the
//! sequences' tokens are rows of one matrix (no padding), each layer four
//! products against packed weights ([`gemm`]) with attention per sequence
//! in between ([`super::ops::attend`]).

use candle_core::{DType, Tensor};
use rayon::prelude::*;

use super::gemm::{self, Epilogue, Format, Job, Packed};
use super::ops::{Norm, Tables};
use super::{dispatch, Features, Isa, Path};
use crate::model::bert::{Bert, HiddenAct};

/// The token states of a batch: the real tokens' rows, sequence after
/// sequence.
#[derive(Debug, Clone)]
pub struct TokenStates {
    /// `tokens × hidden` floats.
    pub data: Vec<f32>,
    /// Each sequence's first row.
    pub starts: Vec<usize>,
    /// Row width.
    pub hidden: usize,
}

impl TokenStates {
    /// Row `position` of sequence `sequence`.
    pub fn row(&self, sequence: usize, position: usize) -> &[f32] {
        let at = (self.starts[sequence] + position) * self.hidden;
        &self.data[at..at + self.hidden]
    }
}

struct Layer {
    qkv: Packed,
    attention_out: Packed,
    attention_norm: (Vec<f32>, Vec<f32>),
    intermediate: Packed,
    output: Packed,
    output_norm: (Vec<f32>, Vec<f32>),
}

/// A pass's activation buffers, kept for the next pass so that a pass
/// neither allocates nor zero-fills them (every element is written before
/// it is read).
#[derive(Default)]
struct Buffers {
    qkv: Vec<f32>,
    context: Vec<f32>,
    inner: Vec<f32>,
}

/// The encoder with its weights on the host, packed for one [`Path`].
pub struct Encoder {
    path: Path,
    isa: Isa,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: (Vec<f32>, Vec<f32>),
    eps: f32,
    layers: Vec<Layer>,
    heads: usize,
    head_dim: usize,
    hidden: usize,
    vocab: usize,
    position_offset: usize,
    positions: usize,
    /// Buffers of finished passes (one per pass running at once).
    spare: std::sync::Mutex<Vec<Buffers>>,
}

/// Per layer, per product (qkv, attention output, intermediate, output),
/// the largest magnitude each input feature reached.
type Ranges = Vec<[Vec<f32>; 4]>;

/// Lines of ordinary text (news-like English, one Vietnamese line, page
/// furniture) whose pass through the f32 encoder sets the int8 smoothing.
pub const CALIBRATION: &str = include_str!("calibration.txt");

fn host(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

/// A layer norm's weight and bias on the host.
fn host_norm(n: &crate::model::bert::Norm) -> Result<(Vec<f32>, Vec<f32>), String> {
    let err = |e: candle_core::Error| e.to_string();
    Ok((host(&n.weight).map_err(err)?, host(&n.bias).map_err(err)?))
}

impl Encoder {
    /// Copies `bert`'s weights to the host and packs them for `path`, which
    /// must not be [`Path::Portable`] and must run on this CPU. Only the
    /// erf GELU of BERT's checkpoints is built in.
    ///
    /// For int8, `calibration` (word-piece sequences of ordinary text) first
    /// runs through the f32 encoder to find each product's largest input
    /// per feature. A few features carry most of the range of a token's
    /// inputs (after a layer norm up to 15 times the typical feature), so
    /// quantizing a token's inputs on one scale would leave the rest few
    /// levels; each feature `j` is divided by `s_j = √(max |x_j| / max |W_j|)`
    /// before quantization and its weights multiplied by it ("SmoothQuant",
    /// Xiao et al., 2023, arXiv 2211.10438), which moves half the range
    /// into the per-column weight scales. The product is unchanged in exact
    /// arithmetic; the worst cosine to sentence-transformers on the 81
    /// reference texts rises from 0.9964 to 0.998 or more.
    pub fn new(bert: &Bert, path: Path, calibration: &[&[u32]]) -> Result<Encoder, String> {
        let isa = path.isa().ok_or("the portable path runs candle's ops, not this encoder")?;
        // What makes every kernel call sound: the CPU has every instruction
        // of `path` (and so of f32 on the same family, which int8 calibrates on).
        if !Features::detect().runs(path) {
            return Err(format!("{} cannot run on this CPU", path.describe()));
        }
        if bert.act != HiddenAct::Gelu {
            return Err(format!("activation {:?}: the CPU encoder has the erf GELU only", bert.act));
        }
        let err = |e: candle_core::Error| e.to_string();
        let first = match path {
            Path::Int8(isa) => Path::F32(isa),
            other => other,
        };
        let (vocab, hidden) = bert.word.dims2().map_err(err)?;
        let positions = bert.position.dims2().map_err(err)?.0;
        let mut encoder = Encoder {
            path: first,
            isa,
            word: host(&bert.word).map_err(err)?,
            position: host(&bert.position).map_err(err)?,
            token_type: host(&bert.token_type.narrow(0, 0, 1).map_err(err)?).map_err(err)?,
            embedding_norm: host_norm(&bert.embedding_norm)?,
            eps: bert.embedding_norm.eps,
            layers: Encoder::layers(bert, first, None)?,
            heads: bert.heads,
            head_dim: bert.head_dim,
            hidden,
            vocab,
            position_offset: bert.position_offset,
            positions,
            spare: std::sync::Mutex::new(Vec::new()),
        };
        if first != path {
            // int8: the f32 layers see the calibration text first; the
            // tables stay, the layers are packed again, smoothed.
            let mut ranges = encoder.layers.iter().map(|l| [&l.qkv, &l.attention_out, &l.intermediate, &l.output].map(|p| vec![0f32; p.k])).collect();
            encoder.run(calibration, Some(&mut ranges))?;
            encoder.layers = Encoder::layers(bert, path, Some(&ranges))?;
            encoder.path = path;
        }
        Ok(encoder)
    }

    /// `bert`'s layers packed for `path`, int8 products smoothed by the
    /// inputs' `ranges` (per layer, per product, per input feature).
    fn layers(bert: &Bert, path: Path, ranges: Option<&Ranges>) -> Result<Vec<Layer>, String> {
        let err = |e: candle_core::Error| e.to_string();
        let nr = gemm::panel_columns(path.isa().ok_or("the portable path has no packed layers")?);
        let pack = |dense: &crate::model::bert::Dense, range: Option<&Vec<f32>>| -> Result<Packed, String> {
            let (k, n) = dense.weight_t.dims2().map_err(err)?;
            let (w, b) = (host(&dense.weight_t).map_err(err)?, host(&dense.bias).map_err(err)?);
            Ok(match path {
                Path::Bf16 => Packed::bf16(&w, k, n, &b, nr),
                Path::Int8(_) => {
                    let smooth = range.map(|range| {
                        (0..k)
                            .map(|j| {
                                let weight = w[j * n..(j + 1) * n].iter().fold(0f32, |m, v| m.max(v.abs()));
                                (range[j].max(1e-5) / weight.max(1e-5)).sqrt()
                            })
                            .collect::<Vec<f32>>()
                    });
                    Packed::int8(&w, k, n, &b, nr, smooth.as_deref())
                }
                _ => Packed::f32(&w, k, n, &b, nr),
            })
        };
        bert.layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let range = |p: usize| ranges.map(|r| &r[i][p]);
                Ok(Layer {
                    qkv: pack(&l.qkv, range(0))?,
                    attention_out: pack(&l.attention_out, range(1))?,
                    attention_norm: host_norm(&l.attention_norm)?,
                    intermediate: pack(&l.intermediate, range(2))?,
                    output: pack(&l.output, range(3))?,
                    output_norm: host_norm(&l.output_norm)?,
                })
            })
            .collect()
    }

    /// The path it runs.
    pub fn path(&self) -> Path {
        self.path
    }

    /// Token states for `sequences` of word-piece ids, each no longer than
    /// the position table allows.
    pub fn forward(&self, sequences: &[&[u32]]) -> Result<TokenStates, String> {
        self.run(sequences, None)
    }

    /// The forward pass; with `ranges`, each product's largest input per
    /// feature is kept there as the pass goes.
    fn run(&self, sequences: &[&[u32]], mut ranges: Option<&mut Ranges>) -> Result<TokenStates, String> {
        let h = self.hidden;
        let mut starts = Vec::with_capacity(sequences.len());
        let mut ids = Vec::new();
        let mut positions = Vec::new();
        for seq in sequences {
            if self.position_offset + seq.len() > self.positions {
                return Err(format!("a sequence of {} word pieces is longer than the model's {} positions", seq.len(), self.positions));
            }
            if let Some(bad) = seq.iter().find(|&&id| id as usize >= self.vocab) {
                return Err(format!("word piece id {bad} is outside the vocabulary of {}", self.vocab));
            }
            starts.push(ids.len());
            ids.extend_from_slice(seq);
            positions.extend((0..seq.len()).map(|p| p + self.position_offset));
        }
        let tokens = ids.len();
        let mut x = vec![0f32; tokens * h];
        let tables = Tables {
            word: &self.word,
            position: &self.position,
            token_type: &self.token_type,
            norm: Norm { weight: &self.embedding_norm.0, bias: &self.embedding_norm.1, eps: self.eps },
            hidden: h,
        };
        const EMBED_ROWS: usize = 64;
        x.par_chunks_mut(EMBED_ROWS * h).zip(ids.par_chunks(EMBED_ROWS).zip(positions.par_chunks(EMBED_ROWS))).for_each(
            |(out, (ids, positions))| {
                // SAFETY: `new` checked that the CPU has `isa`; ids and
                // positions were checked against the tables above, and
                // `out` holds a row per id.
                unsafe { dispatch::embed_rows(self.isa, tables, ids, positions, out.as_mut_ptr()) }
            },
        );
        let mut buffers = self.spare.lock().map(|mut s| s.pop()).ok().flatten().unwrap_or_default();
        let first = self.layers.first();
        // Only growth is zero-filled; the products overwrite every element.
        let fit = |buffer: &mut Vec<f32>, len: usize| {
            if buffer.len() < len {
                buffer.resize(len, 0.0);
            }
        };
        let (qkv_len, inner_len) = (tokens * first.map_or(0, |l| l.qkv.n), tokens * first.map_or(0, |l| l.intermediate.n));
        fit(&mut buffers.qkv, qkv_len);
        fit(&mut buffers.context, tokens * h);
        fit(&mut buffers.inner, inner_len);
        let qkv = &mut buffers.qkv[..qkv_len];
        let context = &mut buffers.context[..tokens * h];
        let inner = &mut buffers.inner[..inner_len];
        let lengths: Vec<usize> = sequences.iter().map(|s| s.len()).collect();
        let mut observe = |layer: usize, product: usize, input: &[f32]| {
            if let Some(ranges) = ranges.as_deref_mut() {
                let range = &mut ranges[layer][product];
                for row in input.chunks_exact(range.len()) {
                    for (m, v) in range.iter_mut().zip(row) {
                        *m = m.max(v.abs());
                    }
                }
            }
        };
        for (i, layer) in self.layers.iter().enumerate() {
            observe(i, 0, &x);
            self.product(&layer.qkv, &x, qkv, Epilogue::Bias);
            self.attention(qkv, &lengths, context);
            observe(i, 1, context);
            let norm = Norm { weight: &layer.attention_norm.0, bias: &layer.attention_norm.1, eps: self.eps };
            self.product(&layer.attention_out, context, &mut x, Epilogue::AddNorm(norm));
            observe(i, 2, &x);
            self.product(&layer.intermediate, &x, inner, Epilogue::Gelu);
            observe(i, 3, inner);
            let norm = Norm { weight: &layer.output_norm.0, bias: &layer.output_norm.1, eps: self.eps };
            self.product(&layer.output, inner, &mut x, Epilogue::AddNorm(norm));
        }
        if let Ok(mut spare) = self.spare.lock() {
            spare.push(buffers);
        }
        Ok(TokenStates { data: x, starts, hidden: h })
    }

    /// `out = epilogue(x · W)` over row blocks shared among the threads.
    fn product(&self, packed: &Packed, x: &[f32], out: &mut [f32], epilogue: Epilogue) {
        let (k, n) = (packed.k, packed.n);
        let rows = x.len() / k;
        assert_eq!(out.len(), rows * n, "output rows match input rows");
        // Row chunks of whole tiles, two per thread (so a thread slowed by the
        // machine gets help) and as equal as tiles allow.
        let tile = gemm::tile_rows(self.isa);
        let per = rows.div_ceil(2 * rayon::current_num_threads()).div_ceil(tile).max(1) * tile;
        // The formats were packed for `path`, which `new` checked this CPU runs.
        let entry: unsafe fn(Job) = match (packed.format, self.isa) {
            (Format::F32, Isa::Avx512) => gemm::f32_avx512,
            (Format::F32, Isa::Avx2) => gemm::f32_avx2,
            (Format::Bf16, _) => gemm::bf16_avx512,
            (Format::Int8, Isa::Avx512) => gemm::int8_avx512,
            (Format::Int8, Isa::Avx2) => gemm::int8_avx2,
        };
        out.par_chunks_mut(per * n).zip(x.par_chunks(per * k)).for_each(|(out, x)| {
            let job = Job { packed, x: x.as_ptr(), rows: x.len() / k, out: out.as_mut_ptr(), epilogue };
            // SAFETY: `new` checked the CPU runs `path`; `x` holds the
            // chunk's rows of `k` and `out` the same rows of `n`, apart.
            unsafe { entry(job) }
        });
    }

    /// Self-attention of every sequence, one task per sequence.
    fn attention(&self, qkv: &[f32], lengths: &[usize], context: &mut [f32]) {
        let h = self.hidden;
        let mut parts: Vec<(&[f32], &mut [f32], usize)> = Vec::with_capacity(lengths.len());
        let (mut q, mut c) = (qkv, context);
        for &n in lengths {
            let (this_q, rest_q) = q.split_at(n * 3 * h);
            let (this_c, rest_c) = std::mem::take(&mut c).split_at_mut(n * h);
            parts.push((this_q, this_c, n));
            q = rest_q;
            c = rest_c;
        }
        parts.into_par_iter().for_each_init(Vec::new, |scratch, (q, c, n)| {
            // SAFETY: `new` checked the CPU has `isa`; `q` holds the
            // sequence's `n` rows of fused projections and `c` its `n`
            // context rows.
            unsafe { dispatch::attend(self.isa, q.as_ptr(), n, self.heads, self.head_dim, c.as_mut_ptr(), scratch) }
        });
    }

    /// The linear layers' products alone (with their epilogues: bias,
    /// GELU, residual + layer norm), as a forward pass over `rows` tokens
    /// runs them, attention and embeddings left out: the fastest of
    /// `repeat` passes, as (floating-point operations, seconds). What a
    /// pass could reach if nothing but the products took time.
    pub fn time_products(&self, rows: usize, repeat: usize) -> (f64, f64) {
        let h = self.hidden;
        let inner_width = self.layers.first().map_or(0, |l| l.intermediate.n);
        let qkv_width = self.layers.first().map_or(0, |l| l.qkv.n);
        let mut x: Vec<f32> = (0..rows * h).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
        let mut qkv = vec![0f32; rows * qkv_width];
        let mut inner = vec![0f32; rows * inner_width];
        let flops: f64 = self
            .layers
            .iter()
            .map(|l| [&l.qkv, &l.attention_out, &l.intermediate, &l.output].iter().map(|p| 2.0 * (rows * p.k * p.n) as f64).sum::<f64>())
            .sum();
        let mut best = f64::MAX;
        for _ in 0..repeat.max(1) {
            let start = std::time::Instant::now();
            for layer in &self.layers {
                self.product(&layer.qkv, &x, &mut qkv, Epilogue::Bias);
                // The context rows stand in from the first third of the projections.
                let context: Vec<f32> = qkv.chunks(qkv_width).flat_map(|r| &r[..h]).copied().collect();
                let norm = Norm { weight: &layer.attention_norm.0, bias: &layer.attention_norm.1, eps: self.eps };
                self.product(&layer.attention_out, &context, &mut x, Epilogue::AddNorm(norm));
                self.product(&layer.intermediate, &x, &mut inner, Epilogue::Gelu);
                let norm = Norm { weight: &layer.output_norm.0, bias: &layer.output_norm.1, eps: self.eps };
                self.product(&layer.output, &inner, &mut x, Epilogue::AddNorm(norm));
            }
            best = best.min(start.elapsed().as_secs_f64());
        }
        (flops, best)
    }
}
