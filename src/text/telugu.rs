//! Light Telugu stemming.
//!
//! No Snowball stemmer exists for Telugu. Telugu is agglutinative: case endings and
//! postpositions are glued to the noun (`పార్సెల్‌ను`, `డెలివరీలో`, `బ్రాంచ్‌కి`), plurals take
//! `-లు`/`-ళ్లు`, and verbs carry person, tense and negation at the end (`చేస్తున్నాను`,
//! `వచ్చింది`, `అందలేదు`). Like Lucene's `TeluguStemmer` this strips common endings (at
//! most two: a plural or verb ending, then a case ending), then a final vowel sign or
//! virama, so the inflected forms and the question form (`ఉందా`) meet the base form.
//! ZWNJ is removed by normalization before this runs, so `పార్సెల్‌ను` and `పార్సెల్ను`
//! are the same word. What stemming misses, the character n-grams of the analyzer catch.

/// Case endings and postpositions, longest first within each family.
const CASE_SUFFIXES: &[&str] = &[
    "గురించి",
    "దగ్గరికి",
    "దగ్గర",
    "నుంచి",
    "నుండి",
    "కోసం",
    "వరకు",
    "దాకా",
    "లోనే",
    "లోని",
    "లోకి",
    "తోనే",
    "మీద",
    "లో",
    "కు",
    "కి",
    "కే",
    "ను",
    "ని",
    "తో",
    "గా",
    "నే",
];

/// Plural endings (with a case ending glued on) and common verb endings, longest first.
/// Checked before [`CASE_SUFFIXES`] so `పార్సెళ్లలో` loses `ళ్లలో` in one step. There is no
/// `-ల్లో`: written without ZWNJ, `పార్సెల్‌లో` is `పార్సెల్లో`, and it must keep its `ల్`.
const INFLECTION_SUFFIXES: &[&str] = &[
    "తున్నాను",
    "తున్నారు",
    "తున్నాం",
    "తున్నది",
    "తున్నాయి",
    "తుంది",
    "తాయి",
    "లేదా",
    "లేదు",
    "ళ్లలో",
    "ళ్ళలో",
    "ళ్లకు",
    "ళ్ళకు",
    "ళ్లను",
    "ళ్ళను",
    "ళ్లు",
    "ళ్ళు",
    "లలో",
    "లకు",
    "లను",
    "లతో",
    "లని",
    "లు",
    "ాలి",
    "ాలా",
    "ింది",
    "ిందా",
    "ాను",
    "ారు",
    "ండి",
];

/// Fewest code points a stem keeps: shorter words are left whole.
const MIN_STEM: usize = 3;

/// Dependent vowel signs (ా … ౌ) and the length mark.
fn is_vowel_sign(c: char) -> bool {
    matches!(c, '\u{0C3E}'..='\u{0C4C}' | '\u{0C55}' | '\u{0C56}')
}

const VIRAMA: char = '\u{0C4D}';

fn strip_one<'a>(w: &'a str, suffixes: &[&str]) -> Option<&'a str> {
    suffixes.iter().find_map(|suffix| {
        w.strip_suffix(suffix)
            .filter(|rest| rest.chars().count() >= MIN_STEM)
    })
}

/// Stems a normalized Telugu word. Words shorter than three code points are left alone;
/// words in other scripts pass through unchanged.
pub(crate) fn stem(word: &str) -> &str {
    let mut w = word;
    if let Some(rest) = strip_one(w, INFLECTION_SUFFIXES) {
        w = rest;
    }
    if let Some(rest) = strip_one(w, CASE_SUFFIXES) {
        w = rest;
    }
    // One trailing vowel sign or virama: `ఉందా`/`ఉంది`, `అంద్`/`అంద`.
    if let Some(last) = w.chars().last() {
        if (is_vowel_sign(last) || last == VIRAMA) && w.chars().count() > MIN_STEM {
            w = &w[..w.len() - last.len_utf8()];
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::stem;
    use crate::text::normalize;

    fn s(w: &str) -> String {
        stem(&normalize(w)).to_string()
    }

    #[test]
    fn case_endings_meet_the_base() {
        for inflected in [
            "పార్సెల్‌ను",
            "పార్సెల్ను",
            "పార్సెల్‌కి",
            "పార్సెల్‌కు",
            "పార్సెల్‌లో",
            "పార్సెల్‌తో",
            "పార్సెల్‌నుంచి",
            "పార్సెల్‌నుండి",
            "పార్సెల్‌గురించి",
            "పార్సెల్‌కోసం",
            "పార్సెల్‌లు",
        ] {
            assert_eq!(s(inflected), s("పార్సెల్"), "{inflected}");
        }
        assert_eq!(s("డెలివరీలో"), s("డెలివరీ"));
        assert_eq!(s("బ్రాంచ్‌లో"), s("బ్రాంచ్"));
        assert_eq!(s("చిరునామాను"), s("చిరునామా"));
    }

    #[test]
    fn plurals_with_case_endings() {
        assert_eq!(s("వస్తువులు"), s("వస్తువు"));
        assert_eq!(s("వస్తువులను"), s("వస్తువు"));
        assert_eq!(s("ఆర్డర్లలో"), s("ఆర్డర్"));
        assert_eq!(s("పార్సెళ్లు"), s("పార్సెళ్లకు"));
    }

    #[test]
    fn zwnj_does_not_change_the_stem() {
        assert_eq!(s("ట్రాకింగ్‌లో"), s("ట్రాకింగ్లో"));
        assert_eq!(s("కస్టమ్స్‌లో"), s("కస్టమ్స్లో"));
        assert_eq!(s("ట్రాకింగ్లో"), s("ట్రాకింగ్"));
    }

    #[test]
    fn verb_endings() {
        assert_eq!(s("అందలేదు"), s("అందింది"));
        assert_eq!(s("చేయాలి"), s("చేయాలా"));
        assert_eq!(s("ఉందా"), s("ఉంది"));
        assert_eq!(s("వస్తుంది"), s("వస్తున్నది"));
    }

    #[test]
    fn short_and_foreign_words_stay() {
        assert_eq!(s("నా"), "నా");
        assert_eq!(s("లో"), "లో");
        assert_eq!(s("కిలోలు"), s("కిలో"));
        assert_eq!(s("parcel"), "parcel");
    }
}
