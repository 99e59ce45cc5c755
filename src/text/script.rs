//! Writing systems, decided per character.

/// The writing systems Sahaya tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Script {
    /// Latin letters: English, romanized Telugu, Greeklish.
    Latin,
    /// Greek and Coptic, Greek Extended.
    Greek,
    /// The Telugu block.
    Telugu,
}

/// True for code points of the Telugu block (letters, vowel signs, virama, digits).
pub(crate) fn is_telugu(c: char) -> bool {
    ('\u{0C00}'..='\u{0C7F}').contains(&c)
}

/// The script of one character, if it is a letter of a script Sahaya knows.
pub fn script_of(c: char) -> Option<Script> {
    match c {
        _ if is_telugu(c) => Some(Script::Telugu),
        '\u{0370}'..='\u{03FF}' | '\u{1F00}'..='\u{1FFF}' => Some(Script::Greek),
        'a'..='z' | 'A'..='Z' | '\u{00C0}'..='\u{024F}' => Some(Script::Latin),
        _ => None,
    }
}

/// The script most letters of `text` are written in; `None` when it has no such letters.
/// Ties go to the non-Latin script: in mixed text ("my δέμα") the native script is the
/// stronger signal of who is writing.
pub fn dominant_script(text: &str) -> Option<Script> {
    let (mut latin, mut greek, mut telugu) = (0usize, 0usize, 0usize);
    for c in text.chars() {
        match script_of(c) {
            Some(Script::Latin) => latin += 1,
            Some(Script::Greek) => greek += 1,
            Some(Script::Telugu) => telugu += 1,
            None => {}
        }
    }
    if latin + greek + telugu == 0 {
        return None;
    }
    // Telugu letters carry several code points per syllable; weigh scripts by presence.
    if telugu > 0 && telugu * 2 >= latin.max(greek) {
        Some(Script::Telugu)
    } else if greek > 0 && greek * 2 >= latin {
        Some(Script::Greek)
    } else {
        Some(Script::Latin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decides_by_script() {
        assert_eq!(dominant_script("నా పార్సెల్ ఎక్కడ?"), Some(Script::Telugu));
        assert_eq!(
            dominant_script("Πού είναι το δέμα μου;"),
            Some(Script::Greek)
        );
        assert_eq!(dominant_script("where is my parcel"), Some(Script::Latin));
        assert_eq!(dominant_script("1234 ?!"), None);
    }

    #[test]
    fn mixed_script_prefers_native_script() {
        assert_eq!(
            dominant_script("my parcel δεν ήρθε ακόμα"),
            Some(Script::Greek)
        );
        assert_eq!(dominant_script("naa parcel ఇంకా రాలేదు"), Some(Script::Telugu));
        assert_eq!(
            dominant_script("tracking number NV1234567890GR δέμα"),
            Some(Script::Latin)
        );
    }
}
