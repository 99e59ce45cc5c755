//! Character n-gram similarity: a second opinion on how close a message is to a phrasing.
//!
//! Every phrasing (native, romanized and transliterated) is a TF-IDF vector over the
//! character 2- to 4-grams of its words, each word padded with a space at both ends; the
//! message is one too, and the similarity is the cosine of the two. Word scoring needs words
//! to agree on a stem; n-grams see partial agreement of any spelling (an inflection the
//! stemmer misses, a typo in a short word, a loanword spelt another way), so the two signals
//! err in different places.

use super::hasher::FastMap;
use std::collections::HashMap;

/// Shortest and longest n-gram.
const MIN_N: usize = 2;
const MAX_N: usize = 4;

/// The n-gram vectors of the phrasings, as an inverted index.
#[derive(Debug, Default)]
pub(crate) struct CharGrams {
    ids: FastMap<String, u32>,
    idf: Vec<f32>,
    /// Per n-gram id: (phrasing id, weight in that phrasing's unit vector).
    postings: Vec<Vec<(u32, f32)>>,
}

/// The n-grams of normalized text with their counts.
fn grams(normalized: &str) -> HashMap<String, u32> {
    let mut out: HashMap<String, u32> = HashMap::new();
    for word in crate::text::words(normalized) {
        let padded: Vec<char> = std::iter::once(' ')
            .chain(word.chars())
            .chain(std::iter::once(' '))
            .collect();
        for n in MIN_N..=MAX_N {
            for w in padded.windows(n) {
                *out.entry(w.iter().collect()).or_default() += 1;
            }
        }
    }
    out
}

/// Sublinear term frequency.
fn tf(count: u32) -> f32 {
    1.0 + (count as f32).ln()
}

impl CharGrams {
    /// Indexes normalized phrasings, given with their phrasing ids.
    pub(crate) fn build<'a>(phrasings: impl IntoIterator<Item = (u32, &'a str)>) -> CharGrams {
        let mut cg = CharGrams::default();
        let docs: Vec<(u32, HashMap<String, u32>)> = phrasings
            .into_iter()
            .map(|(pid, text)| (pid, grams(text)))
            .collect();
        let mut df: Vec<u32> = Vec::new();
        for (_, g) in &docs {
            for gram in g.keys() {
                let next = cg.ids.len() as u32;
                let id = *cg.ids.entry(gram.clone()).or_insert(next);
                if id as usize == df.len() {
                    df.push(0);
                }
                df[id as usize] += 1;
            }
        }
        let n = docs.len() as f32;
        cg.idf = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        cg.postings = vec![Vec::new(); cg.ids.len()];
        for (pid, g) in &docs {
            let weights: Vec<(u32, f32)> = g
                .iter()
                .map(|(gram, &c)| {
                    let id = cg.ids[gram];
                    (id, tf(c) * cg.idf[id as usize])
                })
                .collect();
            let norm = weights.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            if norm <= 0.0 {
                continue;
            }
            for (id, w) in weights {
                cg.postings[id as usize].push((*pid, w / norm));
            }
        }
        cg
    }

    /// The n-grams of normalized text that some phrasing has, as (id, count) sorted by id:
    /// the same n-grams as `grams`, looked up as slices of each padded word, without
    /// building a string per n-gram (n-grams no phrasing has do not count for a query).
    fn known_grams(&self, normalized: &str) -> Vec<(u32, u32)> {
        let mut ids: Vec<u32> = Vec::new();
        let mut padded = String::new();
        let mut bounds: Vec<usize> = Vec::new();
        for word in crate::text::words(normalized) {
            padded.clear();
            padded.push(' ');
            padded.push_str(word);
            padded.push(' ');
            bounds.clear();
            bounds.extend(padded.char_indices().map(|(i, _)| i));
            bounds.push(padded.len());
            let chars = bounds.len() - 1;
            for n in MIN_N..=MAX_N.min(chars) {
                for start in 0..=chars - n {
                    if let Some(&id) = self.ids.get(&padded[bounds[start]..bounds[start + n]]) {
                        ids.push(id);
                    }
                }
            }
        }
        ids.sort_unstable();
        let mut counted: Vec<(u32, u32)> = Vec::with_capacity(ids.len());
        for id in ids {
            match counted.last_mut() {
                Some((last, c)) if *last == id => *c += 1,
                _ => counted.push((id, 1)),
            }
        }
        counted
    }

    /// Cosine similarity of the normalized message with every phrasing it shares an n-gram
    /// with, added into `scores` (indexed by phrasing id; phrasings for which `skip` holds
    /// are left out).
    pub(crate) fn similarities(
        &self,
        normalized: &str,
        scores: &mut [f32],
        skip: impl Fn(u32) -> bool,
    ) {
        let query: Vec<(u32, f32)> = self
            .known_grams(normalized)
            .into_iter()
            .map(|(id, c)| (id, tf(c) * self.idf[id as usize]))
            .collect();
        let norm = query.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm <= 0.0 {
            return;
        }
        for (id, w) in query {
            let w = w / norm;
            for &(pid, pw) in &self.postings[id as usize] {
                if !skip(pid) {
                    if let Some(s) = scores.get_mut(pid as usize) {
                        *s += w * pw;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_spellings_score_higher_than_other_words() {
        let cg = CharGrams::build([(0, "where is my parcel"), (1, "how much does it cost")]);
        let mut s = vec![0.0; 2];
        cg.similarities("wher is my parcl", &mut s, |_| false);
        assert!(s[0] > 0.5 && s[1] < 0.2, "{s:?}");
        let mut s = vec![0.0; 2];
        cg.similarities("where is my parcel", &mut s, |_| false);
        assert!((s[0] - 1.0).abs() < 1e-4, "{s:?}");
        let mut s = vec![0.0; 2];
        cg.similarities("where is my parcel", &mut s, |p| p == 0);
        assert_eq!(s[0], 0.0);
    }

    #[test]
    fn known_grams_are_the_grams_phrasings_have() {
        let cg = CharGrams::build([(0, "where is my parcel"), (1, "పార్సెల్ ఎక్కడ")]);
        for text in ["wher is my parcel parcel", "నా పార్సెల్ ఎక్కడ ఉంది", "x", ""]
        {
            let mut expected: Vec<(u32, u32)> = grams(text)
                .into_iter()
                .filter_map(|(g, c)| Some((*cg.ids.get(&g)?, c)))
                .collect();
            expected.sort_unstable();
            assert_eq!(cg.known_grams(text), expected, "{text}");
        }
    }

    #[test]
    fn unknown_text_scores_nothing() {
        let cg = CharGrams::build([(0, "δέμα")]);
        let mut s = vec![0.0; 1];
        cg.similarities("xyz", &mut s, |_| false);
        assert_eq!(s, vec![0.0]);
        cg.similarities("", &mut s, |_| false);
        assert_eq!(s, vec![0.0]);
    }
}
