//! Linear layers in bf16 on CPUs with AVX512-BF16 (`--dtype bf16`): the
//! weights are rounded to bf16 once, at load, and packed for the
//! `vdpbf16ps` instruction, which multiplies pairs of bf16 and adds them
//! into f32, twice the work per instruction of an f32 multiply-add. Each
//! product rounds its input rows to bf16 and accumulates in f32; everything
//! between the products (layer norm, attention, GELU, pooling) stays f32.
//!
//! Layout: output columns are taken 32 at a time (a panel, two registers of
//! 16 f32); for each pair of input features a panel holds 32 u32, each the
//! bf16 pair (w[2p][c], w[2p+1][c]). A micro-tile keeps up to 8 rows × 32
//! columns of sums in 16 registers and streams the panel once.

use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

const PANEL: usize = 32;
const TILE_ROWS: usize = 8;
const CHUNK_ROWS: usize = 64;

/// Whether this CPU can run the bf16 products.
pub fn supported() -> bool {
    if FORCED_OFF.with(std::cell::Cell::get) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

thread_local! {
    /// Makes [`supported`] answer no on this thread, as on a CPU without
    /// AVX512-BF16, so the refusal can be tested on any machine.
    static FORCED_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes this thread see a CPU without AVX512-BF16 (`true`) or the real one
/// (`false`). For tests of the refusal; packing checks on the calling thread.
#[doc(hidden)]
pub fn force_unsupported(off: bool) {
    FORCED_OFF.with(|f| f.set(off));
}

/// Why a layer cannot be packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackError {
    /// The CPU lacks AVX512-BF16: the products could not run.
    Cpu,
    /// `outputs` is not a multiple of 32, or the slices do not match the
    /// sizes given: the layer stays f32.
    Shape,
}

/// Rounds to the nearest bf16, ties to even (as the hardware's own conversion).
#[inline(always)]
fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

#[inline(always)]
fn pair(lo: f32, hi: f32) -> u32 {
    to_bf16(lo) as u32 | (to_bf16(hi) as u32) << 16
}

/// A weight matrix packed for [`Bf16Linear`], with its bias.
pub struct PackedBf16 {
    inputs: usize,
    pairs: usize,
    outputs: usize,
    data: Vec<u32>,
    bias: Vec<f32>,
}

impl PackedBf16 {
    /// Packs `weight_t` (`[inputs, outputs]`, row-major) and `bias`. A
    /// packed layer exists only on a CPU that can run its products: that is
    /// what makes [`PackedBf16::forward`]'s use of the instructions sound.
    pub fn pack(weight_t: &[f32], inputs: usize, outputs: usize, bias: &[f32]) -> std::result::Result<PackedBf16, PackError> {
        if !supported() {
            return Err(PackError::Cpu);
        }
        if outputs % PANEL != 0 || weight_t.len() != inputs * outputs || bias.len() != outputs {
            return Err(PackError::Shape);
        }
        let pairs = inputs.div_ceil(2);
        let at = |k: usize, c: usize| if k < inputs { weight_t[k * outputs + c] } else { 0.0 };
        let mut data = Vec::with_capacity(outputs * pairs);
        for panel in 0..outputs / PANEL {
            for p in 0..pairs {
                for c in panel * PANEL..(panel + 1) * PANEL {
                    data.push(pair(at(2 * p, c), at(2 * p + 1, c)));
                }
            }
        }
        Ok(PackedBf16 { inputs, pairs, outputs, data, bias: bias.to_vec() })
    }

    /// `x · W + b` for `x` `[rows, inputs]`, in f32 out.
    fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let mut a = vec![0u32; rows * self.pairs];
        a.par_chunks_mut(self.pairs.max(1)).zip(x.par_chunks(self.inputs.max(1))).for_each(|(dst, src)| {
            super::kernels::with_simd(|| {
                for (d, two) in dst.iter_mut().zip(src.chunks(2)) {
                    *d = pair(two[0], two.get(1).copied().unwrap_or(0.0));
                }
            })
        });
        let mut out = vec![0f32; rows * self.outputs];
        let n = self.outputs;
        out.par_chunks_mut(CHUNK_ROWS * n).enumerate().for_each(|(chunk, out)| {
            let first = chunk * CHUNK_ROWS;
            let count = out.len() / n;
            let a = &a[first * self.pairs..(first + count) * self.pairs];
            for panel in 0..n / PANEL {
                let weights = &self.data[panel * self.pairs * PANEL..(panel + 1) * self.pairs * PANEL];
                let bias = &self.bias[panel * PANEL..(panel + 1) * PANEL];
                let mut r = 0;
                while r < count {
                    let take = (count - r).min(TILE_ROWS);
                    let rows_a = &a[r * self.pairs..(r + take) * self.pairs];
                    let dst = &mut out[r * n..];
                    // SAFETY: `self` exists only if `pack` found AVX512-BF16
                    // on this CPU. `rows_a` holds `take` rows of `pairs`,
                    // `weights` one panel of `pairs * PANEL`, `bias` PANEL
                    // values, and `dst` rows `r..r + take` of `n` columns, so
                    // the tile's reads and writes at `panel * PANEL` stay inside.
                    unsafe { tile(take, rows_a, self.pairs, weights, bias, dst, n, panel * PANEL) };
                    r += take;
                }
            }
        });
        out
    }
}

