//! Language detection.
//!
//! The request's language, when given, always wins (the engine checks that first). Otherwise
//! Telugu and Greek are recognized by their script, which is unambiguous. Latin-script text
//! may be English, romanized Telugu or Greeklish: statistical detectors call all three
//! "English", so Sahaya counts words from small lists of the commonest romanized Telugu and
//! Greeklish words (after phonetic folding, so spelling variants count too). The retrieval
//! stage then searches the romanized phrasings of every language the words point to, and
//! the best match settles the language.

use crate::lang::Lang;
use crate::text::{dominant_script, words, Analyzer, Script};
use std::collections::HashSet;
use std::sync::OnceLock;

/// Common romanized Telugu words (pronouns, question words, verbs and particles of chat).
const TELUGU_LATIN: &[&str] = &[
    "naa",
    "nenu",
    "naaku",
    "maaku",
    "meeru",
    "mee",
    "meeku",
    "memu",
    "manaki",
    "ekkada",
    "ekkadiki",
    "ikkada",
    "akkada",
    "enti",
    "endi",
    "emi",
    "em",
    "emiti",
    "ela",
    "elaa",
    "enduku",
    "eppudu",
    "entha",
    "enni",
    "undi",
    "unnadi",
    "unnai",
    "unda",
    "undha",
    "ledu",
    "raledu",
    "raaledu",
    "radu",
    "kaadu",
    "kadu",
    "kavali",
    "kaavali",
    "cheyali",
    "cheyyali",
    "cheyandi",
    "chesanu",
    "chesa",
    "chestara",
    "cheyochha",
    "cheppandi",
    "cheppu",
    "andi",
    "garu",
    "inka",
    "inkaa",
    "ippudu",
    "nundi",
    "nunchi",
    "kuda",
    "kooda",
    "vachindi",
    "vastundi",
    "ravali",
    "raavali",
    "ivvandi",
    "ivvali",
    "pampali",
    "pampanu",
    "pampandi",
    "teliyadu",
    "teliyali",
    "ayyindi",
    "avutundi",
    "avuthundi",
    "marchali",
    "marchandi",
    "kosam",
    "gurinchi",
    "daggara",
    "intiki",
    "illu",
    "dabbulu",
    "paisalu",
    "rojulu",
    "roju",
    "ante",
    "kani",
    "leda",
    "mariyu",
    "chala",
    "baagundi",
    "bagundi",
    "dhanyavadalu",
    "namaskaram",
    "emaindi",
    "emayindi",
    "pettanu",
    "tisukovali",
    "cheyyandi",
    "vunna",
    "vundi",
    "cheste",
    "kavalante",
    "ekkadundi",
    "ledhu",
    "ledhu",
    "adigina",
    "unnaru",
];

/// Common Greeklish words (articles, pronouns, question words, verbs of chat).
const GREEKLISH: &[&str] = &[
    "to",
    "ta",
    "tin",
    "ton",
    "tis",
    "tou",
    "mou",
    "sou",
    "sas",
    "mas",
    "pou",
    "pos",
    "pws",
    "ti",
    "giati",
    "einai",
    "ine",
    "den",
    "dn",
    "exw",
    "exo",
    "echo",
    "thelw",
    "thelo",
    "kai",
    "apo",
    "gia",
    "tha",
    "mporw",
    "mporo",
    "mporeite",
    "paketo",
    "dema",
    "apostoli",
    "paraggelia",
    "akoma",
    "akomi",
    "kalimera",
    "kalispera",
    "geia",
    "gia",
    "efxaristw",
    "euxaristw",
    "eyxaristw",
    "lefta",
    "xrimata",
    "pote",
    "posa",
    "poso",
    "mera",
    "meres",
    "simera",
    "avrio",
    "kanw",
    "kano",
    "ena",
    "mia",
    "exei",
    "irthe",
    "hrthe",
    "eftase",
    "lathos",
    "thelete",
    "parakalw",
    "parakalo",
    "dieuthinsi",
    "dieythinsi",
    "paradosi",
    "courier",
    "kourier",
    "plirwmi",
    "pliromi",
    "epistrofi",
    "xathike",
    "xalasmeno",
    "mou",
    "einai",
    "ftanei",
    "vrisketai",
    "vriskete",
    "stelnw",
    "steilw",
    "steilo",
    "mporeis",
    "mporeite",
    "thelei",
    "prepei",
    "kserw",
    "ksero",
    "kati",
    "kala",
    "nai",
    "oxi",
];

/// Words that are common in English and also in a romanized list; they count for neither.
const AMBIGUOUS: &[&str] = &[
    "to", "me", "ki", "na", "ena", "mia", "em", "kani", "ante", "courier",
];

fn lexicon(words: &'static [&'static str], fold: Analyzer) -> HashSet<String> {
    let ambiguous: HashSet<&str> = AMBIGUOUS.iter().copied().collect();
    words
        .iter()
        .filter(|w| !ambiguous.contains(*w))
        .map(|w| fold.word_key(w))
        .collect()
}

