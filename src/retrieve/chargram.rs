//! Character n-gram similarity: a second opinion on how close a message is to a phrasing.
//!
//! Every phrasing (native, romanized and transliterated) is a TF-IDF vector over the
//! character 2- to 4-grams of its words, each word padded with a space at both ends; the
//! message is one too, and the similarity is the cosine of the two. Word scoring needs words
//! to agree on a stem; n-grams see partial agreement of any spelling (an inflection the
//! stemmer misses, a typo in a short word, a loanword spelt another way), so the two signals
//! err in different places.

use super::codec::{DecodeError, Reader, Writer};
use super::hasher::FastMap;
use std::collections::HashMap;

/// Shortest and longest n-gram.
const MIN_N: usize = 2;
const MAX_N: usize = 4;

/// N-grams that more phrasings than this share (in large bases: the commonest letter pairs)
/// are not used to find phrasings, only to score the candidates found otherwise: walking
/// their lists would cost time in proportion to the size of the base. The shipped content
/// has no list this long.
pub(crate) const LONG_LIST: usize = 4096;

/// The n-grams of a message that some phrasing has, weighted as a unit vector.
pub(crate) struct GramQuery {
    grams: Vec<(u32, f32)>,
    /// Some n-gram has a list longer than [`LONG_LIST`].
    long: bool,
}

/// Per-thread scores of phrasings, reset between queries by the list of those touched.
#[derive(Default)]
pub(crate) struct Scratch {
    scores: Vec<f32>,
    touched: Vec<u32>,
}

impl Scratch {
    fn add(&mut self, pid: u32, v: f32) {
        let s = &mut self.scores[pid as usize];
        if *s == 0.0 {
            self.touched.push(pid);
        }
        *s += v;
    }

    /// The score of a phrasing.
    pub(crate) fn score(&self, pid: usize) -> f32 {
        self.scores[pid]
    }

    /// The phrasings scored (a phrasing may appear more than once).
    pub(crate) fn touched(&self) -> &[u32] {
        &self.touched
    }

    fn reset(&mut self, len: usize) {
        for &pid in &self.touched {
            self.scores[pid as usize] = 0.0;
        }
        self.touched.clear();
        if self.scores.len() < len {
            self.scores.resize(len, 0.0);
        }
    }
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// Runs `f` with this thread's scratch scores, all zero, for `len` phrasings.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            scratch.reset(len);
            f(&mut scratch)
        }
        Err(_) => {
            let mut fresh = Scratch::default();
            fresh.reset(len);
            f(&mut fresh)
        }
    })
}

/// The n-gram vectors of the phrasings, as an inverted index.
#[derive(Debug, Default)]
pub(crate) struct CharGrams {
    ids: FastMap<String, u32>,
    idf: Vec<f32>,
    /// Per n-gram id: (phrasing id, weight in that phrasing's unit vector).
    postings: Vec<Vec<(u32, f32)>>,
}

/// The n-grams of normalized text with their counts, in the order of the n-grams: the
/// same text gets the same ids and sums its weights in the same order, in every process.
fn grams(normalized: &str) -> Vec<(String, u32)> {
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
    let mut sorted: Vec<(String, u32)> = out.into_iter().collect();
    sorted.sort_unstable();
    sorted
}

/// Sublinear term frequency.
fn tf(count: u32) -> f32 {
    1.0 + (count as f32).ln()
}

