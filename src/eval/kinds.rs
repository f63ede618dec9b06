//! Kinds of paragraph, for the error study: F1 is reported separately for
//! headlines, page furniture, list-heavy, long, context-dependent and
//! non-English paragraphs, since each fails in its own way; and by the
//! language detected, so each language's rows are scored beside the others.

/// What the kind rules look at for one paragraph.
pub struct KindInput<'a> {
    /// 1-based number in its article.
    pub paragraph: usize,
    /// The text.
    pub text: &'a str,
    /// Word pieces.
    pub tokens: usize,
    /// Whether the paragraph's gold themes are not named in it: no alias of
    /// a gold label occurs and no span comes close to it on its own.
    pub context_dependent: bool,
    /// Its language, when the model does not cover it.
    pub uncovered_language: Option<String>,
    /// The language detected, when reliably ([`crate::lang::detected_language`]).
    pub language: Option<String>,
}

/// The kinds a paragraph belongs to (possibly none).
pub fn kinds(p: &KindInput) -> Vec<String> {
    let words = p.text.split_whitespace().count();
    let mut out = Vec::new();
    if p.paragraph == 1 {
        out.push("headline".to_owned());
    }
    if words < 8 {
        out.push("short".to_owned());
    }
    if p.text.matches([',', ';']).count() >= 3 {
        out.push("list-heavy".to_owned());
    }
    if p.tokens > 128 {
        out.push("long".to_owned());
    }
    if p.context_dependent {
        out.push("context-dependent".to_owned());
    }
    if p.uncovered_language.is_some() {
        out.push("non-English".to_owned());
    }
    // Every language reliably detected, so rows in each are scored side by
    // side (`language:en` beside `language:vi`), whatever the model reads.
    if let Some(code) = &p.language {
        out.push(format!("language:{code}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_rules() {
        let p = KindInput { paragraph: 1, text: "Related News", tokens: 4, context_dependent: false, uncovered_language: None, language: None };
        assert_eq!(kinds(&p), vec!["headline", "short"]);
        let p = KindInput {
            paragraph: 3,
            text: "They discussed trade, investment, education, health and climate change in depth today.",
            tokens: 200,
            context_dependent: true,
            uncovered_language: Some("vi".into()),
            language: Some("vi".into()),
        };
        assert_eq!(kinds(&p), vec!["list-heavy", "long", "context-dependent", "non-English", "language:vi"]);
    }
}
