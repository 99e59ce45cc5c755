//! Transliteration of Telugu and Greek into Latin letters, and sound skeletons of loanwords.
//!
//! Customers type Telugu and Greek in Latin letters, and mix English nouns in Latin letters
//! into Telugu sentences (`parcel ఇంకా రాలేదు`). Two tools meet them:
//!
//! - [`telugu_to_latin`] and [`greek_to_latin`] write a native-script phrasing the way people
//!   romanize it (`ఎక్కడ ఉంది` → `ekkada undi`, `πού είναι` → `pou einai`). The index adds
//!   these spellings to the romanized fields, so every native phrasing is also a romanized
//!   one; the romanized folding then absorbs the spelling variants.
//! - [`skeleton_telugu`] and [`skeleton_latin`] reduce a word to its consonants as they
//!   sound (`పార్సెల్` and `parcel` → `prsl`, `ట్రాకింగ్` and `tracking` → `trkng`), so an
//!   English loanword typed in Latin letters meets the same loanword written in Telugu.

/// Fewest consonants a skeleton needs to be used: shorter ones match too much.
pub(crate) const MIN_SKELETON: usize = 3;

const VIRAMA: char = '\u{0C4D}';
const ANUSVARA: char = '\u{0C02}';

/// The Latin spelling of a Telugu consonant (without its inherent vowel).
fn te_consonant(c: char) -> Option<&'static str> {
    Some(match c {
        'క' => "k",
        'ఖ' => "kh",
        'గ' => "g",
        'ఘ' => "gh",
        'ఙ' => "n",
        'చ' => "ch",
        'ఛ' => "chh",
        'జ' => "j",
        'ఝ' => "jh",
        'ఞ' => "n",
        'ట' => "t",
        'ఠ' => "th",
        'డ' => "d",
        'ఢ' => "dh",
        'ణ' => "n",
        'త' => "t",
        'థ' => "th",
        'ద' => "d",
        'ధ' => "dh",
        'న' => "n",
        'ప' => "p",
        'ఫ' => "ph",
        'బ' => "b",
        'భ' => "bh",
        'మ' => "m",
        'య' => "y",
        'ర' | 'ఱ' => "r",
        'ల' => "l",
        'ళ' => "l",
        'వ' => "v",
        'శ' => "sh",
        'ష' => "sh",
        'స' => "s",
        'హ' => "h",
        _ => return None,
    })
}

/// The Latin spelling of an independent Telugu vowel or a vowel sign.
fn te_vowel(c: char) -> Option<&'static str> {
    Some(match c {
        'అ' => "a",
        'ఆ' | 'ా' => "aa",
        'ఇ' | 'ి' => "i",
        'ఈ' | 'ీ' => "ee",
        'ఉ' | 'ు' => "u",
        'ఊ' | 'ూ' => "oo",
        'ఋ' | 'ృ' => "ru",
        'ఎ' | 'ె' => "e",
        'ఏ' | 'ే' => "e",
        'ఐ' | 'ై' => "ai",
        'ఒ' | 'ొ' => "o",
        'ఓ' | 'ో' => "o",
        'ఔ' | 'ౌ' => "au",
        _ => return None,
    })
}

fn is_te_vowel_sign(c: char) -> bool {
    matches!(c, '\u{0C3E}'..='\u{0C4C}' | '\u{0C55}' | '\u{0C56}')
}

