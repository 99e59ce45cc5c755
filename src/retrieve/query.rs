//! Querying: a message analyzed like the phrasings, tantivy's BM25 for candidates, and the
//! confidence of each candidate topic in [0, 1].

use super::chargram::{with_scratch, Scratch};
use super::*;
use crate::detect::Detection;
use crate::text::Script;
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::DocAddress;

impl Retriever {
    /// Ranked topics for normalized text, from the fields the language detection points to.
    /// The most likely field wins ties; another field must do clearly better. Latin text
    /// without a single English function word may be Greek or Telugu in words no lexicon
    /// lists: when the likely fields find nothing `enough`, their romanized phrasings are
    /// searched too.
    pub(crate) fn rank(
        &self,
        normalized: &str,
        detection: &Detection,
        requested: Option<Lang>,
        exclude: Option<u32>,
        enough: impl Fn(&Scored) -> bool,
        trace: &mut Vec<String>,
    ) -> Vec<Scored> {
        let latin = detection.script == Some(Script::Latin);
        let mut fields = detection.candidates();
        // A requested Greek or Telugu reply to Latin text: search its romanized phrasings too.
        if let Some(analyzer) = requested.and_then(Lang::romanized_analyzer) {
            if latin && !fields.iter().any(|(_, a)| *a == analyzer) {
                fields.push((Lang::of(analyzer), analyzer));
            }
        }
        let likely = fields.len();
        if latin && detection.english_hits == 0 {
            for analyzer in [Analyzer::TeluguLatin, Analyzer::Greeklish] {
                if !fields.iter().any(|(_, a)| *a == analyzer) {
                    fields.push((Lang::of(analyzer), analyzer));
                }
            }
        }
        let mut best: Vec<Scored> = Vec::new();
        for (i, (_, analyzer)) in fields.iter().enumerate() {
            if i == likely && best.first().is_some_and(&enough) {
                break;
            }
            let query = self.prepare(*analyzer, normalized);
            let ranked = match self.search_excluding(*analyzer, &query, exclude) {
                Ok(r) => r,
                Err(e) => {
                    trace.push(format!("retrieve: {} failed: {e}", analyzer.name()));
                    continue;
                }
            };
            let bias = if i == 0 { 0.0 } else { 0.05 };
            let current = best.first().map_or(0.0, |s| s.confidence);
            if best.is_empty()
                || ranked
                    .first()
                    .is_some_and(|s| s.confidence - bias > current)
            {
                best = ranked;
            }
        }
        best
    }

    /// Analyzes normalized text for the field of `analyzer`, as queries do: every term counts
    /// for scoring, but tantivy is asked only for known words and for the n-grams of words
    /// the field does not know (typos, unseen inflections), which keeps the query small.
    ///
    /// A word the field does not know may still be found: as a loanword by its sound (Latin
    /// letters in Telugu text), or as a typo of a known word or synonym; it then counts as
    /// that term, without its n-grams.
    pub fn prepare(&self, analyzer: Analyzer, normalized: &str) -> PreparedQuery {
        let fd = &self.fields[&analyzer];
        let mut q = PreparedQuery {
            normalized: normalized.to_string(),
            ..PreparedQuery::default()
        };
        let mut seen: HashSet<Term> = HashSet::new();
        for word in crate::text::words(normalized).take(MAX_QUERY_WORDS) {
            let mut terms = analyzer.analyze_normalized(word, 1);
            let key = match terms.pop() {
                Some(t) if TermKind::of(&t) == TermKind::Word => fd.canonical(t),
                Some(t) => {
                    terms.push(t);
                    String::new()
                }
                None => String::new(),
            };
            let word_known = fd.ids.contains_key(&key);
            if !key.is_empty() && !word_known {
                if let Some((term, weight)) = self.rescue(analyzer, word, &key) {
                    if seen.insert(term.clone()) {
                        if let Some(&id) = fd.ids.get(&term) {
                            q.known.push((id, weight));
                            q.total_weight += weight;
                            q.search_terms.push(term);
                        }
                    }
                    continue;
                }
            }
            if !key.is_empty() {
                terms.push(key);
            }
            for t in terms {
                if !seen.insert(t.clone()) {
                    continue;
                }
                let kind = TermKind::of(&t);
                match fd.ids.get(&t) {
                    Some(&id) => {
                        let w = fd.weights[id as usize];
                        q.known.push((id, w));
                        q.total_weight += w;
                        if kind != TermKind::Gram || !word_known {
                            q.search_terms.push(t);
                        }
                    }
                    None => {
                        q.total_weight += match kind {
                            TermKind::Gram => fd.unknown_gram,
                            _ => fd.unknown_word,
                        };
                    }
                }
            }
        }
        q.known.sort_unstable_by_key(|(id, _)| *id);
        q.known.dedup_by_key(|(id, _)| *id);
        q
    }