fn telugu_latin() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| lexicon(TELUGU_LATIN, Analyzer::TeluguLatin))
}

fn greeklish() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| lexicon(GREEKLISH, Analyzer::Greeklish))
}

/// What detection found out about a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The script most letters are in, if any.
    pub script: Option<Script>,
    /// The most likely language.
    pub lang: Lang,
    /// True when the text is Greek or Telugu typed in Latin letters.
    pub romanized: bool,
    /// Romanized-Telugu words found (Latin text only).
    pub telugu_hits: usize,
    /// Greeklish words found (Latin text only).
    pub greeklish_hits: usize,
    /// English function words found (Latin text only).
    pub english_hits: usize,
}

impl Detection {
    /// The languages whose fields retrieval should search for this text, most likely first.
    /// Latin text searches English and the romanized fields of the languages it has words of.
    pub fn candidates(&self) -> Vec<(Lang, Analyzer)> {
        match self.script {
            Some(Script::Telugu) => vec![(Lang::Te, Analyzer::Telugu)],
            Some(Script::Greek) => vec![(Lang::El, Analyzer::Greek)],
            _ => {
                let mut c = vec![(Lang::En, Analyzer::English)];
                if self.telugu_hits > 0 {
                    c.push((Lang::Te, Analyzer::TeluguLatin));
                }
                if self.greeklish_hits > 0 {
                    c.push((Lang::El, Analyzer::Greeklish));
                }
                if self.romanized {
                    c.rotate_left(1);
                }
                c
            }
        }
    }
}

/// Detects the language of normalized text. Text without letters is taken as English.
pub fn detect(normalized: &str) -> Detection {
    let script = dominant_script(normalized);
    let (lang, romanized, te, el, en) = match script {
        Some(Script::Telugu) => (Lang::Te, false, 0, 0, 0),
        Some(Script::Greek) => (Lang::El, false, 0, 0, 0),
        _ => {
            let (te, el, en) = count_romanized(normalized);
            if en > te.max(el) {
                (Lang::En, false, te, el, en)
            } else if te > el && te >= 1 {
                (Lang::Te, true, te, el, en)
            } else if el > te && el >= 1 {
                (Lang::El, true, te, el, en)
            } else {
                (Lang::En, false, te, el, en)
            }
        }
    };
    Detection {
        script,
        lang,
        romanized,
        telugu_hits: te,
        greeklish_hits: el,
        english_hits: en,
    }
}

/// English function words: a romanized word or two among more of these is still English.
const ENGLISH: &[&str] = &[
    "the", "is", "are", "was", "my", "i", "you", "your", "it", "this", "that", "what", "where",
    "when", "how", "why", "which", "who", "to", "of", "in", "on", "for", "with", "and", "or",
    "not", "do", "does", "did", "can", "could", "will", "would", "have", "has", "been", "be", "me",
    "we", "our", "they", "an", "at", "from", "there", "if", "please", "ever", "any",
];

fn count_romanized(normalized: &str) -> (usize, usize, usize) {
    let (mut te, mut el, mut en) = (0, 0, 0);
    for w in words(normalized).take(crate::text::MAX_QUERY_WORDS) {
        if !w.is_ascii() {
            continue;
        }
        if ENGLISH.contains(&w) {
            en += 1;
        }
        if telugu_latin().contains(&Analyzer::TeluguLatin.word_key(w)) {
            te += 1;
        }
        if greeklish().contains(&Analyzer::Greeklish.word_key(w)) {
            el += 1;
        }
    }
    (te, el, en)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize;

    fn lang(s: &str) -> (Lang, bool) {
        let d = detect(&normalize(s));
        (d.lang, d.romanized)
    }

    #[test]
    fn native_scripts() {
        assert_eq!(lang("నా పార్సెల్ ఎక్కడ ఉంది?"), (Lang::Te, false));
        assert_eq!(lang("Πού είναι το δέμα μου;"), (Lang::El, false));
        assert_eq!(lang("Where is my parcel?"), (Lang::En, false));
    }

    #[test]
    fn romanized_telugu_and_greeklish() {
        assert_eq!(lang("naa parcel inka raaledu"), (Lang::Te, true));
        assert_eq!(lang("naa parcel ekkada undi"), (Lang::Te, true));
        assert_eq!(lang("pou einai to dema mou"), (Lang::El, true));
        assert_eq!(lang("thelw na allaksw dieuthinsi"), (Lang::El, true));
    }

    #[test]
    fn english_is_not_mistaken() {
        assert_eq!(
            lang("I want to change my delivery address"),
            (Lang::En, false)
        );
        assert_eq!(
            lang("how much does it cost to send a parcel to Greece"),
            (Lang::En, false)
        );
        assert_eq!(lang("1234"), (Lang::En, false));
        assert_eq!(lang("THIS IS THE WORST SERVICE EVER"), (Lang::En, false));
    }
}
