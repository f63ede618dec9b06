//! The linear layers' products, `out = act(x · W + b)` or
//! `out = norm(out + x · W + b)`, against weights packed once at load.
//!
//! One blocked loop serves every number format: a [`Product`] says how one
//! 32-bit element of an input row (one f32, a pair of bf16, four u8) meets
//! a register of packed weights, and how the sums become f32. Weights are
//! packed in panels of `NR` output columns, each panel `groups × NR`
//! elements, so a micro-tile of `MR` rows × `NR` columns streams its panel
//! once and keeps every sum in registers over the whole input width: a
//! row's outputs are summed in the same order whatever rows surround it,
//! which is what makes a vector independent of its batch.
//!
//! Rows are taken in blocks whose inputs fit in the L2 cache; a block is
//! converted (bf16 rounding, int8 quantization) just before its panels pass
//! and normalized (layer norm) just after, while it is still in cache.

use super::ops;
use super::simd::{self, F32s};
use super::Isa;
#[cfg(target_arch = "x86_64")]
use super::simd::{Y, Z};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// How one instruction family multiplies an input element (broadcast)
/// with a register of packed weights, and turns the sums into f32.
pub(crate) trait Product {
    /// The f32 vector of the same width.
    type F: F32s;
    /// Sums.
    type Acc: Copy;
    /// One input element, broadcast.
    type A: Copy;
    /// A register of packed weights.
    type B: Copy;
    /// Input features per 32-bit element.
    const GROUP: usize;
    /// Whether input rows are converted before the product (f32 is read as it is).
    const CONVERTS: bool;
    unsafe fn zero() -> Self::Acc;
    unsafe fn a(p: *const u32) -> Self::A;
    unsafe fn b(p: *const u32) -> Self::B;
    unsafe fn madd(acc: Self::Acc, a: Self::A, b: Self::B) -> Self::Acc;
    /// The f32 value of the sums: `row` is the (scale, zero point) of the
    /// row's quantization, `col_scale` and `col_sum` the columns' scales
    /// and weight sums (int8 only).
    unsafe fn finish(acc: Self::Acc, row: (f32, i32), col_scale: *const f32, col_sum: *const i32) -> Self::F;
    /// Converts one row of `k` inputs into `k.div_ceil(GROUP)` elements
    /// and returns its (scale, zero point).
    unsafe fn convert(_x: *const f32, _k: usize, _out: *mut u32, _divide: *const f32) -> (f32, i32) {
        (1.0, 0)
    }
}

