//! Typo tolerance: words one edit away from a known word.
//!
//! A deletion index (as in SymSpell): every known word of five or more letters is stored
//! under itself and under each form with one letter deleted. A query word is looked up under
//! itself and its own one-deletion forms; every candidate is then checked to be within one
//! insertion, deletion, substitution or transposition of the query. Only words the field
//! does not know are looked up, so correct words are never bent towards another one.

use super::hasher::FastMap;

/// Letters a word needs before typos in it are forgiven; shorter words are too easily
/// one edit away from another real word.
pub(crate) const MIN_LETTERS: usize = 5;

/// Words of one field, by their one-deletion forms.
#[derive(Debug, Default)]
pub(crate) struct FuzzyIndex {
    /// Form → indexes into `entries`.
    forms: FastMap<String, Vec<u32>>,
    /// The word and what it stands for (a term id of the field).
    entries: Vec<(Vec<char>, u32)>,
}

fn deletions(word: &[char]) -> impl Iterator<Item = String> + '_ {
    (0..word.len()).map(move |i| {
        word.iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, c)| c)
            .collect()
    })
}

impl FuzzyIndex {
    /// Adds `word`, standing for `target`. Words shorter than [`MIN_LETTERS`] - 1 are skipped.
    pub(crate) fn insert(&mut self, word: &str, target: u32) {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() + 1 < MIN_LETTERS {
            return;
        }
        let idx = self.entries.len() as u32;
        for form in std::iter::once(word.to_string()).chain(deletions(&chars)) {
            let list = self.forms.entry(form).or_default();
            if list.last() != Some(&idx) {
                list.push(idx);
            }
        }
        self.entries.push((chars, target));
    }

    /// The targets of the known words one edit away from `word` (which has at least
    /// [`MIN_LETTERS`] letters), each once, in insertion order.
    pub(crate) fn lookup(&self, word: &str) -> Vec<(u32, &[char])> {
        let chars: Vec<char> = word.chars().collect();
        if chars.len() < MIN_LETTERS {
            return Vec::new();
        }
        let mut hits: Vec<u32> = Vec::new();
        for form in std::iter::once(word.to_string()).chain(deletions(&chars)) {
            if let Some(list) = self.forms.get(&form) {
                hits.extend(list);
            }
        }
        hits.sort_unstable();
        hits.dedup();
        hits.into_iter()
            .map(|i| &self.entries[i as usize])
            .filter(|(known, _)| known != &chars && within_one_edit(known, &chars))
            .map(|(known, target)| (*target, known.as_slice()))
            .collect()
    }
}

/// True when `a` and `b` differ by at most one insertion, deletion, substitution or
/// transposition of neighbours.
pub(crate) fn within_one_edit(a: &[char], b: &[char]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        let rest = prefix + 1;
        if prefix == short.len() || short[rest..] == long[rest..] {
            return true;
        }
        // Transposed neighbours.
        rest < short.len()
            && short[prefix] == long[rest]
            && short[rest] == long[prefix]
            && short[rest + 1..] == long[rest + 1..]
    } else {
        short[prefix..] == long[prefix + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn one_edit() {
        assert!(within_one_edit(&c("parcel"), &c("parcle")));
        assert!(within_one_edit(&c("parcel"), &c("parcell")));
        assert!(within_one_edit(&c("parcel"), &c("parel")));
        assert!(within_one_edit(&c("parcel"), &c("parsel")));
        assert!(within_one_edit(&c("παραδοση"), &c("παραδωση")));
        assert!(!within_one_edit(&c("parcel"), &c("prcle")));
        assert!(!within_one_edit(&c("parcel"), &c("pencil")));
        assert!(!within_one_edit(&c("refund"), &c("refunded")));
    }

    #[test]
    fn lookup_finds_words_one_edit_away_only() {
        let mut idx = FuzzyIndex::default();
        idx.insert("deliveri", 1);
        idx.insert("refund", 2);
        idx.insert("track", 3);
        let targets = |w: &str| {
            idx.lookup(w)
                .into_iter()
                .map(|(t, _)| t)
                .collect::<Vec<_>>()
        };
        assert_eq!(targets("delivri"), [1]);
        assert_eq!(targets("delievri"), [1]);
        assert_eq!(targets("refnud"), [2]);
        assert_eq!(
            targets("refund"),
            Vec::<u32>::new(),
            "exact words are not typos"
        );
        assert_eq!(targets("trakc"), [3]);
        assert_eq!(targets("weather"), Vec::<u32>::new());
        assert_eq!(targets("trak"), Vec::<u32>::new(), "too short to guess");
    }
}
