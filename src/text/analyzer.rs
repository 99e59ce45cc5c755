//! Per-language analyzers: normalized text in, index terms out.

use super::{greek, normalize, romanized, telugu, translit, words};
use frostem::{Algorithm, Stemmer};
use std::sync::OnceLock;

/// Character n-gram size. Trigrams catch typos, spelling variants and the inflected forms
/// the stemmers miss.
const GRAM: usize = 3;
/// Words shorter than this get no n-grams: their stem says it all.
const GRAM_MIN_WORD: usize = 4;
/// Marks n-gram terms so they never collide with a word term in the same field.
const GRAM_MARK: char = '#';
/// Marks concept terms (a synonym group of `knowledge/synonyms.toml`).
const CONCEPT_MARK: char = '=';
/// Marks the consonant skeleton of a loanword.
const SOUND_MARK: char = '~';

/// What a term stands for; n-grams weigh less than whole words when scoring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKind {
    /// A whole word (stemmed or folded).
    Word,
    /// A character n-gram of a word.
    Gram,
    /// A synonym group: every word of the group stands for it.
    Concept,
    /// The consonant skeleton of a loanword (`~prsl` for `parcel` and `పార్సెల్`).
    Sound,
}

impl TermKind {
    /// The kind of an analyzed term.
    pub fn of(term: &str) -> TermKind {
        match term.chars().next() {
            Some(GRAM_MARK) => TermKind::Gram,
            Some(CONCEPT_MARK) => TermKind::Concept,
            Some(SOUND_MARK) => TermKind::Sound,
            _ => TermKind::Word,
        }
    }

    /// The term that stands for the synonym group `name`.
    pub fn concept_term(name: &str) -> Term {
        format!("{CONCEPT_MARK}{name}")
    }
}

/// An analyzed term (a word stem, or an n-gram starting with `#`).
pub type Term = String;

/// The analyzers of the index, one per field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Analyzer {
    /// English: Snowball (Porter2) stems plus n-grams.
    English,
    /// Greek: accent and final-sigma folding, Snowball Greek stems plus n-grams.
    Greek,
    /// Telugu: conjunct-preserving words, light suffix stripping plus n-grams.
    Telugu,
    /// Greek typed in Latin letters (Greeklish): phonetic folding plus n-grams.
    Greeklish,
    /// Telugu typed in Latin letters: phonetic folding plus n-grams.
    TeluguLatin,
}

impl Analyzer {
    /// Every analyzer, in a fixed order.
    pub const ALL: [Analyzer; 5] = [
        Analyzer::English,
        Analyzer::Greek,
        Analyzer::Telugu,
        Analyzer::Greeklish,
        Analyzer::TeluguLatin,
    ];