/// One micro-tile of up to 8 rows.
///
/// # Safety
/// The CPU must have AVX512F and AVX512-BF16; `a` must hold `rows * pairs`
/// values, `w` `pairs * PANEL`, `bias` PANEL, and `out` must reach
/// `(rows - 1) * stride + col + PANEL`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
#[allow(clippy::too_many_arguments)]
unsafe fn tile(rows: usize, a: &[u32], pairs: usize, w: &[u32], bias: &[f32], out: &mut [f32], stride: usize, col: usize) {
    match rows {
        8 => tile_n::<8>(a, pairs, w, bias, out, stride, col),
        7 => tile_n::<7>(a, pairs, w, bias, out, stride, col),
        6 => tile_n::<6>(a, pairs, w, bias, out, stride, col),
        5 => tile_n::<5>(a, pairs, w, bias, out, stride, col),
        4 => tile_n::<4>(a, pairs, w, bias, out, stride, col),
        3 => tile_n::<3>(a, pairs, w, bias, out, stride, col),
        2 => tile_n::<2>(a, pairs, w, bias, out, stride, col),
        _ => tile_n::<1>(a, pairs, w, bias, out, stride, col),
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn tile(_: usize, _: &[u32], _: usize, _: &[u32], _: &[f32], _: &mut [f32], _: usize, _: usize) {
    unreachable!("bf16 products need x86-64 with AVX512-BF16")
}

/// `R` rows × 32 columns of `a · w + bias`.
///
/// # Safety
/// As [`tile`], with `rows = R`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bf16")]
unsafe fn tile_n<const R: usize>(a: &[u32], pairs: usize, w: &[u32], bias: &[f32], out: &mut [f32], stride: usize, col: usize) {
    use std::arch::x86_64::*;
    debug_assert!(a.len() >= R * pairs && w.len() >= pairs * PANEL && out.len() >= (R - 1) * stride + col + PANEL);
    let mut lo = [_mm512_setzero_ps(); R];
    let mut hi = [_mm512_setzero_ps(); R];
    // SAFETY (this block and the loads and stores below): the caller
    // guarantees the CPU features and the slice lengths checked above in
    // debug builds; every pointer offset stays below those lengths.
    let a = a.as_ptr();
    let w = w.as_ptr();
    for p in 0..pairs {
        let w0: __m512bh = std::mem::transmute(_mm512_loadu_si512(w.add(p * PANEL) as *const _));
        let w1: __m512bh = std::mem::transmute(_mm512_loadu_si512(w.add(p * PANEL + 16) as *const _));
        for r in 0..R {
            let x: __m512bh = std::mem::transmute(_mm512_set1_epi32(*a.add(r * pairs + p) as i32));
            lo[r] = _mm512_dpbf16_ps(lo[r], x, w0);
            hi[r] = _mm512_dpbf16_ps(hi[r], x, w1);
        }
    }
    let b0 = _mm512_loadu_ps(bias.as_ptr());
    let b1 = _mm512_loadu_ps(bias.as_ptr().add(16));
    let out = out.as_mut_ptr();
    for r in 0..R {
        _mm512_storeu_ps(out.add(r * stride + col), _mm512_add_ps(lo[r], b0));
        _mm512_storeu_ps(out.add(r * stride + col + 16), _mm512_add_ps(hi[r], b1));
    }
}

/// The op `x · W + b` over a contiguous `[rows, inputs]` f32 tensor.
pub struct Bf16Linear<'a>(pub &'a PackedBf16);

impl CustomOp1 for Bf16Linear<'_> {
    fn name(&self) -> &'static str {
        "bf16-linear"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else { candle_core::bail!("bf16-linear takes f32 activations") };
        let Some((start, end)) = layout.contiguous_offsets() else { candle_core::bail!("bf16-linear needs a contiguous input") };
        let x = &data[start..end];
        let packed = self.0;
        let (rows, inputs) = layout.shape().dims2()?;
        if inputs != packed.inputs {
            candle_core::bail!("bf16-linear: {inputs} inputs where the weights take {}", packed.inputs);
        }
        Ok((CpuStorage::F32(packed.forward(x, rows)), Shape::from((rows, packed.outputs))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_f32_product_to_bf16_precision() {
        if !supported() {
            return;
        }
        let (rows, inputs, outputs) = (19, 37, 64);
        let value = |i: usize| ((i * 7919 % 1000) as f32 / 500.0) - 1.0;
        let x: Vec<f32> = (0..rows * inputs).map(value).collect();
        let w: Vec<f32> = (0..inputs * outputs).map(|i| value(i + 13)).collect();
        let bias: Vec<f32> = (0..outputs).map(|i| value(i + 5)).collect();
        let packed = PackedBf16::pack(&w, inputs, outputs, &bias).ok().unwrap();
        let got = packed.forward(&x, rows);
        for r in 0..rows {
            for c in 0..outputs {
                let want: f32 = bias[c] + (0..inputs).map(|k| x[r * inputs + k] * w[k * outputs + c]).sum::<f32>();
                let bound = 0.02 * (0..inputs).map(|k| (x[r * inputs + k] * w[k * outputs + c]).abs()).sum::<f32>() + 1e-4;
                assert!((got[r * outputs + c] - want).abs() <= bound, "({r}, {c}): {} vs {want}", got[r * outputs + c]);
            }
        }
        let narrow = PackedBf16::pack(&w[..inputs * 48], inputs, 48, &bias[..48]).err();
        assert_eq!(narrow, Some(PackError::Shape), "48 columns: not a whole panel");
    }

    #[test]
    fn packing_is_refused_on_a_cpu_without_avx512_bf16() {
        let (inputs, outputs) = (4, 32);
        let w = vec![0.5f32; inputs * outputs];
        let bias = vec![0.0f32; outputs];
        force_unsupported(true);
        let refused = PackedBf16::pack(&w, inputs, outputs, &bias).err();
        force_unsupported(false);
        assert_eq!(refused, Some(PackError::Cpu));
        assert!(!std::thread::spawn(|| {
            force_unsupported(true);
            supported()
        })
        .join()
        .unwrap());
    }
}
