//! Light Telugu stemming.
//!
//! No Snowball stemmer exists for Telugu. Telugu is agglutinative: case endings and
//! postpositions are glued to the noun (`పార్సెల్‌ను`, `డెలివరీలో`, `బ్రాంచ్‌కి`). Like Lucene's
//! `TeluguStemmer` this strips one common ending, then a final vowel sign, so the inflected
//! forms and the question form (`ఉందా`) meet the base form. What stemming misses, the
//! character n-grams of the analyzer catch.

/// Endings stripped from the end of a word, longest first.
const SUFFIXES: &[&str] = &[
    "గురించి",
    "నుంచి",
    "నుండి",
    "కోసం",
    "వరకు",
    "దాకా",
    "ల్లోని",
    "ల్లో",
    "లలో",
    "లకు",
    "లను",
    "లతో",
    "లోని",
    "లోకి",
    "ల్ని",
    "లని",
    "లో",
    "కు",
    "కి",
    "ను",
    "ని",
    "తో",
    "గా",
    "లు",
    "కే",
];

/// Dependent vowel signs (ా … ౌ) and the length mark.
fn is_vowel_sign(c: char) -> bool {
    matches!(c, '\u{0C3E}'..='\u{0C4C}' | '\u{0C55}' | '\u{0C56}')
}

/// Stems a normalized Telugu word. Words shorter than three letters are left alone.
pub(crate) fn stem(word: &str) -> &str {
    let mut w = word;
    for suffix in SUFFIXES {
        if let Some(rest) = w.strip_suffix(suffix) {
            if rest.chars().count() >= 3 {
                w = rest;
                break;
            }
        }
    }
    if let Some(last) = w.chars().last() {
        if is_vowel_sign(last) && w.chars().count() > 3 {
            w = &w[..w.len() - last.len_utf8()];
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::stem;

    #[test]
    fn inflected_nouns_meet_their_base() {
        assert_eq!(stem("పార్సెల్ను"), "పార్సెల్");
        assert_eq!(stem("పార్సెల్కి"), "పార్సెల్");
        assert_eq!(stem("పార్సెల్"), "పార్సెల్");
        assert_eq!(stem("డెలివరీలో"), stem("డెలివరీ"));
        assert_eq!(stem("బ్రాంచ్లో"), "బ్రాంచ్");
    }

    #[test]
    fn question_particle_and_final_vowel() {
        assert_eq!(stem("ఉందా"), stem("ఉంది"));
    }

    #[test]
    fn short_words_stay() {
        assert_eq!(stem("నా"), "నా");
        assert_eq!(stem("లో"), "లో");
    }
}
