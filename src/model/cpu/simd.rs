//! Vectors of f32 lanes for the CPU kernels: one implementation per
//! instruction family (AVX-512F: 16 lanes, AVX2/FMA: 8 lanes, plain f32: 1
//! lane), and the vector functions the kernels share (exp, erf, GELU).
//!
//! Every method is `#[inline(always)]` and `unsafe`: it must be inlined
//! into a function compiled for its instruction family
//! (`#[target_feature]`), which is only called once the CPU was found to
//! have that family.

#![allow(clippy::missing_safety_doc)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// A vector of f32.
pub(crate) trait F32s: Copy {
    /// Lanes per vector.
    const LANES: usize;
    unsafe fn splat(x: f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    unsafe fn store(self, p: *mut f32);
    /// `self * b + c`, fused.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    unsafe fn sub(self, b: Self) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    unsafe fn div(self, b: Self) -> Self;
    unsafe fn max(self, b: Self) -> Self;
    unsafe fn min(self, b: Self) -> Self;
    /// The lanes' sum.
    unsafe fn sum(self) -> f32;
    /// The largest lane.
    unsafe fn max_lane(self) -> f32;
    /// Rounded to the nearest integer, ties to even.
    unsafe fn round(self) -> Self;
    /// 2^n for lanes holding integers n in [-127, 127].
    unsafe fn pow2(self) -> Self;
    /// |self|.
    unsafe fn abs(self) -> Self;
    /// `self` with the sign of `sign`.
    unsafe fn with_sign_of(self, sign: Self) -> Self;
    /// Stores the lanes, whole numbers in [0, 255], as bytes.
    unsafe fn store_bytes(self, p: *mut u8);
    /// `self · 2^n` for lanes of `n` holding integers in [-127, 127].
    #[inline(always)]
    unsafe fn times_pow2(self, n: Self) -> Self {
        self.mul(n.pow2())
    }
    /// Transposes the `LANES × LANES` block whose rows start `src_stride`
    /// floats apart into rows `dst_stride` apart.
    #[inline(always)]
    unsafe fn transpose(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
        for i in 0..Self::LANES {
            for j in 0..Self::LANES {
                *dst.add(j * dst_stride + i) = *src.add(i * src_stride + j);
            }
        }
    }
    /// 1 / self, to about f32 precision (an estimate refined by one Newton
    /// step where the instruction set has an estimate; a division cost
    /// several times as much in the GELU epilogue).
    #[inline(always)]
    unsafe fn recip(self) -> Self {
        Self::splat(1.0).div(self)
    }
}

impl F32s for f32 {
    const LANES: usize = 1;
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        *p
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        *p = self
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        self.mul_add(b, c)
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        self + b
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        self - b
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        self * b
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        self / b
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        if b > self { b } else { self }
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        if b < self { b } else { self }
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        self
    }
    #[inline(always)]
    unsafe fn max_lane(self) -> f32 {
        self
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        self.round_ties_even()
    }
    #[inline(always)]
    unsafe fn pow2(self) -> Self {
        f32::from_bits(((self as i32 + 127) as u32) << 23)
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline(always)]
    unsafe fn with_sign_of(self, sign: Self) -> Self {
        self.copysign(sign)
    }
    #[inline(always)]
    unsafe fn store_bytes(self, p: *mut u8) {
        *p = self as u8
    }
}

/// 16 lanes (AVX-512F).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct Z(pub __m512);

