//! Which paragraphs are in a language the model does not read: they are
//! flagged in the output and counted as their own kind in the eval, since
//! their scores rest on aliases alone.

/// The paragraph's language (ISO 639-1 where one exists) when it is
/// reliably detected and not among `covered`; `None` when covered, unknown
/// or unsure. An empty `covered` (a model of unknown languages) flags
/// nothing.
pub fn uncovered_language(text: &str, covered: &[String]) -> Option<String> {
    if covered.is_empty() {
        return None;
    }
    let info = whatlang::detect(text)?;
    if !info.is_reliable() {
        return None;
    }
    let code = iso639_1(info.lang());
    (!covered.iter().any(|c| c == &code)).then_some(code)
}

fn iso639_1(lang: whatlang::Lang) -> String {
    use whatlang::Lang::*;
    let code = match lang {
        Eng => "en",
        Vie => "vi",
        Fra => "fr",
        Deu => "de",
        Spa => "es",
        Por => "pt",
        Ita => "it",
        Rus => "ru",
        Cmn => "zh",
        Jpn => "ja",
        Kor => "ko",
        Tha => "th",
        Ind => "id",
        Tgl => "tl",
        Khm => "km",
        Nld => "nl",
        other => return other.code().to_owned(),
    };
    code.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_is_flagged_for_an_english_model_and_english_is_not() {
        let en = vec!["en".to_owned()];
        let vi = "Việt Nam và Hoa Kỳ đã nâng cấp quan hệ lên đối tác chiến lược toàn diện trong chuyến thăm của Tổng thống.";
        assert_eq!(uncovered_language(vi, &en).as_deref(), Some("vi"));
        let english = "Vietnam and the United States upgraded their ties to a comprehensive strategic partnership.";
        assert_eq!(uncovered_language(english, &en), None);
        assert_eq!(uncovered_language(vi, &[]), None, "unknown model languages flag nothing");
    }
}
