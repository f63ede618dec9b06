//! The encoder's work between the products: embeddings, layer norm and
//! self-attention, generic over the vector width ([`F32s`]) and compiled
//! once per instruction family by [`super::dispatch`].

use super::simd::{self, F32s};

/// A layer norm's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Norm<'a> {
    /// Scale per feature.
    pub weight: &'a [f32],
    /// Shift per feature.
    pub bias: &'a [f32],
    /// Added to the variance.
    pub eps: f32,
}

/// Layer norm of `rows` rows of `n` floats at `x`, in place.
///
/// # Safety
/// `x` must hold `rows × n` floats, `norm` `n` weights and biases, and the
/// CPU the instructions of `V`.
#[inline(always)]
pub(crate) unsafe fn layer_norm_rows<V: F32s>(x: *mut f32, rows: usize, n: usize, norm: Norm) {
    let lanes = V::LANES;
    let whole = n / lanes * lanes;
    let (w, b) = (norm.weight.as_ptr(), norm.bias.as_ptr());
    for r in 0..rows {
        let row = x.add(r * n);
        let mut sum = V::splat(0.0);
        let mut i = 0;
        while i < whole {
            sum = sum.add(V::load(row.add(i)));
            i += lanes;
        }
        let mut total = sum.sum();
        for j in whole..n {
            total += *row.add(j);
        }
        let mean = total / n as f32;
        let m = V::splat(mean);
        let mut squares = V::splat(0.0);
        let mut i = 0;
        while i < whole {
            let d = V::load(row.add(i)).sub(m);
            squares = d.mul_add(d, squares);
            i += lanes;
        }
        let mut var = squares.sum();
        for j in whole..n {
            let d = *row.add(j) - mean;
            var += d * d;
        }
        let inv = 1.0 / (var / n as f32 + norm.eps).sqrt();
        let s = V::splat(inv);
        let mut i = 0;
        while i < whole {
            let v = V::load(row.add(i)).sub(m).mul(s);
            v.mul_add(V::load(w.add(i)), V::load(b.add(i))).store(row.add(i));
            i += lanes;
        }
        for j in whole..n {
            *row.add(j) = (*row.add(j) - mean) * inv * *w.add(j) + *b.add(j);
        }
    }
}

/// The embedding tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tables<'a> {
    pub word: &'a [f32],
    pub position: &'a [f32],
    /// Token type 0's row.
    pub token_type: &'a [f32],
    pub norm: Norm<'a>,
    pub hidden: usize,
}

/// Rows of `out`: word + position + token type embeddings, normalized,
/// for the tokens `ids` at positions `positions`.
///
/// # Safety
/// `out` must hold `ids.len() × hidden` floats; ids and positions must be
/// inside their tables (checked by the caller).
#[inline(always)]
pub(crate) unsafe fn embed_rows<V: F32s>(t: Tables, ids: &[u32], positions: &[usize], out: *mut f32) {
    let h = t.hidden;
    let lanes = V::LANES;
    let whole = h / lanes * lanes;
    for (r, (&id, &p)) in ids.iter().zip(positions).enumerate() {
        let (word, pos, kind) = (t.word.as_ptr().add(id as usize * h), t.position.as_ptr().add(p * h), t.token_type.as_ptr());
        let row = out.add(r * h);
        let mut i = 0;
        while i < whole {
            V::load(word.add(i)).add(V::load(pos.add(i))).add(V::load(kind.add(i))).store(row.add(i));
            i += lanes;
        }
        for j in whole..h {
            *row.add(j) = *word.add(j) + *pos.add(j) + *kind.add(j);
        }
    }
    layer_norm_rows::<V>(out, ids.len(), h, t.norm);
}

