//! `themes::labels::LabelSet::parse` on arbitrary UTF-8 text.
#![no_main]

use std::collections::BTreeSet;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use themes::labels::LabelSet;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.toml");
    match LabelSet::parse(text, path) {
        Ok(set) => {
            let ids = set.ids();
            assert!(!ids.is_empty(), "Ok with no labels");
            let unique: BTreeSet<&String> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len(), "duplicate label ids: {ids:?}");
            for label in &set.labels {
                assert!(label.threshold > 0.0 && label.threshold < 1.0, "threshold {}", label.threshold);
                assert!(!label.description.trim().is_empty());
                let _ = label.alias_terms(&label.description);
            }
            let hash = set.hash();
            assert_eq!(hash.len(), 64);
            let _ = set.weights_for("all-MiniLM-L6-v2");
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.toml"), "error does not name the file: {message}");
        }
    }
});