/// Romanizes normalized Telugu text the way it is commonly typed: inherent `a` after a
/// consonant without a vowel sign, none before a virama, `ం` as `m` before labials and at
/// the end of a word, `n` elsewhere. Characters of other scripts are copied as they are.
pub(crate) fn telugu_to_latin(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        if let Some(latin) = te_consonant(c) {
            out.push_str(latin);
            let bare = next.is_some_and(|n| n == VIRAMA || is_te_vowel_sign(n));
            if !bare {
                out.push('a');
            }
        } else if let Some(latin) = te_vowel(c) {
            out.push_str(latin);
        } else if c == ANUSVARA {
            // `m` before labials and at the end of a word (`సంబంధం` → `sambandham`).
            let m = next.is_none_or(|n| {
                matches!(n, 'ప' | 'ఫ' | 'బ' | 'భ' | 'మ') || !('\u{0C00}'..='\u{0C7F}').contains(&n)
            });
            out.push(if m { 'm' } else { 'n' });
        } else if c == VIRAMA || ('\u{0C00}'..='\u{0C7F}').contains(&c) {
            // Virama, visarga, length marks and digits add no letter.
            if let Some(d) = c.to_digit(10) {
                out.push(char::from_digit(d, 10).unwrap_or('0'));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Romanizes normalized (unaccented, lowercase) Greek text the way Greeklish is commonly
/// typed. Characters of other scripts are copied as they are.
pub(crate) fn greek_to_latin(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let latin = match c {
            'α' => "a",
            'β' => "v",
            'γ' => "g",
            'δ' => "d",
            'ε' => "e",
            'ζ' => "z",
            'η' => "i",
            'θ' => "th",
            'ι' => "i",
            'κ' => "k",
            'λ' => "l",
            'μ' => "m",
            'ν' => "n",
            'ξ' => "ks",
            'ο' => "o",
            'π' => "p",
            'ρ' => "r",
            'σ' | 'ς' => "s",
            'τ' => "t",
            'υ' => "y",
            'φ' => "f",
            'χ' => "x",
            'ψ' => "ps",
            'ω' => "o",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(latin);
    }
    out
}

/// Appends a skeleton letter, keeping runs of one letter single.
fn push_skeleton(out: &mut String, c: char) {
    if !out.ends_with(c) {
        out.push(c);
    }
}

/// The consonant skeleton of a normalized Telugu word: consonants only, aspiration, retroflex
/// and sibilant distinctions folded (`ఫ`→`f`, `ట`/`ఠ`/`త`/`థ`→`t`, `శ`/`ష`/`స`→`s`), `య`
/// dropped, `ం` as `m`/`n`, runs of one letter kept single. Empty for words not in Telugu.
pub(crate) fn skeleton_telugu(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let letter = match c {
            'క' | 'ఖ' => 'k',
            'గ' | 'ఘ' => 'g',
            'చ' | 'ఛ' => 'c',
            'జ' | 'ఝ' => 'j',
            'ట' | 'ఠ' | 'త' | 'థ' => 't',
            'డ' | 'ఢ' | 'ద' | 'ధ' => 'd',
            'ఙ' | 'ఞ' | 'ణ' | 'న' => 'n',
            'ప' => 'p',
            'ఫ' => 'f',
            'బ' | 'భ' => 'b',
            'మ' => 'm',
            'ర' | 'ఱ' => 'r',
            'ల' | 'ళ' => 'l',
            'వ' => 'v',
            'శ' | 'ష' | 'స' => 's',
            'హ' => 'h',
            ANUSVARA => match chars.get(i + 1) {
                Some('ప' | 'ఫ' | 'బ' | 'భ' | 'మ') => 'm',
                _ => 'n',
            },
            c if ('\u{0C00}'..='\u{0C7F}').contains(&c) => continue,
            _ => return String::new(),
        };
        push_skeleton(&mut out, letter);
    }
    out
}

/// The consonant skeleton of a normalized Latin word as an English loanword sounds:
/// vowels, `y` and silent `h` dropped, `c` as `s` before `e`/`i`/`y` and `k` elsewhere,
/// `ph`→`f`, `sh`/`th`/`ch` as `s`/`t`/`c`, `x`→`ks`, `q`→`k`, `w`→`v`, `z`→`j`, runs of one
/// letter kept single. Empty for words with characters other than ASCII letters.
pub(crate) fn skeleton_latin(word: &str) -> String {
    let b = word.as_bytes();
    if !word.bytes().all(|c| c.is_ascii_lowercase()) {
        return String::new();
    }
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let mut step = 1;
        let letters: &[char] = match (c, next) {
            (b'a' | b'e' | b'i' | b'o' | b'u' | b'y', _) => &[],
            (b'p', Some(b'h')) => {
                step = 2;
                &['f']
            }
            (b's', Some(b'h')) => {
                step = 2;
                &['s']
            }
            (b't', Some(b'h')) => {
                step = 2;
                &['t']
            }
            (b'c', Some(b'h')) => {
                step = 2;
                &['c']
            }
            (b'c', Some(b'k')) => {
                step = 2;
                &['k']
            }
            (b'c', Some(b'e' | b'i' | b'y')) => &['s'],
            (b'c', _) | (b'q', _) => &['k'],
            (b'x', _) => &['k', 's'],
            (b'w', _) => &['v'],
            (b'z', _) => &['j'],
            (b'h', _) if i > 0 => &[],
            _ => {
                push_skeleton(&mut out, c as char);
                i += 1;
                continue;
            }
        };
        for &l in letters {
            push_skeleton(&mut out, l);
        }
        i += step;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize;

    #[test]
    fn telugu_romanizes_as_typed() {
        assert_eq!(telugu_to_latin(&normalize("ఎక్కడ ఉంది")), "ekkada undi");
        assert_eq!(telugu_to_latin(&normalize("పార్సెల్ రాలేదు")), "paarsel raaledu");
        assert_eq!(telugu_to_latin(&normalize("చేయాలి")), "cheyaali");
        assert_eq!(telugu_to_latin(&normalize("సంబంధం")), "sambandham");
        assert_eq!(telugu_to_latin("parcel"), "parcel");
    }

    #[test]
    fn greek_romanizes_as_typed() {
        assert_eq!(
            greek_to_latin(&normalize("Πού είναι το δέμα μου;")),
            "poy einai to dema moy;"
        );
        assert_eq!(greek_to_latin(&normalize("θέλω")), "thelo");
        assert_eq!(greek_to_latin(&normalize("ξεχάσατε")), "ksexasate");
    }

    #[test]
    fn loanwords_meet_across_scripts() {
        for (te, en) in [
            ("పార్సెల్", "parcel"),
            ("ట్రాకింగ్", "tracking"),
            ("రీఫండ్", "refund"),
            ("కస్టమ్స్", "customs"),
            ("అడ్రస్", "address"),
            ("పేమెంట్", "payment"),
            ("ఇన్సూరెన్స్", "insurance"),
            ("క్యాన్సిల్", "cancel"),
            ("కొరియర్", "courier"),
        ] {
            assert_eq!(skeleton_telugu(te), skeleton_latin(en), "{te} / {en}");
        }
    }

    #[test]
    fn skeletons_of_other_scripts_are_empty() {
        assert_eq!(skeleton_telugu("parcel"), "");
        assert_eq!(skeleton_latin("δεμα"), "");
        assert_eq!(skeleton_latin("abc1"), "");
    }
}