/// Self-attention over one sequence of `n` tokens: `qkv` holds its rows of
/// fused projections (q | k | v, each `heads × head_dim`), `out` receives
/// its `n` context rows (`heads × head_dim`). Padding never enters: the
/// sequence's rows are its real tokens. `Q` queries are taken together, so
/// each load of a key or value block serves `Q` multiply-adds and `Q` (or
/// `2Q`) sums are in flight at once.
///
/// # Safety
/// `qkv` must hold `n × 3·hidden` floats and `out` `n × hidden`, where
/// `hidden = heads × head_dim`; the CPU must have the instructions of `V`.
#[inline(always)]
pub(crate) unsafe fn attend<V: F32s, const Q: usize>(qkv: *const f32, n: usize, heads: usize, head_dim: usize, out: *mut f32, scratch: &mut Vec<f32>) {
    let lanes = V::LANES;
    let hidden = heads * head_dim;
    let width = 3 * hidden;
    let padded = n.div_ceil(lanes) * lanes;
    let blocks = padded / lanes;
    let scale = V::splat(1.0 / (head_dim as f32).sqrt());
    // Keys transposed ([head_dim][padded], zeros past n), then one row of
    // scores per query of a group.
    scratch.clear();
    scratch.resize(head_dim * padded + Q * padded + lanes * head_dim, 0.0);
    let (keys, rest) = scratch.split_at_mut(head_dim * padded);
    let (scores, stage) = rest.split_at_mut(Q * padded);
    let scores = scores.as_mut_ptr();
    let whole_dims = head_dim / lanes * lanes;
    for h in 0..heads {
        // Whole blocks of keys × dimensions transposed in registers; a
        // last, partial block of keys through a zero-padded copy.
        let k = qkv.add(hidden + h * head_dim);
        let mut u = 0;
        while u < n {
            let rows = (n - u).min(lanes);
            let (src, stride) = if rows == lanes {
                (k.add(u * width), width)
            } else {
                stage.fill(0.0);
                for r in 0..rows {
                    std::ptr::copy_nonoverlapping(k.add((u + r) * width), stage.as_mut_ptr().add(r * head_dim), head_dim);
                }
                (stage.as_ptr(), head_dim)
            };
            let mut d = 0;
            while d < whole_dims {
                V::transpose(src.add(d), stride, keys.as_mut_ptr().add(d * padded + u), padded);
                d += lanes;
            }
            for d in whole_dims..head_dim {
                for r in 0..rows {
                    keys[d * padded + u + r] = *k.add((u + r) * width + d);
                }
            }
            u += lanes;
        }
        let mut t = 0;
        while t < n {
            let group = (n - t).min(Q);
            let q: [*const f32; Q] = std::array::from_fn(|i| qkv.add((t + i.min(group - 1)) * width + h * head_dim));
            // Scores: each block of keys against the group's queries.
            for j in 0..blocks {
                let mut acc = [V::splat(0.0); Q];
                let kt = keys.as_ptr().add(j * lanes);
                for d in 0..head_dim {
                    let kv = V::load(kt.add(d * padded));
                    for (a, q) in acc.iter_mut().zip(&q) {
                        *a = V::splat(*q.add(d)).mul_add(kv, *a);
                    }
                }
                for (i, a) in acc.iter().enumerate() {
                    a.mul(scale).store(scores.add(i * padded + j * lanes));
                }
            }
            // Softmax over the real keys (padded ones set below any score,
            // left out of the sum and of the values); the sum's inverse is
            // applied at the end.
            let mut inverse = [0f32; Q];
            for (i, inv) in inverse.iter_mut().enumerate().take(group) {
                let row = scores.add(i * padded);
                for u in n..padded {
                    *row.add(u) = f32::MIN;
                }
                let mut max = V::load(row);
                for j in 1..blocks {
                    max = max.max(V::load(row.add(j * lanes)));
                }
                let m = V::splat(max.max_lane());
                let mut sum = V::splat(0.0);
                for j in 0..blocks {
                    let p = row.add(j * lanes);
                    let e = simd::exp(V::load(p).sub(m));
                    e.store(p);
                    if (j + 1) * lanes <= n {
                        sum = sum.add(e);
                    }
                }
                let mut total = sum.sum();
                for u in n / lanes * lanes..n {
                    total += *row.add(u);
                }
                *inv = 1.0 / total;
            }
            // Context: the weighted sum of values, two registers of
            // dimensions at a time for the whole group.
            let mut d = 0;
            while d + 2 * lanes <= whole_dims {
                let mut acc = [[V::splat(0.0); 2]; Q];
                for u in 0..n {
                    let v = qkv.add(u * width + 2 * hidden + h * head_dim + d);
                    let (v0, v1) = (V::load(v), V::load(v.add(lanes)));
                    for (i, a) in acc.iter_mut().enumerate() {
                        let p = V::splat(*scores.add(i * padded + u));
                        a[0] = p.mul_add(v0, a[0]);
                        a[1] = p.mul_add(v1, a[1]);
                    }
                }
                for (i, a) in acc.iter().enumerate().take(group) {
                    let o = out.add((t + i) * hidden + h * head_dim + d);
                    a[0].mul(V::splat(inverse[i])).store(o);
                    a[1].mul(V::splat(inverse[i])).store(o.add(lanes));
                }
                d += 2 * lanes;
            }
            while d < whole_dims {
                let mut acc = [V::splat(0.0); Q];
                for u in 0..n {
                    let v = V::load(qkv.add(u * width + 2 * hidden + h * head_dim + d));
                    for (i, a) in acc.iter_mut().enumerate() {
                        *a = V::splat(*scores.add(i * padded + u)).mul_add(v, *a);
                    }
                }
                for (i, a) in acc.iter().enumerate().take(group) {
                    a.mul(V::splat(inverse[i])).store(out.add((t + i) * hidden + h * head_dim + d));
                }
                d += lanes;
            }
            for d in whole_dims..head_dim {
                for (i, inv) in inverse.iter().enumerate().take(group) {
                    let mut c = 0f32;
                    for u in 0..n {
                        c += *scores.add(i * padded + u) * *qkv.add(u * width + 2 * hidden + h * head_dim + d);
                    }
                    *out.add((t + i) * hidden + h * head_dim + d) = c * inv;
                }
            }
            t += group;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{dispatch, Features, Isa};

    /// Softmax attention of one sequence, in f64: the reference.
    fn reference(qkv: &[f32], n: usize, heads: usize, head_dim: usize) -> Vec<f32> {
        let hidden = heads * head_dim;
        let mut out = vec![0f32; n * hidden];
        for h in 0..heads {
            for t in 0..n {
                let at = |u: usize, part: usize, d: usize| qkv[u * 3 * hidden + part * hidden + h * head_dim + d] as f64;
                let scores: Vec<f64> = (0..n).map(|u| (0..head_dim).map(|d| at(t, 0, d) * at(u, 1, d)).sum::<f64>() / (head_dim as f64).sqrt()).collect();
                let max = scores.iter().copied().fold(f64::MIN, f64::max);
                let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let total: f64 = weights.iter().sum();
                for d in 0..head_dim {
                    out[t * hidden + h * head_dim + d] = ((0..n).map(|u| weights[u] * at(u, 2, d)).sum::<f64>() / total) as f32;
                }
            }
        }
        out
    }

    #[test]
    fn attention_matches_softmax_attention_for_any_length_and_head_width() {
        let cpu = Features::detect();
        for isa in [Isa::Avx512, Isa::Avx2].into_iter().filter(|&isa| cpu.has(isa)) {
            // Lengths around the vector widths; heads narrower than a vector too.
            for (n, heads, head_dim) in [(1, 2, 32), (5, 3, 32), (16, 2, 32), (17, 2, 8), (33, 12, 32), (70, 4, 24)] {
                let hidden = heads * head_dim;
                let qkv: Vec<f32> = (0..n * 3 * hidden).map(|i| ((i * 7919 % 1000) as f32 / 250.0) - 2.0).collect();
                let mut out = vec![0f32; n * hidden];
                // SAFETY: the CPU has `isa` (filtered above); the buffers hold the sequence's rows.
                unsafe { dispatch::attend(isa, qkv.as_ptr(), n, heads, head_dim, out.as_mut_ptr(), &mut Vec::new()) };
                for (i, (got, want)) in out.iter().zip(reference(&qkv, n, heads, head_dim)).enumerate() {
                    assert!((got - want).abs() < 1e-4, "{isa:?} n={n} heads={heads}×{head_dim}: [{i}] {got} vs {want}");
                }
            }
        }
    }
}
