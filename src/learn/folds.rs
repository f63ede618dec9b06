//! Article-grouped folds and the one train-then-predict driver: every
//! cross-validated figure (the combiner, heads, anchors, thresholds) comes
//! through [`cross_validate`] with folds from [`grouped_folds`], so the same
//! gold and seed give the same folds everywhere.

/// Assigns each row a fold in `0..k` so that all rows of one article share
/// a fold: articles are shuffled with `seed`, then dealt round-robin.
pub fn grouped_folds(article_ids: &[String], k: usize, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut articles: Vec<&String> = article_ids.iter().collect();
    articles.sort();
    articles.dedup();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    articles.shuffle(&mut rng);
    let fold_of: std::collections::HashMap<&String, usize> =
        articles.into_iter().enumerate().map(|(i, a)| (a, i % k.max(1))).collect();
    article_ids.iter().map(|a| fold_of[a]).collect()
}

/// Train-then-predict over `folds` (one fold per row): for each fold,
/// `fit(fold, training_rows)` builds a model from the other folds' rows,
/// then `predict(&model, row)` scores each of the fold's own rows. Returns
/// one prediction per row, in row order.
pub fn cross_validate<M, T: Clone + Default>(
    folds: &[usize],
    mut fit: impl FnMut(usize, &[usize]) -> M,
    mut predict: impl FnMut(&M, usize) -> T,
) -> Vec<T> {
    let k = folds.iter().copied().max().map_or(0, |m| m + 1);
    let mut out = vec![T::default(); folds.len()];
    for fold in 0..k {
        let train: Vec<usize> = (0..folds.len()).filter(|&i| folds[i] != fold).collect();
        let model = fit(fold, &train);
        for i in (0..folds.len()).filter(|&i| folds[i] == fold) {
            out[i] = predict(&model, i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_never_share_an_article() {
        let ids: Vec<String> = (0..50).map(|i| format!("a{}", i % 9)).collect();
        let folds = grouped_folds(&ids, 5, 7);
        for (i, a) in ids.iter().enumerate() {
            for (j, b) in ids.iter().enumerate() {
                if a == b {
                    assert_eq!(folds[i], folds[j]);
                }
            }
        }
        assert_eq!(folds, grouped_folds(&ids, 5, 7), "seeded");
        assert_eq!(folds.iter().copied().max(), Some(4));
    }

    #[test]
    fn every_row_is_predicted_by_a_model_that_never_saw_it() {
        let folds = vec![0, 1, 2, 0, 1, 2, 0];
        let seen = cross_validate(&folds, |_, train| train.to_vec(), |train: &Vec<usize>, i| (train.contains(&i), train.len()));
        assert!(seen.iter().all(|(saw, _)| !saw));
        assert_eq!(seen.iter().map(|(_, n)| n).collect::<Vec<_>>(), vec![&4, &5, &5, &4, &5, &5, &4]);
    }
}
