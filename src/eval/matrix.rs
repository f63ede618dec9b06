//! The one shape of labels for scoring: a matrix of rows (paragraphs) by
//! label ids, for gold and for decisions alike.

use std::collections::BTreeSet;

use super::gold::GoldRow;

/// Which labels each row carries, over a fixed list of label ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelMatrix {
    /// Label ids, the columns.
    pub ids: Vec<String>,
    /// One row per paragraph, one flag per id.
    pub rows: Vec<Vec<bool>>,
}

impl LabelMatrix {
    /// The gold labels of `rows`.
    pub fn from_gold<'a>(rows: impl IntoIterator<Item = &'a GoldRow>, ids: &[String]) -> LabelMatrix {
        let rows = rows.into_iter().map(|r| ids.iter().map(|id| r.labels.contains(id)).collect()).collect();
        LabelMatrix { ids: ids.to_vec(), rows }
    }

    /// Rows given as sets of label ids (ids outside `ids` are ignored).
    pub fn from_sets(rows: &[BTreeSet<String>], ids: &[String]) -> LabelMatrix {
        LabelMatrix { ids: ids.to_vec(), rows: rows.iter().map(|r| ids.iter().map(|id| r.contains(id)).collect()).collect() }
    }

    /// The decisions on `scores[row][label]` at `thresholds` (see
    /// [`crate::classify::decide`]).
    pub fn decided(scores: &[Vec<f32>], thresholds: &[f32], ids: &[String]) -> LabelMatrix {
        let rows = scores
            .iter()
            .map(|s| {
                let mut row = vec![false; ids.len()];
                crate::classify::decide(s, thresholds).into_iter().for_each(|j| row[j] = true);
                row
            })
            .collect();
        LabelMatrix { ids: ids.to_vec(), rows }
    }

    /// The rows at `indices`, in that order (repeats allowed).
    pub fn select(&self, indices: &[usize]) -> LabelMatrix {
        LabelMatrix { ids: self.ids.clone(), rows: indices.iter().map(|&i| self.rows[i].clone()).collect() }
    }

    /// The rows in `range`.
    pub fn slice(&self, range: std::ops::Range<usize>) -> LabelMatrix {
        LabelMatrix { ids: self.ids.clone(), rows: self.rows[range].to_vec() }
    }

    /// Row `i`'s label ids, sorted.
    pub fn set(&self, i: usize) -> BTreeSet<String> {
        self.ids.iter().zip(&self.rows[i]).filter(|(_, &on)| on).map(|(id, _)| id.clone()).collect()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}
