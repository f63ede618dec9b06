//! The label-set check: problems in a label set (and its gold) before they
//! cost accuracy.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::engine::Engine;
use crate::error::Result;
use crate::eval::gold::read_gold;

/// Every warning about the engine's label set: thresholds that never or
/// always fire, confusable descriptions (cosine at least `max_similarity`),
/// gold labels missing from the set and labels without gold.
pub fn check(engine: &Engine, gold: &[PathBuf], max_similarity: f32) -> Result<Vec<String>> {
    let set = engine.set();
    let mut warnings = Vec::new();
    for label in &set.labels {
        if label.threshold <= 0.05 {
            warnings.push(format!("{}: threshold {} is so low the label fires on almost every paragraph", label.id, label.threshold));
        } else if label.threshold >= 0.95 {
            warnings.push(format!("{}: threshold {} is so high the label almost never fires", label.id, label.threshold));
        }
    }
    for label in &set.labels {
        for alias in label.aliases.iter().filter(|a| a.chars().filter(|c| c.is_alphanumeric()).count() < 2) {
            warnings.push(format!(
                "{}: alias {alias:?} is a single letter or digit and matches far too easily (a word, or every word it starts); write the word or acronym itself",
                label.id
            ));
        }
    }
    let vectors = &engine.labels().vectors;
    for a in 0..set.labels.len() {
        for b in a + 1..set.labels.len() {
            let (Some(va), Some(vb)) = (vectors[a].positives.first(), vectors[b].positives.first()) else { continue };
            let similarity = crate::embed::cosine(va, vb);
            if similarity >= max_similarity {
                warnings.push(format!(
                    "{} and {}: descriptions are confusable (cosine {similarity:.3} >= {max_similarity}); make them say what sets each apart, or add negatives",
                    set.labels[a].id, set.labels[b].id
                ));
            }
        }
    }
    let mut used: BTreeMap<String, usize> = set.ids().into_iter().map(|id| (id, 0)).collect();
    for path in gold {
        let mut missing: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for r in &read_gold(path)? {
            for l in &r.labels {
                match used.get_mut(l) {
                    Some(n) => *n += 1,
                    None => missing.entry(l.clone()).or_insert((r.line, 0)).1 += 1,
                }
            }
        }
        for (l, (line, count)) in missing {
            let hint = set.closest_id(&l).map(|c| format!("; did you mean {c:?}?")).unwrap_or_default();
            warnings.push(format!("{}:{line}: label {l:?} ({count} rows) is not in the label set{hint}", path.display()));
        }
    }
    if !gold.is_empty() {
        for (id, n) in &used {
            if *n == 0 {
                warnings.push(format!("{id}: no gold example; its F1 cannot be measured and a head keeps its zero-shot decisions"));
            }
        }
    }
    Ok(warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeEmbedder;
    use crate::labels::LabelSet;

    #[test]
    fn one_letter_aliases_and_extreme_thresholds_are_warned_about() {
        let text = "name = \"t\"\n[[label]]\nid = \"a\"\ndescription = \"chips\"\naliases = [\"I\", \"x*\", \"chip*\"]\nthreshold = 0.99\n[[label]]\nid = \"b\"\ndescription = \"seas\"\n";
        let set = LabelSet::parse(text, std::path::Path::new("t.toml")).unwrap();
        let fake = FakeEmbedder::new();
        let engine = Engine::new(&fake, None, &set, None).unwrap();
        let warnings = check(&engine, &[], 0.7).unwrap();
        assert!(warnings.iter().any(|w| w.contains("a: alias \"I\" is a single letter")), "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("a: alias \"x*\" is a single letter")), "{warnings:?}");
        assert!(!warnings.iter().any(|w| w.contains("chip*")), "{warnings:?}");
        assert!(warnings.iter().any(|w| w.contains("threshold 0.99 is so high")), "{warnings:?}");
    }
}
