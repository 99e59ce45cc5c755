//! Retrieval: a tantivy index over every phrasing of every topic, and a calibrated
//! confidence for each candidate.
//!
//! Each question, alternate, romanized phrasing and keyword is one small document in the
//! field of its analyzer (`en`, `el`, `te`, `el_latn`, `te_latn`). A query is analyzed with
//! the same analyzer and run as a disjunction of term queries; tantivy's BM25 picks the
//! candidates. BM25 scores are not comparable between queries, so each candidate is then
//! re-scored with an idf-weighted overlap that lies in [0, 1]: how much of the query the
//! phrasing explains, and how much of the phrasing the query contains. A topic's
//! confidence is that of its best phrasing.
//!
//! Beyond the analyzers, retrieval meets customers' wording in four ways:
//! - synonym groups of `knowledge/synonyms.toml`: every word of a group becomes the group's
//!   concept term, in phrasings and in messages;
//! - every Telugu and Greek phrasing is also indexed transliterated into Latin letters, in
//!   the romanized fields, so romanized messages meet all native phrasings;
//! - an English word typed in Latin letters inside Telugu text meets the same loanword
//!   written in Telugu by its consonant skeleton (`parcel` ~ `పార్సెల్`);
//! - an unknown word of five or more letters one edit away from a known word (a typo)
//!   counts as that word, at a lower weight.

mod chargram;
mod fuzzy;

use crate::error::Error;
use crate::knowledge::KnowledgeBase;
use crate::lang::Lang;
use crate::text::translit::{greek_to_latin, telugu_to_latin};
use crate::text::{normalize, Analyzer, Term, TermKind};
use chargram::CharGrams;
use fuzzy::FuzzyIndex;
use std::collections::{HashMap, HashSet};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{doc, DocAddress, Index, Searcher};

/// Candidates fetched from tantivy before re-scoring.
const CANDIDATES: usize = 96;
/// Candidate topics re-scored per query.
const MAX_TOPICS: usize = 24;
/// Words of a message that are looked at.
pub(crate) use crate::text::MAX_QUERY_WORDS;
/// Weight of an n-gram relative to a whole word of the same rarity.
const GRAM_WEIGHT: f32 = 0.2;
/// Keywords are short and match often: their confidence is discounted.
const KEYWORD_FACTOR: f32 = 0.85;
/// A word no topic uses weighs more than the rarest known word: a message about
/// something else (weather, jokes, recipes) is mostly such words.
const UNKNOWN_WORD_FACTOR: f32 = 1.5;
/// Share of the best single phrasing in a topic's confidence.
const PHRASING_SHARE: f32 = 0.4;
/// Share of the query found anywhere in the topic's phrasings.
const VOCABULARY_SHARE: f32 = 0.4;
/// Share of the query found in the topic's answer.
const ANSWER_SHARE: f32 = 0.2;
/// Weight of a loanword's consonant skeleton relative to a whole word.
const SOUND_WEIGHT: f32 = 0.8;
/// Weight of a known word matched through a typo, relative to the word itself.
const FUZZY_FACTOR: f32 = 0.7;
/// Share of the character n-gram similarity in a topic's confidence; the rest is the word
/// score. Telugu's n-grams, over consonants, vowel signs and viramas, say less about a word
/// than Greek or Latin ones: leave-one-out calibration on the shipped knowledge answers most
/// with 0.15 for Telugu and 0.3 for the others.
fn chargram_share(analyzer: Analyzer) -> f32 {
    match analyzer {
        Analyzer::Telugu | Analyzer::TeluguLatin => 0.15,
        _ => 0.3,
    }
}
/// Topics closest by character n-grams added to the BM25 candidates.
const CHARGRAM_CANDIDATES: usize = 3;
/// The tantivy tokenizer of every field: phrasings are indexed as their analyzed terms.
const TERMS_TOKENIZER: &str = "sahaya_terms";

