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
    let code = detected_language(text)?;
    (!covered.iter().any(|c| c == &code)).then_some(code)
}

/// The paragraph's language (ISO 639-1 where one exists) when it is
/// reliably detected; `None` when unsure (short or mixed text).
pub fn detected_language(text: &str) -> Option<String> {
    let info = whatlang::detect(text)?;
    info.is_reliable().then(|| iso639_1(info.lang()))
}

/// The English name of a language by the code [`detected_language`] gives
/// ("vi": "Vietnamese"); the code itself when it is not one of them.
pub fn language_name(code: &str) -> String {
    whatlang::Lang::all().iter().find(|&&l| iso639_1(l) == code).map_or_else(|| code.to_owned(), |l| l.eng_name().to_owned())
}

/// The two-letter ISO 639-1 code of every language whatlang detects, so
/// flags use one code style (`language:vi`, `language:ar`); the three-letter
/// code is kept only for a language without a two-letter one.
fn iso639_1(lang: whatlang::Lang) -> String {
    use whatlang::Lang::*;
    let code = match lang {
        Epo => "eo",
        Eng => "en",
        Rus => "ru",
        Cmn => "zh",
        Spa => "es",
        Por => "pt",
        Ita => "it",
        Ben => "bn",
        Fra => "fr",
        Deu => "de",
        Ukr => "uk",
        Kat => "ka",
        Ara => "ar",
        Hin => "hi",
        Jpn => "ja",
        Heb => "he",
        Yid => "yi",
        Pol => "pl",
        Amh => "am",
        Jav => "jv",
        Kor => "ko",
        Nob => "nb",
        Dan => "da",
        Swe => "sv",
        Fin => "fi",
        Tur => "tr",
        Nld => "nl",
        Hun => "hu",
        Ces => "cs",
        Ell => "el",
        Bul => "bg",
        Bel => "be",
        Mar => "mr",
        Kan => "kn",
        Ron => "ro",
        Slv => "sl",
        Hrv => "hr",
        Srp => "sr",
        Mkd => "mk",
        Lit => "lt",
        Lav => "lv",
        Est => "et",
        Tam => "ta",
        Vie => "vi",
        Urd => "ur",
        Tha => "th",
        Guj => "gu",
        Uzb => "uz",
        Pan => "pa",
        Aze => "az",
        Ind => "id",
        Tel => "te",
        Pes => "fa",
        Mal => "ml",
        Ori => "or",
        Mya => "my",
        Nep => "ne",
        Sin => "si",
        Khm => "km",
        Tuk => "tk",
        Aka => "ak",
        Zul => "zu",
        Sna => "sn",
        Afr => "af",
        Lat => "la",
        Slk => "sk",
        Cat => "ca",
        Tgl => "tl",
        Hye => "hy",
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
        let ar = "أعلنت فيتنام والولايات المتحدة عن شراكة استراتيجية شاملة جديدة في مجال أشباه الموصلات والتجارة";
        assert_eq!(uncovered_language(ar, &en).as_deref(), Some("ar"), "two letters, as for every language");
    }

    #[test]
    fn short_english_headlines_full_of_acronyms_are_not_flagged() {
        let en = vec!["en".to_owned()];
        for headline in [
            "US, ASEAN back UNCLOS at ADMM+ meet",
            "VN-US CSP: FDI, ODA up; IUU, MIA talks",
            "PM meets AmCham, USABC execs in HCMC",
            "Nvidia, TSMC eye VN chip FDI",
            "DPAA, VNOSMP: MIA search in Quang Tri",
        ] {
            assert_eq!(uncovered_language(headline, &en), None, "{headline:?}");
        }
        assert_eq!(uncovered_language("Hà Nội và Washington nâng cấp quan hệ", &en).as_deref(), Some("vi"));
    }
}
