//! Phrase lists: the words of a message in each form the lists compare against (as
//! written, Greeklish and romanized Telugu folded), phrases indexed by their first word, and
//! shouting.

use crate::text::romanized::{fold_greeklish, fold_telugu};
use crate::text::{normalize, words};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher, Hash, Hasher};

/// Which phrase list, and how its words are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Plain = 0,
    Greeklish = 1,
    TeluguLatin = 2,
}

#[derive(Debug, Clone)]
pub(super) struct Phrase {
    /// Words as written (normalized, folded for romanized lists); `true` = prefix (`word*`).
    words: Vec<(String, bool)>,
    /// The phrase as the editor wrote it, for the trace.
    pub(super) source: String,
    pub(super) list: &'static str,
}

/// The words of a message, in each form the phrase lists compare against, with the hash of
/// each form (every phrase condition looks its first words up by them).
pub(super) struct Words<'a> {
    plain: Vec<&'a str>,
    greeklish: Vec<String>,
    telugu: Vec<String>,
    /// Per list kind, per word: [`word_hash`] of the word in that form.
    hashes: [Vec<u64>; 3],
}

/// The hash a word is indexed and looked up by: the standard hasher with its fixed keys, so
/// a phrase's first word and a message's word hash alike.
fn word_hash(word: &str) -> u64 {
    let mut h = DefaultHasher::new();
    word.hash(&mut h);
    h.finish()
}

/// Hashes a `u64` that is already a hash by taking it as it is.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = i;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// First-word hash → phrases, without hashing the hash again.
type ByHash = HashMap<u64, Vec<usize>, BuildHasherDefault<Prehashed>>;

impl<'a> Words<'a> {
    /// The words as written (normalized).
    pub(super) fn plain(&self) -> &[&'a str] {
        &self.plain
    }

    pub(super) fn new(normalized: &'a str) -> Words<'a> {
        let plain: Vec<&str> = words(normalized).collect();
        let fold = |f: fn(&str) -> String| -> Vec<String> {
            plain
                .iter()
                .map(|w| if w.is_ascii() { f(w) } else { String::new() })
                .collect()
        };
        let greeklish = fold(fold_greeklish);
        let telugu = fold(fold_telugu);
        let hashes = [
            plain.iter().map(|w| word_hash(w)).collect(),
            greeklish.iter().map(|w| word_hash(w)).collect(),
            telugu.iter().map(|w| word_hash(w)).collect(),
        ];
        Words {
            plain,
            greeklish,
            telugu,
            hashes,
        }
    }

    fn get(&self, kind: ListKind, i: usize) -> &str {
        match kind {
            ListKind::Plain => self.plain[i],
            ListKind::Greeklish => &self.greeklish[i],
            ListKind::TeluguLatin => &self.telugu[i],
        }
    }
}

impl Phrase {
    fn kind(&self) -> ListKind {
        match self.list {
            "el_latn" => ListKind::Greeklish,
            "te_latn" => ListKind::TeluguLatin,
            _ => ListKind::Plain,
        }
    }

    /// True when the phrase occurs at word `start` of the message.
    fn matches_at(&self, w: &Words<'_>, start: usize) -> bool {
        let kind = self.kind();
        start + self.words.len() <= w.plain.len()
            && self.words.iter().enumerate().all(|(j, (pw, prefix))| {
                let word = w.get(kind, start + j);
                if *prefix {
                    word.starts_with(pw.as_str())
                } else {
                    word == pw
                }
            })
    }
}

/// Phrases indexed by their first word, so a message is checked in time proportional to
/// its own length rather than to the length of the lists.
#[derive(Debug, Clone)]
pub(super) struct PhraseIndex {
    pub(super) phrases: Vec<Phrase>,
    /// Per list kind: the hash of an exact first word → phrases starting with it.
    by_first: [ByHash; 3],
    /// Phrases whose first word is a prefix (`δικηγορ*`).
    prefixed: Vec<usize>,
}

impl PhraseIndex {
    pub(super) fn new(phrases: Vec<Phrase>) -> PhraseIndex {
        let mut by_first: [ByHash; 3] = Default::default();
        let mut prefixed = Vec::new();
        for (i, p) in phrases.iter().enumerate() {
            match p.words.first() {
                Some((_, true)) => prefixed.push(i),
                Some((w, false)) => by_first[p.kind() as usize]
                    .entry(word_hash(w))
                    .or_default()
                    .push(i),
                None => {}
            }
        }
        PhraseIndex {
            phrases,
            by_first,
            prefixed,
        }
    }