macro_rules! f32_product {
    ($name:ident, $v:ident, $reg:ty, $set1:ident, $load:ident, $fma:ident, $zero:ident) => {
        /// f32 products, fused multiply-add.
        pub(crate) struct $name;
        impl Product for $name {
            type F = $v;
            type Acc = $reg;
            type A = $reg;
            type B = $reg;
            const GROUP: usize = 1;
            const CONVERTS: bool = false;
            #[inline(always)]
            unsafe fn zero() -> $reg {
                $zero()
            }
            #[inline(always)]
            unsafe fn a(p: *const u32) -> $reg {
                $set1(*(p as *const f32))
            }
            #[inline(always)]
            unsafe fn b(p: *const u32) -> $reg {
                $load(p as *const f32)
            }
            #[inline(always)]
            unsafe fn madd(acc: $reg, a: $reg, b: $reg) -> $reg {
                $fma(a, b, acc)
            }
            #[inline(always)]
            unsafe fn finish(acc: $reg, _: (f32, i32), _: *const f32, _: *const i32) -> $v {
                $v(acc)
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
f32_product!(F32Avx512, Z, __m512, _mm512_set1_ps, _mm512_loadu_ps, _mm512_fmadd_ps, _mm512_setzero_ps);
#[cfg(target_arch = "x86_64")]
f32_product!(F32Avx2, Y, __m256, _mm256_set1_ps, _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_setzero_ps);

/// bf16 pairs multiplied and summed into f32 (`vdpbf16ps`).
#[cfg(target_arch = "x86_64")]
pub(crate) struct Bf16Avx512;
#[cfg(target_arch = "x86_64")]
impl Product for Bf16Avx512 {
    type F = Z;
    type Acc = __m512;
    type A = __m512bh;
    type B = __m512bh;
    const GROUP: usize = 2;
    const CONVERTS: bool = true;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        _mm512_setzero_ps()
    }
    #[inline(always)]
    unsafe fn a(p: *const u32) -> __m512bh {
        std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(*p as i32))
    }
    #[inline(always)]
    unsafe fn b(p: *const u32) -> __m512bh {
        std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(p as *const _))
    }
    #[inline(always)]
    unsafe fn madd(acc: __m512, a: __m512bh, b: __m512bh) -> __m512 {
        _mm512_dpbf16_ps(acc, a, b)
    }
    #[inline(always)]
    unsafe fn finish(acc: __m512, _: (f32, i32), _: *const f32, _: *const i32) -> Z {
        Z(acc)
    }
    #[inline(always)]
    unsafe fn convert(x: *const f32, k: usize, out: *mut u32, _divide: *const f32) -> (f32, i32) {
        // 32 inputs (16 pairs) at a time, rounded to nearest even.
        let whole = k / 32 * 32;
        let mut i = 0;
        while i < whole {
            let lo = _mm512_loadu_ps(x.add(i));
            let hi = _mm512_loadu_ps(x.add(i + 16));
            let pairs: __m512i = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
            _mm512_storeu_si512(out.add(i / 2) as *mut _, pairs);
            i += 32;
        }
        while i < k {
            let second = if i + 1 < k { *x.add(i + 1) } else { 0.0 };
            *out.add(i / 2) = to_bf16(*x.add(i)) as u32 | (to_bf16(second) as u32) << 16;
            i += 2;
        }
        (1.0, 0)
    }
}

/// Rounds to the nearest bf16, ties to even (as the hardware's conversion).
pub(crate) fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// Quantizes one row to u8 with its own scale and zero point (asymmetric,
/// over the row's range), four to an element.
#[inline(always)]
unsafe fn quantize_row<V: F32s>(x: *const f32, k: usize, out: *mut u32, divide: *const f32) -> (f32, i32) {
    let lanes = V::LANES;
    let whole = k / lanes * lanes;
    let (mut lo, mut hi) = (V::splat(0.0), V::splat(0.0));
    let mut i = 0;
    while i < whole {
        let v = V::load(x.add(i)).mul(V::load(divide.add(i)));
        lo = lo.min(v);
        hi = hi.max(v);
        i += lanes;
    }
    let (mut low, mut high) = (-lo.abs().max_lane().max(0.0), hi.max_lane());
    // `lo` holds minima ≤ 0: the most negative lane is -max(|lo|).
    for j in whole..k {
        low = low.min(*x.add(j) * *divide.add(j));
        high = high.max(*x.add(j) * *divide.add(j));
    }
    let scale = ((high - low) / 255.0).max(f32::MIN_POSITIVE);
    let zero = (-low / scale).round_ties_even().clamp(0.0, 255.0);
    let inverse = V::splat(1.0 / scale);
    let (z, top, bottom) = (V::splat(zero), V::splat(255.0), V::splat(0.0));
    let bytes = out as *mut u8;
    let mut i = 0;
    while i < whole {
        let q = V::load(x.add(i)).mul(V::load(divide.add(i))).mul_add(inverse, z).round().max(bottom).min(top);
        q.store_bytes(bytes.add(i));
        i += lanes;
    }
    for j in whole..k.div_ceil(4) * 4 {
        let q = if j < k { (*x.add(j) * *divide.add(j) / scale + zero).round_ties_even().clamp(0.0, 255.0) } else { zero };
        *bytes.add(j) = q as u8;
    }
    (scale, zero as i32)
}

macro_rules! int8_product {
    ($name:ident, $v:ident, $reg:ty, $set1:ident, $load:ident, $dot:ident, $zero:ident, $mullo:ident, $sub:ident, $cvt:ident, $mul:ident, $set1ps:ident, $loadps:ident) => {
        /// u8 inputs times i8 weights summed in i32 (`vpdpbusd`).
        pub(crate) struct $name;
        impl Product for $name {
            type F = $v;
            type Acc = $reg;
            type A = $reg;
            type B = $reg;
            const GROUP: usize = 4;
            const CONVERTS: bool = true;
            #[inline(always)]
            unsafe fn zero() -> $reg {
                $zero()
            }
            #[inline(always)]
            unsafe fn a(p: *const u32) -> $reg {
                $set1(*p as i32)
            }
            #[inline(always)]
            unsafe fn b(p: *const u32) -> $reg {
                $load(p as *const _)
            }
            #[inline(always)]
            unsafe fn madd(acc: $reg, a: $reg, b: $reg) -> $reg {
                $dot(acc, a, b)
            }
            #[inline(always)]
            unsafe fn finish(acc: $reg, row: (f32, i32), col_scale: *const f32, col_sum: *const i32) -> $v {
                // Σ (q + z)·w − z·Σw = Σ q·w, exact in i32.
                let offset = $mullo($set1(row.1), $load(col_sum as *const _));
                let exact = $cvt($sub(acc, offset));
                $v($mul(exact, $mul($set1ps(row.0), $loadps(col_scale))))
            }
            #[inline(always)]
            unsafe fn convert(x: *const f32, k: usize, out: *mut u32, divide: *const f32) -> (f32, i32) {
                quantize_row::<$v>(x, k, out, divide)
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
int8_product!(
    Int8Avx512, Z, __m512i, _mm512_set1_epi32, _mm512_loadu_si512, _mm512_dpbusd_epi32, _mm512_setzero_si512,
    _mm512_mullo_epi32, _mm512_sub_epi32, _mm512_cvtepi32_ps, _mm512_mul_ps, _mm512_set1_ps, _mm512_loadu_ps
);
#[cfg(target_arch = "x86_64")]
int8_product!(
    Int8Avx2, Y, __m256i, _mm256_set1_epi32, _mm256_loadu_si256, _mm256_dpbusd_avx_epi32, _mm256_setzero_si256,
    _mm256_mullo_epi32, _mm256_sub_epi32, _mm256_cvtepi32_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_loadu_ps
);

/// The number format of packed weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// f32 as it is.
    F32,
    /// bf16 pairs.
    Bf16,
    /// i8 quads, a scale per column.
    Int8,
}

/// Weights packed for one kind of product: panels of `nr` output columns,
/// each `groups` rows of `nr` 32-bit elements, zero-padded past `k` and `n`.
#[derive(Debug, Clone)]
pub struct Packed {
    /// The format of `data`.
    pub format: Format,
    /// Inputs.
    pub k: usize,
    /// Outputs.
    pub n: usize,
    /// 32-bit elements per input row (`k` over the product's group).
    pub groups: usize,
    /// Columns per panel.
    pub nr: usize,
    data: Vec<u32>,
    bias: Vec<f32>,
    col_scale: Vec<f32>,
    col_sum: Vec<i32>,
    /// What each input is multiplied by before it is quantized (int8: the
    /// inverse of the smoothing folded into the weights' rows; else 1).
    divide: Vec<f32>,
}

impl Packed {
    /// Packs `weight_t` (`[k, n]`, row-major) and `bias` in panels of `nr`
    /// columns, `group` inputs per element made by `element`.
    fn new(format: Format, weight_t: &[f32], k: usize, n: usize, bias: &[f32], nr: usize, element: impl Fn(&[f32], usize) -> u32) -> Packed {
        let group = match format {
            Format::F32 => 1,
            Format::Bf16 => 2,
            Format::Int8 => 4,
        };
        assert_eq!(weight_t.len(), k * n, "weights of {k} × {n}");
        assert_eq!(bias.len(), n, "a bias per output");
        let groups = k.div_ceil(group);
        let panels = n.div_ceil(nr);
        let mut data = Vec::with_capacity(panels * groups * nr);
        let mut column = vec![0f32; group];
        for p in 0..panels {
            for g in 0..groups {
                for c in p * nr..(p + 1) * nr {
                    for (i, v) in column.iter_mut().enumerate() {
                        let row = g * group + i;
                        *v = if row < k && c < n { weight_t[row * n + c] } else { 0.0 };
                    }
                    data.push(element(&column, c));
                }
            }
        }
        let mut padded = bias.to_vec();
        padded.resize(panels * nr, 0.0);
        Packed { format, k, n, groups, nr, data, bias: padded, col_scale: vec![1.0; panels * nr], col_sum: vec![0; panels * nr], divide: vec![1.0; k] }
    }

    /// f32 weights as they are.
    pub fn f32(weight_t: &[f32], k: usize, n: usize, bias: &[f32], nr: usize) -> Packed {
        Packed::new(Format::F32, weight_t, k, n, bias, nr, |g, _| g[0].to_bits())
    }

    /// Weights rounded to bf16, in pairs of inputs.
    pub fn bf16(weight_t: &[f32], k: usize, n: usize, bias: &[f32], nr: usize) -> Packed {
        Packed::new(Format::Bf16, weight_t, k, n, bias, nr, |g, _| to_bf16(g[0]) as u32 | (to_bf16(g[1]) as u32) << 16)
    }

    /// Weights quantized to i8 with one scale per output column
    /// (symmetric: the column's largest magnitude maps to 127), four
    /// inputs to an element.
    pub fn int8(weight_t: &[f32], k: usize, n: usize, bias: &[f32], nr: usize, smooth: Option<&[f32]>) -> Packed {
        let smoothed: Vec<f32>;
        let weight_t = match smooth {
            Some(s) => {
                smoothed = weight_t.iter().enumerate().map(|(i, w)| w * s[i / n]).collect();
                &smoothed[..]
            }
            None => weight_t,
        };
        let scales: Vec<f32> = (0..n)
            .map(|c| ((0..k).map(|r| weight_t[r * n + c].abs()).fold(0f32, f32::max) / 127.0).max(f32::MIN_POSITIVE))
            .collect();
        let quantize = |w: f32, c: usize| (w / scales[c]).round_ties_even().clamp(-127.0, 127.0) as i8;
        let mut packed = Packed::new(Format::Int8, weight_t, k, n, bias, nr, |g, c| {
            let c = c.min(n - 1);
            u32::from_le_bytes([0, 1, 2, 3].map(|i| quantize(g[i], c) as u8))
        });
        for c in 0..n {
            packed.col_scale[c] = scales[c];
            packed.col_sum[c] = (0..k).map(|r| quantize(weight_t[r * n + c], c) as i32).sum();
        }
        if let Some(s) = smooth {
            packed.divide = s.iter().map(|s| 1.0 / s).collect();
        }
        packed
    }

}

/// What happens to `x · W + b` before it is stored.
#[derive(Debug, Clone, Copy)]
pub enum Epilogue<'a> {
    /// `out = x · W + b`.
    Bias,
    /// `out = gelu(x · W + b)` (erf form).
    Gelu,
    /// `out = norm(out + x · W + b)`: a residual connection and the layer
    /// norm after it, the output overwriting the residual row by row.
    AddNorm(ops::Norm<'a>),
}

/// One call: rows of `x` (`k` wide) times the packed weights into rows of
/// `out` (`n` wide).
#[derive(Clone, Copy)]
pub(crate) struct Job<'a> {
    pub packed: &'a Packed,
    pub x: *const f32,
    pub rows: usize,
    pub out: *mut f32,
    pub epilogue: Epilogue<'a>,
}

/// The L2 share an input block may take.
const L2_BLOCK_BYTES: usize = 512 << 10;

/// Pointers a tile needs besides its inputs.
#[derive(Clone, Copy)]
struct Tail {
    bias: *const f32,
    col_scale: *const f32,
    col_sum: *const i32,
    gelu: bool,
    residual: bool,
}

/// `MR` rows × `NV` registers of columns: the sums over every input, then
/// the epilogue, stored to `out` (rows `ldo` apart).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<P: Product, const MR: usize, const NV: usize>(
    a: *const u32,
    lda: usize,
    groups: usize,
    b: *const u32,
    rowq: *const (f32, i32),
    out: *mut f32,
    ldo: usize,
    tail: Tail,
) {
    let lanes = P::F::LANES;
    let nr = NV * lanes;
    let mut acc = [[P::zero(); NV]; MR];
    let mut ap = a;
    let mut bp = b;
    for _ in 0..groups {
        let bv: [P::B; NV] = std::array::from_fn(|v| P::b(bp.add(v * lanes)));
        for (r, sums) in acc.iter_mut().enumerate() {
            let av = P::a(ap.add(r * lda));
            for (sum, &w) in sums.iter_mut().zip(&bv) {
                *sum = P::madd(*sum, av, w);
            }
        }
        ap = ap.add(1);
        bp = bp.add(nr);
    }
    for (r, sums) in acc.iter().enumerate() {
        let q = *rowq.add(r);
        for (v, &sum) in sums.iter().enumerate() {
            let c = v * lanes;
            let mut f = P::finish(sum, q, tail.col_scale.add(c), tail.col_sum.add(c));
            f = f.add(P::F::load(tail.bias.add(c)));
            if tail.gelu {
                f = simd::gelu(f);
            }
            let at = out.add(r * ldo + c);
            if tail.residual {
                f = f.add(P::F::load(at));
            }
            f.store(at);
        }
    }
}

/// Rows `0..job.rows` of the product; `MR × NV` is the micro-tile.
///
/// # Safety
/// The CPU must have the instructions `P` uses; `job.x` must hold
/// `rows × packed.k` floats and `job.out` `rows × packed.n`, not
/// overlapping; `NV × P::F::LANES` must be `packed.nr`.
#[inline(always)]
pub(crate) unsafe fn run<P: Product, const MR: usize, const NV: usize>(job: Job) {
    let packed = job.packed;
    let nr = NV * P::F::LANES;
    debug_assert_eq!(nr, packed.nr);
    let (k, n, groups) = (packed.k, packed.n, packed.groups);
    debug_assert_eq!(groups, k.div_ceil(P::GROUP), "weights packed for this product");
    let (gelu, residual, norm) = match job.epilogue {
        Epilogue::Bias => (false, false, None),
        Epilogue::Gelu => (true, false, None),
        Epilogue::AddNorm(norm) => (false, true, Some(norm)),
    };
    let block = (L2_BLOCK_BYTES / (groups * 4).max(1) / MR * MR).max(MR).min(job.rows.div_ceil(MR) * MR);
    let mut converted: Vec<u32> = if P::CONVERTS { vec![0; block * groups] } else { Vec::new() };
    let mut rowq = vec![(1.0f32, 0i32); block];
    let mut partial = [0f32; 16 * 64];
    let mut start = 0;
    while start < job.rows {
        let end = (start + block).min(job.rows);
        let (a, lda) = if P::CONVERTS {
            for r in start..end {
                rowq[r - start] = P::convert(job.x.add(r * k), k, converted.as_mut_ptr().add((r - start) * groups), packed.divide.as_ptr());
            }
            (converted.as_ptr(), groups)
        } else {
            (job.x.add(start * k) as *const u32, k)
        };
        for p in 0..packed.n.div_ceil(nr) {
            let col = p * nr;
            let b = packed.data.as_ptr().add(p * groups * nr);
            let tail = Tail {
                bias: packed.bias.as_ptr().add(col),
                col_scale: packed.col_scale.as_ptr().add(col),
                col_sum: packed.col_sum.as_ptr().add(col),
                gelu,
                residual,
            };
            let mut r = start;
            while r < end {
                let take = if end - r >= MR { MR } else if end - r >= 4 { 4 } else { 1 };
                let (ar, q) = (a.add((r - start) * lda), rowq.as_ptr().add(r - start));
                if col + nr <= n {
                    let o = job.out.add(r * n + col);
                    match take {
                        t if t == MR => tile::<P, MR, NV>(ar, lda, groups, b, q, o, n, tail),
                        4 => tile::<P, 4, NV>(ar, lda, groups, b, q, o, n, tail),
                        _ => tile::<P, 1, NV>(ar, lda, groups, b, q, o, n, tail),
                    }
                } else {
                    // The last, partial panel goes through a tile-sized buffer.
                    let width = n - col;
                    for i in 0..take {
                        for j in 0..nr {
                            partial[i * nr + j] = if residual && j < width { *job.out.add((r + i) * n + col + j) } else { 0.0 };
                        }
                    }
                    let o = partial.as_mut_ptr();
                    match take {
                        t if t == MR => tile::<P, MR, NV>(ar, lda, groups, b, q, o, nr, tail),
                        4 => tile::<P, 4, NV>(ar, lda, groups, b, q, o, nr, tail),
                        _ => tile::<P, 1, NV>(ar, lda, groups, b, q, o, nr, tail),
                    }
                    for i in 0..take {
                        std::ptr::copy_nonoverlapping(partial.as_ptr().add(i * nr), job.out.add((r + i) * n + col), width);
                    }
                }
                r += take;
            }
        }
        if let Some(norm) = norm {
            ops::layer_norm_rows::<P::F>(job.out.add(start * n), end - start, n, norm);
        }
        start = end;
    }
}

/// The micro-tile of each kind: rows × column registers, as many sums as
/// the registers hold beside the weights and the broadcast input.
macro_rules! entries {
    ($($name:ident: $features:literal, $product:ty, $mr:expr, $nv:literal;)*) => {
        $(
            /// # Safety
            /// As [`run`]; the CPU must have the features named.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = $features)]
            pub(crate) unsafe fn $name(job: Job) {
                run::<$product, { $mr }, $nv>(job)
            }
        )*
    };
}

/// Rows of a micro-tile: 28 sums, two weight registers and the broadcast
/// input in AVX-512's 32 registers; 12 sums in AVX2's 16.
pub(crate) const fn tile_rows(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 14,
        Isa::Avx2 => 6,
    }
}

/// Output columns of a weight panel: a micro-tile's two registers.
pub(crate) const fn panel_columns(isa: Isa) -> usize {
    match isa {
        Isa::Avx512 => 2 * 16,
        Isa::Avx2 => 2 * 8,
    }
}

entries! {
    f32_avx512: "avx512f", F32Avx512, tile_rows(Isa::Avx512), 2;
    f32_avx2: "avx2,fma", F32Avx2, tile_rows(Isa::Avx2), 2;
    bf16_avx512: "avx512f,avx512bf16", Bf16Avx512, tile_rows(Isa::Avx512), 2;
    int8_avx512: "avx512f,avx512bw,avx512vnni", Int8Avx512, tile_rows(Isa::Avx512), 2;
    int8_avx2: "avx2,fma,avxvnni", Int8Avx2, tile_rows(Isa::Avx2), 2;
}

#[cfg(test)]
mod tests {
    use super::super::{choose, Features, Kernels, Path, Precision};
    use super::*;

    fn value(i: usize) -> f32 {
        ((i * 7919 % 1000) as f32 / 500.0) - 1.0
    }

    type Pack = fn(&[f32], usize, usize, &[f32], usize) -> Packed;
    /// A path, its entry, its packing and its error bound.
    type Case = (Path, unsafe fn(Job), Pack, f32);

    /// Every path this CPU runs, with its entry, packing and error bound
    /// relative to the sum of the products' magnitudes.
    fn paths() -> Vec<Case> {
        let cpu = Features::detect();
        let mut out: Vec<Case> = Vec::new();
        let int8 = |w: &[f32], k, n, b: &[f32], nr| Packed::int8(w, k, n, b, nr, None);
        for (kernels, precision) in [
            (Kernels::Avx512, Precision::F32),
            (Kernels::Avx2, Precision::F32),
            (Kernels::Avx512, Precision::Bf16),
            (Kernels::Avx512, Precision::Int8),
            (Kernels::Avx2, Precision::Int8),
        ] {
            match choose(&cpu, kernels, precision) {
                Ok(path @ Path::F32(Isa::Avx512)) => out.push((path, f32_avx512, Packed::f32, 1e-5)),
                Ok(path @ Path::F32(Isa::Avx2)) => out.push((path, f32_avx2, Packed::f32, 1e-5)),
                Ok(path @ Path::Bf16) => out.push((path, bf16_avx512, Packed::bf16, 0.01)),
                Ok(path @ Path::Int8(Isa::Avx512)) => out.push((path, int8_avx512, int8, 0.02)),
                Ok(path @ Path::Int8(Isa::Avx2)) => out.push((path, int8_avx2, int8, 0.02)),
                _ => eprintln!("not on this CPU: {precision:?} with {kernels:?}"),
            }
        }
        out
    }

    fn nr(path: Path) -> usize {
        panel_columns(path.isa().expect("the kernels' paths"))
    }

    fn run(entry: unsafe fn(Job), packed: &Packed, x: &[f32], out: &mut [f32], epilogue: Epilogue) {
        let job = Job { packed, x: x.as_ptr(), rows: x.len() / packed.k, out: out.as_mut_ptr(), epilogue };
        // SAFETY: `paths` lists only entries this CPU runs; x and out hold
        // whole rows of k and n.
        unsafe { entry(job) }
    }

    #[test]
    fn products_match_f32_on_odd_shapes_and_each_row_is_its_own() {
        // 37 inputs (not a whole pair or quad), 40 outputs (a partial
        // panel), 19 rows (whole tiles, then 4-row and 1-row remainders).
        let (rows, k, n) = (19, 37, 40);
        let x: Vec<f32> = (0..rows * k).map(value).collect();
        let w: Vec<f32> = (0..k * n).map(|i| value(i + 13)).collect();
        let bias: Vec<f32> = (0..n).map(|i| value(i + 5)).collect();
        for (path, entry, pack, bound) in paths() {
            let packed = pack(&w, k, n, &bias, nr(path));
            let mut out = vec![0f32; rows * n];
            run(entry, &packed, &x, &mut out, Epilogue::Bias);
            for r in 0..rows {
                for c in 0..n {
                    let terms = (0..k).map(|i| x[r * k + i] * w[i * n + c]);
                    let want = bias[c] + terms.clone().sum::<f32>();
                    let scale: f32 = terms.map(f32::abs).sum();
                    let got = out[r * n + c];
                    assert!((got - want).abs() <= bound * scale + 1e-5, "{}: ({r}, {c}) {got} vs {want}", path.describe());
                }
                let mut alone = vec![0f32; n];
                run(entry, &packed, &x[r * k..(r + 1) * k], &mut alone, Epilogue::Bias);
                assert_eq!(alone, out[r * n..(r + 1) * n], "{}: row {r} alone", path.describe());
            }
        }
    }

    #[test]
    fn epilogues_apply_gelu_and_add_then_normalize() {
        let (rows, k, n) = (5, 64, 48);
        let x: Vec<f32> = (0..rows * k).map(value).collect();
        let w: Vec<f32> = (0..k * n).map(|i| value(i + 3) * 0.2).collect();
        let bias: Vec<f32> = (0..n).map(|i| value(i + 7)).collect();
        let residual: Vec<f32> = (0..rows * n).map(|i| value(i + 11)).collect();
        let (weight, shift): (Vec<f32>, Vec<f32>) = ((0..n).map(|i| 1.0 + value(i) * 0.5).collect(), (0..n).map(|i| value(i + 1) * 0.1).collect());
        let norm = ops::Norm { weight: &weight, bias: &shift, eps: 1e-12 };
        for (path, entry, _, _) in paths().into_iter().filter(|p| matches!(p.0, Path::F32(_))) {
            let packed = Packed::f32(&w, k, n, &bias, nr(path));
            let mut plain = vec![0f32; rows * n];
            run(entry, &packed, &x, &mut plain, Epilogue::Bias);
            let mut gelu = vec![0f32; rows * n];
            run(entry, &packed, &x, &mut gelu, Epilogue::Gelu);
            for (g, p) in gelu.iter().zip(&plain) {
                let exact = 0.5 * p * (1.0 + erf_reference(*p as f64 / std::f64::consts::SQRT_2) as f32);
                assert!((g - exact).abs() < 1e-5, "{}: gelu({p}) = {g}, not {exact}", path.describe());
            }
            let mut added = residual.clone();
            run(entry, &packed, &x, &mut added, Epilogue::AddNorm(norm));
            for r in 0..rows {
                let sum: Vec<f32> = (0..n).map(|c| plain[r * n + c] + residual[r * n + c]).collect();
                let mean = sum.iter().sum::<f32>() / n as f32;
                let var = sum.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n as f32;
                for c in 0..n {
                    let want = (sum[c] - mean) / (var + 1e-12).sqrt() * weight[c] + shift[c];
                    assert!((added[r * n + c] - want).abs() < 1e-4, "{}: norm ({r}, {c})", path.describe());
                }
            }
        }
    }

    // erf by its Taylor series, summed in f64: the independent reference.
    fn erf_reference(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..300 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn int8_smoothing_leaves_the_product_and_narrows_the_error() {
        let cpu = Features::detect();
        let Ok(path) = choose(&cpu, Kernels::Auto, Precision::Int8) else {
            eprintln!("no int8 path on this CPU");
            return;
        };
        let entry: unsafe fn(Job) = if path == Path::Int8(Isa::Avx512) { int8_avx512 } else { int8_avx2 };
        // Inputs with two outlier features, as after a layer norm.
        let (rows, k, n) = (8, 96, 32);
        let x: Vec<f32> = (0..rows * k).map(|i| if i % k == 3 || i % k == 50 { 20.0 * value(i) } else { value(i) }).collect();
        let w: Vec<f32> = (0..k * n).map(|i| value(i + 9) * 0.1).collect();
        let bias = vec![0f32; n];
        let range: Vec<f32> = (0..k).map(|j| (0..rows).map(|r| x[r * k + j].abs()).fold(0f32, f32::max)).collect();
        let smooth: Vec<f32> = range.iter().map(|r| r.max(1e-5).sqrt()).collect();
        let error = |packed: &Packed| {
            let mut out = vec![0f32; rows * n];
            run(entry, packed, &x, &mut out, Epilogue::Bias);
            (0..rows * n)
                .map(|i| {
                    let (r, c) = (i / n, i % n);
                    (out[i] - (0..k).map(|j| x[r * k + j] * w[j * n + c]).sum::<f32>()).abs()
                })
                .fold(0f32, f32::max)
        };
        let plain = error(&Packed::int8(&w, k, n, &bias, nr(path), None));
        let smoothed = error(&Packed::int8(&w, k, n, &bias, nr(path), Some(&smooth)));
        assert!(smoothed < plain * 0.7, "smoothing: largest error {smoothed} against {plain} without");
    }
}
