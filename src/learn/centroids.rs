//! Gold centroids: for each label, the mean direction of the paragraph
//! vectors hand-labelled with it (positive) and of those labelled without
//! it (negative). A paragraph's similarity to them is what the gold says
//! the label looks like in this corpus, beside what its descriptions say;
//! three features of the classifier ([`crate::classify::Feature::Centroid`],
//! [`crate::classify::Feature::CentroidContrast`],
//! [`crate::classify::Feature::CentroidMargin`]).
//!
//! The rows a combiner is fitted on must not see themselves in a centroid
//! (its weight would be learned from in-sample similarities), nor their
//! own article's other paragraphs (which are close to them): their
//! centroids leave their article out ([`leave_article_out`]). Pure: no I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One label's centroids, unit length; `None` where no row is positive (or
/// none negative).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabelCentroids {
    /// Mean direction of the rows with the label.
    pub positive: Option<Vec<f32>>,
    /// Mean direction of the rows without it.
    pub negative: Option<Vec<f32>>,
}

/// Per label, sums of the positive and negative rows' vectors, so that a
/// centroid without some rows is a subtraction away.
#[derive(Debug, Clone)]
struct Sums {
    positive: Vec<Vec<f64>>,
    negative: Vec<Vec<f64>>,
    counts: Vec<(usize, usize)>,
}

impl Sums {
    fn new(labels: usize, dim: usize) -> Sums {
        Sums { positive: vec![vec![0.0; dim]; labels], negative: vec![vec![0.0; dim]; labels], counts: vec![(0, 0); labels] }
    }

    fn add(&mut self, vector: &[f32], gold: &[bool], sign: f64) {
        for (j, &y) in gold.iter().enumerate() {
            let sum = if y { &mut self.positive[j] } else { &mut self.negative[j] };
            for (s, x) in sum.iter_mut().zip(vector) {
                *s += sign * *x as f64;
            }
            let count = &mut self.counts[j];
            let c = if y { &mut count.0 } else { &mut count.1 };
            *c = if sign > 0.0 { *c + 1 } else { *c - 1 };
        }
    }

    fn centroids(&self) -> Vec<LabelCentroids> {
        let unit = |sum: &[f64], count: usize| {
            let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
            (count > 0 && norm > 1e-12).then(|| sum.iter().map(|x| (x / norm) as f32).collect())
        };
        (0..self.counts.len())
            .map(|j| LabelCentroids { positive: unit(&self.positive[j], self.counts[j].0), negative: unit(&self.negative[j], self.counts[j].1) })
            .collect()
    }
}

/// The centroids of `rows` (indices into `vectors` and `gold`).
pub fn centroids(vectors: &[&[f32]], gold: &[Vec<bool>], rows: &[usize]) -> Vec<LabelCentroids> {
    let labels = gold.first().map_or(0, Vec::len);
    let dim = vectors.first().map_or(0, |v| v.len());
    let mut sums = Sums::new(labels, dim);
    for &i in rows {
        sums.add(vectors[i], &gold[i], 1.0);
    }
    sums.centroids()
}

/// For each of `rows`, the centroids of `rows` without the row's article
/// (`articles[i]` names row `i`'s), in `rows` order.
pub fn leave_article_out(vectors: &[&[f32]], gold: &[Vec<bool>], articles: &[String], rows: &[usize]) -> Vec<Vec<LabelCentroids>> {
    let labels = gold.first().map_or(0, Vec::len);
    let dim = vectors.first().map_or(0, |v| v.len());
    let mut all = Sums::new(labels, dim);
    let mut by_article: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &i in rows {
        all.add(vectors[i], &gold[i], 1.0);
        by_article.entry(&articles[i]).or_default().push(i);
    }
    let mut without: BTreeMap<&str, Vec<LabelCentroids>> = BTreeMap::new();
    for (article, members) in &by_article {
        let mut sums = all.clone();
        for &i in members {
            sums.add(vectors[i], &gold[i], -1.0);
        }
        without.insert(article, sums.centroids());
    }
    rows.iter().map(|&i| without[articles[i].as_str()].clone()).collect()
}

/// A label's centroids as the label file keeps them: each vector quantized
/// to 8 bits with one scale (`"q8:SCALE:BASE64"`), about 500 characters for
/// 384 dimensions; cosines to the quantized vectors move by about 1e-3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCentroids {
    /// The positive centroid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive: Option<String>,
    /// The negative centroid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative: Option<String>,
}