    /// The name it is registered under in the tantivy index.
    pub fn name(self) -> &'static str {
        match self {
            Analyzer::English => "sahaya_en",
            Analyzer::Greek => "sahaya_el",
            Analyzer::Telugu => "sahaya_te",
            Analyzer::Greeklish => "sahaya_el_latn",
            Analyzer::TeluguLatin => "sahaya_te_latn",
        }
    }

    /// Normalizes `text` and returns its terms, in order, duplicates kept.
    #[cfg(test)]
    pub fn analyze(self, text: &str) -> Vec<Term> {
        self.analyze_normalized(&normalize(text), usize::MAX)
    }

    /// The word term of one normalized word (its stem or folded form), without n-grams.
    /// English words inside Greek or Telugu text get the English stem.
    pub fn word_key(self, word: &str) -> Term {
        match self {
            Analyzer::English => english_stemmer().stem(word).into_owned(),
            Analyzer::Greek | Analyzer::Telugu if word.is_ascii() => {
                english_stemmer().stem(word).into_owned()
            }
            Analyzer::Greek => greek::stem(word),
            Analyzer::Telugu => telugu::stem(word).to_string(),
            Analyzer::Greeklish => romanized::fold_greeklish(word),
            Analyzer::TeluguLatin => {
                romanized::strip_telugu_suffix(&romanized::fold_telugu(word)).to_string()
            }
        }
    }

    /// The sound terms (consonant skeletons) a query word can match in the Telugu field: for
    /// a word in Latin letters, the skeleton of the word and of the word without a plural `s`
    /// (`parcels` → `~prsls`, `~prsl`); for a Telugu word, its own skeleton when it has more
    /// than three consonants, so a loanword spelt another way (`పార్శిల్`/`పార్సెల్`) still
    /// meets. Empty for other fields. Only words the field does not know are looked up.
    pub fn query_sound_keys(self, word: &str) -> Vec<Term> {
        if self != Analyzer::Telugu {
            return Vec::new();
        }
        if !word.is_ascii() {
            let skeleton = translit::skeleton_telugu(telugu::stem(word));
            if skeleton.chars().count() > translit::MIN_SKELETON {
                return vec![format!("{SOUND_MARK}{skeleton}")];
            }
            return Vec::new();
        }
        let mut keys: Vec<Term> = Vec::new();
        let singular = word.strip_suffix('s').filter(|w| w.len() >= 4);
        for w in std::iter::once(word).chain(singular) {
            let skeleton = translit::skeleton_latin(w);
            if skeleton.chars().count() >= translit::MIN_SKELETON {
                let key = format!("{SOUND_MARK}{skeleton}");
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        keys
    }

    /// Terms of a knowledge phrasing: [`Analyzer::analyze`], plus the sound term of every
    /// Telugu word in the Telugu field, for English loanwords typed in Latin letters to meet.
    pub fn index_terms(self, text: &str) -> Vec<Term> {
        let normalized = normalize(text);
        let mut terms = self.analyze_normalized(&normalized, usize::MAX);
        if self == Analyzer::Telugu {
            for word in words(&normalized) {
                let skeleton = translit::skeleton_telugu(telugu::stem(word));
                if skeleton.chars().count() >= translit::MIN_SKELETON {
                    terms.push(format!("{SOUND_MARK}{skeleton}"));
                }
            }
        }
        terms
    }

    /// Terms of already [`normalize`]d text, looking at no more than `max_words` words.
    pub fn analyze_normalized(self, normalized: &str, max_words: usize) -> Vec<Term> {
        let mut terms = Vec::new();
        for word in words(normalized).take(max_words) {
            let key = self.word_key(word);
            let gram_source = match self {
                Analyzer::Greeklish | Analyzer::TeluguLatin => key.as_str(),
                _ => word,
            };
            push_grams(gram_source, &mut terms);
            if !key.is_empty() {
                terms.push(key);
            }
        }
        terms
    }
}

fn english_stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::new(Algorithm::English))
}