/// Where a phrasing comes from in the knowledge file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhrasingKind {
    /// The canonical question.
    Question,
    /// An alternate phrasing.
    Alternate,
    /// A Latin-letter phrasing of Greek or Telugu.
    Romanized,
    /// A Greek or Telugu phrasing transliterated into Latin letters by the index.
    Transliterated,
    /// A keyword.
    Keyword,
    /// The answer text (indexed for recall; scored separately).
    Answer,
}

type TermId = u32;

struct Phrasing {
    topic: usize,
    kind: PhrasingKind,
    /// The knowledge text it comes from: a phrasing and its transliteration share it.
    source: u32,
    /// Distinct term ids, sorted.
    terms: Vec<TermId>,
    total_weight: f32,
}

/// Everything one topic has in one field.
#[derive(Default)]
struct TopicTerms {
    phrasings: Vec<usize>,
    /// Term ids of all its phrasings, sorted.
    vocabulary: Vec<TermId>,
    /// Term ids of its answers, sorted.
    answer: Vec<TermId>,
}

/// One field of the index: its vocabulary with weights, and its topics.
struct FieldData {
    field: Field,
    ids: HashMap<Term, TermId>,
    /// Weight per term id: idf over topics times the term kind's weight.
    weights: Vec<f32>,
    /// The term of every term id.
    names: Vec<Term>,
    /// Weight of a word and of an n-gram that no topic has.
    unknown_word: f32,
    unknown_gram: f32,
    topics: Vec<TopicTerms>,
    /// Per term id: the phrasings (answers excluded) that have it, sorted.
    postings: Vec<Vec<u32>>,
    /// Word key → concept term of its synonym group.
    concepts: HashMap<Term, Term>,
    /// Known words (and synonyms) by their one-deletion forms, for typos.
    fuzzy: FuzzyIndex,
    /// Character n-gram vectors of the field's phrasings.
    chargrams: CharGrams,
}

impl FieldData {
    /// The term a word key is indexed and searched as: its concept, if it has one.
    fn canonical(&self, key: Term) -> Term {
        match self.concepts.get(&key) {
            Some(concept) => concept.clone(),
            None => key,
        }
    }
}

fn kind_weight(term: &str) -> f32 {
    match TermKind::of(term) {
        TermKind::Word | TermKind::Concept => 1.0,
        TermKind::Gram => GRAM_WEIGHT,
        TermKind::Sound => SOUND_WEIGHT,
    }
}

/// A phrasing of the knowledge as a customer might send it, for leave-one-out calibration
/// ([`Retriever::samples`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The knowledge text: excluding it removes the phrasing and its transliteration.
    pub source: u32,
    /// Index of the topic in [`KnowledgeBase::topics`].
    pub topic: usize,
    /// The language of the text.
    pub lang: Lang,
    /// True for a phrasing in Latin letters of Greek or Telugu.
    pub romanized: bool,
    /// The text.
    pub text: String,
}

/// A message prepared for one field.
#[derive(Debug, Clone, Default)]
pub struct PreparedQuery {
    /// Terms sent to tantivy: known words, and the n-grams of unknown words only.
    pub search_terms: Vec<Term>,
    /// Known term ids, sorted, with their weights.
    known: Vec<(TermId, f32)>,
    /// Weight of every term of the message, known or not.
    total_weight: f32,
    /// The normalized message, for the character n-gram similarity.
    normalized: String,
}

/// A scored topic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Index of the topic in [`KnowledgeBase::topics`].
    pub topic: usize,
    /// Confidence in [0, 1].
    pub confidence: f32,
    /// The analyzer (field) the best match came from.
    pub analyzer: Analyzer,
}

/// The search index of one knowledge base.
pub struct Retriever {
    searcher: Searcher,
    fields: HashMap<Analyzer, FieldData>,
    phrasings: Vec<Phrasing>,
    /// Per segment: doc id → phrasing id.
    pid_by_doc: Vec<Vec<u32>>,
    /// The knowledge texts customers' messages resemble, for calibration.
    samples: Vec<Sample>,
}

