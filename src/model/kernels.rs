//! The CPU kernels of the encoder: attention, GELU, and the residual add
//! with layer norm, each one pass over memory, compiled for AVX2/FMA where
//! the CPU has them ([`with_simd`]).
//!
//! Self-attention on the CPU as one pass over the fused query/key/value
//! matrix: per (sequence, head), scores against the sequence's real tokens
//! only, softmax, weighted sum of values, written straight into the
//! `[tokens, hidden]` layout the next projection reads.
//!
//! Doing this in candle ops costs a transpose and copy of q, k and v, a mask
//! addition, and two batched matrix products made of thousands of tiny
//! products, each of which wakes the thread pool. Padding needs no mask
//! here: padded keys are never read and padded queries give zeros, which
//! pooling ignores.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

/// The attention op over a `[batch * len, 3 * hidden]` f32 matrix of fused
/// projections (q | k | v, each `heads × head_dim`).
pub struct CpuAttention {
    /// Real length of each sequence; the rest of its `len` rows is padding.
    pub lengths: Vec<usize>,
    /// Padded length.
    pub len: usize,
    /// Attention heads.
    pub heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

impl CpuAttention {
    /// One sequence: its `n` real rows of fused projections in, context rows out.
    #[inline(always)]
    fn attend(&self, qkv: &[f32], n: usize, scale: f32, rows: &mut [f32]) {
        let hidden = self.heads * self.head_dim;
        let width = 3 * hidden;
        let mut scores = vec![0f32; n];
        for h in 0..self.heads {
            let q_at = h * self.head_dim;
            let k_at = hidden + h * self.head_dim;
            let v_at = 2 * hidden + h * self.head_dim;
            for t in 0..n {
                let q = &qkv[t * width + q_at..][..self.head_dim];
                let mut max = f32::NEG_INFINITY;
                for (u, s) in scores.iter_mut().enumerate() {
                    let k = &qkv[u * width + k_at..][..self.head_dim];
                    *s = dot(q, k) * scale;
                    max = max.max(*s);
                }
                let mut sum = 0f32;
                for s in scores.iter_mut() {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                let ctx = &mut rows[t * hidden + h * self.head_dim..][..self.head_dim];
                for (u, s) in scores.iter().enumerate() {
                    let w = s / sum;
                    let v = &qkv[u * width + v_at..][..self.head_dim];
                    for (c, x) in ctx.iter_mut().zip(v) {
                        *c += w * x;
                    }
                }
            }
        }
    }
}

/// Runs `f` compiled for AVX2 and FMA when the CPU has them (the crate is
/// built for baseline x86-64, whose vectors are 4 wide): `f` must be
/// `#[inline(always)]` code for the wider instructions to reach it.
#[inline(always)]
pub(crate) fn with_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        /// # Safety
        /// The CPU must have AVX2 and FMA.
        #[target_feature(enable = "avx2,fma")]
        unsafe fn wide<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: both features were detected on this CPU just above.
            return unsafe { wide(f) };
        }
    }
    f()
}

/// `layer_norm(x + residual)` over rows of `weight.len()`: the residual
/// addition and the norm in one pass over memory (candle's layer norm is a
/// scalar loop and the addition a separate tensor).
pub struct ResidualNorm<'a> {
    /// Scale per feature.
    pub weight: &'a [f32],
    /// Shift per feature.
    pub bias: &'a [f32],
    /// Added to the variance.
    pub eps: f32,
}

impl ResidualNorm<'_> {
    #[inline(always)]
    fn rows(&self, x: &[f32], residual: &[f32], out: &mut [f32]) {
        let width = self.weight.len();
        for ((o, a), b) in out.chunks_exact_mut(width).zip(x.chunks_exact(width)).zip(residual.chunks_exact(width)) {
            let mut sum = [0f32; 8];
            for ((o, a), b) in o.chunks_exact_mut(8).zip(a.chunks_exact(8)).zip(b.chunks_exact(8)) {
                for j in 0..8 {
                    o[j] = a[j] + b[j];
                    sum[j] += o[j];
                }
            }
            let tail = width / 8 * 8;
            let mut total: f32 = sum.iter().sum();
            for i in tail..width {
                o[i] = a[i] + b[i];
                total += o[i];
            }
            let mean = total / width as f32;
            let mut squares = [0f32; 8];
            for c in o.chunks_exact(8) {
                for j in 0..8 {
                    let d = c[j] - mean;
                    squares[j] += d * d;
                }
            }
            let mut var: f32 = squares.iter().sum();
            for v in &o[tail..] {
                var += (v - mean) * (v - mean);
            }
            let inv = 1.0 / (var / width as f32 + self.eps).sqrt();
            for ((v, w), b) in o.iter_mut().zip(self.weight).zip(self.bias) {
                *v = (*v - mean) * inv * w + b;
            }
        }
    }
}

