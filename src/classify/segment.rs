//! Finer units than the paragraph: sentences, and the clauses and list items
//! inside them. A paragraph that lists "trade, education, security and
//! health" names four themes; its one vector dilutes them, while each list
//! item's vector carries one clearly.

/// Abbreviations after which a full stop does not end a sentence.
const ABBREVIATIONS: &[&str] = &[
    "U.S", "U.N", "U.K", "D.C", "Mr", "Mrs", "Ms", "Dr", "Gen", "Lt", "Col", "Sen", "Rep", "St", "No", "Jan",
    "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec", "Inc", "Co", "Corp", "Ltd",
    "vs", "etc", "Prof", "Gov", "Adm", "Capt", "Maj", "Sgt", "Amb", "Pres",
];

/// Splits a paragraph into sentences at `.`, `!` or `?` followed by white
/// space and a capital letter, digit or opening quote, except after an
/// abbreviation or an initial ("U.S.", "Mr.", "J.").
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (pos, c) = chars[i];
        if matches!(c, '.' | '!' | '?') {
            // Closing quotes or brackets belong to the sentence they end.
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j].1, '"' | '”' | '’' | '\'' | ')') {
                j += 1;
            }
            let mut k = j;
            while k < chars.len() && chars[k].1.is_whitespace() {
                k += 1;
            }
            let starts_sentence = k > j
                && k < chars.len()
                && (chars[k].1.is_uppercase() || chars[k].1.is_ascii_digit() || matches!(chars[k].1, '"' | '“' | '‘' | '('));
            if starts_sentence && c == '.' && ends_with_abbreviation(&text[start..pos]) {
                i += 1;
                continue;
            }
            if starts_sentence {
                let end = if j < chars.len() { chars[j].0 } else { text.len() };
                let sentence = text[start..end].trim();
                if !sentence.is_empty() {
                    out.push(sentence);
                }
                start = chars[k].0;
                i = k;
                continue;
            }
        }
        i += 1;
    }
    let tail = text[start..].trim();
    if !tail.is_empty() {
        out.push(tail);
    }
    out
}

fn ends_with_abbreviation(before: &str) -> bool {
    let last = before.rsplit(char::is_whitespace).next().unwrap_or("");
    let last = last.trim_start_matches(['(', '"', '“']);
    if ABBREVIATIONS.contains(&last) {
        return true;
    }
    // Initials: "J", "U.S", "D.C" (capital letters separated by dots).
    !last.is_empty() && last.split('.').all(|part| part.chars().count() == 1 && part.chars().all(char::is_uppercase))
}

/// Splits a sentence into clauses and list items: at `;`, at `:` followed by
/// a space, and at commas. Leading conjunctions are dropped; pieces of two
/// characters or fewer are dropped.
pub fn clauses(sentence: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = sentence.as_bytes();
    for (i, c) in sentence.char_indices() {
        let cut = match c {
            ';' | ',' => true,
            ':' => bytes.get(i + 1) == Some(&b' '),
            _ => false,
        };
        if cut {
            push_clause(&sentence[start..i], &mut out);
            start = i + c.len_utf8();
        }
    }
    push_clause(&sentence[start..], &mut out);
    out
}

fn push_clause<'a>(piece: &'a str, out: &mut Vec<&'a str>) {
    let mut piece = piece.trim().trim_matches(|c: char| matches!(c, '.' | '"' | '“' | '”' | '\''));
    for conjunction in ["and ", "or ", "as well as "] {
        if let Some(rest) = piece.strip_prefix(conjunction) {
            piece = rest.trim_start();
        }
    }
    if piece.chars().count() > 2 {
        out.push(piece);
    }
}

/// The units a paragraph is scored on besides itself: its sentences (when
/// there are several) and each sentence's clauses (when there are several),
/// without repeats.
pub fn units(paragraph: &str) -> Vec<&str> {
    let trimmed = paragraph.trim();
    let sentences = sentences(trimmed);
    let mut out: Vec<&str> = Vec::new();
    for sentence in &sentences {
        if sentences.len() > 1 && !out.contains(sentence) {
            out.push(sentence);
        }
        let clauses = clauses(sentence);
        if clauses.len() > 1 {
            for clause in clauses {
                if clause != trimmed && !out.contains(&clause) {
                    out.push(clause);
                }
            }
        }
    }
    out
}

/// [`units`] as byte ranges into `paragraph`, for pooling each unit from
/// the paragraph's own token states.
pub fn unit_ranges(paragraph: &str) -> Vec<std::ops::Range<usize>> {
    // Every unit is a slice of `paragraph` (trimmed and cut, never copied),
    // so its place is where its bytes start.
    let base = paragraph.as_ptr() as usize;
    units(paragraph)
        .into_iter()
        .map(|unit| {
            let start = unit.as_ptr() as usize - base;
            start..start + unit.len()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_respect_abbreviations() {
        let text = "The U.S. said Mr. Son met Blinken in Washington D.C. on Monday. Both sides agreed! \"Next year,\" he said.";
        assert_eq!(
            sentences(text),
            vec!["The U.S. said Mr. Son met Blinken in Washington D.C. on Monday.", "Both sides agreed!", "\"Next year,\" he said."]
        );
    }

    #[test]
    fn list_items_become_units() {
        let p = "They praised cooperation in trade, investment, security and defense, and health.";
        assert_eq!(clauses(p), vec!["They praised cooperation in trade", "investment", "security and defense", "health"]);
        assert_eq!(units(p), vec!["They praised cooperation in trade", "investment", "security and defense", "health"]);
        let ranges = unit_ranges(p);
        assert_eq!(ranges.iter().map(|r| &p[r.clone()]).collect::<Vec<_>>(), units(p));
    }

    #[test]
    fn a_single_short_paragraph_has_no_extra_units() {
        assert!(units("Related News").is_empty());
        assert!(units("Like us on Facebook").is_empty());
    }
}