impl StoredCentroids {
    /// The stored form of `c`.
    pub fn store(c: &LabelCentroids) -> StoredCentroids {
        StoredCentroids { positive: c.positive.as_deref().map(encode), negative: c.negative.as_deref().map(encode) }
    }

    /// The centroids, unit length again; an error names the vector that is
    /// not of the `"q8:SCALE:BASE64"` form or not `dim` long.
    pub fn load(&self, dim: usize) -> Result<LabelCentroids, String> {
        let read = |text: &Option<String>, which: &str| -> Result<Option<Vec<f32>>, String> {
            text.as_deref()
                .map(|t| {
                    let v = decode(t).ok_or_else(|| format!("the {which} centroid is not of the form \"q8:SCALE:BASE64\""))?;
                    if v.len() != dim {
                        return Err(format!("the {which} centroid has {} dimensions where the model's vectors have {dim}", v.len()));
                    }
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                    if !(norm > 0.0 && norm.is_finite()) {
                        return Err(format!("the {which} centroid is zero or not finite"));
                    }
                    Ok(v.iter().map(|x| x / norm).collect())
                })
                .transpose()
        };
        Ok(LabelCentroids { positive: read(&self.positive, "positive")?, negative: read(&self.negative, "negative")? })
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn encode(v: &[f32]) -> String {
    let scale = v.iter().fold(0f32, |m, x| m.max(x.abs())) / 127.0;
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let bytes: Vec<u8> = v.iter().map(|x| ((x / scale).round().clamp(-127.0, 127.0) as i8) as u8).collect();
    let mut out = format!("q8:{scale:e}:");
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn decode(text: &str) -> Option<Vec<f32>> {
    let rest = text.strip_prefix("q8:")?;
    let (scale, data) = rest.split_once(':')?;
    let scale: f32 = scale.parse().ok().filter(|s: &f32| s.is_finite() && *s > 0.0)?;
    let data = data.as_bytes();
    if data.len() % 4 != 0 {
        return None;
    }
    let value = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32);
    let mut bytes = Vec::with_capacity(data.len() / 4 * 3);
    for quad in data.chunks(4) {
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || quad[..4 - pad].contains(&b'=') {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = n << 6 | value(c)?;
        }
        n <<= 6 * pad as u32;
        bytes.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..3 - pad]);
    }
    Some(bytes.into_iter().map(|b| (b as i8) as f32 * scale).collect())
}

/// The centroid features of a paragraph vector
/// ([`crate::classify::Feature::FROM_CENTROIDS`], in that order), per label of
/// `centroids`: similarity to the label's positive centroid; that less the
/// similarity to its negative one; and that less the best similarity to
/// another label's positive centroid (the label's lead over the nearest
/// other theme, which the negative centroid, mostly paragraphs of no
/// theme, does not tell). NaN where a centroid is missing (the combiner
/// reads NaN as the feature's mean: no evidence either way).
pub fn features<'a>(vector: &[f32], centroids: impl IntoIterator<Item = &'a LabelCentroids>) -> Vec<[f32; 3]> {
    let dot = |c: &Option<Vec<f32>>| c.as_ref().map_or(f32::NAN, |c| crate::embed::cosine(vector, c));
    let pairs: Vec<(f32, f32)> = centroids.into_iter().map(|c| (dot(&c.positive), dot(&c.negative))).collect();
    // The best and second-best positive similarities, so each label's
    // "best of the others" is one comparison away.
    let (mut first, mut second) = ((f32::NEG_INFINITY, usize::MAX), f32::NEG_INFINITY);
    for (j, &(p, _)) in pairs.iter().enumerate().filter(|(_, (p, _))| !p.is_nan()) {
        if p > first.0 {
            second = first.0;
            first = (p, j);
        } else if p > second {
            second = p;
        }
    }
    pairs
        .iter()
        .enumerate()
        .map(|(j, &(positive, negative))| {
            let other = if j == first.1 { second } else { first.0 };
            let margin = if other.is_finite() { positive - other } else { f32::NAN };
            [positive, positive - negative, margin]
        })
        .collect()
}

/// One row's features `[label][feature]` with the centroid features set
/// from `centroids` (one per label).
pub fn with_features(row: &[Vec<f32>], vector: &[f32], centroids: &[LabelCentroids]) -> Vec<Vec<f32>> {
    use crate::classify::Feature;
    row.iter()
        .zip(features(vector, centroids))
        .map(|(f, values)| {
            let mut f = f.clone();
            for (feature, value) in Feature::FROM_CENTROIDS.into_iter().zip(values) {
                f[feature as usize] = value;
            }
            f
        })
        .collect()
}