    /// A known term for a word the field does not know, with the weight it counts for: the
    /// loanword skeleton of a Latin word in Telugu text, else the known word or synonym one
    /// edit away (preferring the same first letter, then the more common word).
    fn rescue(&self, analyzer: Analyzer, word: &str, key: &str) -> Option<(Term, f32)> {
        let fd = &self.fields[&analyzer];
        for sound in analyzer.query_sound_keys(word) {
            if let Some(&id) = fd.ids.get(&sound) {
                return Some((sound, fd.weights[id as usize]));
            }
        }
        if TermKind::of(key) != TermKind::Word {
            return None;
        }
        let first = key.chars().next();
        let (id, _) = fd.fuzzy.lookup(key).into_iter().min_by(|a, b| {
            let other_first = |k: &[char]| k.first().copied() != first;
            other_first(a.1)
                .cmp(&other_first(b.1))
                .then(fd.weights[a.0 as usize].total_cmp(&fd.weights[b.0 as usize]))
        })?;
        Some((
            fd.names[id as usize].clone(),
            fd.weights[id as usize] * FUZZY_FACTOR,
        ))
    }

    fn tantivy_query(&self, analyzer: Analyzer, terms: &[Term]) -> BooleanQuery {
        let field = self.fields[&analyzer].field;
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|t| {
                let q = TermQuery::new(
                    tantivy::Term::from_field_text(field, t),
                    IndexRecordOption::WithFreqs,
                );
                (Occur::Should, Box::new(q) as Box<dyn Query>)
            })
            .collect();
        BooleanQuery::new(clauses)
    }

    /// Runs only the tantivy part of [`Retriever::search`]: the BM25 top candidates.
    /// Exposed for benchmarks that compare the whole pipeline with a bare index query.
    pub fn bare_search(
        &self,
        analyzer: Analyzer,
        terms: &[Term],
    ) -> Result<Vec<(f32, DocAddress)>, Error> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let query = self.tantivy_query(analyzer, terms);
        self.searcher
            .search(&query, &TopDocs::with_limit(CANDIDATES).order_by_score())
            .map_err(Error::index)
    }

    /// Topics ranked by confidence for a prepared query in the field of `analyzer`, as if
    /// the knowledge text `exclude` (a [`Sample::source`]) were
    /// not indexed: its phrasings neither match nor count in their topic's vocabulary. This
    /// is how calibration asks "would this phrasing be found by the others?".
    pub fn search_excluding(
        &self,
        analyzer: Analyzer,
        query: &PreparedQuery,
        exclude: Option<u32>,
    ) -> Result<Vec<Scored>, Error> {
        let hits = self.bare_search(analyzer, &query.search_terms)?;
        if query.total_weight <= 0.0 {
            return Ok(Vec::new());
        }
        let fd = &self.fields[&analyzer];
        let excluded = |p: u32| exclude.is_some_and(|s| self.phrasings[p as usize].source == s);
        // Character n-gram similarity of the phrasings of the field that share an n-gram
        // with the message (those of very common n-grams only for the candidates, below).
        let grams = fd.chargrams.query(&query.normalized);
        with_scratch(self.phrasings.len(), |scratch| {
            fd.chargrams.add_short(&grams, scratch, excluded);
            let similarity = |pid: usize| {
                let short = scratch.score(pid);
                if fd.chargrams.has_long(&grams) && !excluded(pid as u32) {
                    short + fd.chargrams.long_part(&grams, pid as u32)
                } else {
                    short
                }
            };
            self.rescore(analyzer, query, exclude, &hits, scratch, similarity)
        })
    }

    /// The confidence of the candidate topics: the BM25 hits', and those closest by the
    /// n-grams scored in `scratch`; `similarity` gives a phrasing's whole n-gram similarity.
    fn rescore(
        &self,
        analyzer: Analyzer,
        query: &PreparedQuery,
        exclude: Option<u32>,
        hits: &[(f32, DocAddress)],
        scratch: &Scratch,
        similarity: impl Fn(usize) -> f32,
    ) -> Result<Vec<Scored>, Error> {
        let fd = &self.fields[&analyzer];
        let excluded = |p: u32| exclude.is_some_and(|s| self.phrasings[p as usize].source == s);
        // Distinct topics in BM25 order; only the best few are worth re-scoring. The topics
        // closest by n-grams join them: a spelling BM25 misses may still be near.
        let mut candidates: Vec<usize> = Vec::with_capacity(MAX_TOPICS + CHARGRAM_CANDIDATES);
        for (_, addr) in hits {
            let pid = self.pid_by_doc[addr.segment_ord as usize][addr.doc_id as usize];
            let topic = self.phrasings[pid as usize].topic as usize;
            if !candidates.contains(&topic) {
                candidates.push(topic);
                if candidates.len() == MAX_TOPICS {
                    break;
                }
            }
        }
        let mut ngrams = vec![0.0f32; fd.topics.len()];
        let mut by_ngrams: Vec<usize> = Vec::new();
        for &pid in scratch.touched() {
            let sim = scratch.score(pid as usize);
            if sim > 0.0 {
                let t = self.phrasings[pid as usize].topic as usize;
                if ngrams[t] == 0.0 {
                    by_ngrams.push(t);
                }
                ngrams[t] = ngrams[t].max(sim);
            }
        }
        let closer = |a: &usize, b: &usize| ngrams[*b].total_cmp(&ngrams[*a]).then(a.cmp(b));
        if by_ngrams.len() > CHARGRAM_CANDIDATES {
            by_ngrams.select_nth_unstable_by(CHARGRAM_CANDIDATES, closer);
            by_ngrams.truncate(CHARGRAM_CANDIDATES);
        }
        by_ngrams.sort_by(closer);
        for &topic in by_ngrams.iter().take(CHARGRAM_CANDIDATES) {
            if !candidates.contains(&topic) {
                candidates.push(topic);
            }
        }
        // Matched weight of every phrasing of the candidates: the message's terms that the
        // phrasing has, by a merge of the two sorted lists.
        let mut offsets = Vec::with_capacity(candidates.len() + 1);
        offsets.push(0);
        for &topic in &candidates {
            offsets.push(offsets.last().copied().unwrap_or(0) + fd.topics[topic].phrasings.len());
        }
        let mut matched = vec![0.0f32; offsets.last().copied().unwrap_or(0)];
        // With a phrasing left out, a topic's vocabulary is what its other phrasings have.
        let mut vocabulary_without = vec![0.0f32; candidates.len()];
        for (ci, &topic) in candidates.iter().enumerate() {
            let ph = &fd.topics[topic].phrasings;
            for (i, &p) in ph.iter().enumerate() {
                if !excluded(p) {
                    matched[offsets[ci] + i] = overlap(&query.known, self.terms_of(p as usize));
                }
            }
            if exclude.is_some() {
                for &(term, w) in &query.known {
                    let in_topic = ph.iter().any(|&p| {
                        !excluded(p) && self.terms_of(p as usize).binary_search(&term).is_ok()
                    });
                    if in_topic {
                        vocabulary_without[ci] += w;
                    }
                }
            }
        }
        let mut ranked = Vec::with_capacity(candidates.len());
        for (ci, &topic) in candidates.iter().enumerate() {
            let tt = &fd.topics[topic];
            let mut phrasing_score = 0.0f32;
            let mut ngram_score = 0.0f32;
            for (i, &pid) in tt.phrasings.iter().enumerate() {
                let pid = pid as usize;
                ngram_score = ngram_score.max(similarity(pid));
                let p = &self.phrasings[pid];
                let matched = matched[offsets[ci] + i];
                if matched <= 0.0 || p.total_weight <= 0.0 {
                    continue;
                }
                let q_cov = (matched / query.total_weight).min(1.0);
                let p_cov = (matched / p.total_weight).min(1.0);
                // Geometric mean: both the message and the phrasing must be mostly covered.
                let mut score = (q_cov * p_cov).sqrt();
                if p.kind == PhrasingKind::Keyword {
                    score *= KEYWORD_FACTOR;
                }
                phrasing_score = phrasing_score.max(score);
            }
            let vocabulary = match exclude {
                Some(_) => vocabulary_without[ci],
                None => overlap(&query.known, &tt.vocabulary),
            } / query.total_weight;
            let answer = overlap(&query.known, &tt.answer) / query.total_weight;
            let words = PHRASING_SHARE * phrasing_score
                + VOCABULARY_SHARE * vocabulary
                + ANSWER_SHARE * answer;
            let share = chargram_share(analyzer);
            let confidence = ((1.0 - share) * words + share * ngram_score).min(1.0);
            ranked.push(Scored {
                topic,
                confidence,
                analyzer,
            });
        }
        ranked.sort_by(|a, b| {
            b.confidence
                .total_cmp(&a.confidence)
                .then(a.topic.cmp(&b.topic))
        });
        Ok(ranked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query terms a word of `text` turns into in the field of `analyzer`.
    fn search_terms(retriever: &Retriever, analyzer: Analyzer, text: &str) -> Vec<String> {
        retriever
            .prepare(analyzer, &crate::text::normalize(text))
            .search_terms
    }

    #[test]
    fn unknown_words_are_rescued_on_the_shipped_content() {
        let (kb, diags) = KnowledgeBase::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
        assert!(diags.is_empty(), "{diags:?}");
        let engine = Retriever::build(&kb).expect("the shipped knowledge indexes");
        // An English loanword in Latin letters inside Telugu: by its synonym group or its sound.
        let terms = search_terms(&engine, Analyzer::Telugu, "consignment ఇప్పటికీ అందలేదు");
        assert!(
            terms
                .iter()
                .any(|t| t.starts_with('=') || t.starts_with('~')),
            "{terms:?}"
        );
        let terms = search_terms(&engine, Analyzer::Telugu, "tracking పని చేయట్లేదు");
        assert!(
            terms.iter().any(|t| t.starts_with('~') || t == "track"),
            "{terms:?}"
        );
        // A typo of a synonym counts as its group.
        let terms = search_terms(&engine, Analyzer::English, "refnud");
        assert_eq!(terms, ["=refund"]);
        // A word of nothing the knowledge knows stays unknown: no n-gram or typo rescue is sent
        // as a whole word.
        let terms = search_terms(&engine, Analyzer::English, "xylophone");
        assert!(terms.iter().all(|t| t.starts_with('#')), "{terms:?}");
    }
}