impl std::fmt::Debug for Retriever {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retriever")
            .field("phrasings", &self.phrasings.len())
            .finish()
    }
}

/// A tantivy tokenizer for text that is already analyzed: the terms, separated by spaces.
/// Analysis (stems, concepts, skeletons) happens once, in [`Retriever::build`].
#[derive(Clone, Default)]
struct TermsTokenizer {
    token: Token,
}

struct TermStream<'a> {
    terms: std::str::SplitAsciiWhitespace<'a>,
    token: &'a mut Token,
}

impl Tokenizer for TermsTokenizer {
    type TokenStream<'a> = TermStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TermStream<'a> {
        self.token.reset();
        TermStream {
            terms: text.split_ascii_whitespace(),
            token: &mut self.token,
        }
    }
}

impl TokenStream for TermStream<'_> {
    fn advance(&mut self) -> bool {
        match self.terms.next() {
            Some(t) => {
                self.token.text.clear();
                self.token.text.push_str(t);
                self.token.position = self.token.position.wrapping_add(1);
                true
            }
            None => false,
        }
    }
    fn token(&self) -> &Token {
        self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

fn field_name(a: Analyzer) -> &'static str {
    match a {
        Analyzer::English => "en",
        Analyzer::Greek => "el",
        Analyzer::Telugu => "te",
        Analyzer::Greeklish => "el_latn",
        Analyzer::TeluguLatin => "te_latn",
    }
}

impl Retriever {
    /// Builds the in-memory index of `kb`.
    pub fn build(kb: &KnowledgeBase) -> Result<Retriever, Error> {
        let mut schema = Schema::builder();
        let mut tantivy_fields = HashMap::new();
        for a in Analyzer::ALL {
            let opts = TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(TERMS_TOKENIZER)
                    .set_index_option(IndexRecordOption::WithFreqs),
            );
            tantivy_fields.insert(a, schema.add_text_field(field_name(a), opts));
        }
        let pid_field = schema.add_u64_field("pid", FAST);
        let index = Index::create_in_ram(schema.build());
        index.tokenizers().register(
            TERMS_TOKENIZER,
            TextAnalyzer::from(TermsTokenizer::default()),
        );
        let concepts = concept_maps(kb);

        // Every phrasing of every topic, analyzed once.
        let mut raw: Vec<(usize, PhrasingKind, Analyzer, Vec<Term>)> = Vec::new();
        let mut sources: Vec<u32> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut samples: Vec<Sample> = Vec::new();
        for (ti, topic) in kb.topics().iter().enumerate() {
            for lang in Lang::ALL {
                let t = topic.text(lang);
                let native = lang.analyzer();
                let mut add = |kind, analyzer: Analyzer, text: &str, source: u32| {
                    let map = &concepts[&analyzer];
                    let terms = distinct(
                        analyzer
                            .index_terms(text)
                            .into_iter()
                            .map(|t| match map.get(&t) {
                                Some(c) if TermKind::of(&t) == TermKind::Word => c.clone(),
                                _ => t,
                            })
                            .collect(),
                    );
                    raw.push((ti, kind, analyzer, terms));
                    sources.push(source);
                    texts.push(match kind {
                        PhrasingKind::Answer => String::new(),
                        _ => normalize(text),
                    });
                };
                let mut sample = |text: &str, romanized: bool| {
                    let source = samples.len() as u32;
                    samples.push(Sample {
                        source,
                        topic: ti,
                        lang,
                        romanized,
                        text: text.to_string(),
                    });
                    source
                };
                let mut native_sources = Vec::new();
                let q = sample(&t.question, false);
                native_sources.push(q);
                add(PhrasingKind::Question, native, &t.question, q);
                for a in &t.alternates {
                    let src = sample(a, false);
                    native_sources.push(src);
                    add(PhrasingKind::Alternate, native, a, src);
                }
                for k in &t.keywords {
                    let src = sample(k, false);
                    native_sources.push(src);
                    add(PhrasingKind::Keyword, native, k, src);
                }
                if let Some(latin) = lang.romanized_analyzer() {
                    for r in &t.romanized {
                        let src = sample(r, true);
                        add(PhrasingKind::Romanized, latin, r, src);
                    }
                    let transliterate = match lang {
                        Lang::Te => telugu_to_latin,
                        _ => greek_to_latin,
                    };
                    let native_phrasings = std::iter::once(&t.question)
                        .chain(&t.alternates)
                        .chain(&t.keywords);
                    for (p, &src) in native_phrasings.zip(&native_sources) {
                        add(
                            PhrasingKind::Transliterated,
                            latin,
                            &transliterate(&normalize(p)),
                            src,
                        );
                    }
                }
                add(PhrasingKind::Answer, native, &t.answer, u32::MAX);
                if let Some(informal) = &t.answer_informal {
                    add(PhrasingKind::Answer, native, informal, u32::MAX);
                }
            }
        }