/// The paragraph vectors and articles of the gold rows, which the
/// centroids are computed from.
#[derive(Debug, Clone, Copy)]
pub struct GoldVectors<'a> {
    /// Each row's paragraph vector.
    pub vectors: &'a [&'a [f32]],
    /// Each row's article key (`SET/ARTICLE`).
    pub articles: &'a [String],
}

impl GoldVectors<'_> {
    /// The features of `rows` to fit a combiner on: each row's centroid
    /// features from the centroids of `rows` without the row's article.
    pub fn fitting_features(&self, features: &[Vec<Vec<f32>>], gold: &[Vec<bool>], rows: &[usize]) -> Vec<Vec<Vec<f32>>> {
        let own = leave_article_out(self.vectors, gold, self.articles, rows);
        rows.iter().zip(&own).map(|(&i, c)| with_features(&features[i], self.vectors[i], c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_the_lead_over_the_nearest_other_label() {
        let axis = |k: usize| -> Vec<f32> { (0..3).map(|i| (i == k) as u8 as f32).collect() };
        let label = |k: usize| LabelCentroids { positive: Some(axis(k)), negative: Some(axis((k + 1) % 3)) };
        // The vector leans to label 0 (0.8), then label 1 (0.6); label 2 has
        // no centroid, so it has no features and leads no one.
        let v = [0.8f32, 0.6, 0.0];
        let none = LabelCentroids::default();
        let f = features(&v, [&label(0), &label(1), &none]);
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        assert!(close(f[0][0], 0.8) && close(f[0][1], 0.8 - 0.6) && close(f[0][2], 0.8 - 0.6), "{:?}", f[0]);
        assert!(close(f[1][0], 0.6) && close(f[1][1], 0.6 - 0.0) && close(f[1][2], 0.6 - 0.8), "{:?}", f[1]);
        assert!(f[2].iter().all(|x| x.is_nan()), "{:?}", f[2]);
        // Alone, a label has nothing to lead: its margin is missing.
        assert!(features(&v, [&label(0)])[0][2].is_nan());
    }

    #[test]
    fn stored_centroids_read_back_within_a_quantization_step() {
        let v: Vec<f32> = (0..384).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let unit: Vec<f32> = v.iter().map(|x| x / norm).collect();
        let stored = StoredCentroids::store(&LabelCentroids { positive: Some(unit.clone()), negative: None });
        assert!(stored.positive.as_ref().unwrap().starts_with("q8:") && stored.negative.is_none());
        let back = stored.load(384).unwrap();
        assert!(crate::embed::cosine(back.positive.as_ref().unwrap(), &unit) > 0.9999);
        assert!(back.negative.is_none());
        for bad in ["q8:1:AAA", "q8:x:AAAA", "q9:1:AAAA", "q8:1:A===", "q8:1:AA=A"] {
            assert!(StoredCentroids { positive: Some(bad.into()), negative: None }.load(384).is_err(), "{bad}");
        }
        let e = stored.load(768).unwrap_err();
        assert!(e.contains("384 dimensions where the model's vectors have 768"), "{e}");
    }

    #[test]
    fn a_row_never_sees_its_own_article_in_its_centroids() {
        // Two articles: "a" with one positive row along x, "b" with one
        // positive along y; negatives along z.
        let (x, y, z) = ([1.0f32, 0.0, 0.0], [0.0f32, 1.0, 0.0], [0.0f32, 0.0, 1.0]);
        let vectors: Vec<&[f32]> = vec![&x, &z, &y, &z];
        let gold = vec![vec![true], vec![false], vec![true], vec![false]];
        let articles: Vec<String> = ["a", "a", "b", "b"].iter().map(|s| s.to_string()).collect();
        let rows = [0, 1, 2, 3];
        let all = centroids(&vectors, &gold, &rows);
        let half = std::f32::consts::FRAC_1_SQRT_2;
        assert_eq!(all[0].positive.as_deref(), Some(&[half, half, 0.0][..]));
        let loo = leave_article_out(&vectors, &gold, &articles, &rows);
        assert_eq!(loo[0][0].positive.as_deref(), Some(&y[..]), "row 0 (article a) sees only article b's positive");
        assert_eq!(loo[3][0].positive.as_deref(), Some(&x[..]));
        let [centroid, contrast, margin] = features(&z, [&loo[0][0]])[0];
        assert_eq!([centroid, contrast], [0.0, 0.0 - 1.0], "z against y, less z against z");
        assert!(margin.is_nan(), "one label leads no other");
        assert!(features(&x, [&LabelCentroids::default()])[0][0].is_nan(), "no centroid: no evidence");
    }
}