/// Pushes the character trigrams of `word`, with a start mark so prefixes weigh in.
fn push_grams(word: &str, terms: &mut Vec<Term>) {
    let chars: Vec<char> = std::iter::once('^').chain(word.chars()).collect();
    if chars.len() <= GRAM_MIN_WORD {
        return;
    }
    for window in chars.windows(GRAM) {
        let mut gram = String::with_capacity(1 + window.len() * 3);
        gram.push(GRAM_MARK);
        gram.extend(window);
        terms.push(gram);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_of(a: Analyzer, text: &str) -> Vec<String> {
        a.analyze(text)
            .into_iter()
            .filter(|t| TermKind::of(t) == TermKind::Word)
            .collect()
    }

    #[test]
    fn telugu_conjuncts_stay_whole_and_zwnj_does_not_matter() {
        let with_zwnj = words_of(Analyzer::Telugu, "నా పార్సెల్‌ను ట్రాక్ చేయాలి");
        let without = words_of(Analyzer::Telugu, "నా పార్సెల్ను ట్రాక్ చేయాలి");
        assert_eq!(with_zwnj, without);
        assert!(with_zwnj.contains(&Analyzer::Telugu.word_key("పార్సెల్")));
        assert!(with_zwnj.contains(&Analyzer::Telugu.word_key("ట్రాక్")));
        assert_eq!(
            words_of(Analyzer::Telugu, "లైన్‌ను"),
            words_of(Analyzer::Telugu, "లైన్ను")
        );
    }

    #[test]
    fn long_telugu_words_are_kept() {
        // 18 letters, 54 bytes: a byte-length filter would drop it.
        let terms = words_of(Analyzer::Telugu, "చేయాలనుకుంటున్నాను");
        assert_eq!(terms.len(), 1);
    }

    #[test]
    fn telugu_inflections_share_terms() {
        let base = Analyzer::Telugu.analyze("డెలివరీ");
        let inflected = Analyzer::Telugu.analyze("డెలివరీలో");
        let shared = base.iter().filter(|t| inflected.contains(t)).count();
        assert!(shared * 10 >= base.len() * 8, "{base:?} vs {inflected:?}");
    }

    #[test]
    fn greek_tonos_and_final_sigma() {
        assert_eq!(
            words_of(Analyzer::Greek, "Πώς αλλάζω τη διεύθυνση παράδοσης;"),
            words_of(Analyzer::Greek, "ΠΩΣ ΑΛΛΑΖΩ ΤΗ ΔΙΕΥΘΥΝΣΗ ΠΑΡΑΔΟΣΗΣ")
        );
        assert_eq!(
            words_of(Analyzer::Greek, "δέματος"),
            words_of(Analyzer::Greek, "δεματοσ")
        );
    }

    #[test]
    fn english_stems() {
        assert_eq!(
            words_of(Analyzer::English, "Tracking parcels"),
            words_of(Analyzer::English, "track parcel")
        );
    }

    #[test]
    fn mixed_script_input_keeps_every_word() {
        let terms = words_of(Analyzer::Greek, "το tracking δεν δουλεύει");
        assert_eq!(terms.len(), 4);
        // English inside Greek gets the English stem.
        assert!(terms.contains(&"track".to_string()));
    }

    #[test]
    fn romanized_analyzers_fold_spellings() {
        assert_eq!(
            words_of(Analyzer::Greeklish, "pou einai to dema mou"),
            words_of(Analyzer::Greeklish, "poy ine to dema moy")
        );
        assert_eq!(
            words_of(Analyzer::TeluguLatin, "naa parcel yekkada undi"),
            words_of(Analyzer::TeluguLatin, "na parcel ekkada undi")
        );
    }

    #[test]
    fn inflected_loanwords_meet_without_zwnj() {
        assert_eq!(
            words_of(Analyzer::Telugu, "పార్సెల్‌ను ఇంకా రాలేదు"),
            words_of(Analyzer::Telugu, "పార్సెల్ను ఇంకా రాలేదు")
        );
        assert_eq!(
            words_of(Analyzer::Telugu, "ట్రాకింగ్లో"),
            words_of(Analyzer::Telugu, "ట్రాకింగ్")
        );
    }

    #[test]
    fn latin_loanwords_in_telugu_meet_by_sound() {
        let indexed = Analyzer::Telugu.index_terms("నా పార్సెల్‌ను ట్రాక్ చేయాలి");
        for query in ["parcel", "parcels"] {
            let keys = Analyzer::Telugu.query_sound_keys(query);
            assert!(
                keys.iter().any(|k| indexed.contains(k)),
                "{query}: {keys:?}"
            );
        }
        // A loanword spelt another way in Telugu meets by sound too.
        let other_spelling = Analyzer::Telugu.query_sound_keys(&normalize("పార్శిల్‌ని"));
        assert!(
            other_spelling.iter().any(|k| indexed.contains(k)),
            "{other_spelling:?}"
        );
        assert!(Analyzer::Telugu.query_sound_keys("నా").is_empty());
        assert!(Analyzer::English.query_sound_keys("parcel").is_empty());
        assert!(Analyzer::Telugu.query_sound_keys("ok").is_empty());
        // English words inside Telugu are stemmed as English.
        assert_eq!(
            Analyzer::Telugu.word_key("parcels"),
            Analyzer::English.word_key("parcel")
        );
    }

    #[test]
    fn romanized_telugu_case_endings_meet() {
        assert_eq!(
            words_of(Analyzer::TeluguLatin, "naa parcelni track cheyali"),
            words_of(Analyzer::TeluguLatin, "naa parcel track cheyyali")
        );
    }

    #[test]
    fn grams_are_marked() {
        let terms = Analyzer::English.analyze("parcel");
        assert!(terms.contains(&"#^pa".to_string()));
        assert!(terms.contains(&"#cel".to_string()));
        assert_eq!(TermKind::of("#cel"), TermKind::Gram);
        assert_eq!(TermKind::of("parcel"), TermKind::Word);
        assert_eq!(TermKind::of("=parcel"), TermKind::Concept);
        assert_eq!(TermKind::of("~prsl"), TermKind::Sound);
        assert_eq!(TermKind::concept_term("parcel"), "=parcel");
    }
}
