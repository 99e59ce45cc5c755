//! Text normalization shared by indexing, queries and rules.
//!
//! Every string that reaches the index or a rule goes through [`normalize`] first, then
//! through the analyzer of its language (inside the crate), which turns it into the terms
//! that are indexed and compared. Indexing and querying call the same functions, so a form
//! typed by a customer and a form written by an editor meet in the same term.

mod analyzer;
mod greek;
pub(crate) mod romanized;
mod script;
mod telugu;
pub(crate) mod translit;

pub(crate) use analyzer::{Analyzer, Term, TermKind};
pub use script::{dominant_script, Script};

use unicode_normalization::UnicodeNormalization;

/// Words of a message that detection, retrieval and the rules look at; the rest is ignored.
pub(crate) const MAX_QUERY_WORDS: usize = 64;

/// Normalizes text for matching: NFC, case folding, removal of invisible format characters
/// (ZWNJ, ZWJ, soft hyphen, bidi marks, BOM) and apostrophes, removal of combining accents (Greek tonos and
/// diaeresis, Latin accents), Greek final sigma folded to `σ`, control characters turned into
/// spaces and whitespace collapsed.
///
/// Telugu vowel signs and the virama are kept: they are letters of the word, not accents.
///
/// ```
/// use sahaya::text::normalize;
/// assert_eq!(normalize("Πώς  ΕΊΝΑΙ το δέμα;"), "πωσ ειναι το δεμα;");
/// assert_eq!(normalize("లైన్\u{200C}ను"), normalize("లైన్ను"));
/// ```
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.nfd() {
        if is_invisible(c) || is_accent(c) || is_apostrophe(c) {
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        if c == 'ς' {
            out.push('σ');
        } else if c.is_uppercase() {
            out.extend(c.to_lowercase().map(|l| if l == 'ς' { 'σ' } else { l }));
        } else {
            out.push(c);
        }
    }
    if out.is_ascii() {
        return out;
    }
    out.nfc().collect()
}

/// Format characters that change nothing a reader sees: ZWNJ, ZWJ, soft hyphen, word joiner,
/// bidi controls and the byte-order mark.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Apostrophes inside words are dropped, so `where's` and `wheres` are the same word.
fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{02BC}')
}

/// Combining accents of Latin and Greek (tonos, diaeresis, acute, grave, circumflex …).
/// Telugu marks live in their own block and are not touched.
fn is_accent(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

/// Splits normalized text into words: maximal runs of letters, digits and the combining marks
/// of Indic scripts (so Telugu conjuncts with virama stay whole).
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || script::is_telugu(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_greek_accents_case_and_final_sigma() {
        assert_eq!(normalize("ΠΑΡΆΔΟΣΗ"), "παραδοση");
        assert_eq!(normalize("παράδοσης"), "παραδοσησ");
        assert_eq!(normalize("Προϊόν"), "προιον");
        assert_eq!(normalize("ΐ"), "ι");
        assert_eq!(normalize("ΟΔΟΣ"), normalize("οδός"));
    }

    #[test]
    fn strips_zero_width_joiners_but_keeps_telugu_marks() {
        let with = "పార్సెల్\u{200C}ను";
        let without = "పార్సెల్ను";
        assert_eq!(normalize(with), without);
        assert_eq!(normalize("క్\u{200D}ష"), "క్ష");
        // virama U+0C4D survives
        assert!(normalize("పార్సెల్").contains('\u{0C4D}'));
    }

    #[test]
    fn collapses_whitespace_and_control_characters() {
        assert_eq!(
            normalize("  where\tis\u{0007}my \n parcel  "),
            "where is my parcel"
        );
        assert_eq!(normalize("\u{FEFF}\u{200B}"), "");
    }

    #[test]
    fn words_keep_telugu_conjuncts_whole() {
        let n = normalize("పార్శిల్‌ను ట్రాక్ చేయాలనుకుంటున్నాను!");
        let w: Vec<_> = words(&n).collect();
        assert_eq!(w, ["పార్శిల్ను", "ట్రాక్", "చేయాలనుకుంటున్నాను"]);
    }

    #[test]
    fn words_split_mixed_script() {
        let n = normalize("my δέμα hasn't arrived, నా parcel");
        let w: Vec<_> = words(&n).collect();
        assert_eq!(w, ["my", "δεμα", "hasnt", "arrived", "నా", "parcel"]);
    }
}
