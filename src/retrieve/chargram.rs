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

/// In a field of more phrasings than this, the n-grams that more than [`LONG_LIST`]
/// phrasings share (the commonest letter pairs and triples) are not used to find phrasings,
/// only to score the candidates found otherwise: walking their lists would cost time in
/// proportion to the size of the base. The shipped content's fields are smaller.
pub(crate) const SMALL_FIELD: usize = 4096;
/// See [`SMALL_FIELD`].
pub(crate) const LONG_LIST: usize = 512;

/// Counts of an n-gram in one phrasing are kept up to this.
const MAX_COUNT: u32 = u8::MAX as u32;

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
    /// Per n-gram id: where its postings start in `pids` and `counts` (one more entry
    /// than n-grams: the end).
    offsets: Vec<usize>,
    /// The phrasings of each n-gram, ascending.
    pids: Vec<u32>,
    /// How often the n-gram occurs in that phrasing.
    counts: Vec<u8>,
    /// Per phrasing id: 1 / the norm of its vector of tf-idf weights (0: not in this
    /// field), so that the inner loop of [`CharGrams::add_short`] multiplies.
    norms: Vec<f32>,
    /// Lists longer than this are not walked to find phrasings (see [`SMALL_FIELD`]).
    long: usize,
}

/// `tf` of every count kept.
fn tf_table() -> &'static [f32; 256] {
    static TABLE: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|c| tf(c as u32)))
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
        cg.long = if docs.len() > SMALL_FIELD {
            LONG_LIST
        } else {
            usize::MAX
        };
        cg.offsets = Vec::with_capacity(df.len() + 1);
        let mut at = 0usize;
        for &d in &df {
            cg.offsets.push(at);
            at += d as usize;
        }
        cg.offsets.push(at);
        let mut fill = cg.offsets.clone();
        cg.pids = vec![0; at];
        cg.counts = vec![0; at];
        let last = docs
            .iter()
            .map(|(pid, _)| *pid as usize + 1)
            .max()
            .unwrap_or(0);
        cg.norms = vec![0.0; last];
        let table = tf_table();
        for (pid, counted) in &docs {
            let norm = counted
                .iter()
                .map(|&(id, c)| {
                    let w = table[c.min(MAX_COUNT) as usize] * cg.idf[id as usize];
                    w * w
                })
                .sum::<f32>()
                .sqrt();
            cg.norms[*pid as usize] = if norm > 0.0 { norm.recip() } else { 0.0 };
            for &(id, c) in counted {
                let k = &mut fill[id as usize];
                cg.pids[*k] = *pid;
                cg.counts[*k] = c.min(MAX_COUNT) as u8;
                *k += 1;
            }
        }
        cg
    }

    /// The phrasings of n-gram `id` with their counts.
    fn list(&self, id: u32) -> (&[u32], &[u8]) {
        let (from, to) = (self.offsets[id as usize], self.offsets[id as usize + 1]);
        (&self.pids[from..to], &self.counts[from..to])
    }

    /// The weight of n-gram `id` in the unit vector of phrasing `pid`, where it occurs
    /// `count` times; 0 for a phrasing without n-grams.
    fn weight(&self, id: u32, pid: u32, count: u8) -> f32 {
        tf_table()[count as usize] * self.idf[id as usize] * self.norms[pid as usize]
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
            let (pids, counts) = self.list(id);
            for (&pid, &count) in pids.iter().zip(counts) {
                if !skip(pid) {
                    if let Some(s) = scores.get_mut(pid as usize) {
                        *s += w * self.weight(id, pid, count);
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
        w.len(self.offsets.len());
        for &o in &self.offsets {
            w.u64(o as u64);
        }
        w.u32s(&self.pids);
        w.len(self.counts.len());
        for &c in &self.counts {
            w.u8(c);
        }
        w.f32s(&self.norms);
        w.u64(self.long as u64);
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
        let o = r.len(8)?;
        let mut offsets = Vec::with_capacity(o);
        for _ in 0..o {
            offsets.push(r.u64()? as usize);
        }
        let pids = r.u32s()?;
        let c = r.len(1)?;
        let mut counts = Vec::with_capacity(c);
        for _ in 0..c {
            counts.push(r.u8()?);
        }
        let norms = r.f32s()?;
        let long = usize::try_from(r.u64()?).unwrap_or(usize::MAX);
        let consistent = idf.len() == n
            && offsets.len() == n + 1
            && offsets.first() == Some(&0)
            && offsets.windows(2).all(|w| w[0] <= w[1])
            && offsets.last() == Some(&pids.len())
            && counts.len() == pids.len()
            && norms.len() <= phrasings
            && pids.iter().all(|&p| (p as usize) < norms.len());
        if !consistent {
            return Err(r.error("inconsistent n-gram tables"));
        }
        Ok(CharGrams {
            ids,
            idf,
            offsets,
            pids,
            counts,
            norms,
            long,
        })
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
            .any(|&(id, _)| self.list(id).0.len() > self.long);
        GramQuery {
            grams: grams.into_iter().map(|(id, w)| (id, w / norm)).collect(),
            long,
        }
    }

    /// Adds the cosine similarity of the query with every phrasing that shares one of its
    /// n-grams into `scratch`, leaving out the n-grams of long lists (see
    /// [`CharGrams::long_part`]) and the phrasings for which `skip` holds.
    pub(crate) fn add_short(
        &self,
        q: &GramQuery,
        scratch: &mut Scratch,
        skip: impl Fn(u32) -> bool,
    ) {
        let tf = tf_table();
        for &(id, w) in &q.grams {
            let (pids, counts) = self.list(id);
            if pids.len() > self.long {
                continue;
            }
            let w = w * self.idf[id as usize];
            for (&pid, &count) in pids.iter().zip(counts) {
                if !skip(pid) {
                    scratch.add(pid, w * tf[count as usize] * self.norms[pid as usize]);
                }
            }
        }
    }

    /// True when some n-gram of the query has a long list.
    pub(crate) fn has_long(&self, q: &GramQuery) -> bool {
        q.long
    }

    /// The part of the similarity of phrasing `pid` that [`CharGrams::add_short`] left
    /// out, found by binary search in the long lists.
    pub(crate) fn long_part(&self, q: &GramQuery, pid: u32) -> f32 {
        let mut sum = 0.0;
        for &(id, w) in &q.grams {
            let (pids, counts) = self.list(id);
            if pids.len() > self.long {
                if let Ok(i) = pids.binary_search(&pid) {
                    sum += w * self.weight(id, pid, counts[i]);
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