        // Per field: term ids, topic vocabularies, and idf over topics.
        let mut fields: HashMap<Analyzer, FieldData> = HashMap::new();
        for a in Analyzer::ALL {
            fields.insert(
                a,
                FieldData {
                    field: tantivy_fields[&a],
                    ids: HashMap::new(),
                    weights: Vec::new(),
                    names: Vec::new(),
                    unknown_word: 0.0,
                    unknown_gram: 0.0,
                    topics: (0..kb.topics().len())
                        .map(|_| TopicTerms::default())
                        .collect(),
                    postings: Vec::new(),
                    concepts: concepts[&a].clone(),
                    fuzzy: FuzzyIndex::default(),
                    chargrams: CharGrams::default(),
                },
            );
        }
        let mut phrasings = Vec::with_capacity(raw.len());
        for (pid, (topic, kind, analyzer, terms)) in raw.iter().enumerate() {
            let fd = fields
                .get_mut(analyzer)
                .expect("every analyzer has a field");
            let mut ids: Vec<TermId> = terms
                .iter()
                .map(|t| {
                    let next = fd.ids.len() as TermId;
                    *fd.ids.entry(t.clone()).or_insert(next)
                })
                .collect();
            ids.sort_unstable();
            let tt = &mut fd.topics[*topic];
            if *kind == PhrasingKind::Answer {
                tt.answer.extend(&ids);
            } else {
                tt.phrasings.push(pid);
                tt.vocabulary.extend(&ids);
            }
            phrasings.push(Phrasing {
                topic: *topic,
                kind: *kind,
                source: sources[pid],
                terms: ids,
                total_weight: 0.0,
            });
        }
        for fd in fields.values_mut() {
            let mut df = vec![0u32; fd.ids.len()];
            let mut docs = 0usize;
            for tt in &mut fd.topics {
                tt.vocabulary.sort_unstable();
                tt.vocabulary.dedup();
                tt.answer.sort_unstable();
                tt.answer.dedup();
                if tt.vocabulary.is_empty() && tt.answer.is_empty() {
                    continue;
                }
                docs += 1;
                let mut all: Vec<TermId> =
                    tt.vocabulary.iter().chain(&tt.answer).copied().collect();
                all.sort_unstable();
                all.dedup();
                for id in all {
                    df[id as usize] += 1;
                }
            }
            let idf = |df: u32| (1.0 + docs as f32 / df.max(1) as f32).ln();
            let mut weights = vec![0.0; fd.ids.len()];
            for (term, &id) in &fd.ids {
                weights[id as usize] = idf(df[id as usize]) * kind_weight(term);
            }
            fd.weights = weights;
            let mut names = vec![Term::new(); fd.ids.len()];
            for (term, &id) in &fd.ids {
                names[id as usize] = term.clone();
            }
            fd.names = names;
            fd.unknown_word = idf(1) * UNKNOWN_WORD_FACTOR;
            fd.unknown_gram = idf(1) * GRAM_WEIGHT;
            let mut fuzzy = FuzzyIndex::default();
            let mut words: Vec<(&Term, TermId)> = fd
                .ids
                .iter()
                .filter(|(t, _)| TermKind::of(t) == TermKind::Word)
                .map(|(t, &id)| (t, id))
                .collect();
            words.sort_unstable_by_key(|&(_, id)| id);
            for (t, id) in words {
                fuzzy.insert(t, id);
            }
            // A misspelt synonym counts as its concept.
            let mut members: Vec<(&Term, &Term)> = fd.concepts.iter().collect();
            members.sort_unstable();
            for (key, concept) in members {
                if let Some(&id) = fd.ids.get(concept) {
                    fuzzy.insert(key, id);
                }
            }
            fd.fuzzy = fuzzy;
        }
        for (p, (_, _, analyzer, _)) in phrasings.iter_mut().zip(&raw) {
            let fd = &fields[analyzer];
            p.total_weight = p.terms.iter().map(|&id| fd.weights[id as usize]).sum();
        }
        for a in Analyzer::ALL {
            let of_field = raw
                .iter()
                .zip(&texts)
                .enumerate()
                .filter(|(_, ((_, kind, analyzer, _), _))| {
                    *analyzer == a && *kind != PhrasingKind::Answer
                })
                .map(|(pid, (_, text))| (pid as u32, text.as_str()));
            let cg = CharGrams::build(of_field);
            fields
                .get_mut(&a)
                .expect("every analyzer has a field")
                .chargrams = cg;
        }
        for (pid, (p, (_, _, analyzer, _))) in phrasings.iter().zip(&raw).enumerate() {
            if p.kind == PhrasingKind::Answer {
                continue;
            }
            let fd = fields
                .get_mut(analyzer)
                .expect("every analyzer has a field");
            if fd.postings.len() < fd.ids.len() {
                fd.postings.resize(fd.ids.len(), Vec::new());
            }
            for &id in &p.terms {
                fd.postings[id as usize].push(pid as u32);
            }
        }