    pub(super) fn find(&self, w: &Words<'_>) -> Option<&Phrase> {
        for kind in [ListKind::Plain, ListKind::Greeklish, ListKind::TeluguLatin] {
            let index = &self.by_first[kind as usize];
            if index.is_empty() {
                continue;
            }
            for (start, hash) in w.hashes[kind as usize].iter().enumerate() {
                if let Some(list) = index.get(hash) {
                    if let Some(&i) = list.iter().find(|&&i| self.phrases[i].matches_at(w, start)) {
                        return Some(&self.phrases[i]);
                    }
                }
            }
        }
        self.prefixed
            .iter()
            .map(|&i| &self.phrases[i])
            .find(|p| (0..w.plain.len()).any(|start| p.matches_at(w, start)))
    }
}

/// Shouting: `!!!`, or at least 8 capitals making 70% of the letters.
pub(crate) fn is_shouting(text: &str) -> bool {
    if text.contains("!!!") {
        return true;
    }
    // Letters without case (Telugu) count too: a Latin word in a Telugu sentence is not shouting.
    let (mut upper, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if c.is_uppercase() {
            upper += 1;
        }
    }
    upper >= 8 && upper * 10 >= letters * 7
}

pub(super) fn parse_phrase(text: &str, list: &'static str) -> Result<Phrase, String> {
    let mut out = Vec::new();
    for raw_word in text.split_whitespace() {
        let prefix = raw_word.ends_with('*');
        let n = normalize(raw_word.trim_end_matches('*'));
        let ws: Vec<&str> = words(&n).collect();
        if ws.is_empty() {
            continue;
        }
        let last = ws.len() - 1;
        for (i, w) in ws.iter().enumerate() {
            let folded = match list {
                "el_latn" => fold_greeklish(w),
                "te_latn" => fold_telugu(w),
                _ => w.to_string(),
            };
            if prefix && i == last && folded.chars().count() < 3 {
                return Err(format!(
                    "`{raw_word}` is too short to match as a prefix (at least 3 letters before *)"
                ));
            }
            out.push((folded, prefix && i == last));
        }
    }
    if out.is_empty() {
        return Err(format!("phrase {text:?} has no words"));
    }
    Ok(Phrase {
        words: out,
        source: text.to_string(),
        list,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::tests::{rules, run, LEGAL};

    #[test]
    fn phrases_match_whole_words_across_accents_case_and_zwnj() {
        let set = rules(LEGAL);
        let hit = |t: &str| run(&set, t).escalation.map(|e| e.rule);
        assert_eq!(hit("My LAWYER will call"), Some("legal_threat".into()));
        assert_eq!(hit("θα πάρω δικηγόρο"), Some("legal_threat".into()));
        assert_eq!(hit("ΘΑ ΚΆΝΩ ΜΉΝΥΣΗ"), Some("legal_threat".into()));
        assert_eq!(hit("మా లాయర్‌తో మాట్లాడతాను"), Some("legal_threat".into()));
        assert_eq!(hit("మా లాయర్తో మాట్లాడతాను"), Some("legal_threat".into()));
        assert_eq!(hit("tha paro 8ikigoro"), None, "θ≠δ");
        assert_eq!(hit("Tha paro DIKYGORO"), Some("legal_threat".into()));
        // Not substrings of other words, and phrases need their words in order.
        assert_eq!(hit("lawyers"), None);
        assert_eq!(hit("the court took you"), None);
        assert_eq!(hit("I will take you to court"), Some("legal_threat".into()));
    }

    #[test]
    fn shouting() {
        assert!(is_shouting("WHERE IS MY PARCEL"));
        assert!(is_shouting("where is it!!!"));
        assert!(is_shouting("ΠΟΥ ΕΙΝΑΙ ΤΟ ΔΕΜΑ ΜΟΥ"));
        assert!(!is_shouting("Where is my DHL parcel?"));
        assert!(!is_shouting("OK THX"));
        assert!(!is_shouting("నా పార్సెల్ ఎక్కడ!!"));
        assert!(!is_shouting("UPI తో పే చేయొచ్చా?"));
    }
}