impl CharGrams {
    /// Indexes normalized phrasings, given with their phrasing ids.
    pub(crate) fn build<'a>(phrasings: impl IntoIterator<Item = (u32, &'a str)>) -> CharGrams {
        let mut cg = CharGrams::default();
        // Per phrasing: its n-gram ids with their counts, in the order `grams` gives them.
        let mut docs: Vec<(u32, Vec<(u32, u32)>)> = Vec::new();
        let mut df: Vec<u32> = Vec::new();
        for (pid, text) in phrasings {
            let counted: Vec<(u32, u32)> = grams(text)
                .into_iter()
                .map(|(gram, c)| {
                    let next = cg.ids.len() as u32;
                    let id = *cg.ids.entry(gram).or_insert(next);
                    if id as usize == df.len() {
                        df.push(0);
                    }
                    df[id as usize] += 1;
                    (id, c)
                })
                .collect();
            docs.push((pid, counted));
        }
        let n = docs.len() as f32;
        cg.idf = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let mut postings: Vec<Vec<(u32, f32)>> =
            df.iter().map(|&d| Vec::with_capacity(d as usize)).collect();
        for (pid, counted) in &docs {
            let weights: Vec<(u32, f32)> = counted
                .iter()
                .map(|&(id, c)| (id, tf(c) * cg.idf[id as usize]))
                .collect();
            let norm = weights.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            if norm <= 0.0 {
                continue;
            }
            for (id, w) in weights {
                postings[id as usize].push((*pid, w / norm));
            }
        }
        cg.postings = postings;
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

impl CharGrams {
    /// Writes the n-grams, their idf and their postings.
    pub(super) fn encode(&self, w: &mut Writer) {
        let mut names = vec![""; self.ids.len()];
        for (gram, &id) in &self.ids {
            names[id as usize] = gram;
        }
        w.len(names.len());
        for name in names {
            w.str(name);
        }
        w.f32s(&self.idf);
        w.len(self.postings.len());
        for post in &self.postings {
            w.len(post.len());
            for &(pid, weight) in post {
                w.u32(pid);
                w.f32(weight);
            }
        }
    }

    /// Reads what [`CharGrams::encode`] wrote; `phrasings` bounds the phrasing ids.
    pub(super) fn decode(r: &mut Reader<'_>, phrasings: usize) -> Result<CharGrams, DecodeError> {
        let n = r.len(8)?;
        let mut ids = FastMap::default();
        ids.reserve(n);
        for id in 0..n {
            ids.insert(r.str()?, id as u32);
        }
        if ids.len() != n {
            return Err(r.error("repeated n-gram"));
        }
        let idf = r.f32s()?;
        let lists = r.len(8)?;
        if idf.len() != n || lists != n {
            return Err(r.error("n-gram tables of different lengths"));
        }
        let mut postings = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.len(8)?;
            let mut post = Vec::with_capacity(len);
            for _ in 0..len {
                let pid = r.u32()?;
                if pid as usize >= phrasings {
                    return Err(r.error("phrasing id out of range"));
                }
                post.push((pid, r.f32()?));
            }
            postings.push(post);
        }
        Ok(CharGrams { ids, idf, postings })
    }
}

impl CharGrams {
    /// The n-grams of normalized text as a unit vector.
    pub(crate) fn query(&self, normalized: &str) -> GramQuery {
        let grams: Vec<(u32, f32)> = self
            .known_grams(normalized)
            .into_iter()
            .map(|(id, c)| (id, tf(c) * self.idf[id as usize]))
            .collect();
        let norm = grams.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm <= 0.0 {
            return GramQuery {
                grams: Vec::new(),
                long: false,
            };
        }
        let long = grams
            .iter()
            .any(|&(id, _)| self.postings[id as usize].len() > LONG_LIST);
        GramQuery {
            grams: grams.into_iter().map(|(id, w)| (id, w / norm)).collect(),
            long,
        }
    }

    /// Adds the cosine similarity of the query with every phrasing that shares one of its
    /// n-grams into `scratch`, leaving out the n-grams of lists longer than [`LONG_LIST`]
    /// (see [`CharGrams::long_part`]) and the phrasings for which `skip` holds.
    pub(crate) fn add_short(
        &self,
        q: &GramQuery,
        scratch: &mut Scratch,
        skip: impl Fn(u32) -> bool,
    ) {
        for &(id, w) in &q.grams {
            let post = &self.postings[id as usize];
            if post.len() > LONG_LIST {
                continue;
            }
            for &(pid, pw) in post {
                if !skip(pid) {
                    scratch.add(pid, w * pw);
                }
            }
        }
    }

    /// True when some n-gram of the query has a list longer than [`LONG_LIST`].
    pub(crate) fn has_long(&self, q: &GramQuery) -> bool {
        q.long
    }

    /// The part of the similarity of phrasing `pid` that [`CharGrams::add_short`] left
    /// out, found by binary search in the long lists (sorted by phrasing).
    pub(crate) fn long_part(&self, q: &GramQuery, pid: u32) -> f32 {
        let mut sum = 0.0;
        for &(id, w) in &q.grams {
            let post = &self.postings[id as usize];
            if post.len() > LONG_LIST {
                if let Ok(i) = post.binary_search_by_key(&pid, |&(p, _)| p) {
                    sum += w * post[i].1;
                }
            }
        }
        sum
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