        let mut writer = index
            .writer_with_num_threads(1, 32_000_000)
            .map_err(Error::index)?;
        for (pid, (_, _, analyzer, terms)) in raw.iter().enumerate() {
            writer
                .add_document(
                    doc!(tantivy_fields[analyzer] => terms.join(" "), pid_field => pid as u64),
                )
                .map_err(Error::index)?;
        }
        writer.commit().map_err(Error::index)?;
        let reader = index.reader().map_err(Error::index)?;
        let searcher = reader.searcher();
        let mut pid_by_doc = Vec::new();
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("pid").map_err(Error::index)?;
            let map = (0..segment.max_doc())
                .map(|d| column.first(d).unwrap_or(0) as u32)
                .collect();
            pid_by_doc.push(map);
        }
        Ok(Retriever {
            searcher,
            fields,
            phrasings,
            pid_by_doc,
            samples,
        })
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

    /// The questions, alternates, keywords and romanized phrasings of the knowledge, each as
    /// a [`Sample`] that [`Retriever::search_excluding`] can leave out.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
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
        // Character n-gram similarity of every phrasing of the field.
        let mut similarity = vec![0.0f32; self.phrasings.len()];
        fd.chargrams
            .similarities(&query.normalized, &mut similarity, excluded);
        // Distinct topics in BM25 order; only the best few are worth re-scoring. The topics
        // closest by n-grams join them: a spelling BM25 misses may still be near.
        let mut candidates: Vec<usize> = Vec::with_capacity(MAX_TOPICS + CHARGRAM_CANDIDATES);
        for (_, addr) in &hits {
            let pid = self.pid_by_doc[addr.segment_ord as usize][addr.doc_id as usize];
            let topic = self.phrasings[pid as usize].topic;
            if !candidates.contains(&topic) {
                candidates.push(topic);
                if candidates.len() == MAX_TOPICS {
                    break;
                }
            }
        }
        let mut ngrams = vec![0.0f32; fd.topics.len()];
        for (pid, &sim) in similarity.iter().enumerate() {
            if sim > 0.0 {
                let t = self.phrasings[pid].topic;
                ngrams[t] = ngrams[t].max(sim);
            }
        }
        let mut by_ngrams: Vec<usize> = (0..ngrams.len()).filter(|&t| ngrams[t] > 0.0).collect();
        by_ngrams.sort_by(|&a, &b| ngrams[b].total_cmp(&ngrams[a]).then(a.cmp(&b)));
        for &topic in by_ngrams.iter().take(CHARGRAM_CANDIDATES) {
            if !candidates.contains(&topic) {
                candidates.push(topic);
            }
        }
        // Matched weight of every phrasing of the candidates, from the postings of the
        // message's terms: a topic's phrasings have consecutive ids, so each posting list is
        // entered by binary search at the topic's first phrasing.
        let mut offsets = Vec::with_capacity(candidates.len() + 1);
        offsets.push(0);
        for &topic in &candidates {
            offsets.push(offsets.last().copied().unwrap_or(0) + fd.topics[topic].phrasings.len());
        }
        let mut matched = vec![0.0f32; offsets.last().copied().unwrap_or(0)];
        // With a phrasing left out, a topic's vocabulary is what its other phrasings have.
        let mut vocabulary_without = vec![0.0f32; candidates.len()];
        for &(term, w) in &query.known {
            let Some(post) = fd.postings.get(term as usize) else {
                continue;
            };
            for (ci, &topic) in candidates.iter().enumerate() {
                let ph = &fd.topics[topic].phrasings;
                let (Some(&lo), Some(&hi)) = (ph.first(), ph.last()) else {
                    continue;
                };
                let start = post.partition_point(|&p| (p as usize) < lo);
                let mut in_topic = false;
                for &p in post[start..].iter().take_while(|&&p| p as usize <= hi) {
                    if let Ok(i) = ph.binary_search(&(p as usize)) {
                        if !excluded(p) {
                            matched[offsets[ci] + i] += w;
                            in_topic = true;
                        }
                    }
                }
                if in_topic {
                    vocabulary_without[ci] += w;
                }
            }
        }
        let mut ranked = Vec::with_capacity(candidates.len());
        for (ci, &topic) in candidates.iter().enumerate() {
            let tt = &fd.topics[topic];
            let mut phrasing_score = 0.0f32;
            let mut ngram_score = 0.0f32;
            for (i, &pid) in tt.phrasings.iter().enumerate() {
                ngram_score = ngram_score.max(similarity[pid]);
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

/// Sum of the query weights of the ids both sorted lists share.
fn overlap(query: &[(TermId, f32)], ids: &[TermId]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < query.len() && j < ids.len() {
        match query[i].0.cmp(&ids[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += query[i].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// Per analyzer: the word key of every synonym → the concept term of its group. A key that
/// two groups share (two words with one stem) stays with the first group.
fn concept_maps(kb: &KnowledgeBase) -> HashMap<Analyzer, HashMap<Term, Term>> {
    let mut maps: HashMap<Analyzer, HashMap<Term, Term>> = HashMap::new();
    for a in Analyzer::ALL {
        let map = maps.entry(a).or_default();
        for group in kb.synonyms().groups() {
            let concept = TermKind::concept_term(&group.name);
            for word in &group.words {
                let key = a.word_key(word);
                if !key.is_empty() {
                    map.entry(key).or_insert_with(|| concept.clone());
                }
            }
        }
    }
    maps
}

fn distinct(terms: Vec<Term>) -> Vec<Term> {
    let mut seen = HashSet::new();
    terms
        .into_iter()
        .filter(|t| seen.insert(t.clone()))
        .collect()
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