#[cfg(target_arch = "x86_64")]
impl F32s for Z {
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Z(_mm512_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Z(_mm512_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm512_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Z(_mm512_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Z(_mm512_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Z(_mm512_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Z(_mm512_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        Z(_mm512_div_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        Z(_mm512_max_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        Z(_mm512_min_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        _mm512_reduce_add_ps(self.0)
    }
    #[inline(always)]
    unsafe fn max_lane(self) -> f32 {
        _mm512_reduce_max_ps(self.0)
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        Z(_mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(self.0))
    }
    #[inline(always)]
    unsafe fn pow2(self) -> Self {
        let n = _mm512_cvtps_epi32(self.0);
        Z(_mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(n, _mm512_set1_epi32(127)))))
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        Z(_mm512_abs_ps(self.0))
    }
    #[inline(always)]
    unsafe fn with_sign_of(self, sign: Self) -> Self {
        let mask = _mm512_set1_epi32(i32::MIN);
        let s = _mm512_and_si512(_mm512_castps_si512(sign.0), mask);
        let m = _mm512_andnot_si512(mask, _mm512_castps_si512(self.0));
        Z(_mm512_castsi512_ps(_mm512_or_si512(m, s)))
    }
    #[inline(always)]
    unsafe fn store_bytes(self, p: *mut u8) {
        _mm_storeu_si128(p as *mut __m128i, _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(self.0)))
    }
    #[inline(always)]
    unsafe fn times_pow2(self, n: Self) -> Self {
        Z(_mm512_scalef_ps(self.0, n.0))
    }
    #[inline(always)]
    unsafe fn transpose(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
        // Pairs of rows interleaved, then 4×4 blocks within each 128-bit
        // lane, then the lanes exchanged twice.
        let r: [__m512; 16] = std::array::from_fn(|i| _mm512_loadu_ps(src.add(i * src_stride)));
        let t: [__m512; 16] = std::array::from_fn(|i| {
            let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
            if i % 2 == 0 { _mm512_unpacklo_ps(a, b) } else { _mm512_unpackhi_ps(a, b) }
        });
        let u: [__m512; 16] = std::array::from_fn(|i| {
            let base = i / 4 * 4;
            let (a, b) = (t[base + (i % 4) / 2], t[base + 2 + (i % 4) / 2]);
            if i % 2 == 0 { _mm512_shuffle_ps::<0x44>(a, b) } else { _mm512_shuffle_ps::<0xEE>(a, b) }
        });
        let v: [__m512; 16] = std::array::from_fn(|i| {
            let base = i / 8 * 8;
            let (a, b) = (u[base + i % 4], u[base + 4 + i % 4]);
            if (i % 8) < 4 { _mm512_shuffle_f32x4::<0x88>(a, b) } else { _mm512_shuffle_f32x4::<0xDD>(a, b) }
        });
        for i in 0..16 {
            let (a, b) = (v[i % 8], v[8 + i % 8]);
            let row = if i < 8 { _mm512_shuffle_f32x4::<0x88>(a, b) } else { _mm512_shuffle_f32x4::<0xDD>(a, b) };
            _mm512_storeu_ps(dst.add(i * dst_stride), row);
        }
    }
    #[inline(always)]
    unsafe fn recip(self) -> Self {
        // 14-bit estimate; one Newton step, e(2 − x·e), doubles the bits.
        let e = _mm512_rcp14_ps(self.0);
        Z(_mm512_mul_ps(e, _mm512_fnmadd_ps(self.0, e, _mm512_set1_ps(2.0))))
    }
}

/// 8 lanes (AVX2 and FMA).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
#[repr(transparent)]
pub(crate) struct Y(pub __m256);

#[cfg(target_arch = "x86_64")]
impl F32s for Y {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Y(_mm256_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Y(_mm256_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Y(_mm256_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Y(_mm256_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Y(_mm256_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Y(_mm256_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        Y(_mm256_div_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        Y(_mm256_max_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        Y(_mm256_min_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sum(self) -> f32 {
        let lo = _mm256_castps256_ps128(self.0);
        let hi = _mm256_extractf128_ps::<1>(self.0);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<1>(s, s));
        _mm_cvtss_f32(s)
    }
    #[inline(always)]
    unsafe fn max_lane(self) -> f32 {
        let lo = _mm256_castps256_ps128(self.0);
        let hi = _mm256_extractf128_ps::<1>(self.0);
        let s = _mm_max_ps(lo, hi);
        let s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_max_ss(s, _mm_shuffle_ps::<1>(s, s));
        _mm_cvtss_f32(s)
    }
    #[inline(always)]
    unsafe fn round(self) -> Self {
        Y(_mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(self.0))
    }
    #[inline(always)]
    unsafe fn pow2(self) -> Self {
        let n = _mm256_cvtps_epi32(self.0);
        Y(_mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n, _mm256_set1_epi32(127)))))
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        Y(_mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0))
    }
    #[inline(always)]
    unsafe fn with_sign_of(self, sign: Self) -> Self {
        let mask = _mm256_set1_ps(-0.0);
        Y(_mm256_or_ps(_mm256_andnot_ps(mask, self.0), _mm256_and_ps(mask, sign.0)))
    }
    #[inline(always)]
    unsafe fn store_bytes(self, p: *mut u8) {
        // i32 lanes to u16 to u8 within each 128-bit half, then the two
        // halves' first four bytes side by side.
        let i = _mm256_cvtps_epi32(self.0);
        let w = _mm256_packus_epi32(i, i);
        let b = _mm256_packus_epi16(w, w);
        let joined = _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
        _mm_storel_epi64(p as *mut __m128i, joined)
    }
    #[inline(always)]
    unsafe fn transpose(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
        let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * src_stride)));
        let t: [__m256; 8] = std::array::from_fn(|i| {
            let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
            if i % 2 == 0 { _mm256_unpacklo_ps(a, b) } else { _mm256_unpackhi_ps(a, b) }
        });
        let u: [__m256; 8] = std::array::from_fn(|i| {
            let base = i / 4 * 4;
            let (a, b) = (t[base + (i % 4) / 2], t[base + 2 + (i % 4) / 2]);
            if i % 2 == 0 { _mm256_shuffle_ps::<0x44>(a, b) } else { _mm256_shuffle_ps::<0xEE>(a, b) }
        });
        for i in 0..8 {
            let (a, b) = (u[i % 4], u[4 + i % 4]);
            let row = if i < 4 { _mm256_permute2f128_ps::<0x20>(a, b) } else { _mm256_permute2f128_ps::<0x31>(a, b) };
            _mm256_storeu_ps(dst.add(i * dst_stride), row);
        }
    }
    #[inline(always)]
    unsafe fn recip(self) -> Self {
        // 12-bit estimate; one Newton step, e(2 − x·e), doubles the bits.
        let e = _mm256_rcp_ps(self.0);
        Y(_mm256_mul_ps(e, _mm256_fnmadd_ps(self.0, e, _mm256_set1_ps(2.0))))
    }
}

/// e^x, relative error about 2e-7 (Cody–Waite reduction, degree-6 polynomial).
#[inline(always)]
pub(crate) unsafe fn exp<V: F32s>(x: V) -> V {
    let x = x.max(V::splat(-87.0)).min(V::splat(88.0));
    let n = x.mul(V::splat(std::f32::consts::LOG2_E)).round();
    // ln 2 in two parts, so n · ln 2 is exact in the first.
    let r = n.mul_add(V::splat(-0.693_145_75), x);
    let r = n.mul_add(V::splat(-1.428_606_8e-6), r);
    let mut p = V::splat(1.0 / 720.0);
    p = p.mul_add(r, V::splat(1.0 / 120.0));
    p = p.mul_add(r, V::splat(1.0 / 24.0));
    p = p.mul_add(r, V::splat(1.0 / 6.0));
    p = p.mul_add(r, V::splat(0.5));
    p = p.mul_add(r, V::splat(1.0));
    p = p.mul_add(r, V::splat(1.0));
    p.times_pow2(n)
}

/// erf(x) to 1.5e-7 (Abramowitz and Stegun 7.1.26).
#[inline(always)]
pub(crate) unsafe fn erf<V: F32s>(x: V) -> V {
    let a = x.abs();
    let t = V::splat(0.327_591_1).mul_add(a, V::splat(1.0)).recip();
    let mut poly = V::splat(1.061_405_4);
    poly = poly.mul_add(t, V::splat(-1.453_152_1));
    poly = poly.mul_add(t, V::splat(1.421_413_7));
    poly = poly.mul_add(t, V::splat(-0.284_496_74));
    poly = poly.mul_add(t, V::splat(0.254_829_6));
    poly = poly.mul(t);
    let e = exp(V::splat(0.0).sub(a.mul(a)));
    V::splat(1.0).sub(poly.mul(e)).with_sign_of(x)
}

/// GELU in BERT's exact (erf) form.
#[inline(always)]
pub(crate) unsafe fn gelu<V: F32s>(x: V) -> V {
    let e = erf(x.mul(V::splat(std::f32::consts::FRAC_1_SQRT_2)));
    V::splat(0.5).mul(x).mul_add(e, V::splat(0.5).mul(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn block_transposes_move_every_element() {
        fn check<V: F32s>(name: &str) {
            let n = V::LANES;
            let (src_stride, dst_stride) = (n + 3, n + 5);
            let src: Vec<f32> = (0..n * src_stride).map(|i| i as f32).collect();
            let mut dst = vec![-1f32; n * dst_stride];
            // SAFETY: called only where the CPU has V's family (below).
            unsafe { V::transpose(src.as_ptr(), src_stride, dst.as_mut_ptr(), dst_stride) };
            for i in 0..n {
                for j in 0..n {
                    assert_eq!(dst[j * dst_stride + i], src[i * src_stride + j], "{name}: ({i}, {j})");
                }
            }
            assert!(dst.chunks(dst_stride).all(|row| row[n..].iter().all(|&v| v == -1.0)), "{name}: nothing past the block");
        }
        #[target_feature(enable = "avx512f")]
        unsafe fn wide() {
            check::<Z>("AVX-512");
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn narrow() {
            check::<Y>("AVX2");
        }
        check::<f32>("scalar");
        // SAFETY: each family is run only where it was detected.
        unsafe {
            if is_x86_feature_detected!("avx512f") {
                wide();
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                narrow();
            }
        }
    }
}