impl candle_core::CustomOp2 for ResidualNorm<'_> {
    fn name(&self) -> &'static str {
        "residual-norm"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(a), CpuStorage::F32(b)) = (s1, s2) else { candle_core::bail!("residual-norm runs on f32 only") };
        let (Some((a0, a1)), Some((b0, b1))) = (l1.contiguous_offsets(), l2.contiguous_offsets()) else {
            candle_core::bail!("residual-norm needs contiguous inputs")
        };
        let (x, residual) = (&a[a0..a1], &b[b0..b1]);
        let width = self.weight.len();
        if x.len() != residual.len() || width == 0 || x.len() % width != 0 || l1.shape() != l2.shape() {
            candle_core::bail!("residual-norm: shapes {:?} and {:?} over rows of {width}", l1.shape(), l2.shape());
        }
        let mut out = vec![0f32; x.len()];
        let chunk = width * 64;
        out.par_chunks_mut(chunk).zip(x.par_chunks(chunk)).zip(residual.par_chunks(chunk)).for_each(|((o, a), b)| {
            with_simd(|| self.rows(a, b, o));
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

impl CustomOp1 for CpuAttention {
    fn name(&self) -> &'static str {
        "cpu-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let data = match storage {
            CpuStorage::F32(data) => data,
            _ => candle_core::bail!("cpu-attention runs on f32 only"),
        };
        let (offset, end) = match layout.contiguous_offsets() {
            Some(o) => o,
            None => candle_core::bail!("cpu-attention needs a contiguous input"),
        };
        let qkv = &data[offset..end];
        let hidden = self.heads * self.head_dim;
        let width = 3 * hidden;
        let batch = self.lengths.len();
        if qkv.len() != batch * self.len * width {
            candle_core::bail!("cpu-attention: input does not match {batch} × {} × {width}", self.len);
        }
        let scale = 1.0 / (self.head_dim as f32).sqrt();
        let mut out = vec![0f32; batch * self.len * hidden];
        // One task per sequence: each writes only its own rows.
        out.par_chunks_mut(self.len * hidden).zip(self.lengths.par_iter()).enumerate().for_each(
            |(b, (rows, &n))| {
                let sequence = &qkv[b * self.len * width..];
                with_simd(|| self.attend(sequence, n, scale, rows));
            },
        );
        Ok((CpuStorage::F32(out), Shape::from((batch * self.len, hidden))))
    }
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums let the compiler keep them in one vector register.
    let mut acc = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let tail = a.len() / 8 * 8;
    let mut total: f32 = acc.iter().sum();
    for i in tail..a.len() {
        total += a[i] * b[i];
    }
    total
}

/// GELU with the exact (erf) form that BERT uses, with a fast erf: the
/// Abramowitz–Stegun 7.1.26 rational approximation (absolute error below
/// 1.5e-7, far under f32 noise after a layer norm) instead of libm's erf,
/// which took a tenth of the forward pass.
pub struct FastGeluErf;

/// erf(x) to 1.5e-7.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    sign * (1.0 - poly * (-x * x).exp())
}

impl CustomOp1 for FastGeluErf {
    fn name(&self) -> &'static str {
        "fast-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let data = match storage {
            CpuStorage::F32(data) => data,
            _ => candle_core::bail!("fast-gelu-erf runs on f32 only"),
        };
        let (offset, end) = match layout.contiguous_offsets() {
            Some(o) => o,
            None => candle_core::bail!("fast-gelu-erf needs a contiguous input"),
        };
        let input = &data[offset..end];
        let mut out = vec![0f32; input.len()];
        out.par_chunks_mut(4096).zip(input.par_chunks(4096)).for_each(|(o, i)| {
            with_simd(|| {
                for (y, &x) in o.iter_mut().zip(i) {
                    *y = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
                }
            })
        });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_erf_is_close_to_libm() {
        for i in -400..=400 {
            let x = i as f32 / 100.0;
            let exact = libm_erf(x as f64);
            let error = (erf(x) as f64 - exact).abs();
            assert!(error < 5e-7, "erf({x}) off by {error}");
        }
    }

    // erf by its Taylor series, summed in f64: the independent reference.
    fn libm_erf(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..300 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }
}
