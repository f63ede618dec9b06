//! The suggest job: which paragraphs to hand-label next for one label.

use std::collections::HashSet;

use crate::engine::Engine;
use crate::error::Result;
use crate::eval::review::{Review, Status};
use crate::input::Article;

/// One suggested paragraph: the review row to fill in, and its score.
#[derive(Debug, Clone)]
pub struct Suggestion {
    /// The row to review (`themes gold merge` folds it into gold).
    pub row: Review,
    /// The label's score, in the paragraph's article.
    pub score: f32,
}

impl Suggestion {
    /// The suggestion in one line: score, article, paragraph, the text's start.
    pub fn line(&self) -> String {
        let short: String = self.row.text.iter().flat_map(|t| t.chars()).take(64).collect();
        format!("  {:.3}  {:<24} {:>3}  {short}", self.score, self.row.article, self.row.paragraph)
    }
}

/// The `n` paragraphs of `articles` most worth labelling for label `j`:
/// the most likely first, or with a head trained on examples of the label,
/// the most uncertain (probability nearest 0.5). Paragraphs in `known`
/// (article, paragraph) are left out. Every paragraph is scored in its
/// article, as `label` scores it, and keyed by its real article id and
/// number, so a reviewed row folds into gold that holds the whole article.
pub fn suggest(
    engine: &mut Engine,
    articles: &[Article],
    j: usize,
    n: usize,
    known: &HashSet<(String, usize)>,
    mut advanced: impl FnMut(),
) -> Result<(Vec<Suggestion>, bool)> {
    let ids = engine.set().ids();
    let id = &ids[j];
    let uncertainty = engine.head().is_some_and(|h| h.info.examples.get(id).copied().unwrap_or(0) > 0);
    let mut candidates = Vec::new();
    for article in articles {
        let predictions =
            engine.label(article).map_err(|e| e.context(format!("scoring article {} ({})", article.id, article.source)))?;
        for (p, text) in predictions.into_iter().zip(&article.paragraphs) {
            if known.contains(&(article.id.clone(), p.paragraph)) {
                continue;
            }
            let score = p.scores[j];
            let row = Review {
                article: article.id.clone(),
                paragraph: p.paragraph,
                label: Some(id.clone()),
                score: Some(crate::output::round(f64::from(score))),
                predicted: Some(p.labels.contains(&j)),
                status: Status::Todo,
                labels: p.labels.iter().map(|&k| ids[k].clone()).collect(),
                source: Some(article.source.to_string()),
                text: Some(text.clone()),
                line: 0,
            };
            candidates.push(Suggestion { row, score });
        }
        advanced();
    }
    let key = |c: &Suggestion| if uncertainty { (c.score - 0.5).abs() } else { -c.score };
    candidates.sort_by(|a, b| key(a).total_cmp(&key(b)));
    candidates.truncate(n);
    Ok((candidates, uncertainty))
}

/// The (article, paragraph) pairs already in these gold files, also under
/// the ARTICLE#PARAGRAPH ids of earlier suggestion templates.
pub fn known_paragraphs(gold: &[std::path::PathBuf]) -> Result<HashSet<(String, usize)>> {
    let mut known = HashSet::new();
    for path in gold {
        for r in crate::eval::gold::read_gold(path)? {
            if let Some((article, p)) = r.article.rsplit_once('#') {
                if let Ok(p) = p.parse() {
                    known.insert((article.to_owned(), p));
                }
            }
            known.insert((r.article, r.paragraph));
        }
    }
    Ok(known)
}
